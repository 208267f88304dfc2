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

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::Duration;

use kettle_shared::{CloseReason, EventKind};
use nix::errno::Errno;
use nix::sys::socket::SockFlag;

use super::calls::{accept_recorded, close_reason, close_recorded, out_of_descriptors};
use super::calls::{prepare_connection, send_all, EMFILE_BACKOFF};
use super::{upper, ModelContext, StopSignal, RECV_BYTES};
use crate::recorder::{Recorder, Tracer};

/// The most glibc aio helper threads (one per read in flight).
pub const AIO_THREADS: i32 = 256;
/// How long a stop waits for the callbacks of reads in flight.
const STOP_WAIT: Duration = Duration::from_secs(10);

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
}

/// One connection with its one read in flight. Boxed: the control block must not move while
/// glibc holds it.
struct Conn {
    cb: libc::aiocb,
    buf: [u8; RECV_BYTES],
    fd: OwnedFd,
    id: u64,
    shared: Arc<Shared>,
}

/// Accepts and submits reads until stopped. See the module docs.
pub fn serve(ctx: ModelContext) -> anyhow::Result<()> {
    let t = ctx.tracer("posix-aio");
    t.emit(None, EventKind::ThreadSpawned);
    raise_helper_cap();
    let shared = Arc::new(Shared {
        recorder: ctx.recorder.clone(),
        model: ctx.descriptor.id,
        stop: ctx.stop.clone(),
        in_flight: Mutex::new(0),
        idle: Condvar::new(),
    });
    let mut next_conn = 1;
    while !ctx.stop.is_stopped() {
        let listener = ctx.listener.as_raw_fd();
        match accept_recorded(listener, SockFlag::empty(), next_conn, &t, &ctx.stop) {
            Ok(fd) => {
                adopt(fd, next_conn, &shared, &t);
                next_conn += 1;
            }
            Err(e) if out_of_descriptors(e) => std::thread::sleep(EMFILE_BACKOFF),
            Err(_) => {}
        }
    }
    wait_for_callbacks(&shared, &t);
    t.emit(None, EventKind::ThreadExited);
    Ok(())
}

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
    let conn =
        Box::new(Conn { cb: zeroed_aiocb(), buf: [0; RECV_BYTES], fd, id, shared: shared.clone() });
    submit(conn, t);
}

fn zeroed_aiocb() -> libc::aiocb {
    // SAFETY: aiocb is plain data; all zero is its documented initial state.
    unsafe { std::mem::zeroed() }
}

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
    t.emit(Some(id), EventKind::Submit { op: "aio_read".into(), fd });
    let raw = Box::into_raw(conn);
    // SAFETY: raw is a live box; the callback receives the pointer and takes the box back.
    unsafe { (*raw).cb.aio_sigevent.sigev_value = libc::sigval { sival_ptr: raw.cast() } };
    // SAFETY: the control block and buffer stay where they are until the callback runs.
    let rc = unsafe { libc::aio_read(&raw mut (*raw).cb) };
    if rc != 0 {
        let e = Errno::last();
        // SAFETY: glibc refused the request, so it holds no pointer to the box.
        let conn = unsafe { Box::from_raw(raw) };
        let reason = format!("aio_read failed ({e}): glibc could not queue the read");
        t.emit(Some(id), EventKind::Refused { reason });
        finish(conn, CloseReason::Refused, t);
    }
}

/// The `SIGEV_THREAD` callback, on a thread glibc created for this completion.
extern "C" fn completed(value: libc::sigval) {
    // SAFETY: the pointer is the box `submit` gave glibc; this is its only completion.
    let mut conn = unsafe { Box::from_raw(value.sival_ptr.cast::<Conn>()) };
    let tid = nix::unistd::gettid().as_raw();
    let t = conn.shared.recorder.tracer(conn.shared.model, format!("aio-notify {tid}"));
    t.emit(None, EventKind::ThreadSpawned);
    // SAFETY: the request completed (that is why we are called); both read its status.
    let err = unsafe { libc::aio_error(&conn.cb) };
    let n = unsafe { libc::aio_return(&mut conn.cb) };
    let fd = conn.fd.as_raw_fd();
    let result = if n < 0 { -(err as i64) } else { n as i64 };
    t.emit(Some(conn.id), EventKind::Complete { op: "aio_read".into(), fd, result });
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
        let reason = format!("{} aio reads did not complete after the stop", *n);
        t.emit(None, EventKind::Refused { reason });
    }
}
