//! The latency pacer (--max-latency-ratio): holds the primary's commit latency near what it was before the
//! copy began, by slowing the copy down when it rises and speeding it up again when it falls.
//!
//! Two probes, each against its own baseline measured before the copy: wraith's own heartbeat, one small
//! commit on the changelog every --heartbeat-interval-millis (`baseline`, then each heartbeat's latency),
//! and the application's own transactions, their mean duration per window read from performance_schema
//! (`app_latency`; where it can be read and the application ended transactions before the copy). A small
//! commit stays quick while an application of several statements a transaction queues behind the copy;
//! the application's transactions show it. Either above its limit backs the copy off. The
//! decision (`Aimd`) is additive increase, multiplicative decrease of a copy *level*, in workers: level 2.5
//! with 4 workers lets 3 copy, each pausing after a chunk so that together they copy as 2.5 would; below 1
//! one worker copies with pauses (and, with --chunk-time, shorter chunks).
//!
//! Invariants:
//! - the decision is a pure function of the samples (`Aimd`), unit-tested without a server; the task only
//!   feeds it and publishes its `Pace`;
//! - one decision per window of `WINDOW` samples, judged on the window's median (one slow commit is not a
//!   trend) and the application's mean over the same window, so a decrease shows in the latency before the
//!   next decision;
//! - a window in which the copy was throttled (or done, and no checksum pass ran) decides nothing: the
//!   latency then says nothing about the copy, and the level must not creep up while nothing copies;
//! - the checksum's passes follow the same level as the copy (they read both tables whole), but not below
//!   one connection's worth (`state::pace::Pace::pause_for`): a pass writes and replicates nothing;
//! - a window in which the binlog shows no application write (no transaction on a table but wraith's own)
//!   counts as within the limit: the latency then measures the copy's own commits, and there is no one to
//!   protect, so an idle primary is copied at full speed;
//! - the pace only slows the copy (`state::pace`); gh-ost's throttles (lag, load, flags, commands) hold the
//!   copy entirely, on top, through the throttler's verdict;
//! - the level stays within `--pacer-min-level..=workers` (the least level above 0): the copy always
//!   moves, so a migration always ends.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use crate::control::app_latency::AppProbe;
use crate::error::Result;
use crate::replication::changelog;
use crate::state::pace::Pace;
use crate::state::stats::Stats;
use crate::state::Verdict;

/// Heartbeats per decision: 0.5 s at the default 100 ms interval.
pub(crate) const WINDOW: usize = 5;
/// Probe commits for the baseline (back to back, before the copy starts; their median is the baseline).
pub(crate) const BASELINE_PROBES: usize = 15;
/// The least the latency may rise above the baseline before the pacer backs off, whatever the ratio: on an
/// idle server a commit takes a fraction of a millisecond, and twice that is noise, not queueing.
pub(crate) const SLACK: Duration = Duration::from_millis(1);
/// The least `--pacer-min-level` accepted: one worker copying 1% of the time. Lower would let a primary that
/// got busy for reasons of its own stretch the copy out without end; the throttles (lag, load, flags) are
/// there to stop it entirely.
pub(crate) const LEAST_LEVEL: f64 = 0.01;
/// The level the copy starts at: one worker, unpaused (--copy-workers is reached within 3 s of windows
/// within the limit).
pub(crate) const START_LEVEL: f64 = 1.0;
/// Added to the level after a window within the limit.
pub(crate) const INCREASE: f64 = 0.5;
/// The level is multiplied by this after a window above the limit.
pub(crate) const DECREASE: f64 = 0.5;
/// Below one worker the chunk-time target shrinks with the level, down to this share of it.
pub(crate) const MIN_CHUNK_SCALE: f64 = 0.25;

/// What one window decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Within the limit: the level went up (by `INCREASE`, at most to the workers).
    Increase,
    /// Above the limit: the level went down (times `DECREASE`, at least to the least level).
    Decrease,
    /// The copy was throttled or is done, or the level is already at its bound: nothing changed.
    Hold,
}

/// Additive increase / multiplicative decrease of the copy level on the probe's latency.
#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    baseline: Duration,
    ratio: f64,
    max_level: f64,
    min_level: f64,
    level: f64,
    window: Vec<Duration>,
    window_active: bool,
    /// The application wrote during the window (seen in the binlog).
    window_app: bool,
    last: Option<Duration>,
    /// The last complete window, judged while the copy ran, saw no application write.
    last_quiet: bool,
    /// The application's mean transaction latency before the copy (None: not measured).
    app_baseline: Option<Duration>,
    /// The application's mean over the window now ending (`observe_app`), and over the last complete one.
    window_app_latency: Option<Duration>,
    app_last: Option<Duration>,
}

impl Aimd {
    /// Starts at `START_LEVEL` (one worker) and climbs from there: a copy at full speed from its first chunk
    /// is what hurts an application most, before the first window can tell.
    /// `min_level`: the least level (`--pacer-min-level`), above 0.
    pub(crate) fn new(baseline: Duration, ratio: f64, workers: usize, min_level: f64) -> Self {
        let max_level = workers.max(1) as f64;
        Aimd {
            baseline,
            ratio,
            max_level,
            min_level: min_level.clamp(LEAST_LEVEL, 1.0),
            level: START_LEVEL.min(max_level),
            window: Vec::with_capacity(WINDOW),
            window_active: true,
            window_app: false,
            last: None,
            last_quiet: false,
            app_baseline: None,
            window_app_latency: None,
            app_last: None,
        }
    }

    /// Judges the application's own latency as well, against `baseline` (its mean before the copy).
    pub(crate) fn with_app_baseline(mut self, baseline: Option<Duration>) -> Self {
        self.app_baseline = baseline;
        self
    }

    /// The application's limit: its baseline times the ratio, and at least `SLACK` above it.
    pub(crate) fn app_limit(&self) -> Option<Duration> {
        self.app_baseline.map(|b| self.limit_of(b))
    }

    pub(crate) fn app_baseline(&self) -> Option<Duration> {
        self.app_baseline
    }

    /// The application's mean latency over the last complete window (None: it ended no transaction).
    pub(crate) fn app_latency(&self) -> Option<Duration> {
        self.app_last
    }

    /// The next sample completes a window: the moment to read the application's latency (`observe_app`).
    pub(crate) fn ends_window(&self) -> bool {
        self.window.len() + 1 >= WINDOW
    }

    /// The application's mean transaction latency over the window that the next sample completes.
    pub(crate) fn observe_app(&mut self, mean: Option<Duration>) {
        self.window_app_latency = mean;
    }

    /// The latency above which the copy backs off: the baseline times the ratio, and at least `SLACK` above it.
    pub(crate) fn limit(&self) -> Duration {
        self.limit_of(self.baseline)
    }

    /// A baseline's limit: times the ratio, and at least `SLACK` above it.
    fn limit_of(&self, baseline: Duration) -> Duration {
        baseline.mul_f64(self.ratio).max(baseline + SLACK)
    }

    pub(crate) fn baseline(&self) -> Duration {
        self.baseline
    }

    pub(crate) fn level(&self) -> f64 {
        self.level
    }

    /// The last complete window was judged without an application write (so within the limit).
    pub(crate) fn last_window_quiet(&self) -> bool {
        self.last_quiet
    }

    /// The median latency of the last complete window.
    pub(crate) fn latency(&self) -> Option<Duration> {
        self.last
    }

    /// Takes one probe's latency; `active`: the copy was running (not throttled, not done) when it was
    /// taken; `app`: the application wrote since the previous probe. Returns the window's decision when
    /// this sample completes a window.
    pub(crate) fn observe(&mut self, latency: Duration, active: bool, app: bool) -> Option<Decision> {
        self.window.push(latency);
        self.window_active &= active;
        self.window_app |= app;
        if self.window.len() < WINDOW {
            return None;
        }
        let median = median(&mut self.window).unwrap_or_default();
        self.last = Some(median);
        let active = std::mem::replace(&mut self.window_active, true);
        let app = std::mem::take(&mut self.window_app);
        let app_latency = self.window_app_latency.take();
        self.app_last = app_latency;
        self.last_quiet = active && !app && app_latency.is_none();
        self.window.clear();
        // Without application writes the heartbeat measures the copy's own commits only: nothing to protect.
        let heartbeat_slow = app && median > self.limit();
        let app_slow = matches!((app_latency, self.app_limit()), (Some(l), Some(limit)) if l > limit);
        let decision = if !active {
            Decision::Hold
        } else if heartbeat_slow || app_slow {
            if self.level > self.min_level {
                self.level = (self.level * DECREASE).max(self.min_level);
                Decision::Decrease
            } else {
                Decision::Hold
            }
        } else if self.level < self.max_level {
            self.level = (self.level + INCREASE).min(self.max_level);
            Decision::Increase
        } else {
            Decision::Hold
        };
        Some(decision)
    }

    /// The pace of the current level.
    pub(crate) fn pace(&self) -> Pace {
        pace_of(self.level)
    }
}

/// Level -> pace: `ceil(level)` workers, each pausing so that together they copy `level` workers' worth.
pub(crate) fn pace_of(level: f64) -> Pace {
    let level = level.max(LEAST_LEVEL);
    let workers = level.ceil().max(1.0);
    Pace {
        workers: workers as usize,
        pause_ratio: (workers / level - 1.0).max(0.0),
        chunk_scale: level.clamp(MIN_CHUNK_SCALE, 1.0),
    }
}

/// The baseline: the median latency of `BASELINE_PROBES` heartbeat writes, back to back, before the copy.
pub(crate) async fn baseline(conn: &mut Conn, db: &str, changelog_table: &str) -> Result<Duration> {
    let mut samples = Vec::with_capacity(BASELINE_PROBES);
    for _ in 0..BASELINE_PROBES {
        let began = Instant::now();
        changelog::write(conn, db, changelog_table, changelog::HEARTBEAT, &changelog::now_micros().to_string()).await?;
        samples.push(began.elapsed());
    }
    Ok(median(&mut samples).unwrap_or_default())
}

/// The median (the upper one of an even count), None when there is no sample.
fn median(samples: &mut [Duration]) -> Option<Duration> {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied()
}

/// How long the application's transactions are watched before the copy for their baseline (after the
/// heartbeat's): long enough for a busy application to end some, short beside a copy.
pub(crate) const APP_BASELINE: Duration = Duration::from_secs(1);
/// The short windows `APP_BASELINE` is cut into; the baseline is the median of their means.
pub(crate) const APP_BASELINE_WINDOWS: usize = 10;

/// The application probe, its connection and its baseline.
pub(crate) struct AppSide {
    probe: AppProbe,
    conn: Conn,
    baseline: Duration,
}

/// What the pacer judges against: the heartbeat's baseline, and the application's where it can be read.
pub(crate) struct Baselines {
    pub(crate) heartbeat: Duration,
    pub(crate) app: Option<AppSide>,
}

impl Baselines {
    pub(crate) fn app_baseline(&self) -> Option<Duration> {
        self.app.as_ref().map(|a| a.baseline)
    }
}

/// Both baselines, before the copy: the heartbeat's on `prim`, the application's on `probe_conn` over
/// `APP_BASELINE` (None, and said why, when performance_schema cannot tell or the application ended no
/// transaction meanwhile: the heartbeat then paces alone).
pub(crate) async fn baselines(
    prim: &mut Conn,
    mut probe_conn: Conn,
    db: &str,
    changelog_table: &str,
) -> Result<Baselines> {
    let probe = match AppProbe::start(&mut probe_conn).await? {
        Ok(p) => Some(p),
        Err(why) => {
            info!("pacer: the application's latency is not read ({why}); the heartbeat's alone paces the copy");
            None
        }
    };
    let heartbeat = baseline(prim, db, changelog_table).await?;
    let app = match probe {
        None => None,
        Some(mut probe) => {
            // The median of short windows' means: a stall of wraith's own set-up (its DDL, the binlog
            // stream's start) in one of them does not raise the baseline the copy is held to.
            let mut means = Vec::with_capacity(APP_BASELINE_WINDOWS);
            for _ in 0..APP_BASELINE_WINDOWS {
                tokio::time::sleep(APP_BASELINE / APP_BASELINE_WINDOWS as u32).await;
                means.extend(probe.mean(&mut probe_conn).await?);
            }
            match median(&mut means) {
                Some(baseline) => Some(AppSide { probe, conn: probe_conn, baseline }),
                None => {
                    info!(
                        "pacer: the application ended no transaction in the {}s before the copy; the heartbeat's \
                         latency alone paces it",
                        APP_BASELINE.as_secs()
                    );
                    None
                }
            }
        }
    };
    Ok(Baselines { heartbeat, app })
}

/// What the pacer task is handed.
pub(crate) struct PacerTask {
    pub(crate) aimd: Aimd,
    /// The application probe (None: the heartbeat paces alone).
    pub(crate) app: Option<AppSide>,
    /// Each heartbeat's commit latency (sent by the heartbeat task).
    pub(crate) samples: mpsc::Receiver<Duration>,
    pub(crate) pace: watch::Sender<Pace>,
    pub(crate) throttled: Verdict,
    pub(crate) stats: Arc<Stats>,
}

/// Feeds heartbeat latencies to the AIMD and publishes the pace for the copy and then the checksum (windows
/// between them decide nothing), until the heartbeat task ends. It only reads and publishes: dropped at
/// the run's stop.
pub(crate) async fn run(t: PacerTask) -> Result<()> {
    let PacerTask { mut aimd, app: mut app_side, mut samples, pace, throttled, stats } = t;
    // Heartbeats taken before the copy began say nothing about it.
    while samples.try_recv().is_ok() {}
    let p = &stats.pacer;
    p.baseline_micros.store(aimd.baseline().as_micros() as u64, Ordering::Relaxed);
    p.limit_micros.store(aimd.limit().as_micros() as u64, Ordering::Relaxed);
    p.publish(aimd.level(), &aimd.pace());
    if let (Some(base), Some(limit)) = (aimd.app_baseline(), aimd.app_limit()) {
        p.app_baseline_micros.store(base.as_micros() as u64, Ordering::Relaxed);
        p.app_limit_micros.store(limit.as_micros() as u64, Ordering::Relaxed);
        p.app_enabled.store(true, Ordering::Relaxed);
        info!(
            "pacer: the application's transactions took {:.2}ms on average before the copy, backing off above {:.2}ms",
            ms(base),
            ms(limit)
        );
    }
    p.enabled.store(true, Ordering::Relaxed);
    info!("pacer: baseline commit latency {:.2}ms, backing off above {:.2}ms", ms(aimd.baseline()), ms(aimd.limit()));
    let app_writes = || stats.stream.app_transactions.load(Ordering::Relaxed);
    let mut last_app = app_writes();
    while let Some(latency) = samples.recv().await {
        let active = stats.paced_work_running() && throttled.borrow().is_none();
        let now = app_writes();
        let app = now != last_app;
        last_app = now;
        if aimd.ends_window() {
            if let Some(side) = app_side.as_mut() {
                match side.probe.mean(&mut side.conn).await {
                    Ok(mean) => aimd.observe_app(mean),
                    Err(e) => {
                        // A pacing aid, not the migration's: the heartbeat goes on pacing alone.
                        info!("pacer: stopped reading the application's latency: {e}");
                        p.app_enabled.store(false, Ordering::Relaxed);
                        app_side = None;
                    }
                }
            }
        }
        let Some(decision) = aimd.observe(latency, active, app) else { continue };
        if aimd.last_window_quiet() {
            p.quiet_windows.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(l) = aimd.latency() {
            p.latency_micros.store(l.as_micros() as u64, Ordering::Relaxed);
        }
        p.app_latency_micros.store(aimd.app_latency().map_or(0, |l| l.as_micros().max(1) as u64), Ordering::Relaxed);
        p.windows.fetch_add(1, Ordering::Relaxed);
        match decision {
            Decision::Increase => p.increases.fetch_add(1, Ordering::Relaxed),
            Decision::Decrease => p.decreases.fetch_add(1, Ordering::Relaxed),
            Decision::Hold => 0,
        };
        if decision != Decision::Hold {
            let next = aimd.pace();
            debug!(
                "pacer: latency {:.2}ms (limit {:.2}ms): {decision:?} to level {:.2} ({} workers, pause {:.2}x)",
                aimd.latency().map_or(0.0, ms),
                ms(aimd.limit()),
                aimd.level(),
                next.workers,
                next.pause_ratio
            );
            p.publish(aimd.level(), &next);
            pace.send_replace(next);
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn window(a: &mut Aimd, latency: Duration, active: bool) -> Decision {
        for _ in 1..WINDOW {
            assert_eq!(a.observe(latency, active, true), None, "a decision before the window is full");
        }
        a.observe(latency, active, true).expect("a decision at the end of a window")
    }

    #[test]
    fn the_limit_is_the_ratio_with_a_floor_of_slack() {
        assert_eq!(Aimd::new(MS * 4, 2.0, 4, 0.25).limit(), MS * 8);
        assert_eq!(Aimd::new(Duration::from_micros(200), 2.0, 4, 0.25).limit(), Duration::from_micros(1200));
        assert_eq!(Aimd::new(MS * 10, 1.5, 4, 0.25).limit(), MS * 15);
    }

    #[test]
    fn without_application_writes_a_slow_commit_is_the_copy_s_own() {
        let mut a = Aimd::new(MS * 2, 2.0, 4, 0.25);
        a.level = 1.0;
        // 20 ms commits, but nothing but wraith wrote in the window: no back-off, the copy speeds up.
        for _ in 1..WINDOW {
            assert_eq!(a.observe(MS * 20, true, false), None);
        }
        assert_eq!(a.observe(MS * 20, true, false), Some(Decision::Increase));
        assert_eq!(a.level(), 1.5);
        assert!(a.last_window_quiet());
        // One application write in the next window: the same latency backs off.
        a.observe(MS * 20, true, true);
        for _ in 2..WINDOW {
            a.observe(MS * 20, true, false);
        }
        assert_eq!(a.observe(MS * 20, true, false), Some(Decision::Decrease));
        assert_eq!(a.level(), 0.75);
        assert!(!a.last_window_quiet());
    }

    /// Feeds one window whose heartbeats are quick, the application's mean `app` read at its end.
    fn window_with_app(a: &mut Aimd, app: Option<Duration>) -> Decision {
        for _ in 1..WINDOW {
            assert!(!a.ends_window());
            assert_eq!(a.observe(MS, true, true), None);
        }
        assert!(a.ends_window());
        a.observe_app(app);
        a.observe(MS, true, true).expect("a decision at the end of a window")
    }

    #[test]
    fn the_application_s_latency_backs_off_while_the_heartbeat_stays_quick() {
        let mut a = Aimd::new(MS, 2.0, 4, 0.25).with_app_baseline(Some(MS * 6));
        a.level = 4.0;
        assert_eq!(a.app_limit(), Some(MS * 12));
        assert_eq!(window_with_app(&mut a, Some(MS * 30)), Decision::Decrease);
        assert_eq!((a.level(), a.app_latency()), (2.0, Some(MS * 30)));
        assert_eq!(window_with_app(&mut a, Some(MS * 11)), Decision::Increase, "within its limit");
        // No application transaction ended in the window: the heartbeat alone judges it.
        assert_eq!(window_with_app(&mut a, None), Decision::Increase);
        assert_eq!(a.app_latency(), None);
        // Without an application baseline its latency is not judged.
        let mut b = Aimd::new(MS, 2.0, 4, 0.25);
        b.level = 2.0;
        assert_eq!(window_with_app(&mut b, Some(MS * 100)), Decision::Increase);
    }

    #[test]
    fn a_read_only_application_keeps_a_window_from_counting_as_quiet() {
        let mut a = Aimd::new(MS, 2.0, 4, 0.25).with_app_baseline(Some(MS * 6));
        a.level = 4.0;
        for _ in 1..WINDOW {
            a.observe(MS * 20, true, false);
        }
        a.observe_app(Some(MS * 5));
        assert_eq!(a.observe(MS * 20, true, false), Some(Decision::Hold), "at full speed already");
        assert!(!a.last_window_quiet(), "the application's reads are someone to protect");
    }

    #[test]
    fn above_the_limit_halves_within_the_limit_adds() {
        let mut a = Aimd::new(MS * 2, 2.0, 4, 0.25);
        assert_eq!(a.level(), 1.0, "starts at one worker");
        assert_eq!(Aimd::new(MS * 2, 2.0, 4, 0.25).pace(), pace_of(1.0));
        a.level = 4.0;
        assert_eq!(window(&mut a, MS * 10, true), Decision::Decrease);
        assert_eq!(a.level(), 2.0);
        assert_eq!(window(&mut a, MS * 10, true), Decision::Decrease);
        assert_eq!(a.level(), 1.0);
        assert_eq!(window(&mut a, MS * 3, true), Decision::Increase);
        assert_eq!(a.level(), 1.5);
        for _ in 0..10 {
            window(&mut a, MS * 3, true);
        }
        assert_eq!(a.level(), 4.0, "never above the workers");
        assert_eq!(window(&mut a, MS * 3, true), Decision::Hold);
    }

    #[test]
    fn the_level_never_falls_below_the_minimum() {
        let mut a = Aimd::new(MS, 2.0, 2, 0.25);
        for _ in 0..20 {
            window(&mut a, MS * 100, true);
        }
        assert_eq!(a.level(), 0.25);
        assert_eq!(window(&mut a, MS * 100, true), Decision::Hold);
        let p = a.pace();
        assert_eq!((p.workers, p.pause_ratio, p.chunk_scale), (1, 3.0, MIN_CHUNK_SCALE));
        // A lower --pacer-min-level: one worker pausing 19 times its chunk time at the least.
        let mut a = Aimd::new(MS, 2.0, 2, 0.05);
        for _ in 0..20 {
            window(&mut a, MS * 100, true);
        }
        assert_eq!(a.level(), 0.05);
        assert_eq!(a.pace().pause_ratio.round(), 19.0);
        assert_eq!(Aimd::new(MS, 2.0, 2, 0.0).min_level, LEAST_LEVEL, "never 0: the copy always moves");
    }

    #[test]
    fn a_throttled_window_decides_nothing() {
        let mut a = Aimd::new(MS * 2, 2.0, 4, 0.25);
        a.level = 4.0;
        window(&mut a, MS * 10, true);
        assert_eq!(a.level(), 2.0);
        // One throttled sample is enough to make the window say nothing, fast or slow.
        for (latency, _) in [(MS, 0), (MS * 10, 1)] {
            for i in 0..WINDOW - 1 {
                assert_eq!(a.observe(latency, i != 1, true), None);
            }
            assert_eq!(a.observe(latency, true, true), Some(Decision::Hold));
            assert_eq!(a.level(), 2.0);
        }
        // And the next window is judged on its own.
        assert_eq!(window(&mut a, MS, true), Decision::Increase);
    }

    #[test]
    fn the_median_is_the_middle_sample_and_none_without_samples() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [9 * MS, MS, 5 * MS]), Some(5 * MS));
        // An even count takes the upper middle: a baseline rounds up, never down to a fast outlier.
        assert_eq!(median(&mut [4 * MS, MS, 2 * MS, 3 * MS]), Some(3 * MS));
    }

    #[test]
    fn the_median_judges_so_one_spike_does_not_back_off() {
        let mut a = Aimd::new(MS * 2, 2.0, 4, 0.25);
        a.level = 4.0;
        for _ in 0..3 {
            a.observe(MS * 2, true, true);
        }
        a.observe(MS * 500, true, true);
        assert_eq!(a.observe(MS * 2, true, true), Some(Decision::Hold), "at full speed already");
        assert_eq!(a.level(), 4.0);
        assert_eq!(a.latency(), Some(MS * 2));
    }

    #[test]
    fn pace_of_a_level() {
        assert_eq!(pace_of(4.0), Pace { workers: 4, pause_ratio: 0.0, chunk_scale: 1.0 });
        let p = pace_of(2.5);
        assert_eq!((p.workers, p.chunk_scale), (3, 1.0));
        assert!((p.pause_ratio - 0.2).abs() < 1e-9, "{p:?}");
        assert_eq!(pace_of(0.5), Pace { workers: 1, pause_ratio: 1.0, chunk_scale: 0.5 });
        assert_eq!(pace_of(0.0), pace_of(LEAST_LEVEL), "clamped");
        // Together the workers copy `level` workers' worth: workers / (1 + pause) == level.
        for level in [0.25, 0.7, 1.0, 1.3, 3.9] {
            let p = pace_of(level);
            assert!((p.workers as f64 / (1.0 + p.pause_ratio) - level).abs() < 1e-9, "{level}: {p:?}");
        }
    }
}
