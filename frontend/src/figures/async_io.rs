//! Fig. 6.5, asynchronous I/O: `io-uring` and `posix-aio`.
//!
//! **io_uring**: the panel shows the two rings the application shares with the kernel. A
//! request is an SQE written into the **submission queue** — plain memory, no system call;
//! `io_uring_enter` hands the queued SQEs to the kernel, which then does both phases on its
//! own (**in the kernel**: waiting for data, then copying it into the application's buffer);
//! each finished request is a CQE in the **completion queue**, reaped by the application. The
//! timeline shows phase 1 and phase 2 on the kernel's side: the thread is not in them.
//!
//! **POSIX aio, honestly**: `aio_read` returns at once, and the completion callback runs on a
//! new thread. In between, glibc's *helper thread* — a user-space thread Kettle sees in
//! `/proc/<tid>/syscall`, asleep in an ordinary blocking `read` — does both phases. It gets
//! its own lane, labelled as what it is. The panel lists the requests glibc has in flight.

use kettle_shared::{AsyncOp, EventKind};

use super::{buffers, Hook, Item, Moment, Place, Widget};
use crate::i18n::{t, tf, Key};

/// POSIX aio's panel: the requests glibc holds, and the receive buffers.
pub fn aio_panel(at: &Moment<'_>) -> Vec<Widget> {
    vec![aio_requests(at), buffers(at)]
}

/// io_uring's panel: the submission queue, the requests in the kernel, and the completion
/// queue.
pub fn rings(at: &Moment<'_>) -> Vec<Widget> {
    // SQEs written since the last io_uring_enter; then requests the kernel holds.
    let mut sq: Vec<(AsyncOp, i32)> = Vec::new();
    let mut in_kernel: Vec<(AsyncOp, i32)> = Vec::new();
    let mut arrived: Vec<i32> = Vec::new();
    // CQEs posted by the last io_uring_enter's return and not reaped yet.
    let mut cq_left = 0u32;
    for e in at.past() {
        match &e.kind {
            EventKind::Submit { op, fd } => sq.push((*op, *fd)),
            EventKind::RingEnter { submitted, .. } => {
                let n = (*submitted as usize).min(sq.len());
                in_kernel.extend(sq.drain(..n));
            }
            EventKind::RingExit { completions, .. } => cq_left = *completions,
            EventKind::DataArrived { fd, .. } => arrived.push(*fd),
            EventKind::Complete { op, fd, more, .. } => {
                // A multishot request (the accept) stays in the kernel after each completion.
                let finished = in_kernel.iter().position(|(o, f)| o == op && f == fd);
                if let Some(i) = finished.filter(|_| !more) {
                    in_kernel.remove(i);
                }
                arrived.retain(|f| f != fd);
                cq_left = cq_left.saturating_sub(1);
            }
            EventKind::Stopped { .. } => {
                sq.clear();
                in_kernel.clear();
                cq_left = 0;
            }
            _ => {}
        }
    }
    // The CQEs still in the ring are the completions the thread reaps next.
    let cq: Vec<Item> = at
        .future()
        .filter_map(|e| match &e.kind {
            EventKind::Complete { op, fd, result, .. } => {
                Some(Item::fd(tf(at.lang, Key::WCqItem, &[op, fd, result]), *fd, true))
            }
            _ => None,
        })
        .take(cq_left as usize)
        .collect();
    let ring_item = |(op, fd): &(AsyncOp, i32), lit: bool| {
        Item::fd(tf(at.lang, Key::WRingItem, &[op, fd]), *fd, lit)
    };
    vec![
        Widget {
            hook: Hook::Sq,
            place: Place::Shared,
            title: t(at.lang, Key::WSq).into(),
            items: sq.iter().take(6).map(|r| ring_item(r, true)).collect(),
            note: None,
        },
        Widget {
            hook: Hook::InFlight,
            place: Place::Kernel,
            title: t(at.lang, Key::WInFlight).into(),
            items: in_kernel.iter().take(6).map(|r| ring_item(r, arrived.contains(&r.1))).collect(),
            note: None,
        },
        Widget {
            hook: Hook::Cq,
            place: Place::Shared,
            title: t(at.lang, Key::WCq).into(),
            items: cq.into_iter().take(6).collect(),
            note: None,
        },
    ]
}

/// POSIX aio: the `aio_read`s glibc holds, each served by a helper thread.
fn aio_requests(at: &Moment<'_>) -> Widget {
    let mut pending: Vec<i32> = Vec::new();
    let mut seen: Vec<i32> = Vec::new();
    for e in at.past() {
        match &e.kind {
            EventKind::Submit { op: AsyncOp::AioRead, fd } => pending.push(*fd),
            EventKind::SeenInSyscall { fd, .. } => seen.push(*fd),
            EventKind::Complete { op: AsyncOp::AioRead, fd, .. } => {
                pending.retain(|f| f != fd);
                seen.retain(|f| f != fd);
            }
            EventKind::Stopped { .. } => pending.clear(),
            _ => {}
        }
    }
    Widget {
        hook: Hook::Aio,
        place: Place::User,
        title: t(at.lang, Key::WAioRequests).into(),
        items: pending
            .iter()
            .take(6)
            .map(|&fd| {
                Item::fd(
                    tf(at.lang, Key::WRingItem, &[&AsyncOp::AioRead, &fd]),
                    fd,
                    seen.contains(&fd),
                )
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

    #[test]
    fn test_an_sqe_goes_sq_then_kernel_then_cq() {
        let complete =
            EventKind::Complete { op: AsyncOp::Recv, fd: 7, result: 6, peer: None, more: false };
        let events = deque(vec![
            ev(1, 1, 1, EventKind::Submit { op: AsyncOp::Recv, fd: 7 }),
            ev(2, 2, 1, EventKind::RingEnter { submitted: 1, wait_for: 1 }),
            ev(3, 3, 1, EventKind::DataArrived { fd: 7, stamp: None }),
            ev(4, 4, 1, EventKind::RingExit { completions: 1, timed_out: false }),
            ev(5, 5, 1, complete),
        ]);
        let at = |i| rings(&moment(&events, i));
        assert_eq!(at(0)[0].items.len(), 1, "written into the SQ");
        assert!(at(1)[0].items.is_empty() && at(1)[1].items.len() == 1, "handed to the kernel");
        assert!(at(2)[1].items[0].lit, "the data arrived: the kernel is copying");
        assert_eq!(at(3)[2].items[0].label, "recv fd 7 = 6", "the CQE waits in the CQ");
        assert!(at(4)[1].items.is_empty() && at(4)[2].items.is_empty(), "reaped");
    }

    #[test]
    fn test_a_multishot_accept_stays_in_the_kernel_after_its_completion() {
        let accepted =
            EventKind::Complete { op: AsyncOp::Accept, fd: 3, result: 6, peer: None, more: true };
        let events = deque(vec![
            ev(1, 1, 1, EventKind::Submit { op: AsyncOp::Accept, fd: 3 }),
            ev(2, 2, 1, EventKind::RingEnter { submitted: 1, wait_for: 1 }),
            ev(3, 3, 1, EventKind::RingExit { completions: 1, timed_out: false }),
            ev(4, 4, 1, accepted),
        ]);
        let in_kernel = rings(&moment(&events, 3))[1].items.clone();
        assert_eq!(in_kernel.len(), 1, "still armed for the next client");
        assert!(in_kernel[0].label.contains("accept"), "{:?}", in_kernel[0].label);
    }
}
