//! Starting a job's container ahead of its needs. When a job starts its
//! container, the jobs that need it (and whose other needs are done or
//! started too) start theirs at once, in the background: the engine spends
//! most of a short job's time creating and starting its container, and a
//! chain of jobs would pay for that once per job. When its needs are done,
//! the job takes the container and copies their outputs in; a container that
//! no job takes (a cache hit, a skipped job) is removed at the end of the run.
//!
//! Only a job whose container does not depend on its needs starts ahead: no
//! `needs` in its container's settings, no services, no concurrency group,
//! no matrix read from `needs`.

use super::contexts::job_contexts;
use super::places::{job_dir, workspace_path};
use super::spec::job_spec;
use crate::executor::{Backend, JobSpec};
use crate::expr::{Object, Status};
use crate::plan::PlannedJob;
use crate::run::shared::{Shared, StartedAhead};
use crate::run::step::JobScope;
use crate::workflow::Job;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Whether a job's container can be made before its needs are done.
pub(crate) fn may_start_ahead(job: &Job, planned: &PlannedJob) -> bool {
    let reads_needs = |text: &str| text.contains("needs.") || text.contains("needs[");
    let container_reads_needs = job.container.as_ref().is_some_and(|c| {
        reads_needs(&c.image.value)
            || c.options.as_ref().is_some_and(|o| reads_needs(&o.value))
            || c.env.values().any(|v| reads_needs(&v.value))
            || c.volumes.iter().any(|v| reads_needs(&v.value))
            || c.ports.iter().any(|p| reads_needs(&p.value))
    });
    !job.needs.is_empty()
        && planned.deferred.is_none()
        && job.uses.is_none()
        && job.services.is_empty()
        && job.concurrency.is_none()
        && !job.steps.is_empty()
        && !container_reads_needs
}

/// The parts of a request that a container started ahead must share with
/// the job's own request to serve it.
pub(super) fn fingerprint(spec: &JobSpec) -> String {
    format!(
        "{:?}",
        (
            &spec.image,
            &spec.options,
            &spec.env,
            &spec.volumes,
            &spec.ports,
            &spec.workspace_path
        )
    )
}

/// A job has its container: start those of the jobs that need it, where
/// they may start ahead and all their other needs are done or started.
pub(super) fn job_started<B: Backend + 'static>(shared: &Shared<B>, job_id: &str) {
    if !shared.ahead.mark_started(job_id) {
        return;
    }
    let Some(shared) = shared.me.upgrade() else {
        return;
    };
    for dependent in shared
        .ahead
        .dependents
        .get(job_id)
        .cloned()
        .unwrap_or_default()
    {
        let Some(planned) = shared.ahead.candidates.get(&dependent).cloned() else {
            continue;
        };
        let Some(job) = shared.workflow.workflow.job(&dependent) else {
            continue;
        };
        let ready = job.needs.iter().all(|need| {
            need.value == job_id
                || shared.ahead.is_started(&need.value)
                || shared.finished.succeeded(&need.value)
        });
        if !ready {
            continue;
        }
        for index in 0..planned.instances.len() {
            // As many containers ahead as jobs may run at once.
            if shared.ahead.len() >= shared.options.parallel.max(1) {
                return;
            }
            let task_shared = shared.clone();
            let task_planned = planned.clone();
            let start =
                tokio::spawn(async move { start_ahead(&task_shared, &task_planned, index).await });
            shared.ahead.insert(&planned.id, index, start);
        }
    }
}

/// Starts instance `index` of a job before its needs are done.
async fn start_ahead<B: Backend + 'static>(
    shared: &Arc<Shared<B>>,
    planned: &PlannedJob,
    index: usize,
) -> Option<StartedAhead<B::Env>> {
    let job = shared.workflow.workflow.job(&planned.id)?;
    let workspace = workspace_path(shared);
    let scope = JobScope {
        contexts: job_contexts(shared, planned, index, Object::new(), &workspace),
        status: Status::Success,
        workspace: Some(shared.snapshot.clone()),
    };
    let mut spec = job_spec(shared, job, &scope, &planned.instances[index], &workspace).ok()?;
    let fingerprint = fingerprint(&spec);
    let job_dir = job_dir(shared);
    spec.host_dir = job_dir.as_ref().map(|d| d.path().to_path_buf());
    let env = shared
        .backend
        .start_job(&spec, &CancellationToken::new())
        .await
        .ok()?;
    job_started(shared, &planned.id);
    Some(StartedAhead {
        env,
        job_dir,
        fingerprint,
    })
}
