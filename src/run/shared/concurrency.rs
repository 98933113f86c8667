//! Job-level `concurrency` within a run: who holds a group, who waits.

use crate::run::output::Console;
use std::collections::BTreeMap;
use std::sync::Mutex;
use tokio_util::sync::CancellationToken;

/// Job-level `concurrency` within a run, as GitHub has it: in one group at
/// most one job instance runs and one waits; a newer arrival cancels the one
/// waiting, and with `cancel-in-progress` the one running too.
#[derive(Default)]
pub(crate) struct ConcurrencyGroups {
    groups: Mutex<BTreeMap<String, GroupState>>,
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct GroupState {
    running: Option<(u64, CancellationToken)>,
    waiting: Option<(u64, CancellationToken)>,
    next_ticket: u64,
}

/// Holds a concurrency group until dropped.
pub(crate) struct ConcurrencySlot<'a> {
    groups: &'a ConcurrencyGroups,
    group: String,
    ticket: u64,
}

impl ConcurrencyGroups {
    /// Waits for the group; None when this instance was cancelled meanwhile.
    pub async fn enter<'a>(
        &'a self,
        console: &Console,
        name: &str,
        group: &str,
        cancel_in_progress: bool,
        cancel: &CancellationToken,
    ) -> Option<ConcurrencySlot<'a>> {
        let ticket = {
            let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            let state = groups.entry(group.to_string()).or_default();
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            if let Some((_, previous)) = state.waiting.take() {
                previous.cancel();
            }
            if cancel_in_progress && let Some((_, running)) = &state.running {
                running.cancel();
            }
            if state.running.is_none() {
                state.running = Some((ticket, cancel.clone()));
                return Some(ConcurrencySlot {
                    groups: self,
                    group: group.to_string(),
                    ticket,
                });
            }
            state.waiting = Some((ticket, cancel.clone()));
            ticket
        };
        self.changed.notify_waiters();
        console.line(name, &format!("waiting for concurrency group `{group}`"));
        loop {
            let changed = self.changed.notified();
            {
                let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
                let state = groups.entry(group.to_string()).or_default();
                let mine = state.waiting.as_ref().is_some_and(|(t, _)| *t == ticket);
                if cancel.is_cancelled() || !mine {
                    if mine {
                        state.waiting = None;
                    }
                    return None;
                }
                if state.running.is_none() {
                    state.waiting = None;
                    state.running = Some((ticket, cancel.clone()));
                    return Some(ConcurrencySlot {
                        groups: self,
                        group: group.to_string(),
                        ticket,
                    });
                }
            }
            tokio::select! {
                _ = changed => {}
                _ = cancel.cancelled() => {}
            }
        }
    }
}

impl Drop for ConcurrencySlot<'_> {
    fn drop(&mut self) {
        let mut groups = self.groups.groups.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = groups.get_mut(&self.group)
            && state
                .running
                .as_ref()
                .is_some_and(|(t, _)| *t == self.ticket)
        {
            state.running = None;
        }
        drop(groups);
        self.groups.changed.notify_waiters();
    }
}
