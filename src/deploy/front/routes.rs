//! Where the front sends requests: the model servers of a deployment and
//! their weights (one at 100 when a version takes all traffic; two during
//! a canary), picked by smooth weighted round robin, so that a 10 % canary
//! gets exactly one request in ten, spread evenly, not by chance.

use serde::{Deserialize, Serialize};

/// One model server behind the front.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The model version it serves.
    pub version: i64,
    /// `host:port` on the deployment's network.
    pub upstream: String,
    /// Its share of requests, against the others' weights.
    pub weight: u32,
}

/// The whole routing table, replaced at once on a switch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Routes {
    /// Raised by each switch: the front answers with the one it serves.
    pub generation: u64,
    pub routes: Vec<Route>,
    /// The share of requests to `/invocations` recorded in the request log (0–1).
    #[serde(default = "all")]
    pub sample: f64,
}

fn all() -> f64 {
    1.0
}

impl Default for Routes {
    fn default() -> Routes {
        Routes {
            generation: 0,
            routes: Vec::new(),
            sample: 1.0,
        }
    }
}

/// Smooth weighted round robin (as nginx's upstream module): each pick
/// adds every route's weight to its credit and takes the one with the most,
/// which then pays the total back.
#[derive(Clone, Debug, Default)]
pub struct Picker {
    weights: Vec<i64>,
    credit: Vec<i64>,
}

impl Picker {
    pub fn new(routes: &Routes) -> Picker {
        let weights: Vec<i64> = routes.routes.iter().map(|r| i64::from(r.weight)).collect();
        Picker {
            credit: vec![0; weights.len()],
            weights,
        }
    }

    /// The routes to try, in order: the pick, then the others (for a retry
    /// when the pick cannot be reached). Empty when there is no route with weight.
    pub fn order(&mut self) -> Vec<usize> {
        let total: i64 = self.weights.iter().sum();
        if total <= 0 {
            return Vec::new();
        }
        let mut best = 0;
        for (index, weight) in self.weights.iter().enumerate() {
            self.credit[index] += weight;
            if self.credit[index] > self.credit[best] {
                best = index;
            }
        }
        self.credit[best] -= total;
        let mut order = vec![best];
        order.extend((0..self.weights.len()).filter(|&i| i != best && self.weights[i] > 0));
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(weights: &[u32]) -> Routes {
        Routes {
            generation: 1,
            routes: weights
                .iter()
                .enumerate()
                .map(|(i, &weight)| Route {
                    version: i as i64 + 1,
                    upstream: format!("v{}:8080", i + 1),
                    weight,
                })
                .collect(),
            sample: 1.0,
        }
    }

    #[test]
    fn a_canary_gets_exactly_its_share_spread_evenly() {
        let mut picker = Picker::new(&routes(&[90, 10]));
        let picks: Vec<usize> = (0..100).map(|_| picker.order()[0]).collect();
        assert_eq!(picks.iter().filter(|&&p| p == 1).count(), 10);
        // Never two canary requests in a row.
        assert!(picks.windows(2).all(|w| !(w[0] == 1 && w[1] == 1)));
    }

    #[test]
    fn the_other_routes_follow_for_retries_and_no_weight_means_no_route() {
        let mut picker = Picker::new(&routes(&[100, 0]));
        assert_eq!(picker.order(), vec![0]);
        let mut picker = Picker::new(&routes(&[50, 50]));
        let order = picker.order();
        assert_eq!(order.len(), 2);
        assert_ne!(order[0], order[1]);
        assert!(Picker::new(&routes(&[])).order().is_empty());
        assert!(Picker::new(&routes(&[0])).order().is_empty());
    }
}
