//! The batch script of one job: `sbatch` options from what the job asks
//! for, and a body that runs the job's image as a job step (`srun docker
//! run`, where the site allows Docker on its nodes) with `mlci agent` as its
//! process.

use crate::executor::{JobSpec, LABEL_JOB, LABEL_RUN};
use std::fmt::Write as _;
use std::path::Path;

/// Where a job's files live on the shared file system.
#[derive(Clone, Debug)]
pub struct JobDirs {
    /// `<shared>/<run>/<job key>`: the mailbox, the output, the secrets.
    pub root: std::path::PathBuf,
}

impl JobDirs {
    pub fn mailbox(&self) -> std::path::PathBuf {
        self.root.join("mailbox")
    }
    pub fn output(&self) -> std::path::PathBuf {
        self.root.join("slurm.out")
    }
    pub fn secrets(&self) -> std::path::PathBuf {
        self.root.join("secrets.json")
    }
    pub fn script(&self) -> std::path::PathBuf {
        self.root.join("job.sbatch")
    }
}

/// The Slurm job name of every job of a run: `scancel --name` ends them all.
pub fn slurm_job_name(run_id: &str) -> String {
    format!("mlci-{run_id}")
}

/// The name of the job's container on the node.
pub fn container_name(run_id: &str, key: &str) -> String {
    format!("mlci-{run_id}-{key}")
}

/// `timeout-minutes` as Slurm's `--time` (whole minutes, rounded up).
pub fn time_limit(spec: &JobSpec) -> Option<u64> {
    spec.timeout.map(|t| t.as_secs().div_ceil(60).max(1))
}

/// The GPUs the job asks for, by count (`--gpus N`): a cluster allocates
/// GPUs by count, so `--gpus all` and named devices are refused (at plan
/// time where the options are written out, else here, when the job starts).
pub fn gpu_count(spec: &JobSpec) -> Result<Option<i64>, String> {
    let mut count = None;
    for gpu in &spec.options.gpus {
        match gpu.count {
            Some(n) if n > 0 => count = Some(count.unwrap_or(0).max(n)),
            _ => {
                return Err(format!(
                    "job `{}`: a cluster allocates GPUs by count: write `--gpus N` in container.options (`{}` is Docker's)",
                    spec.job_name, spec.options.source
                ));
            }
        }
    }
    Ok(count)
}

/// What the job asks Slurm for, as `sbatch` options: the partition, the
/// time limit, GPUs, CPUs and memory. The script carries them, and the log
/// line of the submission shows them.
pub fn resources(spec: &JobSpec, partition: Option<&str>) -> Result<Vec<String>, String> {
    let mut asked = Vec::new();
    if let Some(partition) = partition {
        asked.push(format!("--partition={partition}"));
    }
    if let Some(minutes) = time_limit(spec) {
        asked.push(format!("--time={minutes}"));
    }
    if let Some(gpus) = gpu_count(spec)? {
        asked.push(format!("--gres=gpu:{gpus}"));
    }
    if let Some(nano) = spec.options.nano_cpus {
        asked.push(format!(
            "--cpus-per-task={}",
            (nano as u64).div_ceil(1_000_000_000)
        ));
    }
    if let Some(bytes) = spec.options.memory {
        asked.push(format!("--mem={}M", (bytes as u64).div_ceil(1 << 20)));
    }
    Ok(asked)
}

/// The whole batch script, with the job's [`resources`].
pub fn script(
    spec: &JobSpec,
    key: &str,
    dirs: &JobDirs,
    agent: &Path,
    resources: &[String],
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    let mut directive = |line: &str| {
        let _ = writeln!(s, "#SBATCH {line}");
    };
    directive(&format!("--job-name={}", slurm_job_name(&spec.run_id)));
    directive(&format!("--comment=\"{}\"", one_line(&spec.job_name)));
    directive(&format!("--output={}", dirs.output().display()));
    directive("--nodes=1");
    directive("--ntasks=1");
    for option in resources {
        directive(option);
    }
    let name = container_name(&spec.run_id, key);
    // A job step of its own (srun), so that Slurm tracks and signals it.
    let mut run = vec![
        "srun --ntasks=1 docker run --rm".to_string(),
        format!("--name {name}"),
        format!("--label {LABEL_RUN}={}", quote(&spec.run_id)),
        format!("--label {LABEL_JOB}={}", quote(&spec.job_name)),
        // Slurm nodes share the host's network; S3 and the job's own ports
        // are reached as from any other process of the job.
        "--network host".to_string(),
        "\"${gpus[@]}\"".to_string(),
    ];
    if let Some(shm) = spec.options.shm_size {
        run.push(format!("--shm-size {shm}"));
    }
    if let Some(bytes) = spec.options.memory {
        run.push(format!("--memory {bytes}"));
    }
    if let Some(nano) = spec.options.nano_cpus {
        run.push(format!("--cpus {}", nano as f64 / 1e9));
    }
    for (key, value) in &spec.env {
        run.push(format!("-e {}", quote(&format!("{key}={value}"))));
    }
    for var in &spec.options.env {
        run.push(format!("-e {}", quote(var)));
    }
    for volume in spec.volumes.iter().chain(&spec.options.volumes) {
        run.push(format!("-v {}", quote(volume)));
    }
    let root = dirs.root.display().to_string();
    run.push(format!("-v {}", quote(&format!("{root}:{root}"))));
    run.push(format!(
        "-v {}",
        quote(&format!("{}:/usr/local/bin/mlci-agent:ro", agent.display()))
    ));
    run.push(format!(
        "-e MLCI_AGENT_SECRETS_FILE={}",
        quote(&dirs.secrets().display().to_string())
    ));
    run.push("--entrypoint /usr/local/bin/mlci-agent".to_string());
    run.push(quote(&spec.image));
    run.push(format!(
        "agent --mailbox {}",
        quote(&format!("file://{}", dirs.mailbox().display()))
    ));
    let _ = write!(
        s,
        r#"
# The job's container runs `mlci agent`, which takes the steps from the
# mailbox; scancel (Ctrl-C, the time limit) removes it.
set -u
trap 'docker rm -f {name} >/dev/null 2>&1' EXIT
trap 'exit 143' TERM INT
gpus=()
if [ -n "${{CUDA_VISIBLE_DEVICES:-}}" ]; then
  if ! docker info --format '{{{{json .Runtimes}}}}' | grep -q nvidia; then
    echo "error: Slurm gave this job GPUs $CUDA_VISIBLE_DEVICES, but the Docker engine of node $(hostname) has no NVIDIA GPU runtime: install the NVIDIA Container Toolkit there, or remove --gpus from container.options"
    exit 1
  fi
  gpus=(--gpus "\"device=$CUDA_VISIBLE_DEVICES\"")
fi
{} &
wait $!
"#,
        run.join(" \\\n  ")
    );
    s
}

/// A value for a quoted `#SBATCH` directive.
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ").replace('"', "'")
}

/// A word for bash, in single quotes when it needs them.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::ContainerOptions;
    use std::time::Duration;

    fn spec(options: &str, timeout: Option<Duration>) -> JobSpec {
        JobSpec {
            run_id: "r1".into(),
            job_name: "train (forest, \"big\")".into(),
            image: "mlci/python-ml:latest".into(),
            credentials: None,
            options: ContainerOptions::parse(options).unwrap(),
            env: [("GREETING".to_string(), "it's here".to_string())].into(),
            volumes: vec![],
            ports: vec![],
            services: vec![],
            workspace: "/tmp/ws".into(),
            outputs: vec![],
            workspace_path: "/__w/r/r".into(),
            copies: vec![],
            files: vec![],
            allow_privileged: false,
            host_dir: None,
            timeout,
            secrets: Default::default(),
        }
    }

    #[test]
    fn the_job_s_requests_become_sbatch_options() {
        let dirs = JobDirs {
            root: "/shared/r1/job1".into(),
        };
        let spec = spec(
            "--gpus 2 --cpus 1.5 --memory 512m --shm-size 1g",
            Some(Duration::from_secs(90)),
        );
        let asked = resources(&spec, Some("gpu")).unwrap();
        let script = script(&spec, "job1", &dirs, Path::new("/opt/mlci"), &asked);
        for line in [
            "#SBATCH --job-name=mlci-r1",
            "#SBATCH --comment=\"train (forest, 'big')\"",
            "#SBATCH --output=/shared/r1/job1/slurm.out",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=2",
            "#SBATCH --gres=gpu:2",
            "#SBATCH --cpus-per-task=2",
            "#SBATCH --mem=512M",
        ] {
            assert!(script.lines().any(|l| l == line), "no `{line}`:\n{script}");
        }
        assert_eq!(
            asked,
            [
                "--partition=gpu",
                "--time=2",
                "--gres=gpu:2",
                "--cpus-per-task=2",
                "--mem=512M"
            ]
        );
        assert!(script.contains("-e 'GREETING=it'\\''s here'"), "{script}");
        assert!(script.contains("--shm-size 1073741824"), "{script}");
        assert!(
            script.contains("agent --mailbox file:///shared/r1/job1/mailbox"),
            "{script}"
        );
    }

    #[test]
    fn gpus_are_asked_for_by_count() {
        assert_eq!(gpu_count(&spec("", None)), Ok(None));
        assert_eq!(gpu_count(&spec("--gpus 3", None)), Ok(Some(3)));
        let all = gpu_count(&spec("--gpus all", None)).unwrap_err();
        assert!(all.contains("write `--gpus N`"), "{all}");
        assert!(gpu_count(&spec("--gpus device=0", None)).is_err());
        assert_eq!(
            time_limit(&spec("", Some(Duration::from_secs(60)))),
            Some(1)
        );
        assert_eq!(time_limit(&spec("", None)), None);
    }
}
