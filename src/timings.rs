//! Where a run's time goes, phase by phase: what `mlci run --timings`
//! prints for every job and the run store keeps (as `cargo build --timings`
//! does for crates). A leaf: the executor, the runner, the record and the
//! command line all speak of the same phases.

use std::time::{Duration, Instant};

/// A phase of a job, in the order a job goes through them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// On the host before any container: contexts, the job's request, the
    /// outputs of the jobs it needs laid out for mounting.
    Prepare,
    /// Hashing step inputs and looking their keys up in the cache.
    Hash,
    /// Creating and starting the job container (and its network).
    Container,
    /// Copying the workspace snapshot into the container.
    Workspace,
    /// Starting services and waiting for their health checks.
    Services,
    /// The steps' commands, with their step files written and read back.
    Steps,
    /// Cache hits copied into a running container.
    Restore,
    /// Step outputs copied out of the container.
    CopyOut,
    /// Step outputs hashed and moved into the cache store.
    Save,
    /// Removing the containers, network and volumes of the job.
    Teardown,
}

impl Phase {
    /// Every job phase, in order.
    pub const ALL: [Phase; 10] = [
        Phase::Prepare,
        Phase::Hash,
        Phase::Container,
        Phase::Workspace,
        Phase::Services,
        Phase::Steps,
        Phase::Restore,
        Phase::CopyOut,
        Phase::Save,
        Phase::Teardown,
    ];

    /// The phase's name in tables, JSON and the run store.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Hash => "hash",
            Phase::Container => "container",
            Phase::Workspace => "workspace",
            Phase::Services => "services",
            Phase::Steps => "steps",
            Phase::Restore => "restore",
            Phase::CopyOut => "copy-out",
            Phase::Save => "save",
            Phase::Teardown => "teardown",
        }
    }

    pub fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// Time spent per phase; adding to a phase twice sums.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseTimes {
    spent: Vec<(Phase, Duration)>,
}

impl PhaseTimes {
    pub fn add(&mut self, phase: Phase, spent: Duration) {
        match self.spent.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += spent,
            None => {
                self.spent.push((phase, spent));
                self.spent.sort_by_key(|(p, _)| *p);
            }
        }
    }

    /// Adds the time since `since` to `phase`.
    pub fn add_since(&mut self, phase: Phase, since: Instant) {
        self.add(phase, since.elapsed());
    }

    pub fn merge(&mut self, other: &PhaseTimes) {
        for (phase, spent) in &other.spent {
            self.add(*phase, *spent);
        }
    }

    pub fn get(&self, phase: Phase) -> Duration {
        self.spent
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, d)| *d)
            .unwrap_or_default()
    }

    /// The phases that took any time, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, Duration)> + '_ {
        self.spent.iter().copied()
    }

    pub fn total(&self) -> Duration {
        self.spent.iter().map(|(_, d)| *d).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.spent.is_empty()
    }
}

/// The phases of the run as a whole, outside any job.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunPhases {
    /// Taking the workspace snapshot of the repository.
    pub snapshot: Duration,
    /// Leaving every output in the working tree, and the cache's size cap.
    pub checkout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_sum_and_keep_their_order() {
        let mut times = PhaseTimes::default();
        times.add(Phase::Steps, Duration::from_millis(30));
        times.add(Phase::Container, Duration::from_millis(10));
        times.add(Phase::Steps, Duration::from_millis(5));
        let order: Vec<Phase> = times.iter().map(|(p, _)| p).collect();
        assert_eq!(order, vec![Phase::Container, Phase::Steps]);
        assert_eq!(times.get(Phase::Steps), Duration::from_millis(35));
        assert_eq!(times.get(Phase::Save), Duration::ZERO);
        assert_eq!(times.total(), Duration::from_millis(45));
        for phase in Phase::ALL {
            assert_eq!(Phase::parse(phase.as_str()), Some(phase));
        }
    }
}
