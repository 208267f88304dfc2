//! `kettle trace -- PROGRAM`: echo servers of our own writing (`tests/traced/`: Python with
//! the standard library only, and one in C), each run traced by a real Kettle, one line echoed
//! through it, and the figure it is drawn as checked against the style it was written in;
//! then the bad cases, each with its message, and nothing left running afterwards.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kettle_backend::{serve, Config, Server};
use kettle_shared::{
    ArrivalStamp, ChildExit, Event, EventKind, Family, ModelInfo, ModelState, Reason, WaitApi,
    TRACED_MODEL,
};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Long enough for a busy CI machine to start Python and the tracer; the tests wait for
/// states, and this only bounds a wait that would otherwise hang.
const PATIENCE: Duration = Duration::from_secs(30);

fn program(name: &str) -> String {
    format!("{}/tests/traced/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn python(script: &str) -> Vec<String> {
    vec!["python3".into(), program(script)]
}

async fn tracing(command: Vec<String>) -> Server {
    serve(Config { trace: Some(command), ..common::config(&[]) }).await.expect("kettle starts")
}

fn traced(server: &Server) -> ModelInfo {
    server.registry.get(TRACED_MODEL).expect("the traced program is a model")
}

/// Polls `check` until it gives a value, failing after [`PATIENCE`] with `what`.
async fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn traced_events(server: &Server) -> Vec<Event> {
    let (events, _) = server.registry.recorder().history();
    events.into_iter().filter(|e| e.model == TRACED_MODEL).collect()
}

/// One line through the program, on a blocking socket off the runtime: the echo, upper-cased.
async fn echo(port: u16, line: &str) -> String {
    let line = line.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the traced program accepts");
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        let mut got = vec![0u8; line.len()];
        s.read_exact(&mut got).expect("the echo comes back");
        String::from_utf8(got).unwrap()
    })
    .await
    .unwrap()
}

/// Traces `command`, echoes a line once it listens, waits until it is drawn as `family`, hands
/// the program's events to `check`, then stops Kettle and checks that neither the program nor
/// its port outlived it.
async fn drawn_as(command: Vec<String>, family: Family, check: impl FnOnce(&[Event])) {
    let server = tracing(command).await;
    let pid = server.registry.traced().and_then(|t| t.pid()).expect("the program runs");
    let port = until("the program to listen", || traced(&server).port).await;
    assert_eq!(echo(port, "hello, kettle\n").await, "HELLO, KETTLE\n");
    let info = until("the program to be drawn as its figure", || {
        Some(traced(&server)).filter(|m| m.family == Some(family))
    })
    .await;
    assert_eq!(info.figure, family.figure());
    assert_eq!(info.state, ModelState::Running);
    assert_eq!(info.ports, [port]);
    let events = until("the echo's send and the figure's step in the events", || {
        let events = traced_events(&server);
        let sent = events.iter().any(|e| matches!(e.kind, EventKind::SendExit { .. }));
        let told = events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Recognised { family: f, .. } if f == family));
        (sent && told).then_some(events)
    })
    .await;
    let why = events.iter().rev().find_map(|e| match &e.kind {
        EventKind::Recognised { family, call, count, .. } => Some((*family, call.clone(), *count)),
        _ => None,
    });
    let (told, _, count) = why.expect("the figure is told as a step");
    assert_eq!(told, family);
    assert!(count >= 1);
    // The connection the echo used is numbered as a built-in model numbers it.
    assert!(events
        .iter()
        .any(|e| matches!(e.kind, EventKind::AcceptExit { fd: Some(_), .. }) && e.conn == Some(1)));
    check(&events);
    server.shutdown().await.unwrap();
    nothing_left(pid, port);
}

/// The program's process is gone (reaped, not a zombie) and its port can be listened on again.
fn nothing_left(pid: i32, port: u16) {
    assert_eq!(kill(Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH), "pid {pid} lives");
    kettle_backend::registry::bind_listener(port).expect("the program's port is free again");
}

fn waits_in(events: &[Event], api: WaitApi) -> bool {
    events.iter().any(|e| matches!(&e.kind, EventKind::WaitEnter { api: a, .. } if *a == api))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_python_server_is_drawn_as_fig_6_1() {
    drawn_as(python("blocking.py"), Family::Blocking, |events| {
        assert!(events.iter().any(|e| matches!(e.kind, EventKind::AcceptEnter)));
        assert!(!waits_in(events, WaitApi::Select) && !waits_in(events, WaitApi::Epoll));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thread_per_connection_server_is_fig_6_1_with_the_connection_on_its_own_thread() {
    drawn_as(python("threads.py"), Family::Blocking, |events| {
        let accepted_on = events.iter().find(|e| matches!(e.kind, EventKind::AcceptEnter));
        let recv_on = events.iter().find(|e| matches!(e.kind, EventKind::RecvEnter { .. }));
        let (accepted_on, recv_on) = (accepted_on.unwrap(), recv_on.unwrap());
        assert_ne!(accepted_on.thread.id, recv_on.thread.id, "the client has a thread (lane)");
        assert!(events.iter().any(
            |e| matches!(e.kind, EventKind::ThreadSpawned) && e.thread.id == recv_on.thread.id
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_busy_loop_is_fig_6_2() {
    drawn_as(python("busy_loop.py"), Family::BusyLoop, |events| {
        let eagain = events.iter().any(|e| match &e.kind {
            EventKind::WouldBlockBurst { .. } => true,
            EventKind::AcceptExit { error: Some(err), .. } => err.errno == "EAGAIN",
            _ => false,
        });
        assert!(eagain, "the loop's EAGAINs are in the events");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_select_server_is_fig_6_3_waiting_in_select() {
    drawn_as(python("select_server.py"), Family::Multiplex, |events| {
        assert!(waits_in(events, WaitApi::Select));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn python_selectors_is_epoll_on_linux_and_fig_6_3() {
    drawn_as(python("selectors_server.py"), Family::Multiplex, |events| {
        assert!(waits_in(events, WaitApi::Epoll), "DefaultSelector waits in epoll_wait");
        assert!(events.iter().any(|e| matches!(e.kind, EventKind::EpollCtl { .. })));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn asyncio_is_epoll_on_linux_and_fig_6_3() {
    drawn_as(python("asyncio_server.py"), Family::Multiplex, |events| {
        assert!(waits_in(events, WaitApi::Epoll));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_sigio_server_is_fig_6_4() {
    drawn_as(python("sigio_server.py"), Family::Signal, |events| {
        assert!(events.iter().any(|e| matches!(&e.kind,
            EventKind::SignalHandler { name, .. } if name == "SIGIO")));
        assert!(events.iter().any(|e| matches!(&e.kind,
            EventKind::SignalDelivered { name, .. } if name == "SIGIO")));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_c_server_waiting_in_poll_is_fig_6_3() {
    let dir = std::env::temp_dir().join(format!("kettle-trace-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("poll_echo");
    let built = Command::new("cc")
        .args(["-O1", "-o"])
        .arg(&exe)
        .arg(program("poll_echo.c"))
        .status()
        .expect("a C compiler (cc) is installed");
    assert!(built.success(), "poll_echo.c compiles");
    drawn_as(vec![exe.to_string_lossy().into_owned()], Family::Multiplex, |events| {
        assert!(waits_in(events, WaitApi::Poll));
    })
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

// -- bad cases --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_does_not_exist_is_refused_at_start_and_nothing_runs() {
    let err = serve(Config {
        trace: Some(vec!["kettle-no-such-program".into()]),
        ..common::config(&["blocking"])
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("kettle-no-such-program: no such program"), "{err}");
    assert!(err.contains("PATH"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_is_not_executable_is_refused_with_the_fix() {
    let file = std::env::temp_dir().join(format!("kettle-not-executable-{}", std::process::id()));
    std::fs::write(&file, "print('hi')\n").unwrap();
    let path = file.to_string_lossy().into_owned();
    let err = serve(Config { trace: Some(vec![path.clone()]), ..common::config(&[]) })
        .await
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_file(&file);
    assert!(err.contains(&format!("{path}: not executable (EACCES)")), "{err}");
    assert!(err.contains("chmod +x"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_exits_says_its_code_and_its_events_stay() {
    let script = "import socket, sys\n\
                  s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n\
                  sys.exit(3)";
    let server = tracing(vec!["python3".into(), "-c".into(), script.into()]).await;
    let info = until("the program to end", || {
        Some(traced(&server)).filter(|m| m.state == ModelState::Stopped)
    })
    .await;
    let exited = Reason::ProgramExited { exit: ChildExit::Exited { code: 3 } };
    assert_eq!(info.reason, Some(exited.clone()));
    let events = until("the stop among the program's events", || {
        let events = traced_events(&server);
        let stopped = EventKind::Stopped { reason: exited.clone() };
        events.iter().any(|e| e.kind == stopped).then_some(events)
    })
    .await;
    assert!(events.iter().any(|e| matches!(e.kind, EventKind::Listen { .. })), "kept for replay");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_killed_by_a_signal_says_which() {
    let script = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)";
    let server = tracing(vec!["python3".into(), "-c".into(), script.into()]).await;
    let info = until("the program to end", || {
        Some(traced(&server)).filter(|m| m.state == ModelState::Stopped)
    })
    .await;
    let killed = ChildExit::Killed { signo: 9, name: "SIGKILL".into() };
    assert_eq!(info.reason, Some(Reason::ProgramExited { exit: killed }));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_program_that_never_listens_is_told_so_and_still_runs() {
    let script = "import time; time.sleep(120)";
    let server = tracing(vec!["python3".into(), "-c".into(), script.into()]).await;
    let pid = server.registry.traced().and_then(|t| t.pid()).unwrap();
    let info = until("the model to say it never listened", || {
        Some(traced(&server)).filter(|m| m.reason.is_some())
    })
    .await;
    assert_eq!(info.reason, Some(Reason::NeverListened { secs: 5 }));
    assert_eq!(info.state, ModelState::Running);
    server.shutdown().await.unwrap();
    assert_eq!(kill(Pid::from_raw(pid), None), Err(nix::errno::Errno::ESRCH));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_runs_the_same_command_again_on_a_new_process() {
    let server = tracing(python("select_server.py")).await;
    let first = server.registry.traced().and_then(|t| t.pid()).unwrap();
    let port = until("the program to listen", || traced(&server).port).await;
    let registry = server.registry.clone();
    let stopped = tokio::task::spawn_blocking(move || {
        registry.stop(TRACED_MODEL).unwrap();
        registry.start(TRACED_MODEL).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(stopped.state, ModelState::Running);
    assert_eq!(kill(Pid::from_raw(first), None), Err(nix::errno::Errno::ESRCH));
    let second = server.registry.traced().and_then(|t| t.pid()).unwrap();
    assert_ne!(first, second);
    let new_port = until("the new run to listen", || traced(&server).port).await;
    assert_eq!(echo(new_port, "again\n").await, "AGAIN\n");
    let _ = port;
    server.shutdown().await.unwrap();
    nothing_left(second, new_port);
}

/// The command line's contract: the two lines, then Ctrl-C ends the program and frees its port.
#[test]
fn kettle_trace_prints_where_it_runs_and_what_it_traces_and_ctrl_c_leaves_nothing() {
    let mut kettle = Command::new(env!("CARGO_BIN_EXE_kettle"))
        .args(["trace", "--port", "0", "--model-port-base", "0", "--"])
        .args(python("select_server.py"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(kettle.stdout.take().unwrap()).lines();
    let running = lines.next().unwrap().unwrap();
    let url = running.strip_prefix("Kettle is running at http://127.0.0.1:").expect(&running);
    let web_port: u16 = url.split_whitespace().next().unwrap().parse().unwrap();
    let tracing = lines.next().unwrap().unwrap();
    let rest = tracing.strip_prefix("tracing PID ").expect(&tracing);
    let (pid, cmd) = rest.split_once(": ").unwrap();
    let pid: i32 = pid.parse().unwrap();
    assert_eq!(cmd, format!("python3 {}", program("select_server.py")));
    assert_eq!(kill(Pid::from_raw(pid), None), Ok(()), "the program runs");
    // The API lists it, under the id the page uses.
    let deadline = Instant::now() + PATIENCE;
    let port = loop {
        let list = http_get(web_port, "/api/models");
        let models: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
        let traced = models.iter().find(|m| m["id"] == "traced").expect("listed").clone();
        if let Some(port) = traced["port"].as_u64() {
            assert_eq!(traced["state"], "running");
            break port as u16;
        }
        assert!(Instant::now() < deadline, "the program never listened: {traced}");
        std::thread::sleep(Duration::from_millis(50));
    };
    kill(Pid::from_raw(kettle.id() as i32), Signal::SIGINT).unwrap();
    assert!(kettle.wait().unwrap().success());
    nothing_left(pid, port);
}

/// Under a tracer already (strace -f), the kernel refuses Kettle's `PTRACE_TRACEME`: the
/// command says so, with the fix, and exits without leaving anything behind.
#[test]
fn ptrace_refused_is_named_with_its_cause_and_fix() {
    let child = Command::new("strace")
        .args(["-f", "-o", "/dev/null", env!("CARGO_BIN_EXE_kettle")])
        .args(["trace", "--port", "0", "--model-port-base", "0", "--"])
        .args(python("blocking.py"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so a Kettle that does not end is killed with strace.
        .process_group(0)
        .spawn()
        .expect("strace is installed (the strace tests need it too)");
    let group = Pid::from_raw(child.id() as i32);
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(PATIENCE * 2);
        let _ = nix::sys::signal::killpg(group, Signal::SIGKILL);
    });
    let out = child.wait_with_output().unwrap();
    assert!(!watchdog.is_finished(), "kettle did not end after the refusal: killed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("the kernel refused ptrace (EPERM)"), "{stderr}");
    assert!(stderr.contains("SYS_PTRACE") || stderr.contains("ptrace_scope"), "{stderr}");
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// Phase 1 of a traced program's recv: as root, the kernel's own data-ready of the program's
/// socket, for any client; otherwise the transmit stamp of Kettle's own echo client (loopback),
/// and "not measured" — no number at all — for a line from anyone else.
/// A page's echo client of the traced program, opened through a WebSocket viewer, that has
/// sent `text`: the viewer, on which its echo will come.
async fn echo_client_sends(server: &Server, text: &str) -> common::Ws {
    use common::{answer, send_cmd, viewer};
    use kettle_shared::{Command, ReplyResult, ServerMsg};
    let (mut ws, _) = viewer(server).await;
    let mut seen = Vec::new();
    send_cmd(&mut ws, 1, Command::EchoOpen { model: TRACED_MODEL.into(), port: None }).await;
    let client = match answer(&mut ws, 1, &mut seen).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => client,
        other => panic!("{other:?}"),
    };
    send_cmd(&mut ws, 2, Command::EchoSend { client, text: text.into() }).await;
    ws
}

#[tokio::test(flavor = "multi_thread")]
async fn phase_1_comes_from_the_kernel_as_root_else_kettles_client_and_is_never_guessed() {
    use common::next_msg;
    use kettle_shared::{RecvOutcome, ServerMsg};

    let server = tracing(python("blocking.py")).await;
    let port = until("the program to listen", || traced(&server).port).await;
    let pid = server.registry.traced().and_then(|t| t.pid()).unwrap();
    // Someone else's client first: its line is served, its phase 1 not measured.
    assert_eq!(echo(port, "stranger\n").await, "STRANGER\n");
    let mut ws = echo_client_sends(&server, "kettle\n").await;
    loop {
        if let ServerMsg::Echo { text, .. } = next_msg(&mut ws).await {
            assert_eq!(text, "KETTLE\n");
            break;
        }
    }
    let events = until("both lines' recvs among the events", || {
        let events = traced_events(&server);
        let lines = events
            .iter()
            .filter(|e| {
                matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
            })
            .count();
        (lines == 2).then_some(events)
    })
    .await;
    let recvs: Vec<&Event> = events
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { .. }, .. })
        })
        .collect();
    let phases = |e: &Event| match e.kind {
        EventKind::RecvExit { wait_ns, copy_ns, .. } => (wait_ns, copy_ns),
        _ => unreachable!(),
    };
    // As root Kettle reads the kernel's own sk_data_ready for the program's sockets, which
    // covers every client; otherwise only its own client's send stamps.
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let stamp_of = |conn| {
        events.iter().find_map(|e| match e.kind {
            EventKind::DataArrived { stamp, .. } if e.conn == conn => Some(stamp),
            _ => None,
        })
    };
    // A stranger's line is measured only by the kernel's word, and then says so; without it
    // (not root, or the kernel's reader not scheduled within `STAMP_LATE_BY` on a busy
    // machine) it has no phases at all — never a number from nowhere.
    match (phases(recvs[0]), stamp_of(recvs[0].conn)) {
        ((Some(_), Some(_)), Some(Some(ArrivalStamp::KernelReady))) => assert!(root),
        ((None, None), None) => {}
        other => panic!("a stranger's line: {other:?}"),
    }
    // Kettle's client's line is always measured: by the kernel's word when there is one,
    // else by the client's own send stamp.
    let (wait, copy) = phases(recvs[1]);
    assert!(wait.is_some() && copy.is_some(), "Kettle's client's line is measured");
    match stamp_of(recvs[1].conn) {
        Some(Some(ArrivalStamp::KernelReady)) => assert!(root),
        Some(Some(ArrivalStamp::ClientSend)) => {}
        other => panic!("Kettle's client's arrival: {other:?}"),
    }
    let arrived = events
        .iter()
        .find(|e| matches!(e.kind, EventKind::DataArrived { .. }) && e.conn == recvs[1].conn)
        .expect("the arrival is a step of the connection");
    let entered = events
        .iter()
        .rfind(|e| {
            matches!(e.kind, EventKind::RecvEnter { .. })
                && e.conn == recvs[1].conn
                && e.t_ns <= recvs[1].t_ns
        })
        .expect("the recv's entry");
    // Split as a built-in model splits it: waiting until the arrival, then waking and copying.
    assert_eq!(wait, Some(arrived.t_ns.saturating_sub(entered.t_ns)));
    assert_eq!(copy, Some(recvs[1].t_ns - arrived.t_ns.max(entered.t_ns)));
    server.shutdown().await.unwrap();
    nothing_left(pid, port);
}

/// The same conversation with a program: connect, one line, its echo, close. Each step waits
/// for the last, so a program makes the same calls in the same order in every run.
fn converse(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the program accepts");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"one line\n").unwrap();
    let mut echo = [0u8; 9];
    s.read_exact(&mut echo).unwrap();
    assert_eq!(&echo, b"ONE LINE\n");
}

/// The calls a figure draws, in order, as strace printed them for the program after its
/// `listen`: `accept`, `recv`, `send`, `select`, `poll` (the names Kettle's events use).
fn strace_calls(log: &str) -> Vec<&'static str> {
    let mut listening = false;
    let mut calls = Vec::new();
    for line in log.lines() {
        // `-f` prefixes the pid; an unfinished call is resumed on a later line, counted once.
        let call = line.split_once(' ').map_or(line, |(_, rest)| rest).trim_start();
        if call.starts_with("listen(") && call.ends_with("= 0") {
            listening = true;
            continue;
        }
        if !listening || call.starts_with("<...") {
            continue;
        }
        let name = call.split('(').next().unwrap_or_default();
        calls.extend(match name {
            "accept" | "accept4" => Some("accept"),
            "recvfrom" | "read" | "recvmsg" => Some("recv"),
            "sendto" | "write" | "sendmsg" => Some("send"),
            "select" | "pselect6" => Some("select"),
            "poll" | "ppoll" => Some("poll"),
            _ => None,
        });
    }
    calls
}

/// The same from Kettle's events of the traced program.
fn kettle_calls(events: &[Event]) -> Vec<&'static str> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    sorted
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::AcceptEnter => Some("accept"),
            EventKind::RecvEnter { .. } => Some("recv"),
            EventKind::SendEnter { .. } => Some("send"),
            EventKind::WaitEnter { api: WaitApi::Select, .. } => Some("select"),
            EventKind::WaitEnter { api: WaitApi::Poll, .. } => Some("poll"),
            _ => None,
        })
        .collect()
}

/// Runs `script` under strace (a port of our choosing), has the conversation, and returns the
/// calls strace saw.
fn under_strace(script: &str) -> Vec<&'static str> {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let log =
        std::env::temp_dir().join(format!("kettle-trace-strace-{}-{port}", std::process::id()));
    let calls = "accept,accept4,recvfrom,read,recvmsg,sendto,write,sendmsg,select,pselect6,poll,ppoll,listen";
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-e", &format!("trace={calls}"), "-o"])
        .arg(&log)
        .args(python(script))
        .arg(port.to_string())
        .stdin(Stdio::null())
        // A group of its own: strace killed leaves its tracee running, so the group goes.
        .process_group(0)
        .spawn()
        .expect("strace is installed");
    let deadline = Instant::now() + PATIENCE;
    // Listening, as the kernel's table says: no probe connection, whose end the program may
    // read in the same wake-up as the next connection or in one of its own.
    let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
    while kettle_backend::proc::net::TcpTable::read().unwrap().listener(addr).is_none() {
        assert!(Instant::now() < deadline, "{script} never listened under strace");
        std::thread::sleep(Duration::from_millis(50));
    }
    converse(port);
    // Let the program finish with our connection (its recv of the end) before stopping it.
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::killpg(Pid::from_raw(strace.id() as i32), Signal::SIGKILL).unwrap();
    strace.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    strace_calls(&text)
}

/// strace, the reference, and Kettle's tracer see the same calls in the same order for the
/// same conversation (up to where each stopped watching).
async fn agrees_with_strace(script: &str) {
    let expected = tokio::task::spawn_blocking({
        let script = script.to_owned();
        move || under_strace(&script)
    })
    .await
    .unwrap();
    let server = tracing(python(script)).await;
    let port = until("the program to listen", || traced(&server).port).await;
    tokio::task::spawn_blocking(move || converse(port)).await.unwrap();
    let seen = until("Kettle to have seen as many calls as strace", || {
        let calls = kettle_calls(&traced_events(&server));
        (calls.len() >= expected.len()).then_some(calls)
    })
    .await;
    assert!(expected.len() >= 5, "strace saw the conversation: {expected:?}");
    assert_eq!(seen[..expected.len()], expected[..], "Kettle's calls (left) against strace's");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_select_servers_calls_are_the_ones_strace_sees_in_the_same_order() {
    agrees_with_strace("select_server.py").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_servers_calls_are_the_ones_strace_sees_in_the_same_order() {
    agrees_with_strace("blocking.py").await;
}

/// A program on two ports: both listed, in order; a page's echo client may pick either, and
/// nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn a_program_on_two_ports_lists_both_and_an_echo_client_picks_either() {
    use common::{answer, next_msg, send_cmd, viewer};
    use kettle_shared::{Command, ReplyResult, ServerMsg};

    let server = tracing(python("two_ports.py")).await;
    let info = until("both ports", || Some(traced(&server)).filter(|m| m.ports.len() == 2)).await;
    let (first, second) = (info.ports[0], info.ports[1]);
    assert_eq!(info.port, Some(first), "the first port is the model's port");
    let (mut ws, _) = viewer(&server).await;
    let mut seen = Vec::new();
    send_cmd(&mut ws, 1, Command::EchoOpen { model: TRACED_MODEL.into(), port: Some(second) })
        .await;
    let client = match answer(&mut ws, 1, &mut seen).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => client,
        other => panic!("{other:?}"),
    };
    send_cmd(&mut ws, 2, Command::EchoSend { client, text: "second\n".into() }).await;
    loop {
        if let ServerMsg::Echo { text, .. } = next_msg(&mut ws).await {
            assert_eq!(text, "SECOND\n");
            break;
        }
    }
    // The connection went to the second listener: the program's accept says which port.
    let events = until("the accept of the second port's connection", || {
        let events = traced_events(&server);
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::AcceptExit { fd: Some(_), .. }))
            .then_some(events)
    })
    .await;
    assert!(events.iter().any(|e| matches!(&e.kind, EventKind::Listen { addr, .. } if addr.ends_with(&format!(":{second}")))));
    // A port the program does not listen on is refused, and no connection is made.
    let web = server.addr.port();
    send_cmd(&mut ws, 3, Command::EchoOpen { model: TRACED_MODEL.into(), port: Some(web) }).await;
    match answer(&mut ws, 3, &mut seen).await {
        ServerMsg::Error { reason: Reason::NotAModelPort { addr }, .. } => {
            assert_eq!(addr, format!("127.0.0.1:{web}"));
        }
        other => panic!("{other:?}"),
    }
    server.shutdown().await.unwrap();
}

/// Runs `conns` clients against `port`, each sending 64-byte lines and reading each echo
/// before the next (a closed loop), until `stop`: the bytes echoed in all.
fn closed_loop(
    port: u16,
    conns: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    lines: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> u64 {
    use std::sync::atomic::Ordering;
    let mut clients: Vec<TcpStream> = (0..conns)
        .map(|_| {
            let s = TcpStream::connect(("127.0.0.1", port)).expect("the traced program accepts");
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            s
        })
        .collect();
    let line = [b'k'; 63].iter().chain(b"\n").copied().collect::<Vec<u8>>();
    let mut echoed = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for c in &mut clients {
            c.write_all(&line).unwrap();
        }
        for c in &mut clients {
            let mut got = [0u8; 64];
            c.read_exact(&mut got).expect("the echo comes back");
            assert_eq!(got[0], b'K');
            echoed += 64;
            lines.fetch_add(1, Ordering::Relaxed);
        }
    }
    echoed
}

/// As root, a program too busy to watch step by step runs untouched: its calls are read from
/// the kernel's tracepoints instead of stopping it, every byte it reads is still counted once
/// (none lost, none counted twice at the switches), and once it is calm again a line is drawn
/// in full detail — the select that reported its descriptor. Not root: every call still stops.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_program_runs_untouched_yet_counted_and_is_drawn_in_detail_again_once_calm() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    let server = tracing(python("select_server.py")).await;
    let port = until("the program to listen", || traced(&server).port).await;
    let program = server.registry.traced().expect("a traced program");
    let pid = program.pid().unwrap();
    let recorder = server.registry.recorder().clone();
    let mut watcher = recorder.watcher();
    watcher.set_aggregates(Some(&[TRACED_MODEL.to_owned()]));
    let mut aggregates = recorder.subscribe_aggregates();
    let received = Arc::new(AtomicU64::new(0));
    let counting = {
        let received = received.clone();
        tokio::spawn(async move {
            while let Ok(cut) = aggregates.recv().await {
                for a in cut.iter().filter(|a| a.model == TRACED_MODEL) {
                    received.fetch_add(a.bytes_received, Ordering::Relaxed);
                }
            }
        })
    };

    /// Stops the load when dropped: a failed assertion must not leave it running (the test
    /// would wait for it forever instead of failing).
    struct StopOnDrop(Arc<AtomicBool>);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let (stop, lines) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let stop_on_drop = StopOnDrop(stop.clone());
    let load = {
        let (stop, lines) = (stop.clone(), lines.clone());
        tokio::task::spawn_blocking(move || closed_loop(port, 20, stop, lines))
    };
    // Busy: wait until a stretch of lines costs (nearly) no stops — or, not root, check that
    // each line still stops the program at its calls.
    let deadline = Instant::now() + PATIENCE;
    let per_line = loop {
        let (stops0, lines0) = (program.calls_stopped(), lines.load(Ordering::Relaxed));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (stops, lines) =
            (program.calls_stopped() - stops0, lines.load(Ordering::Relaxed) - lines0);
        let per_line = stops as f64 / lines.max(1) as f64;
        if !root || (lines > 100 && per_line < 0.05) || Instant::now() > deadline {
            break per_line;
        }
    };
    if root {
        assert!(per_line < 0.05, "the busy program still stops {per_line:.2} times a line");
    } else {
        assert!(per_line >= 2.0, "not root: each line's recv and send stop it ({per_line:.2})");
    }
    // Passive, a browser echo client's connection is still followed (its accept's peer read
    // from a copy of the descriptor) and its line drawn: its recv, with its bytes.
    if root {
        until("the model to say it is read, not stopped", || traced(&server).passive.then_some(()))
            .await;
        use kettle_shared::{RecvOutcome, ServerMsg};
        let mut ws = echo_client_sends(&server, "followed\n").await;
        while !matches!(common::next_msg(&mut ws).await, ServerMsg::Echo { .. }) {}
        let per_line = program.calls_stopped() as f64 / lines.load(Ordering::Relaxed) as f64;
        assert!(per_line < 0.5, "still passive while the client's line went ({per_line:.2})");
        until("the followed client's line drawn while passive", || {
            let events = traced_events(&server);
            let conn = events.iter().rev().find_map(|e| match &e.kind {
                EventKind::AcceptExit { peer: Some(_), .. } => e.conn,
                _ => None,
            })?;
            events
                .iter()
                .any(|e| {
                    e.conn == Some(conn)
                        && matches!(
                            &e.kind,
                            EventKind::RecvExit { outcome: RecvOutcome::Data { bytes: 9, .. }, .. }
                        )
                })
                .then_some(())
        })
        .await;
    }
    drop(stop_on_drop);
    // The load's bytes, and the followed client's line.
    let echoed = load.await.unwrap() + if root { 9 } else { 0 };
    until("every byte read to be counted once in the aggregates", || {
        let counted = received.load(Ordering::Relaxed);
        assert!(counted <= echoed, "{counted} bytes counted of {echoed} read: some twice");
        // A machine too busy for Kettle's reader: the kernel dropped records and said so (the
        // terminal says it too); then the count is short, never over.
        (counted == echoed || program.records_missed() > 0).then_some(())
    })
    .await;

    until("the model to say it is stopped at each call again", || {
        (!traced(&server).passive).then_some(())
    })
    .await;
    // Calm again: a new connection's line, and the select that reported it, in detail. (A
    // line sent before the program's threads were brought back is drawn without its select:
    // send another.)
    let deadline = Instant::now() + PATIENCE;
    loop {
        let after = traced_events(&server).last().map_or(0, |e| e.seq);
        assert_eq!(echo(port, "calm\n").await, "CALM\n");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let events: Vec<Event> =
            traced_events(&server).into_iter().filter(|e| e.seq > after).collect();
        let fd = events.iter().find_map(|e| match e.kind {
            EventKind::RecvExit { fd, .. } => Some(fd),
            _ => None,
        });
        let reported = fd.is_some_and(|fd| {
            events.iter().any(|e| {
                matches!(&e.kind, EventKind::WaitReturned { api: WaitApi::Select, ready, .. }
                    if ready.iter().any(|r| r.fd == fd && r.readable))
            })
        });
        if reported {
            break;
        }
        assert!(Instant::now() < deadline, "no line drawn in detail once calm: {events:?}");
    }
    drop(watcher);
    counting.abort();
    server.shutdown().await.unwrap();
    nothing_left(pid, port);
}
