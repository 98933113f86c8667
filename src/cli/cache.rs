//! `mlci cache ls|gc|rm|push|pull`.

use super::args::{CacheArgs, CacheCommand, CacheOptions};
use super::exit::EXIT_INVALID;
use super::table::{or_dash, plural, table};
use std::process::ExitCode;

pub(super) fn cache(args: CacheArgs) -> ExitCode {
    use crate::cache::{CacheKey, Store, format_age, format_size};
    let dir = args.options.dir();
    let store = match Store::open(&dir) {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "error: cannot open the cache directory {}: {error}",
                dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let entries = match store.list() {
        Ok(entries) => entries,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    // A key typed by the user: a whole key or the unique beginning of one.
    let resolve = |typed: &str| -> Result<CacheKey, String> {
        if entries.iter().any(|e| e.key == typed) {
            return Ok(CacheKey::from_string(typed));
        }
        let matching: Vec<&str> = entries
            .iter()
            .filter(|e| e.key.starts_with(typed))
            .map(|e| e.key.as_str())
            .collect();
        match matching.as_slice() {
            [one] => Ok(CacheKey::from_string(*one)),
            [] => Err(format!(
                "no cache entry has the key `{typed}` (see `mlci cache ls`)"
            )),
            _ => Err(format!(
                "`{typed}` is the beginning of {} keys; give more of it",
                matching.len()
            )),
        }
    };
    match args.command {
        CacheCommand::Ls { json } => {
            let now = crate::cache::now_ms();
            if json {
                let value: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| {
                        serde_json::json!({
                            "key": e.key,
                            "size": e.size(),
                            "files": e.outputs.len(),
                            "created_ms": e.created_ms,
                            "last_used_ms": e.last_used_ms,
                            "hits": e.hits,
                            "workflow": e.made_by.workflow,
                            "job": e.made_by.job,
                            "step": e.made_by.step,
                            "exit_code": e.exit_code,
                            "duration_ms": e.duration_ms,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
                return ExitCode::SUCCESS;
            }
            if entries.is_empty() {
                println!("no cache entries in {}", dir.display());
                return ExitCode::SUCCESS;
            }
            let mut rows = vec![[
                "KEY".to_string(),
                "SIZE".to_string(),
                "AGE".to_string(),
                "USED".to_string(),
                "HITS".to_string(),
                "STEP".to_string(),
            ]];
            for e in &entries {
                let step = [&e.made_by.workflow, &e.made_by.job, &e.made_by.step]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" › ");
                rows.push([
                    CacheKey::from_string(e.key.clone()).short().to_string(),
                    format_size(e.size()),
                    format_age(now.saturating_sub(e.created_ms) / 1000),
                    format!(
                        "{} ago",
                        format_age(now.saturating_sub(e.last_used_ms) / 1000)
                    ),
                    e.hits.to_string(),
                    or_dash(step),
                ]);
            }
            print!("{}", table(&rows));
            let total = store.size().unwrap_or(0);
            println!(
                "{} entr{}, {} on disk (cap {}) in {}",
                entries.len(),
                if entries.len() == 1 { "y" } else { "ies" },
                format_size(total),
                format_size(args.options.cache_max_size),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        CacheCommand::Gc { max_size } => {
            let cap = max_size.unwrap_or(args.options.cache_max_size);
            match store.gc(cap) {
                Ok(report) => {
                    println!(
                        "removed {} entr{} and {} file{}, freed {}; the cache holds {} (cap {})",
                        report.removed_entries.len(),
                        if report.removed_entries.len() == 1 {
                            "y"
                        } else {
                            "ies"
                        },
                        report.removed_objects,
                        plural(report.removed_objects),
                        format_size(report.freed_bytes),
                        format_size(report.size_after),
                        format_size(cap)
                    );
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        CacheCommand::Rm { keys, all } => {
            if all {
                return match store.remove_all() {
                    Ok(count) => {
                        println!(
                            "removed {count} entr{}",
                            if count == 1 { "y" } else { "ies" }
                        );
                        ExitCode::SUCCESS
                    }
                    Err(error) => {
                        eprintln!("error: {error}");
                        ExitCode::FAILURE
                    }
                };
            }
            let mut resolved = Vec::new();
            for typed in &keys {
                match resolve(typed) {
                    Ok(key) => resolved.push(key),
                    Err(message) => {
                        eprintln!("error: {message}");
                        return ExitCode::from(EXIT_INVALID);
                    }
                }
            }
            match store.remove(&resolved) {
                Ok(removed) => {
                    for key in &removed {
                        println!("removed {key}");
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        CacheCommand::Push { keys } => transfer(&store, &args.options, true, keys, &resolve),
        CacheCommand::Pull { keys } => transfer(&store, &args.options, false, keys, &resolve),
    }
}

/// `mlci cache push|pull`.
fn transfer(
    store: &crate::cache::Store,
    options: &CacheOptions,
    push: bool,
    keys: Vec<String>,
    resolve: &dyn Fn(&str) -> Result<crate::cache::CacheKey, String>,
) -> ExitCode {
    use crate::cache::{CacheKey, Remote, RemoteConfig};
    let Some(config) = RemoteConfig::from_arg_or_env(options.cache_remote.as_deref()) else {
        eprintln!(
            "error: no cache remote: give --cache-remote s3://bucket/prefix or set MLCI_CACHE_REMOTE"
        );
        return ExitCode::from(EXIT_INVALID);
    };
    let remote = match Remote::connect(config) {
        Ok(remote) => remote,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut wanted = Vec::new();
    if push {
        for typed in &keys {
            match resolve(typed) {
                Ok(key) => wanted.push(key),
                Err(message) => {
                    eprintln!("error: {message}");
                    return ExitCode::from(EXIT_INVALID);
                }
            }
        }
    } else {
        wanted = keys.into_iter().map(CacheKey::from_string).collect();
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: Result<(usize, usize), crate::cache::remote::RemoteError> =
        runtime.block_on(async {
            if wanted.is_empty() {
                wanted = if push {
                    store.list()?.into_iter().map(|e| e.cache_key()).collect()
                } else {
                    remote
                        .list_keys()
                        .await?
                        .into_iter()
                        .map(CacheKey::from_string)
                        .filter(|k| !store.contains(k))
                        .collect()
                };
            }
            let mut done = 0;
            let mut missing = 0;
            for key in &wanted {
                if push {
                    let stats = remote.push(store, key).await?;
                    println!(
                        "pushed {} ({} file{} sent, {} already there)",
                        key.short(),
                        stats.objects_sent,
                        plural(stats.objects_sent),
                        stats.objects_skipped
                    );
                    done += 1;
                } else if remote.pull(store, key).await?.is_some() {
                    println!("pulled {}", key.short());
                    done += 1;
                } else {
                    eprintln!("warning: the remote has no entry `{key}`");
                    missing += 1;
                }
            }
            Ok((done, missing))
        });
    match result {
        Ok((done, missing)) => {
            println!(
                "{} {done} entr{}",
                if push { "pushed" } else { "pulled" },
                if done == 1 { "y" } else { "ies" }
            );
            if missing > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
