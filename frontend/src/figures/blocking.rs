//! Fig. 6.1, blocking I/O: `blocking`, `thread-per-conn`, `process-per-conn`, `thread-pool`.
//!
//! The timeline gives every thread (or child process) its own lane, from the moment it is
//! spawned until it exits, and shows each one asleep in `accept` or `recv` through both
//! phases. The panel shows what the threads wait for: the **listen backlog** in the kernel
//! (the second client of the one-thread server waits there, unaccepted), each connection's
//! **receive buffer** (the data arriving ends phase 1; `recv` copying it out is phase 2), the
//! pool's **queue** of accepted connections waiting for a free worker — in user space, with
//! how long each has waited — and process-per-conn's **children**.

use kettle_shared::EventKind;

use super::{backlog, buffers, Hook, Item, Moment, Place, Widget};
use crate::format::format_duration;
use crate::i18n::{t, tf, Key};

/// What a Fig. 6.1 model shows besides the backlog and the buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Nothing: one thread, or a thread per connection.
    Nothing,
    /// The pool's queue (`thread-pool`).
    Queue,
    /// The children (`process-per-conn`).
    Children,
}

/// The panel of a Fig. 6.1 model.
pub fn panel(extra: Extra, at: &Moment<'_>) -> Vec<Widget> {
    let mut widgets = vec![backlog(at)];
    match extra {
        Extra::Nothing => {}
        Extra::Queue => widgets.push(queue(at)),
        Extra::Children => widgets.push(children(at)),
    }
    widgets.push(buffers(at));
    widgets
}

/// The pool's queue: connections accepted and waiting for a worker, each with how long it
/// has waited so far; after the last dequeue, how long that one waited.
fn queue(at: &Moment<'_>) -> Widget {
    let mut queued: Vec<(i32, u64)> = Vec::new();
    let mut last_wait = None;
    for e in at.past() {
        match e.kind {
            EventKind::ConnQueued { fd, .. } => queued.push((fd, e.t_ns)),
            EventKind::ConnDequeued { fd, waited_ns, .. } => {
                queued.retain(|&(f, _)| f != fd);
                last_wait = Some(waited_ns);
            }
            EventKind::Stopped { .. } => queued.clear(),
            _ => {}
        }
    }
    let now = at.now_ns();
    Widget {
        hook: Hook::Queue,
        place: Place::User,
        title: t(at.lang, Key::WQueue).into(),
        items: queued
            .iter()
            .take(6)
            .map(|&(fd, since)| {
                let waited = format_duration(now.saturating_sub(since));
                Item::fd(tf(at.lang, Key::WQueueItem, &[&fd, &waited]), fd, true)
            })
            .collect(),
        note: last_wait.map(|ns| tf(at.lang, Key::WQueueWaited, &[&format_duration(ns)])),
    }
}

/// process-per-conn's live children.
fn children(at: &Moment<'_>) -> Widget {
    let mut live: Vec<i32> = Vec::new();
    for e in at.past() {
        match e.kind {
            EventKind::ChildSpawned { pid, .. } => live.push(pid),
            EventKind::ChildReaped { pid, .. } => live.retain(|&p| p != pid),
            _ => {}
        }
    }
    Widget {
        hook: Hook::Children,
        place: Place::Kernel,
        title: t(at.lang, Key::WChildren).into(),
        items: live
            .iter()
            .take(6)
            .map(|pid| Item::new(tf(at.lang, Key::WChildItem, &[pid])))
            .collect(),
        note: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::tests::{deque, moment};
    use crate::store::tests::ev;

    #[test]
    fn test_pool_queue_shows_each_connection_and_how_long_it_waited() {
        let events = deque(vec![
            ev(1, 1_000, 1, EventKind::ConnQueued { fd: 9, depth: 1, capacity: 128 }),
            ev(2, 2_001_000, 1, EventKind::AcceptEnter),
            ev(3, 3_001_000, 2, EventKind::ConnDequeued { fd: 9, waited_ns: 3_000_000, depth: 0 }),
        ]);
        let w = queue(&moment(&events, 1));
        assert_eq!(w.items[0].label, "fd 9: 2.00 ms");
        let w = queue(&moment(&events, 2));
        assert!(w.items.is_empty());
        assert_eq!(w.note.as_deref(), Some("last one waited 3.00 ms"));
        assert_eq!(
            crate::figures::panel(crate::figures::tests::drawn("thread-pool"), &moment(&events, 2))
                [1]
            .hook,
            Hook::Queue
        );
    }

    #[test]
    fn test_children_come_and_go() {
        let status = kettle_shared::ChildExit::Exited { code: 0 };
        let events = deque(vec![
            ev(1, 1, 1, EventKind::ChildSpawned { pid: 42, fd: 5 }),
            ev(2, 2, 1, EventKind::ChildReaped { pid: 42, status }),
        ]);
        assert_eq!(children(&moment(&events, 0)).items.len(), 1);
        assert!(children(&moment(&events, 1)).items.is_empty());
    }
}
