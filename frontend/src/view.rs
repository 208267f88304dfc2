//! Which view the stage shows. A projector shows one thing at a time: the chosen model's own
//! Stevens figure, the measured Fig. 6.6 comparison, the kettle story the project is named
//! after, or the experiments (the tutorial's claims, measured). The choice is a tab in the
//! header and part of the page's link (`view=`), so a reload or a shared link opens the same
//! view. The enum is the protocol's [`View`] ("follow me" sends it, the tour's stops name it);
//! here are only its words on the page.

pub use kettle_shared::View;

use crate::i18n::Key;

/// The tab's label: short, for the header's one line (the full name is [`label`]).
pub fn short_label(view: View) -> Key {
    match view {
        View::Figure => Key::ViewFigure,
        View::Compare => Key::ViewCompareShort,
        View::Story => Key::ViewStoryShort,
        View::Experiments => Key::ViewExperiments,
    }
}

/// The view's full name (the tab's title).
pub fn label(view: View) -> Key {
    match view {
        View::Figure => Key::ViewFigure,
        View::Compare => Key::ViewCompare,
        View::Story => Key::ViewStory,
        View::Experiments => Key::ViewExperiments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_is_named_back_by_its_own_word() {
        for view in View::ALL.iter().copied() {
            assert_eq!(View::from_id(view.id()), Some(view));
            let json = serde_json::to_string(&view).unwrap();
            assert_eq!(json, format!("\"{}\"", view.id()), "the link's word is the wire's");
        }
        assert_eq!(View::from_id("Figure"), None, "words are exact");
        assert_eq!(View::from_id(""), None);
    }

    #[test]
    fn every_view_has_a_short_and_a_full_name() {
        for view in View::ALL.iter().copied() {
            let (short, full) = (
                crate::i18n::t(crate::i18n::Lang::En, short_label(view)),
                crate::i18n::t(crate::i18n::Lang::En, label(view)),
            );
            assert!(!short.is_empty() && full.len() >= short.len(), "{view:?}: {short} / {full}");
        }
    }
}
