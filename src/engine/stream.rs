//! The byte stream a link runs on: TCP, wrapped in TLS for `wss://`.
//!
//! Boxed behind a trait object, so that an idle plain connection does not
//! carry room for a TLS session: tokio-tungstenite's own stream type is an
//! enum sized for its largest variant, over a kilobyte.

use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::Connector;
use url::Url;

use crate::engine::proxy::Proxy;
use crate::error::TransportError;

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

/// Connects to the host of `url`, through TLS when `tls` is given.
pub(crate) async fn connect(
    url: &Url,
    tls: Option<&Connector>,
    dialer: &Dialer,
) -> Result<Stream, TransportError> {
    let proxy = match dialer {
        Dialer::Network => None,
        Dialer::Proxy(proxy) => Some(proxy),
        #[cfg(test)]
        Dialer::Memory(dial) => return dial().map_err(TransportError::io),
    };
    // The builder checked the URL: it has a host, and a scheme with a port.
    let unusable = || {
        TransportError::io(io::Error::new(
            io::ErrorKind::InvalidInput,
            "no host or port in the URL",
        ))
    };
    let host = url.host_str().ok_or_else(unusable)?;
    let port = url.port_or_known_default().ok_or_else(unusable)?;
    // An IPv6 literal comes in brackets; TCP and TLS want it bare.
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let tcp = match proxy {
        Some(proxy) => proxy.connect(host, port).await,
        None => TcpStream::connect((host, port)).await,
    }
    .map_err(TransportError::io)?;
    // Nagle off: events are small and latency-bound; the driver already batches writes.
    tcp.set_nodelay(true).map_err(TransportError::io)?;
    match tls {
        None | Some(Connector::Plain) => Ok(Box::new(tcp)),
        #[cfg(feature = "__rustls")]
        Some(Connector::Rustls(config)) => {
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(TransportError::tls)?
                .to_owned();
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await
                .map_err(TransportError::io)?;
            Ok(Box::new(stream))
        }
        #[cfg(feature = "native-tls")]
        Some(Connector::NativeTls(connector)) => {
            let stream = tokio_native_tls::TlsConnector::from(connector.clone())
                .connect(host, tcp)
                .await
                .map_err(TransportError::tls)?;
            Ok(Box::new(stream))
        }
        #[allow(unreachable_patterns)]
        Some(_) => Err(TransportError::tls(io::Error::other(
            "this build has no TLS feature",
        ))),
    }
}
