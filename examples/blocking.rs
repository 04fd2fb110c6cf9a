//! The blocking client, for programs without an async runtime: connect,
//! listeners as plain closures, emits and acks that block, and an iterator
//! of events; then recovery after the link is dropped on purpose.
//!
//! `cargo run --example blocking` starts the bundled Node server with
//! connectionStateRecovery (the example itself starts it on a runtime; the
//! client has its own); `cargo run --example blocking -- http://host:port`
//! uses yours, which should echo `echo` events and stream numbered `tick`
//! events on `stream`.

mod support;

use std::time::Duration;

use serde_json::json;
use sioclient::{ClientBuilder, SocketEvent};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Only for starting the bundled server; the client needs no runtime.
    let runtime = tokio::runtime::Runtime::new()?;
    let (url, _server) = runtime.block_on(support::server_from_args(&["--recovery"]))?;

    let socket = ClientBuilder::new(&url)
        .reconnection_delay(Duration::from_millis(200))
        .build_blocking()?;
    socket.on("echo", |event, _socket| {
        println!("listener: echo {:?}", event.args());
    });
    let mut events = socket.events();
    socket.connect()?;
    println!("connected as {:?}", socket.id());

    socket.emit("echo", "hello")?;
    let n: u32 = socket.emit_with_ack("echo", 42)?;
    println!("ack: {n}");

    socket.emit("stream", json!({ "count": 30, "interval_ms": 20 }))?;
    for event in events.by_ref() {
        match event {
            SocketEvent::Event(event) if event.name() == "tick" => {
                let n: u64 = event.decode()?;
                println!("tick {n}");
                if n == 10 {
                    println!("--- engine().close(): the server goes on sending");
                    socket.io().engine().close();
                }
                if n == 30 {
                    break;
                }
            }
            SocketEvent::Connect { recovered } => println!("connected, recovered: {recovered}"),
            SocketEvent::Disconnect(reason) => println!("disconnected: {reason}"),
            _ => {}
        }
    }
    socket.disconnect();
    Ok(())
}
