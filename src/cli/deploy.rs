//! `mlci deploy`, `mlci deployments` and the hidden `mlci __deploy-front`:
//! resolve what a person typed, call `deploy`, print, pick the exit code.

use super::args::{DeployArgs, DeployCommand, DeployFrontArgs, DeployTarget, DeploymentsCommand};
use super::exit::{fail, invalid};
use super::table::{or_dash, table};
use crate::cache::{CacheKey, Remote, RemoteConfig};
use crate::deploy::{DeployError, DeployEvent, DeployRequest, Deployed, TargetKind};
use crate::record::{DeploymentRecord, DeploymentState, Store, format_time};
use crate::registry::ModelRef;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the async runtime: {e}")))
}

/// A `DeployError` stops before anything switched: exit 2, as bad input.
fn stopped(error: DeployError) -> ExitCode {
    invalid(error)
}

fn open_store(db: Option<&Path>) -> Result<Store, ExitCode> {
    let path = crate::record::default_path(Path::new("."), db);
    Store::open(&path).map_err(fail)
}

fn print_event(event: &DeployEvent) {
    eprintln!("deploy: {event}");
}

pub(super) fn deploy(args: DeployArgs) -> ExitCode {
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    runtime.block_on(run(args))
}

async fn run(args: DeployArgs) -> ExitCode {
    let mut store = match open_store(args.db.as_deref()) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let cache_dir = args.cache.dir();
    let cache = match crate::cache::Store::open(&cache_dir) {
        Ok(cache) => cache,
        Err(e) => {
            return fail(format!(
                "cannot open the cache directory {}: {e}",
                cache_dir.display()
            ));
        }
    };
    let on_event = &mut |event: &DeployEvent| print_event(event);
    match args.command {
        Some(DeployCommand::Rollback { name, to }) => {
            let outcome = crate::deploy::rollback(&mut store, &cache, &name, to, on_event).await;
            finish(outcome)
        }
        Some(DeployCommand::Promote { name }) => {
            match crate::deploy::promote(&mut store, &name, on_event).await {
                Ok(row) => {
                    println!("{name}: {}", row.message);
                    ExitCode::SUCCESS
                }
                Err(error) => stopped(error),
            }
        }
        Some(DeployCommand::Rm { name }) => {
            match crate::deploy::remove(&mut store, &name, on_event).await {
                Ok(row) => {
                    println!("{name}: {}", row.message);
                    ExitCode::SUCCESS
                }
                Err(error) => stopped(error),
            }
        }
        None => deploy_model(args, &mut store, &cache).await,
    }
}

async fn deploy_model(
    args: DeployArgs,
    store: &mut Store,
    cache: &crate::cache::Store,
) -> ExitCode {
    let Some(model) = args.model.as_deref() else {
        return invalid(
            "name the model to deploy: mlci deploy NAME[@VERSION|:ALIAS] --name DEPLOYMENT",
        );
    };
    let reference = match ModelRef::parse(model) {
        Ok(reference) => reference,
        Err(error) => return invalid(error),
    };
    let remote = match args.cache.cache_remote.as_deref() {
        None => None,
        Some(url) => match Remote::connect(RemoteConfig::new(url)) {
            Ok(remote) => Some(remote),
            Err(error) => return fail(format!("the remote {url} cannot be used: {error}")),
        },
    };
    let version = match crate::registry::resolve(store, &reference, remote.as_ref()).await {
        Ok(version) => version,
        Err(error) => return invalid(error),
    };
    if let Some(remote) = &remote {
        let key = CacheKey::from_string(version.entry_key.clone());
        if cache.lookup(&key).is_none()
            && let Err(error) = remote.pull(cache, &key).await
        {
            return fail(error);
        }
    }
    let name = args.name.clone().unwrap_or_else(|| version.name.clone());
    let request = DeployRequest {
        name,
        version,
        target: match args.target {
            DeployTarget::Docker => TargetKind::Docker,
            DeployTarget::K8s => TargetKind::K8s,
        },
        port: args.port,
        smoke: args.smoke.clone(),
        expect: args.expect.clone(),
        canary: args.canary,
        kube: crate::deploy::KubeOptions {
            namespace: args.namespace.clone(),
            replicas: args.replicas,
            registry: args.registry.clone(),
        },
        run_id: None,
        sha: None,
    };
    if args.dry_run {
        if request.target != TargetKind::K8s {
            return invalid("--dry-run prints the Kubernetes manifests: add --target k8s");
        }
        return match crate::deploy::kube_serving(&request) {
            Ok(serving) if args.kserve => {
                print!("{}", crate::deploy::k8s::inference_service(&serving));
                ExitCode::SUCCESS
            }
            Ok(serving) => {
                print!("{}", crate::deploy::k8s::manifests(&serving));
                ExitCode::SUCCESS
            }
            Err(error) => stopped(error),
        };
    }
    let on_event = &mut |event: &DeployEvent| print_event(event);
    finish(crate::deploy::deploy(store, cache, &request, on_event).await)
}

fn finish(outcome: Result<Deployed, DeployError>) -> ExitCode {
    match outcome {
        Ok(Deployed::Live(row)) => {
            println!(
                "{}: {}@{} is live on {} ({})",
                row.name,
                row.model,
                row.version.unwrap_or_default(),
                row.url.as_deref().unwrap_or("-"),
                row.message
            );
            ExitCode::SUCCESS
        }
        Ok(Deployed::Refused(row)) => {
            eprintln!(
                "error: {}@{} was refused: {}",
                row.model,
                row.version.unwrap_or_default(),
                row.message
            );
            match row.previous_version {
                Some(previous) => eprintln!("v{previous} still serves {}", row.name),
                None => eprintln!(
                    "nothing was serving `{}` before; nothing serves it now",
                    row.name
                ),
            }
            ExitCode::FAILURE
        }
        Err(error) => stopped(error),
    }
}

pub(super) fn deployments(command: DeploymentsCommand) -> ExitCode {
    match command {
        DeploymentsCommand::Ls { all, json, db } => {
            let store = match open_store(db.as_deref()) {
                Ok(store) => store,
                Err(code) => return code,
            };
            let (states, history) = match store
                .deployment_states()
                .and_then(|s| Ok((s, store.deployment_history(None)?)))
            {
                Ok(found) => found,
                Err(error) => return fail(error),
            };
            if json {
                let listed: Vec<serde_json::Value> = states
                    .iter()
                    .map(|state| state_json(state, history.iter().filter(|r| r.name == state.name)))
                    .collect();
                println!("{}", serde_json::Value::Array(listed));
                return ExitCode::SUCCESS;
            }
            let shown: Vec<&DeploymentState> =
                states.iter().filter(|s| all || !s.removed).collect();
            if shown.is_empty() {
                println!("no deployments (mlci deploy MODEL --name NAME makes one)");
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![
                ["NAME", "TARGET", "MODEL", "LIVE", "CANARY", "URL", "SINCE"].map(String::from),
            ];
            for state in shown {
                rows.push(state_row(state));
            }
            print!("{}", table(&rows));
            ExitCode::SUCCESS
        }
        DeploymentsCommand::Show { name, json, db } => {
            let store = match open_store(db.as_deref()) {
                Ok(store) => store,
                Err(code) => return code,
            };
            let history = match store.deployment_history(Some(&name)) {
                Ok(history) => history,
                Err(error) => return fail(error),
            };
            if history.is_empty() {
                return invalid(format!(
                    "no deployment `{name}` (see `mlci deployments ls`)"
                ));
            }
            let state = DeploymentState::replay(&history);
            if json {
                println!("{}", state_json(&state, history.iter()));
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![
                ["NAME", "TARGET", "MODEL", "LIVE", "CANARY", "URL", "SINCE"].map(String::from),
            ];
            rows.push(state_row(&state));
            print!("{}", table(&rows));
            println!();
            let mut rows = vec![
                [
                    "WHEN", "ACTION", "VERSION", "OUTCOME", "IMAGE", "RUN", "MESSAGE",
                ]
                .map(String::from),
            ];
            for row in &history {
                rows.push([
                    format_time(row.finished_at),
                    row.action.as_str().to_string(),
                    row.version.map(|v| format!("v{v}")).unwrap_or_default(),
                    row.outcome.as_str().to_string(),
                    or_dash(row.image.clone().unwrap_or_default()),
                    or_dash(row.run_id.map(|r| r.to_string()).unwrap_or_default()),
                    row.message.lines().next().unwrap_or("").to_string(),
                ]);
            }
            print!("{}", table(&rows));
            ExitCode::SUCCESS
        }
    }
}

fn state_row(state: &DeploymentState) -> [String; 7] {
    [
        state.name.clone(),
        state.target.clone(),
        state.model.clone(),
        if state.removed {
            "removed".into()
        } else {
            or_dash(state.live.map(|v| format!("v{v}")).unwrap_or_default())
        },
        or_dash(
            state
                .canary
                .map(|(v, p)| format!("v{v} ({p} %)"))
                .unwrap_or_default(),
        ),
        or_dash(state.url.clone().unwrap_or_default()),
        or_dash(state.since.map(format_time).unwrap_or_default()),
    ]
}

fn state_json<'a>(
    state: &DeploymentState,
    history: impl Iterator<Item = &'a DeploymentRecord>,
) -> serde_json::Value {
    let mut value = serde_json::to_value(state).unwrap_or_default();
    value["canary"] = match state.canary {
        Some((version, percent)) => serde_json::json!({"version": version, "percent": percent}),
        None => serde_json::Value::Null,
    };
    value["history"] = serde_json::to_value(history.collect::<Vec<_>>()).unwrap_or_default();
    value
}

pub(super) fn front(args: DeployFrontArgs) -> ExitCode {
    let initial = match args.routes.as_deref().map(serde_json::from_str).transpose() {
        Ok(routes) => routes.unwrap_or_default(),
        Err(error) => return invalid(format!("--routes: {error}")),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(code) => return code,
    };
    let options = crate::deploy::front::FrontOptions {
        listen: args.listen,
        control: args.control,
        state_dir: PathBuf::from(&args.state),
        initial,
    };
    match runtime.block_on(crate::deploy::front::serve(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(format!("the front stopped: {error}")),
    }
}
