//! Default arguments of `mlci run` from `~/.mlcirc` and `./.mlcirc`.

use std::path::PathBuf;

/// `mlci run` reads default arguments from `~/.mlcirc`, then `./.mlcirc`,
/// as act reads `.actrc`: one or more arguments per line (`-P gpu=my/image`,
/// `--env-file .env`), `#` comments. They go before the command line's own
/// arguments, so the command line wins.
pub(super) fn with_rc_files(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).and_then(|a| a.to_str()) != Some("run") {
        return args;
    }
    let mut files = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".mlcirc"));
    }
    files.push(PathBuf::from(".mlcirc"));
    let mut extra = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            extra.extend(split_words(line).into_iter().map(std::ffi::OsString::from));
        }
    }
    args.splice(2..2, extra);
    args
}

/// Splits a line into words at spaces, keeping quoted parts together.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}
