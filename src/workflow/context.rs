//! Which contexts and functions an expression may use, by where it is written.
//!
//! This is GitHub's "context availability" table: `secrets` cannot decide a
//! job's `if`, `steps` cannot pick a job's runner, and status functions only
//! make sense in conditions.

/// Where an expression is written, and what it may use there.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    pub contexts: &'static [&'static str],
    /// `success()`, `failure()`, `always()`, `cancelled()`.
    pub status_functions: bool,
    pub hash_files: bool,
}

/// Every context GitHub defines.
pub const CONTEXTS: &[&str] = &[
    "github", "env", "vars", "job", "jobs", "steps", "runner", "secrets", "strategy", "matrix",
    "needs", "inputs",
];

/// Every function of the expression language, as GitHub spells them.
pub const FUNCTIONS: &[&str] = &[
    "contains",
    "startsWith",
    "endsWith",
    "format",
    "join",
    "toJSON",
    "fromJSON",
    "hashFiles",
    "success",
    "always",
    "cancelled",
    "failure",
];

const fn site(contexts: &'static [&'static str]) -> Site {
    Site {
        contexts,
        status_functions: false,
        hash_files: false,
    }
}

pub const RUN_NAME: Site = site(&["github", "inputs", "vars"]);
pub const WORKFLOW_CONCURRENCY: Site = site(&["github", "inputs", "vars"]);
pub const WORKFLOW_ENV: Site = site(&["github", "secrets", "inputs", "vars"]);
pub const WORKFLOW_DEFAULTS: Site = site(&["github", "inputs", "vars"]);
pub const WORKFLOW_CALL_INPUT_DEFAULT: Site = site(&["github", "inputs", "vars"]);
pub const WORKFLOW_CALL_OUTPUT: Site = site(&["github", "jobs", "vars", "inputs"]);

pub const JOB_IF: Site = Site {
    contexts: &["github", "needs", "vars", "inputs"],
    status_functions: true,
    hash_files: false,
};
/// A job's name, runs-on, container, services, timeout, concurrency,
/// environment, continue-on-error and reusable-workflow inputs.
pub const JOB: Site = site(&["github", "needs", "strategy", "matrix", "vars", "inputs"]);
pub const STRATEGY: Site = site(&["github", "needs", "vars", "inputs"]);
pub const JOB_ENV: Site = site(&[
    "github", "needs", "strategy", "matrix", "vars", "secrets", "inputs",
]);
pub const JOB_DEFAULTS: Site = site(&[
    "github", "needs", "strategy", "matrix", "env", "vars", "inputs",
]);
pub const JOB_SECRETS: Site = site(&[
    "github", "needs", "strategy", "matrix", "secrets", "inputs", "vars",
]);
pub const CONTAINER_ENV: Site = site(&[
    "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs",
]);
pub const CREDENTIALS: Site = site(&[
    "github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs",
]);
pub const JOB_OUTPUTS: Site = site(&[
    "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps",
    "inputs",
]);
pub const ENVIRONMENT_URL: Site = site(&[
    "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs",
]);
/// A step's run, name, env, with, working-directory, timeout and continue-on-error.
pub const STEP: Site = Site {
    contexts: &[
        "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets",
        "steps", "inputs",
    ],
    status_functions: false,
    hash_files: true,
};
/// A step's `if`: everything a step sees but secrets, plus status functions.
pub const STEP_IF: Site = Site {
    contexts: &[
        "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs",
    ],
    status_functions: true,
    hash_files: true,
};

/// Where GitHub takes `${{ }}` literally: only the syntax and the functions
/// are checked.
pub const ANY: Site = Site {
    contexts: CONTEXTS,
    status_functions: true,
    hash_files: true,
};

/// An error message when `name` cannot be used at `site`.
pub fn check_named_value(name: &str, site: &Site) -> Option<String> {
    let name = name.to_ascii_lowercase();
    if !CONTEXTS.contains(&name.as_str()) {
        return Some(format!(
            "unrecognized named-value `{name}`: expressions can use the contexts {}",
            CONTEXTS.join(", ")
        ));
    }
    if site.contexts.contains(&name.as_str()) {
        return None;
    }
    Some(format!(
        "context `{name}` is not available here; available here: {}",
        site.contexts.join(", ")
    ))
}

/// An error message when the function `name` cannot be called at `site`.
pub fn check_function(name: &str, site: &Site) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let allowed = match lower.as_str() {
        "success" | "failure" | "always" | "cancelled" => site.status_functions,
        "hashfiles" => site.hash_files,
        _ => true,
    };
    if allowed {
        return None;
    }
    let canonical = FUNCTIONS
        .iter()
        .find(|f| f.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or(name);
    let hint = if lower == "hashfiles" {
        "it can only be used in steps"
    } else {
        "status functions can only be used in `if` conditions"
    };
    Some(format!(
        "function `{canonical}()` is not available here: {hint}"
    ))
}
