//! `#errors`: errors from the backend (and commands that could not be sent), each dismissable.

use yew::prelude::*;

use super::Ctx;
use crate::errors::{ErrorNote, Problem};
use crate::i18n::{t, Key, Lang};
use crate::reasons::{error_detail, error_note};
use crate::state::Action;

/// Properties: the errors to show and the page language.
#[derive(Properties, PartialEq, Debug)]
pub struct ErrorListProps {
    /// The errors, oldest first.
    pub errors: Vec<ErrorNote>,
    /// Page language.
    pub lang: Lang,
}

/// `div#errors` (hidden when empty) with `div.error > span.error-text + button.dismiss`.
/// Each error is worded in the current language when drawn; `data-code` holds the protocol's
/// error code (`not_running`…, or `page` for the page's own problems) and `data-detail` the
/// machine's own English words, when there are any, for developer tools.
#[component]
pub fn ErrorList(props: &ErrorListProps) -> Html {
    let ctx = use_context::<Ctx>().expect("Ctx is provided by App");
    let (lang, errors) = (props.lang, &props.errors);
    html! {
        <div id="errors" role="alert" aria-label={t(lang, Key::Errors)} hidden={errors.is_empty()}>
            { for errors.iter().map(|e| {
                let key = e.key;
                let dismiss = ctx.dispatch.reform(move |_: MouseEvent| Action::DismissError(key));
                let code = match &e.problem {
                    Problem::Backend { code, .. } => <&str>::from(*code),
                    Problem::NotConnected | Problem::Garbled(_) => "page",
                    Problem::Recording(_) => "recording",
                };
                html! {
                    <div class="error" key={key} data-key={key.to_string()} data-code={code}
                        data-detail={error_detail(e).map(str::to_owned)}>
                        <span class="error-text">{ error_note(lang, e) }</span>
                        <button class="dismiss" onclick={dismiss}>{ t(lang, Key::Dismiss) }</button>
                    </div>
                }
            }) }
        </div>
    }
}
