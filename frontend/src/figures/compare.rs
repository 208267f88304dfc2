//! Fig. 6.6, measured: one line sent through one client on each of several models at once,
//! their figures side by side on one time axis.
//!
//! Every column's 0 is the moment the line reached that model's socket — the kernel's receive
//! timestamp, the end of phase 1 — so the columns line up where Stevens' do: above 0 is phase
//! 1, *wait for data*; below it phase 2, *copy to user*, then the reply. (Not the relay's
//! send: a fast server has often copied and answered the line before the relay's own send
//! call has returned and been recorded.) Each column shows where the serving thread was
//! blocked (the bar on the left, named after the call) and the two phases on the right with
//! their measured durations. Stevens' point appears as measured: the first models differ in
//! phase 1 (blocked in `recv`, blocked in `select`, free until the signal) and are alike in
//! phase 2 (the thread copies); with io_uring the kernel does both. Phase 1 usually began long
//! before (the server was already waiting). The axis is logarithmic on both sides of 0 —
//! hundreds of milliseconds of waiting and microseconds of copying are both readable — with
//! each measured duration written beside its bar.

use std::collections::VecDeque;
use std::rc::Rc;

use kettle_shared::{Event, EventKind, Family, RecvOutcome};

use super::layout::{fit, FONT_MIN};
use crate::format::format_duration;
use crate::i18n::{t, tf, Key, Lang};
use crate::store::ModelStore;
use crate::timeline::{self, Phase};

/// What the comparison knows of one model's client.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// The model.
    pub model: &'a str,
    /// The figure it is drawn as ([`crate::state::family_of`]); `None` for a traced program
    /// not recognised yet, whose column has no phases (where phase 1 starts is a figure's
    /// lesson) but still shows where its thread was blocked.
    pub figure: Option<Family>,
    /// The echo client the line went through.
    pub client: u32,
    /// The model's connection for that client, once accepted.
    pub conn: Option<u64>,
    /// The model's events, with the relay's (`client_sent`, `client_received`) for its clients.
    pub store: Option<&'a ModelStore>,
}

/// One model's line, measured (absolute nanoseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The line reached the server's socket (the kernel's stamp), or — where no stamp exists
    /// (glibc's aio reads with `read`) — the read completed.
    pub origin: u64,
    /// The reply came back to the relay.
    pub reply: u64,
    /// Where the serving thread slept: (from, to, call).
    pub blocked: Vec<(u64, u64, String)>,
    /// The phases of this line's input: (phase, from, to, ns, app blocked).
    pub phases: Vec<(Phase, u64, u64, Option<u64>, bool)>,
}

/// A step that returned data to the application (the input the line was).
fn returns_data(kind: &EventKind) -> bool {
    match kind {
        EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. } => true,
        EventKind::Complete { op, result, .. } => *result > 0 && op.reads_data(),
        _ => false,
    }
}

/// Measures one model's handling of the line from the recorded events; `None` until its
/// reply came back.
pub fn measure(input: &Input<'_>) -> Option<Measured> {
    let events = input.store?.events();
    let conn = input.conn?;
    let reply = events.iter().rev().find_map(|e| match e.kind {
        EventKind::ClientReceived { client, .. } if client == input.client => Some(e.t_ns),
        _ => None,
    })?;
    let on_conn = |e: &Rc<Event>| e.conn == Some(conn);
    // The input that returned the line, and the data's arrival (after the previous input).
    let got =
        events.iter().rposition(|e| on_conn(e) && e.t_ns <= reply && returns_data(&e.kind))?;
    let previous = events.range(..got).rposition(|e| on_conn(e) && returns_data(&e.kind));
    let arrival = events
        .range(..got)
        .enumerate()
        .rev()
        .take_while(|&(i, _)| previous.is_none_or(|p| i > p))
        .find(|(_, e)| on_conn(e) && matches!(e.kind, EventKind::DataArrived { .. }))
        .map(|(_, e)| e.t_ns);
    let origin = arrival.unwrap_or(events[got].t_ns);
    let serving: Vec<u32> =
        events.iter().filter(|e| on_conn(e)).map(|e| e.thread.id).fold(Vec::new(), |mut v, t| {
            if !v.contains(&t) {
                v.push(t);
            }
            v
        });
    let ours = |e: &Rc<Event>| on_conn(e) || (e.conn.is_none() && serving.contains(&e.thread.id));
    // From the calls the serving thread was in when the data came: the last call this
    // connection entered (or the recv that last drained it, where phase 1 starts for the busy
    // loop and sigio), and the last readiness call or io_uring_enter of its threads.
    let before = |pick: &dyn Fn(&Rc<Event>) -> bool| {
        events.iter().rposition(|e| e.t_ns < origin && ours(e) && pick(e))
    };
    let start = [
        before(&|e| on_conn(e) && (enters_call(&e.kind) || drains(&e.kind))),
        before(&|e| e.conn.is_none() && enters_call(&e.kind)),
    ]
    .into_iter()
    .flatten()
    .min()
    .unwrap_or(0);
    let subset: VecDeque<Rc<Event>> =
        events.range(start..).filter(|e| ours(e) && e.t_ns <= reply).cloned().collect();
    let mut store = ModelStore::default();
    store.extend(subset);
    let steps = &store.steps().list;
    let t = |i: usize| steps[i].event.t_ns;
    let pairs = timeline::pairs(steps);
    // The phases of this line: those ending after the first step (a span ending there is the
    // previous line's copy).
    let phases = input
        .figure
        .map(|figure| timeline::phases(figure, steps, &pairs))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| {
            let to = p.to.filter(|&to| to > 0)?;
            Some((p.phase, t(p.from), t(to), p.ns, p.app_blocked))
        })
        .collect();
    let blocked = pairs
        .iter()
        .filter(|p| p.sleeps(steps))
        .map(|p| (t(p.enter), p.end().map_or(reply, t).min(reply), p.name.clone()))
        .collect();
    Some(Measured { origin, reply, blocked, phases })
}

/// A step where a thread enters a call (or submits a request) that can span the line.
fn enters_call(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::RecvEnter { .. }
            | EventKind::AcceptEnter
            | EventKind::WaitEnter { .. }
            | EventKind::RingEnter { .. }
            | EventKind::Submit { .. }
            | EventKind::SeenInSyscall { .. }
    )
}

/// A recv that returned: the socket was drained, phase 1 of the next data starts.
fn drains(kind: &EventKind) -> bool {
    matches!(kind, EventKind::RecvExit { .. })
}

/// One model's column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The model.
    pub model: String,
    /// Its figure, if it has one yet.
    pub figure: Option<Family>,
    /// Left.
    pub x: f64,
    /// Width.
    pub w: f64,
    /// The title (the model's id).
    pub title: String,
    /// The application's blocked spans: top, bottom, call.
    pub blocked: Vec<(f64, f64, String)>,
    /// The phases.
    pub phases: Vec<ComparePhase>,
    /// The reply: y and its label.
    pub reply: Option<(f64, String)>,
    /// Where the reply's label sits.
    pub reply_label_y: f64,
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
    /// Where its label sits.
    pub label_y: f64,
    /// Measured duration (`data-ns`).
    pub ns: Option<u64>,
    /// The duration's text.
    pub label: String,
}

/// The comparison figure.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareLayout {
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// Where the line reached the sockets.
    pub zero_y: f64,
    /// Axis labels: y and text.
    pub axis: Vec<(f64, String)>,
    /// The columns.
    pub columns: Vec<Column>,
}

/// The comparison's left axis.
pub const AXIS_W: f64 = 92.0;
const TOP: f64 = 56.0;
const PLOT_H: f64 = 360.0;

/// Where a time relative to the origin is drawn: a logarithmic scale on each side of 0,
/// phase 1 above (in `pre` of the height), phase 2 and the reply below.
#[derive(Debug, Clone, Copy)]
struct Axis {
    zero_y: f64,
    above: f64,
    below: f64,
    pre_decades: f64,
    post_decades: f64,
}

/// Decades of a duration, counted from 100 ns (so 0 is at 0 and 100 ns at 0.3).
fn decades(ns: u64) -> f64 {
    (1.0 + ns as f64 / 100.0).log10()
}

impl Axis {
    fn y(&self, rel: i64) -> f64 {
        if rel >= 0 {
            self.zero_y + decades(rel as u64) / self.post_decades * self.below
        } else {
            self.zero_y - (decades(rel.unsigned_abs()) / self.pre_decades).min(1.0) * self.above
        }
    }
}

/// Lays the comparison out.
pub fn layout(inputs: &[Input<'_>], width: f64, lang: Lang) -> CompareLayout {
    let measured: Vec<Option<Measured>> = inputs.iter().map(measure).collect();
    // Every model on its own origin: 0 is when its line reached its socket.
    let post =
        measured.iter().flatten().map(|m| m.reply.saturating_sub(m.origin)).max().unwrap_or(0);
    let pre = measured
        .iter()
        .flatten()
        .flat_map(|m| m.phases.iter().map(move |p| m.origin.saturating_sub(p.1)))
        .max()
        .unwrap_or(0);
    let axis = Axis {
        zero_y: TOP + PLOT_H * 0.36,
        above: PLOT_H * 0.36,
        below: PLOT_H * 0.64,
        pre_decades: decades(pre).max(1.0),
        post_decades: decades(post).max(1.0),
    };
    let y_of = |rel: i64| axis.y(rel);
    let zero_y = axis.zero_y;
    let n = inputs.len().max(1) as f64;
    let col_w = ((width - AXIS_W) / n).max(120.0);
    let columns: Vec<Column> = inputs
        .iter()
        .zip(&measured)
        .enumerate()
        .map(|(i, (input, m))| {
            let x = AXIS_W + i as f64 * col_w;
            let mut col = Column {
                model: input.model.to_owned(),
                figure: input.figure,
                x,
                w: col_w,
                title: fit(input.model, col_w - 12.0, FONT_MIN + 1.0),
                blocked: Vec::new(),
                phases: Vec::new(),
                reply: None,
                reply_label_y: 0.0,
                note: None,
            };
            let Some(m) = m else {
                col.note = Some(fit(t(lang, Key::CompareWaiting), col_w - 16.0, FONT_MIN));
                return col;
            };
            let rel = |abs: u64| abs as i64 - m.origin as i64;
            for (from, to, call) in &m.blocked {
                col.blocked.push((y_of(rel(*from)), y_of(rel(*to)), call.clone()));
            }
            let mut label_end = f64::NEG_INFINITY;
            for &(phase, from, to, ns, _) in &m.phases {
                let (y0, y1) = (y_of(rel(from)), y_of(rel(to)).max(y_of(rel(from)) + 2.0));
                let label_y = ((y0 + y1) / 2.0 + 5.0).max(label_end + 18.0);
                label_end = label_y;
                col.phases.push(ComparePhase {
                    phase,
                    y0,
                    y1,
                    label_y,
                    ns,
                    label: match ns {
                        Some(0) => t(lang, Key::AlreadyThere).into(),
                        Some(ns) => format_duration(ns),
                        None => t(lang, Key::Unknown).into(),
                    },
                });
            }
            if m.phases.is_empty() {
                col.note = Some(fit(t(lang, Key::CompareNoData), col_w - 16.0, FONT_MIN));
            }
            let text = tf(
                lang,
                Key::CompareReply,
                &[&format!("+{}", format_duration(m.reply - m.origin))],
            );
            // Below the reply's line, and below the last phase label so they never meet; a
            // phase label sitting on the reply's line moves just above it.
            let reply_y = y_of(rel(m.reply));
            for p in &mut col.phases {
                if (p.label_y - 5.0 - reply_y).abs() < 12.0 {
                    p.label_y = reply_y - 7.0;
                }
            }
            let label_end = col.phases.iter().map(|p| p.label_y).fold(label_end, f64::max);
            col.reply = Some((reply_y, fit(&text, col_w - 10.0, FONT_MIN)));
            col.reply_label_y = (reply_y + 18.0).max(label_end + 20.0);
            col
        })
        .collect();
    // Ticks at whole decades that fit on each side.
    let mut ticks = vec![(zero_y, "0".to_owned())];
    let mut last_y = zero_y;
    for ns in [1_000u64, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000] {
        let y = axis.y(ns as i64);
        if ns <= post && y - last_y >= 20.0 {
            ticks.push((y, format!("+{}", format_duration(ns))));
            last_y = y;
        }
    }
    let mut last_y = zero_y;
    for ns in [1_000u64, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000] {
        let y = axis.y(-(ns as i64));
        if ns <= pre && last_y - y >= 20.0 {
            ticks.push((y, format!("-{}", format_duration(ns))));
            last_y = y;
        }
    }
    let height = columns.iter().map(|c| c.reply_label_y + 12.0).fold(TOP + PLOT_H + 40.0, f64::max);
    CompareLayout { width, height, zero_y, axis: ticks, columns }
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
    fn test_blocking_line_measured_from_its_arrival_to_the_reply() {
        let relayed = |e: Rc<Event>| on_conn(e, None);
        let model = store(vec![
            relayed(ev(10, 1_000_000, 50, EventKind::ClientSent { client: 3, bytes: 3 })),
            relayed(ev(20, 1_090_000, 50, EventKind::ClientReceived { client: 3, bytes: 3 })),
            on_conn(ev(1, 100, 1, EventKind::RecvEnter { fd: 5, len: 1024 }), Some(1)),
            // The kernel stamps the data's arrival before the relay's send returns.
            on_conn(ev(11, 999_990, 1, EventKind::DataArrived { fd: 5, stamp: None }), Some(1)),
            on_conn(
                ev(
                    12,
                    1_050_000,
                    1,
                    EventKind::RecvExit {
                        fd: 5,
                        outcome: RecvOutcome::Data { bytes: 3, preview: "hi\n".into() },
                        wait_ns: Some(999_890),
                        copy_ns: Some(30_000),
                    },
                ),
                Some(1),
            ),
        ]);
        let input = Input {
            model: "blocking",
            figure: Some(Family::Blocking),
            client: 3,
            conn: Some(1),
            store: Some(&model),
        };
        let m = measure(&input).unwrap();
        assert_eq!((m.origin, m.reply), (999_990, 1_090_000), "0 is the data's arrival");
        assert_eq!(m.phases.len(), 2);
        assert_eq!(m.phases[0].3, Some(999_890));
        assert_eq!(m.blocked, [(100, 1_050_000, "recv".to_string())]);
        let l = layout(&[input], 600.0, Lang::En);
        let col = &l.columns[0];
        assert_eq!(col.figure, Some(Family::Blocking));
        assert!(
            col.phases[0].y0 < l.zero_y && col.phases[1].y0 >= l.zero_y - 0.5,
            "wait above 0, copy below"
        );
        assert!(col.reply_label_y > col.phases[1].label_y, "labels never meet");
        assert!(col.reply.as_ref().unwrap().1.contains("90.0 µs"), "{:?}", col.reply);
    }

    #[test]
    fn test_a_model_without_a_reply_yet_says_it_is_waiting() {
        let figure = Some(Family::Multiplex);
        let input = Input { model: "select", figure, client: 1, conn: None, store: None };
        let l = layout(&[input], 600.0, Lang::En);
        assert_eq!(l.columns[0].note.as_deref(), Some("waiting for the replies…"));
    }
}
