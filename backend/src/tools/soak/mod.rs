//! `kettle soak`: Kettle's own proof that it holds — many viewers, many restarts, faults on
//! purpose — as figures, on this machine, in bounded time, on loopback only.
//!
//! A classroom is a load test nobody planned: forty tabs watching one server while the teacher
//! starts and stops models all lesson long, a laptop lid closed mid-line, a student's tab that
//! stops reading. Each scenario here plays one of those against a real Kettle — a `kettle
//! serve` child process (so its descriptors, threads, CPU and memory are read from `/proc` as
//! the server's alone) or, where a fault must be armed from inside, a server in this process
//! — with real WebSocket viewers and real TCP clients, and reports what it measured as
//! [`Figure`]s, each with the property it must hold where there is one.
//!
//! The contract: a [`Scenario`] is a name, a sentence, and a `run` that gets the [`Ctx`] (short
//! form or full, the `kettle` executable, a progress line) and returns its figures, or fails
//! with an error when it could not even measure. A figure whose property does not hold makes
//! the scenario fail; nothing is retried and no number is smoothed.
//!
//! | scenario | module |
//! |---|---|
//! | 100 viewers while 4 models echo 1 000 lines/s each | [`fan_out`] |
//! | every model started and stopped 50 times | [`cycles`] |
//! | a viewer that never reads, a reset mid-line, a panicking model, `EMFILE`, `SIGTERM` | [`faults`] |
//!
//! [`child`] spawns and reads the server process; [`viewer`] is the WebSocket viewer; [`cli`]
//! is `kettle soak` on the terminal.

pub mod child;
pub mod cli;
pub mod cycles;
pub mod fan_out;
pub mod faults;
pub mod viewer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What a scenario is given.
pub struct Ctx {
    /// The short form (CI): fewer viewers, rounds and seconds; the same properties.
    pub short: bool,
    /// The `kettle` executable to run as the server under test.
    pub exe: PathBuf,
    /// Where progress goes: one line of text at a time.
    pub progress: Box<dyn Fn(&str) + Send + Sync>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("short", &self.short).field("exe", &self.exe).finish()
    }
}

impl Ctx {
    /// Says what is happening now.
    pub fn say(&self, line: impl AsRef<str>) {
        (self.progress)(line.as_ref());
    }
}

/// One measured number (or fact), and whether it holds the property it must.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// What was measured ("p99 delivery delay").
    pub name: String,
    /// The value as shown ("3.2 ms").
    pub value: String,
    /// The value as a number where it is one (in the unit of `value`), for the JSON.
    pub number: Option<f64>,
    /// The property it must hold ("= 0", "≤ start + 10 %"); `None`: reported only.
    pub must: Option<String>,
    /// Whether it holds it; `None` when it has no property.
    pub ok: Option<bool>,
}

impl Figure {
    /// A number reported as it is.
    pub fn info(name: &str, value: impl std::fmt::Display) -> Figure {
        let value = value.to_string();
        let number = value.split_whitespace().next().and_then(|v| v.parse().ok());
        Figure { name: name.to_owned(), value, number, must: None, ok: None }
    }

    /// A number with the property it must hold.
    pub fn check(name: &str, value: impl std::fmt::Display, must: &str, ok: bool) -> Figure {
        Figure { must: Some(must.to_owned()), ok: Some(ok), ..Figure::info(name, value) }
    }
}

/// A scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: &'static str,
    /// Short form or full.
    pub short: bool,
    /// How long it ran, in seconds.
    pub secs: f64,
    /// What it measured.
    pub figures: Vec<Figure>,
    /// Why it could not measure, if it could not.
    pub error: Option<String>,
}

impl Report {
    /// Every property held and nothing failed.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.figures.iter().all(|f| f.ok != Some(false))
    }

    /// The figures whose property does not hold, for a test's message.
    pub fn failures(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .figures
            .iter()
            .filter(|f| f.ok == Some(false))
            .map(|f| {
                format!("{}: {} (must be {})", f.name, f.value, f.must.as_deref().unwrap_or(""))
            })
            .collect();
        out.extend(self.error.clone());
        out
    }
}

/// One scenario behind the contract.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Its name (`--only NAME`).
    pub name: &'static str,
    /// What it does, in one sentence.
    pub about: &'static str,
    /// Runs it. Blocking; builds any runtime it needs.
    pub run: fn(&Ctx) -> anyhow::Result<Vec<Figure>>,
}

/// Every scenario, in the order `kettle soak` runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "fan_out",
        about: "100 viewers on one server while 4 models echo 1 000 lines/s each",
        run: fan_out::run,
    },
    Scenario {
        name: "cycles",
        about: "every model started and stopped 50 times while clients echo and viewers watch",
        run: cycles::run,
    },
    Scenario {
        name: "faults",
        about: "a viewer that never reads, a reset mid-line, a model that panics, EMFILE at the \
                web front, SIGTERM under load",
        run: faults::run,
    },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// Runs one scenario and wraps what it returned (an error too) as a [`Report`].
pub fn run_one(scenario: &Scenario, ctx: &Ctx) -> Report {
    let started = Instant::now();
    let (figures, error) = match (scenario.run)(ctx) {
        Ok(figures) => (figures, None),
        Err(e) => (Vec::new(), Some(format!("{e:#}"))),
    };
    Report {
        scenario: scenario.name,
        short: ctx.short,
        secs: started.elapsed().as_secs_f64(),
        figures,
        error,
    }
}

/// The reports as one table for the terminal.
pub fn table(reports: &[Report]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header(["scenario", "figure", "value", "must be", ""]);
    for r in reports {
        for f in &r.figures {
            let mark = match f.ok {
                Some(true) => "ok",
                Some(false) => "FAILED",
                None => "",
            };
            t.add_row([r.scenario, &f.name, &f.value, f.must.as_deref().unwrap_or(""), mark]);
        }
        if let Some(e) = &r.error {
            t.add_row([r.scenario, "could not measure", e, "", "FAILED"]);
        }
    }
    t
}

/// Milliseconds of a duration, for figures.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Waits until `check` answers `Some`, polling every 20 ms, at most `limit`.
pub(crate) fn wait_for<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
