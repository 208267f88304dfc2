//! The page's components. Each one only draws state and turns clicks into actions or
//! commands; all decisions live in the pure modules.

pub mod app;
pub mod code_view;
pub mod compare_view;
pub mod crowd_view;
pub mod definitions;
pub mod echo;
pub mod errors;
pub mod event_log;
pub mod experiments_view;
pub mod figure_view;
pub mod header;
pub mod keep_menu;
pub mod keys;
pub mod load_panel;
pub mod models;
pub mod narration;
pub mod page;
pub mod playback_bar;
pub mod question;
pub mod side;
pub mod story_view;
pub mod tour_view;
pub mod views;

use yew::prelude::*;

use crate::service::Sender;
use crate::state::{Action, State};

/// Renders the calling component again whenever the window is resized, so an effect that
/// measures its element (after every render) sees the new size. The listener goes with the
/// component.
#[hook]
pub fn use_rerender_on_resize() {
    let resized = use_state(|| 0u32);
    use_effect_with((), move |_| {
        let listener = web_sys::window().map(|w| {
            gloo::events::EventListener::new(&w, "resize", move |_| resized.set(*resized + 1))
        });
        move || drop(listener)
    });
}

/// The step on screen, for the components that show only it (the narration, the code): the
/// model, its store and where playback is in it, and the page language.
#[derive(Properties, PartialEq, Debug, Clone)]
pub struct OnScreen {
    /// The model shown.
    pub model: Option<String>,
    /// The figure that step is drawn as ([`State::shown_family`]: `None` for a traced program
    /// not recognised at that time).
    pub figure: Option<kettle_shared::Family>,
    /// Its events and steps.
    pub store: Option<std::rc::Rc<crate::store::ModelStore>>,
    /// The step playback is on, an index into the store's steps.
    pub index: Option<usize>,
    /// Page language.
    pub lang: crate::i18n::Lang,
}

impl OnScreen {
    /// What the page has on screen now.
    pub fn of(state: &State) -> OnScreen {
        OnScreen {
            model: state.selected.clone(),
            figure: state.shown_family(),
            store: state.selected_store().cloned(),
            index: state.position().map(|p| p.index),
            lang: state.lang,
        }
    }
}

/// The reducer handle every component reads.
pub type StateHandle = UseReducerHandle<State>;

/// How components act: local actions to the reducer, commands to the backend.
#[derive(Clone, PartialEq, Debug)]
pub struct Ctx {
    /// Dispatches an action to the page state.
    pub dispatch: Callback<Action>,
    /// Sends commands; `None` until the connection exists.
    pub sender: Option<Sender>,
}

impl Ctx {
    /// Sends a command, or reports that it could not be sent.
    pub fn send(&self, command: kettle_shared::Command) {
        match &self.sender {
            Some(sender) => sender.send(command),
            None => self.dispatch.emit(Action::SendFailed(command)),
        }
    }
}
