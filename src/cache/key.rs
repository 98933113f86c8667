//! Cache keys: everything a step's result depends on, hashed.

use super::tree::Tree;
use std::collections::BTreeMap;

/// The version of the key format. Changing how keys are computed bumps it, so that
/// entries saved under the old format are never taken for the new.
pub const KEY_VERSION: &str = "k1";

/// What a step's key is computed from.
#[derive(Clone, Debug, Default)]
pub struct KeyInput {
    /// The command after expression evaluation; sealed when it carries a
    /// secret (see [`super::SecretKey`]).
    pub command: String,
    /// The shell (`bash`, `python`, a custom `{0}` template…).
    pub shell: String,
    /// The image's content digest (`sha256:…`), not its tag.
    pub image_digest: String,
    /// The environment that reaches the step; a value that carries a secret
    /// is sealed (see [`super::SecretKey`]), never hashed in clear.
    pub env: BTreeMap<String, String>,
    pub working_directory: String,
    /// The step's inputs as the step will see them (see [`Tree::overlay`]).
    pub inputs: Tree,
    /// The step's `params` by value: `file:key` to the value as canonical
    /// JSON. Other keys of the same file are not in the key.
    pub params: BTreeMap<String, String>,
}

/// A step's cache key: `k1-` and 64 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CacheKey(String);

impl CacheKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key of another origin (an `actions/cache` key, a key typed on the command line).
    pub fn from_string(key: impl Into<String>) -> CacheKey {
        CacheKey(key.into())
    }

    /// The first characters, for logs: `k1-3f2a9c01d4e5`.
    pub fn short(&self) -> &str {
        let end = self
            .0
            .char_indices()
            .nth(15)
            .map_or(self.0.len(), |(i, _)| i);
        &self.0[..end]
    }
}

impl std::fmt::Display for CacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl KeyInput {
    /// The key: BLAKE3 over every field, each length-prefixed so that no two different
    /// inputs can produce the same byte stream.
    pub fn key(&self) -> CacheKey {
        let mut hasher = blake3::Hasher::new();
        let mut field = |name: &str, value: &[u8]| {
            hasher.update(name.as_bytes());
            hasher.update(&(value.len() as u64).to_le_bytes());
            hasher.update(value);
        };
        field("version", KEY_VERSION.as_bytes());
        field("command", self.command.as_bytes());
        field("shell", self.shell.as_bytes());
        field("image", self.image_digest.as_bytes());
        for (name, value) in &self.env {
            field("env.name", name.as_bytes());
            field("env.value", value.as_bytes());
        }
        field("workdir", self.working_directory.as_bytes());
        field("inputs", self.inputs.hash().as_bytes());
        // Keys of steps without params are what they were before params existed.
        for (name, value) in &self.params {
            field("param.name", name.as_bytes());
            field("param.value", value.as_bytes());
        }
        CacheKey(format!("{KEY_VERSION}-{}", hasher.finalize().to_hex()))
    }
}
