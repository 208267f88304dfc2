//! `GET /api/excerpts/{file}/{name}`: a marked region of a model's source, for the page's
//! code panel.
//!
//! The page's wasm does not carry the thirteen models' code: it asks for the excerpts of the
//! model it shows (`frontend/src/code.rs`). The backend has its own model files compiled in
//! (below) and cuts the region with the function the page's compile-time check uses,
//! [`kettle_shared::excerpt::find_region`]; nothing is read from the disk, and only files in
//! this table can be named.

use axum::extract::Path as UrlPath;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use kettle_shared::excerpt::{find_region, ExcerptText};
use kettle_shared::{ErrorCode, Reason};

use super::guard::error_body;

/// Every model file with marked regions, by its basename.
pub(crate) const SOURCES: &[(&str, &str)] = &[
    ("blocking.rs", include_str!("../models/blocking.rs")),
    ("epoll.rs", include_str!("../models/epoll.rs")),
    ("epoll_et.rs", include_str!("../models/epoll_et.rs")),
    ("event_loop.rs", include_str!("../models/event_loop.rs")),
    ("io_uring.rs", include_str!("../models/io_uring.rs")),
    ("multiplex.rs", include_str!("../models/multiplex.rs")),
    ("nonblocking.rs", include_str!("../models/nonblocking.rs")),
    ("nonblocking_conn.rs", include_str!("../models/nonblocking_conn.rs")),
    ("poll.rs", include_str!("../models/poll.rs")),
    ("posix_aio.rs", include_str!("../models/posix_aio.rs")),
    ("process_per_conn.rs", include_str!("../models/process_per_conn.rs")),
    ("reactor.rs", include_str!("../models/reactor.rs")),
    ("select.rs", include_str!("../models/select.rs")),
    ("sigio.rs", include_str!("../models/sigio.rs")),
    ("thread_per_conn.rs", include_str!("../models/thread_per_conn.rs")),
    ("thread_pool.rs", include_str!("../models/thread_pool.rs")),
];

/// The region `name` of model file `file`, or why not.
pub(crate) fn excerpt(file: &str, name: &str) -> Result<ExcerptText, Reason> {
    let missing = || Reason::NoSuchExcerpt { file: file.to_owned(), name: name.to_owned() };
    let (_, src) = SOURCES.iter().find(|(f, _)| *f == file).ok_or_else(missing)?;
    let (from, to, first) = find_region(src, name).ok_or_else(missing)?;
    Ok(ExcerptText { first, text: src[from..to].to_owned() })
}

/// Every marked region of every model file, in [`SOURCES`]' order: what a recording carries
/// so its code panel needs no server (`GET /api/excerpts`).
pub(crate) fn all() -> Vec<kettle_shared::recording::CodeExcerpt> {
    let begin = kettle_shared::excerpt::BEGIN;
    let mut out = Vec::new();
    for (file, src) in SOURCES {
        for name in src.lines().filter_map(|l| l.trim_start().strip_prefix(begin)) {
            if let Ok(ExcerptText { first, text }) = excerpt(file, name.trim()) {
                let (file, name) = ((*file).to_owned(), name.trim().to_owned());
                out.push(kettle_shared::recording::CodeExcerpt { file, name, first, text });
            }
        }
    }
    out
}

pub(super) async fn list_excerpts() -> Response {
    ([(header::CACHE_CONTROL, "no-cache")], Json(all())).into_response()
}

pub(super) async fn get_excerpt(UrlPath((file, name)): UrlPath<(String, String)>) -> Response {
    match excerpt(&file, &name) {
        // The text changes only with a new build of the server, and the page asks once.
        Ok(text) => ([(header::CACHE_CONTROL, "no-cache")], Json(text)).into_response(),
        Err(reason) => {
            (StatusCode::NOT_FOUND, Json(error_body(ErrorCode::BadRequest, reason))).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_every_region_of_every_file_once() {
        let all = all();
        let marked: usize = SOURCES
            .iter()
            .map(|(_, src)| {
                src.lines()
                    .filter(|l| l.trim_start().starts_with(kettle_shared::excerpt::BEGIN))
                    .count()
            })
            .sum();
        assert_eq!(all.len(), marked);
        let serve = all.iter().find(|x| x.file == "select.rs").expect("select's loop");
        assert_eq!(excerpt(&serve.file, &serve.name).unwrap().text, serve.text);
    }

    #[test]
    fn every_model_file_with_marked_regions_is_served() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/models");
        let mut marked: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let src = std::fs::read_to_string(p).unwrap();
                src.lines().any(|l| l.trim_start().starts_with(kettle_shared::excerpt::BEGIN))
            })
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        marked.sort();
        let mut served: Vec<&str> = SOURCES.iter().map(|(f, _)| *f).collect();
        served.sort();
        assert_eq!(served, marked);
    }

    #[test]
    fn an_excerpt_is_its_region_with_the_files_line_number_and_anything_else_is_refused() {
        let x = excerpt("blocking.rs", "blocking-accept").unwrap();
        let src = SOURCES.iter().find(|(f, _)| *f == "blocking.rs").unwrap().1;
        assert_eq!(src.lines().nth(x.first - 1), x.text.lines().next());
        let refused = |file: &str, name: &str| excerpt(file, name).unwrap_err();
        let want =
            |file: &str, name: &str| Reason::NoSuchExcerpt { file: file.into(), name: name.into() };
        assert_eq!(refused("blocking.rs", "nope"), want("blocking.rs", "nope"));
        assert_eq!(refused("../../Cargo.toml", "x"), want("../../Cargo.toml", "x"));
        assert_eq!(refused("mod.rs", "blocking-accept"), want("mod.rs", "blocking-accept"));
        assert_eq!(refused("select.rs", "blocking-accept"), want("select.rs", "blocking-accept"));
    }
}
