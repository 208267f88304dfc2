//! Fig. 6.6, measured: one line sent through one client on each of several models at once,
//! their figures side by side on one time axis.
//!
//! Time runs down from the moment the relay sent the line (`client_sent`, 0 on the axis)
//! to the moment the reply came back (`client_received`). Each column shows, for its model,
//! where the application's thread was blocked (the bar on the left, named after the call)
//! and the two phases of that line's input on the right, with their measured durations.
//! Stevens' point appears as measured: the first four models differ in phase 1 (blocked in
//! `recv`, spinning, blocked in `select`, free until the signal) and are alike in phase 2
//! (the thread copies); with io_uring the kernel does both. Phase 1 usually started long
//! before the line was sent (the server was already waiting): it is cut at the top of the
//! axis and says since when.

use std::collections::VecDeque;
use std::rc::Rc;

use kettle_shared::{Event, EventKind};

use super::layout::{text_width, wrap, FONT_MIN};
use super::Figure;
use crate::format::format_duration;
use crate::i18n::{t, tf, Key, Lang};
use crate::store::ModelStore;
use crate::timeline::{self, Phase};

/// What the comparison knows of one model's client.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The model.
    pub model: &'a str,
    /// The echo client the line went through.
    pub client: u32,
    /// The model's connection for that client, once accepted.
    pub conn: Option<u64>,
    /// The model's events.
    pub store: Option<&'a ModelStore>,
    /// The relay's events (`client_sent`, `client_received`).
    pub relay: Option<&'a ModelStore>,
}

/// One model's line, measured (absolute nanoseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The relay sent the line.
    pub sent: u64,
    /// The reply came back.
    pub reply: Option<u64>,
    /// Where the serving thread slept: (from, to, call).
    pub blocked: Vec<(u64, u64, String)>,
    /// The phases of this line's input: (phase, from, to, ns, app blocked).
    pub phases: Vec<(Phase, u64, u64, Option<u64>, bool)>,
}

/// Measures one model's handling of the line from the recorded events.
pub fn measure(input: &Input<'_>) -> Option<Measured> {
    let relay = input.relay?.events();
    let sent = relay.iter().rev().find_map(|e| match e.kind {
        EventKind::ClientSent { client, .. } if client == input.client => Some(e.t_ns),
        _ => None,
    })?;
    let reply = relay.iter().find_map(|e| match e.kind {
        EventKind::ClientReceived { client, .. } if client == input.client && e.t_ns >= sent => {
            Some(e.t_ns)
        }
        _ => None,
    });
    let conn = input.conn?;
    let events = input.store?.events();
    let end = reply.unwrap_or(u64::MAX);
    let serving: Vec<u32> = events
        .iter()
        .filter(|e| e.conn == Some(conn))
        .map(|e| e.thread.id)
        .fold(Vec::new(), |mut v, t| {
            if !v.contains(&t) {
                v.push(t);
            }
            v
        });
    let ours = |e: &Rc<Event>| {
        e.conn == Some(conn) || (e.conn.is_none() && serving.contains(&e.thread.id))
    };
    // From the last thing this connection and its threads did before the line was sent.
    let before = |pick: &dyn Fn(&Rc<Event>) -> bool| {
        events.iter().rposition(|e| e.t_ns < sent && ours(e) && pick(e))
    };
    let start = [before(&|e| e.conn == Some(conn)), before(&|e| e.conn.is_none())]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0);
    let subset: VecDeque<Rc<Event>> =
        events.range(start..).filter(|e| ours(e) && e.t_ns <= end).cloned().collect();
    let mut store = ModelStore::default();
    store.extend(subset);
    let steps = &store.steps().list;
    let t = |i: usize| steps[i].event.t_ns;
    let pairs = timeline::pairs(steps);
    let phases = timeline::phases(Figure::of_model(input.model), steps, &pairs)
        .into_iter()
        .filter_map(|p| {
            let to = p.to?;
            (t(to) >= sent).then(|| (p.phase, t(p.from), t(to), p.ns, p.app_blocked))
        })
        .collect();
    let blocked = pairs
        .iter()
        .filter(|p| p.sleeps(steps))
        .filter_map(|p| {
            let to = p.end().map_or(end, t);
            (to >= sent && t(p.enter) <= end).then(|| (t(p.enter), to.min(end), p.name.clone()))
        })
        .collect();
    Some(Measured { sent, reply, blocked, phases })
}

/// One model's column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The model.
    pub model: String,
    /// Its figure.
    pub figure: Figure,
    /// Left.
    pub x: f64,
    /// Width.
    pub w: f64,
    /// The title (the model's id).
    pub title: String,
    /// The application's blocked spans: top, bottom, call, cut at the top.
    pub blocked: Vec<(f64, f64, String, bool)>,
    /// Phases: phase, top, bottom, measured ns, label, title, "since" label when cut.
    pub phases: Vec<ComparePhase>,
    /// The reply: y and its label.
    pub reply: Option<(f64, String)>,
    /// Why nothing is drawn.
    pub note: Option<String>,
}

/// A phase in a column.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparePhase {
    /// Which phase.
    pub phase: Phase,
    /// Top.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// Measured duration (`data-ns`).
    pub ns: Option<u64>,
    /// The duration's text.
    pub label: String,
    /// Started before the axis: how long before the line was sent.
    pub since: Option<String>,
}

/// The comparison figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareLayout {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Where the line was sent.
    pub zero_y: f64,
    /// Axis labels: y and text.
    pub axis: Vec<(f64, String)>,
    /// The columns.
    pub columns: Vec<Column>,
}

/// The comparison's left axis.
pub const AXIS_W: f64 = 92.0;
const TOP: f64 = 56.0;
const PLOT_H: f64 = 330.0;

/// Lays the comparison out.
pub fn layout(inputs: &[Input<'_>], width: f64, lang: Lang) -> CompareLayout {
    let measured: Vec<Option<Measured>> = inputs.iter().map(measure).collect();
    let sent_of = |m: &Measured| m.sent;
    // Each model on its own clock origin: 0 is the moment its line was sent.
    let span = measured
        .iter()
        .flatten()
        .map(|m| {
            let last = m.reply.unwrap_or_else(|| {
                m.phases
                    .iter()
                    .map(|p| p.2)
                    .chain(m.blocked.iter().map(|b| b.1))
                    .max()
                    .unwrap_or(m.sent)
            });
            last.saturating_sub(sent_of(m))
        })
        .max()
        .unwrap_or(0)
        .max(1_000);
    let pre = (span as f64 * 0.35) as u64;
    let total = (span + pre) as f64 * 1.08;
    let y_of = |rel: i64| TOP + ((rel + pre as i64) as f64 / total) * PLOT_H;
    let zero_y = y_of(0);
    let n = inputs.len().max(1) as f64;
    let col_w = ((width - AXIS_W) / n).max(120.0);
    let columns = inputs
        .iter()
        .zip(&measured)
        .enumerate()
        .map(|(i, (input, m))| {
            let x = AXIS_W + i as f64 * col_w;
            let mut col = Column {
                model: input.model.to_owned(),
                figure: Figure::of_model(input.model),
                x,
                w: col_w,
                title: wrap(input.model, col_w - 12.0, FONT_MIN + 1.0, 1).join(""),
                blocked: Vec::new(),
                phases: Vec::new(),
                reply: None,
                note: None,
            };
            let Some(m) = m else {
                col.note = Some(t(lang, Key::CompareWaiting).into());
                return col;
            };
            let rel = |abs: u64| abs as i64 - m.sent as i64;
            let clamp = |abs: u64| y_of(rel(abs).max(-(pre as i64)));
            for (from, to, call) in &m.blocked {
                col.blocked.push((
                    clamp(*from),
                    clamp(*to),
                    call.clone(),
                    rel(*from) < -(pre as i64),
                ));
            }
            for &(phase, from, to, ns, _) in &m.phases {
                let cut = rel(from) < -(pre as i64);
                col.phases.push(ComparePhase {
                    phase,
                    y0: clamp(from),
                    y1: clamp(to).max(clamp(from) + 2.0),
                    ns,
                    label: match ns {
                        Some(0) => t(lang, Key::AlreadyThere).into(),
                        Some(ns) => format_duration(ns),
                        None => t(lang, Key::Unknown).into(),
                    },
                    since: cut.then(|| {
                        let text =
                            tf(lang, Key::CompareBefore, &[&format_duration((-rel(from)) as u64)]);
                        wrap(&text, col_w / 2.0 - 8.0, FONT_MIN, 2).join(" ")
                    }),
                });
            }
            if m.phases.is_empty() {
                col.note = Some(t(lang, Key::CompareNoData).into());
            }
            col.reply = m.reply.map(|r| {
                let text =
                    tf(lang, Key::CompareReply, &[&format!("+{}", format_duration(r - m.sent))]);
                (y_of(rel(r)), wrap(&text, col_w - 10.0, FONT_MIN, 1).join(""))
            });
            col
        })
        .collect();
    let mut axis = vec![(zero_y, "0".to_owned())];
    for k in 1..=3 {
        let rel = span as f64 * k as f64 / 3.0;
        axis.push((y_of(rel as i64), format!("+{}", format_duration(rel as u64))));
    }
    let _ = text_width;
    CompareLayout { width, height: TOP + PLOT_H + 40.0, zero_y, axis, columns }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::ev;
    use kettle_shared::RecvOutcome;

    fn store(events: Vec<Rc<Event>>) -> ModelStore {
        let mut s = ModelStore::default();
        s.extend(events);
        s
    }

    fn on_conn(mut e: Rc<Event>, conn: Option<u64>) -> Rc<Event> {
        Rc::make_mut(&mut e).conn = conn;
        e
    }

    #[test]
    fn test_blocking_line_measured_from_the_relay_send_to_the_reply() {
        let relay = store(vec![
            ev(10, 1_000_000, 50, EventKind::ClientSent { client: 3, bytes: 3 }),
            ev(20, 1_090_000, 50, EventKind::ClientReceived { client: 3, bytes: 3 }),
        ]);
        let model = store(vec![
            on_conn(ev(1, 100, 1, EventKind::RecvEnter { fd: 5, len: 1024 }), Some(1)),
            on_conn(ev(11, 1_020_000, 1, EventKind::DataArrived { fd: 5 }), Some(1)),
            on_conn(
                ev(
                    12,
                    1_050_000,
                    1,
                    EventKind::RecvExit {
                        fd: 5,
                        outcome: RecvOutcome::Data { bytes: 3, preview: "hi\n".into() },
                        wait_ns: Some(1_019_900),
                        copy_ns: Some(30_000),
                    },
                ),
                Some(1),
            ),
        ]);
        let input = Input {
            model: "blocking",
            client: 3,
            conn: Some(1),
            store: Some(&model),
            relay: Some(&relay),
        };
        let m = measure(&input).unwrap();
        assert_eq!((m.sent, m.reply), (1_000_000, Some(1_090_000)));
        assert_eq!(m.phases.len(), 2);
        assert_eq!(m.phases[0].3, Some(1_019_900));
        assert_eq!(m.blocked, [(100, 1_050_000, "recv".to_string())]);
        let l = layout(&[input], 600.0, Lang::En);
        let col = &l.columns[0];
        assert_eq!(col.figure.number(), "6.1");
        assert!(col.phases[0].since.is_some(), "phase 1 began long before the line was sent");
        assert!(col.blocked[0].3, "the recv began before the axis");
        assert!(col.reply.as_ref().unwrap().1.contains("90.0 µs"));
    }

    #[test]
    fn test_a_model_without_a_reply_yet_says_it_is_waiting() {
        let input = Input { model: "select", client: 1, conn: None, store: None, relay: None };
        let l = layout(&[input], 600.0, Lang::En);
        assert_eq!(l.columns[0].note.as_deref(), Some("waiting for the replies…"));
    }
}
