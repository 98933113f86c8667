//! The `inputs` context a run plans with, by the event that starts it, as on
//! GitHub: a `workflow_dispatch` run has the dispatch inputs, a called
//! workflow its `workflow_call` inputs (typed as declared, with their
//! defaults), and any other event none. A workflow that can only be called
//! stands for a call when it is run or listed on its own.
//!
//! An input that its caller fills in (a required `workflow_call` input
//! with no default, or one passed from the caller's `needs`) is *pending*:
//! known only when the job starts, so what reads it is planned then.

use crate::expr::{Object, Template, Value};
use crate::workflow::{InputKind, Workflow};
use std::collections::BTreeSet;

/// What is known before the run: the `github`, `inputs` and `vars` contexts
/// (see [`PlanInputs::for_event`]).
#[derive(Clone, Debug, Default)]
pub struct PlanInputs {
    pub github: Object,
    pub inputs: Object,
    pub vars: Object,
    /// Inputs that are not in `inputs` because their caller gives them when
    /// the job starts: what reads them is planned then.
    pub pending: BTreeSet<String>,
}

impl PlanInputs {
    /// What a run of `workflow` on `event` knows before it starts, with the
    /// inputs given on the command line (`--input`) over the declared ones.
    pub fn for_event(workflow: &Workflow, event: &str, given: &Object, vars: Object) -> PlanInputs {
        let mut github = Object::new();
        github.insert("event_name", Value::str(event));
        let (inputs, pending) = declared_inputs(workflow, event, given);
        PlanInputs {
            github,
            inputs,
            vars,
            pending,
        }
    }
}

/// Whether only a call can start `workflow` (`on: workflow_call` alone).
pub fn callable_only(workflow: &Workflow) -> bool {
    !workflow.on.is_empty() && workflow.on.iter().all(|t| t.event.value == "workflow_call")
}

/// The `inputs` context for `event`, and the inputs in it that are pending.
fn declared_inputs(workflow: &Workflow, event: &str, given: &Object) -> (Object, BTreeSet<String>) {
    let trigger = match event {
        "workflow_dispatch" => workflow.trigger("workflow_dispatch"),
        _ if event == "workflow_call" || callable_only(workflow) => {
            workflow.trigger("workflow_call")
        }
        _ => None,
    };
    let declared = trigger
        .map(|t| t.filters.inputs.as_slice())
        .unwrap_or_default();
    let is_call = trigger.is_some_and(|t| t.event.value == "workflow_call");
    let mut inputs = Object::new();
    let mut pending = BTreeSet::new();
    for input in declared {
        let name = &input.name.value;
        let given = given
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone());
        let value = given.or_else(|| input.default.as_ref().map(|d| d.value.clone()));
        if value.is_none() && is_call && input.required {
            pending.insert(name.clone());
            continue;
        }
        inputs.insert(name.clone(), typed(input.kind, value));
    }
    // Given inputs that no trigger declares are still seen, as given.
    for (name, value) in given {
        if !declared
            .iter()
            .any(|d| d.name.value.eq_ignore_ascii_case(name))
        {
            inputs.insert(name.clone(), value.clone());
        }
    }
    (inputs, pending)
}

/// A value as its input's declared type; GitHub's empty value of that type
/// when there is none.
fn typed(kind: InputKind, value: Option<Value>) -> Value {
    match (kind, value) {
        (InputKind::Boolean, Some(Value::String(s))) => Value::Bool(s.eq_ignore_ascii_case("true")),
        (InputKind::Boolean, None) => Value::Bool(false),
        (InputKind::Number, Some(Value::String(s))) => s
            .trim()
            .parse()
            .map(Value::Number)
            .unwrap_or(Value::String(s)),
        (InputKind::Number, None) => Value::Number(0.0),
        (_, Some(value)) => value,
        (_, None) => Value::String(String::new()),
    }
}

/// Whether `template` may read one of the `pending` inputs.
pub fn reads_pending(template: &Template, pending: &BTreeSet<String>) -> bool {
    !pending.is_empty()
        && template.expressions().any(|(_, e)| {
            e.context_properties("inputs").iter().any(|p| match p {
                Some(name) => pending.iter().any(|q| q.eq_ignore_ascii_case(name)),
                None => true,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(on: &str, event: &str, given: &[(&str, &str)]) -> PlanInputs {
        let yaml =
            format!("on:\n{on}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n");
        let loaded = crate::workflow::parse(crate::diag::SourceFile::new("wf.yml", yaml));
        assert!(!loaded.has_errors(), "{}", loaded.render_diagnostics());
        let given = given
            .iter()
            .map(|(k, v)| (k.to_string(), Value::str(*v)))
            .collect();
        PlanInputs::for_event(&loaded.workflow, event, &given, Object::new())
    }

    const BOTH: &str = "  pull_request:\n  workflow_dispatch:\n    inputs:\n      n: {type: number, default: 100}\n      go: {type: boolean}";

    #[test]
    fn dispatch_inputs_are_seen_on_workflow_dispatch_only_and_typed() {
        let dispatch = inputs(BOTH, "workflow_dispatch", &[]);
        assert_eq!(dispatch.inputs.get("n"), Some(&Value::Number(100.0)));
        assert_eq!(dispatch.inputs.get("go"), Some(&Value::Bool(false)));
        let given = inputs(BOTH, "workflow_dispatch", &[("n", "7"), ("go", "true")]);
        assert_eq!(given.inputs.get("n"), Some(&Value::Number(7.0)));
        assert_eq!(given.inputs.get("go"), Some(&Value::Bool(true)));
        assert!(inputs(BOTH, "pull_request", &[]).inputs.is_empty());
        assert_eq!(
            dispatch.github.get("event_name"),
            Some(&Value::str("workflow_dispatch"))
        );
    }

    #[test]
    fn a_required_call_input_without_a_value_is_pending() {
        let on = "  workflow_call:\n    inputs:\n      slices: {type: string, required: true}\n      id: {type: number, default: 1}";
        let alone = inputs(on, "push", &[]);
        assert_eq!(alone.pending, BTreeSet::from(["slices".to_string()]));
        assert_eq!(alone.inputs.get("id"), Some(&Value::Number(1.0)));
        assert!(inputs(on, "push", &[("slices", "[]")]).pending.is_empty());
    }

    #[test]
    fn what_reads_a_pending_input_is_told_by_the_properties_it_reads() {
        let pending = BTreeSet::from(["slices".to_string()]);
        let reads =
            |text: &str| reads_pending(&crate::expr::parse_template(text).unwrap(), &pending);
        assert!(reads("${{ fromJson(inputs.slices)[inputs.id] }}"));
        assert!(reads("${{ inputs['SLICES'] }}"));
        assert!(reads("${{ toJSON(inputs) }}"));
        assert!(reads("${{ inputs[format('s{0}', 'lices')] }}"));
        assert!(!reads("${{ inputs.id }} on ${{ github.event_name }}"));
    }
}
