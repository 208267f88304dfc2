//! How hard each model thread works, and where the kernel says it is: CPU share, connections
//! and system calls, from the backend's periodic `thread_sample` events (every
//! [`kettle_shared::SAMPLE_EVERY_MS`], the thread's own CPU clock), and the latest
//! [`KernelView`] of each thread (`/proc/self/task/<tid>/`: state letter, system call, wchan,
//! stack), worded by [`crate::kernel`].
//!
//! CPU share is the CPU time a thread used between two samples divided by the time between
//! them, so 100 % means the thread kept one core busy the whole time — the busy loop's lesson.

use kettle_shared::{Event, EventKind, KernelView};

/// At or above this CPU share a thread is shown as burning a core.
pub const BURNING_PERCENT: f64 = 80.0;

/// Most threads remembered per page (thread-per-connection models can have many).
const MAX_THREADS: usize = 256;

/// One thread's latest measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadLoad {
    /// The model.
    pub model: String,
    /// The backend's small thread id.
    pub thread: u32,
    /// Its name.
    pub name: String,
    /// CPU share between the last two samples, in percent; `None` after the first sample.
    pub cpu_percent: Option<f64>,
    /// Connections it holds.
    pub conns: u32,
    /// System calls it has made.
    pub syscalls: u64,
    /// What the kernel said about it in the latest sample.
    pub kernel: Option<KernelView>,
    last_t_ns: u64,
    last_cpu_ns: u64,
}

impl ThreadLoad {
    /// True when the thread keeps a core (nearly) fully busy.
    pub fn burning(&self) -> bool {
        self.cpu_percent.is_some_and(|p| p >= BURNING_PERCENT)
    }
}

/// Every live sampled thread, in the order first seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadLoads {
    loads: Vec<ThreadLoad>,
}

impl ThreadLoads {
    /// Takes in one event: samples update a thread; an exited thread or a stopped model is
    /// forgotten.
    pub fn observe(&mut self, e: &Event) {
        match e.kind {
            EventKind::ThreadSample { cpu_ns, conns, syscalls, ref kernel } => {
                self.sample(e, cpu_ns, conns, syscalls, kernel)
            }
            EventKind::ThreadExited => {
                self.loads.retain(|l| !(l.model == e.model && l.thread == e.thread.id))
            }
            EventKind::Stopped { .. } => self.loads.retain(|l| l.model != e.model),
            _ => {}
        }
    }

    fn sample(
        &mut self,
        e: &Event,
        cpu_ns: u64,
        conns: u32,
        syscalls: u64,
        kernel: &Option<KernelView>,
    ) {
        let found = self.loads.iter_mut().find(|l| l.model == e.model && l.thread == e.thread.id);
        match found {
            Some(l) => {
                let dt = e.t_ns.saturating_sub(l.last_t_ns);
                if dt > 0 {
                    let used = cpu_ns.saturating_sub(l.last_cpu_ns);
                    l.cpu_percent = Some((used as f64 / dt as f64 * 100.0).min(100.0));
                }
                l.conns = conns;
                l.syscalls = syscalls;
                l.kernel = kernel.clone();
                l.last_t_ns = e.t_ns;
                l.last_cpu_ns = cpu_ns;
            }
            None => {
                if self.loads.len() == MAX_THREADS {
                    self.loads.remove(0);
                }
                self.loads.push(ThreadLoad {
                    model: e.model.clone(),
                    thread: e.thread.id,
                    name: e.thread.name.clone(),
                    cpu_percent: None,
                    conns,
                    syscalls,
                    kernel: kernel.clone(),
                    last_t_ns: e.t_ns,
                    last_cpu_ns: cpu_ns,
                });
            }
        }
    }

    /// One thread of one model.
    pub fn get(&self, model: &str, thread: u32) -> Option<&ThreadLoad> {
        self.loads.iter().find(|l| l.model == model && l.thread == thread)
    }

    /// The threads of one model.
    pub fn of_model<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a ThreadLoad> + 'a {
        self.loads.iter().filter(move |l| l.model == model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::ThreadRef;

    fn ev(t_ns: u64, thread: u32, kind: EventKind) -> Event {
        Event {
            seq: t_ns,
            t_ns,
            model: "nonblocking".into(),
            thread: ThreadRef { id: thread, name: format!("t{thread}") },
            conn: None,
            kind,
        }
    }

    fn sample(t_ns: u64, thread: u32, cpu_ns: u64) -> Event {
        ev(t_ns, thread, EventKind::ThreadSample { cpu_ns, conns: 2, syscalls: 10, kernel: None })
    }

    #[test]
    fn a_thread_using_all_of_the_interval_burns_a_core() {
        let mut loads = ThreadLoads::default();
        loads.observe(&sample(1_000_000_000, 1, 0));
        assert_eq!(loads.of_model("nonblocking").next().unwrap().cpu_percent, None);
        loads.observe(&sample(1_250_000_000, 1, 245_000_000));
        let l = loads.of_model("nonblocking").next().unwrap();
        assert!((l.cpu_percent.unwrap() - 98.0).abs() < 0.01);
        assert!(l.burning());
    }

    #[test]
    fn a_sleeping_thread_does_not_burn() {
        let mut loads = ThreadLoads::default();
        loads.observe(&sample(0, 1, 5_000));
        loads.observe(&sample(250_000_000, 1, 6_000));
        let l = loads.of_model("nonblocking").next().unwrap();
        assert!(l.cpu_percent.unwrap() < 1.0 && !l.burning());
        assert!(loads.of_model("blocking").next().is_none());
    }

    #[test]
    fn the_latest_kernel_view_of_each_thread_is_kept() {
        use kettle_shared::{InSyscall, ProcRead};
        let view = |letter: &str| KernelView {
            state: ProcRead::Read(letter.into()),
            syscall: ProcRead::Read(InSyscall::Running),
            wchan: ProcRead::Read("0".into()),
            stack: ProcRead::Unreadable("EACCES".into()),
        };
        let mut loads = ThreadLoads::default();
        for (t, letter) in [(0, "S"), (100, "R")] {
            let kind = EventKind::ThreadSample {
                cpu_ns: t,
                conns: 0,
                syscalls: 0,
                kernel: Some(view(letter)),
            };
            loads.observe(&ev(t, 1, kind));
        }
        assert_eq!(loads.get("nonblocking", 1).unwrap().kernel, Some(view("R")));
        assert!(loads.get("nonblocking", 2).is_none());
    }

    #[test]
    fn exited_threads_and_stopped_models_are_forgotten() {
        let mut loads = ThreadLoads::default();
        loads.observe(&sample(0, 1, 0));
        loads.observe(&sample(0, 2, 0));
        loads.observe(&ev(1, 1, EventKind::ThreadExited));
        assert_eq!(loads.of_model("nonblocking").map(|l| l.thread).collect::<Vec<_>>(), vec![2]);
        loads.observe(&ev(
            2,
            3,
            EventKind::Stopped { reason: kettle_shared::Reason::StoppedOnRequest },
        ));
        assert_eq!(loads.of_model("nonblocking").count(), 0);
    }
}
