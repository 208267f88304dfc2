//! The page's echo clients: opened through the relay, accepted (or queued) by their server as
//! its events say, their replies, and closed.

use super::*;

/// Why an echo client's connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// The relay reported `client_closed` with this reason.
    Relay(Reason),
    /// This page asked for it.
    ByYou,
    /// The page's WebSocket to Kettle was lost, which ends every relay of this viewer.
    ConnectionLost,
}

/// One browser echo client (relayed by the backend to a model's TCP port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoClient {
    /// The backend's client id.
    pub id: u32,
    /// The model it is connected to.
    pub model: String,
    /// The relay's local address: the server sees it as the peer.
    pub local: String,
    /// The model's server returned from `accept` with this client as the peer (an
    /// `accept_exit`, or an io_uring accept completion), naming this connection.
    pub accepted: Option<u64>,
    /// The connection waits in the thread pool's queue (accepted, no worker yet).
    pub queued: bool,
    /// Set once the connection ended.
    pub closed: Option<ClosedReason>,
    /// Echoed text, one entry per `echo` message, as received.
    pub replies: Vec<String>,
}

/// What an echo client's status line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus<'a> {
    /// Connected by the kernel, but the server has not called `accept` for it.
    WaitingInBacklog,
    /// Accepted, but waiting in the thread pool's queue for a free worker.
    Queued,
    /// The server accepted it.
    Accepted,
    /// The connection ended.
    Closed(&'a ClosedReason),
}

impl EchoClient {
    /// The status line's meaning.
    pub fn status(&self) -> ClientStatus<'_> {
        match (&self.closed, self.accepted, self.queued) {
            (Some(reason), _, _) => ClientStatus::Closed(reason),
            (None, Some(_), true) => ClientStatus::Queued,
            (None, Some(_), false) => ClientStatus::Accepted,
            (None, None, _) => ClientStatus::WaitingInBacklog,
        }
    }
}

/// `[::ffff:127.0.0.1]:5000` and `127.0.0.1:5000` are the same peer: the relay and the
/// server may print an IPv4 peer in either form.
pub fn canonical_addr(addr: &str) -> String {
    if let Some((ip, port)) = addr.strip_prefix("[::ffff:").and_then(|r| r.split_once("]:")) {
        return format!("{ip}:{port}");
    }
    addr.to_owned()
}

fn same_addr(a: &str, b: &str) -> bool {
    canonical_addr(a) == canonical_addr(b)
}

impl State {
    /// The echo clients that are open and accepted by their server (the comparison sends only
    /// through those).
    pub(super) fn accepted_clients(&self) -> Vec<u32> {
        self.clients
            .iter()
            .filter(|c| c.closed.is_none() && c.accepted.is_some())
            .map(|c| c.id)
            .collect()
    }

    pub(super) fn accepted_conn(&self, model: &str, local: &str) -> Option<u64> {
        self.accepted_peers
            .iter()
            .rev()
            .find(|(m, p, _)| m == model && same_addr(p, local))
            .map(|(_, _, conn)| *conn)
    }

    pub(super) fn on_accepted(&mut self, model: &str, peer: &str, conn: u64) {
        if self.accepted_peers.len() == MAX_ACCEPTED_PEERS {
            self.accepted_peers.pop_front();
        }
        self.accepted_peers.push_back((model.to_owned(), peer.to_owned(), conn));
        for c in &mut self.clients {
            if c.model == model && same_addr(&c.local, peer) {
                c.accepted = Some(conn);
            }
        }
        let accepted = self.accepted_clients();
        let sends = self.compare.accepted(&|id| accepted.contains(&id));
        self.send_later(sends);
    }

    pub(super) fn set_queued(&mut self, model: &str, conn: u64, queued: bool) {
        self.queued_conns.retain(|(m, c)| !(m == model && *c == conn));
        if queued {
            if self.queued_conns.len() == MAX_ACCEPTED_PEERS {
                self.queued_conns.remove(0);
            }
            self.queued_conns.push((model.to_owned(), conn));
        }
        for c in &mut self.clients {
            if c.model == model && c.accepted == Some(conn) {
                c.queued = queued;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn test_echo_client_waits_in_backlog_until_accepted() {
        let s = reduce(
            Rc::default(),
            [hello(1), opened(1, "127.0.0.1:40001"), opened(2, "127.0.0.1:40002")],
        );
        assert_eq!(s.clients[0].status(), ClientStatus::WaitingInBacklog);
        let s = s.reduce(batch(vec![accept_exit(1, "127.0.0.1:40001")], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
        assert_eq!(
            s.clients[1].status(),
            ClientStatus::WaitingInBacklog,
            "second client still queued"
        );
        let closed = EventKind::ClientClosed { client: 1, reason: Reason::ServerClosed };
        let s = s.reduce(batch(vec![ev(2, 2_000, "client", closed)], 0));
        assert_eq!(
            s.clients[0].status(),
            ClientStatus::Closed(&ClosedReason::Relay(Reason::ServerClosed))
        );
    }

    #[test]
    fn test_accept_seen_before_the_reply_still_counts() {
        let s = reduce(
            Rc::default(),
            [
                hello(1),
                batch(vec![accept_exit(1, "[::ffff:127.0.0.1]:40001")], 0),
                opened(1, "127.0.0.1:40001"),
            ],
        );
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
    }

    #[test]
    fn test_echo_replies_and_close() {
        let s = reduce(Rc::default(), [hello(1), opened(4, "127.0.0.1:1")]);
        let s = s.reduce(Action::Server(ServerMsg::Echo { client: 4, text: "HELLO\n".into() }));
        assert_eq!(s.clients[0].replies, vec!["HELLO\n".to_string()]);
        let s = s.reduce(Action::RemoveClient(4));
        assert_eq!(s.clients.len(), 1, "an open client is not removed");
        let s = s.reduce(Action::Server(ServerMsg::Reply {
            id: 1,
            result: ReplyResult::EchoClosed { client: 4 },
        }));
        assert_eq!(s.clients[0].closed, Some(ClosedReason::ByYou));
        let s = s.reduce(Action::RemoveClient(4));
        assert!(s.clients.is_empty());
    }

    #[test]
    fn test_echo_closed_by_the_server_is_marked_closed_and_can_be_removed() {
        // Not subscribed to its model: no `client_closed` event comes, only the relay's word.
        let s = reduce(Rc::default(), [hello(1), opened(4, "127.0.0.1:1")]);
        let s = s.reduce(Action::Server(ServerMsg::EchoClosed {
            client: 4,
            reason: Reason::ServerClosed,
        }));
        assert_eq!(
            s.clients[0].status(),
            ClientStatus::Closed(&ClosedReason::Relay(Reason::ServerClosed))
        );
        let s = s.reduce(Action::RemoveClient(4));
        assert!(s.clients.is_empty());
    }

    #[test]
    fn test_io_uring_accept_completion_marks_its_client_accepted() {
        let s = reduce(Rc::default(), [hello(1), opened(1, "127.0.0.1:40001")]);
        let done = EventKind::Complete {
            op: AsyncOp::Accept,
            fd: 3,
            result: 9,
            peer: Some("127.0.0.1:40001".into()),
            more: true,
        };
        let s = s.reduce(batch(vec![ev(1, 1, "blocking", done)], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
        assert_eq!(s.clients[0].accepted, Some(1));
    }

    #[test]
    fn test_pool_client_is_queued_until_a_worker_takes_it() {
        let s = reduce(Rc::default(), [hello(1), opened(1, "127.0.0.1:40001")]);
        let s = s.reduce(batch(
            vec![
                accept_exit(1, "127.0.0.1:40001"),
                ev(2, 2, "blocking", EventKind::ConnQueued { fd: 5, depth: 1, capacity: 8 }),
            ],
            0,
        ));
        assert_eq!(s.clients[0].status(), ClientStatus::Queued);
        let done = EventKind::ConnDequeued { fd: 5, waited_ns: 1, depth: 0 };
        let s = s.reduce(batch(vec![ev(3, 3, "blocking", done)], 0));
        assert_eq!(s.clients[0].status(), ClientStatus::Accepted);
    }

    #[test]
    fn test_addresses_match_across_v4_mapped_form() {
        assert_eq!(canonical_addr("[::ffff:127.0.0.1]:5"), "127.0.0.1:5");
        assert!(same_addr("[::ffff:127.0.0.1]:5", "127.0.0.1:5"));
        assert!(!same_addr("127.0.0.1:5", "127.0.0.1:6"));
    }
}
