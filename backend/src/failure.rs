//! From Rust errors to the protocol's [`Reason`]s.
//!
//! The backend never writes an explanation as a sentence for the page: it sends a code with
//! parameters ([`Reason`]) and the page words it in the reader's language. This module holds
//! the few conversions that need care: the errno *name* of an error (`EMFILE`, as in
//! `errno(3)`, the same in every language), and the reason a model's server gave up, recovered
//! from the `anyhow` error it returned — a [`Reason`] it attached itself, or the system call
//! named with [`Syscall`] and the errno underneath.

use std::fmt;

use kettle_shared::Reason;
use nix::errno::Errno;

/// The symbolic name of a kernel error: `"EMFILE"`.
pub fn errno_name(e: Errno) -> String {
    format!("{e:?}")
}

/// The errno name of an I/O error; for an error that did not come from the kernel (a timeout
/// measured in user space), the name of its kind (`"TimedOut"`).
pub fn io_errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_name(Errno::from_raw(n)),
        None => format!("{:?}", e.kind()),
    }
}

/// The reason for a system call the kernel refused (a model's probe):
/// `IoUring::new(2).map_err(refused_by_kernel("io_uring_setup"))`.
pub fn refused_by_kernel(call: &'static str) -> impl Fn(std::io::Error) -> Reason {
    move |e| Reason::KernelRefused { call: call.to_owned(), errno: io_errno(&e) }
}

/// The system call a readiness API sleeps in, as its man page names it.
pub fn wait_call(api: kettle_shared::WaitApi) -> &'static str {
    use kettle_shared::WaitApi;
    match api {
        WaitApi::Select => "select",
        WaitApi::Poll => "poll",
        WaitApi::Epoll | WaitApi::EpollEt => "epoll_wait",
    }
}

/// Names the system call an error came from, as an `anyhow` context:
/// `epoll.wait().context(Syscall("epoll_wait"))?`. Read back by [`server_gave_up`].
#[derive(Debug, Clone, Copy)]
pub struct Syscall(pub &'static str);

impl fmt::Display for Syscall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A [`Reason`] as an error a model's server returns (`Err(because(Reason::NoWorkers))?`), so
/// the registry can report exactly that.
pub fn because(reason: Reason) -> anyhow::Error {
    anyhow::Error::msg(Carried(reason))
}

/// A [`Reason`] wrapped to travel inside an `anyhow::Error`.
#[derive(Debug)]
struct Carried(Reason);

impl fmt::Display for Carried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // For the backend's terminal only; the page words the reason itself.
        match serde_json::to_string(&self.0) {
            Ok(json) => f.write_str(&json),
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}

/// Why a model's server gave up, from the error it returned: the [`Reason`] it attached with
/// [`because`]; else the [`Syscall`] it named and the errno under it; else the errno alone.
pub fn server_gave_up(e: &anyhow::Error) -> Reason {
    if let Some(Carried(reason)) = e.downcast_ref::<Carried>() {
        return reason.clone();
    }
    let errno = e.chain().find_map(|cause| {
        cause
            .downcast_ref::<Errno>()
            .map(|&n| errno_name(n))
            .or_else(|| cause.downcast_ref::<std::io::Error>().map(io_errno))
    });
    match (e.downcast_ref::<Syscall>(), errno) {
        (Some(call), Some(errno)) => Reason::SyscallFailed { call: call.0.to_owned(), errno },
        (_, errno) => Reason::ServerFailed { errno },
    }
}

/// A [`Reason`] written for the backend's terminal: its JSON, the same words the page gets.
pub fn for_terminal(reason: &Reason) -> String {
    Carried(reason.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_failed_call_is_reported_by_its_name_and_errno() {
        let e: anyhow::Error =
            Err::<(), _>(Errno::EBADF).context(Syscall("epoll_wait")).unwrap_err();
        assert_eq!(
            server_gave_up(&e),
            Reason::SyscallFailed { call: "epoll_wait".into(), errno: "EBADF".into() }
        );
    }

    #[test]
    fn an_io_error_gives_its_errno_name() {
        let e = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::EMFILE));
        assert_eq!(server_gave_up(&e), Reason::ServerFailed { errno: Some("EMFILE".into()) });
        let timeout = std::io::Error::from(std::io::ErrorKind::TimedOut);
        assert_eq!(io_errno(&timeout), "TimedOut");
    }

    #[test]
    fn an_attached_reason_comes_back_unchanged() {
        let e = because(Reason::NoWorkers).context("starting the pool");
        assert_eq!(server_gave_up(&e), Reason::NoWorkers);
    }
}
