//! The `dataset` trigger's memory: the content hash of each dataset file as
//! last seen, per workflow, kept in `.mlci/watch-state.json` so that a change
//! made while no watcher ran starts the workflow at the next `mlci watch`.
//! A workflow seen for the first time records what is there and fires nothing.

use super::tree::{Stamp, hash_file, walk};
use super::triggers::DatasetTrigger;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A dataset file as last seen: its stamp (to skip hashing an untouched
/// file) and its content hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Seen {
    pub stamp: Stamp,
    pub blake3: String,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct State {
    #[serde(default)]
    pub datasets: BTreeMap<String, BTreeMap<String, Seen>>,
}

/// The state file and what it holds.
pub struct DatasetState {
    path: PathBuf,
    state: State,
    dirty: bool,
}

impl DatasetState {
    /// Reads `<root>/.mlci/watch-state.json`; a missing or unreadable file is
    /// an empty state (with a warning when it cannot be read).
    pub fn load(root: &Path) -> DatasetState {
        let path = root.join(".mlci").join("watch-state.json");
        let state = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                eprintln!(
                    "[watch] warning: {} is not readable ({e}); starting afresh",
                    path.display()
                );
                State::default()
            }),
            Err(_) => State::default(),
        };
        DatasetState {
            path,
            state,
            dirty: false,
        }
    }

    /// Looks at the dataset's files again. Returns the files whose content
    /// changed (appeared, went away, other bytes) since the last look, or
    /// nothing when the workflow had no last look.
    pub fn check(&mut self, key: &str, trigger: &DatasetTrigger, root: &Path) -> Vec<String> {
        let files: Vec<String> = trigger
            .roots
            .iter()
            .flat_map(|dir| walk(root, dir))
            .filter(|rel| !rel.starts_with(".mlci/") && trigger.filter.matches(rel))
            .collect();
        let previous = self.state.datasets.get(key);
        let mut now = BTreeMap::new();
        for rel in files {
            let full = root.join(&rel);
            let Some(stamp) = Stamp::of(&full) else {
                continue;
            };
            let known = previous
                .and_then(|p| p.get(&rel))
                .filter(|seen| seen.stamp == stamp);
            let seen = match known {
                Some(seen) => seen.clone(),
                None => match hash_file(&full) {
                    Some(blake3) => Seen { stamp, blake3 },
                    None => continue,
                },
            };
            now.insert(rel, seen);
        }
        let changed = match previous {
            None => Vec::new(),
            Some(previous) => {
                let mut changed: Vec<String> = now
                    .iter()
                    .filter(|(rel, seen)| {
                        previous.get(*rel).map(|p| &p.blake3) != Some(&seen.blake3)
                    })
                    .map(|(rel, _)| rel.clone())
                    .collect();
                changed.extend(previous.keys().filter(|k| !now.contains_key(*k)).cloned());
                changed.sort();
                changed
            }
        };
        if previous != Some(&now) {
            self.dirty = true;
            self.state.datasets.insert(key.to_string(), now);
        }
        changed
    }

    /// Writes the state when it changed (to a temporary file, then renamed,
    /// so that a killed watcher leaves the old state or the new one).
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = self
                .path
                .with_extension(format!("json.{}.tmp", std::process::id()));
            let text = serde_json::to_string_pretty(&self.state).map_err(std::io::Error::other)?;
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, &self.path)
        };
        match write() {
            Ok(()) => self.dirty = false,
            Err(e) => eprintln!("[watch] warning: cannot save {}: {e}", self.path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::path_filter::PathFilter;

    #[test]
    fn content_changes_fire_touches_do_not_and_the_state_persists() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("data/raw")).unwrap();
        std::fs::write(root.join("data/train.csv"), "a,b\n").unwrap();
        std::fs::write(root.join("data/other.csv"), "x\n").unwrap();
        let patterns = vec!["data/train.csv".to_string(), "data/raw/**".to_string()];
        let trigger = DatasetTrigger {
            filter: PathFilter::new(&patterns).unwrap(),
            roots: PathFilter::roots(&patterns),
            patterns,
        };
        let mut state = DatasetState::load(root);
        assert!(state.check("wf", &trigger, root).is_empty(), "first look");
        // Same bytes, new mtime.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(root.join("data/train.csv"))
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(state.check("wf", &trigger, root).is_empty(), "a touch");
        std::fs::write(root.join("data/other.csv"), "y\n").unwrap();
        assert!(
            state.check("wf", &trigger, root).is_empty(),
            "not in the dataset"
        );
        std::fs::write(root.join("data/raw/new.bin"), "1").unwrap();
        assert_eq!(state.check("wf", &trigger, root), vec!["data/raw/new.bin"]);
        state.save();
        // Changed while nobody watched: seen by the next watcher.
        std::fs::write(root.join("data/train.csv"), "a,b\n1,2\n").unwrap();
        let mut next = DatasetState::load(root);
        assert_eq!(next.check("wf", &trigger, root), vec!["data/train.csv"]);
    }
}
