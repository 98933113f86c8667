//! A step's `params:`, as DVC writes them: `file:key`, a bare `key` (of
//! `params.yaml`), a bare file name (every key of it), or a map from a file
//! to its keys.

use super::reader::{Reader, is_expression};
use crate::workflow::context;
use crate::workflow::model::{DEFAULT_PARAMS_FILE, ParamRef, Spanned};
use crate::yaml::{Node, NodeKind};

/// The extensions of the files `params` reads, and their formats.
const PARAMS_EXTENSIONS: &[&str] = &[".yaml", ".yml", ".json", ".toml"];

impl Reader<'_> {
    pub(super) fn params(&mut self, node: &Node) -> Vec<ParamRef> {
        let mut params = Vec::new();
        match &node.kind {
            NodeKind::Sequence(items) => {
                for item in items {
                    self.param_item(item, &mut params);
                }
            }
            NodeKind::Scalar(_) if node.is_null() => {}
            _ => self.param_item(node, &mut params),
        }
        params
    }

    fn param_item(&mut self, node: &Node, params: &mut Vec<ParamRef>) {
        match &node.kind {
            NodeKind::Scalar(_) => {
                let Some(text) = self.required_string(node, "a parameter", Some(&context::STEP))
                else {
                    return;
                };
                let span = text.span;
                let param = match split_file_key(&text.value) {
                    Some((file, key)) => ParamRef {
                        file: Spanned::new(file.to_string(), span),
                        key: Some(Spanned::new(key.to_string(), span)),
                    },
                    None if is_params_file_name(&text.value) => ParamRef {
                        file: text,
                        key: None,
                    },
                    None => ParamRef {
                        file: Spanned::new(DEFAULT_PARAMS_FILE.to_string(), span),
                        key: Some(text),
                    },
                };
                self.check_param(&param);
                params.push(param);
            }
            NodeKind::Mapping(entries) => {
                for (file_node, keys) in entries {
                    let Some(file) = self.required_string(file_node, "a params file", None) else {
                        continue;
                    };
                    let keys: Vec<Option<Spanned<String>>> = match &keys.kind {
                        _ if keys.is_null() => vec![None],
                        NodeKind::Sequence(_) | NodeKind::Scalar(_) => self
                            .string_list(keys, Some(&context::STEP))
                            .into_iter()
                            .map(Some)
                            .collect(),
                        NodeKind::Mapping(_) => {
                            self.expected(keys, "a list of keys of the params file");
                            continue;
                        }
                    };
                    for key in keys {
                        let param = ParamRef {
                            file: file.clone(),
                            key,
                        };
                        self.check_param(&param);
                        params.push(param);
                    }
                }
            }
            NodeKind::Sequence(_) => self.expected(
                node,
                "`file:key`, a key of params.yaml, or a map of files to keys",
            ),
        }
    }

    fn check_param(&mut self, param: &ParamRef) {
        let file = &param.file;
        if !is_expression(&file.value) && !is_params_file_name(&file.value) {
            self.error(
                file.span,
                format!(
                    "`{}` is not a params file: params are read from YAML (.yaml, .yml), JSON (.json) or TOML (.toml) files",
                    file.value
                ),
            );
        }
        if let Some(key) = &param.key
            && !is_expression(&key.value)
            && key.value.split('.').any(|part| part.trim().is_empty())
        {
            self.error(
                key.span,
                format!(
                    "`{}` is not a parameter key: expected dotted names such as `train.lr`",
                    key.value
                ),
            );
        }
    }
}

/// Whether a name ends as a params file does.
pub(super) fn is_params_file_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    PARAMS_EXTENSIONS.iter().any(|ext| lower.ends_with(ext))
}

/// `file:key` split at the first `:` outside `${{ }}`; None without one.
fn split_file_key(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if text[i..].starts_with("${{") {
            depth += 1;
            i += 3;
            continue;
        }
        if depth > 0 && text[i..].starts_with("}}") {
            depth -= 1;
            i += 2;
            continue;
        }
        if depth == 0 && bytes[i] == b':' {
            return Some((&text[..i], &text[i + 1..]));
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_and_key_split_outside_expressions() {
        assert_eq!(
            split_file_key("params.yaml:train.lr"),
            Some(("params.yaml", "train.lr"))
        );
        assert_eq!(
            split_file_key("${{ matrix.a == 'x' && 'p.yaml' || 'q.yaml' }}:lr"),
            Some(("${{ matrix.a == 'x' && 'p.yaml' || 'q.yaml' }}", "lr"))
        );
        assert_eq!(split_file_key("train.lr"), None);
        assert!(is_params_file_name("conf/Params.TOML"));
        assert!(!is_params_file_name("train.lr"));
    }
}
