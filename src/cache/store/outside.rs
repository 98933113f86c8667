//! Temporary files mlci writes outside the cache: a restore's `.mlci-restore.*`
//! beside each output in the working tree, `models pull`'s `.mlci-pull.*`
//! beside its destination. They sit there so that the final rename is atomic,
//! and a process killed with SIGKILL leaves them behind. Each name carries the
//! writer's process id, and each directory that gets one is first noted in the
//! writer's journal, `tmp/outside.<pid>.journal`. When the writer is gone,
//! [`Store::remove_stale_temp`] reads its journal and removes, in each noted
//! directory, the temporary files of writers that no longer run.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::cache_dir::Store;
use super::files::{make_writable_and_remove, writer_alive};

/// The prefixes of the temporary files mlci writes outside the cache;
/// nothing else in a noted directory is ever removed.
const OUTSIDE_TEMP_PREFIXES: [&str; 2] = [".mlci-restore.", ".mlci-pull."];

/// The longest journal read: a journal is a few lines, so one larger than
/// this was not written by mlci.
const JOURNAL_LIMIT: u64 = 1 << 20;

/// The directories this process has noted, per journal.
static NOTED: Mutex<Option<HashSet<(PathBuf, PathBuf)>>> = Mutex::new(None);

impl Store {
    /// Notes that this process is about to write temporary files in `dir`,
    /// once per directory: written (not synced: a killed process's writes
    /// survive it) before the first file there.
    pub(crate) fn note_temp_dir(&self, dir: &Path) {
        let journal = self.journal_path();
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let mut noted = NOTED.lock().unwrap_or_else(|e| e.into_inner());
        if !noted
            .get_or_insert_with(HashSet::new)
            .insert((journal.clone(), dir.clone()))
        {
            return;
        }
        let line = format!("{}\n", dir.display());
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }

    fn journal_path(&self) -> PathBuf {
        self.dir
            .join("tmp")
            .join(format!("outside.{}.journal", std::process::id()))
    }
}

/// When `path` is the journal of a writer that is gone: removes the stale
/// temporary files in the directories it noted.
pub(super) fn clean_noted(path: &Path) {
    let is_journal = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.starts_with("outside.") && n.ends_with(".journal"));
    if !is_journal {
        return;
    }
    let Ok(file) = std::fs::File::open(path) else {
        return;
    };
    let dirs: HashSet<String> = std::io::BufReader::new(std::io::Read::take(file, JOURNAL_LIMIT))
        .lines()
        .map_while(Result::ok)
        .collect();
    for dir in dirs {
        let Ok(items) = std::fs::read_dir(&dir) else {
            continue;
        };
        for item in items.flatten() {
            let name = item.file_name();
            let name = name.to_string_lossy();
            let ours = OUTSIDE_TEMP_PREFIXES.iter().any(|p| name.starts_with(p));
            if ours && !writer_alive(name.trim_start_matches('.')) {
                make_writable_and_remove(&item.path());
            }
        }
    }
}
