//! What a load sends, and how each echo is checked byte for byte.
//!
//! Every model echoes what it receives upper-cased (ASCII). If every line were the same, a
//! server that mixed up two connections, or sent a line twice, would still look right. So
//! line `n` of connection `c` is its own: `size - 1` lowercase letters drawn from a xorshift
//! generator seeded by `(c, n)`, then `\n`. The echo of it must be exactly those letters
//! upper-cased, then `\n`; anything else is a mismatch.
//!
//! Nothing is stored to check against: the receiving side runs the same generator for the
//! line it expects next, byte by byte as the echo arrives, so checking costs no memory per
//! line in flight however many are queued.

/// The bytes of one line, generated as they are needed.
#[derive(Debug, Clone)]
pub struct LineBytes {
    state: u64,
    /// Bytes still to come, the newline included.
    left: u32,
}

impl LineBytes {
    /// Line `index` of connection `conn`, `size` bytes long (at least 1: the newline).
    pub fn new(conn: u32, index: u64, size: u32) -> LineBytes {
        // splitmix64 of the pair: neighbouring lines and connections get unrelated streams.
        let mut z = (u64::from(conn) << 40) ^ index ^ 0x9e37_79b9_7f4a_7c15;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        LineBytes { state: z | 1, left: size.max(1) }
    }

    /// Bytes of the line not yet produced.
    pub fn left(&self) -> u32 {
        self.left
    }
}

impl Iterator for LineBytes {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        match self.left {
            0 => None,
            1 => {
                self.left = 0;
                Some(b'\n')
            }
            _ => {
                self.left -= 1;
                self.state ^= self.state << 13;
                self.state ^= self.state >> 7;
                self.state ^= self.state << 17;
                Some(b'a' + ((self.state >> 32) % 26) as u8)
            }
        }
    }
}

/// Checks one connection's echoes as they arrive, in pieces of any size.
#[derive(Debug, Clone)]
pub struct EchoCheck {
    conn: u32,
    size: u32,
    /// The line being received.
    index: u64,
    expect: LineBytes,
    /// The line being received already differs from what was sent.
    differs: bool,
}

/// What a piece of echo completed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Lines whose echo is now complete.
    pub lines: u64,
    /// Of those, lines that differed from what was sent.
    pub mismatches: u64,
}

impl EchoCheck {
    /// Expecting the echo of line 0 of `conn`.
    pub fn new(conn: u32, size: u32) -> EchoCheck {
        EchoCheck { conn, size, index: 0, expect: LineBytes::new(conn, 0, size), differs: false }
    }

    /// Lines fully echoed so far.
    pub fn lines(&self) -> u64 {
        self.index
    }

    /// Feeds received bytes; calls `complete` once per line finished (with whether it
    /// matched), in order.
    pub fn feed(&mut self, bytes: &[u8], mut complete: impl FnMut(bool)) {
        for &b in bytes {
            // `left` is at least 1 here: a line is renewed as soon as it completes.
            let expected = self.expect.next().unwrap_or(b'\n').to_ascii_uppercase();
            self.differs |= b != expected;
            if self.expect.left() == 0 {
                complete(!self.differs);
                self.index += 1;
                self.expect = LineBytes::new(self.conn, self.index, self.size);
                self.differs = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(conn: u32, index: u64, size: u32) -> Vec<u8> {
        LineBytes::new(conn, index, size).collect()
    }

    #[test]
    fn a_line_is_lowercase_letters_then_a_newline_of_the_asked_size() {
        for size in [1, 2, 64, 1000] {
            let l = line(3, 7, size);
            assert_eq!(l.len(), size as usize);
            assert_eq!(l.last(), Some(&b'\n'));
            assert!(l[..l.len() - 1].iter().all(u8::is_ascii_lowercase), "{l:?}");
        }
    }

    #[test]
    fn lines_differ_between_connections_and_between_lines() {
        assert_ne!(line(1, 0, 64), line(2, 0, 64));
        assert_ne!(line(1, 0, 64), line(1, 1, 64));
        assert_eq!(line(1, 5, 64), line(1, 5, 64));
    }

    #[test]
    fn the_upper_cased_echo_in_any_pieces_matches_and_anything_else_does_not() {
        let sent: Vec<u8> = (0..3).flat_map(|i| line(9, i, 20)).collect();
        let echo: Vec<u8> = sent.iter().map(u8::to_ascii_uppercase).collect();
        let mut check = EchoCheck::new(9, 20);
        let mut results = Vec::new();
        for piece in echo.chunks(7) {
            check.feed(piece, |ok| results.push(ok));
        }
        assert_eq!(results, vec![true, true, true]);
        assert_eq!(check.lines(), 3);

        // The same bytes not upper-cased, or another connection's line, are mismatches.
        let mut check = EchoCheck::new(9, 20);
        let mut results = Vec::new();
        check.feed(&sent[..20], |ok| results.push(ok));
        let other: Vec<u8> = line(8, 1, 20).iter().map(u8::to_ascii_uppercase).collect();
        check.feed(&other, |ok| results.push(ok));
        assert_eq!(results, vec![false, false]);
    }
}
