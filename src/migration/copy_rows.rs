//! The copy phase: read the copy range (or take it from the checkpoint), count rows for progress, start
//! the copier as one of the run's tasks, and run the event loop (binlog apply, commands, ticks) until the
//! copier has copied the whole range.
//!
//! After the copy, the secondary indexes left off the ghost (`copy::indexes`) are built, the binlog still
//! being applied meanwhile.
//!
//! Invariants: the range is read after the binlog position was taken (see `stream`); a key whose order
//! `copy::order` computes gets the parallel copy, and the applier consults the same `Frontier` before its
//! first batch; on --resume with the parallel copy, the ghost rows above the checkpoint's copy position
//! are cleared first, so the copy finds that part of the ghost empty again; the latency pacer's baseline
//! is measured before the copy starts (so it is the server's latency without the copy).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::watch;
use tracing::info;

use super::checkpoint::Checkpoint;
use super::run_loop::RunLoop;
use crate::control::hooks::{HookEvent, HookProgress, Hooks};
use crate::control::pacer;
use crate::copy::indexes::{self, DeferredIndexes};
use crate::copy::{self, CopyEnv, CopyPlan, Range, RetryHook};
use crate::error::Result;
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::inspector::query_value;
use crate::mysql::sql::qualified;
use crate::phase::Phase;
use crate::state::pace::{Pace, PaceWatch};

impl RunLoop<'_> {
    pub(super) async fn copy(&mut self, plan: CopyPlan, resume: Option<&Checkpoint>) -> Result<()> {
        let c = &self.m.cfg;
        let mut copy_conn = connect(&self.v.primary_opts, "primary (copy)", c.conn.timeout).await?;
        setup_writer(&mut copy_conn, c.writer_mode()).await?;
        let range = copy_range(&plan, &mut copy_conn, resume).await?;
        if let Some(cp) = self.checkpoint.as_mut() {
            cp.copy_max = range.as_ref().map(|r| r.max.clone());
        }
        let frontier = match &range {
            Some(r) => copy::frontier(&plan, &mut copy_conn, r).await?.map(Arc::new),
            None => None,
        };
        if let (Some(r), Some(_), Some(_)) = (&range, &frontier, resume) {
            self.clear_above_checkpoint(&mut copy_conn, &plan, r).await?;
        }
        self.count_rows().await?;
        let pace = self.start_pacer(&plan, frontier.is_some()).await?;
        self.stats.copy_started.get_or_init(Instant::now);
        self.m.set_phase(Phase::Migrating);
        self.hook(HookEvent::BeforeRowCopy).await?;
        let env = CopyEnv {
            opts: self.v.primary_opts.clone(),
            mode: c.writer_mode(),
            retries: c.default_retries,
            settings: self.settings.clone(),
            stats: self.stats.clone(),
            on_retry: retry_hook(self.hooks.clone()),
            chunk_time: c.copy.chunk_time,
            throttled: self.throttled.clone(),
            pace,
            stop: self.tasks.stop_signal(),
        };
        match (&frontier, range) {
            (Some(f), Some(range)) => {
                drop(copy_conn);
                info!("copying with {} parallel workers (non-locking reads)", c.copy.copy_workers);
                let env = CopyEnv { mode: env.mode.read_committed(), ..env };
                self.tasks.spawn("copier", copy::run_parallel(plan, env, f.clone(), range, c.copy.copy_workers));
            }
            (_, range) => self.tasks.spawn("copier", copy::run(plan, copy_conn, env, range)),
        }
        self.applier.set_frontier(frontier.clone());
        self.state.frontier = frontier;
        while !self.state.copy_done {
            self.step().await?;
        }
        Ok(())
    }

    /// Builds the secondary indexes left off the ghost during the copy, with one online ALTER on a
    /// connection of its own, while the loop keeps applying the binlog.
    pub(super) async fn build_deferred_indexes(&mut self, deferred: DeferredIndexes) -> Result<()> {
        if deferred.is_empty() {
            return Ok(());
        }
        let c = &self.m.cfg;
        let mut conn = connect(&self.v.primary_opts, "primary (indexes)", c.conn.timeout).await?;
        setup_writer(&mut conn, c.writer_mode()).await?;
        // The build's server threads follow the latency pacer's last level, as the copy's workers did.
        let pace = *self.pace.borrow();
        if pace.workers != usize::MAX {
            indexes::limit_threads(&mut conn, pace.workers).await?;
        }
        let (db, ghost) = (c.database.clone(), self.m.names.ghost.clone());
        let started = Instant::now();
        self.stats.copy.indexes_building.store(true, Ordering::Relaxed);
        self.tasks.spawn("indexer", indexes::build(conn, db, ghost, deferred, self.tasks.stop_signal()));
        while !self.state.indexes_built {
            self.step().await?;
        }
        self.stats.copy.indexes_building.store(false, Ordering::Relaxed);
        self.stats.copy.indexes_build_micros.store(started.elapsed().as_micros().max(1) as u64, Ordering::Relaxed);
        Ok(())
    }

    /// A revert copies nothing: the old table holds every row as of the cut-over, and the binlog brings
    /// the rest.
    pub(super) fn skip_copy(&mut self) {
        self.stats.estimated_rows.store(0, Ordering::Relaxed);
        self.stats.copy_started.get_or_init(Instant::now);
        self.state.copy_done = true;
        self.m.set_phase(Phase::Migrating);
    }

    /// --max-latency-ratio: measures the baseline commit latency now, before the copy loads the server, and
    /// starts the pacer on the heartbeat's latencies. Without it (or with nothing to copy) the pace stays
    /// the unpaced default.
    async fn start_pacer(&mut self, plan: &CopyPlan, parallel: bool) -> Result<PaceWatch> {
        let c = &self.m.cfg;
        let (pace_tx, pace) = watch::channel(Pace::default());
        let Some(samples) = self.pacer_samples.take() else { return Ok(pace) };
        let probe_conn = connect(&self.v.primary_opts, "primary (pacer)", c.conn.timeout).await?;
        let baselines = pacer::baselines(&mut self.prim, probe_conn, &plan.database, &self.m.names.changelog).await?;
        let workers = if parallel { c.copy.copy_workers } else { 1 };
        let aimd =
            pacer::Aimd::new(baselines.heartbeat, c.throttle.max_latency_ratio, workers, c.throttle.pacer_min_level)
                .with_app_baseline(baselines.app_baseline());
        let task = pacer::PacerTask {
            aimd,
            app: baselines.app,
            samples,
            pace: pace_tx,
            throttled: self.throttled.clone(),
            stats: self.stats.clone(),
        };
        self.stats.pacer.max_workers.store(workers as u64, Ordering::Relaxed);
        // It only reads and publishes: dropped at the stop signal.
        self.tasks.spawn_until_stopped("pacer", pacer::run(task));
        self.pace = pace.clone();
        Ok(pace)
    }

    /// Chunks above the resume point may have committed before the stop, and the applier may have written
    /// keys there: clear them. (The parallel copy is planned only where the ghost's key orders as the
    /// original's, so this range of the ghost is that range of the original.)
    async fn clear_above_checkpoint(&self, conn: &mut Conn, plan: &CopyPlan, range: &Range) -> Result<()> {
        let (from, last) = match &range.resume_after {
            Some(after) => (after, ">"),
            None => (&range.min, ">="),
        };
        let (gt, gt_order) = copy::bound(&plan.ghost_key_columns, "", ">", last);
        let (le, le_order) = copy::bound(&plan.ghost_key_columns, "", "<", "<=");
        let mut params = Vec::new();
        copy::bind(from, &gt_order, &mut params);
        copy::bind(&range.max, &le_order, &mut params);
        let sql = format!("DELETE FROM {} WHERE {gt} AND {le}", qualified(&self.m.cfg.database, &self.m.names.ghost));
        let cleared = conn.exec_iter(sql, params).await?.affected_rows();
        info!("resume: cleared {cleared} ghost rows above the checkpoint's copy position");
        Ok(())
    }

    /// --exact-rowcount: count before the copy, or (--concurrent-rowcount) on a task while it runs.
    async fn count_rows(&mut self) -> Result<()> {
        let c = &self.m.cfg;
        let count_sql = format!("SELECT COUNT(*) FROM {}", qualified(&c.database, &c.table));
        let concurrent = c.copy.exact_rowcount && c.copy.concurrent_rowcount;
        if c.copy.exact_rowcount && !concurrent {
            let n = query_value(&mut self.prim, &count_sql).await?.and_then(|s| s.parse().ok()).unwrap_or(0);
            self.stats.estimated_rows.store(n, Ordering::Relaxed);
        }
        if !concurrent {
            return self.hook(HookEvent::RowCountComplete).await;
        }
        let (tx, rx) = tokio::sync::oneshot::channel::<u64>();
        let (opts, timeout) = (self.v.primary_opts.clone(), c.conn.timeout);
        self.tasks.spawn_until_stopped("row count", async move {
            if let Ok(mut conn) = connect(&opts, "primary (row count)", timeout).await {
                if let Ok(Some(n)) = query_value(&mut conn, &count_sql).await {
                    let _ = tx.send(n.parse().unwrap_or(0));
                }
            }
            Ok(())
        });
        self.state.row_count = Some(rx);
        Ok(())
    }
}

/// gh-ost-on-batch-copy-retry, run before each retry of a chunk (its failure does not stop the copy).
fn retry_hook(hooks: Hooks) -> RetryHook {
    Arc::new(move |error| {
        let hooks = hooks.clone();
        Box::pin(async move {
            if hooks.is_enabled() {
                let _ = hooks.run(&HookEvent::BatchCopyRetry(error), &HookProgress::default()).await;
            }
        })
    })
}

/// The range to copy: read now, or from the checkpoint (whose max is the one fixed at the first start: rows
/// above it came through the binlog). None when there is nothing to copy.
async fn copy_range(plan: &CopyPlan, conn: &mut Conn, resume: Option<&Checkpoint>) -> Result<Option<Range>> {
    Ok(match resume {
        None => plan.read_range(conn).await?,
        Some(cp) if cp.copy_done => None,
        Some(cp) => match (&cp.copy_max_key, plan.read_edge(conn, false).await?) {
            (Some(max), Some(min)) => Some(Range { min, max: max.clone(), resume_after: cp.copy_last_key.clone() }),
            _ => None,
        },
    })
}
