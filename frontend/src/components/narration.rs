//! `#narration`: what the step on screen means, in one sentence, under the figure.
//!
//! The sentence comes from [`crate::narration`]; this component only finds the step playback
//! is on and remembers the sentence until the step, the model's store or the language changes
//! (playback re-renders 25 times a second; the sentence changes a few times a second at most).

use yew::prelude::*;

use super::OnScreen;
use crate::i18n::{t, Key};
use crate::narration::narrate;

/// `p#narration[data-seq][aria-live=polite]`: the sentence of the current step (`data-seq` is
/// the step's event, the same as `#figure[data-seq]`), read out by screen readers as it
/// changes.
#[component]
pub fn Narration(props: &OnScreen) -> Html {
    let OnScreen { model, figure, store, index, lang } = props.clone();
    let revision = store.as_ref().map(|s| s.revision());
    let said =
        use_memo((model, figure, revision, index, lang), move |(model, figure, _, index, lang)| {
            match (model, store, index) {
                (Some(model), Some(store), Some(i)) if *i < store.steps().list.len() => {
                    let seq = store.steps().list[*i].event.seq;
                    (narrate(&store, *i, model, *figure, *lang), Some(seq))
                }
                _ => (t(*lang, Key::NoStepsYet).to_owned(), None),
            }
        });
    let (text, seq) = &*said;
    html! {
        <p id="narration" aria-live="polite" aria-label={t(lang, Key::Narration)}
            data-seq={seq.map(|s| AttrValue::from(s.to_string()))}>
            { text }
        </p>
    }
}
