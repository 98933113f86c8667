//! Reports on GitHub: the pull-request comment, the check run (or commit
//! statuses), and the job summary; and the deployments of jobs with an
//! `environment` (`deployments`). Every request goes through octocrab.
//!
//! Configured from GitHub's environment, so the same binary works on
//! github.com, GitHub Enterprise Server (`GITHUB_API_URL=https://host/api/v3`)
//! and a local stand-in: `GITHUB_API_URL`, `GITHUB_REPOSITORY`,
//! `GITHUB_EVENT_PATH`, `GITHUB_EVENT_NAME`, `GITHUB_SHA`, `GITHUB_TOKEN`
//! (or `--token`), `GITHUB_STEP_SUMMARY`, `GITHUB_SERVER_URL`, `GITHUB_RUN_ID`.
//!
//! Server errors (5xx) and unreachable servers are retried with exponential
//! backoff; rate limits (403/429 with `x-ratelimit-remaining: 0` or
//! `retry-after`) are waited out. `MLCI_GITHUB_MAX_WAIT` (seconds) caps any
//! single wait, for tests and impatient people. The token is never printed:
//! every message passes through [`redact`].

mod check_run;
mod client;
mod comment;
mod config;
mod deployments;
mod error;
mod mode;
mod publication;
mod publish;
mod redact;
mod statuses;
mod summary;
mod truncate;

pub use client::next_link;
pub use comment::marker;
pub use config::GithubConfig;
pub use deployments::{DeploymentStatus, Deployments};
pub use error::{GithubError, READ_ONLY_MESSAGE};
pub use mode::PublishMode;
pub use publication::{Annotation, Publication};
pub use publish::{PublishOutcome, publish};
pub use redact::redact;
pub use truncate::{GITHUB_BODY_LIMIT, truncate};
