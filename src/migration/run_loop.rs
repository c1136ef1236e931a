//! The event loop of a migration with a ghost table: one struct that owns the run's state, and one handler
//! per event (a binlog change, a task's end, an operator command, the row count, a checkpoint tick, a status
//! tick). The phases that need the loop (`stream`, `copy`, `cut_over`, in `migration/mod.rs`) drive it with
//! `step` until their condition holds.
//!
//! Invariants:
//! - the loop is the only writer of the applier's batch and of the ghost table besides the copier; the
//!   binlog is applied in the order it was read;
//! - every task the loop started belongs to `tasks`, so every way out of the loop stops them all;
//! - after each event the panic flag file is checked: its appearance aborts at once;
//! - a duplicate key met by the binlog apply stops the run only once the batch holds every change committed
//!   when it failed (`take_in_committed_changes`): before that it may be the copy being ahead.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Interval, MissedTickBehavior};
use tracing::{info, warn};

use super::checkpoint::{self, Checkpoint};
use super::Migrator;
use crate::checksum::{ChecksumPlan, ChecksumReport};
use crate::config::Config;
use crate::control::hooks::{HookEvent, HookProgress, Hooks};
use crate::control::status;
use crate::copy::frontier::Frontier;
use crate::cutover::gate::Gate;
use crate::error::{Error, Result};
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::gtid::GtidSet;
use crate::phase::Phase;
use crate::replication::applier::Applier;
use crate::replication::streamer::StreamItem;
use crate::state::command::Command;
use crate::state::settings::Settings;
use crate::state::stats::Stats;
use crate::state::tasks::{Exit, Stop, Tasks};
use crate::state::Verdict;

use super::validate::Validated;

/// Rounds of taking in later changes after a batch met a duplicate (`take_in_committed_changes`).
const CATCH_UP_ROUNDS: u32 = 5;
/// Most keys a batch grows to while taking in later changes (the statement stays well under
/// max_allowed_packet).
const CATCH_UP_ROWS: usize = 50_000;
/// How long one round waits for the binlog stream to bring the changes committed when it began.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

/// Capacity of the streamer -> applier channel: bounds memory, and lets the streamer run ahead a little.
pub(crate) const BACKLOG: usize = 1000;

/// --checkpoint: where checkpoints are written, and what they carry over from a resumed run.
pub(super) struct Checkpointing {
    pub(super) conn: Conn,
    pub(super) tick: Interval,
    /// Rows copied by the runs before this one.
    pub(super) copied_before: u64,
    /// The copy range's max, fixed at the first start.
    pub(super) copy_max: Option<Vec<mysql_async::Value>>,
    /// The resumed checkpoint's copy position, until this run commits a chunk.
    pub(super) resumed_last_key: Option<Vec<mysql_async::Value>>,
}

impl Checkpointing {
    /// The checkpoint connection and tick; the first checkpoint is written one interval from now.
    pub(super) async fn open(c: &Config, v: &Validated, resume: Option<&Checkpoint>) -> Result<Self> {
        let mut tick = tokio::time::interval(c.checkpoint.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.reset();
        Ok(Checkpointing {
            conn: connect(&v.primary_opts, "primary (checkpoint)", c.conn.timeout).await?,
            tick,
            copied_before: resume.map_or(0, |cp| cp.rows_copied),
            copy_max: None,
            resumed_last_key: resume.and_then(|cp| cp.copy_last_key.clone()),
        })
    }
}

pub(super) struct RunLoop<'a> {
    pub(super) m: &'a Migrator,
    pub(super) v: &'a Validated,
    pub(super) hooks: Hooks,
    /// The writer session on the primary (ANALYZE, STOP REPLICA, cleanup).
    pub(super) prim: Conn,
    pub(super) tasks: Tasks,
    /// The run's interrupt (Ctrl-C in the binary).
    pub(super) interrupt: Stop,
    pub(super) inbox: mpsc::UnboundedReceiver<Command>,
    pub(super) changes: mpsc::Receiver<StreamItem>,
    pub(super) settings: Arc<Settings>,
    pub(super) stats: Arc<Stats>,
    pub(super) throttled: Verdict,
    pub(super) applier: Applier,
    pub(super) apply_conn: Conn,
    pub(super) checkpoint: Option<Checkpointing>,
    /// What the checksum compares, once the copy is done (None with --checksum=false or before).
    pub(super) checksum_plan: Option<Arc<ChecksumPlan>>,
    /// The heartbeat's commit latencies, until the copy hands them to the latency pacer (None when off).
    pub(super) pacer_samples: Option<mpsc::Receiver<Duration>>,
    /// The latency pacer's pace (unpaced until it starts with the copy): the copy and the checksum follow it.
    pub(super) pace: crate::state::pace::PaceWatch,
    /// The loop's own bookkeeping.
    pub(super) state: LoopState,
}

/// What the loop keeps track of between events.
pub(super) struct LoopState {
    /// --concurrent-rowcount: the exact count, when it arrives.
    pub(super) row_count: Option<oneshot::Receiver<u64>>,
    pub(super) frontier: Option<Arc<Frontier>>,
    pub(super) copy_done: bool,
    /// The deferred secondary indexes are on the ghost (or none were deferred).
    pub(super) indexes_built: bool,
    pub(super) gate: Gate,
    pub(super) cut_over_attempts: u32,
    pub(super) postponed_logged: bool,
    pub(super) replication_stopped: bool,
    pub(super) analyzed: bool,
    /// The last verification's report, and when it ended.
    pub(super) checksum: Option<ChecksumReport>,
    pub(super) last_verified: Option<Instant>,
    /// A pass ran since the postponement ended.
    pub(super) verified_after_postpone: bool,
    /// --revert-window: the way back's window (None outside it).
    pub(super) window: Option<crate::revert::window::Window>,
    pub(super) revert_logged: bool,
    status_tick: Interval,
    last_status_log: Instant,
    last_status_hook: Instant,
}

impl LoopState {
    pub(super) fn new(status_interval: Duration) -> Self {
        let mut status_tick = tokio::time::interval(status_interval.min(Duration::from_secs(1)));
        status_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        LoopState {
            row_count: None,
            frontier: None,
            copy_done: false,
            indexes_built: false,
            gate: Gate::new(Instant::now()),
            cut_over_attempts: 0,
            postponed_logged: false,
            replication_stopped: false,
            analyzed: false,
            checksum: None,
            last_verified: None,
            verified_after_postpone: false,
            window: None,
            revert_logged: false,
            status_tick,
            last_status_log: Instant::now(),
            last_status_hook: Instant::now(),
        }
    }
}

impl RunLoop<'_> {
    /// Waits for the next event and handles it.
    pub(super) async fn step(&mut self) -> Result<()> {
        tokio::select! {
            item = self.changes.recv() => self.on_change(item).await?,
            n = or_pending(self.state.row_count.as_mut()), if self.state.row_count.is_some() => {
                self.state.row_count = None;
                self.on_row_count(n.ok()).await;
            }
            exit = self.tasks.next_exit() => self.on_task_exit(exit).await?,
            Some(command) = self.inbox.recv() => self.on_command(command).await?,
            _ = or_pending(self.checkpoint.as_mut().map(|cp| cp.tick.tick())), if self.checkpoint.is_some() => {
                self.on_checkpoint().await;
            }
            _ = self.state.status_tick.tick() => self.on_tick().await,
            _ = self.interrupt.stopped() => {
                return Err(Error::Interrupted { phase: self.m.phase() });
            }
        }
        if let Some(f) = &self.m.cfg.control.panic_flag_file {
            if f.exists() {
                return Err(Error::Aborted(format!("panic flag file {} exists", f.display())));
            }
        }
        Ok(())
    }

    /// A binlog change (or marker, or position): into the applier's batch, with whatever is already queued,
    /// then written. A batch never waits for more events.
    async fn on_change(&mut self, item: Option<StreamItem>) -> Result<()> {
        let Some(item) = item else {
            // The streamer ended; its exit (with the reason) is the next task exit.
            return Err(self.stream_error().await);
        };
        self.applier.max_batch = self.settings.dml_batch_size();
        take(&mut self.applier, item);
        while !self.applier.full() {
            match self.changes.try_recv() {
                Ok(item) => take(&mut self.applier, item),
                Err(_) => break,
            }
        }
        self.flush().await
    }

    /// Why the binlog stream stopped: the streamer's own error, or that it ended.
    async fn stream_error(&mut self) -> Error {
        let wait = async {
            loop {
                match self.tasks.next_exit().await {
                    ("streamer", Err(e)) => return e,
                    ("streamer", Ok(())) => return Error::Aborted("binlog stream stopped".into()),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| Error::Aborted("binlog stream stopped".into()))
    }

    /// Writes the applier's batch, retrying transient failures (deadlocks with the copy, lock waits, a lost
    /// connection): the batch stays intact until written, and writing it twice is harmless.
    pub(super) async fn flush(&mut self) -> Result<()> {
        let c = &self.m.cfg;
        let mut attempt = 0u32;
        let mut catch_ups = 0u32;
        loop {
            match self.applier.flush(&mut self.apply_conn, true).await {
                Ok(()) => return Ok(()),
                Err(e) if self.applier.met_duplicate() && catch_ups < CATCH_UP_ROUNDS => {
                    catch_ups += 1;
                    if !self.take_in_committed_changes().await? {
                        return Err(e);
                    }
                    warn!(
                        "applying binlog changes met a duplicate key while behind the copy ({e}); took in the \
                         changes committed since, retry {catch_ups}/{CATCH_UP_ROUNDS}"
                    );
                }
                Err(e) if e.is_transient() && attempt < c.default_retries => {
                    attempt += 1;
                    self.stats.apply.retries.fetch_add(1, Ordering::Relaxed);
                    self.stats.note_error("binlog apply", &e);
                    warn!(
                        "applying binlog changes failed ({e}){}; retry {attempt}/{}",
                        e.code_label(),
                        c.default_retries
                    );
                    // A lost connection (a server restarting, a network down) takes seconds to heal, a
                    // deadlock with the copy milliseconds: back off accordingly, so the retries outlast a
                    // restart of the primary.
                    let lost = e.needs_reconnect();
                    let (step, cap) = if lost { (100, 2000) } else { (20, 1000) };
                    tokio::time::sleep(Duration::from_millis((step * u64::from(attempt)).min(cap))).await;
                    if lost {
                        // A server still unreachable (restarting, network down) costs this attempt only:
                        // the old connection fails the next one at once, and the reconnect is tried again.
                        match self.applier_connection().await {
                            Ok(conn) => self.apply_conn = conn,
                            Err(e) => warn!("reconnecting the applier failed: {e}"),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A batch that meets a duplicate for a unique key of the ghost may replay an old state of a row while
    /// the copy has already written another row in a later state (the application moved a unique value
    /// from one row to the other): the changes that follow resolve it. Takes into the batch every change
    /// committed on the primary up to now, merged by key, so that the batch brings its rows to their present
    /// state. Returns false when there was no change to take in: every row the batch touches is then in the
    /// state the original has now, and the duplicate is one the new schema rejects. Bounded by the changes
    /// committed when it starts, CATCH_UP_ROWS and CATCH_UP_LIMIT.
    async fn take_in_committed_changes(&mut self) -> Result<bool> {
        use mysql_async::prelude::Queryable;
        let executed: Option<String> = self.apply_conn.query_first("SELECT @@global.gtid_executed").await?;
        let executed = GtidSet::parse(&executed.unwrap_or_default())?;
        let deadline = Instant::now() + CATCH_UP_LIMIT;
        let mut taken = 0u64;
        while !self.applier.received().includes(&executed) && self.applier.batch_len() < CATCH_UP_ROWS {
            match tokio::time::timeout_at(deadline.into(), self.changes.recv()).await {
                Ok(Some(item)) => {
                    taken += u64::from(matches!(item, StreamItem::Row(_)));
                    take(&mut self.applier, item);
                }
                Ok(None) => return Err(self.stream_error().await),
                Err(_) => break,
            }
        }
        tracing::debug!(
            "took in {taken} later changes; batch {} keys; received {} of {executed}",
            self.applier.batch_len(),
            self.applier.received()
        );
        Ok(taken > 0)
    }

    /// Makes sure the writer session on the primary (`prim`) answers: it is replaced if not (the server
    /// restarted, or the network dropped it, while it sat idle during the copy).
    pub(super) async fn refresh_primary_session(&mut self) -> Result<()> {
        use mysql_async::prelude::Queryable;
        let c = &self.m.cfg;
        if !matches!(tokio::time::timeout(c.conn.timeout, self.prim.ping()).await, Ok(Ok(()))) {
            let mut conn = connect(&self.v.primary_opts, "primary", c.conn.timeout).await?;
            setup_writer(&mut conn, c.writer_mode()).await?;
            let _ = conn.query_drop("DO 1").await;
            self.prim = conn;
        }
        Ok(())
    }

    async fn applier_connection(&self) -> Result<Conn> {
        let c = &self.m.cfg;
        let mut conn = connect(&self.v.primary_opts, "primary (applier)", c.conn.timeout).await?;
        setup_writer(&mut conn, c.writer_mode().read_committed()).await?;
        Ok(conn)
    }

    /// A task ended: the copier's success is the end of the copy; anything else ending is a failure.
    async fn on_task_exit(&mut self, (name, result): Exit) -> Result<()> {
        match (name, result) {
            ("copier", Ok(())) => {
                self.state.copy_done = true;
                let rows = self.stats.rows_copied();
                info!("row copy complete: {rows} rows");
                self.stats.estimated_rows.store(rows, Ordering::Relaxed);
                self.hook(HookEvent::RowCopyComplete).await
            }
            ("indexer", Ok(())) => {
                self.state.indexes_built = true;
                Ok(())
            }
            ("streamer", Ok(())) => Err(Error::Aborted("binlog stream stopped".into())),
            (_, Ok(())) => Ok(()),
            (_, Err(e)) => Err(e),
        }
    }

    async fn on_command(&mut self, command: Command) -> Result<()> {
        match command {
            Command::Panic => Err(Error::Aborted("panic command received".into())),
            Command::CriticalLoad(why) => Err(Error::Aborted(why)),
            Command::Unpostpone => {
                self.state.gate.unpostpone();
                Ok(())
            }
            Command::Revert => {
                if let Some(w) = self.state.window.as_mut() {
                    w.request_revert();
                }
                Ok(())
            }
            Command::EndRevertWindow => {
                if let Some(w) = self.state.window.as_mut() {
                    w.end();
                }
                Ok(())
            }
            Command::Received(line) => {
                let _ = self.hook(HookEvent::InteractiveCommand(line)).await;
                Ok(())
            }
        }
    }

    async fn on_row_count(&mut self, n: Option<u64>) {
        let Some(n) = n else { return };
        info!("row count complete: {n} rows");
        if !self.state.copy_done {
            self.stats.estimated_rows.store(n, Ordering::Relaxed);
        }
        // Like gh-ost, a background count's hook cannot stop a copy already under way.
        if let Err(e) = self.hook(HookEvent::RowCountComplete).await {
            warn!("{e}");
        }
    }

    async fn on_checkpoint(&mut self) {
        let c = &self.m.cfg;
        let Some(cp) = self.checkpoint.as_mut() else { return };
        let record = Checkpoint {
            alter: c.alter.clone(),
            applied: self.applier.applied().clone(),
            copy_done: self.state.copy_done,
            copy_last_key: self.stats.copy.watermark().or_else(|| cp.resumed_last_key.clone()),
            copy_max_key: cp.copy_max.clone(),
            rows_copied: cp.copied_before + self.stats.rows_copied(),
            events_applied: self.stats.apply.events.load(Ordering::Relaxed),
        };
        match checkpoint::write(&mut cp.conn, &c.database, &self.m.names.checkpoint, &record).await {
            Ok(()) => {
                info!("checkpoint: {} rows copied, binlog applied through {}", record.rows_copied, record.applied)
            }
            Err(e) => {
                warn!("checkpoint write failed: {e}; trying again at the next interval");
                self.stats.note_error("checkpoint", &e);
                // A lost connection is replaced first (best effort: the server may still be unreachable).
                if e.needs_reconnect() {
                    if let Ok(conn) = connect(&self.v.primary_opts, "primary (checkpoint)", c.conn.timeout).await {
                        cp.conn = conn;
                    }
                }
            }
        }
    }

    /// The status line: logged every --status-interval, published for progress displays and the socket,
    /// and handed to the on-status hook every --hooks-status-interval.
    async fn on_tick(&mut self) {
        let c = &self.m.cfg;
        let phase = self.m.phase();
        let mut state = status::state_word(phase, self.throttled.borrow().as_deref());
        let cs = &self.stats.checksum;
        if let Some(w) = self.state.window.as_ref().filter(|_| phase == Phase::Revertible) {
            state = w.state();
        } else if phase == Phase::Verifying {
            state = format!(
                "verifying {}/{} rows in {} chunks",
                cs.rows.load(Ordering::Relaxed),
                self.stats.estimated(),
                cs.chunks.load(Ordering::Relaxed)
            );
        } else if let Some(at) = cs.last_clean().filter(|_| !phase.is_after_cut_over()) {
            state.push_str(&format!(", verified at {}", humantime::format_rfc3339_seconds(at)));
        }
        let throttled = self.throttled.borrow().clone();
        let tick = status::Tick {
            database: &c.database,
            table: &c.table,
            phase,
            throttled: throttled.as_deref(),
            state: &state,
            backlog: self.changes.len(),
            backlog_capacity: BACKLOG,
            coordinates: self.applier.applied().to_string(),
            checksum_enabled: c.checksum.enabled,
            revertible_until: self.state.window.as_ref().filter(|_| phase == Phase::Revertible).map(|w| w.until_wall),
        };
        let (line, report) = status::report(&self.stats, &self.settings, tick);
        if self.state.last_status_log.elapsed() + Duration::from_millis(50) >= c.control.status_interval {
            info!(target: "wraith::status", "{line}");
            self.state.last_status_log = Instant::now();
        }
        self.m.progress.send_modify(|p| {
            p.copied = report.rows_copied;
            p.estimated = report.rows_estimated;
            p.line = line.clone();
            p.coordinates = report.coordinates.clone();
            p.status = report;
        });
        if self.state.last_status_hook.elapsed() >= c.hooks.status_interval {
            self.state.last_status_hook = Instant::now();
            let _ = self.hook(HookEvent::Status(line)).await;
        }
    }

    /// Runs the hooks of `event` with the run's progress (nothing when --hooks-path is not set).
    pub(super) async fn hook(&self, event: HookEvent) -> Result<()> {
        if !self.hooks.is_enabled() {
            return Ok(());
        }
        self.hooks.run(&event, &hook_progress(&self.stats, self.m.phase())).await
    }
}

/// The future, or one that never resolves (for `select!` branches whose source may be absent).
async fn or_pending<F: std::future::Future>(f: Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

fn take(applier: &mut Applier, item: StreamItem) {
    match item {
        StreamItem::Row(change) => applier.add(change),
        StreamItem::Changelog { .. } => {}
        StreamItem::Position(p) => applier.position(p),
    }
}

/// The hooks' view of the run.
pub(super) fn hook_progress(stats: &Stats, phase: Phase) -> HookProgress {
    let lag = stats.lag();
    HookProgress {
        phase,
        elapsed: stats.started.elapsed(),
        elapsed_copy: stats.copy_elapsed(),
        estimated_rows: stats.estimated(),
        copied_rows: stats.rows_copied(),
        inspected_lag: lag,
        heartbeat_lag: lag,
        progress_pct: stats.progress_pct(),
        eta: stats.eta(),
        checksum: stats.checksum.summary(),
    }
}
