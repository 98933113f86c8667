//! The step executor: the machinery to run one step's command in a job's
//! container and process its output and file commands. The job runner,
//! actions and the step cache use it; it imports none of them.
//!
//! - [`scope`]: the expression scope of a job, `if:`, `continue-on-error`,
//!   a step's title and timeout;
//! - [`context`]: what a step runs with ([`StepCtx`], [`StepState`]) and
//!   its environment;
//! - [`prepare`]: a `run:` step evaluated into a [`StepExec`];
//! - [`cache_key`]: what a cached step's key is made of;
//! - [`exec`]: running a [`StepExec`] and reading back its file commands;
//! - [`sink`]: its output through the masker and workflow commands.

mod cache_key;
mod context;
mod exec;
mod prepare;
mod scope;
mod sink;

pub(crate) use cache_key::StepKeyParts;
pub(crate) use context::{EVENT_PATH, JobCacheState, StepCtx, StepState, TEMP, step_env};
pub(crate) use exec::{StepCommand, StepExec, exec_step};
pub(crate) use prepare::{is_checkout, prepare_run};
pub(crate) use scope::{JobScope, step_timeout, step_title, timeout_minutes};
