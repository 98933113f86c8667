//! Planning: from parsed jobs to the work the runner hands out.
//!
//! - [`matrix`] expands `strategy.matrix` into combinations, with GitHub's
//!   include/exclude rules and job-instance names.
//! - [`graph`] is the DAG of jobs by `needs`: validation (every problem at
//!   once), layers, and text/Graphviz renderings for `mlci graph`.
//! - [`inputs`] is what a run knows before it starts: the `inputs` context
//!   by event ([`PlanInputs::for_event`]).
//! - [`build`] turns a checked workflow into a [`Plan`]: each job's
//!   instances with their names and `runs-on`, evaluated where possible.
//! - [`schedule`] hands out runnable job instances under a global limit and
//!   per-job `max-parallel`, with `fail-fast`, driven by completions.
//!
//! Nothing here touches Docker or the file system, and nothing panics on any
//! input.

mod build;
pub mod call_scope;
pub mod calls;
pub mod executor_support;
pub mod graph;
pub mod inputs;
pub mod matrix;
pub mod schedule;

pub use build::{JobInstance, Plan, PlannedJob, build, expand_at_run_time};
pub use call_scope::CallerScope;
pub use calls::flatten;
pub use graph::{GraphError, JobGraph, NodeLabel};
pub use inputs::PlanInputs;
pub use matrix::{
    Combination, Configuration, MAX_COMBINATIONS, MatrixError, MatrixSpec, expand,
    expand_configurations, instance_name,
};
pub use schedule::{
    Completion, InstanceId, InstanceState, JobPlan, JobResult, NeedsStatus, Ready, ScheduleError,
    Scheduler,
};
