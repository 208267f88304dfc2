//! `kettle soak` from the terminal: the scenarios on a thread of their own, a spinner saying
//! what happens, the table, and every figure as JSON if asked.

use std::path::PathBuf;
use std::time::Duration;

use super::{find, run_one, table, Ctx, Report, Scenario, SCENARIOS};

/// Runs `kettle soak` (every scenario, or only the one named `only`); returns whether every
/// scenario passed. Each scenario builds the runtime it needs, so this blocks.
pub fn main(short: bool, json: Option<PathBuf>, only: Option<String>) -> anyhow::Result<bool> {
    let chosen: Vec<&'static Scenario> = match &only {
        Some(name) => vec![find(name).ok_or_else(|| {
            let known: Vec<_> = SCENARIOS.iter().map(|s| s.name).collect();
            anyhow::anyhow!("no scenario {name} (known: {})", known.join(", "))
        })?],
        None => SCENARIOS.iter().collect(),
    };
    if cfg!(debug_assertions) && !short {
        eprintln!("kettle soak: this is a debug build; measure with `cargo run --release -- soak`");
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let shown = bar.clone();
    let ctx = Ctx {
        short,
        exe: std::env::current_exe()?,
        progress: Box::new(move |line: &str| shown.set_message(line.to_owned())),
    };
    let reports = std::thread::spawn(move || {
        chosen
            .into_iter()
            .map(|s| {
                let report = run_one(s, &ctx);
                let verdict = if report.passed() { "passed" } else { "FAILED" };
                ctx.say(format!("{}: {verdict} in {:.0} s", s.name, report.secs));
                report
            })
            .collect::<Vec<_>>()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the soak's thread panicked"))?;
    bar.finish_and_clear();
    println!("{}", table(&reports));
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&reports)?)?;
        eprintln!("kettle soak: every figure written to {}", path.display());
    }
    Ok(reports.iter().all(Report::passed))
}
