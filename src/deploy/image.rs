//! The images a Docker deployment runs, each reused when it is there:
//! - the serving environment, `mlci/serve-env:<hash>`: a virtualenv on
//!   `mlci/python-ml` with the model's own requirements and MLflow, as
//!   `mlflow models build-docker` installs them, tagged by the hash of what
//!   went into it, so a second version with the same requirements skips it;
//! - for a cluster, the version, `mlci/serve-<model>:<version>-<tree>`: the
//!   environment plus the model's files, to push where the cluster pulls.
//!   On the local engine a version's container is made from the
//!   environment and gets the model's files copied in before it starts:
//!   no image to build, so a second version is up in seconds even on a slow
//!   storage driver;
//! - the front, `mlci/deploy-front:<hash>`: this mlci binary on the Debian
//!   base, running `mlci __deploy-front`.

use super::model::MlflowModel;
use super::request::DeployError;
use crate::executor::Backend;
use crate::executor::docker::DockerBackend;
use std::collections::BTreeMap;
use std::path::Path;

/// What the serving environment is built on.
pub const SERVE_BASE: &str = "mlci/python-ml:latest";
/// What the front is built on.
pub const FRONT_BASE: &str = "mlci/debian:bookworm";
/// The port MLflow's scoring server listens on inside a version's container.
pub const MODEL_PORT: u16 = 8080;
/// Where the model's files are in a version's container.
pub const MODEL_DIR: &str = "/opt/ml/model";
/// Labels of the images this module builds.
const IMAGE_LABEL: &str = "dev.mlci.deploy.image";

/// Bump to rebuild every serving environment.
const ENV_RECIPE: &str = "2";

/// A built (or found) image.
#[derive(Clone, Debug)]
pub struct Built {
    pub tag: String,
    /// The engine's id of it (`sha256:…`).
    pub id: String,
    /// It was there already.
    pub reused: bool,
    pub seconds: f64,
}

/// The serving environment of `model`, built when missing.
pub async fn environment(
    docker: &DockerBackend,
    model: &MlflowModel,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Built, DeployError> {
    let base_id = docker.image_id(SERVE_BASE).await.map_err(|_| {
        DeployError::Failed(format!(
            "the serving image is built on {SERVE_BASE}, which this engine does not have: build it with `mlci images build`"
        ))
    })?;
    let mut requirements = model.requirements.join("\n");
    if let Some(mlflow) = model.mlflow_requirement() {
        requirements.push('\n');
        requirements.push_str(&mlflow);
    }
    requirements.push('\n');
    let extra_files = requirement_files(model)?;
    let mut hasher = blake3::Hasher::new();
    for part in [ENV_RECIPE, &base_id, &requirements] {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    for (name, bytes) in &extra_files {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(bytes);
    }
    let hash = hasher.finalize().to_hex();
    let tag = format!("mlci/serve-env:{}", &hash[..16]);
    build_unless_present(docker, &tag, "environment", on_line, |context| {
        std::fs::write(context.join("requirements.txt"), &requirements)?;
        for (name, bytes) in &extra_files {
            std::fs::write(context.join(name), bytes)?;
        }
        std::fs::write(context.join("serve"), SERVE_SCRIPT)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(context.join("serve"), std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(
            context.join("Dockerfile"),
            format!(
                "FROM {SERVE_BASE}\n\
                 COPY . /opt/mlci-serve/\n\
                 RUN python3 -m venv /opt/mlci-serve/venv \\\n \
                 && /opt/mlci-serve/venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /opt/mlci-serve/requirements.txt \\\n \
                 && /opt/mlci-serve/venv/bin/python -c \"from mlflow.pyfunc import scoring_server as s; print(getattr(s, '_SERVER_MODEL_PATH', ''))\" > /opt/mlci-serve/model-path-variable \\\n \
                 && mkdir -p {MODEL_DIR}\n\
                 ENV PATH=/opt/mlci-serve/venv/bin:$PATH PYTHONUNBUFFERED=1 PIP_NO_INPUT=1\n\
                 EXPOSE {MODEL_PORT}\n\
                 CMD [\"/opt/mlci-serve/serve\"]\n"
            ),
        )
    })
    .await
}

/// Serves `/opt/ml/model` with MLflow's scoring server on 8080. MLflow 3's
/// server is a FastAPI app: started by uvicorn directly it is up seconds
/// sooner than through `mlflow models serve`, which starts Python twice; any
/// other MLflow goes through its own command.
const SERVE_SCRIPT: &str = r#"#!/bin/sh
set -e
variable=$(cat /opt/mlci-serve/model-path-variable 2>/dev/null || true)
site=$(echo /opt/mlci-serve/venv/lib/python3*/site-packages)
if [ -n "$variable" ] && [ -f "$site/mlflow/pyfunc/scoring_server/app.py" ]; then
  exec env "$variable=file:///opt/ml/model" uvicorn --host 0.0.0.0 --port 8080     --workers "${MLCI_SERVE_WORKERS:-1}" mlflow.pyfunc.scoring_server.app:app
fi
exec mlflow models serve -m /opt/ml/model --env-manager local -h 0.0.0.0 -p 8080   --workers "${MLCI_SERVE_WORKERS:-1}"
"#;

/// The files besides requirements.txt that pip reads through it
/// (`-c constraints.txt`, `-r more.txt`): the `.txt` files at the model's top.
fn requirement_files(model: &MlflowModel) -> Result<Vec<(String, Vec<u8>)>, DeployError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&model.dir)
        .map_err(|e| DeployError::Failed(format!("{}: {e}", model.dir.display())))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_plain_file = entry.file_type().is_ok_and(|t| t.is_file());
        if name.ends_with(".txt") && name != "requirements.txt" && is_plain_file {
            let text = super::model::read_small(&entry.path()).map_err(DeployError::Invalid)?;
            files.push((name, text.into_bytes()));
        }
    }
    files.sort();
    Ok(files)
}

/// The tag of a version's image: `mlci/serve-<model>:<version>-<tree>`.
pub fn version_tag(model_name: &str, version: i64, tree_hash: &str) -> String {
    let tree = &tree_hash[..tree_hash.len().min(12)];
    format!(
        "mlci/serve-{}:{version}-{tree}",
        model_name.to_ascii_lowercase()
    )
}

/// The image of one version: the environment plus the model's files.
pub async fn version(
    docker: &DockerBackend,
    environment: &Built,
    model: &MlflowModel,
    model_name: &str,
    version: i64,
    tree_hash: &str,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Built, DeployError> {
    let tag = version_tag(model_name, version, tree_hash);
    build_unless_present(docker, &tag, "version", on_line, |context| {
        copy_tree(&model.dir, &context.join("model"))?;
        std::fs::write(
            context.join("Dockerfile"),
            format!("FROM {}\nCOPY model {MODEL_DIR}\n", environment.tag),
        )
    })
    .await
}

/// The front's image: this binary on the Debian base.
pub async fn front(
    docker: &DockerBackend,
    on_line: &mut (dyn FnMut(&str) + Send),
) -> Result<Built, DeployError> {
    if !docker.has_image(FRONT_BASE).await.unwrap_or(false) {
        return Err(DeployError::Failed(format!(
            "the deployment's front is built on {FRONT_BASE}, which this engine does not have: build it with `mlci images build base`"
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| DeployError::Failed(format!("cannot find the mlci binary: {e}")))?;
    let bytes =
        std::fs::read(&exe).map_err(|e| DeployError::Failed(format!("{}: {e}", exe.display())))?;
    let hash = blake3::hash(&bytes).to_hex();
    let tag = format!("mlci/deploy-front:{}", &hash[..16]);
    build_unless_present(docker, &tag, "front", on_line, |context| {
        std::fs::write(context.join("mlci"), &bytes)?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(context.join("mlci"), std::fs::Permissions::from_mode(0o755))?;
        std::fs::write(
            context.join("Dockerfile"),
            format!(
                "FROM {FRONT_BASE}\nCOPY mlci /mlci\nENTRYPOINT [\"/mlci\", \"__deploy-front\"]\n"
            ),
        )
    })
    .await
}

async fn build_unless_present(
    docker: &DockerBackend,
    tag: &str,
    kind: &str,
    on_line: &mut (dyn FnMut(&str) + Send),
    write_context: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<Built, DeployError> {
    let started = std::time::Instant::now();
    if let Ok(id) = docker.image_id(tag).await {
        return Ok(Built {
            tag: tag.to_string(),
            id,
            reused: true,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let failed = |message: String| DeployError::Failed(format!("building {tag}: {message}"));
    let context = tempfile::tempdir().map_err(|e| failed(e.to_string()))?;
    write_context(context.path()).map_err(|e| failed(e.to_string()))?;
    let labels = BTreeMap::from([(IMAGE_LABEL.to_string(), kind.to_string())]);
    let mut tail: Vec<String> = Vec::new();
    let built = docker
        .build_image(context.path(), "Dockerfile", tag, &labels, &mut |line| {
            on_line(line);
            tail.push(line.to_string());
            if tail.len() > 20 {
                tail.remove(0);
            }
        })
        .await;
    if let Err(error) = built {
        return Err(failed(format!("{error}\n{}", tail.join("\n"))));
    }
    let id = docker
        .image_id(tag)
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok(Built {
        tag: tag.to_string(),
        id,
        reused: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Copies a directory tree of plain files and directories (a model as the
/// cache restored it); a symlink is refused rather than followed.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        } else {
            return Err(std::io::Error::other(format!(
                "{} is neither a file nor a directory",
                entry.path().display()
            )));
        }
    }
    Ok(())
}
