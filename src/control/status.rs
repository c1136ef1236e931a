//! The gh-ost-style status line, built from the run's counters and phase.
//!
//! Invariant: the line's shape is gh-ost's (runbooks and the `sup` command cut it at "; "), and the state
//! reads `throttled, <reason>` while a throttle holds the copy, as gh-ost prints it.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::phase::Phase;
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
    let copied = stats.rows_copied();
    let total = stats.estimated().max(copied);
    let done = stats.copy.done.load(Ordering::Relaxed);
    let eta = match stats.eta() {
        Some(d) => humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
        None if done => "due".to_string(),
        None => "N/A".to_string(),
    };
    format!(
        "Copy: {copied}/{total} {:.1}%; Applied: {}; Backlog: {backlog}/{backlog_capacity}; Time: {}s(total), {}s(copy); Lag: {:.2}s, State: {state}; ETA: {eta}",
        stats.progress_pct(),
        stats.apply.events.load(Ordering::Relaxed),
        stats.started.elapsed().as_secs(),
        stats.copy_elapsed().as_secs(),
        stats.lag().as_secs_f64(),
    )
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
}
