//! The blocking client against the real Node server: connect, emit, acks
//! both ways, binary, listeners as plain closures, the events iterator, and
//! recovery after `engine().close()`. Each test runs on a plain thread, as
//! a program without a runtime would, under an outer timeout.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use common::{ServerOptions, TestServer, TIMEOUT};
use serde_json::{json, Value};
use sioclient::{blocking, ClientBuilder, SocketEvent};

/// Starts the bundled server on a runtime of the test's own, and runs
/// `body` with its URL on a plain thread, failing after [`TIMEOUT`].
fn with_server(options: ServerOptions, body: impl FnOnce(String) + Send + 'static) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(options));
    let url = server.url();
    let (done_tx, done) = mpsc::channel();
    let test = std::thread::spawn(move || {
        body(url);
        let _ = done_tx.send(());
    });
    match done.recv_timeout(TIMEOUT) {
        Ok(()) => test.join().unwrap(),
        // The thread panicked: its panic is the failure.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = test.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the blocking test hung"),
    }
    drop(server);
}

fn fast(url: &str) -> ClientBuilder {
    ClientBuilder::new(url)
        .reconnection_delay(Duration::from_millis(20))
        .reconnection_delay_max(Duration::from_millis(100))
}

/// The next server event called `name`, skipping others.
fn next_event(events: &mut blocking::Events, name: &str) -> sioclient::Event {
    loop {
        match events.recv_timeout(TIMEOUT) {
            Ok(SocketEvent::Event(event)) if event.name() == name => return event,
            Ok(_) => {}
            Err(error) => panic!("no {name} event: {error}"),
        }
    }
}

#[test]
fn connect_emit_and_acks_both_ways() {
    with_server(ServerOptions::default(), |url| {
        let socket = fast(&url).build_blocking().unwrap();
        // A listener answers the server's ack request, from plain code.
        socket.on("server-ack", |event, _socket| {
            let payload: Value = event.decode().unwrap();
            event.ack(&json!({ "got": payload })).unwrap();
        });
        let mut events = socket.events();
        socket.connect().unwrap();
        assert!(socket.connected());
        assert!(matches!(
            events.recv_timeout(TIMEOUT),
            Ok(SocketEvent::Connect { recovered: false })
        ));

        socket.emit("echo", ("hello", 1)).unwrap();
        let echo = next_event(&mut events, "echo");
        assert_eq!(echo.args(), [json!("hello"), json!(1)]);

        let n: u32 = socket.emit_with_ack("echo", 7).unwrap();
        assert_eq!(n, 7);
        let late: Result<Value, _> =
            socket.emit_with_ack_timeout(Duration::from_millis(100), "never-ack", ());
        assert!(
            matches!(late, Err(sioclient::AckError::Timeout(_))),
            "{late:?}"
        );

        socket.emit("ask-ack", json!({ "n": 5 })).unwrap();
        let confirmed = next_event(&mut events, "ack-confirmed");
        assert_eq!(confirmed.args(), [json!([{ "got": { "n": 5 } }])]);
        socket.disconnect();
    });
}

/// The blocking client over socket.io-msgpack-parser, the server running it.
#[test]
fn the_msgpack_parser_works_without_a_runtime() {
    let options = ServerOptions::default().arg("--parser").arg("msgpack");
    with_server(options, |url| {
        let socket = fast(&url)
            .parser(sioclient::Parser::MsgPack)
            .connect_blocking()
            .unwrap();
        let mut events = socket.events();
        let data = Bytes::from_static(&[7, 8]);
        socket.emit("echo", ("file", data.clone())).unwrap();
        let echo = next_event(&mut events, "echo");
        let (name, bytes): (String, Bytes) = echo.decode().unwrap();
        assert_eq!((name.as_str(), bytes), ("file", data));
        let n: u32 = socket.emit_with_ack("echo", 7).unwrap();
        assert_eq!(n, 7);
        socket.disconnect();
    });
}

#[test]
fn binary_goes_both_ways() {
    with_server(ServerOptions::default(), |url| {
        let socket = fast(&url).connect_blocking().unwrap();
        let mut events = socket.events();
        let data = Bytes::from_static(&[0, 1, 2, 255]);
        socket.emit("echo", ("file", data.clone())).unwrap();
        let echo = next_event(&mut events, "echo");
        let (name, bytes): (String, Bytes) = echo.decode().unwrap();
        assert_eq!((name.as_str(), bytes), ("file", data.clone()));
        let (_, acked): (String, Bytes) = socket
            .emit_with_ack("echo", ("file", data.clone()))
            .unwrap();
        assert_eq!(acked, data);
    });
}

#[test]
fn listeners_are_plain_closures_that_may_call_the_socket() {
    with_server(ServerOptions::default(), |url| {
        let socket = fast(&url).build_blocking().unwrap();
        let (seen_tx, seen) = mpsc::channel();
        socket.on("echo", move |event, socket| {
            let n: u32 = event.decode().unwrap();
            if n < 3 {
                // A blocking call from inside a listener.
                socket.emit("echo", n + 1).unwrap();
            }
            seen_tx.send(n).unwrap();
        });
        let (once_tx, once) = mpsc::channel();
        socket.once("echo", move |event, _socket| {
            once_tx.send(event.decode::<u32>().unwrap()).unwrap();
        });
        socket.connect().unwrap();
        socket.emit("echo", 1).unwrap();
        let got: Vec<u32> = (0..3)
            .map(|_| seen.recv_timeout(TIMEOUT).unwrap())
            .collect();
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(once.recv_timeout(TIMEOUT).unwrap(), 1);
        assert!(once.recv_timeout(Duration::from_millis(100)).is_err());
    });
}

#[test]
fn another_namespace_rides_on_the_same_connection() {
    with_server(ServerOptions::default(), |url| {
        let root = fast(&url).connect_blocking().unwrap();
        let admin = root.io().socket("/admin").unwrap();
        assert_eq!(admin.as_async().namespace(), "/admin");
        let me: Value = admin.emit_with_ack("whoami", ()).unwrap();
        assert_eq!(me["nsp"], "/admin");
        let root_me: Value = root.emit_with_ack("whoami", ()).unwrap();
        assert_eq!(me["engine"], root_me["engine"], "one Engine.IO connection");
    });
}

#[test]
fn recovers_after_the_engine_is_closed() {
    with_server(ServerOptions::default().recovery(), |url| {
        let socket = fast(&url).build_blocking().unwrap();
        // A checkpoint taken inside a listener counts the event it handles.
        let (checkpoints_tx, checkpoints) = mpsc::channel();
        socket.on("tick", move |event, socket| {
            let state = socket.recovery_state().expect("a session");
            let matches = state.offset.as_deref() == event.offset();
            checkpoints_tx.send(matches).unwrap();
        });
        let mut events = socket.events();
        socket.connect().unwrap();
        assert!(matches!(
            events.recv_timeout(TIMEOUT),
            Ok(SocketEvent::Connect { recovered: false })
        ));
        socket
            .emit("stream", json!({ "count": 60, "interval_ms": 5 }))
            .unwrap();
        let mut ticks = Vec::new();
        let mut reconnects = 0;
        while ticks.last() != Some(&60) {
            match events.recv_timeout(TIMEOUT).expect("an event") {
                SocketEvent::Event(event) if event.name() == "tick" => {
                    let n: u64 = event.args()[0].as_u64().unwrap();
                    assert_eq!(event.args().len(), 1, "the offset is stripped");
                    let state = socket.recovery_state_after(&event).unwrap();
                    assert_eq!(state.offset.as_deref(), event.offset());
                    ticks.push(n);
                    if n % 20 == 0 {
                        socket.io().engine().close();
                    }
                }
                SocketEvent::Connect { recovered } => {
                    assert!(recovered, "every reconnect recovers");
                    reconnects += 1;
                }
                _ => {}
            }
        }
        assert_eq!(ticks, (1..=60).collect::<Vec<_>>());
        assert!(reconnects >= 2, "{reconnects} reconnects");
        let checked: Vec<bool> = (0..60)
            .map(|_| checkpoints.recv_timeout(TIMEOUT).unwrap())
            .collect();
        assert!(checked.iter().all(|&matches| matches), "{checked:?}");
        assert!(socket.recovered());
    });
}
