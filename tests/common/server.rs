//! Runs the reference Socket.IO server (`tests/server/server.js`) as a child
//! process and records what it logs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{oneshot, watch};

use super::{install_lock, python};

/// How long the server may take to print `LISTENING <port>`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

const NODE_MISSING: &str =
    "Node.js is required for the interop tests: install Node 18+ and npm (e.g. apt-get install nodejs npm)";

/// Options of the test server; all default to the server's defaults.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// `--port`: a fixed port (to restart a server on the same address);
    /// default: a free port.
    pub port: Option<u16>,
    /// `--ping-interval` in ms (server default 25000).
    pub ping_interval_ms: Option<u64>,
    /// `--ping-timeout` in ms (server default 20000).
    pub ping_timeout_ms: Option<u64>,
    /// `--recovery`: enables connectionStateRecovery.
    pub recovery: bool,
    /// `--max-disconnection` in ms (default 120000; only with `recovery`).
    pub max_disconnection_ms: Option<u64>,
    /// `--redis URL`: use the Redis Streams adapter.
    pub redis_url: Option<String>,
    /// `--tls-cert`, `--tls-key`: serve https/wss.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Any further raw arguments for server.js (e.g. `--path /x/`,
    /// `--max-http-buffer-size 1000`, `--transports polling`).
    pub extra_args: Vec<String>,
    /// Run the socket.io 2.x server of `tests/server-v2` instead (it takes
    /// `port` alone).
    pub v2: bool,
    /// Run the python-socketio server of `tests/server-python` instead (it
    /// takes `port` alone, and serves polling only).
    pub python: bool,
}

impl ServerOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    pub fn ping(mut self, interval_ms: u64, timeout_ms: u64) -> Self {
        self.ping_interval_ms = Some(interval_ms);
        self.ping_timeout_ms = Some(timeout_ms);
        self
    }
    pub fn recovery(mut self) -> Self {
        self.recovery = true;
        self
    }
    pub fn max_disconnection_ms(mut self, ms: u64) -> Self {
        self.max_disconnection_ms = Some(ms);
        self
    }
    pub fn redis(mut self, url: impl Into<String>) -> Self {
        self.redis_url = Some(url.into());
        self
    }
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert.into(), key.into()));
        self
    }
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }
    pub fn socketio_v2(mut self) -> Self {
        self.v2 = true;
        self
    }

    pub fn python_socketio(mut self) -> Self {
        self.python = true;
        self
    }

    /// The directory of the server to run.
    fn dir(&self) -> PathBuf {
        let name = match (self.v2, self.python) {
            (true, _) => "server-v2",
            (_, true) => "server-python",
            _ => "server",
        };
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(name)
    }

    fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(p) = self.port {
            a.extend(["--port".to_owned(), p.to_string()]);
        }
        if let Some(v) = self.ping_interval_ms {
            a.extend(["--ping-interval".to_owned(), v.to_string()]);
        }
        if let Some(v) = self.ping_timeout_ms {
            a.extend(["--ping-timeout".to_owned(), v.to_string()]);
        }
        if self.recovery {
            a.push("--recovery".to_owned());
        }
        if let Some(v) = self.max_disconnection_ms {
            a.extend(["--max-disconnection".to_owned(), v.to_string()]);
        }
        if let Some(u) = &self.redis_url {
            a.extend(["--redis".to_owned(), u.clone()]);
        }
        if let Some((cert, key)) = &self.tls {
            a.extend([
                "--tls-cert".to_owned(),
                cert.display().to_string(),
                "--tls-key".to_owned(),
                key.display().to_string(),
            ]);
        }
        a.extend(self.extra_args.iter().cloned());
        a
    }
}

/// Lines logged by the server, shared with the reader tasks.
#[derive(Default)]
struct Log {
    /// Every JSON line since start (non-JSON lines are kept as strings).
    lines: Vec<Value>,
    /// The last stderr output, for panic messages.
    stderr: VecDeque<String>,
    /// stdout reached EOF: the process is gone.
    exited: bool,
}

/// A running `node tests/server/server.js`. Dropping it kills the process.
pub struct TestServer {
    port: u16,
    scheme: &'static str,
    child: Child,
    /// Kept open: the server exits when its stdin closes.
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<Log>>,
    /// Bumped on every new stdout line and on exit.
    changed: watch::Receiver<u64>,
}

/// Path of `tests/server`.
pub fn server_dir() -> PathBuf {
    ServerOptions::default().dir()
}

impl TestServer {
    /// Starts a server and waits until it listens.
    pub async fn start(opts: ServerOptions) -> TestServer {
        let dir = opts.dir();
        let mut cmd = if opts.python {
            let python = python::ensure_venv(&dir);
            let mut cmd = Command::new(python);
            cmd.arg("server.py");
            cmd
        } else {
            ensure_node();
            ensure_node_modules(&dir);
            let mut cmd = Command::new("node");
            cmd.arg("server.js");
            cmd
        };

        let verbose = std::env::var_os("SIOCLIENT_TEST_VERBOSE").is_some();
        cmd.args(opts.to_args())
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "{} (spawning the server failed: {e})",
                if opts.python {
                    python::MISSING
                } else {
                    NODE_MISSING
                }
            )
        });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout piped");
        let mut stderr = child.stderr.take().expect("stderr piped");

        let log = Arc::new(Mutex::new(Log::default()));
        let (tx, changed) = watch::channel(0u64);
        let (port_tx, port_rx) = oneshot::channel::<u16>();

        // stdout: the LISTENING line, then JSON lines.
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut port_tx = Some(port_tx);
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if verbose {
                        eprintln!("[server] {line}");
                    }
                    if let Some(p) = line.strip_prefix("LISTENING ") {
                        if let (Some(tx), Ok(p)) = (port_tx.take(), p.trim().parse()) {
                            let _ = tx.send(p);
                        }
                        continue;
                    }
                    let v = serde_json::from_str::<Value>(&line).unwrap_or(Value::String(line));
                    log.lock().unwrap().lines.push(v);
                    tx.send_modify(|n| *n += 1);
                }
                log.lock().unwrap().exited = true;
                tx.send_modify(|n| *n += 1);
            });
        }
        // stderr: kept (last lines) for error messages.
        {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    match stderr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let s = String::from_utf8_lossy(&buf[..n]).into_owned();
                            if verbose {
                                eprint!("[server stderr] {s}");
                            }
                            let mut l = log.lock().unwrap();
                            l.stderr.push_back(s);
                            while l.stderr.len() > 200 {
                                l.stderr.pop_front();
                            }
                        }
                    }
                }
            });
        }

        let port = match tokio::time::timeout(START_TIMEOUT, port_rx).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => {
                // stdout closed before LISTENING: the process died.
                let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!(
                    "test server exited before listening (status {:?}, args {:?}); stderr:\n{}",
                    status,
                    opts.to_args(),
                    stderr_text(&log)
                );
            }
            Err(_) => {
                let _ = child.start_kill();
                panic!(
                    "test server did not print LISTENING within {START_TIMEOUT:?} (args {:?}); stderr:\n{}",
                    opts.to_args(),
                    stderr_text(&log)
                );
            }
        };
        TestServer {
            port,
            scheme: if opts.tls.is_some() { "https" } else { "http" },
            child,
            stdin,
            log,
            changed,
        }
    }

    /// The TCP port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its socket address.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `http://127.0.0.1:<port>` (`https` with TLS).
    pub fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// `url()` followed by the namespace, e.g. `http://127.0.0.1:1234/admin`
    /// (the namespace `/` gives `url()` + `/`).
    pub fn url_for(&self, nsp: &str) -> String {
        if nsp.starts_with('/') {
            format!("{}{}", self.url(), nsp)
        } else {
            format!("{}/{}", self.url(), nsp)
        }
    }

    /// Process id of the node process (None once it was reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Returns the first line logged since start (including lines already
    /// received) that matches `pred`. Panics with the recent log after
    /// `timeout`, or if the server exits first.
    pub async fn wait_for(&self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        self.wait_for_nth(pred, 1, timeout).await
    }

    /// Returns the `n`th (1-based) matching line, waiting for it like
    /// [`TestServer::wait_for`].
    pub async fn wait_for_nth(
        &self,
        pred: impl Fn(&Value) -> bool,
        n: usize,
        timeout: Duration,
    ) -> Value {
        assert!(n >= 1, "wait_for_nth counts from 1");
        let mut changed = self.changed.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            let exited = {
                let l = self.log.lock().unwrap();
                if let Some(v) = l.lines.iter().filter(|v| pred(v)).nth(n - 1) {
                    return v.clone();
                }
                l.exited
            };
            if exited {
                panic!(
                    "test server exited before logging the expected line; recent log:\n{}\nstderr:\n{}",
                    self.recent(50),
                    stderr_text(&self.log)
                );
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(_) => {}
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for a server log line; recent log:\n{}\nstderr:\n{}",
                    self.recent(50),
                    stderr_text(&self.log)
                ),
            }
        }
    }

    /// Waits for a line whose `ev` field equals `ev`.
    pub async fn wait_for_ev(&self, ev: &str, timeout: Duration) -> Value {
        self.wait_for(|v| v["ev"] == ev, timeout).await
    }

    /// Snapshot of every line logged so far.
    pub fn lines(&self) -> Vec<Value> {
        self.log.lock().unwrap().lines.clone()
    }

    /// Number of lines logged so far that match `pred`.
    pub fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.log
            .lock()
            .unwrap()
            .lines
            .iter()
            .filter(|v| pred(v))
            .count()
    }

    /// The last `n` lines, one per line, for messages.
    pub fn recent(&self, n: usize) -> String {
        let l = self.log.lock().unwrap();
        let start = l.lines.len().saturating_sub(n);
        l.lines[start..]
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Kills the server at once (SIGKILL: no graceful disconnects, like a
    /// crash) and waits until it is gone.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }

    /// Stops the server gracefully (it closes every connection, as on
    /// SIGTERM) and waits until it is gone; kills it if that takes longer
    /// than 10 s.
    pub async fn shutdown(&mut self) {
        // Closing stdin makes server.js shut down like on SIGTERM.
        drop(self.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn stderr_text(log: &Arc<Mutex<Log>>) -> String {
    log.lock().unwrap().stderr.iter().cloned().collect()
}

/// Checks once per process that `node` runs and is recent enough.
fn ensure_node() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = std::process::Command::new("node")
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("{NODE_MISSING} (`node --version` failed: {e})"));
        if !out.status.success() {
            panic!(
                "{NODE_MISSING} (`node --version` exited with {})",
                out.status
            );
        }
        let v = String::from_utf8_lossy(&out.stdout);
        let major: Option<u32> = v
            .trim()
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|m| m.parse().ok());
        match major {
            Some(m) if m >= 18 => {}
            _ => panic!("{NODE_MISSING} (found node {})", v.trim()),
        }
    });
}

/// True when every dependency of tests/server/package.json is installed in
/// node_modules at the version package-lock.json pins.
fn node_modules_ok(dir: &Path) -> bool {
    let read = |p: PathBuf| -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    let Some(lock) = read(dir.join("package-lock.json")) else {
        return false;
    };
    let Some(pkg) = read(dir.join("package.json")) else {
        return false;
    };
    let Some(deps) = pkg["dependencies"].as_object() else {
        return true;
    };
    deps.keys().all(|name| {
        let want = &lock["packages"][format!("node_modules/{name}")]["version"];
        let have = read(dir.join("node_modules").join(name).join("package.json"));
        matches!(have, Some(h) if !want.is_null() && h["version"] == *want)
    })
}

/// Runs `npm ci` in a server's directory when node_modules is missing or
/// stale. Guarded within the process by a mutex and across processes by a
/// lock file created with `create_new`.
fn ensure_node_modules(dir: &Path) {
    static INSTALLED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut done = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if done.iter().any(|installed| installed == dir) {
        return;
    }
    if node_modules_ok(dir) {
        done.push(dir.to_owned());
        return;
    }

    let _lock = install_lock::acquire("sioclient-npm-install.lock");
    // Someone else may have finished the install while we waited.
    if !node_modules_ok(dir) {
        eprintln!("sioclient tests: running `npm ci` in {}", dir.display());
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{NODE_MISSING} (running `npm ci` failed: {e})"));
        if !out.status.success() {
            panic!(
                "`npm ci` in {} failed with {}:\n{}\n{}",
                dir.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            node_modules_ok(dir),
            "`npm ci` succeeded but node_modules does not match package-lock.json"
        );
    }
    done.push(dir.to_owned());
}
