//! `#experiments`: the tutorial's claims as experiments. A list of them (each with its
//! state), and the one shown: what the tutorial claims and what is measured, Run buttons (its
//! short or full form), a progress line, the chart (drawn by plotters into an SVG string:
//! [`crate::experiments::chart_svg`]), the table, and CSV / JSON exports downloaded as files.

use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::experiments::{self as x, RunState};
use crate::i18n::{t, tf, Key};
use crate::state::Action;
use kettle_shared::{Command, ExperimentTable, EXPERIMENTS};

/// The chart's size in SVG units; CSS scales it to the panel's width.
const CHART: (u32, u32) = (760, 400);

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct ExperimentsProps {
    /// The page state.
    pub state: StateHandle,
}

/// `section#experiments`: `button.experiment[data-experiment][data-state]` per experiment,
/// then the shown one's `article.experiment-detail[data-experiment][data-state]` with
/// `#run-short`, `#run-full`, `p.experiment-progress`, `#experiment-chart` (its `svg`),
/// `table#experiment-table` (a `tr[data-row]` per row), `#export-csv` and `#export-json`.
#[component]
pub fn ExperimentsView(props: &ExperimentsProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let experiments = &state.experiments;
    let shown = experiments.shown().to_owned();
    let shown_state = experiments.state(&shown);
    let table = experiments.tables.get(&shown).cloned();
    let svg = use_memo((table.clone(), lang), |(table, lang)| {
        table.as_ref().and_then(|t| x::chart_svg(*lang, t, CHART.0, CHART.1))
    });

    let list = EXPERIMENTS.iter().map(|&id| {
        let run = experiments.state(id);
        let active = id == shown;
        let show = ctx.dispatch.reform(move |_: MouseEvent| Action::ExperimentShow(id.to_owned()));
        html! {
            <li>
                <button class={classes!("experiment", active.then_some("active"))} data-experiment={id}
                    data-state={run.id()} aria-pressed={active.to_string()} onclick={show}>
                    <span class="experiment-title">{ t(lang, x::title(id)) }</span>
                    <span class="experiment-state">{ t(lang, state_words(run)) }</span>
                </button>
            </li>
        }
    });

    let busy = experiments.busy();
    let run_button = |short: bool| {
        let name = shown.clone();
        let ctx = ctx.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            ctx.dispatch.emit(Action::ExperimentAsked(name.clone()));
            ctx.send(Command::ExperimentRun { name: name.clone(), short });
        });
        let (id, label) =
            if short { ("run-short", Key::XRunShort) } else { ("run-full", Key::XRunFull) };
        html! { <button {id} class="run" disabled={busy} {onclick}>{ t(lang, label) }</button> }
    };

    let progress = match &table {
        Some(tb) => {
            let form = t(lang, if tb.short { Key::XShortForm } else { Key::XFullForm });
            let failed = tb.failed.as_ref().map(|r| {
                html! { <span class="experiment-failed">{ tf(lang, Key::XFailed, &[&crate::reasons::reason(lang, r)]) }</span> }
            });
            html! {
                <p class="experiment-progress" aria-live="polite">
                    { format!("{} · {} · {}", t(lang, state_words(shown_state)),
                        tf(lang, Key::XProgress, &[&tb.step, &tb.steps]), form) }
                    { for failed }
                </p>
            }
        }
        None => html! {
            <p class="experiment-progress">
                { if shown_state == RunState::Running { t(lang, Key::XStateRunning) } else { t(lang, Key::XNoRows) } }
            </p>
        },
    };
    let others_running = busy && shown_state != RunState::Running;

    let chart = match svg.as_ref() {
        Some(svg) => Html::from_html_unchecked(AttrValue::from(svg.clone())),
        None => html! {},
    };

    let table_html = table.as_ref().map(|tb| {
        html! {
            <table id="experiment-table" aria-label={t(lang, Key::XTable)}>
                <thead><tr>{ for tb.columns.iter().map(|c| html! { <th scope="col">{ x::heading(lang, c) }</th> }) }</tr></thead>
                <tbody>
                    { for tb.rows.iter().enumerate().map(|(i, row)| html! {
                        <tr data-row={i.to_string()}>
                            { for row.iter().map(|c| {
                                let numeric = matches!(c, kettle_shared::Cell::Num(_));
                                html! { <td class={classes!(numeric.then_some("num"))}>{ x::cell_text(lang, c) }</td> }
                            }) }
                        </tr>
                    }) }
                </tbody>
            </table>
        }
    });

    let export = |csv: bool| {
        let tb = table.clone();
        let onclick = Callback::from(move |_: MouseEvent| {
            if let Some(tb) = &tb {
                download(tb, csv);
            }
        });
        let (id, label) =
            if csv { ("export-csv", Key::XExportCsv) } else { ("export-json", Key::XExportJson) };
        let empty = table.as_ref().is_none_or(|tb| tb.rows.is_empty());
        html! { <button {id} class="export" disabled={empty} {onclick}>{ t(lang, label) }</button> }
    };

    html! {
        <section id="experiments" aria-label={t(lang, Key::ViewExperiments)}>
            <h2>{ t(lang, Key::XHeading) }</h2>
            <p class="experiments-intro">{ t(lang, Key::XIntro) }</p>
            <div class="experiments-layout">
                <ul class="experiment-list">{ for list }</ul>
                <article class="experiment-detail" data-experiment={shown.clone()} data-state={shown_state.id()}>
                    <h3>{ t(lang, x::title(&shown)) }</h3>
                    <p class="experiment-story">{ t(lang, x::narration(&shown)) }</p>
                    <div class="experiment-actions">
                        { run_button(true) }
                        { run_button(false) }
                        if others_running { <span class="experiment-busy">{ t(lang, Key::XOneAtATimeBusy) }</span> }
                    </div>
                    { progress }
                    <div id="experiment-chart" role="img" aria-label={t(lang, Key::XChart)}>{ chart }</div>
                    { for table_html }
                    <div class="experiment-export">{ export(true) }{ export(false) }</div>
                </article>
            </div>
        </section>
    }
}

fn state_words(s: RunState) -> Key {
    match s {
        RunState::Idle => Key::XStateIdle,
        RunState::Running => Key::XStateRunning,
        RunState::Done => Key::XStateDone,
    }
}

/// Downloads the table as a file: a Blob, an object URL, a click on a temporary link.
fn download(table: &ExperimentTable, csv: bool) {
    let (text, mime, ext) = if csv {
        (x::csv_text(table), "text/csv;charset=utf-8", "csv")
    } else {
        (x::json_text(table), "application/json", "json")
    };
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else { return };
    if let Ok(a) = document.create_element("a") {
        if let Ok(a) = a.dyn_into::<web_sys::HtmlAnchorElement>() {
            a.set_href(&url);
            a.set_download(&x::file_name(table, ext));
            a.click();
        }
    }
    // Freed once the browser has surely taken the file (revoking at once may cancel it).
    gloo::timers::callback::Timeout::new(30_000, move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    })
    .forget();
}
