//! Workflow commands, checked against actions/runner `ActionCommand.cs`,
//! `ActionCommandManager.cs` and its L0 tests.

use mlci::run::commands::*;

fn outputs(actions: &[Action]) -> Vec<&str> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Output(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn grammar_name_properties_message() {
    let c = parse_line("::error file=app.js,line=10,col=15::Something went wrong").unwrap();
    assert_eq!(c.name, "error");
    assert_eq!(c.properties.get("file"), Some("app.js"));
    assert_eq!(c.properties.get("LINE"), Some("10"));
    assert_eq!(c.properties.get("col"), Some("15"));
    assert_eq!(c.data, "Something went wrong");
    assert!(!c.legacy);
}

#[test]
fn leading_whitespace_allowed_text_before_is_not() {
    assert_eq!(parse_v2("   \t::group::x").unwrap().name, "group");
    assert!(parse_v2("x ::group::y").is_none());
    assert!(parse_v2("::group").is_none());
    assert_eq!(parse_v2("::endgroup::").unwrap().data, "");
}

#[test]
fn message_escapes() {
    let c = parse_line("::warning::a%25b%0Dc%0Ad%3Ae%2Cf").unwrap();
    // %3A and %2C are not message escapes
    assert_eq!(c.data, "a%b\rc\nd%3Ae%2Cf");
    // sequential replacement: %250A -> %0A (not a newline)
    assert_eq!(parse_line("::debug::%250A").unwrap().data, "%0A");
}

#[test]
fn property_escapes() {
    let c = parse_line("::error title=a%3Ab%2Cc%25d%0Ae%0Df,file=x::m").unwrap();
    assert_eq!(c.properties.get("title"), Some("a:b,c%d\ne\rf"));
    assert_eq!(c.properties.get("file"), Some("x"));
    assert_eq!(escape_property("a:b,c%d\n"), "a%3Ab%2Cc%25d%0A");
    assert_eq!(escape_data("50%\r\n"), "50%25%0D%0A");
}

#[test]
fn property_split_rules() {
    // empty entries dropped, pairs without a value dropped, `a==b` is a=b,
    // later `=` kept, last duplicate wins keeping the first key spelling
    let c = parse_line("::notice  a=1,,b=,c==2,d=x=y,A=3 ::m").unwrap();
    assert_eq!(c.properties.get("a"), Some("3"));
    assert_eq!(c.properties.get("b"), None);
    assert_eq!(c.properties.get("c"), Some("2"));
    assert_eq!(c.properties.get("d"), Some("x=y"));
    assert_eq!(c.properties.iter().next().unwrap().0, "a");
}

#[test]
fn message_may_contain_double_colons() {
    let c = parse_line("::notice::a::b").unwrap();
    assert_eq!(c.data, "a::b");
}

#[test]
fn legacy_form_anywhere_in_line() {
    let c = parse_line("prefix ##[warning file=a.rs;line=3]msg%5D%3B").unwrap();
    assert!(c.legacy);
    assert_eq!(c.name, "warning");
    assert_eq!(c.properties.get("line"), Some("3"));
    assert_eq!(c.data, "msg];");
    let mut p = CommandProcessor::new(false);
    let a = p.process_line("##[error]boom");
    assert!(
        matches!(&a[0], Action::Annotation(an) if an.level == Level::Error && an.message == "boom")
    );
}

#[test]
fn unknown_commands_are_plain_text() {
    let mut p = CommandProcessor::new(false);
    assert_eq!(
        p.process_line("::frobnicate::x"),
        vec![Action::Output("::frobnicate::x".into())]
    );
    assert_eq!(
        p.process_line("plain"),
        vec![Action::Output("plain".into())]
    );
    assert_eq!(p.process_line(""), vec![Action::Output(String::new())]);
    // unknown `::` name, but a legacy command later in the line
    let a = p.process_line("::nope::##[group]G");
    assert_eq!(a, vec![Action::GroupStart("G".into())]);
}

#[test]
fn command_names_are_case_insensitive() {
    let mut p = CommandProcessor::new(false);
    assert_eq!(
        p.process_line("::GROUP::x"),
        vec![Action::GroupStart("x".into())]
    );
    assert_eq!(p.process_line("::EndGroup::"), vec![Action::GroupEnd]);
}

#[test]
fn annotations_with_all_properties() {
    let mut p = CommandProcessor::new(false);
    let a = p.process_line(
        "::error file=src/a.rs,line=3,endLine=3,col=5,endColumn=9,title=Bad%3A thing::oops",
    );
    let Action::Annotation(an) = &a[0] else {
        panic!("{a:?}")
    };
    assert_eq!(an.level, Level::Error);
    assert_eq!(an.message, "oops");
    assert_eq!(an.file(), Some("src/a.rs"));
    assert_eq!(
        (an.line(), an.end_line(), an.col(), an.end_column()),
        (Some(3), Some(3), Some(5), Some(9))
    );
    assert_eq!(an.title(), Some("Bad: thing"));
    for (cmd, level) in [("warning", Level::Warning), ("notice", Level::Notice)] {
        let a = p.process_line(&format!("::{cmd} file=f::m"));
        assert!(
            matches!(&a[0], Action::Annotation(an) if an.level == level && an.file() == Some("f"))
        );
    }
    // no echo for annotations even with echo on
    let mut p = CommandProcessor::new(true);
    assert_eq!(p.process_line("::warning::w").len(), 1);
}

#[test]
fn annotation_line_column_validation() {
    // cases from actions/runner ActionCommandL0 / ValidateLinesAndColumns
    let check = |line: &str| {
        let mut p = CommandProcessor::new(false);
        match p.process_line(line).remove(0) {
            Action::Annotation(a) => a,
            other => panic!("{other:?}"),
        }
    };
    // columns dropped when lines differ
    let a = check("::warning line=1,endLine=2,col=1,endColumn=2::w");
    assert_eq!((a.col(), a.end_column()), (None, None));
    assert_eq!((a.line(), a.end_line()), (Some(1), Some(2)));
    // columns dropped without a line
    let a = check("::warning col=1,endColumn=2::w");
    assert_eq!((a.col(), a.end_column()), (None, None));
    // endLine alone fills line
    let a = check("::warning endLine=4::w");
    assert_eq!(a.line(), Some(4));
    // endColumn alone fills col
    let a = check("::warning line=1,endColumn=7::w");
    assert_eq!(a.col(), Some(7));
    // endLine before line: both dropped
    let a = check("::warning line=5,endLine=2::w");
    assert_eq!((a.line(), a.end_line()), (None, None));
    // endColumn before col: both dropped
    let a = check("::warning line=1,col=5,endColumn=2::w");
    assert_eq!((a.col(), a.end_column()), (None, None));
}

#[test]
fn groups() {
    let mut p = CommandProcessor::new(false);
    assert_eq!(
        p.process_line("::group::My title"),
        vec![Action::GroupStart("My title".into())]
    );
    assert_eq!(
        p.process_line("inside"),
        vec![Action::Output("inside".into())]
    );
    assert_eq!(p.process_line("::endgroup::"), vec![Action::GroupEnd]);
}

#[test]
fn debug_only_with_step_debug() {
    let mut p = CommandProcessor::new(false);
    assert!(p.process_line("::debug::hidden").is_empty());
    let mut p = CommandProcessor::new(true);
    assert_eq!(
        p.process_line("::debug::shown"),
        vec![Action::Debug("shown".into())]
    );
}

#[test]
fn add_mask_registers_and_hides_the_line() {
    let mut p = CommandProcessor::new(false);
    assert_eq!(
        p.process_line("::add-mask::s3cret"),
        vec![Action::AddMask("s3cret".into())]
    );
    let a = p.process_line("::add-mask::   ");
    assert!(
        matches!(&a[0], Action::Annotation(an) if an.level == Level::Warning
        && an.message == "Can't add secret mask for empty string in ##[add-mask] command.")
    );
    // with echo on GitHub prints the command with the value masked
    let mut p = CommandProcessor::new(true);
    assert_eq!(
        p.process_line("::add-mask::s3cret"),
        vec![
            Action::Output("::add-mask::***".into()),
            Action::AddMask("s3cret".into())
        ]
    );
}

#[test]
fn add_mask_then_masking_of_later_lines() {
    use mlci::run::mask::{LineMasker, Masker};
    let masker = Masker::new();
    let mut lm = LineMasker::new(masker.clone());
    let mut p = CommandProcessor::new(false);
    let mut printed = Vec::new();
    lm.push_with(
        b"before hunter2\n::add-mask::hunter2\nafter hunter2\n",
        |l| {
            let raw = l.raw.unwrap_or_default();
            for a in p.process_line(raw) {
                match a {
                    Action::AddMask(v) => masker.add_value(&v),
                    Action::Output(_) => printed.push(l.masked.clone()),
                    _ => {}
                }
            }
        },
    );
    assert_eq!(printed, vec!["before hunter2", "after ***"]);
}

#[test]
fn set_output_works_with_deprecation_warning() {
    let mut p = CommandProcessor::new(false);
    let a = p.process_line("::set-output name=result::a%0Ab");
    assert_eq!(
        a,
        vec![
            Action::Annotation(Annotation {
                level: Level::Warning,
                message: deprecated_command_message("set-output"),
                properties: Default::default()
            }),
            Action::SetOutput {
                name: "result".into(),
                value: "a\nb".into()
            },
        ]
    );
    assert!(deprecated_command_message("set-output").starts_with(
        "The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files."
    ));
    let a = p.process_line("::save-state name=pid::42");
    assert_eq!(
        a[1],
        Action::SaveState {
            name: "pid".into(),
            value: "42".into()
        }
    );
}

#[test]
fn set_output_without_name_fails_the_step() {
    let mut p = CommandProcessor::new(false);
    let a = p.process_line("::set-output::v");
    assert!(a.contains(&Action::FailStep));
    assert!(a.iter().any(|x| matches!(x, Action::Annotation(an)
        if an.message == "Unable to process command '::set-output::v' successfully.")));
    assert!(a.iter().any(|x| matches!(x, Action::Annotation(an)
        if an.message == "Required field 'name' is missing in ##[set-output] command.")));
}

#[test]
fn set_env_and_add_path_are_disabled() {
    let mut p = CommandProcessor::new(false);
    for (line, cmd) in [
        ("::set-env name=A::b", "set-env"),
        ("::add-path::/opt/bin", "add-path"),
    ] {
        let a = p.process_line(line);
        assert_eq!(a.len(), 3, "{a:?}");
        assert!(
            matches!(&a[0], Action::Annotation(an) if an.level == Level::Error
            && an.message == format!("Unable to process command '{line}' successfully."))
        );
        assert!(
            matches!(&a[1], Action::Annotation(an) if an.message == disabled_command_message(cmd))
        );
        assert_eq!(a[2], Action::FailStep);
    }
    // opted in
    let mut p = CommandProcessor::new(false).allow_unsecure_commands(true);
    assert_eq!(
        p.process_line("::set-env name=A::b"),
        vec![Action::SetEnv {
            name: "A".into(),
            value: "b".into()
        }]
    );
    assert_eq!(
        p.process_line("::add-path::/x"),
        vec![Action::AddPath("/x".into())]
    );
    let a = p.process_line("::set-env name=node_options::--x");
    assert!(matches!(&a[0], Action::Annotation(an) if an.level == Level::Error));
    assert_eq!(a.len(), 1);
}

#[test]
fn stop_commands_and_resume() {
    let mut p = CommandProcessor::new(false);
    let a = p.process_line("::stop-commands::pause-token-123");
    // a token longer than 6 characters is itself masked
    assert_eq!(a, vec![Action::AddMask("pause-token-123".into())]);
    assert!(p.stopped());
    assert_eq!(
        p.process_line("::error::not an error"),
        vec![Action::Output("::error::not an error".into())]
    );
    assert_eq!(
        p.process_line("::add-mask::x"),
        vec![Action::Output("::add-mask::x".into())]
    );
    assert_eq!(
        p.process_line("::PAUSE-TOKEN-123::"),
        vec![Action::Output("::PAUSE-TOKEN-123::".into())]
    );
    assert!(!p.stopped());
    assert_eq!(
        p.process_line("::group::g"),
        vec![Action::GroupStart("g".into())]
    );
    // legacy form of the L0 test
    let mut p = CommandProcessor::new(false);
    p.process_line("##[stop-commands]stopToken");
    assert!(p.stopped());
    assert_eq!(
        outputs(&p.process_line("##[set-env name=foo]bar")),
        vec!["##[set-env name=foo]bar"]
    );
    p.process_line("##[stopToken]");
    assert!(!p.stopped());
}

#[test]
fn stop_commands_refuses_bad_tokens() {
    for line in [
        "::stop-commands::",
        "::stop-commands::pause-logging",
        "::stop-commands::error",
    ] {
        let mut p = CommandProcessor::new(false);
        let a = p.process_line(line);
        assert!(
            matches!(&a[0], Action::Annotation(an) if an.message == STOP_TOKEN_REFUSED),
            "{line}"
        );
        assert!(!p.stopped());
    }
    let mut p = CommandProcessor::new(false).allow_unsecure_stop_tokens(true);
    p.process_line("::stop-commands::error");
    assert!(p.stopped());
}

#[test]
fn echo_on_off() {
    let mut p = CommandProcessor::new(false);
    assert!(!p.echo());
    assert!(p.process_line("::echo::on").is_empty());
    assert!(p.echo());
    // echoed commands print the raw line first
    assert_eq!(
        p.process_line("::group::g"),
        vec![
            Action::Output("::group::g".into()),
            Action::GroupStart("g".into())
        ]
    );
    assert_eq!(
        p.process_line("::echo::Off   "),
        vec![Action::Output("::echo::Off   ".into())]
    );
    assert!(!p.echo());
    p.process_line("::echo::ON");
    assert!(p.echo());
    // invalid values fail the step and keep the setting
    let mut p = CommandProcessor::new(false);
    let a = p.process_line("::echo::invalid");
    assert!(a.contains(&Action::FailStep));
    assert!(!p.echo());
    assert!(p.process_line("::echo::").contains(&Action::FailStep));
    // debug turns echo on by default
    assert!(CommandProcessor::new(true).echo());
}

#[test]
fn matchers() {
    let mut p = CommandProcessor::new(false);
    assert_eq!(
        p.process_line("::add-matcher::m.json"),
        vec![Action::AddMatcher("m.json".into())]
    );
    assert_eq!(
        p.process_line("::remove-matcher owner=eslint::"),
        vec![Action::RemoveMatcher {
            owner: Some("eslint".into()),
            file: None
        }]
    );
}

#[test]
fn parse_int_like_dotnet() {
    assert_eq!(parse_int(" 12 "), Some(12));
    assert_eq!(parse_int("+3"), Some(3));
    assert_eq!(parse_int("-3"), Some(-3));
    assert_eq!(parse_int("1.0"), None);
    assert_eq!(parse_int("99999999999"), None);
}

#[test]
fn no_panic_on_odd_input() {
    let mut p = CommandProcessor::new(true).allow_unsecure_commands(true);
    let samples = [
        "::",
        ":::",
        "::::",
        ":: ::",
        ":: x=y::",
        "##[",
        "##[]",
        "##[ ]x",
        "::é ü=ö,::ß",
        "::error file=\u{0}::\u{FFFF}",
        "::echo:: ",
        "##[::]::",
        "::set-output name==::",
        "\u{a0}::debug::nbsp",
        "::error line=-1,endLine=-2,col=x::m",
    ];
    for s in samples {
        let _ = p.process_line(s);
        let _ = parse_line(s);
    }
    // every prefix of a multi-byte line
    let s = "::error title=ünï,file=ç::mëssage%0A";
    for i in 0..=s.len() {
        if s.is_char_boundary(i) {
            let _ = p.process_line(&s[..i]);
        }
    }
}
