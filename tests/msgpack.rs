//! socket.io-msgpack-parser against the real Node server running it
//! (socket.io-msgpack-parser 3.0.2, pinned in tests/server): emits and acks
//! both ways, binary data, namespaces and auth, connection state recovery,
//! over WebSocket and over polling (the upgrade is tested with both parsers
//! in polling.rs, binary data and the core in binary.rs and core.rs).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::client::{connected, next_connect, next_disconnect, next_event, wait_event};
use common::{ev_id, Proxy, ServerOptions, TestServer, TIMEOUT};
use serde::Deserialize;
use serde_json::{json, Value};
use sioclient::{AckError, ClientBuilder, ConnectError, EmitError, Parser, SocketEvent, Transport};

fn msgpack_server() -> ServerOptions {
    ServerOptions::default().arg("--parser").arg("msgpack")
}

fn client(url: &str, transport: Transport) -> ClientBuilder {
    ClientBuilder::new(url)
        .parser(Parser::MsgPack)
        .transports([transport])
}

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Polling];

/// How an attachment shows in `Event::args`, whichever parser.
fn ph(num: u64) -> Value {
    json!({"_placeholder": true, "num": num})
}

/// How the server logs a Node Buffer (`Buffer.toJSON`).
fn node_buffer(data: &[u8]) -> Value {
    json!({"type": "Buffer", "data": data})
}

#[derive(Debug, Deserialize, PartialEq)]
struct Note {
    text: String,
    n: u32,
}

#[tokio::test]
async fn emits_and_acks_go_both_ways_over_each_transport() {
    let server = TestServer::start(msgpack_server()).await;
    for transport in TRANSPORTS {
        let socket = connected(client(&server.url(), transport).on(
            "server-ack",
            |event, _socket| async move {
                let note: Note = event.decode().unwrap();
                event.ack(&("got", note.n + 1)).unwrap();
            },
        ))
        .await;
        assert_eq!(socket.io().engine().transport(), Some(transport));
        let id = socket.id().unwrap();
        let mut events = socket.events();

        // A typed emit, as the server reads it, and its echo typed back.
        socket
            .emit("echo", json!({"text": "hello", "n": 1}))
            .await
            .unwrap();
        let line = server.wait_for(ev_id("echo", id.clone()), TIMEOUT).await;
        assert_eq!(
            line["args"],
            json!([{"text": "hello", "n": 1}]),
            "{transport:?}"
        );
        let echo = next_event(&mut events, "echo").await;
        assert_eq!(
            echo.decode::<Note>().unwrap(),
            Note {
                text: "hello".into(),
                n: 1
            }
        );
        assert_eq!(echo.args(), [json!({"text": "hello", "n": 1})]);

        // The server's ack of an emit.
        let (word, n, nested): (String, i64, Value) = socket
            .emit_with_ack("echo", ("hi", -7, json!({"a": [1.5, null, true]})))
            .await
            .unwrap();
        assert_eq!((word.as_str(), n), ("hi", -7));
        assert_eq!(nested, json!({"a": [1.5, null, true]}));

        // The client's ack of the server's emit.
        socket
            .emit("ask-ack", json!({"text": "x", "n": 41}))
            .await
            .unwrap();
        let confirmed = next_event(&mut events, "ack-confirmed").await;
        assert_eq!(confirmed.args(), [json!(["got", 42])], "{transport:?}");

        // Several arguments from the server.
        socket.emit("multi", ()).await.unwrap();
        let multi = next_event(&mut events, "multi").await;
        assert_eq!(multi.args(), [json!(1), json!("two"), json!({"three": 3})]);
        socket.disconnect().await;
    }
}

#[tokio::test]
async fn binary_data_reads_as_with_the_default_parser() {
    let server = TestServer::start(msgpack_server()).await;
    for transport in TRANSPORTS {
        let socket = connected(client(&server.url(), transport)).await;
        let id = socket.id().unwrap();
        let mut events = socket.events();
        let data = Bytes::from_static(&[0, 1, 2, 255]);

        socket
            .emit("echo", ("before", data.clone(), Bytes::new()))
            .await
            .unwrap();
        let line = server.wait_for(ev_id("echo", id.clone()), TIMEOUT).await;
        assert_eq!(
            line["args"],
            json!(["before", node_buffer(&data), node_buffer(&[])]),
            "{transport:?}"
        );
        let echo = next_event(&mut events, "echo").await;
        assert_eq!(echo.args(), [json!("before"), ph(0), ph(1)]);
        assert_eq!(echo.attachments(), [data.clone(), Bytes::new()]);
        let (word, bytes, empty): (String, Bytes, Vec<u8>) = echo.decode().unwrap();
        assert_eq!(
            (word.as_str(), bytes, empty),
            ("before", data.clone(), vec![])
        );

        // Nested in the data, and in an ack.
        let nested: Value = socket
            .emit_with_ack("echo", json!({"deep": [1, 2]}))
            .await
            .unwrap();
        assert_eq!(nested, json!({"deep": [1, 2]}));
        let back: Bytes = socket.emit_with_ack("echo", data.clone()).await.unwrap();
        assert_eq!(back, data);

        // An upload, typed both ways.
        #[derive(Debug, Deserialize, PartialEq)]
        struct Receipt {
            name: String,
            size: usize,
            sum: u32,
        }
        let big = Bytes::from((0..70_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        let receipt: Receipt = socket
            .emit_with_ack("upload", (json!({"name": "blob"}), big.clone()))
            .await
            .unwrap();
        let sum = big
            .iter()
            .fold(0u32, |total, b| (total + u32::from(*b)) % 65536);
        assert_eq!(
            receipt,
            Receipt {
                name: "blob".into(),
                size: big.len(),
                sum
            }
        );
        socket.disconnect().await;
    }
}

#[tokio::test]
async fn namespaces_and_auth_work_on_one_connection() {
    let server = TestServer::start(msgpack_server()).await;
    for transport in TRANSPORTS {
        let root = connected(client(&server.url(), transport).auth(json!({"token": "abc"}))).await;
        let admin = common::within(TIMEOUT, "/admin", root.io().socket("/admin"))
            .await
            .expect("/admin connects");
        let me: Value = admin.emit_with_ack("whoami", ()).await.unwrap();
        assert_eq!(me["nsp"], "/admin");
        assert_eq!(me["auth"], json!({"token": "abc"}));
        assert_eq!(
            me["engine"],
            root.emit_with_ack::<Value, _>("whoami", ()).await.unwrap()["engine"]
        );
        let mut events = admin.events();
        admin.emit("echo", "to admin").await.unwrap();
        assert_eq!(
            next_event(&mut events, "echo").await.args(),
            [json!("to admin")]
        );
        // The server ends one namespace; the other carries on.
        admin.emit("disconnect-me", ()).await.unwrap();
        next_disconnect(&mut events).await;
        let n: u32 = root.emit_with_ack("echo", 5).await.unwrap();
        assert_eq!(n, 5);
        root.disconnect().await;
    }
}

#[tokio::test]
async fn auth_from_a_callback_goes_in_the_connect() {
    let server = TestServer::start(msgpack_server()).await;
    for transport in TRANSPORTS {
        let socket = connected(
            client(&server.url(), transport)
                .auth_with(|| async { Ok::<_, std::io::Error>(json!({"token": "fresh"})) }),
        )
        .await;
        let me: Value = socket.emit_with_ack("whoami", ()).await.unwrap();
        assert_eq!(me["auth"], json!({"token": "fresh"}), "{transport:?}");
    }
}

/// Checks a streamed `tick` and returns its number: exactly `[n]`, or
/// `[n, <placeholder>]` with its byte for the binary ones; an offset left in
/// the arguments fails here.
fn tick_number(event: &sioclient::Event) -> u64 {
    let n = event.args()[0].as_u64().expect("a numbered tick");
    if event.attachments().is_empty() {
        assert_eq!(event.args().len(), 1, "offset leaked into {event:?}");
    } else {
        assert_eq!(
            event.args(),
            [json!(n), ph(0)],
            "offset leaked into {event:?}"
        );
        assert_eq!(event.attachments()[0].as_ref(), &[(n & 255) as u8]);
    }
    assert!(event.offset().is_some(), "tick without offset: {event:?}");
    n
}

#[tokio::test]
async fn missed_events_are_recovered_once_in_order_over_each_transport() {
    // Over polling, the server learns of a lost link at its ping timeout, and
    // restores a session only once it has closed it: a short one here.
    let server = TestServer::start(msgpack_server().recovery().ping(200, 200)).await;
    for transport in TRANSPORTS {
        let proxy = Proxy::start(server.addr()).await;
        let socket = connected(
            client(&proxy.url(), transport)
                .reconnection_delay(Duration::from_millis(20))
                .reconnection_delay_max(Duration::from_millis(100)),
        )
        .await;
        assert!(!socket.recovered());
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
        while seen.last() != Some(&20) {
            seen.push(tick_number(&next_event(&mut events, "tick").await));
        }
        proxy.set_refuse(true);
        proxy.drop_all();
        loop {
            match wait_event(&mut events, "disconnect", |_| true).await {
                SocketEvent::Disconnect(_) => break,
                SocketEvent::Event(event) if event.name() == "tick" => {
                    seen.push(tick_number(&event))
                }
                _ => {}
            }
        }
        // The server closes the session, and streams on while attempts are
        // refused.
        server
            .wait_for(ev_id("disconnect", id.clone()), TIMEOUT)
            .await;
        let away = proxy.accepted();
        proxy.wait_until(|proxy| proxy.accepted() >= away + 2).await;
        proxy.set_refuse(false);
        loop {
            match wait_event(&mut events, "tick or connect", |_| true).await {
                SocketEvent::Connect { recovered } => assert!(recovered, "{transport:?}"),
                SocketEvent::Event(event) if event.name() == "tick" => {
                    seen.push(tick_number(&event));
                    if seen.last() == Some(&200) {
                        break;
                    }
                }
                _ => {}
            }
        }
        assert_eq!(seen, (1..=200).collect::<Vec<_>>(), "{transport:?}");
        assert!(socket.recovered());
        assert_eq!(
            socket.id().as_deref(),
            Some(id.as_str()),
            "the same session"
        );
        let state = socket.recovery_state().expect("a session");
        assert!(state.offset.is_some());
        socket.disconnect().await;
    }
}

#[tokio::test]
async fn a_session_is_resumed_after_a_restart_from_its_saved_state() {
    let server = TestServer::start(msgpack_server().recovery()).await;
    let socket = connected(client(&server.url(), Transport::WebSocket)).await;
    let mut events = socket.events();
    socket.emit("echo", "first").await.unwrap();
    next_event(&mut events, "echo").await;
    let state = socket.recovery_state().expect("a session");
    let id = socket.id().unwrap();
    // The process ends without a goodbye: the server keeps the session.
    drop(events);
    drop(socket);
    server
        .wait_for(ev_id("disconnect", id.clone()), TIMEOUT)
        .await;

    let resumed =
        connected(client(&server.url(), Transport::WebSocket).recovery_state(state)).await;
    assert!(resumed.recovered());
    assert_eq!(resumed.id().as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn listeners_of_every_event_and_the_offline_buffer_work_as_ever() {
    let server = TestServer::start(msgpack_server()).await;
    let (any_tx, mut any_rx) = tokio::sync::mpsc::unbounded_channel();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
    let socket = connected(
        client(&server.url(), Transport::WebSocket)
            .on_any(move |event, _socket| {
                let any_tx = any_tx.clone();
                async move {
                    let _ = any_tx.send((event.name().to_owned(), event.args().to_vec()));
                }
            })
            .on_any_outgoing(move |event, _socket| {
                let out_tx = out_tx.clone();
                async move {
                    let _ = out_tx.send((event.name().to_owned(), event.args().to_vec()));
                }
            }),
    )
    .await;
    socket
        .emit("echo", ("a", Bytes::from_static(b"z")))
        .await
        .unwrap();
    let heard = common::within(TIMEOUT, "outgoing", out_rx.recv())
        .await
        .unwrap();
    assert_eq!(heard, ("echo".to_owned(), vec![json!("a"), ph(0)]));
    let got = common::within(TIMEOUT, "any", any_rx.recv()).await.unwrap();
    assert_eq!(got, ("echo".to_owned(), vec![json!("a"), ph(0)]));

    // Emits made while the link is down wait in the offline buffer.
    let mut events = socket.events();
    socket.io().engine().close();
    next_disconnect(&mut events).await;
    socket.emit("echo", "queued").await.unwrap();
    next_connect(&mut events).await;
    assert_eq!(
        next_event(&mut events, "echo").await.args(),
        [json!("queued")]
    );
}

/// A server of the other parser closes the link at the first CONNECT; the
/// first connect ends at once, not after its window of retries, with an
/// error that names the parsers and the fix.
#[tokio::test]
async fn a_parser_mismatch_ends_the_first_connect_with_the_fix() {
    let msgpack = TestServer::start(msgpack_server()).await;
    let plain = TestServer::start(ServerOptions::default()).await;
    for transport in TRANSPORTS {
        let default_client = ClientBuilder::new(msgpack.url()).transports([transport]);
        let error = common::within(TIMEOUT, "the first connect", default_client.connect())
            .await
            .expect_err("a default-parser client cannot connect to a msgpack server");
        assert!(
            matches!(
                error,
                ConnectError::ClosedAtConnect {
                    parser: Parser::Default
                }
            ),
            "{transport:?}: {error:?}"
        );
        assert!(error.to_string().contains("Parser::MsgPack"), "{error}");

        let msgpack_client = client(&plain.url(), transport);
        let error = common::within(TIMEOUT, "the first connect", msgpack_client.connect())
            .await
            .expect_err("a msgpack client cannot connect to a default-parser server");
        assert!(
            matches!(
                error,
                ConnectError::ClosedAtConnect {
                    parser: Parser::MsgPack
                }
            ),
            "{transport:?}: {error:?}"
        );
        assert!(error.to_string().contains("Parser::Default"), "{error}");
    }
}

#[tokio::test]
async fn retries_timeouts_and_volatile_emits_work_as_ever() {
    let server = TestServer::start(msgpack_server()).await;
    let retrying = connected(
        client(&server.url(), Transport::WebSocket)
            .retries(2)
            .ack_timeout(Duration::from_millis(50)),
    )
    .await;
    let id = retrying.id().unwrap();
    let error = retrying
        .emit_with_ack::<Value, _>("never-ack", ())
        .await
        .expect_err("never acknowledged");
    assert!(
        matches!(
            error,
            AckError::Emit(EmitError::Unacknowledged { tries: 3 })
        ),
        "{error:?}"
    );
    assert_eq!(
        server.count(ev_id("never-ack", id)),
        3,
        "sent once and twice again"
    );
    let n: u32 = retrying.emit_with_ack("echo", 9).await.unwrap();
    assert_eq!(n, 9);

    let socket = connected(client(&server.url(), Transport::WebSocket)).await;
    let late = socket
        .timeout(Duration::from_millis(50))
        .emit_with_ack::<Value, _>("never-ack", ())
        .await;
    assert!(matches!(late, Err(AckError::Timeout(_))), "{late:?}");
    let mut events = socket.events();
    socket.volatile().emit("volatile", 4).await.unwrap();
    socket.emit("volatile", 5).await.unwrap();
    let vol = next_event(&mut events, "vol").await;
    assert_eq!(vol.args(), [json!(4)]);
}
