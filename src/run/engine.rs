//! `mlci run`: a planned workflow executed job by job on a backend. The
//! engine drives the job graph only.
//!
//! The scheduler hands out job instances whose needs are done; each one goes
//! to the job runner ([`super::job`]), and its result and outputs feed the
//! `needs` context of the jobs after it. A job whose matrix reads `needs` is
//! expanded when it starts; `-j` selects a job and what it needs.

use super::github::{self, GitInfo};
use super::job::{may_start_ahead, run_job_instance};
use super::mask::Masker;
use super::output::Console;
use super::report::JobReport;
use super::shared::{
    Ahead, ConcurrencyGroups, FinishedJobs, GithubDeployments, RunActions, RunCache, RunOptions,
    Shared, new_run_id,
};
use crate::diag::Diagnostic;
use crate::executor::Backend;
use crate::plan::{self, InstanceId, JobPlan, JobResult, Plan, Scheduler};
use crate::timings::RunPhases;
use crate::workflow::LoadedWorkflow;
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What a run gives back: every job instance's report, in the order they
/// finished, and the time the run spent outside its jobs.
pub struct RunOutput<B: Backend> {
    pub jobs: Vec<JobReport>,
    pub phases: RunPhases,
    /// What git said of the repository when the run started.
    pub info: GitInfo,
    /// The removal of the last job containers, which may still be going on.
    pub cleanup: RunCleanup<B>,
}

/// The end of a run's removals: the caller waits for it (`wait`), or hands
/// what is left of the run to someone else and lets it go.
pub struct RunCleanup<B: Backend> {
    shared: Arc<Shared<B>>,
}

impl<B: Backend> RunCleanup<B> {
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    pub fn run_id(&self) -> &str {
        &self.shared.run_id
    }

    /// Waits until no container of the run is still being created (one
    /// started ahead that no job took), so that listing the run's objects
    /// finds them all.
    pub async fn settle(&self) {
        self.shared.settle_ahead().await;
    }

    /// Waits for every removal still going on, then removes whatever else
    /// carries the run's label.
    pub async fn wait(self) {
        self.shared.finish_teardowns().await;
        let _ = self.shared.backend.remove_run(&self.shared.run_id).await;
    }
}

/// A run set up and not started: its plan, the jobs selected (`-j`), and
/// what every job shares.
struct Prepared<B: Backend> {
    shared: Arc<Shared<B>>,
    plan: Plan,
    selected: Vec<bool>,
    phases: RunPhases,
    /// The workspace snapshot, removed when the run is over.
    snapshot: tempfile::TempDir,
}

/// Runs a workflow that `workflow::parse` accepted.
pub async fn run<B: Backend + 'static>(
    backend: B,
    workflow: LoadedWorkflow,
    options: RunOptions,
    cancel: CancellationToken,
) -> Result<RunOutput<B>, String> {
    let Prepared {
        shared,
        plan,
        selected,
        mut phases,
        snapshot: _snapshot,
    } = prepare(backend, workflow, options)?;
    remove_left_by_killed_runs(&shared).await;
    let reports = schedule(shared.clone(), plan, selected, cancel.clone()).await;
    // Outputs end up in the working tree, as DVC leaves them, while the
    // engine removes the last job containers.
    if shared.cache.is_some() {
        let checkout_started = Instant::now();
        let (cache_shared, repo) = (shared.clone(), shared.options.repo.clone());
        let finished = tokio::task::spawn_blocking(move || {
            cache_shared
                .cache
                .as_ref()
                .map(|c| c.finish(&repo))
                .unwrap_or_default()
        })
        .await;
        match finished {
            Ok(warnings) => {
                for warning in warnings {
                    eprintln!("warning: {warning}");
                }
            }
            Err(error) => eprintln!("warning: leaving the outputs in the working tree: {error}"),
        }
        phases.checkout = checkout_started.elapsed();
    }
    // Whatever happened, nothing of this run stays on the engine: the
    // caller waits for that, or hands it on (see `RunCleanup`).
    Ok(RunOutput {
        jobs: reports,
        phases,
        info: shared.info.clone(),
        cleanup: RunCleanup { shared },
    })
}

/// Removes through the engine what killed runs left in the cache that this
/// user could not remove: files their job containers wrote as root.
async fn remove_left_by_killed_runs<B: Backend>(shared: &Shared<B>) {
    let Some(cache) = &shared.cache else {
        return;
    };
    let left = cache.take_left_by_killed_runs();
    if left.is_empty() {
        return;
    }
    if let Err(error) = shared.backend.remove_as_root(&shared.run_id, &left).await {
        eprintln!(
            "warning: cannot remove what a killed run left in the cache ({error}); remove {} as root",
            left[0].display()
        );
    }
}

/// One job instance of a dry run: its name, and its container request or
/// why there is none yet.
pub type PlannedSpec = (String, Result<crate::executor::JobSpec, String>);

/// The container request of every job instance the run would start, in
/// plan order, as the job would make it with no outputs from its needs yet
/// (`mlci run --dry-run`); a job whose matrix comes from its needs is named
/// with the reason instead.
pub fn planned_specs<B: Backend + 'static>(
    backend: B,
    workflow: LoadedWorkflow,
    options: RunOptions,
) -> Result<Vec<PlannedSpec>, String> {
    let prepared = prepare(backend, workflow, options)?;
    let mut specs = Vec::new();
    for (planned, chosen) in prepared.plan.jobs.iter().zip(&prepared.selected) {
        let gathers = prepared
            .shared
            .workflow
            .workflow
            .job(&planned.id)
            .is_some_and(|job| job.called.is_some());
        // A job that calls a reusable workflow starts nothing of its own.
        if !*chosen || gathers {
            continue;
        }
        if planned.deferred.is_some() {
            specs.push((
                planned.id.clone(),
                Err("its matrix comes from the outputs of its needs: its manifests are made when it starts".to_string()),
            ));
            continue;
        }
        for index in 0..planned.instances.len() {
            let name = planned.instances[index].name.clone();
            specs.push((
                name,
                super::job::instance_spec(&prepared.shared, planned, index),
            ));
        }
    }
    Ok(specs)
}

/// Everything before the first job: the plan, the workspace snapshot, the
/// cache, the state the jobs share.
fn prepare<B: Backend + 'static>(
    backend: B,
    mut workflow: LoadedWorkflow,
    options: RunOptions,
) -> Result<Prepared<B>, String> {
    let info = github::git_info(&options.repo);
    // The jobs of called workflows take the place of the jobs that call
    // them; `validate` and `mlci run`'s check of every file before the
    // first starts plan the same way (see `preflight`).
    let (plan_inputs, flat, plan) = super::preflight::plan_for_run(&workflow, &options)?;
    if let Some(flat) = flat {
        workflow.workflow = flat;
    }
    let inputs = plan_inputs.inputs.clone();
    let payload = match &options.event_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the event payload {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the event payload {} is not valid JSON: {e}",
                    path.display()
                )
            })?
        }
        None => github::default_payload(&options.event, &info, &inputs, &workflow.workflow),
    };
    let mut phases = RunPhases::default();
    let snapshot_started = Instant::now();
    // What runs killed with SIGKILL left: removed beside this run.
    std::thread::spawn(super::workspace::remove_stale_snapshots);
    let snapshot_dir = super::workspace::snapshot_dir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    super::workspace::snapshot(&options.repo, snapshot_dir.path()).map_err(|e| {
        format!(
            "cannot snapshot the repository {}: {e}",
            options.repo.display()
        )
    })?;
    phases.snapshot = snapshot_started.elapsed();
    let masker = Masker::new();
    for secret in options.secrets.values() {
        masker.add(secret);
    }
    let run_number = 1;
    let run_id = if options.run_id.is_empty() {
        new_run_id()
    } else {
        options.run_id.clone()
    };
    let selected = selected_jobs(&plan, options.job.as_deref())?;
    let console = Console::new(masker.clone(), options.interactive)
        .with_logs_on_stderr(options.logs_to_stderr);
    // The step cache's directory holds the action cache and artifacts too.
    let cache_dir = options
        .cache
        .as_ref()
        .map(|c| c.dir.clone())
        .unwrap_or_else(crate::cache::default_cache_dir);
    let actions = RunActions::new(&run_id, &cache_dir);
    let cache = match options.cache.clone() {
        Some(config) => Some(RunCache::open(config)?),
        None => None,
    };
    // The jobs whose containers may start while the jobs they need run.
    let mut candidates = BTreeMap::new();
    let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (planned, chosen) in plan.jobs.iter().zip(&selected) {
        let Some(job) = workflow.workflow.job(&planned.id) else {
            continue;
        };
        for need in &job.needs {
            dependents
                .entry(need.value.clone())
                .or_default()
                .push(planned.id.clone());
        }
        if *chosen && may_start_ahead(job, planned) {
            candidates.insert(planned.id.clone(), planned.clone());
        }
    }
    let github_deployments = github_deployments(&options, &workflow);
    let shared = Arc::new_cyclic(|me| Shared {
        backend,
        options,
        workflow,
        info,
        payload,
        inputs,
        run_id,
        run_number,
        snapshot: snapshot_dir.path().to_path_buf(),
        console,
        masker,
        finished: FinishedJobs::default(),
        plan_inputs,
        concurrency: ConcurrencyGroups::default(),
        actions,
        cache,
        teardowns: Default::default(),
        ahead: Ahead::new(candidates, dependents),
        me: me.clone(),
        github_deployments,
    });
    Ok(Prepared {
        shared,
        plan,
        selected,
        phases,
        snapshot: snapshot_dir,
    })
}

/// GitHub's deployments API, when the run publishes to GitHub and one of
/// its jobs has an `environment`; a client that cannot be made is one warning.
fn github_deployments(
    options: &RunOptions,
    workflow: &LoadedWorkflow,
) -> Option<GithubDeployments> {
    let config = options.github.as_ref()?;
    if !workflow
        .workflow
        .jobs
        .iter()
        .any(|job| job.environment.is_some())
    {
        return None;
    }
    match crate::github::Deployments::new(config) {
        Ok(api) => Some(GithubDeployments {
            api,
            refused: Default::default(),
        }),
        Err(error) => {
            eprintln!("warning: jobs with an `environment` make no GitHub deployment: {error}");
            None
        }
    }
}

/// With `-j`, the job and everything it needs; else every job.
fn selected_jobs(plan: &Plan, job: Option<&str>) -> Result<Vec<bool>, String> {
    let Some(job) = job else {
        return Ok(vec![true; plan.jobs.len()]);
    };
    let index = plan
        .graph
        .index_of(job)
        .ok_or_else(|| format!("no job `{job}` in this workflow"))?;
    let mut selected = vec![false; plan.jobs.len()];
    selected[index] = true;
    for need in plan.graph.transitive_needs(index) {
        selected[need] = true;
    }
    Ok(selected)
}

async fn schedule<B: Backend + 'static>(
    shared: Arc<Shared<B>>,
    plan: Plan,
    selected: Vec<bool>,
    cancel: CancellationToken,
) -> Vec<JobReport> {
    let plans: Vec<JobPlan> = plan
        .jobs
        .iter()
        .zip(&selected)
        .map(|(job, selected)| JobPlan {
            instances: if *selected { job.instances.len() } else { 0 },
            max_parallel: job.max_parallel,
            fail_fast: job.fail_fast,
        })
        .collect();
    let mut scheduler = Scheduler::new(&plan.graph, &plans, shared.options.parallel.max(1));
    let plan = Arc::new(plan);
    let mut running: JoinSet<(InstanceId, Vec<JobReport>)> = JoinSet::new();
    let mut by_task: BTreeMap<tokio::task::Id, InstanceId> = BTreeMap::new();
    let mut tokens: BTreeMap<(usize, usize), CancellationToken> = BTreeMap::new();
    let mut reports = Vec::new();
    loop {
        while let Some(ready) = scheduler.next_ready() {
            let id = ready.id;
            let token = cancel.child_token();
            tokens.insert((id.job, id.instance), token.clone());
            let shared = shared.clone();
            let plan = plan.clone();
            let task = running.spawn(async move {
                let report = run_instance(&shared, &plan, id, &token).await;
                (id, report)
            });
            by_task.insert(task.id(), id);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (id, instance_reports) = match joined {
            Ok((_, done)) => done,
            // A job that panicked failed: it must never vanish from the
            // reports, or the run would pass without it.
            Err(error) => {
                let Some(id) = by_task.get(&error.id()).copied() else {
                    continue;
                };
                let job = &plan.jobs[id.job];
                let name = match &job.deferred {
                    Some(_) => job.id.clone(),
                    None => job.instances[id.instance].name.clone(),
                };
                let report = JobReport::new(&job.id, &name, JobResult::Failure);
                let why = panic_message(error);
                (
                    id,
                    vec![shared.fail(report, &name, format!("mlci failed inside this job: {why}"))],
                )
            }
        };
        tokens.remove(&(id.job, id.instance));
        for report in &instance_reports {
            shared.finished.record(&plan.jobs[id.job].id, report.result);
        }
        // A deferred matrix ran all its instances in one slot: the slot's
        // result is the worst of theirs.
        let result = instance_reports
            .iter()
            .map(|r| r.result)
            .max_by_key(|r| match r {
                JobResult::Failure => 3,
                JobResult::Cancelled => 2,
                JobResult::Success => 1,
                JobResult::Skipped => 0,
            })
            .unwrap_or(JobResult::Skipped);
        if let Ok(completion) = scheduler.complete(id, result) {
            for sibling in completion.cancel_running {
                if let Some(token) = tokens.get(&(sibling.job, sibling.instance)) {
                    token.cancel();
                }
            }
            for skipped in completion.cancelled {
                let job = &plan.jobs[skipped.job];
                reports.push(JobReport::new(
                    &job.id,
                    &job.instances[skipped.instance].name,
                    JobResult::Cancelled,
                ));
            }
        }
        reports.extend(instance_reports);
        if scheduler.is_done() {
            break;
        }
    }
    reports
}

/// What a job's task panicked with, as one line.
fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "its task was cancelled".to_string();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic".to_string())
}

/// Runs one planned instance; a job whose matrix reads `needs` is expanded
/// now and all its instances run here, up to `max-parallel` at once.
async fn run_instance<B: Backend + 'static>(
    shared: &Shared<B>,
    plan: &Plan,
    id: InstanceId,
    cancel: &CancellationToken,
) -> Vec<JobReport> {
    let planned = &plan.jobs[id.job];
    let job = shared
        .workflow
        .workflow
        .job(&planned.id)
        .expect("planned jobs come from the workflow");
    if planned.deferred.is_none() {
        return vec![run_job_instance(shared, planned, id.instance, cancel).await];
    }
    let (needs, _) = shared.finished.needs_context(job);
    let inputs = match &job.call {
        Some(frame) => match super::job::call_plan_inputs(shared, planned, frame) {
            // The call does not run: the job is skipped, as it is.
            Ok(None) => return vec![run_job_instance(shared, planned, id.instance, cancel).await],
            Ok(Some(inputs)) => Ok(inputs),
            Err(message) => Err(Diagnostic::error(job.id.span, message)),
        },
        None => Ok(shared.plan_inputs.clone()),
    };
    let expanded = match inputs.and_then(|inputs| plan::expand_at_run_time(job, &inputs, needs)) {
        Ok(expanded) => expanded,
        Err(diagnostic) => {
            let report = JobReport::new(&planned.id, &planned.id, JobResult::Failure);
            let message = shared.workflow.file.render(&diagnostic);
            return vec![shared.fail(report, &planned.id, message.trim_end().to_string())];
        }
    };
    let limit = expanded
        .max_parallel
        .unwrap_or(usize::MAX)
        .min(shared.options.parallel.max(1));
    let siblings = cancel.child_token();
    let mut running = futures_util::stream::iter(0..expanded.instances.len())
        .map(|index| {
            let token = siblings.child_token();
            let expanded = &expanded;
            async move { run_job_instance(shared, expanded, index, &token).await }
        })
        .buffer_unordered(limit);
    let mut reports = Vec::new();
    while let Some(report) = running.next().await {
        if report.result == JobResult::Failure && expanded.fail_fast {
            siblings.cancel();
        }
        reports.push(report);
    }
    reports
}
