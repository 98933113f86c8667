//! `uses:` — actions, resolved and run the way GitHub's runner runs them.
//!
//! A reference is one of
//!
//! - `./path`: a local action in the repository (read from the run's snapshot
//!   of it on the host, and at `$GITHUB_WORKSPACE/path` in the container);
//! - `owner/repo[/path]@ref`: a remote action, cloned once with `git` into the
//!   action cache (`<cache dir>/actions`: `--cache-dir`, else `$MLCI_CACHE_DIR`,
//!   else `~/.cache/mlci`)
//!   and used offline afterwards ([`remote`]);
//! - `docker://image`: a container image run as the step ([`docker`]);
//! - `actions/checkout`, `actions/upload-artifact`, `actions/download-artifact`
//!   and `actions/cache` at any ref: implemented here, offline ([`native`]);
//! - `actions/setup-python` at any ref: the Python of the image, or one
//!   installed where the network allows, never another version ([`setup_python`]).
//!
//! An action's `action.yml` ([`manifest`]) says how it runs: `composite`
//! ([`composite`]), `docker` ([`docker`]) or `node12|16|20|24` ([`node`]).
//!
//! This file is the dispatcher: it parses the reference ([`reference`]),
//! makes the call ([`call`]), finds and stages the action ([`locate`]) and
//! hands it to the runner of its kind. No submodule imports it; composite
//! actions get the dispatcher handed in for their nested `uses:`.

mod call;
mod composite;
mod docker;
mod job_actions;
mod locate;
pub mod manifest;
mod native;
mod node;
mod reference;
mod remote;
mod setup_python;

pub(crate) use job_actions::JobActions;
pub use reference::ActionRef;
pub use remote::fetch_repository;

use crate::executor::Backend;
use crate::expr::Object;
use crate::run::step::{JobScope, StepCtx, StepState, step_env, step_title};
use crate::workflow::Step;
use call::{Call, ResolvedAction, make_call, resolve_inputs};
use locate::{locate, stage};
use std::future::Future;
use std::pin::Pin;

/// How deep composite actions may nest (GitHub allows 9 levels).
pub const MAX_DEPTH: usize = 9;

/// Runs a `uses:` step of a job. Returns the outcome and the step's outputs.
pub(crate) async fn run_uses<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    uses: &str,
    index: usize,
    scope: &JobScope,
    state: &mut StepState,
    job_actions: &mut JobActions,
) -> (&'static str, Object) {
    let env = step_env(ctx.shared, ctx.job, step, scope, state);
    let title = step_title(scope, step);
    let call = match make_call(
        ctx,
        step,
        &title,
        format!("step_{index}"),
        uses,
        index,
        scope,
        env,
        0,
    ) {
        Ok(call) => call,
        Err(message) => {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            return ("failure", Object::new());
        }
    };
    run_action(ctx, call, uses.to_string(), scope, state, job_actions).await
}

/// Resolves and runs one action; boxed, as composite actions recurse.
fn run_action<'a, B: Backend>(
    ctx: &'a StepCtx<'a, B>,
    call: Call<'a>,
    uses: String,
    scope: &'a JobScope,
    state: &'a mut StepState,
    job_actions: &'a mut JobActions,
) -> Pin<Box<dyn Future<Output = (&'static str, Object)> + Send + 'a>> {
    Box::pin(async move {
        let fail = |message: String| {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            ("failure", Object::new())
        };
        if call.depth > MAX_DEPTH {
            return fail(format!(
                "step `{}`: composite actions nest deeper than {MAX_DEPTH} levels at `uses: {uses}`",
                call.title
            ));
        }
        let reference = match ActionRef::parse(&uses) {
            Ok(r) => r,
            Err(message) => return fail(format!("step `{}`: {message}", call.title)),
        };
        if reference.is_setup_python() {
            return setup_python::run(ctx, &call, scope, state, &mut job_actions.cache_saves).await;
        }
        if let Some(native) = reference.native() {
            return native::run(ctx, &call, native, &mut job_actions.cache_saves).await;
        }
        if let ActionRef::Docker { image } = &reference {
            return docker::run_image_step(ctx, &call, image, scope, state).await;
        }
        let located = match locate(ctx, &reference).await {
            Ok(l) => l,
            Err(message) => return fail(format!("step `{}`: {message}", call.title)),
        };
        let manifest = match manifest::load(&located.host, &located.shown) {
            Ok(m) => m,
            Err(manifest::LoadError::Missing(message)) => {
                return fail(format!("step `{}`: {message}", call.title));
            }
            Err(manifest::LoadError::Invalid(message)) => {
                for line in message.lines() {
                    ctx.shared.print(ctx.name, line);
                }
                return fail(format!(
                    "step `{}`: the action {} cannot be loaded",
                    call.title, located.shown
                ));
            }
        };
        let inputs = match resolve_inputs(&manifest, &call, scope) {
            Ok(inputs) => inputs,
            Err(message) => return fail(message),
        };
        for unexpected in call.with.keys().filter(|k| {
            !manifest
                .inputs
                .iter()
                .any(|i| i.name.eq_ignore_ascii_case(k))
        }) {
            ctx.shared.print(
                ctx.name,
                &format!(
                    "warning: unexpected input `{unexpected}` for {}; its inputs are: {}",
                    located.shown,
                    manifest
                        .inputs
                        .iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        let action = ResolvedAction {
            located,
            manifest,
            inputs,
        };
        match &action.manifest.runs {
            manifest::Runs::Composite { steps } => {
                if let Err(message) = stage(ctx, &action.located, job_actions).await {
                    return fail(format!("step `{}`: {message}", call.title));
                }
                composite::run(
                    ctx,
                    &call,
                    &action,
                    steps,
                    scope,
                    state,
                    job_actions,
                    run_action::<B>,
                )
                .await
            }
            manifest::Runs::Docker { .. } => {
                docker::run_action(ctx, &call, &action, scope, state).await
            }
            manifest::Runs::Node { .. } => {
                if let Err(message) = stage(ctx, &action.located, job_actions).await {
                    return fail(format!("step `{}`: {message}", call.title));
                }
                node::run(ctx, &call, &action, scope, state, &mut job_actions.posts).await
            }
        }
    })
}

/// Runs the `post` steps that actions registered, at the end of a job.
pub(crate) async fn run_posts<B: Backend>(
    ctx: &StepCtx<'_, B>,
    scope: &JobScope,
    state: &mut StepState,
    job_actions: &mut JobActions,
) {
    let posts = std::mem::take(&mut job_actions.posts);
    for post in posts.into_iter().rev() {
        node::run_post(ctx, post, scope, state).await;
    }
    // As actions/cache's post step: only when the job succeeded.
    let saves = std::mem::take(&mut job_actions.cache_saves);
    if !state.failed {
        for save in saves {
            native::save_cache(ctx, save).await;
        }
    }
}
