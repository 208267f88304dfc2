//! The process-per-conn model over real sockets: a child process per client (the kettle binary's
//! hidden `child-echo`), its calls forwarded to the parent, children reaped, none left behind.
//! The echo contract is in `echo_contract.rs`.

mod common;
mod echo_checks;

use std::io::{Read, Write};
use std::time::Duration;

use common::*;
use echo_checks::*;
use kettle_backend::models::ModelOptions;
use kettle_shared::{BuiltIn, ChildExit, Event, EventKind, Reason};

const ID: &str = BuiltIn::ProcessPerConn.id();

fn child_pids(events: &[Event]) -> Vec<i32> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::ChildSpawned { pid, .. } => Some(pid),
            _ => None,
        })
        .collect()
}

/// True when `pid` is gone from the process table: neither running nor a zombie.
fn reaped(pid: i32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn options() -> ModelOptions {
    ModelOptions { child_exe: Some(env!("CARGO_BIN_EXE_kettle").into()), ..Default::default() }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_line_is_echoed_by_a_child_process_whose_calls_reach_the_parent_as_fig_6_1() {
    let server = kettle(&[ID]).await;
    let events = OneLine::new(ID)
        .patience(Duration::from_secs(20))
        // Starting a child takes a while on a loaded machine: wait until it sits in recv, so
        // the pause is all phase 1.
        .once_connected(|ev| {
            ev.iter().any(|e| e.thread.name.starts_with("child-") && e.kind.name() == "recv_enter")
        })
        .until(|ev| ev.iter().any(|e| e.kind.name() == "child_reaped"))
        .run(&server)
        .await
        .events;
    let pid = child_pids(&events)[0];
    let child = format!("child-{pid}");
    let steps: Vec<_> = events
        .iter()
        .filter(|e| e.thread.name == child && e.kind.name() != "thread_sample")
        .collect();
    let names: Vec<_> = steps.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names, around_one_line(&["thread_spawned"], &["thread_exited"]));
    assert!(steps.iter().all(|e| e.conn == Some(1) && e.model == ID));
    // The child's clock and the parent's are one axis.
    assert!(steps.windows(2).all(|w| w[0].t_ns <= w[1].t_ns || w[1].kind.name() == "data_arrived"));
    slept_through_the_pause(steps[3]);
    // The parent accepted before the child ran, and reaped it after its last call.
    let parent: Vec<_> = events
        .iter()
        .filter(|e| e.conn == Some(1) && !e.thread.name.starts_with("child-"))
        .map(|e| (e.thread.name.clone(), e.kind.name()))
        .collect();
    let w = format!("waiter-{pid}");
    assert_eq!(
        parent,
        [
            ("parent".to_string(), "accept_exit"),
            ("parent".to_string(), "child_spawned"),
            (w.clone(), "child_reaped"),
            (w, "close")
        ]
    );
    assert!(events.iter().any(|e| matches!(
        &e.kind,
        EventKind::ChildReaped { status: ChildExit::Exited { code: 0 }, .. }
    )));
    assert!(reaped(pid), "child {pid} left behind");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_with_clients_connected_ends_and_reaps_every_child_and_frees_the_port() {
    let (server, addr, mut ws) = watched(ID).await;
    let mut clients: Vec<_> = (0..3).map(|_| served(addr, b"x")).collect();
    let mut events = Vec::new();
    events_until(&mut ws, &mut events, Duration::from_secs(20), |ev| child_pids(ev).len() == 3)
        .await;
    let pids = child_pids(&events);
    assert!(pids.iter().all(|&p| !reaped(p)), "children are alive while their clients are");
    stop_within(&server, ID, Duration::from_secs(20)).await;
    for c in clients.iter_mut() {
        assert_eq!(c.read(&mut [0; 1]).unwrap(), 0, "the server side is closed");
    }
    assert!(port_is_free(addr), "port still in use");
    for &pid in &pids {
        assert!(reaped(pid), "child {pid} is still in the process table (zombie?)");
    }
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().filter(|e| e.kind.name() == "child_reaped").count() == 3
            && ev.iter().any(|e| matches!(e.kind, EventKind::Stopped { .. }))
    })
    .await;
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_process_cap_a_client_is_refused_and_later_ones_are_served() {
    past_the_cap_a_client_is_refused_and_later_ones_are_served(
        ID,
        ModelOptions { max_threads: 1, ..options() },
        1,
        |reason| matches!(reason, Reason::ProcessCapReached { limit: 1 }),
        // The first client's child has been reaped: the next one gets a child.
        |ev| ev.iter().any(|e| e.conn == Some(1) && e.kind.name() == "child_reaped"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_child_that_cannot_be_created_refuses_the_client_and_the_parent_goes_on() {
    let missing = std::env::temp_dir().join("kettle-no-such-child-executable");
    let options = ModelOptions { child_exe: Some(missing), ..options() };
    let refused = |reason: &Reason| matches!(reason, Reason::CannotCreateProcess { .. });
    cannot_create_refuses_the_client_and_goes_on(ID, options, refused).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_child_samples_its_own_thread_and_the_samples_reach_the_parent() {
    let (server, addr, mut ws) = watched(ID).await;
    let mut c = common::client(addr);
    c.write_all(b"sampled").unwrap();
    assert_eq!(common::read_n(&mut c, 7), b"SAMPLED");
    let mut events = Vec::new();
    // The child's echo thread, forwarded as `child-<pid>`, with its calls and its connection,
    // and what its own /proc says: asleep (S) in recvfrom, waiting for the next line.
    events_until(&mut ws, &mut events, Duration::from_secs(10), |ev| {
        ev.iter().any(|e| {
            let asleep_in_recv = |k: &Option<kettle_shared::KernelView>| {
                k.as_ref().is_some_and(|k| {
                    k.state.value().is_some_and(|s| s == "S")
                        && matches!(
                            k.syscall.value(),
                            Some(kettle_shared::InSyscall::Call { name: Some(n), .. })
                                if n == "recvfrom" || n == "recvmsg"
                        )
                })
            };
            e.thread.name.starts_with("child-")
                && matches!(&e.kind, EventKind::ThreadSample { conns: 1, syscalls, kernel, .. }
                    if *syscalls >= 2 && asleep_in_recv(kernel))
        })
    })
    .await;
    drop(c);
    server.shutdown().await.unwrap();
}
