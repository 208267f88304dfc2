//! The traced program as a model: `kettle trace -- PROGRAM` runs PROGRAM under
//! [`super::tracer`], turns what it does into events ([`super::decode`]), numbers its
//! connections, recognises its figure ([`super::classify`]) and records everything through the
//! same [`Recorder`] as the built-in models, so the page, the spotlight, the aggregates and
//! the viewers' limits treat it as any model. Its id is [`TRACED_MODEL`].
//!
//! Unlike a built-in model, Kettle does not own its socket: the port is the one the program
//! itself passes to `bind`/`listen` (the first one, if it listens on several), known only once
//! it has called them. Starting it runs the command again; stopping it kills its whole
//! process group (it runs in one of its own), and `PTRACE_O_EXITKILL` kills whatever is left
//! if Kettle itself ends, so no port outlives Kettle.

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kettle_shared::{
    ChildExit, EventKind, Family, ModelInfo, ModelState, Reason, RecvOutcome, TRACED_MODEL,
};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::{access, AccessFlags, Pid};
use tokio::sync::broadcast;

use super::arrival::Arrivals;
use super::classify::Classifier;
use super::decode::{self, Decoder, Memory, ProcessMemory, Unread};
use super::filter::Stops;
use super::passive::{Passive, Suspension};
use super::ready::KernelReady;
use super::tracer::{self, Seen};
use crate::failure::{errno_name, io_errno};
use crate::recorder::{Recorder, Tracer};
use crate::registry::RegistryError;

/// How long a program may run without listening before the model says so.
pub const NEVER_LISTENED_AFTER: Duration = Duration::from_secs(5);

/// How long `start` waits for the program to be running under the tracer.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// One program, traced whenever it is started. Cheap to clone.
#[derive(Clone)]
pub struct TracedProgram {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TracedProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracedProgram").field("command", &self.inner.command).finish()
    }
}

struct Inner {
    /// The program and its arguments, as given after `--`.
    command: Vec<String>,
    /// Which calls stop it: the drawn ones, but for a bench.
    stops: Stops,
    recorder: Recorder,
    changes: broadcast::Sender<ModelInfo>,
    state: Mutex<State>,
    /// The arrivals of the program's reads (phase 1): the kernel's word or Kettle's clients'.
    arrivals: Arc<Arrivals>,
    /// Calls that stopped the program, over every run.
    stopped: AtomicU64,
    /// Calls that returned, and those that returned `EAGAIN`, over every run: whether the
    /// program is spinning ([`Spinning`]).
    returned: AtomicU64,
    would_block: AtomicU64,
    /// The latest run's passive threads ([`super::passive`]).
    suspension: Mutex<Option<Arc<Suspension>>>,
}

#[derive(Default)]
struct State {
    run: Option<Run>,
    /// Counts the runs, so a run that ends by itself never clears a newer one.
    generation: u64,
    ports: Vec<u16>,
    family: Option<Family>,
    reason: Option<Reason>,
    /// The run's busy threads are read from the tracepoints, not stopped ([`super::passive`]).
    passive: bool,
}

struct Run {
    pid: i32,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl TracedProgram {
    /// The program `command` (program and arguments), not started.
    pub fn new(
        command: Vec<String>,
        recorder: Recorder,
        changes: broadcast::Sender<ModelInfo>,
    ) -> TracedProgram {
        TracedProgram::stopping_at(Stops::Drawn, command, recorder, changes)
    }

    /// [`TracedProgram::new`], the program stopping at the calls `stops` names
    /// ([`Stops::Every`]: to measure what the filter saves).
    pub fn stopping_at(
        stops: Stops,
        command: Vec<String>,
        recorder: Recorder,
        changes: broadcast::Sender<ModelInfo>,
    ) -> TracedProgram {
        let inner = Inner {
            command,
            stops,
            recorder,
            changes,
            state: Mutex::default(),
            arrivals: Arc::default(),
            stopped: AtomicU64::new(0),
            returned: AtomicU64::new(0),
            would_block: AtomicU64::new(0),
            suspension: Mutex::default(),
        };
        TracedProgram { inner: Arc::new(inner) }
    }

    /// The command line as people write it (`python3 echo.py 9000`): the model's title.
    pub fn command_line(&self) -> String {
        command_line(&self.inner.command)
    }

    /// The model as `/api/models` lists it.
    pub fn info(&self) -> ModelInfo {
        self.inner.info(&self.inner.lock())
    }

    /// Where Kettle's echo clients of this program leave the stamps of their sends.
    pub fn arrivals(&self) -> &Arc<Arrivals> {
        &self.inner.arrivals
    }

    /// The process id of the program while it runs.
    pub fn pid(&self) -> Option<i32> {
        self.inner.lock().run.as_ref().map(|r| r.pid)
    }

    /// How many times, in the latest run, the kernel dropped records of the program's calls
    /// while they were read passively (Kettle's reader fell behind): 0 if its counts are whole.
    pub fn records_missed(&self) -> u64 {
        lock(&self.inner.suspension).as_ref().map_or(0, |s| s.missed())
    }

    /// How many system calls have stopped the program so far (over every run): what tracing
    /// it costs, in stops.
    pub fn calls_stopped(&self) -> u64 {
        self.inner.stopped.load(Ordering::Relaxed)
    }

    /// The first port the program listens on, while it runs.
    pub fn running_port(&self) -> Option<u16> {
        let state = self.inner.lock();
        state.run.as_ref().and(state.ports.first().copied())
    }

    /// Every port the program listens on, while it runs, in the order it listened.
    pub fn running_ports(&self) -> Vec<u16> {
        let state = self.inner.lock();
        if state.run.is_some() {
            state.ports.clone()
        } else {
            Vec::new()
        }
    }

    /// Runs the program under the tracer (no-op if it runs). Returns once the program runs:
    /// it may not listen yet.
    pub fn start(&self) -> Result<ModelInfo, RegistryError> {
        let info = {
            let mut state = self.inner.lock();
            if state.run.is_none() {
                let program = runnable(&self.inner.command)?;
                state.generation += 1;
                state.ports.clear();
                state.family = None;
                state.reason = None;
                state.passive = false;
                let run = self.launch(program, state.generation)?;
                state.run = Some(run);
            }
            self.inner.info(&state)
        };
        let _ = self.inner.changes.send(info.clone());
        Ok(info)
    }

    /// Kills the program's process group and waits until the tracer saw every task end.
    /// Blocking.
    pub fn stop(&self) -> ModelInfo {
        let run = self.inner.lock().run.take();
        if let Some(run) = run {
            run.stopping.store(true, Ordering::SeqCst);
            // The program runs in a process group of its own (`process_group(0)`): its
            // children go with it. ESRCH: it already ended.
            let _ = killpg(Pid::from_raw(run.pid), Signal::SIGKILL);
            let _ = run.thread.join();
        }
        let info = self.info();
        let _ = self.inner.changes.send(info.clone());
        info
    }

    fn launch(&self, program: PathBuf, generation: u64) -> Result<Run, RegistryError> {
        let mut cmd = Command::new(program);
        cmd.args(&self.inner.command[1..]).stdin(Stdio::null()).process_group(0);
        let stopping = Arc::new(AtomicBool::new(false));
        let (started, pid) = mpsc::channel::<Result<i32, Reason>>();
        let inner = self.inner.clone();
        let thread = std::thread::Builder::new()
            .name("tracer".into())
            .spawn({
                let stopping = stopping.clone();
                move || trace_one_run(inner, cmd, generation, stopping, started)
            })
            .map_err(|e| RegistryError::Io(Reason::CannotCreateThread { errno: io_errno(&e) }))?;
        let pid = match pid.recv_timeout(START_TIMEOUT) {
            Ok(Ok(pid)) => pid,
            Ok(Err(why)) => {
                let _ = thread.join();
                return Err(RegistryError::Unavailable(why));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(RegistryError::Io(Reason::ServerFailed { errno: None }));
            }
        };
        self.watch_for_listen(generation);
        Ok(Run { pid, stopping, thread })
    }

    /// Says so on the model if the program has not listened after [`NEVER_LISTENED_AFTER`].
    fn watch_for_listen(&self, generation: u64) {
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new().name("traced-listen".into()).spawn(move || {
            let deadline = Instant::now() + NEVER_LISTENED_AFTER;
            while Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
                let state = inner.lock();
                if state.generation != generation || state.run.is_none() || !state.ports.is_empty()
                {
                    return;
                }
            }
            let info = {
                let mut state = inner.lock();
                if state.generation != generation || state.run.is_none() || !state.ports.is_empty()
                {
                    return;
                }
                let secs = NEVER_LISTENED_AFTER.as_secs() as u32;
                state.reason = Some(Reason::NeverListened { secs });
                eprintln!(
                    "kettle: {} has not listened on any TCP port after {secs} s: Kettle draws \
                     servers, and a client cannot reach it until it calls listen(2)",
                    command_line(&inner.command)
                );
                inner.info(&state)
            };
            let _ = inner.changes.send(info);
        });
        if let Err(e) = spawned {
            eprintln!("kettle: cannot watch the traced program's listen: {e}");
        }
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn info(&self, state: &State) -> ModelInfo {
        let title = command_line(&self.command);
        ModelInfo {
            id: TRACED_MODEL.to_owned(),
            title: title.clone(),
            title_zh: title.clone(),
            figure: state.family.map(Family::figure).unwrap_or_default().to_owned(),
            family: state.family,
            port: state.ports.first().copied(),
            ports: state.ports.clone(),
            command: Some(title),
            state: if state.run.is_some() { ModelState::Running } else { ModelState::Stopped },
            reason: state.reason.clone(),
            passive: state.run.is_some() && state.passive,
        }
    }

    /// Changes the state of run `generation` only (an older run's news is dropped), and tells
    /// every viewer.
    fn update(&self, generation: u64, change: impl FnOnce(&mut State)) {
        let info = {
            let mut state = self.lock();
            if state.generation != generation {
                return;
            }
            change(&mut state);
            self.info(&state)
        };
        let _ = self.changes.send(info);
    }
}

/// The tracer thread of one run: spawns the program traced, records what it does, and when
/// every task of it has ended records how it ended.
fn trace_one_run(
    inner: Arc<Inner>,
    cmd: Command,
    generation: u64,
    stopping: Arc<AtomicBool>,
    started: mpsc::Sender<Result<i32, Reason>>,
) {
    let events = Arc::new(Mutex::new(Events::new(inner.clone(), generation)));
    // As root, the kernel's own word on each arrival, for as long as this run lasts.
    let _kernel = read_kernel_word(&inner);
    // As root, a busy program's calls read from the kernel instead of stopping it.
    let suspension = Arc::new(Suspension::default());
    *lock(&inner.suspension) = Some(suspension.clone());
    let mut passive = None;
    let pid = std::cell::Cell::new(None);
    let ended = tracer::run_with_filter(
        cmd,
        inner.stops,
        (inner.stops == Stops::Drawn).then_some(&*suspension),
        |child| {
            pid.set(Some(child.id() as i32));
            let _ = started.send(Ok(child.id() as i32));
            if inner.stops == Stops::Drawn {
                passive = read_passive(&inner, generation, child.id() as i32, &suspension, &events);
            }
        },
        |seen| {
            let mut events = lock(&events);
            if let (0, Some(first)) = (events.first, pid.get()) {
                events.first_process(first);
            }
            events.on(&seen, false)
        },
    );
    // Every record of the run read before its end is.
    drop(passive);
    let mut events = lock(&events);
    let Some(first) = pid.get() else {
        // The spawn itself failed: the program never ran.
        let e = ended.err().unwrap_or_else(|| std::io::Error::other("the program did not start"));
        let _ = started.send(Err(spawn_refused(&inner.command[0], &e)));
        return;
    };
    let reason = match ended {
        _ if stopping.load(Ordering::SeqCst) => Reason::StoppedOnRequest,
        Ok((Some(code), _)) => Reason::ProgramExited { exit: ChildExit::Exited { code } },
        Ok((None, Some(signal))) => Reason::ProgramExited {
            exit: ChildExit::Killed { signo: signal as i32, name: signal.as_str().to_owned() },
        },
        Ok((None, None)) => Reason::ServerReturned,
        Err(e) => {
            eprintln!("kettle: tracing {} failed: {e}", command_line(&inner.command));
            Reason::ServerFailed { errno: Some(io_errno(&e)) }
        }
    };
    if events.first == 0 {
        events.first_process(first);
    }
    events.main_thread().emit(None, EventKind::Stopped { reason: reason.clone() });
    if !matches!(reason, Reason::StoppedOnRequest) {
        eprintln!("kettle: {} ended: {}", command_line(&inner.command), for_people(&reason));
    }
    inner.update(generation, |state| {
        // A stop took `run` already; a program that ended by itself leaves it here.
        state.run = None;
        state.reason = Some(reason);
    });
}

/// Starts reading the calls of the program's passive threads ([`super::passive`]): root only;
/// otherwise every drawn call stops the program however busy it is, and the terminal says why
/// once.
fn read_passive(
    inner: &Arc<Inner>,
    generation: u64,
    pid: i32,
    suspension: &Arc<Suspension>,
    events: &Arc<Mutex<Events>>,
) -> Option<Passive> {
    let recorder = inner.recorder.clone();
    let events = events.clone();
    let mut spinning = Spinning::new(Instant::now());
    let counts = inner.clone();
    let started = Passive::start(
        pid,
        suspension.clone(),
        move || {
            let (returned, would_block) = (
                counts.returned.load(Ordering::Relaxed),
                counts.would_block.load(Ordering::Relaxed),
            );
            recorder.crowded(TRACED_MODEL) && !spinning.at(Instant::now(), returned, would_block)
        },
        {
            let inner = inner.clone();
            move |passive| inner.update(generation, |state| state.passive = passive)
        },
        move |seen| lock(&events).on(&seen, true),
    );
    match started {
        Ok(reader) => Some(reader),
        Err(why) => {
            eprintln!(
                "kettle: the traced program stops at each drawn call however busy it is (its \
                 calls cannot be read from the kernel's tracepoints instead: {why})"
            );
            None
        }
    }
}

/// Whether the program spins: most of its calls lately returned `EAGAIN` (a non-blocking busy
/// loop). Such a program is left stopping at its calls even when crowded: reading its storm of
/// calls from the tracepoints would cost Kettle a core for nothing to draw, and stopped it
/// only slows itself.
#[derive(Debug)]
struct Spinning {
    since: Instant,
    returned: u64,
    would_block: u64,
    verdict: bool,
}

impl Spinning {
    /// How long a verdict holds before the counts are looked at again.
    const EVERY: Duration = Duration::from_millis(100);

    fn new(at: Instant) -> Spinning {
        Spinning { since: at, returned: 0, would_block: 0, verdict: false }
    }

    /// The verdict at `at`, given how many calls have returned so far and how many of them
    /// with `EAGAIN`: more than half of those since the last look.
    fn at(&mut self, at: Instant, returned: u64, would_block: u64) -> bool {
        if at.duration_since(self.since) >= Spinning::EVERY {
            let calls = returned.saturating_sub(self.returned);
            let eagain = would_block.saturating_sub(self.would_block);
            self.verdict = eagain * 2 > calls;
            (self.since, self.returned, self.would_block) = (at, returned, would_block);
        }
        self.verdict
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts reading the `sock:sk_data_ready` tracepoint for the program's connections
/// ([`super::ready`]): root only; otherwise phase 1 comes from Kettle's clients alone, and the
/// terminal says why once.
///
/// The readers never take the program's state lock: `start` holds it while it waits for a
/// failed run's thread, which waits for the readers. They ask [`Arrivals`], which knows this
/// run's ports.
fn read_kernel_word(inner: &Arc<Inner>) -> Option<KernelReady> {
    let arrivals = inner.arrivals.clone();
    let started = KernelReady::start(
        move |peer, port, t_ns| arrivals.kernel_ready(port, &peer.to_string(), t_ns),
        {
            let arrivals = inner.arrivals.clone();
            move |t_ns| arrivals.kernel_read_to(t_ns)
        },
    );
    match started {
        Ok(reader) => {
            inner.arrivals.kernel_reading(true);
            Some(reader)
        }
        Err(why) => {
            inner.arrivals.kernel_reading(false);
            eprintln!(
                "kettle: phase 1 of the traced program's reads comes from Kettle's own echo \
                 clients only (the kernel's sk_data_ready cannot be read: {why})"
            );
            None
        }
    }
}

/// Why the program could not be spawned traced: `execve` refused it, or the kernel refused
/// tracing (`PTRACE_TRACEME`, the seccomp filter) in the child before the exec.
fn spawn_refused(program: &str, e: &std::io::Error) -> Reason {
    let errno = io_errno(e);
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::EACCES | libc::ENOEXEC | libc::ENOTDIR) => {
            Reason::ProgramNotRunnable { program: program.to_owned(), errno }
        }
        _ => Reason::CannotTrace { call: "ptrace".into(), errno, ptrace_scope: ptrace_scope() },
    }
}

/// Yama's `ptrace_scope`, when the kernel has Yama.
fn ptrace_scope() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").ok()?.trim().parse().ok()
}

/// The program's path, found as `execvp` finds it, if it exists and may be executed: asked
/// before spawning so "not found" is not mistaken for a refused `ptrace`.
fn runnable(command: &[String]) -> Result<PathBuf, RegistryError> {
    let program = command.first().map(String::as_str).unwrap_or_default();
    let refused =
        |errno: &str| Reason::ProgramNotRunnable { program: program.into(), errno: errno.into() };
    if program.is_empty() {
        return Err(RegistryError::Unavailable(refused("ENOENT")));
    }
    let candidates: Vec<PathBuf> = if program.contains('/') {
        vec![PathBuf::from(program)]
    } else {
        let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
        std::env::split_paths(&path).map(|dir| dir.join(program)).collect()
    };
    let mut errno = "ENOENT".to_owned();
    for candidate in candidates {
        if !candidate.is_file() {
            continue;
        }
        match access(Path::new(&candidate), AccessFlags::X_OK) {
            Ok(()) => return Ok(candidate),
            Err(e) => errno = errno_name(e),
        }
    }
    Err(RegistryError::Unavailable(refused(&errno)))
}

/// The command line as a shell would take it back: arguments with spaces or quotes quoted.
fn command_line(command: &[String]) -> String {
    let quoted = command.iter().map(|a| {
        if !a.is_empty()
            && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
        {
            a.clone()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    });
    quoted.collect::<Vec<_>>().join(" ")
}

/// One run's events: the decoder and classifier, a [`Tracer`] per task of the program, and
/// its connections numbered from 1 as a built-in model numbers them.
struct Events {
    inner: Arc<Inner>,
    generation: u64,
    decoder: Decoder,
    classifier: Classifier,
    threads: HashMap<i32, Tracer>,
    /// The process each task belongs to: descriptors are per process.
    process_of: HashMap<i32, i32>,
    /// Each process's descriptors that are connections Kettle numbered.
    conns: HashMap<(i32, i32), u64>,
    /// The peer of each of those connections, as `accept` reported it.
    peers: HashMap<(i32, i32), String>,
    /// When each thread's open `recv` was entered.
    recv_entered: HashMap<i32, u64>,
    /// Each process's listening descriptors.
    listeners: HashMap<i32, Vec<i32>>,
    next_conn: u64,
    first: i32,
    /// The terminal was told the program went passive.
    passive_told: bool,
}

impl Events {
    fn new(inner: Arc<Inner>, generation: u64) -> Events {
        Events {
            inner,
            generation,
            decoder: Decoder::default(),
            classifier: Classifier::default(),
            threads: HashMap::new(),
            process_of: HashMap::new(),
            conns: HashMap::new(),
            peers: HashMap::new(),
            recv_entered: HashMap::new(),
            listeners: HashMap::new(),
            next_conn: 0,
            first: 0,
            passive_told: false,
        }
    }

    fn first_process(&mut self, pid: i32) {
        self.first = pid;
        self.process_of.insert(pid, pid);
        let tracer = self.tracer(pid);
        tracer.emit(None, EventKind::ThreadSpawned);
    }

    /// The program's first thread (where its end is recorded), made if it is not there yet.
    fn main_thread(&mut self) -> Tracer {
        self.tracer(self.first)
    }

    fn tracer(&mut self, tid: i32) -> Tracer {
        let recorder = &self.inner.recorder;
        let name = || {
            let comm = std::fs::read_to_string(format!("/proc/{tid}/comm")).unwrap_or_default();
            format!("{} {tid}", comm.trim())
        };
        self.threads.entry(tid).or_insert_with(|| recorder.tracer(TRACED_MODEL, name())).clone()
    }

    /// What the tracer saw, or — `passive` — what the kernel's tracepoints said a passive
    /// thread did ([`super::passive`]: registers and results, no memory).
    fn on(&mut self, seen: &Seen, passive: bool) {
        match *seen {
            Seen::Enter { .. } if passive && !self.passive_told => {
                self.passive_told = true;
                eprintln!(
                    "kettle: {} is busy: its calls are read from the kernel's tracepoints \
                     without stopping it until it calms down (the descriptors a wait reports, \
                     and the bytes are not read meanwhile)",
                    command_line(&self.inner.command)
                );
            }
            Seen::Enter { .. } if !passive => {
                self.inner.stopped.fetch_add(1, Ordering::Relaxed);
            }
            Seen::Exit { ret, .. } => {
                self.inner.returned.fetch_add(1, Ordering::Relaxed);
                if ret == -(libc::EAGAIN as i64) {
                    self.inner.would_block.fetch_add(1, Ordering::Relaxed);
                }
            }
            Seen::Spawned { tid, by, t_ns } => {
                let parent = self.process_of.get(&by).copied().unwrap_or(by);
                let process = tgid(tid).unwrap_or(parent);
                self.process_of.insert(tid, process);
                if process != parent {
                    // A forked child holds copies of its parent's descriptors: the same
                    // connections, under the same numbers.
                    let inherited: Vec<_> = self
                        .conns
                        .iter()
                        .filter(|((p, _), _)| *p == parent)
                        .map(|((_, fd), conn)| ((process, *fd), *conn))
                        .collect();
                    self.conns.extend(inherited);
                    let peers: Vec<_> = self
                        .peers
                        .iter()
                        .filter(|((p, _), _)| *p == parent)
                        .map(|((_, fd), peer)| ((process, *fd), peer.clone()))
                        .collect();
                    self.peers.extend(peers);
                }
                self.tracer(tid).emit_at(t_ns, None, EventKind::ThreadSpawned);
            }
            Seen::Ended { tid, t_ns, .. } => {
                if let Some(t) = self.threads.remove(&tid) {
                    t.emit_at(t_ns, None, EventKind::ThreadExited);
                }
                if tid != self.first {
                    self.process_of.remove(&tid);
                }
            }
            _ => {}
        }
        let t_ns = stop_time(seen);
        // The address the kernel gave the listener: `bind` to port 0 lets it choose, so the
        // port in `bind`'s arguments is not the one clients must use.
        let listening = match *seen {
            Seen::Exit { tid, name: "listen", args, ret: 0, .. } => {
                let process = self.process_of.get(&tid).copied().unwrap_or(tid);
                self.listeners.entry(process).or_default().push(args[0] as i32);
                listening_addr(tid, args[0] as i32)
            }
            _ => None,
        };
        let memory: &dyn Memory = if passive { &Unread } else { &ProcessMemory };
        for (tid, mut kind) in self.decoder.on(seen, memory) {
            if let (EventKind::Listen { addr, .. }, Some(real)) = (&mut kind, listening) {
                *addr = real.to_string();
            }
            if let (true, EventKind::AcceptExit { fd: Some(fd), peer: peer @ None, .. }) =
                (passive, &mut kind)
            {
                let process = self.process_of.get(&tid).copied().unwrap_or(tid);
                *peer = decode::peer_of_descriptor(process, *fd);
            }
            if passive
                && matches!(kind, EventKind::WaitEnter { .. } | EventKind::WaitReturned { .. })
            {
                // Without the descriptors there is no step to draw: the wait is counted, and
                // still tells which figure this is.
                self.recognise(tid, t_ns, &kind);
                if let (EventKind::WaitReturned { .. }, Seen::Exit { name, args, ret, .. }) =
                    (&kind, seen)
                {
                    let (ready, scanned) = decode::unseen_wait(name, *args, *ret);
                    self.tracer(tid).count_wait(ready, scanned);
                }
                continue;
            }
            self.record(tid, t_ns, kind);
        }
    }

    fn record(&mut self, tid: i32, t_ns: u64, mut kind: EventKind) {
        let process = self.process_of.get(&tid).copied().unwrap_or(tid);
        let conn = match &kind {
            EventKind::AcceptExit { fd: Some(fd), peer, .. } => {
                self.next_conn += 1;
                self.conns.insert((process, *fd), self.next_conn);
                if let Some(peer) = peer {
                    self.peers.insert((process, *fd), peer.clone());
                }
                Some(self.next_conn)
            }
            EventKind::RecvEnter { fd, .. }
            | EventKind::RecvExit { fd, .. }
            | EventKind::SendEnter { fd, .. }
            | EventKind::SendExit { fd, .. }
            | EventKind::DataArrived { fd, .. }
            | EventKind::Close { fd, .. } => self.conns.get(&(process, *fd)).copied(),
            EventKind::SignalDelivered { fd: Some(fd), .. } => {
                self.conns.get(&(process, *fd)).copied()
            }
            _ => None,
        };
        if let EventKind::Listen { addr, .. } = &kind {
            if let Some(port) = addr.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) {
                self.inner.update(self.generation, |state| {
                    if !state.ports.contains(&port) {
                        state.ports.push(port);
                        self.inner.arrivals.listening(port);
                    }
                    if matches!(state.reason, Some(Reason::NeverListened { .. })) {
                        state.reason = None;
                    }
                });
            }
        }
        self.recognise(tid, t_ns, &kind);
        let tracer = self.tracer(tid);
        match &mut kind {
            EventKind::RecvEnter { .. } => {
                self.recv_entered.insert(tid, t_ns);
            }
            EventKind::RecvExit { fd, outcome, wait_ns, copy_ns } => {
                let entered = self.recv_entered.remove(&tid);
                let peer = self.peers.get(&(process, *fd));
                let arrived = match (outcome, peer) {
                    (RecvOutcome::Data { .. }, Some(peer)) => {
                        // The program is stopped while Kettle waits for a stamp still on its
                        // way: worth it only at the rate a person watches. A crowded model, or
                        // one nobody watches, takes what is there.
                        let recorder = &self.inner.recorder;
                        let patient = recorder.watched() && !recorder.crowded(TRACED_MODEL);
                        self.inner.arrivals.arrival(peer, t_ns, patient)
                    }
                    _ => None,
                };
                if let (Some((arrived, stamp)), Some(entered)) = (arrived, entered) {
                    // As a built-in model splits its recv: waiting until the data was there
                    // (none if it was there first), then waking and copying.
                    *wait_ns = Some(arrived.saturating_sub(entered));
                    *copy_ns = Some(t_ns.saturating_sub(arrived.max(entered)));
                    let arrival = EventKind::DataArrived { fd: *fd, stamp: Some(stamp) };
                    tracer.emit_at(arrived, conn, arrival);
                }
            }
            EventKind::Close { fd, .. } => {
                // The number may be reused for the next connection.
                self.conns.remove(&(process, *fd));
                if let Some(peer) = self.peers.remove(&(process, *fd)) {
                    self.inner.arrivals.connection_closed(&peer);
                }
            }
            _ => {}
        }
        tracer.emit_at(t_ns, conn, kind);
    }
}

impl Events {
    /// Shows `kind` to the classifier, and records the figure it recognised, if any.
    fn recognise(&mut self, tid: i32, t_ns: u64, kind: &EventKind) {
        let process = self.process_of.get(&tid).copied().unwrap_or(tid);
        // A call on a non-blocking socket cannot sleep: it is no sign of Fig. 6.1 (a busy
        // loop's accept that found a connection, an edge-triggered drain's recv).
        let could_block = match kind {
            EventKind::RecvEnter { fd, .. } => !self.decoder.nonblocking(*fd),
            EventKind::AcceptEnter => self
                .listeners
                .get(&process)
                .is_none_or(|fds| fds.iter().any(|fd| !self.decoder.nonblocking(*fd))),
            _ => true,
        };
        let recognised = could_block.then(|| self.classifier.observe(tid, t_ns, kind)).flatten();
        if let Some(recognised) = recognised {
            if let EventKind::Recognised { family, .. } = recognised {
                self.inner.update(self.generation, |state| state.family = Some(family));
            }
            self.tracer(tid).emit_at(t_ns, None, recognised);
        }
    }
}

/// When a stop happened, by Kettle's clock.
fn stop_time(seen: &Seen) -> u64 {
    match *seen {
        Seen::Enter { t_ns, .. }
        | Seen::Exit { t_ns, .. }
        | Seen::Spawned { t_ns, .. }
        | Seen::Ended { t_ns, .. }
        | Seen::Signal { t_ns, .. } => t_ns,
    }
}

/// The local address of the TCP socket task `tid` holds as `fd`: its inode from
/// `/proc/<tid>/fd/<fd>` (`socket:[inode]`), looked up in `/proc/net/tcp`. IPv4 only.
fn listening_addr(tid: i32, fd: i32) -> Option<std::net::SocketAddrV4> {
    let link = std::fs::read_link(format!("/proc/{tid}/fd/{fd}")).ok()?;
    let inode: u64 = link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()?;
    let table = crate::proc::net::TcpTable::read().ok()?;
    table.0.iter().find(|s| s.inode == inode).map(|s| s.local)
}

/// The process a task belongs to (`Tgid:` in its status).
fn tgid(tid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Tgid:")).and_then(|v| v.trim().parse().ok())
}

/// What went wrong with a traced program, in a sentence for the terminal that runs
/// `kettle trace` (the page words the same [`Reason`] in its reader's language): the cause,
/// and the fix where there is one. Other reasons are written as the terminal writes them.
pub fn for_people(reason: &Reason) -> String {
    match reason {
        Reason::ProgramNotRunnable { program, errno } if errno == "ENOENT" => format!(
            "{program}: no such program (not a file, and not found in PATH); check the name, \
             or give its path"
        ),
        Reason::ProgramNotRunnable { program, errno } if errno == "EACCES" => format!(
            "{program}: not executable (EACCES); `chmod +x {program}`, or run it through its \
             interpreter (`kettle trace -- python3 {program}`)"
        ),
        Reason::ProgramNotRunnable { program, errno } => {
            format!("{program} cannot be run: execve(2) said {errno}")
        }
        Reason::CannotTrace { call, errno, ptrace_scope: Some(3) } => format!(
            "the kernel refused {call} ({errno}): Yama's ptrace_scope is 3, which forbids \
             every ptrace until the machine restarts; Kettle cannot trace here"
        ),
        Reason::CannotTrace { call, errno, .. } => format!(
            "the kernel refused {call} ({errno}): in a container, run it with \
             `--cap-add SYS_PTRACE` (or without a seccomp profile that forbids ptrace); \
             elsewhere, check /proc/sys/kernel/yama/ptrace_scope (0 or 1 allows tracing \
             your own child)"
        ),
        Reason::NeverListened { secs } => format!(
            "it has not listened on any TCP port after {secs} s; Kettle draws servers, and \
             neither Kettle's client nor anyone else can reach it until it calls listen(2)"
        ),
        Reason::ProgramExited { exit: ChildExit::Exited { code } } => {
            format!("it exited with code {code}")
        }
        Reason::ProgramExited { exit: ChildExit::Killed { name, signo } } => {
            format!("it was killed by {name} (signal {signo})")
        }
        other => crate::failure::for_terminal(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_whose_calls_mostly_return_eagain_is_spinning_and_the_verdict_is_kept_a_while() {
        let t0 = Instant::now();
        let mut s = Spinning::new(t0);
        assert!(!s.at(t0, 1000, 990), "no verdict before the first look");
        let later = |ms| t0 + Duration::from_millis(ms);
        assert!(s.at(later(100), 1000, 990), "a busy loop: 99 % EAGAIN");
        assert!(s.at(later(150), 5000, 990), "kept until the next look");
        assert!(!s.at(later(200), 5000, 990), "then: 4000 calls, none EAGAIN");
        assert!(!s.at(later(300), 6000, 1400), "an edge-triggered drain: 40 % EAGAIN");
        assert!(!s.at(later(400), 6000, 1400), "idle: no calls, not spinning");
    }
}
