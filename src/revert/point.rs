//! The cut-over point: what a migration run with --checkpoint records in `_<t>_ghk` right after its
//! cut-over, for a later `--revert`: the GTID set that includes the RENAME (every change to the table after
//! it is outside the set), the (old, new) column pairs it copied, the old table's name, and both tables'
//! definitions then (SHOW CREATE TABLE without the name and AUTO_INCREMENT), so a revert can tell whether
//! either table was changed since.
//!
//! Invariant: a point is written only after the RENAME succeeded; the row is the checkpoint table's
//! latest, and a revert reads the latest row that carries a point.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::mapping::{decode_pairs, encode_pairs};
use crate::error::{Error, Result};
use crate::mysql::gtid::GtidSet;
use crate::mysql::sql::{qualified, quote};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CutOverPoint {
    pub(crate) alter: String,
    /// Every transaction up to and including the cut-over's RENAME.
    pub(crate) gtid: GtidSet,
    /// (old column, new column) for each column the migration copied.
    pub(crate) pairs: Vec<(String, String)>,
    pub(crate) old_table: String,
    pub(crate) old_definition: String,
    pub(crate) new_definition: String,
    /// When the point was recorded (server time, as text).
    pub(crate) at: String,
}

/// The columns the checkpoint table gains for the point (NULL in the rows the copy writes).
pub(crate) const COLUMNS: &str = "cut_over_gtid text null, column_pairs text null, old_table varchar(64) null, \
                                  old_definition mediumtext null, new_definition mediumtext null";

pub(crate) async fn write(conn: &mut Conn, db: &str, checkpoint: &str, p: &CutOverPoint) -> Result<()> {
    let t = qualified(db, checkpoint);
    conn.query_drop(format!(
        "INSERT INTO {t} (alter_statement, gtid_applied, copy_done, rows_copied, events_applied, cut_over_gtid, \
         column_pairs, old_table, old_definition, new_definition) VALUES ({}, {}, 1, 0, 0, {}, {}, {}, {}, {})",
        quote(&p.alter),
        quote(&p.gtid.to_string()),
        quote(&p.gtid.to_string()),
        quote(&encode_pairs(&p.pairs)),
        quote(&p.old_table),
        quote(&p.old_definition),
        quote(&p.new_definition),
    ))
    .await?;
    Ok(())
}

/// The latest cut-over point in the checkpoint table, if any. A table created without the point's columns
/// (an older wraith) holds none.
pub(crate) async fn read(conn: &mut Conn, db: &str, checkpoint: &str) -> Result<Option<CutOverPoint>> {
    type Row = (String, String, String, String, String, String, String);
    let sql = format!(
        "SELECT alter_statement, cut_over_gtid, column_pairs, old_table, old_definition, new_definition, \
         CAST(created_at AS CHAR) FROM {} WHERE cut_over_gtid IS NOT NULL ORDER BY id DESC LIMIT 1",
        qualified(db, checkpoint)
    );
    let row: Option<Row> = match conn.query_first(sql).await {
        Ok(r) => r,
        Err(mysql_async::Error::Server(e)) if e.code == crate::error::codes::ER_BAD_FIELD_ERROR => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some((alter, gtid, pairs, old_table, old_definition, new_definition, at)) = row else { return Ok(None) };
    let pairs = decode_pairs(&pairs)
        .ok_or_else(|| Error::Config(format!("corrupt column pairs {pairs:?} in {db}.{checkpoint}")))?;
    Ok(Some(CutOverPoint { alter, gtid: GtidSet::parse(&gtid)?, pairs, old_table, old_definition, new_definition, at }))
}

/// A table's definition as SHOW CREATE TABLE gives it, without its name and its AUTO_INCREMENT counter
/// (which writes move): two tables with the same definition compare equal.
pub(crate) async fn definition(conn: &mut Conn, db: &str, table: &str) -> Result<Option<String>> {
    Ok(crate::mysql::inspector::show_create(conn, db, table).await?.map(|create| normalize_definition(&create)))
}

pub(crate) fn normalize_definition(create: &str) -> String {
    let body = create.split_once('\n').map_or(create, |(_, rest)| rest);
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find(" AUTO_INCREMENT=") {
        out.push_str(&rest[..i]);
        let after = &rest[i + " AUTO_INCREMENT=".len()..];
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_compare_without_name_and_counter() {
        let a = "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=utf8mb4";
        let b = "CREATE TABLE `_t_del` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4";
        assert_eq!(normalize_definition(a), normalize_definition(b));
        assert!(normalize_definition(a).contains("`id` int NOT NULL AUTO_INCREMENT,"), "the column attribute stays");
        let c = b.replace("int NOT NULL", "bigint NOT NULL");
        assert_ne!(normalize_definition(a), normalize_definition(&c));
    }
}
