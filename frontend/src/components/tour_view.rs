//! The guided tour's strip, the narration's neighbour at the top of the side column: which
//! stop, what to look at, how far the stop has got (starting the model, waiting for the
//! accept, waiting for the moment), and the buttons to move on or leave.

use yew::prelude::*;

use super::Ctx;
use crate::i18n::{t, tf, Key, Lang};
use crate::state::Action;
use crate::tour::{Progress, Tour, STOPS};

/// Properties: the tour (while it runs) and the page language.
#[derive(Properties, PartialEq, Debug)]
pub struct TourViewProps {
    /// The tour; nothing is drawn without one.
    pub tour: Option<Tour>,
    /// Page language.
    pub lang: Lang,
}

/// `section#tour[data-step][data-state]` while the tour runs (`data-step` counts from 1);
/// nothing otherwise.
#[component]
pub fn TourView(props: &TourViewProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.lang;
    let Some(tour) = &props.tour else { return html! {} };
    let stop = tour.current();
    let status = match tour.progress {
        Progress::Starting => Key::TourStarting,
        Progress::Opening => Key::TourOpening,
        Progress::Watching { .. } => Key::TourWatching,
        Progress::Arrived { .. } => Key::TourArrived,
        Progress::Ready => Key::TourReady,
        Progress::Unavailable => Key::TourUnavailable,
    };
    let last = tour.stop + 1 == STOPS.len();
    let next = ctx.dispatch.reform(|_: MouseEvent| Action::TourNext);
    let back = ctx.dispatch.reform(|_: MouseEvent| Action::TourBack);
    let leave = ctx.dispatch.reform(|_: MouseEvent| Action::TourLeave);
    html! {
        <section id="tour" class={classes!("tour", tour.progress.id())}
            data-step={(tour.stop + 1).to_string()} data-state={tour.progress.id()}
            aria-label={tf(lang, Key::TourOf, &[&(tour.stop + 1), &STOPS.len()])}>
            <header>
                <span class="tour-count" title={tf(lang, Key::TourOf, &[&(tour.stop + 1), &STOPS.len()])}>
                    { tf(lang, Key::TourOfShort, &[&(tour.stop + 1), &STOPS.len()]) }
                </span>
                <h2>{ t(lang, stop.title) }</h2>
                <div class="tour-buttons">
                    <button id="tour-back" onclick={back} disabled={tour.stop == 0}
                        aria-label={t(lang, Key::TourBack)} title={t(lang, Key::TourBack)}>{ "←" }</button>
                    <button id="tour-next" onclick={next} title="→">
                        { t(lang, if last { Key::TourFinish } else { Key::TourNext }) }
                    </button>
                    <button id="tour-leave" onclick={leave} title={t(lang, Key::TourLeave)}
                        aria-label={t(lang, Key::TourLeave)}>{ t(lang, Key::TourLeaveShort) }</button>
                </div>
            </header>
            <p class="tour-status" data-done={tour.progress.done().to_string()} role="status">{ t(lang, status) }</p>
            <p class="tour-text">{ t(lang, stop.text) }</p>
        </section>
    }
}
