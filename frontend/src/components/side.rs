//! The stage's side column, beside the figure: the tour's stop (while the tour runs), the
//! narration of the current step, then one panel chosen by a tab — the code that made the step
//! by default, or one of what is not the lesson's moment (the other echo clients, the load and
//! the crowd, the threads, the lesson and the definitions, the event log).
//!
//! Every panel stays in the page (only the chosen one is shown), so its controls and test hooks
//! are always there; none of them can push the stage down or make the page scroll: the panel
//! scrolls inside the column. Presenter mode shows the code only.

use yew::prelude::*;

use super::code_view::CodeView;
use super::definitions::Definitions;
use super::echo::{EchoClients, EchoStrip};
use super::event_log::EventLog;
use super::load_panel::LoadPanel;
use super::models::{Lesson, Threads};
use super::narration::Narration;
use super::question::QuestionView;
use super::tour_view::TourView;
use super::{Ctx, StateHandle};
use crate::i18n::{t, tf, Key};
use crate::screen::{ScreenAction, Side};
use crate::state::Action;

/// Properties: the page state, and whether the column is shown.
#[derive(Properties, PartialEq, Debug)]
pub struct SideProps {
    /// The page state.
    pub state: StateHandle,
    /// The figure view shows the column; the others keep it in the page, hidden (its echo
    /// clients' replies and its panels' hooks stay there), and draw the echo line themselves.
    #[prop_or(true)]
    pub shown: bool,
}

/// `section.column-side` with `#tour`, `#question`, `#narration`, `div#side-tabs[role=tablist]` (one
/// `button[role=tab][data-side]` per panel, `aria-selected` on the shown one), one
/// `div.side-panel[role=tabpanel][data-side]` per panel (`hidden` unless shown): `#code-panel`,
/// `#echo-clients`, `#crowd` over `#load-panel`, `#threads`, `#lesson` with `#definitions`,
/// `#event-log`; and at the bottom the stage's echo line, `#echo`.
#[component]
pub fn SideColumn(props: &SideProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let shown = state.screen.side_shown();
    let presenter = state.screen.presenter;
    let on_stage = usize::from(super::echo::stage_client(state).is_some());
    let others = state.clients.len().saturating_sub(on_stage);
    let tab = |side: Side| {
        let active = side == shown;
        let show =
            ctx.dispatch.reform(move |_: MouseEvent| Action::Screen(ScreenAction::ShowSide(side)));
        let label = match side {
            Side::Clients if others > 0 => tf(lang, Key::SideClientsCount, &[&others]),
            other => t(lang, other.label()).to_owned(),
        };
        html! {
            <button role="tab" id={format!("side-tab-{}", side.id())} class={classes!("side-tab", active.then_some("active"))}
                data-side={side.id()} aria-selected={active.to_string()}
                aria-controls={format!("side-{}", side.id())} tabindex={if active { "0" } else { "-1" }}
                onclick={show}>
                { label }
            </button>
        }
    };
    // Arrow keys move along the tabs, as a tab list does.
    let on_tabs_key = {
        let dispatch = ctx.dispatch.clone();
        Callback::from(move |e: KeyboardEvent| {
            let at = Side::ALL.iter().position(|s| *s == shown).unwrap_or(0);
            let n = Side::ALL.len();
            let next = match e.key().as_str() {
                "ArrowRight" | "ArrowDown" => (at + 1) % n,
                "ArrowLeft" | "ArrowUp" => (at + n - 1) % n,
                "Home" => 0,
                "End" => n - 1,
                _ => return,
            };
            e.prevent_default();
            // The page's own ← → (step) must not also run.
            e.stop_propagation();
            let side = Side::ALL[next];
            dispatch.emit(Action::Screen(ScreenAction::ShowSide(side)));
            focus(&format!("side-tab-{}", side.id()));
        })
    };
    let panel = |side: Side, body: Html| {
        html! {
            <div class="side-panel" role="tabpanel" id={format!("side-{}", side.id())} data-side={side.id()} tabindex="0"
                aria-labelledby={(!presenter).then(|| format!("side-tab-{}", side.id()))}
                hidden={side != shown}>
                { body }
            </div>
        }
    };
    let selected_clients =
        state.selected.as_deref().map(|m| state.client_ids_of(m)).unwrap_or_default();
    html! {
        <section class="column-side" aria-label={t(lang, Key::SideColumn)} hidden={!props.shown}>
            if props.shown {
                <TourView tour={state.tour.clone()} {lang} />
                <QuestionView quiz={state.quiz.clone()} score={state.score.clone()} {lang} />
            }
            <Narration ..super::OnScreen::of(state) />
            if !presenter {
                <div id="side-tabs" role="tablist" aria-label={t(lang, Key::SideTabs)} onkeydown={on_tabs_key}>
                    { for Side::ALL.into_iter().map(tab) }
                </div>
            }
            { panel(Side::Code, html! { <CodeView ..super::OnScreen::of(state) /> }) }
            if !presenter {
                { panel(Side::Clients, html! { <EchoClients state={state.clone()} /> }) }
                { panel(Side::Load, html! {
                    <>
                        { super::crowd_view::selected_crowd(state) }
                        if !state.replaying() {
                            <LoadPanel model={state.selected_model().cloned()} load={state.load.clone()} lang={lang} />
                        }
                    </>
                }) }
                { panel(Side::Threads, html! { <Threads state={state.clone()} /> }) }
                { panel(Side::Lesson, html! {
                    <>
                        <Lesson model={state.selected_model().cloned()}
                            figure={state.shown_family()} {lang} />
                        <Definitions state={state.clone()} />
                    </>
                }) }
                { panel(Side::Log, html! {
                    <EventLog
                        store={state.events.clone()}
                        model={if state.log_all_models { None } else { state.selected.clone() }}
                        clients={selected_clients}
                        lang={lang}
                        dropped={state.dropped_by_backend}
                        unreadable={state.unreadable}
                    />
                }) }
            }
            if props.shown && !state.replaying() {
                <EchoStrip state={state.clone()} />
            }
        </section>
    }
}

/// Moves the keyboard focus to the element with this id, once it is drawn.
fn focus(id: &str) {
    let id = id.to_owned();
    gloo::timers::callback::Timeout::new(0, move || {
        let element = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&id))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok());
        if let Some(element) = element {
            let _ = element.focus();
        }
    })
    .forget();
}
