//! # `starve`: the blocking server starves the second client
//!
//! The tutorial: the blocking server serves one connection at a time — while it sits in
//! `recv` for client A, client B is connected (the kernel finished its handshake) but nobody
//! accepts it, so B's line waits until A leaves. Its fix is a thread (or process) per
//! connection, so "no connection's blocking affects the others".
//!
//! Measured here: client A connects and exchanges one line (so the server is surely in
//! `recv` on A), then stays idle. Client B connects and sends a line; the time until B's echo
//! is B's wait.
//! - blocking, A holds on for a set time, then closes: B's echo can only come after A left;
//! - blocking, A already gone before B sends: B is echoed at once;
//! - thread per connection, A holds on (it leaves only once B's echo arrived, or after the
//!   patience runs out): B is echoed while A is still there.
//!
//! The last column says, for each, whether B's echo arrived while A was still connected —
//! which is the claim, and which no timing noise can change.

use std::time::{Duration, Instant};

use kettle_shared::Column;
use tokio::runtime::Handle;

use super::lab::{Client, Lab, LINE, PATIENCE};
use super::{col, num, text, Experiment, Rows};

/// The experiment.
#[derive(Debug)]
pub struct Starve;

/// How long A holds on in the blocking case.
fn hold(short: bool) -> Duration {
    Duration::from_millis(if short { 300 } else { 2_000 })
}

impl Experiment for Starve {
    fn id(&self) -> &'static str {
        "starve"
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            col("model", ""),
            col("client_a", ""),
            col("a_stayed_ms", "ms"),
            col("b_wait_ms", "ms"),
            col("b_echoed_while_a_connected", ""),
        ]
    }

    fn steps(&self, _short: bool) -> u32 {
        3
    }

    fn run(&self, handle: &Handle, short: bool, rows: &mut Rows<'_>) -> anyhow::Result<()> {
        let lab = Lab::new(handle);
        let hold = hold(short);
        for (model, a_stays) in [("blocking", true), ("blocking", false), ("thread-per-conn", true)]
        {
            let addr = lab.start(model)?;
            let mut a = Client::connect(addr)?;
            a.line(LINE)?;
            let mut a = if a_stays {
                Some(a)
            } else {
                drop(a);
                None
            };
            let mut b = Client::connect(addr)?;
            let sent = Instant::now();
            b.send(LINE)?;
            // Blocking: A leaves after `hold` (B cannot be echoed before). Thread per
            // connection: A leaves once B is echoed, or after the patience.
            let a_leaves = if model == "blocking" { hold } else { PATIENCE };
            let (b_wait, (a_left_first, a_held)) = std::thread::scope(|s| {
                let (echoed_tx, echoed_rx) = std::sync::mpsc::channel::<()>();
                let a_thread = s.spawn(move || {
                    let Some(a) = a.take() else { return (false, Duration::ZERO) };
                    // true if A left before B's echo arrived
                    let left_first = echoed_rx.recv_timeout(a_leaves).is_err();
                    drop(a);
                    (left_first, sent.elapsed())
                });
                let echoed = b.echo(LINE).map(|()| sent.elapsed());
                let _ = echoed_tx.send(());
                let a_left = a_thread.join().unwrap_or((true, Duration::ZERO));
                (echoed, a_left)
            });
            let b_wait = b_wait?;
            let a_was_there = a_stays && !a_left_first;
            lab.stop(model);
            rows.push(vec![
                text(model),
                text(if a_stays { "idle" } else { "gone" }),
                num(a_held.as_secs_f64() * 1e3),
                num(b_wait.as_secs_f64() * 1e3),
                text(if !a_stays {
                    "alone"
                } else if a_was_there {
                    "yes"
                } else {
                    "no"
                }),
            ]);
        }
        Ok(())
    }
}
