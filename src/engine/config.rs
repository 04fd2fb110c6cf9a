//! How a link is opened, as every transport reads it: the Engine.IO URL, the
//! choice of transport, TLS, headers and the dialer; and what the transports
//! share (refusals in HTTP, URLs with their secrets redacted).

use std::sync::Arc;
use std::time::Duration;

use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::Connector;
use url::Url;

use crate::engine::cookies::CookieJar;
use crate::engine::status::LinkStatus;
use crate::engine::stream::Dialer;
use crate::engine::transport::Transports;
use crate::error::{ConnectError, EngineIoError};

/// Where and how to open a link.
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
    /// The transports to try, in order.
    pub(crate) transports: Transports,
    /// Whether a polling session moves to WebSocket when the server offers it.
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    pub(crate) upgrade: bool,
    /// Whether, once an upgrade succeeded, later links try WebSocket first.
    pub(crate) remember_upgrade: bool,
    /// What the handles see of the link.
    pub(crate) status: Arc<LinkStatus>,
    /// The manager's cookie jar, which outlives every link; `None` when
    /// cookies are turned off.
    pub(crate) cookies: Option<Arc<CookieJar>>,
    /// Whether polling requests carry a unique `t` parameter.
    #[cfg_attr(not(feature = "polling"), allow(dead_code))]
    pub(crate) timestamp_requests: bool,
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

/// How much of a refusal's body an error keeps.
const BODY_KEPT: usize = 512;

/// The server answered in HTTP, but not as hoped: its status, the start of
/// its body, and the Engine.IO error the body holds, if any.
pub(crate) fn http_refused(url: &Url, status: u16, body: &[u8]) -> ConnectError {
    let body = String::from_utf8_lossy(&body[..body.len().min(BODY_KEPT)]).into_owned();
    ConnectError::HttpRefused {
        url: redacted(url),
        status,
        engine_io: EngineIoError::parse(&body),
        body,
        other_transport: None,
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
