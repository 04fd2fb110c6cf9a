//! The rest of the JS client's surface against the real server: catch-all
//! listeners, custom path, query and headers on every connect.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::client::{connected, next_connect, next_disconnect, next_event};
use common::{within, ServerOptions, TestServer, TIMEOUT};
use futures::StreamExt;
use serde_json::Value;
use sioclient::{ClientBuilder, SocketEvent};

#[tokio::test]
async fn on_any_sees_every_event_in_order_before_the_named_handler() {
    let server = TestServer::start(ServerOptions::default()).await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (any_log, named_log) = (seen.clone(), seen.clone());
    let socket = connected(
        ClientBuilder::new(server.url())
            .on_any(move |event, _socket| {
                let log = any_log.clone();
                async move { log.lock().unwrap().push(format!("any {}", event.name())) }
            })
            .on("echo", move |event, _socket| {
                let log = named_log.clone();
                async move {
                    log.lock()
                        .unwrap()
                        .push(format!("named {}", event.args()[0]))
                }
            }),
    )
    .await;
    let mut events = socket.events();
    socket.emit("multi", ()).await.unwrap();
    for n in 1..=3 {
        socket.emit("echo", n).await.unwrap();
    }
    for _ in 1..=3 {
        next_event(&mut events, "echo").await;
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            "any multi",
            "any echo",
            "named 1",
            "any echo",
            "named 2",
            "any echo",
            "named 3"
        ]
    );

    // A second catch-all runs after the first; removing one leaves the other.
    let second_log = seen.clone();
    let second = socket.on_any(move |event, _socket| {
        let log = second_log.clone();
        async move { log.lock().unwrap().push(format!("second {}", event.name())) }
    });
    seen.lock().unwrap().clear();
    socket.emit("multi", ()).await.unwrap();
    next_event(&mut events, "multi").await;
    assert_eq!(*seen.lock().unwrap(), ["any multi", "second multi"]);
    assert!(socket.remove_listener(second));
    seen.lock().unwrap().clear();
    socket.emit("multi", ()).await.unwrap();
    next_event(&mut events, "multi").await;
    assert_eq!(*seen.lock().unwrap(), ["any multi"]);
}

#[tokio::test]
async fn listeners_add_up_run_in_order_and_come_off_one_or_all_at_once() {
    let server = TestServer::start(ServerOptions::default()).await;
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = |tag: &'static str| {
        let seen = seen.clone();
        move |event: sioclient::Event, _socket| {
            let seen = seen.clone();
            async move {
                seen.lock()
                    .unwrap()
                    .push(format!("{tag} {}", event.args()[0]))
            }
        }
    };
    let socket = connected(ClientBuilder::new(server.url()).on("echo", log("builder"))).await;
    let mut events = socket.events();
    let first = socket.on("echo", log("first"));
    socket.once("echo", log("once"));
    socket.on_any(log("any"));
    socket.prepend_any(log("front"));
    assert_eq!(socket.listeners("echo").len(), 3);
    assert_eq!(socket.listeners_any().len(), 2);
    async fn round(
        socket: &sioclient::Socket,
        events: &mut sioclient::EventStream,
        seen: &Mutex<Vec<String>>,
        n: u32,
    ) -> Vec<String> {
        seen.lock().unwrap().clear();
        socket.emit("echo", n).await.unwrap();
        next_event(events, "echo").await;
        seen.lock().unwrap().clone()
    }
    let mut round = async |n| round(&socket, &mut events, &seen, n).await;
    assert_eq!(
        round(1).await,
        ["front 1", "any 1", "builder 1", "first 1", "once 1"]
    );
    // The once listener is gone after its one run.
    assert_eq!(socket.listeners("echo").len(), 2);
    assert_eq!(round(2).await, ["front 2", "any 2", "builder 2", "first 2"]);
    assert!(socket.remove_listener(first));
    assert!(!socket.remove_listener(first));
    assert_eq!(round(3).await, ["front 3", "any 3", "builder 3"]);
    socket.off_any();
    socket.off("echo");
    assert!(socket.listeners("echo").is_empty());
    assert!(round(4).await.is_empty());
}

#[tokio::test]
async fn a_lifecycle_listener_comes_off_by_its_id() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket =
        connected(ClientBuilder::new(server.url()).reconnection_delay(Duration::from_millis(20)))
            .await;
    let connects = Arc::new(Mutex::new(0));
    let counter = connects.clone();
    let id = socket.on_lifecycle(move |event, _socket| {
        let counter = counter.clone();
        async move {
            if let SocketEvent::Connect { .. } = event {
                *counter.lock().unwrap() += 1;
            }
        }
    });
    let mut events = socket.events();
    socket.io().engine().close();
    next_connect(&mut events).await;
    assert_eq!(*connects.lock().unwrap(), 1);
    assert!(socket.remove_listener(id));
    socket.io().engine().close();
    next_connect(&mut events).await;
    assert_eq!(*connects.lock().unwrap(), 1);
}

#[tokio::test]
async fn path_query_and_headers_go_with_every_connect() {
    let server =
        TestServer::start(ServerOptions::default().arg("--path").arg("/custom-path/")).await;
    let socket = connected(
        ClientBuilder::new(format!("{}?from=url", server.url()))
            .path("/custom-path/")
            .query("token", "a b&c")
            .header("x-client", "sioclient-test")
            .reconnection_delay(Duration::from_millis(20)),
    )
    .await;
    let check = |me: &Value| {
        assert_eq!(me["query"]["from"], "url");
        assert_eq!(me["query"]["token"], "a b&c");
        assert_eq!(me["query"]["transport"], "websocket");
        assert_eq!(me["headers"]["x-client"], "sioclient-test");
    };
    check(&socket.emit_with_ack("whoami", ()).await.unwrap());
    let mut events = socket.events();
    socket.io().engine().close();
    next_connect(&mut events).await;
    check(&socket.emit_with_ack("whoami", ()).await.unwrap());
}

#[tokio::test]
async fn an_ack_that_timed_out_in_the_offline_buffer_is_never_sent() {
    let server = TestServer::start(ServerOptions::default().arg("--log-packets")).await;
    let proxy = common::Proxy::start(server.addr()).await;
    let socket =
        connected(ClientBuilder::new(proxy.url()).reconnection_delay(Duration::from_millis(20)))
            .await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    next_disconnect(&mut events).await;
    let stale: Result<Value, _> = socket
        .timeout(Duration::from_millis(100))
        .emit_with_ack("echo", "stale")
        .await;
    assert!(
        matches!(stale, Err(sioclient::AckError::Timeout(_))),
        "{stale:?}"
    );
    proxy.set_refuse(false);
    next_connect(&mut events).await;
    let fresh: String = socket.emit_with_ack("echo", "fresh").await.unwrap();
    assert_eq!(fresh, "fresh");
    let sent: Vec<Value> = server
        .lines()
        .into_iter()
        .filter(|l| l["ev"] == "packet")
        .collect();
    assert!(
        !sent
            .iter()
            .any(|l| l["data"].as_str().unwrap_or("").contains("stale")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn on_any_outgoing_sees_each_emit_as_it_goes_out() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (log, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let socket = connected(ClientBuilder::new(server.url()).on_any_outgoing(
        move |event, _socket| {
            let _ = log.send(format!("{} {}", event.name(), Value::from(event.args())));
            async {}
        },
    ))
    .await;
    socket.emit("echo", ("a", 1)).await.unwrap();
    let _: u32 = socket.emit_with_ack("echo", 2).await.unwrap();
    socket.emit("echo", ()).await.unwrap();
    let _: Value = socket.emit_with_ack("whoami", ()).await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(
            within(TIMEOUT, "outgoing listener", heard.recv())
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        seen,
        [r#"echo ["a",1]"#, "echo [2]", "echo []", "whoami []"]
    );
}

#[tokio::test]
async fn outgoing_listeners_run_in_order_and_can_be_listed() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (log, mut heard) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
    let tagged = |tag: &'static str| {
        let log = log.clone();
        move |_event, _socket| {
            let _ = log.send(tag);
            async {}
        }
    };
    let socket = connected(ClientBuilder::new(server.url())).await;
    let last = socket.on_any_outgoing(tagged("second"));
    let first = socket.prepend_any_outgoing(tagged("first"));
    assert_eq!(socket.listeners_any_outgoing(), [first, last]);
    socket.emit("echo", 1).await.unwrap();
    let mut order = Vec::new();
    for _ in 0..2 {
        order.push(within(TIMEOUT, "outgoing", heard.recv()).await.unwrap());
    }
    assert_eq!(order, ["first", "second"]);
    assert!(socket.remove_listener(first));
    assert_eq!(socket.listeners_any_outgoing(), [last]);
    socket.off_any_outgoing();
    assert!(socket.listeners_any_outgoing().is_empty());
}

#[tokio::test]
async fn a_built_socket_connects_when_asked_with_everything_in_place() {
    let server = TestServer::start(ServerOptions::default()).await;
    let socket = ClientBuilder::new(server.url())
        .auth(serde_json::json!({"welcome": 2}))
        .build()
        .expect("valid options");
    assert!(!socket.connected());
    assert_eq!(socket.io().engine().transport(), None, "no link yet");
    let mut events = socket.events();
    within(TIMEOUT, "connect", socket.connect())
        .await
        .expect("connect");
    assert!(socket.connected());
    // The stream taken before the connect sees it, and what the server
    // emits on connection.
    assert!(matches!(
        events.next().await,
        Some(SocketEvent::Connect { recovered: false })
    ));
    for n in 1..=2 {
        let welcome = next_event(&mut events, "welcome").await;
        assert_eq!(welcome.args()[0], n);
    }
}
