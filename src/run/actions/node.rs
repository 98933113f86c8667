//! JavaScript actions (`runs.using: node12|node16|node20|node24`): `node`
//! from the job container runs the action's `main` there, with the action's
//! directory in the container (local actions are in the workspace already;
//! remote ones are copied to `/__w/_actions/<owner>/<repo>/<ref>`), its inputs
//! as `INPUT_<NAME>` and the step files as on GitHub.
//!
//! `pre` runs just before `main` (GitHub runs it at the start of the job),
//! when `pre-if` (default `always()`) holds; `post` runs at the end of the
//! job, in reverse order of the steps, when `post-if` (default `always()`)
//! holds, with what `pre` and `main` saved in `GITHUB_STATE` as `STATE_*`.
//!
//! The container needs `node` on its `PATH`: the version that `using` names
//! is not enforced. Without `node`, the step fails with one sentence.

use super::call::{Call, ResolvedAction};
use super::manifest::Runs;
use crate::executor::{Backend, ExecOutcome, ExecRequest, JobEnv};
use crate::expr::Object;
use crate::run::step::{
    JobScope, StepCommand, StepCtx, StepExec, StepState, exec_step, step_timeout,
};
use std::collections::BTreeMap;

/// A `post` script to run at the end of the job.
pub(crate) struct PostStep {
    title: String,
    key: String,
    action: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    condition: String,
}

pub(super) async fn run<B: Backend>(
    ctx: &StepCtx<'_, B>,
    call: &Call<'_>,
    action: &ResolvedAction,
    outer: &JobScope,
    state: &mut StepState,
    posts: &mut Vec<PostStep>,
) -> (&'static str, Object) {
    let Runs::Node {
        using,
        main,
        pre,
        pre_if,
        post,
        post_if,
    } = &action.manifest.runs
    else {
        unreachable!("called for JavaScript actions only");
    };
    let (shared, name) = (ctx.shared, ctx.name);
    if !has_node(ctx).await {
        shared.print(
            name,
            &format!(
                "error: step `{}`: the job's container has no `node`, which the JavaScript action {} (`using: {using}`) needs: run the job in an image with Node.js (`container:` or `-P LABEL=IMAGE`), or install node in an earlier step",
                call.title, action.located.shown
            ),
        );
        return ("failure", Object::new());
    }
    let dir = &action.located.container;
    let mut own = call.env.clone();
    own.extend(action.input_env());
    own.extend(action.action_env());
    let script = |file: &str| vec!["node".to_string(), format!("{dir}/{file}")];
    let mut saved = Vec::new();
    if let Some(pre) = pre {
        let scope = action.scope(outer);
        match scope.condition(Some(pre_if.as_deref().unwrap_or("always()"))) {
            Ok(true) => {
                let result = exec_step(
                    ctx,
                    state,
                    StepExec {
                        key: format!("{}-pre", call.key),
                        command: StepCommand::Program(script(pre)),
                        env: own.clone(),
                        workdir: ctx.workspace.to_string(),
                        timeout: step_timeout(outer, call.step),
                        action: call.action.clone(),
                    },
                )
                .await;
                saved.extend(result.saved_state);
                if !result.succeeded {
                    shared.print(name, &format!("error: step `{}`: `pre` failed", call.title));
                    return ("failure", Object::new());
                }
            }
            Ok(false) => {}
            Err(message) => {
                shared.print(name, &format!("error: cannot evaluate `pre-if`: {message}"));
                return ("failure", Object::new());
            }
        }
    }
    let mut main_env = own.clone();
    main_env.extend(state_env(&saved));
    let result = exec_step(
        ctx,
        state,
        StepExec {
            key: call.key.clone(),
            command: StepCommand::Program(script(main)),
            env: main_env,
            workdir: ctx.workspace.to_string(),
            timeout: step_timeout(outer, call.step),
            action: call.action.clone(),
        },
    )
    .await;
    saved.extend(result.saved_state);
    if let Some(post) = post {
        let mut env = own;
        env.extend(state_env(&saved));
        posts.push(PostStep {
            title: format!("Post {}", call.title),
            key: format!("{}-post", call.key),
            action: call.action.clone(),
            argv: script(post),
            env,
            condition: post_if.clone().unwrap_or_else(|| "always()".to_string()),
        });
    }
    (
        if result.succeeded {
            "success"
        } else {
            "failure"
        },
        result.outputs,
    )
}

fn state_env(saved: &[(String, String)]) -> BTreeMap<String, String> {
    saved
        .iter()
        .map(|(k, v)| (format!("STATE_{k}"), v.clone()))
        .collect()
}

/// Runs a `post` script at the end of the job; a failure fails the job.
pub(super) async fn run_post<B: Backend>(
    ctx: &StepCtx<'_, B>,
    post: PostStep,
    scope: &JobScope,
    state: &mut StepState,
) {
    let (shared, name) = (ctx.shared, ctx.name);
    match scope.condition(Some(&post.condition)) {
        Ok(true) => {}
        Ok(false) => {
            shared.print(name, &format!("○ {} (skipped)", post.title));
            return;
        }
        Err(message) => {
            shared.print(
                name,
                &format!("✗ {}: cannot evaluate `post-if`: {message}", post.title),
            );
            state.failed = true;
            return;
        }
    }
    shared.print(name, &format!("▶ {}", post.title));
    let result = exec_step(
        ctx,
        state,
        StepExec {
            key: post.key,
            command: StepCommand::Program(post.argv),
            env: post.env,
            workdir: ctx.workspace.to_string(),
            timeout: None,
            action: post.action,
        },
    )
    .await;
    if !result.succeeded {
        state.failed = true;
    }
}

/// Whether `node` is on the container's `PATH`.
async fn has_node<B: Backend>(ctx: &StepCtx<'_, B>) -> bool {
    let request = ExecRequest {
        argv: vec![
            "sh".to_string(),
            "-c".to_string(),
            "command -v node".to_string(),
        ],
        workdir: String::new(),
        timeout: Some(std::time::Duration::from_secs(30)),
        ..Default::default()
    };
    let mut sink = |_: crate::executor::StreamKind, _: &[u8]| {};
    matches!(
        ctx.env.exec(&request, ctx.cancel, &mut sink).await,
        Ok(ExecOutcome::Exited(0))
    )
}
