//! Kettle's browser frontend: a Yew/WebAssembly page that shows, live, what the backend's
//! model servers do in the kernel.
//!
//! Code map:
//! - pure logic, unit-tested natively: [`state`] (the reducer), [`store`] (each model's
//!   events and figure steps), [`code`] (each model's serving loop and the line of each
//!   step), [`timeline`] (lanes, calls matched to returns, the two phases),
//!   [`figures`] (one module per Stevens figure, and their layout), [`compare`] (Fig. 6.6's
//!   state), [`crowd`] (a model's connections under load as counts and rates), [`labels`] (what each step says), [`narration`] (what each step means, one
//!   sentence), [`playback`] (slow-motion timing and time travel), [`format`],
//!   [`i18n`] (every string, both languages), [`reasons`] (the backend's reasons in words),
//!   [`decode`], [`threads`] (CPU share and the kernel's view per thread), [`kernel`] (the
//!   kernel's words on a thread), [`definitions`] (the tutorial's definitions and the threads
//!   that show them), [`tour`] (the guided tour), [`questions`] (its questions: answer, reveal, vote, score), [`view`] (which panel the figure column
//!   shows), [`story`] (the kettle story's cases and their models), [`link`] (the address
//!   that restores the page), [`screen`] (theme, presenter mode, the side column's panel),
//!   [`keep`] (recordings the page saves and replays, links to a step, saved files' names);
//! - browser glue: [`service`] (the WebSocket) and [`components`] (what the page draws).

pub mod classroom;
pub mod code;
pub mod compare;
pub mod components;
pub mod crowd;
pub mod decode;
pub mod definitions;
pub mod errors;
pub mod experiments;
pub mod figures;
pub mod format;
pub mod i18n;
pub mod keep;
pub mod kernel;
pub mod labels;
pub mod link;
pub mod narration;
pub mod playback;
pub mod questions;
pub mod reasons;
pub mod screen;
pub mod service;
pub mod state;
pub mod store;
pub mod story;
pub mod threads;
pub mod timeline;
pub mod tour;
pub mod view;

pub use components::app::{App, AppProps};
