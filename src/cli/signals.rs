//! Ctrl-C and SIGTERM during `mlci run`, turned into a cancel.
//!
//! The first signal cancels the run: steps are stopped, `always()` steps
//! still run, containers are removed, and the run is recorded as cancelled.
//! That teardown is bounded: when it is not over after [`TEARDOWN_LIMIT`],
//! or when a second signal comes, `force` runs (a best-effort removal of
//! the run's containers, itself bounded by its caller) and mlci exits 130.
//! The handlers are installed before this returns, so that no signal in
//! between falls back to the default action (dying with the containers up).

use super::exit::EXIT_INTERRUPTED;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// How long the teardown after the first signal may take before mlci
/// removes what is left and exits, as after a second signal.
pub(super) const TEARDOWN_LIMIT: Duration = Duration::from_secs(60);

/// Installs the handlers; `interrupted` is set at the first signal.
pub(super) fn handle<F>(cancel: CancellationToken, interrupted: Arc<AtomicBool>, force: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    let mut terminate = signal(SignalKind::terminate()).ok();
    tokio::spawn(async move {
        next_signal(&mut interrupt, &mut terminate).await;
        interrupted.store(true, Ordering::SeqCst);
        eprintln!(
            "\ninterrupted: stopping the run and removing its containers (Ctrl-C again to force)"
        );
        cancel.cancel();
        tokio::select! {
            _ = next_signal(&mut interrupt, &mut terminate) => eprintln!("removing the run's containers now"),
            _ = tokio::time::sleep(TEARDOWN_LIMIT) => eprintln!(
                "the run did not stop within {}s: removing its containers now",
                TEARDOWN_LIMIT.as_secs()
            ),
        }
        force.await;
        std::process::exit(EXIT_INTERRUPTED.into());
    });
}

/// The next SIGINT or SIGTERM (never, for one that could not be caught).
async fn next_signal(interrupt: &mut Option<Signal>, terminate: &mut Option<Signal>) {
    let int = async {
        match interrupt.as_mut() {
            Some(s) => s.recv().await,
            None => std::future::pending().await,
        }
    };
    let term = async {
        match terminate.as_mut() {
            Some(s) => s.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = int => {}
        _ = term => {}
    }
}
