//! The statement around the clauses, and the clauses themselves: a whole `ALTER TABLE [schema.]name ...;` is
//! accepted as well as bare clauses, so the prefix and trailing `;` are told apart from the body, which is then
//! split on top-level commas.
//!
//! Invariants: a parsed statement holds exactly one statement and a non-empty body; `ALTER [COLUMN] c ...` is a
//! clause, never a prefix; commas inside parentheses never split; no clause is empty; and a clause that takes a
//! comma-separated list (`ORDER BY`, partition commands) keeps everything after it.

use super::config;
use super::lexer::{kw, kw_any, near, tokenize, Kind, Lexed, Token};
use crate::Result;

/// The tokens of an alter value, with the `ALTER TABLE name` prefix and trailing `;` told apart from the clauses.
pub(super) struct Statement {
    pub(super) lexed: Lexed,
    /// Token range of the clauses.
    body: std::ops::Range<usize>,
    pub(super) table: Option<(Option<String>, String)>,
}

impl Statement {
    pub(super) fn parse(src: &str) -> Result<Statement> {
        let lexed = tokenize(src)?;
        let t = &lexed.tokens;
        let mut end = t.len();
        while end > 0 && t[end - 1].is_punct(';') {
            end -= 1;
        }
        if let Some(semi) = t[..end].iter().find(|t| t.is_punct(';')) {
            return Err(config(format!(
                "--alter holds more than one statement (`;` near `{}`); give a single ALTER",
                near(src, semi.start)
            )));
        }

        let mut start = 0;
        let mut table = None;
        if kw(t, 0, "ALTER") {
            // `ALTER [ONLINE|OFFLINE|IGNORE] TABLE` is a whole statement; `ALTER [COLUMN] c ...` is a clause.
            let mut i = 1;
            while kw_any(t, i, "ONLINE OFFLINE IGNORE") {
                i += 1;
            }
            if kw(t, i, "TABLE") {
                if i > 1 {
                    return Err(config(format!(
                        "`ALTER {} TABLE` is not supported: give a plain ALTER TABLE",
                        t[1].text.to_uppercase()
                    )));
                }
                let (name, next) = qualified_name(t, i + 1)
                    .ok_or_else(|| config("--alter starts with ALTER TABLE but no table name follows"))?;
                table = Some(name);
                start = next;
            }
        }
        if start >= end {
            return Err(config("empty --alter: there is nothing to change"));
        }
        Ok(Statement { lexed, body: start..end, table })
    }

    pub(super) fn body(&self) -> &[Token] {
        &self.lexed.tokens[self.body.clone()]
    }
}

/// `name` or `schema.name` at token `i`: the names and the index after them.
fn qualified_name(t: &[Token], i: usize) -> Option<((Option<String>, String), usize)> {
    let first = t.get(i)?.ident()?.to_string();
    if t.get(i + 1).is_some_and(|d| d.is_punct('.')) {
        let second = t.get(i + 2)?.ident()?.to_string();
        return Some(((Some(first), second), i + 3));
    }
    Some(((None, first), i + 1))
}

/// Splits tokens on commas outside parentheses, as index ranges.
pub(super) fn split_top_level(t: &[Token]) -> Vec<std::ops::Range<usize>> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut from = 0;
    for (i, tok) in t.iter().enumerate() {
        match tok.kind {
            Kind::Punct('(') => depth += 1,
            Kind::Punct(')') => depth = depth.saturating_sub(1),
            Kind::Punct(',') if depth == 0 => {
                parts.push(from..i);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(from..t.len());
    parts
}

/// The top-level clauses. `ORDER BY a, b` and partition commands (`DROP PARTITION p1, p2`) take comma-separated
/// lists and can only come last, so they keep everything after them.
pub(super) fn split_clauses(t: &[Token]) -> Result<Vec<&[Token]>> {
    let mut clauses = Vec::new();
    for range in split_top_level(t) {
        let part = &t[range.clone()];
        if part.is_empty() {
            return Err(config("empty clause in --alter: two commas in a row, or a comma at the start or end"));
        }
        if (kw(part, 0, "ORDER") && kw(part, 1, "BY")) || kw(part, 1, "PARTITION") {
            clauses.push(&t[range.start..]);
            break;
        }
        clauses.push(part);
    }
    Ok(clauses)
}
