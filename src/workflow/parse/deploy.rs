//! mlci's `deploy:` step key: `{model, name, target, port, smoke, expect,
//! canary}`, a step of its own. Values written as they are checked here, with
//! their position; values with `${{ }}` are checked by the same functions
//! once the step evaluates them (`run::job::deploy`).

use super::mlops::is_registry_name;
use super::reader::{Reader, is_expression};
use crate::diag::Span;
use crate::workflow::context;
use crate::workflow::model::{Deploy, Spanned};
use crate::workflow::model_ref::ModelRef;
use crate::yaml::Node;

const DEPLOY_KEYS: &[&str] = &[
    "model", "name", "target", "port", "smoke", "expect", "canary",
];

/// Step keys that mean nothing beside `deploy` (it runs no command in the
/// job's container and is never a cached step): each is refused.
const NOT_WITH_DEPLOY: &[&str] = &[
    "run",
    "uses",
    "shell",
    "working-directory",
    "with",
    "inputs",
    "outputs",
    "metrics",
    "params",
    "register",
    "validate",
];

impl Reader<'_> {
    pub(super) fn deploy(&mut self, node: &Node) -> Option<Deploy> {
        let mut fields: [Option<Spanned<String>>; 7] = Default::default();
        for field in self.fields(node, "`deploy`", DEPLOY_KEYS) {
            let index = DEPLOY_KEYS
                .iter()
                .position(|k| *k == field.name)
                .expect("fields are among the keys");
            let what = match field.name {
                "model" => "a model (NAME, NAME@VERSION or NAME:ALIAS)",
                "name" => "a deployment name",
                "target" => "a target (docker or k8s)",
                "port" => "a port",
                "smoke" | "expect" => "a file in the workspace",
                _ => "a percentage",
            };
            let Some(value) = self.required_string(field.value, what, Some(&context::STEP)) else {
                continue;
            };
            if !is_expression(&value.value)
                && let Err(message) = check_value(field.name, &value.value)
            {
                self.error(value.span, message);
                continue;
            }
            fields[index] = Some(value);
        }
        node.as_mapping()?;
        let [model, name, target, port, smoke, expect, canary] = fields;
        if model.is_none() && node.get("model").is_none() {
            self.error(node.span, "`deploy` is missing `model`");
        }
        Some(Deploy {
            model: model?,
            name,
            target,
            port,
            smoke,
            expect,
            canary,
        })
    }

    /// A step with `deploy` has none of the keys that run a command or
    /// cache one.
    pub(super) fn check_deploy_alone(&mut self, node: &Node) {
        let Some(entries) = node.as_mapping() else {
            return;
        };
        for (key, _) in entries {
            let Some(name) = key.as_str() else { continue };
            if let Some(other) = NOT_WITH_DEPLOY
                .iter()
                .find(|k| k.eq_ignore_ascii_case(name))
            {
                self.error(
                    Span::point(key.span.start),
                    format!(
                        "a `deploy` step is a step of mlci's own, run on the host: it cannot have `{other}` (put that in a step of its own)"
                    ),
                );
            }
        }
    }
}

/// Checks one value of `deploy` as written or as evaluated: the sentence
/// that says what is wrong with it.
pub fn check_value(key: &str, text: &str) -> Result<(), String> {
    let text = text.trim();
    match key {
        "model" => ModelRef::parse(text).map(|_| ()),
        // Container and network names are made from it (`crate::deploy::check_name`).
        "name" if !is_registry_name(text) || text.len() > 63 => Err(format!(
            "invalid deployment name `{text}`: use letters, digits, `.`, `-` and `_`, starting with a letter (at most 63)"
        )),
        "target" if !matches!(text, "docker" | "k8s") => Err(format!(
            "unknown deploy target `{text}`: expected docker or k8s"
        )),
        "port" => parse_port(text).map(|_| ()),
        "canary" => parse_canary(text).map(|_| ()),
        "smoke" | "expect" => crate::confine::check_relative(text, "the workspace")
            .map_err(|e| format!("`deploy: {key}`: {e}")),
        _ => Ok(()),
    }
}

/// `port`: a whole number from 1 to 65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    text.trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            format!(
                "`port` must be a whole number from 1 to 65535, found `{}`",
                text.trim()
            )
        })
}

/// `canary`: a whole number of percent from 1 to 99.
pub fn parse_canary(text: &str) -> Result<u8, String> {
    text.trim()
        .trim_end_matches('%')
        .trim_end()
        .parse::<u8>()
        .ok()
        .filter(|p| (1..=99).contains(p))
        .ok_or_else(|| {
            format!(
                "`canary` must be a whole number from 1 to 99 (the new version's share of requests, in percent), found `{}`",
                text.trim()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_as_the_step_will_use_them() {
        assert!(check_value("model", "iris:champion").is_ok());
        assert!(check_value("model", "iris@3").is_ok());
        assert!(check_value("model", "iris@three").is_err());
        assert!(check_value("name", "iris-prod").is_ok());
        assert!(check_value("name", "-iris").is_err());
        assert!(check_value("name", &"a".repeat(64)).is_err());
        assert!(check_value("target", "k8s").is_ok());
        assert!(check_value("target", "kubernetes").is_err());
        assert_eq!(parse_port("8080"), Ok(8080));
        for bad in ["0", "65536", "-1", "80.5", "http"] {
            assert!(parse_port(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_canary("10"), Ok(10));
        assert_eq!(parse_canary("25 %"), Ok(25));
        for bad in ["0", "100", "5.5", ""] {
            assert!(parse_canary(bad).is_err(), "{bad}");
        }
        assert!(check_value("smoke", "smoke/iris.json").is_ok());
        assert!(check_value("smoke", "../secrets.json").is_err());
        assert!(check_value("expect", "/etc/passwd").is_err());
    }
}
