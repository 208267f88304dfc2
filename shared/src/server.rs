//! Server → browser: everything the backend sends a viewer.

use serde::{Deserialize, Serialize};

use crate::{
    Aggregate, Event, ExperimentTable, LoadReport, LoadSpec, ModelInfo, Reason, Role, TeacherView,
};

/// How the backend's clock relates to wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Wall-clock time (Unix epoch, milliseconds) at which `t_ns == 0`.
    pub start_unix_ms: u64,
    /// The backend's `t_ns` when this message was written.
    pub now_ns: u64,
}

/// Everything the backend sends to a viewer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
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
}
