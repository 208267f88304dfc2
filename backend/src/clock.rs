//! One clock for every event.
//!
//! Events are stamped with `CLOCK_MONOTONIC` nanoseconds since the backend started, so threads
//! can be compared on one axis and a wall-clock jump (NTP, a teacher changing the time) never
//! reorders them.
//!
//! The kernel's socket receive timestamps (`SO_TIMESTAMPING`) are `CLOCK_REALTIME`, the wall
//! clock, and the wall clock does not keep a fixed distance from the monotonic one: it is
//! stepped (by NTP, by hand), and it keeps counting through a suspend while `CLOCK_MONOTONIC`
//! stands still. An offset between the two measured once at start is wrong by the size of every
//! step or suspend since. So a stamp is converted per call instead
//! ([`Clock::realtime_stamp_to_ns`]): when the call returns, both clocks are read
//! ([`Clock::now_pair`]); the wall clock says how old the stamp is (`exit_real − stamp`), and the
//! arrival is that long before the monotonic exit (`exit_mono − age`). Only a step that falls
//! inside the stamp's short life (microseconds to the length of one `recv`) can still move it,
//! and [`calls::phases`](crate::models::calls::phases) clamps that into the call's own window.
//!
//! A wall-clock step cannot be made in a test without root and without disturbing the machine,
//! so [`simulate_wall_clock_step`] moves every `CLOCK_REALTIME` value Kettle sees — its own
//! reads and the kernel's stamps alike, as a real step would — by a given amount.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::OnceLock;

use nix::time::{clock_gettime, ClockId};

/// The process-wide clock. Cheap to copy; read it through [`clock`].
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `CLOCK_MONOTONIC` at start, in ns.
    mono_start: u64,
    /// Wall-clock time at start, Unix ms.
    start_unix_ms: u64,
}

/// Both clocks read at one instant (the end of a call), to convert the kernel's wall-clock
/// stamps taken during that call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockPair {
    /// The instant on the events' axis: ns since start.
    pub mono_ns: u64,
    /// The same instant on `CLOCK_REALTIME`, ns since the Unix epoch.
    pub real_ns: i128,
}

/// The simulated wall-clock step, in ns ([`simulate_wall_clock_step`]); 0 outside tests.
static WALL_STEP_NS: AtomicI64 = AtomicI64::new(0);

/// Moves every `CLOCK_REALTIME` value Kettle reads from now on — [`Clock::now_pair`]'s and the
/// kernel's receive stamps as [`Clock::realtime_stamp_to_ns`] takes them — by `secs` more, as if
/// the machine's wall clock had been stepped. For tests: a real step needs root and moves the
/// whole machine's time. Events' times (`CLOCK_MONOTONIC`) are not touched, as a real step
/// does not touch them.
pub fn simulate_wall_clock_step(secs: i64) {
    WALL_STEP_NS.fetch_add(secs.saturating_mul(1_000_000_000), Ordering::Relaxed);
}

fn read(id: ClockId) -> u64 {
    // Both clocks always exist on Linux; failure would mean a broken kernel.
    let ts = clock_gettime(id).expect("clock_gettime on a standard clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

/// `CLOCK_REALTIME` now, ns since the epoch, with the simulated step.
fn realtime_now() -> i128 {
    read(ClockId::CLOCK_REALTIME) as i128 + i128::from(WALL_STEP_NS.load(Ordering::Relaxed))
}

/// A kernel `CLOCK_REALTIME` stamp in ns, as Kettle sees it (with the simulated step).
fn realtime_stamp(sec: i64, nsec: i64) -> i128 {
    sec as i128 * 1_000_000_000 + nsec as i128 + i128::from(WALL_STEP_NS.load(Ordering::Relaxed))
}

/// The instant on the monotonic axis (ns since start) of a wall-clock `stamp`, given both
/// clocks read together at `now`: `now.mono − (now.real − stamp)`. A stamp "from the future"
/// (only a step between the stamp and `now` can make one) counts as `now`; one older than the
/// start counts as the start.
fn stamp_on_axis(stamp: i128, now: ClockPair) -> u64 {
    let age = (now.real_ns - stamp).max(0);
    (i128::from(now.mono_ns) - age).max(0) as u64
}

impl Clock {
    fn measure() -> Clock {
        let mono_start = read(ClockId::CLOCK_MONOTONIC);
        let real_start = realtime_now();
        let start_unix_ms = (real_start / 1_000_000).max(0) as u64;
        Clock { mono_start, start_unix_ms }
    }

    /// Nanoseconds since the backend started.
    pub fn now_ns(&self) -> u64 {
        read(ClockId::CLOCK_MONOTONIC).saturating_sub(self.mono_start)
    }

    /// Both clocks, read back to back (tens of ns apart, far below what a figure shows): take
    /// it when a call returns, to convert the stamps the kernel gave that call.
    pub fn now_pair(&self) -> ClockPair {
        let mono_ns = self.now_ns();
        ClockPair { mono_ns, real_ns: realtime_now() }
    }

    /// Converts a kernel `CLOCK_REALTIME` stamp (seconds, nanoseconds) to nanoseconds since
    /// start, by its age at `now` (both clocks read when the call that brought the stamp
    /// returned). Right after any wall-clock step or suspend, unlike a start-time offset.
    pub fn realtime_stamp_to_ns(&self, sec: i64, nsec: i64, now: ClockPair) -> u64 {
        stamp_on_axis(realtime_stamp(sec, nsec), now)
    }

    /// `CLOCK_MONOTONIC` (shared by every process on the machine) of an instant on this axis:
    /// how a child process tells its parent when its events happened.
    pub fn to_monotonic(&self, t_ns: u64) -> u64 {
        self.mono_start + t_ns
    }

    /// Converts a `CLOCK_MONOTONIC` instant (from any process) to nanoseconds since start.
    pub fn from_monotonic(&self, mono_ns: u64) -> u64 {
        mono_ns.saturating_sub(self.mono_start)
    }

    /// Wall-clock time at which `t_ns == 0`, Unix milliseconds (as the wall clock read then).
    pub fn start_unix_ms(&self) -> u64 {
        self.start_unix_ms
    }
}

/// The backend's clock, measured on first use.
pub fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(Clock::measure)
}

#[cfg(test)]
mod tests {
    // These tests never call `simulate_wall_clock_step`: it is process-wide and the library's
    // other tests convert real stamps meanwhile. `tests/wall_clock_step.rs`, a process of its
    // own, steps it.
    use super::*;

    const MS: i128 = 1_000_000;

    #[test]
    fn a_stamp_taken_now_converts_to_now() {
        let c = clock();
        let real = clock_gettime(ClockId::CLOCK_REALTIME).unwrap();
        let now = c.now_pair();
        let converted = c.realtime_stamp_to_ns(real.tv_sec(), real.tv_nsec(), now);
        // The stamp was read just before the pair: within a millisecond of it, never after.
        assert!(converted <= now.mono_ns, "now {now:?} converted {converted}");
        assert!(now.mono_ns - converted < 1_000_000, "now {now:?} converted {converted}");
    }

    #[test]
    fn a_stamp_lands_its_age_before_the_exit() {
        let exit = ClockPair { mono_ns: 5_000 * MS as u64, real_ns: 1_700_000_000_000 * MS };
        let stamp = exit.real_ns - 200 * MS;
        assert_eq!(stamp_on_axis(stamp, exit), 4_800 * MS as u64);
    }

    #[test]
    fn a_wall_clock_step_before_the_call_moves_nothing() {
        // The same call seen on two machines whose wall clocks differ by an hour either way (a
        // step since start): the stamp and the exit's wall-clock reading move together.
        let exit = ClockPair { mono_ns: 9_000 * MS as u64, real_ns: 1_700_000_000_000 * MS };
        let stamp = exit.real_ns - 30 * MS;
        let hour = 3_600_000 * MS;
        for step in [hour, -hour] {
            let stepped = ClockPair { real_ns: exit.real_ns + step, ..exit };
            assert_eq!(stamp_on_axis(stamp + step, stepped), stamp_on_axis(stamp, exit));
        }
        assert_eq!(stamp_on_axis(stamp, exit), 8_970 * MS as u64);
    }

    #[test]
    fn a_stamp_from_the_future_counts_as_the_exit() {
        // Only a backward step between the stamp and the exit can make one.
        let exit = ClockPair { mono_ns: 1_000, real_ns: 50 * MS };
        assert_eq!(stamp_on_axis(exit.real_ns + 7 * MS, exit), 1_000);
    }

    #[test]
    fn a_stamp_older_than_the_start_counts_as_the_start() {
        let exit = ClockPair { mono_ns: 1_000, real_ns: 50 * MS };
        assert_eq!(stamp_on_axis(exit.real_ns - 10 * MS, exit), 0);
    }

    #[test]
    fn now_never_goes_backwards() {
        let c = clock();
        let a = c.now_ns();
        let b = c.now_ns();
        assert!(b >= a);
    }
}
