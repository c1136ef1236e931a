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
