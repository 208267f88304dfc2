//! Helpers shared by the integration tests: a real Kettle on port 0, HTTP requests through the
//! tools' client (which sends exactly the headers a test gives), a WebSocket viewer, and
//! [`for_models!`], which runs a scenario written once against every model it lists.

#![allow(dead_code)] // each test file uses its own subset

/// One test per model for a scenario written once: `for_models!(scenario: Epoll, EpollEt)`
/// makes the tests `scenario::Epoll` and `scenario::EpollEt`, each awaiting
/// `scenario(BuiltIn::Epoll)` (or `EpollEt`) on a multi-threaded tokio runtime — so the test's
/// name says what it proves and a failure names the model. `for_models!(alone scenario: …)`
/// makes plain `#[test]`s that run the scenario through the calling file's `alone` instead.
#[allow(unused_macros)]
macro_rules! for_models {
    ($scenario:ident: $($model:ident),+ $(,)?) => {
        mod $scenario {
            $(
                #[allow(non_snake_case)]
                #[tokio::test(flavor = "multi_thread")]
                async fn $model() {
                    super::$scenario(kettle_shared::BuiltIn::$model).await;
                }
            )+
        }
    };
    (alone $scenario:ident: $($model:ident),+ $(,)?) => {
        mod $scenario {
            $(
                #[allow(non_snake_case)]
                #[test]
                fn $model() {
                    super::alone(super::$scenario(kettle_shared::BuiltIn::$model));
                }
            )+
        }
    };
}

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kettle_backend::registry::RegistryError;
use kettle_backend::tools::http as http_client;
pub use kettle_backend::tools::http::Answer;
use kettle_backend::{serve, Config, Server};
use kettle_shared::{BuiltIn, ClientMsg, Command, Event, Reason, ServerMsg, WaitApi};
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
        trace: None,
        trace_stops: Default::default(),
    }
}

/// A Kettle with model `id` running, where it listens, and a viewer watching (its Hello read).
pub async fn watched(id: &str) -> (Server, SocketAddr, Ws) {
    let server = kettle(&[id]).await;
    let addr = model_addr(&server, id);
    let (ws, _) = viewer(&server).await;
    (server, addr, ws)
}

/// A Kettle with `model` running; `None` where this kernel refuses io_uring, after checking
/// that the model is then listed as unavailable with the kernel's reason (io-uring is the one
/// model a kernel may lack; any other that does not start fails the test).
pub async fn serving(model: BuiltIn) -> Option<Server> {
    let server = kettle(&[]).await;
    let registry = server.registry.clone();
    let started = tokio::task::spawn_blocking(move || registry.start(model.id())).await.unwrap();
    match started {
        Ok(_) => Some(server),
        Err(RegistryError::Unavailable(reason)) if model == BuiltIn::IoUring => {
            assert!(
                matches!(reason, Reason::KernelRefused { .. } | Reason::IoUringOpMissing { .. }),
                "{reason:?}"
            );
            eprintln!("io_uring refused here: the unavailable path was checked instead");
            server.shutdown().await.unwrap();
            None
        }
        Err(e) => panic!("{model} does not start: {e}"),
    }
}

/// The call a readiness model waits in; `None` for the models that wait otherwise (in
/// `accept` or `recv`, for a signal, for a completion) or not at all.
pub fn wait_api(model: BuiltIn) -> Option<WaitApi> {
    match model {
        BuiltIn::Select => Some(WaitApi::Select),
        BuiltIn::Poll => Some(WaitApi::Poll),
        BuiltIn::Epoll | BuiltIn::Reactor => Some(WaitApi::Epoll),
        BuiltIn::EpollEt => Some(WaitApi::EpollEt),
        BuiltIn::Blocking
        | BuiltIn::ThreadPerConn
        | BuiltIn::ProcessPerConn
        | BuiltIn::ThreadPool
        | BuiltIn::Nonblocking
        | BuiltIn::Sigio
        | BuiltIn::IoUring
        | BuiltIn::PosixAio => None,
    }
}

/// Stops `model` (off the async workers: stopping joins its threads) and waits for it, at
/// most `limit`: a call the stop did not wake would keep it from returning.
pub async fn stop_within(server: &Server, model: &str, limit: Duration) {
    let registry = server.registry.clone();
    let id = model.to_owned();
    let stopping = tokio::task::spawn_blocking(move || registry.stop(&id).unwrap());
    tokio::time::timeout(limit, stopping)
        .await
        .unwrap_or_else(|_| panic!("stopping {model} took more than {limit:?}: a call slept on"))
        .unwrap();
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

/// Follows the next connection of `model` to make a call (a spotlight, as a viewer asks for
/// one): its steps are sent in detail even while the model is crowded — when it records more
/// than its detail budget, as megabytes of echo make it — and only counted otherwise.
pub async fn follow_next_connection(ws: &mut Ws, model: &str) {
    send_cmd(ws, 1, Command::Spotlight { model: model.into(), sample: 1 }).await;
    assert!(matches!(answer(ws, 1, &mut Vec::new()).await, ServerMsg::Reply { .. }));
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

/// The steps of `model`'s own thread (named after the model), in order, without the periodic
/// samples (measurements, not steps of a figure).
pub fn steps<'a>(events: &'a [Event], model: &str) -> Vec<&'a Event> {
    steps_of(events, model, model)
}

/// The steps of `model`'s thread named `thread`, as [`steps`].
pub fn steps_of<'a>(events: &'a [Event], model: &str, thread: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.model == model && e.thread.name == thread && e.kind.name() != "thread_sample")
        .collect()
}

/// A blocking TCP client with a read timeout.
pub fn client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `text` and reads its echo: `text` upper-cased.
pub fn echoed(c: &mut TcpStream, text: &[u8]) {
    c.write_all(text).unwrap();
    assert_eq!(read_n(c, text.len()), text.to_ascii_uppercase());
}

/// A client (as [`client`]) served once — `text` sent and its echo read —, so the server has
/// accepted it and is back to waiting.
pub fn served(addr: SocketAddr, text: &[u8]) -> TcpStream {
    let mut c = client(addr);
    echoed(&mut c, text);
    c
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

/// Sets SO_LINGER {on, 0} so closing the socket resets the connection (RST, not FIN).
pub fn linger_zero(s: &TcpStream) {
    use std::os::fd::AsFd;
    let linger = nix::sys::socket::sockopt::Linger;
    nix::sys::socket::setsockopt(&s.as_fd(), linger, &libc::linger { l_onoff: 1, l_linger: 0 })
        .unwrap();
}
