//! Browser → server: the commands a viewer sends, and their limits.

use serde::{Deserialize, Serialize};

use crate::{LoadSpec, TeacherView};

/// The largest command (one WebSocket message) the backend accepts, in bytes.
/// Larger messages close the socket with code 1009 ("message too big").
pub const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The longest line the browser echo client may send in one [`Command::EchoSend`], in bytes.
pub const MAX_ECHO_TEXT_BYTES: usize = 8 * 1024;

/// How many echo clients one viewer may hold open at once.
pub const MAX_ECHO_CLIENTS_PER_VIEWER: usize = 16;

/// Every `op` a [`Command`] can have, in declaration order (derived from the enum, like
/// serde's own tags: the test below compares the two).
pub const COMMAND_OPS: &[&str] = <Command as strum::VariantNames>::VARIANTS;

/// A command from a viewer. The backend answers each with a [`ServerMsg::Reply`](crate::ServerMsg::Reply) or a
/// [`ServerMsg::Error`](crate::ServerMsg::Error) carrying the same `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMsg {
    /// Chosen by the viewer; echoed in the answer.
    pub id: u64,
    /// What to do.
    #[serde(flatten)]
    pub command: Command,
}

/// What a viewer can ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::VariantNames)]
#[strum(serialize_all = "snake_case")]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Command {
    /// Receive events of these models only (`None`: every model, which is also what a new viewer
    /// gets before it sends any subscription).
    Subscribe {
        /// Model ids, or `None` for all.
        models: Option<Vec<String>>,
        /// Models whose [`crate::Aggregate`]s this viewer receives every
        /// [`crate::AGGREGATE_EVERY_MS`]: ids, or `None` (also when left out) for all.
        #[serde(default)]
        aggregates: Option<Vec<String>>,
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
        /// Which of the model's listening ports ([`ModelInfo::ports`](crate::ModelInfo::ports):
        /// a traced program may listen on several); `None` for its first. A port the model
        /// does not listen on is refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<u16>,
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
    /// Follow `sample` of the model's connections step by step, besides this viewer's own echo
    /// clients (which are always followed): when the model is crowded (more than
    /// [`crate::DETAIL_BUDGET_PER_S`] events a second) only followed connections are sent in
    /// detail. The backend picks the connections (the next ones that make a call; a closed one
    /// is replaced). 0 to [`crate::MAX_SAMPLED_CONNS`]; replaces this viewer's earlier choice
    /// for the model.
    Spotlight {
        /// Model id.
        model: String,
        /// How many connections to follow.
        sample: u32,
    },
    /// Start a load on a running model (one load at a time, on the whole server).
    LoadStart {
        /// What load.
        spec: LoadSpec,
    },
    /// Stop the running load now.
    LoadStop,
    /// Run an experiment (one at a time); its rows come as [`crate::ServerMsg::Experiment`].
    ExperimentRun {
        /// Its id, one of [`crate::EXPERIMENTS`].
        name: String,
        /// The short form: fewer connections, shorter runs.
        #[serde(default)]
        short: bool,
    },
    /// The teacher leads the class: `Some` turns "follow me" on (or keeps it on) with what the
    /// teacher's page shows now, sent again whenever that changes; `None` turns it off. Every
    /// viewer is told ([`crate::ServerMsg::Follow`]). Teacher only.
    FollowMe {
        /// What the teacher shows, or `None` to stop leading.
        view: Option<TeacherView>,
    },
    /// The teacher asks the class a tour question ([`crate::QUESTIONS`]) and opens a fresh,
    /// empty vote on it, replacing any earlier one; `None` ends the asking. Every viewer is
    /// told ([`crate::ServerMsg::Ballot`]). Teacher only.
    Ask {
        /// The question's id, or `None`.
        question: Option<String>,
    },
    /// This viewer's answer to the question being asked. One vote per viewer: a second vote
    /// replaces the first, until the reveal; then it is refused ([`crate::Reason::VoteClosed`]).
    /// Votes are anonymous and kept only in memory.
    Vote {
        /// The question's id (must be the one being asked).
        question: String,
        /// The choice, an index into the question's choices.
        choice: u32,
    },
    /// The teacher reveals the answer: the tour's line was sent on connection `conn` of the
    /// question's model once the teacher's page had seen events up to `after_seq`, and the
    /// backend judges it ([`crate::judge`]) from the events it recorded itself. The vote
    /// closes and every viewer is told the verdict and the final counts. Refused
    /// ([`crate::Reason::NotRecorded`]) while the line's step is not recorded. Teacher only.
    Reveal {
        /// The question's id (must be the one being asked).
        question: String,
        /// The connection the line was sent on, as the model numbered it.
        conn: u64,
        /// The newest event seq the teacher's page knew when it sent the line.
        after_seq: u64,
    },
}

/// The model id the lesson's computation ([`Command::Compute`]) records under. Not a model:
/// it is in no list of models, and [`Command::Start`] does not know it.
pub const LESSON_MODEL: &str = "lesson";

/// The longest computation [`Command::Compute`] runs, in milliseconds.
pub const MAX_COMPUTE_MS: u32 = 5_000;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model;

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
    fn the_lesson_is_not_a_model() {
        assert!(model(LESSON_MODEL).is_none());
        let json = r#"{"id":1,"op":"compute","ms":2500}"#;
        let msg: ClientMsg = serde_json::from_str(json).unwrap();
        assert_eq!(msg.command, Command::Compute { ms: 2500 });
    }

    /// The variant names serde knows, read from its own "unknown variant" error.
    pub(crate) fn serde_variants<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        tag: &str,
    ) -> Vec<String> {
        let json = format!(r#"{{"{tag}":"~"}}"#);
        let err = serde_json::from_str::<T>(&json).unwrap_err().to_string();
        let list = err.split_once("expected one of ").expect("serde lists the variants").1;
        let list = list.split_once(" at line").map_or(list, |(l, _)| l);
        list.split(", ")
            .map(|v| v.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_').to_owned())
            .collect()
    }

    #[test]
    fn the_derived_op_names_are_serdes_tags() {
        assert_eq!(COMMAND_OPS, serde_variants::<Command>("op").as_slice());
    }
}
