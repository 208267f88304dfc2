//! `kettle trace -- PROGRAM`: any echo server — a student's own, in any language — drawn as
//! its Stevens figure, live, beside Kettle's own models.
//!
//! The pipeline, one stage per module: [`filter`] (the seccomp-bpf program: the program stops
//! only at the calls a figure draws) → [`tracer`] (the `ptrace` loop: every thread and child,
//! each call's entry and exit timed with Kettle's clock) → [`decode`] (the stops as the same
//! [`EventKind`](kettle_shared::EventKind)s a built-in model records) → [`classify`] (which
//! figure the calls show) → [`program`] (the model `traced`: the recorder, connections, ports,
//! the program's life). [`arrival`] brings phase 1 from Kettle's own echo client, and as root
//! [`ready`] the kernel's word on it. As root, [`passive`] reads a busy program's calls from
//! the kernel's tracepoints instead of stopping it; both read Kettle's own [`tracefs`]
//! instances.

pub mod arrival;
pub mod classify;
pub mod decode;
pub mod filter;
pub mod passive;
pub mod program;
pub mod ready;
pub mod tracefs;
pub mod tracer;
