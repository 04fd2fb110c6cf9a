//! What a user meets when things go wrong: servers that never answer, answer
//! nonsense, speak another version, refuse the transport, or send what the
//! client refuses. Every `connect()` here must settle: each has an outer
//! timeout, so a hang fails the test.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use sioclient::{ClientBuilder, ConnectError, Parser, ProtocolError, SocketEvent, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use common::client::{next_event, wait_event};
use common::scripted::{Peer, Scripted};
use common::{within, ServerOptions, TestServer, TIMEOUT};

/// Quick retries and a short connect timeout.
fn fast(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .reconnection_delay(Duration::from_millis(10))
        .reconnection_delay_max(Duration::from_millis(20))
        .randomization_factor(0.0)
        .timeout(Duration::from_millis(500))
}

/// Connects, failing the test if it does not settle in time.
async fn settle(builder: ClientBuilder) -> Result<sioclient::Socket, ConnectError> {
    within(TIMEOUT, "connect() to settle", builder.connect()).await
}

/// The error of the last attempt, out of a `ReconnectFailed`.
fn last_attempt(error: ConnectError, attempts: u32) -> ConnectError {
    match error {
        ConnectError::ReconnectFailed {
            attempts: made,
            last: Some(last),
        } if made == attempts => *last,
        other => panic!("expected ReconnectFailed after {attempts} attempts, got {other:?}"),
    }
}

/// No message in the chain repeats the message of its source.
fn assert_each_cause_once(error: &dyn std::error::Error) {
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(
            !outer.contains(&inner),
            "{outer:?} repeats its source {inner:?}"
        );
        current = source;
    }
}

// ---------------------------------------------------------------------------
// connect() always settles
// ---------------------------------------------------------------------------

#[tokio::test]
async fn an_unanswered_connect_fails_at_the_timeout_and_counts_as_an_attempt() {
    for (what, other_namespace) in [("no reply", false), ("a reply for another namespace", true)] {
        let server = Scripted::start(move |mut peer: Peer| async move {
            peer.handshake().await;
            if other_namespace {
                peer.send(r#"40/other,{"sid":"x"}"#).await;
            }
            peer.idle().await;
        })
        .await;
        let error = settle(
            fast(&server.url())
                .timeout(Duration::from_millis(300))
                .reconnection_attempts(Some(1)),
        )
        .await
        .expect_err(what);
        let last = last_attempt(error, 1);
        assert!(matches!(last, ConnectError::Timeout(_)), "{what}: {last:?}");
        assert_eq!(server.links(), 2, "{what}: one try and one retry");
    }
}

/// A server that takes the connection and never answers, one that answers a
/// byte at a time too slowly, and one that sends its open packet in a binary
/// frame (which is not an open packet): each is a timeout, not a wrong URL.
#[tokio::test]
async fn a_server_that_does_not_answer_in_time_is_a_timeout() {
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((tcp, _)) = silent.accept().await {
            kept.push(tcp);
        }
    });
    let slow = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = slow.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = tcp.read(&mut request).await;
                for byte in b"HTTP/1.1 101 Switching Protocols\r\n".iter().cycle() {
                    if tcp.write_all(&[*byte]).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
    });
    let binary = Scripted::start(|mut peer: Peer| async move {
        peer.send_binary(common::scripted::OPEN.as_bytes().to_vec())
            .await;
        peer.idle().await;
    })
    .await;
    for (what, url, transport) in [
        ("silent", silent_url.clone(), Transport::WebSocket),
        ("silent over polling", silent_url, Transport::Polling),
        ("slowloris", slow_url, Transport::WebSocket),
        ("binary open packet", binary.url(), Transport::WebSocket),
    ] {
        let error = settle(
            fast(&url)
                .transports([transport])
                .timeout(Duration::from_millis(400))
                .reconnection_attempts(Some(0)),
        )
        .await
        .expect_err(what);
        assert!(
            matches!(error, ConnectError::Timeout(t) if t == Duration::from_millis(400)),
            "{what}: {error:?}"
        );
        assert!(error.to_string().contains("`timeout`"), "{what}: {error}");
    }
}

#[tokio::test]
async fn links_that_connect_nothing_are_failed_attempts_with_typed_errors() {
    /// What the server does after the open packet.
    #[derive(Clone, Copy, Debug)]
    enum After {
        Close,
        Reply(&'static str),
    }
    let table = [
        (After::Close, "closed"),
        (After::Reply("40[1]"), "protocol"),
        (After::Reply("44[1,2,3]"), "protocol"),
        (After::Reply("44null"), "protocol"),
        (After::Reply("4412345"), "protocol"),
    ];
    for (after, want) in table {
        let server = Scripted::start(move |mut peer: Peer| async move {
            peer.handshake().await;
            if let After::Reply(reply) = after {
                peer.send(reply).await;
                peer.idle().await;
            }
        })
        .await;
        let error = settle(fast(&server.url()).reconnection_attempts(Some(2)))
            .await
            .expect_err("nothing connects");
        assert_each_cause_once(&error);
        let last = last_attempt(error, 2);
        match want {
            "closed" => assert!(
                matches!(
                    last,
                    ConnectError::HandshakeClosed | ConnectError::Transport(_)
                ),
                "{after:?}: {last:?}"
            ),
            _ => assert!(
                matches!(last, ConnectError::Protocol(_)),
                "{after:?}: {last:?}"
            ),
        }
        assert_eq!(
            server.links(),
            3,
            "{after:?}: a try and two retries, no more"
        );
    }
}

#[tokio::test]
async fn a_zero_ping_interval_is_an_invalid_open_packet() {
    let server = Scripted::start(|mut peer: Peer| async move {
        peer.send(
            r#"0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":0,"maxPayload":1000}"#,
        )
        .await;
        peer.idle().await;
    })
    .await;
    let error = settle(fast(&server.url()).reconnection_attempts(Some(1)))
        .await
        .expect_err("refused");
    let last = last_attempt(error, 1);
    assert!(
        matches!(last, ConnectError::Protocol(ProtocolError::InvalidOpen(_))),
        "{last:?}"
    );
    assert_eq!(server.links(), 2);
}

#[tokio::test]
async fn lifecycle_handlers_see_every_failed_attempt_before_connect_returns() {
    let server = Scripted::start(|mut peer: Peer| async move {
        peer.handshake().await;
    })
    .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let error = settle(
        fast(&server.url())
            .reconnection_attempts(Some(2))
            .on_lifecycle(move |event, _socket| {
                let log = log.clone();
                async move {
                    let name = match event {
                        SocketEvent::ConnectError(_) => "connect_error".to_owned(),
                        SocketEvent::ReconnectAttempt(n) => format!("reconnect_attempt {n}"),
                        SocketEvent::ReconnectError(_) => "reconnect_error".to_owned(),
                        SocketEvent::ReconnectFailed => "reconnect_failed".to_owned(),
                        other => format!("{other:?}"),
                    };
                    log.lock().unwrap().push(name);
                }
            }),
    )
    .await
    .expect_err("nothing connects");
    assert!(matches!(
        error,
        ConnectError::ReconnectFailed { attempts: 2, .. }
    ));
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "connect_error",
            "reconnect_attempt 1",
            "reconnect_error",
            "reconnect_attempt 2",
            "reconnect_error",
            "reconnect_failed",
        ]
    );
}

// ---------------------------------------------------------------------------
// Servers it cannot speak to
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_bare_connect_reply_is_a_socketio_v2_server_and_ends_connect_at_once() {
    let server = Scripted::start(|mut peer: Peer| async move {
        peer.handshake().await;
        peer.send("40").await;
        peer.idle().await;
    })
    .await;
    // Unlimited attempts: retrying cannot fix it, so the first failure ends it.
    let error = settle(fast(&server.url())).await.expect_err("refused");
    assert!(
        matches!(error, ConnectError::UnsupportedServer),
        "{error:?}"
    );
    assert_eq!(server.links(), 1);
}

#[tokio::test]
async fn a_real_socketio_2_server_is_refused_with_the_cause() {
    let server = TestServer::start(ServerOptions::new().socketio_v2()).await;
    // Over polling, from its Engine.IO v3 handshake, at the first attempt.
    for transports in [
        vec![Transport::WebSocket, Transport::Polling],
        vec![Transport::Polling],
    ] {
        let attempts = Arc::new(Mutex::new(0));
        let counted = attempts.clone();
        let error = settle(
            fast(&server.url())
                .transports(transports.clone())
                .on_lifecycle(move |event, _socket| {
                    if matches!(
                        event,
                        SocketEvent::ConnectError(_) | SocketEvent::ReconnectError(_)
                    ) {
                        *counted.lock().unwrap() += 1;
                    }
                    async {}
                }),
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(error, ConnectError::UnsupportedServer),
            "{transports:?}: {error:?}"
        );
        assert!(
            error.to_string().contains("socket.io 3 or later"),
            "{error}"
        );
        assert_eq!(*attempts.lock().unwrap(), 1, "{transports:?}: one attempt");
    }
}

#[tokio::test]
async fn a_polling_only_client_is_refused_at_once_with_the_fix() {
    let server = TestServer::start(ServerOptions::new().arg("--transports").arg("websocket")).await;
    let error = settle(fast(&server.url()).transports([Transport::Polling]))
        .await
        .expect_err("refused");
    assert!(
        matches!(error, ConnectError::HttpRefused { status: 400, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("polling request"), "{message}");
    assert!(message.contains("does not allow polling"), "{message}");
    assert!(
        message.contains(".transports([Transport::WebSocket])"),
        "{message}"
    );
}

#[tokio::test]
async fn a_websocket_only_client_is_refused_at_once_with_the_fix() {
    // The default falls back to polling (tests/polling.rs); asked for
    // WebSocket alone, the client says what to change.
    let server = TestServer::start(ServerOptions::new().arg("--transports").arg("polling")).await;
    let error = settle(fast(&server.url()).transports([Transport::WebSocket]))
        .await
        .expect_err("refused");
    match &error {
        ConnectError::HttpRefused {
            status, engine_io, ..
        } => {
            assert_eq!(*status, 400);
            let engine_io = engine_io.as_ref().expect("an Engine.IO error body");
            assert_eq!(engine_io.code, 0);
            assert_eq!(engine_io.message, "Transport unknown");
        }
        other => panic!("expected HttpRefused, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("does not allow WebSocket"), "{message}");
    assert!(
        message.contains(".transports([Transport::Polling])"),
        "{message}"
    );
    assert_each_cause_once(&error);
}

#[tokio::test]
async fn a_wrong_path_says_to_check_the_path() {
    let server = TestServer::start(ServerOptions::new()).await;
    let error = settle(
        fast(&server.url())
            .timeout(Duration::from_secs(5))
            .path("/wrong/")
            .reconnection_attempts(Some(1)),
    )
    .await
    .expect_err("nothing there");
    assert_each_cause_once(&error);
    let last = last_attempt(error, 1);
    // The Node server never answers a path it does not serve.
    assert!(matches!(last, ConnectError::Timeout(_)), "{last:?}");
    let message = last.to_string();
    assert!(message.contains("`path`"), "{message}");
}

/// A plain HTTP server that answers every request with `response`;
/// `http://` and its address.
async fn answering(response: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = tcp.read(&mut request).await;
                let _ = tcp.write_all(response).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_plain_http_server_answering_404_ends_connect_at_once() {
    let server = answering(b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nCannot GE").await;
    let url = format!("{server}/?token=secret");
    let error = settle(fast(&url)).await.expect_err("refused");
    match &error {
        ConnectError::HttpRefused { status, url, .. } => {
            assert_eq!(*status, 404);
            assert!(!url.contains("secret"), "query values are redacted: {url}");
        }
        other => panic!("expected HttpRefused, got {other:?}"),
    }
    assert!(error.to_string().contains("`path`"), "{error}");
}

/// A reverse proxy that serves the app under `/app/` and is asked for
/// `/socket.io/`: it drops the WebSocket upgrade and answers the polling
/// request 404 (chunked). The 404 decides, at once, with the path hint and
/// the WebSocket failure beside it.
#[tokio::test]
async fn a_404_behind_a_dropped_websocket_ends_connect_at_once_with_both_causes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/app", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(0));
    let counted = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            *counted.lock().unwrap() += 1;
            tokio::spawn(async move {
                let mut request = vec![0u8; 4096];
                let n = tcp.read(&mut request).await.unwrap_or(0);
                let request = String::from_utf8_lossy(&request[..n]).to_ascii_lowercase();
                if request.contains("upgrade: websocket") {
                    return; // dropped
                }
                let _ = tcp
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n\
                          a\r\nCannot GET\r\n0\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    let error = settle(fast(&url).timeout(Duration::from_secs(5)))
        .await
        .expect_err("refused");
    match &error {
        ConnectError::HttpRefused {
            status,
            url,
            body,
            other_transport: Some(other),
            ..
        } => {
            assert_eq!(*status, 404);
            assert!(url.contains("transport=polling"), "{url}");
            assert_eq!(body, "Cannot GET");
            assert!(
                matches!(**other, ConnectError::NoEngineIo { .. }),
                "{other:?}"
            );
        }
        other => panic!("expected HttpRefused after the WebSocket, got {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("polling request"), "{message}");
    assert!(message.contains(r#".path("/app/socket.io/")"#), "{message}");
    assert_each_cause_once(&error);
    assert_eq!(*requests.lock().unwrap(), 2, "one attempt: no retry");
}

/// The WebSocket handshake answered 404 with a chunked body: the body is
/// the server's words, without the chunk framing.
#[tokio::test]
async fn a_chunked_refusal_body_is_shown_without_its_framing() {
    let url = answering(
        b"HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\n\
          27\r\n{\"code\":4,\"message\":\"Forbidden origin\"}\r\n0\r\n\r\n",
    )
    .await;
    let error = settle(fast(&url).transports([Transport::WebSocket]))
        .await
        .expect_err("refused");
    match &error {
        ConnectError::HttpRefused {
            status: 403, body, ..
        } => assert_eq!(body, r#"{"code":4,"message":"Forbidden origin"}"#),
        other => panic!("expected HttpRefused, got {other:?}"),
    }
}

/// A server that ends the link right after the CONNECT, as one with
/// socket.io-msgpack-parser does on a text CONNECT: the error names the
/// parser.
#[tokio::test]
async fn a_link_closed_right_after_the_connect_names_the_parser() {
    let server = Scripted::start(|mut peer: Peer| async move {
        peer.handshake().await;
        peer.close().await;
    })
    .await;
    let error = settle(fast(&server.url()).reconnection_attempts(Some(0)))
        .await
        .expect_err("closed");
    assert!(
        matches!(
            error,
            ConnectError::ClosedAtConnect {
                parser: Parser::Default
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("socket.io-msgpack-parser"),
        "{error}"
    );
}

#[tokio::test]
async fn a_dead_port_gives_up_with_the_refusal_as_the_source() {
    let port = common::daemon::free_port();
    let error = settle(fast(&format!("http://127.0.0.1:{port}")).reconnection_attempts(Some(2)))
        .await
        .expect_err("nobody listens");
    assert_each_cause_once(&error);
    let chain = common::client::error_chain(&error);
    assert!(chain.contains("refused"), "{chain}");
    match last_attempt(error, 2) {
        ConnectError::Transport(error) => {
            assert_eq!(
                error.io_error_kind(),
                Some(std::io::ErrorKind::ConnectionRefused)
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Messages the client refuses
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_refused_message_replayed_after_a_recovery_gives_the_session_up() {
    let deep = format!("42[\"deep\",{}{}]", "[".repeat(200), "]".repeat(200));
    let huge = format!(r#"42["huge","{}"]"#, "x".repeat(65 << 20));
    for (what, poison) in [("too deep", deep), ("too large", huge)] {
        let poison = Arc::new(poison);
        let server = Scripted::start(move |mut peer: Peer| {
            let poison = poison.clone();
            async move {
                let Some(connect) = peer.handshake().await else {
                    return;
                };
                if peer.link == 1 {
                    peer.send(r#"40{"sid":"s1","pid":"p1"}"#).await;
                    peer.send(r#"42["tick",1,"o1"]"#).await;
                    peer.send(poison.as_str()).await;
                } else if connect.contains("pid") {
                    // The recovery replays the refused message first.
                    peer.send(poison.as_str()).await;
                } else {
                    peer.send(r#"40{"sid":"s2","pid":"p2"}"#).await;
                }
                peer.idle().await;
            }
        })
        .await;
        let (socket, mut events) = within(
            TIMEOUT,
            "connect",
            fast(&server.url()).connect_with_events(),
        )
        .await
        .expect("connect");
        next_event(&mut events, "tick").await;
        let abandoned = wait_event(&mut events, "recovery abandoned", |event| {
            matches!(event, SocketEvent::RecoveryAbandoned(_))
        })
        .await;
        assert!(
            matches!(abandoned, SocketEvent::RecoveryAbandoned(_)),
            "{what}"
        );
        let recovered = match wait_event(&mut events, "connect", |event| {
            matches!(event, SocketEvent::Connect { .. })
        })
        .await
        {
            SocketEvent::Connect { recovered } => recovered,
            _ => unreachable!(),
        };
        assert!(!recovered, "{what}: a fresh session");
        assert_eq!(socket.id().as_deref(), Some("s2"), "{what}");
        assert_eq!(server.links(), 3, "{what}: no loop");
    }
}

#[tokio::test]
async fn a_20_mib_event_from_a_real_server_arrives() {
    let server = TestServer::start(
        ServerOptions::new()
            .arg("--max-http-buffer-size")
            .arg("30000000"),
    )
    .await;
    let (socket, mut events) = within(
        TIMEOUT,
        "connect",
        ClientBuilder::new(server.url()).connect_with_events(),
    )
    .await
    .expect("connect");
    let length = 20usize << 20;
    socket.emit("big", length).await.unwrap();
    let event = next_event(&mut events, "big").await;
    let text: String = event.decode().unwrap();
    assert_eq!(text.len(), length);
}

// ---------------------------------------------------------------------------
// A stream that misses nothing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_stream_from_the_builder_sees_what_the_server_emits_on_connection() {
    let server = TestServer::start(ServerOptions::new()).await;
    for _ in 0..5 {
        let (_socket, mut events) = within(
            TIMEOUT,
            "connect",
            ClientBuilder::new(server.url())
                .auth(json!({ "welcome": 2000 }))
                .connect_with_events(),
        )
        .await
        .expect("connect");
        let first = within(TIMEOUT, "the connect event", events.next())
            .await
            .expect("an event");
        assert!(
            matches!(first, SocketEvent::Connect { recovered: false }),
            "{first:?}"
        );
        for n in 1..=2000u32 {
            let event = next_event(&mut events, "welcome").await;
            assert_eq!(event.decode::<u32>().unwrap(), n);
        }
    }
}

#[tokio::test]
async fn a_dropped_link_before_the_connect_reply_is_reported_as_an_attempt() {
    // A server that accepts the namespace only on its third link.
    let server = Scripted::start(|mut peer: Peer| async move {
        peer.handshake().await;
        if peer.link < 3 {
            return;
        }
        peer.send(r#"40{"sid":"s"}"#).await;
        peer.idle().await;
    })
    .await;
    let (socket, _events) = within(
        TIMEOUT,
        "connect",
        fast(&server.url()).connect_with_events(),
    )
    .await
    .expect("the third link connects");
    assert!(socket.connected());
    assert_eq!(server.links(), 3);
}
