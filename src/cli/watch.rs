//! `mlci watch`: loads the workflows as `mlci run` does, then hands them to
//! [`crate::watch`] with the options that every run it starts gets.

use super::args::WatchArgs;
use super::exit::EXIT_INVALID;
use super::load::load_all;
use std::path::PathBuf;
use std::process::ExitCode;

pub(super) fn watch(args: WatchArgs) -> ExitCode {
    let loaded = match load_all(&args.paths) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("error: cannot find the mlci binary to run workflows with: {error}");
            return ExitCode::FAILURE;
        }
    };
    for (what, path) in [("secret", &args.secret_file), ("env", &args.env_file)] {
        if let Some(path) = path.as_ref().filter(|p| !p.is_file()) {
            eprintln!("error: the {what} file {} does not exist", path.display());
            return ExitCode::from(EXIT_INVALID);
        }
    }
    let mut run_args: Vec<std::ffi::OsString> = Vec::new();
    let mut excluded: Vec<PathBuf> = Vec::new();
    if let Some(dir) = &args.cache_dir {
        run_args.extend(["--cache-dir".into(), dir.into()]);
        excluded.push(dir.clone());
    } else if let Some(dir) = std::env::var_os("MLCI_CACHE_DIR") {
        excluded.push(dir.into());
    }
    if let Some(db) = &args.db {
        run_args.extend(["--db".into(), db.into()]);
        excluded.push(db.clone());
    } else if let Some(db) = std::env::var_os("MLCI_DB") {
        excluded.push(db.into());
    }
    for (label, image) in &args.platforms {
        run_args.extend(["-P".into(), format!("{label}={image}").into()]);
    }
    if let Some(file) = &args.secret_file {
        run_args.extend(["--secret-file".into(), file.into()]);
    }
    if let Some(file) = &args.env_file {
        run_args.extend(["--env-file".into(), file.into()]);
    }
    run_args.extend(args.run_args);
    let config = crate::watch::Config {
        root: PathBuf::from("."),
        interval: args.interval,
        launcher: crate::watch::Launcher {
            exe,
            run_args,
            run_id_prefix: std::env::var("MLCI_RUN_ID")
                .ok()
                .filter(|id| !id.is_empty()),
        },
        excluded,
    };
    match crate::watch::watch(config, loaded) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(EXIT_INVALID)
        }
    }
}
