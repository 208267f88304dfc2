//! Which panel the figure column shows. A projector shows one thing at a time: the chosen
//! model's own Stevens figure, the measured Fig. 6.6 comparison, the kettle story the
//! project is named after, or the experiments (the tutorial's claims, measured). The choice is a tab above the column, and part of the page's link
//! (`view=`), so a reload or a shared link opens the same panel.

use crate::i18n::Key;

/// A panel of the figure column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// The chosen model's figure (Stevens Fig. 6.1–6.5), with the playback bar.
    #[default]
    Figure,
    /// Fig. 6.6: one line through several models, measured side by side.
    Compare,
    /// The kettle story's four cases, linked to the models that act them out.
    Story,
    /// The tutorial's claims as experiments: run, chart, table, export.
    Experiments,
}

impl View {
    /// Every view, in the order of the tabs.
    pub const ALL: [View; 4] = [View::Figure, View::Compare, View::Story, View::Experiments];

    /// The word in the link and in `data-view`.
    pub fn id(self) -> &'static str {
        match self {
            View::Figure => "figure",
            View::Compare => "compare",
            View::Story => "story",
            View::Experiments => "experiments",
        }
    }

    /// The view a word names, if any.
    pub fn from_id(id: &str) -> Option<View> {
        View::ALL.into_iter().find(|v| v.id() == id)
    }

    /// The same panel as the protocol names it ("follow me").
    pub fn panel(self) -> kettle_shared::Panel {
        use kettle_shared::Panel;
        match self {
            View::Figure => Panel::Figure,
            View::Compare => Panel::Compare,
            View::Story => Panel::Story,
            View::Experiments => Panel::Experiments,
        }
    }

    /// The view showing a panel of the protocol.
    pub fn of_panel(panel: kettle_shared::Panel) -> View {
        use kettle_shared::Panel;
        match panel {
            Panel::Figure => View::Figure,
            Panel::Compare => View::Compare,
            Panel::Story => View::Story,
            Panel::Experiments => View::Experiments,
        }
    }

    /// The tab's label: short, for the header's one line (the full name is [`View::label`]).
    pub fn short_label(self) -> Key {
        match self {
            View::Figure => Key::ViewFigure,
            View::Compare => Key::ViewCompareShort,
            View::Story => Key::ViewStoryShort,
            View::Experiments => Key::ViewExperiments,
        }
    }

    /// The tab's full name.
    pub fn label(self) -> Key {
        match self {
            View::Figure => Key::ViewFigure,
            View::Compare => Key::ViewCompare,
            View::Story => Key::ViewStory,
            View::Experiments => Key::ViewExperiments,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_view_is_named_back_by_its_own_word() {
        for view in View::ALL {
            assert_eq!(View::from_id(view.id()), Some(view));
        }
        assert_eq!(View::from_id("Figure"), None, "words are exact");
        assert_eq!(View::from_id(""), None);
    }

    #[test]
    fn every_view_is_a_panel_of_the_protocol_and_back() {
        for view in View::ALL {
            assert_eq!(View::of_panel(view.panel()), view);
        }
    }
}
