//! Sampling threads: what each model thread counts about itself, and the periodic look at it.
//!
//! Every thread a model records through has a [`ThreadStats`]: its system calls and the
//! connections it holds, counted by the thread itself (two relaxed atomics, no lock). A
//! sampled thread ([`super::Tracer::sampled`]) is also looked at from outside every
//! [`SAMPLE_EVERY`] by [`sample_threads`] — its CPU time from the thread's own CPU clock,
//! and what the kernel says in `/proc/self/task/<tid>/` — and reported as an
//! [`EventKind::ThreadSample`]. The registry's monitor thread calls it for each model, the
//! lesson's sampler for the lesson's computation, a `process-per-conn` child for itself.
//!
//! A thread that has not run since its last sample has nothing new to say, so it is sent at
//! most once every [`QUIET_SAMPLE_EVERY`]: an idle machine's sleeping threads cost next to
//! nothing.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kettle_shared::{EventKind, ThreadRef};

use super::Recorder;

/// How often each model thread is sampled (CPU time and the kernel's view of it).
pub const SAMPLE_EVERY: Duration = Duration::from_millis(kettle_shared::SAMPLE_EVERY_MS);
/// How often a thread that has not run at all is sampled anyway (so a viewer that has just
/// connected hears of every thread within a second).
pub const QUIET_SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// What one thread counts about itself, read every [`SAMPLE_EVERY`] for
/// [`EventKind::ThreadSample`].
#[derive(Debug)]
pub struct ThreadStats {
    /// The model it belongs to.
    pub model: &'static str,
    /// The thread.
    pub thread: Arc<ThreadRef>,
    /// The kernel's id for the thread (`gettid`), to read its CPU clock and its
    /// `/proc/self/task/<tid>/` files.
    pub tid: i32,
    pub(super) syscalls: AtomicU64,
    pub(super) conns: AtomicU32,
    /// What the sampler remembers of this thread between samples.
    pub sampler: Mutex<SamplerMemory>,
}

/// What the sampler remembers of one thread between samples (only the sampler touches it).
#[derive(Debug, Default)]
pub struct SamplerMemory {
    /// What it last read in `/proc` for the thread.
    pub view: crate::proc::task::LastView,
    /// When it last sent a sample of the thread.
    pub sent_at: Option<Instant>,
}

impl ThreadStats {
    pub(super) fn new(model: &'static str, thread: Arc<ThreadRef>, tid: i32) -> ThreadStats {
        ThreadStats {
            model,
            thread,
            tid,
            syscalls: AtomicU64::new(0),
            conns: AtomicU32::new(0),
            sampler: Mutex::default(),
        }
    }

    /// System calls made so far.
    pub fn syscalls(&self) -> u64 {
        self.syscalls.load(Ordering::Relaxed)
    }

    /// Connections held now.
    pub fn conns(&self) -> u32 {
        self.conns.load(Ordering::Relaxed)
    }
}

/// One [`EventKind::ThreadSample`] per live sampled thread of `model`.
pub fn sample_threads(recorder: &Recorder, model: &str) {
    for stats in recorder.sampled_threads(model) {
        // A thread that just ended has no clock any more: nothing to sample.
        let Some(cpu_ns) = thread_cpu_ns(stats.tid) else { continue };
        let kernel = {
            let mut memory = stats.sampler.lock().unwrap_or_else(|p| p.into_inner());
            let (view, unchanged) =
                crate::proc::task::read_since(stats.tid, cpu_ns, &mut memory.view);
            // A thread that has not run since its last sample has nothing new to say: an idle
            // machine's sleeping threads are sent once a second, not ten times. (A viewer's
            // CPU share spans the longer interval; the kernel's words stay true.)
            let now = Instant::now();
            if unchanged
                && memory.sent_at.is_some_and(|at| now.duration_since(at) < QUIET_SAMPLE_EVERY)
            {
                continue;
            }
            memory.sent_at = Some(now);
            Some(view)
        };
        let kind = EventKind::ThreadSample {
            cpu_ns,
            conns: stats.conns(),
            syscalls: stats.syscalls(),
            kernel,
        };
        recorder.emit_for(&stats, None, kind);
    }
}

/// CPU time a thread of this process has used, from its per-thread CPU clock. The clock id is
/// built the way the kernel defines it (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`), which,
/// unlike `pthread_getcpuclockid`, is safe to use after the thread ended: it just fails.
pub fn thread_cpu_ns(tid: i32) -> Option<u64> {
    const CPUCLOCK_PERTHREAD_SCHED: libc::clockid_t = 4 | 2;
    let clock = (!tid << 3) | CPUCLOCK_PERTHREAD_SCHED;
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec we own; a bad clock id only returns EINVAL.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_shows_its_cpu_time() {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let spinner = std::thread::spawn(move || {
            // Spin until this thread has itself used 5 ms of CPU, however loaded the machine,
            // then wait (without using CPU) while the test reads the clock.
            let own =
                || nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).unwrap();
            while own().tv_sec() == 0 && own().tv_nsec() < 5_000_000 {
                std::hint::spin_loop();
            }
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let _ = done_rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        let cpu = thread_cpu_ns(tid).expect("a live thread has a CPU clock");
        done_tx.send(()).unwrap();
        spinner.join().unwrap();
        assert!(cpu >= 5_000_000, "a thread that spun for 5 ms of CPU shows {cpu} ns");
    }

    #[test]
    fn a_thread_of_another_process_has_no_readable_clock() {
        // Thread CPU clocks are only readable within this process; pid 1 is never one of ours.
        assert_eq!(thread_cpu_ns(1), None);
    }
}
