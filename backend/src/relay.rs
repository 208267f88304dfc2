//! The browser echo client's relay.
//!
//! A browser cannot open raw TCP connections, so the backend opens them on its behalf: one real
//! TCP connection to a model's port per echo client, lines relayed both ways. It only ever
//! connects to 127.0.0.1 and to a port the [`Registry`] says a running model listens on, so a
//! page cannot use Kettle to reach anything else.
//!
//! The relay records what the client side sees ([`EventKind::ClientConnected`] and friends)
//! under the target model, so a viewer watching that model sees both ends of the line. Note
//! that `connect` succeeding only means the kernel finished the handshake: with the blocking
//! model the connection can then wait in the listen backlog for a long time.
//!
//! Each echo client's connection is *followed* (see [`crate::recorder::spotlight`]): however
//! crowded the model, every step of it is sent in detail.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kettle_shared::{
    ErrorCode, EventKind, Reason, ServerMsg, MAX_ECHO_CLIENTS_PER_VIEWER, MAX_ECHO_TEXT_BYTES,
};
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::failure::io_errno;
use crate::recorder::{FollowedPeer, Recorder, Tracer};
use crate::registry::Registry;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A model that stops reading (the blocking model serving someone else) leaves our line in the
/// kernel's buffers; only a send that cannot even be buffered for this long is an error.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// A command failure: the protocol's code and what exactly failed.
pub type RelayError = (ErrorCode, Reason);

/// Echo client ids are unique across viewers, so events name one client unambiguously.
static NEXT_CLIENT: AtomicU32 = AtomicU32::new(1);

struct Client {
    writer: OwnedWriteHalf,
    reader: JoinHandle<()>,
    tracer: Tracer,
    /// The model's accept of this client is followed while the client is open.
    _followed: FollowedPeer,
}

/// The echo clients of one viewer. Dropping it closes them all.
pub struct EchoClients {
    clients: HashMap<u32, Client>,
    registry: Registry,
    recorder: Recorder,
    /// Where replies go: the viewer's outgoing queue.
    out: mpsc::Sender<ServerMsg>,
}

impl std::fmt::Debug for EchoClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoClients").field("open", &self.clients.len()).finish()
    }
}

impl EchoClients {
    /// No clients yet; replies will be queued on `out`.
    pub fn new(
        registry: Registry,
        recorder: Recorder,
        out: mpsc::Sender<ServerMsg>,
    ) -> EchoClients {
        EchoClients { clients: HashMap::new(), registry, recorder, out }
    }

    /// Connects a new client to a running model. Returns its id and local address.
    pub async fn open(&mut self, model: &str) -> Result<(u32, String), RelayError> {
        let descriptor = kettle_shared::model(model).ok_or_else(|| {
            (ErrorCode::UnknownModel, Reason::NoSuchModel { model: model.to_owned() })
        })?;
        if self.clients.len() >= MAX_ECHO_CLIENTS_PER_VIEWER {
            let limit = MAX_ECHO_CLIENTS_PER_VIEWER as u32;
            return Err((ErrorCode::Limit, Reason::TooManyClients { limit }));
        }
        let port = self.registry.running_port(model).ok_or_else(|| {
            (ErrorCode::NotRunning, Reason::NotRunning { model: model.to_owned() })
        })?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let connect_failed = |e: std::io::Error| {
            let (model, addr, errno) = (model.to_owned(), addr.to_string(), io_errno(&e));
            (ErrorCode::Io, Reason::ConnectFailed { model, addr, errno })
        };
        // Bound first, so the local address — the peer the model's accept will report — is
        // known before the connection exists: the recorder follows that connection from its
        // accept on, even when a thread is already asleep in `accept` and returns at once.
        let socket = TcpSocket::new_v4().map_err(connect_failed)?;
        socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).map_err(connect_failed)?;
        let local = socket.local_addr().map_err(connect_failed)?.to_string();
        let followed = self.recorder.follow_peer(descriptor.id, local.clone());
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let (model, addr, errno) = (model.to_owned(), addr.to_string(), io_errno(&e));
                return Err((ErrorCode::Io, Reason::ConnectFailed { model, addr, errno }));
            }
            Err(_) => {
                let (model, addr) = (model.to_owned(), addr.to_string());
                let after_ms = CONNECT_TIMEOUT.as_millis() as u64;
                return Err((ErrorCode::Io, Reason::ConnectTimedOut { model, addr, after_ms }));
            }
        };
        let _ = stream.set_nodelay(true);
        let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        let tracer = self.recorder.tracer(descriptor.id, format!("echo client {id}"));
        tracer.emit(
            None,
            EventKind::ClientConnected {
                client: id,
                target: model.to_owned(),
                local: local.clone(),
            },
        );
        let (read, writer) = stream.into_split();
        let reader = tokio::spawn(relay_replies(id, read, tracer.clone(), self.out.clone()));
        self.clients.insert(id, Client { writer, reader, tracer, _followed: followed });
        Ok((id, local))
    }

    /// Sends `text` through client `id`. Returns the bytes sent.
    pub async fn send(&mut self, id: u32, text: &str) -> Result<u32, RelayError> {
        if text.len() > MAX_ECHO_TEXT_BYTES {
            let limit = MAX_ECHO_TEXT_BYTES as u32;
            return Err((ErrorCode::Limit, Reason::LineTooLong { limit }));
        }
        let client = self.clients.get_mut(&id).ok_or_else(|| unknown_client(id))?;
        if client.reader.is_finished() {
            return Err((ErrorCode::Io, Reason::ClientAlreadyClosed { client: id }));
        }
        match tokio::time::timeout(SEND_TIMEOUT, client.writer.write_all(text.as_bytes())).await {
            Ok(Ok(())) => {
                let bytes = text.len() as u32;
                client.tracer.emit(None, EventKind::ClientSent { client: id, bytes });
                Ok(bytes)
            }
            Ok(Err(e)) => {
                Err((ErrorCode::Io, Reason::SendFailed { client: id, errno: io_errno(&e) }))
            }
            Err(_) => {
                let after_ms = SEND_TIMEOUT.as_millis() as u64;
                Err((ErrorCode::Io, Reason::SendTimedOut { client: id, after_ms }))
            }
        }
    }

    /// Closes client `id`.
    pub fn close(&mut self, id: u32) -> Result<(), RelayError> {
        let client = self.clients.remove(&id).ok_or_else(|| unknown_client(id))?;
        close_client(id, client, Reason::ClosedByPage);
        Ok(())
    }
}

impl Drop for EchoClients {
    fn drop(&mut self) {
        for (id, client) in self.clients.drain() {
            close_client(id, client, Reason::PageWentAway);
        }
    }
}

fn unknown_client(id: u32) -> RelayError {
    (ErrorCode::UnknownClient, Reason::NoSuchClient { client: id })
}

fn close_client(id: u32, client: Client, reason: Reason) {
    let finished = client.reader.is_finished();
    client.reader.abort();
    // The reader already recorded why it ended; otherwise record the page's reason.
    if !finished {
        client.tracer.emit(None, EventKind::ClientClosed { client: id, reason });
    }
    drop(client.writer);
}

/// Forwards what the model sends back to the viewer until the connection ends.
async fn relay_replies(
    id: u32,
    mut read: tokio::net::tcp::OwnedReadHalf,
    t: Tracer,
    out: mpsc::Sender<ServerMsg>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // A character can be split between two reads (a model echoing in 1024-byte pieces): its
    // first bytes wait here for the rest instead of becoming U+FFFD.
    let mut pending: Vec<u8> = Vec::new();
    let reason = loop {
        match read.read(&mut buf).await {
            Ok(0) => break Reason::ServerClosed,
            Ok(n) => {
                t.emit(None, EventKind::ClientReceived { client: id, bytes: n as u32 });
                pending.extend_from_slice(&buf[..n]);
                let text = take_text(&mut pending);
                if text.is_empty() {
                    continue;
                }
                // Waiting here when the viewer is slow pushes back on the TCP connection, as a
                // slow reader would: memory stays bounded.
                if out.send(ServerMsg::Echo { client: id, text }).await.is_err() {
                    break Reason::PageWentAway;
                }
            }
            Err(e) => break Reason::ConnectionError { errno: io_errno(&e) },
        }
    };
    t.emit(None, EventKind::ClientClosed { client: id, reason });
}

/// The text `bytes` holds, leaving in it only the start of a character whose other bytes have
/// not arrived yet (at most 3). Bytes that can never be UTF-8 become U+FFFD, as
/// `from_utf8_lossy` does.
pub fn take_text(bytes: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(bytes) {
        Ok(_) => 0,
        // `error_len() == None`: the bytes end inside a character that may still be completed.
        Err(e) if e.error_len().is_none() => bytes.len() - e.valid_up_to(),
        Err(_) => {
            // Invalid somewhere; keep only an incomplete tail, if the very end is one.
            let tail_start = (bytes.len().saturating_sub(3)..bytes.len())
                .find(|&i| {
                    std::str::from_utf8(&bytes[i..])
                        .is_err_and(|e| e.valid_up_to() == 0 && e.error_len().is_none())
                })
                .unwrap_or(bytes.len());
            bytes.len() - tail_start
        }
    };
    let tail = bytes.split_off(bytes.len() - keep);
    let text = String::from_utf8_lossy(bytes).into_owned();
    *bytes = tail;
    text
}

#[cfg(test)]
mod tests {
    use super::take_text;

    #[test]
    fn a_character_split_between_reads_arrives_whole() {
        let line = "水壶 whistles\n".as_bytes();
        let mut pending = line[..1].to_vec();
        assert_eq!(take_text(&mut pending), "");
        pending.extend_from_slice(&line[1..4]);
        assert_eq!(take_text(&mut pending), "水");
        pending.extend_from_slice(&line[4..]);
        assert_eq!(take_text(&mut pending), "壶 whistles\n");
        assert!(pending.is_empty());
    }

    #[test]
    fn bytes_that_are_never_utf8_become_replacement_characters() {
        let mut pending = vec![b'a', 0xff, b'b', 0xe6, 0xb0];
        assert_eq!(take_text(&mut pending), "a\u{fffd}b");
        assert_eq!(pending, vec![0xe6, 0xb0]);
    }
}
