//! Docker actions (`runs.using: docker`) and `uses: docker://image` steps.
//!
//! The step runs in a container of its own beside the job container: on the
//! job's network, labelled with the run and the job (so that the run's
//! clean-up finds it if mlci is killed), removed when the step ends.
//!
//! The workspace is shared by copying: `/__w` (workspace, step files) and
//! `/github` (home, event payload) are streamed from the job container into
//! the step container before it starts and back after it ends. The workspace
//! keeps its path (`GITHUB_WORKSPACE`, also the working directory), where
//! GitHub mounts it at `/github/workspace`; files the action deletes are not
//! deleted in the job container.
//!
//! `image: Dockerfile` (or any path in the action) is built with the engine
//! from the action's directory, tagged `mlci-action/<name>:<content hash>` and
//! labelled `dev.mlci.cache=action`, and reused while the directory's content
//! is the same. `image: docker://IMAGE` uses a local image (nothing is pulled).

use super::call::{Call, ResolvedAction};
use super::manifest::Runs;
use crate::executor::{Backend, JobEnv, StepContainerSpec, StreamKind};
use crate::expr::Object;
use crate::run::step::{JobScope, StepCtx, StepState, step_timeout};
use std::collections::BTreeMap;
use std::path::Path;

/// Label on the images built for Docker actions: they are a cache.
pub const LABEL_CACHE: &str = "dev.mlci.cache";
pub const LABEL_ACTION: &str = "dev.mlci.action";

/// Paths shared with a step container by copying.
const SHARED_PATHS: [&str; 2] = ["/__w", "/github"];

pub(super) async fn run_action<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    action: &ResolvedAction,
    outer: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let Runs::Docker {
        image,
        entrypoint,
        args,
        env,
        pre_entrypoint,
        post_entrypoint,
    } = &action.manifest.runs
    else {
        unreachable!("called for docker actions only");
    };
    let fail = |message: String| {
        ctx.shared.print(
            ctx.name,
            &format!("error: step `{}`: {message}", call.title),
        );
        ("failure", Object::new())
    };
    let image = match image.strip_prefix("docker://") {
        Some(image) => image.to_string(),
        None => match build(ctx, action, image).await {
            Ok(tag) => tag,
            Err(message) => return fail(message),
        },
    };
    let scope = action.scope(outer);
    let mut own = call.env.clone();
    for (k, v) in env {
        match scope.eval_string(v) {
            Ok(v) => own.insert(k.clone(), v),
            Err(message) => return fail(format!("cannot evaluate `runs.env.{k}`: {message}")),
        };
    }
    own.extend(action.input_env());
    let mut argv = Vec::new();
    for arg in args {
        match scope.eval_string(arg) {
            Ok(a) => argv.push(a),
            Err(message) => return fail(format!("cannot evaluate `runs.args`: {message}")),
        }
    }
    if post_entrypoint.is_some() {
        ctx.shared.print(
            ctx.name,
            &format!(
                "warning: {} has a `post-entrypoint`, which mlci does not run",
                action.located.shown
            ),
        );
    }
    let args = (!argv.is_empty()).then_some(argv);
    if let Some(pre) = pre_entrypoint {
        // GitHub runs it at the start of the job; here just before the main entrypoint.
        let spec = StepContainerSpec {
            image: image.clone(),
            entrypoint: Some(vec![pre.clone()]),
            args: args.clone(),
            ..Default::default()
        };
        let pre_call = Call {
            key: format!("{}-pre", call.key),
            ..call.clone()
        };
        let (outcome, _) = run_container(ctx, &pre_call, spec, own.clone(), outer, state).await;
        if outcome == "failure" {
            return fail("its `pre-entrypoint` failed".to_string());
        }
    }
    let spec = StepContainerSpec {
        image,
        entrypoint: entrypoint.as_ref().map(|e| vec![e.clone()]),
        args,
        ..Default::default()
    };
    run_container(ctx, call, spec, own, outer, state).await
}

/// `uses: docker://image`, with `with.args` and `with.entrypoint`.
pub(super) async fn run_image_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    image: &str,
    scope: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let get = |name: &str| call.with.get(name).filter(|v| !v.trim().is_empty());
    let mut own = call.env.clone();
    for (k, v) in &call.with {
        own.insert(
            format!("INPUT_{}", k.replace(' ', "_").to_ascii_uppercase()),
            v.clone(),
        );
    }
    let spec = StepContainerSpec {
        image: image.to_string(),
        entrypoint: get("entrypoint").map(|e| vec![e.clone()]),
        args: get("args").map(|a| crate::run::shell::split_command_line(a)),
        ..Default::default()
    };
    run_container(ctx, call, spec, own, scope, state).await
}

async fn run_container<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    mut spec: StepContainerSpec,
    own: BTreeMap<String, String>,
    scope: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    let variables = match ctx
        .prepare_env(state, &call.key, &call.action, own, Vec::new())
        .await
    {
        Ok(v) => v,
        Err(message) => {
            shared.print(name, &format!("error: {message}"));
            return ("failure", Object::new());
        }
    };
    spec.env = variables;
    spec.workdir = ctx.workspace.to_string();
    spec.shared_paths = SHARED_PATHS.iter().map(|p| p.to_string()).collect();
    spec.timeout = step_timeout(scope, call.step);
    let mut sink = ctx.step_output();
    let outcome = {
        let mut on_output = |_kind: StreamKind, bytes: &[u8]| sink.push(bytes);
        ctx.env
            .run_step_container(&spec, ctx.cancel, &mut on_output)
            .await
    };
    let (succeeded, mut outputs, _) = sink.finish(outcome);
    ctx.collect_files(&call.key, state, &mut outputs).await;
    (if succeeded { "success" } else { "failure" }, outputs)
}

/// Builds the action's image from its directory, or reuses the one built
/// from the same content. Returns the tag.
async fn build<B: Backend>(
    ctx: &StepCtx<'_, B>,
    action: &ResolvedAction,
    dockerfile: &str,
) -> Result<String, String> {
    let dir = &action.located.host;
    if !dir.join(dockerfile).is_file() {
        return Err(format!(
            "the action {} names `image: {dockerfile}`, which is not a file in it",
            action.located.shown
        ));
    }
    let hash = content_hash(dir)
        .map_err(|e| format!("cannot read the action's directory {}: {e}", dir.display()))?;
    let tag = format!(
        "mlci-action/{}:{}",
        slug(&action.located.shown),
        &hash[..16]
    );
    let backend = &ctx.shared.backend;
    if backend.has_image(&tag).await.map_err(|e| e.to_string())? {
        return Ok(tag);
    }
    ctx.shared.print(
        ctx.name,
        &format!("building the image of {} as {tag}", action.located.shown),
    );
    let labels = BTreeMap::from([
        (LABEL_CACHE.to_string(), "action".to_string()),
        (LABEL_ACTION.to_string(), action.located.shown.clone()),
    ]);
    let mut tail: Vec<String> = Vec::new();
    let mut on_output = |line: &str| {
        tail.push(line.to_string());
        if tail.len() > 20 {
            tail.remove(0);
        }
    };
    let built = backend
        .build_image(dir, dockerfile, &tag, &labels, &mut on_output)
        .await;
    if let Err(error) = built {
        for line in &tail {
            ctx.shared.print(ctx.name, &format!("  {line}"));
        }
        return Err(error.to_string());
    }
    Ok(tag)
}

/// blake3 of every file of the directory: paths, modes and contents.
fn content_hash(dir: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut hasher = blake3::Hasher::new();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(&f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update(b"\0");
        let meta = std::fs::symlink_metadata(&f)?;
        hasher.update(&meta.permissions().mode().to_le_bytes());
        if meta.file_type().is_symlink() {
            hasher.update(std::fs::read_link(&f)?.to_string_lossy().as_bytes());
        } else {
            hasher.update(&std::fs::read(&f)?);
        }
        hasher.update(b"\0");
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// A repository name Docker accepts: lower case, `[a-z0-9._-]`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_ascii_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    let out = out.trim_matches(|c| c == '-' || c == '.' || c == '_');
    let out: String = out.chars().take(64).collect();
    if out.is_empty() {
        "action".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_repository_names() {
        assert_eq!(slug("./.github/actions/Hello"), "github-actions-hello");
        assert_eq!(slug("octo/tool@v1"), "octo-tool-v1");
    }
}
