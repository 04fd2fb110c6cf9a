//! The same scenarios through sioclient's public API, with the builder's
//! defaults (buffers, reconnection, offset stripping).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use sioclient::{ClientBuilder, Event, Parser, Socket, SocketEvent, Transport};
use tokio::sync::{mpsc, Notify};

fn url(port: u16, query: &str) -> String {
    format!("http://127.0.0.1:{port}/?{query}")
}

/// The counter of a `tick` event (its offset already stripped by the client),
/// read as a typed handler reads: decoded into the types it wants, the
/// message object skipped, as the raw client's minimal parse skips it.
fn tick(event: &Event) -> Option<usize> {
    if event.name() != "tick" {
        return None;
    }
    let (counter, _message): (usize, serde::de::IgnoredAny) = event.decode().ok()?;
    Some(counter)
}

async fn connect(builder: ClientBuilder) -> Socket {
    builder.connect().await.expect("sioclient: connect")
}

/// Receives `n` blasted events through `socket.events()`.
pub async fn receive_stream(port: u16, n: usize) -> Duration {
    receive_stream_over(port, n, Transport::WebSocket).await
}

/// Receives `n` blasted events through `socket.events()`, over `transport`.
pub async fn receive_stream_over(port: u16, n: usize, transport: Transport) -> Duration {
    let socket = connect(
        ClientBuilder::new(url(port, &format!("mode=blast&n={n}"))).transports([transport]),
    )
    .await;
    let mut events = socket.events();
    let start = Instant::now();
    socket.emit("go", ()).await.expect("sioclient: emit go");
    let mut expected = 0;
    while expected < n {
        match events.next().await {
            Some(SocketEvent::Event(event)) => {
                assert_eq!(
                    tick(&event),
                    Some(expected),
                    "sioclient: events out of order"
                );
                expected += 1;
            }
            Some(_) => {}
            None => panic!("sioclient: the event stream ended early"),
        }
    }
    let elapsed = start.elapsed();
    socket.disconnect().await;
    elapsed
}

/// Receives `n` blasted events through an `on("tick", ..)` handler.
pub async fn receive_handler(port: u16, n: usize) -> Duration {
    receive_handler_with(port, n, Parser::Default).await
}

/// How a handler reads the counter of a `tick`.
#[derive(Clone, Copy)]
pub enum Read {
    /// Typed: `decode` into the types it wants (see [`tick`]).
    Typed,
    /// Untyped: the arguments as `serde_json::Value`s (`args()`), as a
    /// handler that does not declare types reads them.
    Untyped,
}

/// The counter of a `tick` event read from its arguments as JSON values.
fn tick_untyped(event: &Event) -> Option<usize> {
    if event.name() != "tick" {
        return None;
    }
    usize::try_from(event.args().first()?.as_u64()?).ok()
}

/// [`receive_handler`] with `parser`.
pub async fn receive_handler_with(port: u16, n: usize, parser: Parser) -> Duration {
    receive_handler_reading(port, n, parser, Read::Typed).await
}

/// [`receive_handler`] with `parser`, the handler reading each event as `read` says.
pub async fn receive_handler_reading(port: u16, n: usize, parser: Parser, read: Read) -> Duration {
    let received = Arc::new(AtomicUsize::new(0));
    let in_order = Arc::new(AtomicBool::new(true));
    let done = Arc::new(Notify::new());
    let builder = {
        let (received, in_order, done) = (received.clone(), in_order.clone(), done.clone());
        ClientBuilder::new(url(port, &format!("mode=blast&n={n}")))
            .parser(parser)
            .on("tick", move |event, _socket| {
                let i = received.fetch_add(1, Ordering::Relaxed);
                let counter = match read {
                    Read::Typed => tick(&event),
                    Read::Untyped => tick_untyped(&event),
                };
                if counter != Some(i) {
                    in_order.store(false, Ordering::Relaxed);
                }
                if i + 1 == n {
                    done.notify_one();
                }
                async {}
            })
    };
    let socket = connect(builder).await;
    let start = Instant::now();
    socket.emit("go", ()).await.expect("sioclient: emit go");
    done.notified().await;
    let elapsed = start.elapsed();
    assert!(
        in_order.load(Ordering::Relaxed),
        "sioclient: handler saw events out of order"
    );
    socket.disconnect().await;
    elapsed
}

#[derive(Serialize)]
struct Chat {
    user: &'static str,
    text: &'static str,
}

/// Emits `n` events with `socket.emit(..)`; the time until the server has them all.
pub async fn emit(port: u16, n: usize, reports: &mut mpsc::UnboundedReceiver<Instant>) -> Duration {
    emit_over(port, n, reports, Transport::WebSocket).await
}

/// [`emit`] over `transport`.
pub async fn emit_over(
    port: u16,
    n: usize,
    reports: &mut mpsc::UnboundedReceiver<Instant>,
    transport: Transport,
) -> Duration {
    emit_with(port, n, reports, transport, Parser::Default).await
}

/// [`emit`] over `transport` with `parser`.
pub async fn emit_with(
    port: u16,
    n: usize,
    reports: &mut mpsc::UnboundedReceiver<Instant>,
    transport: Transport,
    parser: Parser,
) -> Duration {
    let socket = connect(
        ClientBuilder::new(url(port, &format!("mode=sink&n={n}")))
            .transports([transport])
            .parser(parser),
    )
    .await;
    let chat = Chat {
        user: "alice",
        text: "hello world",
    };
    let start = Instant::now();
    for i in 0..n {
        socket
            .emit("tick", (i, &chat))
            .await
            .expect("sioclient: emit");
    }
    let done = reports.recv().await.expect("server report");
    socket.disconnect().await;
    done - start
}

/// `n` sequential `emit_with_ack` round trips.
pub async fn ack(port: u16, n: usize) -> Duration {
    let socket = connect(ClientBuilder::new(url(port, "mode=ack"))).await;
    let start = Instant::now();
    for i in 0..n {
        let reply: String = socket
            .emit_with_ack("x", i)
            .await
            .expect("sioclient: emit_with_ack");
        debug_assert_eq!(reply, "ok");
    }
    let elapsed = start.elapsed();
    socket.disconnect().await;
    elapsed
}

/// [`ack`]'s round trips, the latency of each, while a second connection
/// emits `rate` events a second (a burst every millisecond).
pub async fn ack_latency_under_load(port: u16, n: usize, rate: usize) -> Vec<Duration> {
    let socket = connect(ClientBuilder::new(url(port, "mode=ack"))).await;
    let load = connect(ClientBuilder::new(url(port, "mode=sink&n=0"))).await;
    let stop = Arc::new(AtomicBool::new(false));
    let emitter = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let chat = Chat {
                user: "alice",
                text: "hello world",
            };
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..rate / 1000 {
                    if load.emit("tick", (i, &chat)).await.is_err() {
                        return;
                    }
                    i += 1;
                }
            }
            load.disconnect().await;
        })
    };
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        let reply: String = socket
            .emit_with_ack("x", i)
            .await
            .expect("sioclient: emit_with_ack");
        debug_assert_eq!(reply, "ok");
        latencies.push(started.elapsed());
    }
    stop.store(true, Ordering::Relaxed);
    let _ = emitter.await;
    socket.disconnect().await;
    latencies
}

/// Opens one idle connection; the socket must be kept to keep it open.
pub async fn idle(port: u16) -> Socket {
    connect(ClientBuilder::new(url(port, "mode=idle"))).await
}

/// Opens one idle connection as an application would set it up: two `on`
/// listeners and an `on_lifecycle` listener.
pub async fn idle_app(port: u16) -> Socket {
    connect(
        ClientBuilder::new(url(port, "mode=idle"))
            .on("tick", |event, _socket| async move {
                let _ = tick(&event);
            })
            .on("chat", |event, _socket| async move {
                let _: Option<(String,)> = event.decode().ok();
            })
            .on_lifecycle(|event, _socket| async move {
                if let SocketEvent::Disconnect(reason) = event {
                    let _ = reason.as_str();
                }
            }),
    )
    .await
}
