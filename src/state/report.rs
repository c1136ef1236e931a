//! The status object: what `status --json`, `GET /status` and the Prometheus metrics report, one value
//! built by the run at each status tick from the same counters as the status line, and published with it
//! in `Progress` (so the line, the JSON and the metrics agree).
//!
//! Invariants: field names are a stable interface (`docs/observability.md` lists each; a unit test pins
//! them): fields are added, never renamed or removed. Nothing here holds a secret: no password, no token,
//! and URLs lose their user-info.

use serde::Serialize;

use crate::phase::Phase;

/// One snapshot of the run, every field as of `updated_at` (the last status tick, at most a second old
/// while the run loop runs), so they never contradict each other. Before the first tick (validation) only
/// `phase` is filled in, from the run's phase when served.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusReport {
    pub version: String,
    pub database: String,
    pub table: String,
    pub phase: Phase,
    /// The status line's state: the phase, or `throttled, <reason>`, `verifying ...`.
    pub state: String,
    /// The gh-ost-style status line of the same tick.
    pub line: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub updated_at: String,
    pub elapsed_seconds: f64,
    pub rows_copied: u64,
    pub rows_estimated: u64,
    pub progress_pct: f64,
    pub copy_done: bool,
    pub chunks_copied: u64,
    /// None while unknown (nothing copied yet) and once the copy is done.
    pub eta_seconds: Option<f64>,
    pub lag_seconds: f64,
    pub throttled: bool,
    pub throttle_reason: Option<String>,
    /// Binlog changes read but not yet applied, and the most that can wait.
    pub backlog: u64,
    pub backlog_capacity: u64,
    pub binlog_events_applied: u64,
    /// The GTID set applied to the ghost table so far.
    pub coordinates: String,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub retries: Retries,
    pub cutover: CutOverStatus,
    pub postponed: Postponed,
    /// --revert-window: until when `revert` swaps the old table back in (RFC 3339); null outside a window.
    pub revertible_until: Option<String>,
    pub checksum: ChecksumStatus,
    pub server: ServerStatus,
    pub settings: SettingsStatus,
    pub pacer: PacerStatus,
    /// --defer-secondary-indexes: the keys left off the ghost during the copy, and their build.
    pub deferred_indexes: DeferredIndexesStatus,
}

/// The secondary indexes built after the copy: empty `keys` when none were deferred.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeferredIndexesStatus {
    pub keys: Vec<String>,
    pub building: bool,
    /// How long the build took, once it is done.
    pub build_seconds: Option<f64>,
}

/// The latency pacer (--max-latency-ratio): the probe's latency against its baseline, and what the pacer
/// did about it. `enabled` is false (and the rest empty) while it is off or before the copy starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PacerStatus {
    pub enabled: bool,
    /// The heartbeat's commit latency before the copy (median of probes), the latency above which the copy
    /// backs off, and the median of the last window of heartbeats, in milliseconds.
    pub baseline_ms: Option<f64>,
    pub limit_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    /// The copy level in workers (fractional: below 1, one worker with pauses), the workers it lets copy
    /// out of the most there are, and the pause after each chunk, in times the chunk's copy time.
    pub level: f64,
    pub workers: u64,
    pub max_workers: u64,
    pub pause_ratio: f64,
    /// Windows of heartbeats judged, and how many raised or lowered the level.
    pub windows: u64,
    pub increases: u64,
    pub decreases: u64,
    /// Windows with no application write in the binlog: the copy's own load raised nothing to protect, so
    /// they count as within the limit.
    pub quiet_windows: u64,
    /// The application's transactions (read from performance_schema; None where they cannot be, or none
    /// ended before the copy): their mean duration before the copy, the mean above which the copy backs
    /// off, and the mean over the last window (None: the application ended none in it), in milliseconds.
    pub app_baseline_ms: Option<f64>,
    pub app_limit_ms: Option<f64>,
    pub app_latency_ms: Option<f64>,
}

/// Transient failures retried, by kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Retries {
    pub copy: u64,
    pub apply: u64,
    pub binlog_reconnect: u64,
    pub cutover: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CutOverStatus {
    pub attempts: u64,
    /// How long the last attempt held the write lock; None before the first.
    pub lock_seconds: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Postponed {
    /// The cut-over is ready but held by the flag file.
    pub active: bool,
    pub flag_file: Option<String>,
    pub flag_file_exists: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChecksumStatus {
    pub enabled: bool,
    /// A pass is comparing chunks now.
    pub running: bool,
    /// Rows and chunks compared by the pass under way (or the last one).
    pub rows: u64,
    pub chunks: u64,
    /// Chunks repaired over the run.
    pub repaired: u64,
    pub last_clean_at: Option<String>,
    pub summary: Option<String>,
}

/// Contention on the migrated server, sampled once a second; None until sampled or when unreadable.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerStatus {
    /// Server-wide Innodb_row_lock_waits / Innodb_row_lock_time since the run began.
    pub row_lock_waits: Option<u64>,
    pub row_lock_wait_seconds: Option<f64>,
    /// Sessions waiting now for a metadata lock on the table or the ghost table.
    pub metadata_lock_waiting: Option<u64>,
    /// Samples (one a second) that saw such a wait.
    pub metadata_lock_wait_samples: Option<u64>,
    /// Row lock requests waiting now on rows of the table or the ghost table.
    pub table_row_lock_waiting: Option<u64>,
    /// Samples (one a second) that saw such a wait.
    pub table_row_lock_wait_samples: Option<u64>,
}

/// What an operator can change with interactive commands, as it is now.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SettingsStatus {
    pub chunk_size: u64,
    pub dml_batch_size: u64,
    pub max_lag_millis: u64,
    pub nice_ratio: f64,
    pub max_load: String,
    pub critical_load: String,
    pub throttle_query: Option<String>,
    pub throttle_http: Option<String>,
    pub throttle_control_replicas: Vec<String>,
    pub postpone_cut_over_flag_file: Option<String>,
    /// An operator's `throttle` command holds.
    pub user_throttled: bool,
}

impl StatusReport {
    /// The phase to show: the tick's, or `now` (the run's) before the first tick.
    pub fn phase_or(&self, now: Phase) -> Phase {
        if self.updated_at.is_empty() {
            now
        } else {
            self.phase
        }
    }

    /// The JSON served; `now` is the run's phase, shown before the first tick.
    pub fn to_json(&self, now: Phase) -> String {
        let mut r = self.clone();
        r.phase = self.phase_or(now);
        serde_json::to_string(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// A URL without its user-info (`http://user:pw@host/` -> `http://host/`).
pub(crate) fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The kind of a throttle reason, for the `reason` label of `wraith_throttled`: a fixed set, so the
/// measured values inside a reason (`lag=1.234s`) never make new series.
pub(crate) const THROTTLE_KINDS: &[&str] = &[
    "user",
    "flag_file",
    "lag",
    "control_replica",
    "max_load",
    "throttle_query",
    "throttle_http",
    "hibernating",
    "no_heartbeat",
    "check_failed",
    "starting",
    "other",
];

pub(crate) fn throttle_kind(reason: &str) -> &'static str {
    let r = reason.trim();
    if r == "commanded by user" {
        "user"
    } else if r.starts_with("flag-file ") {
        "flag_file"
    } else if r.starts_with("lag=") {
        "lag"
    } else if r.contains("control replica") || r.contains(" lag=") {
        "control_replica"
    } else if r.starts_with("max-load") {
        "max_load"
    } else if r.starts_with("throttle-query") {
        "throttle_query"
    } else if r.starts_with("throttle-http") {
        "throttle_http"
    } else if r.starts_with("hibernating") {
        "hibernating"
    } else if r.starts_with("no heartbeat") {
        "no_heartbeat"
    } else if r.starts_with("cannot ") || r.starts_with("unknown status variable") {
        "check_failed"
    } else if r == "starting" {
        "starting"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field names are an interface: dashboards and scripts read them. Renaming one breaks them.
    #[test]
    fn field_names_are_stable() {
        let v: serde_json::Value = serde_json::from_str(&StatusReport::default().to_json(Phase::Migrating)).unwrap();
        let keys = |v: &serde_json::Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&v),
            [
                "backlog",
                "backlog_capacity",
                "binlog_events_applied",
                "checksum",
                "chunks_copied",
                "coordinates",
                "copy_done",
                "cutover",
                "database",
                "deferred_indexes",
                "elapsed_seconds",
                "eta_seconds",
                "lag_seconds",
                "last_error",
                "last_error_at",
                "line",
                "pacer",
                "phase",
                "postponed",
                "progress_pct",
                "retries",
                "revertible_until",
                "rows_copied",
                "rows_estimated",
                "server",
                "settings",
                "started_at",
                "state",
                "table",
                "throttle_reason",
                "throttled",
                "updated_at",
                "version"
            ]
        );
        assert_eq!(v["phase"], "migrating");
        assert_eq!(keys(&v["cutover"]), ["attempts", "lock_seconds"]);
        assert_eq!(keys(&v["deferred_indexes"]), ["build_seconds", "building", "keys"]);
        assert_eq!(keys(&v["postponed"]), ["active", "flag_file", "flag_file_exists"]);
        assert_eq!(keys(&v["retries"]), ["apply", "binlog_reconnect", "copy", "cutover"]);
        assert_eq!(
            keys(&v["checksum"]),
            ["chunks", "enabled", "last_clean_at", "repaired", "rows", "running", "summary"]
        );
        assert_eq!(
            keys(&v["server"]),
            [
                "metadata_lock_wait_samples",
                "metadata_lock_waiting",
                "row_lock_wait_seconds",
                "row_lock_waits",
                "table_row_lock_wait_samples",
                "table_row_lock_waiting"
            ]
        );
        assert_eq!(
            keys(&v["pacer"]),
            [
                "app_baseline_ms",
                "app_latency_ms",
                "app_limit_ms",
                "baseline_ms",
                "decreases",
                "enabled",
                "increases",
                "latency_ms",
                "level",
                "limit_ms",
                "max_workers",
                "pause_ratio",
                "quiet_windows",
                "windows",
                "workers"
            ]
        );
        assert_eq!(
            keys(&v["settings"]),
            [
                "chunk_size",
                "critical_load",
                "dml_batch_size",
                "max_lag_millis",
                "max_load",
                "nice_ratio",
                "postpone_cut_over_flag_file",
                "throttle_control_replicas",
                "throttle_http",
                "throttle_query",
                "user_throttled"
            ]
        );
    }

    #[test]
    fn urls_lose_their_user_info() {
        assert_eq!(without_userinfo("http://u:secret@h:8080/check?x=1"), "http://h:8080/check?x=1");
        assert_eq!(without_userinfo("http://h/a@b"), "http://h/a@b");
        assert_eq!(without_userinfo("http://h"), "http://h");
        assert_eq!(without_userinfo("not a url"), "not a url");
    }
}
