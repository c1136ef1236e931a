//! The counters of a run: one `Stats`, created by the run and lent (`Arc`) to every role that counts
//! something. Roles only add to their own part; the status line, hooks and `Outcome` only read.
//!
//! Invariants: nothing here decides anything; a counter read late is only a stale number. Recording costs
//! atomics (a short lock for a histogram, per chunk or batch, never per row), so the metrics and the JSON
//! status never add work to the copy or the apply.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use mysql_async::Value;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};

use crate::mysql::gtid::GtidSet;

#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) started: Instant,
    /// The same moment on the wall clock, for `started_at`.
    pub(crate) started_at: SystemTime,
    pub(crate) copy_started: OnceLock<Instant>,
    /// Rows the copy is expected to copy (estimate, exact count, or the final count once done).
    pub(crate) estimated_rows: AtomicU64,
    /// Replication lag last measured on the inspected server (and control replicas).
    pub(crate) lag_millis: AtomicU64,
    pub(crate) copy: CopyStats,
    pub(crate) apply: ApplyStats,
    pub(crate) stream: StreamStats,
    pub(crate) checksum: ChecksumStats,
    pub(crate) cutover: CutOverStats,
    pub(crate) server: ServerStats,
    /// The latency pacer's state and decisions (`control::pacer`).
    pub(crate) pacer: PacerStats,
    /// How long each copied chunk's statement took (retries included).
    pub(crate) copy_chunk_seconds: Histogram,
    /// How long each applied batch took to write.
    pub(crate) apply_batch_seconds: Histogram,
    /// The last failure the run retried or outlasted, and when.
    last_error: Mutex<Option<(SystemTime, String)>>,
}

impl Stats {
    /// What the latency pacer paces is running: the copy, or (after it) a checksum pass, which reads both
    /// tables whole.
    pub(crate) fn paced_work_running(&self) -> bool {
        !self.copy.done.load(Ordering::Relaxed) || self.checksum.running.load(Ordering::Relaxed)
    }

    pub(crate) fn new(started: Instant) -> Self {
        Stats {
            started,
            copy_started: OnceLock::new(),
            estimated_rows: AtomicU64::new(0),
            lag_millis: AtomicU64::new(0),
            copy: CopyStats::default(),
            apply: ApplyStats::default(),
            stream: StreamStats::default(),
            checksum: ChecksumStats::default(),
            cutover: CutOverStats::default(),
            server: ServerStats::default(),
            pacer: PacerStats::default(),
            started_at: SystemTime::now() - started.elapsed(),
            // 5 ms .. 41 s: a chunk is meant to take well under a second.
            copy_chunk_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 14)),
            // 1 ms .. 8 s.
            apply_batch_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            last_error: Mutex::new(None),
        }
    }

    /// Records a failure the run retries (or outlasts): `what` says which role met it.
    pub(crate) fn note_error(&self, what: &str, e: &dyn std::fmt::Display) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some((SystemTime::now(), format!("{what}: {e}")));
    }

    pub(crate) fn last_error(&self) -> Option<(SystemTime, String)> {
        self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub(crate) fn rows_copied(&self) -> u64 {
        self.copy.rows.load(Ordering::Relaxed)
    }

    pub(crate) fn estimated(&self) -> u64 {
        self.estimated_rows.load(Ordering::Relaxed)
    }

    pub(crate) fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_millis.load(Ordering::Relaxed))
    }

    pub(crate) fn copy_elapsed(&self) -> Duration {
        self.copy_started.get().map_or(Duration::ZERO, |t| t.elapsed())
    }

    pub(crate) fn progress_pct(&self) -> f64 {
        if self.copy.done.load(Ordering::Relaxed) {
            return 100.0;
        }
        let estimated = self.estimated();
        if estimated == 0 {
            return 0.0;
        }
        (self.rows_copied() as f64 * 100.0 / estimated as f64).min(99.9)
    }

    pub(crate) fn eta(&self) -> Option<Duration> {
        let copied = self.rows_copied();
        let elapsed = self.copy_started.get()?.elapsed();
        if copied == 0 || self.copy.done.load(Ordering::Relaxed) {
            return None;
        }
        let rate = copied as f64 / elapsed.as_secs_f64().max(0.001);
        let left = self.estimated().saturating_sub(copied) as f64;
        Some(Duration::from_secs_f64(left / rate.max(1e-9)))
    }
}

#[derive(Debug, Default)]
pub(crate) struct CopyStats {
    pub(crate) rows: AtomicU64,
    pub(crate) chunks: AtomicU64,
    pub(crate) done: AtomicBool,
    pub(crate) retries: AtomicU64,
    /// Last key of the last committed chunk: everything up to it is in the ghost table.
    pub(crate) watermark: Mutex<Option<Vec<Value>>>,
    /// The secondary indexes left off the ghost during the copy (`copy::indexes`).
    pub(crate) deferred_indexes: Mutex<Vec<String>>,
    pub(crate) indexes_building: AtomicBool,
    /// The build's duration once done (0 before).
    pub(crate) indexes_build_micros: AtomicU64,
}

impl CopyStats {
    pub(crate) fn watermark(&self) -> Option<Vec<Value>> {
        self.watermark.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn set_watermark(&self, key: Vec<Value>) {
        *self.watermark.lock().unwrap_or_else(|p| p.into_inner()) = Some(key);
    }
    pub(crate) fn set_deferred_indexes(&self, names: Vec<String>) {
        *self.deferred_indexes.lock().unwrap_or_else(|p| p.into_inner()) = names;
    }
    /// How long the deferred indexes took to build, once built.
    pub(crate) fn indexes_built_in(&self) -> Option<Duration> {
        match self.indexes_build_micros.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
    pub(crate) fn deferred_indexes(&self) -> Vec<String> {
        self.deferred_indexes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[derive(Debug, Default)]
pub(crate) struct ApplyStats {
    /// Row changes taken from the binlog.
    pub(crate) events: AtomicU64,
    /// Row writes actually sent to the ghost after de-duplication.
    pub(crate) rows_written: AtomicU64,
    pub(crate) batches: AtomicU64,
    /// Changes to keys the parallel copy had not reached: its later read holds them.
    pub(crate) dropped: AtomicU64,
    /// Batches that waited for a chunk in flight.
    pub(crate) waits: AtomicU64,
    /// Batches written again after a transient failure.
    pub(crate) retries: AtomicU64,
    /// GTID set of the binlog transactions written to the ghost table (the applier's position).
    pub(crate) applied: Mutex<GtidSet>,
}

impl ApplyStats {
    pub(crate) fn applied(&self) -> GtidSet {
        self.applied.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn set_applied(&self, set: &GtidSet) {
        self.applied.lock().unwrap_or_else(|p| p.into_inner()).clone_from(set);
    }
}

#[derive(Debug, Default)]
pub(crate) struct StreamStats {
    pub(crate) row_events: AtomicU64,
    /// Transactions read from the binlog that wrote any table but wraith's own: the application's writes.
    pub(crate) app_transactions: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    /// Unix millis of the last event's header timestamp (seconds precision from MySQL).
    pub(crate) last_event_ts: AtomicU64,
    /// GTID set of transactions received in full (where a reconnect resumes).
    pub(crate) received: Mutex<GtidSet>,
}

#[derive(Debug, Default)]
pub(crate) struct ChecksumStats {
    /// A pass is under way (the latency pacer paces it as it paces the copy).
    pub(crate) running: AtomicBool,
    /// Rows and chunks compared by the pass under way (or the last one).
    pub(crate) rows: AtomicU64,
    pub(crate) chunks: AtomicU64,
    /// Chunks rewritten on the ghost from the original, over the run.
    pub(crate) repaired: AtomicU64,
    /// When the last pass that found the tables equal ended.
    pub(crate) last_clean: Mutex<Option<std::time::SystemTime>>,
    /// The last verification's summary (`verified N rows in M chunks ...`), or `off`.
    pub(crate) summary: Mutex<Option<String>>,
}

impl ChecksumStats {
    pub(crate) fn last_clean(&self) -> Option<std::time::SystemTime> {
        *self.last_clean.lock().unwrap_or_else(|p| p.into_inner())
    }
    pub(crate) fn set_last_clean(&self, at: std::time::SystemTime) {
        *self.last_clean.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
    }
    pub(crate) fn summary(&self) -> Option<String> {
        self.summary.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn set_summary(&self, s: String) {
        *self.summary.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
    }
}

#[derive(Debug, Default)]
pub(crate) struct CutOverStats {
    /// Attempts started (the before-cut-over hook's failures included).
    pub(crate) attempts: AtomicU64,
    /// Attempts that failed and were retried.
    pub(crate) failed: AtomicU64,
    /// How long the last attempt held the write lock (writes blocked), in microseconds; 0 before any.
    pub(crate) last_lock_micros: AtomicU64,
}

/// The latency pacer, as it last decided (all zero while it is off or before the copy).
#[derive(Debug, Default)]
pub(crate) struct PacerStats {
    /// The pacer runs (--max-latency-ratio > 0 and the copy has started).
    pub(crate) enabled: AtomicBool,
    /// The probe's latency before the copy, the latency above which it backs off, and the median of the
    /// last window, in microseconds.
    pub(crate) baseline_micros: AtomicU64,
    pub(crate) limit_micros: AtomicU64,
    pub(crate) latency_micros: AtomicU64,
    /// The copy level (in workers, f64 bits), the workers it lets copy and the pause ratio (f64 bits).
    level: AtomicU64,
    pub(crate) workers: AtomicU64,
    /// --copy-workers for the parallel copy, 1 for the serial one.
    pub(crate) max_workers: AtomicU64,
    pause_ratio: AtomicU64,
    /// Windows judged, and how many raised or lowered the level.
    pub(crate) windows: AtomicU64,
    pub(crate) increases: AtomicU64,
    pub(crate) decreases: AtomicU64,
    /// Windows in which the binlog showed no application write: nothing to protect, judged within the limit.
    pub(crate) quiet_windows: AtomicU64,
    /// The application probe reads the application's transactions (performance_schema); their mean
    /// before the copy, the limit, and the last window's mean (0: it ended none), in microseconds.
    pub(crate) app_enabled: AtomicBool,
    pub(crate) app_baseline_micros: AtomicU64,
    pub(crate) app_limit_micros: AtomicU64,
    pub(crate) app_latency_micros: AtomicU64,
}

impl PacerStats {
    pub(crate) fn publish(&self, level: f64, pace: &crate::state::pace::Pace) {
        self.level.store(level.to_bits(), Ordering::Relaxed);
        self.workers.store(pace.workers as u64, Ordering::Relaxed);
        self.pause_ratio.store(pace.pause_ratio.to_bits(), Ordering::Relaxed);
    }
    pub(crate) fn level(&self) -> f64 {
        f64::from_bits(self.level.load(Ordering::Relaxed))
    }
    pub(crate) fn pause_ratio(&self) -> f64 {
        f64::from_bits(self.pause_ratio.load(Ordering::Relaxed))
    }
}

/// What the server says about contention while the run goes on, sampled by the throttler once a second
/// (never per scrape). Deltas count from the first sample.
#[derive(Debug, Default)]
pub(crate) struct ServerStats {
    /// A sample has been taken (before that, the values below mean nothing).
    pub(crate) sampled: AtomicBool,
    /// Innodb_row_lock_waits and Innodb_row_lock_time (ms) since the first sample: server-wide.
    pub(crate) row_lock_waits: AtomicU64,
    pub(crate) row_lock_time_ms: AtomicU64,
    /// Sessions waiting now for a metadata lock on the table or the ghost (performance_schema), or
    /// u64::MAX when it cannot be read (no SELECT on performance_schema).
    pub(crate) metadata_lock_waiting: AtomicU64,
    /// Samples in which at least one session waited for such a metadata lock.
    pub(crate) metadata_lock_wait_samples: AtomicU64,
    /// Row lock requests waiting now on rows of the table or the ghost (performance_schema.data_lock_waits),
    /// or u64::MAX when it cannot be read.
    pub(crate) row_lock_waiting: AtomicU64,
    /// Samples in which at least one such row lock request waited.
    pub(crate) row_lock_wait_samples: AtomicU64,
}
