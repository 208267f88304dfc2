//! Detail only where a person looks: which events of a crowded model are sent step by step.
//!
//! A quiet model is sent whole. A crowded one (over
//! [`DETAIL_BUDGET_PER_S`](kettle_shared::DETAIL_BUDGET_PER_S) events a second in the last
//! interval) is only counted ([`super::aggregate`]), except for
//!
//! - its thread and lifecycle events (listen, stopped, a thread spawned or exited, samples,
//!   refusals, the echo client's own steps…): few, and the figure's frame;
//! - the connections somebody *follows* ([`Follow`]): every browser echo client's connection
//!   (the relay registers its local address before it connects, and the accept that reports
//!   that peer marks the connection followed — no race with a thread already sleeping in
//!   `accept`), and the connections a viewer spotlit ([`kettle_shared::Command::Spotlight`]:
//!   the next ones that make a call; a closed one is replaced).
//!
//! Some calls belong to no connection until they return: a readiness wait, an `accept`, an
//! `io_uring_enter`. The thread *holds* such an opening step ([`Held`]) and sends it, with its
//! own time stamp, only when what follows shows it concerned a followed connection: the wait's
//! return lists a followed descriptor, the accept returns a followed peer, a completion reaped
//! after the ring call is a followed connection's (the `ring_enter`/`ring_exit` pair goes
//! first). Otherwise it is let go — it was counted already.
//!
//! Checking "is this connection followed" happens on every event of a crowded model, so the
//! followed set is a small fixed array of atomics read without a lock; only changing it
//! (following, unfollowing, a peer to watch for) takes the lock.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use kettle_shared::{AsyncOp, EventKind};

/// The most connections of one model followed at once (every viewer's echo clients and
/// spotlit connections together). Beyond it a connection is simply not followed: counted, not
/// sent.
pub const FOLLOW_SLOTS: usize = 64;

/// Why a connection is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// Its peer is a browser echo client's socket.
    Peer,
    /// A viewer asked to follow a sample of the model's connections.
    Spotlight,
}

/// The connections of one model that are followed, readable without a lock.
#[derive(Debug)]
pub(crate) struct Follow {
    /// One past the highest slot ever used: scans stop there.
    high: AtomicUsize,
    /// Connection id per slot; 0 = free.
    conns: [AtomicU64; FOLLOW_SLOTS],
    /// The connection's descriptor once known; -1 = not yet.
    fds: [AtomicI32; FOLLOW_SLOTS],
    /// Spotlight places open: the next connection that makes a call takes one.
    open: AtomicU32,
    /// Peers registered by echo clients (a quick "none" for every accept).
    peers_len: AtomicU32,
    book: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    why: Vec<Option<Why>>,
    peers: Vec<String>,
    /// Connections viewers asked to follow (the most any viewer asked for).
    sample: u32,
    /// Followed now for the spotlight.
    spotlit: u32,
}

/// A few steps a thread holds until it knows whether they belong to a followed connection.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub records: Vec<super::Record>,
}

/// The most steps held per thread (a ring call and its return, work done before a signal).
const HELD_MAX: usize = 4;

/// What to do with an event of a crowded model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Send it, after whatever the thread holds (that was the opening of its story).
    Send,
    /// Send it, then forget the connection (it was closed).
    SendAndUnfollow(u64),
    /// Hold it, dropping what was held before (a new call opens).
    HoldAfresh,
    /// Hold it after what is held (the same story goes on).
    HoldMore,
    /// Do not send it; forget what was held when `clear`.
    Skip { clear: bool },
}

/// Events that are always sent in detail: a thread's life and the model's, the echo client's
/// own steps, periodic reports. Few, whatever the load, and what a figure is drawn on.
pub(crate) fn always_sent(kind: &EventKind) -> bool {
    use EventKind as K;
    match kind {
        K::Listen { .. }
        | K::Stopped { .. }
        | K::Recognised { .. }
        | K::ThreadSpawned
        | K::ThreadExited
        | K::ThreadBlocked { .. }
        | K::ThreadWoken { .. }
        | K::Backlog { .. }
        | K::Refused { .. }
        | K::SignalHandler { .. }
        | K::SeenInSyscall { .. }
        | K::WouldBlockBurst { .. }
        | K::ThreadSample { .. }
        | K::ClientConnected { .. }
        | K::ClientSent { .. }
        | K::ClientReceived { .. }
        | K::ClientClosed { .. }
        | K::ThreadStack { .. } => true,
        // The steps of a connection's story: decided by who follows what.
        K::AcceptEnter
        | K::AcceptExit { .. }
        | K::RecvEnter { .. }
        | K::DataArrived { .. }
        | K::RecvExit { .. }
        | K::SendEnter { .. }
        | K::SendExit { .. }
        | K::Close { .. }
        | K::WaitEnter { .. }
        | K::WaitReturned { .. }
        | K::SignalDelivered { .. }
        | K::Submit { .. }
        | K::Complete { .. }
        | K::RingEnter { .. }
        | K::RingExit { .. }
        | K::ConnQueued { .. }
        | K::ConnDequeued { .. }
        | K::ChildSpawned { .. }
        | K::ChildReaped { .. }
        | K::WorkDone { .. }
        | K::EpollCtl { .. }
        | K::Register { .. }
        | K::Unregister { .. }
        | K::Callback { .. } => false,
    }
}

/// The descriptor of the connection an event is about, when it names one.
fn fd_of(kind: &EventKind) -> Option<i32> {
    use EventKind as K;
    match kind {
        K::AcceptExit { fd, .. } => *fd,
        // An accept's completion names the listener; the new connection is its result.
        K::Complete { op: AsyncOp::Accept, result, .. } => (*result >= 0).then_some(*result as i32),
        K::RecvEnter { fd, .. }
        | K::DataArrived { fd, .. }
        | K::RecvExit { fd, .. }
        | K::SendEnter { fd, .. }
        | K::SendExit { fd, .. }
        | K::Close { fd, .. }
        | K::Submit { fd, .. }
        | K::Complete { fd, .. }
        | K::ConnQueued { fd, .. }
        | K::ConnDequeued { fd, .. }
        | K::ChildSpawned { fd, .. }
        | K::EpollCtl { fd, .. }
        | K::Register { fd, .. }
        | K::Unregister { fd }
        | K::Callback { fd, .. } => Some(*fd),
        K::SignalDelivered { fd, .. } => *fd,
        _ => None,
    }
}

/// The peer an accept reports, if the event is a successful accept.
fn accepted_peer(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::AcceptExit { peer: Some(p), .. } => Some(p),
        EventKind::Complete { op: AsyncOp::Accept, peer: Some(p), .. } => Some(p),
        _ => None,
    }
}

impl Default for Follow {
    fn default() -> Follow {
        Follow {
            high: AtomicUsize::new(0),
            conns: std::array::from_fn(|_| AtomicU64::new(0)),
            fds: std::array::from_fn(|_| AtomicI32::new(-1)),
            open: AtomicU32::new(0),
            peers_len: AtomicU32::new(0),
            book: Mutex::new(Book { why: vec![None; FOLLOW_SLOTS], ..Book::default() }),
        }
    }
}

impl Follow {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The slot following `conn`, if any.
    fn slot_of(&self, conn: u64) -> Option<usize> {
        let high = self.high.load(Ordering::Acquire);
        (0..high).find(|&i| self.conns[i].load(Ordering::Relaxed) == conn)
    }

    /// True if `fd` is a followed connection's descriptor.
    fn follows_fd(&self, fd: i32) -> bool {
        let high = self.high.load(Ordering::Acquire);
        (0..high).any(|i| {
            self.fds[i].load(Ordering::Relaxed) == fd && self.conns[i].load(Ordering::Relaxed) != 0
        })
    }

    /// Follows `conn` (under the book's lock). False when every slot is taken.
    fn add(&self, book: &mut Book, conn: u64, fd: Option<i32>, why: Why) -> bool {
        if self.slot_of(conn).is_some() {
            return true;
        }
        let Some(i) = (0..FOLLOW_SLOTS).find(|&i| self.conns[i].load(Ordering::Relaxed) == 0)
        else {
            return false;
        };
        self.fds[i].store(fd.unwrap_or(-1), Ordering::Relaxed);
        self.conns[i].store(conn, Ordering::Relaxed);
        book.why[i] = Some(why);
        self.high.fetch_max(i + 1, Ordering::Release);
        if why == Why::Spotlight {
            book.spotlit += 1;
            self.reopen(book);
        }
        true
    }

    fn remove_slot(&self, book: &mut Book, i: usize) {
        self.conns[i].store(0, Ordering::Relaxed);
        self.fds[i].store(-1, Ordering::Relaxed);
        if book.why[i].take() == Some(Why::Spotlight) {
            book.spotlit -= 1;
        }
    }

    fn reopen(&self, book: &Book) {
        self.open.store(book.sample.saturating_sub(book.spotlit), Ordering::Relaxed);
    }

    /// Stops following `conn` (it was closed); a spotlit one is replaced by the next
    /// connection that makes a call.
    pub fn unfollow(&self, conn: u64) {
        let mut book = self.book();
        if let Some(i) = self.slot_of(conn) {
            self.remove_slot(&mut book, i);
            self.reopen(&book);
        }
    }

    /// Takes note of a *quiet* model's event, which is sent whatever it is: which connections
    /// are followed must still be known the moment the model becomes crowded. An echo client
    /// accepted while the model was quiet (opened before a load started, say) is followed from
    /// its accept, and a followed connection that closes is let go.
    pub fn note_quiet(&self, conn: Option<u64>, kind: &EventKind) {
        let Some(conn) = conn else { return };
        if let Some(peer) = accepted_peer(kind) {
            if self.peers_len.load(Ordering::Relaxed) > 0 {
                let mut book = self.book();
                if book.peers.iter().any(|p| p == peer) {
                    self.add(&mut book, conn, fd_of(kind), Why::Peer);
                }
            }
        } else if matches!(kind, EventKind::Close { .. }) && self.slot_of(conn).is_some() {
            self.unfollow(conn);
        }
    }

    /// Forgets every followed connection (the model stopped or started: connection ids start
    /// again from 1).
    pub fn forget_connections(&self) {
        let mut book = self.book();
        for i in 0..FOLLOW_SLOTS {
            self.remove_slot(&mut book, i);
        }
        self.reopen(&book);
    }

    /// Follows `sample` connections for the spotlight (dropping spotlit ones beyond it).
    pub fn set_sample(&self, sample: u32) {
        let mut book = self.book();
        book.sample = sample;
        for i in 0..FOLLOW_SLOTS {
            if book.spotlit <= sample {
                break;
            }
            if book.why[i] == Some(Why::Spotlight) {
                self.remove_slot(&mut book, i);
            }
        }
        self.reopen(&book);
    }

    /// Connections followed for the spotlight now.
    #[cfg(test)]
    pub fn spotlit(&self) -> u32 {
        self.book().spotlit
    }

    /// Watches for an accept reporting `peer` (an echo client's local address).
    pub fn watch_peer(&self, peer: String) {
        let mut book = self.book();
        book.peers.push(peer);
        self.peers_len.store(book.peers.len() as u32, Ordering::Relaxed);
    }

    /// Stops watching for `peer`.
    pub fn unwatch_peer(&self, peer: &str) {
        let mut book = self.book();
        if let Some(i) = book.peers.iter().position(|p| p == peer) {
            book.peers.swap_remove(i);
        }
        self.peers_len.store(book.peers.len() as u32, Ordering::Relaxed);
    }

    /// Is this event of a crowded model a followed connection's? Follows new connections on
    /// the way: an accept of a watched peer, the next connections for the spotlight.
    fn concerns_followed(&self, conn: u64, kind: &EventKind) -> bool {
        let fd = fd_of(kind);
        if let Some(i) = self.slot_of(conn) {
            if let Some(fd) = fd {
                if self.fds[i].load(Ordering::Relaxed) < 0 {
                    self.fds[i].store(fd, Ordering::Relaxed);
                }
            }
            return true;
        }
        if let Some(peer) = accepted_peer(kind) {
            if self.peers_len.load(Ordering::Relaxed) > 0 {
                let mut book = self.book();
                if book.peers.iter().any(|p| p == peer) {
                    return self.add(&mut book, conn, fd, Why::Peer);
                }
            }
        }
        // A closed connection is not a candidate: it makes no more calls.
        if self.open.load(Ordering::Relaxed) > 0 && !matches!(kind, EventKind::Close { .. }) {
            let mut book = self.book();
            if book.sample > book.spotlit {
                return self.add(&mut book, conn, fd, Why::Spotlight);
            }
        }
        false
    }

    /// What to do with `kind` of a crowded model (not one [`always_sent`]).
    pub fn decide(&self, conn: Option<u64>, kind: &EventKind) -> Decision {
        use EventKind as K;
        match (conn, kind) {
            (Some(c), K::Close { .. }) => {
                if self.concerns_followed(c, kind) {
                    Decision::SendAndUnfollow(c)
                } else {
                    Decision::Skip { clear: false }
                }
            }
            // An accept that returned a connection, or a completion of a connection's request:
            // what the thread held (the accept's entry, the ring call) was its opening.
            (Some(c), _) => {
                if self.concerns_followed(c, kind) {
                    Decision::Send
                } else {
                    // A new accept's entry or a new ring call will replace what is held;
                    // other completions of the same ring call may still be followed ones.
                    Decision::Skip { clear: matches!(kind, K::AcceptExit { .. }) }
                }
            }
            (None, K::WaitEnter { .. } | K::AcceptEnter | K::RingEnter { .. }) => {
                Decision::HoldAfresh
            }
            (None, K::RingExit { .. } | K::WorkDone { .. }) => Decision::HoldMore,
            (None, K::WaitReturned { ready, .. }) => {
                if ready.iter().any(|r| self.follows_fd(r.fd)) {
                    Decision::Send
                } else {
                    Decision::Skip { clear: true }
                }
            }
            // A failed accept (out of descriptors, say) is rare and always worth seeing.
            (None, K::AcceptExit { .. }) => Decision::Send,
            (None, kind) => match fd_of(kind) {
                Some(fd) if self.follows_fd(fd) => Decision::Send,
                // A signal for someone else ends the work that was held before it.
                _ => Decision::Skip { clear: matches!(kind, K::SignalDelivered { .. }) },
            },
        }
    }
}

impl Held {
    /// Holds `record` after what is held, within [`HELD_MAX`] (beyond it the newest is let
    /// go: it was counted).
    pub fn push(&mut self, record: super::Record) {
        if self.records.len() < HELD_MAX {
            self.records.push(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kettle_shared::{CloseReason, ReadyFd, WaitApi};

    fn recv(fd: i32) -> EventKind {
        EventKind::RecvEnter { fd, len: 1024 }
    }

    #[test]
    fn an_echo_client_accepted_while_the_model_was_quiet_is_followed_once_it_is_crowded() {
        let f = Follow::default();
        f.watch_peer("127.0.0.1:5000".into());
        let ours =
            EventKind::AcceptExit { fd: Some(8), peer: Some("127.0.0.1:5000".into()), error: None };
        f.note_quiet(Some(2), &ours);
        f.note_quiet(Some(3), &recv(9));
        assert_eq!(f.decide(Some(2), &recv(8)), Decision::Send);
        assert_eq!(f.decide(Some(3), &recv(9)), Decision::Skip { clear: false });
        f.note_quiet(Some(2), &EventKind::Close { fd: 8, reason: CloseReason::PeerClosed });
        assert_eq!(f.decide(Some(2), &recv(8)), Decision::Skip { clear: false });
    }

    #[test]
    fn a_watched_peer_is_followed_from_its_accept_to_its_close() {
        let f = Follow::default();
        f.watch_peer("127.0.0.1:5000".into());
        let other =
            EventKind::AcceptExit { fd: Some(7), peer: Some("127.0.0.1:4000".into()), error: None };
        assert_eq!(f.decide(Some(1), &other), Decision::Skip { clear: true });
        let ours =
            EventKind::AcceptExit { fd: Some(8), peer: Some("127.0.0.1:5000".into()), error: None };
        assert_eq!(f.decide(Some(2), &ours), Decision::Send);
        assert_eq!(f.decide(Some(2), &recv(8)), Decision::Send);
        assert_eq!(f.decide(Some(1), &recv(7)), Decision::Skip { clear: false });
        // A wait is sent when it reports the followed descriptor ready, not otherwise.
        let ready = |fd| EventKind::WaitReturned {
            api: WaitApi::Epoll,
            ready: vec![ReadyFd { fd, readable: true, writable: false }],
            scanned: 1,
        };
        assert_eq!(f.decide(None, &ready(8)), Decision::Send);
        assert_eq!(f.decide(None, &ready(7)), Decision::Skip { clear: true });
        let close = EventKind::Close { fd: 8, reason: CloseReason::PeerClosed };
        assert_eq!(f.decide(Some(2), &close), Decision::SendAndUnfollow(2));
        f.unfollow(2);
        assert_eq!(f.decide(Some(2), &recv(8)), Decision::Skip { clear: false });
        assert_eq!(f.decide(None, &ready(8)), Decision::Skip { clear: true });
    }

    #[test]
    fn the_spotlight_follows_the_next_connections_and_replaces_a_closed_one() {
        let f = Follow::default();
        f.set_sample(2);
        assert_eq!(f.decide(Some(1), &recv(5)), Decision::Send);
        assert_eq!(f.decide(Some(2), &recv(6)), Decision::Send);
        assert_eq!(f.decide(Some(3), &recv(7)), Decision::Skip { clear: false });
        assert_eq!(f.spotlit(), 2);
        let close = EventKind::Close { fd: 5, reason: CloseReason::PeerClosed };
        assert_eq!(f.decide(Some(1), &close), Decision::SendAndUnfollow(1));
        f.unfollow(1);
        // A closing connection is no candidate; the next one that calls is.
        let close3 = EventKind::Close { fd: 7, reason: CloseReason::PeerClosed };
        assert_eq!(f.decide(Some(3), &close3), Decision::Skip { clear: false });
        assert_eq!(f.decide(Some(4), &recv(9)), Decision::Send);
        f.set_sample(0);
        assert_eq!(f.spotlit(), 0);
        assert_eq!(f.decide(Some(4), &recv(9)), Decision::Skip { clear: false });
    }
}
