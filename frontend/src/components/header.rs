//! The header: product name, connection status, protocol check, the language toggle and, in
//! classroom mode, who this page is (`#role`) with "follow me": the teacher's toggle
//! (`#follow-me`), a student's `#following` (or the button to follow again).

use kettle_shared::{Role, PROTOCOL_VERSION};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::i18n::{t, tf, Key};
use crate::state::{Action, ConnStatus};

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct HeaderProps {
    /// The page state.
    pub state: StateHandle,
}

/// `header` with `#conn-status`, `button#lang` and, on a protocol mismatch, `#version-mismatch`.
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
    let presenter = ctx.dispatch.reform(|_: MouseEvent| Action::TogglePresenter);
    let tour = ctx.dispatch.reform(|_: MouseEvent| Action::TourGo(0));
    let classroom = classroom_bar(&ctx, state);
    let mismatch = state.version_mismatch.map(|server| {
        let text = tf(lang, Key::VersionMismatch, &[&PROTOCOL_VERSION, &server]);
        html! { <div id="version-mismatch" class="banner" role="alert">{ text }</div> }
    });
    html! {
        <>
            <header class="top">
                <img class="logo" src="/static/kettle.svg" alt="" width="48" height="48" />
                <h1>{ "Kettle" }</h1>
                <span class="tagline">{ t(lang, Key::Tagline) }</span>
                <span class="keys">{ t(lang, Key::KeyHelp) }</span>
                <span id="conn-status" class={classes!("conn", status.id())} data-status={status.id()}>
                    { status_text }
                </span>
                { classroom }
                <button id="tour-start" onclick={tour} title={t(lang, Key::TourStartHelp)}
                    aria-pressed={state.tour.is_some().to_string()}>{ t(lang, Key::TourStart) }</button>
                <button id="presenter" onclick={presenter} title={t(lang, Key::PresenterHelp)}
                    aria-pressed={state.presenter.to_string()}>{ t(lang, Key::Presenter) }</button>
                <button id="lang" onclick={toggle} title="L">{ t(lang, Key::SwitchLanguage) }</button>
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
