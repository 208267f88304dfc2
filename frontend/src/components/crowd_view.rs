//! `#crowd`: beside the figure (under the echo clients), the selected model's connections as counts and rates — the
//! crowd the figure cannot draw step by step — and the control that picks how many of them
//! the figure follows (`#spotlight`).
//!
//! The numbers come from [`crate::crowd`], republished at most every
//! [`crate::crowd::REFRESH_MS`]; the props compare by value, so the playback clock's re-renders
//! pass this panel by.

use std::rc::Rc;

use kettle_shared::{Command, MAX_SAMPLED_CONNS};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::Ctx;
use crate::crowd::{Quantiles, Rates};
use crate::format::{format_bytes, format_count, format_duration, format_rate};
use crate::i18n::{t, tf, Key, Lang};
use crate::state::State;

/// Properties: the model and its crowd.
#[derive(Properties, PartialEq, Debug)]
pub struct CrowdProps {
    /// The selected model.
    pub model: String,
    /// Its crowd's rates.
    pub rates: Rc<Rates>,
    /// Connections the backend follows for this page besides its echo clients.
    pub followed: u32,
    /// Page language.
    pub lang: Lang,
}

/// The selected model's crowd, when it is worth showing ([`crate::crowd::worth_showing`]).
pub fn selected_crowd(state: &State) -> Html {
    let Some(model) = state.selected.clone() else { return html! {} };
    let own_clients =
        state.clients.iter().filter(|c| c.model == model && c.closed.is_none()).count();
    let loaded = state.load.as_ref().is_some_and(|l| l.running() && l.spec.model == model);
    let Some(rates) = state
        .crowd
        .rates(&model)
        .filter(|r| crate::crowd::worth_showing(r, own_clients, loaded))
        .cloned()
    else {
        return html! {};
    };
    let followed = state.spotlight.get(&model).copied().unwrap_or(0);
    html! { <CrowdView {model} {rates} {followed} lang={state.lang} /> }
}

/// One number: `div.rate[data-rate][data-value] > dt + dd`.
fn rate(name: &'static str, label: &str, value: String, shown: String) -> Html {
    html! {
        <div class="rate" data-rate={name} data-value={value}>
            <dt>{ label }</dt>
            <dd>{ shown }</dd>
        </div>
    }
}

/// A phase's median and 99th percentile: `data-value` is the median's bound in ns, `data-p99`
/// the 99th's. Histogram buckets give upper bounds, so the page says "≤".
fn phase(name: &'static str, label: &str, q: Quantiles, lang: Lang) -> Html {
    let bound = |ns: Option<u64>| {
        ns.map_or_else(
            || t(lang, Key::CrowdNone).to_owned(),
            |ns| format!("≤ {}", format_duration(ns)),
        )
    };
    html! {
        <div class="rate" data-rate={name}
            data-value={q.p50_ns.map(|n| n.to_string()).unwrap_or_default()}
            data-p99={q.p99_ns.map(|n| n.to_string()).unwrap_or_default()}>
            <dt>{ label }</dt>
            <dd>{ format!("{} / {}", bound(q.p50_ns), bound(q.p99_ns)) }</dd>
        </div>
    }
}

/// `section#crowd[data-model][data-crowded][data-at-ms]` (`data-at-ms`: the backend's time the
/// numbers reach, in ms) with `dl.crowd-rates > div.rate[data-rate]`
/// (`conns`, `threads`, `lines`, `bytes`, `eagain`, `waits`, `scanned`, `phase1`, `phase2`;
/// the number in `data-value`), `p.crowd-note` when crowded, and `select#spotlight`
/// (0 to [`MAX_SAMPLED_CONNS`] connections to follow, `data-followed` as confirmed).
#[component]
pub fn CrowdView(props: &CrowdProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let r = &*props.rates;
    let per_s = |v: f64| (format!("{v:.0}"), format_rate(v));
    let (lines, lines_shown) = per_s(r.lines_per_s);
    let (bytes, _) = per_s(r.bytes_per_s);
    let (eagain, eagain_shown) = per_s(r.eagain_per_s);
    let (waits, waits_shown) = per_s(r.waits_per_s);
    let follow = {
        let model = props.model.clone();
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<HtmlSelectElement>() else { return };
            if let Ok(sample) = select.value().parse::<u32>() {
                ctx.send(Command::Spotlight { model: model.clone(), sample });
            }
        })
    };
    html! {
        <section id="crowd" data-model={props.model.clone()} data-crowded={r.crowded.to_string()}
            data-at-ms={(r.at_ns / 1_000_000).to_string()}>
            <h3>{ t(lang, Key::CrowdTitle) }</h3>
            <dl class="crowd-rates">
                { rate("conns", t(lang, Key::CrowdConns), r.conns.to_string(), format_count(r.conns.into())) }
                { rate("threads", t(lang, Key::CrowdThreads), r.threads.to_string(), format_count(r.threads.into())) }
                { rate("lines", t(lang, Key::CrowdLines), lines, lines_shown) }
                { rate("bytes", t(lang, Key::CrowdBytes), bytes, format_bytes(r.bytes_per_s as u64)) }
                if r.eagain_per_s > 0.0 {
                    { rate("eagain", t(lang, Key::CrowdEagain), eagain, eagain_shown) }
                }
                if r.waits_per_s > 0.0 {
                    { rate("waits", t(lang, Key::CrowdWaits), waits, waits_shown) }
                }
                { for r.scanned_per_wait.map(|n| rate("scanned", t(lang, Key::CrowdScanned), format!("{n:.1}"), format!("{n:.1}"))) }
                { phase("phase1", t(lang, Key::CrowdPhase1), r.phase1, lang) }
                { phase("phase2", t(lang, Key::CrowdPhase2), r.phase2, lang) }
            </dl>
            <p class="crowd-over">{ tf(lang, Key::CrowdOver, &[&format_duration(r.rate_span_ms * 1_000_000)]) }</p>
            if r.crowded {
                <p class="crowd-note">
                    { tf(lang, Key::CrowdCrowded, &[&format_rate(r.events_per_s), &props.followed]) }
                </p>
            }
            <label class="spotlight-control">
                { t(lang, Key::SpotlightLabel) }
                <select id="spotlight" data-followed={props.followed.to_string()} onchange={follow}>
                    { for (0..=MAX_SAMPLED_CONNS).map(|n| html! {
                        <option value={n.to_string()} selected={n == props.followed}>{ n }</option>
                    }) }
                </select>
                { t(lang, Key::SpotlightUnit) }
            </label>
        </section>
    }
}
