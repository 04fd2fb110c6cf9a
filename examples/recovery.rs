//! Connection state recovery, step by step: the link is dropped on purpose
//! twice, and the events the server sent meanwhile arrive after each
//! recovered reconnect, in order and once.
//!
//! `cargo run --example recovery` starts the bundled Node server with
//! connectionStateRecovery (Node.js and npm needed).
//! `cargo run --example recovery -- http://host:port` uses yours: it must have
//! connectionStateRecovery enabled and emit `tick` events with a number.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use sioclient::{ClientBuilder, SocketEvent};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, server) = support::server_from_args(&["--recovery"]).await?;
    println!("connecting to {url}");
    let (last_tx, mut last_rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let socket = ClientBuilder::new(&url)
        .reconnection_delay(Duration::from_millis(500))
        .reconnection_delay_max(Duration::from_secs(2))
        .on_lifecycle(move |event, socket| async move {
            let at = start.elapsed().as_secs_f32();
            match event {
                SocketEvent::Connect { recovered } => {
                    println!(
                        "[{at:5.2}s] connected as {:?}, recovered: {recovered}",
                        socket.id()
                    );
                }
                SocketEvent::Disconnect(reason) => println!("[{at:5.2}s] disconnected: {reason}"),
                SocketEvent::ReconnectAttempt(n) => {
                    println!("[{at:5.2}s] reconnection attempt {n}")
                }
                _ => {}
            }
        })
        .on("tick", move |event, _socket| {
            let last_tx = last_tx.clone();
            async move {
                // Ticks missed while away arrive in a burst right after the
                // recovered connect: same time stamp, consecutive numbers.
                let at = start.elapsed().as_secs_f32();
                let n: u64 = event.decode().unwrap_or_default();
                println!(
                    "[{at:5.2}s] tick {n} (offset {:?})",
                    event.offset().unwrap_or("-")
                );
                let _ = last_tx.send(n);
            }
        })
        .connect()
        .await?;

    const COUNT: u64 = 40;
    if server.is_some() {
        // The bundled server streams numbered ticks to this socket on request.
        socket
            .emit("stream", json!({ "count": COUNT, "interval_ms": 100 }))
            .await?;
    }
    for round in 1..=2 {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        println!("--- engine().close(), round {round}: the server keeps sending ---");
        socket.io().engine().close();
    }
    // Wait for the last tick; every number arrives once, in order.
    while let Some(n) = last_rx.recv().await {
        if n >= COUNT {
            break;
        }
    }
    println!("recovered: {}", socket.recovered());
    socket.disconnect().await;
    Ok(())
}
