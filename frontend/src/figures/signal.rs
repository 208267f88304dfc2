//! Fig. 6.4, signal-driven I/O: `sigio`.
//!
//! The timeline shows the handler installed (`sigaction`), then the thread doing its own work
//! — in no system call — while phase 1 passes in the kernel, the data arriving, the signal
//! delivered naming the descriptor, and only then `recv`, which finds the data there and
//! blocks just for the copy. The panel shows the signal the kernel last delivered to the
//! thread (its name: `SIGRTMIN+2`, or plain `SIGIO` when the realtime queue overflowed) and
//! the receive buffers it is about.

use kettle_shared::EventKind;

use super::{buffers, Hook, Item, Moment, Place, Widget};
use crate::format::signal_name;
use crate::i18n::{t, tf, Key};

/// The panel of signal-driven I/O.
pub fn panel(at: &Moment<'_>) -> Vec<Widget> {
    vec![signal(at), buffers(at)]
}

/// The last signal delivered, lit while the thread handles it (until its next work or call).
fn signal(at: &Moment<'_>) -> Widget {
    let mut last = None;
    let mut handling = false;
    for e in at.past() {
        match &e.kind {
            EventKind::SignalDelivered { signo, name, fd } => {
                last = Some((signal_name(*signo, name), *fd));
                handling = true;
            }
            EventKind::WorkDone { .. } => handling = false,
            _ => {}
        }
    }
    let items = match last {
        Some((name, Some(fd))) => {
            vec![Item::fd(tf(at.lang, Key::WSignalItem, &[&name, &fd]), fd, handling)]
        }
        Some((name, None)) => vec![Item { lit: handling, ..Item::new(name) }],
        None => Vec::new(),
    };
    Widget {
        hook: Hook::Signal,
        place: Place::Kernel,
        title: t(at.lang, Key::WSignal).into(),
        note: items.is_empty().then(|| t(at.lang, Key::WSignalNone).into()),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::tests::{deque, moment};
    use crate::store::tests::ev;

    #[test]
    fn test_signal_carries_its_name_and_fd_and_is_lit_while_handled() {
        let sig = EventKind::SignalDelivered { signo: 36, name: "SIGRTMIN+2".into(), fd: Some(7) };
        let events = deque(vec![
            ev(1, 1, 1, EventKind::WorkDone { units: 3 }),
            ev(2, 2, 1, sig),
            ev(3, 3, 1, EventKind::RecvEnter { fd: 7, len: 1 }),
            ev(4, 4, 1, EventKind::WorkDone { units: 1 }),
        ]);
        assert!(signal(&moment(&events, 0)).items.is_empty());
        let w = signal(&moment(&events, 2));
        assert_eq!((w.items[0].label.as_str(), w.items[0].lit), ("SIGRTMIN+2, si_fd 7", true));
        assert!(!signal(&moment(&events, 3)).items[0].lit);
    }
}
