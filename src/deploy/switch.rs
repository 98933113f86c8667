//! The decisions of a switch, without the engine: what a smoke test's
//! answer means, and, from what serves now and what is asked, the routes the
//! front takes next and the servers that go once their requests are done.

use super::front::Route;

/// A model server of the deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    pub version: i64,
    pub container: String,
    /// `host:port` on the deployment's network.
    pub upstream: String,
}

/// What serves now.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Serving {
    pub live: Option<Slot>,
    pub canary: Option<(Slot, u8)>,
}

/// What the front serves after a change, and what then goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switch {
    pub routes: Vec<Route>,
    /// Servers that take no more requests: stopped once none is in flight.
    pub retire: Vec<Slot>,
    pub after: Serving,
}

fn route(slot: &Slot, weight: u32) -> Route {
    Route {
        version: slot.version,
        upstream: slot.upstream.clone(),
        weight,
    }
}

impl Serving {
    /// `new` takes all traffic, or with `canary` its share beside the live one.
    pub fn switch_to(&self, new: Slot, canary: Option<u8>) -> Result<Switch, String> {
        match (canary, &self.live) {
            (Some(_), None) => Err(
                "nothing serves yet to share traffic with: deploy a first version without --canary"
                    .into(),
            ),
            (Some(percent), Some(live)) => Ok(Switch {
                routes: vec![
                    route(live, u32::from(100 - percent)),
                    route(&new, u32::from(percent)),
                ],
                retire: self.canary.iter().map(|(slot, _)| slot.clone()).collect(),
                after: Serving {
                    live: Some(live.clone()),
                    canary: Some((new, percent)),
                },
            }),
            (None, _) => Ok(Switch {
                routes: vec![route(&new, 100)],
                retire: self.serving().cloned().collect(),
                after: Serving {
                    live: Some(new),
                    canary: None,
                },
            }),
        }
    }

    /// The canary takes all traffic.
    pub fn promote(&self) -> Result<Switch, String> {
        let (canary, _) = self
            .canary
            .clone()
            .ok_or("no canary to promote: deploy one with --canary PCT")?;
        Ok(Switch {
            routes: vec![route(&canary, 100)],
            retire: self.live.iter().cloned().collect(),
            after: Serving {
                live: Some(canary),
                canary: None,
            },
        })
    }

    /// The live version takes all traffic back from the canary.
    pub fn drop_canary(&self) -> Result<Switch, String> {
        let (canary, _) = self.canary.clone().ok_or("no canary to roll back")?;
        let live = self.live.clone().ok_or("no live version to go back to")?;
        Ok(Switch {
            routes: vec![route(&live, 100)],
            retire: vec![canary],
            after: Serving {
                live: Some(live),
                canary: None,
            },
        })
    }

    fn serving(&self) -> impl Iterator<Item = &Slot> {
        self.live
            .iter()
            .chain(self.canary.iter().map(|(slot, _)| slot))
    }
}

/// What a smoke test's answer says of the version.
#[derive(Clone, Debug, PartialEq)]
pub enum Smoke {
    Passed {
        predictions: serde_json::Value,
    },
    /// The server refused the payload (4xx): the payload does not fit the model.
    Rejected(String),
    /// No answer, a server error, no predictions, or other predictions than expected.
    Failed(String),
}

/// Judges the answer to `POST /invocations`.
pub fn judge_smoke(status: Option<u16>, body: &str, expect: Option<&serde_json::Value>) -> Smoke {
    let short = |text: &str| {
        let text = text.trim();
        match text.char_indices().nth(400) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_string(),
        }
    };
    let reason = || {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(short))
            .unwrap_or_else(|| short(body))
    };
    let status = match status {
        None => return Smoke::Failed(format!("no answer to POST /invocations ({})", short(body))),
        Some(status) => status,
    };
    if (400..500).contains(&status) {
        return Smoke::Rejected(format!("HTTP {status}: {}", reason()));
    }
    if status != 200 {
        return Smoke::Failed(format!(
            "POST /invocations answered HTTP {status}: {}",
            reason()
        ));
    }
    let predictions = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("predictions").cloned());
    let Some(predictions) = predictions else {
        return Smoke::Failed(format!(
            "POST /invocations answered without predictions: {}",
            short(body)
        ));
    };
    if let Some(expected) = expect {
        let expected = expected.get("predictions").unwrap_or(expected);
        if !same_values(expected, &predictions) {
            return Smoke::Failed(format!(
                "the predictions are {predictions}, not the expected {expected}"
            ));
        }
    }
    Smoke::Passed { predictions }
}

/// Equal JSON, numbers within a relative 1e-6 (a float printed by another library).
fn same_values(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_values(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_values(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn slot(version: i64) -> Slot {
        Slot {
            version,
            container: format!("c{version}"),
            upstream: format!("c{version}:8080"),
        }
    }

    fn weights(switch: &Switch) -> Vec<(i64, u32)> {
        switch
            .routes
            .iter()
            .map(|r| (r.version, r.weight))
            .collect()
    }

    #[test]
    fn a_switch_moves_all_traffic_and_retires_what_served() {
        let first = Serving::default().switch_to(slot(1), None).unwrap();
        assert_eq!(weights(&first), [(1, 100)]);
        assert!(first.retire.is_empty());
        let second = first.after.switch_to(slot(2), None).unwrap();
        assert_eq!(weights(&second), [(2, 100)]);
        assert_eq!(second.retire, [slot(1)]);
    }

    #[test]
    fn a_canary_shares_until_promoted_or_dropped() {
        let live = Serving {
            live: Some(slot(1)),
            canary: None,
        };
        let canary = live.switch_to(slot(2), Some(10)).unwrap();
        assert_eq!(weights(&canary), [(1, 90), (2, 10)]);
        assert!(canary.retire.is_empty());
        let promoted = canary.after.promote().unwrap();
        assert_eq!(weights(&promoted), [(2, 100)]);
        assert_eq!(promoted.retire, [slot(1)]);
        let dropped = canary.after.drop_canary().unwrap();
        assert_eq!(weights(&dropped), [(1, 100)]);
        assert_eq!(dropped.retire, [slot(2)]);
        // A new canary replaces the old one; a full switch retires both.
        let again = canary.after.switch_to(slot(3), Some(20)).unwrap();
        assert_eq!(again.retire, [slot(2)]);
        assert_eq!(
            canary.after.switch_to(slot(3), None).unwrap().retire,
            [slot(1), slot(2)]
        );
        assert!(Serving::default().switch_to(slot(1), Some(10)).is_err());
        assert!(live.promote().is_err());
        assert!(live.drop_canary().is_err());
    }

    #[test]
    fn smoke_answers_are_judged() {
        let ok = r#"{"predictions": [0, 0, 0]}"#;
        assert_eq!(
            judge_smoke(Some(200), ok, None),
            Smoke::Passed {
                predictions: json!([0, 0, 0])
            }
        );
        assert!(matches!(
            judge_smoke(Some(200), ok, Some(&json!({"predictions": [0.0, 0, 1e-9]}))),
            Smoke::Passed { .. }
        ));
        let Smoke::Failed(why) = judge_smoke(Some(200), ok, Some(&json!([1, 1, 1]))) else {
            panic!()
        };
        assert!(why.contains("not the expected [1,1,1]"), "{why}");
        let rejected = r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "Model is missing inputs ['x']"}"#;
        assert_eq!(
            judge_smoke(Some(400), rejected, None),
            Smoke::Rejected("HTTP 400: Model is missing inputs ['x']".into())
        );
        assert!(matches!(
            judge_smoke(Some(500), "boom", None),
            Smoke::Failed(_)
        ));
        assert!(matches!(
            judge_smoke(Some(200), "[]", None),
            Smoke::Failed(_)
        ));
        assert!(matches!(
            judge_smoke(None, "refused", None),
            Smoke::Failed(_)
        ));
    }
}
