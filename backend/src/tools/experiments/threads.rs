//! # `threads`: thread per connection — threads and memory grow with the clients
//!
//! The tutorial: a thread (or process) per connection "seriously occupies system resources"
//! once hundreds or thousands of connections come at once. Here is the bill, read from the
//! kernel: the thread-per-conn model serves N idle clients (connected, sending nothing), and
//! `/proc/self/status` says how many threads this process runs and how much memory it holds
//! (resident: `VmRSS`; reserved address space: `VmSize`, mostly the stacks), minus what it
//! held before the clients came. Every idle client costs one thread asleep in `recv`.
//!
//! The model's threads reserve 64 KiB of stack each (`ModelOptions::thread_stack_bytes`,
//! recorded in their `thread_stack` event); a thread that only sleeps touches a few pages of
//! it, which is why resident memory per client is much smaller than the reservation.

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{raise_descriptor_limit, wait_for, Client, Lab, PATIENCE};
use super::{col, num, ratio, Experiment, Rows};
use crate::models::ModelOptions;
use crate::proc::process::{self, Pid};

/// The experiment.
#[derive(Debug)]
pub struct Threads;

const MODEL: &str = "thread-per-conn";

fn clients(short: bool) -> &'static [usize] {
    if short {
        &[1, 10, 100]
    } else {
        &[1, 10, 100, 1000]
    }
}

impl Experiment for Threads {
    fn id(&self) -> &'static str {
        "threads"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("clients", ""),
            col("model_threads", ""),
            col("process_threads_added", ""),
            col("rss_added_mib", "MiB"),
            col("rss_per_client_kib", "KiB"),
            col("vm_per_client_kib", "KiB"),
        ]
    }

    fn steps(&self, short: bool) -> u32 {
        clients(short).len() as u32
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        raise_descriptor_limit();
        let options = ModelOptions { max_threads: 1100, ..ModelOptions::default() };
        let lab = Lab::with_options(handle, options);
        for &n in clients(short) {
            let addr = lab.start(MODEL)?;
            // The acceptor alone, asleep in accept.
            wait_for(PATIENCE, "the acceptor thread", || !lab.threads(MODEL).is_empty())?;
            let base_threads = lab.threads(MODEL).len();
            let before = process::status(Pid::Own)?;
            let mut held = Vec::with_capacity(n);
            for _ in 0..n {
                held.push(Client::connect(addr)?);
            }
            wait_for(PATIENCE, "a thread for every client", || {
                lab.threads(MODEL).len() >= base_threads + n && lab.conns(MODEL) >= n as u64
            })?;
            let after = process::status(Pid::Own)?;
            let model_threads = lab.threads(MODEL).len();
            drop(held);
            lab.stop(MODEL);
            let rss_added = after.rss_kib.saturating_sub(before.rss_kib) as f64;
            let vm_added = after.vm_kib.saturating_sub(before.vm_kib) as f64;
            rows.push(vec![
                num(n as f64),
                num(model_threads as f64),
                num(after.threads.saturating_sub(before.threads) as f64),
                num(rss_added / 1024.0),
                num(ratio(rss_added, n as f64)),
                num(ratio(vm_added, n as f64)),
            ]);
        }
        Ok(())
    }
}
