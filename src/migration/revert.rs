//! The revert run (--revert), phase by phase: check the cut-over point and the tables (`revert::preflight`),
//! plan the migration from the table back into the old one with the mapping reversed, stream the binlog
//! from the cut-over point (no copy: the old table already holds every row as of the cut-over), verify the
//! old table against the table, and cut over with the same atomic swap, keeping the replaced table as
//! `_<t>_rev_del`.
//!
//! The revert window (--revert-window) is the same run, started right after the migration's own cut-over
//! from the GTID set read at its RENAME, whose cut-over waits for the operator's `revert`
//! (`revert::window`); when the window closes the run stops and the tables stay as they are.
//!
//! Invariants: only the old table is written before the cut-over; a noop revert (no --execute) reads the
//! binlog to count what it would replay and writes nothing at all; a failure while keeping the old table
//! in step ends the window and never touches the table.

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
use crate::mysql::inspector;
use crate::mysql::inspector::query_value;
use crate::mysql::sql::qualified;
use crate::phase::Phase;
use crate::revert::window::Window;
use crate::revert::{mapping, preflight};
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
        let from = stream_from(point.gtid.clone());
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
            Ok(Some(report)) => run.clean_up(report).await,
            Ok(None) => unreachable_gate(),
            Err(e) => {
                run.stop_tasks().await;
                Err(self.left_behind(e))
            }
        }
    }
}

/// Where a revert's stream starts: as a resumed migration whose copy is complete, at the cut-over point.
fn stream_from(gtid: GtidSet) -> Checkpoint {
    Checkpoint {
        alter: String::new(),
        applied: gtid,
        copy_done: true,
        copy_last_key: None,
        copy_max_key: None,
        rows_copied: 0,
        events_applied: 0,
    }
}

/// Only a revert window closes the gate for good; a run without one always gets a cut-over or an error.
pub(super) fn unreachable_gate() -> Result<Outcome> {
    Err(crate::error::Error::Aborted("the cut-over gate closed without a revert window".into()))
}

/// How a revert window ended.
pub(super) enum WindowEnd {
    /// The old table was swapped back in.
    Reverted(Outcome),
    /// The window closed (its deadline, `no-revert`, an interrupt): the new schema stays.
    Closed,
    /// Keeping the old table in step failed before any revert was asked for: the window ends early.
    SyncFailed(crate::error::Error),
    /// The requested swap back failed: the table keeps its new schema.
    RevertFailed(crate::error::Error),
}

impl Migrator {
    /// --revert-window, after a successful cut-over: a run the other way round, from the table into the old
    /// one, streaming from the cut-over's GTID set, whose cut-over waits for the operator's `revert`.
    /// `forward` is the migration's own outcome, returned when the window closes without a revert.
    pub(super) async fn revert_window(
        &self,
        v: &Validated,
        forward: Outcome,
        gtid: Option<GtidSet>,
        length: Duration,
        interrupt: Stop,
        started: Instant,
    ) -> Result<Outcome> {
        let (c, n, db) = (&self.cfg, &self.names, &self.cfg.database);
        let Some(gtid) = gtid else {
            warn!("no revert window: the GTID set at the cut-over could not be read");
            return Ok(forward);
        };
        let back = self.way_back();
        let end = back.keep_in_step(v, gtid, length, interrupt, started).await;
        let drop_old = async {
            if !c.tables.ok_to_drop_table {
                info!(
                    "kept the original table as {db}.{}: drop it when satisfied (DROP TABLE {})",
                    n.old,
                    qualified(db, &n.old)
                );
                return Ok::<_, crate::error::Error>(());
            }
            let mut prim = connect(&v.primary_opts, "primary", c.conn.timeout).await?;
            prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.old))).await?;
            info!("dropped the original table {db}.{} (--ok-to-drop-table)", n.old);
            Ok(())
        };
        let form_1 = format!(
            "{} (same connection flags, --revert --old-table={} --checkpoint --execute) while {db}.{} is kept",
            if c.checkpoint.enabled {
                "revert later with wraith migrate"
            } else {
                "a migration run with --checkpoint could be reverted with wraith migrate"
            },
            n.old,
            n.old
        );
        let result = match end {
            WindowEnd::Reverted(outcome) => return Ok(outcome),
            WindowEnd::Closed => {
                info!("revert window closed: {db}.{} keeps its new schema", c.table);
                drop_old.await?;
                let mut forward = forward;
                if c.tables.ok_to_drop_table {
                    forward.left_behind.retain(|t| *t != format!("{db}.{}", n.old));
                }
                Ok(forward)
            }
            WindowEnd::SyncFailed(e) => {
                warn!(
                    "the revert window ended early: keeping {db}.{} in step failed ({e}); {db}.{} keeps its new schema \
                     and was not touched. {form_1}",
                    n.old, c.table
                );
                Ok(forward)
            }
            WindowEnd::RevertFailed(e) => Err(crate::error::Error::Context {
                context: format!(
                    "the revert from the window failed: {db}.{} keeps its new schema and {db}.{} the original rows, \
                     with the changes replayed so far; {form_1}",
                    c.table, n.old
                ),
                source: Box::new(e),
            }),
        };
        self.set_phase(Phase::Done);
        result
    }

    /// The run the other way round: the table into the old one, keeping the replaced table as
    /// `_<t>_rev_del`. It shares the migration's progress (phase, status) and hooks (with GH_OST_REVERT).
    fn way_back(&self) -> Migrator {
        let mut cfg = self.cfg.clone();
        cfg.revert.revert = true;
        cfg.revert.old_table = Some(self.names.old.clone());
        cfg.alter = String::new();
        // The socket is ours, served again by the way back; the tables it replaces are kept.
        cfg.control.initially_drop_socket_file = true;
        cfg.tables.ok_to_drop_table = false;
        cfg.checksum.enabled = false;
        let names = super::TableNames::for_config(&cfg);
        let hooks = std::sync::Mutex::new(self.hooks().for_revert(&names.ghost, &names.old));
        Migrator { cfg, names, progress: self.progress.clone(), hooks }
    }

    /// Keeps the old table in step until the window says revert (then swaps) or closed.
    async fn keep_in_step(
        &self,
        forward: &Validated,
        gtid: GtidSet,
        length: Duration,
        interrupt: Stop,
        started: Instant,
    ) -> WindowEnd {
        let c = &self.cfg;
        let (db, n) = (&c.database, &self.names);
        let prepared = async {
            let mut prim = connect(&forward.primary_opts, "primary", c.conn.timeout).await?;
            setup_writer(&mut prim, c.writer_mode()).await?;
            let missing = |t: &str| crate::error::Error::Binlog(format!("{db}.{t} vanished after the cut-over"));
            let current = inspector::table_info(&mut prim, db, &c.table).await?.ok_or_else(|| missing(&c.table))?;
            let old = inspector::table_info(&mut prim, db, &n.ghost).await?.ok_or_else(|| missing(&n.ghost))?;
            let pairs = plan::shared_columns(&forward.table, &current, &forward.renames, &forward.dropped);
            let reverse = mapping::reverse(&pairs, &current, &old);
            let v = Validated {
                primary: forward.primary.clone(),
                primary_opts: forward.primary_opts.clone(),
                inspect_opts: forward.inspect_opts.clone(),
                table: current,
                renames: reverse.renames,
                dropped: reverse.dropped,
                alter_sets_auto_increment: false,
                ghost_triggers: Vec::new(),
            };
            let plans = plan::plans(c, n, &v, &old)?;
            Ok::<_, crate::error::Error>((prim, v, plans))
        }
        .await;
        let (prim, v, plans) = match prepared {
            Ok(p) => p,
            Err(e) => return WindowEnd::SyncFailed(e),
        };
        let from = stream_from(gtid);
        let mut run = match self.stream(&v, self.hooks(), prim, plans.apply, Some(&from), interrupt, started).await {
            Ok(run) => run,
            Err(e) => return WindowEnd::SyncFailed(e),
        };
        run.skip_copy();
        let window = Window::new(Instant::now(), length, c.revert.flag_file.clone());
        info!(
            "revert window open: {} (for {}); {db}.{} is kept in step with {db}.{}. `revert` on the control socket{} \
             swaps it back at once; `no-revert` ends the window",
            window.state(),
            humantime::format_duration(length),
            n.ghost,
            c.table,
            c.revert.flag_file.as_ref().map_or(String::new(), |f| format!(" or creating {}", f.display()))
        );
        run.state.window = Some(window);
        let result = run.cut_over().await;
        let requested = run.state.window.as_ref().is_some_and(|w| w.requested());
        let end = match result {
            Ok(Some(report)) => {
                return match run.clean_up(report).await {
                    Ok(outcome) => WindowEnd::Reverted(outcome),
                    Err(e) => WindowEnd::RevertFailed(e),
                }
            }
            Ok(None) => WindowEnd::Closed,
            Err(crate::error::Error::Interrupted { .. }) if !requested => {
                info!("revert window ended by an interrupt");
                WindowEnd::Closed
            }
            Err(e) if requested => WindowEnd::RevertFailed(e),
            Err(e) => WindowEnd::SyncFailed(e),
        };
        run.close_window().await;
        end
    }
}
