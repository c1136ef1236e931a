//! The plan of a migration: which unique key drives the copy and the apply (the migration key), and how
//! each column of the original maps to the ghost (renames followed, generated columns never written).
//! Pure functions over two table schemas: they test without a server.
//!
//! Invariant: the key is present in both tables over the same (mapped) columns, so a row's key identifies
//! the same row on both sides; a key that cannot (nullable without --allow-nullable-unique-key, FLOAT,
//! JSON, none shared) is refused before any row moves.

use super::names::TableNames;
use super::validate::Validated;
use crate::checksum::ChecksumPlan;
use crate::config::Config;
use crate::copy::order::KeyOrder;
use crate::copy::CopyPlan;
use crate::error::{Error, Result};
use crate::mysql::schema::{Column, TableInfo, UniqueKey};
use crate::mysql::value::integer_bits;
use crate::replication::applier::ApplyPlan;

/// How rows are copied, changes applied, and the result verified.
pub(crate) struct Plans {
    pub(crate) copy: CopyPlan,
    pub(crate) apply: ApplyPlan,
    pub(crate) checksum: ChecksumPlan,
}

pub(crate) fn plans(c: &Config, n: &TableNames, v: &Validated, new: &TableInfo) -> Result<Plans> {
    let old = &v.table;
    let key = choose_migration_key(old, new, &v.renames, &v.dropped, c.schema.allow_nullable_unique_key)?;
    let shared = shared_columns(old, new, &v.renames, &v.dropped);
    let pos = |name: &str| old.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name));
    let mut columns = Vec::new();
    for (o, nn) in &shared {
        let i = pos(o).ok_or_else(|| Error::Binlog(format!("column {o} vanished")))?;
        let ghost = new.column(nn).ok_or_else(|| Error::Binlog(format!("ghost column {nn} vanished")))?;
        columns.push((i, old.columns[i].clone(), ghost.clone()));
    }
    let map_name = |col: &str| {
        v.renames.iter().find(|(o, _)| o.eq_ignore_ascii_case(col)).map(|(_, n)| n.clone()).unwrap_or(col.to_string())
    };
    let mut key_cols = Vec::new();
    for k in &key.columns {
        let i = pos(k).ok_or_else(|| Error::Binlog(format!("key column {k} vanished")))?;
        let target = new.column(&map_name(k)).ok_or_else(|| Error::Binlog(format!("ghost key column {k} vanished")))?;
        key_cols.push((i, old.columns[i].clone(), target.clone()));
    }
    let same_key_order = key_cols.iter().all(|(_, oc, gc)| {
        gc.column_type == oc.column_type && gc.collation == oc.collation && gc.charset == oc.charset
    });
    let integers = |c: &Column| integer_bits(&c.data_type).is_some();
    // The parallel copy's resume clears a range of the ghost by the original's key values: the ghost's key
    // must order as the original's (integers do, whatever their width).
    let order = (!key.nullable && (same_key_order || key_cols.iter().all(|(_, oc, gc)| integers(oc) && integers(gc))))
        .then(|| KeyOrder::of_columns(&key_cols.iter().map(|(_, oc, _)| oc).collect::<Vec<_>>()))
        .flatten();
    let copy = CopyPlan {
        database: c.database.clone(),
        table: c.table.clone(),
        ghost: n.ghost.clone(),
        key_index: key.name.clone(),
        key_columns: key.columns.clone(),
        ghost_key_columns: key_cols.iter().map(|(_, _, g)| g.name.clone()).collect(),
        key_nullable: key.nullable,
        key_numeric: key
            .columns
            .iter()
            .map(|k| old.column(k).is_some_and(|c| matches!(c.data_type.as_str(), "enum" | "set")))
            .collect(),
        source_columns: shared.iter().map(|(o, _)| o.clone()).collect(),
        ghost_columns: shared.iter().map(|(_, n)| n.clone()).collect(),
        panic_on_warnings: c.copy.panic_on_warnings,
        order,
    };
    let checksum = ChecksumPlan {
        database: c.database.clone(),
        table: c.table.clone(),
        ghost: n.ghost.clone(),
        key_index: copy.key_index.clone(),
        key_columns: copy.key_columns.clone(),
        ghost_key_columns: copy.ghost_key_columns.clone(),
        key_numeric: copy.key_numeric.clone(),
        columns: shared
            .iter()
            .filter_map(|(o, g)| new.column(g).map(|gc| (o.clone(), g.clone(), gc.clone())))
            .collect(),
        chunk_rows: (c.copy.chunk_size * 10).clamp(1000, 100_000),
        same_key_order,
    };
    let apply = ApplyPlan::new(&c.database, &n.ghost, columns, key_cols);
    Ok(Plans { copy, apply, checksum })
}

/// Whether the ALTER drops this column of the original. A column dropped and then added again under its
/// name (`DROP COLUMN c, ADD COLUMN c ...`, or `DROP COLUMN c, CHANGE other c ...`) is a new column: its
/// rows get the new definition's default, as with a native ALTER, and nothing is carried over.
fn is_dropped(dropped: &[String], column: &str) -> bool {
    dropped.iter().any(|d| d.eq_ignore_ascii_case(column))
}

/// Columns copied: (old name, new name) for every column that exists in both tables and is written in the
/// new one. `renames` maps old -> new names from the ALTER; columns it drops are not shared, whatever is
/// added under their names; generated columns of the new table are skipped.
pub(crate) fn shared_columns(
    old: &TableInfo,
    new: &TableInfo,
    renames: &[(String, String)],
    dropped: &[String],
) -> Vec<(String, String)> {
    old.columns
        .iter()
        .filter(|c| !is_dropped(dropped, &c.name))
        .filter_map(|c| {
            let target = renames
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(&c.name))
                .map(|(_, n)| n.as_str())
                .unwrap_or(&c.name);
            let nc = new.column(target)?;
            (!nc.generated).then(|| (c.name.clone(), nc.name.clone()))
        })
        .collect()
}

/// The unique key that drives the copy and the apply: present in both tables over the same (mapped)
/// columns. Preference as gh-ost: PRIMARY, then non-nullable, then all-integer, then fewer columns.
pub(crate) fn choose_migration_key(
    old: &TableInfo,
    new: &TableInfo,
    renames: &[(String, String)],
    dropped: &[String],
    allow_nullable: bool,
) -> Result<UniqueKey> {
    let map_name = |c: &str| {
        renames.iter().find(|(o, _)| o.eq_ignore_ascii_case(c)).map(|(_, n)| n.clone()).unwrap_or(c.to_string())
    };
    let mut candidates: Vec<&UniqueKey> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    for k in &old.unique_keys {
        // Compared case-sensitively, as gh-ost does: `MODIFY ID int` on key column `id` is not shared. A key
        // whose columns are a subset of a new unique key still identifies one ghost row per source row.
        let mapped: Vec<String> = k.columns.iter().map(|c| map_name(c)).collect();
        let kept = !k.columns.iter().any(|c| is_dropped(dropped, c));
        let in_new = kept && new.unique_keys.iter().any(|nk| mapped.iter().all(|c| nk.columns.contains(c)));
        if !in_new {
            continue;
        }
        let bad_type = k.columns.iter().find_map(|c| {
            let col = old.column(c)?;
            matches!(col.data_type.as_str(), "float" | "double" | "json").then(|| format!("{} ({})", c, col.data_type))
        });
        if let Some(b) = bad_type {
            refused.push(format!("{} is on {b}, which cannot be compared exactly", k.name));
            continue;
        }
        if k.nullable && !allow_nullable {
            refused
                .push(format!("{} has nullable columns (use --allow-nullable-unique-key if no NULLs exist)", k.name));
            continue;
        }
        candidates.push(k);
    }
    let is_int = |k: &UniqueKey| {
        k.columns.iter().all(|c| {
            old.column(c).is_some_and(|c| {
                matches!(c.data_type.as_str(), "tinyint" | "smallint" | "mediumint" | "int" | "bigint")
            })
        })
    };
    candidates.sort_by_key(|k| (!k.primary, k.nullable, !is_int(k), k.columns.len()));
    if old.unique_keys.is_empty() {
        return Err(Error::precondition(
            format!("no PRIMARY nor UNIQUE key found in table {}.{}", old.database, old.name),
            "add a PRIMARY KEY (or a UNIQUE key on NOT NULL columns) first: rows must be identifiable",
        ));
    }
    if new.unique_keys.is_empty() {
        return Err(Error::precondition(
            format!(
                "no PRIMARY nor UNIQUE key found in table {} after the ALTER: it would leave {}.{} without one",
                new.name, old.database, old.name
            ),
            "keep or add a PRIMARY or UNIQUE key in the ALTER: rows must stay identifiable",
        ));
    }
    if let Some(k) = candidates.first() {
        for c in &k.columns {
            let was = old.column(c).map(|c| c.data_type.as_str());
            let now = new.column(&map_name(c)).map(|c| c.data_type.as_str());
            if was == Some("datetime") && now == Some("timestamp") {
                return Err(Error::precondition(
                    format!(
                        "no support at this time for converting a column from DATETIME to TIMESTAMP that is also part of the chosen unique key ({c} in {})",
                        k.name
                    ),
                    "convert the column in a separate migration that keeps another unique key",
                ));
            }
        }
    }
    match candidates.first() {
        Some(k) => Ok((*k).clone()),
        None => {
            let why = if refused.is_empty() { String::new() } else { format!(" ({})", refused.join("; ")) };
            Err(Error::precondition(
                format!(
                    "no shared unique key can be found after ALTER: {}.{} and the altered table have no usable PRIMARY or UNIQUE key over the same columns{why}",
                    old.database, old.name
                ),
                "keep a unique key (ideally the PRIMARY KEY) unchanged in the ALTER, or add one first",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::schema::Column;

    fn col(name: &str, data_type: &str, nullable: bool) -> Column {
        Column::for_test(name, data_type, nullable)
    }
    fn key(name: &str, cols: &[&str], nullable: bool) -> UniqueKey {
        UniqueKey {
            name: name.into(),
            columns: cols.iter().map(|s| s.to_string()).collect(),
            primary: name == "PRIMARY",
            nullable,
        }
    }
    fn table(columns: Vec<Column>, keys: Vec<UniqueKey>) -> TableInfo {
        TableInfo {
            database: "d".into(),
            name: "t".into(),
            columns,
            unique_keys: keys,
            engine: "InnoDB".into(),
            estimated_rows: 0,
        }
    }

    #[test]
    fn primary_is_preferred_and_renames_are_followed() {
        let old = table(
            vec![col("id", "int", false), col("u", "varchar", false)],
            vec![key("u", &["u"], false), key("PRIMARY", &["id"], false)],
        );
        let new = table(
            vec![col("id", "int", false), col("u2", "varchar", false)],
            vec![key("PRIMARY", &["id"], false), key("u", &["u2"], false)],
        );
        let renames = vec![("u".to_string(), "u2".to_string())];
        assert_eq!(choose_migration_key(&old, &new, &renames, &[], false).unwrap().name, "PRIMARY");
        assert_eq!(
            shared_columns(&old, &new, &renames, &[]),
            vec![("id".to_string(), "id".to_string()), ("u".to_string(), "u2".to_string())]
        );
    }

    #[test]
    fn nullable_float_and_missing_keys_are_refused() {
        let old = table(
            vec![col("f", "float", false), col("n", "int", true)],
            vec![key("f", &["f"], false), key("n", &["n"], true)],
        );
        let err = choose_migration_key(&old, &old, &[], &[], false).unwrap_err().to_string();
        assert!(
            err.contains("no shared unique key can be found after ALTER")
                && err.contains("float")
                && err.contains("nullable"),
            "{err}"
        );
        assert_eq!(choose_migration_key(&old, &old, &[], &[], true).unwrap().name, "n");
        let new = table(vec![col("n", "int", true)], vec![]);
        let err = choose_migration_key(&old, &new, &[], &[], true).unwrap_err().to_string();
        assert!(err.contains("no PRIMARY nor UNIQUE key found in table"), "{err}");
        let none = table(vec![col("n", "int", true)], vec![]);
        let err = choose_migration_key(&none, &old, &[], &[], true).unwrap_err().to_string();
        assert!(err.contains("no PRIMARY nor UNIQUE key found in table d.t"), "{err}");
    }

    #[test]
    fn a_column_dropped_and_added_again_is_a_new_column() {
        use crate::mysql::alter::analyze;
        let old = table(
            vec![col("id", "int", false), col("c1", "int", true), col("other", "int", true)],
            vec![key("PRIMARY", &["id"], false)],
        );
        let new = table(
            vec![col("id", "int", false), col("other", "int", true), col("c1", "int", false)],
            vec![key("PRIMARY", &["id"], false)],
        );
        let pairs = |alter: &str| {
            let a = analyze(alter).unwrap();
            shared_columns(&old, &new, &a.renamed_columns, &a.dropped_columns)
        };
        let p = |o: &str, n: &str| (o.to_string(), n.to_string());
        // DROP + ADD: the new c1 gets its default; nothing is copied into it.
        assert_eq!(
            pairs("DROP COLUMN c1, ADD COLUMN c1 INT NOT NULL DEFAULT 47"),
            vec![p("id", "id"), p("other", "other")]
        );
        // CHANGE c c keeps the column (and its data).
        assert_eq!(pairs("CHANGE c1 c1 INT NOT NULL"), vec![p("id", "id"), p("c1", "c1"), p("other", "other")]);
        // DROP + CHANGE other c1: c1's data is other's.
        let new2 = table(vec![col("id", "int", false), col("c1", "int", true)], vec![key("PRIMARY", &["id"], false)]);
        let a = analyze("DROP COLUMN c1, CHANGE COLUMN other c1 INT NULL").unwrap();
        assert_eq!(
            shared_columns(&old, &new2, &a.renamed_columns, &a.dropped_columns),
            vec![p("id", "id"), p("other", "c1")]
        );
    }

    #[test]
    fn a_key_over_a_dropped_column_is_not_shared() {
        let old = table(
            vec![col("id", "int", false), col("u", "int", false)],
            vec![key("PRIMARY", &["id"], false), key("u", &["u"], false)],
        );
        // `id` dropped and re-added: the rows' old ids say nothing about the new ones; `u` drives the copy.
        let dropped = vec!["id".to_string()];
        assert_eq!(choose_migration_key(&old, &old, &[], &dropped, false).unwrap().name, "u");
    }
}
