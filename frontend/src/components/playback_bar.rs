//! `#playback`: speed, pause/play, one step, jump to live.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::format::format_speed;
use crate::i18n::{t, Key};
use crate::playback::SPEEDS;
use crate::state::Action;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct PlaybackBarProps {
    /// The page state.
    pub state: StateHandle,
}

/// `div#playback` with `select#speed` (option values are indices into the speeds, texts
/// `1×`…`1/100 000`), `button#pause[data-paused]`, `button#step`, `button#live`.
#[component]
pub fn PlaybackBar(props: &PlaybackBarProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.state.lang;
    let playback = &props.state.playback;
    let on_speed = ctx.dispatch.reform(|e: Event| {
        let index = e
            .target_dyn_into::<HtmlSelectElement>()
            .and_then(|s| s.value().parse().ok())
            .unwrap_or(crate::playback::DEFAULT_SPEED_INDEX);
        Action::SetSpeed(index)
    });
    let pause = ctx.dispatch.reform(|_: MouseEvent| Action::TogglePause);
    let step = ctx.dispatch.reform(|_: MouseEvent| Action::Step);
    let live = ctx.dispatch.reform(|_: MouseEvent| Action::Live);
    html! {
        <div id="playback" data-speed={format_speed(playback.speed())}>
            <label for="speed">{ t(lang, Key::Speed) }</label>
            <select id="speed" onchange={on_speed}>
                { for SPEEDS.iter().enumerate().map(|(i, s)| html! {
                    <option value={i.to_string()} selected={i == playback.speed_index}>{ format_speed(*s) }</option>
                }) }
            </select>
            <button id="pause" data-paused={playback.paused.to_string()} onclick={pause}>
                { if playback.paused { t(lang, Key::Play) } else { t(lang, Key::Pause) } }
            </button>
            <button id="step" onclick={step}>{ t(lang, Key::StepOne) }</button>
            <button id="live" onclick={live}>{ t(lang, Key::Live) }</button>
        </div>
    }
}
