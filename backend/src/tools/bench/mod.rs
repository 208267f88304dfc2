//! `kettle bench`: every model under the same load, beside two servers that record nothing.
//!
//! Kettle's models are real servers, but they pay for being watched: each call is recorded.
//! The bench measures what that costs. Every model, and two plain echo servers compiled in
//! ([`baselines`]: a single-thread epoll loop and a tokio server), gets the same closed-loop
//! load from the same generator, which runs in a child process ([`generator`]) so that what
//! this process uses is the server's alone:
//!
//! - **lines/s and latency** from the generator's last report (every echo checked byte for
//!   byte: a server that answers wrong is marked, not measured);
//! - **CPU %**: this process's CPU time (`getrusage(RUSAGE_SELF)`: the server's threads, the
//!   recorder, the monitor — everything that serving and recording cost) plus its children's
//!   (`RUSAGE_CHILDREN`: process-per-conn's) without the generator's, over the run's wall
//!   time; 100 % is one core;
//! - **RSS**: how much this process's resident memory (`VmRSS` in `/proc/self/status`, plus
//!   the server's child processes') grew during the run over what it held before the server
//!   started, at its highest. Memory an earlier run freed and this one reused does not show:
//!   read it as "new memory this server needed";
//! - **calls per line**: the system calls the server's threads counted
//!   (`ThreadStats::syscalls`, read through [`Recorder::sampled_threads`]) per echoed line;
//!   plain epoll counts its own; tokio's calls are inside its runtime, process-per-conn's are
//!   made in its children and posix-aio's reads in glibc's helper threads, so those have no
//!   count.
//!
//! - **load CPU %**: the generator's own CPU (from `wait4`), to show what driving each server
//!   cost the client side — and whether the client, not the server, was the limit.
//!
//! Runs are repeated and alternated (A B C, then C B A…) so a machine that gets slower or
//! faster during the bench shifts every server alike, and each ratio is taken within one
//! round; the spread (min–max over the rounds) shows the noise. The epoll model is also run
//! with one viewer reading everything: an in-process subscriber that encodes every batch to
//! JSON as the web front does, and counts what it got and what was dropped.
//!
//! [`traced`] is `kettle bench --traced -- PROGRAM`: what Kettle's tracer costs a program of
//! one's own, and whether a busy traced program slows the models beside it. [`cli`] is
//! `kettle bench` on the terminal.

pub mod baselines;
pub mod cli;
pub mod generator;
pub mod traced;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use indicatif::{ProgressBar, ProgressStyle};
use kettle_shared::{LoadReport, ModelState, ServerMsg, MODELS};
use serde::Serialize;

use crate::clock::clock;
use crate::failure::for_terminal;
use crate::models::ModelOptions;
use crate::proc::process::{self, Pid};
use crate::recorder::sampling::ThreadStats;
use crate::recorder::{Position, Recorder};
use crate::registry::Registry;
use generator::Load;

/// Models whose calls are not all made by threads that count them: process-per-conn's
/// children count in their own process, posix-aio's reads are made by glibc's helper threads.
const UNCOUNTED: [&str; 2] = ["process-per-conn", "posix-aio"];

/// The model run a second time with a viewer reading everything.
pub const WATCHED_MODEL: &str = "epoll";

/// What `kettle bench` was asked.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The load on each server.
    pub load: Load,
    /// Rounds.
    pub repeats: u32,
    /// Models to run (`None`: all).
    pub models: Option<Vec<String>>,
    /// The `kettle` executable (the generator, and process-per-conn's children).
    pub exe: PathBuf,
    /// Show progress on the terminal.
    pub progress: bool,
}

/// One server the bench runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Server {
    PlainEpoll,
    Tokio,
    Model(String),
    /// The model again, with one viewer reading every event.
    Watched(String),
}

impl Server {
    fn name(&self) -> String {
        match self {
            Server::PlainEpoll => "plain epoll".into(),
            Server::Tokio => "tokio".into(),
            Server::Model(id) => id.clone(),
            Server::Watched(id) => format!("{id} + viewer"),
        }
    }
}

/// What the in-process viewer got during a watched run.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ViewerStats {
    /// Events it received.
    pub events: u64,
    /// Events it was told it lost (holes in the seqs).
    pub dropped: u64,
    /// JSON it encoded, in bytes.
    pub json_bytes: u64,
    /// Aggregates it received (every model's that recorded anything, each
    /// [`AGGREGATE_EVERY_MS`](kettle_shared::AGGREGATE_EVERY_MS)).
    pub aggregates: u64,
    /// The longest interval an aggregate covered, ms: the time between two of the pump's
    /// cuts, 100 while it keeps up, more when it is starved (the page's numbers freeze).
    pub longest_interval_ms: u64,
    /// The most an aggregate arrived after the end of its interval, ms: how late the viewer
    /// got it.
    pub latest_ms: u64,
}

impl ViewerStats {
    /// Two runs' tallies: counts summed, the longest gap kept.
    fn add(self, b: ViewerStats) -> ViewerStats {
        ViewerStats {
            events: self.events + b.events,
            dropped: self.dropped + b.dropped,
            json_bytes: self.json_bytes + b.json_bytes,
            aggregates: self.aggregates + b.aggregates,
            longest_interval_ms: self.longest_interval_ms.max(b.longest_interval_ms),
            latest_ms: self.latest_ms.max(b.latest_ms),
        }
    }
}

/// One run of one server.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The server.
    pub server: String,
    /// Which round.
    pub round: u32,
    /// The generator's last report.
    pub report: LoadReport,
    /// The server's CPU over the run, 100 = one core.
    pub cpu_percent: f64,
    /// Growth of resident memory during the run, KiB.
    pub rss_kib: u64,
    /// The generator's own CPU over the run (its process), 100 = one core.
    pub generator_cpu_percent: f64,
    /// System calls per echoed line, when counted.
    pub syscalls_per_line: Option<f64>,
    /// The viewer's tally (watched runs only).
    pub viewer: Option<ViewerStats>,
}

/// Median, least and most over the rounds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// Least.
    pub min: f64,
    /// Most.
    pub max: f64,
}

/// A spread as the tables print it: the median, and the range when the runs differ.
fn spread_text(s: &Spread, digits: usize) -> String {
    if s.min == s.max {
        format!("{:.digits$}", s.median)
    } else {
        format!("{:.digits$} ({:.digits$}–{:.digits$})", s.median, s.min, s.max)
    }
}

/// The tables' "checked" column: every echo right and every connection made, or what was not.
fn checked(mismatches: u64, conns_failed: u32) -> String {
    if mismatches == 0 && conns_failed == 0 {
        "ok".to_owned()
    } else {
        format!("{mismatches} wrong, {conns_failed} conns failed")
    }
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Some(Spread { median, min: v[0], max: v[v.len() - 1] })
    }
}

/// One line of the table: a server over every round.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The server.
    pub server: String,
    /// Echoed lines a second.
    pub lines_per_s: Spread,
    /// Median over the rounds of each round's latency p50, µs.
    pub p50_us: u64,
    /// Median of the p99s, µs.
    pub p99_us: u64,
    /// CPU, 100 = one core.
    pub cpu_percent: Spread,
    /// Largest RSS growth, KiB.
    pub rss_kib: u64,
    /// The generator's CPU, 100 = one core: what driving this server cost the client side.
    pub generator_cpu_percent: Spread,
    /// Calls per line (median), when counted.
    pub syscalls_per_line: Option<f64>,
    /// lines/s over plain epoll's in the same round.
    pub vs_plain_epoll: Option<Spread>,
    /// lines/s over tokio's in the same round.
    pub vs_tokio: Option<Spread>,
    /// Mismatched echoes over every round (should be 0).
    pub mismatches: u64,
    /// Connections that failed, the most in one round.
    pub conns_failed: u32,
    /// Lines per connection (least, most) in the last round.
    pub fairness: (u64, u64),
    /// The viewer's tally, summed over the rounds.
    pub viewer: Option<ViewerStats>,
}

/// The machine the bench ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores this process may use.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// `rustc --version`, if a rustc is on the PATH.
    pub rustc: String,
    /// Whether this is a release build.
    pub release_build: bool,
}

/// Everything the bench measured.
#[derive(Debug, Clone, Serialize)]
pub struct Bench {
    /// Where.
    pub machine: Machine,
    /// Connections per run.
    pub conns: u32,
    /// Bytes per line.
    pub size: u32,
    /// Milliseconds per run.
    pub millis: u64,
    /// Rounds.
    pub repeats: u32,
    /// Models that could not run here, and why.
    pub skipped: Vec<(String, String)>,
    /// The table.
    pub rows: Vec<Row>,
    /// Every run.
    pub runs: Vec<Run>,
}

/// Runs the bench. Blocking; call it on a thread that may block, inside a tokio runtime
/// (the recorder and the viewer run on it).
pub fn run(options: &BenchOptions) -> anyhow::Result<Bench> {
    let handle = tokio::runtime::Handle::current();
    let recorder = Recorder::start();
    let model_options =
        ModelOptions { child_exe: Some(options.exe.clone()), ..ModelOptions::default() };
    let registry = Registry::with_options(recorder.clone(), 0, model_options);
    let limit = crate::tools::load::raise_nofile_limit();
    if u64::from(options.load.conns) + 64 > limit {
        eprintln!(
            "kettle bench: {} connections need more descriptors than RLIMIT_NOFILE {limit}",
            options.load.conns
        );
    }

    let mut servers = vec![Server::PlainEpoll, Server::Tokio];
    let mut skipped = Vec::new();
    for m in registry.list() {
        if options.models.as_ref().is_some_and(|ids| !ids.contains(&m.id)) {
            continue;
        }
        if m.state == ModelState::Unavailable {
            let why = m.reason.as_ref().map(for_terminal).unwrap_or_default();
            eprintln!("kettle bench: skipping {}: {why}", m.id);
            skipped.push((m.id.clone(), why));
            continue;
        }
        servers.push(Server::Model(m.id.clone()));
    }
    if servers.contains(&Server::Model(WATCHED_MODEL.into())) {
        servers.push(Server::Watched(WATCHED_MODEL.into()));
    }
    if let Some(ids) = &options.models {
        if let Some(bad) = ids.iter().find(|id| kettle_shared::model(id).is_none()) {
            let known: Vec<_> = MODELS.iter().map(|m| m.id).collect();
            anyhow::bail!("--models {bad}: no such model (known: {})", known.join(", "));
        }
    }

    let bar = if options.progress {
        let bar = ProgressBar::new(servers.len() as u64 * u64::from(options.repeats));
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut runs = Vec::new();
    for round in 1..=options.repeats {
        // A B C, then C B A: drift during the bench weighs on every server alike.
        let order: Vec<&Server> =
            if round % 2 == 1 { servers.iter().collect() } else { servers.iter().rev().collect() };
        for server in order {
            bar.set_message(format!("round {round}: {}", server.name()));
            let run = measure(server, round, options, &registry, &recorder, &handle, &bar)
                .with_context(|| format!("bench of {}", server.name()))?;
            bar.inc(1);
            runs.push(run);
        }
    }
    bar.finish_and_clear();
    let rows = servers.iter().map(|s| row(&s.name(), &runs)).collect();
    Ok(Bench {
        machine: machine(),
        conns: options.load.conns,
        size: options.load.size,
        millis: options.load.duration.as_millis() as u64,
        repeats: options.repeats,
        skipped,
        rows,
        runs,
    })
}

/// A server's started form.
enum Started {
    Baseline(baselines::Baseline),
    Model(String),
}

impl Started {
    /// Starts `server`; returns it, its port and, for a baseline that counts its own system
    /// calls, that count.
    fn start(
        server: &Server,
        registry: &Registry,
    ) -> anyhow::Result<(Started, u16, Option<Arc<AtomicU64>>)> {
        Ok(match server {
            Server::PlainEpoll => {
                let b = baselines::plain_epoll()?;
                let (port, counter) = (b.port, b.syscalls.clone());
                (Started::Baseline(b), port, counter)
            }
            Server::Tokio => {
                let b = baselines::tokio_echo()?;
                let port = b.port;
                (Started::Baseline(b), port, None)
            }
            Server::Model(id) | Server::Watched(id) => {
                registry.start(id)?;
                let port = registry.running_port(id).context("the model did not stay up")?;
                (Started::Model(id.clone()), port, None)
            }
        })
    }

    fn stop(self, registry: &Registry) -> anyhow::Result<()> {
        match self {
            Started::Baseline(b) => b.stop(),
            Started::Model(id) => {
                registry.stop(&id)?;
            }
        }
        Ok(())
    }
}

/// The system calls a server makes during a run, as its own threads count them.
struct Calls<'a> {
    recorder: &'a Recorder,
    /// The model whose threads count (`None` for a baseline, or a model whose calls are not
    /// all made by counting threads: [`UNCOUNTED`]).
    model: Option<&'a str>,
    /// The model's threads, held so a thread that ends during the run still counts, each with
    /// its count when first seen (0 for a thread born during the run).
    threads: HashMap<i32, (Arc<ThreadStats>, u64)>,
    /// A baseline's own counter, and its count at the start.
    counter: Option<(Arc<AtomicU64>, u64)>,
}

impl<'a> Calls<'a> {
    fn start(recorder: &'a Recorder, server: &'a Server, counter: Option<Arc<AtomicU64>>) -> Self {
        let model = match server {
            Server::Model(id) | Server::Watched(id) if !UNCOUNTED.contains(&id.as_str()) => {
                Some(id.as_str())
            }
            _ => None,
        };
        let counter = counter.map(|c| {
            let at_start = c.load(Ordering::Relaxed);
            (c, at_start)
        });
        let mut calls = Calls { recorder, model, threads: HashMap::new(), counter };
        calls.look(true);
        calls
    }

    /// Takes note of the model's threads now (a new one starts from 0).
    fn track(&mut self) {
        self.look(false);
    }

    fn look(&mut self, first: bool) {
        let Some(id) = self.model else { return };
        for t in self.recorder.sampled_threads(id) {
            let at_start = if first { t.syscalls() } else { 0 };
            self.threads.entry(t.tid).or_insert((t, at_start));
        }
    }

    /// Calls per line over `lines` echoed lines, when the server counts its calls.
    fn per_line(&self, lines: u64) -> Option<f64> {
        let lines = lines.max(1) as f64;
        if self.model.is_some() {
            let calls: u64 =
                self.threads.values().map(|(t, s)| t.syscalls().saturating_sub(*s)).sum();
            return Some(calls as f64 / lines);
        }
        let (c, before) = self.counter.as_ref()?;
        Some((c.load(Ordering::Relaxed) - before) as f64 / lines)
    }
}

fn measure(
    server: &Server,
    round: u32,
    options: &BenchOptions,
    registry: &Registry,
    recorder: &Recorder,
    handle: &tokio::runtime::Handle,
    bar: &ProgressBar,
) -> anyhow::Result<Run> {
    let rss_before = rss_kib(std::process::id(), None);
    let (started, port, counter) = Started::start(server, registry)?;
    let viewer = matches!(server, Server::Watched(_)).then(|| {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        (stop, handle.spawn(read_everything(recorder.clone(), stopped)))
    });
    let mut calls = Calls::start(recorder, server, counter);
    let self_before = rusage(libc::RUSAGE_SELF);
    let children_before = rusage(libc::RUSAGE_CHILDREN);
    let started_at = Instant::now();
    let mut rss_peak = 0u64;
    let aim = generator::Aim { port, holder: None };
    let ran = generator::run(&options.exe, &server.name(), aim, &options.load, |r, pid| {
        calls.track();
        rss_peak = rss_peak.max(rss_kib(std::process::id(), Some(pid)));
        bar.set_message(format!(
            "round {round}: {} — {} lines/s, p99 {} µs",
            server.name(),
            r.lines_per_s,
            r.latency.p99_us
        ));
    })?;
    let wall = started_at.elapsed();
    let self_cpu = rusage(libc::RUSAGE_SELF).saturating_sub(self_before);
    calls.track();
    let syscalls_per_line = calls.per_line(ran.report.lines);
    drop(calls);
    started.stop(registry)?;
    let viewer = match viewer {
        Some((stop, task)) => {
            let _ = stop.send(());
            Some(handle.block_on(task)?)
        }
        None => None,
    };
    // Children the server ran (process-per-conn) are reaped by now; the generator is not theirs.
    let children_cpu =
        rusage(libc::RUSAGE_CHILDREN).saturating_sub(children_before).saturating_sub(ran.cpu_ns);
    let percent_of_wall = |ns: u64| ns as f64 / wall.as_nanos().max(1) as f64 * 100.0;
    Ok(Run {
        server: server.name(),
        round,
        report: ran.report,
        cpu_percent: percent_of_wall(self_cpu + children_cpu),
        rss_kib: rss_peak.saturating_sub(rss_before),
        generator_cpu_percent: percent_of_wall(ran.cpu_ns),
        syscalls_per_line,
        viewer,
    })
}

/// The in-process viewer: every batch and every model's aggregates (a page that has just
/// opened asks for all of them), encoded as the web front encodes them for a browser.
async fn read_everything(
    recorder: Recorder,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> ViewerStats {
    use tokio::sync::broadcast::error::RecvError;
    let mut batches = recorder.subscribe();
    let _watcher = recorder.watcher();
    let mut aggregates = recorder.subscribe_aggregates();
    let (_, through) = recorder.history();
    let mut position = Position::after(through);
    let mut stats = ViewerStats::default();
    let encoded = |msg: &ServerMsg| serde_json::to_string(msg).map_or(0, |j| j.len() as u64);
    loop {
        tokio::select! {
            _ = &mut stop => return stats,
            batch = batches.recv() => match batch {
                Ok(batch) => {
                    let (fresh, dropped) = position.take(&batch);
                    stats.events += fresh.len() as u64;
                    stats.dropped += dropped;
                    stats.json_bytes +=
                        encoded(&ServerMsg::Batch { events: fresh.to_vec(), dropped });
                }
                // Skipped batches are holes the next batch reveals, counted there.
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return stats,
            },
            cut = aggregates.recv() => match cut {
                Ok(cut) => {
                    let now = clock().now_ns();
                    for a in cut.iter() {
                        let interval = a.to_ns.saturating_sub(a.from_ns) / 1_000_000;
                        let late = now.saturating_sub(a.to_ns) / 1_000_000;
                        stats.longest_interval_ms = stats.longest_interval_ms.max(interval);
                        stats.latest_ms = stats.latest_ms.max(late);
                    }
                    stats.aggregates += cut.len() as u64;
                    stats.json_bytes +=
                        encoded(&ServerMsg::Aggregates { aggregates: cut.to_vec() });
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return stats,
            },
        }
    }
}

fn row(server: &str, runs: &[Run]) -> Row {
    let mine: Vec<&Run> = runs.iter().filter(|r| r.server == server).collect();
    let ratio = |base: &str| {
        let v: Vec<f64> = mine
            .iter()
            .filter_map(|r| {
                let b = runs.iter().find(|b| b.server == base && b.round == r.round)?;
                (b.report.lines_per_s > 0)
                    .then(|| r.report.lines_per_s as f64 / b.report.lines_per_s as f64)
            })
            .collect();
        Spread::of(v)
    };
    let median_u64 = |f: &dyn Fn(&Run) -> u64| {
        Spread::of(mine.iter().map(|r| f(r) as f64).collect()).map_or(0, |s| s.median as u64)
    };
    let viewer = mine.iter().filter_map(|r| r.viewer).reduce(ViewerStats::add);
    Row {
        server: server.to_owned(),
        lines_per_s: Spread::of(mine.iter().map(|r| r.report.lines_per_s as f64).collect())
            .unwrap_or_default(),
        p50_us: median_u64(&|r| r.report.latency.p50_us),
        p99_us: median_u64(&|r| r.report.latency.p99_us),
        cpu_percent: Spread::of(mine.iter().map(|r| r.cpu_percent).collect()).unwrap_or_default(),
        rss_kib: mine.iter().map(|r| r.rss_kib).max().unwrap_or(0),
        generator_cpu_percent: Spread::of(mine.iter().map(|r| r.generator_cpu_percent).collect())
            .unwrap_or_default(),
        syscalls_per_line: Spread::of(mine.iter().filter_map(|r| r.syscalls_per_line).collect())
            .map(|s| s.median),
        vs_plain_epoll: ratio("plain epoll"),
        vs_tokio: ratio("tokio"),
        mismatches: mine.iter().map(|r| r.report.mismatches).sum(),
        conns_failed: mine.iter().map(|r| r.report.conns_failed).max().unwrap_or(0),
        fairness: mine.last().map_or((0, 0), |r| r.report.fairness),
        viewer,
    }
}

/// The table for the terminal (and `docs/bench.md`).
pub fn table(bench: &Bench) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "server",
        "lines/s (min–max)",
        "p50 µs",
        "p99 µs",
        "CPU %",
        "RSS +MiB",
        "calls/line",
        "× plain epoll",
        "× tokio",
        "lines/conn",
        "load CPU %",
        "checked",
    ]);
    for r in &bench.rows {
        let checked = checked(r.mismatches, r.conns_failed);
        let mut server = r.server.clone();
        if let Some(v) = r.viewer {
            server.push_str(&format!("\n(got {} events, {} dropped)", v.events, v.dropped));
        }
        t.add_row(vec![
            server,
            spread_text(&r.lines_per_s, 0),
            r.p50_us.to_string(),
            r.p99_us.to_string(),
            spread_text(&r.cpu_percent, 0),
            format!("{:.1}", r.rss_kib as f64 / 1024.0),
            r.syscalls_per_line.map_or("—".into(), |c| format!("{c:.2}")),
            r.vs_plain_epoll.as_ref().map_or("—".into(), |s| spread_text(s, 2)),
            r.vs_tokio.as_ref().map_or("—".into(), |s| spread_text(s, 2)),
            format!("{}–{}", r.fairness.0, r.fairness.1),
            format!("{:.0}", r.generator_cpu_percent.median),
            checked,
        ]);
    }
    for i in 1..=11 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// Whether every echo of every run was right and every connection opened.
pub fn all_verified(bench: &Bench) -> bool {
    bench.rows.iter().all(|r| r.mismatches == 0 && r.conns_failed == 0)
}

/// CPU time (user + system) of `who`, in ns.
fn rusage(who: libc::c_int) -> u64 {
    // SAFETY: getrusage fills the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    generator::rusage_ns(&u)
}

/// Resident memory of process `pid` and its children except `except`, in KiB
/// (`VmRSS` of each; a child that ended meanwhile counts nothing).
fn rss_kib(pid: u32, except: Option<u32>) -> u64 {
    let vm_rss = |pid: u32| process::status(Pid::Id(pid)).map_or(0, |s| s.rss_kib);
    let children = process::children(pid).unwrap_or_default();
    let kids = children.iter().map(|(kid, _)| *kid).filter(|kid| Some(*kid) != except);
    vm_rss(pid) + kids.map(vm_rss).sum::<u64>()
}

fn machine() -> Machine {
    let cpu = process::cpu_model().unwrap_or_else(|| "unknown".into());
    let kernel = process::kernel_release().unwrap_or_else(|| "unknown".into());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel,
        rustc,
        release_build: !cfg!(debug_assertions),
    }
}

/// The default run length, and the short form's.
pub const RUN: Duration = Duration::from_secs(3);
/// The short form (`--short`): every server for a fraction of a second, once.
pub const SHORT_RUN: Duration = Duration::from_millis(400);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spread_is_the_median_with_the_least_and_the_most() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        let s = Spread::of(vec![4.0, 1.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Spread::of(vec![]).is_none());
    }
}
