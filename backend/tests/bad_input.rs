//! Bad input, thrown at a real Kettle by proptest: random text and malformed JSON, huge and
//! negative numbers, unknown model and client ids, out-of-range counts, text frames that are
//! not UTF-8, frames one byte either side of `MAX_COMMAND_BYTES`, and random lines through the
//! relay's echo client. Nothing may panic, every bad command gets an `error` (and changes no
//! model), a non-UTF-8 text frame closes with 1007, a frame over the limit with 1009, and
//! every line the relay carries comes back whole, upper-cased by the model, even when a
//! character is split between two of the model's 1024-byte reads.
//!
//! The WebSocket client here is written frame by frame (RFC 6455 §5.2) so that it can send
//! what a well-behaved library never would.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kettle_backend::{serve, Config, Server};
use kettle_shared::{ClientMsg, ModelState, MAX_COMMAND_BYTES, MAX_ECHO_TEXT_BYTES};
use proptest::prelude::*;
use serde_json::{json, Value};

/// One Kettle for every case: blocking (the relay's target: it reads 1024 bytes at a time)
/// and epoll running.
fn server() -> &'static (tokio::runtime::Runtime, Server) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, Server)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let config = Config {
            bind: "127.0.0.1".parse().unwrap(),
            port: 0,
            model_port_base: 0,
            start: vec!["blocking".into(), "epoll".into()],
            allow_origins: vec![],
            dist: None,
            pool_workers: 4,
            child_exe: Some(env!("CARGO_BIN_EXE_kettle").into()),
            // Thousands of commands a run: the rate limit would answer most of them itself,
            // and the decoder is what is under test.
            limits: kettle_backend::Limits::unmetered(),
            classroom: false,
            allow_hosts: vec![],
            trace: None,
            trace_stops: Default::default(),
        };
        let server = rt.block_on(serve(config)).expect("kettle starts");
        (rt, server)
    })
}

fn states() -> Vec<(String, ModelState)> {
    server().1.registry.list().into_iter().map(|m| (m.id, m.state)).collect()
}

/// What reading gave.
#[derive(Debug)]
enum Got {
    /// A `reply` or `error` message.
    Answer(Value),
    /// The server closed, with this code.
    Closed(Option<u16>),
}

/// A WebSocket client of `/ws`, frame by frame.
struct RawWs {
    s: TcpStream,
    /// Echo messages that arrived while waiting for an answer: the relay may forward a reply
    /// from the echo server before the command's own reply (a busy machine orders them so).
    early_echoes: Vec<Value>,
}

impl RawWs {
    fn connect(addr: SocketAddr) -> RawWs {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        write!(
            s,
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: a2V0dGxlIGJhZCBpbnB1dA==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let mut ws = RawWs { s, early_echoes: Vec::new() };
        // Only answers from here on: no model's steps, no aggregates.
        ws.text(br#"{"id":0,"op":"subscribe","models":[],"aggregates":[]}"#);
        match ws.answer() {
            Got::Answer(v) => assert_eq!(v["type"], "reply", "{v}"),
            other => panic!("{other:?}"),
        }
        ws
    }

    /// One masked frame, as a client must send it.
    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut f = vec![0x80 | opcode];
        let len = payload.len();
        if len < 126 {
            f.push(0x80 | len as u8);
        } else if len <= 0xffff {
            f.push(0x80 | 126);
            f.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            f.push(0x80 | 127);
            f.extend_from_slice(&(len as u64).to_be_bytes());
        }
        let mask = [0x6b, 0x65, 0x74, 0x6c];
        f.extend_from_slice(&mask);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        // The server may close before it has read everything (over the limit): fine.
        let _ = self.s.write_all(&f);
    }

    fn text(&mut self, payload: &[u8]) {
        self.frame(0x1, payload);
    }

    /// The next frame: opcode and payload; `None` when the connection ended.
    fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut h = [0u8; 2];
        self.s.read_exact(&mut h).ok()?;
        let len = match h[1] & 0x7f {
            126 => {
                let mut l = [0u8; 2];
                self.s.read_exact(&mut l).ok()?;
                u16::from_be_bytes(l) as usize
            }
            127 => {
                let mut l = [0u8; 8];
                self.s.read_exact(&mut l).ok()?;
                u64::from_be_bytes(l) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.s.read_exact(&mut payload).ok()?;
        Some((h[0] & 0x0f, payload))
    }

    /// Every message until the next answer (or the close).
    fn answer(&mut self) -> Got {
        loop {
            match self.read_frame() {
                None => return Got::Closed(None),
                Some((0x8, p)) => {
                    return Got::Closed((p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]])))
                }
                Some((0x1, p)) => {
                    let v: Value = serde_json::from_slice(&p).expect("the server sends JSON");
                    if v["type"] == "reply" || v["type"] == "error" {
                        return Got::Answer(v);
                    }
                    if v["type"] == "echo" {
                        self.early_echoes.push(v);
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// The echoes of `client` until `bytes` bytes came back (or 10 s passed), starting with
    /// those that came before the answer.
    fn echoes(&mut self, client: u64, bytes: usize) -> String {
        let mut text = String::new();
        for v in std::mem::take(&mut self.early_echoes) {
            if v["client"] == client {
                text.push_str(v["text"].as_str().unwrap());
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while text.len() < bytes && Instant::now() < deadline {
            match self.read_frame() {
                Some((0x1, p)) => {
                    let v: Value = serde_json::from_slice(&p).unwrap();
                    if v["type"] == "echo" && v["client"] == client {
                        text.push_str(v["text"].as_str().unwrap());
                    }
                }
                Some((0x8, _)) | None => break,
                Some(_) => {}
            }
        }
        text
    }
}

/// One connection per test thread for the cases that keep it open.
fn with_ws<T>(f: impl FnOnce(&mut RawWs) -> T) -> T {
    thread_local! {
        static WS: std::cell::RefCell<Option<RawWs>> = const { std::cell::RefCell::new(None) };
    }
    WS.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ws = slot.get_or_insert_with(|| RawWs::connect(server().1.addr));
        f(ws)
    })
}

/// Sends `text` as one command and asserts it got an `error`, on an open connection, with
/// no model changed.
fn assert_error(text: &str) {
    let before = states();
    let got = with_ws(|ws| {
        ws.text(text.as_bytes());
        ws.answer()
    });
    match got {
        Got::Answer(v) => {
            assert_eq!(v["type"], "error", "{text:?} got {v}");
            assert!(v["reason"]["code"].is_string(), "an error says why: {v}");
        }
        Got::Closed(code) => panic!("{text:?} closed the connection ({code:?})"),
    }
    assert_eq!(states(), before, "{text:?} changed a model");
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// A JSON leaf: huge, negative, fractional, overflowing numbers; strings; the rest.
fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("18446744073709551616".to_owned()),
        Just("1e400".to_owned()),
        Just("-1".to_owned()),
        Just("4294967296".to_owned()),
        Just("0.5".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
        "[a-z_\\-]{0,12}".prop_map(|s| Value::String(s).to_string()),
        any::<String>().prop_map(|s| Value::String(s).to_string()),
    ]
}

const KEYS: &[&str] = &[
    "id",
    "op",
    "model",
    "models",
    "aggregates",
    "client",
    "text",
    "ms",
    "sample",
    "spec",
    "name",
    "short",
    "conns",
    "rate",
    "size",
    "secs",
    "question",
    "choice",
    "conn",
    "after_seq",
];

/// An object of command-like keys with random values, written by hand so that duplicate keys
/// and odd values survive; sometimes cut short or given a stray character.
fn malformed() -> impl Strategy<Value = String> {
    let op = prop_oneof![
        proptest::sample::select(kettle_shared::COMMAND_OPS).prop_map(|o| format!("\"{o}\"")),
        leaf(),
    ];
    (op, proptest::collection::vec((proptest::sample::select(KEYS), leaf()), 0..6), 0..4u8)
        .prop_map(|(op, fields, damage)| {
            let mut s = format!("{{\"op\":{op}");
            for (k, v) in fields {
                s.push_str(&format!(",\"{k}\":{v}"));
            }
            s.push('}');
            match damage {
                1 => {
                    let mut cut = s.len() / 2;
                    while !s.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    s.truncate(cut);
                }
                2 => s.push(','),
                3 => s.insert(0, '['),
                _ => {}
            }
            s
        })
}

fn parses_as_command(text: &str) -> bool {
    serde_json::from_str::<ClientMsg>(text).is_ok()
}

/// Commands of the right shape naming things that do not exist, or numbers out of range.
fn unknown_or_out_of_range() -> impl Strategy<Value = Value> {
    let no_model =
        "[a-z\\-]{1,20}".prop_filter("not a model", |m| kettle_shared::model(m).is_none());
    let no_client = 1_000_000u64..u64::from(u32::MAX);
    prop_oneof![
        no_model.clone().prop_map(|m| json!({"id": 1, "op": "start", "model": m})),
        no_model.clone().prop_map(|m| json!({"id": 2, "op": "stop", "model": m})),
        no_model.clone().prop_map(|m| json!({"id": 3, "op": "echo_open", "model": m})),
        no_model.clone().prop_map(|m| json!({"id": 4, "op": "subscribe", "models": [m]})),
        no_model.clone().prop_map(|m| json!({"id": 5, "op": "spotlight", "model": m, "sample": 1})),
        (5u32..=u32::MAX)
            .prop_map(|n| json!({"id": 6, "op": "spotlight", "model": "epoll", "sample": n})),
        no_client
            .clone()
            .prop_map(|c| json!({"id": 7, "op": "echo_send", "client": c, "text": "x\n"})),
        no_client.prop_map(|c| json!({"id": 8, "op": "echo_close", "client": c})),
        no_model.prop_map(|m| json!({"id": 9, "op": "load_start",
            "spec": {"model": m, "conns": 1, "size": 64, "secs": 1}})),
        (kettle_shared::MAX_LOAD_CONNS + 1..=u32::MAX)
            .prop_map(|n| json!({"id": 10, "op": "load_start",
            "spec": {"model": "epoll", "conns": n, "size": 64, "secs": 1}})),
        Just(json!({"id": 11, "op": "load_start",
            "spec": {"model": "epoll", "conns": 0, "size": 64, "secs": 1}})),
        Just(json!({"id": 12, "op": "load_stop"})),
        "[a-z\\-]{1,20}"
            .prop_map(|n| json!({"id": 13, "op": "experiment_run", "name": n, "short": true})),
        (kettle_shared::MAX_COMPUTE_MS + 1..=u32::MAX)
            .prop_map(|ms| json!({"id": 14, "op": "compute", "ms": ms})),
        // No question is asked on this server: every vote and reveal is refused.
        ("[a-z\\-]{0,20}", any::<u32>())
            .prop_map(|(q, c)| json!({"id": 15, "op": "vote", "question": q, "choice": c})),
        ("[a-z\\-]{0,20}", any::<u64>(), any::<u64>()).prop_map(|(q, conn, after)| {
            json!({"id": 16, "op": "reveal", "question": q, "conn": conn, "after_seq": after})
        }),
        "[a-z\\-]{1,20}"
            .prop_filter("not a question", |q| kettle_shared::question(q).is_none())
            .prop_map(|q| json!({"id": 17, "op": "ask", "question": q})),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_text_that_is_not_a_command_gets_an_error(text in any::<String>()) {
        prop_assume!(!parses_as_command(&text) && text.len() <= MAX_COMMAND_BYTES);
        assert_error(&text);
    }

    #[test]
    fn malformed_json_and_huge_numbers_get_an_error(text in malformed()) {
        prop_assume!(!parses_as_command(&text));
        assert_error(&text);
    }

    #[test]
    fn unknown_ids_and_numbers_out_of_range_get_an_error(cmd in unknown_or_out_of_range()) {
        assert_error(&cmd.to_string());
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn a_text_frame_that_is_not_utf8_closes_with_1007(
        bytes in proptest::collection::vec(any::<u8>(), 1..256),
    ) {
        prop_assume!(std::str::from_utf8(&bytes).is_err());
        let mut ws = RawWs::connect(server().1.addr);
        ws.text(&bytes);
        match ws.answer() {
            Got::Closed(code) => prop_assert_eq!(code, Some(1007)),
            Got::Answer(v) => prop_assert!(false, "answered {v} instead of closing"),
        }
    }

    #[test]
    fn frames_around_the_command_limit_get_an_error_or_close_with_1009(
        delta in -2i64..=2,
        unknown in 1_000_000u64..2_000_000,
    ) {
        let len = (MAX_COMMAND_BYTES as i64 + delta) as usize;
        let mut text = format!(r#"{{"id":5,"op":"echo_close","client":{unknown}}}"#);
        text.push_str(&" ".repeat(len - text.len()));
        let mut ws = RawWs::connect(server().1.addr);
        ws.text(text.as_bytes());
        match (ws.answer(), len <= MAX_COMMAND_BYTES) {
            (Got::Answer(v), true) => prop_assert_eq!(&v["type"], "error"),
            (Got::Closed(code), false) => prop_assert_eq!(code, Some(1009)),
            (got, fits) => prop_assert!(false, "{len} bytes (fits: {fits}) got {got:?}"),
        }
    }
}

/// An echo client of the blocking model, opened once per test thread.
fn echo_client() -> u64 {
    thread_local! {
        static CLIENT: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
    }
    CLIENT.with(|c| {
        if let Some(id) = c.get() {
            return id;
        }
        let id = {
            with_ws(|ws| {
                ws.text(br#"{"id":20,"op":"echo_open","model":"blocking"}"#);
                match ws.answer() {
                    Got::Answer(v) if v["type"] == "reply" => {
                        v["result"]["client"].as_u64().unwrap()
                    }
                    other => panic!("echo_open: {other:?}"),
                }
            })
        };
        c.set(Some(id));
        id
    })
}

/// Lines of printable characters, ASCII and not (two- to four-byte UTF-8), up to a little
/// over the relay's limit: JSON writes them without escapes, so the command stays under
/// `MAX_COMMAND_BYTES`.
fn line() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just(' '),
        1 => proptest::char::range('é', 'ÿ'),
        1 => proptest::char::range('一', '龥'),
        1 => proptest::char::range('😀', '🙏'),
    ];
    proptest::collection::vec(ch, 1..3000).prop_map(|cs| cs.into_iter().collect::<String>())
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn the_relay_carries_any_line_whole_or_refuses_it_with_an_error(text in line()) {
        let client = echo_client();
        let cmd = json!({"id": 21, "op": "echo_send", "client": client, "text": text});
        let got = with_ws(|ws| {
            ws.text(cmd.to_string().as_bytes());
            let answer = ws.answer();
            let echoed = match &answer {
                Got::Answer(v) if v["type"] == "reply" => ws.echoes(client, text.len()),
                _ => String::new(),
            };
            (answer, echoed)
        });
        match got {
            (Got::Answer(v), echoed) if text.len() <= MAX_ECHO_TEXT_BYTES => {
                prop_assert_eq!(&v["type"], "reply", "{}", v);
                prop_assert_eq!(v["result"]["bytes"].as_u64(), Some(text.len() as u64));
                prop_assert_eq!(echoed, text.to_ascii_uppercase());
            }
            (Got::Answer(v), _) => {
                prop_assert_eq!(&v["type"], "error");
                prop_assert_eq!(&v["reason"]["code"], "line_too_long");
            }
            (Got::Closed(code), _) => prop_assert!(false, "closed ({code:?})"),
        }
    }
}
