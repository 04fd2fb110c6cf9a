//! Reconnection against the real server, with link faults from the TCP proxy.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::client::{connected, next_connect, next_disconnect, next_event, wait_event};
use common::{ev, within, Proxy, ServerOptions, TestServer, TIMEOUT};
use serde_json::{json, Value};
use sioclient::{AckError, ClientBuilder, DisconnectReason, EmitError, SocketEvent, Transport};

/// Fast reconnection, so tests do not wait on the default one-second delay.
/// WebSocket alone: these tests count the proxy's connections, one per attempt.
fn fast(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .transports([Transport::WebSocket])
        .reconnection_delay(Duration::from_millis(50))
        .reconnection_delay_max(Duration::from_millis(200))
}

fn is_connect(event: &SocketEvent) -> bool {
    matches!(event, SocketEvent::Connect { .. })
}

#[tokio::test]
async fn engine_close_reconnects_by_itself_and_events_flow_again() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = connected(fast(&server.url())).await;
    let first_id = socket.id().unwrap();
    let mut events = socket.events();
    socket.io().engine().close();
    assert_eq!(
        next_disconnect(&mut events).await,
        DisconnectReason::ForcedClose
    );
    let mut seen = Vec::new();
    loop {
        let event = wait_event(&mut events, "reconnect", |_| true).await;
        let done = is_connect(&event);
        seen.push(format!("{event:?}"));
        if done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            "ReconnectAttempt(1)",
            "Reconnect(1)",
            "Connect { recovered: false }"
        ]
    );
    assert!(socket.connected());
    assert_ne!(socket.id().unwrap(), first_id);
    let n: u32 = socket.emit_with_ack("echo", 1).await.unwrap();
    assert_eq!(n, 1);
    socket.emit("multi", ()).await.unwrap();
    next_event(&mut events, "multi").await;
}

#[tokio::test]
async fn a_server_side_disconnect_is_final() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = connected(fast(&server.url())).await;
    let mut events = socket.events();
    socket.emit("disconnect-me", ()).await.unwrap();
    assert_eq!(
        next_disconnect(&mut events).await,
        DisconnectReason::IoServerDisconnect
    );
    assert!(!socket.connected());
    // That nobody comes back is shown on the paused clock (src/driver/tests.rs).
    assert_eq!(server.count(ev("connection")), 1);
    assert!(!socket.connected());
    let emitted = socket.volatile().emit("echo", 1).await;
    assert!(
        matches!(emitted, Err(EmitError::VolatileDropped)),
        "{emitted:?}"
    );
}

#[tokio::test]
async fn attempts_are_numbered_and_reconnect_failed_ends_them() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(fast(&proxy.url()).reconnection_attempts(Some(3))).await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    let mut seen = Vec::new();
    loop {
        let event = wait_event(&mut events, "reconnect_failed", |_| true).await;
        match event {
            SocketEvent::ReconnectFailed => break,
            SocketEvent::ReconnectAttempt(n) => seen.push(n),
            _ => {}
        }
    }
    assert_eq!(seen, [1, 2, 3]);
    // That no attempt follows is shown on the paused clock (src/driver/tests.rs).
    assert!(!socket.connected());
}

#[tokio::test]
async fn delays_grow_and_stay_under_delay_max() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    let max = Duration::from_millis(400);
    let socket = connected(
        ClientBuilder::new(proxy.url())
            .transports([Transport::WebSocket])
            .reconnection_delay(Duration::from_millis(50))
            .reconnection_delay_max(max)
            .randomization_factor(0.0)
            .reconnection_attempts(Some(6)),
    )
    .await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    wait_event(&mut events, "reconnect_failed", |e| {
        matches!(e, SocketEvent::ReconnectFailed)
    })
    .await;
    let times = proxy.accepted_times();
    // The first accept is the original connection; the rest are the 6 attempts.
    let attempts = &times[1..];
    assert_eq!(attempts.len(), 6, "{times:?}");
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1] - w[0]).collect();
    // Loose checks only: exact bounds are unit-tested in the delay policy.
    assert!(gaps.first() < gaps.last(), "delays did not grow: {gaps:?}");
    for gap in &gaps {
        assert!(*gap < max * 4, "a delay far above delay_max: {gaps:?}");
    }
}

#[tokio::test]
async fn a_black_holed_link_ends_in_ping_timeout_and_reconnects() {
    let server = TestServer::start(ServerOptions::default().ping(200, 200)).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(fast(&proxy.url())).await;
    let mut events = socket.events();
    proxy.set_blackhole(true);
    assert_eq!(
        next_disconnect(&mut events).await,
        DisconnectReason::PingTimeout
    );
    proxy.set_blackhole(false);
    proxy.drop_all();
    next_connect(&mut events).await;
    let n: u32 = socket.emit_with_ack("echo", 2).await.unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn emits_while_disconnected_arrive_in_order_after_reconnect() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(fast(&proxy.url()).auth(json!({"client": "ordered"}))).await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    next_disconnect(&mut events).await;
    for n in 1..=50 {
        socket.emit("seq", n).await.unwrap();
    }
    // An ack request queued offline is sent after reconnect too.
    let pending = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<u32, _>("echo", 51).await })
    };
    proxy.set_refuse(false);
    next_connect(&mut events).await;
    socket.emit("seq", 52).await.unwrap();
    assert_eq!(pending.await.unwrap().unwrap(), 51);
    let report: Vec<u32> = socket.emit_with_ack("seq-report", ()).await.unwrap();
    let expected: Vec<u32> = (1..=50).chain([52]).collect();
    assert_eq!(report, expected);
}

#[tokio::test]
async fn a_full_offline_buffer_hands_the_event_back() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(fast(&proxy.url()).offline_buffer(2)).await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    next_disconnect(&mut events).await;
    socket.emit("echo", 1).await.unwrap();
    socket.emit("echo", 2).await.unwrap();
    match socket.emit("echo", ("three", 3)).await {
        Err(EmitError::BufferFull { capacity, unsent }) => {
            assert_eq!(capacity, 2);
            assert_eq!(unsent.name, "echo");
            assert_eq!(unsent.args, [json!("three"), json!(3)]);
        }
        other => panic!("expected BufferFull, got {other:?}"),
    }
    assert!(matches!(
        socket.volatile().emit("echo", 4).await,
        Err(EmitError::VolatileDropped)
    ));
}

#[tokio::test]
async fn an_ack_in_flight_fails_when_the_link_drops() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = connected(fast(&server.url())).await;
    let pending = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<Value, _>("never-ack", ()).await })
    };
    server.wait_for(ev("never-ack"), TIMEOUT).await;
    socket.io().engine().close();
    let result = within(TIMEOUT, "ack failure", pending).await.unwrap();
    assert!(matches!(result, Err(AckError::Disconnected)), "{result:?}");
}

#[tokio::test]
async fn a_failed_first_connection_is_retried() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    proxy.set_refuse(true);
    let connecting = tokio::spawn(fast(&proxy.url()).connect());
    within(
        TIMEOUT,
        "two refused attempts",
        proxy.wait_until(|p| p.accepted() >= 2),
    )
    .await;
    proxy.set_refuse(false);
    let socket = within(TIMEOUT, "connect", connecting)
        .await
        .unwrap()
        .unwrap();
    assert!(socket.connected());
}

#[tokio::test]
async fn a_failed_first_connection_gives_up_after_the_attempts() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    proxy.set_refuse(true);
    let result = within(
        TIMEOUT,
        "connect",
        fast(&proxy.url()).reconnection_attempts(Some(2)).connect(),
    )
    .await;
    assert!(result.is_err(), "{result:?}");
    assert_eq!(proxy.accepted(), 3, "the first try and two attempts");
}

/// A first connect to a port nobody listens on settles with the refusal
/// once its window ends, with the default delays.
#[tokio::test]
async fn a_first_connect_to_a_closed_port_settles_with_the_refusal() {
    let url = format!("http://127.0.0.1:{}", common::daemon::free_port());
    let started = std::time::Instant::now();
    let error = within(
        TIMEOUT,
        "connect() to settle",
        ClientBuilder::new(&url)
            .first_connect_window(Some(Duration::from_secs(4)))
            .connect(),
    )
    .await
    .expect_err("nobody listens");
    match &error {
        sioclient::ConnectError::Transport(transport) => assert_eq!(
            transport.io_error_kind(),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{error}"
        ),
        other => panic!("expected the refusal, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The bundled server started once the connect has failed an attempt is
/// reached within the default window.
#[tokio::test]
async fn a_server_that_comes_up_late_is_reached_within_the_window() {
    let port = common::daemon::free_port();
    let url = format!("http://127.0.0.1:{port}");
    // Something that is not the server yet holds the port: the first attempt
    // reaches it and fails.
    let early = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the free port");
    let connecting = tokio::spawn(ClientBuilder::new(&url).connect());
    let (attempt, _) = within(TIMEOUT, "the first attempt", early.accept())
        .await
        .expect("accept");
    drop((attempt, early));
    let _server = TestServer::start(ServerOptions::new().port(port)).await;
    let socket = within(TIMEOUT, "connect", connecting)
        .await
        .unwrap()
        .expect("reached once up");
    assert!(socket.connected());
}

#[tokio::test]
async fn two_namespaces_share_one_connection() {
    let server = TestServer::start(ServerOptions::default()).await;
    let root = connected(fast(&server.url())).await;
    let admin = within(TIMEOUT, "admin", root.io().socket("/admin"))
        .await
        .unwrap();
    let root_me: Value = root.emit_with_ack("whoami", ()).await.unwrap();
    let admin_me: Value = admin.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(admin_me["nsp"], "/admin");
    assert_eq!(root_me["engine"], admin_me["engine"]);
    assert_eq!(server.count(ev("engine_connection")), 1);

    admin.disconnect().await;
    server
        .wait_for(|l| l["ev"] == "disconnect" && l["nsp"] == "/admin", TIMEOUT)
        .await;
    let n: u32 = root.emit_with_ack("echo", 4).await.unwrap();
    assert_eq!(n, 4);
    assert!(root.connected());
    assert!(!admin.connected());
    assert_eq!(server.count(ev("engine_connection")), 1);
}

#[tokio::test]
async fn the_auth_closure_runs_again_on_reconnect() {
    let server = TestServer::start(ServerOptions::default()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let socket = connected(fast(&server.url()).auth_with(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        json!({ "token": format!("token-{n}") })
    }))
    .await;
    reconnect_with_the_second_token(&socket, &calls).await;
    let first = server.wait_for(ev("connection"), TIMEOUT).await;
    assert_eq!(first["auth"], json!({"token": "token-1"}));
}

/// Drops the link; the reconnect runs the auth callback a second time and
/// connects with `token-2`.
async fn reconnect_with_the_second_token(socket: &sioclient::Socket, calls: &AtomicU32) {
    let mut events = socket.events();
    socket.io().engine().close();
    next_connect(&mut events).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let me: Value = socket.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(me["auth"], json!({"token": "token-2"}));
}

#[tokio::test]
async fn an_async_auth_callback_refreshes_the_token_on_every_connect() {
    let server = TestServer::start(ServerOptions::default()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let socket = connected(fast(&server.url()).auth_with(move || {
        let counter = counter.clone();
        async move {
            // A token service that takes its time.
            tokio::time::sleep(Duration::from_millis(30)).await;
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok::<_, std::io::Error>(json!({ "token": format!("token-{n}") }))
        }
    }))
    .await;
    reconnect_with_the_second_token(&socket, &calls).await;
}

#[tokio::test]
async fn a_failing_async_auth_callback_is_a_typed_error_and_is_retried() {
    let server = TestServer::start(ServerOptions::default()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = errors.clone();
    let socket = connected(
        fast(&server.url())
            .auth_with(move || {
                let counter = counter.clone();
                async move {
                    match counter.fetch_add(1, Ordering::SeqCst) {
                        0 => Err(std::io::Error::other("the token service is down")),
                        _ => Ok(json!({ "token": "late" })),
                    }
                }
            })
            .on_lifecycle(move |event, _socket| {
                let seen = seen.clone();
                async move {
                    if let SocketEvent::ConnectError(error) = event {
                        seen.lock().unwrap().push(error);
                    }
                }
            }),
    )
    .await;
    let me: Value = socket.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(me["auth"], json!({"token": "late"}));
    let errors = errors.lock().unwrap().clone();
    let [sioclient::ConnectError::AuthFailed(cause)] = errors.as_slice() else {
        panic!("{errors:?}");
    };
    assert_eq!(cause.to_string(), "the token service is down");

    // Always failing, with one attempt: connect() gives the cause.
    let error = within(
        TIMEOUT,
        "connect",
        fast(&server.url())
            .reconnection(false)
            .auth_with(|| async { Err::<Value, _>("no token") })
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, sioclient::ConnectError::AuthFailed(cause) if cause.to_string() == "no token"),
        "{error:?}"
    );
}
