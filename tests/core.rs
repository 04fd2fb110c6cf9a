//! The core client against the real Node socket.io server: connect, emit,
//! receive, acks both ways, errors, heartbeat, close.

mod common;

use std::time::Duration;

use common::client::{connected, next_event};
use common::parsers::{both_parsers, builder, options};
use common::{ev, ev_id, within, ServerOptions, TestServer, TIMEOUT};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sioclient::{AckError, ClientBuilder, ConnectError, EmitError, Parser, SocketEvent};
use tokio::sync::mpsc;

both_parsers!(connects_to_the_default_and_a_custom_namespace, |parser| {
    let server = TestServer::start(options(parser)).await;
    let root = connected(builder(&server.url(), parser)).await;
    assert_eq!(root.namespace(), "/");
    assert!(root.connected());
    let id = root.id().expect("an id once connected");
    server
        .wait_for(ev_id("connection", id.clone()), TIMEOUT)
        .await;

    let admin = connected(builder(&server.url_for("/admin"), parser)).await;
    assert_eq!(admin.namespace(), "/admin");
    let admin_id = admin.id().expect("an id once connected");
    let line = server
        .wait_for(ev_id("connection", admin_id), TIMEOUT)
        .await;
    assert_eq!(line["nsp"], "/admin");
});

both_parsers!(emitted_events_are_echoed_back, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    socket
        .emit("echo", ("hello", 42, json!({"a": [1, 2]})))
        .await
        .unwrap();
    let echo = next_event(&mut events, "echo").await;
    assert_eq!(
        echo.args(),
        &[json!("hello"), json!(42), json!({"a": [1, 2]})]
    );
    assert_eq!(echo.offset(), None);

    // A Vec is one argument, () is none.
    socket.emit("echo", vec![1, 2, 3]).await.unwrap();
    assert_eq!(
        next_event(&mut events, "echo").await.args(),
        &[json!([1, 2, 3])]
    );
    socket.emit("echo", ()).await.unwrap();
    assert!(next_event(&mut events, "echo").await.args().is_empty());
});

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Note {
    user: String,
    text: String,
}

both_parsers!(emit_with_ack_resolves_with_a_typed_reply, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let note = Note {
        user: "alice".into(),
        text: "hi".into(),
    };
    let reply: Note = socket.emit_with_ack("echo", &note).await.unwrap();
    assert_eq!(reply, note);
    let (a, b): (String, u32) = socket.emit_with_ack("echo", ("x", 7)).await.unwrap();
    assert_eq!((a.as_str(), b), ("x", 7));
    // Several in flight at once each get their own reply.
    let replies =
        futures::future::join_all((0..20u32).map(|i| socket.emit_with_ack::<u32, _>("echo", i)))
            .await;
    for (i, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.unwrap() as usize, i);
    }
    // A reply of the wrong shape is a decode error, not a panic.
    let wrong: Result<u32, AckError> = socket.emit_with_ack("echo", "text").await;
    assert!(matches!(wrong, Err(AckError::Decode(_))), "{wrong:?}");
});

both_parsers!(an_ack_that_never_comes_times_out, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let result: Result<Value, AckError> = socket
        .timeout(Duration::from_millis(300))
        .emit_with_ack("never-ack", ())
        .await;
    assert!(matches!(result, Err(AckError::Timeout(_))), "{result:?}");
    server.wait_for(ev("never-ack"), TIMEOUT).await;
    // The socket still works afterwards.
    let n: u32 = socket.emit_with_ack("echo", 5).await.unwrap();
    assert_eq!(n, 5);
});

both_parsers!(several_arguments_decode_into_a_tuple, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    socket.emit("multi", ()).await.unwrap();
    let multi = next_event(&mut events, "multi").await;
    let (one, two, three): (u8, String, Value) = multi.decode().unwrap();
    assert_eq!((one, two.as_str(), three), (1, "two", json!({"three": 3})));
    assert!(multi.decode::<(u8, String)>().is_err());
});

both_parsers!(a_handler_answers_the_servers_ack_request_once, |parser| {
    let server = TestServer::start(options(parser)).await;
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let socket = connected(
        builder(&server.url(), parser)
            .on("server-ack", move |event, _socket| {
                let seen_tx = seen_tx.clone();
                async move {
                    assert!(event.wants_ack());
                    event.ack(&("thanks", event.args()[0].clone())).unwrap();
                    let again = event.ack(&"twice");
                    assert!(matches!(again, Err(EmitError::NoAckPending)));
                    assert!(!event.wants_ack());
                    seen_tx.send(()).unwrap();
                }
            })
            .on("ack-confirmed", |_event, _socket| async {}),
    )
    .await;
    let mut events = socket.events();
    socket.emit("ask-ack", json!({"q": 1})).await.unwrap();
    within(TIMEOUT, "handler", seen_rx.recv()).await.unwrap();
    let confirmed = next_event(&mut events, "ack-confirmed").await;
    assert_eq!(confirmed.args(), &[json!(["thanks", {"q": 1}])]);
    let line = server.wait_for(ev("ack-confirmed"), TIMEOUT).await;
    assert_eq!(line["reply"], json!(["thanks", {"q": 1}]));
});

both_parsers!(
    a_handler_can_emit_and_await_acks_without_deadlock,
    |parser| {
        let server = TestServer::start(options(parser)).await;
        let (done_tx, mut done_rx) = mpsc::unbounded_channel();
        let socket = connected(builder(&server.url(), parser).on(
            "multi",
            move |_event, socket| {
                let done_tx = done_tx.clone();
                async move {
                    let n: u32 = socket.emit_with_ack("echo", 9).await.unwrap();
                    socket.emit("echo", "from handler").await.unwrap();
                    done_tx.send(n).unwrap();
                }
            },
        ))
        .await;
        socket.emit("multi", ()).await.unwrap();
        assert_eq!(within(TIMEOUT, "handler", done_rx.recv()).await, Some(9));
    }
);

both_parsers!(
    a_middleware_rejection_is_a_typed_error_with_the_servers_data,
    |parser| {
        let server = TestServer::start(options(parser)).await;
        let result = within(
            TIMEOUT,
            "connect",
            builder(&server.url(), parser)
                .auth(json!({"reject": true}))
                .connect(),
        )
        .await;
        match result {
            Err(ConnectError::Rejected { message, data }) => {
                assert_eq!(message, "rejected by middleware");
                assert_eq!(data, Some(json!({"code": 42})));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        server.wait_for(ev("rejected"), TIMEOUT).await;
    }
);

both_parsers!(auth_reaches_the_server, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(
        builder(&server.url(), parser)
            .auth(json!({"token": "abc"}))
            .query("room", "blue")
            .header("x-test", "yes"),
    )
    .await;
    let me: Value = socket.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(me["auth"], json!({"token": "abc"}));
    assert_eq!(me["query"]["room"], "blue");
    assert_eq!(me["query"]["EIO"], "4");
    assert_eq!(me["headers"]["x-test"], "yes");
});

// The server's pings reach every socket as `SocketEvent::Ping`, as the JS
// manager's `ping` event.
both_parsers!(the_server_s_heartbeat_is_heard_as_ping_events, |parser| {
    let server = TestServer::start(options(parser).ping(200, 1000)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let admin = within(TIMEOUT, "/admin", socket.io().socket("/admin"))
        .await
        .unwrap();
    let (mut root_events, mut admin_events) = (socket.events(), admin.events());
    for events in [&mut root_events, &mut admin_events] {
        let ping = common::client::wait_event(events, "a ping", |event| {
            matches!(event, SocketEvent::Ping)
        })
        .await;
        assert_eq!(ping.to_string(), "ping from the server");
    }
    assert!(socket.connected() && admin.connected());
});

both_parsers!(heartbeat_keeps_a_quiet_connection_alive, |parser| {
    let server = TestServer::start(options(parser).ping(300, 300)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let id = socket.id().unwrap();
    // Several heartbeats pass with no traffic from the application.
    server
        .wait_for_nth(|line| line["ev"] == "heartbeat", 4, TIMEOUT)
        .await;
    assert!(socket.connected());
    assert_eq!(socket.id().as_deref(), Some(id.as_str()));
    let n: u32 = socket.emit_with_ack("echo", 1).await.unwrap();
    assert_eq!(n, 1);
    assert_eq!(server.count(ev_id("disconnect", id)), 0);
});

#[tokio::test]
async fn bad_urls_fail_at_build_time() {
    let err = ClientBuilder::new("not a url").connect().await.unwrap_err();
    assert!(matches!(err, ConnectError::InvalidUrl { .. }), "{err:?}");
    let err = ClientBuilder::new("ftp://localhost/")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::UnsupportedScheme(ref s) if s == "ftp"),
        "{err:?}"
    );
    let err = ClientBuilder::new("http://localhost")
        .randomization_factor(1.5)
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::InvalidOption(_)), "{err:?}");
    let err = ClientBuilder::new("http://localhost")
        .auth("a string")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectError::InvalidAuth(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let result = within(
        TIMEOUT,
        "connect",
        ClientBuilder::new(format!("http://127.0.0.1:{port}"))
            .reconnection(false)
            .timeout(Duration::from_secs(5))
            .connect(),
    )
    .await;
    assert!(
        matches!(result, Err(ConnectError::Transport(_))),
        "{result:?}"
    );
}

both_parsers!(reserved_names_are_refused, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    for name in [
        "connect",
        "disconnect",
        "connect_error",
        "disconnecting",
        "newListener",
        "removeListener",
    ] {
        let err = socket.emit(name, ()).await.unwrap_err();
        assert!(
            matches!(err, EmitError::ReservedName(ref n) if n == name),
            "{err:?}"
        );
    }
});

both_parsers!(dropping_every_handle_closes_the_connection, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let id = socket.id().unwrap();
    let clone = socket.clone();
    drop(socket);
    // A clone keeps it open.
    let n: u32 = clone.emit_with_ack("echo", 3).await.unwrap();
    assert_eq!(n, 3);
    drop(clone);
    let line = server.wait_for(ev_id("disconnect", id), TIMEOUT).await;
    assert_eq!(line["reason"], "transport close");
});

both_parsers!(disconnect_leaves_the_namespace_and_reports_it, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let id = socket.id().unwrap();
    let mut events = socket.events();
    socket.disconnect().await;
    let event = within(TIMEOUT, "disconnect event", events.next()).await;
    assert!(
        matches!(
            event,
            Some(SocketEvent::Disconnect(
                sioclient::DisconnectReason::IoClientDisconnect
            ))
        ),
        "{event:?}"
    );
    assert!(!socket.connected());
    server.wait_for(ev_id("disconnect", id), TIMEOUT).await;
    // And it can come back.
    within(TIMEOUT, "reconnect", socket.connect())
        .await
        .unwrap();
    assert!(socket.connected());
});

both_parsers!(a_burst_of_events_arrives_complete_and_in_order, |parser| {
    let server = TestServer::start(options(parser)).await;
    let socket = connected(builder(&server.url(), parser)).await;
    let mut events = socket.events();
    // Emitted back to back, echoed back to back: the client reads them in bursts.
    for n in 0..2000u32 {
        socket.emit("echo", n).await.unwrap();
    }
    for n in 0..2000u32 {
        let echo = next_event(&mut events, "echo").await;
        assert_eq!(echo.decode::<u32>().unwrap(), n);
    }
});

both_parsers!(a_panicking_handler_does_not_silence_the_socket, |parser| {
    let server = TestServer::start(options(parser)).await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let socket = connected(
        builder(&server.url(), parser).on("echo", move |event, _socket| {
            let seen_tx = seen_tx.clone();
            async move {
                let n: u32 = event.decode().unwrap();
                if n == 1 {
                    panic!("a faulty handler");
                }
                seen_tx.send(n).unwrap();
            }
        }),
    )
    .await;
    let mut events = socket.events();
    socket.emit("echo", 1).await.unwrap();
    socket.emit("echo", 2).await.unwrap();
    assert_eq!(within(TIMEOUT, "second event", seen.recv()).await, Some(2));
    // Streams still see both.
    assert_eq!(next_event(&mut events, "echo").await.args()[0], 1);
    assert_eq!(next_event(&mut events, "echo").await.args()[0], 2);
});

both_parsers!(a_slow_consumer_meets_backpressure_not_loss, |parser| {
    let server = TestServer::start(options(parser)).await;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let socket = connected(
        builder(&server.url(), parser)
            // A tiny queue, so the handler's slowness reaches the connection.
            .event_buffer(2)
            .on("tick", move |event, _socket| {
                let seen_tx = seen_tx.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    seen_tx.send(event.decode::<u32>().unwrap()).unwrap();
                }
            }),
    )
    .await;
    // A slow stream reader too: it loses nothing either.
    let mut events = socket.events();
    let streamed = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < 300 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            got.push(
                next_event(&mut events, "tick")
                    .await
                    .decode::<u32>()
                    .unwrap(),
            );
        }
        got
    });
    socket
        .emit("stream", json!({"count": 300, "interval_ms": 0}))
        .await
        .unwrap();
    let mut handled = Vec::new();
    while handled.len() < 300 {
        handled.push(within(TIMEOUT, "handled tick", seen.recv()).await.unwrap());
    }
    let expected: Vec<u32> = (1..=300).collect();
    assert_eq!(handled, expected);
    assert_eq!(
        within(TIMEOUT, "streamed ticks", streamed).await.unwrap(),
        expected
    );
    // Still alive and well.
    let n: u32 = socket.emit_with_ack("echo", 1).await.unwrap();
    assert_eq!(n, 1);
});

/// A program that connects, emits, awaits `disconnect()` and ends at once:
/// its runtime stops right after, as it does when `main` returns. The
/// server still hears the DISCONNECT, over either transport, every time.
#[test]
fn an_awaited_disconnect_reaches_the_server_before_the_program_ends() {
    let host = tokio::runtime::Runtime::new().unwrap();
    let server = host.block_on(TestServer::start(ServerOptions::default()));
    for transport in [
        sioclient::Transport::WebSocket,
        sioclient::Transport::Polling,
    ] {
        for run in 0..5 {
            let program = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let id = program.block_on(async {
                let socket = within(
                    TIMEOUT,
                    "connect",
                    ClientBuilder::new(server.url())
                        .transports([transport])
                        .connect(),
                )
                .await
                .unwrap();
                socket.emit("hello", run).await.unwrap();
                let id = socket.id().unwrap();
                within(TIMEOUT, "disconnect", socket.disconnect()).await;
                id
            });
            program.shutdown_background();
            let line = host.block_on(server.wait_for(ev_id("disconnect", id), TIMEOUT));
            assert_eq!(
                line["reason"], "client namespace disconnect",
                "{transport:?}, run {run}"
            );
        }
    }
}

// `Manager::disconnect` leaves every namespace, then closes the link.
both_parsers!(
    a_manager_disconnect_leaves_every_namespace_and_closes_the_link,
    |parser| {
        let server = TestServer::start(options(parser)).await;
        let root = connected(builder(&server.url(), parser)).await;
        let admin = within(TIMEOUT, "admin", root.io().socket("/admin"))
            .await
            .unwrap();
        let ids = [root.id().unwrap(), admin.id().unwrap()];
        within(TIMEOUT, "disconnect", root.io().disconnect()).await;
        assert!(!root.connected() && !admin.connected());
        assert_eq!(root.io().engine().transport(), None);
        for id in ids {
            let line = server.wait_for(ev_id("disconnect", id), TIMEOUT).await;
            assert_eq!(line["reason"], "client namespace disconnect");
        }
        // A later connect opens a new link.
        within(TIMEOUT, "reconnect", root.connect()).await.unwrap();
        assert!(root.connected() && !admin.connected());
    }
);

// A socket for a second namespace, built unconnected, gets its listener
// and stream before it connects: what the server emits on connection to
// `/admin` is never missed.
both_parsers!(
    a_second_namespace_built_first_misses_nothing_sent_on_connection,
    |parser| {
        let server = TestServer::start(options(parser)).await;
        for run in 0..20 {
            let root = connected(builder(&server.url(), parser).auth(json!({"welcome": 3}))).await;
            let admin = root.io().build_socket("/admin");
            assert!(!admin.connected());
            let (heard, mut by_listener) = mpsc::unbounded_channel();
            admin.on("welcome", move |event, _admin| {
                let heard = heard.clone();
                async move {
                    let _ = heard.send(event.decode::<u32>().unwrap());
                }
            });
            let mut events = admin.events();
            within(TIMEOUT, "admin", admin.connect()).await.unwrap();
            for n in 1..=3u32 {
                let event = next_event(&mut events, "welcome").await;
                assert_eq!(event.decode::<u32>().unwrap(), n, "run {run}");
                let handled = within(TIMEOUT, "listener", by_listener.recv()).await;
                assert_eq!(handled, Some(n), "run {run}");
            }
            root.io().disconnect().await;
        }
    }
);
