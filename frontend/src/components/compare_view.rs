//! `#compare`: Stevens Fig. 6.6 from measurement. Tick models, type one line; it goes
//! through one client on each at once, and each model's column shows where its thread was
//! blocked and its two phases, on one time axis.

use kettle_shared::ModelState;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::figures::compare::{layout, Input, AXIS_W};
use crate::i18n::{t, Key, Lang};
use crate::state::Action;
use crate::timeline::Phase;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct CompareProps {
    /// The page state.
    pub state: StateHandle,
}

/// `section#compare-panel` with one `input.compare-pick[value=<model>]` per running model,
/// `input#compare-input`, `button#compare-send`, and `svg#compare` holding one
/// `g.column[data-figure][data-model]` per model of the last run, each with its
/// `g.phase[data-phase][data-ns]` and `g.bar[data-call]`.
#[component]
pub fn CompareView(props: &CompareProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let input_ref = use_node_ref();
    let holder = use_node_ref();
    let width = use_width(&holder);
    let running: Vec<String> = state
        .models
        .iter()
        .filter(|m| m.state == ModelState::Running)
        .map(|m| m.id.clone())
        .collect();
    let chosen = state.compare.chosen(&running);
    let send = {
        let dispatch = ctx.dispatch.clone();
        let input_ref = input_ref.clone();
        Callback::from(move |()| {
            if let Some(input) = input_ref.cast::<HtmlInputElement>() {
                let text = input.value();
                if !text.is_empty() {
                    input.set_value("");
                    dispatch.emit(Action::CompareSend(text));
                }
            }
        })
    };
    let on_key = {
        let send = send.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Enter" {
                e.prevent_default();
                send.emit(());
            }
        })
    };
    let enough = chosen.len() >= 2;
    html! {
        <section id="compare-panel">
            <h2>{ t(lang, Key::Compare) }</h2>
            <p class="hint">{ t(lang, Key::CompareHelp) }</p>
            <div class="compare-picks">
                { for state.models.iter().filter(|m| m.state == ModelState::Running).map(|m| {
                    let id = m.id.clone();
                    let toggle = ctx.dispatch.reform(move |_: Event| Action::CompareToggle(id.clone()));
                    html! {
                        <label class="compare-pick-label">
                            <input type="checkbox" class="compare-pick" value={m.id.clone()}
                                checked={state.compare.ticked.contains(&m.id)} onchange={toggle} />
                            { &m.id }
                        </label>
                    }
                }) }
            </div>
            if !state.replaying() {
            <div class="echo-row">
                <input id="compare-input" ref={input_ref} type="text" placeholder={t(lang, Key::EchoPlaceholder)}
                    onkeydown={on_key} disabled={!enough} />
                <button id="compare-send" onclick={send.reform(|_: MouseEvent| ())} disabled={!enough}>
                    { t(lang, Key::CompareSend) }
                </button>
                if !enough {
                    <span class="hint">{ t(lang, Key::CompareNeedModels) }</span>
                }
            </div>
            }
            <div class="compare-room" ref={holder}>{ chart(state, lang, width) }</div>
            if state.compare.run.is_some() {
                <p class="hint compare-legend">{ t(lang, Key::CompareLegend) }</p>
            }
        </section>
    }
}

/// The width of `holder` in CSS px, measured after each render and on window resizes: the
/// chart is laid out in CSS px (1 SVG unit = 1 px) so its font sizes are the sizes on screen,
/// whether the column is the full page or the figure column beside the echo clients.
#[hook]
fn use_width(holder: &NodeRef) -> f64 {
    let width = use_state(|| 1000.0_f64);
    super::use_rerender_on_resize();
    {
        let holder = holder.clone();
        let width = width.clone();
        use_effect(move || {
            if let Some(el) = holder.cast::<web_sys::Element>() {
                let now = el.get_bounding_client_rect().width();
                if now > 0.0 && (now - *width).abs() > 2.0 {
                    width.set(now);
                }
            }
        });
    }
    *width
}

fn chart(state: &StateHandle, lang: Lang, width: f64) -> Html {
    let Some(run) = &state.compare.run else { return html! {} };
    let inputs: Vec<Input<'_>> = run
        .lanes
        .iter()
        .filter_map(|lane| {
            let (client, conn) = lane.resolved(&state.clients)?;
            Some(Input {
                model: &lane.model,
                figure: state.family_of(&lane.model),
                client,
                conn,
                store: state.store(&lane.model).map(|s| &**s),
            })
        })
        .collect();
    let width = width.floor();
    let d = layout(&inputs, width, lang);
    html! {
        <svg id="compare" xmlns="http://www.w3.org/2000/svg" viewBox={format!("0 0 {width} {:.0}", d.height)}
            role="img" aria-label={t(lang, Key::Compare)}>
            <text class="axis-title" x="4" y="20">{ t(lang, Key::CompareAxis) }</text>
            <line class="zero" x1={AXIS_W.to_string()} y1={d.zero_y.to_string()} x2={width.to_string()} y2={d.zero_y.to_string()} />
            { for d.axis.iter().map(|(y, label)| html! {
                <text class="axis" x={(AXIS_W - 8.0).to_string()} y={(y + 5.0).to_string()} text-anchor="end">{ label }</text>
            }) }
            { for d.columns.iter().map(|c| {
                let app_x = c.x + c.w * 0.12;
                let kernel_x = c.x + c.w * 0.56;
                let call_w = kernel_x - app_x - 20.0;
                html! {
                    <g class="column" data-figure={c.figure.map_or("", |f| f.number())} data-model={c.model.clone()}>
                        <text class="column-title" x={(c.x + c.w / 2.0).to_string()} y="44" text-anchor="middle">
                            { match c.figure {
                                Some(f) => format!("{} · {}", c.title, f.number()),
                                None => format!("{} · ?", c.title),
                            } }
                        </text>
                        <line class="lane-line" x1={app_x.to_string()} y1="56" x2={app_x.to_string()} y2={(d.height - 36.0).to_string()} />
                        <line class="kernel" x1={kernel_x.to_string()} y1="56" x2={kernel_x.to_string()} y2={(d.height - 36.0).to_string()} />
                        { for c.blocked.iter().map(|(y0, y1, call)| html! {
                            <g class="bar" data-call={call.clone()}>
                                <rect x={(app_x - 6.0).to_string()} y={y0.to_string()} width="12" height={(y1 - y0).max(2.0).to_string()} rx="3" />
                                if y1 - y0 > 22.0 {
                                    <text class="call" x={(app_x + 12.0).to_string()} y={((y0 + y1) / 2.0 + 5.0).to_string()}>
                                        { crate::figures::layout::fit(call, call_w, 14.0) }
                                    </text>
                                }
                                <title>{ crate::i18n::tf(lang, Key::ProcessBlocksIn, &[call]) }</title>
                            </g>
                        }) }
                        { for c.phases.iter().map(|p| {
                            let ns = p.ns.map(|ns| AttrValue::from(ns.to_string()));
                            let class = match p.phase { Phase::Wait => "wait", Phase::Copy => "copy", Phase::Both => "both" };
                            html! {
                                <g class={classes!("phase", class)} data-phase={p.phase.id()} data-ns={ns}>
                                    <rect x={(kernel_x + 4.0).to_string()} y={p.y0.to_string()} width="10" height={(p.y1 - p.y0).max(2.0).to_string()} rx="2" />
                                    <text class="duration" x={(kernel_x + 20.0).to_string()} y={p.label_y.to_string()}>{ &p.label }</text>
                                </g>
                            }
                        }) }
                        { for c.reply.iter().map(|(y, label)| html! {
                            <g class="reply">
                                <line x1={(c.x + 8.0).to_string()} y1={y.to_string()} x2={(c.x + c.w - 8.0).to_string()} y2={y.to_string()} />
                                <text x={(c.x + 8.0).to_string()} y={c.reply_label_y.to_string()}>{ label }</text>
                            </g>
                        }) }
                        { for c.note.iter().map(|n| html! {
                            <text class="empty" x={(c.x + 8.0).to_string()} y={(d.zero_y + 24.0).to_string()}>{ n }</text>
                        }) }
                    </g>
                }
            }) }
        </svg>
    }
}
