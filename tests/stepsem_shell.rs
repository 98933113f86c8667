//! Shells, checked against actions/runner `ScriptHandler.cs`,
//! `ScriptHandlerHelpers.cs` and GitHub's `jobs.<job_id>.steps[*].shell` docs.

use mlci::run::shell::*;

#[test]
fn default_shell_is_bash_e_or_sh_e() {
    let s = resolve(None, true).unwrap();
    assert_eq!(s.display(), "bash -e {0}");
    assert_eq!(s.extension, ".sh");
    assert_eq!(s.argv("/tmp/x.sh"), vec!["bash", "-e", "/tmp/x.sh"]);
    let s = resolve(None, false).unwrap();
    assert_eq!(s.display(), "sh -e {0}");
    assert_eq!(resolve(Some(""), true).unwrap().display(), "bash -e {0}");
}

#[test]
fn builtins() {
    let bash = resolve(Some("bash"), true).unwrap();
    assert_eq!(bash.display(), "bash --noprofile --norc -e -o pipefail {0}");
    assert_eq!(
        bash.argv("/t/s.sh"),
        vec![
            "bash",
            "--noprofile",
            "--norc",
            "-e",
            "-o",
            "pipefail",
            "/t/s.sh"
        ]
    );
    assert_eq!(bash.extension, ".sh");
    let sh = resolve(Some("sh"), true).unwrap();
    assert_eq!(sh.argv("/t/s.sh"), vec!["sh", "-e", "/t/s.sh"]);
    let py = resolve(Some("python"), true).unwrap();
    assert_eq!(py.display(), "python {0}");
    assert_eq!(py.argv("/t/s.py"), vec!["python", "/t/s.py"]);
    assert_eq!(py.extension, ".py");
    let pwsh = resolve(Some("pwsh"), true).unwrap();
    assert_eq!(pwsh.display(), "pwsh -command \". '{0}'\"");
    assert_eq!(
        pwsh.argv("/t/s.ps1"),
        vec!["pwsh", "-command", ". '/t/s.ps1'"]
    );
    assert_eq!(pwsh.extension, ".ps1");
    // built-in names match case-insensitively
    assert_eq!(
        resolve(Some("BASH"), true).unwrap().args_format,
        bash.args_format
    );
}

#[test]
fn windows_shells_are_refused() {
    assert!(matches!(
        resolve(Some("cmd"), true),
        Err(ShellError::WindowsOnly(_))
    ));
    assert!(matches!(
        resolve(Some("powershell"), true),
        Err(ShellError::WindowsOnly(_))
    ));
}

#[test]
fn custom_shells() {
    let perl = resolve(Some("perl {0}"), true).unwrap();
    assert_eq!(perl.argv("/t/s"), vec!["perl", "/t/s"]);
    assert_eq!(perl.extension, "");
    let b = resolve(Some("bash -x {0}"), true).unwrap();
    assert_eq!(b.argv("/t/s.sh"), vec!["bash", "-x", "/t/s.sh"]);
    assert_eq!(b.extension, ".sh");
    let py = resolve(Some("python -u {0}"), true).unwrap();
    assert_eq!(py.extension, ".py");
    // a custom program without {0}
    let e = resolve(Some("perl"), true).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid shell option. Shell must be a valid built-in (bash, sh, cmd, powershell, pwsh) or a format string containing '{0}'"
    );
    assert!(resolve(Some("perl -w"), true).is_err());
    assert!(matches!(
        resolve(Some("perl {0} {1}"), true),
        Err(ShellError::BadFormat(_))
    ));
    // {{ }} are literal braces
    let c = resolve(Some("env X={{a}} bash {0}"), true).unwrap();
    assert_eq!(c.argv("/s"), vec!["env", "X={a}", "bash", "/s"]);
}

#[test]
fn script_body_wraps_powershell_only() {
    let pwsh = resolve(Some("pwsh"), true).unwrap();
    assert_eq!(
        script_body("Write-Host hi", &pwsh),
        "$ErrorActionPreference = 'stop'\nWrite-Host hi\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }"
    );
    let bash = resolve(Some("bash"), true).unwrap();
    assert_eq!(script_body("echo hi\n", &bash), "echo hi\n");
    assert_eq!(
        script_body("print(1)", &resolve(Some("python"), true).unwrap()),
        "print(1)"
    );
}

#[test]
fn command_line_splitting_like_dotnet() {
    assert_eq!(split_command_line(r#"a "b c" d"#), vec!["a", "b c", "d"]);
    assert_eq!(split_command_line(r#"a\"b"#), vec!["a\"b"]);
    assert_eq!(split_command_line(r#"a\\"b c""#), vec![r#"a\b c"#]);
    assert_eq!(split_command_line(r"a\b"), vec![r"a\b"]);
    assert_eq!(split_command_line(r#""""#), vec![""]);
    // a path with a double quote is escaped by GitHub before formatting
    let sh = resolve(Some("sh"), true).unwrap();
    assert_eq!(sh.argv("/t/a\"b.sh"), vec!["sh", "-e", "/t/a\"b.sh"]);
}

#[test]
fn no_panic_on_odd_shells() {
    for s in [
        "{",
        "}",
        "{0",
        "{0}}",
        "x {",
        " {0}",
        "\u{e9} {0}",
        "a {0:x}",
        "a {0,5}",
    ] {
        if let Ok(c) = resolve(Some(s), true) {
            let _ = c.argv("/p");
        }
    }
}
