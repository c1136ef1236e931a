//! Progress and status: the counters every role updates, and the gh-ost-style status line built from them.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::throttle::ThrottleStats;
use crate::copy::CopyProgress;
use crate::replication::applier::ApplyStats;
use crate::replication::streamer::StreamStats;

/// Everything the status line reads; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    pub started: Instant,
    pub copy_started: Option<Instant>,
    pub estimated_rows: u64,
    pub copy: Arc<CopyProgress>,
    pub apply: Arc<ApplyStats>,
    pub stream: Arc<StreamStats>,
    pub throttle: Arc<ThrottleStats>,
    pub backlog_capacity: usize,
}

impl Metrics {
    pub fn progress_pct(&self) -> f64 {
        let copied = self.copy.rows.load(Ordering::Relaxed);
        if self.copy.done.load(Ordering::Relaxed) {
            return 100.0;
        }
        if self.estimated_rows == 0 {
            return 0.0;
        }
        (copied as f64 * 100.0 / self.estimated_rows as f64).min(99.9)
    }

    pub fn eta(&self) -> Option<Duration> {
        let copied = self.copy.rows.load(Ordering::Relaxed);
        let elapsed = self.copy_started?.elapsed();
        if copied == 0 || self.copy.done.load(Ordering::Relaxed) {
            return None;
        }
        let rate = copied as f64 / elapsed.as_secs_f64().max(0.001);
        let left = self.estimated_rows.saturating_sub(copied) as f64;
        Some(Duration::from_secs_f64(left / rate.max(1e-9)))
    }

    /// `Copy: 1000/5000 20.0%; Applied: 12; Backlog: 0/1024; Time: 5s(total), 4s(copy); Lag: 0.02s, State: migrating; ETA: 16s`
    pub fn line(&self, state: &str, backlog: usize) -> String {
        let copied = self.copy.rows.load(Ordering::Relaxed);
        let total = self.estimated_rows.max(copied);
        let eta = match self.eta() {
            Some(d) => humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
            None if self.copy.done.load(Ordering::Relaxed) => "due".to_string(),
            None => "N/A".to_string(),
        };
        format!(
            "Copy: {copied}/{total} {:.1}%; Applied: {}; Backlog: {backlog}/{}; Time: {}s(total), {}s(copy); Lag: {:.2}s, State: {state}; ETA: {eta}",
            self.progress_pct(),
            self.apply.events.load(Ordering::Relaxed),
            self.backlog_capacity,
            self.started.elapsed().as_secs(),
            self.copy_started.map_or(0, |t| t.elapsed().as_secs()),
            self.throttle.lag_millis.load(Ordering::Relaxed) as f64 / 1000.0,
        )
    }
}
