//! One figure per I/O model family — Stevens, *UNIX Network Programming* Fig. 6.1–6.5 — and
//! the comparison, Fig. 6.6.
//!
//! Every figure has the same two parts, both computed here as pure data and drawn by
//! `components::figure_view`:
//!
//! - the **timeline** (application lanes | kernel, time running down), common to all figures
//!   and laid out by [`layout`] from [`crate::timeline`];
//! - the **panel** above it: what the model keeps in the kernel (the listen backlog, receive
//!   buffers, epoll's interest and ready lists, the signal, io_uring's rings) or in user space
//!   (the pool's queue, the selector registry), as it stands at the step being played. Each
//!   figure module builds its own panel from the recorded events — never from a script:
//!   [`blocking`] (6.1), [`busy_loop`] (6.2), [`multiplex`] (6.3), [`signal`] (6.4),
//!   [`async_io`] (6.5). [`compare`] draws 6.6 from the figures of several models.
//!
//! Which module draws which model is one exhaustive match over the built-in models
//! ([`panel`]); the figure a model is drawn as is its [`Family`], from the protocol crate for a
//! built-in model and from what the backend recognised for a traced program — at the time of
//! the step on screen ([`crate::state::family_at`], [`evidence_at`]) — which is drawn with the
//! plain panel of that figure and a caption saying why ([`why_drawn`]). A
//! panel builder takes the [`Moment`] (and, where one figure draws models differently, what
//! to add), looking only at events up to [`Moment::upto`] for what exists, and at later events
//! only to name what is already there (the bytes a `recv` will return are in the buffer
//! already).

pub mod async_io;
pub mod blocking;
pub mod busy_loop;
pub mod compare;
pub mod layout;
pub mod multiplex;
pub mod signal;

use std::collections::VecDeque;
use std::rc::Rc;

use kettle_shared::{
    AsyncOp, BuiltIn, Event, EventKind, Family, ModelId, ModelInfo, RecvOutcome, WaitApi,
};

use crate::i18n::{t, tf, Key, Lang};

/// The short name of a family of models, for the model list's groups.
pub fn family_key(family: Family) -> Key {
    match family {
        Family::Blocking => Key::FamilyBlocking,
        Family::BusyLoop => Key::FamilyNonblocking,
        Family::Multiplex => Key::FamilyMultiplex,
        Family::Signal => Key::FamilySignal,
        Family::Async => Key::FamilyAsync,
    }
}

/// A family's figure title, in the page language.
pub fn title(family: Family, lang: Lang) -> String {
    let name = match family {
        Family::Blocking => Key::Fig61,
        Family::BusyLoop => Key::Fig62,
        Family::Multiplex => Key::Fig63,
        Family::Signal => Key::Fig64,
        Family::Async => Key::Fig65,
    };
    tf(lang, Key::FigureTitle, &[&family.number(), &t(lang, name)])
}

/// Where a panel's object lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In the kernel.
    Kernel,
    /// In the process's memory.
    User,
    /// Memory shared by both (io_uring's rings).
    Shared,
}

impl Place {
    /// Its name, in the page language.
    pub fn label(self, lang: Lang) -> &'static str {
        t(
            lang,
            match self {
                Place::Kernel => Key::InKernel,
                Place::User => Key::InUserSpace,
                Place::Shared => Key::InSharedMemory,
            },
        )
    }

    /// `data-place`.
    pub fn id(self) -> &'static str {
        match self {
            Place::Kernel => "kernel",
            Place::User => "user",
            Place::Shared => "shared",
        }
    }
}

/// The test hook a widget carries: `data-<name>="<value>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// `data-backlog`: the listen backlog.
    Backlog,
    /// `data-buffers`: each connection's receive buffer.
    Buffers,
    /// `data-queue`: the thread pool's queue of accepted connections.
    Queue,
    /// `data-children`: process-per-conn's children.
    Children,
    /// `data-fdset`: the descriptors handed to select/poll.
    FdSet,
    /// `data-ready`: the ready set select/poll returned.
    Ready,
    /// `data-interest`: epoll's interest list.
    Interest,
    /// `data-readylist`: the ready list epoll_wait returned.
    ReadyList,
    /// `data-registry`: the reactor's (fd → callback) registry; items carry `data-callback`.
    Registry,
    /// `data-signal`: the signal delivered to the thread.
    Signal,
    /// `data-ring="sq"`: io_uring's submission queue.
    Sq,
    /// `data-ring="cq"`: io_uring's completion queue.
    Cq,
    /// `data-inflight`: requests the kernel is working on.
    InFlight,
    /// `data-aio`: glibc's aio requests in flight.
    Aio,
}

impl Hook {
    /// The attribute (without `data-`) and its value.
    pub fn attr(self) -> (&'static str, &'static str) {
        match self {
            Hook::Backlog => ("backlog", ""),
            Hook::Buffers => ("buffers", ""),
            Hook::Queue => ("queue", ""),
            Hook::Children => ("children", ""),
            Hook::FdSet => ("fdset", ""),
            Hook::Ready => ("ready", ""),
            Hook::Interest => ("interest", ""),
            Hook::ReadyList => ("readylist", ""),
            Hook::Registry => ("registry", ""),
            Hook::Signal => ("signal", ""),
            Hook::Sq => ("ring", "sq"),
            Hook::Cq => ("ring", "cq"),
            Hook::InFlight => ("inflight", ""),
            Hook::Aio => ("aio", ""),
        }
    }
}

/// One object of a panel: a row of boxes with a title.
#[derive(Debug, Clone, PartialEq)]
pub struct Widget {
    /// Its test hook.
    pub hook: Hook,
    /// Where it lives.
    pub place: Place,
    /// What it is.
    pub title: String,
    /// Its boxes.
    pub items: Vec<Item>,
    /// A remark after the title (`2 of 128`, `6 entries scanned`).
    pub note: Option<String>,
}

/// One box of a widget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its text.
    pub label: String,
    /// The descriptor it stands for (`data-fd`).
    pub fd: Option<i32>,
    /// Lit: ready, holding data, just delivered or just run.
    pub lit: bool,
    /// The callback's name, for registry entries (`data-callback`).
    pub callback: Option<String>,
}

impl Item {
    fn new(label: String) -> Item {
        Item { label, fd: None, lit: false, callback: None }
    }

    fn fd(label: String, fd: i32, lit: bool) -> Item {
        Item { label, fd: Some(fd), lit, callback: None }
    }
}

/// The moment a panel is drawn for: a model's events and the one being played.
#[derive(Debug, Clone, Copy)]
pub struct Moment<'a> {
    /// The model's events, in time order.
    pub events: &'a VecDeque<Rc<Event>>,
    /// Index of the event being played; events up to it have happened.
    pub upto: usize,
    /// The page language.
    pub lang: Lang,
}

impl<'a> Moment<'a> {
    /// The events that have happened, oldest first.
    pub fn past(&self) -> impl DoubleEndedIterator<Item = &'a Rc<Event>> + 'a {
        let end = (self.upto + 1).min(self.events.len());
        self.events.range(..end)
    }

    /// The events still to come, oldest first.
    pub fn future(&self) -> impl Iterator<Item = &'a Rc<Event>> + 'a {
        let start = (self.upto + 1).min(self.events.len());
        self.events.range(start..)
    }

    /// The time of the event being played.
    pub fn now_ns(&self) -> u64 {
        self.events.get(self.upto).map_or(0, |e| e.t_ns)
    }
}

/// A model and the figure it is drawn as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drawn<'a> {
    /// The model's id.
    pub model: &'a str,
    /// Its figure.
    pub figure: Family,
}

impl<'a> Drawn<'a> {
    /// The model `id` of `models` as the figure it is drawn as ([`crate::state::family_of`]); `None` for a
    /// traced program not recognised yet, which has no figure to lay out.
    pub fn of(models: &[ModelInfo], id: &'a str) -> Option<Drawn<'a>> {
        Some(Drawn { model: id, figure: crate::state::family_of(models, id)? })
    }
}

/// The panel of a model at a moment: a built-in model's own, a traced program's by the figure
/// it is drawn as; none for an id that names no model.
pub fn panel(drawn: Drawn<'_>, at: &Moment<'_>) -> Vec<Widget> {
    match drawn.model.parse::<ModelId>() {
        Ok(ModelId::BuiltIn(model)) => built_in_panel(model, at),
        Ok(ModelId::Traced) => traced_panel(drawn.figure, at),
        Err(_) => Vec::new(),
    }
}

/// A traced program's panel: the plain panel of the figure it was recognised as. Nothing is
/// known of its insides beyond its calls, so no figure's extras (a pool's queue, a reactor's
/// registry); for Fig. 6.3, the readiness call it makes decides what the kernel holds.
fn traced_panel(family: Family, at: &Moment<'_>) -> Vec<Widget> {
    use multiplex::Watch;
    match family {
        Family::Blocking => blocking::panel(blocking::Extra::Nothing, at),
        Family::BusyLoop => busy_loop::panel(at),
        Family::Multiplex => {
            // The readiness call it was last seen making (or, before the first, the next).
            let api = at.past().rev().chain(at.future()).find_map(|e| match e.kind {
                EventKind::WaitEnter { api, .. } => Some(api),
                _ => None,
            });
            let watch = match api {
                Some(WaitApi::Epoll) => Watch::Epoll,
                Some(WaitApi::EpollEt) => Watch::EpollEdge,
                Some(WaitApi::Select | WaitApi::Poll) | None => Watch::Scan,
            };
            multiplex::panel(watch, at)
        }
        Family::Signal => signal::panel(at),
        Family::Async => async_io::rings(at),
    }
}

/// What made Kettle draw a traced program as a figure: one [`EventKind::Recognised`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence<'a> {
    /// The figure.
    pub family: Family,
    /// The deciding call (`"select"`), or the signal (`"SIGIO"`).
    pub call: &'a str,
    /// How many times it was seen (Fig. 6.2: how many `EAGAIN`s).
    pub count: u32,
    /// On how many threads.
    pub threads: u32,
}

/// What a traced program's step was drawn as, and why: the [`EventKind::Recognised`] of that
/// step's time among the kept `events`, for the step whose (last) event is `events[at]`.
///
/// That is the latest one at or before the step, within the same run of the program (a
/// `Stopped` before the step ends an earlier run: a restarted program is recognised afresh,
/// and its steps are not drawn as what the last run was). The few steps of a run before its
/// first kept recognition (the thread starting, the first `accept` entered) are drawn as that
/// first one: they are the calls it was recognised from. `None` when the run has none kept.
pub fn evidence_at(events: &VecDeque<Rc<Event>>, at: usize) -> Option<Evidence<'_>> {
    let at = at.min(events.len().checked_sub(1)?);
    fn told(e: &Rc<Event>) -> Option<Evidence<'_>> {
        match &e.kind {
            EventKind::Recognised { family, call, count, threads } => {
                Some(Evidence { family: *family, call, count: *count, threads: *threads })
            }
            _ => None,
        }
    }
    let ends_run = |e: &Rc<Event>| matches!(e.kind, EventKind::Stopped { .. });
    for (i, e) in events.range(..=at).enumerate().rev() {
        if let Some(evidence) = told(e) {
            return Some(evidence);
        }
        if i < at && ends_run(e) {
            break; // what came before was an earlier run's
        }
    }
    if ends_run(&events[at]) {
        return None;
    }
    events.range(at + 1..).take_while(|e| !ends_run(e)).find_map(told)
}

/// "14 times", "once", in the page language.
fn times(lang: Lang, n: u32) -> String {
    match n {
        1 => t(lang, Key::TimesOnce).to_owned(),
        n => tf(lang, Key::TimesMany, &[&n]),
    }
}

/// The evidence in words, as each figure's lesson counts it: "select(2) was called 14
/// times", "recv(2) returned EAGAIN 9 times", "SIGIO was delivered 3 times", "recv(2)
/// blocked 6 times on 2 threads".
pub fn evidence_phrase(e: &Evidence<'_>, lang: Lang) -> String {
    let (call, n) = (e.call, times(lang, e.count));
    match e.family {
        Family::Blocking => {
            let threads = match e.threads {
                1 => t(lang, Key::ThreadsOne).to_owned(),
                k => tf(lang, Key::ThreadsMany, &[&k]),
            };
            tf(lang, Key::EvidenceBlocking, &[&call, &n, &threads])
        }
        Family::BusyLoop => tf(lang, Key::EvidenceBusyLoop, &[&call, &n]),
        Family::Multiplex => tf(lang, Key::EvidenceMultiplex, &[&call, &n]),
        Family::Signal => tf(lang, Key::EvidenceSignal, &[&call, &n]),
        Family::Async => tf(lang, Key::EvidenceAsync, &[&call, &n]),
    }
}

/// Why a traced program is drawn as `family`'s figure ("Drawn as Fig. 6.3 because select(2)
/// was called 14 times"), or, when the deciding step is no longer kept, that Kettle
/// recognised it from the program's calls.
pub fn why_drawn(family: Family, evidence: Option<&Evidence<'_>>, lang: Lang) -> String {
    match evidence {
        Some(e) => tf(lang, Key::FigureWhy, &[&family.number(), &evidence_phrase(e, lang)]),
        None => tf(lang, Key::FigureWhyForgotten, &[&family.number()]),
    }
}

/// Which figure module draws each built-in model's panel, and with what.
fn built_in_panel(model: BuiltIn, at: &Moment<'_>) -> Vec<Widget> {
    use blocking::Extra;
    use multiplex::Watch;
    match model {
        BuiltIn::Blocking | BuiltIn::ThreadPerConn => blocking::panel(Extra::Nothing, at),
        BuiltIn::ThreadPool => blocking::panel(Extra::Queue, at),
        BuiltIn::ProcessPerConn => blocking::panel(Extra::Children, at),
        BuiltIn::Nonblocking => busy_loop::panel(at),
        BuiltIn::Select | BuiltIn::Poll => multiplex::panel(Watch::Scan, at),
        BuiltIn::Epoll => multiplex::panel(Watch::Epoll, at),
        BuiltIn::EpollEt => multiplex::panel(Watch::EpollEdge, at),
        BuiltIn::Reactor => multiplex::panel(Watch::Reactor, at),
        BuiltIn::Sigio => signal::panel(at),
        BuiltIn::IoUring => async_io::rings(at),
        BuiltIn::PosixAio => async_io::aio_panel(at),
    }
}

// -- widgets more than one figure shows ---------------------------------------------------------

/// The listen backlog, as the kernel last reported it (`TCP_INFO` on the listener): how many
/// finished connections wait for someone to call `accept`.
pub fn backlog(at: &Moment<'_>) -> Widget {
    let last = at.past().rev().find_map(|e| match e.kind {
        EventKind::Backlog { queued, max } => Some((queued, max)),
        _ => None,
    });
    let (queued, max) = last.unwrap_or((0, 0));
    Widget {
        hook: Hook::Backlog,
        place: Place::Kernel,
        title: t(at.lang, Key::WBacklog).into(),
        items: (0..queued.min(8))
            .map(|_| Item::new(t(at.lang, Key::WBacklogItem).into()))
            .collect(),
        note: last.map(|_| tf(at.lang, Key::WBacklogNote, &[&queued, &max])),
    }
}

/// The connections a model holds open at the moment: `(conn, fd)`, in the order accepted.
pub fn open_connections(at: &Moment<'_>) -> Vec<(u64, i32)> {
    let mut open: Vec<(u64, i32)> = Vec::new();
    for e in at.past() {
        match (&e.kind, e.conn) {
            (EventKind::AcceptExit { fd: Some(fd), .. }, Some(conn)) => open.push((conn, *fd)),
            (EventKind::Complete { op: AsyncOp::Accept, result, .. }, Some(conn))
                if *result >= 0 =>
            {
                open.push((conn, *result as i32))
            }
            (EventKind::Close { .. }, Some(conn)) => open.retain(|&(c, _)| c != conn),
            (EventKind::Stopped { .. }, _) => open.clear(),
            _ => {}
        }
    }
    open
}

/// Each open connection's receive buffer: lit and holding the bytes once the data arrived,
/// empty again once a `recv` (or a completion) took it.
pub fn buffers(at: &Moment<'_>) -> Widget {
    let open = open_connections(at);
    let mut waiting: Vec<i32> = Vec::new();
    for e in at.past() {
        match &e.kind {
            EventKind::DataArrived { fd, .. } => waiting.push(*fd),
            EventKind::RecvExit {
                fd,
                outcome: RecvOutcome::Data { .. } | RecvOutcome::Eof,
                ..
            }
            | EventKind::Complete { fd, .. } => waiting.retain(|w| w != fd),
            _ => {}
        }
    }
    let items = open
        .iter()
        .take(6)
        .map(|&(_, fd)| {
            if waiting.contains(&fd) {
                let bytes = at.future().find_map(|e| match &e.kind {
                    EventKind::RecvExit {
                        fd: f, outcome: RecvOutcome::Data { bytes, .. }, ..
                    } if *f == fd => Some(i64::from(*bytes)),
                    EventKind::Complete { fd: f, op, result, .. }
                        if *f == fd && *op != AsyncOp::Send =>
                    {
                        Some(*result)
                    }
                    _ => None,
                });
                let label = match bytes {
                    Some(b) => tf(at.lang, Key::WBufferItem, &[&fd, &b]),
                    None => tf(at.lang, Key::WBufferItem, &[&fd, &"…"]),
                };
                Item::fd(label, fd, true)
            } else {
                Item::fd(tf(at.lang, Key::WBufferEmpty, &[&fd]), fd, false)
            }
        })
        .collect();
    Widget {
        hook: Hook::Buffers,
        place: Place::Kernel,
        title: t(at.lang, Key::WBuffers).into(),
        items,
        note: open.is_empty().then(|| t(at.lang, Key::WNoConnection).into()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::tests::ev;

    pub(crate) fn moment(events: &VecDeque<Rc<Event>>, upto: usize) -> Moment<'_> {
        Moment { events, upto, lang: Lang::En }
    }

    pub(crate) fn deque(events: Vec<Rc<Event>>) -> VecDeque<Rc<Event>> {
        events.into_iter().collect()
    }

    /// A built-in model as its own figure.
    pub(crate) fn drawn(id: &str) -> Drawn<'_> {
        Drawn::of(&[], id).expect("a built-in model has a figure")
    }

    #[test]
    fn test_every_model_is_drawn_as_the_figure_its_catalogue_entry_names() {
        for m in kettle_shared::MODELS {
            let n = drawn(m.id).figure.number();
            assert!(m.figure.ends_with(n), "{}: catalogue says {}, page draws {n}", m.id, m.figure);
        }
    }

    #[test]
    fn test_an_unknown_model_has_no_panel_and_every_model_has_one() {
        let events = deque(vec![ev(1, 1, 1, EventKind::Backlog { queued: 1, max: 8 })]);
        let unknown = Drawn { model: "no-such-model", figure: Family::Blocking };
        assert!(panel(unknown, &moment(&events, 0)).is_empty());
        for m in BuiltIn::ALL {
            assert!(!panel(drawn(m.id()), &moment(&events, 0)).is_empty(), "{m}");
        }
        for &figure in Family::ALL {
            let traced = Drawn { model: "traced", figure };
            assert!(!panel(traced, &moment(&events, 0)).is_empty(), "traced as {figure:?}");
        }
    }

    #[test]
    fn test_a_traced_select_server_gets_the_fd_set_and_an_epoll_one_the_interest_list() {
        use kettle_shared::WaitApi;
        let wait = |api| EventKind::WaitEnter { api, watched: vec![3, 5] };
        let traced = Drawn { model: "traced", figure: Family::Multiplex };
        let select = deque(vec![ev(1, 1, 1, wait(WaitApi::Select))]);
        let hooks = |events| -> Vec<Hook> {
            panel(traced, &moment(events, 0)).iter().map(|w| w.hook).collect()
        };
        assert_eq!(hooks(&select), vec![Hook::FdSet, Hook::Ready]);
        let epoll = deque(vec![ev(1, 1, 1, wait(WaitApi::Epoll))]);
        assert_eq!(hooks(&epoll), vec![Hook::Interest, Hook::ReadyList]);
    }

    /// A traced program's `Recognised` event, as the backend sends it.
    fn recognised(family: Family, call: &str, count: u32, threads: u32) -> EventKind {
        EventKind::Recognised { family, call: call.into(), count, threads }
    }

    #[test]
    fn test_why_a_traced_program_is_drawn_as_its_figure_is_worded_per_figure() {
        let why = |family, call, count, threads, lang| {
            let events = deque(vec![ev(1, 1, 1, recognised(family, call, count, threads))]);
            why_drawn(family, evidence_at(&events, 0).as_ref(), lang)
        };
        let en = |family, call, count, threads| why(family, call, count, threads, Lang::En);
        assert_eq!(
            en(Family::Blocking, "recv", 6, 2),
            "Drawn as Fig. 6.1 because recv(2) blocked 6 times on 2 threads"
        );
        assert_eq!(
            en(Family::Blocking, "accept", 1, 1),
            "Drawn as Fig. 6.1 because accept(2) blocked once on 1 thread"
        );
        assert_eq!(
            en(Family::BusyLoop, "recv", 9, 1),
            "Drawn as Fig. 6.2 because recv(2) returned EAGAIN 9 times"
        );
        assert_eq!(
            en(Family::Multiplex, "select", 14, 1),
            "Drawn as Fig. 6.3 because select(2) was called 14 times"
        );
        assert_eq!(
            en(Family::Signal, "SIGIO", 3, 1),
            "Drawn as Fig. 6.4 because SIGIO was delivered 3 times"
        );
        assert_eq!(
            en(Family::Async, "io_uring_enter", 5, 1),
            "Drawn as Fig. 6.5 because io_uring_enter(2) was called 5 times"
        );
        assert_eq!(
            why(Family::Multiplex, "select", 14, 1, Lang::Zh),
            "按图 6.3 绘制,因为 select(2) 被调用了 14 次"
        );
        assert_eq!(
            why(Family::Blocking, "recv", 6, 2, Lang::Zh),
            "按图 6.1 绘制,因为 recv(2) 在 2 个线程上阻塞了 6 次"
        );
    }

    #[test]
    fn test_the_evidence_told_is_the_one_of_the_steps_time() {
        let stopped = EventKind::Stopped { reason: kettle_shared::Reason::StoppedOnRequest };
        let events = deque(vec![
            ev(1, 1, 1, EventKind::ThreadSpawned),
            ev(2, 2, 1, recognised(Family::Blocking, "accept", 1, 1)),
            ev(3, 3, 1, EventKind::AcceptEnter),
            ev(4, 4, 1, recognised(Family::Multiplex, "select", 3, 1)),
            ev(5, 5, 1, recognised(Family::Multiplex, "select", 14, 1)),
            ev(6, 6, 1, EventKind::AcceptEnter),
            ev(7, 7, 1, stopped),
            // Restarted: not recognised yet.
            ev(8, 8, 1, EventKind::ThreadSpawned),
            ev(9, 9, 1, EventKind::AcceptEnter),
        ]);
        let at = |i| evidence_at(&events, i).map(|e| (e.family, e.call, e.count));
        assert_eq!(
            at(0),
            Some((Family::Blocking, "accept", 1)),
            "the calls it was recognised from"
        );
        assert_eq!(at(2), Some((Family::Blocking, "accept", 1)));
        assert_eq!(at(3), Some((Family::Multiplex, "select", 3)), "the switch");
        assert_eq!(at(4), Some((Family::Multiplex, "select", 14)), "the newest of its time");
        assert_eq!(at(5), Some((Family::Multiplex, "select", 14)));
        assert_eq!(at(6), Some((Family::Multiplex, "select", 14)), "the run's end is its own");
        assert_eq!(at(7), None, "a new run is recognised afresh");
        assert_eq!(at(8), None);
        assert_eq!(at(99), None, "past the end: the newest step");
        assert_eq!(evidence_at(&VecDeque::new(), 0), None);
        // The step that decided is no longer kept: the caption says so, not a made-up count.
        let why = why_drawn(Family::Signal, None, Lang::En);
        assert!(why.starts_with("Drawn as Fig. 6.4: Kettle recognised it"), "{why}");
    }

    #[test]
    fn test_buffer_fills_when_data_arrives_and_empties_when_recv_takes_it() {
        let accept = EventKind::AcceptExit { fd: Some(5), peer: Some("p".into()), error: None };
        let data = EventKind::RecvExit {
            fd: 5,
            outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
            wait_ns: Some(1),
            copy_ns: Some(1),
        };
        let events = deque(vec![
            ev(1, 1, 1, accept),
            ev(2, 2, 1, EventKind::RecvEnter { fd: 5, len: 9 }),
            ev(3, 3, 1, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(4, 4, 1, data),
        ]);
        let b = buffers(&moment(&events, 1));
        assert_eq!((b.items[0].lit, b.items[0].label.as_str()), (false, "fd 5: empty"));
        let b = buffers(&moment(&events, 2));
        assert_eq!((b.items[0].lit, b.items[0].label.as_str()), (true, "fd 5: 6 B"));
        assert!(!buffers(&moment(&events, 3)).items[0].lit);
    }

    #[test]
    fn test_backlog_shows_what_the_kernel_reported() {
        let events = deque(vec![
            ev(1, 1, 1, EventKind::Backlog { queued: 2, max: 128 }),
            ev(2, 2, 1, EventKind::Backlog { queued: 1, max: 128 }),
        ]);
        let w = backlog(&moment(&events, 0));
        assert_eq!((w.items.len(), w.note.as_deref()), (2, Some("2 of 128 (TCP_INFO)")));
        assert_eq!(backlog(&moment(&events, 1)).items.len(), 1);
    }
}
