//! The kernel's table of IPv4 TCP sockets, `/proc/net/tcp`: every socket of this network
//! namespace with its addresses, its state, its queues and its inode.
//!
//! The tools read it where no system call of theirs could tell: which socket listens on a
//! port and who holds it (the load generator's check that `kettle bench`'s parent holds the
//! listener it was told of), whether a server closed its end of a connection whose FIN is
//! stuck behind unread data (`kettle soak`'s stalled viewer), and how many connections wait
//! in a listener's accept queue (the tests).

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

/// `st` of an established connection (`TCP_ESTABLISHED` in the kernel's `tcp_states.h`).
pub const TCP_ESTABLISHED: u8 = 0x01;
/// `st` of a listening socket (`TCP_LISTEN`).
pub const TCP_LISTEN: u8 = 0x0A;

/// One row of `/proc/net/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSocket {
    /// `local_address`.
    pub local: SocketAddrV4,
    /// `rem_address` (`0.0.0.0:0` for a listener).
    pub remote: SocketAddrV4,
    /// `st`: the kernel's TCP state number ([`TCP_ESTABLISHED`], [`TCP_LISTEN`]…).
    pub state: u8,
    /// Bytes sent and not yet acknowledged (`tx_queue`).
    pub tx_queue: u32,
    /// Bytes received and not yet read; for a listener, the connections waiting in its
    /// accept queue (`rx_queue`).
    pub rx_queue: u32,
    /// The socket's inode, as `/proc/<pid>/fd/*` links name it (`socket:[inode]`).
    pub inode: u64,
}

/// The whole table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpTable(pub Vec<TcpSocket>);

impl TcpTable {
    /// Reads `/proc/net/tcp`.
    pub fn read() -> io::Result<TcpTable> {
        Ok(TcpTable::parse(&std::fs::read_to_string("/proc/net/tcp")?))
    }

    /// Parses the text of `/proc/net/tcp`: a heading, then one socket a line — `sl
    /// local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    /// …`. A line that does not parse is left out.
    pub fn parse(text: &str) -> TcpTable {
        TcpTable(text.lines().skip(1).filter_map(parse_row).collect())
    }

    /// The socket listening on `addr`.
    pub fn listener(&self, addr: SocketAddrV4) -> Option<&TcpSocket> {
        self.0.iter().find(|s| s.local == addr && s.state == TCP_LISTEN)
    }

    /// The socket of the connection from `local` to `remote`, seen from `local`'s side.
    pub fn connection(&self, local: SocketAddrV4, remote: SocketAddrV4) -> Option<&TcpSocket> {
        self.0.iter().find(|s| s.local == local && s.remote == remote)
    }
}

fn parse_row(line: &str) -> Option<TcpSocket> {
    let cols: Vec<&str> = line.split_whitespace().collect();
    let (tx, rx) = cols.get(4)?.split_once(':')?;
    Some(TcpSocket {
        local: parse_addr(cols.get(1)?)?,
        remote: parse_addr(cols.get(2)?)?,
        state: u8::from_str_radix(cols.get(3)?, 16).ok()?,
        tx_queue: u32::from_str_radix(tx, 16).ok()?,
        rx_queue: u32::from_str_radix(rx, 16).ok()?,
        inode: cols.get(9)?.parse().ok()?,
    })
}

/// `0100007F:1F90` is 127.0.0.1:8080: the address is the four bytes of the network-order
/// address as the kernel holds them in memory, printed as one native-endian number (so
/// reversed on x86); the port is a plain number in hex.
fn parse_addr(text: &str) -> Option<SocketAddrV4> {
    let (ip, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three rows as this kernel writes them: a listener on 127.0.0.1:9000 with two
    /// connections waiting to be accepted, and both ends of one connection to it.
    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2328 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 21587 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2328 0100007F:D431 01 00000000:00000010 00:00000000 00000000     0        0 21601 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D431 0100007F:2328 01 00000040:00000000 01:00000014 00000000     0        0 21600 1 0000000000000000 20 4 30 10 -1
";

    fn at(port: u16) -> SocketAddrV4 {
        SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)
    }

    #[test]
    fn a_listener_is_found_with_its_accept_queue_and_inode() {
        let table = TcpTable::parse(TABLE);
        assert_eq!(table.0.len(), 3);
        let l = table.listener(at(9000)).unwrap();
        assert_eq!((l.rx_queue, l.inode), (2, 21587));
        assert_eq!(l.remote, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        assert!(table.listener(at(9001)).is_none());
    }

    #[test]
    fn each_end_of_a_connection_is_its_own_row() {
        let table = TcpTable::parse(TABLE);
        let server_side = table.connection(at(9000), at(0xD431)).unwrap();
        assert_eq!((server_side.state, server_side.rx_queue), (TCP_ESTABLISHED, 16));
        let client_side = table.connection(at(0xD431), at(9000)).unwrap();
        assert_eq!((client_side.tx_queue, client_side.inode), (0x40, 21600));
    }

    #[test]
    fn a_line_that_does_not_parse_is_left_out() {
        let table = TcpTable::parse("heading\n   0: garbage\n\n");
        assert!(table.0.is_empty());
    }

    #[test]
    fn our_own_listener_is_in_the_table() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let std::net::SocketAddr::V4(addr) = l.local_addr().unwrap() else { unreachable!() };
        let table = TcpTable::read().unwrap();
        let row = table.listener(addr).expect("listed");
        assert!(
            crate::proc::process::holds_socket(crate::proc::process::Pid::Own, row.inode).unwrap()
        );
    }
}
