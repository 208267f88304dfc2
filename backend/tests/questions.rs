//! Predict, then see, against real servers on port 0: every tour question's rule judged from
//! the events its model recorded for a line sent the way the tour sends it (an echo client
//! over the WebSocket, the line sent once the server accepted it), and the class's vote — a
//! teacher and three students — with every refusal the issue names.

mod common;

use std::time::{Duration, Instant};

use common::*;
use kettle_backend::{serve, Config, Server};
use kettle_shared::{
    judge, question, question_of, Ballot, BuiltIn, Command, ErrorCode, Event, EventKind, Evidence,
    ModelState, Question, Reason, ReplyResult, ServerMsg, Verdict, WaitApi, QUESTIONS,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long phase 1 lasts: the line is sent this long after the server accepted the client.
const PAUSE: Duration = Duration::from_millis(200);

/// What a line sent as the tour sends it left behind.
struct Line {
    /// The model's events, in seq order.
    events: Vec<Event>,
    conn: u64,
    after_seq: u64,
    verdict: Verdict,
}

/// Opens an echo client on `model` through `ws`, waits until the server accepted it, pauses,
/// sends the line and collects events until `q` can be judged.
async fn tour_line(ws: &mut Ws, model: &str, q: &Question) -> Line {
    let mut events = Vec::new();
    send_cmd(ws, 1, Command::EchoOpen { model: model.into(), port: None }).await;
    let (client, local) = match answer(ws, 1, &mut events).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, local, .. }, .. } => {
            (client, local)
        }
        other => panic!("{other:?}"),
    };
    let accepted_as = |events: &[Event]| {
        events.iter().find_map(|e| match &e.kind {
            EventKind::AcceptExit { peer: Some(p), .. } if *p == local => e.conn,
            EventKind::Complete { peer: Some(p), .. } if *p == local => e.conn,
            _ => None,
        })
    };
    events_until(ws, &mut events, Duration::from_secs(10), |ev| accepted_as(ev).is_some()).await;
    let conn = accepted_as(&events).unwrap();
    tokio::time::sleep(PAUSE).await;
    // The page's `after_seq`: the newest seq it knew when it sent the line.
    let after_seq = events.iter().map(|e| e.seq).max().unwrap_or(0);
    send_cmd(ws, 2, Command::EchoSend { client, text: "kettle tour\n".into() }).await;
    let of_model =
        |ev: &[Event]| -> Vec<Event> { ev.iter().filter(|e| e.model == model).cloned().collect() };
    events_until(ws, &mut events, Duration::from_secs(10), |ev| {
        judge(q, &of_model(ev), conn, after_seq).is_some()
    })
    .await;
    let events: Vec<Event> = of_model(&events);
    let verdict = judge(q, &events, conn, after_seq).unwrap();
    Line { events, conn, after_seq, verdict }
}

/// A Kettle running `model`, or `None` (said) where it cannot run here.
async fn running(model: BuiltIn) -> Option<Server> {
    let server = kettle(&[model.id()]).await;
    let state = server.registry.list().into_iter().find(|m| m.id == model.id()).unwrap().state;
    if state != ModelState::Running {
        eprintln!("skipped: {} is {state:?} on this machine", model.id());
        return None;
    }
    Some(server)
}

/// Runs `model`'s question against a real line and returns what it judged.
async fn judged(model: BuiltIn) -> Option<Line> {
    let q = question_of(model).expect("the model's tour stop asks a question");
    let server = running(model).await?;
    let (mut ws, _) = viewer(&server).await;
    let line = tour_line(&mut ws, model.id(), q).await;
    server.shutdown().await.unwrap();
    Some(line)
}

fn ms(ns: u64) -> u64 {
    ns / 1_000_000
}

#[tokio::test(flavor = "multi_thread")]
async fn blocking_waits_in_recv_and_the_verdict_says_how_long() {
    let line = judged(BuiltIn::Blocking).await.unwrap();
    assert_eq!(line.verdict.choice, Some(0), "{:?}", line.verdict);
    match line.verdict.evidence {
        Evidence::InRecv { wait_ns: Some(ns) } => assert!(ms(ns) >= 150, "{ns} ns"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn select_waits_in_select_measured_from_the_call_that_began_before_the_line() {
    let line = judged(BuiltIn::Select).await.unwrap();
    assert_eq!(line.verdict.choice, Some(1), "{:?}", line.verdict);
    match line.verdict.evidence {
        Evidence::InReadiness { api: WaitApi::Select, ns } => assert!(ms(ns) >= 150, "{ns} ns"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn thread_per_conn_copies_on_the_connections_own_thread() {
    let line = judged(BuiltIn::ThreadPerConn).await.unwrap();
    assert_eq!(line.verdict.choice, Some(1), "{:?}", line.verdict);
    assert_eq!(line.verdict.evidence, Evidence::CopiedBy { thread: format!("conn-{}", line.conn) });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_worker_that_copied_is_read_from_the_run_and_decides_the_choice() {
    let line = judged(BuiltIn::ThreadPool).await.unwrap();
    // Which worker takes a connection depends on the run: the verdict is that worker.
    let copier = line
        .events
        .iter()
        .find(|e| {
            e.seq > line.after_seq
                && e.conn == Some(line.conn)
                && matches!(e.kind, EventKind::RecvExit { .. })
        })
        .map(|e| e.thread.name.clone())
        .unwrap();
    let n: u32 = copier.strip_prefix("pool-worker-").unwrap().parse().unwrap();
    assert_eq!(line.verdict.choice, Some(n - 1), "{:?}", line.verdict);
    assert_eq!(line.verdict.evidence, Evidence::CopiedBy { thread: copier });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_busy_loops_answer_is_the_measured_count_of_eagains_before_the_line() {
    let line = judged(BuiltIn::Nonblocking).await.unwrap();
    let Evidence::Eagains { count } = line.verdict.evidence else { panic!("{:?}", line.verdict) };
    // The choice is whichever range the measured count fell in (thousands, on any machine
    // that spins for the 200 ms pause: the count is said, not assumed).
    let q = question("busy-eagains").unwrap();
    let expected = match count {
        0 => 0,
        1..100 => 1,
        _ => 2,
    };
    assert_eq!(line.verdict.choice, Some(expected), "{count} EAGAINs");
    assert!(count > 0, "a busy loop asks in vain while the line is on its way");
    assert_eq!(q.choices.len(), 3);
    eprintln!("measured: {count} EAGAINs before the line");
}

#[tokio::test(flavor = "multi_thread")]
async fn epoll_reports_the_connection_not_the_listener() {
    let line = judged(BuiltIn::Epoll).await.unwrap();
    assert_eq!(line.verdict.choice, Some(1), "{:?}", line.verdict);
    match line.verdict.evidence {
        Evidence::Reported { ready, conn_fd, .. } => assert_eq!(ready, [conn_fd]),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reactor_runs_the_callback_registered_for_the_lines_socket() {
    let line = judged(BuiltIn::Reactor).await.unwrap();
    assert_eq!(line.verdict.choice, Some(0), "{:?}", line.verdict);
    assert!(matches!(line.verdict.evidence, Evidence::Callback { .. }), "{:?}", line.verdict);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigio_runs_until_the_signal_comes() {
    let line = judged(BuiltIn::Sigio).await.unwrap();
    assert_eq!(line.verdict.choice, Some(3), "{:?}", line.verdict);
    assert!(matches!(line.verdict.evidence, Evidence::Signalled { .. }), "{:?}", line.verdict);
}

#[tokio::test(flavor = "multi_thread")]
async fn io_uring_lets_the_kernel_copy() {
    let Some(line) = judged(BuiltIn::IoUring).await else { return };
    assert_eq!(line.verdict.choice, Some(2), "{:?}", line.verdict);
    assert!(matches!(line.verdict.evidence, Evidence::KernelCopied { bytes: 12 }));
}

#[test]
fn every_question_is_exercised_above() {
    // The tests above, by model: a question added to the table fails here until it has one.
    let tested = [
        BuiltIn::Blocking,
        BuiltIn::ThreadPerConn,
        BuiltIn::ThreadPool,
        BuiltIn::Nonblocking,
        BuiltIn::Select,
        BuiltIn::Epoll,
        BuiltIn::Reactor,
        BuiltIn::Sigio,
        BuiltIn::IoUring,
    ];
    let asked: Vec<BuiltIn> = QUESTIONS.iter().map(|q| q.model).collect();
    assert_eq!(asked, tested);
}

// -- the class's vote -----------------------------------------------------------------------------

async fn classroom(start: &[&str]) -> Server {
    serve(Config { classroom: true, ..config(start) }).await.expect("kettle in classroom mode")
}

async fn viewer_with(server: &Server, token: Option<&str>) -> Ws {
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    let req = format!("ws://{}/ws{query}", host(server)).into_client_request().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket upgrade");
    assert!(matches!(next_msg(&mut ws).await, ServerMsg::Hello { .. }));
    ws
}

/// Reads until a ballot for which `done` holds (earlier ones are skipped), within 10 s.
async fn ballot_until(ws: &mut Ws, done: impl Fn(&Ballot) -> bool) -> Ballot {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no such ballot within 10 s");
        if let ServerMsg::Ballot { ballot: Some(b) } = next_msg(ws).await {
            if done(&b) {
                return b;
            }
        }
    }
}

/// Sends a command and reads until its answer.
async fn ask(ws: &mut Ws, id: u64, command: Command) -> ServerMsg {
    send_cmd(ws, id, command).await;
    answer(ws, id, &mut Vec::new()).await
}

fn refusal(msg: &ServerMsg) -> Option<&Reason> {
    match msg {
        ServerMsg::Error { reason, .. } => Some(reason),
        _ => None,
    }
}

fn vote(choice: u32) -> Command {
    Command::Vote { question: "select-wait".into(), choice }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_class_votes_two_to_one_the_teacher_sees_the_counts_and_the_reveal_reaches_everyone() {
    let server = classroom(&["select"]).await;
    let token = server.classroom.as_ref().unwrap().token.expose().to_owned();
    let mut teacher = viewer_with(&server, Some(&token)).await;
    let mut students = Vec::new();
    for _ in 0..3 {
        students.push(viewer_with(&server, None).await);
    }
    let q = question("select-wait").unwrap();

    // A student cannot ask.
    let asked = Command::Ask { question: Some(q.id.into()) };
    let msg = ask(&mut students[0], 9, asked.clone()).await;
    assert_eq!(refusal(&msg), Some(&Reason::TeacherOnly { what: "ask".into() }), "{msg:?}");
    assert!(matches!(ask(&mut teacher, 1, asked).await, ServerMsg::Reply { .. }));
    for s in &mut students {
        let b = ballot_until(s, |b| b.question == q.id).await;
        assert_eq!((b.voters, &b.counts, &b.verdict), (0, &None, &None), "{b:?}");
    }

    // Two for "in select", one for "in recv"; the first student changes its mind once.
    for (s, choices) in students.iter_mut().zip([[0, 1], [1, 1], [0, 0]]) {
        for (i, choice) in choices.into_iter().enumerate() {
            let msg = ask(s, 10 + i as u64, vote(choice)).await;
            assert!(matches!(msg, ServerMsg::Reply { result: ReplyResult::Voted { .. }, .. }));
        }
    }
    let live = ballot_until(&mut teacher, |b| b.voters == 3).await;
    assert_eq!(live.counts, Some(vec![1, 2, 0, 0]), "{live:?}");
    let seen = ballot_until(&mut students[0], |b| b.voters == 3).await;
    assert_eq!(seen.counts, None, "students see no counts before the reveal");

    // Refused, each with its reason, and nothing changes.
    let msg = ask(&mut students[1], 20, vote(4)).await;
    assert_eq!(refusal(&msg), Some(&Reason::NoSuchChoice { choice: 4, choices: 4 }));
    let msg =
        ask(&mut students[1], 21, Command::Vote { question: "epoll-ready".into(), choice: 0 })
            .await;
    assert_eq!(refusal(&msg), Some(&Reason::NotAsked { question: "epoll-ready".into() }));
    let early = Command::Reveal { question: q.id.into(), conn: 1, after_seq: 0 };
    let msg = ask(&mut students[0], 22, early.clone()).await;
    assert_eq!(refusal(&msg), Some(&Reason::TeacherOnly { what: "reveal".into() }));
    // Before any line: nothing recorded answers it, so the teacher cannot reveal either.
    let msg = ask(&mut teacher, 23, early).await;
    assert_eq!(refusal(&msg), Some(&Reason::NotRecorded { question: q.id.into() }));
    // A flood of votes: the rate limit refuses most, and one viewer is still one vote.
    let flood = 300u64;
    for id in 0..flood {
        send_cmd(&mut students[0], 100 + id, vote(1)).await;
    }
    let mut refused = 0;
    for id in 0..flood {
        let msg = answer(&mut students[0], 100 + id, &mut Vec::new()).await;
        if matches!(refusal(&msg), Some(Reason::TooManyCommands { .. })) {
            refused += 1;
        } else {
            assert!(matches!(msg, ServerMsg::Reply { .. }), "{msg:?}");
        }
    }
    assert!(refused > 0, "{flood} votes at once, none refused");

    // The reveal: the teacher's echo client sends the line, the recorded steps decide.
    let line = tour_line(&mut teacher, "select", q).await;
    assert_eq!(line.verdict.choice, Some(1), "{:?}", line.verdict);
    // The backend judges the line itself, from the events it recorded.
    let reveal =
        Command::Reveal { question: q.id.into(), conn: line.conn, after_seq: line.after_seq };
    let msg = ask(&mut teacher, 30, reveal.clone()).await;
    assert!(matches!(msg, ServerMsg::Reply { result: ReplyResult::Revealed { .. }, .. }));
    let done = ballot_until(&mut teacher, |b| b.verdict.is_some()).await;
    assert_eq!(done.counts, Some(vec![1, 2, 0, 0]), "the flood changed nothing: {done:?}");
    assert_eq!(done.verdict.as_ref().and_then(|v| v.choice), Some(1), "{done:?}");
    for s in &mut students {
        let b = ballot_until(s, |b| b.verdict.is_some()).await;
        assert_eq!(b.verdict, done.verdict, "every page is told the same verdict");
        assert_eq!(b.counts, Some(vec![1, 2, 0, 0]), "everyone sees the counts after");
    }

    // After the reveal: no more votes, no second reveal.
    let msg = ask(&mut students[1], 40, vote(0)).await;
    assert_eq!(refusal(&msg), Some(&Reason::VoteClosed { question: q.id.into() }));
    assert!(matches!(
        ask(&mut teacher, 41, reveal).await,
        ServerMsg::Error { code: ErrorCode::BadRequest, .. }
    ));
    server.shutdown().await.unwrap();
}
