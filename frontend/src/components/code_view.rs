//! `#code-panel`: the chosen model's serving loop, from its own source file, with the line that
//! made the figure's current step lit ([`crate::code`]).
//!
//! The lines are drawn by an inner component whose properties are the model and the lit line
//! only, so the playback clock's 25 ticks a second re-render them only when the lit line moves.
//! The lit line is scrolled into view inside the panel, never by scrolling the page: the
//! teacher's figure must stay where it is.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::OnScreen;
use crate::code::{fetch_missing, loading, of_model, Lit, Loading, Why};
use crate::i18n::{t, tf, Key, Lang};
use kettle_shared::ModelId;

/// `section#code-panel` with `p#code-caption` (why this line, or why none) and
/// `div#code[data-model][data-call][data-kind][data-why]` holding one `div.excerpt[data-file]`
/// per excerpt and one `div.code-line[data-line][data-file]` per line; the lit line has
/// `data-current`. `data-call` names the call the lit line makes (empty when none is lit),
/// `data-kind` the current step's kind, `data-why` why nothing is lit (`kernel`, `glibc`,
/// `client`, `outside`, `no-step`). A traced program has no `#code`: the caption says Kettle does
/// not have its source.
#[component]
pub fn CodeView(props: &OnScreen) -> Html {
    let lang = props.lang;
    let code = props.model.as_deref().and_then(of_model);
    // The page fetches a model's code when it is first shown, and draws again as it arrives.
    let redraw = use_force_update();
    use_effect_with(code.map(|c| c.model), move |_| {
        if let Some(code) = code {
            fetch_missing(code, move || redraw.force_update());
        }
    });
    let loaded = code.map_or(Loading::Done, loading);
    let step = props.store.as_ref().zip(props.index).and_then(|(store, index)| {
        let steps = store.steps().clone();
        let index = index.min(steps.list.len().checked_sub(1)?);
        Some((steps, index))
    });
    let lit = match (code, &step) {
        (Some(code), Some((steps, index))) => code.lit(&steps.list, *index),
        _ => Lit::None(Why::NoStep),
    };
    let kind = step.as_ref().map(|(steps, i)| steps.list[*i].event.kind.name()).unwrap_or_default();
    let traced = props.model.as_deref().map(str::parse) == Some(Ok(ModelId::Traced));
    let caption = match (code, lit) {
        // Not an error: there is no source to show, and the caption says so.
        (None, _) if traced => t(lang, Key::CodeNotOurs).to_owned(),
        (None, _) => t(lang, Key::CodeNoModel).to_owned(),
        (Some(_), _) if loaded == Loading::Waiting => t(lang, Key::CodeLoading).to_owned(),
        (Some(_), _) if let Loading::Failed(e) = &loaded => tf(lang, Key::CodeUnavailable, &[e]),
        (Some(code), Lit::Line { excerpt, line, call }) => {
            tf(lang, Key::CodeLit, &[&line, &code.excerpts[excerpt].file, &call])
        }
        (Some(_), Lit::None(why)) => t(lang, why_key(why)).to_owned(),
    };
    html! {
        <section id="code-panel">
            <h2>{ t(lang, Key::CodeTitle) }</h2>
            <p id="code-caption" title={caption.clone()}>{ caption }</p>
            if let Some(code) = code {
                <CodeLines model={code.model.id()} {lit} kind={kind} {lang}
                    loaded={code.excerpts.iter().filter(|x| x.is_loaded()).count()} />
            }
        </section>
    }
}

/// Scrolls the panel (only the panel) so that its lit line sits in the middle, if the line is
/// not comfortably inside already.
fn keep_lit_line_in_view(panel: &web_sys::Element) {
    let Ok(Some(line)) = panel.query_selector("[data-current]") else { return };
    let (p, l) = (panel.get_bounding_client_rect(), line.get_bounding_client_rect());
    if p.height() <= 0.0 {
        return; // hidden: done when it is shown again
    }
    let margin = (l.height() * 2.0).min((p.height() - l.height()) / 2.0).max(0.0);
    if l.top() < p.top() + margin || l.bottom() > p.bottom() - margin {
        let middle = l.top() - p.top() - (p.height() - l.height()) / 2.0;
        panel.set_scroll_top(panel.scroll_top() + middle.round() as i32);
    }
}

fn why_key(why: Why) -> Key {
    match why {
        Why::Kernel => Key::CodeKernel,
        Why::Glibc => Key::CodeGlibc,
        Why::Client => Key::CodeClient,
        Why::Outside => Key::CodeOutside,
        Why::NoStep => Key::CodeNoStep,
    }
}

/// Properties of the lines: cheap to compare, so they re-render only when something moved.
#[derive(Properties, PartialEq, Debug)]
struct LinesProps {
    model: &'static str,
    lit: Lit,
    kind: &'static str,
    lang: Lang,
    /// How many of the model's excerpts are here: the lines draw again as each arrives.
    loaded: usize,
}

#[component]
fn CodeLines(props: &LinesProps) -> Html {
    let holder = use_node_ref();
    let current = match props.lit {
        Lit::Line { excerpt, line, .. } => Some((excerpt, line)),
        Lit::None(_) => None,
    };
    {
        // Bring the lit line into the panel's view when it moves, by scrolling the panel only
        // (`scrollIntoView` would scroll the page too).
        let holder = holder.clone();
        use_effect_with((props.model, current), move |_| {
            if let Some(panel) = holder.cast::<web_sys::Element>() {
                keep_lit_line_in_view(&panel);
            }
        });
    }
    {
        // And when the panel itself changes size (presenter mode, a tour stop's text, the
        // window, the panel shown again after another tab): the line may have left the view.
        let holder = holder.clone();
        use_effect_with(props.model, move |_| {
            let watch = holder.cast::<web_sys::Element>().and_then(|panel| {
                let target = panel.clone();
                let on_resize = Closure::<dyn FnMut()>::new(move || keep_lit_line_in_view(&target));
                let observer =
                    web_sys::ResizeObserver::new(on_resize.as_ref().unchecked_ref()).ok()?;
                observer.observe(&panel);
                Some((observer, on_resize))
            });
            move || {
                if let Some((observer, _on_resize)) = watch {
                    observer.disconnect();
                }
            }
        });
    }
    let Some(code) = of_model(props.model) else { return html! {} };
    let (call, why) = match props.lit {
        Lit::Line { call, .. } => (call, ""),
        Lit::None(why) => ("", why.id()),
    };
    html! {
        <div id="code" ref={holder} data-model={code.model.id()} data-call={call} data-kind={props.kind}
            data-why={why} tabindex="0">
            { for code.excerpts.iter().enumerate().map(|(i, x)| {
                let indent = x.common_indent();
                html! {
                <div class="excerpt" data-file={x.file}>
                    <div class="excerpt-head">{ tf(props.lang, Key::CodeExcerpt, &[&x.file, &x.first(), &x.last()]) }</div>
                    { for x.lines().map(|(n, text)| {
                        let lit = current == Some((i, n));
                        let comment = text.trim_start().starts_with("//");
                        html! {
                            <div class={classes!("code-line", comment.then_some("comment"))}
                                data-line={n.to_string()} data-file={x.file} data-current={lit.then_some("true")}>
                                <span class="ln">{ n }</span>
                                <span class="src">{ text.get(indent..).unwrap_or(text.trim_start()) }</span>
                            </div>
                        }
                    }) }
                </div>
                }
            }) }
        </div>
    }
}
