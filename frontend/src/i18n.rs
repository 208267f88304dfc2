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
    PresenterHelp => "F: presenter mode (figure and echo clients only, large type)", "F:演示模式(只显示图和回显客户端,大字号)";
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
        "Space pause/play · → step · + / - speed · L language · F presenter",
        "空格 暂停/播放 · → 单步 · + / - 调速 · L 切换语言 · F 演示模式";
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

    // -- the kernel's words: /proc samples on lanes, reasons from the backend (issue 7) ----
    KSectionStart => "-", "-";
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

    // -- the code panel --------------------------------------------------------------------
    CSectionStart => "-", "-";

    // -- narration and time travel ---------------------------------------------------------
    NSectionStart => "-", "-";

    // -- the kettle story, views and links -------------------------------------------------
    SSectionStart => "-", "-";

    // -- the guided tour -------------------------------------------------------------------
    TSectionStart => "-", "-";

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
