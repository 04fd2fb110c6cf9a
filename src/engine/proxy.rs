//! Reaching the server through a proxy, for both transports: an HTTP proxy
//! by a `CONNECT` tunnel, or a SOCKS5 proxy, with credentials or without.
//! Set on the builder, or taken from `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY` (upper or lower case) as curl reads them;
//! loopback hosts are always reached directly, as Go's HTTP client does.

use std::fmt;
use std::io;
use std::net::IpAddr;

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
        let answer = read_connect_answer(&mut stream).await?;
        let status_line = String::from_utf8_lossy(&answer);
        let status_line = status_line.lines().next().unwrap_or_default();
        let status = status_line.split_whitespace().nth(1).unwrap_or_default();
        // Any 2xx opens the tunnel (RFC 9110, 9.3.6).
        if !(status.len() == 3
            && status.starts_with('2')
            && status.bytes().all(|b| b.is_ascii_digit()))
        {
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

/// Reads the proxy's answer to `CONNECT`, up to and with its blank line,
/// and not a byte more: what follows belongs to the tunnel. Each read
/// first peeks at what has arrived, then takes all of it, or up to the end
/// of the answer when that has arrived: a few system calls per answer, not
/// one per byte.
async fn read_connect_answer(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    const END: &[u8] = b"\r\n\r\n";
    let mut answer = Vec::new();
    let mut buffer = vec![0; 4096];
    loop {
        if answer.len() >= MAX_CONNECT_ANSWER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the proxy's answer to CONNECT is too long",
            ));
        }
        let room = buffer.len().min(MAX_CONNECT_ANSWER - answer.len());
        let peeked = stream.peek(&mut buffer[..room]).await?;
        if peeked == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection before answering CONNECT",
            ));
        }
        // The end may straddle what was taken and what was peeked.
        let kept = answer.len().saturating_sub(END.len() - 1);
        let mut tail = answer[kept..].to_vec();
        tail.extend_from_slice(&buffer[..peeked]);
        let take = match tail.windows(END.len()).position(|window| window == END) {
            Some(at) => at + END.len() - (answer.len() - kept),
            None => peeked,
        };
        stream.read_exact(&mut buffer[..take]).await?;
        answer.extend_from_slice(&buffer[..take]);
        if answer.ends_with(END) {
            return Ok(answer);
        }
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
        if bypassed(host, target.port_or_known_default(), &no_proxy) {
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

/// Whether `NO_PROXY` lets `host` (on `port`) be reached directly, as curl
/// and Go's HTTP client read it: comma-separated entries, `*` for all; a
/// domain covers its subdomains, with or without a leading dot; an IP
/// address or a CIDR block (`10.0.0.0/8`, `fd00::/8`) covers the addresses
/// in it (an IPv6 address may stand in brackets); an entry with a port
/// (`host:8080`, `[::1]:8080`) covers that port alone.
fn bypassed(host: &str, port: Option<u16>, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let ip = host.parse::<IpAddr>().ok();
    no_proxy.split(',').any(|entry| {
        let entry = entry.trim().to_ascii_lowercase();
        if entry == "*" {
            return true;
        }
        let (name, entry_port) = split_port(&entry);
        if entry_port.is_some() && entry_port != port {
            return false;
        }
        if let (Some(ip), Some(block)) = (ip, Cidr::parse(name)) {
            return block.contains(ip);
        }
        let name = name.trim_start_matches('.');
        !name.is_empty() && (host == name || host.ends_with(&format!(".{name}")))
    })
}

/// An entry's host and port: `host:80`, `[::1]:80`, `[::1]`, or a bare host
/// or IPv6 address (whose colons are not a port).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((address, after)) => (
                address,
                after.strip_prefix(':').and_then(|p| p.parse().ok()),
            ),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        // One colon: a host and a port. More: an IPv6 address (or block).
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// An IP address block: an address and how many leading bits count.
struct Cidr {
    network: IpAddr,
    bits: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `fd00::/8`, or a single address (all its bits count).
    fn parse(text: &str) -> Option<Cidr> {
        let (address, bits) = match text.split_once('/') {
            Some((address, bits)) => (address, Some(bits.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let width = if network.is_ipv4() { 32 } else { 128 };
        let bits = bits.unwrap_or(width);
        (bits <= width).then_some(Cidr { network, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let (network, ip, width) = match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => (
                u128::from(u32::from(network)),
                u128::from(u32::from(ip)),
                32,
            ),
            (IpAddr::V6(network), IpAddr::V6(ip)) => (u128::from(network), u128::from(ip), 128),
            _ => return false,
        };
        let host_bits = u32::from(width - self.bits);
        let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
        network & mask == ip & mask
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
        // An entry with a port covers that port alone.
        assert_eq!(proxy_for("wss://10.0.0.1/"), None);
        assert_eq!(proxy_for("ws://10.0.0.1/"), Some(("plain.test".into(), 2)));
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

    #[test]
    fn no_proxy_entries_as_curl_and_go_read_them() {
        let table: [(&str, Option<u16>, &str, bool); 20] = [
            ("api.test", Some(80), "*", true),
            ("api.test", Some(80), "api.test", true),
            ("a.api.test", Some(80), ".api.test", true),
            ("xapi.test", Some(80), "api.test", false),
            ("api.test", Some(80), "api.test:80", true),
            ("api.test", Some(443), "api.test:80", false),
            ("10.1.2.3", Some(80), "10.0.0.0/8", true),
            ("11.1.2.3", Some(80), "10.0.0.0/8", false),
            ("10.1.2.3", Some(80), "10.1.2.3", true),
            ("10.1.2.3", Some(80), "10.1.2.3/32", true),
            ("10.1.2.4", Some(80), "10.1.2.3/32", false),
            ("192.168.1.9", Some(80), "0.0.0.0/0", true),
            ("fd00::1", Some(80), "fd00::/8", true),
            ("fe80::1", Some(80), "fd00::/8", false),
            ("::2", Some(80), "::2", true),
            ("::2", Some(8080), "[::2]:8080", true),
            ("::2", Some(80), "[::2]:8080", false),
            ("::2", Some(80), "[::2]", true),
            ("10.1.2.3", Some(80), "10.0.0.0/33", false),
            ("api.test", Some(80), " , ,", false),
        ];
        for (host, port, no_proxy, direct) in table {
            assert_eq!(
                bypassed(host, port, no_proxy),
                direct,
                "{host}:{port:?} with NO_PROXY={no_proxy:?}"
            );
        }
    }

    /// The answer is read to its blank line and no further, whatever the
    /// proxy wrote with it; any 2xx opens the tunnel.
    #[tokio::test]
    async fn the_connect_answer_is_read_to_its_end_and_no_further() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for (answer, opens) in [
            ("HTTP/1.1 200 Connection established\r\n\r\n", true),
            ("HTTP/1.1 204 No Content\r\nVia: p\r\n\r\n", true),
            ("HTTP/1.0 200 OK\r\nProxy-Agent: x\r\n\r\n", true),
            ("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", false),
            ("HTTP/1.1 302 Found\r\n\r\n", false),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let proxy = Proxy::parse(&format!("http://127.0.0.1:{port}")).unwrap();
            let written = answer.to_owned();
            let serve = tokio::spawn(async move {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = tcp.read(&mut request).await.unwrap();
                // The answer and the tunnel's first bytes in one write, the
                // blank line split across two.
                let (head, rest) = written.split_at(written.len() - 1);
                tcp.write_all(head.as_bytes()).await.unwrap();
                tcp.write_all(format!("{rest}TUNNEL").as_bytes())
                    .await
                    .unwrap();
                tcp
            });
            let connected = proxy.connect("server.test", 443).await;
            let _tcp = serve.await.unwrap();
            match connected {
                Ok(mut tunnel) => {
                    assert!(opens, "{answer:?} opened the tunnel");
                    let mut first = [0u8; 6];
                    tunnel.read_exact(&mut first).await.unwrap();
                    assert_eq!(&first, b"TUNNEL", "{answer:?}");
                }
                Err(error) => assert!(!opens, "{answer:?}: {error}"),
            }
        }
    }
}
