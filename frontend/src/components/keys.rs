//! The keyboard shortcuts for the teacher at the projector, read from the document's
//! `keydown`: what each key means ([`key_action`], pure) and the listener ([`use_keyboard`]).

use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use web_sys::{Element, KeyboardEvent};
use yew::prelude::*;

use crate::screen::ScreenAction;
use crate::state::Action;

/// What a key means depends on: the tour runs (→ is "next stop"), the model picker is open
/// (`Esc` closes it first).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeysContext {
    /// The guided tour runs.
    pub touring: bool,
    /// The model picker is open.
    pub picker_open: bool,
}

/// Keyboard shortcuts for the teacher at the projector; typing in an input is left alone, and
/// Space on a focused control presses that control, as it does on every page.
fn on_key(event: &Event, dispatch: &Callback<Action>, keys: KeysContext) {
    let Some(key) = event.dyn_ref::<KeyboardEvent>() else { return };
    if key.ctrl_key() || key.meta_key() || key.alt_key() {
        return;
    }
    let focused = event.target().and_then(|t| t.dyn_into::<Element>().ok());
    let tag = focused.as_ref().map(Element::tag_name).unwrap_or_default();
    if let Some(action) = key_action(&key.key(), &tag, keys) {
        // Space would otherwise scroll the page.
        event.prevent_default();
        dispatch.emit(action);
    }
}

/// What `key` pressed with focus on a `tag` element means, if anything: typing in an input is
/// left alone, and Space on a focused control presses that control, as on every page.
pub fn key_action(key: &str, tag: &str, keys: KeysContext) -> Option<Action> {
    let KeysContext { touring, picker_open } = keys;
    if matches!(tag, "INPUT" | "SELECT" | "TEXTAREA") {
        return None;
    }
    let space = matches!(key, " " | "Spacebar");
    if space && matches!(tag, "BUTTON" | "A" | "SUMMARY") {
        return None;
    }
    Some(match key {
        " " | "Spacebar" => Action::TogglePause,
        // During the tour → is the teacher's "next slide"; the step button still steps.
        "Escape" if picker_open => Action::Screen(ScreenAction::ClosePicker),
        "ArrowRight" if touring => Action::TourNext,
        "Escape" if touring => Action::TourLeave,
        "t" | "T" if !touring => Action::TourGo(0),
        "ArrowRight" => Action::Step,
        "ArrowLeft" => Action::StepBack,
        "+" | "=" => Action::Faster,
        "-" | "_" => Action::Slower,
        "l" | "L" => Action::ToggleLang,
        "f" | "F" => Action::Screen(ScreenAction::TogglePresenter),
        _ => return None,
    })
}

/// Listens to the document's keys for as long as the page lives; what they mean follows
/// `now` (read through a cell, so the listener is made once).
#[hook]
pub fn use_keyboard(dispatch: Callback<Action>, now: KeysContext) {
    let keys = use_mut_ref(KeysContext::default);
    *keys.borrow_mut() = now;
    use_effect_with((), move |_| {
        let listener = web_sys::window().and_then(|w| w.document()).map(|doc| {
            EventListener::new_with_options(
                &doc,
                "keydown",
                EventListenerOptions::enable_prevent_default(),
                move |e| on_key(e, &dispatch, *keys.borrow()),
            )
        });
        move || drop(listener)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: KeysContext = KeysContext { touring: false, picker_open: false };
    const TOUR: KeysContext = KeysContext { touring: true, picker_open: false };

    #[test]
    fn arrows_step_on_the_page_and_move_the_tour_on_during_it() {
        assert_eq!(key_action("ArrowRight", "BODY", PAGE), Some(Action::Step));
        assert_eq!(key_action("ArrowRight", "BODY", TOUR), Some(Action::TourNext));
        assert_eq!(key_action("ArrowLeft", "BODY", TOUR), Some(Action::StepBack));
        assert_eq!(key_action("t", "BODY", PAGE), Some(Action::TourGo(0)));
        assert_eq!(key_action("t", "BODY", TOUR), None, "no restart mid-tour");
    }

    #[test]
    fn escape_closes_the_model_menu_before_it_leaves_the_tour() {
        let both = KeysContext { touring: true, picker_open: true };
        assert_eq!(
            key_action("Escape", "BODY", both),
            Some(Action::Screen(ScreenAction::ClosePicker))
        );
        assert_eq!(key_action("Escape", "BODY", TOUR), Some(Action::TourLeave));
        assert_eq!(key_action("Escape", "BODY", PAGE), None);
    }

    #[test]
    fn typing_is_left_alone_and_space_presses_a_focused_control() {
        for tag in ["INPUT", "SELECT", "TEXTAREA"] {
            assert_eq!(key_action("l", tag, PAGE), None, "{tag}");
            assert_eq!(key_action(" ", tag, PAGE), None, "{tag}");
        }
        for tag in ["BUTTON", "A", "SUMMARY"] {
            assert_eq!(key_action(" ", tag, PAGE), None, "{tag}: the control's own Space");
            assert_eq!(
                key_action("f", tag, PAGE),
                Some(Action::Screen(ScreenAction::TogglePresenter))
            );
        }
        assert_eq!(key_action(" ", "BODY", PAGE), Some(Action::TogglePause));
    }
}
