//! Reading the `--alter` value without a server.
//!
//! The ghost table is created `LIKE` the original and then altered with the user's clauses, so a few facts are needed
//! up front: which columns are renamed, dropped or added (to map old rows onto the new shape), whether the table itself
//! is renamed (refused), and what else the user pinned. gh-ost finds these with regular expressions; here a small
//! tokenizer that follows MySQL's lexical rules first splits the text into top-level clauses, so words inside strings,
//! comments, defaults and parentheses are never mistaken for a `CHANGE` or a `DROP`. Only the leading keywords of each
//! clause are interpreted; full syntax checking is left to the server.

use crate::error::Error;
use crate::Result;

/// What an ALTER does, as far as the migration cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlterAnalysis {
    /// Columns renamed by `CHANGE [COLUMN] old new ...` (old != new, case-insensitive compare) or
    /// `RENAME COLUMN old TO new`: (old, new).
    pub renamed_columns: Vec<(String, String)>,
    /// Columns dropped with `DROP [COLUMN] x` (not DROP INDEX/KEY/PRIMARY KEY/FOREIGN KEY/CHECK/CONSTRAINT).
    pub dropped_columns: Vec<String>,
    /// Columns added with ADD [COLUMN] (single or parenthesized list).
    pub added_columns: Vec<String>,
    /// True if the statement renames the table: `RENAME [TO|AS] x` that is not `RENAME COLUMN/INDEX/KEY`.
    pub renames_table: bool,
    /// True if it drops the PRIMARY KEY (`DROP PRIMARY KEY`, or DROP INDEX/KEY/CONSTRAINT of the one named PRIMARY).
    pub drops_primary_key: bool,
    /// Explicit ALGORITHM=/LOCK= clauses present (gh-ost strips nothing; we refuse them with a clear message).
    pub has_algorithm_or_lock: bool,
    /// ENGINE=x if set.
    pub engine: Option<String>,
    /// Adds a FOREIGN KEY (as a constraint, or an inline `REFERENCES` in a column definition).
    pub adds_foreign_key: bool,
    /// AUTO_INCREMENT=n if set: then the original table's counter must not be carried over to the ghost table.
    pub auto_increment: Option<u64>,
    /// Clauses, top-level, trimmed, as written (useful for reporting).
    pub clauses: Vec<String>,
}

impl AlterAnalysis {
    /// Refuses what cannot be done whatever the flags. Renamed columns are not refused here: they depend on
    /// `--approve-renamed-columns` / `--skip-renamed-columns`.
    pub fn check_supported(&self) -> Result<()> {
        if self.renames_table {
            return Err(config(
                "alter statement seems to RENAME the table. This is not supported: run your RENAME outside the migration",
            ));
        }
        if self.has_algorithm_or_lock {
            // The ALTER runs on the empty ghost table and the copy is online anyway: these could only fail.
            return Err(config(
                "--alter has an explicit ALGORITHM= or LOCK= clause; it does not apply to an online migration \
                 (the ALTER runs on an empty ghost table): remove it",
            ));
        }
        Ok(())
    }
}

/// Analyzes the clauses of an ALTER (a whole `ALTER TABLE t ...;` statement is accepted too).
pub fn analyze(alter: &str) -> Result<AlterAnalysis> {
    let stmt = Statement::parse(alter)?;
    let mut analysis = AlterAnalysis::default();
    for clause in split_clauses(stmt.body())? {
        let text = stmt.lexed.text(alter, clause);
        analyze_clause(clause, text, &mut analysis)?;
        analysis.clauses.push(text.to_string());
    }
    Ok(analysis)
}

/// Normalizes what users pass: strips a leading `ALTER TABLE <name>` if the user gave the whole statement (gh-ost
/// accepts both), and a trailing `;`. Returns the clause text to apply to the ghost table as
/// `ALTER TABLE ghost <returned>`. A table name given in the statement must be `table` (the schema is not checked
/// here: see [`explicit_table`]).
pub fn normalize(alter: &str, table: &str) -> Result<String> {
    let stmt = Statement::parse(alter)?;
    if let Some((_, name)) = &stmt.table {
        // Names are compared exactly: on case-sensitive servers `T` and `t` are different tables.
        if name != table {
            return Err(config(format!("--alter names table `{name}` but the table to migrate is `{table}`")));
        }
    }
    let body = stmt.body();
    let (start, end) = stmt.lexed.span_for_sql(body);
    let text = alter[start..end].trim();
    // Also reject what `analyze` would, so a bad value fails here with the same message.
    split_clauses(body)?;
    Ok(text.to_string())
}

/// The `(schema, table)` named by a whole `ALTER TABLE [schema.]table ...` statement, or `None` when only clauses
/// were given. gh-ost takes `--database`/`--table` from here when they are not set.
pub fn explicit_table(alter: &str) -> Result<Option<(Option<String>, String)>> {
    Ok(Statement::parse(alter)?.table)
}

fn config(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}

// ---------------------------------------------------------------------------------------------------------------
// Tokenizer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Unquoted keyword, identifier or number.
    Word,
    /// `` `ident` ``.
    Backtick,
    /// `'text'`, or `"text"` (`double`), which is an identifier under ANSI_QUOTES.
    Str { double: bool },
    /// Any other single character: `(`, `)`, `,`, `=`, `.`, `;`, operators.
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// Word as written; quoted tokens unescaped; the character for punctuation.
    text: String,
    /// Byte range in the source.
    start: usize,
    end: usize,
}

impl Token {
    fn is_kw(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    /// The name, if this token can be an identifier: unquoted, backticked, or double-quoted (ANSI_QUOTES; without
    /// it the server rejects the statement anyway).
    fn ident(&self) -> Option<&str> {
        match self.kind {
            Kind::Word | Kind::Backtick | Kind::Str { double: true } => Some(&self.text),
            _ => None,
        }
    }
}

fn kw(tokens: &[Token], i: usize, word: &str) -> bool {
    tokens.get(i).is_some_and(|t| t.is_kw(word))
}

/// Whether token `i` is one of the space-separated keywords in `words`.
fn kw_any(tokens: &[Token], i: usize, words: &str) -> bool {
    words.split_whitespace().any(|w| kw(tokens, i, w))
}

struct Lexed {
    tokens: Vec<Token>,
    /// Byte ranges of `/*! ... */` comments, whose content MySQL runs as code and which we tokenize as such.
    exec_comments: Vec<(usize, usize)>,
}

impl Lexed {
    /// Source text of a run of tokens, as written (for reporting).
    fn text<'a>(&self, src: &'a str, tokens: &[Token]) -> &'a str {
        match (tokens.first(), tokens.last()) {
            (Some(first), Some(last)) => &src[first.start..last.end],
            _ => "",
        }
    }

    /// Byte range of a run of tokens, widened to whole `/*! ... */` comments so the text stays valid SQL.
    fn span_for_sql(&self, tokens: &[Token]) -> (usize, usize) {
        let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
            return (0, 0);
        };
        let (mut start, mut end) = (first.start, last.end);
        for &(open, close) in &self.exec_comments {
            if open < start && start < close {
                start = open;
            }
            if open < end && end < close {
                end = close;
            }
        }
        (start, end)
    }
}

/// Up to 30 characters of the source from `pos`, to show where a problem is.
fn near(src: &str, pos: usize) -> String {
    let rest: String = src[pos..].chars().take(30).collect();
    if rest.len() < src.len() - pos {
        format!("{rest}...")
    } else {
        rest
    }
}

fn is_word_byte(b: u8) -> bool {
    // MySQL identifiers may use any character from U+0080 up, so every byte of a multi-byte UTF-8 sequence counts.
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

fn tokenize(src: &str) -> Result<Lexed> {
    let b = src.as_bytes();
    let mut tokens = Vec::new();
    let mut exec_comments = Vec::new();
    let mut open_exec: Option<usize> = None;
    let mut open_parens: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let start = i;
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'#' => i = line_end(b, i),
            // `--` starts a comment only when followed by whitespace or a control character (or the end).
            b'-' if next == Some(b'-') && b.get(i + 2).is_none_or(|&n| n <= b' ') => i = line_end(b, i),
            b'/' if next == Some(b'*') => {
                if b.get(i + 2) == Some(&b'!') && open_exec.is_none() {
                    // `/*!` or `/*!50700`: the content is code for the server.
                    open_exec = Some(i);
                    i += 3;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    match src[i + 2..].find("*/") {
                        Some(off) => i += 2 + off + 2,
                        None => {
                            return Err(config(format!("unterminated /* comment in --alter near `{}`", near(src, i))))
                        }
                    }
                }
            }
            b'*' if next == Some(b'/') && open_exec.is_some() => {
                exec_comments.push((open_exec.take().unwrap_or(i), i + 2));
                i += 2;
            }
            b'`' | b'\'' | b'"' => {
                let (text, end) = quoted(src, i)?;
                let kind = match c {
                    b'`' => Kind::Backtick,
                    _ => Kind::Str { double: c == b'"' },
                };
                tokens.push(Token { kind, text, start, end });
                i = end;
            }
            _ if is_word_byte(c) => {
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                tokens.push(Token { kind: Kind::Word, text: src[start..i].to_string(), start, end: i });
            }
            _ => {
                if c == b'(' {
                    open_parens.push(i);
                } else if c == b')' && open_parens.pop().is_none() {
                    let msg = "unbalanced parentheses in --alter: `)` without a matching `(`";
                    return Err(config(format!("{msg} near `{}`", near(src, i))));
                }
                let ch = c as char; // ASCII: bytes from 0x80 up are word bytes
                tokens.push(Token { kind: Kind::Punct(ch), text: ch.to_string(), start, end: i + 1 });
                i += 1;
            }
        }
    }
    if let Some(pos) = open_exec {
        return Err(config(format!("unterminated /*! comment in --alter near `{}`", near(src, pos))));
    }
    if let Some(&pos) = open_parens.last() {
        return Err(config(format!(
            "unbalanced parentheses in --alter: `(` is never closed near `{}`",
            near(src, pos)
        )));
    }
    Ok(Lexed { tokens, exec_comments })
}

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| from + p + 1)
}

/// Reads a quoted token starting at `start` (on the quote); returns its unescaped text and the end offset.
/// A doubled quote stands for itself; in strings (not identifiers) a backslash escapes the next character.
fn quoted(src: &str, start: usize) -> Result<(String, usize)> {
    let b = src.as_bytes();
    let q = b[start];
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == q {
            if b.get(i + 1) == Some(&q) {
                out.push(q);
                i += 2;
                continue;
            }
            return Ok((String::from_utf8_lossy(&out).into_owned(), i + 1));
        }
        if c == b'\\' && q != b'`' && i + 1 < b.len() {
            out.push(match b[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'Z' => 0x1a,
                b'b' => 0x08,
                other => other,
            });
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    let what = match q {
        b'`' => "backtick-quoted identifier",
        b'"' => "double-quoted string",
        _ => "single-quoted string",
    };
    Err(config(format!("unbalanced quotes in --alter: unterminated {what} starting at `{}`", near(src, start))))
}

// ---------------------------------------------------------------------------------------------------------------
// Statement and clauses

/// The tokens of an alter value, with the `ALTER TABLE name` prefix and trailing `;` told apart from the clauses.
struct Statement {
    lexed: Lexed,
    /// Token range of the clauses.
    body: std::ops::Range<usize>,
    table: Option<(Option<String>, String)>,
}

impl Statement {
    fn parse(src: &str) -> Result<Statement> {
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

    fn body(&self) -> &[Token] {
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
fn split_top_level(t: &[Token]) -> Vec<std::ops::Range<usize>> {
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
fn split_clauses(t: &[Token]) -> Result<Vec<&[Token]>> {
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

/// Words that, after `ADD` (without `COLUMN`), start an index or constraint rather than a column. All are
/// reserved, so an unquoted one can never be a column name.
const KEY_WORDS: &str = "INDEX KEY UNIQUE PRIMARY FULLTEXT SPATIAL CONSTRAINT FOREIGN CHECK PARTITION";

/// First words of the clauses that are not table options.
const ITEM_WORDS: &str =
    "ADD CHANGE MODIFY DROP ALTER RENAME CONVERT ORDER FORCE ENABLE DISABLE WITH WITHOUT REMOVE DISCARD IMPORT PARTITION";

/// Reads one clause into `a`; `text` is the clause as written, for messages.
fn analyze_clause(t: &[Token], text: &str, a: &mut AlterAnalysis) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn renames(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn err(alter: &str) -> String {
        match analyze(alter) {
            Err(Error::Config(msg)) => msg,
            other => panic!("expected a config error for {alter:?}, got {other:?}"),
        }
    }

    // ---- gh-ost conformance cases (one per --alter in /work/shared/conformance/cases) ----

    #[test]
    fn case_default_engine_innodb() {
        // The runner's default --alter, also fail-existing-datetime-with-zero.
        let a = analyze("engine=innodb").unwrap();
        assert_eq!(a.engine.as_deref(), Some("innodb"));
        assert_eq!(a.clauses, names(&["engine=innodb"]));
        assert!(a.renamed_columns.is_empty() && a.dropped_columns.is_empty() && a.added_columns.is_empty());
        assert!(!a.has_algorithm_or_lock && !a.renames_table);
    }

    #[test]
    fn case_rename() {
        // rename, rename-inserts-only
        let a = analyze("change column c2 c3 int not null").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("c2", "c3")]));
        assert!(a.dropped_columns.is_empty() && a.added_columns.is_empty());
    }

    #[test]
    fn case_rename_reorder_column() {
        let a = analyze("change column c2 c2a int not null after id").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("c2", "c2a")]));
    }

    #[test]
    fn case_unsigned_rename() {
        let a = analyze("change column iu iu_renamed int unsigned not null").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("iu", "iu_renamed")]));
    }

    #[test]
    fn case_reorder_columns() {
        let a = analyze("change column c2 c2 int not null after id").unwrap();
        assert!(a.renamed_columns.is_empty());
    }

    #[test]
    fn case_rename_none_column() {
        // "exchange" must not be read as CHANGE.
        let a =
            analyze("add column exchange double comment 'exchange rate used for pay in your own currency'").unwrap();
        assert!(a.renamed_columns.is_empty());
        assert_eq!(a.added_columns, names(&["exchange"]));
    }

    #[test]
    fn case_rename_none_comment() {
        // "change rate used" inside the comment must not be read as a rename.
        let a =
            analyze("add column exchange_rate double comment 'change rate used for pay in your own currency'").unwrap();
        assert!(a.renamed_columns.is_empty());
        assert_eq!(a.added_columns, names(&["exchange_rate"]));
    }

    #[test]
    fn case_modify_change_case_pk() {
        // MODIFY is never a rename; the expected failure comes from the unique-key comparison, not from here.
        let a = analyze("modify ID int").unwrap();
        assert_eq!(a, AlterAnalysis { clauses: names(&["modify ID int"]), ..Default::default() });
    }

    #[test]
    fn case_fail_rename_table() {
        let a = analyze("rename as something_else").unwrap();
        assert!(a.renames_table);
        let msg = a.check_supported().unwrap_err().to_string();
        assert!(msg.contains("alter statement seems to RENAME the table"), "{msg}");
    }

    #[test]
    fn case_generated_columns_add() {
        let a = analyze("add column sum_ab int as (a + b) virtual").unwrap();
        assert_eq!(a.added_columns, names(&["sum_ab"]));
        assert!(a.renamed_columns.is_empty());
    }

    #[test]
    fn case_swap_pk_uk() {
        let a = analyze("drop primary key, drop key its_uidx, add primary key (i, ts), add unique key id_uidx(id)")
            .unwrap();
        assert!(a.drops_primary_key);
        assert!(a.dropped_columns.is_empty() && a.added_columns.is_empty());
        assert!(!a.adds_foreign_key);
        assert_eq!(
            a.clauses,
            names(&["drop primary key", "drop key its_uidx", "add primary key (i, ts)", "add unique key id_uidx(id)"])
        );
    }

    #[test]
    fn case_swap_uk() {
        let a = analyze("drop primary key, add unique key(id)").unwrap();
        assert!(a.drops_primary_key);
        assert!(a.added_columns.is_empty());
    }

    #[test]
    fn case_shared_uk_and_fail_no_shared_uk() {
        for alter in ["drop primary key, add primary key (id, i)", "drop primary key, add primary key (i)"] {
            let a = analyze(alter).unwrap();
            assert!(a.drops_primary_key);
            assert!(a.added_columns.is_empty() && a.dropped_columns.is_empty());
        }
    }

    #[test]
    fn case_fail_drop_pk() {
        let a = analyze("change id id int, drop primary key").unwrap();
        assert!(a.drops_primary_key);
        assert!(a.renamed_columns.is_empty() && a.dropped_columns.is_empty());
    }

    #[test]
    fn case_datetime_changes() {
        // datetime-with-zero, fail-datetime-with-zero, datetime-to-timestamp-pk-fail
        for alter in [
            "change column dt dt datetime not null default '1970-00-00 00:00:00'",
            "change column t t timestamp default current_timestamp",
        ] {
            let a = analyze(alter).unwrap();
            assert!(a.renamed_columns.is_empty(), "{alter}");
            assert_eq!(a.clauses.len(), 1);
        }
    }

    #[test]
    fn case_enum() {
        let a =
            analyze("change e e enum('red', 'green', 'blue', 'orange', 'yellow') null default null collate 'utf8_bin'")
                .unwrap();
        assert!(a.renamed_columns.is_empty());
        assert_eq!(a.clauses.len(), 1, "commas inside the enum list do not split clauses");
    }

    #[test]
    fn case_alter_charset() {
        let a = analyze(
            "MODIFY `t1` varchar(128) CHARACTER SET utf8mb4 NOT NULL, MODIFY `t2` varchar(128) CHARACTER SET latin2 \
             NOT NULL, MODIFY `tutf8` varchar(128) CHARACTER SET latin1 NOT NULL",
        )
        .unwrap();
        assert_eq!(a.clauses.len(), 3);
        assert!(a.renamed_columns.is_empty() && a.engine.is_none());
    }

    #[test]
    fn case_modifies() {
        // binary-to-varbinary, copy-retries-exhausted, panic-on-warnings-..., convert-utf8mb4
        for alter in [
            "MODIFY data varbinary(32)",
            "modify column name mediumtext",
            "modify column name varchar(4) not null",
            "convert to character set utf8mb4",
        ] {
            let a = analyze(alter).unwrap();
            assert_eq!(a, AlterAnalysis { clauses: names(&[alter]), ..Default::default() }, "{alter}");
        }
    }

    #[test]
    fn case_adds() {
        // bit-add, datetime-1970, fail-no-unique-key
        for (alter, col) in [
            ("add column is_good bit null default 0", "is_good"),
            ("add column name varchar(1)", "name"),
            ("add column v varchar(32)", "v"),
        ] {
            let a = analyze(alter).unwrap();
            assert_eq!(a.added_columns, names(&[col]));
            assert!(a.renamed_columns.is_empty());
        }
    }

    // ---- lexical rules ----

    #[test]
    fn change_not_fooled_by_strings_comments_defaults() {
        let a = analyze(
            "modify c int comment 'change c d', add x varchar(10) default \"change x y\" /* change a b */, \
             add y int -- change y z\n, add z int # drop column q\n",
        )
        .unwrap();
        assert!(a.renamed_columns.is_empty());
        assert!(a.dropped_columns.is_empty());
        assert_eq!(a.added_columns, names(&["x", "y", "z"]));
        assert_eq!(a.clauses.len(), 4);
    }

    #[test]
    fn quoted_identifiers_and_escapes() {
        let a = analyze("CHANGE `a``b` `c d` INT, change \"e\" f int, drop column `x,y`").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("a`b", "c d"), ("e", "f")]));
        assert_eq!(a.dropped_columns, names(&["x,y"]));
        let a = analyze(r"add c varchar(9) default 'it''s \' , change a b', add d int").unwrap();
        assert_eq!(a.added_columns, names(&["c", "d"]));
        assert!(a.renamed_columns.is_empty());
    }

    #[test]
    fn change_keyword_and_column_optional_case_insensitive() {
        let a = analyze("Change Column a b INT, CHANGE c d int, change `e` `f` int").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("a", "b"), ("c", "d"), ("e", "f")]));
    }

    #[test]
    fn case_only_change_is_not_a_rename() {
        let a = analyze("change a A int, change `Ab` `aB` int, rename column x to X").unwrap();
        assert!(a.renamed_columns.is_empty());
    }

    #[test]
    fn rename_column() {
        let a = analyze("RENAME COLUMN a TO b, rename column `c` to `d`").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("a", "b"), ("c", "d")]));
        assert!(!a.renames_table);
    }

    #[test]
    fn rename_table_forms() {
        for alter in ["rename to t2", "RENAME AS t2", "rename t2", "add x int, rename to `db`.`t2`"] {
            assert!(analyze(alter).unwrap().renames_table, "{alter}");
        }
        for alter in ["rename index a to b", "RENAME KEY a TO b", "rename column a to b"] {
            assert!(!analyze(alter).unwrap().renames_table, "{alter}");
        }
    }

    #[test]
    fn drop_forms() {
        let a = analyze(
            "drop a, drop column b, DROP COLUMN `c`, drop index i, drop key k, drop foreign key fk, drop check ck, \
             drop constraint c1, drop primary key",
        )
        .unwrap();
        assert_eq!(a.dropped_columns, names(&["a", "b", "c"]));
        assert!(a.drops_primary_key);
        let a = analyze("drop index `PRIMARY`").unwrap();
        assert!(a.drops_primary_key && a.dropped_columns.is_empty());
        let a = analyze("drop key k").unwrap();
        assert!(!a.drops_primary_key);
    }

    #[test]
    fn add_forms() {
        let a = analyze(
            "add column (a int, `b` int, index (a)), add (c int), add d int first, add index i (a), \
             add unique (b), add fulltext (x), add constraint ck check (a > 0)",
        )
        .unwrap();
        assert_eq!(a.added_columns, names(&["a", "b", "c", "d"]));
        assert!(!a.adds_foreign_key);
    }

    #[test]
    fn foreign_keys() {
        for alter in [
            "add foreign key (a) references p(id)",
            "add constraint fk foreign key (a) references p(id)",
            "add column p_id int references p(id)",
            "add (p_id int, foreign key (p_id) references p(id))",
        ] {
            assert!(analyze(alter).unwrap().adds_foreign_key, "{alter}");
        }
        assert!(!analyze("add column x int comment 'references p(id) foreign key'").unwrap().adds_foreign_key);
    }

    #[test]
    fn algorithm_lock_engine_options() {
        let a = analyze("add x int, ALGORITHM=INPLACE, LOCK = NONE").unwrap();
        assert!(a.has_algorithm_or_lock);
        assert!(a.check_supported().unwrap_err().to_string().contains("ALGORITHM"));
        let a = analyze("ENGINE = 'InnoDB' ROW_FORMAT=DYNAMIC AUTO_INCREMENT=100, COMMENT 'engine=myisam'").unwrap();
        assert_eq!(a.engine.as_deref(), Some("InnoDB"));
        assert_eq!(a.auto_increment, Some(100));
        assert!(!a.has_algorithm_or_lock);
        assert!(a.check_supported().is_ok());
        // A column named like an option is not an option.
        let a = analyze("add column engine varchar(10), drop column `lock`").unwrap();
        assert_eq!(a.engine, None);
        assert!(!a.has_algorithm_or_lock);
        assert_eq!(a.dropped_columns, names(&["lock"]));
    }

    #[test]
    fn list_clauses_keep_their_lists() {
        let a = analyze("add x int, order by a, b").unwrap();
        assert_eq!(a.clauses, names(&["add x int", "order by a, b"]));
        let a = analyze("drop partition p1, p2").unwrap();
        assert_eq!(a.clauses, names(&["drop partition p1, p2"]));
        assert!(a.dropped_columns.is_empty());
        let a = analyze("add partition (partition p3 values less than (30))").unwrap();
        assert!(a.added_columns.is_empty());
        let a = analyze("engine=innodb partition by range (id) (partition p0 values less than (10) engine=myisam)")
            .unwrap();
        assert_eq!(a.engine.as_deref(), Some("innodb"));
    }

    #[test]
    fn executable_comments_are_code() {
        let a = analyze("add x int /*!50700 , algorithm=inplace */").unwrap();
        assert!(a.has_algorithm_or_lock);
        assert_eq!(
            normalize("add x int /*!50700 , algorithm=inplace */;", "t").unwrap(),
            "add x int /*!50700 , algorithm=inplace */"
        );
        // Optimizer-hint style comments are plain comments.
        assert!(!analyze("add x int /*+ , algorithm=inplace */").unwrap().has_algorithm_or_lock);
    }

    #[test]
    fn dash_dash_needs_a_space() {
        // `--1` is two minus signs, not a comment: the default value is part of the clause.
        let a = analyze("add x int default --1, add y int").unwrap();
        assert_eq!(a.added_columns, names(&["x", "y"]));
    }

    #[test]
    fn non_ascii_identifiers() {
        let a = analyze("change café thé int, add `名前` text").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("café", "thé")]));
        assert_eq!(a.added_columns, names(&["名前"]));
    }

    // ---- errors ----

    #[test]
    fn errors() {
        assert!(err("").contains("empty"));
        assert!(err("  -- nothing\n ; ").contains("empty"));
        assert!(err("add x varchar(10) default 'abc").contains("unterminated single-quoted string"));
        assert!(err("add x int comment \"abc").contains("double-quoted"));
        assert!(err("add `x int").contains("backtick"));
        assert!(err("add x int /* oops").contains("comment"));
        assert!(err("add x decimal(10,2").contains("never closed"));
        assert!(err("add x int)").contains("without a matching"));
        assert!(err("add x int,, add y int").contains("empty clause"));
        assert!(err("add x int,").contains("empty clause"));
        assert!(err("add x int; drop table t").contains("more than one statement"));
        assert!(err("change a").contains("new column name"));
        assert!(err("ALTER TABLE").contains("no table name"));
        assert!(err("ALTER TABLE t").contains("empty"));
        assert!(err("alter ignore table t add x int").contains("not supported"));
    }

    // ---- normalize ----

    #[test]
    fn normalize_forms() {
        assert_eq!(normalize("add x int", "t").unwrap(), "add x int");
        assert_eq!(normalize("  add x int ;  ", "t").unwrap(), "add x int");
        assert_eq!(normalize("ALTER TABLE t add x int;", "t").unwrap(), "add x int");
        assert_eq!(normalize("alter table `t` ADD x INT, drop y", "t").unwrap(), "ADD x INT, drop y");
        assert_eq!(normalize("ALTER TABLE db.t engine=innodb", "t").unwrap(), "engine=innodb");
        assert_eq!(normalize("alter table `db`.`t` engine=innodb", "t").unwrap(), "engine=innodb");
        assert_eq!(normalize("alter table `my``t` engine=innodb", "my`t").unwrap(), "engine=innodb");
        assert_eq!(normalize("add x int -- trailing note", "t").unwrap(), "add x int");
        // `ALTER COLUMN` is a clause, not a statement prefix.
        assert_eq!(normalize("alter column x set default 1", "t").unwrap(), "alter column x set default 1");
        let Err(Error::Config(msg)) = normalize("alter table other add x int", "t") else { panic!() };
        assert!(msg.contains("`other`"), "{msg}");
        assert!(normalize("alter table t", "t").is_err());
        assert!(normalize("add x int, ", "t").is_err());
    }

    #[test]
    fn explicit_table_names() {
        assert_eq!(explicit_table("add x int").unwrap(), None);
        assert_eq!(explicit_table("ALTER TABLE t add x int").unwrap(), Some((None, "t".to_string())));
        assert_eq!(
            explicit_table("alter table `d`.`t` add x int").unwrap(),
            Some((Some("d".to_string()), "t".to_string()))
        );
        assert_eq!(
            explicit_table("alter table d.t add x int").unwrap(),
            Some((Some("d".to_string()), "t".to_string()))
        );
    }

    #[test]
    fn analyze_accepts_whole_statement() {
        let a = analyze("ALTER TABLE `db`.`t` CHANGE a b INT;").unwrap();
        assert_eq!(a.renamed_columns, renames(&[("a", "b")]));
        assert_eq!(a.clauses, names(&["CHANGE a b INT"]));
    }
}
