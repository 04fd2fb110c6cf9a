//! The blocking client's runtime thread ends with its last handle: a
//! program that makes and drops clients does not collect threads. A test
//! binary of its own, so no other test's clients are counted.

#![cfg(target_os = "linux")]

mod common;

use std::time::{Duration, Instant};

use common::{ServerOptions, TestServer};
use sioclient::ClientBuilder;

/// The threads of this process named as the blocking client names its
/// runtime thread. A thread that runtime is just spawning for its blocking
/// pool carries the same name until it names itself (Linux copies the
/// creator's name), so a count can only be trusted once it settles.
fn client_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "sioclient")
        .count()
}

#[test]
fn dropping_the_last_handle_ends_the_runtime_thread() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start(ServerOptions::default()));
    for _ in 0..5 {
        let socket = ClientBuilder::new(server.url()).connect_blocking().unwrap();
        let clone = socket.clone();
        socket.on("echo", |_event, _socket| {});
        let n: u32 = clone.emit_with_ack("echo", 1).unwrap();
        assert_eq!(n, 1);
        settles_at(1, "one runtime thread per client");
        drop(socket);
        drop(clone);
        settles_at(0, "the runtime thread outlived its client");
    }
}

/// Waits until `client_threads()` is `want`; fails after 10 s.
fn settles_at(want: usize, what: &str) {
    let started = Instant::now();
    loop {
        let threads = client_threads();
        if threads == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what}: {threads} threads named sioclient"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
