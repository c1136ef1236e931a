//! Findings: plain functions over the facts, one a concern, each unit-tested without a server.
//!
//! Invariants: a finding's `code` is a stable kebab-case word (scripts and review bots match on it);
//! `block` means the change cannot succeed as given (on this data, or `wraith migrate` would refuse it), so
//! the plan exits 1; `warn` needs a human decision; `info` is context. No function here reads a server.

use serde::Serialize;

use super::facts::{CheckResult, Facts, RowLockHolder, LONG_TRANSACTION_SECONDS};
use super::shape::{mapping, type_changes};

/// The row versions after which InnoDB refuses INSTANT: 64 from MySQL 8.0.29, 255 from 9.1.
pub(crate) fn max_row_versions(server_version: &str) -> u64 {
    let mut parts = server_version.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) >= (9, 1) {
        255
    } else {
        64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Block,
    Warn,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Block => "block",
            Severity::Warn => "warn",
            Severity::Info => "info",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// What on the server shows it: the query result, the server's refusal.
    pub evidence: String,
}

fn finding(severity: Severity, code: &'static str, message: impl Into<String>, evidence: impl Into<String>) -> Finding {
    Finding { severity, code, message: message.into(), evidence: evidence.into() }
}

/// How MySQL could make the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Instant,
    Inplace,
    Copy,
}

/// INSTANT was accepted on the clone and the table has row versions left for it.
pub(crate) fn instant_fits(f: &Facts) -> bool {
    f.instant.ok && f.row_versions.unwrap_or(0) + f.instant_versions.unwrap_or(1) <= max_row_versions(&f.server_version)
}

pub(crate) fn strategy(f: &Facts) -> Strategy {
    if instant_fits(f) {
        Strategy::Instant
    } else if f.inplace.ok && f.instant.error.is_some() {
        Strategy::Inplace
    } else {
        Strategy::Copy
    }
}

/// Every finding, most severe first (the order within a severity is the order of the checks).
pub(crate) fn findings(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(strategy_findings(f));
    out.extend(refusal_findings(f));
    out.extend(fit_findings(f));
    out.extend(column_findings(f));
    out.extend(hidden_readers(f));
    out.extend(index_findings(f));
    out.extend(transaction_findings(f));
    out.extend(row_lock_findings(f));
    out.extend(foreign_key_findings(f));
    out.extend(trigger_findings(f));
    out.extend(partition_findings(f));
    out.extend(irreversible(f));
    out.extend(f.unavailable.iter().map(|u| finding(Severity::Info, "fact-unavailable", format!("not read: {u}"), "")));
    out.sort_by_key(|x| x.severity);
    out
}

pub(crate) fn strategy_findings(f: &Facts) -> Vec<Finding> {
    let max = max_row_versions(&f.server_version);
    let versions = format!(
        "row versions: {} of {max} used, this change adds {}",
        f.row_versions.map_or("?".into(), |v| v.to_string()),
        f.instant_versions.map_or("?".into(), |v| v.to_string())
    );
    if f.after.is_none() && f.copy.error.is_none() {
        return Vec::new(); // the clone could not be made: said under fact-unavailable
    }
    if !f.copy.ok {
        return vec![finding(
            Severity::Block,
            "alter-invalid",
            "MySQL refuses this ALTER even on an empty copy of the table: it cannot succeed",
            f.copy.error.clone().unwrap_or_default(),
        )];
    }
    if instant_fits(f) {
        return vec![finding(
            Severity::Info,
            "instant-possible",
            "MySQL can make this change with ALGORITHM=INSTANT (metadata only, no copy): `wraith migrate \
             --attempt-instant-ddl` does it at once (in the command below)",
            format!("ALGORITHM=INSTANT accepted on an empty clone; {versions}"),
        )];
    }
    let mut out = Vec::new();
    if f.instant.ok {
        out.push(finding(
            Severity::Warn,
            "instant-row-versions",
            format!(
                "INSTANT would work but the table would pass {max} row versions, where MySQL refuses it \
                 (a rebuild, e.g. this copy, resets the count)"
            ),
            versions,
        ));
    }
    if f.inplace.ok && !f.instant.ok {
        out.push(finding(
            Severity::Info,
            "inplace-possible",
            "MySQL can do this INPLACE with LOCK=NONE: writes go on during the rebuild, but every replica replays it \
             as one statement (replication lags by about its duration); `wraith migrate` copies online instead, \
             throttled by replica lag",
            format!("ALGORITHM=INSTANT refused: {}", f.instant.error.clone().unwrap_or_default()),
        ));
    } else if !f.inplace.ok {
        out.push(finding(
            Severity::Info,
            "copy-required",
            "MySQL can only do this by copying the table (ALGORITHM=COPY blocks writes throughout): `wraith migrate` \
             makes that copy online",
            format!("ALGORITHM=INPLACE, LOCK=NONE refused: {}", f.inplace.error.clone().unwrap_or_default()),
        ));
    }
    out
}

/// What `wraith migrate` refuses in the ALTER itself.
pub(crate) fn refusal_findings(f: &Facts) -> Vec<Finding> {
    match &f.alter_refusal {
        Some(r) => {
            let code = if f.adds_foreign_key { "foreign-key" } else { "alter-refused" };
            vec![finding(Severity::Block, code, "wraith migrate refuses this ALTER", r.clone())]
        }
        None => Vec::new(),
    }
}

pub(crate) fn fit_findings(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for (check, result) in &f.checks {
        let how = if check.scans { "scanned the table" } else { "read an index" };
        match result {
            CheckResult::Counted { rows, example } if *rows > 0 => out.push(finding(
                if check.fails { Severity::Block } else { Severity::Warn },
                check.code,
                if check.fails {
                    format!("{rows} {}: the copy would fail on them; fix the data or the ALTER first", check.what)
                } else {
                    format!(
                        "{rows} {}: the copy rounds them without an error (strict mode only notes it): those digits \
                         are lost, and the reverse change cannot bring them back",
                        check.what
                    )
                },
                format!(
                    "{how}: {}{}",
                    check.sql.replace("{table}", &format!("`{}`", f.table)),
                    example.as_ref().map_or(String::new(), |e| format!(" -> e.g. {e}"))
                ),
            )),
            CheckResult::Counted { .. } => {}
            CheckResult::Skipped => out.push(finding(
                Severity::Info,
                "scan-skipped",
                format!("not checked (--no-scan; it reads the whole table): {}", check.what),
                check.sql.replace("{table}", &format!("`{}`", f.table)),
            )),
            CheckResult::Failed(e) => {
                out.push(finding(Severity::Warn, "check-failed", format!("could not check {}", check.what), e.clone()))
            }
        }
    }
    out
}

/// Expand/contract red flags of the columns: drops, renames, NOT NULL without a default, type changes.
pub(crate) fn column_findings(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in &f.dropped {
        out.push(finding(
            Severity::Warn,
            "drop-column",
            format!(
                "DROP COLUMN `{c}`: a running application that still reads or writes it fails from the cut-over on; \
                 deploy the code without it first (steps below)"
            ),
            format!("hidden readers of `{c}`: {}", f.readers.iter().filter(|r| &r.column == c).count()),
        ));
    }
    for (o, n) in &f.renamed {
        out.push(finding(
            Severity::Warn,
            "rename-column",
            format!(
                "`{o}` becomes `{n}`: statements naming `{o}` fail from the cut-over on; `wraith migrate` needs \
                 --approve-renamed-columns to carry the values over (in the command below)"
            ),
            format!("hidden readers of `{o}`: {}", f.readers.iter().filter(|r| &r.column == o).count()),
        ));
    }
    let Some(after) = &f.after else { return out };
    for name in &f.added {
        let Some(c) = after.column(name) else { continue };
        if !c.nullable && c.default.is_none() && !c.extra.contains("auto_increment") && !c.generated() {
            out.push(finding(
                Severity::Warn,
                "not-null-no-default",
                format!(
                    "new column `{name}` is NOT NULL without a DEFAULT: existing rows get the type's implicit value \
                     ({}), and INSERTs that do not name it fail in strict mode",
                    if c.max_length.is_some() { "''" } else { "0 or the zero date" }
                ),
                format!("`{name}` {}", c.definition()),
            ));
        }
    }
    let map = mapping(&f.before, after, &f.renamed, &f.dropped);
    for (o, n) in type_changes(&map) {
        out.push(finding(
            Severity::Warn,
            "type-change",
            format!(
                "`{}` changes type from {} to {}: check the running application expects it",
                o.name, o.column_type, n.column_type
            ),
            format!("{} -> {}", o.definition(), n.definition()),
        ));
    }
    out
}

pub(crate) fn hidden_readers(f: &Facts) -> Vec<Finding> {
    let mut columns: Vec<&str> = Vec::new();
    for r in &f.readers {
        if !columns.contains(&r.column.as_str()) {
            columns.push(&r.column);
        }
    }
    columns
        .into_iter()
        .map(|c| {
            let shapes: Vec<String> = f
                .readers
                .iter()
                .filter(|r| r.column == c)
                .map(|r| format!("{}x on the {}, last seen {}: {}", r.count, r.server, r.last_seen, r.digest_text))
                .collect();
            finding(
                Severity::Warn,
                "hidden-readers",
                format!(
                    "{} statement shape(s) in performance_schema still name `{c}`, which the ALTER drops or renames",
                    shapes.len()
                ),
                shapes.join("; "),
            )
        })
        .collect()
}

pub(crate) fn index_findings(f: &Facts) -> Vec<Finding> {
    f.index_reads
        .iter()
        .map(|(idx, reads)| match reads {
            Some(n) if *n > 0 => finding(
                Severity::Warn,
                "index-in-use",
                format!(
                    "index `{}` ({}) is dropped but was read {n} times since the counters reset: queries using it \
                     may slow down",
                    idx.name,
                    idx.columns.join(", ")
                ),
                "performance_schema.table_io_waits_summary_by_index_usage COUNT_READ",
            ),
            Some(_) => finding(
                Severity::Info,
                "index-unused",
                format!("index `{}` is dropped; it was not read since the counters reset", idx.name),
                "performance_schema.table_io_waits_summary_by_index_usage COUNT_READ = 0",
            ),
            None => finding(
                Severity::Info,
                "index-unused",
                format!("index `{}` is dropped; its use is unknown", idx.name),
                "",
            ),
        })
        .collect()
}

pub(crate) fn transaction_findings(f: &Facts) -> Vec<Finding> {
    f.transactions
        .iter()
        .filter(|t| t.holds_table || t.age_seconds >= LONG_TRANSACTION_SECONDS)
        .map(|t| {
            let message = if t.holds_table {
                format!(
                    "a transaction (thread {}) open for {} s holds a metadata lock on `{}`: the cut-over (or an \
                     instant ALTER) waits behind it, and statements queue behind the waiting lock",
                    t.thread, t.age_seconds, f.table
                )
            } else {
                format!(
                    "the oldest transaction (thread {}) has been open {} s: undo history grows while it stays open",
                    t.thread, t.age_seconds
                )
            };
            finding(
                Severity::Warn,
                "long-transaction",
                message,
                format!("INNODB_TRX: state {}, query {}", t.state, t.query.as_deref().unwrap_or("(idle)")),
            )
        })
        .collect()
}

/// The row locks on the table now, summed up (the plan's JSON `row_locks`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowLocks {
    /// Transactions holding or waiting for record locks on the table.
    pub transactions: u64,
    /// Record locks held, and waited for.
    pub locks: u64,
    pub waiting: u64,
    /// How long the oldest of those transactions has been open (None: none, or its age is unknown).
    pub oldest_seconds: Option<u64>,
    /// The distinct lock modes (`X`, `X,REC_NOT_GAP`, `S`, ...).
    pub modes: Vec<String>,
}

pub(crate) fn row_lock_summary(holders: &[RowLockHolder]) -> RowLocks {
    let mut modes: Vec<String> = holders.iter().flat_map(|h| h.modes.iter().cloned()).collect();
    modes.sort();
    modes.dedup();
    RowLocks {
        transactions: holders.len() as u64,
        locks: holders.iter().map(|h| h.granted).sum(),
        waiting: holders.iter().map(|h| h.waiting).sum(),
        oldest_seconds: holders.iter().filter_map(|h| h.age_seconds).max(),
        modes,
    }
}

/// Transactions with row locks on the table: wraith's row copy waits behind the locked rows, and the cut-over
/// (they hold the table's metadata lock too) until they end.
pub(crate) fn row_lock_findings(f: &Facts) -> Vec<Finding> {
    let Some(holders) = f.row_locks.as_deref().filter(|h| !h.is_empty()) else { return Vec::new() };
    let s = row_lock_summary(holders);
    let oldest = match (s.oldest_seconds, holders.iter().find(|h| h.age_seconds == s.oldest_seconds)) {
        (Some(age), Some(h)) => {
            format!(" (the oldest open {age} s, thread {})", h.thread.map_or("?".into(), |t| t.to_string()))
        }
        _ => String::new(),
    };
    let waiting = if s.waiting > 0 { format!(", and {} lock(s) are waited for", s.waiting) } else { String::new() };
    let evidence: Vec<String> = holders
        .iter()
        .map(|h| {
            format!(
                "trx {} (thread {}, open {} s): {} record lock(s) held, {} waiting, modes {}",
                h.trx_id,
                h.thread.map_or("?".into(), |t| t.to_string()),
                h.age_seconds.map_or("?".into(), |a| a.to_string()),
                h.granted,
                h.waiting,
                h.modes.join(" ")
            )
        })
        .collect();
    vec![finding(
        Severity::Warn,
        "row-locks",
        format!(
            "{} transaction(s) hold {} row lock(s) on `{}`{oldest}{waiting}: the row copy waits behind the locked rows \
             (up to innodb_lock_wait_timeout, then retries) and the cut-over waits until they commit or roll back",
            s.transactions, s.locks, f.table
        ),
        format!("performance_schema.data_locks: {}", evidence.join("; ")),
    )]
}

pub(crate) fn foreign_key_findings(f: &Facts) -> Vec<Finding> {
    if let Some(r) = &f.fk_refusal {
        let flag = if f.parent_fks.is_empty() {
            " (--discard-foreign-keys migrates it without them: DANGER, the new table has none)"
        } else {
            ""
        };
        return vec![finding(
            Severity::Block,
            "foreign-key",
            format!("wraith migrate refuses the table{flag}"),
            r.clone(),
        )];
    }
    if !f.child_fks.is_empty() && f.discard_foreign_keys {
        return vec![finding(
            Severity::Warn,
            "foreign-key",
            "--discard-foreign-keys: the new table will have none of these foreign keys",
            f.child_fks.join(", "),
        )];
    }
    Vec::new()
}

pub(crate) fn trigger_findings(f: &Facts) -> Vec<Finding> {
    match (&f.trigger_refusal, &f.trigger_refusal_with_flag) {
        (Some(_), Some(r)) => {
            vec![finding(Severity::Block, "trigger", "wraith migrate refuses the table's triggers", r.clone())]
        }
        (Some(r), None) => vec![finding(
            Severity::Warn,
            "trigger",
            format!(
                "the table has triggers: `wraith migrate` needs --include-triggers --trigger-suffix=<suffix> to \
                 recreate them on the new table (in the command below with {})",
                super::TRIGGER_SUFFIX
            ),
            r.clone(),
        )],
        (None, _) if !f.triggers.is_empty() => vec![finding(
            Severity::Info,
            "trigger",
            "the table's triggers are recreated on the new table (--include-triggers)",
            f.triggers.join(", "),
        )],
        _ => Vec::new(),
    }
}

pub(crate) fn partition_findings(f: &Facts) -> Vec<Finding> {
    if f.partitions == 0 {
        return Vec::new();
    }
    vec![finding(
        Severity::Info,
        "partitions",
        format!(
            "the table has {} partitions; the new table is created LIKE it, with the same partitioning",
            f.partitions
        ),
        "information_schema.PARTITIONS",
    )]
}

/// What the reverse change cannot bring back.
pub(crate) fn lost_by_reversal(f: &Facts) -> Vec<String> {
    let mut lost = match &f.after {
        Some(after) => super::shape::reverse_alter(&f.before, after, &f.renamed, &f.dropped).1,
        None => Vec::new(),
    };
    // Digits the copy rounds away: only known when the check counted them.
    for (check, result) in &f.checks {
        if let (false, CheckResult::Counted { rows, .. }) = (check.fails, result) {
            if *rows > 0 {
                lost.push(format!("the digits the copy rounds off `{}`", check.columns.join("`, `")));
            }
        }
    }
    lost
}

pub(crate) fn irreversible(f: &Facts) -> Vec<Finding> {
    let lost = lost_by_reversal(f);
    if lost.is_empty() {
        return Vec::new();
    }
    let keeps = match strategy(f) {
        Strategy::Copy | Strategy::Inplace if !f.ok_to_drop_table => {
            format!("until then they are only in the old table `{}` (kept: no --ok-to-drop-table)", f.old_table)
        }
        Strategy::Copy | Strategy::Inplace => "--ok-to-drop-table drops the old table: nothing keeps them".into(),
        Strategy::Instant => "MySQL changes the table in place: nothing keeps them".into(),
    };
    vec![finding(
        Severity::Warn,
        "irreversible",
        format!("reversing the change cannot bring back {}; {keeps}", lost.join(", ")),
        "the reverse ALTER is under Rollback",
    )]
}

#[cfg(test)]
mod tests {
    use super::super::facts::{Attempt, Reader, RowLockHolder, Transaction};
    use super::super::shape::tests::{col, shape};
    use super::super::shape::{FitCheck, IndexShape};
    use super::*;

    fn ok() -> Attempt {
        Attempt { ok: true, error: None }
    }
    fn no(e: &str) -> Attempt {
        Attempt { ok: false, error: Some(e.into()) }
    }

    /// A table `t (id, s)` and an ALTER that MySQL does in place; no findings but the strategy.
    fn facts() -> Facts {
        let s = shape(vec![col("id", "bigint", false), col("s", "varchar(64)", true)], &[("PRIMARY", &["id"], true)]);
        Facts {
            database: "d".into(),
            table: "t".into(),
            before: s.clone(),
            after: Some(s),
            instant: no("ALGORITHM=INSTANT is not supported"),
            inplace: ok(),
            copy: ok(),
            old_table: "_t_del".into(),
            ..Facts::default()
        }
    }

    fn codes(v: &[Finding]) -> Vec<&'static str> {
        v.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_plain_change_has_only_its_strategy() {
        assert_eq!(codes(&findings(&facts())), ["inplace-possible"]);
        assert_eq!(strategy(&facts()), Strategy::Inplace);
    }

    #[test]
    fn instant_possible_until_the_row_versions_run_out() {
        let mut f = facts();
        f.instant = ok();
        f.instant_versions = Some(1);
        f.row_versions = Some(10);
        assert_eq!(codes(&strategy_findings(&f)), ["instant-possible"]);
        assert_eq!(strategy(&f), Strategy::Instant);
        f.row_versions = Some(64);
        assert_eq!(codes(&strategy_findings(&f)), ["instant-row-versions"]);
        assert_eq!(strategy(&f), Strategy::Copy);
        f.server_version = "9.7.4-2".into();
        assert_eq!(strategy(&f), Strategy::Instant, "9.1 raised the limit to 255");
        assert_eq!((max_row_versions("8.0.36"), max_row_versions("9.0.1"), max_row_versions("10.0.0")), (64, 64, 255));
    }

    #[test]
    fn inplace_copy_and_invalid() {
        let mut f = facts();
        assert_eq!(codes(&strategy_findings(&f)), ["inplace-possible"]);
        f.inplace = no("LOCK=NONE is not supported");
        assert_eq!(codes(&strategy_findings(&f)), ["copy-required"]);
        assert_eq!(strategy(&f), Strategy::Copy);
        f.copy = no("Unknown column 'x'");
        f.after = None;
        let v = strategy_findings(&f);
        assert_eq!(codes(&v), ["alter-invalid"]);
        assert_eq!(v[0].severity, Severity::Block);
        assert!(v[0].evidence.contains("Unknown column"));
    }

    fn check(code: &'static str, result: CheckResult) -> Facts {
        let mut f = facts();
        let fc = FitCheck {
            code,
            what: "x".into(),
            columns: vec!["s".into()],
            sql: "SELECT 1 FROM {table}".into(),
            scans: true,
            fails: code != "values-rounded",
        };
        f.checks = vec![(fc, result)];
        f
    }

    #[test]
    fn data_that_does_not_fit_blocks() {
        for code in
            ["unique-duplicates", "values-too-long", "nulls-for-not-null", "values-out-of-range", "charset-loss"]
        {
            let v = fit_findings(&check(code, CheckResult::Counted { rows: 3, example: Some("a".into()) }));
            assert_eq!(codes(&v), [code]);
            assert_eq!(v[0].severity, Severity::Block);
            assert!(
                v[0].message.starts_with("3 ")
                    && v[0].evidence.contains("scanned the table")
                    && v[0].evidence.contains("`t`")
            );
            assert!(fit_findings(&check(code, CheckResult::Counted { rows: 0, example: None })).is_empty());
        }
        let v = fit_findings(&check("values-rounded", CheckResult::Counted { rows: 2, example: Some("1.255".into()) }));
        assert_eq!((codes(&v), v[0].severity), (vec!["values-rounded"], Severity::Warn), "rounding loses, not fails");
        assert!(v[0].message.contains("lost") && v[0].evidence.contains("-> e.g. 1.255"), "{v:?}");
        assert_eq!(codes(&fit_findings(&check("values-too-long", CheckResult::Skipped))), ["scan-skipped"]);
        assert_eq!(codes(&fit_findings(&check("values-too-long", CheckResult::Failed("e".into())))), ["check-failed"]);
    }

    #[test]
    fn drop_and_rename_warn_and_name_their_readers() {
        let mut f = facts();
        f.dropped = vec!["s".into()];
        f.after = Some(shape(vec![col("id", "bigint", false)], &[]));
        f.readers = vec![Reader {
            server: "replica",
            column: "s".into(),
            digest_text: "SELECT `s` FROM `t`".into(),
            count: 7,
            last_seen: "now".into(),
        }];
        let v = findings(&f);
        assert!(codes(&v).contains(&"drop-column") && codes(&v).contains(&"hidden-readers"), "{v:?}");
        let hr = v.iter().find(|x| x.code == "hidden-readers").unwrap();
        assert!(hr.evidence.contains("7x on the replica") && hr.evidence.contains("SELECT `s`"));
        let irr = v.iter().find(|x| x.code == "irreversible").expect("dropping a column loses its values");
        assert!(irr.message.contains("_t_del"), "{}", irr.message);

        let mut f = facts();
        f.renamed = vec![("s".into(), "s2".into())];
        f.after = Some(shape(vec![col("id", "bigint", false), col("s2", "varchar(64)", true)], &[]));
        let v = column_findings(&f);
        assert_eq!(codes(&v), ["rename-column"]);
        assert!(v[0].message.contains("--approve-renamed-columns"));
        assert!(irreversible(&f).is_empty(), "a rename is undone by renaming back");
    }

    #[test]
    fn not_null_without_default_and_type_changes() {
        let mut f = facts();
        f.added = vec!["n".into(), "m".into()];
        let mut m = col("m", "int", false);
        m.default = Some("0".into());
        let after =
            shape(vec![col("id", "bigint", false), col("s", "varchar(80)", true), col("n", "int", false), m], &[]);
        f.after = Some(after);
        assert_eq!(codes(&column_findings(&f)), ["not-null-no-default", "type-change"]);
    }

    #[test]
    fn dropped_indexes_in_use() {
        let mut f = facts();
        let idx = IndexShape { name: "k".into(), columns: vec!["s".into()], unique: false };
        f.index_reads = vec![(idx.clone(), Some(12))];
        assert_eq!(codes(&index_findings(&f)), ["index-in-use"]);
        f.index_reads = vec![(idx, Some(0))];
        assert_eq!(codes(&index_findings(&f)), ["index-unused"]);
    }

    #[test]
    fn transactions_holding_the_table_or_old() {
        let mut f = facts();
        let t = |holds, age| Transaction {
            thread: 9,
            age_seconds: age,
            state: "RUNNING".into(),
            query: None,
            holds_table: holds,
        };
        f.transactions = vec![t(false, 1)];
        assert!(transaction_findings(&f).is_empty());
        f.transactions = vec![t(true, 0), t(false, LONG_TRANSACTION_SECONDS)];
        let v = transaction_findings(&f);
        assert_eq!(codes(&v), ["long-transaction", "long-transaction"]);
        assert!(v[0].message.contains("metadata lock") && v[1].message.contains("oldest"));
    }

    #[test]
    fn row_locks_are_summed_and_warn() {
        let mut f = facts();
        assert!(row_lock_findings(&f).is_empty(), "not read: nothing to say");
        f.row_locks = Some(Vec::new());
        assert!(row_lock_findings(&f).is_empty(), "a quiet table");
        let h = |trx: &str, thread, age, granted, waiting, modes: &[&str]| RowLockHolder {
            trx_id: trx.into(),
            thread,
            age_seconds: age,
            granted,
            waiting,
            modes: modes.iter().map(|m| m.to_string()).collect(),
        };
        let holders = vec![
            h("100", Some(7), Some(42), 2, 0, &["X", "X,REC_NOT_GAP"]),
            h("101", Some(8), Some(3), 0, 1, &["X"]),
            h("102", None, None, 1, 0, &["S"]),
        ];
        let s = row_lock_summary(&holders);
        assert_eq!(
            s,
            RowLocks {
                transactions: 3,
                locks: 3,
                waiting: 1,
                oldest_seconds: Some(42),
                modes: vec!["S".into(), "X".into(), "X,REC_NOT_GAP".into()],
            }
        );
        f.row_locks = Some(holders);
        let v = findings(&f);
        let r = v.iter().find(|x| x.code == "row-locks").expect("row-locks");
        assert_eq!(r.severity, Severity::Warn);
        assert!(r.message.starts_with("3 transaction(s) hold 3 row lock(s) on `t` (the oldest open 42 s, thread 7)"));
        assert!(r.message.contains("1 lock(s) are waited for") && r.message.contains("cut-over"), "{}", r.message);
        assert!(
            r.evidence
                .contains("trx 100 (thread 7, open 42 s): 2 record lock(s) held, 0 waiting, modes X X,REC_NOT_GAP")
                && r.evidence.contains("trx 102 (thread ?, open ? s)"),
            "{}",
            r.evidence
        );
    }

    #[test]
    fn foreign_keys_and_triggers_name_their_flags() {
        let mut f = facts();
        f.child_fks = vec!["fk (d.t -> d.p)".into()];
        f.fk_refusal = Some("found 1 child-side foreign keys".into());
        let v = foreign_key_findings(&f);
        assert_eq!((v[0].code, v[0].severity), ("foreign-key", Severity::Block));
        assert!(v[0].message.contains("--discard-foreign-keys"));
        f.fk_refusal = None;
        f.discard_foreign_keys = true;
        assert_eq!(foreign_key_findings(&f)[0].severity, Severity::Warn);

        let mut f = facts();
        f.triggers = vec!["tr".into()];
        f.trigger_refusal = Some("has triggers: tr".into());
        let v = trigger_findings(&f);
        assert_eq!((v[0].code, v[0].severity), ("trigger", Severity::Warn));
        assert!(v[0].message.contains("--include-triggers"));
        f.trigger_refusal_with_flag = Some("name too long".into());
        assert_eq!(trigger_findings(&f)[0].severity, Severity::Block);
        f.trigger_refusal = None;
        assert_eq!(trigger_findings(&f)[0].severity, Severity::Info);
    }

    #[test]
    fn refused_alters_and_partitions() {
        let mut f = facts();
        f.alter_refusal = Some("adds a foreign key".into());
        f.adds_foreign_key = true;
        assert_eq!(codes(&refusal_findings(&f)), ["foreign-key"]);
        f.adds_foreign_key = false;
        assert_eq!(codes(&refusal_findings(&f)), ["alter-refused"]);
        f.partitions = 4;
        assert_eq!(codes(&partition_findings(&f)), ["partitions"]);
    }

    #[test]
    fn blocks_sort_first() {
        let mut f = check("values-too-long", CheckResult::Counted { rows: 1, example: None });
        f.partitions = 2;
        let v = findings(&f);
        assert_eq!(v[0].severity, Severity::Block);
        assert_eq!(v.last().unwrap().severity, Severity::Info);
    }
}
