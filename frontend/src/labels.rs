//! What each step says, and how it is drawn: the words of Stevens' figures ("system call",
//! "return", "data ready") filled with what was measured. Used by the figures and the event
//! log, so a step reads the same in both.

use kettle_shared::{
    ArrivalStamp, AsyncOp, CloseReason, Event, EventKind, RecvOutcome, SendOutcome, SysError,
};

use crate::figures::{evidence_phrase, Evidence};
use crate::format::{format_count, format_duration, format_rate, signal_name};
use crate::i18n::{t, tf, Key, Lang};
use crate::store::Step;

/// How a step is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// "system call": an arrow from the thread's lane to the kernel.
    Call,
    /// "return …": an arrow from the kernel back to the lane.
    Return,
    /// Something the kernel did on its own (data arrived, a signal generated).
    KernelNote,
    /// Something the thread did without a system call.
    AppNote,
    /// The busy loop's staircase: many calls that each returned `EAGAIN`.
    Stair,
}

impl Shape {
    /// `data-shape`.
    pub fn id(self) -> &'static str {
        match self {
            Shape::Call => "call",
            Shape::Return => "return",
            Shape::KernelNote => "kernel-note",
            Shape::AppNote => "app-note",
            Shape::Stair => "stair",
        }
    }
}

/// Payload previews on one line: a newline shows as ⏎.
pub fn preview(text: &str) -> String {
    text.replace('\n', "⏎").replace('\r', "")
}

/// A close reason in words.
pub fn close_reason(lang: Lang, reason: CloseReason) -> &'static str {
    t(
        lang,
        match reason {
            CloseReason::PeerClosed => Key::ClosePeerClosed,
            CloseReason::Reset => Key::CloseReset,
            CloseReason::Error => Key::CloseError,
            CloseReason::Refused => Key::CloseRefused,
            CloseReason::Stopped => Key::CloseStopped,
        },
    )
}

/// Describes one row: a single event, or a merged run (the staircase, sigio's work).
pub fn describe_step(step: &Step, lang: Lang) -> (Shape, String) {
    match &step.event.kind {
        EventKind::WouldBlockBurst { .. } => {
            let total: u64 = step.counts.iter().map(|(_, n)| n).sum();
            let calls = step.counts.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join("/");
            let span_ns = step.event.t_ns.saturating_sub(step.first_ns);
            // Each burst counts the EAGAINs of one window since the previous one, so a rate
            // needs at least two bursts to have a time span.
            let text = if step.merged > 1 && span_ns > 0 {
                let per_s = total as f64 * 1e9 / span_ns as f64;
                tf(lang, Key::StepEagainRate, &[&format_count(total), &calls, &format_rate(per_s)])
            } else {
                tf(lang, Key::StepEagain, &[&format_count(total), &calls])
            };
            (Shape::Stair, text)
        }
        EventKind::WorkDone { .. } => {
            (Shape::AppNote, tf(lang, Key::StepWork, &[&format_count(step.count("units"))]))
        }
        _ => describe(&step.event, lang),
    }
}

/// Describes one event.
pub fn describe(event: &Event, lang: Lang) -> (Shape, String) {
    use Shape::*;
    match &event.kind {
        EventKind::Listen { addr, backlog } => (Call, tf(lang, Key::StepListen, &[addr, backlog])),
        EventKind::Stopped { reason } => {
            (AppNote, tf(lang, Key::StepStopped, &[&crate::reasons::reason(lang, reason)]))
        }
        EventKind::ThreadSpawned => (AppNote, t(lang, Key::StepThreadStarted).into()),
        EventKind::ThreadExited => (AppNote, t(lang, Key::StepThreadExited).into()),
        EventKind::ThreadBlocked { on } if on == "queue" => {
            (AppNote, t(lang, Key::StepSleepsOnQueue).into())
        }
        EventKind::ThreadBlocked { on } => (AppNote, tf(lang, Key::StepThreadBlocked, &[on])),
        EventKind::ThreadWoken { by } => {
            (KernelNote, tf(lang, Key::StepThreadWoken, &[&crate::reasons::reason(lang, by)]))
        }
        EventKind::AcceptEnter => (Call, "accept()".into()),
        EventKind::AcceptExit { fd, peer, error } => {
            (Return, accept_returned(*fd, peer.as_deref(), error.as_ref(), lang))
        }
        EventKind::Backlog { queued, max } => {
            (KernelNote, tf(lang, Key::WBacklogNote, &[queued, max]))
        }
        EventKind::RecvEnter { fd, .. } => (Call, format!("recv(fd {fd})")),
        // A traced program's sockets are not Kettle's to stamp: its arrivals are the kernel's
        // data-ready (as root) or the send stamps of Kettle's own echo client.
        EventKind::DataArrived { fd, stamp: Some(ArrivalStamp::ClientSend) } => {
            (KernelNote, tf(lang, Key::StepDataArrivedFromClient, &[fd]))
        }
        EventKind::DataArrived { fd, stamp: Some(ArrivalStamp::KernelReady) } => {
            (KernelNote, tf(lang, Key::StepDataArrivedKernelReady, &[fd]))
        }
        EventKind::DataArrived { fd, stamp: None } => {
            (KernelNote, tf(lang, Key::StepDataArrived, &[fd]))
        }
        EventKind::RecvExit { outcome, .. } => (Return, recv_returned(outcome, lang)),
        EventKind::SendEnter { fd, bytes } => (Call, tf(lang, Key::StepSend, &[fd, bytes])),
        EventKind::SendExit { outcome, .. } => (Return, send_returned(outcome, lang)),
        EventKind::Close { fd, reason } => {
            (Call, tf(lang, Key::StepClose, &[fd, &close_reason(lang, *reason)]))
        }
        EventKind::Refused { reason } => {
            (AppNote, tf(lang, Key::StepRefused, &[&crate::reasons::reason(lang, reason)]))
        }
        EventKind::WaitEnter { api, watched } => {
            (Call, tf(lang, Key::StepWait, &[&crate::timeline::wait_name(*api), &watched.len()]))
        }
        EventKind::WaitReturned { ready, .. } if ready.is_empty() => {
            (Return, t(lang, Key::StepWaitNothing).into())
        }
        EventKind::WaitReturned { ready, .. } => {
            let fds = ready.iter().map(|r| format!("fd {}", r.fd)).collect::<Vec<_>>().join(", ");
            (Return, tf(lang, Key::StepWaitReturned, &[&ready.len(), &fds]))
        }
        EventKind::SignalHandler { signo, name } => {
            (Call, tf(lang, Key::StepSigaction, &[&signal_name(*signo, name)]))
        }
        EventKind::SignalDelivered { signo, name, fd } => (
            Return,
            match fd {
                Some(fd) => tf(lang, Key::StepSignal, &[&signal_name(*signo, name), fd]),
                None => tf(lang, Key::StepSignalNoFd, &[&signal_name(*signo, name)]),
            },
        ),
        EventKind::Submit { op: AsyncOp::AioRead, fd } => (Call, tf(lang, Key::StepAioRead, &[fd])),
        EventKind::Submit { op, fd } => (AppNote, tf(lang, Key::StepSqe, &[op, fd])),
        EventKind::Complete { op: AsyncOp::AioRead, fd, result, .. } => {
            (AppNote, tf(lang, Key::StepAioDone, &[fd, result]))
        }
        EventKind::Complete { op, fd, result, .. } => {
            (Return, tf(lang, Key::StepCqe, &[op, fd, &completion_result(*result)]))
        }
        EventKind::RingEnter { submitted, wait_for } => {
            (Call, tf(lang, Key::StepRingEnter, &[submitted, wait_for]))
        }
        EventKind::RingExit { timed_out: true, completions: 0 } => {
            (Return, t(lang, Key::StepRingTimeout).into())
        }
        EventKind::RingExit { completions, .. } => {
            (Return, tf(lang, Key::StepRingExit, &[completions]))
        }
        EventKind::WouldBlockBurst { call, count } => {
            (Stair, tf(lang, Key::StepEagain, &[&format_count(*count), call]))
        }
        EventKind::WorkDone { units } => (AppNote, tf(lang, Key::StepWork, &[units])),
        EventKind::EpollCtl { op, fd, events, error } => {
            let asked = error.as_ref().map_or_else(|| events.clone(), |e| format!("→ {}", e.errno));
            (Call, tf(lang, Key::StepEpollCtl, &[&op.constant(), fd, &asked]))
        }
        EventKind::Register { fd, interest, callback } => {
            (AppNote, tf(lang, Key::StepRegister, &[fd, interest, callback]))
        }
        EventKind::Unregister { fd } => (AppNote, tf(lang, Key::StepUnregister, &[fd])),
        EventKind::Callback { name, fd } => (AppNote, tf(lang, Key::StepCallback, &[name, fd])),
        EventKind::ConnQueued { fd, depth, .. } => {
            (AppNote, tf(lang, Key::StepQueued, &[fd, depth]))
        }
        EventKind::ConnDequeued { fd, waited_ns, .. } => {
            (AppNote, tf(lang, Key::StepDequeued, &[fd, &format_duration(*waited_ns)]))
        }
        EventKind::ChildSpawned { pid, fd } => {
            (AppNote, tf(lang, Key::StepChildSpawned, &[pid, fd]))
        }
        EventKind::ChildReaped { pid, status } => (
            Return,
            tf(lang, Key::StepChildReaped, &[pid, &crate::reasons::child_exit(lang, status)]),
        ),
        EventKind::SeenInSyscall { call, fd, .. } => {
            (AppNote, tf(lang, Key::StepSeenInSyscall, &[call, fd]))
        }
        EventKind::ThreadStack { stack_bytes } => {
            (AppNote, tf(lang, Key::LaneStack, &[&crate::format::format_bytes(*stack_bytes)]))
        }
        EventKind::ThreadSample { cpu_ns, conns, syscalls, .. } => {
            (AppNote, tf(lang, Key::LogSample, &[&format_duration(*cpu_ns), conns, syscalls]))
        }
        EventKind::ClientConnected { client, target, local } => {
            (AppNote, tf(lang, Key::LogClientConnected, &[client, target, local]))
        }
        EventKind::ClientSent { client, bytes } => {
            (AppNote, tf(lang, Key::LogClientSent, &[client, bytes]))
        }
        EventKind::ClientReceived { client, bytes } => {
            (AppNote, tf(lang, Key::LogClientReceived, &[client, bytes]))
        }
        EventKind::ClientClosed { client, reason } => (
            AppNote,
            tf(lang, Key::LogClientClosed, &[client, &crate::reasons::reason(lang, reason)]),
        ),
        EventKind::Recognised { family, call, count, threads } => {
            let e = Evidence { family: *family, call, count: *count, threads: *threads };
            (
                AppNote,
                tf(lang, Key::StepRecognised, &[&family.number(), &evidence_phrase(&e, lang)]),
            )
        }
    }
}

/// What an `accept` returned: the new descriptor and its peer, or the errno.
fn accept_returned(
    fd: Option<i32>,
    peer: Option<&str>,
    error: Option<&SysError>,
    lang: Lang,
) -> String {
    match error {
        Some(e) => tf(lang, Key::StepReturnErr, &[&e.errno]),
        None => tf(
            lang,
            Key::StepAcceptReturned,
            &[&fd.map_or("?".into(), |f| f.to_string()), &peer.unwrap_or_default()],
        ),
    }
}

/// What a `recv` returned: the bytes (and the line), the end of the stream, or the errno.
fn recv_returned(outcome: &RecvOutcome, lang: Lang) -> String {
    match outcome {
        RecvOutcome::Data { bytes, preview: p } => {
            tf(lang, Key::StepRecvData, &[bytes, &preview(p)])
        }
        RecvOutcome::Eof => t(lang, Key::StepRecvEof).into(),
        RecvOutcome::WouldBlock => tf(lang, Key::StepReturnErr, &[&"EAGAIN"]),
        RecvOutcome::Error(e) => tf(lang, Key::StepReturnErr, &[&e.errno]),
    }
}

/// What a `send` returned: the bytes the kernel took, or the errno.
fn send_returned(outcome: &SendOutcome, lang: Lang) -> String {
    match outcome {
        SendOutcome::Sent { bytes } => tf(lang, Key::StepSent, &[bytes]),
        SendOutcome::WouldBlock => tf(lang, Key::StepReturnErr, &[&"EAGAIN"]),
        SendOutcome::Error(e) => tf(lang, Key::StepReturnErr, &[&e.errno]),
    }
}

/// An io_uring result: bytes or a descriptor, or the errno of a negative result.
pub fn completion_result(result: i64) -> String {
    match result {
        r if r >= 0 => r.to_string(),
        -11 => "-EAGAIN".into(),
        -104 => "-ECONNRESET".into(),
        -24 => "-EMFILE".into(),
        r => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::ev;
    use crate::store::ModelStore;

    #[test]
    fn test_staircase_row_says_how_many_and_how_fast() {
        let mut s = ModelStore::default();
        s.extend((1..=11).map(|i| {
            ev(
                i,
                i * 100_000_000,
                1,
                EventKind::WouldBlockBurst { call: "recv".into(), count: 30_000 },
            )
        }));
        let step = &s.steps().list[0];
        let (shape, text) = describe_step(step, Lang::En);
        assert_eq!(shape, Shape::Stair);
        assert_eq!(text, "330 000 × recv → EAGAIN, 330k/s");
    }

    #[test]
    fn test_a_traced_programs_arrival_says_whose_word_it_is() {
        let built_in = ev(1, 10, 1, EventKind::DataArrived { fd: 5, stamp: None });
        assert_eq!(describe(&built_in, Lang::En).1, "data arrives (fd 5)");
        let stamped = |stamp| ev(1, 10, 1, EventKind::DataArrived { fd: 5, stamp: Some(stamp) });
        for lang in [Lang::En, Lang::Zh] {
            let (shape, text) = describe(&stamped(ArrivalStamp::ClientSend), lang);
            assert_eq!(shape, Shape::KernelNote);
            assert!(text.contains("Kettle"), "{text}");
            assert!(text.contains("loopback") || text.contains("回环"), "{text}");
            let (shape, text) = describe(&stamped(ArrivalStamp::KernelReady), lang);
            assert_eq!(shape, Shape::KernelNote);
            assert!(text.contains("sk_data_ready"), "{text}");
        }
    }

    #[test]
    fn test_signal_is_named_as_the_backend_names_it() {
        let e = ev(
            1,
            1,
            1,
            EventKind::SignalDelivered { signo: 36, name: "SIGRTMIN+2".into(), fd: Some(7) },
        );
        assert_eq!(describe(&e, Lang::En).1, "deliver SIGRTMIN+2: fd 7");
        assert_eq!(describe(&e, Lang::Zh).1, "递送 SIGRTMIN+2:fd 7");
    }

    #[test]
    fn test_recognised_names_the_figure_and_the_evidence() {
        let kind = |family, call: &str, count, threads| EventKind::Recognised {
            family,
            call: call.into(),
            count,
            threads,
        };
        let e = ev(1, 1, 1, kind(kettle_shared::Family::BusyLoop, "recv", 9, 1));
        assert_eq!(
            describe(&e, Lang::En),
            (Shape::AppNote, "recognised as Fig. 6.2: recv(2) returned EAGAIN 9 times".into())
        );
        let e = ev(1, 1, 1, kind(kettle_shared::Family::Blocking, "accept", 2, 2));
        assert_eq!(
            describe(&e, Lang::En).1,
            "recognised as Fig. 6.1: accept(2) blocked 2 times on 2 threads"
        );
        assert_eq!(describe(&e, Lang::Zh).1, "识别为图 6.1:accept(2) 在 2 个线程上阻塞了 2 次");
    }

    #[test]
    fn test_io_uring_sqe_is_not_a_system_call_but_aio_read_is() {
        let sqe = ev(1, 1, 1, EventKind::Submit { op: AsyncOp::Recv, fd: 7 });
        assert_eq!(describe(&sqe, Lang::En).0, Shape::AppNote);
        let aio = ev(1, 1, 1, EventKind::Submit { op: AsyncOp::AioRead, fd: 7 });
        assert_eq!(describe(&aio, Lang::En).0, Shape::Call);
    }
}
