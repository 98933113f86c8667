//! `mlci run`: runs the workflows, records each run in the run store, and
//! checks and reports its gates.

use super::args::RunArgs;
use super::exit::{EXIT_INTERRUPTED, EXIT_INVALID};
use super::load::load_all_with_cache;
use super::run_summary::{WorkflowRun, forward_step_summaries, print_summary, print_timings};
use super::runs_file::{RecordedWorkflow, RunsFile, RunsFileWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub(super) fn run(args: RunArgs) -> ExitCode {
    let mut runs_file = RunsFileWriter::start(args.runs_file.clone());
    let mut loaded = match load_all_with_cache(&args.paths, &args.cache.dir()) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    loaded.retain(|w| super::load::runs_on_its_own(w, &args.paths, &args.event));
    if loaded.is_empty() {
        eprintln!("error: no workflow to run");
        return ExitCode::from(EXIT_INVALID);
    }
    runs_file.file = RunsFile::pending(
        loaded
            .iter()
            .map(|w| RecordedWorkflow {
                name: workflow_name(w),
                path: w.file.path.display().to_string(),
                run: None,
            })
            .collect(),
    );
    runs_file.write();
    if let Err(code) = check_executor(&args, &loaded) {
        return code;
    }
    let executor = Executor::from_args(&args);
    let dry_run = args.dry_run;
    let mode = match crate::github::PublishMode::parse(&args.publish_to) {
        Ok(mode) => mode,
        Err(error) => {
            eprintln!("error: --to: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let reporting = Reporting {
        db: args.db.clone(),
        options: crate::report::ReportOptions {
            output: args.report.clone(),
            github: args.github,
            token: args.token.clone(),
            mode,
            baseline_ref: args.baseline.clone(),
            history: 10,
            quiet: false,
        },
    };
    // Values given on the command line win over the files'.
    let mut secrets = std::collections::BTreeMap::new();
    let mut env = std::collections::BTreeMap::new();
    for (path, what, target) in [
        (&args.secret_file, "secret", &mut secrets),
        (&args.env_file, "env", &mut env),
    ] {
        let Some(path) = path else { continue };
        let parsed = std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::run::dotenv::parse(&text));
        match parsed {
            Ok(pairs) => target.extend(pairs),
            Err(error) => {
                eprintln!(
                    "error: cannot read the {what} file {}: {error}",
                    path.display()
                );
                return ExitCode::from(EXIT_INVALID);
            }
        }
    }
    secrets.extend(args.secrets);
    let options = crate::run::RunOptions {
        repo: PathBuf::from("."),
        event: args.event,
        event_path: args.eventpath,
        inputs: args.inputs.into_iter().collect(),
        secrets,
        vars: args.vars.into_iter().collect(),
        platforms: args.platforms.into_iter().collect(),
        job: args.job,
        parallel: args.parallel.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }),
        allow_privileged: args.allow_privileged,
        // Scripts (and the tests) may name the run to find its containers.
        run_id: std::env::var("MLCI_RUN_ID")
            .ok()
            .filter(|id| {
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            })
            .unwrap_or_else(crate::run::new_run_id),
        env,
        interactive: !args.json && crate::run::output::Console::is_interactive(),
        logs_to_stderr: args.json,
        cache: Some(crate::run::CacheConfig {
            dir: args.cache.dir(),
            remote: args.cache.cache_remote.clone(),
            max_size: args.cache.cache_max_size,
            lookups: !args.no_cache,
            rerun: args.rerun.clone(),
        }),
        dataset_baselines: Default::default(),
        store: Some(crate::run::RunStoreRow {
            path: crate::record::default_path(Path::new("."), reporting.db.as_deref()),
            run_id: None,
        }),
        // Jobs with an `environment` become GitHub Deployments when the run
        // publishes to GitHub; a configuration that cannot publish is said
        // when the report is published.
        github: reporting
            .options
            .github
            .then(|| crate::github::GithubConfig::from_env(reporting.options.token.clone()).ok())
            .flatten(),
    };
    if dry_run {
        return super::dry_run::print_manifests(&executor.kube, loaded, &options);
    }
    // Every file is planned before the first starts: a bad second workflow
    // is refused (exit 2) before anything of the first ran.
    for workflow in &loaded {
        if let Err(message) = crate::run::plan_for_run(workflow, &options) {
            eprintln!("error: {message}");
            runs_file.fail(&message);
            return ExitCode::from(EXIT_INVALID);
        }
    }
    let run_id = options.run_id.clone();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let cancel = tokio_util::sync::CancellationToken::new();
        let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            // Ctrl-C or SIGTERM: cancel (always() steps still run); again, or
            // when that takes too long: remove the containers and leave.
            let executor = executor.clone();
            let run_id = run_id.clone();
            let force = async move {
                if let Ok(backend) = executor.connect().await {
                    use crate::executor::Backend;
                    let removal = backend.remove_run(&run_id);
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), removal).await;
                }
            };
            super::signals::handle(cancel.clone(), interrupted.clone(), force);
        }
        let started = super::sweep::StartedRuns::start(
            &crate::record::default_path(&options.repo, reporting.db.as_deref()),
            &starting_records(&loaded, &options),
            &options.secrets.values().cloned().collect::<Vec<_>>(),
        );
        let mut engine_sweep = None;
        let mut failed = false;
        let mut all_reports = Vec::new();
        let mut recorded = Vec::new();
        let mut cleanups = Vec::new();
        for (index, workflow) in loaded.into_iter().enumerate() {
            let started_at = crate::record::now_ms();
            let backend = match executor.connect().await {
                Ok(backend) => backend,
                Err(error) => {
                    eprintln!("error: {error}");
                    runs_file.fail(&error.to_string());
                    started.discard();
                    // The workflows that ran before leave nothing behind.
                    super::cleanup::finish(cleanups, true, None).await;
                    return ExitCode::FAILURE;
                }
            };
            if engine_sweep.is_none() {
                engine_sweep = super::sweep::sweep_engine(&backend);
            }
            let path = workflow.file.path.display().to_string();
            let gates = workflow.workflow.gates.clone();
            let kept = workflow.clone();
            let mut workflow_options = options.clone();
            workflow_options.dataset_baselines =
                std::sync::Arc::new(dataset_baselines(&reporting, &options, &kept));
            if let Some(store) = workflow_options.store.as_mut() {
                store.run_id = started.ids.get(index).copied().flatten();
            }
            match crate::run::run(backend, workflow, workflow_options, cancel.clone()).await {
                Ok(output) => {
                    cleanups.push(output.cleanup);
                    let reports = output.jobs;
                    failed |= reports
                        .iter()
                        .any(|r| r.result == crate::plan::JobResult::Failure);
                    let (record, warnings) = crate::run::run_record(&crate::run::RunFacts {
                        workflow: &kept,
                        reports: &reports,
                        phases: &output.phases,
                        info: &output.info,
                        options: &options,
                        started_at,
                        finished_at: crate::record::now_ms(),
                        interrupted: interrupted.load(std::sync::atomic::Ordering::SeqCst),
                    });
                    for warning in warnings {
                        eprintln!("warning: {warning}");
                    }
                    recorded.push((record, gates));
                    all_reports.push(WorkflowRun {
                        path,
                        jobs: reports,
                        phases: output.phases,
                    });
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    runs_file.fail(&message);
                    started.discard();
                    super::cleanup::finish(cleanups, true, None).await;
                    return ExitCode::from(EXIT_INVALID);
                }
            }
        }
        print_summary(&all_reports, args.json);
        if args.timings && !args.json {
            print_timings(&all_reports);
        }
        forward_step_summaries(&all_reports);
        let (passed, run_ids) =
            record_and_report(&reporting, &options, recorded, &started.ids).await;
        failed |= !passed;
        for (entry, id) in runs_file.file.workflows.iter_mut().zip(run_ids) {
            entry.run = id;
        }
        let all_recorded = runs_file.file.workflows.iter().all(|w| w.run.is_some());
        runs_file.file.error = (!all_recorded)
            .then(|| "the run could not be saved in the run store (its log says why)".to_string());
        runs_file.write();
        if let Some(sweep) = engine_sweep {
            let _ = sweep.await;
        }
        let interrupted_now = interrupted.load(std::sync::atomic::Ordering::SeqCst);
        super::cleanup::finish(
            cleanups,
            interrupted_now,
            options.cache.as_ref().map(|c| c.dir.clone()),
        )
        .await;
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            ExitCode::from(EXIT_INTERRUPTED)
        } else if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// The dataset statistics of the baseline run (the base branch's last
/// successful run of the workflow), for the drift checks of `validate:` steps.
fn dataset_baselines(
    reporting: &Reporting,
    options: &crate::run::RunOptions,
    workflow: &crate::workflow::LoadedWorkflow,
) -> std::collections::BTreeMap<String, String> {
    let validates = workflow
        .workflow
        .jobs
        .iter()
        .any(|j| j.steps.iter().any(|s| !s.validate.is_empty()));
    let path = crate::record::default_path(&options.repo, reporting.db.as_deref());
    if !validates || !path.exists() {
        return Default::default();
    }
    let Ok(store) = crate::record::Store::open(&path) else {
        return Default::default();
    };
    let info = crate::run::github::git_info(&options.repo);
    let subject = crate::run::run_subject(workflow, options, &info);
    // The run about to start, as the store would see it: its baseline is found the
    // same way a report finds it.
    let upcoming = crate::record::StoredRun {
        id: i64::MAX,
        record: crate::record::RunRecord {
            workflow: subject.workflow,
            branch: subject.branch,
            base_ref: subject.pr.base_ref,
            ..Default::default()
        },
    };
    match store.baseline(&upcoming, reporting.options.baseline_ref.as_deref()) {
        Ok(Some(id)) => store
            .dataset_stats(id)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        _ => Default::default(),
    }
}

/// Where `mlci run` records its runs and how it reports them.
struct Reporting {
    db: Option<PathBuf>,
    options: crate::report::ReportOptions,
}

/// Saves each workflow's run in the run store, then checks its gates and
/// writes or posts the report. False when a gate failed; and the store's id
/// of each run, in order (None: not recorded).
async fn record_and_report(
    reporting: &Reporting,
    options: &crate::run::RunOptions,
    recorded: Vec<(crate::record::RunRecord, Vec<crate::workflow::Gate>)>,
    started: &[Option<crate::record::RunId>],
) -> (bool, Vec<Option<crate::record::RunId>>) {
    let path = crate::record::default_path(&options.repo, reporting.db.as_deref());
    let mut store = match crate::record::Store::open(&path) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("warning: the run is not recorded: {error}");
            return (true, Vec::new());
        }
    };
    store.set_secrets(options.secrets.values().cloned());
    let mut passed = true;
    let mut ids = Vec::new();
    for (index, (record, gates)) in recorded.into_iter().enumerate() {
        let written = match started.get(index).copied().flatten() {
            Some(id) => store.finish_run(id, &record),
            None => store.insert_run(&record),
        };
        let run_id = match written {
            Ok(id) => id,
            Err(error) => {
                eprintln!("warning: the run is not recorded: {error}");
                ids.push(None);
                continue;
            }
        };
        ids.push(Some(run_id));
        let has_models = record
            .jobs
            .iter()
            .any(|j| j.steps.iter().any(|s| s.model.is_some()));
        let wants_report =
            !gates.is_empty() || reporting.options.output.is_some() || reporting.options.github;
        if !wants_report && !has_models {
            continue;
        }
        let mut report = match crate::report::prepare(&store, run_id, &gates, &reporting.options) {
            Ok(report) => report,
            Err(error) => {
                eprintln!("error: {error}");
                passed = false;
                continue;
            }
        };
        eprint!("{}", report.gates.render_text());
        passed &= report.gates.passed();
        if has_models {
            report.models = register_models(&mut store, run_id, &report.gates, options).await;
        }
        if !wants_report {
            continue;
        }
        match crate::report::publish(&report, &reporting.options).await {
            Ok(published) => {
                for message in &published.messages {
                    eprintln!("{message}");
                }
                passed &= !published.refused;
            }
            Err(error) => {
                eprintln!("error: {error}");
                passed = false;
            }
        }
    }
    (passed, ids)
}

/// What the run store knows of each workflow's run as it starts: its
/// "started" row (see `super::sweep::StartedRuns`).
fn starting_records(
    loaded: &[crate::workflow::LoadedWorkflow],
    options: &crate::run::RunOptions,
) -> Vec<crate::record::RunRecord> {
    let info = crate::run::github::git_info(&options.repo);
    let now = crate::record::now_ms();
    loaded
        .iter()
        .map(|workflow| {
            let subject = crate::run::run_subject(workflow, options, &info);
            crate::record::RunRecord {
                workflow: subject.workflow,
                workflow_path: workflow.file.path.display().to_string(),
                event: options.event.clone(),
                sha: subject.pr.head_sha.clone().unwrap_or(info.sha.clone()),
                git_ref: info.git_ref.clone(),
                branch: subject.branch,
                base_ref: subject.pr.base_ref.clone(),
                pr_number: subject.pr.number,
                started_at: now,
                finished_at: now,
                ..Default::default()
            }
        })
        .collect()
}

/// The name a workflow's runs are filed under (as the run store has it).
fn workflow_name(workflow: &crate::workflow::LoadedWorkflow) -> String {
    workflow
        .workflow
        .name
        .as_ref()
        .map(|n| n.value.clone())
        .unwrap_or_else(|| workflow.file.path.display().to_string())
}

/// The models of the run's `register:` steps become registry versions when
/// its gates pass; one line each says what happened.
async fn register_models(
    store: &mut crate::record::Store,
    run_id: crate::record::RunId,
    gates: &crate::report::gates::GateOutcome,
    options: &crate::run::RunOptions,
) -> Vec<crate::record::CandidateOutcome> {
    use crate::record::CandidateStatus;
    let remote = options
        .cache
        .as_ref()
        .and_then(|c| c.remote.as_deref())
        .and_then(|url| crate::cache::Remote::connect(crate::cache::RemoteConfig::new(url)).ok());
    let (outcomes, warnings) =
        match crate::registry::decide_candidates(store, run_id, gates, remote.as_ref()).await {
            Ok(decided) => decided,
            Err(error) => {
                eprintln!("error: the run's models are not registered: {error}");
                return store.candidates(run_id).unwrap_or_default();
            }
        };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    for outcome in &outcomes {
        let name = &outcome.candidate.name;
        let line = match (outcome.status, outcome.version) {
            (CandidateStatus::Registered, Some(v)) => format!("model {name}@{v} registered"),
            (CandidateStatus::Existing, Some(v)) => {
                format!("model {name}@{v} has this content already")
            }
            _ => {
                let replaces = outcome
                    .replaces
                    .map(|v| format!(" (it would have replaced {name}@{v})"))
                    .unwrap_or_default();
                format!("model {name} not registered{replaces}: {}", outcome.reason)
            }
        };
        let alias = match (&outcome.candidate.promote_alias, outcome.status) {
            (Some(alias), CandidateStatus::Registered | CandidateStatus::Existing) => {
                format!("; {alias}: {}", outcome.reason)
            }
            _ => String::new(),
        };
        eprintln!("{line}{alias}");
    }
    outcomes
}

/// What `--executor` cannot do in these workflows, as errors with their
/// place (exit 2 before anything starts); and what a cluster needs.
fn check_executor(
    args: &RunArgs,
    loaded: &[crate::workflow::LoadedWorkflow],
) -> Result<(), ExitCode> {
    use crate::executor::ExecutorKind;
    let mut invalid = false;
    for workflow in loaded {
        let files = std::iter::once(workflow).chain(workflow.called.iter().map(|(_, w)| w));
        for file in files {
            for diagnostic in
                crate::plan::executor_support::check(&file.workflow, &file.file, args.executor)
            {
                eprint!("{}", file.file.render(&diagnostic));
                invalid = true;
            }
        }
    }
    if args.dry_run && args.executor != ExecutorKind::Kubernetes {
        eprintln!("error: --dry-run prints Kubernetes manifests: give it with --executor k8s");
        invalid = true;
    }
    if args.executor == ExecutorKind::Kubernetes && args.cache.cache_remote.is_none() {
        eprintln!(
            "error: --executor k8s moves the workspace and the outputs of jobs through S3: give --cache-remote s3://BUCKET/PREFIX (or MLCI_CACHE_REMOTE)"
        );
        invalid = true;
    }
    if invalid {
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(())
}

/// How to reach the executor `--executor` names.
#[derive(Clone)]
pub(super) struct Executor {
    kind: crate::executor::ExecutorKind,
    /// `--pull`, and the pulls made: one per image in the whole `mlci run`.
    pulls: std::sync::Arc<crate::executor::docker::Pulls>,
    kube: crate::executor::k8s::manifests::KubeSettings,
    slurm: crate::executor::slurm::SlurmConfig,
    /// Where the jobs' directories are made (the cache's `tmp`), which the
    /// Docker engine must find to bind-mount them.
    job_dirs: PathBuf,
}

impl Executor {
    fn from_args(args: &RunArgs) -> Executor {
        let cache_dir = args.cache.dir();
        Executor {
            kind: args.executor,
            pulls: crate::executor::docker::Pulls::new(
                args.pull,
                crate::executor::docker::PullProgress::auto(),
            ),
            kube: kube_settings(args),
            slurm: crate::executor::slurm::SlurmConfig {
                shared_dir: args
                    .cluster
                    .slurm_dir
                    .clone()
                    .unwrap_or_else(|| cache_dir.join("slurm")),
                partition: args.cluster.partition.clone(),
                agent: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mlci")),
            },
            job_dirs: std::path::absolute(&cache_dir)
                .unwrap_or_else(|_| cache_dir.clone())
                .join("tmp"),
        }
    }

    async fn connect(
        &self,
    ) -> Result<crate::executor::any::AnyBackend, crate::executor::ExecError> {
        use crate::executor::ExecutorKind;
        use crate::executor::any::AnyBackend;
        Ok(match self.kind {
            ExecutorKind::Docker => {
                let mut docker = crate::executor::docker::DockerBackend::connect()
                    .await?
                    .with_pulls(self.pulls.clone());
                // Said once, before any job: how job files reach the engine
                // when mlci itself runs in a container.
                if let Some(line) = docker.resolve_file_access(&self.job_dirs).await? {
                    eprintln!("{line}");
                }
                AnyBackend::Docker(docker)
            }
            ExecutorKind::Slurm => AnyBackend::Slurm(
                crate::executor::slurm::SlurmBackend::connect(self.slurm.clone()).await?,
            ),
            ExecutorKind::Kubernetes => AnyBackend::Kube(
                crate::executor::k8s::KubeBackend::connect(self.kube.clone()).await?,
            ),
        })
    }
}

/// The Kubernetes executor's settings from the command line.
fn kube_settings(args: &RunArgs) -> crate::executor::k8s::manifests::KubeSettings {
    crate::executor::k8s::manifests::KubeSettings {
        namespace: args.cluster.namespace.clone(),
        agent_image: args
            .cluster
            .agent_image
            .clone()
            .unwrap_or_else(crate::images::default_agent_tag),
        mailbox_root: args.cache.cache_remote.clone().unwrap_or_default(),
        s3: {
            let mut s3 = crate::executor::remote::S3Access::from_controller_env();
            if let Some(endpoint) = &args.cluster.pod_s3_endpoint {
                s3.endpoint = Some(endpoint.clone());
            }
            s3
        },
        ttl_after_finished: 600,
    }
}
