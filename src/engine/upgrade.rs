//! The upgrade of a polling session to WebSocket, as the reference client
//! does it: probe a WebSocket (`2probe`, `3probe`), stop polling and let
//! the GET in flight come back (the server ends it with a noop), send what
//! was queued by POST, then `5` on the WebSocket, which carries the session
//! from then on. Nothing is lost, doubled or reordered: every packet the
//! polling side took in is handed on before the first from the WebSocket,
//! and every frame queued before the switch is posted before `5`. A probe
//! that fails leaves the session on polling.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use crate::codec::Frame;
use crate::engine::link::{BoxedLink, Link, LinkError, LinkMessage};
use crate::engine::polling::PollingLink;
use crate::engine::status::LinkStatus;
use crate::error::ConnectError;

type Probe = Pin<Box<dyn Future<Output = Result<BoxedLink, ConnectError>> + Send>>;

/// A polling session that moves to WebSocket once a probe succeeds.
pub(crate) struct Upgrading {
    state: State,
    status: Arc<LinkStatus>,
    /// The `5` is written but maybe not flushed: the driver flushes only
    /// what it wrote itself, and an idle session may write nothing more.
    flushing: bool,
}

enum State {
    /// Polling, while the probe is under way.
    Probing(Box<PollingLink>, Probe),
    /// The probe answered: polling winds down.
    Draining(Box<PollingLink>, BoxedLink),
    /// On polling for good: the probe failed.
    Polling(Box<PollingLink>),
    /// On the WebSocket.
    Upgraded(BoxedLink),
}

impl Upgrading {
    pub(crate) fn new(polling: PollingLink, probe: Probe, status: Arc<LinkStatus>) -> Self {
        Upgrading {
            state: State::Probing(Box::new(polling), probe),
            status,
            flushing: false,
        }
    }

    /// Moves the upgrade on as far as it can go now.
    fn advance(&mut self, cx: &mut Context<'_>) -> Result<(), LinkError> {
        loop {
            let state = std::mem::replace(&mut self.state, State::Upgraded(Box::new(Gone)));
            self.state = match state {
                State::Probing(mut polling, mut probe) => match probe.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = State::Probing(polling, probe);
                        return Ok(());
                    }
                    Poll::Ready(Ok(websocket)) => {
                        polling.pause();
                        State::Draining(polling, websocket)
                    }
                    Poll::Ready(Err(error)) => {
                        tracing::debug!(%error, "upgrade probe failed: staying on polling");
                        State::Polling(polling)
                    }
                },
                State::Draining(mut polling, mut websocket) => {
                    // Errors leave the state whole, so that the link reports them.
                    let drained = match polling.poll_flush(cx) {
                        Poll::Ready(Err(error)) => {
                            self.state = State::Draining(polling, websocket);
                            return Err(error);
                        }
                        flushed => flushed.is_ready() && polling.receive_drained(),
                    };
                    let ready = if drained {
                        websocket.poll_ready(cx)
                    } else {
                        Poll::Pending
                    };
                    match ready {
                        Poll::Ready(Ok(())) => {}
                        Poll::Ready(Err(error)) => {
                            self.state = State::Draining(polling, websocket);
                            return Err(error);
                        }
                        Poll::Pending => {
                            self.state = State::Draining(polling, websocket);
                            return Ok(());
                        }
                    }
                    crate::engine::trace::outgoing_text("5");
                    if let Err(error) = websocket.start_send(Frame::Text("5".into())) {
                        self.state = State::Upgraded(websocket);
                        return Err(error);
                    }
                    self.flushing = true;
                    self.status.upgraded();
                    tracing::debug!("upgraded to WebSocket");
                    State::Upgraded(websocket)
                }
                State::Upgraded(mut websocket) => {
                    let flushed = if self.flushing {
                        websocket.poll_flush(cx)
                    } else {
                        Poll::Ready(Ok(()))
                    };
                    self.state = State::Upgraded(websocket);
                    match flushed {
                        Poll::Ready(Ok(())) => self.flushing = false,
                        Poll::Ready(Err(error)) => return Err(error),
                        Poll::Pending => {}
                    }
                    return Ok(());
                }
                polling @ State::Polling(_) => {
                    self.state = polling;
                    return Ok(());
                }
            };
        }
    }

    /// Where frames go now: polling until the switch.
    fn current(&mut self) -> &mut dyn Link {
        match &mut self.state {
            State::Probing(polling, _) | State::Draining(polling, _) | State::Polling(polling) => {
                &mut **polling
            }
            State::Upgraded(websocket) => &mut **websocket,
        }
    }
}

impl Link for Upgrading {
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<LinkMessage, LinkError>>> {
        if let Err(error) = self.advance(cx) {
            return Poll::Ready(Some(Err(error)));
        }
        if let Poll::Ready(received) = self.current().poll_receive(cx) {
            return Poll::Ready(received);
        }
        // The GET in flight may just have come back: the switch may be due.
        if let Err(error) = self.advance(cx) {
            return Poll::Ready(Some(Err(error)));
        }
        match &mut self.state {
            State::Upgraded(websocket) => websocket.poll_receive(cx),
            _ => Poll::Pending,
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.advance(cx)?;
        self.current().poll_ready(cx)
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), LinkError> {
        self.current().start_send(frame)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.advance(cx)?;
        ready!(self.current().poll_flush(cx))?;
        // A flush may have finished the drain.
        self.advance(cx)?;
        self.current().poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.current().poll_close(cx)
    }
}

/// A placeholder while the state is taken apart; never polled.
struct Gone;

impl Link for Gone {
    fn poll_receive(
        &mut self,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<LinkMessage, LinkError>>> {
        Poll::Ready(None)
    }
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Ready(Ok(()))
    }
    fn start_send(&mut self, _: Frame) -> Result<(), LinkError> {
        Ok(())
    }
    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        Poll::Ready(Ok(()))
    }
}
