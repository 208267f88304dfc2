//! # `scan`: many idle connections and one active — O(n) against O(ready)
//!
//! The tutorial on select: "when the number of handles to watch is large, the select()
//! interface itself spends a lot of time polling each handle"; Linux offers epoll instead.
//! Kerrisk (*The Linux Programming Interface*, §63.4.5) measured it: with 1 000 descriptors
//! watched, poll/select took about 170 times longer than epoll.
//!
//! Measured here: N idle clients are connected (and held by the server) plus one active
//! client that sends K lines, one at a time, to the select, poll and epoll models. From the
//! models' own events (`wait_returned.scanned`: the entries user space had to look at to find
//! the ready ones — every descriptor up to `nfds` for select, the whole array for poll, only
//! the returned events for epoll) the descriptors scanned per wait, and from the thread's CPU
//! clock the CPU time per line of the active client. select and poll grow with N; epoll
//! stays flat.
//!
//! `select` cannot watch a descriptor of 1024 or more (`FD_SETSIZE`); the clients live in
//! this same process, so their descriptors count too. A connection it cannot watch is refused
//! (recorded), and its row says how many it could hold.

use std::time::Duration;

use kettle_shared::{Column, Reason};
use tokio::runtime::Handle;

use super::lab::{raise_descriptor_limit, wait_for, Client, Lab, LINE, PATIENCE};
use super::{col, num, ratio, text, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct Scan;

const APIS: [&str; 3] = ["select", "poll", "epoll"];

fn idle(short: bool) -> &'static [usize] {
    if short {
        &[10, 100]
    } else {
        &[10, 100, 1000]
    }
}

fn lines(short: bool) -> usize {
    if short {
        100
    } else {
        1_000
    }
}

const QUIET: Duration = Duration::from_millis(30);

impl Experiment for Scan {
    fn id(&self) -> &'static str {
        "scan"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("api", ""),
            col("idle_conns", ""),
            col("held", ""),
            col("scanned_per_wait", ""),
            col("ready_per_wait", ""),
            col("cpu_us_per_line", "µs"),
            col("note", ""),
        ]
    }

    fn steps(&self, short: bool) -> u32 {
        (APIS.len() * idle(short).len()) as u32
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        raise_descriptor_limit();
        let lab = Lab::new(handle);
        let k = lines(short);
        for &n in idle(short) {
            for api in APIS {
                let addr = lab.start(api)?;
                let accepted0 = lab.tap.tally(api)?.accepted;
                // The active client first: its descriptors are the lowest, so select can
                // always watch it.
                let mut active = Client::connect(addr)?;
                active.line(LINE)?;
                let mut idle = Vec::with_capacity(n);
                for _ in 0..n {
                    idle.push(Client::connect(addr)?);
                }
                wait_for(PATIENCE, "every idle client accepted", || {
                    lab.tap.tally_now(api).accepted > accepted0 + n as u64
                })?;
                std::thread::sleep(QUIET);
                let before = lab.tap.tally(api)?;
                let cpu0 = lab.cpu_ns(api);
                for _ in 0..k {
                    active.line(LINE)?;
                }
                std::thread::sleep(QUIET);
                let cpu1 = lab.cpu_ns(api);
                let after = lab.tap.tally(api)?;
                drop(idle);
                drop(active);
                lab.stop(api);
                let waits = after.waits().saturating_sub(before.waits()) as f64;
                let refused = after.refused;
                let note = match &after.refused_why {
                    Some(Reason::AboveFdSetSize { .. }) => "above_fd_setsize",
                    Some(_) => "refused",
                    None => "",
                };
                rows.push(vec![
                    text(api),
                    num(n as f64),
                    num(n.saturating_sub(refused as usize) as f64),
                    num(ratio(after.scanned.saturating_sub(before.scanned) as f64, waits)),
                    num(ratio(after.ready.saturating_sub(before.ready) as f64, waits)),
                    num(ratio(cpu1.saturating_sub(cpu0) as f64 / 1e3, k as f64)),
                    text(note),
                ]);
            }
        }
        Ok(())
    }
}
