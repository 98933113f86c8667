//! `mlci run`: a planned workflow executed job by job on a backend.
//!
//! The scheduler hands out job instances whose needs are done; each one gets
//! its own container (through [`Backend`]), its steps run there one after the
//! other, and its result and outputs feed the `needs` context of the jobs
//! after it. Output streams line by line through the secret masker and the
//! workflow-command processor to the terminal; nothing is kept in memory.

use super::cached::{self, CacheConfig, RunCache, StepKeyParts};
use super::commands::{Action, CommandProcessor};
use super::github::{self, GitInfo, GithubContextInput};
use super::mask::{LineMasker, Masker};
use super::output::Console;
use super::{defaults, file_commands, shell};
use crate::executor::{
    Backend, ContainerOptions, ExecOutcome, ExecRequest, FileToWrite, JobEnv, JobSpec, StreamKind,
};
use crate::expr::{self, EvalContext, Object, Status, Value};
use crate::plan::{self, InstanceId, JobPlan, JobResult, Plan, PlanInputs, Scheduler};
use crate::workflow::{BoolOrExpr, Job, LoadedWorkflow, NumberOrExpr, Step, StepAction};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What the command line says about a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub repo: PathBuf,
    pub event: String,
    pub event_path: Option<PathBuf>,
    pub inputs: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub vars: BTreeMap<String, String>,
    /// `-P label=image`, on top of the default label map.
    pub platforms: BTreeMap<String, String>,
    /// `-j JOB`: run this job and the jobs it needs.
    pub job: Option<String>,
    /// At most this many job instances at once.
    pub parallel: usize,
    pub allow_privileged: bool,
    /// Labels every container and network of the run; generated when empty.
    pub run_id: String,
    /// `--env-file`: variables every step sees, below the workflow's own `env`
    /// (as a runner machine's environment would be).
    pub env: BTreeMap<String, String>,
    /// Spinners and folded groups for a person at a terminal; plain lines otherwise.
    pub interactive: bool,
    /// The step cache; None runs every step and keeps nothing.
    pub cache: Option<CacheConfig>,
}

/// A fresh run id: unique on this machine, readable in `docker ps`.
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or_default()
    )
}

/// How one job instance ended.
#[derive(Clone, Debug)]
pub struct JobReport {
    pub job_id: String,
    pub name: String,
    pub result: JobResult,
    pub duration: Duration,
    /// One sentence when the job could not run at all (no image, no GPU runtime…).
    pub error: Option<String>,
    /// What its steps wrote to `GITHUB_STEP_SUMMARY` (Markdown), masked.
    pub summary: String,
    /// Each step that was reached, in order.
    pub steps: Vec<StepReport>,
    /// The image the job ran in (or would have), and its Id.
    pub image: String,
    pub image_digest: String,
    /// `--gpus` of `container.options`, as written (`all`, `2`, `device=0,1`).
    pub gpu_request: Option<String>,
    /// What `nvidia-smi` in the job's container names, when it asked for GPUs.
    pub gpu_name: Option<String>,
    /// The matrix values of the instance.
    pub matrix: BTreeMap<String, String>,
    /// `::error`/`::warning`/`::notice` of its steps.
    pub annotations: Vec<super::commands::Annotation>,
}

/// How one step ended.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    pub index: usize,
    pub id: Option<String>,
    pub name: String,
    /// `success`, `failure` or `skipped`, before `continue-on-error`.
    pub outcome: String,
    /// After `continue-on-error`.
    pub conclusion: String,
    pub duration: Duration,
    /// The step's cache key, when it has `inputs`.
    pub cache_key: Option<String>,
    pub cache_hit: bool,
    /// Its `metrics:` files (path, content), read after the step.
    pub metrics: Vec<(String, Vec<u8>)>,
    /// Its `inputs` and `outputs` files (path, BLAKE3, size), for lineage.
    pub inputs: Vec<(String, String, u64)>,
    pub outputs: Vec<(String, String, u64)>,
}

const WORK_ROOT: &str = "/__w";
pub(super) const TEMP: &str = "/__w/_temp";
const EVENT_PATH: &str = "/github/workflow/event.json";
const FILE_OUTPUT: &str = "set_output";
const FILE_ENV: &str = "set_env";
const FILE_PATH: &str = "add_path";
const FILE_SUMMARY: &str = "step_summary";
const FILE_STATE: &str = "save_state";
/// GitHub's limit on one step's summary.
const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// State shared by every job of a run.
pub(super) struct Shared<B: Backend> {
    pub backend: B,
    pub options: RunOptions,
    pub workflow: LoadedWorkflow,
    pub info: GitInfo,
    payload: serde_json::Value,
    inputs: Object,
    run_id: String,
    run_number: u64,
    pub snapshot: PathBuf,
    pub masker: Masker,
    pub console: Console,
    /// Per job id: aggregated result and outputs, for the `needs` context.
    finished: Mutex<BTreeMap<String, (JobResult, Object)>>,
    /// For matrices that read `needs`, expanded when their job starts.
    plan_inputs: PlanInputs,
    concurrency: ConcurrencyGroups,
    /// The run's artifacts and the action cache.
    pub actions: super::actions::RunActions,
    pub cache: Option<RunCache>,
}

/// Runs a workflow that `workflow::parse` accepted. Returns the report of
/// every job instance, in the order they finished.
pub async fn run<B: Backend + 'static>(
    backend: B,
    workflow: LoadedWorkflow,
    options: RunOptions,
    cancel: CancellationToken,
) -> Result<Vec<JobReport>, String> {
    let info = github::git_info(&options.repo);
    let given_inputs: Object = options
        .inputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let plan_inputs = PlanInputs {
        github: Object::new(),
        inputs: given_inputs,
        vars: to_object(&options.vars),
    };
    let plan = plan::build(&workflow.workflow, &plan_inputs).map_err(|diagnostics| {
        diagnostics
            .iter()
            .map(|d| workflow.file.render(d))
            .collect::<String>()
    })?;
    let inputs = plan
        .jobs
        .first()
        .map(|_| input_context(&workflow, &plan_inputs))
        .unwrap_or_default();
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
        None => github::default_payload(&options.event, &info, &inputs),
    };
    let snapshot_dir = tempfile::Builder::new()
        .prefix("mlci-workspace-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    super::workspace::snapshot(&options.repo, snapshot_dir.path()).map_err(|e| {
        format!(
            "cannot snapshot the repository {}: {e}",
            options.repo.display()
        )
    })?;
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
    let console = Console::new(masker.clone(), options.interactive);
    let actions = super::actions::RunActions::new(&run_id);
    let cache = match options.cache.clone() {
        Some(config) => Some(RunCache::open(config)?),
        None => None,
    };
    let shared = Arc::new(Shared {
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
        finished: Mutex::new(BTreeMap::new()),
        plan_inputs,
        concurrency: ConcurrencyGroups::default(),
        actions,
        cache,
    });
    let reports = schedule(shared.clone(), plan, selected, cancel.clone()).await;
    // Whatever happened, nothing of this run stays on the engine.
    let _ = shared.backend.remove_run(&shared.run_id).await;
    if let Some(cache) = &shared.cache {
        // Outputs end up in the working tree, as DVC leaves them.
        for warning in cache.finish(&shared.options.repo) {
            eprintln!("warning: {warning}");
        }
    }
    Ok(reports)
}

fn to_object(map: &BTreeMap<String, String>) -> Object {
    map.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// The `inputs` context: declared defaults overlaid by `--input`.
fn input_context(workflow: &LoadedWorkflow, given: &PlanInputs) -> Object {
    let mut inputs = Object::new();
    for trigger in &workflow.workflow.on {
        for input in &trigger.filters.inputs {
            let value = input
                .default
                .as_ref()
                .map(|d| d.value.clone())
                .unwrap_or(Value::String(String::new()));
            inputs.insert(input.name.value.clone(), value);
        }
    }
    for (name, value) in &given.inputs {
        inputs.insert(name.clone(), value.clone());
    }
    inputs
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
    let mut tokens: BTreeMap<(usize, usize), CancellationToken> = BTreeMap::new();
    let mut reports = Vec::new();
    loop {
        while let Some(ready) = scheduler.next_ready() {
            let id = ready.id;
            let token = cancel.child_token();
            tokens.insert((id.job, id.instance), token.clone());
            let shared = shared.clone();
            let plan = plan.clone();
            running.spawn(async move {
                let report = run_instance(&shared, &plan, id, &token).await;
                (id, report)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let Ok((id, instance_reports)) = joined else {
            continue;
        };
        tokens.remove(&(id.job, id.instance));
        for report in &instance_reports {
            record(&shared, &plan, id, report);
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
                reports.push(JobReport {
                    job_id: job.id.clone(),
                    name: job.instances[skipped.instance].name.clone(),
                    result: JobResult::Cancelled,
                    duration: Duration::ZERO,
                    error: None,
                    summary: String::new(),
                    steps: Vec::new(),
                    image: String::new(),
                    image_digest: String::new(),
                    gpu_request: None,
                    gpu_name: None,
                    matrix: BTreeMap::new(),
                    annotations: Vec::new(),
                });
            }
        }
        reports.extend(instance_reports);
        if scheduler.is_done() {
            break;
        }
    }
    reports
}

/// Adds an instance's result to its job's entry of the `needs` context: a
/// matrix job failed if any instance failed.
fn record<B: Backend>(shared: &Shared<B>, plan: &Plan, id: InstanceId, report: &JobReport) {
    let job_id = &plan.jobs[id.job].id;
    let mut finished = shared.finished.lock().unwrap_or_else(|e| e.into_inner());
    let entry = finished
        .entry(job_id.clone())
        .or_insert((JobResult::Success, Object::new()));
    entry.0 = match (entry.0, report.result) {
        (JobResult::Failure, _) | (_, JobResult::Failure) => JobResult::Failure,
        (JobResult::Cancelled, _) | (_, JobResult::Cancelled) => JobResult::Cancelled,
        (JobResult::Skipped, other) | (other, JobResult::Skipped) => other,
        _ => JobResult::Success,
    };
}

fn job_outputs<B: Backend>(shared: &Shared<B>, job_id: &str, outputs: Object) {
    let mut finished = shared.finished.lock().unwrap_or_else(|e| e.into_inner());
    let entry = finished
        .entry(job_id.to_string())
        .or_insert((JobResult::Success, Object::new()));
    for (k, v) in &outputs {
        entry.1.insert(k.clone(), v.clone());
    }
}

fn needs_context<B: Backend>(shared: &Shared<B>, job: &Job) -> (Object, Status) {
    let finished = shared.finished.lock().unwrap_or_else(|e| e.into_inner());
    let mut needs = Object::new();
    let mut status = Status::Success;
    for need in &job.needs {
        let (result, outputs) = finished
            .get(&need.value)
            .cloned()
            .unwrap_or((JobResult::Skipped, Object::new()));
        match result {
            JobResult::Failure => status = Status::Failure,
            JobResult::Cancelled if status == Status::Success => status = Status::Cancelled,
            JobResult::Skipped if status == Status::Success => status = Status::Failure,
            _ => {}
        }
        let mut entry = Object::new();
        entry.insert("result", Value::String(result.as_str().to_string()));
        entry.insert("outputs", Value::Object(outputs));
        needs.insert(need.value.clone(), Value::Object(entry));
    }
    (needs, status)
}

/// Everything a job instance's expressions can see, before its steps run.
pub(super) struct JobScope {
    pub contexts: Object,
    pub status: Status,
    /// Where `hashFiles()` looks: the run's snapshot of the repository.
    pub workspace: Option<PathBuf>,
}

impl JobScope {
    pub fn eval(&self, text: &str) -> Result<Value, String> {
        let template = expr::parse_template(text).map_err(|e| e.message)?;
        template
            .eval(&EvalContext {
                contexts: &self.contexts,
                status: self.status,
                workspace: self.workspace.as_deref(),
            })
            .map_err(|e| e.message)
    }

    pub fn eval_string(&self, text: &str) -> Result<String, String> {
        self.eval(text).map(|v| v.to_display_string())
    }

    /// An `if:`; without one, `success()`, as GitHub does.
    pub fn condition(&self, text: Option<&str>) -> Result<bool, String> {
        let condition =
            expr::parse_condition(text.unwrap_or("success()")).map_err(|e| e.message)?;
        condition
            .eval(&EvalContext {
                contexts: &self.contexts,
                status: self.status,
                workspace: self.workspace.as_deref(),
            })
            .map_err(|e| e.message)
    }

    /// `continue-on-error`, as written or as its expression evaluates.
    /// A boolean key that may hold an expression (`cancel-in-progress`).
    fn flag(&self, value: Option<&crate::workflow::Spanned<BoolOrExpr>>) -> bool {
        match value.map(|v| &v.value) {
            None => false,
            Some(BoolOrExpr::Bool(b)) => *b,
            Some(BoolOrExpr::Expr(text)) => self.eval(text).is_ok_and(|v| v.is_truthy()),
        }
    }

    pub fn continue_on_error(&self, value: Option<&crate::workflow::Spanned<BoolOrExpr>>) -> bool {
        match value.map(|v| &v.value) {
            Some(BoolOrExpr::Bool(b)) => *b,
            Some(BoolOrExpr::Expr(text)) => self.eval(text).is_ok_and(|v| v.is_truthy()),
            None => false,
        }
    }
}

/// Runs one planned instance; a job whose matrix reads `needs` is expanded
/// now and all its instances run here, up to `max-parallel` at once.
async fn run_instance<B: Backend>(
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
    let (needs, _) = needs_context(shared, job);
    let expanded = match plan::expand_at_run_time(
        &shared.workflow.workflow,
        job,
        &shared.plan_inputs,
        needs,
    ) {
        Ok(expanded) => expanded,
        Err(diagnostic) => {
            let report = JobReport {
                job_id: planned.id.clone(),
                name: planned.id.clone(),
                result: JobResult::Failure,
                duration: Duration::ZERO,
                error: None,
                summary: String::new(),
                steps: Vec::new(),
                image: String::new(),
                image_digest: String::new(),
                gpu_request: None,
                gpu_name: None,
                matrix: BTreeMap::new(),
                annotations: Vec::new(),
            };
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

async fn run_job_instance<B: Backend>(
    shared: &Shared<B>,
    planned: &plan::PlannedJob,
    index: usize,
    cancel: &CancellationToken,
) -> JobReport {
    let instance = &planned.instances[index];
    let job = shared
        .workflow
        .workflow
        .job(&planned.id)
        .expect("planned jobs come from the workflow");
    let started = Instant::now();
    let mut report = JobReport {
        job_id: planned.id.clone(),
        name: instance.name.clone(),
        result: JobResult::Success,
        duration: Duration::ZERO,
        error: None,
        summary: String::new(),
        steps: Vec::new(),
        image: String::new(),
        image_digest: String::new(),
        gpu_request: None,
        gpu_name: None,
        matrix: instance
            .matrix
            .iter()
            .map(|(k, v)| (k.clone(), v.to_display_string()))
            .collect(),
        annotations: Vec::new(),
    };
    let (needs, status) = needs_context(shared, job);
    let workspace = format!(
        "{WORK_ROOT}/{0}/{0}",
        shared.info.repository.rsplit('/').next().unwrap_or("repo")
    );
    let mut contexts = Object::new();
    contexts.insert(
        "github",
        Value::Object(github::github_context(&GithubContextInput {
            info: &shared.info,
            event_name: &shared.options.event,
            payload: &shared.payload,
            workflow: workflow_name(shared),
            run_id: shared.run_number,
            workspace: &workspace,
            job: &planned.id,
        })),
    );
    contexts.insert("inputs", Value::Object(shared.inputs.clone()));
    contexts.insert("vars", Value::Object(to_object(&shared.options.vars)));
    contexts.insert("needs", Value::Object(needs));
    contexts.insert(
        "matrix",
        Value::Object(
            instance
                .matrix
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    );
    let mut strategy = Object::new();
    strategy.insert("fail-fast", Value::Bool(planned.fail_fast));
    strategy.insert("job-index", Value::Number(index as f64));
    strategy.insert("job-total", Value::Number(planned.instances.len() as f64));
    strategy.insert(
        "max-parallel",
        Value::Number(planned.max_parallel.unwrap_or(planned.instances.len()) as f64),
    );
    contexts.insert("strategy", Value::Object(strategy));
    let mut scope = JobScope {
        contexts,
        status,
        workspace: Some(shared.snapshot.clone()),
    };
    // Job-level continue-on-error covers every way the job can fail, set-up included.
    let keep_going = scope.continue_on_error(job.continue_on_error.as_ref());

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
    if job.uses.is_some() {
        return shared.fail_job(
            keep_going,
            report,
            &instance.name,
            "calls a reusable workflow, which mlci cannot run yet".to_string(),
        );
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
                .enter(shared, &instance.name, &group, cancel_in_progress, cancel)
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
    let mut spec = match job_spec(shared, job, &scope, instance, &workspace) {
        Ok(spec) => spec,
        Err(message) => return shared.fail_job(keep_going, report, &instance.name, message),
    };
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
        .and_then(|cache| cache.upstream(&transitive_needs(shared, job)));
    let uses_cache = upstream.is_some() || job.steps.iter().any(|s| !s.inputs.is_empty());
    // A missing image is left for start_job to report (after its GPU check).
    let digest = match &shared.cache {
        Some(_) if uses_cache => shared.backend.image_id(&spec.image).await.ok(),
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
            if let Some(replay) =
                cached::all_hits(shared, job, &mut scope, &state, &workspace).await
            {
                report.steps = cached::replay(shared, job, &mut scope, &instance.name, replay);
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
                if let Err(message) =
                    cached::place_upstream(shared, job, upstream, &workspace, &mut spec).await
                {
                    return shared.fail_job(keep_going, report, &instance.name, message);
                }
            }
            job_cache = Some(state);
        }
    }

    shared.print(&instance.name, &format!("starting in {}", spec.image));
    shared.console.job_started(&instance.name);
    let _spinner = Spinner(&shared.console, &instance.name);
    let env = match shared.backend.start_job(&spec, cancel).await {
        Ok(env) => env,
        Err(error) => {
            report.duration = started.elapsed();
            return shared.fail_job(keep_going, report, &instance.name, error.to_string());
        }
    };
    report.image_digest = env.image_digest().to_string();
    if report.gpu_request.is_some() {
        report.gpu_name = gpu_name(&env, cancel).await;
        if let Some(gpu) = &report.gpu_name {
            shared.print(&instance.name, &format!("GPU: {gpu}"));
        }
    }
    let has_bash = job.container.is_none();
    let (result, summary, steps) = run_steps(
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
    report.steps = steps;
    if let Err(error) = env.remove().await {
        shared.print(&instance.name, &format!("warning: cleanup: {error}"));
    }
    report.summary = summary;
    finish_job(shared, planned, job, &scope, report, result, started)
}

/// The end of a job instance that ran (or was restored): its outputs for the
/// `needs` context, `continue-on-error`, and the closing line.
fn finish_job<B: Backend>(
    shared: &Shared<B>,
    planned: &plan::PlannedJob,
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
    job_outputs(shared, &planned.id, outputs);
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

/// The value of `--gpus` in `container.options` text, as written.
fn gpu_flag(options: &str) -> Option<String> {
    let words: Vec<&str> = options.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, word)| {
        if let Some(value) = word.strip_prefix("--gpus=") {
            Some(value.trim_matches(['"', '\'']).to_string())
        } else if *word == "--gpus" {
            words
                .get(i + 1)
                .map(|v| v.trim_matches(['"', '\'']).to_string())
        } else {
            None
        }
    })
}

/// The GPUs the job's container sees, by `nvidia-smi` (None when it has none).
async fn gpu_name<E: JobEnv>(env: &E, cancel: &CancellationToken) -> Option<String> {
    let request = ExecRequest {
        argv: ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
            .map(String::from)
            .to_vec(),
        env: BTreeMap::new(),
        workdir: "/".to_string(),
        user: None,
        timeout: Some(Duration::from_secs(20)),
    };
    let mut text = Vec::new();
    let mut collect = |_kind: StreamKind, bytes: &[u8]| {
        if text.len() < 4096 {
            text.extend_from_slice(bytes);
        }
    };
    match env.exec(&request, cancel, &mut collect).await {
        Ok(ExecOutcome::Exited(0)) => {
            let names: Vec<String> = String::from_utf8_lossy(&text)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        _ => None,
    }
}

/// Every job this one needs, directly or through others.
fn transitive_needs<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
) -> std::collections::BTreeSet<String> {
    let by_job = shared.workflow.workflow.needs_by_job();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo: Vec<String> = job.needs.iter().map(|n| n.value.clone()).collect();
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone())
            && let Some((_, needs)) = by_job.iter().find(|(id, _)| **id == next)
        {
            todo.extend(needs.iter().map(|n| n.to_string()));
        }
    }
    seen
}

/// Job-level `concurrency` within a run, as GitHub has it: in one group at
/// most one job instance runs and one waits; a newer arrival cancels the one
/// waiting, and with `cancel-in-progress` the one running too.
#[derive(Default)]
struct ConcurrencyGroups {
    groups: Mutex<BTreeMap<String, GroupState>>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct GroupState {
    running: Option<(u64, CancellationToken)>,
    waiting: Option<(u64, CancellationToken)>,
    next_ticket: u64,
}

/// Holds a concurrency group until dropped.
struct ConcurrencySlot<'a> {
    groups: &'a ConcurrencyGroups,
    group: String,
    ticket: u64,
}

impl ConcurrencyGroups {
    /// Waits for the group; None when this instance was cancelled meanwhile.
    async fn enter<'a, B: Backend>(
        &'a self,
        shared: &Shared<B>,
        name: &str,
        group: &str,
        cancel_in_progress: bool,
        cancel: &CancellationToken,
    ) -> Option<ConcurrencySlot<'a>> {
        let ticket = {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let state = groups.entry(group.to_string()).or_default();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            if let Some((_, previous)) = state.waiting.take() {
                previous.cancel();
            }
            if cancel_in_progress && let Some((_, running)) = &state.running {
                running.cancel();
            }
            if state.running.is_none() {
                state.running = Some((ticket, cancel.clone()));
                return Some(ConcurrencySlot {
                    groups: self,
                    group: group.to_string(),
                    ticket,
                });
            }
            state.waiting = Some((ticket, cancel.clone()));
            ticket
        };
        self.changed.notify_waiters();
        shared.print(name, &format!("waiting for concurrency group `{group}`"));
        loop {
            let changed = self.changed.notified();
            {
                let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                let state = groups.entry(group.to_string()).or_default();
                let mine = state.waiting.as_ref().is_some_and(|(t, _)| *t == ticket);
                if cancel.is_cancelled() || !mine {
                    if mine {
                        state.waiting = None;
                    }
                    return None;
                }
                if state.running.is_none() {
                    state.waiting = None;
                    state.running = Some((ticket, cancel.clone()));
                    return Some(ConcurrencySlot {
                        groups: self,
                        group: group.to_string(),
                        ticket,
                    });
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = cancel.cancelled() => {}
            }
        }
    }
}

impl Drop for ConcurrencySlot<'_> {
    fn drop(&mut self) {
        let mut groups = self.groups.groups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = groups.get_mut(&self.group)
            && state
                .running
                .as_ref()
                .is_some_and(|(t, _)| *t == self.ticket)
        {
            state.running = None;
        }
        drop(groups);
        self.groups.changed.notify_waiters();
    }
}

/// Takes a job's spinner away however `run_instance` returns.
struct Spinner<'a>(&'a Console, &'a str);

impl Drop for Spinner<'_> {
    fn drop(&mut self) {
        self.0.job_finished(self.1);
    }
}

pub(super) fn workflow_name<B: Backend>(shared: &Shared<B>) -> &str {
    match &shared.workflow.workflow.name {
        Some(name) => &name.value,
        None => shared.workflow.file.path.to_str().unwrap_or("workflow"),
    }
}

fn job_spec<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    scope: &JobScope,
    instance: &plan::JobInstance,
    workspace: &str,
) -> Result<JobSpec, String> {
    let labels = crate::images::default_label_images();
    let image = match &job.container {
        Some(container) => scope.eval_string(&container.image.value)?,
        None => instance
            .runs_on
            .iter()
            .find_map(|label| {
                shared.options.platforms.get(label).cloned().or_else(|| {
                    labels
                        .iter()
                        .find(|(l, _)| l == label)
                        .map(|(_, image)| image.to_string())
                })
            })
            .ok_or_else(|| {
                format!(
                    "no image for runs-on `{}`: map the label with -P {}=IMAGE",
                    instance.runs_on.join(", "),
                    instance
                        .runs_on
                        .first()
                        .map(String::as_str)
                        .unwrap_or("LABEL")
                )
            })?,
    };
    let mut spec = JobSpec {
        run_id: shared.run_id.clone(),
        job_name: instance.name.clone(),
        image,
        options: ContainerOptions::default(),
        env: BTreeMap::new(),
        volumes: Vec::new(),
        ports: Vec::new(),
        services: Vec::new(),
        workspace: shared.snapshot.clone(),
        workspace_path: workspace.to_string(),
        copies: Vec::new(),
        files: vec![FileToWrite {
            path: EVENT_PATH.to_string(),
            contents: serde_json::to_vec_pretty(&shared.payload).unwrap_or_default(),
            mode: 0o644,
        }],
        allow_privileged: shared.options.allow_privileged,
    };
    if let Some(container) = &job.container {
        if let Some(options) = &container.options {
            let text = scope.eval_string(&options.value)?;
            spec.options = ContainerOptions::parse(&text)
                .map_err(|e| format!("container.options: {}", e.message))?;
        }
        for (name, value) in &container.env {
            spec.env
                .insert(name.clone(), scope.eval_string(&value.value)?);
        }
        for volume in &container.volumes {
            spec.volumes.push(scope.eval_string(&volume.value)?);
        }
        for port in &container.ports {
            spec.ports.push(scope.eval_string(&port.value)?);
        }
    }
    for (name, service) in &job.services {
        let mut env = BTreeMap::new();
        for (key, value) in &service.env {
            env.insert(key.clone(), scope.eval_string(&value.value)?);
        }
        let options = match &service.options {
            Some(options) => ContainerOptions::parse(&scope.eval_string(&options.value)?)
                .map_err(|e| format!("services.{}.options: {}", name.value, e.message))?,
            None => ContainerOptions::default(),
        };
        spec.services.push(crate::executor::ServiceSpec {
            name: name.value.clone(),
            image: scope.eval_string(&service.image.value)?,
            options,
            env,
            ports: service.ports.iter().map(|p| p.value.clone()).collect(),
            volumes: service.volumes.iter().map(|v| v.value.clone()).collect(),
        });
    }
    Ok(spec)
}

/// What the steps of a job have built up so far.
pub(super) struct StepState {
    pub github_env: BTreeMap<String, String>,
    pub github_path: Vec<String>,
    steps: Object,
    pub failed: bool,
    /// The job summary so far: every step's `GITHUB_STEP_SUMMARY`, in order.
    summary: String,
    /// Actions copied into the container, `post` steps to run at the end.
    pub actions: super::actions::JobActions,
    /// The step cache's view of the workspace, when the cache is on.
    pub cache: Option<JobCacheState>,
    /// What the step being run adds to its report (cache key, metrics…).
    pub current: StepReport,
}

/// What the cache knows of a job's workspace.
pub(super) struct JobCacheState {
    /// The outputs of cached steps so far (and of the jobs this one needs),
    /// to lay over the repository snapshot when hashing inputs.
    pub overlay: crate::cache::Tree,
    pub image_digest: String,
    /// A step without `inputs` ran: it may have changed any file, so inputs
    /// are read from the container from now on.
    pub dirty: bool,
}

/// The contexts every step of a job sees besides its own: `secrets`,
/// `runner`, `job`.
fn fill_step_contexts<B: Backend>(shared: &Shared<B>, scope: &mut JobScope) {
    let mut secrets = Object::new();
    for (k, v) in &shared.options.secrets {
        secrets.insert(k.clone(), Value::String(v.clone()));
    }
    scope.contexts.insert("secrets", Value::Object(secrets));
    let mut runner = Object::new();
    runner.insert("os", Value::str("Linux"));
    runner.insert(
        "arch",
        Value::str(defaults::runner_arch(std::env::consts::ARCH)),
    );
    runner.insert("name", Value::str("mlci"));
    runner.insert("temp", Value::str(TEMP));
    runner.insert("tool_cache", Value::str("/__t"));
    scope.contexts.insert("runner", Value::Object(runner));
    let mut job_context = Object::new();
    job_context.insert("status", Value::str("success"));
    scope.contexts.insert("job", Value::Object(job_context));
}

/// The title a step is shown with.
pub(super) fn step_title(scope: &JobScope, step: &Step) -> String {
    match &step.name {
        Some(n) => scope
            .eval_string(&n.value)
            .unwrap_or_else(|_| n.value.clone()),
        None => step.display_name(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_steps<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    env: &B::Env,
    scope: &mut JobScope,
    name: &str,
    workspace: &str,
    has_bash: bool,
    job_cache: Option<JobCacheState>,
    cancel: &CancellationToken,
) -> (JobResult, String, Vec<StepReport>) {
    let mut state = StepState::new(job_cache);
    let mut reports = Vec::new();

    for (index, step) in job.steps.iter().enumerate() {
        let cancelled = cancel.is_cancelled();
        scope.status = if cancelled {
            Status::Cancelled
        } else if state.failed {
            Status::Failure
        } else {
            Status::Success
        };
        let mut env_context = Object::new();
        for (k, v) in step_env(shared, job, step, scope, &state) {
            env_context.insert(k, Value::String(v));
        }
        scope.contexts.insert("env", Value::Object(env_context));
        scope
            .contexts
            .insert("steps", Value::Object(state.steps.clone()));
        let title = step_title(scope, step);
        let step_started = Instant::now();
        state.current = StepReport::default();
        let should_run = scope.condition(step.condition.as_ref().map(|c| c.value.as_str()));
        let (outcome, outputs) = match should_run {
            Ok(false) => {
                shared.print(name, &format!("○ {title} (skipped)"));
                ("skipped", Object::new())
            }
            Err(message) => {
                shared.print(name, &format!("✗ {title}: cannot evaluate `if`: {message}"));
                ("failure", Object::new())
            }
            Ok(true) => {
                shared.print(name, &format!("▶ {title}"));
                shared.console.status(name, &title);
                // Steps that run because of always()/cancelled() after a
                // Ctrl-C must not be cancelled by the same token.
                let step_cancel = if cancelled {
                    CancellationToken::new()
                } else {
                    cancel.child_token()
                };
                let ctx = StepCtx {
                    shared,
                    job,
                    env,
                    name,
                    workspace,
                    has_bash,
                    cancel: &step_cancel,
                };
                run_step(&ctx, step, index, scope, &mut state).await
            }
        };
        let continue_on_error = scope.continue_on_error(step.continue_on_error.as_ref());
        let conclusion = if outcome == "failure" && continue_on_error {
            "success"
        } else {
            outcome
        };
        if conclusion == "failure" {
            state.failed = true;
            if let Some(Value::Object(job_context)) = scope.contexts.get_mut("job") {
                job_context.insert("status", Value::str("failure"));
            }
        }
        let mut report = std::mem::take(&mut state.current);
        if outcome != "skipped" && report.metrics.is_empty() && !step.metrics.is_empty() {
            report.metrics = read_metrics(env, scope, step, workspace).await;
        }
        reports.push(StepReport {
            index,
            id: step.id.as_ref().map(|i| i.value.clone()),
            name: title.clone(),
            outcome: outcome.to_string(),
            conclusion: conclusion.to_string(),
            duration: step_started.elapsed(),
            ..report
        });
        if let Some(id) = &step.id {
            let mut entry = Object::new();
            entry.insert("outputs", Value::Object(outputs));
            entry.insert("outcome", Value::str(outcome));
            entry.insert("conclusion", Value::str(conclusion));
            state.steps.insert(id.value.clone(), Value::Object(entry));
        }
    }
    if !state.actions.posts.is_empty() || !state.actions.cache_saves.is_empty() {
        // Post steps of actions, as `always()` steps: not cancelled by the
        // token that cancelled the job.
        scope.status = if cancel.is_cancelled() {
            Status::Cancelled
        } else if state.failed {
            Status::Failure
        } else {
            Status::Success
        };
        let post_cancel = CancellationToken::new();
        let ctx = StepCtx {
            shared,
            job,
            env,
            name,
            workspace,
            has_bash,
            cancel: &post_cancel,
        };
        super::actions::run_posts(&ctx, scope, &mut state).await;
    }
    scope
        .contexts
        .insert("steps", Value::Object(state.steps.clone()));
    let result = if cancel.is_cancelled() {
        JobResult::Cancelled
    } else if state.failed {
        JobResult::Failure
    } else {
        JobResult::Success
    };
    (result, state.summary, reports)
}

/// A step's `metrics:` files, read from the job container after it ran.
async fn read_metrics<E: JobEnv>(
    env: &E,
    scope: &JobScope,
    step: &Step,
    workspace: &str,
) -> Vec<(String, Vec<u8>)> {
    let mut metrics = Vec::new();
    for path in &step.metrics {
        let path = scope
            .eval_string(&path.value)
            .unwrap_or_else(|_| path.value.clone());
        let full = if path.starts_with('/') {
            path.clone()
        } else {
            format!("{workspace}/{}", path.trim_start_matches("./"))
        };
        if let Ok(Some(bytes)) = env.read_file(&full).await {
            metrics.push((path, bytes));
        }
    }
    metrics
}

/// The environment of a step, by GitHub's precedence: workflow `env`, then
/// job `env`, then what earlier steps wrote to `GITHUB_ENV`, then step `env`.
pub(super) fn step_env<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    step: &Step,
    scope: &JobScope,
    state: &StepState,
) -> BTreeMap<String, String> {
    let mut env = shared.options.env.clone();
    for map in [&shared.workflow.workflow.env, &job.env] {
        for (k, v) in map {
            env.insert(
                k.clone(),
                scope
                    .eval_string(&v.value)
                    .unwrap_or_else(|_| v.value.clone()),
            );
        }
    }
    env.extend(state.github_env.clone());
    for (k, v) in &step.env {
        env.insert(
            k.clone(),
            scope
                .eval_string(&v.value)
                .unwrap_or_else(|_| v.value.clone()),
        );
    }
    env
}

/// What one step (or one step of a composite action) needs from its job.
pub(super) struct StepCtx<'a, B: Backend> {
    pub shared: &'a Shared<B>,
    pub job: &'a Job,
    pub env: &'a B::Env,
    /// The job instance's name: the prefix of every output line.
    pub name: &'a str,
    /// The workspace inside the container.
    pub workspace: &'a str,
    pub has_bash: bool,
    pub cancel: &'a CancellationToken,
}

/// What runs in the job container for a step.
pub(super) enum StepCommand {
    /// A script for a shell (`run:`).
    Script {
        text: String,
        shell: shell::ShellCommand,
    },
    /// A program and its arguments (a JavaScript action's `node main.js`).
    Program(Vec<String>),
}

/// "Run this in the job container with this env and working directory, and
/// collect its outputs, env and path": what `run:` steps, composite steps
/// and JavaScript actions share.
pub(super) struct StepExec {
    /// Unique within the job: names the step's script and files.
    pub key: String,
    pub command: StepCommand,
    /// The step's own environment (workflow, job, `GITHUB_ENV`, step `env`,
    /// and for actions `INPUT_*`), on top of the default variables.
    pub env: BTreeMap<String, String>,
    pub workdir: String,
    pub timeout: Option<Duration>,
    /// `GITHUB_ACTION`.
    pub action: String,
}

/// How a [`StepExec`] ended.
pub(super) struct StepExecResult {
    pub succeeded: bool,
    /// `GITHUB_OUTPUT` and `::set-output`.
    pub outputs: Object,
    /// `GITHUB_STATE` (for a JavaScript action's `post`).
    pub saved_state: Vec<(String, String)>,
}

impl StepExecResult {
    pub fn failed() -> Self {
        StepExecResult {
            succeeded: false,
            outputs: Object::new(),
            saved_state: Vec::new(),
        }
    }
}

async fn run_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    step: &Step,
    index: usize,
    scope: &JobScope,
    state: &mut StepState,
) -> (&'static str, Object) {
    let (shared, name) = (ctx.shared, ctx.name);
    if let StepAction::Uses(action) = &step.action {
        // Any action but checkout may change files the cache cannot see.
        if !is_checkout(&action.value)
            && let Some(cache) = state.cache.as_mut()
        {
            cache.dirty = true;
        }
        return super::actions::run_uses(ctx, step, &action.value, index, scope, state).await;
    }
    let prepared = match prepare_run(
        shared,
        ctx.job,
        step,
        index,
        scope,
        state,
        ctx.has_bash,
        ctx.workspace,
    ) {
        Ok(prepared) => prepared,
        Err(message) => {
            shared.print(name, &format!("error: {message}"));
            return ("failure", Object::new());
        }
    };
    if let Some(parts) = prepared.key_parts.filter(|_| state.cache.is_some()) {
        return cached::run_cached_step(ctx, step, scope, state, prepared.exec, parts).await;
    }
    if let Some(cache) = state.cache.as_mut() {
        cache.dirty = true;
    }
    let result = exec_step(ctx, state, prepared.exec).await;
    let outcome = if result.succeeded {
        "success"
    } else {
        "failure"
    };
    (outcome, result.outputs)
}

pub(super) fn is_checkout(uses: &str) -> bool {
    uses.to_ascii_lowercase().starts_with("actions/checkout@")
}

/// A `run:` step ready to execute, and what its cache key is made of when
/// it has `inputs` and the cache is on.
pub(super) struct PreparedRun {
    pub exec: StepExec,
    pub key_parts: Option<StepKeyParts>,
}

/// Evaluates a `run:` step: its script, shell, environment, working
/// directory and timeout.
#[allow(clippy::too_many_arguments)]
pub(super) fn prepare_run<B: Backend>(
    shared: &Shared<B>,
    job: &Job,
    step: &Step,
    index: usize,
    scope: &JobScope,
    state: &StepState,
    has_bash: bool,
    workspace: &str,
) -> Result<PreparedRun, String> {
    let StepAction::Run(run) = &step.action else {
        return Err("not a `run:` step".to_string());
    };
    let script = scope
        .eval_string(&run.value)
        .map_err(|message| format!("cannot evaluate `run`: {message}"))?;
    let shell_name = step
        .shell
        .as_ref()
        .map(|s| s.value.clone())
        .or_else(|| job.defaults.shell.as_ref().map(|s| s.value.clone()))
        .or_else(|| {
            shared
                .workflow
                .workflow
                .defaults
                .shell
                .as_ref()
                .map(|s| s.value.clone())
        });
    let shell = shell::resolve(shell_name.as_deref(), has_bash).map_err(|e| e.to_string())?;
    let workdir = step
        .working_directory
        .as_ref()
        .or(job.defaults.working_directory.as_ref())
        .or(shared.workflow.workflow.defaults.working_directory.as_ref())
        .map(|d| {
            scope
                .eval_string(&d.value)
                .unwrap_or_else(|_| d.value.clone())
        });
    let shell_key = shell.argv("{0}").join(" ");
    let exec = StepExec {
        key: format!("step_{index}"),
        command: StepCommand::Script {
            text: script.clone(),
            shell,
        },
        env: step_env(shared, job, step, scope, state),
        workdir: workdir_in(workspace, workdir.as_deref()),
        timeout: step_timeout(scope, step),
        action: defaults::action_name(step.id.as_ref().map(|i| i.value.as_str()), None, index),
    };
    let key_parts = if shared.cache.is_some() && !step.inputs.is_empty() {
        Some(key_parts(shared, step, scope, &exec, script, shell_key)?)
    } else {
        None
    };
    Ok(PreparedRun { exec, key_parts })
}

/// A working directory: relative ones are inside the workspace.
pub(super) fn workdir_in(workspace: &str, dir: Option<&str>) -> String {
    match dir {
        Some(d) if d.starts_with('/') => d.to_string(),
        Some(d) => format!("{workspace}/{d}"),
        None => workspace.to_string(),
    }
}

impl StepState {
    /// The state before a job's first step.
    pub fn new(cache: Option<JobCacheState>) -> StepState {
        StepState {
            github_env: BTreeMap::new(),
            github_path: Vec::new(),
            steps: Object::new(),
            failed: false,
            summary: String::new(),
            actions: Default::default(),
            cache,
            current: StepReport::default(),
        }
    }
}

/// What a step with `inputs` is keyed by, besides the content of its inputs.
fn key_parts<B: Backend>(
    shared: &Shared<B>,
    step: &Step,
    scope: &JobScope,
    exec: &StepExec,
    command: String,
    shell: String,
) -> Result<StepKeyParts, String> {
    let eval_all = |list: &[crate::workflow::Spanned<String>], what: &str| {
        list.iter()
            .map(|p| {
                scope
                    .eval_string(&p.value)
                    .map(|p| p.trim().trim_start_matches("./").to_string())
                    .map_err(|e| format!("cannot evaluate `{what}`: {e}"))
            })
            .collect::<Result<Vec<String>, String>>()
    };
    let (env, secret_names) = cached::split_secret_env(exec.env.clone(), &shared.options.secrets);
    Ok(StepKeyParts {
        command,
        shell,
        env,
        secret_names,
        workdir: exec.workdir.clone(),
        inputs: eval_all(&step.inputs, "inputs")?,
        outputs: eval_all(&step.outputs, "outputs")?,
        metrics: eval_all(&step.metrics, "metrics")?,
    })
}

/// A step's `timeout-minutes`, as written or as its expression evaluates.
pub(super) fn step_timeout(scope: &JobScope, step: &Step) -> Option<Duration> {
    match step.timeout_minutes.as_ref().map(|t| &t.value) {
        Some(NumberOrExpr::Number(n)) => Some(*n),
        Some(NumberOrExpr::Expr(text)) => scope.eval(text).ok().and_then(|v| match v {
            Value::Number(n) => Some(n),
            other => other.to_display_string().trim().parse().ok(),
        }),
        None => None,
    }
    .filter(|m| *m > 0.0)
    .map(|minutes| Duration::from_secs_f64(minutes * 60.0))
}

impl<B: Backend> StepCtx<'_, B> {
    /// A working directory: relative ones are inside the workspace.
    pub fn workdir(&self, dir: Option<&str>) -> String {
        workdir_in(self.workspace, dir)
    }

    /// The directory of a step's file commands: one download reads them all
    /// back after the step.
    fn commands_dir(key: &str) -> String {
        format!("{TEMP}/_runner_file_commands/{key}")
    }

    /// The full environment of a step: the default variables (`CI`,
    /// `GITHUB_*`, `RUNNER_*`), the step's own, and the directories earlier
    /// steps added to `GITHUB_PATH`. Creates the step's files empty, and
    /// writes `extra` files in the same round trip.
    pub async fn prepare_env(
        &self,
        state: &StepState,
        key: &str,
        action: &str,
        own: BTreeMap<String, String>,
        extra: Vec<FileToWrite>,
    ) -> Result<BTreeMap<String, String>, String> {
        let shared = self.shared;
        let commands_dir = Self::commands_dir(key);
        let files = defaults::FileCommandPaths {
            output: format!("{commands_dir}/{FILE_OUTPUT}"),
            env: format!("{commands_dir}/{FILE_ENV}"),
            path: format!("{commands_dir}/{FILE_PATH}"),
            step_summary: format!("{commands_dir}/{FILE_SUMMARY}"),
            state: format!("{commands_dir}/{FILE_STATE}"),
        };
        let mut uploads: Vec<FileToWrite> = [
            &files.output,
            &files.env,
            &files.path,
            &files.step_summary,
            &files.state,
        ]
        .into_iter()
        .map(|path| FileToWrite {
            path: path.clone(),
            contents: Vec::new(),
            mode: 0o666,
        })
        .collect();
        uploads.extend(extra);
        self.env
            .write_files(uploads)
            .await
            .map_err(|e| e.to_string())?;
        let mut variables = defaults::default_env(&defaults::DefaultEnvInput {
            workflow: workflow_name(shared).to_string(),
            workflow_ref: None,
            workflow_sha: None,
            run_id: shared.run_number,
            run_number: shared.run_number,
            run_attempt: 1,
            job: self.job.id.value.clone(),
            action: action.to_string(),
            actor: shared.info.actor.clone(),
            triggering_actor: None,
            repository: shared.info.repository.clone(),
            event_name: shared.options.event.clone(),
            event_path: EVENT_PATH.to_string(),
            workspace: self.workspace.to_string(),
            sha: shared.info.sha.clone(),
            git_ref: shared.info.git_ref.clone(),
            head_ref: None,
            base_ref: None,
            server_url: "https://github.com".to_string(),
            files,
            runner_arch: defaults::runner_arch(std::env::consts::ARCH).to_string(),
            runner_name: "mlci".to_string(),
            runner_temp: TEMP.to_string(),
            runner_tool_cache: "/__t".to_string(),
            runner_environment: "self-hosted".to_string(),
            debug: false,
            home: Some("/github/home".to_string()),
            retention_days: None,
        });
        variables.extend(own);
        if !state.github_path.is_empty() {
            let base = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
            let mut paths: Vec<String> = state.github_path.iter().rev().cloned().collect();
            paths.push(
                variables
                    .get("PATH")
                    .cloned()
                    .unwrap_or_else(|| base.to_string()),
            );
            variables.insert("PATH".to_string(), paths.join(":"));
        }
        Ok(variables)
    }

    /// Reads back a step's files: outputs into `outputs`, `GITHUB_ENV`,
    /// `GITHUB_PATH` and the summary into `state`; returns what
    /// `GITHUB_STATE` saved.
    pub async fn collect_files(
        &self,
        key: &str,
        state: &mut StepState,
        outputs: &mut Object,
    ) -> Vec<(String, String)> {
        let (shared, name) = (self.shared, self.name);
        let files = match self.env.read_dir_files(&Self::commands_dir(key)).await {
            Ok(files) => files,
            Err(error) => {
                shared.print(name, &format!("error: {error}"));
                BTreeMap::new()
            }
        };
        if let Some(bytes) = files.get(FILE_OUTPUT) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        outputs.insert(k, Value::String(v));
                    }
                }
                Err(error) => shared.print(name, &format!("error: GITHUB_OUTPUT: {error}")),
            }
        }
        if let Some(bytes) = files.get(FILE_ENV) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => state.github_env.extend(pairs),
                Err(error) => shared.print(name, &format!("error: GITHUB_ENV: {error}")),
            }
        }
        if let Some(bytes) = files.get(FILE_PATH) {
            state
                .github_path
                .extend(file_commands::parse_path_file(&String::from_utf8_lossy(
                    bytes,
                )));
        }
        if let Some(bytes) = files.get(FILE_SUMMARY).filter(|b| !b.is_empty()) {
            if bytes.len() > STEP_SUMMARY_LIMIT {
                // GitHub refuses summaries over 1 MiB and shows an error instead.
                shared.print(
                    name,
                    "warning: GITHUB_STEP_SUMMARY is over 1 MiB and was not kept",
                );
            } else {
                let text = shared.masker.mask(&String::from_utf8_lossy(bytes));
                state.summary.push_str(&text);
                if !text.ends_with('\n') {
                    state.summary.push('\n');
                }
            }
        }
        let mut saved = Vec::new();
        if let Some(bytes) = files.get(FILE_STATE) {
            match file_commands::parse_key_values(&String::from_utf8_lossy(bytes)) {
                Ok(pairs) => saved = pairs,
                Err(error) => shared.print(name, &format!("error: GITHUB_STATE: {error}")),
            }
        }
        saved
    }

    /// The sink of a step's output: lines go through the masker, the
    /// workflow commands and the console.
    pub fn step_output(&self) -> StepOutput<'_> {
        StepOutput {
            masker: LineMasker::new(self.shared.masker.clone()),
            lines: StepLines {
                shared_masker: &self.shared.masker,
                shared: &self.shared.console,
                name: self.name,
                processor: CommandProcessor::new(false),
                log: self.shared.console.step_log(self.name),
                outputs: Object::new(),
                saved_state: Vec::new(),
                failed_by_command: false,
            },
        }
    }
}

/// See [`StepCtx::step_output`].
pub(super) struct StepOutput<'a> {
    masker: LineMasker,
    lines: StepLines<'a>,
}

struct StepLines<'a> {
    shared_masker: &'a Masker,
    shared: &'a Console,
    name: &'a str,
    processor: CommandProcessor,
    log: super::output::StepLog<'a>,
    outputs: Object,
    saved_state: Vec<(String, String)>,
    failed_by_command: bool,
}

impl StepLines<'_> {
    fn handle(&mut self, line: super::mask::StreamLine<'_>) {
        let masker = self.shared_masker;
        let Some(raw) = line.raw else {
            self.log.output(&line.masked);
            return;
        };
        for action in self.processor.process_line(raw) {
            match action {
                Action::Output(text) => self.log.output(&masker.mask(&text)),
                Action::GroupStart(title) => self.log.group_start(&masker.mask(&title)),
                Action::GroupEnd => self.log.group_end(),
                Action::Debug(text) => self
                    .shared
                    .line(self.name, &format!("debug: {}", masker.mask(&text))),
                Action::Annotation(annotation) => {
                    self.shared.line(
                        self.name,
                        &format!("{}: {}", annotation.level, masker.mask(&annotation.message)),
                    );
                    self.shared.annotate(self.name, annotation);
                }
                Action::AddMask(value) => masker.add_value(&value),
                Action::SetOutput { name: key, value } => {
                    self.outputs.insert(key, Value::String(value))
                }
                Action::SaveState { name: key, value } => self.saved_state.push((key, value)),
                Action::FailStep => self.failed_by_command = true,
                _ => {}
            }
        }
    }
}

impl StepOutput<'_> {
    /// A chunk of the command's output.
    pub fn push(&mut self, bytes: &[u8]) {
        let lines = &mut self.lines;
        self.masker.push_with(bytes, |line| lines.handle(line));
    }

    /// After the command: says how it ended unless it exited 0. Returns
    /// whether it succeeded (exit 0 and no command failed the step), the
    /// outputs and the state that commands set.
    pub fn finish(
        mut self,
        outcome: Result<ExecOutcome, crate::executor::ExecError>,
    ) -> (bool, Object, Vec<(String, String)>) {
        let lines = &mut self.lines;
        self.masker.finish_with(|line| lines.handle(line));
        let mut lines = self.lines;
        let exited_zero = matches!(outcome, Ok(ExecOutcome::Exited(0)));
        lines.log.finish(!exited_zero || lines.failed_by_command);
        let (console, name) = (lines.shared, lines.name);
        let succeeded = match outcome {
            Ok(ExecOutcome::Exited(0)) => true,
            Ok(ExecOutcome::Exited(code)) => {
                console.line(name, &format!("error: the step exited with code {code}"));
                false
            }
            Ok(ExecOutcome::TimedOut) => {
                console.line(
                    name,
                    "error: the step ran past its timeout-minutes and was stopped",
                );
                false
            }
            Ok(ExecOutcome::Cancelled) => {
                console.line(name, "the step was cancelled");
                false
            }
            Err(error) => {
                console.line(name, &format!("error: {error}"));
                false
            }
        };
        (
            succeeded && !lines.failed_by_command,
            lines.outputs,
            lines.saved_state,
        )
    }
}

/// Runs a script or a program in the job container and collects its
/// outputs, `GITHUB_ENV`, `GITHUB_PATH`, summary and `GITHUB_STATE`.
pub(super) async fn exec_step<B: Backend>(
    ctx: &StepCtx<'_, B>,
    state: &mut StepState,
    exec: StepExec,
) -> StepExecResult {
    let (shared, name, env) = (ctx.shared, ctx.name, ctx.env);
    let mut extra = Vec::new();
    let argv = match &exec.command {
        StepCommand::Script { text, shell } => {
            let script_path = format!("{TEMP}/{}", shell.script_file_name(&exec.key));
            extra.push(FileToWrite {
                path: script_path.clone(),
                contents: shell::script_body(text, shell).into_bytes(),
                mode: 0o755,
            });
            shell.argv(&script_path)
        }
        StepCommand::Program(argv) => argv.clone(),
    };
    let variables = match ctx
        .prepare_env(state, &exec.key, &exec.action, exec.env, extra)
        .await
    {
        Ok(variables) => variables,
        Err(error) => {
            shared.print(name, &format!("error: {error}"));
            return StepExecResult::failed();
        }
    };
    let request = ExecRequest {
        argv,
        env: variables,
        workdir: exec.workdir,
        user: None,
        timeout: exec.timeout,
    };
    let mut sink = ctx.step_output();
    let outcome = {
        let mut on_output = |_kind: StreamKind, bytes: &[u8]| sink.push(bytes);
        env.exec(&request, ctx.cancel, &mut on_output).await
    };
    let (succeeded, mut outputs, mut saved_state) = sink.finish(outcome);
    // Step files: outputs, environment and PATH for the steps after this one.
    saved_state.extend(ctx.collect_files(&exec.key, state, &mut outputs).await);
    StepExecResult {
        succeeded,
        outputs,
        saved_state,
    }
}

impl<B: Backend> Shared<B> {
    /// A job that failed before or while it started; with job-level
    /// `continue-on-error` the run goes on as if it succeeded.
    fn fail_job(
        &self,
        keep_going: bool,
        report: JobReport,
        name: &str,
        message: String,
    ) -> JobReport {
        let mut report = self.fail(report, name, message);
        if keep_going {
            self.print(name, "failed, but `continue-on-error` lets the run go on");
            report.result = JobResult::Success;
        }
        report
    }

    /// One log line, prefixed with the job instance, secrets masked.
    pub fn print(&self, job: &str, line: &str) {
        self.console.line(job, line);
    }

    fn fail(&self, mut report: JobReport, name: &str, message: String) -> JobReport {
        self.print(name, &format!("error: {message}"));
        report.result = JobResult::Failure;
        report.error = Some(self.masker.mask(&message));
        report
    }
}
