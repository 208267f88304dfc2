//! Where everything of a figure goes, in SVG user units, as pure data.
//!
//! The figure is drawn at one user unit per CSS pixel (divided by the presenter zoom), so the
//! font sizes here are what a student sees: nothing is smaller than [`FONT_MIN`]. Widths of
//! text are *estimated* ([`text_width`], generous on purpose) so labels are wrapped or placed
//! before they would run into each other or off the edge; the browser tests check the real
//! boxes.
//!
//! ```text
//!  ┌ panel: the kernel's (and user space's) objects at this step ───────────────────────┐
//!  │ listen backlog [waits] [waits]    receive buffers [fd 5: 6 B]                       │
//!  ├──────────────────────────────────────────────────────────────────────────────────────┤
//!  │ gap     lane: acceptor   lane: conn-1                kernel │ braces: phases       │
//!  │ +12 µs     │   recv(fd 5) ──────────────────────────────▶  │ ⎫ 2.00 s             │
//!  │            ┃ (asleep)                       data arrives ●  │ ⎭ wait for data      │
//!  │            ┃   ◀──────────────── return 6 bytes "hello⏎"   │ } 25 µs copy to user │
//!  └──────────────────────────────────────────────────────────────────────────────────────┘
//! ```

use kettle_shared::{EventKind, Family};

use super::{panel, Drawn, Item, Moment, Widget};
use crate::format::{format_delta, format_duration};
use crate::i18n::{t, tf, Key, Lang};
use crate::labels::{describe_step, Shape};
use crate::playback::{screen_gap_ms, Position};
use crate::store::{ModelStore, Step};
use crate::timeline::{self, Lane, Pair, Phase, PhaseSpan};

/// The smallest font the figure uses, in CSS px at zoom 1.
pub const FONT_MIN: f64 = 14.0;
const _: () = assert!(FONT >= FONT_MIN && FONT_DURATION >= FONT_MIN);
/// Labels of steps.
pub const FONT: f64 = 15.0;
/// Measured durations.
pub const FONT_DURATION: f64 = 16.0;
/// Height of one step.
pub const ROW_H: f64 = 33.0;
/// Left gutter holding the real time between rows.
pub const GUTTER: f64 = 104.0;
/// How far above the first row the column titles sit (the lane headers are below them).
pub const HEADER_TITLES: f64 = 94.0;
/// How far above the first row a lane's name sits; its state's lines follow, 15 apart, then
/// what the kernel says about the thread ([`crate::kernel::lane_lines`]): four lines at most.
pub const HEADER_NAME: f64 = 72.0;
/// Fewest and most rows a figure shows. One row is enough to keep the current step on a short
/// stage (presenter mode at 1024×768 with a two-line panel); 24 fill a 1920×1080 projector.
pub const ROWS: (usize, usize) = (1, 24);
/// What a figure needs below its last row's line: half a row, the gap label's second line.
const BELOW_ROWS: f64 = 24.0;
/// Column titles, then lane headers: the thread's name, what it is doing, what the kernel says.
const HEADERS_H: f64 = 108.0;
/// One line of widgets in the panel.
const WIDGET_H: f64 = 56.0;
/// The height of one box of a widget.
pub const BOX_HEIGHT: f64 = 26.0;
/// Narrowest lane spacing that keeps lane headers apart.
const LANE_MIN_W: f64 = 96.0;
/// Width of one column of phase braces and their labels.
const BRACE_COL_W: f64 = 122.0;

/// How much room the figure has, in user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Room {
    /// Width.
    pub width: f64,
    /// Height available before the page would scroll.
    pub height: f64,
}

/// Estimated width of `text` at `px`: the advance widths of DejaVu Sans (Debian's default
/// sans, which `system-ui` falls back to), rounded up, plus 2 %, so what fits here fits on
/// screen. Wide
/// (CJK) characters count as a full em.
pub fn text_width(text: &str, px: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            c if (c as u32) >= 0x2E80 => 1.0,
            'i' | 'j' | 'l' => 0.28,
            ' ' | '.' | ',' | '·' | '\'' | '|' | '!' | ':' | ';' | '/' => 0.34,
            'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '"' | '{' | '}' => 0.46,
            's' | 'c' | 'z' | 'k' => 0.58,
            'm' => 0.98,
            'w' => 0.82,
            'v' | 'x' | 'y' => 0.6,
            'M' | 'W' | '%' | '@' => 1.0,
            '→' | '×' | '+' | '=' | '<' | '>' | '⏎' | '…' | '—' => 0.9,
            c if c.is_ascii_digit() => 0.64,
            c if c.is_ascii_uppercase() => 0.74,
            c if c.is_ascii_lowercase() => 0.64,
            _ => 0.8,
        })
        .sum();
    em * px * 1.02
}

/// Breaks `text` into at most `lines` lines of at most `width`; the last line is shortened
/// with `…` if it still does not fit.
pub fn wrap(text: &str, width: f64, px: f64, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    // Words, keeping CJK characters breakable one by one.
    let mut words: Vec<String> = Vec::new();
    for piece in text.split(' ') {
        let mut word = String::new();
        for c in piece.chars() {
            if (c as u32) >= 0x2E80 {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
            } else {
                word.push(c);
            }
        }
        words.push(word + " ");
    }
    for w in words {
        let candidate = format!("{line}{w}");
        if text_width(candidate.trim_end(), px) <= width || line.is_empty() {
            line = candidate;
        } else {
            out.push(line.trim_end().to_owned());
            line = w;
        }
    }
    if !line.trim().is_empty() {
        out.push(line.trim_end().to_owned());
    }
    if out.len() > lines {
        let rest = out.split_off(lines - 1).join(" ");
        out.push(rest);
    }
    if let Some(last) = out.last_mut() {
        if text_width(last, px) > width {
            while !last.is_empty() && text_width(&format!("{last}…"), px) > width {
                last.pop();
            }
            last.push('…');
        }
    }
    out
}

/// `text` on one line of at most `width`, shortened with `…` if it must be.
pub fn fit(text: &str, width: f64, px: f64) -> String {
    wrap(text, width, px, 1).pop().unwrap_or_default()
}

/// A widget placed in the panel, with its boxes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlacedWidget {
    /// The widget.
    pub widget: Widget,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// The title line (place · title).
    pub title: String,
    /// Boxes: the item, its left and width.
    pub boxes: Vec<(Item, f64, f64)>,
    /// Items left out for want of room.
    pub more: usize,
    /// The note, and where it starts.
    pub note: Option<(String, f64)>,
}

/// One step drawn on its lane.
#[derive(Debug, Clone, PartialEq)]
pub struct RowLayout {
    /// Index into the steps.
    pub index: usize,
    /// The event's seq (`data-seq`).
    pub seq: u64,
    /// The event kind (`data-kind`).
    pub kind: &'static str,
    /// How it is drawn.
    pub shape: Shape,
    /// Its centre line.
    pub y: f64,
    /// Where the arrow or note starts and ends (lane or kernel line).
    pub x1: f64,
    /// The other end.
    pub x2: f64,
    /// The label, fitted to one line.
    pub label: String,
    /// The label's anchor point.
    pub label_x: f64,
    /// `start` or `end`.
    pub anchor: &'static str,
    /// The step playback is on.
    pub current: bool,
    /// For the staircase: how many `EAGAIN`s (`data-eagain`).
    pub eagain: Option<u64>,
}

/// Where a thread slept in a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    /// Top.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// The call (`recv`).
    pub call: String,
    /// Still inside it at the step being played.
    pub open: bool,
}

/// One phase drawn as a brace right of the kernel line.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseMark {
    /// Which phase.
    pub phase: Phase,
    /// The brace's x.
    pub x: f64,
    /// Top.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// Where its labels sit (at the brace's tip, or just below the label above it).
    pub label_y: f64,
    /// The measured duration (`data-ns`), once it ended.
    pub ns: Option<u64>,
    /// The duration's text, or what is going on.
    pub label: String,
    /// The phase's name.
    pub title: String,
    /// It has not ended at the step being played.
    pub in_progress: bool,
    /// The application's thread was blocked in it.
    pub app_blocked: bool,
}

/// One thread's lane.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneLayout {
    /// The backend's thread id (`data-thread`).
    pub thread: u32,
    /// The thread's name.
    pub name: String,
    /// A glibc aio helper (`data-helper`).
    pub helper: bool,
    /// Its x.
    pub x: f64,
    /// Its line's top and bottom.
    pub y0: f64,
    /// Bottom.
    pub y1: f64,
    /// Its name, fitted to the lane's width.
    pub title: String,
    /// The width its header's lines may take.
    pub header_w: f64,
    /// What it does at the step being played, and its CPU share when sampled, in lines that
    /// fit the lane's width.
    pub state: Vec<String>,
    /// Its steps.
    pub rows: Vec<RowLayout>,
    /// Where it slept.
    pub bars: Vec<Bar>,
    /// The phases of its inputs.
    pub phases: Vec<PhaseMark>,
    /// Housekeeping wake-ups (y).
    pub ticks: Vec<f64>,
    /// The caption of a blocked call, for a figure with a single lane ("blocked in recv").
    pub caption: Option<(f64, Vec<String>)>,
}

/// Real time between two rows, in the gutter.
#[derive(Debug, Clone, PartialEq)]
pub struct GapLabel {
    /// Its y.
    pub y: f64,
    /// `+12.3 µs`; or `4.20 s` over `compressed`.
    pub lines: Vec<String>,
    /// Playback shortened this gap.
    pub compressed: bool,
}

/// Everything a figure draws.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureLayout {
    /// Which figure.
    pub figure: Family,
    /// Width.
    pub width: f64,
    /// Height.
    pub height: f64,
    /// The panel's widgets.
    pub panel: Vec<PlacedWidget>,
    /// Where the timeline starts.
    pub timeline_top: f64,
    /// The kernel's line.
    pub kernel_x: f64,
    /// The lanes.
    pub lanes: Vec<LaneLayout>,
    /// Threads with steps in the window that did not fit.
    pub hidden_lanes: usize,
    /// Gap labels.
    pub gaps: Vec<GapLabel>,
    /// The playback line between the current step and the next.
    pub now_y: Option<f64>,
    /// The step being played.
    pub current: Option<usize>,
    /// Its seq.
    pub current_seq: Option<u64>,
    /// The phase the current step's thread is in (`data-phase`: idle, wait, copy, done).
    pub phase_now: &'static str,
}

/// The narrowest figure laid out: a narrower room still gets this width (the figure's column
/// is never that narrow on a window above 760 px).
const MIN_WIDTH: f64 = 420.0;
/// Where the kernel's line stands across the figure: the application's lanes get the left two
/// thirds, the phases' braces and the kernel's own notes the last third, as in Stevens.
const KERNEL_AT: f64 = 0.66;
/// Room between the time gutter and the first lane.
const LANES_LEFT: f64 = 12.0;
/// Room between the last lane and the kernel's line: arrowheads and the kernel's dots.
const LANES_RIGHT: f64 = 44.0;
/// A figure with a single lane puts it this far across the application's side, leaving the
/// left for Stevens' "process blocks in …" caption …
const SINGLE_LANE_AT: f64 = 0.3;
/// … and lets its header use this much of the side.
const SINGLE_LANE_HEADER: f64 = 0.84;
/// Space kept between one lane header's text and the next.
const HEADER_GAP: f64 = 10.0;
/// How many screens of steps back a thread still counts as active when choosing the lanes.
const LOOKBACK_SCREENS: usize = 3;
/// Most housekeeping ticks drawn on one lane.
const MAX_TICKS: usize = 40;
/// Below the last row's line: where the lanes end (in rows), then the figure's margin.
const LANES_END: f64 = 0.75;
const BOTTOM_MARGIN: f64 = 12.0;
/// How far past the last row a sleep still going on is drawn, when playback is not between
/// two steps (in rows).
const OPEN_BAR_END: f64 = 0.6;

/// Lays a model's figure out at a playback position.
pub fn layout(
    drawn: Drawn<'_>,
    store: &ModelStore,
    pos: Option<Position>,
    speed: f64,
    lang: Lang,
    room: Room,
    cpu_of: &dyn Fn(u32) -> Option<f64>,
) -> FigureLayout {
    let figure = drawn.figure;
    let steps = &store.steps().list;
    let width = room.width.max(MIN_WIDTH);
    let cur = pos.filter(|_| !steps.is_empty()).map(|p| p.index.min(steps.len() - 1));
    let moment = Moment { events: store.events(), upto: panel_upto(store, cur, pos), lang };
    let (placed, panel_h) = place_panel(panel(drawn, &moment), width, lang);
    let timeline_top = panel_h + HEADERS_H;
    let rows = (((room.height - timeline_top - BELOW_ROWS) / ROW_H).floor().max(0.0) as usize)
        .clamp(ROWS.0, ROWS.1);
    let kernel_x = (width * KERNEL_AT).round();
    let mut out = FigureLayout {
        figure,
        width,
        height: timeline_top + ROW_H * 2.0,
        panel: placed,
        timeline_top,
        kernel_x,
        lanes: Vec::new(),
        hidden_lanes: 0,
        gaps: Vec::new(),
        now_y: None,
        current: cur,
        current_seq: cur.map(|c| steps[c].event.seq),
        phase_now: "idle",
    };
    let Some(cur) = cur else { return out };

    let all_lanes = timeline::lanes(steps);
    let pairs = timeline::pairs(steps);
    let spans = timeline::phases(figure, steps, &pairs);
    // The lanes that fit, chosen among the threads active over a few screens back; then the
    // rows: the newest steps of those lanes, so a thread left out leaves no empty rows.
    let lookback = (cur + 1).saturating_sub(LOOKBACK_SCREENS * rows);
    let (shown, hidden) = visible_lanes(&all_lanes, &pairs, steps, lookback, cur, kernel_x);
    out.hidden_lanes = hidden;
    let frame = Frame::new(steps, &shown, cur, rows, timeline_top, pos);
    out.height = frame.bottom + BOTTOM_MARGIN;
    out.now_y = frame.now_y;
    let across = Across::new(kernel_x, shown.len());
    for (i, lane) in shown.iter().enumerate() {
        let lane_in =
            LaneIn { lane, x: across.x(i), header_w: across.header_w(), single: shown.len() == 1 };
        out.lanes.push(place_lane(&frame, &lane_in, store, &pairs, kernel_x, lang, cpu_of));
    }
    place_phases(&mut out, &spans, frame.first, cur, frame.open_end, &|i| frame.y_of(i), lang);
    out.phase_now = phase_now(&spans, steps, cur);
    out.gaps = gap_labels(&frame, steps, speed, lang);
    // A two-line gap label near the bottom must not hang below the figure.
    let lowest =
        out.gaps.iter().map(|g| g.y + 8.0 + 16.0 * g.lines.len() as f64).fold(0.0, f64::max);
    out.height = out.height.max(lowest);
    out
}

/// The last event the panel shows: up to the current step, plus what happened between it and
/// the moment playback has reached (state-only events such as the backlog's length have no
/// step of their own), or everything after the newest step.
fn panel_upto(store: &ModelStore, cur: Option<usize>, pos: Option<Position>) -> usize {
    let steps = &store.steps().list;
    let last_event = store.events().len().saturating_sub(1);
    match (cur, pos.and_then(|p| p.progress)) {
        (None, _) => last_event,
        (Some(c), _) if c + 1 == steps.len() => last_event,
        (Some(c), progress) => {
            let (t0, t1) = (steps[c].event.t_ns, steps[c + 1].event.t_ns);
            let now = t0 + (t1.saturating_sub(t0) as f64 * progress.unwrap_or(0.0)) as u64;
            let before_next = steps[c + 1].at.saturating_sub(1);
            let reached = store.events().partition_point(|e| e.t_ns <= now).saturating_sub(1);
            reached.clamp(steps[c].at, before_next.max(steps[c].at))
        }
    }
}

/// The rows on screen and where things fall on them: the newest steps of the lanes shown, up
/// to the current one.
struct Frame {
    /// The steps drawn as rows, oldest first; the last is the current step.
    window: Vec<usize>,
    /// The current step.
    cur: usize,
    /// The oldest step drawn.
    first: usize,
    /// The first row's top.
    top: f64,
    /// The last row's line.
    last_y: f64,
    /// Where lanes end.
    bottom: f64,
    /// The playback line, while playback is between the current step and the next.
    now_y: Option<f64>,
    /// Where a sleep still going on ends.
    open_end: f64,
}

impl Frame {
    fn new(
        steps: &[Step],
        shown: &[Lane],
        cur: usize,
        rows: usize,
        top: f64,
        pos: Option<Position>,
    ) -> Frame {
        let on_shown = |i: usize| shown.iter().any(|l| l.thread == steps[i].event.thread.id);
        let mut window: Vec<usize> = (0..=cur).rev().filter(|&i| on_shown(i)).take(rows).collect();
        window.reverse();
        let first = window.first().copied().unwrap_or(cur);
        let mut frame =
            Frame { window, cur, first, top, last_y: top, bottom: 0.0, now_y: None, open_end: 0.0 };
        frame.last_y = frame.window.last().map_or(top, |&w| frame.y_of(w));
        frame.bottom = frame.last_y + ROW_H * LANES_END;
        frame.now_y = pos
            .and_then(|p| p.progress)
            .filter(|_| cur + 1 < steps.len())
            .map(|p| frame.last_y + p * ROW_H);
        frame.open_end = frame.now_y.unwrap_or(frame.last_y + ROW_H * OPEN_BAR_END);
        frame
    }

    /// A step's y: its row's centre; a step without a row (another lane's, or older) sits on
    /// the boundary where it falls in time, so braces that start or end there stay in order.
    fn y_of(&self, i: usize) -> f64 {
        let rank = self.window.partition_point(|&w| w < i);
        let at_row = self.window.get(rank) == Some(&i);
        self.top + rank as f64 * ROW_H + if at_row { ROW_H / 2.0 } else { 0.0 }
    }
}

/// The application's side, shared out between the lanes shown.
struct Across {
    left: f64,
    right: f64,
    lanes: usize,
}

impl Across {
    fn new(kernel_x: f64, lanes: usize) -> Across {
        Across { left: GUTTER + LANES_LEFT, right: kernel_x - LANES_RIGHT, lanes: lanes.max(1) }
    }

    /// Lane `i`'s x.
    fn x(&self, i: usize) -> f64 {
        let side = self.right - self.left;
        if self.lanes == 1 {
            (self.left + side * SINGLE_LANE_AT).round()
        } else {
            (self.left + side * (i as f64 + 0.5) / self.lanes as f64).round()
        }
    }

    /// The width each lane's header may take.
    fn header_w(&self) -> f64 {
        let side = self.right - self.left;
        let room =
            if self.lanes == 1 { side * SINGLE_LANE_HEADER } else { side / self.lanes as f64 };
        room - HEADER_GAP
    }
}

/// One lane to place: the thread, its x, its header's width, and whether it is the figure's
/// only lane (which gets Stevens' caption).
struct LaneIn<'a> {
    lane: &'a Lane,
    x: f64,
    header_w: f64,
    single: bool,
}

/// One thread's lane: its line, rows, sleep bars, state, caption and housekeeping ticks.
fn place_lane(
    frame: &Frame,
    lane_in: &LaneIn<'_>,
    store: &ModelStore,
    pairs: &[Pair],
    kernel_x: f64,
    lang: Lang,
    cpu_of: &dyn Fn(u32) -> Option<f64>,
) -> LaneLayout {
    let (lane, x, header_w) = (lane_in.lane, lane_in.x, lane_in.header_w);
    let steps = &store.steps().list;
    let cur = frame.cur;
    let y0 =
        if lane.first >= frame.first { frame.y_of(lane.first) - ROW_H / 2.0 } else { frame.top };
    let y1 = match lane.exited {
        Some(e) if e <= cur => frame.y_of(e),
        _ => frame.bottom,
    };
    let rows = frame
        .window
        .iter()
        .filter(|&&i| steps[i].event.thread.id == lane.thread)
        .map(|&i| row(&steps[i], i, x, kernel_x, frame.y_of(i), i == cur, lang))
        .collect();
    let (bars, asleep_in) = lane_bars(frame, lane.thread, steps, pairs);
    let mut l = LaneLayout {
        thread: lane.thread,
        name: lane.name.clone(),
        helper: lane.helper,
        x,
        y0,
        y1,
        title: fit(&lane.name, header_w, FONT),
        header_w,
        state: lane_state(lane, asleep_in.as_deref(), cur, cpu_of(lane.thread), header_w, lang),
        rows,
        bars,
        phases: Vec::new(),
        ticks: lane_ticks(frame, lane.thread, store),
        caption: None,
    };
    if lane_in.single {
        l.caption = caption(&l, x - GUTTER - LANES_LEFT, lang);
    }
    l
}

/// Where a thread slept in a call (bars), and the call it is asleep in at the current step.
fn lane_bars(
    frame: &Frame,
    thread: u32,
    steps: &[Step],
    pairs: &[Pair],
) -> (Vec<Bar>, Option<String>) {
    let (first, cur) = (frame.first, frame.cur);
    let mut asleep_in = None;
    let mut bars = Vec::new();
    for p in pairs.iter().filter(|p| p.thread == thread && p.sleeps(steps)) {
        if p.enter > cur || p.end().is_some_and(|x| x < first) {
            continue;
        }
        let open = p.end().is_none_or(|x| x > cur);
        if open {
            asleep_in = Some(p.name.clone());
        }
        let y0 = if p.enter >= first { frame.y_of(p.enter) } else { frame.top };
        let y1 = if open { frame.open_end } else { frame.y_of(p.end().expect("closed")) };
        bars.push(Bar { y0, y1, call: p.name.clone(), open });
    }
    (bars, asleep_in)
}

/// What a lane's thread does at the current step, and its CPU share, in lines that fit.
fn lane_state(
    lane: &Lane,
    asleep_in: Option<&str>,
    cur: usize,
    cpu: Option<f64>,
    width: f64,
    lang: Lang,
) -> Vec<String> {
    let state = match (asleep_in, lane.exited) {
        (_, Some(e)) if e <= cur => t(lang, Key::LaneExited).into(),
        (Some(call), _) => tf(lang, Key::LaneAsleepIn, &[&call]),
        (None, _) if lane.helper => t(lang, Key::LaneHelper).into(),
        (None, _) => t(lang, Key::LaneRunning).into(),
    };
    match cpu.map(|p| tf(lang, Key::LaneCpu, &[&format!("{p:.0}")])) {
        Some(cpu) if text_width(&format!("{state} · {cpu}"), FONT_MIN) <= width => {
            vec![format!("{state} · {cpu}")]
        }
        Some(cpu) => vec![fit(&state, width, FONT_MIN), cpu],
        None => wrap(&state, width, FONT_MIN, 2),
    }
}

/// Stevens' left-hand caption of a single lane ("process blocks in recv"), beside its longest
/// sleep, where no label runs across it; `room` is the width left of the lane.
fn caption(l: &LaneLayout, room: f64, lang: Lang) -> Option<(f64, Vec<String>)> {
    let bar = l.bars.iter().max_by(|a, b| a.y1.total_cmp(&b.y1))?;
    let text = tf(lang, Key::ProcessBlocksIn, &[&bar.call]);
    let lines = wrap(&text, room - 24.0, FONT_MIN, 2);
    let mid = (bar.y0 + bar.y1) / 2.0;
    let (top, bottom) = (mid - 22.0, mid + 10.0 + 18.0 * lines.len() as f64);
    let crossed = l.rows.iter().any(|r| {
        let extends_left = r.anchor == "end" && r.label_x - text_width(&r.label, FONT) < l.x - 8.0;
        extends_left && r.y > top && r.y - 12.0 < bottom
    });
    (!crossed).then_some((mid, lines))
}

/// Housekeeping ticks of a thread, placed by time between the rows around them.
fn lane_ticks(frame: &Frame, thread: u32, store: &ModelStore) -> Vec<f64> {
    let steps = &store.steps().list;
    let (first, cur) = (frame.first, frame.cur);
    let (t_first, t_cur) = (steps[first].event.t_ns, steps[cur].event.t_ns);
    let mut ticks = Vec::new();
    for tick in store.steps().ticks.iter().filter(|k| k.thread == thread) {
        if tick.t_ns < t_first || tick.t_ns > t_cur || ticks.len() >= MAX_TICKS {
            continue;
        }
        let i = first + steps[first..=cur].partition_point(|s| s.event.t_ns <= tick.t_ns) - 1;
        let span = steps.get(i + 1).map_or(0, |s| s.event.t_ns.saturating_sub(steps[i].event.t_ns));
        let frac =
            if span == 0 { 0.5 } else { (tick.t_ns - steps[i].event.t_ns) as f64 / span as f64 };
        ticks.push(frame.y_of(i) + frac.clamp(0.1, 0.9) * ROW_H);
    }
    ticks
}

/// The real time between rows, in the gutter; and beside the playback line, the gap it is
/// crossing when playback shortened it.
fn gap_labels(frame: &Frame, steps: &[Step], speed: f64, lang: Lang) -> Vec<GapLabel> {
    let mut gaps: Vec<GapLabel> = frame
        .window
        .windows(2)
        .map(|pair| {
            let (a, b) = (pair[0], pair[1]);
            let y = (frame.y_of(a) + frame.y_of(b)) / 2.0;
            gap_label(steps[a].event.t_ns, steps[b].event.t_ns, speed, y, lang)
        })
        .collect();
    if let Some(y) = frame.now_y {
        // Beside the moving line, but never onto the gap label above it.
        let y = y.max(frame.last_y + 24.0);
        let cur = frame.cur;
        let next = gap_label(steps[cur].event.t_ns, steps[cur + 1].event.t_ns, speed, y, lang);
        if next.compressed {
            gaps.push(next);
        }
    }
    gaps
}

/// The lanes to draw: threads with a step in the window, or asleep across it; at most as
/// many as fit, the most recently active first.
fn visible_lanes(
    lanes: &[Lane],
    pairs: &[Pair],
    steps: &[Step],
    first: usize,
    cur: usize,
    kernel_x: f64,
) -> (Vec<Lane>, usize) {
    let active = |lane: &Lane| -> Option<usize> {
        if lane.first > cur || lane.exited.is_some_and(|e| e < first) {
            return None;
        }
        let last_step = (first..=cur).rev().find(|&i| steps[i].event.thread.id == lane.thread);
        let asleep = pairs.iter().any(|p| {
            p.thread == lane.thread
                && p.enter < first
                && p.end().is_none_or(|x| x >= first)
                && p.sleeps(steps)
        });
        last_step.or(asleep.then_some(first))
    };
    // The current step's thread is always shown (it counts as the most recent).
    let current = steps[cur].event.thread.id;
    let mut candidates: Vec<(usize, &Lane)> = lanes
        .iter()
        .filter_map(|l| active(l).map(|a| (if l.thread == current { usize::MAX } else { a }, l)))
        .collect();
    let fit = (((kernel_x - 44.0 - GUTTER - 12.0) / LANE_MIN_W).floor() as usize).max(1);
    let hidden = candidates.len().saturating_sub(fit);
    if hidden > 0 {
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        candidates.truncate(fit);
        candidates.sort_by_key(|(_, l)| l.first);
    }
    (candidates.into_iter().map(|(_, l)| l.clone()).collect(), hidden)
}

fn row(
    step: &Step,
    index: usize,
    lane_x: f64,
    kernel_x: f64,
    y: f64,
    current: bool,
    lang: Lang,
) -> RowLayout {
    let (shape, text) = describe_step(step, lang);
    let to_kernel = kernel_x - 10.0;
    let room = to_kernel - (GUTTER + 12.0);
    let (x1, x2, label_x, anchor, width) = match shape {
        // Arrows between the lane and the kernel: the label ends at the kernel line and may
        // pass over the lanes to its left (drawn with a halo), since one row is one step.
        Shape::Call | Shape::Stair => (lane_x, kernel_x, to_kernel, "end", room),
        Shape::Return => (kernel_x, lane_x, to_kernel, "end", room),
        Shape::KernelNote => (kernel_x, kernel_x, kernel_x - 14.0, "end", room),
        // A note on the lane goes to the side with more room.
        Shape::AppNote if to_kernel - lane_x >= lane_x - (GUTTER + 12.0) => {
            (lane_x, lane_x, lane_x + 14.0, "start", to_kernel - lane_x - 14.0)
        }
        Shape::AppNote => (lane_x, lane_x, lane_x - 14.0, "end", lane_x - 14.0 - (GUTTER + 12.0)),
    };
    RowLayout {
        index,
        seq: step.event.seq,
        kind: step.event.kind.name(),
        shape,
        y,
        x1,
        x2,
        label: fit(&text, width, FONT),
        label_x,
        anchor,
        current,
        eagain: matches!(step.event.kind, EventKind::WouldBlockBurst { .. })
            .then(|| step.counts.iter().map(|(_, n)| n).sum()),
    }
}

fn place_phases(
    out: &mut FigureLayout,
    spans: &[PhaseSpan],
    first: usize,
    cur: usize,
    open_end: f64,
    y_of: &dyn Fn(usize) -> f64,
    lang: Lang,
) {
    let region = out.width - out.kernel_x - 18.0;
    let columns = ((region / BRACE_COL_W).floor() as usize).max(1);
    let col_w = region / columns as f64;
    // Per column: where its lowest brace ends, and where its lowest label ends. Braces of one
    // column never overlap; a label that would run into the one above it moves down (the wait
    // and copy of one input, one above the other, share a column, as in Stevens).
    let mut brace_end = vec![f64::NEG_INFINITY; columns];
    let mut label_end = vec![f64::NEG_INFINITY; columns];
    let limit = out.height - 26.0;
    let mut marks: Vec<(u32, PhaseMark)> = Vec::new();
    let mut visible: Vec<&PhaseSpan> = spans
        .iter()
        .filter(|s| s.from <= cur && s.to.is_none_or(|to| to >= first))
        .filter(|s| out.lanes.iter().any(|l| l.thread == s.thread))
        .collect();
    visible.sort_by_key(|s| s.from);
    for s in visible {
        let ended = s.to.is_some_and(|to| to <= cur);
        let y0 = if s.from >= first { y_of(s.from) } else { out.timeline_top };
        let y1 = if ended { y_of(s.to.expect("ended")) } else { open_end };
        let mid = (y0 + y1) / 2.0;
        let label_at = |col: usize| mid.max(label_end[col] + 20.0);
        let col = (0..columns)
            .find(|&c| brace_end[c] + 2.0 <= y0 && label_at(c) <= limit)
            .unwrap_or(columns - 1);
        let label_y = label_at(col).min(limit);
        brace_end[col] = y1;
        label_end[col] = label_y + 22.0;
        let x = out.kernel_x + 16.0 + col as f64 * col_w;
        let title = t(
            lang,
            match (s.phase, s.app_blocked) {
                (Phase::Wait, _) => Key::WaitForData,
                (Phase::Copy, false) => Key::KernelCopies,
                (Phase::Copy, true) => Key::CopyData,
                (Phase::Both, _) => Key::BothPhases,
            },
        );
        let label = match (ended, s.ns) {
            (false, _) if s.phase == Phase::Copy => t(lang, Key::StillCopying).into(),
            (false, _) => t(lang, Key::StillWaiting).into(),
            (true, Some(0)) => t(lang, Key::AlreadyThere).into(),
            (true, Some(ns)) => format_duration(ns),
            (true, None) => t(lang, Key::Unknown).into(),
        };
        marks.push((
            s.thread,
            PhaseMark {
                phase: s.phase,
                x,
                y0,
                y1,
                label_y,
                ns: s.ns.filter(|_| ended),
                label,
                title: fit(title, col_w - 26.0, FONT_MIN),
                in_progress: !ended,
                app_blocked: s.app_blocked,
            },
        ));
    }
    for (thread, mark) in marks {
        if let Some(lane) = out.lanes.iter_mut().find(|l| l.thread == thread) {
            lane.phases.push(mark);
        }
    }
}

/// The phase the thread of the current step is in: of its latest input that has begun, the
/// phase going on, or `done` once its copy ended; `idle` before any.
fn phase_now(spans: &[PhaseSpan], steps: &[Step], cur: usize) -> &'static str {
    let thread = steps[cur].event.thread.id;
    let mine = || spans.iter().filter(|s| s.thread == thread && s.from <= cur);
    if let Some(s) = mine().find(|s| s.to.is_none_or(|to| to > cur)) {
        return s.phase.id();
    }
    match mine().max_by_key(|s| (s.from, s.phase != Phase::Wait)) {
        Some(s) if s.phase != Phase::Wait => "done",
        Some(_) => Phase::Copy.id(),
        None => "idle",
    }
}

fn gap_label(from: u64, to: u64, speed: f64, y: f64, lang: Lang) -> GapLabel {
    let real = to.saturating_sub(from);
    let (_, compressed) = screen_gap_ms(real, speed);
    let lines = if compressed {
        vec![format_duration(real), t(lang, Key::Compressed).to_owned()]
    } else {
        vec![format_delta(from, to.max(from))]
    };
    GapLabel { y, lines, compressed }
}

/// Places the widgets in lines across the width; returns them and the panel's height.
fn place_panel(widgets: Vec<Widget>, width: f64, lang: Lang) -> (Vec<PlacedWidget>, f64) {
    const GAP: f64 = 18.0;
    const PAD: f64 = 10.0;
    const LEFT: f64 = 6.0;
    let mut placed = Vec::new();
    let (mut x, mut y) = (LEFT, 0.0);
    for mut widget in widgets {
        if widget.items.is_empty() && widget.note.is_none() {
            widget.note = Some(t(lang, Key::Empty).to_owned());
        }
        let title = format!("{} · {}", widget.place.label(lang), widget.title);
        let title_w = text_width(&title, FONT_MIN);
        let note_w = widget.note.as_deref().map_or(0.0, |n| text_width(n, FONT_MIN) + 8.0);
        let mut boxes = Vec::new();
        let mut bx = 0.0;
        let max_w = width - PAD - LEFT;
        let mut more = 0;
        let count = widget.items.len();
        for (k, item) in widget.items.iter().enumerate() {
            let w = text_width(&item.label, FONT_MIN) + 16.0;
            // Keep room for a "+n" box if more items follow.
            let reserve = if k + 1 < count { 44.0 } else { 0.0 };
            if bx + w + reserve > max_w - note_w.min(max_w / 3.0) {
                more = count - k;
                break;
            }
            boxes.push((item.clone(), bx, w));
            bx += w + 6.0;
        }
        let boxes_w = if more > 0 { bx + 40.0 } else { bx };
        let w = title_w.max(boxes_w + note_w).min(max_w);
        if x > LEFT && x + w > width - 4.0 {
            x = LEFT;
            y += WIDGET_H;
        }
        let note_x = if more > 0 { bx + 44.0 } else { bx + 2.0 };
        let note = widget.note.clone().map(|n| {
            let room = (w - note_x).max(60.0);
            (fit(&n, room, FONT_MIN), note_x)
        });
        placed.push(PlacedWidget {
            boxes: boxes.into_iter().map(|(i, bx, bw)| (i, x + bx, bw)).collect(),
            note: note.map(|(n, nx)| (n, x + nx)),
            widget,
            x,
            y,
            w,
            title: fit(&title, w.max(title_w.min(max_w)), FONT_MIN),
            more,
        });
        x += w + GAP;
    }
    let height = if placed.is_empty() { 0.0 } else { y + WIDGET_H + 6.0 };
    (placed, height)
}

/// An SVG path for a curly brace from `y0` to `y1` at `x`, its tip pointing `width` to the
/// right. A span too short for a brace gets a flat bracket, never a crossed one.
pub fn brace(x: f64, y0: f64, y1: f64, width: f64) -> String {
    let (y0, y1) = if y1 < y0 { (y1, y0) } else { (y0, y1) };
    if y1 - y0 < 8.0 {
        let m = (y0 + y1) / 2.0;
        return format!(
            "M {x:.1} {:.1} L {:.1} {m:.1} L {x:.1} {:.1}",
            m - 4.0,
            x + width,
            m + 4.0
        );
    }
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

/// The y of a widget's boxes, relative to the widget's top.
pub const BOX_Y: f64 = 24.0;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::tests::drawn;
    use crate::store::tests::ev;
    use kettle_shared::RecvOutcome;

    fn store(events: Vec<std::rc::Rc<kettle_shared::Event>>) -> ModelStore {
        let mut s = ModelStore::default();
        s.extend(events);
        s
    }

    fn echo_round() -> ModelStore {
        store(vec![
            ev(1, 0, 1, EventKind::AcceptEnter),
            ev(
                2,
                10_000,
                1,
                EventKind::AcceptExit {
                    fd: Some(5),
                    peer: Some("127.0.0.1:4000".into()),
                    error: None,
                },
            ),
            ev(3, 20_000, 1, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(4, 2_000_020_000, 1, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(
                5,
                2_000_045_000,
                1,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::Data { bytes: 6, preview: "hello\n".into() },
                    wait_ns: Some(2_000_000_000),
                    copy_ns: Some(25_000),
                },
            ),
        ])
    }

    const ROOM: Room = Room { width: 760.0, height: 600.0 };

    fn at(index: usize) -> Option<Position> {
        Some(Position { index, progress: None })
    }

    #[test]
    fn test_blocking_recv_gets_both_braces_with_measured_durations() {
        let s = echo_round();
        let d = layout(drawn("blocking"), &s, at(4), 1e-4, Lang::En, ROOM, &|_| None);
        assert_eq!(d.figure, Family::Blocking);
        let lane = &d.lanes[0];
        let wait = lane.phases.iter().find(|p| p.phase == Phase::Wait).unwrap();
        let copy = lane.phases.iter().find(|p| p.phase == Phase::Copy).unwrap();
        assert_eq!((wait.ns, wait.label.as_str()), (Some(2_000_000_000), "2.00 s"));
        assert_eq!((copy.ns, copy.label.as_str()), (Some(25_000), "25.0 µs"));
        assert!(wait.y1 <= copy.y0 + 0.01 && copy.y0 < copy.y1);
        assert_eq!(d.phase_now, "done");
        assert!(lane.caption.is_some(), "one lane: Stevens' left-hand caption");
    }

    #[test]
    fn test_phase_in_progress_has_no_duration_yet() {
        let s = echo_round();
        let d = layout(drawn("blocking"), &s, at(2), 1e-4, Lang::En, ROOM, &|_| None);
        let wait = &d.lanes[0].phases[0];
        assert!(wait.in_progress && wait.ns.is_none());
        assert_eq!(wait.label, "waiting…");
        assert_eq!(d.phase_now, "wait");
        assert_eq!(d.lanes[0].state, ["asleep in recv"]);
    }

    #[test]
    fn test_gaps_are_never_negative_and_long_ones_say_compressed() {
        let s = echo_round();
        let d = layout(drawn("blocking"), &s, at(4), 1e-4, Lang::En, ROOM, &|_| None);
        assert!(d.gaps.iter().all(|g| !g.lines[0].starts_with('-')), "{:?}", d.gaps);
        assert!(d.gaps.iter().any(|g| g.compressed && g.lines == ["2.00 s", "compressed"]));
        for g in &d.gaps {
            assert!(g.lines.iter().all(|l| text_width(l, FONT_MIN) <= GUTTER - 8.0), "{g:?}");
        }
    }

    #[test]
    fn test_nothing_is_placed_outside_the_width_or_below_the_minimum_font() {
        let s = echo_round();
        for width in [420.0, 560.0, 760.0, 1100.0] {
            let d = layout(
                drawn("blocking"),
                &s,
                at(4),
                1e-4,
                Lang::En,
                Room { width, height: 600.0 },
                &|_| None,
            );
            for lane in &d.lanes {
                for r in &lane.rows {
                    let w = text_width(&r.label, FONT);
                    let (l, rt) = if r.anchor == "end" {
                        (r.label_x - w, r.label_x)
                    } else {
                        (r.label_x, r.label_x + w)
                    };
                    assert!(l >= 0.0 && rt <= width, "{width}: {} spans {l}..{rt}", r.label);
                }
                for p in &lane.phases {
                    let w = text_width(&p.title, FONT_MIN).max(text_width(&p.label, FONT_DURATION));
                    assert!(p.x + 26.0 + w <= width + 0.5, "{width}: {} at {}", p.title, p.x);
                }
            }
            for w in &d.panel {
                assert!(w.x + w.w <= width, "{width}: widget {:?}", w.title);
            }
        }
    }

    #[test]
    fn test_rows_fit_the_room_and_end_at_the_current_step() {
        let s = store((0..40).map(|i| ev(i, i * 1_000, 1, EventKind::AcceptEnter)).collect());
        let mut last_rows = 0;
        for height in [260.0, 330.0, 420.0, 560.0, 900.0] {
            let room = Room { width: 760.0, height };
            let d = layout(drawn("blocking"), &s, at(30), 1e-4, Lang::En, room, &|_| None);
            assert!(d.height <= height, "{height}: height {}", d.height);
            let rows: Vec<&RowLayout> = d.lanes.iter().flat_map(|l| &l.rows).collect();
            assert!((ROWS.0..=ROWS.1).contains(&rows.len()), "{height}: {} rows", rows.len());
            let current = rows.iter().find(|r| r.current).expect("the current step is drawn");
            assert!(rows.iter().all(|r| r.y <= current.y), "{height}: it is the newest row");
            assert!(current.y + ROW_H / 2.0 <= d.height, "{height}: and inside the figure");
            assert!(rows.len() >= last_rows, "{height}: more room, no fewer rows");
            last_rows = rows.len();
        }
        assert!(last_rows >= 16, "a 1080p projector shows many rows: {last_rows}");
    }

    #[test]
    fn test_brace_spans_its_range_and_short_spans_stay_flat() {
        let p = brace(10.0, 100.0, 200.0, 20.0);
        assert!(p.starts_with("M 10.0 100.0"), "{p}");
        assert!(p.ends_with("10.0 200.0"), "{p}");
        assert!(p.contains("30.0 150.0"), "tip at the middle: {p}");
        assert_eq!(brace(10.0, 100.0, 102.0, 20.0), "M 10.0 97.0 L 30.0 101.0 L 10.0 105.0");
    }

    #[test]
    fn test_threads_that_do_not_fit_leave_no_empty_rows() {
        // Eight threads take turns; a narrow figure has room for fewer lanes.
        let s = store(
            (0..40).map(|i| ev(i, i * 1_000, (i % 8) as u32, EventKind::AcceptEnter)).collect(),
        );
        let d = layout(
            drawn("thread-per-conn"),
            &s,
            at(39),
            1e-4,
            Lang::En,
            Room { width: 700.0, height: 600.0 },
            &|_| None,
        );
        assert!(
            d.hidden_lanes > 0 && d.lanes.len() >= 2,
            "{} shown, {} hidden",
            d.lanes.len(),
            d.hidden_lanes
        );
        let mut ys: Vec<f64> = d.lanes.iter().flat_map(|l| l.rows.iter().map(|r| r.y)).collect();
        ys.sort_by(f64::total_cmp);
        assert!(ys.windows(2).all(|w| (w[1] - w[0] - ROW_H).abs() < 0.01), "rows packed: {ys:?}");
        assert!(d.lanes.iter().any(|l| l.thread == 39 % 8), "the current step's thread is shown");
    }

    #[test]
    fn test_wrap_breaks_at_spaces_and_shortens_the_last_line() {
        assert_eq!(wrap("blocked in recv", 200.0, 14.0, 2), ["blocked in recv"]);
        assert_eq!(wrap("blocked in recv", 80.0, 14.0, 2), ["blocked in", "recv"]);
        let one = wrap("a very long label that cannot fit", 100.0, 14.0, 1);
        assert_eq!(one.len(), 1);
        assert!(one[0].ends_with('…') && text_width(&one[0], 14.0) <= 100.0);
        assert_eq!(wrap("阻塞于 recv", 60.0, 14.0, 2).len(), 2);
    }

    #[test]
    fn test_two_threads_get_two_lanes_each_with_its_own_phases() {
        let data = |fd, w, c| EventKind::RecvExit {
            fd,
            outcome: RecvOutcome::Data { bytes: 3, preview: "hi\n".into() },
            wait_ns: Some(w),
            copy_ns: Some(c),
        };
        let s = store(vec![
            ev(1, 1_000, 2, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(2, 2_000, 3, EventKind::RecvEnter { fd: 6, len: 1024 }),
            ev(3, 5_000, 3, EventKind::DataArrived { fd: 6, stamp: None }),
            ev(4, 5_400, 3, data(6, 3_000, 400)),
            ev(5, 9_000, 2, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(6, 9_700, 2, data(5, 8_000, 700)),
        ]);
        let d = layout(drawn("thread-per-conn"), &s, at(5), 1e-4, Lang::En, ROOM, &|_| Some(0.0));
        assert_eq!(d.lanes.len(), 2);
        for (lane, wait) in d.lanes.iter().zip([8_000, 3_000]) {
            let w = lane.phases.iter().find(|p| p.phase == Phase::Wait).unwrap();
            assert_eq!(w.ns, Some(wait), "lane {}", lane.thread);
            assert!(lane.state.join(" ").contains("0 % CPU"), "{:?}", lane.state);
        }
        assert_ne!(d.lanes[0].x, d.lanes[1].x);
    }
}
