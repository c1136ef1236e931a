//! The parallel, non-locking copy of a single NOT NULL integer key: workers claim chunks from the
//! `frontier` in key order and copy each with a plain `INSERT ... SELECT` under READ COMMITTED.
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

use super::chunk::{chunk_end, copy_connection, insert_chunk, next_turn};
use super::frontier::Frontier;
use super::{int_of, value_of, CopyEnv, CopyPlan};
use crate::error::{Error, Result};
use crate::mysql::sql::{ident, ident_list, qualified};
use crate::state::pace::PaceWatch;
use crate::state::tasks::Stop;

/// The parallel copy of a single NOT NULL integer key: `workers` connections each claim the next chunk
/// from the frontier and copy it with a non-locking `INSERT ... SELECT` under READ COMMITTED. The applier
/// consults the same frontier (see `frontier` for why this is exact).
pub(crate) async fn run_parallel(plan: CopyPlan, env: CopyEnv, frontier: Arc<Frontier>, workers: usize) -> Result<()> {
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
    let cursor = Arc::new(tokio::sync::Mutex::new(()));
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
        set.spawn(worker(plan.clone(), env.clone(), conn, turn, frontier.clone(), cursor.clone()));
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

async fn worker(
    plan: Arc<CopyPlan>,
    env: Arc<CopyEnv>,
    mut conn: Conn,
    mut turn: Turn,
    frontier: Arc<Frontier>,
    cursor: Arc<tokio::sync::Mutex<()>>,
) -> Result<()> {
    let progress = &env.stats.copy;
    let (mut throttled, mut stop) = (env.throttled.clone(), env.stop.clone());
    let key = ident(&plan.key_columns[0]);
    let gkey = ident(&plan.ghost_key_columns[0]);
    let table = plan.table_q();
    let ghost = qualified(&plan.database, &plan.ghost);
    let force = format!("FORCE INDEX ({})", ident(&plan.key_index));
    let select_cols = ident_list(&plan.source_columns);
    let insert_head =
        format!("INSERT INTO {ghost} ({}) SELECT {select_cols} FROM {table} {force}", ident_list(&plan.ghost_columns));
    loop {
        // Wait out throttling (and the pacer) before claiming: a claimed chunk holds back the applier's
        // changes to its keys.
        if !turn.wait(&mut stop).await? {
            return Ok(());
        }
        next_turn(&mut throttled, &mut stop).await?;
        let (start, end, chunk) = {
            let _turn = cursor.lock().await;
            let Some(start) = frontier.next_start() else { return Ok(()) };
            let max = frontier.max();
            let chunk = env.settings.chunk_size();
            let sql = format!(
                "SELECT {key} FROM {table} {force} WHERE {key} >= {start} AND {key} <= {max} ORDER BY {key} \
                 LIMIT 1 OFFSET {}",
                chunk - 1
            );
            let end = match chunk_end(&mut conn, &sql, &[], &env).await?.and_then(|r| r.unwrap().into_iter().next()) {
                Some(v) => int_of(&v).ok_or_else(|| Error::Aborted(format!("chunk bound {v:?} is not an integer")))?,
                None => max,
            };
            frontier.claim(start, end);
            (start, end, chunk)
        };
        let insert = format!("{insert_head} WHERE {key} BETWEEN {start} AND {end}");
        // The claimed range of the ghost is empty (the applier holds back its changes until the commit), so
        // the first try needs no check; a retry may follow a lost statement that committed all the same.
        let retry = format!("{insert} AND NOT EXISTS (SELECT 1 FROM {ghost} AS g WHERE g.{gkey} = {table}.{key})");
        let (copied, chunk_started) =
            insert_chunk(&mut conn, &insert, &retry, &[], &plan, &env, Some((&frontier, start))).await?;
        let committed = frontier.commit(start);
        // Workers adapt the chunk size in turn; the control socket's chunk-size= sets a new starting point.
        env.chunk_done(chunk, copied, chunk_started);
        if committed >= start {
            progress.set_watermark(vec![value_of(committed)]);
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
