//! The analysis of one top-level clause into the facts of an [`AlterAnalysis`].
//!
//! Only the leading keywords of each clause are interpreted; full syntax checking is left to the server, so a
//! clause this code does not recognise is accepted as it is. Keywords match only unquoted words, so names and
//! strings never count as `CHANGE`, `DROP` or `REFERENCES`. The only errors are for a column name (or the `TO` of
//! `RENAME COLUMN`) that the analysis needs and cannot find.

use super::config;
use super::lexer::{kw, kw_any, Kind, Token};
use super::statement::split_top_level;
use super::AlterAnalysis;
use crate::Result;

/// Words that, after `ADD` (without `COLUMN`), start an index or constraint rather than a column. All are
/// reserved, so an unquoted one can never be a column name.
const KEY_WORDS: &str = "INDEX KEY UNIQUE PRIMARY FULLTEXT SPATIAL CONSTRAINT FOREIGN CHECK PARTITION";

/// First words of the clauses that are not table options.
const ITEM_WORDS: &str =
    "ADD CHANGE MODIFY DROP ALTER RENAME CONVERT ORDER FORCE ENABLE DISABLE WITH WITHOUT REMOVE DISCARD IMPORT PARTITION";

/// Reads one clause into `a`; `text` is the clause as written, for messages.
pub(super) fn analyze_clause(t: &[Token], text: &str, a: &mut AlterAnalysis) -> Result<()> {
    let missing = |what: &str| config(format!("--alter clause `{text}` lacks {what}"));
    let first = &t[0];
    if first.is_kw("ADD") {
        let mut i = 1;
        let column = kw(t, i, "COLUMN");
        if column {
            i += 1;
        }
        i = skip_if_exists(t, i);
        if t.get(i).is_some_and(|x| x.is_punct('(')) {
            // ADD [COLUMN] (a INT, b INT, INDEX (a)): a table element list.
            let close = matching_paren(t, i);
            let list = &t[i + 1..close];
            for range in split_top_level(list) {
                add_element(&list[range], a);
            }
        } else if !column && kw_any(t, i, KEY_WORDS) {
            add_element(&t[i..], a);
        } else {
            let name = t.get(i).and_then(Token::ident).ok_or_else(|| missing("a column name"))?;
            a.added_columns.push(name.to_string());
            a.adds_foreign_key |= has_kw(&t[i..], "REFERENCES");
        }
    } else if first.is_kw("CHANGE") {
        let mut i = 1;
        if kw(t, i, "COLUMN") {
            i += 1;
        }
        i = skip_if_exists(t, i);
        let old = t.get(i).and_then(Token::ident).ok_or_else(|| missing("the old column name"))?;
        let new = t.get(i + 1).and_then(Token::ident).ok_or_else(|| missing("the new column name"))?;
        push_rename(a, old, new);
        a.adds_foreign_key |= has_kw(t, "REFERENCES");
    } else if first.is_kw("MODIFY") {
        a.adds_foreign_key |= has_kw(t, "REFERENCES");
    } else if first.is_kw("DROP") {
        if kw(t, 1, "PRIMARY") {
            a.drops_primary_key = true;
        } else if kw_any(t, 1, "INDEX KEY CONSTRAINT") {
            // The primary key's name is always PRIMARY (quoted, being reserved).
            let name = t.get(skip_if_exists(t, 2)).and_then(Token::ident);
            a.drops_primary_key |= name.is_some_and(|n| n.eq_ignore_ascii_case("PRIMARY"));
        } else if !kw_any(t, 1, "FOREIGN CHECK PARTITION") {
            let i = skip_if_exists(t, if kw(t, 1, "COLUMN") { 2 } else { 1 });
            let name = t.get(i).and_then(Token::ident).ok_or_else(|| missing("a column name"))?;
            a.dropped_columns.push(name.to_string());
        }
    } else if first.is_kw("RENAME") {
        if kw(t, 1, "COLUMN") {
            let old = t.get(2).and_then(Token::ident).ok_or_else(|| missing("the old column name"))?;
            if !kw(t, 3, "TO") {
                return Err(missing("TO"));
            }
            let new = t.get(4).and_then(Token::ident).ok_or_else(|| missing("the new column name"))?;
            push_rename(a, old, new);
        } else if !kw_any(t, 1, "INDEX KEY") {
            a.renames_table = true;
        }
    } else if !kw_any(t, 0, ITEM_WORDS) {
        // Table options, and the ALGORITHM=/LOCK= modifiers.
        table_options(t, a);
    }
    Ok(())
}

/// Skips MariaDB's `IF [NOT] EXISTS` (IF is reserved in MySQL, so it cannot be a column name).
fn skip_if_exists(t: &[Token], mut i: usize) -> usize {
    if kw(t, i, "IF") {
        i += 1;
        if kw(t, i, "NOT") {
            i += 1;
        }
        if kw(t, i, "EXISTS") {
            i += 1;
        }
    }
    i
}

/// Index of the `)` matching the `(` at `open` (balanced by the tokenizer).
fn matching_paren(t: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, tok) in t.iter().enumerate().skip(open) {
        match tok.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// One element of a table element list: a column definition or an index/constraint.
fn add_element(element: &[Token], a: &mut AlterAnalysis) {
    let Some(first) = element.first() else { return };
    if kw_any(element, 0, KEY_WORDS) {
        a.adds_foreign_key |= has_kw(element, "FOREIGN");
    } else if let Some(name) = first.ident() {
        a.added_columns.push(name.to_string());
        a.adds_foreign_key |= has_kw(element, "REFERENCES");
    }
}

/// An unquoted keyword anywhere in the tokens (strings and quoted names never match).
fn has_kw(t: &[Token], word: &str) -> bool {
    t.iter().any(|x| x.is_kw(word))
}

fn push_rename(a: &mut AlterAnalysis, old: &str, new: &str) {
    // Column names are case-insensitive in MySQL: `CHANGE a A` keeps the column.
    if old.to_lowercase() != new.to_lowercase() {
        a.renamed_columns.push((old.to_string(), new.to_string()));
    }
}

/// Space-separated table options (`ENGINE=InnoDB AUTO_INCREMENT=5 COMMENT 'x'`), up to a `PARTITION BY`.
fn table_options(t: &[Token], a: &mut AlterAnalysis) {
    let mut depth = 0usize;
    for (i, tok) in t.iter().enumerate() {
        match tok.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') => depth = depth.saturating_sub(1),
            Kind::Word if depth == 0 => {
                if tok.is_kw("PARTITION") {
                    break;
                }
                let value = || {
                    let v = if t.get(i + 1).is_some_and(|x| x.is_punct('=')) { i + 2 } else { i + 1 };
                    t.get(v).filter(|x| matches!(x.kind, Kind::Word | Kind::Backtick | Kind::Str { .. }))
                };
                if tok.is_kw("ENGINE") {
                    a.engine = value().map(|v| v.text.clone());
                } else if tok.is_kw("AUTO_INCREMENT") {
                    a.auto_increment = value().and_then(|v| v.text.parse().ok());
                } else if tok.is_kw("ALGORITHM") || tok.is_kw("LOCK") {
                    a.has_algorithm_or_lock = true;
                }
            }
            _ => {}
        }
    }
}
