//! The front's log of served predictions, for monitoring: one JSON line per
//! sampled request to `/invocations` (its time, version, status, latency,
//! request and answer), appended by a task of its own so that a slow disk
//! never holds up a request (a full queue drops the line and counts it), and
//! kept within `MAX_LOG_BYTES` by moving the file to `.1` when it is full.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// The log's file name, in the front's state directory.
pub const REQUEST_LOG: &str = "requests.jsonl";
/// A log this large moves to `requests.jsonl.1` (the previous `.1` is dropped).
pub const MAX_LOG_BYTES: u64 = 64 << 20;
/// A request or answer body larger than this is logged as its size only.
const MAX_BODY_LOGGED: usize = 256 << 10;
const QUEUE: usize = 4096;

/// One served request.
pub struct Served<'a> {
    pub version: i64,
    pub status: u16,
    pub latency_ms: f64,
    pub request: &'a [u8],
    pub response: &'a [u8],
}

/// Where the proxy hands lines to the writer task.
pub struct RequestLog {
    sender: mpsc::Sender<String>,
    pub written: AtomicU64,
    pub dropped: AtomicU64,
}

impl RequestLog {
    /// Starts the writer task appending to `dir/requests.jsonl`.
    pub fn start(dir: &Path) -> std::sync::Arc<RequestLog> {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let log = std::sync::Arc::new(RequestLog {
            sender,
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        });
        let path = dir.join(REQUEST_LOG);
        tokio::spawn(write_lines(path, receiver, log.clone()));
        log
    }

    pub fn record(&self, served: &Served<'_>) {
        let line = serde_json::json!({
            "time": crate::record::now_ms(),
            "version": served.version,
            "status": served.status,
            "latency_ms": (served.latency_ms * 1000.0).round() / 1000.0,
            "request": body_value(served.request),
            "response": body_value(served.response),
        })
        .to_string();
        if self.sender.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A body as JSON when it is JSON, else as text; a large one as its size.
fn body_value(body: &[u8]) -> Value {
    if body.len() > MAX_BODY_LOGGED {
        return serde_json::json!({ "bytes": body.len() });
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn write_lines(
    path: PathBuf,
    mut receiver: mpsc::Receiver<String>,
    log: std::sync::Arc<RequestLog>,
) {
    while let Some(first) = receiver.recv().await {
        let mut lines = vec![first];
        while let Ok(line) = receiver.try_recv() {
            lines.push(line);
        }
        let path = path.clone();
        let count = lines.len() as u64;
        let written = tokio::task::spawn_blocking(move || append(&path, &lines)).await;
        match written {
            Ok(Ok(())) => log.written.fetch_add(count, Ordering::Relaxed),
            _ => log.dropped.fetch_add(count, Ordering::Relaxed),
        };
    }
}

fn append(path: &Path, lines: &[String]) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() >= MAX_LOG_BYTES) {
        let mut older = path.as_os_str().to_owned();
        older.push(".1");
        std::fs::rename(path, PathBuf::from(older))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
}
