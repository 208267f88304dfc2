//! `svg#diagram`: draws the layout computed by [`crate::diagram`] for the selected model at
//! the playback position. SVG rather than canvas: crisp on a projector at any size, and
//! every step is an element tests (and curious students) can inspect.

use yew::prelude::*;

use super::StateHandle;
use crate::diagram::{brace_path, layout, Row, Shape, APP_X, KERNEL_X, ROW_H, TOP, WIDTH};
use crate::i18n::{t, Key};
use crate::playback::Track;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct DiagramProps {
    /// The page state.
    pub state: StateHandle,
}

/// `svg#diagram[data-step][data-seq][data-phase]` with `g.step[data-kind][data-seq]` (`.current` on the
/// step being played, `.previous` on the faded previous round), `g.phase[data-phase]` whose
/// first `text` (`text.duration`) is the measured duration, `g.block` (left braces),
/// `text.gap` (`.compressed` when playback shortened a gap) and `line.now`.
#[component]
pub fn DiagramView(props: &DiagramProps) -> Html {
    let state = &props.state;
    let lang = state.lang;
    let steps = state.steps();
    let seqs: Vec<u64> = steps.iter().map(|e| e.seq).collect();
    let times: Vec<u64> = steps.iter().map(|e| e.t_ns).collect();
    let pos = state.playback.position(Track { seqs: &seqs, times_ns: &times });
    let d = layout(&steps, pos, state.playback.speed(), lang);
    let height = d.height.max(TOP + 2.0 * ROW_H);
    let step_attr = d.current.map_or_else(String::new, |c| c.to_string());
    let seq_attr = d.current.map_or_else(String::new, |c| steps[c].seq.to_string());
    let bottom = height - 10.0;

    html! {
        <section id="diagram-panel">
            <h2>{ t(lang, Key::Diagram) }</h2>
            <svg id="diagram" xmlns="http://www.w3.org/2000/svg" viewBox={format!("0 0 {WIDTH} {height}")}
                data-step={step_attr} data-seq={seq_attr} data-phase={d.phase.id()} role="img" aria-label={t(lang, Key::Diagram)}>
                <defs>
                    <marker id="arrowhead" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="16" markerHeight="16" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
                    </marker>
                </defs>
                <text class="column-title" x={APP_X.to_string()} y="40" text-anchor="middle">{ t(lang, Key::Application) }</text>
                <text class="column-title" x={KERNEL_X.to_string()} y="40" text-anchor="middle">{ t(lang, Key::Kernel) }</text>
                <line class="column" x1={APP_X.to_string()} y1="60" x2={APP_X.to_string()} y2={bottom.to_string()} />
                <line class="column" x1={KERNEL_X.to_string()} y1="60" x2={KERNEL_X.to_string()} y2={bottom.to_string()} />
                if d.rows.is_empty() {
                    <text class="empty" x={(WIDTH / 2.0).to_string()} y={(TOP + ROW_H / 2.0).to_string()} text-anchor="middle">
                        { t(lang, Key::NoStepsYet) }
                    </text>
                }
                { for d.gaps.iter().map(|g| html! {
                    <text class={classes!("gap", g.compressed.then_some("compressed"))} x="12" y={(g.y + 6.0).to_string()}>{ &g.text }</text>
                }) }
                { for d.blocks.iter().map(|b| {
                    let x = APP_X - 24.0;
                    let mid = (b.y0 + b.y1) / 2.0;
                    html! {
                        <g class={classes!("block", b.previous.then_some("previous"))} data-call={b.call}>
                            <path class="brace" d={brace_path(x, b.y0, b.y1, -18.0)} />
                            <text x={(x - 26.0).to_string()} y={(mid - 4.0).to_string()} text-anchor="end">
                                <tspan>{ t(lang, Key::ProcessBlocksIn) }</tspan>
                                <tspan x={(x - 26.0).to_string()} dy="22">{ b.call }</tspan>
                            </text>
                        </g>
                    }
                }) }
                { for d.phases.iter().map(|p| {
                    let x = KERNEL_X + 24.0;
                    let mid = (p.y0 + p.y1) / 2.0;
                    html! {
                        <g class={classes!("phase", p.in_progress.then_some("in-progress"), p.previous.then_some("previous"))}
                            data-phase={p.phase.id()}>
                            <path class="brace" d={brace_path(x, p.y0, p.y1, 18.0)} />
                            <text class="duration" x={(x + 28.0).to_string()} y={(mid + 2.0).to_string()}>{ &p.label }</text>
                            <text class="phase-title" x={(x + 28.0).to_string()} y={(mid + 24.0).to_string()}>{ p.title }</text>
                        </g>
                    }
                }) }
                { for d.rows.iter().map(step) }
                { for d.now_y.map(|y| html! {
                    <line class="now" x1={(APP_X - 10.0).to_string()} y1={y.to_string()} x2={(KERNEL_X + 10.0).to_string()} y2={y.to_string()} />
                }) }
            </svg>
        </section>
    }
}

/// One step: an arrow between the columns, or a dot with a note on one of them.
fn step(row: &Row) -> Html {
    let y = row.y;
    let class =
        classes!("step", row.current.then_some("current"), row.previous.then_some("previous"));
    let mid = (APP_X + KERNEL_X) / 2.0;
    let body = match row.shape {
        Shape::Call | Shape::Return => {
            // Arrows slope down as in Stevens: time passes while the call crosses over.
            let (x1, x2) =
                if row.shape == Shape::Call { (APP_X, KERNEL_X) } else { (KERNEL_X, APP_X) };
            html! {
                <>
                    <line class={if row.shape == Shape::Call { "call" } else { "return" }}
                        x1={x1.to_string()} y1={(y - 8.0).to_string()} x2={x2.to_string()} y2={(y + 8.0).to_string()}
                        marker-end="url(#arrowhead)" />
                    <text class="label" x={mid.to_string()} y={(y - 14.0).to_string()} text-anchor="middle">{ &row.label }</text>
                </>
            }
        }
        Shape::KernelNote => html! {
            <>
                <circle class="note" cx={KERNEL_X.to_string()} cy={y.to_string()} r="7" />
                <text class="label" x={(KERNEL_X - 14.0).to_string()} y={(y + 6.0).to_string()} text-anchor="end">{ &row.label }</text>
            </>
        },
        Shape::AppNote => html! {
            <>
                <circle class="note" cx={APP_X.to_string()} cy={y.to_string()} r="7" />
                <text class="label" x={(APP_X + 14.0).to_string()} y={(y + 6.0).to_string()}>{ &row.label }</text>
            </>
        },
    };
    html! {
        <g class={class} key={row.seq} data-kind={row.kind} data-seq={row.seq.to_string()} data-thread={row.thread.clone()}>
            { body }
        </g>
    }
}
