//! `kettle trace -- PROGRAM`: any echo server drawn as its Stevens figure (issue 18, in
//! progress). So far: the tracer itself — the seccomp filter that stops the program only at
//! the calls a figure draws ([`filter`]) and the `ptrace` loop that follows its threads and
//! children and times each call's entry and exit with Kettle's clock ([`tracer`]).

pub mod arrival;
pub mod classify;
pub mod decode;
pub mod filter;
pub mod program;
pub mod tracer;
