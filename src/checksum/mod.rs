//! Verification before the cut-over: the ghost table is compared with the original under one consistent
//! snapshot of both, chunk by chunk of the migration key, and mismatching chunks are repaired.
//!
//! Invariants:
//! - both sides of a chunk are read in transactions opened while no one could write the original and the
//!   applier had written every change made before (`snapshot`): equal tables compare equal, whatever the
//!   binlog apply does meanwhile;
//! - every compared value is normalised to the ghost column's type (`normalized`), on both sides, so a
//!   value the copy converted (charset, precision, padding, ENUM text, JSON) compares equal to its source;
//!   generated columns of the ghost are never compared (the copy does not write them);
//! - the checksum reads only; a repair writes the ghost alone, never the original (`repair`).

pub(crate) mod compare;
pub(crate) mod repair;
pub(crate) mod snapshot;

use std::fmt::Write as _;

use crate::mysql::schema::Column;
use crate::mysql::sql::{ident, qualified};

/// What the checksum compares, and how.
#[derive(Debug, Clone)]
pub(crate) struct ChecksumPlan {
    pub(crate) database: String,
    pub(crate) table: String,
    pub(crate) ghost: String,
    /// The migration key's index on the original.
    pub(crate) key_index: String,
    /// Key columns on the original and on the ghost, in key order.
    pub(crate) key_columns: Vec<String>,
    pub(crate) ghost_key_columns: Vec<String>,
    /// Key columns read as numbers for chunk bounds (ENUM, SET).
    pub(crate) key_numeric: Vec<bool>,
    /// (original column, ghost column, ghost column's definition) of every copied column.
    pub(crate) columns: Vec<(String, String, Column)>,
    /// Rows per chunk.
    pub(crate) chunk_rows: u64,
    /// The key has the same type and collation on both sides, so a key range selects the same rows on
    /// both; otherwise the table is compared as one chunk.
    pub(crate) same_key_order: bool,
}

/// How a key range is written for one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Original,
    Ghost,
}

impl ChecksumPlan {
    pub(crate) fn table_q(&self, side: Side) -> String {
        match side {
            Side::Original => qualified(&self.database, &self.table),
            Side::Ghost => qualified(&self.database, &self.ghost),
        }
    }

    pub(crate) fn keys(&self, side: Side) -> &[String] {
        match side {
            Side::Original => &self.key_columns,
            Side::Ghost => &self.ghost_key_columns,
        }
    }

    /// The normalised value of each compared column, for `side`.
    pub(crate) fn values(&self, side: Side) -> Vec<String> {
        self.columns
            .iter()
            .map(|(o, g, col)| normalized(&ident(if side == Side::Original { o } else { g }), col))
            .collect()
    }

    /// One row's digest input: each normalised value as `<length>:<bytes>`, or `N` for NULL, concatenated.
    /// Self-delimiting, so no two different rows give the same string.
    pub(crate) fn row_string(&self, side: Side) -> String {
        let parts: Vec<String> =
            self.values(side).into_iter().map(|v| format!("IFNULL(CONCAT(LENGTH({v}), ':', {v}), 'N')")).collect();
        if parts.is_empty() {
            return "''".to_string();
        }
        format!("CONCAT({})", parts.join(", "))
    }

    /// `SELECT COUNT(*), BIT_XOR(CRC32(row))` over one key range (the WHERE is appended by the caller).
    pub(crate) fn digest_select(&self, side: Side) -> String {
        let force =
            if side == Side::Original { format!(" FORCE INDEX ({})", ident(&self.key_index)) } else { String::new() };
        format!(
            "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32({})), 0) FROM {}{force}",
            self.row_string(side),
            self.table_q(side)
        )
    }
}

/// `expr` as a binary string of the value the ghost column `col` holds for it. Applied to the ghost column
/// itself it is the identity (up to the conversion to bytes); applied to the original's column it does what
/// the copy's INSERT did to the value. Character data is compared as the ghost charset's bytes.
pub(crate) fn normalized(expr: &str, col: &Column) -> String {
    let t = col.data_type.as_str();
    let unsigned = col.column_type.contains("unsigned");
    let fsp = col.datetime_precision.unwrap_or(0);
    let inner = match t {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => {
            format!("CAST({expr} AS {})", if unsigned { "UNSIGNED" } else { "SIGNED" })
        }
        "decimal" | "numeric" => {
            format!("CAST({expr} AS DECIMAL({},{}))", col.precision.unwrap_or(10), col.scale.unwrap_or(0))
        }
        "float" => format!("CAST({expr} AS FLOAT)"),
        "double" | "real" => format!("CAST({expr} AS DOUBLE)"),
        "bit" => format!("CAST({expr} AS UNSIGNED)"),
        "year" => format!("({expr} + 0)"),
        "date" => format!("CAST({expr} AS DATE)"),
        "datetime" | "timestamp" => format!("CAST({expr} AS DATETIME({fsp}))"),
        "time" => format!("CAST({expr} AS TIME({fsp}))"),
        "json" => format!("CAST(CAST({expr} AS JSON) AS CHAR CHARACTER SET utf8mb4)"),
        "binary" => format!("CAST({expr} AS BINARY({}))", col.octet_length.unwrap_or(1).max(1)),
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => format!("CAST({expr} AS BINARY)"),
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geometrycollection" | "geomcollection" => format!("CAST({expr} AS BINARY)"),
        // ENUM and SET compare by their text (a member's position may change with the ALTER).
        "enum" | "set" => {
            let cs = col.charset.as_deref().unwrap_or("utf8mb4");
            format!("CONVERT(CAST({expr} AS CHAR) USING {cs})")
        }
        // CHAR reads back without its trailing spaces.
        "char" => {
            let cs = col.charset.as_deref().unwrap_or("utf8mb4");
            format!("TRIM(TRAILING ' ' FROM CONVERT({expr} USING {cs}))")
        }
        _ => match col.charset.as_deref() {
            Some(cs) => format!("CONVERT({expr} USING {cs})"),
            None => expr.to_string(),
        },
    };
    format!("CAST({inner} AS BINARY)")
}

/// What a verification found, for the report, the hooks and the status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChecksumReport {
    pub rows: u64,
    pub chunks: u64,
    /// Chunks rewritten on the ghost from the original.
    pub repaired: u64,
    pub seconds: f64,
}

impl ChecksumReport {
    /// `verified N rows in M chunks (T s), R chunks repaired`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "verified {} rows in {} chunks ({:.1} s), {} chunks repaired",
            self.rows, self.chunks, self.seconds, self.repaired
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> Column {
        Column { ordinal: 1, column_type: column_type.into(), ..Column::for_test("c", data_type, true) }
    }

    #[test]
    fn values_are_normalised_to_the_ghost_type() {
        assert_eq!(normalized("`a`", &col("int", "int")), "CAST(CAST(`a` AS SIGNED) AS BINARY)");
        assert_eq!(normalized("`a`", &col("bigint", "bigint unsigned")), "CAST(CAST(`a` AS UNSIGNED) AS BINARY)");
        let mut d = col("decimal", "decimal(12,3)");
        d.precision = Some(12);
        d.scale = Some(3);
        assert_eq!(normalized("`a`", &d), "CAST(CAST(`a` AS DECIMAL(12,3)) AS BINARY)");
        let mut ts = col("timestamp", "timestamp(3)");
        ts.datetime_precision = Some(3);
        assert_eq!(normalized("`a`", &ts), "CAST(CAST(`a` AS DATETIME(3)) AS BINARY)");
        let mut b = col("binary", "binary(4)");
        b.octet_length = Some(4);
        assert_eq!(normalized("`a`", &b), "CAST(CAST(`a` AS BINARY(4)) AS BINARY)");
        let mut ch = col("char", "char(5)");
        ch.charset = Some("latin1".into());
        assert_eq!(normalized("`a`", &ch), "CAST(TRIM(TRAILING ' ' FROM CONVERT(`a` USING latin1)) AS BINARY)");
        let mut v = col("varchar", "varchar(5)");
        v.charset = Some("utf8mb4".into());
        assert_eq!(normalized("`a`", &v), "CAST(CONVERT(`a` USING utf8mb4) AS BINARY)");
        assert_eq!(normalized("`a`", &col("float", "float")), "CAST(CAST(`a` AS FLOAT) AS BINARY)");
        assert!(normalized("`a`", &col("json", "json")).contains("AS JSON"));
    }

    #[test]
    fn rows_are_self_delimiting() {
        let mut v = col("varchar", "varchar(5)");
        v.charset = Some("utf8mb4".into());
        let plan = ChecksumPlan {
            database: "d".into(),
            table: "t".into(),
            ghost: "_t_gho".into(),
            key_index: "PRIMARY".into(),
            key_columns: vec!["id".into()],
            ghost_key_columns: vec!["id".into()],
            key_numeric: vec![false],
            columns: vec![("id".into(), "id".into(), col("int", "int")), ("a".into(), "b".into(), v)],
            chunk_rows: 1000,
            same_key_order: true,
        };
        let o = plan.row_string(Side::Original);
        assert!(o.contains("CONVERT(`a` USING utf8mb4)") && o.contains("IFNULL(CONCAT(LENGTH("), "{o}");
        let g = plan.row_string(Side::Ghost);
        assert!(g.contains("CONVERT(`b` USING utf8mb4)"), "{g}");
        let sel = plan.digest_select(Side::Original);
        assert!(
            sel.starts_with("SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT(")
                && sel.contains("FORCE INDEX (`PRIMARY`)")
        );
        assert!(!plan.digest_select(Side::Ghost).contains("FORCE INDEX"));
    }

    #[test]
    fn the_summary_reads_as_documented() {
        let r = ChecksumReport { rows: 1000, chunks: 3, repaired: 1, seconds: 0.26 };
        assert_eq!(r.summary(), "verified 1000 rows in 3 chunks (0.3 s), 1 chunks repaired");
    }
}
