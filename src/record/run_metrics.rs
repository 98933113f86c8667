//! A run's metrics, series and params, as reports and `mlci metrics` read them.

use super::model::{JobRecord, RunRecord, StepRecord};
use crate::metrics::{Metric, MetricValue, Param};
use std::collections::BTreeMap;

impl RunRecord {
    /// Every metric of the run with the job it came from, in record order.
    pub fn metrics(&self) -> impl Iterator<Item = (&JobRecord, &StepRecord, &Metric)> {
        self.jobs.iter().flat_map(|job| {
            job.steps
                .iter()
                .flat_map(move |step| step.metrics.iter().map(move |m| (job, step, m)))
        })
    }

    /// The run's final metric values by name. A name that more than one job
    /// instance reports is keyed `name [job name]`, one entry per instance.
    pub fn metric_values(&self) -> Vec<(String, MetricValue)> {
        let mut by_name: BTreeMap<&str, Vec<(&str, &MetricValue)>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (job, _, metric) in self.metrics().filter(|(_, _, m)| m.step.is_none()) {
            let entry = by_name.entry(metric.name.as_str()).or_default();
            if entry.is_empty() {
                order.push(metric.name.as_str());
            }
            // A later value from the same job replaces the earlier one.
            if let Some(slot) = entry.iter_mut().find(|(j, _)| *j == job.name.as_str()) {
                slot.1 = &metric.value;
            } else {
                entry.push((job.name.as_str(), &metric.value));
            }
        }
        let mut out = Vec::new();
        for name in order {
            let entries = &by_name[name];
            if entries.len() == 1 {
                out.push((name.to_string(), entries[0].1.clone()));
            } else {
                for (job, value) in entries {
                    out.push((format!("{name} [{job}]"), (*value).clone()));
                }
            }
        }
        out
    }

    /// Series points by metric name: (step, value), sorted by step.
    pub fn series(&self) -> Vec<(String, Vec<(i64, f64)>)> {
        let mut out: Vec<(String, Vec<(i64, f64)>)> = Vec::new();
        let multi_jobs = {
            let mut jobs_of: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
            for (job, _, metric) in self.metrics().filter(|(_, _, m)| m.step.is_some()) {
                jobs_of
                    .entry(metric.name.as_str())
                    .or_default()
                    .insert(job.name.as_str());
            }
            jobs_of
        };
        for (job, _, metric) in self.metrics() {
            let (Some(step), Some(value)) = (metric.step, metric.value.as_number()) else {
                continue;
            };
            let key = if multi_jobs
                .get(metric.name.as_str())
                .is_some_and(|s| s.len() > 1)
            {
                format!("{} [{}]", metric.name, job.name)
            } else {
                metric.name.clone()
            };
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, points)) => points.push((step, value)),
                None => out.push((key, vec![(step, value)])),
            }
        }
        for (_, points) in &mut out {
            points.sort_by_key(|(step, _)| *step);
        }
        out
    }

    /// Every param of the run (last value of a name wins).
    pub fn params(&self) -> Vec<Param> {
        let mut out: Vec<Param> = Vec::new();
        for param in self
            .jobs
            .iter()
            .flat_map(|j| j.steps.iter().flat_map(|s| s.params.iter()))
        {
            match out.iter_mut().find(|p| p.name == param.name) {
                Some(existing) => existing.value = param.value.clone(),
                None => out.push(param.clone()),
            }
        }
        out
    }
}
