//! Hands out job instances in dependency order under parallelism limits.
//!
//! Every instance of a job depends on every instance of each job it needs:
//! all instances of a job become ready together, when every instance of its
//! needs has finished. The scheduler does not evaluate `if:`: it gives each
//! ready instance a [`NeedsStatus`] so that the runner can evaluate
//! `success()`, `failure()` and `cancelled()` and then report the instance as
//! [`JobResult::Skipped`] if the condition is false.
//!
//! Order is deterministic: instances are handed out in the order their jobs
//! became ready, then by job (file order), then by instance (matrix order).
//! An instance whose job is at its `max-parallel` waits and the next one is
//! considered.
//!
//! `fail-fast` (GitHub's default): when an instance of a matrix job fails,
//! its siblings that have not started are cancelled at once, and those still
//! running are listed in [`Completion::cancel_running`] for the runner to stop.

use super::graph::JobGraph;
use std::collections::BTreeSet;
use std::fmt;

/// A job instance: the job's index in the graph and the instance's index in
/// its matrix (0 for a job without a matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceId {
    pub job: usize,
    pub instance: usize,
}

impl InstanceId {
    pub fn new(job: usize, instance: usize) -> Self {
        InstanceId { job, instance }
    }
}

/// How an instance ended, and the aggregate result of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobResult {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl JobResult {
    /// The name used in the `needs.<job>.result` context.
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Success => "success",
            JobResult::Failure => "failure",
            JobResult::Cancelled => "cancelled",
            JobResult::Skipped => "skipped",
        }
    }
}

impl fmt::Display for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the scheduler needs to know of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPlan {
    /// Matrix instances (1 for a job without a matrix; 0 finishes the job as
    /// skipped at once).
    pub instances: usize,
    /// `strategy.max-parallel`; `None` or `Some(0)` means no limit, as on GitHub.
    pub max_parallel: Option<usize>,
    /// `strategy.fail-fast`, true unless the workflow says otherwise.
    pub fail_fast: bool,
}

impl Default for JobPlan {
    fn default() -> Self {
        JobPlan {
            instances: 1,
            max_parallel: None,
            fail_fast: true,
        }
    }
}

impl JobPlan {
    pub fn matrix(instances: usize) -> Self {
        JobPlan {
            instances,
            ..JobPlan::default()
        }
    }
}

/// Where an instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// Some job it needs has not finished.
    Waiting,
    /// Runnable, waiting for a slot.
    Ready,
    /// Handed out by [`Scheduler::next_ready`], not yet completed.
    Running,
    Finished(JobResult),
}

/// The results of the jobs an instance needs, for evaluating its `if:`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeedsStatus {
    /// The jobs it needs directly, in needs order, with their results.
    pub direct: Vec<(usize, JobResult)>,
    /// Every job it needs directly or transitively, in file order.
    pub ancestors: Vec<(usize, JobResult)>,
}

impl NeedsStatus {
    /// Whether every job it needs directly succeeded (true with no needs):
    /// the default `if: success()` runs the job only then.
    pub fn all_succeeded(&self) -> bool {
        self.direct.iter().all(|(_, r)| *r == JobResult::Success)
    }

    /// Whether some ancestor failed (what `failure()` looks at).
    pub fn any_failed(&self) -> bool {
        self.ancestors.iter().any(|(_, r)| *r == JobResult::Failure)
    }

    /// Whether some ancestor was cancelled.
    pub fn any_cancelled(&self) -> bool {
        self.ancestors
            .iter()
            .any(|(_, r)| *r == JobResult::Cancelled)
    }
}

/// An instance handed out to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub id: InstanceId,
    pub needs: NeedsStatus,
}

/// What a completion changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// Not-started instances cancelled by fail-fast (already finished as
    /// cancelled).
    pub cancelled: Vec<InstanceId>,
    /// Running siblings the runner should stop because of fail-fast; complete
    /// them as cancelled once stopped.
    pub cancel_running: Vec<InstanceId>,
    /// Instances whose needs have all finished and that are now ready.
    pub unblocked: Vec<InstanceId>,
    /// Those of `unblocked` with a need that did not succeed: skipped unless
    /// their `if:` says otherwise.
    pub skippable: Vec<InstanceId>,
}

/// A misuse of the scheduler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleError {
    /// No such instance.
    UnknownInstance(InstanceId),
    /// The instance was not handed out, or was already completed.
    NotRunning(InstanceId, InstanceState),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::UnknownInstance(id) => write!(
                f,
                "instance {} of job {} does not exist",
                id.instance, id.job
            ),
            ScheduleError::NotRunning(id, state) => write!(
                f,
                "instance {} of job {} cannot complete: it is not running ({state:?})",
                id.instance, id.job
            ),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// The scheduler. See the module documentation.
#[derive(Debug, Clone)]
pub struct Scheduler {
    needs: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    ancestors: Vec<Vec<usize>>,
    plans: Vec<JobPlan>,
    limit: usize,
    states: Vec<Vec<InstanceState>>,
    unfinished_needs: Vec<usize>,
    finished: Vec<usize>,
    running_per_job: Vec<usize>,
    running: usize,
    /// (sequence the job became ready, job, instance)
    ready: BTreeSet<(u64, usize, usize)>,
    sequence: u64,
}

impl Scheduler {
    /// `plans[i]` describes job `i` of `graph` (a missing plan means one
    /// instance, fail-fast, no max-parallel). `limit` is how many instances
    /// may run at once; 0 counts as 1.
    pub fn new(graph: &JobGraph, plans: &[JobPlan], limit: usize) -> Scheduler {
        let n = graph.len();
        let plans: Vec<JobPlan> = (0..n)
            .map(|j| plans.get(j).copied().unwrap_or_default())
            .collect();
        let mut scheduler = Scheduler {
            needs: (0..n).map(|j| graph.needs(j).to_vec()).collect(),
            dependents: (0..n).map(|j| graph.dependents(j).to_vec()).collect(),
            ancestors: (0..n).map(|j| graph.transitive_needs(j)).collect(),
            states: plans
                .iter()
                .map(|p| vec![InstanceState::Waiting; p.instances])
                .collect(),
            unfinished_needs: (0..n).map(|j| graph.needs(j).len()).collect(),
            finished: vec![0; n],
            running_per_job: vec![0; n],
            running: 0,
            ready: BTreeSet::new(),
            sequence: 0,
            plans,
            limit: limit.max(1),
        };
        let mut ignored = Completion::default();
        let roots: Vec<usize> = (0..n)
            .filter(|&j| scheduler.unfinished_needs[j] == 0)
            .collect();
        scheduler.unblock(roots, &mut ignored);
        scheduler
    }

    /// Hands out the next runnable instance, or `None` when nothing may
    /// start now (all running slots taken, every ready job at its
    /// max-parallel, or nothing ready).
    pub fn next_ready(&mut self) -> Option<Ready> {
        if self.running >= self.limit {
            return None;
        }
        let key = self
            .ready
            .iter()
            .find(|&&(_, job, _)| match self.plans[job].max_parallel {
                Some(max) if max > 0 => self.running_per_job[job] < max,
                _ => true,
            })
            .copied()?;
        self.ready.remove(&key);
        let (_, job, instance) = key;
        self.states[job][instance] = InstanceState::Running;
        self.running += 1;
        self.running_per_job[job] += 1;
        Some(Ready {
            id: InstanceId { job, instance },
            needs: self.needs_status(job),
        })
    }

    /// Records how a running instance ended.
    pub fn complete(
        &mut self,
        id: InstanceId,
        result: JobResult,
    ) -> Result<Completion, ScheduleError> {
        let state = self.state(id).ok_or(ScheduleError::UnknownInstance(id))?;
        if state != InstanceState::Running {
            return Err(ScheduleError::NotRunning(id, state));
        }
        let job = id.job;
        self.states[job][id.instance] = InstanceState::Finished(result);
        self.running -= 1;
        self.running_per_job[job] -= 1;
        self.finished[job] += 1;

        let mut out = Completion::default();
        if result == JobResult::Failure && self.plans[job].fail_fast {
            for instance in 0..self.states[job].len() {
                let sibling = InstanceId { job, instance };
                match self.states[job][instance] {
                    InstanceState::Waiting | InstanceState::Ready => {
                        self.finish_unstarted(sibling, JobResult::Cancelled);
                        out.cancelled.push(sibling);
                    }
                    InstanceState::Running => out.cancel_running.push(sibling),
                    InstanceState::Finished(_) => {}
                }
            }
        }
        if self.finished[job] == self.states[job].len() {
            self.job_finished(job, &mut out);
        }
        Ok(out)
    }

    /// Cancels every instance that has not started (Ctrl-C, or a run-wide
    /// cancellation). Running instances are listed in `cancel_running`.
    pub fn cancel_all(&mut self) -> Completion {
        let mut out = Completion::default();
        for job in 0..self.states.len() {
            for instance in 0..self.states[job].len() {
                let id = InstanceId { job, instance };
                match self.states[job][instance] {
                    InstanceState::Waiting | InstanceState::Ready => {
                        self.finish_unstarted(id, JobResult::Cancelled);
                        out.cancelled.push(id);
                    }
                    InstanceState::Running => out.cancel_running.push(id),
                    InstanceState::Finished(_) => {}
                }
            }
        }
        // Every instance that could still become ready is now finished, so
        // there is nothing to unblock.
        out
    }

    /// Whether every instance has finished.
    pub fn is_done(&self) -> bool {
        self.finished
            .iter()
            .zip(&self.states)
            .all(|(&f, s)| f == s.len())
    }

    /// How many instances are running.
    pub fn running(&self) -> usize {
        self.running
    }

    /// The state of one instance.
    pub fn state(&self, id: InstanceId) -> Option<InstanceState> {
        self.states.get(id.job)?.get(id.instance).copied()
    }

    /// The result of a job once all its instances finished: failure if one
    /// failed, else cancelled if one was cancelled, else success if one
    /// succeeded, else skipped (also for a job with no instance).
    pub fn job_result(&self, job: usize) -> Option<JobResult> {
        let states = self.states.get(job)?;
        let mut any = [false; 4];
        for state in states {
            match state {
                InstanceState::Finished(r) => {
                    any[*r as usize] = true;
                }
                _ => return None,
            }
        }
        Some(if any[JobResult::Failure as usize] {
            JobResult::Failure
        } else if any[JobResult::Cancelled as usize] {
            JobResult::Cancelled
        } else if any[JobResult::Success as usize] {
            JobResult::Success
        } else {
            JobResult::Skipped
        })
    }

    /// The results of the jobs `job` needs (finished ones only).
    pub fn needs_status(&self, job: usize) -> NeedsStatus {
        let with_results = |jobs: &[usize]| -> Vec<(usize, JobResult)> {
            jobs.iter()
                .filter_map(|&j| self.job_result(j).map(|r| (j, r)))
                .collect()
        };
        NeedsStatus {
            direct: with_results(self.needs.get(job).map_or(&[], Vec::as_slice)),
            ancestors: with_results(self.ancestors.get(job).map_or(&[], Vec::as_slice)),
        }
    }

    fn finish_unstarted(&mut self, id: InstanceId, result: JobResult) {
        if let InstanceState::Ready = self.states[id.job][id.instance] {
            self.ready
                .retain(|&(_, j, i)| !(j == id.job && i == id.instance));
        }
        self.states[id.job][id.instance] = InstanceState::Finished(result);
        self.finished[id.job] += 1;
    }

    /// A job's last instance finished: release the jobs that need it.
    fn job_finished(&mut self, job: usize, out: &mut Completion) {
        let mut newly_free = Vec::new();
        for &d in &self.dependents[job] {
            if self.unfinished_needs[d] > 0 {
                self.unfinished_needs[d] -= 1;
                if self.unfinished_needs[d] == 0 {
                    newly_free.push(d);
                }
            }
        }
        self.unblock(newly_free, out);
    }

    /// Makes the waiting instances of `jobs` ready; a job with no instance
    /// finishes at once, which may release further jobs.
    fn unblock(&mut self, jobs: Vec<usize>, out: &mut Completion) {
        let mut work = jobs;
        work.sort_unstable();
        let mut next = 0;
        while next < work.len() {
            let job = work[next];
            next += 1;
            if self.states[job].is_empty() {
                for &d in &self.dependents[job] {
                    if self.unfinished_needs[d] > 0 {
                        self.unfinished_needs[d] -= 1;
                        if self.unfinished_needs[d] == 0 {
                            work.push(d);
                        }
                    }
                }
                continue;
            }
            let skippable = !self.needs_status(job).all_succeeded();
            let sequence = self.sequence;
            self.sequence += 1;
            for instance in 0..self.states[job].len() {
                if self.states[job][instance] == InstanceState::Waiting {
                    self.states[job][instance] = InstanceState::Ready;
                    self.ready.insert((sequence, job, instance));
                    let id = InstanceId { job, instance };
                    out.unblocked.push(id);
                    if skippable {
                        out.skippable.push(id);
                    }
                }
            }
        }
    }
}
