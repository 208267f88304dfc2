//! Reading an [`EventKind`] back from the wire (see [`crate::wire`] for why it is not the derive).
//!
//! Each kind takes its fields by name; the field's type comes from the kind, so `fd` is an
//! `Option<i32>` for an `accept_exit` (a failed accept has none) and an `i32` elsewhere, and
//! `reason` a [`crate::Reason`] object for a stop but a [`crate::CloseReason`] name for a
//! `close`. A new kind needs its arm in the match; the page's tests read every kind back and
//! fail until it has one.

use crate::wire::{deserialize_tagged, unknown, Fields, Tagged};
use crate::{EventKind, RecvOutcome, SendOutcome};

deserialize_tagged!(EventKind, RecvOutcome, SendOutcome);

impl Tagged for EventKind {
    const TAG: &'static str = "type";
    const TAGS: &'static [&'static str] = <EventKind as strum::VariantNames>::VARIANTS;

    fn read(tag: &str, mut f: Fields) -> Result<EventKind, String> {
        use EventKind as K;
        Ok(match tag {
            "listen" => K::Listen { addr: f.take("addr")?, backlog: f.take("backlog")? },
            "stopped" => K::Stopped { reason: f.take("reason")? },
            "thread_spawned" => K::ThreadSpawned,
            "thread_exited" => K::ThreadExited,
            "thread_blocked" => K::ThreadBlocked { on: f.take("on")? },
            "thread_woken" => K::ThreadWoken { by: f.take("by")? },
            "recognised" => K::Recognised {
                family: f.take("family")?,
                call: f.take("call")?,
                count: f.take("count")?,
                threads: f.take("threads")?,
            },
            "accept_enter" => K::AcceptEnter,
            "accept_exit" => {
                K::AcceptExit { fd: f.take("fd")?, peer: f.take("peer")?, error: f.take("error")? }
            }
            "backlog" => K::Backlog { queued: f.take("queued")?, max: f.take("max")? },
            "recv_enter" => K::RecvEnter { fd: f.take("fd")?, len: f.take("len")? },
            "data_arrived" => K::DataArrived { fd: f.take("fd")?, stamp: f.take("stamp")? },
            "recv_exit" => K::RecvExit {
                fd: f.take("fd")?,
                outcome: f.take("outcome")?,
                wait_ns: f.take("wait_ns")?,
                copy_ns: f.take("copy_ns")?,
            },
            "send_enter" => K::SendEnter { fd: f.take("fd")?, bytes: f.take("bytes")? },
            "send_exit" => K::SendExit { fd: f.take("fd")?, outcome: f.take("outcome")? },
            "close" => K::Close { fd: f.take("fd")?, reason: f.take("reason")? },
            "refused" => K::Refused { reason: f.take("reason")? },
            "wait_enter" => K::WaitEnter { api: f.take("api")?, watched: f.take("watched")? },
            "wait_returned" => K::WaitReturned {
                api: f.take("api")?,
                ready: f.take("ready")?,
                scanned: f.take("scanned")?,
            },
            "signal_handler" => {
                K::SignalHandler { signo: f.take("signo")?, name: f.take_or_default("name")? }
            }
            "signal_delivered" => K::SignalDelivered {
                signo: f.take("signo")?,
                name: f.take_or_default("name")?,
                fd: f.take("fd")?,
            },
            "submit" => K::Submit { op: f.take("op")?, fd: f.take("fd")? },
            "complete" => K::Complete {
                op: f.take("op")?,
                fd: f.take("fd")?,
                result: f.take("result")?,
                peer: f.take("peer")?,
                more: f.take_or_default("more")?,
            },
            "ring_enter" => {
                K::RingEnter { submitted: f.take("submitted")?, wait_for: f.take("wait_for")? }
            }
            "ring_exit" => {
                K::RingExit { completions: f.take("completions")?, timed_out: f.take("timed_out")? }
            }
            "seen_in_syscall" => {
                K::SeenInSyscall { tid: f.take("tid")?, call: f.take("call")?, fd: f.take("fd")? }
            }
            "would_block_burst" => {
                K::WouldBlockBurst { call: f.take("call")?, count: f.take("count")? }
            }
            "thread_sample" => K::ThreadSample {
                cpu_ns: f.take("cpu_ns")?,
                conns: f.take("conns")?,
                syscalls: f.take("syscalls")?,
                kernel: f.take("kernel")?,
            },
            "client_connected" => K::ClientConnected {
                client: f.take("client")?,
                target: f.take("target")?,
                local: f.take("local")?,
            },
            "client_sent" => K::ClientSent { client: f.take("client")?, bytes: f.take("bytes")? },
            "client_received" => {
                K::ClientReceived { client: f.take("client")?, bytes: f.take("bytes")? }
            }
            "client_closed" => {
                K::ClientClosed { client: f.take("client")?, reason: f.take("reason")? }
            }
            "thread_stack" => K::ThreadStack { stack_bytes: f.take("stack_bytes")? },
            "conn_queued" => K::ConnQueued {
                fd: f.take("fd")?,
                depth: f.take("depth")?,
                capacity: f.take("capacity")?,
            },
            "conn_dequeued" => K::ConnDequeued {
                fd: f.take("fd")?,
                waited_ns: f.take("waited_ns")?,
                depth: f.take("depth")?,
            },
            "child_spawned" => K::ChildSpawned { pid: f.take("pid")?, fd: f.take("fd")? },
            "child_reaped" => K::ChildReaped { pid: f.take("pid")?, status: f.take("status")? },
            "work_done" => K::WorkDone { units: f.take("units")? },
            "epoll_ctl" => K::EpollCtl {
                op: f.take("op")?,
                fd: f.take("fd")?,
                events: f.take("events")?,
                error: f.take("error")?,
            },
            "register" => K::Register {
                fd: f.take("fd")?,
                interest: f.take("interest")?,
                callback: f.take("callback")?,
            },
            "unregister" => K::Unregister { fd: f.take("fd")? },
            "callback" => K::Callback { name: f.take("name")?, fd: f.take("fd")? },
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

/// What a `recv` returned; an error's fields stand beside the tag, as serde writes a tagged
/// newtype.
impl Tagged for RecvOutcome {
    const TAG: &'static str = "outcome";
    const TAGS: &'static [&'static str] = &["data", "eof", "would_block", "error"];

    fn read(tag: &str, mut f: Fields) -> Result<RecvOutcome, String> {
        Ok(match tag {
            "data" => RecvOutcome::Data { bytes: f.take("bytes")?, preview: f.take("preview")? },
            "eof" => RecvOutcome::Eof,
            "would_block" => RecvOutcome::WouldBlock,
            "error" => RecvOutcome::Error(f.rest()?),
            other => return Err(unknown(other, Self::TAGS)),
        })
    }
}

/// What a `send` returned.
impl Tagged for SendOutcome {
    const TAG: &'static str = "outcome";
    const TAGS: &'static [&'static str] = &["sent", "would_block", "error"];

    fn read(tag: &str, mut f: Fields) -> Result<SendOutcome, String> {
        Ok(match tag {
            "sent" => SendOutcome::Sent { bytes: f.take("bytes")? },
            "would_block" => SendOutcome::WouldBlock,
            "error" => SendOutcome::Error(f.rest()?),
            other => return Err(unknown(other, Self::TAGS)),
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
    fn an_arrival_says_whose_stamp_it_is_only_when_it_is_not_the_sockets_own() {
        use crate::ArrivalStamp;
        let own = EventKind::DataArrived { fd: 5, stamp: None };
        assert_eq!(serde_json::to_string(&own).unwrap(), r#"{"type":"data_arrived","fd":5}"#);
        round_trip(own);
        for stamp in [ArrivalStamp::ClientSend, ArrivalStamp::KernelReady] {
            round_trip(EventKind::DataArrived { fd: 5, stamp: Some(stamp) });
        }
        let kernel = r#"{"type":"data_arrived","fd":5,"stamp":"kernel_ready"}"#;
        let kind = EventKind::DataArrived { fd: 5, stamp: Some(ArrivalStamp::KernelReady) };
        assert_eq!(read(kernel), Ok(kind));
        let recognised = EventKind::Recognised {
            family: crate::Family::Multiplex,
            call: "select".into(),
            count: 14,
            threads: 1,
        };
        assert!(serde_json::to_string(&recognised).unwrap().contains(r#""family":"6.3""#));
        round_trip(recognised);
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
