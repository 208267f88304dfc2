//! # Recordings: a lesson kept after the server stops
//!
//! Everything Kettle shows is made of [`Event`]s. A *recording* keeps the events a page (or
//! `kettle record`) received, exactly as they arrived, with a header saying where and when they
//! were made, so the page can replay them later without any server: the figure, the narration,
//! the code panel, time travel, the comparison and the kettle story all work from the events
//! alone, because the page never invents a step (see ARCHITECTURE.md, "Real, not pretend").
//!
//! ## The file
//!
//! A recording is **gzip-compressed JSON Lines** (`.kettle.jsonl.gz` by convention): one JSON
//! object per line, UTF-8, `\n` between lines. `zcat rec.kettle.jsonl.gz | head` shows it.
//!
//! 1. The first line is the [`RecordingHeader`]: `{"format":"kettle-recording",
//!    "format_version":1, "kettle_version":…, "protocol_version":…, "kernel":…, "machine":…,
//!    "models":[…], "start_unix_ms":…, "t0_unix_ms":…, "compare":{…}|null, "history_bound":…, "lost":…, "code":[…]}`.
//! 2. Then every event, one per line, written exactly as [`Event`] is on the WebSocket
//!    (`{"seq":…,"t_ns":…,"model":…,"thread":…,"conn":…,"kind":{"type":…}}`), grouped by
//!    model in the order of the header's `models` (events of any other model — the lesson's
//!    computation — after them), each model's in `seq` order.
//! 3. The last line is the end mark `{"end":{"events":N}}`, N the number of event lines.
//!
//! ## Reading it back, and saying exactly why not
//!
//! [`decode`] refuses, each with its own [`RecordingError`] (the page words it in both
//! languages, the command line in English through `Display`): bytes that are not gzip; a file
//! cut short (the gzip stream ends early, or the end mark is missing: a copy interrupted, a
//! download stopped); a first line that is not a Kettle recording's header; a format version
//! this Kettle does not read — newer (made by a later Kettle) or older than any it knows; a
//! line that is not an event (which line, and serde's words); an end mark whose count differs
//! from the lines read. Nothing is guessed: a recording opens whole or not at all.
//!
//! ## Versions
//!
//! [`RECORDING_FORMAT_VERSION`] changes whenever a reader of the previous version would
//! misread the file: the layout above, or the events' JSON (an incompatible change of the
//! protocol, [`crate::PROTOCOL_VERSION`], is one). Format versions this crate reads are listed
//! in [`READABLE_FORMAT_VERSIONS`]; an older one that is still readable is converted on
//! reading, never refused silently.

use std::io::{self, BufRead, BufReader, Read, Write};

use serde::{Deserialize, Serialize};

use crate::{Event, ModelInfo};

/// The value of the header's `format` field: what makes a file a Kettle recording.
pub const RECORDING_FORMAT: &str = "kettle-recording";

/// The format version this crate writes.
pub const RECORDING_FORMAT_VERSION: u32 = 1;

/// Every format version this crate can read (oldest first).
pub const READABLE_FORMAT_VERSIONS: &[u32] = &[1];

/// The version of Kettle that writes a recording (the workspace's version).
pub const KETTLE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The file name ending a saved recording gets.
pub const RECORDING_EXTENSION: &str = ".kettle.jsonl.gz";

/// Where a recording was made: what `GET /api/host` answers, so the page and `kettle record`
/// can fill a header's `kettle_version`, `kernel` and `machine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostInfo {
    /// Kettle's version ([`KETTLE_VERSION`] of the server).
    pub kettle_version: String,
    /// The kernel: `uname`'s system and release, such as `"Linux 6.1.0-28-amd64"`.
    pub kernel: String,
    /// The machine: its host name, CPU model and number of CPUs, such as
    /// `"lab-3 (Intel(R) Xeon(R) CPU @ 2.20GHz, 2 CPUs)"`.
    pub machine: String,
}

/// The first line of a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingHeader {
    /// Always [`RECORDING_FORMAT`].
    pub format: String,
    /// The layout's version ([`RECORDING_FORMAT_VERSION`] when written by this crate).
    pub format_version: u32,
    /// The Kettle that made the events (the server's version, from [`HostInfo`]).
    pub kettle_version: String,
    /// The protocol the events were received in ([`crate::PROTOCOL_VERSION`]).
    pub protocol_version: u32,
    /// The kernel the servers ran on ([`HostInfo::kernel`]).
    pub kernel: String,
    /// The machine they ran on ([`HostInfo::machine`]).
    pub machine: String,
    /// The models as the server described them when recording began (the page draws each
    /// model's figure from its `family`); every model with events is listed.
    pub models: Vec<ModelInfo>,
    /// When the recording began: wall-clock milliseconds since the Unix epoch.
    pub start_unix_ms: u64,
    /// Wall-clock milliseconds at the server's `t_ns == 0`
    /// ([`Clock::start_unix_ms`](crate::Clock::start_unix_ms)): an event happened at
    /// `t0_unix_ms + t_ns / 1e6`.
    pub t0_unix_ms: u64,
    /// The comparison (Fig. 6.6) the page showed, if it showed one: the line and, per model,
    /// the echo client it went through (the relay's `client_*` events name it) and the model's
    /// connection for that client.
    pub compare: Option<Compared>,
    /// The most events the recorder kept per model: a model with this many events may have
    /// had older ones the recording does not hold.
    pub history_bound: u32,
    /// Events the server counted as lost while this was recorded (holes in the `seq`s, over
    /// every model: [`ServerMsg::Batch::dropped`](crate::ServerMsg::Batch)), so a replay can
    /// say that steps are missing instead of pretending none are.
    pub lost: u64,
    /// The marked regions of Kettle's model files (`GET /api/excerpts`), so the code panel
    /// shows the line of each step with no server to ask; empty if they could not be had.
    pub code: Vec<CodeExcerpt>,
}

/// A marked region of one of Kettle's model files (see [`crate::excerpt`]), as a recording
/// carries it and `GET /api/excerpts` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeExcerpt {
    /// The model file's basename (`"select.rs"`).
    pub file: String,
    /// The region's name.
    pub name: String,
    /// The line number of its first line in the file.
    pub first: usize,
    /// Its lines, each ending in `\n`.
    pub text: String,
}

/// The comparison a recording keeps: one line through one echo client on each model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    /// The line, as typed.
    pub text: String,
    /// One per model, in the comparison's order.
    pub lanes: Vec<ComparedLane>,
}

/// One model of a kept comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComparedLane {
    /// The model.
    pub model: String,
    /// The echo client the line went through.
    pub client: u32,
    /// The model's connection for that client, once accepted.
    pub conn: Option<u64>,
}

crate::wire::deserialize_fields! {
    Compared { text, lanes }
    CodeExcerpt { file, name, first, text }
    ComparedLane { model, client, conn }
    HostInfo { kettle_version, kernel, machine }
    RecordingHeader {
        format, format_version, kettle_version, protocol_version, kernel, machine, models,
        start_unix_ms, t0_unix_ms, compare, history_bound, lost; or_default code
    }
}

/// The last line of a recording: `{"end":{"events":N}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct End {
    /// How many event lines came before it.
    events: u64,
}

#[derive(Serialize, Deserialize)]
struct EndLine {
    end: End,
}

/// A recording read back, or about to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Where and when it was made.
    pub header: RecordingHeader,
    /// Every event, in `seq` order.
    pub events: Vec<Event>,
}

impl Recording {
    /// A header for events received now from a server described by `host`, listing `models`.
    pub fn header(host: &HostInfo, models: Vec<ModelInfo>, start_unix_ms: u64) -> RecordingHeader {
        RecordingHeader {
            format: RECORDING_FORMAT.into(),
            format_version: RECORDING_FORMAT_VERSION,
            kettle_version: host.kettle_version.clone(),
            protocol_version: crate::PROTOCOL_VERSION,
            kernel: host.kernel.clone(),
            machine: host.machine.clone(),
            models,
            start_unix_ms,
            t0_unix_ms: 0,
            compare: None,
            history_bound: 0,
            lost: 0,
            code: Vec::new(),
        }
    }

    /// The ids of the models with events, in the header's order (then any other model's, in
    /// the order their first event came).
    pub fn models_with_events(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .header
            .models
            .iter()
            .map(|m| m.id.clone())
            .filter(|id| self.events.iter().any(|e| &e.model == id))
            .collect();
        for e in &self.events {
            if !ids.contains(&e.model) {
                ids.push(e.model.clone());
            }
        }
        ids
    }

    /// The events of one model, in `seq` order.
    pub fn events_of<'a>(&'a self, model: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events.iter().filter(move |e| e.model == model)
    }
}

/// Why a recording cannot be opened. `Display` says it in English for the terminal; the page
/// words each case itself, in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingError {
    /// The bytes are not gzip at all (no gzip magic number): not a recording, or a recording
    /// someone decompressed.
    NotGzip,
    /// The file ends before the recording does: the gzip stream stops early, or the end mark
    /// never comes. `events` is how many events were read before the end.
    Truncated {
        /// Events read before the file stopped.
        events: u64,
    },
    /// The first line is not a Kettle recording's header.
    NotARecording {
        /// What was wrong, in serde's or our words.
        detail: String,
    },
    /// A format version newer than any this Kettle reads: made by a later Kettle.
    NewerVersion {
        /// The file's version.
        found: u32,
        /// The newest this Kettle reads.
        newest: u32,
    },
    /// A format version older than any this Kettle still reads.
    OlderVersion {
        /// The file's version.
        found: u32,
        /// The oldest this Kettle reads.
        oldest: u32,
    },
    /// A line after the header is neither an event nor the end mark.
    BadLine {
        /// Its line number, from 1 (the header is line 1).
        line: u64,
        /// What was wrong, in serde's words.
        detail: String,
    },
    /// The end mark counts another number of events than the lines read.
    CountMismatch {
        /// What the end mark says.
        said: u64,
        /// Event lines read.
        read: u64,
    },
    /// Something after the end mark.
    AfterEnd {
        /// The first such line's number.
        line: u64,
    },
}

impl std::fmt::Display for RecordingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordingError::NotGzip => write!(
                f,
                "not a Kettle recording: the file is not gzip-compressed (a recording is gzip-compressed JSON Lines)"
            ),
            RecordingError::Truncated { events } => write!(
                f,
                "the recording is cut short: the file ends after {events} events, before its end mark (was the copy or download interrupted?)"
            ),
            RecordingError::NotARecording { detail } => {
                write!(f, "not a Kettle recording: the first line is not a recording's header ({detail})")
            }
            RecordingError::NewerVersion { found, newest } => write!(
                f,
                "the recording is in format version {found}, made by a newer Kettle; this Kettle ({KETTLE_VERSION}) reads versions up to {newest}: open it with a newer Kettle"
            ),
            RecordingError::OlderVersion { found, oldest } => write!(
                f,
                "the recording is in format version {found}, older than any this Kettle ({KETTLE_VERSION}) reads (the oldest is {oldest}): open it with the Kettle that made it"
            ),
            RecordingError::BadLine { line, detail } => {
                write!(f, "the recording's line {line} is not an event: {detail}")
            }
            RecordingError::CountMismatch { said, read } => write!(
                f,
                "the recording's end mark counts {said} events but {read} were read: the file was changed or damaged"
            ),
            RecordingError::AfterEnd { line } => {
                write!(f, "the recording goes on after its end mark (line {line}): the file was changed or damaged")
            }
        }
    }
}

impl std::error::Error for RecordingError {}

/// Writes `recording` as a recording file into `out`: the header, the events grouped by model
/// (see the module's documentation), the end mark, all gzip-compressed.
pub fn write<W: Write>(recording: &Recording, out: W) -> io::Result<()> {
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut line = |value: &dyn erased::Line| -> io::Result<()> {
        value.write_to(&mut gz)?;
        gz.write_all(b"\n")
    };
    line(&recording.header)?;
    let mut written = 0u64;
    for model in recording.models_with_events() {
        let mut events: Vec<&Event> = recording.events_of(&model).collect();
        events.sort_by_key(|e| e.seq);
        for event in events {
            line(event)?;
            written += 1;
        }
    }
    line(&EndLine { end: End { events: written } })?;
    gz.finish()?.flush()
}

/// A recording as the bytes of its file.
pub fn encode(recording: &Recording) -> Vec<u8> {
    let mut bytes = Vec::new();
    write(recording, &mut bytes).expect("writing into memory cannot fail");
    bytes
}

/// Reads a recording file from its bytes, whole or not at all.
pub fn decode(bytes: &[u8]) -> Result<Recording, RecordingError> {
    read(bytes)
}

/// Reads a recording file, whole or not at all (see [`RecordingError`] for every refusal).
pub fn read<R: Read>(mut input: R) -> Result<Recording, RecordingError> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    while got < 2 {
        match input.read(&mut magic[got..]) {
            Ok(0) => return Err(RecordingError::NotGzip),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(RecordingError::Truncated { events: 0 }),
        }
    }
    if magic != [0x1f, 0x8b] {
        return Err(RecordingError::NotGzip);
    }
    let gz = flate2::read::GzDecoder::new(io::Cursor::new(magic).chain(input));
    let mut lines = Lines { input: BufReader::new(gz), text: String::new(), number: 0 };
    let mut events = Vec::new();

    if !lines.next(0)? {
        return Err(RecordingError::Truncated { events: 0 });
    }
    let header = read_header(&lines.text)?;
    loop {
        if !lines.next(events.len() as u64)? {
            return Err(RecordingError::Truncated { events: events.len() as u64 });
        }
        let line = lines.number;
        let bad = |e: serde_json::Error| RecordingError::BadLine { line, detail: e.to_string() };
        let value: serde_json::Value = serde_json::from_str(&lines.text).map_err(bad)?;
        if value.get("end").is_some() {
            let end: EndLine = serde_json::from_value(value).map_err(bad)?;
            let read = events.len() as u64;
            if end.end.events != read {
                return Err(RecordingError::CountMismatch { said: end.end.events, read });
            }
            break;
        }
        events.push(serde_json::from_value::<Event>(value).map_err(bad)?);
    }
    // Nothing may follow the end mark but the stream's own end (read to its end: a damaged
    // gzip trailer is a damaged file).
    if lines.next(events.len() as u64)? {
        return Err(RecordingError::AfterEnd { line: lines.number });
    }
    events.sort_by_key(|e| e.seq);
    Ok(Recording { header, events })
}

/// A recording's lines, numbered; a broken gzip stream is a file cut short.
struct Lines<R> {
    input: R,
    text: String,
    number: u64,
}

impl<R: BufRead> Lines<R> {
    /// Reads the next whole line into `text`: `Ok(false)` at the stream's end. `events` is how
    /// many events were read so far, for the error of a file that stops here.
    fn next(&mut self, events: u64) -> Result<bool, RecordingError> {
        self.text.clear();
        match self.input.read_line(&mut self.text) {
            Ok(0) => Ok(false),
            // A last line without its newline: the file stopped in the middle of it.
            Ok(_) if !self.text.ends_with('\n') => Err(RecordingError::Truncated { events }),
            Ok(_) => {
                self.number += 1;
                Ok(true)
            }
            // Not UTF-8 (the stream itself was read): the line is damaged, not cut.
            Err(e) if e.kind() == io::ErrorKind::InvalidData && !self.text.is_empty() => {
                Err(RecordingError::BadLine { line: self.number + 1, detail: e.to_string() })
            }
            Err(_) => Err(RecordingError::Truncated { events }),
        }
    }
}

/// The header line, its format and version checked before anything else is read.
fn read_header(text: &str) -> Result<RecordingHeader, RecordingError> {
    let not = |detail: String| RecordingError::NotARecording { detail };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| not(e.to_string()))?;
    match value.get("format").and_then(|f| f.as_str()) {
        Some(RECORDING_FORMAT) => {}
        Some(other) => return Err(not(format!("its format is `{other}`"))),
        None => return Err(not("it has no `format` field".into())),
    }
    let Some(version) = value.get("format_version").and_then(|v| v.as_u64()) else {
        return Err(not("it has no `format_version` number".into()));
    };
    let version = u32::try_from(version).unwrap_or(u32::MAX);
    let newest = *READABLE_FORMAT_VERSIONS.last().expect("at least one version");
    let oldest = READABLE_FORMAT_VERSIONS[0];
    if version > newest {
        return Err(RecordingError::NewerVersion { found: version, newest });
    }
    if !READABLE_FORMAT_VERSIONS.contains(&version) {
        return Err(RecordingError::OlderVersion { found: version, oldest });
    }
    serde_json::from_value(value).map_err(|e| not(e.to_string()))
}

/// Serialising lines of different types through one closure.
mod erased {
    use std::io::{self, Write};

    pub(super) trait Line {
        fn write_to(&self, out: &mut dyn Write) -> io::Result<()>;
    }

    impl<T: serde::Serialize> Line for T {
        fn write_to(&self, out: &mut dyn Write) -> io::Result<()> {
            serde_json::to_writer(out, self).map_err(io::Error::other)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, RecvOutcome, ThreadRef, MODELS};

    fn host() -> HostInfo {
        HostInfo {
            kettle_version: "0.1.0".into(),
            kernel: "Linux 6.1.0-test".into(),
            machine: "lab-3 (Test CPU, 2 CPUs)".into(),
        }
    }

    fn event(seq: u64, model: &str, kind: EventKind) -> Event {
        Event {
            seq,
            t_ns: seq * 1_000,
            model: model.into(),
            thread: ThreadRef { id: 1, name: model.into() },
            conn: Some(1),
            kind,
        }
    }

    fn sample() -> Recording {
        let models: Vec<ModelInfo> = MODELS
            .iter()
            .take(2)
            .map(|m| ModelInfo {
                id: m.id.into(),
                title: m.title.into(),
                title_zh: m.title_zh.into(),
                figure: m.figure.into(),
                family: Some(m.family()),
                port: Some(9000),
                ports: Vec::new(),
                command: None,
                state: crate::ModelState::Running,
                reason: None,
                passive: false,
            })
            .collect();
        let mut header = Recording::header(&host(), models, 1_765_000_000_000);
        header.compare = Some(Compared {
            text: "hi".into(),
            lanes: vec![
                ComparedLane { model: "blocking".into(), client: 1, conn: Some(1) },
                ComparedLane { model: "thread-per-conn".into(), client: 2, conn: None },
            ],
        });
        header.history_bound = 2_000;
        let events = vec![
            event(1, "blocking", EventKind::RecvEnter { fd: 5, len: 1024 }),
            event(2, "thread-per-conn", EventKind::AcceptEnter),
            event(
                3,
                "blocking",
                EventKind::RecvExit {
                    fd: 5,
                    outcome: RecvOutcome::Data { bytes: 3, preview: "hi\n".into() },
                    wait_ns: Some(700),
                    copy_ns: Some(300),
                },
            ),
        ];
        Recording { header, events }
    }

    /// The decompressed lines of a file, to look at or to damage.
    fn lines_of(bytes: &[u8]) -> Vec<String> {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut text).unwrap();
        text.lines().map(str::to_owned).collect()
    }

    fn gzip(lines: &[String]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for l in lines {
            gz.write_all(l.as_bytes()).unwrap();
            gz.write_all(b"\n").unwrap();
        }
        gz.finish().unwrap()
    }

    #[test]
    fn a_recording_reads_back_as_it_was_written() {
        let rec = sample();
        assert_eq!(decode(&encode(&rec)).unwrap(), rec);
    }

    #[test]
    fn the_file_is_a_header_then_events_grouped_by_model_then_the_end_mark() {
        let lines = lines_of(&encode(&sample()));
        assert_eq!(lines.len(), 5);
        assert!(lines[0].starts_with(r#"{"format":"kettle-recording","format_version":1,"#));
        // Events exactly as on the wire: the same JSON serde writes for a Batch.
        let first: Event = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(lines[1], serde_json::to_string(&first).unwrap());
        let models: Vec<String> =
            lines[1..4].iter().map(|l| serde_json::from_str::<Event>(l).unwrap().model).collect();
        assert_eq!(models, ["blocking", "blocking", "thread-per-conn"]);
        assert_eq!(lines[4], r#"{"end":{"events":3}}"#);
    }

    #[test]
    fn a_recording_cut_anywhere_is_refused_as_truncated() {
        let bytes = encode(&sample());
        for cut in [bytes.len() - 1, bytes.len() - 8, bytes.len() / 2, 12] {
            match decode(&bytes[..cut]) {
                Err(RecordingError::Truncated { .. }) => {}
                other => panic!("cut at {cut} of {}: {other:?}", bytes.len()),
            }
        }
    }

    #[test]
    fn a_recording_without_its_end_mark_is_refused_as_truncated() {
        let lines = lines_of(&encode(&sample()));
        let cut = gzip(&lines[..3]);
        assert_eq!(decode(&cut), Err(RecordingError::Truncated { events: 2 }));
        let msg = decode(&cut).unwrap_err().to_string();
        assert!(msg.contains("cut short") && msg.contains("after 2 events"), "{msg}");
    }

    #[test]
    fn a_newer_format_version_is_refused_naming_both_versions() {
        let mut lines = lines_of(&encode(&sample()));
        lines[0] = lines[0].replace(r#""format_version":1"#, r#""format_version":7"#);
        let err = decode(&gzip(&lines)).unwrap_err();
        assert_eq!(err, RecordingError::NewerVersion { found: 7, newest: 1 });
        assert!(err.to_string().contains("version 7, made by a newer Kettle"), "{err}");
    }

    #[test]
    fn an_older_format_version_no_longer_read_is_refused_naming_the_oldest_read() {
        let mut lines = lines_of(&encode(&sample()));
        lines[0] = lines[0].replace(r#""format_version":1"#, r#""format_version":0"#);
        let err = decode(&gzip(&lines)).unwrap_err();
        assert_eq!(err, RecordingError::OlderVersion { found: 0, oldest: 1 });
        assert!(err.to_string().contains("older than any this Kettle"), "{err}");
    }

    #[test]
    fn bytes_that_are_not_gzip_are_not_a_recording() {
        assert_eq!(decode(b"{\"format\":\"kettle-recording\"}\n"), Err(RecordingError::NotGzip));
        assert_eq!(decode(b""), Err(RecordingError::NotGzip));
    }

    #[test]
    fn a_gzip_file_of_something_else_is_not_a_recording() {
        let err = decode(&gzip(&[r#"{"traceEvents":[]}"#.into()])).unwrap_err();
        assert!(matches!(err, RecordingError::NotARecording { .. }), "{err:?}");
        let err = decode(&gzip(&["hello".into()])).unwrap_err();
        assert!(matches!(err, RecordingError::NotARecording { .. }), "{err:?}");
    }

    #[test]
    fn a_damaged_event_line_is_named_by_its_number() {
        let mut lines = lines_of(&encode(&sample()));
        lines[2] = r#"{"seq":2,"t_ns":"soon"}"#.into();
        match decode(&gzip(&lines)) {
            Err(RecordingError::BadLine { line: 3, detail }) => {
                assert!(detail.contains("t_ns") || detail.contains("string"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_end_mark_counting_other_events_is_refused() {
        let mut lines = lines_of(&encode(&sample()));
        lines.remove(2);
        assert_eq!(decode(&gzip(&lines)), Err(RecordingError::CountMismatch { said: 3, read: 2 }));
    }

    #[test]
    fn lines_after_the_end_mark_are_refused() {
        let mut lines = lines_of(&encode(&sample()));
        lines.push(lines[1].clone());
        assert_eq!(decode(&gzip(&lines)), Err(RecordingError::AfterEnd { line: 6 }));
    }

    #[test]
    fn host_info_reads_back() {
        let json = serde_json::to_string(&host()).unwrap();
        assert_eq!(serde_json::from_str::<HostInfo>(&json).unwrap(), host());
    }
}
