//! YAML loading into a tree whose every node knows where it came from.
//!
//! The workflow parser needs line and column for every key and value, so we
//! build our own small tree from saphyr's event stream instead of going
//! through serde. The loader also enforces the YAML rules that GitHub adds:
//! anchors and aliases are fine, merge keys (`<<`) are not, and a key may
//! appear once per mapping, compared ignoring case.

use crate::diag::{Diagnostic, Span};
use crate::expr::Value;
use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub text: String,
    pub style: Style,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 256;

/// Anchors are kept as copies and aliases copied into the tree, so a few
/// bytes of `*name` can stand for a huge tree (9 aliases of 9 aliases of …
/// is 9^9 nodes from 511 bytes). Copies past these budgets are refused. The
/// text budget is GitHub's result limit (actions/runner `ParseOptions`,
/// 10 MB); the node budget is a tenth of its 1 000 000 parse events, which
/// keeps the copies under about 100 MB of memory.
const MAX_COPIED_NODES: usize = 100_000;
const MAX_COPIED_BYTES: usize = 10 * 1024 * 1024;

impl Node {
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_mapping(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// The text of a scalar, whatever its type (`3.10` gives "3.10").
    pub fn as_str(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.text.as_str())
    }

    pub fn is_null(&self) -> bool {
        matches!(self.to_value(), Value::Null)
    }

    /// Looks a key up in a mapping, ignoring case as GitHub does.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|(k, _)| k.as_str().is_some_and(|k| k.eq_ignore_ascii_case(key)))
            .map(|(_, v)| v)
    }

    /// A short description for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Sequence(_) => "a list".to_string(),
            NodeKind::Mapping(_) => "a map".to_string(),
            NodeKind::Scalar(s) => match self.to_value() {
                Value::Null => "nothing".to_string(),
                Value::Bool(b) => format!("the boolean `{b}`"),
                Value::Number(_) => format!("the number `{}`", s.text),
                _ => format!("`{}`", shorten(&s.text)),
            },
        }
    }

    /// The node's value under YAML 1.2's core schema, which GitHub uses:
    /// `3.10` is the number 3.1, `yes` and `on` are strings, `~` is null.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar(s) => s.to_value(),
            NodeKind::Sequence(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeKind::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }

    /// Maps a byte offset inside this scalar's value to a byte offset in the
    /// file, so that an error inside `${{ }}` points at the right column.
    ///
    /// Quoting, escapes, folding and block indentation move text around, so
    /// the mapping anchors on the `${{` that holds the offset: the n-th `${{`
    /// of the value is the n-th `${{` of the source.
    pub fn source_offset(&self, source: &str, value_offset: usize) -> usize {
        let Some(scalar) = self.as_scalar() else {
            return self.span.start;
        };
        let raw = source.get(self.span.start..self.span.end).unwrap_or("");
        let value = scalar.text.as_str();
        if scalar.style == Style::Plain && raw == value {
            return self.span.start + value_offset;
        }
        // The `${{` that holds the offset, or starts right at it.
        let mut search_end = (value_offset + 3).min(value.len());
        while !value.is_char_boundary(search_end) {
            search_end -= 1;
        }
        let before = &value[..search_end];
        if let Some(open_in_value) = before.rfind("${{").filter(|&at| {
            // Only when the offset is inside that template, not past its `}}`.
            at <= value_offset
                && !value
                    .get(at..value_offset)
                    .is_some_and(|t| t.contains("}}"))
        }) {
            let nth = before[..open_in_value].matches("${{").count();
            if let Some((open_in_raw, _)) = raw.match_indices("${{").nth(nth) {
                return self.span.start + open_in_raw + (value_offset - open_in_value);
            }
        }
        // No template around the offset: a bare expression, as in `if:`.
        let leading = match scalar.style {
            Style::SingleQuoted | Style::DoubleQuoted => 1,
            Style::Plain => 0,
            Style::Literal | Style::Folded => return self.block_offset(source, value_offset),
        };
        self.span.start + leading + value_offset
    }

    /// Offset mapping for `|` and `>` blocks: the k-th line of the value is the
    /// k-th line after the header, shifted by the block's indentation.
    fn block_offset(&self, source: &str, value_offset: usize) -> usize {
        let Some(scalar) = self.as_scalar() else {
            return self.span.start;
        };
        let before = scalar.text.get(..value_offset).unwrap_or(&scalar.text);
        let line_in_value = before.matches('\n').count();
        let column_in_line = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let mut start = self.span.start;
        let mut raw = source.get(self.span.start..self.span.end).unwrap_or("");
        // The span starts either at the `|` / `>` header or at the first
        // character of the content, after its indentation.
        let first_line = raw.split_inclusive('\n').next().unwrap_or("");
        let trimmed = first_line.trim();
        let mid_line = if trimmed.is_empty() || trimmed.starts_with(['|', '>']) {
            start += first_line.len();
            raw = &raw[first_line.len()..];
            false
        } else {
            true
        };
        let body: Vec<&str> = raw.split_inclusive('\n').collect();
        let indent = body
            .iter()
            .skip(usize::from(mid_line))
            .find(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start_matches(' ').len())
            .unwrap_or(0);
        let mut offset = start;
        for line in body.iter().take(line_in_value) {
            offset += line.len();
        }
        if mid_line && line_in_value == 0 {
            offset + column_in_line
        } else {
            offset + indent + column_in_line
        }
    }
}

impl Scalar {
    pub fn to_value(&self) -> Value {
        if self.style != Style::Plain {
            return Value::String(self.text.clone());
        }
        resolve_plain(&self.text)
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Number(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Ok(n) = u64::from_str_radix(hex, 16) {
                return Value::Number(n as f64);
            }
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if !oct.is_empty() && oct.chars().all(|c| matches!(c, '0'..='7')) {
            if let Ok(n) = u64::from_str_radix(oct, 8) {
                return Value::Number(n as f64);
            }
        }
    }
    if is_core_number(text) {
        if let Ok(n) = text.parse::<f64>() {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        frac_digits = i - frac_start;
    }
    if int_digits == 0 && frac_digits == 0 {
        return false;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exp_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == bytes.len()
}

fn shorten(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or("");
    if first_line.chars().count() > 40 || first_line.len() < text.trim_end().len() {
        let cut: String = first_line.chars().take(40).collect();
        format!("{cut}…")
    } else {
        first_line.to_string()
    }
}

/// Parses one YAML document. Returns the root (None for an empty document)
/// and every problem found; a syntax error ends the parse.
pub fn load(source: &str) -> (Option<Node>, Vec<Diagnostic>) {
    let mut loader = Loader {
        source,
        positions: CharPositions::new(source),
        anchors: HashMap::new(),
        diagnostics: Vec::new(),
        copied: TreeSize::default(),
        line_starts: None,
    };
    let root = loader.run();
    (root, loader.diagnostics)
}

struct Loader<'a> {
    source: &'a str,
    positions: CharPositions,
    /// Each anchor's node, with its size as [`TreeSize`] counts it.
    anchors: HashMap<usize, (Node, TreeSize)>,
    diagnostics: Vec<Diagnostic>,
    /// What anchors and aliases have copied so far, against the budgets above.
    copied: TreeSize,
    /// Where each line starts, built on the first duplicate key.
    line_starts: Option<Vec<usize>>,
}

/// The nodes of a tree and the bytes of its scalars: what an alias copies.
#[derive(Clone, Copy, Default)]
struct TreeSize {
    nodes: usize,
    bytes: usize,
}

impl TreeSize {
    fn of(node: &Node) -> TreeSize {
        let mut size = TreeSize { nodes: 1, bytes: 0 };
        match &node.kind {
            NodeKind::Scalar(scalar) => size.bytes = scalar.text.len(),
            NodeKind::Sequence(items) => {
                for item in items {
                    size.add(TreeSize::of(item));
                }
            }
            NodeKind::Mapping(entries) => {
                for (key, value) in entries {
                    size.add(TreeSize::of(key));
                    size.add(TreeSize::of(value));
                }
            }
        }
        size
    }

    fn add(&mut self, other: TreeSize) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// A syntax error stops the walk; it has already been recorded.
struct Stop;

impl<'a> Loader<'a> {
    fn run(&mut self) -> Option<Node> {
        let mut parser = Parser::new_from_str(self.source);
        let mut root = None;
        let mut documents = 0;
        loop {
            let (event, span) = match self.next(&mut parser) {
                Ok(Some(e)) => e,
                Ok(None) | Err(Stop) => return root,
            };
            match event {
                Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => return root,
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        self.diagnostics.push(Diagnostic::error(
                            self.span(span),
                            "a workflow file holds a single YAML document; remove this `---` and what follows",
                        ));
                        return root;
                    }
                }
                event => match self.node(&mut parser, event, span, 0) {
                    Ok(node) => root = Some(node),
                    Err(Stop) => return root,
                },
            }
        }
    }

    fn next(
        &mut self,
        parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    ) -> Result<Option<(Event<'a>, YamlSpan)>, Stop> {
        match parser.next_event() {
            None => Ok(None),
            Some(Ok(pair)) => Ok(Some(pair)),
            Some(Err(error)) => {
                let at = self.positions.byte(error.marker().index());
                self.diagnostics.push(Diagnostic::error(
                    Span::point(at),
                    format!("invalid YAML: {}", error.info()),
                ));
                Err(Stop)
            }
        }
    }

    fn span(&self, span: YamlSpan) -> Span {
        Span::new(
            self.positions.byte(span.start.index()),
            self.positions.byte(span.end.index()),
        )
    }

    fn node(
        &mut self,
        parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
        event: Event<'a>,
        span: YamlSpan,
        depth: usize,
    ) -> Result<Node, Stop> {
        if depth > MAX_DEPTH {
            self.diagnostics.push(Diagnostic::error(
                self.span(span),
                format!("invalid YAML: nesting deeper than {MAX_DEPTH} levels"),
            ));
            return Err(Stop);
        }
        let start = self.span(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted => Style::SingleQuoted,
                    ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                    ScalarStyle::Literal => Style::Literal,
                    ScalarStyle::Folded => Style::Folded,
                };
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        style,
                    }),
                    span: start,
                };
                self.remember(anchor, &node)?;
                Ok(node)
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some((_, size)) => {
                    // Counted before the copy is made, so a bomb stops at
                    // the first alias past the budget.
                    let size = *size;
                    self.charge_copy(size, start)?;
                    Ok(self.anchors[&anchor].0.clone())
                }
                None => {
                    self.diagnostics.push(Diagnostic::error(
                        start,
                        "invalid YAML: alias to an anchor that is not defined before it",
                    ));
                    Err(Stop)
                }
            },
            Event::SequenceStart(anchor, _tag) => {
                let mut items = Vec::new();
                let end = loop {
                    let Some((event, span)) = self.next(parser)? else {
                        return Err(Stop);
                    };
                    if matches!(event, Event::SequenceEnd) {
                        break self.span(span).end;
                    }
                    items.push(self.node(parser, event, span, depth + 1)?);
                };
                let end = items
                    .last()
                    .map(|n| n.span.end)
                    .unwrap_or(end)
                    .max(start.end);
                let node = Node {
                    kind: NodeKind::Sequence(items),
                    span: Span::new(start.start, end),
                };
                self.remember(anchor, &node)?;
                Ok(node)
            }
            Event::MappingStart(anchor, _tag) => {
                let mut entries: Vec<(Node, Node)> = Vec::new();
                // Keys seen so far, case-folded, with where each one starts:
                // one lookup per key, not a scan of the earlier ones.
                let mut seen: HashMap<String, usize> = HashMap::new();
                let end = loop {
                    let Some((event, span)) = self.next(parser)? else {
                        return Err(Stop);
                    };
                    if matches!(event, Event::MappingEnd) {
                        break self.span(span).end;
                    }
                    let key = self.node(parser, event, span, depth + 1)?;
                    let Some((event, span)) = self.next(parser)? else {
                        return Err(Stop);
                    };
                    let value = self.node(parser, event, span, depth + 1)?;
                    // A refused merge key is left out, so that its map is not
                    // reported a second time as a wrongly typed value.
                    if self.check_key(&key, &mut seen) {
                        entries.push((key, value));
                    }
                };
                let end = entries
                    .last()
                    .map(|(_, v)| v.span.end)
                    .unwrap_or(end)
                    .max(start.end);
                let node = Node {
                    kind: NodeKind::Mapping(entries),
                    span: Span::new(start.start, end),
                };
                self.remember(anchor, &node)?;
                Ok(node)
            }
            _ => {
                self.diagnostics
                    .push(Diagnostic::error(start, "invalid YAML: unexpected event"));
                Err(Stop)
            }
        }
    }

    fn remember(&mut self, anchor: usize, node: &Node) -> Result<(), Stop> {
        if anchor != 0 {
            // Sized once here, not at every alias; the walk costs what the
            // budget is charged, so it is bounded too.
            let size = TreeSize::of(node);
            self.charge_copy(size, node.span)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok(())
    }

    /// Counts a copy of an anchored tree against the budgets.
    fn charge_copy(&mut self, size: TreeSize, at: Span) -> Result<(), Stop> {
        self.copied.add(size);
        if self.copied.nodes <= MAX_COPIED_NODES && self.copied.bytes <= MAX_COPIED_BYTES {
            return Ok(());
        }
        self.diagnostics.push(
            Diagnostic::error(
                at,
                format!(
                    "invalid YAML: anchors and aliases copy more than {MAX_COPIED_NODES} nodes or {} MB of text",
                    MAX_COPIED_BYTES / (1024 * 1024)
                ),
            )
            .with_help("each `*alias` copies its anchor's whole value: write smaller anchors, or the values themselves"),
        );
        Err(Stop)
    }

    /// Reports merge keys and duplicate keys; false when the entry is dropped.
    fn check_key(&mut self, key: &Node, seen: &mut HashMap<String, usize>) -> bool {
        let Some(scalar) = key.as_scalar() else {
            self.diagnostics.push(Diagnostic::error(
                key.span,
                "expected a plain key, found a list or map used as a key",
            ));
            return false;
        };
        if scalar.style == Style::Plain && scalar.text == "<<" {
            self.diagnostics.push(
                Diagnostic::error(
                    key.span,
                    "YAML merge keys (`<<`) are not supported by GitHub Actions",
                )
                .with_help("repeat the keys, or use an alias (`*name`) for the whole value"),
            );
            return false;
        }
        match seen.entry(scalar.text.to_ascii_lowercase()) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(key.span.start);
            }
            std::collections::hash_map::Entry::Occupied(entry) => {
                let line = self.line_of(*entry.get());
                self.diagnostics.push(Diagnostic::error(
                    key.span,
                    format!(
                        "duplicate key `{}` (first defined on line {line}; keys are compared ignoring case)",
                        scalar.text
                    ),
                ));
            }
        }
        true
    }

    /// The one-based line of a byte offset, by binary search in the line
    /// starts (built once), so that many duplicates stay linear.
    fn line_of(&mut self, offset: usize) -> usize {
        let source = self.source;
        let starts = self.line_starts.get_or_insert_with(|| {
            std::iter::once(0)
                .chain(source.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        match starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

/// saphyr reports positions in characters; diagnostics work in bytes.
struct CharPositions {
    /// Byte offset of each character, present only when the text is not ASCII.
    offsets: Option<Vec<usize>>,
    len: usize,
}

impl CharPositions {
    fn new(text: &str) -> Self {
        let offsets = (!text.is_ascii()).then(|| text.char_indices().map(|(i, _)| i).collect());
        CharPositions {
            offsets,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.offsets {
            None => char_index.min(self.len),
            Some(offsets) => offsets.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let (node, diagnostics) = load(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        node.expect("a document")
    }

    #[test]
    fn core_schema_types_plain_scalars_only() {
        let node = root("a: 3.10\nb: '3.10'\nc: yes\nd: ~\ne: 0x1F\nf: 1e3\ng: True\n");
        assert_eq!(node.get("a").unwrap().to_value(), Value::Number(3.1));
        assert_eq!(node.get("b").unwrap().to_value(), Value::str("3.10"));
        assert_eq!(node.get("c").unwrap().to_value(), Value::str("yes"));
        assert_eq!(node.get("d").unwrap().to_value(), Value::Null);
        assert_eq!(node.get("e").unwrap().to_value(), Value::Number(31.0));
        assert_eq!(node.get("f").unwrap().to_value(), Value::Number(1000.0));
        assert_eq!(node.get("g").unwrap().to_value(), Value::Bool(true));
    }

    #[test]
    fn spans_point_at_keys_and_values() {
        let text = "jobs:\n  build:\n    runs-on: ubuntu\n";
        let node = root(text);
        let build = node.get("jobs").unwrap().as_mapping().unwrap()[0].clone();
        assert_eq!(&text[build.0.span.start..build.0.span.end], "build");
        let runs_on = build.1.get("runs-on").unwrap();
        assert_eq!(&text[runs_on.span.start..runs_on.span.end], "ubuntu");
    }

    #[test]
    fn aliases_copy_the_anchored_node() {
        let node = root("a: &x [1, 2]\nb: *x\n");
        assert_eq!(
            node.get("b").unwrap().to_value(),
            node.get("a").unwrap().to_value()
        );
    }

    #[test]
    fn merge_keys_and_duplicate_keys_are_refused() {
        let (_, diagnostics) = load("a: &x {k: 1}\nb:\n  <<: *x\nEnv: 1\nenv: 2\n");
        let messages: Vec<_> = diagnostics.iter().map(|d| d.message.clone()).collect();
        assert!(messages[0].contains("merge keys"), "{messages:?}");
        assert!(messages[1].contains("duplicate key `env`"), "{messages:?}");
    }

    #[test]
    fn syntax_errors_are_reported_with_a_position() {
        let text = "jobs:\n  a: [1, 2\n";
        let (_, diagnostics) = load(text);
        assert_eq!(diagnostics.len(), 1);
        assert!(diagnostics[0].message.starts_with("invalid YAML"));
    }

    #[test]
    fn offsets_inside_block_scalars_map_to_the_source() {
        let text = "run: |\n  echo hi\n  echo ${{ foo() }}\n";
        let node = root(text);
        let run = node.get("run").unwrap();
        let value = run.as_str().unwrap();
        let in_value = value.find("foo").unwrap();
        let in_source = run.source_offset(text, in_value);
        assert_eq!(&text[in_source..in_source + 3], "foo");
    }

    #[test]
    fn offsets_at_an_empty_expression_in_a_block_map_to_its_line() {
        let text = "run: |\n  echo ${{ }} more\n  echo two\n";
        let node = root(text);
        let run = node.get("run").unwrap();
        let value = run.as_str().unwrap();
        let at = run.source_offset(text, value.find("${{").unwrap());
        assert_eq!(&text[at..at + 3], "${{");
        let plain = run.source_offset(text, value.find("two").unwrap());
        assert_eq!(&text[plain..plain + 3], "two");
    }

    #[test]
    fn offsets_inside_quoted_scalars_map_to_the_source() {
        let text = "if: \"github.ref == 'x' && bar()\"\n";
        let node = root(text);
        let cond = node.get("if").unwrap();
        let value = cond.as_str().unwrap();
        let at = cond.source_offset(text, value.find("bar").unwrap());
        assert_eq!(&text[at..at + 3], "bar");
    }
}
