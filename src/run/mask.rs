//! Secret masking of step output, as GitHub's runner masks its log
//! (actions/runner `SecretMasker`, `ValueSecret`, `ValueEncoders`, and
//! `Worker.InitializeSecretMasker`).
//!
//! - Every occurrence of every registered value is found, overlapping ones
//!   included; occurrences that overlap or touch merge, and each merged run
//!   becomes one `***`.
//! - A value is registered with its encodings too (base64 at byte offsets
//!   0, 1 and 2, JSON-string, URI-data, XML and expression-string escapes,
//!   `"…"`-trimmed), so that a secret printed in one of those forms is
//!   masked as well.
//! - There is no minimum length: GitHub ignores only empty values (a
//!   secret of one character masks that character everywhere).
//!   `::add-mask::` additionally refuses whitespace-only values (see
//!   [`crate::run::commands`]).
//! - Secrets (`secrets.*`) are trimmed, registered whole, and each of their
//!   lines (split at `\r`/`\n`, trimmed, empty ones dropped) is registered
//!   too, because step output is masked line by line: [`Masker::add`].
//!   `::add-mask::` registers its value as written: [`Masker::add_value`].
//!
//! [`LineMasker`] masks a byte stream: it cuts it into lines as .NET's
//! `StreamReader.ReadLine` does (at `\n`, `\r\n` or a lone `\r`), and keeps
//! memory bounded: a line longer than its limit is passed on in pieces,
//! holding back enough bytes to catch a secret that spans a cut, so that
//! the pieces put together read exactly like the whole line masked.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

/// The text that replaces a secret.
pub const MASK: &str = "***";

#[derive(Debug)]
struct Pattern {
    bytes: Vec<u8>,
    /// KMP failure function.
    fail: Vec<usize>,
}

impl Pattern {
    fn new(bytes: Vec<u8>) -> Pattern {
        let mut fail = vec![0usize; bytes.len()];
        let mut k = 0usize;
        for i in 1..bytes.len() {
            while k > 0 && bytes[i] != bytes[k] {
                k = fail[k - 1];
            }
            if bytes[i] == bytes[k] {
                k += 1;
            }
            fail[i] = k;
        }
        Pattern { bytes, fail }
    }

    /// Every occurrence `[start, end)`, overlapping ones included, in
    /// linear time.
    fn find_all(&self, hay: &[u8], out: &mut Vec<(usize, usize)>) {
        let m = self.bytes.len();
        if m == 0 || hay.len() < m {
            return;
        }
        let mut k = 0usize;
        for (i, &b) in hay.iter().enumerate() {
            while k > 0 && b != self.bytes[k] {
                k = self.fail[k - 1];
            }
            if b == self.bytes[k] {
                k += 1;
            }
            if k == m {
                out.push((i + 1 - m, i + 1));
                k = self.fail[k - 1];
            }
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    originals: HashSet<String>,
    seen: HashSet<Vec<u8>>,
    patterns: Vec<Pattern>,
    max_len: usize,
}

/// The set of values to mask. Cloning gives another handle to the same
/// set, so one `Masker` can serve stdout, stderr and every step of a job;
/// a value added through any handle applies everywhere from then on.
#[derive(Debug, Clone, Default)]
pub struct Masker {
    inner: Arc<RwLock<Inner>>,
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Registers a secret as GitHub registers `secrets.*` values: trimmed,
    /// whole, and each of its lines trimmed.
    pub fn add(&self, secret: &str) {
        let value = secret.trim();
        self.add_value(value);
        for line in value.split(['\r', '\n']).filter(|l| !l.is_empty()) {
            self.add_value(line.trim());
        }
    }

    /// Registers one value exactly as given (GitHub's `AddValue`, used by
    /// `::add-mask::`), with its encodings. Empty values are ignored.
    pub fn add_value(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        if !inner.originals.insert(value.to_string()) {
            return;
        }
        let mut variants = vec![value.to_string()];
        variants.extend(encodings(value));
        for v in variants {
            if v.is_empty() || inner.seen.contains(v.as_bytes()) {
                continue;
            }
            inner.seen.insert(v.as_bytes().to_vec());
            inner.max_len = inner.max_len.max(v.len());
            inner.patterns.push(Pattern::new(v.into_bytes()));
        }
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .map(|i| i.patterns.is_empty())
            .unwrap_or(true)
    }

    /// Length in bytes of the longest registered pattern.
    pub fn max_len(&self) -> usize {
        self.inner.read().map(|i| i.max_len).unwrap_or(0)
    }

    /// Masks a string.
    pub fn mask(&self, input: &str) -> String {
        let out = self.mask_bytes(input.as_bytes());
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Masks bytes (matching is byte-wise, so invalid UTF-8 around a secret
    /// does not stop it from being found).
    pub fn mask_bytes(&self, input: &[u8]) -> Vec<u8> {
        let runs = self.runs(input);
        let mut out = Vec::with_capacity(input.len());
        let mut pos = 0;
        for (s, e) in runs {
            out.extend_from_slice(&input[pos..s]);
            out.extend_from_slice(MASK.as_bytes());
            pos = e;
        }
        out.extend_from_slice(&input[pos..]);
        out
    }

    /// Whether what `reader` yields holds a registered value anywhere. Read in
    /// pieces that overlap by the longest value, so memory stays bounded and
    /// a value cut between two pieces is still found.
    pub fn found_in(&self, mut reader: impl std::io::Read) -> std::io::Result<bool> {
        if self.is_empty() {
            return Ok(false);
        }
        let overlap = self.max_len().saturating_sub(1);
        let mut window: Vec<u8> = Vec::new();
        let mut piece = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut piece) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            window.extend_from_slice(&piece[..n]);
            if !self.runs(&window).is_empty() {
                return Ok(true);
            }
            let keep_from = window.len().saturating_sub(overlap);
            window.drain(..keep_from);
        }
    }

    /// Merged runs of secret bytes in `hay`, sorted; touching runs merge.
    fn runs(&self, hay: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        if let Ok(inner) = self.inner.read() {
            for p in &inner.patterns {
                p.find_all(hay, &mut found);
            }
        }
        merge(found)
    }
}

fn merge(mut found: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    found.sort_unstable();
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    for (s, e) in found {
        match runs.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => runs.push((s, e)),
        }
    }
    runs
}

/// The encoded forms GitHub's runner also masks (`ValueEncoders` as
/// registered in `HostContext`).
fn encodings(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    let shift = |n: usize| {
        if bytes.len() > n {
            base64(&bytes[n..])
        } else {
            base64(bytes)
        }
    };
    let mut out = vec![
        base64(bytes),
        shift(1),
        shift(2),
        value.replace('"', "\\\""),
        value.replace('\'', "''"),
        json_escape(value),
        uri_escape(value),
        xml_escape(value),
    ];
    if value.encode_utf16().count() > 8 && value.starts_with('"') && value.ends_with('"') {
        out.push(value[1..value.len() - 1].to_string());
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let b = [
            c[0],
            c.get(1).copied().unwrap_or(0),
            c.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// Newtonsoft `JsonConvert.ToString` without the surrounding quotes.
fn json_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// .NET `Uri.EscapeDataString`: everything but `A-Z a-z 0-9 - _ . ~` is
/// percent-encoded as UTF-8 with upper-case hex.
fn uri_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// .NET `SecurityElement.Escape`.
fn xml_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// A piece of masked output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedLine {
    /// The masked text, without its line terminator. Invalid UTF-8 is
    /// replaced by U+FFFD.
    pub text: String,
    /// `true` when a line ends here; `false` for a piece of a line longer
    /// than the limit (more of the same line follows).
    pub end_of_line: bool,
}

/// A line as handed to [`LineMasker::push_with`]'s callback.
#[derive(Debug)]
pub struct StreamLine<'a> {
    /// The masked text (masks registered up to this line applied).
    pub masked: String,
    /// The raw line (lossily decoded), for workflow-command parsing; only
    /// for a whole line that was never cut (`None` for pieces of a long
    /// line).
    pub raw: Option<&'a str>,
    /// `true` when a line ends here, `false` for a piece of a long line.
    pub end_of_line: bool,
}

/// Default limit on a line before it is passed on in pieces.
pub const DEFAULT_MAX_LINE: usize = 1024 * 1024;

/// Streaming masker: push arbitrary chunks, get masked lines.
#[derive(Debug)]
pub struct LineMasker {
    masker: Masker,
    max_line: usize,
    /// Bytes of the current line not yet passed on.
    buf: Vec<u8>,
    /// Last bytes of the current line already passed on, kept to find a
    /// secret that began before the cut.
    ctx: Vec<u8>,
    /// Whether the last byte passed on was inside a mask.
    ended_masked: bool,
    /// Whether part of the current line was passed on already.
    cut: bool,
    /// Bytes at the front of `buf` known to hold no line terminator.
    scanned: usize,
}

impl LineMasker {
    /// A line masker using `masker` (a handle: masks added to it later
    /// apply from then on).
    pub fn new(masker: Masker) -> LineMasker {
        LineMasker::with_max_line(masker, DEFAULT_MAX_LINE)
    }

    /// Like [`LineMasker::new`], passing on lines longer than `max_line`
    /// bytes in pieces (at least 1).
    pub fn with_max_line(masker: Masker, max_line: usize) -> LineMasker {
        LineMasker {
            masker,
            max_line: max_line.max(1),
            buf: Vec::new(),
            ctx: Vec::new(),
            ended_masked: false,
            cut: false,
            scanned: 0,
        }
    }

    /// The masker this uses.
    pub fn masker(&self) -> &Masker {
        &self.masker
    }

    /// Bytes held between calls (for tests and monitoring): the unfinished
    /// line plus the look-behind kept after a cut.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() + self.ctx.len()
    }

    /// Pushes a chunk and returns the masked lines and pieces it completes.
    /// A mask added after this call applies to lines returned by later
    /// calls only; use [`LineMasker::push_with`] to act on each line before
    /// the next one is masked.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<MaskedLine> {
        let mut out = Vec::new();
        self.push_with(chunk, |l| {
            out.push(MaskedLine {
                text: l.masked,
                end_of_line: l.end_of_line,
            })
        });
        out
    }

    /// Passes on what is left (a last line without terminator).
    pub fn finish(&mut self) -> Vec<MaskedLine> {
        let mut out = Vec::new();
        self.finish_with(|l| {
            out.push(MaskedLine {
                text: l.masked,
                end_of_line: l.end_of_line,
            })
        });
        out
    }

    /// Pushes a chunk and calls `f` for each line or piece, in order, each
    /// masked just before the call, so that masks `f` registers (for
    /// `::add-mask::`) apply to the very next line.
    pub fn push_with(&mut self, chunk: &[u8], mut f: impl FnMut(StreamLine<'_>)) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let room = self.max_line.saturating_sub(self.buf.len()).max(1);
            let take = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            self.drain_lines(false, &mut f);
            if self.buf.len() >= self.max_line {
                self.flush_piece(&mut f);
            }
        }
    }

    /// Ends the stream, calling `f` for what is left.
    pub fn finish_with(&mut self, mut f: impl FnMut(StreamLine<'_>)) {
        self.drain_lines(true, &mut f);
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit_line_end(&line, &mut f);
        } else if self.cut {
            // The line ended exactly at a cut: close it.
            self.emit_line_end(&[], &mut f);
        }
        self.scanned = 0;
        self.reset_line();
    }

    fn reset_line(&mut self) {
        self.ctx.clear();
        self.ended_masked = false;
        self.cut = false;
    }

    fn drain_lines(&mut self, at_end: bool, f: &mut impl FnMut(StreamLine<'_>)) {
        let mut start = 0usize;
        let mut from = self.scanned.min(self.buf.len());
        loop {
            let Some(rel) = self.buf[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
            else {
                from = self.buf.len();
                break;
            };
            let i = from + rel;
            let term = if self.buf[i] == b'\r' {
                match self.buf.get(i + 1) {
                    Some(b'\n') => 2,
                    Some(_) => 1,
                    None if at_end => 1,
                    None => {
                        // Could be "\r\n" split across chunks: wait.
                        from = i;
                        break;
                    }
                }
            } else {
                1
            };
            let line = self.buf[start..i].to_vec();
            self.emit_line_end(&line, f);
            self.reset_line();
            start = i + term;
            from = start;
        }
        self.buf.drain(..start);
        self.scanned = from - start;
    }

    /// Emits the end of a line: `line` is its remaining bytes (after any
    /// pieces already passed on).
    fn emit_line_end(&mut self, line: &[u8], f: &mut impl FnMut(StreamLine<'_>)) {
        if !self.cut {
            let masked = self.masker.mask_bytes(line);
            let masked = String::from_utf8_lossy(&masked).into_owned();
            let raw = String::from_utf8_lossy(line);
            f(StreamLine {
                masked,
                raw: Some(&raw),
                end_of_line: true,
            });
            return;
        }
        let text = self.masked_segment(line, line.len());
        f(StreamLine {
            masked: text,
            raw: None,
            end_of_line: true,
        });
    }

    /// Masks `seg[..upto]` in the context of the bytes already passed on,
    /// updating the look-behind state.
    fn masked_segment(&mut self, seg: &[u8], upto: usize) -> String {
        let off = self.ctx.len();
        let mut hay = Vec::with_capacity(off + seg.len());
        hay.extend_from_slice(&self.ctx);
        hay.extend_from_slice(seg);
        let runs = self.masker.runs(&hay);
        self.emit_segment(&hay, off, off + upto, &runs)
    }

    /// Masks `hay[off..end]` given the merged runs of `hay`, where
    /// `hay[..off]` is the look-behind; keeps the new look-behind.
    fn emit_segment(
        &mut self,
        hay: &[u8],
        off: usize,
        end: usize,
        runs: &[(usize, usize)],
    ) -> String {
        let mut out = Vec::with_capacity(end - off);
        let mut pos = off;
        let mut ended_masked = self.ended_masked && end == off;
        for &(s, e) in runs {
            if e <= off || s >= end {
                continue;
            }
            let s_c = s.max(off);
            let e_c = e.min(end);
            out.extend_from_slice(&hay[pos..s_c]);
            // A run that began (or touches) what was already passed on
            // continues the mask printed then; GitHub merges such runs.
            let continues = s <= off && self.ended_masked;
            if !continues {
                out.extend_from_slice(MASK.as_bytes());
            }
            pos = e_c;
            ended_masked = e_c == end;
        }
        if pos < end {
            out.extend_from_slice(&hay[pos..end]);
            ended_masked = false;
        }
        let keep = self.masker.max_len().saturating_sub(1);
        let ctx_start = end.saturating_sub(keep);
        self.ctx = hay[ctx_start..end].to_vec();
        self.ended_masked = ended_masked;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Passes on the front of an over-long line, keeping back enough bytes
    /// to catch a secret that spans the cut.
    fn flush_piece(&mut self, f: &mut impl FnMut(StreamLine<'_>)) {
        let keep = self.masker.max_len().saturating_sub(1);
        // A trailing '\r' may be the start of "\r\n": never pass it on here.
        let avail = if self.buf.last() == Some(&b'\r') {
            self.buf.len() - 1
        } else {
            self.buf.len()
        };
        if avail <= keep {
            return;
        }
        let mut cut = utf8_cut(&self.buf, avail - keep);
        let off = self.ctx.len();
        let mut hay = Vec::with_capacity(off + self.buf.len());
        hay.extend_from_slice(&self.ctx);
        hay.extend_from_slice(&self.buf);
        let runs = self.masker.runs(&hay);
        // Extend over a secret that straddles the cut.
        for &(s, e) in &runs {
            if s < off + cut && e > off + cut {
                cut = e - off;
            }
        }
        if cut == 0 {
            return;
        }
        let text = self.emit_segment(&hay, off, off + cut, &runs);
        self.buf.drain(..cut);
        self.scanned = self.buf.len() - usize::from(self.buf.last() == Some(&b'\r'));
        self.cut = true;
        f(StreamLine {
            masked: text,
            raw: None,
            end_of_line: false,
        });
    }
}

/// Moves `cut` back to the start of a UTF-8 sequence that would straddle
/// it (one whose lead byte is before `cut` and whose end is after).
fn utf8_cut(buf: &[u8], cut: usize) -> usize {
    for k in 1..=cut.min(4) {
        let b = buf[cut - k];
        if b & 0xC0 == 0x80 {
            continue;
        }
        let n = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if cut - k + n > cut { cut - k } else { cut };
    }
    cut
}
