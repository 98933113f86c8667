//! One job instance, from its `if` to its closing line: contexts, the
//! concurrency group, the container request, the step cache's short cut
//! (a job whose every step is a hit starts no container), the container up,
//! the GPU it got, the steps ([`steps`]), and its outputs for the jobs
//! that need it.

mod ahead;
mod call;
mod contexts;
mod data_checks;
mod deploy;
mod environment;
mod gpu;
mod mlops;
mod places;
mod spec;
mod steps;
mod timeout;

pub(crate) use ahead::may_start_ahead;
pub(crate) use call::call_plan_inputs;
pub(crate) use contexts::to_object;

use super::cached;
use super::report::JobReport;
use super::shared::Shared;
use super::step::{JobCacheState, JobScope};
use crate::executor::{Backend, JobEnv};
use crate::expr::{Object, Value};
use crate::plan::{JobResult, PlannedJob};
use crate::run::output::Console;
use crate::timings::Phase;
use crate::workflow::Job;
use contexts::fill_step_contexts;
use gpu::{gpu_flag, gpu_name};
use places::job_dir;
use spec::job_spec;
use std::time::Instant;
use steps::run_steps;
use tokio_util::sync::CancellationToken;

/// Up to this many bytes of the outputs of its needs are copied into a
/// container started ahead; more, and a new container mounts them instead.
const AHEAD_COPY_LIMIT: u64 = 1 << 30;

/// Runs instance `index` of a planned job, within its `timeout-minutes`.
///
/// A job cut short before its steps (while its image was pulled or its
/// container and services started) ends in its set-up's error; what cut
/// it short decides its result: its own time limit fails it, the run's
/// cancel (Ctrl-C, a failed sibling under `fail-fast`) cancels it, as on
/// GitHub.
pub(super) async fn run_job_instance<B: Backend + 'static>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    index: usize,
    cancel: &CancellationToken,
) -> JobReport {
    let timeout = timeout::JobTimeout::new(cancel);
    let mut deployment = None;
    let mut report = run_job_body(shared, planned, index, &timeout, &mut deployment).await;
    let failed_on_its_own = report.steps.iter().any(|s| s.conclusion == "failure");
    if let Some((message, keep_going)) = timeout.exceeded() {
        if report.error.as_ref() != Some(&message) {
            shared.print(&report.name, &format!("error: {message}"));
            report.error = Some(message);
            report.result = if keep_going {
                JobResult::Success
            } else {
                JobResult::Failure
            };
        }
    } else if cancel.is_cancelled() && report.result == JobResult::Failure && !failed_on_its_own {
        shared.print(&report.name, "cancelled");
        report.result = JobResult::Cancelled;
    }
    if let Some(deployment) = deployment {
        environment::finish(shared, deployment, &report).await;
    }
    report
}

/// Runs the job; `deployment` is the GitHub Deployment of its environment,
/// made once it is certain to start (its `if` held, its concurrency group
/// let it in), for the caller to finish however the job ends.
async fn run_job_body<B: Backend + 'static>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    index: usize,
    timeout: &timeout::JobTimeout,
    deployment: &mut Option<environment::JobDeployment>,
) -> JobReport {
    let cancel = timeout.token();
    let instance = &planned.instances[index];
    let job = shared
        .workflow
        .workflow
        .job(&planned.id)
        .expect("planned jobs come from the workflow");
    let started = Instant::now();
    let mut report = JobReport::new(&planned.id, &instance.name, JobResult::Success);
    report.matrix = instance
        .matrix
        .iter()
        .map(|(k, v)| (k.clone(), v.to_display_string()))
        .collect();
    let (mut scope, workspace) = contexts::instance_scope(shared, planned, job, index);
    // Job-level continue-on-error covers every way the job can fail, set-up included.
    let keep_going = scope.continue_on_error(job.continue_on_error.as_ref());
    let limit = crate::run::step::timeout_minutes(&scope, job.timeout_minutes.as_ref());
    timeout.arm(limit, started.elapsed(), keep_going);
    // A job that called a reusable workflow only gathers what its called jobs did.
    if let Some(called) = &job.called {
        return call::gather(shared, planned, called, &scope, report, started);
    }
    if let Some(frame) = &job.call {
        match call::enter_call(shared, frame, &mut scope) {
            Ok(true) => {}
            Ok(false) => {
                report.result = JobResult::Skipped;
                shared.print(
                    &instance.name,
                    &format!(
                        "skipped (the `if` of its caller `{}` is false, or a job the caller needs did not succeed)",
                        frame.caller_name
                    ),
                );
                return report;
            }
            Err(message) => return shared.fail_job(keep_going, report, &instance.name, message),
        }
    }

    // The job's `if`: by default it runs only when every need succeeded.
    if cancel.is_cancelled() {
        report.result = JobResult::Cancelled;
        shared.print(&instance.name, "cancelled before it started");
        return report;
    }
    let run_it = scope.condition(job.condition.as_ref().map(|c| c.value.as_str()));
    match run_it {
        Ok(true) => {}
        Ok(false) => {
            report.result = JobResult::Skipped;
            shared.print(
                &instance.name,
                "skipped (its `if` is false or a job it needs did not succeed)",
            );
            return report;
        }
        Err(message) => {
            return shared.fail_job(
                keep_going,
                report,
                &instance.name,
                format!("cannot evaluate the job's `if`: {message}"),
            );
        }
    }
    let _concurrency_slot = match &job.concurrency {
        None => None,
        Some(concurrency) => {
            let group = match scope.eval_string(&concurrency.group.value) {
                Ok(group) => group,
                Err(message) => {
                    return shared.fail_job(
                        keep_going,
                        report,
                        &instance.name,
                        format!("cannot evaluate `concurrency.group`: {message}"),
                    );
                }
            };
            let cancel_in_progress = scope.flag(concurrency.cancel_in_progress.as_ref());
            match shared
                .concurrency
                .enter(
                    &shared.console,
                    &instance.name,
                    &group,
                    cancel_in_progress,
                    cancel,
                )
                .await
            {
                Some(slot) => Some(slot),
                None => {
                    report.result = JobResult::Cancelled;
                    shared.print(
                        &instance.name,
                        &format!(
                            "cancelled: a newer job of concurrency group `{group}` took its place"
                        ),
                    );
                    return report;
                }
            }
        }
    };
    *deployment = environment::start(shared, job, &scope, &instance.name).await;
    let mut spec = match job_spec(shared, job, &scope, instance, &workspace) {
        Ok(spec) => spec,
        Err(message) => return shared.fail_job(keep_going, report, &instance.name, message),
    };
    // What a container started ahead must have been started from to serve.
    let request = ahead::fingerprint(&spec);
    let mut upstream_bytes = 0;
    let mut placements = Vec::new();
    report.image = spec.image.clone();
    report.gpu_request = job
        .container
        .as_ref()
        .and_then(|c| c.options.as_ref())
        .and_then(|o| gpu_flag(&o.value));
    fill_step_contexts(shared, &mut scope);

    // The step cache: the outputs of the jobs this one needs, and perhaps
    // every step a hit, in which case no container starts at all.
    let mut job_cache = None;
    let upstream = shared
        .cache
        .as_ref()
        .and_then(|cache| cache.upstream(&spec::transitive_needs(shared, job)));
    let uses_cache = upstream.is_some() || job.steps.iter().any(|s| s.is_cached());
    // The image's digest is in every cache key: pull it first (once per
    // run, shared with start_job). A missing image is left for start_job to
    // report (after its GPU check).
    let digest = match &shared.cache {
        Some(_) if uses_cache => match shared.backend.pull_images(&spec, cancel).await {
            Ok(()) => shared.backend.image_id(&spec.image).await.ok(),
            Err(_) => None,
        },
        _ => None,
    };
    if let Some(digest) = digest {
        {
            report.image_digest = digest.clone();
            let state = JobCacheState {
                overlay: upstream
                    .as_ref()
                    .map(|e| e.outputs.clone())
                    .unwrap_or_default(),
                image_digest: digest,
                dirty: false,
            };
            let hash_started = Instant::now();
            let replay = cached::all_hits(shared, job, &mut scope, &state, &workspace).await;
            report.phases.add_since(Phase::Hash, hash_started);
            if let Some(replay) = replay {
                report.steps = cached::replay(shared, job, &mut scope, &instance.name, replay);
                report.phases.add(
                    Phase::Prepare,
                    started.elapsed().saturating_sub(report.phases.total()),
                );
                return finish_job(
                    shared,
                    planned,
                    job,
                    &scope,
                    report,
                    JobResult::Success,
                    started,
                );
            }
            if let Some(upstream) = &upstream {
                upstream_bytes = upstream.outputs.entries().iter().map(|e| e.size).sum();
                let restore_started = Instant::now();
                let placed = cached::place_upstream(shared, job, upstream, &workspace).await;
                report.phases.add_since(Phase::Restore, restore_started);
                match placed {
                    Ok(placed) => placements = placed,
                    Err(message) => {
                        return shared.fail_job(keep_going, report, &instance.name, message);
                    }
                }
            }
            job_cache = Some(state);
        }
    }

    shared.print(&instance.name, &format!("starting in {}", spec.image));
    shared.console.job_started(&instance.name);
    let _spinner = Spinner(&shared.console, &instance.name);
    report.phases.add(
        Phase::Prepare,
        started.elapsed().saturating_sub(report.phases.total()),
    );
    let setup_started = Instant::now();
    let ahead = match shared.ahead.take(&planned.id, index) {
        Some(start) => start.await.ok().flatten(),
        None => None,
    };
    let (env, job_dir) = match ahead {
        // Started while the needs ran: their outputs are copied in (a
        // container started ahead has no mounts of them), unless they are
        // so large that mounting them in a new container is cheaper.
        Some(early) if early.fingerprint == request && upstream_bytes <= AHEAD_COPY_LIMIT => {
            report.phases.add_since(Phase::Container, setup_started);
            let restore_started = Instant::now();
            for placement in &placements {
                if let Err(error) = early.env.copy_in(&placement.host, &placement.target).await {
                    shared.tear_down(&instance.name, early.env, early.job_dir);
                    report.duration = started.elapsed();
                    return shared.fail_job(keep_going, report, &instance.name, error.to_string());
                }
            }
            report.phases.add_since(Phase::Restore, restore_started);
            (early.env, early.job_dir)
        }
        other => {
            if let Some(unused) = other {
                shared.tear_down(&instance.name, unused.env, unused.job_dir);
            }
            for placement in &placements {
                placement.add_to(&mut spec);
            }
            // The job's files on the host, beside the cache so that outputs
            // move into it without a copy; removed with the job's container.
            let job_dir = job_dir(shared);
            spec.host_dir = job_dir.as_ref().map(|d| d.path().to_path_buf());
            let env = match shared.backend.start_job(&spec, cancel).await {
                Ok(env) => env,
                Err(error) => {
                    report.phases.add_since(Phase::Container, setup_started);
                    report.duration = started.elapsed();
                    return shared.fail_job(keep_going, report, &instance.name, error.to_string());
                }
            };
            let setup = env.setup_phases();
            report.phases.merge(&setup);
            // What the backend did not put in a phase of its own (image
            // checks) is the container's.
            report.phases.add(
                Phase::Container,
                setup_started.elapsed().saturating_sub(setup.total()),
            );
            (env, job_dir)
        }
    };
    // The jobs that need this one may start their containers now.
    ahead::job_started(shared, &planned.id);
    report.image_digest = env.image_digest().to_string();
    if report.gpu_request.is_some() {
        report.gpu_name = gpu_name(&env, cancel).await;
        if let Some(gpu) = &report.gpu_name {
            shared.print(&instance.name, &format!("GPU: {gpu}"));
        }
    }
    let has_bash = job.container.is_none();
    let outcome = run_steps(
        shared,
        job,
        &env,
        &mut scope,
        &instance.name,
        &workspace,
        has_bash,
        job_cache,
        cancel,
    )
    .await;
    report.steps = outcome.reports;
    let mut result = outcome.result;
    if let Some((message, _)) = timeout.exceeded() {
        shared.print(&instance.name, &format!("error: {message}"));
        report.error = Some(message);
        result = JobResult::Failure;
    } else if result == JobResult::Failure {
        report.error = report.step_failure();
    }
    report.phases.merge(&outcome.phases);
    // The container goes in the background: the jobs that need this one
    // start now (every removal is waited for, or handed on, at the end).
    let teardown_started = Instant::now();
    env.hand_back_files().await;
    shared.tear_down(&instance.name, env, job_dir);
    report.phases.add_since(Phase::Teardown, teardown_started);
    report.summary = outcome.summary;
    finish_job(shared, planned, job, &scope, report, result, started)
}

/// The end of a job instance that ran (or was restored): its outputs for the
/// `needs` context, `continue-on-error`, and the closing line.
fn finish_job<B: Backend>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    job: &Job,
    scope: &JobScope,
    mut report: JobReport,
    result: JobResult,
    started: Instant,
) -> JobReport {
    let instance_name = report.name.clone();
    report.annotations = shared.console.take_annotations(&instance_name);
    // Job outputs read the steps context, evaluated after the last step.
    let mut outputs = Object::new();
    for (name, text) in &job.outputs {
        if let Ok(value) = scope.eval_string(&text.value) {
            // As GitHub's runner: a value that a mask would change is not passed on.
            if shared.masker.mask(&value) != value {
                shared.print(
                    &instance_name,
                    &format!("warning: Skip output '{name}' since it may contain secret."),
                );
                continue;
            }
            outputs.insert(name.clone(), Value::String(value));
        }
    }
    shared.finished.add_outputs(&planned.id, outputs);
    // As GitHub: the environment's URL may name the steps' outputs.
    report.environment_url = job
        .environment
        .as_ref()
        .and_then(|e| e.url.as_ref())
        .and_then(|url| scope.eval_string(&url.value).ok());
    report.result = result;
    let continue_on_error = scope.continue_on_error(job.continue_on_error.as_ref());
    if report.result == JobResult::Failure && continue_on_error {
        shared.print(
            &instance_name,
            "failed, but `continue-on-error` lets the run go on",
        );
        report.result = JobResult::Success;
    }
    report.duration = started.elapsed();
    shared.print(
        &instance_name,
        &format!("{} in {:.1}s", report.result, report.duration.as_secs_f64()),
    );
    report
}

/// Takes a job's spinner away however `run_instance` returns.
struct Spinner<'a>(&'a Console, &'a str);

impl Drop for Spinner<'_> {
    fn drop(&mut self) {
        self.0.job_finished(self.1);
    }
}

/// The container request instance `index` of a planned job would make now,
/// for `mlci run --dry-run`: the jobs it needs have not run, so their
/// outputs are empty.
pub(crate) fn instance_spec<B: Backend + 'static>(
    shared: &Shared<B>,
    planned: &PlannedJob,
    index: usize,
) -> Result<crate::executor::JobSpec, String> {
    let job = shared
        .workflow
        .workflow
        .job(&planned.id)
        .ok_or_else(|| format!("no job `{}`", planned.id))?;
    let (mut scope, workspace) = contexts::instance_scope(shared, planned, job, index);
    if let Some(frame) = &job.call {
        call::enter_call(shared, frame, &mut scope)?;
    }
    job_spec(shared, job, &scope, &planned.instances[index], &workspace)
}
