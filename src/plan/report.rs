//! The plan as a DBA reviews it, built from the facts and findings: strategy, lock, copy time, reversibility,
//! the expand/contract steps, the `wraith migrate` command, the verification SQL and the rollback.
//!
//! Invariants: pure (no server); the command never holds a password; every estimate states its
//! assumptions next to its number.

use serde::Serialize;

use super::facts::Facts;
use super::findings::{
    findings, instant_fits, lost_by_reversal, row_lock_summary, strategy, Finding, RowLocks, Severity, Strategy,
};
use super::shape::{mapping, reverse_alter};
use crate::config::Config;
use crate::mysql::sql::{ident, qualified};

#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    /// The longest the change blocks statements on the table, once it holds its lock.
    pub seconds: f64,
    pub blocks: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CopyEstimate {
    pub rows: u64,
    /// Data and indexes, from the server's statistics: about what the copy needs again.
    pub bytes: u64,
    /// None when there is nothing to copy (INSTANT) or no rate could be measured.
    pub seconds: Option<f64>,
    pub rate_rows_per_s: Option<f64>,
    pub write_rate_per_s: Option<f64>,
    pub assumptions: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub database: String,
    pub table: String,
    pub alter: String,
    pub server_version: String,
    pub strategy: Strategy,
    pub lock: Lock,
    pub copy: CopyEstimate,
    /// Row locks on the table now (null when performance_schema.data_locks could not be read).
    pub row_locks: Option<RowLocks>,
    /// `yes`, `partial` or `no`.
    pub reversible: &'static str,
    pub reversible_why: String,
    pub findings: Vec<Finding>,
    pub steps: Vec<String>,
    pub command: String,
    pub verification_sql: String,
    pub rollback: Vec<String>,
}

impl Plan {
    /// A finding blocks the change: the plan's exit status is 1.
    pub fn blocked(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Block)
    }
}

/// Single-quotes a shell word when it needs it.
pub(crate) fn shell(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_=./:,@%+".contains(c)) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// `wraith migrate` with the connection and target of `c` and `alter`, the flags the findings call for, and
/// no password (the binary reads WRAITH_PASSWORD, --ask-pass or --conf).
pub(crate) fn migrate_command(c: &Config, f: &Facts, alter: &str, instant: bool) -> String {
    let mut a = target_args(c);
    a.push(format!("--alter={alter}"));
    let s = &c.schema;
    let t = &c.topology;
    for (on, flag) in [
        (t.allow_on_master, "--allow-on-master"),
        (t.migrate_on_replica, "--migrate-on-replica"),
        (t.test_on_replica, "--test-on-replica"),
        (!f.renamed.is_empty() && !s.skip_renamed_columns, "--approve-renamed-columns"),
        (s.skip_renamed_columns, "--skip-renamed-columns"),
        (s.discard_foreign_keys, "--discard-foreign-keys"),
        (s.skip_foreign_key_checks, "--skip-foreign-key-checks"),
        (instant || s.attempt_instant_ddl, "--attempt-instant-ddl"),
        (c.tables.ok_to_drop_table, "--ok-to-drop-table"),
    ] {
        if on {
            a.push(flag.into());
        }
    }
    if s.include_triggers || (f.trigger_refusal.is_some() && f.trigger_refusal_with_flag.is_none()) {
        let suffix = if s.trigger_suffix.is_empty() { super::TRIGGER_SUFFIX } else { &s.trigger_suffix };
        a.push("--include-triggers".into());
        a.push(format!("--trigger-suffix={suffix}"));
    }
    a.push("--execute".into());
    a.iter().map(|w| shell(w)).collect::<Vec<_>>().join(" ")
}

/// `wraith migrate --revert` for the migration the plan is of (form 1 of docs/revert.md).
fn revert_command(c: &Config, f: &Facts) -> String {
    let mut a = target_args(c);
    a.extend([format!("--old-table={}", f.old_table), "--revert".into(), "--checkpoint".into(), "--execute".into()]);
    if c.topology.allow_on_master {
        a.push("--allow-on-master".into());
    }
    a.iter().map(|w| shell(w)).collect::<Vec<_>>().join(" ")
}

/// `wraith migrate`, the connection flags (never the password), --database and --table.
fn target_args(c: &Config) -> Vec<String> {
    let mut a: Vec<String> = vec!["wraith".into(), "migrate".into()];
    let conn = &c.conn;
    a.push(format!("--host={}", conn.inspect.host));
    a.push(format!("--port={}", conn.inspect.port));
    if !conn.user.is_empty() {
        a.push(format!("--user={}", conn.user));
    }
    if let Some(u) = &conn.master_user {
        a.push(format!("--master-user={u}"));
    }
    if let Some(p) = &conn.assume_master_host {
        a.push(format!("--assume-master-host={p}"));
    }
    if let Some(t) = &conn.tls {
        match &t.ca {
            Some(ca) => a.push(format!("--ssl-ca={}", ca.display())),
            None => a.push("--ssl".into()),
        }
        if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
            a.push(format!("--ssl-cert={}", cert.display()));
            a.push(format!("--ssl-key={}", key.display()));
        }
        if t.allow_insecure {
            a.push("--ssl-allow-insecure".into());
        }
    }
    a.push(format!("--database={}", c.database));
    a.push(format!("--table={}", c.table));
    a
}

fn human_bytes(b: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

pub(crate) fn human_seconds(s: f64) -> String {
    if s < 1.0 {
        "under 1 s".into()
    } else if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

impl CopyEstimate {
    pub fn bytes_text(&self) -> String {
        human_bytes(self.bytes)
    }
}

/// The copy time: rows over the measured read rate halved (each row is read and written once), less the
/// application's writes, which the binlog apply replays at about the cost of a row each.
pub(crate) fn copy_estimate(f: &Facts, strategy: Strategy) -> CopyEstimate {
    let rows = match f.read_sample {
        // A sample that came back short read the whole table: its count is exact.
        Some((n, _)) if n < 10_000 => n,
        _ => f.rows,
    };
    let rate = f.read_sample.filter(|(n, s)| *n > 0 && *s > 0.0).map(|(n, s)| n as f64 / s / 2.0);
    let w = f.write_rate.unwrap_or(0.0);
    let seconds = match (strategy, rate) {
        (Strategy::Instant, _) => Some(0.0),
        (_, Some(r)) => Some(rows as f64 / (r - w).max(r / 10.0)),
        _ => None,
    };
    let assumptions = match strategy {
        Strategy::Instant => "INSTANT changes only metadata: nothing is copied".to_string(),
        _ => format!(
            "rows and bytes are the server's estimates; the copy rate is half the read rate of a timed sample of up \
             to 10000 rows on the primary (a copied row is read and written); the {} row writes/s the application \
             makes now (performance_schema, sampled) are replayed meanwhile at about a row each; throttling for \
             replica lag adds to it. The copy needs about {} free again on the primary, plus its binlog",
            f.write_rate.map_or("unmeasured".into(), |w| format!("{w:.0}")),
            human_bytes(f.data_bytes + f.index_bytes)
        ),
    };
    CopyEstimate {
        rows,
        bytes: f.data_bytes + f.index_bytes,
        seconds,
        rate_rows_per_s: rate,
        write_rate_per_s: f.write_rate,
        assumptions,
    }
}

pub(crate) fn lock(f: &Facts, strategy: Strategy, copy_seconds: Option<f64>) -> Lock {
    let holders: Vec<String> = f
        .transactions
        .iter()
        .filter(|t| t.holds_table)
        .map(|t| format!("thread {} (open {} s)", t.thread, t.age_seconds))
        .collect();
    let waits = if holders.is_empty() {
        String::new()
    } else {
        format!(
            "; it waits first behind {}, and while it waits new statements on the table queue behind it",
            holders.join(", ")
        )
    };
    match strategy {
        Strategy::Instant => Lock {
            seconds: 0.0,
            blocks: format!(
                "every statement on `{}` for a moment (an exclusive metadata lock; no copy; replicas replay it as \
                 quickly){waits}",
                f.table
            ),
        },
        Strategy::Inplace | Strategy::Copy => Lock {
            seconds: f.lock_timeout_seconds as f64,
            blocks: format!(
                "reads and writes of `{}` during wraith's cut-over (LOCK TABLES, then RENAME), usually well under a \
                 second, each attempt bounded by --cut-over-lock-timeout-seconds={}{waits}{}",
                f.table,
                f.lock_timeout_seconds,
                if strategy == Strategy::Inplace {
                    format!(
                        ". A direct ALTER ... ALGORITHM=INPLACE, LOCK=NONE instead blocks only for a moment at its start \
                         and end, but replicas replay it as one statement and lag by the rebuild time ({})",
                        copy_seconds.map_or("its duration".into(), human_seconds)
                    )
                } else {
                    String::new()
                }
            ),
        },
    }
}

/// Counts and a checksum over the columns both shapes have, before (old names) and after (new names).
pub(crate) fn verification(f: &Facts, strategy: Strategy) -> String {
    let Some(after) = &f.after else {
        return "-- the new schema is unknown (the ALTER could not be tried): compare SELECT COUNT(*) before and after"
            .into();
    };
    let map = mapping(&f.before, after, &f.renamed, &f.dropped);
    let expr = |names: Vec<(&str, bool)>| {
        let parts: Vec<String> = names
            .iter()
            .map(|(n, nullable)| {
                let v = format!("CONVERT({} USING utf8mb4)", ident(n));
                if *nullable {
                    format!("{v}, ISNULL({})", ident(n))
                } else {
                    v
                }
            })
            .collect();
        format!("COUNT(*) AS row_count, BIT_XOR(CRC32(CONCAT_WS('#', {}))) AS checksum", parts.join(", "))
    };
    let old = expr(map.iter().map(|m| (m.old.name.as_str(), m.old.nullable)).collect());
    let new = expr(map.iter().map(|m| (m.new.name.as_str(), m.old.nullable)).collect());
    let t = qualified(&f.database, &f.table);
    let mut sql = format!(
        "-- before the change (note the result):\nSELECT {old} FROM {t};\n-- after it (equal when no write came in between):\nSELECT {new} FROM {t};"
    );
    if strategy != Strategy::Instant && !f.ok_to_drop_table {
        sql.push_str(&format!(
            "\n-- or, right after the cut-over, against the old table:\nSELECT {old} FROM {};",
            qualified(&f.database, &f.old_table)
        ));
    }
    sql
}

pub(crate) fn reversibility(f: &Facts, strategy: Strategy) -> (&'static str, String) {
    let lost = lost_by_reversal(f);
    if lost.is_empty() {
        return ("yes", "the reverse ALTER under Rollback restores the schema without losing data".into());
    }
    if strategy != Strategy::Instant && !f.ok_to_drop_table {
        return (
            "partial",
            format!(
                "the reverse ALTER cannot bring back {}; the old table `{}` keeps them",
                lost.join(", "),
                f.old_table
            ),
        );
    }
    ("no", format!("nothing keeps {}", lost.join(", ")))
}

/// Expand/contract steps for a change that breaks the running application: drop, rename, NOT NULL without
/// a default.
pub(crate) fn steps(c: &Config, f: &Facts, command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(after) = &f.after else { return out };
    for (o, n) in &f.renamed {
        let def = after.column(n).map(|c| c.definition()).unwrap_or_default();
        let def_null = def.replace(" NOT NULL", " NULL");
        out.push(format!(
            "expand: add `{n}` beside `{o}`: {}",
            migrate_command(c, f, &format!("ADD COLUMN {} {def_null}", ident(n)), false)
        ));
        out.push(format!(
            "deploy: the application writes both `{o}` and `{n}`; backfill `{n}` from `{o}` in primary-key chunks \
             (UPDATE {} SET {} = {} WHERE <key range>)",
            qualified(&f.database, &f.table),
            ident(n),
            ident(o)
        ));
        out.push(format!(
            "deploy: the application reads and writes only `{n}`; `wraith plan` shows no hidden readers of `{o}`"
        ));
        out.push(format!(
            "contract: drop `{o}`: {} (or, if every reader switches at the cut-over, the single command below)",
            migrate_command(c, f, &format!("DROP COLUMN {}", ident(o)), false)
        ));
    }
    for d in &f.dropped {
        out.push(format!("deploy: the application no longer reads or writes `{d}`"));
        out.push(format!(
            "check: `wraith plan` again shows no hidden readers of `{d}` (statement digests last seen after the deploy)"
        ));
        out.push(format!("contract: {command}"));
    }
    for name in &f.added {
        let Some(col) = after.column(name) else { continue };
        if col.nullable || col.default.is_some() || col.extra.contains("auto_increment") || col.generated() {
            continue;
        }
        let def = col.definition();
        out.push(format!(
            "expand: add `{name}` as NULL: {}",
            migrate_command(c, f, &format!("ADD COLUMN {} {}", ident(name), def.replace(" NOT NULL", " NULL")), true)
        ));
        out.push(format!("deploy: the application writes `{name}`; backfill the existing rows"));
        out.push(format!(
            "contract: make it NOT NULL: {}",
            migrate_command(c, f, &format!("MODIFY COLUMN {} {def}", ident(name)), false)
        ));
    }
    out
}

pub(crate) fn rollback(c: &Config, f: &Facts, strategy: Strategy) -> Vec<String> {
    let Some(after) = &f.after else {
        return vec!["nothing to roll back: the ALTER cannot run".into()];
    };
    let (reverse, lost) = reverse_alter(&f.before, after, &f.renamed, &f.dropped);
    let mut out = Vec::new();
    let copied = strategy != Strategy::Instant;
    let lossy = if lost.is_empty() {
        String::new()
    } else {
        "; rows inserted since get the old table's defaults in the columns the migration dropped, and the revert stops \
         on a value the old columns cannot hold"
            .to_string()
    };
    if copied && !f.ok_to_drop_table {
        out.push(format!(
            "instant revert window: run the migration with --revert-window=30m; after the cut-over `{old}` is kept in \
             step, and `revert` on the control socket swaps it back within the cut-over's lock time, no writes lost{lossy}",
            old = f.old_table
        ));
        out.push(format!(
            "revert from the checkpoint: run the migration with --checkpoint, then (while `{old}` and the binlog since the \
             cut-over are kept) {}: replays the writes made since the cut-over into `{old}` and swaps it back{lossy}",
            revert_command(c, f),
            old = f.old_table
        ));
        out.push(format!(
            "last resort, losing the writes made since the cut-over: RENAME TABLE {t} TO {gone}, {oldq} TO {t}",
            t = qualified(&f.database, &f.table),
            oldq = qualified(&f.database, &f.old_table),
            gone = qualified(&f.database, &format!("{}_rev_del", f.old_table.trim_end_matches("_del"))),
        ));
    }
    if reverse.is_empty() {
        out.push("reverse change: none needed (the new schema equals the old one)".into());
    } else {
        out.push(format!(
            "reverse change, online, keeping the writes made since{}: {}",
            if lost.is_empty() { String::new() } else { format!(" (cannot bring back {})", lost.join(", ")) },
            migrate_command(c, f, &reverse, false)
        ));
    }
    if copied && f.ok_to_drop_table {
        out.push("no revert of the swap: --ok-to-drop-table drops the old table at the cut-over".into());
    }
    out
}

pub(crate) fn build(c: &Config, f: &Facts) -> Plan {
    let strategy = strategy(f);
    let copy = copy_estimate(f, strategy);
    let command = migrate_command(c, f, &f.alter, instant_fits(f));
    let (reversible, reversible_why) = reversibility(f, strategy);
    Plan {
        database: f.database.clone(),
        table: f.table.clone(),
        alter: f.alter.clone(),
        server_version: f.server_version.clone(),
        strategy,
        lock: lock(f, strategy, copy.seconds),
        row_locks: f.row_locks.as_deref().map(row_lock_summary),
        steps: steps(c, f, &command),
        rollback: rollback(c, f, strategy),
        verification_sql: verification(f, strategy),
        findings: findings(f),
        copy,
        reversible,
        reversible_why,
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::super::facts::Attempt;
    use super::super::shape::tests::{col, shape};
    use super::*;

    fn facts() -> Facts {
        let before = shape(vec![col("id", "bigint", false), col("a", "int", true), col("s", "varchar(9)", true)], &[]);
        let after = shape(vec![col("id", "bigint", false), col("b", "int", true)], &[]);
        Facts {
            database: "d".into(),
            table: "t".into(),
            alter: "RENAME COLUMN a TO b, DROP COLUMN s".into(),
            before,
            after: Some(after),
            instant: Attempt { ok: false, error: Some("no".into()) },
            inplace: Attempt { ok: false, error: Some("no".into()) },
            copy: Attempt { ok: true, error: None },
            renamed: vec![("a".into(), "b".into())],
            dropped: vec!["s".into()],
            old_table: "_t_del".into(),
            lock_timeout_seconds: 3,
            read_sample: Some((10_000, 0.5)),
            rows: 1_000_000,
            write_rate: Some(1000.0),
            ..Facts::default()
        }
    }

    fn cfg() -> Config {
        Config::new(Config::connection("replica", 3306, "wraith", "s3cret"), "d", "t", "x")
    }

    #[test]
    fn the_command_has_the_flags_and_no_password() {
        let f = facts();
        let cmd = migrate_command(&cfg(), &f, &f.alter, false);
        assert_eq!(
            cmd,
            "wraith migrate --host=replica --port=3306 --user=wraith --database=d --table=t \
             '--alter=RENAME COLUMN a TO b, DROP COLUMN s' --approve-renamed-columns --execute"
        );
        assert!(!cmd.contains("s3cret"));
        assert_eq!(shell("it's"), "'it'\\''s'");
    }

    #[test]
    fn estimates_state_their_numbers() {
        let f = facts();
        let c = copy_estimate(&f, Strategy::Copy);
        assert_eq!(c.rate_rows_per_s, Some(10_000.0));
        assert_eq!(c.seconds, Some(1_000_000.0 / 9_000.0));
        assert_eq!(copy_estimate(&f, Strategy::Instant).seconds, Some(0.0));
        assert_eq!(lock(&f, Strategy::Copy, None).seconds, 3.0);
    }

    #[test]
    fn a_drop_is_partly_reversible_and_gets_expand_contract_steps() {
        let f = facts();
        let p = build(&cfg(), &f);
        assert_eq!(p.reversible, "partial");
        assert!(p.steps.iter().any(|s| s.starts_with("expand: add `b`")), "{:?}", p.steps);
        assert!(p.steps.iter().any(|s| s.starts_with("contract:")));
        assert!(
            p.rollback[0].starts_with("instant revert window: run the migration with --revert-window"),
            "{:?}",
            p.rollback
        );
        assert!(
            p.rollback[1].contains("--old-table=_t_del --revert --checkpoint --execute")
                && p.rollback[1].contains("stops on a value the old columns cannot hold"),
            "{:?}",
            p.rollback
        );
        assert!(p.rollback[2].contains("RENAME TABLE `d`.`t` TO `d`.`_t_rev_del`"), "{:?}", p.rollback);
        assert!(p.rollback[3].contains("CHANGE COLUMN `b` `a`") && p.rollback[3].contains("ADD COLUMN `s`"));
        assert!(
            p.verification_sql.contains("FROM `d`.`_t_del`")
                && p.verification_sql.contains("CONVERT(`b` USING utf8mb4)")
        );
        let mut f = facts();
        f.ok_to_drop_table = true;
        assert_eq!(reversibility(&f, Strategy::Copy).0, "no");
        f.dropped.clear();
        f.before.columns.pop();
        assert_eq!(reversibility(&f, Strategy::Copy).0, "yes");
    }
}
