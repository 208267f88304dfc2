//! Out of descriptors: the pause before the next `accept`.
//!
//! Every connection costs the server a descriptor. When the process has none left (`EMFILE`:
//! `RLIMIT_NOFILE` reached) or the system has none (`ENFILE`), or the kernel has no memory for
//! the new socket (`ENOBUFS`, `ENOMEM`), `accept` fails — and the connection stays in the
//! listen queue, so the listener stays readable. A server that simply calls `accept` again
//! fails again at once, forever: a busy loop that burns a core and helps nobody. What helps is
//! time: a client closes, a descriptor is freed.
//!
//! So every model answers such a failure the same way, with [`AcceptPause`]: it says so once
//! ([`EventKind::Refused`] with [`Reason::OutOfDescriptors`], naming the errno and the pause)
//! and does not call `accept` again for [`EMFILE_BACKOFF`]. What the thread does meanwhile is
//! its model's lesson: a blocking acceptor has nothing else to do and sleeps it out
//! ([`AcceptPause::sleep_out`]); a one-thread loop keeps serving its connections and leaves
//! the listener out of its readiness call, waiting at most [`AcceptPause::left`] so accepting
//! resumes on time; io_uring submits a timeout request of that length and the next accept when
//! it completes. The waiting clients are accepted once descriptors are free again.

use std::time::{Duration, Instant};

use kettle_shared::{EventKind, Reason};
use nix::errno::Errno;

use crate::recorder::Tracer;

/// How long a model waits before calling `accept` again when it is out of descriptors.
pub const EMFILE_BACKOFF: Duration = Duration::from_millis(100);

/// True for the `accept` failures that mean "no descriptor or memory for a new connection".
pub fn out_of_descriptors(e: Errno) -> bool {
    matches!(e, Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM)
}

/// Whether `accept` must wait, and until when. See the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct AcceptPause {
    until: Option<Instant>,
}

impl AcceptPause {
    /// After `accept` failed with `e`: if it was for want of descriptors, records the
    /// [`EventKind::Refused`] that says so and starts the pause (`accept` must not be called
    /// for [`EMFILE_BACKOFF`]), and returns true. Any other failure: false, no pause.
    pub fn after_failure(&mut self, e: Errno, t: &Tracer) -> bool {
        if !out_of_descriptors(e) {
            return false;
        }
        t.emit(None, EventKind::Refused { reason: refused_for_descriptors(e) });
        self.until = Some(Instant::now() + EMFILE_BACKOFF);
        true
    }

    /// Whether `accept` must still wait.
    pub fn holds(&self) -> bool {
        self.until.is_some_and(|until| Instant::now() < until)
    }

    /// True once: at the first look after a pause is over. For a model that nothing will
    /// remind to accept the clients who waited (sigio: their signal came during the pause).
    pub fn ends_now(&mut self) -> bool {
        let over = self.until.is_some() && !self.holds();
        if over {
            self.until = None;
        }
        over
    }

    /// How long `accept` must still wait (`None`: it may be called now). A readiness call made
    /// during the pause waits at most this long, so accepting resumes on time.
    pub fn left(&self) -> Option<Duration> {
        let left = self.until?.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }

    /// For a thread with nothing else to do meanwhile (a blocking acceptor): sleeps until the
    /// pause is over.
    pub fn sleep_out(&mut self) {
        if let Some(left) = self.left() {
            std::thread::sleep(left);
        }
        self.until = None;
    }
}

/// Why `accept` gave no connection when the process (or system) is out of descriptors, and
/// how long the model pauses ([`EMFILE_BACKOFF`]).
pub fn refused_for_descriptors(e: Errno) -> Reason {
    let retry_ms = EMFILE_BACKOFF.as_millis() as u64;
    Reason::OutOfDescriptors { errno: crate::failure::errno_name(e), retry_ms }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_want_of_descriptors_or_memory_pauses_accept() {
        for e in [Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM] {
            assert!(out_of_descriptors(e), "{e}");
        }
        for e in [Errno::EAGAIN, Errno::ECONNABORTED, Errno::EINVAL, Errno::EINTR] {
            assert!(!out_of_descriptors(e), "{e}");
        }
    }

    #[test]
    fn a_pause_holds_for_the_backoff_then_ends_by_itself() {
        let mut pause = AcceptPause::default();
        assert!(!pause.holds() && pause.left().is_none(), "no pause before a failure");
        pause.until = Some(Instant::now() + EMFILE_BACKOFF);
        assert!(pause.holds());
        assert!(pause.left().is_some_and(|left| left <= EMFILE_BACKOFF));
        pause.sleep_out();
        assert!(!pause.holds() && pause.left().is_none(), "over after sleeping it out");
        pause.until = Some(Instant::now());
        assert!(!pause.holds(), "a pause whose time has come no longer holds");
        pause.until = Some(Instant::now());
        assert!(pause.ends_now(), "said once when it is over");
        assert!(!pause.ends_now(), "and only once");
    }

    #[test]
    fn the_refusal_names_the_errno_and_the_pause() {
        assert_eq!(
            refused_for_descriptors(Errno::EMFILE),
            Reason::OutOfDescriptors { errno: "EMFILE".into(), retry_ms: 100 }
        );
    }
}
