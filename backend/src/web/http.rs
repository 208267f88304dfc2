//! The web front's own accept loop: every TCP connection served by hyper's HTTP/1 server, with
//! a deadline on its request headers.
//!
//! `axum::serve` waits forever for a request's headers, so a client that opens connections and
//! sends a byte now and then (slow loris) would keep a descriptor and a task per connection for
//! as long as it likes, until the process runs out of descriptors. Here each connection gets
//! [`Limits::header_timeout`](super::Limits::header_timeout) to send its headers — the
//! WebSocket handshake is such a request — and is closed when it does not; the others are
//! served meanwhile. A connection that upgraded to a WebSocket is the viewer's from then on.
//!
//! Out of descriptors (`EMFILE` for the process, `ENFILE` for the system) `accept` fails at
//! once and keeps failing: retrying at once would spin a core. The loop says so once on the
//! terminal and pauses [`ACCEPT_PAUSE`] before each new try; the pending connections wait in
//! the listen backlog, the open ones are served as usual.
//!
//! Shutdown: the listener closes, each connection finishes the request it is in, and the
//! viewers close their WebSockets with 1001 ("going away").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// How long the loop leaves `accept` alone after the process or system ran out of
/// descriptors (the models' own pause is as long: `models::accept_pause`).
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What the accept loop counts, for tests and for the report of a fault.
#[derive(Debug, Default)]
pub struct AcceptStats {
    /// `accept` calls that failed for want of descriptors.
    pub out_of_descriptors: AtomicU64,
    /// Connections accepted.
    pub accepted: AtomicU64,
}

/// Accepts and serves until `stop` fires (or its sender is dropped), then tells the viewers
/// (`going_away`) and waits for the connections to finish.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    header_timeout: Duration,
    stats: Arc<AcceptStats>,
    going_away: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    let mut connections = JoinSet::new();
    let mut said_out_of_descriptors = false;
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            // Reap finished connections so the set does not grow with every one served.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(e) if out_of_descriptors(&e) => {
                stats.out_of_descriptors.fetch_add(1, Ordering::Relaxed);
                if !said_out_of_descriptors {
                    said_out_of_descriptors = true;
                    eprintln!(
                        "kettle: the web server is out of descriptors ({e}); it accepts again \
                         every {} ms, new connections wait in the backlog",
                        ACCEPT_PAUSE.as_millis()
                    );
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
                continue;
            }
            // The peer gave up between the handshake and our accept (ECONNABORTED), and the
            // like: that connection only.
            Err(_) => continue,
        };
        said_out_of_descriptors = false;
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let conn = builder
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        let mut going = going_away.subscribe();
        connections.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                // A timed-out header read, a reset: that client's problem, not the server's.
                _ = conn.as_mut() => return,
                _ = going.wait_for(|gone| *gone) => {}
            }
            // Finish the request in progress, then close.
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = going_away.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// `accept` failed because descriptors (or the memory for one) ran out, not because of the
/// connection: retrying at once fails again.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM))
}
