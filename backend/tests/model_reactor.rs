//! The selectors-style reactor over real sockets: callbacks registered per descriptor and
//! called by the loop (accept registers read, and the read callback ends by unregistering).
//! The switch to the write callback when the kernel takes only part of a reply is checked with
//! a client that never reads, in `echo_contract.rs`, with the rest of what every model keeps.

mod common;
mod echo_checks;
mod event_loops;

use common::*;
use echo_checks::OneLine;
use event_loops::*;
use kettle_shared::{BuiltIn, CloseReason, EpollOp, EventKind, RecvOutcome};

const MODEL: &str = BuiltIn::Reactor.id();

#[tokio::test(flavor = "multi_thread")]
async fn one_line_runs_the_accept_callback_then_the_read_callback_registered_by_it() {
    let server = kettle(&[MODEL]).await;
    let events = OneLine::new(MODEL).until(closed_and_waiting_again).run(&server).await.events;
    let steps = steps(&events, MODEL);
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    assert_eq!(
        names,
        [
            "thread_spawned",
            // sel.register(server, EVENT_READ, accept)
            "register",
            "epoll_ctl",
            "wait_enter",
            "wait_returned",
            "callback",
            "accept_enter",
            "accept_exit",
            // sel.register(conn, EVENT_READ, read), inside accept
            "register",
            "epoll_ctl",
            "wait_enter",
            "wait_returned",
            "callback",
            "recv_enter",
            "data_arrived",
            "recv_exit",
            "send_enter",
            "send_exit",
            "wait_enter",
            "wait_returned",
            "callback",
            "recv_enter",
            "recv_exit",
            // sel.unregister(conn); conn.close()
            "unregister",
            "epoll_ctl",
            "close",
            "wait_enter"
        ],
        "{names:?}"
    );
    let listener = match &steps[1].kind {
        EventKind::Register { fd, interest, callback } => {
            assert_eq!((interest.as_str(), callback.as_str()), ("read", "accept"));
            *fd
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(steps[5].kind, EventKind::Callback { name: "accept".into(), fd: listener });
    let EventKind::AcceptExit { fd: Some(conn), .. } = steps[7].kind else { panic!() };
    assert_eq!(
        steps[8].kind,
        EventKind::Register { fd: conn, interest: "read".into(), callback: "read".into() }
    );
    assert!(
        matches!(&steps[9].kind, EventKind::EpollCtl { op, fd, .. } if matches!(op, EpollOp::Add) && *fd == conn)
    );
    assert_eq!(steps[12].kind, EventKind::Callback { name: "read".into(), fd: conn });
    assert_eq!(steps[20].kind, EventKind::Callback { name: "read".into(), fd: conn });
    assert!(matches!(steps[22].kind, EventKind::RecvExit { outcome: RecvOutcome::Eof, .. }));
    assert_eq!(steps[23].kind, EventKind::Unregister { fd: conn });
    assert!(
        matches!(&steps[24].kind, EventKind::EpollCtl { op, fd, .. } if matches!(op, EpollOp::Del) && *fd == conn)
    );
    assert!(matches!(steps[25].kind, EventKind::Close { reason: CloseReason::PeerClosed, .. }));
    server.shutdown().await.unwrap();
}
