//! A job's `timeout-minutes`: as on GitHub, a job still running when its
//! time is up is cancelled (its steps stop, its containers go) and fails
//! with a line that says so. The clock starts with the job and covers its
//! set-up; the limit is armed once the job's contexts can evaluate it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The job's cancel: the run's (Ctrl-C, fail-fast), or its own time limit.
pub(super) struct JobTimeout {
    token: CancellationToken,
    fired: Arc<AtomicBool>,
    /// `continue-on-error` of the job, which covers a timeout too.
    keep_going: AtomicBool,
    limit: std::sync::Mutex<Option<(Duration, tokio::task::JoinHandle<()>)>>,
}

impl JobTimeout {
    pub fn new(run_cancel: &CancellationToken) -> JobTimeout {
        JobTimeout {
            token: run_cancel.child_token(),
            fired: Arc::new(AtomicBool::new(false)),
            keep_going: AtomicBool::new(false),
            limit: std::sync::Mutex::new(None),
        }
    }

    /// What the job's work listens to.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Starts the clock: `limit` after the job started (`elapsed` ago), the
    /// job is cancelled.
    pub fn arm(&self, limit: Option<Duration>, elapsed: Duration, keep_going: bool) {
        self.keep_going.store(keep_going, Ordering::SeqCst);
        let Some(limit) = limit else {
            return;
        };
        let (token, fired) = (self.token.clone(), self.fired.clone());
        let left = limit.saturating_sub(elapsed);
        let timer = tokio::spawn(async move {
            tokio::select! {
                _ = token.cancelled() => {}
                _ = tokio::time::sleep(left) => {
                    fired.store(true, Ordering::SeqCst);
                    token.cancel();
                }
            }
        });
        *self.limit.lock().unwrap_or_else(|e| e.into_inner()) = Some((limit, timer));
    }

    /// When the time ran out: the sentence the job fails with, and whether
    /// `continue-on-error` lets the run go on.
    pub fn exceeded(&self) -> Option<(String, bool)> {
        if !self.fired.load(Ordering::SeqCst) {
            return None;
        }
        let limit = self.limit.lock().unwrap_or_else(|e| e.into_inner());
        let seconds = limit.as_ref().map(|(l, _)| l.as_secs_f64())?;
        // As written: 0.05, not 0.049999999999999996.
        let minutes = (seconds / 60.0 * 1e6).round() / 1e6;
        Some((
            format!("the job exceeded its timeout of {minutes} minutes and was cancelled"),
            self.keep_going.load(Ordering::SeqCst),
        ))
    }
}

impl Drop for JobTimeout {
    fn drop(&mut self) {
        if let Some((_, timer)) = self
            .limit
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            timer.abort();
        }
    }
}
