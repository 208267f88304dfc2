//! The backend's reasons in the reader's language.
//!
//! The backend never sends a sentence: why a model stopped, why a connection was refused or
//! ended, why a command failed, all arrive as a [`Reason`] — a code with parameters (an errno
//! name, a descriptor, a limit, a model id). This module words them through the translation
//! table, at render time, so switching the language re-words everything already on screen,
//! errors included. Errno, system call and signal names are parameters and stay as the man
//! pages spell them; a model id becomes the model's title in the page language.

use kettle_shared::{ChildExit, Command, Reason};

use crate::errors::{ErrorNote, Garble, Problem, RecordingProblem};
use crate::format::format_duration;
use crate::i18n::{catalogue, t, tf, Key, Lang};

/// A model's title in the page language, or the id as sent when no model has it.
pub fn model_title(lang: Lang, id: &str) -> String {
    match kettle_shared::model(id) {
        Some(m) => catalogue(lang, m.title, m.title_zh).to_owned(),
        None => id.to_owned(),
    }
}

fn millis(ms: u64) -> String {
    format_duration(ms.saturating_mul(1_000_000))
}

/// A reason's code as on the wire (`"queue_full"`), for `data-reason` attributes.
pub fn reason_code(r: &Reason) -> &'static str {
    r.into()
}

/// One reason, as a phrase.
pub fn reason(lang: Lang, r: &Reason) -> String {
    use Reason as R;
    let key = |k| t(lang, k).to_owned();
    match r {
        R::StoppedOnRequest => key(Key::RStoppedOnRequest),
        R::ServerReturned => key(Key::RServerReturned),
        R::SyscallFailed { call, errno } => tf(lang, Key::RSyscallFailed, &[call, errno]),
        R::ServerFailed { errno: None } => key(Key::RServerFailed),
        R::ServerFailed { errno: Some(errno) } => tf(lang, Key::RServerFailedErrno, &[errno]),
        R::Panicked { thread } => tf(lang, Key::RPanicked, &[thread]),
        R::NoWorkers => key(Key::RNoWorkers),
        R::ConnectionQueued => key(Key::RConnectionQueued),
        R::KernelRefused { call, errno } => tf(lang, Key::RKernelRefused, &[call, errno]),
        R::IoUringOpMissing { op } => tf(lang, Key::RIoUringOpMissing, &[op]),
        R::CannotListen { port, errno } => tf(lang, Key::RCannotListen, &[port, errno]),
        R::ProgramExited { exit } => tf(lang, Key::RProgramExited, &[&child_exit(lang, exit)]),
        R::NeverListened { secs } => tf(lang, Key::RNeverListened, &[secs]),
        R::ProgramNotRunnable { program, errno } => {
            let key = match errno.as_str() {
                "ENOENT" => Key::RProgramNotFound,
                "EACCES" => Key::RProgramNotExecutable,
                _ => Key::RProgramNotRunnable,
            };
            tf(lang, key, &[program, errno])
        }
        // The cause, then the fix: Yama's scope 3 has none short of a reboot.
        R::CannotTrace { call, errno, ptrace_scope: Some(scope @ 3) } => {
            tf(lang, Key::RCannotTraceScope3, &[call, errno, scope])
        }
        R::CannotTrace { call, errno, ptrace_scope: Some(scope) } => {
            tf(lang, Key::RCannotTraceScope, &[call, errno, scope])
        }
        R::CannotTrace { call, errno, ptrace_scope: None } => {
            tf(lang, Key::RCannotTrace, &[call, errno])
        }
        R::OutOfDescriptors { errno, retry_ms } => {
            tf(lang, Key::ROutOfDescriptors, &[errno, retry_ms])
        }
        R::AboveFdSetSize { fd, limit } => tf(lang, Key::RAboveFdSetSize, &[fd, limit]),
        R::ThreadCapReached { limit } => tf(lang, Key::RThreadCapReached, &[limit]),
        R::ProcessCapReached { limit } => tf(lang, Key::RProcessCapReached, &[limit]),
        R::QueueFull { capacity } => tf(lang, Key::RQueueFull, &[capacity]),
        R::CannotCreateThread { errno } => tf(lang, Key::RCannotCreateThread, &[errno]),
        R::CannotCreateWorker { worker, errno } => {
            tf(lang, Key::RCannotCreateWorker, &[worker, errno])
        }
        R::CannotCreateProcess { errno } => tf(lang, Key::RCannotCreateProcess, &[errno]),
        R::AioQueueFailed { errno } => tf(lang, Key::RAioQueueFailed, &[errno]),
        R::AioUnfinished { count } => tf(lang, Key::RAioUnfinished, &[count]),
        R::ServerClosed => key(Key::RServerClosed),
        R::ClosedByPage => key(Key::RClosedByPage),
        R::PageWentAway => key(Key::RPageWentAway),
        R::ConnectionError { errno } => tf(lang, Key::RConnectionError, &[errno]),
        R::NoSuchModel { model } => tf(lang, Key::RNoSuchModel, &[model]),
        R::NoSuchClient { client } => tf(lang, Key::RNoSuchClient, &[client]),
        R::NotRunning { model } => tf(lang, Key::RNotRunning, &[&model_title(lang, model)]),
        R::TooManyClients { limit } => tf(lang, Key::RTooManyClients, &[limit]),
        R::ComputeOutOfRange { ms, max } => tf(lang, Key::RComputeOutOfRange, &[ms, max]),
        R::ComputeBusy => t(lang, Key::RComputeBusy).to_owned(),
        R::OutOfRange { field, value, min, max } => {
            tf(lang, Key::ROutOfRange, &[&field_name(lang, field), value, min, max])
        }
        R::LoadRunning { model } => tf(lang, Key::RLoadRunning, &[&model_title(lang, model)]),
        R::NoLoadRunning => t(lang, Key::RNoLoadRunning).to_owned(),
        R::NotAModelPort { addr } => tf(lang, Key::RNotAModelPort, &[addr]),
        R::NoSuchExperiment { name, known } => {
            tf(lang, Key::RNoSuchExperiment, &[name, &known.join(", ")])
        }
        R::NoSuchExcerpt { file, name } => tf(lang, Key::RNoSuchExcerpt, &[file, name]),
        R::ExperimentRunning { name } => tf(lang, Key::RExperimentRunning, &[name]),
        R::LineTooLong { limit } => tf(lang, Key::RLineTooLong, &[limit]),
        R::ClientAlreadyClosed { client } => tf(lang, Key::RClientAlreadyClosed, &[client]),
        R::ConnectFailed { model, addr, errno } => {
            tf(lang, Key::RConnectFailed, &[&model_title(lang, model), addr, errno])
        }
        R::ConnectTimedOut { model, addr, after_ms } => {
            tf(lang, Key::RConnectTimedOut, &[&model_title(lang, model), addr, &millis(*after_ms)])
        }
        R::SendFailed { client, errno } => tf(lang, Key::RSendFailed, &[client, errno]),
        R::SendTimedOut { client, after_ms } => {
            tf(lang, Key::RSendTimedOut, &[client, &millis(*after_ms)])
        }
        R::BinaryFrame => key(Key::RBinaryFrame),
        R::UnknownOp { op, known } => tf(lang, Key::RUnknownOp, &[op, &known.join(", ")]),
        // The parser's own words are English: kept for `data-detail`, not for the sentence.
        R::NotACommand { .. } => key(Key::RNotACommand),
        R::HostNotAllowed { host } => tf(lang, Key::RHostNotAllowed, &[host]),
        R::OriginNotAllowed { origin } => tf(lang, Key::ROriginNotAllowed, &[origin]),
        R::TooManyViewers { max } => tf(lang, Key::RTooManyViewers, &[max]),
        R::TooManyRelayedConnections { max } => tf(lang, Key::RTooManyRelayedConnections, &[max]),
        R::TooManyCommands { per_second } => tf(lang, Key::RTooManyCommands, &[per_second]),
        R::TooManyInFlight { max } => tf(lang, Key::RTooManyInFlight, &[max]),
        R::LifecycleBusy { at_once, waited_ms } => {
            tf(lang, Key::RLifecycleBusy, &[at_once, &millis(*waited_ms)])
        }
        R::TeacherOnly { what } => tf(lang, Key::RTeacherOnly, &[&teacher_only(lang, what)]),
        R::TokenRefused => key(Key::RTokenRefused),
        R::NotAsked { question } => tf(lang, Key::RNotAsked, &[question]),
        R::NoSuchChoice { choice, choices } => tf(lang, Key::RNoSuchChoice, &[choice, choices]),
        R::VoteClosed { question } => tf(lang, Key::RVoteClosed, &[question]),
        R::NotRecorded { question } => tf(lang, Key::RNotRecorded, &[question]),
    }
}

/// What only the teacher can do, from the refused command's `op` (an unknown one as is).
fn teacher_only(lang: Lang, op: &str) -> String {
    let key = match op {
        "start" => Key::OnlyTeacherStart,
        "stop" => Key::OnlyTeacherStop,
        "load_start" | "load_stop" => Key::OnlyTeacherLoad,
        "experiment_run" => Key::OnlyTeacherExperiment,
        "compute" => Key::OnlyTeacherCompute,
        "follow_me" => Key::OnlyTeacherFollowMe,
        "ask" => Key::OnlyTeacherAsk,
        "reveal" => Key::OnlyTeacherReveal,
        other => return other.to_owned(),
    };
    t(lang, key).to_owned()
}

/// How a child process ended (`waitpid`).
pub fn child_exit(lang: Lang, exit: &ChildExit) -> String {
    match exit {
        ChildExit::Exited { code } => tf(lang, Key::ChildExited, &[code]),
        ChildExit::Killed { signo, name } => {
            tf(lang, Key::ChildKilled, &[&crate::format::signal_name(*signo, name)])
        }
        ChildExit::WaitFailed { errno } => tf(lang, Key::ChildWaitFailed, &[errno]),
    }
}

/// What a command asked for, to say which one failed (`start` + the model's title).
pub fn command(lang: Lang, command: &Command) -> String {
    match command {
        Command::Subscribe { .. } => t(lang, Key::CmdSubscribe).to_owned(),
        Command::Start { model } => tf(lang, Key::CmdStart, &[&model_title(lang, model)]),
        Command::Stop { model } => tf(lang, Key::CmdStop, &[&model_title(lang, model)]),
        Command::EchoOpen { model, .. } => tf(lang, Key::CmdEchoOpen, &[&model_title(lang, model)]),
        Command::EchoSend { client, .. } => tf(lang, Key::CmdEchoSend, &[client]),
        Command::EchoClose { client } => tf(lang, Key::CmdEchoClose, &[client]),
        Command::Compute { ms } => tf(lang, Key::CmdCompute, &[ms]),
        Command::Spotlight { model, .. } => {
            tf(lang, Key::CmdSpotlight, &[&model_title(lang, model)])
        }
        Command::LoadStart { spec } => {
            tf(lang, Key::CmdLoadStart, &[&model_title(lang, &spec.model)])
        }
        Command::LoadStop => t(lang, Key::CmdLoadStop).to_owned(),
        Command::ExperimentRun { name, .. } => tf(lang, Key::CmdExperimentRun, &[name]),
        Command::FollowMe { .. } => t(lang, Key::CmdFollowMe).to_owned(),
        Command::Ask { .. } => t(lang, Key::CmdAsk).to_owned(),
        Command::Vote { .. } => t(lang, Key::CmdVote).to_owned(),
        Command::Reveal { .. } => t(lang, Key::CmdReveal).to_owned(),
    }
}

/// A command's field, as [`Reason::OutOfRange`] names it, in words (an unknown one as is).
fn field_name(lang: Lang, field: &str) -> String {
    let key = match field {
        "conns" => Key::FieldConns,
        "secs" => Key::FieldSecs,
        "size" => Key::FieldSize,
        "rate" => Key::FieldRate,
        "sample" => Key::FieldSample,
        other => return other.to_owned(),
    };
    t(lang, key).to_owned()
}

/// What went wrong, without saying which command.
fn problem(lang: Lang, problem: &Problem) -> String {
    match problem {
        Problem::Backend { reason: r, .. } => reason(lang, r),
        Problem::NotConnected => t(lang, Key::NotConnected).to_owned(),
        Problem::Garbled(Garble::CannotOpen { url }) => tf(lang, Key::CannotOpenSocket, &[url]),
        Problem::Garbled(Garble::Binary) => t(lang, Key::GarbledBinary).to_owned(),
        Problem::Garbled(Garble::Unreadable { .. }) => t(lang, Key::GarbledText).to_owned(),
        Problem::Garbled(Garble::SendRefused) => t(lang, Key::BrowserRefusedSend).to_owned(),
        Problem::Recording(p) => recording_problem(lang, p),
    }
}

/// Why a recording could not be opened, fetched or saved, in words.
pub fn recording_problem(lang: Lang, problem: &RecordingProblem) -> String {
    use kettle_shared::recording::RecordingError as E;
    match problem {
        RecordingProblem::Unreadable(e) => match e {
            E::NotGzip => t(lang, Key::RecNotGzip).to_owned(),
            E::Truncated { events } => tf(lang, Key::RecTruncated, &[events]),
            E::NotARecording { .. } => t(lang, Key::RecNotARecording).to_owned(),
            E::NewerVersion { found, newest } => tf(lang, Key::RecNewer, &[found, newest]),
            E::OlderVersion { found, oldest } => tf(lang, Key::RecOlder, &[found, oldest]),
            E::BadLine { line, .. } => tf(lang, Key::RecBadLine, &[line]),
            E::CountMismatch { said, read } => tf(lang, Key::RecCountMismatch, &[said, read]),
            E::AfterEnd { line } => tf(lang, Key::RecAfterEnd, &[line]),
        },
        RecordingProblem::OtherOrigin { url } => tf(lang, Key::RecOtherOrigin, &[url]),
        RecordingProblem::Fetch { url, status: 0 } => tf(lang, Key::RecFetchNoAnswer, &[url]),
        RecordingProblem::Fetch { url, status } => tf(lang, Key::RecFetch, &[url, status]),
        RecordingProblem::FileUnread => t(lang, Key::RecFileUnread).to_owned(),
        RecordingProblem::NothingToSave => t(lang, Key::RecNothingToSave).to_owned(),
        RecordingProblem::NoAddress => t(lang, Key::RecNoAddress).to_owned(),
    }
}

/// An error of `#errors` as one sentence: the command that failed, if known, and why.
pub fn error_note(lang: Lang, note: &ErrorNote) -> String {
    let why = problem(lang, &note.problem);
    match &note.command {
        Some(c) => tf(lang, Key::ErrorOfCommand, &[&command(lang, c), &why]),
        None => why,
    }
}

/// The machine's own words behind an error, in English, for `data-detail` (developer tools),
/// never for the sentence on screen.
pub fn error_detail(note: &ErrorNote) -> Option<&str> {
    match &note.problem {
        Problem::Backend { reason: Reason::NotACommand { detail }, .. }
        | Problem::Garbled(Garble::Unreadable { detail }) => Some(detail),
        Problem::Recording(RecordingProblem::Unreadable(
            kettle_shared::recording::RecordingError::NotARecording { detail }
            | kettle_shared::recording::RecordingError::BadLine { detail, .. },
        )) => Some(detail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One reason of every kind, with every parameter set. Exhaustive by construction: the
    /// test below compares the codes with the list serde derives from the enum itself, so a
    /// variant added to the protocol fails it until it is added here (and worded).
    fn samples() -> Vec<Reason> {
        let e = || "EMFILE".to_owned();
        let model = || "select".to_owned();
        let addr = || "127.0.0.1:9005".to_owned();
        vec![
            Reason::StoppedOnRequest,
            Reason::ServerReturned,
            Reason::SyscallFailed { call: "epoll_wait".into(), errno: "EBADF".into() },
            Reason::ServerFailed { errno: None },
            Reason::ServerFailed { errno: Some(e()) },
            Reason::Panicked { thread: "model-select".into() },
            Reason::NoWorkers,
            Reason::ConnectionQueued,
            Reason::KernelRefused { call: "io_uring_setup".into(), errno: "EPERM".into() },
            Reason::IoUringOpMissing { op: "recvmsg".into() },
            Reason::CannotListen { port: 9005, errno: "EADDRINUSE".into() },
            Reason::ProgramExited { exit: ChildExit::Exited { code: 3 } },
            Reason::ProgramExited { exit: ChildExit::Killed { signo: 11, name: "SIGSEGV".into() } },
            Reason::NeverListened { secs: 10 },
            Reason::ProgramNotRunnable { program: "./echo.py".into(), errno: "ENOENT".into() },
            Reason::ProgramNotRunnable { program: "./echo.py".into(), errno: "EACCES".into() },
            Reason::ProgramNotRunnable { program: "./echo.py".into(), errno: "ENOEXEC".into() },
            Reason::CannotTrace {
                call: "ptrace".into(),
                errno: "EPERM".into(),
                ptrace_scope: None,
            },
            Reason::CannotTrace {
                call: "ptrace".into(),
                errno: "EPERM".into(),
                ptrace_scope: Some(1),
            },
            Reason::CannotTrace {
                call: "ptrace".into(),
                errno: "EPERM".into(),
                ptrace_scope: Some(3),
            },
            Reason::CannotTrace {
                call: "seccomp".into(),
                errno: "EACCES".into(),
                ptrace_scope: Some(0),
            },
            Reason::OutOfDescriptors { errno: e(), retry_ms: 100 },
            Reason::AboveFdSetSize { fd: 1030, limit: 1024 },
            Reason::ThreadCapReached { limit: 64 },
            Reason::ProcessCapReached { limit: 32 },
            Reason::QueueFull { capacity: 8 },
            Reason::CannotCreateThread { errno: "EAGAIN".into() },
            Reason::CannotCreateWorker { worker: 3, errno: "EAGAIN".into() },
            Reason::CannotCreateProcess { errno: e() },
            Reason::AioQueueFailed { errno: "EAGAIN".into() },
            Reason::AioUnfinished { count: 2 },
            Reason::ServerClosed,
            Reason::ClosedByPage,
            Reason::PageWentAway,
            Reason::ConnectionError { errno: "ECONNRESET".into() },
            Reason::NoSuchModel { model: "no-such-model".into() },
            Reason::NoSuchClient { client: 77 },
            Reason::NotRunning { model: model() },
            Reason::TooManyClients { limit: 16 },
            Reason::LineTooLong { limit: 8192 },
            Reason::ComputeOutOfRange { ms: 0, max: 5000 },
            Reason::ComputeBusy,
            Reason::OutOfRange { field: "conns".into(), value: 0, min: 1, max: 10_000 },
            Reason::LoadRunning { model: model() },
            Reason::NoLoadRunning,
            Reason::NotAModelPort { addr: addr() },
            Reason::NoSuchExperiment { name: "nope".into(), known: vec!["scan".into()] },
            Reason::NoSuchExcerpt { file: "blocking.rs".into(), name: "nope".into() },
            Reason::ExperimentRunning { name: "scan".into() },
            Reason::ClientAlreadyClosed { client: 5 },
            Reason::ConnectFailed { model: model(), addr: addr(), errno: "ECONNREFUSED".into() },
            Reason::ConnectTimedOut { model: model(), addr: addr(), after_ms: 3000 },
            Reason::SendFailed { client: 5, errno: "EPIPE".into() },
            Reason::SendTimedOut { client: 5, after_ms: 5000 },
            Reason::BinaryFrame,
            Reason::UnknownOp { op: "reboot".into(), known: vec!["start".into(), "stop".into()] },
            Reason::NotACommand { detail: "missing field `model`".into() },
            Reason::HostNotAllowed { host: "evil.example:7878".into() },
            Reason::OriginNotAllowed { origin: "http://evil.example".into() },
            Reason::TooManyViewers { max: 200 },
            Reason::TooManyRelayedConnections { max: 256 },
            Reason::TooManyCommands { per_second: 50 },
            Reason::TooManyInFlight { max: 32 },
            Reason::LifecycleBusy { at_once: 4, waited_ms: 20_000 },
            Reason::TeacherOnly { what: "stop".into() },
            Reason::TokenRefused,
            Reason::NotAsked { question: "select-wait".into() },
            Reason::NoSuchChoice { choice: 7, choices: 4 },
            Reason::VoteClosed { question: "select-wait".into() },
            Reason::NotRecorded { question: "select-wait".into() },
        ]
    }

    /// The variant names serde knows, read from its own "unknown variant" error: the one list
    /// that cannot forget a variant.
    fn every_code() -> Vec<String> {
        let err = serde_json::from_str::<Reason>(r#"{"code":"~"}"#).unwrap_err().to_string();
        let list = err.split_once("expected one of ").expect("serde lists the variants").1;
        // `a`, `b`, `c` at line 1 column 11: the names are the backquoted parts.
        list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
    }

    /// Every parameter of a sample, as the page would print it (a model id as its title).
    fn parameters(lang: Lang, r: &Reason) -> Vec<String> {
        let serde_json::Value::Object(map) = serde_json::to_value(r).unwrap() else { panic!() };
        map.into_iter()
            .filter(|(k, _)| k != "code")
            .filter(|(k, v)| k != "detail" && !v.is_null()) // the detail is deliberately not shown
            .flat_map(|(k, v)| match v {
                serde_json::Value::String(s) if k == "model" => vec![model_title(lang, &s)],
                serde_json::Value::String(s) if k == "field" => vec![field_name(lang, &s)],
                serde_json::Value::String(s) if k == "what" => vec![teacher_only(lang, &s)],
                exit if k == "exit" => {
                    vec![child_exit(lang, &serde_json::from_value(exit).unwrap())]
                }
                serde_json::Value::String(s) => vec![s],
                serde_json::Value::Array(items) => {
                    items.iter().map(|i| i.as_str().unwrap().to_owned()).collect()
                }
                serde_json::Value::Number(n) if k.ends_with("_ms") && k != "retry_ms" => {
                    vec![millis(n.as_u64().unwrap())]
                }
                other => vec![other.to_string()],
            })
            .collect()
    }

    /// ASCII words of three letters or more: in Chinese text, only names from the man pages
    /// and the page's own identifiers may be written in Latin letters.
    fn latin_words(text: &str) -> Vec<&str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 3)
            .collect()
    }

    /// Names that stay as they are in Chinese: calls, constants and headers as their man pages
    /// and RFCs spell them, a command-line flag, and Kettle's own name.
    const MAN_PAGE_NAMES: &[&str] = &[
        "accept",
        "select",
        "FD_SETSIZE",
        "aio",
        "aio_read",
        "glibc",
        "io_uring",
        "waitpid",
        "JSON",
        "Host",
        "Origin",
        "--allow-origin",
        "Kettle",
        "TCP",
        "PATH",
        "execve",
        "Yama",
        "CAP_SYS_PTRACE",
    ];

    /// What a reader types into a shell, which stays as typed in Chinese too (taken out before
    /// the parameters, so a call named `ptrace` is not cut out of the file's name).
    const AS_TYPED: &[&str] =
        &["/proc/sys/kernel/yama/ptrace_scope", "docker run --cap-add SYS_PTRACE", "chmod +x"];

    #[test]
    fn every_reason_has_words_in_both_languages_with_its_parameters_filled() {
        for r in samples() {
            // The code the page shows in `data-reason` is the one the wire carries.
            let wire = serde_json::to_value(&r).unwrap();
            assert_eq!(wire["code"].as_str(), Some(reason_code(&r)), "{r:?}");
            // And it reads back as it was written (the shared crate reads reasons by hand).
            assert_eq!(serde_json::from_value::<Reason>(wire).unwrap(), r);
        }
        let mut covered: Vec<String> =
            samples().iter().map(|r| reason_code(r).to_owned()).collect();
        covered.sort();
        covered.dedup();
        let mut all = every_code();
        all.sort();
        assert_eq!(covered, all, "samples() must hold one reason of every kind");
        for r in samples() {
            let en = reason(Lang::En, &r);
            let zh = reason(Lang::Zh, &r);
            assert!(!en.is_empty() && !zh.is_empty(), "{r:?}");
            assert_ne!(en, zh, "{r:?}: the Chinese is the English");
            for lang in [Lang::En, Lang::Zh] {
                let text = reason(lang, &r);
                assert!(!text.contains('{'), "{r:?}: unfilled placeholder in {text}");
                for p in parameters(lang, &r) {
                    assert!(text.contains(&p), "{r:?} in {lang:?}: {p} missing from {text:?}");
                }
            }
            // Take the parameters out; what is left of the Chinese must be Chinese.
            let mut rest = zh.clone();
            for typed in AS_TYPED {
                rest = rest.replace(typed, " ");
            }
            for p in parameters(Lang::Zh, &r) {
                rest = rest.replace(&p, " ");
            }
            let english: Vec<_> =
                latin_words(&rest).into_iter().filter(|w| !MAN_PAGE_NAMES.contains(w)).collect();
            assert!(english.is_empty(), "{r:?}: English left in {zh:?}: {english:?}");
        }
    }

    #[test]
    fn a_model_id_is_named_by_its_title_in_the_page_language() {
        let r = Reason::NotRunning { model: "select".into() };
        assert_eq!(reason(Lang::En, &r), "I/O multiplexing: select is not running; start it first");
        assert_eq!(reason(Lang::Zh, &r), "IO多路复用(select) 没有在运行,请先启动它");
    }

    #[test]
    fn a_students_refused_command_says_what_only_the_teacher_can_do() {
        let r = Reason::TeacherOnly { what: "stop".into() };
        assert_eq!(reason(Lang::En, &r), "only the teacher can stop models");
        assert_eq!(reason(Lang::Zh, &r), "只有老师可以停止模型");
        for op in ["start", "load_start", "load_stop", "experiment_run", "compute", "follow_me"] {
            let words = teacher_only(Lang::Zh, op);
            assert_ne!(words, op, "{op} has words");
        }
    }

    #[test]
    fn a_child_exit_is_worded_with_the_signal_name() {
        let killed = ChildExit::Killed { signo: 9, name: "SIGKILL".into() };
        assert_eq!(child_exit(Lang::En, &killed), "killed by SIGKILL");
        assert_eq!(child_exit(Lang::Zh, &killed), "被 SIGKILL 杀死");
        assert_eq!(child_exit(Lang::Zh, &ChildExit::Exited { code: 0 }), "退出状态 0");
    }
}
