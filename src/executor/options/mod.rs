//! `container.options` (and `services.<id>.options`): Docker's `docker
//! create` flags, parsed into [`ContainerOptions`], a backend-neutral request
//! (GPUs, memory, shm size, CPUs, user, volumes and mounts, devices, env,
//! ulimits, network, health check, …) made only of plain types of our own.
//!
//! The text is split into words the way a POSIX shell does (single and
//! double quotes, backslashes, `#` comments), keeping the byte offset of
//! every word so that an error can point at `file:line:col`. Flags take
//! their value as `--flag value`, `--flag=value`, `-f value`, `-fvalue` or
//! `-f=value`, like Docker's own command line; flags that Docker lets you
//! repeat (`-e`, `-v`, `--cap-add`, …) may be repeated, and for the others
//! the last one wins. Anything that is not a supported flag is an error, never
//! silently ignored (`--rm` and `--pull`, which make no sense for a CI
//! container, are accepted and ignored).
//!
//! How a backend uses it: [`ContainerOptions::parse`] has already validated
//! and converted every value (sizes in bytes, durations and CPUs in nano
//! units, `--gpus` as [`GpuRequest`]s, `--mount` as [`Mount`]s, `--device` as
//! [`Device`]s); a backend calls [`ContainerOptions::check_privileged`],
//! reads the fields it can honour and translates them into its own
//! configuration, and refuses (with the flag's offset from
//! [`ContainerOptions::flag_offset`]) the ones it cannot. The Docker
//! translation is [`crate::executor::docker::container_config`]; nothing here knows
//! of Docker's API.
//!
//! Files: `model` (the request), `error`, `words` (shell words with
//! offsets), `flags` (the flag table), `parse` (flags onto the request),
//! `values` (sizes, durations, numbers), `specs` (ulimits, devices, mounts,
//! CSV records), `gpus` (`--gpus`).

mod error;
mod flags;
mod gpus;
mod model;
mod parse;
mod specs;
mod values;
mod words;

pub use error::OptionsError;
pub use model::{
    ContainerOptions, Device, GpuRequest, Mount, MountKind, Ulimit, split_volume_specs,
};
pub use values::{parse_bytes, parse_duration};
