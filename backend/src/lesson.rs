//! # The lesson's computation: a synchronous call that does not block
//!
//! The tutorial separates two words students mix up. *Synchronous* is about the call: the
//! caller waits for its result. *Blocking* is about the thread: the kernel suspends it. A long
//! computation is synchronous — whoever called it waits for the sum — yet its thread never
//! sleeps: it runs, or waits for a CPU, and `/proc/self/task/<tid>/stat` says `R` throughout.
//! A thread blocked in `recv` says `S`, asleep in the kernel at `sk_wait_data`.
//!
//! [`Lesson::compute`] ([`kettle_shared::Command::Compute`]) starts such a computation on a
//! thread of its own — summing `0..10^8` again and again for a bounded time — recorded under
//! the pseudo-model [`LESSON_MODEL`] and sampled like a model thread (CPU time and the
//! kernel's view, every [`crate::recorder::sampling::SAMPLE_EVERY`]), so the page can show it beside the
//! blocking model's thread. One computation at a time, at most [`MAX_COMPUTE_MS`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kettle_shared::{ErrorCode, EventKind, Reason, ThreadRole, LESSON_MODEL, MAX_COMPUTE_MS};

use crate::recorder::sampling::{sample_threads, SAMPLE_EVERY};
use crate::recorder::Recorder;

/// The numbers one round sums: the tutorial's "sum 0 to 10^8".
pub const ROUND: u64 = 100_000_000;
/// Numbers summed between two looks at the clock, so the computation ends on time.
const CHUNK: u64 = 1_000_000;

/// Starts the lesson's computations. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Lesson {
    recorder: Recorder,
    busy: Arc<AtomicBool>,
}

impl Lesson {
    /// No computation running yet.
    pub fn new(recorder: Recorder) -> Lesson {
        Lesson { recorder, busy: Arc::default() }
    }

    /// Starts computing for `ms` milliseconds on a new thread and returns that thread's small
    /// id at once. Refused (and nothing started) when `ms` is 0 or above [`MAX_COMPUTE_MS`],
    /// or while another computation runs.
    pub fn compute(&self, ms: u32) -> Result<u32, (ErrorCode, Reason)> {
        if ms == 0 || ms > MAX_COMPUTE_MS {
            return Err((ErrorCode::Limit, Reason::ComputeOutOfRange { ms, max: MAX_COMPUTE_MS }));
        }
        if self.busy.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err((ErrorCode::Limit, Reason::ComputeBusy));
        }
        let tracer = self.recorder.tracer(LESSON_MODEL, ThreadRole::Compute);
        let id = tracer.thread().id;
        let (recorder, busy) = (self.recorder.clone(), self.busy.clone());
        let spawned = std::thread::Builder::new().name("lesson-compute".into()).spawn(move || {
            let t = tracer.sampled();
            t.emit(None, EventKind::ThreadSpawned);
            let rounds = sum_until(Instant::now() + Duration::from_millis(ms.into()));
            t.emit(None, EventKind::WorkDone { units: rounds });
            t.emit(None, EventKind::ThreadExited);
            drop(t);
            busy.store(false, Ordering::Release);
        });
        if let Err(e) = spawned {
            self.busy.store(false, Ordering::Release);
            return Err((
                ErrorCode::Io,
                Reason::CannotCreateThread { errno: crate::failure::io_errno(&e) },
            ));
        }
        // Its sampler: the registry's monitors sample models, this samples the lesson's thread
        // while it lives (`sampled_threads` forgets it once it ended).
        let busy = self.busy.clone();
        let sampler = std::thread::Builder::new()
            .name("lesson-sampler".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                while busy.load(Ordering::Acquire) {
                    std::thread::sleep(SAMPLE_EVERY);
                    sample_threads(&recorder, LESSON_MODEL);
                }
            });
        if let Err(e) = sampler {
            // The computation runs anyway; it just goes unsampled. Say so.
            return Err((
                ErrorCode::Io,
                Reason::CannotCreateThread { errno: crate::failure::io_errno(&e) },
            ));
        }
        Ok(id)
    }

    /// True while a computation runs.
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }
}

/// Sums `0..ROUND` again and again until `deadline`, making no system call (the clock is read
/// through the vDSO): the thread stays running or runnable throughout. Returns the rounds
/// completed.
fn sum_until(deadline: Instant) -> u64 {
    let mut rounds = 0;
    let mut next = 0u64;
    let mut sum = 0u64;
    while Instant::now() < deadline {
        let end = next + CHUNK;
        for i in next..end {
            sum = sum.wrapping_add(std::hint::black_box(i));
        }
        next = end;
        if next == ROUND {
            rounds += 1;
            next = 0;
        }
    }
    std::hint::black_box(sum);
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::{Event, ProcRead};

    async fn events_until(
        rx: &mut tokio::sync::broadcast::Receiver<Arc<crate::recorder::Batch>>,
        done: impl Fn(&Event) -> bool,
    ) -> Vec<Event> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Ok(batch)) => {
                    for e in &batch.events {
                        seen.push(e.clone());
                        if done(e) {
                            return seen;
                        }
                    }
                }
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                _ => break,
            }
        }
        panic!("gave up waiting; saw {seen:?}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_computation_is_sampled_running_never_asleep_and_one_runs_at_a_time() {
        let recorder = Recorder::start();
        let mut rx = recorder.subscribe();
        let lesson = Lesson::new(recorder);
        assert_eq!(lesson.compute(0).unwrap_err().0, ErrorCode::Limit);
        assert_eq!(lesson.compute(MAX_COMPUTE_MS + 1).unwrap_err().0, ErrorCode::Limit);
        let thread = lesson.compute(1_500).unwrap();
        assert_eq!(lesson.compute(100).unwrap_err().0, ErrorCode::Limit, "one at a time");
        let events = events_until(&mut rx, |e| matches!(e.kind, EventKind::ThreadExited)).await;
        assert!(events.iter().all(|e| e.model == LESSON_MODEL && e.thread.id == thread));
        // The samples taken while it summed: those recorded before its `work_done`.
        let summing = events.iter().take_while(|e| !matches!(e.kind, EventKind::WorkDone { .. }));
        let states: Vec<&ProcRead<String>> = summing
            .filter_map(|e| match &e.kind {
                EventKind::ThreadSample { kernel: Some(k), .. } => Some(&k.state),
                _ => None,
            })
            .collect();
        assert!(!states.is_empty(), "sampled while it ran: {events:?}");
        // Running or runnable, never asleep: a computation does not block.
        assert!(states.iter().all(|s| **s == ProcRead::Read("R".into())), "{states:?}");
        // Free again once it ended (the flag drops just after `thread_exited`).
        let deadline = Instant::now() + Duration::from_secs(5);
        while lesson.busy() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!lesson.busy());
    }
}
