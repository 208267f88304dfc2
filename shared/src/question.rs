//! Predict, then see: the question asked at each stop of the guided tour, before its line is
//! sent, and the rule that answers it from the steps the model then records.
//!
//! A question is about what the recorded step is going to show: where the thread waits for
//! the line, which thread copies it, how many times the busy loop asks in vain, what
//! `epoll_wait` reports. Nothing is answered by a script: [`judge`] reads the events the model
//! recorded for the line and returns a [`Verdict`] — the choice the kernel confirmed and the
//! measured value that decided it ([`Evidence`]: "waited 342 ms in select", "73 111 EAGAINs").
//! Some answers depend on the run (which of the pool's workers took the connection, how many
//! `EAGAIN`s the loop collected): the evidence is then that measured value.
//!
//! The table ([`QUESTIONS`]) holds each question's words in English and Chinese, like the
//! catalogue holds each model's lesson, so the page, the backend and its tests read one table.
//! In classroom mode the class votes ([`Command::Vote`](crate::Command::Vote)) while the
//! teacher's page asks; the teacher reveals ([`Command::Reveal`](crate::Command::Reveal)) and
//! the backend judges the line from the events it recorded itself; every page is told
//! ([`ServerMsg::Ballot`](crate::ServerMsg::Ballot)).

use serde::{Deserialize, Serialize};

use crate::{BuiltIn, Event, EventKind, RecvOutcome, ThreadKind, ThreadRole, WaitApi};

/// Words in both of the page's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    /// English.
    pub en: &'static str,
    /// Chinese.
    pub zh: &'static str,
}

/// Where a thread waited for the line (phase 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Asleep in `recv` itself.
    Recv,
    /// Asleep in a readiness call (`select`, `poll`, `epoll_wait`).
    Readiness,
    /// Nowhere: it kept asking and got `EAGAIN` until the data was there.
    Polling,
    /// Nowhere: it ran freely until a signal said the data was there.
    Signal,
    /// Nowhere: the kernel did both phases and posted a completion.
    Kernel,
}

/// What the recorded steps show for the line, as one [`Choice`] claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The thread waited for the line there.
    WaitsIn(Place),
    /// The line was copied by a thread of this kind.
    CopiedBy(ThreadKind),
    /// The line was copied by the pool's worker N (counted from 1).
    Worker(usize),
    /// The loop got `EAGAIN` at least `at_least` and fewer than `below` times on the copying
    /// thread between the line being sent and the `recv` that found it.
    Eagains {
        /// Lower bound, included.
        at_least: u64,
        /// Upper bound, excluded.
        below: u64,
    },
    /// The readiness call that announced the line reported this.
    Reports(Reported),
    /// The reactor ran the callback registered for the line's socket.
    Callback,
}

/// What a readiness call reported when the line arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// Only the listening socket (no descriptor of the connection).
    Listener,
    /// The connection's socket (and not every socket it watches).
    Conn,
    /// Every socket it watches.
    All,
}

/// One answer a student can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The answer's words.
    pub words: Words,
    /// What it claims, checked against the recorded steps.
    pub claim: Claim,
}

/// A question asked at a tour stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// Its id on the wire and in the page (`data-question`).
    pub id: &'static str,
    /// The model whose tour stop asks it.
    pub model: BuiltIn,
    /// The question.
    pub ask: Words,
    /// Two to four answers.
    pub choices: &'static [Choice],
}

/// The measured value that decided a verdict, for the page to word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// `recv` slept through phase 1 for `wait_ns` (`None`: not measured).
    InRecv {
        /// Phase 1, in nanoseconds.
        wait_ns: Option<u64>,
    },
    /// The thread slept in a readiness call for `ns` before it reported the line's socket.
    InReadiness {
        /// Which call.
        api: WaitApi,
        /// From the call to its return, in nanoseconds.
        ns: u64,
    },
    /// The loop got `EAGAIN` this many times before the `recv` that found the line.
    Eagains {
        /// How many.
        count: u64,
    },
    /// The signal that said the line's socket was readable.
    Signalled {
        /// Its name (`"SIGRTMIN+2"`).
        name: String,
    },
    /// The kernel read the line on its own and posted its completion.
    KernelCopied {
        /// Bytes the completion carried.
        bytes: i64,
    },
    /// The thread that copied the line (its name, `"conn-3"`, `"pool-worker-2"`).
    CopiedBy {
        /// The thread's name.
        thread: String,
    },
    /// What the readiness call reported.
    Reported {
        /// The descriptors reported ready.
        ready: Vec<i32>,
        /// How many descriptors it watched.
        watched: u32,
        /// The line's socket.
        conn_fd: i32,
    },
    /// The reactor's callback run for the line's socket.
    Callback {
        /// The callback's name (`"read"`).
        name: String,
        /// The descriptor.
        fd: i32,
    },
}

/// The answer the recorded steps gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The confirmed choice (an index into [`Question::choices`]); `None` when the steps
    /// confirm none of them (the evidence says what they show instead).
    pub choice: Option<u32>,
    /// The measured value that decided it.
    pub evidence: Evidence,
}

/// The class's vote on the question being asked, as one viewer is told it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ballot {
    /// The question's id ([`Question::id`]).
    pub question: String,
    /// How many viewers have voted.
    pub voters: u32,
    /// Votes per choice, in the question's order: sent to the teacher all along, to students
    /// only once the answer is revealed (so no one votes with the crowd).
    pub counts: Option<Vec<u32>>,
    /// The answer, once revealed: the vote is closed.
    pub verdict: Option<Verdict>,
}

const fn w(en: &'static str, zh: &'static str) -> Words {
    Words { en, zh }
}

const fn c(en: &'static str, zh: &'static str, claim: Claim) -> Choice {
    Choice { words: w(en, zh), claim }
}

/// The four places a thread can spend phase 1, asked the same way at several stops.
const WHERE_IT_WAITS: &[Choice] = &[
    c("Asleep in recv", "在 recv 里睡着", Claim::WaitsIn(Place::Recv)),
    c(
        "Asleep in select (a readiness call)",
        "在 select（就绪通知调用）里睡着",
        Claim::WaitsIn(Place::Readiness),
    ),
    c(
        "Nowhere: it keeps asking and hears EAGAIN",
        "哪儿也不等：它一遍遍地问，听到 EAGAIN",
        Claim::WaitsIn(Place::Polling),
    ),
    c(
        "Nowhere: it runs until a signal arrives",
        "哪儿也不等：它照常运行，直到信号到来",
        Claim::WaitsIn(Place::Signal),
    ),
];

/// Who copies the line, for the asynchronous stop.
const WHO_COPIES: &[Choice] = &[
    c("The thread, asleep in recv", "线程自己，在 recv 里睡着", Claim::WaitsIn(Place::Recv)),
    c(
        "The thread, after select said it is readable",
        "线程自己，在 select 说“可读”之后",
        Claim::WaitsIn(Place::Readiness),
    ),
    c(
        "The kernel, before it tells the thread",
        "内核，在告诉线程之前就做完了",
        Claim::WaitsIn(Place::Kernel),
    ),
];

/// Every question, one per tour stop that acts a model out, in the tour's order.
pub const QUESTIONS: &[Question] = &[
    Question {
        id: "blocking-wait",
        model: BuiltIn::Blocking,
        ask: w(
            "Before your line arrives, where will the server's thread be waiting for it?",
            "你的这行字到达之前，服务器的线程会在哪里等它？",
        ),
        choices: WHERE_IT_WAITS,
    },
    Question {
        id: "threads-copier",
        model: BuiltIn::ThreadPerConn,
        ask: w(
            "Which thread will copy your line out of the kernel?",
            "哪个线程会把你的这行字从内核里拷出来？",
        ),
        choices: &[
            c(
                "The thread that accepted the connection",
                "接受（accept）这个连接的那个线程",
                Claim::CopiedBy(ThreadKind::Acceptor),
            ),
            c(
                "A thread started for this connection alone",
                "专门为这个连接新开的线程",
                Claim::CopiedBy(ThreadKind::Conn),
            ),
            c(
                "A worker taken from a fixed pool",
                "从固定线程池里取出的工作线程",
                Claim::CopiedBy(ThreadKind::PoolWorker),
            ),
        ],
    },
    Question {
        id: "pool-worker",
        model: BuiltIn::ThreadPool,
        ask: w(
            "Which of the pool's workers will copy your line?",
            "线程池里的哪个工作线程会拷贝你的这行字？",
        ),
        choices: &[
            c("Worker 1", "工作线程 1", Claim::Worker(1)),
            c("Worker 2", "工作线程 2", Claim::Worker(2)),
            c("Worker 3", "工作线程 3", Claim::Worker(3)),
            c("Worker 4", "工作线程 4", Claim::Worker(4)),
        ],
    },
    Question {
        id: "busy-eagains",
        model: BuiltIn::Nonblocking,
        ask: w(
            "While your line is on its way, how many times will the busy loop ask and hear EAGAIN?",
            "你的这行字还在路上时，忙等循环会问多少次、听到多少次 EAGAIN？",
        ),
        choices: &[
            c(
                "None: it sleeps until the line comes",
                "零次：它睡到数据来为止",
                Claim::Eagains { at_least: 0, below: 1 },
            ),
            c(
                "A handful (1 to 99)",
                "寥寥几次（1 到 99 次）",
                Claim::Eagains { at_least: 1, below: 100 },
            ),
            c(
                "Hundreds or more",
                "几百次甚至更多",
                Claim::Eagains { at_least: 100, below: u64::MAX },
            ),
        ],
    },
    Question {
        id: "select-wait",
        model: BuiltIn::Select,
        ask: w(
            "Before your line arrives, where will the select server's thread be waiting?",
            "你的这行字到达之前，select 服务器的线程会在哪里等？",
        ),
        choices: WHERE_IT_WAITS,
    },
    Question {
        id: "epoll-ready",
        model: BuiltIn::Epoll,
        ask: w(
            "When your line arrives, what will epoll_wait report as ready?",
            "你的这行字到达时，epoll_wait 会报告哪个描述符就绪？",
        ),
        choices: &[
            c("The listening socket", "监听套接字", Claim::Reports(Reported::Listener)),
            c("Your connection's socket", "你这个连接的套接字", Claim::Reports(Reported::Conn)),
            c("Every socket it watches", "它监视的每一个套接字", Claim::Reports(Reported::All)),
        ],
    },
    Question {
        id: "reactor-callback",
        model: BuiltIn::Reactor,
        ask: w(
            "When your line arrives, what will the reactor's loop do first?",
            "你的这行字到达时，reactor 的循环先做什么？",
        ),
        choices: &[
            c(
                "Run the callback registered for your socket",
                "调用为你的套接字登记的回调",
                Claim::Callback,
            ),
            c(
                "Call recv on every socket in turn",
                "挨个对每个套接字调用 recv",
                Claim::WaitsIn(Place::Polling),
            ),
            c(
                "Start a thread for your connection",
                "为你的连接开一个线程",
                Claim::CopiedBy(ThreadKind::Conn),
            ),
        ],
    },
    Question {
        id: "sigio-wait",
        model: BuiltIn::Sigio,
        ask: w(
            "Before your line arrives, where will the signal-driven server's thread be?",
            "你的这行字到达之前，信号驱动服务器的线程在哪里？",
        ),
        choices: WHERE_IT_WAITS,
    },
    Question {
        id: "uring-copy",
        model: BuiltIn::IoUring,
        ask: w(
            "Who will copy your line into the program's buffer?",
            "谁会把你的这行字拷进程序的缓冲区？",
        ),
        choices: WHO_COPIES,
    },
];

/// The question with this id.
pub fn question(id: &str) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.id == id)
}

/// The question asked at `model`'s tour stop, if any.
pub fn question_of(model: BuiltIn) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.model == model)
}

/// What the steps recorded for one line show, measured.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    /// Where the copying thread spent phase 1, with what measured it.
    place: (Place, Evidence),
    /// The thread that copied the line.
    copier: String,
    /// `EAGAIN`s on the copying thread after the line was sent, before the copy.
    eagains: u64,
    /// The readiness call that announced the line: ready descriptors, how many watched.
    reported: Option<(Vec<i32>, u32)>,
    /// The callback run for the line's socket.
    callback: Option<String>,
    /// The line's socket.
    fd: i32,
}

/// Whether `e` is the copy of the line: data returned on `conn` after `after_seq` (a `recv`
/// that returned data, or a completion that read some). The tour finds its stop's step with it.
pub fn is_copy(e: &Event, conn: u64, after_seq: u64) -> bool {
    e.seq > after_seq
        && e.conn == Some(conn)
        && match &e.kind {
            EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. } => true,
            EventKind::Complete { op, result, .. } => op.reads_data() && *result > 0,
            _ => false,
        }
}

fn find(events: &[Event], conn: u64, after_seq: u64) -> Option<Finding> {
    let copy_at = events.iter().position(|e| is_copy(e, conn, after_seq))?;
    let copy = &events[copy_at];
    let thread = copy.thread.id;
    // The steps since the line was sent, newest first.
    let since = || events[..copy_at].iter().rev().take_while(|e| e.seq > after_seq);
    let (fd, bytes, wait_ns) = match &copy.kind {
        EventKind::RecvExit { fd, outcome: RecvOutcome::Data { bytes, .. }, wait_ns, .. } => {
            (*fd, i64::from(*bytes), *wait_ns)
        }
        EventKind::Complete { fd, result, .. } => (*fd, *result, None),
        _ => return None,
    };
    let eagains: u64 = since()
        .filter(|e| e.thread.id == thread)
        .map(|e| match &e.kind {
            EventKind::WouldBlockBurst { count, .. } => *count,
            EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. } => 1,
            _ => 0,
        })
        .sum();
    let returned = since().find_map(|e| match &e.kind {
        EventKind::WaitReturned { api, ready, .. } if ready.iter().any(|r| r.fd == fd) => {
            Some((e, *api, ready.iter().map(|r| r.fd).collect::<Vec<_>>()))
        }
        _ => None,
    });
    // The call that returned began at the same thread's latest `WaitEnter` (perhaps long
    // before the line was sent: it slept waiting for it).
    let entered = returned.as_ref().and_then(|(ret, _, _)| {
        events.iter().rev().filter(|e| e.seq < ret.seq && e.thread.id == ret.thread.id).find_map(
            |e| match &e.kind {
                EventKind::WaitEnter { watched, .. } => Some((e.t_ns, watched.len() as u32)),
                _ => None,
            },
        )
    });
    let signal = since().find_map(|e| match &e.kind {
        EventKind::SignalDelivered { name, fd: f, .. } if f.is_none_or(|f| f == fd) => {
            Some(name.clone())
        }
        _ => None,
    });
    let callback = since().find_map(|e| match &e.kind {
        EventKind::Callback { name, fd: f } if *f == fd => Some(name.clone()),
        _ => None,
    });
    let place = if matches!(copy.kind, EventKind::Complete { .. }) {
        (Place::Kernel, Evidence::KernelCopied { bytes })
    } else if let Some(name) = signal {
        (Place::Signal, Evidence::Signalled { name })
    } else if let Some((ret, api, _)) = &returned {
        let ns = entered.map_or(0, |(t, _)| ret.t_ns.saturating_sub(t));
        (Place::Readiness, Evidence::InReadiness { api: *api, ns })
    } else if eagains > 0 {
        (Place::Polling, Evidence::Eagains { count: eagains })
    } else {
        (Place::Recv, Evidence::InRecv { wait_ns })
    };
    let reported = returned.map(|(_, _, ready)| (ready, entered.map_or(0, |(_, n)| n)));
    Some(Finding { place, copier: copy.thread.name.clone(), eagains, reported, callback, fd })
}

impl Claim {
    /// The evidence that confirms this claim, if the finding does.
    fn check(self, f: &Finding) -> Option<Evidence> {
        let copied_by = || Evidence::CopiedBy { thread: f.copier.clone() };
        match self {
            Claim::WaitsIn(place) => (f.place.0 == place).then(|| f.place.1.clone()),
            Claim::CopiedBy(kind) => {
                (ThreadRole::of_name(&f.copier).map(ThreadKind::from) == Some(kind)).then(copied_by)
            }
            Claim::Worker(n) => {
                (ThreadRole::of_name(&f.copier) == Some(ThreadRole::PoolWorker(n))).then(copied_by)
            }
            Claim::Eagains { at_least, below } => (at_least..below)
                .contains(&f.eagains)
                .then_some(Evidence::Eagains { count: f.eagains }),
            Claim::Reports(what) => {
                let (ready, watched) = f.reported.clone()?;
                let has_conn = ready.contains(&f.fd);
                let all = watched > 1 && ready.len() as u32 >= watched;
                let holds = match what {
                    Reported::Listener => !has_conn,
                    Reported::Conn => has_conn && !all,
                    Reported::All => all,
                };
                holds.then_some(Evidence::Reported { ready, watched, conn_fd: f.fd })
            }
            Claim::Callback => f.callback.clone().map(|name| Evidence::Callback { name, fd: f.fd }),
        }
    }

    /// What the steps show, as this kind of claim measures it (for a verdict no choice won).
    fn measure(self, f: &Finding) -> Evidence {
        match self {
            Claim::WaitsIn(_) | Claim::Callback => f.place.1.clone(),
            Claim::CopiedBy(_) | Claim::Worker(_) => {
                Evidence::CopiedBy { thread: f.copier.clone() }
            }
            Claim::Eagains { .. } => Evidence::Eagains { count: f.eagains },
            Claim::Reports(_) => match &f.reported {
                Some((ready, watched)) => {
                    Evidence::Reported { ready: ready.clone(), watched: *watched, conn_fd: f.fd }
                }
                None => f.place.1.clone(),
            },
        }
    }
}

/// Answers `question` from a model's recorded `events` (in `seq` order): the line sent on
/// connection `conn` once the newest recorded seq was `after_seq`. `None` until the `recv`
/// (or completion) that returned the line has been recorded.
pub fn judge(question: &Question, events: &[Event], conn: u64, after_seq: u64) -> Option<Verdict> {
    let finding = find(events, conn, after_seq)?;
    for (i, choice) in question.choices.iter().enumerate() {
        if let Some(evidence) = choice.claim.check(&finding) {
            return Some(Verdict { choice: Some(i as u32), evidence });
        }
    }
    let first = question.choices.first()?.claim;
    Some(Verdict { choice: None, evidence: first.measure(&finding) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AsyncOp, ReadyFd, ThreadRef};

    fn ev(seq: u64, thread: &str, conn: Option<u64>, kind: EventKind) -> Event {
        let id = thread.bytes().map(u32::from).sum();
        Event {
            seq,
            t_ns: seq * 1_000_000,
            model: "m".into(),
            thread: ThreadRef { id, name: thread.into() },
            conn,
            kind,
        }
    }

    fn data(seq: u64, thread: &str, fd: i32, wait_ns: Option<u64>) -> Event {
        let outcome = RecvOutcome::Data { bytes: 14, preview: "kettle".into() };
        ev(seq, thread, Some(3), EventKind::RecvExit { fd, outcome, wait_ns, copy_ns: Some(1) })
    }

    fn burst(seq: u64, count: u64) -> Event {
        ev(seq, "nonblocking", None, EventKind::WouldBlockBurst { call: "recv".into(), count })
    }

    fn by_id(id: &str) -> &'static Question {
        question(id).unwrap()
    }

    #[test]
    fn every_tour_model_has_one_question_of_two_to_four_choices_in_both_languages() {
        for q in QUESTIONS {
            assert!((2..=4).contains(&q.choices.len()), "{}", q.id);
            assert_eq!(QUESTIONS.iter().filter(|o| o.model == q.model).count(), 1, "{}", q.id);
            let words = std::iter::once(q.ask).chain(q.choices.iter().map(|c| c.words));
            for w in words {
                assert!(!w.en.is_empty() && !w.zh.is_empty(), "{}", q.id);
                assert!(
                    w.zh.chars().any(|c| c > '\u{2e80}'),
                    "Chinese words in {}: {}",
                    q.id,
                    w.zh
                );
            }
        }
        let ids: std::collections::HashSet<_> = QUESTIONS.iter().map(|q| q.id).collect();
        assert_eq!(ids.len(), QUESTIONS.len(), "ids are unique");
    }

    #[test]
    fn nothing_is_judged_before_the_line_is_copied() {
        let events = [burst(11, 40)];
        assert_eq!(judge(by_id("busy-eagains"), &events, 3, 10), None);
        // An older line on the same connection does not count.
        let old = [data(5, "blocking", 4, Some(9))];
        assert_eq!(judge(by_id("blocking-wait"), &old, 3, 10), None);
    }

    #[test]
    fn a_recv_that_slept_through_phase_one_confirms_waiting_in_recv() {
        let events = [data(12, "blocking", 4, Some(342_000_000))];
        let v = judge(by_id("blocking-wait"), &events, 3, 10).unwrap();
        let evidence = Evidence::InRecv { wait_ns: Some(342_000_000) };
        assert_eq!(v, Verdict { choice: Some(0), evidence });
    }

    #[test]
    fn select_is_measured_from_its_entry_even_when_that_was_before_the_line() {
        let watched = vec![3, 4];
        let events = [
            ev(2, "select", None, EventKind::WaitEnter { api: WaitApi::Select, watched }),
            ev(
                50,
                "select",
                None,
                EventKind::WaitReturned {
                    api: WaitApi::Select,
                    ready: vec![ReadyFd { fd: 4, readable: true, writable: false }],
                    scanned: 2,
                },
            ),
            data(52, "select", 4, Some(0)),
        ];
        let v = judge(by_id("select-wait"), &events, 3, 10).unwrap();
        assert_eq!(v.choice, Some(1));
        assert_eq!(v.evidence, Evidence::InReadiness { api: WaitApi::Select, ns: 48_000_000 });
    }

    #[test]
    fn the_busy_loops_answer_is_decided_by_the_measured_count_of_eagains() {
        let q = by_id("busy-eagains");
        let few = [burst(11, 7), data(13, "nonblocking", 4, Some(0))];
        let v = judge(q, &few, 3, 10).unwrap();
        assert_eq!(v, Verdict { choice: Some(1), evidence: Evidence::Eagains { count: 7 } });
        let many = [burst(11, 70_000), burst(12, 3_111), data(13, "nonblocking", 4, Some(0))];
        let v = judge(q, &many, 3, 10).unwrap();
        assert_eq!(v, Verdict { choice: Some(2), evidence: Evidence::Eagains { count: 73_111 } });
        // Bursts recorded before the line was sent are not its.
        let before = [burst(9, 500), data(13, "nonblocking", 4, Some(0))];
        assert_eq!(judge(q, &before, 3, 10).unwrap().choice, Some(0));
    }

    #[test]
    fn the_pool_worker_that_copied_decides_and_an_unlisted_one_confirms_no_choice() {
        let q = by_id("pool-worker");
        let v = judge(q, &[data(12, "pool-worker-3", 4, Some(5))], 3, 10).unwrap();
        assert_eq!(v.choice, Some(2));
        assert_eq!(v.evidence, Evidence::CopiedBy { thread: "pool-worker-3".into() });
        let v = judge(q, &[data(12, "pool-worker-9", 4, Some(5))], 3, 10).unwrap();
        assert_eq!(
            v,
            Verdict {
                choice: None,
                evidence: Evidence::CopiedBy { thread: "pool-worker-9".into() }
            }
        );
    }

    #[test]
    fn a_completion_means_the_kernel_copied_and_a_signal_means_the_thread_ran() {
        let done = ev(
            12,
            "io-uring",
            Some(3),
            EventKind::Complete { op: AsyncOp::Recv, fd: 4, result: 14, peer: None, more: false },
        );
        let v = judge(by_id("uring-copy"), &[done], 3, 10).unwrap();
        assert_eq!(v, Verdict { choice: Some(2), evidence: Evidence::KernelCopied { bytes: 14 } });
        let signal = ev(
            11,
            "sigio",
            None,
            EventKind::SignalDelivered { signo: 36, name: "SIGRTMIN+2".into(), fd: Some(4) },
        );
        let v = judge(by_id("sigio-wait"), &[signal, data(12, "sigio", 4, Some(0))], 3, 10);
        assert_eq!(
            v.unwrap(),
            Verdict {
                choice: Some(3),
                evidence: Evidence::Signalled { name: "SIGRTMIN+2".into() }
            }
        );
    }

    #[test]
    fn epoll_reporting_only_the_connection_confirms_the_connection() {
        let events = [
            ev(2, "epoll", None, EventKind::WaitEnter { api: WaitApi::Epoll, watched: vec![3, 4] }),
            ev(
                11,
                "epoll",
                None,
                EventKind::WaitReturned {
                    api: WaitApi::Epoll,
                    ready: vec![ReadyFd { fd: 4, readable: true, writable: false }],
                    scanned: 1,
                },
            ),
            data(12, "epoll", 4, Some(0)),
        ];
        let v = judge(by_id("epoll-ready"), &events, 3, 10).unwrap();
        assert_eq!(
            v,
            Verdict {
                choice: Some(1),
                evidence: Evidence::Reported { ready: vec![4], watched: 2, conn_fd: 4 }
            }
        );
    }

    #[test]
    fn a_verdict_is_plain_json() {
        let v = Verdict { choice: Some(1), evidence: Evidence::Eagains { count: 9 } };
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"{"choice":1,"evidence":{"kind":"eagains","count":9}}"#);
        assert_eq!(serde_json::from_str::<Verdict>(&json).unwrap(), v);
    }
}
