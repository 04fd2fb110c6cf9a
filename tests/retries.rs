//! At-least-once delivery (`retries` and `ack_timeout`) against the real
//! server, checked on the exact packets it received: the four cases of the
//! reference client's retry tests, plus volatile emits.

mod common;

use std::time::Duration;

use common::client::{connected, next_connect, next_disconnect};
use common::{ev, within, Proxy, ServerOptions, TestServer, TIMEOUT};
use serde_json::Value;
use sioclient::{ClientBuilder, EmitError, SocketEvent};

fn logging_server() -> ServerOptions {
    ServerOptions::default().arg("--log-packets")
}

fn retrying(url: &str, retries: u32) -> ClientBuilder {
    ClientBuilder::new(url)
        .retries(retries)
        .ack_timeout(Duration::from_millis(50))
        .reconnection_delay(Duration::from_millis(20))
}

/// The Socket.IO packets the server received, in order, `40` excluded.
fn packets(server: &TestServer) -> Vec<String> {
    server
        .lines()
        .iter()
        .filter(|line| line["ev"] == "packet")
        .filter_map(|line| line["data"].as_str().map(str::to_owned))
        .filter(|data| !data.starts_with('0'))
        .collect()
}

#[tokio::test]
async fn emits_go_out_one_at_a_time_with_fresh_ids_and_get_their_replies() {
    let server = TestServer::start(logging_server()).await;
    let socket = connected(retrying(&server.url(), 1)).await;
    let replies =
        futures::future::join_all((1..=3u32).map(|n| socket.emit_with_ack::<u32, _>("echo", n)))
            .await;
    let replies: Vec<u32> = replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(replies, [1, 2, 3]);
    assert_eq!(
        packets(&server),
        [r#"20["echo",1]"#, r#"21["echo",2]"#, r#"22["echo",3]"#]
    );
}

#[tokio::test]
async fn an_event_never_acked_is_sent_retries_plus_one_times_then_fails() {
    let server = TestServer::start(logging_server()).await;
    let socket = connected(retrying(&server.url(), 3)).await;
    let result = within(TIMEOUT, "tries", socket.emit("never-ack", ())).await;
    match result {
        Err(EmitError::Unacknowledged { tries }) => assert_eq!(tries, 4),
        other => panic!("expected Unacknowledged, got {other:?}"),
    }
    server.wait_for_nth(ev("never-ack"), 4, TIMEOUT).await;
    assert_eq!(
        packets(&server),
        [
            r#"20["never-ack"]"#,
            r#"21["never-ack"]"#,
            r#"22["never-ack"]"#,
            r#"23["never-ack"]"#
        ]
    );
    // The queue moves on after a failure.
    let n: u32 = socket.emit_with_ack("echo", 5).await.unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn nothing_is_sent_while_disconnected_and_the_queued_emit_succeeds_after_connect() {
    let server = TestServer::start(logging_server()).await;
    let socket = connected(retrying(&server.url(), 3)).await;
    let mut events = socket.events();
    socket.disconnect().await;
    next_disconnect(&mut events).await;
    let pending = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<String, _>("echo", "queued").await })
    };
    // That no try is spent while disconnected is shown on the paused clock
    // (src/driver/tests.rs).
    assert!(!packets(&server).iter().any(|p| p.contains("queued")));
    within(TIMEOUT, "connect", socket.connect()).await.unwrap();
    assert_eq!(
        within(TIMEOUT, "reply", pending).await.unwrap().unwrap(),
        "queued"
    );
    let sent: Vec<String> = packets(&server)
        .into_iter()
        .filter(|p| p.contains("queued"))
        .collect();
    assert_eq!(sent, [r#"20["echo","queued"]"#]);
}

#[tokio::test]
async fn an_emit_from_the_connect_handler_is_sent_once() {
    let server = TestServer::start(logging_server()).await;
    let (done_tx, mut done) = tokio::sync::mpsc::unbounded_channel();
    let _socket = connected(
        retrying(&server.url(), 3).on_lifecycle(move |event, socket| {
            let done_tx = done_tx.clone();
            async move {
                if let SocketEvent::Connect { .. } = event {
                    let reply: Result<String, _> = socket.emit_with_ack("echo", "hello").await;
                    let _ = done_tx.send(reply);
                }
            }
        }),
    )
    .await;
    let reply = within(TIMEOUT, "reply", done.recv()).await.unwrap();
    assert_eq!(reply.unwrap(), "hello");
    assert_eq!(packets(&server), [r#"20["echo","hello"]"#]);
}

#[tokio::test]
async fn the_queue_survives_a_lost_link_and_is_resent_first() {
    let server = TestServer::start(logging_server()).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(
        ClientBuilder::new(proxy.url())
            .retries(5)
            .ack_timeout(Duration::from_secs(10))
            .reconnection_delay(Duration::from_millis(20)),
    )
    .await;
    let mut events = socket.events();
    // never-ack holds the queue: the link drops while it is in flight.
    let stuck = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit("never-ack", ()).await })
    };
    let echo = {
        let socket = socket.clone();
        tokio::spawn(async move { socket.emit_with_ack::<u32, _>("echo", 9).await })
    };
    server.wait_for(ev("never-ack"), TIMEOUT).await;
    proxy.drop_all();
    next_connect(&mut events).await;
    server.wait_for_nth(ev("never-ack"), 2, TIMEOUT).await;
    assert!(!echo.is_finished(), "the echo waits behind the stuck event");
    socket.disconnect().await;
    drop(socket);
    stuck.abort();
    echo.abort();
}

#[tokio::test]
async fn volatile_emits_are_never_retried_nor_queued() {
    let server = TestServer::start(logging_server()).await;
    let proxy = Proxy::start(server.addr()).await;
    let socket = connected(retrying(&proxy.url(), 3)).await;
    socket.volatile().emit("echo", "live").await.unwrap();
    server
        .wait_for(
            |l| l["ev"] == "packet" && l["data"] == r#"2["echo","live"]"#,
            TIMEOUT,
        )
        .await;
    let mut events = socket.events();
    proxy.set_refuse(true);
    proxy.drop_all();
    next_disconnect(&mut events).await;
    let offline = socket.volatile().emit("echo", "offline").await;
    assert!(
        matches!(offline, Err(EmitError::VolatileDropped)),
        "{offline:?}"
    );
    proxy.set_refuse(false);
    next_connect(&mut events).await;
    let _: Value = socket.emit_with_ack("echo", "after").await.unwrap();
    let sent = packets(&server);
    assert!(sent.contains(&r#"2["echo","live"]"#.to_owned()), "{sent:?}");
    assert!(!sent.iter().any(|p| p.contains("offline")), "{sent:?}");
    assert_eq!(sent.iter().filter(|p| p.contains("live")).count(), 1);
}
