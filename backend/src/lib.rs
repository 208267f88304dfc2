//! # Kettle's backend
//!
//! Runs real TCP echo servers, one per I/O model ([`models`]), records every system call they
//! make ([`recorder`]), and serves the browser: the built frontend, a small JSON API and a
//! WebSocket that streams the events ([`web`]). The browser's echo client talks to the models
//! through [`relay`].
//!
//! Threads: model servers run on their own OS threads (they block in the kernel on purpose);
//! everything else runs on tokio.
//!
//! ## The server core
//!
//! | module | what it is |
//! |---|---|
//! | [`models`] | the echo servers, one file per I/O model behind one contract |
//! | [`registry`] | which models exist and run; start, stop, the monitor thread |
//! | [`recorder`] | the bounded event path from model threads to viewers |
//! | [`web`] | the HTTP + WebSocket front ([`serve`], [`Config`], [`Limits`], [`Server`]) |
//! | [`relay`] | the browser echo client's real TCP connections |
//! | [`lesson`] | the lesson's computation (synchronous, never asleep) |
//! | [`proc`] | everything read from `/proc`: a thread's kernel view, a process, the TCP table |
//! | [`clock`], [`failure`], [`fault`] | one monotonic clock; errors as `Reason`s; faults on purpose |
//!
//! ## The tools
//!
//! [`tools`]: the load generator (also behind the page's load panel), the experiments (also
//! behind the page's experiments view), `kettle bench`, `kettle soak`, and the one HTTP client
//! the tools and the tests share. They use the core above only through its public items, as
//! any other program could.

pub mod clock;
pub mod failure;
pub mod fault;
pub mod lesson;
pub mod models;
pub mod proc;
pub mod recorder;
pub mod registry;
pub mod relay;
pub mod web;

pub mod tools;
pub mod trace;

pub use web::{serve, Config, Limits, Server};
