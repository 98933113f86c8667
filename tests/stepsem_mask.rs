//! Secret masking, checked against actions/runner `SecretMasker`,
//! `ValueSecret`, `ValueEncoders` and `Worker.InitializeSecretMasker`.

use mlci::run::mask::*;

fn lines(lm: &mut LineMasker, chunks: &[&[u8]]) -> String {
    let mut out = String::new();
    for c in chunks {
        for l in lm.push(c) {
            out.push_str(&l.text);
            if l.end_of_line {
                out.push('\n');
            }
        }
    }
    for l in lm.finish() {
        out.push_str(&l.text);
        if l.end_of_line {
            out.push('\n');
        }
    }
    out
}

#[test]
fn masks_every_occurrence() {
    let m = Masker::new();
    m.add("hunter2");
    assert_eq!(m.mask("a hunter2 b hunter2hunter2 c"), "a *** b *** c");
    assert_eq!(m.mask("nothing"), "nothing");
}

#[test]
fn overlapping_and_touching_occurrences_merge() {
    let m = Masker::new();
    m.add_value("aa");
    // GitHub finds overlapping occurrences and merges them: one ***
    assert_eq!(m.mask("xaaay"), "x***y");
    let m = Masker::new();
    m.add_value("abc");
    m.add_value("cde");
    assert_eq!(m.mask("abcde"), "***");
}

#[test]
fn no_minimum_length_but_empty_ignored() {
    let m = Masker::new();
    m.add_value("");
    m.add("   ");
    assert!(m.is_empty());
    m.add_value("x");
    assert_eq!(m.mask("xyx"), "***y***");
}

#[test]
fn multi_line_secret_masks_each_line() {
    let m = Masker::new();
    m.add("  line-one\r\nline-two\n\n  line-three  \n");
    assert_eq!(m.mask("line-one"), "***");
    assert_eq!(m.mask("see line-two here"), "see *** here");
    assert_eq!(m.mask("line-three"), "***");
    assert_eq!(m.mask("line-one\r\nline-two\n\n  line-three"), "***");
    let mut lm = LineMasker::new(m.clone());
    assert_eq!(
        lines(&mut lm, &[b"a line-one\nb line-two\nc line-three\n"]),
        "a ***\nb ***\nc ***\n"
    );
}

#[test]
fn add_value_keeps_the_value_as_written() {
    // ::add-mask:: registers its value as is (no trimming, no line split)
    let m = Masker::new();
    m.add_value(" padded ");
    assert_eq!(m.mask("a padded b"), "a***b");
    assert_eq!(m.mask("padded"), "padded");
}

#[test]
fn encoded_forms_are_masked() {
    let m = Masker::new();
    m.add_value("p@ss:w\"rd");
    // base64 of the secret
    assert_eq!(m.mask("cEBzczp3InJk"), "***");
    // JSON-escaped and URI-escaped forms
    assert_eq!(m.mask(r#"{"pw":"p@ss:w\"rd"}"#), r#"{"pw":"***"}"#);
    assert_eq!(m.mask("u=p%40ss%3Aw%22rd"), "u=***");
    // base64 at byte offsets 1 and 2 (a secret after a prefix in base64)
    let m = Masker::new();
    m.add_value("secretvalue");
    assert_eq!(m.mask("ZWNyZXR2YWx1ZQ=="), "***");
    assert_eq!(m.mask("Y3JldHZhbHVl"), "***");
}

#[test]
fn secret_split_at_every_byte_position_across_two_chunks() {
    let secret = "s3cr3t-välue";
    let m = Masker::new();
    m.add(secret);
    let line = format!("pre {secret} post\n");
    let bytes = line.as_bytes();
    for cut in 0..=bytes.len() {
        let mut lm = LineMasker::new(m.clone());
        let out = lines(&mut lm, &[&bytes[..cut], &bytes[cut..]]);
        assert_eq!(out, "pre *** post\n", "cut at {cut}");
    }
}

#[test]
fn secret_split_across_a_long_line_cut_at_every_position() {
    // small line limit: the line is passed on in pieces, and the secret
    // must be caught wherever the cut falls
    let secret = "TOPSECRET";
    let m = Masker::new();
    m.add(secret);
    for pad in 0..40 {
        let line = format!("{}{secret}{}", "x".repeat(pad), "y".repeat(40 - pad));
        let whole = m.mask(&line);
        for chunk in 1..=12 {
            let mut lm = LineMasker::with_max_line(m.clone(), 16);
            let chunks: Vec<&[u8]> = line.as_bytes().chunks(chunk).collect();
            let out = lines(&mut lm, &chunks);
            assert_eq!(out, format!("{whole}\n"), "pad {pad} chunk {chunk}");
        }
    }
}

#[test]
fn chained_occurrences_in_a_long_line_give_one_mask() {
    let m = Masker::new();
    m.add_value("aa");
    let line = format!("b{}c", "a".repeat(1000));
    for chunk in [1, 3, 7, 64] {
        let mut lm = LineMasker::with_max_line(m.clone(), 10);
        let chunks: Vec<&[u8]> = line.as_bytes().chunks(chunk).collect();
        assert_eq!(lines(&mut lm, &chunks), "b***c\n");
    }
}

#[test]
fn lines_end_like_dotnet_readline() {
    let m = Masker::new();
    let mut lm = LineMasker::new(m);
    // \n, \r\n (also split across chunks), lone \r, empty lines
    let out = lines(&mut lm, &[b"a\nb\r", b"\nc\rd\n\ne"]);
    assert_eq!(out, "a\nb\nc\nd\n\ne\n");
    let mut lm = LineMasker::new(Masker::new());
    assert_eq!(lines(&mut lm, &[b"x\r"]), "x\n");
    let mut lm = LineMasker::new(Masker::new());
    assert_eq!(lines(&mut lm, &[b"x\n"]), "x\n");
    let mut lm = LineMasker::new(Masker::new());
    assert_eq!(lines(&mut lm, &[b""]), "");
}

#[test]
fn masks_added_mid_stream_apply_from_then_on() {
    let m = Masker::new();
    let mut lm = LineMasker::new(m.clone());
    let first = lm.push(b"tok123 one\n");
    m.add("tok123");
    let second = lm.push(b"tok123 two\n");
    assert_eq!(first[0].text, "tok123 one");
    assert_eq!(second[0].text, "*** two");
}

#[test]
fn invalid_utf8_is_lossy_and_does_not_hide_secrets() {
    let m = Masker::new();
    m.add("key");
    let mut lm = LineMasker::new(m);
    let out = lines(&mut lm, &[b"\xff\xfekey\xc3", b"\x28 ok\n"]);
    assert_eq!(out, "\u{fffd}\u{fffd}***\u{fffd}( ok\n");
}

#[test]
fn multibyte_chars_survive_cuts() {
    let m = Masker::new();
    let line = "é".repeat(100) + "€€€";
    for max in [1, 2, 3, 5, 8] {
        for chunk in [1, 2, 3, 5] {
            let mut lm = LineMasker::with_max_line(m.clone(), max);
            let chunks: Vec<&[u8]> = line.as_bytes().chunks(chunk).collect();
            assert_eq!(
                lines(&mut lm, &chunks),
                format!("{line}\n"),
                "max {max} chunk {chunk}"
            );
        }
    }
}

#[test]
fn raw_line_is_given_for_whole_lines_only() {
    let m = Masker::new();
    m.add("pw12345");
    let mut lm = LineMasker::with_max_line(m, 8);
    let mut seen = Vec::new();
    lm.push_with(b"short pw12345\n", |l| {
        seen.push((l.raw.map(str::to_string), l.masked))
    });
    // "short pw12345" is longer than 8: cut, no raw
    assert!(seen.iter().all(|(raw, _)| raw.is_none()));
    let mut lm = LineMasker::new(Masker::new());
    let mut seen = Vec::new();
    lm.push_with(b"::group::x\n", |l| seen.push(l.raw.map(str::to_string)));
    assert_eq!(seen, vec![Some("::group::x".to_string())]);
}

#[test]
fn fifty_megabyte_line_in_64k_chunks_keeps_memory_bounded() {
    let secret = "S3CR3T-TOKEN-VALUE";
    let m = Masker::new();
    m.add(secret);
    let max_line = 256 * 1024;
    let mut lm = LineMasker::with_max_line(m.clone(), max_line);
    let mut chunk = vec![b'x'; 64 * 1024];
    // put a secret across every chunk boundary
    let s = secret.as_bytes();
    let half = s.len() / 2;
    chunk[..s.len() - half].copy_from_slice(&s[half..]);
    let len = chunk.len();
    chunk[len - half..].copy_from_slice(&s[..half]);
    let total = 50 * 1024 * 1024 / chunk.len();
    let bound = max_line + 2 * m.max_len() + 8;
    let mut out_bytes = 0usize;
    let mut masks = 0usize;
    let mut max_seen = 0usize;
    for _ in 0..total {
        for l in lm.push(&chunk) {
            assert!(!l.end_of_line);
            assert!(!l.text.contains("S3CR3T") && !l.text.contains("TOKEN-VALUE"));
            masks += l.text.matches("***").count();
            out_bytes += l.text.len();
        }
        max_seen = max_seen.max(lm.buffered_len());
        assert!(lm.buffered_len() <= bound, "buffered {}", lm.buffered_len());
    }
    for l in lm.finish() {
        masks += l.text.matches("***").count();
        out_bytes += l.text.len();
    }
    // one full secret spans each of the total-1 inner boundaries
    assert_eq!(masks, total - 1);
    assert!(out_bytes > 49 * 1024 * 1024);
    assert!(max_seen <= bound);
}

#[test]
fn no_panic_on_random_streams() {
    // small deterministic generator
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = b"ab\r\n\xc3\xa9\xff*";
    for round in 0..200 {
        let m = Masker::new();
        m.add_value("ab");
        m.add_value("ba\u{e9}");
        let len = (next() % 300) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let whole = {
            let mut lm = LineMasker::new(m.clone());
            lines(&mut lm, &[&data])
        };
        let max = 1 + (next() % 9) as usize;
        let mut lm = LineMasker::with_max_line(m.clone(), max);
        let mut pos = 0;
        let mut chunks = Vec::new();
        while pos < data.len() {
            let n = 1 + (next() % 7) as usize;
            let end = (pos + n).min(data.len());
            chunks.push(&data[pos..end]);
            pos = end;
        }
        let pieces = lines(&mut lm, &chunks);
        // pieces put together read like whole lines masked
        assert_eq!(
            pieces.replace('\u{fffd}', "?"),
            whole.replace('\u{fffd}', "?"),
            "round {round}"
        );
        assert!(!pieces.contains("ab"), "round {round}: {pieces:?}");
    }
}

#[test]
fn found_in_finds_a_value_cut_between_two_pieces_of_a_large_file() {
    let m = Masker::new();
    assert!(!m.found_in(&b"anything"[..]).unwrap(), "nothing registered");
    m.add("tok-81c2");
    // The reader hands out 1 MiB pieces: the value straddles the first cut.
    let mut data = vec![b'x'; (1 << 20) - 4];
    data.extend_from_slice(b"tok-81c2");
    data.extend(vec![b'y'; 3 << 20]);
    assert!(m.found_in(&data[..]).unwrap());
    // Its base64 form counts too, as in the log.
    let encoded = format!("{}dG9rLTgxYzI=", "z".repeat(5 << 20));
    assert!(m.found_in(encoded.as_bytes()).unwrap());
    assert!(!m.found_in(&vec![b'x'; 3 << 20][..]).unwrap());
}
