//! Every label of the page in English and Chinese.
//!
//! Labels are looked up by [`Key`] so a missing translation is a compile error, not a blank
//! on the projector. Lessons and model titles come from `kettle_shared::MODELS`, not from here.

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

    fn pick(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// A fixed label of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Key {
    Tagline,
    SwitchLanguage,
    Connecting,
    Connected,
    Reconnecting,
    VersionMismatch,
    Models,
    Port,
    PortChosenAtStart,
    Start,
    Stop,
    Lesson,
    NoModelSelected,
    Echo,
    EchoTarget,
    OpenClient,
    NoRunningModel,
    EchoPlaceholder,
    Send,
    CloseClient,
    Remove,
    ClientOpening,
    ClientWaitingInBacklog,
    ClientAccepted,
    ClientClosed,
    ClosedByYou,
    KettleConnectionLost,
    Errors,
    Dismiss,
    EventLog,
    AllModels,
    DroppedByBackend,
    TrimmedLocally,
    UnreadableEvents,
    NoEvents,
    EventsShown,
    Diagram,
    Application,
    Kernel,
    WaitForData,
    CopyData,
    ProcessBlocksIn,
    StillWaiting,
    StillCopying,
    Unknown,
    Compressed,
    DataArrived,
    DataAlreadyThere,
    Playback,
    Speed,
    Pause,
    Play,
    StepOne,
    Live,
    KeyHelp,
    NoStepsYet,
    Threads,
    Thread,
    CpuShare,
    Conns,
    Syscalls,
    BurningACore,
    NoThreadSamples,
}

/// The label in the given language.
pub fn t(lang: Lang, key: Key) -> &'static str {
    use Key::*;
    match key {
        Tagline => lang.pick("Linux I/O models, live", "Linux I/O 模型,实时演示"),
        SwitchLanguage => lang.pick("中文", "English"),
        Connecting => lang.pick("connecting", "正在连接"),
        Connected => lang.pick("connected", "已连接"),
        Reconnecting => lang.pick("reconnecting", "正在重连"),
        VersionMismatch => lang.pick(
            "This page speaks Kettle protocol version {page}, the server speaks version {server}. \
             Reload the page or rebuild: what you see may be wrong.",
            "本页面使用 Kettle 协议第 {page} 版,服务器使用第 {server} 版。请刷新页面或重新构建:\
             显示的内容可能不正确。",
        ),
        Models => lang.pick("I/O models", "I/O 模型"),
        Port => lang.pick("port", "端口"),
        PortChosenAtStart => lang.pick("chosen at start", "启动时分配"),
        Start => lang.pick("Start", "启动"),
        Stop => lang.pick("Stop", "停止"),
        Lesson => lang.pick("Lesson", "讲解"),
        NoModelSelected => lang.pick("Select a model to see its lesson.", "选择一个模型查看讲解。"),
        Echo => lang.pick("Echo clients", "回显客户端"),
        EchoTarget => lang.pick("Model", "模型"),
        OpenClient => lang.pick("Open client", "打开客户端"),
        NoRunningModel => lang.pick("no model is running", "没有正在运行的模型"),
        EchoPlaceholder => lang.pick("type a line, Enter sends", "输入一行文字,回车发送"),
        Send => lang.pick("Send", "发送"),
        CloseClient => lang.pick("Close", "关闭"),
        Remove => lang.pick("Remove", "移除"),
        ClientOpening => lang.pick("connecting…", "正在连接…"),
        ClientWaitingInBacklog => lang.pick(
            "connected: waiting in the listen backlog — the server has not called accept for it yet",
            "已连接:正在监听队列(backlog)中等待 —— 服务器还没有为它调用 accept",
        ),
        ClientAccepted => lang.pick("accepted by the server", "已被服务器 accept"),
        ClientClosed => lang.pick("closed", "已关闭"),
        ClosedByYou => lang.pick("closed by you", "由你关闭"),
        KettleConnectionLost => lang.pick("the page lost its connection to Kettle", "页面与 Kettle 的连接已断开"),
        Errors => lang.pick("Errors", "错误"),
        Dismiss => lang.pick("Dismiss", "关闭"),
        EventLog => lang.pick("Event log", "事件日志"),
        AllModels => lang.pick("all models", "所有模型"),
        DroppedByBackend => lang.pick("dropped by the server", "被服务器丢弃"),
        TrimmedLocally => lang.pick("trimmed from this page", "本页面已清除"),
        UnreadableEvents => lang.pick("unreadable (newer protocol)", "无法识别(协议更新)"),
        NoEvents => lang.pick("No events yet.", "还没有事件。"),
        EventsShown => lang.pick("events shown", "条事件"),
        Diagram => lang.pick("What the kernel did (Stevens Fig. 6.1)", "内核做了什么(Stevens 图 6.1)"),
        Application => lang.pick("application", "应用程序"),
        Kernel => lang.pick("kernel", "内核"),
        WaitForData => lang.pick("wait for data", "等待数据"),
        CopyData => lang.pick("copy data from kernel to user", "把数据从内核拷贝到用户空间"),
        ProcessBlocksIn => lang.pick("process blocks in call to", "进程阻塞于调用"),
        StillWaiting => lang.pick("waiting…", "等待中…"),
        StillCopying => lang.pick("copying…", "拷贝中…"),
        Unknown => lang.pick("not measured", "未测得"),
        Compressed => lang.pick("compressed", "已压缩"),
        DataArrived => lang.pick("data arrived", "数据到达"),
        DataAlreadyThere => lang.pick("data was already there", "数据早已到达"),
        Playback => lang.pick("Playback", "回放"),
        Speed => lang.pick("Speed", "速度"),
        Pause => lang.pick("Pause", "暂停"),
        Play => lang.pick("Play", "播放"),
        StepOne => lang.pick("Step", "单步"),
        Live => lang.pick("Live", "最新"),
        KeyHelp => lang.pick(
            "Space pause/play · → step · + / - speed · L language",
            "空格 暂停/播放 · → 单步 · + / - 调速 · L 切换语言",
        ),
        Threads => lang.pick("Threads (sampled every 250 ms)", "线程(每 250 毫秒采样)"),
        Thread => lang.pick("thread", "线程"),
        CpuShare => lang.pick("CPU", "CPU 占用"),
        Conns => lang.pick("connections", "连接数"),
        Syscalls => lang.pick("system calls", "系统调用次数"),
        BurningACore => lang.pick("burning a whole core", "占满了一个 CPU 核"),
        NoThreadSamples => lang.pick("no samples yet — start the model", "还没有采样——请先启动模型"),
        NoStepsYet => lang.pick(
            "No steps of this model yet: start it and open an echo client.",
            "这个模型还没有步骤:启动它并打开一个回显客户端。",
        ),
    }
}

/// A model state as shown on the page (the `data-state` attribute always stays English).
pub fn model_state(lang: Lang, state: ModelState) -> &'static str {
    match state {
        ModelState::Running => lang.pick("running", "运行中"),
        ModelState::Stopped => lang.pick("stopped", "已停止"),
        ModelState::Unavailable => lang.pick("unavailable", "不可用"),
    }
}

/// The stable English name of a state, for `data-state`.
pub fn model_state_id(state: ModelState) -> &'static str {
    model_state(Lang::En, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_exists_in_both_languages() {
        use Key::*;
        let all = [
            Tagline,
            SwitchLanguage,
            Connecting,
            Connected,
            Reconnecting,
            VersionMismatch,
            Models,
            Port,
            PortChosenAtStart,
            Start,
            Stop,
            Lesson,
            NoModelSelected,
            Echo,
            EchoTarget,
            OpenClient,
            NoRunningModel,
            EchoPlaceholder,
            Send,
            CloseClient,
            Remove,
            ClientOpening,
            ClientWaitingInBacklog,
            ClientAccepted,
            ClientClosed,
            ClosedByYou,
            KettleConnectionLost,
            Errors,
            Dismiss,
            EventLog,
            AllModels,
            DroppedByBackend,
            TrimmedLocally,
            UnreadableEvents,
            NoEvents,
            Diagram,
            Application,
            Kernel,
            WaitForData,
            CopyData,
            ProcessBlocksIn,
            StillWaiting,
            StillCopying,
            Unknown,
            Compressed,
            DataArrived,
            DataAlreadyThere,
            Playback,
            Speed,
            Pause,
            Play,
            StepOne,
            Live,
            KeyHelp,
            NoStepsYet,
            Threads,
            Thread,
            CpuShare,
            Conns,
            Syscalls,
            BurningACore,
            NoThreadSamples,
        ];
        for key in all {
            let (en, zh) = (t(Lang::En, key), t(Lang::Zh, key));
            assert!(!en.is_empty() && !zh.is_empty(), "{key:?}");
            if key != SwitchLanguage {
                assert_ne!(en, zh, "{key:?} is not translated");
            }
        }
    }

    #[test]
    fn state_ids_are_the_protocol_words() {
        assert_eq!(model_state_id(ModelState::Running), "running");
        assert_eq!(model_state_id(ModelState::Stopped), "stopped");
        assert_eq!(model_state_id(ModelState::Unavailable), "unavailable");
        assert_eq!(Lang::En.toggled(), Lang::Zh);
    }
}
