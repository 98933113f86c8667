//! Table-driven tests of the expression language. Every expected answer comes
//! from GitHub's documentation ("Evaluate expressions in workflows and
//! actions", "Workflow syntax": `if:`), from GitHub's test vectors (file named
//! in the comment), or from the behaviour of GitHub's reference
//! implementation (actions/languageservices `expressions/src`, named
//! "reference" below).

use mlci::expr::{EvalContext, Object, Status, Value, parse, parse_condition, parse_template};
use sha2::{Digest, Sha256};

/// Expected outcome: a JSON value, NaN, or an error whose message starts so.
enum X {
    V(&'static str),
    Nan,
    E(&'static str),
}
use X::{E, Nan, V};

fn contexts(json: &str) -> Object {
    if json.is_empty() {
        return Object::new();
    }
    match Value::from_json(&serde_json::from_str(json).expect("contexts JSON")) {
        Value::Object(o) => o,
        _ => panic!("contexts must be an object"),
    }
}

fn ctx(contexts: &Object) -> EvalContext<'_> {
    EvalContext {
        contexts,
        status: Status::Success,
        workspace: None,
    }
}

fn check(expr: &str, contexts_json: &str, expected: &X) -> Result<(), String> {
    let contexts = contexts(contexts_json);
    let result = parse(expr)
        .map_err(|e| e.message)
        .and_then(|e| e.eval(&ctx(&contexts)).map_err(|e| e.message));
    match (expected, result) {
        (V(json), Ok(v)) => {
            let want = Value::from_json(&serde_json::from_str(json).expect("expected JSON"));
            if v == want {
                Ok(())
            } else {
                Err(format!("got {v:?}, expected {want:?}"))
            }
        }
        (Nan, Ok(Value::Number(n))) if n.is_nan() => Ok(()),
        (E(prefix), Err(message)) if message.starts_with(prefix) => Ok(()),
        (E(prefix), other) => Err(format!("got {other:?}, expected error {prefix:?}")),
        (_, other) => Err(format!("got {other:?}")),
    }
}

const GH: &str = r#"{"github": {"ref": "refs/heads/main", "event_name": "push",
  "event": {"issue": {"labels": [{"name": "bug"}, {"name": "help wanted"}]}}},
  "matrix": {"os": "ubuntu-latest", "python": 3.11},
  "steps": {"build": {"outputs": {"result": "ok"}, "conclusion": "success"}},
  "env": {"TIME": "3", "continue": "true", "EMPTY": ""},
  "arr": ["zero", "one", "two"], "fruits": [{"name": "apple", "qty": 1}, {"name": "pear"}],
  "obj": {"a": 1, "B": "bee", "x-y": 2, "*": "star"}, "nested": [[1, 2], [3, 4]],
  "uni": {"ÜBER": "yes"}}"#;

#[rustfmt::skip]
const CASES: &[(&str, &str, X)] = &[
    // ---- literals (docs: Literals; number.json) ----
    ("null", "", V("null")),
    ("true", "", V("true")),
    ("false", "", V("false")),
    ("711", "", V("711")),
    ("-9.2", "", V("-9.2")),
    ("0xff", "", V("255")),
    ("0xFF", "", V("255")),
    ("-2.99e-2", "", V("-0.0299")),
    ("'Mona the Octocat'", "", V(r#""Mona the Octocat""#)),
    ("'It''s open source!'", "", V(r#""It's open source!""#)),
    ("''", "", V(r#""""#)),
    ("''''", "", V(r#""'""#)),
    ("'a''''b'", "", V(r#""a''b""#)),
    (".5", "", V("0.5")),
    ("-.5", "", V("-0.5")),
    ("+1", "", V("1")),
    ("0o10", "", V("8")),
    ("1e2", "", V("100")),
    ("1E+1", "", V("10")),
    ("1e-1", "", V("0.1")),
    ("NaN", "", Nan),
    ("Infinity > 1e308", "", V("true")),
    ("-Infinity < -1e308", "", V("true")),
    ("'{{ and }}'", "", V(r#""{{ and }}""#)),
    ("", "", V("null")),
    // keywords are case-sensitive: `True` is a name (reference lexer)
    ("True", "", V("null")),
    // lexing errors (number.json, syntax-errors.json)
    ("0x01p2", "", E("Unexpected symbol: '0x01p2'")),
    ("-Inf", "", E("Unexpected symbol: '-Inf'")),
    ("-0xFF", "", E("Unexpected symbol: '-0xFF'")),
    ("'foo", "", E("Unexpected symbol: ''foo'")),
    ("1 = 2", "", E("Unexpected symbol: '='")),
    ("1 & 2", "", E("Unexpected symbol: '&'")),
    ("1 @abc 2", "", E("Unexpected symbol: '@abc'")),
    ("..github/workflow.md", "", E("Unexpected symbol: '..github/workflow.md'")),
    ("github/workflow.md", "", E("Unexpected symbol: 'github/workflow'")),
    ("1 + 2", "", E("Unexpected symbol: '+'")),

    // ---- property access (docs: Property dereference, Object filters; op_dot/op_idx/op_idx_star.json) ----
    ("github.ref", GH, V(r#""refs/heads/main""#)),
    ("github['ref']", GH, V(r#""refs/heads/main""#)),
    ("GITHUB.REF", GH, V(r#""refs/heads/main""#)),
    ("github.Event_Name", GH, V(r#""push""#)),
    ("github.missing", GH, V("null")),
    ("github.missing.deeper", GH, V("null")),
    ("nosuch.deeper", GH, V("null")),
    ("steps.build.outputs.result", GH, V(r#""ok""#)),
    ("matrix.python", GH, V("3.11")),
    ("obj.x-y", GH, V("2")),
    ("obj['B']", GH, V(r#""bee""#)),
    ("obj.b", GH, V(r#""bee""#)),
    ("obj['*']", GH, V(r#""star""#)),
    ("obj[1]", r#"{"obj": {"1": "one"}}"#, V(r#""one""#)),
    ("uni['über']", GH, V(r#""yes""#)),
    ("ünï.x", "", E("Unexpected symbol: 'ünï'")),
    ("arr[0]", GH, V(r#""zero""#)),
    ("arr[2]", GH, V(r#""two""#)),
    ("arr[3]", GH, V("null")),
    ("arr[-1]", GH, V("null")),
    ("arr[1.9]", GH, V(r#""one""#)),
    ("arr['1']", GH, V(r#""one""#)),
    ("arr[' 0x02 ']", GH, V(r#""two""#)),
    ("arr[true]", GH, V(r#""one""#)),
    ("arr[null]", GH, V(r#""zero""#)),
    ("arr['x']", GH, V("null")),
    ("arr.length", GH, V("null")),
    ("nested[1][0]", GH, V("3")),
    ("(arr)[1]", GH, V(r#""one""#)),
    ("fromJSON('[5,6]')[1]", "", V("6")),
    ("fromJSON('{\"a\":{\"b\":7}}').a.b", "", V("7")),
    ("github.event.issue.labels.*.name", GH, V(r#"["bug", "help wanted"]"#)),
    ("fruits.*.name", GH, V(r#"["apple", "pear"]"#)),
    ("fruits.*.qty", GH, V("[1]")),
    ("fruits[*].name", GH, V(r#"["apple", "pear"]"#)),
    ("obj.*", GH, V(r#"[1, "bee", 2, "star"]"#)),
    ("arr.*", GH, V(r#"["zero", "one", "two"]"#)),
    ("nested.*[1]", GH, V("[2, 4]")),
    ("nested.*.*", GH, V("[1, 2, 3, 4]")),
    ("github.ref.*", GH, V("[]")),
    ("nosuch.*", GH, V("[]")),
    ("fruits.*.nosuch", GH, V("[]")),
    ("foo.true", r#"{"foo": {"true": "t"}}"#, V(r#""t""#)),
    ("foo.null", r#"{"foo": {"null": "n"}}"#, V(r#""n""#)),
    ("foo.NaN", r#"{"foo": {"NaN": "nan"}}"#, V(r#""nan""#)),
    ("'abc'[0]", "", E("Unexpected symbol: '['")),
    ("github.()", GH, E("Unexpected symbol: '('")),
    ("foo.1", "", E("Unexpected symbol: '1'")),

    // ---- operators (docs: Operators; op_*.json, operators_precedence.json) ----
    ("!true", "", V("false")),
    ("!0", "", V("true")),
    ("!''", "", V("true")),
    ("!'false'", "", V("false")),
    ("!fromJSON('[]')", "", V("false")),
    ("!null", "", V("true")),
    ("!NaN", "", V("true")),
    ("1 < 2", "", V("true")),
    ("2 <= 2", "", V("true")),
    ("3 > 2", "", V("true")),
    ("2 >= 3", "", V("false")),
    ("1 == 1", "", V("true")),
    ("1 != 1", "", V("false")),
    ("'abc' == 'ABC'", "", V("true")),
    ("'a' < 'B'", "", V("true")),
    ("'B' > 'a'", "", V("true")),
    ("'a' <= 'A'", "", V("true")),
    ("'abc' != 'abd'", "", V("true")),
    ("'ü' == 'Ü'", "", V("true")),
    ("'i' == 'İ'", "", V("false")),
    ("'ı' == 'I'", "", V("false")),
    // coercion to number (docs table: null → 0, true → 1, '' → 0, other strings parsed, else NaN)
    ("null == 0", "", V("true")),
    ("null == false", "", V("true")),
    ("null == ''", "", V("true")),
    ("null == null", "", V("true")),
    ("true == 1", "", V("true")),
    ("false == 0", "", V("true")),
    ("true == 2", "", V("false")),
    ("'' == 0", "", V("true")),
    ("'  ' == 0", "", V("true")),
    ("' 1.5 ' == 1.5", "", V("true")),
    ("'0xff' == 255", "", V("true")),
    ("'abc' == 0", "", V("false")),
    ("'true' == true", "", V("false")),
    ("'1' == true", "", V("true")),
    ("'10' > 9", "", V("true")),
    ("'abc' > 1", "", V("false")),
    ("'abc' < 1", "", V("false")),
    ("null < 1", "", V("true")),
    ("true > false", "", V("true")),
    ("false < true", "", V("true")),
    ("NaN == NaN", "", V("false")),
    ("NaN != NaN", "", V("true")),
    ("NaN < 1", "", V("false")),
    ("NaN >= NaN", "", V("false")),
    ("Infinity == Infinity", "", V("true")),
    ("0 == -0", "", V("true")),
    // arrays and objects: equal only to themselves (docs; op_eq.json)
    ("arr == arr", GH, V("true")),
    ("obj == obj", GH, V("true")),
    ("fromJSON('[]') == fromJSON('[]')", "", V("false")),
    ("fromJSON('{}') != fromJSON('{}')", "", V("true")),
    ("a == b", r#"{"a": [], "b": []}"#, V("false")),
    ("arr == 'Array'", GH, V("false")),
    ("obj == 0", GH, V("false")),
    ("arr > arr", GH, V("false")),
    ("arr >= arr", GH, V("true")),
    // && and || return an operand and short-circuit (op_and.json, op_or.json)
    ("true && 'yes'", "", V(r#""yes""#)),
    ("'' && 'yes'", "", V(r#""""#)),
    ("null && true", "", V("null")),
    ("0 || 'x'", "", V(r#""x""#)),
    ("false || null", "", V("null")),
    ("1 || fromJSON('')", "", V("1")),
    ("0 && fromJSON('')", "", V("0")),
    ("0 || fromJSON('')", "", E("Error parsing JSON")),
    ("true && 1 && 2", "", V("2")),
    ("0 || 0 || 2 || 3", "", V("2")),
    ("obj && 'o'", GH, V(r#""o""#)),
    // precedence
    ("true || false && false", "", V("true")),
    ("(true || false) && false", "", V("false")),
    ("!false == true", "", V("true")),
    ("1 == 1 && 2", "", V("2")),
    ("1 == (1 && 2)", "", V("false")),
    ("3 < 2 < 1", "", V("true")),
    ("2 <= 3 == true", "", V("true")),
    ("!2 < 3", "", V("true")),
    ("false && 0 || null", "", V("null")),
    ("github.event_name == 'push' && github.ref == 'refs/heads/main'", GH, V("true")),
    ("matrix.os == 'ubuntu-latest' || matrix.os == 'macos-latest'", GH, V("true")),
    // parse errors (syntax-errors.json)
    ("1 <", "", E("Unexpected end of expression: '<'")),
    ("1 < )", "", E("Unexpected symbol: ')'")),
    ("> 1", "", E("Unexpected symbol: '>'")),
    ("1 2", "", E("Unexpected symbol: '2'")),
    ("(1,", "", E("Unexpected symbol: ','")),
    ("(1", "", E("Unexpected end of expression: '1'")),
    ("tojson(1)2", "", E("Unexpected symbol: '2'")),

    // ---- functions (docs: Functions; per-function vector files) ----
    ("contains('Hello world', 'llo')", "", V("true")),
    ("contains('Hello world', 'LLO')", "", V("true")),
    ("contains('Hello world', 'xyz')", "", V("false")),
    ("contains('abc', '')", "", V("true")),
    ("contains('1234', 23)", "", V("true")),
    ("contains('true', true)", "", V("true")),
    ("contains(github.event.issue.labels.*.name, 'bug')", GH, V("true")),
    ("contains(github.event.issue.labels.*.name, 'BUG')", GH, V("true")),
    ("contains(github.event.issue.labels.*.name, 'feature')", GH, V("false")),
    ("contains(fromJSON('[\"push\", \"pull_request\"]'), github.event_name)", GH, V("true")),
    ("contains(fromJSON('[123]'), '123')", "", V("true")),
    ("contains(fromJSON('[\"\"]'), false)", "", V("true")),
    ("contains(fromJSON('[]'), 'a')", "", V("false")),
    ("contains(obj, 'a')", GH, V("false")),
    ("contains('abc', fromJSON('[]'))", "", V("false")),
    ("CONTAINS('abc', 'B')", "", V("true")),
    ("startsWith('Hello world', 'He')", "", V("true")),
    ("startsWith('Hello world', 'he')", "", V("true")),
    ("startsWith('Hello world', 'world')", "", V("false")),
    ("startsWith('1234', 12)", "", V("true")),
    ("startsWith(arr, 'z')", GH, V("false")),
    ("endsWith('Hello world', 'ld')", "", V("true")),
    ("endsWith('Hello world', 'LD')", "", V("true")),
    ("endsWith('Hello world', 'He')", "", V("false")),
    ("endsWith('asdf', null)", "", V("true")),
    ("format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')", "", V(r#""Hello Mona the Octocat""#)),
    ("format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')", "", V(r#""{Hello Mona the Octocat!}""#)),
    ("format('{0}{0}', 'ab')", "", V(r#""abab""#)),
    ("format('{1}-{0}', 'a', 'b')", "", V(r#""b-a""#)),
    ("format('{0}', null)", "", V(r#""""#)),
    ("format('{0}', true)", "", V(r#""true""#)),
    ("format('{0}', 1.0)", "", V(r#""1""#)),
    ("format('{0}', 0.5)", "", V(r#""0.5""#)),
    ("format('{0}', -0)", "", V(r#""0""#)),
    ("format('{0}', 0.84551240822557006)", "", V(r#""0.84551240822557""#)),
    ("format('{0}', 123456.789)", "", V(r#""123456.789""#)),
    ("format('{0}', 1.2e-2)", "", V(r#""0.012""#)),
    ("format('{0}', 1e21)", "", V(r#""1e+21""#)),
    ("format('{0}', 1.5e-7)", "", V(r#""1.5e-7""#)),
    ("format('{0}', NaN)", "", V(r#""NaN""#)),
    ("format('{0}', -Infinity)", "", V(r#""-Infinity""#)),
    ("format('{0}', arr)", GH, V(r#""Array""#)),
    ("format('{0}', obj)", GH, V(r#""Object""#)),
    ("format('{0}', fruits.*.name)", GH, V(r#""Array""#)),
    ("format('no args')", "", V(r#""no args""#)),
    ("format('}}{{')", "", V(r#""}{""#)),
    ("format('{0')", "", E("The following format string is invalid: {0")),
    ("format('{0}}', '')", "", E("The following format string is invalid: {0}}")),
    ("format('}')", "", E("The following format string is invalid: }")),
    ("format('{x}', 1)", "", E("The following format string is invalid: {x}")),
    ("format('{0}')", "", E("The following format string references more arguments than were supplied: {0}")),
    ("format('{0}{1}', 'a')", "", E("The following format string references more arguments than were supplied")),
    ("join(github.event.issue.labels.*.name, ', ')", GH, V(r#""bug, help wanted""#)),
    ("join(arr)", GH, V(r#""zero,one,two""#)),
    ("join(arr, '')", GH, V(r#""zeroonetwo""#)),
    ("join(arr, null)", GH, V(r#""zeroonetwo""#)),
    ("join(arr, fromJSON('[]'))", GH, V(r#""zero,one,two""#)),
    ("join(fromJSON('[null, true, 1.5, [], {}]'))", "", V(r#"",true,1.5,Array,Object""#)),
    ("join('abc')", "", V(r#""abc""#)),
    ("join(1)", "", V(r#""1""#)),
    ("join(null)", "", V(r#""""#)),
    ("join(obj)", GH, V(r#""""#)),
    ("toJSON('x')", "", V(r#""\"x\"""#)),
    ("toJSON(1.5)", "", V(r#""1.5""#)),
    ("toJSON(-0)", "", V(r#""0""#)),
    ("toJSON(null)", "", V(r#""null""#)),
    ("toJSON(true)", "", V(r#""true""#)),
    ("toJSON(fromJSON('[]'))", "", V(r#""[]""#)),
    ("toJSON(fromJSON('{}'))", "", V(r#""{}""#)),
    ("toJSON(fromJSON('[1,2]'))", "", V(r#""[\n  1,\n  2\n]""#)),
    ("toJSON(fromJSON('{\"a\":[1,{\"b\":null}]}'))", "", V(r#""{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}""#)),
    ("toJSON(steps.build.outputs)", GH, V(r#""{\n  \"result\": \"ok\"\n}""#)),
    ("toJSON(fruits.*.name)", GH, V(r#""[\n  \"apple\",\n  \"pear\"\n]""#)),
    ("toJSON('a\"b\\c')", "", V(r#""\"a\\\"b\\\\c\"""#)),
    ("toJson(1)", "", V(r#""1""#)),
    ("fromJSON('true')", "", V("true")),
    ("fromJSON('null')", "", V("null")),
    ("fromJSON('1234.5')", "", V("1234.5")),
    ("fromJSON('\"abc\"')", "", V(r#""abc""#)),
    ("fromJSON('[\"ubuntu-latest\"]')", "", V(r#"["ubuntu-latest"]"#)),
    ("fromJSON('{\"include\":[{\"os\":\"a\"}]}')", "", V(r#"{"include":[{"os":"a"}]}"#)),
    ("fromJSON(env.continue)", GH, V("true")),
    ("fromJSON(env.TIME)", GH, V("3")),
    ("fromJSON('  [1]  ')", "", V("[1]")),
    ("fromjson('{')", "", E("Error parsing JSON when evaluating fromJson")),
    ("fromJSON('')", "", E("Error parsing JSON when evaluating fromJson")),
    ("fromJSON(env.EMPTY)", GH, E("Error parsing JSON when evaluating fromJson")),
    ("fromJSON('nope')", "", E("Error parsing JSON when evaluating fromJson")),
    ("case(true, 'first', 'default')", "", V(r#""first""#)),
    ("case(false, 'first', 'default')", "", V(r#""default""#)),
    ("case(false, 'a', true, 'b', 'c')", "", V(r#""b""#)),
    ("case(github.ref == 'refs/heads/main', 'main', 'other')", GH, V(r#""main""#)),
    ("case(1, 'a', 'b')", "", E("case predicate must evaluate to a boolean value")),
    ("case(true, 'a', false, 'b')", "", E("Even number of parameters supplied, requires an odd number of parameters: 'case'")),
    ("success()", "", V("true")),
    ("always()", "", V("true")),
    ("failure()", "", V("false")),
    ("cancelled()", "", V("false")),
    ("Success()", "", V("true")),
    // arity and unknown functions (join.json, startsWith.json, syntax-errors.json)
    ("contains('a')", "", E("Too few parameters supplied: 'contains'")),
    ("contains('a', 'b', 'c')", "", E("Too many parameters supplied: 'contains'")),
    ("startsWith('true', false, true)", "", E("Too many parameters supplied: 'startsWith'")),
    ("join()", "", E("Too few parameters supplied: 'join'")),
    ("join(1, 2, 3)", "", E("Too many parameters supplied: 'join'")),
    ("format()", "", E("Too few parameters supplied: 'format'")),
    ("toJSON()", "", E("Too few parameters supplied: 'toJSON'")),
    ("fromJSON('1', '2')", "", E("Too many parameters supplied: 'fromJSON'")),
    ("success(1)", "", E("Too many parameters supplied: 'success'")),
    ("always(true)", "", E("Too many parameters supplied: 'always'")),
    ("hashFiles()", "", E("Too few parameters supplied: 'hashFiles'")),
    ("case(true, 1)", "", E("Too few parameters supplied: 'case'")),
    ("foo()", "", E("Unrecognized function: 'foo'")),
    ("nonExistentFunction()", "", E("Unrecognized function: 'nonExistentFunction'")),
    ("false && nonExistentFunction()", "", E("Unrecognized function: 'nonExistentFunction'")),
    ("hashFiles('*.txt')", "", E("hashFiles is not available here")),
];

#[test]
fn expression_table() {
    let mut failures = Vec::new();
    for (expr, contexts_json, expected) in CASES {
        if let Err(why) = check(expr, contexts_json, expected) {
            failures.push(format!("`{expr}`: {why}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert!(CASES.len() >= 200, "table has {} cases", CASES.len());
}

/// (source, expected byte offset of the error, message prefix)
#[rustfmt::skip]
const ERROR_OFFSETS: &[(&str, usize, &str)] = &[
    ("foo()", 0, "Unrecognized function: 'foo'"),
    ("1 == bar(2)", 5, "Unrecognized function: 'bar'"),
    ("success() && Bogus()", 13, "Unrecognized function: 'Bogus'"),
    ("contains('a')", 0, "Too few parameters supplied"),
    ("1 && contains('a', 'b', 'c')", 5, "Too many parameters supplied"),
    ("1 2", 2, "Unexpected symbol: '2'"),
    ("github.()", 7, "Unexpected symbol: '('"),
    ("endswith(1, 2 a)", 14, "Unexpected symbol: 'a'"),
    ("foo['bar']2", 10, "Unexpected symbol: '2'"),
    ("1 <", 2, "Unexpected end of expression: '<'"),
    (" true ||( false && false", 19, "Unexpected end of expression: 'false'"),
    ("1 && ..github/workflow.md", 5, "Unexpected symbol: '..github/workflow.md'"),
    ("'é' == 1 2", 10, "Unexpected symbol: '2'"),
];

#[test]
fn error_offsets() {
    for (src, offset, prefix) in ERROR_OFFSETS {
        let err = parse(src).err().unwrap_or_else(|| panic!("`{src}` parsed"));
        assert!(err.message.starts_with(prefix), "`{src}`: {}", err.message);
        assert_eq!(err.offset, *offset, "`{src}`: {}", err.message);
    }
}

#[test]
fn depth_limit() {
    // syntax-errors.json depth-errors: 50 levels are allowed, 51 are not.
    let ok = format!("{}false", "!".repeat(49));
    assert_eq!(
        parse(&ok).unwrap().eval(&ctx(&Object::new())).unwrap(),
        Value::Bool(true)
    );
    let deep = format!("{}false", "!".repeat(50));
    assert_eq!(
        parse(&deep).unwrap_err().message,
        "Exceeded max expression depth 50"
    );
    let parens_ok = format!("{}1{}", "(".repeat(49), ")".repeat(49));
    assert!(parse(&parens_ok).is_ok());
    let parens = format!("{}1{}", "(".repeat(50), ")".repeat(50));
    assert_eq!(
        parse(&parens).unwrap_err().message,
        "Exceeded max expression depth 50"
    );
    let props: String = (1..=50).map(|i| format!("._{i}")).collect();
    assert!(parse(&format!("foo{props}")).is_err());
    // long && / || chains are flat, not deep
    let chain = (1..=60)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(" || ");
    assert!(parse(&chain).is_ok());
    // far deeper input errors instead of overflowing the stack
    let huge = format!("{}1", "(".repeat(20_000));
    assert!(
        parse(&huge)
            .unwrap_err()
            .message
            .starts_with("Exceeded max expression depth")
    );
    let huge = format!("{}true", "!".repeat(20_000));
    assert!(parse(&huge).is_err());
    assert!(
        parse(&"[".repeat(30_000))
            .unwrap_err()
            .message
            .starts_with("Exceeded max expression length")
    );
    assert!(parse_template(&format!("${{{{ {} }}}}", "(".repeat(5000))).is_err());
}

#[test]
fn named_values_and_function_calls() {
    let e = parse("matrix.os == 'x' && contains(GitHub.ref, Steps.a.outputs.b) || toJSON(env)")
        .unwrap();
    assert_eq!(
        e.named_values(),
        vec![
            ("matrix".to_string(), 0),
            ("github".to_string(), 29),
            ("steps".to_string(), 41),
            ("env".to_string(), 70)
        ]
    );
    assert_eq!(
        e.function_calls(),
        vec![("contains".to_string(), 20), ("tojson".to_string(), 63)]
    );
    // property names after a dot are not contexts
    assert_eq!(
        parse("a.b.c").unwrap().named_values(),
        vec![("a".to_string(), 0)]
    );
    // syntax-errors.json: GitHub rejects unknown contexts while parsing
    let err = mlci::expr::parse_with_contexts("fromjson(a,b ", &["github"]).unwrap_err();
    assert_eq!(
        (err.message.as_str(), err.offset),
        ("Unrecognized named-value: 'a'", 9)
    );
    assert!(mlci::expr::parse_with_contexts("GitHub.sha", &["github"]).is_ok());
}

#[test]
fn templates() {
    let c = contexts(GH);
    let cx = ctx(&c);
    let s = |src: &str| parse_template(src).unwrap().eval_string(&cx).unwrap();
    let v = |src: &str| parse_template(src).unwrap().eval(&cx).unwrap();
    assert_eq!(s("plain text"), "plain text");
    assert!(
        parse_template("plain ${ not } $ {{ an expression")
            .unwrap()
            .is_literal()
    );
    assert_eq!(s("Hello ${{ matrix.os }}!"), "Hello ubuntu-latest!");
    assert_eq!(
        s("${{ matrix.os }}-py${{ matrix.python }}-${{ github.event_name }}"),
        "ubuntu-latest-py3.11-push"
    );
    assert_eq!(s("a${{ 'x}}y' }}b"), "ax}}yb");
    assert_eq!(s("${{ format('{{0}}') }}"), "{0}");
    assert_eq!(s("[${{ null }}]"), "[]");
    assert_eq!(s("${{ null }}"), "");
    assert_eq!(s("${{ arr }} and ${{ obj }}"), "Array and Object");
    assert_eq!(s("${{ true }}/${{ 1.0 }}/${{ 0.5 }}"), "true/1/0.5");
    assert_eq!(s("${{ obj }}"), "Object");
    // a single expression keeps its type
    assert_eq!(
        v("${{ fromJSON('[1]') }}"),
        Value::Array(vec![Value::Number(1.0)])
    );
    assert_eq!(v("  ${{ 1 }}\n"), Value::Number(1.0));
    assert_eq!(v("${{ 1 }}${{ 2 }}"), Value::str("12"));
    assert_eq!(v("${{ true }} "), Value::Bool(true));
    assert!(
        parse_template("${{ 1 }} x")
            .unwrap()
            .single_expr()
            .is_none()
    );
    // offsets of the expressions and of errors, relative to the whole string
    let t = parse_template("ab ${{ matrix.os }} ${{github.ref}}").unwrap();
    let offsets: Vec<usize> = t.expressions().map(|(o, _)| o).collect();
    assert_eq!(offsets, vec![6, 23]);
    let (o, e) = t.expressions().nth(1).unwrap();
    assert_eq!(e.named_values(), vec![("github".to_string(), 0)]);
    assert_eq!(o, 23);
    let err = parse_template("x ${{ 1 2 }}").unwrap_err();
    assert_eq!(
        (err.offset, err.message.as_str()),
        (8, "Unexpected symbol: '2'")
    );
    let err = parse_template("ok ${{ nope() }}").unwrap_err();
    assert_eq!(
        (err.offset, err.message.as_str()),
        (7, "Unrecognized function: 'nope'")
    );
    let err = parse_template("text ${{ github.ref").unwrap_err();
    assert_eq!(err.offset, 5);
    assert!(err.message.contains("not closed"));
    let err = parse_template("a ${{ 'unterminated }}").unwrap_err();
    assert_eq!(err.offset, 2);
    let err = parse_template("a ${{   }}").unwrap_err();
    assert_eq!(
        (err.offset, err.message.as_str()),
        (2, "An expression was expected")
    );
    // evaluation errors surface from templates
    assert!(
        parse_template("${{ fromJSON('') }}")
            .unwrap()
            .eval(&cx)
            .is_err()
    );
}

fn condition(src: &str, status: Status) -> bool {
    let c = contexts(GH);
    let cx = EvalContext {
        contexts: &c,
        status,
        workspace: None,
    };
    parse_condition(src).unwrap().eval(&cx).unwrap()
}

#[test]
fn conditions() {
    use Status::*;
    // docs (Workflow syntax, `if`): ${{ }} may be omitted
    assert!(condition("github.ref == 'refs/heads/main'", Success));
    assert!(condition("${{ github.ref == 'refs/heads/main' }}", Success));
    assert!(!condition("github.ref == 'refs/heads/dev'", Success));
    // docs (Status check functions): without one, `success() &&` is implied
    assert!(!condition("github.ref == 'refs/heads/main'", Failure));
    assert!(!condition("${{ true }}", Cancelled));
    assert!(condition("", Success));
    assert!(!condition("", Failure));
    assert!(condition("${{ failure() }}", Failure));
    assert!(!condition("failure()", Success));
    assert!(condition("always()", Cancelled));
    assert!(condition("always()", Failure));
    assert!(condition("cancelled()", Cancelled));
    assert!(!condition("cancelled()", Success));
    assert!(condition("success() || failure()", Failure));
    assert!(condition(
        "failure() && steps.build.conclusion == 'success'",
        Failure
    ));
    assert!(condition("!cancelled()", Failure));
    assert!(condition("${{ !cancelled() }}", Failure));
    assert!(!condition("${{ false }}", Success));
    assert!(!condition("${{ '' }}", Success));
    // docs: "if: true && ${{ false }}" is a string, and so true
    assert!(condition("true && ${{ false }}", Success));
    assert!(!condition("${{ false }} ", Success));
    assert!(!condition("${{ null }}${{ '' }}", Success));
    assert!(condition("${{ 'a' }} && ${{ failure() }}", Failure));
    // the implicit success() short-circuits: no evaluation error after a failure
    let c = contexts("");
    let cx = EvalContext {
        contexts: &c,
        status: Failure,
        workspace: None,
    };
    assert!(!parse_condition("fromJSON('')").unwrap().eval(&cx).unwrap());
    let cx = EvalContext {
        contexts: &c,
        status: Success,
        workspace: None,
    };
    assert!(parse_condition("fromJSON('')").unwrap().eval(&cx).is_err());
    // parse errors and offsets
    assert_eq!(parse_condition("1 2").unwrap_err().offset, 2);
    assert_eq!(parse_condition("a ${{ 1 2 }}").unwrap_err().offset, 8);
    let offsets: Vec<usize> = parse_condition("${{ success() }}")
        .unwrap()
        .expressions()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(offsets, vec![3]);
    let offsets: Vec<usize> = parse_condition("github.ref")
        .unwrap()
        .expressions()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(offsets, vec![0]);
}

/// The runner's hashFiles: SHA-256 over the SHA-256 digests of the files.
fn expected_hash(contents: &[&str]) -> String {
    let mut outer = Sha256::new();
    for c in contents {
        outer.update(Sha256::digest(c.as_bytes()));
    }
    outer
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn hash_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(root.join("exclude")).unwrap();
    std::fs::write(root.join("a.txt"), "a").unwrap();
    std::fs::write(root.join("sub/b.txt"), "b").unwrap();
    std::fs::write(root.join("sub/c.log"), "c").unwrap();
    std::fs::write(root.join("exclude/d.txt"), "d").unwrap();
    std::fs::write(root.join("hello"), "hello\n").unwrap();
    let c = Object::new();
    let cx = EvalContext {
        contexts: &c,
        status: Status::Success,
        workspace: Some(root),
    };
    let h = |expr: &str| match parse(expr).unwrap().eval(&cx).unwrap() {
        Value::String(s) => s,
        other => panic!("{other:?}"),
    };
    // sha256(sha256(file)): the same as `sha256sum f | xxd -r -p | sha256sum`
    assert_eq!(
        h("hashFiles('hello')"),
        "ecb65bb98f9d905b70458986c39fcbad7715e5f2fcc3b1f07767d7c83e2438cc"
    );
    // sorted path order: a.txt, exclude/d.txt, sub/b.txt
    assert_eq!(h("hashFiles('**/*.txt')"), expected_hash(&["a", "d", "b"]));
    assert_eq!(
        h("hashFiles('a.txt', 'sub/b.txt')"),
        "e5a01fee14e0ed5c48714f22180f25ad8365b53f9779f79dc4a3d7e93963f94a"
    );
    assert_eq!(
        h("hashFiles('sub/b.txt', 'a.txt')"),
        h("hashFiles('a.txt', 'sub/b.txt')")
    );
    assert_eq!(
        h("hashFiles('**/*.txt', '!exclude/**')"),
        expected_hash(&["a", "b"])
    );
    assert_eq!(
        h("hashFiles('**/*.txt', '!**/d.txt')"),
        expected_hash(&["a", "b"])
    );
    // `*` stays in one directory
    assert_eq!(h("hashFiles('*.txt')"), expected_hash(&["a"]));
    // a directory matches what is below it
    assert_eq!(h("hashFiles('sub')"), expected_hash(&["b", "c"]));
    // docs: a leading / is the workspace root; the workspace path works too
    assert_eq!(h("hashFiles('/sub/*.txt')"), expected_hash(&["b"]));
    let abs = format!("hashFiles('{}/sub/*.log')", root.display());
    assert_eq!(h(&abs), expected_hash(&["c"]));
    // nothing matches: ''
    assert_eq!(h("hashFiles('nothing*')"), "");
    assert_eq!(h("hashFiles('**/*.txt', '!**')"), "");
    assert_eq!(h("HASHFILES('sub/*.log')"), expected_hash(&["c"]));
}
