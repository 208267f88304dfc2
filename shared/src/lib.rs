//! # Kettle's wire protocol (version 3)
//!
//! Everything the backend and the browser say to each other is defined here, and nothing
//! else: the backend's model servers record [`Event`]s, the recorder ships them to every viewer
//! in [`ServerMsg::Batch`]es, and the page answers with [`ClientMsg`] commands.
//!
//! The crate is deliberately small and wasm-safe: only `serde`, no clocks, no sockets, no
//! async runtime. Both sides compile it, so a field renamed here is renamed everywhere.
//!
//! ## Framing
//!
//! One JSON object per WebSocket **text** frame. Every message carries a `"type"` tag
//! (server → browser) or an `"op"` tag (browser → server) in `snake_case`.
//!
//! ## Time
//!
//! [`Event::t_ns`] is monotonic nanoseconds since the backend started (`CLOCK_MONOTONIC`,
//! offset to the start). It never goes backwards for one thread, and different threads share
//! the same clock, so events can be laid out on one time axis. [`Clock`] in the
//! [`ServerMsg::Hello`] lets a viewer relate that axis to wall-clock time.
//!
//! ## Versioning
//!
//! [`PROTOCOL_VERSION`] is sent in the first message. A viewer that sees another version should
//! say so instead of guessing: fields may have changed meaning.
//!
//! ## Reasons
//!
//! Whenever the backend explains something — why a model stopped or cannot run, why a
//! connection was refused or ended, why a command failed — it sends a [`Reason`]: a code and
//! its parameters, never a sentence. The page words it in the reader's language (see
//! [`reason`]).

#![warn(missing_docs)]

pub mod reason;

pub use reason::{ChildExit, Reason};

use serde::{Deserialize, Serialize};

/// The protocol version this crate describes. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 3;

/// The largest command (one WebSocket message) the backend accepts, in bytes.
/// Larger messages close the socket with code 1009 ("message too big").
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The longest line the browser echo client may send in one [`Command::EchoSend`], in bytes.
pub const MAX_ECHO_TEXT_BYTES: usize = 8 * 1024;

/// How many echo clients one viewer may hold open at once.
pub const MAX_ECHO_CLIENTS_PER_VIEWER: usize = 16;

/// How many bytes of a payload an event carries as a readable preview.
pub const PREVIEW_BYTES: usize = 48;

// ---------------------------------------------------------------------------------------------
// The model catalogue
// ---------------------------------------------------------------------------------------------

/// A static description of one I/O model server: what the model list and the lesson panel show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDescriptor {
    /// Stable id used in URLs, the API and events (`"blocking"`).
    pub id: &'static str,
    /// Short English title.
    pub title: &'static str,
    /// Short Chinese title (the tutorial's wording).
    pub title_zh: &'static str,
    /// Which figure of Stevens, *UNIX Network Programming* vol. 1, ch. 6 this model is.
    pub figure: &'static str,
    /// A few plain sentences for students, in English.
    pub lesson: &'static str,
    /// The same lesson in Chinese.
    pub lesson_zh: &'static str,
}

/// Every model Kettle runs, in teaching order. Only models with a real server are listed.
pub const MODELS: &[ModelDescriptor] = &[
    ModelDescriptor {
        id: "blocking",
        title: "Blocking I/O, one thread",
        title_zh: "阻塞IO模型(单线程)",
        figure: "Stevens Fig. 6.1",
        lesson: "One thread calls accept, then recv, and sleeps inside each call until the kernel \
             has data and has copied it to the application. While it serves one client, a \
             second client's connection waits in the kernel's listen backlog: nobody calls \
             accept for it until the first client leaves. Both phases — waiting for data and \
             copying it — are spent blocked.",
        lesson_zh:
            "一个线程先 accept,再 recv;每次调用都在内核里睡着,直到数据到达并拷贝到用户空间。\
                它服务一个客户端时,第二个客户端的连接只能在内核的监听队列(backlog)里等着,\
                直到第一个客户端离开才会被 accept。两个阶段(等待数据、拷贝数据)都被阻塞。",
    },
    ModelDescriptor {
        id: "thread-per-conn",
        title: "Blocking I/O, a thread per connection",
        title_zh: "阻塞IO模型(多线程:每个连接一个线程)",
        figure: "Stevens Fig. 6.1",
        lesson: "An acceptor thread sleeps in accept; for every client it creates a new thread \
                 that runs the blocking recv/send loop. Each thread still blocks through both \
                 phases, but only its own client waits for it, so many clients are served at \
                 once. Watch threads appear and end as clients come and go, and what each costs: \
                 its stack. Threads are capped; past the cap, or when the kernel refuses to \
                 create one, the new client is refused and everyone else is still served.",
        lesson_zh: "一个 accept 线程睡在 accept 里;每来一个客户端就新建一个线程,\
                    在里面跑阻塞的 recv/send 循环。每个线程仍然在两个阶段都被阻塞,\
                    但只耽误它自己的客户端,所以可以同时服务多个客户端。\
                    观察线程随客户端的来去而创建、结束,以及每个线程的代价:它的栈。\
                    线程数有上限;超过上限或内核拒绝创建线程时,新客户端被拒绝,其他客户端照常服务。",
    },
    ModelDescriptor {
        id: "process-per-conn",
        title: "Blocking I/O, a process per connection",
        title_zh: "阻塞IO模型(多进程:每个连接一个进程)",
        figure: "Stevens Fig. 6.1",
        lesson: "The parent sleeps in accept; for every client it starts a child process and \
                 hands it the connection. The child runs the blocking recv/send loop, through \
                 both phases, and exits when the client leaves; the parent then collects its \
                 exit status (waitpid) so it does not stay a zombie. Each client has its own \
                 address space: safe, but a process costs much more than a thread.",
        lesson_zh: "父进程睡在 accept 里;每来一个客户端就创建一个子进程,把连接交给它。\
                    子进程跑阻塞的 recv/send 循环(两个阶段都阻塞),客户端离开时退出;\
                    父进程随后用 waitpid 回收它的退出状态,免得它变成僵尸进程。\
                    每个客户端有自己的地址空间:安全,但一个进程比一个线程贵得多。",
    },
    ModelDescriptor {
        id: "thread-pool",
        title: "Blocking I/O, a fixed pool of threads",
        title_zh: "阻塞IO模型(线程池)",
        figure: "Stevens Fig. 6.1",
        lesson: "A few worker threads (4 by default) are made once. The acceptor puts every \
                 accepted connection in a bounded queue; a free worker takes one and serves it \
                 with blocking recv/send until it closes. Threads and memory stay bounded, but \
                 so does the service: with every worker busy, a new client is accepted yet \
                 waits in the queue, unanswered, until a worker is free — watch how long it \
                 waited. A full queue refuses the client.",
        lesson_zh: "少数几个工作线程(默认 4 个)只在开始时创建一次。accept 线程把接受的连接放进\
                    有界队列;空闲的工作线程取出一个连接,用阻塞的 recv/send 服务它直到连接关闭。\
                    线程数和内存都有上限,服务能力也有上限:所有工作线程都忙时,新客户端虽然已被\
                    accept,却只能在队列里等着,无人应答,直到有工作线程空闲——注意它等了多久。\
                    队列满时新客户端被拒绝。",
    },
    ModelDescriptor {
        id: "nonblocking",
        title: "Non-blocking I/O, a busy loop",
        title_zh: "非阻塞IO模型",
        figure: "Stevens Fig. 6.2",
        lesson: "Every socket is non-blocking: a call that cannot be satisfied returns EAGAIN at \
                 once instead of sleeping. One thread loops over accept and every connection's \
                 recv, again and again, so it serves many clients — but it never sleeps: thousands \
                 of EAGAINs every 100 ms, and a whole CPU core used even with no client at all. \
                 The recv that finds data still waits while the kernel copies it.",
        lesson_zh: "所有套接字都设为非阻塞:不能立即完成的调用马上返回 EAGAIN(BlockingIOError),\
                    而不是睡眠。一个线程反复地轮询 accept 和每个连接的 recv,因此能服务多个客户端,\
                    但它从不睡眠:每 100 毫秒成千上万次 EAGAIN,即使没有客户端也占满一个 CPU 核。\
                    真正取到数据的那次 recv 在内核拷贝数据时仍然阻塞。",
    },
    ModelDescriptor {
        id: "select",
        title: "I/O multiplexing: select",
        title_zh: "IO多路复用(select)",
        figure: "Stevens Fig. 6.3",
        lesson: "One thread sleeps in select over the listening socket and every connection, and \
                 wakes when one of them is ready; then it accepts or calls recv, which only copies \
                 the data that is already there. Two system calls per message: for one client this \
                 is no faster than blocking I/O; it wins only with many clients. Every call passes \
                 the whole set and every descriptor is scanned, and descriptors from 1024 \
                 (FD_SETSIZE) up cannot be watched at all.",
        lesson_zh: "一个线程阻塞在 select 上,同时监视监听套接字和所有连接,其中任何一个就绪就返回;\
                    然后再 accept 或 recv,此时 recv 只需拷贝已经到达的数据。每条消息需要两个系统调用\
                    (select 和 recv):只有一个连接时并不比阻塞IO快,优势在于能处理多个连接。\
                    每次调用都要传入整个集合并逐个扫描;编号 1024(FD_SETSIZE)及以上的描述符根本无法监视。",
    },
    ModelDescriptor {
        id: "poll",
        title: "I/O multiplexing: poll",
        title_zh: "IO多路复用(poll)",
        figure: "Stevens Fig. 6.3",
        lesson: "The same loop as select, waiting in poll: an array of (descriptor, events) \
                 instead of bitmaps, so there is no 1024 limit. The cost stays the same: every \
                 call passes every descriptor, and every entry is checked to find the few that \
                 are ready. Phase 1 is spent in poll; recv only copies.",
        lesson_zh: "与 select 相同的循环,只是阻塞在 poll 上:传入 (描述符, 事件) 数组而不是位图,\
                    因此没有 1024 的限制。代价不变:每次调用都要传入全部描述符,并逐个检查才能找到\
                    少数就绪的。阶段1在 poll 中等待,recv 只负责拷贝。",
    },
    ModelDescriptor {
        id: "epoll",
        title: "epoll, level-triggered",
        title_zh: "IO多路复用(epoll,水平触发)",
        figure: "Stevens Fig. 6.3",
        lesson:
            "One thread sleeps in epoll_wait for every socket at once: phase 1 is spent there, \
             and recv only copies. Unlike select, the watched set lives in the kernel (added \
             once with epoll_ctl) and epoll_wait returns only the ready descriptors, so its \
             cost follows the ready set, not the watched set. Level-triggered: a socket is \
             reported again and again for as long as data is waiting.",
        lesson_zh: "一个线程在 epoll_wait 里同时等待所有套接字:阶段1在这里度过,recv 只做拷贝。\
                与 select 不同,被监视的集合保存在内核里(用 epoll_ctl 只添加一次),\
                epoll_wait 只返回就绪的描述符,所以开销取决于就绪的数量,而不是监视的数量。\
                水平触发:只要还有数据没读,每次 epoll_wait 都会再次报告这个套接字。",
    },
    ModelDescriptor {
        id: "epoll-et",
        title: "epoll, edge-triggered",
        title_zh: "IO多路复用(epoll,边缘触发)",
        figure: "Stevens Fig. 6.3",
        lesson: "With EPOLLET the kernel reports a socket only when it becomes ready — when new \
             data arrives — not for as long as it stays ready. So after each report the server \
             must drain: recv again and again until the kernel answers EAGAIN. Stopping early \
             would leave bytes that no new report will ever announce.",
        lesson_zh: "设置 EPOLLET 后,内核只在套接字变为就绪(新数据到达)的那一刻报告一次,\
                而不是只要就绪就一直报告。所以每次报告之后,服务器必须把数据读干净:\
                反复 recv,直到内核返回 EAGAIN。提前停下,剩下的数据就再也不会被报告。",
    },
    ModelDescriptor {
        id: "reactor",
        title: "Reactor (selectors-style callbacks)",
        title_zh: "selectors 模块(回调)",
        figure: "Stevens Fig. 6.3",
        lesson: "The tutorial's selectors server: each socket is registered with a callback \
             (register(fd, EVENT_READ, read)), and the loop calls the callback of every ready \
             socket. The accept callback registers a read callback for each new connection. \
             Underneath it is epoll: the same system calls, organised as small handlers.",
        lesson_zh: "教程里的 selectors 服务器:每个套接字注册时带一个回调函数\
                (register(fd, EVENT_READ, read)),循环对每个就绪的套接字调用它的回调。\
                accept 回调为每个新连接注册 read 回调。底层仍是 epoll:系统调用相同,\
                只是组织成一个个小的处理函数。",
    },
    ModelDescriptor {
        id: "sigio",
        title: "Signal-driven I/O",
        title_zh: "信号驱动IO模型",
        figure: "Stevens Fig. 6.4",
        lesson: "The thread installs a signal handler (sigaction) and asks the kernel to signal it \
                 when a socket has something (O_ASYNC, F_SETOWN_EX, F_SETSIG). Then it does its \
                 own work: it is in no I/O call while waiting. When data arrives the kernel \
                 delivers a signal naming the socket; only then does the thread call recv, and the \
                 data is already there, so phase 1 costs it nothing. Phase 2 — copying — is \
                 still done by the thread inside recv: signal-driven I/O is synchronous I/O.",
        lesson_zh: "线程先用 sigaction 安装信号处理函数,并让内核在套接字可读时给它发信号\
                    (O_ASYNC、F_SETOWN_EX、F_SETSIG)。然后它去做自己的事:等待期间不在任何 IO 调用里。\
                    数据到达时内核递送一个指明套接字的信号,线程这时才调用 recv,数据已经在内核里了,\
                    所以第一阶段不占用它。第二阶段(拷贝)仍由线程在 recv 中完成:信号驱动 IO 仍是同步 IO。",
    },
    ModelDescriptor {
        id: "io-uring",
        title: "Asynchronous I/O (io_uring)",
        title_zh: "异步IO模型(io_uring)",
        figure: "Stevens Fig. 6.5",
        lesson: "The thread puts requests — accept, recv, send — into a submission queue shared \
                 with the kernel and goes on; one io_uring_enter submits them and waits for any \
                 completion. When a recv completes, the kernel has done both phases: it waited \
                 for the data and copied it into the application's buffer. The thread never \
                 waits on one socket and never copies: this is asynchronous I/O, done by the \
                 kernel itself. If the kernel refuses io_uring, the model shows as unavailable.",
        lesson_zh: "线程把请求(accept、recv、send)放进与内核共享的提交队列,然后继续;一次 \
                    io_uring_enter 提交它们并等待任意一个完成。recv 完成时,内核已经做完两个阶段:\
                    等数据、把数据拷贝到应用的缓冲区。线程从不等某一个套接字,也从不拷贝:\
                    这是由内核自己完成的异步 IO。如果内核不允许 io_uring,该模型显示为不可用。",
    },
    ModelDescriptor {
        id: "posix-aio",
        title: "POSIX asynchronous I/O (aio_read)",
        title_zh: "异步IO模型(POSIX aio_read)",
        figure: "Stevens Fig. 6.5",
        lesson: "The thread calls aio_read, which returns at once; later a callback is told the \
                 read is complete and the data is already in the buffer: the caller spends \
                 neither phase. But look at who did the work: glibc implements POSIX aio in user \
                 space. A glibc helper thread sleeps in an ordinary blocking read() through both \
                 phases, then glibc starts a new thread to run the callback — its thread id \
                 differs from the submitter's. The kernel's own asynchronous I/O is io_uring.",
        lesson_zh: "线程调用 aio_read,它立刻返回;之后回调函数被告知读已完成,数据已在缓冲区里:\
                    调用者两个阶段都不用等。但看看是谁在干活:glibc 在用户空间实现 POSIX aio。\
                    一个 glibc 辅助线程在普通的阻塞 read() 里睡过两个阶段,然后 glibc 新建一个线程\
                    来运行回调——它的线程号与提交者不同。内核自己的异步 IO 是 io_uring。",
    },
];

/// Looks a model up by its stable id.
pub fn model(id: &str) -> Option<&'static ModelDescriptor> {
    MODELS.iter().find(|m| m.id == id)
}

// ---------------------------------------------------------------------------------------------
// Models as the API reports them
// ---------------------------------------------------------------------------------------------

/// Whether a model's server is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// Not running; `start` will start it.
    Stopped,
    /// Listening on [`ModelInfo::port`].
    Running,
    /// Cannot run on this machine (for example the kernel refuses io_uring);
    /// [`ModelInfo::reason`] says why.
    Unavailable,
}

/// One model as `GET /api/models` and [`ServerMsg::Hello`] report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Stable id, as in [`ModelDescriptor::id`].
    pub id: String,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// The Stevens figure this model is.
    pub figure: String,
    /// The TCP port the model listens on while running; the configured port otherwise
    /// (`None` when it will be chosen by the kernel at start).
    pub port: Option<u16>,
    /// Running, stopped or unavailable.
    pub state: ModelState,
    /// Why the model is unavailable or why it last stopped unexpectedly; `None` otherwise.
    pub reason: Option<Reason>,
}

/// How the backend's clock relates to wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Wall-clock time (Unix epoch, milliseconds) at which `t_ns == 0`.
    pub start_unix_ms: u64,
    /// The backend's `t_ns` when this message was written.
    pub now_ns: u64,
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// One step a model server took, recorded when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number, unique and increasing across the whole backend. A gap means events were
    /// dropped (see [`ServerMsg::Batch::dropped`]).
    pub seq: u64,
    /// When it happened: monotonic nanoseconds since the backend started. For
    /// [`EventKind::DataArrived`] this is the kernel's own receive timestamp, which can be
    /// earlier than the event before it.
    pub t_ns: u64,
    /// Which model's server recorded it (a [`ModelDescriptor::id`]); for the browser echo
    /// client's relay (`client_*` events), the model the client is connected to; for the
    /// lesson's computation, [`LESSON_MODEL`].
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadRef {
    /// Small id, unique within the backend process (1, 2, 3…).
    pub id: u32,
    /// Name, such as `"blocking"` or `"pool-worker-2"`.
    pub name: String,
}

/// Why a system call failed: the errno name and the kernel's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysError {
    /// Symbolic name, such as `"ECONNRESET"`.
    pub errno: String,
    /// Human-readable text, such as `"Connection reset by peer"`.
    pub message: String,
}

/// What a `recv` returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// One file descriptor reported ready by a readiness call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// How often the backend samples each model thread ([`EventKind::ThreadSample`]), in ms: often
/// enough that a wait of a few hundred milliseconds is seen asleep in the kernel at least
/// once or twice.
pub const SAMPLE_EVERY_MS: u64 = 100;

/// One file of `/proc/self/task/<tid>/`, as Kettle read it: its content, or why it could not
/// be read. Never a guess: a file that could not be read says so.
///
/// JSON: `{"read": …}` or `{"unreadable": "EACCES"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcRead<T> {
    /// The file was read; what it says.
    Read(T),
    /// It could not be read: the errno name (`"EACCES"` for `stack` without root, `"ENOENT"`
    /// for a thread that just ended), or `"unparsable"` when its text was not in the format
    /// `proc(5)` documents.
    Unreadable(String),
}

impl<T> ProcRead<T> {
    /// The value, if the file was read.
    pub fn value(&self) -> Option<&T> {
        match self {
            ProcRead::Read(v) => Some(v),
            ProcRead::Unreadable(_) => None,
        }
    }
}

/// What `/proc/self/task/<tid>/syscall` says: the system call a thread is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "in", rename_all = "snake_case")]
pub enum InSyscall {
    /// The file says `running`: the thread is running or waiting for a CPU (runnable), so it
    /// is not asleep in any call.
    Running,
    /// The thread is inside system call `nr` (blocked in it, or stopped there).
    Call {
        /// The number, as the kernel wrote it (architecture-specific).
        nr: i64,
        /// Its name (`"recvfrom"`, `"epoll_wait"`), for the calls Kettle's models make;
        /// `None` for a number Kettle does not name.
        name: Option<String>,
        /// Its first argument when that is a descriptor (`read`, `recvfrom`, `accept4`,
        /// `epoll_wait`, `io_uring_enter`…); `None` otherwise (`select`'s is a count,
        /// `poll`'s and `futex`'s are addresses).
        fd: Option<i32>,
    },
    /// The thread is blocked but not in a system call (the file's `-1 …` line).
    Outside,
}

/// What the kernel says about one thread, read from `/proc/self/task/<tid>/` one file after
/// another within a few microseconds (each is true at its own instant: a thread that wakes
/// between two reads can show a sleeping state and a `running` call). The process-per-conn
/// children read their own `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelView {
    /// `stat`, field 3: the scheduler's state letter, as read (`"R"` running or runnable,
    /// `"S"` asleep and wakeable by a signal, `"D"` asleep and not, `"T"` stopped, `"Z"`
    /// zombie…).
    pub state: ProcRead<String>,
    /// `syscall`: the call it is in.
    pub syscall: ProcRead<InSyscall>,
    /// `wchan`: the kernel function it sleeps in (`"wait_woken"`, `"inet_csk_accept"`,
    /// `"do_epoll_wait"`…), as read; `"0"` when it is not sleeping.
    pub wchan: ProcRead<String>,
    /// `stack`: the function names of its kernel stack, innermost first (`"wait_woken"`,
    /// `"sk_wait_data"`, `"tcp_recvmsg_locked"`…), at most [`STACK_FRAMES`]. Readable by
    /// root only (`"EACCES"` otherwise).
    pub stack: ProcRead<Vec<String>>,
}

/// The most kernel stack frames a [`KernelView`] keeps: the top few say where and why.
pub const STACK_FRAMES: usize = 8;

/// What happened. Each variant is one system call boundary or one thing the kernel told us;
/// `*Enter` is recorded just before the call, `*Exit`/`*Returned` just after it returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        op: String,
        /// The descriptor.
        fd: i32,
    },
    /// An asynchronous operation completed.
    Complete {
        /// The operation.
        op: String,
        /// The descriptor.
        fd: i32,
        /// The result: bytes, a new descriptor, or a negated errno.
        result: i64,
        /// For a successful `accept`: the new connection's peer address (`getpeername(2)` on
        /// the new descriptor), so a viewer knows which of its clients was accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        peer: Option<String>,
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
        /// [`EventKind::Complete`] that follows).
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
    /// Periodic measurement of one thread (every [`SAMPLE_EVERY_MS`]).
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
        op: String,
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
    /// The snake_case name of the variant, as it appears in JSON's `"type"`.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Listen { .. } => "listen",
            EventKind::Stopped { .. } => "stopped",
            EventKind::ThreadSpawned => "thread_spawned",
            EventKind::ThreadExited => "thread_exited",
            EventKind::ThreadBlocked { .. } => "thread_blocked",
            EventKind::ThreadWoken { .. } => "thread_woken",
            EventKind::AcceptEnter => "accept_enter",
            EventKind::AcceptExit { .. } => "accept_exit",
            EventKind::Backlog { .. } => "backlog",
            EventKind::RecvEnter { .. } => "recv_enter",
            EventKind::DataArrived { .. } => "data_arrived",
            EventKind::RecvExit { .. } => "recv_exit",
            EventKind::SendEnter { .. } => "send_enter",
            EventKind::SendExit { .. } => "send_exit",
            EventKind::Close { .. } => "close",
            EventKind::Refused { .. } => "refused",
            EventKind::WaitEnter { .. } => "wait_enter",
            EventKind::WaitReturned { .. } => "wait_returned",
            EventKind::SignalHandler { .. } => "signal_handler",
            EventKind::SignalDelivered { .. } => "signal_delivered",
            EventKind::Submit { .. } => "submit",
            EventKind::Complete { .. } => "complete",
            EventKind::RingEnter { .. } => "ring_enter",
            EventKind::RingExit { .. } => "ring_exit",
            EventKind::SeenInSyscall { .. } => "seen_in_syscall",
            EventKind::WouldBlockBurst { .. } => "would_block_burst",
            EventKind::ThreadSample { .. } => "thread_sample",
            EventKind::ClientConnected { .. } => "client_connected",
            EventKind::ClientSent { .. } => "client_sent",
            EventKind::ClientReceived { .. } => "client_received",
            EventKind::ClientClosed { .. } => "client_closed",
            EventKind::ThreadStack { .. } => "thread_stack",
            EventKind::ConnQueued { .. } => "conn_queued",
            EventKind::ConnDequeued { .. } => "conn_dequeued",
            EventKind::ChildSpawned { .. } => "child_spawned",
            EventKind::ChildReaped { .. } => "child_reaped",
            EventKind::WorkDone { .. } => "work_done",
            EventKind::EpollCtl { .. } => "epoll_ctl",
            EventKind::Register { .. } => "register",
            EventKind::Unregister { .. } => "unregister",
            EventKind::Callback { .. } => "callback",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Server → browser
// ---------------------------------------------------------------------------------------------

/// Everything the backend sends to a viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// The first message on every connection. It is followed by one [`ServerMsg::Batch`] of
    /// recent history: for every model, its newest events (periodic
    /// [`EventKind::ThreadSample`]s excluded, so a busy model cannot push another's steps
    /// out). A viewer that gets a second `Hello` (it reconnected) starts afresh: that history
    /// replaces the events it kept, rather than adding to them.
    Hello {
        /// [`PROTOCOL_VERSION`] of the backend.
        protocol_version: u32,
        /// Every model and its state.
        models: Vec<ModelInfo>,
        /// The backend's clock.
        clock: Clock,
    },
    /// Events recorded since the previous batch, in `seq` order, for the models this viewer
    /// is subscribed to.
    Batch {
        /// The events.
        events: Vec<Event>,
        /// Events lost since the previous batch, counted exactly from gaps in [`Event::seq`]
        /// (every event recorded takes the next `seq`, whatever model it belongs to): dropped by
        /// the recorder because models produced them faster than they could be shipped, or
        /// skipped for this viewer because it read too slowly. Counted over every model, also
        /// those this viewer is not subscribed to.
        dropped: u64,
    },
    /// A model changed state (started, stopped, became unavailable).
    Model {
        /// Its new description.
        model: ModelInfo,
    },
    /// Bytes a model echoed back to one of this viewer's echo clients.
    Echo {
        /// The echo client's id.
        client: u32,
        /// The bytes, lossily decoded as UTF-8.
        text: String,
    },
    /// A command succeeded.
    Reply {
        /// The command's id.
        id: u64,
        /// What it produced.
        result: ReplyResult,
    },
    /// A command failed; nothing was done.
    Error {
        /// The command's id, when the command could be parsed far enough to have one.
        id: Option<u64>,
        /// The kind of failure.
        code: ErrorCode,
        /// What exactly failed, with its parameters, for the page to word.
        reason: Reason,
    },
}

/// The result of a successful command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReplyResult {
    /// The subscription now covers these models.
    Subscribed {
        /// Model ids.
        models: Vec<String>,
    },
    /// A model's state after `start` or `stop`.
    Model {
        /// The model.
        model: ModelInfo,
    },
    /// An echo client was opened.
    EchoOpened {
        /// Its id, used by [`Command::EchoSend`] and [`Command::EchoClose`].
        client: u32,
        /// The model it is connected to.
        model: String,
        /// The relay's local address: the model's server sees it as the peer.
        local: String,
    },
    /// A line was handed to the kernel for the echo client.
    EchoSent {
        /// The echo client.
        client: u32,
        /// Bytes sent.
        bytes: u32,
    },
    /// The echo client was closed.
    EchoClosed {
        /// The echo client.
        client: u32,
    },
    /// The lesson's computation started ([`Command::Compute`]).
    Computing {
        /// The thread that computes, as its events name it ([`ThreadRef::id`]).
        thread: u32,
        /// For how long, in milliseconds.
        ms: u32,
    },
}

/// Why a command failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The message is not valid JSON or not a command.
    BadRequest,
    /// The `op` is not one this protocol knows.
    UnknownOp,
    /// No model has that id.
    UnknownModel,
    /// No echo client of this viewer has that id.
    UnknownClient,
    /// A value is out of range (too long, too many).
    Limit,
    /// The model is not running, so it cannot be used.
    NotRunning,
    /// The model cannot run on this machine.
    Unavailable,
    /// A system call failed while carrying out the command.
    Io,
}

// ---------------------------------------------------------------------------------------------
// Browser → server
// ---------------------------------------------------------------------------------------------

/// A command from a viewer. The backend answers each with a [`ServerMsg::Reply`] or a
/// [`ServerMsg::Error`] carrying the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMsg {
    /// Chosen by the viewer; echoed in the answer.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub command: Command,
}

/// What a viewer can ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Receive events of these models only (`None`: every model, which is also what a new viewer
    /// gets before it sends any subscription).
    Subscribe {
        /// Model ids, or `None` for all.
        models: Option<Vec<String>>,
    },
    /// Start a model's server.
    Start {
        /// Model id.
        model: String,
    },
    /// Stop a model's server, closing its connections.
    Stop {
        /// Model id.
        model: String,
    },
    /// Open an echo client: the backend connects to the model's port on the viewer's behalf.
    EchoOpen {
        /// Model id.
        model: String,
    },
    /// Send a line through an echo client. The backend sends it as is (add `"\n"` if wanted).
    EchoSend {
        /// The echo client.
        client: u32,
        /// The text, at most [`MAX_ECHO_TEXT_BYTES`] bytes of UTF-8.
        text: String,
    },
    /// Close an echo client.
    EchoClose {
        /// The echo client.
        client: u32,
    },
    /// Start the lesson's computation: a backend thread (model [`LESSON_MODEL`]) that sums
    /// `0..10^8` again and again for `ms` milliseconds — a synchronous call that never
    /// blocks: the kernel sees it running or runnable (`R`), never asleep. It is recorded
    /// (`thread_spawned`, `work_done`, `thread_exited`) and sampled like a model thread. One
    /// at a time; `ms` from 1 to [`MAX_COMPUTE_MS`].
    Compute {
        /// How long to compute, in milliseconds.
        ms: u32,
    },
}

/// The model id the lesson's computation ([`Command::Compute`]) records under. Not a model:
/// it is in no list of models, and [`Command::Start`] does not know it.
pub const LESSON_MODEL: &str = "lesson";

/// The longest computation [`Command::Compute`] runs, in milliseconds.
pub const MAX_COMPUTE_MS: u32 = 5_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_id_is_unique_and_url_safe() {
        for (i, m) in MODELS.iter().enumerate() {
            assert!(m.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", m.id);
            assert!(MODELS[i + 1..].iter().all(|o| o.id != m.id), "{} twice", m.id);
        }
        assert_eq!(model("blocking").map(|m| m.figure), Some("Stevens Fig. 6.1"));
        assert!(model("no-such-model").is_none());
    }

    #[test]
    fn command_json_is_flat_with_an_op_tag() {
        let json = r#"{"id":7,"op":"echo_send","client":2,"text":"hello"}"#;
        let msg: ClientMsg = serde_json::from_str(json).unwrap();
        assert_eq!(
            msg,
            ClientMsg { id: 7, command: Command::EchoSend { client: 2, text: "hello".into() } }
        );
        assert_eq!(serde_json::to_string(&msg).unwrap(), json);
    }

    #[test]
    fn unknown_op_does_not_parse() {
        assert!(serde_json::from_str::<ClientMsg>(r#"{"id":1,"op":"format_disk"}"#).is_err());
    }

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
    fn a_kernel_view_names_each_file_read_or_unreadable() {
        let kind = EventKind::ThreadSample {
            cpu_ns: 1,
            conns: 0,
            syscalls: 2,
            kernel: Some(KernelView {
                state: ProcRead::Read("S".into()),
                syscall: ProcRead::Read(InSyscall::Call {
                    nr: 45,
                    name: Some("recvfrom".into()),
                    fd: Some(5),
                }),
                wchan: ProcRead::Read("wait_woken".into()),
                stack: ProcRead::Unreadable("EACCES".into()),
            }),
        };
        let json = serde_json::to_string(&kind).unwrap();
        assert!(json.contains(r#""state":{"read":"S"}"#), "{json}");
        assert!(json.contains(r#""syscall":{"read":{"in":"call","nr":45"#), "{json}");
        assert!(json.contains(r#""stack":{"unreadable":"EACCES"}"#), "{json}");
        assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        // A sample without the kernel's view (an older backend) still reads.
        let old = r#"{"type":"thread_sample","cpu_ns":1,"conns":0,"syscalls":2}"#;
        match serde_json::from_str::<EventKind>(old).unwrap() {
            EventKind::ThreadSample { kernel, .. } => assert_eq!(kernel, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_lesson_is_not_a_model() {
        assert!(model(LESSON_MODEL).is_none());
        let json = r#"{"id":1,"op":"compute","ms":2500}"#;
        let msg: ClientMsg = serde_json::from_str(json).unwrap();
        assert_eq!(msg.command, Command::Compute { ms: 2500 });
    }

    #[test]
    fn server_messages_carry_a_type_tag() {
        let msg =
            ServerMsg::Error { id: None, code: ErrorCode::BadRequest, reason: Reason::BinaryFrame };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(json.starts_with(r#"{"type":"error""#), "{json}");
        assert!(json.contains(r#""code":"bad_request""#), "{json}");
        assert!(json.contains(r#""reason":{"code":"binary_frame"}"#), "{json}");
    }
}
