//! The row copier: fills the ghost table from the original in migration-key order, one bounded chunk per
//! statement, between the key's min and max read at start (rows inserted above the max arrive through the
//! binlog).
//!
//! Each chunk is one `INSERT INTO ghost SELECT ... FROM t WHERE <range> AND NOT EXISTS (<row in ghost>)
//! LOCK IN SHARE MODE` under REPEATABLE READ: the shared locks (held for one chunk only) keep a concurrent
//! change from committing between our read and our write, so the binlog event of any such change is applied
//! after the copied row and wins. Rows the applier already wrote are skipped, and a plain INSERT (not
//! IGNORE) turns a row the new schema cannot hold into an error instead of a silent loss.

pub(crate) mod frontier;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::copy::frontier::Frontier;
use crate::error::{Error, Result};
use crate::mysql::sql::{ident, ident_list, qualified};

#[derive(Debug, Clone)]
pub struct CopyPlan {
    pub database: String,
    pub table: String,
    pub ghost: String,
    /// Index of the migration key on the original table.
    pub key_index: String,
    /// Key columns on the original / the ghost table.
    pub key_columns: Vec<String>,
    pub ghost_key_columns: Vec<String>,
    pub key_nullable: bool,
    /// Key columns that are ENUM or SET: they sort by their numeric value, so chunk bounds are read and
    /// compared as numbers (comparing them to strings would order them alphabetically and skip rows).
    pub key_numeric: Vec<bool>,
    /// Source expressions (column names) and ghost columns, in the same order.
    pub source_columns: Vec<String>,
    pub ghost_columns: Vec<String>,
    /// Fail on any warning a chunk raises (gh-ost's --panic-on-warnings).
    pub panic_on_warnings: bool,
    /// The key is one NOT NULL integer column: eligible for the parallel, non-locking copy.
    pub int_key: bool,
}

#[derive(Debug, Default)]
pub struct CopyProgress {
    pub rows: AtomicU64,
    pub chunks: AtomicU64,
    pub done: AtomicBool,
    /// Shared with the control server, which may change it mid-run.
    pub chunk_size: Arc<AtomicU64>,
    pub retries: AtomicU64,
    /// Last key of the last committed chunk: everything up to it is in the ghost table.
    pub watermark: std::sync::Mutex<Option<Vec<Value>>>,
}

/// The copy range, as the key values of the first and last rows at start.
#[derive(Debug, Clone)]
pub struct Range {
    pub min: Vec<Value>,
    pub max: Vec<Value>,
    /// Resuming: the copy continues after this key (exclusive) instead of at `min`.
    pub resume_after: Option<Vec<Value>>,
}

/// `(k1 > ?) OR (k1 = ? AND k2 > ?) ...` with `op` for the last column of each term (`>`, `>=`, `<`, `<=`);
/// expanded rather than a row constructor so the range optimizer always uses the key. Returns the SQL and
/// the order in which key values must be bound.
fn bound(cols: &[String], prefix: &str, strict: &str, last: &str) -> (String, Vec<usize>) {
    let mut terms = Vec::new();
    let mut order = Vec::new();
    for i in 0..cols.len() {
        let mut t = Vec::new();
        for (j, c) in cols.iter().enumerate().take(i) {
            t.push(format!("{prefix}{} = ?", ident(c)));
            order.push(j);
        }
        let op = if i + 1 == cols.len() { last } else { strict };
        t.push(format!("{prefix}{} {op} ?", ident(&cols[i])));
        order.push(i);
        terms.push(format!("({})", t.join(" AND ")));
    }
    (format!("({})", terms.join(" OR ")), order)
}

fn bind(values: &[Value], order: &[usize], out: &mut Vec<Value>) {
    out.extend(order.iter().map(|&i| values[i].clone()));
}

impl CopyPlan {
    fn table_q(&self) -> String {
        qualified(&self.database, &self.table)
    }

    /// The key as selected for chunk bounds.
    fn key_select(&self) -> String {
        self.key_columns
            .iter()
            .zip(self.key_numeric.iter().chain(std::iter::repeat(&false)))
            .map(|(c, numeric)| if *numeric { format!("{} + 0", ident(c)) } else { ident(c) })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Reads the first or last key of the table (None when empty).
    pub async fn read_edge(&self, conn: &mut Conn, last: bool) -> Result<Option<Vec<Value>>> {
        let dir = if last { " DESC" } else { "" };
        let order: Vec<String> = self.key_columns.iter().map(|c| format!("{}{dir}", ident(c))).collect();
        let sql = format!(
            "SELECT {} FROM {} FORCE INDEX ({}) ORDER BY {} LIMIT 1",
            self.key_select(),
            self.table_q(),
            ident(&self.key_index),
            order.join(", ")
        );
        let row: Option<mysql_async::Row> = conn.exec_first(sql, ()).await?;
        Ok(row.map(|r| r.unwrap()))
    }

    pub async fn read_range(&self, conn: &mut Conn) -> Result<Option<Range>> {
        let min = self.read_edge(conn, false).await?;
        let max = self.read_edge(conn, true).await?;
        Ok(match (min, max) {
            (Some(min), Some(max)) => Some(Range { min, max, resume_after: None }),
            _ => None,
        })
    }
}

/// How the copier reconnects and retries.
pub struct CopyEnv {
    pub opts: mysql_async::Opts,
    pub mode: crate::mysql::connect::WriterMode,
    pub retries: u32,
    /// Runtime settings: chunk size and nice-ratio may change mid-run.
    pub control: Arc<crate::control::server::Control>,
    /// For gh-ost-on-batch-copy-retry.
    pub hooks: crate::control::hooks::Hooks,
    /// Target time per chunk (zero: the chunk size stays as set).
    pub chunk_time: Duration,
}

/// The next chunk size toward the target time: proportional, but at most 1.5x larger or 2x smaller per
/// step (one slow chunk must not collapse it), within gh-ost's 10..100000.
pub fn adapt_chunk_size(current: u64, took: Duration, target: Duration) -> u64 {
    let ratio = (target.as_secs_f64() / took.as_secs_f64().max(1e-3)).clamp(0.5, 1.5);
    ((current as f64 * ratio) as u64).clamp(10, 100_000)
}

/// Copies the whole range. Waits while `throttled` holds a reason; stops early when `stop` turns true.
pub async fn run(
    plan: CopyPlan,
    mut conn: Conn,
    env: CopyEnv,
    range: Option<Range>,
    progress: Arc<CopyProgress>,
    mut throttled: watch::Receiver<Option<String>>,
) -> Result<()> {
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
        unthrottled(&mut throttled).await?;
        let chunk = progress.chunk_size.load(Ordering::Relaxed).max(1);
        let (lower, lower_s, lower_order) = if inclusive { (&ge, &ge_s, &ge_order) } else { (&gt, &gt_s, &gt_order) };
        // The chunk's last key: chunk-1 rows past the start, or the range max.
        let mut params = Vec::new();
        bind(&start, lower_order, &mut params);
        bind(&range.max, &le_order, &mut params);
        let sql = format!(
            "SELECT {key_select} FROM {table} {force} WHERE {lower} AND {le} ORDER BY {order_by} LIMIT 1 OFFSET {}",
            chunk - 1
        );
        let end: Vec<Value> = match conn.exec_first::<mysql_async::Row, _, _>(sql, params).await? {
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
        let chunk_started = std::time::Instant::now();
        let copied = insert_chunk(&mut conn, &insert, &params, &plan, &env, &progress).await?;
        if !env.chunk_time.is_zero() && copied > 0 {
            let took = chunk_started.elapsed().mul_f64(chunk as f64 / copied as f64);
            progress.chunk_size.store(adapt_chunk_size(chunk, took, env.chunk_time), Ordering::Relaxed);
        }
        progress.rows.fetch_add(copied, Ordering::Relaxed);
        progress.chunks.fetch_add(1, Ordering::Relaxed);
        *progress.watermark.lock().unwrap_or_else(|p| p.into_inner()) = Some(end.clone());
        let nice = env.control.nice_ratio();
        if nice > 0.0 {
            tokio::time::sleep(chunk_started.elapsed().mul_f64(nice)).await;
        }
        if end == range.max {
            break;
        }
        start = end;
        inclusive = false;
    }
    progress.done.store(true, Ordering::Relaxed);
    Ok(())
}

/// Waits while the throttler holds a reason.
async fn unthrottled(throttled: &mut watch::Receiver<Option<String>>) -> Result<()> {
    loop {
        let Some(reason) = throttled.borrow().clone() else { return Ok(()) };
        debug!("copy throttled: {reason}");
        if throttled.changed().await.is_err() {
            return Err(Error::Aborted("throttler stopped".into()));
        }
    }
}

/// Runs one chunk's INSERT ... SELECT (autocommit), retrying transient failures and duplicates; returns the
/// rows copied.
async fn insert_chunk(
    conn: &mut Conn,
    insert: &str,
    params: &[Value],
    plan: &CopyPlan,
    env: &CopyEnv,
    progress: &CopyProgress,
) -> Result<u64> {
    let mut attempt = 0;
    loop {
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
                return Ok(n);
            }
            Err(e) => {
                let e = Error::from(e);
                attempt += 1;
                progress.retries.fetch_add(1, Ordering::Relaxed);
                // A duplicate may be a race with the applier on a unique key (it resolves once the applier
                // catches up); one that persists is a row the new schema cannot hold.
                let retryable = e.is_transient() || e.server_code() == Some(1062);
                if !retryable || attempt >= env.retries.max(1) {
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
                if env.hooks.is_enabled() {
                    let event = crate::control::hooks::HookEvent::BatchCopyRetry(e.to_string());
                    let _ = env.hooks.run(&event, &crate::control::hooks::HookProgress::default()).await;
                }
                tokio::time::sleep(Duration::from_millis((100 * attempt as u64).min(2000))).await;
                if e.server_code().is_none() || matches!(e.server_code(), Some(2006 | 2013)) {
                    *conn = copy_connection(env).await?;
                }
            }
        }
    }
}

async fn copy_connection(env: &CopyEnv) -> Result<Conn> {
    let mut conn = crate::mysql::connect::connect(&env.opts, "primary (copy)", Duration::from_secs(10)).await?;
    crate::mysql::connect::setup_writer(&mut conn, env.mode).await?;
    // Short lock waits: a chunk that cannot get its locks quickly is retried rather than left holding the
    // locks it already has.
    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 3").await?;
    Ok(conn)
}

/// An integer key value as read by a chunk-bound query.
fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(n) => Some(i128::from(*n)),
        Value::UInt(n) => Some(i128::from(*n)),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

fn value_of(n: i128) -> Value {
    match i64::try_from(n) {
        Ok(i) => Value::Int(i),
        Err(_) => Value::UInt(u64::try_from(n).unwrap_or(u64::MAX)),
    }
}

/// The copy range of a single integer key as numbers: (last key already copied, max). None when the
/// range's values are not integers (then the key is not eligible for the parallel copy).
pub fn int_range(range: &Range) -> Option<(i128, i128)> {
    let one = |v: &[Value]| if v.len() == 1 { int_of(&v[0]) } else { None };
    let max = one(&range.max)?;
    let after = match &range.resume_after {
        Some(k) => one(k)?,
        None => one(&range.min)? - 1,
    };
    Some((after, max))
}

/// The parallel copy of a single NOT NULL integer key: `workers` connections each claim the next chunk
/// from the frontier and copy it with a non-locking `INSERT ... SELECT` under READ COMMITTED. The applier
/// consults the same frontier (see `frontier` for why this is exact).
pub async fn run_parallel(
    plan: CopyPlan,
    env: CopyEnv,
    frontier: Arc<Frontier>,
    workers: usize,
    progress: Arc<CopyProgress>,
    throttled: watch::Receiver<Option<String>>,
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
    let env = Arc::new(env);
    let plan = Arc::new(plan);
    // Chunk bounds are read and claimed one worker at a time, so chunks are claimed in key order.
    let cursor = Arc::new(tokio::sync::Mutex::new(()));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers.max(1) {
        let conn = copy_connection(&env).await?;
        set.spawn(worker(
            plan.clone(),
            env.clone(),
            conn,
            frontier.clone(),
            cursor.clone(),
            progress.clone(),
            throttled.clone(),
        ));
    }
    while let Some(r) = set.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error::Aborted(format!("copy worker failed: {e}"))),
        }
    }
    guard.1 = true;
    progress.done.store(true, Ordering::Relaxed);
    Ok(())
}

async fn worker(
    plan: Arc<CopyPlan>,
    env: Arc<CopyEnv>,
    mut conn: Conn,
    frontier: Arc<Frontier>,
    cursor: Arc<tokio::sync::Mutex<()>>,
    progress: Arc<CopyProgress>,
    mut throttled: watch::Receiver<Option<String>>,
) -> Result<()> {
    let key = ident(&plan.key_columns[0]);
    let table = plan.table_q();
    let ghost = qualified(&plan.database, &plan.ghost);
    let force = format!("FORCE INDEX ({})", ident(&plan.key_index));
    let select_cols = ident_list(&plan.source_columns);
    let insert_head =
        format!("INSERT INTO {ghost} ({}) SELECT {select_cols} FROM {table} {force}", ident_list(&plan.ghost_columns));
    loop {
        // Wait out throttling before claiming: a claimed chunk holds back the applier's changes to its keys.
        unthrottled(&mut throttled).await?;
        let (start, end, chunk) = {
            let _turn = cursor.lock().await;
            let Some(start) = frontier.next_start() else { return Ok(()) };
            let max = frontier.max();
            let chunk = progress.chunk_size.load(Ordering::Relaxed).max(1);
            let sql = format!(
                "SELECT {key} FROM {table} {force} WHERE {key} >= {start} AND {key} <= {max} ORDER BY {key} \
                 LIMIT 1 OFFSET {}",
                chunk - 1
            );
            let end = match conn.query_first::<Value, _>(sql).await? {
                Some(v) => int_of(&v).ok_or_else(|| Error::Aborted(format!("chunk bound {v:?} is not an integer")))?,
                None => max,
            };
            frontier.claim(start, end);
            (start, end, chunk)
        };
        let chunk_started = std::time::Instant::now();
        let insert = format!("{insert_head} WHERE {key} BETWEEN {start} AND {end}");
        let copied = insert_chunk(&mut conn, &insert, &[], &plan, &env, &progress).await?;
        let committed = frontier.commit(start);
        if !env.chunk_time.is_zero() && copied > 0 {
            // Scaled by the rows this chunk really had (the last one may be short). Workers update it in
            // turn; the control socket's chunk-size= sets a new starting point.
            let took = chunk_started.elapsed().mul_f64(chunk as f64 / copied as f64);
            progress.chunk_size.store(adapt_chunk_size(chunk, took, env.chunk_time), Ordering::Relaxed);
        }
        progress.rows.fetch_add(copied, Ordering::Relaxed);
        progress.chunks.fetch_add(1, Ordering::Relaxed);
        if committed >= start {
            *progress.watermark.lock().unwrap_or_else(|p| p.into_inner()) = Some(vec![value_of(committed)]);
        }
        let nice = env.control.nice_ratio();
        if nice > 0.0 {
            tokio::time::sleep(chunk_started.elapsed().mul_f64(nice)).await;
        }
    }
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

    #[test]
    fn bounds_expand_composite_keys() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let (sql, order) = bound(&cols, "", ">", ">=");
        assert_eq!(sql, "((`a` > ?) OR (`a` = ? AND `b` >= ?))");
        assert_eq!(order, vec![0, 0, 1]);
        let (sql, order) = bound(&cols[..1], "s.", "<", "<=");
        assert_eq!(sql, "((s.`a` <= ?))");
        assert_eq!(order, vec![0]);
    }
}
