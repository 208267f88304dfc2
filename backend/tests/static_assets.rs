//! The built frontend as browsers get it from a real Kettle: the precompressed copy their
//! `Accept-Encoding` allows (brotli, gzip, or the file itself), byte for byte the file once
//! decoded; trunk's hashed names cached for a year, `index.html` and the fallback revalidated;
//! `Vary: Accept-Encoding` on every answer.
//!
//! The `dist/` here is made by the test in a temporary directory, with `.br` and `.gz` copies
//! beside the files as `cargo xtask precompress` writes them (at lower settings: this is an
//! unoptimised build, and how well they compress is not the point), so the answers can be
//! compared with the exact bytes on disk: a server compressing on the fly would send others.

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use common::*;

const WASM: &str = "kettle-frontend-9c0f1e2d3b4a5968_bg.wasm";
const JS: &str = "kettle-frontend-9c0f1e2d3b4a5968.js";
const CSS: &str = "static/kettle.css";
/// A file the build left without copies.
const PLAIN: &str = "robots.txt";

/// What Chromium asks for on a secure origin or loopback, and over plain http to a LAN host.
const CHROMIUM_LOOPBACK: &str = "gzip, deflate, br, zstd";
const CHROMIUM_LAN_HTTP: &str = "gzip, deflate";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A `dist/` of its own, removed when the test ends.
struct Dist(PathBuf);

impl Drop for Dist {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Compressible, but not trivially: text with numbers that differ line by line.
fn contents(kind: &str, lines: usize) -> Vec<u8> {
    (0..lines).map(|i| format!("{kind} {i}: {}\n", i * 7919 % 1000)).collect::<String>().into()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let params = brotli::enc::BrotliEncoderParams { quality: 5, ..Default::default() };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &data[..], &mut out, &params).unwrap();
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096).read_to_end(&mut out).unwrap();
    out
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// index.html, a wasm module, its glue script, a stylesheet (each with `.br` and `.gz`), and
/// one file without copies.
fn make_dist(tag: &str) -> Dist {
    let dir = std::env::temp_dir().join(format!("kettle-dist-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("static")).unwrap();
    let dist = Dist(dir);
    for (name, lines) in [("index.html", 40), (WASM, 1500), (JS, 400), (CSS, 200)] {
        let data = contents(name, lines);
        std::fs::write(dist.0.join(name), &data).unwrap();
        std::fs::write(dist.0.join(format!("{name}.br")), brotli(&data)).unwrap();
        std::fs::write(dist.0.join(format!("{name}.gz")), gzip(&data)).unwrap();
    }
    std::fs::write(dist.0.join(PLAIN), contents(PLAIN, 20)).unwrap();
    dist
}

fn read(dist: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dist.join(name)).unwrap()
}

/// `GET path` with `Accept-Encoding: accept` (none if empty) and `extra` headers, and no
/// other header but `Host`, so every header is the test's own.
fn get(addr: SocketAddr, path: &str, accept: &str, extra: &[(&str, &str)]) -> Answer {
    let host = addr.to_string();
    let mut headers = vec![("Host", host.as_str())];
    if !accept.is_empty() {
        headers.push(("Accept-Encoding", accept));
    }
    headers.extend_from_slice(extra);
    let answer = http_answer(addr, "GET", path, &headers);
    // Files are sent with their length, never chunked: the browser shows progress.
    if answer.status == 200 {
        let length = answer.header("content-length").expect("a content-length");
        assert_eq!(length.parse::<usize>().unwrap(), answer.body.len(), "{path}");
    }
    answer
}

async fn kettle_serving(dist: &Dist) -> kettle_backend::Server {
    let mut config = config(&[]);
    config.dist = Some(dist.0.clone());
    kettle_backend::serve(config).await.expect("kettle starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn brotli_gzip_or_the_file_itself_is_served_as_accept_encoding_allows_and_decodes_to_the_file(
) {
    let dist = make_dist("negotiate");
    let server = kettle_serving(&dist).await;
    let addr = server.addr;
    let d = dist.0.clone();
    tokio::task::spawn_blocking(move || {
        for name in [WASM, JS, CSS, "index.html"] {
            let path = format!("/{name}");
            let original = read(&d, name);

            let br = get(addr, &path, CHROMIUM_LOOPBACK, &[]);
            assert_eq!(br.status, 200, "{name}");
            assert_eq!(br.header("content-encoding"), Some("br"), "{name}: {:?}", br.headers);
            assert_eq!(br.body, read(&d, &format!("{name}.br")), "{name}: the .br on disk");
            assert_eq!(unbrotli(&br.body), original, "{name}");

            let gz = get(addr, &path, CHROMIUM_LAN_HTTP, &[]);
            assert_eq!(gz.header("content-encoding"), Some("gzip"), "{name}: {:?}", gz.headers);
            assert_eq!(gz.body, read(&d, &format!("{name}.gz")), "{name}: the .gz on disk");
            assert_eq!(gunzip(&gz.body), original, "{name}");

            // A browser that refuses brotli by weight gets gzip; one that names neither, or
            // sends no Accept-Encoding at all, the file itself.
            let not_br = get(addr, &path, "br;q=0, gzip", &[]);
            assert_eq!(not_br.header("content-encoding"), Some("gzip"), "{name}");
            for accept in ["", "identity", "zstd"] {
                let plain = get(addr, &path, accept, &[]);
                assert_eq!(plain.header("content-encoding"), None, "{name} for {accept:?}");
                assert_eq!(plain.body, original, "{name} for {accept:?}");
            }

            // One URL, several bodies: every answer says what it depends on, and each is
            // typed by the file it stands for, not by the copy.
            for answer in [&br, &gz] {
                assert_eq!(answer.header("vary"), Some("accept-encoding"), "{name}");
            }
            assert_eq!(br.header("content-type"), gz.header("content-type"), "{name}");
        }
        assert_eq!(
            get(addr, &format!("/{WASM}"), "br", &[]).header("content-type"),
            Some("application/wasm")
        );

        // A file without copies is sent as it is, whatever the browser accepts.
        let plain = get(addr, &format!("/{PLAIN}"), CHROMIUM_LOOPBACK, &[]);
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None);
        assert_eq!(plain.body, read(&d, PLAIN));
        assert_eq!(plain.header("vary"), Some("accept-encoding"));
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hashed_names_are_immutable_for_a_year_and_everything_else_is_revalidated() {
    let dist = make_dist("cache");
    let server = kettle_serving(&dist).await;
    let addr = server.addr;
    let d = dist.0.clone();
    tokio::task::spawn_blocking(move || {
        for name in [WASM, JS] {
            for accept in [CHROMIUM_LOOPBACK, CHROMIUM_LAN_HTTP, ""] {
                let a = get(addr, &format!("/{name}"), accept, &[]);
                assert_eq!(a.status, 200);
                assert_eq!(a.header("cache-control"), Some(IMMUTABLE), "{name} for {accept:?}");
            }
        }
        let index = read(&d, "index.html");
        // The page itself, under its name or as the directory, and every unhashed file.
        for path in ["/", "/index.html", &format!("/{CSS}"), &format!("/{PLAIN}")] {
            let a = get(addr, path, CHROMIUM_LAN_HTTP, &[]);
            assert_eq!(a.status, 200, "{path}");
            assert_eq!(a.header("cache-control"), Some("no-cache"), "{path}");
            assert_eq!(a.header("vary"), Some("accept-encoding"), "{path}");
        }
        assert_eq!(gunzip(&get(addr, "/", CHROMIUM_LAN_HTTP, &[]).body), index);

        // The SPA fallback: any unknown path is index.html, never cached as immutable, even
        // under a name that looks hashed (a file of an older build, gone since).
        for path in ["/epoll?view=figure", "/deep/link", "/kettle-frontend-0123456789abcdef.js"] {
            let a = get(addr, path, CHROMIUM_LOOPBACK, &[]);
            assert_eq!(a.status, 200, "{path}");
            assert_eq!(unbrotli(&a.body), index, "{path}: the page, compressed");
            assert_eq!(a.header("cache-control"), Some("no-cache"), "{path}");
            assert_eq!(a.header("vary"), Some("accept-encoding"), "{path}");
        }

        // Revalidating an unchanged page costs a 304 and no body, with the same headers.
        let first = get(addr, "/index.html", CHROMIUM_LAN_HTTP, &[]);
        let stamp = first.header("last-modified").expect("a Last-Modified to revalidate with");
        let again = get(addr, "/index.html", CHROMIUM_LAN_HTTP, &[("If-Modified-Since", stamp)]);
        assert_eq!(again.status, 304);
        assert!(again.body.is_empty());
        assert_eq!(again.header("cache-control"), Some("no-cache"));
        assert_eq!(again.header("vary"), Some("accept-encoding"));
    })
    .await
    .unwrap();
    server.shutdown().await.unwrap();
}
