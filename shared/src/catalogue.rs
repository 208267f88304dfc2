//! The model catalogue — every I/O model Kettle runs, the Stevens figure it acts out and its
//! lesson in English and Chinese — and how the API reports a model's state.

use serde::{Deserialize, Serialize};

use crate::{BuiltIn, Family, Reason};

/// A static description of one I/O model server: what the model list and the lesson panel show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelDescriptor {
    /// The model this describes.
    pub model: BuiltIn,
    /// Stable id used in URLs, the API and events (`"blocking"`): [`BuiltIn::id`].
    pub id: &'static str,
    /// Short English title.
    pub title: &'static str,
    /// Short Chinese title (the tutorial's wording).
    pub title_zh: &'static str,
    /// Which figure of Stevens, *UNIX Network Programming* vol. 1, ch. 6 this model is
    /// (`"Stevens Fig. 6.1"`): its [`Family::figure`].
    pub figure: &'static str,
    /// A few plain sentences for students, in English.
    pub lesson: &'static str,
    /// The same lesson in Chinese.
    pub lesson_zh: &'static str,
}

/// Every model Kettle runs, in teaching order: one entry per [`BuiltIn`], in the enum's
/// order (built from it, so the two cannot disagree). Only models with a real server are listed.
pub const MODELS: &[ModelDescriptor] = &{
    let all = BuiltIn::ALL;
    let mut out = [describe(BuiltIn::Blocking); <BuiltIn as strum::EnumCount>::COUNT];
    let mut i = 0;
    while i < all.len() {
        out[i] = describe(all[i]);
        i += 1;
    }
    out
};

/// A model's words: its titles and its lesson, in English and Chinese.
struct Texts {
    title: &'static str,
    title_zh: &'static str,
    lesson: &'static str,
    lesson_zh: &'static str,
}

/// The catalogue entry of `model`: its id and figure from the enum, its words from [`texts`].
const fn describe(model: BuiltIn) -> ModelDescriptor {
    let Texts { title, title_zh, lesson, lesson_zh } = texts(model);
    ModelDescriptor {
        model,
        id: model.id(),
        title,
        title_zh,
        figure: model.family().figure(),
        lesson,
        lesson_zh,
    }
}

/// What the model list and the lesson panel say about each model.
const fn texts(model: BuiltIn) -> Texts {
    match model {
        BuiltIn::Blocking => Texts {
            title: "Blocking I/O, one thread",
            title_zh: "阻塞IO模型(单线程)",
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
        BuiltIn::ThreadPerConn => Texts {
            title: "Blocking I/O, a thread per connection",
            title_zh: "阻塞IO模型(多线程:每个连接一个线程)",
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
        BuiltIn::ProcessPerConn => Texts {
            title: "Blocking I/O, a process per connection",
            title_zh: "阻塞IO模型(多进程:每个连接一个进程)",
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
        BuiltIn::ThreadPool => Texts {
            title: "Blocking I/O, a fixed pool of threads",
            title_zh: "阻塞IO模型(线程池)",
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
        BuiltIn::Nonblocking => Texts {
            title: "Non-blocking I/O, a busy loop",
            title_zh: "非阻塞IO模型",
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
        BuiltIn::Select => Texts {
            title: "I/O multiplexing: select",
            title_zh: "IO多路复用(select)",
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
        BuiltIn::Poll => Texts {
            title: "I/O multiplexing: poll",
            title_zh: "IO多路复用(poll)",
            lesson: "The same loop as select, waiting in poll: an array of (descriptor, events) \
                     instead of bitmaps, so there is no 1024 limit. The cost stays the same: every \
                     call passes every descriptor, and every entry is checked to find the few that \
                     are ready. Phase 1 is spent in poll; recv only copies.",
            lesson_zh: "与 select 相同的循环,只是阻塞在 poll 上:传入 (描述符, 事件) 数组而不是位图,\
                        因此没有 1024 的限制。代价不变:每次调用都要传入全部描述符,并逐个检查才能找到\
                        少数就绪的。阶段1在 poll 中等待,recv 只负责拷贝。",
        },
        BuiltIn::Epoll => Texts {
            title: "epoll, level-triggered",
            title_zh: "IO多路复用(epoll,水平触发)",
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
        BuiltIn::EpollEt => Texts {
            title: "epoll, edge-triggered",
            title_zh: "IO多路复用(epoll,边缘触发)",
            lesson: "With EPOLLET the kernel reports a socket only when it becomes ready — when new \
                 data arrives — not for as long as it stays ready. So after each report the server \
                 must drain: recv again and again until the kernel answers EAGAIN. Stopping early \
                 would leave bytes that no new report will ever announce.",
            lesson_zh: "设置 EPOLLET 后,内核只在套接字变为就绪(新数据到达)的那一刻报告一次,\
                    而不是只要就绪就一直报告。所以每次报告之后,服务器必须把数据读干净:\
                    反复 recv,直到内核返回 EAGAIN。提前停下,剩下的数据就再也不会被报告。",
        },
        BuiltIn::Reactor => Texts {
            title: "Reactor (selectors-style callbacks)",
            title_zh: "selectors 模块(回调)",
            lesson: "The tutorial's selectors server: each socket is registered with a callback \
                 (register(fd, EVENT_READ, read)), and the loop calls the callback of every ready \
                 socket. The accept callback registers a read callback for each new connection. \
                 Underneath it is epoll: the same system calls, organised as small handlers.",
            lesson_zh: "教程里的 selectors 服务器:每个套接字注册时带一个回调函数\
                    (register(fd, EVENT_READ, read)),循环对每个就绪的套接字调用它的回调。\
                    accept 回调为每个新连接注册 read 回调。底层仍是 epoll:系统调用相同,\
                    只是组织成一个个小的处理函数。",
        },
        BuiltIn::Sigio => Texts {
            title: "Signal-driven I/O",
            title_zh: "信号驱动IO模型",
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
        BuiltIn::IoUring => Texts {
            title: "Asynchronous I/O (io_uring)",
            title_zh: "异步IO模型(io_uring)",
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
        BuiltIn::PosixAio => Texts {
            title: "POSIX asynchronous I/O (aio_read)",
            title_zh: "异步IO模型(POSIX aio_read)",
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
    }
}

impl ModelDescriptor {
    /// The Stevens figure the model acts out.
    pub const fn family(&self) -> Family {
        self.model.family()
    }
}

/// Looks a model up by its stable id.
pub fn model(id: &str) -> Option<&'static ModelDescriptor> {
    BuiltIn::from_id(id).map(BuiltIn::descriptor)
}

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

/// One model as `GET /api/models` and [`ServerMsg::Hello`](crate::ServerMsg::Hello) report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// Stable id, as in [`ModelDescriptor::id`].
    pub id: String,
    /// English title.
    pub title: String,
    /// Chinese title.
    pub title_zh: String,
    /// The Stevens figure this model is (`"Stevens Fig. 6.3"`); empty for a traced program
    /// whose model is not recognised yet.
    pub figure: String,
    /// The same figure, typed: what the page draws. `None` for a traced program not
    /// recognised yet; a traced program's family can change while it runs.
    pub family: Option<Family>,
    /// The TCP port the model listens on while running; the configured port otherwise
    /// (`None` when it will be chosen by the kernel at start). For a traced program, the
    /// first port it listened on.
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    /// Every TCP port a traced program listens on, in the order it called `listen(2)` (the
    /// page lets one pick); empty for a built-in model, which listens on `port` only.
    pub ports: Vec<u16>,
    /// The command line of a traced program (also its title); `None` for a built-in model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Running, stopped or unavailable.
    pub state: ModelState,
    /// Why the model is unavailable or why it last stopped unexpectedly; `None` otherwise.
    pub reason: Option<Reason>,
    /// A traced program too busy to be stopped at each call: Kettle reads its calls from the
    /// kernel's tracepoints instead (as root), so its waits are counted, not drawn, until it
    /// calms down. Always `false` for a built-in model.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passive: bool,
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    ModelInfo { id, title, title_zh, figure, family, port, state, reason; or_default ports, command, passive }
}

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
}
