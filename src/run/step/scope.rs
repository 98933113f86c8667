//! The expression scope of a job and its steps: evaluating templates and
//! `if:` conditions, `continue-on-error`, a step's title and timeout.

use crate::expr::{self, EvalContext, Object, Status, Value};
use crate::workflow::{BoolOrExpr, MAX_TIMEOUT_MINUTES, NumberOrExpr, Spanned, Step};
use std::path::PathBuf;
use std::time::Duration;

/// Everything a job instance's expressions can see, before its steps run.
pub(crate) struct JobScope {
    pub contexts: Object,
    pub status: Status,
    /// Where `hashFiles()` looks: the run's snapshot of the repository.
    pub workspace: Option<PathBuf>,
}

impl JobScope {
    pub fn eval(&self, text: &str) -> Result<Value, String> {
        let template = expr::parse_template(text).map_err(|e| e.message)?;
        template
            .eval(&EvalContext {
                contexts: &self.contexts,
                status: self.status,
                workspace: self.workspace.as_deref(),
            })
            .map_err(|e| e.message)
    }

    pub fn eval_string(&self, text: &str) -> Result<String, String> {
        self.eval(text).map(|v| v.to_display_string())
    }

    /// An `if:`; without one, `success()`, as GitHub does.
    pub fn condition(&self, text: Option<&str>) -> Result<bool, String> {
        let condition =
            expr::parse_condition(text.unwrap_or("success()")).map_err(|e| e.message)?;
        condition
            .eval(&EvalContext {
                contexts: &self.contexts,
                status: self.status,
                workspace: self.workspace.as_deref(),
            })
            .map_err(|e| e.message)
    }

    /// A boolean key that may hold an expression (`cancel-in-progress`).
    pub fn flag(&self, value: Option<&Spanned<BoolOrExpr>>) -> bool {
        match value.map(|v| &v.value) {
            None => false,
            Some(BoolOrExpr::Bool(b)) => *b,
            Some(BoolOrExpr::Expr(text)) => self.eval(text).is_ok_and(|v| v.is_truthy()),
        }
    }

    /// `continue-on-error`, as written or as its expression evaluates.
    pub fn continue_on_error(&self, value: Option<&Spanned<BoolOrExpr>>) -> bool {
        match value.map(|v| &v.value) {
            Some(BoolOrExpr::Bool(b)) => *b,
            Some(BoolOrExpr::Expr(text)) => self.eval(text).is_ok_and(|v| v.is_truthy()),
            None => false,
        }
    }
}

/// The title a step is shown with.
pub(crate) fn step_title(scope: &JobScope, step: &Step) -> String {
    match &step.name {
        Some(n) => scope
            .eval_string(&n.value)
            .unwrap_or_else(|_| n.value.clone()),
        None => step.display_name(),
    }
}

/// A step's `timeout-minutes`, as written or as its expression evaluates.
pub(crate) fn step_timeout(scope: &JobScope, step: &Step) -> Option<Duration> {
    timeout_minutes(scope, step.timeout_minutes.as_ref())
}

/// A `timeout-minutes` (of a step or a job), as written or as its
/// expression evaluates; None when absent, zero or not a number.
pub(crate) fn timeout_minutes(
    scope: &JobScope,
    minutes: Option<&Spanned<NumberOrExpr>>,
) -> Option<Duration> {
    match minutes.map(|t| &t.value) {
        Some(NumberOrExpr::Number(n)) => Some(*n),
        Some(NumberOrExpr::Expr(text)) => scope.eval(text).ok().and_then(|v| match v {
            Value::Number(n) => Some(n),
            other => other.to_display_string().trim().parse().ok(),
        }),
        None => None,
    }
    .filter(|m| *m > 0.0)
    // An expression may give any number (the parser bounds literal ones);
    // past the bound there is no limit to speak of, and `inf` must not panic.
    .map(|minutes| Duration::from_secs_f64(minutes.min(MAX_TIMEOUT_MINUTES) * 60.0))
}
