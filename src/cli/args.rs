//! The command line's grammar: every command, argument and option (clap).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// mlci runs GitHub Actions workflows locally in Docker, caches datasets and
/// models between stages, and reports metrics to pull requests.
#[derive(Debug, Parser)]
#[command(name = "mlci", version, about, long_about = None, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run workflows locally, each job in its own Docker container.
    Run(Box<RunArgs>),
    /// Check workflow files and report every error with its line and column.
    Validate(PathsArgs),
    /// List the job instances of each workflow: matrix values, runner, needs.
    List(ListArgs),
    /// Show the graph of jobs by `needs`, as text or Graphviz.
    Graph(GraphArgs),
    /// Build or list the runner images of runner-images/ (the Debian base
    /// FROM a registry's debian:bookworm, or offline by debootstrap).
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Inspect and manage the step cache: list, evict, remove, share through a remote.
    Cache(CacheArgs),
    /// Show a run's metrics, or compare two runs.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// List recorded runs, or show one.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// The model registry: register, list, show, pull, and move aliases.
    Models(ModelsArgs),
    /// Where an artifact or a model version came from, what was made of it,
    /// and where a model version serves.
    Lineage(LineageArgs),
    /// Serve a registered model version (MLflow format) behind a stable
    /// port: built, health- and smoke-tested, switched in with no request
    /// lost; or roll back, promote a canary, remove. Exits 0 when the version
    /// is live, 1 when it was refused (what served still serves), 2 on bad input.
    Deploy(Box<DeployArgs>),
    /// What is deployed where: versions, since when, and the history.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
    /// Render a run's report (gates, metrics against the baseline, charts,
    /// stages), to a file, the terminal, or GitHub. Exits 1 when a gate fails.
    Report(ReportArgs),
    /// Check datasets (CSV, Parquet, JSON lines) against a schema and a
    /// baseline's statistics (drift), or infer a schema from a dataset.
    #[command(subcommand)]
    Data(DataCommand),
    /// Watch the working tree and the clock; run a workflow (as `mlci run`)
    /// when its push / pull_request paths, dataset files or schedule fire.
    Watch(WatchArgs),
    /// What `mlci run` hands on at its end: remove these containers,
    /// networks and volumes, waiting for the engine, then the run's host
    /// directories in the cache once the run's process has exited.
    #[command(name = "__remove-run-objects", hide = true)]
    RemoveRunObjects(RemoveRunObjectsArgs),
    /// The far end of a cluster executor: runs inside a job's container (a
    /// Kubernetes pod, a Slurm job) and carries out the steps that `mlci run
    /// --executor k8s|slurm` leaves in its mailbox.
    #[command(hide = true)]
    Agent(AgentArgs),
    /// The front of a Docker deployment: the reverse proxy that `mlci deploy`
    /// runs in a container of its own.
    #[command(name = "__deploy-front", hide = true)]
    DeployFront(DeployFrontArgs),
}

#[derive(Debug, clap::Args)]
pub struct DeployFrontArgs {
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub control: std::net::SocketAddr,
    /// Where the routing table and the request log are kept.
    #[arg(long, default_value = "/var/lib/mlci-front")]
    pub state: PathBuf,
    /// The routing table (JSON) to start with when the state has none.
    #[arg(long)]
    pub routes: Option<String>,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DeployArgs {
    #[command(flatten)]
    pub cache: CacheOptions,
    /// The run store, which holds the registry and the deployments [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE", global = true)]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<DeployCommand>,
    /// The model version: NAME (the newest), NAME@VERSION or NAME:ALIAS.
    #[arg(required = true)]
    pub model: Option<String>,
    /// The deployment's name [default: the model's name].
    #[arg(long)]
    pub name: Option<String>,
    /// The host port of the deployment's front [default: the deployment's, else 8080].
    /// On k8s: the Service's port [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    #[arg(long, value_enum, default_value_t = DeployTarget::Docker)]
    pub target: DeployTarget,
    /// The smoke test's request body (JSON, as POST /invocations takes it)
    /// [default: the model's serving_input_example.json].
    #[arg(long, value_name = "FILE")]
    pub smoke: Option<PathBuf>,
    /// The predictions the smoke test must answer (JSON: a list, or {"predictions": …}).
    #[arg(long, value_name = "FILE")]
    pub expect: Option<PathBuf>,
    /// Send PCT % of requests (1–99) to the new version until `deploy promote` or `deploy rollback`.
    #[arg(long, value_name = "PCT")]
    pub canary: Option<u8>,
    /// k8s: print the manifests instead of applying them.
    #[arg(long)]
    pub dry_run: bool,
    /// k8s with --dry-run: print a KServe InferenceService with the same container instead.
    #[arg(long, requires = "dry_run")]
    pub kserve: bool,
    /// k8s: the namespace [default: default].
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// k8s: the number of pods.
    #[arg(long, default_value_t = 2)]
    pub replicas: i32,
    /// k8s: the repository the cluster pulls the serving image from
    /// (registry.example.com/ml/iris); the image is pushed there.
    #[arg(long, value_name = "REPOSITORY")]
    pub registry: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeployTarget {
    Docker,
    K8s,
}

#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Back to the version that served before the live one (or --to); during a
    /// canary, the live version takes all traffic back.
    Rollback {
        name: String,
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
    },
    /// The canary takes all traffic.
    Promote { name: String },
    /// Remove the deployment: its front, its model servers, its network.
    Rm { name: String },
}

#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// Every deployment: what version is live where, the canary, since when.
    Ls {
        /// Removed deployments too.
        #[arg(long)]
        all: bool,
        /// Print JSON: each deployment's state and its whole history.
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },
    /// One deployment: its state and its history.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE")]
        db: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// `s3://bucket/prefix` or `file:///directory`.
    #[arg(long)]
    pub mailbox: String,
}

/// Where `mlci run --executor k8s|slurm` puts jobs.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// With --executor k8s: the namespace of the Jobs, pods and Secrets.
    #[arg(long, env = "MLCI_K8S_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// With --executor k8s: the image whose /mlci is copied into each pod as
    /// the agent [default: mlci/agent:<this version>].
    #[arg(long, env = "MLCI_AGENT_IMAGE", value_name = "IMAGE")]
    pub agent_image: Option<String>,
    /// With --executor k8s: the S3 endpoint as the pods reach it, when it is
    /// not the one this machine uses [default: this machine's].
    #[arg(long, env = "MLCI_K8S_S3_ENDPOINT", value_name = "URL")]
    pub pod_s3_endpoint: Option<String>,
    /// With --executor slurm: a directory on the file system that the nodes
    /// share with this machine (mailboxes, job output) [default: <cache dir>/slurm].
    #[arg(long, env = "MLCI_SLURM_DIR", value_name = "DIR")]
    pub slurm_dir: Option<PathBuf>,
    /// With --executor slurm: the partition [default: the cluster's default].
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RemoveRunObjectsArgs {
    #[arg(long, value_delimiter = ',')]
    pub containers: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub networks: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub volumes: Vec<String>,
    /// The `mlci run` process whose leftovers these are.
    #[arg(long)]
    pub parent: u32,
    /// Its cache directory, whose temporary files of dead processes go too.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// Where the cache lives and how big it may grow; `mlci run` takes the same options.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheOptions {
    /// The cache directory [default: ~/.cache/mlci]
    #[arg(
        long = "cache-dir",
        env = "MLCI_CACHE_DIR",
        global = true,
        value_name = "DIR"
    )]
    pub cache_dir: Option<PathBuf>,
    /// Share the cache through S3-compatible storage (the endpoint comes from
    /// MLCI_S3_ENDPOINT or AWS_ENDPOINT_URL, credentials from the AWS_* variables).
    #[arg(
        long = "cache-remote",
        env = "MLCI_CACHE_REMOTE",
        global = true,
        value_name = "s3://BUCKET/PREFIX"
    )]
    pub cache_remote: Option<String>,
    /// Evict least-recently-used entries beyond this size (20G, 500M, 1.5T).
    #[arg(long = "cache-max-size", global = true, value_name = "SIZE", value_parser = size_arg, default_value = "20G")]
    pub cache_max_size: u64,
}

impl CacheOptions {
    /// The cache directory these options name.
    pub fn dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(crate::cache::default_cache_dir)
    }
}

fn size_arg(text: &str) -> Result<u64, String> {
    crate::cache::parse_size(text)
}

#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    #[command(flatten)]
    pub options: CacheOptions,
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the entries: size, age, hits, and the step that made them.
    Ls {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Evict least-recently-used entries down to the size cap; remove unused files.
    Gc {
        /// The cap for this gc [default: --cache-max-size].
        #[arg(long = "max-size", value_name = "SIZE", value_parser = size_arg)]
        max_size: Option<u64>,
    },
    /// Remove entries by key (or a unique beginning of one), or all of them.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["keys", "all"])))]
    Rm {
        keys: Vec<String>,
        /// Remove every entry.
        #[arg(long)]
        all: bool,
    },
    /// Send entries to the remote cache [default: every local entry].
    Push { keys: Vec<String> },
    /// Fetch entries from the remote cache [default: every remote entry not here].
    Pull { keys: Vec<String> },
}

#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// The run store [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Only runs of this workflow (its name).
    #[arg(long, short = 'w')]
    pub workflow: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// The metrics and params of a run [default: the latest].
    Show {
        /// A run: its number, `latest`, a branch, or a commit sha prefix.
        run: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Value, baseline, absolute and relative change of every metric.
    /// With no run, the latest run against its baseline; with one, that run
    /// against its baseline; with two, A against B.
    Diff {
        a: Option<String>,
        b: Option<String>,
        /// The branch whose latest successful run is the baseline.
        #[arg(long, value_name = "REF")]
        baseline: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recorded runs, newest first.
    Ls {
        /// Only runs of this branch.
        #[arg(long)]
        branch: Option<String>,
        /// At most this many runs.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One run: jobs, steps, cache hits, metrics, artifacts [default: the latest].
    Show {
        run: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The run [default: the latest].
    #[arg(long, conflicts_with = "runs_file")]
    pub run: Option<String>,
    /// Report the runs that one `mlci run --runs-file FILE` recorded; a
    /// workflow without a run gets a failing check that says why.
    #[arg(long, value_name = "FILE.json")]
    pub runs_file: Option<PathBuf>,
    /// Write the Markdown report to this file.
    #[arg(long, short = 'o', value_name = "FILE.md")]
    pub output: Option<PathBuf>,
    /// Post the report to GitHub: PR comment, check run (or commit statuses), job summary.
    #[arg(long)]
    pub github: bool,
    /// The GitHub token [default: $GITHUB_TOKEN]; never printed.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// What --github publishes: all, or a list of comment, check, summary.
    #[arg(long, value_name = "LIST", default_value = "all")]
    pub to: String,
    /// The branch whose latest successful run is the baseline [default: the PR's base, else main].
    #[arg(long, value_name = "REF")]
    pub baseline: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build images (default: the base and python-ml); up-to-date images are reused.
    Build {
        /// Images to build: base, python-ml, cuda-train, or their tags.
        names: Vec<String>,
        /// Rebuild even when the image is up to date.
        #[arg(long)]
        force: bool,
        /// The official Debian image the base is built FROM (a mirror's
        /// name works) [default: debian:bookworm]
        #[arg(long, env = "MLCI_BASE_IMAGE", value_name = "IMAGE")]
        base: Option<String>,
        /// Ask no registry: bootstrap the base with debootstrap (needs root).
        #[arg(long)]
        offline: bool,
    },
    /// List the runner images and whether they are built and up to date.
    Ls,
    /// Build the agent image of `--executor k8s` (its /mlci is this mlci) to
    /// push where the cluster pulls images from.
    Agent {
        /// The image's tag [default: mlci/agent:<this version>].
        #[arg(long)]
        tag: Option<String>,
        /// The base: any image with `cp` and the glibc of this build.
        #[arg(long, default_value = "mlci/debian:bookworm")]
        from: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct PathsArgs {
    /// Workflow files or directories [default: .github/workflows/]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub paths: PathsArgs,
    /// Run only this job (and the jobs it needs).
    #[arg(short = 'j', long = "job")]
    pub job: Option<String>,
    /// The event that triggers the run.
    #[arg(short = 'e', long = "event", default_value = "push")]
    pub event: String,
    /// A JSON file with the event's payload (`github.event`).
    #[arg(long)]
    pub eventpath: Option<PathBuf>,
    /// An input of `workflow_dispatch` (repeatable).
    #[arg(long = "input", value_name = "K=V", value_parser = key_value)]
    pub inputs: Vec<(String, String)>,
    /// A secret (repeatable); never printed.
    #[arg(long = "secret", value_name = "K=V", value_parser = key_value)]
    pub secrets: Vec<(String, String)>,
    /// A file of secrets in `.env` format (K=V lines, quotes, comments).
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// A file of environment variables in `.env` format, seen by every step
    /// (the workflow's own `env` wins over it).
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// A configuration variable for the `vars` context (repeatable).
    #[arg(long = "var", value_name = "K=V", value_parser = key_value)]
    pub vars: Vec<(String, String)>,
    /// The image of a runs-on label (repeatable), as act's -P.
    #[arg(short = 'P', long = "platform", value_name = "LABEL=IMAGE", value_parser = key_value)]
    pub platforms: Vec<(String, String)>,
    /// At most this many jobs at once [default: the number of CPUs].
    #[arg(long = "jobs")]
    pub parallel: Option<usize>,
    /// Let container.options ask for --privileged.
    #[arg(long)]
    pub allow_privileged: bool,
    /// When images of jobs, services and `docker://` steps are pulled:
    /// missing (when not present locally), always (once per run), never.
    #[arg(long, value_name = "WHEN", default_value = "missing", value_parser = crate::executor::PullPolicy::parse)]
    pub pull: crate::executor::PullPolicy,
    /// Print the result as JSON at the end.
    #[arg(long)]
    pub json: bool,
    /// Print where each job's time went, phase by phase (container, workspace,
    /// steps, copy-out, save…), at the end; the run store keeps it either way.
    #[arg(long)]
    pub timings: bool,
    /// Run every step, cache hits too (results are still saved).
    #[arg(long)]
    pub no_cache: bool,
    /// Run this step even when its cache key is a hit (step id, step name,
    /// or JOB.STEP_ID; repeatable).
    #[arg(long = "rerun", value_name = "STEP")]
    pub rerun: Vec<String>,
    #[command(flatten)]
    pub cache: CacheOptions,
    /// Write the Markdown report of the run (metrics, gates, stages) to this file.
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,
    /// Write the run store's id of each workflow's run to this file (JSON), or
    /// why there is none, for `mlci report --runs-file`.
    #[arg(long, value_name = "FILE.json")]
    pub runs_file: Option<PathBuf>,
    /// Post the report to GitHub: PR comment, check run (or commit statuses), job summary.
    #[arg(long)]
    pub github: bool,
    /// The GitHub token [default: $GITHUB_TOKEN]; never printed.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// What --github publishes: all, or a list of comment, check, summary.
    #[arg(long = "to", value_name = "LIST", default_value = "all")]
    pub publish_to: String,
    /// The branch whose latest successful run is the baseline [default: the PR's base, else main].
    #[arg(long, value_name = "REF")]
    pub baseline: Option<String>,
    /// The run store [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Where the jobs run: docker (this machine's engine), k8s (one Kubernetes
    /// Job per job), slurm (one sbatch per job).
    #[arg(long, value_name = "EXECUTOR", default_value = "docker", value_parser = crate::executor::ExecutorKind::parse)]
    pub executor: crate::executor::ExecutorKind,
    /// With --executor k8s: print every job's manifests (Secret values
    /// hidden) and start nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Everything after `--` is passed to each `mlci run`, e.g. `mlci watch -- --var K=V --jobs 2`."
)]
pub struct WatchArgs {
    #[command(flatten)]
    pub paths: PathsArgs,
    /// How often the working tree is looked at: 500ms, 2s, or milliseconds.
    #[arg(long, value_name = "DURATION", default_value = "500ms", value_parser = interval_arg)]
    pub interval: std::time::Duration,
    /// The cache directory of the runs [default: $MLCI_CACHE_DIR, else ~/.cache/mlci]
    #[arg(long = "cache-dir", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The run store of the runs [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// The image of a runs-on label (repeatable), as act's -P.
    #[arg(short = 'P', long = "platform", value_name = "LABEL=IMAGE", value_parser = key_value)]
    pub platforms: Vec<(String, String)>,
    /// A file of secrets in `.env` format for the runs.
    #[arg(long = "secret-file", value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// A file of environment variables in `.env` format for the runs.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// More options for each `mlci run`.
    #[arg(last = true, value_name = "RUN ARGS")]
    pub run_args: Vec<std::ffi::OsString>,
}

fn interval_arg(text: &str) -> Result<std::time::Duration, String> {
    let (number, unit) = match text.strip_suffix("ms") {
        Some(n) => (n, 1),
        None => match text.strip_suffix('s') {
            Some(n) => (n, 1000),
            None => (text, 1),
        },
    };
    match number.trim().parse::<u64>() {
        Ok(n) if n * unit >= 10 => Ok(std::time::Duration::from_millis(n * unit)),
        Ok(_) => Err("the interval must be at least 10ms".to_string()),
        Err(_) => Err(format!(
            "expected a duration such as 500ms or 2s, found `{text}`"
        )),
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, found `{text}`")),
    }
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub paths: PathsArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// List what `mlci run -e EVENT` runs: the workflows it runs, planned
    /// with that event's `inputs` [default: every workflow, as for push]
    #[arg(short = 'e', long = "event")]
    pub event: Option<String>,
    /// An input, as `mlci run --input` (repeatable).
    #[arg(long = "input", value_name = "K=V", value_parser = key_value)]
    pub inputs: Vec<(String, String)>,
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub paths: PathsArgs,
    /// Print the graph in Graphviz's dot language.
    #[arg(long)]
    pub dot: bool,
}

#[derive(Debug, clap::Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    pub cache: CacheOptions,
    /// The run store, which holds the registry [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE", global = true)]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Register a file or directory as the next version of NAME.
    Register {
        name: String,
        path: PathBuf,
        /// Point this alias at the new version.
        #[arg(long)]
        alias: Option<String>,
        /// A metric of the version (repeatable): accuracy=0.93.
        #[arg(long = "metric", value_name = "NAME=VALUE")]
        metrics: Vec<String>,
        /// A parameter of the version (repeatable): lr=0.1.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// The models, or the versions of one, with their aliases.
    Ls {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// One version (NAME, NAME@VERSION or NAME:ALIAS): where it came from, its
    /// metrics and params, and the history of its aliases.
    Show {
        model: String,
        #[arg(long)]
        json: bool,
    },
    /// Write a version's files to DEST [default: the registered file's name,
    /// here], from the local cache or the remote.
    Pull {
        model: String,
        dest: Option<PathBuf>,
    },
    /// Point ALIAS at NAME@VERSION (the move is kept in the alias's history).
    Alias { model: String, alias: String },
}

#[derive(Debug, clap::Args)]
pub struct LineageArgs {
    /// A file or directory path of a run (data/clean.csv), a content hash
    /// prefix, or a model version (iris@2, iris:champion).
    pub target: String,
    /// The run store [default: $MLCI_DB, else .mlci/runs.db]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Dataset schemas.
    #[command(subcommand)]
    Schema(DataSchemaCommand),
    /// Check a dataset against a schema, and its distribution against a
    /// baseline's statistics. Exits 0 when every check passes, 1 when one
    /// fails, 2 on a bad schema, an unreadable file or bad arguments.
    Validate(DataValidateArgs),
}

#[derive(Debug, Subcommand)]
pub enum DataSchemaCommand {
    /// Write a first schema from a dataset: types, nullability, ranges
    /// widened so that a fresh sample of the same source passes, and the
    /// allowed values of string columns whose few values were each seen
    /// often enough to be the whole list.
    Infer {
        /// The dataset: .csv, .parquet, .jsonl.
        file: PathBuf,
        /// Write the schema to this file [default: stdout].
        #[arg(short = 'o', long = "output", value_name = "SCHEMA.yml")]
        output: Option<PathBuf>,
        /// Read the file as csv, parquet or jsonl [default: from its extension].
        #[arg(long, value_parser = ["csv", "parquet", "jsonl"])]
        format: Option<String>,
        /// Enforce exactly what was observed: the observed ranges, and
        /// `allowed` for every string column of at most 20 values. A fresh
        /// sample of the same source will often fail it.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct DataValidateArgs {
    /// The dataset: .csv, .parquet, .jsonl (or as the schema's `format:` says).
    pub file: PathBuf,
    /// The schema to check it against.
    #[arg(long, value_name = "SCHEMA.yml")]
    pub schema: PathBuf,
    /// The statistics of an earlier dataset (from --stats-out): check drift against them.
    #[arg(long, value_name = "STATS.json")]
    pub baseline: Option<PathBuf>,
    /// Write this dataset's statistics here, as JSON (a baseline for later runs).
    #[arg(long = "stats-out", value_name = "STATS.json")]
    pub stats_out: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}
