//! The HTTP side of polling: kept-alive HTTP/1.1 connections made by the
//! link's dialer (so proxies and TLS apply), the requests of a session
//! (headers, cookies, cache busting) and the reading of their answers.

use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use url::Url;

use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::engine::config::{http_refused, TransportConfig};
use crate::engine::cookies::CookieJar;
use crate::engine::link::LinkError;
use crate::engine::stream;
use crate::error::protocol::ProtocolError;
use crate::error::{ConnectError, TransportError};

pub(super) type BoxedBody = Pin<Box<dyn Future<Output = Result<Bytes, LinkError>> + Send>>;

/// One kept-alive HTTP/1.1 connection to the server.
pub(super) struct HttpConnection {
    pub(super) sender: SendRequest<Full<Bytes>>,
    /// Since when no request has been in flight on it.
    pub(super) idle_since: Option<std::time::Instant>,
    /// Its IO task: aborted with the link, so that the server sees the
    /// connection close at once, as it would a WebSocket's.
    io: tokio::task::AbortHandle,
}

impl Drop for HttpConnection {
    fn drop(&mut self) {
        self.io.abort();
    }
}

pub(super) async fn connect(config: &TransportConfig) -> Result<HttpConnection, ConnectError> {
    let stream = stream::connect(&config.url, config.tls.as_ref(), &config.dialer)
        .await
        .map_err(ConnectError::Transport)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(transport_error)?;
    let io = tokio::spawn(async move {
        let _ = connection.await;
    })
    .abort_handle();
    Ok(HttpConnection {
        sender,
        idle_since: None,
        io,
    })
}

/// What every request of a session carries.
pub(super) struct Exchange {
    url: Url,
    uri: Uri,
    host: HeaderValue,
    headers: Vec<(
        tokio_tungstenite::tungstenite::http::HeaderName,
        HeaderValue,
    )>,
    /// The manager's cookie jar, unless cookies are turned off.
    pub(super) cookies: Option<Arc<CookieJar>>,
    /// Adds a `t` parameter unique to each request (`timestamp_requests`).
    timestamped: bool,
}

impl Exchange {
    pub(super) fn new(config: &TransportConfig, url: &Url) -> Self {
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let authority = &url[url::Position::BeforeHost..url::Position::AfterPort];
        Exchange {
            url: url.clone(),
            cookies: config.cookies.clone(),
            timestamped: config.timestamp_requests,
            // A path and query Url produced are valid in a request line.
            uri: target.parse().unwrap_or_default(),
            host: HeaderValue::from_str(authority).unwrap_or(HeaderValue::from_static("localhost")),
            headers: config.headers.clone(),
        }
    }

    pub(super) fn request(&self, method: Method, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method.clone();
        *request.uri_mut() = if self.timestamped {
            format!("{}&t={}", self.uri, cache_buster())
                .parse()
                .unwrap_or_else(|_| self.uri.clone())
        } else {
            self.uri.clone()
        };
        let headers = request.headers_mut();
        headers.insert(hyper::header::HOST, self.host.clone());
        // socket.io compresses a polling response of more than 1 KiB when asked.
        headers.insert(
            hyper::header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate"),
        );
        if method == Method::POST {
            headers.insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain;charset=UTF-8"),
            );
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(cookie) = self
            .cookies
            .as_deref()
            .and_then(|jar| jar.header(&self.url))
        {
            headers.insert(hyper::header::COOKIE, cookie);
        }
        request
    }
}

/// A value no earlier request of this process used, for proxies and caches
/// that would otherwise answer a GET from their cache: the time in
/// milliseconds and a counter, in base 36 as the JS client writes it.
fn cache_buster() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}.{}", base36(millis), base36(count))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The body of a response, when its status is 200.
pub(super) async fn read_body(
    response: impl Future<Output = Result<hyper::Response<hyper::body::Incoming>, hyper::Error>>,
    url: Url,
    cookies: Option<Arc<CookieJar>>,
) -> Result<Bytes, LinkError> {
    let response = response.await.map_err(transport_failure)?;
    if let Some(jar) = cookies.as_deref() {
        jar.store(
            &url,
            response.headers().get_all(hyper::header::SET_COOKIE).iter(),
        );
    }
    let status = response.status();
    let encoding = response
        .headers()
        .get(hyper::header::CONTENT_ENCODING)
        .cloned();
    let body = Limited::new(response.into_body(), MAX_MESSAGE_BYTES)
        .collect()
        .await
        .map_err(
            |error| match error.downcast::<http_body_util::LengthLimitError>() {
                Ok(_) => LinkError::Refused(ProtocolError::MessageTooLarge {
                    max: MAX_MESSAGE_BYTES,
                }),
                Err(error) => {
                    LinkError::Failed(ConnectError::Transport(TransportError::http_body(error)))
                }
            },
        )?
        .to_bytes();
    let body = decoded(body, encoding.as_ref()).map_err(LinkError::Refused)?;
    if status != StatusCode::OK {
        return Err(LinkError::Failed(http_refused(
            &url,
            status.as_u16(),
            &body,
        )));
    }
    Ok(body)
}

/// The body as the server meant it: decompressed when it came compressed,
/// within the same limit as any message.
fn decoded(body: Bytes, encoding: Option<&HeaderValue>) -> Result<Bytes, ProtocolError> {
    let Some(encoding) = encoding else {
        return Ok(body);
    };
    let name = encoding.to_str().unwrap_or_default().trim();
    let mut out = Vec::new();
    let limit = MAX_MESSAGE_BYTES as u64 + 1;
    let read = if name.eq_ignore_ascii_case("identity") {
        return Ok(body);
    } else if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
        flate2::read::GzDecoder::new(&body[..])
            .take(limit)
            .read_to_end(&mut out)
    } else if name.eq_ignore_ascii_case("deflate") {
        flate2::read::ZlibDecoder::new(&body[..])
            .take(limit)
            .read_to_end(&mut out)
    } else {
        return Err(ProtocolError::BadEncoding(format!(
            "unasked content encoding {name:?}"
        )));
    };
    read.map_err(|error| ProtocolError::BadEncoding(format!("{name}: {error}")))?;
    if out.len() > MAX_MESSAGE_BYTES {
        return Err(ProtocolError::MessageTooLarge {
            max: MAX_MESSAGE_BYTES,
        });
    }
    Ok(Bytes::from(out))
}

pub(super) fn transport_error(error: hyper::Error) -> ConnectError {
    ConnectError::Transport(TransportError::http(error))
}

pub(super) fn transport_failure(error: hyper::Error) -> LinkError {
    LinkError::Failed(transport_error(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compressed(encoding: &str, data: &[u8]) -> Bytes {
        use std::io::Write;
        let level = flate2::Compression::fast();
        let out = match encoding {
            "gzip" => {
                let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
            _ => {
                let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), level);
                encoder.write_all(data).unwrap();
                encoder.finish().unwrap()
            }
        };
        Bytes::from(out)
    }

    #[test]
    fn compressed_bodies_are_decoded_within_the_message_limit() {
        let payload = "4".repeat(5000).into_bytes();
        for encoding in ["gzip", "deflate", "GZIP", " x-gzip "] {
            let body = compressed(
                encoding.trim().to_lowercase().trim_start_matches("x-"),
                &payload,
            );
            assert!(body.len() < payload.len() / 10, "{encoding}: compressed");
            let header = HeaderValue::from_str(encoding).unwrap();
            assert_eq!(decoded(body, Some(&header)).unwrap(), payload, "{encoding}");
        }
        let plain = Bytes::from_static(b"40");
        assert_eq!(decoded(plain.clone(), None).unwrap(), plain);
        let identity = HeaderValue::from_static("identity");
        assert_eq!(decoded(plain.clone(), Some(&identity)).unwrap(), plain);

        let br = HeaderValue::from_static("br");
        assert!(matches!(
            decoded(plain.clone(), Some(&br)),
            Err(ProtocolError::BadEncoding(problem)) if problem.contains("br")
        ));
        let gzip = HeaderValue::from_static("gzip");
        assert!(matches!(
            decoded(plain, Some(&gzip)),
            Err(ProtocolError::BadEncoding(_))
        ));
        // A small body that inflates past the limit is refused, and what is
        // held stops at the limit.
        let bomb = compressed("gzip", &vec![0; MAX_MESSAGE_BYTES + 1]);
        assert!(bomb.len() < 1 << 20);
        assert_eq!(
            decoded(bomb, Some(&gzip)),
            Err(ProtocolError::MessageTooLarge {
                max: MAX_MESSAGE_BYTES
            })
        );
    }

    #[test]
    fn cache_busters_differ_and_are_base36() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        let (a, b) = (cache_buster(), cache_buster());
        assert_ne!(a, b);
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '.'),
            "{a}"
        );
    }
}
