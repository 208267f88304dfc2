//! POSIX aio (Stevens Fig. 6.5, as glibc does it) over real sockets: aio_read returns at once,
//! the read sleeps in a glibc helper thread (seen in `/proc`), and the completion is reported by
//! yet another thread, one glibc created. The echo contract (with the completions a stop
//! brings) is in `echo_contract.rs`.

mod common;
mod echo_checks;

use std::io::Write;
use std::time::Duration;

use common::*;
use echo_checks::OneLine;
use kettle_shared::{AsyncOp, BuiltIn, CloseReason, Event, EventKind, ServerMsg};

const MODEL: &str = BuiltIn::PosixAio.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_submit_then_complete_on_a_glibc_thread_then_send_and_resubmit() {
    let server = kettle(&[MODEL]).await;
    // Until the close, the accepting thread back in accept, and every notify thread ended (one
    // may still be looking for the next read's helper when the other closes).
    let events = OneLine::new(MODEL)
        .pause_ms(300)
        .until(|ev| {
            let notify = |kind: EventKind| {
                ev.iter()
                    .filter(|e| e.thread.name.starts_with("aio-notify ") && e.kind == kind)
                    .count()
            };
            ev.iter().any(|e| matches!(e.kind, EventKind::Close { .. }))
                && ev
                    .iter()
                    .filter(|e| e.thread.name == MODEL && e.kind == EventKind::AcceptEnter)
                    .count()
                    == 2
                && notify(EventKind::ThreadExited) == notify(EventKind::ThreadSpawned)
        })
        .run(&server)
        .await
        .events;
    let ours: Vec<_> =
        events.iter().filter(|e| e.model == MODEL && e.kind.name() != "thread_sample").collect();
    let submitter = ours.iter().find(|e| e.thread.name == MODEL).unwrap().thread.id;
    // The accepting thread submits the first read and goes back to accept at once.
    let names: Vec<_> =
        ours.iter().filter(|e| e.thread.id == submitter).map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        ["thread_spawned", "accept_enter", "accept_exit", "submit", "accept_enter"],
        "{names:?}"
    );
    // The completion of that read comes on another thread, created for it.
    let complete = ours
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Complete { op, result: 5, .. } if matches!(op, AsyncOp::AioRead)))
        .expect("the read completed with 5 bytes");
    assert_ne!(complete.thread.id, submitter);
    assert!(complete.thread.name.starts_with("aio-notify "), "{}", complete.thread.name);
    let notify: Vec<_> =
        ours.iter().filter(|e| e.thread.id == complete.thread.id).map(|e| e.kind.name()).collect();
    assert_eq!(
        notify,
        ["thread_spawned", "complete", "send_enter", "send_exit", "submit", "thread_exited"],
        "{notify:?}"
    );
    // The end of file is a completion too (result 0), then the close.
    assert!(ours.iter().any(|e| matches!(&e.kind, EventKind::Complete { result: 0, .. })));
    assert!(ours
        .iter()
        .any(|e| matches!(e.kind, EventKind::Close { reason: CloseReason::PeerClosed, .. })));
    server.shutdown().await.unwrap();
}

/// The kernel thread id in a lane name such as `aio-notify 1234`.
fn tid_in(name: &str, prefix: &str) -> i32 {
    name.strip_prefix(prefix).and_then(|t| t.parse().ok()).unwrap_or_else(|| panic!("{name}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_read_is_seen_asleep_in_read_on_a_glibc_helper_thread() {
    let (server, addr, mut ws) = watched(MODEL).await;
    let mut events: Vec<Event> = Vec::new();
    // Each client's first read waits: its helper sleeps in read(2) on the connection. Looking
    // for it is best effort (a very busy machine may hide it for longer than the model looks),
    // so another client is tried if one is not seen.
    let mut clients = Vec::new();
    let seen = loop {
        assert!(clients.len() < 10, "no helper seen in read for 10 clients: {:?}", kinds(&events));
        let c = client(addr);
        let local = c.local_addr().unwrap().to_string();
        clients.push(c);
        let accepted = |ev: &[Event]| {
            ev.iter().find_map(|e| match &e.kind {
                EventKind::AcceptExit { fd: Some(fd), peer: Some(p), .. } if *p == local => {
                    Some((e.conn.unwrap(), *fd))
                }
                _ => None,
            })
        };
        let seen_for = |ev: &[Event], conn: u64| {
            ev.iter().find(|e| e.conn == Some(conn) && e.kind.name() == "seen_in_syscall").cloned()
        };
        events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| accepted(ev).is_some())
            .await;
        let (conn, fd) = accepted(&events).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while seen_for(&events, conn).is_none() && tokio::time::Instant::now() < deadline {
            if let Ok(ServerMsg::Batch { events: batch, .. }) =
                tokio::time::timeout(Duration::from_millis(100), next_msg(&mut ws)).await
            {
                events.extend(batch);
            }
        }
        if let Some(seen) = seen_for(&events, conn) {
            break (seen, fd, clients.len() - 1);
        }
    };
    let (seen, fd, index) = seen;
    let tid = match &seen.kind {
        EventKind::SeenInSyscall { tid, call, fd: on } => {
            assert_eq!(call, "read");
            assert_eq!(*on, fd, "asleep on the connection's own descriptor");
            *tid
        }
        other => panic!("{other:?}"),
    };
    // On a lane of its own, named after the kernel's id of the helper.
    assert_eq!(seen.model, MODEL);
    assert_eq!(tid_in(&seen.thread.name, "aio-helper "), tid);
    let submitter = events.iter().find(|e| e.thread.name == MODEL).unwrap().thread.id;
    assert_ne!(seen.thread.id, submitter);
    // The line then completes on a notify thread: a third thread, neither the submitter nor
    // the helper that slept in read.
    let mut c = clients.swap_remove(index);
    let reply = tokio::task::spawn_blocking(move || {
        c.write_all(b"hi").unwrap();
        read_n(&mut c, 2)
    });
    assert_eq!(reply.await.unwrap(), b"HI");
    let conn = seen.conn;
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| e.conn == conn && matches!(e.kind, EventKind::Complete { result: 2, .. }))
    })
    .await;
    let complete = events
        .iter()
        .find(|e| e.conn == conn && matches!(e.kind, EventKind::Complete { result: 2, .. }))
        .unwrap();
    assert_ne!(complete.thread.id, seen.thread.id);
    assert_ne!(complete.thread.id, submitter);
    assert_ne!(tid_in(&complete.thread.name, "aio-notify "), tid);
    drop(clients);
    server.shutdown().await.unwrap();
}
