//! The baseline: a client written straight on tokio-tungstenite 0.30 that does
//! the least Socket.IO it can.
//!
//! - connect: waits for the open packet (any text starting with `0`), sends
//!   `40`, waits for a text starting with `40`;
//! - receive, minimal parse: checks that the frame starts with `42["tick",`
//!   and parses the decimal digits that follow (the event's counter), which
//!   must count up from 0; the object and the offset are not looked at;
//! - receive, JSON parse (a reference point, not a target): parses the text
//!   after `42` into a `serde_json::Value` and reads the name and the counter
//!   from it, which is what any client that hands arguments to an application
//!   as JSON values has to do;
//! - emit: formats `42["tick",i,{"user":"alice","text":"hello world"}]` into a
//!   fresh `String` per event, `feed`s every frame and `flush`es once at the end;
//! - ack: sends `42<i>["x",i]` with `send` (a flush each), then reads until a
//!   text starting with `43<i>`; one round trip at a time;
//! - idle: connects with a 4 KiB read buffer and spawns one task per
//!   connection that reads (and drops) whatever arrives, as a real client
//!   must in order to answer pings.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn url(port: u16, query: &str) -> String {
    format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket&{query}")
}

/// Opens the WebSocket (TCP_NODELAY on) and joins the `/` namespace.
async fn connect(port: u16, query: &str, config: WebSocketConfig) -> Ws {
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(url(port, query), Some(config), true)
            .await
            .expect("raw client: connect");
    wait_for(&mut ws, "0").await;
    ws.send(Message::text("40"))
        .await
        .expect("raw client: send 40");
    wait_for(&mut ws, "40").await;
    ws
}

async fn wait_for(ws: &mut Ws, prefix: &str) {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(prefix) => return,
            Some(Ok(_)) => {}
            other => panic!("raw client: waiting for {prefix:?}, got {other:?}"),
        }
    }
}

/// How the raw client looks at each received event.
#[derive(Clone, Copy)]
pub enum Parse {
    /// The `42["tick",` prefix and the counter's digits.
    Minimal,
    /// The whole payload into a `serde_json::Value`.
    Json,
}

fn tick_minimal(text: &str) -> Option<usize> {
    let rest = text.strip_prefix(r#"42["tick","#)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}

fn tick_json(text: &str) -> Option<usize> {
    let value: Value = serde_json::from_str(text.strip_prefix("42")?).ok()?;
    let items = value.as_array()?;
    if items.first()?.as_str()? != "tick" {
        return None;
    }
    usize::try_from(items.get(1)?.as_u64()?).ok()
}

/// Receives `n` blasted events; the time from `go` to the last one.
pub async fn receive(port: u16, n: usize, parse: Parse) -> Duration {
    let mut ws = connect(
        port,
        &format!("mode=blast&n={n}"),
        WebSocketConfig::default(),
    )
    .await;
    let start = Instant::now();
    ws.send(Message::text(r#"42["go"]"#))
        .await
        .expect("raw client: send go");
    let mut expected = 0;
    while expected < n {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let tick = match parse {
                    Parse::Minimal => tick_minimal(&text),
                    Parse::Json => tick_json(&text),
                };
                assert_eq!(tick, Some(expected), "raw client: events out of order");
                expected += 1;
            }
            Some(Ok(_)) => {}
            other => panic!("raw client: receive ended early: {other:?}"),
        }
    }
    let elapsed = start.elapsed();
    let _ = ws.close(None).await;
    elapsed
}

/// Writes `n` events, batched; the time until the server has them all.
pub async fn emit(port: u16, n: usize, reports: &mut mpsc::UnboundedReceiver<Instant>) -> Duration {
    let mut ws = connect(
        port,
        &format!("mode=sink&n={n}"),
        WebSocketConfig::default(),
    )
    .await;
    let start = Instant::now();
    for i in 0..n {
        let mut frame = String::with_capacity(64);
        let _ = write!(
            frame,
            r#"42["tick",{i},{{"user":"alice","text":"hello world"}}]"#
        );
        ws.feed(Message::text(frame))
            .await
            .expect("raw client: feed");
    }
    ws.flush().await.expect("raw client: flush");
    let done = reports.recv().await.expect("server report");
    let _ = ws.close(None).await;
    done - start
}

/// `n` sequential ack round trips.
pub async fn ack(port: u16, n: usize) -> Duration {
    let mut ws = connect(port, "mode=ack", WebSocketConfig::default()).await;
    let start = Instant::now();
    for i in 0..n {
        ws.send(Message::text(format!(r#"42{i}["x",{i}]"#)))
            .await
            .expect("raw client: send");
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    if let Some(rest) = text.strip_prefix("43") {
                        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
                        assert_eq!(rest[..digits].parse::<usize>().ok(), Some(i));
                        break;
                    }
                }
                Some(Ok(_)) => {}
                other => panic!("raw client: ack ended early: {other:?}"),
            }
        }
    }
    let elapsed = start.elapsed();
    let _ = ws.close(None).await;
    elapsed
}

/// `n` sequential ack round trips, the latency of each, while a second
/// connection emits `rate` events a second (a burst every millisecond) to
/// a sink that never reports.
pub async fn ack_latency_under_load(port: u16, n: usize, rate: usize) -> Vec<Duration> {
    let mut ws = connect(port, "mode=ack", WebSocketConfig::default()).await;
    let mut load = connect(port, "mode=sink&n=0", WebSocketConfig::default()).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let emitter = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(1));
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                for _ in 0..rate / 1000 {
                    let mut frame = String::with_capacity(64);
                    let _ = write!(
                        frame,
                        r#"42["tick",{i},{{"user":"alice","text":"hello world"}}]"#
                    );
                    i += 1;
                    if load.feed(Message::text(frame)).await.is_err() {
                        return;
                    }
                }
                if load.flush().await.is_err() {
                    return;
                }
            }
            let _ = load.close(None).await;
        })
    };
    let mut latencies = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        ws.send(Message::text(format!(r#"42{i}["x",{i}]"#)))
            .await
            .expect("raw client: send");
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.starts_with("43") => break,
                Some(Ok(_)) => {}
                other => panic!("raw client: ack ended early: {other:?}"),
            }
        }
        latencies.push(started.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = emitter.await;
    let _ = ws.close(None).await;
    latencies
}

/// Opens one idle connection with a 4 KiB read buffer and a task reading it.
pub async fn idle(port: u16) {
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let mut ws = connect(port, "mode=idle", config).await;
    tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
}
