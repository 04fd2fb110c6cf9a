//! Engine.IO over one WebSocket: opening it (the handshake and the open
//! packet) and the [`Link`] it presents to the driver.

use std::task::{ready, Context, Poll};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, SET_COOKIE};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use url::Url;

use crate::codec::engine::{EnginePacket, OpenInfo};
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::Frame;
use crate::engine::config::{http_refused, redacted, TransportConfig};
use crate::engine::link::{BoxedLink, Link, LinkError, Received};
use crate::engine::stream::{self, Stream};
use crate::error::protocol::ProtocolError;
use crate::error::{ConnectError, TransportError};

/// The WebSocket a link runs on.
type WsStream = WebSocketStream<Stream>;

/// The WebSocket buffers, chosen on purpose.
fn websocket_config() -> WebSocketConfig {
    // A small read buffer keeps idle connections cheap (tungstenite grows it
    // for large messages). The driver flushes once per burst of emits; up to
    // this much of a burst waits in the write buffer before it goes out on
    // its own, so large bursts leave in large writes.
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        // Node's `ws` sends each message as one frame: a frame limit below the
        // message limit would refuse messages the documented limit allows.
        .max_frame_size(Some(MAX_MESSAGE_BYTES))
        .write_buffer_size(128 * 1024)
}

impl Link for WsStream {
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Received, LinkError>>> {
        loop {
            let received = match ready!(self.poll_next_unpin(cx)) {
                Some(Ok(Message::Text(text))) => Ok(Received::Text(text)),
                Some(Ok(Message::Binary(data))) => Ok(Received::Binary(data)),
                Some(Ok(Message::Close(_))) | None => return Poll::Ready(None),
                // Pings and pongs of the WebSocket itself: tungstenite answers them.
                Some(Ok(_)) => continue,
                Some(Err(error)) => Err(link_error(error)),
            };
            return Poll::Ready(Some(received));
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.poll_ready_unpin(cx).map_err(link_error)
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), LinkError> {
        let message = match frame {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(data) => Message::binary(data),
        };
        self.start_send_unpin(message).map_err(link_error)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.poll_flush_unpin(cx).map_err(link_error)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.poll_close_unpin(cx).map_err(link_error)
    }
}

/// A message above the size limit is refused like any other message the
/// client cannot take; other errors fail the link.
fn link_error(error: WsError) -> LinkError {
    match error {
        WsError::Capacity(_) => LinkError::Refused(ProtocolError::MessageTooLarge {
            max: MAX_MESSAGE_BYTES,
        }),
        other => LinkError::Failed(ConnectError::Transport(TransportError::websocket(other))),
    }
}

/// Opens the WebSocket and waits for the Engine.IO open packet.
pub(crate) async fn open(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    let mut ws = handshake(config, &config.url).await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                crate::engine::trace::incoming_text(text.as_str());
                match EnginePacket::decode(text.as_str()).map_err(ConnectError::Protocol)? {
                    EnginePacket::Open(info) => return Ok((Box::new(ws), info)),
                    EnginePacket::Close => return Err(ConnectError::HandshakeClosed),
                    other => tracing::debug!(?other, "ignoring a packet before the open packet"),
                }
            }
            Some(Ok(Message::Close(_))) | None => return Err(ConnectError::HandshakeClosed),
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                return Err(ConnectError::Transport(TransportError::websocket(error)))
            }
        }
    }
}

/// Connects and completes the WebSocket handshake at `url`.
async fn handshake(config: &TransportConfig, url: &Url) -> Result<WsStream, ConnectError> {
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|error| handshake_error(config, error))?;
    for (name, value) in &config.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    if let Some(cookie) = config.status.cookies().and_then(|jar| jar.header(url)) {
        request.headers_mut().append(COOKIE, cookie);
    }
    let stream = stream::connect(url, config.tls.as_ref(), &config.dialer)
        .await
        .map_err(ConnectError::Transport)?;
    let connected =
        tokio_tungstenite::client_async_with_config(request, stream, Some(websocket_config()))
            .await;
    let (ws, response) = connected.map_err(|error| handshake_error(config, error))?;
    if let Some(jar) = config.status.cookies() {
        jar.store(url, response.headers().get_all(SET_COOKIE).iter());
    }
    Ok(ws)
}

/// Opens a WebSocket to the polling session `sid` and probes it: `2probe`
/// out, `3probe` back. The link it returns carries the session once the
/// client sends `5` on it.
#[cfg(feature = "polling")]
pub(crate) async fn probe(config: &TransportConfig, sid: &str) -> Result<BoxedLink, ConnectError> {
    let mut url = config.url.clone();
    url.query_pairs_mut().append_pair("sid", sid);
    let mut ws = handshake(config, &url).await?;
    crate::engine::trace::outgoing_text("2probe");
    ws.send(Message::text("2probe"))
        .await
        .map_err(|error| ConnectError::Transport(TransportError::websocket(error)))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                crate::engine::trace::incoming_text(text.as_str());
                if text.as_str() == "3probe" {
                    return Ok(Box::new(ws));
                }
                return Err(ConnectError::Protocol(ProtocolError::InvalidPayload(
                    "an answer to the upgrade probe other than 3probe",
                )));
            }
            Some(Ok(Message::Close(_))) | None => return Err(ConnectError::HandshakeClosed),
            Some(Ok(_)) => {}
            Some(Err(error)) => {
                return Err(ConnectError::Transport(TransportError::websocket(error)))
            }
        }
    }
}

/// The error of a failed WebSocket handshake, with what the server said when
/// it answered in HTTP.
fn handshake_error(config: &TransportConfig, error: WsError) -> ConnectError {
    use tokio_tungstenite::tungstenite::error::ProtocolError as WsProtocolError;
    match error {
        WsError::Http(response) => http_refused(
            &config.url,
            response.status().as_u16(),
            response.body().as_deref().unwrap_or_default(),
        ),
        WsError::Protocol(WsProtocolError::HandshakeIncomplete) => ConnectError::NoEngineIo {
            url: redacted(&config.url),
            detail: "the connection closed before the WebSocket handshake completed".into(),
        },
        other => ConnectError::Transport(TransportError::websocket(other)),
    }
}
