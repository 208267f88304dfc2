//! # Experiments: the tutorial's claims, measured here and now
//!
//! The tutorial makes claims about scale — "thread per connection does not scale", "a pool has
//! a ceiling", "select does not beat blocking for one connection", "epoll wins with many".
//! Each experiment here turns one claim into a measurement on this machine: it starts the
//! models it needs in a [`Lab`] of its own (never the class's running models), drives them
//! with real TCP clients, and reads the answer from real things only — the models' recorded
//! events, their threads' counters and CPU clocks, `/proc/self/status`, the clients' timings.
//!
//! # The contract
//!
//! An experiment is an [`Experiment`]: an id from [`kettle_shared::EXPERIMENTS`], its
//! [`Column`]s, how many measurements (rows) it makes in its short and full forms, and
//! [`Experiment::run`], which measures one step at a time and hands each row to [`Rows::push`]
//! as soon as it is measured (the page and the terminal show rows as they come). `run`
//! blocks: call [`run`] from a blocking thread (`spawn_blocking`), never on a tokio worker.
//! Every cell of a row is one column's value; a number is finite (what cannot be measured
//! is a text saying why, such as `"unavailable"`).
//!
//! The short form (`--short`, CI) uses fewer connections and shorter runs, never other
//! measurements: the same claims show, with less precision.
//!
//! [`cli`] is `kettle experiment` on the terminal; [`export`] writes a table as text, CSV and
//! JSON.

mod busy_loop;
mod c10k;
pub mod cli;
pub mod export;
pub mod lab;
mod one_conn;
mod pool;
mod scan;
mod sigio_work;
mod starve;
mod threads;
mod uring_batching;

use kettle_shared::{Cell, Column, ExperimentTable, EXPERIMENTS};
use tokio::runtime::Handle;

pub use lab::Lab;

/// One experiment. See the module's documentation for the contract.
pub trait Experiment: Sync {
    /// Its id, one of [`EXPERIMENTS`].
    fn id(&self) -> &'static str;
    /// Its columns, in order.
    fn columns(&self) -> Vec<Column>;
    /// Rows it measures in this form.
    fn steps(&self, short: bool) -> u32;
    /// Measures, pushing each row as soon as it is measured. Blocking.
    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()>;
}

/// Every experiment, in [`EXPERIMENTS`] order.
pub fn all() -> [&'static dyn Experiment; 9] {
    [
        &starve::Starve,
        &threads::Threads,
        &pool::Pool,
        &busy_loop::BusyLoop,
        &one_conn::OneConn,
        &scan::Scan,
        &sigio_work::SigioWork,
        &uring_batching::UringBatching,
        &c10k::C10k,
    ]
}

/// The experiment with this id.
pub fn find(id: &str) -> Option<&'static dyn Experiment> {
    all().into_iter().find(|e| e.id() == id)
}

/// Where an experiment puts its rows: the table so far, shown to whoever watches after each.
pub struct Rows<'a> {
    table: ExperimentTable,
    on_table: &'a mut dyn FnMut(&ExperimentTable),
}

impl std::fmt::Debug for Rows<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rows").field("table", &self.table).finish()
    }
}

impl Rows<'_> {
    /// Adds a measured row (one cell per column) and shows the table.
    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.table.columns.len(), "{}", self.table.experiment);
        self.table.rows.push(row);
        self.table.step = self.table.rows.len() as u32;
        (self.on_table)(&self.table);
    }
}

/// Runs experiment `id` (short or full) in a lab of its own, calling `on_table` with the table
/// once before the first measurement, after every row, and once at the end (`finished`; with
/// `failed` if it stopped early). Blocking: call it from a blocking thread of the runtime
/// `handle` belongs to. `None` if no experiment has this id.
pub fn run(
    id: &str,
    short: bool,
    handle: &Handle,
    on_table: &mut dyn FnMut(&ExperimentTable),
) -> Option<ExperimentTable> {
    let experiment = find(id)?;
    let table = ExperimentTable {
        experiment: experiment.id().to_owned(),
        short,
        columns: experiment.columns(),
        rows: Vec::new(),
        step: 0,
        steps: experiment.steps(short),
        finished: false,
        failed: None,
    };
    on_table(&table);
    let mut rows = Rows { table, on_table };
    let outcome = experiment.run(handle, short, &mut rows);
    let Rows { mut table, on_table } = rows;
    if let Err(e) = outcome {
        eprintln!("kettle: experiment {id} stopped: {e:#}");
        table.failed = Some(crate::failure::server_gave_up(&e));
    }
    table.finished = true;
    on_table(&table);
    Some(table)
}

/// The ids of every experiment, for error messages.
pub fn ids() -> Vec<String> {
    EXPERIMENTS.iter().map(|&s| s.to_owned()).collect()
}

/// A column with a unit.
fn col(key: &str, unit: &str) -> Column {
    Column { key: key.to_owned(), unit: (!unit.is_empty()).then(|| unit.to_owned()) }
}

/// A text cell.
fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// A number cell, rounded to 3 decimals (what a person reads; the measurements are not more
/// precise than that).
fn num(x: f64) -> Cell {
    Cell::Num(if x.is_finite() { (x * 1000.0).round() / 1000.0 } else { 0.0 })
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_experiment_of_the_protocol_is_here_once_in_its_order() {
        let ids: Vec<_> = all().iter().map(|e| e.id()).collect();
        assert_eq!(ids, EXPERIMENTS);
    }

    #[test]
    fn column_keys_are_unique_and_the_short_form_is_no_longer() {
        for e in all() {
            let cols = e.columns();
            let mut keys: Vec<_> = cols.iter().map(|c| c.key.as_str()).collect();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), cols.len(), "{}", e.id());
            assert!(e.steps(true) <= e.steps(false) && e.steps(true) > 0, "{}", e.id());
        }
    }

    #[test]
    fn an_unknown_experiment_is_none() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        assert!(run("nope", true, rt.handle(), &mut |_| {}).is_none());
    }
}
