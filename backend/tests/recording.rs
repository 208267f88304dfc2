//! `kettle record` and `kettle export` against a real Kettle on port 0: a real line echoed
//! while recording, the file read back, exported for Perfetto and the trace's structure
//! checked; and every bad input refused with a clear message and no file left behind.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{kettle, model_addr, served};
use kettle_shared::chrome_trace::{COPY_TO_USER, DATA_ARRIVED, KERNEL_TID_OFFSET};
use kettle_shared::recording::{self, Recording, RecordingError};
use kettle_shared::{EventKind, RecvOutcome};
use serde_json::Value;

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("recording-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn kettle_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kettle")).args(args).output().expect("kettle runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Files in `dir`, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The calls a recording holds, counted as the exporter must slice them: every entry, every
/// return whose entry the recording lacks, every call recorded as one moment.
fn calls_in(rec: &Recording) -> usize {
    let mut open: HashMap<(u32, &str), bool> = HashMap::new();
    let mut calls = 0;
    for e in &rec.events {
        let (name, enter) = match &e.kind {
            EventKind::AcceptEnter => ("accept", true),
            EventKind::AcceptExit { .. } => ("accept", false),
            EventKind::RecvEnter { .. } => ("recv", true),
            EventKind::RecvExit { .. } => ("recv", false),
            EventKind::SendEnter { .. } => ("send", true),
            EventKind::SendExit { .. } => ("send", false),
            EventKind::WaitEnter { .. } => ("wait", true),
            EventKind::WaitReturned { .. } => ("wait", false),
            EventKind::RingEnter { .. } => ("ring", true),
            EventKind::RingExit { .. } => ("ring", false),
            EventKind::Close { .. }
            | EventKind::EpollCtl { .. }
            | EventKind::SignalHandler { .. } => {
                calls += 1;
                continue;
            }
            _ => continue,
        };
        let was_open = open.insert((e.thread.id, name), enter).unwrap_or(false);
        if enter || !was_open {
            calls += 1;
        }
    }
    calls
}

#[tokio::test(flavor = "multi_thread")]
async fn kettle_record_keeps_a_real_echo_and_kettle_export_writes_a_trace_with_a_slice_per_call() {
    let server = kettle(&["blocking", "select"]).await;
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let dir = scratch("record");
    let out = dir.join("lesson.kettle.jsonl.gz");
    let blocking = model_addr(&server, "blocking");
    let select = model_addr(&server, "select");

    let recorder = {
        let (url, out) = (url.clone(), out.clone());
        tokio::task::spawn_blocking(move || {
            let out = out.to_str().unwrap().to_owned();
            let args = ["record", "--url", &url, "--model", "blocking,select", "--secs", "3"];
            kettle_cli(&[&args[..], &["--out", &out]].concat())
        })
    };
    // Once the recorder watches, a real line through each model.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    tokio::task::spawn_blocking(move || {
        drop(served(blocking, b"kept for next class\n"));
        drop(served(select, b"kept for next class\n"));
    })
    .await
    .unwrap();
    let result = recorder.await.unwrap();
    let said = stderr(&result);
    assert!(result.status.success(), "{said}");
    assert!(said.contains("kettle record: 1.0 s of 3 s") || said.contains(" s of 3 s, "), "{said}");
    assert!(said.contains("wrote"), "{said}");
    assert_eq!(files(&dir), ["lesson.kettle.jsonl.gz"], "no temporary file left");

    let rec = recording::decode(&std::fs::read(&out).unwrap()).expect("the recording opens");
    let ids: Vec<&str> = rec.header.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["blocking", "select"]);
    assert!(rec.header.kernel.starts_with("Linux "), "{}", rec.header.kernel);
    assert!(rec.header.machine.contains("CPUs"), "{}", rec.header.machine);
    assert!(rec.header.code.iter().any(|x| x.file == "select.rs"), "the code panel's excerpts");
    assert!(
        rec.header.t0_unix_ms > 1_700_000_000_000
            && rec.header.start_unix_ms >= rec.header.t0_unix_ms
    );
    assert!(rec.events.iter().all(|e| e.model == "blocking" || e.model == "select"));
    assert!(rec.events.windows(2).all(|w| w[0].seq < w[1].seq));
    for model in ["blocking", "select"] {
        let got_line = rec.events_of(model).any(|e| {
            matches!(&e.kind, EventKind::RecvExit { outcome: RecvOutcome::Data { preview, .. }, .. }
                if preview.contains("kept for next class"))
        });
        assert!(got_line, "{model}'s recv of the line is recorded");
    }
    server.shutdown().await.unwrap();

    // The same file, for Perfetto.
    let trace_path = dir.join("lesson.trace.json");
    let exported = kettle_cli(&[
        "export",
        "--chrome-trace",
        out.to_str().unwrap(),
        trace_path.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let trace: Value = serde_json::from_slice(&std::fs::read(&trace_path).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    let on_thread = |e: &&Value| e["tid"].as_u64().unwrap() < KERNEL_TID_OFFSET;
    let slices = events.iter().filter(|e| e["ph"] == "X").filter(on_thread).count();
    assert_eq!(slices, calls_in(&rec), "one slice per recorded call");
    let processes: Vec<&Value> =
        events.iter().filter(|e| e["ph"] == "M" && e["name"] == "process_name").collect();
    assert_eq!(processes.len(), 2, "a process per model");
    // Each echoed line: its arrival flows into the copy that returned it, on one kernel track.
    let mut flows: HashMap<u64, (Option<&Value>, Option<&Value>)> = HashMap::new();
    for e in events {
        if let Some(id) = e.get("bind_id").and_then(Value::as_u64) {
            let slot = flows.entry(id).or_default();
            if e["flow_out"] == true {
                assert!(slot.0.replace(e).is_none());
            }
            if e["flow_in"] == true {
                assert!(slot.1.replace(e).is_none());
            }
        }
    }
    assert!(flows.len() >= 2, "a flow for each model's line: {}", flows.len());
    for (from, to) in flows.values() {
        let (from, to) = (from.expect("flow starts"), to.expect("flow ends"));
        assert_eq!(from["name"], DATA_ARRIVED);
        assert_eq!(to["name"], COPY_TO_USER);
        assert_eq!(
            (from["pid"].clone(), from["tid"].clone()),
            (to["pid"].clone(), to["tid"].clone())
        );
    }
    let counters = events.iter().filter(|e| e["ph"] == "C").count();
    assert!(counters >= 2, "select's returns are counted");
}

#[test]
fn kettle_export_refuses_a_cut_recording_saying_why_and_writes_nothing() {
    let dir = scratch("export-bad");
    let good = dir.join("good.kettle.jsonl.gz");
    let rec = Recording {
        header: Recording::header(
            &kettle_shared::recording::HostInfo {
                kettle_version: "0.1.0".into(),
                kernel: "Linux x".into(),
                machine: "m".into(),
            },
            Vec::new(),
            0,
        ),
        events: Vec::new(),
    };
    let bytes = recording::encode(&rec);
    std::fs::write(&good, &bytes).unwrap();
    let cut = dir.join("cut.kettle.jsonl.gz");
    std::fs::write(&cut, &bytes[..bytes.len() - 6]).unwrap();
    let plain = dir.join("plain.json");
    std::fs::write(&plain, b"{\"format\":\"kettle-recording\"}\n").unwrap();
    let newer = dir.join("newer.kettle.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(
        &mut gz,
        b"{\"format\":\"kettle-recording\",\"format_version\":99}\n{\"end\":{\"events\":0}}\n",
    )
    .unwrap();
    std::fs::write(&newer, gz.finish().unwrap()).unwrap();

    let trace = dir.join("out.json");
    for (input, words) in [
        (&cut, "cut short"),
        (&plain, "not gzip"),
        (&newer, "version 99, made by a newer Kettle"),
        (&dir.join("missing.kettle.jsonl.gz"), "cannot read"),
    ] {
        let out = kettle_cli(&[
            "export",
            "--chrome-trace",
            input.to_str().unwrap(),
            trace.to_str().unwrap(),
        ]);
        let said = stderr(&out);
        assert!(!out.status.success(), "{input:?} refused");
        assert!(said.starts_with("kettle export: cannot"), "{said}");
        assert!(said.contains(words), "{input:?}: {said}");
        assert!(!trace.exists(), "no output for {input:?}");
    }
    assert_eq!(files(&dir).len(), 4, "nothing but the inputs: {:?}", files(&dir));
    // The same words from the library the page uses.
    assert!(matches!(
        recording::decode(&bytes[..bytes.len() - 6]),
        Err(RecordingError::Truncated { .. })
    ));
    // And the good one exports.
    let out =
        kettle_cli(&["export", "--chrome-trace", good.to_str().unwrap(), trace.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(trace.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn kettle_record_refuses_an_unknown_model_or_an_absent_server_and_writes_nothing() {
    let server = kettle(&[]).await;
    let url = format!("http://127.0.0.1:{}", server.addr.port());
    let dir = scratch("record-bad");
    let out = dir.join("x.kettle.jsonl.gz");
    let out_s = out.to_str().unwrap().to_owned();
    let (unknown, absent, no_secs) = tokio::task::spawn_blocking(move || {
        let unknown = kettle_cli(&[
            "record",
            "--url",
            &url,
            "--model",
            "select,epol",
            "--secs",
            "1",
            "--out",
            &out_s,
        ]);
        // A port nothing listens on: the server's, after it stops, is not known to be free; a
        // port refused by the kernel is (port 1 needs root to listen on).
        let absent = kettle_cli(&[
            "record",
            "--url",
            "http://127.0.0.1:1",
            "--model",
            "select",
            "--secs",
            "1",
            "--out",
            &out_s,
        ]);
        let no_secs = kettle_cli(&[
            "record", "--url", &url, "--model", "select", "--secs", "0", "--out", &out_s,
        ]);
        (unknown, absent, no_secs)
    })
    .await
    .unwrap();
    assert!(!unknown.status.success());
    let said = stderr(&unknown);
    assert!(said.contains("no model `epol`") && said.contains("select"), "{said}");
    assert!(!absent.status.success());
    assert!(stderr(&absent).contains("cannot reach Kettle"), "{}", stderr(&absent));
    assert!(!no_secs.status.success());
    assert!(stderr(&no_secs).contains("--secs must be"), "{}", stderr(&no_secs));
    assert!(files(&dir).is_empty(), "no file written: {:?}", files(&dir));
    server.shutdown().await.unwrap();
}
