//! The command line: argument parsing and the commands' output.
//!
//! Exit status follows DESIGN.md: 0 when everything passed, 1 when a job or
//! gate failed, 2 when the workflow or the command line is invalid.

use crate::workflow::{self, LoadedWorkflow};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// mlci runs GitHub Actions workflows locally in Docker, caches datasets and
/// models between stages, and reports metrics to pull requests.
#[derive(Debug, Parser)]
#[command(name = "mlci", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check workflow files and report every error with its line and column.
    Validate(PathsArgs),
    /// List the job instances of each workflow: matrix values, runner, needs.
    List(ListArgs),
    /// Show the graph of jobs by `needs`, as text or Graphviz.
    Graph(GraphArgs),
}

#[derive(Debug, clap::Args)]
pub struct PathsArgs {
    /// Workflow files or directories [default: .github/workflows/]
    pub paths: Vec<PathBuf>,
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
    let cli = Cli::parse();
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::List(args) => list(&args),
        Command::Graph(args) => graph(&args),
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
    let _ = args.json;
    match load_all(&args.paths) {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn graph(args: &GraphArgs) -> ExitCode {
    let _ = args.dot;
    match load_all(&args.paths) {
        Ok(_) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
