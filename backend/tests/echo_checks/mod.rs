//! Echo checks shared by the asynchronous models' tests (sigio, io-uring, posix-aio): the same
//! client behaviours, run against any model's address.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::common::{client, payload, read_n};

/// Writes `data` in pseudo-random pieces (1 byte to 8 KiB) from another thread while this one
/// reads the echo, then checks it is `data` upper-cased, byte for byte.
pub fn echo_in_pieces(addr: SocketAddr, data: Vec<u8>, seed: u64) {
    let mut c = client(addr);
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = c.try_clone().unwrap();
    let expected = data.to_ascii_uppercase();
    let writer = std::thread::spawn(move || {
        let cuts = payload(64, seed);
        let mut rest = &data[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = (1 + (cuts[i % cuts.len()] as usize) * 32).min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
            i += 1;
        }
    });
    let got = read_n(&mut c, expected.len());
    writer.join().unwrap();
    assert!(got == expected, "echo of {} bytes differs", expected.len());
}

/// `clients` concurrent clients, each echoing a random payload of up to 64 KiB.
pub fn concurrent_echo(addr: SocketAddr, clients: usize) {
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let seed = 7 + i as u64;
            let len = 1
                + (u32::from_le_bytes(payload(4, seed)[..4].try_into().unwrap()) as usize
                    % (64 * 1024));
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || echo_in_pieces(addr, payload(len, seed), seed))
                .unwrap()
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// The client shuts down its writing side: everything sent is echoed, then the server closes.
pub fn half_close_gets_full_echo(addr: SocketAddr) {
    let mut c = client(addr);
    let data = payload(10_000, 99);
    c.write_all(&data).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    assert!(got == data.to_ascii_uppercase(), "{} of {} bytes echoed", got.len(), data.len());
}

/// A client that resets its connection (SO_LINGER 0), then another client that is served.
pub fn reset_then_next_is_served(addr: SocketAddr) {
    let mut c = client(addr);
    c.write_all(b"before").unwrap();
    assert_eq!(read_n(&mut c, 6), b"BEFORE");
    linger_zero(&c);
    drop(c);
    let mut next = client(addr);
    next.write_all(b"after reset").unwrap();
    assert_eq!(read_n(&mut next, 11), b"AFTER RESET");
}

/// One client sends a lot and never reads; another is served meanwhile. Returns the first so the
/// caller decides when it goes.
pub fn never_reader_does_not_block_others(addr: SocketAddr) -> TcpStream {
    let hog = client(addr);
    let mut w = hog.try_clone().unwrap();
    w.set_write_timeout(Some(Duration::from_millis(100))).unwrap();
    // Fill every buffer on the way: the server's output bound, both sockets' buffers.
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    while sent < 64 * 1024 * 1024 {
        match w.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break, // the write timed out: everything is full
        }
    }
    assert!(sent < 64 * 1024 * 1024, "the server kept reading a client that never reads");
    let mut other = client(addr);
    for i in 0..5 {
        let line = format!("line {i}\n");
        other.write_all(line.as_bytes()).unwrap();
        assert_eq!(read_n(&mut other, line.len()), line.to_ascii_uppercase().as_bytes());
    }
    hog
}

/// Sets SO_LINGER {on, 0} so closing resets the connection.
pub fn linger_zero(s: &TcpStream) {
    use std::os::fd::AsFd;
    let linger = nix::sys::socket::sockopt::Linger;
    nix::sys::socket::setsockopt(&s.as_fd(), linger, &libc::linger { l_onoff: 1, l_linger: 0 })
        .unwrap();
}
