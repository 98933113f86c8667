//! What a workflow's `on:` means to the watcher: which changes of the working
//! tree start it under which event, which dataset files it follows, and its
//! cron schedules.

use crate::workflow::cron::{Cron, CronTime};
use crate::workflow::path_filter::PathFilter;
use crate::workflow::{LoadedWorkflow, Trigger};
use std::path::PathBuf;

/// The events that a change of the working tree stands for.
const PATH_EVENTS: &[&str] = &["push", "pull_request", "pull_request_target"];

/// `push` or `pull_request`, with its `paths` or `paths-ignore` filter.
#[derive(Debug)]
pub struct PathTrigger {
    pub event: String,
    paths: Option<PathFilter>,
    ignore: Option<PathFilter>,
    pub patterns: Vec<String>,
    pub ignored: Vec<String>,
}

impl PathTrigger {
    /// Whether these changed files start the workflow, as GitHub decides for
    /// a push: some file matches `paths`, or some file is not matched by
    /// `paths-ignore`, or (with neither) any file.
    pub fn fires(&self, changed: &[String]) -> bool {
        if let Some(paths) = &self.paths {
            return changed.iter().any(|f| paths.matches(f));
        }
        if let Some(ignore) = &self.ignore {
            return changed.iter().any(|f| !ignore.matches(f));
        }
        !changed.is_empty()
    }

    pub fn relevant<'a>(&self, changed: &'a [String]) -> Vec<&'a String> {
        changed
            .iter()
            .filter(|f| {
                self.paths.as_ref().is_none_or(|p| p.matches(f))
                    && self.ignore.as_ref().is_none_or(|i| !i.matches(f))
            })
            .collect()
    }
}

/// mlci's `dataset` event: the files whose content it follows.
#[derive(Debug)]
pub struct DatasetTrigger {
    pub filter: PathFilter,
    pub patterns: Vec<String>,
    /// The directories to walk for them.
    pub roots: Vec<String>,
}

/// One watched workflow.
#[derive(Debug)]
pub struct Watched {
    /// The file name, as logs and the lock name it (`train.yml`).
    pub name: String,
    /// The path `mlci run` is given.
    pub path: PathBuf,
    pub paths: Vec<PathTrigger>,
    pub dataset: Option<DatasetTrigger>,
    pub schedules: Vec<(String, Cron)>,
    /// Warnings about what the watcher does not honour.
    pub notes: Vec<String>,
    /// The `outputs` and `metrics` paths of its steps: what its own runs
    /// write into the working tree never starts it again.
    own_outputs: Vec<String>,
}

impl Watched {
    pub fn new(loaded: &LoadedWorkflow) -> Watched {
        let path = loaded.file.path.clone();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let mut watched = Watched {
            name,
            path,
            paths: Vec::new(),
            dataset: None,
            schedules: Vec::new(),
            notes: Vec::new(),
            own_outputs: loaded
                .workflow
                .jobs
                .iter()
                .flat_map(|job| &job.steps)
                .flat_map(|step| step.outputs.iter().chain(&step.metrics))
                .map(|path| path.value.trim_start_matches("./").to_string())
                .filter(|path| !path.contains("${{") && !path.is_empty())
                .collect(),
        };
        for trigger in &loaded.workflow.on {
            watched.add(trigger);
        }
        watched
    }

    fn add(&mut self, trigger: &Trigger) {
        let event = trigger.event.value.as_str();
        let strings = |list: &[crate::workflow::Spanned<String>]| -> Vec<String> {
            list.iter().map(|s| s.value.clone()).collect()
        };
        let filters = &trigger.filters;
        if PATH_EVENTS.contains(&event) {
            let patterns = strings(&filters.paths);
            let ignored = strings(&filters.paths_ignore);
            let compile = |list: &[String]| {
                (!list.is_empty())
                    .then(|| PathFilter::new(list).ok())
                    .flatten()
            };
            if !filters.branches.is_empty()
                || !filters.branches_ignore.is_empty()
                || !filters.tags.is_empty()
                || !filters.tags_ignore.is_empty()
            {
                self.notes.push(format!(
                    "`{event}` branch and tag filters are not checked: every change counts"
                ));
            }
            self.paths.push(PathTrigger {
                event: event.to_string(),
                paths: compile(&patterns),
                ignore: compile(&ignored),
                patterns,
                ignored,
            });
        } else if event == "dataset" {
            let patterns = strings(&filters.paths);
            if let Ok(filter) = PathFilter::new(&patterns) {
                self.dataset = Some(DatasetTrigger {
                    roots: PathFilter::roots(&patterns),
                    filter,
                    patterns,
                });
            }
        } else if event == "schedule" {
            for zone in filters.timezones.iter().filter(|z| z.value != "UTC") {
                self.notes.push(format!(
                    "timezone `{}` is not honoured: mlci watch reads every schedule in UTC",
                    zone.value
                ));
            }
            for cron in &filters.cron {
                if let Ok(parsed) = Cron::parse(&cron.value) {
                    self.schedules.push((cron.value.clone(), parsed));
                }
            }
        }
    }

    /// Whether anything can start this workflow.
    pub fn is_watched(&self) -> bool {
        !self.paths.is_empty() || self.dataset.is_some() || !self.schedules.is_empty()
    }

    /// The changed files that are not this workflow's own outputs.
    pub fn not_own_outputs(&self, changed: &[String]) -> Vec<String> {
        changed
            .iter()
            .filter(|file| {
                !self.own_outputs.iter().any(|out| {
                    let dir = out.trim_end_matches('/');
                    *file == dir || file.starts_with(&format!("{dir}/"))
                })
            })
            .cloned()
            .collect()
    }

    /// The first path event (in file order) that these changes start.
    pub fn path_event(&self, changed: &[String]) -> Option<&PathTrigger> {
        self.paths.iter().find(|t| t.fires(changed))
    }

    /// The first schedule that names this minute.
    pub fn schedule_at(&self, time: CronTime) -> Option<&str> {
        self.schedules
            .iter()
            .find(|(_, cron)| cron.matches(time))
            .map(|(text, _)| text.as_str())
    }

    /// One line per trigger, for the start of `mlci watch`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.paths {
            let what = if !t.patterns.is_empty() {
                format!("paths {}", t.patterns.join(", "))
            } else if !t.ignored.is_empty() {
                format!("any change but {}", t.ignored.join(", "))
            } else {
                "any change".to_string()
            };
            lines.push(format!("{}: {what}", t.event));
        }
        if let Some(d) = &self.dataset {
            lines.push(format!("dataset: content of {}", d.patterns.join(", ")));
        }
        for (text, _) in &self.schedules {
            lines.push(format!("schedule: `{text}` (UTC)"));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(yaml: &str) -> Watched {
        let file = crate::diag::SourceFile::new("wf.yml", yaml.to_string());
        let loaded = crate::workflow::parse(file);
        assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics());
        Watched::new(&loaded)
    }

    const JOBS: &str = "jobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n";

    #[test]
    fn path_filters_decide_as_on_a_push() {
        let w = watched(&format!(
            "on:\n  push:\n    paths: ['src/**', '!src/**/*.md']\n  pull_request:\n    paths-ignore: ['docs/**']\n{JOBS}"
        ));
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(w.path_event(&s(&["src/a.py"])).unwrap().event, "push");
        assert_eq!(
            w.path_event(&s(&["src/README.md", "x.txt"])).unwrap().event,
            "pull_request"
        );
        assert!(w.path_event(&s(&["docs/a.md"])).is_none());
        assert!(w.path_event(&[]).is_none());
    }

    #[test]
    fn its_own_outputs_do_not_start_a_workflow() {
        let w = watched(
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n        outputs: [model/, ./out.bin]\n        metrics: [metrics/m.json]\n",
        );
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let changed = s(&[
            "model/w.pt",
            "out.bin",
            "metrics/m.json",
            "models.txt",
            "src/a.py",
        ]);
        assert_eq!(w.not_own_outputs(&changed), s(&["models.txt", "src/a.py"]));
    }

    #[test]
    fn schedules_and_datasets_are_read() {
        let w = watched(&format!(
            "on:\n  schedule:\n    - cron: '*/5 * * * *'\n  dataset:\n    paths: [data/train.csv]\n  workflow_dispatch:\n{JOBS}"
        ));
        assert!(w.is_watched());
        let at = |minute| CronTime {
            minute,
            hour: 1,
            day: 1,
            month: 1,
            weekday: 1,
        };
        assert_eq!(w.schedule_at(at(10)), Some("*/5 * * * *"));
        assert_eq!(w.schedule_at(at(11)), None);
        assert_eq!(w.dataset.as_ref().unwrap().roots, vec!["data".to_string()]);
        let only_dispatch = watched(&format!("on: workflow_dispatch\n{JOBS}"));
        assert!(!only_dispatch.is_watched());
    }
}
