//! The report's sections for mlci's ML keys: the models a run registered
//! (or would have, and which version each would replace), and its datasets'
//! validation and drift.

use super::cell::cell;
use crate::record::{CandidateOutcome, CandidateStatus, RunRecord};

/// `### Models`: one row per `register:` candidate, linked to its lineage.
pub fn models_section(models: &[CandidateOutcome]) -> String {
    if models.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n### Models\n\n| Model | Version | Alias | Replaces | Result | Lineage |\n| --- | --- | --- | --- | --- | --- |\n",
    );
    for model in models {
        let c = &model.candidate;
        let version = match (model.status, model.version) {
            (CandidateStatus::Registered, Some(v)) => format!("**@{v}** (new)"),
            (CandidateStatus::Existing, Some(v)) => format!("@{v} (same content)"),
            (CandidateStatus::Rejected, _) => "not registered".to_string(),
            _ => "pending".to_string(),
        };
        let alias = match (&c.promote_alias, model.promoted) {
            (Some(alias), true) => format!("`{alias}` ✅ moved"),
            (Some(alias), false) => format!("`{alias}` stays"),
            (None, _) => "—".to_string(),
        };
        let replaces = match (model.replaces, model.promoted, model.status) {
            (Some(v), true, _) => format!("@{v}"),
            (Some(v), false, CandidateStatus::Rejected) => format!("would replace @{v}"),
            (Some(v), false, _) => format!("@{v} kept"),
            (None, _, _) => "—".to_string(),
        };
        let result = match model.status {
            CandidateStatus::Rejected => format!("❌ {}", model.reason),
            _ if model.reason.is_empty() => "✅ registered".to_string(),
            _ => format!("✅ {}", model.reason),
        };
        let lineage = match model.version {
            Some(v) if model.status != CandidateStatus::Rejected => {
                format!("`mlci lineage {}@{v}`", c.name)
            }
            _ => "—".to_string(),
        };
        out.push_str(&format!(
            "| `{}` | {version} | {alias} | {replaces} | {} | {lineage} |\n",
            cell(&c.name),
            cell(&result)
        ));
    }
    out
}

/// `### Data validation`: each dataset's verdict, its failures, its worst drift.
pub fn data_section(record: &RunRecord) -> String {
    let checks: Vec<_> = record
        .jobs
        .iter()
        .flat_map(|j| {
            j.steps
                .iter()
                .flat_map(move |s| s.data_checks.iter().map(move |c| (j, c)))
        })
        .collect();
    if checks.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n### Data validation\n\n| Dataset | Schema | Job | Result | Largest drift |\n| --- | --- | --- | --- | --- |\n",
    );
    let mut failures = String::new();
    for (job, check) in &checks {
        // A drifted column first, else the one nearest to drifting.
        let worst = check
            .drift
            .iter()
            .filter(|d| !d.measure.is_empty())
            .min_by(|a, b| {
                b.drifted.cmp(&a.drifted).then_with(|| {
                    let p =
                        |d: &crate::record::ColumnDrift| d.p_adjusted.or(d.p_value).unwrap_or(1.0);
                    p(a).total_cmp(&p(b))
                })
            })
            .map(|d| {
                format!(
                    "{}`{}` {}",
                    if d.drifted { "❌ " } else { "" },
                    cell(&d.column),
                    cell(&d.summary())
                )
            })
            .unwrap_or_else(|| "— (no baseline)".to_string());
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {worst} |\n",
            cell(&check.path),
            cell(&check.schema),
            cell(&job.name),
            if check.passed {
                "✅ passed".to_string()
            } else {
                format!("❌ {} failed", check.failures.len())
            }
        ));
        for failure in check.failures.iter().take(20) {
            failures.push_str(&format!("- `{}`: {}\n", cell(&check.path), cell(failure)));
        }
    }
    if !failures.is_empty() {
        out.push('\n');
        out.push_str(&failures);
    }
    out
}
