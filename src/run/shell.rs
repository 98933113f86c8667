//! Which program runs a `run:` step and with which arguments, as GitHub's
//! Linux runner decides it (actions/runner
//! `src/Runner.Worker/Handlers/ScriptHandler.cs` and
//! `ScriptHandlerHelpers.cs`).
//!
//! | `shell:`        | command                                          | script file |
//! | --------------- | ------------------------------------------------ | ----------- |
//! | unset, bash     | `bash -e {0}`                                    | `.sh`       |
//! | unset, no bash  | `sh -e {0}`                                      | `.sh`       |
//! | `bash`          | `bash --noprofile --norc -e -o pipefail {0}`     | `.sh`       |
//! | `sh`            | `sh -e {0}`                                      | `.sh`       |
//! | `python`        | `python {0}`                                     | `.py`       |
//! | `pwsh`          | `pwsh -command ". '{0}'"`                        | `.ps1`      |
//! | `cmd`, `powershell` | Windows only: refused here                   |             |
//! | `perl {0}`      | the program, then the rest as the argument format | none        |
//!
//! The names of built-in shells match case-insensitively. A custom shell is
//! split at its first space into the program and the argument format; an
//! empty format falls back to the built-in one of that program name, and a
//! format without `{0}` is refused.
//!
//! GitHub's docs write bash's flags as `-eo pipefail`; its runner passes
//! `-e -o pipefail`, which means the same, and that is what this module
//! produces.
//!
//! In a job with `container:`, GitHub's runner looks for bash on the host,
//! but then runs the *shell name* it resolved inside the container, which
//! for an unset `shell:` is `sh` (actions/runner#1533; GitHub's docs note it
//! for container jobs). Pass `has_bash = false` for such jobs to do the same.

use std::fmt;

/// Why a `shell:` value cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellError {
    /// `cmd` or `powershell`: these exist on Windows runners only.
    WindowsOnly(String),
    /// No built-in shell of that name and no `{0}` in the format (GitHub's
    /// message).
    Invalid(String),
    /// The format has braces that .NET's `string.Format` rejects.
    BadFormat(String),
}

impl fmt::Display for ShellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShellError::WindowsOnly(s) => write!(
                f,
                "shell '{s}' is only available on Windows runners; mlci runs steps in Linux containers"
            ),
            ShellError::Invalid(_) => write!(
                f,
                "Invalid shell option. Shell must be a valid built-in (bash, sh, cmd, powershell, pwsh) or a format string containing '{{0}}'"
            ),
            ShellError::BadFormat(s) => {
                write!(f, "Invalid shell option '{s}': unbalanced '{{' or '}}'")
            }
        }
    }
}

impl std::error::Error for ShellError {}

/// A resolved shell: the program and the argument format with `{0}` where
/// the script's path goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellCommand {
    /// The program to run, as written (`bash`, `python`, `perl`, …).
    pub program: String,
    /// The argument format, e.g. `--noprofile --norc -e -o pipefail {0}`.
    pub args_format: String,
    /// The shell name GitHub keys its tables on (`sh` for an unset
    /// `shell:`, else the program as written).
    pub shell_name: String,
    /// Extension of the script file GitHub writes: `.sh`, `.py`, `.ps1`, or
    /// empty for a custom program.
    pub extension: &'static str,
}

impl ShellCommand {
    /// The line GitHub logs before the step runs: `bash -e {0}`.
    pub fn display(&self) -> String {
        format!("{} {}", self.program, self.args_format)
    }

    /// The argument list for a script at `script_path`: the program, then
    /// the format with `{0}` replaced (double quotes in the path escaped as
    /// `\"`, as GitHub does) and split as .NET splits a command line.
    pub fn argv(&self, script_path: &str) -> Vec<String> {
        let path = script_path.replace('"', "\\\"");
        let args = format_arg(&self.args_format, &path).unwrap_or_default();
        let mut out = vec![self.program.clone()];
        out.extend(split_command_line(&args));
        out
    }

    /// The script file name GitHub would use for `stem` (a GUID on GitHub).
    pub fn script_file_name(&self, stem: &str) -> String {
        format!("{stem}{}", self.extension)
    }
}

fn builtin_args(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "cmd" => Some("/D /E:ON /V:OFF /S /C \"CALL \"{0}\"\""),
        "pwsh" | "powershell" => Some("-command \". '{0}'\""),
        "bash" => Some("--noprofile --norc -e -o pipefail {0}"),
        "sh" => Some("-e {0}"),
        "python" => Some("{0}"),
        _ => None,
    }
}

fn builtin_extension(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "cmd" => ".cmd",
        "pwsh" | "powershell" => ".ps1",
        "bash" | "sh" => ".sh",
        "python" => ".py",
        _ => "",
    }
}

/// Resolves a step's `shell:` (after `defaults.run.shell`) for a Linux
/// container; `has_bash` says whether `bash` is on the container's `PATH`.
pub fn resolve(shell: Option<&str>, has_bash: bool) -> Result<ShellCommand, ShellError> {
    let shell = shell.filter(|s| !s.is_empty());
    let Some(shell) = shell else {
        let program = if has_bash { "bash" } else { "sh" };
        return Ok(ShellCommand {
            program: program.to_string(),
            args_format: "-e {0}".to_string(),
            shell_name: "sh".to_string(),
            extension: ".sh",
        });
    };
    let (program, rest) = match shell.split_once(' ') {
        Some((p, r)) => (p, r),
        None => (shell, ""),
    };
    let lower = program.to_ascii_lowercase();
    if lower == "cmd" || lower == "powershell" {
        return Err(ShellError::WindowsOnly(program.to_string()));
    }
    let mut args = rest.trim_start().to_string();
    if args.is_empty() {
        args = builtin_args(program).unwrap_or_default().to_string();
    }
    if args.is_empty() || !args.contains("{0}") {
        return Err(ShellError::Invalid(shell.to_string()));
    }
    if format_arg(&args, "").is_none() {
        return Err(ShellError::BadFormat(shell.to_string()));
    }
    Ok(ShellCommand {
        program: program.to_string(),
        args_format: args,
        shell_name: program.to_string(),
        extension: builtin_extension(program),
    })
}

/// The script file's contents for `run`: GitHub wraps PowerShell scripts
/// (`pwsh`, `powershell`) so that errors stop them and their last exit
/// code is the step's, and starts `cmd` scripts with `@echo off`; other
/// shells get `run` unchanged. (GitHub matches these names exactly.)
pub fn script_body(run: &str, shell: &ShellCommand) -> String {
    match shell.shell_name.as_str() {
        "pwsh" | "powershell" => format!(
            "$ErrorActionPreference = 'stop'\n{run}\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) {{ exit $LASTEXITCODE }}"
        ),
        "cmd" => format!("@echo off\n{run}"),
        _ => run.to_string(),
    }
}

/// .NET `string.Format(format, arg)`: `{0}` is the argument, `{{` and `}}`
/// are braces; anything else between braces is an error (`None`).
fn format_arg(format: &str, arg: &str) -> Option<String> {
    let mut out = String::with_capacity(format.len() + arg.len());
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => inner.push(ch),
                        None => return None,
                    }
                }
                let (index, _) = inner.split_once([',', ':']).unwrap_or((&inner, ""));
                if index.trim() != "0" {
                    return None;
                }
                out.push_str(arg);
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits a command line as .NET's `ProcessStartInfo.Arguments` is split:
/// whitespace separates arguments, double quotes group, `\"` is a quote,
/// and backslashes are literal unless they precede a quote.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut in_arg = false;
    let mut quoted = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let mut n = 0;
            while i < chars.len() && chars[i] == '\\' {
                n += 1;
                i += 1;
            }
            in_arg = true;
            if i < chars.len() && chars[i] == '"' {
                cur.extend(std::iter::repeat_n('\\', n / 2));
                if n % 2 == 1 {
                    cur.push('"');
                    i += 1;
                }
            } else {
                cur.extend(std::iter::repeat_n('\\', n));
            }
            continue;
        }
        if c == '"' {
            in_arg = true;
            if quoted && chars.get(i + 1) == Some(&'"') {
                cur.push('"');
                i += 2;
                continue;
            }
            quoted = !quoted;
            i += 1;
            continue;
        }
        if (c == ' ' || c == '\t') && !quoted {
            if in_arg {
                args.push(std::mem::take(&mut cur));
                in_arg = false;
            }
            i += 1;
            continue;
        }
        cur.push(c);
        in_arg = true;
        i += 1;
    }
    if in_arg {
        args.push(cur);
    }
    args
}
