//! Connect, emit, receive and acknowledge.
//!
//! `cargo run --example echo` starts the bundled Node server (Node.js and npm
//! needed); `cargo run --example echo -- http://host:port` uses yours, which
//! should echo `echo` events back and answer their acks with the same arguments.

mod support;

use std::time::Duration;

use futures::StreamExt;
use serde_json::json;
use sioclient::{ClientBuilder, SocketEvent};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, _server) = support::server_from_args(&[]).await?;
    println!("connecting to {url}");
    let socket = ClientBuilder::new(&url)
        .on("echo", |event, _socket| async move {
            println!("handler got {}: {:?}", event.name(), event.args());
        })
        .connect()
        .await?;
    println!("connected as {:?}", socket.id());

    let mut events = socket.events();
    socket.emit("echo", ("hello", 42)).await?;
    let (text, n): (String, u32) = socket.emit_with_ack("echo", ("with ack", 7)).await?;
    println!("ack reply: {text} {n}");

    let reply: serde_json::Value = socket
        .timeout(Duration::from_secs(2))
        .emit_with_ack("echo", json!({"nested": [1, 2, 3]}))
        .await?;
    println!("ack reply: {reply}");

    // The stream sees the same events as the handlers, in order.
    let mut echoes = 0;
    while let Some(event) = events.next().await {
        if let SocketEvent::Event(event) = event {
            println!("stream got {}: {:?}", event.name(), event.args());
            echoes += 1;
            if echoes == 3 {
                break;
            }
        }
    }
    socket.disconnect().await;
    Ok(())
}
