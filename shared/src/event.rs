//! Events: one step a model server took — a system call entered or returned, something the
//! kernel did or said — recorded when it happened. What the figures animate.

use serde::{Deserialize, Serialize};

use crate::{BuiltIn, ChildExit, Family, KernelView, Reason};

/// How many bytes of a payload an event carries as a readable preview.
pub const PREVIEW_BYTES: usize = 48;

/// One step a model server took, recorded when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Sequence number, unique and increasing across the whole backend. A gap means events were
    /// dropped (see [`ServerMsg::Batch::dropped`](crate::ServerMsg::Batch::dropped)).
    pub seq: u64,
    /// When it happened: monotonic nanoseconds since the backend started. For
    /// [`EventKind::DataArrived`] this is the kernel's own receive timestamp, which can be
    /// earlier than the event before it.
    pub t_ns: u64,
    /// Which model's server recorded it (a [`ModelDescriptor::id`](crate::ModelDescriptor::id)); for the browser echo
    /// client's relay (`client_*` events), the model the client is connected to; for the
    /// lesson's computation, [`LESSON_MODEL`](crate::LESSON_MODEL).
    pub model: String,
    /// The thread that made the call.
    pub thread: ThreadRef,
    /// The connection it concerns, numbered per model from 1; `None` for the listener or
    /// the thread itself.
    pub conn: Option<u64>,
    /// What happened.
    pub kind: EventKind,
}

/// A thread of a model server: a small id stable for the thread's life, and a readable name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadRef {
    /// Small id, unique within the backend process (1, 2, 3…).
    pub id: u32,
    /// Name, such as `"blocking"` or `"pool-worker-2"`: for Kettle's own threads a
    /// [`ThreadRole`] written out ([`ThreadRef::role`] reads it back). A string on the wire and
    /// here, because not every thread has a role Kettle gave it (a traced program's threads
    /// keep the names their program chose).
    pub name: String,
}

impl ThreadRef {
    /// What the thread is for, read from its name; `None` for a name no [`ThreadRole`] writes.
    pub fn role(&self) -> Option<ThreadRole> {
        ThreadRole::of_name(&self.name)
    }
}

/// What one of Kettle's threads is for. Its [`ThreadRef::name`] is this written out
/// (`Display`: `"pool-worker-2"`, `"aio-notify 812"`), and [`ThreadRole::of_name`] reads a name
/// back, so the backend names threads and the page recognises them from one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumDiscriminants)]
#[strum_discriminants(
    name(ThreadKind),
    derive(Hash),
    doc = "A [`ThreadRole`] without its number: which kind of thread, whichever one it is."
)]
pub enum ThreadRole {
    /// The model's own serving thread, named after the model (`"blocking"`, `"select"`).
    Server(BuiltIn),
    /// Sleeps in `accept` and hands each connection on (`"acceptor"`: thread-per-conn,
    /// thread-pool).
    Acceptor,
    /// process-per-conn's parent: accepts, starts a child per connection (`"parent"`).
    Parent,
    /// thread-per-conn's thread for connection N (`"conn-N"`).
    Conn(u64),
    /// thread-pool's worker N, counted from 1 (`"pool-worker-N"`).
    PoolWorker(usize),
    /// process-per-conn's child process with this pid, whose events its waiter forwards
    /// (`"child-PID"`).
    Child(i32),
    /// process-per-conn's thread that waits for the child with this pid (`"waiter-PID"`).
    Waiter(i32),
    /// glibc's aio helper thread with this kernel thread id, seen in a blocking `read`
    /// (`"aio-helper TID"`).
    AioHelper(i32),
    /// The thread glibc starts, with this kernel thread id, to run an aio completion callback
    /// (`"aio-notify TID"`).
    AioNotify(i32),
    /// The backend's poller of every model's listen backlog (`"listen queue"`).
    ListenQueue,
    /// The relay's connection for the page's echo client N (`"echo client N"`).
    EchoClient(u32),
    /// The lesson's computation (`"compute"`).
    Compute,
}

impl ThreadRole {
    /// The role a thread's name says; `None` for a name no role writes.
    pub fn of_name(name: &str) -> Option<ThreadRole> {
        fn number<T: std::str::FromStr>(name: &str, prefix: &str) -> Option<T> {
            let n = name.strip_prefix(prefix)?;
            // Only the digits a role writes: no sign, no spaces, no leading `+`.
            (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse().ok())?
        }
        if let Some(model) = BuiltIn::from_id(name) {
            return Some(ThreadRole::Server(model));
        }
        let role = match name {
            "acceptor" => ThreadRole::Acceptor,
            "parent" => ThreadRole::Parent,
            "listen queue" => ThreadRole::ListenQueue,
            "compute" => ThreadRole::Compute,
            _ => None
                .or_else(|| number(name, "conn-").map(ThreadRole::Conn))
                .or_else(|| number(name, "pool-worker-").map(ThreadRole::PoolWorker))
                .or_else(|| number(name, "child-").map(ThreadRole::Child))
                .or_else(|| number(name, "waiter-").map(ThreadRole::Waiter))
                .or_else(|| number(name, "aio-helper ").map(ThreadRole::AioHelper))
                .or_else(|| number(name, "aio-notify ").map(ThreadRole::AioNotify))
                .or_else(|| number(name, "echo client ").map(ThreadRole::EchoClient))?,
        };
        Some(role)
    }

    /// Which kind of thread, without its number.
    pub fn kind(self) -> ThreadKind {
        self.into()
    }
}

impl std::fmt::Display for ThreadRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThreadRole::Server(model) => f.write_str(model.id()),
            ThreadRole::Acceptor => f.write_str("acceptor"),
            ThreadRole::Parent => f.write_str("parent"),
            ThreadRole::Conn(n) => write!(f, "conn-{n}"),
            ThreadRole::PoolWorker(n) => write!(f, "pool-worker-{n}"),
            ThreadRole::Child(pid) => write!(f, "child-{pid}"),
            ThreadRole::Waiter(pid) => write!(f, "waiter-{pid}"),
            ThreadRole::AioHelper(tid) => write!(f, "aio-helper {tid}"),
            ThreadRole::AioNotify(tid) => write!(f, "aio-notify {tid}"),
            ThreadRole::ListenQueue => f.write_str("listen queue"),
            ThreadRole::EchoClient(n) => write!(f, "echo client {n}"),
            ThreadRole::Compute => f.write_str("compute"),
        }
    }
}

impl From<ThreadRole> for String {
    fn from(role: ThreadRole) -> String {
        role.to_string()
    }
}

/// An `epoll_ctl(2)` operation ([`EventKind::EpollCtl::op`]); on the wire `"add"`, `"mod"`,
/// `"del"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EpollOp {
    /// `EPOLL_CTL_ADD`: the descriptor joins the interest list.
    Add,
    /// `EPOLL_CTL_MOD`: the events asked for change.
    Mod,
    /// `EPOLL_CTL_DEL`: the descriptor leaves the interest list.
    Del,
}

impl EpollOp {
    /// The name on the wire (`"add"`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The C constant a program passes (`EPOLL_CTL_ADD`).
    pub fn constant(self) -> &'static str {
        match self {
            EpollOp::Add => "EPOLL_CTL_ADD",
            EpollOp::Mod => "EPOLL_CTL_MOD",
            EpollOp::Del => "EPOLL_CTL_DEL",
        }
    }
}

impl std::fmt::Display for EpollOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for AsyncOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An asynchronous request ([`EventKind::Submit::op`], [`EventKind::Complete::op`]): an
/// io_uring SQE's operation or POSIX aio's `aio_read`; on the wire its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AsyncOp {
    /// io_uring accept (`"accept"`): the result is the new descriptor.
    Accept,
    /// io_uring receive (`"recv"`): the kernel waits for data and copies it.
    Recv,
    /// io_uring send (`"send"`).
    Send,
    /// io_uring timeout (`"timeout"`): the model's back-off timer, not I/O.
    Timeout,
    /// io_uring cancel (`"async_cancel"`): the back-off timer cancelled when the model stops.
    AsyncCancel,
    /// POSIX `aio_read` (`"aio_read"`), served by a glibc helper thread.
    AioRead,
}

impl AsyncOp {
    /// The name on the wire (`"aio_read"`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The request brings data into the application (its positive result is bytes read):
    /// `recv` and `aio_read`.
    pub fn reads_data(self) -> bool {
        match self {
            AsyncOp::Recv | AsyncOp::AioRead => true,
            AsyncOp::Accept | AsyncOp::Send | AsyncOp::Timeout | AsyncOp::AsyncCancel => false,
        }
    }
}

/// Why a system call failed: the errno name and the kernel's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SysError {
    /// Symbolic name, such as `"ECONNRESET"`.
    pub errno: String,
    /// Human-readable text, such as `"Connection reset by peer"`.
    pub message: String,
}

/// What a `recv` returned.
/// Read back by `event_wire.rs`, not the derive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RecvOutcome {
    /// Bytes were copied to the application.
    Data {
        /// How many bytes.
        bytes: u32,
        /// The first [`PREVIEW_BYTES`] bytes, lossily decoded as UTF-8.
        preview: String,
    },
    /// The peer closed its side (`recv` returned 0).
    Eof,
    /// No data was ready on a non-blocking socket (`EAGAIN`/`EWOULDBLOCK`).
    WouldBlock,
    /// The call failed.
    Error(SysError),
}

/// What a `send` returned.
/// Read back by `event_wire.rs`, not the derive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SendOutcome {
    /// The kernel took this many bytes into the socket's send buffer.
    Sent {
        /// How many bytes.
        bytes: u32,
    },
    /// The send buffer was full on a non-blocking socket.
    WouldBlock,
    /// The call failed.
    Error(SysError),
}

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The peer closed its side and everything was echoed.
    PeerClosed,
    /// The peer reset the connection (`ECONNRESET`).
    Reset,
    /// A call on the connection failed in another way.
    Error,
    /// The server refused the connection (a limit was reached).
    Refused,
    /// The model was stopped while the connection was open.
    Stopped,
}

/// Where a traced program's [`EventKind::DataArrived`] instant comes from (Kettle cannot ask
/// another program's sockets for receive stamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalStamp {
    /// The transmit stamp of Kettle's own echo client (`SO_TIMESTAMPING`): on loopback the
    /// bytes are in the program's socket microseconds later.
    ClientSend,
    /// The kernel's own word: the `sock:sk_data_ready` tracepoint fired for the program's
    /// socket (Kettle running as root).
    KernelReady,
}

/// One file descriptor reported ready by a readiness call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadyFd {
    /// The descriptor.
    pub fd: i32,
    /// Readable (data, a pending connection, or end of file).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
}

/// The readiness APIs a multiplexing model can block in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitApi {
    /// `select(2)`.
    Select,
    /// `poll(2)`.
    Poll,
    /// `epoll_wait(2)`, level-triggered.
    Epoll,
    /// `epoll_wait(2)`, edge-triggered.
    EpollEt,
}

/// What happened. Each variant is one system call boundary or one thing the kernel told us;
/// `*Enter` is recorded just before the call, `*Exit`/`*Returned` just after it returned.
///
/// Each variant also has a field-less twin in [`EventKindId`], in the same order, so a kind can
/// be counted by index (`EventKindId::from(&kind) as usize`, below `EventKindId::COUNT`) without
/// looking at its name: the backend counts every event of a crowded model that way.
///
/// Written by serde's derive; read back through `event_wire.rs`, which keeps the page's wasm
/// small.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumDiscriminants,
)]
#[strum(serialize_all = "snake_case")]
#[strum_discriminants(
    name(EventKindId),
    derive(strum::EnumCount, strum::VariantArray),
    doc = "Which kind of [`EventKind`] an event is, without its fields: the variants in the same order, numbered from 0 (the index into [`EventKind`]'s `VARIANTS` names)."
)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    // -- lifecycle ------------------------------------------------------------------------------
    /// The model's server is listening (`socket`, `bind`, `listen` succeeded).
    Listen {
        /// The address it listens on.
        addr: String,
        /// The backlog passed to `listen(2)`.
        backlog: i32,
    },
    /// The model was stopped; every descriptor it held is closed.
    Stopped {
        /// Why ([`Reason::StoppedOnRequest`], or why the server gave up by itself).
        reason: Reason,
    },
    /// A thread of the model started.
    ThreadSpawned,
    /// A thread of the model ended.
    ThreadExited,
    /// The thread is about to sleep in the kernel (for example on a condition variable or in a
    /// blocking call it cannot return from yet).
    ThreadBlocked {
        /// What it blocks in (`"recv"`, `"accept"`, `"queue"`…).
        on: String,
    },
    /// The kernel woke the thread: data arrived, a connection came, a signal was sent.
    ThreadWoken {
        /// What woke it ([`Reason::ConnectionQueued`], [`Reason::StoppedOnRequest`]).
        by: Reason,
    },

    /// A traced program's I/O model was recognised from the calls it made: from now on it is
    /// drawn as `family`'s figure. Recorded again when the program changes style (it blocked,
    /// now it selects), so the switch is a step of its own. The evidence is the call that
    /// decided and how often it was seen, counted over the program's recent calls; the page
    /// words it per family ("select(2) called 14 times", "recv(2) returned EAGAIN 9 times").
    Recognised {
        /// The figure it is drawn as from now on.
        family: Family,
        /// The deciding call, as its man page spells it (`"select"`, `"epoll_wait"`), or the
        /// signal for signal-driven I/O (`"SIGIO"`).
        call: String,
        /// How many times it was seen (for Fig. 6.2: how many times it returned `EAGAIN`).
        count: u32,
        /// On how many threads or processes (Fig. 6.1's lanes: a thread per connection).
        threads: u32,
    },

    // -- connections ----------------------------------------------------------------------------
    /// `accept(2)` called.
    AcceptEnter,
    /// `accept(2)` returned. On success [`Event::conn`] names the new connection.
    AcceptExit {
        /// The new descriptor, on success.
        fd: Option<i32>,
        /// The peer's address, on success.
        peer: Option<String>,
        /// The failure, if any.
        error: Option<SysError>,
    },
    /// How many finished connections wait in the listen backlog for someone to call `accept`,
    /// read from the kernel (`TCP_INFO` on the listening socket) whenever it changes.
    Backlog {
        /// Connections queued now.
        queued: u32,
        /// The most the kernel will queue.
        max: u32,
    },
    /// `recv(2)` (or `recvmsg(2)`) called.
    RecvEnter {
        /// The descriptor.
        fd: i32,
        /// The buffer size asked for.
        len: u32,
    },
    /// The data the call returns reached the socket at this event's `t_ns` — the end of
    /// phase 1, read from the kernel's software receive timestamp (`SO_TIMESTAMPING`).
    DataArrived {
        /// The descriptor.
        fd: i32,
        /// Where the instant comes from when it is not the receiving socket's own stamp: for
        /// a traced program, whose sockets Kettle cannot stamp. Absent on the wire for the
        /// built-in models' receive stamps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stamp: Option<ArrivalStamp>,
    },
    /// `recv(2)` returned.
    RecvExit {
        /// The descriptor.
        fd: i32,
        /// What it returned.
        outcome: RecvOutcome,
        /// Phase 1, waiting for data: from the call until the data reached the socket.
        /// `Some(0)` when the data was already there; `None` when unknown.
        wait_ns: Option<u64>,
        /// Phase 2, from the data's arrival (or the call, if later) until the call returned:
        /// waking up and copying to user space. `None` when unknown.
        copy_ns: Option<u64>,
    },
    /// `send(2)` called.
    SendEnter {
        /// The descriptor.
        fd: i32,
        /// Bytes offered.
        bytes: u32,
    },
    /// `send(2)` returned.
    SendExit {
        /// The descriptor.
        fd: i32,
        /// What it returned.
        outcome: SendOutcome,
    },
    /// The server closed a connection.
    Close {
        /// The descriptor.
        fd: i32,
        /// Why.
        reason: CloseReason,
    },
    /// The server refused or dropped a connection before serving it.
    Refused {
        /// Why (a limit reached, the kernel refusing a descriptor, a thread…).
        reason: Reason,
    },

    // -- readiness (select / poll / epoll) ------------------------------------------------------
    /// A readiness call (`select`, `poll`, `epoll_wait`) was entered.
    WaitEnter {
        /// Which call.
        api: WaitApi,
        /// The descriptors watched.
        watched: Vec<i32>,
    },
    /// The readiness call returned.
    WaitReturned {
        /// Which call.
        api: WaitApi,
        /// The descriptors it reported ready.
        ready: Vec<ReadyFd>,
        /// How many entries user space had to look at to find them.
        scanned: u32,
    },

    // -- signals and completions ----------------------------------------------------------------
    /// A signal handler was installed (`sigaction`).
    SignalHandler {
        /// The signal number.
        signo: i32,
        /// Its name as a program would write it: `"SIGIO"`, or `"SIGRTMIN+2"` for a realtime
        /// signal (counted from glibc's `SIGRTMIN()`, which is 34 on Linux, not the kernel's 32).
        #[serde(default)]
        name: String,
    },
    /// The kernel delivered a signal.
    SignalDelivered {
        /// The signal number.
        signo: i32,
        /// Its name, as in [`EventKind::SignalHandler::name`].
        #[serde(default)]
        name: String,
        /// The descriptor the signal is about, when the kernel says (`si_fd`).
        fd: Option<i32>,
    },
    /// An asynchronous operation was submitted (io_uring SQE, `aio_read`).
    Submit {
        /// The operation (`"recv"`, `"accept"`, `"aio_read"`…).
        op: AsyncOp,
        /// The descriptor.
        fd: i32,
    },
    /// An asynchronous operation completed.
    Complete {
        /// The operation.
        op: AsyncOp,
        /// The descriptor.
        fd: i32,
        /// The result: bytes, a new descriptor, or a negated errno.
        result: i64,
        /// For a successful `accept`: the new connection's peer address (`getpeername(2)` on
        /// the new descriptor), so a viewer knows which of its clients was accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
        /// The request is still in the kernel and will complete again (io_uring's
        /// `IORING_CQE_F_MORE`: a multishot accept posts one completion per connection and
        /// stays armed). False for every request that is now finished, so absent on the wire.
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
    },
    /// `io_uring_enter(2)` was called: the SQEs written into the submission queue since the
    /// last call are handed to the kernel, and the thread sleeps until at least `wait_for`
    /// completions are in the completion queue (or the call's timeout passes).
    RingEnter {
        /// SQEs the call submitted (what it returned).
        submitted: u32,
        /// Completions it waits for.
        wait_for: u32,
    },
    /// `io_uring_enter(2)` returned.
    RingExit {
        /// CQEs now waiting in the completion queue, to be reaped (each one a
        /// [`EventKind::Complete`] that follows). Always 0 after a call that waited for none
        /// (`wait_for` 0): such a call only hands SQEs over because the submission queue is
        /// full, in the middle of reaping, and what the kernel posted meanwhile is reaped after
        /// the next call that waits.
        completions: u32,
        /// It returned because its timeout passed, not for a completion. The model waits with
        /// a timeout only to notice a stop: such a wake-up is housekeeping, not I/O.
        timed_out: bool,
    },
    /// Kettle read `/proc/self/task/<tid>/syscall` and found a thread it does not run itself
    /// — glibc's POSIX aio helper — asleep in a blocking system call on a model's descriptor.
    /// Recorded on that thread's behalf (its own [`Event::thread`]), so the helper gets a lane.
    SeenInSyscall {
        /// The kernel's id of the thread (`gettid`).
        tid: i32,
        /// The system call it is in (`"read"`).
        call: String,
        /// The descriptor it is called on.
        fd: i32,
    },
    /// Several consecutive calls returned `EAGAIN`; counted rather than sent one by one.
    WouldBlockBurst {
        /// Which call (`"accept"`, `"recv"`).
        call: String,
        /// How many times.
        count: u64,
    },
    /// Periodic measurement of one thread (every [`SAMPLE_EVERY_MS`](crate::SAMPLE_EVERY_MS)).
    ThreadSample {
        /// CPU time the thread has used, from its thread CPU clock.
        cpu_ns: u64,
        /// Connections the thread holds open.
        conns: u32,
        /// System calls it has made so far.
        syscalls: u64,
        /// What the kernel says about the thread at the sample's instant, read from
        /// `/proc/self/task/<tid>/`. `None` only in samples of a backend that did not read it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kernel: Option<KernelView>,
    },

    // -- the browser echo client (recorded by the relay) ----------------------------------------
    /// The relay opened a TCP connection to a model for a browser echo client. The kernel
    /// finished the handshake; that does not mean the server has accepted it.
    ClientConnected {
        /// The echo client's id.
        client: u32,
        /// The model it connected to.
        target: String,
        /// The relay's local address (the server sees it as the peer address).
        local: String,
    },
    /// The relay sent a line for a browser client.
    ClientSent {
        /// The echo client's id.
        client: u32,
        /// Bytes sent.
        bytes: u32,
    },
    /// The relay received bytes back from the model.
    ClientReceived {
        /// The echo client's id.
        client: u32,
        /// Bytes received.
        bytes: u32,
    },
    /// The echo client's connection ended.
    ClientClosed {
        /// The echo client's id.
        client: u32,
        /// Why ([`Reason::ServerClosed`], [`Reason::ClosedByPage`]…).
        reason: Reason,
    },

    // -- thread-per-conn, thread-pool, process-per-conn ------------------------------------------
    /// The memory a new thread reserved for its stack (`std::thread::Builder::stack_size`), the
    /// price of one more thread. Recorded by the new thread just after [`EventKind::ThreadSpawned`].
    ThreadStack {
        /// Bytes of address space reserved for the stack.
        stack_bytes: u64,
    },
    /// The acceptor put an accepted connection in the pool's queue (user space, bounded):
    /// every worker is busy or about to take it.
    ConnQueued {
        /// The accepted descriptor.
        fd: i32,
        /// Connections in the queue now, this one included.
        depth: u32,
        /// The most the queue holds; one more is refused.
        capacity: u32,
    },
    /// A worker took a connection from the pool's queue to serve it.
    ConnDequeued {
        /// The descriptor.
        fd: i32,
        /// How long it waited in the queue, in ns.
        waited_ns: u64,
        /// Connections left in the queue.
        depth: u32,
    },
    /// A child process was created (`Command::spawn`: `fork`/`exec` of the kettle binary) to
    /// serve one connection.
    ChildSpawned {
        /// The child's process id.
        pid: i32,
        /// The connection's descriptor it received as its standard input.
        fd: i32,
    },
    /// The parent collected a child's exit status (`waitpid`): it is gone, not a zombie.
    ChildReaped {
        /// The child's process id.
        pid: i32,
        /// How it ended.
        status: ChildExit,
    },

    // -- sigio ----------------------------------------------------------------------------------
    /// The thread did its own work while no I/O needed it (Stevens Fig. 6.4: "process continues
    /// executing"). Recorded periodically and just before a signal is handled, so the work done
    /// between two signals is visible.
    WorkDone {
        /// Units of work done since the previous `work_done` of this thread.
        units: u64,
    },

    // -- epoll's interest list and the reactor (models epoll, epoll-et, reactor) ----------------
    /// `epoll_ctl(2)` changed the kernel's interest list of an epoll instance. Not a blocking
    /// call: it returns at once.
    EpollCtl {
        /// `"add"`, `"mod"` or `"del"` (`EPOLL_CTL_ADD`, `EPOLL_CTL_MOD`, `EPOLL_CTL_DEL`).
        op: EpollOp,
        /// The descriptor whose interest changed.
        fd: i32,
        /// The events now asked for, such as `"EPOLLIN|EPOLLET"`; empty for `del`, and for a
        /// listener paused after `EMFILE` (the kernel still reports hang-ups).
        events: String,
        /// The failure, if any.
        error: Option<SysError>,
    },
    /// The reactor's registry now calls `callback` when `fd` is ready for `interest` (the
    /// tutorial's `sel.register(conn, EVENT_READ, read)`; also recorded for `sel.modify`).
    /// User-space bookkeeping: the system call it makes is the [`EventKind::EpollCtl`] after it.
    Register {
        /// The descriptor.
        fd: i32,
        /// `"read"`, `"write"` (selectors' `EVENT_READ`, `EVENT_WRITE`).
        interest: String,
        /// The name of the function to call (`"accept"`, `"read"`, `"write"`).
        callback: String,
    },
    /// The reactor's registry forgot `fd` (the tutorial's `sel.unregister(conn)`).
    Unregister {
        /// The descriptor.
        fd: i32,
    },
    /// The reactor's loop called the callback registered for a ready descriptor (the
    /// tutorial's `callback(sel_obj.fileobj, mask)`).
    Callback {
        /// The callback's name (`"accept"`, `"read"`, `"write"`).
        name: String,
        /// The ready descriptor it was called for.
        fd: i32,
    },
}

impl EventKind {
    /// The snake_case name of the variant, as it appears in JSON's `"type"` (derived, like
    /// serde's tag, from the variant's name).
    pub fn name(&self) -> &'static str {
        self.into()
    }
}

/// For `skip_serializing_if`: a flag that is false is left out of the JSON.
fn is_false(b: &bool) -> bool {
    !*b
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    Event { seq, t_ns, model, thread, conn, kind }
    ThreadRef { id, name }
    ReadyFd { fd, readable, writable }
    SysError { errno, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_round_trips_with_type_tags() {
        let ev = Event {
            seq: 3,
            t_ns: 1_000,
            model: "blocking".into(),
            thread: ThreadRef { id: 1, name: "blocking".into() },
            conn: Some(1),
            kind: EventKind::RecvExit {
                fd: 5,
                outcome: RecvOutcome::Data { bytes: 5, preview: "hello".into() },
                wait_ns: Some(10),
                copy_ns: Some(2),
            },
        };
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.contains(r#""type":"recv_exit""#), "{json}");
        assert!(json.contains(r#""outcome":"data""#), "{json}");
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
        assert_eq!(ev.kind.name(), "recv_exit");
    }

    #[test]
    fn a_kinds_index_names_it() {
        use strum::{EnumCount, VariantArray, VariantNames};
        assert_eq!(EventKindId::COUNT, EventKind::VARIANTS.len());
        for (i, id) in EventKindId::VARIANTS.iter().enumerate() {
            assert_eq!(*id as usize, i);
        }
        let kind = EventKind::WouldBlockBurst { call: "recv".into(), count: 3 };
        assert_eq!(EventKind::VARIANTS[EventKindId::from(&kind) as usize], kind.name());
        assert_eq!(
            EventKind::VARIANTS[EventKindId::from(&EventKind::AcceptEnter) as usize],
            "accept_enter"
        );
    }

    #[test]
    fn a_finished_completion_leaves_more_out_and_a_multishot_one_says_it() {
        let done =
            EventKind::Complete { op: AsyncOp::Recv, fd: 5, result: 3, peer: None, more: false };
        let json = serde_json::to_string(&done).unwrap();
        assert!(!json.contains("more"), "{json}");
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), done);
        let armed =
            EventKind::Complete { op: AsyncOp::Accept, fd: 3, result: 7, peer: None, more: true };
        let json = serde_json::to_string(&armed).unwrap();
        assert!(json.contains(r#""more":true"#), "{json}");
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), armed);
    }

    #[test]
    fn epoll_and_async_ops_are_their_old_strings_on_the_wire() {
        let ctl =
            EventKind::EpollCtl { op: EpollOp::Mod, fd: 5, events: "EPOLLIN".into(), error: None };
        let json = serde_json::to_string(&ctl).unwrap();
        assert!(json.contains(r#""op":"mod""#), "{json}");
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), ctl);
        for (op, name) in [(EpollOp::Add, "add"), (EpollOp::Mod, "mod"), (EpollOp::Del, "del")] {
            assert_eq!(serde_json::to_value(op).unwrap(), name);
            assert_eq!(op.name(), name);
            assert_eq!(op.constant(), format!("EPOLL_CTL_{}", name.to_uppercase()));
        }
        let ops = [
            (AsyncOp::Accept, "accept"),
            (AsyncOp::Recv, "recv"),
            (AsyncOp::Send, "send"),
            (AsyncOp::Timeout, "timeout"),
            (AsyncOp::AsyncCancel, "async_cancel"),
            (AsyncOp::AioRead, "aio_read"),
        ];
        for (op, name) in ops {
            assert_eq!(serde_json::to_value(op).unwrap(), name);
            assert_eq!(serde_json::from_value::<AsyncOp>(name.into()).unwrap(), op);
            assert_eq!(op.name(), name);
        }
        let submit = r#"{"type":"submit","op":"aio_read","fd":5}"#;
        let kind: EventKind = serde_json::from_str(submit).unwrap();
        assert_eq!(kind, EventKind::Submit { op: AsyncOp::AioRead, fd: 5 });
        assert_eq!(serde_json::to_string(&kind).unwrap(), submit);
    }

    #[test]
    fn every_thread_role_reads_back_from_the_name_it_writes() {
        let roles = [
            ThreadRole::Server(BuiltIn::Blocking),
            ThreadRole::Server(BuiltIn::IoUring),
            ThreadRole::Acceptor,
            ThreadRole::Parent,
            ThreadRole::Conn(3),
            ThreadRole::PoolWorker(2),
            ThreadRole::Child(4242),
            ThreadRole::Waiter(4242),
            ThreadRole::AioHelper(812),
            ThreadRole::AioNotify(813),
            ThreadRole::ListenQueue,
            ThreadRole::EchoClient(1),
            ThreadRole::Compute,
        ];
        let names = [
            "blocking",
            "io-uring",
            "acceptor",
            "parent",
            "conn-3",
            "pool-worker-2",
            "child-4242",
            "waiter-4242",
            "aio-helper 812",
            "aio-notify 813",
            "listen queue",
            "echo client 1",
            "compute",
        ];
        for (role, name) in roles.into_iter().zip(names) {
            assert_eq!(role.to_string(), name);
            assert_eq!(ThreadRole::of_name(name), Some(role), "{name}");
            assert_eq!(ThreadRef { id: 1, name: name.into() }.role(), Some(role));
        }
        for other in ["t1", "test", "conn-", "conn-x", "pool-worker--1", "aio-notify", "Blocking"] {
            assert_eq!(ThreadRole::of_name(other), None, "{other}");
        }
        assert_eq!(ThreadRole::PoolWorker(7).kind(), ThreadKind::PoolWorker);
    }

    #[test]
    fn the_derived_event_names_are_serdes_tags() {
        let serde = crate::command::tests::serde_variants::<EventKind>("type");
        assert_eq!(<EventKind as strum::VariantNames>::VARIANTS, serde.as_slice());
        let sample = EventKind::WouldBlockBurst { call: "recv".into(), count: 3 };
        let json = serde_json::to_value(&sample).unwrap();
        assert_eq!(json["type"], sample.name());
    }
}
