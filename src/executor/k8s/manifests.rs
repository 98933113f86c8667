//! The two objects of one job: a Secret (the run's secrets and the agent's
//! S3 access: the only place their values go) and a Job of one pod whose
//! main container is the job's image running `mlci agent`, services beside
//! it as native sidecars.
//!
//! ```text
//! initContainers: mlci-agent (copies the agent binary into a shared emptyDir),
//!                 one sidecar per service (restartPolicy: Always)
//! containers:     job: image, `/mlci-agent/mlci agent --mailbox s3://…`,
//!                 nvidia.com/gpu limits, /dev/shm as a memory emptyDir,
//!                 /__w as an emptyDir, the Secret mounted read-only
//! ```

use crate::executor::remote::{S3Access, SecretPlaceholders};
use crate::executor::{JobSpec, LABEL_JOB, LABEL_RUN};
use k8s_openapi::api::batch::v1::{Job, JobSpec as KubeJobSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, HostAlias, PodSpec,
    PodTemplateSpec, ResourceRequirements, Secret, SecretKeySelector, SecretVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The label that tells a run's jobs apart (`job1`, `job2`, …).
pub const LABEL_KEY: &str = "dev.mlci.key";
/// The annotation with the job's full name (labels are too narrow for it).
pub const ANNOTATION_JOB: &str = "dev.mlci.job-name";

pub const AGENT_DIR: &str = "/mlci-agent";
pub const SECRETS_DIR: &str = "/var/run/mlci/secrets";
/// The key of the Secret that holds the run's secrets, as JSON.
pub const SECRETS_KEY: &str = "secrets.json";
/// The name of the job's main container.
pub const JOB_CONTAINER: &str = "job";

/// What the manifests need beyond the job.
#[derive(Clone, Debug)]
pub struct KubeSettings {
    pub namespace: String,
    /// The image whose `/mlci` is the agent (`mlci/agent:<version>`).
    pub agent_image: String,
    /// `s3://bucket/prefix`: each job's mailbox is under `mailbox/<run>/<key>`.
    pub mailbox_root: String,
    /// How the pod reaches S3; the values go into the Secret.
    pub s3: S3Access,
    /// Finished Jobs are removed by Kubernetes after this many seconds even
    /// if mlci could not remove them itself.
    pub ttl_after_finished: i32,
}

pub struct Manifests {
    pub secret: Secret,
    pub job: Job,
}

/// A name Kubernetes accepts (DNS-1123 label): lower case, digits and `-`.
pub fn object_name(run_id: &str, key: &str) -> String {
    let raw = format!("mlci-{run_id}-{key}").to_ascii_lowercase();
    let mut name: String = raw
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(63);
    name.trim_end_matches('-').to_string()
}

/// A label value Kubernetes accepts: at most 63 of `[A-Za-z0-9._-]`,
/// starting and ending with an alphanumeric.
pub fn label_value(text: &str) -> String {
    let mut value: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    while value.contains("--") {
        value = value.replace("--", "-");
    }
    value.truncate(63);
    value
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Where the mailboxes of a run's jobs are, on the S3 remote.
pub fn run_mailboxes(settings: &KubeSettings, run_id: &str) -> String {
    format!(
        "{}/mailbox/{run_id}",
        settings.mailbox_root.trim_end_matches('/')
    )
}

pub fn mailbox_url(settings: &KubeSettings, run_id: &str, key: &str) -> String {
    format!("{}/{key}", run_mailboxes(settings, run_id))
}

/// The labels of every object of a job.
pub fn labels(spec: &JobSpec, key: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_RUN.to_string(), label_value(&spec.run_id)),
        (LABEL_JOB.to_string(), label_value(&spec.job_name)),
        (LABEL_KEY.to_string(), key.to_string()),
    ])
}

/// The selector of one job's objects, or of a whole run's.
pub fn selector(run_id: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("{LABEL_RUN}={},{LABEL_KEY}={key}", label_value(run_id)),
        None => format!("{LABEL_RUN}={}", label_value(run_id)),
    }
}

pub fn build(spec: &JobSpec, key: &str, settings: &KubeSettings) -> Result<Manifests, String> {
    let gpus = crate::executor::slurm::batch::gpu_count(spec)?;
    let name = object_name(&spec.run_id, key);
    let labels = labels(spec, key);
    let metadata = ObjectMeta {
        name: Some(name.clone()),
        namespace: Some(settings.namespace.clone()),
        labels: Some(labels.clone()),
        annotations: Some(BTreeMap::from([(
            ANNOTATION_JOB.to_string(),
            spec.job_name.clone(),
        )])),
        ..ObjectMeta::default()
    };
    let mut secret_data = BTreeMap::from([(
        SECRETS_KEY.to_string(),
        serde_json::to_string(&spec.secrets).unwrap_or_default(),
    )]);
    secret_data.extend(settings.s3.agent_env());
    let secret = Secret {
        metadata: metadata.clone(),
        type_: Some("Opaque".to_string()),
        string_data: Some(secret_data.clone()),
        ..Secret::default()
    };
    let placeholders = SecretPlaceholders::new(&spec.secrets);
    let job = Job {
        metadata: metadata.clone(),
        spec: Some(KubeJobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: spec.timeout.map(|t| t.as_secs().max(1) as i64),
            ttl_seconds_after_finished: Some(settings.ttl_after_finished),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: metadata.annotations.clone(),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(
                    spec,
                    key,
                    settings,
                    &name,
                    &secret_data,
                    &placeholders,
                    gpus,
                )),
            },
            ..KubeJobSpec::default()
        }),
        ..Job::default()
    };
    Ok(Manifests { secret, job })
}

fn pod_spec(
    spec: &JobSpec,
    key: &str,
    settings: &KubeSettings,
    secret_name: &str,
    secret_data: &BTreeMap<String, String>,
    placeholders: &SecretPlaceholders,
    gpus: Option<i64>,
) -> PodSpec {
    let mount = |name: &str, path: &str, read_only: bool| VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    };
    let mut volumes = vec![
        Volume {
            name: "mlci-agent".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        Volume {
            name: "work".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        Volume {
            name: "mlci-secrets".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret_name.to_string()),
                items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                    key: SECRETS_KEY.into(),
                    path: SECRETS_KEY.into(),
                    ..Default::default()
                }]),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        },
    ];
    let mut mounts = vec![
        mount("mlci-agent", AGENT_DIR, true),
        mount("work", "/__w", false),
        mount("mlci-secrets", SECRETS_DIR, true),
    ];
    if let Some(bytes) = spec.options.shm_size {
        volumes.push(Volume {
            name: "shm".into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(Quantity(bytes.to_string())),
            }),
            ..Volume::default()
        });
        mounts.push(mount("shm", "/dev/shm", false));
    }
    // Values from the Secret by key: the pod spec names them, never holds them.
    let mut env: Vec<EnvVar> = secret_data
        .keys()
        .filter(|k| k.as_str() != SECRETS_KEY)
        .map(|k| EnvVar {
            name: k.clone(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret_name.to_string(),
                    key: k.clone(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        })
        .collect();
    env.push(plain_env(
        "MLCI_AGENT_SECRETS_FILE",
        &format!("{SECRETS_DIR}/{SECRETS_KEY}"),
    ));
    for (name, value) in &spec.env {
        env.push(plain_env(name, &placeholders.hide(value)));
    }
    for pair in &spec.options.env {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        env.push(plain_env(name, &placeholders.hide(value)));
    }
    let mut limits = BTreeMap::new();
    if let Some(gpus) = gpus {
        limits.insert("nvidia.com/gpu".to_string(), Quantity(gpus.to_string()));
    }
    if let Some(bytes) = spec.options.memory {
        limits.insert("memory".to_string(), Quantity(bytes.to_string()));
    }
    if let Some(nano) = spec.options.nano_cpus {
        limits.insert(
            "cpu".to_string(),
            Quantity(format!("{}m", nano / 1_000_000)),
        );
    }
    let job = Container {
        name: JOB_CONTAINER.into(),
        image: Some(spec.image.clone()),
        command: Some(vec![
            format!("{AGENT_DIR}/mlci"),
            "agent".into(),
            "--mailbox".into(),
            mailbox_url(settings, &spec.run_id, key),
        ]),
        env: Some(env),
        volume_mounts: Some(mounts),
        resources: (!limits.is_empty()).then(|| ResourceRequirements {
            limits: Some(limits),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    };
    let mut init = vec![Container {
        name: "mlci-agent".into(),
        image: Some(settings.agent_image.clone()),
        command: Some(vec![
            "cp".into(),
            "/mlci".into(),
            format!("{AGENT_DIR}/mlci"),
        ]),
        volume_mounts: Some(vec![mount("mlci-agent", AGENT_DIR, false)]),
        ..Container::default()
    }];
    for service in &spec.services {
        init.push(Container {
            name: label_value(&service.name).to_ascii_lowercase(),
            image: Some(service.image.clone()),
            // A native sidecar: it starts before the job's container and is
            // stopped when that one ends, so the Job completes.
            restart_policy: Some("Always".into()),
            env: (!service.env.is_empty()).then(|| {
                service
                    .env
                    .iter()
                    .map(|(k, v)| plain_env(k, &placeholders.hide(v)))
                    .collect()
            }),
            ports: Some(
                service
                    .ports
                    .iter()
                    .filter_map(|p| container_port(p))
                    .map(|port| ContainerPort {
                        container_port: port,
                        ..ContainerPort::default()
                    })
                    .collect(),
            ),
            ..Container::default()
        });
    }
    // Services share the pod's network: their names lead to localhost.
    let host_aliases = (!spec.services.is_empty()).then(|| {
        vec![HostAlias {
            ip: "127.0.0.1".into(),
            hostnames: Some(spec.services.iter().map(|s| s.name.clone()).collect()),
        }]
    });
    PodSpec {
        restart_policy: Some("Never".into()),
        init_containers: Some(init),
        containers: vec![job],
        volumes: Some(volumes),
        host_aliases,
        ..PodSpec::default()
    }
}

fn plain_env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_string(),
        value: Some(value.to_string()),
        ..EnvVar::default()
    }
}

/// The container's side of a `ports:` entry (`8080`, `8080:80` → 80, `80/tcp`).
fn container_port(port: &str) -> Option<i32> {
    let port = port.rsplit(':').next()?;
    port.split('/').next()?.parse().ok()
}

/// The Secret as `--dry-run` prints it: its keys, with every value hidden.
pub fn redacted(secret: &Secret) -> Secret {
    let mut shown = secret.clone();
    if let Some(data) = shown.string_data.as_mut() {
        for value in data.values_mut() {
            *value = "<redacted>".to_string();
        }
    }
    shown
}
