//! One owner for every task a run spawns, and one way to stop them.
//!
//! Invariants:
//! - every background task of a run (heartbeat, streamer, throttler, copier, control server, row count) is
//!   spawned through `Tasks`, and gets the same `Stop`;
//! - however the run ends (error, panic, critical load, interrupt, success), `Tasks::shutdown` (or, if the
//!   run's future is dropped, `Drop`) signals stop and the tasks end: none outlives the run;
//! - tasks that write (the copier) end at their next step, after the statement in flight; `shutdown` waits
//!   for that, up to a grace period, so that nothing writes to the ghost table once the run has returned.
//!   Read-only tasks are dropped at the signal.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::error::{Error, Result};

/// The stop signal, as each task holds it.
#[derive(Debug, Clone)]
pub(crate) struct Stop(watch::Receiver<bool>);

impl Stop {
    /// A stop signal of the caller's own (the run's interrupt).
    pub(crate) fn new(rx: watch::Receiver<bool>) -> Self {
        Stop(rx)
    }

    pub(crate) fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once stop is signalled (or its sender is gone, which means the same).
    pub(crate) async fn stopped(&mut self) {
        let _ = self.0.wait_for(|s| *s).await;
    }

    /// Fails with `Aborted` if stop has been signalled: for loops that check between steps.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_stopped() {
            return Err(Error::Aborted("stopped".into()));
        }
        Ok(())
    }
}

/// A task's end, named for the run loop.
pub(crate) type Exit = (&'static str, Result<()>);

pub(crate) struct Tasks {
    set: JoinSet<Exit>,
    stop: watch::Sender<bool>,
}

impl Default for Tasks {
    fn default() -> Self {
        Tasks { set: JoinSet::new(), stop: watch::channel(false).0 }
    }
}

impl Tasks {
    pub(crate) fn stop_signal(&self) -> Stop {
        Stop(self.stop.subscribe())
    }

    /// A task that watches `Stop` itself and ends at its next step (the copier).
    pub(crate) fn spawn<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        self.set.spawn(async move { (name, task.await) });
    }

    /// A task that may be dropped at any await point (it only reads, or writes only what a restart redoes):
    /// it ends as soon as stop is signalled.
    pub(crate) fn spawn_until_stopped<F>(&mut self, name: &'static str, task: F)
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let mut stop = self.stop_signal();
        self.set.spawn(async move {
            tokio::select! {
                r = task => (name, r),
                _ = stop.stopped() => (name, Ok(())),
            }
        });
    }

    /// The next task to end, for the run loop's `select!`. Pending forever when there are none.
    pub(crate) async fn next_exit(&mut self) -> Exit {
        match self.set.join_next().await {
            Some(Ok(exit)) => exit,
            Some(Err(e)) => ("task", Err(Error::Aborted(format!("a task failed: {e}")))),
            None => std::future::pending().await,
        }
    }

    /// Signals stop and waits for every task to end, at most `grace`; then aborts what is left.
    pub(crate) async fn shutdown(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        let drained = tokio::time::timeout(grace, async {
            while let Some(r) = self.set.join_next().await {
                if let Ok((name, Err(e))) = r {
                    debug!("{name} ended with: {e}");
                }
            }
        })
        .await;
        if drained.is_err() {
            warn!(
                "{} task(s) did not stop within {grace:?} and were aborted; a statement they sent may still run",
                self.set.len()
            );
            self.set.abort_all();
            while self.set.join_next().await.is_some() {}
        }
    }
}

impl Drop for Tasks {
    /// The run's future was dropped (or a path forgot `shutdown`): stop everything now.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.set.abort_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn shutdown_stops_every_task() {
        let mut tasks = Tasks::default();
        let steps = Arc::new(AtomicU64::new(0));
        // A cooperative writer: one step at a time, checking the stop between steps.
        let (s, stop) = (steps.clone(), tasks.stop_signal());
        tasks.spawn("writer", async move {
            while !stop.is_stopped() {
                s.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            Ok(())
        });
        tasks.spawn_until_stopped("reader", std::future::pending());
        while steps.load(Ordering::Relaxed) < 10 {
            tokio::task::yield_now().await;
        }
        tasks.shutdown(Duration::from_secs(5)).await;
        let after = steps.load(Ordering::Relaxed);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(steps.load(Ordering::Relaxed), after, "no step after shutdown returned");
    }

    #[tokio::test]
    async fn a_task_exit_is_reported_by_name() {
        let mut tasks = Tasks::default();
        tasks.spawn("copier", async { Err(Error::Aborted("boom".into())) });
        let (name, r) = tasks.next_exit().await;
        assert_eq!(name, "copier");
        assert!(r.is_err());
    }
}
