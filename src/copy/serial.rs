//! The serial, locking copy: one connection, chunks in key order, each an `INSERT ... SELECT ... AND NOT
//! EXISTS (...) LOCK IN SHARE MODE` under REPEATABLE READ (see the module above for why this is exact).
//! Used for keys the parallel copy cannot take (composite, string, nullable).

use std::sync::atomic::Ordering;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::chunk::{chunk_end, insert_chunk, next_turn};
use super::{ChunkSql, CopyEnv, CopyPlan, Range};
use crate::error::Result;

/// Copies the whole range. Waits while throttled; ends at the next chunk once stop is signalled.
pub(crate) async fn run(plan: CopyPlan, mut conn: Conn, env: CopyEnv, range: Option<Range>) -> Result<()> {
    let progress = &env.stats.copy;
    let (mut throttled, mut stop) = (env.throttled.clone(), env.stop.clone());
    let Some(range) = range else {
        progress.done.store(true, Ordering::Relaxed);
        return Ok(());
    };
    // Short lock waits: a chunk that cannot get its shared locks quickly is retried rather than left
    // holding the locks it already has.
    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 3").await?;
    let sql = ChunkSql::new(&plan);

    let (mut start, mut inclusive) = match &range.resume_after {
        Some(k) => (k.clone(), false),
        None => (range.min.clone(), true),
    };
    if range.resume_after.as_ref() == Some(&range.max) {
        progress.done.store(true, Ordering::Relaxed);
        return Ok(());
    }
    loop {
        next_turn(&mut throttled, &mut stop).await?;
        let chunk = env.settings.chunk_size();
        // The chunk's last key: chunk-1 rows past the start, or the range max.
        let (end_sql, params) = sql.end(&start, inclusive, &range.max, chunk);
        let end: Vec<Value> = match chunk_end(&mut conn, end_sql, &params, &env).await? {
            Some(r) => r.unwrap(),
            None => range.max.clone(),
        };
        let (insert, params) = sql.insert(&start, inclusive, &end);
        let insert = format!("{insert}{} LOCK IN SHARE MODE", sql.not_copied);
        // The statement skips rows already in the ghost: it is its own retry.
        let (copied, chunk_started) = insert_chunk(&mut conn, &insert, &insert, &params, &plan, &env, None).await?;
        env.chunk_done(chunk, copied, chunk_started);
        progress.set_watermark(end.clone());
        env.nice_pause(chunk_started).await;
        if end == range.max {
            break;
        }
        start = end;
        inclusive = false;
    }
    progress.done.store(true, Ordering::Relaxed);
    Ok(())
}
