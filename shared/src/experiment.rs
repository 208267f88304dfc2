//! Experiments: the tutorial's claims about scale, measured here and now.
//!
//! Each experiment runs real models under real load and fills an [`ExperimentTable`] — one
//! row per measurement (a model, a number of connections…), one column per quantity. The page
//! draws it as a chart and a table and exports it as CSV and JSON; `kettle experiment <id>`
//! prints it. Rows arrive as they are measured ([`crate::ServerMsg::Experiment`]).

use serde::{Deserialize, Serialize};

use crate::Reason;

/// The experiments, by id, in the order the tutorial tells them.
pub const EXPERIMENTS: &[&str] = &[
    // The blocking server serves one client at a time: the second waits for the first.
    "starve",
    // Thread per connection: threads and memory grow with the clients.
    "threads",
    // The pool: at its ceiling, clients queue and wait.
    "pool",
    // The busy loop burns a whole core while nothing happens.
    "busy-loop",
    // One connection: select/epoll make 3 calls per line where blocking makes 2, and are
    // not faster.
    "one-conn",
    // Many idle connections and one active: select and poll scan every descriptor, epoll
    // only the ready ones.
    "scan",
    // Signal-driven I/O: the work the thread got done while it waited.
    "sigio-work",
    // io_uring: system calls per line under load (batching).
    "uring-batching",
    // C10K: which models hold 10 000 connections, and how well.
    "c10k",
];

/// One column of an [`ExperimentTable`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Column {
    /// A stable key (`"model"`, `"conns"`, `"lines_per_s"`, `"p99_us"`…): the page words it.
    pub key: String,
    /// Its unit as written after a number (`"µs"`, `"MiB"`, `"%"`), if any.
    pub unit: Option<String>,
}

/// One cell: a number or a text (a model id, a yes/no).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    /// A measured number.
    Num(f64),
    /// A text.
    Text(String),
}

/// An experiment's results so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentTable {
    /// The experiment's id (one of [`EXPERIMENTS`]).
    pub experiment: String,
    /// Run in its short form (fewer connections, shorter runs, as CI does).
    pub short: bool,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows measured so far, each one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// Measurements done, of `steps`.
    pub step: u32,
    /// Measurements planned.
    pub steps: u32,
    /// Every measurement is done, or the experiment stopped early (then `failed` says why).
    pub finished: bool,
    /// Why the experiment stopped before its last measurement (a model that could not
    /// start, a client the kernel refused…); `None` while it runs and when it completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<Reason>,
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    Column { key, unit }
    ExperimentTable { experiment, short, columns, rows, step, steps, finished, failed }
}
