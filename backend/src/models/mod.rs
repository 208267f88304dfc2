//! The I/O model servers, one module per model, all behind one contract.
//!
//! # The contract
//!
//! A model is a function `fn(ModelContext) -> anyhow::Result<()>` listed in [`catalogue`].
//! The registry ([`crate::registry`]) binds the listening socket (so every model listens the
//! same way and a busy port is reported before any thread starts), then calls the function on a
//! fresh OS thread — never on a tokio worker, because these servers block in the kernel on
//! purpose. The function:
//!
//! 1. serves TCP echo on `ctx.listener`: every byte received is sent back upper-cased
//!    (ASCII), read at most [`RECV_BYTES`] at a time, as in the tutorial;
//! 2. records every system call it makes through its [`Tracer`], entry and exit, with the
//!    kernel's own timestamps where the kernel gives them;
//! 3. registers every connection descriptor with [`StopSignal::track`] while it is open, and
//!    returns promptly once [`StopSignal::is_stopped`] — the registry wakes calls blocked in
//!    the kernel by `shutdown(2)` on the tracked descriptors, which makes `accept` fail and
//!    `recv` return 0;
//! 4. closes every descriptor and joins every thread it started before it returns;
//! 5. treats per-connection errors (resets, a peer that vanished) as events, never as a
//!    reason to stop serving others.
//!
//! # The lines the page shows
//!
//! The page's code panel shows each model's serving loop from these files, cut out when the
//! page is built between comment lines `// kettle:code-begin NAME` and `// kettle:code-end
//! NAME` (see `frontend/src/code.rs`, which also says which line makes which event, found by
//! a piece of the line's text). Keep the markers around what a student should read; a missing
//! marker fails the frontend's build, and a line its table names that is changed or
//! duplicated fails its tests.

pub mod accept_pause;
pub mod blocking;
pub mod calls;
pub mod epoll;
pub mod epoll_et;
pub mod event_loop;
pub mod io_uring;
pub mod multiplex;
pub mod nonblocking;
pub mod nonblocking_conn;
pub mod poll;
pub mod posix_aio;
pub mod process_per_conn;
pub mod reactor;
pub mod select;
pub mod sigio;
pub mod thread_per_conn;
pub mod thread_pool;

use std::collections::HashSet;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use kettle_shared::{BuiltIn, ModelDescriptor, SysError, ThreadRole};
use nix::errno::Errno;
use nix::sys::socket::{shutdown, Shutdown};

use crate::recorder::{Recorder, Tracer};

/// Bytes asked for in one `recv`, as the tutorial's `conn.recv(1024)`.
pub const RECV_BYTES: usize = 1024;

/// The backlog passed to `listen(2)`. The tutorial uses 5. A class connecting at once needs
/// more, and a load of thousands of connections (`kettle load`, the C10K experiment) more
/// still: when the accept queue is full the kernel drops the SYN and the client retries only
/// after a second, then two, then four — a model would look slow for what is only a queue
/// too short. 1024 stays under this machine's `net.core.somaxconn` (4096), which would cap
/// it silently.
pub const LISTEN_BACKLOG: i32 = 1024;

/// What a model's server function receives.
#[derive(Debug)]
pub struct ModelContext {
    /// The static description of the model.
    pub descriptor: &'static ModelDescriptor,
    /// A listening TCP socket (bound, `listen` already called, blocking mode).
    pub listener: OwnedFd,
    /// Where to record events; `tracer()` gives each thread its own.
    pub recorder: Recorder,
    /// Asks the server to stop.
    pub stop: std::sync::Arc<StopSignal>,
    /// Settings some models take (pool size, child executable, limits).
    pub options: ModelOptions,
}

/// Settings of the models that take any, from `kettle serve`'s flags (and, for the limits,
/// from tests that want to reach them with few clients).
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Workers of `thread-pool`.
    pub pool_workers: usize,
    /// Connections `thread-pool` queues for its workers; one more is refused.
    pub pool_queue: usize,
    /// Connection threads (or child processes) `thread-per-conn` and `process-per-conn` run at
    /// once; one more connection is refused.
    pub max_threads: usize,
    /// Stack reserved for each thread the thread models create.
    pub thread_stack_bytes: usize,
    /// The executable `process-per-conn` runs as its children (`kettle child-echo`); `None`:
    /// this process's own executable.
    pub child_exe: Option<std::path::PathBuf>,
}

impl Default for ModelOptions {
    fn default() -> ModelOptions {
        ModelOptions {
            pool_workers: 4,
            pool_queue: 128,
            max_threads: 256,
            thread_stack_bytes: 64 * 1024,
            child_exe: None,
        }
    }
}

impl ModelContext {
    /// A tracer for a new thread of this model, named after its role and sampled every
    /// 100 ms (`SAMPLE_EVERY`). Call it on the thread it will trace (its CPU clock is read by
    /// thread id).
    pub fn tracer(&self, role: ThreadRole) -> Tracer {
        self.recorder.tracer(self.descriptor.id, role).sampled()
    }

    /// The tracer of the model's own serving thread, named after the model
    /// ([`ThreadRole::Server`]).
    pub fn server_tracer(&self) -> Tracer {
        self.tracer(ThreadRole::Server(self.descriptor.model))
    }
}

/// A model's server function.
pub type ServeFn = fn(ModelContext) -> anyhow::Result<()>;

/// Every model with its server function, in [`kettle_shared::MODELS`] order.
pub fn catalogue() -> Vec<(&'static ModelDescriptor, ServeFn)> {
    BuiltIn::ALL.iter().map(|&m| (m.descriptor(), server(m))).collect()
}

/// The server function of each built-in model.
pub fn server(model: BuiltIn) -> ServeFn {
    match model {
        BuiltIn::Blocking => blocking::serve,
        BuiltIn::ThreadPerConn => thread_per_conn::serve,
        BuiltIn::ProcessPerConn => process_per_conn::serve,
        BuiltIn::ThreadPool => thread_pool::serve,
        BuiltIn::Nonblocking => nonblocking::serve,
        BuiltIn::Select => select::serve,
        BuiltIn::Poll => poll::serve,
        BuiltIn::Epoll => epoll::serve,
        BuiltIn::EpollEt => epoll_et::serve,
        BuiltIn::Reactor => reactor::serve,
        BuiltIn::Sigio => sigio::serve,
        BuiltIn::IoUring => io_uring::serve,
        BuiltIn::PosixAio => posix_aio::serve,
    }
}

/// Checks whether a model can run on this machine; `Err` says why not.
pub type ProbeFn = fn() -> Result<(), kettle_shared::Reason>;

/// The probe of a model that depends on what the kernel allows (run once, when the registry is
/// made); `None` for models that run everywhere.
pub fn probe(model: BuiltIn) -> Option<ProbeFn> {
    match model {
        BuiltIn::IoUring => Some(io_uring::probe),
        // Every call these make is in every Linux kernel Kettle runs on (select, poll and
        // epoll, signals, glibc's aio on threads).
        BuiltIn::Blocking
        | BuiltIn::ThreadPerConn
        | BuiltIn::ProcessPerConn
        | BuiltIn::ThreadPool
        | BuiltIn::Nonblocking
        | BuiltIn::Select
        | BuiltIn::Poll
        | BuiltIn::Epoll
        | BuiltIn::EpollEt
        | BuiltIn::Reactor
        | BuiltIn::Sigio
        | BuiltIn::PosixAio => None,
    }
}

/// The stop request shared by a running model and the registry.
///
/// Descriptors are tracked under a lock, and `stop` shuts them down under the same lock, so a
/// descriptor number is never shut down after the model closed it and the kernel reused the
/// number for something else.
#[derive(Debug, Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    fds: Mutex<HashSet<RawFd>>,
}

impl StopSignal {
    /// True once a stop was requested.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Tracks `fd` so a stop can wake a call blocked on it. Returns false (and tracks nothing)
    /// if the stop already happened: the caller should close the descriptor and return.
    pub fn track(&self, fd: &impl AsRawFd) -> bool {
        let mut fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_stopped() {
            return false;
        }
        fds.insert(fd.as_raw_fd());
        true
    }

    /// Stops tracking `fd`; call before closing it.
    pub fn untrack(&self, fd: &impl AsRawFd) {
        self.fds.lock().unwrap_or_else(|p| p.into_inner()).remove(&fd.as_raw_fd());
    }

    /// Requests the stop and wakes every tracked descriptor's blocked calls.
    pub fn stop(&self) {
        let fds = self.fds.lock().unwrap_or_else(|p| p.into_inner());
        self.stopped.store(true, Ordering::Release);
        for &fd in fds.iter() {
            // SAFETY-free: shutdown on a number we still own under the lock. ENOTCONN on a
            // listener or an already-dead connection is expected and harmless.
            let _ = shutdown(fd, Shutdown::Both);
        }
    }
}

/// Converts an errno into the protocol's error.
pub fn sys_error(e: Errno) -> SysError {
    SysError { errno: format!("{e:?}"), message: e.desc().to_owned() }
}

/// The first [`kettle_shared::PREVIEW_BYTES`] bytes of a payload, for people to read.
pub fn preview(bytes: &[u8]) -> String {
    let end = bytes.len().min(kettle_shared::PREVIEW_BYTES);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The tutorial's `data.upper()`: ASCII letters upper-cased, every other byte unchanged, so the
/// echo stays byte-exact for any payload.
pub fn upper(bytes: &mut [u8]) {
    bytes.make_ascii_uppercase();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_changes_only_ascii_letters() {
        let mut b = b"hello \xff\x00 World 1\n".to_vec();
        upper(&mut b);
        assert_eq!(b, b"HELLO \xff\x00 WORLD 1\n");
    }

    #[test]
    fn sys_error_names_the_errno() {
        let e = sys_error(Errno::ECONNRESET);
        assert_eq!(e.errno, "ECONNRESET");
        assert_eq!(e.message, "Connection reset by peer");
    }

    #[test]
    fn a_stopped_signal_refuses_new_descriptors() {
        let s = StopSignal::default();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(s.track(&a));
        s.stop();
        assert!(s.is_stopped());
        let (c, _d) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(!s.track(&c));
    }
}
