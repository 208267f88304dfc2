//! `#definitions`: the tutorial's three definitions, each with a button that lights the part
//! of the figure showing it, and beside them its contrast from real threads — a computation
//! (synchronous, never asleep: `R`) next to the blocking model's thread asleep in `recv`.
//! The logic is in [`crate::definitions`]; the words of the kernel in [`crate::kernel`].

use kettle_shared::{Command, ModelState};
use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::definitions::{blocked, computing, toggle, BLOCKING_MODEL, COMPUTE_MS, DEFINITIONS};
use crate::i18n::{t, tf, Key, Lang};
use crate::kernel::{describe, sched_state, wchan, Detail};
use crate::threads::ThreadLoad;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct DefinitionsProps {
    /// The page state.
    pub state: StateHandle,
}

/// `section#definitions` with `.definition[data-definition]` (its `button.point` sets
/// `<html data-point>`, which the figure's CSS lights) and `.contrast` holding
/// `.contrast-thread[data-role="compute"|"blocked-recv"][data-sched-state][data-wchan]`,
/// `button#compute` and `button#block-recv`.
#[component]
pub fn Definitions(props: &DefinitionsProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let state = &props.state;
    let lang = state.lang;
    let lit = use_state(|| None::<&'static str>);
    {
        // The figure is another component: the light goes on the document's root, as `lang`
        // does, and goes off when this panel goes.
        use_effect_with(*lit, move |point| {
            let root =
                web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element());
            if let Some(root) = &root {
                let _ = match point {
                    Some(p) => root.set_attribute("data-point", p),
                    None => root.remove_attribute("data-point"),
                };
            }
            move || {
                if let Some(root) = root {
                    let _ = root.remove_attribute("data-point");
                }
            }
        });
    }
    let definitions = DEFINITIONS.iter().map(|d| {
        let on = *lit == Some(d.point);
        let press = {
            let lit = lit.clone();
            let point = d.point;
            Callback::from(move |_: MouseEvent| lit.set(toggle(*lit, point)))
        };
        html! {
            <div class={classes!("definition", on.then_some("lit"))} data-definition={d.point}>
                <h3>{ t(lang, d.title) }</h3>
                <p>{ t(lang, d.text) }</p>
                <button class="point" onclick={press} aria-pressed={on.to_string()}>
                    { t(lang, if on { Key::DefPointOff } else { d.button }) }
                </button>
            </div>
        }
    });

    let computing = computing(&state.threads);
    let compute = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.send(Command::Compute { ms: COMPUTE_MS }))
    };
    let blocked = blocked(&state.threads);
    let running =
        state.models.iter().any(|m| m.id == BLOCKING_MODEL && m.state == ModelState::Running);
    let has_client = state.clients.iter().any(|c| c.model == BLOCKING_MODEL && c.closed.is_none());
    let block = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| {
            // The viewer carries out commands in order: the client opens once it runs.
            if !running {
                ctx.send(Command::Start { model: BLOCKING_MODEL.into() });
            }
            ctx.send(Command::EchoOpen { model: BLOCKING_MODEL.into(), port: None });
        })
    };
    html! {
        <section id="definitions">
            <h2>{ t(lang, Key::Definitions) }</h2>
            <div class="defs">{ for definitions }</div>
            <h3>{ t(lang, Key::ContrastTitle) }</h3>
            <p>{ t(lang, Key::ContrastText) }</p>
            <div class="contrast">
                { card("compute", Key::ContrastCompute, computing, Key::ContrastComputeIdle, lang, html! {
                    <button id="compute" onclick={compute} disabled={computing.is_some()}>
                        { t(lang, Key::ContrastComputeStart) }
                    </button>
                }) }
                { card("blocked-recv", Key::ContrastRecv, blocked, Key::ContrastRecvIdle, lang, html! {
                    if !has_client {
                        <button id="block-recv" onclick={block}>{ t(lang, Key::ContrastRecvStart) }</button>
                    }
                }) }
            </div>
        </section>
    }
}

/// One thread of the contrast: the kernel's state letter, large, and its words.
fn card(
    role: &'static str,
    title: Key,
    thread: Option<&ThreadLoad>,
    idle: Key,
    lang: Lang,
    action: Html,
) -> Html {
    let kernel = thread.and_then(|l| l.kernel.as_ref());
    let letter = kernel.and_then(sched_state).map(|s| AttrValue::from(s.to_owned()));
    let wchan = kernel.and_then(wchan).map(|w| AttrValue::from(w.to_owned()));
    let body = match (thread, kernel) {
        (None, _) => html! { <p class="muted">{ t(lang, idle) }</p> },
        (Some(_), None) => html! { <p class="muted">{ t(lang, Key::ContrastNoView) }</p> },
        (Some(l), Some(k)) => {
            let cpu = l.cpu_percent.map(|p| tf(lang, Key::LaneCpu, &[&format!("{p:.0}")]));
            html! {
                <p>
                    <span class="letter">{ letter.clone().unwrap_or_default() }</span>
                    <span class="words">{ describe(k, lang, Detail::Full) }</span>
                    { for cpu.map(|c| html! { <span class="muted">{ format!(" · {c}") }</span> }) }
                </p>
            }
        }
    };
    html! {
        <div class="contrast-thread" data-role={role} data-sched-state={letter} data-wchan={wchan}>
            <h3>{ t(lang, title) }</h3>
            { body }
            { action }
        </div>
    }
}
