//! `actions/setup-python@*`, run natively: no download from github.com, and
//! never another version than the one asked for.
//!
//! request ──parse──▶ versions wanted          [`version`], [`version_file`]
//!         ──probe──▶ Pythons in the container  [`probe`]
//!         ──pick───▶ the newest that matches, else an install (uv), else
//!                    the step fails naming what was asked and what was found
//!         ──setup──▶ `python`, `python3`, `pip` on `PATH` for later steps,
//!                    `pythonLocation`…, outputs, and `cache: pip` restored
//!
//! Inputs: `python-version` (one or more lines; the last is the default),
//! `python-version-file`, `cache: pip` (pip's download directory through
//! mlci's cache, keyed on `cache-dependency-path`, default
//! `**/requirements.txt`, saved at the end of a job that succeeded),
//! `check-latest` (ignored, with a note), `allow-prereleases`,
//! `update-environment`. Outputs:
//! `python-version`, `python-path`, `cache-hit`.
//!
//! An absent version is installed with `uv python install` when `uv` is in
//! the container or pip can install it (uv downloads CPython builds; set
//! `UV_PYTHON_INSTALL_MIRROR` in `env:` where github.com is not reachable).

mod probe;
mod version;
mod version_file;

use super::call::Call;
use super::native::{CacheSave, in_workspace, input, restore_cache};
use crate::executor::{Backend, ExecOutcome, ExecRequest, FileToWrite, JobEnv, StreamKind};
use crate::expr::{Object, Value};
use crate::run::step::{JobScope, StepCtx, StepState};
use probe::Found;
use std::collections::BTreeMap;
use std::time::Duration;
use version::Request;

/// What one probe or `pip cache dir` may print before it is cut.
const OUTPUT_LIMIT: usize = 1 << 20;
/// How long an install (uv, then a CPython build) may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// Where the step puts `python`, `pip`… for later steps (under `RUNNER_TOOL_CACHE`).
const SHIM_ROOT: &str = "/__t/setup-python";

pub(super) async fn run<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    scope: &JobScope,
    state: &mut StepState,
    cache_saves: &mut Vec<CacheSave>,
) -> (&'static str, Object) {
    let result = setup(ctx, call, scope, state, cache_saves).await;
    super::native::conclude(ctx, call, result)
}

async fn setup<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    scope: &JobScope,
    state: &mut StepState,
    cache_saves: &mut Vec<CacheSave>,
) -> Result<Object, String> {
    let shared = ctx.shared;
    let requests = requests(ctx, call).await?;
    if input(call, "check-latest").is_some_and(|v| v.trim() == "true") {
        shared.print(
            ctx.name,
            "note: check-latest is ignored: mlci takes the newest matching Python in the container, or installs one when none matches",
        );
    }
    let env = ctx
        .prepare_env(state, &call.key, &call.action, call.env.clone(), Vec::new())
        .await?;
    let mut found = probe(ctx, &env).await?;
    let mut chosen: Vec<Found> = Vec::new();
    for request in &requests {
        let pick = match request {
            Some(request) => match request.best(&found, |f| &f.version) {
                Some(pick) => pick.clone(),
                None => {
                    found = install(ctx, &env, request, &found).await?;
                    request.best(&found, |f| &f.version).cloned().ok_or_else(|| {
                        format!(
                            "the Python installed for {} is not one it asks for; Pythons found: {}",
                            request.text,
                            probe::describe(&found)
                        )
                    })?
                }
            },
            None => {
                shared.print(
                    ctx.name,
                    "warning: neither `python-version` nor `python-version-file` is set: the Python on PATH is used",
                );
                found.first().cloned().ok_or(
                    "neither `python-version` nor `python-version-file` is set, and the container has no Python on PATH",
                )?
            }
        };
        shared.print(
            ctx.name,
            &format!(
                "Python {} at {}{}",
                pick.version,
                pick.path,
                request
                    .as_ref()
                    .map(|r| format!(" (asked for {})", r.text))
                    .unwrap_or_default()
            ),
        );
        chosen.push(pick);
    }
    let default = chosen.last().cloned().expect("one request at least");
    let update_environment = input(call, "update-environment").is_none_or(|v| v.trim() != "false");
    if update_environment {
        put_on_path(ctx, call, state, &chosen).await?;
    }
    let mut outputs = Object::new();
    outputs.insert("python-version", Value::str(default.version.to_string()));
    outputs.insert("python-path", Value::str(&default.path));
    if let Some(manager) = input(call, "cache") {
        let hit = pip_cache(
            ctx,
            call,
            scope,
            &env,
            &default,
            manager.trim(),
            cache_saves,
        )
        .await?;
        outputs.insert("cache-hit", Value::str(if hit { "true" } else { "false" }));
    }
    Ok(outputs)
}

/// The versions asked for, in order (the last is the default); a lone None
/// when neither input is set (the Python on `PATH`, as setup-python does).
async fn requests<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
) -> Result<Vec<Option<Request>>, String> {
    let texts: Vec<String> = match (
        input(call, "python-version"),
        input(call, "python-version-file"),
    ) {
        (Some(versions), file) => {
            if file.is_some() {
                ctx.shared.print(
                    ctx.name,
                    "warning: both `python-version` and `python-version-file` are set: `python-version` is used",
                );
            }
            versions
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        }
        (None, Some(file)) => {
            let path = in_workspace(ctx, file);
            let bytes = ctx
                .env
                .read_file(&path)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!("the python-version-file `{file}` does not exist ({path})")
                })?;
            if bytes.len() > OUTPUT_LIMIT {
                return Err(format!(
                    "the python-version-file `{file}` is over {OUTPUT_LIMIT} bytes: not a version file"
                ));
            }
            version_file::versions_in(file, &String::from_utf8_lossy(&bytes))?
        }
        (None, None) => return Ok(vec![None]),
    };
    let allow_pre = input(call, "allow-prereleases").is_some_and(|v| v.trim() == "true");
    texts
        .iter()
        .map(|t| {
            let mut request = Request::parse(t)?;
            request.allow_pre |= allow_pre;
            Ok(Some(request))
        })
        .collect()
}

/// Runs `script` with `sh` in the container; its stdout (cut at
/// [`OUTPUT_LIMIT`]) and how it ended. With `show`, stderr and stdout also go
/// to the log.
async fn sh<B: Backend>(
    ctx: &StepCtx<'_, B>,
    env: &BTreeMap<String, String>,
    script: &str,
    timeout: Duration,
    show: bool,
) -> Result<(ExecOutcome, String), String> {
    let request = ExecRequest {
        argv: vec!["sh".into(), "-c".into(), script.into()],
        env: env.clone(),
        workdir: ctx.workspace.to_string(),
        user: None,
        timeout: Some(timeout),
    };
    let mut stdout = Vec::new();
    let mut pending = Vec::new();
    let mut on_output = |kind: StreamKind, bytes: &[u8]| {
        if kind == StreamKind::Stdout && stdout.len() < OUTPUT_LIMIT {
            stdout.extend_from_slice(bytes);
        }
        if show && pending.len() < OUTPUT_LIMIT {
            pending.extend_from_slice(bytes);
        }
    };
    let outcome = ctx
        .env
        .exec(&request, ctx.cancel, &mut on_output)
        .await
        .map_err(|e| e.to_string())?;
    for line in String::from_utf8_lossy(&pending).lines() {
        ctx.shared.print(ctx.name, line);
    }
    Ok((outcome, String::from_utf8_lossy(&stdout).into_owned()))
}

async fn probe<B: Backend>(
    ctx: &StepCtx<'_, B>,
    env: &BTreeMap<String, String>,
) -> Result<Vec<Found>, String> {
    let (outcome, stdout) = sh(ctx, env, probe::SCRIPT, Duration::from_secs(60), false).await?;
    match outcome {
        ExecOutcome::Exited(_) => Ok(probe::parse(&stdout)),
        ExecOutcome::TimedOut => Err("looking for Python in the container took over 60 s".into()),
        ExecOutcome::Cancelled => Err("cancelled".into()),
    }
}

/// Installs the version `request` names with uv (installing uv with pip
/// first if need be), and probes again. The error names what was asked for
/// and what the container has.
async fn install<B: Backend>(
    ctx: &StepCtx<'_, B>,
    env: &BTreeMap<String, String>,
    request: &Request,
    found: &[Found],
) -> Result<Vec<Found>, String> {
    let not_here = format!(
        "Python {} is not in the container (Pythons found: {})",
        request.text,
        probe::describe(found)
    );
    let Some(wanted) = request.installable() else {
        return Err(format!(
            "{not_here}, and a range is not installed: ask for one version (such as 3.12), or use an image that has it (`container:` or `-P`)"
        ));
    };
    ctx.shared
        .print(ctx.name, &format!("{not_here}: installing it with uv"));
    let script = format!(
        r#"uv=$(command -v uv 2>/dev/null || true)
[ -z "$uv" ] && [ -x "$HOME/.local/bin/uv" ] && uv=$HOME/.local/bin/uv
if [ -z "$uv" ]; then
  py=$(command -v python3 || command -v python || true)
  [ -n "$py" ] || {{ echo "no uv, and no Python with pip to install it" >&2; exit 3; }}
  "$py" -m pip install --quiet --user --break-system-packages uv >&2 \
    || "$py" -m pip install --quiet --user uv >&2 || exit 3
  uv=$HOME/.local/bin/uv
fi
"$uv" python install '{wanted}' >&2"#
    );
    let (outcome, _) = sh(ctx, env, &script, INSTALL_TIMEOUT, true).await?;
    let why = match outcome {
        ExecOutcome::Exited(0) => return probe(ctx, env).await,
        ExecOutcome::Exited(3) => "uv is not in the container and pip could not install it",
        ExecOutcome::Exited(_) => "`uv python install` failed (see above)",
        ExecOutcome::TimedOut => "the install took too long",
        ExecOutcome::Cancelled => return Err("cancelled".into()),
    };
    Err(format!(
        "{not_here}, and it could not be installed: {why}; use an image that has Python {} (`container:` or `-P`), or let the container reach a CPython mirror (UV_PYTHON_INSTALL_MIRROR)",
        request.text
    ))
}

/// `python`, `python3`, `pip`, `pip3` for the default version and
/// `pythonX.Y`, `pipX.Y` for each, in a directory put first on `PATH`, with
/// the interpreter's scripts directory and the variables setup-python sets.
async fn put_on_path<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    state: &mut StepState,
    chosen: &[Found],
) -> Result<(), String> {
    let dir = format!("{SHIM_ROOT}/{}/bin", call.key);
    let mut shims: BTreeMap<String, String> = BTreeMap::new();
    let quoted = |path: &str| format!("'{}'", path.replace('\'', r"'\''"));
    for (i, python) in chosen.iter().enumerate() {
        let exe = quoted(&python.path);
        let minor = python.version.minor();
        let mut names = vec![
            (format!("python{minor}"), false),
            (format!("pip{minor}"), true),
        ];
        if i + 1 == chosen.len() {
            names.extend([
                ("python".to_string(), false),
                ("python3".to_string(), false),
                ("pip".to_string(), true),
                ("pip3".to_string(), true),
            ]);
        }
        for (name, pip) in names {
            let module = if pip { " -m pip" } else { "" };
            shims.insert(name, format!("#!/bin/sh\nexec {exe}{module} \"$@\"\n"));
        }
    }
    let files = shims
        .into_iter()
        .map(|(name, text)| FileToWrite {
            path: format!("{dir}/{name}"),
            contents: text.into_bytes(),
            mode: 0o755,
        })
        .collect();
    ctx.env
        .write_files(files)
        .await
        .map_err(|e| e.to_string())?;
    let default = chosen.last().expect("one request at least");
    // Later entries of GITHUB_PATH come first: the shims above the scripts.
    state.github_path.push(default.scripts.clone());
    state.github_path.push(dir);
    let prefix = &default.prefix;
    for name in [
        "pythonLocation",
        "Python_ROOT_DIR",
        "Python2_ROOT_DIR",
        "Python3_ROOT_DIR",
    ] {
        state.github_env.insert(name.to_string(), prefix.clone());
    }
    state.github_env.insert(
        "PKG_CONFIG_PATH".to_string(),
        format!("{prefix}/lib/pkgconfig"),
    );
    Ok(())
}

/// `cache: pip`: pip's cache directory restored now from mlci's cache, and
/// saved at the end of a job that succeeded. Returns whether the exact key hit.
#[allow(clippy::too_many_arguments)]
async fn pip_cache<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    scope: &JobScope,
    env: &BTreeMap<String, String>,
    python: &Found,
    manager: &str,
    cache_saves: &mut Vec<CacheSave>,
) -> Result<bool, String> {
    if manager != "pip" {
        return Err(format!(
            "`cache: {manager}` is not supported by mlci's setup-python (only `pip`); cache its directory with actions/cache"
        ));
    }
    let patterns = input(call, "cache-dependency-path").unwrap_or("**/requirements.txt");
    let quoted: Vec<String> = patterns
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|p| format!("'{}'", p.replace('\'', "''")))
        .collect();
    let hash = scope.eval_string(&format!("${{{{ hashFiles({}) }}}}", quoted.join(", ")))?;
    if hash.is_empty() {
        return Err(format!(
            "no file matched the cache-dependency-path ({}): check out the repository first, or set `cache-dependency-path` to your requirements files",
            patterns
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let Some(run_cache) = ctx.shared.cache.as_ref() else {
        ctx.shared.print(
            ctx.name,
            "the cache is off: pip's cache is not restored or saved",
        );
        return Ok(false);
    };
    let script = format!(
        "exec '{}' -m pip cache dir",
        python.path.replace('\'', r"'\''")
    );
    let dir = match sh(ctx, env, &script, Duration::from_secs(60), false).await? {
        (ExecOutcome::Exited(0), out) if out.trim().starts_with('/') => out.trim().to_string(),
        _ => format!(
            "{}/.cache/pip",
            env.get("HOME").map_or("/github/home", String::as_str)
        ),
    };
    let mapped = match dir.strip_prefix("/github/home/") {
        Some(rest) => format!("h/{rest}"),
        None => format!("a/{}", dir.trim_start_matches('/')),
    };
    let key = format!(
        "setup-python-Linux-{}-python-{}-pip-{hash}",
        std::env::consts::ARCH,
        python.version
    );
    let paths = vec![mapped.trim_end_matches('/').to_string()];
    let hit = restore_cache(ctx, run_cache.store(), &key, &[], &paths)
        .await?
        .is_some_and(|r| r.exact);
    if !hit {
        cache_saves.push(CacheSave::new(&call.title, &key, paths));
    }
    Ok(hit)
}
