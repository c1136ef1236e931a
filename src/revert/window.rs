//! The instant revert window (--revert-window): after a migration's cut-over the run keeps applying every
//! change of the table to the old table, so a revert is only a swap. This is the window's policy, pure:
//! whether to keep syncing, swap back now, or end. The run asks it after every event.
//!
//! Invariants: a revert is requested only by the operator (`revert` command, or the flag file appearing
//! while the window is open); the window ends at its deadline or on `no-revert`, whichever comes first, and
//! once ended nothing reopens it.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug)]
pub(crate) struct Window {
    until: Instant,
    /// The deadline in wall-clock time, for the status line.
    pub(crate) until_wall: SystemTime,
    pub(crate) flag_file: Option<PathBuf>,
    requested: bool,
    ended: bool,
}

/// What the window says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep the old table in step.
    Open,
    /// Swap the old table back in.
    Revert,
    /// Stop syncing; the new schema stays.
    Closed,
}

impl Window {
    pub(crate) fn new(now: Instant, length: Duration, flag_file: Option<PathBuf>) -> Self {
        Window {
            until: now + length,
            until_wall: SystemTime::now() + length,
            flag_file,
            requested: false,
            ended: false,
        }
    }

    pub(crate) fn request_revert(&mut self) {
        if !self.ended {
            self.requested = true;
        }
    }

    pub(crate) fn end(&mut self) {
        if !self.requested {
            self.ended = true;
        }
    }

    pub(crate) fn requested(&self) -> bool {
        self.requested
    }

    /// `flag_exists`: whether --revert-flag-file exists now.
    pub(crate) fn check(&mut self, now: Instant, flag_exists: bool) -> Verdict {
        if !self.requested && !self.ended && flag_exists {
            self.requested = true;
        }
        if self.requested {
            return Verdict::Revert;
        }
        if self.ended || now >= self.until {
            self.ended = true;
            return Verdict::Closed;
        }
        Verdict::Open
    }

    /// `revertible until 2026-12-01T18:00:00Z`: the status line's state.
    pub(crate) fn state(&self) -> String {
        format!("revertible until {}", humantime::format_rfc3339_seconds(self.until_wall))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_reverts_on_request_and_closes_at_its_end() {
        let t0 = Instant::now();
        let mut w = Window::new(t0, Duration::from_secs(60), None);
        assert_eq!(w.check(t0, false), Verdict::Open);
        assert!(w.state().starts_with("revertible until "), "{}", w.state());
        assert_eq!(w.check(t0 + Duration::from_secs(61), false), Verdict::Closed);
        w.request_revert();
        assert_eq!(w.check(t0, true), Verdict::Closed, "an ended window never reopens");

        let mut w = Window::new(t0, Duration::from_secs(60), None);
        assert_eq!(w.check(t0 + Duration::from_secs(1), true), Verdict::Revert, "the flag file reverts");
        w.end();
        assert_eq!(w.check(t0 + Duration::from_secs(90), false), Verdict::Revert, "a requested revert goes on");

        let mut w = Window::new(t0, Duration::from_secs(60), None);
        w.end();
        assert_eq!(w.check(t0, true), Verdict::Closed, "no-revert wins over a later flag file");
        let mut w = Window::new(t0, Duration::from_secs(60), None);
        w.request_revert();
        assert!(w.requested());
        assert_eq!(w.check(t0, false), Verdict::Revert);
    }
}
