//! Reading the `--alter` value without a server.
//!
//! The ghost table is created `LIKE` the original and then altered with the user's clauses, so a few facts are needed
//! up front: which columns are renamed, dropped or added (to map old rows onto the new shape), whether the table itself
//! is renamed (refused), and what else the user pinned. gh-ost finds these with regular expressions; here a small
//! tokenizer that follows MySQL's lexical rules ([`lexer`]) first splits the text into top-level clauses
//! ([`statement`]), so words inside strings, comments, defaults and parentheses are never mistaken for a `CHANGE` or
//! a `DROP`; then each clause is read on its own ([`clauses`]). Only the leading keywords of each clause are
//! interpreted; full syntax checking is left to the server.
//!
//! This file keeps the result type and the entry points. `normalize` goes through the same tokenizing and clause
//! splitting as `analyze`, so a malformed value fails in both with the same message.

mod clauses;
mod lexer;
mod statement;
#[cfg(test)]
mod tests;

use crate::error::Error;
use crate::Result;
use clauses::analyze_clause;
use statement::{split_clauses, Statement};

/// What an ALTER does, as far as the migration cares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AlterAnalysis {
    /// Columns renamed by `CHANGE [COLUMN] old new ...` (old != new, case-insensitive compare) or
    /// `RENAME COLUMN old TO new`: (old, new).
    pub(crate) renamed_columns: Vec<(String, String)>,
    /// Columns dropped with `DROP [COLUMN] x` (not DROP INDEX/KEY/PRIMARY KEY/FOREIGN KEY/CHECK/CONSTRAINT).
    pub(crate) dropped_columns: Vec<String>,
    /// Columns added with ADD [COLUMN] (single or parenthesized list).
    pub(crate) added_columns: Vec<String>,
    /// True if the statement renames the table: `RENAME [TO|AS] x` that is not `RENAME COLUMN/INDEX/KEY`.
    pub(crate) renames_table: bool,
    /// True if it drops the PRIMARY KEY (`DROP PRIMARY KEY`, or DROP INDEX/KEY/CONSTRAINT of the one named PRIMARY).
    pub(crate) drops_primary_key: bool,
    /// Explicit ALGORITHM=/LOCK= clauses present (gh-ost strips nothing; we refuse them with a clear message).
    pub(crate) has_algorithm_or_lock: bool,
    /// ENGINE=x if set.
    pub(crate) engine: Option<String>,
    /// Adds a FOREIGN KEY (as a constraint, or an inline `REFERENCES` in a column definition).
    pub(crate) adds_foreign_key: bool,
    /// AUTO_INCREMENT=n if set: then the original table's counter must not be carried over to the ghost table.
    pub(crate) auto_increment: Option<u64>,
    /// Clauses, top-level, trimmed, as written (useful for reporting).
    pub(crate) clauses: Vec<String>,
}

impl AlterAnalysis {
    /// Refuses what cannot be done whatever the flags. Renamed columns are not refused here: they depend on
    /// `--approve-renamed-columns` / `--skip-renamed-columns`.
    pub(crate) fn check_supported(&self) -> Result<()> {
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
pub(crate) fn analyze(alter: &str) -> Result<AlterAnalysis> {
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
/// here: see `explicit_table`).
pub(crate) fn normalize(alter: &str, table: &str) -> Result<String> {
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
#[cfg(test)] // only the tests need it yet
pub(crate) fn explicit_table(alter: &str) -> Result<Option<(Option<String>, String)>> {
    Ok(Statement::parse(alter)?.table)
}

fn config(msg: impl Into<String>) -> Error {
    Error::Config(msg.into())
}
