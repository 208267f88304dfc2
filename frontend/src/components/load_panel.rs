//! `#load-panel`: put the selected model under load from the page — many real echo clients at
//! once, opened by the backend's load generator — and watch its report.
//!
//! The page checks nothing itself: what is typed is sent as typed (a number out of the
//! protocol's range is clamped to it, so the backend still sees it out of range), and the
//! backend refuses a bad value with [`kettle_shared::Reason::OutOfRange`], worded in `#errors`
//! like every refused command.

use kettle_shared::{Command, LoadSpec, ModelInfo, ModelState};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::Ctx;
use crate::format::{format_count, format_duration, format_rate};
use crate::i18n::{t, tf, Key, Lang};
use crate::state::{Action, LoadView};

/// The form's first values: 50 connections, closed loop, 64-byte lines, 10 seconds.
const DEFAULTS: Form = Form { conns: 50, open_loop: false, rate: 10_000, size: 64, secs: 10 };

/// Properties: the selected model and the load.
#[derive(Properties, PartialEq, Debug)]
pub struct LoadProps {
    /// The model a load would go to.
    pub model: Option<ModelInfo>,
    /// The load, once started.
    pub load: Option<LoadView>,
    /// Page language.
    pub lang: Lang,
}

/// What the form holds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Form {
    conns: u32,
    open_loop: bool,
    rate: u32,
    size: u32,
    secs: u32,
}

/// A typed number, as the browser read it (`valueAsNumber`), as a `u32`: negative → 0, too
/// large → `u32::MAX`, so what goes to the backend is still out of range when what was typed
/// is; `None` when it is not a number (the browser's NaN). The browser parses it, not the
/// page: Rust's `f64` parser would bring its tables (about 10 KB gzip) into the wasm.
fn typed(n: f64) -> Option<u32> {
    n.is_finite().then(|| n.clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// `section#load-panel`: inputs `#load-conns`, `select#load-loop` (`closed`/`open`),
/// `#load-rate`, `#load-size`, `#load-secs`, buttons `#load-start` and `#load-stop`, and
/// `#load-report[data-lines][data-lines-per-s][data-finished][data-mismatches]` with a
/// `progress` bar.
#[component]
pub fn LoadPanel(props: &LoadProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let form = use_state(|| DEFAULTS);
    let running = props.load.as_ref().is_some_and(LoadView::running);
    let model = props.model.as_ref().filter(|m| m.state == ModelState::Running);
    let number = |set: fn(&mut Form, u32)| {
        let form = form.clone();
        Callback::from(move |e: InputEvent| {
            let Some(input) = e.target_dyn_into::<HtmlInputElement>() else { return };
            if let Some(n) = typed(input.value_as_number()) {
                let mut next = *form;
                set(&mut next, n);
                form.set(next);
            }
        })
    };
    let set_loop = {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<HtmlSelectElement>() else { return };
            form.set(Form { open_loop: select.value() == "open", ..*form });
        })
    };
    let start = {
        let ctx = ctx.clone();
        let f = *form;
        let model = model.map(|m| m.id.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(model) = model.clone() else { return };
            let rate = f.open_loop.then_some(f.rate);
            let spec = LoadSpec { model, conns: f.conns, rate, size: f.size, secs: f.secs };
            ctx.send(Command::LoadStart { spec });
        })
    };
    let stop = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.send(Command::LoadStop))
    };
    let hide = ctx.dispatch.reform(|_: MouseEvent| Action::DismissLoad);
    let field = |id: &'static str, key: Key, value: u32, set: fn(&mut Form, u32), off: bool| {
        html! {
            <label class="load-field" for={id}>
                <span>{ t(lang, key) }</span>
                <input id={id} type="number" min="0" value={value.to_string()} disabled={off || running}
                    oninput={number(set)} />
            </label>
        }
    };
    let f = *form;
    html! {
        <section id="load-panel">
            <h2>{ t(lang, Key::LoadTitle) }</h2>
            <p class="load-help">{ t(lang, Key::LoadHelp) }</p>
            <div class="load-form">
                { field("load-conns", Key::LoadConns, f.conns, |f, n| f.conns = n, false) }
                <label class="load-field" for="load-loop">
                    <span>{ t(lang, Key::LoadLoop) }</span>
                    <select id="load-loop" onchange={set_loop} disabled={running}>
                        <option value="closed" selected={!f.open_loop}>{ t(lang, Key::LoadClosed) }</option>
                        <option value="open" selected={f.open_loop}>{ t(lang, Key::LoadOpen) }</option>
                    </select>
                </label>
                { field("load-rate", Key::LoadRate, f.rate, |f, n| f.rate = n, !f.open_loop) }
                { field("load-size", Key::LoadSize, f.size, |f, n| f.size = n, false) }
                { field("load-secs", Key::LoadSecs, f.secs, |f, n| f.secs = n, false) }
            </div>
            <div class="load-buttons">
                <button id="load-start" onclick={start} disabled={running || model.is_none()}>
                    { t(lang, Key::LoadStart) }
                </button>
                <button id="load-stop" onclick={stop} disabled={!running}>{ t(lang, Key::LoadStop) }</button>
                if model.is_none() && !running {
                    <span class="load-needs">{ t(lang, Key::LoadNeedsModel) }</span>
                }
            </div>
            { for props.load.as_ref().map(|l| report(l, lang, hide)) }
        </section>
    }
}

/// The load's newest report.
fn report(load: &LoadView, lang: Lang, hide: Callback<MouseEvent>) -> Html {
    let title = crate::reasons::model_title(lang, &load.spec.model);
    let Some(r) = &load.report else {
        return html! {
            <div id="load-report" data-lines="0" data-finished="false">
                <p class="load-state">{ tf(lang, Key::LoadStarting, &[&title]) }</p>
            </div>
        };
    };
    let secs = f64::from(r.spec.secs);
    let elapsed = r.elapsed_ms as f64 / 1000.0;
    let state = if r.finished {
        tf(lang, Key::LoadFinished, &[&title, &format!("{elapsed:.1}")])
    } else {
        tf(lang, Key::LoadRunning, &[&title, &format!("{elapsed:.0}"), &r.spec.secs])
    };
    let us = |us: u64| format_duration(us.saturating_mul(1_000));
    let row = |key: Key, value: String| {
        html! { <div><dt>{ t(lang, key) }</dt><dd>{ value }</dd></div> }
    };
    html! {
        <div id="load-report" data-lines={r.lines.to_string()} data-lines-per-s={r.lines_per_s.to_string()}
            data-finished={r.finished.to_string()} data-mismatches={r.mismatches.to_string()}>
            <p class="load-state">{ state }</p>
            <progress max={format!("{secs:.1}")} value={format!("{:.1}", elapsed.min(secs))} />
            <dl class="load-numbers">
                { row(Key::LoadLinesPerS, format_rate(r.lines_per_s as f64)) }
                { row(Key::LoadLines, format_count(r.lines)) }
                { row(Key::LoadLatency, format!("{} / {}", us(r.latency.p50_us), us(r.latency.p99_us))) }
                { row(Key::LoadConnsOpen, format_count(r.conns_open.into())) }
                if r.conns_failed > 0 {
                    { row(Key::LoadConnsFailed, format_count(r.conns_failed.into())) }
                }
                { row(Key::LoadMismatches, format_count(r.mismatches)) }
                { row(Key::LoadFairness, format!("{} / {}", format_count(r.fairness.0), format_count(r.fairness.1))) }
            </dl>
            <p class="load-nofile">{ tf(lang, Key::LoadNofile, &[&r.nofile_limit]) }</p>
            { for r.ended_by.as_ref().map(|why| html! {
                <p class="load-ended" data-reason={crate::reasons::reason_code(why)}>
                    { tf(lang, Key::LoadEndedBy, &[&crate::reasons::reason(lang, why)]) }
                </p>
            }) }
            if r.finished {
                <button class="load-hide" onclick={hide}>{ t(lang, Key::LoadHide) }</button>
            }
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_numbers_out_of_range_stay_out_of_range() {
        assert_eq!(typed(50.0), Some(50));
        assert_eq!(typed(-5.0), Some(0));
        assert_eq!(typed(1e12), Some(u32::MAX));
        assert_eq!(typed(2.7), Some(2));
        // What the browser gives for "many" or an empty field.
        assert_eq!(typed(f64::NAN), None);
        assert_eq!(typed(f64::INFINITY), None);
    }
}
