//! [`TransportError`]: a failure below Socket.IO (TCP, TLS, WebSocket,
//! HTTP), in a type of this crate's own, so that the errors of the
//! libraries underneath stay out of the public API.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

use tokio_tungstenite::tungstenite::Error as WsError;

/// Why the connection under Socket.IO failed: the TCP connection, the TLS
/// handshake, the WebSocket, or an HTTP long-polling request.
///
/// The message says which; the error it stems from is its
/// [`source`](Error::source) (an [`io::Error`] for network failures, which
/// [`io_error_kind`](Self::io_error_kind) reads). Cheap to clone.
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: Kind,
    source: Option<Arc<dyn Error + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Io,
    Timeout,
    Tls,
    WebSocket,
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    Http,
    HttpStatus(u16),
}

impl TransportError {
    /// Whether the connection or a request timed out.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// Whether the TLS handshake failed: a certificate that is not trusted,
    /// a name that does not match, no common protocol version.
    pub fn is_tls(&self) -> bool {
        self.kind == Kind::Tls
    }

    /// The HTTP status the server answered with, when that is the failure.
    pub fn http_status(&self) -> Option<u16> {
        match self.kind {
            Kind::HttpStatus(status) => Some(status),
            _ => None,
        }
    }

    /// The kind of the I/O error underneath, if one is:
    /// [`ConnectionRefused`](io::ErrorKind::ConnectionRefused),
    /// [`ConnectionReset`](io::ErrorKind::ConnectionReset) and so on.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        let mut cause: Option<&(dyn Error + 'static)> = Some(self.source.as_deref()?);
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<io::Error>() {
                return Some(io.kind());
            }
            cause = error.source();
        }
        None
    }

    fn new(kind: Kind, source: impl Error + Send + Sync + 'static) -> Self {
        TransportError {
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// A network failure: TCP, a proxy, or TLS reported through the stream.
    pub(crate) fn io(error: io::Error) -> Self {
        let kind = if is_rustls(&error) {
            Kind::Tls
        } else if error.kind() == io::ErrorKind::TimedOut {
            Kind::Timeout
        } else {
            Kind::Io
        };
        TransportError::new(kind, error)
    }

    /// A failed TLS handshake.
    pub(crate) fn tls(error: impl Error + Send + Sync + 'static) -> Self {
        TransportError::new(Kind::Tls, error)
    }

    /// A failure of the WebSocket library. Its own messages repeat their
    /// cause, so the cause it wraps becomes the source in its place.
    pub(crate) fn websocket(error: WsError) -> Self {
        match error {
            WsError::Io(error) => TransportError::io(error),
            WsError::Tls(error) => TransportError::tls(error),
            WsError::Http(response) => TransportError {
                kind: Kind::HttpStatus(response.status().as_u16()),
                source: None,
            },
            WsError::Protocol(error) => TransportError::new(Kind::WebSocket, error),
            WsError::Capacity(error) => TransportError::new(Kind::WebSocket, error),
            WsError::Url(error) => TransportError::new(Kind::WebSocket, error),
            other => TransportError::new(Kind::WebSocket, other),
        }
    }

    /// A failed HTTP request of the polling transport.
    #[cfg(feature = "polling")]
    pub(crate) fn http(error: hyper::Error) -> Self {
        let kind = if error.is_timeout() {
            Kind::Timeout
        } else {
            Kind::Http
        };
        TransportError::new(kind, error)
    }

    /// A failed read of an HTTP response body.
    #[cfg(feature = "polling")]
    pub(crate) fn http_body(error: Box<dyn Error + Send + Sync>) -> Self {
        TransportError {
            kind: Kind::Http,
            source: Some(Arc::from(error)),
        }
    }
}

impl TransportError {
    /// Whether the TLS handshake met an answer that is not TLS at all, as a
    /// plain HTTP server gives.
    fn plain_text_answer(&self) -> bool {
        let mut cause: Option<&(dyn Error + 'static)> = self
            .source
            .as_deref()
            .map(|error| error as &(dyn Error + 'static));
        while let Some(error) = cause {
            // An `io::Error` wrapping another shows the inner one's source
            // as its own, not the inner one.
            let inner = error
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .map(|inner| inner as &(dyn Error + 'static));
            #[cfg(feature = "__rustls")]
            if let Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) =
                inner.unwrap_or(error).downcast_ref::<rustls::Error>()
            {
                return true;
            }
            #[cfg(not(feature = "__rustls"))]
            let _ = inner;
            // OpenSSL's word for it, through native-tls.
            if error.to_string().contains("wrong version number") {
                return true;
            }
            cause = error.source();
        }
        false
    }
}

/// Whether an I/O error is rustls refusing the handshake.
fn is_rustls(error: &io::Error) -> bool {
    #[cfg(feature = "__rustls")]
    if let Some(inner) = error.get_ref() {
        return inner.downcast_ref::<rustls::Error>().is_some();
    }
    let _ = error;
    false
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Io => f.write_str("the connection to the server failed"),
            Kind::Timeout => f.write_str("the connection to the server timed out"),
            Kind::Tls if self.plain_text_answer() => f.write_str(
                "the TLS handshake failed: the server answered in plain text, so it may speak \
                 plain HTTP (use an http:// or ws:// URL)",
            ),
            Kind::Tls => f.write_str("the TLS handshake failed"),
            Kind::WebSocket => f.write_str("the WebSocket connection failed"),
            Kind::Http => f.write_str("the polling request failed"),
            Kind::HttpStatus(status) => write!(f, "the server answered with HTTP status {status}"),
        }
    }
}

impl Error for TransportError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source
            .as_deref()
            .map(|error| error as &(dyn Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_reads_as_one() {
        let error = TransportError::websocket(WsError::Io(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        )));
        assert_eq!(
            error.io_error_kind(),
            Some(io::ErrorKind::ConnectionRefused)
        );
        assert!(!error.is_timeout() && !error.is_tls());
        assert_eq!(error.http_status(), None);
        assert_eq!(error.to_string(), "the connection to the server failed");
        assert!(error.source().unwrap().to_string().contains("refused"));
    }

    #[test]
    fn timeouts_tls_and_statuses_are_told_apart() {
        let timeout = TransportError::io(io::Error::from(io::ErrorKind::TimedOut));
        assert!(timeout.is_timeout());
        let tls = TransportError::tls(io::Error::other("unknown issuer"));
        assert!(tls.is_tls());
        assert_eq!(tls.to_string(), "the TLS handshake failed");
        let response = tokio_tungstenite::tungstenite::http::Response::builder()
            .status(403)
            .body(None)
            .unwrap();
        let status = TransportError::websocket(WsError::Http(Box::new(response)));
        assert_eq!(status.http_status(), Some(403));
        assert!(status.source().is_none());
    }
}
