//! The parallel, non-locking copy of a key whose order `order` computes (integers, strings in their
//! collation, composites of these): workers claim chunks from the `frontier` in key order and copy each
//! with a plain `INSERT ... SELECT` under READ COMMITTED.
//!
//! Invariants: a retried chunk skips rows already in the ghost (a statement lost with its connection may
//! have committed); chunk bounds are read and claimed one worker at a time (so claims are in key order); however
//! the copy ends short of the whole range (error, stop, or the task dropped), the frontier is failed, which
//! releases every applier batch waiting on a chunk; when one worker fails or the run stops, every worker
//! ends at its next chunk and is waited for before the copy returns; a worker the latency pacer parks
//! waits before it claims, so it holds back no applier change.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use mysql_async::Conn;
use tokio::sync::watch;

use mysql_async::Value;

use super::chunk::{bound_sort_key, chunk_end, copy_connection, insert_chunk, next_turn};
use super::frontier::Frontier;
use super::{ChunkSql, CopyEnv, CopyPlan, Range};
use crate::error::{Error, Result};
use crate::state::pace::PaceWatch;
use crate::state::tasks::Stop;

/// The parallel copy of `range`: `workers` connections each claim the next chunk from the frontier and
/// copy it with a non-locking `INSERT ... SELECT` under READ COMMITTED. The applier consults the same
/// frontier (see `frontier` for why this is exact).
pub(crate) async fn run_parallel(
    plan: CopyPlan,
    env: CopyEnv,
    frontier: Arc<Frontier>,
    range: Range,
    workers: usize,
) -> Result<()> {
    // However this ends short of the whole range (error, or the task dropped), release the applier.
    struct FailUnlessDone(Arc<Frontier>, bool);
    impl Drop for FailUnlessDone {
        fn drop(&mut self) {
            if !self.1 {
                self.0.fail();
            }
        }
    }
    let mut guard = FailUnlessDone(frontier.clone(), false);
    // The workers stop on a signal of their own: the run's stop, or the first worker's failure. Either way
    // every worker ends at its next chunk and is waited for, so no statement of this copy is left running.
    let (halt, halted) = watch::channel(false);
    let mut run_stop = env.stop.clone();
    let env = Arc::new(CopyEnv { stop: Stop::new(halted), ..env });
    let plan = Arc::new(plan);
    // Chunk bounds are read and claimed one worker at a time, so chunks are claimed in key order.
    let cursor = Arc::new(tokio::sync::Mutex::new(match range.resume_after {
        Some(after) => Cursor { from: after, inclusive: false },
        None => Cursor { from: range.min, inclusive: true },
    }));
    let max = Arc::new(range.max);
    // Set once a worker found nothing left to claim: workers the pacer parked then end too.
    let (drained_tx, drained) = watch::channel(false);
    let mut set = tokio::task::JoinSet::new();
    // Every connection first: a failure to connect must not leave started workers behind.
    let mut conns = Vec::new();
    for _ in 0..workers.max(1) {
        conns.push(copy_connection(&env).await?);
    }
    for (index, conn) in conns.into_iter().enumerate() {
        let turn = Turn { index, pace: env.pace.clone(), drained: drained.clone() };
        let shared = Shared { frontier: frontier.clone(), cursor: cursor.clone(), max: max.clone() };
        set.spawn(worker(plan.clone(), env.clone(), conn, turn, shared));
    }
    let mut failed = None;
    loop {
        tokio::select! {
            r = set.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {
                    let _ = drained_tx.send(true);
                }
                Some(Ok(Err(e))) => {
                    failed.get_or_insert(e);
                    let _ = halt.send(true);
                }
                Some(Err(e)) => {
                    failed.get_or_insert(Error::Aborted(format!("copy worker failed: {e}")));
                    let _ = halt.send(true);
                }
            },
            _ = run_stop.stopped(), if !*halt.borrow() => {
                let _ = halt.send(true);
            }
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    guard.1 = true;
    env.stats.copy.done.store(true, Ordering::Relaxed);
    Ok(())
}

/// Where the next chunk starts: at the range's first key, or after the last key claimed.
struct Cursor {
    from: Vec<Value>,
    inclusive: bool,
}

/// What the workers share: the frontier, the cursor they claim from in turn, and the range's last key.
struct Shared {
    frontier: Arc<Frontier>,
    cursor: Arc<tokio::sync::Mutex<Cursor>>,
    max: Arc<Vec<Value>>,
}

async fn worker(plan: Arc<CopyPlan>, env: Arc<CopyEnv>, mut conn: Conn, mut turn: Turn, shared: Shared) -> Result<()> {
    let Shared { frontier, cursor, max } = shared;
    let progress = &env.stats.copy;
    let (mut throttled, mut stop) = (env.throttled.clone(), env.stop.clone());
    let sql = ChunkSql::new(&plan);
    loop {
        // Wait out throttling (and the pacer) before claiming: a claimed chunk holds back the applier's
        // changes to its keys.
        if !turn.wait(&mut stop).await? {
            return Ok(());
        }
        next_turn(&mut throttled, &mut stop).await?;
        let (id, from, inclusive, end, chunk) = {
            let mut cur = cursor.lock().await;
            if frontier.exhausted() {
                return Ok(());
            }
            let chunk = env.settings.chunk_size();
            let (end_sql, params) = sql.end(&cur.from, cur.inclusive, &max, chunk);
            let end: Vec<Value> = match chunk_end(&mut conn, end_sql, &params, &env).await? {
                Some(r) => r.unwrap(),
                None => max.to_vec(),
            };
            let last = bound_sort_key(&mut conn, frontier.order(), &end, &env).await?;
            let id = frontier.claim(last, end.clone());
            let from = std::mem::replace(&mut cur.from, end.clone());
            let inclusive = std::mem::replace(&mut cur.inclusive, false);
            (id, from, inclusive, end, chunk)
        };
        let (insert, params) = sql.insert(&from, inclusive, &end);
        // The claimed range of the ghost is empty (the applier holds back its changes until the commit), so
        // the first try needs no check; a retry may follow a lost statement that committed all the same.
        let retry = format!("{insert}{}", sql.not_copied);
        let (copied, chunk_started) =
            insert_chunk(&mut conn, insert, &retry, &params, &plan, &env, Some((&frontier, id))).await?;
        let resume = frontier.commit(id);
        // Workers adapt the chunk size in turn; the control socket's chunk-size= sets a new starting point.
        env.chunk_done(chunk, copied, chunk_started);
        if let Some(resume) = resume {
            progress.set_watermark(resume);
        }
        env.nice_pause(chunk_started).await;
    }
}

/// A worker's place in the latency pacer's pace.
struct Turn {
    index: usize,
    pace: PaceWatch,
    drained: watch::Receiver<bool>,
}

impl Turn {
    /// The pacer lets only its first `workers` copy: this worker waits while it is not one of them (it holds
    /// no claim meanwhile). False once another worker found nothing left to claim; fails once stop is
    /// signalled.
    async fn wait(&mut self, stop: &mut Stop) -> Result<bool> {
        loop {
            stop.check()?;
            if *self.drained.borrow() {
                return Ok(false);
            }
            if self.index < self.pace.borrow_and_update().workers {
                return Ok(true);
            }
            tokio::select! {
                changed = self.pace.changed() => {
                    // The pacer is gone (dropped with the run's read-only tasks): copy unpaced.
                    if changed.is_err() {
                        return Ok(true);
                    }
                }
                _ = self.drained.changed() => {}
                _ = stop.stopped() => {}
            }
        }
    }
}
