//! Memory stays bounded while a namespace waits for its CONNECT reply: a
//! counting global allocator measures the heap's peak while a scripted
//! server sends a million events before it replies.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sioclient::{ClientBuilder, ConnectError, ProtocolError, RecoveryState};
use tokio::sync::Mutex;

use common::scripted::{Peer, Scripted};
use common::within;

/// Counts the bytes allocated now, and the most ever at once.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = System.realloc(ptr, layout, new_size);
        if !new.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        new
    }
}

fn grew(size: usize) {
    let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counters are global: one measurement at a time.
static MEASURING: Mutex<()> = Mutex::const_new(());

/// How many events the server sends before its reply.
const EVENTS: usize = 1_000_000;

/// The bound on the heap's growth.
const BOUND: usize = 16 << 20;

/// Starts measuring; returns the heap in use now.
fn baseline() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

/// Sends `EVENTS` events, then the CONNECT reply, then waits.
async fn flood_then_reply(mut peer: Peer) {
    if peer.handshake().await.is_none() {
        return;
    }
    for i in 1..=EVENTS {
        if !peer.feed(format!(r#"42["tick",{i},"o{i}"]"#)).await {
            return;
        }
    }
    peer.send(r#"40{"sid":"s1","pid":"p1"}"#).await;
    peer.idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_of_a_million_events_before_the_reply_flows_in_bounded_memory() {
    let _one = MEASURING.lock().await;
    let server = Scripted::start(flood_then_reply).await;
    let handled = Arc::new(AtomicUsize::new(0));
    let out_of_order = Arc::new(AtomicUsize::new(0));
    let (counter, disorder) = (handled.clone(), out_of_order.clone());
    let start = baseline();
    let socket = within(
        Duration::from_secs(60),
        "connect",
        ClientBuilder::new(server.url())
            .recovery_state(RecoveryState {
                pid: "p1".into(),
                offset: Some("o0".into()),
                sid: None,
            })
            .on("tick", move |event, _socket| {
                let (counter, disorder) = (counter.clone(), disorder.clone());
                async move {
                    let n: usize = event.decode().unwrap_or_default();
                    if counter.fetch_add(1, Ordering::Relaxed) + 1 != n {
                        disorder.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
            .connect(),
    )
    .await
    .expect("the first replayed event connects");
    assert!(socket.recovered());
    within(Duration::from_secs(300), "every event", async {
        while handled.load(Ordering::Relaxed) < EVENTS || socket.id().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let growth = PEAK.load(Ordering::Relaxed).saturating_sub(start);
    eprintln!("heap growth: {growth} bytes");
    assert_eq!(
        handled.load(Ordering::Relaxed),
        EVENTS,
        "every event handled"
    );
    assert_eq!(out_of_order.load(Ordering::Relaxed), 0, "in order");
    assert_eq!(socket.id().as_deref(), Some("s1"), "the reply came after");
    assert!(
        growth < BOUND,
        "the heap grew by {growth} bytes while the server replayed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_before_a_reply_nobody_asked_to_replay_is_refused_in_bounded_memory() {
    let _one = MEASURING.lock().await;
    let server = Scripted::start(flood_then_reply).await;
    let start = baseline();
    let error = within(
        Duration::from_secs(60),
        "connect to settle",
        ClientBuilder::new(server.url())
            .reconnection_attempts(Some(0))
            .connect(),
    )
    .await
    .expect_err("the client tells why it refused");
    let growth = PEAK.load(Ordering::Relaxed).saturating_sub(start);
    eprintln!("heap growth: {growth} bytes");
    assert!(
        matches!(
            error,
            ConnectError::Protocol(ProtocolError::TooMuchBeforeConnect { .. })
        ),
        "{error:?}"
    );
    assert!(growth < BOUND, "the heap grew by {growth} bytes");
}
