//! # `busy-loop`: the busy loop burns a whole core while nothing happens
//!
//! The tutorial on non-blocking I/O: the program "keeps asking the kernel whether the data is
//! ready", which "greatly occupies the CPU". Here nothing at all happens — no client — and the
//! two models' threads are measured over the same window: CPU time from each thread's CPU
//! clock, system calls from the thread's own counter, and the `EAGAIN`s the non-blocking loop
//! counts (`would_block_burst`). The blocking model sleeps in `accept` and uses nothing.

use std::time::{Duration, Instant};

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{wait_for, Lab, PATIENCE};
use super::{col, num, ratio, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct BusyLoop;

fn window(short: bool) -> Duration {
    Duration::from_millis(if short { 500 } else { 2_000 })
}

impl Experiment for BusyLoop {
    fn id(&self) -> &'static str {
        "busy-loop"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("cpu_percent", "%"),
            col("cpu_ms", "ms"),
            col("syscalls_per_s", "/s"),
            col("eagain_per_s", "/s"),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        2
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let lab = Lab::new(handle);
        for model in ["nonblocking", "blocking"] {
            lab.start(model)?;
            wait_for(PATIENCE, "the model's thread", || !lab.threads(model).is_empty())?;
            let before = lab.tap.tally(model)?;
            let (cpu0, calls0, t0) = (lab.cpu_ns(model), lab.syscalls(model), Instant::now());
            std::thread::sleep(window(short));
            let (cpu1, calls1, secs) =
                (lab.cpu_ns(model), lab.syscalls(model), t0.elapsed().as_secs_f64());
            let after = lab.tap.tally(model)?;
            lab.stop(model);
            let cpu = cpu1.saturating_sub(cpu0) as f64;
            rows.push(vec![
                super::text(model),
                num(ratio(cpu / 1e9, secs) * 100.0),
                num(cpu / 1e6),
                num(ratio(calls1.saturating_sub(calls0) as f64, secs)),
                num(ratio(after.eagain.saturating_sub(before.eagain) as f64, secs)),
            ]);
        }
        Ok(())
    }
}
