//! A line client as a Python course writes one (`tests/python_clients/line_client.py`: connect,
//! send a line, one `recv(1024)`, print it) is answered by every model with its line
//! upper-cased, in one piece, line after line on the same connection.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// Runs the line client against `port`, typing `lines`; returns its exit status's success and
/// what it printed.
fn run_line_client(port: u16, lines: &str) -> (bool, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python_clients/line_client.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 (Debian's python3 is on every machine here)");
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    // Closing its input ends the client: it closes the connection and exits.
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_send_then_one_recv_client_gets_each_line_upper_cased_from_every_model() {
    let ids: Vec<&str> = kettle_shared::MODELS.iter().map(|m| m.id).collect();
    let server = kettle(&ids).await;
    for id in &ids {
        let port = model_addr(&server, id).port();
        // The blank line is the client's to skip; the others go to the server one by one.
        let (ok, printed) =
            tokio::task::spawn_blocking(move || run_line_client(port, "hello\n\n kettle boils \n"))
                .await
                .unwrap();
        assert!(ok, "the client failed against {id}; it printed {printed:?}");
        assert_eq!(printed, "HELLO\nKETTLE BOILS\n", "against {id}");
    }
    server.shutdown().await.unwrap();
}
