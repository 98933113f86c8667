//! The GPUs of a job: what `--gpus` of `container.options` asks for, and
//! what `nvidia-smi` in the job's container names.

use crate::executor::{ExecOutcome, ExecRequest, JobEnv, StreamKind};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The value of `--gpus` in `container.options` text, as written.
pub(super) fn gpu_flag(options: &str) -> Option<String> {
    let words: Vec<&str> = options.split_whitespace().collect();
    words.iter().enumerate().find_map(|(i, word)| {
        if let Some(value) = word.strip_prefix("--gpus=") {
            Some(value.trim_matches(['"', '\'']).to_string())
        } else if *word == "--gpus" {
            words
                .get(i + 1)
                .map(|v| v.trim_matches(['"', '\'']).to_string())
        } else {
            None
        }
    })
}

/// The GPUs the job's container sees, by `nvidia-smi` (None when it has none).
pub(super) async fn gpu_name<E: JobEnv>(env: &E, cancel: &CancellationToken) -> Option<String> {
    let request = ExecRequest {
        argv: ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]
            .map(String::from)
            .to_vec(),
        env: BTreeMap::new(),
        workdir: "/".to_string(),
        user: None,
        timeout: Some(Duration::from_secs(20)),
    };
    let mut text = Vec::new();
    let mut collect = |_kind: StreamKind, bytes: &[u8]| {
        if text.len() < 4096 {
            text.extend_from_slice(bytes);
        }
    };
    match env.exec(&request, cancel, &mut collect).await {
        Ok(ExecOutcome::Exited(0)) => {
            let names: Vec<String> = String::from_utf8_lossy(&text)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            (!names.is_empty()).then(|| names.join(", "))
        }
        _ => None,
    }
}
