//! One pass of the comparison: the key space cut into chunks (bounds read from the original), each chunk's
//! count and `BIT_XOR(CRC32(row))` computed on the server for both tables, in parallel on a pool of
//! connections that hold the same consistent snapshot.
//!
//! Invariants: the chunks cover the whole key space (the first has no lower bound, the last no upper
//! bound), so a row that exists on one side only is found wherever its key lies; the pass only reads.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use tokio::sync::Mutex;

use super::{ChecksumPlan, Side};
use crate::copy::{bind, bound};
use crate::error::{Error, Result};
use crate::mysql::sql::ident;
use crate::state::pace::{self, PaceWatch};
use crate::state::stats::Stats;
use crate::state::tasks::Stop;
use crate::state::Verdict;

/// A chunk of the key space: keys above `after` (exclusive) up to `upto` (inclusive); None is unbounded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyRange {
    pub(crate) after: Option<Vec<Value>>,
    pub(crate) upto: Option<Vec<Value>>,
}

impl KeyRange {
    /// ` WHERE ...` for `side` (empty for the whole table) and its parameters.
    pub(crate) fn filter(&self, plan: &ChecksumPlan, side: Side) -> (String, Vec<Value>) {
        let keys = plan.keys(side);
        let mut terms = Vec::new();
        let mut params = Vec::new();
        if let Some(after) = &self.after {
            let (sql, order) = bound(keys, "", ">", ">");
            terms.push(sql);
            bind(after, &order, &mut params);
        }
        if let Some(upto) = &self.upto {
            let (sql, order) = bound(keys, "", "<", "<=");
            terms.push(sql);
            bind(upto, &order, &mut params);
        }
        if terms.is_empty() {
            return (String::new(), params);
        }
        (format!(" WHERE {}", terms.join(" AND ")), params)
    }

    /// The range for messages: `(id) in (5, 1000]`.
    pub(crate) fn describe(&self, plan: &ChecksumPlan) -> String {
        let show = |v: &Option<Vec<Value>>| match v {
            Some(v) => v.iter().map(|x| x.as_sql(false)).collect::<Vec<_>>().join(", "),
            None => "-inf".to_string(),
        };
        let upto = match &self.upto {
            Some(_) => show(&self.upto),
            None => "+inf".to_string(),
        };
        format!("({}) in ({}, {}]", plan.key_columns.join(", "), show(&self.after), upto)
    }
}

/// What one pass found.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    pub(crate) rows: u64,
    pub(crate) chunks: u64,
    /// The chunks that differ, in key order.
    pub(crate) mismatches: Vec<KeyRange>,
    /// The first differing row of the first chunk that differs (found row by row).
    pub(crate) first_difference: Option<String>,
}

/// The least level the pacer holds a pass to, in connections' worth: a pass writes nothing and replicates
/// nothing, so the pacer's least copy level (1/4 by default) stretched a 3 s pass of 1M rows to 20 s
/// (docs/performance.md) for little the application felt.
const LEAST_LEVEL: f64 = 1.0;

/// How many differing chunks are read row by row to name their first difference.
const DETAILED: usize = 8;

/// Where the next chunk starts, shared by the workers.
struct Cursor {
    /// Given ranges (a re-check after repairs), or None to walk the whole key space.
    queue: Option<VecDeque<KeyRange>>,
    after: Option<Vec<Value>>,
    done: bool,
    /// Chunks handed out so far (numbers them in key order).
    handed: u64,
}

/// Compares every chunk (or only `ranges`) on `pool`, whose connections hold one consistent snapshot, at
/// the latency pacer's `pace` (its workers and pauses, as for the copy: the pass reads both tables whole).
pub(crate) async fn run_pass(
    plan: Arc<ChecksumPlan>,
    pool: Vec<Conn>,
    ranges: Option<Vec<KeyRange>>,
    throttled: Verdict,
    pace: PaceWatch,
    stop: Stop,
    stats: Arc<Stats>,
) -> Result<Pass> {
    stats.checksum.running.store(true, Ordering::Relaxed);
    let pass = compare_all(plan, pool, ranges, throttled, pace, stop, stats.clone()).await;
    stats.checksum.running.store(false, Ordering::Relaxed);
    pass
}

async fn compare_all(
    plan: Arc<ChecksumPlan>,
    pool: Vec<Conn>,
    ranges: Option<Vec<KeyRange>>,
    throttled: Verdict,
    pace: PaceWatch,
    stop: Stop,
    stats: Arc<Stats>,
) -> Result<Pass> {
    stats.checksum.rows.store(0, Ordering::Relaxed);
    stats.checksum.chunks.store(0, Ordering::Relaxed);
    // A key whose order differs between the tables (another type or collation) cannot cut both the same
    // way: one chunk, the whole table.
    let ranges = match ranges {
        None if !plan.same_key_order => Some(vec![KeyRange { after: None, upto: None }]),
        r => r,
    };
    let cursor =
        Arc::new(Mutex::new(Cursor { queue: ranges.map(VecDeque::from), after: None, done: false, handed: 0 }));
    let pass = Arc::new(std::sync::Mutex::new(Found::default()));
    let size = pool.len();
    let workers = pool.into_iter().map(|conn| {
        let shared = Shared { cursor: cursor.clone(), pass: pass.clone(), stats: stats.clone() };
        let pacing = Pacing { throttled: throttled.clone(), pace: pace.clone(), workers: size, stop: stop.clone() };
        worker(plan.clone(), conn, shared, pacing)
    });
    futures_util::future::try_join_all(workers).await?;
    let mut found = std::mem::take(&mut *pass.lock().unwrap_or_else(|p| p.into_inner()));
    // Reported in key order, whichever worker found them: the chunks are numbered in walk order.
    found.mismatches.sort_by_key(|(n, _, _)| *n);
    Ok(Pass {
        rows: found.rows,
        chunks: found.chunks,
        first_difference: found.mismatches.first().and_then(|(_, _, d)| d.clone()),
        mismatches: found.mismatches.into_iter().map(|(_, r, _)| r).collect(),
    })
}

/// The workers' shared findings: (chunk number, range, first difference) of each differing chunk.
#[derive(Debug, Default)]
struct Found {
    rows: u64,
    chunks: u64,
    mismatches: Vec<(u64, KeyRange, Option<String>)>,
}

/// What the workers share.
struct Shared {
    cursor: Arc<Mutex<Cursor>>,
    pass: Arc<std::sync::Mutex<Found>>,
    stats: Arc<Stats>,
}

/// What holds a worker back: the throttles, and the pacer (one of `workers`, all comparing).
struct Pacing {
    throttled: Verdict,
    pace: PaceWatch,
    workers: usize,
    stop: Stop,
}

async fn worker(plan: Arc<ChecksumPlan>, mut conn: Conn, shared: Shared, pacing: Pacing) -> Result<()> {
    let Shared { cursor, pass, stats } = shared;
    let Pacing { mut throttled, pace, workers, mut stop } = pacing;
    loop {
        paced(&mut throttled, &mut stop).await?;
        let began = std::time::Instant::now();
        let (number, range) = {
            let mut c = cursor.lock().await;
            if c.done {
                break;
            }
            c.handed += 1;
            let number = c.handed;
            let range = match c.queue.as_mut() {
                Some(q) => match q.pop_front() {
                    Some(r) => r,
                    None => break,
                },
                None => {
                    let upto = next_bound(&plan, &mut conn, c.after.as_ref()).await?;
                    let r = KeyRange { after: c.after.clone(), upto: upto.clone() };
                    match upto {
                        Some(u) => c.after = Some(u),
                        None => c.done = true,
                    }
                    r
                }
            };
            (number, range)
        };
        let (o_rows, o_sum) = digest(&plan, &mut conn, &range, Side::Original).await?;
        let (g_rows, g_sum) = digest(&plan, &mut conn, &range, Side::Ghost).await?;
        stats.checksum.rows.fetch_add(o_rows, Ordering::Relaxed);
        stats.checksum.chunks.fetch_add(1, Ordering::Relaxed);
        let equal = o_rows == g_rows && o_sum == g_sum;
        let need_detail = !equal && pass.lock().unwrap_or_else(|p| p.into_inner()).mismatches.len() < DETAILED;
        let detail = if need_detail { Some(first_difference(&plan, &mut conn, &range).await?) } else { None };
        {
            let mut p = pass.lock().unwrap_or_else(|p| p.into_inner());
            p.rows += o_rows;
            p.chunks += 1;
            if !equal {
                tracing::warn!(
                    "checksum: chunk {} differs (original {o_rows} rows, ghost {g_rows} rows)",
                    range.describe(&plan)
                );
                p.mismatches.push((number, range, detail));
            }
        }
        pace::pause(&pace, workers, LEAST_LEVEL, began.elapsed(), &mut stop).await;
    }
    // The snapshot's transaction ends with the connection.
    let _ = conn.query_drop("COMMIT").await;
    Ok(())
}

/// Waits while a throttle holds for a reason other than replication lag: the checksum writes nothing to
/// the binlog, so lag is no reason to hold it, but load, flag files and the throttle command are.
async fn paced(throttled: &mut Verdict, stop: &mut Stop) -> Result<()> {
    loop {
        stop.check()?;
        let reason = throttled.borrow_and_update().clone();
        match reason {
            Some(r) if !r.contains("lag") => {
                tracing::debug!("checksum paced: {r}");
                tokio::select! {
                    changed = throttled.changed() => {
                        if changed.is_err() {
                            return Err(Error::Aborted("throttler stopped".into()));
                        }
                    }
                    _ = stop.stopped() => {}
                }
            }
            _ => return Ok(()),
        }
    }
}

/// The last key of the chunk that starts after `after`, or None when the rest of the table fits in one.
async fn next_bound(plan: &ChecksumPlan, conn: &mut Conn, after: Option<&Vec<Value>>) -> Result<Option<Vec<Value>>> {
    let select: Vec<String> = plan
        .key_columns
        .iter()
        .zip(plan.key_numeric.iter().chain(std::iter::repeat(&false)))
        .map(|(c, numeric)| if *numeric { format!("{} + 0", ident(c)) } else { ident(c) })
        .collect();
    let order: Vec<String> = plan.key_columns.iter().map(|c| ident(c)).collect();
    let range = KeyRange { after: after.cloned(), upto: None };
    let (filter, params) = range.filter(plan, Side::Original);
    let sql = format!(
        "SELECT {} FROM {} FORCE INDEX ({}){filter} ORDER BY {} LIMIT 1 OFFSET {}",
        select.join(", "),
        plan.table_q(Side::Original),
        ident(&plan.key_index),
        order.join(", "),
        plan.chunk_rows.max(1) - 1
    );
    let row: Option<Row> = conn.exec_first(sql, params).await?;
    Ok(row.map(|r| r.unwrap()))
}

async fn digest(plan: &ChecksumPlan, conn: &mut Conn, range: &KeyRange, side: Side) -> Result<(u64, u64)> {
    let (filter, params) = range.filter(plan, side);
    let sql = format!("{}{filter}", plan.digest_select(side));
    let row: Option<(u64, u64)> = conn.exec_first(sql, params).await?;
    Ok(row.unwrap_or((0, 0)))
}

/// The first row (in key order) that differs between the tables in `range`, and its differing columns.
async fn first_difference(plan: &ChecksumPlan, conn: &mut Conn, range: &KeyRange) -> Result<String> {
    let read = |side: Side| {
        let keys: Vec<String> = plan.keys(side).iter().map(|k| ident(k)).collect();
        let mut cols = keys.clone();
        cols.extend(plan.values(side).into_iter().map(|v| format!("HEX({v})")));
        let (filter, params) = range.filter(plan, side);
        let sql =
            format!("SELECT {} FROM {}{filter} ORDER BY {}", cols.join(", "), plan.table_q(side), keys.join(", "));
        (sql, params)
    };
    let (sql, params) = read(Side::Original);
    let original: Vec<Row> = conn.exec(sql, params).await?;
    let (sql, params) = read(Side::Ghost);
    let ghost: Vec<Row> = conn.exec(sql, params).await?;
    let nkeys = plan.key_columns.len();
    let text = |r: &Row, i: usize| r.as_ref(i).map(|v| v.as_sql(false)).unwrap_or_default();
    let key_of = |r: &Row| (0..nkeys).map(|i| text(r, i)).collect::<Vec<_>>();
    // The normalised values are bytes: shown as hex literals.
    let hex = |r: &Row, i: usize| match r.as_ref(i) {
        Some(Value::Bytes(b)) => format!("x'{}'", String::from_utf8_lossy(b)),
        _ => "NULL".to_string(),
    };
    let key_text = |k: &[String]| format!("({}) = ({})", plan.key_columns.join(", "), k.join(", "));
    let (mut i, mut j) = (0, 0);
    loop {
        match (original.get(i), ghost.get(j)) {
            (None, None) => break,
            (Some(o), None) => return Ok(format!("row {} is missing from the ghost table", key_text(&key_of(o)))),
            (None, Some(g)) => {
                return Ok(format!("row {} is in the ghost table but not in the original", key_text(&key_of(g))))
            }
            (Some(o), Some(g)) if key_of(o) == key_of(g) => {
                let differing: Vec<String> = plan
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(c, _)| text(o, nkeys + c) != text(g, nkeys + c))
                    .map(|(c, (name, _, _))| {
                        format!("{name} (original {}, ghost {})", hex(o, nkeys + c), hex(g, nkeys + c))
                    })
                    .collect();
                if !differing.is_empty() {
                    return Ok(format!("row {} differs in {}", key_text(&key_of(o)), differing.join(", ")));
                }
                i += 1;
                j += 1;
            }
            // Different keys: the one the other side lacks comes first in key order.
            (Some(o), Some(g)) => {
                if !ghost.iter().any(|r| key_of(r) == key_of(o)) {
                    return Ok(format!("row {} is missing from the ghost table", key_text(&key_of(o))));
                }
                return Ok(format!("row {} is in the ghost table but not in the original", key_text(&key_of(g))));
            }
        }
    }
    Ok("the chunk's digests differ, but no differing row was found on a second read".to_string())
}
