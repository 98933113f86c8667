//! The `github` context and the event payload, filled from the repository.

use crate::expr::{Object, Value};
use std::path::Path;
use std::process::Command;

/// What git says about the repository being run.
#[derive(Clone, Debug)]
pub struct GitInfo {
    pub sha: String,
    pub git_ref: String,
    /// `owner/repo`, from the `origin` remote, else `local/<directory>`.
    pub repository: String,
    pub actor: String,
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

pub fn git_info(repo: &Path) -> GitInfo {
    // Four git processes at once: each costs tens of milliseconds to start,
    // which a short run would otherwise pay four times over.
    let [sha, git_ref, origin, user] = std::thread::scope(|scope| {
        [
            &["rev-parse", "HEAD"][..],
            &["symbolic-ref", "-q", "HEAD"],
            &["remote", "get-url", "origin"],
            &["config", "user.name"],
        ]
        .map(|args| scope.spawn(move || git(repo, args)))
        .map(|handle| handle.join().ok().flatten())
    });
    // A checkout without .git (actions/checkout without git downloads a
    // tarball): inside GitHub Actions, GITHUB_SHA is the commit; the report
    // refuses a run whose commit is not the event's, so the zero sha would
    // be refused.
    let sha = sha
        .or_else(|| std::env::var("GITHUB_SHA").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "0".repeat(40));
    let git_ref = git_ref.unwrap_or_else(|| "refs/heads/main".to_string());
    let repository = origin
        .and_then(|url| repository_from_url(&url))
        .unwrap_or_else(|| {
            let name = repo
                .canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "repo".to_string());
            format!("local/{name}")
        });
    let actor = user
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "mlci".to_string());
    GitInfo {
        sha,
        git_ref,
        repository,
        actor,
    }
}

/// `owner/repo` from `https://host/owner/repo(.git)` or `git@host:owner/repo(.git)`.
pub fn repository_from_url(url: &str) -> Option<String> {
    let path = url.trim_end_matches('/').trim_end_matches(".git");
    let path = path.rsplit_once(':').map(|(_, p)| p).unwrap_or(path);
    let mut parts: Vec<&str> = path.rsplit('/').take(2).collect();
    parts.reverse();
    (parts.len() == 2 && parts.iter().all(|p| !p.is_empty())).then(|| parts.join("/"))
}

/// A minimal payload for an event when none is given with `--eventpath`.
pub fn default_payload(
    event: &str,
    info: &GitInfo,
    inputs: &Object,
    workflow: &crate::workflow::Workflow,
) -> serde_json::Value {
    let repository = serde_json::json!({
        "full_name": info.repository,
        "name": info.repository.rsplit('/').next().unwrap_or_default(),
        "owner": {"login": info.repository.split('/').next().unwrap_or_default()},
        "default_branch": "main",
    });
    match event {
        "workflow_dispatch" => serde_json::json!({
            "inputs": Value::Object(inputs.clone()).to_json(),
            "ref": info.git_ref,
            "repository": repository,
        }),
        "pull_request" | "pull_request_target" => serde_json::json!({
            "action": "opened",
            "number": 1,
            "pull_request": {
                "number": 1,
                "head": {"ref": crate::run::defaults::ref_name(&info.git_ref), "sha": info.sha},
                "base": {"ref": "main"},
                "labels": [],
            },
            "repository": repository,
        }),
        // GitHub's payload names the cron that fired; without a choice
        // (`mlci run -e schedule`), the workflow's first.
        "schedule" => serde_json::json!({
            "schedule": workflow
                .trigger("schedule")
                .and_then(|t| t.filters.cron.first())
                .map(|c| c.value.clone()),
            "repository": repository,
        }),
        // mlci's own event: the patterns of the dataset's files.
        "dataset" => serde_json::json!({
            "dataset": {
                "paths": workflow
                    .trigger("dataset")
                    .map(|t| t.filters.paths.iter().map(|p| p.value.clone()).collect::<Vec<_>>())
                    .unwrap_or_default(),
            },
            "ref": info.git_ref,
            "after": info.sha,
            "repository": repository,
        }),
        _ => serde_json::json!({
            "ref": info.git_ref,
            "after": info.sha,
            "head_commit": {"id": info.sha},
            "repository": repository,
        }),
    }
}

/// The `github` context of a run.
pub struct GithubContextInput<'a> {
    pub info: &'a GitInfo,
    pub event_name: &'a str,
    pub payload: &'a serde_json::Value,
    pub workflow: &'a str,
    pub run_id: u64,
    pub workspace: &'a str,
    pub job: &'a str,
}

pub fn github_context(input: &GithubContextInput) -> Object {
    let info = input.info;
    let mut github = Object::new();
    let s = |v: &str| Value::String(v.to_string());
    github.insert("event_name", s(input.event_name));
    github.insert("event", Value::from_json(input.payload));
    github.insert("sha", s(&info.sha));
    github.insert("ref", s(&info.git_ref));
    github.insert("ref_name", s(crate::run::defaults::ref_name(&info.git_ref)));
    github.insert(
        "ref_type",
        s(if info.git_ref.starts_with("refs/tags/") {
            "tag"
        } else {
            "branch"
        }),
    );
    github.insert("repository", s(&info.repository));
    github.insert(
        "repository_owner",
        s(info.repository.split('/').next().unwrap_or_default()),
    );
    github.insert("actor", s(&info.actor));
    github.insert("triggering_actor", s(&info.actor));
    github.insert("workflow", s(input.workflow));
    github.insert("workspace", s(input.workspace));
    github.insert("job", s(input.job));
    github.insert("run_id", s(&input.run_id.to_string()));
    github.insert("run_number", s("1"));
    github.insert("run_attempt", s("1"));
    github.insert("server_url", s("https://github.com"));
    github.insert("api_url", s("https://api.github.com"));
    github.insert("graphql_url", s("https://api.github.com/graphql"));
    github.insert("action", s(""));
    let pr = input.payload.get("pull_request");
    let head_ref = pr
        .and_then(|p| p["head"]["ref"].as_str())
        .unwrap_or_default();
    let base_ref = pr
        .and_then(|p| p["base"]["ref"].as_str())
        .unwrap_or_default();
    github.insert("head_ref", s(head_ref));
    github.insert("base_ref", s(base_ref));
    github.insert("token", s(""));
    github
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_come_from_remote_urls() {
        assert_eq!(
            repository_from_url("https://github.com/acme/ml.git").as_deref(),
            Some("acme/ml")
        );
        assert_eq!(
            repository_from_url("git@github.com:acme/ml.git").as_deref(),
            Some("acme/ml")
        );
        assert_eq!(
            repository_from_url("/srv/git/acme/ml").as_deref(),
            Some("acme/ml")
        );
        assert_eq!(repository_from_url("ml"), None);
    }
}
