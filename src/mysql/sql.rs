//! Small SQL text helpers: identifier quoting and the table names a migration uses.

/// Quotes an identifier with backticks, doubling any backtick inside.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `db`.`table`
pub fn qualified(db: &str, table: &str) -> String {
    format!("{}.{}", ident(db), ident(table))
}

/// Quotes a string literal for SQL text (only for our own trusted text such as names and markers;
/// row values go through `value::push_literal`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

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

/// Comma-joined quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names.iter().map(|n| ident(n.as_ref())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(qualified("d", "t"), "`d`.`t`");
        assert_eq!(quote("it's \\"), "'it''s \\\\'");
    }

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
}
