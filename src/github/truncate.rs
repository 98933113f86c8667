//! GitHub's size limit on comment and summary bodies, and cutting a text to it.

/// GitHub refuses comment and summary bodies longer than this (in characters).
pub const GITHUB_BODY_LIMIT: usize = 65_536;

/// Cuts `text` to `limit` characters at a line boundary, closes an open code
/// block, and says so.
pub fn truncate(text: &str, limit: usize, hint: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let note = format!(
        "\n\n> [!NOTE]\n> This report was cut at GitHub's {limit}-character limit. {hint}\n"
    );
    let budget = limit.saturating_sub(note.chars().count() + 16);
    let mut kept = String::new();
    let mut count = 0;
    for line in text.split_inclusive('\n') {
        let n = line.chars().count();
        if count + n > budget {
            break;
        }
        kept.push_str(line);
        count += n;
    }
    let fences = kept
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    if fences % 2 == 1 {
        kept.push_str("```\n");
    }
    if kept.matches("<details>").count() > kept.matches("</details>").count() {
        kept.push_str("\n</details>\n");
    }
    kept.push_str(&note);
    kept
}
