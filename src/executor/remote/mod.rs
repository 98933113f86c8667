//! What the cluster executors share: a job environment whose commands run
//! far away, in a container the cluster started, reached through a mailbox
//! rather than a connection.
//!
//! The cluster (a Kubernetes pod, a Slurm job) runs `mlci agent` as the
//! job's main process ([`agent`]); `mlci run` keeps the scheduler, the
//! contexts, the cache and the run store, and drives the agent request by
//! request ([`client::RemoteEnv`]). Requests, replies and every file that
//! moves (the workspace, the outputs of needed jobs, the step scripts) go
//! through the [`mailbox`]: S3 for Kubernetes, so that nothing but control
//! traffic and logs crosses the API server, and the shared file system for
//! Slurm. A command's output streams on the agent's standard output (the
//! pod's log, the Slurm job's output file) as [`protocol`] frames.

pub mod agent;
pub mod client;
pub mod mailbox;
pub mod protocol;
pub mod tarball;

pub use client::{FrameRouter, Liveness, RemoteEnd, RemoteEnv};
pub use mailbox::{Mailbox, S3Access};
pub use protocol::SecretPlaceholders;
