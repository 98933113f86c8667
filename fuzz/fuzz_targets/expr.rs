//! Any text as an expression, a template and a condition, evaluated against
//! a small set of contexts: errors are fine, panics and hangs are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mlci::expr::{self, EvalContext, Object, Status, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let contexts = contexts();
    let context = EvalContext {
        contexts: &contexts,
        status: Status::Success,
        workspace: None,
    };
    if let Ok(expression) = expr::parse(text) {
        let _ = expression.eval(&context);
        let _ = expression.named_values();
        let _ = expression.function_calls();
    }
    if let Ok(template) = expr::parse_template(text) {
        let _ = template.eval_string(&context);
    }
    if let Ok(condition) = expr::parse_condition(text) {
        let _ = condition.eval(&context);
    }
});

fn contexts() -> Object {
    let json = serde_json_like();
    match Value::from_json(&json) {
        Value::Object(object) => object,
        _ => Object::new(),
    }
}

fn serde_json_like() -> mlci_json::Value {
    mlci_json::json!({
        "github": {"event_name": "push", "ref": "refs/heads/main", "event": {"pull_request": {"labels": [{"name": "gpu"}, {"name": "ci"}]}}},
        "matrix": {"python": 3.1, "os": "ubuntu", "cuda": ["11.8", "12.1"]},
        "env": {"A": "1", "EMPTY": ""},
        "steps": {"train": {"outputs": {"acc": "0.93"}, "outcome": "success"}},
        "needs": {"prepare": {"result": "success", "outputs": {"matrix": "{\"x\":[1,2]}"}}}
    })
}
