//! The root component: owns the state, the WebSocket, the playback clock, the keyboard and
//! the page's address (the link that restores it, and the remembered language).

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::Interval;
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

use super::compare_view::CompareView;
use super::echo::EchoStrip;
use super::errors::ErrorList;
use super::experiments_view::ExperimentsView;
use super::figure_view::FigureView;
use super::header::Header;
use super::models::ModelList;
use super::playback_bar::PlaybackBar;
use super::side::SideColumn;
use super::story_view::StoryView;
use super::tour_view::TourView;
use super::Ctx;
use crate::i18n::{t, Key};
use crate::link::{lang_from_id, lang_id, Link, Remembered};
use crate::screen::{ScreenAction, Theme};
use crate::service::{page_ws_url, Connection, Sender};
use crate::state::{Action, State};
use crate::view::View;

/// How often the playback clock ticks. 25 Hz is smooth enough for arrows appearing one by
/// one and leaves the (shared, two-core) classroom machine alone.
const TICK_MS: u32 = 40;

/// Where the page remembers the language chosen last (`localStorage`).
const LANG_STORAGE_KEY: &str = "kettle.lang";
/// Where the page remembers the theme chosen last (`localStorage`).
const THEME_STORAGE_KEY: &str = "kettle.theme";

/// Root properties. The defaults are what the real page uses; tests replace the connection.
#[derive(Properties, PartialEq, Default, Debug)]
pub struct AppProps {
    /// Send commands here instead of opening a WebSocket (tests).
    #[prop_or_default]
    pub sender: Option<Sender>,
    /// Receives the state's dispatcher once mounted, so a test can feed server messages.
    #[prop_or_default]
    pub on_dispatch: Option<Callback<Callback<Action>>>,
}

/// The whole page.
#[component]
pub fn App(props: &AppProps) -> Html {
    // The real page starts from its address and remembers; a test page (with its own sender)
    // leaves the address bar and the storage of the browser running it alone.
    let real_page = props.sender.is_none();
    let state = use_reducer(move || {
        if real_page {
            State::from_link(&Link::parse(&address_query()), remembered())
        } else {
            State::default()
        }
    });
    let dispatch: Callback<Action> = state.dispatcher().to_callback();
    let keys_now =
        KeysContext { touring: state.tour.is_some(), picker_open: state.screen.picker_open };
    let sender = use_state(|| props.sender.clone());

    {
        // The WebSocket lives as long as the page; dropping it closes the socket.
        let dispatch = dispatch.clone();
        let sender = sender.clone();
        let offline = props.sender.is_some();
        let on_dispatch = props.on_dispatch.clone();
        use_effect_with((), move |_| {
            if let Some(cb) = on_dispatch {
                cb.emit(dispatch.clone());
            }
            let connection = (!offline).then(page_ws_url).flatten().map(|url| {
                let token = teacher_token();
                let url = crate::classroom::ws_url_with_token(&url, token.as_deref());
                let c = Connection::open(url, dispatch);
                sender.set(Some(c.sender()));
                c
            });
            move || drop(connection)
        });
    }
    {
        // The playback clock; the reducer ignores ticks that change nothing.
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let mut last = js_sys::Date::now();
            let interval = Interval::new(TICK_MS, move || {
                let now = js_sys::Date::now();
                // A background tab throttles timers: do not jump minutes ahead on return.
                let dt_ms = (now - last).clamp(0.0, 250.0);
                last = now;
                dispatch.emit(Action::Tick { dt_ms });
            });
            move || drop(interval)
        });
    }
    {
        // The listener outlives renders; it reads what the keys mean now through this cell.
        let keys = use_mut_ref(KeysContext::default);
        *keys.borrow_mut() = keys_now;
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().and_then(|w| w.document()).map(|doc| {
                EventListener::new_with_options(
                    &doc,
                    "keydown",
                    EventListenerOptions::enable_prevent_default(),
                    move |e| on_key(e, &dispatch, *keys.borrow()),
                )
            });
            move || drop(listener)
        });
    }
    {
        let lang = state.lang;
        use_effect_with(lang, move |lang| set_root_attribute("lang", lang.code()));
    }
    {
        // The CSS picks its colours from `<html data-theme>`.
        let theme = state.screen.theme;
        use_effect_with(theme, move |theme| set_root_attribute("data-theme", theme.id()));
    }

    {
        // Every change that the link carries rewrites the address in place: no reload, and no
        // history entry per click (Back leaves Kettle as it would any page).
        let link = state.link();
        use_effect_with(link, move |link| {
            if real_page {
                replace_query(&link.to_query());
            }
        });
    }
    {
        // The language chosen here is remembered for the next visit; the language a page
        // started with (from a link, say) is not a choice.
        let lang = state.lang;
        let first = use_mut_ref(|| true);
        use_effect_with(lang, move |lang| {
            if std::mem::replace(&mut *first.borrow_mut(), false) || !real_page {
                return;
            }
            remember(LANG_STORAGE_KEY, lang_id(*lang));
        });
    }
    {
        // The theme chosen here is remembered beside the language, in the same way.
        let theme = state.screen.theme;
        let first = use_mut_ref(|| true);
        use_effect_with(theme, move |theme| {
            if std::mem::replace(&mut *first.borrow_mut(), false) || !real_page {
                return;
            }
            remember(THEME_STORAGE_KEY, theme.id());
        });
    }

    let ctx = Ctx { dispatch: dispatch.clone(), sender: (*sender).clone() };
    {
        // The reducer cannot send; it leaves commands in the outbox (the comparison's opens and
        // sends) and they go out here, all in one turn, then the outbox is emptied.
        let ctx = ctx.clone();
        let outbox = state.outbox.clone();
        use_effect_with(state.outbox_gen, move |generation| {
            if !outbox.is_empty() {
                for command in outbox.iter() {
                    ctx.send(command.clone());
                }
                ctx.dispatch.emit(Action::OutboxSent(*generation));
            }
        });
    }
    let presenter = state.screen.presenter;
    let view = state.view;
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <a class="skip-link" href="#stage">{ t(state.lang, Key::SkipToStage) }</a>
            <Header state={state.clone()} />
            <ErrorList state={state.clone()} />
            <main id="stage" class={classes!("stage", presenter.then_some("presenter"))}
                data-presenter={presenter.to_string()} data-view={view.id()}
                data-side={state.screen.side_shown().id()} tabindex="-1">
                if !presenter {
                    <ModelList state={state.clone()} />
                }
                {
                    match view {
                        View::Figure => html! {
                            <>
                                <section class="column-figure" aria-label={t(state.lang, Key::ViewFigure)}>
                                    <FigureView state={state.clone()} />
                                    <PlaybackBar state={state.clone()} />
                                </section>
                                <SideColumn state={state.clone()} />
                            </>
                        },
                        other => html! {
                            <>
                            <section class="column-wide">
                                <TourView state={state.clone()} />
                                {
                                    match other {
                                        View::Compare => html! { <CompareView state={state.clone()} /> },
                                        View::Story => html! { <StoryView state={state.clone()} /> },
                                        _ => html! { <ExperimentsView state={state.clone()} /> },
                                    }
                                }
                                <EchoStrip state={state.clone()} />
                            </section>
                            <SideColumn state={state.clone()} shown=false />
                            </>
                        },
                    }
                }
            </main>
        </ContextProvider<Ctx>>
    }
}

/// The teacher token of this tab: taken from the address (`?token=…`) into `sessionStorage`
/// (this tab only; a reload keeps it) and out of the address bar at once, so it is never
/// projected, bookmarked or passed on in a shared link. A link without one keeps the token
/// the tab already has.
fn teacher_token() -> Option<String> {
    use crate::classroom::{is_token, token_in, TOKEN_STORAGE_KEY};
    let window = web_sys::window()?;
    let storage = window.session_storage().ok().flatten();
    let query = address_query();
    if let Some(token) = token_in(&query) {
        if let Some(storage) = &storage {
            let _ = storage.set_item(TOKEN_STORAGE_KEY, &token);
        }
        replace_query(&Link::parse(&query).to_query());
        return Some(token);
    }
    if query.contains("token=") {
        // Not a token of Kettle's: still not left in the address.
        replace_query(&Link::parse(&query).to_query());
    }
    storage?.get_item(TOKEN_STORAGE_KEY).ok().flatten().filter(|t| is_token(t))
}

/// The address's query string (`?model=…`), or nothing outside a browser.
fn address_query() -> String {
    web_sys::window().and_then(|w| w.location().search().ok()).unwrap_or_default()
}

/// What the browser knows before the link is read: the language and theme chosen on an
/// earlier visit, if it kept them, and whether the system prefers dark colours.
fn remembered() -> Remembered {
    let window = web_sys::window();
    let stored = |key: &str| window.as_ref()?.local_storage().ok()??.get_item(key).ok()?;
    let prefers_dark = window
        .as_ref()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|m| m.matches());
    Remembered {
        lang: stored(LANG_STORAGE_KEY).as_deref().and_then(lang_from_id),
        theme: stored(THEME_STORAGE_KEY).as_deref().and_then(Theme::from_id),
        prefers_dark,
    }
}

/// Keeps a choice for the next visit (`localStorage`; a browser that refuses keeps nothing).
fn remember(key: &str, value: &str) {
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(key, value);
    }
}

/// Sets an attribute of `<html>`, which the CSS reads (`lang`, `data-theme`).
fn set_root_attribute(name: &str, value: &str) {
    if let Some(root) =
        web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
    {
        let _ = root.set_attribute(name, value);
    }
}

/// Puts `query` in the address bar in place of the current one, keeping path and fragment.
fn replace_query(query: &str) {
    let Some(window) = web_sys::window() else { return };
    let location = window.location();
    if location.search().ok().as_deref() == Some(query) {
        return;
    }
    let path = location.pathname().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let url = format!("{path}{query}{hash}");
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// What a key means depends on: the tour runs (→ is "next stop"), the model picker is open
/// (`Esc` closes it first).
#[derive(Debug, Clone, Copy, Default)]
struct KeysContext {
    touring: bool,
    picker_open: bool,
}

/// Keyboard shortcuts for the teacher at the projector; typing in an input is left alone, and
/// Space on a focused control presses that control, as it does on every page.
fn on_key(event: &Event, dispatch: &Callback<Action>, keys: KeysContext) {
    let KeysContext { touring, picker_open } = keys;
    let Some(key) = event.dyn_ref::<KeyboardEvent>() else { return };
    if key.ctrl_key() || key.meta_key() || key.alt_key() {
        return;
    }
    let focused = event.target().and_then(|t| t.dyn_into::<Element>().ok());
    let tag = focused.as_ref().map(Element::tag_name).unwrap_or_default();
    if matches!(tag.as_str(), "INPUT" | "SELECT" | "TEXTAREA") {
        return;
    }
    let space = matches!(key.key().as_str(), " " | "Spacebar");
    if space && matches!(tag.as_str(), "BUTTON" | "A" | "SUMMARY") {
        return;
    }
    let action = match key.key().as_str() {
        " " | "Spacebar" => Action::TogglePause,
        // During the tour → is the teacher's "next slide"; the step button still steps.
        "Escape" if picker_open => Action::Screen(ScreenAction::ClosePicker),
        "ArrowRight" if touring => Action::TourNext,
        "Escape" if touring => Action::TourLeave,
        "t" | "T" if !touring => Action::TourGo(0),
        "ArrowRight" => Action::Step,
        "ArrowLeft" => Action::StepBack,
        "+" | "=" => Action::Faster,
        "-" | "_" => Action::Slower,
        "l" | "L" => Action::ToggleLang,
        "f" | "F" => Action::Screen(ScreenAction::TogglePresenter),
        _ => return,
    };
    // Space would otherwise scroll the page.
    event.prevent_default();
    dispatch.emit(action);
}
