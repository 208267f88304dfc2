//! Every string of the page, in English and Chinese, in one table.
//!
//! Strings are looked up by [`Key`]: a missing key is a compile error, and a key without
//! both languages fails the unit test below, so nothing reaches the projector half
//! translated. Strings with values in them are templates with positional placeholders,
//! `{0}`, `{1}`…, filled by [`tf`]; each language may order them as its grammar wants, and
//! the test checks both use the same placeholders. System call names (`recv`, `epoll_wait`)
//! and errno names stay as in the man pages in both languages. Lessons and model titles come
//! from `kettle_shared::MODELS`, not from here.

use std::fmt::Display;

use kettle_shared::ModelState;

/// The page language; `L` or the header button toggles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English.
    #[default]
    En,
    /// Simplified Chinese, the tutorial's language.
    Zh,
}

impl Lang {
    /// The other language.
    pub fn toggled(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// The value of `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }
}

/// Declares [`Key`], [`Key::ALL`] and the table from one list, so a key and its two
/// translations are always written together.
macro_rules! table {
    ($($key:ident => $en:expr, $zh:expr;)*) => {
        /// A string of the page.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[allow(missing_docs)]
        pub enum Key { $($key,)* }

        impl Key {
            /// Every key, for the test that both languages are there.
            pub const ALL: &'static [Key] = &[$(Key::$key,)*];
        }

        fn entry(key: Key) -> (&'static str, &'static str) {
            match key { $(Key::$key => ($en, $zh),)* }
        }
    };
}

table! {
    // -- the page ---------------------------------------------------------------------------
    Tagline => "Linux I/O models, live", "Linux I/O 模型,实时演示";
    SwitchLanguage => "中文", "English";
    Connecting => "connecting", "正在连接";
    Connected => "connected", "已连接";
    Reconnecting => "reconnecting", "正在重连";
    VersionMismatch =>
        "This page speaks Kettle protocol version {0}, the server speaks version {1}. Reload the page or rebuild: what you see may be wrong.",
        "本页面使用 Kettle 协议第 {0} 版,服务器使用第 {1} 版。请刷新页面或重新构建:显示的内容可能不正确。";
    Presenter => "Presenter", "演示模式";
    PresenterHelp =>
        "F: presenter mode (the stage only: figure, code, narration and one echo line, in large type)",
        "F:演示模式(只显示舞台:示意图、代码、解说和一行回显输入,大字号)";
    SkipToStage => "Skip to the figure", "跳到示意图";
    ThemeToLight => "Light theme (for a bright room)", "浅色主题(适合明亮的教室)";
    ThemeToDark => "Dark theme", "深色主题";
    KeysTitle => "Keyboard shortcuts", "键盘快捷键";
    FamilyBlocking => "Blocking", "阻塞";
    FamilyNonblocking => "Non-blocking", "非阻塞";
    FamilyMultiplex => "Multiplexing", "多路复用";
    FamilySignal => "Signal-driven", "信号驱动";
    FamilyAsync => "Asynchronous", "异步";
    StartModel => "Start {0}", "启动 {0}";
    StopModel => "Stop {0}", "停止 {0}";
    SideColumn => "The step: narration and code", "当前这一步:解说与代码";
    SideTabs => "What the column shows under the narration", "解说下方显示的内容";
    SideCode => "Code", "代码";
    SideClients => "Clients", "客户端";
    SideClientsCount => "Clients ({0})", "客户端({0})";
    SideLoad => "Load", "负载";
    SideThreads => "Threads", "线程";
    SideLog => "Log", "日志";
    EchoOnStage => "The echo client on the stage", "舞台上的回显客户端";
    EchoMore => "{0} more", "另外 {0} 个";
    EchoMoreHelp => "Show every echo client in the side column", "在侧栏中显示所有回显客户端";
    EchoOthersHelp =>
        "The client on the stage is under the figure; here are the others.",
        "舞台上的客户端在示意图下方;这里是其余的客户端。";
    EchoNoOthers => "No other echo client.", "没有其他回显客户端。";
    EchoInputLabel => "Line to send through client #{0} to {1}", "通过客户端 #{0} 发给 {1} 的一行";
    EchoReplies => "Replies", "回复";
    EchoPlaceholderOn => "#{0} → {1}: type a line, Enter", "#{0} → {1}:输入一行,回车发送";
    EchoTracedPort => "Port of the traced program to connect to", "要连接的被跟踪程序端口";
    EchoPortOption => "port {0}", "端口 {0}";
    EchoOpenHint => "＋ opens an echo client on the chosen model", "点 ＋ 在所选模型上打开一个回显客户端";
    JumpEchoShort => "↩", "↩";
    Models => "I/O models", "I/O 模型";
    Port => "port {0}", "端口 {0}";
    PortChosenAtStart => "port chosen at start", "启动时分配端口";
    Start => "Start", "启动";
    Stop => "Stop", "停止";
    Lesson => "Lesson", "讲解";
    NoModelSelected => "Select a model to see its lesson.", "选择一个模型查看讲解。";
    Echo => "Echo clients", "回显客户端";
    EchoTarget => "Model", "模型";
    OpenClient => "Open client", "打开客户端";
    NoRunningModel => "no model is running", "没有正在运行的模型";
    EchoPlaceholder => "type a line, Enter sends", "输入一行文字,回车发送";
    Send => "Send", "发送";
    CloseClient => "Close", "关闭";
    Remove => "Remove", "移除";
    ClientOpening => "connecting…", "正在连接…";
    ClientWaitingInBacklog =>
        "connected: waiting in the listen backlog — the server has not called accept for it yet",
        "已连接:正在监听队列(backlog)中等待 —— 服务器还没有为它调用 accept";
    ClientAccepted => "accepted by the server", "已被服务器 accept";
    ClientQueued =>
        "accepted, waiting in the pool's queue: every worker is busy",
        "已被 accept,正在线程池队列中等待:所有工作线程都在忙";
    ClientClosed => "closed: {0}", "已关闭:{0}";
    ClosedByYou => "closed by you", "由你关闭";
    KettleConnectionLost => "the page lost its connection to Kettle", "页面与 Kettle 的连接已断开";
    Errors => "Errors", "错误";
    Dismiss => "Dismiss", "关闭";
    EventLog => "Event log", "事件日志";
    AllModels => "all models", "所有模型";
    DroppedByBackend => "lost on the way (sequence gaps)", "传输中丢失(序号缺口)";
    TrimmedLocally => "trimmed from this page", "本页面已清除";
    UnreadableEvents => "unreadable (newer protocol)", "无法识别(协议更新)";
    NoEvents => "No events yet.", "还没有事件。";
    EventsShown => "events shown", "条事件";
    Playback => "Playback", "回放";
    Speed => "Speed", "速度";
    Pause => "Pause", "暂停";
    Play => "Play", "播放";
    StepOne => "Step", "单步";
    Live => "Live", "最新";
    KeyHelp =>
        "Space pause/play · ← → step back/forward · + / - speed · L language · F presenter",
        "空格 暂停/播放 · ← → 后退/单步 · + / - 调速 · L 切换语言 · F 演示模式";
    Threads => "Threads (sampled every {0} ms)", "线程(每 {0} 毫秒采样)";
    Thread => "thread", "线程";
    CpuShare => "CPU", "CPU 占用";
    Conns => "connections", "连接数";
    Syscalls => "system calls", "系统调用次数";
    BurningACore => "burning a whole core", "占满了一个 CPU 核";
    NoThreadSamples => "no samples yet — start the model", "还没有采样——请先启动模型";

    // -- the figure -------------------------------------------------------------------------
    FigureTitle => "Stevens Fig. {0} — {1}", "Stevens 图 {0} —— {1}";
    FigureShort => "Stevens Fig. {0}", "Stevens 图 {0}";
    // -- a traced program (`kettle trace -- PROGRAM`) ----------------------------------------
    TracedBadge => "traced", "跟踪";
    TracedBadgeTitle =>
        "A program of your own, run by kettle trace and watched through its system calls",
        "你自己的程序,由 kettle trace 运行,通过它的系统调用观察";
    RestartModel => "Restart {0}", "重新启动 {0}";
    TracedExited => "exited (code {0})", "已退出(退出码 {0})";
    TracedKilled => "killed by {0}", "被 {0} 杀死";
    FamilyNotRecognised => "Not recognised yet", "尚未识别";
    FigureNotKnown => "figure not recognised yet", "示意图尚未识别";
    LessonTraced =>
        "Kettle runs this program and watches its system calls; it draws the program as the Stevens figure its calls show, and draws it again as another if the program changes its way of serving.",
        "Kettle 运行这个程序并观察它的系统调用;程序的调用表明它属于哪幅 Stevens 示意图,就按哪幅图画出它;如果程序换了服务方式,就改画另一幅。";
    TracedFigureTitle => "The traced program", "被跟踪的程序";
    FigureNotRecognised =>
        "Watching the program's calls (steps so far: {0}): not recognised yet. Its figure is drawn as soon as its calls show which I/O model it uses.",
        "正在观察程序的系统调用(目前已有 {0} 步):还没有识别出来。一旦它的调用表明所用的 I/O 模型,就会画出对应的示意图。";
    FigureWhy => "Drawn as Fig. {0} because {1}", "按图 {0} 绘制,因为 {1}";
    FigureWhyForgotten =>
        "Drawn as Fig. {0}: Kettle recognised it from the program's calls (the step that decided is no longer kept)",
        "按图 {0} 绘制:Kettle 根据程序的系统调用识别出了它(作出判断的那一步已不再保留)";
    EvidenceBlocking => "{0}(2) blocked {1} on {2}", "{0}(2) 在 {2}上阻塞了 {1}";
    EvidenceBusyLoop => "{0}(2) returned EAGAIN {1}", "{0}(2) 返回 EAGAIN {1}";
    EvidenceMultiplex => "{0}(2) was called {1}", "{0}(2) 被调用了 {1}";
    EvidenceSignal => "{0} was delivered {1}", "{0} 被递送了 {1}";
    EvidenceAsync => "{0}(2) was called {1}", "{0}(2) 被调用了 {1}";
    TimesOnce => "once", "1 次";
    TimesMany => "{0} times", "{0} 次";
    ThreadsOne => "1 thread", "1 个线程";
    ThreadsMany => "{0} threads", "{0} 个线程";
    StepRecognised => "recognised as Fig. {0}: {1}", "识别为图 {0}:{1}";
    NarrRecognised =>
        "Kettle recognises the program as Stevens Fig. {0} ({1}): {2}. From this step on it is drawn as that figure.",
        "Kettle 识别出这个程序属于 Stevens 图 {0}({1}):{2}。从这一步起按这幅图绘制。";
    Fig61 => "blocking I/O: the thread sleeps through both phases", "阻塞 IO:线程在两个阶段都在睡眠";
    Fig62 => "non-blocking I/O: ask again and again", "非阻塞 IO:一遍又一遍地询问";
    Fig63 => "I/O multiplexing: sleep in the readiness call, then copy", "IO 多路复用:在就绪调用中睡眠,然后拷贝";
    Fig64 => "signal-driven I/O: told when to read", "信号驱动 IO:数据来了再通知你去读";
    Fig65 => "asynchronous I/O: told when it is done", "异步 IO:做完了再通知你";
    Fig66 => "the models side by side, from one line", "同一行数据,各模型并排对比";
    Application => "application", "应用程序";
    Kernel => "kernel", "内核";
    NoStepsYet =>
        "No steps of this model yet: start it and open an echo client.",
        "这个模型还没有步骤:启动它并打开一个回显客户端。";
    WaitForData => "wait for data", "等待数据";
    CopyData => "copy to user", "拷贝到用户空间";
    BothPhases => "both, in read()", "两阶段都在 read()";
    KernelCopies => "kernel copies", "内核拷贝";
    StillWaiting => "waiting…", "等待中…";
    StillCopying => "copying…", "拷贝中…";
    AlreadyThere => "0: already there", "0:数据早已到达";
    Unknown => "not measured", "未测得";
    Compressed => "compressed", "已压缩";
    ProcessBlocksIn => "blocked in {0}", "阻塞于 {0}";
    LaneAsleepIn => "asleep in {0}", "睡在 {0} 中";
    LaneRunning => "running", "运行中";
    LaneExited => "exited", "已结束";
    LaneHelper => "glibc helper (seen in /proc)", "glibc 辅助线程(从 /proc 看到)";
    LaneCpu => "{0} % CPU", "CPU {0}%";
    LaneStack => "stack {0}", "栈 {0}";
    MoreLanes => "+{0} more threads", "另有 {0} 个线程";
    Housekeeping => "wake-ups to check for a stop (faint ticks)", "为检查是否停止而醒来(淡色刻度)";

    // -- steps: what each row of a figure says ----------------------------------------------
    StepListen => "listen({0}, backlog {1})", "listen({0},backlog {1})";
    StepStopped => "model stopped: {0}", "模型已停止:{0}";
    StepThreadStarted => "thread starts", "线程启动";
    StepThreadExited => "thread exits", "线程结束";
    StepSleepsOnQueue => "sleeps on the empty queue", "在空队列上睡眠";
    StepThreadBlocked => "sleeps in {0}", "在 {0} 中睡眠";
    StepThreadWoken => "woken: {0}", "被唤醒:{0}";
    StepAcceptReturned => "return fd {0} ({1})", "返回 fd {0}({1})";
    StepReturnErr => "return {0}", "返回 {0}";
    StepDataArrived => "data arrives (fd {0})", "数据到达(fd {0})";
    StepDataArrivedFromClient =>
        "data arrives (fd {0}): stamped as Kettle's client sent it, on loopback",
        "数据到达(fd {0}):取自 Kettle 客户端发送时的内核时间戳(回环)";
    StepDataArrivedKernelReady =>
        "data arrives (fd {0}): the kernel's sk_data_ready for the program's socket",
        "数据到达(fd {0}):内核为程序的 socket 触发 sk_data_ready";
    TracedArrivalKernelNote =>
        "Arrival: the kernel's own word — the sk_data_ready tracepoint fired for the program's socket (Kettle runs as root).",
        "到达时刻:内核自己的记录——sk_data_ready 跟踪点为程序的 socket 触发(Kettle 以 root 运行)。";
    TracedPassiveNote =>
        "Busy: Kettle now reads this program's calls from the kernel instead of stopping it at each one, so it runs at full speed. Its waits are counted, not drawn, until it calms down; followed connections are still drawn.",
        "繁忙:Kettle 现在从内核读取这个程序的系统调用,而不是在每次调用时让它停下,所以它全速运行。在它平静下来之前,它的等待只计数、不绘制;被跟踪的连接仍会绘制。";
    TracedArrivalNote =>
        "Arrival: when Kettle's echo client sent the line (its kernel's send stamp; on loopback the bytes are in the program's socket microseconds later). Lines from other clients: phase 1 not measured.",
        "到达时刻:取 Kettle 回显客户端发送这一行的时刻(其内核的发送时间戳;在回环上,数据几微秒后就进入程序的 socket)。来自其他客户端的行:第一阶段不测量。";
    StepRecvData => "return {0} bytes \"{1}\"", "返回 {0} 字节 “{1}”";
    StepRecvEof => "return 0: peer closed", "返回 0:对端已关闭";
    StepSend => "send(fd {0}, {1} bytes)", "send(fd {0},{1} 字节)";
    StepSent => "return {0}", "返回 {0}";
    StepClose => "close(fd {0}): {1}", "close(fd {0}):{1}";
    StepRefused => "refused: {0}", "拒绝:{0}";
    StepWait => "{0}({1} fds)", "{0}({1} 个描述符)";
    StepWaitReturned => "return {0} ready: {1}", "返回 {0} 个就绪:{1}";
    StepWaitNothing => "return: nothing ready", "返回:没有就绪的";
    StepSigaction => "sigaction({0}, handler)", "sigaction({0},处理函数)";
    StepSignal => "deliver {0}: fd {1}", "递送 {0}:fd {1}";
    StepSignalNoFd => "deliver {0}: which fd is not said", "递送 {0}:未指明是哪个 fd";
    StepSqe => "SQE {0} fd {1}, no syscall", "写 SQE:{0} fd {1},非系统调用";
    StepAioRead => "aio_read(fd {0}) returns at once", "aio_read(fd {0}) 立即返回";
    StepCqe => "reap CQE: {0}(fd {1}) = {2}", "取出 CQE:{0}(fd {1})= {2}";
    StepAioDone => "callback: {1} B in buffer (fd {0})", "回调:缓冲区已有 {1} 字节(fd {0})";
    StepRingEnter => "io_uring_enter(submit {0}, wait {1})", "io_uring_enter(提交 {0},等待 {1})";
    StepRingExit => "return: {0} CQEs", "返回:{0} 个 CQE";
    StepRingTimeout => "return: timeout", "返回:超时";
    StepEagain => "{0} × {1} → EAGAIN", "{0} × {1} → EAGAIN";
    StepEagainRate => "{0} × {1} → EAGAIN, {2}/s", "{0} × {1} → EAGAIN,每秒 {2} 次";
    StepWork => "continues executing ({0} units)", "继续执行({0} 个单位)";
    StepEpollCtl => "epoll_ctl({0}, fd {1}) {2}", "epoll_ctl({0},fd {1}){2}";
    StepRegister => "register(fd {0}, {1}, {2})", "注册(fd {0},{1},{2})";
    StepUnregister => "unregister(fd {0})", "注销(fd {0})";
    StepCallback => "call {0}(fd {1})", "调用回调 {0}(fd {1})";
    StepQueued => "queue fd {0}: {1} waiting", "fd {0} 放入队列:{1} 个在等";
    StepDequeued => "take fd {0}, queued {1}", "取出 fd {0},排队 {1}";
    StepChildSpawned => "child pid {0} serves fd {1}", "子进程 pid {0} 服务 fd {1}";
    StepChildReaped => "waitpid: pid {0}, {1}", "waitpid:pid {0},{1}";
    StepSeenInSyscall => "seen asleep in {0}(fd {1})", "看到它睡在 {0}(fd {1}) 中";
    LogSample => "CPU {0} · {1} connections · {2} system calls", "CPU {0} · {1} 个连接 · {2} 次系统调用";
    LogClientConnected => "echo client #{0} connected to {1} from {2}", "回显客户端 #{0} 从 {2} 连接到 {1}";
    LogClientSent => "echo client #{0} sent {1} bytes", "回显客户端 #{0} 发送 {1} 字节";
    LogClientReceived => "echo client #{0} received {1} bytes", "回显客户端 #{0} 收到 {1} 字节";
    LogClientClosed => "echo client #{0} closed: {1}", "回显客户端 #{0} 已关闭:{1}";
    ClosePeerClosed => "peer closed", "对端关闭";
    CloseReset => "reset", "连接被重置";
    CloseError => "error", "出错";
    CloseRefused => "refused", "拒绝";
    CloseStopped => "model stopped", "模型已停止";

    // -- the kernel's (and user space's) state beside the figure ----------------------------
    InKernel => "kernel", "内核";
    InUserSpace => "user space", "用户空间";
    InSharedMemory => "shared memory", "共享内存";
    Empty => "empty", "空";
    WBacklog => "listen backlog", "监听队列 backlog";
    WBacklogNote => "{0} of {1} (TCP_INFO)", "{0}/{1}(TCP_INFO)";
    WBacklogItem => "waits for accept", "等待 accept";
    WBuffers => "receive buffers", "接收缓冲区";
    WBufferItem => "fd {0}: {1} B", "fd {0}:{1} 字节";
    WBufferEmpty => "fd {0}: empty", "fd {0}:空";
    WNoConnection => "no connection", "没有连接";
    WQueue => "pool queue", "线程池队列";
    WQueueItem => "fd {0}: {1}", "fd {0}:{1}";
    WQueueWaited => "last one waited {0}", "上一个等了 {0}";
    WChildren => "child processes", "子进程";
    WChildItem => "pid {0}", "pid {0}";
    WFdSet => "fd set handed to {0}", "传给 {0} 的描述符集合";
    WScanned => "{0} entries scanned", "扫描了 {0} 项";
    WReady => "ready set returned", "返回的就绪集合";
    WInterest => "interest list (epoll_ctl)", "兴趣列表(epoll_ctl)";
    WReadyList => "ready list", "就绪列表";
    WEdgeNote => "edge-triggered: reported once, then drain to EAGAIN", "边缘触发:只报告一次,然后读到 EAGAIN 为止";
    WRegistry => "selector registry", "selector 注册表";
    WRegistryItem => "fd {0} → {1}()", "fd {0} → {1}()";
    WSignal => "signal for this thread", "发给该线程的信号";
    WSignalItem => "{0}, si_fd {1}", "{0},si_fd {1}";
    WSignalNone => "none yet: the thread works", "还没有:线程在做自己的事";
    WSq => "submission queue (SQ)", "提交队列(SQ)";
    WCq => "completion queue (CQ)", "完成队列(CQ)";
    WInFlight => "requests in the kernel", "内核中的请求";
    WRingItem => "{0} fd {1}", "{0} fd {1}";
    WCqItem => "{0} fd {1} = {2}", "{0} fd {1} = {2}";
    WAioRequests => "aio_read requests (glibc)", "aio_read 请求(glibc)";

    // -- the kernel's words: /proc samples on lanes; reasons from the backend ------------
    // reasons from the backend (`kettle_shared::Reason`, worded by `crate::reasons`)
    RStoppedOnRequest => "stopped on request", "按请求停止";
    RServerReturned => "the server returned by itself", "服务器函数自行返回了";
    RSyscallFailed => "{0} failed: {1}", "{0} 失败:{1}";
    RServerFailed => "the server failed", "服务器出错";
    RServerFailedErrno => "the server failed: {0}", "服务器出错:{0}";
    RPanicked =>
        "thread {0} panicked: a bug in Kettle (its terminal says more)",
        "线程 {0} 崩溃了:这是 Kettle 的缺陷(详见运行它的终端)";
    RConnectionQueued => "a connection was queued", "有连接放进了队列";
    RNoWorkers => "not one worker thread could be created", "一个工作线程也创建不了";
    RKernelRefused => "the kernel refused {0}: {1}", "内核拒绝了 {0}:{1}";
    RIoUringOpMissing => "this kernel's io_uring cannot do {0}", "这个内核的 io_uring 不支持 {0} 操作";
    RCannotListen => "cannot listen on port {0}: {1}", "无法在端口 {0} 上监听:{1}";
    RProgramExited => "the traced program ended: {0}", "被跟踪的程序已结束:{0}";
    RNeverListened =>
        "the program has run for {0} s without listening on any TCP port: Kettle can only draw a server it can connect to",
        "程序已运行 {0} 秒,仍没有在任何 TCP 端口上监听:Kettle 只能画出能连接上的服务器";
    RProgramNotFound =>
        "{0} could not be started: there is no such program ({1}); check its name, its path and PATH",
        "无法启动 {0}:没有这个程序({1});请检查它的名字、路径和 PATH";
    RProgramNotExecutable =>
        "{0} could not be started: it is not executable ({1}); make it so with chmod +x, or run it through its interpreter",
        "无法启动 {0}:它不可执行({1});用 chmod +x 加上执行权限,或者通过它的解释器来运行";
    RProgramNotRunnable =>
        "{0} could not be started: execve failed with {1}",
        "无法启动 {0}:execve 失败,返回 {1}";
    RCannotTraceScope3 =>
        "the kernel forbids all tracing: {0} failed with {1} because /proc/sys/kernel/yama/ptrace_scope is {2}, which nothing but a reboot undoes",
        "内核禁止一切跟踪:{0} 失败,返回 {1},因为 /proc/sys/kernel/yama/ptrace_scope 为 {2},只有重启才能解除";
    RCannotTraceScope =>
        "the kernel would not let Kettle trace the program: {0} failed with {1} (/proc/sys/kernel/yama/ptrace_scope is {2}); give Kettle CAP_SYS_PTRACE (in a container: docker run --cap-add SYS_PTRACE) or lower /proc/sys/kernel/yama/ptrace_scope",
        "内核不允许 Kettle 跟踪这个程序:{0} 失败,返回 {1}(/proc/sys/kernel/yama/ptrace_scope 为 {2});请给 Kettle CAP_SYS_PTRACE 权限(在容器中:docker run --cap-add SYS_PTRACE),或者调低 /proc/sys/kernel/yama/ptrace_scope";
    RCannotTrace =>
        "the kernel would not let Kettle trace the program: {0} failed with {1}; give Kettle CAP_SYS_PTRACE (in a container: docker run --cap-add SYS_PTRACE)",
        "内核不允许 Kettle 跟踪这个程序:{0} 失败,返回 {1};请给 Kettle CAP_SYS_PTRACE 权限(在容器中:docker run --cap-add SYS_PTRACE)";
    ROutOfDescriptors =>
        "out of descriptors ({0}): accept again in {1} ms",
        "文件描述符用完了({0}):{1} 毫秒后再 accept";
    RAboveFdSetSize =>
        "fd {0} is not below FD_SETSIZE ({1}): select cannot watch it",
        "fd {0} 不小于 FD_SETSIZE({1}):select 无法监视它";
    RThreadCapReached => "{0} connection threads already running", "已有 {0} 个连接线程在运行";
    RProcessCapReached => "{0} child processes already running", "已有 {0} 个子进程在运行";
    RQueueFull => "the queue is full ({0} connections wait)", "队列已满({0} 个连接在等)";
    RCannotCreateThread => "the kernel would not create a thread: {0}", "内核无法创建线程:{0}";
    RCannotCreateWorker => "the kernel would not create worker {0}: {1}", "内核无法创建第 {0} 个工作线程:{1}";
    RCannotCreateProcess => "the kernel would not create a process: {0}", "内核无法创建进程:{0}";
    RAioQueueFailed =>
        "aio_read failed ({0}): glibc could not queue the read",
        "aio_read 失败({0}):glibc 无法把这次读操作排入队列";
    RAioUnfinished => "{0} aio reads had not completed after the stop", "停止后仍有 {0} 个 aio 读操作没有完成";
    RServerClosed => "the server closed the connection", "服务器关闭了连接";
    RClosedByPage => "closed by the page", "由页面关闭";
    RPageWentAway => "the page went away", "页面已离开";
    RConnectionError => "connection error: {0}", "连接出错:{0}";
    RNoSuchModel => "no model is called “{0}”", "没有名为“{0}”的模型";
    RNoSuchClient => "this page has no echo client #{0}", "本页面没有回显客户端 #{0}";
    RNotRunning => "{0} is not running; start it first", "{0} 没有在运行,请先启动它";
    RTooManyClients => "at most {0} echo clients per page", "每个页面最多 {0} 个回显客户端";
    RLineTooLong => "a line may be at most {0} bytes", "一行最多 {0} 字节";
    RClientAlreadyClosed => "echo client #{0} is already closed", "回显客户端 #{0} 已经关闭";
    RConnectFailed => "cannot connect to {0} at {1}: {2}", "无法连接到 {0}({1}):{2}";
    RConnectTimedOut => "connecting to {0} at {1} took over {2}", "连接 {0}({1})超过了 {2}";
    RSendFailed => "echo client #{0} could not send: {1}", "回显客户端 #{0} 发送失败:{1}";
    RSendTimedOut =>
        "echo client #{0}: the server has not read for {1}",
        "回显客户端 #{0}:服务器已经 {1} 没有读取数据";
    RBinaryFrame => "commands must be JSON text frames", "命令必须是 JSON 文本帧";
    RUnknownOp => "unknown op “{0}”; known: {1}", "未知的操作“{0}”;已知的有:{1}";
    RNotACommand => "not a valid command", "不是有效的命令";
    RHostNotAllowed => "Host {0} is not this Kettle server", "Host {0} 不是这台 Kettle 服务器";
    ROriginNotAllowed =>
        "Origin {0} may not command this server (see --allow-origin)",
        "Origin {0} 无权控制这台服务器(见 --allow-origin)";
    RTooManyViewers =>
        "this server already has {0} viewers, its most; try again later",
        "这台服务器已有 {0} 个观看者,已达上限;请稍后再试";
    RTooManyRelayedConnections =>
        "this server relays at most {0} echo connections over all its pages",
        "这台服务器为所有页面合计最多转发 {0} 个回显连接";
    RTooManyCommands =>
        "too many commands: at most {0} per second; this one was not carried out",
        "命令太多:每秒最多 {0} 条;这一条没有执行";
    RTooManyInFlight =>
        "{0} commands of this page are still running; wait for their answers",
        "本页面已有 {0} 条命令仍在执行;请等待它们的结果";
    RLifecycleBusy =>
        "models are being started or stopped ({0} at once); waited {1} for a turn",
        "正在启动或停止模型(同时最多 {0} 个);已等待 {1} 仍未轮到";
    RTeacherOnly => "only the teacher can {0}", "只有老师可以{0}";
    RTokenRefused =>
        "this tab's teacher link is not this server's (it was restarted and printed a new one): here you are a student",
        "这个标签页的老师链接不属于这台服务器(它重启后打印了新的链接):你在这里是学生";
    OnlyTeacherStart => "start models", "启动模型";
    OnlyTeacherStop => "stop models", "停止模型";
    OnlyTeacherLoad => "start or stop a load", "启动或停止负载";
    OnlyTeacherExperiment => "run experiments", "运行实验";
    OnlyTeacherCompute => "start the lesson's computation", "启动讲解中的计算";
    OnlyTeacherFollowMe => "lead the class (Follow me)", "带领全班(跟我看)";
    ChildExited => "exit status {0}", "退出状态 {0}";
    ChildKilled => "killed by {0}", "被 {0} 杀死";
    ChildWaitFailed => "waitpid failed: {0}", "waitpid 失败:{0}";
    CmdSubscribe => "subscribe", "订阅";
    CmdFollowMe => "follow me", "跟我看";
    RoleTeacher => "Teacher", "老师";
    RoleStudent => "Student", "学生";
    RoleHelp =>
        "Classroom mode: the teacher starts, stops and leads; students watch, choose what to watch and open echo clients",
        "课堂模式:老师启动、停止并带领全班;学生观看、自己选择看什么,并可打开回显客户端";
    FollowMe => "Follow me", "跟我看";
    FollowMeHelp =>
        "Students' pages show what yours shows: the model, the panel and the step",
        "学生的页面显示你的页面正在显示的内容:模型、面板和步骤";
    Following => "Following the teacher", "正在跟随老师";
    FollowStop => "Look on my own", "自己看";
    FollowTeacher => "Follow the teacher", "跟随老师";
    CmdSpotlight => "follow connections of {0}", "跟随 {0} 的连接";
    CmdLoadStart => "start a load on {0}", "在 {0} 上启动负载";
    CmdLoadStop => "stop the load", "停止负载";
    CmdExperimentRun => "run the experiment {0}", "运行实验 {0}";
    CmdStart => "start {0}", "启动 {0}";
    CmdStop => "stop {0}", "停止 {0}";
    CmdEchoOpen => "open an echo client to {0}", "打开连接 {0} 的回显客户端";
    CmdEchoSend => "send on echo client #{0}", "通过回显客户端 #{0} 发送";
    CmdEchoClose => "close echo client #{0}", "关闭回显客户端 #{0}";
    ErrorOfCommand => "{0}: {1}", "{0}:{1}";
    NotConnected => "the page is not connected to Kettle", "页面没有连接到 Kettle";
    CannotOpenSocket => "the page cannot open {0}", "页面无法打开 {0}";
    GarbledBinary => "Kettle sent a binary frame, not a protocol message", "Kettle 发来了二进制帧,而不是协议消息";
    GarbledText => "a message from Kettle could not be read", "无法读取来自 Kettle 的一条消息";
    BrowserRefusedSend => "the browser refused to send a command", "浏览器拒绝发送命令";
    KernelNow => "now: {0}", "此刻:{0}";
    KernelRunning => "running ({0})", "正在运行({0})";
    KernelRunningIn => "in {0}, running or runnable (R)", "在 {0} 中,正在运行或等待 CPU(R)";
    KernelAsleepAt => "asleep in the kernel at {0} ({1})", "在内核中睡眠,位置 {0}({1})";
    KernelInCallAsleepAt => "in {0}, asleep in the kernel at {1} ({2})", "在 {0} 中,睡在内核的 {1}({2})";
    KernelInCallAsleep => "in {0}, asleep ({1})", "在 {0} 中睡眠({1})";
    KernelAsleep => "asleep ({0})", "睡眠中({0})";
    KernelState => "kernel state {0}", "内核状态 {0}";
    KernelStateIn => "kernel state {0}, in {1}", "内核状态 {0},在 {1} 中";
    KernelFrameIn => "{0} in {1}", "{1} 里的 {0}";
    KernelCallFd => "{0}(fd {1})", "{0}(fd {1})";
    KernelCallNr => "system call {0}", "系统调用 {0}";
    KernelUnreadable => "{0} unreadable: {1}", "{0} 无法读取:{1}";
    KernelSays => "the kernel says (/proc)", "内核怎么说(/proc)";
    KernelSaysTitle =>
        "What /proc/self/task/<tid>/ says now: stat (state letter), syscall, wchan, stack",
        "/proc/self/task/<tid>/ 此刻的内容:stat(状态字母)、syscall、wchan、stack";
    Definitions => "Words the tutorial defines, shown live", "教程里的几个概念,现场演示";
    DefSyncTitle => "Synchronous or asynchronous: about the call", "同步还是异步:说的是调用";
    DefSyncText =>
        "A synchronous call gives its result back when it returns, so the caller waits for it, whichever way the waiting is done. An asynchronous call only hands the work over; later the kernel tells the caller it is finished, and the data is already in the caller's buffer.",
        "同步调用在返回时交回结果,所以调用者要等它,不管用哪种方式等。异步调用只是把工作交出去;之后由内核告诉调用者已经完成,数据已经在调用者的缓冲区里了。";
    DefSyncPoint => "light the results coming back", "在图中标出结果的返回";
    DefBlockTitle => "Blocking or non-blocking: about the thread", "阻塞还是非阻塞:说的是线程";
    DefBlockText =>
        "A blocked thread is suspended by the kernel: it sleeps, uses no CPU, and runs again only when something wakes it. A non-blocking call returns at once, with EAGAIN when nothing is ready, so the thread keeps running and must ask again.",
        "被阻塞的线程由内核挂起:它睡眠、不占用 CPU,直到被唤醒才再运行。非阻塞调用立即返回,没有就绪时返回 EAGAIN,所以线程一直在运行,只能一遍遍再问。";
    DefBlockPoint => "light where threads sleep", "在图中标出线程睡眠之处";
    DefPhasesTitle => "The two phases of an input", "一次输入的两个阶段";
    DefPhasesText =>
        "Phase 1, wait for data: nothing has arrived, and the kernel waits for the network. Phase 2, copy to user: the data is in the kernel and is copied into the application's buffer. The I/O models differ in which of the two the thread spends waiting.",
        "阶段1,等待数据:数据还没到,内核在等网络。阶段2,拷贝到用户空间:数据已在内核中,被拷贝进应用程序的缓冲区。各种 IO 模型的区别,就在于线程在哪个阶段里等。";
    DefPhasesPoint => "light the two phases", "在图中标出两个阶段";
    DefPointOff => "stop lighting", "取消标出";
    ContrastTitle => "Synchronous, yet not blocked", "同步,却不阻塞";
    ContrastText =>
        "The tutorial's example: a long computation is a synchronous call (its caller waits for the sum), yet its thread never sleeps: the kernel shows it R, running or waiting for a CPU. A thread blocked in recv is asleep in the kernel. Both below are real threads, as the kernel reports them now.",
        "教程里的例子:一段很长的计算是同步调用(调用者要等结果),但它的线程从不睡眠:内核显示它是 R,正在运行或等待 CPU。阻塞在 recv 里的线程则在内核中睡眠。下面两个都是真实的线程,显示的是内核此刻的报告。";
    ContrastCompute => "A computation (sum 0..10⁸, again and again)", "一段计算(反复求 0..10⁸ 的和)";
    ContrastComputeStart => "Compute for 3 s", "计算 3 秒";
    ContrastComputeIdle => "not computing: press the button", "没有在计算:请按按钮";
    ContrastRecv => "The blocking model's thread", "阻塞模型的线程";
    ContrastRecvStart => "Start it and open a client that sends nothing", "启动它并打开一个不发送的客户端";
    ContrastRecvIdle => "the blocking model is not running", "阻塞模型没有运行";
    ContrastNoView => "no word from the kernel yet", "内核还没有报告";
    CmdCompute => "compute for {0} ms", "计算 {0} 毫秒";
    RComputeOutOfRange => "a computation lasts 1 to {1} ms, not {0}", "一次计算持续 1 到 {1} 毫秒,不能是 {0}";
    RComputeBusy => "a computation is already running", "已经有一个计算在运行";
    ROutOfRange => "{0} must be from {2} to {3}, not {1}", "{0} 必须在 {2} 到 {3} 之间,不能是 {1}";
    RLoadRunning => "a load is already running on {0}: stop it first", "{0} 上已经有负载在运行:请先停止它";
    RNoLoadRunning => "no load is running", "没有正在运行的负载";
    RNotAModelPort => "{0} is not one of Kettle's model servers: load goes only to them", "{0} 不是 Kettle 的模型服务器:负载只发给它们";
    RNoSuchExperiment => "there is no experiment \"{0}\" (there are: {1})", "没有名为“{0}”的实验(现有:{1})";
    RNoSuchExcerpt => "no model file \"{0}\" has a marked region \"{1}\"", "模型源文件“{0}”中没有名为“{1}”的标记区域";
    RExperimentRunning => "the experiment \"{0}\" is still running", "实验“{0}”仍在运行";
    FieldConns => "connections", "连接数";
    FieldSecs => "seconds", "秒数";
    FieldSize => "line size", "行长度";
    FieldRate => "rate", "速率";
    FieldSample => "connections to follow", "跟随的连接数";

    // -- the code panel --------------------------------------------------------------------
    CodeTitle => "The code that ran", "运行的代码";
    CodeLit =>
        "Line {0} of {1} made this step ({2}).",
        "这一步由 {1} 的第 {0} 行产生({2})。";
    CodeKernel =>
        "The kernel did this step by itself: no line of ours ran.",
        "这一步是内核自己完成的:我们的代码一行也没有运行。";
    CodeGlibc =>
        "A glibc helper thread did this step, inside aio_read: no line of ours ran.",
        "这一步是 glibc 的辅助线程在 aio_read 内部完成的:我们的代码一行也没有运行。";
    CodeClient =>
        "The echo client did this step, not the server: no line of the server ran.",
        "这一步是回显客户端做的,不是服务器:服务器的代码一行也没有运行。";
    CodeOutside =>
        "No line shown here made this step: it happened outside the serving loop (a thread starting or ending, setting up, refusing a client).",
        "这里显示的代码没有产生这一步:它发生在服务循环之外(线程启动或结束、初始化、拒绝客户端)。";
    CodeNoStep =>
        "No step yet: start the model, open an echo client and send a line.",
        "还没有步骤:启动模型,打开一个回显客户端并发送一行。";
    CodeNoModel => "Choose a model to see its code.", "选择一个模型查看它的代码。";
    CodeNotOurs =>
        "Kettle does not have the traced program's source: it sees only the program's system calls, so no line is lit.",
        "Kettle 没有被跟踪程序的源代码:它只看得到程序的系统调用,所以没有哪一行会被点亮。";
    CodeExcerpt => "{0}, lines {1}–{2}", "{0},第 {1}–{2} 行";
    CodeLoading => "Fetching this model's code from the server…", "正在从服务器获取这个模型的代码……";
    CodeUnavailable => "The server did not send this model's code ({0}); show another model, then this one, to try again.",
        "服务器没有发来这个模型的代码({0});先选别的模型,再选回这个模型,即可重试。";

    // -- narration and time travel ---------------------------------------------------------
    // narration: one sentence per step, under the figure
    Narration => "What is happening", "正在发生什么";
    NarrListen =>
        "The server listens on {0}; until it calls accept, the kernel queues up to {1} finished connections for it.",
        "服务器在 {0} 上监听;在它调用 accept 之前,内核最多替它排队 {1} 个已完成握手的连接。";
    NarrStopped => "The model stopped ({0}); every descriptor it held is closed.", "模型已停止({0});它持有的所有描述符都已关闭。";
    NarrThreadStarts => "Thread {0} starts.", "线程 {0} 启动。";
    NarrWorkerStarts =>
        "Worker {0} starts: the pool makes its threads once, before any client comes.",
        "工作线程 {0} 启动:线程池只在开始时创建一次线程,不等客户端到来。";
    NarrConnThreadStarts =>
        "A new thread, {0}, starts to serve this one connection and no other.",
        "新线程 {0} 启动,只为这一个连接服务。";
    NarrNotifyThreadStarts =>
        "glibc starts a brand-new thread, {0}, only to run the completion callback.",
        "glibc 新建了一个线程 {0},只为运行完成回调。";
    NarrThreadEnds => "Thread {0} ends.", "线程 {0} 结束。";
    NarrNotifyThreadEnds =>
        "The callback's thread {0} ends: POSIX aio spent a whole thread to report one finished read.",
        "回调线程 {0} 结束:POSIX aio 为报告一次读完成,花掉了一整个线程。";
    NarrSleepsOnQueue =>
        "Worker {0} sleeps on the empty queue: no accepted connection is waiting for it.",
        "工作线程 {0} 在空队列上睡眠:没有已被 accept 的连接在等它。";
    NarrThreadBlocked => "Thread {0} is about to sleep in {1}.", "线程 {0} 即将在 {1} 中睡眠。";
    NarrWokenByQueue =>
        "Worker {0} is woken: the acceptor put a connection in the queue.",
        "工作线程 {0} 被唤醒:accept 线程把一个连接放进了队列。";
    NarrWokenByStop => "Thread {0} is woken so that it can stop.", "线程 {0} 被唤醒,以便停止。";
    NarrThreadWoken => "Thread {0} is woken: {1}.", "线程 {0} 被唤醒:{1}。";
    NarrAcceptSleeps =>
        "Thread {0} calls accept and sleeps in the kernel until a client connects.",
        "线程 {0} 调用 accept,在内核里睡眠,直到有客户端连上来。";
    NarrAcceptWaiting =>
        "Thread {0} calls accept; a connection already waits in the listen backlog, so the call returns at once.",
        "线程 {0} 调用 accept;监听队列里已经有连接在等,所以调用立即返回。";
    NarrAcceptReady =>
        "Thread {0} calls accept on the listening socket; it has been told a connection is waiting, so the call will not sleep.",
        "线程 {0} 对监听套接字调用 accept;它已得知有连接在等,所以这次调用不会睡眠。";
    NarrAcceptCall =>
        "Thread {0} calls accept on the listening socket.",
        "线程 {0} 对监听套接字调用 accept。";
    NarrAcceptTry =>
        "Thread {0} tries accept once more on the non-blocking listening socket.",
        "线程 {0} 在非阻塞的监听套接字上再试一次 accept。";
    NarrAccepted =>
        "accept returns fd {0}: the client at {1} is connected, and the server can now talk to it.",
        "accept 返回 fd {0}:来自 {1} 的客户端连上了,服务器现在可以和它通信。";
    NarrAcceptEagain =>
        "accept returns EAGAIN: nobody is connecting, and the non-blocking call does not wait.",
        "accept 返回 EAGAIN:没有人在连接,非阻塞调用不会等待。";
    NarrCallFailed => "{0} fails with {1}: {2}.", "{0} 失败,返回 {1}:{2}。";
    NarrBacklog =>
        "The kernel's listen backlog holds {0} of at most {1} connections: connected, but nobody has called accept for them yet.",
        "内核的监听队列里有 {0} 个连接(最多 {1} 个):已经连上,但还没有人为它们调用 accept。";
    NarrBacklogEmpty =>
        "The listen backlog is empty: every connection has been accepted.",
        "监听队列空了:每个连接都已被 accept。";
    NarrRecvBlocks =>
        "Thread {0} calls recv on fd {1} and sleeps: phase 1, waiting for data, begins.",
        "线程 {0} 对 fd {1} 调用 recv 并睡眠:阶段 1(等待数据)开始。";
    NarrRecvDataThere =>
        "Thread {0} calls recv on fd {1}; the data is already in the socket, so only the copy remains.",
        "线程 {0} 对 fd {1} 调用 recv;数据已经在套接字里,只剩拷贝了。";
    NarrRecvAfterWait =>
        "Thread {0} calls recv on fd {1}: {2} said it is readable, so the call waits only for the copy, not for data.",
        "线程 {0} 对 fd {1} 调用 recv:{2} 说它可读,所以这次调用只等拷贝,不等数据。";
    NarrRecvAsk =>
        "Thread {0} asks fd {1} again with recv; on a non-blocking socket the call never sleeps waiting for data.",
        "线程 {0} 又用 recv 询问 fd {1};在非阻塞套接字上,这个调用从不为等数据而睡眠。";
    NarrRecvAfterSignal =>
        "Answering the signal, thread {0} calls recv on fd {1}: the data is already there, but the thread still copies it itself.",
        "为响应信号,线程 {0} 对 fd {1} 调用 recv:数据已经在那里,但仍要线程自己去拷贝。";
    NarrRecvCall => "Thread {0} calls recv on fd {1}.", "线程 {0} 对 fd {1} 调用 recv。";
    NarrArrivedCopy =>
        "The data has arrived on fd {1} after {2} of waiting; the kernel now copies {0} bytes into the application's buffer.",
        "数据已经到达 fd {1}(等了 {2});内核正把 {0} 个字节拷贝到应用程序的缓冲区。";
    NarrArrivedCopyUnmeasured =>
        "The data has arrived on fd {1}; the kernel now copies {0} bytes into the application's buffer.",
        "数据已经到达 fd {1};内核正把 {0} 个字节拷贝到应用程序的缓冲区。";
    NarrArrivedEarly =>
        "Data reaches fd {0} before anyone asked for it: it waits in the socket's receive buffer.",
        "数据在还没有人读的时候就到达了 fd {0}:它在套接字的接收缓冲区里等着。";
    NarrArrivedReadable =>
        "Data reaches fd {0}: the kernel marks it readable and wakes the thread sleeping in {1}.",
        "数据到达 fd {0}:内核把它标记为可读,并唤醒睡在 {1} 里的线程。";
    NarrArrivedBusy =>
        "Data reaches fd {0}; the next recv that asks will find it. Until then the thread keeps asking.",
        "数据到达 fd {0};下一次询问的 recv 会拿到它。在那之前,线程一直在问。";
    NarrArrivedSignal =>
        "Data reaches fd {0}; the kernel queues a signal for the thread that owns the socket.",
        "数据到达 fd {0};内核为拥有这个套接字的线程排队一个信号。";
    NarrArrivedRing =>
        "Data reaches fd {0}: the kernel itself completes the recv request, copying {1} bytes into the buffer the request named.",
        "数据到达 fd {0}:内核自己完成这个 recv 请求,把 {1} 个字节拷贝进请求指定的缓冲区。";
    NarrArrived => "Data reaches fd {0}.", "数据到达 fd {0}。";
    NarrRecvBothPhases =>
        "recv returns {0} bytes, \"{1}\": the thread slept through both phases — {2} waiting for data, {3} while the kernel copied it.",
        "recv 返回 {0} 字节 “{1}”:线程在两个阶段都在睡眠——等待数据 {2},内核拷贝 {3}。";
    NarrRecvOnlyCopy =>
        "recv returns {0} bytes, \"{1}\": the data was already there, so the thread slept only {2}, for the copy.",
        "recv 返回 {0} 字节 “{1}”:数据早已到达,线程只为拷贝睡了 {2}。";
    NarrRecvAfterSelect =>
        "recv returns {0} bytes, \"{1}\", after {2}: only the copy was waited for here — the wait for data was spent asleep in {3}.",
        "recv 返回 {0} 字节 “{1}”,用了 {2}:这里只等了拷贝——等待数据的时间是睡在 {3} 里度过的。";
    NarrRecvBusy =>
        "recv returns {0} bytes, \"{1}\", after {2} of copying: the wait for data was spent asking again and again, never asleep.",
        "recv 返回 {0} 字节 “{1}”,拷贝用了 {2}:等待数据的时间是一遍遍询问度过的,从没睡眠。";
    NarrRecvSignal =>
        "recv returns {0} bytes, \"{1}\", after {2}: the signal said when to read, but the thread still copied the data itself — synchronous I/O.",
        "recv 返回 {0} 字节 “{1}”,用了 {2}:信号只告诉它何时去读,数据仍是线程自己拷贝的——这是同步 IO。";
    NarrRecvData => "recv returns {0} bytes, \"{1}\".", "recv 返回 {0} 字节 “{1}”。";
    NarrRecvEof =>
        "recv returns 0: the client closed its side, so the server closes the connection too.",
        "recv 返回 0:客户端关闭了它那一端,所以服务器也关闭这个连接。";
    NarrRecvEagain =>
        "recv returns EAGAIN: no data yet, and on a non-blocking socket the call does not wait.",
        "recv 返回 EAGAIN:还没有数据,在非阻塞套接字上调用不会等待。";
    NarrRecvDrained =>
        "recv returns EAGAIN: the socket is drained, and the thread goes back to its own work.",
        "recv 返回 EAGAIN:套接字已读空,线程回去做自己的事。";
    NarrSend =>
        "Thread {0} sends {1} bytes back on fd {2}: the line, in upper case.",
        "线程 {0} 在 fd {2} 上发回 {1} 个字节:转成大写的那一行。";
    NarrSent =>
        "send returns {0}: the kernel has taken the reply into the socket's send buffer, and the line is echoed.",
        "send 返回 {0}:内核已把回复放进套接字的发送缓冲区,这一行回显完成。";
    NarrSendEagain =>
        "send returns EAGAIN: the send buffer is full; the rest waits in the server's own buffer until the client reads.",
        "send 返回 EAGAIN:发送缓冲区满了;剩下的在服务器自己的缓冲区里等,直到客户端读走。";
    NarrClose => "The server closes fd {0}: {1}.", "服务器关闭 fd {0}:{1}。";
    NarrRefused => "The server refuses a connection: {0}.", "服务器拒绝了一个连接:{0}。";
    NarrSelectEnter =>
        "Thread {0} sleeps in {1}, handing the kernel all {2} descriptors again: it waits for any of them to be ready, not for one.",
        "线程 {0} 睡在 {1} 里,又把全部 {2} 个描述符交给内核:它等的是其中任意一个就绪,而不是某一个。";
    NarrEpollEnter =>
        "Thread {0} sleeps in epoll_wait on an interest list of {1} descriptors kept in the kernel: it waits for any of them to be ready.",
        "线程 {0} 睡在 epoll_wait 里,兴趣列表中的 {1} 个描述符保存在内核里:它等其中任意一个就绪。";
    NarrWaitNothing => "{0} returns with nothing ready.", "{0} 返回,没有就绪的描述符。";
    NarrSelectReturned =>
        "{0} returns {1} ready ({2}); the thread scanned {3} entries to find them. The data is still in the kernel: the copy is still to do.",
        "{0} 返回 {1} 个就绪({2});线程扫描了 {3} 项才找到它们。数据还在内核里:拷贝还没做。";
    NarrEpollReturned =>
        "epoll_wait returns {0} ready ({1}), straight from the kernel's ready list. The copy is still to do.",
        "epoll_wait 返回 {0} 个就绪({1}),直接来自内核的就绪列表。拷贝还没做。";
    NarrEpollEtReturned =>
        "epoll_wait returns {0} ready ({1}). Edge-triggered: it says so only once, so the thread must read until EAGAIN.",
        "epoll_wait 返回 {0} 个就绪({1})。边缘触发:只报告一次,所以线程必须一直读到 EAGAIN。";
    NarrSigaction =>
        "The thread installs a handler for {0} with sigaction and goes on with its own work: the kernel will tell it when a socket needs it.",
        "线程用 sigaction 为 {0} 安装处理函数,然后继续做自己的事:套接字需要它时,内核会通知它。";
    NarrSignalFd =>
        "The kernel interrupts the thread's work with {0}: fd {1} has something for it. The waiting was the kernel's; the copy will be the thread's.",
        "内核用 {0} 打断线程的工作:fd {1} 有东西给它。等待是内核做的;拷贝要由线程自己做。";
    NarrSignalNoFd =>
        "The kernel delivers {0} without saying which descriptor: the thread must check every socket.",
        "内核递送 {0},但没说是哪个描述符:线程只好检查每个套接字。";
    NarrAioSubmit =>
        "aio_read(fd {0}) returns at once: glibc takes the request, and the thread goes on with other things.",
        "aio_read(fd {0}) 立即返回:glibc 接下请求,线程继续做别的事。";
    NarrSqeRecv =>
        "The thread writes a recv request for fd {0} into the submission queue (an SQE), with no system call: the kernel will wait for the data and copy it.",
        "线程把 fd {0} 的 recv 请求写进提交队列(一个 SQE),不用系统调用:内核会等数据并拷贝它。";
    NarrSqeAccept =>
        "The thread writes an accept request for the listening socket, fd {0}, into the submission queue (an SQE).",
        "线程把监听套接字 fd {0} 的 accept 请求写进提交队列(一个 SQE)。";
    NarrSqeSend =>
        "The thread writes a send request for fd {0} into the submission queue (an SQE): the reply goes out without a blocking call.",
        "线程把 fd {0} 的 send 请求写进提交队列(一个 SQE):回复不经过阻塞调用就发出去。";
    NarrSqe =>
        "The thread writes a {0} request for fd {1} into the submission queue (an SQE).",
        "线程把 fd {1} 的 {0} 请求写进提交队列(一个 SQE)。";
    NarrAioDone =>
        "The callback runs on another thread: {1} bytes are already in the buffer of fd {0} — glibc's helper did the waiting and the copying.",
        "回调在另一个线程上运行:fd {0} 的缓冲区里已经有 {1} 个字节——等待和拷贝都由 glibc 的辅助线程完成。";
    NarrCqeRecv =>
        "The thread reaps a CQE: the recv on fd {0} is done, and {1} bytes are already in its buffer — the kernel did both phases.",
        "线程取出一个 CQE:fd {0} 上的 recv 已完成,{1} 个字节已在它的缓冲区里——两个阶段都是内核做的。";
    NarrCqeAccept =>
        "The thread reaps a CQE: a client was accepted, and its new connection is fd {0}.",
        "线程取出一个 CQE:accept 接受了一个客户端,它的新连接是 fd {0}。";
    NarrCqeSend =>
        "The thread reaps a CQE: the send on fd {0} handed {1} bytes to the kernel, and the line is echoed.",
        "线程取出一个 CQE:fd {0} 上的 send 已把 {1} 个字节交给内核,这一行回显完成。";
    NarrCqeFailed =>
        "The thread reaps a CQE: {0} on fd {1} failed with {2}.",
        "线程取出一个 CQE:fd {1} 上的 {0} 失败,结果是 {2}。";
    NarrCqe =>
        "The thread reaps a CQE: {0} on fd {1} returned {2}.",
        "线程取出一个 CQE:fd {1} 上的 {0} 返回 {2}。";
    NarrRingEnter =>
        "io_uring_enter hands the kernel the requests written since the last call ({0}) and sleeps until the completion queue holds {1}.",
        "io_uring_enter 把上次调用以来写下的请求({0} 个)交给内核,然后睡眠,直到完成队列里有 {1} 个完成事件。";
    NarrRingTimeout =>
        "io_uring_enter returns after its timeout with nothing done: a wake-up only to check for a stop.",
        "io_uring_enter 超时返回,什么也没完成:只是醒来检查是否要停止。";
    NarrRingExit =>
        "io_uring_enter returns: the completion queue holds {0}, each to be reaped.",
        "io_uring_enter 返回:完成队列里有 {0} 个完成事件,逐个取出。";
    NarrSeenInSyscall =>
        "Kettle reads /proc and finds glibc's helper thread {0} asleep in {1}(fd {2}): the waiting that POSIX aio hides is a blocking read on another thread.",
        "Kettle 读 /proc,发现 glibc 的辅助线程 {0} 睡在 {1}(fd {2}) 里:POSIX aio 藏起来的等待,是另一个线程上的阻塞读。";
    NarrStaircase =>
        "{0} calls to {1} returned EAGAIN in {2}: the thread asks again and again and never sleeps — a whole core spent asking.",
        "{2} 内有 {0} 次 {1} 调用返回 EAGAIN:线程一遍遍地问,从不睡眠——整整一个 CPU 核都花在询问上。";
    NarrEagainBurst =>
        "{0} calls to {1} returned EAGAIN: the thread asks again and again and never sleeps.",
        "{0} 次 {1} 调用返回 EAGAIN:线程一遍遍地问,从不睡眠。";
    NarrSample =>
        "Thread {0} has used {1} of CPU and made {2} system calls so far.",
        "线程 {0} 到目前为止用了 {1} 的 CPU 时间,做了 {2} 次系统调用。";
    NarrClientConnected =>
        "Echo client #{0} connects to {1}: the kernel finished the handshake, but the server has not accepted it yet.",
        "回显客户端 #{0} 连接到 {1}:内核完成了握手,但服务器还没有 accept 它。";
    NarrClientSent => "Echo client #{0} sends {1} bytes to the server.", "回显客户端 #{0} 向服务器发送 {1} 个字节。";
    NarrClientReceived =>
        "Echo client #{0} gets {1} bytes back: the line is echoed.",
        "回显客户端 #{0} 收回 {1} 个字节:这一行回显完成。";
    NarrClientClosed => "Echo client #{0} is closed: {1}.", "回显客户端 #{0} 已关闭:{1}。";
    NarrThreadStack =>
        "Thread {0} reserved {1} for its stack: the price of one more thread.",
        "线程 {0} 为它的栈预留了 {1}:多一个线程的代价。";
    NarrConnQueued =>
        "The acceptor puts fd {0} in the pool's queue ({1} of {2} places taken): accepted, it waits there until a worker is free.",
        "accept 线程把 fd {0} 放进线程池队列(已占 {1} 个位置,共 {2} 个):已被 accept,它在那里等到有空闲的工作线程。";
    NarrConnDequeued =>
        "Worker {0} takes fd {1} from the queue, where it waited {2} unanswered; {3} still wait.",
        "工作线程 {0} 从队列取出 fd {1},它在那里没人理地等了 {2};还有 {3} 个在等。";
    NarrChildSpawned =>
        "The parent starts child process {0} to serve fd {1}, and goes back to accept.",
        "父进程创建子进程 {0} 来服务 fd {1},然后回去 accept。";
    NarrChildReaped =>
        "waitpid collects child {0} ({1}): it is gone, not left as a zombie.",
        "waitpid 回收了子进程 {0}({1}):它已消失,不会留下僵尸进程。";
    NarrWork =>
        "The thread does its own work ({0} units) and is in no I/O call: a signal will interrupt it when data comes.",
        "线程在做自己的事({0} 个单位),不在任何 IO 调用里:数据来了,信号会打断它。";
    NarrEpollCtl =>
        "epoll_ctl {0} changes the kernel's interest list for fd {1} ({2}) and returns at once: it never waits.",
        "epoll_ctl {0} 修改内核中 fd {1} 的兴趣列表({2}),立即返回:它从不等待。";
    NarrEpollCtlFailed => "epoll_ctl {0} on fd {1} fails with {2}.", "对 fd {1} 的 epoll_ctl {0} 失败,返回 {2}。";
    NarrRegister =>
        "The reactor notes in its registry: when fd {0} is ready to {1}, call {2}().",
        "reactor 在注册表里记下:fd {0} 可以 {1} 时,调用 {2}()。";
    NarrUnregister => "The reactor forgets fd {0}.", "reactor 从注册表中删掉 fd {0}。";
    NarrCallback => "The reactor's loop calls {0}() for the ready fd {1}.", "reactor 的循环为就绪的 fd {1} 调用 {0}()。";
    // time travel: the playback bar
    StepBack => "Step back", "后退一步";
    JumpEcho => "Jump to the last echoed line", "跳到最后回显的一行";
    JumpEchoNone => "no line echoed yet", "还没有回显过任何一行";
    History => "History", "历史";
    HistoryPos => "step {0} of {1}", "第 {0} 步,共 {1} 步";
    BadgeLive => "● LIVE", "● 实时";
    BadgePausedAtLive => "❚❚ PAUSED at the newest", "❚❚ 暂停于最新一步";
    BadgePausedOne => "❚❚ PAUSED · 1 step behind", "❚❚ 已暂停 · 落后 1 步";
    BadgePaused => "❚❚ PAUSED · {0} steps behind", "❚❚ 已暂停 · 落后 {0} 步";
    BadgeReplayingOne => "▶ REPLAY · 1 step behind", "▶ 回放中 · 落后 1 步";
    BadgeReplaying => "▶ REPLAY · {0} steps behind", "▶ 回放中 · 落后 {0} 步";

    // -- the kettle story, views and links -------------------------------------------------
    Views => "What the column shows", "这一栏显示的内容";
    ViewFigure => "Figure", "示意图";
    ViewCompare => "Compare (Fig. 6.6)", "对比(图 6.6)";
    ViewCompareShort => "Fig. 6.6", "图 6.6";
    ViewStory => "The kettle story", "烧水的故事";
    ViewStoryShort => "Story", "烧水故事";
    StoryTitle => "The kettle story: Lao Zhang boils water", "烧水的故事:老张烧开水";
    StoryIntro =>
        "Kettle is named after this story. Click a model to watch it act its case out.",
        "Kettle 的名字就来自这个故事。点一个模型,看它把这种情形演出来。";
    StorySync => "synchronous: he checks the kettle himself", "同步:水开没开,他自己去看";
    StoryAsync => "asynchronous: the kettle tells him", "异步:水开了,水壶告诉他";
    StoryBlocking => "blocking: he stays in the kitchen", "阻塞:他守在厨房";
    StoryNonblocking => "non-blocking: he watches TV in the living room", "非阻塞:他去客厅看电视";
    StoryCaseSyncBlocking => "synchronous blocking", "同步阻塞";
    StoryCaseAsyncBlocking => "asynchronous blocking", "异步阻塞";
    StoryCaseSyncNonblocking => "synchronous non-blocking", "同步非阻塞";
    StoryCaseAsyncNonblocking => "asynchronous non-blocking", "异步非阻塞";
    StoryTellSyncBlocking =>
        "He puts an ordinary kettle on and stands beside it until it boils, good for nothing else meanwhile. So sleeps a thread in recv: until the data has arrived and been copied.",
        "他把普通水壶放上炉子,就站在旁边一直等到水开,其间什么也干不了。线程睡在 recv 里也是这样:直到数据到达并拷贝完。";
    StoryTellAsyncBlocking =>
        "The kettle will whistle, yet he still waits in the kitchen. A readiness call names the socket that is ready, but the thread sleeps in that call until something is.",
        "水壶会叫,他却还是守在厨房里等。就绪调用会说出哪个套接字好了,可在有套接字就绪之前,线程一直睡在这个调用里。";
    StoryTellSyncNonblocking =>
        "He watches TV and keeps walking back to look at the kettle. Every look at water not yet boiling is a recv that returns EAGAIN, and the walking keeps a whole core busy.",
        "他在客厅看电视,时不时跑回厨房看一眼。每次看到水还没开,就是一次返回 EAGAIN 的 recv;这样来回跑,会占满一整个 CPU 核。";
    StoryTellAsyncNonblocking =>
        "He watches TV until the whistle calls him. sigio's thread is interrupted by a signal when data arrives; io_uring and aio are told only once the data is already in the buffer.",
        "他安心看电视,直到水壶叫他。数据一到,sigio 的线程就被信号打断;io_uring 和 aio 被告知时,数据已经在缓冲区里了。";
    StoryPictureSyncBlocking =>
        "An ordinary kettle on the stove, Lao Zhang standing beside it in the kitchen.",
        "炉子上一把普通水壶,老张站在厨房里的壶旁边。";
    StoryPictureAsyncBlocking =>
        "A whistling kettle on the stove, Lao Zhang standing beside it in the kitchen.",
        "炉子上一把响水壶,老张站在厨房里的壶旁边。";
    StoryPictureSyncNonblocking =>
        "An ordinary kettle in the kitchen; Lao Zhang on the sofa by the TV, a dotted path back to the kettle.",
        "厨房里一把普通水壶;老张坐在客厅电视前的沙发上,一条虚线通回水壶。";
    StoryPictureAsyncNonblocking =>
        "A whistling kettle in the kitchen calling out; Lao Zhang on the sofa by the TV.",
        "厨房里的响水壶在叫;老张坐在客厅电视前的沙发上。";
    StoryActedBy => "acted out by", "演示这一情形的模型";
    StoryShowModel => "show {0} in the figure", "在示意图中查看 {0}";
    StoryPosix =>
        "Here the story and POSIX disagree: in Stevens' terms (§6.2) only Fig. 6.5's model — io_uring, aio — is asynchronous I/O, select and epoll are “blocking in select”, signal-driven I/O stays synchronous because recv still copies the data while the thread waits, and a thread asleep beside a whistling kettle is how signal-driven I/O could be used (sigwait), not what Kettle's sigio model does.",
        "这里故事与 POSIX 的说法不同:按 Stevens(§6.2)的定义,只有图 6.5 的模型(io_uring、aio)才是异步 IO,select 和 epoll 是“阻塞在 select 上”,信号驱动 IO 仍是同步的,因为 recv 拷贝数据时线程还在等待;而睡在响水壶旁边等它叫的线程,是信号驱动 IO 可能的一种用法(sigwait),并不是 Kettle 的 sigio 模型的做法。";

    // -- the guided tour -------------------------------------------------------------------
    TourStart => "Guided tour", "导览";
    TourStartShort => "Tour", "导览";
    TourStartHelp => "T: a guided tour of every model, in the tutorial's order", "T:按教程顺序导览每个模型";
    TourOf => "Tour — stop {0} of {1}", "导览 —— 第 {0} 站,共 {1} 站";
    TourOfShort => "{0}/{1}", "{0}/{1}";
    TourNext => "Next →", "下一站 →";
    TourBack => "← Back", "← 上一站";
    TourLeave => "Leave the tour (Esc)", "离开导览(Esc)";
    TourLeaveShort => "✕", "✕";
    TourFinish => "Finish", "结束";
    TourStarting => "starting the model…", "正在启动模型…";
    TourOpening => "opening an echo client and waiting for the server to accept it…", "正在打开回显客户端,等待服务器 accept…";
    TourWatching => "a line was sent: waiting for the server to record the moment…", "已发送一行:等待服务器记录下关键的一步…";
    TourArrived => "paused on the moment: press → for the next stop, or explore (Space plays on)", "已暂停在关键的一步:按 → 去下一站,或自己探索(空格继续播放)";
    TourReady => "press → for the next stop", "按 → 去下一站";
    TourUnavailable => "this model cannot run on this machine: see the model list for why", "这个模型无法在本机运行:原因见模型列表";
    TourBlockingTitle => "Blocking I/O: one thread, one client", "阻塞 IO:一个线程,一个客户端";
    TourBlocking =>
        "The thread called recv and the kernel put it to sleep until the line arrived and was copied: it was blocked through both phases. While it sleeps it serves nobody else — a second client would wait in the listen backlog.",
        "线程调用 recv 后被内核挂起,直到这一行到达并拷贝完成:两个阶段它都处于阻塞状态。它睡着的时候谁也服务不了——第二个客户端只能在监听队列里等。";
    TourThreadsTitle => "A thread per connection", "每个连接一个线程";
    TourThreads =>
        "Each client gets a thread of its own, so one sleeping recv no longer stops the others. Every lane is a real thread, and each one costs a stack and a place in the scheduler: this stops scaling long before ten thousand clients.",
        "每个客户端都有自己的线程,一个 recv 睡着不再拖住别人。每条泳道都是一个真实的线程,每个线程都要一块栈空间和调度开销:离一万个客户端还远,它就撑不住了。";
    TourPoolTitle => "A thread pool", "线程池";
    TourPool =>
        "A fixed set of workers is made once; the acceptor hands each connection to a free one. The cost is bounded, but so is the service: when every worker is held by a client, the next one waits in the pool's queue.",
        "一组固定数量的工作线程只创建一次;accept 线程把每个连接交给一个空闲的工作线程。开销有了上限,服务能力也有了上限:所有工作线程都被占住时,下一个连接只能在队列里等。";
    TourNonblockingTitle => "Non-blocking I/O: asking again and again", "非阻塞 IO:一遍又一遍地问";
    TourNonblocking =>
        "Every socket is non-blocking, so recv on an empty socket returns EAGAIN at once and the loop asks again — the staircase above. Phase 1 costs no sleep but a whole core; only the copy of the line was waited for.",
        "所有套接字都是非阻塞的,空套接字上的 recv 立刻返回 EAGAIN,循环接着再问——就是上面那段阶梯。阶段1不睡觉,却占满一个 CPU 核;只有拷贝这一行时才等待。";
    TourSelectTitle => "I/O multiplexing: select (and poll)", "IO 多路复用:select(和 poll)";
    TourSelect =>
        "The thread sleeps in select over the listening socket and every connection; select returned because the line's socket became readable. Phase 1 was spent inside select; the recv that follows only copies. poll is the same loop with an array instead of a bitmap.",
        "线程阻塞在 select 上,同时盯着监听套接字和所有连接;这一行的套接字变为可读,select 就返回了。阶段1是在 select 里度过的,接下来的 recv 只负责拷贝。poll 是同样的循环,只是用数组代替位图。";
    TourEpollTitle => "epoll: the kernel keeps the list", "epoll:由内核保存监视列表";
    TourEpoll =>
        "The sockets were registered once with epoll_ctl; epoll_wait returns only the ready ones, so its cost follows the ready set, not the number of connections. Like select, it is still blocking in the wait call.",
        "套接字只需用 epoll_ctl 注册一次;epoll_wait 只返回就绪的那些,所以开销取决于就绪的数量,而不是连接总数。和 select 一样,线程仍然阻塞在等待调用里。";
    TourReactorTitle => "The reactor: a callback per socket", "反应器:每个套接字一个回调";
    TourReactor =>
        "The tutorial's selectors server: each socket is registered with the function to call when it is ready. The loop waits in epoll_wait, then calls the callback of the line's socket — the same multiplexing, written as events and handlers.",
        "教程里的 selectors 服务器:每个套接字注册时带上它就绪时要调用的函数。循环在 epoll_wait 里等待,然后调用这一行所在套接字的回调——同样是多路复用,只是写成了事件加处理函数。";
    TourSigioTitle => "Signal-driven I/O", "信号驱动 IO";
    TourSigio =>
        "The thread asked the kernel for a signal when data arrives and went on with its own work. Here the signal came for the line's socket; the recv that follows still copies while the thread waits, so this is still synchronous I/O.",
        "线程让内核在数据到达时发信号,然后继续做自己的事。这里信号为这一行所在的套接字而来;接下来的 recv 拷贝数据时线程仍要等待,所以这仍然是同步 IO。";
    TourAsyncTitle => "Asynchronous I/O: io_uring", "异步 IO:io_uring";
    TourAsync =>
        "The thread put a read request in the submission queue and did not wait for it. The kernel waited for the line and copied it into the buffer on its own; the completion says it is done. Only this model frees the thread in both phases.",
        "线程把读请求放进提交队列,不等它完成。内核自己等数据、自己把它拷贝进缓冲区;完成队列里的 CQE 告诉线程已经做完了。只有这个模型在两个阶段都不占用线程。";
    TourCompareTitle => "The models side by side (Fig. 6.6)", "各模型并排对比(图 6.6)";
    TourCompare =>
        "One line went through every ticked model at the same moment. The columns differ in phase 1 — asleep in recv, in select, working until a signal — and are the same in phase 2, except asynchronous I/O, where the kernel copied on its own.",
        "同一行数据在同一时刻发给每个勾选的模型。各列在阶段1不同——睡在 recv 里、睡在 select 里、干活直到信号到来——在阶段2相同,只有异步 IO 是内核自己完成拷贝。";
    TourStoryTitle => "The kettle story", "老张烧水";
    TourStory =>
        "Four ways to boil water, four pairs of words: the kettle that whistles is the call that tells you, staying in the kitchen is the thread that sleeps. Click a case to see the models that act it out.",
        "烧水的四种方式,对应四组词:会响的水壶是会通知你的调用,守在厨房是睡着的线程。点一个情形,看看哪些模型在演它。";

    // -- Fig. 6.6 -----------------------------------------------------------------------------
    Compare => "Compare the models (Stevens Fig. 6.6, measured)", "对比各模型(Stevens 图 6.6,实测)";
    CompareHelp =>
        "Tick running models, type one line: it is sent through one client on each at the same moment, and their phases are drawn on one time axis.",
        "勾选正在运行的模型,输入一行:同一时刻经由每个模型的一个客户端发出,它们的阶段画在同一条时间轴上。";
    CompareSend => "Send to all", "同时发送";
    CompareNeedModels => "start at least two of the ticked models", "请至少启动两个已勾选的模型";
    CompareWaiting => "waiting for the replies…", "等待回复…";
    CompareAxis => "0 = the line reaches the server's socket", "0 = 这一行到达服务器套接字";
    CompareLegend =>
        "Left of each column: the application's thread, a bar where it was blocked in the call named beside it. Right: the kernel — orange, phase 1 (wait for data, cut at the top when it began earlier); purple, phase 2 (copy to user).",
        "每列左侧:应用程序的线程,竖条表示它阻塞在旁边所写的调用中。右侧:内核——橙色为阶段1(等待数据,若更早开始则在顶部截断);紫色为阶段2(拷贝到用户空间)。";
    CompareReply => "reply received {0}", "收到回复 {0}";
    CompareNoData => "no measured phase for this model", "该模型没有测得的阶段";

    // -- under load: the crowd, following connections, the load panel ----------------------
    LogNewestRows => "(the newest {0} drawn)", "(只画出最新的 {0} 条)";
    CrowdTitle => "The crowd: every connection, counted", "全体连接:计数与速率";
    CrowdConns => "connections", "连接";
    CrowdThreads => "threads", "线程";
    CrowdLines => "lines received / s", "收到的行 / 秒";
    CrowdBytes => "bytes received / s", "收到的字节 / 秒";
    CrowdEagain => "EAGAIN / s", "EAGAIN / 秒";
    CrowdWaits => "readiness calls / s", "就绪等待调用 / 秒";
    CrowdScanned => "descriptors looked at per call", "每次调用查看的描述符";
    CrowdPhase1 => "phase 1 (wait) p50 / p99", "阶段1(等待)p50 / p99";
    CrowdPhase2 => "phase 2 (copy) p50 / p99", "阶段2(拷贝)p50 / p99";
    CrowdNone => "–", "–";
    CrowdOver => "rates over the last {0}, phases over the last 5 s", "速率取最近 {0},阶段取最近 5 秒";
    CrowdCrowded =>
        "Too busy to draw every step ({0} events a second). The figure follows your echo clients and {1} more connections step by step; all the others are counted here.",
        "太忙了,无法画出每一步(每秒 {0} 个事件)。图中只逐步跟随你的回显客户端和另外 {1} 个连接;其余连接都在这里计数。";
    SpotlightLabel => "Also follow", "另外跟随";
    SpotlightUnit => "connections of the crowd step by step", "个连接,逐步显示";
    LoadTitle => "Load: many clients at once", "负载:许多客户端同时连接";
    LoadHelp =>
        "Opens real connections to the selected model and sends lines: closed loop sends the next line when the echo is back, open loop keeps a fixed rate. Every echo is checked byte for byte.",
        "向所选模型打开真实连接并发送数据行:闭环在收到回显后才发下一行,开环保持固定速率。每个回显都逐字节核对。";
    LoadConns => "connections", "连接数";
    LoadLoop => "loop", "方式";
    LoadClosed => "closed loop", "闭环";
    LoadOpen => "open loop", "开环";
    LoadRate => "lines / s (open loop)", "行 / 秒(开环)";
    LoadSize => "bytes per line", "每行字节数";
    LoadSecs => "seconds", "秒数";
    LoadStart => "Start load", "开始负载";
    LoadStop => "Stop load", "停止负载";
    LoadHide => "Hide", "隐藏";
    LoadNeedsModel => "start the selected model first", "请先启动所选模型";
    LoadStarting => "starting on {0}…", "正在 {0} 上启动…";
    LoadRunning => "on {0}: {1} s of {2} s", "{0}:第 {1} 秒,共 {2} 秒";
    LoadFinished => "on {0}: finished after {1} s", "{0}:{1} 秒后结束";
    LoadEndedBy => "ended early: {0}", "提前结束:{0}";
    LoadLinesPerS => "lines echoed / s", "回显的行 / 秒";
    LoadLines => "lines echoed", "回显的行";
    LoadLatency => "latency p50 / p99", "延迟 p50 / p99";
    LoadConnsOpen => "connections open", "打开的连接";
    LoadConnsFailed => "connections failed", "失败的连接";
    LoadMismatches => "echoes that differed", "不一致的回显";
    LoadFairness => "fewest / most lines of one connection", "单个连接最少 / 最多的行";
    LoadNofile => "descriptor limit {0}", "描述符上限 {0}";

    // -- experiments ---------------------------------------------------------------------------
    ViewExperiments => "Experiments", "实验";
    XHeading => "The tutorial's claims, measured", "教程的论断,实测";
    XIntro =>
        "Each experiment starts its own copies of the models on ports of their own (the class's models are not touched), drives them with real clients on this machine, and reads the answer from the models' recorded calls, their threads' counters and CPU clocks, and /proc.",
        "每个实验在自己的端口上启动模型的独立副本(不影响课堂上正在运行的模型),在本机用真实客户端驱动它们,并从模型记录的调用、线程的计数器和 CPU 时钟以及 /proc 读出结果。";
    XRunShort => "Run (short)", "运行(快速)";
    XRunFull => "Run (full)", "运行(完整)";
    XStateIdle => "not run yet", "尚未运行";
    XStateRunning => "running", "运行中";
    XStateDone => "done", "完成";
    XProgress => "{0} of {1} measurements", "已完成 {0} / {1} 项测量";
    XShortForm => "short form", "快速版";
    XFullForm => "full form", "完整版";
    XFailed => "The experiment stopped early: {0}", "实验提前停止:{0}";
    XNoRows => "No measurement yet: press Run.", "还没有测量结果:请点击“运行”。";
    XExportCsv => "Export CSV", "导出 CSV";
    XExportJson => "Export JSON", "导出 JSON";
    XChart => "Chart of the measurements", "测量结果图表";
    XTable => "The measurements", "测量结果";
    XOneAtATimeBusy => "Another experiment is running; one runs at a time.", "另一个实验正在运行;一次只能运行一个。";
    XStarveTitle => "Blocking starves the second client", "阻塞模型让第二个客户端饿死";
    XStarveStory =>
        "Claim: a blocking server serves one connection at a time, so while client A stays connected, client B's line waits. Measured: how long B waits for its echo with A idle, with A gone, and with a thread per connection, and whether B was echoed while A was still connected.",
        "论断:阻塞服务器一次只服务一个连接,所以客户端 A 保持连接时,客户端 B 的消息只能等待。测量:A 空闲、A 已离开、以及每连接一个线程时,B 等待回显的时间,以及 B 是否在 A 仍连接时得到回显。";
    XThreadsTitle => "A thread per connection: threads and memory grow", "每连接一个线程:线程和内存随之增长";
    XThreadsStory =>
        "Claim: a thread per connection occupies a lot of system resources when hundreds or thousands of clients come. Measured: with N idle clients, the threads and the memory of the process as the kernel reports them in /proc/self/status, in total and per client.",
        "论断:成百上千个客户端同时到来时,每连接一个线程会严重占用系统资源。测量:N 个空闲客户端时,内核在 /proc/self/status 中报告的进程线程数和内存,总量以及每个客户端的份额。";
    XPoolTitle => "The pool's ceiling", "线程池的上限";
    XPoolStory =>
        "Claim: a pool always has an upper limit; beyond it, clients wait. Measured: 4 workers, 2 to 16 clients sending lines: the deepest the pool's queue got, how long connections waited in it, and how many clients were echoed only after another had left.",
        "论断:池总有上限,超过上限客户端就要等待。测量:4 个工作线程,2 到 16 个客户端发送消息:池队列最长有多长,连接在队列中等了多久,以及有多少客户端要等另一个客户端离开后才得到回显。";
    XBusyLoopTitle => "The busy loop burns a core", "忙等循环烧掉一个核";
    XBusyLoopStory =>
        "Claim: non-blocking I/O keeps asking the kernel whether data is ready, which occupies the CPU heavily. Measured: with no client at all, the CPU time of the non-blocking model's thread and of the blocking model's, from their CPU clocks, and the EAGAIN returns counted.",
        "论断:非阻塞 IO 不停地询问内核数据是否就绪,大量占用 CPU。测量:在没有任何客户端时,非阻塞模型和阻塞模型线程的 CPU 时间(来自线程 CPU 时钟),以及统计到的 EAGAIN 返回次数。";
    XOneConnTitle => "One connection: multiplexing is not faster", "单个连接:多路复用并不更快";
    XOneConnStory =>
        "Claim: with few connections, select/epoll is not better than blocking I/O and may even have more latency; its strength is many connections. Measured: one client sends lines; system calls per line from the models' own counters (blocking: recv and send; select, poll, epoll: one more call to wait), and the latency of each line, p50 and p99.",
        "论断:连接数不多时,select/epoll 并不比阻塞 IO 好,延迟甚至可能更大;它的优势在于能处理更多连接。测量:一个客户端发送消息;每条消息的系统调用数(来自模型自己的计数:阻塞为 recv 和 send;select、poll、epoll 多一次等待调用),以及每条消息的延迟 p50 和 p99。";
    XScanTitle => "Many idle connections: select and poll scan them all", "大量空闲连接:select 和 poll 全部扫描";
    XScanStory =>
        "Claim: select spends a lot of time polling each handle when there are many; epoll does not. Kerrisk measured about 170 times at 1 000 descriptors. Measured: N idle connections and one active: descriptors scanned per wait and CPU per line, for select, poll and epoll.",
        "论断:句柄很多时,select 要花大量时间逐个轮询;epoll 不会。Kerrisk 在 1000 个描述符时测得约 170 倍的差距。测量:N 个空闲连接加一个活跃连接时,select、poll、epoll 每次等待扫描的描述符数和每条消息的 CPU 时间。";
    XSigioWorkTitle => "Signal-driven I/O: work done while waiting", "信号驱动 IO:等待时完成的工作";
    XSigioWorkStory =>
        "Claim: with a signal handler installed by sigaction, the process goes on with its work until the kernel signals that data is ready. Measured: a line every few ms; the units of work the sigio model's thread reported while it waited, against the blocking model, which can only wait.",
        "论断:用 sigaction 注册信号处理函数后,进程继续做自己的事,直到内核发信号通知数据就绪。测量:每隔几毫秒发送一条消息;sigio 模型的线程在等待期间报告完成的工作量,与只能等待的阻塞模型对比。";
    XUringTitle => "io_uring under load: batched system calls", "负载下的 io_uring:批量系统调用";
    XUringStory =>
        "Claim: asynchronous I/O hands the kernel both phases; with io_uring one io_uring_enter submits many requests. Measured: many clients in a closed loop; system calls per line for io_uring and epoll, requests per wake-up, lines per second and latency.",
        "论断:异步 IO 把两个阶段都交给内核;使用 io_uring 时,一次 io_uring_enter 可以提交许多请求。测量:许多客户端闭环发送;io_uring 与 epoll 每条消息的系统调用数、每次唤醒处理的请求数、每秒消息数和延迟。";
    XC10kTitle => "C10K: who holds 10 000 connections", "C10K:谁能撑住一万个连接";
    XC10kStory =>
        "Claim: facing thousands or tens of thousands of clients, threads and pools hit their limits, and epoll is recommended. Measured: every model that can try holds N connections while lines go round all of them: connections served, lines per second, latency, CPU, memory and threads added. Models that cannot try say why.",
        "论断:面对成千上万的客户端,线程和线程池都会遇到瓶颈,推荐使用 epoll。测量:每个能尝试的模型保持 N 个连接,消息轮流经过所有连接:得到服务的连接数、每秒消息数、延迟、CPU、增加的内存和线程。不能尝试的模型会说明原因。";
    XColModel => "model", "模型";
    XColClientA => "client A", "客户端 A";
    XColAStayed => "A stayed after B sent", "B 发送后 A 停留";
    XColBWait => "B waited for its echo", "B 等待回显";
    XColBWhileA => "B echoed while A connected", "A 连接时 B 得到回显";
    XColClients => "clients", "客户端数";
    XColModelThreads => "model threads", "模型线程数";
    XColThreadsAdded => "threads added", "增加的线程";
    XColRssAdded => "resident memory added", "增加的常驻内存";
    XColRssPerClient => "resident memory per client", "每客户端常驻内存";
    XColVmPerClient => "address space per client", "每客户端地址空间";
    XColWorkers => "workers", "工作线程";
    XColQueueMax => "longest queue", "最长队列";
    XColQueueWaitMax => "longest wait in the queue", "队列中最长等待";
    XColFirstEchoP50 => "first echo, median", "首次回显中位数";
    XColFirstEchoMax => "first echo, slowest", "首次回显最慢";
    XColAfterAnother => "echoed only after another left", "等别人离开后才回显";
    XColCpuPercent => "CPU", "CPU";
    XColCpuMs => "CPU time", "CPU 时间";
    XColSyscallsPerS => "system calls per second", "每秒系统调用";
    XColEagainPerS => "EAGAIN per second", "每秒 EAGAIN";
    XColLines => "lines", "消息数";
    XColSyscallsPerLine => "system calls per line", "每条消息的系统调用";
    XColP50 => "latency p50", "延迟 p50";
    XColP99 => "latency p99", "延迟 p99";
    XColCpuPerLine => "CPU per line", "每条消息的 CPU";
    XColApi => "call", "调用";
    XColIdleConns => "idle connections", "空闲连接";
    XColHeld => "held", "保持的连接";
    XColScanned => "descriptors scanned per wait", "每次等待扫描的描述符";
    XColReady => "ready per wait", "每次等待就绪数";
    XColNote => "note", "说明";
    XColEvery => "a line every", "发送间隔";
    XColWorkUnits => "work units done", "完成的工作量";
    XColWorkPerS => "work units per second", "每秒工作量";
    XColConns => "connections", "连接数";
    XColLinesPerS => "lines per second", "每秒消息数";
    XColPerWakeup => "requests per wake-up", "每次唤醒的请求数";
    XColServed => "served", "得到服务";
    XYes => "yes", "是";
    XNo => "no", "否";
    XIdle => "A connected, idle", "A 已连接、空闲";
    XGone => "A gone", "A 已离开";
    XAlone => "B alone", "只有 B";
    XUnavailable => "unavailable here", "本机不可用";
    XAboveFdSetSize => "select cannot watch descriptors of 1024 or more (FD_SETSIZE)", "select 无法监视 1024 及以上的描述符(FD_SETSIZE)";
    XRefused => "some connections refused", "部分连接被拒绝";
    XEventsLost => "some recorded events were lost: counts from events are low", "部分记录的事件丢失:基于事件的计数偏低";
    XOneAtATime => "serves one connection at a time: the rest wait forever", "一次只服务一个连接:其余的永远等待";
    XPoolCeiling => "4 workers keep one connection each until it closes: the rest wait or are refused", "4 个工作线程各自占用一个连接直到关闭:其余的等待或被拒绝";
    XProcessPerConn => "one child process per connection", "每个连接一个子进程";
    XDescriptorLimit => "fewer connections: the descriptor limit (RLIMIT_NOFILE) allows no more", "连接数减少:描述符上限(RLIMIT_NOFILE)不允许更多";
    XSomeFailed => "some connections got no echo", "部分连接没有得到回显";
    // -- predict, then see (questions.rs, components/question.rs) ----------------------------
    QuestionHeading => "Predict, then see", "先预测,再看结果";
    QuestionAskingHelp =>
        "Pick an answer, then reveal: the line is sent and the recorded steps decide.",
        "先选一个答案,再揭晓:这行字会被发送,由记录下来的步骤来判定。";
    QuestionVoteHelp =>
        "Vote from your page; the teacher reveals what the kernel did.",
        "在你的页面上投票;老师揭晓内核实际做了什么。";
    QuestionReveal => "Reveal: send the line", "揭晓:发送这行字";
    QuestionRevealing => "The line is on its way; waiting for its recorded steps…", "这行字正在路上,等待它被记录下来的步骤……";
    QuestionConfirmed => "what the recorded steps show", "记录下来的步骤所显示的";
    QuestionNoneConfirmed =>
        "None of the answers: the recorded steps show this instead:",
        "没有一个答案成立,记录下来的步骤显示的是:";
    QuestionYours => "your answer", "你的答案";
    QuestionRight => "Right.", "答对了。";
    QuestionWrong => "Not this time.", "这次没答对。";
    QuestionVoters => "{0} voted", "{0} 人已投票";
    QuestionShowVotes => "Show the votes", "显示投票分布";
    QuestionHideVotes => "Hide the votes", "隐藏投票分布";
    QuestionVotesFor => "{0} votes for “{1}”", "“{1}”得 {0} 票";
    QuestionScore => "Score on this tour: {0} of {1}", "本次导览得分:{1} 题答对 {0} 题";
    QuestionClearScore => "Clear the score", "清除得分";
    EvInRecv => "It slept {0} in recv while the line was on its way.", "它在 recv 里睡了 {0},这期间这行字正在路上。";
    EvInRecvUnmeasured => "It slept in recv; phase 1 was not measured.", "它在 recv 里睡着;第一阶段没有测到。";
    EvInReadiness => "It waited {0} in {1} before {1} reported the socket readable.", "它在 {1} 里等了 {0},然后 {1} 报告该套接字可读。";
    EvEagains => "{0} EAGAINs on the copying thread before the recv that found the line.", "在找到这行字的 recv 之前,拷贝它的线程收到了 {0} 次 EAGAIN。";
    EvSignalled => "{0} was delivered: until then the thread ran, in no system call.", "内核递送了 {0}:在那之前线程一直在运行,不在任何系统调用里。";
    EvKernelCopied => "The completion brought {0} bytes the kernel had already copied.", "完成事件带来了内核已经拷贝好的 {0} 字节。";
    EvCopiedBy => "Copied by the thread {0}.", "由线程 {0} 拷贝。";
    EvReported => "{0} reported fd {1} ready (of {2} watched); your connection is fd {3}.", "{0} 报告 fd {1} 就绪(共监视 {2} 个);你的连接是 fd {3}。";
    EvCallback => "The loop called the callback {0}() for fd {1}.", "循环为 fd {1} 调用了回调 {0}()。";
    RNotAsked => "the question “{0}” is not being asked", "现在没有在问“{0}”这个问题";
    RNoSuchChoice => "there is no answer number {0}: the question has {1}", "没有第 {0} 号答案:这个问题共有 {1} 个答案";
    RVoteClosed => "the answer to “{0}” was revealed: voting is over", "“{0}”的答案已经揭晓:投票结束了";
    RNotRecorded =>
        "the step that answers “{0}” is not recorded yet: wait for the line to arrive",
        "回答“{0}”的那一步还没有被记录下来:请等这行字到达";
    OnlyTeacherAsk => "ask the class a question", "向全班提问";
    OnlyTeacherReveal => "reveal the answer", "揭晓答案";
    CmdAsk => "ask the class", "向全班提问";
    CmdVote => "vote", "投票";
    CmdReveal => "reveal the answer", "揭晓答案";
    // -- keeping a lesson: recordings, Perfetto, figures, links --------------------------------
    KeepMenu => "Keep", "保存";
    KeepMenuHelp =>
        "Keep this lesson: record, save or open a recording, export for Perfetto, save the figure, copy a link to this step",
        "保存这节课:录制、保存或打开录像,导出到 Perfetto,保存示意图,复制指向此步骤的链接";
    RecordStart => "● Record", "● 录制";
    RecordStop => "■ Stop recording", "■ 停止录制";
    RecordBound =>
        "While recording, each model keeps its newest {0} steps (usually {1}); save before stopping: stopping trims back.",
        "录制时每个模型保留最新的 {0} 个步骤(平时 {1} 个);请在停止前保存:停止后会裁剪回去。";
    SaveScope => "Save which events", "保存哪些事件";
    SaveScopeShown => "the shown model's", "当前模型的";
    SaveScopeEvery => "every model's", "所有模型的";
    SaveRecording => "Save recording", "保存录像";
    OpenRecording => "Open a recording", "打开录像";
    ExportTrace => "Export for Perfetto (Chrome trace)", "导出到 Perfetto(Chrome trace)";
    SaveFigure => "Save figure (SVG)", "保存示意图(SVG)";
    SaveFigurePng => "Save figure (PNG, 2×)", "保存示意图(PNG,2 倍)";
    CopyLink => "Copy link to this step", "复制指向此步骤的链接";
    LinkCopied => "Link to this step: {0}", "指向此步骤的链接:{0}";
    BadgeRecording => "recording of {0}, {1}", "{0} 的录像,{1}";
    ReplayingNote =>
        "A recording plays: no server is used, and starting models, echo clients and loads are live-only.",
        "正在播放录像:不使用服务器;启动模型、回显客户端和负载只在实时模式可用。";
    ReplayLost => "{0} events were lost while this was recorded.", "录制时丢失了 {0} 个事件。";
    RecNotGzip =>
        "This file is not a Kettle recording: it is not gzip-compressed (a recording is gzip-compressed JSON Lines).",
        "这个文件不是 Kettle 录像:它不是 gzip 压缩的(录像是 gzip 压缩的 JSON Lines)。";
    RecTruncated =>
        "The recording is cut short: it ends after {0} events, before its end mark. Was the copy or download interrupted?",
        "录像不完整:在 {0} 个事件之后、结束标记之前就中断了。复制或下载是否被打断?";
    RecNotARecording =>
        "This file is not a Kettle recording: its first line is not a recording's header.",
        "这个文件不是 Kettle 录像:第一行不是录像的文件头。";
    RecNewer =>
        "This recording is in format version {0}, made by a newer Kettle; this page reads versions up to {1}. Open it with a newer Kettle.",
        "这个录像使用第 {0} 版格式,由更新的 Kettle 制作;本页面最多读取第 {1} 版。请用更新的 Kettle 打开。";
    RecOlder =>
        "This recording is in format version {0}, older than any this page reads (the oldest is {1}). Open it with the Kettle that made it.",
        "这个录像使用第 {0} 版格式,比本页面能读取的都旧(最旧为第 {1} 版)。请用制作它的 Kettle 打开。";
    RecBadLine => "The recording's line {0} is not an event: the file is damaged.", "录像的第 {0} 行不是事件:文件已损坏。";
    RecCountMismatch =>
        "The recording's end mark counts {0} events but {1} were read: the file was changed or damaged.",
        "录像的结束标记记录了 {0} 个事件,但读到 {1} 个:文件被修改或已损坏。";
    RecAfterEnd =>
        "The recording goes on after its end mark (line {0}): the file was changed or damaged.",
        "录像在结束标记之后还有内容(第 {0} 行):文件被修改或已损坏。";
    RecOtherOrigin =>
        "The recording address {0} is on another site: the page opens recordings from its own server only.",
        "录像地址 {0} 在其他网站上:本页面只打开来自自己服务器的录像。";
    RecFetch => "The recording {0} could not be fetched (HTTP {1}).", "无法获取录像 {0}(HTTP {1})。";
    RecFetchNoAnswer => "The recording {0} could not be fetched: nothing answered.", "无法获取录像 {0}:没有应答。";
    RecFileUnread => "The browser could not read the chosen file.", "浏览器无法读取所选文件。";
    RecNothingToSave => "Nothing to save yet: the chosen models have no events.", "还没有可保存的内容:所选模型没有事件。";
    RecNoAddress =>
        "This recording was opened from a file: a link to its steps needs its address. Serve it beside the page and open it with ?recording=.",
        "这个录像是从文件打开的:指向其步骤的链接需要它的地址。请把它和页面放在一起,用 ?recording= 打开。";
}

impl Lang {
    fn pick(self, key: Key) -> &'static str {
        let (en, zh) = entry(key);
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// The string in the given language.
pub fn t(lang: Lang, key: Key) -> &'static str {
    lang.pick(key)
}

/// A template filled with values: `{0}` is `args[0]`, and so on.
pub fn tf(lang: Lang, key: Key, args: &[&dyn Display]) -> String {
    let template = t(lang, key);
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|close| Some((close, after[..close].parse::<usize>().ok()?)))
        {
            Some((close, n)) => {
                if let Some(arg) = args.get(n) {
                    out.push_str(&arg.to_string());
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A text of the model catalogue (`kettle_shared::MODELS`, `ModelInfo`), which carries both
/// languages itself: the one for `lang`. Components call this rather than branch on the
/// language.
pub fn catalogue<'a>(lang: Lang, en: &'a str, zh: &'a str) -> &'a str {
    match lang {
        Lang::En => en,
        Lang::Zh => zh,
    }
}

/// A model state as shown on the page (the `data-state` attribute always stays English).
pub fn model_state(lang: Lang, state: ModelState) -> &'static str {
    match (lang, state) {
        (Lang::En, ModelState::Running) => "running",
        (Lang::En, ModelState::Stopped) => "stopped",
        (Lang::En, ModelState::Unavailable) => "unavailable",
        (Lang::Zh, ModelState::Running) => "运行中",
        (Lang::Zh, ModelState::Stopped) => "已停止",
        (Lang::Zh, ModelState::Unavailable) => "不可用",
    }
}

/// The stable English name of a state, for `data-state`.
pub fn model_state_id(state: ModelState) -> &'static str {
    model_state(Lang::En, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<usize> {
        let mut found: Vec<usize> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').and_then(|(n, _)| n.parse().ok()))
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn every_key_exists_in_both_languages_with_the_same_placeholders() {
        for &key in Key::ALL {
            let (en, zh) = entry(key);
            assert!(!en.is_empty() && !zh.is_empty(), "{key:?}");
            assert_eq!(placeholders(en), placeholders(zh), "{key:?}: placeholders differ");
        }
    }

    #[test]
    fn templates_fill_positionally_in_each_language_order() {
        assert_eq!(tf(Lang::En, Key::StepAioDone, &[&5, &12]), "callback: 12 B in buffer (fd 5)");
        assert_eq!(tf(Lang::En, Key::Port, &[&9000]), "port 9000");
        assert_eq!(tf(Lang::Zh, Key::Port, &[&9000]), "端口 9000");
        assert_eq!(tf(Lang::En, Key::StepRecvData, &[&3, &"{x}"]), "return 3 bytes \"{x}\"");
    }

    #[test]
    fn state_ids_are_the_protocol_words() {
        assert_eq!(model_state_id(ModelState::Running), "running");
        assert_eq!(model_state_id(ModelState::Stopped), "stopped");
        assert_eq!(model_state_id(ModelState::Unavailable), "unavailable");
        assert_eq!(Lang::En.toggled(), Lang::Zh);
    }
}
