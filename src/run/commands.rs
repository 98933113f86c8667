//! Workflow commands in step output (`::name key=value,…::message`), as
//! GitHub's runner reads them (actions/runner `ActionCommand.cs`,
//! `ActionCommandManager.cs`, `Handlers/OutputManager.cs`).
//!
//! Grammar (`ActionCommand.TryParseV2`): after leading whitespace the line
//! starts with `::`; the command info runs to the next `::`; its name runs
//! to the first space; the rest, trimmed, is split at `,` (empty entries
//! dropped) into `key=value` pairs split at the first `=` (a pair with an
//! empty key or value is dropped). Property keys match case-insensitively.
//! The message is everything after the second `::`.
//!
//! Escapes are undone one mapping after the other, as .NET `Replace` does:
//! in the message `%0D`→CR, `%0A`→LF, `%25`→`%`; in property values `%0D`,
//! `%0A`, `%3A`→`:`, `%2C`→`,`, `%25`.
//!
//! GitHub also still accepts the legacy form `##[name key=value;…]message`
//! anywhere in a line (`TryParse`, tried when the `::` form does not give a
//! registered command), with `;` between properties and the escapes `%3B`,
//! `%0D`, `%0A`, `%5D`, `%25`. A line naming a command GitHub does not know
//! is not a command: it is printed as it is.

use std::fmt;

/// Properties of a command: keys compare case-insensitively; setting an
/// existing key keeps the first spelling (a .NET `OrdinalIgnoreCase`
/// dictionary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties(Vec<(String, String)>);

impl Properties {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    pub fn insert(&mut self, key: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed workflow command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The name as written (commands match case-insensitively).
    pub name: String,
    pub properties: Properties,
    /// The message, unescaped.
    pub data: String,
    /// Whether it came from the legacy `##[…]` form.
    pub legacy: bool,
}

fn unescape(s: &str, maps: &[(&str, &str)]) -> String {
    let mut out = s.to_string();
    for (from, to) in maps {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    out
}

const DATA_ESCAPES: &[(&str, &str)] = &[("%0D", "\r"), ("%0A", "\n"), ("%25", "%")];
const PROPERTY_ESCAPES: &[(&str, &str)] = &[
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%3A", ":"),
    ("%2C", ","),
    ("%25", "%"),
];
const LEGACY_ESCAPES: &[(&str, &str)] = &[
    ("%3B", ";"),
    ("%0D", "\r"),
    ("%0A", "\n"),
    ("%5D", "]"),
    ("%25", "%"),
];

/// Escapes a message for a workflow command (what `@actions/core` does).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value for a workflow command.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Parses the `::name k=v,…::message` form, whatever the name.
pub fn parse_v2(line: &str) -> Option<Command> {
    let msg = line.trim_start();
    let rest = msg.strip_prefix("::")?;
    let end = rest.find("::")?;
    let info = &rest[..end];
    let data = &rest[end + 2..];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    let mut properties = Properties::default();
    // GitHub reads properties only when the space is not the first char.
    if let Some(props) = props.filter(|_| !name.is_empty()) {
        for prop in props.trim().split(',').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = split_pair(prop) {
                properties.insert(k, unescape(v, PROPERTY_ESCAPES));
            }
        }
    }
    Some(Command {
        name: name.to_string(),
        properties,
        data: unescape(data, DATA_ESCAPES),
        legacy: false,
    })
}

/// .NET `Split('=', 2, RemoveEmptyEntries)` when it gives two parts: empty
/// entries are skipped before the key and between the key and the value
/// (`a==b` gives `a` and `b`), the value keeps any later `=`.
fn split_pair(prop: &str) -> Option<(&str, &str)> {
    let trimmed = prop.trim_start_matches('=');
    let (k, v) = trimmed.split_once('=')?;
    let v = v.trim_start_matches('=');
    if k.is_empty() || v.is_empty() {
        return None;
    }
    Some((k, v))
}

/// Parses the legacy `##[name k=v;…]message` form, whatever the name.
pub fn parse_legacy(line: &str) -> Option<Command> {
    let start = line.find("##[")?;
    let after = &line[start + 3..];
    let rb = after.find(']')?;
    let info = &after[..rb];
    let data = &after[rb + 1..];
    let (name, props) = match info.find(' ') {
        Some(i) => (&info[..i], Some(&info[i + 1..])),
        None => (info, None),
    };
    let mut properties = Properties::default();
    if let Some(props) = props.filter(|_| !name.is_empty()) {
        for prop in props.split(';').filter(|p| !p.is_empty()) {
            if let Some((k, v)) = split_pair(prop) {
                properties.insert(k, unescape(v, LEGACY_ESCAPES));
            }
        }
    }
    Some(Command {
        name: name.to_string(),
        properties,
        data: unescape(data, LEGACY_ESCAPES),
        legacy: true,
    })
}

/// Parses a workflow command: the `::` form, else the legacy `##[` form.
/// Any name is accepted here; [`CommandProcessor`] acts only on the names
/// GitHub knows ([`KNOWN_COMMANDS`]).
pub fn parse_line(line: &str) -> Option<Command> {
    parse_v2(line).or_else(|| parse_legacy(line))
}

/// The commands GitHub's runner registers for steps.
pub const KNOWN_COMMANDS: &[&str] = &[
    "stop-commands",
    "set-env",
    "set-output",
    "save-state",
    "add-mask",
    "add-path",
    "add-matcher",
    "remove-matcher",
    "debug",
    "warning",
    "error",
    "notice",
    "group",
    "endgroup",
    "echo",
];

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    /// `error`, `warning` or `notice`: the log prefix `##[error]` and the
    /// command name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An annotation (GitHub "issue"): from `::error`/`::warning`/`::notice`,
/// or raised by the runner itself (then without properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub message: String,
    /// `file`, `line`, `col`, `endLine`, `endColumn`, `title` and any other
    /// given, after GitHub's line/column checks.
    pub properties: Properties,
}

impl Annotation {
    fn plain(level: Level, message: impl Into<String>) -> Annotation {
        Annotation {
            level,
            message: message.into(),
            properties: Properties::default(),
        }
    }

    pub fn file(&self) -> Option<&str> {
        self.properties.get("file").filter(|f| !f.is_empty())
    }
    pub fn title(&self) -> Option<&str> {
        self.properties.get("title")
    }
    pub fn line(&self) -> Option<i32> {
        self.properties.get("line").and_then(parse_int)
    }
    pub fn end_line(&self) -> Option<i32> {
        self.properties.get("endLine").and_then(parse_int)
    }
    pub fn col(&self) -> Option<i32> {
        self.properties.get("col").and_then(parse_int)
    }
    pub fn end_column(&self) -> Option<i32> {
        self.properties.get("endColumn").and_then(parse_int)
    }

    /// `file` relative to `workspace` when it lies under it (GitHub reports
    /// files relative to the repository, with `/`).
    pub fn relative_file(&self, workspace: &str) -> Option<String> {
        let file = self.file()?;
        let ws = workspace.trim_end_matches('/');
        match file.strip_prefix(ws).and_then(|r| r.strip_prefix('/')) {
            Some(rel) if !ws.is_empty() => Some(rel.to_string()),
            _ => Some(file.to_string()),
        }
    }
}

/// .NET `int.TryParse` (invariant): surrounding whitespace, an optional
/// sign, decimal digits, within `i32`.
pub fn parse_int(s: &str) -> Option<i32> {
    let t = s.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse::<i32>().ok()
}

/// What to do with one line of step output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Print this text as a log line (mask it first).
    Output(String),
    /// Start a collapsible group with this title (`##[group]title`).
    GroupStart(String),
    /// End the current group (`##[endgroup]`).
    GroupEnd,
    /// A debug message (`##[debug]…`); only produced when step debug is on.
    Debug(String),
    /// Record an annotation and print its message (`##[error]…`).
    Annotation(Annotation),
    /// Register a value with the secret masker (`Masker::add_value`).
    AddMask(String),
    /// Set a step output (deprecated `::set-output`).
    SetOutput { name: String, value: String },
    /// Save state for the action's post step (deprecated `::save-state`).
    SaveState { name: String, value: String },
    /// Set an environment variable for later steps (only when unsecure
    /// commands are allowed).
    SetEnv { name: String, value: String },
    /// Prepend to `PATH` for later steps (only when unsecure commands are
    /// allowed; same rules as `GITHUB_PATH`).
    AddPath(String),
    /// `::add-matcher::file` (problem matchers).
    AddMatcher(String),
    /// `::remove-matcher owner=…::` or `::remove-matcher::file`.
    RemoveMatcher {
        owner: Option<String>,
        file: Option<String>,
    },
    /// A command failed: the step fails once it ends, whatever its exit
    /// code (GitHub's `CommandResult = Failed`).
    FailStep,
}

/// GitHub's deprecation warning for `set-output` and `save-state`.
pub fn deprecated_command_message(command: &str) -> String {
    format!(
        "The `{command}` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/"
    )
}

/// GitHub's error for `set-env` and `add-path`.
pub fn disabled_command_message(command: &str) -> String {
    format!(
        "The `{command}` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/"
    )
}

/// GitHub's error for a refused `stop-commands` token.
pub const STOP_TOKEN_REFUSED: &str = "You cannot use a endToken that is an empty string, the string 'pause-logging', or another workflow command. For more information see: https://docs.github.com/actions/learn-github-actions/workflow-commands-for-github-actions#example-stopping-and-starting-workflow-commands or opt into insecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to `true`.";

/// .NET `bool.TryParse` true (how GitHub reads
/// `ACTIONS_ALLOW_UNSECURE_COMMANDS`).
pub fn dotnet_bool(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// Acts on workflow commands line by line, with GitHub's state:
/// `stop-commands` and `echo`. Keep one per job (GitHub keeps the stop
/// state in a job-wide service) or per step; feed it raw (unmasked) lines
/// and mask whatever it asks to print.
#[derive(Debug, Clone)]
pub struct CommandProcessor {
    debug: bool,
    echo: bool,
    stop_token: Option<String>,
    allow_unsecure_commands: bool,
    allow_unsecure_stop_tokens: bool,
}

impl CommandProcessor {
    /// `debug`: step debug logging (`ACTIONS_STEP_DEBUG` secret or variable,
    /// or a re-run with debug logging). It shows `::debug::` messages and
    /// turns echoing of commands on, as on GitHub.
    pub fn new(debug: bool) -> CommandProcessor {
        CommandProcessor {
            debug,
            echo: debug,
            stop_token: None,
            allow_unsecure_commands: false,
            allow_unsecure_stop_tokens: false,
        }
    }

    /// `ACTIONS_ALLOW_UNSECURE_COMMANDS=true` in the runner's or the job's
    /// environment re-enables `set-env` and `add-path`.
    pub fn allow_unsecure_commands(mut self, allow: bool) -> CommandProcessor {
        self.allow_unsecure_commands = allow;
        self
    }

    /// `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS=true` lets `stop-commands`
    /// take an empty token or a command name.
    pub fn allow_unsecure_stop_tokens(mut self, allow: bool) -> CommandProcessor {
        self.allow_unsecure_stop_tokens = allow;
        self
    }

    pub fn debug(&self) -> bool {
        self.debug
    }

    /// Whether commands are echoed (`::echo::on`).
    pub fn echo(&self) -> bool {
        self.echo
    }

    /// Whether commands are stopped (between `::stop-commands::TOKEN` and
    /// `::TOKEN::`).
    pub fn stopped(&self) -> bool {
        self.stop_token.is_some()
    }

    fn registered(&self, name: &str) -> bool {
        KNOWN_COMMANDS.iter().any(|c| c.eq_ignore_ascii_case(name))
            || self
                .stop_token
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(name))
    }

    fn parse(&self, line: &str) -> Option<Command> {
        if let Some(c) = parse_v2(line).filter(|c| self.registered(&c.name)) {
            return Some(c);
        }
        parse_legacy(line).filter(|c| self.registered(&c.name))
    }

    /// What to do with one line of output (without its line terminator).
    pub fn process_line(&mut self, line: &str) -> Vec<Action> {
        let plain = || vec![Action::Output(line.to_string())];
        if line.is_empty() || !(line.contains("##[") || line.contains("::")) {
            return plain();
        }
        let Some(cmd) = self.parse(line) else {
            return plain();
        };
        if let Some(token) = &self.stop_token {
            if !token.is_empty() && cmd.name.eq_ignore_ascii_case(token) {
                self.stop_token = None;
            }
            // Resume line and stopped commands alike are printed as text.
            return plain();
        }
        let name = cmd.name.to_ascii_lowercase();
        if name == "stop-commands" {
            return self.stop(cmd.data);
        }
        let omit_echo = matches!(
            name.as_str(),
            "add-mask" | "debug" | "warning" | "error" | "notice"
        );
        let mut out = Vec::new();
        if self.echo && !omit_echo {
            out.push(Action::Output(line.to_string()));
        }
        if let Err(message) = self.run(&name, cmd, &mut out) {
            let info = if omit_echo { name.as_str() } else { line };
            out.push(Action::Annotation(Annotation::plain(
                Level::Error,
                format!("Unable to process command '{info}' successfully."),
            )));
            out.push(Action::Annotation(Annotation::plain(Level::Error, message)));
            out.push(Action::FailStep);
        }
        out
    }

    fn stop(&mut self, token: String) -> Vec<Action> {
        let invalid = token.is_empty()
            || self.registered(&token)
            || token.eq_ignore_ascii_case("pause-logging");
        if invalid && !self.allow_unsecure_stop_tokens {
            return vec![
                Action::Annotation(Annotation::plain(Level::Error, STOP_TOKEN_REFUSED)),
                Action::FailStep,
            ];
        }
        let mut out = Vec::new();
        if token.encode_utf16().count() > 6 {
            out.push(Action::AddMask(token.clone()));
        }
        self.stop_token = Some(token);
        out
    }

    fn run(&mut self, name: &str, cmd: Command, out: &mut Vec<Action>) -> Result<(), String> {
        let required_name = |cmd: &Command, which: &str| {
            cmd.properties
                .get("name")
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("Required field 'name' is missing in ##[{which}] command."))
        };
        match name {
            "set-output" | "save-state" => {
                out.push(Action::Annotation(Annotation::plain(
                    Level::Warning,
                    deprecated_command_message(name),
                )));
                let n = required_name(&cmd, name)?;
                out.push(if name == "set-output" {
                    Action::SetOutput {
                        name: n,
                        value: cmd.data,
                    }
                } else {
                    Action::SaveState {
                        name: n,
                        value: cmd.data,
                    }
                });
            }
            "set-env" => {
                if !self.allow_unsecure_commands {
                    return Err(disabled_command_message("set-env"));
                }
                let n = required_name(&cmd, "set-env")?;
                if n.eq_ignore_ascii_case("NODE_OPTIONS") {
                    out.push(Action::Annotation(Annotation::plain(
                        Level::Error,
                        "Can't update NODE_OPTIONS environment variable using ::set-env:: command.",
                    )));
                } else {
                    out.push(Action::SetEnv {
                        name: n,
                        value: cmd.data,
                    });
                }
            }
            "add-path" => {
                if !self.allow_unsecure_commands {
                    return Err(disabled_command_message("add-path"));
                }
                if cmd.data.is_empty() {
                    return Err("Value cannot be null. (Parameter 'path')".to_string());
                }
                out.push(Action::AddPath(cmd.data));
            }
            "add-mask" => {
                if cmd.data.trim().is_empty() {
                    out.push(Action::Annotation(Annotation::plain(
                        Level::Warning,
                        "Can't add secret mask for empty string in ##[add-mask] command.",
                    )));
                } else {
                    if self.echo {
                        out.push(Action::Output("::add-mask::***".to_string()));
                    }
                    out.push(Action::AddMask(cmd.data));
                }
            }
            "debug" if self.debug => out.push(Action::Debug(cmd.data)),
            "debug" => {}
            "error" | "warning" | "notice" => {
                let level = match name {
                    "error" => Level::Error,
                    "warning" => Level::Warning,
                    _ => Level::Notice,
                };
                let mut properties = cmd.properties;
                validate_lines_and_columns(&mut properties);
                out.push(Action::Annotation(Annotation {
                    level,
                    message: cmd.data,
                    properties,
                }));
            }
            "group" => out.push(Action::GroupStart(cmd.data)),
            "endgroup" => out.push(Action::GroupEnd),
            "echo" => {
                if cmd.data.is_empty() {
                    return Err("Value cannot be null. (Parameter 'value')".to_string());
                }
                match cmd.data.trim().to_ascii_uppercase().as_str() {
                    "ON" => self.echo = true,
                    "OFF" => self.echo = false,
                    _ => {
                        return Err(format!(
                            "Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '{}'.",
                            cmd.data
                        ));
                    }
                }
            }
            "add-matcher" => {
                if cmd.data.is_empty() {
                    out.push(Action::Annotation(Annotation::plain(
                        Level::Warning,
                        "File path must be specified.",
                    )));
                } else {
                    out.push(Action::AddMatcher(cmd.data));
                }
            }
            "remove-matcher" => {
                let owner = cmd
                    .properties
                    .get("owner")
                    .filter(|o| !o.is_empty())
                    .map(str::to_string);
                let file = Some(cmd.data).filter(|f| !f.is_empty());
                match (&owner, &file) {
                    (Some(_), Some(_)) => out.push(Action::Annotation(Annotation::plain(
                        Level::Warning,
                        "Either specify an owner name or a file path in ##[remove-matcher] command. Both values cannot be set.",
                    ))),
                    (None, None) => out.push(Action::Annotation(Annotation::plain(
                        Level::Warning,
                        "Either an owner name or a file path must be specified in ##[remove-matcher] command.",
                    ))),
                    _ => out.push(Action::RemoveMatcher { owner, file }),
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// GitHub's `IssueCommandExtension.ValidateLinesAndColumns`: drops or
/// fills `line`/`endLine`/`col`/`endColumn` that do not make sense together.
pub fn validate_lines_and_columns(p: &mut Properties) {
    let mut line = p.get("line").map(str::to_string);
    let end_line = p.get("endLine").map(str::to_string);
    let col = p.get("col").map(str::to_string);
    let end_col = p.get("endColumn").map(str::to_string);
    let num = |v: &Option<String>| v.as_deref().and_then(parse_int);
    let line_n = num(&line);
    let end_line_n = num(&end_line);
    let col_n = num(&col);
    let end_col_n = num(&end_col);
    let mut has_line = line_n.is_some();
    let has_end_line = end_line_n.is_some();
    let mut has_col = col_n.is_some();
    let has_end_col = end_col_n.is_some();
    let has_column = has_col || has_end_col;
    if has_end_line && !has_line {
        if let Some(v) = &end_line {
            p.insert("line", v.clone());
        }
        has_line = true;
        line = end_line.clone();
    }
    if has_end_col && !has_col {
        if let Some(v) = &end_col {
            p.insert("col", v.clone());
        }
        has_col = true;
    }
    if !has_line && has_column {
        p.remove("col");
        p.remove("endColumn");
    }
    if has_end_line && line != end_line && has_column {
        p.remove("col");
        p.remove("endColumn");
    }
    // GitHub compares the numbers parsed before the fill-ins above (0 when
    // a value did not parse).
    let (ln, eln) = (line_n.unwrap_or(0), end_line_n.unwrap_or(0));
    if has_line && has_end_line && eln < ln {
        p.remove("line");
        p.remove("endLine");
    }
    let (cn, ecn) = (col_n.unwrap_or(0), end_col_n.unwrap_or(0));
    if has_col && has_end_col && ecn < cn {
        p.remove("col");
        p.remove("endColumn");
    }
}
