//! Out of descriptors at the web front: the accept loop pauses between tries instead of
//! spinning, and serves the waiting client once descriptors are free again.
//!
//! Its own test binary (so its own process): it lowers the process's descriptor limit.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType, SockaddrIn};

#[tokio::test(flavor = "multi_thread")]
async fn out_of_descriptors_the_web_front_pauses_then_serves_the_waiting_client() {
    let server = kettle(&[]).await;
    let stats = server.accepts.clone();
    // The client's socket exists before the table fills: connecting takes no new descriptor,
    // the server's accept would.
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::empty(), None).unwrap();
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, fd.as_raw_fd() as u64 + 1, hard).unwrap();
    let held = fill_descriptor_table();

    let addr =
        SockaddrIn::from(std::net::SocketAddrV4::new([127, 0, 0, 1].into(), server.addr.port()));
    nix::sys::socket::connect(fd.as_raw_fd(), &addr).unwrap();
    let mut client = TcpStream::from(fd);
    client.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let host = host(&server);
    write!(client, "GET /api/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.out_of_descriptors.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < deadline, "accept never met EMFILE");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = stats.out_of_descriptors.load(Ordering::Relaxed);
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let tries = stats.out_of_descriptors.load(Ordering::Relaxed) - before;
    let per_second = tries as f64 / window.elapsed().as_secs_f64();
    // Paused 100 ms between tries: about 10 a second. A loop that spun would make millions.
    assert!((1..=20).contains(&tries), "{tries} accept tries in a second");

    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).unwrap();
    drop(held);
    let mut answer = String::new();
    client.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    eprintln!("measured: {per_second:.1} accept tries per second while out of descriptors");
    server.shutdown().await.unwrap();
}
