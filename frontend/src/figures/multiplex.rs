//! Fig. 6.3, I/O multiplexing: `select`, `poll`, `epoll`, `epoll-et`, `reactor`.
//!
//! The timeline shows one thread asleep in the readiness call while phase 1 passes for every
//! socket at once, "return readable", then a `recv` that only copies. The panel shows what
//! the call is given and what it gives back, which is where the models differ:
//!
//! - **select / poll**: the whole descriptor set is handed to the kernel on *every* call (one
//!   box per watched fd, with the number of entries scanned), and the ready set comes back —
//!   the ready boxes lit.
//! - **epoll**: the interest list lives *in the kernel*, changed only by `epoll_ctl`; each
//!   `epoll_wait` returns just the ready list. **epoll-et** adds that each readiness is
//!   reported once (an edge), so the server drains to `EAGAIN`.
//! - **reactor**: the selector's registry (fd → callback) in user space, with the callback that
//!   ran lit.

use kettle_shared::{EpollOp, EventKind, ReadyFd, WaitApi};

use super::{Hook, Item, Moment, Place, Widget};
use crate::i18n::{t, tf, Key};
use crate::timeline::wait_name;

/// How a Fig. 6.3 model watches its sockets, which is what its panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// select, poll: the whole set handed over on every call, scanned.
    Scan,
    /// epoll, level-triggered: the interest list in the kernel, the ready list back.
    Epoll,
    /// epoll, edge-triggered: the same, each readiness reported once.
    EpollEdge,
    /// The reactor: epoll, and the registry of callbacks in user space.
    Reactor,
}

/// The panel of a Fig. 6.3 model.
pub fn panel(watch: Watch, at: &Moment<'_>) -> Vec<Widget> {
    let wait = last_wait(at);
    match watch {
        Watch::Scan => vec![fd_set(at, &wait), ready_set(at, &wait, Hook::Ready)],
        Watch::Epoll | Watch::EpollEdge | Watch::Reactor => {
            let mut w = vec![interest_list(at, &wait), ready_set(at, &wait, Hook::ReadyList)];
            if watch == Watch::EpollEdge {
                w[1].note = Some(t(at.lang, Key::WEdgeNote).into());
            }
            if watch == Watch::Reactor {
                w.push(registry(at));
            }
            w
        }
    }
}

/// The latest readiness call at the moment: what it watched, and what it returned (if it has).
#[derive(Debug, Default)]
struct LastWait {
    api: Option<WaitApi>,
    watched: Vec<i32>,
    returned: Option<(Vec<ReadyFd>, u32)>,
    /// The call returned at the step being played.
    just_returned: bool,
}

fn last_wait(at: &Moment<'_>) -> LastWait {
    let mut w = LastWait::default();
    for (i, e) in at.past().enumerate() {
        match &e.kind {
            EventKind::WaitEnter { api, watched } => {
                w = LastWait { api: Some(*api), watched: watched.clone(), ..Default::default() }
            }
            EventKind::WaitReturned { ready, scanned, .. } => {
                w.returned = Some((ready.clone(), *scanned));
                w.just_returned = i == at.upto;
            }
            _ => {}
        }
    }
    w
}

fn is_ready(w: &LastWait, fd: i32) -> bool {
    w.returned.as_ref().is_some_and(|(ready, _)| ready.iter().any(|r| r.fd == fd))
}

/// select/poll: the descriptors handed over on this call, ready ones lit.
fn fd_set(at: &Moment<'_>, w: &LastWait) -> Widget {
    let name = w.api.map_or("select", wait_name);
    Widget {
        hook: Hook::FdSet,
        place: Place::User,
        title: tf(at.lang, Key::WFdSet, &[&name]),
        items: w
            .watched
            .iter()
            .take(12)
            .map(|&fd| Item::fd(format!("{fd}"), fd, is_ready(w, fd)))
            .collect(),
        note: w.returned.as_ref().map(|(_, scanned)| tf(at.lang, Key::WScanned, &[scanned])),
    }
}

/// What the last call returned.
fn ready_set(at: &Moment<'_>, w: &LastWait, hook: Hook) -> Widget {
    let key = if hook == Hook::Ready { Key::WReady } else { Key::WReadyList };
    Widget {
        hook,
        place: Place::Kernel,
        title: t(at.lang, key).into(),
        items: w
            .returned
            .iter()
            .flat_map(|(ready, _)| ready.iter())
            .take(12)
            .map(|r| Item::fd(format!("{}", r.fd), r.fd, w.just_returned))
            .collect(),
        note: None,
    }
}

/// epoll's interest list, built by `epoll_ctl` and kept by the kernel between calls.
fn interest_list(at: &Moment<'_>, w: &LastWait) -> Widget {
    let mut fds: Vec<i32> = Vec::new();
    for e in at.past() {
        match &e.kind {
            EventKind::EpollCtl { op: EpollOp::Add, fd, error: None, .. } if !fds.contains(fd) => {
                fds.push(*fd)
            }
            EventKind::EpollCtl { op: EpollOp::Del, fd, error: None, .. } => {
                fds.retain(|f| f != fd)
            }
            EventKind::Stopped { .. } => fds.clear(),
            _ => {}
        }
    }
    Widget {
        hook: Hook::Interest,
        place: Place::Kernel,
        title: t(at.lang, Key::WInterest).into(),
        items: fds
            .iter()
            .take(12)
            .map(|&fd| Item::fd(format!("{fd}"), fd, is_ready(w, fd)))
            .collect(),
        note: None,
    }
}

/// The reactor's registry: fd → callback, the one that ran last lit.
fn registry(at: &Moment<'_>) -> Widget {
    let mut entries: Vec<(i32, String)> = Vec::new();
    let mut ran: Option<(i32, usize)> = None;
    for (i, e) in at.past().enumerate() {
        match &e.kind {
            EventKind::Register { fd, callback, .. } => {
                entries.retain(|(f, _)| f != fd);
                entries.push((*fd, callback.clone()));
            }
            EventKind::Unregister { fd } => entries.retain(|(f, _)| f != fd),
            EventKind::Callback { fd, .. } => ran = Some((*fd, i)),
            EventKind::WaitEnter { .. } => ran = None,
            EventKind::Stopped { .. } => entries.clear(),
            _ => {}
        }
    }
    Widget {
        hook: Hook::Registry,
        place: Place::User,
        title: t(at.lang, Key::WRegistry).into(),
        items: entries
            .iter()
            .take(8)
            .map(|(fd, cb)| Item {
                label: tf(at.lang, Key::WRegistryItem, &[fd, cb]),
                fd: Some(*fd),
                lit: ran.is_some_and(|(f, _)| f == *fd),
                callback: Some(cb.clone()),
            })
            .collect(),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::tests::{deque, moment};
    use crate::store::tests::ev;

    fn returned(api: WaitApi, ready: &[i32], scanned: u32) -> EventKind {
        EventKind::WaitReturned {
            api,
            ready: ready
                .iter()
                .map(|&fd| ReadyFd { fd, readable: true, writable: false })
                .collect(),
            scanned,
        }
    }

    #[test]
    fn test_select_hands_over_the_whole_set_and_lights_the_ready_one() {
        let events = deque(vec![
            ev(1, 1, 1, EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 5, 6] }),
            ev(2, 2, 1, returned(WaitApi::Select, &[5], 7)),
        ]);
        let p = crate::figures::panel(crate::figures::tests::drawn("select"), &moment(&events, 0));
        assert_eq!(p[0].items.len(), 3);
        assert!(p[0].items.iter().all(|i| !i.lit));
        assert!(p[1].items.is_empty());
        let p = crate::figures::panel(crate::figures::tests::drawn("select"), &moment(&events, 1));
        let lit: Vec<_> = p[0].items.iter().filter(|i| i.lit).map(|i| i.fd).collect();
        assert_eq!(lit, [Some(5)]);
        assert_eq!(p[0].note.as_deref(), Some("7 entries scanned"));
        assert_eq!(p[1].items[0].fd, Some(5));
    }

    #[test]
    fn test_epoll_interest_list_follows_epoll_ctl() {
        let ctl = |op, fd| EventKind::EpollCtl { op, fd, events: "EPOLLIN".into(), error: None };
        let events = deque(vec![
            ev(1, 1, 1, ctl(EpollOp::Add, 3)),
            ev(2, 2, 1, ctl(EpollOp::Add, 5)),
            ev(3, 3, 1, EventKind::WaitEnter { api: WaitApi::Epoll, watched: vec![3, 5] }),
            ev(4, 4, 1, returned(WaitApi::Epoll, &[5], 1)),
            ev(5, 5, 1, ctl(EpollOp::Del, 5)),
        ]);
        let p = crate::figures::panel(crate::figures::tests::drawn("epoll"), &moment(&events, 3));
        assert_eq!(p[0].hook, Hook::Interest);
        assert_eq!(
            p[0].items.iter().map(|i| (i.fd, i.lit)).collect::<Vec<_>>(),
            [(Some(3), false), (Some(5), true)]
        );
        assert_eq!(p[1].hook, Hook::ReadyList);
        assert_eq!(
            crate::figures::panel(crate::figures::tests::drawn("epoll"), &moment(&events, 4))[0]
                .items
                .len(),
            1
        );
        assert!(crate::figures::panel(
            crate::figures::tests::drawn("epoll-et"),
            &moment(&events, 4)
        )[1]
        .note
        .is_some());
    }

    #[test]
    fn test_reactor_registry_lights_the_callback_that_ran() {
        let reg =
            |fd, cb: &str| EventKind::Register { fd, interest: "read".into(), callback: cb.into() };
        let events = deque(vec![
            ev(1, 1, 1, reg(3, "accept")),
            ev(2, 2, 1, reg(5, "read")),
            ev(3, 3, 1, EventKind::Callback { name: "read".into(), fd: 5 }),
        ]);
        let p = crate::figures::panel(crate::figures::tests::drawn("reactor"), &moment(&events, 2));
        let r = &p[2];
        assert_eq!(r.hook, Hook::Registry);
        assert_eq!(r.items[1].callback.as_deref(), Some("read"));
        assert!(r.items[1].lit && !r.items[0].lit);
    }
}
