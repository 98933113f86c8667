//! Hostile and unusual datasets (issue 20, items 7, 14 and 15): every reader
//! answers in bounded memory and time whatever the file's size, refuses what
//! pandas and pyarrow refuse, reads the codecs users' tools write, and
//! `schema infer` writes only schemas that `data validate` accepts.

use super::{mlci, write_parquet};
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::Path;

use std::sync::Arc;
use std::time::Duration;

/// What a user would notice of one command: its exit code, its output, the
/// most memory it held and how long it took.
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_mb: u64,
    took: Duration,
}

/// Runs `mlci ARGS`, measured (`common::measure`); it never panics.
fn measured(dir: &Path, args: &[&str]) -> Measured {
    let answer = super::common::measure::mlci(dir, args);
    assert!(
        !answer.stderr.contains("panicked"),
        "mlci {args:?}: {}",
        answer.stderr
    );
    Measured {
        // Killed by a signal: no exit code, and none of those a test expects.
        code: answer.code.unwrap_or(-1),
        stdout: answer.stdout,
        stderr: answer.stderr,
        max_rss_mb: answer.max_rss_kib as u64 / 1024,
        took: answer.elapsed,
    }
}

/// A file of `size` bytes that starts with `head` and is zeros (a hole)
/// after it: free to make at any size.
fn sparse(path: &Path, head: &[u8], size: u64) {
    std::fs::write(path, head).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(size)
        .unwrap();
}

const GB: u64 = 1 << 30;

#[test]
fn endless_records_are_refused_at_a_limit_in_bounded_memory_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    sparse(&d.join("nul.csv"), b"", 3 * GB);
    sparse(&d.join("field.csv"), b"a,b\n1,2\n3,", 3 * GB);
    sparse(&d.join("nul.jsonl"), b"{\"a\": 1}\n", 3 * GB);
    let cases: [(&[&str], &str); 4] = [
        (
            &["data", "schema", "infer", "nul.csv"],
            "nul.csv: the header (line 1) is longer than mlci's limit of 8 MiB for one record",
        ),
        (
            &["data", "schema", "infer", "field.csv"],
            "field.csv: row 2 (line 3) is longer than mlci's limit of 8 MiB for one record",
        ),
        (
            &["data", "schema", "infer", "nul.jsonl"],
            "nul.jsonl: line 2 is longer than mlci's limit of 8 MiB for one record",
        ),
        (
            &["data", "schema", "infer", "/dev/zero", "--format", "csv"],
            "/dev/zero: the header (line 1) is longer than mlci's limit of 8 MiB",
        ),
    ];
    for (args, message) in cases {
        let out = measured(d, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        assert!(out.max_rss_mb < 256, "{args:?}: {} MB", out.max_rss_mb);
        assert!(
            out.took < Duration::from_secs(10),
            "{args:?}: {:?}",
            out.took
        );
    }
    // Lines under the limit are read without building what they nest: four
    // million array items are one text, not four million values.
    let items = vec!["0"; (7 << 20) / 2].join(",");
    std::fs::write(d.join("wide.jsonl"), format!("{{\"a\": [{items}]}}\n")).unwrap();
    let out = measured(d, &["data", "schema", "infer", "wide.jsonl"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.max_rss_mb < 256, "{} MB", out.max_rss_mb);
    // `data validate` reads through the same readers.
    std::fs::write(d.join("s.yml"), "columns: {a: integer, b: integer}\n").unwrap();
    let out = measured(d, &["data", "validate", "field.csv", "--schema", "s.yml"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("row 2 (line 3) is longer"),
        "{}",
        out.stderr
    );
    assert!(out.max_rss_mb < 256, "{} MB", out.max_rss_mb);
}

/// One string column holding one value of `len` bytes, gzip-compressed (a
/// thousandth of that on disk).
fn parquet_with_a_value_of(path: &Path, len: usize) {
    let schema = Arc::new(parse_message_type("message m { required binary s (UTF8); }").unwrap());
    let properties = Arc::new(
        WriterProperties::builder()
            .set_compression(parquet::basic::Compression::GZIP(Default::default()))
            .set_dictionary_enabled(false)
            .build(),
    );
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, properties).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    column
        .typed::<ByteArrayType>()
        .write_batch(&[ByteArray::from(vec![b'x'; len])], None, None)
        .unwrap();
    column.close().unwrap();
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn a_small_parquet_file_holding_a_huge_value_is_refused_before_it_is_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.parquet");
    parquet_with_a_value_of(&path, 64 << 20);
    assert!(std::fs::metadata(&path).unwrap().len() < 100_000);
    let out = measured(dir.path(), &["data", "schema", "infer", "bomb.parquet"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "bomb.parquet: row group 0: column `s`: a page of 64.0 MiB is over mlci's limit of 16 MiB for one page"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "no schema is printed");
    assert!(out.max_rss_mb < 256, "{} MB", out.max_rss_mb);
    // A long value under the limits is read, and kept out of the schema.
    parquet_with_a_value_of(&path, 1 << 20);
    let out = measured(dir.path(), &["data", "schema", "infer", "bomb.parquet"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.len() < 1000, "{}", out.stdout.len());
    assert!(
        out.stdout.contains("s: {type: string, nullable: false}"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_quote_never_closed_is_refused_as_pandas_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("open.csv"), "a,b\n1,x\n2,\"y\n3,z\n4,w\n").unwrap();
    let out = mlci(dir.path(), &["data", "schema", "infer", "open.csv"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("open.csv: row 2 (line 3): EOF inside string: the quote that opens a value there is never closed"),
        "{}",
        out.stderr
    );
    // Quotes that close, doubled quotes and quoted line breaks still read.
    std::fs::write(
        dir.path().join("fine.csv"),
        "a,b\n1,\"x \"\"q\"\" y\"\n2,\"two\nlines\"\n3,a\"b\n",
    )
    .unwrap();
    // --strict: each value is seen once, and only a strict schema lists them.
    let out = mlci(
        dir.path(),
        &["data", "schema", "infer", "fine.csv", "--strict"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("\"x \\\"q\\\" y\""), "{}", out.stdout);
}

#[test]
fn a_parquet_file_without_its_leading_magic_number_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.parquet");
    write_parquet(&path, 10, None);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..4].copy_from_slice(b"PAR2");
    std::fs::write(&path, &bytes).unwrap();
    let out = mlci(dir.path(), &["data", "schema", "infer", "d.parquet"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "d.parquet: not a Parquet file: it does not start with the magic bytes `PAR1`"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn zstd_and_lz4_parquet_written_by_pyarrow_are_read() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data");
    let dir = tempfile::tempdir().unwrap();
    for name in ["zstd.parquet", "lz4.parquet"] {
        let file = fixtures.join(name);
        let file = file.to_str().unwrap();
        // --strict: four rows are too few for the exact values otherwise.
        let out = mlci(
            dir.path(),
            &["data", "schema", "infer", file, "-o", "s.yml", "--strict"],
        );
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let schema = std::fs::read_to_string(dir.path().join("s.yml")).unwrap();
        assert!(
            schema.contains("id: {type: integer, nullable: false, min: 1, max: 4}"),
            "{name}: {schema}"
        );
        assert!(
            schema.contains(
                "species: {type: string, nullable: false, allowed: [setosa, versicolor, virginica]}"
            ),
            "{name}: {schema}"
        );
        let out = mlci(dir.path(), &["data", "validate", file, "--schema", "s.yml"]);
        assert_eq!(out.code, 0, "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("4 rows"), "{name}: {}", out.stdout);
    }
}

/// `schema infer FILE [EXTRA]` then `data validate FILE` against what it wrote.
fn round_trip(
    dir: &Path,
    name: &str,
    content: &str,
    extra: &[&str],
) -> (super::Out, Option<super::Out>) {
    std::fs::write(dir.join(name), content).unwrap();
    let mut args = vec!["data", "schema", "infer", name, "-o", "s.yml"];
    args.extend(extra);
    let inferred = mlci(dir, &args);
    if inferred.code != 0 {
        return (inferred, None);
    }
    let validated = mlci(dir, &["data", "validate", name, "--schema", "s.yml"]);
    (inferred, Some(validated))
}

#[test]
fn an_inferred_schema_is_one_that_validate_accepts_for_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let long = "y".repeat(300);
    let passing = [
        ("inf.csv", "x\n-1e999\n1.5\n1e999\n".to_string()),
        ("header.csv", "a,b\n".to_string()),
        (
            "fraction.csv",
            "t\n2024-01-02T03:04:05.5Z\n2024-01-02T03:04:04.25Z\n".to_string(),
        ),
        (
            "controls.csv",
            "c\n\"a\u{85}b\"\nx\u{feff}\n\"tab\there\"\n".to_string(),
        ),
        ("long.csv", format!("s\nshort\n{long}\n")),
    ];
    // Both modes: the default's notes quote a value seen rarely (control
    // characters and all), strict's `allowed` lists every value.
    for (name, content) in passing {
        for extra in [&[][..], &["--strict"]] {
            let (inferred, validated) = round_trip(d, name, &content, extra);
            assert_eq!(inferred.code, 0, "{name}: {}", inferred.stderr);
            let validated = validated.unwrap();
            assert_eq!(
                validated.code,
                0,
                "{name} {extra:?}: {}{}\n{}",
                validated.stdout,
                validated.stderr,
                std::fs::read_to_string(d.join("s.yml")).unwrap()
            );
        }
    }
    assert!(
        !std::fs::read_to_string(d.join("s.yml"))
            .unwrap()
            .contains(&long),
        "a long value is no `allowed` entry"
    );
    // Where no schema can describe the data, infer says why and writes none.
    let refused = [
        (
            "case.jsonl",
            "{\"a\": 1, \"A\": 2}\n",
            "case.jsonl: columns `a` and `A` differ only in case",
        ),
        (
            "empty.jsonl",
            "",
            "empty.jsonl: no columns to infer a schema from",
        ),
    ];
    for (name, content, message) in refused {
        let (inferred, _) = round_trip(d, name, content, &[]);
        assert_eq!(inferred.code, 2, "{name}: {}", inferred.stderr);
        assert!(
            inferred.stderr.contains(message),
            "{name}: {}",
            inferred.stderr
        );
    }
}

#[test]
fn a_corrupt_parquet_file_the_crate_panics_on_is_an_error_not_a_crash() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data");
    let dir = tempfile::tempdir().unwrap();
    for (name, why) in [
        (
            "corrupt-definition-level.parquet",
            "max definition level: 1, current level: 126",
        ),
        (
            "corrupt-column-start.parquet",
            "column start and length should not be negative",
        ),
    ] {
        let file = fixtures.join(name);
        let out = mlci(
            dir.path(),
            &["data", "schema", "infer", file.to_str().unwrap()],
        );
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "{name}: a corrupt file the Parquet reader cannot decode: "
            )) && out.stderr.contains(why),
            "{name}: {}",
            out.stderr
        );
    }
}
