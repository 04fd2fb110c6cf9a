//! An in-process TCP proxy for injecting link faults between a client and
//! a server: dropping connections, refusing new ones, or silently holding
//! every byte (a network partition).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

struct Inner {
    target: Mutex<SocketAddr>,
    refuse: AtomicBool,
    /// Connections accepted from then on are refused.
    refuse_after: AtomicUsize,
    /// While true, no byte is forwarded in either direction.
    blackhole: watch::Sender<bool>,
    /// Bumped to tear down every current connection.
    kill: watch::Sender<u64>,
    accepted: Mutex<Vec<Instant>>,
    active: AtomicUsize,
    /// Bytes forwarded from the target to clients.
    downstream: Arc<AtomicUsize>,
    /// Woken whenever `accepted` or `active` changes.
    changed: tokio::sync::Notify,
}

/// A TCP proxy listening on 127.0.0.1 that forwards each accepted
/// connection to the current target. Dropping it stops the listener and
/// every connection.
pub struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    accept_task: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free port of 127.0.0.1 forwarding to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy: local_addr");
        let inner = Arc::new(Inner {
            target: Mutex::new(target),
            refuse: AtomicBool::new(false),
            refuse_after: AtomicUsize::new(usize::MAX),
            blackhole: watch::channel(false).0,
            kill: watch::channel(0).0,
            accepted: Mutex::new(Vec::new()),
            active: AtomicUsize::new(0),
            downstream: Arc::default(),
            changed: tokio::sync::Notify::new(),
        });
        let accept_task = tokio::spawn(accept_loop(listener, inner.clone()));
        Proxy {
            addr,
            inner,
            accept_task,
        }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// New connections go to `target` (current ones stay where they are).
    pub fn set_target(&self, target: SocketAddr) {
        *self.inner.target.lock().unwrap() = target;
    }

    /// The current target.
    pub fn target(&self) -> SocketAddr {
        *self.inner.target.lock().unwrap()
    }

    /// Abruptly closes every current connection in both directions (TCP
    /// reset on both sides). New connections are accepted as usual.
    pub fn drop_all(&self) {
        self.inner.kill.send_modify(|n| *n += 1);
    }

    /// While on, new connections are accepted and closed at once.
    pub fn set_refuse(&self, on: bool) {
        self.inner.refuse.store(on, Ordering::SeqCst);
    }

    /// Accepts `n` connections from now on, then refuses every new one.
    pub fn refuse_after(&self, n: usize) {
        let accepted = self.accepted();
        self.inner
            .refuse_after
            .store(accepted + n, Ordering::SeqCst);
    }

    /// While on, current and new connections stay open but no byte is
    /// forwarded in either direction (bytes are held, as in a network
    /// partition, and flow again once it is off).
    pub fn set_blackhole(&self, on: bool) {
        self.inner.blackhole.send_replace(on);
    }

    /// Connections accepted so far, refused ones included.
    pub fn accepted(&self) -> usize {
        self.inner.accepted.lock().unwrap().len()
    }

    /// Waits until `pred` holds for the proxy, checking on every accepted,
    /// opened or closed connection.
    pub async fn wait_until(&self, pred: impl Fn(&Proxy) -> bool) {
        loop {
            let changed = self.inner.changed.notified();
            if pred(self) {
                return;
            }
            changed.await;
        }
    }

    /// When each connection was accepted, refused ones included.
    pub fn accepted_times(&self) -> Vec<Instant> {
        self.inner.accepted.lock().unwrap().clone()
    }

    /// Bytes forwarded from the target to clients so far.
    #[allow(dead_code)]
    pub fn bytes_downstream(&self) -> usize {
        self.inner.downstream.load(Ordering::SeqCst)
    }

    /// Connections currently open (not counting refused ones).
    pub fn active(&self) -> usize {
        self.inner.active.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        self.inner.kill.send_modify(|n| *n += 1);
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    loop {
        let client = match listener.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // e.g. out of file descriptors: back off a little.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let count = {
            let mut accepted = inner.accepted.lock().unwrap();
            accepted.push(Instant::now());
            accepted.len()
        };
        inner.changed.notify_waiters();
        if inner.refuse.load(Ordering::SeqCst) || count > inner.refuse_after.load(Ordering::SeqCst)
        {
            drop(client);
            continue;
        }
        // Subscribing marks the current kill epoch as seen: only a later
        // drop_all tears this connection down.
        let kill = inner.kill.subscribe();
        let blackhole = inner.blackhole.subscribe();
        let target = *inner.target.lock().unwrap();
        inner.active.fetch_add(1, Ordering::SeqCst);
        inner.changed.notify_waiters();
        let guard = ActiveGuard(inner.clone());
        let downstream = inner.downstream.clone();
        tokio::spawn(run_connection(
            client, target, kill, blackhole, downstream, guard,
        ));
    }
}

/// Decrements the active count when a connection task ends.
struct ActiveGuard(Arc<Inner>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// Closes `s` with a TCP reset instead of a FIN.
fn reset(s: &TcpStream) {
    // A zero linger makes close() send RST without blocking.
    #[allow(deprecated)]
    let _ = s.set_linger(Some(Duration::ZERO));
}

async fn run_connection(
    mut client: TcpStream,
    target: SocketAddr,
    mut kill: watch::Receiver<u64>,
    blackhole: watch::Receiver<bool>,
    downstream: Arc<AtomicUsize>,
    _guard: ActiveGuard,
) {
    let mut server = tokio::select! {
        r = TcpStream::connect(target) => match r {
            Ok(s) => s,
            // Target down: the client sees its connection closed.
            Err(_) => return,
        },
        _ = kill.changed() => {
            reset(&client);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    let abrupt = {
        let (cr, cw) = client.split();
        let (sr, sw) = server.split();
        let up = pump(cr, sw, blackhole.clone(), Arc::default());
        let down = pump(sr, cw, blackhole, downstream);
        tokio::select! {
            // Both directions ended cleanly (EOF each way), or one failed.
            r = async { tokio::try_join!(up, down) } => r.is_err(),
            _ = kill.changed() => true,
        }
    };
    if abrupt {
        reset(&client);
        reset(&server);
    }
}

/// Copies `rd` to `wr` until EOF (then half-closes `wr`), holding bytes
/// while the blackhole is on, and counts them in `copied`.
async fn pump<R, W>(
    mut rd: R,
    mut wr: W,
    mut blackhole: watch::Receiver<bool>,
    copied: Arc<AtomicUsize>,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if blackhole.wait_for(|on| !*on).await.is_err() {
            return Ok(());
        }
        let n = tokio::select! {
            r = rd.read(&mut buf) => r?,
            // Turned on while waiting: stop reading (reads are cancel-safe).
            _ = blackhole.wait_for(|on| *on) => continue,
        };
        if n == 0 {
            let _ = wr.shutdown().await;
            return Ok(());
        }
        // Bytes read just as the blackhole turned on are held until it is off.
        if blackhole.wait_for(|on| !*on).await.is_err() {
            return Ok(());
        }
        wr.write_all(&buf[..n]).await?;
        copied.fetch_add(n, Ordering::SeqCst);
    }
}
