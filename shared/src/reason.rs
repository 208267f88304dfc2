//! Why something happened, as a code with parameters — never as a sentence.
//!
//! The backend explains itself in many places: why a model stopped or cannot run, why a
//! connection was refused, why an echo client's connection ended, why a command failed. Each
//! explanation is a [`Reason`]: a `"code"` naming the case in `snake_case` and the values that
//! make it concrete (an errno name, a descriptor, a limit, a model id). The page turns it into
//! a sentence in the reader's language, so no English written by the backend ever reaches a
//! Chinese page. Names from the man pages — system calls, errno names (`EMFILE`), signal names
//! — are parameters and stay as they are in every language.
//!
//! On the wire a reason is one JSON object:
//!
//! ```json
//! {"code":"out_of_descriptors","errno":"EMFILE","retry_ms":100}
//! {"code":"queue_full","capacity":8}
//! {"code":"stopped_on_request"}
//! ```
//!
//! A new case is a new variant (and a [`crate::PROTOCOL_VERSION`] bump); the page's tests fail
//! until it has words for it in both languages.

use serde::Serialize;

use crate::wire::{deserialize_tagged, unknown, Fields, Tagged};

/// Why something happened. See the module documentation for the wire format.
///
/// `errno` fields hold the symbolic name of the kernel's error as `errno(3)` lists it
/// (`"EMFILE"`, `"EAGAIN"`); `call` fields the name of a system call as its man page spells it.
///
/// Its code alone, as on the wire, is `<&str>::from(&reason)` (`strum::IntoStaticStr`): the
/// page puts it in `data-reason` attributes without serialising the whole reason.
///
/// Written by serde's derive; read back by the match below (see [`crate::wire`] for why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(tag = "code", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    // -- why a model stopped ([`crate::EventKind::Stopped`], [`crate::ModelInfo::reason`]) ------
    /// A viewer (or the command line) asked for the stop.
    StoppedOnRequest,
    /// The model's server function returned although nobody asked it to stop.
    ServerReturned,
    /// A system call failed and the server gave up.
    SyscallFailed {
        /// The call, as in its man page (`"epoll_wait"`, `"fcntl"`).
        call: String,
        /// What it returned.
        errno: String,
    },
    /// The server failed for a reason that names no system call.
    ServerFailed {
        /// The kernel's error, when there was one.
        errno: Option<String>,
    },
    /// A thread of the model panicked: a bug in Kettle, reported on the backend's terminal.
    Panicked {
        /// The thread's name (`"model-blocking"`).
        thread: String,
    },
    /// The thread pool could not create a single worker, so it cannot serve anyone.
    NoWorkers,

    // -- why a sleeping thread woke ([`crate::EventKind::ThreadWoken`]; also a stop) ---------
    /// A connection was put in the thread pool's queue, and the worker woke to take it.
    ConnectionQueued,

    // -- why a model cannot run or start ([`crate::ModelState::Unavailable`], start errors) ---
    /// The kernel refused a system call the model needs (`io_uring_setup` when io_uring is
    /// disabled or forbidden by a seccomp filter).
    KernelRefused {
        /// The call.
        call: String,
        /// What it returned (`"EPERM"`, `"ENOSYS"`).
        errno: String,
    },
    /// This kernel's io_uring lacks an operation the model uses (`IORING_OP_*`).
    IoUringOpMissing {
        /// The operation (`"accept"`, `"recvmsg"`).
        op: String,
    },
    /// The model's listening socket could not be bound (`bind`/`listen` failed).
    CannotListen {
        /// The port asked for; 0 means any.
        port: u16,
        /// What the kernel said (`"EADDRINUSE"`).
        errno: String,
    },

    // -- a traced program (`kettle trace -- PROGRAM`) ------------------------------------------
    /// The traced program ended by itself: its exit code, or the signal that killed it.
    ProgramExited {
        /// How, as `waitpid(2)` said.
        exit: ChildExit,
    },
    /// The traced program runs but has not listened on any TCP port after this long.
    NeverListened {
        /// Seconds waited.
        secs: u32,
    },
    /// The program could not be started: `execve(2)` failed.
    ProgramNotRunnable {
        /// The program as given on the command line.
        program: String,
        /// What the kernel said (`"ENOENT"`: not found; `"EACCES"`: not executable).
        errno: String,
    },
    /// The kernel would not let Kettle trace its own child (`ptrace(PTRACE_TRACEME)` or the
    /// seccomp filter refused).
    CannotTrace {
        /// The call that failed (`"ptrace"`, `"seccomp"`).
        call: String,
        /// What it returned (`"EPERM"`).
        errno: String,
        /// `/proc/sys/kernel/yama/ptrace_scope`, when the machine has Yama (3 forbids all
        /// ptrace until a reboot).
        ptrace_scope: Option<u32>,
    },

    // -- why a connection was refused ([`crate::EventKind::Refused`]) ----------------------------
    /// `accept` failed for want of descriptors; the server pauses before trying again.
    OutOfDescriptors {
        /// `"EMFILE"` (this process) or `"ENFILE"` (the whole system).
        errno: String,
        /// How long the server waits before it accepts again, in milliseconds.
        retry_ms: u64,
    },
    /// `select` cannot watch a descriptor this large: its bitmaps stop at `FD_SETSIZE`.
    AboveFdSetSize {
        /// The descriptor.
        fd: i32,
        /// `FD_SETSIZE` (1024).
        limit: u32,
    },
    /// A thread per connection: the cap on connection threads is reached.
    ThreadCapReached {
        /// Connection threads running (the cap).
        limit: u32,
    },
    /// A process per connection: the cap on child processes is reached.
    ProcessCapReached {
        /// Children running (the cap).
        limit: u32,
    },
    /// The thread pool's queue is full.
    QueueFull {
        /// Connections the queue holds.
        capacity: u32,
    },
    /// The kernel would not create a thread for the connection (`clone`/`pthread_create`).
    CannotCreateThread {
        /// What it said (`"EAGAIN"`).
        errno: String,
    },
    /// The kernel would not create one of the pool's workers; the pool runs smaller.
    CannotCreateWorker {
        /// Which worker (1, 2…).
        worker: u32,
        /// What it said.
        errno: String,
    },
    /// The kernel would not create a child process for the connection (`fork`/`exec`).
    CannotCreateProcess {
        /// What it said.
        errno: String,
    },
    /// `aio_read` failed: glibc could not queue the read.
    AioQueueFailed {
        /// What it returned.
        errno: String,
    },
    /// After a stop, some `aio_read` requests had still not completed when the model gave up
    /// waiting for them.
    AioUnfinished {
        /// How many.
        count: u32,
    },

    // -- why an echo client's connection ended ([`crate::EventKind::ClientClosed`]) -------------
    /// The model's server closed the connection (the relay's `recv` returned 0).
    ServerClosed,
    /// The page closed the echo client.
    ClosedByPage,
    /// The page's WebSocket ended, so the relay closed the page's echo clients.
    PageWentAway,
    /// The connection failed (`ECONNRESET`…).
    ConnectionError {
        /// What the kernel said.
        errno: String,
    },

    // -- why a command failed ([`crate::ServerMsg::Error`]) -------------------------------------
    /// No model has this id.
    NoSuchModel {
        /// The id asked for.
        model: String,
    },
    /// This viewer has no echo client with this id.
    NoSuchClient {
        /// The id asked for.
        client: u32,
    },
    /// The model must be running for this command.
    NotRunning {
        /// The model.
        model: String,
    },
    /// One viewer may have only so many echo clients.
    TooManyClients {
        /// [`crate::MAX_ECHO_CLIENTS_PER_VIEWER`].
        limit: u32,
    },
    /// The lesson's computation (`Command::Compute`) lasts 1 ms to [`crate::MAX_COMPUTE_MS`].
    ComputeOutOfRange {
        /// What was asked.
        ms: u32,
        /// [`crate::MAX_COMPUTE_MS`].
        max: u32,
    },
    /// One lesson computation runs at a time.
    ComputeBusy,
    /// A number in a command is out of its range (a load's connections, seconds, line size or
    /// rate; how many connections to follow).
    OutOfRange {
        /// Which field (`"conns"`, `"secs"`, `"size"`, `"rate"`, `"sample"`).
        field: String,
        /// What was asked.
        value: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// One load runs at a time, and one is running.
    LoadRunning {
        /// The model it runs against.
        model: String,
    },
    /// There is no load running to stop.
    NoLoadRunning,
    /// The load generator only connects to Kettle's own model ports on 127.0.0.1.
    NotAModelPort {
        /// The address asked for.
        addr: String,
    },
    /// No experiment has this id.
    NoSuchExperiment {
        /// The id asked for.
        name: String,
        /// The experiments there are ([`crate::EXPERIMENTS`]).
        known: Vec<String>,
    },
    /// No model file has a marked region of this name (`GET /api/excerpts/{file}/{name}`).
    NoSuchExcerpt {
        /// The file asked for.
        file: String,
        /// The region asked for.
        name: String,
    },
    /// One experiment runs at a time, and one is running.
    ExperimentRunning {
        /// The one running.
        name: String,
    },
    /// The echo line is too long.
    LineTooLong {
        /// [`crate::MAX_ECHO_TEXT_BYTES`].
        limit: u32,
    },
    /// The echo client's connection has already ended.
    ClientAlreadyClosed {
        /// The echo client.
        client: u32,
    },
    /// The relay's `connect` to the model failed.
    ConnectFailed {
        /// The model.
        model: String,
        /// The address it listens on.
        addr: String,
        /// What the kernel said (`"ECONNREFUSED"`).
        errno: String,
    },
    /// The relay's `connect` to the model did not finish in time.
    ConnectTimedOut {
        /// The model.
        model: String,
        /// The address it listens on.
        addr: String,
        /// How long the relay waited, in milliseconds.
        after_ms: u64,
    },
    /// Sending the echo line failed.
    SendFailed {
        /// The echo client.
        client: u32,
        /// What the kernel said (`"EPIPE"`).
        errno: String,
    },
    /// The line could not even be buffered: the server has not read for this long.
    SendTimedOut {
        /// The echo client.
        client: u32,
        /// How long the relay waited, in milliseconds.
        after_ms: u64,
    },
    /// Commands are JSON text frames; a binary frame came.
    BinaryFrame,
    /// The command's `op` is not one this protocol knows.
    UnknownOp {
        /// The op sent.
        op: String,
        /// The ops the protocol knows.
        known: Vec<String>,
    },
    /// The message is not a command (bad JSON, a missing or mistyped field).
    NotACommand {
        /// The JSON parser's own words (English), for people debugging a client by hand; the
        /// page does not show them.
        detail: String,
    },
    /// The `Host` header names another server (HTTP 403).
    HostNotAllowed {
        /// The header's value.
        host: String,
    },
    /// The `Origin` header names a page that may not command this server (HTTP 403).
    OriginNotAllowed {
        /// The header's value.
        origin: String,
    },
    // -- the server's limits (`kettle serve --max-viewers` and friends) -------------------------
    /// This server already has as many viewers as it admits; the page may try again later.
    TooManyViewers {
        /// The most viewers at once (`--max-viewers`).
        max: u32,
    },
    /// The server relays at most this many echo connections, over all its viewers together.
    TooManyRelayedConnections {
        /// The most relayed connections at once (`--max-echo-clients`).
        max: u32,
    },
    /// This viewer sent commands faster than the server takes them; that one was not carried
    /// out.
    TooManyCommands {
        /// The steady rate allowed (`--commands-per-second`).
        per_second: u32,
    },
    /// This viewer has this many commands still running; wait for their replies.
    TooManyInFlight {
        /// The most unanswered commands of one viewer.
        max: u32,
    },
    /// Models were being started or stopped for too long to take one more start or stop.
    LifecycleBusy {
        /// How many starts and stops run at once on the whole server.
        at_once: u32,
        /// How long this one waited for its turn.
        waited_ms: u64,
    },
    /// In classroom mode only the teacher (the page opened with the teacher's token, or an
    /// API request with `Authorization: Bearer <token>`) may do this; nothing was done.
    TeacherOnly {
        /// The command's `op` (`"start"`, `"stop"`, `"load_start"`, `"follow_me"`…).
        what: String,
    },
    /// The page brought a teacher token that is not this server's (it was restarted, and
    /// printed a new one): this viewer is a student.
    TokenRefused,

    // -- why a vote or a reveal was refused ([`crate::Command::Vote`], [`crate::Command::Reveal`])
    /// No question has this id, or the class is not being asked it now.
    NotAsked {
        /// The question's id as given.
        question: String,
    },
    /// The question has no choice with this number.
    NoSuchChoice {
        /// The choice as given.
        choice: u32,
        /// How many choices the question has (numbered from 0).
        choices: u32,
    },
    /// The question was revealed: its vote is closed.
    VoteClosed {
        /// The question's id.
        question: String,
    },
    /// The step that answers the question (the copy of the line on that connection, after
    /// that seq) is not among the events the backend recorded: the line did not arrive yet,
    /// or was sent elsewhere.
    NotRecorded {
        /// The question's id.
        question: String,
    },
}

deserialize_tagged!(Reason, ChildExit);

/// Read back through [`crate::wire`] rather than the derive, to keep the page's wasm small.
impl Tagged for Reason {
    const TAG: &'static str = "code";
    const TAGS: &'static [&'static str] = <Reason as strum::VariantNames>::VARIANTS;

    fn read(tag: &str, mut f: Fields) -> Result<Reason, String> {
        use Reason as R;
        Ok(match tag {
            "stopped_on_request" => R::StoppedOnRequest,
            "server_returned" => R::ServerReturned,
            "syscall_failed" => R::SyscallFailed { call: f.take("call")?, errno: f.take("errno")? },
            "server_failed" => R::ServerFailed { errno: f.take("errno")? },
            "panicked" => R::Panicked { thread: f.take("thread")? },
            "no_workers" => R::NoWorkers,
            "connection_queued" => R::ConnectionQueued,
            "kernel_refused" => R::KernelRefused { call: f.take("call")?, errno: f.take("errno")? },
            "io_uring_op_missing" => R::IoUringOpMissing { op: f.take("op")? },
            "cannot_listen" => R::CannotListen { port: f.take("port")?, errno: f.take("errno")? },
            "program_exited" => R::ProgramExited { exit: f.take("exit")? },
            "never_listened" => R::NeverListened { secs: f.take("secs")? },
            "program_not_runnable" => {
                R::ProgramNotRunnable { program: f.take("program")?, errno: f.take("errno")? }
            }
            "cannot_trace" => R::CannotTrace {
                call: f.take("call")?,
                errno: f.take("errno")?,
                ptrace_scope: f.take("ptrace_scope")?,
            },
            "out_of_descriptors" => {
                R::OutOfDescriptors { errno: f.take("errno")?, retry_ms: f.take("retry_ms")? }
            }
            "above_fd_set_size" => R::AboveFdSetSize { fd: f.take("fd")?, limit: f.take("limit")? },
            "thread_cap_reached" => R::ThreadCapReached { limit: f.take("limit")? },
            "process_cap_reached" => R::ProcessCapReached { limit: f.take("limit")? },
            "queue_full" => R::QueueFull { capacity: f.take("capacity")? },
            "cannot_create_thread" => R::CannotCreateThread { errno: f.take("errno")? },
            "cannot_create_worker" => {
                R::CannotCreateWorker { worker: f.take("worker")?, errno: f.take("errno")? }
            }
            "cannot_create_process" => R::CannotCreateProcess { errno: f.take("errno")? },
            "aio_queue_failed" => R::AioQueueFailed { errno: f.take("errno")? },
            "aio_unfinished" => R::AioUnfinished { count: f.take("count")? },
            "server_closed" => R::ServerClosed,
            "closed_by_page" => R::ClosedByPage,
            "page_went_away" => R::PageWentAway,
            "connection_error" => R::ConnectionError { errno: f.take("errno")? },
            "no_such_model" => R::NoSuchModel { model: f.take("model")? },
            "no_such_client" => R::NoSuchClient { client: f.take("client")? },
            "not_running" => R::NotRunning { model: f.take("model")? },
            "too_many_clients" => R::TooManyClients { limit: f.take("limit")? },
            "compute_out_of_range" => {
                R::ComputeOutOfRange { ms: f.take("ms")?, max: f.take("max")? }
            }
            "compute_busy" => R::ComputeBusy,
            "out_of_range" => R::OutOfRange {
                field: f.take("field")?,
                value: f.take("value")?,
                min: f.take("min")?,
                max: f.take("max")?,
            },
            "load_running" => R::LoadRunning { model: f.take("model")? },
            "no_load_running" => R::NoLoadRunning,
            "not_a_model_port" => R::NotAModelPort { addr: f.take("addr")? },
            "no_such_experiment" => {
                R::NoSuchExperiment { name: f.take("name")?, known: f.take("known")? }
            }
            "no_such_excerpt" => R::NoSuchExcerpt { file: f.take("file")?, name: f.take("name")? },
            "experiment_running" => R::ExperimentRunning { name: f.take("name")? },
            "line_too_long" => R::LineTooLong { limit: f.take("limit")? },
            "client_already_closed" => R::ClientAlreadyClosed { client: f.take("client")? },
            "connect_failed" => R::ConnectFailed {
                model: f.take("model")?,
                addr: f.take("addr")?,
                errno: f.take("errno")?,
            },
            "connect_timed_out" => R::ConnectTimedOut {
                model: f.take("model")?,
                addr: f.take("addr")?,
                after_ms: f.take("after_ms")?,
            },
            "send_failed" => R::SendFailed { client: f.take("client")?, errno: f.take("errno")? },
            "send_timed_out" => {
                R::SendTimedOut { client: f.take("client")?, after_ms: f.take("after_ms")? }
            }
            "binary_frame" => R::BinaryFrame,
            "unknown_op" => R::UnknownOp { op: f.take("op")?, known: f.take("known")? },
            "not_a_command" => R::NotACommand { detail: f.take("detail")? },
            "host_not_allowed" => R::HostNotAllowed { host: f.take("host")? },
            "origin_not_allowed" => R::OriginNotAllowed { origin: f.take("origin")? },
            "too_many_viewers" => R::TooManyViewers { max: f.take("max")? },
            "too_many_relayed_connections" => R::TooManyRelayedConnections { max: f.take("max")? },
            "too_many_commands" => R::TooManyCommands { per_second: f.take("per_second")? },
            "too_many_in_flight" => R::TooManyInFlight { max: f.take("max")? },
            "lifecycle_busy" => {
                R::LifecycleBusy { at_once: f.take("at_once")?, waited_ms: f.take("waited_ms")? }
            }
            "teacher_only" => R::TeacherOnly { what: f.take("what")? },
            "token_refused" => R::TokenRefused,
            "not_asked" => R::NotAsked { question: f.take("question")? },
            "no_such_choice" => {
                R::NoSuchChoice { choice: f.take("choice")?, choices: f.take("choices")? }
            }
            "vote_closed" => R::VoteClosed { question: f.take("question")? },
            "not_recorded" => R::NotRecorded { question: f.take("question")? },
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

impl Tagged for ChildExit {
    const TAG: &'static str = "how";
    const TAGS: &'static [&'static str] = &["exited", "killed", "wait_failed"];

    fn read(tag: &str, mut f: Fields) -> Result<ChildExit, String> {
        Ok(match tag {
            "exited" => ChildExit::Exited { code: f.take("code")? },
            "killed" => ChildExit::Killed { signo: f.take("signo")?, name: f.take("name")? },
            "wait_failed" => ChildExit::WaitFailed { errno: f.take("errno")? },
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

/// How a child process ended, as `waitpid(2)` reported it
/// ([`crate::EventKind::ChildReaped`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum ChildExit {
    /// It called `exit` (`WIFEXITED`).
    Exited {
        /// Its exit status (`WEXITSTATUS`).
        code: i32,
    },
    /// A signal ended it (`WIFSIGNALED`).
    Killed {
        /// The signal number (`WTERMSIG`).
        signo: i32,
        /// Its name (`"SIGKILL"`), when it has one.
        name: String,
    },
    /// `waitpid` itself failed.
    WaitFailed {
        /// What it returned.
        errno: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Reason, String> {
        serde_json::from_str::<Reason>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_reason_reads_back_ignoring_fields_it_does_not_have() {
        let json = r#"{"code":"compute_out_of_range","ms":9000,"max":5000,"extra":[1]}"#;
        assert_eq!(read(json), Ok(Reason::ComputeOutOfRange { ms: 9000, max: 5000 }));
        // An optional field may be missing or null.
        assert_eq!(read(r#"{"code":"server_failed"}"#), Ok(Reason::ServerFailed { errno: None }));
        let json = r#"{"code":"server_failed","errno":null}"#;
        assert_eq!(read(json), Ok(Reason::ServerFailed { errno: None }));
        let json = r#"{"code":"no_such_experiment","name":"x","known":["pool","scan"]}"#;
        let known = vec!["pool".to_owned(), "scan".to_owned()];
        assert_eq!(read(json), Ok(Reason::NoSuchExperiment { name: "x".into(), known }));
    }

    #[test]
    fn a_reason_with_an_unknown_code_names_every_known_one() {
        let err = read(r#"{"code":"~"}"#).unwrap_err();
        assert!(err.starts_with("unknown variant `~`, expected one of `stopped_on_request`, "));
        assert!(err.contains("`token_refused`"), "{err}");
    }

    #[test]
    fn a_reason_missing_or_mistyping_a_field_is_refused_with_the_field_named() {
        let err = read(r#"{"code":"syscall_failed","call":"fcntl"}"#).unwrap_err();
        assert!(err.starts_with("missing field `errno`"), "{err}");
        let err = read(r#"{"code":"queue_full","capacity":"eight"}"#).unwrap_err();
        assert!(err.starts_with("invalid type: string \"eight\""), "{err}");
        // `max` is a u64 for out_of_range, a u32 for the limits.
        let err = read(r#"{"code":"too_many_viewers","max":5000000000}"#).unwrap_err();
        assert!(err.contains("expected u32"), "{err}");
        assert!(read(r#"{"errno":"EMFILE"}"#).unwrap_err().starts_with("missing field `code`"));
    }

    #[test]
    fn a_reason_is_one_object_tagged_with_its_code() {
        let r = Reason::OutOfDescriptors { errno: "EMFILE".into(), retry_ms: 100 };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"{"code":"out_of_descriptors","errno":"EMFILE","retry_ms":100}"#);
        assert_eq!(serde_json::from_str::<Reason>(&json).unwrap(), r);
        assert_eq!(
            serde_json::to_string(&Reason::StoppedOnRequest).unwrap(),
            r#"{"code":"stopped_on_request"}"#
        );
    }

    #[test]
    fn a_child_exit_says_how() {
        let json = serde_json::to_string(&ChildExit::Killed { signo: 9, name: "SIGKILL".into() });
        assert_eq!(json.unwrap(), r#"{"how":"killed","signo":9,"name":"SIGKILL"}"#);
    }
}
