//! The code that ran: each model's serving loop, cut from its own source file, and which line
//! of it made the step on the figure.
//!
//! A figure shows *what* happened — the thread entered `recv`, the kernel copied 13 bytes —
//! and this module says *where in the program* it happened. The lesson is that an I/O model is
//! a shape of code: the blocking server's whole life is `accept`, then `recv`/`send`; the
//! select server sleeps on one line (`select(…)`) and then makes calls that no longer wait;
//! io_uring writes requests into a queue and makes one call (`submit_with_args`, the
//! `io_uring_enter(2)`) for all of them.
//!
//! ## Where the code comes from
//!
//! The backend's model files mark the lines a student should read with two comment lines,
//! `// kettle:code-begin NAME` and `// kettle:code-end NAME`. [`excerpt!`] finds each region
//! while the page is compiled (const evaluation over `include_str!`, with
//! [`kettle_shared::excerpt::find_region`]): a marker that goes missing is a compile error, not
//! an empty panel. Line numbers are the file's own.
//!
//! Natively (the tests) the lines are compiled in. The page's wasm does not carry them: it
//! shows one model at a time, and the thirteen models' code was a twentieth of its weight. It
//! asks the backend for the excerpts of the model it shows (`GET /api/excerpts/{file}/{name}`,
//! [`fetch_missing`]), keeps them for the page's life, and draws the panel again when they
//! arrive.
//!
//! ## Which line made a step
//!
//! Each model has one table ([`ModelCode::entries`]): an event kind (its name on the wire,
//! `recv_enter`) → the line, found by a *needle* (a piece of the line's text, usually the call)
//! rather than by a line number, so editing the file does not break the table. The tests check
//! that every needle is found exactly once in its excerpt and that its line contains the call
//! the entry claims. Some steps have no line of ours: the kernel stamping arriving data, or a
//! glibc helper thread reading for `aio_read`. Then no line is lit and the panel says why
//! ([`Why`]).

use kettle_shared::excerpt::find_region;
use kettle_shared::{AsyncOp, BuiltIn, EpollOp, EventKind, ModelId, ThreadKind};

use crate::store::Step;

/// Where region `name` of `src` is: `(first byte, end byte, line number of its first line)`.
/// Panics (at compile time, when used in a constant) if either marker is missing.
pub const fn region(src: &str, name: &str) -> (usize, usize, usize) {
    match find_region(src, name) {
        Some(at) => at,
        None => panic!("a `// kettle:code-begin`/`-end` marker pair is missing from a model file"),
    }
}

/// `N` bytes of `src` from `from`: the excerpt's own copy, so the file itself is not kept.
pub const fn copy<const N: usize>(src: &str, from: usize) -> [u8; N] {
    let b = src.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = b[from + i];
        i += 1;
    }
    out
}

/// Region `$name` of `backend/src/models/$file`, found at compile time; its lines compiled in
/// natively, fetched by the page.
macro_rules! excerpt {
    ($file:literal, $name:literal) => {{
        const SRC: &str = include_str!(concat!("../../backend/src/models/", $file));
        const AT: (usize, usize, usize) = region(SRC, $name);
        Excerpt {
            file: concat!("backend/src/models/", $file),
            name: $name,
            first: AT.2,
            #[cfg(not(target_arch = "wasm32"))]
            text: {
                const BYTES: [u8; AT.1 - AT.0] = copy::<{ AT.1 - AT.0 }>(SRC, AT.0);
                match std::str::from_utf8(&BYTES) {
                    Ok(text) => text,
                    Err(_) => panic!("a model file is not UTF-8"),
                }
            },
        }
    }};
}

/// Consecutive lines of one source file.
#[derive(Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// The file, from the repository's root.
    pub file: &'static str,
    /// The name its markers give it.
    pub name: &'static str,
    /// The file's line number of the first line, as compiled; see [`Excerpt::first`].
    first: usize,
    /// The lines, each ending in `\n` (natively; the page fetches them, [`fetched`]).
    #[cfg(not(target_arch = "wasm32"))]
    text: &'static str,
}

impl Excerpt {
    /// The file's basename, as the backend's excerpt URL names it (`blocking.rs`).
    pub fn basename(&self) -> &'static str {
        self.file.rsplit('/').next().unwrap_or(self.file)
    }

    /// The lines, each ending in `\n`. On the page: empty until the backend sent them.
    pub fn text(&self) -> &'static str {
        #[cfg(not(target_arch = "wasm32"))]
        return self.text;
        #[cfg(target_arch = "wasm32")]
        return fetched::get(self).map_or("", |(_, text)| text);
    }

    /// The file's line number of the first line (on the page, as the backend counted it).
    pub fn first(&self) -> usize {
        #[cfg(not(target_arch = "wasm32"))]
        return self.first;
        #[cfg(target_arch = "wasm32")]
        return fetched::get(self).map_or(self.first, |(first, _)| first);
    }

    /// Whether its lines are here to show (always, natively).
    pub fn is_loaded(&self) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        return true;
        #[cfg(target_arch = "wasm32")]
        return fetched::get(self).is_some();
    }

    /// `(line number in the file, text)` of each line, without marker lines.
    pub fn lines(&self) -> impl Iterator<Item = (usize, &'static str)> + use<> {
        let first = self.first();
        self.text()
            .lines()
            .enumerate()
            .map(move |(i, l)| (first + i, l))
            .filter(|(_, l)| !l.trim_start().starts_with("// kettle:code-"))
    }

    /// The indentation every non-blank line of the excerpt shares (spaces), so a narrow panel
    /// can show the lines without it: the code keeps its shape, the lit call its room.
    pub fn common_indent(&self) -> usize {
        self.lines()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(_, l)| l.len() - l.trim_start_matches(' ').len())
            .min()
            .unwrap_or(0)
    }

    /// The file's line number of the last line.
    pub fn last(&self) -> usize {
        self.first() + self.text().lines().count().saturating_sub(1)
    }

    /// The line numbers whose text contains `needle`.
    pub fn find(&self, needle: &str) -> Vec<usize> {
        self.lines().filter(|(_, l)| l.contains(needle)).map(|(n, _)| n).collect()
    }

    /// The text of line `n` of the file, if it is in this excerpt.
    pub fn line(&self, n: usize) -> Option<&'static str> {
        self.lines().find(|(m, _)| *m == n).map(|(_, l)| l)
    }
}

/// What tells apart steps of one kind that different lines make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// An io_uring or POSIX aio request of this operation (`submit`, `complete`).
    Op(AsyncOp),
    /// An `epoll_ctl` of this operation.
    Ctl(EpollOp),
    /// A name the event carries as text ([`named`]): the call of an `EAGAIN` burst, what a
    /// thread blocks on, a callback's name, the callback a registration names, a signal's name.
    Named(&'static str),
}

impl Detail {
    /// Whether `kind` is a step this detail names.
    pub fn matches(self, kind: &EventKind) -> bool {
        match (self, kind) {
            (Detail::Op(want), EventKind::Submit { op, .. } | EventKind::Complete { op, .. }) => {
                *op == want
            }
            (Detail::Ctl(want), EventKind::EpollCtl { op, .. }) => *op == want,
            (Detail::Named(want), kind) => named(kind) == Some(want),
            (Detail::Op(_) | Detail::Ctl(_), _) => false,
        }
    }
}

/// One row of a model's table: the steps it matches, and the line that made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Event kinds, by their wire names (`recv_enter`).
    pub kinds: &'static [&'static str],
    /// When set, the event must be this one of its kind ([`Detail`]: an io_uring op, an
    /// `epoll_ctl` op, the call of an `EAGAIN` burst, a callback's name…).
    pub detail: Option<Detail>,
    /// When set, the thread must be of this kind (a process-per-conn `Child` against its
    /// `Waiter`).
    pub thread: Option<ThreadKind>,
    /// When set, the step must happen inside the reactor callback of this name.
    pub within: Option<&'static str>,
    /// Index of the excerpt, in [`ModelCode::excerpts`].
    pub excerpt: usize,
    /// A piece of the line's text that appears once in the excerpt.
    pub needle: &'static str,
    /// The call the line makes, as written in it (`recv`, `select`, `submit_with_args`).
    pub call: &'static str,
}

/// An entry for `kinds`: the line of excerpt `excerpt` containing `needle`, which calls `call`.
const fn at(
    kinds: &'static [&'static str],
    excerpt: usize,
    needle: &'static str,
    call: &'static str,
) -> Entry {
    Entry { kinds, detail: None, thread: None, within: None, excerpt, needle, call }
}

impl Entry {
    /// Only the steps naming `name` ([`Detail::Named`]).
    const fn detail(self, name: &'static str) -> Entry {
        Entry { detail: Some(Detail::Named(name)), ..self }
    }

    /// Only the requests of operation `op`.
    const fn op(self, op: AsyncOp) -> Entry {
        Entry { detail: Some(Detail::Op(op)), ..self }
    }

    /// Only the `epoll_ctl`s of operation `op`.
    const fn ctl(self, op: EpollOp) -> Entry {
        Entry { detail: Some(Detail::Ctl(op)), ..self }
    }

    /// Only the steps of threads of this kind.
    const fn thread(self, kind: ThreadKind) -> Entry {
        Entry { thread: Some(kind), ..self }
    }

    const fn within(self, callback: &'static str) -> Entry {
        Entry { within: Some(callback), ..self }
    }
}

/// A model's code: the excerpts shown, in order, and its table.
#[derive(Debug, PartialEq, Eq)]
pub struct ModelCode {
    /// The model.
    pub model: BuiltIn,
    /// What the panel shows: the model's own loop first, then the calls it makes.
    pub excerpts: &'static [&'static Excerpt],
    /// Which line made which step.
    pub entries: &'static [Entry],
}

const ACCEPT: &[&str] = &["accept_enter", "accept_exit"];
const RECV: &[&str] = &["recv_enter", "recv_exit"];
const SEND: &[&str] = &["send_enter", "send_exit"];
const CLOSE: &[&str] = &["close"];
const WAIT: &[&str] = &["wait_enter", "wait_returned"];

static BLOCKING_ACCEPT: Excerpt = excerpt!("blocking.rs", "blocking-accept");
static ECHO_CONNECTION: Excerpt = excerpt!("blocking.rs", "echo-connection");
static TPC_ACCEPTOR: Excerpt = excerpt!("thread_per_conn.rs", "tpc-acceptor");
static TPC_SPAWN: Excerpt = excerpt!("thread_per_conn.rs", "tpc-spawn");
static TPC_WORKER: Excerpt = excerpt!("thread_per_conn.rs", "tpc-worker");
static POOL_ACCEPTOR: Excerpt = excerpt!("thread_pool.rs", "pool-acceptor");
static POOL_ENQUEUE: Excerpt = excerpt!("thread_pool.rs", "pool-enqueue");
static POOL_WORKER: Excerpt = excerpt!("thread_pool.rs", "pool-worker");
static PPC_PARENT: Excerpt = excerpt!("process_per_conn.rs", "ppc-parent");
static PPC_FORK: Excerpt = excerpt!("process_per_conn.rs", "ppc-fork");
static PPC_WAITER: Excerpt = excerpt!("process_per_conn.rs", "ppc-waiter");
static BUSY_LOOP: Excerpt = excerpt!("nonblocking.rs", "busy-loop");
static STEP_EACH: Excerpt = excerpt!("multiplex.rs", "step-each");
static READY_LOOP: Excerpt = excerpt!("multiplex.rs", "ready-loop");
static SELECT_WAIT: Excerpt = excerpt!("select.rs", "select-wait");
static POLL_WAIT: Excerpt = excerpt!("poll.rs", "poll-wait");
static EPOLL_LOOP: Excerpt = excerpt!("epoll.rs", "epoll-loop");
static EPOLL_ET_LOOP: Excerpt = excerpt!("epoll_et.rs", "epoll-et-loop");
static EPOLL_CTL: Excerpt = excerpt!("event_loop.rs", "epoll-ctl");
static EPOLL_WAIT: Excerpt = excerpt!("event_loop.rs", "epoll-wait");
static CONN_RECEIVE: Excerpt = excerpt!("nonblocking_conn.rs", "conn-receive");
static CONN_FLUSH: Excerpt = excerpt!("nonblocking_conn.rs", "conn-flush");
static LOOP_ACCEPT: Excerpt = excerpt!("event_loop.rs", "loop-accept");
static LOOP_CLOSE: Excerpt = excerpt!("event_loop.rs", "loop-close");
static REACTOR_LOOP: Excerpt = excerpt!("reactor.rs", "reactor-loop");
static REACTOR_REGISTRY: Excerpt = excerpt!("reactor.rs", "reactor-registry");
static SIGIO_LOOP: Excerpt = excerpt!("sigio.rs", "sigio-loop");
static SIGIO_HANDLER: Excerpt = excerpt!("sigio.rs", "sigio-handler");
static SIGIO_WORK: Excerpt = excerpt!("sigio.rs", "sigio-work");
static SIGIO_SIGNALS: Excerpt = excerpt!("sigio.rs", "sigio-signals");
static SIGIO_CONN: Excerpt = excerpt!("sigio.rs", "sigio-conn");
static URING_LOOP: Excerpt = excerpt!("io_uring.rs", "uring-loop");
static URING_SERVER: Excerpt = excerpt!("io_uring.rs", "uring-server");
static AIO_LOOP: Excerpt = excerpt!("posix_aio.rs", "aio-loop");
static AIO_SUBMIT: Excerpt = excerpt!("posix_aio.rs", "aio-submit");
static AIO_COMPLETED: Excerpt = excerpt!("posix_aio.rs", "aio-completed");

/// The epoll instance's calls, shared by epoll, epoll-et and the reactor: excerpts 1..=6 of
/// each (after the model's own loop) are wait, ctl, accept, receive, flush and close.
const EPOLL_CALLS: [Entry; 8] = [
    at(WAIT, 1, "self.epoll.wait(", "epoll.wait"),
    at(&["epoll_ctl"], 2, "self.epoll.add(", "epoll.add").ctl(EpollOp::Add),
    at(&["epoll_ctl"], 2, "self.epoll.modify(", "epoll.modify").ctl(EpollOp::Mod),
    at(&["epoll_ctl"], 2, "self.epoll.delete(", "epoll.delete").ctl(EpollOp::Del),
    at(ACCEPT, 3, "match accept_recorded(", "accept"),
    at(RECV, 4, "None => recv_recorded(", "recv"),
    at(SEND, 5, "None => send_recorded(", "send"),
    at(CLOSE, 6, "conn.close(reason", "close"),
];

/// Every model's code: an exhaustive match, so a new model does not compile until it has its
/// excerpts and its table.
pub fn code(model: BuiltIn) -> &'static ModelCode {
    match model {
        BuiltIn::Blocking => &BLOCKING_CODE,
        BuiltIn::ThreadPerConn => &THREAD_PER_CONN_CODE,
        BuiltIn::ProcessPerConn => &PROCESS_PER_CONN_CODE,
        BuiltIn::ThreadPool => &THREAD_POOL_CODE,
        BuiltIn::Nonblocking => &NONBLOCKING_CODE,
        BuiltIn::Select => &SELECT_CODE,
        BuiltIn::Poll => &POLL_CODE,
        BuiltIn::Epoll => &EPOLL_CODE,
        BuiltIn::EpollEt => &EPOLL_ET_CODE,
        BuiltIn::Reactor => &REACTOR_CODE,
        BuiltIn::Sigio => &SIGIO_CODE,
        BuiltIn::IoUring => &IO_URING_CODE,
        BuiltIn::PosixAio => &POSIX_AIO_CODE,
    }
}

/// The code of the model an id names, if it has any: a traced program has none (Kettle runs
/// somebody else's program and sees only its system calls).
pub fn of_model(id: &str) -> Option<&'static ModelCode> {
    match id.parse::<ModelId>().ok()? {
        ModelId::BuiltIn(model) => Some(code(model)),
        ModelId::Traced => None,
    }
}

static BLOCKING_CODE: ModelCode = ModelCode {
    model: BuiltIn::Blocking,
    excerpts: &[&BLOCKING_ACCEPT, &ECHO_CONNECTION],
    entries: &[
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(RECV, 1, "match recv_recorded(", "recv"),
        at(SEND, 1, "send_all(raw", "send"),
        at(CLOSE, 1, "close_recorded(fd, conn, reason", "close"),
    ],
};

static THREAD_PER_CONN_CODE: ModelCode = ModelCode {
    model: BuiltIn::ThreadPerConn,
    excerpts: &[&TPC_ACCEPTOR, &TPC_SPAWN, &TPC_WORKER, &ECHO_CONNECTION],
    entries: &[
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(&["thread_spawned"], 1, ".spawn(move || job.run())", "spawn").thread(ThreadKind::Conn),
        at(RECV, 3, "match recv_recorded(", "recv"),
        at(SEND, 3, "send_all(raw", "send"),
        at(CLOSE, 3, "close_recorded(fd, conn, reason", "close").thread(ThreadKind::Conn),
    ],
};

static PROCESS_PER_CONN_CODE: ModelCode = ModelCode {
    model: BuiltIn::ProcessPerConn,
    excerpts: &[&PPC_PARENT, &PPC_FORK, &PPC_WAITER, &ECHO_CONNECTION],
    entries: &[
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(&["child_spawned"], 1, ".spawn()", "spawn"),
        at(RECV, 3, "match recv_recorded(", "recv"),
        at(SEND, 3, "send_all(raw", "send"),
        at(CLOSE, 3, "close_recorded(fd, conn, reason", "close").thread(ThreadKind::Child),
        at(&["child_reaped"], 2, "match child.wait()", "wait"),
        at(CLOSE, 2, "close_recorded(fd, self.conn", "close").thread(ThreadKind::Waiter),
    ],
};

static THREAD_POOL_CODE: ModelCode = ModelCode {
    model: BuiltIn::ThreadPool,
    excerpts: &[&POOL_ACCEPTOR, &POOL_ENQUEUE, &POOL_WORKER, &ECHO_CONNECTION],
    entries: &[
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(&["conn_queued"], 1, "items.push_back(", "push_back"),
        at(&["conn_dequeued"], 2, "items.pop_front()", "pop_front"),
        at(&["thread_blocked", "thread_woken"], 2, "self.queue.ready.wait(", "wait"),
        at(RECV, 3, "match recv_recorded(", "recv"),
        at(SEND, 3, "send_all(raw", "send"),
        at(CLOSE, 3, "close_recorded(fd, conn, reason", "close").thread(ThreadKind::PoolWorker),
    ],
};

static NONBLOCKING_CODE: ModelCode = ModelCode {
    model: BuiltIn::Nonblocking,
    excerpts: &[&BUSY_LOOP, &CONN_RECEIVE, &CONN_FLUSH, &STEP_EACH],
    entries: &[
        at(&["would_block_burst"], 0, "match accept_unless_would_block(", "accept")
            .detail("accept"),
        at(&["would_block_burst"], 1, "recv_unless_would_block(", "recv").detail("recv"),
        at(&["would_block_burst"], 2, "send_unless_would_block(", "send").detail("send"),
        at(ACCEPT, 0, "match accept_unless_would_block(", "accept"),
        at(RECV, 1, "recv_unless_would_block(", "recv"),
        at(SEND, 2, "send_unless_would_block(", "send"),
        at(CLOSE, 3, "conns.remove(i).close(", "close"),
    ],
};

static SELECT_CODE: ModelCode = ModelCode {
    model: BuiltIn::Select,
    excerpts: &[&READY_LOOP, &SELECT_WAIT, &CONN_RECEIVE, &CONN_FLUSH, &STEP_EACH],
    entries: &[
        at(WAIT, 1, "select(nfds", "select"),
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(RECV, 2, "None => recv_recorded(", "recv"),
        at(SEND, 3, "None => send_recorded(", "send"),
        at(CLOSE, 4, "conns.remove(i).close(", "close"),
    ],
};

static POLL_CODE: ModelCode = ModelCode {
    model: BuiltIn::Poll,
    excerpts: &[&READY_LOOP, &POLL_WAIT, &CONN_RECEIVE, &CONN_FLUSH, &STEP_EACH],
    entries: &[
        at(WAIT, 1, "poll(&mut fds", "poll"),
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(RECV, 2, "None => recv_recorded(", "recv"),
        at(SEND, 3, "None => send_recorded(", "send"),
        at(CLOSE, 4, "conns.remove(i).close(", "close"),
    ],
};

static EPOLL_CODE: ModelCode = ModelCode {
    model: BuiltIn::Epoll,
    excerpts: &[
        &EPOLL_LOOP,
        &EPOLL_WAIT,
        &EPOLL_CTL,
        &LOOP_ACCEPT,
        &CONN_RECEIVE,
        &CONN_FLUSH,
        &LOOP_CLOSE,
    ],
    entries: &EPOLL_CALLS,
};

static EPOLL_ET_CODE: ModelCode = ModelCode {
    model: BuiltIn::EpollEt,
    excerpts: &[
        &EPOLL_ET_LOOP,
        &EPOLL_WAIT,
        &EPOLL_CTL,
        &LOOP_ACCEPT,
        &CONN_RECEIVE,
        &CONN_FLUSH,
        &LOOP_CLOSE,
    ],
    entries: &EPOLL_CALLS,
};

static REACTOR_CODE: ModelCode = ModelCode {
    model: BuiltIn::Reactor,
    excerpts: &[
        &REACTOR_LOOP,
        &EPOLL_WAIT,
        &EPOLL_CTL,
        &LOOP_ACCEPT,
        &CONN_RECEIVE,
        &CONN_FLUSH,
        &LOOP_CLOSE,
        &REACTOR_REGISTRY,
    ],
    entries: &[
        EPOLL_CALLS[0],
        EPOLL_CALLS[1],
        EPOLL_CALLS[2],
        EPOLL_CALLS[3],
        EPOLL_CALLS[4],
        EPOLL_CALLS[5],
        EPOLL_CALLS[6],
        EPOLL_CALLS[7],
        at(&["callback"], 7, "(reg.callback)(self, ready, t)", "callback"),
        at(&["register"], 7, "Interest::Read, \"accept\"", "record_register").detail("accept"),
        at(&["register"], 7, "Interest::Read, \"read\"", "record_register")
            .detail("read")
            .within("accept"),
        at(&["register"], 7, "self.record_register(fd, interest, name", "record_register"),
        at(&["unregister"], 7, "self.registry.remove(&fd)", "registry.remove"),
    ],
};

static SIGIO_CODE: ModelCode = ModelCode {
    model: BuiltIn::Sigio,
    excerpts: &[
        &SIGIO_LOOP,
        &SIGIO_HANDLER,
        &SIGIO_WORK,
        &SIGIO_SIGNALS,
        &SIGIO_CONN,
        &CONN_RECEIVE,
        &CONN_FLUSH,
    ],
    entries: &[
        at(&["signal_handler"], 0, "establish_handler(signo", "establish_handler")
            .detail("SIGRTMIN+2"),
        at(&["signal_handler"], 0, "establish_handler(libc::SIGIO", "establish_handler")
            .detail("SIGIO"),
        at(&["work_done"], 0, "s.other_work()", "other_work"),
        at(&["signal_delivered"], 1, "extern \"C\" fn on_signal(", "on_signal"),
        at(ACCEPT, 3, "match accept_recorded(", "accept"),
        at(RECV, 5, "None => recv_recorded(", "recv"),
        at(SEND, 6, "None => send_recorded(", "send"),
        at(CLOSE, 3, "c.close(reason, self.t", "close"),
    ],
};

static IO_URING_CODE: ModelCode = ModelCode {
    model: BuiltIn::IoUring,
    excerpts: &[&URING_LOOP, &URING_SERVER],
    entries: &[
        at(&["submit"], 1, "self.push(ring, entry, AsyncOp::Accept", "accept").op(AsyncOp::Accept),
        at(&["submit"], 1, "self.push(ring, entry, AsyncOp::Recv", "recv").op(AsyncOp::Recv),
        at(&["submit"], 1, "self.push(ring, entry, AsyncOp::Send", "send").op(AsyncOp::Send),
        at(&["submit"], 1, "self.push(ring, timer, AsyncOp::Timeout", "timeout")
            .op(AsyncOp::Timeout),
        at(&["ring_enter", "ring_exit"], 1, ".submit_with_args(", "submit_with_args"),
        at(&["complete"], 1, "ring.completion()", "completion"),
        at(CLOSE, 1, "close_recorded(c.fd, id, reason", "close"),
    ],
};

static POSIX_AIO_CODE: ModelCode = ModelCode {
    model: BuiltIn::PosixAio,
    excerpts: &[&AIO_LOOP, &AIO_SUBMIT, &AIO_COMPLETED],
    entries: &[
        at(ACCEPT, 0, "match accept_recorded(", "accept"),
        at(&["submit"], 1, "libc::aio_read(", "aio_read"),
        at(&["thread_spawned"], 2, "extern \"C\" fn completed(", "completed")
            .thread(ThreadKind::AioNotify),
        at(&["complete"], 2, "libc::aio_return(", "aio_return"),
        at(SEND, 2, "send_all(fd, &conn.buf", "send"),
        at(CLOSE, 2, "close_recorded(fd, id, reason", "close"),
    ],
};

/// The name an event carries as text, for entries that tell steps of one kind apart: the call
/// of an `EAGAIN` burst, what a thread blocks on, a callback's name, the callback a
/// registration names, a signal's name.
pub fn named(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::WouldBlockBurst { call, .. } => Some(call),
        EventKind::ThreadBlocked { on } => Some(on),
        EventKind::Callback { name, .. } => Some(name),
        EventKind::Register { callback, .. } => Some(callback),
        EventKind::SignalHandler { name, .. } | EventKind::SignalDelivered { name, .. } => {
            Some(name)
        }
        _ => None,
    }
}

/// Why no line is lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The kernel did it (stamped arriving data, queued a connection): no line of ours ran.
    Kernel,
    /// A glibc helper thread did it, inside `aio_read`'s machinery: no line of ours ran.
    Glibc,
    /// The page's echo client did it, through the relay: not the server's code.
    Client,
    /// It happened outside the lines shown: starting or ending a thread, setting up, refusing.
    Outside,
    /// There is no step to show yet.
    NoStep,
}

impl Why {
    /// The word for `data-why`.
    pub fn id(self) -> &'static str {
        match self {
            Why::Kernel => "kernel",
            Why::Glibc => "glibc",
            Why::Client => "client",
            Why::Outside => "outside",
            Why::NoStep => "no-step",
        }
    }
}

/// What the panel lights for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lit {
    /// Line `line` (the file's number) of excerpt `excerpt` made the step, calling `call`.
    Line {
        /// Index in [`ModelCode::excerpts`].
        excerpt: usize,
        /// The file's line number.
        line: usize,
        /// The call the line makes.
        call: &'static str,
    },
    /// No line of the code shown made it.
    None(Why),
}

impl ModelCode {
    /// The line an entry points at: the first in its excerpt containing its needle.
    pub fn line_of(&self, entry: &Entry) -> Option<usize> {
        self.excerpts.get(entry.excerpt)?.find(entry.needle).first().copied()
    }

    /// The line that made step `index` of `steps` (the figure's rows).
    pub fn lit(&self, steps: &[Step], index: usize) -> Lit {
        let Some(step) = steps.get(index) else { return Lit::None(Why::NoStep) };
        let event = &step.event;
        let name = event.kind.name();
        let found = self.entries.iter().find(|e| {
            e.kinds.contains(&name)
                && e.detail.is_none_or(|d| d.matches(&event.kind))
                && e.thread.is_none_or(|k| event.thread.role().map(|r| r.kind()) == Some(k))
                && e.within.is_none_or(|c| callback_at(steps, index) == Some(c))
        });
        match found.and_then(|e| Some((e, self.line_of(e)?))) {
            Some((e, line)) => Lit::Line { excerpt: e.excerpt, line, call: e.call },
            None => Lit::None(why_no_line(&event.kind)),
        }
    }
}

/// The reactor callback running at step `index`: the newest `callback` step of its thread.
fn callback_at(steps: &[Step], index: usize) -> Option<&str> {
    let thread = steps[index].event.thread.id;
    steps[..=index].iter().rev().filter(|s| s.event.thread.id == thread).find_map(|s| {
        match &s.event.kind {
            EventKind::Callback { name, .. } => Some(name.as_str()),
            _ => None,
        }
    })
}

/// Why a step no table entry claims has no line.
fn why_no_line(kind: &EventKind) -> Why {
    match kind {
        EventKind::DataArrived { .. } | EventKind::Backlog { .. } => Why::Kernel,
        EventKind::SeenInSyscall { .. } => Why::Glibc,
        EventKind::ClientConnected { .. }
        | EventKind::ClientSent { .. }
        | EventKind::ClientReceived { .. }
        | EventKind::ClientClosed { .. } => Why::Client,
        _ => Why::Outside,
    }
}

/// Whether every excerpt of `code` is here; otherwise, on the page, why not yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loading {
    /// Every excerpt is here (always, natively).
    Done,
    /// Some are still on their way from the backend.
    Waiting,
    /// The backend did not send one: what went wrong (asked again when the model is shown
    /// again after another).
    Failed(String),
}

/// How far the page got fetching `code`'s excerpts.
pub fn loading(code: &ModelCode) -> Loading {
    if code.excerpts.iter().all(|x| x.is_loaded()) {
        return Loading::Done;
    }
    #[cfg(target_arch = "wasm32")]
    if let Some(error) = code.excerpts.iter().find_map(|x| fetched::error(x)) {
        return Loading::Failed(error);
    }
    Loading::Waiting
}

/// Asks the backend for `code`'s excerpts the page does not have and has not asked for yet;
/// `arrived` runs after each one is kept (or has failed), so the panel draws again. Natively
/// there is nothing to fetch.
pub fn fetch_missing(code: &'static ModelCode, arrived: impl Fn() + Clone + 'static) {
    #[cfg(target_arch = "wasm32")]
    if OFFLINE.with(std::cell::Cell::get) {
        // A recording plays: its excerpts were seeded, and there is no server to ask.
        for &x in code.excerpts {
            if fetched::ask(x) {
                fetched::answer(x, Err("not in the recording".to_owned()));
            }
        }
        return;
    }
    #[cfg(target_arch = "wasm32")]
    for &x in code.excerpts {
        if fetched::ask(x) {
            let arrived = arrived.clone();
            wasm_bindgen_futures::spawn_local(async move {
                fetched::answer(x, fetched::request(x).await);
                arrived();
            });
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (code, arrived);
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// Set once the page replays a recording: no excerpt is fetched from then on.
    static OFFLINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// From now on the page asks no server for excerpts: it replays a recording (which carries
/// them, [`seed_excerpts`]) and may be served by a plain file server.
pub fn go_offline() {
    #[cfg(target_arch = "wasm32")]
    OFFLINE.with(|o| o.set(true));
}

/// Hands the page the excerpts a recording carries, so a replay's code panel needs no server:
/// each one this page knows (by file and region name) is kept as if fetched. Natively every
/// excerpt is compiled in already.
pub fn seed_excerpts(excerpts: &[kettle_shared::recording::CodeExcerpt]) {
    #[cfg(target_arch = "wasm32")]
    for model in kettle_shared::MODELS.iter().map(|m| m.model) {
        for &x in code(model).excerpts {
            let found = excerpts.iter().find(|c| c.file == x.basename() && c.name == x.name);
            if let Some(c) = found.filter(|_| !x.is_loaded()) {
                let text =
                    kettle_shared::excerpt::ExcerptText { first: c.first, text: c.text.clone() };
                fetched::answer(x, Ok(text));
            }
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = excerpts;
}

/// Hands the page an excerpt's lines as the backend would (the browser tests, which run
/// without a backend).
#[cfg(target_arch = "wasm32")]
pub fn provide(x: &'static Excerpt, text: kettle_shared::excerpt::ExcerptText) {
    fetched::answer(x, Ok(text));
}

/// The excerpts the page fetched from the backend, kept for the page's life (at most the
/// thirteen models' code, ~60 KB), and those that failed.
#[cfg(target_arch = "wasm32")]
mod fetched {
    use std::cell::RefCell;

    use kettle_shared::excerpt::ExcerptText;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    use super::Excerpt;

    type Key = (&'static str, &'static str);

    enum Slot {
        Asked,
        Here(usize, &'static str),
        Failed(String),
    }

    thread_local! {
        // At most the 36 excerpts: a list, not a hash map (less code in the wasm).
        static SLOTS: RefCell<Vec<(Key, Slot)>> = const { RefCell::new(Vec::new()) };
    }

    fn key(x: &Excerpt) -> Key {
        (x.file, x.name)
    }

    fn with_slot<T>(x: &Excerpt, f: impl FnOnce(Option<&Slot>) -> T) -> T {
        SLOTS.with(|s| f(s.borrow().iter().find(|(k, _)| *k == key(x)).map(|(_, v)| v)))
    }

    /// Its first line number and lines, once here.
    pub(super) fn get(x: &Excerpt) -> Option<(usize, &'static str)> {
        with_slot(x, |slot| match slot {
            Some(Slot::Here(first, text)) => Some((*first, *text)),
            _ => None,
        })
    }

    pub(super) fn error(x: &Excerpt) -> Option<String> {
        with_slot(x, |slot| match slot {
            Some(Slot::Failed(e)) => Some(e.clone()),
            _ => None,
        })
    }

    /// Puts `slot` in its place, the first time or again.
    fn set(x: &Excerpt, slot: Slot) {
        SLOTS.with(|s| {
            let mut slots = s.borrow_mut();
            match slots.iter_mut().find(|(k, _)| *k == key(x)) {
                Some((_, old)) => *old = slot,
                None => slots.push((key(x), slot)),
            }
        });
    }

    /// Marks it asked for; false when it is here or already on its way.
    pub(super) fn ask(x: &Excerpt) -> bool {
        if with_slot(x, |slot| matches!(slot, Some(Slot::Asked | Slot::Here(..)))) {
            return false;
        }
        set(x, Slot::Asked);
        true
    }

    /// Keeps what the backend answered. The lines live as long as the page (leaked once per
    /// excerpt), so they read as `&'static str` like the compiled-in ones.
    pub(super) fn answer(x: &Excerpt, answer: Result<ExcerptText, String>) {
        let slot = match answer {
            Ok(ExcerptText { first, text }) => Slot::Here(first, Box::leak(text.into_boxed_str())),
            Err(e) => Slot::Failed(e),
        };
        set(x, slot);
    }

    /// `GET /api/excerpts/{file}/{name}` from the page's own server; its JSON read by the
    /// browser (`Response.json()`), two fields.
    pub(super) async fn request(x: &Excerpt) -> Result<ExcerptText, String> {
        let url = format!("/api/excerpts/{}/{}", x.basename(), x.name);
        let said = |e: JsValue| e.as_string().unwrap_or_else(|| "the request failed".to_owned());
        let window = web_sys::window().ok_or("no window")?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str(&url)).await.map_err(said)?.unchecked_into();
        if !response.ok() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        let body = JsFuture::from(response.json().map_err(said)?).await.map_err(said)?;
        let field = |name: &str| js_sys::Reflect::get(&body, &JsValue::from_str(name));
        let first = field("first").ok().and_then(|v| v.as_f64());
        let text = field("text").ok().and_then(|v| v.as_string());
        match (first, text) {
            (Some(first), Some(text)) => Ok(ExcerptText { first: first as usize, text }),
            _ => Err(format!("{url}: not an excerpt")),
        }
    }
}

// Natively only: the page's wasm has no excerpt lines until the backend sends them.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use std::collections::VecDeque;
    use std::rc::Rc;

    use kettle_shared::{RecvOutcome, WaitApi};

    use super::*;
    use crate::store::tests::ev;
    use crate::store::Steps;

    /// Every model's code, in the catalogue's order.
    fn codes() -> impl Iterator<Item = &'static ModelCode> {
        BuiltIn::ALL.iter().map(|&m| code(m))
    }

    #[test]
    fn every_model_in_the_catalogue_has_its_code() {
        for &model in BuiltIn::ALL {
            assert_eq!(code(model).model, model, "{model}'s code is its own");
            assert_eq!(of_model(model.id()), Some(code(model)));
        }
        assert_eq!(of_model("no-such-model"), None);
        for code in codes() {
            assert!(!code.excerpts.is_empty(), "{}", code.model);
            for x in code.excerpts {
                assert!(x.lines().count() >= 5, "{} {}: too short to read", code.model, x.name);
            }
        }
    }

    #[test]
    fn every_mapped_line_is_found_once_in_its_excerpt_and_makes_the_call_it_claims() {
        for code in codes() {
            for e in code.entries {
                let x = code.excerpts.get(e.excerpt).unwrap_or_else(|| {
                    panic!("{}: {:?} points past the excerpts", code.model, e.kinds)
                });
                let hits = x.find(e.needle);
                assert_eq!(
                    hits.len(),
                    1,
                    "{}: {:?} needle {:?} found at lines {hits:?} of {} ({})",
                    code.model,
                    e.kinds,
                    e.needle,
                    x.file,
                    x.name
                );
                let line = x.line(hits[0]).unwrap();
                // `AsyncOp::Recv` makes a `recv`: the call's word, whatever its case.
                assert!(
                    line.to_ascii_lowercase().contains(&e.call.to_ascii_lowercase()),
                    "{}: {:?} claims {:?} but line {} is {line:?}",
                    code.model,
                    e.kinds,
                    e.call,
                    hits[0]
                );
                assert!(
                    !line.trim_start().starts_with("//"),
                    "{}: {:?} points at a comment: {line:?}",
                    code.model,
                    e.kinds
                );
            }
        }
    }

    #[test]
    fn every_entry_names_a_real_event_kind() {
        for code in codes() {
            for kind in code.entries.iter().flat_map(|e| e.kinds) {
                // A known tag without its fields fails for a missing field, never as unknown.
                let json = format!("{{\"type\":\"{kind}\"}}");
                if let Err(e) = serde_json::from_str::<EventKind>(&json) {
                    assert!(!e.to_string().contains("unknown variant"), "{}: {e}", code.model);
                }
            }
        }
    }

    /// The calls the tutorial's lesson is about are on the lines the issue names.
    #[test]
    fn the_lesson_calls_are_mapped_to_the_lines_that_make_them() {
        let claim = |model: &str, kind: &str, detail: Option<Detail>| {
            let code = of_model(model).unwrap();
            let e = code
                .entries
                .iter()
                .find(|e| e.kinds.contains(&kind) && (detail.is_none() || e.detail == detail))
                .unwrap_or_else(|| panic!("{model} has no line for {kind}"));
            code.excerpts[e.excerpt].line(code.line_of(e).unwrap()).unwrap()
        };
        for model in ["blocking", "thread-per-conn", "process-per-conn", "thread-pool"] {
            assert!(claim(model, "recv_enter", None).contains("recv"));
            assert!(claim(model, "accept_enter", None).contains("accept"));
        }
        assert!(claim("select", "wait_enter", None).trim_start().starts_with("select("));
        assert!(claim("poll", "wait_enter", None).trim_start().starts_with("poll("));
        for model in ["epoll", "epoll-et", "reactor"] {
            assert!(claim(model, "wait_returned", None).contains("epoll.wait("));
        }
        let recv_sqe = claim("io-uring", "submit", Some(Detail::Op(AsyncOp::Recv)));
        assert!(recv_sqe.contains("push") && recv_sqe.contains("AsyncOp::Recv"), "{recv_sqe}");
        assert!(claim("io-uring", "ring_enter", None).contains("submit_with_args"));
        assert!(claim("posix-aio", "submit", None).contains("aio_read("));
        assert!(claim("sigio", "signal_delivered", None).contains("fn on_signal"));
    }

    #[test]
    fn excerpts_keep_the_files_own_line_numbers() {
        let src = include_str!("../../backend/src/models/blocking.rs");
        for code in codes().filter(|c| c.model == BuiltIn::Blocking) {
            for x in code.excerpts {
                for (n, text) in x.lines() {
                    assert_eq!(src.lines().nth(n - 1), Some(text), "line {n}");
                }
                assert!(x.last() > x.first());
            }
        }
    }

    #[test]
    fn a_region_is_found_between_its_markers_only() {
        let src = "a\n  // kettle:code-begin x2\nno\n  // kettle:code-end x2\n// kettle:code-begin x\nb\nc\n// kettle:code-end x\nd\n";
        let (from, to, first) = region(src, "x");
        assert_eq!(&src[from..to], "b\nc\n");
        assert_eq!(first, 6);
        let x =
            Excerpt { file: "f", name: "x2", first: 3, text: "no\n// kettle:code-end y\nyes\n" };
        assert_eq!(x.lines().collect::<Vec<_>>(), [(3, "no"), (5, "yes")]);
    }

    fn steps_of(events: Vec<Rc<kettle_shared::Event>>) -> Vec<Step> {
        Steps::derive(&events.into_iter().collect::<VecDeque<_>>()).list
    }

    fn recv_exit(fd: i32) -> EventKind {
        let outcome = RecvOutcome::Data { bytes: 3, preview: "hi\n".into() };
        EventKind::RecvExit { fd, outcome, wait_ns: Some(5), copy_ns: Some(1) }
    }

    #[test]
    fn a_step_lights_the_line_that_made_it_and_the_kernels_step_lights_none() {
        let code = of_model("blocking").unwrap();
        let steps = steps_of(vec![
            ev(1, 10, 1, EventKind::AcceptEnter),
            ev(2, 20, 1, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(4, 30, 1, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(3, 40, 1, recv_exit(5)),
        ]);
        let kinds: Vec<_> = steps.iter().map(|s| s.event.kind.name()).collect();
        assert_eq!(kinds, ["accept_enter", "recv_enter", "data_arrived", "recv_exit"]);
        let Lit::Line { excerpt, line, call } = code.lit(&steps, 1) else { panic!() };
        assert_eq!((excerpt, call), (1, "recv"));
        let text = code.excerpts[1].line(line).unwrap();
        assert!(text.contains("recv_recorded("), "{text}");
        assert_eq!(code.lit(&steps, 3), code.lit(&steps, 1), "the return is the same line");
        let Lit::Line { excerpt: 0, call: "accept", .. } = code.lit(&steps, 0) else { panic!() };
        assert_eq!(code.lit(&steps, 2), Lit::None(Why::Kernel));
        assert_eq!(code.lit(&steps, 9), Lit::None(Why::NoStep));
    }

    #[test]
    fn one_kind_of_step_is_told_apart_by_its_operation_and_its_thread() {
        let uring = of_model("io-uring").unwrap();
        let submit = |seq, op| ev(seq, seq, 1, EventKind::Submit { op, fd: 5 });
        let steps = steps_of(vec![
            submit(1, AsyncOp::Accept),
            submit(2, AsyncOp::Recv),
            submit(3, AsyncOp::Send),
        ]);
        let lines: Vec<&str> = (0..3)
            .map(|i| match uring.lit(&steps, i) {
                Lit::Line { excerpt, line, .. } => uring.excerpts[excerpt].line(line).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(lines[0].contains("AsyncOp::Accept") && lines[1].contains("AsyncOp::Recv"));
        assert!(lines[2].contains("AsyncOp::Send"));

        let ppc = of_model("process-per-conn").unwrap();
        let close = EventKind::Close { fd: 5, reason: kettle_shared::CloseReason::PeerClosed };
        let mut child = ev(1, 1, 2, close.clone());
        Rc::make_mut(&mut child).thread.name = "child-77".into();
        let mut waiter = ev(2, 2, 3, close);
        Rc::make_mut(&mut waiter).thread.name = "waiter-77".into();
        let steps = steps_of(vec![child, waiter]);
        let (Lit::Line { excerpt: a, .. }, Lit::Line { excerpt: b, .. }) =
            (ppc.lit(&steps, 0), ppc.lit(&steps, 1))
        else {
            panic!()
        };
        assert_eq!(ppc.excerpts[a].name, "echo-connection", "the child closes its connection");
        assert_eq!(ppc.excerpts[b].name, "ppc-waiter", "the parent closes its copy");
    }

    #[test]
    fn the_reactor_registers_read_in_the_accept_callback_and_again_in_write() {
        let code = of_model("reactor").unwrap();
        let callback =
            |seq, name: &str| ev(seq, seq, 1, EventKind::Callback { name: name.into(), fd: 5 });
        let register = |seq, callback: &str| {
            let kind =
                EventKind::Register { fd: 5, interest: "read".into(), callback: callback.into() };
            ev(seq, seq, 1, kind)
        };
        let steps = steps_of(vec![
            callback(1, "accept"),
            register(2, "read"),
            callback(3, "write"),
            register(4, "read"),
        ]);
        let text = |i| match code.lit(&steps, i) {
            Lit::Line { excerpt, line, .. } => code.excerpts[excerpt].line(line).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(text(1).contains("Interest::Read, \"read\""), "{}", text(1));
        assert!(text(3).contains("interest, name"), "{}", text(3));
    }

    #[test]
    fn a_select_step_lights_select_and_a_glibc_helper_lights_nothing() {
        let select = of_model("select").unwrap();
        let wait = EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3] };
        let steps = steps_of(vec![ev(1, 1, 1, wait)]);
        let Lit::Line { call: "select", .. } = select.lit(&steps, 0) else { panic!() };
        let aio = of_model("posix-aio").unwrap();
        let seen = EventKind::SeenInSyscall { tid: 9, call: "read".into(), fd: 5 };
        let steps = steps_of(vec![ev(1, 1, 1, seen), ev(2, 2, 1, EventKind::ThreadExited)]);
        assert_eq!(aio.lit(&steps, 0), Lit::None(Why::Glibc));
        assert_eq!(aio.lit(&steps, 1), Lit::None(Why::Outside));
    }

    #[test]
    fn every_excerpt_loses_only_the_indentation_all_its_lines_share() {
        for code in codes() {
            for x in code.excerpts {
                let indent = x.common_indent();
                let lines: Vec<&str> =
                    x.lines().map(|(_, l)| l).filter(|l| !l.trim().is_empty()).collect();
                assert!(lines.iter().all(|l| l.starts_with(&" ".repeat(indent))), "{}", x.file);
                assert!(
                    lines.iter().any(|l| !l[indent..].starts_with(' ')),
                    "{}: one line starts at the margin",
                    x.file
                );
            }
        }
    }
}
