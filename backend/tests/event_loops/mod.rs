//! Reading the steps of the epoll models (epoll, epoll-et, reactor): where a call is, whether a
//! `recv` found data or `EAGAIN`, and when a one-line figure has ended.

#![allow(dead_code)] // each test file uses its own subset

use kettle_shared::{Event, EventKind, RecvOutcome};

/// Index of the first event at or after `from` matching `f`.
pub fn find(events: &[&Event], from: usize, f: impl Fn(&Event) -> bool) -> Option<usize> {
    events[from..].iter().position(|e| f(e)).map(|i| i + from)
}

/// A connection was closed and the thread went back to `epoll_wait` (the last step of the
/// one-line figures; events arrive in batches, so both are waited for).
pub fn closed_and_waiting_again(events: &[Event]) -> bool {
    let close = events.iter().position(|e| matches!(e.kind, EventKind::Close { .. }));
    close.is_some_and(|c| events[c..].iter().any(|e| e.kind.name() == "wait_enter"))
}

/// True for a `recv` that returned data.
pub fn recv_data(e: &Event) -> bool {
    matches!(e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
}

/// True for a `recv` that returned `EAGAIN`.
pub fn recv_would_block(e: &Event) -> bool {
    matches!(e.kind, EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. })
}
