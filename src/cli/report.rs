//! `mlci report`: a stored run's report, to the terminal, a file, or GitHub.
//!
//! Which run: `--run`, else each run of `--runs-file` (what one `mlci run`
//! recorded), else the newest. With `--github`, a commit without a run (none
//! in the runs file, an empty store, or a run of another commit) gets a
//! failing check that says so, never another commit's results.

use super::args::ReportArgs;
use super::exit::EXIT_INVALID;
use super::run_store::{fail, open, resolve};
use super::runs_file::RunsFile;
use crate::record::{RunId, Store};
use crate::report::{MissingRun, ReportOptions};
use std::process::ExitCode;

/// One thing to report: a run of the store, or a workflow without one.
enum Subject {
    Run(RunId),
    Missing(MissingRun),
}

pub(super) fn report(args: ReportArgs) -> ExitCode {
    let mode = match crate::github::PublishMode::parse(&args.to) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let options = ReportOptions {
        output: args.output.clone(),
        github: args.github,
        token: args.token.clone(),
        mode,
        baseline_ref: args.baseline.clone(),
        history: 10,
        quiet: false,
    };
    let token = options
        .token
        .clone()
        .or_else(|| std::env::var("GITHUB_TOKEN").ok())
        .filter(|t| !t.is_empty());
    let redact = |text: String| crate::github::redact(&text, token.as_deref());
    let (store, subjects) = match subjects(&args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    let mut passed = true;
    for subject in subjects {
        let published = match subject {
            Subject::Missing(missing) => {
                runtime.block_on(crate::report::publish_missing(&missing, &options))
            }
            Subject::Run(id) => {
                let Some(store) = &store else { continue };
                let report = match crate::report::prepare(store, id, &[], &options) {
                    Ok(report) => report,
                    Err(e) => return fail(redact(e.to_string())),
                };
                if options.output.is_none() && !options.github {
                    print!("{}", report.markdown());
                } else {
                    eprint!("{}", report.gates.render_text());
                }
                passed &= report.gates.passed();
                runtime.block_on(crate::report::publish(&report, &options))
            }
        };
        match published {
            Ok(published) => {
                for message in published.messages {
                    eprintln!("{}", redact(message));
                }
                passed &= !published.refused;
            }
            Err(e) => {
                eprintln!("error: {}", redact(e.to_string()));
                return ExitCode::FAILURE;
            }
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The store (when there is one) and what to report from it.
fn subjects(args: &ReportArgs) -> Result<(Option<Store>, Vec<Subject>), ExitCode> {
    if let Some(path) = &args.runs_file {
        let file = RunsFile::read(path);
        let reason = file
            .error
            .clone()
            .unwrap_or_else(|| super::runs_file::NOT_RECORDED.to_string());
        let mut subjects: Vec<Subject> = file
            .workflows
            .iter()
            .map(|w| match w.run {
                Some(id) => Subject::Run(id),
                None => Subject::Missing(MissingRun {
                    workflow: w.name.clone(),
                    workflow_path: w.path.clone(),
                    reason: reason.clone(),
                }),
            })
            .collect();
        if subjects.is_empty() {
            subjects.push(Subject::Missing(missing_unnamed(args, reason)));
        }
        let store = if subjects.iter().any(|s| matches!(s, Subject::Run(_))) {
            Some(open(&args.store)?)
        } else {
            None
        };
        return Ok((store, subjects));
    }
    // Without a run store there is nothing to report; on GitHub that is
    // said on the commit rather than left unsaid.
    let store = match open(&args.store) {
        Ok(store) => store,
        Err(_) if args.github && args.run.is_none() => {
            let reason = "there is no run store (.mlci/runs.db)".to_string();
            return Ok((None, vec![Subject::Missing(missing_unnamed(args, reason))]));
        }
        Err(code) => return Err(code),
    };
    let id = resolve(&store, args.run.as_deref(), &args.store)?;
    Ok((Some(store), vec![Subject::Run(id)]))
}

/// A missing run of a workflow whose name is not known (the run stopped
/// before reading it): `--workflow`, else `mlci`.
fn missing_unnamed(args: &ReportArgs, reason: String) -> MissingRun {
    MissingRun {
        workflow: args
            .store
            .workflow
            .clone()
            .unwrap_or_else(|| "mlci".to_string()),
        workflow_path: String::new(),
        reason,
    }
}
