//! The row copier: fills the ghost table from the original in migration-key order, one bounded chunk per
//! statement, between the key's min and max read at start (rows inserted above the max arrive through the
//! binlog).
//!
//! Each chunk is one `INSERT INTO ghost SELECT ... FROM t WHERE <range> AND NOT EXISTS (<row in ghost>)
//! LOCK IN SHARE MODE` under REPEATABLE READ: the shared locks (held for one chunk only) keep a concurrent
//! change from committing between our read and our write, so the binlog event of any such change is applied
//! after the copied row and wins. Rows the applier already wrote are skipped, and a plain INSERT (not
//! IGNORE) turns a row the new schema cannot hold into an error instead of a silent loss.
//!
//! A key whose order `order` computes (integers, strings in their collation, composites of these, all NOT
//! NULL) gets the parallel copy instead (`parallel`, coordinated with the applier by `frontier`).
//! Either copy stops at its next chunk once the run's `Stop` is signalled, after the statement in flight:
//! once the run has stopped its tasks, nothing writes to the ghost table. The latency pacer's pace only
//! spaces chunks out (fewer workers, pauses, shorter chunk-time targets); it never changes what a chunk is.

mod chunk;
pub(crate) mod frontier;
pub(crate) mod indexes;
pub(crate) mod order;
mod parallel;
mod serial;

use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use crate::error::Result;
use crate::mysql::connect::WriterMode;
use crate::mysql::sql::{ident, ident_list, qualified};
use crate::state::pace::PaceWatch;
use crate::state::settings::Settings;
use crate::state::stats::Stats;
use crate::state::tasks::Stop;
use crate::state::Verdict;
use frontier::{Frontier, Start};
use order::KeyOrder;

pub(crate) use parallel::run_parallel;
pub(crate) use serial::run;

#[derive(Debug, Clone)]
pub(crate) struct CopyPlan {
    pub(crate) database: String,
    pub(crate) table: String,
    pub(crate) ghost: String,
    /// Index of the migration key on the original table.
    pub(crate) key_index: String,
    /// Key columns on the original / the ghost table.
    pub(crate) key_columns: Vec<String>,
    pub(crate) ghost_key_columns: Vec<String>,
    pub(crate) key_nullable: bool,
    /// Key columns that are ENUM or SET: they sort by their numeric value, so chunk bounds are read and
    /// compared as numbers (comparing them to strings would order them alphabetically and skip rows).
    pub(crate) key_numeric: Vec<bool>,
    /// Source expressions (column names) and ghost columns, in the same order.
    pub(crate) source_columns: Vec<String>,
    pub(crate) ghost_columns: Vec<String>,
    /// Fail on any warning a chunk raises (gh-ost's --panic-on-warnings).
    pub(crate) panic_on_warnings: bool,
    /// The key's order, when `order` computes it: the key is then eligible for the parallel, non-locking copy.
    pub(crate) order: Option<KeyOrder>,
}

/// The copy range, as the key values of the first and last rows at start.
#[derive(Debug, Clone)]
pub(crate) struct Range {
    pub(crate) min: Vec<Value>,
    pub(crate) max: Vec<Value>,
    /// Resuming: the copy continues after this key (exclusive) instead of at `min`.
    pub(crate) resume_after: Option<Vec<Value>>,
}

/// `(k1 > ?) OR (k1 = ? AND k2 > ?) ...` with `op` for the last column of each term (`>`, `>=`, `<`, `<=`);
/// expanded rather than a row constructor so the range optimizer always uses the key. Returns the SQL and
/// the order in which key values must be bound.
pub(crate) fn bound(cols: &[String], prefix: &str, strict: &str, last: &str) -> (String, Vec<usize>) {
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

pub(crate) fn bind(values: &[Value], order: &[usize], out: &mut Vec<Value>) {
    out.extend(order.iter().map(|&i| values[i].clone()));
}

/// The statements of one chunk over a range of the key, for both copies: the chunk's last key (`chunk - 1`
/// rows past its start, a parameter so the statement stays the same as the chunk size changes), and the
/// `INSERT ... SELECT` of its rows. A chunk starts at a key (inclusive, the range's first) or after one
/// (the previous chunk's last) and ends at its last key, inclusive.
pub(super) struct ChunkSql {
    /// The chunk-end query, starting after / at the start key.
    end_after: String,
    end_at: String,
    /// The INSERT ... SELECT, starting after / at the start key.
    insert_after: String,
    insert_at: String,
    /// ` AND NOT EXISTS (<the row in the ghost>)`: skips rows already copied.
    pub(super) not_copied: String,
    after_order: Vec<usize>,
    at_order: Vec<usize>,
    upto_order: Vec<usize>,
}

impl ChunkSql {
    pub(super) fn new(plan: &CopyPlan) -> ChunkSql {
        let keys = &plan.key_columns;
        let (after, after_order) = bound(keys, "", ">", ">");
        let (at, at_order) = bound(keys, "", ">", ">=");
        let (upto, upto_order) = bound(keys, "", "<", "<=");
        let (after_s, _) = bound(keys, "s.", ">", ">");
        let (at_s, _) = bound(keys, "s.", ">", ">=");
        let (upto_s, _) = bound(keys, "s.", "<", "<=");
        let table = plan.table_q();
        let ghost = qualified(&plan.database, &plan.ghost);
        let force = format!("FORCE INDEX ({})", ident(&plan.key_index));
        let end = |lower: &str| {
            format!(
                "SELECT {} FROM {table} {force} WHERE {lower} AND {upto} ORDER BY {} LIMIT 1 OFFSET ?",
                plan.key_select(),
                ident_list(keys)
            )
        };
        let columns: Vec<String> = plan.source_columns.iter().map(|c| format!("s.{}", ident(c))).collect();
        let insert = |lower: &str| {
            format!(
                "INSERT INTO {ghost} ({}) SELECT {} FROM {table} AS s {force} WHERE {lower} AND {upto_s}",
                ident_list(&plan.ghost_columns),
                columns.join(", ")
            )
        };
        // NULL never equals NULL: a nullable key (the serial copy's) compares with <=>.
        let eq = if plan.key_nullable { "<=>" } else { "=" };
        let exists: Vec<String> = plan
            .ghost_key_columns
            .iter()
            .zip(keys)
            .map(|(g, k)| format!("g.{} {eq} s.{}", ident(g), ident(k)))
            .collect();
        ChunkSql {
            end_after: end(&after),
            end_at: end(&at),
            insert_after: insert(&after_s),
            insert_at: insert(&at_s),
            not_copied: format!(" AND NOT EXISTS (SELECT 1 FROM {ghost} AS g WHERE {})", exists.join(" AND ")),
            after_order,
            at_order,
            upto_order,
        }
    }

    fn lower(&self, inclusive: bool) -> &[usize] {
        if inclusive {
            &self.at_order
        } else {
            &self.after_order
        }
    }

    /// The query of the last key of a chunk of `chunk` rows from `start`, at most `max`, and its parameters.
    pub(super) fn end(&self, start: &[Value], inclusive: bool, max: &[Value], chunk: u64) -> (&str, Vec<Value>) {
        let mut params = Vec::new();
        bind(start, self.lower(inclusive), &mut params);
        bind(max, &self.upto_order, &mut params);
        params.push(Value::UInt(chunk.saturating_sub(1)));
        (if inclusive { &self.end_at } else { &self.end_after }, params)
    }

    /// The INSERT ... SELECT of the rows from `start` to `end`, and its parameters.
    pub(super) fn insert(&self, start: &[Value], inclusive: bool, end: &[Value]) -> (&str, Vec<Value>) {
        let mut params = Vec::new();
        bind(start, self.lower(inclusive), &mut params);
        bind(end, &self.upto_order, &mut params);
        (if inclusive { &self.insert_at } else { &self.insert_after }, params)
    }
}

impl CopyPlan {
    pub(super) fn table_q(&self) -> String {
        qualified(&self.database, &self.table)
    }

    /// The key as selected for chunk bounds.
    pub(super) fn key_select(&self) -> String {
        self.key_columns
            .iter()
            .zip(self.key_numeric.iter().chain(std::iter::repeat(&false)))
            .map(|(c, numeric)| if *numeric { format!("{} + 0", ident(c)) } else { ident(c) })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Reads the first or last key of the table (None when empty).
    pub(crate) async fn read_edge(&self, conn: &mut Conn, last: bool) -> Result<Option<Vec<Value>>> {
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

    pub(crate) async fn read_range(&self, conn: &mut Conn) -> Result<Option<Range>> {
        let min = self.read_edge(conn, false).await?;
        let max = self.read_edge(conn, true).await?;
        Ok(match (min, max) {
            (Some(min), Some(max)) => Some(Range { min, max, resume_after: None }),
            _ => None,
        })
    }
}

/// Awaited before a failed chunk is retried, with the error's text.
pub(crate) type RetryHook = Arc<dyn Fn(String) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// What a copy needs besides its plan: how to reconnect and retry, what it may be told mid-run, where it
/// counts, and when to stop.
pub(crate) struct CopyEnv {
    pub(crate) opts: mysql_async::Opts,
    pub(crate) mode: WriterMode,
    pub(crate) retries: u32,
    /// Runtime settings: chunk size and nice-ratio may change mid-run.
    pub(crate) settings: Arc<Settings>,
    pub(crate) stats: Arc<Stats>,
    /// Called with the error before a chunk is retried (the run hands in gh-ost's on-batch-copy-retry hook).
    pub(crate) on_retry: RetryHook,
    /// Target time per chunk (zero: the chunk size stays as set).
    pub(crate) chunk_time: Duration,
    pub(crate) throttled: Verdict,
    /// The latency pacer's pace: how many workers may copy, their pause and chunk-time scale.
    pub(crate) pace: PaceWatch,
    pub(crate) stop: Stop,
}

/// An integer key value as read by a chunk-bound query.
pub(super) fn int_of(v: &Value) -> Option<i128> {
    match v {
        Value::Int(n) => Some(i128::from(*n)),
        Value::UInt(n) => Some(i128::from(*n)),
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// The parallel copy's frontier over `range`, when the key has an order (None: the serial copy runs).
pub(crate) async fn frontier(plan: &CopyPlan, conn: &mut Conn, range: &Range) -> Result<Option<Frontier>> {
    let Some(order) = plan.order.clone() else { return Ok(None) };
    let from = range.resume_after.as_ref().unwrap_or(&range.min);
    let mut keys = order.of_values(conn, &[from.clone(), range.max.clone()]).await?.into_iter();
    let (Some(first), Some(max)) = (keys.next(), keys.next()) else { return Ok(None) };
    let start = if range.resume_after.is_some() { Start::After(first) } else { Start::At(first) };
    Ok(Some(Frontier::new(order, start, max)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
