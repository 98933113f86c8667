//! A step's `params` by key, as DVC reads them: the value of `train.lr` in
//! `params.yaml` (or a JSON or TOML file) goes into the step's cache key, so
//! that a change to another key of the same file does not invalidate it.

use super::tree::{Param, flatten_params, load_yaml};
use crate::expr::Value;
use std::collections::BTreeMap;

/// The values a step's `params` name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamValues {
    /// `file:key` (`file` alone for every key of it) to the value as
    /// canonical JSON (object keys sorted): what the cache key hashes.
    pub keyed: BTreeMap<String, String>,
    /// The values as the run store records them: dotted name and text.
    pub recorded: Vec<Param>,
}

/// Reads each requested `(file, key)`; `read` gives a file's bytes, or None
/// when it does not exist. Files are parsed once each.
pub fn select_params(
    requests: &[(String, Option<String>)],
    mut read: impl FnMut(&str) -> Result<Option<Vec<u8>>, String>,
) -> Result<ParamValues, String> {
    let mut documents: BTreeMap<String, Value> = BTreeMap::new();
    let mut values = ParamValues::default();
    for (file, key) in requests {
        if !documents.contains_key(file) {
            let bytes = read(file)?.ok_or_else(|| {
                format!("the params file `{file}` does not exist in the workspace")
            })?;
            let text = String::from_utf8_lossy(&bytes);
            documents.insert(file.clone(), parse_document(file, &text)?);
        }
        let document = &documents[file];
        match key {
            None => {
                values
                    .keyed
                    .insert(file.clone(), canonical_json(&document.to_json()));
                flatten_params("", document, &mut values.recorded);
            }
            Some(key) => {
                let value =
                    lookup(document, key).ok_or_else(|| missing_key(file, key, document))?;
                values
                    .keyed
                    .insert(format!("{file}:{key}"), canonical_json(&value.to_json()));
                flatten_params(key, value, &mut values.recorded);
            }
        }
    }
    Ok(values)
}

/// A params file as a value tree, by its extension: YAML, JSON or TOML.
pub fn parse_document(file: &str, text: &str) -> Result<Value, String> {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".json") {
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("cannot read `{file}` as JSON: {e}"))?;
        Ok(Value::from_json(&json))
    } else if lower.ends_with(".toml") {
        let json: serde_json::Value =
            toml::from_str(text).map_err(|e| format!("cannot read `{file}` as TOML: {e}"))?;
        Ok(Value::from_json(&json))
    } else {
        load_yaml(text).map_err(|e| format!("cannot read `{file}` as YAML: {e}"))
    }
}

/// The value at a dotted key: names of maps, indexes of lists (`layers.0`).
fn lookup<'v>(document: &'v Value, key: &str) -> Option<&'v Value> {
    let mut value = document;
    for part in key.split('.') {
        value = match value {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// "no key" with what there is at the deepest level that exists.
fn missing_key(file: &str, key: &str, document: &Value) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    let mut found = 0;
    let mut value = document;
    for part in &parts {
        match value {
            Value::Object(map) if map.get(part).is_some() => {
                value = map.get(part).expect("checked");
                found += 1;
            }
            _ => break,
        }
    }
    let at = if found == 0 {
        "at its top level".to_string()
    } else {
        format!("under `{}`", parts[..found].join("."))
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
            let names: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
            let mut message = format!(
                "the params file `{file}` has no key `{key}`; {at} it has {}",
                names.join(", ")
            );
            let close = keys
                .iter()
                .map(|k| (strsim::damerau_levenshtein(parts[found], k), *k))
                .filter(|(distance, k)| *distance <= (k.len() / 3).clamp(1, 3))
                .min_by_key(|(distance, _)| *distance)
                .map(|(_, k)| k);
            if let Some(close) = close {
                message.push_str(&format!(" (did you mean `{close}`?)"));
            }
            message
        }
        _ => format!("the params file `{file}` has no key `{key}`"),
    }
}

/// JSON with object keys sorted, so that reordering a file's keys changes nothing.
fn canonical_json(value: &serde_json::Value) -> String {
    fn sorted(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                serde_json::Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(sorted).collect())
            }
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(
        name: &'static str,
        text: &'static str,
    ) -> impl FnMut(&str) -> Result<Option<Vec<u8>>, String> {
        move |file: &str| Ok((file == name).then(|| text.as_bytes().to_vec()))
    }

    fn request(file: &str, key: Option<&str>) -> Vec<(String, Option<String>)> {
        vec![(file.to_string(), key.map(str::to_string))]
    }

    #[test]
    fn a_key_ignores_the_rest_of_its_file() {
        let before = select_params(
            &request("params.yaml", Some("train.lr")),
            files(
                "params.yaml",
                "train:\n  lr: 0.01\n  epochs: 3\nevaluate:\n  threshold: 0.5\n",
            ),
        )
        .unwrap();
        let after = select_params(
            &request("params.yaml", Some("train.lr")),
            files(
                "params.yaml",
                "# retuned\nevaluate:\n  threshold: 0.9\ntrain:\n  epochs: 30\n  lr: 0.01\n",
            ),
        )
        .unwrap();
        assert_eq!(before.keyed, after.keyed);
        assert_eq!(
            before.recorded,
            vec![Param {
                name: "train.lr".into(),
                value: "0.01".into()
            }]
        );
        let changed = select_params(
            &request("params.yaml", Some("train.lr")),
            files("params.yaml", "train:\n  lr: 0.02\n"),
        )
        .unwrap();
        assert_ne!(before.keyed, changed.keyed);
    }

    #[test]
    fn json_and_toml_files_and_list_indexes() {
        let json = select_params(
            &request("p.json", Some("layers.1.units")),
            files("p.json", r#"{"layers": [{"units": 8}, {"units": 16}]}"#),
        )
        .unwrap();
        assert_eq!(json.keyed["p.json:layers.1.units"], "16");
        let toml = select_params(
            &request("p.toml", Some("train.optimizer")),
            files("p.toml", "[train]\noptimizer = \"adam\"\nlr = 0.1\n"),
        )
        .unwrap();
        assert_eq!(toml.keyed["p.toml:train.optimizer"], "\"adam\"");
        let whole =
            select_params(&request("p.toml", None), files("p.toml", "b = 2\na = 1\n")).unwrap();
        assert_eq!(whole.keyed["p.toml"], r#"{"a":1,"b":2}"#);
    }

    #[test]
    fn missing_files_and_keys_say_what_there_is() {
        let error = select_params(
            &request("params.yaml", Some("train.lrr")),
            files("params.yaml", "train:\n  lr: 0.01\n  epochs: 3\n"),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "the params file `params.yaml` has no key `train.lrr`; under `train` it has `lr`, `epochs` (did you mean `lr`?)"
        );
        let error =
            select_params(&request("other.yaml", Some("x")), files("params.yaml", "")).unwrap_err();
        assert!(error.contains("`other.yaml` does not exist"), "{error}");
        let error =
            select_params(&request("p.json", Some("x")), files("p.json", "{oops")).unwrap_err();
        assert!(error.starts_with("cannot read `p.json` as JSON"), "{error}");
    }
}
