//! # I/O multiplexing with `poll(2)` — Stevens Fig. 6.3
//!
//! The select server with `poll` as the waiting call: one thread sleeps in `poll` over the
//! listener and every connection, then accepts or makes one `recv`/`send` on each ready one.
//!
//! ## What a student should notice
//!
//! - The picture is the select one: phase 1 is spent in `poll`, the `recv` after it only copies
//!   (its `wait_ns` is 0), and a message costs two system calls.
//! - `poll` takes an array of `{fd, events}` instead of bitmaps, so there is no `FD_SETSIZE`
//!   limit: descriptors of any number can be watched.
//! - It keeps select's cost: the whole array is passed on every call, and user space walks every
//!   entry's `revents` to find the ready ones. `wait_enter.watched` against
//!   `wait_returned.ready` shows how many entries were looked at for how few results
//!   (`scanned` is the array's length).
//!
//! ## Differences from the tutorial, and why
//!
//! The tutorial names poll without a program; this is its select server with `poll`, with the
//! same additions as the select model (non-blocking connections with a bounded reply queue,
//! half-close, resets, a paced retry when out of descriptors; see [`super::multiplex`]).

use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use kettle_shared::{ReadyFd, WaitApi};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::multiplex::{serve_ready, Interest, Readiness};
use super::ModelContext;

/// Serves every client from one thread blocked in `poll`. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    serve_ready(ctx, Poll)
}

/// `poll(2)` as the readiness call.
struct Poll;

impl Readiness for Poll {
    const API: WaitApi = WaitApi::Poll;

    // kettle:code-begin poll-wait
    fn wait(
        &mut self,
        interests: &[Interest<'_>],
        timeout: Option<Duration>,
    ) -> nix::Result<(Vec<ReadyFd>, u32)> {
        let mut fds: Vec<PollFd<'_>> = interests
            .iter()
            .map(|i| {
                let mut events = PollFlags::empty();
                events.set(PollFlags::POLLIN, i.read);
                events.set(PollFlags::POLLOUT, i.write);
                PollFd::new(i.fd, events)
            })
            .collect();
        // Rounded up: a timeout cut to 0 ms would make poll return at once, again and again.
        let timeout = match timeout {
            None => PollTimeout::NONE,
            Some(d) => PollTimeout::try_from(d.as_millis().max(1)).unwrap_or(PollTimeout::MAX),
        };
        poll(&mut fds, timeout)?;
        // Every entry's revents must be read to find the ready ones: the O(n) scan.
        let ready = fds
            .iter()
            .filter_map(|p| {
                let r = p.revents().unwrap_or(PollFlags::empty());
                // An error or hang-up is reported whatever was asked; the next call on the
                // socket returns the failure (or end of file), so treat it as both.
                let failed = r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP);
                let readable = failed || r.intersects(PollFlags::POLLIN);
                let writable = failed || r.contains(PollFlags::POLLOUT);
                (readable || writable).then(|| ReadyFd {
                    fd: p.as_fd().as_raw_fd(),
                    readable,
                    writable,
                })
            })
            .collect();
        Ok((ready, fds.len() as u32))
    }
    // kettle:code-end poll-wait
}
