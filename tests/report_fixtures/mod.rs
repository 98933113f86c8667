//! Run records as the engine fills them, for the store, metrics and report tests.

#![allow(dead_code)]

use mlci::metrics::{Metric, Param};
use mlci::record::{
    AnnotationRecord, Artifact, GateSpec, JobRecord, PhaseRecord, RunRecord, RunResult, StepRecord,
};
use std::path::Path;
use std::process::{Command, Output};

pub const WORKFLOW: &str = "train-evaluate";

/// A run of train-evaluate with `metrics` reported by its evaluate step.
pub fn run(branch: &str, sha: &str, metrics: &[(&str, f64)]) -> RunRecord {
    RunRecord {
        workflow: WORKFLOW.to_string(),
        workflow_path: ".github/workflows/train-evaluate.yml".to_string(),
        event: "push".to_string(),
        sha: sha.to_string(),
        git_ref: format!("refs/heads/{branch}"),
        branch: Some(branch.to_string()),
        base_ref: None,
        pr_number: None,
        started_at: 1_714_566_600_000,
        finished_at: 1_714_566_672_500,
        result: RunResult::Success,
        url: None,
        gates: vec![
            GateSpec {
                metric: "accuracy".to_string(),
                condition: ">= 0.9".to_string(),
            },
            GateSpec {
                metric: "loss".to_string(),
                condition: "<= base + 0.01".to_string(),
            },
        ],
        jobs: vec![
            JobRecord {
                job_id: "train".to_string(),
                name: "train".to_string(),
                result: "success".to_string(),
                started_at: 1_714_566_600_000,
                duration_ms: 41_000,
                image: Some("mlci/cuda-train:latest".to_string()),
                image_digest: Some("sha256:0123456789abcdef".to_string()),
                gpu_request: Some("all".to_string()),
                gpu_name: Some("NVIDIA H100 80GB HBM3".to_string()),
                steps: vec![
                    StepRecord {
                        index: 0,
                        name: "Run actions/checkout@v4".to_string(),
                        outcome: "success".to_string(),
                        conclusion: "success".to_string(),
                        duration_ms: 300,
                        ..StepRecord::default()
                    },
                    StepRecord {
                        index: 1,
                        name: "Train".to_string(),
                        step_id: Some("fit".to_string()),
                        outcome: "success".to_string(),
                        conclusion: "success".to_string(),
                        duration_ms: 40_000,
                        cache_key: Some("blake3:train".to_string()),
                        cache_hit: true,
                        metrics: vec![
                            Metric::point("train.loss", 0, 0.9),
                            Metric::point("train.loss", 1, 0.5),
                            Metric::point("train.loss", 2, 0.3),
                        ],
                        params: vec![
                            Param {
                                name: "train.lr".to_string(),
                                value: "0.01".to_string(),
                            },
                            Param {
                                name: "model".to_string(),
                                value: "forest".to_string(),
                            },
                        ],
                        inputs: vec!["data/".to_string(), "params.yaml".to_string()],
                        outputs: vec!["model/".to_string()],
                        ..StepRecord::default()
                    },
                ],
                annotations: vec![],
                phases: vec![
                    phase("prepare", 15),
                    phase("container", 820),
                    phase("workspace", 140),
                    phase("steps", 39_500),
                    phase("teardown", 300),
                ],
                ..JobRecord::default()
            },
            JobRecord {
                job_id: "evaluate".to_string(),
                name: "evaluate".to_string(),
                result: "success".to_string(),
                started_at: 1_714_566_650_000,
                duration_ms: 12_000,
                image: Some("mlci/python-ml:latest".to_string()),
                steps: vec![StepRecord {
                    index: 0,
                    name: "Evaluate".to_string(),
                    outcome: "success".to_string(),
                    conclusion: "success".to_string(),
                    duration_ms: 11_500,
                    cache_key: Some("blake3:eval".to_string()),
                    cache_hit: false,
                    metrics: metrics
                        .iter()
                        .map(|(n, v)| Metric::number(*n, *v))
                        .collect(),
                    inputs: vec!["model/".to_string()],
                    outputs: vec!["metrics/eval.json".to_string()],
                    ..StepRecord::default()
                }],
                ..JobRecord::default()
            },
        ],
        artifacts: vec![
            Artifact {
                path: "data/".to_string(),
                hash: "aa11".repeat(16),
                size: Some(1024),
            },
            Artifact {
                path: "params.yaml".to_string(),
                hash: "dd44".repeat(16),
                size: Some(32),
            },
            Artifact {
                path: "model/".to_string(),
                hash: "bb22".repeat(16),
                size: Some(2048),
            },
            Artifact {
                path: "metrics/eval.json".to_string(),
                hash: "cc33".repeat(16),
                size: Some(64),
            },
        ],
        phases: vec![phase("snapshot", 20), phase("checkout", 310)],
    }
}

fn phase(name: &str, duration_ms: i64) -> PhaseRecord {
    PhaseRecord {
        phase: name.to_string(),
        duration_ms,
    }
}

/// The same run inside a pull request from `branch` into main.
pub fn pr_run(branch: &str, sha: &str, pr: u64, metrics: &[(&str, f64)]) -> RunRecord {
    let mut record = run(branch, sha, metrics);
    record.event = "pull_request".to_string();
    record.git_ref = format!("refs/pull/{pr}/merge");
    record.base_ref = Some("main".to_string());
    record.pr_number = Some(pr);
    record
}

pub fn annotations(count: usize) -> Vec<AnnotationRecord> {
    (0..count)
        .map(|i| AnnotationRecord {
            level: if i % 2 == 0 { "error" } else { "warning" }.to_string(),
            message: format!("problem {i}"),
            file: Some("train.py".to_string()),
            line: Some(i as i64 + 1),
            end_line: None,
            title: None,
        })
        .collect()
}

/// The mlci binary with a clean environment (no GITHUB_* from the host).
pub fn mlci(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlci"));
    command.current_dir(dir).env_clear();
    for key in ["PATH", "HOME", "TMPDIR"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command
}

pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
