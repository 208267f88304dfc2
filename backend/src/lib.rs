//! # Kettle's backend
//!
//! Runs real TCP echo servers, one per I/O model ([`models`]), records every system call they
//! make ([`recorder`]), and serves the browser: the built frontend, a small JSON API and a
//! WebSocket that streams the events ([`web`]). The browser's echo client talks to the models
//! through [`relay`].
//!
//! Threads: model servers run on their own OS threads (they block in the kernel on purpose);
//! everything else runs on tokio.

pub mod bench;
pub mod clock;
pub mod experiments;
pub mod failure;
pub mod fault;
pub mod lesson;
pub mod load;
pub mod models;
pub mod proc_task;
pub mod recorder;
pub mod registry;
pub mod relay;
pub mod soak;
pub mod web;

pub use web::{serve, Config, Limits, Server};
