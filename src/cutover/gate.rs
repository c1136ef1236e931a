//! The cut-over gate: whether a cut-over attempt may start now. Pure: it takes the facts (time, the
//! postpone flag file, the throttler's verdict, the backlog) and says what to wait for, so its policy tests
//! without a server. The run asks it after every event once the copy is done.
//!
//! The policy is gh-ost's: wait out the backoff after a failed attempt; postpone while the flag file exists
//! (unless an operator said `unpostpone`); never cut over while throttled (the lock would last as long as the
//! replica is behind, and a throttle means "not now"); and wait until the binlog backlog is small, so the
//! locked part of the cut-over is short.

use std::time::{Duration, Instant};

use crate::config::CutOverSettings;

/// Why the gate is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wait {
    /// After a failed attempt, or a short pause between checks.
    Backoff,
    /// The postpone flag file exists.
    Postponed,
    /// A throttle holds.
    Throttled,
    /// The binlog backlog is still large.
    Backlog,
}

/// What the gate looks at, gathered by the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Facts {
    pub(crate) now: Instant,
    pub(crate) postpone_flag_exists: bool,
    pub(crate) throttled: bool,
    pub(crate) backlog: usize,
    pub(crate) backlog_capacity: usize,
}

/// Pause between checks while postponed or throttled.
const RECHECK: Duration = Duration::from_millis(100);

#[derive(Debug)]
pub(crate) struct Gate {
    next_check: Instant,
    /// An operator's `unpostpone`: the flag file no longer holds the cut-over.
    unpostponed: bool,
}

impl Gate {
    pub(crate) fn new(now: Instant) -> Self {
        Gate { next_check: now, unpostponed: false }
    }

    pub(crate) fn unpostpone(&mut self) {
        self.unpostponed = true;
    }

    /// None: an attempt may start now. Some(wait): not yet, and why.
    pub(crate) fn check(&mut self, f: Facts) -> Option<Wait> {
        if f.now < self.next_check {
            return Some(Wait::Backoff);
        }
        if f.postpone_flag_exists && !self.unpostponed {
            self.next_check = f.now + RECHECK;
            return Some(Wait::Postponed);
        }
        if f.throttled {
            self.next_check = f.now + RECHECK;
            return Some(Wait::Throttled);
        }
        if f.backlog > f.backlog_capacity / 10 {
            return Some(Wait::Backlog);
        }
        None
    }

    /// After a failed attempt number `attempt`: 1 s, or exponentially longer with
    /// --cut-over-exponential-backoff (up to its max interval).
    pub(crate) fn back_off(&mut self, now: Instant, attempt: u32, s: &CutOverSettings) {
        let wait = if s.exponential_backoff {
            Duration::from_secs(1u64 << attempt.min(20)).min(s.exponential_backoff_max_interval)
        } else {
            Duration::from_secs(1)
        };
        self.next_check = now + wait;
    }

    /// After a failed before-cut-over hook: gh-ost retries the whole cut-over a second later.
    pub(crate) fn retry_in_a_second(&mut self, now: Instant) {
        self.next_check = now + Duration::from_secs(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(now: Instant) -> Facts {
        Facts { now, postpone_flag_exists: false, throttled: false, backlog: 0, backlog_capacity: 1000 }
    }

    #[test]
    fn opens_only_when_nothing_holds_it() {
        let t0 = Instant::now();
        let mut g = Gate::new(t0);
        assert_eq!(g.check(facts(t0)), None);
        assert_eq!(g.check(Facts { backlog: 101, ..facts(t0) }), Some(Wait::Backlog));
        assert_eq!(g.check(Facts { backlog: 100, ..facts(t0) }), None);
        assert_eq!(g.check(Facts { throttled: true, ..facts(t0) }), Some(Wait::Throttled));
        assert_eq!(g.check(facts(t0)), Some(Wait::Backoff), "rechecked after a pause");
        let t1 = t0 + RECHECK;
        assert_eq!(g.check(Facts { postpone_flag_exists: true, throttled: true, ..facts(t1) }), Some(Wait::Postponed));
        g.unpostpone();
        let t2 = t1 + RECHECK;
        assert_eq!(g.check(Facts { postpone_flag_exists: true, ..facts(t2) }), None, "unpostponed for good");
    }

    #[test]
    fn backs_off_after_a_failed_attempt() {
        let t0 = Instant::now();
        let mut s = CutOverSettings::default();
        let mut g = Gate::new(t0);
        g.back_off(t0, 3, &s);
        assert_eq!(g.check(facts(t0 + Duration::from_millis(999))), Some(Wait::Backoff));
        assert_eq!(g.check(facts(t0 + Duration::from_secs(1))), None);
        s.exponential_backoff = true;
        s.exponential_backoff_max_interval = Duration::from_secs(5);
        g.back_off(t0, 2, &s);
        assert_eq!(g.check(facts(t0 + Duration::from_secs(3))), Some(Wait::Backoff), "2^2 s");
        assert_eq!(g.check(facts(t0 + Duration::from_secs(4))), None);
        g.back_off(t0, 10, &s);
        assert_eq!(g.check(facts(t0 + Duration::from_secs(5))), None, "capped at the max interval");
    }
}
