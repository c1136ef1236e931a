//! One chunk's statement and what surrounds it: the throttle wait before it, retries of what can heal,
//! the diagnosis of rows the new schema cannot hold, the chunk-size adaptation and nice-ratio pause after.
//!
//! Invariants: a chunk is one autocommitted statement, so a retry or a stop never leaves half a chunk; a
//! retry skips rows already copied (the lost statement may have committed); a row that does not fit fails
//! the copy with every problem listed, it is never skipped.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tracing::{debug, warn};

use super::{CopyEnv, CopyPlan};
use crate::error::{Error, Result};
use crate::mysql::connect::{connect, lost_connection, setup_writer};
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
    pub(super) fn chunk_done(&self, chunk: u64, copied: u64, started: Instant) {
        if !self.chunk_time.is_zero() && copied > 0 {
            let took = started.elapsed().mul_f64(chunk as f64 / copied as f64);
            self.settings.chunk_size.store(adapt_chunk_size(chunk, took, self.chunk_time), Ordering::Relaxed);
        }
        self.stats.copy.rows.fetch_add(copied, Ordering::Relaxed);
        self.stats.copy.chunks.fetch_add(1, Ordering::Relaxed);
    }

    /// --nice-ratio: sleeps that many times the chunk's copy time (cut short by stop).
    pub(super) async fn nice_pause(&self, chunk_started: Instant) {
        let nice = self.settings.nice_ratio();
        if nice > 0.0 {
            let mut stop = self.stop.clone();
            tokio::select! {
                _ = tokio::time::sleep(chunk_started.elapsed().mul_f64(nice)) => {}
                _ = stop.stopped() => {}
            }
        }
    }
}

/// Runs one chunk's INSERT ... SELECT (autocommit), retrying transient failures and duplicates; returns the
/// rows copied and when the try that succeeded began (the chunk's time for --chunk-time and --nice-ratio:
/// time spent waiting for a server to come back is not copy time). Retries run `retry_insert`, which must
/// skip rows already in the ghost table: a statement whose connection was lost may still have committed.
pub(super) async fn insert_chunk(
    conn: &mut Conn,
    insert: &str,
    retry_insert: &str,
    params: &[Value],
    plan: &CopyPlan,
    env: &CopyEnv,
) -> Result<(u64, Instant)> {
    let mut attempt = 0;
    loop {
        let insert = if attempt == 0 { insert } else { retry_insert };
        let began = Instant::now();
        // Without parameters, a plain query: no prepare round trip for a statement used once.
        let result = if params.is_empty() {
            conn.query_iter(insert).await.map(|r| r.affected_rows())
        } else {
            conn.exec_iter(insert, params.to_vec()).await.map(|r| r.affected_rows())
        };
        match result {
            Ok(n) => {
                if plan.panic_on_warnings && conn.get_warnings() > 0 {
                    let w = warnings(conn).await?;
                    if !w.is_empty() {
                        return Err(Error::Data(format!("copying rows raised warnings (--panic-on-warnings):\n{w}")));
                    }
                }
                return Ok((n, began));
            }
            Err(e) => {
                let e = Error::from(e);
                attempt += 1;
                env.stats.copy.retries.fetch_add(1, Ordering::Relaxed);
                // A duplicate may be a race with the applier on a unique key (it resolves once the applier
                // catches up); one that persists is a row the new schema cannot hold.
                let retryable = e.is_transient() || e.server_code() == Some(1062);
                if !retryable || attempt >= env.retries.max(1) || env.stop.is_stopped() {
                    if e.server_code().is_some_and(|c| DATA_ERRORS.contains(&c)) {
                        let why = diagnose(conn, insert, params).await;
                        return Err(Error::Data(format!(
                            "{}: the new schema cannot hold rows of the table. What the rows would become:\n{why}",
                            server_message(&e)
                        )));
                    }
                    return Err(e);
                }
                warn!("chunk copy failed ({e}); retry {attempt}/{}", env.retries);
                (env.on_retry)(e.to_string()).await;
                tokio::time::sleep(Duration::from_millis((100 * attempt as u64).min(2000))).await;
                reconnect_if_lost(conn, &e, env).await;
            }
        }
    }
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
                attempt += 1;
                if !e.is_transient() || attempt >= env.retries.max(1) || env.stop.is_stopped() {
                    return Err(e);
                }
                warn!("reading a chunk's end failed ({e}); retry {attempt}/{}", env.retries);
                tokio::time::sleep(Duration::from_millis((100 * attempt as u64).min(2000))).await;
                reconnect_if_lost(conn, &e, env).await;
            }
        }
    }
}

/// After a lost connection, a new one for the next try. A server still unreachable (restarting, network
/// down) costs that try only: the old connection fails it at once, and the reconnect is tried again.
async fn reconnect_if_lost(conn: &mut Conn, e: &Error, env: &CopyEnv) {
    if lost_connection(e) {
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

/// Server errors that mean "this row does not fit the new schema".
const DATA_ERRORS: &[u16] = &[1048, 1062, 1264, 1265, 1292, 1366, 1406, 3140, 1690];

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
