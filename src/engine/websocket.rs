//! Engine.IO over one WebSocket: opening it (the handshake and the open
//! packet) and the [`Link`] it presents to the driver.

use std::task::{ready, Context, Poll};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{COOKIE, SET_COOKIE, TRANSFER_ENCODING};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use url::Url;

use crate::codec::engine::{EnginePacket, OpenInfo};
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::Frame;
use crate::engine::config::{http_refused, redacted, TransportConfig};
use crate::engine::link::{BoxedLink, Link, LinkError, LinkMessage};
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
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<LinkMessage, LinkError>>> {
        loop {
            let received = match ready!(self.poll_next_unpin(cx)) {
                Some(Ok(Message::Text(text))) => Ok(LinkMessage::Text(text)),
                Some(Ok(Message::Binary(data))) => Ok(LinkMessage::Binary(data)),
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
    if let Some(cookie) = config.cookies.as_deref().and_then(|jar| jar.header(url)) {
        request.headers_mut().append(COOKIE, cookie);
    }
    let stream = stream::connect(url, config.tls.as_ref(), &config.dialer)
        .await
        .map_err(ConnectError::Transport)?;
    let connected =
        tokio_tungstenite::client_async_with_config(request, stream, Some(websocket_config()))
            .await;
    let (ws, response) = connected.map_err(|error| handshake_error(config, error))?;
    if let Some(jar) = config.cookies.as_deref() {
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
        WsError::Http(response) => {
            let body = response.body().as_deref().unwrap_or_default();
            // tungstenite hands the body over as it came, chunk sizes and all.
            let chunked = response
                .headers()
                .get(TRANSFER_ENCODING)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"));
            let body = if chunked {
                dechunk(body)
            } else {
                body.to_vec()
            };
            http_refused(&config.url, response.status().as_u16(), &body)
        }
        WsError::Protocol(WsProtocolError::HandshakeIncomplete) => ConnectError::NoEngineIo {
            url: redacted(&config.url),
            detail: "the connection closed before the WebSocket handshake completed".into(),
        },
        other => ConnectError::Transport(TransportError::websocket(other)),
    }
}

/// The data of an HTTP body in chunked transfer encoding, as far as it is
/// complete: chunk sizes, extensions and trailers go. What does not parse
/// as chunks is kept as it is, so nothing the server said is lost.
fn dechunk(body: &[u8]) -> Vec<u8> {
    let mut data = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let Some(line_end) = rest.windows(2).position(|pair| pair == b"\r\n") else {
            if rest.len() == body.len() {
                return body.to_vec();
            }
            break;
        };
        let size_text = &rest[..line_end];
        let size_text = size_text
            .split(|&byte| byte == b';')
            .next()
            .unwrap_or_default();
        let Some(size) = std::str::from_utf8(size_text)
            .ok()
            .and_then(|text| usize::from_str_radix(text.trim(), 16).ok())
        else {
            if rest.len() == body.len() {
                return body.to_vec();
            }
            break;
        };
        let chunk = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(chunk.len());
        data.extend_from_slice(&chunk[..take]);
        if take < size {
            break;
        }
        rest = chunk[take..]
            .strip_prefix(b"\r\n")
            .unwrap_or(&chunk[take..]);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::dechunk;

    #[test]
    fn chunked_bodies_lose_their_framing() {
        let table: [(&[u8], &[u8]); 7] = [
            (
                b"28\r\n{\"code\":0,\"message\":\"Transport unknown\"}\r\n0\r\n\r\n",
                b"{\"code\":0,\"message\":\"Transport unknown\"}",
            ),
            (b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
            (b"3;ext=1\r\nabc\r\n0\r\n\r\n", b"abc"),
            // Cut short: what came.
            (b"5\r\nab", b"ab"),
            (b"3\r\nabc\r\n", b"abc"),
            // Not chunked after all: kept whole.
            (b"Cannot GET /", b"Cannot GET /"),
            (b"", b""),
        ];
        for (body, want) in table {
            assert_eq!(dechunk(body), want, "{:?}", String::from_utf8_lossy(body));
        }
        // A size beyond the body takes only what is there.
        assert_eq!(dechunk(b"ffffffffffffffff\r\nxy"), b"xy");
    }
}
