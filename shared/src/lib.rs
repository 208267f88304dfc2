//! # Kettle's wire protocol (version 7)
//!
//! Everything the backend and the browser say to each other is defined here, and nothing
//! else: the backend's model servers record [`Event`]s, the recorder ships them to every viewer
//! in [`ServerMsg::Batch`]es, and the page answers with [`ClientMsg`] commands.
//!
//! The crate is deliberately small and wasm-safe: only `serde` and `strum` (enum names
//! derived once), no clocks, no sockets, no async runtime. Both sides compile it, so a field renamed here is renamed everywhere.
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
//! ## Under load
//!
//! Every event a model records is counted; only some are sent one by one. Each viewer
//! subscribes to a model's steps ([`Command::Subscribe`]`::models`) and to its counts
//! (`::aggregates`): under load — more than [`DETAIL_BUDGET_PER_S`] events a second — only the
//! connections a viewer follows (its echo clients, and those it asks for with
//! [`Command::Spotlight`]) are sent step by step, and everything is counted in an
//! [`Aggregate`] every [`AGGREGATE_EVERY_MS`] ([`ServerMsg::Aggregates`]). Load itself comes
//! from the backend's own generator ([`LoadSpec`], [`ServerMsg::Load`]); the tutorial's claims
//! about scale are [`EXPERIMENTS`] whose rows arrive as [`ServerMsg::Experiment`].
//!
//! ## The crate's parts
//!
//! `model` (the model vocabulary: [`BuiltIn`] models, [`ModelId`], their figure [`Family`]),
//! `catalogue` (each model's description), `classroom` (roles, the teacher's view), `event`
//! (what a model records, with its typed words: [`EpollOp`], [`AsyncOp`], [`ThreadRole`]),
//! `kernel` (what `/proc` says about a thread), `aggregate` (counts under load), `load`,
//! `experiment`, `command` (browser → server), `server` (server → browser) and `reason` (every
//! explanation as a code). All are re-exported at the crate root. Apart, as modules of their
//! own: `recording` (a lesson kept as a file: events replayed without a server) and
//! `chrome_trace` (those events as Chrome Trace Event JSON, for Perfetto).
//!
//! ## Words as enums, names as strings
//!
//! The vocabulary a program matches on — which model, which figure, which epoll or
//! asynchronous operation, which thread — is a Rust enum, so a new model or operation is a
//! compile error wherever it is not handled yet. On the wire each is still the plain string it
//! always was (`"io-uring"`, `"add"`, `"aio_read"`); the enums change the Rust, not the JSON.
//!
//! ## Classroom mode
//!
//! Every viewer has a [`Role`], told in [`ServerMsg::Hello`]: a teacher may do everything, a
//! student (a classroom page without the teacher's token) watches, chooses what to watch,
//! opens echo clients and follows the teacher's [`TeacherView`] while "follow me" is on
//! ([`Command::FollowMe`], [`ServerMsg::Follow`]). A student's other commands answer
//! [`ErrorCode::Forbidden`] with [`Reason::TeacherOnly`] and change nothing.
//!
//! **Predict, then see.** Each tour stop has a [`Question`] ([`QUESTIONS`]) that [`judge`]
//! answers from the recorded events. The teacher asks it ([`Command::Ask`]), students vote
//! ([`Command::Vote`]), the teacher reveals ([`Command::Reveal`]) and the backend judges the
//! line from its own recorded events; every viewer
//! follows the vote in [`ServerMsg::Ballot`].
//!
//! ## Reasons
//!
//! Whenever the backend explains something — why a model stopped or cannot run, why a
//! connection was refused or ended, why a command failed — it sends a [`Reason`]: a code and
//! its parameters, never a sentence. The page words it in the reader's language (see
//! [`reason`]).

#![warn(missing_docs)]

mod aggregate;
mod catalogue;
pub mod chrome_trace;
mod classroom;
mod command;
mod event;
mod event_wire;
pub mod excerpt;
mod experiment;
mod kernel;
mod load;
mod model;
mod question;
pub mod reason;
pub mod recording;
mod server;
mod wire;

pub use aggregate::*;
pub use catalogue::*;
pub use classroom::*;
pub use command::*;
pub use event::*;
pub use experiment::*;
pub use kernel::*;
pub use load::*;
pub use model::*;
pub use question::*;
pub use reason::{ChildExit, Reason};
pub use server::*;

/// The protocol version this crate describes. Bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 7;
