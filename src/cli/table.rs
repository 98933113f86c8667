//! Plain-text tables and the small words they are made of.

pub(super) fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text
    }
}

/// Left-aligned columns separated by two spaces; rows are arrays or vectors
/// of the same length.
pub(super) fn table<R: AsRef<[String]>>(rows: &[R]) -> String {
    let columns = rows.first().map(|r| r.as_ref().len()).unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row.as_ref()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (i, (cell, width)) in row.as_ref().iter().zip(&widths).enumerate() {
            line.push_str(cell);
            if i + 1 < columns {
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
