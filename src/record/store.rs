//! Opening the run store: where its file is, WAL mode, the busy timeout, migrations.

use super::error::StoreError;
use super::schema;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default place of the store, relative to the project.
pub const DEFAULT_DB: &str = ".mlci/runs.db";

/// An open run store: one SQLite connection.
pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    /// Values never written (see [`Store::set_secrets`]).
    pub(super) secrets: Vec<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Where the store is: `--db`, else `MLCI_DB`, else `.mlci/runs.db` under `project`.
pub fn default_path(project: &Path, given: Option<&Path>) -> PathBuf {
    if let Some(path) = given {
        return path.to_path_buf();
    }
    match std::env::var_os("MLCI_DB") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => project.join(DEFAULT_DB),
    }
}

/// Whether SQLite refused because another connection holds the file.
fn busy_or_locked(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _) if matches!(
            failure.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

impl Store {
    /// Opens (creating it and its directory if need be) and migrates the store.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let open_error = |reason: String| StoreError::Open {
            path: shown.clone(),
            reason,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(e.to_string()))?;
        }
        let conn = Connection::open(path).map_err(|e| open_error(e.to_string()))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| open_error(e.to_string()))?;
        // WAL lets readers go on while a run writes (the pragma answers with the mode,
        // which stays the old one where the file system cannot do WAL). Switching a fresh
        // file needs it alone for a moment, and SQLite says "database is locked" at once,
        // without the busy handler, while another process opens it too: try again for as
        // long as the busy timeout.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let attempt = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))
                .and_then(|_| {
                    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
                });
            match attempt {
                Ok(()) => break,
                Err(e) if busy_or_locked(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(open_error(e.to_string())),
            }
        }
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            secrets: Vec::new(),
        };
        schema::migrate(&mut store.conn, &store.path)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Values that must never be written: any text equal to or containing one is stored as `***`.
    pub fn set_secrets<I, S>(&mut self, secrets: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.secrets = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
    }

    /// A `StoreError` maker that does not borrow the store, for use while a
    /// transaction holds its connection.
    pub(super) fn sql_errors(&self) -> impl Fn(rusqlite::Error) -> StoreError + use<> {
        let path = self.path.display().to_string();
        move |e| StoreError::Sql {
            path: path.clone(),
            reason: e.to_string(),
        }
    }

    pub(super) fn sql_error(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            path: self.path.display().to_string(),
            reason: error.to_string(),
        }
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sql_error(e))
    }
}
