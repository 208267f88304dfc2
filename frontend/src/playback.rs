//! Slow-motion playback of recorded events, as pure functions.
//!
//! Events are microseconds apart, so the figure replays them on a *screen* clock: a real gap
//! of `g` nanoseconds takes `g / speed` of screen time, except that no single gap takes more
//! than [`MAX_GAP_MS`] — a student thinking for five seconds must not freeze the projector for
//! fourteen hours at 1/10 000. Such a gap is *compressed*, and the figure says so with the
//! real length.
//!
//! Playback state is an anchor (the event playback last restarted from) plus the screen time
//! elapsed since; [`position`] turns that into "which event is current". The anchor is the
//! event's sort key, `(t_ns, seq)`, not an index: it survives the store trimming old events,
//! an event arriving late and sorting in before it, and runs of steps merging into one row
//! (the anchor then falls on the next step in time).
//!
//! Time travel is the same anchor moved by hand: one step back, a scrub bar over the steps the
//! model's store still keeps (bounded, so the oldest may be gone), or a jump to where the last
//! echoed line's story began ([`last_echo_start`]). Any of them pauses, and [`Mode`] says
//! whether the figure shows now or the past, so a class never mistakes one for the other.

use kettle_shared::{AsyncOp, EventKind, Family, RecvOutcome, SendOutcome};

use crate::store::{Step, Track};

/// The playback speeds, as fractions of real time, fastest first.
pub const SPEEDS: [f64; 6] = [1.0, 0.1, 0.01, 0.001, 0.000_1, 0.000_01];

/// The speed a fresh page plays at: 1 µs of kernel time becomes 10 ms on screen.
pub const DEFAULT_SPEED_INDEX: usize = 4;

/// The longest any single gap between two events lasts on screen, in milliseconds.
pub const MAX_GAP_MS: f64 = 1_500.0;

/// How long a real gap lasts on screen at `speed`, and whether it had to be compressed.
pub fn screen_gap_ms(real_ns: u64, speed: f64) -> (f64, bool) {
    let ms = real_ns as f64 / 1e6 / speed;
    if ms > MAX_GAP_MS {
        (MAX_GAP_MS, true)
    } else {
        (ms, false)
    }
}

/// Where playback is among a list of events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// The index of the current event (the last one whose screen time has come).
    pub index: usize,
    /// How far playback is through the gap to the next event, `0.0..1.0`; `None` at the end.
    pub progress: Option<f64>,
}

/// Which event is current, given the events' times, the speed, the index playback started
/// from and the screen time elapsed since then. Times may go backwards (the kernel's receive
/// stamp can precede the `recv` call); such a gap takes no screen time.
pub fn position(times_ns: &[u64], speed: f64, start: usize, elapsed_ms: f64) -> Position {
    if times_ns.is_empty() {
        return Position { index: 0, progress: None };
    }
    let mut index = start.min(times_ns.len() - 1);
    let mut remaining = elapsed_ms.max(0.0);
    while index + 1 < times_ns.len() {
        let real = times_ns[index + 1].saturating_sub(times_ns[index]);
        let (gap, _) = screen_gap_ms(real, speed);
        if remaining < gap {
            return Position { index, progress: Some(remaining / gap) };
        }
        remaining -= gap;
        index += 1;
    }
    Position { index, progress: None }
}

/// The screen time from `start` until the last event has played.
pub fn duration_to_end_ms(times_ns: &[u64], speed: f64, start: usize) -> f64 {
    times_ns.windows(2).skip(start).map(|w| screen_gap_ms(w[1].saturating_sub(w[0]), speed).0).sum()
}

/// The playback controls' state.
#[derive(Debug, Clone, PartialEq)]
pub struct Playback {
    /// Index into [`SPEEDS`].
    pub speed_index: usize,
    /// Paused: ticks do not advance; `step` does.
    pub paused: bool,
    /// The sort key `(t_ns, seq)` of the step playback (re)started from; `None` until the
    /// selected model has steps.
    pub anchor: Option<(u64, u64)>,
    /// Screen milliseconds elapsed since the anchor, never beyond the end of the events.
    pub elapsed_ms: f64,
}

impl Default for Playback {
    fn default() -> Self {
        Playback { speed_index: DEFAULT_SPEED_INDEX, paused: false, anchor: None, elapsed_ms: 0.0 }
    }
}

impl Playback {
    /// The current playback speed.
    pub fn speed(&self) -> f64 {
        SPEEDS[self.speed_index.min(SPEEDS.len() - 1)]
    }

    /// Which event of `track` is current.
    pub fn position(&self, track: Track<'_>) -> Option<Position> {
        let anchor = self.anchor?;
        if track.keys.is_empty() {
            return None;
        }
        Some(position(track.times_ns, self.speed(), track.index_of(anchor), self.elapsed_ms))
    }

    /// Advances by `dt_ms` of screen time. Returns `None` when nothing changes (paused, or
    /// already at the newest event), so the caller can skip a re-render.
    pub fn tick(&self, track: Track<'_>, dt_ms: f64) -> Option<Playback> {
        if self.paused || track.keys.is_empty() {
            return None;
        }
        let Some(anchor) = self.anchor else {
            // Steps arrived for the selected model: play them from the first one.
            return Some(Playback { anchor: Some(track.keys[0]), elapsed_ms: 0.0, ..*self });
        };
        let end = duration_to_end_ms(track.times_ns, self.speed(), track.index_of(anchor));
        if self.elapsed_ms >= end {
            return None;
        }
        // Clamped at the end, so the next event to arrive plays after its own (capped) gap
        // instead of flashing past because the clock ran on while nothing happened.
        Some(Playback { elapsed_ms: (self.elapsed_ms + dt_ms).min(end), ..*self })
    }

    /// Restarts playback from the event now current, keeping nothing of the partial gap.
    fn reanchored_at(&self, track: Track<'_>, index: usize) -> Playback {
        Playback { anchor: track.keys.get(index).copied(), elapsed_ms: 0.0, ..*self }
    }

    /// Advances exactly one event (meant for when paused).
    pub fn step(&self, track: Track<'_>) -> Playback {
        match self.position(track) {
            Some(p) if p.index + 1 < track.keys.len() => self.reanchored_at(track, p.index + 1),
            Some(p) => self.reanchored_at(track, p.index),
            None => self.live(track),
        }
    }

    /// Jumps to the newest event.
    pub fn live(&self, track: Track<'_>) -> Playback {
        Playback { anchor: track.keys.last().copied(), elapsed_ms: 0.0, ..*self }
    }

    /// Changes speed by `delta` steps of [`SPEEDS`] (negative: faster), keeping the current
    /// event.
    pub fn change_speed(&self, track: Track<'_>, delta: isize) -> Playback {
        let index = self.speed_index.saturating_add_signed(delta).min(SPEEDS.len() - 1);
        self.set_speed(track, index)
    }

    /// Sets the speed to `SPEEDS[index]`, keeping the current event.
    pub fn set_speed(&self, track: Track<'_>, index: usize) -> Playback {
        let index = index.min(SPEEDS.len() - 1);
        let here = self.position(track).map(|p| p.index);
        let base = match here {
            Some(i) => self.reanchored_at(track, i),
            None => self.clone(),
        };
        Playback { speed_index: index, ..base }
    }

    /// Pauses or resumes.
    pub fn toggle_pause(&self) -> Playback {
        Playback { paused: !self.paused, ..self.clone() }
    }

    // -- time travel ----------------------------------------------------------------------

    /// Goes back exactly one step (meant for when paused). At the oldest step the store
    /// still keeps, it stays there: older ones were trimmed and cannot be shown.
    pub fn step_back(&self, track: Track<'_>) -> Playback {
        match self.position(track) {
            Some(p) => self.reanchored_at(track, p.index.saturating_sub(1)),
            None => self.live(track),
        }
    }

    /// Shows step `index` (clamped to the steps there are), as the scrub bar asks.
    pub fn seek(&self, track: Track<'_>, index: usize) -> Playback {
        if track.keys.is_empty() {
            return self.clone();
        }
        self.reanchored_at(track, index.min(track.keys.len() - 1))
    }

    /// Jumps to the newest step and follows what comes next: the "live" button.
    pub fn go_live(&self, track: Track<'_>) -> Playback {
        Playback { paused: false, ..self.live(track) }
    }

    /// Whether the page shows what is happening now, replays the past, or stands still.
    pub fn mode(&self, track: Track<'_>) -> Mode {
        let behind = match self.position(track) {
            Some(p) => track.keys.len() - 1 - p.index.min(track.keys.len() - 1),
            None => 0,
        };
        match (self.paused, behind) {
            (true, behind) => Mode::Paused { behind },
            (false, 0) => Mode::Live,
            (false, behind) => Mode::Replaying { behind },
        }
    }
}

/// What the playback bar's badge says: the teacher must never mistake the past for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Playing, at the newest step: what the figure shows is happening now.
    Live,
    /// Playing, but `behind` steps behind the newest (slow motion catching up).
    Replaying {
        /// Steps between the one shown and the newest.
        behind: usize,
    },
    /// Paused (stepping, scrubbing, a jump): `behind` steps behind the newest.
    Paused {
        /// Steps between the one shown and the newest.
        behind: usize,
    },
}

/// Where the story of the last line this model echoed begins, as an index into `steps`: the
/// call that waited for the line's data, so that playing forward from there shows both of its
/// phases and the echo.
///
/// The line is the input echoed by the newest successful `send` (or io_uring send
/// completion): the last input on the same descriptor before it — a `recv` that returned data
/// or an asynchronous read's completion. Its story starts where the model waited for it: the
/// `recv` itself in the blocking models (Fig. 6.1), the readiness call the thread slept in
/// when the data came (Fig. 6.3), the request's submission for asynchronous I/O (Fig. 6.5), or
/// the data's arrival when the thread was busy elsewhere (Fig. 6.2, 6.4) — whichever came
/// first, since the data may have arrived before anybody asked for it.
pub fn last_echo_start(steps: &[Step], figure: Family) -> Option<usize> {
    let (send, fd) = steps.iter().enumerate().rev().find_map(|(i, s)| match &s.event.kind {
        EventKind::SendExit { fd, outcome: SendOutcome::Sent { bytes } } if *bytes > 0 => {
            Some((i, *fd))
        }
        EventKind::Complete { op: AsyncOp::Send, fd, result, .. } if *result > 0 => Some((i, *fd)),
        _ => None,
    })?;
    let input = steps[..send].iter().rposition(|s| match &s.event.kind {
        EventKind::RecvExit { fd: f, outcome: RecvOutcome::Data { .. }, .. } => *f == fd,
        EventKind::Complete { op, fd: f, result, .. } => *f == fd && *result > 0 && op.reads_data(),
        _ => false,
    });
    let pairs = crate::timeline::pairs(steps);
    let Some(pair) = input.and_then(|i| pairs.iter().find(|p| p.exit == Some(i))) else {
        // The input was trimmed away: the echo's own send is the oldest part of it left.
        return Some(pairs.iter().find(|p| p.exit == Some(send)).map_or(send, |p| p.enter));
    };
    let first = pair.arrival.map_or(pair.enter, |a| a.min(pair.enter));
    if figure == Family::Multiplex {
        let slept_in = steps[..first].iter().rposition(|s| {
            s.event.thread.id == pair.thread && matches!(s.event.kind, EventKind::WaitEnter { .. })
        });
        if let Some(wait) = slept_in {
            return Some(wait);
        }
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    #[test]
    fn test_position_follows_scaled_gaps() {
        // 0, 10 µs, 30 µs at 1/1000: gaps of 10 ms and 20 ms on screen.
        let t = [0, 10 * US, 30 * US];
        assert_eq!(position(&t, 0.001, 0, 0.0), Position { index: 0, progress: Some(0.0) });
        assert_eq!(position(&t, 0.001, 0, 5.0), Position { index: 0, progress: Some(0.5) });
        assert_eq!(position(&t, 0.001, 0, 10.0).index, 1);
        assert_eq!(position(&t, 0.001, 0, 29.0).index, 1);
        assert_eq!(position(&t, 0.001, 0, 30.0), Position { index: 2, progress: None });
        assert_eq!(position(&t, 0.001, 1, 20.0).index, 2);
    }

    #[test]
    fn test_long_gap_is_compressed() {
        // A student thinks for 5 s; at 1/10 000 that would be 14 hours.
        assert_eq!(screen_gap_ms(5_000_000_000, 0.0001), (MAX_GAP_MS, true));
        assert_eq!(screen_gap_ms(20 * US, 0.0001), (200.0, false));
        let t = [0, 5_000_000_000, 5_000_000_000 + 20 * US];
        assert_eq!(position(&t, 0.0001, 0, MAX_GAP_MS).index, 1);
        assert_eq!(position(&t, 0.0001, 0, MAX_GAP_MS + 200.0).index, 2);
    }

    #[test]
    fn test_time_going_backwards_takes_no_screen_time() {
        let t = [100 * US, 50 * US, 60 * US];
        assert_eq!(position(&t, 0.001, 0, 0.0).index, 1);
        assert_eq!(duration_to_end_ms(&t, 0.001, 0), 10.0);
    }

    fn track<'a>(keys: &'a [(u64, u64)], times: &'a [u64]) -> Track<'a> {
        Track { keys, times_ns: times }
    }

    fn keys<const N: usize>(seqs: [u64; N], times: [u64; N]) -> ([(u64, u64); N], [u64; N]) {
        (std::array::from_fn(|i| (times[i], seqs[i])), times)
    }

    #[test]
    fn test_tick_starts_at_first_event_and_stops_at_the_end() {
        let (seqs, times) = keys([7, 8, 9], [0, 10 * US, 20 * US]);
        let p = Playback { speed_index: 3, ..Playback::default() };
        let p = p.tick(track(&seqs, &times), 16.0).expect("anchors");
        assert_eq!(p.anchor, Some((0, 7)));
        let p = p.tick(track(&seqs, &times), 15.0).unwrap();
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 1);
        let p = p.tick(track(&seqs, &times), 1_000.0).unwrap();
        assert_eq!(p.elapsed_ms, 20.0, "clamped at the end");
        assert!(p.tick(track(&seqs, &times), 16.0).is_none(), "nothing left to play");
        // A new event arrives 1 s later: it plays after its capped gap, not at once.
        let (seqs, times) = keys([7, 8, 9, 10], [0, 10 * US, 20 * US, 1_000_020 * US]);
        let p = p.tick(track(&seqs, &times), 16.0).unwrap();
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 2);
    }

    #[test]
    fn test_paused_does_not_tick_but_steps() {
        let (seqs, times) = keys([1, 2, 3], [0, US, 2 * US]);
        let p = Playback { paused: true, anchor: Some((0, 1)), ..Playback::default() };
        assert!(p.tick(track(&seqs, &times), 1e9).is_none());
        let p = p.step(track(&seqs, &times));
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 1);
        let p = p.step(track(&seqs, &times)).step(track(&seqs, &times));
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 2, "stays on the last");
    }

    #[test]
    fn test_live_and_trimmed_anchor() {
        let (seqs, times) = keys([5, 6, 7], [0, US, 2 * US]);
        let p = Playback::default().live(track(&seqs, &times));
        assert_eq!(p.anchor, Some((2 * US, 7)));
        // The anchor's event was trimmed from the store: the oldest kept event stands in.
        let p = Playback { anchor: Some((0, 2)), ..Playback::default() };
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 0);
        // The anchor's step merged into a later one: that one stands in.
        let p = Playback { anchor: Some((US / 2, 99)), ..Playback::default() };
        assert_eq!(p.position(track(&seqs, &times)).unwrap().index, 1);
    }

    #[test]
    fn test_speed_changes_keep_the_current_event() {
        let (seqs, times) = keys([1, 2, 3], [0, 10 * US, 20 * US]);
        let p = Playback {
            speed_index: 3,
            anchor: Some((0, 1)),
            elapsed_ms: 12.0,
            ..Default::default()
        };
        let slower = p.change_speed(track(&seqs, &times), 1);
        assert_eq!(slower.speed_index, 4);
        assert_eq!(slower.anchor, Some((10 * US, 2)));
        assert_eq!(p.change_speed(track(&seqs, &times), -10).speed_index, 0);
        assert_eq!(p.change_speed(track(&seqs, &times), 10).speed_index, SPEEDS.len() - 1);
    }

    #[test]
    fn test_step_back_from_the_middle_shows_the_previous_step() {
        let (seqs, times) = keys([1, 2, 3, 4], [0, 10 * US, 20 * US, 30 * US]);
        let tr = track(&seqs, &times);
        // Playing, a third of the way from step 2 to step 3.
        let p = Playback {
            anchor: Some((0, 1)),
            elapsed_ms: 23.0,
            speed_index: 3,
            ..Default::default()
        };
        assert_eq!(p.position(tr).unwrap().index, 2);
        let back = p.step_back(tr);
        assert_eq!(back.position(tr).unwrap(), Position { index: 1, progress: Some(0.0) });
        assert_eq!(back.step(tr).position(tr).unwrap().index, 2, "forward undoes back");
    }

    #[test]
    fn test_step_back_at_the_first_kept_step_stays_there() {
        let (seqs, times) = keys([5, 6], [0, US]);
        let tr = track(&seqs, &times);
        let p = Playback { anchor: Some((0, 5)), paused: true, ..Default::default() };
        assert_eq!(p.step_back(tr).position(tr).unwrap().index, 0);
        // The anchor's step was trimmed: the oldest kept one stands in, and back stays there.
        let p = Playback { anchor: Some((0, 1)), paused: true, ..Default::default() };
        assert_eq!(p.step_back(tr).anchor, Some((0, 5)));
    }

    #[test]
    fn test_seek_shows_that_step_and_clamps() {
        let (seqs, times) = keys([1, 2, 3], [0, US, 2 * US]);
        let tr = track(&seqs, &times);
        let p = Playback::default().seek(tr, 1);
        assert_eq!(p.anchor, Some((US, 2)));
        assert_eq!(p.elapsed_ms, 0.0);
        assert_eq!(Playback::default().seek(tr, 99).anchor, Some((2 * US, 3)));
        let empty = track(&[], &[]);
        assert_eq!(Playback::default().seek(empty, 3), Playback::default());
    }

    #[test]
    fn test_mode_tells_live_from_replaying_and_paused() {
        let (seqs, times) = keys([1, 2, 3], [0, US, 2 * US]);
        let tr = track(&seqs, &times);
        let at = |i: usize, paused| Playback { paused, ..Playback::default().seek(tr, i) };
        assert_eq!(at(2, false).mode(tr), Mode::Live);
        assert_eq!(at(0, false).mode(tr), Mode::Replaying { behind: 2 });
        assert_eq!(at(1, true).mode(tr), Mode::Paused { behind: 1 });
        assert_eq!(at(0, true).go_live(tr).mode(tr), Mode::Live);
    }

    use crate::store::tests::ev;
    use crate::store::ModelStore;
    use kettle_shared::{ReadyFd, WaitApi};

    fn recv_exit(fd: i32, text: &str) -> EventKind {
        EventKind::RecvExit {
            fd,
            outcome: RecvOutcome::Data { bytes: text.len() as u32, preview: text.into() },
            wait_ns: Some(1_000),
            copy_ns: Some(1_000),
        }
    }

    fn sent(fd: i32, bytes: u32) -> EventKind {
        EventKind::SendExit { fd, outcome: SendOutcome::Sent { bytes } }
    }

    fn steps_of(events: Vec<EventKind>) -> ModelStore {
        let mut store = ModelStore::default();
        // Times are the order given, 1 µs apart, on one thread.
        store.extend(events.into_iter().enumerate().map(|(i, k)| {
            let i = i as u64 + 1;
            ev(i, i * US, 1, k)
        }));
        store
    }

    fn kind_at(store: &ModelStore, i: usize) -> &'static str {
        store.steps().list[i].event.kind.name()
    }

    #[test]
    fn test_last_echo_starts_at_the_recv_that_waited_for_the_last_line() {
        let store = steps_of(vec![
            EventKind::AcceptEnter,
            EventKind::AcceptExit { fd: Some(5), peer: Some("127.0.0.1:4".into()), error: None },
            EventKind::RecvEnter { fd: 5, len: 1024 },
            EventKind::DataArrived { fd: 5, stamp: None },
            recv_exit(5, "one\n"),
            EventKind::SendEnter { fd: 5, bytes: 4 },
            sent(5, 4),
            EventKind::RecvEnter { fd: 5, len: 1024 }, // 7: the second line's story
            EventKind::DataArrived { fd: 5, stamp: None },
            recv_exit(5, "two\n"),
            EventKind::SendEnter { fd: 5, bytes: 4 },
            sent(5, 4),
            EventKind::RecvEnter { fd: 5, len: 1024 }, // waiting for a third, not echoed yet
        ]);
        let start = last_echo_start(&store.steps().list, Family::Blocking);
        assert_eq!(start, Some(7));
        assert_eq!(kind_at(&store, 7), "recv_enter");
        assert_eq!(
            last_echo_start(&store.steps().list[..6], Family::Blocking),
            None,
            "no echo yet"
        );
    }

    #[test]
    fn test_last_echo_after_select_starts_at_the_select_the_data_woke() {
        let ready = || vec![ReadyFd { fd: 5, readable: true, writable: false }];
        let wait = || EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] };
        let store = steps_of(vec![
            wait(),
            EventKind::WaitReturned { api: WaitApi::Select, ready: ready(), scanned: 6 },
            EventKind::RecvEnter { fd: 5, len: 1024 },
            recv_exit(5, "one\n"),
            EventKind::SendEnter { fd: 5, bytes: 4 },
            sent(5, 4),
            wait(), // 6: slept here until the line came
            EventKind::DataArrived { fd: 5, stamp: None },
            EventKind::WaitReturned { api: WaitApi::Select, ready: ready(), scanned: 6 },
            EventKind::RecvEnter { fd: 5, len: 1024 },
            recv_exit(5, "two\n"),
            EventKind::SendEnter { fd: 5, bytes: 4 },
            sent(5, 4),
            wait(),
        ]);
        assert_eq!(last_echo_start(&store.steps().list, Family::Multiplex), Some(6));
    }

    #[test]
    fn test_last_echo_on_io_uring_starts_at_the_recv_sqe() {
        let complete =
            |op, fd, result| EventKind::Complete { op, fd, result, peer: None, more: false };
        let store = steps_of(vec![
            EventKind::Submit { op: AsyncOp::Recv, fd: 7 }, // 0: the request the kernel served
            EventKind::RingEnter { submitted: 1, wait_for: 1 },
            EventKind::DataArrived { fd: 7, stamp: None },
            EventKind::RingExit { completions: 1, timed_out: false },
            complete(AsyncOp::Recv, 7, 4),
            EventKind::Submit { op: AsyncOp::Send, fd: 7 },
            EventKind::RingEnter { submitted: 1, wait_for: 1 },
            EventKind::RingExit { completions: 1, timed_out: false },
            complete(AsyncOp::Send, 7, 4),
            EventKind::Submit { op: AsyncOp::Recv, fd: 7 },
        ]);
        assert_eq!(last_echo_start(&store.steps().list, Family::Async), Some(0));
    }
}
