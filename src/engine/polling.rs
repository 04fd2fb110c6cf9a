//! Engine.IO v4 over HTTP long-polling: the handshake by GET, then one long
//! GET to receive and at most one POST to send at a time, each on an
//! HTTP/1.1 connection of its own that is kept alive. Never two GETs: the
//! server answers the second with 400 and closes the whole session.

mod http;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use hyper::Method;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use url::Url;

use crate::codec::engine::{EnginePacket, OpenInfo};
use crate::codec::payload::{self, PayloadPacket};
use crate::codec::Frame;
use crate::engine::config::{redacted, TransportConfig};
use crate::engine::link::{Link, LinkError, LinkMessage};
use crate::error::protocol::ProtocolError;
use crate::error::ConnectError;
use http::{connect, read_body, transport_failure, BoxedBody, Exchange, HttpConnection};

/// How long a kept-alive connection may stay idle before a request opens
/// another: servers close idle connections (Node after 5 s), and a request
/// that meets a closed one cannot be told apart from one the server took.
const IDLE_REDIAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Bytes of queued packets past which writing waits for the POST in flight.
const WRITE_BACKLOG: usize = 1 << 20;

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
        .map_err(|error| match error {
            LinkError::Refused(error) => ConnectError::Protocol(error),
            LinkError::Failed(error) => error,
        })?;
    let text = std::str::from_utf8(&body).map_err(|_| ConnectError::NoEngineIo {
        url: redacted(&url),
        detail: "the handshake answer is not text".into(),
    })?;
    if payload::is_engine_io_v3(text) {
        tracing::warn!("the handshake answer is Engine.IO v3: a socket.io 2.x server");
        return Err(ConnectError::UnsupportedServer);
    }
    let mut packets = payload::decode(text);
    let (info, max_post_packets) = match packets.next() {
        Some(Ok(PayloadPacket::Text(open))) => match EnginePacket::decode(open) {
            Ok(EnginePacket::Open(info)) => (info, payload::post_packet_limit(open)),
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
        max_post_packets,
        get,
        post,
        received,
        polling: None,
        outgoing: VecDeque::new(),
        outgoing_bytes: 0,
        posting: None,
        closed: false,
        paused: false,
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

/// A polling session.
pub(crate) struct PollingLink {
    exchange: Exchange,
    url: Url,
    max_payload: u64,
    /// The most packets a POST carries to this server.
    max_post_packets: usize,
    /// The connection of the long GETs.
    get: HttpConnection,
    /// The connection of the POSTs.
    post: HttpConnection,
    /// Packets of the last payload not handed on yet.
    received: VecDeque<LinkMessage>,
    /// The GET in flight.
    polling: Option<BoxedBody>,
    /// Packets to send, in order.
    outgoing: VecDeque<String>,
    outgoing_bytes: usize,
    /// The POST in flight.
    posting: Option<BoxedBody>,
    /// The server closed the session, or the client did.
    closed: bool,
    /// Polling stops for an upgrade: no new GET is sent.
    paused: bool,
    /// How to open a connection again: a server closes kept-alive
    /// connections that stay idle (Node after 5 s), which is no reason to
    /// end the session. A request that fails is never sent again, since
    /// the server may have taken it: the link fails, and recovery follows.
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
                let connection = self.connection(role);
                let stale = connection
                    .idle_since
                    .is_some_and(|since| since.elapsed() >= IDLE_REDIAL);
                let sender = &mut connection.sender;
                if stale || sender.is_closed() {
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
                tracing::debug!(
                    "a polling connection was closed or idle too long: opening another"
                );
                let config = self.config.clone();
                self.redialing[role as usize] =
                    Some(Box::pin(async move { connect(&config).await }));
            }
        }
    }

    fn send(&mut self, role: Role, method: Method, body: Bytes) -> BoxedBody {
        let request = self.exchange.request(method, body);
        let connection = self.connection(role);
        connection.idle_since = None;
        let response = connection.sender.send_request(request);
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

fn received_packet(packet: PayloadPacket<'_>) -> LinkMessage {
    match packet {
        PayloadPacket::Text(text) => LinkMessage::Text(Utf8Bytes::from(text.to_owned())),
        PayloadPacket::Binary(data) => LinkMessage::Binary(data),
    }
}

impl Link for PollingLink {
    fn poll_receive(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<LinkMessage, LinkError>>> {
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
            self.get.idle_since = Some(std::time::Instant::now());
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
            if let Some(posting) = &mut self.posting {
                let sent = ready!(posting.as_mut().poll(cx));
                self.posting = None;
                self.post.idle_since = Some(std::time::Instant::now());
                sent?;
            }
            if self.outgoing.is_empty() {
                return Poll::Ready(Ok(()));
            }
            ready!(self.poll_connection(Role::Post, cx))?;
            let body =
                payload::take_body(&mut self.outgoing, self.max_payload, self.max_post_packets);
            self.outgoing_bytes = self.outgoing.iter().map(String::len).sum();
            self.posting = Some(self.send(Role::Post, Method::POST, Bytes::from(body)));
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

#[cfg(test)]
mod tests {
    use super::*;

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
