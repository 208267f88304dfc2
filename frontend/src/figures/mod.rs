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
//! ([`panel`]); the figure a model is drawn as is its [`Family`], from the protocol crate. A
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

use kettle_shared::{AsyncOp, BuiltIn, Event, EventKind, Family, ModelId, RecvOutcome};

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

/// The panel of a model at a moment; none for an id that names no model.
pub fn panel(model: &str, at: &Moment<'_>) -> Vec<Widget> {
    match model.parse::<ModelId>() {
        Ok(ModelId::BuiltIn(model)) => built_in_panel(model, at),
        Err(_) => Vec::new(),
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
            EventKind::DataArrived { fd } => waiting.push(*fd),
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

    #[test]
    fn test_every_model_is_drawn_as_the_figure_its_catalogue_entry_names() {
        for m in kettle_shared::MODELS {
            let n = Family::of_id(m.id).number();
            assert!(m.figure.ends_with(n), "{}: catalogue says {}, page draws {n}", m.id, m.figure);
        }
        assert_eq!(Family::of_id("select"), Family::Multiplex);
        assert_eq!(Family::of_id("io-uring"), Family::Async);
        assert_eq!(Family::of_id("sigio"), Family::Signal);
        assert_eq!(Family::of_id("nonblocking"), Family::BusyLoop);
        assert_eq!(Family::of_id("thread-pool"), Family::Blocking);
        assert_eq!(Family::of_id("no-such-model"), Family::Blocking);
    }

    #[test]
    fn test_an_unknown_model_has_no_panel_and_every_model_has_one() {
        let events = deque(vec![ev(1, 1, 1, EventKind::Backlog { queued: 1, max: 8 })]);
        assert!(panel("no-such-model", &moment(&events, 0)).is_empty());
        for m in BuiltIn::ALL {
            assert!(!panel(m.id(), &moment(&events, 0)).is_empty(), "{m}");
        }
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
            ev(3, 3, 1, EventKind::DataArrived { fd: 5 }),
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
