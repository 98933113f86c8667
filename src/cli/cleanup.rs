//! The end of `mlci run`: what the engine still holds of the run (the last
//! job containers, being removed) is handed to a small process of its own,
//! so that mlci exits as soon as the results are recorded and reported
//! instead of waiting the tenth of a second per container that the engine
//! takes. That process (`mlci __remove-run-objects`) removes exactly the
//! objects it is given, waits until the engine has them gone, and then, once
//! the run's process has exited, removes the run's host directories from
//! the cache. After Ctrl-C, or when it cannot be started, mlci waits itself.

use super::args::RemoveRunObjectsArgs;
use crate::executor::any::AnyBackend;
use crate::executor::docker::{DockerBackend, RunObjects};
use crate::run::RunCleanup;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Waits for the runs' removals (`wait`: after Ctrl-C or an error), or
/// hands them on.
pub(super) async fn finish(
    cleanups: Vec<RunCleanup<AnyBackend>>,
    wait: bool,
    cache_dir: Option<PathBuf>,
) {
    for cleanup in cleanups {
        if wait || std::env::var("MLCI_WAIT_FOR_REMOVAL").as_deref() == Ok("1") {
            cleanup.wait().await;
            continue;
        }
        cleanup.settle().await;
        // A cluster's jobs are ended by the run itself, waiting.
        let Some(docker) = cleanup.backend().docker() else {
            cleanup.wait().await;
            continue;
        };
        let objects = match docker.run_objects(cleanup.run_id()).await {
            Ok(objects) => objects,
            Err(_) => {
                cleanup.wait().await;
                continue;
            }
        };
        if objects.is_empty() || !hand_on(&objects, cache_dir.as_deref()) {
            cleanup.wait().await;
        }
    }
}

/// Starts the process that removes `objects`, in a process group of its
/// own (a Ctrl-C at the terminal does not reach it); false when it cannot start.
fn hand_on(objects: &RunObjects, cache_dir: Option<&std::path::Path>) -> bool {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    let mut command = std::process::Command::new(exe);
    command
        .arg("__remove-run-objects")
        .arg(format!("--parent={}", std::process::id()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    for (flag, list) in [
        ("--containers", &objects.containers),
        ("--networks", &objects.networks),
        ("--volumes", &objects.volumes),
    ] {
        if !list.is_empty() {
            command.arg(format!("{flag}={}", list.join(",")));
        }
    }
    if let Some(dir) = cache_dir {
        command.arg("--cache-dir").arg(dir);
    }
    command.spawn().is_ok()
}

/// `mlci __remove-run-objects`: the handed-on end of a run.
pub(super) fn remove_run_objects(args: RemoveRunObjectsArgs) -> ExitCode {
    let Ok(runtime) = tokio::runtime::Runtime::new() else {
        return ExitCode::FAILURE;
    };
    let objects = RunObjects {
        containers: args.containers,
        networks: args.networks,
        volumes: args.volumes,
    };
    let removed = runtime.block_on(async {
        let backend = DockerBackend::connect().await?;
        backend.remove_run_objects(&objects).await
    });
    // The run's job directories are gone with its process; what is left of
    // them under the cache's tmp/ is removed once that process has exited.
    let deadline = Instant::now() + Duration::from_secs(30);
    let parent = PathBuf::from(format!("/proc/{}", args.parent));
    while parent.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Not through `Store::open`, which creates the cache's directories: a
    // cache being removed meanwhile (a test's, a user's `rm -rf`) must not
    // come back as an empty skeleton, nor make that removal fail.
    if let Some(dir) = args.cache_dir {
        crate::cache::store::remove_stale_temp_in(&dir);
    }
    if removed.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
