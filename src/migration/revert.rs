//! The revert run (--revert), phase by phase: check the cut-over point and the tables (`revert::preflight`),
//! plan the migration from the table back into the old one with the mapping reversed, stream the binlog
//! from the cut-over point (no copy: the old table already holds every row as of the cut-over), verify the
//! old table against the table, and cut over with the same atomic swap, keeping the replaced table as
//! `_<t>_rev_del`.
//!
//! Invariants: only the old table is written before the cut-over; a noop revert (no --execute) reads the
//! binlog to count what it would replay and writes nothing at all.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use super::checkpoint::Checkpoint;
use super::outcome::Outcome;
use super::plan;
use super::validate::Validated;
use super::Migrator;
use crate::error::Result;
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::gtid::GtidSet;
use crate::mysql::inspector::query_value;
use crate::mysql::sql::qualified;
use crate::phase::Phase;
use crate::revert::preflight;
use crate::state::tasks::Stop;

impl Migrator {
    /// With the table's lock held: check, plan, replay, verify, swap back, clean up.
    pub(super) async fn revert_locked(&self, mut v: Validated, interrupt: Stop, started: Instant) -> Result<Outcome> {
        let (c, n, db) = (&self.cfg, &self.names, &self.cfg.database);
        let mut prim = connect(&v.primary_opts, "primary", c.conn.timeout).await?;
        setup_writer(&mut prim, c.writer_mode()).await?;
        let checked = preflight::check(c, n, &mut prim, &v.table).await?;
        let point = &checked.point;
        // The table is now the source and the old table the target: the forward planner does the rest.
        v.renames = checked.reverse.renames.clone();
        v.dropped = checked.reverse.dropped.clone();
        let plans = plan::plans(c, n, &v, &checked.old)?;
        let pairs: Vec<String> = plans
            .copy
            .source_columns
            .iter()
            .zip(&plans.copy.ghost_columns)
            .map(|(s, g)| if s == g { s.clone() } else { format!("{s} -> {g}") })
            .collect();
        info!(
            "reverting {db}.{} to {db}.{} from the cut-over at {} ({}): columns carried back: {}",
            c.table,
            n.ghost,
            point.at,
            point.alter,
            pairs.join(", ")
        );
        if !checked.reverse.defaulted.is_empty() {
            info!(
                "rows inserted since the cut-over get the defaults of {} (columns the migration dropped)",
                checked.reverse.defaulted.join(", ")
            );
        }
        if !checked.unfillable.is_empty() {
            warn!(
                "{} of {db}.{} NOT NULL without a default and dropped by the migration: a row inserted since the \
                 cut-over cannot be written back, and the revert stops at the first one (the table keeps serving)",
                if checked.unfillable.len() == 1 { "column is" } else { "columns are" },
                n.ghost
            );
            warn!("unfillable columns: {}", checked.unfillable.join(", "));
        }
        if !c.execute {
            let now =
                GtidSet::parse(&query_value(&mut prim, "SELECT @@global.gtid_executed").await?.unwrap_or_default())?;
            let read_timeout = Duration::from_secs(10).max(c.conn.timeout);
            let counted = preflight::count_changes(
                &v.primary_opts,
                c.conn.replica_server_id,
                db,
                &v.table,
                &point.gtid,
                now,
                read_timeout,
            )
            .await?;
            info!(
                "noop: the revert would replay {} changes made to {db}.{} since the cut-over ({} inserts, {} updates, \
                 {} deletes) into {db}.{}, then swap: {db}.{} -> {db}.{}, {db}.{} -> {db}.{}; add --execute to revert",
                counted.total(),
                c.table,
                counted.inserts,
                counted.updates,
                counted.deletes,
                n.ghost,
                c.table,
                n.old,
                n.ghost,
                c.table
            );
            self.set_phase(Phase::Noop);
            return Ok(Outcome {
                reverted: true,
                revert_changes: Some(counted.total()),
                ..Outcome::without_copy(false, started)
            });
        }
        if c.tables.initially_drop_old_table {
            info!("dropping leftover {db}.{} (--initially-drop-old-table)", n.old);
            prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.old))).await?;
        }
        self.interrupted(&interrupt)?;
        // Streamed from the cut-over point, as a resumed migration whose copy is complete.
        let from = Checkpoint {
            alter: point.alter.clone(),
            applied: point.gtid.clone(),
            copy_done: true,
            copy_last_key: None,
            copy_max_key: None,
            rows_copied: 0,
            events_applied: 0,
        };
        let hooks = self.hooks();
        let mut run = self
            .stream(&v, hooks, prim, plans.apply, Some(&from), interrupt, started)
            .await
            .map_err(|e| self.left_behind(e))?;
        let checksum = std::sync::Arc::new(plans.checksum);
        let swapped = async {
            run.skip_copy();
            run.state.checksum = run.verify(&checksum).await?;
            run.checksum_plan = Some(checksum);
            run.cut_over().await
        }
        .await;
        match swapped {
            Ok(report) => run.clean_up(report).await,
            Err(e) => {
                run.stop_tasks().await;
                Err(self.left_behind(e))
            }
        }
    }
}
