//! The one HTTP/1.1 client of the tools and the integration tests: hyper's own (hyper-util's
//! legacy client over hyper 1), not a request written by hand, so a chunked reply, a
//! `Content-Length` or a reply split over many reads is read as HTTP says.
//!
//! What the callers need, and why it is set up so:
//!
//! - **Exactly the headers given.** The client adds no `Host` (`set_host(false)`): a test
//!   sends a foreign `Host`, or none, to see the server's guard refuse it; a tool gives the
//!   one the server checks (`host:port` of the address it dials).
//! - **A new connection for every request**, closed after the answer (`Connection: close`,
//!   no pool): each request meets the server as a new visitor does. `kettle soak` asks while
//!   the server's descriptor table is full, where a kept-alive connection would be answered
//!   anyway and hide the fault.
//! - **One deadline** over connecting, sending and reading the whole answer.
//! - [`send`] is async; [`send_blocking`] is for a thread that may block, inside a runtime
//!   (a `spawn_blocking` thread, a soak scenario's async code that waits anyway) or not.

use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::http::{HeaderMap, HeaderName, HeaderValue, Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A whole answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers, as sent.
    pub headers: HeaderMap,
    /// The body, as sent (a compressed file is not text); a chunked body already joined.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Header `name`'s value, if it was sent once as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body read as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        serde_json::from_slice(&self.body).context("not the JSON expected")
    }
}

/// `method path` to the server at `authority` (`host:port`, as dialled) with exactly
/// `headers` (plus `Connection: close`) and an empty body; fails if no whole answer came
/// within `timeout`.
pub async fn send(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let request = request(authority, method, path, headers)?;
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    connector.set_nodelay(true);
    let client = Client::builder(TokioExecutor::new())
        .set_host(false)
        .pool_max_idle_per_host(0)
        .build::<_, Empty<Bytes>>(connector);
    let exchange = async {
        let response = client.request(request).await?;
        let (head, body) = response.into_parts();
        let body = body.collect().await?.to_bytes().to_vec();
        anyhow::Ok(Answer { status: head.status.as_u16(), headers: head.headers, body })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("no whole answer from {authority} within {timeout:?}"))?
        .with_context(|| format!("{method} http://{authority}{path}"))
}

/// [`send`] for a thread that may block. The request runs on a current-thread runtime of its
/// own: on this thread when no runtime runs here, else on a helper thread (a runtime cannot
/// be entered from inside another), which this one waits for.
pub fn send_blocking(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> anyhow::Result<Answer> {
    let run = || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(send(authority, method, path, headers, timeout))
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return run();
    }
    std::thread::scope(|s| s.spawn(run).join())
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the HTTP request's thread panicked")))
}

fn request(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> anyhow::Result<Request<Empty<Bytes>>> {
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes())?)
        .uri(format!("http://{authority}{path}"))
        .body(Empty::new())?;
    let map = request.headers_mut();
    for (name, value) in headers {
        map.append(HeaderName::from_bytes(name.as_bytes())?, HeaderValue::from_str(value)?);
    }
    map.insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    Ok(request)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// A one-request server: answers `reply` (raw bytes) to the first connection and returns
    /// the request it read (up to the blank line).
    fn one_shot(reply: &'static [u8]) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the client closed before its request was whole");
                got.extend_from_slice(&buf[..n]);
            }
            // In pieces, as a real server's writes may arrive.
            for piece in reply.chunks(7) {
                s.write_all(piece).unwrap();
                s.flush().unwrap();
            }
            String::from_utf8(got).unwrap()
        });
        (authority, server)
    }

    #[test]
    fn a_chunked_reply_is_joined() {
        let (authority, server) = one_shot(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              5\r\n[1,2,\r\n3\r\n3,4\r\n1\r\n]\r\n0\r\n\r\n",
        );
        let answer =
            send_blocking(&authority, "GET", "/api/models", &[], Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "[1,2,3,4]");
        assert_eq!(answer.json::<Vec<u32>>().unwrap(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn only_the_headers_given_are_sent_and_no_host_is_added() {
        let (authority, server) =
            one_shot(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nX-Why: host\r\n\r\nno");
        let answer = send_blocking(
            &authority,
            "POST",
            "/api/models/blocking/start",
            &[("Origin", "http://evil.example")],
            Duration::from_secs(5),
        )
        .unwrap();
        let request = server.join().unwrap().to_ascii_lowercase();
        assert!(request.starts_with("post /api/models/blocking/start http/1.1\r\n"), "{request}");
        assert!(request.contains("origin: http://evil.example\r\n"), "{request}");
        assert!(request.contains("connection: close\r\n"), "{request}");
        assert!(!request.contains("host:"), "no Host unless given: {request}");
        assert_eq!((answer.status, answer.text()), (403, "no".to_owned()));
        assert_eq!(answer.header("x-why"), Some("host"));
    }

    #[tokio::test]
    async fn blocking_from_inside_a_runtime_and_async_both_work() {
        let (authority, server) = one_shot(b"HTTP/1.1 204 No Content\r\n\r\n");
        let answer = send_blocking(&authority, "GET", "/", &[], Duration::from_secs(5)).unwrap();
        server.join().unwrap();
        assert_eq!(answer.status, 204);
        let (authority, server) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        let answer = send(&authority, "GET", "/", &[], Duration::from_secs(5)).await.unwrap();
        tokio::task::spawn_blocking(move || server.join().unwrap()).await.unwrap();
        assert_eq!(answer.text(), "ok");
    }

    #[test]
    fn a_server_that_never_answers_is_a_timeout_not_a_hang() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let authority = listener.local_addr().unwrap().to_string();
        let started = std::time::Instant::now();
        let err = send_blocking(&authority, "GET", "/", &[], Duration::from_millis(300))
            .expect_err("no answer");
        assert!(started.elapsed() < Duration::from_secs(3), "{err:#}");
        assert!(format!("{err:#}").contains("no whole answer"), "{err:#}");
        drop(listener);
    }
}
