//! `mlci models register|ls|show|pull|alias`: the model registry.

use super::args::{ModelsArgs, ModelsCommand};
use super::exit::{fail, invalid};
use super::table::table;
use crate::cache::{Remote, RemoteConfig, format_size};
use crate::metrics::format_number;
use crate::record::{ModelVersion, Store, format_time, now_ms};
use crate::registry::{ModelRef, Pick};
use std::path::Path;
use std::process::ExitCode;

pub(super) fn models(args: ModelsArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    runtime.block_on(run(args))
}

async fn run(args: ModelsArgs) -> ExitCode {
    let db = crate::record::default_path(Path::new("."), args.db.as_deref());
    let mut store = match Store::open(&db) {
        Ok(store) => store,
        Err(error) => return fail(error),
    };
    let remote = match args.cache.cache_remote.as_deref() {
        None => None,
        Some(url) => match Remote::connect(RemoteConfig::new(url)) {
            Ok(remote) => Some(remote),
            Err(error) => return fail(format!("the remote {url} cannot be used: {error}")),
        },
    };
    let remote = remote.as_ref();
    let open_cache = || {
        let dir = args.cache.dir();
        crate::cache::Store::open(&dir)
            .map_err(|e| format!("cannot open the cache directory {}: {e}", dir.display()))
    };
    match args.command {
        ModelsCommand::Register {
            name,
            path,
            alias,
            metrics,
            params,
        } => {
            if !crate::workflow::is_registry_name(&name)
                || alias
                    .as_deref()
                    .is_some_and(|a| !crate::workflow::is_registry_name(a))
            {
                return invalid(
                    "names and aliases use letters, digits, `.`, `-` and `_`, starting with a letter",
                );
            }
            let stored = open_cache()
                .map_err(crate::registry::FilesError::from)
                .and_then(|cache| {
                    crate::registry::store_path(&cache, &name, &path).map(|v| (v, cache))
                });
            let mut version = match stored {
                Ok((version, cache)) => {
                    if let Some(remote) = remote
                        && let Err(error) = remote
                            .push(
                                &cache,
                                &crate::cache::CacheKey::from_string(version.entry_key.clone()),
                            )
                            .await
                    {
                        return fail(error);
                    }
                    version
                }
                Err(crate::registry::FilesError::Unsafe(error)) => return invalid(error),
                Err(error) => return fail(error),
            };
            for pair in &metrics {
                match pair
                    .split_once('=')
                    .and_then(|(k, v)| Some((k, v.trim().parse::<f64>().ok()?)))
                {
                    Some((k, v)) => {
                        version.metrics.insert(k.trim().to_string(), v);
                    }
                    None => return invalid(format!("--metric {pair}: expected NAME=NUMBER")),
                }
            }
            for pair in &params {
                match pair.split_once('=') {
                    Some((k, v)) => {
                        version.params.insert(k.trim().to_string(), v.to_string());
                    }
                    None => return invalid(format!("--param {pair}: expected NAME=VALUE")),
                }
            }
            if let Some(remote) = remote
                && let Err(error) = crate::registry::sync(remote, &mut store, &name).await
            {
                return fail(error);
            }
            let registration =
                match crate::registry::register(&mut store, &version, alias.as_deref(), None, None)
                {
                    Ok(registration) => registration,
                    Err(error) => return fail(error),
                };
            let label = format!("{name}@{}", registration.version);
            if registration.existing {
                println!("{label} has this content already");
            } else {
                println!("registered {label} ({})", format_size(version.size));
            }
            if let Some(alias) = &alias {
                println!("{name}:{alias} → {label}");
            }
            if let Some(remote) = remote {
                let registered = ModelVersion {
                    version: registration.version,
                    ..version
                };
                for warning in
                    crate::registry::publish(remote, &registered, alias.as_deref(), &registration)
                        .await
                {
                    eprintln!("warning: {warning}");
                }
            }
            ExitCode::SUCCESS
        }
        ModelsCommand::Ls { name, json } => {
            if let (Some(name), Some(remote)) = (&name, remote)
                && let Err(error) = crate::registry::sync(remote, &mut store, name).await
            {
                return fail(error);
            }
            let versions = match store.model_versions(name.as_deref()) {
                Ok(versions) => versions,
                Err(error) => return fail(error),
            };
            if json {
                let list: Vec<serde_json::Value> =
                    versions.iter().map(|v| version_json(&store, v)).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            if versions.is_empty() {
                println!(
                    "no model is registered yet: add `register: {{name, path}}` to a step, or run `mlci models register NAME PATH`"
                );
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![
                [
                    "MODEL",
                    "VERSION",
                    "ALIASES",
                    "SIZE",
                    "RUN",
                    "COMMIT",
                    "REGISTERED",
                    "METRICS",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for v in &versions {
                rows.push(vec![
                    v.name.clone(),
                    v.version.to_string(),
                    aliases_of(&store, v).join(","),
                    format_size(v.size),
                    v.run_id
                        .map(|r| format!("#{r}"))
                        .unwrap_or_else(|| v.origin.clone()),
                    v.sha
                        .as_deref()
                        .map(|s| s[..s.len().min(7)].to_string())
                        .unwrap_or_default(),
                    format_time(v.created_at),
                    metrics_text(v),
                ]);
            }
            print!("{}", table(&rows));
            ExitCode::SUCCESS
        }
        ModelsCommand::Show { model, json } => {
            let version = match find(&mut store, &model, remote).await {
                Ok(version) => version,
                Err(code) => return code,
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&version_json(&store, &version))
                        .unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            print!("{}", show_text(&store, &version));
            ExitCode::SUCCESS
        }
        ModelsCommand::Pull { model, dest } => {
            let version = match find(&mut store, &model, remote).await {
                Ok(version) => version,
                Err(code) => return code,
            };
            let cache = match open_cache() {
                Ok(cache) => cache,
                Err(error) => return fail(error),
            };
            // What pulls and runs killed earlier left half-written.
            cache.remove_stale_temp();
            match crate::registry::pull(&cache, remote, &version, dest.as_deref()).await {
                Ok(written) => {
                    println!(
                        "{} ({}, {}) → {}",
                        version.label(),
                        format_size(version.size),
                        &version.tree_hash[..12.min(version.tree_hash.len())],
                        written.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(crate::registry::FilesError::Unsafe(error)) => invalid(error),
                Err(error) => fail(error),
            }
        }
        ModelsCommand::Alias { model, alias } => {
            let reference = match ModelRef::parse(&model) {
                Ok(reference) => reference,
                Err(error) => return invalid(error),
            };
            if !matches!(reference.pick, Pick::Version(_)) {
                return invalid(format!(
                    "`{model}`: name the version the alias moves to, as NAME@VERSION"
                ));
            }
            if !crate::workflow::is_registry_name(&alias) {
                return invalid(format!(
                    "invalid alias `{alias}`: use letters, digits, `.`, `-` and `_`, starting with a letter"
                ));
            }
            let version = match crate::registry::resolve(&mut store, &reference, remote).await {
                Ok(version) => version,
                Err(error) => return fail(error),
            };
            let now = now_ms();
            let previous = match store.move_alias(
                &version.name,
                &alias,
                version.version,
                now,
                "mlci models alias",
            ) {
                Ok(previous) => previous,
                Err(error) => return fail(error),
            };
            if let Some(remote) = remote
                && let Err(error) = crate::registry::publish_alias(
                    remote,
                    &version.name,
                    &alias,
                    version.version,
                    previous,
                    now,
                    "mlci models alias",
                )
                .await
            {
                return fail(error);
            }
            match previous {
                Some(p) if p != version.version => {
                    println!("{}:{alias} → {} (was @{p})", version.name, version.label())
                }
                _ => println!("{}:{alias} → {}", version.name, version.label()),
            }
            ExitCode::SUCCESS
        }
    }
}

/// The version that `model` (NAME, NAME@VERSION, NAME:ALIAS) names; exit 2
/// when it is no such thing, 1 when the registry has no such version.
async fn find(
    store: &mut Store,
    model: &str,
    remote: Option<&Remote>,
) -> Result<ModelVersion, ExitCode> {
    let reference = ModelRef::parse(model).map_err(invalid)?;
    crate::registry::resolve(store, &reference, remote)
        .await
        .map_err(fail)
}

fn aliases_of(store: &Store, version: &ModelVersion) -> Vec<String> {
    store
        .aliases(&version.name)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| *v == version.version)
        .map(|(a, _)| a)
        .collect()
}

fn metrics_text(version: &ModelVersion) -> String {
    version
        .metrics
        .iter()
        .map(|(k, v)| format!("{k}={}", format_number(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn version_json(store: &Store, version: &ModelVersion) -> serde_json::Value {
    let mut value = serde_json::to_value(version).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "aliases".into(),
            serde_json::json!(aliases_of(store, version)),
        );
        let history: Vec<serde_json::Value> = store
            .alias_history(&version.name)
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                serde_json::json!({
                    "alias": e.alias, "version": e.version, "previous": e.previous,
                    "set_at": e.set_at, "run_id": e.run_id, "reason": e.reason,
                })
            })
            .collect();
        object.insert("alias_history".into(), serde_json::Value::Array(history));
    }
    value
}

fn show_text(store: &Store, v: &ModelVersion) -> String {
    let mut out = format!("{}  {}\n", v.label(), aliases_of(store, v).join(", "));
    out.push_str(&format!(
        "  files     {} ({}), content {}\n",
        v.path,
        format_size(v.size),
        v.tree_hash
    ));
    match (v.run_id, &v.job) {
        (Some(run), Some(job)) => out.push_str(&format!(
            "  made by   run #{run} · {} · {job} › {}\n",
            v.workflow.as_deref().unwrap_or_default(),
            v.step_name.as_deref().unwrap_or_default()
        )),
        _ => out.push_str(&format!("  made by   {}\n", v.origin)),
    }
    if let Some(sha) = &v.sha {
        out.push_str(&format!("  commit    {sha}\n"));
    }
    out.push_str(&format!("  created   {}\n", format_time(v.created_at)));
    if !v.metrics.is_empty() {
        out.push_str(&format!("  metrics   {}\n", metrics_text(v)));
    }
    if !v.params.is_empty() {
        let params: Vec<String> = v.params.iter().map(|(k, p)| format!("{k}={p}")).collect();
        out.push_str(&format!("  params    {}\n", params.join(" ")));
    }
    let history = store.alias_history(&v.name).unwrap_or_default();
    if !history.is_empty() {
        out.push_str("  aliases of this model, oldest first:\n");
        for event in history {
            let from = event
                .previous
                .map(|p| format!(" (was @{p})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "    {}  {} → @{}{from}  {}\n",
                format_time(event.set_at),
                event.alias,
                event.version,
                event.reason
            ));
        }
    }
    out.push_str(&format!("  lineage   mlci lineage {}\n", v.label()));
    out
}
