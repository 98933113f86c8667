//! The built-in functions, with GitHub's argument counts and coercions.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::context::{EvalContext, Status};
use super::error::EvalError;
use super::memory::Memory;
use super::number::js_number_to_string;
use super::value::{Object, Value, fold_case};
use super::view::{V, loose_equals};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
    Case,
    Success,
    Always,
    Cancelled,
    Failure,
}

impl Func {
    /// Function names are case-insensitive.
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name.to_ascii_lowercase().as_str() {
            "contains" => Func::Contains,
            "startswith" => Func::StartsWith,
            "endswith" => Func::EndsWith,
            "format" => Func::Format,
            "join" => Func::Join,
            "tojson" => Func::ToJson,
            "fromjson" => Func::FromJson,
            "hashfiles" => Func::HashFiles,
            "case" => Func::Case,
            "success" => Func::Success,
            "always" => Func::Always,
            "cancelled" => Func::Cancelled,
            "failure" => Func::Failure,
            _ => return None,
        })
    }

    /// (fewest, most) arguments, as GitHub declares them.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Contains | Func::StartsWith | Func::EndsWith => (2, 2),
            Func::Format => (1, 255),
            Func::Join => (1, 2),
            Func::ToJson | Func::FromJson => (1, 1),
            Func::HashFiles => (1, 255),
            Func::Case => (3, usize::MAX),
            Func::Success | Func::Always | Func::Cancelled | Func::Failure => (0, 0),
        }
    }

    /// The job-status functions whose presence turns off the implicit
    /// `success() &&` of an `if:`.
    pub fn is_status(self) -> bool {
        matches!(
            self,
            Func::Success | Func::Always | Func::Cancelled | Func::Failure
        )
    }
}

fn own(v: Value) -> V<'static> {
    V::Own(v)
}

pub(crate) fn call<'a>(
    ctx: &EvalContext<'_>,
    memory: &Memory,
    func: Func,
    args: Vec<V<'a>>,
) -> Result<V<'a>, EvalError> {
    let arg = |i: usize| args.get(i);
    let status = ctx.status;
    Ok(match func {
        Func::Success => own(Value::Bool(status == Status::Success)),
        Func::Failure => own(Value::Bool(status == Status::Failure)),
        Func::Cancelled => own(Value::Bool(status == Status::Cancelled)),
        Func::Always => own(Value::Bool(true)),
        Func::Contains => {
            let (Some(search), Some(item)) = (arg(0), arg(1)) else {
                return Err(EvalError::new("contains: missing arguments"));
            };
            own(Value::Bool(contains(search, item)))
        }
        Func::StartsWith | Func::EndsWith => {
            let (Some(a), Some(b)) = (arg(0), arg(1)) else {
                return Err(EvalError::new("startsWith: missing arguments"));
            };
            let result = a.is_primitive() && b.is_primitive() && {
                let a = fold_case(&a.to_display_string());
                let b = fold_case(&b.to_display_string());
                if func == Func::StartsWith {
                    a.starts_with(&b)
                } else {
                    a.ends_with(&b)
                }
            };
            own(Value::Bool(result))
        }
        Func::Format => {
            let s = format(memory, &args)?;
            own(Value::String(s))
        }
        Func::Join => {
            let s = join(memory, &args)?;
            memory.charge_str(&s)?;
            own(Value::String(s))
        }
        Func::ToJson => {
            let mut out = String::new();
            if let Some(v) = arg(0) {
                to_json(memory, v, 0, &mut out)?;
            }
            memory.charge_str(&out)?;
            own(Value::String(out))
        }
        Func::FromJson => {
            let text = arg(0).map(V::to_display_string).unwrap_or_default();
            from_json(memory, &text)?
        }
        Func::HashFiles => {
            let patterns: Vec<String> = args.iter().map(V::to_display_string).collect();
            let Some(workspace) = ctx.workspace else {
                return Err(EvalError::new(
                    "hashFiles is not available here: there is no workspace",
                ));
            };
            own(Value::String(hash_files(workspace, &patterns)?))
        }
        Func::Case => {
            let mut args = args;
            let mut i = 0;
            while i + 1 < args.len() {
                match args[i].plain() {
                    Some(Value::Bool(true)) => return Ok(args.swap_remove(i + 1)),
                    Some(Value::Bool(false)) => {}
                    _ => {
                        return Err(EvalError::new(
                            "case predicate must evaluate to a boolean value",
                        ));
                    }
                }
                i += 2;
            }
            args.pop().unwrap_or(V::Own(Value::Null))
        }
    })
}

/// `contains(search, item)`: substring test for primitives, element test
/// (with `==`'s coercion) for arrays; false for anything else.
fn contains(search: &V<'_>, item: &V<'_>) -> bool {
    if search.is_primitive() {
        return item.is_primitive()
            && fold_case(&search.to_display_string())
                .contains(&fold_case(&item.to_display_string()));
    }
    match search.array_items() {
        Some(items) => items.iter().any(|v| loose_equals(item, v)),
        None => false,
    }
}

/// `format('{0} and {1}', a, b)`; `{{` and `}}` are literal braces.
fn format(memory: &Memory, args: &[V<'_>]) -> Result<String, EvalError> {
    let fs = args.first().map(V::to_display_string).unwrap_or_default();
    let invalid = || EvalError::new(format!("The following format string is invalid: {fs}"));
    let bytes = fs.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    // The next brace of each kind, found again only once passed, so a long
    // run of one kind of brace is not rescanned for the other every step.
    let mut next_l: Option<usize> = None;
    let mut next_r: Option<usize> = None;
    let next = |cached: &mut Option<usize>, c: char, i: usize| {
        if cached.is_none_or(|p| p < i) {
            *cached = fs.get(i..).and_then(|r| r.find(c)).map(|p| p + i);
        }
        *cached
    };
    while i < bytes.len() {
        let lbrace = if next_l == Some(usize::MAX) {
            None
        } else {
            next(&mut next_l, '{', i)
        };
        let rbrace = if next_r == Some(usize::MAX) {
            None
        } else {
            next(&mut next_r, '}', i)
        };
        // Remember "none left" so the search is not repeated.
        if lbrace.is_none() {
            next_l = Some(usize::MAX);
        }
        if rbrace.is_none() {
            next_r = Some(usize::MAX);
        }
        match (lbrace, rbrace) {
            (Some(l), r) if r.is_none_or(|r| r > l) => {
                if bytes.get(l + 1) == Some(&b'{') {
                    out.push_str(&fs[i..=l]);
                    i = l + 2;
                    continue;
                }
                // `{digits}`; GitHub accepts no format specifiers.
                let digits = bytes[l + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let close = l + 1 + digits;
                if digits == 0 || bytes.get(close) != Some(&b'}') {
                    return Err(invalid());
                }
                let index = fs[l + 1..close].parse::<usize>().unwrap_or(usize::MAX);
                let Some(value) = index.checked_add(1).and_then(|i| args.get(i)) else {
                    return Err(EvalError::new(format!(
                        "The following format string references more arguments than were supplied: {fs}"
                    )));
                };
                out.push_str(&fs[i..l]);
                let text = value.to_display_string();
                memory.check_room((out.len() + text.len()).saturating_mul(2))?;
                out.push_str(&text);
                i = close + 1;
            }
            (_, Some(r)) => {
                if bytes.get(r + 1) != Some(&b'}') {
                    return Err(invalid());
                }
                out.push_str(&fs[i..=r]);
                i = r + 2;
            }
            (_, None) => {
                out.push_str(&fs[i..]);
                break;
            }
        }
    }
    memory.charge_str(&out)?;
    Ok(out)
}

/// `join(array, separator = ',')`. A primitive is returned as a string; an
/// object joins to ''. A separator that is not a primitive is ignored.
fn join(memory: &Memory, args: &[V<'_>]) -> Result<String, EvalError> {
    let Some(first) = args.first() else {
        return Ok(String::new());
    };
    if first.is_primitive() {
        return Ok(first.to_display_string());
    }
    let Some(items) = first.array_items() else {
        return Ok(String::new());
    };
    let separator = match args.get(1) {
        Some(s) if s.is_primitive() => s.to_display_string(),
        _ => ",".to_string(),
    };
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(&separator);
        }
        out.push_str(&item.to_display_string());
        // A long separator between many items could be huge: stop early.
        memory.check_room(out.len().saturating_mul(2))?;
    }
    Ok(out)
}

/// JSON.stringify(value, null, 2), which is what GitHub's toJSON prints.
fn to_json(memory: &Memory, v: &V<'_>, indent: usize, out: &mut String) -> Result<(), EvalError> {
    if let Some(items) = v.array_items() {
        return json_array(
            memory,
            items.iter(),
            indent,
            out,
            |memory, item, indent, out| to_json(memory, item, indent, out),
        );
    }
    match v.plain() {
        Some(value) => value_to_json(memory, value, indent, out),
        None => Ok(()),
    }
}

fn value_to_json(
    memory: &Memory,
    v: &Value,
    indent: usize,
    out: &mut String,
) -> Result<(), EvalError> {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_finite() => out.push_str(&js_number_to_string(*n)),
        Value::Number(_) => out.push_str("null"),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => json_array(memory, items.iter(), indent, out, value_to_json)?,
        Value::Object(o) => json_object(memory, o, indent, out)?,
    }
    // Check as it grows, so a huge context fails early instead of at the end.
    memory.check_room(out.len().saturating_mul(2))
}

fn json_array<T>(
    memory: &Memory,
    items: impl ExactSizeIterator<Item = T>,
    indent: usize,
    out: &mut String,
    write: impl Fn(&Memory, T, usize, &mut String) -> Result<(), EvalError>,
) -> Result<(), EvalError> {
    if items.len() == 0 {
        out.push_str("[]");
        return Ok(());
    }
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent + 1);
        write(memory, item, indent + 1, out)?;
    }
    newline(out, indent);
    out.push(']');
    Ok(())
}

fn json_object(
    memory: &Memory,
    o: &Object,
    indent: usize,
    out: &mut String,
) -> Result<(), EvalError> {
    if o.is_empty() {
        out.push_str("{}");
        return Ok(());
    }
    out.push('{');
    for (i, (k, v)) in o.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, indent + 1);
        json_string(k, out);
        out.push_str(": ");
        value_to_json(memory, v, indent + 1, out)?;
    }
    newline(out, indent);
    out.push('}');
    Ok(())
}

fn newline(out: &mut String, indent: usize) {
    out.push('\n');
    for _ in 0..indent {
        out.push_str("  ");
    }
}

fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn from_json<'a>(memory: &Memory, text: &str) -> Result<V<'a>, EvalError> {
    let fail = |why: &str| {
        EvalError::new(format!(
            "Error parsing JSON when evaluating fromJson: {why}"
        ))
    };
    if text.trim().is_empty() {
        return Err(fail("empty input"));
    }
    // serde_json limits nesting to 128 levels, so this cannot overflow the stack.
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| fail(&e.to_string()))?;
    memory.charge_str(text)?;
    Ok(V::Own(Value::from_json(&json)))
}

/// hashFiles(patterns...): the SHA-256 of the SHA-256 digests of every
/// matching regular file under the workspace, in sorted path order; '' when
/// nothing matches. Patterns follow @actions/glob: one per line, `#` comments,
/// `!` excludes, `*` stays within a directory, `**` crosses them, and a
/// pattern that names a directory matches everything below it. The last
/// pattern that matches a file decides.
fn hash_files(workspace: &Path, args: &[String]) -> Result<String, EvalError> {
    let root = workspace
        .to_string_lossy()
        .trim_end_matches('/')
        .to_string();
    let mut matchers = Vec::new();
    for line in args.iter().flat_map(|a| a.lines()) {
        let mut pattern = line.trim();
        if pattern.is_empty() || pattern.starts_with('#') {
            continue;
        }
        let mut negate = false;
        while let Some(rest) = pattern.strip_prefix('!') {
            negate = !negate;
            pattern = rest;
        }
        let mut pattern = pattern.to_string();
        // The workspace's own absolute path, or (as GitHub's docs show with
        // `hashFiles('/src/*.js')`) a leading `/`, both mean the workspace root.
        if !root.is_empty() && pattern.starts_with(&format!("{root}/")) {
            pattern = pattern[root.len() + 1..].to_string();
        }
        let pattern = pattern.trim_start_matches('/').to_string();
        let mut pattern = pattern;
        while let Some(rest) = pattern.strip_prefix("./") {
            pattern = rest.to_string();
        }
        let pattern = pattern.trim_end_matches('/');
        if pattern.is_empty() {
            continue;
        }
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| EvalError::new(format!("hashFiles: invalid pattern '{line}': {e}")))?
            .compile_matcher();
        matchers.push((glob, negate));
    }
    if matchers.is_empty() {
        return Ok(String::new());
    }

    let mut files = Vec::new();
    collect_files(workspace, &mut files);
    let mut matched: Vec<(String, PathBuf)> = files
        .into_iter()
        .filter(|(rel, _)| {
            let mut included = false;
            for (glob, negate) in &matchers {
                // The file itself or any directory above it.
                let hit = glob.is_match(rel)
                    || rel
                        .match_indices('/')
                        .any(|(i, _)| glob.is_match(&rel[..i]));
                if hit {
                    included = !negate;
                }
            }
            included
        })
        .collect();
    if matched.is_empty() {
        return Ok(String::new());
    }
    matched.sort();
    let mut outer = Sha256::new();
    for (rel, path) in matched {
        let bytes = std::fs::read(&path)
            .map_err(|e| EvalError::new(format!("hashFiles: cannot read '{rel}': {e}")))?;
        outer.update(Sha256::digest(&bytes));
    }
    Ok(outer
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Every regular file under `root` as (path relative to root with `/`, path).
/// Symbolic links to files inside `root` count (read where they lead); links to
/// directories are not followed, so a cycle cannot trap the walk.
fn collect_files(root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut stack = vec![(String::new(), root.to_path_buf())];
    while let Some((rel, dir)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push((child_rel, path));
            } else if meta.is_file() {
                out.push((child_rel, path));
            } else if meta.is_symlink()
                // A link counts while it leads to a file inside the workspace.
                && let Ok(target) = crate::confine::resolve(root, &child_rel, "the workspace")
                && std::fs::metadata(&target).is_ok_and(|m| m.is_file())
            {
                out.push((child_rel, target));
            }
        }
    }
}
