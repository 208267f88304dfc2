//! # `sigio-work`: the work a thread gets done while it waits
//!
//! The tutorial on signal-driven I/O: the process registers a signal handler with
//! `sigaction` and goes on; when the data is ready the kernel interrupts it with a signal, and
//! the handler calls `recv`. Phase 1 is spent doing something else (Stevens Fig. 6.4: "process
//! continues executing"). The blocking model spends the same time asleep in `recv`.
//!
//! Measured here: one client sends a line every X ms to the sigio model and to the blocking
//! model. The sigio model's thread does units of its own work between signals and reports
//! them (`work_done` events); the units counted over the run are the work done while waiting.
//! The blocking model's thread reports none: it cannot do anything but wait. Its CPU time
//! over the same run says the same from the kernel's side.

use std::time::{Duration, Instant};

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{Client, Lab, LINE};
use super::{col, num, ratio, text, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct SigioWork;

/// Lines sent, and the pause between two.
fn schedule(short: bool) -> (usize, Duration) {
    if short {
        (20, Duration::from_millis(25))
    } else {
        (50, Duration::from_millis(100))
    }
}

impl Experiment for SigioWork {
    fn id(&self) -> &'static str {
        "sigio-work"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("lines", ""),
            col("every_ms", "ms"),
            col("work_units", ""),
            col("work_units_per_s", "/s"),
            col("cpu_percent", "%"),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        2
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let lab = Lab::new(handle);
        let (lines, every) = schedule(short);
        for model in ["sigio", "blocking"] {
            let addr = lab.start(model)?;
            let mut client = Client::connect(addr)?;
            client.line(LINE)?;
            let before = lab.tap.tally(model)?;
            let (cpu0, t0) = (lab.cpu_ns(model), Instant::now());
            for _ in 0..lines {
                std::thread::sleep(every);
                client.line(LINE)?;
            }
            let (cpu1, secs) = (lab.cpu_ns(model), t0.elapsed().as_secs_f64());
            let after = lab.tap.tally(model)?;
            drop(client);
            lab.stop(model);
            let units = after.work_units.saturating_sub(before.work_units) as f64;
            rows.push(vec![
                text(model),
                num(lines as f64),
                num(every.as_secs_f64() * 1e3),
                num(units),
                num(ratio(units, secs)),
                num(ratio(cpu1.saturating_sub(cpu0) as f64 / 1e9, secs) * 100.0),
            ]);
        }
        Ok(())
    }
}
