//! Finding a marked region of a model's source file: the lines the page's code panel shows.
//!
//! The backend's model files mark the lines a student should read with two comment lines,
//! `// kettle:code-begin NAME` and `// kettle:code-end NAME`. The page cuts them out when it is
//! compiled natively (its tests check every line it lights), and the backend serves them to the
//! page (`GET /api/excerpts/{file}/{name}`) so the page's wasm does not carry the code of all
//! thirteen models when it shows one. Both find the region with [`find_region`].

/// The marker line that opens a region, before its name.
pub const BEGIN: &str = "// kettle:code-begin ";
/// The marker line that closes a region, before its name.
pub const END: &str = "// kettle:code-end ";

/// Whether bytes `start..end` of `src` are, after their indentation, exactly `tag` + `name`.
const fn is_marker(src: &[u8], start: usize, end: usize, tag: &str, name: &str) -> bool {
    let mut i = start;
    while i < end && src[i] == b' ' {
        i += 1;
    }
    let (tag, name) = (tag.as_bytes(), name.as_bytes());
    if end - i != tag.len() + name.len() {
        return false;
    }
    let mut k = 0;
    while k < tag.len() {
        if src[i + k] != tag[k] {
            return false;
        }
        k += 1;
    }
    let mut k = 0;
    while k < name.len() {
        if src[i + tag.len() + k] != name[k] {
            return false;
        }
        k += 1;
    }
    true
}

/// Where region `name` of `src` is: `(first byte, end byte, line number of its first line)`,
/// the lines between its two markers; `None` if either marker is missing. A `const fn`, so the
/// page can cut regions while it is compiled.
pub const fn find_region(src: &str, name: &str) -> Option<(usize, usize, usize)> {
    let b = src.as_bytes();
    let (mut start, mut line) = (0, 1);
    let mut begun: Option<(usize, usize)> = None;
    while start < b.len() {
        let mut end = start;
        while end < b.len() && b[end] != b'\n' {
            end += 1;
        }
        match begun {
            None => {
                if is_marker(b, start, end, BEGIN, name) {
                    begun = Some((end + 1, line + 1));
                }
            }
            Some((from, first)) => {
                if is_marker(b, start, end, END, name) {
                    return Some((from, start, first));
                }
            }
        }
        start = end + 1;
        line += 1;
    }
    None
}

/// A region as the backend serves it to the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExcerptText {
    /// The file's line number of the region's first line.
    pub first: usize,
    /// The region's lines, each ending in `\n` (marker lines of regions inside it included).
    pub text: String,
}

crate::wire::deserialize_fields! {
    ExcerptText { first, text }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "fn a() {\n    // kettle:code-begin one\n    x();\n    y();\n    // kettle:code-end one\n}\n";

    #[test]
    fn a_region_is_the_lines_between_its_markers_with_their_line_number() {
        let (from, to, first) = find_region(SRC, "one").unwrap();
        assert_eq!(&SRC[from..to], "    x();\n    y();\n");
        assert_eq!(first, 3);
    }

    #[test]
    fn a_region_without_both_markers_or_named_only_in_part_is_not_found() {
        assert_eq!(find_region(SRC, "two"), None);
        assert_eq!(find_region(SRC, "on"), None);
        assert_eq!(find_region("// kettle:code-begin one\nx\n", "one"), None);
    }
}
