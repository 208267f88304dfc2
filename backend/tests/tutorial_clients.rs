//! The tutorial's own Python clients (`tests/tutorial/*.py`, the code of the tutorial with its
//! flattened indentation restored and nothing else changed but the port) work against every
//! model: each types lines at `input()`, sends them, and prints the upper-cased reply.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// (file, the port written in it).
const CLIENTS: &[(&str, &str)] = &[
    ("client_blocking.py", "8080"),
    ("client_nonblocking.py", "8080"),
    ("client_select.py", "8081"),
    ("client_selectors.py", "8088"),
];

/// Runs one tutorial client against `port`, typing `lines`; returns what it printed.
fn run_client(file: &str, written_port: &str, port: u16, lines: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tutorial").join(file);
    let source = std::fs::read_to_string(&path).unwrap();
    let source =
        source.replace(&format!("'127.0.0.1',{written_port})"), &format!("'127.0.0.1',{port})"));
    let mut child = Command::new("python3")
        .args(["-c", &source])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (Debian's python3 is on every machine here)");
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    // At the end of its input the client's input() raises EOFError: that ends it, by design of
    // the tutorial's endless loop.
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tutorial_client_works_against_every_model() {
    let ids: Vec<&str> = kettle_shared::MODELS.iter().map(|m| m.id).collect();
    let server = kettle(&ids).await;
    for id in &ids {
        let port = model_addr(&server, id).port();
        for (file, written_port) in CLIENTS {
            let printed = tokio::task::spawn_blocking(move || {
                run_client(file, written_port, port, "hello\nkettle boils\n")
            })
            .await
            .unwrap();
            assert!(
                printed.contains("HELLO") && printed.contains("KETTLE BOILS"),
                "{file} against {id} printed {printed:?}"
            );
        }
    }
    server.shutdown().await.unwrap();
}
