//! The reader's state and the helpers every part of the parser shares: reading
//! a mapping's known keys, reporting what was expected, suggesting a close name.

use crate::diag::{Diagnostic, Span};
use crate::yaml::{Node, NodeKind};

/// Reads one file, collecting every problem instead of stopping at the first.
pub(super) struct Reader<'s> {
    pub(super) source: &'s str,
    pub(super) diagnostics: Vec<Diagnostic>,
}

/// A key of a mapping that the schema knows, in its canonical spelling.
pub(super) struct Field<'n> {
    pub(super) name: &'static str,
    pub(super) key: &'n Node,
    pub(super) value: &'n Node,
}

impl<'s> Reader<'s> {
    pub(super) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(span, message));
    }

    pub(super) fn expected(&mut self, node: &Node, what: &str) {
        let found = node.describe();
        self.error(node.span, format!("expected {what}, found {found}"));
    }

    /// The entries of a mapping, or an error naming what was expected.
    pub(super) fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            NodeKind::Mapping(entries) => Some(entries),
            _ => {
                self.expected(node, what);
                None
            }
        }
    }

    /// The known fields of a mapping; unknown keys are reported with the
    /// closest known key as a suggestion.
    pub(super) fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Vec<Field<'n>> {
        let Some(entries) = self.mapping(node, &format!("a map for {what}")) else {
            return Vec::new();
        };
        let mut fields = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match allowed.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                Some(canonical) => fields.push(Field {
                    name: canonical,
                    key,
                    value,
                }),
                None => self.unknown_key(key, name, what, allowed),
            }
        }
        fields
    }

    fn unknown_key(&mut self, key: &Node, name: &str, what: &str, allowed: &[&str]) {
        let diagnostic = Diagnostic::error(key.span, format!("unknown key `{name}` in {what}"));
        let diagnostic = match suggest(name, allowed) {
            Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
            None => diagnostic.with_help(format!("expected one of: {}", allowed.join(", "))),
        };
        self.diagnostics.push(diagnostic);
    }
}

/// `${{ ... }}` written as the whole value (or part of it).
pub(super) fn is_expression(text: &str) -> bool {
    text.contains("${{")
}

/// Job and step ids: a letter or `_`, then letters, digits, `-` and `_`.
pub(super) fn is_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The closest candidate to a mistyped name, if one is close enough.
pub fn suggest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let normalized = name.to_ascii_lowercase().replace('_', "-");
    candidates
        .iter()
        .map(|c| {
            let candidate = c.to_ascii_lowercase().replace('_', "-");
            (strsim::damerau_levenshtein(&normalized, &candidate), *c)
        })
        .filter(|(distance, c)| *distance <= (c.len() / 3).clamp(1, 3))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::parse::jobs::JOB_KEYS;
    use crate::workflow::parse::steps::STEP_KEYS;

    #[test]
    fn suggestions_find_close_keys() {
        assert_eq!(suggest("runs_on", JOB_KEYS), Some("runs-on"));
        assert_eq!(suggest("step", JOB_KEYS), Some("steps"));
        assert_eq!(suggest("wth", STEP_KEYS), Some("with"));
        assert_eq!(suggest("zzzzzz", JOB_KEYS), None);
    }

    #[test]
    fn identifiers_follow_github_rules() {
        assert!(is_identifier("build_and-test2"));
        assert!(is_identifier("_x"));
        assert!(!is_identifier("2fast"));
        assert!(!is_identifier("a b"));
        assert!(!is_identifier(""));
    }
}
