//! The driver against an in-process Engine.IO server over in-memory pipes,
//! on tokio's paused clock: reconnection delays, the attempt limit, the
//! heartbeat and at-least-once resends happen at exact instants, and
//! "nothing more happens" is checked an hour later in no time at all.

use std::io;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::*;
use crate::client::builder::ClientBuilder;
use crate::engine::stream::Dialer;
use crate::proto::event::{DisconnectReason, SocketEvent};
use crate::proto::reconnect::{ReconnectOptions, ReconnectPolicy};

#[path = "../../tests/support/engine_server.rs"]
mod engine_server;

use engine_server::Mode;

/// An open packet with a 1 s ping interval and a 0.5 s ping timeout.
const FAST_OPEN: &str =
    r#"0{"sid":"e","upgrades":[],"pingInterval":1000,"pingTimeout":500,"maxPayload":1000000}"#;

/// An in-memory server: each dial opens a pipe and serves its far end.
struct MemoryServer {
    /// When each dial happened, refused ones included.
    dials: Arc<Mutex<Vec<Instant>>>,
    /// Text frames the server received, with their instants.
    heard: mpsc::UnboundedReceiver<(Instant, String)>,
    dialer: Dialer,
}

impl MemoryServer {
    /// Accepts dial `n` (from 1) when `accept(n)`, and serves each
    /// connection with `open` and the mode `mode` makes; refuses the others.
    fn new(
        accept: fn(usize) -> bool,
        open: &'static str,
        mode: impl Fn() -> Mode + Send + Sync + 'static,
    ) -> Self {
        let dials = Arc::new(Mutex::new(Vec::new()));
        let (heard_tx, heard) = mpsc::unbounded_channel();
        let seen = dials.clone();
        let dial = move || -> io::Result<crate::engine::stream::Stream> {
            let mut dials = seen.lock().unwrap();
            dials.push(Instant::now());
            if !accept(dials.len()) {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            let (client, server) = tokio::io::duplex(64 * 1024);
            let mode = mode();
            let heard = heard_tx.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(server).await {
                    engine_server::serve(ws, open, mode, Some(heard)).await;
                }
            });
            Ok(Box::new(client))
        };
        MemoryServer {
            dials,
            heard,
            dialer: Dialer::Memory(Arc::new(dial)),
        }
    }

    /// A builder whose links reach this server, with exact delays: 1 s
    /// doubling up to 5 s, no jitter.
    fn client(&self) -> ClientBuilder {
        ClientBuilder::new("http://memory.test")
            .dialer(self.dialer.clone())
            .reconnection_delay(Duration::from_secs(1))
            .reconnection_delay_max(Duration::from_secs(5))
            .randomization_factor(0.0)
    }

    /// The dials so far, as offsets from `t0`.
    fn dials_since(&self, t0: Instant) -> Vec<Duration> {
        let dials = self.dials.lock().unwrap();
        dials.iter().map(|at| *at - t0).collect()
    }

    /// What the server heard so far, as offsets from `t0`.
    fn heard_since(&mut self, t0: Instant) -> Vec<(Duration, String)> {
        let mut heard = Vec::new();
        while let Ok((at, text)) = self.heard.try_recv() {
            heard.push((at - t0, text));
        }
        heard
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Waits for the first event that `pred` accepts; returns it and its instant.
async fn wait_for(
    events: &mut crate::client::socket::EventStream,
    pred: impl Fn(&SocketEvent) -> bool,
) -> (SocketEvent, Instant) {
    loop {
        let event = events.next().await.expect("the stream ended");
        if pred(&event) {
            return (event, Instant::now());
        }
    }
}

/// An hour passes; on the paused clock, in no time.
async fn an_hour_later() {
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

#[tokio::test(start_paused = true)]
async fn reconnect_delays_double_up_to_the_maximum() {
    let server = MemoryServer::new(|n| n > 4, engine_server::OPEN, || Mode::Idle);
    let t0 = Instant::now();
    let socket = server
        .client()
        .connect()
        .await
        .expect("the fifth dial connects");
    assert!(socket.connected());
    assert_eq!(
        server.dials_since(t0),
        [secs(0.0), secs(1.0), secs(3.0), secs(7.0), secs(12.0)]
    );
}

#[tokio::test(start_paused = true)]
async fn the_attempt_limit_ends_the_first_connect_and_nothing_follows() {
    let server = MemoryServer::new(|_| false, engine_server::OPEN, || Mode::Idle);
    let t0 = Instant::now();
    let error = server
        .client()
        .reconnection_attempts(Some(2))
        .connect()
        .await
        .expect_err("every dial is refused");
    match &error {
        ConnectError::ReconnectFailed {
            attempts: 2,
            last: Some(last),
        } => assert!(matches!(**last, ConnectError::Transport(_)), "{last:?}"),
        other => panic!("{other:?}"),
    }
    let dials = [secs(0.0), secs(1.0), secs(3.0)];
    assert_eq!(server.dials_since(t0), dials);
    an_hour_later().await;
    assert_eq!(server.dials_since(t0), dials, "no attempt after the limit");
}

#[tokio::test(start_paused = true)]
async fn a_first_connect_to_nothing_settles_when_its_window_ends() {
    let server = MemoryServer::new(|_| false, engine_server::OPEN, || Mode::Idle);
    let t0 = Instant::now();
    let error = server.client().connect().await.expect_err("refused");
    // The last attempt's cause, not a count of attempts.
    assert!(matches!(error, ConnectError::Transport(_)), "{error:?}");
    // The next delay (5 s) would start an attempt past the 30 s window.
    let dials = [0.0, 1.0, 3.0, 7.0, 12.0, 17.0, 22.0, 27.0].map(secs);
    assert_eq!(Instant::now() - t0, secs(27.0));
    assert_eq!(server.dials_since(t0), dials);
    an_hour_later().await;
    assert_eq!(server.dials_since(t0), dials, "no attempt after giving up");
}

#[tokio::test(start_paused = true)]
async fn no_attempt_runs_past_the_first_connect_window() {
    // The server opens the link and never answers the CONNECT.
    let server = MemoryServer::new(|_| true, engine_server::OPEN, || Mode::Mute);
    let t0 = Instant::now();
    let error = server.client().connect().await.expect_err("no answer");
    // 20 s for the first CONNECT, then 1 s of delay and what is left of
    // the window for the second.
    assert_eq!(Instant::now() - t0, secs(30.0));
    assert!(
        matches!(error, ConnectError::Timeout(t) if t == secs(9.0)),
        "{error:?}"
    );
    assert_eq!(server.dials_since(t0), [secs(0.0), secs(21.0)]);
}

#[tokio::test(start_paused = true)]
async fn without_a_window_a_first_connect_waits_for_the_server() {
    let server = MemoryServer::new(|_| false, engine_server::OPEN, || Mode::Idle);
    let connecting = server.client().first_connect_window(None).connect();
    let waited = tokio::time::timeout(Duration::from_secs(3600), connecting).await;
    assert!(waited.is_err(), "still trying an hour later");
    assert!(server.dials.lock().unwrap().len() > 700);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_is_left_at_the_ping_timeout_and_redialed_after_the_delay() {
    let server = MemoryServer::new(|_| true, FAST_OPEN, || Mode::Idle);
    let t0 = Instant::now();
    let socket = server.client().connect().await.unwrap();
    let mut events = socket.events();
    let (_, lost_at) = wait_for(&mut events, |e| {
        matches!(e, SocketEvent::Disconnect(DisconnectReason::PingTimeout))
    })
    .await;
    // Nothing came after the CONNECT reply: pingInterval + pingTimeout later.
    assert_eq!(lost_at - t0, secs(1.5));
    let (_, back_at) = wait_for(&mut events, |e| matches!(e, SocketEvent::Connect { .. })).await;
    assert_eq!(back_at - t0, secs(2.5));
    assert_eq!(server.dials_since(t0), [secs(0.0), secs(2.5)]);
}

#[tokio::test(start_paused = true)]
async fn an_unacknowledged_emit_is_sent_again_at_the_ack_timeout_with_a_fresh_id() {
    let mut server = MemoryServer::new(|_| true, engine_server::OPEN, || Mode::Ack { ignore: 1 });
    let socket = server
        .client()
        .retries(2)
        .ack_timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    let t0 = Instant::now();
    let reply: String = socket.emit_with_ack("x", 7).await.unwrap();
    assert_eq!(reply, "ok");
    assert_eq!(Instant::now() - t0, secs(1.0));
    let emits: Vec<(Duration, String)> = server
        .heard_since(t0)
        .into_iter()
        .filter(|(_, text)| text.starts_with("42"))
        .collect();
    assert_eq!(
        emits,
        [
            (secs(0.0), r#"420["x",7]"#.to_owned()),
            (secs(1.0), r#"421["x",7]"#.to_owned())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn no_try_of_an_at_least_once_emit_is_spent_while_disconnected() {
    let mut server = MemoryServer::new(|_| true, engine_server::OPEN, || Mode::Ack { ignore: 0 });
    let socket = server
        .client()
        .retries(1)
        .ack_timeout(Duration::from_secs(1))
        .connect()
        .await
        .unwrap();
    socket.disconnect().await;
    let t0 = Instant::now();
    let pending = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<String, _>("x", ()).await })
    };
    an_hour_later().await;
    assert!(server
        .heard_since(t0)
        .iter()
        .all(|(_, t)| !t.starts_with("42")));
    socket.connect().await.unwrap();
    assert_eq!(pending.await.unwrap().unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn a_server_side_disconnect_is_final() {
    let server = MemoryServer::new(|_| true, engine_server::OPEN, || Mode::Disconnect);
    let t0 = Instant::now();
    let (socket, mut events) = server.client().connect_with_events().await.unwrap();
    wait_for(&mut events, |e| {
        matches!(
            e,
            SocketEvent::Disconnect(DisconnectReason::IoServerDisconnect)
        )
    })
    .await;
    an_hour_later().await;
    assert!(!socket.connected());
    assert_eq!(server.dials_since(t0), [secs(0.0)], "nobody comes back");
}

#[tokio::test(start_paused = true)]
async fn disconnect_stops_every_further_attempt() {
    // The first dial connects to a silent server, left at the ping timeout;
    // every redial is refused.
    let server = MemoryServer::new(|n| n == 1, FAST_OPEN, || Mode::Idle);
    let t0 = Instant::now();
    let socket = server.client().connect().await.unwrap();
    let mut events = socket.events();
    wait_for(&mut events, |e| {
        matches!(e, SocketEvent::ReconnectAttempt(2))
    })
    .await;
    socket.disconnect().await;
    let dials = [secs(0.0), secs(2.5), secs(4.5)];
    assert_eq!(server.dials_since(t0), dials);
    an_hour_later().await;
    assert_eq!(
        server.dials_since(t0),
        dials,
        "no attempt after disconnect()"
    );
    assert!(!socket.connected());
}

/// The driver's future is what every idle connection keeps in memory:
/// large values (the WebSocket, the connect future, errors, timers of
/// rare states) must stay boxed or out of it.
#[test]
fn the_driver_future_stays_small() {
    let (transport, _) = crate::engine::options::EngineOptions::new("http://h:1".into())
        .build(Duration::from_secs(1))
        .unwrap();
    let config = DriverConfig {
        transport,
        connection: ConnectionOptions {
            strip_offsets: true,
            retries: 0,
            reconnect: ReconnectOptions {
                enabled: true,
                attempts: None,
                first_connect_window: Some(Duration::from_secs(30)),
                policy: ReconnectPolicy::default(),
            },
            parser: crate::Parser::Default,
        },
    };
    let (sink, commands) = queue::unbounded();
    let driver = Driver::new(config, commands, sink.downgrade());
    let run = driver.run();
    let size = std::mem::size_of_val(&run);
    // 1,120 since the connection queues updates for the handles (32 bytes),
    // which took more than that out of each namespace's entry.
    assert!(size <= 1130, "the driver future grew to {size} bytes");
}
