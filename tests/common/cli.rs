//! `mlci ARGS` in a directory, for the tests of commands that start no
//! container (`mlci data …`): its exit status and its two outputs.

use std::path::Path;
use std::process::Command;

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `mlci ARGS` in `dir` and fails the test if it panicked.
pub fn mlci(dir: &Path, args: &[&str]) -> Out {
    let output = Command::new(super::mlci_bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mlci runs");
    let out = Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "mlci {args:?} panicked:\n{}",
        out.stderr
    );
    out
}
