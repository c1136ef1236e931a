//! The gh-ost-style status line and the status object (`StatusReport`), built from the run's counters and
//! phase at the same tick.
//!
//! Invariants: the line's shape is gh-ost's (runbooks and the `sup` command cut it at "; "), and the state
//! reads `throttled, <reason>` while a throttle holds the copy, as gh-ost prints it; the object's numbers
//! are read once and the line is built from them, so the two never disagree. The latency pacer's part
//! (`Pacer: ...`) comes last, after gh-ost's fields, and only while it paces the copy.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::phase::Phase;
use crate::state::report::{
    without_userinfo, ChecksumStatus, CutOverStatus, DeferredIndexesStatus, PacerStatus, Postponed, Retries,
    ServerStatus, SettingsStatus, StatusReport,
};
use crate::state::settings::Settings;
use crate::state::stats::Stats;

/// The state word of the status line: the phase, or gh-ost's `throttled, <reason>` while migrating.
pub(crate) fn state_word(phase: Phase, throttled: Option<&str>) -> String {
    match throttled {
        Some(why) if phase == Phase::Migrating => format!("throttled, {why}"),
        _ => phase.to_string(),
    }
}

/// `Copy: 1000/5000 20.0%; Applied: 12; Backlog: 0/1024; Time: 5s(total), 4s(copy); Lag: 0.02s, State: migrating; ETA: 16s`
pub(crate) fn line(stats: &Stats, state: &str, backlog: usize, backlog_capacity: usize) -> String {
    line_of(&Numbers::read(stats), state, backlog, backlog_capacity)
}

/// The counters both the line and the object show, read once.
struct Numbers {
    copied: u64,
    total: u64,
    done: bool,
    pct: f64,
    eta: Option<Duration>,
    applied: u64,
    elapsed: Duration,
    copy_elapsed: Duration,
    lag: Duration,
    /// The latency pacer's part of the line, while it paces the copy.
    pacer: Option<String>,
}

impl Numbers {
    fn read(stats: &Stats) -> Numbers {
        let copied = stats.rows_copied();
        Numbers {
            copied,
            total: stats.estimated().max(copied),
            done: stats.copy.done.load(Ordering::Relaxed),
            pct: stats.progress_pct(),
            eta: stats.eta(),
            applied: stats.apply.events.load(Ordering::Relaxed),
            elapsed: stats.started.elapsed(),
            copy_elapsed: stats.copy_elapsed(),
            lag: stats.lag(),
            pacer: pacer_part(stats),
        }
    }
}

/// `Pacer: latency 3.1ms/base 2.0ms, workers 3/4` (and `, pause 1.50x` when it pauses), while the pacer
/// paces the copy or the checksum; None while it is off, not started, or between and after them.
fn pacer_part(stats: &Stats) -> Option<String> {
    let p = &stats.pacer;
    if !p.enabled.load(Ordering::Relaxed) || !stats.paced_work_running() {
        return None;
    }
    let ms = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64 / 1000.0;
    let latency = match p.windows.load(Ordering::Relaxed) {
        0 => "-".to_string(),
        _ => format!("{:.1}ms", ms(&p.latency_micros)),
    };
    let mut part = format!("Pacer: latency {latency}/base {:.1}ms, ", ms(&p.baseline_micros));
    if p.app_enabled.load(Ordering::Relaxed) {
        let app = match p.app_latency_micros.load(Ordering::Relaxed) {
            0 => "-".to_string(),
            _ => format!("{:.1}ms", ms(&p.app_latency_micros)),
        };
        part.push_str(&format!("app {app}/base {:.1}ms, ", ms(&p.app_baseline_micros)));
    }
    part.push_str(&format!("workers {}/{}", p.workers.load(Ordering::Relaxed), p.max_workers.load(Ordering::Relaxed)));
    let pause = p.pause_ratio();
    if pause > 0.0 {
        part.push_str(&format!(", pause {pause:.2}x"));
    }
    Some(part)
}

fn line_of(n: &Numbers, state: &str, backlog: usize, backlog_capacity: usize) -> String {
    let eta = match n.eta {
        Some(d) => humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
        None if n.done => "due".to_string(),
        None => "N/A".to_string(),
    };
    let line = format!(
        "Copy: {}/{} {:.1}%; Applied: {}; Backlog: {backlog}/{backlog_capacity}; Time: {}s(total), {}s(copy); Lag: {:.2}s, State: {state}; ETA: {eta}",
        n.copied,
        n.total,
        n.pct,
        n.applied,
        n.elapsed.as_secs(),
        n.copy_elapsed.as_secs(),
        n.lag.as_secs_f64(),
    );
    // Last, after gh-ost's fields, so that what runbooks cut out of the line stays where it was.
    match &n.pacer {
        Some(p) => format!("{line}; {p}"),
        None => line,
    }
}

/// What the run knows beyond the counters, for one status tick.
pub(crate) struct Tick<'a> {
    pub(crate) database: &'a str,
    pub(crate) table: &'a str,
    pub(crate) phase: Phase,
    /// The throttler's verdict.
    pub(crate) throttled: Option<&'a str>,
    /// The line's state word (`status::state_word`, or the verification's progress).
    pub(crate) state: &'a str,
    pub(crate) backlog: usize,
    pub(crate) backlog_capacity: usize,
    pub(crate) coordinates: String,
    pub(crate) checksum_enabled: bool,
    /// The revert window's end, while it is open.
    pub(crate) revertible_until: Option<SystemTime>,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

/// The status line and the status object of one tick, from one reading of the counters.
pub(crate) fn report(stats: &Stats, settings: &Settings, t: Tick<'_>) -> (String, StatusReport) {
    let n = Numbers::read(stats);
    let line = line_of(&n, t.state, t.backlog, t.backlog_capacity);
    let cs = &stats.checksum;
    let sv = &stats.server;
    let sampled = sv.sampled.load(Ordering::Relaxed);
    let mdl = sv.metadata_lock_waiting.load(Ordering::Relaxed);
    let mdl_readable = sampled && mdl != u64::MAX;
    let row_waiting = sv.row_lock_waiting.load(Ordering::Relaxed);
    let rows_readable = sampled && row_waiting != u64::MAX;
    let lock_micros = stats.cutover.last_lock_micros.load(Ordering::Relaxed);
    let flag_file = settings.postpone_flag_file.get();
    let last_error = stats.last_error();
    let report = StatusReport {
        version: env!("CARGO_PKG_VERSION").to_string(),
        database: t.database.to_string(),
        table: t.table.to_string(),
        phase: t.phase,
        state: t.state.to_string(),
        line: line.clone(),
        started_at: rfc3339(stats.started_at),
        updated_at: rfc3339(SystemTime::now()),
        elapsed_seconds: n.elapsed.as_secs_f64(),
        rows_copied: n.copied,
        rows_estimated: n.total,
        progress_pct: n.pct,
        copy_done: n.done,
        chunks_copied: stats.copy.chunks.load(Ordering::Relaxed),
        eta_seconds: n.eta.map(|d| d.as_secs_f64()),
        lag_seconds: n.lag.as_secs_f64(),
        throttled: t.throttled.is_some(),
        throttle_reason: t.throttled.map(str::to_string),
        backlog: t.backlog as u64,
        backlog_capacity: t.backlog_capacity as u64,
        binlog_events_applied: n.applied,
        coordinates: t.coordinates,
        last_error_at: last_error.as_ref().map(|(at, _)| rfc3339(*at)),
        last_error: last_error.map(|(_, e)| e),
        retries: Retries {
            copy: stats.copy.retries.load(Ordering::Relaxed),
            apply: stats.apply.retries.load(Ordering::Relaxed),
            binlog_reconnect: stats.stream.reconnects.load(Ordering::Relaxed),
            cutover: stats.cutover.failed.load(Ordering::Relaxed),
        },
        cutover: CutOverStatus {
            attempts: stats.cutover.attempts.load(Ordering::Relaxed),
            lock_seconds: (lock_micros > 0).then(|| lock_micros as f64 / 1e6),
        },
        postponed: Postponed {
            active: t.phase == Phase::Postponing,
            flag_file_exists: flag_file.as_ref().is_some_and(|f| f.exists()),
            flag_file: flag_file.map(|f| f.display().to_string()),
        },
        revertible_until: t.revertible_until.map(rfc3339),
        checksum: ChecksumStatus {
            enabled: t.checksum_enabled,
            running: t.phase == Phase::Verifying,
            rows: cs.rows.load(Ordering::Relaxed),
            chunks: cs.chunks.load(Ordering::Relaxed),
            repaired: cs.repaired.load(Ordering::Relaxed),
            last_clean_at: cs.last_clean().map(rfc3339),
            summary: cs.summary(),
        },
        server: ServerStatus {
            row_lock_waits: sampled.then(|| sv.row_lock_waits.load(Ordering::Relaxed)),
            row_lock_wait_seconds: sampled.then(|| sv.row_lock_time_ms.load(Ordering::Relaxed) as f64 / 1000.0),
            metadata_lock_waiting: mdl_readable.then_some(mdl),
            metadata_lock_wait_samples: mdl_readable.then(|| sv.metadata_lock_wait_samples.load(Ordering::Relaxed)),
            table_row_lock_waiting: rows_readable.then_some(row_waiting),
            table_row_lock_wait_samples: rows_readable.then(|| sv.row_lock_wait_samples.load(Ordering::Relaxed)),
        },
        settings: SettingsStatus {
            chunk_size: settings.chunk_size.load(Ordering::Relaxed),
            dml_batch_size: settings.dml_batch_size.load(Ordering::Relaxed),
            max_lag_millis: settings.max_lag_millis.load(Ordering::Relaxed),
            nice_ratio: settings.nice_ratio(),
            max_load: settings.max_load.get().to_string(),
            critical_load: settings.critical_load.get().to_string(),
            throttle_query: settings.throttle_query.get(),
            throttle_http: settings.throttle_http.get().map(|u| without_userinfo(&u)),
            throttle_control_replicas: settings.throttle_control_replicas.get().iter().map(|e| e.to_string()).collect(),
            postpone_cut_over_flag_file: settings.postpone_flag_file.get().map(|f| f.display().to_string()),
            user_throttled: settings.user_throttled(),
        },
        pacer: pacer_status(stats),
        deferred_indexes: DeferredIndexesStatus {
            keys: stats.copy.deferred_indexes(),
            building: stats.copy.indexes_building.load(Ordering::Relaxed),
            build_seconds: stats.copy.indexes_built_in().map(|d| d.as_secs_f64()),
        },
    };
    (line, report)
}

fn pacer_status(stats: &Stats) -> PacerStatus {
    let p = &stats.pacer;
    if !p.enabled.load(Ordering::Relaxed) {
        return PacerStatus::default();
    }
    let ms = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64 / 1000.0;
    let windows = p.windows.load(Ordering::Relaxed);
    let app = p.app_enabled.load(Ordering::Relaxed);
    PacerStatus {
        enabled: true,
        baseline_ms: Some(ms(&p.baseline_micros)),
        limit_ms: Some(ms(&p.limit_micros)),
        latency_ms: (windows > 0).then(|| ms(&p.latency_micros)),
        level: p.level(),
        workers: p.workers.load(Ordering::Relaxed),
        max_workers: p.max_workers.load(Ordering::Relaxed),
        pause_ratio: p.pause_ratio(),
        windows,
        increases: p.increases.load(Ordering::Relaxed),
        decreases: p.decreases.load(Ordering::Relaxed),
        quiet_windows: p.quiet_windows.load(Ordering::Relaxed),
        app_baseline_ms: app.then(|| ms(&p.app_baseline_micros)),
        app_limit_ms: app.then(|| ms(&p.app_limit_micros)),
        app_latency_ms: (app && p.app_latency_micros.load(Ordering::Relaxed) > 0).then(|| ms(&p.app_latency_micros)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn the_line_has_gh_ost_s_shape() {
        let stats = Stats::new(Instant::now());
        stats.estimated_rows.store(5000, Ordering::Relaxed);
        stats.copy.rows.store(1000, Ordering::Relaxed);
        let l = line(&stats, &state_word(Phase::Migrating, Some("lag=2.000s")), 3, 1000);
        assert!(l.starts_with("Copy: 1000/5000 20.0%; Applied: 0; Backlog: 3/1000; Time: "), "{l}");
        assert!(l.contains("State: throttled, lag=2.000s; ETA: "), "{l}");
        assert_eq!(state_word(Phase::Postponing, Some("lag=2.000s")), "postponing cut-over");
    }

    #[test]
    fn the_pacer_shows_last_while_it_paces_the_copy() {
        let stats = Stats::new(Instant::now());
        let l = line(&stats, "migrating", 0, 1000);
        assert!(!l.contains("Pacer"), "off: {l}");
        let p = &stats.pacer;
        p.enabled.store(true, Ordering::Relaxed);
        p.baseline_micros.store(2000, Ordering::Relaxed);
        p.max_workers.store(4, Ordering::Relaxed);
        p.publish(4.0, &crate::control::pacer::pace_of(4.0));
        let l = line(&stats, "migrating", 0, 1000);
        assert!(l.ends_with("; ETA: N/A; Pacer: latency -/base 2.0ms, workers 4/4"), "{l}");
        p.latency_micros.store(3120, Ordering::Relaxed);
        p.windows.store(1, Ordering::Relaxed);
        p.publish(0.5, &crate::control::pacer::pace_of(0.5));
        let l = line(&stats, "migrating", 0, 1000);
        assert!(l.ends_with("; Pacer: latency 3.1ms/base 2.0ms, workers 1/4, pause 1.00x"), "{l}");
        p.app_enabled.store(true, Ordering::Relaxed);
        p.app_baseline_micros.store(6000, Ordering::Relaxed);
        let l = line(&stats, "migrating", 0, 1000);
        assert!(l.ends_with("; Pacer: latency 3.1ms/base 2.0ms, app -/base 6.0ms, workers 1/4, pause 1.00x"), "{l}");
        p.app_latency_micros.store(8240, Ordering::Relaxed);
        let l = line(&stats, "migrating", 0, 1000);
        assert!(
            l.ends_with("; Pacer: latency 3.1ms/base 2.0ms, app 8.2ms/base 6.0ms, workers 1/4, pause 1.00x"),
            "{l}"
        );
        let (_, r) = report(
            &stats,
            &Settings::default(),
            Tick {
                database: "d",
                table: "t",
                phase: Phase::Migrating,
                throttled: None,
                state: "migrating",
                backlog: 0,
                backlog_capacity: 1000,
                coordinates: String::new(),
                checksum_enabled: true,
                revertible_until: None,
            },
        );
        assert_eq!((r.pacer.workers, r.pacer.max_workers, r.pacer.level), (1, 4, 0.5));
        assert_eq!((r.pacer.baseline_ms, r.pacer.latency_ms), (Some(2.0), Some(3.12)));
        assert_eq!((r.pacer.app_baseline_ms, r.pacer.app_latency_ms), (Some(6.0), Some(8.24)));
        stats.copy.done.store(true, Ordering::Relaxed);
        assert!(!line(&stats, "migrating", 0, 1000).contains("Pacer"), "not once the copy is done");
    }

    #[test]
    fn the_object_agrees_with_the_line() {
        let stats = Stats::new(Instant::now());
        stats.estimated_rows.store(5000, Ordering::Relaxed);
        stats.copy.rows.store(1000, Ordering::Relaxed);
        stats.apply.events.store(12, Ordering::Relaxed);
        let settings = Settings::default();
        settings.throttle_http.set(Some("http://user:pw@h:1/x".into()));
        let tick = Tick {
            database: "d",
            table: "t",
            phase: Phase::Migrating,
            throttled: Some("lag=2.000s"),
            state: "throttled, lag=2.000s",
            backlog: 3,
            backlog_capacity: 1000,
            coordinates: String::new(),
            checksum_enabled: true,
            revertible_until: None,
        };
        let (line, r) = report(&stats, &settings, tick);
        assert!(line.starts_with("Copy: 1000/5000 20.0%; Applied: 12; Backlog: 3/1000;"), "{line}");
        assert_eq!((r.rows_copied, r.rows_estimated, r.binlog_events_applied, r.backlog), (1000, 5000, 12, 3));
        assert_eq!(r.line, line);
        assert_eq!(r.throttle_reason.as_deref(), Some("lag=2.000s"));
        assert_eq!(r.settings.throttle_http.as_deref(), Some("http://h:1/x"), "no password in the status");
        assert_eq!(r.server.row_lock_waits, None, "not sampled yet");
    }

    #[test]
    fn throttle_reasons_have_a_fixed_set_of_kinds() {
        use crate::state::report::{throttle_kind, THROTTLE_KINDS};
        for (reason, kind) in [
            ("commanded by user", "user"),
            ("flag-file /tmp/x", "flag_file"),
            ("lag=1.234s", "lag"),
            ("h:3307 lag=9.000s", "control_replica"),
            ("cannot connect to control replica h:1", "control_replica"),
            ("max-load Threads_running=30>=25", "max_load"),
            ("throttle-query", "throttle_query"),
            ("throttle-http http://x answered 503", "throttle_http"),
            ("hibernating after critical-load", "hibernating"),
            ("no heartbeat seen yet on the inspected server", "no_heartbeat"),
            ("cannot read lag: boom", "check_failed"),
            ("starting", "starting"),
            ("something new", "other"),
        ] {
            assert_eq!(throttle_kind(reason), kind, "{reason}");
            assert!(THROTTLE_KINDS.contains(&kind));
        }
    }
}
