//! Text for a cell of a Markdown table, which the report's sections share.

/// `text` without what would end the cell or the row: `|` escaped, line breaks as spaces.
pub(super) fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
