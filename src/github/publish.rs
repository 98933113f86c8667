//! Publishing to GitHub: the job summary, then the PR comment and the check
//! run (or commit statuses).

use super::check_run::create_check_run;
use super::client::Client;
use super::comment::{pr_for_commit, upsert_comment};
use super::config::GithubConfig;
use super::error::{GithubError, READ_ONLY_MESSAGE};
use super::mode::PublishMode;
use super::publication::Publication;
use super::statuses::post_statuses;
use super::summary;

/// What [`publish`] did, in sentences.
#[derive(Clone, Debug, Default)]
pub struct PublishOutcome {
    pub messages: Vec<String>,
    pub comment_id: Option<u64>,
    pub check_run_id: Option<u64>,
    pub statuses: usize,
    pub read_only: bool,
}

/// Writes the job summary, then the PR comment and the check run (or statuses).
/// A read-only token is not an error: the outcome says so. Other failures are,
/// and so is a publication of another commit than the event's (its head, or
/// `GITHUB_SHA`): nothing of it is posted.
pub async fn publish(
    config: &GithubConfig,
    publication: &Publication,
    mode: PublishMode,
) -> Result<PublishOutcome, GithubError> {
    if let Some(head) = config.head_sha()
        && !publication.sha.is_empty()
        && publication.sha != head
        && config.sha.as_deref() != Some(publication.sha.as_str())
    {
        return Err(GithubError::OtherCommit {
            published: publication.sha.clone(),
            head,
        });
    }
    let mut outcome = PublishOutcome::default();
    if mode.summary {
        summary::write_job_summary(config, publication, mode, &mut outcome.messages)?;
    }
    if !mode.comment && !mode.check {
        return Ok(outcome);
    }
    if !config.has_token() {
        return Err(GithubError::Config(
            "no GitHub token: set GITHUB_TOKEN or pass --token to post the comment and the check"
                .to_string(),
        ));
    }
    let client = Client::new(config)?;
    let repo = config.repository.clone();
    let sha = config
        .head_sha()
        .or_else(|| (!publication.sha.is_empty()).then(|| publication.sha.clone()));

    if mode.comment {
        let pr = match config.event_pr().or(publication.pr_number) {
            Some(pr) => Some(pr),
            None => match &sha {
                Some(sha) => pr_for_commit(&client, &repo, sha).await?,
                None => None,
            },
        };
        match pr {
            Some(pr) => match upsert_comment(&client, &repo, pr, publication).await {
                Ok((id, message)) => {
                    outcome.comment_id = Some(id);
                    outcome.messages.push(message);
                }
                Err(error) if error.is_read_only() => {
                    outcome.read_only = true;
                    outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                    return Ok(outcome);
                }
                Err(error) => return Err(error),
            },
            None => outcome.messages.push(format!(
                "no pull request found for commit {}: no comment posted",
                sha.as_deref().unwrap_or("(unknown)")
            )),
        }
    }

    if mode.check {
        let Some(sha) = sha else {
            outcome.messages.push(
                "GITHUB_SHA is not set and the run has no commit: no check posted".to_string(),
            );
            return Ok(outcome);
        };
        match create_check_run(&client, &repo, &sha, publication).await {
            Ok(id) => {
                outcome.check_run_id = Some(id);
                outcome.messages.push(format!(
                    "check run {id} `mlci / {}` posted: {}",
                    publication.workflow,
                    if publication.passed {
                        "success"
                    } else {
                        "failure"
                    }
                ));
            }
            Err(error) if error.is_read_only() && outcome.comment_id.is_none() => {
                outcome.read_only = true;
                outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                return Ok(outcome);
            }
            Err(error) if matches!(error.status(), Some(403) | Some(404)) => {
                // Tokens that cannot create check runs (personal tokens, some apps) can still post statuses.
                match post_statuses(&client, &repo, &sha, publication).await {
                    Ok(count) => {
                        outcome.statuses = count;
                        outcome.messages.push(format!(
                            "the token cannot create check runs ({}); posted {count} commit status{} instead",
                            error.status().unwrap_or_default(),
                            if count == 1 { "" } else { "es" }
                        ));
                    }
                    Err(error) if error.is_read_only() => {
                        outcome.read_only = true;
                        outcome.messages.push(READ_ONLY_MESSAGE.to_string());
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcome)
}
