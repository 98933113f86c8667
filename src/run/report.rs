//! What a run reports of each job instance and each step: the engine's
//! answer to the command line and the input of the run record.

use super::commands::Annotation;
use crate::plan::JobResult;
use crate::timings::PhaseTimes;
use std::collections::BTreeMap;
use std::time::Duration;

/// How one job instance ended.
#[derive(Clone, Debug)]
pub struct JobReport {
    pub job_id: String,
    pub name: String,
    pub result: JobResult,
    pub duration: Duration,
    /// One sentence when the job could not run at all (no image, no GPU runtime…).
    pub error: Option<String>,
    /// What its steps wrote to `GITHUB_STEP_SUMMARY` (Markdown), masked.
    pub summary: String,
    /// Each step that was reached, in order.
    pub steps: Vec<StepReport>,
    /// The image the job ran in (or would have), and its Id.
    pub image: String,
    pub image_digest: String,
    /// `--gpus` of `container.options`, as written (`all`, `2`, `device=0,1`).
    pub gpu_request: Option<String>,
    /// What `nvidia-smi` in the job's container names, when it asked for GPUs.
    pub gpu_name: Option<String>,
    /// The matrix values of the instance.
    pub matrix: BTreeMap<String, String>,
    /// `::error`/`::warning`/`::notice` of its steps.
    pub annotations: Vec<Annotation>,
    /// Where its time went (`mlci run --timings`).
    pub phases: PhaseTimes,
    /// Its `environment.url`, evaluated after its steps.
    pub environment_url: Option<String>,
}

impl JobReport {
    /// A report with this result and nothing else yet: no steps, no image, no matrix.
    pub fn new(job_id: &str, name: &str, result: JobResult) -> JobReport {
        JobReport {
            job_id: job_id.to_string(),
            name: name.to_string(),
            result,
            duration: Duration::ZERO,
            error: None,
            summary: String::new(),
            steps: Vec::new(),
            image: String::new(),
            image_digest: String::new(),
            gpu_request: None,
            gpu_name: None,
            matrix: BTreeMap::new(),
            annotations: Vec::new(),
            phases: PhaseTimes::default(),
            environment_url: None,
        }
    }

    /// Where the job's environment answers: its `environment.url`, else
    /// the URL its last `deploy:` step put live.
    pub fn environment_url(&self) -> Option<&str> {
        self.environment_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .or_else(|| {
                self.steps
                    .iter()
                    .rev()
                    .find_map(|s| s.deploy_url.as_deref())
            })
    }

    /// The job's error when a step failed it and nothing else was said:
    /// the first failed step and why (`step `train` exited with code 3`).
    pub fn step_failure(&self) -> Option<String> {
        let step = self.steps.iter().find(|s| s.conclusion == "failure")?;
        let reason = step.failure.as_deref().unwrap_or("failed");
        Some(format!("step `{}` {reason}", step.name))
    }
}

/// How one step ended.
#[derive(Clone, Debug, Default)]
pub struct StepReport {
    pub index: usize,
    pub id: Option<String>,
    pub name: String,
    /// `success`, `failure` or `skipped`, before `continue-on-error`.
    pub outcome: String,
    /// After `continue-on-error`.
    pub conclusion: String,
    pub duration: Duration,
    /// Why it failed, when its command says (`exited with code 3`).
    pub failure: Option<String>,
    /// The step's cache key, when it has `inputs`.
    pub cache_key: Option<String>,
    pub cache_hit: bool,
    /// Its `metrics:` files (path, content), read after the step.
    pub metrics: Vec<(String, Vec<u8>)>,
    /// Its `inputs` and `outputs` files (path, BLAKE3, size), for lineage.
    pub inputs: Vec<(String, String, u64)>,
    pub outputs: Vec<(String, String, u64)>,
    /// The values its `params` named (dotted name, value).
    pub params: Vec<crate::metrics::Param>,
    /// Its `register:` model, stored in the cache.
    pub model: Option<crate::record::ModelCandidate>,
    /// Its `validate:` checks.
    pub data_checks: Vec<crate::record::DataCheckRecord>,
    /// Where its `deploy:` put the model live.
    pub deploy_url: Option<String>,
}
