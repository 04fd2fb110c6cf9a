//! Engine.IO v4 over HTTP long-polling: the handshake by GET, then one long
//! GET to receive and at most one POST to send at a time, each on an
//! HTTP/1.1 connection of its own that is kept alive. Never two GETs: the
//! server answers the second with 400 and closes the whole session.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use url::Url;

use crate::codec::engine::{EnginePacket, OpenInfo};
use crate::codec::limits::MAX_MESSAGE_BYTES;
use crate::codec::payload::{self, PayloadPacket};
use crate::codec::Frame;
use crate::engine::config::{http_refused, redacted, TransportConfig};
use crate::engine::cookies::CookieJar;
use crate::engine::link::{Link, LinkError, Received};
use crate::engine::stream;
use crate::error::protocol::ProtocolError;
use crate::error::{ConnectError, WsError};

/// Bytes of queued packets past which writing waits for the POST in flight.
const WRITE_BACKLOG: usize = 1 << 20;

type BoxedBody = Pin<Box<dyn Future<Output = Result<Bytes, Failure>> + Send>>;

/// Why a request got no answer.
enum Failure {
    /// The kept-alive connection it went on was already closed by the
    /// server (reset, or closed before any answer): it was not handled, and
    /// may be sent once more on a new connection.
    Stale,
    /// Anything else: the link fails.
    Link(LinkError),
}

impl From<LinkError> for Failure {
    fn from(error: LinkError) -> Self {
        Failure::Link(error)
    }
}

/// Whether a request failed because its connection was gone before the
/// server took it.
fn stale(error: &hyper::Error) -> bool {
    if error.is_canceled() || error.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
            );
        }
        source = cause.source();
    }
    false
}

/// Opens a polling session: the handshake GET, whose payload starts with
/// the open packet.
pub(crate) async fn open(
    config: &TransportConfig,
) -> Result<(PollingLink, OpenInfo), ConnectError> {
    let url = polling_url(&config.url, None);
    let mut get = connect(config).await?;
    let exchange = Exchange::new(config, &url);
    let request = exchange.request(Method::GET, Bytes::new());
    let response = get.sender.send_request(request);
    let body = read_body(response, url.clone(), config.cookies.clone())
        .await
        .map_err(|failure| match failure {
            Failure::Stale => ConnectError::HandshakeClosed,
            Failure::Link(LinkError::Refused(error)) => ConnectError::Protocol(error),
            Failure::Link(LinkError::Failed(error)) => error,
        })?;
    let text = std::str::from_utf8(&body).map_err(|_| ConnectError::NoEngineIo {
        url: redacted(&url),
        detail: "the handshake answer is not text".into(),
    })?;
    let mut packets = payload::decode(text);
    let info = match packets.next() {
        Some(Ok(PayloadPacket::Text(open))) => match EnginePacket::decode(open) {
            Ok(EnginePacket::Open(info)) => info,
            Ok(_) | Err(_) => return Err(no_open_packet(&url)),
        },
        _ => return Err(no_open_packet(&url)),
    };
    let mut received = VecDeque::new();
    for packet in packets {
        received.push_back(received_packet(packet.map_err(ConnectError::Protocol)?));
    }
    let session = polling_url(&config.url, Some(&info.sid));
    let post = connect(config).await?;
    let link = PollingLink {
        exchange: Exchange::new(config, &session),
        url: session,
        max_payload: info.max_payload,
        get,
        post,
        received,
        polling: None,
        outgoing: VecDeque::new(),
        outgoing_bytes: 0,
        posting: None,
        post_retry_used: false,
        closed: false,
        paused: false,
        get_retried: false,
        post_retry: None,
        config: config.clone(),
        redialing: [None, None],
    };
    Ok((link, info))
}

/// The polling URL of a WebSocket-form engine URL, for session `sid`.
fn polling_url(engine: &Url, sid: Option<&str>) -> Url {
    let mut url = engine.clone();
    let scheme = if engine.scheme() == "wss" {
        "https"
    } else {
        "http"
    };
    // Both schemes are "special", so the change cannot fail.
    let _ = url.set_scheme(scheme);
    let pairs: Vec<(String, String)> = engine
        .query_pairs()
        .map(|(key, value)| match &*key {
            "transport" => (key.into_owned(), "polling".to_owned()),
            _ => (key.into_owned(), value.into_owned()),
        })
        .collect();
    {
        let mut query = url.query_pairs_mut();
        query.clear().extend_pairs(pairs);
        if let Some(sid) = sid {
            query.append_pair("sid", sid);
        }
    }
    url
}

fn no_open_packet(url: &Url) -> ConnectError {
    ConnectError::NoEngineIo {
        url: redacted(url),
        detail: "the handshake answer holds no Engine.IO open packet".into(),
    }
}

/// One kept-alive HTTP/1.1 connection to the server.
struct HttpConnection {
    sender: SendRequest<Full<Bytes>>,
    /// Its IO task: aborted with the link, so that the server sees the
    /// connection close at once, as it would a WebSocket's.
    io: tokio::task::AbortHandle,
}

impl Drop for HttpConnection {
    fn drop(&mut self) {
        self.io.abort();
    }
}

async fn connect(config: &TransportConfig) -> Result<HttpConnection, ConnectError> {
    let stream = stream::connect(&config.url, config.tls.as_ref(), &config.dialer)
        .await
        .map_err(|error| ConnectError::Transport(Arc::new(error)))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(transport_error)?;
    let io = tokio::spawn(async move {
        let _ = connection.await;
    })
    .abort_handle();
    Ok(HttpConnection { sender, io })
}

/// What every request of a session carries.
struct Exchange {
    url: Url,
    uri: Uri,
    host: HeaderValue,
    headers: Vec<(
        tokio_tungstenite::tungstenite::http::HeaderName,
        HeaderValue,
    )>,
    cookies: Option<Arc<CookieJar>>,
    /// Adds a `t` parameter unique to each request (`timestamp_requests`).
    timestamped: bool,
}

impl Exchange {
    fn new(config: &TransportConfig, url: &Url) -> Self {
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

    fn request(&self, method: Method, body: Bytes) -> Request<Full<Bytes>> {
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
        if method == Method::POST {
            headers.insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain;charset=UTF-8"),
            );
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        if let Some(cookie) = self.cookies.as_ref().and_then(|jar| jar.header(&self.url)) {
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

/// A polling session.
pub(crate) struct PollingLink {
    exchange: Exchange,
    url: Url,
    max_payload: u64,
    /// The connection of the long GETs.
    get: HttpConnection,
    /// The connection of the POSTs.
    post: HttpConnection,
    /// Packets of the last payload not handed on yet.
    received: VecDeque<Received>,
    /// The GET in flight.
    polling: Option<BoxedBody>,
    /// Packets to send, in order.
    outgoing: VecDeque<String>,
    outgoing_bytes: usize,
    /// The POST in flight, and its body.
    posting: Option<(BoxedBody, Bytes)>,
    /// The POST in flight is a second try.
    post_retry_used: bool,
    /// The server closed the session, or the client did.
    closed: bool,
    /// Polling stops for an upgrade: no new GET is sent.
    paused: bool,
    /// The GET to send is a second try: a stale connection ate the first.
    get_retried: bool,
    /// A body to post again, once, on a new connection: a stale connection
    /// ate the first try.
    post_retry: Option<Bytes>,
    /// How to open a connection again: a server closes kept-alive
    /// connections that stay idle (Node after 5 s), which is no reason to
    /// end the session.
    config: TransportConfig,
    /// A new connection being opened, for the GETs and for the POSTs.
    redialing: [Option<Redial>; 2],
}

type Redial = Pin<Box<dyn Future<Output = Result<HttpConnection, ConnectError>> + Send>>;

/// Which of the session's two connections.
#[derive(Clone, Copy)]
enum Role {
    Get = 0,
    Post = 1,
}

impl PollingLink {
    /// Stops sending GETs: the one in flight, if any, is the last.
    pub(crate) fn pause(&mut self) {
        self.paused = true;
    }

    /// Whether nothing more will come from the server: paused, no GET in
    /// flight, and every received packet handed on.
    pub(crate) fn receive_drained(&self) -> bool {
        self.paused && self.polling.is_none() && self.received.is_empty()
    }

    fn connection(&mut self, role: Role) -> &mut HttpConnection {
        match role {
            Role::Get => &mut self.get,
            Role::Post => &mut self.post,
        }
    }

    /// Ready when the connection of `role` can take a request, opening it
    /// again if the server closed it.
    fn poll_connection(&mut self, role: Role, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        loop {
            if let Some(redial) = &mut self.redialing[role as usize] {
                let connection = ready!(redial.as_mut().poll(cx));
                self.redialing[role as usize] = None;
                *self.connection(role) = connection.map_err(LinkError::Failed)?;
            }
            let closed = {
                let sender = &mut self.connection(role).sender;
                if sender.is_closed() {
                    true
                } else {
                    match ready!(sender.poll_ready(cx)) {
                        Ok(()) => return Poll::Ready(Ok(())),
                        Err(error) if error.is_closed() || error.is_canceled() => true,
                        Err(error) => return Poll::Ready(Err(transport_failure(error))),
                    }
                }
            };
            if closed {
                tracing::debug!("the server closed an idle polling connection: opening another");
                let config = self.config.clone();
                self.redialing[role as usize] =
                    Some(Box::pin(async move { connect(&config).await }));
            }
        }
    }

    /// Opens the connection of `role` again before its next request.
    fn redial(&mut self, role: Role) {
        tracing::debug!(
            "a polling request met a connection the server had closed: sending it again"
        );
        let config = self.config.clone();
        self.redialing[role as usize] = Some(Box::pin(async move { connect(&config).await }));
    }

    fn send(&mut self, role: Role, method: Method, body: Bytes) -> BoxedBody {
        let request = self.exchange.request(method, body);
        let response = self.connection(role).sender.send_request(request);
        Box::pin(read_body(
            response,
            self.url.clone(),
            self.exchange.cookies.clone(),
        ))
    }

    fn take_payload(&mut self, body: &[u8]) -> Result<(), LinkError> {
        let text = std::str::from_utf8(body).map_err(|_| {
            LinkError::Refused(ProtocolError::InvalidPayload("a payload that is not UTF-8"))
        })?;
        for packet in payload::decode(text) {
            let packet = received_packet(packet.map_err(LinkError::Refused)?);
            self.received.push_back(packet);
        }
        Ok(())
    }
}

fn received_packet(packet: PayloadPacket<'_>) -> Received {
    match packet {
        PayloadPacket::Text(text) => Received::Text(Utf8Bytes::from(text.to_owned())),
        PayloadPacket::Binary(data) => Received::Binary(data),
    }
}

impl Link for PollingLink {
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Received, LinkError>>> {
        loop {
            if let Some(packet) = self.received.pop_front() {
                return Poll::Ready(Some(Ok(packet)));
            }
            if self.closed {
                return Poll::Ready(None);
            }
            if self.polling.is_none() && self.paused {
                return Poll::Pending;
            }
            if self.polling.is_none() {
                if let Err(error) = ready!(self.poll_connection(Role::Get, cx)) {
                    return Poll::Ready(Some(Err(error)));
                }
                self.polling = Some(self.send(Role::Get, Method::GET, Bytes::new()));
            }
            let Some(polling) = &mut self.polling else {
                continue;
            };
            let body = ready!(polling.as_mut().poll(cx));
            self.polling = None;
            let body = match body {
                Err(Failure::Stale) if !self.get_retried => {
                    self.get_retried = true;
                    self.redial(Role::Get);
                    continue;
                }
                Err(Failure::Stale) => Err(stale_failure()),
                Err(Failure::Link(error)) => Err(error),
                Ok(body) => Ok(body),
            };
            self.get_retried = false;
            if let Err(error) = body.and_then(|body| self.take_payload(&body)) {
                return Poll::Ready(Some(Err(error)));
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if self.outgoing_bytes >= WRITE_BACKLOG {
            ready!(self.poll_flush(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, frame: Frame) -> Result<(), LinkError> {
        let packet = payload::encode_frame(frame);
        self.outgoing_bytes += packet.len();
        self.outgoing.push_back(packet);
        Ok(())
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        loop {
            if let Some((posting, body)) = &mut self.posting {
                let sent = ready!(posting.as_mut().poll(cx));
                let body = body.clone();
                let retried = self.post_retry_used;
                self.posting = None;
                match sent {
                    Ok(_) => self.post_retry_used = false,
                    Err(Failure::Stale) if !retried => {
                        self.redial(Role::Post);
                        self.post_retry = Some(body);
                    }
                    Err(Failure::Stale) => return Poll::Ready(Err(stale_failure())),
                    Err(Failure::Link(error)) => return Poll::Ready(Err(error)),
                }
            }
            if self.outgoing.is_empty() && self.post_retry.is_none() {
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_connection(Role::Post, cx))?;
            let body = match self.post_retry.take() {
                Some(body) => {
                    self.post_retry_used = true;
                    body
                }
                None => {
                    let body = payload::take_body(&mut self.outgoing, self.max_payload);
                    self.outgoing_bytes = self.outgoing.iter().map(String::len).sum();
                    Bytes::from(body)
                }
            };
            let sending = self.send(Role::Post, Method::POST, body.clone());
            self.posting = Some((sending, body));
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if !self.closed {
            self.closed = true;
            self.polling = None;
            self.outgoing.push_back("1".into());
        }
        self.poll_flush(cx)
    }
}

/// The body of a response, when its status is 200.
async fn read_body(
    response: impl Future<Output = Result<hyper::Response<hyper::body::Incoming>, hyper::Error>>,
    url: Url,
    cookies: Option<Arc<CookieJar>>,
) -> Result<Bytes, Failure> {
    let response = response.await.map_err(|error| {
        if stale(&error) {
            Failure::Stale
        } else {
            Failure::Link(transport_failure(error))
        }
    })?;
    if let Some(jar) = &cookies {
        jar.store(
            &url,
            response.headers().get_all(hyper::header::SET_COOKIE).iter(),
        );
    }
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_MESSAGE_BYTES)
        .collect()
        .await
        .map_err(
            |error| match error.downcast::<http_body_util::LengthLimitError>() {
                Ok(_) => LinkError::Refused(ProtocolError::MessageTooLarge {
                    max: MAX_MESSAGE_BYTES,
                }),
                Err(error) => LinkError::Failed(ConnectError::Transport(Arc::new(WsError::Io(
                    io::Error::other(error),
                )))),
            },
        )?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(Failure::Link(LinkError::Failed(http_refused(
            &url,
            status.as_u16(),
            &body,
        ))));
    }
    Ok(body)
}

fn transport_error(error: hyper::Error) -> ConnectError {
    ConnectError::Transport(Arc::new(WsError::Io(io::Error::other(error))))
}

fn transport_failure(error: hyper::Error) -> LinkError {
    LinkError::Failed(transport_error(error))
}

/// A request that met a closed connection twice in a row.
fn stale_failure() -> LinkError {
    LinkError::Failed(ConnectError::Transport(Arc::new(WsError::Io(
        io::Error::new(
            io::ErrorKind::ConnectionReset,
            "the server closed the polling connection twice in a row",
        ),
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn the_polling_url_of_an_engine_url() {
        let engine =
            Url::parse("wss://h.test/socket.io/?token=x&EIO=4&transport=websocket").unwrap();
        assert_eq!(
            polling_url(&engine, None).as_str(),
            "https://h.test/socket.io/?token=x&EIO=4&transport=polling"
        );
        assert_eq!(
            polling_url(&engine, Some("abc")).as_str(),
            "https://h.test/socket.io/?token=x&EIO=4&transport=polling&sid=abc"
        );
    }
}
