//! The `paths` filters of `push`, `pull_request` and mlci's `dataset` event,
//! read as GitHub reads them: glob patterns against paths relative to the
//! repository root, `*` stopping at `/`, `**` crossing directories, and a
//! leading `!` excluding what earlier patterns included. Patterns apply in
//! order; a path matches when the last pattern that matches it is positive.

/// Compiled `paths` (or `paths-ignore`) patterns.
#[derive(Clone, Debug)]
pub struct PathFilter {
    patterns: Vec<(bool, globset::GlobMatcher)>,
}

impl PathFilter {
    /// Compiles the patterns; an error names the first pattern refused (its index).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<PathFilter, (usize, String)> {
        let mut compiled = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let pattern = pattern.as_ref();
            let (negated, glob) = match pattern.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, pattern),
            };
            let glob = glob.trim_start_matches("./");
            let matcher = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|e| (i, format!("invalid path pattern `{pattern}`: {e}")))?
                .compile_matcher();
            compiled.push((negated, matcher));
        }
        Ok(PathFilter { patterns: compiled })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the last pattern that matches `path` (with `/` separators) is positive.
    pub fn matches(&self, path: &str) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|(_, glob)| glob.is_match(path))
            .is_some_and(|(negated, _)| !negated)
    }

    /// The directories to walk to find every file that a positive pattern
    /// can match: each pattern's leading components without glob characters.
    pub fn roots(patterns: &[impl AsRef<str>]) -> Vec<String> {
        let mut roots: Vec<String> = Vec::new();
        for pattern in patterns {
            let pattern = pattern.as_ref();
            if pattern.starts_with('!') {
                continue;
            }
            let pattern = pattern.trim_start_matches("./");
            let literal: Vec<&str> = pattern
                .split('/')
                .take_while(|c| !c.contains(['*', '?', '[', '{', '\\']))
                .collect();
            // A pattern without glob characters names a file: walk its directory.
            let take = if literal.len() == pattern.split('/').count() {
                literal.len().saturating_sub(1)
            } else {
                literal.len()
            };
            roots.push(literal[..take].join("/"));
        }
        roots.sort();
        roots.dedup();
        // `data` covers `data/raw`.
        let mut kept: Vec<String> = Vec::new();
        for root in roots {
            let covered = kept
                .iter()
                .any(|k| k.is_empty() || root == *k || root.starts_with(&format!("{k}/")));
            if !covered {
                kept.push(root);
            }
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_patterns_win_and_star_stops_at_slashes() {
        let filter = PathFilter::new(&["data/**", "!data/tmp/**", "data/tmp/keep.csv"]).unwrap();
        assert!(filter.matches("data/train.csv"));
        assert!(filter.matches("data/raw/a/b.csv"));
        assert!(!filter.matches("data/tmp/x.csv"));
        assert!(filter.matches("data/tmp/keep.csv"));
        assert!(!filter.matches("src/main.py"));
        let star = PathFilter::new(&["*.py"]).unwrap();
        assert!(star.matches("train.py"));
        assert!(!star.matches("src/train.py"));
        assert!(PathFilter::new(&["data/[a"]).is_err());
    }

    #[test]
    fn roots_are_the_literal_directories() {
        assert_eq!(
            PathFilter::roots(&["data/train.csv", "data/raw/**", "!data/x", "models/*.pt"]),
            vec!["data".to_string(), "models".to_string()]
        );
        assert_eq!(
            PathFilter::roots(&["**/*.csv", "data/x"]),
            vec![String::new()]
        );
    }
}
