//! The load server over HTTP long-polling (Engine.IO v4), on a listener of
//! its own beside the WebSocket ones: the same modes (`blast`, `sink`), the
//! same frames, batched into payloads of up to 1 MB as a server answers a
//! long GET. Just enough of the protocol for the benchmark: one namespace,
//! no pings, no upgrade.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::server::CONNECT_REPLY;

/// The most bytes one answer to a GET carries.
const PAYLOAD_BYTES: usize = 1 << 20;

/// What the polling server shares between its connections.
pub struct Polling {
    blast: Arc<[Utf8Bytes]>,
    reports: mpsc::UnboundedSender<Instant>,
    sessions: Mutex<HashMap<u64, Arc<Session>>>,
    next_sid: AtomicU64,
}

struct Session {
    blast: bool,
    n: usize,
    /// Packets to send, and blast frames not sent yet (`next..n`).
    out: Mutex<Outgoing>,
    ready: Notify,
    received: AtomicU64,
}

#[derive(Default)]
struct Outgoing {
    packets: VecDeque<String>,
    blasting: Option<std::ops::Range<usize>>,
}

impl Polling {
    pub fn new(blast: Arc<[Utf8Bytes]>, reports: mpsc::UnboundedSender<Instant>) -> Arc<Self> {
        Arc::new(Polling {
            blast,
            reports,
            sessions: Mutex::new(HashMap::new()),
            next_sid: AtomicU64::new(1),
        })
    }

    pub async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let polling = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let polling = polling.clone();
                    async move { Ok::<_, Infallible>(polling.handle(request).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let query = request.uri().query().unwrap_or_default().to_owned();
        let param = |name: &str| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_owned())
        };
        let sid = param("sid").and_then(|sid| sid.parse::<u64>().ok());
        let method = request.method().clone();
        let Some(sid) = sid else {
            return self.open(param("mode").as_deref() == Some("blast"), param("n"));
        };
        let Some(session) = self.sessions.lock().unwrap().get(&sid).cloned() else {
            return text(r#"{"code":1,"message":"Session ID unknown"}"#.into());
        };
        if method == Method::POST {
            let body = request.into_body().collect().await.map(|b| b.to_bytes());
            let body = body.unwrap_or_default();
            self.post(&session, &String::from_utf8_lossy(&body));
            return text("ok".into());
        }
        text(self.poll(&session).await)
    }

    fn open(&self, blast: bool, n: Option<String>) -> Response<Full<Bytes>> {
        let sid = self.next_sid.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(Session {
            blast,
            n: n.and_then(|n| n.parse().ok()).unwrap_or(0),
            out: Mutex::new(Outgoing::default()),
            ready: Notify::new(),
            received: AtomicU64::new(0),
        });
        self.sessions.lock().unwrap().insert(sid, session);
        text(format!(
            r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
        ))
    }

    fn post(&self, session: &Session, body: &str) {
        for packet in body.split('\x1e') {
            if packet.starts_with("40") {
                session
                    .out
                    .lock()
                    .unwrap()
                    .packets
                    .push_back(CONNECT_REPLY.to_owned());
                session.ready.notify_one();
            } else if packet.starts_with(r#"42["go""#) && session.blast {
                assert!(
                    session.n <= self.blast.len(),
                    "blast of {} asked",
                    session.n
                );
                session.out.lock().unwrap().blasting = Some(0..session.n);
                session.ready.notify_one();
            } else if packet.starts_with("42") && !session.blast {
                let count = session.received.fetch_add(1, Ordering::Relaxed) + 1;
                if count == session.n as u64 {
                    let _ = self.reports.send(Instant::now());
                }
            }
        }
    }

    /// Waits until something is to be sent, then sends up to a payload.
    async fn poll(&self, session: &Session) -> String {
        loop {
            {
                let mut out = session.out.lock().unwrap();
                let mut body = String::new();
                while let Some(packet) = out.packets.pop_front() {
                    push(&mut body, &packet);
                }
                if let Some(range) = &mut out.blasting {
                    while body.len() < PAYLOAD_BYTES {
                        let Some(i) = range.next() else {
                            break;
                        };
                        push(&mut body, self.blast[i].as_str());
                    }
                    if range.start >= range.end {
                        out.blasting = None;
                    }
                }
                if !body.is_empty() {
                    return body;
                }
            }
            session.ready.notified().await;
        }
    }
}

fn push(body: &mut String, packet: &str) {
    if !body.is_empty() {
        body.push('\x1e');
    }
    body.push_str(packet);
}

fn text(body: String) -> Response<Full<Bytes>> {
    Response::new(Full::new(Bytes::from(body)))
}
