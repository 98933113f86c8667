//! The command line: argument parsing and the commands' output.
//!
//! Exit status follows DESIGN.md: 0 when everything passed, 1 when a job or
//! gate failed, 2 when the workflow or the command line is invalid.

use crate::expr::Value;
use crate::plan::{self, NodeLabel, Plan, PlanInputs};
use crate::workflow::{self, LoadedWorkflow};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Build or list the runner images of runner-images/ (offline: the Debian
    /// base is bootstrapped from Debian's packages).
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
    /// Render a run's report (gates, metrics against the baseline, charts,
    /// stages), to a file, the terminal, or GitHub. Exits 1 when a gate fails.
    Report(ReportArgs),
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
    #[arg(long)]
    pub run: Option<String>,
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
    },
    /// List the runner images and whether they are built and up to date.
    Ls,
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
    /// Print the result as JSON at the end.
    #[arg(long)]
    pub json: bool,
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
}

#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub paths: PathsArgs,
    /// Print the graph in Graphviz's dot language.
    #[arg(long)]
    pub dot: bool,
}

/// Exit status for an invalid workflow or command line.
pub const EXIT_INVALID: u8 = 2;

pub fn main() -> ExitCode {
    let args = with_rc_files(std::env::args_os().collect());
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Run(args) => run(*args),
        Command::Validate(args) => validate(&args),
        Command::List(args) => list(&args),
        Command::Graph(args) => graph(&args),
        Command::Images(command) => images(command),
        Command::Cache(args) => cache(args),
        Command::Metrics(command) => crate::report::cli::metrics(command),
        Command::Runs(command) => crate::report::cli::runs(command),
        Command::Report(args) => crate::report::cli::report(args),
    }
}

/// `mlci run` reads default arguments from `~/.mlcirc`, then `./.mlcirc`,
/// as act reads `.actrc`: one or more arguments per line (`-P gpu=my/image`,
/// `--env-file .env`), `#` comments. They go before the command line's own
/// arguments, so the command line wins.
fn with_rc_files(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).and_then(|a| a.to_str()) != Some("run") {
        return args;
    }
    let mut files = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        files.push(PathBuf::from(home).join(".mlcirc"));
    }
    files.push(PathBuf::from(".mlcirc"));
    let mut extra = Vec::new();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            extra.extend(split_words(line).into_iter().map(std::ffi::OsString::from));
        }
    }
    args.splice(2..2, extra);
    args
}

/// Splits a line into words at spaces, keeping quoted parts together.
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn images(command: ImagesCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            ImagesCommand::Build { names, force } => {
                // The progress output already says what was built or reused.
                crate::images::build(&names, force, &crate::images::Progress::auto()).await?;
                Ok(())
            }
            ImagesCommand::Ls => {
                let list = crate::images::list().await?;
                print!("{}", crate::images::render_list(&list));
                Ok::<(), crate::images::ImageError>(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn cache(args: CacheArgs) -> ExitCode {
    use crate::cache::{CacheKey, Store, format_age, format_size};
    let dir = args.options.dir();
    let store = match Store::open(&dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "error: cannot open the cache directory {}: {error}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let entries = match store.list() {
        Ok(entries) => entries,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    // A key typed by the user: a whole key or the unique beginning of one.
    let resolve = |typed: &str| -> Result<CacheKey, String> {
        if entries.iter().any(|e| e.key == typed) {
            return Ok(CacheKey::from_string(typed));
        }
        let matching: Vec<&str> = entries
            .iter()
            .filter(|e| e.key.starts_with(typed))
            .map(|e| e.key.as_str())
            .collect();
        match matching.as_slice() {
            [one] => Ok(CacheKey::from_string(*one)),
            [] => Err(format!(
                "no cache entry has the key `{typed}` (see `mlci cache ls`)"
            )),
            _ => Err(format!(
                "`{typed}` is the beginning of {} keys; give more of it",
                matching.len()
            )),
        }
    };
    match args.command {
        CacheCommand::Ls { json } => {
            let now = crate::cache::now_ms();
            if json {
                let value: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "key": e.key,
                            "size": e.size(),
                            "files": e.outputs.len(),
                            "created_ms": e.created_ms,
                            "last_used_ms": e.last_used_ms,
                            "hits": e.hits,
                            "workflow": e.made_by.workflow,
                            "job": e.made_by.job,
                            "step": e.made_by.step,
                            "exit_code": e.exit_code,
                            "duration_ms": e.duration_ms,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            if entries.is_empty() {
                println!("no cache entries in {}", dir.display());
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![[
                "KEY".to_string(),
                "SIZE".to_string(),
                "AGE".to_string(),
                "USED".to_string(),
                "HITS".to_string(),
                "STEP".to_string(),
            ]];
            for e in &entries {
                let step = [&e.made_by.workflow, &e.made_by.job, &e.made_by.step]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" › ");
                rows.push([
                    CacheKey::from_string(e.key.clone()).short().to_string(),
                    format_size(e.size()),
                    format_age(now.saturating_sub(e.created_ms) / 1000),
                    format!(
                        "{} ago",
                        format_age(now.saturating_sub(e.last_used_ms) / 1000)
                    ),
                    e.hits.to_string(),
                    or_dash(step),
                ]);
            }
            print!("{}", table(&rows));
            let total = store.size().unwrap_or(0);
            println!(
                "{} entr{}, {} on disk (cap {}) in {}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" },
                format_size(total),
                format_size(args.options.cache_max_size),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        CacheCommand::Gc { max_size } => {
            let cap = max_size.unwrap_or(args.options.cache_max_size);
            match store.gc(cap) {
                Ok(report) => {
                    println!(
                        "removed {} entr{} and {} file{}, freed {}; the cache holds {} (cap {})",
                        report.removed_entries.len(),
                        if report.removed_entries.len() == 1 {
                            "y"
                        } else {
                            "ies"
                        },
                        report.removed_objects,
                        plural(report.removed_objects),
                        format_size(report.freed_bytes),
                        format_size(report.size_after),
                        format_size(cap)
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        CacheCommand::Rm { keys, all } => {
            if all {
                return match store.remove_all() {
                    Ok(count) => {
                        println!(
                            "removed {count} entr{}",
                            if count == 1 { "y" } else { "ies" }
                        );
                        ExitCode::SUCCESS
                    }
                    Err(error) => {
                        eprintln!("error: {error}");
                        ExitCode::FAILURE
                    }
                };
            }
            let mut resolved = Vec::new();
            for typed in &keys {
                match resolve(typed) {
                    Ok(key) => resolved.push(key),
                    Err(message) => {
                        eprintln!("error: {message}");
                        return ExitCode::from(EXIT_INVALID);
                    }
                }
            }
            match store.remove(&resolved) {
                Ok(removed) => {
                    for key in &removed {
                        println!("removed {key}");
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        CacheCommand::Push { keys } => transfer(&store, &args.options, true, keys, &resolve),
        CacheCommand::Pull { keys } => transfer(&store, &args.options, false, keys, &resolve),
    }
}

/// `mlci cache push|pull`.
fn transfer(
    store: &crate::cache::Store,
    options: &CacheOptions,
    push: bool,
    keys: Vec<String>,
    resolve: &dyn Fn(&str) -> Result<crate::cache::CacheKey, String>,
) -> ExitCode {
    use crate::cache::{CacheKey, Remote, RemoteConfig};
    let Some(config) = RemoteConfig::from_arg_or_env(options.cache_remote.as_deref()) else {
        eprintln!(
            "error: no cache remote: give --cache-remote s3://bucket/prefix or set MLCI_CACHE_REMOTE"
        );
        return ExitCode::from(EXIT_INVALID);
    };
    let remote = match Remote::connect(config) {
        Ok(remote) => remote,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut wanted = Vec::new();
    if push {
        for typed in &keys {
            match resolve(typed) {
                Ok(key) => wanted.push(key),
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(EXIT_INVALID);
                }
            }
        }
    } else {
        wanted = keys.into_iter().map(CacheKey::from_string).collect();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(usize, usize), crate::cache::remote::RemoteError> =
        runtime.block_on(async {
            if wanted.is_empty() {
                wanted = if push {
                    store.list()?.into_iter().map(|e| e.cache_key()).collect()
                } else {
                    remote
                        .list_keys()
                        .await?
                        .into_iter()
                        .map(CacheKey::from_string)
                        .filter(|k| !store.contains(k))
                        .collect()
                };
            }
            let mut done = 0;
            let mut missing = 0;
            for key in &wanted {
                if push {
                    let stats = remote.push(store, key).await?;
                    println!(
                        "pushed {} ({} file{} sent, {} already there)",
                        key.short(),
                        stats.objects_sent,
                        plural(stats.objects_sent),
                        stats.objects_skipped
                    );
                    done += 1;
                } else if remote.pull(store, key).await?.is_some() {
                    println!("pulled {}", key.short());
                    done += 1;
                } else {
                    eprintln!("warning: the remote has no entry `{key}`");
                    missing += 1;
                }
            }
            Ok((done, missing))
        });
    match result {
        Ok((done, missing)) => {
            println!(
                "{} {done} entr{}",
                if push { "pushed" } else { "pulled" },
                if done == 1 { "y" } else { "ies" }
            );
            if missing > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Loads every workflow named on the command line, printing the problems.
/// Returns None (after printing why) when any file is invalid.
fn load_all(args: &PathsArgs) -> Result<Vec<LoadedWorkflow>, ExitCode> {
    let files = workflow::discover(&args.paths).map_err(|message| {
        eprintln!("error: {message}");
        ExitCode::from(EXIT_INVALID)
    })?;
    let mut loaded = Vec::new();
    let mut failed = false;
    for path in files {
        match workflow::load(&path) {
            Ok(workflow) => {
                if !workflow.diagnostics.is_empty() {
                    eprint!("{}", workflow.render_diagnostics());
                    eprintln!();
                }
                failed |= workflow.has_errors();
                loaded.push(workflow);
            }
            Err(error) => {
                eprintln!("error: cannot read {}: {error}", path.display());
                failed = true;
            }
        }
    }
    if failed {
        let bad: Vec<String> = loaded
            .iter()
            .filter(|w| w.has_errors())
            .map(|w| {
                format!(
                    "{} ({} error{})",
                    w.file.path.display(),
                    w.error_count(),
                    plural(w.error_count())
                )
            })
            .collect();
        if !bad.is_empty() {
            eprintln!("error: invalid workflow: {}", bad.join(", "));
        }
        return Err(ExitCode::from(EXIT_INVALID));
    }
    Ok(loaded)
}

fn run(args: RunArgs) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
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
        cache: Some(crate::run::CacheConfig {
            dir: args.cache.dir(),
            remote: args.cache.cache_remote.clone(),
            max_size: args.cache.cache_max_size,
            lookups: !args.no_cache,
            rerun: args.rerun.clone(),
        }),
    };
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
            // First Ctrl-C: cancel steps (always() cleanup still runs); second: leave now.
            let cancel = cancel.clone();
            let interrupted = interrupted.clone();
            tokio::spawn(async move {
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                for round in 0..2 {
                    let term = async {
                        match terminate.as_mut() {
                            Some(signal) => signal.recv().await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term => {}
                    }
                    interrupted.store(true, std::sync::atomic::Ordering::SeqCst);
                    if round == 0 {
                        eprintln!("\ninterrupted: stopping the run and removing its containers (Ctrl-C again to force)");
                        cancel.cancel();
                    } else {
                        eprintln!("removing the run's containers now");
                        if let Ok(backend) = crate::executor::docker::DockerBackend::connect().await {
                            use crate::executor::Backend;
                            let removal = backend.remove_run(&run_id);
                            let _ = tokio::time::timeout(std::time::Duration::from_secs(30), removal).await;
                        }
                        std::process::exit(130);
                    }
                }
            });
        }
        let mut failed = false;
        let mut all_reports = Vec::new();
        let mut recorded = Vec::new();
        for workflow in loaded {
            let started_at = crate::record::now_ms();
            let backend = match crate::executor::docker::DockerBackend::connect().await {
                Ok(backend) => backend,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let path = workflow.file.path.display().to_string();
            let gates = workflow.workflow.gates.clone();
            let kept = workflow.clone();
            match crate::run::run(backend, workflow, options.clone(), cancel.clone()).await {
                Ok(reports) => {
                    failed |= reports.iter().any(|r| r.result == crate::plan::JobResult::Failure);
                    let (record, warnings) = crate::run::run_record(&crate::run::RunFacts {
                        workflow: &kept,
                        reports: &reports,
                        options: &options,
                        started_at,
                        finished_at: crate::record::now_ms(),
                        interrupted: interrupted.load(std::sync::atomic::Ordering::SeqCst),
                    });
                    for warning in warnings {
                        eprintln!("warning: {warning}");
                    }
                    recorded.push((record, gates));
                    all_reports.push((path, reports));
                }
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(EXIT_INVALID);
                }
            }
        }
        print_summary(&all_reports, args.json);
        forward_step_summaries(&all_reports);
        if !record_and_report(&reporting, &options, recorded).await {
            failed = true;
        }
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            ExitCode::from(130)
        } else if failed {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    })
}

/// Where `mlci run` records its runs and how it reports them.
struct Reporting {
    db: Option<PathBuf>,
    options: crate::report::ReportOptions,
}

/// Saves each workflow's run in the run store, then checks its gates and
/// writes or posts the report. False when a gate failed.
async fn record_and_report(
    reporting: &Reporting,
    options: &crate::run::RunOptions,
    recorded: Vec<(crate::record::RunRecord, Vec<crate::workflow::Gate>)>,
) -> bool {
    let path = crate::record::default_path(&options.repo, reporting.db.as_deref());
    let mut store = match crate::record::Store::open(&path) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("warning: the run is not recorded: {error}");
            return true;
        }
    };
    store.set_secrets(options.secrets.values().cloned());
    let mut passed = true;
    for (record, gates) in recorded {
        let run_id = match store.insert_run(&record) {
            Ok(id) => id,
            Err(error) => {
                eprintln!("warning: the run is not recorded: {error}");
                continue;
            }
        };
        let wants_report =
            !gates.is_empty() || reporting.options.output.is_some() || reporting.options.github;
        if !wants_report {
            continue;
        }
        match crate::report::after_run(&store, run_id, &gates, &reporting.options).await {
            Ok(outcome) => passed &= outcome.passed(),
            Err(error) => {
                eprintln!("error: {error}");
                passed = false;
            }
        }
    }
    passed
}

/// Inside GitHub Actions, the job summaries of the inner run go to the
/// outer job's summary page too.
fn forward_step_summaries(runs: &[(String, Vec<crate::run::JobReport>)]) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let mut text = String::new();
    for report in runs.iter().flat_map(|(_, reports)| reports) {
        if !report.summary.is_empty() {
            text.push_str(&format!("### {}\n\n{}\n", report.name, report.summary));
        }
    }
    if text.is_empty() {
        return;
    }
    use std::io::Write;
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()));
    if let Err(error) = written {
        eprintln!("warning: cannot write GITHUB_STEP_SUMMARY: {error}");
    }
}

fn print_summary(runs: &[(String, Vec<crate::run::JobReport>)], json: bool) {
    if json {
        let value: Vec<serde_json::Value> = runs
            .iter()
            .map(|(path, reports)| {
                serde_json::json!({
                    "workflow": path,
                    "jobs": reports.iter().map(|r| serde_json::json!({
                        "job": r.job_id,
                        "name": r.name,
                        "result": r.result.as_str(),
                        "duration_seconds": r.duration.as_secs_f64(),
                        "error": r.error,
                        "summary": r.summary,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return;
    }
    for (path, reports) in runs {
        for report in reports.iter().filter(|r| !r.summary.is_empty()) {
            println!(
                "\n── summary of {} ──\n{}",
                report.name,
                report.summary.trim_end()
            );
        }
        println!("\n{path}");
        let mut rows = vec![["JOB".to_string(), "RESULT".to_string(), "TIME".to_string()]];
        for report in reports {
            rows.push([
                report.name.clone(),
                report.result.as_str().to_string(),
                format!("{:.1}s", report.duration.as_secs_f64()),
            ]);
        }
        print!("{}", table(&rows));
    }
}

fn validate(args: &PathsArgs) -> ExitCode {
    match load_all(args) {
        Ok(loaded) => {
            let mut out = std::io::stdout().lock();
            for workflow in &loaded {
                let jobs = workflow.workflow.jobs.len();
                let _ = writeln!(
                    out,
                    "ok {} ({jobs} job{})",
                    workflow.file.path.display(),
                    plural(jobs)
                );
            }
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

fn list(args: &ListArgs) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(plans) = plan_all(&loaded) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let json: Vec<serde_json::Value> = loaded
            .iter()
            .zip(&plans)
            .map(|(workflow, plan)| list_json(workflow, plan))
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    for (index, (workflow, plan)) in loaded.iter().zip(&plans).enumerate() {
        if index > 0 {
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "{}: {} job{}, {} instance{}",
            workflow_heading(workflow),
            plan.jobs.len(),
            plural(plan.jobs.len()),
            plan.instance_count(),
            plural(plan.instance_count())
        );
        let mut rows = vec![[
            "JOB".to_string(),
            "INSTANCE".to_string(),
            "MATRIX".to_string(),
            "RUNS-ON".to_string(),
            "NEEDS".to_string(),
        ]];
        for job in &plan.jobs {
            for instance in &job.instances {
                let matrix = match &job.deferred {
                    Some(_) => "(expanded at run time)".to_string(),
                    None => instance
                        .matrix
                        .iter()
                        .map(|(k, v)| format!("{k}={}", matrix_value(v)))
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                rows.push([
                    job.id.clone(),
                    instance.name.clone(),
                    or_dash(matrix),
                    or_dash(instance.runs_on.join(", ")),
                    or_dash(job.needs.join(", ")),
                ]);
            }
        }
        let _ = write!(out, "{}", table(&rows));
    }
    ExitCode::SUCCESS
}

fn graph(args: &GraphArgs) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(plans) = plan_all(&loaded) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let mut out = std::io::stdout().lock();
    for (index, (workflow, plan)) in loaded.iter().zip(&plans).enumerate() {
        let labels: Vec<NodeLabel> = plan
            .jobs
            .iter()
            .map(|job| {
                let matrix = !job.instances.first().is_none_or(|i| i.matrix.is_empty());
                if matrix {
                    NodeLabel::with_instances(
                        job.id.clone(),
                        job.instances.iter().map(|i| i.name.clone()).collect(),
                    )
                } else {
                    NodeLabel::new(job.id.clone())
                }
            })
            .collect();
        if args.dot {
            let _ = write!(out, "{}", plan.graph.to_dot(&labels));
        } else {
            if index > 0 {
                let _ = writeln!(out);
            }
            let _ = writeln!(out, "{}", workflow_heading(workflow));
            let _ = write!(out, "{}", plan.graph.to_text(&labels));
        }
    }
    ExitCode::SUCCESS
}

/// Plans every workflow; prints the problems and returns None on failure.
fn plan_all(loaded: &[LoadedWorkflow]) -> Option<Vec<Plan>> {
    let inputs = PlanInputs::default();
    let mut plans = Vec::new();
    let mut failed = false;
    for workflow in loaded {
        match plan::build(&workflow.workflow, &inputs) {
            Ok(plan) => plans.push(plan),
            Err(diagnostics) => {
                for diagnostic in &diagnostics {
                    eprint!("{}", workflow.file.render(diagnostic));
                }
                failed = true;
            }
        }
    }
    (!failed).then_some(plans)
}

fn list_json(workflow: &LoadedWorkflow, plan: &Plan) -> serde_json::Value {
    let jobs: Vec<serde_json::Value> = plan
        .jobs
        .iter()
        .flat_map(|job| {
            job.instances.iter().map(move |instance| {
                serde_json::json!({
                    "job": job.id,
                    "name": instance.name,
                    "matrix": Value::Object(instance.matrix.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).to_json(),
                    "runs_on": instance.runs_on,
                    "needs": job.needs,
                    "matrix_expanded_at_run_time": job.deferred.is_some(),
                })
            })
        })
        .collect();
    serde_json::json!({
        "file": workflow.file.path.display().to_string(),
        "name": workflow_title(workflow),
        "instances": jobs,
    })
}

/// `name (path)`, or the path alone for a workflow without a name.
fn workflow_heading(workflow: &LoadedWorkflow) -> String {
    let path = workflow.file.path.display();
    match &workflow.workflow.name {
        Some(name) => format!("{} ({path})", name.value),
        None => path.to_string(),
    }
}

fn workflow_title(workflow: &LoadedWorkflow) -> String {
    match &workflow.workflow.name {
        Some(name) => name.value.clone(),
        None => workflow.file.path.display().to_string(),
    }
}

/// Matrix values as GitHub writes them in job names; objects as JSON.
fn matrix_value(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => value.to_json().to_string(),
        other => other.to_display_string(),
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_string()
    } else {
        text
    }
}

/// Left-aligned columns separated by two spaces.
pub(crate) fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0; N];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::from("  ");
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                line.push_str(&" ".repeat(width - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
