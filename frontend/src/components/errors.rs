//! `#errors`: errors from the backend (and commands that could not be sent), each dismissable.

use yew::prelude::*;

use super::{Ctx, StateHandle};
use crate::i18n::{t, Key};
use crate::state::Action;

/// Properties: the page state.
#[derive(Properties, PartialEq, Debug)]
pub struct ErrorListProps {
    /// The page state.
    pub state: StateHandle,
}

/// `div#errors` (hidden when empty) with `div.error > span.error-text + button.dismiss`.
#[component]
pub fn ErrorList(props: &ErrorListProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let lang = props.state.lang;
    let errors = &props.state.errors;
    html! {
        <div id="errors" role="alert" aria-label={t(lang, Key::Errors)} hidden={errors.is_empty()}>
            { for errors.iter().map(|e| {
                let key = e.key;
                let dismiss = ctx.dispatch.reform(move |_: MouseEvent| Action::DismissError(key));
                html! {
                    <div class="error" key={key} data-key={key.to_string()}>
                        <span class="error-text">{ &e.text }</span>
                        <button class="dismiss" onclick={dismiss}>{ t(lang, Key::Dismiss) }</button>
                    </div>
                }
            }) }
        </div>
    }
}
