//! # POSIX asynchronous I/O (`aio_read`) — Stevens Fig. 6.5, as glibc really does it
//!
//! The tutorial's last server reads with `aio_read`: the call returns at once, the process
//! carries on, and it is told later, with the data already in its buffer:
//!
//! ```text
//! accept                          (a plain blocking accept thread: aio has no accept)
//! aio_read(fd, buf, 1024, notify = SIGEV_THREAD callback)   returns at once
//!     … glibc helper thread: read(fd) sleeps until data arrives, copies it into buf …
//! callback(conn) on a new notification thread:
//!     aio_error / aio_return → n bytes already in buf
//!     send(fd, upper(buf[..n])); aio_read(fd, …) again
//! ```
//!
//! ## What a student should notice — and the honest part
//!
//! - The thread that calls `aio_read` never waits for data or copies it: both phases happen
//!   elsewhere, and the completion arrives as a callback (`submit` … `complete`).
//! - **Elsewhere is not the kernel.** glibc implements POSIX aio in user space: `aio_read` hands
//!   the request to a glibc helper thread which calls an ordinary blocking `read(2)` and sleeps
//!   in it through both phases — for a socket, until the client sends something. Then glibc
//!   starts a *new* thread to run the `SIGEV_THREAD` callback. The events show it: `complete`
//!   is recorded by a thread whose id differs from the submitter's (`aio-notify <tid>`, with
//!   its own `thread_spawned`/`thread_exited`). So one in-flight read costs one sleeping thread,
//!   just like thread-per-connection, with more machinery. The kernel's own asynchronous
//!   interface is io_uring (the `io-uring` model).
//! - **The helper is seen, not guessed.** Kettle does not run glibc's helper thread, so it
//!   cannot record the helper's calls; but the kernel shows every thread's current system call
//!   in `/proc/self/task/<tid>/syscall`. Right after each `aio_read` the submitting thread looks
//!   there for a thread asleep in `read` on that connection's descriptor and records what it
//!   found as `seen_in_syscall`, on a lane of its own (`aio-helper <tid>`): the sleeping thread
//!   that POSIX aio hides. The same helper comes back for later reads (glibc keeps it for a
//!   second), and a new one appears when none is free.
//!
//! ## Details, and why
//!
//! - Accepting is a plain blocking `accept` loop on the model's thread: there is no `aio_accept`.
//! - Each connection has exactly one `aio_read` in flight; its control block and buffer live in
//!   a heap box whose ownership passes to glibc at submit and back to the callback at
//!   completion. The callback sends the reply (blocking `send`, so a client that never reads
//!   holds only its own notification thread, and its connection is not read meanwhile: at most
//!   [`RECV_BYTES`] wait per connection) and submits the next read.
//! - glibc caps helper threads (20 by default; requests beyond wait in a queue, so 21 idle
//!   clients would starve everyone). `aio_init` raises the cap to [`AIO_THREADS`] once per
//!   process.
//! - Stopping: `aio_cancel` cannot cancel a read a helper thread is already blocked in (it
//!   answers `AIO_NOTCANCELED`), so the stop shuts the sockets down (as for every model): each
//!   blocked `read` returns 0, each callback closes its connection, and the model's thread waits
//!   until no read is in flight before it returns.
//! - If glibc cannot create a helper thread, `aio_read` fails with `EAGAIN`: the connection is
//!   refused (an event) and closed.
//! - Looking for the helper ([`thread_in_read`]) reads one small `/proc` file per thread of
//!   the process, so the submitting thread looks only a handful of times: first after
//!   [`HELPER_LOOK_FIRST`] (the helper needs a moment to take the request), then after waits
//!   that double, for at most [`HELPER_LOOK_FOR`]. It stops as soon as the helper is found, the
//!   read has completed, or the socket holds unread data (`FIONREAD`): then the helper's read
//!   returns without sleeping, and there is no sleep to see. Not finding the helper records
//!   nothing. The helpers' lanes are bounded by
//!   glibc's own cap, [`AIO_THREADS`], and helpers whose `/proc` entry is gone are forgotten.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use kettle_shared::{AsyncOp, CloseReason, EventKind, Reason, ThreadRole};
use nix::errno::Errno;
use nix::sys::socket::SockFlag;

use super::accept_pause::AcceptPause;
use super::calls::{accept_recorded, close_reason, close_recorded};
use super::calls::{prepare_connection, send_all};
use super::{upper, ModelContext, StopSignal, RECV_BYTES};
use crate::recorder::{Recorder, Tracer};

/// The most glibc aio helper threads (one per read in flight).
pub const AIO_THREADS: i32 = 256;
/// How long a stop waits for the callbacks of reads in flight.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// When the submitting thread first looks in `/proc` for the helper that took its read; each
/// later look waits twice as long as the one before (a look reads a file per thread, so
/// looking every 200 µs for 20 ms would cost more than the lesson is worth under load).
pub const HELPER_LOOK_FIRST: Duration = Duration::from_micros(200);
/// How long it keeps looking. A helper usually sits in `read` well within a millisecond; a
/// busy machine may be slower, and a helper not found is only a step not shown.
pub const HELPER_LOOK_FOR: Duration = Duration::from_millis(20);

/// glibc's `struct aioinit` (`<aio.h>`), absent from the libc crate.
#[repr(C)]
struct AioInit {
    aio_threads: libc::c_int,
    aio_num: libc::c_int,
    aio_locks: libc::c_int,
    aio_usedba: libc::c_int,
    aio_debug: libc::c_int,
    aio_numusers: libc::c_int,
    aio_idle_time: libc::c_int,
    aio_reserved: libc::c_int,
}

extern "C" {
    fn aio_init(init: *const AioInit);
}

/// Offset of `sigev_notify_function` in `struct sigevent` (the union after value, signo and
/// notify); the libc crate exposes only the thread-id member of that union.
const SIGEV_FUNCTION_OFFSET: usize = 16;

/// What every callback needs.
struct Shared {
    recorder: Recorder,
    model: &'static str,
    stop: Arc<StopSignal>,
    /// Reads in flight; the model's thread waits for 0 before it returns.
    in_flight: Mutex<usize>,
    idle: Condvar,
    /// One tracer per glibc helper thread seen in `read`, by kernel thread id, so each helper
    /// keeps one lane. At most [`AIO_THREADS`] (glibc runs no more); dead ones are forgotten.
    helpers: Mutex<HashMap<i32, Tracer>>,
}

/// One connection with its one read in flight. Boxed: the control block must not move while
/// glibc holds it.
struct Conn {
    cb: libc::aiocb,
    buf: [u8; RECV_BYTES],
    fd: OwnedFd,
    id: u64,
    shared: Arc<Shared>,
    /// Reads of this connection completed so far. Shared with a submitter that is still
    /// looking for the helper after glibc took the box: it stops when this moves.
    reads_done: Arc<AtomicU64>,
}

// kettle:code-begin aio-loop
/// Accepts and submits reads until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.server_tracer();
    t.emit(None, EventKind::ThreadSpawned);
    raise_helper_cap();
    let shared = Arc::new(Shared {
        recorder: ctx.recorder.clone(),
        model: ctx.descriptor.id,
        stop: ctx.stop.clone(),
        in_flight: Mutex::new(0),
        idle: Condvar::new(),
        helpers: Mutex::new(HashMap::new()),
    });
    let mut next_conn = 1;
    let mut pause = AcceptPause::default();
    while !ctx.stop.is_stopped() {
        let listener = ctx.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::empty(), next_conn, &t, &ctx.stop) {
            Ok(fd) => {
                adopt(fd, next_conn, &shared, &t);
                next_conn += 1;
            }
            Err(e) => {
                if pause.after_failure(e, &t) {
                    pause.sleep_out();
                }
            }
        }
    }
    wait_for_callbacks(&shared, &t);
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}
// kettle:code-end aio-loop

/// `aio_init` once per process: enough helper threads for every read in flight.
fn raise_helper_cap() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let init = AioInit {
            aio_threads: AIO_THREADS,
            aio_num: AIO_THREADS,
            aio_locks: 0,
            aio_usedba: 0,
            aio_debug: 0,
            aio_numusers: 0,
            // Idle helper threads end after 1 s.
            aio_idle_time: 1,
            aio_reserved: 0,
        };
        // SAFETY: a valid aioinit; glibc copies what it needs.
        unsafe { aio_init(&init) };
    });
}

/// A new connection: its first read.
fn adopt(fd: OwnedFd, id: u64, shared: &Arc<Shared>, t: &Tracer) {
    if !shared.stop.track(&fd) {
        close_recorded(fd, id, CloseReason::Stopped, t, &shared.stop);
        return;
    }
    prepare_connection(&fd);
    let conn = Box::new(Conn {
        cb: zeroed_aiocb(),
        buf: [0; RECV_BYTES],
        fd,
        id,
        shared: shared.clone(),
        reads_done: Arc::default(),
    });
    submit(conn, t);
}

fn zeroed_aiocb() -> libc::aiocb {
    // SAFETY: aiocb is plain data; all zero is its documented initial state.
    unsafe { std::mem::zeroed() }
}

// kettle:code-begin aio-submit
/// `aio_read` for the connection's next [`RECV_BYTES`], recorded. On failure the connection is
/// refused and closed.
fn submit(mut conn: Box<Conn>, t: &Tracer) {
    let fd = conn.fd.as_raw_fd();
    conn.cb = zeroed_aiocb();
    conn.cb.aio_fildes = fd;
    conn.cb.aio_buf = conn.buf.as_mut_ptr().cast();
    conn.cb.aio_nbytes = RECV_BYTES;
    conn.cb.aio_sigevent.sigev_notify = libc::SIGEV_THREAD;
    // SAFETY: writes the callback into the sigevent's union at its C offset; the attributes
    // pointer after it stays null (default thread attributes).
    unsafe {
        let ev = (&raw mut conn.cb.aio_sigevent).cast::<u8>();
        ev.add(SIGEV_FUNCTION_OFFSET).cast::<extern "C" fn(libc::sigval)>().write(completed);
    }
    *conn.shared.in_flight.lock().unwrap_or_else(|p| p.into_inner()) += 1;
    let id = conn.id;
    // What the look for the helper needs once glibc owns the box.
    let (shared, reads_done) = (conn.shared.clone(), conn.reads_done.clone());
    let read = reads_done.load(Ordering::Acquire);
    t.emit(Some(id), EventKind::Submit { op: AsyncOp::AioRead, fd });
    let raw = Box::into_raw(conn);
    // SAFETY: raw is a live box; the callback receives the pointer and takes the box back.
    unsafe { (*raw).cb.aio_sigevent.sigev_value = libc::sigval { sival_ptr: raw.cast() } };
    // SAFETY: the control block and buffer stay where they are until the callback runs.
    let rc = unsafe { libc::aio_read(&raw mut (*raw).cb) };
    if rc != 0 {
        let e = Errno::last();
        // SAFETY: glibc refused the request, so it holds no pointer to the box.
        let conn = unsafe { Box::from_raw(raw) };
        let reason = Reason::AioQueueFailed { errno: crate::failure::errno_name(e) };
        t.emit(Some(id), EventKind::Refused { reason });
        finish(conn, CloseReason::Refused, t);
        return;
    }
    look_for_helper(fd, id, &shared, &reads_done, read);
}
// kettle:code-end aio-submit

/// After an `aio_read` on `fd`: finds the glibc helper asleep in `read` on it (see the module
/// docs) and records it on the helper's own lane. Gives up when the read `read` (the value
/// of `reads_done` when it was submitted) has completed, on a stop, or after
/// [`HELPER_LOOK_FOR`].
fn look_for_helper(fd: RawFd, id: u64, shared: &Shared, reads_done: &AtomicU64, read: u64) {
    let pending = || reads_done.load(Ordering::Acquire) == read && !shared.stop.is_stopped();
    let deadline = Instant::now() + HELPER_LOOK_FOR;
    let mut wait = HELPER_LOOK_FIRST;
    loop {
        std::thread::sleep(wait.min(deadline.saturating_duration_since(Instant::now())));
        // While the read is pending the descriptor is still this connection's.
        if !pending() || queued_bytes(fd) != Some(0) {
            return;
        }
        // Kettle's own threads (those it samples) never read a connection with read(2), but a
        // thread it names is not a helper whatever it does.
        if let Some((tid, call)) = thread_in_read(fd, |tid| shared.recorder.is_sampled_tid(tid)) {
            // Checked again: while the read is still pending the descriptor cannot have been
            // closed and reused, so the thread seen was reading this connection.
            if pending() {
                let t = helper_tracer(shared, tid);
                t.emit(Some(id), EventKind::SeenInSyscall { tid, call: call.into(), fd });
            }
            return;
        }
        if Instant::now() >= deadline {
            return;
        }
        wait *= 2;
    }
}

/// Bytes waiting in the socket's receive queue (`ioctl(FIONREAD)`), `None` if it cannot say.
fn queued_bytes(fd: RawFd) -> Option<usize> {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    (rc == 0).then_some(n as usize)
}

/// The lane of helper `tid`: the same tracer each time it is seen, a new one the first time.
fn helper_tracer(shared: &Shared, tid: i32) -> Tracer {
    let mut helpers = shared.helpers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = helpers.get(&tid) {
        return t.clone();
    }
    // A new helper: forget those that have ended (glibc ends idle ones after a second).
    helpers.retain(|tid, _| std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
    let t = shared.recorder.tracer(shared.model, ThreadRole::AioHelper(tid));
    if helpers.len() < AIO_THREADS as usize {
        helpers.insert(tid, t.clone());
    }
    t
}

/// `(system call number, first argument)` of a line of `/proc/<pid>/task/<tid>/syscall`, or
/// `None` when the thread is not in a system call (`running`, or `-1 …` for a thread stopped
/// elsewhere). The line is the number in decimal, then the six arguments, the stack pointer
/// and the program counter in hex: `0 0x7 0x7f3c2c000b70 0x400 …` is `read(7, …, 1024)` on
/// x86_64.
fn parse_syscall_line(line: &str) -> Option<(libc::c_long, u64)> {
    let mut words = line.split_whitespace();
    let nr: libc::c_long = words.next()?.parse().ok()?;
    let arg0 = u64::from_str_radix(words.next()?.strip_prefix("0x")?, 16).ok()?;
    (nr >= 0).then_some((nr, arg0))
}

/// A thread of this process asleep in `read` or `pread64` on `fd` — neither the calling
/// thread nor one `skip` names — found from what the kernel shows in
/// `/proc/self/task/*/syscall`; its kernel id and the call's name.
pub fn thread_in_read(fd: RawFd, skip: impl Fn(i32) -> bool) -> Option<(i32, &'static str)> {
    let me = nix::unistd::gettid().as_raw();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if tid == me {
            continue;
        }
        // A thread that ended meanwhile has no file any more: simply not a candidate. The
        // line is short: read into the stack, no allocation per thread.
        let mut buf = [0u8; 256];
        let Ok(n) = std::fs::File::open(entry.path().join("syscall")).and_then(|mut f| {
            use std::io::Read;
            f.read(&mut buf)
        }) else {
            continue;
        };
        let Ok(line) = std::str::from_utf8(&buf[..n]) else { continue };
        let call = match parse_syscall_line(line) {
            Some((nr, arg)) if arg == fd as u64 && nr == libc::SYS_read => "read",
            Some((nr, arg)) if arg == fd as u64 && nr == libc::SYS_pread64 => "pread64",
            _ => continue,
        };
        if !skip(tid) {
            return Some((tid, call));
        }
    }
    None
}

// kettle:code-begin aio-completed
/// The `SIGEV_THREAD` callback, on a thread glibc created for this completion.
extern "C" fn completed(value: libc::sigval) {
    // SAFETY: the pointer is the box `submit` gave glibc; this is its only completion.
    let mut conn = unsafe { Box::from_raw(value.sival_ptr.cast::<Conn>()) };
    // First of all, so a submitter still looking for this read's helper stops looking.
    conn.reads_done.fetch_add(1, Ordering::AcqRel);
    let tid = nix::unistd::gettid().as_raw();
    let t = conn.shared.recorder.tracer(conn.shared.model, ThreadRole::AioNotify(tid));
    t.emit(None, EventKind::ThreadSpawned);
    // SAFETY: the request completed (that is why we are called); both read its status.
    let err = unsafe { libc::aio_error(&conn.cb) };
    let n = unsafe { libc::aio_return(&mut conn.cb) };
    let fd = conn.fd.as_raw_fd();
    let result = if n < 0 { -(err as i64) } else { n as i64 };
    let op = AsyncOp::AioRead;
    t.emit(Some(conn.id), EventKind::Complete { op, fd, result, peer: None, more: false });
    let outcome = if conn.shared.stop.is_stopped() {
        Some(CloseReason::Stopped)
    } else if n == 0 {
        Some(CloseReason::PeerClosed)
    } else if n < 0 {
        Some(close_reason(Errno::from_raw(err)))
    } else {
        let n = n as usize;
        upper(&mut conn.buf[..n]);
        send_all(fd, &conn.buf[..n], conn.id, &t).err()
    };
    match outcome {
        Some(reason) => finish(conn, reason, &t),
        None => {
            // The next read is submitted before this one is counted done, so a stop never sees
            // zero reads in flight while a connection is still open.
            let shared = conn.shared.clone();
            submit(conn, &t);
            done_one(&shared);
        }
    }
    t.emit(None, EventKind::ThreadExited);
}

/// Closes a connection whose read is no longer in flight.
fn finish(conn: Box<Conn>, reason: CloseReason, t: &Tracer) {
    let Conn { fd, id, shared, .. } = *conn;
    close_recorded(fd, id, reason, t, &shared.stop);
    done_one(&shared);
}
// kettle:code-end aio-completed

fn done_one(shared: &Shared) {
    let mut n = shared.in_flight.lock().unwrap_or_else(|p| p.into_inner());
    *n -= 1;
    if *n == 0 {
        shared.idle.notify_all();
    }
}

/// After a stop: every read in flight ends (its socket was shut down); wait for the callbacks.
fn wait_for_callbacks(shared: &Shared, t: &Tracer) {
    let n = shared.in_flight.lock().unwrap_or_else(|p| p.into_inner());
    let (n, timeout) =
        shared.idle.wait_timeout_while(n, STOP_WAIT, |n| *n > 0).unwrap_or_else(|p| p.into_inner());
    if timeout.timed_out() {
        let reason = Reason::AioUnfinished { count: *n as u32 };
        t.emit(None, EventKind::Refused { reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_line_gives_the_call_and_its_first_argument() {
        let line = "0 0x7 0x7f3c2c000b70 0x400 0x0 0x0 0x0 0x7f3c3effc8e8 0x7f3c4a71a25d\n";
        assert_eq!(parse_syscall_line(line), Some((0, 7)));
        assert_eq!(parse_syscall_line("17 0x1f 0x0 0x0 0x0 0x0 0x0 0x1 0x2"), Some((17, 31)));
        assert_eq!(parse_syscall_line("running\n"), None);
        assert_eq!(parse_syscall_line("-1 0x7ffd5a1b3c40 0x7f3c4a71a25d\n"), None);
        assert_eq!(parse_syscall_line(""), None);
    }

    #[test]
    fn a_thread_asleep_in_read_on_a_pipe_is_found_in_proc() {
        use std::io::{Read, Write};
        let (r, w) = nix::unistd::pipe().unwrap();
        let fd = r.as_raw_fd();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            tid_tx.send(nix::unistd::gettid().as_raw()).unwrap();
            let mut buf = [0u8; 8];
            std::fs::File::from(r).read(&mut buf).unwrap()
        });
        let tid = tid_rx.recv().unwrap();
        // Wait for the reader to be inside read(2): nothing says when it gets there.
        let deadline = Instant::now() + Duration::from_secs(10);
        let found = loop {
            if let Some(found) = thread_in_read(fd, |_| false) {
                break found;
            }
            assert!(Instant::now() < deadline, "thread {tid} never seen in read({fd})");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(found, (tid, "read"));
        // A thread the caller names is skipped.
        assert_eq!(thread_in_read(fd, |t| t == tid), None);
        std::fs::File::from(w).write_all(b"x").unwrap();
        assert_eq!(reader.join().unwrap(), 1);
    }
}
