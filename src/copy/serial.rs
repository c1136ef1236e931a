//! The serial, locking copy: one connection, chunks in key order, each an `INSERT ... SELECT ... AND NOT
//! EXISTS (...) LOCK IN SHARE MODE` under REPEATABLE READ (see the module above for why this is exact).
//! Used for keys the parallel copy cannot take (composite, string, nullable).

use std::sync::atomic::Ordering;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use super::chunk::{chunk_end, insert_chunk, next_turn};
use super::{bind, bound, CopyEnv, CopyPlan, Range};
use crate::error::Result;
use crate::mysql::sql::{ident, ident_list, qualified};

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
    let keys = &plan.key_columns;
    let (gt, gt_order) = bound(keys, "", ">", ">");
    let (ge, ge_order) = bound(keys, "", ">", ">=");
    let (le, le_order) = bound(keys, "", "<", "<=");
    let (gt_s, _) = bound(keys, "s.", ">", ">");
    let (ge_s, _) = bound(keys, "s.", ">", ">=");
    let (le_s, _) = bound(keys, "s.", "<", "<=");
    let table = plan.table_q();
    let ghost = qualified(&plan.database, &plan.ghost);
    let force = format!("FORCE INDEX ({})", ident(&plan.key_index));
    let order_by = ident_list(keys);
    let key_select = plan.key_select();
    let eq = if plan.key_nullable { "<=>" } else { "=" };
    let exists: Vec<String> =
        plan.ghost_key_columns.iter().zip(keys).map(|(g, k)| format!("g.{} {eq} s.{}", ident(g), ident(k))).collect();
    let select_cols: Vec<String> = plan.source_columns.iter().map(|c| format!("s.{}", ident(c))).collect();

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
        let (lower, lower_s, lower_order) = if inclusive { (&ge, &ge_s, &ge_order) } else { (&gt, &gt_s, &gt_order) };
        // The chunk's last key: chunk-1 rows past the start, or the range max.
        let mut params = Vec::new();
        bind(&start, lower_order, &mut params);
        bind(&range.max, &le_order, &mut params);
        let sql = format!(
            "SELECT {key_select} FROM {table} {force} WHERE {lower} AND {le} ORDER BY {order_by} LIMIT 1 OFFSET {}",
            chunk - 1
        );
        let end: Vec<Value> = match chunk_end(&mut conn, &sql, &params, &env).await? {
            Some(r) => r.unwrap(),
            None => range.max.clone(),
        };
        let mut params = Vec::new();
        bind(&start, lower_order, &mut params);
        bind(&end, &le_order, &mut params);
        let insert = format!(
            "INSERT INTO {ghost} ({}) SELECT {} FROM {table} AS s {force} WHERE {} AND {} \
             AND NOT EXISTS (SELECT 1 FROM {ghost} AS g WHERE {}) LOCK IN SHARE MODE",
            ident_list(&plan.ghost_columns),
            select_cols.join(", "),
            lower_s,
            le_s,
            exists.join(" AND ")
        );
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
