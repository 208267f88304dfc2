//! Helpers shared by the integration tests: a real Kettle on port 0, HTTP requests through the
//! tools' client (which sends exactly the headers a test gives), and a WebSocket viewer.

#![allow(dead_code)] // each test file uses its own subset

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kettle_backend::tools::http as http_client;
pub use kettle_backend::tools::http::Answer;
use kettle_backend::{serve, Config, Server};
use kettle_shared::{AsyncOp, ClientMsg, Command, Event, ServerMsg};
use tokio::net::TcpStream as TokioTcp;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A Kettle on ephemeral ports with `start` models running.
pub async fn kettle(start: &[&str]) -> Server {
    kettle_with(start, kettle_backend::Limits::default()).await
}

/// [`kettle`] with these limits.
pub async fn kettle_with(start: &[&str], limits: kettle_backend::Limits) -> Server {
    serve(Config { limits, ..config(start) }).await.expect("kettle starts")
}

/// The configuration [`kettle`] serves with, for a test that changes some of it.
pub fn config(start: &[&str]) -> Config {
    Config {
        bind: "127.0.0.1".parse().unwrap(),
        port: 0,
        model_port_base: 0,
        start: start.iter().map(|s| s.to_string()).collect(),
        allow_origins: vec![],
        dist: None,
        pool_workers: 4,
        child_exe: Some(env!("CARGO_BIN_EXE_kettle").into()),
        limits: kettle_backend::Limits::default(),
        classroom: false,
        allow_hosts: vec![],
    }
}

/// The address a running model listens on.
pub fn model_addr(server: &Server, id: &str) -> SocketAddr {
    let port = server.registry.running_port(id).expect("model running");
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One HTTP/1.1 request with exactly these headers (plus `Connection: close`), through the
/// tools' client (`kettle_backend::tools::http`, which adds no `Host` of its own); returns
/// status and body. Blocks: call it off the async workers.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let answer = http_answer(addr, method, path, headers);
    (answer.status, answer.text())
}

/// [`http`]'s whole answer: status, headers, and the body as bytes (a compressed file is not
/// text).
pub fn http_answer(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let authority = addr.to_string();
    http_client::send_blocking(&authority, method, path, headers, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{method} {path}: {e:#}"))
}

/// `Host` for this server as a browser would send it.
pub fn host(server: &Server) -> String {
    format!("127.0.0.1:{}", server.addr.port())
}

pub type Ws = WebSocketStream<MaybeTlsStream<TokioTcp>>;

/// A viewer connected to `/ws`, with the Hello already read.
pub async fn viewer(server: &Server) -> (Ws, ServerMsg) {
    let mut ws = connect_ws(server, None).await.expect("websocket upgrade");
    let hello = next_msg(&mut ws).await;
    (ws, hello)
}

/// Opens `/ws`, optionally with an `Origin`.
pub async fn connect_ws(
    server: &Server,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{}/ws", host(server)).into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

/// The next protocol message (skipping pings), within 10 s.
pub async fn next_msg(ws: &mut Ws) -> ServerMsg {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("stream open")
            .expect("no websocket error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(t.as_str())
                .unwrap_or_else(|e| panic!("bad message {t}: {e}"));
        }
    }
}

/// Sends a command.
pub async fn send_cmd(ws: &mut Ws, id: u64, command: Command) {
    let text = serde_json::to_string(&ClientMsg { id, command }).unwrap();
    ws.send(Message::Text(text.into())).await.unwrap();
}

/// Reads messages until the answer to command `id`, keeping events seen on the way.
pub async fn answer(ws: &mut Ws, id: u64, events: &mut Vec<Event>) -> ServerMsg {
    loop {
        match next_msg(ws).await {
            ServerMsg::Batch { events: batch, .. } => events.extend(batch),
            m @ ServerMsg::Reply { id: rid, .. } if rid == id => return m,
            m @ ServerMsg::Error { id: Some(rid), .. } if rid == id => return m,
            m @ ServerMsg::Error { id: None, .. } => return m,
            _ => {}
        }
    }
}

/// Collects events until `done` holds for the events so far, or panics after `limit`.
pub async fn events_until(
    ws: &mut Ws,
    events: &mut Vec<Event>,
    limit: Duration,
    done: impl Fn(&[Event]) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(events) {
        assert!(Instant::now() < deadline, "timed out; events so far: {:#?}", kinds(events));
        if let ServerMsg::Batch { events: batch, .. } = next_msg(ws).await {
            events.extend(batch);
        }
    }
}

/// `(conn, kind name)` of each event, for readable assertions.
pub fn kinds(events: &[Event]) -> Vec<(Option<u64>, &'static str)> {
    events.iter().map(|e| (e.conn, e.kind.name())).collect()
}

/// A blocking TCP client with a read timeout.
pub fn client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads exactly `n` bytes.
pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Deterministic pseudo-random bytes (xorshift), so failures are reproducible.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Out of descriptors, `accept` must be retried at a pace (every ~100 ms), not in a busy loop:
/// `model`'s EMFILE failures are at least one, at most `most`, and never closer together than
/// 80 ms. (How many there are depends on how long the test held the limit and on the load;
/// the spacing does not.)
pub fn assert_paced_emfile_retries(events: &[Event], model: &str, most: usize) {
    let times: Vec<u64> = events
        .iter()
        .filter(|e| e.model == model)
        .filter(|e| match &e.kind {
            kettle_shared::EventKind::AcceptExit { error: Some(err), .. } => err.errno == "EMFILE",
            // io_uring reports a failed accept as its completion's result.
            kettle_shared::EventKind::Complete { op, result, .. } => {
                matches!(op, AsyncOp::Accept) && *result == -24
            }
            _ => false,
        })
        .map(|e| e.t_ns)
        .collect();
    assert!(
        (1..=most).contains(&times.len()),
        "{model}: {} EMFILE failures, expected 1..={most}",
        times.len()
    );
    for pair in times.windows(2) {
        let gap_ms = (pair[1] - pair[0]) / 1_000_000;
        assert!(gap_ms >= 80, "{model}: accept retried after {gap_ms} ms: not paced");
    }
}

/// Sets SO_LINGER {on, 0} so closing the socket resets the connection (RST, not FIN).
pub fn linger_zero(s: &TcpStream) {
    use std::os::fd::AsFd;
    let linger = nix::sys::socket::sockopt::Linger;
    nix::sys::socket::setsockopt(&s.as_fd(), linger, &libc::linger { l_onoff: 1, l_linger: 0 })
        .unwrap();
}

/// Duplicates stdin until no descriptor below the limit is free; returns the duplicates.
///
/// Kettle's monitors open `/proc/self/task/<tid>/…` files for a few microseconds every 100 ms
/// while a viewer watches: a slot one of them held when the table filled is free again a moment
/// later, and a model's `accept` would take it instead of meeting `EMFILE`. So the table is
/// filled again after more than one sampling period, taking any slot freed meanwhile.
pub fn fill_descriptor_table() -> Vec<std::os::fd::OwnedFd> {
    let stdin = std::io::stdin();
    let mut held = Vec::new();
    for _ in 0..3 {
        loop {
            match nix::unistd::dup(&stdin) {
                Ok(fd) => held.push(fd),
                Err(nix::errno::Errno::EMFILE) => break,
                Err(e) => panic!("dup: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(120));
    }
    held
}
