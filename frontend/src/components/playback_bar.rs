//! `#playback`: where the figure is in time — live, replaying or paused — and the controls
//! that move it: speed, pause/play, a step either way, a scrub bar over the model's kept
//! history, a jump to the last echoed line, and back to live.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::format::format_speed;
use crate::i18n::{t, tf, Key, Lang};
use crate::playback::{last_echo_start, Mode, SPEEDS};
use crate::state::Action;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct PlaybackBarProps {
    /// The page state.
    pub state: StateHandle,
}

/// The badge's words: a teacher must never take the past for now.
fn badge(lang: Lang, mode: Mode) -> String {
    match mode {
        Mode::Live => t(lang, Key::BadgeLive).into(),
        Mode::Paused { behind: 0 } => t(lang, Key::BadgePausedAtLive).into(),
        Mode::Paused { behind: 1 } => t(lang, Key::BadgePausedOne).into(),
        Mode::Paused { behind } => tf(lang, Key::BadgePaused, &[&behind]),
        Mode::Replaying { behind: 1 } => t(lang, Key::BadgeReplayingOne).into(),
        Mode::Replaying { behind } => tf(lang, Key::BadgeReplaying, &[&behind]),
    }
}

/// `div#playback[data-speed][data-live][data-paused]`, one compact row under the figure, with
/// `#playback-mode` (the badge, `data-mode="live|replaying|paused"`, or `"recording"` with
/// the recording's date and machine while one plays), `button#pause
/// [data-paused]`, `button#step-back`, `button#step` (pictures, named for screen readers),
/// `select#speed` (option values are indices into the speeds, texts `1×`…`1/100 000`),
/// `input#scrub[type=range]` over the selected model's kept steps (its value follows
/// playback), `button#jump-echo` and `button#live`.
#[component]
pub fn PlaybackBar(props: &PlaybackBarProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let playback = &state.playback;
    let store = state.selected_store();
    let steps = store.map_or(0, |s| s.steps().list.len());
    let mode = match store {
        Some(store) => playback.mode(store.steps().track()),
        None => playback.mode(crate::store::Track { keys: &[], times_ns: &[] }),
    };
    let index = state.position().map_or(0, |p| p.index.min(steps.saturating_sub(1)));
    let echo_start =
        state.selected.as_deref().zip(store).and_then(|(model, store)| {
            last_echo_start(&store.steps().list, state.family_of(model)?)
        });
    let on_speed = ctx.dispatch.reform(|e: Event| {
        let index = e
            .target_dyn_into::<HtmlSelectElement>()
            .and_then(|s| s.value().parse().ok())
            .unwrap_or(crate::playback::DEFAULT_SPEED_INDEX);
        Action::SetSpeed(index)
    });
    let on_scrub = ctx.dispatch.reform(|e: InputEvent| {
        let index = e
            .target_dyn_into::<HtmlInputElement>()
            .and_then(|i| i.value().parse().ok())
            .unwrap_or(0);
        Action::Seek(index)
    });
    let pause = ctx.dispatch.reform(|_: MouseEvent| Action::TogglePause);
    let back = ctx.dispatch.reform(|_: MouseEvent| Action::StepBack);
    let step = ctx.dispatch.reform(|_: MouseEvent| Action::Step);
    let jump = ctx.dispatch.reform(|_: MouseEvent| Action::JumpToLastEcho);
    let live = ctx.dispatch.reform(|_: MouseEvent| Action::Live);
    let mut mode_id = match mode {
        Mode::Live => "live",
        Mode::Replaying { .. } => "replaying",
        Mode::Paused { .. } => "paused",
    };
    let mut badge_text = badge(lang, mode);
    // A recording is never live: the badge says whose and when instead.
    if let crate::keep::Source::Recording(replay) = &state.source {
        mode_id = "recording";
        let date = crate::keep::utc_date(replay.header.start_unix_ms);
        badge_text = tf(lang, Key::BadgeRecording, &[&date, &replay.header.machine]);
    }
    let position = tf(lang, Key::HistoryPos, &[&(index + 1).min(steps), &steps]);
    let (pause_icon, pause_label) =
        if playback.paused { (Icon::Play, Key::Play) } else { (Icon::Pause, Key::Pause) };
    html! {
        <div id="playback" data-speed={format_speed(playback.speed())} role="group" aria-label={t(lang, Key::Playback)}
            data-live={(mode == Mode::Live).to_string()} data-paused={playback.paused.to_string()}>
            <span id="playback-mode" class={classes!("badge", mode_id)} data-mode={mode_id} role="status">
                { badge_text }
            </span>
            <button id="pause" class="icon" data-paused={playback.paused.to_string()} onclick={pause}
                aria-label={t(lang, pause_label)} title={format!("{} (Space)", t(lang, pause_label))}>
                { icon(pause_icon) }
            </button>
            <button id="step-back" class="icon" onclick={back} disabled={steps == 0}
                aria-label={t(lang, Key::StepBack)} title={format!("{} (←)", t(lang, Key::StepBack))}>
                { icon(Icon::StepBack) }
            </button>
            <button id="step" class="icon" onclick={step}
                aria-label={t(lang, Key::StepOne)} title={format!("{} (→)", t(lang, Key::StepOne))}>
                { icon(Icon::Step) }
            </button>
            <label for="speed" class="visually-hidden">{ t(lang, Key::Speed) }</label>
            <select id="speed" onchange={on_speed} title={format!("{} (+ / -)", t(lang, Key::Speed))}>
                { for SPEEDS.iter().enumerate().map(|(i, s)| html! {
                    <option value={i.to_string()} selected={i == playback.speed_index}>{ format_speed(*s) }</option>
                }) }
            </select>
            <div class="scrub-row">
                <label for="scrub" class="visually-hidden">{ t(lang, Key::History) }</label>
                <input id="scrub" type="range" min="0" max={steps.saturating_sub(1).to_string()}
                    value={index.to_string()} disabled={steps == 0} oninput={on_scrub}
                    aria-valuetext={position.clone()} title={t(lang, Key::History)} />
                <span class="scrub-pos" aria-hidden="true">{ format!("{}/{}", (index + 1).min(steps), steps) }</span>
            </div>
            <button id="jump-echo" onclick={jump} disabled={echo_start.is_none()}
                data-step={echo_start.map(|i| AttrValue::from(i.to_string()))}
                aria-label={t(lang, Key::JumpEcho)}
                title={if echo_start.is_none() { t(lang, Key::JumpEchoNone) } else { t(lang, Key::JumpEcho) }}>
                { t(lang, Key::JumpEchoShort) }
            </button>
            if !state.replaying() {
                <button id="live" onclick={live}>{ t(lang, Key::Live) }</button>
            }
        </div>
    }
}

/// The playback buttons' pictures (drawn, so every font shows the same).
#[derive(Debug, Clone, Copy)]
enum Icon {
    Play,
    Pause,
    Step,
    StepBack,
}

fn icon(which: Icon) -> Html {
    let path = match which {
        Icon::Play => "M5 3 L17 10 L5 17 Z",
        Icon::Pause => "M4 3 h4 v14 h-4 Z M12 3 h4 v14 h-4 Z",
        Icon::Step => "M3 3 L13 10 L3 17 Z M14 3 h3 v14 h-3 Z",
        Icon::StepBack => "M17 3 L7 10 L17 17 Z M3 3 h3 v14 h-3 Z",
    };
    html! {
        <svg class="icon" viewBox="0 0 20 20" width="18" height="18" aria-hidden="true" focusable="false">
            <path d={path} />
        </svg>
    }
}
