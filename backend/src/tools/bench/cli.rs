//! `kettle bench` from the terminal: the bench off the async workers, a progress bar, the
//! table, and every number as JSON if asked.

use std::path::PathBuf;
use std::time::Duration;

use super::traced::{self, TracedOptions};
use super::{all_verified, generator, run, table, BenchOptions, SHORT_RUN};

/// What `kettle bench` was asked.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// Connections per run.
    pub conns: u32,
    /// Bytes per line.
    pub size: u32,
    /// Seconds per run.
    pub secs: u32,
    /// Rounds.
    pub repeats: u32,
    /// Only these models.
    pub models: Option<Vec<String>>,
    /// Where to write every number as JSON.
    pub json: Option<PathBuf>,
    /// The short form: a fraction of a second per server, one round, 8 connections.
    pub short: bool,
    /// `--traced -- PROGRAM`: the tracer's cost on PROGRAM instead of the models.
    pub traced: Option<Vec<String>>,
}

/// Runs `kettle bench`; returns whether every echo of every run was right and every
/// connection opened.
pub async fn main(args: BenchArgs) -> anyhow::Result<bool> {
    let BenchArgs { conns, size, secs, repeats, models, json, short, traced } = args;
    let load = generator::Load {
        conns: if short { 8 } else { conns },
        size,
        duration: if short { SHORT_RUN } else { Duration::from_secs(secs.into()) },
    };
    let repeats = if short { 1 } else { repeats.max(1) };
    if cfg!(debug_assertions) && !short {
        eprintln!(
            "kettle bench: this is a debug build; measure with `cargo run --release -- bench`"
        );
    }
    if let Some(command) = traced {
        if models.is_some() {
            eprintln!("kettle bench: --models is for the models; --traced runs epoll only");
        }
        let options = TracedOptions {
            load,
            repeats,
            command,
            busy: true,
            exe: std::env::current_exe()?,
            progress: true,
        };
        return traced_main(options, json).await;
    }
    let options =
        BenchOptions { load, repeats, models, exe: std::env::current_exe()?, progress: true };
    let result = tokio::task::spawn_blocking(move || run(&options)).await??;
    let m = &result.machine;
    println!(
        "{} ({} cores), Linux {}, {}; {} conns, {}-byte lines, {} ms a run, {} round(s)",
        m.cpu, m.cores, m.kernel, m.rustc, result.conns, result.size, result.millis, result.repeats
    );
    println!("{}", table(&result));
    for (id, why) in &result.skipped {
        println!("skipped {id}: {why}");
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&result)?)?;
        eprintln!("kettle bench: every number written to {}", path.display());
    }
    Ok(all_verified(&result))
}

/// `kettle bench --traced`: the run, the table, what it says.
async fn traced_main(options: TracedOptions, json: Option<PathBuf>) -> anyhow::Result<bool> {
    let result = tokio::task::spawn_blocking(move || traced::run(&options)).await??;
    let m = &result.machine;
    println!(
        "{} ({} cores), Linux {}, {}; {}: {} conns, {}-byte lines, {} ms a run, {} round(s)",
        m.cpu,
        m.cores,
        m.kernel,
        m.rustc,
        result.program,
        result.conns,
        result.size,
        result.millis,
        result.repeats
    );
    println!("{}", traced::table(&result));
    for line in traced::verdicts(&result) {
        println!("- {line}");
    }
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_vec_pretty(&result)?)?;
        eprintln!("kettle bench: every number written to {}", path.display());
    }
    Ok(traced::all_verified(&result))
}
