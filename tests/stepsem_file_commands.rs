//! GITHUB_OUTPUT / GITHUB_ENV / GITHUB_STATE / GITHUB_PATH, checked against
//! actions/runner `FileCommandManager.cs` (`EnvFileKeyValuePairs`) and its
//! L0 tests (`FileCommandTestBase`, `SetEnvFileCommandL0`).

use mlci::run::file_commands::*;

fn kv(s: &str) -> Vec<(String, String)> {
    parse_key_values(s).unwrap()
}

fn p(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

#[test]
fn simple_pairs_and_empty_lines() {
    assert_eq!(kv(""), vec![]);
    assert_eq!(kv("MY_KEY=MY VALUE\n"), vec![p("MY_KEY", "MY VALUE")]);
    assert_eq!(
        kv("\nMY_KEY=my value\n\nMY_KEY_2=my second value\n\n"),
        vec![p("MY_KEY", "my value"), p("MY_KEY_2", "my second value")]
    );
    assert_eq!(kv("MY_KEY="), vec![p("MY_KEY", "")]);
}

#[test]
fn special_characters() {
    assert_eq!(
        kv("MY_KEY==abc\nMY_KEY_2=def=ghi\nMY_KEY_3=jkl=\n"),
        vec![
            p("MY_KEY", "=abc"),
            p("MY_KEY_2", "def=ghi"),
            p("MY_KEY_3", "jkl=")
        ]
    );
    // `=` before `<<`: a plain pair
    assert_eq!(kv("MY_KEY_5=abc << def"), vec![p("MY_KEY_5", "abc << def")]);
    // names are not trimmed
    assert_eq!(kv(" A =b"), vec![p(" A ", "b")]);
}

#[test]
fn heredoc() {
    assert_eq!(
        kv("MY_KEY<<EOF\nline one\nline two\nline three\nEOF\n"),
        vec![p("MY_KEY", "line one\nline two\nline three")]
    );
    assert_eq!(kv("MY_KEY<<EOF\nEOF\n"), vec![p("MY_KEY", "")]);
    // the delimiter line may be the last one without a newline
    assert_eq!(kv("K<<EOF\nv\nEOF"), vec![p("K", "v")]);
}

#[test]
fn heredoc_special_characters_and_edge_cases() {
    let text = "MY_ENV<<=EOF\nhello\none\n=EOF\nMY_ENV_2<<<EOF\nhello\ntwo\n<EOF\nMY_ENV_3<<EOF\nhello\n\nthree\n\nEOF\nMY_ENV_4<<EOF\nhello=four\nEOF\nMY_ENV_5<<EOF\n EOF\nEOF\nMY_ENV_6<<EOF\nEOF EOF\nEOF\n";
    assert_eq!(
        kv(text),
        vec![
            p("MY_ENV", "hello\none"),
            p("MY_ENV_2", "hello\ntwo"),
            p("MY_ENV_3", "hello\n\nthree\n"),
            p("MY_ENV_4", "hello=four"),
            p("MY_ENV_5", " EOF"),
            p("MY_ENV_6", "EOF EOF"),
        ]
    );
}

#[test]
fn crlf_as_on_linux_runners() {
    // lines end at \n only: \r stays in values
    assert_eq!(kv("A=1\r\nB=2\r\n"), vec![p("A", "1\r"), p("B", "2\r")]);
    // a CRLF heredoc: the delimiter is "EOF\r" and so is its end line
    assert_eq!(
        kv("K<<EOF\r\nline1\r\nline2\r\nEOF\r\n"),
        vec![p("K", "line1\r\nline2\r")]
    );
    // a CRLF start line with an LF-only delimiter line never matches
    assert_eq!(
        parse_key_values("K<<EOF\r\nv\nEOF\n"),
        Err(FileCommandError::MatchingDelimiterNotFound {
            delimiter: "EOF\r".into()
        })
    );
}

#[test]
fn utf8_bom_is_ignored() {
    assert_eq!(kv("\u{feff}A=1\n"), vec![p("A", "1")]);
    assert_eq!(decode_file(b"\xef\xbb\xbfA=1"), "A=1");
    assert_eq!(decode_file(b"\xff\xfeA\0=\x001\0"), "A=1");
    assert_eq!(decode_file(b"A=\xff"), "A=\u{fffd}");
}

#[test]
fn error_missing_delimiter() {
    let e = parse_key_values("MY_KEY<<EOF line one line two line three EOF").unwrap_err();
    assert_eq!(
        e,
        FileCommandError::MatchingDelimiterNotFound {
            delimiter: "EOF line one line two line three EOF".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "Invalid value. Matching delimiter not found 'EOF line one line two line three EOF'"
    );
    // value printed with printf '%s' (no newline) before the delimiter
    assert_eq!(
        parse_key_values("K<<EOF\nbody\"EOF\n").unwrap_err(),
        FileCommandError::MatchingDelimiterNotFound {
            delimiter: "EOF".into()
        }
    );
}

#[test]
fn error_eof_marker_missing_new_line() {
    let e = parse_key_values("MY_KEY<<EOF\nline one\n line two EOF").unwrap_err();
    assert_eq!(e, FileCommandError::EofMarkerMissingNewLine);
    assert_eq!(e.to_string(), "Invalid value. EOF marker missing new line.");
}

#[test]
fn error_empty_name_or_delimiter() {
    for line in ["<<EOF", "NAME<<"] {
        let e = parse_key_values(&format!("{line}\nx\n")).unwrap_err();
        assert_eq!(
            e,
            FileCommandError::EmptyNameOrDelimiter { line: line.into() }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "Invalid format '{line}'. Name must not be empty and delimiter must not be empty"
            )
        );
    }
}

#[test]
fn empty_name_with_equals_is_accepted_as_on_github() {
    // GitHub's "name must not be empty" check for NAME=VALUE never fires
    assert_eq!(kv("=value"), vec![p("", "value")]);
}

#[test]
fn error_invalid_format() {
    let e = parse_key_values("A=1\njust text\nB=2").unwrap_err();
    assert_eq!(
        e,
        FileCommandError::InvalidFormat {
            line: "just text".into()
        }
    );
    assert_eq!(e.to_string(), "Invalid format 'just text'");
    // multi-line value written without heredoc (pretty-printed JSON)
    let e = parse_key_values("matrix=[\n  {\n").unwrap_err();
    assert_eq!(e.to_string(), "Invalid format '  {'");
    // pairs before the error were applied by GitHub
    let (pairs, err) = parse_key_values_partial("A=1\noops\nB=2");
    assert_eq!(pairs, vec![p("A", "1")]);
    assert!(err.is_some());
}

#[test]
fn equals_before_heredoc_marker_is_a_plain_pair() {
    // a base64 delimiter with '=' after an injected '=' in the name
    let text =
        "PREFIX_Issue 999: the `=` character<<khkIhPxsVA==\nRandom=Character\nkhkIhPxsVA==\n";
    assert_eq!(
        kv(text),
        vec![
            p("PREFIX_Issue 999: the `", "` character<<khkIhPxsVA=="),
            p("Random", "Character"),
            p("khkIhPxsVA", "="),
        ]
    );
}

#[test]
fn path_file() {
    assert_eq!(parse_path_file(""), Vec::<String>::new());
    assert_eq!(
        parse_path_file("/opt/a\n\n/opt/b\r\n/opt/c\r/opt/d"),
        vec!["/opt/a", "/opt/b", "/opt/c", "/opt/d"]
    );
    // nothing trimmed
    assert_eq!(parse_path_file(" /x \n"), vec![" /x "]);
    let mut prepend = Vec::new();
    add_paths(&mut prepend, &["/a".into(), "/b".into()]);
    add_paths(&mut prepend, &["/a".into()]);
    assert_eq!(prepend, vec!["/b", "/a"]);
    assert_eq!(path_value(&prepend, "/usr/bin:/bin"), "/a:/b:/usr/bin:/bin");
}

#[test]
fn env_blocklist() {
    assert_eq!(blocked_env_name("node_options"), Some("NODE_OPTIONS"));
    assert_eq!(blocked_env_name("PATH"), None);
    assert_eq!(
        blocked_env_message("NODE_OPTIONS"),
        "Can't store NODE_OPTIONS output parameter using '$GITHUB_ENV' command."
    );
    assert_eq!(
        unable_to_process_message("output"),
        "Unable to process file command 'output' successfully."
    );
}

#[test]
fn no_panic_on_odd_input() {
    for s in [
        "<<",
        "=",
        "<<=",
        "=<<",
        "a<<b\n",
        "\r",
        "\u{feff}",
        "é<<ü\nü",
        "a<<\u{0}\n\u{0}",
    ] {
        let _ = parse_key_values(s);
        let _ = parse_path_file(s);
    }
}
