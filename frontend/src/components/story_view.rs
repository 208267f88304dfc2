//! `#story`: the kettle story as a 2×2 panel — blocking or not (rows) × synchronous or not
//! (columns), in the story's own sense — each case drawn, told, and linked to the models that
//! act it out; the case of the model on screen is lit. Under it, the one sentence where the
//! story and POSIX disagree. The mapping lives in [`crate::story`].

use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::i18n::{catalogue, t, tf, Key, Lang};
use crate::link::Link;
use crate::state::Action;
use crate::story::Case;
use crate::view::View;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct StoryProps {
    /// The page state.
    pub state: StateHandle,
}

/// `section#story` with one `article.story-case[data-case]` per case (the selected model's
/// case has `data-active`), each holding `svg.story-picture`, its telling and
/// `a.story-model[data-model]` links that select the model and show its figure; `p.story-posix`
/// says where POSIX disagrees.
#[component]
pub fn StoryView(props: &StoryProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let lit = state.selected.as_deref().and_then(Case::of_model);
    let case = |case: Case| {
        let active = lit == Some(case);
        let links = case.models().map(|model| {
            let model = model.id();
            let href = Link {
                model: Some(model.to_owned()),
                view: Some(View::Figure),
                tour: None,
                ..state.link()
            }
            .to_query();
            let dispatch = ctx.dispatch.clone();
            let show = Callback::from(move |e: MouseEvent| {
                // A modified click opens the link in a new tab, as links do.
                if e.ctrl_key() || e.meta_key() || e.shift_key() || e.button() != 0 {
                    return;
                }
                e.prevent_default();
                dispatch.emit(Action::Select(model.to_owned()));
                dispatch.emit(Action::SetView(View::Figure));
            });
            let selected = state.selected.as_deref() == Some(model);
            let title = kettle_shared::model(model).map(|m| catalogue(lang, m.title, m.title_zh));
            html! {
                <a class={classes!("story-model", selected.then_some("selected"))} data-model={model}
                    href={href} onclick={show}
                    title={tf(lang, Key::StoryShowModel, &[&title.unwrap_or(model)])}>
                    { model }
                </a>
            }
        });
        html! {
            <article class={classes!("story-case", active.then_some("active"))} data-case={case.id()}
                data-active={active.then_some("true")}>
                { picture(case, lang) }
                <h3>{ t(lang, case.title()) }</h3>
                <p class="story-telling">{ t(lang, case.telling()) }</p>
                <p class="story-models">
                    <span class="story-acted-by">{ t(lang, Key::StoryActedBy) }</span>
                    { for links }
                </p>
            </article>
        }
    };
    html! {
        <section id="story" data-case={lit.map(Case::id)}>
            <h2>{ t(lang, Key::StoryTitle) }</h2>
            <p class="story-intro">{ t(lang, Key::StoryIntro) }</p>
            <div class="story-grid">
                <div class="story-head story-col">{ t(lang, Key::StorySync) }</div>
                <div class="story-head story-col">{ t(lang, Key::StoryAsync) }</div>
                <div class="story-head story-row">{ t(lang, Key::StoryBlocking) }</div>
                { case(Case::SyncBlocking) }
                { case(Case::AsyncBlocking) }
                <div class="story-head story-row">{ t(lang, Key::StoryNonblocking) }</div>
                { case(Case::SyncNonblocking) }
                { case(Case::AsyncNonblocking) }
            </div>
            <p class="story-posix">{ t(lang, Key::StoryPosix) }</p>
        </section>
    }
}

/// The case drawn: the kettle on the stove (with its whistle and its call when it has one),
/// and Lao Zhang either standing beside it or on the sofa by the TV behind the kitchen wall.
fn picture(case: Case, lang: Lang) -> Html {
    let kitchen = case.stays_in_kitchen();
    html! {
        <svg class="story-picture" viewBox="0 0 240 110" role="img" aria-label={t(lang, case.picture())}>
            <line class="floor" x1="4" y1="100" x2="236" y2="100" />
            // The stove and its flame.
            <rect class="stove" x="22" y="72" width="66" height="28" rx="3" />
            <path class="flame" d="M 46 72 q 4 -8 8 0 q 4 -8 8 0" />
            // The kettle: body, lid knob, handle, spout.
            <path class="kettle" d="M 36 70 Q 34 48 55 45 Q 76 48 74 70 Z" />
            <circle class="kettle" cx="55" cy="42" r="3" />
            <path class="kettle-line" d="M 42 50 Q 55 28 68 50" />
            <path class="kettle-line" d="M 73 60 L 87 47" />
            if case.whistles() {
                <circle class="whistle" cx="88" cy="46" r="4" />
                <path class="sound" d="M 96 42 q 6 -6 0 -12" />
                <path class="sound" d="M 102 46 q 10 -10 0 -22" />
                if !kitchen {
                    <path class="sound" d="M 110 50 q 14 -14 0 -32" />
                }
            }
            if kitchen {
                // Lao Zhang stands beside the stove, looking at the kettle.
                { person_standing(128.0) }
                <rect class="cupboard" x="170" y="18" width="60" height="34" rx="2" />
                <line class="cupboard-line" x1="200" y1="18" x2="200" y2="52" />
            } else {
                // The kitchen wall with its door, and the living room.
                <line class="wall" x1="130" y1="6" x2="130" y2="46" />
                <rect class="tv" x="198" y="40" width="36" height="26" rx="2" />
                <line class="tv-stand" x1="216" y1="66" x2="216" y2="100" />
                <path class="sofa" d="M 146 100 L 146 74 L 154 74 L 154 84 L 186 84 L 186 100 Z" />
                { person_sitting(170.0) }
                if !case.whistles() {
                    // Back and forth to look at the kettle.
                    <path class="walk" d="M 162 60 C 146 26 112 22 92 40" marker-end="url(#story-arrow)" />
                    <defs>
                        <marker id="story-arrow" viewBox="0 0 10 10" refX="8" refY="5"
                            markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                            <path d="M 0 0 L 10 5 L 0 10 z" class="walk-head" />
                        </marker>
                    </defs>
                }
            }
        </svg>
    }
}

fn person_standing(x: f64) -> Html {
    let body = format!(
        "M {x} 45 L {x} 74 M {x} 74 L {l} 98 M {x} 74 L {r} 98 M {x} 54 L {a} 62 M {x} 54 L {r} 64",
        l = x - 7.0,
        r = x + 7.0,
        a = x - 16.0
    );
    html! {
        <g class="person">
            <circle cx={x.to_string()} cy="37" r="7" />
            <path d={body} />
        </g>
    }
}

fn person_sitting(x: f64) -> Html {
    let body = format!(
        "M {x} 61 L {x} 82 M {x} 82 L {k} 82 L {k} 98 M {x} 68 L {h} 74",
        k = x + 14.0,
        h = x + 12.0
    );
    html! {
        <g class="person">
            <circle cx={x.to_string()} cy="53" r="7" />
            <path d={body} />
        </g>
    }
}
