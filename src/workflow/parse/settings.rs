//! Settings that a workflow and each of its jobs both may have: `defaults`,
//! `concurrency` and `permissions`.

use super::reader::Reader;
use crate::workflow::context::Site;
use crate::workflow::model::{Concurrency, Defaults, Permissions};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;

const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

impl Reader<'_> {
    pub(super) fn defaults(&mut self, node: &Node, site: &Site) -> Defaults {
        let mut defaults = Defaults::default();
        for field in self.fields(node, "`defaults`", &["run"]) {
            for run in self.fields(
                field.value,
                "`defaults.run`",
                &["shell", "working-directory"],
            ) {
                match run.name {
                    "shell" => {
                        defaults.shell = self.required_string(run.value, "a shell", Some(site))
                    }
                    _ => {
                        defaults.working_directory =
                            self.required_string(run.value, "a directory", Some(site))
                    }
                }
            }
        }
        defaults
    }

    pub(super) fn concurrency(&mut self, node: &Node, site: &Site) -> Option<Concurrency> {
        if node.as_scalar().is_some() {
            let group = self.required_string(node, "a concurrency group", Some(site))?;
            return Some(Concurrency {
                group,
                cancel_in_progress: None,
            });
        }
        let mut group = None;
        let mut cancel_in_progress = None;
        for field in self.fields(node, "`concurrency`", &["group", "cancel-in-progress"]) {
            match field.name {
                "group" => {
                    group = self.required_string(field.value, "a concurrency group", Some(site))
                }
                _ => cancel_in_progress = self.bool_or_expr(field.value, site),
            }
        }
        if group.is_none() && node.as_mapping().is_some() {
            self.error(node.span, "`concurrency` is missing `group`");
        }
        Some(Concurrency {
            group: group?,
            cancel_in_progress,
        })
    }

    pub(super) fn permissions(&mut self, node: &Node) -> Option<Permissions> {
        match &node.kind {
            NodeKind::Scalar(_) => match node.as_str() {
                Some("read-all") => Some(Permissions::ReadAll),
                Some("write-all") => Some(Permissions::WriteAll),
                _ => {
                    self.expected(node, "`read-all`, `write-all` or a map of scopes");
                    None
                }
            },
            NodeKind::Mapping(_) => {
                let mut scopes = IndexMap::new();
                for field in self.fields(node, "`permissions`", PERMISSION_SCOPES) {
                    match field.value.as_str() {
                        Some(level @ ("read" | "write" | "none")) => {
                            scopes.insert(field.name.to_string(), level.to_string());
                        }
                        _ => self.expected(field.value, "`read`, `write` or `none`"),
                    }
                }
                Some(Permissions::Scopes(scopes))
            }
            NodeKind::Sequence(_) => {
                self.expected(node, "`read-all`, `write-all` or a map of scopes");
                None
            }
        }
    }
}
