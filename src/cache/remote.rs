//! The remote cache: the store's layout on S3-compatible storage, shared by machines.
//!
//! ```text
//! <prefix>/objects/ab/cdef…     the same content-addressed objects
//! <prefix>/entries/<key>.json   the same entries, written after their objects
//! ```
//!
//! Pull on a local miss (entry, then the objects the local store lacks, each verified
//! against its BLAKE3 while it streams in); push after a save (only the objects the
//! remote lacks, multipart above a threshold, the entry last). Remote data is never
//! trusted: entries are checked like local ones and objects by hash.
//!
//! A remote that cannot be reached costs one warning line: the run goes on with the
//! local cache, and the remote is not tried again by this `Remote`.

use super::key::CacheKey;
use super::store::{Entry, Store, StoreError, entry_file_name, valid_hash};
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Objects at least this large show a progress bar (on a terminal).
const PROGRESS_MIN: u64 = 8 << 20;

/// How to reach the remote.
#[derive(Clone, Debug)]
pub struct RemoteConfig {
    /// `s3://bucket/prefix`.
    pub url: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); else `MLCI_S3_ENDPOINT`, else
    /// `AWS_ENDPOINT_URL`, else AWS. Plain http is allowed for an http:// endpoint.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Credentials; else the AWS_* environment and the usual AWS providers.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// Objects larger than this are uploaded in parts.
    pub multipart_threshold: u64,
    /// The size of each part (S3 wants at least 5 MiB but for the last).
    pub part_size: usize,
    /// Retries of a failed request (object_store's RetryConfig, with backoff).
    pub max_retries: usize,
    pub retry_timeout: Duration,
    pub connect_timeout: Duration,
    /// Progress bars for large transfers; on by default when stderr is a terminal.
    pub progress: bool,
}

impl RemoteConfig {
    /// A configuration with the defaults: 64 MiB multipart threshold, 16 MiB parts,
    /// 3 retries within 30 s, 5 s to connect.
    pub fn new(url: impl Into<String>) -> RemoteConfig {
        let endpoint = ["MLCI_S3_ENDPOINT", "AWS_ENDPOINT_URL"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()));
        RemoteConfig {
            url: url.into(),
            endpoint,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            multipart_threshold: 64 << 20,
            part_size: 16 << 20,
            max_retries: 3,
            retry_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            progress: std::io::stderr().is_terminal(),
        }
    }

    /// The remote named by `--cache-remote` (given here), else by `MLCI_CACHE_REMOTE`.
    pub fn from_arg_or_env(arg: Option<&str>) -> Option<RemoteConfig> {
        let url = arg
            .map(str::to_string)
            .or_else(|| std::env::var("MLCI_CACHE_REMOTE").ok())
            .filter(|u| !u.is_empty())?;
        Some(RemoteConfig::new(url))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the cache remote `{0}` is not of the form s3://bucket/prefix")]
    BadUrl(String),
    #[error("cache remote {url}: {source}")]
    Unavailable {
        url: String,
        source: object_store::Error,
    },
    #[error("the remote cache entry `{key}` is corrupt: {reason}")]
    Corrupt { key: String, reason: String },
    #[error("there is no local cache entry `{0}` to push")]
    NotLocal(String),
    #[error(transparent)]
    Local(#[from] StoreError),
}

/// What a push sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PushStats {
    pub objects_sent: usize,
    pub objects_skipped: usize,
    pub bytes_sent: u64,
}

/// A connection to the remote cache.
pub struct Remote {
    config: RemoteConfig,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    down: AtomicBool,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.config.url)
            .finish()
    }
}

impl Remote {
    /// Builds the client (no request is made yet).
    pub fn connect(config: RemoteConfig) -> Result<Remote, RemoteError> {
        // The HTTP client's TLS runs on ring (the build has no other provider);
        // installing it twice is refused, and harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bad = || RemoteError::BadUrl(config.url.clone());
        let rest = config.url.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad());
        }
        let prefix = prefix.trim_matches('/').to_string();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(false);
        }
        let region = config
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .unwrap_or_else(|| "us-east-1".to_string());
        builder = builder.with_region(region);
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
        }
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(5),
                base: 2.0,
            },
            max_retries: config.max_retries,
            retry_timeout: config.retry_timeout,
        };
        // Client options carry allow_http: set here, not on the builder, which they replace.
        let allow_http = config
            .endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        let options = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(config.connect_timeout)
            .with_timeout(Duration::from_secs(300));
        let store = builder
            .with_retry(retry)
            .with_client_options(options)
            .build()
            .map_err(|source| RemoteError::Unavailable {
                url: config.url.clone(),
                source,
            })?;
        Ok(Remote {
            config,
            store: Arc::new(store),
            prefix,
            down: AtomicBool::new(false),
        })
    }

    pub fn url(&self) -> &str {
        &self.config.url
    }

    /// The underlying object store (tests use it to look at or tamper with the remote).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    fn location(&self, relative: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// Where an object lives on the remote.
    pub fn object_location(&self, hash: &str) -> ObjectPath {
        self.location(&format!("objects/{}/{}", &hash[..2], &hash[2..]))
    }

    /// Where a file of the shared model registry lives (`registry/<relative>`).
    pub fn registry_location(&self, relative: &str) -> ObjectPath {
        self.location(&format!("registry/{relative}"))
    }

    /// Where an entry lives on the remote.
    pub fn entry_location(&self, key: &str) -> ObjectPath {
        self.location(&format!("entries/{}", entry_file_name(key)))
    }

    fn unavailable(&self, source: object_store::Error) -> RemoteError {
        RemoteError::Unavailable {
            url: self.config.url.clone(),
            source,
        }
    }

    /// Fetches the entry of `key` and the objects the local store lacks, verifies them
    /// and adds them to `store`; returns the entry as [`Store::lookup`] gives it.
    /// Ok(None) when the remote has no such entry.
    pub async fn pull(&self, store: &Store, key: &CacheKey) -> Result<Option<Entry>, RemoteError> {
        let bytes = match self.store.get(&self.entry_location(key.as_str())).await {
            Ok(result) => result.bytes().await.map_err(|e| self.unavailable(e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(self.unavailable(error)),
        };
        let corrupt = |reason: String| RemoteError::Corrupt {
            key: key.to_string(),
            reason,
        };
        let entry = store
            .parse_entry(key.as_str(), &bytes)
            .map_err(|e| corrupt(e.to_string()))?;
        super::store::check_safe(&entry).map_err(|e| corrupt(e.to_string()))?;
        let mut seen = HashSet::new();
        for file in entry.outputs.files() {
            if !seen.insert(file.hash.as_str()) || store.has_object(&file.hash) {
                continue;
            }
            self.download_object(store, &file.hash, file.size, &file.path)
                .await
                .map_err(|e| match e {
                    RemoteError::Corrupt { reason, .. } => corrupt(reason),
                    other => other,
                })?;
        }
        store.import_entry(key.as_str(), &bytes)?;
        Ok(store.lookup(key))
    }

    async fn download_object(
        &self,
        store: &Store,
        hash: &str,
        size: u64,
        label: &str,
    ) -> Result<(), RemoteError> {
        let result = match self.store.get(&self.object_location(hash)).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(RemoteError::Corrupt {
                    key: String::new(),
                    reason: format!("the object of {label} is missing"),
                });
            }
            Err(error) => return Err(self.unavailable(error)),
        };
        let temp = store.temp_path("download");
        let local = |source| {
            RemoteError::Local(StoreError::Io {
                path: temp.clone(),
                source,
            })
        };
        let bar = self.progress_bar(size, &format!("pull {label}"));
        let outcome = async {
            let mut file = std::fs::File::create(&temp).map_err(local)?;
            let mut hasher = blake3::Hasher::new();
            let mut stream = result.into_stream();
            let mut received = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.unavailable(e))?;
                hasher.update(&chunk);
                file.write_all(&chunk).map_err(local)?;
                received += chunk.len() as u64;
                if let Some(bar) = &bar {
                    bar.set_position(received);
                }
            }
            if received != size || hasher.finalize().to_hex().as_str() != hash {
                return Err(RemoteError::Corrupt {
                    key: String::new(),
                    reason: format!("the object of {label} does not match its hash"),
                });
            }
            Ok(())
        }
        .await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let Err(error) = outcome {
            let _ = std::fs::remove_file(&temp);
            return Err(error);
        }
        store.commit_object(&temp, hash)?;
        Ok(())
    }

    /// Sends the local entry of `key`: the objects the remote lacks, then the entry.
    pub async fn push(&self, store: &Store, key: &CacheKey) -> Result<PushStats, RemoteError> {
        let entry = store
            .peek(key)
            .ok_or_else(|| RemoteError::NotLocal(key.to_string()))?;
        let mut stats = PushStats::default();
        let mut seen = HashSet::new();
        for file in entry.outputs.files() {
            if !seen.insert(file.hash.as_str()) || !valid_hash(&file.hash) {
                continue;
            }
            let location = self.object_location(&file.hash);
            match self.store.head(&location).await {
                Ok(meta) if meta.size == file.size => {
                    stats.objects_skipped += 1;
                    continue;
                }
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(self.unavailable(error)),
            }
            // A corrupt local object is never sent (and is removed).
            store
                .verify_object(&file.hash, file.size)
                .map_err(|fault| RemoteError::Local(fault.for_entry(key.as_str(), &file.path)))?;
            let object = store.object_path(&file.hash);
            self.upload_object(&object, &location, file.size, &file.path)
                .await?;
            stats.objects_sent += 1;
            stats.bytes_sent += file.size;
        }
        let bytes = store.entry_bytes(key.as_str())?;
        self.store
            .put(&self.entry_location(key.as_str()), PutPayload::from(bytes))
            .await
            .map_err(|e| self.unavailable(e))?;
        Ok(stats)
    }

    async fn upload_object(
        &self,
        path: &std::path::Path,
        location: &ObjectPath,
        size: u64,
        label: &str,
    ) -> Result<(), RemoteError> {
        let local = |source| {
            RemoteError::Local(StoreError::Io {
                path: path.to_path_buf(),
                source,
            })
        };
        if size <= self.config.multipart_threshold {
            let bytes = std::fs::read(path).map_err(local)?;
            self.store
                .put(location, PutPayload::from(bytes))
                .await
                .map_err(|e| self.unavailable(e))?;
            return Ok(());
        }
        let upload = self
            .store
            .put_multipart(location)
            .await
            .map_err(|e| self.unavailable(e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.config.part_size);
        let bar = self.progress_bar(size, &format!("push {label}"));
        let outcome = async {
            let mut file = std::fs::File::open(path).map_err(local)?;
            let mut buffer = vec![0u8; self.config.part_size];
            let mut sent = 0u64;
            loop {
                let n = file.read(&mut buffer).map_err(local)?;
                if n == 0 {
                    break;
                }
                writer
                    .wait_for_capacity(4)
                    .await
                    .map_err(|e| self.unavailable(e))?;
                writer.write(&buffer[..n]);
                sent += n as u64;
                if let Some(bar) = &bar {
                    bar.set_position(sent);
                }
            }
            writer.finish().await.map_err(|e| self.unavailable(e))?;
            Ok(())
        }
        .await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        outcome
    }

    /// The keys of the entries on the remote.
    pub async fn list_keys(&self) -> Result<Vec<String>, RemoteError> {
        let prefix = self.location("entries");
        let mut stream = self.store.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(meta) = stream.next().await {
            let meta = meta.map_err(|e| self.unavailable(e))?;
            let bytes = match self.store.get(&meta.location).await {
                Ok(result) => result.bytes().await.map_err(|e| self.unavailable(e))?,
                Err(_) => continue,
            };
            if let Ok(entry) = serde_json::from_slice::<Entry>(&bytes) {
                keys.push(entry.key);
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// [`Remote::pull`] that never fails: a remote that cannot be reached gives one
    /// warning (then is left alone), a corrupt remote entry a warning; both a miss.
    pub async fn pull_or_warn(&self, store: &Store, key: &CacheKey) -> Option<Entry> {
        if self.down.load(Ordering::Relaxed) {
            return None;
        }
        match self.pull(store, key).await {
            Ok(entry) => entry,
            Err(error) => {
                self.report(store, error);
                None
            }
        }
    }

    /// [`Remote::push`] that never fails; false when nothing was pushed.
    pub async fn push_or_warn(&self, store: &Store, key: &CacheKey) -> bool {
        if self.down.load(Ordering::Relaxed) {
            return false;
        }
        match self.push(store, key).await {
            Ok(_) => true,
            Err(error) => {
                self.report(store, error);
                false
            }
        }
    }

    /// Whether a request to the remote failed for want of the remote (it is then skipped).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn report(&self, store: &Store, error: RemoteError) {
        match error {
            RemoteError::Unavailable { .. } => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    store.warn(&format!(
                        "the cache remote {} cannot be reached ({}); continuing with the local cache",
                        self.config.url,
                        root_cause(&error)
                    ));
                }
            }
            other => store.warn(&format!("{other}; ignored")),
        }
    }

    fn progress_bar(&self, size: u64, label: &str) -> Option<indicatif::ProgressBar> {
        if !self.config.progress || size < PROGRESS_MIN {
            return None;
        }
        let bar = indicatif::ProgressBar::new(size);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        Some(bar)
    }
}

/// The innermost cause of an error (`Connection refused (os error 111)`), on one line.
fn root_cause(error: &dyn std::error::Error) -> String {
    let mut cause = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string().replace('\n', " ");
    if text.chars().count() > 200 {
        text.chars().take(200).collect::<String>() + "…"
    } else {
        text
    }
}
