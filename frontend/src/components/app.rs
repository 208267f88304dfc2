//! The root component: owns the state, the WebSocket, the playback clock and the outbox, and
//! lays the stage out; the keyboard is [`super::keys`], the address bar and what the browser
//! remembers [`super::page`].

use gloo::timers::callback::Interval;
use yew::prelude::*;

use super::compare_view::CompareView;
use super::echo::EchoStrip;
use super::errors::ErrorList;
use super::experiments_view::ExperimentsView;
use super::figure_view::FigureView;
use super::header::Header;
use super::keys::{use_keyboard, KeysContext};
use super::models::ModelList;
use super::page::{address_query, remembered, teacher_token, use_page_in_browser};
use super::playback_bar::PlaybackBar;
use super::side::SideColumn;
use super::story_view::StoryView;
use super::tour_view::TourView;
use super::{Ctx, StateHandle};
use crate::i18n::{t, Key};
use crate::link::Link;
use crate::service::{page_ws_url, Connection, Sender};
use crate::state::{Action, State};
use crate::view::View;

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
    // `?recording=` at start: the page replays that file and never opens a WebSocket.
    let replay_asked = *use_state(|| {
        let asked = real_page && Link::parse(&address_query()).recording.is_some();
        if asked {
            // Before any component asks the server for code (children's effects run first).
            crate::code::go_offline();
        }
        asked
    });
    use_start_from_address(dispatch.clone(), real_page);
    let live = !(replay_asked || state.replaying());
    let sender = use_connection(dispatch.clone(), props, live);
    use_playback_clock(dispatch.clone());
    use_keyboard(
        dispatch.clone(),
        KeysContext { touring: state.tour.is_some(), picker_open: state.screen.picker_open },
    );
    use_page_in_browser(state.lang, state.screen.theme, state.link(), real_page);
    super::question::use_score_in_browser(&state.score, dispatch.clone(), real_page);
    let ctx = Ctx { dispatch, sender };
    use_outbox(&ctx, &state);
    let presenter = state.screen.presenter;
    html! {
        <ContextProvider<Ctx> context={ctx}>
            <a class="skip-link" href="#stage">{ t(state.lang, Key::SkipToStage) }</a>
            <Header state={state.clone()} />
            <ErrorList errors={state.errors.clone()} lang={state.lang} />
            <main id="stage" class={classes!("stage", presenter.then_some("presenter"))}
                data-presenter={presenter.to_string()} data-view={state.view.id()}
                data-side={state.screen.side_shown().id()} tabindex="-1">
                if !presenter {
                    <ModelList state={state.clone()} />
                }
                { views(&state) }
            </main>
        </ContextProvider<Ctx>>
    }
}

/// The stage's columns for the view shown: the figure beside the side column, or one of the
/// other views across both (the side column then stays in the page, hidden: its panels' and
/// echo clients' hooks are always there).
fn views(state: &StateHandle) -> Html {
    let view = state.view;
    if view == View::Figure {
        return html! {
            <>
                <section class="column-figure" aria-label={t(state.lang, Key::ViewFigure)}>
                    <FigureView state={state.clone()} />
                    <PlaybackBar state={state.clone()} />
                </section>
                <SideColumn state={state.clone()} />
            </>
        };
    }
    let shown = match view {
        View::Compare => html! { <CompareView state={state.clone()} /> },
        View::Story => html! { <StoryView state={state.clone()} /> },
        View::Experiments | View::Figure => html! { <ExperimentsView state={state.clone()} /> },
    };
    html! {
        <>
            <section class="column-wide">
                <TourView tour={state.tour.clone()} lang={state.lang} />
                { shown }
                if !state.replaying() {
                    <EchoStrip state={state.clone()} />
                }
            </section>
            <SideColumn state={state.clone()} shown=false />
        </>
    }
}

/// What the address asks for at start, once: a recording to replay (`?recording=`, fetched
/// from this origin), else where the server runs (`/api/host`, for saved recordings).
#[hook]
fn use_start_from_address(dispatch: Callback<Action>, real_page: bool) {
    use_effect_with((), move |_| {
        if real_page {
            let link = Link::parse(&address_query());
            if !super::keep_menu::open_recording_at_start(&link, dispatch.clone()) {
                wasm_bindgen_futures::spawn_local(async move {
                    if let Some(host) = super::keep_menu::fetch_host().await {
                        dispatch.emit(Action::Host(host));
                    }
                });
            }
        }
    });
}

/// The WebSocket, open while the page is `live` (a test page gives its own sender instead;
/// a page replaying a recording has none); the sender to reach the backend through, once
/// there is one.
#[hook]
fn use_connection(dispatch: Callback<Action>, props: &AppProps, live: bool) -> Option<Sender> {
    let sender = use_state(|| props.sender.clone());
    {
        let on_dispatch = props.on_dispatch.clone();
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            if let Some(cb) = on_dispatch {
                cb.emit(dispatch);
            }
        });
    }
    {
        let sender = sender.clone();
        let offline = props.sender.is_some();
        use_effect_with(live, move |live| {
            let connection = (!offline && *live).then(page_ws_url).flatten().map(|url| {
                let token = teacher_token();
                let url = crate::classroom::ws_url_with_token(&url, token.as_deref());
                let c = Connection::open(url, dispatch);
                sender.set(Some(c.sender()));
                c
            });
            // Dropping the connection closes the socket.
            move || drop(connection)
        });
    }
    (*sender).clone()
}

/// The playback clock: a tick every [`TICK_MS`]; the reducer ignores ticks that change nothing.
#[hook]
fn use_playback_clock(dispatch: Callback<Action>) {
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

/// The reducer cannot send; it leaves commands in the outbox (the comparison's opens and
/// sends, follow me) and they go out here, all in one turn, then the outbox is emptied.
#[hook]
fn use_outbox(ctx: &Ctx, state: &StateHandle) {
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
