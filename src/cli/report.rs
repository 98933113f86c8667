//! `mlci report`: a stored run's report, to the terminal, a file, or GitHub.

use super::args::ReportArgs;
use super::exit::EXIT_INVALID;
use super::run_store::{fail, open, resolve};
use crate::report::ReportOptions;
use std::process::ExitCode;

pub(super) fn report(args: ReportArgs) -> ExitCode {
    let mode = match crate::github::PublishMode::parse(&args.to) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let store = match open(&args.store) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let id = match resolve(&store, args.run.as_deref(), &args.store) {
        Ok(id) => id,
        Err(code) => return code,
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
    let report = match crate::report::prepare(&store, id, &[], &options) {
        Ok(report) => report,
        Err(e) => return fail(redact(e.to_string())),
    };
    drop(store);
    if options.output.is_none() && !options.github {
        print!("{}", report.markdown());
    } else {
        eprint!("{}", report.gates.render_text());
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    match runtime.block_on(crate::report::publish(&report, &options)) {
        Ok(published) => {
            for message in published.messages {
                eprintln!("{}", redact(message));
            }
        }
        Err(e) => {
            eprintln!("error: {}", redact(e.to_string()));
            return ExitCode::FAILURE;
        }
    }
    if report.gates.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
