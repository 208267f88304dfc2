//! The laboratory an experiment runs in: its own models, its own recorder, its own clients.
//!
//! A class may be watching the models of `kettle serve` while someone runs an experiment, so an
//! experiment never touches them: [`Lab::new`] makes a fresh [`Recorder`] and [`Registry`]
//! whose models listen on kernel-chosen ports (port 0), starts only the models the experiment
//! needs, and stops them all when the lab is dropped. Nobody's page is disturbed, and no
//! viewer's clicks end up in the numbers.
//!
//! What it measures with, all real:
//! - the models' own events, counted by a [`Tap`] subscribed to the lab's recorder (readiness
//!   waits with what they `scanned`, `EAGAIN` bursts, the pool's queue, sigio's work…);
//! - each model thread's counters ([`ThreadStats::syscalls`]) and CPU clock;
//! - the kernel's view of the whole process (`/proc/self/status`: threads, resident and
//!   virtual memory, read with [`crate::proc::process::status`]);
//! - real TCP clients on the loopback, timing every line from `send` to the last byte of its
//!   echo.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use kettle_shared::{AsyncOp, EventKind, Reason};
use tokio::runtime::Handle;
use tokio::sync::broadcast;

use crate::failure::because;
use crate::models::ModelOptions;
use crate::recorder::sampling::ThreadStats;
use crate::recorder::{Detail, Position, Recorder, Tracer};
use crate::registry::{Registry, RegistryError};

/// The pseudo-model the lab's markers are recorded under (never a model id).
const MARKER_MODEL: &str = "experiment-marker";
/// How long a wait for the models to reach a state may take before the experiment gives up.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// What the tap counted of one model's events.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Events by kind name (`"recv_enter"`, `"wait_returned"`…).
    pub kinds: BTreeMap<&'static str, u64>,
    /// Descriptors the readiness calls watched, summed over the calls.
    pub watched: u64,
    /// Entries user space looked at to find the ready ones, summed over the calls.
    pub scanned: u64,
    /// Descriptors reported ready, summed over the calls.
    pub ready: u64,
    /// `EAGAIN`s counted in `would_block_burst`s.
    pub eagain: u64,
    /// Units of work sigio's thread reported (`work_done`).
    pub work_units: u64,
    /// The deepest the pool's queue was (`conn_queued.depth`).
    pub queue_depth_max: u32,
    /// The longest a connection waited in the pool's queue, in ns (`conn_dequeued`).
    pub queue_wait_max_ns: u64,
    /// Connections accepted (`accept_exit` with a descriptor, or io_uring's accept
    /// completing with one).
    pub accepted: u64,
    /// Connections refused before being served (`refused`).
    pub refused: u64,
    /// The last refusal's reason.
    pub refused_why: Option<Reason>,
    /// SQEs handed to the kernel by `io_uring_enter` calls.
    pub submitted: u64,
}

impl Tally {
    /// Events of this kind counted.
    pub fn count(&self, kind: &str) -> u64 {
        self.kinds.get(kind).copied().unwrap_or(0)
    }

    /// Readiness calls that returned.
    pub fn waits(&self) -> u64 {
        self.count("wait_returned")
    }

    fn add(&mut self, kind: &EventKind) {
        *self.kinds.entry(kind.name()).or_default() += 1;
        match kind {
            EventKind::WaitEnter { watched, .. } => self.watched += watched.len() as u64,
            EventKind::WaitReturned { ready, scanned, .. } => {
                self.scanned += u64::from(*scanned);
                self.ready += ready.len() as u64;
            }
            EventKind::WouldBlockBurst { count, .. } => self.eagain += count,
            EventKind::WorkDone { units } => self.work_units += units,
            EventKind::ConnQueued { depth, .. } => {
                self.queue_depth_max = self.queue_depth_max.max(*depth)
            }
            EventKind::ConnDequeued { waited_ns, .. } => {
                self.queue_wait_max_ns = self.queue_wait_max_ns.max(*waited_ns)
            }
            EventKind::AcceptExit { fd: Some(_), .. } => self.accepted += 1,
            EventKind::Complete { op: AsyncOp::Accept, result, .. } if *result >= 0 => {
                self.accepted += 1
            }
            EventKind::Refused { reason } => {
                self.refused += 1;
                self.refused_why = Some(reason.clone());
            }
            EventKind::RingEnter { submitted, .. } => self.submitted += u64::from(*submitted),
            _ => {}
        }
    }
}

#[derive(Debug, Default)]
struct TapState {
    per_model: BTreeMap<String, Tally>,
    /// Events the lab's recorder lost (seqs that never arrived): a measurement that lost
    /// events says so instead of reporting a count that is too low.
    lost: u64,
    markers: u64,
}

/// Counts every event the lab's models record, as the recorder ships them.
#[derive(Debug, Clone)]
pub struct Tap {
    state: Arc<Mutex<TapState>>,
    marker: Tracer,
}

impl Tap {
    fn start(recorder: &Recorder, handle: &Handle) -> Tap {
        let state = Arc::new(Mutex::new(TapState::default()));
        let mut batches = recorder.subscribe();
        let counting = state.clone();
        handle.spawn(async move {
            let mut position = Position::after(0);
            loop {
                match batches.recv().await {
                    Ok(batch) => {
                        let (fresh, lost) = position.take(&batch);
                        let mut s = counting.lock().unwrap_or_else(|p| p.into_inner());
                        s.lost += lost;
                        for e in fresh {
                            if e.model == MARKER_MODEL {
                                s.markers += 1;
                            } else {
                                s.per_model.entry(e.model.clone()).or_default().add(&e.kind);
                            }
                        }
                    }
                    // The next batch read shows the hole, counted as lost.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Tap { state, marker: recorder.tracer(MARKER_MODEL, "marker") }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TapState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until every event recorded before this call has been counted (or lost): records
    /// a marker and waits for it — the recorder ships in seq order, so everything recorded
    /// before the marker has been shipped by then.
    pub fn settle(&self) -> anyhow::Result<()> {
        let seen = self.lock().markers;
        self.marker.emit(None, EventKind::ThreadSpawned);
        wait_for(Duration::from_secs(10), "the recorder to ship the lab's events", || {
            self.lock().markers > seen
        })
    }

    /// What was counted of `model` so far, once everything recorded until now arrived.
    pub fn tally(&self, model: &str) -> anyhow::Result<Tally> {
        self.settle()?;
        Ok(self.lock().per_model.get(model).cloned().unwrap_or_default())
    }

    /// What was counted of `model` without waiting for events still on their way.
    pub fn tally_now(&self, model: &str) -> Tally {
        self.lock().per_model.get(model).cloned().unwrap_or_default()
    }

    /// Events lost so far.
    pub fn lost(&self) -> u64 {
        self.lock().lost
    }
}

/// A fresh registry and recorder for one experiment; every model it started is stopped when
/// it is dropped.
#[derive(Debug)]
pub struct Lab {
    registry: Registry,
    /// The CPU time last read of every thread seen, per model: a thread that has ended
    /// (a connection's, in thread per connection) still counts what it used.
    cpu_seen: Mutex<BTreeMap<String, BTreeMap<i32, u64>>>,
    /// Counts the lab's events.
    pub tap: Tap,
}

impl Lab {
    /// A lab whose recorder's pump runs on `handle`. Call it from a blocking thread.
    pub fn new(handle: &Handle) -> Lab {
        Lab::with_options(handle, ModelOptions::default())
    }

    /// [`Lab::new`], with settings for the models (more threads for thread per connection…).
    pub fn with_options(handle: &Handle, options: ModelOptions) -> Lab {
        let _runtime = handle.enter();
        // The tap counts events one by one, so the lab's recorder sends every event, also of a
        // crowded model (`kettle serve` would send only followed connections' steps then).
        let recorder = Recorder::start_with(Detail::Everything);
        let tap = Tap::start(&recorder, handle);
        let registry = Registry::with_options(recorder, 0, options);
        Lab { registry, tap, cpu_seen: Mutex::default() }
    }

    /// Starts `model` on a port of its own and returns its address.
    pub fn start(&self, model: &str) -> anyhow::Result<SocketAddr> {
        self.registry.start(model).map_err(registry_error)?;
        let port = self
            .registry
            .running_port(model)
            .ok_or_else(|| because(Reason::NotRunning { model: model.to_owned() }))?;
        Ok(SocketAddr::from(([127, 0, 0, 1], port)))
    }

    /// Why `model` cannot run here, if it cannot (io_uring refused by the kernel…).
    pub fn unavailable(&self, model: &str) -> Option<Reason> {
        let info = self.registry.get(model).ok()?;
        (info.state == kettle_shared::ModelState::Unavailable)
            .then(|| info.reason.unwrap_or(Reason::ServerFailed { errno: None }))
    }

    /// Stops `model`: every connection closed, its threads joined.
    pub fn stop(&self, model: &str) {
        let _ = self.registry.stop(model);
    }

    /// The model's live threads, with their counters.
    pub fn threads(&self, model: &str) -> Vec<Arc<ThreadStats>> {
        self.registry.recorder().sampled_threads(model)
    }

    /// System calls the model's threads have made so far (each thread counts its own).
    pub fn syscalls(&self, model: &str) -> u64 {
        self.threads(model).iter().map(|t| t.syscalls()).sum()
    }

    /// CPU time the model's threads have used, from their CPU clocks, in ns: the live ones
    /// read now, those that ended as last read (see [`Lab::watch_cpu`]).
    pub fn cpu_ns(&self, model: &str) -> u64 {
        let mut seen = self.cpu_seen.lock().unwrap_or_else(|p| p.into_inner());
        let threads = seen.entry(model.to_owned()).or_default();
        for t in self.threads(model) {
            if let Some(ns) = crate::recorder::sampling::thread_cpu_ns(t.tid) {
                threads.insert(t.tid, ns);
            }
        }
        threads.values().sum()
    }

    /// Reads the model's threads' CPU clocks every 20 ms until `done` returns, so threads
    /// that end meanwhile are counted with (nearly) all the CPU they used.
    pub fn watch_cpu<T>(&self, model: &str, done: impl FnOnce() -> T) -> T {
        let finished = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                    self.cpu_ns(model);
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let out = done();
            finished.store(true, std::sync::atomic::Ordering::Relaxed);
            out
        })
    }

    /// Connections the model's threads hold now (as each thread counts them).
    pub fn conns(&self, model: &str) -> u64 {
        self.threads(model).iter().map(|t| u64::from(t.conns())).sum()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.registry.stop_all();
    }
}

fn registry_error(e: RegistryError) -> anyhow::Error {
    because(e.reason())
}

/// Polls `done` every 5 ms until it holds; an error naming `what` after `patience`.
pub fn wait_for(
    patience: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() > deadline {
            return Err(anyhow!("gave up after {patience:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

/// Raises this process's soft limit of open descriptors to the hard limit (clients and
/// servers share this process's descriptor table: N connections cost 2N descriptors).
/// Returns the soft limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    crate::tools::load::raise_nofile_limit()
}

/// A client of a model's echo server: a real TCP connection on the loopback.
#[derive(Debug)]
pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    /// Connects (the kernel finishes the handshake; the server may accept it later).
    pub fn connect(addr: SocketAddr) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        Ok(Client { stream, buf: Vec::new() })
    }

    /// How long a read waits for an echo before the client gives up (default [`PATIENCE`]).
    pub fn set_patience(&self, patience: Duration) -> anyhow::Result<()> {
        Ok(self.stream.set_read_timeout(Some(patience))?)
    }

    /// Sends `line` and reads its echo (upper-cased, the same length); returns how long the
    /// echo took, from before `send` until its last byte was read.
    pub fn line(&mut self, line: &[u8]) -> anyhow::Result<Duration> {
        let started = Instant::now();
        self.send(line)?;
        self.echo(line)?;
        Ok(started.elapsed())
    }

    /// Sends `line` without waiting for the echo.
    pub fn send(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.stream.write_all(line).context("send")
    }

    /// Reads the echo of `line`, checking it byte for byte.
    pub fn echo(&mut self, line: &[u8]) -> anyhow::Result<()> {
        self.buf.resize(line.len(), 0);
        self.stream.read_exact(&mut self.buf).context("reading the echo")?;
        if !self.buf.iter().zip(line).all(|(got, sent)| *got == sent.to_ascii_uppercase()) {
            return Err(anyhow!("the echo differs from the line sent"));
        }
        Ok(())
    }
}

/// Latencies in µs, kept as an HDR histogram (3 significant digits, up to an hour).
#[derive(Debug)]
pub struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Latencies {
        Latencies(
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
                .expect("valid histogram bounds"),
        )
    }
}

impl Latencies {
    /// Counts one latency.
    pub fn add(&mut self, d: Duration) {
        self.0.saturating_record((d.as_micros() as u64).max(1));
    }

    /// Adds another's counts.
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.0.add(&other.0);
    }

    /// The `q` quantile in µs (0 when empty).
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64
    }

    /// Lines counted.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Nothing counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A closed-loop load from Kettle's load generator ([`crate::tools::load`]) on a model of the lab:
/// `conns` connections, 64-byte lines, for `duration`, every echo checked. `during` is called
/// with each report while the load runs (about twice a second; the last one finished).
pub fn load(
    lab: &Lab,
    model: &str,
    conns: u32,
    duration: Duration,
    during: impl FnMut(&kettle_shared::LoadReport) + Send + 'static,
) -> anyhow::Result<kettle_shared::LoadReport> {
    let target = crate::tools::load::Target::model(&lab.registry, model).map_err(because)?;
    let spec = kettle_shared::LoadSpec {
        model: model.to_owned(),
        conns,
        rate: None,
        size: LINE.len() as u32,
        secs: duration.as_secs().max(1) as u32,
    };
    let thread = crate::tools::load::spawn(
        target,
        spec,
        duration,
        crate::tools::load::StopToken::new(),
        during,
    )?;
    thread.join().map_err(|_| anyhow!("the load generator panicked"))?.context("the load")
}

/// The line every experiment's clients send: 64 bytes with the newline, lower case, so the
/// upper-cased echo is checked byte for byte.
pub const LINE: &[u8; 64] = b"kettle experiment line: abcdefghijklmnopqrstuvwxyz 0123456789 .\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_is_sixty_four_bytes_ending_in_a_newline() {
        assert_eq!(LINE.len(), 64);
        assert_eq!(LINE.last(), Some(&b'\n'));
    }

    #[test]
    fn latencies_give_quantiles_in_microseconds() {
        let mut l = Latencies::default();
        for us in 1..=100 {
            l.add(Duration::from_micros(us));
        }
        assert_eq!(l.len(), 100);
        assert!((l.quantile_us(0.5) - 50.0).abs() <= 1.0);
        assert!((l.quantile_us(0.99) - 99.0).abs() <= 1.0);
    }
}
