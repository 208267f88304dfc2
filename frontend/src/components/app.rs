//! The root component: owns the state, the WebSocket, the playback clock, the keyboard and
//! the page's address (the link that restores it, and the remembered language).

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::Interval;
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

use super::code_view::CodeView;
use super::compare_view::CompareView;
use super::definitions::Definitions;
use super::echo::EchoPanel;
use super::errors::ErrorList;
use super::event_log::EventLog;
use super::experiments_view::ExperimentsView;
use super::figure_view::FigureView;
use super::header::Header;
use super::load_panel::LoadPanel;
use super::models::{Lesson, ModelList, Threads};
use super::playback_bar::PlaybackBar;
use super::story_view::StoryView;
use super::tour_view::TourView;
use super::views::ViewTabs;
use super::Ctx;
use crate::i18n::Lang;
use crate::link::{lang_from_id, lang_id, Link};
use crate::service::{page_ws_url, Connection, Sender};
use crate::state::{Action, State};
use crate::view::View;

/// How often the playback clock ticks. 25 Hz is smooth enough for arrows appearing one by
/// one and leaves the (shared, two-core) classroom machine alone.
const TICK_MS: u32 = 40;

/// Where the page remembers the language chosen last (`localStorage`).
const LANG_STORAGE_KEY: &str = "kettle.lang";

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
            State::from_link(&Link::parse(&address_query()), remembered_lang())
        } else {
            State::default()
        }
    });
    let dispatch: Callback<Action> = state.dispatcher().to_callback();
    let touring = state.tour.is_some();
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
        // The listener outlives renders; it reads whether the tour runs through this cell.
        let touring_now = use_mut_ref(|| false);
        *touring_now.borrow_mut() = touring;
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().and_then(|w| w.document()).map(|doc| {
                EventListener::new_with_options(
                    &doc,
                    "keydown",
                    EventListenerOptions::enable_prevent_default(),
                    move |e| on_key(e, &dispatch, *touring_now.borrow()),
                )
            });
            move || drop(listener)
        });
    }
    {
        let lang = state.lang;
        use_effect_with(lang, move |lang| {
            if let Some(root) =
                web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element())
            {
                let _ = root.set_attribute("lang", lang.code());
            }
        });
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
            if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten())
            {
                let _ = storage.set_item(LANG_STORAGE_KEY, lang_id(*lang));
            }
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
    let selected_clients =
        state.selected.as_deref().map(|m| state.client_ids_of(m)).unwrap_or_default();
    let presenter = state.presenter;
    let view = state.view;
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <Header state={state.clone()} />
            <ErrorList state={state.clone()} />
            <main class={classes!("layout", presenter.then_some("presenter"))} data-presenter={presenter.to_string()}
                data-view={view.id()}>
                if !presenter {
                    <nav class="column-models">
                        <ModelList state={state.clone()} />
                        <LoadPanel model={state.selected_model().cloned()} load={state.load.clone()} lang={state.lang} />
                    </nav>
                }
                <section class="column-figure">
                    <TourView state={state.clone()} />
                    <ViewTabs state={state.clone()} />
                    {
                        match view {
                            View::Figure => html! {
                                <>
                                    <PlaybackBar state={state.clone()} />
                                    <FigureView state={state.clone()} />
                                </>
                            },
                            View::Compare => html! { <CompareView state={state.clone()} /> },
                            View::Story => html! { <StoryView state={state.clone()} /> },
                            View::Experiments => html! { <ExperimentsView state={state.clone()} /> },
                        }
                    }
                </section>
                <EchoPanel state={state.clone()} />
                if !presenter {
                    <section class="column-lesson">
                        <Lesson state={state.clone()} />
                        <CodeView state={state.clone()} />
                        <Threads state={state.clone()} />
                        <Definitions state={state.clone()} />
                    </section>
                    <EventLog
                    store={state.events.clone()}
                    model={if state.log_all_models { None } else { state.selected.clone() }}
                    clients={selected_clients}
                    lang={state.lang}
                    dropped={state.dropped_by_backend}
                    unreadable={state.unreadable}
                    />
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

/// The language chosen on an earlier visit, if the browser kept it.
fn remembered_lang() -> Option<Lang> {
    let storage = web_sys::window()?.local_storage().ok()??;
    lang_from_id(&storage.get_item(LANG_STORAGE_KEY).ok()??)
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

/// Keyboard shortcuts for the teacher at the projector; typing in an input is left alone.
fn on_key(event: &Event, dispatch: &Callback<Action>, touring: bool) {
    let Some(key) = event.dyn_ref::<KeyboardEvent>() else { return };
    if key.ctrl_key() || key.meta_key() || key.alt_key() {
        return;
    }
    let typing = event
        .target()
        .and_then(|t| t.dyn_into::<Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
    if typing {
        return;
    }
    let action = match key.key().as_str() {
        " " | "Spacebar" => Action::TogglePause,
        // During the tour → is the teacher's "next slide"; the step button still steps.
        "ArrowRight" if touring => Action::TourNext,
        "Escape" if touring => Action::TourLeave,
        "t" | "T" if !touring => Action::TourGo(0),
        "ArrowRight" => Action::Step,
        "ArrowLeft" => Action::StepBack,
        "+" | "=" => Action::Faster,
        "-" | "_" => Action::Slower,
        "l" | "L" => Action::ToggleLang,
        "f" | "F" => Action::TogglePresenter,
        _ => return,
    };
    // Space would otherwise scroll the page or press the focused button a second time.
    event.prevent_default();
    dispatch.emit(action);
}
