//! `#views`: the view tabs in the header. A projector shows one panel at a time; the tabs are
//! plain buttons, so Tab and Enter reach them like every other control.

use yew::prelude::*;

use super::Ctx;
use crate::i18n::{t, Key, Lang};
use crate::state::Action;
use crate::view::View;

/// Properties: the view shown and the page language.
#[derive(Properties, PartialEq, Debug)]
pub struct ViewTabsProps {
    /// The view shown.
    pub shown: View,
    /// Page language.
    pub lang: Lang,
    /// A recording plays: the experiments, which a server runs, are not offered.
    #[prop_or_default]
    pub replaying: bool,
}

/// `nav#views` with one `button[data-view]` per view; the one shown carries `data-active`
/// and `aria-pressed="true"`.
#[component]
pub fn ViewTabs(props: &ViewTabsProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let (lang, shown) = (props.lang, props.shown);
    html! {
        <nav id="views" aria-label={t(lang, Key::Views)}>
            { for View::ALL.iter().copied().filter(|v| !(props.replaying && *v == View::Experiments)).map(|view| {
                let active = view == shown;
                let show = ctx.dispatch.reform(move |_: MouseEvent| Action::SetView(view));
                html! {
                    <button class={classes!("view-tab", active.then_some("active"))} data-view={view.id()}
                        data-active={active.then_some("true")} aria-pressed={active.to_string()} onclick={show}
                        title={t(lang, crate::view::label(view))}>
                        { t(lang, crate::view::short_label(view)) }
                    </button>
                }
            }) }
        </nav>
    }
}
