//! Temporary files mlci writes outside the cache: a restore's `.mlci-restore.*`
//! beside each output in the working tree, `models pull`'s `.mlci-pull.*`
//! beside its destination. They sit there so that the final rename is atomic,
//! and a process killed with SIGKILL leaves them behind. Each name carries the
//! writer's process id, and each directory that gets one is first noted in the
//! restore's or pull's journal, `tmp/outside.<pid>.…`, removed when it is over.
//! When the writer is gone,
//! [`Store::remove_stale_temp`] reads its journal and removes, in each noted
//! directory, the temporary files of writers that no longer run.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use super::cache_dir::Store;
use super::files::{make_writable_and_remove, writer_alive};

/// The prefixes of the temporary files mlci writes outside the cache;
/// nothing else in a noted directory is ever removed.
const OUTSIDE_TEMP_PREFIXES: [&str; 2] = [".mlci-restore.", ".mlci-pull."];

/// The longest journal read: a journal is a few lines, so one larger than
/// this was not written by mlci.
const JOURNAL_LIMIT: u64 = 1 << 20;

/// The journal of one restore or pull: the directories where it writes
/// temporary files. Removed when the work is over; a killed process
/// leaves it for the next sweep.
pub(crate) struct TempNotes {
    journal: PathBuf,
    noted: HashSet<PathBuf>,
}

impl Store {
    /// A journal for temporary files written outside the cache.
    pub(crate) fn temp_notes(&self) -> TempNotes {
        TempNotes {
            journal: self.temp_path("outside"),
            noted: HashSet::new(),
        }
    }
}

impl TempNotes {
    /// Notes that temporary files are about to be written in `dir`, once
    /// per directory: written (not synced: a killed process's writes
    /// survive it) before the first file there.
    pub(crate) fn note(&mut self, dir: &Path) {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        if !self.noted.insert(dir.clone()) {
            return;
        }
        let line = format!("{}\n", dir.display());
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.journal)
            .and_then(|mut file| file.write_all(line.as_bytes()));
    }
}

impl Drop for TempNotes {
    fn drop(&mut self) {
        if !self.noted.is_empty() {
            let _ = std::fs::remove_file(&self.journal);
        }
    }
}

/// When `path` is the journal of a writer that is gone: removes the stale
/// temporary files in the directories it noted.
pub(super) fn clean_noted(path: &Path) {
    let is_journal = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.starts_with("outside."));
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
