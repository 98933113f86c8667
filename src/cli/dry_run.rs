//! `mlci run --executor k8s --dry-run`: the manifests every job would be
//! created with, printed as YAML documents (Secret values hidden), with
//! nothing started.

use super::exit::EXIT_INVALID;
use crate::executor::dry_run::NoEngine;
use crate::executor::k8s::{manifests, yaml_out};
use crate::workflow::LoadedWorkflow;
use std::process::ExitCode;

pub(super) fn print_manifests(
    settings: &manifests::KubeSettings,
    loaded: Vec<LoadedWorkflow>,
    options: &crate::run::RunOptions,
) -> ExitCode {
    let mut out = String::new();
    let mut key = 0;
    for workflow in loaded {
        let path = workflow.file.path.display().to_string();
        let specs = match crate::run::planned_specs(NoEngine, workflow, options.clone()) {
            Ok(specs) => specs,
            Err(message) => {
                eprint!("error: {message}");
                return ExitCode::from(EXIT_INVALID);
            }
        };
        for (name, spec) in specs {
            let spec = match spec {
                Ok(spec) => spec,
                Err(reason) => {
                    out.push_str(&format!("# {path}: job `{name}`: {reason}\n"));
                    continue;
                }
            };
            key += 1;
            let built = match manifests::build(&spec, &format!("job{key}"), settings) {
                Ok(built) => built,
                Err(reason) => {
                    eprintln!("error: {reason}");
                    return ExitCode::from(EXIT_INVALID);
                }
            };
            let secret = serde_json::to_value(manifests::redacted(&built.secret))
                .expect("manifests serialise");
            let job = serde_json::to_value(&built.job).expect("manifests serialise");
            out.push_str(&format!("---\n# {path}: job `{name}`: its Secret\n"));
            out.push_str(&yaml_out::to_yaml(&secret));
            out.push_str(&format!("---\n# {path}: job `{name}`\n"));
            out.push_str(&yaml_out::to_yaml(&job));
        }
    }
    print!("{out}");
    ExitCode::SUCCESS
}
