//! `kettle bench --traced -- PROGRAM`: what Kettle's tracer costs the program it traces, and
//! whether a busy traced program slows Kettle's other models.
//!
//! PROGRAM (an echo server listening on 127.0.0.1, on any port) gets the same closed-loop
//! load as the models, from the same generator in a child process ([`super::generator`],
//! told which of the bench's children holds the listener), in three forms:
//!
//! - **untraced**: started as itself, in a process group of its own, and loaded once it
//!   listens (its listener found in `/proc/net/tcp` among its descriptors);
//! - **traced + viewer**: as `kettle trace` runs it — a [`TracedProgram`] under Kettle's
//!   seccomp filter, every stop decoded, classified and recorded through a [`Recorder`] — with
//!   a viewer watching (the bench's in-process viewer: every batch and every model's
//!   aggregates, encoded as JSON as the web front encodes them);
//! - **every call + viewer**: the same, the program stopping on every system call
//!   ([`Stops::Every`]): the filter's gain is the traced rate over this one's.
//!
//! Each run also says how long the program took from its start to its listening, and how many
//! calls stopped it meanwhile: a program's start (Python's: hundreds of `mmap`, `openat`,
//! `fstat`) is made of calls no figure draws, where the filter saves most; a server's steady
//! state may be made of drawn calls only.
//!
//! Then the other half of the question, "a busy program slows itself, never Kettle": the
//! epoll model with the viewer, alone, beside a busy loop (`tests/traced/busy_loop.py`,
//! compiled in, run with `python3 -c`) spinning on `accept` → `EAGAIN` untraced — what any
//! program burning a core costs the machine — and beside the same loop traced, each of its
//! calls a stop the tracer thread handles and records: what tracing it adds.
//!
//! The viewer is subscribed while the load runs; the longest interval one of its aggregates
//! covers (the pump cuts every 100 ms) and how late the latest one arrived say whether the
//! recorder's pump, and so the page, kept up. Each row's
//! lines/s is divided by its baseline's in the same round (the untraced program, or epoll
//! alone); rounds alternate the order as `kettle bench`'s do. The CPU is given per
//! side: Kettle's process (`getrusage(RUSAGE_SELF)`: the tracer, decoding, recording, the
//! viewer, and the epoll model in its rows) and the program's (from `/proc/<pid>/stat` over
//! the run: the traced program's own work, its stops included). Every program is killed with
//! its process group after its run, and the bench checks that nothing of it is left.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use indicatif::{ProgressBar, ProgressStyle};
use kettle_shared::{LoadReport, ModelInfo};
use nix::sys::signal::{killpg, Signal};
use serde::Serialize;

use super::generator::{self, Aim, Load};
use super::{
    checked, machine, read_everything, rusage, spread_text, Machine, Spread, ViewerStats,
    WATCHED_MODEL,
};
use crate::proc::net::{TcpTable, TCP_LISTEN};
use crate::proc::process::{self, Pid};
use crate::recorder::Recorder;
use crate::registry::Registry;
use crate::trace::filter::Stops;
use crate::trace::program::{for_people, TracedProgram};

/// The busy loop run beside the epoll model: the test program, compiled in.
const BUSY_LOOP: &str = include_str!("../../../tests/traced/busy_loop.py");

/// How long a program may take to start listening (Python under a tracer stopping on every
/// call, started through a pyenv shim, takes a few seconds on a busy machine).
const LISTEN_PATIENCE: Duration = Duration::from_secs(30);

/// What `kettle bench --traced` was asked.
#[derive(Debug, Clone)]
pub struct TracedOptions {
    /// The load on each run.
    pub load: Load,
    /// Rounds.
    pub repeats: u32,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// Also run the epoll model alone and beside a traced busy loop (needs `python3`).
    pub busy: bool,
    /// The `kettle` executable (the generator).
    pub exe: std::path::PathBuf,
    /// Show progress on the terminal.
    pub progress: bool,
}

/// One run's server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    Untraced,
    Traced(Stops),
    Epoll,
    /// Epoll beside the busy loop run as itself: what any program spinning on a core costs.
    EpollBesideUntracedBusy,
    EpollBesideBusy,
}

impl Server {
    fn name(self) -> String {
        match self {
            Server::Untraced => "untraced".into(),
            Server::Traced(Stops::Drawn) => "traced + viewer".into(),
            Server::Traced(Stops::Every) => "every call + viewer".into(),
            Server::Epoll => format!("{WATCHED_MODEL} + viewer"),
            Server::EpollBesideUntracedBusy => {
                format!("{WATCHED_MODEL} + viewer, busy loop untraced")
            }
            Server::EpollBesideBusy => format!("{WATCHED_MODEL} + viewer, busy loop traced"),
        }
    }

    /// The run whose lines/s this one's is divided by.
    fn baseline(self) -> Option<Server> {
        match self {
            Server::Untraced | Server::Epoll => None,
            Server::Traced(_) => Some(Server::Untraced),
            Server::EpollBesideUntracedBusy | Server::EpollBesideBusy => Some(Server::Epoll),
        }
    }

    fn watched(self) -> bool {
        self != Server::Untraced
    }
}

/// One run.
#[derive(Debug, Clone, Serialize)]
pub struct TracedRun {
    /// The row it belongs to.
    pub server: String,
    /// Which round.
    pub round: u32,
    /// The generator's last report.
    pub report: LoadReport,
    /// Kettle's own process's CPU over the run, 100 = one core.
    pub kettle_cpu_percent: f64,
    /// The program's CPU over the run (the busy loop's beside epoll), 100 = one core.
    pub program_cpu_percent: Option<f64>,
    /// The generator's CPU, 100 = one core.
    pub generator_cpu_percent: f64,
    /// Calls that stopped the traced program during the run, per echoed line.
    pub stops_per_line: Option<f64>,
    /// From starting the program to its listening, ms (the program's runs only).
    pub to_listen_ms: Option<f64>,
    /// Calls that stopped the traced program before it listened: its start, traced.
    pub stops_to_listen: Option<u64>,
    /// The program's process id (every one is gone when the bench returns).
    pub program_pid: Option<u32>,
    /// The viewer's tally.
    pub viewer: Option<ViewerStats>,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct TracedRow {
    /// The server.
    pub server: String,
    /// Echoed lines a second.
    pub lines_per_s: Spread,
    /// The row it is compared with, and lines/s over that row's in the same round.
    pub vs: Option<(String, Spread)>,
    /// Medians over the rounds of the latency quantiles, µs.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Kettle's CPU, 100 = one core.
    pub kettle_cpu_percent: Spread,
    /// The program's CPU, 100 = one core.
    pub program_cpu_percent: Option<Spread>,
    /// The generator's CPU, 100 = one core.
    pub generator_cpu_percent: Spread,
    /// Stops per line (median).
    pub stops_per_line: Option<f64>,
    /// From start to listening, ms.
    pub to_listen_ms: Option<Spread>,
    /// Calls stopped before listening (median).
    pub stops_to_listen: Option<u64>,
    /// Mismatched echoes over every round (should be 0).
    pub mismatches: u64,
    /// Connections that failed, the most in one round.
    pub conns_failed: u32,
    /// The viewer's tally over the rounds.
    pub viewer: Option<ViewerStats>,
}

/// Everything `kettle bench --traced` measured.
#[derive(Debug, Clone, Serialize)]
pub struct TracedBench {
    /// Where.
    pub machine: Machine,
    /// The program, as a command line.
    pub program: String,
    /// Connections per run.
    pub conns: u32,
    /// Bytes per line.
    pub size: u32,
    /// Milliseconds per run.
    pub millis: u64,
    /// Rounds.
    pub repeats: u32,
    /// The table.
    pub rows: Vec<TracedRow>,
    /// The filter's gain: the traced rate over the every-call rate, in the same round.
    pub filter_gain: Option<Spread>,
    /// Why the busy-loop rows are missing, if they are.
    pub busy_skipped: Option<String>,
    /// Every run.
    pub runs: Vec<TracedRun>,
}

/// Runs `kettle bench --traced`. Blocking; call it on a thread that may block, inside a tokio
/// runtime (the recorder and the viewer run on it).
pub fn run(options: &TracedOptions) -> anyhow::Result<TracedBench> {
    anyhow::ensure!(!options.command.is_empty(), "--traced needs a program after `--`");
    let handle = tokio::runtime::Handle::current();
    let recorder = Recorder::start();
    let registry = Registry::with_options(recorder.clone(), 0, Default::default());
    let (changes, _) = tokio::sync::broadcast::channel::<ModelInfo>(16);
    let traced = |stops| {
        TracedProgram::stopping_at(
            stops,
            options.command.clone(),
            recorder.clone(),
            changes.clone(),
        )
    };
    let (filtered, every) = (traced(Stops::Drawn), traced(Stops::Every));
    let busy = TracedProgram::new(busy_command(), recorder.clone(), changes.clone());

    let mut servers =
        vec![Server::Untraced, Server::Traced(Stops::Drawn), Server::Traced(Stops::Every)];
    let busy_skipped = if !options.busy {
        Some("not asked".to_owned())
    } else if !on_path("python3") {
        Some("python3 is not on the PATH".to_owned())
    } else {
        servers.extend([Server::Epoll, Server::EpollBesideUntracedBusy, Server::EpollBesideBusy]);
        None
    };
    let bar = progress_bar(options.progress, servers.len() as u64 * u64::from(options.repeats));
    let mut runs = Vec::new();
    for round in 1..=options.repeats {
        let order: Vec<Server> =
            if round % 2 == 1 { servers.clone() } else { servers.iter().rev().copied().collect() };
        for server in order {
            bar.set_message(format!("round {round}: {}", server.name()));
            let program = match server {
                Server::Traced(Stops::Drawn) => Some(&filtered),
                Server::Traced(Stops::Every) => Some(&every),
                Server::EpollBesideBusy => Some(&busy),
                Server::Untraced | Server::Epoll | Server::EpollBesideUntracedBusy => None,
            };
            let on = Bench { options, registry: &registry, recorder: &recorder, handle: &handle };
            let run = on
                .measure(server, program, round, &bar)
                .with_context(|| format!("bench of {}", server.name()))?;
            bar.inc(1);
            runs.push(run);
        }
    }
    bar.finish_and_clear();
    let rows = servers.iter().map(|s| row(*s, &runs)).collect();
    let traced_name = Server::Traced(Stops::Drawn).name();
    let every_name = Server::Traced(Stops::Every).name();
    Ok(TracedBench {
        machine: machine(),
        program: filtered.command_line(),
        conns: options.load.conns,
        size: options.load.size,
        millis: options.load.duration.as_millis() as u64,
        repeats: options.repeats,
        rows,
        filter_gain: ratio(&runs, &traced_name, &every_name),
        busy_skipped,
        runs,
    })
}

/// What every run shares.
struct Bench<'a> {
    options: &'a TracedOptions,
    registry: &'a Registry,
    recorder: &'a Recorder,
    handle: &'a tokio::runtime::Handle,
}

impl Bench<'_> {
    /// One run of `server` (`program`: its traced program, or the busy loop beside epoll).
    fn measure(
        &self,
        server: Server,
        program: Option<&TracedProgram>,
        round: u32,
        bar: &ProgressBar,
    ) -> anyhow::Result<TracedRun> {
        let stops_at_start = program.map(TracedProgram::calls_stopped);
        let starting = Instant::now();
        let started = Started::start(server, &self.options.command, program, self.registry)?;
        let to_listen_ms = starting.elapsed().as_secs_f64() * 1e3;
        let stops_before = program.map(TracedProgram::calls_stopped);
        // Watching the load: the gaps between aggregates are the page's while it runs.
        let viewer = server.watched().then(|| {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            (stop, self.handle.spawn(read_everything(self.recorder.clone(), stopped)))
        });
        let cpu_before = started.program_pid().and_then(cpu_ticks);
        let self_before = rusage(libc::RUSAGE_SELF);
        let at = Instant::now();
        let ran = generator::run(
            &self.options.exe,
            &server.name(),
            started.aim,
            &self.options.load,
            |r, _| {
                bar.set_message(format!(
                    "round {round}: {} — {} lines/s, p99 {} µs",
                    server.name(),
                    r.lines_per_s,
                    r.latency.p99_us
                ));
            },
        )?;
        let wall = at.elapsed();
        let kettle_cpu = rusage(libc::RUSAGE_SELF).saturating_sub(self_before);
        let program_cpu = match (cpu_before, started.program_pid().and_then(cpu_ticks)) {
            (Some(before), Some(after)) => {
                Some((after.saturating_sub(before)) as f64 / process::ticks_per_s())
            }
            _ => None,
        };
        let lines = ran.report.lines.max(1) as f64;
        let stops_per_line = match (program, stops_before) {
            (Some(p), Some(before)) if server != Server::EpollBesideBusy => {
                Some((p.calls_stopped() - before) as f64 / lines)
            }
            _ => None,
        };
        let viewer = match viewer {
            Some((stop, task)) => {
                let _ = stop.send(());
                Some(self.handle.block_on(task)?)
            }
            None => None,
        };
        let program_pid = started.program_pid();
        started.stop(self.registry)?;
        let program_run = matches!(server, Server::Untraced | Server::Traced(_));
        let stops_to_listen = match (stops_at_start, stops_before) {
            (Some(at_start), Some(listening)) if program_run => Some(listening - at_start),
            _ => None,
        };
        let percent = |secs: f64| secs / wall.as_secs_f64().max(1e-9) * 100.0;
        Ok(TracedRun {
            server: server.name(),
            round,
            report: ran.report,
            kettle_cpu_percent: percent(kettle_cpu as f64 / 1e9),
            program_cpu_percent: program_cpu.map(percent),
            generator_cpu_percent: percent(ran.cpu_ns as f64 / 1e9),
            stops_per_line,
            to_listen_ms: program_run.then_some(to_listen_ms),
            stops_to_listen,
            program_pid,
            viewer,
        })
    }
}

/// A server of one run, started; stopped (its program killed) when dropped.
struct Started<'a> {
    aim: Aim,
    what: Running<'a>,
}

enum Running<'a> {
    Plain(Plain),
    Traced(&'a TracedProgram),
    Model,
    ModelBesidePlain(Plain),
    ModelBesideBusy(&'a TracedProgram),
}

impl<'a> Started<'a> {
    fn start(
        server: Server,
        command: &[String],
        program: Option<&'a TracedProgram>,
        registry: &Registry,
    ) -> anyhow::Result<Started<'a>> {
        let model_port = |registry: &Registry| -> anyhow::Result<u16> {
            registry.start(WATCHED_MODEL)?;
            registry.running_port(WATCHED_MODEL).context("the model did not stay up")
        };
        Ok(match (server, program) {
            (Server::Untraced, _) => {
                let plain = Plain::start(command)?;
                let aim = Aim { port: plain.port, holder: Some(plain.pid()) };
                Started { aim, what: Running::Plain(plain) }
            }
            (Server::Traced(_), Some(program)) => {
                // Kept in `Started` from the start, so a program that never listens is killed.
                let mut started =
                    Started { aim: Aim { port: 0, holder: None }, what: Running::Traced(program) };
                let (port, pid) = start_traced(program)?;
                started.aim = Aim { port, holder: Some(pid) };
                started
            }
            (Server::Epoll, _) => {
                let port = model_port(registry)?;
                Started { aim: Aim { port, holder: None }, what: Running::Model }
            }
            (Server::EpollBesideUntracedBusy, _) => {
                let plain = Plain::start(&busy_command())?;
                let mut started = Started {
                    aim: Aim { port: 0, holder: None },
                    what: Running::ModelBesidePlain(plain),
                };
                started.aim.port = model_port(registry)?;
                started
            }
            (Server::EpollBesideBusy, Some(busy)) => {
                let mut started = Started {
                    aim: Aim { port: 0, holder: None },
                    what: Running::ModelBesideBusy(busy),
                };
                // Spinning before the model starts: it listens, and loops on accept.
                start_traced(busy)?;
                started.aim.port = model_port(registry)?;
                started
            }
            (Server::Traced(_) | Server::EpollBesideBusy, None) => {
                anyhow::bail!("{}: no program", server.name())
            }
        })
    }

    /// The program whose CPU the run reports.
    fn program_pid(&self) -> Option<u32> {
        match &self.what {
            Running::Plain(plain) | Running::ModelBesidePlain(plain) => Some(plain.pid()),
            Running::Traced(p) | Running::ModelBesideBusy(p) => p.pid().map(|pid| pid as u32),
            Running::Model => None,
        }
    }

    /// Stops everything, and checks that no process of the program is left.
    fn stop(mut self, registry: &Registry) -> anyhow::Result<()> {
        let group = self.program_pid();
        let model = match std::mem::replace(&mut self.what, Running::Model) {
            Running::Plain(plain) => {
                drop(plain);
                false
            }
            Running::Traced(p) => {
                p.stop();
                false
            }
            Running::Model => true,
            Running::ModelBesidePlain(plain) => {
                drop(plain);
                true
            }
            Running::ModelBesideBusy(p) => {
                p.stop();
                true
            }
        };
        if let Some(group) = group {
            all_gone(group)?;
        }
        if model {
            registry.stop(WATCHED_MODEL)?;
        }
        Ok(())
    }
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        match &self.what {
            Running::Traced(p) | Running::ModelBesideBusy(p) => {
                p.stop();
            }
            // `Plain` kills its group as it drops.
            Running::Plain(_) | Running::ModelBesidePlain(_) | Running::Model => {}
        }
    }
}

/// Starts `program` traced and waits until it listens: its port and process id.
fn start_traced(program: &TracedProgram) -> anyhow::Result<(u16, u32)> {
    program.start().map_err(|e| {
        let reason = e.reason();
        anyhow::anyhow!(
            "{} did not start: {} ({reason:?})",
            program.command_line(),
            for_people(&reason)
        )
    })?;
    let deadline = Instant::now() + LISTEN_PATIENCE;
    loop {
        if let (Some(port), Some(pid)) = (program.running_port(), program.pid()) {
            return Ok((port, pid as u32));
        }
        if program.pid().is_none() {
            let why = program.info().reason.map(|r| for_people(&r)).unwrap_or_default();
            anyhow::bail!("{} ended before it listened: {why}", program.command_line());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} has not listened on 127.0.0.1 after {LISTEN_PATIENCE:?}",
            program.command_line()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The program run as itself, in a process group of its own, which is killed when it drops.
struct Plain {
    child: Child,
    port: u16,
}

impl Plain {
    /// Starts `command` and waits until it listens on 127.0.0.1.
    fn start(command: &[String]) -> anyhow::Result<Plain> {
        let mut cmd = Command::new(&command[0]);
        cmd.args(&command[1..]).stdin(Stdio::null()).process_group(0);
        // SAFETY: between fork and exec, one system call on no memory of ours. The traced
        // programs die with the bench through PTRACE_O_EXITKILL; this one through the signal
        // the kernel sends when the thread that started it ends.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("cannot run {}", command[0]))?;
        let mut plain = Plain { child, port: 0 };
        let deadline = Instant::now() + LISTEN_PATIENCE;
        loop {
            if let Some(port) = listening_port(plain.pid()) {
                plain.port = port;
                return Ok(plain);
            }
            if let Some(status) = plain.child.try_wait()? {
                anyhow::bail!("{} ended before it listened: {status}", command[0]);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} has not listened on 127.0.0.1 after {LISTEN_PATIENCE:?}",
                command[0]
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        // ESRCH: it had ended already (and is reaped below).
        let _ = killpg(nix::unistd::Pid::from_raw(self.pid() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// The port on 127.0.0.1 that process `pid` listens on, if it does yet.
fn listening_port(pid: u32) -> Option<u16> {
    let table = TcpTable::read().ok()?;
    let mut listeners =
        table.0.iter().filter(|s| s.state == TCP_LISTEN && *s.local.ip() == Ipv4Addr::LOCALHOST);
    listeners
        .find(|s| process::holds_socket(Pid::Id(pid), s.inode).unwrap_or(false))
        .map(|s| s.local.port())
}

/// Checks that no process of group `group` is left alive (a killed process takes a moment to
/// die; an orphan's zombie, waiting for init, holds nothing and is not counted).
fn all_gone(group: u32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let alive = process::alive_in_group(group)?;
        if alive.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "processes {alive:?} of the program's group {group} outlived its run"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// User + system CPU ticks of process `pid`.
fn cpu_ticks(pid: u32) -> Option<u64> {
    process::stat(Pid::Id(pid)).ok().map(|s| s.cpu_ticks())
}

/// The busy loop's command line.
fn busy_command() -> Vec<String> {
    vec!["python3".to_owned(), "-c".to_owned(), BUSY_LOOP.to_owned()]
}

/// Whether `program` is found in the PATH.
fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(program).is_file())
}

fn progress_bar(shown: bool, len: u64) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// `server`'s lines/s over `base`'s, round by round.
fn ratio(runs: &[TracedRun], server: &str, base: &str) -> Option<Spread> {
    let v = runs
        .iter()
        .filter(|r| r.server == server)
        .filter_map(|r| {
            let b = runs.iter().find(|b| b.server == base && b.round == r.round)?;
            (b.report.lines_per_s > 0)
                .then(|| r.report.lines_per_s as f64 / b.report.lines_per_s as f64)
        })
        .collect();
    Spread::of(v)
}

fn row(server: Server, runs: &[TracedRun]) -> TracedRow {
    let name = server.name();
    let mine: Vec<&TracedRun> = runs.iter().filter(|r| r.server == name).collect();
    let spread = |f: &dyn Fn(&TracedRun) -> Option<f64>| {
        Spread::of(mine.iter().filter_map(|r| f(r)).collect())
    };
    let median = |f: &dyn Fn(&TracedRun) -> u64| {
        spread(&|r| Some(f(r) as f64)).map_or(0, |s| s.median as u64)
    };
    TracedRow {
        lines_per_s: spread(&|r| Some(r.report.lines_per_s as f64)).unwrap_or_default(),
        vs: server.baseline().and_then(|b| {
            let base = b.name();
            ratio(runs, &name, &base).map(|s| (base, s))
        }),
        p50_us: median(&|r| r.report.latency.p50_us),
        p99_us: median(&|r| r.report.latency.p99_us),
        p999_us: median(&|r| r.report.latency.p999_us),
        kettle_cpu_percent: spread(&|r| Some(r.kettle_cpu_percent)).unwrap_or_default(),
        program_cpu_percent: spread(&|r| r.program_cpu_percent),
        generator_cpu_percent: spread(&|r| Some(r.generator_cpu_percent)).unwrap_or_default(),
        stops_per_line: spread(&|r| r.stops_per_line).map(|s| s.median),
        to_listen_ms: spread(&|r| r.to_listen_ms),
        stops_to_listen: spread(&|r| r.stops_to_listen.map(|s| s as f64)).map(|s| s.median as u64),
        mismatches: mine.iter().map(|r| r.report.mismatches).sum(),
        conns_failed: mine.iter().map(|r| r.report.conns_failed).max().unwrap_or(0),
        viewer: mine.iter().filter_map(|r| r.viewer).reduce(ViewerStats::add),
        server: name,
    }
}

/// The table for the terminal (and `docs/bench.md`).
pub fn table(bench: &TracedBench) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "run",
        "lines/s (min–max)",
        "× baseline",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "stops/line",
        "to listen ms (stops)",
        "Kettle CPU %",
        "program CPU %",
        "load CPU %",
        "viewer",
        "checked",
    ]);
    for r in &bench.rows {
        let checked = checked(r.mismatches, r.conns_failed);
        let viewer = r.viewer.map_or("—".to_owned(), |v| {
            format!(
                "{} events, {} dropped;\naggregates every ≤ {} ms, ≤ {} ms late",
                v.events, v.dropped, v.longest_interval_ms, v.latest_ms
            )
        });
        t.add_row(vec![
            r.server.clone(),
            spread_text(&r.lines_per_s, 0),
            r.vs.as_ref()
                .map_or("—".into(), |(base, s)| format!("{} × {base}", spread_text(s, 2))),
            r.p50_us.to_string(),
            r.p99_us.to_string(),
            r.p999_us.to_string(),
            r.stops_per_line.map_or("—".into(), |s| format!("{s:.2}")),
            match (&r.to_listen_ms, r.stops_to_listen) {
                (Some(ms), Some(stops)) => format!("{} ({stops})", spread_text(ms, 0)),
                (Some(ms), None) => spread_text(ms, 0),
                _ => "—".into(),
            },
            spread_text(&r.kettle_cpu_percent, 0),
            r.program_cpu_percent.as_ref().map_or("—".into(), |s| spread_text(s, 0)),
            format!("{:.0}", r.generator_cpu_percent.median),
            viewer,
            checked,
        ]);
    }
    for i in 1..=10 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// What the numbers say, a line each: the program's rate traced against the target,
/// the filter's gain, and epoll beside the busy loop.
pub fn verdicts(bench: &TracedBench) -> Vec<String> {
    let mut said = Vec::new();
    let range = |s: &Spread| format!("{:.2}× ({:.2}–{:.2})", s.median, s.min, s.max);
    let vs = |server: Server| {
        bench.rows.iter().find(|r| r.server == server.name()).and_then(|r| r.vs.as_ref())
    };
    if let Some((_, s)) = vs(Server::Traced(Stops::Drawn)) {
        let met = if s.median >= 0.5 { "met" } else { "NOT met" };
        said.push(format!(
            "traced and watched, the program keeps {} of its untraced rate (target ≥ 0.50×: {met})",
            range(s)
        ));
    }
    if let Some(gain) = &bench.filter_gain {
        said.push(format!(
            "the seccomp filter's gain: traced ÷ stopping on every call = {}",
            range(gain)
        ));
    }
    if let Some((_, s)) = vs(Server::EpollBesideUntracedBusy) {
        said.push(format!(
            "epoll beside the busy loop untraced keeps {} of its rate alone",
            range(s)
        ));
    }
    if let Some((_, s)) = vs(Server::EpollBesideBusy) {
        said.push(format!(
            "epoll beside the busy loop traced keeps {} of its rate alone",
            range(s)
        ));
    }
    if let Some(why) = &bench.busy_skipped {
        said.push(format!("the busy loop beside epoll was not run: {why}"));
    }
    said
}

/// Whether every echo of every run was right and every connection opened.
pub fn all_verified(bench: &TracedBench) -> bool {
    bench.rows.iter().all(|r| r.mismatches == 0 && r.conns_failed == 0)
}
