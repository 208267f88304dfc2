//! `#figure`: the selected model's own Stevens figure, drawn from
//! [`crate::figures::layout`] at the playback position.
//!
//! SVG rather than canvas: crisp on a projector at any size, and every lane, phase and box is
//! an element tests (and curious students) can inspect. The SVG is sized to its container in
//! CSS pixels (divided by the presenter zoom), so its font sizes are the sizes on screen, and
//! the number of rows follows the height the stage gives it: the figure shows the newest rows
//! up to the current step, so that step is always on screen, under lane headers and the
//! kernel's column that stay where they are.

use yew::prelude::*;

use super::StateHandle;
use crate::figures::layout::{
    brace, layout, FigureLayout, LaneLayout, PlacedWidget, Room, RowLayout, BOX_HEIGHT, BOX_Y,
    GUTTER, HEADER_NAME, HEADER_TITLES, ROW_H,
};
use crate::figures::{title, why_drawn, Drawn, Hook};
use crate::i18n::{t, tf, Key, Lang};
use crate::labels::Shape;
use crate::state::recognised_at;
use kettle_shared::{KernelView, ModelId};

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct FigureProps {
    /// The page state.
    pub state: StateHandle,
}

/// How large presenter mode draws everything.
pub const PRESENTER_ZOOM: f64 = 1.3;

/// The room measured for the figure, in CSS px.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measured {
    width: f64,
    height: f64,
}

/// `section#figure-panel` holding `svg#figure[data-model][data-figure][data-phase][data-seq]`:
/// the panel (`g.widget[data-backlog|data-queue|…]` with `rect.box[data-fd]`), the lanes
/// (`g.lane[data-lane][data-thread]`, `[data-helper]` for glibc's aio helpers, and what the
/// kernel last said about the thread: `[data-sched-state]` its state letter and `[data-wchan]`
/// as read from `/proc`, in words in `text.lane-kernel`) with their
/// steps (`g.step[data-kind][data-seq][data-shape]`, `[data-eagain]` on the staircase), sleep
/// bars (`g.bar[data-call]`) and phases (`g.phase[data-phase][data-ns]`), the gap labels
/// (`text.gap`) and the playback line (`line.now`). Its accessible name is the figure's
/// title (`#figure-title`) and its description the narration (`#narration`, in the side
/// column), which says what the current step means.
///
/// A traced program is drawn, at each step, as the figure the backend had recognised it as by
/// that step's time ([`crate::state::family_at`]), with `p#figure-why[data-recognised=true]`
/// under the title saying why, from the evidence of that time; until its calls show one,
/// the room holds only `p#figure-why[data-recognised=false]` saying so, and no `#figure`.
#[component]
pub fn FigureView(props: &FigureProps) -> Html {
    let state = &props.state;
    let lang = state.lang;
    let zoom = if state.screen.presenter { PRESENTER_ZOOM } else { 1.0 };
    let holder = use_node_ref();
    let measured = use_state(|| Measured { width: 760.0, height: 480.0 });
    // Re-measure when the window changes size.
    super::use_rerender_on_resize();
    {
        // After every render: the room the stage gives the figure (its holder is sized by the
        // page's grid, never by the figure); only a real change re-renders.
        let holder = holder.clone();
        let measured = measured.clone();
        use_effect(move || {
            if let Some(el) = holder.cast::<web_sys::Element>() {
                let next = Measured {
                    width: f64::from(el.client_width()),
                    height: f64::from(el.client_height()),
                };
                let moved = (next.width - measured.width).abs() > 2.0
                    || (next.height - measured.height).abs() > 2.0;
                if moved && next.width > 0.0 && next.height > 0.0 {
                    measured.set(next);
                }
            }
        });
    }
    let Some(model) = state.selected.clone() else {
        return html! { <section id="figure-panel"><div class="figure-room" ref={holder}></div></section> };
    };
    let store = state.selected_store().cloned().unwrap_or_default();
    let traced = model.parse::<ModelId>() == Ok(ModelId::Traced);
    // The figure of the step on screen: a traced program's may differ from step to step when
    // it changed style, and time travel draws each step as what it was at that time.
    let shown = state.shown_family().map(|figure| Drawn { model: &model, figure });
    let Some(drawn) = shown else {
        // A traced program whose calls have not shown its model yet (at the step on screen): no
        // figure is drawn rather than a guessed one, and the room says what the page is waiting
        // for.
        let steps = store.steps().list.len();
        return html! {
            <section id="figure-panel" data-model={model.clone()}>
                <h2 id="figure-title">{ t(lang, Key::TracedFigureTitle) }</h2>
                <div class="figure-room" ref={holder}>
                    <p id="figure-why" class="unrecognised" data-model={model} data-recognised="false">
                        { tf(lang, Key::FigureNotRecognised, &[&steps]) }
                    </p>
                </div>
            </section>
        };
    };
    let figure = drawn.figure;
    // A traced program's caption: why this step is drawn as this figure, from what the backend
    // had seen by then.
    let why = traced.then(|| {
        let index = state.position().map(|p| p.index);
        let evidence = recognised_at(&store, index).filter(|e| e.family == figure);
        why_drawn(figure, evidence.as_ref(), lang)
    });
    // Whose word a traced program's arrivals are: the newest one kept says (the kernel's
    // when Kettle runs as root, else Kettle's client's).
    let arrival_note = arrival_note(&store);
    // Busy now: its calls are read from the kernel, not stopped at (the backend says so).
    let passive = traced && state.models.iter().any(|m| m.id == model && m.passive);
    let room = Room { width: measured.width / zoom, height: measured.height / zoom };
    let cpu = |thread: u32| {
        state.threads.of_model(&model).find(|l| l.thread == thread).and_then(|l| l.cpu_percent)
    };
    let d = layout(drawn, &store, state.position(), state.playback.speed(), lang, room, &cpu);
    let px_w = d.width * zoom;
    html! {
        <section id="figure-panel">
            <h2 id="figure-title">{ title(figure, lang) }</h2>
            if let Some(why) = why {
                <p id="figure-why" data-recognised="true" data-figure={figure.number()} title={why.clone()}>{ why }</p>
                <p id="figure-arrival" data-stamp={arrival_note.0} title={t(lang, arrival_note.1)}>{ t(lang, arrival_note.1) }</p>
                if passive {
                    <p id="figure-passive" role="status" title={t(lang, Key::TracedPassiveNote)}>{ t(lang, Key::TracedPassiveNote) }</p>
                }
            }
            // The room is sized by the page's grid, never by the figure in it: the figure is
            // taken out of the flow, so measuring the room cannot shrink it round after round.
            <div class="figure-room" ref={holder} style="position: relative">
            <svg id="figure" xmlns="http://www.w3.org/2000/svg" aria-labelledby="figure-title" aria-describedby="narration"
                style="position: absolute; left: 0; top: 0"
                width={format!("{px_w:.0}")} height={format!("{:.0}", d.height * zoom)}
                viewBox={format!("0 0 {:.0} {:.0}", d.width, d.height)}
                data-model={model.clone()} data-figure={figure.number()} data-phase={d.phase_now}
                data-seq={d.current_seq.map(|s| s.to_string()).unwrap_or_default()}
                role="img">
                <defs>
                    <marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse"
                        markerWidth="14" markerHeight="14" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
                    </marker>
                </defs>
                { for d.panel.iter().map(widget) }
                { columns(&d, lang) }
                if d.lanes.is_empty() {
                    <text class="empty" x={(d.width / 2.0).to_string()} y={(d.timeline_top + ROW_H).to_string()} text-anchor="middle">
                        { t(lang, Key::NoStepsYet) }
                    </text>
                }
                { for d.gaps.iter().map(|g| html! {
                    <text class={classes!("gap", g.compressed.then_some("compressed"))}
                        x={(GUTTER - 6.0).to_string()} y={(g.y + 5.0 - 8.0 * (g.lines.len() as f64 - 1.0)).to_string()} text-anchor="end">
                        { lines(GUTTER - 6.0, &g.lines, 16.0) }
                    </text>
                }) }
                { for d.lanes.iter().map(|l| {
                    let kernel = state.threads.get(&model, l.thread).and_then(|t| t.kernel.as_ref());
                    lane(l, kernel, &d, lang)
                }) }
                { for d.now_y.map(|y| html! {
                    <line class="now" x1={GUTTER.to_string()} y1={y.to_string()} x2={d.kernel_x.to_string()} y2={y.to_string()} />
                }) }
            </svg>
            </div>
        </section>
    }
}

/// The application and kernel column titles and the kernel's line.
fn columns(d: &FigureLayout, lang: Lang) -> Html {
    let title_y = d.timeline_top - HEADER_TITLES;
    let bottom = d.height - 6.0;
    html! {
        <g class="columns">
            <text class="column-title" x={(GUTTER + 6.0).to_string()} y={title_y.to_string()}>{ t(lang, Key::Application) }</text>
            <text class="column-title" x={(d.kernel_x - 8.0).to_string()} y={title_y.to_string()} text-anchor="end">{ t(lang, Key::Kernel) }</text>
            <line class="kernel" x1={d.kernel_x.to_string()} y1={(title_y + 8.0).to_string()} x2={d.kernel_x.to_string()} y2={bottom.to_string()} />
            if d.hidden_lanes > 0 {
                <text class="more-lanes" x={(GUTTER + 6.0).to_string()} y={(d.height - 6.0).to_string()}>
                    { tf(lang, Key::MoreLanes, &[&d.hidden_lanes]) }
                </text>
            }
        </g>
    }
}

/// One object of the panel.
fn widget(p: &PlacedWidget) -> Html {
    let w = &p.widget;
    let (name, value) = w.hook.attr();
    let attr = |hook: &'static str| (name == hook).then(|| AttrValue::from(value));
    let ring = matches!(w.hook, Hook::Sq | Hook::Cq).then(|| AttrValue::from(value));
    html! {
        <g class={classes!("widget", w.place.id())} data-place={w.place.id()}
            data-backlog={attr("backlog")} data-buffers={attr("buffers")} data-queue={attr("queue")}
            data-children={attr("children")} data-fdset={attr("fdset")} data-ready={attr("ready")}
            data-interest={attr("interest")} data-readylist={attr("readylist")}
            data-registry={attr("registry")} data-signal={attr("signal")} data-ring={ring}
            data-inflight={attr("inflight")} data-aio={attr("aio")}>
            <rect class="widget-frame" x={(p.x - 4.0).to_string()} y={(p.y + 2.0).to_string()}
                width={(p.w + 8.0).to_string()} height="54" rx="6" />
            <text class="widget-title" x={p.x.to_string()} y={(p.y + 18.0).to_string()}>{ &p.title }</text>
            { for p.boxes.iter().map(|(item, x, bw)| html! {
                <g class={classes!("item", item.lit.then_some("lit"))}
                    data-fd={item.fd.map(|f| AttrValue::from(f.to_string()))}
                    data-callback={item.callback.clone().map(AttrValue::from)}>
                    <rect class="box" x={x.to_string()} y={(p.y + BOX_Y).to_string()} width={bw.to_string()} height={BOX_HEIGHT.to_string()} rx="4" />
                    <text x={(x + 8.0).to_string()} y={(p.y + BOX_Y + 18.0).to_string()}>{ &item.label }</text>
                </g>
            }) }
            if p.more > 0 {
                <text class="more" x={(p.boxes.last().map_or(p.x, |(_, x, w)| x + w) + 6.0).to_string()} y={(p.y + BOX_Y + 18.0).to_string()}>
                    { format!("+{}", p.more) }
                </text>
            }
            { for p.note.as_ref().map(|(n, x)| html! {
                <text class="widget-note" x={x.to_string()} y={(p.y + BOX_Y + 18.0).to_string()}>{ n }</text>
            }) }
        </g>
    }
}

/// One thread's lane: header (with what the kernel says about the thread, when sampled), line,
/// sleep bars, steps, phases and housekeeping ticks.
fn lane(l: &LaneLayout, kernel: Option<&KernelView>, d: &FigureLayout, lang: Lang) -> Html {
    let name_y = d.timeline_top - HEADER_NAME;
    let helper = l.helper.then(|| AttrValue::from("true"));
    let sched_state =
        kernel.and_then(crate::kernel::sched_state).map(|s| AttrValue::from(s.to_owned()));
    let wchan = kernel.and_then(crate::kernel::wchan).map(|w| AttrValue::from(w.to_owned()));
    let kernel_lines =
        kernel.map(|k| crate::kernel::lane_lines(k, lang, l.header_w)).unwrap_or_default();
    let kernel_full = kernel.map(|k| crate::kernel::describe(k, lang, crate::kernel::Detail::Full));
    let line_y = |i: usize| (name_y + 17.0 + 15.0 * i as f64).to_string();
    html! {
        <g class={classes!("lane", l.helper.then_some("helper"))} data-lane="" data-thread={l.thread.to_string()}
            data-helper={helper} data-name={l.name.clone()} data-sched-state={sched_state} data-wchan={wchan}>
            <text class="lane-name" x={l.x.to_string()} y={name_y.to_string()} text-anchor="middle">{ &l.title }</text>
            { for l.state.iter().enumerate().map(|(i, line)| html! {
                <text class="lane-state" x={l.x.to_string()} y={line_y(i)} text-anchor="middle">{ line }</text>
            }) }
            { for kernel_lines.iter().enumerate().map(|(i, line)| html! {
                <text class="lane-kernel" x={l.x.to_string()} y={line_y(l.state.len() + i)} text-anchor="middle">
                    { line }
                    { for kernel_full.clone().map(|full| html! { <title>{ format!("{}: {full}", t(lang, Key::KernelSays)) }</title> }) }
                </text>
            }) }
            <line class="lane-line" x1={l.x.to_string()} y1={l.y0.to_string()} x2={l.x.to_string()} y2={l.y1.to_string()} />
            { for l.bars.iter().map(|b| html! {
                <g class={classes!("bar", b.open.then_some("open"))} data-call={b.call.clone()}>
                    <rect x={(l.x - 5.0).to_string()} y={b.y0.to_string()} width="10" height={(b.y1 - b.y0).max(2.0).to_string()} rx="3" />
                    <title>{ tf(lang, Key::ProcessBlocksIn, &[&b.call]) }</title>
                </g>
            }) }
            { for l.caption.iter().map(|(y, lines)| html! {
                <text class="caption" x={(l.x - 16.0).to_string()} y={(y - 4.0 - 9.0 * (lines.len() as f64 - 1.0)).to_string()} text-anchor="end">
                    { self::lines(l.x - 16.0, lines, 18.0) }
                </text>
            }) }
            { for l.ticks.iter().map(|y| html! {
                <line class="tick" data-housekeeping="" x1={(l.x - 9.0).to_string()} y1={y.to_string()} x2={(l.x + 9.0).to_string()} y2={y.to_string()}>
                    <title>{ t(lang, Key::Housekeeping) }</title>
                </line>
            }) }
            { for l.phases.iter().map(|p| {
                let mid = p.label_y;
                let ns = p.ns.map(|ns| AttrValue::from(ns.to_string()));
                let path = brace(p.x, p.y0, p.y1, 12.0);
                html! {
                    <g class={classes!("phase", p.in_progress.then_some("in-progress"), p.app_blocked.then_some("app-blocked"))}
                        data-phase={p.phase.id()} data-ns={ns}>
                        <path class="brace" d={path} />
                        <text class="duration" x={(p.x + 20.0).to_string()} y={(mid + 1.0).to_string()}>{ &p.label }</text>
                        <text class="phase-title" x={(p.x + 20.0).to_string()} y={(mid + 19.0).to_string()}>{ &p.title }</text>
                    </g>
                }
            }) }
            { for l.rows.iter().map(step) }
        </g>
    }
}

/// Lines of one `<text>`, each starting again at `x`, `dy` apart.
fn lines(x: f64, lines: &[String], dy: f64) -> Html {
    html! {
        { for lines.iter().enumerate().map(|(i, line)| html! {
            <tspan x={x.to_string()} dy={if i == 0 { "0".to_owned() } else { dy.to_string() }}>{ line }</tspan>
        }) }
    }
}

/// One step: an arrow between the lane and the kernel, a staircase, or a note on a line.
fn step(r: &RowLayout) -> Html {
    let y = r.y;
    let class = classes!("step", r.current.then_some("current"));
    let label = html! {
        <text class="label" x={r.label_x.to_string()} y={(y - 8.0).to_string()} text-anchor={r.anchor}>{ &r.label }</text>
    };
    let body = match r.shape {
        Shape::Call | Shape::Return => html! {
            <>
                <line class={if r.shape == Shape::Call { "call" } else { "return" }}
                    x1={r.x1.to_string()} y1={(y - 2.0).to_string()} x2={r.x2.to_string()} y2={(y + 8.0).to_string()}
                    marker-end="url(#arrowhead)" />
                { label }
            </>
        },
        Shape::Stair => {
            // Three small call/return pairs stacked: many calls, each answered EAGAIN.
            let (x1, x2) = (r.x1, r.x2);
            html! {
                <>
                    { for (0..3).map(|k| {
                        let yy = y - 4.0 + f64::from(k) * 5.0;
                        html! { <line class="stair" x1={x1.to_string()} y1={yy.to_string()} x2={x2.to_string()} y2={(yy + 2.0).to_string()} /> }
                    }) }
                    { label }
                </>
            }
        }
        Shape::KernelNote => html! {
            <>
                <circle class="note kernel-note" cx={r.x1.to_string()} cy={y.to_string()} r="6" />
                <text class="label" x={r.label_x.to_string()} y={(y + 5.0).to_string()} text-anchor="end">{ &r.label }</text>
            </>
        },
        Shape::AppNote => html! {
            <>
                <circle class="note" cx={r.x1.to_string()} cy={y.to_string()} r="6" />
                <text class="label" x={r.label_x.to_string()} y={(y + 5.0).to_string()} text-anchor={r.anchor}>{ &r.label }</text>
            </>
        },
    };
    let eagain = r.eagain.map(|n| AttrValue::from(n.to_string()));
    html! {
        <g class={class} key={r.seq} data-kind={r.kind} data-seq={r.seq.to_string()} data-shape={r.shape.id()} data-eagain={eagain}>
            { body }
        </g>
    }
}

/// `#figure-arrival`'s `data-stamp` and words: where a traced program's arrivals come from, as
/// the newest arrival kept says; Kettle's client's stamps until one says otherwise.
fn arrival_note(store: &crate::store::ModelStore) -> (&'static str, Key) {
    let newest = store.events().iter().rev().find_map(|e| match e.kind {
        kettle_shared::EventKind::DataArrived { stamp, .. } => stamp,
        _ => None,
    });
    match newest {
        Some(kettle_shared::ArrivalStamp::KernelReady) => {
            ("kernel_ready", Key::TracedArrivalKernelNote)
        }
        Some(kettle_shared::ArrivalStamp::ClientSend) | None => {
            ("client_send", Key::TracedArrivalNote)
        }
    }
}
