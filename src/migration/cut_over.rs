//! The cut-over phase, after the copy: catch up on the binlog and wait for the gate (`cutover::gate`:
//! backoff, postpone flag, throttle, backlog), then an attempt (`cutover::attempt`: lock, marker, backlog,
//! rename), retried up to --default-retries with the gate's backoff in between.
//!
//! Invariants: the event loop keeps applying the binlog while the gate is closed, so the ghost stays in
//! sync however long the cut-over is postponed; a failed attempt leaves the original table in place.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tracing::{info, warn};

use super::run_loop::{RunLoop, BACKLOG};
use crate::control::hooks::HookEvent;
use crate::cutover::gate::{Facts, Wait};
use crate::cutover::{CutOver, CutOverReport};
use crate::error::{Error, Result};
use crate::mysql::sql::qualified;
use crate::phase::Phase;
use crate::revert::window::Verdict;

impl<'a> RunLoop<'a> {
    /// None: a revert window closed without a revert (the tables stay as they are).
    pub(super) async fn cut_over(&mut self) -> Result<Option<CutOverReport>> {
        let cut = self.cut_over_plan();
        loop {
            if !self.wait_for_gate().await? {
                return Ok(None);
            }
            if let Some(report) = self.attempt(&cut).await? {
                return Ok(Some(report));
            }
        }
    }

    fn cut_over_plan(&self) -> CutOver<'a> {
        let (m, v) = (self.m, self.v);
        let (c, n, db) = (&m.cfg, &m.names, &m.cfg.database);
        CutOver {
            opts: &v.primary_opts,
            database: db,
            table: &c.table,
            ghost: &n.ghost,
            old: &n.old,
            changelog: &n.changelog,
            lock_timeout: c.cut_over.lock_timeout,
            mode: c.writer_mode(),
            swap_back: c.topology.test_on_replica,
            kind: c.cut_over.kind,
            triggers: v
                .ghost_triggers
                .iter()
                .map(|(t, name)| (name.clone(), t.create_on(db, &n.ghost, name), t.sql_mode.clone()))
                .collect(),
            stats: self.stats.clone(),
        }
    }

    /// Runs the event loop until the gate opens (true), or a revert window closes (false); the phase says
    /// what it waits for.
    async fn wait_for_gate(&mut self) -> Result<bool> {
        loop {
            if let Some(w) = self.state.window.as_mut() {
                let flag = w.flag_file.as_ref().is_some_and(|f| f.exists());
                match w.check(Instant::now(), flag) {
                    Verdict::Closed => return Ok(false),
                    Verdict::Open => {
                        self.m.set_phase(Phase::Revertible);
                        self.step().await?;
                        continue;
                    }
                    Verdict::Revert => {
                        // The swap back is the operator's call (command or flag file): a postpone flag does
                        // not hold it.
                        if !self.state.revert_logged {
                            self.state.revert_logged = true;
                            warn!("reverting: swapping the old table back in");
                            self.state.gate.unpostpone();
                        }
                    }
                }
            }
            let facts = Facts {
                now: Instant::now(),
                postpone_flag_exists: self.settings.postpone_flag_file.get().is_some_and(|f| f.exists()),
                throttled: self.throttled.borrow().is_some(),
                backlog: self.changes.len(),
                backlog_capacity: BACKLOG,
            };
            match self.state.gate.check(facts) {
                None => {
                    // A postponement may have lasted long after the last pass: the cut-over goes onto a
                    // ghost verified since the postponement ended.
                    if self.state.postponed_logged
                        && !self.state.verified_after_postpone
                        && self.checksum_plan.is_some()
                    {
                        self.state.verified_after_postpone = true;
                        self.verify_again().await?;
                        continue;
                    }
                    return Ok(true);
                }
                Some(Wait::Postponed) => {
                    if !self.state.postponed_logged {
                        if let Some(f) = self.settings.postpone_flag_file.get() {
                            info!("cut-over postponed while {} exists; the ghost table keeps in sync", f.display());
                        }
                        self.state.postponed_logged = true;
                        self.hook(HookEvent::BeginPostponed).await?;
                    }
                    self.m.set_phase(Phase::Postponing);
                    self.state.verified_after_postpone = false;
                    if self.verification_due(self.m.cfg.checksum.interval) {
                        self.verify_again().await?;
                        continue;
                    }
                }
                Some(Wait::Throttled) => self.m.set_phase(Phase::ThrottledBeforeCutOver),
                Some(Wait::Backoff | Wait::Backlog) => {}
            }
            self.step().await?;
        }
    }

    /// Whether the last pass ended more than `age` ago (never, with --checksum=false).
    fn verification_due(&self, age: Duration) -> bool {
        self.checksum_plan.is_some() && self.state.last_verified.is_none_or(|t| t.elapsed() > age)
    }

    async fn verify_again(&mut self) -> Result<()> {
        if let Some(plan) = self.checksum_plan.clone() {
            let report = self.verify(&plan).await?;
            if let (Some(first), Some(again)) = (self.state.checksum.as_mut(), report) {
                first.repaired += again.repaired;
            }
        }
        Ok(())
    }

    /// One attempt, with what precedes it (ANALYZE, the before-cut-over hook, STOP REPLICA for
    /// --test-on-replica, the pending batch). None: it failed in a way worth retrying, and the gate backs off.
    async fn attempt(&mut self, cut: &CutOver<'_>) -> Result<Option<CutOverReport>> {
        let c = &self.m.cfg;
        if c.cut_over.analyze_ghost_table && !self.state.analyzed {
            info!("analyzing {} before the cut-over", self.m.names.ghost);
            self.refresh_primary_session().await?;
            self.prim.query_drop(format!("ANALYZE TABLE {}", qualified(&c.database, &self.m.names.ghost))).await?;
            self.state.analyzed = true;
        }
        self.m.set_phase(Phase::CuttingOver);
        // gh-ost retries the whole cut-over, hook included, when the hook fails.
        if let Err(e) = self.hook(HookEvent::BeforeCutOver).await {
            self.state.cut_over_attempts += 1;
            self.stats.cutover.attempts.fetch_add(1, Ordering::Relaxed);
            self.stats.note_error("before-cut-over hook", &e);
            if self.state.cut_over_attempts >= c.default_retries {
                return Err(e);
            }
            warn!("{e}; retrying the cut-over ({}/{})", self.state.cut_over_attempts, c.default_retries);
            self.state.gate.retry_in_a_second(Instant::now());
            return Ok(None);
        }
        let t = &c.topology;
        if t.test_on_replica && !t.test_on_replica_skip_replica_stop && !self.state.replication_stopped {
            self.hook(HookEvent::StopReplication).await?;
            info!("--test-on-replica: stopping replication on {} before the cut-over", c.conn.inspect);
            self.refresh_primary_session().await?;
            self.prim.query_drop("STOP REPLICA").await?;
            self.state.replication_stopped = true;
        }
        self.flush().await?;
        self.state.cut_over_attempts += 1;
        self.stats.cutover.attempts.fetch_add(1, Ordering::Relaxed);
        let n = self.state.cut_over_attempts;
        match cut.attempt(n, &mut self.applier, &mut self.changes).await {
            Ok(r) => Ok(Some(r)),
            Err(Error::CutOver(why)) if n < c.default_retries => {
                self.stats.cutover.failed.fetch_add(1, Ordering::Relaxed);
                self.stats.note_error("cut-over", &why);
                warn!("cut-over attempt {n} failed: {why}; the original table is in place; retrying");
                self.state.gate.back_off(Instant::now(), n, &c.cut_over);
                self.m.set_phase(Phase::Migrating);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
