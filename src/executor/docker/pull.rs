//! Pulling images through the engine (`POST /images/create`, bollard's
//! `create_image`), as Docker and act do: under `--pull missing` an image is
//! pulled when it is not present, under `always` once per run, under `never`
//! not at all. Each distinct image is pulled at most once per run however
//! many jobs ask for it at once: the first asks, the others wait for its
//! answer, and a failure is the answer for all of them.
//!
//! The runner images (`mlci/…`) and the tests' and actions' local images
//! (`mlci-test/…`, `mlci-action/…`) are built, never pulled: a missing one
//! says how to build it.
//!
//! Credentials come from `credentials` (the workflow's, then docker's
//! configuration file); progress goes to [`PullProgress`]; a failure is one
//! [`PullError`] sentence.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::CreateImageInfo;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::terminal::ProgressMode as Mode;
use tokio::sync::OnceCell;

use super::credentials::{Reference, credentials_for};
use super::errors::{HINT_BUILD, engine_error, status_of};
use crate::executor::{ExecError, PullError, PullPolicy, RegistryCredentials};

/// Names that `mlci images build`, the tests or a Docker action build
/// locally: never pulled.
const LOCAL_ONLY: &[&str] = &["mlci/", "mlci-test/", "mlci-action/"];

/// One image's pull in a run: done once, its answer shared.
type OnePull = Arc<OnceCell<Result<(), PullError>>>;

/// A run's pulls: its policy, and each image's one pull.
pub struct Pulls {
    policy: PullPolicy,
    progress: PullProgress,
    pulled: Mutex<HashMap<String, OnePull>>,
}

impl std::fmt::Debug for Pulls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pulls")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Pulls {
    pub fn new(policy: PullPolicy, progress: PullProgress) -> Arc<Pulls> {
        Arc::new(Pulls {
            policy,
            progress,
            pulled: Mutex::new(HashMap::new()),
        })
    }

    pub fn policy(&self) -> PullPolicy {
        self.policy
    }

    /// The one pull of `image` in this run, shared by whoever asks.
    fn cell(&self, image: &str) -> OnePull {
        let mut pulled = self.pulled.lock().unwrap_or_else(|e| e.into_inner());
        pulled.entry(image.to_string()).or_default().clone()
    }
}

impl Default for Pulls {
    fn default() -> Self {
        Pulls {
            policy: PullPolicy::Missing,
            progress: PullProgress::auto(),
            pulled: Mutex::new(HashMap::new()),
        }
    }
}

/// Makes `image` present as the run's policy says (see the module
/// documentation). When the caller that is pulling stops waiting (a
/// cancelled job), its pull stops, and the next that asks pulls again.
pub(super) async fn ensure(
    docker: &Docker,
    pulls: &Pulls,
    image: &str,
    credentials: Option<&RegistryCredentials>,
) -> Result<(), ExecError> {
    if LOCAL_ONLY.iter().any(|p| image.starts_with(p)) {
        return match docker.inspect_image(image).await {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Err(ExecError::ImageMissing {
                image: image.to_string(),
                detail: HINT_BUILD.to_string(),
            }),
            Err(e) => Err(engine_error(&format!("inspecting image `{image}`"), e)),
        };
    }
    let policy = pulls.policy;
    if policy != PullPolicy::Always && is_present(docker, image).await? {
        return Ok(());
    }
    if policy == PullPolicy::Never {
        return Err(PullError::Forbidden {
            image: image.to_string(),
        }
        .into());
    }
    pulls
        .cell(image)
        .get_or_init(|| {
            pull(
                docker.clone(),
                image.to_string(),
                credentials.cloned(),
                pulls.progress.clone(),
            )
        })
        .await
        .clone()
        .map_err(ExecError::from)
}

async fn is_present(docker: &Docker, image: &str) -> Result<bool, ExecError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(e) if status_of(&e) == Some(404) => Ok(false),
        Err(e) => Err(engine_error(&format!("inspecting image `{image}`"), e)),
    }
}

/// One pull, from the first request to the engine to its last progress line.
async fn pull(
    docker: bollard::Docker,
    image: String,
    credentials: Option<RegistryCredentials>,
    progress: PullProgress,
) -> Result<(), PullError> {
    let reference = Reference::parse(&image);
    let auth = credentials_for(&image, &reference, credentials.as_ref()).await?;
    let options = CreateImageOptionsBuilder::default()
        .from_image(&reference.repository)
        .tag(&reference.tag)
        .build();
    let mut task = progress.start(&image);
    let mut stream = docker.create_image(Some(options), None, auth);
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => task.update(&info),
            Err(e) => {
                task.fail();
                return Err(classify(&image, &reference, e));
            }
        }
    }
    task.finish();
    Ok(())
}

/// The engine's answer to a failed pull, as one of [`PullError`]'s sentences.
fn classify(image: &str, reference: &Reference, e: DockerError) -> PullError {
    let status = status_of(&e);
    let message = match e {
        DockerError::DockerResponseServerError { message, .. } => message,
        DockerError::DockerStreamError { error } => error,
        other => other.to_string(),
    };
    let lower = message.to_lowercase();
    let image = image.to_string();
    let registry = if reference.is_docker_hub() {
        "Docker Hub (docker.io)".to_string()
    } else {
        reference.registry.clone()
    };
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if has(&[
        "connection refused",
        "no such host",
        "dial tcp",
        "i/o timeout",
        "network is unreachable",
        "no route to host",
        "server misbehaving",
        "tls handshake timeout",
        "context deadline exceeded",
        "connection reset",
        "temporary failure in name resolution",
    ]) {
        // The cause is the end of the engine's chain of messages.
        let detail = message
            .rsplit(": ")
            .next()
            .unwrap_or(&message)
            .trim()
            .to_string();
        return PullError::Unreachable {
            image,
            registry,
            detail,
        };
    }
    if has(&[
        "manifest unknown",
        "name unknown",
        "repository does not exist",
        "not found",
    ]) || status == Some(404)
    {
        return PullError::NotFound { image, registry };
    }
    if has(&[
        "unauthorized",
        "no basic auth credentials",
        "authentication required",
        "denied",
        "forbidden",
        "401",
        "403",
    ]) {
        return PullError::Denied {
            image,
            registry,
            login: reference.login_name().to_string(),
        };
    }
    PullError::Other {
        image,
        detail: message.trim().to_string(),
    }
}

/// Where a pull's progress goes: a bar of the layers' bytes on a terminal,
/// one line at its start and one at its end otherwise, or nowhere.
#[derive(Clone, Debug)]
pub struct PullProgress {
    mode: Mode,
}

impl PullProgress {
    /// A bar when stderr is a terminal and `CI` is not set; plain lines otherwise.
    pub fn auto() -> PullProgress {
        PullProgress {
            mode: Mode::for_stderr(),
        }
    }

    pub fn quiet() -> PullProgress {
        PullProgress { mode: Mode::Quiet }
    }

    fn start(&self, image: &str) -> PullTask {
        let bar = (self.mode == Mode::Bar).then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} pulling {prefix:.bold} {bytes}/{total_bytes} [{bar:30}] {msg} {elapsed}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(image.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if self.mode == Mode::Plain {
            eprintln!("pulling {image}");
        }
        PullTask {
            image: image.to_string(),
            mode: self.mode,
            bar,
            layers: HashMap::new(),
            started: Instant::now(),
        }
    }
}

struct PullTask {
    image: String,
    mode: Mode,
    bar: Option<ProgressBar>,
    /// Layer id → (bytes done, bytes in all).
    layers: HashMap<String, (u64, u64)>,
    started: Instant,
}

impl PullTask {
    fn update(&mut self, info: &CreateImageInfo) {
        let Some(bar) = &self.bar else { return };
        let (Some(id), Some(status)) = (&info.id, &info.status) else {
            return;
        };
        let entry = self.layers.entry(id.clone()).or_insert((0, 0));
        let detail = info.progress_detail.as_ref();
        let current = detail.and_then(|d| d.current).unwrap_or(0).max(0) as u64;
        let total = detail.and_then(|d| d.total).unwrap_or(0).max(0) as u64;
        match status.as_str() {
            "Downloading" => {
                entry.1 = entry.1.max(total);
                entry.0 = current.min(entry.1.max(current));
            }
            "Download complete" | "Pull complete" | "Already exists" => entry.0 = entry.1,
            _ => {}
        }
        let (done, all) = self
            .layers
            .values()
            .fold((0, 0), |(d, a), (ld, la)| (d + ld, a + la));
        bar.set_length(all);
        bar.set_position(done);
        let complete = self
            .layers
            .len()
            .saturating_sub(self.layers.values().filter(|(d, a)| d < a).count());
        bar.set_message(format!("{complete}/{} layers", self.layers.len()));
    }

    fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.mode != Mode::Quiet {
            eprintln!(
                "pulled {} in {:.1} s",
                self.image,
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn fail(self) {
        if let Some(bar) = &self.bar {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_error(message: &str, status_code: u16) -> DockerError {
        DockerError::DockerResponseServerError {
            status_code,
            message: message.to_string(),
        }
    }

    #[test]
    fn engine_answers_become_sentences() {
        let r = Reference::parse("127.0.0.1:5001/private:1");
        let denied = classify(
            "127.0.0.1:5001/private:1",
            &r,
            server_error(
                "Head \"http://127.0.0.1:5001/v2/private/manifests/1\": no basic auth credentials",
                500,
            ),
        );
        assert!(matches!(denied, PullError::Denied { .. }), "{denied}");
        assert!(denied.to_string().contains("docker login 127.0.0.1:5001"));
        let missing = classify(
            "x",
            &r,
            server_error(
                "manifest for 127.0.0.1:5000/nope:latest not found: manifest unknown: manifest unknown",
                404,
            ),
        );
        assert!(matches!(missing, PullError::NotFound { .. }), "{missing}");
        let offline = classify(
            "x",
            &r,
            server_error(
                "Get \"http://127.0.0.1:1/v2/\": dial tcp 127.0.0.1:1: connect: connection refused",
                500,
            ),
        );
        assert!(
            offline
                .to_string()
                .contains("unreachable (connection refused)"),
            "{offline}"
        );
    }
}
