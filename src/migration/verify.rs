//! The verifying phase, after the copy and before the cut-over (and again while the cut-over is
//! postponed, every --checksum-interval): a snapshot under a brief lock (`checksum::snapshot`), a pass over
//! every chunk on a task while the event loop keeps applying the binlog (`checksum::compare`), repairs of
//! the chunks that differ (`checksum::repair`) and a pass over those chunks again, at most
//! --checksum-max-repairs rounds.
//!
//! Invariants: no cut-over starts unless the last pass found the tables equal; differences that persist
//! stop the run before the cut-over with the first differing row named, the original table untouched.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::{info, warn};

use super::run_loop::RunLoop;
use crate::checksum::compare::{run_pass, KeyRange, Pass};
use crate::checksum::repair::repair;
use crate::checksum::snapshot::Snapshot;
use crate::checksum::{ChecksumPlan, ChecksumReport};
use crate::error::{Error, Result};
use crate::mysql::connect::{connect, setup_writer};
use crate::phase::Phase;

impl RunLoop<'_> {
    /// Verifies the ghost against the original; None when --checksum=false.
    pub(super) async fn verify(&mut self, plan: &Arc<ChecksumPlan>) -> Result<Option<ChecksumReport>> {
        let c = &self.m.cfg;
        if !c.checksum.enabled {
            self.stats.checksum.set_summary("off".into());
            return Ok(None);
        }
        let back_to = self.m.phase();
        self.m.set_phase(Phase::Verifying);
        let started = Instant::now();
        let mut report = ChecksumReport::default();
        let mut ranges: Option<Vec<KeyRange>> = None;
        let mut round = 0;
        loop {
            let pass = self.pass(plan, ranges.take()).await?;
            if round == 0 {
                report.rows = pass.rows;
                report.chunks = pass.chunks;
            }
            if pass.mismatches.is_empty() {
                break;
            }
            let first = pass.mismatches[0].describe(plan);
            let detail = pass.first_difference.clone().unwrap_or_default();
            if round >= c.checksum.max_repairs || !plan.same_key_order {
                let why = if plan.same_key_order {
                    format!("after {round} rounds of repairs")
                } else {
                    "and the key's type or collation changes, so chunks cannot be repaired".to_string()
                };
                return Err(Error::Checksum(format!(
                    "the ghost table differs from the original {why}: {} chunk(s) differ, the first {first}; \
                     {detail}. No cut-over was made. If the ALTER itself changes values (a lossy type change, \
                     --skip-strict-mode truncation), that is the cause: review the ALTER. Otherwise rerun \
                     (stray writes to the ghost table?) or raise --checksum-max-repairs",
                    pass.mismatches.len()
                )));
            }
            round += 1;
            warn!(
                "checksum: {} chunk(s) differ (first {first}: {detail}); repairing, round {round}",
                pass.mismatches.len()
            );
            let mut conn = connect(&self.v.primary_opts, "primary (checksum repair)", c.conn.timeout).await?;
            setup_writer(&mut conn, c.writer_mode()).await?;
            for range in &pass.mismatches {
                let rows = repair(&mut conn, plan, range).await?;
                info!("checksum: repaired chunk {} ({rows} rows copied again)", range.describe(plan));
                report.repaired += 1;
                self.stats.checksum.repaired.fetch_add(1, Ordering::Relaxed);
            }
            ranges = Some(pass.mismatches);
        }
        report.seconds = started.elapsed().as_secs_f64();
        self.stats.checksum.set_last_clean(SystemTime::now());
        self.state.last_verified = Some(Instant::now());
        info!("checksum: {}", report.summary());
        self.stats.checksum.set_summary(report.summary());
        self.m.set_phase(back_to);
        Ok(Some(report))
    }

    /// One pass (of every chunk, or of `ranges`) under a fresh snapshot, on a task, while the loop runs.
    async fn pass(&mut self, plan: &Arc<ChecksumPlan>, ranges: Option<Vec<KeyRange>>) -> Result<Pass> {
        let pool = self.snapshot().await?;
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let task = run_pass(
            plan.clone(),
            pool,
            ranges,
            self.throttled.clone(),
            self.pace.clone(),
            self.tasks.stop_signal(),
            self.stats.clone(),
        );
        self.tasks.spawn("checksum", async move {
            let _ = tx.send(task.await);
            Ok(())
        });
        // The task's end is an event of the loop: the result is there once a step returns after it.
        loop {
            self.step().await?;
            match rx.try_recv() {
                Ok(result) => return result,
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {}
                Err(_) => return Err(Error::Aborted("the checksum task ended without a result".into())),
            }
        }
    }

    /// The pool of snapshot connections, retried like a cut-over when the lock or the backlog does not fit
    /// the lock budget.
    async fn snapshot(&mut self) -> Result<Vec<mysql_async::Conn>> {
        let c = &self.m.cfg;
        let snap = Snapshot {
            opts: &self.v.primary_opts,
            database: &c.database,
            table: &c.table,
            changelog: &self.m.names.changelog,
            lock_timeout: c.cut_over.lock_timeout,
            pool_size: c.checksum.connections,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.flush().await?;
            match snap.open(&mut self.applier, &mut self.apply_conn, &mut self.changes).await {
                Ok((pool, _locked_for)) => return Ok(pool),
                Err(Error::CutOver(why)) if attempt < c.default_retries => {
                    warn!("{why}; the table keeps serving; retrying ({attempt}/{})", c.default_retries);
                    // Let the loop run (apply the binlog, answer commands) for a while before the next try.
                    let until = Instant::now() + std::time::Duration::from_secs(u64::from(attempt).min(10));
                    while Instant::now() < until {
                        self.step().await?;
                    }
                }
                Err(Error::CutOver(why)) => {
                    return Err(Error::Checksum(format!(
                        "no consistent snapshot after {attempt} attempts ({why}); no cut-over was made. Find the \
                         long transaction holding the table (performance_schema.metadata_locks), or rerun"
                    )))
                }
                Err(e) => return Err(e),
            }
        }
    }
}
