//! # The tools: what measures, loads and proves the server, kept apart from it
//!
//! The server core (the rest of this crate) serves the page; the tools drive it from outside.
//! Each one uses the core only through its public items, as another program would, so a tool
//! can change without the server changing and the server's own code reads without them:
//!
//! | tool | command | what it does |
//! |---|---|---|
//! | [`load`] | `kettle load`, the page's load panel (`LoadStart`) | many echo clients on one model's port, every echo checked |
//! | [`experiments`] | `kettle experiment`, the page's experiments view (`ExperimentRun`) | the tutorial's claims as measurements, in models of their own |
//! | [`bench`] | `kettle bench` (its generator: `kettle bench-load`) | every model and two plain servers under the same load |
//! | [`soak`] | `kettle soak` | many viewers, many restarts and faults against a `kettle serve` child |
//! | [`recording`] | `kettle record`, `kettle export` | a running Kettle's events kept as a recording; a recording exported for Perfetto |
//! | [`http`] | — | the one HTTP/1.1 client of the tools and the integration tests |
//!
//! The web front calls into two of them ([`load::Loads`], [`experiments::run`]) because the
//! page starts loads and experiments; nothing in the tools reaches into the web front.

pub mod bench;
pub mod experiments;
pub mod http;
pub mod load;
pub mod recording;
pub mod soak;
