//! What a person types to name a model version: `iris`, `iris@3`,
//! `iris:champion`, on the command line and in a `deploy:` step. It is part
//! of the workflow language, so it lives here; the registry resolves it.

use super::parse::is_registry_name;

/// A model version as named on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRef {
    pub name: String,
    pub pick: Pick,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The newest version.
    Latest,
    Version(i64),
    Alias(String),
}

impl ModelRef {
    pub fn parse(text: &str) -> Result<ModelRef, String> {
        let bad = || {
            format!(
                "`{text}` is not a model: write NAME, NAME@VERSION (iris@3) or NAME:ALIAS (iris:champion)"
            )
        };
        let (name, pick) = if let Some((name, version)) = text.split_once('@') {
            let version = version
                .strip_prefix('v')
                .unwrap_or(version)
                .parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(bad)?;
            (name, Pick::Version(version))
        } else if let Some((name, alias)) = text.split_once(':') {
            if !is_registry_name(alias) {
                return Err(bad());
            }
            (name, Pick::Alias(alias.to_string()))
        } else {
            (text, Pick::Latest)
        };
        if !is_registry_name(name) {
            return Err(bad());
        }
        Ok(ModelRef {
            name: name.to_string(),
            pick,
        })
    }
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.pick {
            Pick::Latest => write!(f, "{}", self.name),
            Pick::Version(v) => write!(f, "{}@{v}", self.name),
            Pick::Alias(a) => write!(f, "{}:{a}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_versions_and_aliases() {
        assert_eq!(ModelRef::parse("iris").unwrap().pick, Pick::Latest);
        assert_eq!(ModelRef::parse("iris@3").unwrap().pick, Pick::Version(3));
        assert_eq!(ModelRef::parse("iris@v3").unwrap().pick, Pick::Version(3));
        assert_eq!(
            ModelRef::parse("iris:champion").unwrap().pick,
            Pick::Alias("champion".into())
        );
        for bad in [
            "iris@",
            "iris@0",
            "iris@x",
            ":champion",
            "iris:",
            "9lives",
            "a b",
        ] {
            assert!(ModelRef::parse(bad).is_err(), "{bad}");
        }
    }
}
