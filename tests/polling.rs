//! HTTP long-polling against the real Node server started with
//! `transports: ["polling"]`: what works over WebSocket works the same.

#![cfg(feature = "polling")]

mod common;

use bytes::Bytes;
use common::client::{connected, next_event, wait_event};
use common::parsers::{both_parsers, builder, options};
use common::{ServerOptions, TestServer, TIMEOUT};
use serde_json::json;
use sioclient::{ClientBuilder, Parser, Socket, SocketEvent, Transport};

fn polling(url: &str) -> ClientBuilder {
    ClientBuilder::new(url).transports([Transport::Polling])
}

fn polling_server() -> ServerOptions {
    ServerOptions::default().arg("--transports").arg("polling")
}

/// The server logged the socket's connection over polling; its line.
async fn opened_over_polling(server: &TestServer, socket: &Socket) -> serde_json::Value {
    let id = socket.id().expect("connected");
    let line = server
        .wait_for(
            |l| l["ev"] == "connection" && l["id"] == id.as_str(),
            TIMEOUT,
        )
        .await;
    assert_eq!(line["transport"], "polling", "{line}");
    line
}

/// The session opened over polling and is still on it.
async fn server_logs_polling(server: &TestServer, socket: &Socket) {
    let line = opened_over_polling(server, socket).await;
    let engine = socket.io().engine();
    assert_eq!(engine.transport(), Some(Transport::Polling));
    assert_eq!(engine.id().as_deref(), line["engine"].as_str());
}

#[tokio::test]
async fn emits_and_acks_both_ways_over_polling() {
    let server = TestServer::start(polling_server()).await;
    let socket = connected(polling(&server.url())).await;
    server_logs_polling(&server, &socket).await;
    let mut events = socket.events();

    socket.emit("echo", ("hello", 42)).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.args(), [json!("hello"), json!(42)]);

    let reply: (String, u32) = socket.emit_with_ack("echo", ("ack", 7)).await.unwrap();
    assert_eq!(reply, ("ack".to_owned(), 7));

    // The server asks for an ack; the answer goes back by POST.
    socket.on("server-ack", |event, _| async move {
        event.ack(&("from the client",)).unwrap();
    });
    socket.emit("ask-ack", "payload").await.unwrap();
    let confirmed = next_event(&mut events, "ack-confirmed").await;
    assert_eq!(confirmed.args(), [json!(["from the client"])]);

    // Many emits at once leave in few POSTs, in order.
    for i in 0..200 {
        socket.emit("seq", i).await.unwrap();
    }
    let report: Vec<u32> = socket.emit_with_ack("seq-report", ()).await.unwrap();
    assert_eq!(report, (0..200).collect::<Vec<_>>());
}

#[tokio::test]
async fn binary_both_ways_and_a_second_namespace_over_polling() {
    let server = TestServer::start(polling_server()).await;
    // With a cache-busting `t` on every request, which the server ignores.
    let socket = connected(polling(&server.url()).timestamp_requests(true)).await;
    let mut events = socket.events();
    let blob = Bytes::from_static(&[0, 1, 2, 254, 255]);
    socket.emit("echo", ("bin", &blob)).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.attachments(), std::slice::from_ref(&blob));
    let (name, back): (String, Bytes) = echo.decode().unwrap();
    assert_eq!((name.as_str(), back), ("bin", blob.clone()));

    let admin = socket.io().socket("/admin").await.unwrap();
    assert_eq!(admin.namespace(), "/admin");
    let n: u32 = admin.emit_with_ack("echo", 5).await.unwrap();
    assert_eq!(n, 5);
    let root: u32 = socket.emit_with_ack("echo", 6).await.unwrap();
    assert_eq!(root, 6);
}

#[tokio::test]
async fn recovers_after_engine_close_with_every_missed_event_once() {
    // A link that dies between two polls leaves the server no request to
    // see fail: it learns of it at its ping timeout, and only then can the
    // session be restored. So the server pings often, and the client comes
    // back after that.
    let server = TestServer::start(polling_server().recovery().ping(200, 200)).await;
    let socket = connected(
        polling(&server.url())
            .reconnection_delay(std::time::Duration::from_millis(1500))
            .reconnection_delay_max(std::time::Duration::from_millis(1500)),
    )
    .await;
    let id = socket.id().unwrap();
    let mut events = socket.events();
    socket
        .emit(
            "stream",
            json!({"count": 200, "interval_ms": 2, "binary": true}),
        )
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut closed = false;
    while seen.last() != Some(&200) {
        match wait_event(&mut events, "tick or connect", |_| true).await {
            SocketEvent::Connect { recovered } => assert!(recovered, "not recovered"),
            SocketEvent::Event(event) if event.name() == "tick" => {
                seen.push(event.args()[0].as_u64().unwrap());
                if seen.len() == 30 && !closed {
                    closed = true;
                    socket.io().engine().close();
                }
            }
            _ => {}
        }
    }
    assert!(closed);
    assert_eq!(seen, (1..=200).collect::<Vec<_>>());
    assert_eq!(socket.id().unwrap(), id);
    assert!(socket.recovered());
}

#[tokio::test]
async fn the_default_falls_back_to_polling_where_websocket_is_refused() {
    let server = TestServer::start(polling_server()).await;
    let socket = connected(ClientBuilder::new(server.url())).await;
    server_logs_polling(&server, &socket).await;
    let n: u32 = socket.emit_with_ack("echo", 3).await.unwrap();
    assert_eq!(n, 3);

    // Asked for WebSocket alone, the client reports the server's refusal.
    let error = ClientBuilder::new(server.url())
        .transports([Transport::WebSocket])
        .connect()
        .await
        .expect_err("the server accepts no WebSocket");
    assert!(
        matches!(
            &error,
            sioclient::ConnectError::HttpRefused { status: 400, .. }
        ),
        "{error}"
    );
}

both_parsers!(
    a_polling_session_upgrades_with_nothing_lost_across_it,
    |parser| {
        let server = TestServer::start(options(parser)).await;
        let socket = connected(
            builder(&server.url(), parser).transports([Transport::Polling, Transport::WebSocket]),
        )
        .await;
        // The upgrade may be done already.
        opened_over_polling(&server, &socket).await;
        let mut events = socket.events();
        socket
            .emit("stream", json!({"count": 300, "interval_ms": 1}))
            .await
            .unwrap();
        // Emits run across the upgrade too.
        for i in 0..300u32 {
            socket.emit("seq", i).await.unwrap();
            if i % 20 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        }
        let mut ticks = Vec::new();
        while ticks.last() != Some(&300) {
            let event = next_event(&mut events, "tick").await;
            ticks.push(event.args()[0].as_u64().unwrap());
        }
        assert_eq!(ticks, (1..=300).collect::<Vec<_>>());
        let id = socket.id().unwrap();
        server
            .wait_for(
                |l| l["ev"] == "upgrade" && l["id"] == id.as_str() && l["transport"] == "websocket",
                TIMEOUT,
            )
            .await;
        let report: Vec<u32> = socket.emit_with_ack("seq-report", ()).await.unwrap();
        assert_eq!(report, (0..300).collect::<Vec<_>>());
        assert_eq!(socket.io().engine().transport(), Some(Transport::WebSocket));
    }
);

/// Two nodes with the Redis Streams adapter behind HAProxy, which pins a
/// client to a node by a cookie it sets. Polling only: every request of the
/// session must reach the node that holds it.
#[tokio::test]
async fn sticky_sessions_behind_haproxy_need_the_cookie_jar() {
    use common::haproxy::HaProxy;
    use common::redis::RedisServer;

    let redis = RedisServer::start().await;
    // Pings often, so that a link that dies between two polls is noticed
    // before the client comes back (see the recovery test above).
    let options = polling_server()
        .arg("--cookie")
        .recovery()
        .ping(200, 200)
        .redis(redis.url());
    let node_a = TestServer::start(options.clone()).await;
    let node_b = TestServer::start(options).await;
    let balancer = HaProxy::start(&[node_a.addr(), node_b.addr()]).await;
    let fast = |url: &str| {
        polling(url)
            .reconnection_delay(std::time::Duration::from_millis(1500))
            .reconnection_delay_max(std::time::Duration::from_millis(1500))
    };

    // With the jar: events flow, the link drops, and the session recovers on
    // the node that held it, with every missed event once.
    let socket = connected(fast(&balancer.url())).await;
    let id = socket.id().unwrap();
    let connected_on = |node: &TestServer| {
        node.lines()
            .iter()
            .any(|l| l["ev"] == "connection" && l["id"] == id.as_str())
    };
    let (home, other) = if connected_on(&node_a) {
        (&node_a, &node_b)
    } else {
        (&node_b, &node_a)
    };
    assert!(connected_on(home));
    let mut events = socket.events();
    socket
        // Done well before the client is back: the Redis adapter loses what is
        // broadcast while it restores a session (see the README).
        .emit("stream", json!({"count": 150, "interval_ms": 1}))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut closed = false;
    while seen.last() != Some(&150) {
        match wait_event(&mut events, "tick or connect", |_| true).await {
            SocketEvent::Connect { recovered } => assert!(recovered, "not recovered"),
            SocketEvent::Event(event) if event.name() == "tick" => {
                seen.push(event.args()[0].as_u64().unwrap());
                if seen.len() == 20 && !closed {
                    closed = true;
                    socket.io().engine().close();
                }
            }
            _ => {}
        }
    }
    assert_eq!(seen, (1..=150).collect::<Vec<_>>());
    assert_eq!(socket.id().unwrap(), id);
    home.wait_for(
        |l| l["ev"] == "connection" && l["recovered"] == true && l["id"] == id.as_str(),
        TIMEOUT,
    )
    .await;
    assert!(
        !other
            .lines()
            .iter()
            .any(|l| l["ev"] == "connection" && l["id"] == id.as_str()),
        "the session moved to the other node"
    );

    // Without it, the polls land on the other node, which knows no such
    // session, and the session breaks.
    let error = fast(&balancer.url())
        .cookies(false)
        .reconnection_attempts(Some(2))
        .connect()
        .await
        .expect_err("no session survives without the cookie");
    let unknown = |node: &TestServer| {
        node.lines()
            .iter()
            .any(|l| l["ev"] == "engine_connection_error" && l["code"] == 1)
    };
    assert!(unknown(&node_a) || unknown(&node_b), "{error}");
}

/// A probe that cannot reach the server (here: the proxy refuses every
/// connection after the two polling ones) leaves the session on polling,
/// working.
#[tokio::test]
async fn a_failed_probe_stays_on_polling() {
    use common::proxy::Proxy;

    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    proxy.refuse_after(2);
    let socket = connected(
        ClientBuilder::new(proxy.url())
            .transports([Transport::Polling, Transport::WebSocket])
            .reconnection(false),
    )
    .await;
    for i in 0..20u32 {
        let n: u32 = socket.emit_with_ack("echo", i).await.unwrap();
        assert_eq!(n, i);
    }
    assert_eq!(socket.io().engine().transport(), Some(Transport::Polling));
    let id = socket.id().unwrap();
    assert!(
        !server
            .lines()
            .iter()
            .any(|l| l["ev"] == "upgrade" && l["id"] == id.as_str()),
        "upgraded although no probe could get through"
    );
}

/// Node closes a kept-alive connection once idle (after 5 s by default,
/// 300 ms here); the POSTs' connection is idle between pongs. The session
/// opens another and carries on.
#[tokio::test]
async fn a_connection_the_server_closed_when_idle_is_opened_again() {
    let server = TestServer::start(polling_server().arg("--keep-alive-timeout").arg("300")).await;
    let socket = connected(polling(&server.url()).reconnection(false)).await;
    let mut events = socket.events();
    server.wait_for_ev("tcp_close", TIMEOUT).await;
    let n: u32 = socket.emit_with_ack("echo", 1).await.unwrap();
    assert_eq!(n, 1);
    assert!(socket.connected());
    socket.emit("echo", 2).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(
        echo.args()[0],
        1,
        "nothing but the echoes came: no disconnect"
    );
}

/// With `remember_upgrade`, once an upgrade succeeded, the next link goes
/// to WebSocket at once.
#[tokio::test]
async fn remember_upgrade_reconnects_over_websocket_at_once() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = connected(
        ClientBuilder::new(server.url())
            .transports([Transport::Polling, Transport::WebSocket])
            .remember_upgrade(true)
            .reconnection_delay(std::time::Duration::from_millis(20)),
    )
    .await;
    let first = socket.id().unwrap();
    server
        .wait_for(
            |l| l["ev"] == "upgrade" && l["id"] == first.as_str(),
            TIMEOUT,
        )
        .await;
    let mut events = socket.events();
    socket.io().engine().close();
    wait_event(&mut events, "reconnect", |e| {
        matches!(e, SocketEvent::Connect { .. })
    })
    .await;
    let second = socket.id().unwrap();
    let line = server
        .wait_for(
            |l| l["ev"] == "connection" && l["id"] == second.as_str(),
            TIMEOUT,
        )
        .await;
    assert_eq!(line["transport"], "websocket", "{line}");
    assert_eq!(socket.io().engine().transport(), Some(Transport::WebSocket));
}

/// socket.io compresses a polling response of more than 1 KiB when the
/// client asks: the client asks, and reads it whole.
#[tokio::test]
async fn large_polling_responses_come_compressed_and_read_whole() {
    let server = TestServer::start(polling_server()).await;
    let proxy = common::Proxy::start(server.addr()).await;
    let socket = connected(polling(&proxy.url()).reconnection(false)).await;
    let mut events = socket.events();
    let text = "a".repeat(200_000);
    socket.emit("echo", &text).await.unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(echo.decode::<String>().unwrap(), text);
    let downstream = proxy.bytes_downstream();
    assert!(
        downstream < 50_000,
        "{downstream} bytes came for a 200 kB echo"
    );
}
