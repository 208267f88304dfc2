//! Reading an [`EventKind`] back from the wire with little code.
//!
//! The backend writes events with serde's derive; the page reads thousands of them. Serde's
//! derive for an internally tagged enum (`"type"` names the kind) first buffers the whole
//! object, then gives every one of the kinds a visitor of its own: reading events was the
//! largest function of the page's wasm (87 KB). Here an event kind is read into one flat
//! struct, [`WireEventKind`], that holds every field any kind has, each optional, and the
//! match in its `TryFrom` builds the kind. The JSON accepted is the same, unknown fields are
//! ignored as the derive ignores them, and an unknown kind, a missing field or a mistyped one
//! is refused in serde's words.
//!
//! A few field names carry a different type in different kinds; those are read as the types
//! below that hold either: `fd` (a descriptor, or none for a failed `accept`), `op` (an epoll
//! operation or an async request), `reason` (a [`Reason`] object or a [`CloseReason`] name)
//! and `outcome` (what a `recv` or a `send` returned).
//!
//! A new kind needs its arm in the match; the page's tests read every kind back and fail
//! until it has one.

use serde::de::value::{Error as ValueError, MapAccessDeserializer, StrDeserializer};
use serde::de::{IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::wire::{need, unknown};
use crate::{
    AsyncOp, ChildExit, CloseReason, EpollOp, EventKind, KernelView, ReadyFd, Reason, RecvOutcome,
    SendOutcome, SysError, WaitApi,
};

/// An event kind as read from the wire: the kind and every field any kind has.
#[derive(Deserialize)]
pub(crate) struct WireEventKind {
    #[serde(rename = "type")]
    kind: String,
    addr: Option<String>,
    backlog: Option<i32>,
    reason: Option<WireReason>,
    on: Option<String>,
    by: Option<Reason>,
    fd: Option<i32>,
    peer: Option<String>,
    error: Option<SysError>,
    queued: Option<u32>,
    max: Option<u32>,
    len: Option<u32>,
    outcome: Option<WireOutcome>,
    wait_ns: Option<u64>,
    copy_ns: Option<u64>,
    bytes: Option<u32>,
    api: Option<WaitApi>,
    watched: Option<Vec<i32>>,
    ready: Option<Vec<ReadyFd>>,
    scanned: Option<u32>,
    signo: Option<i32>,
    name: Option<String>,
    op: Option<String>,
    result: Option<i64>,
    more: Option<bool>,
    submitted: Option<u32>,
    wait_for: Option<u32>,
    completions: Option<u32>,
    timed_out: Option<bool>,
    tid: Option<i32>,
    call: Option<String>,
    count: Option<u64>,
    cpu_ns: Option<u64>,
    conns: Option<u32>,
    syscalls: Option<u64>,
    kernel: Option<KernelView>,
    client: Option<u32>,
    target: Option<String>,
    local: Option<String>,
    stack_bytes: Option<u64>,
    depth: Option<u32>,
    capacity: Option<u32>,
    waited_ns: Option<u64>,
    pid: Option<i32>,
    status: Option<ChildExit>,
    units: Option<u64>,
    events: Option<String>,
    interest: Option<String>,
    callback: Option<String>,
}

/// `reason`: a [`Reason`] (an object) for stops, refusals and closed clients, a
/// [`CloseReason`] (a name) for a `close`.
enum WireReason {
    Reason(Reason),
    Close(CloseReason),
}

impl<'de> Deserialize<'de> for WireReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireReason, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = WireReason;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a reason object or a close reason's name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<WireReason, E> {
                let named: StrDeserializer<'_, E> = name.into_deserializer();
                CloseReason::deserialize(named).map(WireReason::Close)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<WireReason, A::Error> {
                Reason::deserialize(MapAccessDeserializer::new(map)).map(WireReason::Reason)
            }
        }
        d.deserialize_any(Either)
    }
}

/// `outcome`: what a `recv` or a `send` returned, every field either has (a `SysError`'s
/// fields stand beside the tag, as serde writes a tagged newtype).
#[derive(Deserialize)]
struct WireOutcome {
    outcome: String,
    bytes: Option<u32>,
    preview: Option<String>,
    errno: Option<String>,
    message: Option<String>,
}

impl WireOutcome {
    fn error(self) -> Result<SysError, String> {
        Ok(SysError { errno: need(self.errno, "errno")?, message: need(self.message, "message")? })
    }

    fn recv(self) -> Result<RecvOutcome, String> {
        Ok(match self.outcome.as_str() {
            "data" => RecvOutcome::Data {
                bytes: need(self.bytes, "bytes")?,
                preview: need(self.preview, "preview")?,
            },
            "eof" => RecvOutcome::Eof,
            "would_block" => RecvOutcome::WouldBlock,
            "error" => RecvOutcome::Error(self.error()?),
            other => return Err(unknown(other, &["data", "eof", "would_block", "error"])),
        })
    }

    fn send(self) -> Result<SendOutcome, String> {
        Ok(match self.outcome.as_str() {
            "sent" => SendOutcome::Sent { bytes: need(self.bytes, "bytes")? },
            "would_block" => SendOutcome::WouldBlock,
            "error" => SendOutcome::Error(self.error()?),
            other => return Err(unknown(other, &["sent", "would_block", "error"])),
        })
    }
}

/// A name read as one of the string enums (`EpollOp`, `AsyncOp`), in serde's words if not.
fn named<'de, T: Deserialize<'de>>(name: &'de str) -> Result<T, String> {
    let d: StrDeserializer<'_, ValueError> = name.into_deserializer();
    T::deserialize(d).map_err(|e| e.to_string())
}

fn reason(value: Option<WireReason>) -> Result<Reason, String> {
    match need(value, "reason")? {
        WireReason::Reason(r) => Ok(r),
        WireReason::Close(_) => Err("invalid type: string, expected a reason object".into()),
    }
}

fn close_reason(value: Option<WireReason>) -> Result<CloseReason, String> {
    match need(value, "reason")? {
        WireReason::Close(r) => Ok(r),
        WireReason::Reason(_) => Err("invalid type: map, expected a close reason's name".into()),
    }
}

impl TryFrom<WireEventKind> for EventKind {
    type Error = String;

    fn try_from(w: WireEventKind) -> Result<EventKind, String> {
        use EventKind as K;
        Ok(match w.kind.as_str() {
            "listen" => {
                K::Listen { addr: need(w.addr, "addr")?, backlog: need(w.backlog, "backlog")? }
            }
            "stopped" => K::Stopped { reason: reason(w.reason)? },
            "thread_spawned" => K::ThreadSpawned,
            "thread_exited" => K::ThreadExited,
            "thread_blocked" => K::ThreadBlocked { on: need(w.on, "on")? },
            "thread_woken" => K::ThreadWoken { by: need(w.by, "by")? },
            "accept_enter" => K::AcceptEnter,
            "accept_exit" => K::AcceptExit { fd: w.fd, peer: w.peer, error: w.error },
            "backlog" => K::Backlog { queued: need(w.queued, "queued")?, max: need(w.max, "max")? },
            "recv_enter" => K::RecvEnter { fd: need(w.fd, "fd")?, len: need(w.len, "len")? },
            "data_arrived" => K::DataArrived { fd: need(w.fd, "fd")? },
            "recv_exit" => K::RecvExit {
                fd: need(w.fd, "fd")?,
                outcome: need(w.outcome, "outcome")?.recv()?,
                wait_ns: w.wait_ns,
                copy_ns: w.copy_ns,
            },
            "send_enter" => K::SendEnter { fd: need(w.fd, "fd")?, bytes: need(w.bytes, "bytes")? },
            "send_exit" => {
                K::SendExit { fd: need(w.fd, "fd")?, outcome: need(w.outcome, "outcome")?.send()? }
            }
            "close" => K::Close { fd: need(w.fd, "fd")?, reason: close_reason(w.reason)? },
            "refused" => K::Refused { reason: reason(w.reason)? },
            "wait_enter" => {
                K::WaitEnter { api: need(w.api, "api")?, watched: need(w.watched, "watched")? }
            }
            "wait_returned" => K::WaitReturned {
                api: need(w.api, "api")?,
                ready: need(w.ready, "ready")?,
                scanned: need(w.scanned, "scanned")?,
            },
            "signal_handler" => K::SignalHandler {
                signo: need(w.signo, "signo")?,
                name: w.name.unwrap_or_default(),
            },
            "signal_delivered" => K::SignalDelivered {
                signo: need(w.signo, "signo")?,
                name: w.name.unwrap_or_default(),
                fd: w.fd,
            },
            "submit" => {
                K::Submit { op: named::<AsyncOp>(&need(w.op, "op")?)?, fd: need(w.fd, "fd")? }
            }
            "complete" => K::Complete {
                op: named::<AsyncOp>(&need(w.op, "op")?)?,
                fd: need(w.fd, "fd")?,
                result: need(w.result, "result")?,
                peer: w.peer,
                more: w.more.unwrap_or_default(),
            },
            "ring_enter" => K::RingEnter {
                submitted: need(w.submitted, "submitted")?,
                wait_for: need(w.wait_for, "wait_for")?,
            },
            "ring_exit" => K::RingExit {
                completions: need(w.completions, "completions")?,
                timed_out: need(w.timed_out, "timed_out")?,
            },
            "seen_in_syscall" => K::SeenInSyscall {
                tid: need(w.tid, "tid")?,
                call: need(w.call, "call")?,
                fd: need(w.fd, "fd")?,
            },
            "would_block_burst" => {
                K::WouldBlockBurst { call: need(w.call, "call")?, count: need(w.count, "count")? }
            }
            "thread_sample" => K::ThreadSample {
                cpu_ns: need(w.cpu_ns, "cpu_ns")?,
                conns: need(w.conns, "conns")?,
                syscalls: need(w.syscalls, "syscalls")?,
                kernel: w.kernel,
            },
            "client_connected" => K::ClientConnected {
                client: need(w.client, "client")?,
                target: need(w.target, "target")?,
                local: need(w.local, "local")?,
            },
            "client_sent" => {
                K::ClientSent { client: need(w.client, "client")?, bytes: need(w.bytes, "bytes")? }
            }
            "client_received" => K::ClientReceived {
                client: need(w.client, "client")?,
                bytes: need(w.bytes, "bytes")?,
            },
            "client_closed" => {
                K::ClientClosed { client: need(w.client, "client")?, reason: reason(w.reason)? }
            }
            "thread_stack" => K::ThreadStack { stack_bytes: need(w.stack_bytes, "stack_bytes")? },
            "conn_queued" => K::ConnQueued {
                fd: need(w.fd, "fd")?,
                depth: need(w.depth, "depth")?,
                capacity: need(w.capacity, "capacity")?,
            },
            "conn_dequeued" => K::ConnDequeued {
                fd: need(w.fd, "fd")?,
                waited_ns: need(w.waited_ns, "waited_ns")?,
                depth: need(w.depth, "depth")?,
            },
            "child_spawned" => K::ChildSpawned { pid: need(w.pid, "pid")?, fd: need(w.fd, "fd")? },
            "child_reaped" => {
                K::ChildReaped { pid: need(w.pid, "pid")?, status: need(w.status, "status")? }
            }
            "work_done" => K::WorkDone { units: need(w.units, "units")? },
            "epoll_ctl" => K::EpollCtl {
                op: named::<EpollOp>(&need(w.op, "op")?)?,
                fd: need(w.fd, "fd")?,
                events: need(w.events, "events")?,
                error: w.error,
            },
            "register" => K::Register {
                fd: need(w.fd, "fd")?,
                interest: need(w.interest, "interest")?,
                callback: need(w.callback, "callback")?,
            },
            "unregister" => K::Unregister { fd: need(w.fd, "fd")? },
            "callback" => K::Callback { name: need(w.name, "name")?, fd: need(w.fd, "fd")? },
            other => {
                return Err(unknown(other, <EventKind as strum::VariantNames>::VARIANTS));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::{EventKind, RecvOutcome, SendOutcome, SysError};

    fn read(json: &str) -> Result<EventKind, String> {
        serde_json::from_str::<EventKind>(json).map_err(|e| e.to_string())
    }

    fn round_trip(kind: EventKind) {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(read(&json), Ok(kind), "{json}");
    }

    #[test]
    fn every_outcome_of_a_recv_and_a_send_reads_back() {
        let error = || SysError { errno: "ECONNRESET".into(), message: "reset".into() };
        for outcome in [
            RecvOutcome::Data { bytes: 3, preview: "hi\n".into() },
            RecvOutcome::Eof,
            RecvOutcome::WouldBlock,
            RecvOutcome::Error(error()),
        ] {
            round_trip(EventKind::RecvExit { fd: 5, outcome, wait_ns: Some(1), copy_ns: None });
        }
        for outcome in
            [SendOutcome::Sent { bytes: 3 }, SendOutcome::WouldBlock, SendOutcome::Error(error())]
        {
            round_trip(EventKind::SendExit { fd: 5, outcome });
        }
    }

    #[test]
    fn fields_left_out_by_the_writer_read_as_their_defaults() {
        let json = r#"{"type":"complete","op":"recv","fd":5,"result":3}"#;
        let kind = read(json).unwrap();
        let want = EventKind::Complete {
            op: crate::AsyncOp::Recv,
            fd: 5,
            result: 3,
            peer: None,
            more: false,
        };
        assert_eq!(kind, want);
        let json = r#"{"type":"signal_handler","signo":29,"extra":true}"#;
        assert_eq!(read(json), Ok(EventKind::SignalHandler { signo: 29, name: String::new() }));
        let json = r#"{"type":"accept_exit","fd":null,"peer":null,"error":null}"#;
        assert_eq!(read(json), Ok(EventKind::AcceptExit { fd: None, peer: None, error: None }));
    }

    #[test]
    fn a_reason_and_a_close_reason_are_told_apart_by_their_shape() {
        let json = r#"{"type":"close","fd":5,"reason":"peer_closed"}"#;
        let close = EventKind::Close { fd: 5, reason: crate::CloseReason::PeerClosed };
        assert_eq!(read(json), Ok(close));
        let json = r#"{"type":"stopped","reason":{"code":"stopped_on_request"}}"#;
        assert_eq!(read(json), Ok(EventKind::Stopped { reason: crate::Reason::StoppedOnRequest }));
        assert!(read(r#"{"type":"stopped","reason":"peer_closed"}"#).is_err());
        assert!(read(r#"{"type":"close","fd":5,"reason":{"code":"stopped_on_request"}}"#).is_err());
    }

    #[test]
    fn an_unknown_kind_a_missing_field_or_a_wrong_name_is_refused_in_serdes_words() {
        let err = read(r#"{"type":"splice_enter","fd":3}"#).unwrap_err();
        assert!(err.starts_with("unknown variant `splice_enter`, expected one of `listen`, "));
        let err = read(r#"{"type":"recv_enter","fd":3}"#).unwrap_err();
        assert!(err.starts_with("missing field `len`"), "{err}");
        let err = read(r#"{"type":"epoll_ctl","op":"frob","fd":3,"events":"IN"}"#).unwrap_err();
        assert!(err.starts_with("unknown variant `frob`, expected one of `add`"), "{err}");
        let err = read(r#"{"type":"send_exit","fd":3,"outcome":{"outcome":"eof"}}"#).unwrap_err();
        assert!(err.starts_with("unknown variant `eof`"), "{err}");
        let err = read(r#"{"type":"recv_enter","fd":"three","len":1}"#).unwrap_err();
        assert!(err.starts_with("invalid type: string"), "{err}");
    }
}
