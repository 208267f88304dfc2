//! Kettle's browser frontend: a Yew/WebAssembly page that shows, live, what the backend's
//! model servers do in the kernel.
//!
//! Code map:
//! - pure logic, unit-tested natively: [`state`] (the reducer), [`playback`] (slow-motion
//!   timing), [`diagram`] (the Stevens-style layout), [`format`], [`i18n`], [`decode`],
//!   [`threads`] (CPU share per thread);
//! - browser glue: [`service`] (the WebSocket) and [`components`] (what the page draws).

pub mod components;
pub mod decode;
pub mod diagram;
pub mod format;
pub mod i18n;
pub mod playback;
pub mod service;
pub mod state;
pub mod threads;

pub use components::app::{App, AppProps};
