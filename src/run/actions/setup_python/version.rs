//! The versions `actions/setup-python` is asked for, and which Python found
//! in the image answers them. Pure: no I/O.
//!
//! A request is what setup-python accepts for CPython: an exact version
//! (`3.11.4`), a partial one that means its newest release (`3.11`, `3`,
//! `3.x`, `3.11.x`), or a range in node-semver's grammar (`>=3.10 <3.13`,
//! `~3.11`, `^3`, `3.10 - 3.12`, `a || b`), which also reads the PEP 440
//! specifiers of `requires-python` (`>=3.10,<3.13`, `~=3.11`, `!=3.12.*`).
//! `3.13-dev` admits pre-releases. Other interpreters (`pypy3.10`,
//! `graalpy-24.0`) and free-threaded builds (`3.13t`) are refused with a
//! sentence: mlci sets up CPython only, and never another version quietly.

use std::fmt;

/// A CPython release: `major.minor.micro`, with `pre` set for alphas, betas
/// and release candidates (`3.14.0rc1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyVersion {
    pub numbers: (u64, u64, u64),
    /// Sorts below the release it precedes (see [`cmp_versions`]).
    pub pre: Option<PreRelease>,
}

/// `a1`, `b2`, `rc1`: `level` 0, 1, 2 orders them as Python does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreRelease {
    pub level: u8,
    pub serial: u64,
    pub text: String,
}

impl PyVersion {
    /// Reads `sys.version_info` as the probe prints it: `3 11 2 final 0`.
    pub fn from_version_info(text: &str) -> Option<PyVersion> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let [major, minor, micro, level, serial] = parts[..] else {
            return None;
        };
        let numbers = (
            major.parse().ok()?,
            minor.parse().ok()?,
            micro.parse().ok()?,
        );
        let serial: u64 = serial.parse().ok()?;
        let pre = match level {
            "final" => None,
            "alpha" => Some((0, "a")),
            "beta" => Some((1, "b")),
            "candidate" => Some((2, "rc")),
            _ => return None,
        }
        .map(|(level, tag)| PreRelease {
            level,
            serial,
            text: format!("{tag}{serial}"),
        });
        Some(PyVersion { numbers, pre })
    }

    /// `3.11`: the part that names an interpreter binary (`python3.11`).
    pub fn minor(&self) -> String {
        format!("{}.{}", self.numbers.0, self.numbers.1)
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b, c) = self.numbers;
        write!(f, "{a}.{b}.{c}")?;
        if let Some(pre) = &self.pre {
            write!(f, "{}", pre.text)?;
        }
        Ok(())
    }
}

/// One `python-version` request, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// As the user wrote it, for messages.
    pub text: String,
    /// Any one of these sets of comparators (`||`) admits a version.
    alternatives: Vec<Vec<Comparator>>,
    /// `-dev`: pre-releases count.
    pub allow_pre: bool,
}

/// The versions `[lower, upper)` in numbers; `upper` None is unbounded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Comparator {
    Within(Numbers, Option<Numbers>),
    Outside(Numbers, Option<Numbers>),
}

type Numbers = (u64, u64, u64);

/// A partial version: its numbers as given (0 to 3 of them).
struct Partial(Vec<u64>);

impl Partial {
    fn parse(text: &str) -> Option<Partial> {
        let text = text.trim().trim_start_matches(['v', 'V']);
        let mut numbers = Vec::new();
        for (i, part) in text.split('.').enumerate() {
            if i >= 3 {
                return None;
            }
            if matches!(part, "x" | "X" | "*") {
                break;
            }
            numbers.push(part.parse::<u64>().ok()?);
        }
        // `3.x.1` and `3.*.2` are not versions.
        if text.split('.').count() > numbers.len()
            && text
                .split('.')
                .skip(numbers.len())
                .any(|p| !matches!(p, "x" | "X" | "*"))
        {
            return None;
        }
        Some(Partial(numbers))
    }

    fn lower(&self) -> Numbers {
        let n = |i: usize| self.0.get(i).copied().unwrap_or(0);
        (n(0), n(1), n(2))
    }

    /// The first version past every version this partial names.
    fn upper(&self) -> Option<Numbers> {
        let (a, b, c) = self.lower();
        match self.0.len() {
            0 => None,
            1 => Some((a + 1, 0, 0)),
            2 => Some((a, b + 1, 0)),
            _ => Some((a, b, c + 1)),
        }
    }
}

impl Request {
    /// Parses one request; the error is one sentence that says what works.
    pub fn parse(text: &str) -> Result<Request, String> {
        let shown = text.trim().to_string();
        let lower = shown.to_ascii_lowercase();
        if lower.is_empty() {
            return Err("the Python version is empty".to_string());
        }
        if lower.starts_with("pypy") || lower.starts_with("graalpy") {
            return Err(format!(
                "`{shown}`: mlci's setup-python sets up CPython only, not PyPy or GraalPy; use an image that has it (`container:` or `-P`) and call it from `run:`"
            ));
        }
        let (body, allow_pre) = match lower.strip_suffix("-dev") {
            Some(rest) => (rest.to_string(), true),
            None => (lower.clone(), false),
        };
        if body.ends_with('t') && body.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return Err(format!(
                "`{shown}`: free-threaded builds are not supported by mlci's setup-python"
            ));
        }
        let invalid = || {
            format!(
                "`{shown}` is not a Python version: expected one like 3.11, 3.11.4, 3.x or a range such as `>=3.10 <3.13`"
            )
        };
        let mut alternatives = Vec::new();
        for alternative in body.split("||") {
            let comparators = parse_alternative(alternative).ok_or_else(invalid)?;
            alternatives.push(comparators);
        }
        Ok(Request {
            text: shown,
            alternatives,
            allow_pre,
        })
    }

    pub fn admits(&self, version: &PyVersion) -> bool {
        if version.pre.is_some() && !self.allow_pre {
            return false;
        }
        let v = version.numbers;
        self.alternatives.iter().any(|set| {
            set.iter().all(|c| match c {
                Comparator::Within(lo, hi) => v >= *lo && hi.is_none_or(|hi| v < hi),
                Comparator::Outside(lo, hi) => !(v >= *lo && hi.is_none_or(|hi| v < hi)),
            })
        })
    }

    /// The newest of `found` that this request admits; the first found of
    /// equal ones (`max_by` keeps the last, so the search runs backwards).
    pub fn best<'a, T>(&self, found: &'a [T], version: impl Fn(&T) -> &PyVersion) -> Option<&'a T> {
        found
            .iter()
            .rev()
            .filter(|f| self.admits(version(f)))
            .max_by(|a, b| cmp_versions(version(a), version(b)))
    }

    /// The version to ask an installer for, when the request names one
    /// release line plainly (`3.12`, `3.12.4`); ranges are not installed.
    pub fn installable(&self) -> Option<String> {
        let plain = self.text.trim_end_matches("-dev");
        let parts: Vec<&str> = plain.split('.').collect();
        ((2..=3).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u64>().is_ok()))
            .then(|| plain.to_string())
    }
}

/// Final releases above their pre-releases.
fn cmp_versions(a: &PyVersion, b: &PyVersion) -> std::cmp::Ordering {
    a.numbers
        .cmp(&b.numbers)
        .then_with(|| match (&a.pre, &b.pre) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => (x.level, x.serial).cmp(&(y.level, y.serial)),
        })
}

/// One `||` alternative: comparators separated by spaces or commas, or a
/// hyphen range `A - B`.
fn parse_alternative(text: &str) -> Option<Vec<Comparator>> {
    let text = text.trim();
    if let Some((from, to)) = text.split_once(" - ") {
        let from = Partial::parse(from)?;
        let to = Partial::parse(to)?;
        return Some(vec![Comparator::Within(from.lower(), to.upper())]);
    }
    // `>= 3.10` is one comparator: join an operator to the version after it.
    let mut words: Vec<String> = Vec::new();
    for word in text.split([' ', ',', '\t']).filter(|w| !w.is_empty()) {
        match words.last_mut() {
            Some(last) if last.chars().all(|c| "<>=!~^".contains(c)) => last.push_str(word),
            _ => words.push(word.to_string()),
        }
    }
    if words.is_empty() {
        return None;
    }
    words.iter().map(|w| comparator(w)).collect()
}

fn comparator(word: &str) -> Option<Comparator> {
    let split = word
        .find(|c: char| !"<>=!~^".contains(c))
        .unwrap_or(word.len());
    let (op, version) = word.split_at(split);
    let partial = Partial::parse(version)?;
    let (lo, hi) = (partial.lower(), partial.upper());
    let given = partial.0.len();
    Some(match op {
        "" | "=" | "==" => Comparator::Within(lo, hi),
        ">=" => Comparator::Within(lo, None),
        ">" => Comparator::Within(hi?, None),
        "<" => Comparator::Within((0, 0, 0), Some(lo)),
        "<=" => Comparator::Within((0, 0, 0), hi),
        "!=" => Comparator::Outside(lo, hi),
        "^" => Comparator::Within(lo, Some((lo.0 + 1, 0, 0))),
        "~" => {
            let upper = if given >= 2 {
                (lo.0, lo.1 + 1, 0)
            } else {
                (lo.0 + 1, 0, 0)
            };
            Comparator::Within(lo, Some(upper))
        }
        // PEP 440's compatible release: the last given number may grow.
        "~=" => match given {
            2 => Comparator::Within(lo, Some((lo.0 + 1, 0, 0))),
            3 => Comparator::Within(lo, Some((lo.0, lo.1 + 1, 0))),
            _ => return None,
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> PyVersion {
        let mut parts = text.split('.').map(|p| p.parse::<u64>().unwrap());
        PyVersion {
            numbers: (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            ),
            pre: None,
        }
    }

    fn admits(request: &str, version: &str) -> bool {
        Request::parse(request).unwrap().admits(&v(version))
    }

    #[test]
    fn partial_versions_mean_their_release_line() {
        assert!(admits("3.11", "3.11.9"));
        assert!(!admits("3.11", "3.12.0"));
        assert!(!admits("3.11", "3.1.0"));
        assert!(admits("3.x", "3.13.1"));
        assert!(admits("3", "3.9.0"));
        assert!(admits("3.11.x", "3.11.2"));
        assert!(admits("3.11.4", "3.11.4"));
        assert!(!admits("3.11.4", "3.11.2"));
    }

    #[test]
    fn ranges_in_semver_and_pep_440_forms() {
        for request in [
            ">=3.10 <3.13",
            ">=3.10,<3.13",
            ">= 3.10, < 3.13",
            "3.10 - 3.12",
        ] {
            assert!(admits(request, "3.12.7"), "{request}");
            assert!(admits(request, "3.10.0"), "{request}");
            assert!(!admits(request, "3.13.0"), "{request}");
            assert!(!admits(request, "3.9.18"), "{request}");
        }
        assert!(admits("~=3.11", "3.13.0"));
        assert!(!admits("~=3.11.4", "3.12.0"));
        assert!(admits("~3.11", "3.11.8"));
        assert!(!admits("~3.11", "3.12.0"));
        assert!(admits("^3.10", "3.13.0"));
        assert!(!admits(">3.11", "3.11.9"));
        assert!(admits("<=3.12", "3.12.5"));
        assert!(!admits("!=3.12.*", "3.12.1"));
        assert!(admits("3.9 || 3.11", "3.11.2"));
    }

    #[test]
    fn the_newest_admitted_version_is_chosen() {
        let found = [v("3.11.2"), v("3.12.1"), v("3.13.0")];
        let request = Request::parse(">=3.11 <3.13").unwrap();
        assert_eq!(request.best(&found, |x| x), Some(&v("3.12.1")));
        assert_eq!(Request::parse("3.10").unwrap().best(&found, |x| x), None);
    }

    #[test]
    fn pre_releases_only_with_dev() {
        let rc = PyVersion::from_version_info("3 14 0 candidate 1").unwrap();
        assert_eq!(rc.to_string(), "3.14.0rc1");
        assert!(!Request::parse("3.14").unwrap().admits(&rc));
        assert!(Request::parse("3.14-dev").unwrap().admits(&rc));
    }

    #[test]
    fn other_interpreters_and_nonsense_are_refused_in_a_sentence() {
        let err = Request::parse("pypy3.10").unwrap_err();
        assert!(err.contains("CPython only"), "{err}");
        assert!(Request::parse("graalpy-24.0").is_err());
        assert!(
            Request::parse("3.13t")
                .unwrap_err()
                .contains("free-threaded")
        );
        let err = Request::parse("three").unwrap_err();
        assert!(err.contains("is not a Python version"), "{err}");
        assert!(Request::parse("3.x.1").is_err());
        assert!(Request::parse("").is_err());
    }

    #[test]
    fn plain_versions_can_be_installed_ranges_not() {
        assert_eq!(
            Request::parse("3.12").unwrap().installable().as_deref(),
            Some("3.12")
        );
        assert_eq!(Request::parse(">=3.12").unwrap().installable(), None);
        assert_eq!(Request::parse("3.x").unwrap().installable(), None);
    }
}
