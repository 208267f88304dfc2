//! One plain sentence for every step of every figure, in English and in Chinese.
//!
//! A figure shows *what* happened — an arrow, a brace, a lit box; a student also needs to hear
//! *what it means*, and the meaning of the same event changes with the model. A `recv` that
//! returns 13 bytes means "the thread slept through both phases" in the blocking model (Stevens
//! Fig. 6.1), "only the copy was waited for" after `select` (Fig. 6.3), "the signal only said
//! when" in signal-driven I/O (Fig. 6.4). So [`narrate`] looks at the step, at the figure its
//! model is drawn as, and at the neighbouring steps where they decide the meaning: the call a
//! kernel receive stamp belongs to, the readiness call a thread slept in, the listen backlog's
//! length when `accept` was called.
//!
//! Every number in a sentence is measured — bytes, descriptors, the phases' durations the
//! backend timed (`wait_ns`, `copy_ns`), the busy loop's `EAGAIN` counts — and every sentence
//! is a template of the translation table ([`crate::i18n`]). The match over
//! [`EventKind`] is exhaustive: a new kind of event does not compile until it is narrated.
//! Like the figures' panels, a sentence may look at *later* events only to name what is
//! already there (the bytes that have arrived are the bytes the `recv` will return).

use std::collections::VecDeque;
use std::rc::Rc;

use kettle_shared::{
    AsyncOp, BuiltIn, EpollOp, Event, EventKind, Family, ModelId, ReadyFd, Reason, RecvOutcome,
    SendOutcome, SysError, ThreadRole, WaitApi,
};

use crate::figures::{evidence_phrase, family_key, Evidence};
use crate::format::signal_name;
use crate::format::{format_bytes, format_count, format_duration};
use crate::i18n::{t, tf, Key, Lang};
use crate::labels::{close_reason, completion_result, preview};
use crate::store::{ModelStore, Step};
use crate::timeline::{pairs, wait_name, Call, Pair};

/// A sentence before it is put into words: a template of the translation table and its
/// values, in placeholder order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// The template.
    pub key: Key,
    /// `{0}`, `{1}`… already formatted for the page language.
    pub args: Vec<String>,
}

impl Sentence {
    fn new(key: Key, args: Vec<String>) -> Sentence {
        Sentence { key, args }
    }

    /// The sentence in `lang`.
    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<&dyn std::fmt::Display> =
            self.args.iter().map(|a| a as &dyn std::fmt::Display).collect();
        tf(lang, self.key, &args)
    }
}

/// The sentence for step `index` of `model`'s figure (`figure`, the one that step is drawn as,
/// [`crate::state::family_at`]: `None` for a traced program not recognised by then, whose steps
/// are told without a figure's meaning), in `lang`; the "nothing yet" line when the model has
/// no such step.
pub fn narrate(
    store: &ModelStore,
    index: usize,
    model: &str,
    figure: Option<Family>,
    lang: Lang,
) -> String {
    match sentence(store, index, model, figure, lang) {
        Some(s) => s.render(lang),
        None => t(lang, Key::NoStepsYet).to_owned(),
    }
}

/// The sentence for step `index` of `model`'s figure, unrendered; `None` past the last step.
pub fn sentence(
    store: &ModelStore,
    index: usize,
    model: &str,
    figure: Option<Family>,
    lang: Lang,
) -> Option<Sentence> {
    let steps = &store.steps().list;
    let step = steps.get(index)?;
    let scene = Scene {
        figure,
        model: model.parse().ok(),
        steps,
        events: store.events(),
        index,
        step,
        lang,
        pairs: std::cell::OnceCell::new(),
    };
    Some(scene.sentence())
}

/// A step and what is around it.
struct Scene<'a> {
    /// The figure the model is drawn as; `None` for a traced program not recognised yet.
    figure: Option<Family>,
    /// The model, if the id names one.
    model: Option<ModelId>,
    steps: &'a [Step],
    events: &'a VecDeque<Rc<Event>>,
    index: usize,
    step: &'a Step,
    lang: Lang,
    /// Calls matched to returns, computed only for the steps that need them.
    pairs: std::cell::OnceCell<Vec<Pair>>,
}

fn s(v: impl ToString) -> String {
    v.to_string()
}

impl Scene<'_> {
    fn pairs(&self) -> &[Pair] {
        self.pairs.get_or_init(|| pairs(self.steps))
    }

    /// The thread's name, quoted: threads are named after their model ("blocking", "select"),
    /// and "thread select sleeps in select" would not read as a name.
    fn thread(&self) -> String {
        format!("“{}”", self.step.event.thread.name)
    }

    fn duration(&self, ns: Option<u64>) -> String {
        ns.map_or_else(|| t(self.lang, Key::Unknown).to_owned(), format_duration)
    }

    /// The readiness call this step's thread last entered or returned from, before this step.
    fn wait_before(&self) -> Option<&'static str> {
        let thread = self.step.event.thread.id;
        self.steps[..self.index].iter().rev().filter(|s| s.event.thread.id == thread).find_map(
            |s| match &s.event.kind {
                EventKind::WaitEnter { api, .. } | EventKind::WaitReturned { api, .. } => {
                    Some(wait_name(*api))
                }
                _ => None,
            },
        )
    }

    /// The readiness call this step's thread is asleep in: entered and not yet returned.
    fn asleep_in_wait(&self) -> Option<&'static str> {
        let thread = self.step.event.thread.id;
        self.steps[..self.index].iter().rev().filter(|s| s.event.thread.id == thread).find_map(
            |s| match &s.event.kind {
                EventKind::WaitEnter { api, .. } => Some(Some(wait_name(*api))),
                EventKind::WaitReturned { .. } => Some(None),
                _ => None,
            },
        )?
    }

    /// The listen backlog as the kernel last reported it, up to this step.
    fn backlog_now(&self) -> Option<u32> {
        let end = (self.step.at + 1).min(self.events.len());
        self.events.range(..end).rev().find_map(|e| match e.kind {
            EventKind::Backlog { queued, .. } => Some(queued),
            _ => None,
        })
    }

    /// The recv (or asynchronous recv) whose data arrived at this step.
    fn pair_of_arrival(&self) -> Option<&Pair> {
        self.pairs().iter().find(|p| p.arrival == Some(self.index))
    }

    /// The call that entered at this step.
    fn pair_entered_here(&self) -> Option<&Pair> {
        self.pairs().iter().find(|p| p.enter == self.index)
    }

    /// The bytes a finished input returned, and the backend's phase durations for a `recv`.
    fn input_result(&self, p: &Pair) -> Option<(u64, Option<u64>)> {
        match &self.steps[p.exit?].event.kind {
            EventKind::RecvExit { outcome: RecvOutcome::Data { bytes, .. }, wait_ns, .. } => {
                Some((u64::from(*bytes), *wait_ns))
            }
            EventKind::Complete { result, .. } if *result > 0 => Some((*result as u64, None)),
            _ => None,
        }
    }

    fn sentence(&self) -> Sentence {
        use Key::*;
        let lang = self.lang;
        let event = &self.step.event;
        let thread = self.thread();
        let role = event.thread.role();
        match &event.kind {
            EventKind::Listen { addr, backlog } => {
                Sentence::new(NarrListen, vec![s(addr), s(backlog)])
            }
            EventKind::Stopped { reason } => {
                Sentence::new(NarrStopped, vec![crate::reasons::reason(lang, reason)])
            }
            EventKind::ThreadSpawned => Sentence::new(thread_starts(role), vec![thread]),
            EventKind::ThreadExited if matches!(role, Some(ThreadRole::AioNotify(_))) => {
                Sentence::new(NarrNotifyThreadEnds, vec![thread])
            }
            EventKind::ThreadExited => Sentence::new(NarrThreadEnds, vec![thread]),
            EventKind::ThreadBlocked { on } if on == "queue" => {
                Sentence::new(NarrSleepsOnQueue, vec![thread])
            }
            EventKind::ThreadBlocked { on } => {
                Sentence::new(NarrThreadBlocked, vec![thread, s(on)])
            }
            EventKind::ThreadWoken { by } => woken(thread, by, lang),
            EventKind::AcceptEnter => Sentence::new(self.accept_enter(), vec![thread]),
            EventKind::AcceptExit { fd, peer, error } => {
                accepted(*fd, peer.as_deref(), error.as_ref())
            }
            EventKind::Backlog { queued: 0, .. } => Sentence::new(NarrBacklogEmpty, vec![]),
            EventKind::Backlog { queued, max } => {
                Sentence::new(NarrBacklog, vec![s(queued), s(max)])
            }
            EventKind::RecvEnter { fd, .. } => self.recv_enter(thread, *fd),
            EventKind::DataArrived { fd, .. } => self.data_arrived(*fd),
            EventKind::RecvExit { fd: _, outcome, wait_ns, copy_ns } => {
                self.recv_exit(outcome, *wait_ns, *copy_ns)
            }
            EventKind::SendEnter { fd, bytes } => {
                Sentence::new(NarrSend, vec![thread, s(bytes), s(fd)])
            }
            EventKind::SendExit { outcome, .. } => sent(outcome),
            EventKind::Close { fd, reason } => {
                Sentence::new(NarrClose, vec![s(fd), s(close_reason(lang, *reason))])
            }
            EventKind::Refused { reason } => {
                Sentence::new(NarrRefused, vec![crate::reasons::reason(lang, reason)])
            }
            EventKind::WaitEnter { api, watched } => wait_enter(thread, *api, watched.len()),
            EventKind::WaitReturned { api, ready, scanned } => wait_returned(*api, ready, *scanned),
            EventKind::SignalHandler { signo, name } => {
                Sentence::new(NarrSigaction, vec![signal_name(*signo, name)])
            }
            EventKind::SignalDelivered { signo, name, fd } => match fd {
                Some(fd) => Sentence::new(NarrSignalFd, vec![signal_name(*signo, name), s(fd)]),
                None => Sentence::new(NarrSignalNoFd, vec![signal_name(*signo, name)]),
            },
            EventKind::Submit { op, fd } => submitted(*op, *fd),
            EventKind::Complete { op, fd, result, .. } => completed(*op, *fd, *result),
            EventKind::RingEnter { submitted, wait_for } => {
                Sentence::new(NarrRingEnter, vec![s(submitted), s(wait_for)])
            }
            EventKind::RingExit { timed_out: true, completions: 0 } => {
                Sentence::new(NarrRingTimeout, vec![])
            }
            EventKind::RingExit { completions, .. } => {
                Sentence::new(NarrRingExit, vec![s(completions)])
            }
            EventKind::SeenInSyscall { call, fd, .. } => {
                Sentence::new(NarrSeenInSyscall, vec![thread, s(call), s(fd)])
            }
            EventKind::WouldBlockBurst { .. } => self.staircase(),
            EventKind::ThreadSample { cpu_ns, syscalls, .. } => Sentence::new(
                NarrSample,
                vec![thread, format_duration(*cpu_ns), format_count(*syscalls)],
            ),
            EventKind::ClientConnected { client, target, .. } => {
                Sentence::new(NarrClientConnected, vec![s(client), s(target)])
            }
            EventKind::ClientSent { client, bytes } => {
                Sentence::new(NarrClientSent, vec![s(client), s(bytes)])
            }
            EventKind::ClientReceived { client, bytes } => {
                Sentence::new(NarrClientReceived, vec![s(client), s(bytes)])
            }
            EventKind::ClientClosed { client, reason } => Sentence::new(
                NarrClientClosed,
                vec![s(client), crate::reasons::reason(lang, reason)],
            ),
            EventKind::ThreadStack { stack_bytes } => {
                Sentence::new(NarrThreadStack, vec![thread, format_bytes(*stack_bytes)])
            }
            EventKind::ConnQueued { fd, depth, capacity } => {
                Sentence::new(NarrConnQueued, vec![s(fd), s(depth), s(capacity)])
            }
            EventKind::ConnDequeued { fd, waited_ns, depth } => Sentence::new(
                NarrConnDequeued,
                vec![thread, s(fd), format_duration(*waited_ns), s(depth)],
            ),
            EventKind::ChildSpawned { pid, fd } => {
                Sentence::new(NarrChildSpawned, vec![s(pid), s(fd)])
            }
            EventKind::ChildReaped { pid, status } => Sentence::new(
                NarrChildReaped,
                vec![s(pid), crate::reasons::child_exit(lang, status)],
            ),
            EventKind::WorkDone { .. } => {
                Sentence::new(NarrWork, vec![format_count(self.step.count("units"))])
            }
            EventKind::EpollCtl { op, fd, events, error } => {
                epoll_ctl(*op, *fd, events, error.as_ref(), lang)
            }
            EventKind::Register { fd, interest, callback } => {
                Sentence::new(NarrRegister, vec![s(fd), s(interest), s(callback)])
            }
            EventKind::Unregister { fd } => Sentence::new(NarrUnregister, vec![s(fd)]),
            EventKind::Callback { name, fd } => Sentence::new(NarrCallback, vec![s(name), s(fd)]),
            EventKind::Recognised { family, call, count, threads } => {
                let e = Evidence { family: *family, call, count: *count, threads: *threads };
                Sentence::new(
                    NarrRecognised,
                    vec![
                        s(family.number()),
                        s(t(lang, family_key(*family))),
                        evidence_phrase(&e, lang),
                    ],
                )
            }
        }
    }

    /// An `accept` call: whether it will sleep depends on the model (and on the backlog).
    fn accept_enter(&self) -> Key {
        use Key::*;
        let blocking = match self.model {
            Some(ModelId::BuiltIn(model)) => accept_sleeps(model),
            // Somebody else's program: its accept sleeps as Fig. 6.1's does, if it is one.
            Some(ModelId::Traced) | None => self.figure == Some(Family::Blocking),
        };
        match self.figure {
            _ if blocking && self.backlog_now().is_some_and(|q| q > 0) => NarrAcceptWaiting,
            _ if blocking => NarrAcceptSleeps,
            Some(Family::BusyLoop) => NarrAcceptTry,
            Some(_) => NarrAcceptReady,
            // Not known whether it will sleep: say only that it is called.
            None => NarrAcceptCall,
        }
    }

    /// What a `recv` returned.
    fn recv_exit(
        &self,
        outcome: &RecvOutcome,
        wait_ns: Option<u64>,
        copy_ns: Option<u64>,
    ) -> Sentence {
        use Key::*;
        match outcome {
            RecvOutcome::Data { bytes, preview: p } => {
                self.recv_data(*bytes, &preview(p), wait_ns, copy_ns)
            }
            RecvOutcome::Eof => Sentence::new(NarrRecvEof, vec![]),
            RecvOutcome::WouldBlock if self.figure == Some(Family::Signal) => {
                Sentence::new(NarrRecvDrained, vec![])
            }
            RecvOutcome::WouldBlock => Sentence::new(NarrRecvEagain, vec![]),
            RecvOutcome::Error(e) => failed("recv", e),
        }
    }

    /// A merged row of the busy loop: the staircase's totals over every burst it holds.
    fn staircase(&self) -> Sentence {
        let total: u64 = self.step.counts.iter().map(|(_, n)| n).sum();
        let calls = self.step.counts.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>();
        let span = self.step.event.t_ns.saturating_sub(self.step.first_ns);
        if self.step.merged > 1 && span > 0 {
            Sentence::new(
                Key::NarrStaircase,
                vec![format_count(total), calls.join("/"), format_duration(span)],
            )
        } else {
            Sentence::new(Key::NarrEagainBurst, vec![format_count(total), calls.join("/")])
        }
    }

    /// A `recv` call: whether it will sleep for data depends on the model.
    fn recv_enter(&self, thread: String, fd: i32) -> Sentence {
        use Key::*;
        let args = vec![thread.clone(), s(fd)];
        match self.figure {
            Some(Family::Blocking) => {
                let pair = self.pair_entered_here().filter(|p| p.call == Call::Recv);
                let early = pair.and_then(|p| p.arrival).is_some_and(|a| a < self.index);
                let measured_zero = pair
                    .and_then(|p| self.input_result(p))
                    .is_some_and(|(_, wait_ns)| wait_ns == Some(0));
                let key = if early || measured_zero { NarrRecvDataThere } else { NarrRecvBlocks };
                Sentence::new(key, args)
            }
            Some(Family::Multiplex) => match self.wait_before() {
                Some(wait) => Sentence::new(NarrRecvAfterWait, vec![thread, s(fd), s(wait)]),
                None => Sentence::new(NarrRecvCall, args),
            },
            Some(Family::BusyLoop) => Sentence::new(NarrRecvAsk, args),
            Some(Family::Signal) => {
                let got_data = self
                    .pair_entered_here()
                    .is_some_and(|p| p.call == Call::Recv && p.got_data(self.steps));
                Sentence::new(if got_data { NarrRecvAfterSignal } else { NarrRecvAsk }, args)
            }
            Some(Family::Async) | None => Sentence::new(NarrRecvCall, args),
        }
    }

    /// The kernel's receive stamp: the end of phase 1, and what follows from it in each model.
    fn data_arrived(&self, fd: i32) -> Sentence {
        use Key::*;
        let pair = self.pair_of_arrival();
        let early = pair.is_some_and(|p| p.enter > self.index);
        match self.figure {
            Some(Family::Blocking) if early => Sentence::new(NarrArrivedEarly, vec![s(fd)]),
            Some(Family::Blocking) => match pair.and_then(|p| self.input_result(p)) {
                Some((bytes, Some(wait_ns))) => {
                    Sentence::new(NarrArrivedCopy, vec![s(bytes), s(fd), format_duration(wait_ns)])
                }
                Some((bytes, None)) => {
                    Sentence::new(NarrArrivedCopyUnmeasured, vec![s(bytes), s(fd)])
                }
                None => Sentence::new(NarrArrived, vec![s(fd)]),
            },
            Some(Family::Multiplex) => match self.asleep_in_wait() {
                Some(wait) => Sentence::new(NarrArrivedReadable, vec![s(fd), s(wait)]),
                // The thread is busy elsewhere (serving another socket): the data waits.
                None if early => Sentence::new(NarrArrivedEarly, vec![s(fd)]),
                None => Sentence::new(NarrArrived, vec![s(fd)]),
            },
            Some(Family::BusyLoop) => Sentence::new(NarrArrivedBusy, vec![s(fd)]),
            Some(Family::Signal) => Sentence::new(NarrArrivedSignal, vec![s(fd)]),
            Some(Family::Async) => match pair.and_then(|p| self.input_result(p)) {
                Some((bytes, _)) => Sentence::new(NarrArrivedRing, vec![s(fd), s(bytes)]),
                None => Sentence::new(NarrArrived, vec![s(fd)]),
            },
            None => Sentence::new(NarrArrived, vec![s(fd)]),
        }
    }

    /// A `recv` that returned data: which phases the thread spent asleep is the lesson.
    fn recv_data(
        &self,
        bytes: u32,
        text: &str,
        wait_ns: Option<u64>,
        copy_ns: Option<u64>,
    ) -> Sentence {
        use Key::*;
        let (bytes, text, copy) = (s(bytes), s(text), self.duration(copy_ns));
        match self.figure {
            Some(Family::Blocking) if wait_ns == Some(0) => {
                Sentence::new(NarrRecvOnlyCopy, vec![bytes, text, copy])
            }
            Some(Family::Blocking) => {
                Sentence::new(NarrRecvBothPhases, vec![bytes, text, self.duration(wait_ns), copy])
            }
            Some(Family::Multiplex) => match self.wait_before() {
                Some(wait) => Sentence::new(NarrRecvAfterSelect, vec![bytes, text, copy, s(wait)]),
                None => Sentence::new(NarrRecvData, vec![bytes, text]),
            },
            Some(Family::BusyLoop) => Sentence::new(NarrRecvBusy, vec![bytes, text, copy]),
            Some(Family::Signal) => Sentence::new(NarrRecvSignal, vec![bytes, text, copy]),
            Some(Family::Async) | None => Sentence::new(NarrRecvData, vec![bytes, text]),
        }
    }
}

/// Whether a model's `accept` is a plain blocking call, asleep until a client comes: the
/// Fig. 6.1 models, and POSIX aio, which has no `aio_accept`.
fn accept_sleeps(model: BuiltIn) -> bool {
    match model {
        BuiltIn::Blocking
        | BuiltIn::ThreadPerConn
        | BuiltIn::ProcessPerConn
        | BuiltIn::ThreadPool
        | BuiltIn::PosixAio => true,
        BuiltIn::Nonblocking
        | BuiltIn::Select
        | BuiltIn::Poll
        | BuiltIn::Epoll
        | BuiltIn::EpollEt
        | BuiltIn::Reactor
        | BuiltIn::Sigio
        | BuiltIn::IoUring => false,
    }
}

/// The sentence of a thread's start, by what the thread is for.
fn thread_starts(role: Option<ThreadRole>) -> Key {
    use ThreadRole::*;
    match role {
        Some(PoolWorker(_)) => Key::NarrWorkerStarts,
        Some(Conn(_)) => Key::NarrConnThreadStarts,
        Some(AioNotify(_)) => Key::NarrNotifyThreadStarts,
        Some(
            Server(_) | Acceptor | Parent | Child(_) | Waiter(_) | AioHelper(_) | ListenQueue
            | EchoClient(_) | Compute,
        )
        | None => Key::NarrThreadStarts,
    }
}

/// Why a sleeping thread woke.
fn woken(thread: String, by: &Reason, lang: Lang) -> Sentence {
    match by {
        Reason::StoppedOnRequest => Sentence::new(Key::NarrWokenByStop, vec![thread]),
        Reason::ConnectionQueued => Sentence::new(Key::NarrWokenByQueue, vec![thread]),
        _ => Sentence::new(Key::NarrThreadWoken, vec![thread, crate::reasons::reason(lang, by)]),
    }
}

/// A call that failed with an errno other than the one its model expects.
fn failed(call: &str, e: &SysError) -> Sentence {
    Sentence::new(Key::NarrCallFailed, vec![s(call), s(&e.errno), s(&e.message)])
}

/// What an `accept` returned.
fn accepted(fd: Option<i32>, peer: Option<&str>, error: Option<&SysError>) -> Sentence {
    match error {
        Some(e) if e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK" => {
            Sentence::new(Key::NarrAcceptEagain, vec![])
        }
        Some(e) => failed("accept", e),
        None => Sentence::new(
            Key::NarrAccepted,
            vec![fd.map_or_else(|| s("?"), s), peer.map_or_else(|| s("?"), s)],
        ),
    }
}

/// What a `send` returned.
fn sent(outcome: &SendOutcome) -> Sentence {
    match outcome {
        SendOutcome::Sent { bytes } => Sentence::new(Key::NarrSent, vec![s(bytes)]),
        SendOutcome::WouldBlock => Sentence::new(Key::NarrSendEagain, vec![]),
        SendOutcome::Error(e) => failed("send", e),
    }
}

/// A readiness call entered, over `watched` descriptors.
fn wait_enter(thread: String, api: WaitApi, watched: usize) -> Sentence {
    match api {
        WaitApi::Select | WaitApi::Poll => {
            Sentence::new(Key::NarrSelectEnter, vec![thread, s(wait_name(api)), s(watched)])
        }
        WaitApi::Epoll | WaitApi::EpollEt => {
            Sentence::new(Key::NarrEpollEnter, vec![thread, s(watched)])
        }
    }
}

/// What a readiness call returned: the ready descriptors, and how many it scanned.
fn wait_returned(api: WaitApi, ready: &[ReadyFd], scanned: u32) -> Sentence {
    use Key::*;
    if ready.is_empty() {
        return Sentence::new(NarrWaitNothing, vec![s(wait_name(api))]);
    }
    let fds = ready.iter().map(|r| format!("fd {}", r.fd)).collect::<Vec<_>>().join(", ");
    match api {
        WaitApi::Select | WaitApi::Poll => Sentence::new(
            NarrSelectReturned,
            vec![s(wait_name(api)), s(ready.len()), fds, s(scanned)],
        ),
        WaitApi::Epoll => Sentence::new(NarrEpollReturned, vec![s(ready.len()), fds]),
        WaitApi::EpollEt => Sentence::new(NarrEpollEtReturned, vec![s(ready.len()), fds]),
    }
}

/// A request handed to the kernel (io_uring's submission queue, or glibc's `aio_read`).
fn submitted(op: AsyncOp, fd: i32) -> Sentence {
    use Key::*;
    match op {
        AsyncOp::AioRead => Sentence::new(NarrAioSubmit, vec![s(fd)]),
        AsyncOp::Recv => Sentence::new(NarrSqeRecv, vec![s(fd)]),
        AsyncOp::Accept => Sentence::new(NarrSqeAccept, vec![s(fd)]),
        AsyncOp::Send => Sentence::new(NarrSqeSend, vec![s(fd)]),
        AsyncOp::Timeout | AsyncOp::AsyncCancel => Sentence::new(NarrSqe, vec![s(op), s(fd)]),
    }
}

/// A request the kernel finished, with its result.
fn completed(op: AsyncOp, fd: i32, result: i64) -> Sentence {
    use Key::*;
    match (op, result) {
        (AsyncOp::AioRead, r) if r >= 0 => Sentence::new(NarrAioDone, vec![s(fd), s(r)]),
        (AsyncOp::Recv, r) if r > 0 => Sentence::new(NarrCqeRecv, vec![s(fd), s(r)]),
        (AsyncOp::Accept, r) if r >= 0 => Sentence::new(NarrCqeAccept, vec![s(r)]),
        (AsyncOp::Send, r) if r >= 0 => Sentence::new(NarrCqeSend, vec![s(fd), s(r)]),
        (_, r) if r < 0 => Sentence::new(NarrCqeFailed, vec![s(op), s(fd), completion_result(r)]),
        (_, r) => Sentence::new(NarrCqe, vec![s(op), s(fd), s(r)]),
    }
}

/// A change to epoll's interest list.
fn epoll_ctl(op: EpollOp, fd: i32, events: &str, error: Option<&SysError>, lang: Lang) -> Sentence {
    let op = op.constant().to_owned();
    match error {
        Some(e) => Sentence::new(Key::NarrEpollCtlFailed, vec![op, s(fd), s(&e.errno)]),
        None if events.is_empty() => {
            Sentence::new(Key::NarrEpollCtl, vec![op, s(fd), s(t(lang, Key::Empty))])
        }
        None => Sentence::new(Key::NarrEpollCtl, vec![op, s(fd), s(events)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::ev;
    use kettle_shared::{CloseReason, EpollOp, ReadyFd, SysError};

    /// [`super::narrate`] for a model drawn as the figure the page gives it with no model
    /// listed: a built-in model's own, none for a traced program.
    fn narrate(store: &ModelStore, index: usize, model: &str, lang: Lang) -> String {
        super::narrate(store, index, model, crate::state::family_of(&[], model), lang)
    }

    /// [`super::sentence`], the same way.
    fn sentence(store: &ModelStore, index: usize, model: &str, lang: Lang) -> Option<Sentence> {
        super::sentence(store, index, model, crate::state::family_of(&[], model), lang)
    }

    /// One example of every kind of event, each distinct variant once (and a few twice, where
    /// a field changes the sentence).
    fn every_kind() -> Vec<EventKind> {
        let err = || SysError { errno: "ECONNRESET".into(), message: "Connection reset".into() };
        let ready = vec![ReadyFd { fd: 5, readable: true, writable: false }];
        vec![
            EventKind::Listen { addr: "127.0.0.1:9000".into(), backlog: 128 },
            EventKind::Stopped { reason: Reason::StoppedOnRequest },
            EventKind::ThreadSpawned,
            EventKind::ThreadExited,
            EventKind::ThreadBlocked { on: "queue".into() },
            EventKind::ThreadBlocked { on: "recv".into() },
            EventKind::ThreadWoken { by: Reason::ConnectionQueued },
            EventKind::ThreadWoken { by: Reason::StoppedOnRequest },
            EventKind::AcceptEnter,
            EventKind::AcceptExit {
                fd: Some(5),
                peer: Some("127.0.0.1:40000".into()),
                error: None,
            },
            EventKind::AcceptExit { fd: None, peer: None, error: Some(err()) },
            EventKind::Backlog { queued: 1, max: 128 },
            EventKind::Backlog { queued: 0, max: 128 },
            EventKind::RecvEnter { fd: 5, len: 1024 },
            EventKind::DataArrived { fd: 5, stamp: None },
            EventKind::RecvExit {
                fd: 5,
                outcome: RecvOutcome::Data { bytes: 13, preview: "hello, kettle\n".into() },
                wait_ns: Some(2_000_000),
                copy_ns: Some(12_000),
            },
            EventKind::RecvExit { fd: 5, outcome: RecvOutcome::Eof, wait_ns: None, copy_ns: None },
            EventKind::RecvExit {
                fd: 5,
                outcome: RecvOutcome::WouldBlock,
                wait_ns: None,
                copy_ns: None,
            },
            EventKind::RecvExit {
                fd: 5,
                outcome: RecvOutcome::Error(err()),
                wait_ns: None,
                copy_ns: None,
            },
            EventKind::SendEnter { fd: 5, bytes: 13 },
            EventKind::SendExit { fd: 5, outcome: SendOutcome::Sent { bytes: 13 } },
            EventKind::SendExit { fd: 5, outcome: SendOutcome::WouldBlock },
            EventKind::SendExit { fd: 5, outcome: SendOutcome::Error(err()) },
            EventKind::Close { fd: 5, reason: CloseReason::PeerClosed },
            EventKind::Refused { reason: Reason::ThreadCapReached { limit: 64 } },
            EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] },
            EventKind::WaitEnter { api: WaitApi::Epoll, watched: vec![3, 5] },
            EventKind::WaitReturned { api: WaitApi::Poll, ready: ready.clone(), scanned: 2 },
            EventKind::WaitReturned { api: WaitApi::Epoll, ready: ready.clone(), scanned: 1 },
            EventKind::WaitReturned { api: WaitApi::EpollEt, ready, scanned: 1 },
            EventKind::WaitReturned { api: WaitApi::Select, ready: vec![], scanned: 4 },
            EventKind::SignalHandler { signo: 36, name: "SIGRTMIN+2".into() },
            EventKind::SignalDelivered { signo: 36, name: "SIGRTMIN+2".into(), fd: Some(5) },
            EventKind::SignalDelivered { signo: 29, name: "SIGIO".into(), fd: None },
            EventKind::Submit { op: AsyncOp::Recv, fd: 5 },
            EventKind::Submit { op: AsyncOp::Accept, fd: 3 },
            EventKind::Submit { op: AsyncOp::Send, fd: 5 },
            EventKind::Submit { op: AsyncOp::AioRead, fd: 5 },
            EventKind::Submit { op: AsyncOp::Timeout, fd: -1 },
            EventKind::Complete { op: AsyncOp::Recv, fd: 5, result: 13, peer: None, more: false },
            EventKind::Complete { op: AsyncOp::Accept, fd: 3, result: 6, peer: None, more: false },
            EventKind::Complete { op: AsyncOp::Send, fd: 5, result: 13, peer: None, more: false },
            EventKind::Complete {
                op: AsyncOp::AioRead,
                fd: 5,
                result: 13,
                peer: None,
                more: false,
            },
            EventKind::Complete { op: AsyncOp::Recv, fd: 5, result: -104, peer: None, more: false },
            EventKind::Complete { op: AsyncOp::Recv, fd: 5, result: 0, peer: None, more: false },
            EventKind::RingEnter { submitted: 1, wait_for: 1 },
            EventKind::RingExit { completions: 1, timed_out: false },
            EventKind::RingExit { completions: 0, timed_out: true },
            EventKind::SeenInSyscall { tid: 812, call: "read".into(), fd: 5 },
            EventKind::WouldBlockBurst { call: "recv".into(), count: 30_000 },
            EventKind::ThreadSample {
                cpu_ns: 250_000_000,
                conns: 1,
                syscalls: 1_200,
                kernel: None,
            },
            EventKind::ClientConnected {
                client: 1,
                target: "blocking".into(),
                local: "127.0.0.1:40000".into(),
            },
            EventKind::ClientSent { client: 1, bytes: 13 },
            EventKind::ClientReceived { client: 1, bytes: 13 },
            EventKind::ClientClosed { client: 1, reason: Reason::ServerClosed },
            EventKind::ThreadStack { stack_bytes: 65_536 },
            EventKind::ConnQueued { fd: 5, depth: 1, capacity: 8 },
            EventKind::ConnDequeued { fd: 5, waited_ns: 1_500_000, depth: 0 },
            EventKind::ChildSpawned { pid: 4242, fd: 5 },
            EventKind::ChildReaped {
                pid: 4242,
                status: kettle_shared::ChildExit::Exited { code: 0 },
            },
            EventKind::WorkDone { units: 40 },
            EventKind::EpollCtl { op: EpollOp::Add, fd: 5, events: "EPOLLIN".into(), error: None },
            EventKind::EpollCtl { op: EpollOp::Del, fd: 5, events: String::new(), error: None },
            EventKind::EpollCtl {
                op: EpollOp::Add,
                fd: 5,
                events: String::new(),
                error: Some(err()),
            },
            EventKind::Register { fd: 5, interest: "read".into(), callback: "read".into() },
            EventKind::Unregister { fd: 5 },
            EventKind::Callback { name: "read".into(), fd: 5 },
            EventKind::Recognised {
                family: Family::Multiplex,
                call: "select".into(),
                count: 14,
                threads: 1,
            },
        ]
    }

    /// A number per variant; a new variant does not compile here until it has an example in
    /// [`every_kind`] (the test below checks every number is used).
    fn variant(kind: &EventKind) -> usize {
        match kind {
            EventKind::Listen { .. } => 0,
            EventKind::Stopped { .. } => 1,
            EventKind::ThreadSpawned => 2,
            EventKind::ThreadExited => 3,
            EventKind::ThreadBlocked { .. } => 4,
            EventKind::ThreadWoken { .. } => 5,
            EventKind::AcceptEnter => 6,
            EventKind::AcceptExit { .. } => 7,
            EventKind::Backlog { .. } => 8,
            EventKind::RecvEnter { .. } => 9,
            EventKind::DataArrived { .. } => 10,
            EventKind::RecvExit { .. } => 11,
            EventKind::SendEnter { .. } => 12,
            EventKind::SendExit { .. } => 13,
            EventKind::Close { .. } => 14,
            EventKind::Refused { .. } => 15,
            EventKind::WaitEnter { .. } => 16,
            EventKind::WaitReturned { .. } => 17,
            EventKind::SignalHandler { .. } => 18,
            EventKind::SignalDelivered { .. } => 19,
            EventKind::Submit { .. } => 20,
            EventKind::Complete { .. } => 21,
            EventKind::RingEnter { .. } => 22,
            EventKind::RingExit { .. } => 23,
            EventKind::SeenInSyscall { .. } => 24,
            EventKind::WouldBlockBurst { .. } => 25,
            EventKind::ThreadSample { .. } => 26,
            EventKind::ClientConnected { .. } => 27,
            EventKind::ClientSent { .. } => 28,
            EventKind::ClientReceived { .. } => 29,
            EventKind::ClientClosed { .. } => 30,
            EventKind::ThreadStack { .. } => 31,
            EventKind::ConnQueued { .. } => 32,
            EventKind::ConnDequeued { .. } => 33,
            EventKind::ChildSpawned { .. } => 34,
            EventKind::ChildReaped { .. } => 35,
            EventKind::WorkDone { .. } => 36,
            EventKind::EpollCtl { .. } => 37,
            EventKind::Register { .. } => 38,
            EventKind::Unregister { .. } => 39,
            EventKind::Callback { .. } => 40,
            EventKind::Recognised { .. } => 41,
        }
    }
    const VARIANTS: usize = 42;

    fn placeholders(template: &str) -> usize {
        template
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').and_then(|(n, _)| n.parse::<usize>().ok()))
            .map(|n| n + 1)
            .max()
            .unwrap_or(0)
    }

    fn has_cjk(text: &str) -> bool {
        text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    }

    /// A store holding one event as its only step (state-only kinds are not steps, so the
    /// sentence is asked for directly from a hand-made step list).
    fn lone(kind: EventKind) -> ModelStore {
        let mut store = ModelStore::default();
        store.extend([ev(1, 1_000, 1, kind)]);
        store
    }

    fn lone_sentence(kind: &EventKind, model: &str, lang: Lang) -> Sentence {
        let store = lone(kind.clone());
        match sentence(&store, 0, model, lang) {
            Some(s) => s,
            // State-only kinds (the backlog, the relay's client events…) have no row: narrate
            // them as a row would be.
            None => {
                let step = Step {
                    at: 0,
                    event: ev(1, 1_000, 1, kind.clone()),
                    merged: 1,
                    first_ns: 1_000,
                    counts: vec![("recv".into(), 30_000), ("units".into(), 40)],
                };
                let steps = [step];
                let events = VecDeque::new();
                Scene {
                    figure: crate::state::family_of(&[], model),
                    model: model.parse().ok(),
                    steps: &steps,
                    events: &events,
                    index: 0,
                    step: &steps[0],
                    lang,
                    pairs: Default::default(),
                }
                .sentence()
            }
        }
    }

    #[test]
    fn every_kind_is_narrated_in_both_languages_with_every_placeholder_filled() {
        let kinds = every_kind();
        let mut seen = [false; VARIANTS];
        for kind in &kinds {
            seen[variant(kind)] = true;
        }
        assert!(seen.iter().all(|&s| s), "an EventKind variant lacks an example: {seen:?}");
        // Every kind reads back as it was written (the shared crate reads kinds by hand).
        for kind in &kinds {
            let wire = serde_json::to_value(kind).unwrap();
            assert_eq!(&serde_json::from_value::<EventKind>(wire).unwrap(), kind);
        }
        let models = ["blocking", "thread-pool", "nonblocking", "select", "epoll-et", "sigio"];
        // A traced program not recognised yet is told without a figure's meaning.
        let more = ["io-uring", "posix-aio", "thread-per-conn", "traced"];
        for model in models.iter().chain(&more) {
            for kind in &kinds {
                for lang in [Lang::En, Lang::Zh] {
                    let sentence = lone_sentence(kind, model, lang);
                    let (en, zh) = (t(Lang::En, sentence.key), t(Lang::Zh, sentence.key));
                    let wanted = placeholders(en).max(placeholders(zh));
                    assert_eq!(sentence.args.len(), wanted, "{model} {kind:?}: {sentence:?}");
                    let text = sentence.render(lang);
                    assert!(
                        !text.contains("{0}") && !text.contains("{1}") && text.len() > 10,
                        "{model} {kind:?}: {text}"
                    );
                    assert_eq!(has_cjk(&text), lang == Lang::Zh, "{model} {kind:?}: {text}");
                }
            }
        }
    }

    fn store_of(events: Vec<(u64, EventKind)>) -> ModelStore {
        let mut store = ModelStore::default();
        store.extend(events.into_iter().enumerate().map(|(i, (t, k))| ev(i as u64 + 1, t, 1, k)));
        store
    }

    fn line(bytes: u32, wait_ns: u64, copy_ns: u64) -> EventKind {
        EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Data { bytes, preview: "hello, kettle\n".into() },
            wait_ns: Some(wait_ns),
            copy_ns: Some(copy_ns),
        }
    }

    #[test]
    fn blocking_recv_slept_through_both_phases_with_the_measured_numbers() {
        let store = store_of(vec![
            (1_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            // The kernel's stamp, recorded after the return, sorts before it.
            (2_001_000, EventKind::DataArrived { fd: 5, stamp: None }),
            (2_013_000, line(13, 2_000_000, 12_000)),
        ]);
        let say = |i, lang| narrate(&store, i, "blocking", lang);
        assert_eq!(
            say(0, Lang::En),
            "Thread “t1” calls recv on fd 5 and sleeps: phase 1, waiting for data, begins."
        );
        assert_eq!(
            say(1, Lang::En),
            "The data has arrived on fd 5 after 2.00 ms of waiting; the kernel now copies 13 \
             bytes into the application's buffer."
        );
        assert_eq!(
            say(1, Lang::Zh),
            "数据已经到达 fd 5(等了 2.00 ms);内核正把 13 个字节拷贝到应用程序的缓冲区。"
        );
        assert_eq!(
            say(2, Lang::En),
            "recv returns 13 bytes, \"hello, kettle⏎\": the thread slept through both phases — \
             2.00 ms waiting for data, 12.0 µs while the kernel copied it."
        );
    }

    #[test]
    fn after_select_only_the_copy_was_waited_for() {
        let ready = vec![ReadyFd { fd: 5, readable: true, writable: false }];
        let store = store_of(vec![
            (1_000, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] }),
            (5_000, EventKind::DataArrived { fd: 5, stamp: None }),
            (9_000, EventKind::WaitReturned { api: WaitApi::Select, ready, scanned: 6 }),
            (10_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            (18_000, line(13, 0, 8_000)),
        ]);
        let say = |i| narrate(&store, i, "select", Lang::En);
        assert!(say(1).contains("wakes the thread sleeping in select"), "{}", say(1));
        // Data that comes while the thread is not in select waits in the socket instead.
        let busy = store_of(vec![
            (1_000, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5] }),
            (2_000, EventKind::WaitReturned { api: WaitApi::Select, ready: vec![], scanned: 6 }),
            (5_000, EventKind::DataArrived { fd: 5, stamp: None }),
            (10_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            (18_000, line(13, 0, 8_000)),
        ]);
        assert!(narrate(&busy, 2, "select", Lang::En).contains("before anyone asked"));
        assert!(say(2).contains("scanned 6 entries"), "{}", say(2));
        assert_eq!(
            say(4),
            "recv returns 13 bytes, \"hello, kettle⏎\", after 8.00 µs: only the copy was waited \
             for here — the wait for data was spent asleep in select."
        );
    }

    #[test]
    fn a_traced_program_recognised_is_told_which_figure_and_why_in_both_languages() {
        let recognised = |family, call: &str, count| {
            let kind = EventKind::Recognised { family, call: call.into(), count, threads: 1 };
            let store = store_of(vec![(1_000, kind)]);
            let say = |lang| super::narrate(&store, 0, "traced", Some(family), lang);
            (say(Lang::En), say(Lang::Zh))
        };
        let (en, zh) = recognised(Family::Multiplex, "select", 14);
        assert_eq!(
            en,
            "Kettle recognises the program as Stevens Fig. 6.3 (Multiplexing): select(2) was \
             called 14 times. From this step on it is drawn as that figure."
        );
        assert_eq!(
            zh,
            "Kettle 识别出这个程序属于 Stevens 图 6.3(多路复用):select(2) 被调用了 14 次。\
             从这一步起按这幅图绘制。"
        );
        let (en, _) = recognised(Family::BusyLoop, "recv", 9);
        assert!(en.contains("6.2 (Non-blocking): recv(2) returned EAGAIN 9 times"), "{en}");
        let (en, _) = recognised(Family::Signal, "SIGIO", 3);
        assert!(en.contains("SIGIO was delivered 3 times"), "{en}");
    }

    #[test]
    fn a_traced_program_not_recognised_yet_is_told_without_a_figures_meaning() {
        let store = store_of(vec![
            (1_000, EventKind::AcceptEnter),
            (2_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            (3_000, EventKind::DataArrived { fd: 5, stamp: None }),
        ]);
        let say = |i| super::narrate(&store, i, "traced", None, Lang::En);
        assert_eq!(say(0), "Thread “t1” calls accept on the listening socket.");
        assert_eq!(say(1), "Thread “t1” calls recv on fd 5.");
        assert_eq!(say(2), "Data reaches fd 5.");
        // Recognised as Fig. 6.1, the same recv is the blocking one.
        let blocking = super::narrate(&store, 1, "traced", Some(Family::Blocking), Lang::En);
        assert!(blocking.contains("sleeps"), "{blocking}");
    }

    #[test]
    fn the_staircase_counts_every_eagain_of_its_run() {
        let burst = |count| EventKind::WouldBlockBurst { call: "recv".into(), count };
        let store = store_of(vec![
            (100_000_000, burst(30_000)),
            (200_000_000, burst(30_000)),
            (300_000_000, burst(40_000)),
        ]);
        assert_eq!(
            narrate(&store, 0, "nonblocking", Lang::En),
            "100 000 calls to recv returned EAGAIN in 200 ms: the thread asks again and again \
             and never sleeps — a whole core spent asking."
        );
    }

    #[test]
    fn io_uring_names_the_request_and_the_bytes_the_kernel_copied() {
        let store = store_of(vec![
            (1_000, EventKind::Submit { op: AsyncOp::Recv, fd: 7 }),
            (5_000, EventKind::DataArrived { fd: 7, stamp: None }),
            (
                9_000,
                EventKind::Complete {
                    op: AsyncOp::Recv,
                    fd: 7,
                    result: 13,
                    peer: None,
                    more: false,
                },
            ),
        ]);
        let say = |i| narrate(&store, i, "io-uring", Lang::En);
        assert!(say(0).contains("submission queue (an SQE)"), "{}", say(0));
        assert!(say(1).contains("copying 13 bytes"), "{}", say(1));
        assert!(say(2).contains("13 bytes are already in its buffer"), "{}", say(2));
    }

    #[test]
    fn accept_with_a_client_in_the_backlog_does_not_sleep() {
        let store = store_of(vec![
            (1_000, EventKind::Backlog { queued: 1, max: 128 }),
            (2_000, EventKind::AcceptEnter),
        ]);
        assert!(narrate(&store, 0, "blocking", Lang::En).contains("already waits"));
        let store = store_of(vec![(2_000, EventKind::AcceptEnter)]);
        assert!(narrate(&store, 0, "blocking", Lang::En).contains("sleeps in the kernel"));
    }

    #[test]
    fn a_new_thread_is_introduced_as_what_it_is_for() {
        let spawned = |name: &str| {
            let mut store = ModelStore::default();
            let mut e = (*ev(1, 1, 1, EventKind::ThreadSpawned)).clone();
            e.thread.name = name.into();
            store.extend([Rc::new(e)]);
            store
        };
        let say = |name: &str, model: &str| narrate(&spawned(name), 0, model, Lang::En);
        assert!(say("pool-worker-2", "thread-pool").starts_with("Worker “pool-worker-2” starts"));
        assert!(say("conn-3", "thread-per-conn").contains("this one connection"));
        assert!(say("aio-notify 812", "posix-aio").contains("only to run the completion"));
        assert_eq!(say("acceptor", "thread-pool"), "Thread “acceptor” starts.");
    }

    #[test]
    fn no_step_says_so() {
        let store = ModelStore::default();
        assert_eq!(narrate(&store, 0, "blocking", Lang::En), t(Lang::En, Key::NoStepsYet));
    }
}
