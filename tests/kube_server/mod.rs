//! A local stand-in for the Kubernetes API server, with a small kubelet and
//! job controller behind it: a real HTTP/1 server (hyper) on 127.0.0.1 that
//! answers JSON as the API server does, records every request, and runs each
//! pod's main container for real with the docker CLI.
//!
//! Served (any namespace; the token of [`KubeletOptions::token`] is required):
//!
//! - `POST|GET|DELETE /api/v1/namespaces/{ns}/secrets[/{name}]`: `stringData`
//!   is merged into `data` (base64) and dropped, as the real server does; at
//!   most 1 MiB of data; 409 `AlreadyExists`.
//! - `POST|GET|DELETE /apis/batch/v1/namespaces/{ns}/jobs[/{name}]`: the Job
//!   is defaulted (`backoffLimit: 6`, selector, template labels), and its pod
//!   is created at once (`<job>-<5 random>`, labels of the template plus
//!   `job-name`, `batch.kubernetes.io/job-name`, `controller-uid`,
//!   `batch.kubernetes.io/controller-uid`, an ownerReference). Job status
//!   follows the pod: `active`, `succeeded`/`failed`, conditions
//!   `SuccessCriteriaMet`+`Complete` or `FailureTarget`+`Failed`
//!   (`BackoffLimitExceeded`, `DeadlineExceeded` from `activeDeadlineSeconds`);
//!   a failed pod is replaced while failures ≤ `backoffLimit` (after 10 s,
//!   20 s, … as the controller backs off); `ttlSecondsAfterFinished` removes
//!   the Job (background propagation).
//! - `POST|GET|DELETE /api/v1/namespaces/{ns}/pods[/{name}]`, and
//!   `GET .../pods/{name}/log` (`container`, `follow`, `tailLines`,
//!   `limitBytes`, `sinceSeconds`, `timestamps`, `previous`).
//! - Lists and watches of all three (`labelSelector`: `=`, `==`, `!=`, `in`,
//!   `notin`, `key`, `!key`; `fieldSelector`: `metadata.name`,
//!   `metadata.namespace`, `status.phase`), also across namespaces
//!   (`/api/v1/pods`, …). A watch from `resourceVersion` 0 (or none, or with
//!   `sendInitialEvents=true`) starts with an ADDED per object; from N it
//!   replays every event after N (the whole history is kept: never 410).
//!   It ends after `timeoutSeconds` (with a BOOKMARK first when
//!   `allowWatchBookmarks=true`), or without one a second after the last
//!   matching object is gone.
//! - Deletes, single and by collection (`DeleteOptions` in the body or
//!   `propagationPolicy`/`gracePeriodSeconds` in the query). A Job's default
//!   propagation is Orphan, as for the real batch/v1 Job (with the same
//!   `Warning` header): its pods are kept and keep running. Background
//!   removes the Job at once and deletes its pods; Foreground keeps the Job
//!   (with `deletionTimestamp`) until its pods are gone. A pod whose container
//!   runs is deleted gracefully: it gets a `deletionTimestamp` (MODIFIED),
//!   its container is stopped (`docker stop -t` the grace period, capped by
//!   [`KubeletOptions::grace_cap`]), then it is removed (DELETED); a pod of a
//!   live Job deleted so counts as a failure of the Job.
//! - `POST|GET|PUT|DELETE /apis/apps/v1/namespaces/{ns}/deployments[/{name}]`,
//!   the same of `replicasets` and of `/api/v1/namespaces/{ns}/services`,
//!   lists and watches of them, with the Deployment and ReplicaSet
//!   controllers and the garbage collector behind them: see `apps`. A
//!   ReplicaSet's pods run on a network of their own, probed for readiness.
//! - `GET /version`, `/api`, `/apis`, `/api/v1`, `/apis/batch/v1`,
//!   `/apis/apps/v1`, `GET /api/v1/namespaces/{ns}` (every namespace exists).
//! - Anything else: 404 with a v1 Status.
//!
//! The kubelet: the container named `job` (else the first) is created with
//! `docker create --network host` (so 127.0.0.1 services are reachable) and
//! run with `docker start -a`; stdout and stderr go to the pod's log line by
//! line, as the CRI writes them (a line is seen once its newline is written,
//! or at 16 KiB, or when the stream closes). `command`/`args` and `env`
//! values get Kubernetes' `$(VAR)` expansion (`$$` is a `$`). Env from
//! `value`, `valueFrom.secretKeyRef`, `valueFrom.fieldRef`, `envFrom.secretRef`;
//! volumes `secret` (files with `items`, `defaultMode`), `emptyDir` (a 0777
//! host dir; `medium: Memory` at /dev/shm is `--shm-size`, elsewhere
//! `--tmpfs`), `hostPath`; `subPath`, `readOnly`, `workingDir`,
//! `securityContext.runAsUser/runAsGroup`, `hostAliases` (`--add-host`).
//! Init containers are not run (each is recorded as skipped and shown as
//! Completed), except native sidecars (`restartPolicy: Always`) when
//! [`KubeletOptions::run_sidecars`] is set. Resource limits are not applied
//! (recorded as ignored). An image missing locally leaves the pod Pending
//! with `ErrImagePull`; a missing Secret or key leaves it Pending with
//! `CreateContainerConfigError` (env) or `ContainerCreating` (volume), tried
//! again every half second as the kubelet does.

#![allow(dead_code)]

pub mod apps;
#[path = "../http_record/mod.rs"]
mod http_record;
pub use http_record::{Recorded, query_pairs};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::AsyncReadExt;
use tokio::sync::{Notify, mpsc, watch};

/// The namespace of the kubeconfig's context.
pub const NAMESPACE: &str = "mlci-test";
/// The bearer token the server accepts unless [`KubeletOptions::token`] says otherwise.
pub const TOKEN: &str = "kube-stand-in-token-0123456789";
/// Every container the stand-in starts has `LABEL_STAND_IN=1` ...
pub const LABEL_STAND_IN: &str = "dev.mlci.kube-stand-in";
/// ... and `LABEL_SERVER=<KubeServer::id>`.
pub const LABEL_SERVER: &str = "dev.mlci.kube-stand-in.server";
/// The node every pod is scheduled on.
pub const NODE: &str = "kube-stand-in";

const LOG_LINE_MAX: usize = 16 * 1024;
const SECRET_MAX: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct KubeletOptions {
    /// (host path, path in the container): bind-mounted read-only into every
    /// pod's main container, e.g. the mlci binary at `/mlci-agent/mlci`
    /// where the skipped init container would have copied it. A target inside
    /// an `emptyDir` mount is fine (its mount point is made there).
    pub binds: Vec<(PathBuf, String)>,
    /// Runs native sidecars (init containers with `restartPolicy: Always`)
    /// beside the main container, on the host network too.
    pub run_sidecars: bool,
    /// The longest graceful stop of a deleted pod's container (the real
    /// default grace period is 30 s).
    pub grace_cap: Duration,
    /// The one valid bearer token.
    pub token: String,
}

impl Default for KubeletOptions {
    fn default() -> Self {
        KubeletOptions {
            binds: Vec::new(),
            run_sidecars: false,
            grace_cap: Duration::from_secs(1),
            token: TOKEN.to_string(),
        }
    }
}

/// The kinds of object served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    Job,
    Secret,
    Deployment,
    ReplicaSet,
    Service,
}

impl Kind {
    pub fn resource(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Job => "jobs",
            Kind::Secret => "secrets",
            Kind::Deployment => "deployments",
            Kind::ReplicaSet => "replicasets",
            Kind::Service => "services",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Job => "Job",
            Kind::Secret => "Secret",
            Kind::Deployment => "Deployment",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Service => "Service",
        }
    }

    fn group(self) -> &'static str {
        match self {
            Kind::Job => "batch",
            Kind::Deployment | Kind::ReplicaSet => "apps",
            _ => "",
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            Kind::Deployment | Kind::ReplicaSet => "apps/v1",
            _ => "v1",
        }
    }

    /// `Job.batch`, `Secret`: as the API server names a kind in messages.
    fn qualified(self) -> String {
        match self.group() {
            "" => self.name().to_string(),
            group => format!("{}.{group}", self.name()),
        }
    }

    /// `jobs.batch`, `secrets`.
    fn qualified_resource(self) -> String {
        match self.group() {
            "" => self.resource().to_string(),
            group => format!("{}.{group}", self.resource()),
        }
    }

    fn of(group: &str, resource: &str) -> Option<Kind> {
        match (group, resource) {
            ("", "pods") => Some(Kind::Pod),
            ("", "secrets") => Some(Kind::Secret),
            ("", "services") => Some(Kind::Service),
            ("batch", "jobs") => Some(Kind::Job),
            ("apps", "deployments") => Some(Kind::Deployment),
            ("apps", "replicasets") => Some(Kind::ReplicaSet),
            _ => None,
        }
    }
}

/// One watch event, as every watch would see it.
#[derive(Clone, Debug)]
pub struct Event {
    pub resource_version: u64,
    pub kind: Kind,
    pub namespace: String,
    /// ADDED, MODIFIED or DELETED.
    pub type_: String,
    pub object: Value,
}

impl Event {
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// What the kubelet did with one pod.
#[derive(Clone, Debug, Default)]
pub struct KubeletRecord {
    pub namespace: String,
    pub pod: String,
    /// The container it ran.
    pub container: String,
    /// The `docker create` arguments; values from Secrets shown as
    /// `<secret NAME/KEY>`.
    pub docker_args: Vec<String>,
    /// Init containers not run (their names).
    pub skipped_init_containers: Vec<String>,
    /// Native sidecars it ran.
    pub sidecars: Vec<String>,
    /// Other containers of `spec.containers`, not run.
    pub skipped_containers: Vec<String>,
    /// What the pod asked for that the stand-in does not do (`resources.limits`, …).
    pub ignored: Vec<String>,
    /// Why it never started the container, if it did not.
    pub not_started: Option<String>,
    pub exit_code: Option<i64>,
}

#[derive(Default)]
struct ContainerLog {
    entries: Vec<(SystemTime, Vec<u8>)>,
    /// The unfinished line of stdout and of stderr.
    pending: [Vec<u8>; 2],
    finished: bool,
}

impl ContainerLog {
    fn append(&mut self, stream: usize, mut bytes: &[u8]) {
        let now = SystemTime::now();
        while let Some(pos) = bytes.iter().position(|b| *b == b'\n') {
            let mut line = std::mem::take(&mut self.pending[stream]);
            line.extend_from_slice(&bytes[..=pos]);
            self.entries.push((now, line));
            bytes = &bytes[pos + 1..];
        }
        self.pending[stream].extend_from_slice(bytes);
        while self.pending[stream].len() >= LOG_LINE_MAX {
            let rest = self.pending[stream].split_off(LOG_LINE_MAX);
            let line = std::mem::replace(&mut self.pending[stream], rest);
            self.entries.push((now, line));
        }
    }

    fn close(&mut self, stream: usize) {
        let line = std::mem::take(&mut self.pending[stream]);
        if !line.is_empty() {
            self.entries.push((SystemTime::now(), line));
        }
    }
}

/// The kubelet's side of a pod that exists.
#[derive(Default)]
struct PodRuntime {
    namespace: String,
    name: String,
    job_uid: Option<String>,
    /// A kubelet task owns the pod (it is not finished and not given up on).
    active: bool,
    container: Option<String>,
    sidecars: Vec<String>,
    logs: BTreeMap<String, ContainerLog>,
    dir: Option<PathBuf>,
    /// The job controller has counted its end.
    counted: bool,
    grace: u64,
    /// Since when the pod has been ready (a ReplicaSet's availability).
    ready_since: Option<Instant>,
}

#[derive(Default)]
struct JobRuntime {
    succeeded: u64,
    failed: u64,
    finished: bool,
    foreground_deleting: bool,
}

#[derive(Default)]
pub struct State {
    resource_version: u64,
    objects: BTreeMap<(Kind, String, String), Value>,
    history: Vec<Event>,
    pub requests: Vec<Recorded>,
    /// (method, path substring, status): the next matching requests get these answers.
    pub faults: VecDeque<(String, String, u16)>,
    pub kubelet: Vec<KubeletRecord>,
    pods: HashMap<String, PodRuntime>,
    jobs: HashMap<String, JobRuntime>,
    deployments: HashMap<String, apps::DeploymentRuntime>,
    /// Services' cluster IPs handed out so far.
    cluster_ips: u32,
}

struct Shared {
    state: Mutex<State>,
    tick: watch::Sender<u64>,
    options: KubeletOptions,
    id: String,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stop: Notify,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Changes the state and wakes every watch and log follower.
    fn mutate<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = self.with(f);
        self.tick.send_modify(|t| *t += 1);
        r
    }
}

pub struct KubeServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KubeServer {
    /// Starts the server on a free port of 127.0.0.1, in its own thread (as
    /// the GitHub stand-in does); callable from sync and async tests alike.
    pub fn start(options: KubeletOptions) -> KubeServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tick, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            tick,
            options,
            id: format!("{:08x}", random() as u32),
            addr,
            dir: tempfile::Builder::new()
                .prefix("kube-stand-in-")
                .tempdir()
                .unwrap(),
            stop: Notify::new(),
        });
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                tokio::spawn(apps::controllers(serving.clone()));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = serving.stop.notified() => break,
                    };
                    let Ok((stream, _)) = accepted else {
                        continue;
                    };
                    let shared = serving.clone();
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(handle(request, shared).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        });
        KubeServer {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value of this server's [`LABEL_SERVER`] label.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    pub fn token(&self) -> &str {
        &self.shared.options.token
    }

    /// Writes `dir/kubeconfig`: this server as cluster `kube-stand-in`, a
    /// user with the token, and the current context with namespace
    /// [`NAMESPACE`].
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\n\
             kind: Config\n\
             clusters:\n\
             - name: kube-stand-in\n  \
               cluster:\n    \
                 server: {url}\n\
             users:\n\
             - name: mlci-test\n  \
               user:\n    \
                 token: {token}\n\
             contexts:\n\
             - name: kube-stand-in\n  \
               context:\n    \
                 cluster: kube-stand-in\n    \
                 user: mlci-test\n    \
                 namespace: {NAMESPACE}\n\
             current-context: kube-stand-in\n\
             preferences: {{}}\n",
            url = self.url(),
            token = self.token(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.shared.with(f)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.with(|s| s.requests.clone())
    }

    /// Every watch event so far, in order.
    pub fn history(&self) -> Vec<Event> {
        self.with(|s| s.history.clone())
    }

    pub fn kubelet_records(&self) -> Vec<KubeletRecord> {
        self.with(|s| s.kubelet.clone())
    }

    /// The next request whose method is `method` and whose path contains
    /// `path` is answered `status` (a v1 Status) instead.
    pub fn fail_next(&self, method: &str, path: &str, status: u16) {
        self.with(|s| {
            s.faults
                .push_back((method.to_string(), path.to_string(), status))
        });
    }

    pub fn objects(&self, kind: Kind) -> Vec<Value> {
        self.with(|s| {
            s.objects
                .iter()
                .filter(|((k, _, _), _)| *k == kind)
                .map(|(_, v)| v.clone())
                .collect()
        })
    }

    pub fn jobs(&self) -> Vec<Value> {
        self.objects(Kind::Job)
    }

    pub fn pods(&self) -> Vec<Value> {
        self.objects(Kind::Pod)
    }

    pub fn secrets(&self) -> Vec<Value> {
        self.objects(Kind::Secret)
    }

    pub fn deployments(&self) -> Vec<Value> {
        self.objects(Kind::Deployment)
    }

    pub fn replica_sets(&self) -> Vec<Value> {
        self.objects(Kind::ReplicaSet)
    }

    pub fn services(&self) -> Vec<Value> {
        self.objects(Kind::Service)
    }

    /// What a pod's container has written so far (complete lines; stdout and
    /// stderr as they came), or None for a pod that does not exist.
    pub fn pod_log(&self, pod: &str, container: &str) -> Option<String> {
        self.with(|s| {
            let runtime = s.pods.values().find(|r| r.name == pod)?;
            let log = runtime.logs.get(container);
            Some(
                log.map(|l| {
                    let bytes: Vec<u8> = l.entries.iter().flat_map(|(_, b)| b.clone()).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                })
                .unwrap_or_default(),
            )
        })
    }

    /// Docker containers this server started that are running now.
    pub fn containers_running(&self) -> usize {
        self.docker_ps(false).len()
    }

    /// Docker containers of this server that exist, running or not.
    pub fn containers_existing(&self) -> usize {
        self.docker_ps(true).len()
    }

    fn docker_ps(&self, all: bool) -> Vec<String> {
        let filter = format!("label={LABEL_SERVER}={}", self.shared.id);
        let mut args = vec!["ps", "-q", "--no-trunc", "--filter", &filter];
        if all {
            args.push("-a");
        }
        let out = std::process::Command::new("docker")
            .args(&args)
            .output()
            .expect("the docker CLI");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Stops the server and removes every container it started (also on drop).
    pub fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        // The server's runtime first (its docker CLI calls are killed with
        // it), then whatever containers it had made.
        self.shared.stop.notify_one();
        let _ = thread.join();
        let ids = self.docker_ps(true);
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .output();
        }
    }
}

impl Drop for KubeServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// ---------------------------------------------------------------- helpers

fn random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut z = STATE
        .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
        .wrapping_add(seed)
        .wrapping_add(u64::from(std::process::id()) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn uid() -> String {
    let (a, b) = (random(), random());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

/// Five characters of the alphabet generateName uses.
fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = random();
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

fn days_to_civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// RFC 3339 in UTC, to the second (metav1.Time) or to the nanosecond (log timestamps).
fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, m, day) = days_to_civil(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let base = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos {
        format!("{base}.{:09}Z", d.subsec_nanos())
    } else {
        format!("{base}Z")
    }
}

fn now() -> String {
    rfc3339(SystemTime::now(), false)
}

struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("true" | "1"))
    }

    fn number(&self, name: &str) -> Result<Option<i64>, Reply> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                bad_request(format!(
                    "invalid value for {name}: {v:?}: strconv.ParseInt: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Resource quantities as bytes: `512Mi`, `1G`, `1073741824`.
fn quantity_bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor: f64 = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((number * factor) as u64)
}

/// Kubernetes' `$(VAR)` expansion of env values, command and args: `$$` is a
/// `$`, a reference to an undefined variable stays as written.
pub fn expand(input: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::new();
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < bytes.len() {
        if bytes[cursor] == b'$' && cursor + 1 < bytes.len() {
            out.push_str(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest.as_bytes()[0] {
                b'$' => {
                    out.push('$');
                    1
                }
                b'(' => match rest.find(')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match vars(name) {
                            Some(value) => out.push_str(&value),
                            None => out.push_str(&format!("$({name})")),
                        }
                        close + 1
                    }
                    None => {
                        out.push_str("$(");
                        1
                    }
                },
                _ => {
                    // The `$` and the next character, kept.
                    let c = rest.chars().next().unwrap();
                    out.push('$');
                    out.push(c);
                    c.len_utf8()
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    if checkpoint < input.len() {
        out.push_str(&input[checkpoint..]);
    }
    out
}

// ------------------------------------------------------------ validation

fn dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

fn dns_subdomain(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.split('.').all(dns_label)
}

fn label_name_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !dns_subdomain(p)
    {
        return Some(format!(
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (got {p:?})"
        ));
    }
    (!label_name_ok(name)).then(|| {
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters".to_string()
    })
}

fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some("must be no more than 63 characters".to_string());
    }
    (!value.is_empty() && !label_name_ok(value)).then(|| {
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character".to_string()
    })
}

/// (field, message) of each invalid label.
fn label_problems(labels: &Value, field: &str) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if let Some(map) = labels.as_object() {
        for (k, v) in map {
            if let Some(p) = label_key_problem(k) {
                problems.push((field.to_string(), format!("Invalid value: {k:?}: {p}")));
            }
            match v.as_str() {
                Some(v) => {
                    if let Some(p) = label_value_problem(v) {
                        problems.push((field.to_string(), format!("Invalid value: {v:?}: {p}")));
                    }
                }
                None => problems.push((
                    field.to_string(),
                    format!("Invalid value: {v}: must be a string"),
                )),
            }
        }
    }
    problems
}

fn pod_spec_problems(spec: &Value, field: &str) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let volumes: Vec<&str> = spec["volumes"]
        .as_array()
        .map(|v| v.iter().map(|v| str_of(v, "/name")).collect())
        .unwrap_or_default();
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        problems.push((format!("{field}.containers"), "Required value".to_string()));
    }
    let init = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut names = Vec::new();
    for (list, items) in [("containers", &containers), ("initContainers", &init)] {
        for (i, c) in items.iter().enumerate() {
            let at = format!("{field}.{list}[{i}]");
            let name = str_of(c, "/name");
            if !dns_label(name) {
                problems.push((
                    format!("{at}.name"),
                    format!("Invalid value: {name:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"),
                ));
            } else if names.contains(&name) {
                problems.push((format!("{at}.name"), format!("Duplicate value: {name:?}")));
            }
            names.push(name);
            if str_of(c, "/image").is_empty() {
                problems.push((format!("{at}.image"), "Required value".to_string()));
            }
            for (j, m) in c["volumeMounts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .enumerate()
            {
                let volume = str_of(m, "/name");
                if !volumes.contains(&volume) {
                    problems.push((
                        format!("{at}.volumeMounts[{j}].name"),
                        format!("Not found: {volume:?}"),
                    ));
                }
                if !str_of(m, "/mountPath").starts_with('/') {
                    problems.push((
                        format!("{at}.volumeMounts[{j}].mountPath"),
                        "Required value".to_string(),
                    ));
                }
            }
        }
    }
    problems
}

// --------------------------------------------------------------- replies

enum Reply {
    Json(u16, Value, Vec<(String, String)>),
    Text(u16, String),
    Stream(&'static str, mpsc::Receiver<Bytes>),
}

fn ok(value: Value) -> Reply {
    Reply::Json(200, value, Vec::new())
}

fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> Reply {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    Reply::Json(code, body, Vec::new())
}

fn bad_request(message: String) -> Reply {
    status(400, "BadRequest", message, None)
}

fn not_found_object(kind: Kind, name: &str) -> Reply {
    status(
        404,
        "NotFound",
        format!("{} {name:?} not found", kind.qualified_resource()),
        Some(json!({"name": name, "group": kind.group(), "kind": kind.resource()})),
    )
}

fn not_found_path() -> Reply {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource".to_string(),
        None,
    )
}

fn invalid(kind: Kind, name: &str, problems: Vec<(String, String)>) -> Reply {
    let message = problems
        .iter()
        .map(|(f, m)| format!("{f}: {m}"))
        .collect::<Vec<_>>()
        .join(", ");
    let causes: Vec<Value> = problems
        .iter()
        .map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
        .collect();
    status(
        422,
        "Invalid",
        format!("{} {name:?} is invalid: [{message}]", kind.qualified()),
        Some(json!({"name": name, "group": kind.group(), "kind": kind.name(), "causes": causes})),
    )
}

fn success_status(kind: Kind, object: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": str_of(object, "/metadata/name"),
            "group": kind.group(),
            "kind": kind.resource(),
            "uid": str_of(object, "/metadata/uid"),
        },
    })
}

type Body = BoxBody<Bytes, Infallible>;

async fn handle(request: Request<Incoming>, shared: Arc<Shared>) -> Response<Body> {
    let method = request.method().as_str().to_string();
    let uri = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| request.uri().path().to_string());
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let reply = route(&shared, &method, &uri, &headers, &body);
    let code = match &reply {
        Reply::Json(code, _, _) | Reply::Text(code, _) => *code,
        Reply::Stream(..) => 200,
    };
    let serial = shared.with(|s| {
        s.requests.push(Recorded {
            method,
            uri,
            headers,
            body,
            status: code,
        });
        s.requests.len()
    });
    let builder = Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header("audit-id", format!("{}-stand-in-{serial}", shared.id))
        .header("cache-control", "no-cache, private");
    match reply {
        Reply::Json(_, value, extra) => {
            let mut builder = builder.header("content-type", "application/json");
            for (k, v) in extra {
                builder = builder.header(k, v);
            }
            builder
                .body(Full::new(Bytes::from(value.to_string())).boxed())
                .unwrap()
        }
        Reply::Text(_, text) => builder
            .header("content-type", "text/plain")
            .body(Full::new(Bytes::from(text)).boxed())
            .unwrap(),
        Reply::Stream(content_type, rx) => {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv()
                    .await
                    .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            builder
                .header("content-type", content_type)
                .header("transfer-encoding", "chunked")
                .body(BodyExt::boxed(StreamBody::new(stream)))
                .unwrap()
        }
    }
}

fn route(
    shared: &Arc<Shared>,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: &str,
) -> Reply {
    let auth = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if auth.strip_prefix("Bearer ") != Some(shared.options.token.as_str()) {
        return status(401, "Unauthorized", "Unauthorized".to_string(), None);
    }
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    if let Some(code) = shared.with(|s| {
        let index = s
            .faults
            .iter()
            .position(|(m, p, _)| m == method && path.contains(p.as_str()))?;
        s.faults.remove(index).map(|(_, _, code)| code)
    }) {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            500 => "InternalError",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        return status(code, reason, format!("injected fault {code}"), None);
    }
    let q = Query(query_pairs(query));
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let get = method == "GET";
    match parts.as_slice() {
        ["version"] if get => ok(json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.0",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.3", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["api"] if get => ok(json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}],
        })),
        ["apis"] if get => ok(json!({
            "kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}},
                       {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}],
        })),
        ["api", "v1"] if get => ok(resource_list(
            "v1",
            &[Kind::Pod, Kind::Secret, Kind::Service],
        )),
        ["apis", "batch", "v1"] if get => ok(resource_list("batch/v1", &[Kind::Job])),
        ["apis", "apps", "v1"] if get => ok(resource_list(
            "apps/v1",
            &[Kind::Deployment, Kind::ReplicaSet],
        )),
        ["api", "v1", "namespaces", ns] if get => ok(json!({
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": ns, "uid": "00000000-0000-4000-8000-000000000000",
                         "resourceVersion": "1", "creationTimestamp": "2024-01-01T00:00:00Z",
                         "labels": {"kubernetes.io/metadata.name": ns}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        })),
        ["api", "v1", "namespaces", ns, resource, rest @ ..] => match Kind::of("", resource) {
            Some(kind) => resource_route(shared, method, kind, Some(ns), rest, &q, body),
            None => not_found_path(),
        },
        [
            "apis",
            group @ ("batch" | "apps"),
            "v1",
            "namespaces",
            ns,
            resource,
            rest @ ..,
        ] => match Kind::of(group, resource) {
            Some(kind) => resource_route(shared, method, kind, Some(ns), rest, &q, body),
            None => not_found_path(),
        },
        ["api", "v1", resource] | ["apis", "batch" | "apps", "v1", resource] if get => {
            let group = if parts[0] == "api" { "" } else { parts[1] };
            match Kind::of(group, resource) {
                Some(kind) => resource_route(shared, method, kind, None, &[], &q, body),
                None => not_found_path(),
            }
        }
        _ => not_found_path(),
    }
}

fn resource_list(group_version: &str, kinds: &[Kind]) -> Value {
    let resources: Vec<Value> = kinds
        .iter()
        .map(|k| {
            json!({
                "name": k.resource(), "singularName": k.name().to_ascii_lowercase(),
                "namespaced": true, "kind": k.name(),
                "verbs": if apps::replaceable(*k) {
                    json!(["create", "delete", "deletecollection", "get", "list", "update", "watch"])
                } else {
                    json!(["create", "delete", "deletecollection", "get", "list", "watch"])
                },
            })
        })
        .chain(kinds.contains(&Kind::Pod).then(|| {
            json!({"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]})
        }))
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

fn resource_route(
    shared: &Arc<Shared>,
    method: &str,
    kind: Kind,
    ns: Option<&str>,
    rest: &[&str],
    q: &Query,
    body: &str,
) -> Reply {
    let result = match (method, rest, ns) {
        ("GET", [], _) => {
            if q.flag("watch") {
                watch_reply(shared, kind, ns, q)
            } else {
                list_reply(shared, kind, ns, q)
            }
        }
        ("POST", [], Some(ns)) => create_reply(shared, kind, ns, body),
        ("DELETE", [], Some(ns)) => delete_collection_reply(shared, kind, ns, q, body),
        ("GET", [name], Some(ns)) => {
            Ok(shared.with(
                |s| match s.objects.get(&(kind, ns.to_string(), name.to_string())) {
                    Some(v) => ok(v.clone()),
                    None => not_found_object(kind, name),
                },
            ))
        }
        ("DELETE", [name], Some(ns)) => delete_one_reply(shared, kind, ns, name, q, body),
        ("PUT", [name], Some(ns)) if apps::replaceable(kind) => {
            apps::replace_reply(shared, kind, ns, name, body)
        }
        ("GET", [name, "log"], Some(ns)) if kind == Kind::Pod => log_reply(shared, ns, name, q),
        (_, [] | [_], _) => Ok(status(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource (the stand-in serves no {method} here)"
            ),
            None,
        )),
        _ => Ok(not_found_path()),
    };
    result.unwrap_or_else(|reply| reply)
}

// ------------------------------------------------------------- selectors

#[derive(Debug)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_label_selector(text: &str) -> Result<Vec<Requirement>, Reply> {
    let mut requirements = Vec::new();
    for term in split_top_level(text) {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let bad = || {
            bad_request(format!(
                "unable to parse requirement: found {term:?}, expected: '=', '!=', '==', 'in', notin'"
            ))
        };
        let requirement = if let Some(open) = term.find('(') {
            let head = term[..open].trim();
            let Some(values) = term[open + 1..].strip_suffix(')') else {
                return Err(bad());
            };
            let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
            if let Some(key) = head.strip_suffix(" notin") {
                Requirement::NotIn(key.trim().to_string(), values)
            } else if let Some(key) = head.strip_suffix(" in") {
                Requirement::In(key.trim().to_string(), values)
            } else {
                return Err(bad());
            }
        } else if let Some(key) = term.strip_prefix('!') {
            Requirement::NotExists(key.trim().to_string())
        } else if let Some((k, v)) = term.split_once("!=") {
            Requirement::NotEquals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once("==") {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else if let Some((k, v)) = term.split_once('=') {
            Requirement::Equals(k.trim().to_string(), v.trim().to_string())
        } else {
            Requirement::Exists(term.to_string())
        };
        let key = match &requirement {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::NotExists(k) => k,
        };
        if let Some(problem) = label_key_problem(key) {
            return Err(bad_request(format!(
                "unable to parse requirement: invalid label key {key:?}: {problem}"
            )));
        }
        requirements.push(requirement);
    }
    Ok(requirements)
}

fn labels_match(requirements: &[Requirement], labels: &BTreeMap<String, String>) -> bool {
    requirements.iter().all(|r| match r {
        Requirement::Equals(k, v) => labels.get(k) == Some(v),
        Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
        Requirement::In(k, vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
        Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
        Requirement::Exists(k) => labels.contains_key(k),
        Requirement::NotExists(k) => !labels.contains_key(k),
    })
}

struct Filter {
    kind: Kind,
    namespace: Option<String>,
    labels: Vec<Requirement>,
    /// (pointer, value, equal)
    fields: Vec<(String, String, bool)>,
}

impl Filter {
    fn new(kind: Kind, ns: Option<&str>, q: &Query) -> Result<Filter, Reply> {
        let labels = parse_label_selector(q.get("labelSelector").unwrap_or(""))?;
        let mut fields = Vec::new();
        for term in q.get("fieldSelector").unwrap_or("").split(',') {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
                (f, v, false)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, v, true)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, v, true)
            } else {
                return Err(bad_request(format!("invalid selector: {term:?}")));
            };
            let pointer = match (field.trim(), kind) {
                ("metadata.name", _) => "/metadata/name",
                ("metadata.namespace", _) => "/metadata/namespace",
                ("status.phase", Kind::Pod) => "/status/phase",
                ("spec.nodeName", Kind::Pod) => "/spec/nodeName",
                ("type", Kind::Secret) => "/type",
                (field, _) => {
                    return Err(bad_request(format!("field label not supported: {field}")));
                }
            };
            fields.push((pointer.to_string(), value.trim().to_string(), equal));
        }
        Ok(Filter {
            kind,
            namespace: ns.map(str::to_string),
            labels,
            fields,
        })
    }

    fn matches(&self, kind: Kind, namespace: &str, object: &Value) -> bool {
        kind == self.kind
            && self.namespace.as_deref().is_none_or(|n| n == namespace)
            && labels_match(&self.labels, &labels_of(object))
            && self
                .fields
                .iter()
                .all(|(p, v, equal)| (str_of(object, p) == v) == *equal)
    }
}

// ----------------------------------------------------------- list, watch

fn list_reply(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: Option<&str>,
    q: &Query,
) -> Result<Reply, Reply> {
    let filter = Filter::new(kind, ns, q)?;
    Ok(shared.with(|s| {
        let items: Vec<Value> = s
            .objects
            .iter()
            .filter(|((k, n, _), v)| filter.matches(*k, n, v))
            .map(|(_, v)| v.clone())
            .collect();
        ok(list_of(kind, items, s.resource_version))
    }))
}

fn list_of(kind: Kind, items: Vec<Value>, resource_version: u64) -> Value {
    json!({
        "kind": format!("{}List", kind.name()),
        "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": resource_version.to_string()},
        "items": items,
    })
}

fn event_line(type_: &str, object: &Value) -> Bytes {
    let mut line = json!({"type": type_, "object": object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn bookmark(kind: Kind, resource_version: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": resource_version.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event_line(
        "BOOKMARK",
        &json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": metadata}),
    )
}

fn watch_reply(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: Option<&str>,
    q: &Query,
) -> Result<Reply, Reply> {
    let filter = Filter::new(kind, ns, q)?;
    let timeout = q.number("timeoutSeconds")?.map(|t| t.max(0) as u64);
    let bookmarks = q.flag("allowWatchBookmarks");
    let initial_events = q.flag("sendInitialEvents");
    let from = match q.get("resourceVersion") {
        None | Some("" | "0") => None,
        Some(_) if initial_events => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            status(
                400,
                "BadRequest",
                format!("invalid resource version: {v:?}"),
                None,
            )
        })?),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut tick = shared.tick.subscribe();
        let deadline = Instant::now() + Duration::from_secs(timeout.unwrap_or(1800));
        let mut cursor = match from {
            Some(n) => n,
            None => {
                let (initial, rv) = shared.with(|s| {
                    let items: Vec<Value> = s
                        .objects
                        .iter()
                        .filter(|((k, n, _), v)| filter.matches(*k, n, v))
                        .map(|(_, v)| v.clone())
                        .collect();
                    (items, s.resource_version)
                });
                for item in &initial {
                    if tx.send(event_line("ADDED", item)).await.is_err() {
                        return;
                    }
                }
                if initial_events && tx.send(bookmark(kind, rv, true)).await.is_err() {
                    return;
                }
                rv
            }
        };
        let mut seen = false;
        let mut empty_since: Option<Instant> = None;
        loop {
            let (events, current, present) = shared.with(|s| {
                let start = s.history.partition_point(|e| e.resource_version <= cursor);
                let events: Vec<Event> = s.history[start..]
                    .iter()
                    .filter(|e| filter.matches(e.kind, &e.namespace, &e.object))
                    .cloned()
                    .collect();
                let present = s
                    .objects
                    .iter()
                    .filter(|((k, n, _), v)| filter.matches(*k, n, v))
                    .count();
                (events, s.resource_version, present)
            });
            for event in &events {
                if tx
                    .send(event_line(&event.type_, &event.object))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            cursor = current.max(cursor);
            seen |= present > 0 || !events.is_empty();
            let mut until = deadline;
            if timeout.is_none() && seen && present == 0 {
                let since = *empty_since.get_or_insert_with(Instant::now);
                until = until.min(since + Duration::from_secs(1));
            } else {
                empty_since = None;
            }
            if Instant::now() >= until {
                break;
            }
            tokio::select! {
                changed = tick.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep_until(until.into()) => {},
                _ = tx.closed() => return,
            }
        }
        if bookmarks && timeout.is_some() {
            let rv = shared.with(|s| s.resource_version);
            let _ = tx.send(bookmark(kind, rv, false)).await;
        }
    });
    Ok(Reply::Stream("application/json", rx))
}

// ---------------------------------------------------------------- state

impl State {
    fn put(&mut self, kind: Kind, mut object: Value, type_: &str) {
        self.resource_version += 1;
        let rv = self.resource_version;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let ns = str_of(&object, "/metadata/namespace").to_string();
        let name = str_of(&object, "/metadata/name").to_string();
        let key = (kind, ns.clone(), name);
        if type_ == "DELETED" {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key, object.clone());
        }
        self.history.push(Event {
            resource_version: rv,
            kind,
            namespace: ns,
            type_: type_.to_string(),
            object,
        });
    }

    fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, ns.to_string(), name.to_string()))
    }

    fn pod(&self, uid: &str) -> Option<&Value> {
        let runtime = self.pods.get(uid)?;
        self.get(Kind::Pod, &runtime.namespace, &runtime.name)
            .filter(|p| str_of(p, "/metadata/uid") == uid)
    }

    fn job(&self, uid: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|((k, _, _), v)| *k == Kind::Job && str_of(v, "/metadata/uid") == uid)
            .map(|(_, v)| v)
    }

    fn update_pod(&mut self, uid: &str, f: impl FnOnce(&mut Value)) {
        if let Some(mut pod) = self.pod(uid).cloned() {
            f(&mut pod);
            self.put(Kind::Pod, pod, "MODIFIED");
        }
    }

    fn update_job(&mut self, uid: &str, f: impl FnOnce(&mut Value)) {
        if let Some(mut job) = self.job(uid).cloned() {
            f(&mut job);
            self.put(Kind::Job, job, "MODIFIED");
        }
    }

    fn deleting(&self, uid: &str) -> bool {
        self.pod(uid)
            .is_none_or(|p| p.pointer("/metadata/deletionTimestamp").is_some())
    }
}

enum Effect {
    Start(String),
    Kill(Vec<String>, u64),
    Replace(String, Duration),
    Deadline(String, Duration),
    Ttl(String, Duration),
}

fn apply(shared: &Arc<Shared>, effects: Vec<Effect>) {
    for effect in effects {
        let shared = shared.clone();
        match effect {
            Effect::Start(uid) => {
                tokio::spawn(run_pod(shared, uid));
            }
            Effect::Kill(ids, grace) => {
                let grace = grace.min(shared.options.grace_cap.as_secs());
                tokio::spawn(async move {
                    for id in &ids {
                        let _ = docker(&["stop", "-t", &grace.to_string(), id]).await;
                    }
                    let mut args = vec!["rm", "-f"];
                    args.extend(ids.iter().map(String::as_str));
                    let _ = docker(&args).await;
                });
            }
            Effect::Replace(job_uid, after) => {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let effects = shared.mutate(|s| {
                        if s.job(&job_uid).is_none()
                            || s.jobs.get(&job_uid).is_none_or(|j| j.finished)
                        {
                            return Vec::new();
                        }
                        let job = s.job(&job_uid).cloned().unwrap();
                        let pod = create_job_pod(s, &job);
                        s.update_job(&job_uid, |j| j["status"]["active"] = json!(1));
                        vec![Effect::Start(pod)]
                    });
                    apply(&shared, effects);
                });
            }
            Effect::Deadline(job_uid, after) => {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let effects = shared.mutate(|s| job_deadline(s, &job_uid));
                    apply(&shared, effects);
                });
            }
            Effect::Ttl(job_uid, after) => {
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    let effects = shared.mutate(|s| {
                        let Some(job) = s.job(&job_uid).cloned() else {
                            return Vec::new();
                        };
                        delete_job(s, &job, "Background", None).1
                    });
                    apply(&shared, effects);
                });
            }
        }
    }
}

// --------------------------------------------------------------- create

/// The object of a create or replace request, as the API server checks it
/// before anything else: JSON, an object, of the URL's kind and API version,
/// and of the URL's namespace when it names one.
fn request_object(kind: Kind, ns: &str, body: &str) -> Result<Value, Reply> {
    let object: Value = serde_json::from_str(body).map_err(|e| {
        bad_request(format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })?;
    if !object.is_object() {
        return Err(bad_request(
            "the body of the request was in an unknown format".to_string(),
        ));
    }
    for (field, expected) in [("kind", kind.name()), ("apiVersion", kind.api_version())] {
        if let Some(given) = object.get(field).and_then(Value::as_str)
            && given != expected
        {
            return Err(bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({}) or kind {} ≠ {}",
                str_of(&object, "/apiVersion"),
                kind.api_version(),
                str_of(&object, "/kind"),
                kind.name()
            )));
        }
    }
    let given_ns = str_of(&object, "/metadata/namespace");
    if !given_ns.is_empty() && given_ns != ns {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .to_string(),
        ));
    }
    Ok(object)
}

fn create_reply(shared: &Arc<Shared>, kind: Kind, ns: &str, body: &str) -> Result<Reply, Reply> {
    let object = request_object(kind, ns, body)?;
    let (reply, effects) = shared.mutate(|s| match admit(s, kind, ns, object) {
        Ok((stored, effects)) => (Reply::Json(201, stored, Vec::new()), effects),
        Err(reply) => (reply, Vec::new()),
    });
    apply(shared, effects);
    Ok(reply)
}

fn admit(
    s: &mut State,
    kind: Kind,
    ns: &str,
    mut object: Value,
) -> Result<(Value, Vec<Effect>), Reply> {
    let mut name = str_of(&object, "/metadata/name").to_string();
    if name.is_empty() {
        let generate = str_of(&object, "/metadata/generateName").to_string();
        if generate.is_empty() {
            return Err(invalid(
                kind,
                "",
                vec![(
                    "metadata.name".into(),
                    "Required value: name or generateName is required".into(),
                )],
            ));
        }
        let mut base = generate;
        base.truncate(58);
        name = format!("{base}{}", name_suffix());
    }
    let mut problems = Vec::new();
    if !dns_subdomain(&name) {
        problems.push((
            "metadata.name".to_string(),
            format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"),
        ));
    }
    problems.extend(label_problems(
        &object["metadata"]["labels"],
        "metadata.labels",
    ));
    match kind {
        Kind::Secret => {
            let mut data: Map<String, Value> =
                object["data"].as_object().cloned().unwrap_or_default();
            for (k, v) in &data {
                if v.as_str().and_then(unb64).is_none() {
                    problems.push((
                        format!("data[{k}]"),
                        "Invalid value: illegal base64 data".into(),
                    ));
                }
            }
            if let Some(plain) = object.get("stringData").and_then(Value::as_object) {
                for (k, v) in plain {
                    data.insert(k.clone(), json!(b64(v.as_str().unwrap_or("").as_bytes())));
                }
            }
            let mut size = 0;
            for (k, v) in &data {
                if k.is_empty()
                    || !k
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
                {
                    problems.push((
                        format!("data[{k}]"),
                        format!("Invalid value: {k:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
                    ));
                }
                size += v.as_str().and_then(unb64).map(|b| b.len()).unwrap_or(0);
            }
            if size > SECRET_MAX {
                problems.push((
                    "data".into(),
                    format!("Too long: must have at most {SECRET_MAX} bytes"),
                ));
            }
            if let Some(o) = object.as_object_mut() {
                o.remove("stringData");
            }
            object["data"] = Value::Object(data);
            if object["type"].as_str().is_none() {
                object["type"] = json!("Opaque");
            }
        }
        Kind::Job => {
            if name.len() > 63 {
                problems.push((
                    "spec.template.labels".into(),
                    format!("Invalid value: {name:?}: must be no more than 63 characters"),
                ));
            }
            let template = object
                .pointer("/spec/template")
                .cloned()
                .unwrap_or(Value::Null);
            if template.is_null() {
                problems.push(("spec.template".into(), "Required value".into()));
            } else {
                problems.extend(label_problems(
                    &template["metadata"]["labels"],
                    "spec.template.metadata.labels",
                ));
                problems.extend(pod_spec_problems(&template["spec"], "spec.template.spec"));
                let restart = str_of(&template, "/spec/restartPolicy");
                if !["Never", "OnFailure"].contains(&restart) {
                    problems.push((
                        "spec.template.spec.restartPolicy".into(),
                        format!("Required value: valid values: \"OnFailure\", \"Never\" (got {restart:?})"),
                    ));
                }
            }
        }
        Kind::Pod => problems.extend(pod_spec_problems(&object["spec"], "spec")),
        Kind::Deployment | Kind::ReplicaSet | Kind::Service => {
            object["metadata"]["name"] = json!(name);
            problems.extend(apps::admit_problems(kind, &mut object, None));
        }
    }
    if !problems.is_empty() {
        return Err(invalid(kind, &name, problems));
    }
    if s.get(kind, ns, &name).is_some() {
        return Err(status(
            409,
            "AlreadyExists",
            format!("{} {name:?} already exists", kind.qualified_resource()),
            Some(json!({"name": name, "group": kind.group(), "kind": kind.resource()})),
        ));
    }
    let object_uid = uid();
    object["kind"] = json!(kind.name());
    object["apiVersion"] = json!(kind.api_version());
    let metadata = &mut object["metadata"];
    metadata["name"] = json!(name);
    metadata["namespace"] = json!(ns);
    metadata["uid"] = json!(object_uid);
    metadata["creationTimestamp"] = json!(now());
    let mut effects = Vec::new();
    match kind {
        Kind::Secret => s.put(kind, object.clone(), "ADDED"),
        Kind::Deployment | Kind::ReplicaSet | Kind::Service => {
            apps::store_new(s, kind, &mut object);
            s.put(kind, object.clone(), "ADDED");
        }
        Kind::Job => {
            default_job(&mut object, &name, &object_uid);
            s.put(kind, object, "ADDED");
            s.jobs.insert(object_uid.clone(), JobRuntime::default());
            let job = s.job(&object_uid).cloned().unwrap();
            if job.pointer("/spec/suspend") != Some(&json!(true)) {
                let pod = create_job_pod(s, &job);
                effects.push(Effect::Start(pod));
                s.update_job(&object_uid, |j| {
                    j["status"] = json!({"active": 1, "ready": 0, "terminating": 0, "startTime": now(),
                                         "uncountedTerminatedPods": {}});
                });
                if let Some(deadline) = job
                    .pointer("/spec/activeDeadlineSeconds")
                    .and_then(Value::as_u64)
                {
                    effects.push(Effect::Deadline(
                        object_uid.clone(),
                        Duration::from_secs(deadline),
                    ));
                }
            }
            object = s.job(&object_uid).cloned().unwrap();
        }
        Kind::Pod => {
            default_pod(&mut object);
            s.put(kind, object.clone(), "ADDED");
            s.pods.insert(
                object_uid.clone(),
                PodRuntime {
                    namespace: ns.to_string(),
                    name,
                    active: true,
                    ..PodRuntime::default()
                },
            );
            effects.push(Effect::Start(object_uid));
        }
    }
    let stored = if kind == Kind::Job {
        object
    } else {
        s.objects
            .get(&(
                kind,
                ns.to_string(),
                str_of(&object, "/metadata/name").to_string(),
            ))
            .cloned()
            .unwrap()
    };
    Ok((stored, effects))
}

fn default_job(job: &mut Value, name: &str, job_uid: &str) {
    let spec = &mut job["spec"];
    for (field, value) in [
        ("backoffLimit", json!(6)),
        ("completions", json!(1)),
        ("parallelism", json!(1)),
        ("completionMode", json!("NonIndexed")),
        ("suspend", json!(false)),
        ("manualSelector", json!(false)),
        ("podReplacementPolicy", json!("TerminatingOrFailed")),
    ] {
        if spec[field].is_null() {
            spec[field] = value;
        }
    }
    spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}});
    let labels = &mut spec["template"]["metadata"]["labels"];
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", job_uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", job_uid),
        ("job-name", name),
    ] {
        labels[k] = json!(v);
    }
    default_pod_spec(&mut spec["template"]["spec"]);
    job["metadata"]["generation"] = json!(1);
    job["status"] = json!({});
}

fn default_pod_spec(spec: &mut Value) {
    for (field, value) in [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("securityContext", json!({})),
    ] {
        if spec[field].is_null() {
            spec[field] = value;
        }
    }
    for list in ["containers", "initContainers"] {
        if let Some(containers) = spec[list].as_array_mut() {
            for c in containers {
                for (field, value) in [
                    ("terminationMessagePath", json!("/dev/termination-log")),
                    ("terminationMessagePolicy", json!("File")),
                    ("imagePullPolicy", json!("IfNotPresent")),
                    ("resources", json!({})),
                ] {
                    if c[field].is_null() {
                        c[field] = value;
                    }
                }
            }
        }
    }
}

fn default_pod(pod: &mut Value) {
    default_pod_spec(&mut pod["spec"]);
    pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
}

/// The job controller's pod for `job`; returns its uid.
fn create_job_pod(s: &mut State, job: &Value) -> String {
    let job_uid = str_of(job, "/metadata/uid").to_string();
    create_owned_pod(s, job, ("batch/v1", "Job"), Some(job_uid))
}

/// A controller's pod for `owner` (a Job, a ReplicaSet) from its
/// `spec.template`, named `<owner>-<5 random>` and owned by it, as the
/// controllers make them; returns its uid.
fn create_owned_pod(
    s: &mut State,
    owner: &Value,
    (owner_api_version, owner_kind): (&str, &str),
    job_uid: Option<String>,
) -> String {
    let ns = str_of(owner, "/metadata/namespace").to_string();
    let owner_name = str_of(owner, "/metadata/name").to_string();
    let owner_uid = str_of(owner, "/metadata/uid").to_string();
    let template = owner.pointer("/spec/template").cloned().unwrap_or_default();
    let mut base = format!("{owner_name}-");
    base.truncate(58);
    let name = loop {
        let candidate = format!("{base}{}", name_suffix());
        if s.get(Kind::Pod, &ns, &candidate).is_none() {
            break candidate;
        }
    };
    let pod_uid = uid();
    let mut metadata = template.get("metadata").cloned().unwrap_or(json!({}));
    metadata["name"] = json!(name);
    metadata["generateName"] = json!(base);
    metadata["namespace"] = json!(ns);
    metadata["uid"] = json!(pod_uid);
    metadata["creationTimestamp"] = json!(now());
    metadata["ownerReferences"] = json!([{
        "apiVersion": owner_api_version, "kind": owner_kind, "name": owner_name,
        "uid": owner_uid, "controller": true, "blockOwnerDeletion": true,
    }]);
    let mut pod = json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    });
    default_pod(&mut pod);
    s.put(Kind::Pod, pod, "ADDED");
    s.pods.insert(
        pod_uid.clone(),
        PodRuntime {
            namespace: ns,
            name,
            job_uid,
            active: true,
            ..PodRuntime::default()
        },
    );
    pod_uid
}

// ------------------------------------------------------- job controller

fn condition(type_: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": "True", "reason": reason, "message": message,
           "lastProbeTime": now(), "lastTransitionTime": now()})
}

fn job_pod_ended(s: &mut State, job_uid: &str, succeeded: bool) -> Vec<Effect> {
    let Some(job) = s.job(job_uid).cloned() else {
        return Vec::new();
    };
    let Some(runtime) = s.jobs.get_mut(job_uid) else {
        return Vec::new();
    };
    if runtime.finished {
        return Vec::new();
    }
    let backoff = job
        .pointer("/spec/backoffLimit")
        .and_then(Value::as_u64)
        .unwrap_or(6);
    let ttl = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_u64);
    let mut effects = Vec::new();
    if succeeded {
        runtime.succeeded += 1;
        runtime.finished = true;
    } else {
        runtime.failed += 1;
        if runtime.failed > backoff {
            runtime.finished = true;
        }
    }
    let (succeeded_count, failed_count, finished) =
        (runtime.succeeded, runtime.failed, runtime.finished);
    s.update_job(job_uid, |j| {
        let status = &mut j["status"];
        status["active"] = json!(0);
        status["ready"] = json!(0);
        if succeeded_count > 0 {
            status["succeeded"] = json!(succeeded_count);
        }
        if failed_count > 0 {
            status["failed"] = json!(failed_count);
        }
        if succeeded {
            status["completionTime"] = json!(now());
            status["conditions"] = json!([
                condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
                condition(
                    "Complete",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods"
                ),
            ]);
        } else if finished {
            status["conditions"] = json!([
                condition(
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"
                ),
                condition(
                    "Failed",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit"
                ),
            ]);
        }
    });
    if finished {
        if let Some(ttl) = ttl {
            effects.push(Effect::Ttl(job_uid.to_string(), Duration::from_secs(ttl)));
        }
    } else {
        // The controller's back-off: 10 s, 20 s, 40 s, … at most 6 minutes.
        let delay = (10u64 << (failed_count - 1).min(6)).min(360);
        effects.push(Effect::Replace(
            job_uid.to_string(),
            Duration::from_secs(delay),
        ));
    }
    effects
}

fn job_deadline(s: &mut State, job_uid: &str) -> Vec<Effect> {
    let Some(job) = s.job(job_uid).cloned() else {
        return Vec::new();
    };
    let Some(runtime) = s.jobs.get_mut(job_uid) else {
        return Vec::new();
    };
    if runtime.finished {
        return Vec::new();
    }
    runtime.finished = true;
    let active: Vec<String> = s
        .pods
        .iter()
        .filter(|(_, r)| r.job_uid.as_deref() == Some(job_uid) && !r.counted)
        .map(|(uid, _)| uid.clone())
        .collect();
    let runtime = s.jobs.get_mut(job_uid).unwrap();
    runtime.failed += active.len() as u64;
    let failed = runtime.failed;
    let message = "Job was active longer than specified deadline";
    s.update_job(job_uid, |j| {
        let status = &mut j["status"];
        status["active"] = json!(0);
        status["ready"] = json!(0);
        status["failed"] = json!(failed);
        status["conditions"] = json!([
            condition("FailureTarget", "DeadlineExceeded", message),
            condition("Failed", "DeadlineExceeded", message),
        ]);
    });
    let mut effects = Vec::new();
    for uid in active {
        if let Some(r) = s.pods.get_mut(&uid) {
            r.counted = true;
        }
        effects.extend(delete_pod(s, &uid, None).1);
    }
    if let Some(ttl) = job
        .pointer("/spec/ttlSecondsAfterFinished")
        .and_then(Value::as_u64)
    {
        effects.push(Effect::Ttl(job_uid.to_string(), Duration::from_secs(ttl)));
    }
    effects
}

// --------------------------------------------------------------- delete

fn delete_options(q: &Query, body: &str) -> Result<(Option<String>, Option<u64>), Reply> {
    let options: Value = if body.trim().is_empty() {
        json!({})
    } else {
        serde_json::from_str(body).map_err(|e| {
            bad_request(format!(
                "the body of the request was in an unknown format: {e}"
            ))
        })?
    };
    let mut policy = options
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").map(str::to_string));
    if policy.is_none() {
        match options.get("orphanDependents").and_then(Value::as_bool) {
            Some(true) => policy = Some("Orphan".into()),
            Some(false) => policy = Some("Background".into()),
            None => {}
        }
    }
    if let Some(p) = &policy
        && !["Orphan", "Background", "Foreground"].contains(&p.as_str())
    {
        return Err(invalid(
            Kind::Job,
            "",
            vec![(
                "propagationPolicy".into(),
                format!(
                    "Unsupported value: {p:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            )],
        ));
    }
    let grace = options
        .get("gracePeriodSeconds")
        .and_then(Value::as_u64)
        .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    Ok((policy, grace))
}

const ORPHAN_WARNING: &str = "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\"";

/// Deletes one object: the object as it now is and whether it is gone.
fn delete_object(
    s: &mut State,
    kind: Kind,
    object: &Value,
    policy: Option<&str>,
    grace: Option<u64>,
) -> (Value, bool, Vec<Effect>) {
    match kind {
        Kind::Secret | Kind::Service => {
            s.put(kind, object.clone(), "DELETED");
            (object.clone(), true, Vec::new())
        }
        Kind::Deployment | Kind::ReplicaSet => {
            apps::delete_owner(s, kind, object, policy.unwrap_or("Background"))
        }
        Kind::Pod => {
            let uid = str_of(object, "/metadata/uid").to_string();
            let (gone, effects) = delete_pod(s, &uid, grace);
            let now = s.pod(&uid).cloned().unwrap_or_else(|| object.clone());
            (now, gone, effects)
        }
        Kind::Job => {
            let (gone, effects) = delete_job(s, object, policy.unwrap_or("Orphan"), grace);
            let uid = str_of(object, "/metadata/uid");
            let now = s.job(uid).cloned().unwrap_or_else(|| object.clone());
            (now, gone, effects)
        }
    }
}

/// Deletes a pod: at once when no container of it runs, else gracefully
/// (the kubelet removes it once its container is gone). True when gone now.
fn delete_pod(s: &mut State, uid: &str, grace: Option<u64>) -> (bool, Vec<Effect>) {
    let Some(pod) = s.pod(uid).cloned() else {
        return (true, Vec::new());
    };
    let active = s.pods.get(uid).is_some_and(|r| r.active);
    if !active {
        return (true, finalize_pod(s, uid));
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return (false, Vec::new());
    }
    let grace = grace
        .or_else(|| {
            pod.pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_u64)
        })
        .unwrap_or(30);
    s.update_pod(uid, |p| {
        p["metadata"]["deletionTimestamp"] = json!(rfc3339(
            SystemTime::now() + Duration::from_secs(grace),
            false
        ));
        p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
    });
    let runtime = s.pods.get_mut(uid).unwrap();
    runtime.grace = grace;
    let mut ids: Vec<String> = runtime.container.iter().cloned().collect();
    ids.extend(runtime.sidecars.iter().cloned());
    let effects = if ids.is_empty() {
        Vec::new()
    } else {
        vec![Effect::Kill(ids, grace)]
    };
    (false, effects)
}

/// Removes a pod for good (DELETED) and lets its Job know.
fn finalize_pod(s: &mut State, uid: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    if let Some(pod) = s.pod(uid).cloned() {
        s.put(Kind::Pod, pod, "DELETED");
    }
    let Some(runtime) = s.pods.remove(uid) else {
        return effects;
    };
    if let Some(dir) = &runtime.dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some(job_uid) = &runtime.job_uid {
        if !runtime.counted {
            effects.extend(job_pod_ended(s, job_uid, false));
        }
        let foreground = s.jobs.get(job_uid).is_some_and(|j| j.foreground_deleting);
        let left = s
            .pods
            .values()
            .any(|r| r.job_uid.as_deref() == Some(job_uid));
        if foreground
            && !left
            && let Some(job) = s.job(job_uid).cloned()
        {
            s.put(Kind::Job, job, "DELETED");
            s.jobs.remove(job_uid);
        }
    }
    effects
}

/// Deletes a Job with a propagation policy; true when it is gone now.
fn delete_job(s: &mut State, job: &Value, policy: &str, grace: Option<u64>) -> (bool, Vec<Effect>) {
    let job_uid = str_of(job, "/metadata/uid").to_string();
    let pods: Vec<String> = s
        .pods
        .iter()
        .filter(|(_, r)| r.job_uid.as_deref() == Some(job_uid.as_str()))
        .map(|(uid, _)| uid.clone())
        .collect();
    let mut effects = Vec::new();
    match policy {
        "Orphan" => {
            s.put(Kind::Job, job.clone(), "DELETED");
            s.jobs.remove(&job_uid);
            for uid in pods {
                s.pods.get_mut(&uid).unwrap().job_uid = None;
                s.update_pod(&uid, |p| {
                    if let Some(m) = p["metadata"].as_object_mut() {
                        m.remove("ownerReferences");
                    }
                });
            }
            (true, effects)
        }
        "Foreground" => {
            if let Some(j) = s.jobs.get_mut(&job_uid) {
                j.finished = true;
                j.foreground_deleting = true;
            }
            s.update_job(&job_uid, |j| {
                j["metadata"]["deletionTimestamp"] = json!(now());
                j["metadata"]["deletionGracePeriodSeconds"] = json!(0);
                j["metadata"]["finalizers"] = json!(["foregroundDeletion"]);
            });
            for uid in &pods {
                effects.extend(delete_pod(s, uid, grace).1);
            }
            let left = s
                .pods
                .values()
                .any(|r| r.job_uid.as_deref() == Some(job_uid.as_str()));
            if !left && let Some(j) = s.job(&job_uid).cloned() {
                s.put(Kind::Job, j, "DELETED");
                s.jobs.remove(&job_uid);
            }
            (!left, effects)
        }
        _ => {
            s.put(Kind::Job, job.clone(), "DELETED");
            s.jobs.remove(&job_uid);
            for uid in &pods {
                effects.extend(delete_pod(s, uid, grace).1);
            }
            (true, effects)
        }
    }
}

fn warning_for(kind: Kind, policy: &Option<String>) -> Vec<(String, String)> {
    if kind == Kind::Job && policy.is_none() {
        vec![("warning".to_string(), ORPHAN_WARNING.to_string())]
    } else {
        Vec::new()
    }
}

fn delete_one_reply(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: &str,
    name: &str,
    q: &Query,
    body: &str,
) -> Result<Reply, Reply> {
    let (policy, grace) = delete_options(q, body)?;
    let (reply, effects) = shared.mutate(|s| {
        let Some(object) = s.get(kind, ns, name).cloned() else {
            return (not_found_object(kind, name), Vec::new());
        };
        let (now, gone, effects) = delete_object(s, kind, &object, policy.as_deref(), grace);
        let body = if gone {
            success_status(kind, &now)
        } else {
            now
        };
        (Reply::Json(200, body, warning_for(kind, &policy)), effects)
    });
    apply(shared, effects);
    Ok(reply)
}

fn delete_collection_reply(
    shared: &Arc<Shared>,
    kind: Kind,
    ns: &str,
    q: &Query,
    body: &str,
) -> Result<Reply, Reply> {
    let filter = Filter::new(kind, Some(ns), q)?;
    let (policy, grace) = delete_options(q, body)?;
    let (reply, effects) = shared.mutate(|s| {
        let matching: Vec<Value> = s
            .objects
            .iter()
            .filter(|((k, n, _), v)| filter.matches(*k, n, v))
            .map(|(_, v)| v.clone())
            .collect();
        let mut items = Vec::new();
        let mut effects = Vec::new();
        for object in matching {
            let (now, _, more) = delete_object(s, kind, &object, policy.as_deref(), grace);
            items.push(now);
            effects.extend(more);
        }
        let list = list_of(kind, items, s.resource_version);
        (Reply::Json(200, list, warning_for(kind, &policy)), effects)
    });
    apply(shared, effects);
    Ok(reply)
}

// ------------------------------------------------------------------ logs

fn log_reply(shared: &Arc<Shared>, ns: &str, name: &str, q: &Query) -> Result<Reply, Reply> {
    let follow = q.flag("follow");
    let timestamps = q.flag("timestamps");
    let tail = q.number("tailLines")?;
    let limit = q.number("limitBytes")?.map(|l| l.max(0) as usize);
    let since = q.number("sinceSeconds")?;
    let (uid, container) = shared.with(|s| {
        let Some(pod) = s.get(Kind::Pod, ns, name) else {
            return Err(not_found_object(Kind::Pod, name));
        };
        let names = |list: &str| -> Vec<String> {
            pod["spec"][list]
                .as_array()
                .map(|c| c.iter().map(|c| str_of(c, "/name").to_string()).collect())
                .unwrap_or_default()
        };
        let (main, init) = (names("containers"), names("initContainers"));
        let container = match q.get("container") {
            Some(c) if !c.is_empty() => c.to_string(),
            _ if main.len() == 1 && init.is_empty() => main[0].clone(),
            _ => {
                return Err(bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}] or one of the init containers: [{}]",
                    main.join(" "),
                    init.join(" ")
                )));
            }
        };
        if !main.contains(&container) && !init.contains(&container) {
            return Err(bad_request(format!(
                "container {container} is not valid for pod {name}"
            )));
        }
        if q.flag("previous") {
            return Err(bad_request(format!(
                "previous terminated container {container:?} in pod {name:?} not found"
            )));
        }
        let statuses = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .chain(pod["status"]["initContainerStatuses"].as_array())
            .flatten();
        let state = statuses
            .clone()
            .find(|c| str_of(c, "/name") == container)
            .map(|c| c["state"].clone());
        let waiting = match &state {
            None => Some("ContainerCreating".to_string()),
            Some(state) => state
                .get("waiting")
                .map(|w| str_of(w, "/reason").to_string()),
        };
        if let Some(reason) = waiting {
            let reason = match reason.as_str() {
                "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image".to_string(),
                "" => "ContainerCreating".to_string(),
                _ => reason,
            };
            return Err(bad_request(format!(
                "container {container:?} in pod {name:?} is waiting to start: {reason}"
            )));
        }
        Ok((str_of(pod, "/metadata/uid").to_string(), container))
    })?;
    let cutoff = since.map(|s| SystemTime::now() - Duration::from_secs(s.max(0) as u64));
    let render = move |entries: &[(SystemTime, Vec<u8>)], out: &mut Vec<u8>| {
        for (time, bytes) in entries {
            if cutoff.is_some_and(|c| *time < c) {
                continue;
            }
            if timestamps {
                out.extend_from_slice(rfc3339(*time, true).as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(bytes);
        }
    };
    // Where the first answer starts: the last tailLines entries.
    let first = move |len: usize| match tail {
        Some(t) => len.saturating_sub(t.max(0) as usize),
        None => 0,
    };
    if !follow {
        let mut out = Vec::new();
        shared.with(|s| {
            if let Some(log) = s.pods.get(&uid).and_then(|r| r.logs.get(&container)) {
                render(&log.entries[first(log.entries.len())..], &mut out);
            }
        });
        if let Some(limit) = limit {
            out.truncate(limit);
        }
        return Ok(Reply::Text(200, String::from_utf8_lossy(&out).into_owned()));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut tick = shared.tick.subscribe();
        let mut cursor: Option<usize> = None;
        let mut sent = 0usize;
        loop {
            let (mut out, done) = shared.with(|s| {
                let mut out = Vec::new();
                let Some(runtime) = s.pods.get(&uid) else {
                    return (out, true);
                };
                let Some(log) = runtime.logs.get(&container) else {
                    // A container that was never run (a skipped init container).
                    return (out, !runtime.active || !s.pods.contains_key(&uid));
                };
                let start = *cursor.get_or_insert_with(|| first(log.entries.len()));
                render(&log.entries[start..], &mut out);
                cursor = Some(log.entries.len());
                (out, log.finished)
            });
            if let Some(limit) = limit {
                out.truncate(limit.saturating_sub(sent));
            }
            sent += out.len();
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return;
            }
            if done || limit.is_some_and(|l| sent >= l) {
                return;
            }
            tokio::select! {
                changed = tick.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
            }
        }
    });
    Ok(Reply::Stream("text/plain", rx))
}

// --------------------------------------------------------------- kubelet

async fn docker(args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new("docker")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("docker: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

enum VolumeSource {
    Empty { memory: bool, size: Option<u64> },
    Secret(Vec<(String, Vec<u8>, u32)>),
    Host(String),
}

struct Resolved {
    /// (name, value, shown value)
    env: Vec<(String, String, String)>,
    volumes: BTreeMap<String, VolumeSource>,
}

fn secret_data(s: &State, ns: &str, name: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let secret = s.get(Kind::Secret, ns, name)?;
    Some(
        secret["data"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().and_then(unb64).unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The container's env and volumes from the stored Secrets; Err((reason,
/// message)) while something they need is missing.
fn resolve(
    s: &State,
    pod: &Value,
    container: &Value,
    port: u16,
) -> Result<Resolved, (String, String)> {
    let ns = str_of(pod, "/metadata/namespace");
    let mut env: Vec<(String, String, String)> = vec![
        (
            "KUBERNETES_SERVICE_HOST".into(),
            "127.0.0.1".into(),
            "127.0.0.1".into(),
        ),
        (
            "KUBERNETES_SERVICE_PORT".into(),
            port.to_string(),
            port.to_string(),
        ),
    ];
    let config_error = |m: String| ("CreateContainerConfigError".to_string(), m);
    let set =
        |env: &mut Vec<(String, String, String)>, name: String, value: String, shown: String| {
            env.retain(|(n, _, _)| *n != name);
            env.push((name, value, shown));
        };
    for from in container["envFrom"].as_array().cloned().unwrap_or_default() {
        let prefix = str_of(&from, "/prefix");
        if let Some(secret) = from.get("secretRef") {
            let name = str_of(secret, "/name");
            match secret_data(s, ns, name) {
                Some(data) => {
                    for (k, v) in data {
                        set(
                            &mut env,
                            format!("{prefix}{k}"),
                            String::from_utf8_lossy(&v).into_owned(),
                            format!("<secret {name}/{k}>"),
                        );
                    }
                }
                None if secret["optional"] == json!(true) => {}
                None => return Err(config_error(format!("secret {name:?} not found"))),
            }
        } else if from.get("configMapRef").is_some() {
            return Err(config_error(
                "configmaps are not served by the kube stand-in".into(),
            ));
        }
    }
    for item in container["env"].as_array().cloned().unwrap_or_default() {
        let name = str_of(&item, "/name").to_string();
        if let Some(from) = item.get("valueFrom") {
            if let Some(r) = from.get("secretKeyRef") {
                let (secret, key) = (str_of(r, "/name"), str_of(r, "/key"));
                let optional = r["optional"] == json!(true);
                match secret_data(s, ns, secret) {
                    Some(data) => match data.get(key) {
                        Some(v) => set(
                            &mut env,
                            name,
                            String::from_utf8_lossy(v).into_owned(),
                            format!("<secret {secret}/{key}>"),
                        ),
                        None if optional => {}
                        None => {
                            return Err(config_error(format!(
                                "couldn't find key {key} in Secret {ns}/{secret}"
                            )));
                        }
                    },
                    None if optional => {}
                    None => return Err(config_error(format!("secret {secret:?} not found"))),
                }
            } else if let Some(r) = from.get("fieldRef") {
                let value = match str_of(r, "/fieldPath") {
                    "metadata.name" => str_of(pod, "/metadata/name").to_string(),
                    "metadata.namespace" => ns.to_string(),
                    "metadata.uid" => str_of(pod, "/metadata/uid").to_string(),
                    "spec.nodeName" => NODE.to_string(),
                    "spec.serviceAccountName" => "default".to_string(),
                    "status.podIP" | "status.hostIP" => "127.0.0.1".to_string(),
                    path => {
                        if let Some(label) = path
                            .strip_prefix("metadata.labels['")
                            .and_then(|l| l.strip_suffix("']"))
                        {
                            labels_of(pod).get(label).cloned().unwrap_or_default()
                        } else {
                            return Err(config_error(format!(
                                "unsupported fieldPath {path:?} in the kube stand-in"
                            )));
                        }
                    }
                };
                set(&mut env, name, value.clone(), value);
            } else {
                return Err(config_error(format!(
                    "env {name}: only secretKeyRef and fieldRef are served by the kube stand-in"
                )));
            }
        } else {
            let raw = str_of(&item, "/value");
            let known: HashMap<String, String> =
                env.iter().map(|(n, v, _)| (n.clone(), v.clone())).collect();
            let value = expand(raw, &|n| known.get(n).cloned());
            // Shown with the shown values: a Secret's value stays hidden.
            let known_shown: HashMap<String, String> =
                env.iter().map(|(n, _, v)| (n.clone(), v.clone())).collect();
            let shown = expand(raw, &|n| known_shown.get(n).cloned());
            set(&mut env, name, value, shown);
        }
    }
    let mut volumes = BTreeMap::new();
    let declared = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for mount in container["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let name = str_of(&mount, "/name");
        if volumes.contains_key(name) {
            continue;
        }
        let Some(volume) = declared.iter().find(|v| str_of(v, "/name") == name) else {
            continue;
        };
        let source = if let Some(empty) = volume.get("emptyDir") {
            VolumeSource::Empty {
                memory: str_of(empty, "/medium") == "Memory",
                size: empty.get("sizeLimit").and_then(|q| match q {
                    Value::String(q) => quantity_bytes(q),
                    Value::Number(n) => n.as_u64(),
                    _ => None,
                }),
            }
        } else if let Some(secret) = volume.get("secret") {
            let secret_name = str_of(secret, "/secretName");
            let mode = secret["defaultMode"].as_u64().unwrap_or(0o644) as u32;
            let data = match secret_data(s, ns, secret_name) {
                Some(data) => data,
                None if secret["optional"] == json!(true) => BTreeMap::new(),
                None => {
                    return Err((
                        "ContainerCreating".into(),
                        format!(
                            "MountVolume.SetUp failed for volume {name:?} : secret {secret_name:?} not found"
                        ),
                    ));
                }
            };
            let files = match secret["items"].as_array() {
                Some(items) => {
                    let mut files = Vec::new();
                    for item in items {
                        let key = str_of(item, "/key");
                        let Some(bytes) = data.get(key) else {
                            return Err((
                                "ContainerCreating".into(),
                                format!(
                                    "MountVolume.SetUp failed for volume {name:?} : references non-existent secret key: {key}"
                                ),
                            ));
                        };
                        let path = match str_of(item, "/path") {
                            "" => key,
                            p => p,
                        };
                        let mode = item["mode"].as_u64().map(|m| m as u32).unwrap_or(mode);
                        files.push((path.to_string(), bytes.clone(), mode));
                    }
                    files
                }
                None => data.into_iter().map(|(k, v)| (k, v, mode)).collect(),
            };
            VolumeSource::Secret(files)
        } else if let Some(host) = volume.get("hostPath") {
            VolumeSource::Host(str_of(host, "/path").to_string())
        } else {
            return Err((
                "ContainerCreating".into(),
                format!(
                    "volume {name:?}: only emptyDir, secret and hostPath volumes are served by the kube stand-in"
                ),
            ));
        };
        volumes.insert(name.to_string(), source);
    }
    Ok(Resolved { env, volumes })
}

fn set_container_state(
    pod: &mut Value,
    list: &str,
    name: &str,
    image: &str,
    state: Value,
    extra: Value,
) {
    let statuses = &mut pod["status"][list];
    if !statuses.is_array() {
        *statuses = json!([]);
    }
    let array = statuses.as_array_mut().unwrap();
    let index = match array.iter().position(|c| str_of(c, "/name") == name) {
        Some(i) => i,
        None => {
            array.push(
                json!({"name": name, "image": image, "imageID": "", "ready": false,
                              "restartCount": 0, "started": false, "lastState": {}}),
            );
            array.len() - 1
        }
    };
    let entry = &mut array[index];
    entry["state"] = state;
    if let Some(extra) = extra.as_object() {
        for (k, v) in extra {
            entry[k] = v.clone();
        }
    }
}

fn set_conditions(pod: &mut Value, initialized: bool, ready: bool, reason: Option<&str>) {
    let t = now();
    let c = |type_: &str, ok: bool| {
        let mut c = json!({"type": type_, "status": if ok { "True" } else { "False" },
                           "lastProbeTime": null, "lastTransitionTime": t});
        if let (false, Some(r)) = (ok, reason) {
            c["reason"] = json!(r);
        }
        c
    };
    pod["status"]["conditions"] = json!([
        c("PodReadyToStartContainers", true),
        c("Initialized", initialized),
        c("Ready", ready),
        c("ContainersReady", ready),
        c("PodScheduled", true),
    ]);
}

/// Marks the pod Pending with its main container waiting, and, when the
/// kubelet gives up on it, no longer owned by a kubelet task.
fn wait_with(
    s: &mut State,
    uid: &str,
    container: &str,
    image: &str,
    reason: &str,
    message: &str,
    give_up: bool,
) {
    s.update_pod(uid, |p| {
        set_container_state(
            p,
            "containerStatuses",
            container,
            image,
            json!({"waiting": {"reason": reason, "message": message}}),
            json!({}),
        );
    });
    if give_up {
        if let Some(r) = s.pods.get_mut(uid) {
            r.active = false;
        }
        let (ns, name) = s
            .pods
            .get(uid)
            .map(|r| (r.namespace.clone(), r.name.clone()))
            .unwrap_or_default();
        if let Some(record) = s
            .kubelet
            .iter_mut()
            .rev()
            .find(|r| r.pod == name && r.namespace == ns)
        {
            record.not_started = Some(format!("{reason}: {message}"));
        }
    }
}

fn docker_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The kubelet for one pod: runs its main container, feeds its log, sets
/// its status, and tells the Job.
async fn run_pod(shared: Arc<Shared>, uid: String) {
    let Some(pod) = shared.with(|s| s.pod(&uid).cloned()) else {
        return;
    };
    let ns = str_of(&pod, "/metadata/namespace").to_string();
    let pod_name = str_of(&pod, "/metadata/name").to_string();
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let Some(main) = containers
        .iter()
        .find(|c| str_of(c, "/name") == "job")
        .or(containers.first())
        .cloned()
    else {
        return;
    };
    let container_name = str_of(&main, "/name").to_string();
    let image = str_of(&main, "/image").to_string();
    let init = pod["spec"]["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let is_sidecar = |c: &Value| str_of(c, "/restartPolicy") == "Always";
    let run_sidecars = shared.options.run_sidecars;
    let mut record = KubeletRecord {
        namespace: ns.clone(),
        pod: pod_name.clone(),
        container: container_name.clone(),
        skipped_init_containers: init
            .iter()
            .filter(|c| !(run_sidecars && is_sidecar(c)))
            .map(|c| str_of(c, "/name").to_string())
            .collect(),
        skipped_containers: containers
            .iter()
            .map(|c| str_of(c, "/name").to_string())
            .filter(|n| *n != container_name)
            .collect(),
        ..KubeletRecord::default()
    };
    for (i, c) in containers.iter().chain(init.iter()).enumerate() {
        if let Some(resources) = c.get("resources").and_then(Value::as_object)
            && !resources.is_empty()
        {
            record.ignored.push(format!(
                "containers[{i}] {}: resources {}",
                str_of(c, "/name"),
                Value::Object(resources.clone())
            ));
        }
    }
    if pod.pointer("/spec/securityContext/fsGroup").is_some() {
        record.ignored.push("securityContext.fsGroup".into());
    }
    for field in ["livenessProbe", "startupProbe", "lifecycle"] {
        if main.get(field).is_some_and(|v| !v.is_null()) {
            record.ignored.push(format!("{container_name}: {field}"));
        }
    }
    // A ReplicaSet's pod has a network of its own: its IP is its container's.
    let own_network = apps::of_replica_set(&pod);
    // Scheduled; regular init containers shown as done, the main one being created.
    shared.mutate(|s| {
        s.kubelet.push(record.clone());
        s.update_pod(&uid, |p| {
            p["spec"]["nodeName"] = json!(NODE);
            p["status"]["hostIP"] = json!("127.0.0.1");
            p["status"]["hostIPs"] = json!([{"ip": "127.0.0.1"}]);
            if !own_network {
                p["status"]["podIP"] = json!("127.0.0.1");
                p["status"]["podIPs"] = json!([{"ip": "127.0.0.1"}]);
            }
            p["status"]["startTime"] = json!(now());
            set_conditions(p, true, false, Some("ContainersNotReady"));
            for c in &init {
                if !is_sidecar(c) {
                    set_container_state(
                        p,
                        "initContainerStatuses",
                        str_of(c, "/name"),
                        str_of(c, "/image"),
                        json!({"terminated": {"exitCode": 0, "reason": "Completed",
                                              "message": "not run by the kube stand-in",
                                              "startedAt": now(), "finishedAt": now()}}),
                        json!({"ready": true, "started": false}),
                    );
                }
            }
            set_container_state(
                p,
                "containerStatuses",
                &container_name,
                &image,
                json!({"waiting": {"reason": "ContainerCreating"}}),
                json!({}),
            );
        });
    });
    let image_id = match docker(&["image", "inspect", "--format", "{{.Id}}", &image]).await {
        Ok(id) => id,
        Err(e) => {
            let message = format!(
                "Failed to pull image {image:?}: the kube stand-in pulls nothing and the image is not present locally ({e})"
            );
            shared.mutate(|s| {
                wait_with(
                    s,
                    &uid,
                    &container_name,
                    &image,
                    "ErrImagePull",
                    &message,
                    true,
                );
            });
            return;
        }
    };
    // The Secrets it needs, tried again while they are missing.
    let port = shared.addr.port();
    let mut last_wait = String::new();
    let resolved = loop {
        let attempt = shared.with(|s| {
            if s.deleting(&uid) {
                return None;
            }
            Some(resolve(s, &pod, &main, port))
        });
        match attempt {
            None => {
                let effects = shared.mutate(|s| finalize_pod(s, &uid));
                apply(&shared, effects);
                return;
            }
            Some(Ok(resolved)) => break resolved,
            Some(Err((reason, message))) => {
                if message != last_wait {
                    shared.mutate(|s| {
                        wait_with(s, &uid, &container_name, &image, &reason, &message, false);
                    });
                    last_wait = message;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    let pod_dir = shared.dir.path().join(&uid);
    shared.with(|s| {
        if let Some(r) = s.pods.get_mut(&uid) {
            r.dir = Some(pod_dir.clone());
        }
    });
    let mut args: Vec<String> = Vec::new();
    let mut shown: Vec<String> = Vec::new();
    let push = |args: &mut Vec<String>, shown: &mut Vec<String>, a: String, b: String| {
        args.push(a);
        shown.push(b);
    };
    let container_docker_name = docker_name(&format!(
        "k8s_{container_name}_{pod_name}_{ns}_{}_0",
        &uid[..8]
    ));
    let network: &[&str] = if own_network {
        &[]
    } else {
        &["--network", "host"]
    };
    for a in ["create", "--name", &container_docker_name]
        .iter()
        .chain(network)
    {
        push(&mut args, &mut shown, a.to_string(), a.to_string());
    }
    let mut labels: Vec<(String, String)> = vec![
        (LABEL_STAND_IN.into(), "1".into()),
        (LABEL_SERVER.into(), shared.id.clone()),
        ("io.kubernetes.pod.name".into(), pod_name.clone()),
        ("io.kubernetes.pod.namespace".into(), ns.clone()),
        ("io.kubernetes.pod.uid".into(), uid.clone()),
        (
            "io.kubernetes.container.name".into(),
            container_name.clone(),
        ),
    ];
    labels.extend(labels_of(&pod));
    for (k, v) in &labels {
        let l = format!("{k}={v}");
        push(&mut args, &mut shown, "--label".into(), "--label".into());
        push(&mut args, &mut shown, l.clone(), l);
    }
    for alias in pod["spec"]["hostAliases"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        for host in alias["hostnames"].as_array().cloned().unwrap_or_default() {
            let h = format!("{}:{}", host.as_str().unwrap_or(""), str_of(&alias, "/ip"));
            push(
                &mut args,
                &mut shown,
                "--add-host".into(),
                "--add-host".into(),
            );
            push(&mut args, &mut shown, h.clone(), h);
        }
    }
    for (name, value, show) in &resolved.env {
        push(&mut args, &mut shown, "-e".into(), "-e".into());
        push(
            &mut args,
            &mut shown,
            format!("{name}={value}"),
            format!("{name}={show}"),
        );
    }
    let security = |field: &str| {
        main.pointer(&format!("/securityContext/{field}"))
            .or_else(|| pod.pointer(&format!("/spec/securityContext/{field}")))
            .and_then(Value::as_u64)
    };
    if let Some(user) = security("runAsUser") {
        let u = match security("runAsGroup") {
            Some(g) => format!("{user}:{g}"),
            None => user.to_string(),
        };
        push(&mut args, &mut shown, "--user".into(), "--user".into());
        push(&mut args, &mut shown, u.clone(), u);
    }
    let working_dir = str_of(&main, "/workingDir");
    if !working_dir.is_empty() {
        push(&mut args, &mut shown, "-w".into(), "-w".into());
        push(
            &mut args,
            &mut shown,
            working_dir.into(),
            working_dir.into(),
        );
    }
    // Volumes: host dirs under the pod's dir.
    let mut empty_dirs: Vec<(String, PathBuf)> = Vec::new();
    let mut prepared: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (name, source) in &resolved.volumes {
        let dir = pod_dir.join("volumes").join(name);
        match source {
            VolumeSource::Empty { memory: true, .. } => {}
            VolumeSource::Empty { .. } => {
                std::fs::create_dir_all(&dir).unwrap();
                set_mode(&dir, 0o777);
                prepared.insert(name.clone(), dir);
            }
            VolumeSource::Secret(files) => {
                std::fs::create_dir_all(&dir).unwrap();
                for (path, bytes, mode) in files {
                    let file = dir.join(path);
                    if let Some(parent) = file.parent() {
                        std::fs::create_dir_all(parent).unwrap();
                    }
                    std::fs::write(&file, bytes).unwrap();
                    set_mode(&file, *mode);
                }
                prepared.insert(name.clone(), dir);
            }
            VolumeSource::Host(path) => {
                prepared.insert(name.clone(), PathBuf::from(path));
            }
        }
    }
    for mount in main["volumeMounts"].as_array().cloned().unwrap_or_default() {
        let name = str_of(&mount, "/name");
        let target = str_of(&mount, "/mountPath").to_string();
        let read_only = mount["readOnly"] == json!(true);
        match resolved.volumes.get(name) {
            Some(VolumeSource::Empty { memory: true, size }) => {
                if target == "/dev/shm" {
                    let size = size.unwrap_or(1 << 30).to_string();
                    push(
                        &mut args,
                        &mut shown,
                        "--shm-size".into(),
                        "--shm-size".into(),
                    );
                    push(&mut args, &mut shown, size.clone(), size);
                } else {
                    let mut t = target.clone();
                    if let Some(size) = size {
                        t.push_str(&format!(":size={size}"));
                    }
                    push(&mut args, &mut shown, "--tmpfs".into(), "--tmpfs".into());
                    push(&mut args, &mut shown, t.clone(), t);
                }
            }
            Some(source) => {
                let Some(dir) = prepared.get(name) else {
                    continue;
                };
                let mut src = dir.clone();
                let sub = str_of(&mount, "/subPath");
                if !sub.is_empty() {
                    src = src.join(sub);
                    if matches!(source, VolumeSource::Empty { .. }) {
                        std::fs::create_dir_all(&src).unwrap();
                        set_mode(&src, 0o777);
                    }
                }
                if matches!(source, VolumeSource::Empty { .. }) && sub.is_empty() {
                    empty_dirs.push((target.clone(), src.clone()));
                }
                let v = format!(
                    "{}:{target}{}",
                    src.display(),
                    if read_only || matches!(source, VolumeSource::Secret(_)) {
                        ":ro"
                    } else {
                        ""
                    }
                );
                push(&mut args, &mut shown, "-v".into(), "-v".into());
                push(&mut args, &mut shown, v.clone(), v);
            }
            None => {}
        }
    }
    for (host, target) in &shared.options.binds {
        // A mount point inside an emptyDir (which may be mounted read-only) is made there.
        if let Some((base, dir)) = empty_dirs
            .iter()
            .filter(|(base, _)| target.starts_with(&format!("{}/", base.trim_end_matches('/'))))
            .max_by_key(|(base, _)| base.len())
        {
            let inside =
                dir.join(target[base.trim_end_matches('/').len() + 1..].trim_start_matches('/'));
            if let Some(parent) = inside.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            if !inside.exists() {
                if host.is_dir() {
                    let _ = std::fs::create_dir_all(&inside);
                } else {
                    let _ = std::fs::write(&inside, b"");
                }
            }
        }
        let v = format!("{}:{target}:ro", host.display());
        push(&mut args, &mut shown, "-v".into(), "-v".into());
        push(&mut args, &mut shown, v.clone(), v);
    }
    // command and args, with $(VAR) expansion from the container's env.
    let env_map: HashMap<String, String> = resolved
        .env
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    let strings = |field: &str| -> Vec<String> {
        main[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| expand(v.as_str().unwrap_or(""), &|n| env_map.get(n).cloned()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let command = strings("command");
    let mut rest = strings("args");
    if let Some((entry, more)) = command.split_first() {
        push(
            &mut args,
            &mut shown,
            "--entrypoint".into(),
            "--entrypoint".into(),
        );
        push(&mut args, &mut shown, entry.clone(), entry.clone());
        let mut all = more.to_vec();
        all.append(&mut rest);
        rest = all;
    }
    push(&mut args, &mut shown, image.clone(), image.clone());
    for a in rest {
        push(&mut args, &mut shown, a.clone(), a);
    }
    shared.with(|s| {
        if let Some(r) = s
            .kubelet
            .iter_mut()
            .rev()
            .find(|r| r.pod == pod_name && r.namespace == ns)
        {
            r.docker_args = shown.clone();
        }
    });
    // Native sidecars first, as the kubelet starts them before the main container.
    let mut sidecars = Vec::new();
    if run_sidecars {
        for c in init.iter().filter(|c| is_sidecar(c)) {
            match start_sidecar(&shared, &uid, &pod, c, port).await {
                Ok(id) => {
                    sidecars.push(id);
                    shared.with(|s| {
                        if let Some(r) = s.kubelet.iter_mut().rev().find(|r| r.pod == pod_name) {
                            r.sidecars.push(str_of(c, "/name").to_string());
                        }
                    });
                }
                Err(e) => {
                    shared.mutate(|s| {
                        wait_with(
                            s,
                            &uid,
                            &container_name,
                            &image,
                            "PodInitializing",
                            &e,
                            false,
                        )
                    });
                }
            }
        }
    }
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = match docker(&arg_refs).await {
        Ok(id) => id,
        Err(e) => {
            for id in &sidecars {
                let _ = docker(&["rm", "-f", id]).await;
            }
            let deleting = shared.with(|s| s.deleting(&uid));
            if deleting {
                let effects = shared.mutate(|s| finalize_pod(s, &uid));
                apply(&shared, effects);
            } else {
                shared.mutate(|s| {
                    wait_with(
                        s,
                        &uid,
                        &container_name,
                        &image,
                        "CreateContainerError",
                        &e,
                        true,
                    )
                });
            }
            return;
        }
    };
    // Deleted while it was being created?
    let deleting = shared.mutate(|s| {
        if s.deleting(&uid) {
            return true;
        }
        let r = s.pods.get_mut(&uid).unwrap();
        r.container = Some(id.clone());
        r.sidecars = sidecars.clone();
        r.logs
            .insert(container_name.clone(), ContainerLog::default());
        false
    });
    if deleting {
        let mut ids = vec![id.as_str()];
        ids.extend(sidecars.iter().map(String::as_str));
        let mut rm = vec!["rm", "-f"];
        rm.extend(ids);
        let _ = docker(&rm).await;
        let effects = shared.mutate(|s| finalize_pod(s, &uid));
        apply(&shared, effects);
        return;
    }
    let started_at = now();
    let image_id_shown = format!("docker://{image_id}");
    let container_id = format!("docker://{id}");
    let attached = attach(&shared, &uid, &container_name, &id, || {
        // A ReplicaSet's pod is ready when its prober says so.
        let ready = !own_network;
        if own_network {
            tokio::spawn(apps::probe(
                shared.clone(),
                uid.clone(),
                main.clone(),
                id.clone(),
            ));
        }
        shared.mutate(|s| {
            s.update_pod(&uid, |p| {
                p["status"]["phase"] = json!("Running");
                set_conditions(p, true, ready, (!ready).then_some("ContainersNotReady"));
                set_container_state(
                    p,
                    "containerStatuses",
                    &container_name,
                    &image,
                    json!({"running": {"startedAt": started_at}}),
                    json!({"ready": ready, "started": true, "containerID": container_id,
                           "imageID": image_id_shown}),
                );
            });
            if let Some(job_uid) = s.pods.get(&uid).and_then(|r| r.job_uid.clone()) {
                s.update_job(&job_uid, |j| j["status"]["ready"] = json!(1));
            }
        });
    })
    .await;
    let inspect = docker(&[
        "inspect",
        "--format",
        "{{.State.ExitCode}}|{{.State.OOMKilled}}|{{.State.Error}}",
        &id,
    ])
    .await
    .unwrap_or_default();
    let mut fields = inspect.splitn(3, '|');
    let mut exit_code: i64 = fields
        .next()
        .and_then(|c| c.parse().ok())
        .unwrap_or(attached);
    let oom = fields.next() == Some("true");
    let error = fields.next().unwrap_or("").to_string();
    let mut reason = match (exit_code, oom) {
        (_, true) => "OOMKilled",
        (0, _) => "Completed",
        _ => "Error",
    };
    if !error.is_empty() {
        // It never ran: what the log has is the docker CLI's complaint.
        reason = "StartError";
        if exit_code == 0 || exit_code == 127 {
            exit_code = 128;
        }
        shared.with(|s| {
            if let Some(log) = s
                .pods
                .get_mut(&uid)
                .and_then(|r| r.logs.get_mut(&container_name))
            {
                log.entries.clear();
            }
        });
    }
    // Sidecars are stopped once the main container is done.
    let sidecar_ids = shared.with(|s| {
        s.pods
            .get(&uid)
            .map(|r| r.sidecars.clone())
            .unwrap_or_default()
    });
    for sid in &sidecar_ids {
        let _ = docker(&["stop", "-t", "1", sid]).await;
    }
    let mut rm = vec!["rm", "-f", id.as_str()];
    rm.extend(sidecar_ids.iter().map(String::as_str));
    let _ = docker(&rm).await;
    let finished_at = now();
    let effects = shared.mutate(|s| {
        if let Some(r) = s.kubelet.iter_mut().rev().find(|r| r.pod == pod_name && r.namespace == ns) {
            r.exit_code = Some(exit_code);
        }
        if let Some(r) = s.pods.get_mut(&uid) {
            r.active = false;
            r.container = None;
            r.sidecars.clear();
            if let Some(log) = r.logs.get_mut(&container_name) {
                log.finished = true;
            }
        }
        if s.deleting(&uid) {
            return finalize_pod(s, &uid);
        }
        let phase = if exit_code == 0 { "Succeeded" } else { "Failed" };
        let mut terminated = json!({"exitCode": exit_code, "reason": reason, "startedAt": started_at,
                                    "finishedAt": finished_at, "containerID": format!("docker://{id}")});
        if !error.is_empty() {
            terminated["message"] = json!(error);
        }
        if own_network {
            apps::crash_loop(s, &uid, &container_name, &image, terminated);
            return Vec::new();
        }
        s.update_pod(&uid, |p| {
            p["status"]["phase"] = json!(phase);
            set_conditions(p, true, false, Some("PodCompleted"));
            set_container_state(
                p,
                "containerStatuses",
                &container_name,
                &image,
                json!({"terminated": terminated}),
                json!({"ready": false, "started": false}),
            );
        });
        let job_uid = s.pods.get(&uid).and_then(|r| r.job_uid.clone());
        match job_uid {
            Some(job_uid) if !s.pods[&uid].counted => {
                s.pods.get_mut(&uid).unwrap().counted = true;
                job_pod_ended(s, &job_uid, exit_code == 0)
            }
            _ => Vec::new(),
        }
    });
    apply(&shared, effects);
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

/// `docker start -a`: stdout and stderr into the pod's log until the
/// container ends; `started` is called once it is attached. The exit status
/// of the CLI (the container's, unless docker itself failed).
async fn attach(
    shared: &Arc<Shared>,
    uid: &str,
    container: &str,
    id: &str,
    started: impl FnOnce(),
) -> i64 {
    let child = tokio::process::Command::new("docker")
        .args(["start", "-a", id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let Ok(mut child) = child else {
        return 128;
    };
    started();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let pump = |stream: usize, mut reader: Box<dyn tokio::io::AsyncRead + Unpin + Send>| {
        let shared = shared.clone();
        let uid = uid.to_string();
        let container = container.to_string();
        async move {
            let mut buffer = vec![0u8; 8192];
            loop {
                let n = reader.read(&mut buffer).await.unwrap_or(0);
                shared.mutate(|s| {
                    if let Some(log) = s
                        .pods
                        .get_mut(&uid)
                        .and_then(|r| r.logs.get_mut(&container))
                    {
                        if n == 0 {
                            log.close(stream);
                        } else {
                            log.append(stream, &buffer[..n]);
                        }
                    }
                });
                if n == 0 {
                    break;
                }
            }
        }
    };
    let (_, _, status) = tokio::join!(
        pump(0, Box::new(stdout)),
        pump(1, Box::new(stderr)),
        child.wait()
    );
    status
        .ok()
        .and_then(|s| s.code())
        .map(i64::from)
        .unwrap_or(137)
}

/// Starts a native sidecar (detached, on the host network); its container id.
async fn start_sidecar(
    shared: &Arc<Shared>,
    uid: &str,
    pod: &Value,
    c: &Value,
    port: u16,
) -> Result<String, String> {
    let resolved = shared
        .with(|s| resolve(s, pod, c, port))
        .map_err(|(_, m)| m)?;
    let name = str_of(c, "/name");
    let mut args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--name".into(),
        docker_name(&format!(
            "k8s_{name}_{}_{}_{}_0",
            str_of(pod, "/metadata/name"),
            str_of(pod, "/metadata/namespace"),
            &uid[..8]
        )),
        "--network".into(),
        "host".into(),
        "--label".into(),
        format!("{LABEL_STAND_IN}=1"),
        "--label".into(),
        format!("{LABEL_SERVER}={}", shared.id),
        "--label".into(),
        format!("io.kubernetes.container.name={name}"),
    ];
    for (n, v, _) in &resolved.env {
        args.push("-e".into());
        args.push(format!("{n}={v}"));
    }
    let command: Vec<String> = c["command"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut rest: Vec<String> = c["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    if let Some((entry, more)) = command.split_first() {
        args.push("--entrypoint".into());
        args.push(entry.clone());
        let mut all = more.to_vec();
        all.append(&mut rest);
        rest = all;
    }
    args.push(str_of(c, "/image").to_string());
    args.extend(rest);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = docker(&refs).await?;
    let started = now();
    shared.mutate(|s| {
        s.update_pod(uid, |p| {
            set_container_state(
                p,
                "initContainerStatuses",
                name,
                str_of(c, "/image"),
                json!({"running": {"startedAt": started}}),
                json!({"ready": true, "started": true, "containerID": format!("docker://{id}")}),
            );
        });
    });
    Ok(id)
}
