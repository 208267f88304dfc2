//! Server → browser: everything the backend sends a viewer.

use serde::{Deserialize, Serialize};

use crate::wire::{deserialize_tagged, unknown, Fields, Tagged};

use crate::{
    Aggregate, Ballot, Event, ExperimentTable, LoadReport, LoadSpec, ModelInfo, Reason, Role,
    TeacherView,
};

/// How the backend's clock relates to wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Clock {
    /// Wall-clock time (Unix epoch, milliseconds) at which `t_ns == 0`.
    pub start_unix_ms: u64,
    /// The backend's `t_ns` when this message was written.
    pub now_ns: u64,
}

/// Everything the backend sends to a viewer. Read back by the match below (see
/// [`crate::wire`] for why not the derive).
#[derive(Debug, Clone, PartialEq, Serialize, strum::VariantNames)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ServerMsg {
    /// The first message on every connection. It is followed by one [`ServerMsg::Batch`] of
    /// recent history: for every model, its newest events (periodic
    /// [`EventKind::ThreadSample`](crate::EventKind::ThreadSample)s excluded, so a busy model cannot push another's steps
    /// out). A viewer that gets a second `Hello` (it reconnected) starts afresh: that history
    /// replaces the events it kept, rather than adding to them.
    Hello {
        /// [`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) of the backend.
        protocol_version: u32,
        /// Every model and its state.
        models: Vec<ModelInfo>,
        /// The backend's clock.
        clock: Clock,
        /// Who this viewer is: decided once, when the WebSocket opened (a teacher everywhere
        /// outside classroom mode).
        role: Role,
        /// The server runs in classroom mode (`kettle serve --classroom`).
        classroom: bool,
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
    /// The relay ended one of this viewer's echo clients on its own — the model's server
    /// closed the connection, or the connection failed — and forgot it: its slot is free
    /// again, and sending through it is refused.
    EchoClosed {
        /// The echo client's id.
        client: u32,
        /// Why it ended ([`Reason::ServerClosed`], [`Reason::ConnectionError`]).
        reason: Reason,
    },
    /// Each subscribed model's counts for the last interval ([`crate::AGGREGATE_EVERY_MS`]):
    /// every event, also those not sent in detail.
    Aggregates {
        /// One per model that recorded anything or runs.
        aggregates: Vec<Aggregate>,
    },
    /// How the running load is going, about twice a second, and once more when it ends.
    Load {
        /// The report.
        report: LoadReport,
    },
    /// An experiment's rows so far, after each measurement.
    Experiment {
        /// The table.
        table: ExperimentTable,
    },
    /// "Follow me" changed: the teacher turned it on or off, or shows something else. Also
    /// sent after [`ServerMsg::Hello`] while it is on, so a late student follows at once.
    Follow {
        /// What the teacher shows; `None`: "follow me" is off.
        view: Option<TeacherView>,
    },
    /// The class's vote changed: a question was asked, a vote came or changed, the answer was
    /// revealed, or the asking ended. Also sent after [`ServerMsg::Hello`] while a question is
    /// asked, so a late student can vote.
    Ballot {
        /// The question and its votes; `None`: no question is asked.
        ballot: Option<Ballot>,
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

/// The result of a successful command. Read back by the match below.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, strum::VariantNames)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
        /// Its id, used by [`Command::EchoSend`](crate::Command::EchoSend) and [`Command::EchoClose`](crate::Command::EchoClose).
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
    /// The lesson's computation started ([`Command::Compute`](crate::Command::Compute)).
    Computing {
        /// The thread that computes, as its events name it ([`ThreadRef::id`](crate::ThreadRef::id)).
        thread: u32,
        /// For how long, in milliseconds.
        ms: u32,
    },
    /// The viewer now follows this many of the model's connections.
    Spotlit {
        /// The model.
        model: String,
        /// Connections followed besides the viewer's echo clients.
        sample: u32,
    },
    /// The load started.
    LoadStarted {
        /// What load.
        spec: LoadSpec,
    },
    /// The load was stopped.
    LoadStopped,
    /// The experiment started.
    ExperimentStarted {
        /// Its id.
        name: String,
        /// In its short form.
        short: bool,
    },
    /// "Follow me" is now on or off ([`Command::FollowMe`](crate::Command::FollowMe)).
    FollowMe {
        /// Whether the class follows the teacher.
        on: bool,
    },
    /// The question is asked, or the asking ended ([`Command::Ask`](crate::Command::Ask)).
    Asked {
        /// The question's id, or `None`.
        question: Option<String>,
    },
    /// This viewer's vote was counted ([`Command::Vote`](crate::Command::Vote)); an earlier
    /// vote of the same viewer was replaced.
    Voted {
        /// The question.
        question: String,
        /// The choice counted.
        choice: u32,
    },
    /// The answer was revealed ([`Command::Reveal`](crate::Command::Reveal)).
    Revealed {
        /// The question.
        question: String,
    },
}

/// Why a command failed. Its wire name is also `<&str>::from(code)` (`strum::IntoStaticStr`).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
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
    /// This viewer's role may not do this (a student's control command in classroom mode).
    Forbidden,
}

deserialize_tagged!(ServerMsg, ReplyResult);

impl Tagged for ServerMsg {
    const TAG: &'static str = "type";
    const TAGS: &'static [&'static str] = <ServerMsg as strum::VariantNames>::VARIANTS;

    fn read(tag: &str, mut f: Fields) -> Result<ServerMsg, String> {
        Ok(match tag {
            "hello" => ServerMsg::Hello {
                protocol_version: f.take("protocol_version")?,
                models: f.take("models")?,
                clock: f.take("clock")?,
                role: f.take("role")?,
                classroom: f.take("classroom")?,
            },
            "batch" => ServerMsg::Batch { events: f.take("events")?, dropped: f.take("dropped")? },
            "model" => ServerMsg::Model { model: f.take("model")? },
            "echo" => ServerMsg::Echo { client: f.take("client")?, text: f.take("text")? },
            "echo_closed" => {
                ServerMsg::EchoClosed { client: f.take("client")?, reason: f.take("reason")? }
            }
            "aggregates" => ServerMsg::Aggregates { aggregates: f.take("aggregates")? },
            "load" => ServerMsg::Load { report: f.take("report")? },
            "experiment" => ServerMsg::Experiment { table: f.take("table")? },
            "follow" => ServerMsg::Follow { view: f.take("view")? },
            "ballot" => ServerMsg::Ballot { ballot: f.take("ballot")? },
            "reply" => ServerMsg::Reply { id: f.take("id")?, result: f.take("result")? },
            "error" => ServerMsg::Error {
                id: f.take("id")?,
                code: f.take("code")?,
                reason: f.take("reason")?,
            },
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

impl Tagged for ReplyResult {
    const TAG: &'static str = "kind";
    const TAGS: &'static [&'static str] = <ReplyResult as strum::VariantNames>::VARIANTS;

    fn read(tag: &str, mut f: Fields) -> Result<ReplyResult, String> {
        use ReplyResult as R;
        Ok(match tag {
            "subscribed" => R::Subscribed { models: f.take("models")? },
            "model" => R::Model { model: f.take("model")? },
            "echo_opened" => R::EchoOpened {
                client: f.take("client")?,
                model: f.take("model")?,
                local: f.take("local")?,
            },
            "echo_sent" => R::EchoSent { client: f.take("client")?, bytes: f.take("bytes")? },
            "echo_closed" => R::EchoClosed { client: f.take("client")? },
            "computing" => R::Computing { thread: f.take("thread")?, ms: f.take("ms")? },
            "spotlit" => R::Spotlit { model: f.take("model")?, sample: f.take("sample")? },
            "load_started" => R::LoadStarted { spec: f.take("spec")? },
            "load_stopped" => R::LoadStopped,
            "experiment_started" => {
                R::ExperimentStarted { name: f.take("name")?, short: f.take("short")? }
            }
            "follow_me" => R::FollowMe { on: f.take("on")? },
            "asked" => R::Asked { question: f.take("question")? },
            "voted" => R::Voted { question: f.take("question")?, choice: f.take("choice")? },
            "revealed" => R::Revealed { question: f.take("question")? },
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    Clock { start_unix_ms, now_ns }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_carry_a_type_tag() {
        let msg =
            ServerMsg::Error { id: None, code: ErrorCode::BadRequest, reason: Reason::BinaryFrame };
        let json = serde_json::to_string(&msg).unwrap();
        assert!(json.starts_with(r#"{"type":"error""#), "{json}");
        assert!(json.contains(r#""code":"bad_request""#), "{json}");
        assert!(json.contains(r#""reason":{"code":"binary_frame"}"#), "{json}");
    }

    #[test]
    fn an_error_code_names_itself_as_it_is_named_on_the_wire() {
        for code in <ErrorCode as strum::VariantArray>::VARIANTS {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire.as_str(), Some(<&str>::from(*code)), "{code:?}");
        }
    }
    /// One of each case, by its wire name: a new case panics here until it has a sample (and
    /// its arm in the reader, or the round trip below fails).
    fn sample_message(tag: &str) -> ServerMsg {
        // A traced program, so the fields only it has are read back too.
        let model = crate::ModelInfo {
            id: "traced".into(),
            title: "python3 echo.py".into(),
            title_zh: "python3 echo.py".into(),
            figure: "Stevens Fig. 6.3".into(),
            family: Some(crate::Family::Multiplex),
            port: Some(9000),
            ports: vec![9000, 9001],
            command: Some("python3 echo.py".into()),
            state: crate::ModelState::Stopped,
            reason: Some(Reason::ProgramExited { exit: crate::ChildExit::Exited { code: 1 } }),
            passive: true,
        };
        let spec = LoadSpec { model: "epoll".into(), conns: 2, rate: None, size: 8, secs: 1 };
        match tag {
            "hello" => ServerMsg::Hello {
                protocol_version: 7,
                models: vec![model],
                clock: Clock { start_unix_ms: 1, now_ns: 2 },
                role: Role::Student,
                classroom: true,
            },
            "batch" => ServerMsg::Batch { events: vec![], dropped: 3 },
            "model" => ServerMsg::Model { model },
            "echo" => ServerMsg::Echo { client: 1, text: "hi\n".into() },
            "echo_closed" => ServerMsg::EchoClosed { client: 1, reason: Reason::ServerClosed },
            "aggregates" => ServerMsg::Aggregates { aggregates: vec![Aggregate::default()] },
            "load" => ServerMsg::Load {
                report: LoadReport {
                    spec,
                    elapsed_ms: 5,
                    conns_open: 2,
                    conns_failed: 0,
                    nofile_limit: 1024,
                    lines: 9,
                    bytes: 72,
                    mismatches: 0,
                    lines_per_s: 9,
                    latency: crate::Latency::default(),
                    fairness: (4, 5),
                    finished: false,
                    ended_by: None,
                },
            },
            "experiment" => ServerMsg::Experiment {
                table: ExperimentTable {
                    experiment: "scan".into(),
                    short: true,
                    columns: vec![],
                    rows: vec![],
                    step: 1,
                    steps: 2,
                    finished: false,
                    failed: None,
                },
            },
            "follow" => ServerMsg::Follow { view: Some(TeacherView::default()) },
            "ballot" => ServerMsg::Ballot {
                ballot: Some(Ballot {
                    question: "select-wait".into(),
                    voters: 3,
                    counts: Some(vec![1, 2, 0, 0]),
                    verdict: Some(crate::Verdict {
                        choice: Some(1),
                        evidence: crate::Evidence::InReadiness {
                            api: crate::WaitApi::Select,
                            ns: 342_000_000,
                        },
                    }),
                }),
            },
            "reply" => ServerMsg::Reply { id: 4, result: ReplyResult::LoadStarted { spec } },
            "error" => ServerMsg::Error {
                id: Some(4),
                code: ErrorCode::Limit,
                reason: Reason::LineTooLong { limit: 4096 },
            },
            other => panic!("no sample of the message `{other}`"),
        }
    }

    fn sample_result(tag: &str) -> ReplyResult {
        match tag {
            "subscribed" => ReplyResult::Subscribed { models: vec!["poll".into()] },
            "model" => match sample_message("model") {
                ServerMsg::Model { model } => ReplyResult::Model { model },
                _ => unreachable!(),
            },
            "echo_opened" => ReplyResult::EchoOpened {
                client: 1,
                model: "poll".into(),
                local: "127.0.0.1:5000".into(),
            },
            "echo_sent" => ReplyResult::EchoSent { client: 1, bytes: 3 },
            "echo_closed" => ReplyResult::EchoClosed { client: 1 },
            "computing" => ReplyResult::Computing { thread: 2, ms: 500 },
            "spotlit" => ReplyResult::Spotlit { model: "poll".into(), sample: 8 },
            "load_started" => match sample_message("reply") {
                ServerMsg::Reply { result, .. } => result,
                _ => unreachable!(),
            },
            "load_stopped" => ReplyResult::LoadStopped,
            "experiment_started" => {
                ReplyResult::ExperimentStarted { name: "c10k".into(), short: true }
            }
            "follow_me" => ReplyResult::FollowMe { on: true },
            "asked" => ReplyResult::Asked { question: Some("epoll-ready".into()) },
            "voted" => ReplyResult::Voted { question: "epoll-ready".into(), choice: 2 },
            "revealed" => ReplyResult::Revealed { question: "epoll-ready".into() },
            other => panic!("no sample of the reply `{other}`"),
        }
    }

    #[test]
    fn every_message_and_every_reply_reads_back_as_it_was_written() {
        use strum::VariantNames;
        for tag in ServerMsg::VARIANTS {
            let msg = sample_message(tag);
            let json = serde_json::to_string(&msg).unwrap();
            assert!(json.starts_with(&format!(r#"{{"type":"{tag}""#)), "{json}");
            assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg, "{json}");
        }
        for tag in ReplyResult::VARIANTS {
            let msg = ServerMsg::Reply { id: 1, result: sample_result(tag) };
            let json = serde_json::to_string(&msg).unwrap();
            assert!(json.contains(&format!(r#""kind":"{tag}""#)), "{json}");
            assert_eq!(serde_json::from_str::<ServerMsg>(&json).unwrap(), msg, "{json}");
        }
    }

    #[test]
    fn a_message_with_an_unknown_type_or_a_missing_field_is_refused_in_serdes_words() {
        let read = |json: &str| serde_json::from_str::<ServerMsg>(json).unwrap_err().to_string();
        assert!(read(r#"{"type":"gossip"}"#)
            .starts_with("unknown variant `gossip`, expected one of `hello`, "));
        assert!(read(r#"{"type":"echo","client":1}"#).starts_with("missing field `text`"));
        assert!(read(
            r#"{"type":"reply","id":1,"result":{"kind":"echo_sent","client":1,"bytes":-1}}"#
        )
        .starts_with("invalid value: integer `-1`, expected u32"));
        assert!(
            read(r#"["type","echo"]"#).starts_with("invalid type: sequence, expected an object")
        );
        assert!(read(r#"{"client":1}"#).starts_with("missing field `type`"));
    }
}
