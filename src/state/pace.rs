//! The pace the latency pacer sets for the copy (a `watch` the pacer writes, the copy workers read before
//! every chunk).
//!
//! Invariants: a pace only ever slows the copy down from what the flags allow: at most --copy-workers
//! workers, a pause that adds to --nice-ratio's, a chunk-time target scaled by at most 1. `Pace::default()`
//! is the unpaced copy (every worker, no pause, full chunk time), which is what a run without the pacer
//! (`--max-latency-ratio=0`) keeps.

/// How fast the copy may go now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pace {
    /// Workers allowed to copy (the others wait before their next claim); `usize::MAX`: all.
    pub(crate) workers: usize,
    /// After each chunk, a worker sleeps this many times the chunk's copy time (on top of --nice-ratio).
    pub(crate) pause_ratio: f64,
    /// The --chunk-time target is multiplied by this (0 < scale <= 1): smaller chunks commit in shorter
    /// bursts.
    pub(crate) chunk_scale: f64,
}

impl Default for Pace {
    fn default() -> Self {
        Pace { workers: usize::MAX, pause_ratio: 0.0, chunk_scale: 1.0 }
    }
}

/// The pace as the copy watches it.
pub(crate) type PaceWatch = tokio::sync::watch::Receiver<Pace>;

/// A pace no pacer writes: the unpaced default, for a run without the pacer.
pub(crate) fn unpaced() -> PaceWatch {
    tokio::sync::watch::channel(Pace::default()).1
}

impl Pace {
    /// The pause (in times the work's own time) after each piece of work that lets `workers` workers, all
    /// working, together go as this pace's level would (`workers` / (1 + `pause_ratio`) of them unpaused),
    /// or as `least_level` would when the level is below it.
    pub(crate) fn pause_for(&self, workers: usize, least_level: f64) -> f64 {
        let level = (self.workers as f64 / (1.0 + self.pause_ratio.max(0.0))).max(least_level);
        (workers.max(1) as f64 / level - 1.0).max(0.0)
    }
}

/// The pause after a piece of work that took `took`, for one of `workers` workers all working at `pace`
/// and at least at `least_level` (cut short by `stop`).
pub(crate) async fn pause(
    pace: &PaceWatch,
    workers: usize,
    least_level: f64,
    took: std::time::Duration,
    stop: &mut crate::state::tasks::Stop,
) {
    let ratio = pace.borrow().pause_for(workers, least_level);
    if ratio.is_finite() && ratio > 0.0 {
        tokio::select! {
            _ = tokio::time::sleep(took.mul_f64(ratio)) => {}
            _ = stop.stopped() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_workers_pause_to_go_as_the_level_would() {
        assert_eq!(Pace::default().pause_for(4, 0.0), 0.0, "unpaced");
        // Level 2 (two workers, no pause): four workers each pause once their work's time.
        assert_eq!(Pace { workers: 2, pause_ratio: 0.0, chunk_scale: 1.0 }.pause_for(4, 0.0), 1.0);
        // Level 0.25 (one worker pausing 3x): four workers pause 15x, or 3x held to a least level of 1.
        let floor = Pace { workers: 1, pause_ratio: 3.0, chunk_scale: 0.25 };
        assert_eq!(floor.pause_for(4, 0.0), 15.0);
        assert_eq!(floor.pause_for(4, 1.0), 3.0);
        // A level above the workers there are: no pause.
        assert_eq!(Pace { workers: 4, pause_ratio: 0.0, chunk_scale: 1.0 }.pause_for(2, 1.0), 0.0);
    }
}
