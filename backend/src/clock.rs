//! One clock for every event.
//!
//! Events are stamped with `CLOCK_MONOTONIC` nanoseconds since the backend started, so threads
//! can be compared on one axis and a wall-clock jump (NTP, a teacher changing the time) never
//! reorders them. The kernel's socket receive timestamps (`SO_TIMESTAMPING`) are
//! `CLOCK_REALTIME`, so [`Clock::from_realtime`] converts them with an offset measured at start.

use std::sync::OnceLock;

use nix::time::{clock_gettime, ClockId};

/// The process-wide clock. Cheap to copy; read it through [`clock`].
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// `CLOCK_MONOTONIC` at start, in ns.
    mono_start: u64,
    /// `CLOCK_REALTIME` minus `CLOCK_MONOTONIC`, in ns, measured at start.
    realtime_offset: i128,
    /// Wall-clock time at start, Unix ms.
    start_unix_ms: u64,
}

fn read(id: ClockId) -> u64 {
    // Both clocks always exist on Linux; failure would mean a broken kernel.
    let ts = clock_gettime(id).expect("clock_gettime on a standard clock");
    ts.tv_sec() as u64 * 1_000_000_000 + ts.tv_nsec() as u64
}

impl Clock {
    fn measure() -> Clock {
        // Take the narrowest of a few (mono, real, mono) brackets so the offset is accurate to
        // well under a microsecond even if we are preempted during one of them.
        let mut best: Option<(u64, i128)> = None;
        for _ in 0..8 {
            let before = read(ClockId::CLOCK_MONOTONIC);
            let real = read(ClockId::CLOCK_REALTIME);
            let after = read(ClockId::CLOCK_MONOTONIC);
            let width = after - before;
            let offset = real as i128 - (before as i128 + width as i128 / 2);
            if best.is_none_or(|(w, _)| width < w) {
                best = Some((width, offset));
            }
        }
        let (_, realtime_offset) = best.expect("at least one sample");
        let mono_start = read(ClockId::CLOCK_MONOTONIC);
        let start_unix_ms = ((mono_start as i128 + realtime_offset) / 1_000_000) as u64;
        Clock { mono_start, realtime_offset, start_unix_ms }
    }

    /// Nanoseconds since the backend started.
    pub fn now_ns(&self) -> u64 {
        read(ClockId::CLOCK_MONOTONIC).saturating_sub(self.mono_start)
    }

    /// Converts a `CLOCK_REALTIME` instant (seconds, nanoseconds) to nanoseconds since start.
    pub fn from_realtime(&self, sec: i64, nsec: i64) -> u64 {
        let real = sec as i128 * 1_000_000_000 + nsec as i128;
        let mono = real - self.realtime_offset;
        (mono - self.mono_start as i128).max(0) as u64
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

    /// Wall-clock time at which `t_ns == 0`, Unix milliseconds.
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
    use super::*;

    #[test]
    fn realtime_now_converts_to_monotonic_now() {
        let c = clock();
        let real = clock_gettime(ClockId::CLOCK_REALTIME).unwrap();
        let converted = c.from_realtime(real.tv_sec(), real.tv_nsec());
        let now = c.now_ns();
        // Converted "now" must land within a millisecond of the monotonic "now".
        assert!(now.abs_diff(converted) < 1_000_000, "now {now} converted {converted}");
    }

    #[test]
    fn now_never_goes_backwards() {
        let c = clock();
        let a = c.now_ns();
        let b = c.now_ns();
        assert!(b >= a);
    }
}
