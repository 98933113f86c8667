//! Where an action's files are: a local action in the run's snapshot, a
//! remote one cloned into the action cache; and copying a remote action
//! into the job container, once per job.

use super::call::Located;
use super::job_actions::JobActions;
use super::reference::ActionRef;
use super::remote;
use crate::executor::Backend;
use crate::run::step::StepCtx;

/// Where the actions of remote repositories go inside the job container.
const ACTIONS_DIR: &str = "/__w/_actions";

/// Finds an action's files (cloning a remote action on first use).
pub(super) async fn locate<B: Backend>(
    ctx: &StepCtx<'_, B>,
    reference: &ActionRef,
) -> Result<Located, String> {
    match reference {
        ActionRef::Local { path } => {
            // A committed symlink is followed only while it stays in the repository.
            let host = crate::confine::resolve(&ctx.shared.snapshot, path, "the repository")
                .map_err(|e| format!("the action ./{path} cannot be used: {e}"))?;
            let container = if path.is_empty() {
                ctx.workspace.to_string()
            } else {
                format!("{}/{path}", ctx.workspace)
            };
            Ok(Located {
                host,
                container,
                repository: String::new(),
                git_ref: String::new(),
                shown: format!("./{path}"),
                stage: None,
            })
        }
        ActionRef::Remote {
            owner,
            repo,
            path,
            git_ref,
        } => {
            let root = {
                let _one_at_a_time = ctx.shared.actions.clone_lock.lock().await;
                remote::fetch(&ctx.shared.actions.cache, owner, repo, git_ref).await?
            };
            let in_container = format!("{ACTIONS_DIR}/{owner}/{repo}/{git_ref}");
            let (host, container) = match path {
                Some(p) => (root.join(p), format!("{in_container}/{p}")),
                None => (root.clone(), in_container.clone()),
            };
            Ok(Located {
                host,
                container,
                repository: format!("{owner}/{repo}"),
                git_ref: git_ref.clone(),
                shown: match path {
                    Some(p) => format!("{owner}/{repo}/{p}@{git_ref}"),
                    None => format!("{owner}/{repo}@{git_ref}"),
                },
                stage: Some((root, in_container)),
            })
        }
        ActionRef::Docker { .. } => unreachable!("docker:// is run before locating"),
    }
}

/// Copies a remote action into the job container (once per job).
pub(super) async fn stage<B: Backend>(
    ctx: &StepCtx<'_, B>,
    located: &Located,
    job_actions: &mut JobActions,
) -> Result<(), String> {
    use crate::executor::JobEnv;
    let Some((host, container)) = &located.stage else {
        return Ok(());
    };
    if job_actions.staged.contains(container) {
        return Ok(());
    }
    ctx.env
        .copy_in(host, container)
        .await
        .map_err(|e| e.to_string())?;
    job_actions.staged.insert(container.clone());
    Ok(())
}
