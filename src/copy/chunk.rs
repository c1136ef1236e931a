//! One chunk's statement and what surrounds it: the throttle wait before it, retries of what can heal,
//! the diagnosis of rows the new schema cannot hold, the chunk-size adaptation and nice-ratio pause after
//! (with the latency pacer's pause).
//!
//! Invariants: a chunk is one autocommitted statement, so a retry or a stop never leaves half a chunk; a
//! retry skips rows already copied (the lost statement may have committed); a row that does not fit fails
//! the copy with every problem listed, it is never skipped; only what `error::codes` calls transient is
//! retried, plus a duplicate while it may still be a race with the applier (bounded, see
//! `duplicate_may_be_a_race`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tracing::{debug, warn};

use super::frontier::{ChunkId, Frontier};
use super::order::{KeyOrder, SortKey};
use super::{CopyEnv, CopyPlan};
use crate::error::codes::ER_DUP_ENTRY;
use crate::error::{Error, Result};
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::gtid::GtidSet;
use crate::state::tasks::Stop;
use crate::state::Verdict;

/// The next chunk size toward the target time: proportional, but at most 1.5x larger or 2x smaller per
/// step (one slow chunk must not collapse it), within gh-ost's 10..100000.
pub(crate) fn adapt_chunk_size(current: u64, took: Duration, target: Duration) -> u64 {
    let ratio = (target.as_secs_f64() / took.as_secs_f64().max(1e-3)).clamp(0.5, 1.5);
    ((current as f64 * ratio) as u64).clamp(10, 100_000)
}

/// Waits while the throttler holds a reason; fails once stop is signalled, which ends the copy here,
/// between chunks.
pub(super) async fn next_turn(throttled: &mut Verdict, stop: &mut Stop) -> Result<()> {
    loop {
        stop.check()?;
        let Some(reason) = throttled.borrow_and_update().clone() else { return Ok(()) };
        debug!("copy throttled: {reason}");
        tokio::select! {
            changed = throttled.changed() => {
                if changed.is_err() {
                    return Err(Error::Aborted("throttler stopped".into()));
                }
            }
            _ = stop.stopped() => {}
        }
    }
}

impl CopyEnv {
    /// Counts a copied chunk and, with --chunk-time, adapts the chunk size (scaled by the rows the chunk
    /// really had: the last one may be short).
    /// The latency pacer may shorten the target (shorter chunks commit in shorter bursts).
    pub(super) fn chunk_done(&self, chunk: u64, copied: u64, started: Instant) {
        if !self.chunk_time.is_zero() && copied > 0 {
            let took = started.elapsed().mul_f64(chunk as f64 / copied as f64);
            let target = self.chunk_time.mul_f64(self.pace.borrow().chunk_scale.clamp(0.01, 1.0));
            self.settings.chunk_size.store(adapt_chunk_size(chunk, took, target), Ordering::Relaxed);
        }
        self.stats.copy_chunk_seconds.observe(started.elapsed().as_secs_f64());
        self.stats.copy.rows.fetch_add(copied, Ordering::Relaxed);
        self.stats.copy.chunks.fetch_add(1, Ordering::Relaxed);
    }

    /// --nice-ratio, plus the latency pacer's pause: sleeps that many times the chunk's copy time (cut short
    /// by stop).
    pub(super) async fn nice_pause(&self, chunk_started: Instant) {
        let paced = self.pace.borrow().pause_ratio;
        let nice = self.settings.nice_ratio() + if paced.is_finite() { paced.max(0.0) } else { 0.0 };
        if nice > 0.0 {
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(chunk_started.elapsed().mul_f64(nice)) => {}
                _ = stop.stopped() => {}
            }
        }
    }
}

/// Runs one chunk's INSERT ... SELECT (autocommit), retrying what can heal; returns the rows copied and when
/// the try that succeeded began (the chunk's time for --chunk-time and --nice-ratio: time spent waiting for a
/// server to come back is not copy time). Retries run `retry_insert`, which must skip rows already in the
/// ghost table: a statement whose connection was lost may still have committed.
/// `claim`: the parallel copy's frontier and the chunk, released while a duplicate is checked.
#[allow(clippy::too_many_arguments)]
pub(super) async fn insert_chunk(
    conn: &mut Conn,
    insert: &str,
    retry_insert: &str,
    params: &[Value],
    plan: &CopyPlan,
    env: &CopyEnv,
    claim: Option<(&Frontier, ChunkId)>,
) -> Result<(u64, Instant)> {
    let mut attempt = 0;
    let mut duplicate_rounds = 0;
    loop {
        let sql = if attempt == 0 && duplicate_rounds == 0 { insert } else { retry_insert };
        // Binlog changes of the table taken so far: the duplicate check asks whether any came in since.
        let events_before = env.stats.apply.events.load(Ordering::Relaxed);
        let began = Instant::now();
        // Without parameters, a plain query: no prepare round trip for a statement used once.
        let result = if params.is_empty() {
            conn.query_iter(sql).await.map(|r| r.affected_rows())
        } else {
            conn.exec_iter(sql, params.to_vec()).await.map(|r| r.affected_rows())
        };
        let e = match result {
            Ok(n) => {
                if plan.panic_on_warnings && conn.get_warnings() > 0 {
                    let w = warnings(conn).await?;
                    if !w.is_empty() {
                        return Err(Error::Data(format!("copying rows raised warnings (--panic-on-warnings):\n{w}")));
                    }
                }
                return Ok((n, began));
            }
            Err(e) => Error::from(e),
        };
        let retry = if e.server_code() == Some(ER_DUP_ENTRY) && duplicate_rounds < DUPLICATE_ROUNDS {
            duplicate_rounds += 1;
            // The applier may be waiting for this very chunk before it can write the change that frees the
            // value: release the chunk while waiting for the applier, claim it again before the retry.
            if let Some((frontier, id)) = claim {
                frontier.release(id);
            }
            let race = duplicate_may_be_a_race(conn, env, events_before).await;
            if let Some((frontier, id)) = claim {
                frontier.reclaim(id);
            }
            race?
        } else {
            e.is_transient() && attempt < env.retries.max(1)
        };
        if !retry || env.stop.is_stopped() {
            if e.is_data_error() {
                let why = diagnose(conn, sql, params).await;
                return Err(Error::Data(format!(
                    "{}: the new schema cannot hold rows of the table (fix those rows, or change --alter so they \
                     fit). What the rows would become:\n{why}",
                    server_message(&e)
                )));
            }
            return Err(e);
        }
        env.stats.copy.retries.fetch_add(1, Ordering::Relaxed);
        env.stats.note_error("chunk copy", &e);
        if e.server_code() == Some(ER_DUP_ENTRY) {
            warn!(
                "chunk copy met a duplicate while the table changed ({e}); the applier has caught up, retry \
                 {duplicate_rounds}/{DUPLICATE_ROUNDS}"
            );
        } else {
            attempt += 1;
            warn!("chunk copy failed ({e}){}; retry {attempt}/{}", e.code_label(), env.retries);
        }
        (env.on_retry)(e.to_string()).await;
        if e.server_code() != Some(ER_DUP_ENTRY) {
            // A lost connection (a server restarting, a network down) heals in seconds: the wait grows to 2 s
            // so that the retries outlast a restart of the primary.
            tokio::time::sleep(Duration::from_millis((100 * attempt as u64).min(2000))).await;
        }
        reconnect_if_lost(conn, &e, env).await;
    }
}

/// How many times a chunk that meets a duplicate is retried after the applier has caught up, at most.
const DUPLICATE_ROUNDS: u32 = 5;
/// How long the duplicate check waits for the applier to catch up before it retries anyway.
const CATCH_UP_LIMIT: Duration = Duration::from_secs(10);

/// A duplicate for a unique key of the ghost can be a race, not a row the schema cannot hold: another row
/// held the value when it was copied, gave it up since, and the applier has not written that change yet
/// (the chunk reads the present, the rest of the ghost lags by the applier's delay). It is real when the
/// ghost was caught up: once the applier has written every transaction committed before the failure, if no
/// change of the table came in since the chunk began, the two rows hold the same value at one moment of the
/// original, and no retry changes that. Returns whether to retry.
async fn duplicate_may_be_a_race(conn: &mut Conn, env: &CopyEnv, events_before: u64) -> Result<bool> {
    let executed: Option<String> = conn.query_first("SELECT @@global.gtid_executed").await?;
    let executed = GtidSet::parse(&executed.unwrap_or_default())?;
    let deadline = Instant::now() + CATCH_UP_LIMIT;
    let mut stop = env.stop.clone();
    while !env.stats.apply.applied().includes(&executed) {
        if Instant::now() >= deadline {
            debug!("duplicate during the copy: the applier is still behind after {CATCH_UP_LIMIT:?}; retrying");
            return Ok(true);
        }
        // Polled: the applier's position is a counter in Stats, not an event; the wait is bounded.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = stop.stopped() => return Ok(false),
        }
    }
    Ok(env.stats.apply.events.load(Ordering::Relaxed) != events_before)
}

/// Reads one chunk's end key (`sql` selects it), retrying what can heal as `insert_chunk` does.
pub(super) async fn chunk_end(conn: &mut Conn, sql: &str, params: &[Value], env: &CopyEnv) -> Result<Option<Row>> {
    let mut attempt = 0;
    loop {
        let result = if params.is_empty() {
            conn.query_first::<Row, _>(sql).await
        } else {
            conn.exec_first::<Row, _, _>(sql, params.to_vec()).await
        };
        match result {
            Ok(row) => return Ok(row),
            Err(e) => {
                let e = Error::from(e);
                if !read_again(conn, &e, &mut attempt, env, "reading a chunk's end").await {
                    return Err(e);
                }
            }
        }
    }
}

/// The sort key of a chunk bound (`order::KeyOrder::of_values`), retrying what can heal as `chunk_end` does.
pub(super) async fn bound_sort_key(conn: &mut Conn, order: &KeyOrder, key: &[Value], env: &CopyEnv) -> Result<SortKey> {
    let mut attempt = 0;
    loop {
        match order.of_values(conn, &[key.to_vec()]).await {
            Ok(mut keys) => return keys.pop().ok_or_else(|| Error::Aborted("no sort key for a chunk bound".into())),
            Err(e) => {
                if !read_again(conn, &e, &mut attempt, env, "weighing a chunk's end").await {
                    return Err(e);
                }
            }
        }
    }
}

/// After a failed read of the copy's (`what`): whether to try again. What can heal is retried up to
/// --default-retries times unless the run is stopping, after a growing wait and a reconnect if the
/// connection was lost.
async fn read_again(conn: &mut Conn, e: &Error, attempt: &mut u32, env: &CopyEnv, what: &str) -> bool {
    *attempt += 1;
    if !e.is_transient() || *attempt >= env.retries.max(1) || env.stop.is_stopped() {
        return false;
    }
    warn!("{what} failed ({e}){}; retry {attempt}/{}", e.code_label(), env.retries);
    tokio::time::sleep(Duration::from_millis((100 * u64::from(*attempt)).min(2000))).await;
    reconnect_if_lost(conn, e, env).await;
    true
}

/// After a lost connection, a new one for the next try. A server still unreachable (restarting, network
/// down) costs that try only: the old connection fails it at once, and the reconnect is tried again.
async fn reconnect_if_lost(conn: &mut Conn, e: &Error, env: &CopyEnv) {
    if e.needs_reconnect() {
        match copy_connection(env).await {
            Ok(fresh) => *conn = fresh,
            Err(e) => warn!("reconnecting the copy failed: {e}"),
        }
    }
}

pub(super) async fn copy_connection(env: &CopyEnv) -> Result<Conn> {
    let mut conn = connect(&env.opts, "primary (copy)", Duration::from_secs(10)).await?;
    setup_writer(&mut conn, env.mode).await?;
    // Short lock waits: a chunk that cannot get its locks quickly is retried rather than left holding the
    // locks it already has.
    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 3").await?;
    Ok(conn)
}

/// `Warning: <message>` lines of the last statement, gh-ost's --panic-on-warnings format.
async fn warnings(conn: &mut Conn) -> Result<String> {
    let rows: Vec<(String, u32, String)> = conn.query("SHOW WARNINGS").await?;
    Ok(rows.into_iter().map(|(level, _, msg)| format!("{level}: {msg}")).collect::<Vec<_>>().join("\n"))
}

/// Re-runs a failed chunk as INSERT IGNORE inside a transaction that is rolled back, to list every row
/// problem (truncations, duplicates) the way gh-ost's warnings show them. Changes nothing.
async fn diagnose(conn: &mut Conn, insert: &str, params: &[Value]) -> String {
    let ignore = insert.replacen("INSERT INTO", "INSERT IGNORE INTO", 1);
    let run = async {
        conn.query_drop("START TRANSACTION").await?;
        conn.exec_drop(ignore.as_str(), params.to_vec()).await?;
        let w = warnings(conn).await;
        conn.query_drop("ROLLBACK").await?;
        w
    };
    match run.await {
        Ok(w) if !w.is_empty() => w,
        Ok(_) => "(no warnings)".to_string(),
        Err(e) => {
            let _ = conn.query_drop("ROLLBACK").await;
            format!("(could not diagnose: {e})")
        }
    }
}

fn server_message(e: &Error) -> String {
    match e {
        Error::Mysql(mysql_async::Error::Server(s)) => s.message.clone(),
        Error::Context { source, .. } => server_message(source),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_adapts_toward_the_target_within_limits() {
        let target = Duration::from_millis(500);
        assert_eq!(adapt_chunk_size(1000, Duration::from_millis(100), target), 1500, "grows at most 1.5x");
        assert_eq!(adapt_chunk_size(1000, Duration::from_millis(400), target), 1250);
        assert_eq!(adapt_chunk_size(1000, Duration::from_secs(5), target), 500, "shrinks at most 2x");
        assert_eq!(adapt_chunk_size(90_000, Duration::from_millis(1), target), 100_000);
        assert_eq!(adapt_chunk_size(12, Duration::from_secs(9), target), 10);
    }
}
