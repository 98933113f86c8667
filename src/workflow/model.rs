//! The typed model of a workflow file. Every value that a person wrote keeps
//! its [`Span`], so that later stages (planning, running) can point back at
//! the line that caused a problem.
//!
//! Strings that may hold `${{ }}` stay strings here; they are evaluated when
//! their contexts exist (at plan time for the matrix, at run time for steps).

use crate::diag::Span;
use crate::expr::Value;
use indexmap::IndexMap;

/// The largest `timeout-minutes`, of a job or a step: 35 days, the longest a
/// workflow run may take on GitHub (self-hosted runners included), so no
/// workflow that GitHub runs needs more. It keeps the limit a valid duration
/// (`1e308` or `.inf` overflowed it and panicked the job).
pub const MAX_TIMEOUT_MINUTES: f64 = 35.0 * 24.0 * 60.0;

/// A value with the place in the file where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Environment variables, in the order written. Values are strings: GitHub
/// turns `DEBUG: true` into the string "true".
pub type Env = IndexMap<String, Spanned<String>>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Workflow {
    pub name: Option<Spanned<String>>,
    pub run_name: Option<Spanned<String>>,
    pub on: Vec<Trigger>,
    pub env: Env,
    pub defaults: Defaults,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Permissions>,
    pub jobs: Vec<Job>,
    /// mlci's quality gates: metric name to condition, checked after the run.
    pub gates: Vec<Gate>,
}

impl Workflow {
    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.id.value == id)
    }

    /// Each job's id with the ids it needs, in file order: the input of the job graph.
    pub fn needs_by_job(&self) -> Vec<(String, Vec<String>)> {
        self.jobs
            .iter()
            .map(|job| {
                let needs = job.needs.iter().map(|n| n.value.clone()).collect();
                (job.id.value.clone(), needs)
            })
            .collect()
    }

    pub fn trigger(&self, event: &str) -> Option<&Trigger> {
        self.on.iter().find(|t| t.event.value == event)
    }
}

/// One event of `on:`, with its filters.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger {
    pub event: Spanned<String>,
    pub filters: TriggerFilters,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriggerFilters {
    pub branches: Vec<Spanned<String>>,
    pub branches_ignore: Vec<Spanned<String>>,
    pub tags: Vec<Spanned<String>>,
    pub tags_ignore: Vec<Spanned<String>>,
    pub paths: Vec<Spanned<String>>,
    pub paths_ignore: Vec<Spanned<String>>,
    pub types: Vec<Spanned<String>>,
    /// `schedule: - cron: ...`
    pub cron: Vec<Spanned<String>>,
    /// `schedule: - timezone: ...`, where an entry names one.
    pub timezones: Vec<Spanned<String>>,
    /// `workflow_run: workflows: [...]`
    pub workflows: Vec<Spanned<String>>,
    /// `workflow_dispatch.inputs` or `workflow_call.inputs`.
    pub inputs: Vec<WorkflowInput>,
    /// `workflow_call.outputs`: name to value expression.
    pub outputs: IndexMap<String, Spanned<String>>,
    /// `workflow_call.secrets`: the names of the secrets a caller may pass.
    pub secrets: Vec<Spanned<String>>,
    /// The ones of them with `required: true`.
    pub required_secrets: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowInput {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub required: bool,
    pub kind: InputKind,
    pub default: Option<Spanned<Value>>,
    /// The choices of a `type: choice` input.
    pub options: Vec<Spanned<String>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputKind {
    #[default]
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Defaults {
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<Spanned<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Concurrency {
    pub group: Spanned<String>,
    pub cancel_in_progress: Option<Spanned<BoolOrExpr>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Permissions {
    ReadAll,
    WriteAll,
    /// Scope to `read`, `write` or `none`; an empty map means no permission.
    Scopes(IndexMap<String, String>),
}

/// A boolean that may be given as an expression (`${{ matrix.experimental }}`).
#[derive(Clone, Debug, PartialEq)]
pub enum BoolOrExpr {
    Bool(bool),
    Expr(String),
}

/// A number that may be given as an expression.
#[derive(Clone, Debug, PartialEq)]
pub enum NumberOrExpr {
    Number(f64),
    Expr(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: Spanned<String>,
    /// The span of the whole job mapping.
    pub span: Span,
    pub name: Option<Spanned<String>>,
    pub needs: Vec<Spanned<String>>,
    pub runs_on: Option<RunsOn>,
    pub condition: Option<Spanned<String>>,
    pub env: Env,
    pub defaults: Defaults,
    pub environment: Option<Environment>,
    pub container: Option<Container>,
    pub services: Vec<(Spanned<String>, Container)>,
    pub strategy: Option<Strategy>,
    pub outputs: IndexMap<String, Spanned<String>>,
    /// At most [`MAX_TIMEOUT_MINUTES`] when written as a number.
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Permissions>,
    pub steps: Vec<Step>,
    /// A reusable workflow called by this job (`jobs.<id>.uses`).
    pub uses: Option<Spanned<String>>,
    pub with: IndexMap<String, Spanned<Value>>,
    pub secrets: Option<JobSecrets>,
    /// Set when this job comes from a called workflow, inlined into its
    /// caller's at plan time: how its contexts differ from a top-level job's.
    pub call: Option<std::sync::Arc<CallFrame>>,
    /// For an inlined job: the needs its `needs` context shows, by the id its
    /// own workflow gives them (flattened id, written id); the caller's needs,
    /// also in `needs` for ordering, are not among them.
    pub needs_as: Option<Vec<(String, String)>>,
    /// Set on a calling job once its called workflow is inlined: it runs no
    /// container and gathers the called jobs' result and outputs.
    pub called: Option<CalledJobs>,
}

/// One call of a reusable workflow (one cell of the caller's matrix), as the
/// jobs inlined from it see it.
#[derive(Clone, Debug, PartialEq)]
pub struct CallFrame {
    /// The calling job's id in the flattened workflow, and its name with its
    /// matrix values (`train (forest)`).
    pub caller_id: String,
    pub caller_name: String,
    /// The caller's matrix values for this call.
    pub caller_matrix: Vec<(String, Value)>,
    /// The caller's needs: the flattened id, and the id its workflow wrote.
    pub caller_needs: Vec<(String, String)>,
    /// The caller's `if`, evaluated in the caller's scope.
    pub caller_if: Option<String>,
    /// The caller's `with`, evaluated in the caller's scope when a job starts.
    pub with: IndexMap<String, Spanned<Value>>,
    pub secrets: Option<JobSecrets>,
    /// The called workflow's `on.workflow_call.inputs`.
    pub declared_inputs: Vec<WorkflowInput>,
    /// The called workflow's file, as the caller wrote it in `uses`.
    pub uses: String,
    /// The frame of the caller when the caller is itself in a called workflow.
    pub parent: Option<std::sync::Arc<CallFrame>>,
}

/// The jobs a calling job's workflow became, one map per call (per cell of
/// its matrix): the id the called workflow gives each job, and its id in the
/// flattened workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct CalledJobs {
    pub calls: Vec<(std::sync::Arc<CallFrame>, IndexMap<String, String>)>,
    /// `on.workflow_call.outputs`: name to value expression (`jobs` and `inputs` contexts).
    pub outputs: IndexMap<String, Spanned<String>>,
}

impl Job {
    /// The name GitHub shows: `name:` when given, else the job's id.
    pub fn display_name(&self) -> &str {
        self.name
            .as_ref()
            .map(|n| n.value.as_str())
            .unwrap_or(&self.id.value)
    }
}

/// `runs-on`: labels, a runner group, or an expression that yields them.
#[derive(Clone, Debug, PartialEq)]
pub struct RunsOn {
    pub labels: Vec<Spanned<String>>,
    pub group: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    pub name: Spanned<String>,
    pub url: Option<Spanned<String>>,
    /// `deployment: false`: the job uses the environment's secrets and
    /// rules but makes no GitHub Deployment (GitHub's default is true).
    pub deployment: Option<Spanned<BoolOrExpr>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum JobSecrets {
    Inherit,
    Map(IndexMap<String, Spanned<String>>),
}

/// A job container or a service container.
#[derive(Clone, Debug, PartialEq)]
pub struct Container {
    pub image: Spanned<String>,
    pub span: Span,
    pub env: Env,
    /// Docker flags, as written: `--gpus all --shm-size 8g`.
    pub options: Option<Spanned<String>>,
    pub volumes: Vec<Spanned<String>>,
    pub ports: Vec<Spanned<String>>,
    pub credentials: Option<Credentials>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    pub username: Spanned<String>,
    pub password: Spanned<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Strategy {
    pub matrix: Option<Matrix>,
    pub fail_fast: Option<Spanned<BoolOrExpr>>,
    pub max_parallel: Option<Spanned<NumberOrExpr>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Matrix {
    /// `matrix: ${{ fromJSON(needs.setup.outputs.matrix) }}`
    Expr(Spanned<String>),
    Map {
        span: Span,
        dimensions: Vec<(Spanned<String>, MatrixValues)>,
        include: Option<MatrixRows>,
        exclude: Option<MatrixRows>,
    },
}

/// The values of one matrix dimension.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixValues {
    List(Vec<Spanned<Value>>),
    Expr(Spanned<String>),
}

/// The entries of `include` or `exclude`.
#[derive(Clone, Debug, PartialEq)]
pub enum MatrixRows {
    List(Vec<Spanned<IndexMap<String, Value>>>),
    Expr(Spanned<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The step's span (the whole mapping).
    pub span: Span,
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub condition: Option<Spanned<String>>,
    pub action: StepAction,
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<Spanned<String>>,
    pub with: IndexMap<String, Spanned<Value>>,
    pub env: Env,
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    /// mlci: paths hashed into the step's cache key.
    pub inputs: Vec<Spanned<String>>,
    /// mlci: paths stored in the cache and restored on a hit.
    pub outputs: Vec<Spanned<String>>,
    /// mlci: metric files collected after the step.
    pub metrics: Vec<Spanned<String>>,
    /// mlci: parameters hashed into the step's cache key by value, as DVC's
    /// `params`: a change to another key of the same file does not count.
    pub params: Vec<ParamRef>,
    /// mlci: the step's model, a candidate version for the model registry.
    pub register: Option<Register>,
    /// mlci: datasets checked against a schema (and for drift) after the step.
    pub validate: Vec<DataCheck>,
    /// mlci: a registered model version to serve; a step of its own.
    pub deploy: Option<Deploy>,
}

/// `deploy: {model: iris:champion, name: iris, target: docker, port: 8080,
/// smoke: path, expect: path, canary: 10}`: a step of mlci's own, run on the
/// host at its place in the job, that serves a registered model version
/// (see `crate::deploy`). Each value may be an expression; one that is not
/// was checked when the file was read, one that is, once evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct Deploy {
    /// `NAME`, `NAME@VERSION` or `NAME:ALIAS` (a [`super::ModelRef`]).
    pub model: Spanned<String>,
    /// The deployment's name [default: the model's name].
    pub name: Option<Spanned<String>>,
    /// `docker` or `k8s` [default: docker].
    pub target: Option<Spanned<String>>,
    /// The front's port on the host, 1 to 65535.
    pub port: Option<Spanned<String>>,
    /// The smoke test's request body, a file in the workspace.
    pub smoke: Option<Spanned<String>>,
    /// The predictions the smoke test must get back, a file in the workspace.
    pub expect: Option<Spanned<String>>,
    /// The new version's share of requests, 1 to 99 %, until promote or rollback.
    pub canary: Option<Spanned<String>>,
}

/// `register: {name, path, promote: {alias, if}}`: after the run, when its
/// gates pass, `path` becomes the next version of the model `name`.
#[derive(Clone, Debug, PartialEq)]
pub struct Register {
    pub name: Spanned<String>,
    /// A file or directory, relative to the workspace.
    pub path: Spanned<String>,
    pub promote: Option<Promote>,
}

/// `promote: {alias: champion, if: "accuracy >= champion + 0.005"}`: the
/// alias moves to the new version when the condition holds (always without one).
#[derive(Clone, Debug, PartialEq)]
pub struct Promote {
    pub alias: Spanned<String>,
    pub condition: Option<Spanned<PromoteCondition>>,
}

/// `accuracy >= champion + 0.005`: a metric of the candidate against a
/// number, or against the same metric of the version an alias names now.
#[derive(Clone, Debug, PartialEq)]
pub struct PromoteCondition {
    /// As written.
    pub text: String,
    pub metric: String,
    /// The alias whose holder is the baseline (`champion`), when the bound names one.
    pub against: Option<String>,
    /// The comparison, with `base` standing for the holder's value.
    pub condition: GateCondition,
}

/// `validate: {data: data/train.csv, schema: data/schema.yml, drift: 0.1}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DataCheck {
    /// The dataset, relative to the workspace.
    pub data: Spanned<String>,
    /// Its schema (see `mlci data schema infer`), relative to the workspace.
    pub schema: Spanned<String>,
    /// Drift against the baseline run: a threshold of its own, or off; the
    /// schema's setting when not given.
    pub drift: Option<Spanned<DriftSetting>>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DriftSetting {
    Off,
    Threshold(f64),
}

/// One entry of a step's `params`: a key of a YAML, JSON or TOML file, or
/// the whole file.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamRef {
    /// The params file, relative to the workspace (`params.yaml` by default).
    pub file: Spanned<String>,
    /// A dotted key (`train.lr`, `layers.0.units`); None for every key of the file.
    pub key: Option<Spanned<String>>,
}

/// The params file that a key without a file name is read from, as in DVC.
pub const DEFAULT_PARAMS_FILE: &str = "params.yaml";

#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    Run(Spanned<String>),
    Uses(Spanned<String>),
}

impl Step {
    /// Whether the step cache keys this step: it declares `inputs` or `params`.
    pub fn is_cached(&self) -> bool {
        !self.inputs.is_empty() || !self.params.is_empty()
    }

    /// Whether mlci reads the step's files after it ran: its `register` and
    /// `validate` keys.
    pub fn reads_files_after(&self) -> bool {
        self.register.is_some() || !self.validate.is_empty()
    }

    /// A step of mlci's own: `validate`, `register` or `deploy` with no `run` or `uses`.
    pub fn is_native(&self) -> bool {
        matches!(&self.action, StepAction::Run(script) if script.value.is_empty())
            && (self.reads_files_after() || self.deploy.is_some())
    }

    /// A name for logs: `name:`, else `Run <first line>` or `Run <action>`, as GitHub shows.
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.value.clone();
        }
        if self.is_native() {
            return match (&self.register, self.validate.first(), &self.deploy) {
                (_, _, Some(deploy)) => format!("Deploy {}", deploy.model.value),
                (_, Some(check), None) => format!("Validate {}", check.data.value),
                (Some(register), None, None) => format!("Register {}", register.name.value),
                (None, None, None) => String::new(),
            };
        }
        match &self.action {
            StepAction::Run(script) => {
                format!("Run {}", script.value.lines().next().unwrap_or("").trim())
            }
            StepAction::Uses(action) => format!("Run {}", action.value),
        }
    }
}

/// A gate: `accuracy: ">= 0.90"` or `loss: "<= base + 0.01"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    pub metric: Spanned<String>,
    pub condition: Spanned<GateCondition>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GateCondition {
    pub comparison: Comparison,
    pub bound: GateBound,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

/// What a metric is compared with: a number, or the same metric on the
/// baseline run, optionally shifted (`base + 0.01`) or scaled (`base * 1.05`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GateBound {
    Absolute(f64),
    Baseline { offset: f64, factor: f64 },
}
