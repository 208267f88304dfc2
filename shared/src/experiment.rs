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

impl Column {
    /// Its heading in a CSV file or a terminal table: its key, with its unit in brackets.
    pub fn heading(&self) -> String {
        match &self.unit {
            Some(u) => format!("{} ({u})", self.key),
            None => self.key.clone(),
        }
    }
}

impl Cell {
    /// As written in CSV and on the terminal: a number in Rust's shortest exact form.
    pub fn text(&self) -> String {
        match self {
            Cell::Num(x) => x.to_string(),
            Cell::Text(s) => s.clone(),
        }
    }
}

impl ExperimentTable {
    /// The table as CSV (RFC 4180), for a spreadsheet: a header of [`Column::heading`]s, then
    /// each row as measured, one line each, ending in `\n`. A field with a comma, a quote or a
    /// line break is quoted, its quotes doubled.
    ///
    /// Written here rather than by the `csv` crate: the page exports the same file as
    /// `kettle experiment --csv`, and the crate's writer parses every field as a float to
    /// decide its quoting, which put Rust's float parser and its tables (17 KB gzip, a twentieth
    /// of the page) into the page's wasm.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        csv_line(&mut out, self.columns.iter().map(Column::heading));
        for row in &self.rows {
            csv_line(&mut out, row.iter().map(Cell::text));
        }
        out
    }
}

/// Appends one CSV record and its line end.
fn csv_line(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&field);
        }
    }
    out.push('\n');
}

// Read back through `wire.rs` (objects only, less code than the derive).
crate::wire::deserialize_fields! {
    Column { key, unit }
    ExperimentTable { experiment, short, columns, rows, step, steps, finished, failed }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_units_in_the_header_and_quotes_only_what_needs_quoting() {
        let table = ExperimentTable {
            experiment: "one-conn".into(),
            short: true,
            columns: vec![
                Column { key: "model".into(), unit: None },
                Column { key: "p50_us".into(), unit: Some("µs".into()) },
            ],
            rows: vec![
                vec![Cell::Text("blocking".into()), Cell::Num(41.5)],
                vec![Cell::Text("a, \"quoted\"".into()), Cell::Num(7.0)],
                vec![Cell::Text("two\nlines".into()), Cell::Num(-0.25)],
            ],
            step: 3,
            steps: 3,
            finished: true,
            failed: None,
        };
        assert_eq!(
            table.to_csv(),
            "model,p50_us (µs)\nblocking,41.5\n\"a, \"\"quoted\"\"\",7\n\"two\nlines\",-0.25\n"
        );
    }
}
