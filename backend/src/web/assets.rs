//! The built frontend (`dist/`), served as a room of browsers should get it: compressed, and
//! cached exactly as long as it cannot change.
//!
//! - **Compressed once, at build time.** `cargo xtask precompress` writes `name.br` (brotli)
//!   and `name.gz` (gzip) beside every file; tower-http's `ServeDir` picks the copy the
//!   browser's `Accept-Encoding` allows (brotli first, then gzip, then the file itself) and
//!   says which in `Content-Encoding`. Nothing is compressed per request, so 40 students
//!   loading the page cost 40 file reads, not 40 compressions of a megabyte of wasm. A `dist/`
//!   without copies (a plain `trunk build`) is served uncompressed, as before.
//! - **Which browsers get what.** Chromium and Firefox ask for `br` only over HTTPS or from
//!   `localhost`; a student's laptop opening `http://teacher-laptop:7878` over the LAN asks
//!   for `gzip, deflate` and gets the `.gz`.
//! - **Cached by name.** Trunk puts a hash of each file's contents in its name
//!   (`kettle-frontend-3f2a…_bg.wasm`): such a name always means the same bytes, so it is
//!   `Cache-Control: public, max-age=31536000, immutable` — a reload asks nothing.
//!   `index.html`, which names the current hashes, and every unhashed file are `no-cache`:
//!   kept, but checked with the server (`If-Modified-Since`, a 304) before each use, so a new
//!   build is seen at the next reload. The SPA fallback (`index.html` for any unknown path,
//!   hashed-looking or not) is always `no-cache`.
//! - **`Vary: Accept-Encoding`** on every answer: one URL has several bodies, so a cache
//!   between server and browser must keep them apart.

use std::path::Path;

use axum::extract::Request;
use axum::http::header::{HeaderValue, CACHE_CONTROL, VARY};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeader;

/// For a name that always means the same bytes: a year (the longest HTTP caches honour),
/// and never revalidated.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For everything else: stored, but checked with the server before each use.
pub const NO_CACHE: &str = "no-cache";

/// The service answering every request the API does not: files of `dist`, their compressed
/// copies, and `index.html` for unknown paths (the page reads its view from the address).
pub fn service(dist: &Path) -> Router {
    let index = dist.join("index.html");
    let fallback = SetResponseHeader::overriding(
        ServeFile::new(index).precompressed_br().precompressed_gzip(),
        CACHE_CONTROL,
        HeaderValue::from_static(NO_CACHE),
    );
    let files = ServeDir::new(dist).precompressed_br().precompressed_gzip().fallback(fallback);
    Router::new().fallback_service(files).layer(middleware::from_fn(cache_headers))
}

/// Adds `Vary` and, unless the fallback set one, the `Cache-Control` the path deserves.
async fn cache_headers(request: Request, next: Next) -> Response {
    let hashed = is_content_hashed(request.uri().path());
    let mut response = next.run(request).await;
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    if !headers.contains_key(CACHE_CONTROL) {
        // A 304 repeats the headers of the 200 it stands for; an error is never kept long.
        let served = matches!(
            status,
            StatusCode::OK | StatusCode::PARTIAL_CONTENT | StatusCode::NOT_MODIFIED
        );
        let policy = if hashed && served { IMMUTABLE } else { NO_CACHE };
        headers.insert(CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    response
}

/// Whether the last segment of `path` carries trunk's content hash: `name-<hex>.ext`, or
/// `name-<hex>_bg.wasm` for wasm-bindgen's module. Trunk writes the hash (a 64-bit seahash) in
/// lower-case hex without leading zeros, so 8 to 16 digits are accepted (a hash under 2^32
/// has odds of 1 in 4 billion; such a file would merely be revalidated).
pub fn is_content_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _ext)) = name.split_once('.') else { return false };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((base, hash)) = stem.rsplit_once('-') else { return false };
    !base.is_empty()
        && (8..=16).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_content_hashed("/kettle-frontend-9c0f1e2d3b4a5968.js"));
        assert!(is_content_hashed("/kettle-frontend-9c0f1e2d3b4a5968_bg.wasm"));
        assert!(is_content_hashed("/kettle-1f2e3d4c5b6a7988.css"));
        // Fewer digits: a hash with leading zeros, printed without them.
        assert!(is_content_hashed("/kettle-f2e3d4c5b6a798.svg"));
    }

    #[test]
    fn unhashed_names_are_not() {
        for path in [
            "/",
            "/index.html",
            "/static/kettle.css",
            "/kettle.svg",
            "/my-page",
            "/model-epoll",
            "/kettle-frontend-XYZ0123456789abc.js",
            "/kettle-ABCDEF0123456789.js",
            "/x-1234567.js",
            "/-9c0f1e2d3b4a5968.js",
            "/kettle-frontend-9c0f1e2d3b4a5968",
        ] {
            assert!(!is_content_hashed(path), "{path}");
        }
    }
}
