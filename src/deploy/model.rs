//! An MLflow model directory as the serving image needs it: the `MLmodel`
//! file (a `python_function` flavor, the MLflow version that saved it, its
//! Python version), `requirements.txt`, and the example request that
//! `serving_input_example.json` holds. What `mlflow.<flavor>.save_model`
//! writes is served as it is; anything else is refused with what is missing.

use super::request::DeployError;
use std::path::{Path, PathBuf};

/// The most an `MLmodel` or `requirements.txt` may weigh: both are a few
/// hundred bytes in practice.
const MAX_DESCRIPTOR_BYTES: u64 = 1 << 20;
/// The most a smoke payload may weigh.
pub const MAX_PAYLOAD_BYTES: u64 = 16 << 20;

/// What the serving image is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct MlflowModel {
    pub dir: PathBuf,
    /// `mlflow_version` of `MLmodel`, when it says.
    pub mlflow_version: Option<String>,
    /// The Python that saved it (`python_version` of the python_function flavor).
    pub python_version: Option<String>,
    /// The lines of `requirements.txt` that name packages, in order.
    pub requirements: Vec<String>,
    /// `serving_input_example.json`, when the model has one.
    pub serving_example: Option<PathBuf>,
}

impl MlflowModel {
    /// Reads `dir`, refusing what MLflow's scoring server could not serve.
    pub fn read(dir: &Path) -> Result<MlflowModel, DeployError> {
        let shown = dir.display();
        let invalid = |message: String| DeployError::Invalid(message);
        if !dir.is_dir() {
            return Err(invalid(format!(
                "{shown} is not a directory: an MLflow model is a directory with an MLmodel file (what mlflow.sklearn.save_model writes)"
            )));
        }
        let descriptor = dir.join("MLmodel");
        let text = read_small(&descriptor).map_err(|reason| {
            invalid(format!(
                "{shown} is not an MLflow model: {reason}; save it with mlflow.<flavor>.save_model, which writes MLmodel, requirements.txt and the model's files"
            ))
        })?;
        let (node, diagnostics) = crate::yaml::load(&text);
        let node = match (node, diagnostics.first()) {
            (Some(node), None) => node,
            (_, Some(first)) => {
                return Err(invalid(format!(
                    "{}: {}: {}",
                    descriptor.display(),
                    line_of(&text, first.span.start),
                    first.message
                )));
            }
            (None, None) => {
                return Err(invalid(format!("{} is empty", descriptor.display())));
            }
        };
        let flavors = node.get("flavors").and_then(|f| f.as_mapping());
        let Some(flavors) = flavors else {
            return Err(invalid(format!(
                "{} has no `flavors`: it is not an MLflow model file",
                descriptor.display()
            )));
        };
        let pyfunc = flavors
            .iter()
            .find(|(key, _)| key.as_str() == Some("python_function"))
            .map(|(_, value)| value);
        let Some(pyfunc) = pyfunc else {
            let names: Vec<&str> = flavors.iter().filter_map(|(k, _)| k.as_str()).collect();
            return Err(invalid(format!(
                "{} has no python_function flavor (it has {}): MLflow's scoring server serves only models that load as python_function",
                descriptor.display(),
                names.join(", ")
            )));
        };
        let text_of = |node: Option<&crate::yaml::Node>| {
            node.and_then(|n| n.as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let requirements_file = dir.join("requirements.txt");
        let requirements = match read_small(&requirements_file) {
            Ok(text) => requirement_lines(&text),
            Err(reason) => {
                return Err(invalid(format!(
                    "{shown} has no usable requirements.txt ({reason}): the serving image installs the model's own requirements; save the model with MLflow 1.20 or later, which writes it"
                )));
            }
        };
        let serving_example = node
            .get("saved_input_example_info")
            .and_then(|info| text_of(info.get("serving_input_path")))
            .map(|name| dir.join(name))
            .or_else(|| Some(dir.join("serving_input_example.json")))
            .filter(|path| path.is_file());
        Ok(MlflowModel {
            dir: dir.to_path_buf(),
            mlflow_version: text_of(node.get("mlflow_version")),
            python_version: text_of(pyfunc.get("python_version")),
            requirements,
            serving_example,
        })
    }

    /// The requirement that puts MLflow (and its scoring server) in the
    /// image: the model's own pin when it has one, else the version that saved it.
    pub fn mlflow_requirement(&self) -> Option<String> {
        let named = self.requirements.iter().any(|line| {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            name.eq_ignore_ascii_case("mlflow")
        });
        if named {
            return None;
        }
        Some(match &self.mlflow_version {
            Some(version) => format!("mlflow=={version}"),
            None => "mlflow".to_string(),
        })
    }
}

/// The lines that name a package or an option pip reads, without comments.
fn requirement_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split(" #").next().unwrap_or("").trim())
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn line_of(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    format!(
        "{}:{}",
        before.matches('\n').count() + 1,
        before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1
    )
}

/// A small file's text: missing, too large, a directory or not UTF-8 is the reason why not.
pub fn read_small(path: &Path) -> Result<String, String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let metadata = std::fs::metadata(path).map_err(|_| format!("no {name} file"))?;
    if !metadata.is_file() {
        return Err(format!("{name} is not a file"));
    }
    if metadata.len() > MAX_DESCRIPTOR_BYTES.max(MAX_PAYLOAD_BYTES) {
        return Err(format!("{name} is {} bytes, too large", metadata.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    String::from_utf8(bytes).map_err(|_| format!("{name} is not UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    const MLMODEL: &str = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n    python_version: 3.11.7\n  sklearn:\n    sklearn_version: 1.9.1\nmlflow_version: 3.18.0\nsaved_input_example_info:\n  serving_input_path: serving_input_example.json\n";

    #[test]
    fn reads_what_save_model_writes() {
        let dir = model(&[
            ("MLmodel", MLMODEL),
            (
                "requirements.txt",
                "mlflow==3.18.0\n# a comment\nscikit-learn==1.9.1\n",
            ),
            ("serving_input_example.json", "{}"),
        ]);
        let read = MlflowModel::read(dir.path()).unwrap();
        assert_eq!(read.mlflow_version.as_deref(), Some("3.18.0"));
        assert_eq!(read.python_version.as_deref(), Some("3.11.7"));
        assert_eq!(read.requirements, ["mlflow==3.18.0", "scikit-learn==1.9.1"]);
        assert!(read.serving_example.is_some());
        assert_eq!(read.mlflow_requirement(), None);
    }

    #[test]
    fn adds_the_saving_mlflow_when_the_requirements_do_not_name_it() {
        let dir = model(&[("MLmodel", MLMODEL), ("requirements.txt", "scikit-learn\n")]);
        let read = MlflowModel::read(dir.path()).unwrap();
        assert_eq!(read.mlflow_requirement().as_deref(), Some("mlflow==3.18.0"));
        assert_eq!(read.serving_example, None);
    }

    #[test]
    fn refuses_what_is_not_an_mlflow_model() {
        let message = |dir: &Path| MlflowModel::read(dir).unwrap_err().to_string();
        assert!(message(model(&[]).path()).contains("no MLmodel file"));
        let no_pyfunc = model(&[
            ("MLmodel", "flavors:\n  keras: {}\n"),
            ("requirements.txt", ""),
        ]);
        assert!(message(no_pyfunc.path()).contains("no python_function flavor (it has keras)"));
        let broken = model(&[("MLmodel", "flavors: [\n"), ("requirements.txt", "")]);
        assert!(message(broken.path()).contains("MLmodel: "));
        let no_requirements = model(&[("MLmodel", MLMODEL)]);
        assert!(message(no_requirements.path()).contains("no usable requirements.txt"));
        assert!(message(Path::new("/nonexistent")).contains("is not a directory"));
    }
}
