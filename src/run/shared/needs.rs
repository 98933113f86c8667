//! The `needs` context: the result and outputs of every job that finished,
//! as the jobs after it see them.

use crate::expr::{Object, Status, Value};
use crate::plan::JobResult;
use crate::workflow::Job;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Per job id: aggregated result and outputs, for the `needs` context.
#[derive(Default)]
pub(crate) struct FinishedJobs {
    finished: Mutex<BTreeMap<String, (JobResult, Object)>>,
    /// Job ids in the order their instances finished (an id once per instance).
    order: Mutex<Vec<String>>,
}

impl FinishedJobs {
    /// Adds an instance's result to its job's entry of the `needs` context: a
    /// matrix job failed if any instance failed.
    pub fn record(&self, job_id: &str, result: JobResult) {
        self.order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job_id.to_string());
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        // A job's first result is its result (a job whose every instance
        // was skipped is skipped); later ones combine with it.
        let Some(entry) = finished.get_mut(job_id) else {
            finished.insert(job_id.to_string(), (result, Object::new()));
            return;
        };
        entry.0 = match (entry.0, result) {
            (JobResult::Failure, _) | (_, JobResult::Failure) => JobResult::Failure,
            (JobResult::Cancelled, _) | (_, JobResult::Cancelled) => JobResult::Cancelled,
            (JobResult::Skipped, other) | (other, JobResult::Skipped) => other,
            _ => JobResult::Success,
        };
    }

    /// Whether a job finished, and succeeded.
    pub fn succeeded(&self, job_id: &str) -> bool {
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished
            .get(job_id)
            .is_some_and(|(result, _)| *result == JobResult::Success)
    }

    /// Adds a job instance's outputs to its job's entry.
    pub fn add_outputs(&self, job_id: &str, outputs: Object) {
        // No outputs leave the job's result to its first `record`.
        if outputs.is_empty() {
            return;
        }
        let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let entry = finished
            .entry(job_id.to_string())
            .or_insert((JobResult::Success, Object::new()));
        for (k, v) in &outputs {
            entry.1.insert(k.clone(), v.clone());
        }
    }

    /// When the last of these jobs finished: a position in the order of
    /// completions (None when none has).
    pub fn finished_at(&self, job_ids: &[&String]) -> Option<usize> {
        let order = self.order.lock().unwrap_or_else(|e| e.into_inner());
        order.iter().rposition(|id| job_ids.contains(&id))
    }

    /// A job's result and outputs, once it finished.
    pub fn get(&self, job_id: &str) -> Option<(JobResult, Object)> {
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        finished.get(job_id).cloned()
    }

    /// The `needs` context of a job, and the status its `if` starts from. A
    /// job of a called workflow sees its own needs by the ids its workflow
    /// gives them, and not its caller's.
    pub fn needs_context(&self, job: &Job) -> (Object, Status) {
        match &job.needs_as {
            Some(visible) => self.needs_context_of(visible),
            None => {
                let needs: Vec<(String, String)> = job
                    .needs
                    .iter()
                    .map(|n| (n.value.clone(), n.value.clone()))
                    .collect();
                self.needs_context_of(&needs)
            }
        }
    }

    /// The `needs` context of these jobs (finished id, the name shown).
    pub fn needs_context_of(&self, jobs: &[(String, String)]) -> (Object, Status) {
        let finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let mut needs = Object::new();
        let mut status = Status::Success;
        for (id, shown) in jobs {
            let (result, outputs) = finished
                .get(id)
                .cloned()
                .unwrap_or((JobResult::Skipped, Object::new()));
            match result {
                JobResult::Failure => status = Status::Failure,
                JobResult::Cancelled if status == Status::Success => status = Status::Cancelled,
                JobResult::Skipped if status == Status::Success => status = Status::Failure,
                _ => {}
            }
            let mut entry = Object::new();
            entry.insert("result", Value::String(result.as_str().to_string()));
            entry.insert("outputs", Value::Object(outputs));
            needs.insert(shown.clone(), Value::Object(entry));
        }
        (needs, status)
    }
}
