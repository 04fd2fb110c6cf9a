//! Opening the WebSocket: the Engine.IO URL, headers, TLS, and the open packet.

use std::sync::Arc;
use std::time::Duration;

use std::task::{ready, Context, Poll};

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, WebSocketStream};
use url::Url;

use crate::codec::engine::{EnginePacket, OpenInfo};
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::Frame;
use crate::engine::link::{BoxedLink, Link, LinkError, Received};
use crate::engine::stream::{self, Dialer, Stream};
use crate::error::protocol::ProtocolError;
use crate::error::{ConnectError, EngineIoError, WsError};

/// The WebSocket a link runs on.
type WsStream = WebSocketStream<Stream>;

/// Where and how to open the WebSocket.
#[derive(Clone)]
pub(crate) struct TransportConfig {
    /// The full `ws(s)://host/path/?EIO=4&transport=websocket&...` URL.
    pub(crate) url: Url,
    /// Extra HTTP headers for the upgrade request.
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    /// Time allowed for TCP, TLS, the upgrade and the open packet together.
    pub(crate) timeout: Duration,
    /// The TLS connector, for `wss://` URLs only.
    pub(crate) tls: Option<Connector>,
    /// How the stream is made.
    pub(crate) dialer: Dialer,
}

impl TransportConfig {
    /// The Engine.IO URL for a user's URL: `http` becomes `ws`, `https` becomes `wss`,
    /// the engine path replaces the URL's path (which names the namespace), and the
    /// user's query parameters are kept. Returns the URL and the namespace.
    pub(crate) fn engine_url(
        user_url: &str,
        engine_path: &str,
        extra_query: &[(String, String)],
    ) -> Result<(Url, String), ConnectError> {
        let parsed = Url::parse(user_url).map_err(|source| ConnectError::InvalidUrl {
            url: user_url.to_owned(),
            source,
        })?;
        let scheme = match parsed.scheme() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => return Err(ConnectError::UnsupportedScheme(other.to_owned())),
        };
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(ConnectError::InvalidUrl {
                url: user_url.to_owned(),
                source: url::ParseError::EmptyHost,
            });
        }
        let namespace = match parsed.path() {
            "" => "/".to_owned(),
            path => path.to_owned(),
        };
        let mut url = parsed.clone();
        // Url only refuses a scheme change between "special" and other schemes;
        // ws, wss, http and https are all special.
        if url.set_scheme(scheme).is_err() {
            return Err(ConnectError::UnsupportedScheme(parsed.scheme().to_owned()));
        }
        let mut path = engine_path.to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        url.set_path(&path);
        url.set_fragment(None);
        {
            let mut query = url.query_pairs_mut();
            query.clear();
            for (key, value) in parsed.query_pairs() {
                if key != "EIO" && key != "transport" {
                    query.append_pair(&key, &value);
                }
            }
            for (key, value) in extra_query {
                query.append_pair(key, value);
            }
            query.append_pair("EIO", "4");
            query.append_pair("transport", "websocket");
        }
        Ok((url, namespace))
    }
}

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
        other => LinkError::Failed(ConnectError::Transport(Arc::new(other))),
    }
}

/// Opens the WebSocket and waits for the Engine.IO open packet.
///
/// The stream is boxed: it is large, and it moves from this future into the
/// driver's, whose idle size is the memory an idle connection costs.
pub(crate) async fn open(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    match tokio::time::timeout(config.timeout, open_inner(config)).await {
        Ok(result) => result,
        Err(_) => Err(ConnectError::NoEngineIo {
            url: redacted(&config.url),
            detail: format!("no open packet within {:?}", config.timeout),
        }),
    }
}

async fn open_inner(config: &TransportConfig) -> Result<(BoxedLink, OpenInfo), ConnectError> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|error| handshake_error(config, error))?;
    for (name, value) in &config.headers {
        request.headers_mut().append(name.clone(), value.clone());
    }
    let stream = stream::connect(&config.url, config.tls.as_ref(), &config.dialer)
        .await
        .map_err(|error| handshake_error(config, error))?;
    let connected =
        tokio_tungstenite::client_async_with_config(request, stream, Some(websocket_config()))
            .await;
    let (mut ws, _response) = connected.map_err(|error| handshake_error(config, error))?;
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
            Some(Err(error)) => return Err(ConnectError::Transport(Arc::new(error))),
        }
    }
}

/// How much of a refusal's body an error keeps.
const BODY_KEPT: usize = 512;

/// The error of a failed WebSocket handshake, with what the server said when
/// it answered in HTTP.
fn handshake_error(config: &TransportConfig, error: WsError) -> ConnectError {
    use tokio_tungstenite::tungstenite::error::ProtocolError as WsProtocolError;
    match error {
        WsError::Http(response) => {
            let bytes = response.body().as_deref().unwrap_or_default();
            let bytes = &bytes[..bytes.len().min(BODY_KEPT)];
            let body = String::from_utf8_lossy(bytes).into_owned();
            ConnectError::HttpRefused {
                url: redacted(&config.url),
                status: response.status().as_u16(),
                engine_io: EngineIoError::parse(&body),
                body,
            }
        }
        WsError::Protocol(WsProtocolError::HandshakeIncomplete) => ConnectError::NoEngineIo {
            url: redacted(&config.url),
            detail: "the connection closed before the WebSocket handshake completed".into(),
        },
        other => ConnectError::Transport(Arc::new(other)),
    }
}

/// The URL as logs and errors show it: the values of the user's query
/// parameters (tokens, often) are replaced by `<redacted>`.
pub(crate) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(key, value)| {
            let value = match &*key {
                "EIO" | "transport" => value.into_owned(),
                _ => "<redacted>".to_owned(),
            };
            (key.into_owned(), value)
        })
        .collect();
    if !pairs.is_empty() {
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The brackets of the placeholder read better unescaped.
    shown.to_string().replace("%3Credacted%3E", "<redacted>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(url: &str) -> Result<(String, String), ConnectError> {
        TransportConfig::engine_url(url, "/socket.io/", &[])
            .map(|(url, nsp)| (url.to_string(), nsp))
    }

    #[test]
    fn maps_user_urls_to_engine_urls_and_namespaces() {
        let table = [
            (
                "http://localhost:3000",
                "ws://localhost:3000/socket.io/?EIO=4&transport=websocket",
                "/",
            ),
            (
                "https://example.com/chat",
                "wss://example.com/socket.io/?EIO=4&transport=websocket",
                "/chat",
            ),
            (
                "ws://127.0.0.1:1/admin?token=a%20b",
                "ws://127.0.0.1:1/socket.io/?token=a+b&EIO=4&transport=websocket",
                "/admin",
            ),
            (
                "wss://h/",
                "wss://h/socket.io/?EIO=4&transport=websocket",
                "/",
            ),
        ];
        for (input, url, nsp) in table {
            let (got_url, got_nsp) = engine(input).unwrap();
            assert_eq!(got_url, url, "{input}");
            assert_eq!(got_nsp, nsp, "{input}");
        }
    }

    #[test]
    fn custom_path_and_query() {
        let (url, _) =
            TransportConfig::engine_url("http://h:1", "my-path", &[("a".into(), "1".into())])
                .unwrap();
        assert_eq!(
            url.as_str(),
            "ws://h:1/my-path/?a=1&EIO=4&transport=websocket"
        );
    }

    #[test]
    fn redacts_the_values_of_user_query_parameters() {
        let (url, _) = TransportConfig::engine_url(
            "http://h:1/?token=secret&room=a",
            "/socket.io/",
            &[("key".into(), "k".into())],
        )
        .unwrap();
        assert_eq!(
            redacted(&url),
            "ws://h:1/socket.io/?token=<redacted>&room=<redacted>&key=<redacted>&EIO=4&transport=websocket"
        );
        let (plain, _) = TransportConfig::engine_url("http://h:1", "/socket.io/", &[]).unwrap();
        assert_eq!(
            redacted(&plain),
            "ws://h:1/socket.io/?EIO=4&transport=websocket"
        );
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(matches!(
            engine("not a url"),
            Err(ConnectError::InvalidUrl { .. })
        ));
        assert!(
            matches!(engine("ftp://h/"), Err(ConnectError::UnsupportedScheme(s)) if s == "ftp")
        );
        assert!(matches!(
            engine("http://"),
            Err(ConnectError::InvalidUrl { .. })
        ));
    }
}
