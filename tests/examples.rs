//! Every example runs to success against the bundled server it starts, as
//! a user runs it. `cargo test` builds the examples before running tests.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `target/<profile>/examples/<name>` and fails on a non-zero exit or
/// after two minutes.
fn run_example(name: &str) {
    // This binary is target/<profile>/deps/examples-<hash>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path: PathBuf = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} is not built", path.display());
    let child = Command::new(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Read to the end on a thread of its own, so a full pipe never stalls it.
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    let output = match done.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("example {name} did not finish within two minutes");
        }
    };
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn echo() {
    run_example("echo");
}

#[test]
fn recovery() {
    run_example("recovery");
}

#[test]
fn upload() {
    run_example("upload");
}

#[test]
fn namespaces() {
    run_example("namespaces");
}

#[test]
fn checkpoint() {
    run_example("checkpoint");
}

#[test]
fn tls() {
    run_example("tls");
}

#[test]
fn blocking() {
    run_example("blocking");
}

#[test]
fn msgpack() {
    run_example("msgpack");
}
