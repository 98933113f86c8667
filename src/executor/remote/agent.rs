//! `mlci agent`: the far end of a cluster executor. It runs inside the job's
//! container (the pod's main container, the container of a Slurm job),
//! takes the requests of the mailbox in order, and carries them out there:
//! commands as child processes whose output goes to its standard output as
//! frames, files unpacked from and packed into tar blobs.
//!
//! It exits when the controller says `Shutdown`, or when no request has come
//! for [`idle_limit`] (the controller is gone; the pod or the Slurm job must
//! not hold its GPUs for ever).

use super::mailbox::{AGENT_ENV_PREFIX, Blob, Mailbox, Poll};
use super::protocol::{Frame, Op, Outcome, Reply, Request, SecretPlaceholders};
use super::tarball;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// How often a running command looks for a cancel request (one S3 request
/// each time, for as long as the step runs).
const CANCEL_POLL: Duration = Duration::from_millis(500);

/// How long the agent waits for a request before it concludes that the
/// controller is gone (`MLCI_AGENT_IDLE_SECS`, default 15 minutes).
pub fn idle_limit() -> Duration {
    let secs = std::env::var(format!("{AGENT_ENV_PREFIX}IDLE_SECS"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15 * 60);
    Duration::from_secs(secs)
}

/// The agent's first and last lines: in the pod's log for whoever reads it,
/// not repeated in mlci's output.
const SERVING: &str = concat!("mlci agent ", env!("CARGO_PKG_VERSION"), ": serving");
const DONE: &str = "mlci agent: done";

pub fn is_routine(line: &str) -> bool {
    line.starts_with(SERVING) || line == DONE
}

/// Where the agent's frames and messages go: its standard output, a line at
/// a time, never interleaved.
#[derive(Clone)]
struct Out(Arc<Mutex<std::io::Stdout>>);

impl Out {
    fn line(&self, text: &str) {
        let mut out = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Serves the mailbox until `Shutdown`; Err when the controller went away
/// or the mailbox cannot be reached.
pub async fn serve(mailbox: Mailbox, secrets: SecretPlaceholders) -> Result<(), String> {
    let out = Out(Arc::new(Mutex::new(std::io::stdout())));
    out.line(&format!("{SERVING} {}\n", mailbox.url()));
    let idle = idle_limit();
    let mut number = 1;
    loop {
        let waiting_since = Instant::now();
        let mut poll = Poll::default();
        let (request, blob) = loop {
            if let Some(found) = mailbox.poll_request(number).await? {
                break found;
            }
            if waiting_since.elapsed() > idle {
                return Err(format!(
                    "no request for {} s: the controller is gone",
                    idle.as_secs()
                ));
            }
            poll.wait().await;
        };
        // No reply: the controller does not wait for one, and clears the
        // mailbox meanwhile.
        if matches!(request.op, Op::Shutdown) {
            out.line(&format!("{DONE}\n"));
            return Ok(());
        }
        let (reply, reply_blob) = carry_out(&request, blob, &mailbox, &secrets, &out).await;
        mailbox
            .send_reply(&reply, reply_blob.as_ref().map(|b| b.path()))
            .await?;
        number += 1;
    }
}

async fn carry_out(
    request: &Request,
    blob: Option<Blob>,
    mailbox: &Mailbox,
    secrets: &SecretPlaceholders,
    out: &Out,
) -> (Reply, Option<Blob>) {
    let number = request.number;
    let mut reply = Reply {
        number,
        ..Reply::default()
    };
    let mut reply_blob = None;
    let result: Result<(), String> = match &request.op {
        Op::Exec {
            argv,
            env,
            workdir,
            timeout_ms,
        } => {
            let timeout = timeout_ms.map(Duration::from_millis);
            let outcome = exec(number, argv, env, workdir, timeout, mailbox, secrets, out).await;
            out.line(&Frame::End(number).encode());
            outcome.map(|o| reply.outcome = Some(o))
        }
        Op::Unpack { path } => match blob {
            Some(blob) => {
                let target = Path::new(path).to_path_buf();
                let secrets = secrets.clone();
                blocking(move || {
                    tarball::unpack_at(blob.path(), &target, &|c| secrets.reveal_bytes(&c))
                })
                .await
                .map_err(|e| format!("cannot write `{path}`: {e}"))
            }
            None => Err(format!("no files came with the request to write `{path}`")),
        },
        Op::Pack { path } => {
            let source = Path::new(path).to_path_buf();
            let packed = blocking(move || {
                let mut blob = tarball::blob_file()?;
                let found = tarball::pack_path(&source, blob.as_file_mut())?;
                Ok(found.then_some(blob))
            })
            .await;
            match packed {
                Ok(Some(packed)) => {
                    reply.blob = true;
                    reply_blob = Some(packed);
                    Ok(())
                }
                Ok(None) => {
                    reply.missing = true;
                    Ok(())
                }
                Err(e) => Err(format!("cannot read `{path}`: {e}")),
            }
        }
        Op::PackDirFiles { path } => {
            let source = Path::new(path).to_path_buf();
            let packed = blocking(move || {
                let mut blob = tarball::blob_file()?;
                tarball::pack_dir_files(&source, blob.as_file_mut())?;
                Ok(blob)
            })
            .await;
            match packed {
                Ok(packed) => {
                    reply.blob = true;
                    reply_blob = Some(packed);
                    Ok(())
                }
                Err(e) => Err(format!("cannot read `{path}`: {e}")),
            }
        }
        Op::Shutdown => Ok(()),
    };
    if let Err(error) = result {
        reply.error = Some(error);
    }
    (reply, reply_blob)
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(std::io::Error::other)?
}

/// Runs one command to its end, its timeout or its cancel request.
#[allow(clippy::too_many_arguments)]
async fn exec(
    number: u64,
    argv: &[String],
    env: &BTreeMap<String, String>,
    workdir: &str,
    timeout: Option<Duration>,
    mailbox: &Mailbox,
    secrets: &SecretPlaceholders,
    out: &Out,
) -> Result<Outcome, String> {
    let argv: Vec<String> = argv.iter().map(|a| secrets.reveal(a)).collect();
    let Some(program) = argv.first() else {
        return Err("an empty command".to_string());
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a timeout or a cancel kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    for (name, value) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(AGENT_ENV_PREFIX) {
            command.env_remove(name);
        } else if let Some(value) = value.to_str() {
            // The container's own env (container.env) carries placeholders too.
            let revealed = secrets.reveal(value);
            if revealed != value {
                command.env(name, revealed);
            }
        }
    }
    for (name, value) in env {
        command.env(name, secrets.reveal(value));
    }
    if !workdir.is_empty() {
        let _ = std::fs::create_dir_all(workdir);
        command.current_dir(workdir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let message = format!("mlci agent: cannot start `{program}`: {error}\n");
            out.line(&Frame::Stderr(number, message.into_bytes()).encode());
            return Ok(Outcome::Exited(127));
        }
    };
    let pid = child.id();
    let readers = [
        child
            .stdout
            .take()
            .map(|s| forward(s, number, false, secrets, out)),
        child
            .stderr
            .take()
            .map(|s| forward(s, number, true, secrets, out)),
    ];
    let readers: Vec<_> = readers.into_iter().flatten().collect();
    let started = Instant::now();
    let outcome = loop {
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        tokio::select! {
            status = child.wait() => {
                let status = status.map_err(|e| format!("cannot wait for `{program}`: {e}"))?;
                use std::os::unix::process::ExitStatusExt;
                let code = status.code().map(i64::from)
                    .or_else(|| status.signal().map(|s| 128 + i64::from(s)))
                    .unwrap_or(1);
                break Outcome::Exited(code);
            }
            _ = tokio::time::sleep(left.unwrap_or(CANCEL_POLL).min(CANCEL_POLL)) => {
                if left.is_some_and(|l| l.is_zero()) {
                    kill_group(pid);
                    let _ = child.wait().await;
                    break Outcome::TimedOut;
                }
                if mailbox.is_cancelled(number).await.unwrap_or(false) {
                    kill_group(pid);
                    let _ = child.wait().await;
                    break Outcome::Cancelled;
                }
            }
        }
    };
    // The output is complete once both pipes close; a daemon the command
    // left behind may hold them open, so the wait is bounded.
    for reader in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    Ok(outcome)
}

fn forward(
    mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    number: u64,
    stderr: bool,
    secrets: &SecretPlaceholders,
    out: &Out,
) -> tokio::task::JoinHandle<()> {
    let (secrets, out) = (secrets.clone(), out.clone());
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 32 * 1024];
        loop {
            match pipe.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let bytes = secrets.mask_bytes(&buffer[..n]);
                    let frame = if stderr {
                        Frame::Stderr(number, bytes)
                    } else {
                        Frame::Stdout(number, bytes)
                    };
                    out.line(&frame.encode());
                }
            }
        }
    })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid {
        // SAFETY: kill(2) with a negative pid signals the process group the
        // child leads; no memory is shared.
        unsafe {
            libc::kill(-(pid as i32), libc::SIGKILL);
        }
    }
}

/// The secrets the agent was given: a JSON object of name → value in the
/// file `MLCI_AGENT_SECRETS_FILE` (a Kubernetes Secret mounted as a file, a
/// file only the user can read on Slurm); none without it.
pub fn load_secrets() -> Result<SecretPlaceholders, String> {
    let Ok(path) = std::env::var(format!("{AGENT_ENV_PREFIX}SECRETS_FILE")) else {
        return Ok(SecretPlaceholders::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(SecretPlaceholders::default());
        }
        Err(e) => return Err(format!("cannot read the secrets file {path}: {e}")),
    };
    let secrets: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| format!("the secrets file {path} is not a JSON object of strings: {e}"))?;
    Ok(SecretPlaceholders::new(&secrets))
}
