//! A `deploy:` step: mlci's own work, on the host, at its place in the job
//! (after the steps before it, not in the job's container). Its values are
//! evaluated and checked as the parser checks written ones; the model is
//! resolved in the run store (through the cache's remote when there is one,
//! as `mlci models` does); [`crate::deploy::deploy`] serves it and records
//! the deployment under the run and its commit. Each of its events is a
//! line of the step's log; a refusal (the version failed its health check or
//! smoke test) or an error fails the step. Outputs: `url`, `version`, `image`.
//!
//! A deployment is not cut short by Ctrl-C or `timeout-minutes`: stopped
//! half-way it could leave a new version started and not switched; its own
//! health and smoke checks bound how long it takes. It runs on a thread of
//! its own (see [`OnHost`]), its events coming back over a channel.

use crate::cache::CacheKey;
use crate::deploy::{DeployEvent, DeployRequest, Deployed, TargetKind};
use crate::executor::Backend;
use crate::expr::{Object, Value};
use crate::record::{DeploymentRecord, DeploymentState, Store};
use crate::run::cached::workspace_on_host;
use crate::run::report::StepReport;
use crate::run::step::{JobScope, StepCtx};
use crate::workflow::{Deploy, ModelRef, Spanned, check_deploy_value, parse_canary, parse_port};
use std::path::PathBuf;

/// Runs the step's deployment: its outcome and outputs.
pub(super) async fn run<B: Backend>(
    ctx: &StepCtx<'_, B>,
    deploy: &Deploy,
    scope: &JobScope,
    report: &mut StepReport,
) -> (&'static str, Object) {
    match serve(ctx, deploy, scope, report).await {
        Ok(outputs) => ("success", outputs),
        Err(message) => {
            ctx.shared.print(ctx.name, &format!("error: {message}"));
            report.failure = Some(format!("failed: {message}"));
            ("failure", Object::new())
        }
    }
}

/// The step's values, evaluated and checked.
struct Values {
    reference: ModelRef,
    name: String,
    target: TargetKind,
    port: Option<u16>,
    smoke: Option<String>,
    expect: Option<String>,
    canary: Option<u8>,
}

fn evaluate(deploy: &Deploy, scope: &JobScope) -> Result<Values, String> {
    let value = |key: &str, field: Option<&Spanned<String>>| -> Result<Option<String>, String> {
        let Some(field) = field else {
            return Ok(None);
        };
        let text = scope
            .eval_string(&field.value)
            .map_err(|e| format!("cannot evaluate `deploy: {key}`: {e}"))?;
        let text = text.trim().to_string();
        check_deploy_value(key, &text)?;
        Ok(Some(text))
    };
    let model = value("model", Some(&deploy.model))?.unwrap_or_default();
    let reference = ModelRef::parse(&model)?;
    let name = value("name", deploy.name.as_ref())?.unwrap_or_else(|| reference.name.clone());
    let target = match value("target", deploy.target.as_ref())?.as_deref() {
        Some("k8s") => TargetKind::K8s,
        _ => TargetKind::Docker,
    };
    let port = value("port", deploy.port.as_ref())?
        .map(|p| parse_port(&p))
        .transpose()?;
    let canary = value("canary", deploy.canary.as_ref())?
        .map(|p| parse_canary(&p))
        .transpose()?;
    Ok(Values {
        reference,
        name,
        target,
        port,
        smoke: value("smoke", deploy.smoke.as_ref())?,
        expect: value("expect", deploy.expect.as_ref())?,
        canary,
    })
}

async fn serve<B: Backend>(
    ctx: &StepCtx<'_, B>,
    deploy: &Deploy,
    scope: &JobScope,
    report: &mut StepReport,
) -> Result<Object, String> {
    let shared = ctx.shared;
    let values = evaluate(deploy, scope)?;
    let Some(row) = shared.options.store.as_ref() else {
        return Err(
            "a `deploy:` step records its deployment in the run store, and this run has none"
                .to_string(),
        );
    };
    let Some(cache) = shared.cache.as_ref() else {
        return Err(
            "a `deploy:` step reads the model's files from the cache, and this run has none"
                .to_string(),
        );
    };
    // The smoke test's files are the job's: on the host, where the workspace is.
    let wanted: Vec<String> = [&values.smoke, &values.expect]
        .into_iter()
        .flatten()
        .map(|p| p.trim_start_matches("./").to_string())
        .collect();
    let (root, _scratch) = if wanted.is_empty() {
        (PathBuf::new(), None)
    } else {
        workspace_on_host(ctx, Some(cache), &wanted).await?
    };
    let in_workspace = |path: &Option<String>| -> Result<Option<PathBuf>, String> {
        let Some(path) = path else { return Ok(None) };
        let relative = path.trim_start_matches("./");
        let file = crate::confine::resolve(&root, relative, "the workspace")
            .map_err(|e| format!("`deploy`: {path}: {e}"))?;
        if !file.is_file() {
            return Err(format!("`deploy`: no file `{path}` in the workspace"));
        }
        Ok(Some(file))
    };
    let smoke = in_workspace(&values.smoke)?;
    let expect = in_workspace(&values.expect)?;

    let version = {
        let mut store = Store::open(&row.path).map_err(|e| e.to_string())?;
        store.set_secrets(shared.options.secrets.values().cloned());
        crate::registry::resolve(&mut store, &values.reference, cache.remote()).await?
    };
    // A version registered on another machine: its files come from the remote.
    let key = CacheKey::from_string(version.entry_key.clone());
    if let Some(remote) = cache.remote()
        && cache.store().lookup(&key).is_none()
    {
        remote
            .pull(cache.store(), &key)
            .await
            .map_err(|e| format!("cannot fetch the files of {}: {e}", version.label()))?;
    }
    let label = version.label();
    let request = DeployRequest {
        name: values.name.clone(),
        version,
        target: values.target,
        port: values.port,
        smoke,
        expect,
        canary: values.canary,
        kube: Default::default(),
        run_id: row.run_id,
        sha: Some(super::environment::run_commit(shared)),
    };
    shared.print(
        ctx.name,
        &format!(
            "deploying {label} ({}) as `{}` on {}",
            values.reference,
            values.name,
            values.target.as_str()
        ),
    );
    let on_host = OnHost {
        store: row.path.clone(),
        secrets: shared.options.secrets.values().cloned().collect(),
        cache: cache.store().dir().to_path_buf(),
    };
    let (lines, mut received) = tokio::sync::mpsc::unbounded_channel();
    let work = tokio::task::spawn_blocking(move || on_host.deploy(&request, lines));
    // The sender goes with the deployment: this ends when it does.
    while let Some(line) = received.recv().await {
        shared.print(ctx.name, &line);
    }
    let (deployed, state) = work
        .await
        .map_err(|e| format!("the deployment of {label} stopped: {e}"))?
        .map_err(|e| format!("cannot deploy {label} as `{}`: {e}", values.name))?;
    match deployed {
        Deployed::Live(record) => {
            shared.print(ctx.name, &live_line(&label, &record));
            report.deploy_url.clone_from(&record.url);
            let mut outputs = Object::new();
            for (key, value) in [
                ("url", record.url.clone()),
                ("version", record.version.map(|v| v.to_string())),
                ("image", record.image.clone()),
            ] {
                outputs.insert(key, Value::String(value.unwrap_or_default()));
            }
            Ok(outputs)
        }
        Deployed::Refused(record) => Err(refused_sentence(
            &label,
            &values.name,
            &record,
            state.as_ref(),
        )),
    }
}

/// What a deployment opens on its own thread: `crate::deploy::deploy` holds
/// the run store across its awaits, and a store is not shared between
/// threads, so it runs on a runtime of its own with stores of its own.
struct OnHost {
    store: PathBuf,
    secrets: Vec<String>,
    cache: PathBuf,
}

impl OnHost {
    /// Deploys, sending each event's line to `lines`; how it ended, and for
    /// a refusal what serves the deployment now.
    fn deploy(
        self,
        request: &DeployRequest,
        lines: tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<(Deployed, Option<DeploymentState>), String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let mut store = Store::open(&self.store).map_err(|e| e.to_string())?;
        store.set_secrets(self.secrets);
        let cache = crate::cache::Store::open(&self.cache).map_err(|e| {
            format!(
                "cannot open the cache directory {}: {e}",
                self.cache.display()
            )
        })?;
        let mut on_event = |event: &DeployEvent| {
            let _ = lines.send(event.to_string());
        };
        let deployed = runtime
            .block_on(crate::deploy::deploy(
                &mut store,
                &cache,
                request,
                &mut on_event,
            ))
            .map_err(|e| e.to_string())?;
        let state = match &deployed {
            Deployed::Refused(_) => store
                .deployment_history(Some(&request.name))
                .map(|rows| DeploymentState::replay(&rows))
                .ok(),
            Deployed::Live(_) => None,
        };
        Ok((deployed, state))
    }
}

/// `iris@4 is live as `iris` at http://127.0.0.1:8080 (it replaced iris@3)`.
fn live_line(label: &str, record: &DeploymentRecord) -> String {
    let share = match record.canary_percent {
        Some(percent) => format!(" with {percent} % of the requests (a canary)"),
        None => String::new(),
    };
    let place = record
        .url
        .as_deref()
        .map(|u| format!(" at {u}"))
        .unwrap_or_default();
    let replaced = match record.previous_version {
        Some(v) if record.canary_percent.is_some() => format!(" beside {}@{v}", record.model),
        Some(v) => format!(" (it replaced {}@{v})", record.model),
        None => String::new(),
    };
    format!(
        "{label} is live as `{}`{place}{share}{replaced}",
        record.name
    )
}

/// Why the version was refused, and what serves instead.
fn refused_sentence(
    label: &str,
    name: &str,
    record: &DeploymentRecord,
    state: Option<&DeploymentState>,
) -> String {
    let why = if record.message.is_empty() {
        "it failed its health check or smoke test".to_string()
    } else {
        record.message.trim_end_matches('.').to_string()
    };
    let serving: Vec<String> = match state {
        Some(state) => state
            .serving()
            .map(|v| format!("{}@{v}", record.model))
            .collect(),
        None => record
            .previous_version
            .map(|v| format!("{}@{v}", record.model))
            .into_iter()
            .collect(),
    };
    let still = match serving.as_slice() {
        [] => format!("nothing served `{name}` before, so nothing serves it"),
        [one] => format!("{one} still serves `{name}`"),
        many => format!("{} still serve `{name}`", many.join(" and ")),
    };
    format!("{label} was refused: {why}; {still}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{DeployAction, DeployOutcome};

    fn record(outcome: DeployOutcome, previous: Option<i64>, message: &str) -> DeploymentRecord {
        DeploymentRecord {
            id: 0,
            name: "iris".into(),
            target: "docker".into(),
            action: DeployAction::Deploy,
            outcome,
            model: "iris".into(),
            version: Some(4),
            tree_hash: None,
            image: Some("mlci/serve:iris-4".into()),
            image_digest: None,
            url: Some("http://127.0.0.1:8080".into()),
            previous_version: previous,
            canary_percent: None,
            run_id: None,
            sha: None,
            message: message.into(),
            started_at: 0,
            finished_at: 0,
        }
    }

    #[test]
    fn a_refusal_says_why_and_what_still_serves() {
        let refused = record(
            DeployOutcome::Refused,
            Some(3),
            "the smoke test got 500 from /invocations.",
        );
        let state = DeploymentState {
            live: Some(3),
            ..DeploymentState::default()
        };
        assert_eq!(
            refused_sentence("iris@4", "iris", &refused, Some(&state)),
            "iris@4 was refused: the smoke test got 500 from /invocations; iris@3 still serves `iris`"
        );
        assert_eq!(
            refused_sentence(
                "iris@4",
                "iris",
                &record(DeployOutcome::Refused, None, ""),
                None
            ),
            "iris@4 was refused: it failed its health check or smoke test; nothing served `iris` before, so nothing serves it"
        );
        let state = DeploymentState {
            live: Some(3),
            canary: Some((2, 10)),
            ..DeploymentState::default()
        };
        assert!(
            refused_sentence("iris@4", "iris", &refused, Some(&state))
                .ends_with("iris@3 and iris@2 still serve `iris`")
        );
    }

    #[test]
    fn a_live_line_says_where_and_what_it_replaced() {
        let live = record(DeployOutcome::Live, Some(3), "");
        assert_eq!(
            live_line("iris@4", &live),
            "iris@4 is live as `iris` at http://127.0.0.1:8080 (it replaced iris@3)"
        );
        let canary = DeploymentRecord {
            canary_percent: Some(10),
            ..live
        };
        assert_eq!(
            live_line("iris@4", &canary),
            "iris@4 is live as `iris` at http://127.0.0.1:8080 with 10 % of the requests (a canary) beside iris@3"
        );
    }
}
