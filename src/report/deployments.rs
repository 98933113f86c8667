//! The report's `### Deployments`: what the run's `deploy:` steps did, one
//! row per deployment row they recorded: the deployment and its target, the
//! version and its image, where it answers, what it replaced, how it ended.

use super::cell::cell;
use crate::record::{DeployAction, DeployOutcome, DeploymentRecord};

/// The section, or nothing for a run that deployed nothing.
pub fn deployments_section(rows: &[DeploymentRecord]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n### Deployments\n\n| Deployment | Target | Version | URL | Replaced | Outcome |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for row in rows {
        let version = match row.version {
            Some(v) => format!("`{}@{v}`", cell(&row.model)),
            None => format!("`{}`", cell(&row.model)),
        };
        let version = match row.image_digest.as_deref().map(short_digest) {
            Some(digest) => format!("{version} · `{}`", cell(&digest)),
            None => version,
        };
        let url = row
            .url
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(cell)
            .unwrap_or_else(|| "—".to_string());
        out.push_str(&format!(
            "| `{}` | {} | {version} | {url} | {} | {} |\n",
            cell(&row.name),
            cell(&row.target),
            replaced(row),
            outcome(row)
        ));
    }
    out
}

/// `sha256:0123456789ab`: the image's digest, short as Docker shows it.
fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("{algorithm}:{}", &hex[..hex.len().min(12)]),
        None => digest[..digest.len().min(12)].to_string(),
    }
}

/// What served before: replaced, or (for a canary) still serving the rest.
fn replaced(row: &DeploymentRecord) -> String {
    let Some(previous) = row.previous_version else {
        return "—".to_string();
    };
    let label = format!("`{}@{previous}`", cell(&row.model));
    match (row.outcome, row.action, row.canary_percent) {
        (DeployOutcome::Live, DeployAction::Canary, Some(percent)) => {
            format!(
                "none yet: {label} keeps {} %",
                100u8.saturating_sub(percent)
            )
        }
        (DeployOutcome::Live | DeployOutcome::Removed, _, _) => label,
        // Refused or failed: what served before still serves.
        _ => format!("none: {label} still serves"),
    }
}

fn outcome(row: &DeploymentRecord) -> String {
    let why = |default: &str| {
        let message = row.message.trim();
        cell(if message.is_empty() { default } else { message })
    };
    match (row.outcome, row.action) {
        (DeployOutcome::Live, DeployAction::Canary) => match row.canary_percent {
            Some(percent) => format!("✅ canary {percent} %"),
            None => "✅ canary".to_string(),
        },
        (DeployOutcome::Live, DeployAction::Promote) => "✅ live (canary promoted)".to_string(),
        (DeployOutcome::Live, DeployAction::Rollback) => "✅ live (rolled back)".to_string(),
        (DeployOutcome::Live, _) => "✅ live".to_string(),
        (DeployOutcome::Refused, _) => format!(
            "❌ refused: {}",
            why("it failed its health check or smoke test")
        ),
        (DeployOutcome::Failed, _) => format!("❌ failed: {}", why("see the run's log")),
        (DeployOutcome::Removed, _) => "removed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_cut_as_docker_shows_them() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
        assert_eq!(short_digest("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_digest("sha256:ab"), "sha256:ab");
    }
}
