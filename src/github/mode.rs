//! Which reports `--github` publishes: the comment, the check, the summary.

/// Which reports `--github` publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishMode {
    pub comment: bool,
    pub check: bool,
    pub summary: bool,
}

impl Default for PublishMode {
    fn default() -> Self {
        PublishMode {
            comment: true,
            check: true,
            summary: true,
        }
    }
}

impl PublishMode {
    /// `all`, or a comma-separated list of `comment`, `check`, `summary`.
    pub fn parse(text: &str) -> Result<PublishMode, String> {
        let mut mode = PublishMode {
            comment: false,
            check: false,
            summary: false,
        };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "all" => mode = PublishMode::default(),
                "comment" => mode.comment = true,
                "check" | "status" => mode.check = true,
                "summary" => mode.summary = true,
                other => {
                    return Err(format!(
                        "unknown report target `{other}`: expected comment, check, summary or all"
                    ));
                }
            }
        }
        if !(mode.comment || mode.check || mode.summary) {
            return Err("no report target: expected comment, check, summary or all".to_string());
        }
        Ok(mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!(PublishMode::parse("all").unwrap(), PublishMode::default());
        let m = PublishMode::parse("comment,summary").unwrap();
        assert!(m.comment && m.summary && !m.check);
        assert!(PublishMode::parse("tweet").is_err());
    }
}
