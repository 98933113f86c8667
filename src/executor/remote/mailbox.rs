//! The mailbox: where the controller leaves requests for the agent and the
//! agent its replies, with the tar blobs that carry files both ways.
//!
//! ```text
//! <base>/req/<n>.json      request n           (controller → agent)
//! <base>/req/<n>.tar       its files, if any
//! <base>/reply/<n>.json    the reply to n      (agent → controller)
//! <base>/reply/<n>.tar     its files, if any
//! <base>/cancel/<n>        stop the command of request n
//! ```
//!
//! A blob is written before the JSON that announces it, and every object is
//! written whole (S3 puts, or a rename on a file system), so a reader never
//! sees half of one. The base is `s3://bucket/prefix/mailbox/<run>/<job>`
//! on Kubernetes (the pod reaches S3, not this machine) and a directory of
//! the shared file system on Slurm.

use super::protocol::{Reply, Request};
use crate::cache::{Remote, RemoteConfig};
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A blob as it arrived: a temporary file, removed when dropped.
pub type Blob = tempfile::NamedTempFile;

/// Blobs above this size go up in parts of [`PART_SIZE`].
const MULTIPART_ABOVE: u64 = 32 << 20;
const PART_SIZE: usize = 16 << 20;

/// How often a side looks for the other's next object: at first every
/// 50 ms (a step's next request follows its last reply closely), then less
/// and less often up to every 500 ms, so that a side waiting long (a slow
/// upload, the controller hashing outputs) does not cost S3 twenty requests
/// a second.
#[derive(Clone, Debug)]
pub struct Poll {
    next: Duration,
}

const POLL_FIRST: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_millis(500);

impl Default for Poll {
    fn default() -> Poll {
        Poll { next: POLL_FIRST }
    }
}

impl Poll {
    /// The wait before the next look; each one is longer, up to 500 ms.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 3 / 2).min(POLL_MAX);
        wait
    }

    /// Sleeps until the next look.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }

    /// Looks often again (something just happened).
    pub fn reset(&mut self) {
        self.next = POLL_FIRST;
    }
}

/// How the agent reaches S3 when its environment is not the controller's:
/// the values come from the Kubernetes Secret, under the names of
/// [`S3Access::from_agent_env`].
#[derive(Clone, Debug, Default)]
pub struct S3Access {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// The agent's own variables: the job's commands do not see them.
pub const AGENT_ENV_PREFIX: &str = "MLCI_AGENT_";

impl S3Access {
    pub fn from_agent_env() -> S3Access {
        let var = |name: &str| {
            std::env::var(format!("{AGENT_ENV_PREFIX}{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        S3Access {
            endpoint: var("S3_ENDPOINT"),
            region: var("AWS_REGION"),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        }
    }

    /// The controller's own access, as the remote cache sees it, for the
    /// agent's Secret.
    pub fn from_controller_env() -> S3Access {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        S3Access {
            endpoint: var("MLCI_S3_ENDPOINT").or_else(|| var("AWS_ENDPOINT_URL")),
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            access_key_id: var("AWS_ACCESS_KEY_ID"),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
        }
    }

    /// The agent's environment that carries this access (into a Secret).
    pub fn agent_env(&self) -> Vec<(String, String)> {
        [
            ("S3_ENDPOINT", &self.endpoint),
            ("AWS_REGION", &self.region),
            ("AWS_ACCESS_KEY_ID", &self.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_access_key),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            value
                .as_ref()
                .map(|v| (format!("{AGENT_ENV_PREFIX}{name}"), v.clone()))
        })
        .collect()
    }
}

#[derive(Clone)]
pub struct Mailbox {
    url: String,
    store: Arc<dyn ObjectStore>,
    base: String,
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox").field("url", &self.url).finish()
    }
}

impl Mailbox {
    /// Opens `s3://bucket/prefix` (endpoint and credentials as for the
    /// remote cache: `MLCI_S3_ENDPOINT`, `AWS_*`, unless `access` says) or
    /// `file:///absolute/dir`.
    pub fn open(url: &str, access: &S3Access) -> Result<Mailbox, String> {
        if let Some(dir) = url.strip_prefix("file://") {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the mailbox directory {dir}: {e}"))?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| format!("cannot open the mailbox directory {dir}: {e}"))?;
            return Ok(Mailbox {
                url: url.to_string(),
                store: Arc::new(store),
                base: String::new(),
            });
        }
        if url.starts_with("s3://") {
            let mut config = RemoteConfig::new(url);
            config.progress = false;
            if access.endpoint.is_some() {
                config.endpoint = access.endpoint.clone();
            }
            config.region = access.region.clone().or(config.region);
            config.access_key_id = access.access_key_id.clone();
            config.secret_access_key = access.secret_access_key.clone();
            let remote = Remote::connect(config).map_err(|e| e.to_string())?;
            let rest = url.trim_start_matches("s3://");
            let base = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
            return Ok(Mailbox {
                url: url.to_string(),
                store: remote.object_store(),
                base: base.trim_matches('/').to_string(),
            });
        }
        Err(format!(
            "the mailbox `{url}` is neither s3://bucket/prefix nor file:///directory"
        ))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn path(&self, relative: &str) -> ObjectPath {
        if self.base.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.base))
        }
    }

    async fn put(&self, relative: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.store
            .put(&self.path(relative), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| format!("mailbox {}: cannot write {relative}: {e}", self.url))
    }

    /// A blob from a file: in parts above [`MULTIPART_ABOVE`], so that a
    /// large workspace or dataset never sits in memory.
    async fn put_file(&self, relative: &str, file: &Path) -> Result<(), String> {
        let failed = |e: &dyn std::fmt::Display| {
            format!("mailbox {}: cannot write {relative}: {e}", self.url)
        };
        let size = std::fs::metadata(file).map_err(|e| failed(&e))?.len();
        if size <= MULTIPART_ABOVE {
            let bytes = std::fs::read(file).map_err(|e| failed(&e))?;
            return self.put(relative, bytes).await;
        }
        let upload = self
            .store
            .put_multipart(&self.path(relative))
            .await
            .map_err(|e| failed(&e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut source = std::fs::File::open(file).map_err(|e| failed(&e))?;
        let mut buffer = vec![0u8; PART_SIZE];
        loop {
            let n = source.read(&mut buffer).map_err(|e| failed(&e))?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await.map_err(|e| failed(&e))?;
            writer.write(&buffer[..n]);
        }
        writer.finish().await.map(|_| ()).map_err(|e| failed(&e))
    }

    /// The object, or None while it is not there.
    async fn get(&self, relative: &str) -> Result<Option<Vec<u8>>, String> {
        match self.store.get(&self.path(relative)).await {
            Ok(result) => result
                .bytes()
                .await
                .map(|b| Some(b.to_vec()))
                .map_err(|e| format!("mailbox {}: cannot read {relative}: {e}", self.url)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(format!("mailbox {}: cannot read {relative}: {e}", self.url)),
        }
    }

    /// A blob into a temporary file, streamed; None when it is not there.
    async fn get_file(&self, relative: &str) -> Result<Option<Blob>, String> {
        let failed = |e: &dyn std::fmt::Display| {
            format!("mailbox {}: cannot read {relative}: {e}", self.url)
        };
        let result = match self.store.get(&self.path(relative)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(failed(&e)),
        };
        let mut file = tempfile::NamedTempFile::new().map_err(|e| failed(&e))?;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| failed(&e))?;
            file.write_all(&chunk).map_err(|e| failed(&e))?;
        }
        file.flush().map_err(|e| failed(&e))?;
        Ok(Some(file))
    }

    pub async fn send_request(&self, request: &Request, blob: Option<&Path>) -> Result<(), String> {
        let n = request.number;
        if let Some(blob) = blob {
            self.put_file(&format!("req/{n}.tar"), blob).await?;
        }
        let json = serde_json::to_vec(request).expect("requests serialise");
        self.put(&format!("req/{n}.json"), json).await
    }

    /// Request `n` with its blob, once it is there.
    pub async fn poll_request(&self, n: u64) -> Result<Option<(Request, Option<Blob>)>, String> {
        let Some(json) = self.get(&format!("req/{n}.json")).await? else {
            return Ok(None);
        };
        let request: Request = serde_json::from_slice(&json)
            .map_err(|e| format!("mailbox {}: request {n} is not valid: {e}", self.url))?;
        let blob = self.get_file(&format!("req/{n}.tar")).await?;
        Ok(Some((request, blob)))
    }

    pub async fn send_reply(&self, reply: &Reply, blob: Option<&Path>) -> Result<(), String> {
        let n = reply.number;
        if let Some(blob) = blob {
            self.put_file(&format!("reply/{n}.tar"), blob).await?;
        }
        let json = serde_json::to_vec(reply).expect("replies serialise");
        self.put(&format!("reply/{n}.json"), json).await
    }

    pub async fn poll_reply(&self, n: u64) -> Result<Option<(Reply, Option<Blob>)>, String> {
        let Some(json) = self.get(&format!("reply/{n}.json")).await? else {
            return Ok(None);
        };
        let reply: Reply = serde_json::from_slice(&json)
            .map_err(|e| format!("mailbox {}: reply {n} is not valid: {e}", self.url))?;
        let blob = match reply.blob {
            true => self.get_file(&format!("reply/{n}.tar")).await?,
            false => None,
        };
        Ok(Some((reply, blob)))
    }

    pub async fn cancel(&self, n: u64) -> Result<(), String> {
        self.put(&format!("cancel/{n}"), Vec::new()).await
    }

    pub async fn is_cancelled(&self, n: u64) -> Result<bool, String> {
        Ok(self.get(&format!("cancel/{n}")).await?.is_some())
    }

    /// Removes everything under the base (the job is over).
    pub async fn clear(&self) -> Result<(), String> {
        let prefix = (!self.base.is_empty()).then(|| ObjectPath::from(self.base.as_str()));
        let mut listing = self.store.list(prefix.as_ref());
        let mut paths = Vec::new();
        while let Some(meta) = listing.next().await {
            match meta {
                Ok(meta) => paths.push(meta.location),
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(format!("mailbox {}: cannot list: {e}", self.url)),
            }
        }
        for path in paths {
            let _ = self.store.delete(&path).await;
        }
        Ok(())
    }
}
