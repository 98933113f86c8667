//! The command line: [`main`] parses the arguments and hands each command to
//! its file; commands use `args` (the grammar), `table` and `exit`, never this file.
//!
//! Exit status follows DESIGN.md (see [`exit`]): 0 when everything passed, 1
//! when a job or gate failed, 2 when the workflow or the command line is invalid.

mod agent;
mod args;
mod cache;
mod cleanup;
mod data;
mod deploy;
mod dry_run;
pub mod exit;
mod images;
mod lineage;
mod load;
mod metrics;
mod models;
mod rc_files;
mod report;
mod run;
mod run_store;
mod run_summary;
mod runs;
mod runs_file;
mod signals;
mod sweep;
mod table;
mod watch;
mod workflows;

pub use args::{
    CacheArgs, CacheCommand, CacheOptions, Cli, Command, DataCommand, DataSchemaCommand,
    DataValidateArgs, GraphArgs, ImagesCommand, ListArgs, MetricsCommand, PathsArgs, ReportArgs,
    RunArgs, RunsCommand, StoreArgs, WatchArgs,
};
pub use exit::EXIT_INVALID;

use clap::Parser;
use std::process::ExitCode;

pub fn main() -> ExitCode {
    let args = rc_files::with_rc_files(std::env::args_os().collect());
    let cli = Cli::parse_from(args);
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Validate(args) => workflows::validate(&args),
        Command::List(args) => workflows::list(&args),
        Command::Graph(args) => workflows::graph(&args),
        Command::Images(command) => images::images(command),
        Command::Cache(args) => cache::cache(args),
        Command::Metrics(command) => metrics::metrics(command),
        Command::Runs(command) => runs::runs(command),
        Command::Models(args) => models::models(args),
        Command::Lineage(args) => lineage::lineage(&args),
        Command::Report(args) => report::report(args),
        Command::Data(command) => data::data(command),
        Command::Watch(args) => watch::watch(args),
        Command::RemoveRunObjects(args) => cleanup::remove_run_objects(args),
        Command::Agent(args) => agent::agent(args),
        Command::Deploy(args) => deploy::deploy(*args),
        Command::Deployments(command) => deploy::deployments(command),
        Command::DeployFront(args) => deploy::front(args),
    }
}
