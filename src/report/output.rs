//! What publishing a report did, and its Markdown file (`--output`):
//! shared by a run's report and the notice of a missing run.

use super::error::ReportError;
use super::options::ReportOptions;

/// What [`super::publish`] (or [`super::publish_missing`]) did.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// One sentence per thing worth saying (where the report went, what was refused).
    pub messages: Vec<String>,
    /// The run was not GitHub's to show (another commit's, or none): a
    /// failing notice went in its place, and the command fails.
    pub refused: bool,
}

/// Writes `markdown` to `--output`, when given.
pub(super) fn write_file(
    markdown: &str,
    options: &ReportOptions,
    published: &mut Published,
) -> Result<(), ReportError> {
    if let Some(path) = &options.output {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::write(path, markdown).map_err(|source| ReportError::Write {
            path: path.display().to_string(),
            source,
        })?;
        published
            .messages
            .push(format!("report written to {}", path.display()));
    }
    Ok(())
}
