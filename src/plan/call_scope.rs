//! What the jobs of a call see, evaluated in the caller's scope: the
//! caller's `if`, the called workflow's `inputs` (typed as declared, with
//! their defaults) and the secrets the call passes. Before the run (with no
//! `needs` known) as far as can be; when a called job starts, in full.

use crate::expr::{self, EvalContext, Object, Status, Value};
use crate::workflow::{CallFrame, InputKind, JobSecrets};
use std::collections::{BTreeMap, BTreeSet};

/// A caller's matrix cell: its instance name and its matrix values.
pub type Cell = (String, Vec<(String, Value)>);
/// What the jobs of one call get: their `inputs` context and their secrets.
pub type CallValues = (Object, BTreeMap<String, String>);
/// The `needs` context (and the status it gives an `if`) of some jobs.
pub type NeedsLookup<'a> = dyn Fn(&[(String, String)]) -> Option<(Object, Status)> + 'a;

/// The contexts a frame's caller sees: `github`, `vars`, its own `inputs`,
/// its matrix cell, its `needs` (and the status they give its `if`).
pub struct CallerScope<'a> {
    pub github: &'a Object,
    pub vars: &'a Object,
    /// The top-level workflow's `inputs` context.
    pub inputs: &'a Object,
    /// Its inputs known only when the job starts (see [`super::inputs`]).
    pub pending: &'a BTreeSet<String>,
    pub secrets: &'a BTreeMap<String, String>,
    /// The `needs` context of these jobs (flattened id, written id); None
    /// before the run, when `needs` is not known yet.
    pub needs: &'a NeedsLookup<'a>,
}

impl CallerScope<'_> {
    fn contexts(
        &self,
        frame: &CallFrame,
        parent_inputs: Object,
        parent_secrets: &BTreeMap<String, String>,
    ) -> (Object, Status) {
        let mut contexts = Object::new();
        contexts.insert("github", Value::Object(self.github.clone()));
        contexts.insert("vars", Value::Object(self.vars.clone()));
        contexts.insert("inputs", Value::Object(parent_inputs));
        contexts.insert(
            "matrix",
            Value::Object(frame.caller_matrix.iter().cloned().collect()),
        );
        contexts.insert(
            "secrets",
            Value::Object(
                parent_secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        let mut status = Status::Success;
        if let Some((needs, needs_status)) = (self.needs)(&frame.caller_needs) {
            contexts.insert("needs", Value::Object(needs));
            status = needs_status;
        }
        (contexts, status)
    }

    /// The `inputs` and `secrets` of a called workflow's jobs; None when a
    /// caller's `if` says the call does not run. Before the run, an input
    /// passed from what is known only when the call starts (the caller's
    /// `needs`, or an input of the caller's that is pending) is left out.
    pub fn evaluate(&self, frame: &CallFrame) -> Result<Option<CallValues>, String> {
        let (parent_inputs, parent_secrets, parent_pending) = match &frame.parent {
            Some(parent) => match self.evaluate(parent)? {
                Some((inputs, secrets)) => {
                    let pending = parent
                        .declared_inputs
                        .iter()
                        .map(|i| i.name.value.clone())
                        .filter(|name| !inputs.contains_key(name))
                        .collect();
                    (inputs, secrets, pending)
                }
                None => return Ok(None),
            },
            None => (
                self.inputs.clone(),
                self.secrets.clone(),
                self.pending.clone(),
            ),
        };
        let (contexts, status) = self.contexts(frame, parent_inputs, &parent_secrets);
        let known = contexts.contains_key("needs");
        if known {
            let condition = frame.caller_if.as_deref().unwrap_or("");
            let parsed = expr::parse_condition(condition).map_err(|e| {
                format!(
                    "cannot read the `if` of `{}`: {}",
                    frame.caller_id, e.message
                )
            })?;
            let ctx = EvalContext {
                contexts: &contexts,
                status,
                workspace: None,
            };
            let runs = parsed.eval(&ctx).map_err(|e| {
                format!(
                    "cannot evaluate the `if` of `{}`: {}",
                    frame.caller_id, e.message
                )
            })?;
            if !runs {
                return Ok(None);
            }
        }
        let ctx = EvalContext {
            contexts: &contexts,
            status,
            workspace: None,
        };
        let mut inputs = Object::new();
        for input in &frame.declared_inputs {
            let name = &input.name.value;
            let given = frame
                .with
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| &v.value);
            let raw = match given.or(input.default.as_ref().map(|d| &d.value)) {
                Some(Value::String(text)) if text.contains("${{") => {
                    if !known && (reads_needs(text) || reads_pending_text(text, &parent_pending)) {
                        // Known when the call starts.
                        continue;
                    } else {
                        let template = expr::parse_template(text).map_err(|e| {
                            format!("input `{name}` of `{}`: {}", frame.uses, e.message)
                        })?;
                        Some(template.eval(&ctx).map_err(|e| {
                            format!(
                                "cannot evaluate input `{name}` of `{}`: {}",
                                frame.uses, e.message
                            )
                        })?)
                    }
                }
                Some(value) => Some(value.clone()),
                None => None,
            };
            inputs.insert(name.clone(), typed(input.kind, raw, name, &frame.uses)?);
        }
        let secrets = match &frame.secrets {
            None => BTreeMap::new(),
            Some(JobSecrets::Inherit) => parent_secrets,
            Some(JobSecrets::Map(map)) => {
                let mut secrets = BTreeMap::new();
                for (name, text) in map {
                    let value = expr::parse_template(&text.value)
                        .map_err(|e| format!("secret `{name}` of `{}`: {}", frame.uses, e.message))?
                        .eval(&ctx)
                        .map_err(|e| {
                            format!(
                                "cannot evaluate secret `{name}` of `{}`: {}",
                                frame.uses, e.message
                            )
                        })?;
                    secrets.insert(name.clone(), value.to_display_string());
                }
                secrets
            }
        };
        Ok(Some((inputs, secrets)))
    }
}

fn reads_pending_text(text: &str, pending: &BTreeSet<String>) -> bool {
    expr::parse_template(text).is_ok_and(|t| super::inputs::reads_pending(&t, pending))
}

fn reads_needs(text: &str) -> bool {
    expr::parse_template(text).is_ok_and(|t| {
        t.expressions()
            .any(|(_, e)| e.named_values().iter().any(|(name, _)| name == "needs"))
    })
}

/// An input's value as its declared type; GitHub's defaults when not given
/// (false, 0, the empty string).
fn typed(kind: InputKind, value: Option<Value>, name: &str, uses: &str) -> Result<Value, String> {
    Ok(match (kind, value) {
        (InputKind::Boolean, None) => Value::Bool(false),
        (InputKind::Number, None) => Value::Number(0.0),
        (_, None) => Value::String(String::new()),
        (InputKind::Boolean, Some(Value::Bool(b))) => Value::Bool(b),
        (InputKind::Boolean, Some(Value::String(s))) if s.eq_ignore_ascii_case("true") => {
            Value::Bool(true)
        }
        (InputKind::Boolean, Some(Value::String(s))) if s.eq_ignore_ascii_case("false") => {
            Value::Bool(false)
        }
        (InputKind::Number, Some(Value::Number(n))) => Value::Number(n),
        (InputKind::Number, Some(Value::String(s))) if s.trim().parse::<f64>().is_ok() => {
            Value::Number(s.trim().parse().unwrap_or_default())
        }
        (InputKind::Boolean | InputKind::Number, Some(other)) => {
            return Err(format!(
                "input `{name}` of `{uses}` is a {}, but the caller gave `{}`",
                if kind == InputKind::Boolean {
                    "boolean"
                } else {
                    "number"
                },
                other.to_display_string()
            ));
        }
        (_, Some(Value::String(s))) => Value::String(s),
        (_, Some(other)) => Value::String(other.to_display_string()),
    })
}
