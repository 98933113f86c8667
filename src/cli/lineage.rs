//! `mlci lineage ARTIFACT|MODEL@VERSION`: where it came from, what was made of
//! it, and for a model version where it serves now and its deployments.

use super::args::LineageArgs;
use super::exit::EXIT_INVALID;
use crate::record::Store;
use crate::registry::ModelRef;
use std::path::Path;
use std::process::ExitCode;

pub(super) fn lineage(args: &LineageArgs) -> ExitCode {
    let db = crate::record::default_path(Path::new("."), args.db.as_deref());
    if !db.exists() {
        eprintln!(
            "error: no run store at {}: run `mlci run` first, or name one with --db or MLCI_DB",
            db.display()
        );
        return ExitCode::FAILURE;
    }
    let mut store = match Store::open(&db) {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    // `iris@2` and `iris:champion` name models; anything else is a path or a hash.
    let is_model =
        args.target.contains('@') || (args.target.contains(':') && !args.target.contains('/'));
    let found = if is_model {
        let reference = match ModelRef::parse(&args.target) {
            Ok(reference) => reference,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(EXIT_INVALID);
            }
        };
        let resolved = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(crate::registry::resolve(&mut store, &reference, None)));
        match resolved {
            Ok(version) => crate::lineage::of_model(&store, &version).map(Some),
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        crate::lineage::of_artifact(&store, &args.target)
    };
    match found {
        Ok(Some(lineage)) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&lineage).unwrap_or_default()
                );
            } else {
                print!("{}", crate::lineage::render_text(&lineage));
            }
            ExitCode::SUCCESS
        }
        Ok(None) => {
            eprintln!(
                "error: no recorded run read or wrote `{}`: lineage knows the `inputs` and `outputs` of cached steps and the models of `register:` steps",
                args.target
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
