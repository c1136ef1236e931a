//! The reverse of a migration's column mapping. A migration copies old column `o` into new column `n` for
//! each recorded pair; the revert copies `n` back into `o`. Expressed as the renames and dropped columns of
//! a migration from the new table into the old one, so the forward planner (`migration::plan`) builds the
//! revert's plans unchanged. Pure: tested without a server.
//!
//! Invariants: exactly the recorded pairs are carried back. A new column that no pair fills (one the
//! migration added) is never written into the old table, even when the old table has a column of the
//! same name (a column the migration dropped and added again); old columns no pair reaches (ones the
//! migration dropped) get their defaults in rows inserted since.

use crate::mysql::schema::TableInfo;

/// A revert's view of the mapping, in the forward planner's terms (source = the migrated table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reverse {
    /// (new name, old name) for each pair whose names differ.
    pub(crate) renames: Vec<(String, String)>,
    /// Columns of the migrated table that must not be carried into the old column of the same name.
    pub(crate) dropped: Vec<String>,
    /// Columns of the old table that nothing fills: rows inserted since the cut-over get their defaults.
    pub(crate) defaulted: Vec<String>,
}

/// `pairs` are the migration's (old, new) column pairs; `new` is the migrated table, `old` the old one.
pub(crate) fn reverse(pairs: &[(String, String)], new: &TableInfo, old: &TableInfo) -> Reverse {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let renames = pairs.iter().filter(|(o, n)| !eq(o, n)).map(|(o, n)| (n.clone(), o.clone())).collect::<Vec<_>>();
    let dropped = new
        .columns
        .iter()
        .filter(|c| !pairs.iter().any(|(_, n)| eq(n, &c.name)) && old.column(&c.name).is_some())
        .map(|c| c.name.clone())
        .collect();
    let defaulted = old
        .columns
        .iter()
        .filter(|c| !c.generated && !pairs.iter().any(|(o, _)| eq(o, &c.name)))
        .map(|c| c.name.clone())
        .collect();
    Reverse { renames, dropped, defaulted }
}

/// Old columns that rows inserted since the cut-over cannot fill: NOT NULL, no default, not generated,
/// not auto-increment, and reached by no pair. A replay that meets such an insert stops.
pub(crate) fn unfillable(r: &Reverse, old: &TableInfo, has_default: impl Fn(&str) -> bool) -> Vec<String> {
    r.defaulted
        .iter()
        .filter(|name| old.column(name).is_some_and(|c| !c.nullable && !c.auto_increment && !has_default(&c.name)))
        .cloned()
        .collect()
}

/// The pairs as text for the checkpoint table: `old=new` joined by `,`, each name escaped (`\`, `,` and
/// `=` take a backslash), so any column name survives.
pub(crate) fn encode_pairs(pairs: &[(String, String)]) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(',', "\\,").replace('=', "\\=");
    pairs.iter().map(|(o, n)| format!("{}={}", esc(o), esc(n))).collect::<Vec<_>>().join(",")
}

pub(crate) fn decode_pairs(text: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let (mut cur, mut old, mut chars) = (String::new(), None::<String>, text.chars());
    let mut finish = |cur: &mut String, old: &mut Option<String>| -> Option<()> {
        let o = old.take()?;
        pairs.push((o, std::mem::take(cur)));
        Some(())
    };
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => cur.push(chars.next()?),
            '=' if old.is_none() => old = Some(std::mem::take(&mut cur)),
            ',' => finish(&mut cur, &mut old)?,
            '=' => return None,
            _ => cur.push(ch),
        }
    }
    if !text.is_empty() {
        finish(&mut cur, &mut old)?;
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::schema::Column;

    fn col(name: &str, nullable: bool) -> Column {
        Column::for_test(name, "int", nullable)
    }
    fn table(cols: Vec<Column>) -> TableInfo {
        TableInfo {
            database: "d".into(),
            name: "t".into(),
            columns: cols,
            unique_keys: vec![],
            engine: "InnoDB".into(),
            estimated_rows: 0,
        }
    }
    fn p(o: &str, n: &str) -> (String, String) {
        (o.to_string(), n.to_string())
    }

    #[test]
    fn renames_are_turned_round_and_added_columns_stay_out() {
        // Forward: CHANGE a b, ADD x, DROP COLUMN gone, DROP c + ADD c (a new c).
        let old = table(vec![col("id", false), col("a", true), col("gone", false), col("c", true)]);
        let new = table(vec![col("id", false), col("b", true), col("x", true), col("c", false)]);
        let pairs = vec![p("id", "id"), p("a", "b")];
        let r = reverse(&pairs, &new, &old);
        assert_eq!(r.renames, vec![p("b", "a")]);
        assert_eq!(r.dropped, vec!["c".to_string()], "the new c is not the old c");
        assert_eq!(r.defaulted, vec!["gone".to_string(), "c".to_string()]);
        assert_eq!(unfillable(&r, &old, |_| false), vec!["gone".to_string()], "c is nullable");
        assert!(unfillable(&r, &old, |c| c == "gone").is_empty());
        // The forward planner sees exactly the pairs, turned round.
        let shared = crate::migration::plan::shared_columns(&new, &old, &r.renames, &r.dropped);
        assert_eq!(shared, vec![p("id", "id"), p("b", "a")]);
    }

    #[test]
    fn swapped_names_map_back() {
        let old = table(vec![col("a", true), col("b", true)]);
        let new = table(vec![col("b", true), col("a", true)]);
        let pairs = vec![p("a", "b"), p("b", "a")];
        let r = reverse(&pairs, &new, &old);
        assert!(r.dropped.is_empty() && r.defaulted.is_empty());
        let shared = crate::migration::plan::shared_columns(&new, &old, &r.renames, &r.dropped);
        assert_eq!(shared, vec![p("b", "a"), p("a", "b")]);
    }

    #[test]
    fn pairs_survive_any_name() {
        let pairs = vec![p("id", "id"), p("we,ird=", "na\\me"), p("", "e")];
        assert_eq!(decode_pairs(&encode_pairs(&pairs)).unwrap(), pairs);
        assert_eq!(decode_pairs("").unwrap(), vec![]);
        assert!(decode_pairs("a").is_none() && decode_pairs("a=b=c").is_none());
    }
}
