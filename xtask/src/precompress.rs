//! `cargo xtask precompress [DIR]`: a brotli and a gzip copy beside every file of `dist/`.
//!
//! A class of 40 students each loads the page once: the wasm, the glue script, the stylesheet,
//! `index.html`. Compressing them once at build time, at the strongest settings (brotli quality
//! 11, and zopfli for gzip), costs a few seconds here instead of CPU on every request; `kettle serve`
//! then hands out `name.br` or `name.gz` to a browser that accepts it (tower-http's `ServeDir`,
//! see `backend/src/web/assets.rs`) and the file itself to one that accepts neither.
//!
//! Rules:
//! - `name.br` and `name.gz` are written only when smaller than `name`; otherwise an older copy
//!   is removed, so the server falls back to the file itself.
//! - A copy whose file is gone (a previous build's hashed name) is removed: a stale copy must
//!   never be served in place of a newer file.
//! - A copy newer than its file is kept, so a second run on an unchanged `dist/` does nothing.
//! - Each copy is written to a temporary name and renamed, so a server reading `dist/` meanwhile
//!   sees the old copy or the new one, never half of one.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crate::process::{format_duration, say};
use crate::Result;

/// brotli's strongest setting: slow to write (done once), as fast as any to decode.
const BROTLI_QUALITY: i32 = 11;
/// brotli's window, log2 bytes: 4 MiB, as large as a browser accepts; the wasm fits in it.
const BROTLI_WINDOW: i32 = 22;

/// The two encodings, as their file suffix.
const SUFFIXES: [&str; 2] = ["br", "gz"];

/// What one file became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compressed {
    /// The file, relative to `dist/`.
    pub name: String,
    /// Its size.
    pub bytes: u64,
    /// Its `.br` copy's size, if it has one (written now or kept).
    pub br: Option<u64>,
    /// Its `.gz` copy's size, if it has one.
    pub gz: Option<u64>,
}

/// `cargo xtask precompress [DIR]`: compresses `dist` (the built frontend) and prints what
/// each file became.
pub fn precompress(dist: &Path) -> Result<()> {
    if !dist.join("index.html").is_file() {
        return Err(format!(
            "{} holds no index.html: build the frontend first (`cargo xtask run` does both)",
            dist.display()
        ));
    }
    let start = Instant::now();
    let files = precompress_dir(dist)?;
    for f in &files {
        say(&format!(
            "  {:<44} {:>9}  br {:>9}  gz {:>9}",
            f.name,
            f.bytes,
            f.br.map_or("-".into(), |b| b.to_string()),
            f.gz.map_or("-".into(), |b| b.to_string())
        ));
    }
    let total = |pick: fn(&Compressed) -> u64| files.iter().map(pick).sum::<u64>();
    say(&format!(
        "precompressed {} files in {}: {} bytes, {} as brotli, {} as gzip",
        files.len(),
        format_duration(start.elapsed()),
        total(|f| f.bytes),
        total(|f| f.br.unwrap_or(f.bytes)),
        total(|f| f.gz.unwrap_or(f.bytes)),
    ));
    Ok(())
}

/// Writes the missing or outdated `.br` and `.gz` copies under `dist`, removes stale ones, and
/// returns every file with its copies' sizes, by name.
pub fn precompress_dir(dist: &Path) -> Result<Vec<Compressed>> {
    let mut originals = Vec::new();
    let mut copies = Vec::new();
    for path in files_under(dist)? {
        if copy_of(&path).is_some() {
            copies.push(path);
        } else if !is_temporary(&path) {
            originals.push(path);
        }
    }
    for copy in &copies {
        let original = copy_of(copy).expect("sorted above");
        if !original.is_file() {
            remove(copy)?;
        }
    }
    let mut done = Vec::new();
    for path in originals {
        let data = fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let modified = modified(&path);
        // Brotli 11 is the slow one (~100 KB/s): gzip runs beside it, on the other core.
        let [br, gz] = std::thread::scope(|scope| {
            SUFFIXES
                .map(|suffix| {
                    let (path, data) = (&path, &data);
                    scope.spawn(move || {
                        let copy = with_suffix(path, suffix);
                        match (modified, modified_and_len(&copy)) {
                            // Kept: written after the file last changed.
                            (Some(file), Some((written, len))) if written >= file => Ok(Some(len)),
                            _ => write_if_smaller(&copy, &encode(suffix, data)?, data.len()),
                        }
                    })
                })
                .map(|compressing| compressing.join().expect("a compressor panicked"))
        });
        let sizes = [br?, gz?];
        let name = path.strip_prefix(dist).unwrap_or(&path).to_string_lossy().into_owned();
        done.push(Compressed { name, bytes: data.len() as u64, br: sizes[0], gz: sizes[1] });
    }
    done.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(done)
}

/// `data` in the encoding named by `suffix`.
fn encode(suffix: &str, data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 3);
    match suffix {
        "br" => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_WINDOW,
                // The size is known: brotli tunes its blocks to it.
                size_hint: data.len(),
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &data[..], &mut out, &params)
                .map_err(|e| format!("brotli: {e}"))?;
        }
        // Zopfli's deflate: a gzip stream any browser reads, ~5 % smaller than gzip -9
        // (measured on the page's wasm: 428 410 bytes against 449 197).
        "gz" => zopfli::compress(zopfli::Options::default(), zopfli::Format::Gzip, data, &mut out)
            .map_err(|e| format!("gzip: {e}"))?,
        other => unreachable!("no encoding `{other}`"),
    }
    Ok(out)
}

/// Writes `encoded` to `copy` (through a temporary name) if it is smaller than the file it
/// encodes (`original_len` bytes); otherwise removes any older `copy`. Returns the size
/// written.
fn write_if_smaller(copy: &Path, encoded: &[u8], original_len: usize) -> Result<Option<u64>> {
    if encoded.len() >= original_len {
        if copy.exists() {
            remove(copy)?;
        }
        return Ok(None);
    }
    let temporary = temporary_for(copy);
    fs::write(&temporary, encoded)
        .and_then(|()| fs::rename(&temporary, copy))
        .map_err(|e| format!("cannot write {}: {e}", copy.display()))?;
    Ok(Some(encoded.len() as u64))
}

/// Every regular file under `dir`, in no particular order. Symbolic links are neither
/// followed nor listed: trunk writes none, and a copy beside a link would outlive its target.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

/// For `dir/name.br` or `dir/name.gz`: `dir/name`.
fn copy_of(path: &Path) -> Option<PathBuf> {
    let ext = path.extension()?.to_str()?;
    SUFFIXES.contains(&ext).then(|| path.with_extension(""))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a copy is written before it is renamed into place: a hidden name no request matches
/// (`ServeDir` serves dotfiles, but nobody asks for this one, and it lives for milliseconds).
fn temporary_for(copy: &Path) -> PathBuf {
    let name = copy.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    copy.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

/// A leftover of an interrupted run ([`temporary_for`]): neither a file nor a copy.
fn is_temporary(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.starts_with('.') && name.ends_with(".tmp")
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn modified_and_len(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// A fresh directory under the system's temporary one, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("xtask-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn text(lines: usize) -> Vec<u8> {
        (0..lines).map(|i| format!("line {i}: the kettle whistles\n")).collect::<String>().into()
    }

    #[test]
    fn every_compressible_file_gets_a_br_and_a_gz_that_decode_to_it() {
        let dir = TempDir::new("decode");
        fs::create_dir_all(dir.0.join("static")).unwrap();
        fs::write(dir.0.join("index.html"), text(50)).unwrap();
        fs::write(dir.0.join("static/kettle.css"), text(300)).unwrap();
        let files = precompress_dir(&dir.0).unwrap();
        assert_eq!(
            files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["index.html", "static/kettle.css"]
        );
        for f in &files {
            let original = fs::read(dir.0.join(&f.name)).unwrap();
            let br = fs::read(dir.0.join(format!("{}.br", f.name))).unwrap();
            let gz = fs::read(dir.0.join(format!("{}.gz", f.name))).unwrap();
            assert_eq!((f.br, f.gz), (Some(br.len() as u64), Some(gz.len() as u64)));
            assert!(br.len() < original.len() && gz.len() < original.len(), "{f:?}");
            let mut from_br = Vec::new();
            brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut from_br).unwrap();
            let mut from_gz = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut from_gz).unwrap();
            assert_eq!(from_br, original, "{}", f.name);
            assert_eq!(from_gz, original, "{}", f.name);
        }
    }

    #[test]
    fn a_file_compression_cannot_shrink_gets_no_copies() {
        let dir = TempDir::new("tiny");
        fs::write(dir.0.join("index.html"), text(40)).unwrap();
        fs::write(dir.0.join("a"), b"x").unwrap();
        let files = precompress_dir(&dir.0).unwrap();
        assert_eq!(files[0], Compressed { name: "a".into(), bytes: 1, br: None, gz: None });
        assert!(!dir.0.join("a.br").exists() && !dir.0.join("a.gz").exists());
    }

    #[test]
    fn a_copy_whose_file_is_gone_is_removed_and_an_outdated_one_rewritten() {
        let dir = TempDir::new("stale");
        fs::write(dir.0.join("index.html"), text(40)).unwrap();
        fs::write(dir.0.join("app-1234abcd5678ef90.js.br"), b"an old build's copy").unwrap();
        precompress_dir(&dir.0).unwrap();
        assert!(!dir.0.join("app-1234abcd5678ef90.js.br").exists());
        // A second run keeps what is up to date…
        let first = precompress_dir(&dir.0).unwrap();
        assert_eq!(precompress_dir(&dir.0).unwrap(), first);
        // …and rewrites a copy older than its file.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(dir.0.join("index.html"), text(80)).unwrap();
        let again = precompress_dir(&dir.0).unwrap();
        let gz = fs::read(dir.0.join("index.html.gz")).unwrap();
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut decoded).unwrap();
        assert_eq!(decoded, text(80));
        assert_eq!(again[0].bytes, text(80).len() as u64);
    }

    #[test]
    fn copies_and_leftovers_are_told_apart_from_files() {
        assert_eq!(copy_of(Path::new("d/app.js.br")), Some(PathBuf::from("d/app.js")));
        assert_eq!(copy_of(Path::new("d/app.js.gz")), Some(PathBuf::from("d/app.js")));
        assert_eq!(copy_of(Path::new("d/app.js")), None);
        assert!(is_temporary(&temporary_for(Path::new("d/app.js.br"))));
        assert!(!is_temporary(Path::new("d/app.js")));
    }
}
