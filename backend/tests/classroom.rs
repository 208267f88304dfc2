//! Classroom mode against a real server on port 0: the teacher's token over HTTP and over the
//! WebSocket, students who cannot stop anything, names that are admitted and names that are
//! not, "follow me" reaching every viewer, and the lines `kettle serve --classroom` prints.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use common::*;
use kettle_backend::{serve, Config, Server};
use kettle_shared::{
    Command, ErrorCode, ModelState, PlaybackAt, Reason, ReplyResult, Role, ServerMsg, TeacherView,
    View,
};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// A classroom Kettle on loopback (tests send nothing beyond this machine) and ephemeral ports.
async fn classroom(start: &[&str], allow_hosts: &[&str]) -> Server {
    let config = Config {
        classroom: true,
        allow_hosts: allow_hosts.iter().map(|s| s.to_string()).collect(),
        ..config(start)
    };
    serve(config).await.expect("kettle starts in classroom mode")
}

fn token(server: &Server) -> String {
    server.classroom.as_ref().expect("classroom mode").token.expose().to_owned()
}

/// A viewer on `/ws`, with `?token=` when given, and its Hello.
async fn viewer_with(server: &Server, token: Option<&str>) -> (Ws, ServerMsg) {
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    let req = format!("ws://{}/ws{query}", host(server)).into_client_request().unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("websocket upgrade");
    let hello = next_msg(&mut ws).await;
    (ws, hello)
}

fn role_of(hello: &ServerMsg) -> Role {
    match hello {
        ServerMsg::Hello { role, classroom, .. } => {
            assert!(classroom, "the hello says classroom mode");
            *role
        }
        other => panic!("expected hello, got {other:?}"),
    }
}

/// An HTTP request off the async workers.
async fn request(
    server: &Server,
    method: &str,
    path: &str,
    headers: Vec<(String, String)>,
) -> (u16, serde_json::Value) {
    let addr = server.addr;
    let path = path.to_owned();
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let hdr: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (status, body) = http(addr, &method, &path, &hdr);
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
    })
    .await
    .unwrap()
}

fn own_host(server: &Server) -> (String, String) {
    ("Host".into(), host(server))
}

#[tokio::test(flavor = "multi_thread")]
async fn api_start_without_the_token_is_403_json_and_with_the_bearer_token_starts() {
    let server = classroom(&[], &[]).await;
    let start = "/api/models/blocking/start";
    let (status, body) = request(&server, "POST", start, vec![own_host(&server)]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    assert_eq!(body["error"]["reason"]["code"], "teacher_only", "{body}");
    assert_eq!(body["error"]["reason"]["what"], "start", "{body}");
    assert_eq!(server.registry.running_port("blocking"), None, "nothing was started");

    let wrong = ("Authorization".to_owned(), "Bearer not-the-token".to_owned());
    let (status, _) = request(&server, "POST", start, vec![own_host(&server), wrong]).await;
    assert_eq!(status, 403);
    assert_eq!(server.registry.running_port("blocking"), None);

    // A student may still read the list.
    let (status, list) = request(&server, "GET", "/api/models", vec![own_host(&server)]).await;
    assert_eq!(status, 200, "{list}");

    let bearer = ("Authorization".to_owned(), format!("Bearer {}", token(&server)));
    let (status, body) =
        request(&server, "POST", start, vec![own_host(&server), bearer.clone()]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "running", "{body}");
    assert!(server.registry.running_port("blocking").is_some());

    let stop = "/api/models/blocking/stop";
    let (status, _) = request(&server, "POST", stop, vec![own_host(&server)]).await;
    assert_eq!(status, 403, "a student cannot stop it either");
    assert!(server.registry.running_port("blocking").is_some(), "still running");
    let (status, _) = request(&server, "POST", stop, vec![own_host(&server), bearer]).await;
    assert_eq!(status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_is_403_and_changes_nothing_while_the_machines_names_are_admitted() {
    let server = classroom(&[], &["kettle.school.example"]).await;
    let port = server.addr.port();
    let bearer = ("Authorization".to_owned(), format!("Bearer {}", token(&server)));
    let evil = ("Host".to_owned(), format!("evil.example:{port}"));
    let (status, body) =
        request(&server, "POST", "/api/models/blocking/start", vec![evil, bearer.clone()]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["reason"]["code"], "host_not_allowed", "{body}");
    assert_eq!(server.registry.running_port("blocking"), None, "even the token cannot pass");

    let mut admitted = vec![format!("kettle.school.example:{port}"), format!("localhost:{port}")];
    let names = kettle_backend::web::classroom::own_names();
    admitted.extend(names.iter().map(|n| format!("{n}:{port}")));
    for lan in kettle_backend::web::classroom::lan_addresses() {
        let ip = lan.ip;
        admitted.push(if ip.is_ipv4() { format!("{ip}:{port}") } else { format!("[{ip}]:{port}") });
    }
    for h in admitted {
        // Sent to 127.0.0.1: only the header names the machine another way.
        let (status, body) =
            request(&server, "GET", "/api/models", vec![("Host".into(), h.clone())]).await;
        assert_eq!(status, 200, "{h} must be admitted: {body}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_is_403_and_an_admitted_names_origin_is_not() {
    let server = classroom(&[], &["kettle.school.example"]).await;
    let port = server.addr.port();
    let bearer = ("Authorization".to_owned(), format!("Bearer {}", token(&server)));
    let evil = ("Origin".to_owned(), "http://evil.example".to_owned());
    let (status, body) = request(
        &server,
        "POST",
        "/api/models/blocking/start",
        vec![own_host(&server), evil, bearer.clone()],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["reason"]["code"], "origin_not_allowed", "{body}");
    assert_eq!(server.registry.running_port("blocking"), None);
    let refused = connect_ws(&server, Some("http://evil.example")).await;
    assert!(
        matches!(&refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 403),
        "{refused:?}"
    );

    let school = ("Origin".to_owned(), format!("http://kettle.school.example:{port}"));
    let (status, body) = request(
        &server,
        "POST",
        "/api/models/blocking/start",
        vec![own_host(&server), school, bearer],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_students_stop_over_the_websocket_is_an_error_and_the_model_still_runs() {
    let server = classroom(&["blocking"], &[]).await;
    let (mut student, hello) = viewer_with(&server, None).await;
    assert_eq!(role_of(&hello), Role::Student);

    let mut events = Vec::new();
    for (id, command) in [
        (1, Command::Stop { model: "blocking".into() }),
        (2, Command::Start { model: "epoll".into() }),
        (3, Command::LoadStop),
        (4, Command::Compute { ms: 10 }),
        (5, Command::ExperimentRun { name: "scan".into(), short: true }),
        (6, Command::FollowMe { view: Some(TeacherView::default()) }),
    ] {
        send_cmd(&mut student, id, command).await;
        match answer(&mut student, id, &mut events).await {
            ServerMsg::Error { id: Some(got), code, reason: Reason::TeacherOnly { what } } => {
                assert_eq!(got, id);
                assert_eq!(code, ErrorCode::Forbidden);
                assert!(!what.is_empty());
            }
            other => panic!("command {id}: expected a teacher_only error, got {other:?}"),
        }
    }
    assert!(server.registry.running_port("blocking").is_some(), "blocking still runs");
    assert_eq!(server.registry.running_port("epoll"), None, "epoll was not started");

    // What a student may do: open an echo client and get the echo.
    send_cmd(&mut student, 7, Command::EchoOpen { model: "blocking".into(), port: None }).await;
    let client = match answer(&mut student, 7, &mut events).await {
        ServerMsg::Reply { result: ReplyResult::EchoOpened { client, .. }, .. } => client,
        other => panic!("{other:?}"),
    };
    send_cmd(&mut student, 8, Command::EchoSend { client, text: "hi\n".into() }).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no echo");
        if let ServerMsg::Echo { client: c, text } = next_msg(&mut student).await {
            assert_eq!(c, client);
            assert_eq!(text, "HI\n");
            break;
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_teachers_websocket_stops_a_model_and_a_stale_token_is_a_student_told_why() {
    let server = classroom(&["blocking"], &[]).await;
    let (mut stale, hello) = viewer_with(&server, Some("an-old-token")).await;
    assert_eq!(role_of(&hello), Role::Student);
    match next_msg(&mut stale).await {
        ServerMsg::Error { id: None, code: ErrorCode::Forbidden, reason: Reason::TokenRefused } => {
        }
        other => panic!("expected token_refused, got {other:?}"),
    }

    let (mut teacher, hello) = viewer_with(&server, Some(&token(&server))).await;
    assert_eq!(role_of(&hello), Role::Teacher);
    send_cmd(&mut teacher, 1, Command::Stop { model: "blocking".into() }).await;
    match answer(&mut teacher, 1, &mut Vec::new()).await {
        ServerMsg::Reply { result: ReplyResult::Model { model }, .. } => {
            assert_eq!(model.state, ModelState::Stopped)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.registry.running_port("blocking"), None);
    server.shutdown().await.unwrap();
}

/// Reads until a `follow` message, skipping everything else.
async fn next_follow(ws: &mut Ws) -> Option<TeacherView> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no follow message");
        if let ServerMsg::Follow { view } = next_msg(ws).await {
            return view;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn follow_me_reaches_every_student_and_a_late_one_follows_at_once() {
    let server = classroom(&["blocking"], &[]).await;
    let (mut teacher, _) = viewer_with(&server, Some(&token(&server))).await;
    let (mut student, _) = viewer_with(&server, None).await;
    let view = TeacherView {
        model: Some("blocking".into()),
        panel: View::Figure,
        playback: PlaybackAt {
            anchor: Some((1_000, 4)),
            elapsed_ms: 0,
            paused: true,
            speed_index: 3,
        },
    };
    send_cmd(&mut teacher, 1, Command::FollowMe { view: Some(view.clone()) }).await;
    match answer(&mut teacher, 1, &mut Vec::new()).await {
        ServerMsg::Reply { result: ReplyResult::FollowMe { on: true }, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(next_follow(&mut student).await, Some(view.clone()));

    let (mut late, _) = viewer_with(&server, None).await;
    assert_eq!(next_follow(&mut late).await, Some(view), "told right after the hello");

    let bad = TeacherView { model: Some("no-such-model".into()), ..TeacherView::default() };
    send_cmd(&mut teacher, 2, Command::FollowMe { view: Some(bad) }).await;
    assert!(matches!(
        answer(&mut teacher, 2, &mut Vec::new()).await,
        ServerMsg::Error { code: ErrorCode::UnknownModel, .. }
    ));

    send_cmd(&mut teacher, 3, Command::FollowMe { view: None }).await;
    assert_eq!(next_follow(&mut student).await, None, "follow me is off");
    assert_eq!(next_follow(&mut late).await, None);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn without_classroom_a_lan_bind_is_refused_with_a_clear_message() {
    let config = Config { bind: "0.0.0.0".parse().unwrap(), child_exe: None, ..config(&[]) };
    let err = serve(config).await.expect_err("refused").to_string();
    assert!(err.contains("--classroom"), "{err}");
}

/// `kettle serve --classroom` as a teacher runs it: the printed link is the real one.
#[tokio::test(flavor = "multi_thread")]
async fn kettle_serve_classroom_prints_the_student_urls_and_a_working_teacher_link() {
    let mut child = Process::new(env!("CARGO_BIN_EXE_kettle"))
        .args(["serve", "--classroom", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--model-port-base", "0", "--dist", "/nonexistent-kettle-dist"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let done = line.contains("?token=");
            lines.push(line);
            if done {
                break;
            }
        }
        lines
    });
    let lines = tokio::time::timeout(Duration::from_secs(60), lines).await.unwrap().unwrap();
    let students = lines
        .iter()
        .find(|l| l.starts_with("Students type"))
        .unwrap_or_else(|| panic!("no students line in {lines:?}"));
    let teacher = lines.last().unwrap();
    // http://<host>:<port>/?token=<token>
    let link = teacher.split_whitespace().find(|w| w.starts_with("http://")).unwrap();
    let (origin, token) = link.split_once("/?token=").expect("the teacher link format");
    let hostport = origin.strip_prefix("http://").unwrap();
    let port: u16 = hostport.rsplit_once(':').unwrap().1.parse().unwrap();
    assert_eq!(hostport, format!("127.0.0.1:{port}"));
    assert!(token.len() >= 22, "at least 128 bits");
    assert!(token.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert!(students.contains(&format!("http://127.0.0.1:{port}")), "{students}");
    assert!(!students.contains(token), "the token is only in the teacher's line");

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let h = format!("127.0.0.1:{port}");
    let auth = format!("Bearer {token}");
    let (without, with) = tokio::task::spawn_blocking(move || {
        (
            http(addr, "POST", "/api/models/blocking/start", &[("Host", &h)]),
            http(
                addr,
                "POST",
                "/api/models/blocking/start",
                &[("Host", &h), ("Authorization", &auth)],
            ),
        )
    })
    .await
    .unwrap();
    assert_eq!(without.0, 403, "{without:?}");
    assert_eq!(with.0, 200, "{with:?}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "{status}");
}
