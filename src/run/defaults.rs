//! The default environment variables of a step, as GitHub's docs list them
//! ("Default environment variables") and as its runner exports them from
//! the `github` and `runner` contexts.
//!
//! Values that GitHub exports even when empty are exported empty here too:
//! `GITHUB_HEAD_REF` and `GITHUB_BASE_REF` are `""` outside pull-request
//! events. `RUNNER_DEBUG` is set (to `1`) only when debug logging is on.
//! In a job with `container:`, GitHub sets `HOME=/github/home` (its job
//! container mounts that directory); give `home` to do the same.

use std::collections::BTreeMap;

/// Paths of the step files (as the step sees them, inside the container).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileCommandPaths {
    pub output: String,
    pub env: String,
    pub path: String,
    pub step_summary: String,
    pub state: String,
}

/// What the default environment is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultEnvInput {
    /// `name:` of the workflow, or its file path when it has none.
    pub workflow: String,
    /// `owner/repo/.github/workflows/file.yml@refs/heads/main`, if known.
    pub workflow_ref: Option<String>,
    pub workflow_sha: Option<String>,
    pub run_id: u64,
    pub run_number: u64,
    pub run_attempt: u64,
    /// The job's id (its key under `jobs:`).
    pub job: String,
    /// The step's id, or `__run`, `__run_2`, … for unnamed `run:` steps,
    /// `__owner_repo` for actions (see [`action_name`]).
    pub action: String,
    pub actor: String,
    pub triggering_actor: Option<String>,
    /// `owner/repo`.
    pub repository: String,
    pub event_name: String,
    /// Path of the event payload inside the container.
    pub event_path: String,
    /// `GITHUB_WORKSPACE` inside the container.
    pub workspace: String,
    pub sha: String,
    /// Full ref, e.g. `refs/heads/main`, `refs/tags/v1`, `refs/pull/5/merge`.
    pub git_ref: String,
    /// Pull requests only.
    pub head_ref: Option<String>,
    pub base_ref: Option<String>,
    /// `https://github.com` or a GitHub Enterprise Server URL.
    pub server_url: String,
    pub files: FileCommandPaths,
    /// `X64`, `ARM64`, …; see [`runner_arch`].
    pub runner_arch: String,
    pub runner_name: String,
    /// `RUNNER_TEMP` inside the container.
    pub runner_temp: String,
    pub runner_tool_cache: String,
    /// `github-hosted` or `self-hosted`.
    pub runner_environment: String,
    /// Debug logging (`RUNNER_DEBUG=1`).
    pub debug: bool,
    /// `HOME` to set (GitHub sets `/github/home` in container jobs).
    pub home: Option<String>,
    pub retention_days: Option<u32>,
}

/// `RUNNER_ARCH` for a Rust/Docker architecture name (`x86_64`, `amd64`,
/// `aarch64`, `arm64`, `arm`, `x86`).
pub fn runner_arch(arch: &str) -> &'static str {
    match arch {
        "x86_64" | "amd64" => "X64",
        "aarch64" | "arm64" => "ARM64",
        "arm" | "armv7" | "armhf" => "ARM",
        "x86" | "i386" | "i686" | "386" => "X86",
        _ => "X64",
    }
}

/// `GITHUB_ACTION` for the `index`-th (1-based) step without `id` of the
/// same kind in a job: `__run`, `__run_2`, … for scripts, and for an action
/// `__owner_repo` (characters other than letters, digits and `_` dropped).
pub fn action_name(step_id: Option<&str>, uses: Option<&str>, index: usize) -> String {
    if let Some(id) = step_id.filter(|s| !s.is_empty()) {
        return id.to_string();
    }
    let base = match uses {
        None => "__run".to_string(),
        Some(u) => {
            let repo = u.split('@').next().unwrap_or(u);
            let mut parts = repo.split('/');
            let owner = parts.next().unwrap_or("");
            let name = parts.next().unwrap_or("");
            let clean = |s: &str| {
                s.chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect::<String>()
            };
            format!("__{}_{}", clean(owner), clean(name))
        }
    };
    if index > 1 {
        format!("{base}_{index}")
    } else {
        base
    }
}

/// `GITHUB_REF_NAME`: the branch or tag name, or `5/merge` for a pull
/// request's merge ref.
pub fn ref_name(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .or_else(|| git_ref.strip_prefix("refs/pull/"))
        .unwrap_or(git_ref)
}

/// `GITHUB_REF_TYPE`: `tag` for tags, `branch` otherwise (pull-request
/// refs included), empty without a ref.
pub fn ref_type(git_ref: &str) -> &'static str {
    if git_ref.is_empty() {
        ""
    } else if git_ref.starts_with("refs/tags/") {
        "tag"
    } else {
        "branch"
    }
}

/// `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL` for a server URL.
pub fn api_urls(server_url: &str) -> (String, String) {
    let server = server_url.trim_end_matches('/');
    if server.is_empty() || server.eq_ignore_ascii_case("https://github.com") {
        (
            "https://api.github.com".to_string(),
            "https://api.github.com/graphql".to_string(),
        )
    } else {
        (format!("{server}/api/v3"), format!("{server}/api/graphql"))
    }
}

/// The default environment of a step.
pub fn default_env(ctx: &DefaultEnvInput) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_string(), v.to_string());
    };
    let (api, graphql) = api_urls(&ctx.server_url);
    let server = if ctx.server_url.is_empty() {
        "https://github.com"
    } else {
        ctx.server_url.trim_end_matches('/')
    };
    set("CI", "true");
    set("GITHUB_ACTIONS", "true");
    set("GITHUB_WORKFLOW", &ctx.workflow);
    if let Some(r) = &ctx.workflow_ref {
        set("GITHUB_WORKFLOW_REF", r);
    }
    if let Some(s) = &ctx.workflow_sha {
        set("GITHUB_WORKFLOW_SHA", s);
    }
    set("GITHUB_RUN_ID", &ctx.run_id.to_string());
    set("GITHUB_RUN_NUMBER", &ctx.run_number.to_string());
    set("GITHUB_RUN_ATTEMPT", &ctx.run_attempt.max(1).to_string());
    set("GITHUB_JOB", &ctx.job);
    set("GITHUB_ACTION", &ctx.action);
    set("GITHUB_ACTOR", &ctx.actor);
    set(
        "GITHUB_TRIGGERING_ACTOR",
        ctx.triggering_actor.as_deref().unwrap_or(&ctx.actor),
    );
    set("GITHUB_REPOSITORY", &ctx.repository);
    set(
        "GITHUB_REPOSITORY_OWNER",
        ctx.repository.split('/').next().unwrap_or(""),
    );
    set("GITHUB_EVENT_NAME", &ctx.event_name);
    set("GITHUB_EVENT_PATH", &ctx.event_path);
    set("GITHUB_WORKSPACE", &ctx.workspace);
    set("GITHUB_SHA", &ctx.sha);
    set("GITHUB_REF", &ctx.git_ref);
    set("GITHUB_REF_NAME", ref_name(&ctx.git_ref));
    set("GITHUB_REF_TYPE", ref_type(&ctx.git_ref));
    set("GITHUB_REF_PROTECTED", "false");
    set("GITHUB_HEAD_REF", ctx.head_ref.as_deref().unwrap_or(""));
    set("GITHUB_BASE_REF", ctx.base_ref.as_deref().unwrap_or(""));
    set("GITHUB_SERVER_URL", server);
    set("GITHUB_API_URL", &api);
    set("GITHUB_GRAPHQL_URL", &graphql);
    set("GITHUB_OUTPUT", &ctx.files.output);
    set("GITHUB_ENV", &ctx.files.env);
    set("GITHUB_PATH", &ctx.files.path);
    set("GITHUB_STEP_SUMMARY", &ctx.files.step_summary);
    set("GITHUB_STATE", &ctx.files.state);
    set(
        "GITHUB_RETENTION_DAYS",
        &ctx.retention_days.unwrap_or(90).to_string(),
    );
    set("RUNNER_OS", "Linux");
    set("RUNNER_ARCH", &ctx.runner_arch);
    set("RUNNER_NAME", &ctx.runner_name);
    set("RUNNER_TEMP", &ctx.runner_temp);
    set("RUNNER_TOOL_CACHE", &ctx.runner_tool_cache);
    set("RUNNER_ENVIRONMENT", &ctx.runner_environment);
    if ctx.debug {
        set("RUNNER_DEBUG", "1");
    }
    if let Some(home) = &ctx.home {
        set("HOME", home);
    }
    env
}
