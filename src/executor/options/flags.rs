//! The flags that `container.options` accept (and those refused with a
//! reason), and the error for any other, with a suggestion.

use super::error::OptionsError;

/// How a flag takes its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Arity {
    /// A switch: `--init`, or `--init=true|false`.
    Bool,
    Value,
}

/// Supported flags: canonical long name, short name, arity.
pub(super) const FLAGS: &[(&str, Option<char>, Arity)] = &[
    ("gpus", None, Arity::Value),
    ("runtime", None, Arity::Value),
    ("shm-size", None, Arity::Value),
    ("ipc", None, Arity::Value),
    ("pid", None, Arity::Value),
    ("memory", Some('m'), Arity::Value),
    ("memory-swap", None, Arity::Value),
    ("cpus", None, Arity::Value),
    ("cpu-shares", Some('c'), Arity::Value),
    ("cpuset-cpus", None, Arity::Value),
    ("user", Some('u'), Arity::Value),
    ("group-add", None, Arity::Value),
    ("volume", Some('v'), Arity::Value),
    ("mount", None, Arity::Value),
    ("env", Some('e'), Arity::Value),
    ("network", None, Arity::Value),
    ("net", None, Arity::Value),
    ("network-alias", None, Arity::Value),
    ("net-alias", None, Arity::Value),
    ("privileged", None, Arity::Bool),
    ("entrypoint", None, Arity::Value),
    ("workdir", Some('w'), Arity::Value),
    ("hostname", Some('h'), Arity::Value),
    ("add-host", None, Arity::Value),
    ("dns", None, Arity::Value),
    ("cap-add", None, Arity::Value),
    ("cap-drop", None, Arity::Value),
    ("security-opt", None, Arity::Value),
    ("sysctl", None, Arity::Value),
    ("ulimit", None, Arity::Value),
    ("init", None, Arity::Bool),
    ("tmpfs", None, Arity::Value),
    ("label", Some('l'), Arity::Value),
    ("health-cmd", None, Arity::Value),
    ("health-interval", None, Arity::Value),
    ("health-timeout", None, Arity::Value),
    ("health-retries", None, Arity::Value),
    ("health-start-period", None, Arity::Value),
    ("no-healthcheck", None, Arity::Bool),
    ("pids-limit", None, Arity::Value),
    ("device", None, Arity::Value),
    ("read-only", None, Arity::Bool),
    ("platform", None, Arity::Value),
    ("stop-signal", None, Arity::Value),
    ("pull", None, Arity::Value),
    ("rm", None, Arity::Bool),
];

/// Docker flags that are refused with a reason rather than as unknown.
pub(super) const REFUSED: &[(&str, &str)] = &[
    ("name", "mlci names its containers itself"),
    ("publish", "use `ports:` instead"),
    ("p", "use `ports:` instead"),
    ("publish-all", "use `ports:` instead"),
    ("P", "use `ports:` instead"),
    ("detach", "mlci runs the container itself"),
    ("d", "mlci runs the container itself"),
    ("interactive", "a CI container has no terminal"),
    ("i", "a CI container has no terminal"),
    ("tty", "a CI container has no terminal"),
    ("t", "a CI container has no terminal"),
    ("it", "a CI container has no terminal"),
    ("env-file", "put the variables under `env:` instead"),
    ("restart", "a job container is never restarted"),
];

pub(super) fn unknown_flag(word: &str, name: &str, offset: usize, len: usize) -> OptionsError {
    let flag = word.split('=').next().unwrap_or(word);
    if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == name) {
        return OptionsError::new(
            flag,
            offset,
            len,
            format!("`{flag}` is not supported in container.options: {why}"),
        );
    }
    let best = FLAGS
        .iter()
        .map(|f| (strsim::damerau_levenshtein(name, f.0), f.0))
        .filter(|(d, f)| *d <= 2.max(f.len() / 4) && *d < f.len())
        .min_by_key(|(d, _)| *d);
    let message = match best {
        Some((_, f)) => format!("unknown option `{flag}`; did you mean `--{f}`?"),
        None => format!("unknown option `{flag}` in container.options"),
    };
    OptionsError::new(flag, offset, len, message)
}
