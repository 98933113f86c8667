//! What the controller (`mlci run` with a cluster executor) and the agent
//! (`mlci agent`, inside the pod or the Slurm job) say to each other.
//!
//! Requests and replies are JSON objects in the mailbox, numbered in order;
//! files travel beside them as tar blobs. The output of a command travels on
//! the agent's standard output (the pod's log, the Slurm job's output file) as
//! frames, one line each, so that it streams while the command runs:
//!
//! ```text
//! \x1emlci <n> o <base64>    bytes the command of request n wrote on stdout
//! \x1emlci <n> e <base64>    … on stderr
//! \x1emlci <n> x             the command ended: nothing more of n follows
//! ```
//!
//! Any other line is the agent's own (its start, its errors) and is shown
//! with the job's prefix.
//!
//! Secret values never travel in a request: the controller replaces each one
//! with a placeholder that names the secret, and the agent puts the value
//! back from the secrets it was given (a Kubernetes Secret, a file only the
//! user can read); see [`SecretPlaceholders`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The start of every frame line.
pub const FRAME_MARK: &str = "\u{1e}mlci ";

/// One numbered request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Request {
    pub number: u64,
    pub op: Op,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Run a command; its output comes as frames, its end in the reply.
    Exec {
        argv: Vec<String>,
        env: BTreeMap<String, String>,
        workdir: String,
        timeout_ms: Option<u64>,
    },
    /// Unpack the request's tar blob at `path` (a directory, created).
    Unpack { path: String },
    /// Pack `path` (a file or a directory) into the reply's tar blob; a
    /// missing path is `Reply::missing`.
    Pack { path: String },
    /// Pack the regular files directly inside `path` (no subdirectories).
    PackDirFiles { path: String },
    /// The controller is done with the job: the agent exits.
    Shutdown,
}

/// The agent's answer to request `number`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    pub number: u64,
    /// Why the request could not be carried out (an engine problem, not a
    /// command's failure).
    pub error: Option<String>,
    /// How a command ended.
    pub outcome: Option<Outcome>,
    /// Whether a tar blob goes with the reply.
    pub blob: bool,
    /// `Pack` of a path that does not exist.
    pub missing: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Exited(i64),
    TimedOut,
    Cancelled,
}

/// A frame read back from the output stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Stdout(u64, Vec<u8>),
    Stderr(u64, Vec<u8>),
    End(u64),
}

impl Frame {
    /// The line (with its newline) that carries this frame.
    pub fn encode(&self) -> String {
        match self {
            Frame::Stdout(n, bytes) => format!("{FRAME_MARK}{n} o {}\n", STANDARD.encode(bytes)),
            Frame::Stderr(n, bytes) => format!("{FRAME_MARK}{n} e {}\n", STANDARD.encode(bytes)),
            Frame::End(n) => format!("{FRAME_MARK}{n} x\n"),
        }
    }

    /// The frame a line carries; None for the agent's own lines (and for
    /// lines a log system mangled).
    pub fn decode(line: &str) -> Option<Frame> {
        let rest = line
            .trim_end_matches(['\r', '\n'])
            .strip_prefix(FRAME_MARK)?;
        let mut parts = rest.splitn(3, ' ');
        let number = parts.next()?.parse().ok()?;
        match (parts.next()?, parts.next()) {
            ("o", Some(data)) => Some(Frame::Stdout(number, STANDARD.decode(data).ok()?)),
            ("e", Some(data)) => Some(Frame::Stderr(number, STANDARD.decode(data).ok()?)),
            ("x", None) => Some(Frame::End(number)),
            _ => None,
        }
    }
}

/// Swaps secret values for placeholders on the controller's side and back
/// on the agent's. A placeholder names the secret, never its value:
/// `\u{1a}mlci-secret:NAME\u{1a}` (SUB, a byte no script or value carries).
#[derive(Clone, Debug, Default)]
pub struct SecretPlaceholders {
    /// name → value, longest value first so that a secret that contains
    /// another is replaced whole.
    secrets: Vec<(String, String)>,
}

const PLACEHOLDER_MARK: char = '\u{1a}';

impl SecretPlaceholders {
    pub fn new(secrets: &BTreeMap<String, String>) -> SecretPlaceholders {
        let mut secrets: Vec<(String, String)> = secrets
            .iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        secrets.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        SecretPlaceholders { secrets }
    }

    /// Every secret value in `text` replaced by its placeholder.
    pub fn hide(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (name, value) in &self.secrets {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), &placeholder(name));
            }
        }
        text
    }

    /// `hide` for file contents: text files are rewritten, other bytes kept.
    pub fn hide_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) if !self.secrets.is_empty() => self.hide(text).into_bytes(),
            _ => bytes.to_vec(),
        }
    }

    /// Every placeholder in `text` replaced by its secret's value; a
    /// placeholder of a secret the agent was not given stays as it is.
    pub fn reveal(&self, text: &str) -> String {
        if !text.contains(PLACEHOLDER_MARK) {
            return text.to_string();
        }
        let mut text = text.to_string();
        for (name, value) in &self.secrets {
            text = text.replace(&placeholder(name), value);
        }
        text
    }

    pub fn reveal_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match std::str::from_utf8(bytes) {
            Ok(text) if text.contains(PLACEHOLDER_MARK) => self.reveal(text).into_bytes(),
            _ => bytes.to_vec(),
        }
    }

    /// Output bytes with every secret value shown as `***`, so that the
    /// cluster's log store never holds one.
    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        for (_, value) in &self.secrets {
            out = replace_bytes(&out, value.as_bytes(), b"***");
        }
        out
    }
}

fn placeholder(name: &str) -> String {
    format!("{PLACEHOLDER_MARK}mlci-secret:{name}{PLACEHOLDER_MARK}")
}

fn replace_bytes(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return haystack.to_vec();
    }
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_a_round_trip_and_other_lines_are_not_frames() {
        for frame in [
            Frame::Stdout(3, b"hello\n\x00\xff".to_vec()),
            Frame::Stderr(12, Vec::new()),
            Frame::End(7),
        ] {
            assert_eq!(Frame::decode(&frame.encode()), Some(frame));
        }
        assert_eq!(Frame::decode("mlci agent: waiting for requests\n"), None);
        assert_eq!(Frame::decode("\u{1e}mlci 3 o !!notbase64"), None);
    }

    #[test]
    fn secrets_are_hidden_by_name_and_revealed_by_value() {
        let secrets = BTreeMap::from([
            ("TOKEN".to_string(), "s3cr3t".to_string()),
            ("LONG".to_string(), "s3cr3t-and-more".to_string()),
        ]);
        let placeholders = SecretPlaceholders::new(&secrets);
        let hidden = placeholders.hide("echo s3cr3t-and-more s3cr3t");
        assert!(!hidden.contains("s3cr3t"), "{hidden:?}");
        assert!(hidden.contains("mlci-secret:LONG") && hidden.contains("mlci-secret:TOKEN"));
        assert_eq!(placeholders.reveal(&hidden), "echo s3cr3t-and-more s3cr3t");
        assert_eq!(
            placeholders.mask_bytes(b"token s3cr3t!"),
            b"token ***!".to_vec()
        );
    }
}
