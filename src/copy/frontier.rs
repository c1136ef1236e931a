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
//!
//! Keys are compared as `order::SortKey`s, whose order is the server's order of the migration key (integers,
//! strings in their collation, composites of these): a chunk holds the keys above the previous chunk's last
//! key up to its own, exactly as the copy's WHERE clause selects them.

use std::collections::BTreeMap;
use std::sync::Mutex;

use mysql_async::binlog::value::BinlogValue;
use mysql_async::{Conn, Value};
use tokio::sync::watch;

use super::order::{KeyOrder, SortKey};
use crate::error::Result;

/// A claimed chunk, named in the applier's waits.
pub(crate) type ChunkId = u64;

/// What the applier does with a change to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Apply,
    Drop,
    /// Wait for this chunk to commit.
    Wait(ChunkId),
}

/// Where the copy starts: at the range's first key (keys below it are never copied: only the binlog writes
/// them), or after a resume point (keys up to it are in the ghost already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    At(SortKey),
    After(SortKey),
}

impl Start {
    /// Whether `key` lies at or below this edge (below the first key, or up to the resume point).
    fn covers(&self, key: &SortKey) -> bool {
        match self {
            Start::At(first) => key < first,
            Start::After(last) => key <= last,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    InFlight,
    /// Its statement failed and it is not being read now.
    Released,
    Committed,
}

#[derive(Debug)]
struct Chunk {
    id: ChunkId,
    state: ChunkState,
    /// The chunk's last key as read from the table: the resume point once every chunk before it committed.
    end: Vec<Value>,
}

#[derive(Debug)]
struct State {
    /// The copy range's last key, fixed at start.
    max: SortKey,
    /// Every key this covers is in a claimed chunk.
    claimed: Start,
    /// Every key this covers is in a committed chunk (or below the range).
    committed: Start,
    /// Claimed chunks above `committed`, by their last key: each holds the keys above the previous one's
    /// last key (or above `committed`) up to its own. Chunks commit out of order; the committed ones at the
    /// front move into `committed`.
    chunks: BTreeMap<SortKey, Chunk>,
    next_id: ChunkId,
    /// The copy failed: nobody waits for chunks any more (the migration is aborting).
    failed: bool,
}

#[derive(Debug)]
pub(crate) struct Frontier {
    order: KeyOrder,
    state: Mutex<State>,
    /// Bumped whenever a chunk commits or is released.
    commits: watch::Sender<u64>,
}

impl Frontier {
    /// A frontier for copying the keys from `start` up to `max` (inclusive), in `order`.
    pub(crate) fn new(order: KeyOrder, start: Start, max: SortKey) -> Self {
        Frontier {
            order,
            state: Mutex::new(State {
                max,
                claimed: start.clone(),
                committed: start,
                chunks: BTreeMap::new(),
                next_id: 0,
                failed: false,
            }),
            commits: watch::channel(0).0,
        }
    }

    /// The key's order, to compute the sort keys the frontier takes.
    pub(crate) fn order(&self) -> &KeyOrder {
        &self.order
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn verdict(&self, key: &SortKey) -> Verdict {
        let s = self.lock();
        if *key > s.max || s.committed.covers(key) {
            return Verdict::Apply;
        }
        if !s.claimed.covers(key) {
            return Verdict::Drop;
        }
        // The first chunk whose last key is at or above the key holds it.
        match s.chunks.range(key.clone()..).next() {
            Some((_, c)) => match c.state {
                ChunkState::InFlight => Verdict::Wait(c.id),
                ChunkState::Released => Verdict::Drop,
                ChunkState::Committed => Verdict::Apply,
            },
            None => Verdict::Apply,
        }
    }

    /// Sort keys for binlog row images of the key (see `KeyOrder::of_images`).
    pub(crate) async fn sort_keys(
        &self,
        conn: &mut Conn,
        images: &[Vec<&BinlogValue<'_>>],
    ) -> Result<Vec<Option<SortKey>>> {
        self.order.of_images(conn, images).await
    }

    /// Whether the whole range is claimed.
    pub(crate) fn exhausted(&self) -> bool {
        let s = self.lock();
        s.claimed.covers(&s.max)
    }

    /// Whether the whole range is committed: every verdict is Apply from now on.
    pub(crate) fn complete(&self) -> bool {
        let s = self.lock();
        s.committed.covers(&s.max)
    }

    /// Claims the keys above the last claim up to `last` (capped at the range's max), whose values as read
    /// from the table are `end`. Call before the chunk's snapshot is taken.
    pub(crate) fn claim(&self, last: SortKey, end: Vec<Value>) -> ChunkId {
        let mut s = self.lock();
        let last = last.min(s.max.clone());
        let id = s.next_id;
        s.next_id += 1;
        s.claimed = Start::After(last.clone());
        s.chunks.insert(last, Chunk { id, state: ChunkState::InFlight, end });
        id
    }

    fn set_state(&self, id: ChunkId, from: ChunkState, to: ChunkState) {
        let mut s = self.lock();
        if let Some(c) = s.chunks.values_mut().find(|c| c.id == id && c.state == from) {
            c.state = to;
        }
    }

    /// The chunk's statement failed and will be retried later: changes to its keys are dropped meanwhile,
    /// and whoever waits for it is woken (the applier must not wait for a chunk that waits for it).
    pub(crate) fn release(&self, id: ChunkId) {
        self.set_state(id, ChunkState::InFlight, ChunkState::Released);
        self.commits.send_modify(|n| *n += 1);
    }

    /// Claims a released chunk again; call before its next read.
    pub(crate) fn reclaim(&self, id: ChunkId) {
        self.set_state(id, ChunkState::Released, ChunkState::InFlight);
    }

    /// Marks a claimed chunk committed; returns the new resume point (the last key of the committed prefix
    /// of the range) when it moved.
    pub(crate) fn commit(&self, id: ChunkId) -> Option<Vec<Value>> {
        let mut s = self.lock();
        if let Some(c) = s.chunks.values_mut().find(|c| c.id == id) {
            c.state = ChunkState::Committed;
        }
        let mut moved = None;
        while let Some(first) = s.chunks.first_entry() {
            if first.get().state != ChunkState::Committed {
                break;
            }
            let (last, chunk) = first.remove_entry();
            s.committed = Start::After(last);
            moved = Some(chunk.end);
        }
        drop(s);
        self.commits.send_modify(|n| *n += 1);
        moved
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

    /// Waits until the chunk has committed or was released (or the copy failed).
    pub(crate) async fn wait(&self, id: ChunkId) {
        let mut rx = self.commits.subscribe();
        loop {
            {
                let s = self.lock();
                if s.failed || !s.chunks.values().any(|c| c.id == id && c.state == ChunkState::InFlight) {
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
    use crate::mysql::schema::Column;

    /// Sort keys of a single integer key, as `KeyOrder` makes them.
    fn k(n: i128) -> SortKey {
        vec![((n as u128) ^ (1u128 << 127)).to_be_bytes().to_vec()]
    }

    fn frontier(first: i128, max: i128) -> Frontier {
        let order = KeyOrder::of_columns(&[&Column::for_test("id", "int", false)]).unwrap();
        Frontier::new(order, Start::At(k(first)), k(max))
    }

    fn claim(f: &Frontier, last: i128) -> ChunkId {
        f.claim(k(last), vec![Value::Int(last as i64)])
    }

    #[test]
    fn verdicts_follow_the_chunks() {
        let f = frontier(1, 100);
        assert_eq!(f.verdict(&k(5)), Verdict::Drop, "not claimed yet: the copy will read it");
        assert_eq!(f.verdict(&k(101)), Verdict::Apply, "above the range: only the binlog writes it");
        assert_eq!(f.verdict(&k(0)), Verdict::Apply, "below the range");
        assert!(!f.exhausted());
        let a = claim(&f, 10);
        let b = claim(&f, 20);
        assert_eq!(f.verdict(&k(1)), Verdict::Wait(a));
        assert_eq!(f.verdict(&k(10)), Verdict::Wait(a));
        assert_eq!(f.verdict(&k(11)), Verdict::Wait(b));
        assert_eq!(f.verdict(&k(20)), Verdict::Wait(b));
        assert_eq!(f.verdict(&k(21)), Verdict::Drop);
        assert_eq!(f.commit(b), None, "the first chunk is still in flight");
        assert_eq!(f.verdict(&k(15)), Verdict::Apply);
        assert_eq!(f.verdict(&k(5)), Verdict::Wait(a));
        assert_eq!(f.commit(a), Some(vec![Value::Int(20)]), "the resume point moves over both");
        assert_eq!(f.verdict(&k(5)), Verdict::Apply);
        let c = claim(&f, 1000);
        assert!(f.exhausted(), "the claim is capped at the range max");
        assert!(!f.complete());
        assert_eq!(f.verdict(&k(100)), Verdict::Wait(c));
        assert_eq!(f.verdict(&k(101)), Verdict::Apply);
        assert_eq!(f.commit(c), Some(vec![Value::Int(1000)]));
        assert!(f.complete());
        assert_eq!(f.verdict(&k(50)), Verdict::Apply);
    }

    #[test]
    fn a_resumed_copy_starts_after_its_resume_point() {
        let order = KeyOrder::of_columns(&[&Column::for_test("id", "int", false)]).unwrap();
        let f = Frontier::new(order, Start::After(k(40)), k(100));
        assert_eq!(f.verdict(&k(40)), Verdict::Apply, "copied before the stop");
        assert_eq!(f.verdict(&k(41)), Verdict::Drop);
    }

    #[test]
    fn a_released_chunk_drops_changes_until_it_is_claimed_again() {
        let f = frontier(1, 100);
        let a = claim(&f, 10);
        let b = claim(&f, 20);
        f.release(b);
        assert_eq!(f.verdict(&k(15)), Verdict::Drop, "its next read holds the change");
        assert_eq!(f.verdict(&k(5)), Verdict::Wait(a), "other chunks keep their verdicts");
        assert_eq!(f.verdict(&k(25)), Verdict::Drop);
        f.reclaim(b);
        assert_eq!(f.verdict(&k(15)), Verdict::Wait(b));
        assert_eq!(f.commit(a), Some(vec![Value::Int(10)]));
        assert_eq!(f.commit(b), Some(vec![Value::Int(20)]));
        assert_eq!(f.verdict(&k(15)), Verdict::Apply);
    }

    #[test]
    fn composite_keys_fall_in_the_chunk_whose_bounds_hold_them() {
        let order = KeyOrder::of_columns(&[&Column::for_test("a", "int", false), &Column::for_test("b", "int", false)])
            .unwrap();
        let key = |a: i128, b: i128| vec![k(a)[0].clone(), k(b)[0].clone()];
        let f = Frontier::new(order, Start::At(key(1, 1)), key(9, 9));
        let a = f.claim(key(3, 5), vec![]);
        assert_eq!(f.verdict(&key(3, 4)), Verdict::Wait(a));
        assert_eq!(f.verdict(&key(2, 1000)), Verdict::Wait(a));
        assert_eq!(f.verdict(&key(3, 6)), Verdict::Drop);
        assert_eq!(f.verdict(&key(1, 0)), Verdict::Apply, "below the first key");
    }

    #[tokio::test]
    async fn releasing_wakes_the_waiters() {
        let f = std::sync::Arc::new(frontier(1, 10));
        let a = claim(&f, 5);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(a).await });
        tokio::task::yield_now().await;
        f.release(a);
        waiter.await.unwrap();
    }

    #[tokio::test]
    async fn wait_returns_once_committed() {
        let f = std::sync::Arc::new(frontier(1, 10));
        let a = claim(&f, 10);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(a).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        f.commit(a);
        waiter.await.unwrap();
        f.wait(a).await; // already committed: returns at once
    }

    #[tokio::test]
    async fn a_failed_copy_releases_waiters() {
        let f = std::sync::Arc::new(frontier(1, 10));
        let a = claim(&f, 5);
        let g = f.clone();
        let waiter = tokio::spawn(async move { g.wait(a).await });
        tokio::task::yield_now().await;
        f.fail();
        waiter.await.unwrap();
    }
}
