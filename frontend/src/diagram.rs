//! Layout of the Stevens-style diagram (UNP Fig. 6.1) from measured events, as pure data.
//!
//! Two columns, application and kernel; time runs down, one row per recorded step; calls are
//! arrows to the kernel, returns arrows back. The window shows the current "round" (from the
//! latest `accept`/`recv`/readiness call that was entered) plus the round before it, faded, so
//! a finished exchange stays readable while the server already waits again. Braces on the
//! right are the two phases of the `recv` being played, labelled with the durations the
//! kernel measured (`recv_exit.wait_ns`/`copy_ns`); braces on the left say where the process
//! sat blocked. The SVG component only draws what this module computes.

use std::rc::Rc;

use kettle_shared::{CloseReason, Event, EventKind, RecvOutcome, SendOutcome, WaitApi};

use crate::format::{format_delta, format_duration};
use crate::i18n::{t, Key, Lang};
use crate::playback::{screen_gap_ms, Position};

/// Width of the SVG's user space.
pub const WIDTH: f64 = 1200.0;
/// The application column's line.
pub const APP_X: f64 = 490.0;
/// The kernel column's line.
pub const KERNEL_X: f64 = 860.0;
/// Where the first row sits (below the column titles).
pub const TOP: f64 = 100.0;
/// Vertical distance between steps.
pub const ROW_H: f64 = 62.0;
/// Most steps drawn at once.
pub const MAX_STEPS: usize = 14;

/// The phase of the `recv` being played (`svg#diagram[data-phase]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No `recv` in the current round (accepting, or nothing yet).
    Idle,
    /// Between `recv_enter` and `data_arrived`: phase 1.
    Wait,
    /// Between `data_arrived` and `recv_exit`: phase 2.
    Copy,
    /// `recv_exit` has played.
    Done,
}

impl Phase {
    /// The attribute value.
    pub fn id(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Wait => "wait",
            Phase::Copy => "copy",
            Phase::Done => "done",
        }
    }
}

/// How a step is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// "system call": application → kernel.
    Call,
    /// "return …": kernel → application.
    Return,
    /// Something the kernel did on its own (data arrived, backlog changed).
    KernelNote,
    /// Something the process did without a call (thread started, refused a client).
    AppNote,
}

/// One drawn step.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Index into the steps given to [`layout`].
    pub index: usize,
    /// The event's `seq`.
    pub seq: u64,
    /// The event kind's protocol name (`data-kind`).
    pub kind: &'static str,
    /// How to draw it.
    pub shape: Shape,
    /// The arrow's text.
    pub label: String,
    /// Thread that made the call.
    pub thread: String,
    /// Vertical position.
    pub y: f64,
    /// The step playback is on.
    pub current: bool,
    /// Part of the previous round (drawn faded).
    pub previous: bool,
}

/// A right-hand brace: one phase of one `recv`.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseBrace {
    /// [`Phase::Wait`] or [`Phase::Copy`].
    pub phase: Phase,
    /// Top.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// The phase's name.
    pub title: &'static str,
    /// The measured duration, or what is still going on.
    pub label: String,
    /// The phase has not ended at the current step.
    pub in_progress: bool,
    /// Part of the previous round.
    pub previous: bool,
}

/// A left-hand brace: the process sat blocked in a call.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockBrace {
    /// Top.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// "process blocks in call to recv".
    pub label: String,
    /// The call's name (`recv`), for drawing the label on two lines.
    pub call: &'static str,
    /// Part of the previous round.
    pub previous: bool,
}

/// The real time between two rows (or before the next step), shown at the left edge.
#[derive(Debug, Clone, PartialEq)]
pub struct GapLabel {
    /// Vertical position.
    pub y: f64,
    /// `+12.3 µs`, or `… 4.20 s (compressed)`.
    pub text: String,
    /// Playback shortened this gap.
    pub compressed: bool,
}

/// Everything the SVG draws.
#[derive(Debug, Clone, PartialEq)]
pub struct DiagramLayout {
    /// Steps, top to bottom.
    pub rows: Vec<Row>,
    /// Right-hand braces.
    pub phases: Vec<PhaseBrace>,
    /// Left-hand braces.
    pub blocks: Vec<BlockBrace>,
    /// Gap labels.
    pub gaps: Vec<GapLabel>,
    /// The current phase.
    pub phase: Phase,
    /// Index (into the steps) of the current step.
    pub current: Option<usize>,
    /// Where playback is between the current step and the next, if one is known.
    pub now_y: Option<f64>,
    /// SVG height.
    pub height: f64,
}

fn opens_round(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::AcceptEnter
            | EventKind::RecvEnter { .. }
            | EventKind::WaitEnter { .. }
            | EventKind::Submit { .. }
            | EventKind::SignalHandler { .. }
            | EventKind::Listen { .. }
    )
}

/// The latest round opener at or before `cur`, looking back at most `limit` steps.
fn round_start(steps: &[Rc<Event>], cur: usize, floor: usize) -> usize {
    (floor..=cur).rev().find(|&i| opens_round(&steps[i].kind)).unwrap_or(floor)
}

/// Lays the diagram out for the steps of one model, playback being at `pos`.
pub fn layout(steps: &[Rc<Event>], pos: Option<Position>, speed: f64, lang: Lang) -> DiagramLayout {
    let empty = DiagramLayout {
        rows: Vec::new(),
        phases: Vec::new(),
        blocks: Vec::new(),
        gaps: Vec::new(),
        phase: Phase::Idle,
        current: None,
        now_y: None,
        height: TOP + ROW_H,
    };
    let Some(pos) = pos.filter(|_| !steps.is_empty()) else { return empty };
    let cur = pos.index.min(steps.len() - 1);
    let floor = (cur + 1).saturating_sub(MAX_STEPS);
    let start = round_start(steps, cur, floor);
    let first = if start > floor { round_start(steps, start - 1, floor) } else { start };
    let y_of = |i: usize| TOP + (i - first) as f64 * ROW_H + ROW_H / 2.0;

    let rows: Vec<Row> = (first..=cur)
        .map(|i| {
            let (shape, label) = describe_step(&steps[i], lang);
            Row {
                index: i,
                seq: steps[i].seq,
                kind: steps[i].kind.name(),
                shape,
                label,
                thread: steps[i].thread.name.clone(),
                y: y_of(i),
                current: i == cur,
                previous: i < start,
            }
        })
        .collect();

    let now_y = pos.progress.filter(|_| cur + 1 < steps.len()).map(|p| y_of(cur) + p * ROW_H);
    // Where an unfinished brace ends: the moving "now" line, or just below the newest step.
    let open_end = now_y.unwrap_or(y_of(cur) + ROW_H * 0.6);

    let mut gaps: Vec<GapLabel> = (first + 1..=cur)
        .map(|i| {
            gap_label(steps[i - 1].t_ns, steps[i].t_ns, speed, (y_of(i - 1) + y_of(i)) / 2.0, lang)
        })
        .collect();
    if let Some(y) = now_y {
        let next = gap_label(steps[cur].t_ns, steps[cur + 1].t_ns, speed, y, lang);
        if next.compressed {
            gaps.push(next);
        }
    }

    let mut phases = Vec::new();
    let mut blocks = Vec::new();
    for r in first..=cur {
        let previous = r < start;
        let enter_kind = &steps[r].kind;
        let Some(call) = blocking_call_name(enter_kind) else { continue };
        // The matching return, searched in all steps (it may not have played yet).
        let exit = (r + 1..steps.len())
            .take_while(|&i| !opens_round(&steps[i].kind) || i == r)
            .find(|&i| returns_from(&steps[i].kind, enter_kind));
        let exit_played = exit.filter(|&i| i <= cur);
        let would_block = exit.is_some_and(|i| returned_would_block(&steps[i].kind));
        if !would_block {
            blocks.push(BlockBrace {
                y0: y_of(r),
                y1: exit_played.map_or(open_end, y_of),
                label: format!("{} {call}", t(lang, Key::ProcessBlocksIn)),
                call,
                previous,
            });
        }
        if let EventKind::RecvEnter { .. } = enter_kind {
            let (wait_ns, copy_ns) = match exit.map(|i| &steps[i].kind) {
                Some(EventKind::RecvExit { wait_ns, copy_ns, .. }) => (*wait_ns, *copy_ns),
                _ => (None, None),
            };
            let arrived = (r + 1..=cur)
                .take_while(|&i| exit_played.is_none_or(|x| i <= x))
                .find(|&i| matches!(steps[i].kind, EventKind::DataArrived { .. }));
            let wait_end = arrived.or(exit_played);
            let wait_label = match (wait_end, wait_ns) {
                (None, _) => t(lang, Key::StillWaiting).to_owned(),
                (Some(_), Some(0)) => format!("0 ns — {}", t(lang, Key::DataAlreadyThere)),
                (Some(_), Some(ns)) => format_duration(ns),
                (Some(a), None) if arrived == Some(a) => {
                    format_duration(steps[a].t_ns.saturating_sub(steps[r].t_ns))
                }
                (Some(_), None) => t(lang, Key::Unknown).to_owned(),
            };
            phases.push(PhaseBrace {
                phase: Phase::Wait,
                y0: y_of(r),
                y1: wait_end.map_or(open_end, y_of),
                title: t(lang, Key::WaitForData),
                label: wait_label,
                in_progress: wait_end.is_none(),
                previous,
            });
            if let Some(a) = arrived {
                let label = match (exit_played, copy_ns) {
                    (None, _) => t(lang, Key::StillCopying).to_owned(),
                    (Some(_), Some(ns)) => format_duration(ns),
                    (Some(_), None) => t(lang, Key::Unknown).to_owned(),
                };
                phases.push(PhaseBrace {
                    phase: Phase::Copy,
                    y0: y_of(a),
                    y1: exit_played.map_or(open_end, y_of),
                    title: t(lang, Key::CopyData),
                    label,
                    in_progress: exit_played.is_none(),
                    previous,
                });
            }
        }
    }

    DiagramLayout {
        phase: current_phase(&steps[start..=cur]),
        current: Some(cur),
        height: y_of(cur) + ROW_H * 1.5,
        rows,
        phases,
        blocks,
        gaps,
        now_y,
    }
}

/// The phase of the latest `recv` of the current round.
fn current_phase(round: &[Rc<Event>]) -> Phase {
    let Some(r) = round.iter().rposition(|e| matches!(e.kind, EventKind::RecvEnter { .. })) else {
        return Phase::Idle;
    };
    let after = &round[r + 1..];
    if after.iter().any(|e| matches!(e.kind, EventKind::RecvExit { .. })) {
        Phase::Done
    } else if after.iter().any(|e| matches!(e.kind, EventKind::DataArrived { .. })) {
        Phase::Copy
    } else {
        Phase::Wait
    }
}

fn gap_label(from: u64, to: u64, speed: f64, y: f64, lang: Lang) -> GapLabel {
    let (_, compressed) = screen_gap_ms(to.saturating_sub(from), speed);
    let text = if compressed {
        format!("… {} ({})", format_duration(to - from), t(lang, Key::Compressed))
    } else {
        format_delta(from, to)
    };
    GapLabel { y, text, compressed }
}

/// The calls a process can sit blocked in, by their enter event.
fn blocking_call_name(kind: &EventKind) -> Option<&'static str> {
    match kind {
        EventKind::AcceptEnter => Some("accept"),
        EventKind::RecvEnter { .. } => Some("recv"),
        EventKind::WaitEnter { api, .. } => Some(api_name(*api)),
        _ => None,
    }
}

fn returns_from(exit: &EventKind, enter: &EventKind) -> bool {
    matches!(
        (enter, exit),
        (EventKind::AcceptEnter, EventKind::AcceptExit { .. })
            | (EventKind::RecvEnter { .. }, EventKind::RecvExit { .. })
            | (EventKind::WaitEnter { .. }, EventKind::WaitReturned { .. })
    )
}

/// A non-blocking call that found nothing to do did not block.
fn returned_would_block(kind: &EventKind) -> bool {
    match kind {
        EventKind::RecvExit { outcome: RecvOutcome::WouldBlock, .. } => true,
        EventKind::AcceptExit { error: Some(e), .. } => {
            e.errno == "EAGAIN" || e.errno == "EWOULDBLOCK"
        }
        _ => false,
    }
}

fn api_name(api: WaitApi) -> &'static str {
    match api {
        WaitApi::Select => "select",
        WaitApi::Poll => "poll",
        WaitApi::Epoll => "epoll_wait",
        WaitApi::EpollEt => "epoll_wait (ET)",
    }
}

fn signal_name(signo: i32) -> String {
    match signo {
        29 => "SIGIO".into(),
        10 => "SIGUSR1".into(),
        12 => "SIGUSR2".into(),
        n => format!("signal {n}"),
    }
}

/// Payload previews on one line: a newline shows as ⏎.
fn preview(text: &str) -> String {
    text.replace('\n', "⏎").replace('\r', "")
}

fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::PeerClosed => "peer closed",
        CloseReason::Reset => "reset",
        CloseReason::Error => "error",
        CloseReason::Refused => "refused",
        CloseReason::Stopped => "model stopped",
    }
}

/// How a step is drawn and what its arrow says. System call names stay as in the man pages;
/// the words around them follow the language.
pub fn describe_step(event: &Event, lang: Lang) -> (Shape, String) {
    let zh = lang == Lang::Zh;
    let ret = if zh { "返回" } else { "return" };
    let bytes = if zh { "字节" } else { "bytes" };
    match &event.kind {
        EventKind::Listen { addr, backlog } => {
            (Shape::Call, format!("listen({addr}, backlog {backlog})"))
        }
        EventKind::Stopped { reason } => {
            (Shape::AppNote, format!("{}: {reason}", if zh { "已停止" } else { "stopped" }))
        }
        EventKind::ThreadSpawned => (
            Shape::AppNote,
            format!("{} {}", if zh { "线程启动" } else { "thread started:" }, event.thread.name),
        ),
        EventKind::ThreadExited => (
            Shape::AppNote,
            format!("{} {}", if zh { "线程结束" } else { "thread exited:" }, event.thread.name),
        ),
        EventKind::ThreadBlocked { on } => (
            Shape::AppNote,
            if zh { format!("线程在 {on} 中睡眠") } else { format!("thread sleeps in {on}") },
        ),
        EventKind::ThreadWoken { by } => (
            Shape::KernelNote,
            if zh { format!("唤醒线程({by})") } else { format!("wakes the thread ({by})") },
        ),
        EventKind::AcceptEnter => (Shape::Call, "accept()".into()),
        EventKind::AcceptExit { fd, peer, error } => match (fd, error) {
            (_, Some(e)) => (Shape::Return, format!("{ret} {}", e.errno)),
            (fd, None) => (
                Shape::Return,
                format!(
                    "{ret} fd {} ← {}",
                    fd.map_or("?".into(), |f| f.to_string()),
                    peer.as_deref().unwrap_or("?")
                ),
            ),
        },
        EventKind::Backlog { queued, max } => (
            Shape::KernelNote,
            if zh {
                format!("监听队列:{queued} 个等待(最多 {max})")
            } else {
                format!("listen backlog: {queued} waiting (max {max})")
            },
        ),
        EventKind::RecvEnter { fd, len } => (Shape::Call, format!("recv(fd {fd}, {len})")),
        EventKind::DataArrived { .. } => (Shape::KernelNote, t(lang, Key::DataArrived).to_owned()),
        EventKind::RecvExit { outcome, .. } => (
            Shape::Return,
            match outcome {
                RecvOutcome::Data { bytes: n, preview: p } => {
                    format!("{ret} {n} {bytes} \"{}\"", preview(p))
                }
                RecvOutcome::Eof => {
                    format!("{ret} 0 ({})", if zh { "对端关闭" } else { "peer closed" })
                }
                RecvOutcome::WouldBlock => format!("{ret} EAGAIN"),
                RecvOutcome::Error(e) => format!("{ret} {}", e.errno),
            },
        ),
        EventKind::SendEnter { fd, bytes: n } => {
            (Shape::Call, format!("send(fd {fd}, {n} {bytes})"))
        }
        EventKind::SendExit { outcome, .. } => (
            Shape::Return,
            match outcome {
                SendOutcome::Sent { bytes: n } => format!("{ret} {n} {bytes}"),
                SendOutcome::WouldBlock => format!("{ret} EAGAIN"),
                SendOutcome::Error(e) => format!("{ret} {}", e.errno),
            },
        ),
        EventKind::Close { fd, reason } => {
            (Shape::Call, format!("close(fd {fd}) — {}", close_reason(*reason)))
        }
        EventKind::Refused { reason } => {
            (Shape::AppNote, format!("{}: {reason}", if zh { "拒绝连接" } else { "refused" }))
        }
        EventKind::WaitEnter { api, watched } => {
            (Shape::Call, format!("{}({} fds)", api_name(*api), watched.len()))
        }
        EventKind::WaitReturned { ready, scanned, .. } => (
            Shape::Return,
            if zh {
                format!("{ret} {} 个就绪(扫描 {scanned})", ready.len())
            } else {
                format!("{ret} {} ready (scanned {scanned})", ready.len())
            },
        ),
        EventKind::SignalHandler { signo } => {
            (Shape::Call, format!("sigaction({})", signal_name(*signo)))
        }
        EventKind::SignalDelivered { signo, .. } => (
            Shape::Return,
            format!("{} {}", if zh { "递送" } else { "deliver" }, signal_name(*signo)),
        ),
        EventKind::Submit { op, fd } => (Shape::Call, format!("submit {op}(fd {fd})")),
        EventKind::Complete { op, fd, result } => {
            (Shape::Return, format!("complete {op}(fd {fd}) = {result}"))
        }
        EventKind::WouldBlockBurst { call, count } => {
            (Shape::Return, format!("{count} × {call} → EAGAIN"))
        }
        EventKind::WorkDone { units } => (
            Shape::AppNote,
            if zh {
                format!("进程继续执行:{units} 单位工作")
            } else {
                format!("process continues executing: {units} units of work")
            },
        ),
        EventKind::EpollCtl { op, fd, events, error } => (
            Shape::Call,
            match error {
                None => format!("epoll_ctl({}, fd {fd}, {events})", op.to_uppercase()),
                Some(e) => format!("epoll_ctl({}, fd {fd}) → {}", op.to_uppercase(), e.errno),
            },
        ),
        EventKind::Register { fd, interest, callback } => (
            Shape::AppNote,
            if zh {
                format!("注册 fd {fd}:{interest} → {callback}()")
            } else {
                format!("register fd {fd}: {interest} → {callback}()")
            },
        ),
        EventKind::Unregister { fd } => {
            (Shape::AppNote, format!("{} fd {fd}", if zh { "注销" } else { "unregister" }))
        }
        EventKind::Callback { name, fd } => (
            Shape::AppNote,
            if zh {
                format!("调用回调 {name}(fd {fd})")
            } else {
                format!("call {name}(fd {fd})")
            },
        ),
        // Not diagram steps (filtered out before layout); drawn generically if they get here.
        other => (Shape::AppNote, other.name().to_owned()),
    }
}

/// An SVG path for a curly brace from `y0` to `y1` at `x`, its tip pointing `width` to the
/// right (negative: to the left). Short spans get a flatter brace instead of a crossed one.
pub fn brace_path(x: f64, y0: f64, y1: f64, width: f64) -> String {
    let (y0, y1) = if y1 < y0 { (y1, y0) } else { (y0, y1) };
    let r = ((y1 - y0) / 4.0).min(10.0);
    let mid = (y0 + y1) / 2.0;
    let w = width / 2.0;
    format!(
        "M {x:.1} {y0:.1} Q {xa:.1} {y0:.1} {xa:.1} {ya:.1} L {xa:.1} {yb:.1} Q {xa:.1} {mid:.1} {xt:.1} {mid:.1} \
         Q {xa:.1} {mid:.1} {xa:.1} {yc:.1} L {xa:.1} {yd:.1} Q {xa:.1} {y1:.1} {x:.1} {y1:.1}",
        xa = x + w,
        xt = x + width,
        ya = y0 + r,
        yb = mid - r,
        yc = mid + r,
        yd = y1 - r,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::ThreadRef;

    fn ev(seq: u64, t_us: u64, kind: EventKind) -> Rc<Event> {
        Rc::new(Event {
            seq,
            t_ns: t_us * 1_000,
            model: "blocking".into(),
            thread: ThreadRef { id: 1, name: "blocking".into() },
            conn: Some(1),
            kind,
        })
    }

    /// accept, then one echo round: a line typed 2 s after `recv` was entered.
    fn round() -> Vec<Rc<Event>> {
        vec![
            ev(1, 0, EventKind::AcceptEnter),
            ev(
                2,
                10,
                EventKind::AcceptExit {
                    fd: Some(5),
                    peer: Some("127.0.0.1:4000".into()),
                    error: None,
                },
            ),
            ev(3, 20, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(4, 2_000_020, EventKind::DataArrived { fd: 5 }),
            ev(
                5,
                2_000_045,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
                    wait_ns: Some(2_000_000_000),
                    copy_ns: Some(25_000),
                },
            ),
            ev(6, 2_000_050, EventKind::SendEnter { fd: 5, bytes: 6 }),
            ev(
                7,
                2_000_060,
                EventKind::SendExit { fd: 5, outcome: SendOutcome::Sent { bytes: 6 } },
            ),
            ev(8, 2_000_070, EventKind::RecvEnter { fd: 5, len: 1024 }),
        ]
    }

    fn at(index: usize) -> Option<Position> {
        Some(Position { index, progress: None })
    }

    #[test]
    fn test_phases_follow_recv() {
        let s = round();
        assert_eq!(layout(&s, at(1), 1e-4, Lang::En).phase, Phase::Idle);
        assert_eq!(layout(&s, at(2), 1e-4, Lang::En).phase, Phase::Wait);
        assert_eq!(layout(&s, at(3), 1e-4, Lang::En).phase, Phase::Copy);
        assert_eq!(layout(&s, at(4), 1e-4, Lang::En).phase, Phase::Done);
        assert_eq!(layout(&s, at(6), 1e-4, Lang::En).phase, Phase::Done);
        assert_eq!(layout(&s, at(7), 1e-4, Lang::En).phase, Phase::Wait);
    }

    #[test]
    fn test_braces_carry_measured_durations() {
        let d = layout(&round(), at(6), 1e-4, Lang::En);
        let wait = d.phases.iter().find(|p| p.phase == Phase::Wait).unwrap();
        let copy = d.phases.iter().find(|p| p.phase == Phase::Copy).unwrap();
        assert_eq!(wait.label, "2.00 s");
        assert_eq!(copy.label, "25.0 µs");
        assert!(!wait.in_progress && !copy.in_progress);
        assert!(wait.y0 < wait.y1 && wait.y1 <= copy.y0 && copy.y0 < copy.y1);
        assert_eq!(d.blocks.iter().filter(|b| b.label.ends_with("recv")).count(), 1);
    }

    #[test]
    fn test_phase_in_progress_says_so() {
        let d = layout(&round(), at(2), 1e-4, Lang::En);
        let wait = d.phases.iter().find(|p| p.phase == Phase::Wait).unwrap();
        assert!(wait.in_progress);
        assert_eq!(wait.label, "waiting…");
        assert!(d.phases.iter().all(|p| p.phase != Phase::Copy));
    }

    #[test]
    fn test_window_is_previous_round_plus_current() {
        let s = round();
        let d = layout(&s, at(7), 1e-4, Lang::En);
        let kinds: Vec<_> = d.rows.iter().map(|r| (r.kind, r.previous)).collect();
        assert_eq!(kinds.first(), Some(&("recv_enter", true)));
        assert_eq!(kinds.last(), Some(&("recv_enter", false)));
        assert_eq!(d.rows.iter().filter(|r| r.current).count(), 1);
        assert_eq!(d.current, Some(7));
    }

    #[test]
    fn test_long_gap_is_labelled_compressed() {
        let d = layout(&round(), at(3), 1e-4, Lang::En);
        let g = d.gaps.iter().find(|g| g.compressed).expect("the 2 s gap is compressed");
        assert_eq!(g.text, "… 2.00 s (compressed)");
        let d = layout(&round(), Some(Position { index: 2, progress: Some(0.5) }), 1e-4, Lang::En);
        assert!(d.now_y.is_some());
        assert!(d.gaps.iter().any(|g| g.compressed), "the gap being played says compressed");
    }

    #[test]
    fn test_data_already_there_and_unknown_kinds() {
        let s = vec![
            ev(1, 100, EventKind::RecvEnter { fd: 5, len: 10 }),
            ev(2, 90, EventKind::DataArrived { fd: 5 }),
            ev(
                3,
                105,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::Eof,
                    wait_ns: Some(0),
                    copy_ns: None,
                },
            ),
            ev(4, 106, EventKind::Submit { op: "recv".into(), fd: 5 }),
            ev(5, 107, EventKind::Complete { op: "recv".into(), fd: 5, result: 3 }),
        ];
        let d = layout(&s, at(2), 1e-4, Lang::En);
        let wait = d.phases.iter().find(|p| p.phase == Phase::Wait).unwrap();
        assert!(wait.label.starts_with("0 ns"), "{}", wait.label);
        let copy = d.phases.iter().find(|p| p.phase == Phase::Copy).unwrap();
        assert_eq!(copy.label, "not measured");
        let d = layout(&s, at(4), 1e-4, Lang::En);
        assert_eq!(d.rows.last().unwrap().kind, "complete");
        assert_eq!(d.phase, Phase::Idle);
    }

    #[test]
    fn test_brace_path_spans_its_range() {
        let p = brace_path(10.0, 100.0, 200.0, 20.0);
        assert!(p.starts_with("M 10.0 100.0"), "{p}");
        assert!(p.ends_with("10.0 200.0"), "{p}");
        assert!(p.contains("30.0 150.0"), "tip at the middle: {p}");
    }

    #[test]
    fn test_empty_is_idle() {
        let d = layout(&[], None, 1e-4, Lang::En);
        assert!(d.rows.is_empty());
        assert_eq!(d.phase, Phase::Idle);
    }
}
