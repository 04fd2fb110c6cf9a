//! Against a real python-socketio 5 server (python-engineio 4) over HTTP
//! long-polling. python-engineio refuses a POST of more than 16 packets
//! (`max_decode_packets`), logs an error and still answers 200 OK, so a
//! client that batches more loses them without a word.

#![cfg(feature = "polling")]

mod common;

use std::time::Duration;

use common::client::connected;
use common::{within, ServerOptions, TestServer, TIMEOUT};
use futures::future::join_all;
use sioclient::{ClientBuilder, Socket, Transport};

async fn server() -> TestServer {
    TestServer::start(ServerOptions::new().python_socketio()).await
}

async fn client(server: &TestServer) -> Socket {
    connected(ClientBuilder::new(server.url()).transports([Transport::Polling])).await
}

/// No payload was refused by python-engineio.
fn nothing_refused(server: &TestServer) {
    let refused: Vec<_> = server
        .lines()
        .into_iter()
        .filter(|line| line["ev"] == "engine_error")
        .collect();
    assert!(refused.is_empty(), "the server refused: {refused:?}");
}

#[tokio::test]
async fn quick_emits_arrive_complete_and_in_order() {
    let server = server().await;
    let socket = client(&server).await;
    for n in 0..100u32 {
        socket.emit("seq", n).await.unwrap();
    }
    let seen: Vec<u32> = within(
        TIMEOUT,
        "the report",
        socket.emit_with_ack("seq-report", ()),
    )
    .await
    .expect("the report");
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    nothing_refused(&server);
}

#[tokio::test]
async fn concurrent_acks_all_come_back() {
    let server = server().await;
    let socket = client(&server).await;
    let asks = (0..100u32).map(|n| {
        let socket = socket.clone();
        async move {
            socket
                .timeout(Duration::from_secs(15))
                .emit_with_ack::<u32, _>("echo", n)
                .await
        }
    });
    let replies = within(TIMEOUT, "100 acks", join_all(asks)).await;
    for (n, reply) in replies.into_iter().enumerate() {
        assert_eq!(reply.expect("acked"), n as u32);
    }
    nothing_refused(&server);
}
