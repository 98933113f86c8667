//! From a checked [`Workflow`] to a [`Plan`]: every job expanded into its
//! matrix instances, in an order that respects `needs`.
//!
//! Matrices are evaluated here when their values are known before the run
//! (literals, `github`, `inputs`, `vars`). A matrix that reads `needs`, or an
//! input that a caller passes when the job starts, is only known once the
//! jobs it needs have run; such a job is planned as one deferred instance
//! and expanded by the runner.

use super::graph::JobGraph;
use super::inputs::{PlanInputs, reads_pending};
use super::matrix::{self, Combination, Configuration, MatrixSpec};
use crate::diag::{Diagnostic, Span};
use crate::expr::{self, EvalContext, Object, Status, Value};
use crate::workflow::{Job, Matrix, MatrixRows, MatrixValues, Workflow};
use indexmap::IndexMap;
use std::collections::BTreeSet;

#[derive(Debug)]
pub struct Plan {
    /// One entry per job, in file order.
    pub jobs: Vec<PlannedJob>,
    pub graph: JobGraph,
}

#[derive(Clone, Debug)]
pub struct PlannedJob {
    pub id: String,
    /// Jobs this one needs, by id.
    pub needs: Vec<String>,
    pub instances: Vec<JobInstance>,
    /// Why the matrix could not be expanded before the run, when it could not.
    pub deferred: Option<String>,
    pub max_parallel: Option<usize>,
    pub fail_fast: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct JobInstance {
    pub job_id: String,
    /// The name GitHub shows: `train (forest, 0.1)`.
    pub name: String,
    pub matrix: Combination,
    /// `runs-on` labels, evaluated where they hold expressions.
    pub runs_on: Vec<String>,
}

impl Plan {
    pub fn instance_count(&self) -> usize {
        self.jobs.iter().map(|j| j.instances.len()).sum()
    }

    /// Jobs in layers: every job comes after all the jobs it needs, and the
    /// jobs of one layer can run in parallel.
    pub fn layers(&self) -> Vec<Vec<&PlannedJob>> {
        self.graph
            .levels()
            .into_iter()
            .map(|level| level.into_iter().map(|index| &self.jobs[index]).collect())
            .collect()
    }
}

/// Plans a workflow that `workflow::parse` accepted.
pub fn build(workflow: &Workflow, inputs: &PlanInputs) -> Result<Plan, Vec<Diagnostic>> {
    let ids = workflow.needs_by_job();
    let graph = JobGraph::new(&ids).map_err(|errors| {
        errors
            .iter()
            .map(|e| Diagnostic::error(Span::default(), e.to_string()))
            .collect::<Vec<_>>()
    })?;
    let mut diagnostics = Vec::new();
    let mut jobs = Vec::new();
    for job in &workflow.jobs {
        // A called workflow's job plans with its call's inputs, as far as
        // they are known before the run.
        let call_inputs = job.call.as_deref().and_then(|frame| {
            let no_needs = |_: &[(String, String)]| None;
            let secrets = Default::default();
            let scope = super::call_scope::CallerScope {
                github: &inputs.github,
                vars: &inputs.vars,
                inputs: &inputs.inputs,
                pending: &inputs.pending,
                secrets: &secrets,
                needs: &no_needs,
            };
            let (called, _) = scope.evaluate(frame).ok()??;
            // What the call leaves out comes from the caller's `needs`.
            let pending = frame
                .declared_inputs
                .iter()
                .map(|i| i.name.value.clone())
                .filter(|name| !called.contains_key(name))
                .collect();
            Some(PlanInputs {
                inputs: called,
                pending,
                ..inputs.clone()
            })
        });
        match plan_job(job, call_inputs.as_ref().unwrap_or(inputs), None) {
            Ok(planned) => jobs.push(planned),
            Err(diagnostic) => diagnostics.push(diagnostic),
        }
    }
    if diagnostics.is_empty() {
        Ok(Plan { jobs, graph })
    } else {
        Err(diagnostics)
    }
}

/// Plans a job whose matrix reads `needs` or a pending input (deferred by
/// [`build`]) once the jobs it needs are done: `needs` holds their results
/// and outputs, and `inputs` (a called job's: its call's) every input.
pub fn expand_at_run_time(
    job: &Job,
    inputs: &PlanInputs,
    needs: Object,
) -> Result<PlannedJob, Diagnostic> {
    plan_job(job, inputs, Some(needs))
}

fn plan_job(
    job: &Job,
    inputs: &PlanInputs,
    needs_context: Option<Object>,
) -> Result<PlannedJob, Diagnostic> {
    let needs = job.needs.iter().map(|n| n.value.clone()).collect();
    let mut planned = PlannedJob {
        id: job.id.value.clone(),
        needs,
        instances: Vec::new(),
        deferred: None,
        max_parallel: None,
        fail_fast: true,
    };
    let pending = &inputs.pending;
    let mut base = base_contexts(inputs);
    if let Some(needs) = needs_context {
        base.insert("needs", Value::Object(needs));
    }
    let strategy = job.strategy.as_ref();
    if let Some(fail_fast) = strategy.and_then(|s| s.fail_fast.as_ref()) {
        planned.fail_fast = match &fail_fast.value {
            crate::workflow::BoolOrExpr::Bool(b) => *b,
            crate::workflow::BoolOrExpr::Expr(text) => {
                match evaluate(text, &base, pending, fail_fast.span)? {
                    Some(value) => value.is_truthy(),
                    None => true,
                }
            }
        };
    }
    if let Some(max_parallel) = strategy.and_then(|s| s.max_parallel.as_ref()) {
        let value = match &max_parallel.value {
            crate::workflow::NumberOrExpr::Number(n) => Some(*n),
            crate::workflow::NumberOrExpr::Expr(text) => {
                match evaluate(text, &base, pending, max_parallel.span)? {
                    Some(Value::Number(n)) => Some(n),
                    Some(other) => other.to_display_string().trim().parse().ok(),
                    None => None,
                }
            }
        };
        if let Some(n) = value {
            if !(n >= 1.0 && n.is_finite()) {
                return Err(Diagnostic::error(
                    max_parallel.span,
                    format!(
                        "`max-parallel` must be at least 1, found {}",
                        expr::format_number(n)
                    ),
                ));
            }
            planned.max_parallel = Some(n as usize);
        }
    }
    let no_matrix = || Configuration {
        matrix: Combination::new(),
        name_keys: 0,
    };
    let configurations = match strategy.and_then(|s| s.matrix.as_ref()) {
        None => vec![no_matrix()],
        Some(matrix) => match matrix_spec(matrix, &base, pending)? {
            Some((spec, span)) => matrix::expand_configurations(&spec)
                .map_err(|e| Diagnostic::error(span, format!("job `{}`: {e}", job.id.value)))?,
            None => {
                planned.deferred = Some(
                    "its matrix reads `needs` or an input of its caller, and is expanded when the job starts".to_string(),
                );
                vec![no_matrix()]
            }
        },
    };
    let total = configurations.len();
    for (index, configuration) in configurations.into_iter().enumerate() {
        let combination = &configuration.matrix;
        let mut contexts = base.clone();
        contexts.insert(
            "matrix",
            Value::Object(
                combination
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        );
        let mut strategy_context = Object::new();
        strategy_context.insert("fail-fast", Value::Bool(planned.fail_fast));
        strategy_context.insert("job-index", Value::Number(index as f64));
        strategy_context.insert("job-total", Value::Number(total as f64));
        strategy_context.insert(
            "max-parallel",
            Value::Number(planned.max_parallel.unwrap_or(total) as f64),
        );
        contexts.insert("strategy", Value::Object(strategy_context));
        let name = instance_name(job, &configuration, &contexts, pending)?;
        let runs_on = runs_on(job, &contexts, pending)?;
        planned.instances.push(JobInstance {
            job_id: job.id.value.clone(),
            name,
            matrix: configuration.matrix,
            runs_on,
        });
    }
    Ok(planned)
}

/// The cells of a calling job's matrix: each one's name and matrix values.
/// A matrix read from `needs` is not known early enough to inline the calls.
pub(super) fn plan_caller_cells(
    job: &Job,
    inputs: &PlanInputs,
) -> Result<Vec<super::call_scope::Cell>, Diagnostic> {
    let planned = plan_job(job, inputs, None)?;
    if planned.deferred.is_some() {
        let span = job.strategy.as_ref().and_then(|s| match &s.matrix {
            Some(Matrix::Expr(e)) => Some(e.span),
            Some(Matrix::Map { span, .. }) => Some(*span),
            None => None,
        });
        return Err(Diagnostic::error(
            span.unwrap_or(job.id.span),
            format!(
                "job `{}` calls a reusable workflow with a matrix read from `needs` (or from an input known only when it starts): mlci inlines calls before the run, so the matrix must be known then",
                job.id.value
            ),
        ));
    }
    Ok(planned
        .instances
        .into_iter()
        .map(|i| (i.name, i.matrix.into_iter().collect()))
        .collect())
}

fn base_contexts(inputs: &PlanInputs) -> Object {
    let mut contexts = Object::new();
    contexts.insert("github", Value::Object(inputs.github.clone()));
    contexts.insert("inputs", Value::Object(inputs.inputs.clone()));
    contexts.insert("vars", Value::Object(inputs.vars.clone()));
    contexts
}

/// Evaluates a template with the contexts known so far. Returns None when it
/// reads `needs` before the run has filled it in, or a pending input.
fn evaluate(
    text: &str,
    contexts: &Object,
    pending: &BTreeSet<String>,
    span: Span,
) -> Result<Option<Value>, Diagnostic> {
    let template = expr::parse_template(text)
        .map_err(|e| Diagnostic::error(span, format!("invalid expression: {}", e.message)))?;
    let reads_runtime = template
        .expressions()
        .any(|(_, e)| e.named_values().iter().any(|(name, _)| name == "needs"));
    if (reads_runtime && !contexts.contains_key("needs")) || reads_pending(&template, pending) {
        return Ok(None);
    }
    let context = EvalContext {
        contexts,
        status: Status::Success,
        workspace: None,
    };
    template
        .eval(&context)
        .map(Some)
        .map_err(|e| Diagnostic::error(span, format!("cannot evaluate `{text}`: {}", e.message)))
}

/// The matrix with its expressions evaluated, or None when it needs the run.
fn matrix_spec(
    matrix: &Matrix,
    contexts: &Object,
    pending: &BTreeSet<String>,
) -> Result<Option<(MatrixSpec, Span)>, Diagnostic> {
    match matrix {
        Matrix::Expr(text) => {
            let Some(value) = evaluate(&text.value, contexts, pending, text.span)? else {
                return Ok(None);
            };
            let Value::Object(object) = value else {
                return Err(Diagnostic::error(
                    text.span,
                    format!(
                        "the matrix expression must give an object, but gave {}",
                        value.kind()
                    ),
                ));
            };
            spec_from_object(&object, text.span).map(|spec| Some((spec, text.span)))
        }
        Matrix::Map {
            span,
            dimensions,
            include,
            exclude,
        } => {
            let mut spec = MatrixSpec {
                dimensions: IndexMap::new(),
                include: Vec::new(),
                exclude: Vec::new(),
            };
            for (name, values) in dimensions {
                let values = match values {
                    MatrixValues::List(items) => {
                        let mut resolved = Vec::new();
                        for item in items {
                            match resolve(&item.value, contexts, pending, item.span)? {
                                Some(value) => resolved.push(value),
                                None => return Ok(None),
                            }
                        }
                        resolved
                    }
                    MatrixValues::Expr(text) => {
                        match evaluate(&text.value, contexts, pending, text.span)? {
                            None => return Ok(None),
                            Some(Value::Array(items)) => items,
                            Some(other) => {
                                return Err(Diagnostic::error(
                                    text.span,
                                    format!(
                                        "matrix dimension `{}` must be a list, but the expression gave {}",
                                        name.value,
                                        other.kind()
                                    ),
                                ));
                            }
                        }
                    }
                };
                spec.dimensions.insert(name.value.clone(), values);
            }
            for (rows, target, key) in [
                (include, &mut spec.include, "include"),
                (exclude, &mut spec.exclude, "exclude"),
            ] {
                match rows {
                    None => {}
                    Some(MatrixRows::List(items)) => {
                        for row in items {
                            let mut resolved = Combination::new();
                            for (key, value) in &row.value {
                                match resolve(value, contexts, pending, row.span)? {
                                    Some(value) => resolved.insert(key.clone(), value),
                                    None => return Ok(None),
                                };
                            }
                            target.push(resolved);
                        }
                    }
                    Some(MatrixRows::Expr(text)) => {
                        match evaluate(&text.value, contexts, pending, text.span)? {
                            None => return Ok(None),
                            Some(value) => *target = rows_from_value(&value, key, text.span)?,
                        }
                    }
                }
            }
            Ok(Some((spec, *span)))
        }
    }
}

/// Evaluates the `${{ }}` in the strings of a matrix value. A string that is
/// one whole expression takes that expression's value (which may be a list
/// or an object), as on GitHub.
fn resolve(
    value: &Value,
    contexts: &Object,
    pending: &BTreeSet<String>,
    span: Span,
) -> Result<Option<Value>, Diagnostic> {
    Ok(Some(match value {
        Value::String(text) if text.contains("${{") => {
            match evaluate(text, contexts, pending, span)? {
                Some(value) => value,
                None => return Ok(None),
            }
        }
        Value::Array(items) => {
            let mut resolved = Vec::new();
            for item in items {
                match resolve(item, contexts, pending, span)? {
                    Some(value) => resolved.push(value),
                    None => return Ok(None),
                }
            }
            Value::Array(resolved)
        }
        Value::Object(object) => {
            let mut resolved = Object::new();
            for (key, item) in object {
                match resolve(item, contexts, pending, span)? {
                    Some(value) => resolved.insert(key.clone(), value),
                    None => return Ok(None),
                }
            }
            Value::Object(resolved)
        }
        other => other.clone(),
    }))
}

fn spec_from_object(object: &Object, span: Span) -> Result<MatrixSpec, Diagnostic> {
    let mut spec = MatrixSpec {
        dimensions: IndexMap::new(),
        include: Vec::new(),
        exclude: Vec::new(),
    };
    for (key, value) in object {
        if key.eq_ignore_ascii_case("include") {
            spec.include = rows_from_value(value, "include", span)?;
        } else if key.eq_ignore_ascii_case("exclude") {
            spec.exclude = rows_from_value(value, "exclude", span)?;
        } else {
            match value {
                Value::Array(items) => {
                    spec.dimensions.insert(key.clone(), items.clone());
                }
                other => {
                    return Err(Diagnostic::error(
                        span,
                        format!(
                            "matrix dimension `{key}` must be a list, found {}",
                            other.kind()
                        ),
                    ));
                }
            }
        }
    }
    Ok(spec)
}

fn rows_from_value(value: &Value, key: &str, span: Span) -> Result<Vec<Combination>, Diagnostic> {
    let error = || Diagnostic::error(span, format!("matrix `{key}` must be a list of maps"));
    let Value::Array(items) = value else {
        return Err(error());
    };
    items
        .iter()
        .map(|item| match item {
            Value::Object(object) => {
                Ok(object.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            _ => Err(error()),
        })
        .collect()
}

/// GitHub appends the matrix values to a job's name, unless the name already
/// uses the matrix through an expression.
fn instance_name(
    job: &Job,
    configuration: &Configuration,
    contexts: &Object,
    pending: &BTreeSet<String>,
) -> Result<String, Diagnostic> {
    let Some(name) = &job.name else {
        return Ok(configuration.name(&job.id.value));
    };
    if !name.value.contains("${{") {
        return Ok(configuration.name(&name.value));
    }
    let template = expr::parse_template(&name.value)
        .map_err(|e| Diagnostic::error(name.span, format!("invalid expression: {}", e.message)))?;
    let uses_matrix = template
        .expressions()
        .any(|(_, e)| e.named_values().iter().any(|(n, _)| n == "matrix"));
    let evaluated = match evaluate(&name.value, contexts, pending, name.span)? {
        Some(value) => value.to_display_string(),
        None => name.value.clone(),
    };
    if uses_matrix {
        Ok(evaluated)
    } else {
        Ok(configuration.name(&evaluated))
    }
}

fn runs_on(
    job: &Job,
    contexts: &Object,
    pending: &BTreeSet<String>,
) -> Result<Vec<String>, Diagnostic> {
    let Some(runs_on) = &job.runs_on else {
        return Ok(Vec::new());
    };
    let mut labels = Vec::new();
    for label in runs_on.labels.iter().chain(runs_on.group.iter()) {
        match evaluate(&label.value, contexts, pending, label.span)? {
            Some(Value::Array(items)) => labels.extend(items.iter().map(Value::to_display_string)),
            Some(value) => labels.push(value.to_display_string()),
            None => labels.push(label.value.clone()),
        }
    }
    Ok(labels)
}
