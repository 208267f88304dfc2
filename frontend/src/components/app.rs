//! The root component: owns the state, the WebSocket, the playback clock and the keyboard.

use gloo::events::{EventListener, EventListenerOptions};
use gloo::timers::callback::Interval;
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

use super::compare_view::CompareView;
use super::definitions::Definitions;
use super::echo::EchoPanel;
use super::errors::ErrorList;
use super::event_log::EventLog;
use super::figure_view::FigureView;
use super::header::Header;
use super::models::{Lesson, ModelList, Threads};
use super::playback_bar::PlaybackBar;
use super::Ctx;
use crate::service::{page_ws_url, Connection, Sender};
use crate::state::{Action, State};

/// How often the playback clock ticks. 25 Hz is smooth enough for arrows appearing one by
/// one and leaves the (shared, two-core) classroom machine alone.
const TICK_MS: u32 = 40;

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
    let state = use_reducer(State::default);
    let dispatch: Callback<Action> = state.dispatcher().to_callback();
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
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            let listener = web_sys::window().and_then(|w| w.document()).map(|doc| {
                EventListener::new_with_options(
                    &doc,
                    "keydown",
                    EventListenerOptions::enable_prevent_default(),
                    move |e| on_key(e, &dispatch),
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
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <Header state={state.clone()} />
            <ErrorList state={state.clone()} />
            <main class={classes!("layout", presenter.then_some("presenter"))} data-presenter={presenter.to_string()}>
                if !presenter {
                    <nav class="column-models">
                        <ModelList state={state.clone()} />
                    </nav>
                }
                <section class="column-figure">
                    <PlaybackBar state={state.clone()} />
                    <FigureView state={state.clone()} />
                </section>
                <EchoPanel state={state.clone()} />
                if !presenter {
                    <section class="column-lesson">
                        <Lesson state={state.clone()} />
                        <Threads state={state.clone()} />
                        <Definitions state={state.clone()} />
                    </section>
                    <CompareView state={state.clone()} />
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

/// Keyboard shortcuts for the teacher at the projector; typing in an input is left alone.
fn on_key(event: &Event, dispatch: &Callback<Action>) {
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
        "ArrowRight" => Action::Step,
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
