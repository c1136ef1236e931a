//! The clean-up phase, after a successful cut-over: stop the run's tasks, drop the changelog and
//! checkpoint tables, and drop or keep the old table (or, for --test-on-replica, leave both tables for
//! comparison). Also `stop_tasks`, which every way out of the run loop goes through.
//!
//! Invariant: nothing here touches the table that now has the new schema; a failure to drop a helper
//! table is not a failure of the migration (the table has its new schema either way), except the old table
//! with --ok-to-drop-table, which the operator asked for.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use super::outcome::Outcome;
use super::run_loop::RunLoop;
use crate::control::status;
use crate::cutover::CutOverReport;
use crate::error::Result;
use crate::mysql::sql::qualified;
use crate::phase::Phase;

/// How long the run waits for its tasks to end at their next step (the copier finishes the chunk in
/// flight) before it aborts them.
const TASK_GRACE: Duration = Duration::from_secs(30);

impl RunLoop<'_> {
    /// Stops every task of the run and waits for them (bounded).
    pub(super) async fn stop_tasks(&mut self) {
        std::mem::take(&mut self.tasks).shutdown(TASK_GRACE).await;
    }

    pub(super) async fn clean_up(mut self, report: CutOverReport) -> Result<Outcome> {
        let (c, n) = (&self.m.cfg, &self.m.names);
        let db = &c.database;
        self.m.set_phase(Phase::CleaningUp);
        info!(
            "cut-over done: {}.{} now has the new schema; writes were blocked for {:?}",
            db, c.table, report.locked_for
        );
        self.changes.close();
        self.stop_tasks().await;
        let mut left_behind = Vec::new();
        // The session sat idle through the copy: replaced if the server or the network dropped it meanwhile.
        if let Err(e) = self.refresh_primary_session().await {
            warn!("cannot reach the primary to drop the helper tables ({e}): drop them yourself");
        }
        for helper in [&n.changelog, &n.checkpoint] {
            let sql = format!("DROP TABLE IF EXISTS {}", qualified(db, helper));
            if let Err(e) = self.prim.query_drop(&sql).await {
                warn!("{sql} failed ({e}): drop it yourself");
                left_behind.push(format!("{db}.{helper}"));
            }
        }
        if c.topology.test_on_replica {
            info!(
                "--test-on-replica: tables swapped and swapped back; compare {db}.{} with {db}.{}; replication {}",
                c.table,
                n.ghost,
                if self.state.replication_stopped { "is stopped (START REPLICA when done)" } else { "kept running" }
            );
            left_behind.push(format!("{db}.{}", n.ghost));
        } else if c.tables.ok_to_drop_table {
            self.prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.old))).await?;
        } else {
            info!(
                "kept the original table as {db}.{}: drop it when satisfied (DROP TABLE {}) or pass --ok-to-drop-table next time",
                n.old,
                qualified(db, &n.old)
            );
            left_behind.push(format!("{db}.{}", n.old));
        }
        self.m.set_phase(Phase::Done);
        info!(target: "wraith::status", "{}", status::line(&self.stats, Phase::Done.as_str(), 0, super::run_loop::BACKLOG));
        let apply = &self.stats.apply;
        Ok(Outcome {
            executed: true,
            rows_copied: self.stats.rows_copied(),
            events_applied: apply.events.load(Ordering::Relaxed),
            cut_over_locked_for: Some(report.locked_for),
            left_behind,
            elapsed: self.stats.started.elapsed(),
            parallel_copy: self.state.frontier.is_some(),
            changes_dropped: apply.dropped.load(Ordering::Relaxed),
            applier_waits: apply.waits.load(Ordering::Relaxed),
            checksum: self.state.checksum.clone(),
        })
    }
}
