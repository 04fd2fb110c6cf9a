//! The load server: the in-process Engine.IO server of
//! `tests/support/engine_server.rs` over TCP, on a runtime thread of its own.
//!
//! What a connection does depends on the `mode` query parameter of the
//! WebSocket URL:
//!
//! - `blast&n=N`: after the client's `42["go"]`, writes the first N
//!   pre-encoded events `42["tick",i,{"user":"alice","text":"hello world"},"Q8Ftu<i>"]`
//!   with `feed` and one `flush` (tungstenite writes out whenever its
//!   128 KiB write buffer fills);
//! - `sink&n=N`: counts the `42...` frames it receives and reports the
//!   instant the Nth arrived on the report channel;
//! - `ack`: answers each `42<id>[...]` with `43<id>["ok"]`, one write and flush each;
//! - `idle` (or nothing): reads until the client goes.
//!
//! The server never pings: with the announced 25 s interval no ping would be
//! due within a run.

use std::sync::Arc;
use std::time::Instant;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Utf8Bytes};

#[path = "../../../tests/support/engine_server.rs"]
mod engine_server;

pub use engine_server::{blast_frame, blast_frame_msgpack, CONNECT_REPLY};
use engine_server::{Mode, OPEN};

/// The running server.
pub struct Server {
    /// Port of the listener for throughput runs (tungstenite's default buffers).
    pub port: u16,
    /// Port of the listener for idle connections (4 KiB read buffers, so that
    /// thousands of them stay cheap on the server's side as well).
    pub idle_port: u16,
    /// Port of the HTTP long-polling listener.
    pub polling_port: u16,
    /// When a `sink` connection has received its N events.
    pub reports: mpsc::UnboundedReceiver<Instant>,
}

struct Shared {
    blast: Arc<[Utf8Bytes]>,
    /// The same events in socket.io-msgpack-parser's form.
    blast_msgpack: Arc<[Bytes]>,
    reports: mpsc::UnboundedSender<Instant>,
}

/// Starts the server on a thread of its own with a single-threaded runtime,
/// pinned to `cpu` if given. `blast` is the most events any blast asks for,
/// `blast_msgpack` the most a msgpack one does: they are all encoded here,
/// before any timing starts.
pub fn start(blast: usize, blast_msgpack: usize, cpu: Option<usize>) -> Server {
    let frames: Arc<[Utf8Bytes]> = (0..blast).map(|i| blast_frame(i).into()).collect();
    let msgpack: Arc<[Bytes]> = (0..blast_msgpack)
        .map(|i| blast_frame_msgpack(i).into())
        .collect();
    let (report_tx, reports) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        blast: frames,
        blast_msgpack: msgpack,
        reports: report_tx,
    });
    let (ports_tx, ports_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            if let Some(cpu) = cpu {
                crate::sys::pin_current_thread(cpu);
            }
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let bulk = listen().expect("bind the bulk listener");
                let idle = listen().expect("bind the idle listener");
                let polling = listen().expect("bind the polling listener");
                let ports = (
                    bulk.local_addr().expect("address").port(),
                    idle.local_addr().expect("address").port(),
                    polling.local_addr().expect("address").port(),
                );
                let polling_server =
                    crate::polling::Polling::new(shared.blast.clone(), shared.reports.clone());
                tokio::spawn(polling_server.accept_loop(polling));
                ports_tx.send(ports).expect("report the ports");
                let bulk_config = WebSocketConfig::default();
                let idle_config = WebSocketConfig::default().read_buffer_size(4096);
                tokio::spawn(accept_loop(idle, idle_config, shared.clone()));
                accept_loop(bulk, bulk_config, shared).await;
            });
        })
        .expect("spawn the server thread");
    let (port, idle_port, polling_port) = ports_rx.recv().expect("server ports");
    Server {
        port,
        idle_port,
        polling_port,
        reports,
    }
}

fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(([127, 0, 0, 1], 0).into())?;
    // A long backlog: the idle scenario opens hundreds of connections at once.
    socket.listen(8192)
}

async fn accept_loop(listener: TcpListener, config: WebSocketConfig, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(serve(stream, config, shared.clone()));
            }
            Err(error) => {
                eprintln!("server: accept failed: {error}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

async fn serve(stream: TcpStream, config: WebSocketConfig, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let mut query = String::new();
    // The signature is tungstenite's Callback, error type included.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        query = request.uri().query().unwrap_or_default().to_owned();
        Ok(response)
    };
    let Ok(ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await
    else {
        return;
    };
    let mut mode = "idle";
    let mut n = 0usize;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("mode", value)) => mode = mode_name(value),
            Some(("n", value)) => n = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    let mode = match mode {
        "blast" => Mode::Blast {
            frames: shared.blast.clone(),
            msgpack: shared.blast_msgpack.clone(),
            n,
        },
        "sink" => Mode::Sink {
            n,
            report: shared.reports.clone(),
        },
        "ack" => Mode::Ack { ignore: 0 },
        _ => Mode::Idle,
    };
    engine_server::serve(ws, OPEN, mode, None).await;
}

fn mode_name(value: &str) -> &'static str {
    match value {
        "blast" => "blast",
        "sink" => "sink",
        "ack" => "ack",
        _ => "idle",
    }
}
