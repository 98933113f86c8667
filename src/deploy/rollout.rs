//! A switch on the Docker target, step by step: green starts beside blue,
//! answers `/ping`, passes its smoke test, the front's routes change, and
//! blue is stopped once no request is in flight to it. Anything that fails
//! before the routes change removes green and leaves blue serving.

use super::docker::{Container, Engine, front_name, upstream};
use super::front::Routes;
use super::image;
use super::model::{MAX_PAYLOAD_BYTES, MlflowModel, read_small};
use super::request::{DeployError, DeployEvent, DeployRequest, Deployed};
use super::switch::{Serving, Slot, Smoke, Switch, judge_smoke};
use crate::record::{
    DeployAction, DeployOutcome, DeploymentRecord, DeploymentState, ModelVersion, Store, now_ms,
};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The port a first deployment's front takes when none is given.
pub const DEFAULT_PORT: u16 = 8080;
/// How long a new version may take to answer `/ping`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(180);
/// How long blue's requests in flight may take to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

pub(super) type Events<'a> = &'a mut (dyn FnMut(&DeployEvent) + Send);

fn say(on_event: &mut (dyn FnMut(&DeployEvent) + Send), line: String) {
    on_event(&DeployEvent::Progress(line));
}

/// What a change of the front needs: the engine, the deployment's front,
/// and what serves now.
struct Place {
    engine: Engine,
    front: String,
    port: u16,
    state: DeploymentState,
    serving: Serving,
    generation: u64,
}

impl Place {
    async fn open(store: &Store, name: &str) -> Result<(Place, Vec<Container>), DeployError> {
        let engine = Engine::connect().await?;
        let history = store
            .deployment_history(Some(name))
            .map_err(|e| DeployError::Failed(e.to_string()))?;
        let state = DeploymentState::replay(&history);
        let containers = engine.containers(name).await?;
        let port = containers
            .iter()
            .find(|c| c.role == "front")
            .and_then(|c| c.port)
            .unwrap_or(DEFAULT_PORT);
        let slot_of = |version: i64| {
            containers
                .iter()
                .rev()
                .find(|c| c.role == "model" && c.version == Some(version) && c.running)
                .map(|c| Slot {
                    version,
                    container: c.name.clone(),
                    upstream: upstream(&c.name),
                })
        };
        let serving = Serving {
            live: state.live.and_then(slot_of),
            canary: state
                .canary
                .and_then(|(version, percent)| Some((slot_of(version)?, percent))),
        };
        let place = Place {
            front: front_name(name),
            port,
            generation: history.len() as u64 + 1,
            engine,
            state,
            serving,
        };
        Ok((place, containers))
    }

    /// Moves the front to `switch`'s routes, then stops what it retires
    /// once nothing is in flight to it.
    async fn apply(&self, switch: &Switch, on_event: Events<'_>) -> Result<(), DeployError> {
        let routes = Routes {
            generation: self.generation,
            routes: switch.routes.clone(),
            sample: 1.0,
        };
        self.engine.set_routes(&self.front, &routes).await?;
        let shares: Vec<String> = switch
            .routes
            .iter()
            .map(|r| format!("v{} {} %", r.version, r.weight))
            .collect();
        say(
            on_event,
            format!("the front now sends {}", shares.join(", ")),
        );
        if let Some(slot) = &switch.after.live {
            self.engine.keep_running(&slot.container).await;
        }
        for slot in &switch.retire {
            self.drain(&slot.upstream).await;
            self.engine.remove(&slot.container).await;
            say(
                on_event,
                format!("v{} stopped ({})", slot.version, slot.container),
            );
        }
        Ok(())
    }

    async fn drain(&self, upstream: &str) {
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while Instant::now() < deadline {
            let in_flight = self
                .engine
                .front_state(&self.front)
                .await
                .ok()
                .and_then(|state| state["upstreams"][upstream]["in_flight"].as_u64());
            if in_flight.unwrap_or(0) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn row(&self, name: &str, action: DeployAction, model: &str) -> DeploymentRecord {
        let mut row = DeploymentRecord::new(name, "docker", action, model);
        row.url = Some(self.url());
        row.previous_version = self.state.live;
        row
    }
}

pub(super) fn record(
    store: &mut Store,
    mut row: DeploymentRecord,
) -> Result<DeploymentRecord, DeployError> {
    row.finished_at = now_ms();
    row.id = store
        .record_deployment(&row)
        .map_err(|e| DeployError::Failed(e.to_string()))?;
    Ok(row)
}

/// A version's files, restored from its cache entry into a temporary
/// directory (gone with the returned handle), read as an MLflow model.
pub(super) fn checkout(
    cache: &crate::cache::Store,
    version: &ModelVersion,
) -> Result<(tempfile::TempDir, MlflowModel), DeployError> {
    let staging = tempfile::tempdir().map_err(|e| DeployError::Failed(e.to_string()))?;
    let dir = restore_model(cache, version, staging.path())?;
    let model = MlflowModel::read(&dir).map_err(|e| match e {
        DeployError::Invalid(why) => DeployError::Invalid(format!("{}: {why}", version.label())),
        other => other,
    })?;
    Ok((staging, model))
}

/// A version's files, restored from its cache entry into `into`.
fn restore_model(
    cache: &crate::cache::Store,
    version: &ModelVersion,
    into: &Path,
) -> Result<PathBuf, DeployError> {
    let key = crate::cache::CacheKey::from_string(version.entry_key.clone());
    let entry = cache.lookup(&key).ok_or_else(|| {
        DeployError::Failed(format!(
            "the files of {} are not in the cache ({}): pull them with `mlci models pull` or --cache-remote",
            version.label(),
            version.entry_key
        ))
    })?;
    if entry.outputs.hash() != version.tree_hash {
        return Err(DeployError::Invalid(format!(
            "the files of {} in the cache are not the ones it was registered with",
            version.label()
        )));
    }
    cache
        .restore(&entry, into)
        .map_err(|e| DeployError::Failed(e.to_string()))?;
    let dir = crate::confine::resolve(into, &version.path, "the model's files").map_err(|e| {
        DeployError::Invalid(format!(
            "the registry record of {} is unsafe: {e}",
            version.label()
        ))
    })?;
    Ok(dir)
}

/// A first deployment's port must be free: checked here, before the build,
/// where the engine publishes ports (a local engine, Docker Desktop); the
/// engine's own refusal when it starts the front says the same.
fn port_is_free(port: u16) -> Result<(), DeployError> {
    if port == 0 {
        return Err(DeployError::Invalid(
            "--port 0: name the port to serve on".into(),
        ));
    }
    match std::net::TcpListener::bind(("0.0.0.0", port)) {
        Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => Err(DeployError::Invalid(
            format!("port {port} is in use by another program: pick a free one with --port"),
        )),
        _ => Ok(()),
    }
}

/// A JSON file given on the command line.
fn json_file(path: &Path, what: &str) -> Result<serde_json::Value, DeployError> {
    let text = read_small(path)
        .map_err(|reason| DeployError::Invalid(format!("{what} {}: {reason}", path.display())))?;
    if text.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(DeployError::Invalid(format!(
            "{what} {} is larger than 16 MiB",
            path.display()
        )));
    }
    serde_json::from_str(&text)
        .map_err(|e| DeployError::Invalid(format!("{what} {} is not JSON: {e}", path.display())))
}

/// The Docker target's `deploy` (and rollback to an earlier version, which
/// is a deploy of it with `action` Rollback).
pub(super) async fn deploy(
    store: &mut Store,
    cache: &crate::cache::Store,
    request: &DeployRequest,
    action: DeployAction,
    on_event: Events<'_>,
) -> Result<Deployed, DeployError> {
    let name = request.name.as_str();
    let version = &request.version;
    let (place, containers) = Place::open(store, name).await?;
    let front_exists = containers.iter().any(|c| c.role == "front");
    if let (Some(asked), true) = (request.port, front_exists)
        && asked != place.port
    {
        return Err(DeployError::Invalid(format!(
            "deployment `{name}` serves on port {}, not {asked}: deploy without --port, or `mlci deploy rm {name}` first",
            place.port
        )));
    }
    if place.serving.live.as_ref().map(|s| s.version) == Some(version.version)
        && place.serving.canary.is_none()
        && request.canary.is_none()
    {
        return Err(DeployError::Invalid(format!(
            "{} is live already on `{name}`",
            version.label()
        )));
    }
    let port = request.port.unwrap_or(place.port);
    if !front_exists {
        port_is_free(port)?;
    }
    // The smoke payload and the expected answer: bad files are bad input, before anything starts.
    let given_smoke = request
        .smoke
        .as_deref()
        .map(|p| json_file(p, "the smoke payload"))
        .transpose()?;
    let expect = request
        .expect
        .as_deref()
        .map(|p| json_file(p, "the expected predictions"))
        .transpose()?;

    let (_staging, model) = checkout(cache, version)?;
    let smoke = match (&given_smoke, &model.serving_example) {
        (Some(payload), _) => Some(payload.clone()),
        (None, Some(path)) => Some(json_file(path, "the model's serving example")?),
        (None, None) => None,
    };

    let started = Instant::now();
    let engine = &place.engine;
    let mut build_line = |line: &str| {
        let line = line.trim();
        if line.starts_with("Step ") || line.starts_with("Successfully tagged") {
            on_event(&DeployEvent::Progress(format!("  {line}")));
        }
    };
    let environment = image::environment(engine.backend_ref(), &model, &mut build_line).await?;
    say(
        on_event,
        format!(
            "serving environment {} ({}) in {:.1} s",
            environment.tag,
            if environment.reused {
                "reused"
            } else {
                "built"
            },
            started.elapsed().as_secs_f64()
        ),
    );
    if !front_exists {
        let front_image = image::front(engine.backend_ref(), &mut |_| {}).await?;
        engine
            .start_front(name, port, &front_image.tag, &Routes::default())
            .await?;
        say(on_event, format!("front listening on port {port}"));
    } else if !containers.iter().any(|c| c.role == "front" && c.running) {
        engine.start_existing(&place.front).await?;
    }

    let mut row = place.row(name, action, &version.name);
    row.version = Some(version.version);
    row.tree_hash = Some(version.tree_hash.clone());
    row.image = Some(environment.tag.clone());
    row.image_digest = Some(environment.id.clone());
    row.run_id = request.run_id;
    row.sha = request.sha.clone();
    row.canary_percent = request.canary;
    row.url = Some(format!("http://127.0.0.1:{port}"));
    if request.canary.is_some() {
        row.action = DeployAction::Canary;
    }

    let green = engine
        .start_version(name, &environment.tag, version.version, &model.dir)
        .await?;
    say(on_event, format!("{} starting as {green}", version.label()));
    let refuse = |mut row: DeploymentRecord, store: &mut Store, why: String| {
        row.outcome = DeployOutcome::Refused;
        row.message = why;
        record(store, row).map(Deployed::Refused)
    };
    if let Err(why) = wait_healthy(engine, &place.front, &green, started, on_event).await {
        engine.remove(&green).await;
        return refuse(row, store, why);
    }
    if let Some(payload) = &smoke {
        let file = format!("/tmp/mlci-smoke-{green}.json");
        let bytes = serde_json::to_vec(payload).map_err(|e| DeployError::Failed(e.to_string()))?;
        engine.upload(&place.front, &file, &bytes).await?;
        let answer = engine
            .probe(
                &place.front,
                &format!("http://{}/invocations", upstream(&green)),
                Some(&file),
                60,
            )
            .await?;
        match judge_smoke(answer.status, &answer.body, expect.as_ref()) {
            Smoke::Passed { predictions } => {
                say(
                    on_event,
                    format!("smoke test passed: predictions {predictions}"),
                );
            }
            Smoke::Rejected(why) if given_smoke.is_some() => {
                engine.remove(&green).await;
                let message = format!(
                    "the model rejected the smoke payload {}: {why}",
                    request.smoke.as_deref().unwrap_or(Path::new("")).display()
                );
                refuse(row, store, message.clone())?;
                return Err(DeployError::Invalid(message));
            }
            Smoke::Rejected(why) | Smoke::Failed(why) => {
                engine.remove(&green).await;
                return refuse(row, store, format!("smoke test failed: {why}"));
            }
        }
    } else {
        say(
            on_event,
            "no serving_input_example.json and no --smoke: only /ping was checked".into(),
        );
    }

    let slot = Slot {
        version: version.version,
        container: green.clone(),
        upstream: upstream(&green),
    };
    let switch = match place.serving.switch_to(slot, request.canary) {
        Ok(switch) => switch,
        Err(why) => {
            engine.remove(&green).await;
            return Err(DeployError::Invalid(why));
        }
    };
    if let Err(error) = place.apply(&switch, on_event).await {
        engine.remove(&green).await;
        return Err(error);
    }
    row.message = match (&place.serving.live, request.canary) {
        (Some(live), Some(percent)) => {
            format!("canary: {percent} % of requests, beside v{}", live.version)
        }
        (Some(live), None) => format!("replaced v{}", live.version),
        (None, _) => "first version".into(),
    };
    say(
        on_event,
        format!(
            "{} is live on {} after {:.1} s",
            version.label(),
            row.url.as_deref().unwrap_or(""),
            started.elapsed().as_secs_f64()
        ),
    );
    record(store, row).map(Deployed::Live)
}

/// Waits for `/ping` to answer 200 from green, through the front's network.
async fn wait_healthy(
    engine: &Engine,
    front: &str,
    green: &str,
    started: Instant,
    on_event: Events<'_>,
) -> Result<(), String> {
    let deadline = Instant::now() + HEALTH_TIMEOUT;
    let url = format!("http://{}/ping", upstream(green));
    loop {
        if let Some((code, log)) = engine.exited(green).await {
            return Err(format!(
                "the model server exited with code {code} before it answered /ping; its last lines:\n{log}"
            ));
        }
        match engine.probe(front, &url, None, 2).await {
            Ok(probe) if probe.status == Some(200) => {
                say(
                    on_event,
                    format!("healthy after {:.1} s", started.elapsed().as_secs_f64()),
                );
                return Ok(());
            }
            Ok(_) => {}
            Err(error) => return Err(error.to_string()),
        }
        if Instant::now() > deadline {
            let log = engine.log_tail(green, 30).await;
            return Err(format!(
                "the model server did not answer /ping within {} s; its last lines:\n{log}",
                HEALTH_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The canary takes all traffic.
pub(super) async fn promote(
    store: &mut Store,
    name: &str,
    on_event: Events<'_>,
) -> Result<DeploymentRecord, DeployError> {
    let (place, _) = Place::open(store, name).await?;
    let switch = place.serving.promote().map_err(DeployError::Invalid)?;
    place.apply(&switch, on_event).await?;
    let mut row = place.row(name, DeployAction::Promote, &place.state.model);
    let promoted = switch.after.live.as_ref().map(|s| s.version);
    row.version = promoted;
    row.image = place.state.image.clone();
    row.message = format!(
        "v{} takes all traffic, replacing v{}",
        promoted.unwrap_or_default(),
        place.state.live.unwrap_or_default()
    );
    // The canary's image, from its own row.
    if let Ok(history) = store.deployment_history(Some(name))
        && let Some(canary_row) = history
            .iter()
            .rev()
            .find(|r| r.action == DeployAction::Canary && r.version == promoted)
    {
        row.image.clone_from(&canary_row.image);
        row.image_digest.clone_from(&canary_row.image_digest);
        row.tree_hash.clone_from(&canary_row.tree_hash);
    }
    record(store, row)
}

/// During a canary: the live version takes all traffic back.
pub(super) async fn drop_canary(
    store: &mut Store,
    name: &str,
    on_event: Events<'_>,
) -> Result<Option<DeploymentRecord>, DeployError> {
    let (place, _) = Place::open(store, name).await?;
    if place.serving.canary.is_none() {
        return Ok(None);
    }
    let switch = place.serving.drop_canary().map_err(DeployError::Invalid)?;
    place.apply(&switch, on_event).await?;
    let mut row = place.row(name, DeployAction::Rollback, &place.state.model);
    row.version = place.state.live;
    row.image = place.state.image.clone();
    row.image_digest = place.state.image_digest.clone();
    row.message = format!(
        "canary v{} dropped; v{} takes all traffic",
        place.state.canary.map(|c| c.0).unwrap_or_default(),
        place.state.live.unwrap_or_default()
    );
    record(store, row).map(Some)
}

/// Removes every container and the network of the deployment.
pub(super) async fn remove(
    store: &mut Store,
    name: &str,
    on_event: Events<'_>,
) -> Result<DeploymentRecord, DeployError> {
    let (place, containers) = Place::open(store, name).await?;
    if containers.is_empty() && (place.state.removed || place.state.name.is_empty()) {
        return Err(DeployError::Invalid(format!(
            "no deployment `{name}` (see `mlci deployments ls`)"
        )));
    }
    // The front goes first: no request reaches a server being stopped.
    let mut ordered = containers.clone();
    ordered.sort_by_key(|c| c.role != "front");
    for container in &ordered {
        place.engine.remove(&container.name).await;
        say(on_event, format!("removed {}", container.name));
    }
    place.engine.remove_network(name).await;
    let left = place.engine.containers(name).await?;
    if !left.is_empty() {
        return Err(DeployError::Failed(format!(
            "{} containers of `{name}` are still there",
            left.len()
        )));
    }
    let mut row = place.row(name, DeployAction::Remove, &place.state.model);
    row.outcome = DeployOutcome::Removed;
    row.version = place.state.live;
    row.message = format!("removed {} containers", containers.len());
    record(store, row)
}
