//! Reaching the server through a proxy, for both transports: an HTTP proxy
//! by a `CONNECT` tunnel, or a SOCKS5 proxy, with credentials or without.
//! Set on the builder, or taken from `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY` (upper or lower case) as curl reads them;
//! loopback hosts are always reached directly, as Go's HTTP client does.

use std::fmt;
use std::io;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

/// The longest answer to a `CONNECT` the client reads.
const MAX_CONNECT_ANSWER: usize = 16 * 1024;

/// A proxy to reach the server through.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Proxy {
    kind: Kind,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Socks5,
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Proxy {
    /// A proxy from its URL: `http://[user:password@]host[:port]` (port 80 by
    /// default; `https://` is read the same way, the tunnel itself being
    /// plain) or `socks5://` / `socks5h://` (port 1080 by default; the proxy
    /// resolves the server's name either way). A bare `host:port` is HTTP.
    pub(crate) fn parse(text: &str) -> Result<Proxy, String> {
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        let url = Url::parse(&with_scheme).map_err(|error| format!("proxy {text:?}: {error}"))?;
        let (kind, default_port) = match url.scheme() {
            "http" | "https" => (Kind::Http, 80),
            "socks5" | "socks5h" => (Kind::Socks5, 1080),
            other => {
                return Err(format!(
                    "proxy {text:?}: the scheme {other:?} is not supported (http, socks5)"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| format!("proxy {text:?}: no host"))?;
        let credentials = (!url.username().is_empty()).then(|| {
            // The URL keeps them %-encoded.
            let decode = |part: &str| percent_decode_str(part).decode_utf8_lossy().into_owned();
            (
                decode(url.username()),
                decode(url.password().unwrap_or_default()),
            )
        });
        Ok(Proxy {
            kind,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: url.port().unwrap_or(default_port),
            credentials,
        })
    }

    /// The proxy the environment names for `target`, if any.
    pub(crate) fn from_env(target: &Url) -> Option<Proxy> {
        from_env_with(target, |name| std::env::var(name).ok())
    }

    /// A connection to `host:port` through the proxy.
    pub(crate) async fn connect(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        match self.kind {
            Kind::Http => self.connect_http(host, port).await,
            Kind::Socks5 => self.connect_socks5(host, port).await,
        }
    }

    async fn connect_http(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let mut stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some((user, password)) = &self.credentials {
            let token = STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).await?;
        // Read the answer byte by byte: what follows it belongs to the tunnel.
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\n") {
            if answer.len() >= MAX_CONNECT_ANSWER {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the proxy's answer to CONNECT is too long",
                ));
            }
            let byte = stream.read_u8().await?;
            answer.push(byte);
        }
        let status_line = String::from_utf8_lossy(&answer);
        let status_line = status_line.lines().next().unwrap_or_default();
        let status = status_line.split_whitespace().nth(1).unwrap_or_default();
        if status != "200" {
            let hint = if status == "407" || status == "401" {
                ": the proxy wants credentials (proxy(\"http://user:password@host:port\"))"
            } else {
                ""
            };
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!(
                    "the HTTP proxy {}:{} refused the tunnel to {authority}: {status_line}{hint}",
                    self.host, self.port
                ),
            ));
        }
        Ok(stream)
    }

    async fn connect_socks5(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let proxy = (self.host.as_str(), self.port);
        let connected = match &self.credentials {
            Some((user, password)) => {
                tokio_socks::tcp::Socks5Stream::connect_with_password(
                    proxy,
                    (host, port),
                    user,
                    password,
                )
                .await
            }
            None => tokio_socks::tcp::Socks5Stream::connect(proxy, (host, port)).await,
        };
        connected
            .map(|stream| stream.into_inner())
            .map_err(|error| {
                io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!(
                        "the SOCKS5 proxy {}:{} did not connect to {host}:{port}: {error}",
                        self.host, self.port
                    ),
                )
            })
    }
}

/// [`Proxy::from_env`], with the environment given.
fn from_env_with(target: &Url, var: impl Fn(&str) -> Option<String>) -> Option<Proxy> {
    let host = target.host_str()?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if is_loopback(host) {
        return None;
    }
    let read = |name: &str| {
        var(name)
            .or_else(|| var(&name.to_lowercase()))
            .filter(|value| !value.trim().is_empty())
    };
    if let Some(no_proxy) = read("NO_PROXY") {
        if bypassed(host, &no_proxy) {
            return None;
        }
    }
    let secure = matches!(target.scheme(), "https" | "wss");
    let named = if secure {
        read("HTTPS_PROXY")
    } else {
        read("HTTP_PROXY")
    };
    let value = named.or_else(|| read("ALL_PROXY"))?;
    match Proxy::parse(value.trim()) {
        Ok(proxy) => Some(proxy),
        Err(error) => {
            tracing::warn!(%error, "ignoring the proxy the environment names");
            None
        }
    }
}

/// Whether `NO_PROXY` (comma-separated hosts or domains, `*` for all) lets
/// `host` be reached directly. A domain covers its subdomains, with or
/// without a leading dot; ports are ignored.
fn bypassed(host: &str, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    no_proxy.split(',').any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        let entry = entry
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()) && !entry.contains(']'))
            .map_or(entry.as_str(), |(name, _)| name);
        let entry = entry.trim_start_matches('.');
        entry == "*"
            || (!entry.is_empty() && (host == entry || host.ends_with(&format!(".{entry}"))))
    })
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn proxy_urls() {
        let http = Proxy::parse("http://user:p%40ss@proxy.test:3128").unwrap();
        assert_eq!(http.kind, Kind::Http);
        assert_eq!((http.host.as_str(), http.port), ("proxy.test", 3128));
        assert_eq!(
            http.credentials,
            Some(("user".to_owned(), "p@ss".to_owned()))
        );
        assert!(!format!("{http:?}").contains("p@ss"));
        let bare = Proxy::parse("proxy.test:8080").unwrap();
        assert_eq!((bare.kind, bare.port), (Kind::Http, 8080));
        let socks = Proxy::parse("socks5h://[::1]").unwrap();
        assert_eq!(
            (socks.kind, socks.host.as_str(), socks.port),
            (Kind::Socks5, "::1", 1080)
        );
        assert!(Proxy::parse("ftp://proxy.test").is_err());
        assert!(Proxy::parse("http://").is_err());
    }

    #[test]
    fn the_environment_names_a_proxy_per_scheme_unless_no_proxy_says_otherwise() {
        let env: HashMap<&str, &str> = [
            ("HTTPS_PROXY", "http://secure.test:1"),
            ("http_proxy", "http://plain.test:2"),
            ("ALL_PROXY", "socks5://all.test:3"),
            ("NO_PROXY", "internal.test, .corp.test,10.0.0.1:443"),
        ]
        .into();
        let lookup = |name: &str| env.get(name).map(|v| v.to_string());
        let proxy_for =
            |url: &str| from_env_with(&Url::parse(url).unwrap(), lookup).map(|p| (p.host, p.port));
        assert_eq!(
            proxy_for("wss://api.test/"),
            Some(("secure.test".into(), 1))
        );
        assert_eq!(proxy_for("ws://api.test/"), Some(("plain.test".into(), 2)));
        assert_eq!(proxy_for("ws://internal.test/"), None);
        assert_eq!(proxy_for("ws://a.internal.test/"), None);
        assert_eq!(proxy_for("ws://x.corp.test/"), None);
        assert_eq!(proxy_for("ws://corp.test/"), None);
        assert_eq!(proxy_for("ws://10.0.0.1/"), None);
        assert_eq!(proxy_for("ws://127.0.0.1:3000/"), None, "loopback");
        assert_eq!(proxy_for("ws://localhost/"), None, "loopback");

        let only_all: HashMap<&str, &str> = [("all_proxy", "socks5://all.test:3")].into();
        let all = from_env_with(&Url::parse("wss://api.test/").unwrap(), |n| {
            only_all.get(n).map(|v| v.to_string())
        })
        .unwrap();
        assert_eq!(all.kind, Kind::Socks5);

        let everything: HashMap<&str, &str> =
            [("HTTP_PROXY", "http://p.test:1"), ("NO_PROXY", "*")].into();
        assert!(from_env_with(&Url::parse("ws://api.test/").unwrap(), |n| {
            everything.get(n).map(|v| v.to_string())
        })
        .is_none());
    }
}
