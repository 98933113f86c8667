//! The job summary: the report appended to `GITHUB_STEP_SUMMARY`.

use super::config::GithubConfig;
use super::error::GithubError;
use super::mode::PublishMode;
use super::publication::Publication;

/// Appends the report to the job summary, saying so in `messages`.
pub(super) fn write_job_summary(
    config: &GithubConfig,
    publication: &Publication,
    mode: PublishMode,
    messages: &mut Vec<String>,
) -> Result<(), GithubError> {
    match &config.step_summary {
        Some(path) => {
            use std::io::Write;
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| {
                    f.write_all(publication.markdown.as_bytes())?;
                    f.write_all(b"\n")
                });
            match written {
                Ok(()) => messages.push("report written to the job summary".to_string()),
                Err(e) => {
                    return Err(GithubError::Config(format!(
                        "cannot write the job summary {}: {e}",
                        path.display()
                    )));
                }
            }
        }
        None if !mode.comment && !mode.check => messages.push(
            "GITHUB_STEP_SUMMARY is not set (not inside GitHub Actions): no job summary written"
                .to_string(),
        ),
        None => {}
    }
    Ok(())
}
