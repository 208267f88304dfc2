//! The registry: which models exist, which are running, and starting and stopping them.
//!
//! Starting a model binds its listening socket here (127.0.0.1 only: model servers are never
//! reachable from other machines), then runs the model's server function on its own OS thread,
//! plus one small "listen queue" thread that reads the kernel's accept-queue length with
//! `TCP_INFO` so students can see connections waiting that no one has accepted yet, and
//! samples the model's threads: their CPU clocks and what `/proc` says about each.
//!
//! Stopping asks the model to stop ([`StopSignal`]), which wakes its blocked calls, and waits
//! for its threads to end: after `stop` returns every descriptor is closed and the port is free.
//!
//! A model's server thread that panics (a bug in Kettle) is caught at the top of its thread:
//! the model becomes `unavailable` with [`Reason::Panicked`], its port is closed, and the other
//! models are untouched (`kettle soak` arms such a panic with [`crate::fault`]).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use kettle_shared::{
    BuiltIn, EventKind, ModelDescriptor, ModelId, ModelInfo, ModelState, Reason, ThreadRole,
    TRACED_MODEL,
};
use nix::sys::socket::{
    bind, getsockname, listen, setsockopt, socket, sockopt, AddressFamily, Backlog, SockFlag,
    SockType, SockaddrIn,
};
use tokio::sync::broadcast;

use crate::failure::{self, because, errno_name, for_terminal, io_errno};
use crate::models::{
    catalogue, ModelContext, ModelOptions, ProbeFn, ServeFn, StopSignal, LISTEN_BACKLOG,
};
use crate::recorder::sampling::{sample_threads, QUIET_SAMPLE_EVERY, SAMPLE_EVERY};
use crate::recorder::{Recorder, Tracer};
use crate::trace::filter::Stops;
use crate::trace::program::TracedProgram;

/// How often the listen-queue thread asks the kernel for the backlog length.
const BACKLOG_POLL: Duration = Duration::from_millis(10);

/// Why a command on the registry failed.
#[derive(Debug)]
pub enum RegistryError {
    /// No model has that id.
    UnknownModel(String),
    /// The model cannot run here, for this reason.
    Unavailable(Reason),
    /// A system call failed (for example the port is in use).
    Io(Reason),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = serde_json::to_value(self.code()).unwrap_or_default();
        write!(f, "{}: {}", code.as_str().unwrap_or("error"), for_terminal(&self.reason()))
    }
}

impl std::error::Error for RegistryError {}

impl RegistryError {
    /// The protocol's code for this failure.
    pub fn code(&self) -> kettle_shared::ErrorCode {
        match self {
            RegistryError::UnknownModel(_) => kettle_shared::ErrorCode::UnknownModel,
            RegistryError::Unavailable(_) => kettle_shared::ErrorCode::Unavailable,
            RegistryError::Io(_) => kettle_shared::ErrorCode::Io,
        }
    }

    /// What exactly failed, for the page to word.
    pub fn reason(&self) -> Reason {
        match self {
            RegistryError::UnknownModel(id) => Reason::NoSuchModel { model: id.clone() },
            RegistryError::Unavailable(why) | RegistryError::Io(why) => why.clone(),
        }
    }
}

struct Slot {
    descriptor: &'static ModelDescriptor,
    serve: ServeFn,
    /// The port to listen on; 0 lets the kernel choose at every start.
    configured_port: u16,
    running: Option<Running>,
    /// Why it is unavailable, or why it last ended by itself.
    reason: Option<Reason>,
    unavailable: bool,
}

struct Running {
    port: u16,
    stop: Arc<StopSignal>,
    threads: Vec<JoinHandle<()>>,
    /// Records the model's lifecycle (listen, stopped) and its listen queue.
    tracer: Tracer,
}

/// Every model and its state. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    slots: Arc<Mutex<BTreeMap<&'static str, Slot>>>,
    order: Arc<Vec<&'static str>>,
    recorder: Recorder,
    changes: broadcast::Sender<ModelInfo>,
    options: Arc<ModelOptions>,
    /// The program `kettle trace -- PROGRAM` runs, listed after the built-in models.
    traced: Option<TracedProgram>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("models", &self.order).finish()
    }
}

impl Registry {
    /// A registry of every model in the catalogue, all stopped. Model `i` (in catalogue order)
    /// listens on `port_base + i`, or on a kernel-chosen port when `port_base` is 0.
    pub fn new(recorder: Recorder, port_base: u16) -> Registry {
        Registry::with_options(recorder, port_base, ModelOptions::default())
    }

    /// [`Registry::new`], with settings for the models that take any.
    pub fn with_options(recorder: Recorder, port_base: u16, options: ModelOptions) -> Registry {
        Registry::with_probes(recorder, port_base, options, crate::models::probe)
    }

    /// [`Registry::with_options`] with the probe of each model given by `probe_of`: a model
    /// whose probe fails is unavailable, with the probe's answer as the reason.
    fn with_probes(
        recorder: Recorder,
        port_base: u16,
        options: ModelOptions,
        probe_of: impl Fn(BuiltIn) -> Option<ProbeFn>,
    ) -> Registry {
        // Before any model runs: the kernel turns receive stamping on a moment after asking.
        crate::models::calls::keep_receive_timestamps_on();
        let mut slots = BTreeMap::new();
        let mut order = Vec::new();
        for (i, (descriptor, serve)) in catalogue().into_iter().enumerate() {
            let configured_port =
                if port_base == 0 { 0 } else { port_base.saturating_add(i as u16) };
            let refused = probe_of(descriptor.model).and_then(|probe| probe().err());
            order.push(descriptor.id);
            slots.insert(
                descriptor.id,
                Slot {
                    descriptor,
                    serve,
                    configured_port,
                    running: None,
                    unavailable: refused.is_some(),
                    reason: refused,
                },
            );
        }
        let (changes, _) = broadcast::channel(64);
        Registry {
            slots: Arc::new(Mutex::new(slots)),
            order: Arc::new(order),
            recorder,
            changes,
            options: Arc::new(options),
            traced: None,
        }
    }

    /// The same registry with `command` (a program and its arguments) as its traced model,
    /// [`TRACED_MODEL`], not started yet.
    pub fn with_traced(self, command: Vec<String>) -> Registry {
        self.with_traced_stopping_at(Stops::Drawn, command)
    }

    /// [`Registry::with_traced`], the program stopping at the calls `stops` names
    /// ([`Stops::Every`]: to measure what the filter saves).
    pub fn with_traced_stopping_at(mut self, stops: Stops, command: Vec<String>) -> Registry {
        let (recorder, changes) = (self.recorder.clone(), self.changes.clone());
        self.traced = Some(TracedProgram::stopping_at(stops, command, recorder, changes));
        self
    }

    /// The traced program, if Kettle traces one.
    pub fn traced(&self) -> Option<&TracedProgram> {
        self.traced.as_ref()
    }

    /// The traced program, when `id` names it.
    fn traced_model(&self, id: &str) -> Option<&TracedProgram> {
        self.traced.as_ref().filter(|_| id == TRACED_MODEL)
    }

    /// The model `id` names, as the `'static` id the recorder keys models by; `None` if no
    /// model of this registry has that id (a traced id when nothing is traced).
    pub fn known(&self, id: &str) -> Option<&'static str> {
        match id.parse::<ModelId>().ok()? {
            ModelId::BuiltIn(b) => Some(b.id()),
            ModelId::Traced => self.traced.as_ref().map(|_| TRACED_MODEL),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The recorder the models record through.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Every model, in teaching order.
    pub fn list(&self) -> Vec<ModelInfo> {
        let mut list: Vec<ModelInfo> = {
            let slots = self.lock();
            self.order.iter().map(|id| info(&slots[id])).collect()
        };
        list.extend(self.traced.as_ref().map(TracedProgram::info));
        list
    }

    /// One model.
    pub fn get(&self, id: &str) -> Result<ModelInfo, RegistryError> {
        if let Some(traced) = self.traced_model(id) {
            return Ok(traced.info());
        }
        self.lock().get(id).map(info).ok_or_else(|| RegistryError::UnknownModel(id.to_owned()))
    }

    /// The port a running model listens on; `None` if it is not running.
    pub fn running_port(&self, id: &str) -> Option<u16> {
        if let Some(traced) = self.traced_model(id) {
            return traced.running_port();
        }
        self.lock().get(id)?.running.as_ref().map(|r| r.port)
    }

    /// Every port a running model listens on: a built-in model's one, each of a traced
    /// program's; empty if it is not running.
    pub fn listening_ports(&self, id: &str) -> Vec<u16> {
        match self.traced_model(id) {
            Some(traced) => traced.running_ports(),
            None => self.running_port(id).into_iter().collect(),
        }
    }

    /// Receives every state change.
    pub fn changes(&self) -> broadcast::Receiver<ModelInfo> {
        self.changes.subscribe()
    }

    /// Starts a model (no-op if it is running) and returns its state.
    pub fn start(&self, id: &str) -> Result<ModelInfo, RegistryError> {
        if let Some(traced) = self.traced_model(id) {
            return traced.start();
        }
        let info = {
            let mut slots = self.lock();
            let slot =
                slots.get_mut(id).ok_or_else(|| RegistryError::UnknownModel(id.to_owned()))?;
            if slot.unavailable {
                let why = slot.reason.clone().unwrap_or(Reason::ServerFailed { errno: None });
                return Err(RegistryError::Unavailable(why));
            }
            if slot.running.is_none() {
                let running = self.launch(slot).map_err(|e| {
                    eprintln!("kettle: cannot start {id}: {e:#}");
                    RegistryError::Io(failure::server_gave_up(&e))
                })?;
                slot.running = Some(running);
                slot.reason = None;
            }
            info(slot)
        };
        let _ = self.changes.send(info.clone());
        Ok(info)
    }

    /// Stops a model (no-op if it is stopped), waiting until its threads ended and its port is
    /// free. Blocking: call it from a blocking context.
    pub fn stop(&self, id: &str) -> Result<ModelInfo, RegistryError> {
        if let Some(traced) = self.traced_model(id) {
            return Ok(traced.stop());
        }
        let running = {
            let mut slots = self.lock();
            let slot =
                slots.get_mut(id).ok_or_else(|| RegistryError::UnknownModel(id.to_owned()))?;
            slot.running.take()
        };
        if let Some(running) = running {
            running.stop.stop();
            for t in running.threads {
                let _ = t.join();
            }
            running.tracer.emit(None, EventKind::Stopped { reason: Reason::StoppedOnRequest });
        }
        let info = self.get(id)?;
        let _ = self.changes.send(info.clone());
        Ok(info)
    }

    /// Stops every running model. Blocking.
    pub fn stop_all(&self) {
        for id in self.order.iter() {
            let _ = self.stop(id);
        }
        if let Some(traced) = &self.traced {
            traced.stop();
        }
    }

    fn launch(&self, slot: &Slot) -> anyhow::Result<Running> {
        let id = slot.descriptor.id;
        let port = slot.configured_port;
        let listener = bind_listener(port)
            .map_err(|e| because(Reason::CannotListen { port, errno: errno_name(e) }))?;
        let port = getsockname::<SockaddrIn>(listener.as_raw_fd())?.port();
        let stop = Arc::new(StopSignal::default());
        stop.track(&listener);
        let tracer = self.recorder.tracer(id, ThreadRole::ListenQueue);
        tracer.emit(
            None,
            EventKind::Listen { addr: format!("127.0.0.1:{port}"), backlog: LISTEN_BACKLOG },
        );
        // The watcher gets its own descriptor (a dup) so it never reads a number the model has
        // closed; both refer to the same socket.
        let watch = spawn_monitor(
            listener.try_clone()?,
            tracer.clone(),
            self.recorder.clone(),
            id,
            stop.clone(),
        )?;
        let ctx = ModelContext {
            descriptor: slot.descriptor,
            listener,
            recorder: self.recorder.clone(),
            stop: stop.clone(),
            options: (*self.options).clone(),
        };
        let server = spawn_server(id, slot.serve, ctx, self.clone());
        match server {
            Ok(server) => Ok(Running { port, stop, threads: vec![server, watch], tracer }),
            Err(e) => {
                stop.stop();
                let _ = watch.join();
                Err(e)
            }
        }
    }

    /// Called by a model's thread when its server function returned without being asked to.
    fn ended_by_itself(&self, id: &str, reason: Reason) {
        let info = {
            let mut slots = self.lock();
            let Some(slot) = slots.get_mut(id) else { return };
            let Some(running) = slot.running.as_ref() else { return };
            if running.stop.is_stopped() {
                return;
            }
            running.stop.stop();
            running.tracer.emit(None, EventKind::Stopped { reason: reason.clone() });
            // The thread calling this is one of `threads`: it cannot join itself; dropping the
            // handles detaches it, and it is about to end anyway.
            slot.running = None;
            // A panic is a bug in Kettle: the model stays unavailable (with the reason) rather
            // than being started again into the same bug; the other models are untouched.
            slot.unavailable = matches!(reason, Reason::Panicked { .. });
            slot.reason = Some(reason);
            info(slot)
        };
        let _ = self.changes.send(info);
    }
}

fn info(slot: &Slot) -> ModelInfo {
    let d = slot.descriptor;
    let (state, port) = match (&slot.running, slot.unavailable) {
        (_, true) => (ModelState::Unavailable, None),
        (Some(r), false) => (ModelState::Running, Some(r.port)),
        (None, false) => {
            (ModelState::Stopped, (slot.configured_port != 0).then_some(slot.configured_port))
        }
    };
    ModelInfo {
        id: d.id.to_owned(),
        title: d.title.to_owned(),
        title_zh: d.title_zh.to_owned(),
        figure: d.figure.to_owned(),
        family: Some(d.family()),
        port,
        ports: Vec::new(),
        command: None,
        state,
        reason: slot.reason.clone(),
        passive: false,
    }
}

/// `socket`, `SO_REUSEADDR` (as the tutorial), `bind` 127.0.0.1, `listen` with
/// [`LISTEN_BACKLOG`]. The bench's baselines listen the same way, so a comparison measures
/// the servers, not their accept queues.
pub fn bind_listener(port: u16) -> nix::Result<OwnedFd> {
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    bind(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))?;
    listen(&fd, Backlog::new(LISTEN_BACKLOG)?)?;
    Ok(fd)
}

fn spawn_server(
    id: &'static str,
    serve: ServeFn,
    ctx: ModelContext,
    registry: Registry,
) -> anyhow::Result<JoinHandle<()>> {
    let stop = ctx.stop.clone();
    std::thread::Builder::new()
        .name(format!("model-{id}"))
        .spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| serve(ctx)));
            let reason = match outcome {
                Ok(Ok(())) if stop.is_stopped() => return,
                Ok(Ok(())) => Reason::ServerReturned,
                Ok(Err(e)) => {
                    // The page gets the reason; the whole chain is for whoever runs Kettle.
                    eprintln!("kettle: model {id} failed: {e:#}");
                    failure::server_gave_up(&e)
                }
                // The panic hook already printed the message on the terminal.
                Err(_) => Reason::Panicked { thread: format!("model-{id}") },
            };
            registry.ended_by_itself(id, reason);
        })
        .map_err(|e| because(Reason::CannotCreateThread { errno: io_errno(&e) }))
}

/// The model's monitor thread: reads the listen queue length from the kernel every 10 ms and
/// records each change, and every [`SAMPLE_EVERY`] records a [`EventKind::ThreadSample`] for
/// each sampled thread of the model (CPU time from the thread's CPU clock, connections, calls,
/// and what `/proc/self/task/<tid>/` says: [`crate::proc::task`]).
fn spawn_monitor(
    listener: OwnedFd,
    t: Tracer,
    recorder: Recorder,
    model: &'static str,
    stop: Arc<StopSignal>,
) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("listen-queue".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut last = None;
            let mut last_sample: Option<std::time::Instant> = None;
            while !stop.is_stopped() {
                if let Some(now) = accept_queue(listener.as_raw_fd()) {
                    if last != Some(now) {
                        t.emit(None, EventKind::Backlog { queued: now.0, max: now.1 });
                        last = Some(now);
                    }
                }
                // Often enough to catch a wait of a few hundred ms while someone watches;
                // once a second when nobody does, so an idle machine pays next to nothing.
                // Asked on every turn, so a viewer who just arrived gets 100 ms at once.
                let every = if recorder.watched() { SAMPLE_EVERY } else { QUIET_SAMPLE_EVERY };
                let now = std::time::Instant::now();
                // Spaced from the last sample taken, not from a schedule: a monitor that fell
                // behind (a busy machine kept it off the CPU) does not take the missed samples
                // back to back — two samples a few ms apart would show a running thread as
                // one that used no CPU.
                if last_sample.is_none_or(|at| now.duration_since(at) >= every) {
                    sample_threads(&recorder, model);
                    last_sample = Some(now);
                }
                std::thread::sleep(BACKLOG_POLL);
            }
        })
        .map_err(|e| because(Reason::CannotCreateThread { errno: io_errno(&e) }))
}

/// (connections waiting for `accept`, the most the kernel will queue) of a listening socket.
/// For a listener, `TCP_INFO` reports these in `tcpi_unacked` and `tcpi_sacked`.
fn accept_queue(listener: RawFd) -> Option<(u32, u32)> {
    // SAFETY: tcp_info is plain data; the kernel writes at most `len` bytes into it.
    let mut ti: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            listener,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&raw mut ti).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some((ti.tcpi_unacked, ti.tcpi_sacked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_model_whose_probe_fails_is_unavailable_with_the_reason_and_the_rest_run() {
        fn refused() -> Result<(), Reason> {
            Err(Reason::KernelRefused { call: "io_uring_setup".into(), errno: "EPERM".into() })
        }
        let expected =
            Reason::KernelRefused { call: "io_uring_setup".into(), errno: "EPERM".into() };
        let registry =
            Registry::with_probes(Recorder::start(), 0, ModelOptions::default(), |model| {
                (model == BuiltIn::Blocking).then_some(refused as ProbeFn)
            });
        let blocking = registry.get("blocking").unwrap();
        assert_eq!(blocking.state, ModelState::Unavailable);
        assert_eq!(blocking.reason.as_ref(), Some(&expected));
        match registry.start("blocking") {
            Err(RegistryError::Unavailable(why)) => assert_eq!(why, expected),
            other => panic!("{other:?}"),
        }
        // Every other model is unaffected.
        let others: Vec<_> = registry.list().into_iter().filter(|m| m.id != "blocking").collect();
        assert!(others.iter().all(|m| m.state == ModelState::Stopped), "{others:?}");
        let sigio = tokio::task::spawn_blocking({
            let r = registry.clone();
            move || {
                let info = r.start("sigio").unwrap();
                r.stop("sigio").unwrap();
                info
            }
        })
        .await
        .unwrap();
        assert_eq!(sigio.state, ModelState::Running);
    }
}
