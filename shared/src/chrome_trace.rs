//! # A recording as Chrome Trace Event JSON, for Perfetto and `chrome://tracing`
//!
//! Engineers read timelines in Perfetto (<https://ui.perfetto.dev>) and Chrome's trace
//! viewer. Both open the *Trace Event Format*: one JSON object `{"traceEvents": […]}` whose
//! entries are slices, counters, flows and names on tracks. [`export`] turns a
//! [`Recording`] into that, so the lesson a page showed can be read there too. The page
//! (`#export-trace`) and `kettle export --chrome-trace` both call it: one exporter.
//!
//! ## What goes where
//!
//! - **A process per model** (`pid` 1, 2, … in the recording's order), named by its id and
//!   title (`ph:"M"`, `process_name`).
//! - **A track per thread** (`tid` = the thread's Kettle id), named as Kettle names it
//!   (`thread_name`), and beside each a **kernel track** (`tid` + [`KERNEL_TID_OFFSET`],
//!   `"kernel: <thread>"`) for what the kernel did for that thread.
//! - **Each recorded system call is one complete slice** (`ph:"X"`) on its thread's track,
//!   from its entry to its return: `accept`, `recv`, `send`, `select`/`poll`/`epoll_wait`,
//!   `io_uring_enter` (entry and return matched by thread, call and descriptor, as the page
//!   matches them), and the calls Kettle records as one moment — `close`, `epoll_ctl`,
//!   `sigaction` — as slices of no duration. Arguments in `args`: `fd`, `bytes`, `errno`, the
//!   ready set (`ready`, `scanned`), the connection and both events' `seq`. A call whose
//!   return the recording does not hold ends at the recording's last event (`unfinished`); one
//!   whose entry came before the recording starts at the model's first event
//!   (`entered_before_recording`).
//! - **The two phases of an input** are slices on the kernel track: `wait for data` (from the
//!   call until the data reached the socket, `RecvExit.wait_ns`) and `copy to user` (from then
//!   until the call returned, `copy_ns`) — measured, never drawn from a script.
//! - **A flow from the data's arrival to the copy that returned it**: the kernel's receive
//!   stamp (`DataArrived`) is a slice of no duration on the kernel track with
//!   `"flow_out":true`, and the copy (or, with no measured copy, the `recv` itself) has
//!   `"flow_in":true` and the same `bind_id` — top-level fields, as the format wants them.
//! - **Counters** (`ph:"C"`) at every readiness call's return: `ready set size` and
//!   `descriptors scanned`, a series per thread.
//! - Everything else a model records (a signal delivered, a request submitted or completed,
//!   a callback run, a burst of `EAGAIN`s, a thread started…) is an instant (`ph:"i"`) on its
//!   thread's track, named by its kind, with the event's JSON as `args`.
//!
//! Times are microseconds with nanosecond precision (`ts = t_ns / 1000` exactly, as the
//! format's `ts` is in µs), from the server's start. Events are written in time order per
//! track, the names first.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::recording::Recording;
use crate::{Event, EventKind, RecvOutcome, SendOutcome, WaitApi};

/// A kernel track's `tid`: its thread's `tid` plus this.
pub const KERNEL_TID_OFFSET: u64 = 1_000_000;

/// Name of the phase-1 slice on a kernel track.
pub const WAIT_FOR_DATA: &str = "wait for data";
/// Name of the phase-2 slice on a kernel track.
pub const COPY_TO_USER: &str = "copy to user";
/// Name of the zero-length slice marking the kernel's receive stamp.
pub const DATA_ARRIVED: &str = "data arrived";
/// Name of the ready-set counter.
pub const READY_COUNTER: &str = "ready set size";
/// Name of the scanned-descriptors counter.
pub const SCANNED_COUNTER: &str = "descriptors scanned";

/// How a recorded event takes part in a call.
enum CallMark {
    /// The call was entered: `(name, descriptor)`.
    Enter(&'static str, Option<i32>),
    /// The call returned.
    Exit(&'static str, Option<i32>),
    /// A call recorded as one moment.
    Moment(&'static str),
}

/// The call an event enters, returns from or is (`None`: not a system call's entry or exit).
fn call_mark(kind: &EventKind) -> Option<CallMark> {
    use CallMark::*;
    use EventKind as K;
    Some(match kind {
        K::AcceptEnter => Enter("accept", None),
        K::AcceptExit { .. } => Exit("accept", None),
        K::RecvEnter { fd, .. } => Enter("recv", Some(*fd)),
        K::RecvExit { fd, .. } => Exit("recv", Some(*fd)),
        K::SendEnter { fd, .. } => Enter("send", Some(*fd)),
        K::SendExit { fd, .. } => Exit("send", Some(*fd)),
        K::WaitEnter { api, .. } => Enter(wait_call(*api), None),
        K::WaitReturned { api, .. } => Exit(wait_call(*api), None),
        K::RingEnter { .. } => Enter("io_uring_enter", None),
        K::RingExit { .. } => Exit("io_uring_enter", None),
        K::Close { .. } => Moment("close"),
        K::EpollCtl { .. } => Moment("epoll_ctl"),
        K::SignalHandler { .. } => Moment("sigaction"),
        _ => return None,
    })
}

/// The system call a readiness wait is.
fn wait_call(api: WaitApi) -> &'static str {
    match api {
        WaitApi::Select => "select",
        WaitApi::Poll => "poll",
        WaitApi::Epoll | WaitApi::EpollEt => "epoll_wait",
    }
}

/// Microseconds from nanoseconds, exactly: `t / 1000.0` is the double nearest the decimal
/// with three places, which JSON then writes as that decimal.
fn us(t_ns: u64) -> f64 {
    t_ns as f64 / 1000.0
}

/// What one call's slice says in `args`.
fn call_args(enter: Option<&Event>, exit: Option<&Event>, moment: Option<&Event>) -> Value {
    let mut args = Map::new();
    for e in [enter, exit, moment].into_iter().flatten() {
        if let Some(conn) = e.conn {
            args.insert("conn".into(), json!(conn));
        }
        let mut fd = |v: i32| {
            args.insert("fd".into(), json!(v));
        };
        match &e.kind {
            EventKind::RecvEnter { fd: f, len } => {
                fd(*f);
                args.insert("len".into(), json!(len));
            }
            EventKind::RecvExit { fd: f, outcome, wait_ns, copy_ns } => {
                fd(*f);
                match outcome {
                    RecvOutcome::Data { bytes, .. } => {
                        args.insert("bytes".into(), json!(bytes));
                    }
                    RecvOutcome::Eof => {
                        args.insert("bytes".into(), json!(0));
                    }
                    RecvOutcome::WouldBlock => {
                        args.insert("errno".into(), json!("EAGAIN"));
                    }
                    RecvOutcome::Error(err) => {
                        args.insert("errno".into(), json!(err.errno));
                    }
                }
                if let Some(w) = wait_ns {
                    args.insert("wait_ns".into(), json!(w));
                }
                if let Some(c) = copy_ns {
                    args.insert("copy_ns".into(), json!(c));
                }
            }
            EventKind::SendEnter { fd: f, bytes } => {
                fd(*f);
                args.insert("offered".into(), json!(bytes));
            }
            EventKind::SendExit { fd: f, outcome } => {
                fd(*f);
                match outcome {
                    SendOutcome::Sent { bytes } => {
                        args.insert("bytes".into(), json!(bytes));
                    }
                    SendOutcome::WouldBlock => {
                        args.insert("errno".into(), json!("EAGAIN"));
                    }
                    SendOutcome::Error(err) => {
                        args.insert("errno".into(), json!(err.errno));
                    }
                }
            }
            EventKind::AcceptExit { fd: f, peer, error } => {
                if let Some(f) = f {
                    fd(*f);
                }
                if let Some(peer) = peer {
                    args.insert("peer".into(), json!(peer));
                }
                if let Some(err) = error {
                    args.insert("errno".into(), json!(err.errno));
                }
            }
            EventKind::WaitEnter { watched, .. } => {
                args.insert("watched".into(), json!(watched));
            }
            EventKind::WaitReturned { ready, scanned, .. } => {
                let fds: Vec<i32> = ready.iter().map(|r| r.fd).collect();
                args.insert("ready".into(), json!(fds));
                args.insert("scanned".into(), json!(scanned));
            }
            EventKind::RingEnter { submitted, wait_for } => {
                args.insert("submitted".into(), json!(submitted));
                args.insert("wait_for".into(), json!(wait_for));
            }
            EventKind::RingExit { completions, timed_out } => {
                args.insert("completions".into(), json!(completions));
                args.insert("timed_out".into(), json!(timed_out));
            }
            EventKind::Close { fd: f, reason } => {
                fd(*f);
                args.insert("reason".into(), json!(reason));
            }
            EventKind::EpollCtl { op, fd: f, events, error } => {
                fd(*f);
                args.insert("op".into(), json!(op));
                args.insert("events".into(), json!(events));
                if let Some(err) = error {
                    args.insert("errno".into(), json!(err.errno));
                }
            }
            EventKind::SignalHandler { signo, name } => {
                args.insert("signo".into(), json!(signo));
                args.insert("signal".into(), json!(name));
            }
            _ => {}
        }
    }
    if let Some(e) = enter {
        args.insert("enter_seq".into(), json!(e.seq));
    }
    if let Some(e) = exit {
        args.insert("exit_seq".into(), json!(e.seq));
    }
    if let Some(e) = moment {
        args.insert("seq".into(), json!(e.seq));
    }
    Value::Object(args)
}

/// One trace event, kept with its sort key until everything is written.
struct Out {
    ts_ns: u64,
    dur_ns: u64,
    value: Value,
}

/// Writes `recording` as Chrome Trace Event JSON (see the module's documentation).
pub fn export(recording: &Recording) -> String {
    let mut names: Vec<Value> = Vec::new();
    let mut out: Vec<Out> = Vec::new();
    let mut next_flow = 1u64;

    for (index, model) in recording.models_with_events().iter().enumerate() {
        let pid = index as u64 + 1;
        let title = recording
            .header
            .models
            .iter()
            .find(|m| &m.id == model)
            .map(|m| format!("{model}: {}", m.title))
            .unwrap_or_else(|| model.clone());
        names.push(json!({"ph":"M","name":"process_name","pid":pid,"tid":0,"args":{"name":title}}));
        names.push(
            json!({"ph":"M","name":"process_sort_index","pid":pid,"tid":0,"args":{"sort_index":pid}}),
        );
        let mut events: Vec<&Event> = recording.events_of(model).collect();
        events.sort_by_key(|e| e.seq);
        let first_t = events.iter().map(|e| e.t_ns).min().unwrap_or(0);
        let last_t = events.iter().map(|e| e.t_ns).max().unwrap_or(0);

        // Threads, in the order they first show, each with its kernel track beside it.
        let mut threads: Vec<(u32, String)> = Vec::new();
        for e in &events {
            if !threads.iter().any(|(id, _)| *id == e.thread.id) {
                threads.push((e.thread.id, e.thread.name.clone()));
            }
        }
        for (rank, (id, name)) in threads.iter().enumerate() {
            let tid = u64::from(*id);
            let ktid = tid + KERNEL_TID_OFFSET;
            let rank = rank as u64 * 2;
            names.push(
                json!({"ph":"M","name":"thread_name","pid":pid,"tid":tid,"args":{"name":name}}),
            );
            names.push(json!({"ph":"M","name":"thread_sort_index","pid":pid,"tid":tid,"args":{"sort_index":rank}}));
            names.push(json!({"ph":"M","name":"thread_name","pid":pid,"tid":ktid,"args":{"name":format!("kernel: {name}")}}));
            names.push(json!({"ph":"M","name":"thread_sort_index","pid":pid,"tid":ktid,"args":{"sort_index":rank + 1}}));
        }

        // First pass: which receive stamp each recv's copy returned (thread, fd, in order).
        let mut arrival_flow: HashMap<u64, u64> = HashMap::new(); // DataArrived seq → flow id
        let mut recv_flow: HashMap<u64, u64> = HashMap::new(); // RecvExit seq → flow id
        let mut waiting: HashMap<(u32, i32), u64> = HashMap::new();
        for e in &events {
            match &e.kind {
                EventKind::DataArrived { fd, .. } => {
                    waiting.insert((e.thread.id, *fd), e.seq);
                }
                EventKind::RecvExit { fd, outcome: RecvOutcome::Data { .. }, .. } => {
                    if let Some(arrival) = waiting.remove(&(e.thread.id, *fd)) {
                        arrival_flow.insert(arrival, next_flow);
                        recv_flow.insert(e.seq, next_flow);
                        next_flow += 1;
                    }
                }
                _ => {}
            }
        }

        let mut open: HashMap<(u32, &'static str, Option<i32>), &Event> = HashMap::new();
        for e in &events {
            let tid = u64::from(e.thread.id);
            let ktid = tid + KERNEL_TID_OFFSET;
            let slice = |name: &str, t0: u64, t1: u64, track: u64, args: Value| Out {
                ts_ns: t0,
                dur_ns: t1 - t0,
                value: json!({"ph":"X","name":name,"cat":"syscall","pid":pid,"tid":track,
                    "ts":us(t0),"dur":us(t1 - t0),"args":args}),
            };
            match call_mark(&e.kind) {
                Some(CallMark::Enter(name, fd)) => {
                    if let Some(earlier) = open.insert((e.thread.id, name, fd), e) {
                        // Entered again without a return: the first ends where the next starts.
                        let mut args = call_args(Some(earlier), None, None);
                        args["unfinished"] = json!(true);
                        out.push(slice(name, earlier.t_ns, e.t_ns.max(earlier.t_ns), tid, args));
                    }
                }
                Some(CallMark::Exit(name, fd)) => {
                    let enter = open.remove(&(e.thread.id, name, fd));
                    let mut args = call_args(enter, Some(e), None);
                    let t0 = match enter {
                        Some(enter) => enter.t_ns.min(e.t_ns),
                        None => {
                            args["entered_before_recording"] = json!(true);
                            first_t.min(e.t_ns)
                        }
                    };
                    let flow = recv_flow.get(&e.seq).copied();
                    let mut copy_has_flow = false;
                    if let EventKind::RecvExit { wait_ns, copy_ns, .. } = &e.kind {
                        // Phase 2 ends at the return; phase 1 starts at the call and never
                        // runs past phase 2's start.
                        let copy_start = copy_ns.map(|c| e.t_ns.saturating_sub(c).max(t0));
                        if let Some(w) = wait_ns.filter(|w| *w > 0) {
                            let end = (t0 + w).min(copy_start.unwrap_or(e.t_ns));
                            let phase = json!({"fd": args.get("fd"), "exit_seq": e.seq});
                            out.push(slice(WAIT_FOR_DATA, t0, end, ktid, phase));
                        }
                        if let Some(start) = copy_start {
                            let phase = json!({"fd": args.get("fd"), "exit_seq": e.seq});
                            let mut copy = slice(COPY_TO_USER, start, e.t_ns, ktid, phase);
                            if let Some(id) = flow {
                                copy.value["bind_id"] = json!(id);
                                copy.value["flow_in"] = json!(true);
                                copy_has_flow = true;
                            }
                            out.push(copy);
                        }
                    }
                    let mut call = slice(name, t0, e.t_ns, tid, args);
                    if let (Some(id), false) = (flow, copy_has_flow) {
                        call.value["bind_id"] = json!(id);
                        call.value["flow_in"] = json!(true);
                    }
                    out.push(call);
                    if let EventKind::WaitReturned { ready, scanned, .. } = &e.kind {
                        let series = e.thread.name.clone();
                        for (name, value) in [
                            (READY_COUNTER, ready.len() as u64),
                            (SCANNED_COUNTER, u64::from(*scanned)),
                        ] {
                            out.push(Out {
                                ts_ns: e.t_ns,
                                dur_ns: 0,
                                value: json!({"ph":"C","name":name,"pid":pid,"tid":tid,
                                    "ts":us(e.t_ns),"args":{series.clone(): value}}),
                            });
                        }
                    }
                }
                Some(CallMark::Moment(name)) => {
                    out.push(slice(name, e.t_ns, e.t_ns, tid, call_args(None, None, Some(e))));
                }
                None => match &e.kind {
                    EventKind::DataArrived { fd, stamp } => {
                        let mut args = json!({"fd": fd, "seq": e.seq});
                        if let Some(stamp) = stamp {
                            args["stamp"] = json!(stamp);
                        }
                        let mut mark = slice(DATA_ARRIVED, e.t_ns, e.t_ns, ktid, args);
                        if let Some(id) = arrival_flow.get(&e.seq) {
                            mark.value["bind_id"] = json!(id);
                            mark.value["flow_out"] = json!(true);
                        }
                        out.push(mark);
                    }
                    kind => {
                        let mut args = serde_json::to_value(kind).unwrap_or(Value::Null);
                        if let Value::Object(map) = &mut args {
                            map.remove("type");
                            map.insert("seq".into(), json!(e.seq));
                        }
                        out.push(Out {
                            ts_ns: e.t_ns,
                            dur_ns: 0,
                            value: json!({"ph":"i","s":"t","name":kind.name(),"cat":"event",
                                "pid":pid,"tid":tid,"ts":us(e.t_ns),"args":args}),
                        });
                    }
                },
            }
        }
        // Calls still open when the recording ends.
        let mut unfinished: Vec<_> = open.into_iter().collect();
        unfinished.sort_by_key(|(_, e)| e.seq);
        for ((_, name, _), e) in unfinished {
            let mut args = call_args(Some(e), None, None);
            args["unfinished"] = json!(true);
            let tid = u64::from(e.thread.id);
            out.push(Out {
                ts_ns: e.t_ns,
                dur_ns: last_t - e.t_ns,
                value: json!({"ph":"X","name":name,"cat":"syscall","pid":pid,"tid":tid,
                    "ts":us(e.t_ns),"dur":us(last_t - e.t_ns),"args":args}),
            });
        }
    }

    // Time order; at one instant the longer slice first, so it encloses the shorter.
    out.sort_by(|a, b| a.ts_ns.cmp(&b.ts_ns).then(b.dur_ns.cmp(&a.dur_ns)));
    let header = &recording.header;
    let trace = json!({
        "traceEvents": names.into_iter().chain(out.into_iter().map(|o| o.value)).collect::<Vec<_>>(),
        "displayTimeUnit": "ns",
        "otherData": {
            "tool": "Kettle",
            "kettle_version": header.kettle_version,
            "kernel": header.kernel,
            "machine": header.machine,
            "start_unix_ms": header.start_unix_ms,
            "t0_unix_ms": header.t0_unix_ms,
        },
    });
    trace.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::HostInfo;
    use crate::{
        CloseReason, EpollOp, ModelInfo, ModelState, ReadyFd, SendOutcome, SysError, ThreadRef,
    };

    /// A recording of two models echoing one line each, as their servers record it: the
    /// blocking model's recv sleeps through both phases; select's wait sleeps through phase 1
    /// and its recv only copies.
    pub(crate) fn two_models() -> Recording {
        let host = HostInfo {
            kettle_version: "0.1.0".into(),
            kernel: "Linux test".into(),
            machine: "test".into(),
        };
        let info = |id: &str| ModelInfo {
            id: id.into(),
            title: format!("{id} title"),
            title_zh: id.into(),
            figure: String::new(),
            family: None,
            port: None,
            ports: Vec::new(),
            command: None,
            state: ModelState::Running,
            reason: None,
            passive: false,
        };
        let mut seq = 0;
        let mut ev = |model: &str, thread: u32, t_ns: u64, kind: EventKind| {
            seq += 1;
            Event {
                seq,
                t_ns,
                model: model.into(),
                thread: ThreadRef { id: thread, name: format!("{model}-{thread}") },
                conn: Some(1),
                kind,
            }
        };
        let data = |bytes| RecvOutcome::Data { bytes, preview: "hello\n".into() };
        let events = vec![
            ev("blocking", 1, 1_000, EventKind::AcceptEnter),
            ev(
                "blocking",
                1,
                5_500,
                EventKind::AcceptExit { fd: Some(5), peer: None, error: None },
            ),
            ev("blocking", 1, 6_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev("blocking", 1, 1_234_567, EventKind::DataArrived { fd: 5, stamp: None }),
            ev(
                "blocking",
                1,
                1_240_000,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: data(6),
                    wait_ns: Some(1_228_567),
                    copy_ns: Some(5_433),
                },
            ),
            ev("blocking", 1, 1_241_000, EventKind::SendEnter { fd: 5, bytes: 6 }),
            ev(
                "blocking",
                1,
                1_250_000,
                EventKind::SendExit { fd: 5, outcome: SendOutcome::Sent { bytes: 6 } },
            ),
            ev("blocking", 1, 1_260_000, EventKind::RecvEnter { fd: 5, len: 1024 }),
            ev(
                "blocking",
                1,
                1_270_000,
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::Error(SysError {
                        errno: "ECONNRESET".into(),
                        message: "reset".into(),
                    }),
                    wait_ns: None,
                    copy_ns: None,
                },
            ),
            ev("blocking", 1, 1_280_000, EventKind::Close { fd: 5, reason: CloseReason::Reset }),
            ev(
                "select",
                2,
                2_000,
                EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 7] },
            ),
            ev("select", 2, 900_000, EventKind::DataArrived { fd: 7, stamp: None }),
            ev(
                "select",
                2,
                910_000,
                EventKind::WaitReturned {
                    api: WaitApi::Select,
                    ready: vec![ReadyFd { fd: 7, readable: true, writable: false }],
                    scanned: 8,
                },
            ),
            ev("select", 2, 911_000, EventKind::RecvEnter { fd: 7, len: 1024 }),
            ev(
                "select",
                2,
                915_000,
                EventKind::RecvExit {
                    fd: 7,
                    outcome: data(6),
                    wait_ns: Some(0),
                    copy_ns: Some(4_000),
                },
            ),
            ev(
                "select",
                2,
                916_000,
                EventKind::EpollCtl { op: EpollOp::Add, fd: 7, events: "IN".into(), error: None },
            ),
            ev(
                "select",
                2,
                917_000,
                EventKind::WaitEnter { api: WaitApi::Select, watched: vec![3, 7] },
            ),
        ];
        let mut header = Recording::header(&host, vec![info("blocking"), info("select")], 0);
        header.t0_unix_ms = 1;
        Recording { header, events }
    }

    fn parsed(rec: &Recording) -> Vec<Value> {
        let trace: Value = serde_json::from_str(&export(rec)).expect("valid JSON");
        trace["traceEvents"].as_array().expect("traceEvents").clone()
    }

    fn track(e: &Value) -> (u64, u64) {
        (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap())
    }

    /// (start, end) in ns, from the written µs (rounded back to whole ns).
    fn span(e: &Value) -> (i64, i64) {
        let ts = (e["ts"].as_f64().unwrap() * 1000.0).round() as i64;
        let dur = (e["dur"].as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
        (ts, ts + dur)
    }

    #[test]
    fn every_recorded_call_is_one_slice_on_its_threads_track() {
        let rec = two_models();
        let calls = rec
            .events
            .iter()
            .filter(|e| {
                matches!(call_mark(&e.kind), Some(CallMark::Enter(..) | CallMark::Moment(_)))
            })
            .count();
        let events = parsed(&rec);
        let slices: Vec<&Value> = events
            .iter()
            .filter(|e| e["ph"] == "X" && e["tid"].as_u64().unwrap() < KERNEL_TID_OFFSET)
            .collect();
        assert_eq!(slices.len(), calls);
        let names: Vec<&str> = slices.iter().map(|e| e["name"].as_str().unwrap()).collect();
        for name in ["accept", "recv", "send", "close", "select", "epoll_ctl"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        // The last select has no return in the recording: it runs to the recording's end.
        let last = slices.iter().rfind(|e| e["name"] == "select").unwrap();
        assert_eq!(last["args"]["unfinished"], true);
        assert_eq!(span(last), (917_000, 917_000));
    }

    #[test]
    fn a_calls_arguments_are_in_args() {
        let events = parsed(&two_models());
        let recv = events.iter().find(|e| e["name"] == "recv" && e["args"]["bytes"] == 6).unwrap();
        assert_eq!(recv["args"]["fd"], 5);
        assert_eq!(span(recv), (6_000, 1_240_000));
        let reset = events.iter().find(|e| e["args"]["errno"] == "ECONNRESET").unwrap();
        assert_eq!(reset["name"], "recv");
        let select = events.iter().find(|e| e["name"] == "select").unwrap();
        assert_eq!(select["args"]["ready"], json!([7]));
        assert_eq!(select["args"]["scanned"], 8);
    }

    #[test]
    fn times_are_microseconds_with_nanosecond_precision() {
        let text = export(&two_models());
        assert!(text.contains(r#""ts":1234.567"#), "the receive stamp at 1 234 567 ns");
    }

    #[test]
    fn slices_nest_on_every_track() {
        let events = parsed(&two_models());
        let mut by_track: HashMap<(u64, u64), Vec<(i64, i64)>> = HashMap::new();
        for e in events.iter().filter(|e| e["ph"] == "X") {
            by_track.entry(track(e)).or_default().push(span(e));
        }
        for (t, spans) in by_track {
            for (i, a) in spans.iter().enumerate() {
                for b in &spans[i + 1..] {
                    let disjoint = a.1 <= b.0 || b.1 <= a.0;
                    let nested = (a.0 <= b.0 && b.1 <= a.1) || (b.0 <= a.0 && a.1 <= b.1);
                    assert!(disjoint || nested, "track {t:?}: {a:?} overlaps {b:?}");
                }
            }
        }
    }

    #[test]
    fn timestamps_never_go_back_on_a_track() {
        let events = parsed(&two_models());
        let mut last: HashMap<(u64, u64, bool), f64> = HashMap::new();
        for e in events.iter().filter(|e| e["ph"] != "M") {
            let key = (track(e).0, track(e).1, e["ph"] == "C");
            let ts = e["ts"].as_f64().unwrap();
            let before = last.insert(key, ts).unwrap_or(f64::MIN);
            assert!(before <= ts, "{key:?}: {before} then {ts}");
        }
    }

    #[test]
    fn each_arrival_flows_to_the_copy_that_returned_it() {
        let events = parsed(&two_models());
        let mut outs: HashMap<u64, &Value> = HashMap::new();
        let mut ins: HashMap<u64, &Value> = HashMap::new();
        for e in &events {
            assert!(e["args"].get("bind_id").is_none(), "flow fields are top-level");
            if let Some(id) = e.get("bind_id").and_then(Value::as_u64) {
                if e["flow_out"] == true {
                    assert!(outs.insert(id, e).is_none(), "one start per flow");
                }
                if e["flow_in"] == true {
                    assert!(ins.insert(id, e).is_none(), "one end per flow");
                }
            }
        }
        assert_eq!(outs.len(), 2, "both lines' arrivals");
        let mut out_ids: Vec<_> = outs.keys().collect();
        let mut in_ids: Vec<_> = ins.keys().collect();
        out_ids.sort();
        in_ids.sort();
        assert_eq!(out_ids, in_ids, "every flow pairs");
        for (id, from) in outs {
            let to = ins[&id];
            assert_eq!(from["name"], DATA_ARRIVED);
            assert_eq!(to["name"], COPY_TO_USER);
            assert_eq!(track(from), track(to), "on the same kernel track");
            assert!(span(from).0 <= span(to).0, "the copy starts at or after the arrival");
        }
    }

    #[test]
    fn both_phases_are_on_the_threads_kernel_track() {
        let events = parsed(&two_models());
        let wait = events.iter().find(|e| e["name"] == WAIT_FOR_DATA).unwrap();
        let copy = events.iter().find(|e| e["name"] == COPY_TO_USER && e["pid"] == 1).unwrap();
        assert_eq!(track(wait), (1, 1 + KERNEL_TID_OFFSET));
        assert_eq!(span(wait), (6_000, 1_234_567));
        assert_eq!(span(copy), (1_234_567, 1_240_000));
        // select's recv only copies: no phase 1 of its own.
        assert!(!events.iter().any(|e| e["name"] == WAIT_FOR_DATA && e["pid"] == 2));
    }

    #[test]
    fn every_track_and_process_is_named() {
        let events = parsed(&two_models());
        let named = |name: &str, pid: u64, tid: u64| {
            events
                .iter()
                .find(|e| e["ph"] == "M" && e["name"] == name && e["pid"] == pid && e["tid"] == tid)
        };
        assert_eq!(
            named("process_name", 1, 0).unwrap()["args"]["name"],
            "blocking: blocking title"
        );
        assert_eq!(named("thread_name", 2, 2).unwrap()["args"]["name"], "select-2");
        assert_eq!(
            named("thread_name", 2, 2 + KERNEL_TID_OFFSET).unwrap()["args"]["name"],
            "kernel: select-2"
        );
        for e in events.iter().filter(|e| e["ph"] != "M") {
            let (pid, tid) = track(e);
            assert!(e["ph"] == "C" || named("thread_name", pid, tid).is_some(), "{e}");
        }
    }

    #[test]
    fn readiness_returns_are_counted_per_call() {
        let events = parsed(&two_models());
        let counters: Vec<&Value> = events.iter().filter(|e| e["ph"] == "C").collect();
        assert_eq!(counters.len(), 2);
        let ready = counters.iter().find(|e| e["name"] == READY_COUNTER).unwrap();
        let scanned = counters.iter().find(|e| e["name"] == SCANNED_COUNTER).unwrap();
        assert_eq!(ready["args"]["select-2"], 1);
        assert_eq!(scanned["args"]["select-2"], 8);
    }
}
