//! What the csv crate lets through: it grows a record's buffer without limit
//! (a file of NUL bytes is one endless field) and ends a quoted field that is
//! never closed at the end of the file, silently swallowing every row after
//! the opening quote. [`Guard`] sits between the file and the csv reader and
//! follows the same quoting rules over the raw bytes (RFC 4180 with `""` for
//! a quote, as the crate's defaults), so that it can refuse both as pandas
//! does: a record over [`MAX_RECORD_BYTES`], and "EOF inside string".

use super::limits::{MAX_RECORD_BYTES, size};
use std::io::{self, Read};

/// Why the guard stopped the read; carried inside the `io::Error` that the
/// csv reader hands back, and turned into the dataset's error there.
#[derive(Debug)]
pub(super) enum Refusal {
    /// A record longer than [`MAX_RECORD_BYTES`], starting at `line`.
    TooLong { line: u64 },
    /// A quoted value opened at `line` and still open at the end of the file.
    Unterminated { line: u64 },
}

impl Refusal {
    /// One sentence about the `row`-th record (0 for the header).
    pub(super) fn describe(&self, row: u64) -> String {
        let at = |line: u64| match row {
            0 => format!("the header (line {line})"),
            row => format!("row {row} (line {line})"),
        };
        match self {
            Refusal::TooLong { line } => format!(
                "{} is longer than mlci's limit of {} for one record",
                at(*line),
                size(MAX_RECORD_BYTES)
            ),
            Refusal::Unterminated { line } => format!(
                "{}: EOF inside string: the quote that opens a value there is never closed",
                at(*line)
            ),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(0))
    }
}

impl std::error::Error for Refusal {}

#[derive(Clone, Copy, PartialEq)]
enum State {
    /// At the start of a field (or of a record).
    FieldStart,
    /// Inside a field that did not start with a quote: quotes are literal.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// A quote inside a quoted field: it closes the field, unless another
    /// quote follows (`""`, an escaped quote).
    QuoteInQuoted,
}

pub(super) struct Guard<R> {
    inner: R,
    state: State,
    /// Lines start at 1; `record_line` is where the current record began,
    /// `quote_line` where the open quote did.
    line: u64,
    record_line: u64,
    quote_line: u64,
    /// Bytes of the current record so far.
    record_bytes: u64,
}

impl<R: Read> Guard<R> {
    pub(super) fn new(inner: R) -> Self {
        Guard {
            inner,
            state: State::FieldStart,
            line: 1,
            record_line: 1,
            quote_line: 1,
            record_bytes: 0,
        }
    }

    /// Follows `bytes` through the quoting rules. Inside an unquoted field
    /// only a comma or a line end can change anything, inside a quoted one
    /// only a quote or a new line: the bytes in between are skipped with
    /// `memchr` and counted, and the rest go through [`Guard::step`] one by
    /// one, as all of them once did (a quarter of `mlci data validate`'s time).
    fn scan(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        if self.state != State::Quoted
            && self.state != State::QuoteInQuoted
            && memchr::memchr(b'"', bytes).is_none()
        {
            return self.scan_unquoted(bytes);
        }
        let mut at = 0;
        while at < bytes.len() {
            let rest = &bytes[at..];
            let next = match self.state {
                State::Unquoted => memchr::memchr3(b',', b'\n', b'\r', rest),
                State::Quoted => memchr::memchr2(b'"', b'\n', rest),
                State::FieldStart | State::QuoteInQuoted => Some(0),
            };
            let Some(skip) = next else {
                return self.count(rest.len() as u64);
            };
            self.count(skip as u64)?;
            at += skip;
            self.step(bytes[at])?;
            at += 1;
        }
        Ok(())
    }

    /// [`Guard::scan`] of bytes without a quote, outside a quoted field
    /// (most files, most of the time): only line ends matter, found by
    /// `memchr` over the whole buffer rather than field by field.
    fn scan_unquoted(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let mut start = 0;
        for end in memchr::memchr2_iter(b'\n', b'\r', bytes) {
            self.count((end - start) as u64)?;
            self.step(bytes[end])?;
            start = end + 1;
        }
        self.count((bytes.len() - start) as u64)?;
        // The state after the last byte: a field starts after a comma or a
        // line end, and the bytes of one that did not start with a quote
        // are unquoted.
        if let Some(&last) = bytes[start..].last() {
            self.state = if last == b',' {
                State::FieldStart
            } else {
                State::Unquoted
            };
        }
        Ok(())
    }

    /// Bytes that change neither the state nor the line.
    fn count(&mut self, bytes: u64) -> Result<(), Refusal> {
        self.record_bytes += bytes;
        if self.record_bytes > MAX_RECORD_BYTES {
            return Err(Refusal::TooLong {
                line: self.record_line,
            });
        }
        Ok(())
    }

    /// One byte through the quoting rules.
    fn step(&mut self, byte: u8) -> Result<(), Refusal> {
        self.record_bytes += 1;
        let terminator = byte == b'\n' || byte == b'\r';
        self.state = match (self.state, byte) {
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::FieldStart, b'"') => {
                self.quote_line = self.line;
                State::Quoted
            }
            (_, b',') => State::FieldStart,
            (_, _) if terminator => {
                self.record_bytes = 0;
                self.record_line = self.line + u64::from(byte == b'\n');
                State::FieldStart
            }
            _ => State::Unquoted,
        };
        if byte == b'\n' {
            self.line += 1;
        }
        // The limit, checked after a line end has reset the count.
        self.count(0)
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && self.state == State::Quoted {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Refusal::Unterminated {
                    line: self.quote_line,
                },
            ));
        }
        self.scan(&buf[..n])
            .map_err(|refusal| io::Error::new(io::ErrorKind::InvalidData, refusal))?;
        Ok(n)
    }
}

/// The guard's refusal inside an error the csv reader returned, if it is one.
pub(super) fn refusal(error: &io::Error) -> Option<&Refusal> {
    error.get_ref()?.downcast_ref::<Refusal>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard's state after `bytes`, read in chunks of `chunk`.
    fn follow(bytes: &[u8], chunk: usize, fast: bool) -> (u8, u64, u64, u64, u64, bool) {
        let mut guard = Guard::new(io::empty());
        let mut refused = false;
        for part in bytes.chunks(chunk.max(1)) {
            let result = if fast {
                guard.scan(part)
            } else {
                part.iter().try_for_each(|&b| guard.step(b))
            };
            if result.is_err() {
                refused = true;
                break;
            }
        }
        (
            guard.state as u8,
            guard.line,
            guard.record_line,
            guard.quote_line,
            guard.record_bytes,
            refused,
        )
    }

    #[test]
    fn skipping_ahead_ends_where_stepping_through_every_byte_does() {
        // SplitMix64 over an alphabet of the bytes that matter and one that does not.
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let with_quotes = b"a,\"\n\rbbbb";
        let without = b"a,\n\rbbbb,,";
        for case in 0..4_000 {
            // Half without quotes: the path that skips from line end to line end.
            let alphabet: &[u8] = if case % 2 == 0 { with_quotes } else { without };
            let len = (next() % 200) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let chunk = 1 + (next() % 17) as usize;
            assert_eq!(
                follow(&bytes, chunk, true),
                follow(&bytes, chunk, false),
                "{:?} in chunks of {chunk}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn a_record_over_the_limit_is_refused_in_a_skipped_stretch_too() {
        let long = vec![b'x'; MAX_RECORD_BYTES as usize + 1];
        let mut guard = Guard::new(io::empty());
        assert!(matches!(
            guard.scan(&long),
            Err(Refusal::TooLong { line: 1 })
        ));
        let mut quoted = vec![b'"'];
        quoted.extend(std::iter::repeat_n(b'y', MAX_RECORD_BYTES as usize));
        let mut guard = Guard::new(io::empty());
        assert!(matches!(
            guard.scan(&quoted),
            Err(Refusal::TooLong { line: 1 })
        ));
    }
}
