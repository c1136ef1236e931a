//! Repairing a chunk the checksum found different: its key range on the ghost is deleted and copied again
//! from the original, in one transaction, reading the original with shared locks as the copy does.
//!
//! Invariants: only the ghost is written; the shared locks keep a concurrent change of those rows from
//! committing between the read and the write, so its binlog event reaches the applier after the repair
//! and wins (the same argument as the copy's); a range is rewritten whole, so rows the ghost has and the
//! original lacks are removed too.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::compare::KeyRange;
use super::{ChecksumPlan, Side};
use crate::error::Result;
use crate::mysql::sql::ident;

/// Rewrites `range` on the ghost from the original; returns the rows copied. `conn` is a writer session
/// (strict sql_mode, UTC, REPEATABLE READ).
pub(crate) async fn repair(conn: &mut Conn, plan: &ChecksumPlan, range: &KeyRange) -> Result<u64> {
    let (g_filter, g_params) = range.filter(plan, Side::Ghost);
    let (o_filter, o_params) = range.filter(plan, Side::Original);
    let ghost_cols: Vec<String> = plan.columns.iter().map(|(_, g, _)| ident(g)).collect();
    let source_cols: Vec<String> = plan.columns.iter().map(|(o, _, _)| ident(o)).collect();
    conn.query_drop("START TRANSACTION").await?;
    let result = async {
        conn.exec_drop(format!("DELETE FROM {}{g_filter}", plan.table_q(Side::Ghost)), g_params).await?;
        conn.exec_drop(
            format!(
                "INSERT INTO {} ({}) SELECT {} FROM {} FORCE INDEX ({}){o_filter} LOCK IN SHARE MODE",
                plan.table_q(Side::Ghost),
                ghost_cols.join(", "),
                source_cols.join(", "),
                plan.table_q(Side::Original),
                ident(&plan.key_index)
            ),
            o_params,
        )
        .await?;
        let copied = conn.affected_rows();
        conn.query_drop("COMMIT").await?;
        Ok(copied)
    }
    .await;
    if result.is_err() {
        let _ = conn.query_drop("ROLLBACK").await;
    }
    result
}
