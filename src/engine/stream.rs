//! The byte stream a link runs on: TCP, wrapped in TLS for `wss://`.
//!
//! Boxed behind a trait object, so that an idle plain connection does not
//! carry room for a TLS session: tokio-tungstenite's own stream type is an
//! enum sized for its largest variant, over a kilobyte.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::UrlError;
use tokio_tungstenite::Connector;
use url::Url;

use crate::engine::proxy::Proxy;
use crate::error::WsError;

/// What a link reads and writes.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A connected stream, TLS or not.
pub(crate) type Stream = Box<dyn Io>;

/// How a link reaches the server.
#[derive(Clone, Default)]
pub(crate) enum Dialer {
    /// Over the network: TCP, and TLS for `wss://`.
    #[default]
    Network,
    /// Through this proxy, then TLS for `wss://` inside its tunnel. Boxed:
    /// every idle connection carries its dialer.
    Proxy(Box<Proxy>),
    /// A stream made in memory, for tests that pause time.
    #[cfg(test)]
    Memory(std::sync::Arc<dyn Fn() -> std::io::Result<Stream> + Send + Sync>),
}

/// Connects to the host of `url`, through TLS when `tls` is given. Errors
/// are those tokio-tungstenite gives for the same failures, so that they
/// read and classify the same.
pub(crate) async fn connect(
    url: &Url,
    tls: Option<&Connector>,
    dialer: &Dialer,
) -> Result<Stream, WsError> {
    let proxy = match dialer {
        Dialer::Network => None,
        Dialer::Proxy(proxy) => Some(proxy),
        #[cfg(test)]
        Dialer::Memory(dial) => return dial().map_err(WsError::Io),
    };
    let host = url.host_str().ok_or(WsError::Url(UrlError::NoHostName))?;
    let port = url
        .port_or_known_default()
        .ok_or(WsError::Url(UrlError::UnsupportedUrlScheme))?;
    // An IPv6 literal comes in brackets; TCP and TLS want it bare.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let tcp = match proxy {
        Some(proxy) => proxy.connect(host, port).await,
        None => TcpStream::connect((host, port)).await,
    }
    .map_err(WsError::Io)?;
    // Nagle off: events are small and latency-bound; the driver already batches writes.
    tcp.set_nodelay(true).map_err(WsError::Io)?;
    match tls {
        None | Some(Connector::Plain) => Ok(Box::new(tcp)),
        #[cfg(feature = "__rustls")]
        Some(Connector::Rustls(config)) => {
            use tokio_tungstenite::tungstenite::error::TlsError;
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|_| WsError::Tls(TlsError::InvalidDnsName))?
                .to_owned();
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(WsError::Io)?;
            Ok(Box::new(stream))
        }
        #[cfg(feature = "native-tls")]
        Some(Connector::NativeTls(connector)) => {
            let stream = tokio_native_tls::TlsConnector::from(connector.clone())
                .connect(host, tcp)
                .await
                .map_err(|error| WsError::Tls(error.into()))?;
            Ok(Box::new(stream))
        }
        #[allow(unreachable_patterns)]
        Some(_) => Err(WsError::Url(UrlError::TlsFeatureNotEnabled)),
    }
}
