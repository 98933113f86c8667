//! Running commands in the job container with `docker exec`: output
//! streamed as it comes, the exit code read back, and on timeout or cancel
//! every process of the exec killed (see the module documentation of
//! `executor::docker`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::errors::engine_error;
use super::job::DockerJob;
use super::names::nonce_u64;
use crate::executor::{ExecError, ExecOutcome, ExecRequest, StreamKind};

/// Environment variable that marks every process of one exec.
pub const EXEC_ID_VAR: &str = "MLCI_EXEC_ID";

static EXEC_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DockerJob {
    /// [`JobEnv::exec`](crate::executor::JobEnv::exec): runs a command,
    /// streaming its output; a timeout or cancel kills its processes.
    pub(super) async fn exec_streaming(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        if request.argv.is_empty() {
            return Err(ExecError::Engine("an exec needs a command".to_string()));
        }
        if cancel.is_cancelled() {
            return Ok(ExecOutcome::Cancelled);
        }
        let exec_tag = format!(
            "{:016x}{:08x}",
            nonce_u64(),
            EXEC_COUNTER.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff
        );
        let mut env: Vec<String> = request
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("{EXEC_ID_VAR}={exec_tag}"));
        let config = CreateExecOptions::<String> {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            env: Some(env),
            cmd: Some(request.argv.clone()),
            user: request.user.clone().filter(|u| !u.is_empty()),
            working_dir: Some(request.workdir.clone()).filter(|w| !w.is_empty()),
            ..Default::default()
        };
        let job = &self.job_name;
        let exec = self
            .docker
            .create_exec(&self.container, config)
            .await
            .map_err(|e| engine_error(&format!("starting a command in job `{job}`"), e))?;
        let started = self
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: Some(64 * 1024),
                }),
            )
            .await
            .map_err(|e| engine_error(&format!("starting a command in job `{job}`"), e))?;
        let StartExecResults::Attached { mut output, .. } = started else {
            return Err(ExecError::Engine(format!(
                "the Docker engine did not attach to a command in job `{job}`"
            )));
        };
        let deadline = request.timeout.map(|t| tokio::time::Instant::now() + t);
        let timer = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(timer);
        let stopped = loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => break Some(ExecOutcome::Cancelled),
                _ = &mut timer => break Some(ExecOutcome::TimedOut),
                item = output.next() => match item {
                    None => break None,
                    Some(Ok(LogOutput::StdOut { message })) | Some(Ok(LogOutput::Console { message })) => on_output(StreamKind::Stdout, &message),
                    Some(Ok(LogOutput::StdErr { message })) => on_output(StreamKind::Stderr, &message),
                    Some(Ok(LogOutput::StdIn { .. })) => {}
                    Some(Err(e)) => {
                        drop(output);
                        self.kill_exec(&exec_tag).await;
                        return Err(engine_error(&format!("reading the output of a command in job `{job}`"), e));
                    }
                },
            }
        };
        if let Some(outcome) = stopped {
            drop(output);
            self.kill_exec(&exec_tag).await;
            return Ok(outcome);
        }
        // The stream has ended; the exit code may take a moment to be recorded.
        for _ in 0..100 {
            let info = self.docker.inspect_exec(&exec.id).await.map_err(|e| {
                engine_error(
                    &format!("reading the exit code of a command in job `{job}`"),
                    e,
                )
            })?;
            if info.running != Some(true) {
                return match info.exit_code {
                    Some(code) => Ok(ExecOutcome::Exited(code)),
                    None => Err(ExecError::Engine(format!(
                        "the Docker engine reported no exit code for a command in job `{job}`"
                    ))),
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ExecError::Engine(format!(
            "a command in job `{job}` closed its output but did not exit"
        )))
    }

    /// Runs a command to completion, output discarded; fails unless it exits 0.
    pub(super) async fn run_quiet(
        &self,
        argv: &[String],
        user: &str,
        cancel: &CancellationToken,
    ) -> Result<(), ExecError> {
        let req = ExecRequest {
            argv: argv.to_vec(),
            user: Some(user.to_string()),
            timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        };
        let mut output = Vec::new();
        let mut sink = |_: StreamKind, b: &[u8]| {
            if output.len() < 4096 {
                output.extend_from_slice(b);
            }
        };
        match self.exec_streaming(&req, cancel, &mut sink).await? {
            ExecOutcome::Exited(0) => Ok(()),
            ExecOutcome::Cancelled => Err(ExecError::Cancelled {
                job: self.job_name.clone(),
            }),
            other => Err(ExecError::Engine(format!(
                "`{}` in job `{}` failed ({other:?}): {}",
                argv.join(" "),
                self.job_name,
                String::from_utf8_lossy(&output).trim()
            ))),
        }
    }

    /// Kills every process of one exec (see the module documentation).
    async fn kill_exec(&self, exec_id: &str) {
        let script = format!(
            r#"for pass in 1 2 3; do found=; for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; if grep -q "{EXEC_ID_VAR}=$1" "$p/environ" 2>/dev/null; then kill -9 "${{p#/proc/}}" 2>/dev/null; found=1; fi; done; [ -z "$found" ] && break; done; exit 0"#
        );
        let config = CreateExecOptions::<String> {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(vec![
                "sh".into(),
                "-c".into(),
                script,
                "mlci-kill".into(),
                exec_id.to_string(),
            ]),
            user: Some("0".into()),
            ..Default::default()
        };
        let run = async {
            let created = self
                .docker
                .create_exec(&self.container, config)
                .await
                .ok()?;
            if let Ok(StartExecResults::Attached { mut output, .. }) =
                self.docker.start_exec(&created.id, None).await
            {
                while output.next().await.is_some() {}
            }
            Some(())
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), run).await;
    }
}
