//! The header: one slim line over the stage. The product name, the model picker's button on
//! narrow windows (`#models-toggle`), the view tabs (`#views`), the connection status, in
//! classroom mode who this page is (`#role`) with "follow me" (the teacher's `#follow-me`, a
//! student's `#following` or the button to follow again), then the tour, language, theme and
//! presenter buttons and the keyboard help (`#keys`).

use kettle_shared::{Role, PROTOCOL_VERSION};
use yew::prelude::*;

use super::keep_menu::KeepMenu;
use super::views::ViewTabs;
use super::{Ctx, StateHandle};
use crate::i18n::{catalogue, t, tf, Key};
use crate::keep::Source;
use crate::screen::ScreenAction;
use crate::state::{Action, ConnStatus};
use crate::view::View;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct HeaderProps {
    /// The page state.
    pub state: StateHandle,
}

/// `header.top` with `button#models-toggle[aria-expanded]`, `nav#views`, `#conn-status`,
/// `button#tour-start`, `button#lang`, `button#theme[data-theme]` (the theme shown),
/// `button#presenter[aria-pressed]`, `details#keys` and, on a protocol mismatch,
/// `#version-mismatch`.
#[component]
pub fn Header(props: &HeaderProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let status = state.conn.unwrap_or(ConnStatus::Connecting);
    let status_text = match status {
        ConnStatus::Connecting => t(lang, Key::Connecting).to_owned(),
        ConnStatus::Connected => t(lang, Key::Connected).to_owned(),
        ConnStatus::Reconnecting { attempt, delay_ms } => {
            format!(
                "{} (#{attempt}, {:.1} s)",
                t(lang, Key::Reconnecting),
                f64::from(delay_ms) / 1e3
            )
        }
    };
    let toggle = ctx.dispatch.reform(|_: MouseEvent| Action::ToggleLang);
    let screen =
        |action: ScreenAction| ctx.dispatch.reform(move |_: MouseEvent| Action::Screen(action));
    let tour = ctx.dispatch.reform(|_: MouseEvent| Action::TourGo(0));
    let classroom = classroom_bar(&ctx, state);
    let mismatch = state.version_mismatch.map(|server| {
        let text = tf(lang, Key::VersionMismatch, &[&PROTOCOL_VERSION, &server]);
        html! { <div id="version-mismatch" class="banner" role="alert">{ text }</div> }
    });
    let theme = state.screen.theme;
    let picked = state
        .selected_model()
        .map(|m| catalogue(lang, &m.title, &m.title_zh).to_owned())
        .unwrap_or_else(|| t(lang, Key::Models).to_owned());
    html! {
        <>
            <header class="top">
                <img class="logo" src="/static/kettle.svg" alt="" width="32" height="32" />
                <h1><span class="wordmark">{ "Kettle" }</span></h1>
                if !state.screen.presenter {
                    <button id="models-toggle" class="picker-toggle" onclick={screen(ScreenAction::TogglePicker)}
                        aria-expanded={state.screen.picker_open.to_string()} aria-controls="models"
                        title={t(lang, Key::Models)}>
                        <span class="picker-label">{ picked }</span>
                        <span aria-hidden="true">{ " ▾" }</span>
                    </button>
                }
                <ViewTabs shown={state.view} {lang} replaying={state.replaying()} />
                <span class="spacer"></span>
                // The playback bar carries the badge in the figure view; elsewhere the header
                // says that a recording plays.
                if let (Source::Recording(replay), true) = (&state.source, state.view != View::Figure) {
                    <span id="playback-mode" class="badge recording" data-mode="recording" role="status">
                        { tf(lang, Key::BadgeRecording, &[&crate::keep::utc_date(replay.header.start_unix_ms), &replay.header.machine]) }
                    </span>
                }
                if !state.replaying() {
                <span id="conn-status" class={classes!("conn", status.id())} data-status={status.id()} role="status"
                    title={status_text.clone()}>
                    <span class="conn-dot" aria-hidden="true">{ "●" }</span>
                    <span class="conn-text">{ status_text }</span>
                </span>
                }
                { classroom }
                <KeepMenu state={state.clone()} />
                // The tour starts models and sends lines: live only.
                if !state.replaying() {
                    <button id="tour-start" onclick={tour} title={t(lang, Key::TourStartHelp)}
                        aria-pressed={state.tour.is_some().to_string()}>{ t(lang, Key::TourStartShort) }</button>
                }
                <button id="lang" onclick={toggle} title="L" lang={crate::i18n::Lang::toggled(lang).code()}>
                    { t(lang, Key::SwitchLanguage) }
                </button>
                <button id="theme" onclick={screen(ScreenAction::ToggleTheme)} data-theme={theme.id()}
                    title={t(lang, theme.switch_label())} aria-label={t(lang, theme.switch_label())}>
                    <span aria-hidden="true">{ if theme == crate::screen::Theme::Dark { "☀" } else { "☾" } }</span>
                </button>
                <button id="presenter" onclick={screen(ScreenAction::TogglePresenter)} title={t(lang, Key::PresenterHelp)}
                    aria-pressed={state.screen.presenter.to_string()}>{ t(lang, Key::Presenter) }</button>
                <details id="keys">
                    <summary title={t(lang, Key::KeysTitle)}>
                        <span aria-hidden="true">{ "⌨" }</span>
                        <span class="visually-hidden">{ t(lang, Key::KeysTitle) }</span>
                    </summary>
                    <p class="keys">{ t(lang, Key::KeyHelp) }</p>
                </details>
            </header>
            { for mismatch }
        </>
    }
}

/// Classroom mode's part of the header; nothing outside classroom mode.
fn classroom_bar(ctx: &Ctx, state: &StateHandle) -> Html {
    let c = &state.classroom;
    if !c.on {
        return Html::default();
    }
    let lang = state.lang;
    let (role_id, role_key) = match c.role {
        Role::Teacher => ("teacher", Key::RoleTeacher),
        Role::Student => ("student", Key::RoleStudent),
    };
    let badge = html! {
        <span id="role" class={classes!("role", role_id)} data-role={role_id}
            title={t(lang, Key::RoleHelp)}>{ t(lang, role_key) }</span>
    };
    let control = match c.role {
        Role::Teacher => {
            let toggle = ctx.dispatch.reform(|_: MouseEvent| Action::FollowMeToggle);
            html! {
                <button id="follow-me" onclick={toggle} title={t(lang, Key::FollowMeHelp)}
                    aria-pressed={c.leads().to_string()}>{ t(lang, Key::FollowMe) }</button>
            }
        }
        Role::Student if c.leading.is_none() => Html::default(),
        Role::Student if c.following => {
            let stop = ctx.dispatch.reform(|_: MouseEvent| Action::Follow(false));
            html! {
                <>
                    <span id="following" class="following" role="status">{ t(lang, Key::Following) }</span>
                    <button id="follow-stop" onclick={stop}>{ t(lang, Key::FollowStop) }</button>
                </>
            }
        }
        Role::Student => {
            let follow = ctx.dispatch.reform(|_: MouseEvent| Action::Follow(true));
            html! { <button id="follow-teacher" onclick={follow}>{ t(lang, Key::FollowTeacher) }</button> }
        }
    };
    html! { <>{ badge }{ control }</> }
}
