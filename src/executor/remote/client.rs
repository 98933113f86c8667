//! [`RemoteEnv`]: a job environment on a cluster, driven through the
//! mailbox. Each [`JobEnv`] call is one numbered request (one at a time: the
//! runner runs a job's steps in order); a command's output arrives as frames
//! on the agent's output, which the backend follows and feeds to
//! [`FrameRouter::feed_line`].

use super::agent;
use super::mailbox::{Blob, Mailbox, Poll};
use super::protocol::{Frame, Op, Outcome, Reply, Request, SecretPlaceholders};
use super::tarball;
use crate::executor::{
    ExecError, ExecOutcome, ExecRequest, FileToWrite, JobEnv, RunningService, StepContainerSpec,
    StreamKind,
};
use crate::timings::PhaseTimes;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// After a command's reply, how long its last frames may take to arrive.
const LAST_FRAMES: Duration = Duration::from_secs(5);
/// While a command runs (no end frame yet), how often its reply is looked for.
const LOOK_BEFORE_END: Duration = Duration::from_secs(1);
/// After a cancel request, how long the agent has to answer it.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// What a backend does when the runner is done with a job environment
/// (delete the Kubernetes Job, cancel the Slurm job).
pub trait RemoteEnd: Send + Sync + 'static {
    fn release(&self) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;
}

/// Routes the frames of the agent's output to the command they belong to;
/// the agent's own lines go to `on_agent_line`.
#[derive(Clone)]
pub struct FrameRouter {
    waiting: Arc<Mutex<BTreeMap<u64, mpsc::UnboundedSender<Frame>>>>,
    on_agent_line: Arc<dyn Fn(&str) + Send + Sync>,
}

impl FrameRouter {
    pub fn new(on_agent_line: impl Fn(&str) + Send + Sync + 'static) -> FrameRouter {
        FrameRouter {
            waiting: Arc::default(),
            on_agent_line: Arc::new(on_agent_line),
        }
    }

    /// One line of the agent's output.
    pub fn feed_line(&self, line: &str) {
        let Some(frame) = Frame::decode(line) else {
            let line = line.trim_end();
            if !line.is_empty() && !agent::is_routine(line) {
                (self.on_agent_line)(line);
            }
            return;
        };
        let number = match &frame {
            Frame::Stdout(n, _) | Frame::Stderr(n, _) | Frame::End(n) => *n,
        };
        let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = waiting.get(&number) {
            let _ = sender.send(frame);
        }
    }

    fn listen(&self, number: u64) -> mpsc::UnboundedReceiver<Frame> {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.insert(number, sender);
        receiver
    }

    fn forget(&self, number: u64) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.remove(&number);
    }
}

/// Tells a job environment that its far end is gone (the pod failed, the
/// Slurm job ended), with the reason.
pub type Liveness = watch::Receiver<Option<String>>;

pub struct RemoteEnv<E: RemoteEnd> {
    pub job_name: String,
    /// Which executor, for messages: `Kubernetes`, `Slurm`.
    pub engine: &'static str,
    pub mailbox: Mailbox,
    pub secrets: SecretPlaceholders,
    pub frames: FrameRouter,
    pub liveness: Liveness,
    pub image_digest: String,
    pub services: Vec<RunningService>,
    pub setup_phases: PhaseTimes,
    pub end: E,
    /// The number of the next request; held while one is under way.
    next: tokio::sync::Mutex<u64>,
}

impl<E: RemoteEnd> RemoteEnv<E> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job_name: String,
        engine: &'static str,
        mailbox: Mailbox,
        secrets: SecretPlaceholders,
        frames: FrameRouter,
        liveness: Liveness,
        image_digest: String,
        end: E,
    ) -> RemoteEnv<E> {
        RemoteEnv {
            job_name,
            engine,
            mailbox,
            secrets,
            frames,
            liveness,
            image_digest,
            services: Vec::new(),
            setup_phases: PhaseTimes::default(),
            end,
            next: tokio::sync::Mutex::new(1),
        }
    }

    fn engine_error(&self, what: &str, detail: impl std::fmt::Display) -> ExecError {
        ExecError::Engine(format!(
            "{what} in job `{}` on {}: {detail}",
            self.job_name, self.engine
        ))
    }

    fn gone(&self) -> Option<String> {
        self.liveness.borrow().clone()
    }

    /// The number of the next request, and the turn to send it: requests go
    /// one at a time, in order, until the guard is dropped.
    async fn take_turn(&self) -> (tokio::sync::MutexGuard<'_, u64>, u64) {
        let mut next = self.next.lock().await;
        let number = *next;
        *next += 1;
        (next, number)
    }

    /// Waits for the reply to `number`; Err when the far end is gone first.
    async fn wait_reply(&self, number: u64) -> Result<(Reply, Option<Blob>), String> {
        let mut poll = Poll::default();
        loop {
            if let Some(found) = self.mailbox.poll_reply(number).await? {
                return Ok(found);
            }
            if let Some(reason) = self.gone() {
                // One more look: the reply may have been written just before the end.
                if let Some(found) = self.mailbox.poll_reply(number).await? {
                    return Ok(found);
                }
                return Err(reason);
            }
            poll.wait().await;
        }
    }

    /// One request other than a command, and its reply.
    async fn call(
        &self,
        op: Op,
        blob: Option<&Path>,
        what: &str,
    ) -> Result<(Reply, Option<Blob>), ExecError> {
        let (_turn, number) = self.take_turn().await;
        let request = Request { number, op };
        self.mailbox
            .send_request(&request, blob)
            .await
            .map_err(|e| self.engine_error(what, e))?;
        let (reply, blob) = self
            .wait_reply(number)
            .await
            .map_err(|e| self.engine_error(what, e))?;
        if let Some(error) = &reply.error {
            return Err(self.engine_error(what, error));
        }
        Ok((reply, blob))
    }

    async fn unpack(&self, path: &str, blob: &Path, what: &str) -> Result<(), ExecError> {
        let op = Op::Unpack {
            path: path.to_string(),
        };
        self.call(op, Some(blob), what).await.map(|_| ())
    }

    /// The tar blob of `path`, or None when it does not exist.
    async fn pack(&self, path: &str, what: &str) -> Result<Option<Blob>, ExecError> {
        let op = Op::Pack {
            path: path.to_string(),
        };
        let (reply, blob) = self.call(op, None, what).await?;
        if reply.missing {
            return Ok(None);
        }
        blob.map(Some)
            .ok_or_else(|| self.engine_error(what, "the agent's reply came without its files"))
    }

    /// Packs into a new blob file on a blocking thread; None when `pack`
    /// found nothing to pack.
    async fn packed(
        &self,
        what: &str,
        pack: impl FnOnce(&mut std::fs::File) -> std::io::Result<bool> + Send + 'static,
    ) -> Result<Option<Blob>, ExecError> {
        tokio::task::spawn_blocking(move || {
            let mut blob = tarball::blob_file()?;
            Ok(pack(blob.as_file_mut())?.then_some(blob))
        })
        .await
        .map_err(|e| self.engine_error(what, e))?
        .map_err(|e: std::io::Error| self.engine_error(what, e))
    }

    /// Tells the agent to exit; what it answers does not matter any more.
    pub async fn shut_down(&self) {
        let (_turn, number) = self.take_turn().await;
        let request = Request {
            number,
            op: Op::Shutdown,
        };
        let _ = self.mailbox.send_request(&request, None).await;
    }
}

impl<E: RemoteEnd> JobEnv for RemoteEnv<E> {
    async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
        on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        let (_turn, number) = self.take_turn().await;
        let op = Op::Exec {
            argv: request.argv.iter().map(|a| self.secrets.hide(a)).collect(),
            env: request
                .env
                .iter()
                .map(|(k, v)| (k.clone(), self.secrets.hide(v)))
                .collect(),
            workdir: request.workdir.clone(),
            timeout_ms: request.timeout.map(|t| t.as_millis() as u64),
        };
        let mut frames = self.frames.listen(number);
        let sent = self
            .mailbox
            .send_request(&Request { number, op }, None)
            .await;
        if let Err(error) = sent {
            self.frames.forget(number);
            return Err(self.engine_error("cannot run a command", error));
        }
        let mut deliver = |frame: Frame, ended: &mut bool| match frame {
            Frame::Stdout(_, bytes) => on_output(StreamKind::Stdout, &bytes),
            Frame::Stderr(_, bytes) => on_output(StreamKind::Stderr, &bytes),
            Frame::End(_) => *ended = true,
        };
        let mut ended = false;
        let mut cancelled_at: Option<Instant> = None;
        // The reply follows the command's end frame: it is looked for at once
        // when that frame arrives, and now and then before (the log may be lost).
        let mut poll = Poll::default();
        let mut next_look = tokio::time::Instant::now() + LOOK_BEFORE_END;
        let reply = loop {
            tokio::select! {
                Some(frame) = frames.recv() => {
                    deliver(frame, &mut ended);
                    if ended {
                        next_look = tokio::time::Instant::now();
                    }
                }
                _ = cancel.cancelled(), if cancelled_at.is_none() => {
                    cancelled_at = Some(Instant::now());
                    let _ = self.mailbox.cancel(number).await;
                    poll.reset();
                    next_look = tokio::time::Instant::now();
                }
                _ = tokio::time::sleep_until(next_look) => {
                    match self.mailbox.poll_reply(number).await {
                        Ok(Some((reply, _))) => break Ok(reply),
                        Ok(None) => {}
                        Err(error) => break Err(error),
                    }
                    if let Some(reason) = self.gone() {
                        break match self.mailbox.poll_reply(number).await {
                            Ok(Some((reply, _))) => Ok(reply),
                            _ => Err(reason),
                        };
                    }
                    if cancelled_at.is_some_and(|at| at.elapsed() > CANCEL_GRACE) {
                        self.frames.forget(number);
                        return Ok(ExecOutcome::Cancelled);
                    }
                    let wait = if ended || cancelled_at.is_some() {
                        poll.next_wait()
                    } else {
                        LOOK_BEFORE_END
                    };
                    next_look = tokio::time::Instant::now() + wait;
                }
            }
        };
        // The reply is written after the last frame; the log may lag behind it.
        let deadline = tokio::time::Instant::now() + LAST_FRAMES;
        while !ended {
            match tokio::time::timeout_at(deadline, frames.recv()).await {
                Ok(Some(frame)) => deliver(frame, &mut ended),
                _ => break,
            }
        }
        self.frames.forget(number);
        let reply = reply.map_err(|e| self.engine_error("cannot run a command", e))?;
        if let Some(error) = reply.error {
            return Err(self.engine_error("cannot run a command", error));
        }
        Ok(match reply.outcome {
            Some(Outcome::Exited(code)) => ExecOutcome::Exited(code),
            Some(Outcome::TimedOut) => ExecOutcome::TimedOut,
            Some(Outcome::Cancelled) | None => ExecOutcome::Cancelled,
        })
    }

    async fn write_file(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), ExecError> {
        self.write_files(vec![FileToWrite {
            path: path.to_string(),
            contents: contents.to_vec(),
            mode,
        }])
        .await
    }

    async fn write_files(&self, files: Vec<FileToWrite>) -> Result<(), ExecError> {
        if files.is_empty() {
            return Ok(());
        }
        let files: Vec<(String, Vec<u8>, u32)> = files
            .into_iter()
            .map(|f| (f.path, self.secrets.hide_bytes(&f.contents), f.mode))
            .collect();
        let what = "cannot write files";
        let blob = self
            .packed(what, move |out| {
                tarball::pack_files(&files, out).map(|()| true)
            })
            .await?
            .expect("a pack of files always makes a blob");
        self.unpack("/", blob.path(), what).await
    }

    async fn read_dir_files(&self, path: &str) -> Result<BTreeMap<String, Vec<u8>>, ExecError> {
        let what = format!("cannot read `{path}`");
        let op = Op::PackDirFiles {
            path: path.to_string(),
        };
        let (_, blob) = self.call(op, None, &what).await?;
        match blob {
            Some(blob) => tarball::files_of(blob.path()).map_err(|e| self.engine_error(&what, e)),
            None => Ok(BTreeMap::new()),
        }
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, ExecError> {
        let what = format!("cannot read `{path}`");
        match self.pack(path, &what).await? {
            Some(blob) => {
                tarball::single_file(blob.path()).map_err(|e| self.engine_error(&what, e))
            }
            None => Ok(None),
        }
    }

    async fn copy_in(&self, host: &Path, path: &str) -> Result<(), ExecError> {
        let what = format!("cannot copy {} to `{path}`", host.display());
        let source = host.to_path_buf();
        let blob = self
            .packed(&what, move |out| tarball::pack_path(&source, out))
            .await?
            .ok_or_else(|| self.engine_error(&what, "it does not exist"))?;
        self.unpack(path, blob.path(), &what).await
    }

    async fn copy_out(&self, path: &str, host: &Path) -> Result<(), ExecError> {
        let what = format!("cannot copy `{path}` out");
        let blob = self
            .pack(path, &what)
            .await?
            .ok_or_else(|| self.engine_error(&what, "it does not exist"))?;
        let target = host.to_path_buf();
        tokio::task::spawn_blocking(move || tarball::unpack_at(blob.path(), &target, &|c| c))
            .await
            .map_err(|e| self.engine_error(&what, e))?
            .map_err(|e| self.engine_error(&what, e))
    }

    async fn run_step_container(
        &self,
        spec: &StepContainerSpec,
        _cancel: &CancellationToken,
        _on_output: &mut (dyn FnMut(StreamKind, &[u8]) + Send),
    ) -> Result<ExecOutcome, ExecError> {
        Err(ExecError::Engine(format!(
            "job `{}`: Docker actions (`{}`) do not run on {} yet; run the tool with a `run:` step in the job's image",
            self.job_name, spec.image, self.engine
        )))
    }

    fn image_digest(&self) -> &str {
        &self.image_digest
    }

    fn services(&self) -> &[RunningService] {
        &self.services
    }

    fn setup_phases(&self) -> PhaseTimes {
        self.setup_phases.clone()
    }

    async fn remove(self) -> Result<(), ExecError> {
        self.shut_down().await;
        let released = self.end.release().await;
        let _ = self.mailbox.clear().await;
        released
    }
}

/// The end of a cluster backend's `start_job`: the job's files uploaded
/// (see [`upload_job_files`]), or, when that fails, the cluster's job
/// released again.
pub async fn finish_start<E: RemoteEnd>(
    mut env: RemoteEnv<E>,
    spec: &crate::executor::JobSpec,
    cancel: &CancellationToken,
) -> Result<RemoteEnv<E>, ExecError> {
    match upload_job_files(&mut env, spec, cancel).await {
        Ok(()) => Ok(env),
        Err(error) => {
            let _ = env.end.release().await;
            Err(error)
        }
    }
}

/// The id of `image` as this machine's Docker engine knows it (so that cache
/// keys agree with the Docker executor's), else its name.
pub async fn local_image_id(
    docker: Option<&crate::executor::docker::DockerBackend>,
    image: &str,
) -> String {
    match docker {
        Some(docker) => docker
            .image_id(image)
            .await
            .unwrap_or_else(|_| image.to_string()),
        None => image.to_string(),
    }
}

/// The start of a remote job: the workspace, the extra copies and the
/// job's files, through the mailbox. The first request is answered once the
/// agent runs (the job may wait in the cluster's queue first); `cancel`
/// ends the wait.
async fn upload_job_files<E: RemoteEnd>(
    env: &mut RemoteEnv<E>,
    spec: &crate::executor::JobSpec,
    cancel: &CancellationToken,
) -> Result<(), ExecError> {
    let started = Instant::now();
    let upload = async {
        env.copy_in(&spec.workspace, &spec.workspace_path).await?;
        for (host, path) in &spec.copies {
            env.copy_in(host, path).await?;
        }
        env.write_files(spec.files.clone()).await
    };
    let outcome = tokio::select! {
        result = upload => result,
        _ = cancel.cancelled() => Err(ExecError::Cancelled { job: spec.job_name.clone() }),
    };
    if let (Err(ExecError::Engine(_)), Some(reason)) = (&outcome, env.gone()) {
        return Err(ExecError::Engine(format!(
            "job `{}` did not start on {}: {reason} (what it printed is above)",
            spec.job_name, env.engine
        )));
    }
    outcome?;
    env.setup_phases
        .add(crate::timings::Phase::Workspace, started.elapsed());
    Ok(())
}
