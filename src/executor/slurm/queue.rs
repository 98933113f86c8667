//! Slurm's commands: `sbatch`, `squeue`, `scancel`.

use super::batch::slurm_job_name;
use crate::executor::ExecError;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How long a cancelled job may take to leave the queue (Slurm's KillWait
/// and the container's removal).
const LEAVE_QUEUE: Duration = Duration::from_secs(60);

async fn output(program: &str, args: &[&str]) -> Result<String, ExecError> {
    let out = Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            ExecError::Engine(format!(
                "cannot run `{program}`: {e}; the Slurm executor needs Slurm's commands on PATH"
            ))
        })?;
    if !out.status.success() {
        return Err(ExecError::Engine(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub async fn check_available() -> Result<(), ExecError> {
    output("squeue", &["--noheader", "--format=%i"])
        .await
        .map(|_| ())
        .map_err(|e| ExecError::Engine(format!("Slurm does not answer: {e}")))
}

/// Submits a batch script; its job id.
pub async fn submit(script: &Path) -> Result<String, ExecError> {
    let script = script.display().to_string();
    let out = output("sbatch", &["--parsable", &script]).await?;
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(ExecError::Engine(format!(
            "sbatch gave no job id for {script}"
        )));
    }
    Ok(id)
}

/// The job's state (`PENDING`, `RUNNING`, …) while it is in the queue.
pub async fn squeue_state(job_id: &str) -> Option<String> {
    let out = output("squeue", &["--noheader", "--jobs", job_id, "--format=%T"])
        .await
        .ok()?;
    let state = out.trim().to_string();
    (!state.is_empty()).then_some(state)
}

/// The ids of a run's jobs still in the queue.
pub async fn jobs_of_run(run_id: &str) -> Result<Vec<String>, ExecError> {
    let name = format!("--name={}", slurm_job_name(run_id));
    let out = output("squeue", &["--noheader", &name, "--format=%i"]).await?;
    Ok(out.split_whitespace().map(str::to_string).collect())
}

/// Whether the job leaves the queue (ends) within `limit`.
pub async fn left_queue_within(job_id: &str, limit: Duration) -> bool {
    let started = Instant::now();
    while squeue_state(job_id).await.is_some() {
        if started.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    true
}

/// Cancels jobs and waits until they have left the queue.
pub async fn cancel_and_wait(ids: &[String]) -> Result<(), ExecError> {
    if ids.is_empty() {
        return Ok(());
    }
    let args: Vec<&str> = ids.iter().map(String::as_str).collect();
    // A job that already ended is no error of ours.
    let _ = output("scancel", &args).await;
    let started = Instant::now();
    loop {
        let mut left = Vec::new();
        for id in ids {
            if squeue_state(id).await.is_some() {
                left.push(id.clone());
            }
        }
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() > LEAVE_QUEUE {
            return Err(ExecError::Engine(format!(
                "Slurm jobs {} are still in the queue {} s after scancel",
                left.join(", "),
                LEAVE_QUEUE.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Cancels every job of a run (they share one job name).
pub async fn cancel_run(run_id: &str) -> Result<(), ExecError> {
    let ids = jobs_of_run(run_id).await?;
    cancel_and_wait(&ids).await
}
