//! The copy frontier: which keys the parallel copier has copied, is copying, or has not reached yet. The
//! applier asks it, for every binlog change, whether to write the change now, drop it, or wait.
//!
//! Why this is correct with non-locking chunk reads: a change the applier has received was committed
//! before it was received. A chunk claimed after that moment reads a snapshot taken after it, so the
//! copied row already holds the change:
//! - a key above every claimed chunk (and within the copy range) is **dropped**: its chunk will copy it;
//! - a key inside a claimed chunk that is not yet committed **waits** for that chunk, so the change
//!   lands after the (possibly older) copied row and wins;
//! - a key in a committed chunk, or above the copy range (which only the binlog fills), is **applied**;
//! - a key in a chunk **released** for a retry (its statement failed on a duplicate that may be a race with
//!   the applier) is **dropped**: the chunk is claimed again before its next read, under the same lock as
//!   the verdicts, so that read is taken after every change dropped meanwhile was committed.
//!
//! The ghost table therefore never holds a row of an unclaimed chunk, which lets the copier use a plain
//! `INSERT ... SELECT`: a duplicate on the migration key cannot happen. (One on another unique key of the
//! ghost can still be a race with the applier's delay; `copy::chunk` tells it from a real one.)

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// What the applier does with a change to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Apply,
    Drop,
    /// Wait for the chunk with this start key to commit.
    Wait(i128),
}

#[derive(Debug)]
struct State {
    /// The copy range's last key, fixed at start.
    max: i128,
    /// Every key <= claimed belongs to a claimed chunk.
    claimed: i128,
    /// Claimed chunks not yet committed: start -> end (inclusive).
    in_flight: BTreeMap<i128, i128>,
    /// Claimed chunks whose statement failed and that are not being read now: start -> end.
    released: BTreeMap<i128, i128>,
    /// Every key <= committed is in a committed chunk.
    committed: i128,
    /// Ends of committed chunks above `committed` (chunks commit out of order).
    committed_ends: BTreeMap<i128, i128>,
    /// The copy failed: nobody waits for chunks any more (the migration is aborting).
    failed: bool,
}

#[derive(Debug)]
pub(crate) struct Frontier {
    state: Mutex<State>,
    /// Bumped whenever a chunk commits.
    commits: watch::Sender<u64>,
}

impl Frontier {
    /// A frontier for copying keys `after + 1 ..= max` (`after` is min - 1, or a resume point).
    pub(crate) fn new(after: i128, max: i128) -> Self {
        Frontier {
            state: Mutex::new(State {
                max,
                claimed: after,
                in_flight: BTreeMap::new(),
                released: BTreeMap::new(),
                committed: after,
                committed_ends: BTreeMap::new(),
                failed: false,
            }),
            commits: watch::channel(0).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn verdict(&self, key: i128) -> Verdict {
        let s = self.lock();
        if key > s.max || key <= s.committed {
            return Verdict::Apply;
        }
        if key > s.claimed {
            return Verdict::Drop;
        }
        if let Some((_, &end)) = s.released.range(..=key).next_back() {
            if key <= end {
                return Verdict::Drop;
            }
        }
        match s.in_flight.range(..=key).next_back() {
            Some((&start, &end)) if key <= end => Verdict::Wait(start),
            _ => Verdict::Apply,
        }
    }

    /// The copy range's last key.
    pub(crate) fn max(&self) -> i128 {
        self.lock().max
    }

    /// The next unclaimed key, or None when the whole range is claimed.
    pub(crate) fn next_start(&self) -> Option<i128> {
        let s = self.lock();
        (s.claimed < s.max).then_some(s.claimed + 1)
    }

    /// Claims `start..=end`; `start` must be `next_start()`. Call before the chunk's snapshot is taken.
    pub(crate) fn claim(&self, start: i128, end: i128) {
        let mut s = self.lock();
        debug_assert_eq!(start, s.claimed + 1);
        let end = end.min(s.max);
        s.in_flight.insert(start, end);
        s.claimed = end;
    }

    /// The chunk's statement failed and will be retried later: changes to its keys are dropped meanwhile,
    /// and whoever waits for it is woken (the applier must not wait for a chunk that waits for it).
    pub(crate) fn release(&self, start: i128) {
        let mut s = self.lock();
        if let Some(end) = s.in_flight.remove(&start) {
            s.released.insert(start, end);
        }
        drop(s);
        self.commits.send_modify(|n| *n += 1);
    }

    /// Claims a released chunk again; call before its next read.
    pub(crate) fn reclaim(&self, start: i128) {
        let mut s = self.lock();
        if let Some(end) = s.released.remove(&start) {
            s.in_flight.insert(start, end);
        }
    }

    /// Marks a claimed chunk committed; returns the new contiguous committed key (the resume point).
    pub(crate) fn commit(&self, start: i128) -> i128 {
        let mut s = self.lock();
        if let Some(end) = s.in_flight.remove(&start) {
            s.committed_ends.insert(start, end);
        }
        loop {
            let next = s.committed + 1;
            match s.committed_ends.remove(&next) {
                Some(end) => s.committed = end,
                None => break,
            }
        }
        let committed = s.committed;
        drop(s);
        self.commits.send_modify(|n| *n += 1);
        committed
    }

    /// The copy stopped with an error: releases every waiter, so the applier cannot wait forever for a
    /// chunk no one will commit.
    pub(crate) fn fail(&self) {
        self.lock().failed = true;
        self.commits.send_modify(|n| *n += 1);
    }

    pub(crate) fn failed(&self) -> bool {
        self.lock().failed
    }

    /// Waits until the chunk that started at `start` has committed or was released (or the copy failed).
    pub(crate) async fn wait(&self, start: i128) {
        let mut rx = self.commits.subscribe();
        loop {
            {
                let s = self.lock();
                if s.failed || !s.in_flight.contains_key(&start) {
                    return;
                }
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_chunks() {
        let f = Frontier::new(0, 100);
        assert_eq!(f.verdict(5), Verdict::Drop, "not claimed yet: the copy will read it");
        assert_eq!(f.verdict(101), Verdict::Apply, "above the range: only the binlog writes it");
        assert_eq!(f.verdict(0), Verdict::Apply, "below the range");
        assert_eq!(f.next_start(), Some(1));
        f.claim(1, 10);
        f.claim(11, 20);
        assert_eq!(f.verdict(5), Verdict::Wait(1));
        assert_eq!(f.verdict(20), Verdict::Wait(11));
        assert_eq!(f.verdict(21), Verdict::Drop);
        assert_eq!(f.commit(11), 0, "chunk 1 still in flight");
        assert_eq!(f.verdict(15), Verdict::Apply);
        assert_eq!(f.verdict(5), Verdict::Wait(1));
        assert_eq!(f.commit(1), 20);
        assert_eq!(f.verdict(5), Verdict::Apply);
        f.claim(21, 1000);
        assert_eq!(f.next_start(), None, "the claim is capped at the range max");
        assert_eq!(f.commit(21), 100);
        assert_eq!(f.verdict(50), Verdict::Apply);
    }

    #[test]
    fn a_released_chunk_drops_changes_until_it_is_claimed_again() {
        let f = Frontier::new(0, 100);
        f.claim(1, 10);
        f.claim(11, 20);
        f.release(11);
        assert_eq!(f.verdict(15), Verdict::Drop, "its next read holds the change");
        assert_eq!(f.verdict(5), Verdict::Wait(1), "other chunks keep their verdicts");
        assert_eq!(f.verdict(25), Verdict::Drop);
        f.reclaim(11);
        assert_eq!(f.verdict(15), Verdict::Wait(11));
        assert_eq!(f.commit(1), 10);
        assert_eq!(f.commit(11), 20);
        assert_eq!(f.verdict(15), Verdict::Apply);
    }

    #[tokio::test]
    async fn releasing_wakes_the_waiters() {
        let f = std::sync::Arc::new(Frontier::new(0, 10));
        f.claim(1, 5);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(1).await });
        tokio::task::yield_now().await;
        f.release(1);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn wait_returns_once_committed() {
        let f = std::sync::Arc::new(Frontier::new(0, 10));
        f.claim(1, 10);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(1).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        f.commit(1);
        waiter.await.unwrap();
        f.wait(1).await; // already committed: returns at once
    }

    #[tokio::test]
    async fn a_failed_copy_releases_waiters() {
        let f = std::sync::Arc::new(Frontier::new(0, 10));
        f.claim(1, 5);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(1).await });
        tokio::task::yield_now().await;
        f.fail();
        waiter.await.unwrap();
    }
}
