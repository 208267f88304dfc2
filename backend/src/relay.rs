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
//! Nothing here runs in the viewer's loop: an open connects in a task of its own, each client
//! has one writer task (its sends go out in order, each answered when the kernel took it) and
//! one reader task, and every answer reaches the page through the viewer's queue. A connect
//! stuck behind a full listen backlog, or a send to a server that stopped reading, delays that
//! command's answer only.
//!
//! A client whose server closed the connection (or whose connection failed) is forgotten at
//! once: its slot is free again, and the page is told with [`ServerMsg::EchoClosed`]. Echo
//! clients are counted per viewer and over every viewer ([`crate::Limits`]).
//!
//! Each echo client's connection is *followed* (see [`crate::recorder::spotlight`]): however
//! crowded the model, every step of it is sent in detail.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kettle_shared::{
    ErrorCode, EventKind, Reason, ReplyResult, ServerMsg, ThreadRole, MAX_ECHO_TEXT_BYTES,
    TRACED_MODEL,
};
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::failure::io_errno;
use crate::recorder::{FollowedPeer, Recorder, Tracer};
use crate::registry::Registry;
use crate::trace::arrival::{last_send_stamp, stamp_sends, StampedClient};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A model that stops reading (the blocking model serving someone else) leaves our line in the
/// kernel's buffers; only a send that cannot even be buffered for this long is an error.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Ids of clients the relay ended on its own, remembered so that a send or close the page
/// made before it heard gets "already closed" rather than "no such client".
const REMEMBER_CLOSED: usize = 64;

/// A command failure: the protocol's code and what exactly failed.
pub type RelayError = (ErrorCode, Reason);

/// Echo client ids are unique across viewers, so events name one client unambiguously.
static NEXT_CLIENT: AtomicU32 = AtomicU32::new(1);

/// How many echo clients one viewer, and all viewers together, may have.
#[derive(Debug, Clone)]
pub struct EchoSlots {
    /// This viewer's: [`crate::Limits::echo_clients_per_viewer`] permits.
    pub per_viewer: Arc<Semaphore>,
    /// Its size, for the refusal.
    pub per_viewer_max: usize,
    /// Every viewer's: [`crate::Limits::echo_clients_total`] permits, shared.
    pub total: Arc<Semaphore>,
    /// Its size, for the refusal.
    pub total_max: usize,
}

/// One line to send, with the command that asked for it.
struct Write {
    reply: u64,
    text: String,
    /// The viewer's in-flight slot, given back once the send is answered.
    _in_flight: OwnedSemaphorePermit,
}

struct Client {
    writes: mpsc::UnboundedSender<Write>,
    reader: JoinHandle<()>,
    writer: JoinHandle<()>,
    tracer: Tracer,
    /// The model's accept of this client is followed while the client is open.
    _followed: FollowedPeer,
    /// Its place among this viewer's clients and among all the server's.
    _slots: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

#[derive(Default)]
struct Open {
    clients: HashMap<u32, Client>,
    /// Ended by the relay (newest last), at most [`REMEMBER_CLOSED`].
    closed: VecDeque<u32>,
    /// The viewer went away: an open finishing now closes its connection at once.
    gone: bool,
}

struct Shared {
    open: Mutex<Open>,
    registry: Registry,
    recorder: Recorder,
    slots: EchoSlots,
    /// Where replies go: the viewer's outgoing queue.
    out: mpsc::Sender<ServerMsg>,
}

impl Shared {
    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The echo clients of one viewer. Dropping it closes them all.
pub struct EchoClients {
    shared: Arc<Shared>,
}

/// A handle on a viewer's echo clients for the tasks that open them.
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EchoClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoClients").field("open", &self.shared.open().clients.len()).finish()
    }
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

impl EchoClients {
    /// No clients yet; replies and echoes will be queued on `out`.
    pub fn new(
        registry: Registry,
        recorder: Recorder,
        slots: EchoSlots,
        out: mpsc::Sender<ServerMsg>,
    ) -> EchoClients {
        let open = Mutex::new(Open::default());
        EchoClients { shared: Arc::new(Shared { open, registry, recorder, slots, out }) }
    }

    /// The handle an open runs with, off the viewer's loop.
    pub fn relay(&self) -> Relay {
        Relay { shared: self.shared.clone() }
    }

    /// Queues `text` on client `id`'s writer; the writer answers command `reply` once the
    /// kernel took the line (or it could not). Refused at once: a line too long, a client that
    /// does not exist or has ended.
    pub fn send(
        &self,
        reply: u64,
        id: u32,
        text: String,
        in_flight: OwnedSemaphorePermit,
    ) -> Result<(), RelayError> {
        if text.len() > MAX_ECHO_TEXT_BYTES {
            let limit = MAX_ECHO_TEXT_BYTES as u32;
            return Err((ErrorCode::Limit, Reason::LineTooLong { limit }));
        }
        let open = self.shared.open();
        let Some(client) = open.clients.get(&id) else {
            return Err(if open.closed.contains(&id) {
                (ErrorCode::Io, Reason::ClientAlreadyClosed { client: id })
            } else {
                unknown_client(id)
            });
        };
        client
            .writes
            .send(Write { reply, text, _in_flight: in_flight })
            .map_err(|_| (ErrorCode::Io, Reason::ClientAlreadyClosed { client: id }))
    }

    /// Closes client `id`. A client the relay already ended is closed: nothing to do.
    pub fn close(&self, id: u32) -> Result<(), RelayError> {
        let mut open = self.shared.open();
        match open.clients.remove(&id) {
            Some(client) => {
                drop(open);
                close_client(id, client, Reason::ClosedByPage);
                Ok(())
            }
            None if open.closed.contains(&id) => Ok(()),
            None => Err(unknown_client(id)),
        }
    }
}

impl Drop for EchoClients {
    fn drop(&mut self) {
        let clients: Vec<(u32, Client)> = {
            let mut open = self.shared.open();
            open.gone = true;
            open.clients.drain().collect()
        };
        for (id, client) in clients {
            close_client(id, client, Reason::PageWentAway);
        }
    }
}

impl Relay {
    /// Connects a new client to a running model and answers command `reply` with its id and
    /// local address (before any of its echoes or its end can reach the page).
    /// `port` picks one of the model's listening ports (a traced program's), the first if
    /// `None`.
    pub async fn open(self, reply: u64, model: String, port: Option<u16>) {
        let msg = match self.connect(reply, &model, port).await {
            Ok(()) => return,
            Err((code, reason)) => ServerMsg::Error { id: Some(reply), code, reason },
        };
        let _ = self.shared.out.send(msg).await;
    }

    async fn connect(&self, reply: u64, model: &str, port: Option<u16>) -> Result<(), RelayError> {
        let shared = &self.shared;
        let model_id = shared.registry.known(model).ok_or_else(|| {
            (ErrorCode::UnknownModel, Reason::NoSuchModel { model: model.to_owned() })
        })?;
        let mine = shared.slots.per_viewer.clone().try_acquire_owned().map_err(|_| {
            let limit = shared.slots.per_viewer_max as u32;
            (ErrorCode::Limit, Reason::TooManyClients { limit })
        })?;
        let first = shared.registry.running_port(model).ok_or_else(|| {
            (ErrorCode::NotRunning, Reason::NotRunning { model: model.to_owned() })
        })?;
        let port = match port {
            None => first,
            Some(p) if shared.registry.listening_ports(model).contains(&p) => p,
            // Only the model's own ports: the relay connects nowhere else on a page's word.
            Some(p) => {
                let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, p)).to_string();
                return Err((ErrorCode::Limit, Reason::NotAModelPort { addr }));
            }
        };
        let everyone = shared.slots.total.clone().try_acquire_owned().map_err(|_| {
            let max = shared.slots.total_max as u32;
            (ErrorCode::Limit, Reason::TooManyRelayedConnections { max })
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
        let followed = shared.recorder.follow_peer(model_id, local.clone());
        // A traced program's sockets cannot be asked for receive stamps: the client's own
        // transmit stamps tell when each line arrived (loopback), or nothing if refused.
        let stamped = match shared.registry.traced() {
            Some(traced) if model_id == TRACED_MODEL => stamp_sends(socket.as_raw_fd())
                .ok()
                .map(|()| traced.arrivals().stamped_client(&local)),
            _ => None,
        };
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, socket.connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(connect_failed(e)),
            Err(_) => {
                let (model, addr) = (model.to_owned(), addr.to_string());
                let after_ms = CONNECT_TIMEOUT.as_millis() as u64;
                return Err((ErrorCode::Io, Reason::ConnectTimedOut { model, addr, after_ms }));
            }
        };
        let _ = stream.set_nodelay(true);
        let id = NEXT_CLIENT.fetch_add(1, Ordering::Relaxed);
        let tracer = shared.recorder.tracer(model_id, ThreadRole::EchoClient(id));
        tracer.emit(
            None,
            EventKind::ClientConnected {
                client: id,
                target: model.to_owned(),
                local: local.clone(),
            },
        );
        let (read, write) = stream.into_split();
        // The answer must reach the page before any echo or end of this client, and the
        // client must exist before the page can send through it: inserted first, answered,
        // and only then is its reader let go (the kernel keeps what arrives meanwhile).
        let (go, wait_for_answer) = tokio::sync::oneshot::channel::<()>();
        {
            let mut open = shared.open();
            if open.gone {
                drop(open);
                let reason = Reason::PageWentAway;
                tracer.emit(None, EventKind::ClientClosed { client: id, reason });
                return Ok(());
            }
            let (writes, queue) = mpsc::unbounded_channel();
            let out = shared.out.clone();
            let writer = tokio::spawn(write_lines(id, write, queue, tracer.clone(), out, stamped));
            let reader = tokio::spawn(relay_replies(
                id,
                read,
                tracer.clone(),
                self.clone(),
                wait_for_answer,
            ));
            let slots = (mine, everyone);
            let client =
                Client { writes, reader, writer, tracer, _followed: followed, _slots: slots };
            open.clients.insert(id, client);
        }
        let opened = ReplyResult::EchoOpened { client: id, model: model.to_owned(), local };
        // A page gone meanwhile drops its `EchoClients`, which closes this client.
        let _ = shared.out.send(ServerMsg::Reply { id: reply, result: opened }).await;
        let _ = go.send(());
        Ok(())
    }

    /// The connection of client `id` ended on the server's side (or failed): forget it, free
    /// its slots, record why and tell the page. Nothing to do if the page closed it first.
    async fn forget(&self, id: u32, reason: Reason) {
        let client = {
            let mut open = self.shared.open();
            let client = open.clients.remove(&id);
            if client.is_some() {
                if open.closed.len() == REMEMBER_CLOSED {
                    open.closed.pop_front();
                }
                open.closed.push_back(id);
            }
            client
        };
        let Some(client) = client else { return };
        client.writer.abort();
        client.tracer.emit(None, EventKind::ClientClosed { client: id, reason: reason.clone() });
        drop(client);
        let _ = self.shared.out.send(ServerMsg::EchoClosed { client: id, reason }).await;
    }
}

fn unknown_client(id: u32) -> RelayError {
    (ErrorCode::UnknownClient, Reason::NoSuchClient { client: id })
}

/// Ends a client the page (or the page's going away) closed.
fn close_client(id: u32, client: Client, reason: Reason) {
    client.reader.abort();
    client.writer.abort();
    client.tracer.emit(None, EventKind::ClientClosed { client: id, reason });
}

/// Sends the page's lines in order, answering each command once the kernel took its line.
async fn write_lines(
    id: u32,
    mut write: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Write>,
    t: Tracer,
    out: mpsc::Sender<ServerMsg>,
    stamped: Option<StampedClient>,
) {
    while let Some(line) = queue.recv().await {
        let sent = tokio::time::timeout(SEND_TIMEOUT, write.write_all(line.text.as_bytes())).await;
        let msg = match sent {
            Ok(Ok(())) => {
                // On loopback the kernel stamped the send before `send` returned.
                if let Some(stamped) = &stamped {
                    if let Some(t_ns) = last_send_stamp(write.as_ref().as_raw_fd()) {
                        stamped.sent(t_ns);
                    }
                }
                let bytes = line.text.len() as u32;
                t.emit(None, EventKind::ClientSent { client: id, bytes });
                ServerMsg::Reply {
                    id: line.reply,
                    result: ReplyResult::EchoSent { client: id, bytes },
                }
            }
            Ok(Err(e)) => {
                let reason = Reason::SendFailed { client: id, errno: io_errno(&e) };
                ServerMsg::Error { id: Some(line.reply), code: ErrorCode::Io, reason }
            }
            Err(_) => {
                let after_ms = SEND_TIMEOUT.as_millis() as u64;
                let reason = Reason::SendTimedOut { client: id, after_ms };
                ServerMsg::Error { id: Some(line.reply), code: ErrorCode::Io, reason }
            }
        };
        if out.send(msg).await.is_err() {
            return;
        }
    }
}

/// Forwards what the model sends back to the viewer until the connection ends, then forgets
/// the client.
async fn relay_replies(
    id: u32,
    mut read: OwnedReadHalf,
    t: Tracer,
    relay: Relay,
    answered: tokio::sync::oneshot::Receiver<()>,
) {
    let _ = answered.await;
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
                if relay.shared.out.send(ServerMsg::Echo { client: id, text }).await.is_err() {
                    break Reason::PageWentAway;
                }
            }
            Err(e) => break Reason::ConnectionError { errno: io_errno(&e) },
        }
    };
    relay.forget(id, reason).await;
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
