//! Fig. 6.2, non-blocking I/O: the `nonblocking` busy loop.
//!
//! The lesson is in the timeline: one thread asking `recv` (and `accept`) again and again,
//! each answer `EAGAIN`, drawn as a staircase whose row counts the calls and their rate, the
//! lane marked with the thread's CPU share (a whole core), until the one `recv` that finds
//! data — which still sleeps while the kernel copies it. The panel shows the sockets it polls:
//! the listen backlog and each connection's receive buffer, empty while the calls return
//! `EAGAIN`, lit the moment data arrives.

use super::{backlog, buffers, Moment, Widget};

/// The panel of the busy loop.
pub fn panel(at: &Moment<'_>) -> Vec<Widget> {
    vec![backlog(at), buffers(at)]
}
