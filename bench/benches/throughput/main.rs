//! Throughput and idle memory of sioclient against a raw tokio-tungstenite
//! client, on a load server of our own. See BENCHMARKS.md.
//!
//! ```sh
//! cargo bench -p sioclient-bench --bench throughput
//! ```
//!
//! The server runs on a thread of its own (a single-threaded runtime pinned to
//! CPU 1); the clients run on the main thread (a current_thread runtime pinned
//! to CPU 0), so client and server do not share a core. Idle memory is measured
//! in a fresh child process per run and client, which reads its own VmRSS.
//!
//! Sizes come from the environment (defaults in brackets):
//! `SIOBENCH_EVENTS` events received per run [2000000],
//! `SIOBENCH_EMITS` events emitted per run [2000000],
//! `SIOBENCH_ACKS` ack round trips per run [20000],
//! `SIOBENCH_CONNS` idle connections per run, 1000..=10000 [1000],
//! `SIOBENCH_BURST` connections opened at once per run, up to 10000 [10000],
//! `SIOBENCH_RUNS` runs of each scenario [3],
//! `SIOBENCH_POLLING_EVENTS` events received and emitted over polling per run [200000],
//! `SIOBENCH_MSGPACK_EVENTS` events received and emitted per parser and run [500000],
//! `SIOBENCH_ONLY` a comma-separated subset of `receive,emit,ack,latency,polling,msgpack,idle`,
//! `SIOBENCH_CLIENTS` `raw`, `ours` or both [both], to profile one side,
//! `SIOBENCH_PIN=0` to leave scheduling to the OS,
//! `SIOBENCH_SERVE_ONLY=1` to run only the server (it prints its ports), for
//! profiling a client run by hand (see BENCHMARKS.md).

mod ours;
mod polling;
mod raw;
mod server;
mod sys;

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

/// The environment variable that makes this binary an idle-memory child.
const CHILD: &str = "SIOBENCH_IDLE_CHILD";

/// The longest one measured run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(120);

struct Config {
    events: usize,
    polling_events: usize,
    msgpack_events: usize,
    emits: usize,
    acks: usize,
    conns: usize,
    /// Connections opened at once.
    burst: usize,
    runs: usize,
    only: Vec<String>,
    raw: bool,
    ours: bool,
    pin: bool,
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

impl Config {
    fn from_env() -> Self {
        let only = std::env::var("SIOBENCH_ONLY")
            .map(|list| list.split(',').map(|s| s.trim().to_owned()).collect())
            .unwrap_or_default();
        let clients = std::env::var("SIOBENCH_CLIENTS").unwrap_or_default();
        Config {
            events: env_usize("SIOBENCH_EVENTS", 2_000_000).max(1),
            polling_events: env_usize("SIOBENCH_POLLING_EVENTS", 200_000).max(1),
            msgpack_events: env_usize("SIOBENCH_MSGPACK_EVENTS", 500_000).max(1),
            emits: env_usize("SIOBENCH_EMITS", 2_000_000).max(1),
            acks: env_usize("SIOBENCH_ACKS", 20_000).max(1),
            conns: env_usize("SIOBENCH_CONNS", 1_000).clamp(1, 10_000),
            burst: env_usize("SIOBENCH_BURST", 10_000).clamp(1, 10_000),
            runs: env_usize("SIOBENCH_RUNS", 3).max(1),
            only,
            raw: clients.is_empty() || clients.contains("raw"),
            ours: clients.is_empty() || clients.contains("ours"),
            pin: std::env::var("SIOBENCH_PIN").map_or(true, |v| v != "0") && sys::cpus() >= 2,
        }
    }

    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// What a row is held to.
#[derive(Clone, Copy)]
enum Target {
    /// ours/raw must be at least this.
    AtLeast(f64),
    /// ours/raw must be at most this.
    AtMost(f64),
    /// A reference point, not a target.
    Info,
}

/// One scenario: a figure per run for each side.
struct Row {
    scenario: String,
    unit: &'static str,
    raw: Vec<f64>,
    ours: Vec<f64>,
    target: Target,
}

impl Row {
    fn new(scenario: impl Into<String>, unit: &'static str, target: Target) -> Self {
        Row {
            scenario: scenario.into(),
            unit,
            raw: Vec::new(),
            ours: Vec::new(),
            target,
        }
    }

    /// ours/raw of each run in which both sides were measured.
    fn ratios(&self) -> Vec<f64> {
        self.raw
            .iter()
            .zip(&self.ours)
            .map(|(raw, ours)| ours / raw)
            .collect()
    }
}

fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

/// A number with thousands separators, or with one decimal below 100.
fn figure(value: Option<f64>) -> String {
    let Some(value) = value else {
        return "-".into();
    };
    if value < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Runs one measured future on the client runtime, with a time limit.
fn timed<F: std::future::Future>(runtime: &Runtime, what: &str, future: F) -> F::Output {
    runtime
        .block_on(async { tokio::time::timeout(RUN_LIMIT, future).await })
        .unwrap_or_else(|_| panic!("{what} took longer than {RUN_LIMIT:?}"))
}

fn main() {
    if let Ok(kind) = std::env::var(CHILD) {
        idle_child(&kind);
        return;
    }
    let config = Config::from_env();
    let nofile = sys::raise_nofile();
    if std::env::var("SIOBENCH_SERVE_ONLY").is_ok_and(|v| v == "1") {
        serve_only(&config);
        return;
    }
    let receive = config.wants("receive");
    let polling = config.wants("polling");
    let msgpack = config.wants("msgpack") && config.ours;
    let blast = [
        (receive, config.events),
        (polling, config.polling_events),
        (msgpack, config.msgpack_events),
    ]
    .iter()
    .filter(|(wanted, _)| *wanted)
    .map(|(_, n)| *n)
    .max()
    .unwrap_or(0);
    let mut server = server::start(
        blast,
        if msgpack { config.msgpack_events } else { 0 },
        config.pin.then_some(1),
    );
    if config.pin {
        sys::pin_current_thread(0);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let mut rows = Vec::new();
    if receive {
        rows.extend(bench_receive(&config, &runtime, server.port));
    }
    if config.wants("emit") {
        rows.push(bench_emit(&config, &runtime, &mut server));
    }
    if config.wants("ack") {
        rows.push(bench_ack(&config, &runtime, server.port));
    }
    if config.wants("latency") {
        rows.extend(bench_latency(&config, &runtime, server.port));
    }
    if config.wants("polling") && config.ours {
        rows.extend(bench_polling(&config, &runtime, &mut server));
    }
    if msgpack {
        rows.extend(bench_msgpack(&config, &runtime, &mut server));
    }
    if config.wants("idle") {
        rows.extend(bench_idle(&config, server.idle_port, nofile));
    }
    print_table(&config, &rows);
}

/// Ours over HTTP long-polling, against the same load server: no raw
/// baseline (the JS client over polling is the reference, run by hand; see
/// BENCHMARKS.md).
fn bench_polling(config: &Config, runtime: &Runtime, server: &mut server::Server) -> Vec<Row> {
    let (n, m) = (config.polling_events, config.polling_events);
    let mut receive = Row::new(
        format!("receive via events() over polling, {n} events"),
        "events/s",
        Target::Info,
    );
    let mut emit = Row::new(
        format!("emit over polling, {m} events"),
        "events/s",
        Target::Info,
    );
    let port = server.polling_port;
    timed(
        runtime,
        "warm-up",
        ours::receive_stream_over(port, (n / 10).max(1), sioclient::Transport::Polling),
    );
    for run in 1..=config.runs {
        eprintln!("polling: run {run}/{}", config.runs);
        receive.ours.push(rate(
            n,
            timed(
                runtime,
                "receive over polling",
                ours::receive_stream_over(port, n, sioclient::Transport::Polling),
            ),
        ));
        emit.ours.push(rate(
            m,
            timed(
                runtime,
                "emit over polling",
                ours::emit_over(port, m, &mut server.reports, sioclient::Transport::Polling),
            ),
        ));
    }
    vec![receive, emit]
}

/// Ours over socket.io-msgpack-parser against ours over the default parser,
/// run by run on the same load server: the `raw` column of these rows is
/// the default parser.
fn bench_msgpack(config: &Config, runtime: &Runtime, server: &mut server::Server) -> Vec<Row> {
    use sioclient::{Parser, Transport};
    let n = config.msgpack_events;
    let mut receive = Row::new(
        format!("receive via on(\"tick\") over msgpack, against the default parser, {n} events"),
        "events/s",
        Target::Info,
    );
    let mut emit = Row::new(
        format!("emit over msgpack, against the default parser, {n} events"),
        "events/s",
        Target::Info,
    );
    let port = server.port;
    let warm = (n / 10).max(1);
    timed(
        runtime,
        "warm-up",
        ours::receive_handler_with(port, warm, Parser::MsgPack),
    );
    for run in 1..=config.runs {
        eprintln!("msgpack: run {run}/{}", config.runs);
        for (parser, column) in [(Parser::Default, 0), (Parser::MsgPack, 1)] {
            let received = rate(
                n,
                timed(
                    runtime,
                    "receive",
                    ours::receive_handler_with(port, n, parser),
                ),
            );
            let emitted = rate(
                n,
                timed(
                    runtime,
                    "emit",
                    ours::emit_with(port, n, &mut server.reports, Transport::WebSocket, parser),
                ),
            );
            if column == 0 {
                receive.raw.push(received);
                emit.raw.push(emitted);
            } else {
                receive.ours.push(received);
                emit.ours.push(emitted);
            }
        }
    }
    vec![receive, emit]
}

/// Runs only the server, for profiling a client by hand: prints the ports,
/// then serves until killed.
fn serve_only(config: &Config) {
    let server = server::start(
        config.events,
        config.msgpack_events,
        config.pin.then_some(1),
    );
    println!(
        "port {} idle_port {} polling_port {}",
        server.port, server.idle_port, server.polling_port
    );
    loop {
        std::thread::park();
    }
}

fn bench_receive(config: &Config, runtime: &Runtime, port: u16) -> Vec<Row> {
    let n = config.events;
    // Against the raw client that only reads the counter's digits: a
    // reference, since ours hands the application decoded events.
    let mut stream = Row::new(
        format!("receive via events(), {n} events"),
        "events/s",
        Target::Info,
    );
    let mut handler = Row::new(
        format!("receive via on(\"tick\"), {n} events"),
        "events/s",
        Target::Info,
    );
    // The same runs of ours against a raw client that parses each event into
    // a serde_json::Value, as any client that hands out JSON values must.
    let mut stream_json = Row::new(
        "receive via events(), against raw + serde_json::Value",
        "events/s",
        Target::AtLeast(0.9),
    );
    let mut handler_json = Row::new(
        "receive via on(\"tick\"), against raw + serde_json::Value",
        "events/s",
        Target::AtLeast(1.0),
    );
    // A handler that reads the arguments untyped, as `Value`s (`args()`),
    // against the same raw client: both build the values of the arguments.
    let mut untyped_json = Row::new(
        "receive via on(\"tick\") reading args(), against raw + serde_json::Value",
        "events/s",
        Target::Info,
    );
    // Warm up both sides (allocator, page cache of the code) with a short run each.
    let warm = (n / 10).max(1);
    if config.raw {
        timed(
            runtime,
            "warm-up",
            raw::receive(port, warm, raw::Parse::Minimal),
        );
    }
    if config.ours {
        timed(runtime, "warm-up", ours::receive_stream(port, warm));
    }
    for run in 1..=config.runs {
        eprintln!("receive: run {run}/{}", config.runs);
        if config.raw {
            let minimal = rate(
                n,
                timed(
                    runtime,
                    "raw receive",
                    raw::receive(port, n, raw::Parse::Minimal),
                ),
            );
            let json = rate(
                n,
                timed(
                    runtime,
                    "raw receive (json)",
                    raw::receive(port, n, raw::Parse::Json),
                ),
            );
            stream.raw.push(minimal);
            handler.raw.push(minimal);
            stream_json.raw.push(json);
            handler_json.raw.push(json);
            untyped_json.raw.push(json);
        }
        if config.ours {
            let via_stream = rate(
                n,
                timed(
                    runtime,
                    "sioclient receive (stream)",
                    ours::receive_stream(port, n),
                ),
            );
            let via_handler = rate(
                n,
                timed(
                    runtime,
                    "sioclient receive (handler)",
                    ours::receive_handler(port, n),
                ),
            );
            let via_args = rate(
                n,
                timed(
                    runtime,
                    "sioclient receive (handler, args())",
                    ours::receive_handler_reading(
                        port,
                        n,
                        sioclient::Parser::Default,
                        ours::Read::Untyped,
                    ),
                ),
            );
            stream.ours.push(via_stream);
            handler.ours.push(via_handler);
            stream_json.ours.push(via_stream);
            handler_json.ours.push(via_handler);
            untyped_json.ours.push(via_args);
        }
    }
    vec![stream, handler, stream_json, handler_json, untyped_json]
}

fn bench_emit(config: &Config, runtime: &Runtime, server: &mut server::Server) -> Row {
    let n = config.emits;
    let mut row = Row::new(
        format!("emit, {n} events (raw: feed all, flush once)"),
        "events/s",
        Target::AtLeast(0.8),
    );
    let port = server.port;
    let warm = (n / 10).max(1);
    if config.raw {
        timed(
            runtime,
            "warm-up",
            raw::emit(port, warm, &mut server.reports),
        );
    }
    if config.ours {
        timed(
            runtime,
            "warm-up",
            ours::emit(port, warm, &mut server.reports),
        );
    }
    for run in 1..=config.runs {
        eprintln!("emit: run {run}/{}", config.runs);
        if config.raw {
            let elapsed = timed(runtime, "raw emit", raw::emit(port, n, &mut server.reports));
            row.raw.push(rate(n, elapsed));
        }
        if config.ours {
            let elapsed = timed(
                runtime,
                "sioclient emit",
                ours::emit(port, n, &mut server.reports),
            );
            row.ours.push(rate(n, elapsed));
        }
    }
    row
}

fn bench_ack(config: &Config, runtime: &Runtime, port: u16) -> Row {
    let n = config.acks;
    let mut row = Row::new(
        format!("sequential ack round trips, {n}"),
        "round trips/s",
        Target::AtLeast(1.0),
    );
    let warm = (n / 10).max(1);
    if config.raw {
        timed(runtime, "warm-up", raw::ack(port, warm));
    }
    if config.ours {
        timed(runtime, "warm-up", ours::ack(port, warm));
    }
    for run in 1..=config.runs {
        eprintln!("ack: run {run}/{}", config.runs);
        if config.raw {
            row.raw
                .push(rate(n, timed(runtime, "raw ack", raw::ack(port, n))));
        }
        if config.ours {
            row.ours
                .push(rate(n, timed(runtime, "sioclient ack", ours::ack(port, n))));
        }
    }
    row
}

/// The latency of ack round trips while another connection of the same
/// client emits 100,000 events a second: what an application feels of a
/// busy neighbour on its runtime.
fn bench_latency(config: &Config, runtime: &Runtime, port: u16) -> Vec<Row> {
    const RATE: usize = 100_000;
    let n = (config.acks / 4).max(100);
    let mut p50 = Row::new(
        format!("ack latency p50 while another connection emits {RATE} events/s, {n} acks"),
        "µs",
        Target::Info,
    );
    let mut p99 = Row::new(
        format!("ack latency p99 while another connection emits {RATE} events/s, {n} acks"),
        "µs",
        Target::Info,
    );
    let percentiles = |mut latencies: Vec<Duration>| {
        latencies.sort();
        let at = |q: f64| {
            let index = ((latencies.len() as f64 * q) as usize).min(latencies.len() - 1);
            latencies[index].as_secs_f64() * 1e6
        };
        (at(0.5), at(0.99))
    };
    for run in 1..=config.runs {
        eprintln!("latency: run {run}/{}", config.runs);
        if config.raw {
            let (a, b) = percentiles(timed(
                runtime,
                "raw latency",
                raw::ack_latency_under_load(port, n, RATE),
            ));
            p50.raw.push(a);
            p99.raw.push(b);
        }
        if config.ours {
            let (a, b) = percentiles(timed(
                runtime,
                "sioclient latency",
                ours::ack_latency_under_load(port, n, RATE),
            ));
            p50.ours.push(a);
            p99.ours.push(b);
        }
    }
    vec![p50, p99]
}

fn bench_idle(config: &Config, port: u16, nofile: u64) -> Vec<Row> {
    let n = config.conns;
    if nofile != 0 && nofile < n as u64 + 64 {
        eprintln!(
            "warning: the open file limit is {nofile}; {n} connections need more (ulimit -n)"
        );
    }
    let mut rss = Row::new(
        format!("idle memory (VmRSS), {n} connections (raw: 4 KiB read buffer)"),
        "KiB/connection",
        Target::AtMost(1.3),
    );
    let mut heap = Row::new(
        format!("idle heap in use (mallinfo2), {n} connections"),
        "KiB/connection",
        Target::Info,
    );
    let mut app = Row::new(
        format!(
            "idle memory (VmRSS), {n} connections with two on() and an on_lifecycle() listener"
        ),
        "KiB/connection",
        Target::Info,
    );
    let burst = config.burst;
    let mut burst_rate = Row::new(
        format!("{burst} connections opened at once"),
        "connections/s",
        Target::Info,
    );
    let mut burst_rss = Row::new(
        format!("{burst} connections opened at once, memory (VmRSS)"),
        "KiB/connection",
        Target::Info,
    );
    for run in 1..=config.runs {
        eprintln!("idle: run {run}/{}", config.runs);
        if config.raw {
            let raw = idle_in_child("raw", port, n, false, config.pin);
            rss.raw.push(raw.rss);
            heap.raw.push(raw.heap);
            app.raw.push(raw.rss);
            let raw = idle_in_child("raw", port, burst, true, config.pin);
            burst_rate.raw.push(raw.rate);
            burst_rss.raw.push(raw.rss);
        }
        if config.ours {
            let ours = idle_in_child("ours", port, n, false, config.pin);
            rss.ours.push(ours.rss);
            heap.ours.push(ours.heap);
            app.ours
                .push(idle_in_child("app", port, n, false, config.pin).rss);
            let ours = idle_in_child("ours", port, burst, true, config.pin);
            burst_rate.ours.push(ours.rate);
            burst_rss.ours.push(ours.rss);
        }
    }
    vec![rss, heap, app, burst_rate, burst_rss]
}

/// What an idle child measured.
struct Idle {
    /// VmRSS growth per connection, KiB.
    rss: f64,
    /// Heap growth per connection, KiB.
    heap: f64,
    /// Connections opened per second.
    rate: f64,
}

/// Runs the idle scenario for one client in a fresh process, so that neither
/// the server nor an earlier run shares its heap. Returns the growth per
/// connection of VmRSS and of the heap in use, in KiB.
fn idle_in_child(kind: &str, port: u16, n: usize, at_once: bool, pin: bool) -> Idle {
    let exe = std::env::current_exe().expect("own executable");
    let output = Command::new(exe)
        .env(CHILD, kind)
        .env("SIOBENCH_CHILD_PORT", port.to_string())
        .env("SIOBENCH_CONNS", n.to_string())
        .env("SIOBENCH_AT_ONCE", if at_once { "1" } else { "0" })
        .env("SIOBENCH_PIN", if pin { "1" } else { "0" })
        .output()
        .expect("run the idle child");
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find_map(|line| line.strip_prefix("IDLE "));
    let Some(line) = line.filter(|_| output.status.success()) else {
        panic!("idle child ({kind}) failed: {}", output.status);
    };
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().expect("idle child output"))
        .collect();
    let [rss_before, rss_after, heap_before, heap_after, opened] = fields[..] else {
        panic!("idle child output: {line:?}");
    };
    let rss = (rss_after - rss_before) / n as f64;
    let heap = (heap_after - heap_before) / 1024.0 / n as f64;
    eprintln!(
        "  {kind}: VmRSS {rss_before} KiB -> {rss_after} KiB: {rss:.2} KiB per connection; heap {heap:.2} KiB per connection"
    );
    Idle {
        rss,
        heap,
        rate: n as f64 / opened,
    }
}

/// The idle-memory child: opens the connections (one after the other, or
/// all at once with `SIOBENCH_AT_ONCE=1`), lets them settle, prints
/// `IDLE <VmRSS before> <VmRSS after> <heap before> <heap after> <seconds to open>`
/// (KiB, KiB, bytes, bytes, s) and exits.
fn idle_child(kind: &str) {
    let port: u16 = env_usize("SIOBENCH_CHILD_PORT", 0)
        .try_into()
        .expect("port");
    let n = env_usize("SIOBENCH_CONNS", 1_000);
    let at_once = env_usize("SIOBENCH_AT_ONCE", 0) == 1;
    sys::raise_nofile();
    if std::env::var("SIOBENCH_PIN").is_ok_and(|v| v == "1") {
        sys::pin_current_thread(0);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("child runtime");
    let ours = match kind {
        "ours" => Some(false),
        "app" => Some(true),
        _ => None,
    };
    runtime.block_on(async move {
        // Connections opened before the baseline and kept, so that what is
        // initialized once (runtime, allocator arenas, lazily built statics)
        // is not counted per connection.
        let warm = 16;
        let mut sockets = Vec::with_capacity(n + warm);
        open_idle(ours, port, warm, &mut sockets).await;
        settle().await;
        let (rss_before, heap_before) = (sys::vm_rss_kib(), sys::heap_in_use());
        let started = Instant::now();
        if at_once {
            open_at_once(ours, port, n, &mut sockets).await;
        } else {
            open_idle(ours, port, n, &mut sockets).await;
        }
        let opened = started.elapsed();
        settle().await;
        let (rss_after, heap_after) = (sys::vm_rss_kib(), sys::heap_in_use());
        eprintln!("  {kind}: opened {n} connections in {opened:?}");
        println!(
            "IDLE {rss_before} {rss_after} {heap_before} {heap_after} {}",
            opened.as_secs_f64()
        );
        drop(sockets);
    });
    // Leave without closing thousands of connections one by one.
    std::process::exit(0);
}

/// Opens `count` idle connections, keeping sioclient's sockets in `sockets`:
/// raw ones for `ours` `None`, ours with an application's listeners for
/// `Some(true)`.
///
/// One connection at a time, from the calling task: opening them concurrently
/// (FuturesUnordered, buffer_unordered) leaves each connect future's
/// allocation referenced by wakers that tokio and tungstenite keep from the
/// handshake, and that would be counted as the client's memory.
async fn open_idle(
    ours: Option<bool>,
    port: u16,
    count: usize,
    sockets: &mut Vec<sioclient::Socket>,
) {
    for _ in 0..count {
        match ours {
            Some(false) => sockets.push(ours::idle(port).await),
            Some(true) => sockets.push(ours::idle_app(port).await),
            None => raw::idle(port).await,
        }
    }
}

/// Opens `count` connections concurrently, as a load generator does.
async fn open_at_once(
    ours: Option<bool>,
    port: u16,
    count: usize,
    sockets: &mut Vec<sioclient::Socket>,
) {
    let opening = (0..count).map(|_| async move {
        match ours {
            Some(false) => Some(ours::idle(port).await),
            Some(true) => Some(ours::idle_app(port).await),
            None => {
                raw::idle(port).await;
                None
            }
        }
    });
    sockets.extend(
        futures::future::join_all(opening)
            .await
            .into_iter()
            .flatten(),
    );
}

/// Lets every connection's tasks run until they are idle.
async fn settle() {
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn print_table(config: &Config, rows: &[Row]) {
    println!();
    println!(
        "sioclient throughput benchmark: median of {} runs; ratio = median of per-run ours/raw",
        config.runs
    );
    println!(
        "client: current_thread runtime{}; server: own thread{}",
        if config.pin { " pinned to CPU 0" } else { "" },
        if config.pin { " pinned to CPU 1" } else { "" },
    );
    println!();
    println!(
        "| scenario | unit | raw | ours | ours/raw | target | met |\n|---|---|---:|---:|---:|---|---|"
    );
    for row in rows {
        let ratio = median(&row.ratios());
        let (target, met) = match (row.target, ratio) {
            (Target::AtLeast(t), Some(r)) => (format!(">= {t}"), if r >= t { "yes" } else { "NO" }),
            (Target::AtMost(t), Some(r)) => (format!("<= {t}"), if r <= t { "yes" } else { "NO" }),
            (Target::AtLeast(t), None) => (format!(">= {t}"), "-"),
            (Target::AtMost(t), None) => (format!("<= {t}"), "-"),
            (Target::Info, _) => ("reference".into(), "-"),
        };
        let ours = figure(median(&row.ours));
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.unit,
            figure(median(&row.raw)),
            ours,
            ratio.map_or("-".into(), |r| format!("{r:.3}")),
            target,
            met
        );
    }
    println!();
    println!("per run (raw / ours / ratio):");
    for row in rows {
        let runs: Vec<String> = (0..row.raw.len().max(row.ours.len()))
            .map(|i| {
                let raw = row.raw.get(i).copied();
                let ours = row.ours.get(i).copied();
                let ratio = raw.zip(ours).map(|(r, o)| format!("{:.3}", o / r));
                format!(
                    "{} / {} / {}",
                    figure(raw),
                    figure(ours),
                    ratio.unwrap_or_else(|| "-".into())
                )
            })
            .collect();
        println!("  {}: {}", row.scenario, runs.join("  |  "));
    }
}
