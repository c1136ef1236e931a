//! A table's shape (columns and indexes as information_schema gives them) and the comparison of the table
//! before and after the ALTER: which columns map onto which, what each change asks of the existing data.
//!
//! The "after" shape is read from the empty clone the ALTER was applied to, so the server itself has parsed
//! the ALTER; nothing here reads SQL text except the renames and drops the ALTER reader found. Pure: no
//! server, unit-tested.

use serde::Serialize;

/// One column, with what a reverse ALTER and the data-fit checks need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ColumnShape {
    pub(crate) name: String,
    /// `DATA_TYPE`, lower case.
    pub(crate) data_type: String,
    /// `COLUMN_TYPE`, e.g. `varchar(32)`, `int unsigned`.
    pub(crate) column_type: String,
    pub(crate) nullable: bool,
    /// `COLUMN_DEFAULT` as the server prints it.
    pub(crate) default: Option<String>,
    /// `EXTRA`, lower case (`auto_increment`, `default_generated`, `stored generated`, ...).
    pub(crate) extra: String,
    pub(crate) charset: Option<String>,
    pub(crate) collation: Option<String>,
    /// `CHARACTER_MAXIMUM_LENGTH` (characters; bytes for binary types).
    pub(crate) max_length: Option<u64>,
    pub(crate) precision: Option<u64>,
    pub(crate) scale: Option<u64>,
}

impl ColumnShape {
    pub(crate) fn generated(&self) -> bool {
        self.extra.contains("generated") && !self.extra.contains("default_generated")
    }
    fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }
    /// The column's definition as `ADD COLUMN`/`MODIFY COLUMN` would give it (without the name).
    pub(crate) fn definition(&self) -> String {
        let mut d = self.column_type.clone();
        if let (Some(cs), Some(co)) = (&self.charset, &self.collation) {
            d.push_str(&format!(" CHARACTER SET {cs} COLLATE {co}"));
        }
        d.push_str(if self.nullable { " NULL" } else { " NOT NULL" });
        match &self.default {
            Some(v) if self.extra.contains("default_generated") => d.push_str(&format!(" DEFAULT ({v})")),
            Some(v) => d.push_str(&format!(" DEFAULT {}", crate::mysql::sql::quote(v))),
            None => {}
        }
        if self.extra.contains("auto_increment") {
            d.push_str(" AUTO_INCREMENT");
        }
        d
    }
}

/// One index: its name, columns in order, and uniqueness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct IndexShape {
    pub(crate) name: String,
    pub(crate) columns: Vec<String>,
    pub(crate) unique: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct TableShape {
    pub(crate) columns: Vec<ColumnShape>,
    pub(crate) indexes: Vec<IndexShape>,
}

impl TableShape {
    pub(crate) fn column(&self, name: &str) -> Option<&ColumnShape> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
    fn index(&self, name: &str) -> Option<&IndexShape> {
        self.indexes.iter().find(|i| i.name.eq_ignore_ascii_case(name))
    }
    /// True when an index starts with exactly these columns (a check on them reads the index, not the table).
    pub(crate) fn indexed(&self, cols: &[String]) -> bool {
        self.indexes.iter().any(|i| {
            i.columns.len() >= cols.len() && i.columns.iter().zip(cols).all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
    }
}

/// An old column and what it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapped<'a> {
    pub(crate) old: &'a ColumnShape,
    pub(crate) new: &'a ColumnShape,
}

/// Old columns onto new ones: renamed ones by the ALTER's renames, the rest by name; dropped columns map to
/// nothing (a column dropped and added again under its name is a new column).
pub(crate) fn mapping<'a>(
    before: &'a TableShape,
    after: &'a TableShape,
    renames: &[(String, String)],
    dropped: &[String],
) -> Vec<Mapped<'a>> {
    let mut out = Vec::new();
    for old in &before.columns {
        let new_name = match renames.iter().find(|(o, _)| o.eq_ignore_ascii_case(&old.name)) {
            Some((_, n)) => n.as_str(),
            None if dropped.iter().any(|d| d.eq_ignore_ascii_case(&old.name)) => continue,
            None => old.name.as_str(),
        };
        if let Some(new) = after.column(new_name) {
            out.push(Mapped { old, new });
        }
    }
    out
}

/// A check of the existing data against the new schema: what it is, and the SQL that counts the rows that
/// do not fit (on the original table, with old column names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct FitCheck {
    /// The finding code it raises when rows do not fit.
    pub(crate) code: &'static str,
    /// What is checked, in words.
    pub(crate) what: String,
    /// The old columns it reads.
    pub(crate) columns: Vec<String>,
    /// `SELECT <count>, <example> FROM <table> ...`: with `{table}` in place of the qualified table name.
    pub(crate) sql: String,
    /// False when an index on the columns answers it; true when it reads the whole table.
    pub(crate) scans: bool,
    /// True when the copy fails on such rows (a blocking finding); false when it changes them silently
    /// (rounds them: a warning, data lost).
    pub(crate) fails: bool,
}

fn ident(c: &str) -> String {
    crate::mysql::sql::ident(c)
}

fn is_string(c: &ColumnShape) -> bool {
    matches!(
        c.data_type.as_str(),
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

fn is_binary(c: &ColumnShape) -> bool {
    matches!(c.data_type.as_str(), "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob")
}

/// The range of an integer type: (min, max) as SQL literals.
fn integer_range(c: &ColumnShape) -> Option<(i128, i128)> {
    let bits = match c.data_type.as_str() {
        "tinyint" => 8,
        "smallint" => 16,
        "mediumint" => 24,
        "int" | "integer" => 32,
        "bigint" => 64,
        _ => return None,
    };
    Some(if c.unsigned() { (0, (1i128 << bits) - 1) } else { (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1) })
}

/// A number with digits past the point: a DECIMAL with a scale, or a DOUBLE. (FLOAT is left out: its binary
/// values are never round in decimal, so every one would count as rounded.)
fn has_fraction(c: &ColumnShape) -> bool {
    match c.data_type.as_str() {
        "decimal" => c.scale.unwrap_or(0) > 0,
        "double" => true,
        _ => false,
    }
}

fn is_numeric(c: &ColumnShape) -> bool {
    integer_range(c).is_some() || matches!(c.data_type.as_str(), "decimal" | "float" | "double")
}

/// The checks the change asks for: a new unique key (duplicates), a shorter string (too long), a new NOT
/// NULL (NULLs), a narrower number (out of range), another character set (characters lost).
pub(crate) fn fit_checks(
    before: &TableShape,
    after: &TableShape,
    renames: &[(String, String)],
    dropped: &[String],
) -> Vec<FitCheck> {
    let map = mapping(before, after, renames, dropped);
    let mut checks = Vec::new();
    for m in &map {
        let (o, n) = (m.old, m.new);
        if n.generated() {
            continue; // the server computes it: nothing is copied into it
        }
        let c = ident(&o.name);
        let one = vec![o.name.clone()];
        let scans = !before.indexed(&one);
        if o.nullable && !n.nullable {
            checks.push(FitCheck {
                code: "nulls-for-not-null",
                what: format!("NULLs in `{}`, which becomes NOT NULL", o.name),
                columns: one.clone(),
                sql: format!("SELECT COUNT(*), NULL FROM {{table}} WHERE {c} IS NULL"),
                scans,
                fails: true,
            });
        }
        let narrower = match (o.max_length, n.max_length) {
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        if (is_string(n) || is_binary(n)) && narrower && n.data_type != "enum" && n.data_type != "set" {
            let len = if is_binary(n) { "LENGTH" } else { "CHAR_LENGTH" };
            let max = n.max_length.unwrap_or(0);
            checks.push(FitCheck {
                code: "values-too-long",
                what: format!("values of `{}` longer than {max} ({})", o.name, n.column_type),
                columns: one.clone(),
                sql: format!("SELECT COUNT(*), MAX({len}({c})) FROM {{table}} WHERE {len}({c}) > {max}"),
                scans: true,
                fails: true,
            });
        }
        // The copy rounds a number to the new scale before it checks the range (127.6 fails TINYINT as 128).
        let fraction = has_fraction(o);
        let rounded = |scale: u64| if fraction { format!("ROUND({c}, {scale})") } else { c.clone() };
        if let Some((lo, hi)) = integer_range(n) {
            let wider = match integer_range(o) {
                Some((olo, ohi)) => olo < lo || ohi > hi,
                None => is_numeric(o) || is_string(o),
            };
            if wider {
                let v = rounded(0);
                checks.push(FitCheck {
                    code: "values-out-of-range",
                    what: format!("values of `{}` outside {lo}..{hi} ({})", o.name, n.column_type),
                    columns: one.clone(),
                    sql: format!("SELECT COUNT(*), MIN({c}) FROM {{table}} WHERE {v} < {lo} OR {v} > {hi}"),
                    scans,
                    fails: true,
                });
            }
        } else if n.data_type == "decimal" {
            let digits = n.precision.unwrap_or(10).saturating_sub(n.scale.unwrap_or(0));
            let narrower = match (o.data_type.as_str(), o.precision, o.scale) {
                ("decimal", Some(p), s) => p.saturating_sub(s.unwrap_or(0)) > digits,
                _ => match integer_range(o) {
                    Some((olo, ohi)) => ohi.max(-olo).to_string().len() as u64 > digits,
                    None => is_numeric(o),
                },
            };
            if narrower {
                let v = rounded(n.scale.unwrap_or(0));
                checks.push(FitCheck {
                    code: "values-out-of-range",
                    what: format!("values of `{}` with more than {digits} integer digits ({})", o.name, n.column_type),
                    columns: one.clone(),
                    sql: format!("SELECT COUNT(*), MAX(ABS({c})) FROM {{table}} WHERE ABS({v}) >= 1e{digits}"),
                    scans,
                    fails: true,
                });
            }
        }
        // A smaller scale (or an integer) rounds the digits past it: no error, even in strict mode, only a note.
        let new_scale = if integer_range(n).is_some() { Some(0) } else { n.scale.filter(|_| n.data_type == "decimal") };
        if let Some(ns) = new_scale {
            let fewer = match o.data_type.as_str() {
                "decimal" => o.scale.unwrap_or(0) > ns,
                _ => fraction,
            };
            if fewer {
                checks.push(FitCheck {
                    code: "values-rounded",
                    what: format!("values of `{}` with digits past {ns} decimal places ({})", o.name, n.column_type),
                    columns: one.clone(),
                    sql: format!("SELECT COUNT(*), MIN({c}) FROM {{table}} WHERE {c} <> ROUND({c}, {ns})"),
                    // No index answers it: every value is read.
                    scans: true,
                    fails: false,
                });
            }
        }
        if let (Some(ocs), Some(ncs)) = (&o.charset, &n.charset) {
            if ocs != ncs && ncs != "utf8mb4" && ncs != "binary" {
                checks.push(FitCheck {
                    code: "charset-loss",
                    what: format!("values of `{}` with characters {ncs} cannot hold (from {ocs})", o.name),
                    columns: one.clone(),
                    sql: format!(
                        "SELECT COUNT(*), MIN({c}) FROM {{table}} WHERE CAST(CONVERT(CONVERT({c} USING {ncs}) USING {ocs}) \
                         AS BINARY) <> CAST({c} AS BINARY)"
                    ),
                    scans: true,
                    fails: true,
                });
            }
        }
    }
    // New unique keys: an index of the new table whose column set is not already unique in the old one.
    for idx in after.indexes.iter().filter(|i| i.unique) {
        let old_cols: Option<Vec<String>> = idx
            .columns
            .iter()
            .map(|nc| map.iter().find(|m| m.new.name.eq_ignore_ascii_case(nc)).map(|m| m.old.name.clone()))
            .collect();
        let Some(old_cols) = old_cols else { continue }; // a new column in the key: no old data to check
        let already_unique = before.indexes.iter().any(|b| {
            b.unique
                && b.columns.len() <= old_cols.len()
                && b.columns.iter().all(|bc| old_cols.iter().any(|c| c.eq_ignore_ascii_case(bc)))
        });
        if already_unique {
            continue;
        }
        let list = old_cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        let not_null = old_cols.iter().map(|c| format!("{} IS NOT NULL", ident(c))).collect::<Vec<_>>().join(" AND ");
        let example = if old_cols.len() == 1 { list.clone() } else { format!("CONCAT_WS(',', {list})") };
        checks.push(FitCheck {
            code: "unique-duplicates",
            what: format!("duplicates of ({}) for the new unique key `{}`", old_cols.join(", "), idx.name),
            columns: old_cols.clone(),
            sql: format!(
                "SELECT COUNT(*), MIN(v) FROM (SELECT {example} AS v FROM {{table}} WHERE {not_null} GROUP BY {list} \
                 HAVING COUNT(*) > 1) AS wraith_plan_dups"
            ),
            scans: !before.indexed(&old_cols),
            fails: true,
        });
    }
    checks
}

/// Indexes the ALTER drops (no index of that name with the same columns is left).
pub(crate) fn dropped_indexes<'a>(before: &'a TableShape, after: &TableShape) -> Vec<&'a IndexShape> {
    before
        .indexes
        .iter()
        .filter(|b| b.name != "PRIMARY" && after.index(&b.name).is_none_or(|a| a.columns != b.columns))
        .collect()
}

/// Columns whose type changes (other than a rename): the running application may not expect the new one.
pub(crate) fn type_changes<'a>(map: &[Mapped<'a>]) -> Vec<(&'a ColumnShape, &'a ColumnShape)> {
    map.iter().filter(|m| m.old.column_type != m.new.column_type).map(|m| (m.old, m.new)).collect()
}

/// The ALTER that takes the new shape back to the old one, and what it cannot bring back.
pub(crate) fn reverse_alter(
    before: &TableShape,
    after: &TableShape,
    renames: &[(String, String)],
    dropped: &[String],
) -> (String, Vec<String>) {
    let map = mapping(before, after, renames, dropped);
    let mut clauses = Vec::new();
    let mut lost = Vec::new();
    for idx in &after.indexes {
        if idx.name != "PRIMARY" && before.index(&idx.name).is_none_or(|b| b.columns != idx.columns) {
            clauses.push(format!("DROP INDEX {}", ident(&idx.name)));
        }
    }
    for n in &after.columns {
        if !map.iter().any(|m| m.new.name.eq_ignore_ascii_case(&n.name)) {
            clauses.push(format!("DROP COLUMN {}", ident(&n.name)));
        }
    }
    for m in &map {
        if !m.old.name.eq_ignore_ascii_case(&m.new.name) {
            clauses.push(format!("CHANGE COLUMN {} {} {}", ident(&m.new.name), ident(&m.old.name), m.old.definition()));
        } else if m.old.definition() != m.new.definition() {
            clauses.push(format!("MODIFY COLUMN {} {}", ident(&m.old.name), m.old.definition()));
        }
    }
    for o in &before.columns {
        if !map.iter().any(|m| std::ptr::eq(m.old, o)) {
            clauses.push(format!("ADD COLUMN {} {}", ident(&o.name), o.definition()));
            lost.push(format!("the values of `{}` (the column comes back with its default)", o.name));
        }
    }
    for idx in dropped_indexes(before, after) {
        let kind = if idx.unique { "UNIQUE INDEX" } else { "INDEX" };
        // Old names: the reverse runs after the columns are renamed back.
        clauses.push(format!("ADD {kind} {} ({})", ident(&idx.name), crate::mysql::sql::ident_list(&idx.columns)));
    }
    (clauses.join(", "), lost)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn col(name: &str, column_type: &str, nullable: bool) -> ColumnShape {
        let data_type = column_type.split(['(', ' ']).next().unwrap_or_default().to_string();
        let max_length = column_type
            .split_once('(')
            .and_then(|(_, r)| r.trim_end_matches(|c: char| !c.is_ascii_digit()).split(',').next()?.parse().ok())
            .filter(|_| data_type.contains("char") || data_type.contains("binary"));
        let text = data_type.contains("char") || data_type.contains("text");
        ColumnShape {
            name: name.into(),
            data_type,
            column_type: column_type.into(),
            nullable,
            default: None,
            extra: String::new(),
            charset: text.then(|| "utf8mb4".to_string()),
            collation: text.then(|| "utf8mb4_0900_ai_ci".to_string()),
            max_length,
            precision: None,
            scale: None,
        }
    }

    pub(crate) fn shape(cols: Vec<ColumnShape>, idx: &[(&str, &[&str], bool)]) -> TableShape {
        TableShape {
            columns: cols,
            indexes: idx
                .iter()
                .map(|(n, c, u)| IndexShape {
                    name: n.to_string(),
                    columns: c.iter().map(|s| s.to_string()).collect(),
                    unique: *u,
                })
                .collect(),
        }
    }

    fn codes(c: &[FitCheck]) -> Vec<&str> {
        c.iter().map(|c| c.code).collect()
    }

    #[test]
    fn each_change_asks_its_check() {
        let before = shape(
            vec![
                col("id", "bigint", false),
                col("s", "varchar(64)", true),
                col("n", "int", true),
                col("e", "varchar(9)", true),
            ],
            &[("PRIMARY", &["id"], true)],
        );
        let mut latin = col("e", "varchar(9)", true);
        latin.charset = Some("latin1".into());
        let after = shape(
            vec![col("id", "bigint", false), col("s", "varchar(8)", true), col("n", "tinyint", false), latin],
            &[("PRIMARY", &["id"], true), ("u", &["s"], true)],
        );
        let c = fit_checks(&before, &after, &[], &[]);
        assert_eq!(
            codes(&c),
            ["values-too-long", "nulls-for-not-null", "values-out-of-range", "charset-loss", "unique-duplicates"]
        );
        assert!(c[0].sql.contains("CHAR_LENGTH(`s`) > 8"), "{}", c[0].sql);
        assert!(c[2].sql.contains("`n` < -128 OR `n` > 127"), "{}", c[2].sql);
        assert!(c[4].scans && c[4].sql.contains("GROUP BY `s`"));
        // The same table again: nothing to check.
        assert!(fit_checks(&before, &before, &[], &[]).is_empty());
    }

    fn dec(name: &str, column_type: &str, precision: u64, scale: u64) -> ColumnShape {
        let mut c = col(name, column_type, true);
        (c.precision, c.scale) = (Some(precision), Some(scale));
        c
    }

    #[test]
    fn narrowed_decimals_are_checked_for_range_and_rounding() {
        let before = shape(
            vec![dec("a", "decimal(8,3)", 8, 3), dec("b", "decimal(8,3)", 8, 3), dec("i", "int", 10, 0)],
            &[("ka", &["a"], false)],
        );
        // Fewer integer digits and a smaller scale: both checks; the range is checked after the rounding.
        let after = shape(
            vec![dec("a", "decimal(6,2)", 6, 2), dec("b", "decimal(9,1)", 9, 1), dec("i", "decimal(12,2)", 12, 2)],
            &[],
        );
        let c = fit_checks(&before, &after, &[], &[]);
        assert_eq!(codes(&c), ["values-out-of-range", "values-rounded", "values-rounded"], "{c:#?}");
        assert!(c[0].sql.contains("WHERE ABS(ROUND(`a`, 2)) >= 1e4") && c[0].fails && !c[0].scans, "{}", c[0].sql);
        assert!(c[1].sql.contains("WHERE `a` <> ROUND(`a`, 2)") && !c[1].fails && c[1].scans, "{}", c[1].sql);
        assert!(c[2].sql.contains("WHERE `b` <> ROUND(`b`, 1)") && c[2].columns == ["b"]);
        // A wider DECIMAL, and an INT into a DECIMAL with room for its 10 digits: nothing to check.
        let wider = shape(
            vec![dec("a", "decimal(10,4)", 10, 4), dec("b", "decimal(8,3)", 8, 3), dec("i", "decimal(12,0)", 12, 0)],
            &[],
        );
        assert!(fit_checks(&before, &wider, &[], &[]).is_empty());
        // A DECIMAL into an integer: rounded to 0 places, then checked against the integer's range.
        let to_int = shape(vec![dec("a", "tinyint", 3, 0)], &[]);
        let c = fit_checks(&before, &to_int, &[], &["b".into(), "i".into()]);
        assert_eq!(codes(&c), ["values-out-of-range", "values-rounded"]);
        assert!(c[0].sql.contains("ROUND(`a`, 0) < -128 OR ROUND(`a`, 0) > 127"), "{}", c[0].sql);
        // An INT into a DECIMAL with 9 integer digits: out of range possible, nothing to round.
        let small = shape(vec![dec("i", "decimal(11,2)", 11, 2)], &[]);
        let c = fit_checks(&before, &small, &[], &["a".into(), "b".into()]);
        assert_eq!(codes(&c), ["values-out-of-range"]);
        assert!(c[0].sql.contains("WHERE ABS(`i`) >= 1e9"), "{}", c[0].sql);
    }

    #[test]
    fn renamed_columns_are_checked_under_their_old_name_and_keys_already_unique_are_not() {
        let before = shape(vec![col("id", "bigint", false), col("a", "int", true)], &[("ua", &["a"], true)]);
        let after = shape(vec![col("id", "bigint", false), col("b", "int", false)], &[("ua", &["b"], true)]);
        let c = fit_checks(&before, &after, &[("a".into(), "b".into())], &[]);
        assert_eq!(codes(&c), ["nulls-for-not-null"]);
        assert_eq!(c[0].columns, ["a"]);
        assert!(!c[0].scans, "`a` is indexed");
    }

    #[test]
    fn reverse_alter_undoes_adds_drops_renames_and_indexes() {
        let before = shape(
            vec![col("id", "bigint", false), col("a", "int", true), col("gone", "varchar(5)", true)],
            &[("ia", &["a"], false)],
        );
        let after = shape(
            vec![col("id", "bigint", false), col("b", "int", true), col("x", "int", true)],
            &[("ix", &["x"], false)],
        );
        let (rev, lost) = reverse_alter(&before, &after, &[("a".into(), "b".into())], &["gone".into()]);
        assert_eq!(
            rev,
            "DROP INDEX `ix`, DROP COLUMN `x`, CHANGE COLUMN `b` `a` int NULL, ADD COLUMN `gone` varchar(5) CHARACTER SET \
             utf8mb4 COLLATE utf8mb4_0900_ai_ci NULL, ADD INDEX `ia` (`a`)"
        );
        assert_eq!(lost.len(), 1);
        assert_eq!(dropped_indexes(&before, &after)[0].name, "ia");
    }
}
