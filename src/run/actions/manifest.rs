//! `action.yml` / `action.yaml`: the metadata of an action, read with
//! positions so that every mistake is reported as `path:line:col: message`.
//!
//! The schema is GitHub's ("Metadata syntax for GitHub Actions"): `name`,
//! `author`, `description`, `inputs`, `outputs`, `runs` and `branding`;
//! `runs.using` is `composite`, `docker` or `node12|16|20|24`. The steps of a
//! composite action are read by the workflow's own step reader, and a `run`
//! step there must name its `shell`, as GitHub requires.

use crate::diag::{Diagnostic, SourceFile, Span};
use crate::workflow::{self, Spanned, Step, StepAction};
use crate::yaml::{Node, NodeKind};
use indexmap::IndexMap;
use std::path::Path;

/// A declared input.
#[derive(Clone, Debug)]
pub struct ActionInput {
    pub name: String,
    pub required: bool,
    /// May hold `${{ }}` (evaluated in the calling step's scope).
    pub default: Option<String>,
}

/// How the action runs.
#[derive(Clone, Debug)]
pub enum Runs {
    Composite {
        steps: Vec<Step>,
    },
    Docker {
        /// `Dockerfile` (a path in the action) or `docker://image`.
        image: String,
        entrypoint: Option<String>,
        args: Vec<String>,
        env: IndexMap<String, String>,
        pre_entrypoint: Option<String>,
        post_entrypoint: Option<String>,
    },
    Node {
        using: String,
        main: String,
        pre: Option<String>,
        pre_if: Option<String>,
        post: Option<String>,
        post_if: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct ActionManifest {
    pub file: SourceFile,
    pub inputs: Vec<ActionInput>,
    /// Output name to its `value` (composite actions only).
    pub outputs: Vec<(String, Option<Spanned<String>>)>,
    pub runs: Runs,
}

const TOP_KEYS: &[&str] = &[
    "name",
    "author",
    "description",
    "inputs",
    "outputs",
    "runs",
    "branding",
];
const INPUT_KEYS: &[&str] = &["description", "required", "default", "deprecationMessage"];
const OUTPUT_KEYS: &[&str] = &["description", "value"];
const RUNS_KEYS: &[&str] = &[
    "using",
    "steps",
    "main",
    "pre",
    "pre-if",
    "post",
    "post-if",
    "image",
    "entrypoint",
    "args",
    "env",
    "pre-entrypoint",
    "post-entrypoint",
];
const NODE_VERSIONS: &[&str] = &["node12", "node16", "node20", "node24"];

/// Why an action's metadata cannot be used.
#[derive(Debug)]
pub enum LoadError {
    /// No metadata file, or it cannot be read: one sentence.
    Missing(String),
    /// The rendered diagnostics, each starting `path:line:col:`.
    Invalid(String),
}

/// Finds `action.yml` (or `action.yaml`) in `dir` and reads it. `shown` is
/// the directory as the user knows it (`./.github/actions/x`,
/// `owner/repo@v1`); errors name the file under it.
pub fn load(dir: &Path, shown: &str) -> Result<ActionManifest, LoadError> {
    let mut found = Vec::new();
    for name in ["action.yml", "action.yaml"] {
        // A metadata file that is a symlink out of the action is not read.
        let path = crate::confine::resolve(dir, name, "the action's directory")
            .map_err(|e| LoadError::Missing(format!("cannot read {shown}/{name}: {e}")))?;
        found.push((path, name));
    }
    let (path, name) = found
        .into_iter()
        .find(|(p, _)| p.is_file())
        .ok_or_else(|| {
            if dir.is_dir() {
                format!(
                    "{shown} has no action.yml or action.yaml: an action's directory holds its metadata file"
                )
            } else {
                format!("the action {shown} does not exist in the repository")
            }
        })
        .map_err(LoadError::Missing)?;
    let text = crate::diag::read_text(
        &path,
        crate::workflow::MAX_WORKFLOW_BYTES,
        "action metadata files",
    )
    .map_err(|e| LoadError::Missing(format!("cannot read {shown}/{name}: {e}")))?;
    let file = SourceFile::new(format!("{}/{name}", shown.trim_end_matches('/')), text);
    parse(file).map_err(LoadError::Invalid)
}

/// Reads an action's metadata held in memory.
pub fn parse(file: SourceFile) -> Result<ActionManifest, String> {
    let (root, mut diagnostics) = crate::yaml::load(&file.text);
    let render = |file: &SourceFile, diagnostics: &[Diagnostic]| {
        diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| file.render(d))
            .collect::<Vec<_>>()
            .join("")
    };
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(render(&file, &diagnostics));
    }
    let Some(root) = root else {
        return Err(render(
            &file,
            &[Diagnostic::error(
                Span::point(0),
                "the action's metadata is empty: it needs at least `runs`",
            )],
        ));
    };
    let mut reader = Reader {
        source: &file.text,
        diagnostics: Vec::new(),
    };
    let manifest = reader.manifest(&root);
    diagnostics.extend(reader.diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Err(render(&file, &diagnostics));
    }
    let (inputs, outputs, runs) = manifest.expect("no errors, so a manifest");
    Ok(ActionManifest {
        file,
        inputs,
        outputs,
        runs,
    })
}

type Parts = (
    Vec<ActionInput>,
    Vec<(String, Option<Spanned<String>>)>,
    Runs,
);

struct Reader<'s> {
    source: &'s str,
    diagnostics: Vec<Diagnostic>,
}

impl Reader<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(span, message));
    }

    fn expected(&mut self, node: &Node, what: &str) {
        let found = node.describe();
        self.error(node.span, format!("expected {what}, found {found}"));
    }

    /// Known keys of a mapping (case-insensitively, as GitHub reads them).
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&'static str],
    ) -> Vec<(&'static str, &'n Node, &'n Node)> {
        let Some(entries) = node.as_mapping() else {
            self.expected(node, &format!("a map for {what}"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            match allowed.iter().find(|k| k.eq_ignore_ascii_case(name)) {
                Some(canonical) => out.push((*canonical, key, value)),
                None => {
                    let d = Diagnostic::error(key.span, format!("unknown key `{name}` in {what}"));
                    let d = match workflow::suggest(name, allowed) {
                        Some(close) => d.with_help(format!("did you mean `{close}`?")),
                        None => d.with_help(format!("expected one of: {}", allowed.join(", "))),
                    };
                    self.diagnostics.push(d);
                }
            }
        }
        out
    }

    fn scalar(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar(s) if node.is_null() => {
                let _ = s;
                Some(String::new())
            }
            NodeKind::Scalar(s) => Some(s.text.clone()),
            _ => {
                self.expected(node, what);
                None
            }
        }
    }

    fn manifest(&mut self, root: &Node) -> Option<Parts> {
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let mut runs = None;
        let mut runs_seen = false;
        for (field, _key, value) in self.fields(root, "an action's metadata", TOP_KEYS) {
            match field {
                "name" | "author" | "description" | "branding" => {}
                "inputs" => inputs = self.inputs(value),
                "outputs" => outputs = self.outputs(value),
                "runs" => {
                    runs_seen = true;
                    runs = self.runs(value);
                }
                _ => unreachable!("every top-level key is handled"),
            }
        }
        if !runs_seen {
            self.error(
                Span::point(root.span.start),
                "the action has no `runs`: it must say how it runs (`using: composite`, `docker` or `node20`)",
            );
        }
        let runs = runs?;
        if !matches!(runs, Runs::Composite { .. }) {
            // Only composite outputs have a `value`; the others are set by the action.
            for (_, value) in &mut outputs {
                *value = None;
            }
        }
        Some((inputs, outputs, runs))
    }

    fn inputs(&mut self, node: &Node) -> Vec<ActionInput> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(entries) = node.as_mapping() else {
            self.expected(node, "a map of inputs");
            return Vec::new();
        };
        let mut inputs = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let mut input = ActionInput {
                name: name.to_string(),
                required: false,
                default: None,
            };
            if !value.is_null() {
                for (field, _, v) in self.fields(value, &format!("input `{name}`"), INPUT_KEYS) {
                    match field {
                        "required" => {
                            input.required = matches!(v.to_value(), crate::expr::Value::Bool(true))
                                || v.as_str() == Some("true")
                        }
                        "default" => input.default = self.scalar(v, "a default value"),
                        _ => {}
                    }
                }
            }
            inputs.push(input);
        }
        inputs
    }

    fn outputs(&mut self, node: &Node) -> Vec<(String, Option<Spanned<String>>)> {
        if node.is_null() {
            return Vec::new();
        }
        let Some(entries) = node.as_mapping() else {
            self.expected(node, "a map of outputs");
            return Vec::new();
        };
        let mut outputs = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_str() else { continue };
            let mut output_value = None;
            if !value.is_null() {
                for (field, _, v) in self.fields(value, &format!("output `{name}`"), OUTPUT_KEYS) {
                    if field == "value" {
                        output_value = self
                            .scalar(v, "an output value")
                            .map(|s| Spanned::new(s, v.span));
                        if let Some(text) = output_value.as_ref().map(|s| s.value.clone())
                            && let Err(e) = crate::expr::parse_template(&text)
                        {
                            let at = v.source_offset(self.source, e.offset);
                            self.error(
                                Span::new(at, at + e.len.max(1)),
                                format!("invalid expression: {}", e.message),
                            );
                        }
                    }
                }
            }
            outputs.push((name.to_string(), output_value));
        }
        outputs
    }

    fn runs(&mut self, node: &Node) -> Option<Runs> {
        let fields = self.fields(node, "`runs`", RUNS_KEYS);
        let get = |name: &str| fields.iter().find(|(f, _, _)| *f == name).map(|f| f.2);
        let Some(using_node) = get("using") else {
            self.error(
                Span::point(node.span.start),
                "`runs` has no `using`: say `composite`, `docker` or `node20`",
            );
            return None;
        };
        let using = self.scalar(using_node, "`composite`, `docker` or `node20`")?;
        let using_lower = using.to_ascii_lowercase();
        let string = |reader: &mut Self, name: &str| {
            get(name).and_then(|n| reader.scalar(n, &format!("a string for `{name}`")))
        };
        if using_lower == "composite" {
            let Some(steps_node) = get("steps") else {
                self.error(
                    Span::point(node.span.start),
                    "a composite action needs `runs.steps`",
                );
                return None;
            };
            let (steps, diagnostics) = workflow::read_steps(self.source, steps_node);
            self.diagnostics.extend(diagnostics);
            for step in &steps {
                if step.deploy.is_some() {
                    self.error(
                        Span::point(step.span.start),
                        "a composite action cannot deploy: a `deploy` step belongs in a job's steps",
                    );
                } else if matches!(step.action, StepAction::Run(_)) && step.shell.is_none() {
                    self.error(
                        Span::point(step.span.start),
                        "a `run` step of a composite action needs `shell` (bash, sh, python, …), as GitHub requires",
                    );
                }
            }
            return Some(Runs::Composite { steps });
        }
        if using_lower == "docker" {
            let Some(image) = string(self, "image") else {
                self.error(
                    Span::point(node.span.start),
                    "a Docker action needs `runs.image`: `Dockerfile` or `docker://IMAGE`",
                );
                return None;
            };
            let args = match get("args") {
                None => Vec::new(),
                Some(n) => match n.as_sequence() {
                    Some(items) => items
                        .iter()
                        .filter_map(|i| self.scalar(i, "a string argument"))
                        .collect(),
                    None => {
                        self.expected(n, "a list of arguments");
                        Vec::new()
                    }
                },
            };
            let mut env = IndexMap::new();
            if let Some(n) = get("env").filter(|n| !n.is_null()) {
                match n.as_mapping() {
                    Some(entries) => {
                        for (k, v) in entries {
                            if let (Some(k), Some(v)) =
                                (k.as_str(), self.scalar(v, "a string value"))
                            {
                                env.insert(k.to_string(), v);
                            }
                        }
                    }
                    None => self.expected(n, "a map of environment variables"),
                }
            }
            return Some(Runs::Docker {
                image,
                entrypoint: string(self, "entrypoint"),
                args,
                env,
                pre_entrypoint: string(self, "pre-entrypoint"),
                post_entrypoint: string(self, "post-entrypoint"),
            });
        }
        if NODE_VERSIONS.contains(&using_lower.as_str()) {
            let Some(main) = string(self, "main") else {
                self.error(
                    Span::point(node.span.start),
                    format!("a `{using}` action needs `runs.main`: the script that node runs"),
                );
                return None;
            };
            return Some(Runs::Node {
                using,
                main,
                pre: string(self, "pre"),
                pre_if: string(self, "pre-if"),
                post: string(self, "post"),
                post_if: string(self, "post-if"),
            });
        }
        self.error(
            using_node.span,
            format!(
                "unknown `using: {using}`: expected composite, docker, {}",
                NODE_VERSIONS.join(", ")
            ),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<ActionManifest, String> {
        parse(SourceFile::new("./act/action.yml", text))
    }

    #[test]
    fn composite_with_inputs_and_outputs() {
        let m = parse_text(
            "name: x\ninputs:\n  who:\n    default: world\noutputs:\n  said:\n    value: ${{ steps.s.outputs.v }}\nruns:\n  using: composite\n  steps:\n    - id: s\n      run: echo hi\n      shell: sh\n",
        )
        .unwrap();
        assert_eq!(m.inputs[0].default.as_deref(), Some("world"));
        assert!(matches!(m.runs, Runs::Composite { ref steps } if steps.len() == 1));
        assert!(m.outputs[0].1.is_some());
    }

    #[test]
    fn errors_carry_positions() {
        let e = parse_text("runs:\n  using: composite\n  steps:\n    - run: echo\n").unwrap_err();
        assert!(
            e.starts_with("./act/action.yml:4:7: error: a `run` step"),
            "{e}"
        );
        let e = parse_text("runs:\n  using: node99\n  main: x.js\n").unwrap_err();
        assert!(
            e.starts_with("./act/action.yml:2:10: error: unknown `using"),
            "{e}"
        );
        let e = parse_text("rnus:\n  using: docker\n").unwrap_err();
        assert!(e.contains("did you mean `runs`"), "{e}");
        let e = parse_text(
            "runs:\n  using: composite\n  steps:\n    - deploy: {model: \"iris:champion\"}\n",
        )
        .unwrap_err();
        assert!(
            e.starts_with("./act/action.yml:4:7: error: a composite action cannot deploy"),
            "{e}"
        );
    }
}
