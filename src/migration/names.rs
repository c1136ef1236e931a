//! The names a migration uses, as gh-ost makes them: the helper tables (`_<t>_gho`, `_<t>_ghc`, `_<t>_del`,
//! `_<t>_ghk`, cut so they fit MySQL's 64 characters), the lock that keeps two runs off one table, and the
//! timestamp of --timestamp-old-table. A --revert fills the --old-table and keeps the table it replaces as
//! `_<t>_rev_del`.

use crate::config::Config;
use crate::replication::changelog;

/// MySQL table names are at most 64 characters; gh-ost cuts the base name so the suffixed name fits.
fn suffixed(table: &str, suffix: &str) -> String {
    let max_base = 64 - suffix.len() - 1;
    let base: String = table.chars().take(max_base).collect();
    format!("_{base}{suffix}")
}

/// The names of the helper tables of a migration of `table`, as gh-ost names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub original: String,
    pub ghost: String,
    pub changelog: String,
    pub old: String,
    pub checkpoint: String,
}

impl TableNames {
    /// The names for a migration: from --force-table-names when given, timestamped with
    /// --timestamp-old-table.
    pub(crate) fn for_config(cfg: &Config) -> Self {
        let ts = cfg.tables.timestamp_old_table.then(timestamp);
        let mut names = TableNames::new(cfg.tables.force_table_names.as_deref().unwrap_or(&cfg.table), ts.as_deref());
        names.original = cfg.table.clone();
        // A revert migrates the table back into the old one (the "ghost" it fills and swaps in), and keeps
        // the table it replaces as `_<t>_rev_del`, as gh-ost does.
        if let Some(old) = cfg.revert.old_table.as_ref().filter(|_| cfg.revert.revert) {
            names.ghost = old.clone();
            names.old = suffixed(cfg.tables.force_table_names.as_deref().unwrap_or(&cfg.table), "_rev_del");
        }
        names
    }

    /// `table` is the migrated table, or --force-table-names when given.
    pub fn new(table: &str, timestamp_old: Option<&str>) -> Self {
        let old = match timestamp_old {
            Some(ts) => suffixed(table, &format!("_{ts}_del")),
            None => suffixed(table, "_del"),
        };
        TableNames {
            original: table.to_string(),
            ghost: suffixed(table, "_gho"),
            changelog: suffixed(table, "_ghc"),
            old,
            checkpoint: suffixed(table, "_ghk"),
        }
    }
}

/// The empty clone `wraith plan` tries the ALTER on (`_<t>_gpl`), dropped before the plan is printed.
pub(crate) fn plan_clone(table: &str) -> String {
    suffixed(table, "_gpl")
}

/// The lock that keeps two runs off one table (MySQL lock names are at most 64 characters).
pub(crate) fn lock_name(db: &str, table: &str) -> String {
    let name = format!("wraith::{db}.{table}");
    if name.len() <= 64 {
        return name;
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("wraith::{}..{h:016x}", &name.chars().take(38).collect::<String>()[8..])
}

pub(crate) fn timestamp() -> String {
    let secs = changelog::now_micros() / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant), UTC
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_64_chars() {
        let n = TableNames::new("orders", None);
        assert_eq!(n.ghost, "_orders_gho");
        assert_eq!(n.changelog, "_orders_ghc");
        assert_eq!(n.old, "_orders_del");
        let long = "x".repeat(64);
        let n = TableNames::new(&long, None);
        assert!(n.ghost.len() <= 64 && n.ghost.ends_with("_gho"));
        assert!(n.old.len() <= 64);
        let n = TableNames::new("t", Some("20260101120000"));
        assert_eq!(n.old, "_t_20260101120000_del");
    }

    #[test]
    fn lock_names_fit() {
        assert_eq!(lock_name("d", "t"), "wraith::d.t");
        assert!(lock_name(&"d".repeat(64), &"t".repeat(64)).len() <= 64);
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 14);
        assert!(t.starts_with("20"));
    }
}
