//! Putting events back in `seq` order across batches, so a viewer can count holes as losses.
//!
//! Every event sent in detail takes the next seq just before it is queued; two threads racing
//! can queue out of their seq order, and the lower seq may arrive a tick after the higher one.
//! If the higher one were shipped first, viewers would count the lower one as lost and then
//! receive it too. The [`Sequencer`] holds back what follows a hole for one tick, and drops
//! (and counts) what comes later still.

use super::Record;

/// Puts events back in `seq` order across batches.
///
/// Threads take their seq just before they enqueue, so two threads racing can enqueue out of
/// order, and the lower seq may come a tick later than the higher one. If the higher one were
/// shipped first, viewers would count the lower one as lost and then receive it too. So each
/// tick ships every event up to `cut` — the highest seq received by the previous tick: every
/// lower seq has had a whole tick to arrive, or was refused by the full queue (a real loss) —
/// and the unbroken run of seqs after it; what follows a hole is held for one tick. An event
/// that arrives even later than that is dropped and counted in `late`.
#[derive(Debug, Default)]
pub(crate) struct Sequencer {
    /// Received, not shipped yet.
    pub held: Vec<Record>,
    /// The highest seq received in the ticks so far.
    received_max: u64,
    /// Every seq up to this one has been shipped or is lost.
    pub through: u64,
    /// Events dropped for arriving after a higher seq was shipped.
    pub late: u64,
}

impl Sequencer {
    /// One tick: takes the events received since the last one and returns those to ship, in
    /// order. `settled` is a seq known to be settled by the caller — every event up to it has
    /// been received or was refused — or 0.
    pub fn tick(&mut self, incoming: Vec<Record>, settled: u64) -> Vec<Record> {
        let cut = self.received_max.max(settled);
        self.received_max = incoming.iter().map(|e| e.seq).fold(self.received_max, u64::max);
        let mut pending = std::mem::take(&mut self.held);
        pending.extend(incoming);
        let before = pending.len();
        pending.retain(|e| e.seq > self.through);
        self.late += (before - pending.len()) as u64;
        pending.sort_unstable_by_key(|e| e.seq);
        self.through = self.through.max(cut);
        // In seq order, what ships is a prefix: everything up to `cut`, then the unbroken run
        // after it; the first hole ends the run. The vector is cut there, not copied.
        let mut shipped = 0;
        for e in &pending {
            if e.seq <= cut || e.seq == self.through + 1 {
                self.through = self.through.max(e.seq);
                shipped += 1;
            } else {
                break;
            }
        }
        self.held = pending.split_off(shipped);
        pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> Record {
        let thread = std::sync::Arc::new(kettle_shared::ThreadRef { id: 1, name: "t".into() });
        Record {
            seq,
            t_ns: seq,
            model: "a",
            thread,
            conn: None,
            kind: kettle_shared::EventKind::AcceptEnter,
        }
    }

    fn seqs(records: &[Record]) -> Vec<u64> {
        records.iter().map(|r| r.seq).collect()
    }

    #[test]
    fn the_pump_ships_in_order_and_holds_what_follows_a_hole_for_one_tick() {
        let mut s = Sequencer::default();
        // 1, 2 and 4 came; 3 was taken but is not there yet. 1 and 2 run unbroken: shipped.
        assert_eq!(seqs(&s.tick(vec![record(2), record(4), record(1)], 0)), [1, 2]);
        assert_eq!(s.through, 2);
        // 3 comes a tick later, after 5: all go out in order.
        assert_eq!(seqs(&s.tick(vec![record(5), record(3)], 0)), [3, 4, 5]);
        // 6 never comes (the full queue refused it). 7 waits one tick, then goes out over the
        // hole, which is settled: viewers count 6 as lost.
        assert_eq!(seqs(&s.tick(vec![record(7)], 0)), Vec::<u64>::new());
        assert_eq!(s.through, 5);
        assert_eq!(seqs(&s.tick(vec![], 0)), [7]);
        assert_eq!(s.through, 7);
        // 6 after all: too late, 7 is out. Dropped and counted, never shipped out of order.
        assert_eq!(seqs(&s.tick(vec![record(6), record(8)], 0)), [8]);
        assert_eq!(s.late, 1);
        // Lost events at the end of the stream: settled by the caller, they move `through`.
        assert_eq!(seqs(&s.tick(vec![], 12)), Vec::<u64>::new());
        assert_eq!(s.through, 12);
    }
}
