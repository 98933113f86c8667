//! `--env-file` and `--secret-file`: the `.env` format that act and Docker
//! Compose read. `KEY=value` per line, optional `export `, `#` comments,
//! values in single quotes (literal) or double quotes (with `\n`, `\t`, `\"`,
//! `\\` escapes, and able to span lines).

/// The variables of a `.env` text, in order; an error names the line.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let number = index + 1;
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, rest)) = line.split_once('=') else {
            return Err(format!("line {number}: expected KEY=VALUE"));
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
        {
            return Err(format!("line {number}: `{key}` is not a variable name"));
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            match body.find('\'') {
                Some(end) => body[..end].to_string(),
                None => return Err(format!("line {number}: the single quote is not closed")),
            }
        } else if let Some(body) = rest.strip_prefix('"') {
            let mut raw = body.to_string();
            // A double-quoted value may go on over the next lines.
            while closing_quote(&raw).is_none() {
                match lines.next() {
                    Some((_, next)) => {
                        raw.push('\n');
                        raw.push_str(next);
                    }
                    None => return Err(format!("line {number}: the double quote is not closed")),
                }
            }
            let end = closing_quote(&raw).unwrap_or(raw.len());
            unescape(&raw[..end])
        } else {
            // Unquoted: up to an inline comment (` #`), trimmed.
            let value = match rest.find(" #") {
                Some(at) => &rest[..at],
                None => rest,
            };
            value.trim_end().to_string()
        };
        pairs.push((key.to_string(), value));
    }
    Ok(pairs)
}

/// The byte offset of the first unescaped `"`.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(at),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    #[test]
    fn plain_quoted_and_exported_values() {
        let text = "# comment\nA=1\nexport B = two words # note\nC='lit $X \\n'\nD=\"line\\nnext \\\"q\\\"\"\nE=\n";
        assert_eq!(
            pairs(text),
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "lit $X \\n".into()),
                ("D".into(), "line\nnext \"q\"".into()),
                ("E".into(), "".into()),
            ]
        );
    }

    #[test]
    fn double_quotes_span_lines() {
        assert_eq!(
            pairs("KEY=\"-----BEGIN\nabc\n-----END\"\nNEXT=1"),
            vec![
                ("KEY".into(), "-----BEGIN\nabc\n-----END".into()),
                ("NEXT".into(), "1".into())
            ]
        );
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("A=1\nnonsense\n").unwrap_err(),
            "line 2: expected KEY=VALUE"
        );
        assert_eq!(
            parse("A='open\n").unwrap_err(),
            "line 1: the single quote is not closed"
        );
        assert!(parse("B=\"open\nstill").unwrap_err().contains("line 1"));
        assert!(
            parse("bad key=1")
                .unwrap_err()
                .contains("not a variable name")
        );
    }
}
