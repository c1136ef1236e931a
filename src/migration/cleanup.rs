//! The clean-up phase, after a successful cut-over: stop the run's tasks, drop the changelog table and
//! the checkpoint table (or keep it with the cut-over point, for --revert), and drop or keep the old
//! table (or, for --test-on-replica, leave both tables for comparison). Also `stop_tasks`, which every way
//! out of the run loop goes through.
//!
//! Invariant: nothing here touches the table that now has the new schema; a failure to drop a helper
//! table is not a failure of the migration (the table has its new schema either way), except the old table
//! with --ok-to-drop-table, which the operator asked for.

use std::sync::atomic::Ordering;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use super::outcome::Outcome;
use super::plan;
use super::run_loop::RunLoop;
use crate::control::status;
use crate::cutover::CutOverReport;
use crate::error::Result;
use crate::mysql::inspector;
use crate::mysql::sql::qualified;
use crate::phase::Phase;
use crate::revert::point::{self, CutOverPoint};

/// How long the run waits for its tasks to end at their next step (the copier finishes the chunk in
/// flight) before it aborts them.
const TASK_GRACE: Duration = Duration::from_secs(30);

impl RunLoop<'_> {
    /// --checkpoint: the cut-over point goes into the checkpoint table, which is kept so the migration can
    /// be reverted (--revert). Not when the old table is dropped (nothing to revert to), for
    /// --test-on-replica, or after a revert (its point no longer applies). A failure to record it costs
    /// the way back only: warned, and the checkpoint table is dropped.
    async fn keep_cut_over_point(&mut self, report: &CutOverReport) -> bool {
        let (c, n) = (&self.m.cfg, &self.m.names);
        if !c.checkpoint.enabled || c.revert.revert || c.topology.test_on_replica || c.tables.ok_to_drop_table {
            return false;
        }
        let db = &c.database;
        let recorded = async {
            let gtid = report
                .gtid_at_rename
                .clone()
                .ok_or_else(|| crate::error::Error::Binlog("the GTID set at the rename was not read".into()))?;
            let new = inspector::table_info(&mut self.prim, db, &c.table)
                .await?
                .ok_or_else(|| crate::error::Error::Binlog(format!("{db}.{} vanished", c.table)))?;
            let missing = || crate::error::Error::Binlog("a table vanished after the cut-over".into());
            let point = CutOverPoint {
                alter: c.alter.clone(),
                gtid,
                pairs: plan::shared_columns(&self.v.table, &new, &self.v.renames, &self.v.dropped),
                old_table: n.old.clone(),
                old_definition: point::definition(&mut self.prim, db, &n.old).await?.ok_or_else(missing)?,
                new_definition: point::definition(&mut self.prim, db, &c.table).await?.ok_or_else(missing)?,
                at: String::new(),
            };
            point::write(&mut self.prim, db, &n.checkpoint, &point).await
        }
        .await;
        match recorded {
            Ok(()) => {
                info!(
                    "kept {db}.{} with the cut-over point: undo this migration with --revert --old-table={} \
                     --checkpoint (same connection flags) while {db}.{} is kept and the binlog since now is",
                    n.checkpoint, n.old, n.old
                );
                true
            }
            Err(e) => {
                warn!("could not record the cut-over point ({e}): --revert will not be possible for this migration");
                false
            }
        }
    }

    /// Stops every task of the run and waits for them (bounded).
    pub(super) async fn stop_tasks(&mut self) {
        std::mem::take(&mut self.tasks).shutdown(TASK_GRACE).await;
    }

    /// The revert window closed: the run's tasks stop and the changelog goes; the old table stays (the
    /// migration decides about it).
    pub(super) async fn close_window(mut self) {
        let (c, n) = (&self.m.cfg, &self.m.names);
        self.changes.close();
        self.stop_tasks().await;
        let sql = format!("DROP TABLE IF EXISTS {}", qualified(&c.database, &n.changelog));
        if self.refresh_primary_session().await.is_err() || self.prim.query_drop(&sql).await.is_err() {
            warn!("{sql} failed: drop it yourself");
        }
    }

    pub(super) async fn clean_up(mut self, report: CutOverReport) -> Result<Outcome> {
        let (c, n) = (&self.m.cfg, &self.m.names);
        let db = &c.database;
        self.m.set_phase(Phase::CleaningUp);
        if c.revert.revert {
            info!(
                "revert done: {db}.{} has its definition from before the migration again; writes were blocked for {:?}",
                c.table, report.locked_for
            );
        } else {
            info!(
                "cut-over done: {}.{} now has the new schema; writes were blocked for {:?}",
                db, c.table, report.locked_for
            );
        }
        self.changes.close();
        self.stop_tasks().await;
        let mut left_behind = Vec::new();
        // The session sat idle through the copy: replaced if the server or the network dropped it meanwhile.
        if let Err(e) = self.refresh_primary_session().await {
            warn!("cannot reach the primary to drop the helper tables ({e}): drop them yourself");
        }
        let mut helpers = vec![&n.changelog];
        if !self.keep_cut_over_point(&report).await {
            helpers.push(&n.checkpoint);
        }
        for helper in helpers {
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
        } else if c.tables.ok_to_drop_table && c.revert.window.is_none() {
            self.prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.old))).await?;
        } else if c.revert.revert {
            info!(
                "kept the migrated table as {db}.{}: drop it when satisfied (DROP TABLE {})",
                n.old,
                qualified(db, &n.old)
            );
            left_behind.push(format!("{db}.{}", n.old));
        } else if c.revert.window.is_some() {
            left_behind.push(format!("{db}.{}", n.old)); // the window decides about it
        } else {
            info!(
                "kept the original table as {db}.{}: drop it when satisfied (DROP TABLE {}) or pass --ok-to-drop-table next time",
                n.old,
                qualified(db, &n.old)
            );
            left_behind.push(format!("{db}.{}", n.old));
        }
        // With a revert window the run goes on (`migration::revert`), and ends Done when the window does.
        if c.revert.window.is_none() || c.revert.revert {
            self.m.set_phase(Phase::Done);
            info!(target: "wraith::status", "{}", status::line(&self.stats, Phase::Done.as_str(), 0, super::run_loop::BACKLOG));
        }
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
            reverted: c.revert.revert,
            revert_changes: None,
            deferred_indexes: self.stats.copy.deferred_indexes(),
            indexes_built_in: self.stats.copy.indexes_built_in(),
        })
    }
}
