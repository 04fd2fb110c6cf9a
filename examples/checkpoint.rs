//! A service that survives its own restarts without losing or repeating an
//! event: after each event it handles, it saves the session's checkpoint to
//! a file; started again, it resumes from that file and the server replays
//! what the service missed while it was down.
//!
//! `cargo run --example checkpoint` starts the bundled Node server, runs the
//! service, kills it (SIGKILL: no goodbye to the server) while the server
//! goes on sending, and starts it again.
//! `cargo run --example checkpoint -- http://host:port` uses your server: it
//! must have connectionStateRecovery enabled and emit numbered `tick` events.
//!
//! The service alone is `service()` below; `main` only plays the operator.

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sioclient::{ClientBuilder, RecoveryState};
use tokio::process::Command;
use tokio::sync::mpsc;

/// How many ticks the bundled server sends, one every 50 ms.
const COUNT: u64 = 60;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, url, file] = args.as_slice() {
        if flag == "--service" {
            return service(url, Path::new(file)).await;
        }
    }
    let (url, _server) = support::server_from_args(&["--recovery"]).await?;
    let file =
        std::env::temp_dir().join(format!("sioclient-checkpoint-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&file);

    println!("--- starting the service");
    let mut first = start_service(&url, &file)?;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    println!("--- killing the service; the server goes on sending");
    first.kill().await?;
    tokio::time::sleep(Duration::from_millis(800)).await;

    println!("--- starting the service again, from {}", file.display());
    let status = start_service(&url, &file)?.wait().await?;
    let _ = std::fs::remove_file(&file);
    if !status.success() {
        return Err(format!("the service failed: {status}").into());
    }
    Ok(())
}

/// Runs this example's binary as the service, in a process of its own.
fn start_service(url: &str, file: &Path) -> std::io::Result<tokio::process::Child> {
    Command::new(std::env::current_exe()?)
        .arg("--service")
        .arg(url)
        .arg(file)
        .stdout(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
}

/// The service: handles `tick` events and saves its checkpoint after each.
async fn service(url: &str, file: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = ClientBuilder::new(url);
    if let Ok(saved) = std::fs::read_to_string(file) {
        let state: RecoveryState = serde_json::from_str(&saved)?;
        println!("resuming after offset {:?}", state.offset);
        builder = builder.recovery_state(state);
    }
    let file = PathBuf::from(file);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let socket = builder
        .on("tick", move |event, socket| {
            let (file, done_tx) = (file.clone(), done_tx.clone());
            async move {
                let n: u64 = event.decode().unwrap_or_default();
                println!("handled tick {n}");
                // Inside a handler the checkpoint includes the event being
                // handled: saved now, a restart resumes right after it.
                if let Some(state) = socket.recovery_state() {
                    if let Err(error) = save(&file, &state).await {
                        eprintln!("cannot save the checkpoint: {error}");
                    }
                }
                if n >= COUNT {
                    let _ = done_tx.send(());
                }
            }
        })
        .connect()
        .await?;
    println!("connected, recovered: {}", socket.recovered());
    if !socket.recovered() {
        // A fresh session: ask the bundled server for the ticks.
        socket
            .emit("stream", json!({ "count": COUNT, "interval_ms": 50 }))
            .await?;
    }
    done.recv().await;
    println!("all {COUNT} ticks handled, each once");
    socket.disconnect().await;
    Ok(())
}

/// Replaces the checkpoint file in one step, so a kill never leaves half a file.
async fn save(file: &Path, state: &RecoveryState) -> std::io::Result<()> {
    let partial = file.with_extension("partial");
    tokio::fs::write(&partial, serde_json::to_vec(state)?).await?;
    tokio::fs::rename(&partial, file).await
}
