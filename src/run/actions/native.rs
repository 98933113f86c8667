//! The most used actions, implemented here so that they work offline and fast.
//!
//! - `actions/checkout@*`: the workspace already is the repository's snapshot
//!   (committed and working-tree files); with `path:` the snapshot is copied
//!   into that sub-directory of the workspace as well.
//! - `actions/upload-artifact@*`: `name` (default `artifact`), `path` (lines
//!   of paths and globs, `!` to exclude), `if-no-files-found`
//!   (`warn`|`error`|`ignore`), `overwrite`. The files are copied out of the
//!   container into the run's artifacts directory on the host
//!   (`$MLCI_ARTIFACTS_DIR/<run>/<name>`, else `~/.cache/mlci/artifacts/…`),
//!   laid out as GitHub does: relative to the least common ancestor of the
//!   search paths.
//! - `actions/download-artifact@*`: `name` into `path` (default the
//!   workspace); without `name`, every artifact of the run so far, each into
//!   its own sub-directory, as v4 does.
//! - `actions/cache@*` (and `/restore`, `/save`): on mlci's own cache store,
//!   offline; the save waits for the end of a job that succeeded.

use super::call::Call;
use crate::executor::{Backend, JobEnv};
use crate::expr::{Object, Value};
use crate::run::step::StepCtx;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Native {
    Checkout,
    UploadArtifact,
    DownloadArtifact,
    /// `actions/cache` (both), `actions/cache/restore`, `actions/cache/save`.
    Cache {
        restore: bool,
        save: bool,
    },
}

pub(super) async fn run<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    native: Native,
    cache_saves: &mut Vec<CacheSave>,
) -> (&'static str, Object) {
    let result = match native {
        Native::Cache { restore, save } => cache(ctx, call, restore, save, cache_saves).await,
        Native::Checkout => checkout(ctx, call).await,
        Native::UploadArtifact => upload(ctx, call).await,
        Native::DownloadArtifact => download(ctx, call).await,
    };
    conclude(ctx, call, result)
}

/// A native action's conclusion and outputs; a failure prints its reason.
pub(super) fn conclude<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    result: Result<Object, String>,
) -> (&'static str, Object) {
    match result {
        Ok(outputs) => ("success", outputs),
        Err(message) => {
            ctx.shared.print(
                ctx.name,
                &format!("error: step `{}`: {message}", call.title),
            );
            ("failure", Object::new())
        }
    }
}

pub(super) fn input<'c>(call: &'c Call<'_>, name: &str) -> Option<&'c str> {
    call.with
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

pub(super) fn in_workspace<B: Backend>(ctx: &StepCtx<'_, B>, path: &str) -> String {
    let path = path.trim();
    if path.starts_with('/') {
        path.trim_end_matches('/').to_string()
    } else {
        let rel = path.trim_start_matches("./").trim_end_matches('/');
        if rel.is_empty() || rel == "." {
            ctx.workspace.to_string()
        } else {
            format!("{}/{rel}", ctx.workspace)
        }
    }
}

async fn checkout<B: Backend>(ctx: &StepCtx<'_, B>, call: &Call<'_>) -> Result<Object, String> {
    let shared = ctx.shared;
    if let Some(repository) = input(call, "repository")
        && !repository.eq_ignore_ascii_case(&shared.info.repository)
    {
        return Err(format!(
            "mlci checks out only the run's own repository ({}), not `{repository}`: add it as a remote action or copy it in a `run` step",
            shared.info.repository
        ));
    }
    let mut outputs = Object::new();
    outputs.insert("commit", Value::str(&shared.info.sha));
    outputs.insert("ref", Value::str(&shared.info.git_ref));
    match input(call, "path") {
        Some(path) if in_workspace(ctx, path) != ctx.workspace => {
            let target = in_workspace(ctx, path);
            ctx.env
                .copy_in(&shared.snapshot, &target)
                .await
                .map_err(|e| e.to_string())?;
            shared.print(
                ctx.name,
                &format!("repository at {} copied into {target}", shared.info.sha),
            );
        }
        _ => shared.print(
            ctx.name,
            &format!("workspace already checked out at {}", shared.info.sha),
        ),
    }
    Ok(outputs)
}

fn is_glob(part: &str) -> bool {
    part.contains(['*', '?', '[', ']', '{', '}'])
}

/// The part of a pattern before its first wildcard component.
fn search_path(pattern: &str) -> String {
    let mut parts = Vec::new();
    for part in pattern.split('/') {
        if is_glob(part) {
            break;
        }
        parts.push(part);
    }
    let joined = parts.join("/");
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

fn glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("invalid pattern `{pattern}`: {e}"))
}

/// Files of the host directory `dir`, as paths relative to it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = rel.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(rel),
                Ok(_) => out.push(rel),
                Err(_) => {}
            }
        }
    }
    out.sort();
    out
}

fn common_ancestor(paths: &[String]) -> String {
    let mut common: Option<Vec<&str>> = None;
    for p in paths {
        let parts: Vec<&str> = p.split('/').collect();
        common = Some(match common {
            None => parts,
            Some(c) => c
                .iter()
                .zip(&parts)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| *a)
                .collect(),
        });
    }
    let joined = common.unwrap_or_default().join("/");
    if joined.is_empty() {
        "/".to_string()
    } else {
        joined
    }
}

async fn upload<B: Backend>(ctx: &StepCtx<'_, B>, call: &Call<'_>) -> Result<Object, String> {
    let shared = ctx.shared;
    let name = input(call, "name").unwrap_or("artifact").trim().to_string();
    if name.contains(['/', '\\', ':', '<', '>', '|', '*', '?', '"']) || name == "." || name == ".."
    {
        return Err(format!(
            "the artifact name `{name}` holds a character GitHub refuses (/ \\ : < > | * ? \")"
        ));
    }
    let Some(paths) = input(call, "path") else {
        return Err("`path` is required: the files or globs to upload".to_string());
    };
    let if_none = input(call, "if-no-files-found")
        .unwrap_or("warn")
        .to_ascii_lowercase();
    if !matches!(if_none.as_str(), "warn" | "error" | "ignore") {
        return Err(format!(
            "`if-no-files-found: {if_none}` is not one of warn, error, ignore"
        ));
    }
    let overwrite = input(call, "overwrite").is_some_and(|v| v.trim() == "true");
    let mut includes = Vec::new();
    let mut excludes = Vec::new();
    for line in paths.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.strip_prefix('!') {
            Some(rest) => excludes.push(in_workspace(ctx, rest)),
            None => includes.push(in_workspace(ctx, line)),
        }
    }
    let mut exclude_matchers = Vec::new();
    for e in &excludes {
        exclude_matchers.push(glob(e)?);
        exclude_matchers.push(glob(&format!("{e}/**"))?);
    }
    let artifacts = &shared.actions.artifacts;
    std::fs::create_dir_all(artifacts)
        .map_err(|e| format!("cannot create {}: {e}", artifacts.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".upload-")
        .tempdir_in(artifacts)
        .map_err(|e| format!("cannot create a directory in {}: {e}", artifacts.display()))?;
    // Each search path is copied out of the container once; the patterns are
    // matched on the host against the paths the files have in the container.
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut roots = Vec::new();
    for (i, pattern) in includes.iter().enumerate() {
        let search = search_path(pattern);
        let host = staging.path().join(i.to_string());
        if ctx.env.copy_out(&search, &host).await.is_err() {
            continue; // Nothing there.
        }
        let literal = !pattern.split('/').any(is_glob);
        if host.is_file() {
            roots.push(
                Path::new(&search)
                    .parent()
                    .map(|p| p.to_string_lossy().to_string())
                    .unwrap_or_else(|| "/".to_string()),
            );
            found.push((search.clone(), host));
            continue;
        }
        roots.push(search.clone());
        let matcher = if literal { None } else { Some(glob(pattern)?) };
        for rel in walk(&host) {
            let in_container =
                format!("{}/{}", search.trim_end_matches('/'), rel.to_string_lossy());
            if matcher.as_ref().is_none_or(|m| m.is_match(&in_container)) {
                found.push((in_container, host.join(rel)));
            }
        }
    }
    found.retain(|(p, _)| !exclude_matchers.iter().any(|m| m.is_match(p)));
    found.sort();
    found.dedup_by(|a, b| a.0 == b.0);
    if found.is_empty() {
        let message = format!(
            "no files were found with the provided path: {}; no artifact will be uploaded",
            paths.lines().map(str::trim).collect::<Vec<_>>().join(", ")
        );
        return match if_none.as_str() {
            "error" => Err(message),
            "warn" => {
                shared.print(ctx.name, &format!("warning: {message}"));
                Ok(Object::new())
            }
            _ => {
                shared.print(ctx.name, &message);
                Ok(Object::new())
            }
        };
    }
    let root = common_ancestor(&roots);
    let target = artifacts.join(&name);
    if target.exists() {
        if !overwrite {
            return Err(format!(
                "an artifact named `{name}` was already uploaded in this run: give another `name`, or `overwrite: true`"
            ));
        }
        std::fs::remove_dir_all(&target)
            .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    }
    let assembled = staging.path().join("artifact");
    let mut bytes = 0u64;
    for (in_container, host) in &found {
        let rel = Path::new(in_container)
            .strip_prefix(&root)
            .unwrap_or(Path::new(in_container));
        let rel = rel.strip_prefix("/").unwrap_or(rel);
        let dest = assembled.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        std::fs::rename(host, &dest)
            .or_else(|_| std::fs::copy(host, &dest).map(|_| ()))
            .map_err(|e| format!("cannot store {in_container}: {e}"))?;
        bytes += dest.metadata().map(|m| m.len()).unwrap_or(0);
    }
    // Into place in one rename: a parallel job sees all of it or nothing.
    std::fs::rename(&assembled, &target).map_err(|e| {
        if target.exists() {
            format!("an artifact named `{name}` was uploaded by another job meanwhile")
        } else {
            format!("cannot store the artifact in {}: {e}", target.display())
        }
    })?;
    shared.print(
        ctx.name,
        &format!(
            "artifact `{name}`: {} file(s), {bytes} bytes, stored in {}",
            found.len(),
            target.display()
        ),
    );
    let mut outputs = Object::new();
    outputs.insert("artifact-id", Value::str(&name));
    outputs.insert(
        "artifact-url",
        Value::String(target.to_string_lossy().to_string()),
    );
    Ok(outputs)
}

async fn download<B: Backend>(ctx: &StepCtx<'_, B>, call: &Call<'_>) -> Result<Object, String> {
    let shared = ctx.shared;
    let artifacts = &shared.actions.artifacts;
    let dest = in_workspace(ctx, input(call, "path").unwrap_or("."));
    let available = || {
        let mut names: Vec<String> = std::fs::read_dir(artifacts)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    };
    let pattern = input(call, "pattern").map(glob).transpose()?;
    let merge = input(call, "merge-multiple").is_some_and(|v| v.trim() == "true");
    let chosen: Vec<(String, String)> = match input(call, "name") {
        Some(name) => {
            let name = name.trim().to_string();
            if !artifacts.join(&name).is_dir() {
                let have = available();
                return Err(format!(
                    "no artifact named `{name}` in this run ({}); upload it in a job that this job `needs`",
                    if have.is_empty() {
                        "none was uploaded yet".to_string()
                    } else {
                        format!("uploaded so far: {}", have.join(", "))
                    }
                ));
            }
            vec![(name, dest.clone())]
        }
        None => available()
            .into_iter()
            .filter(|n| pattern.as_ref().is_none_or(|p| p.is_match(n)))
            .map(|n| {
                let to = if merge {
                    dest.clone()
                } else {
                    format!("{dest}/{n}")
                };
                (n, to)
            })
            .collect(),
    };
    if chosen.is_empty() {
        shared.print(
            ctx.name,
            "warning: no artifacts to download: no job of this run uploaded one yet",
        );
    }
    for (name, to) in &chosen {
        ctx.env
            .copy_in(&artifacts.join(name), to)
            .await
            .map_err(|e| e.to_string())?;
        shared.print(ctx.name, &format!("artifact `{name}` downloaded to {to}"));
    }
    let mut outputs = Object::new();
    outputs.insert("download-path", Value::str(&dest));
    Ok(outputs)
}

/// An `actions/cache` save waiting for the end of the job.
#[derive(Clone, Debug)]
pub(crate) struct CacheSave {
    title: String,
    key: String,
    paths: Vec<String>,
}

impl CacheSave {
    /// `paths` mapped as [`cache_paths`] maps them (`w/`, `h/`, `a/`).
    pub(super) fn new(title: &str, key: &str, paths: Vec<String>) -> CacheSave {
        CacheSave {
            title: title.to_string(),
            key: key.to_string(),
            paths,
        }
    }
}

/// Paths of `actions/cache` mapped to one tree: `w/…` in the workspace,
/// `h/…` in the home directory (`~/…`), `a/…` for absolute paths.
fn cache_paths(call: &Call<'_>) -> Result<Vec<String>, String> {
    let text = input(call, "path").ok_or("the input `path` is required")?;
    let mut paths = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('!') {
            return Err(format!(
                "exclude patterns (`{line}`) are not supported by mlci's actions/cache"
            ));
        }
        let mapped = if let Some(rest) = line.strip_prefix("~/") {
            format!("h/{rest}")
        } else if let Some(rest) = line.strip_prefix('/') {
            format!("a/{rest}")
        } else {
            format!("w/{}", line.trim_start_matches("./"))
        };
        paths.push(mapped.trim_end_matches('/').to_string());
    }
    if paths.is_empty() {
        return Err("the input `path` names no path".to_string());
    }
    Ok(paths)
}

/// Where a mapped path lives in the container.
fn container_path<B: Backend>(ctx: &StepCtx<'_, B>, mapped: &str) -> String {
    let (root, rest) = mapped.split_at(1);
    let rest = rest.trim_start_matches('/');
    let base = match root {
        "w" => ctx.workspace.to_string(),
        "h" => "/github/home".to_string(),
        _ => String::new(),
    };
    if rest.is_empty() {
        if base.is_empty() {
            "/".to_string()
        } else {
            base
        }
    } else {
        format!("{base}/{rest}")
    }
}

fn scratch(store: &crate::cache::Store) -> Result<tempfile::TempDir, String> {
    let parent = store.dir().join("tmp");
    std::fs::create_dir_all(&parent).map_err(|e| e.to_string())?;
    tempfile::Builder::new()
        .prefix("actions-cache-")
        .tempdir_in(&parent)
        .map_err(|e| e.to_string())
}

/// `actions/cache`: restore now (exact key, then the restore keys as
/// prefixes, newest first), save at the end of the job unless the exact key
/// was restored. Works on mlci's own cache store, offline.
async fn cache<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    restore: bool,
    save: bool,
    cache_saves: &mut Vec<CacheSave>,
) -> Result<Object, String> {
    let shared = ctx.shared;
    let key = input(call, "key")
        .ok_or("the input `key` is required")?
        .trim()
        .to_string();
    let paths = cache_paths(call)?;
    let mut outputs = Object::new();
    outputs.insert("cache-primary-key", Value::str(&key));
    let Some(run_cache) = shared.cache.as_ref() else {
        shared.print(ctx.name, "the cache is off: nothing restored or saved");
        outputs.insert("cache-hit", Value::str("false"));
        return Ok(outputs);
    };
    let store = run_cache.store();
    let mut exact = false;
    if restore {
        let restore_keys: Vec<String> = input(call, "restore-keys")
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if let Some(found) = restore_cache(ctx, store, &key, &restore_keys, &paths).await? {
            exact = found.exact;
            outputs.insert("cache-matched-key", Value::str(&found.matched_key));
        }
        outputs.insert(
            "cache-hit",
            Value::str(if exact { "true" } else { "false" }),
        );
    }
    if save && !exact {
        if restore {
            // actions/cache saves in its post step, when the job succeeded.
            cache_saves.push(CacheSave {
                title: call.title.clone(),
                key,
                paths,
            });
        } else {
            save_cache(
                ctx,
                CacheSave {
                    title: call.title.clone(),
                    key,
                    paths,
                },
            )
            .await;
        }
    }
    Ok(outputs)
}

/// Restores the entry of `key` (else of the newest key starting with a
/// restore key) into the container, saying which key matched or that none did.
pub(super) async fn restore_cache<B: Backend>(
    ctx: &StepCtx<'_, B>,
    store: &crate::cache::Store,
    key: &str,
    restore_keys: &[String],
    paths: &[String],
) -> Result<Option<crate::cache::actions_cache::Restored>, String> {
    let shared = ctx.shared;
    let dir = scratch(store)?;
    let restored =
        crate::cache::actions_cache::restore(store, key, restore_keys, paths, dir.path())
            .map_err(|e| e.to_string())?;
    let Some(found) = restored else {
        shared.print(ctx.name, &format!("cache not found for key: {key}"));
        return Ok(None);
    };
    for top in ["w", "h", "a"] {
        let host = dir.path().join(top);
        if !host.is_dir() {
            continue;
        }
        let children: Vec<_> = std::fs::read_dir(&host)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .collect();
        for child in children {
            let mapped = format!("{top}/{}", child.file_name().to_string_lossy());
            ctx.env
                .copy_in(&child.path(), &container_path(ctx, &mapped))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    shared.print(
        ctx.name,
        &format!("cache restored from key: {}", found.matched_key),
    );
    Ok(Some(found))
}

/// Copies the cached paths out of the container and saves them under the key.
pub(crate) async fn save_cache<B: Backend>(ctx: &StepCtx<'_, B>, save: CacheSave) {
    let shared = ctx.shared;
    let Some(run_cache) = shared.cache.as_ref() else {
        return;
    };
    let store = run_cache.store();
    let result: Result<bool, String> = async {
        let dir = scratch(store)?;
        for mapped in &save.paths {
            let base = crate::cache::tree::pattern_base(mapped).map_err(|e| e.to_string())?;
            let _ = ctx
                .env
                .copy_out(&container_path(ctx, &base), &dir.path().join(&base))
                .await;
        }
        crate::cache::actions_cache::save(store, &save.key, &save.paths, dir.path())
            .map_err(|e| e.to_string())
    }
    .await;
    match result {
        Ok(true) => shared.print(
            ctx.name,
            &format!("Post {}: cache saved with key: {}", save.title, save.key),
        ),
        Ok(false) => shared.print(
            ctx.name,
            &format!(
                "Post {}: a cache with key {} exists already; not saved",
                save.title, save.key
            ),
        ),
        Err(error) => shared.print(
            ctx.name,
            &format!("warning: Post {}: cache not saved: {error}", save.title),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_paths_stop_at_the_first_wildcard() {
        assert_eq!(search_path("/w/r/out/**/*.txt"), "/w/r/out");
        assert_eq!(search_path("/w/r/model.pkl"), "/w/r/model.pkl");
        assert_eq!(search_path("/*.txt"), "/");
    }

    #[test]
    fn roots_are_the_least_common_ancestor() {
        assert_eq!(
            common_ancestor(&["/w/r/a/b".into(), "/w/r/a/c".into()]),
            "/w/r/a"
        );
        assert_eq!(common_ancestor(&["/w/r/a".into()]), "/w/r/a");
    }

    #[test]
    fn globs_do_not_cross_slashes_with_one_star() {
        let g = glob("/w/*.txt").unwrap();
        assert!(g.is_match("/w/a.txt"));
        assert!(!g.is_match("/w/d/a.txt"));
        assert!(glob("/w/**/*.txt").unwrap().is_match("/w/d/e/a.txt"));
    }
}
