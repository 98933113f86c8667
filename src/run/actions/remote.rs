//! Remote actions (`owner/repo[/path]@ref`): cloned once with `git` into the
//! action cache and used from there, offline, afterwards.
//!
//! The cache holds one directory per `owner/repo@ref`:
//! `<cache dir>/actions/<owner>/<repo>@<ref>` (`--cache-dir`, else
//! `$MLCI_CACHE_DIR`, else `~/.cache/mlci`), the files of the repository at that ref
//! without `.git`. A clone goes to a temporary directory beside it and is
//! renamed into place when complete, so that a killed clone leaves nothing
//! half-written and two runs cloning the same action at once do not step on
//! each other (the second rename loses and its copy is dropped).
//!
//! The repositories come from `https://github.com/<owner>/<repo>`, or from
//! `$MLCI_ACTIONS_URL/<owner>/<repo>` (a mirror, or a `file://` directory of
//! bare repositories, also named `<repo>.git`).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one clone may take.
const CLONE_TIMEOUT: Duration = Duration::from_secs(300);

/// `$MLCI_ACTIONS_URL`, else `https://github.com`.
pub fn actions_base_url() -> String {
    std::env::var("MLCI_ACTIONS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "https://github.com".to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The cache directory of `owner/repo@ref` (`/` in a ref becomes `%2F`).
pub fn cache_dir(cache: &Path, owner: &str, repo: &str, git_ref: &str) -> PathBuf {
    let safe_ref = git_ref.replace('%', "%25").replace('/', "%2F");
    cache.join(owner).join(format!("{repo}@{safe_ref}"))
}

fn repository_url(owner: &str, repo: &str) -> String {
    let base = actions_base_url();
    let url = format!("{base}/{owner}/{repo}");
    if let Some(dir) = base.strip_prefix("file://") {
        let plain = Path::new(dir).join(owner).join(repo);
        let dotted = Path::new(dir).join(owner).join(format!("{repo}.git"));
        if !plain.exists() && dotted.exists() {
            return format!("{url}.git");
        }
    }
    url
}

/// The action's files at `git_ref`, from the cache or cloned into it.
pub async fn fetch(
    cache: &Path,
    owner: &str,
    repo: &str,
    git_ref: &str,
) -> Result<PathBuf, String> {
    let dir = cache_dir(cache, owner, repo, git_ref);
    if dir.is_dir() {
        return Ok(dir);
    }
    let url = repository_url(owner, repo);
    let parent = dir.parent().expect("a cache directory has a parent");
    std::fs::create_dir_all(parent).map_err(|e| {
        format!(
            "cannot create the action cache {}: {e}; give a writable directory with --cache-dir (or MLCI_CACHE_DIR)",
            parent.display()
        )
    })?;
    let temp = tempfile::Builder::new()
        .prefix(&format!(".clone-{repo}@"))
        .tempdir_in(parent)
        .map_err(|e| format!("cannot create a directory in {}: {e}", parent.display()))?;
    let checkout = temp.path().join("tree");
    if let Err(detail) = clone(&url, git_ref, &checkout).await {
        let hint = if url.starts_with("file://") {
            "check MLCI_ACTIONS_URL and that the repository has that ref".to_string()
        } else {
            format!(
                "if no network is reachable, clone it once where there is one, or put the repository's files at that ref into {} (or set MLCI_ACTIONS_URL to a reachable mirror)",
                dir.display()
            )
        };
        return Err(format!(
            "cannot fetch the action `{owner}/{repo}@{git_ref}` from {url} ({detail}); {hint}"
        ));
    }
    let _ = std::fs::remove_dir_all(checkout.join(".git"));
    match std::fs::rename(&checkout, &dir) {
        Ok(()) => Ok(dir),
        // Another run put it there first: use theirs.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(format!(
            "cannot move the clone of `{owner}/{repo}@{git_ref}` into {}: {e}",
            dir.display()
        )),
    }
}

/// The files of `owner/repo` at `git_ref` from the action cache under
/// `cache_root` (the cache directory), cloned into
/// it first if need be, for callers outside a run (reusable workflows are
/// read when a workflow is loaded). The clone runs on a thread of its own,
/// so that a caller inside an async runtime can wait for it.
pub fn fetch_repository(
    cache_root: &Path,
    owner: &str,
    repo: &str,
    git_ref: &str,
) -> Result<PathBuf, String> {
    let cache = cache_root.join("actions");
    let dir = cache_dir(&cache, owner, repo, git_ref);
    if dir.is_dir() {
        return Ok(dir);
    }
    let (owner, repo, git_ref) = (owner.to_string(), repo.to_string(), git_ref.to_string());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime
            .block_on(fetch(&cache, &owner, &repo, &git_ref))
            .map_err(|e| e.replace("the action", "the repository"))
    })
    .join()
    .unwrap_or_else(|_| Err("the clone stopped unexpectedly".to_string()))
}

/// `git clone --depth 1 --branch REF`, or for a commit SHA a fetch of that commit.
async fn clone(url: &str, git_ref: &str, into: &Path) -> Result<(), String> {
    let into_s = into.to_string_lossy().to_string();
    let by_name = git(&[
        "clone", "--quiet", "--depth", "1", "--branch", git_ref, url, &into_s,
    ])
    .await;
    let Err(first_error) = by_name else {
        return Ok(());
    };
    let is_sha = git_ref.len() >= 7 && git_ref.chars().all(|c| c.is_ascii_hexdigit());
    if !is_sha {
        return Err(first_error);
    }
    let _ = std::fs::remove_dir_all(into);
    git(&["init", "--quiet", &into_s]).await?;
    git(&[
        "-C", &into_s, "fetch", "--quiet", "--depth", "1", url, git_ref,
    ])
    .await?;
    git(&[
        "-C",
        &into_s,
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        "FETCH_HEAD",
    ])
    .await
}

/// Runs git without prompts; the error is git's last line of output.
async fn git(args: &[&str]) -> Result<(), String> {
    let mut command = tokio::process::Command::new("git");
    command
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("GCM_INTERACTIVE", "never")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = match tokio::time::timeout(CLONE_TIMEOUT, command.output()).await {
        Err(_) => {
            return Err(format!(
                "git gave no result within {} s",
                CLONE_TIMEOUT.as_secs()
            ));
        }
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("git is not installed on this machine".to_string());
        }
        Ok(Err(e)) => return Err(format!("cannot run git: {e}")),
        Ok(Ok(output)) => output,
    };
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("git failed")
        .trim_start_matches("fatal: ")
        .to_string();
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dirs_are_one_per_repo_and_ref() {
        let root = Path::new("/c");
        assert_eq!(cache_dir(root, "o", "r", "v1"), PathBuf::from("/c/o/r@v1"));
        assert_eq!(
            cache_dir(root, "o", "r", "release/1"),
            PathBuf::from("/c/o/r@release%2F1")
        );
    }
}
