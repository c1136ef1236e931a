//! Reads the facts a plan is made of from the live servers into plain structs. Nothing here decides anything:
//! `findings` does, from these structs alone.
//!
//! Invariants:
//! - the migrated table is only read: the ALTER is tried on an empty clone `_<t>_gpl` made `LIKE` it, in the
//!   same schema, which is dropped before `read` returns, whatever happened (and is refused up front if a table
//!   of that name exists, so nothing of anyone else's is dropped);
//! - the clone's statements are kept out of the binlog when the account may (`sql_log_bin=0`), so replicas
//!   never see it;
//! - every session waits at most `LOCK_WAIT_SECONDS` for a metadata lock, so the plan never queues for long
//!   behind (or in front of) the application's DDL;
//! - a fact the account cannot read (a missing grant, performance_schema off) is recorded as unavailable with
//!   the reason, and the plan goes on without it;
//! - the plan's own statements read the table under the alias `wraith_plan`, so the statement digests of its
//!   scans are never taken for the application's readers.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::Serialize;

use super::shape::{fit_checks, ColumnShape, FitCheck, IndexShape, TableShape};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::migration::names::plan_clone;
use crate::migration::validate::{alter_supported, table as validate_table};
use crate::mysql::alter;
use crate::mysql::inspector::{self, query_text, query_value};
use crate::mysql::sql::{qualified, quote};

/// How long any plan session waits for a metadata lock before giving up on that fact.
const LOCK_WAIT_SECONDS: u32 = 5;
/// Rows read to measure the read rate.
const SAMPLE_ROWS: u64 = 10_000;
/// Transactions older than this are reported even when they hold nothing on the table (purge lag, and a
/// cut-over may meet them).
pub(crate) const LONG_TRANSACTION_SECONDS: u64 = 60;

/// What the plan reads, and how long it samples.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    /// Connection, target, ALTER and the migrate flags the plan's command repeats.
    pub config: Config,
    /// Run the checks that read the whole table (`--no-scan` turns them off).
    pub scan: bool,
    /// Interval between the two reads of the table's write counters (0: not measured).
    pub write_sample: Duration,
}

/// One try of the ALTER on the clone.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Attempt {
    pub(crate) ok: bool,
    /// The server's refusal.
    pub(crate) error: Option<String>,
}

/// An open transaction on the primary.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Transaction {
    pub(crate) thread: u64,
    pub(crate) age_seconds: u64,
    pub(crate) state: String,
    pub(crate) query: Option<String>,
    /// It holds a metadata lock on the table: a cut-over (or an instant ALTER) waits behind it.
    pub(crate) holds_table: bool,
}

/// A transaction with row locks on the table, from `performance_schema.data_locks`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RowLockHolder {
    pub(crate) trx_id: String,
    /// None when the transaction ended between the two reads (INNODB_TRX no longer has it).
    pub(crate) thread: Option<u64>,
    pub(crate) age_seconds: Option<u64>,
    /// Record locks it holds on the table, and record locks it waits for.
    pub(crate) granted: u64,
    pub(crate) waiting: u64,
    /// The distinct `LOCK_MODE`s of its record locks (`X`, `S,REC_NOT_GAP`, ...).
    pub(crate) modes: Vec<String>,
}

/// A statement shape from `events_statements_summary_by_digest` that names a column about to go.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Reader {
    /// Where it ran: `primary` or `replica` (the inspected server, when it is another one).
    pub(crate) server: &'static str,
    pub(crate) column: String,
    pub(crate) digest_text: String,
    pub(crate) count: u64,
    pub(crate) last_seen: String,
}

/// What a data-fit check found.
#[derive(Debug, Clone, Serialize)]
pub(crate) enum CheckResult {
    /// `--no-scan` and the check reads the table.
    Skipped,
    /// Rows that do not fit, and one example value.
    Counted { rows: u64, example: Option<String> },
    /// The check could not run (its error).
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub(crate) server_version: String,
    pub(crate) database: String,
    pub(crate) table: String,
    pub(crate) alter: String,
    pub(crate) rows: u64,
    pub(crate) data_bytes: u64,
    pub(crate) index_bytes: u64,
    /// information_schema.INNODB_TABLES.TOTAL_ROW_VERSIONS of the table (instant changes so far).
    pub(crate) row_versions: Option<u64>,
    pub(crate) before: TableShape,
    /// The clone after the ALTER (None when MySQL refused it even with a copy).
    pub(crate) after: Option<TableShape>,
    pub(crate) instant: Attempt,
    pub(crate) inplace: Attempt,
    pub(crate) copy: Attempt,
    /// Row versions the ALTER added to the clone when INSTANT was accepted.
    pub(crate) instant_versions: Option<u64>,
    pub(crate) renamed: Vec<(String, String)>,
    pub(crate) dropped: Vec<String>,
    pub(crate) added: Vec<String>,
    /// Why `wraith migrate` would refuse the ALTER itself (renames the table, ALGORITHM=, adds a foreign key).
    pub(crate) alter_refusal: Option<String>,
    pub(crate) child_fks: Vec<String>,
    pub(crate) parent_fks: Vec<String>,
    /// migrate's refusal for the foreign keys, with the flags given.
    pub(crate) fk_refusal: Option<String>,
    pub(crate) triggers: Vec<String>,
    /// migrate's refusal for the triggers with the flags given, and with `--include-triggers` added.
    pub(crate) trigger_refusal: Option<String>,
    pub(crate) trigger_refusal_with_flag: Option<String>,
    pub(crate) partitions: u64,
    pub(crate) transactions: Vec<Transaction>,
    /// Transactions with record locks on the table (None: data_locks not readable).
    pub(crate) row_locks: Option<Vec<RowLockHolder>>,
    /// Write operations a second on the table, from performance_schema.
    pub(crate) write_rate: Option<f64>,
    /// (rows, seconds) of the timed sample read.
    pub(crate) read_sample: Option<(u64, f64)>,
    pub(crate) checks: Vec<(FitCheck, CheckResult)>,
    pub(crate) readers: Vec<Reader>,
    /// Dropped indexes and the reads through them since the counters reset (None: not readable).
    pub(crate) index_reads: Vec<(IndexShape, Option<u64>)>,
    /// Facts that could not be read, and why.
    pub(crate) unavailable: Vec<String>,
    /// The ALTER adds a foreign key (migrate refuses it).
    pub(crate) adds_foreign_key: bool,
    /// The migrate flags that change the findings: --ok-to-drop-table, --discard-foreign-keys.
    pub(crate) ok_to_drop_table: bool,
    pub(crate) discard_foreign_keys: bool,
    /// The old table's name after a cut-over (`_<t>_del`).
    pub(crate) old_table: String,
    /// --cut-over-lock-timeout-seconds.
    pub(crate) lock_timeout_seconds: u64,
}

/// Reads every fact. An error is one the plan cannot go on without: no connection, no such table, a
/// leftover clone.
pub(crate) async fn read(s: &PlanSettings) -> Result<Facts> {
    let c = &s.config;
    let (mut insp, mut prim) = super::connect(c).await?;
    let table = validate_table::table(c, &mut insp).await?;
    let mut f = Facts {
        database: c.database.clone(),
        table: c.table.clone(),
        alter: c.alter.clone(),
        server_version: query_value(&mut prim, "SELECT VERSION()").await?.unwrap_or_default(),
        ok_to_drop_table: c.tables.ok_to_drop_table,
        discard_foreign_keys: c.schema.discard_foreign_keys,
        old_table: crate::migration::TableNames::for_config(c).old,
        lock_timeout_seconds: c.cut_over.lock_timeout.as_secs(),
        ..Facts::default()
    };
    for conn in [&mut insp, &mut prim] {
        conn.query_drop(format!("SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}")).await?;
    }
    let a = alter::analyze(&c.alter)?;
    f.renamed = a.renamed_columns.clone();
    f.dropped = a.dropped_columns.clone();
    f.added = a.added_columns.clone();
    f.adds_foreign_key = a.adds_foreign_key;
    let mut approving = c.clone();
    approving.schema.approve_renamed_columns |= !c.schema.skip_renamed_columns;
    f.alter_refusal = alter_supported(&approving, &a).err().map(|e| e.to_string());

    stats(&mut insp, &mut f, table.estimated_rows).await?;
    f.before = shape(&mut insp, &c.database, &c.table).await?;
    refusals(c, &mut insp, &mut f).await?;
    try_on_clone(&mut prim, &mut f).await?;
    locks(&mut prim, &mut f).await;
    row_locks(&mut prim, &mut f).await;
    // Before any scan, so the plan's own reads do not count as uses.
    readers(&mut prim, "primary", &mut f).await;
    // Applications read replicas too: their statements are counted there.
    let uuid = "SELECT @@server_uuid";
    if query_value(&mut insp, uuid).await? != query_value(&mut prim, uuid).await? {
        readers(&mut insp, "replica", &mut f).await;
    }
    index_reads(&mut prim, &mut f).await;
    write_rate(&mut prim, &mut f, s.write_sample).await;
    read_sample(&mut prim, &mut f).await;
    if let Some(after) = &f.after {
        for check in fit_checks(&f.before, after, &f.renamed, &f.dropped) {
            let result = if check.scans && !s.scan {
                CheckResult::Skipped
            } else {
                run_check(&mut insp, &check, &qualified(&c.database, &c.table)).await
            };
            f.checks.push((check, result));
        }
    }
    let _ = insp.disconnect().await;
    let _ = prim.disconnect().await;
    Ok(f)
}

fn num(row: &[Option<String>], i: usize) -> Option<u64> {
    row.get(i).cloned().flatten().and_then(|s| s.parse::<f64>().ok()).map(|v| v.max(0.0) as u64)
}

fn text(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

/// `db/table` as InnoDB names tables (characters outside [A-Za-z0-9_] are encoded as `@xxxx`).
fn innodb_name(db: &str, table: &str) -> String {
    let enc = |s: &str| {
        s.chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_string() } else { format!("@{:04x}", c as u32) })
            .collect::<String>()
    };
    format!("{}/{}", enc(db), enc(table))
}

async fn row_versions(conn: &mut Conn, db: &str, table: &str) -> Result<Option<u64>> {
    let sql = format!(
        "SELECT TOTAL_ROW_VERSIONS FROM information_schema.INNODB_TABLES WHERE NAME = {}",
        quote(&innodb_name(db, table))
    );
    Ok(query_text(conn, &sql).await?.first().and_then(|r| num(r, 0)))
}

async fn stats(conn: &mut Conn, f: &mut Facts, estimated_rows: u64) -> Result<()> {
    let rows = query_text(
        conn,
        &format!(
            "SELECT DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote(&f.database),
            quote(&f.table)
        ),
    )
    .await?;
    f.rows = estimated_rows;
    if let Some(r) = rows.first() {
        f.data_bytes = num(r, 0).unwrap_or(0);
        f.index_bytes = num(r, 1).unwrap_or(0);
    }
    match row_versions(conn, &f.database, &f.table).await {
        Ok(v) => f.row_versions = v,
        Err(e) => f.unavailable.push(format!("row versions (information_schema.INNODB_TABLES): {e}")),
    }
    let parts = query_value(
        conn,
        &format!(
            "SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
             AND PARTITION_NAME IS NOT NULL",
            quote(&f.database),
            quote(&f.table)
        ),
    )
    .await?;
    f.partitions = parts.and_then(|p| p.parse().ok()).unwrap_or(0);
    Ok(())
}

/// Columns and indexes of a table.
pub(crate) async fn shape(conn: &mut Conn, db: &str, table: &str) -> Result<TableShape> {
    let cols = query_text(
        conn,
        &format!(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, CHARACTER_SET_NAME, \
             COLLATION_NAME, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    let columns = cols
        .iter()
        .map(|r| ColumnShape {
            name: text(r, 0),
            data_type: text(r, 1).to_ascii_lowercase(),
            column_type: text(r, 2),
            nullable: text(r, 3) == "YES",
            default: r.get(4).cloned().flatten(),
            extra: text(r, 5).to_ascii_lowercase(),
            charset: r.get(6).cloned().flatten(),
            collation: r.get(7).cloned().flatten(),
            max_length: num(r, 8),
            precision: num(r, 9),
            scale: num(r, 10),
        })
        .collect();
    let stats = query_text(
        conn,
        &format!(
            "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    let mut indexes: Vec<IndexShape> = Vec::new();
    for r in &stats {
        let name = text(r, 0);
        // A functional key part has no column; its expression is not needed here.
        let col = r.get(1).cloned().flatten().unwrap_or_else(|| "(expression)".into());
        match indexes.last_mut() {
            Some(i) if i.name == name => i.columns.push(col),
            _ => indexes.push(IndexShape { name, columns: vec![col], unique: text(r, 2) == "0" }),
        }
    }
    Ok(TableShape { columns, indexes })
}

/// What `wraith migrate`'s own validation would refuse, with the flags given (and with --include-triggers).
async fn refusals(c: &Config, conn: &mut Conn, f: &mut Facts) -> Result<()> {
    (f.child_fks, f.parent_fks) = inspector::foreign_keys(conn, &c.database, &c.table).await?;
    f.fk_refusal = validate_table::foreign_keys(c, conn).await.err().map(|e| e.to_string());
    f.triggers = inspector::triggers(conn, &c.database, &c.table).await?.into_iter().map(|t| t.name).collect();
    f.trigger_refusal = validate_table::triggers(c, conn).await.err().map(|e| e.to_string());
    if f.trigger_refusal.is_some() {
        let mut with = c.clone();
        with.schema.include_triggers = true;
        if with.schema.trigger_suffix.is_empty() {
            with.schema.trigger_suffix = super::TRIGGER_SUFFIX.into();
        }
        f.trigger_refusal_with_flag = validate_table::triggers(&with, conn).await.err().map(|e| e.to_string());
    }
    Ok(())
}

/// The server's own words for a refusal; other errors (a lost connection) end the plan.
fn refusal(r: std::result::Result<(), mysql_async::Error>) -> Result<Attempt> {
    match r {
        Ok(()) => Ok(Attempt { ok: true, error: None }),
        Err(mysql_async::Error::Server(e)) => {
            Ok(Attempt { ok: false, error: Some(format!("{} ({})", e.message, e.code)) })
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates the clone, tries INSTANT, then INPLACE with LOCK=NONE, then a copy, reads its shape, drops it.
async fn try_on_clone(conn: &mut Conn, f: &mut Facts) -> Result<()> {
    let name = plan_clone(&f.table);
    if inspector::table_exists(conn, &f.database, &name).await? {
        return Err(Error::precondition(
            format!("{}.{name} exists: wraith plan needs that name for its empty clone of the table", f.database),
            format!(
                "it is a leftover of an interrupted `wraith plan` (it holds no rows of yours): drop it with \
                 DROP TABLE {}",
                qualified(&f.database, &name)
            ),
        ));
    }
    // Kept out of the binlog when the account may: replicas then never see the clone.
    if conn.query_drop("SET SESSION sql_log_bin = 0").await.is_err() {
        f.unavailable.push("sql_log_bin=0 (not permitted): the clone's CREATE and DROP replicate".into());
    }
    let clone = qualified(&f.database, &name);
    let created = conn.query_drop(format!("CREATE TABLE {clone} LIKE {}", qualified(&f.database, &f.table))).await;
    if let Err(e) = created {
        f.unavailable.push(format!("the empty clone (strategy, new schema): {}", crate::error::server_error_text(&e)));
        return Ok(());
    }
    let tried = tries(conn, f, &clone, &name).await;
    let dropped = conn.query_drop(format!("DROP TABLE IF EXISTS {clone}")).await;
    let _ = conn.query_drop("SET SESSION sql_log_bin = 1").await;
    tried?;
    dropped.map_err(|e| {
        Error::precondition(
            format!("could not drop the plan's empty clone {clone}: {}", crate::error::server_error_text(&e)),
            format!("drop it by hand: DROP TABLE {clone}"),
        )
    })
}

async fn tries(conn: &mut Conn, f: &mut Facts, clone: &str, name: &str) -> Result<()> {
    let alter = |how: &str| format!("ALTER TABLE {clone} {how}{}", f.alter);
    f.instant = refusal(conn.query_drop(alter("ALGORITHM=INSTANT, ")).await)?;
    if f.instant.ok {
        f.instant_versions = row_versions(conn, &f.database, name).await.ok().flatten();
    }
    f.inplace = if f.instant.ok {
        Attempt { ok: true, error: None }
    } else {
        refusal(conn.query_drop(alter("ALGORITHM=INPLACE, LOCK=NONE, ")).await)?
    };
    f.copy = if f.inplace.ok { Attempt { ok: true, error: None } } else { refusal(conn.query_drop(alter("")).await)? };
    if f.copy.ok {
        f.after = Some(shape(conn, &f.database, name).await?);
    }
    Ok(())
}

/// Open transactions, and which hold a metadata lock on the table. INNODB_TRX is a snapshot the server
/// refreshes at most every 0.1 s: while a thread holding a metadata lock on the table is missing from it, it
/// is read again (a few times).
async fn locks(conn: &mut Conn, f: &mut Facts) {
    for attempt in 0..3 {
        if locks_once(conn, f).await || attempt == 2 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// One read of `locks`; false when a metadata lock holder was missing from INNODB_TRX.
async fn locks_once(conn: &mut Conn, f: &mut Facts) -> bool {
    let trx = query_text(
        conn,
        "SELECT trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), trx_state, trx_query \
         FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id <> CONNECTION_ID() ORDER BY trx_started LIMIT 20",
    )
    .await;
    let holders = query_text(
        conn,
        &format!(
            "SELECT DISTINCT t.PROCESSLIST_ID FROM performance_schema.metadata_locks m JOIN performance_schema.threads t \
             ON t.THREAD_ID = m.OWNER_THREAD_ID WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = {} \
             AND m.OBJECT_NAME = {} AND t.PROCESSLIST_ID <> CONNECTION_ID()",
            quote(&f.database),
            quote(&f.table)
        ),
    )
    .await;
    let holders: Vec<u64> = match holders {
        Ok(rows) => rows.iter().filter_map(|r| num(r, 0)).collect(),
        Err(e) => {
            f.unavailable.push(format!("metadata locks (performance_schema.metadata_locks): {e}"));
            Vec::new()
        }
    };
    match trx {
        Ok(rows) => {
            let listed = |thread: &u64| rows.iter().any(|r| num(r, 0) == Some(*thread));
            let complete = holders.iter().all(listed);
            f.transactions = rows
                .iter()
                .map(|r| {
                    let thread = num(r, 0).unwrap_or(0);
                    Transaction {
                        thread,
                        age_seconds: num(r, 1).unwrap_or(0),
                        state: text(r, 2),
                        query: r.get(3).cloned().flatten(),
                        holds_table: holders.contains(&thread),
                    }
                })
                .collect();
            complete
        }
        Err(e) => {
            f.unavailable.push(format!("open transactions (information_schema.INNODB_TRX needs PROCESS): {e}"));
            true
        }
    }
}

/// Record locks on the table, per transaction, oldest transaction first. Table-level intention locks are left
/// out: every writer takes one, and the metadata locks already show who touched the table.
async fn row_locks(conn: &mut Conn, f: &mut Facts) {
    let sql = format!(
        "SELECT l.ENGINE_TRANSACTION_ID, MAX(t.trx_mysql_thread_id), MAX(TIMESTAMPDIFF(SECOND, t.trx_started, NOW())), \
         SUM(l.LOCK_STATUS = 'GRANTED'), SUM(l.LOCK_STATUS = 'WAITING'), \
         GROUP_CONCAT(DISTINCT l.LOCK_MODE ORDER BY l.LOCK_MODE SEPARATOR '|') \
         FROM performance_schema.data_locks l LEFT JOIN information_schema.INNODB_TRX t \
         ON t.trx_id = l.ENGINE_TRANSACTION_ID \
         WHERE l.LOCK_TYPE = 'RECORD' AND l.OBJECT_SCHEMA = {} AND l.OBJECT_NAME = {} \
         GROUP BY l.ENGINE_TRANSACTION_ID ORDER BY MAX(t.trx_started) IS NULL, MAX(t.trx_started) LIMIT 100",
        quote(&f.database),
        quote(&f.table)
    );
    // INNODB_TRX is a snapshot the server refreshes at most every 0.1 s: a transaction that data_locks
    // already shows can be missing from it for that long. Read again, a few times, before leaving its
    // thread and age unknown.
    for attempt in 0..3 {
        match query_text(conn, &sql).await {
            Ok(rows) => {
                let holders: Vec<RowLockHolder> = rows
                    .iter()
                    .map(|r| RowLockHolder {
                        trx_id: text(r, 0),
                        thread: num(r, 1),
                        age_seconds: num(r, 2),
                        granted: num(r, 3).unwrap_or(0),
                        waiting: num(r, 4).unwrap_or(0),
                        modes: text(r, 5).split('|').filter(|m| !m.is_empty()).map(String::from).collect(),
                    })
                    .collect();
                let complete = holders.iter().all(|h| h.thread.is_some());
                f.row_locks = Some(holders);
                if complete || attempt == 2 {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            }
            Err(e) => {
                f.unavailable.push(format!("row locks (performance_schema.data_locks): {e}"));
                return;
            }
        }
    }
}

/// `LIKE` pattern text for a literal string.
fn like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// Statement shapes that still name a column the ALTER drops or renames.
async fn readers(conn: &mut Conn, server: &'static str, f: &mut Facts) {
    let going: Vec<String> = f.dropped.iter().cloned().chain(f.renamed.iter().map(|(o, _)| o.clone())).collect();
    if going.is_empty() {
        return;
    }
    // A full digest table records no new statement shape (they all go to the one row without a digest):
    // readers seen since it filled up are missing, which the plan must say rather than report none.
    let lost = "SELECT COUNT_STAR FROM performance_schema.events_statements_summary_by_digest WHERE DIGEST IS NULL";
    if let Ok(rows) = query_text(conn, lost).await {
        if let Some(n) = rows.first().and_then(|r| num(r, 0)).filter(|n| *n > 0) {
            f.unavailable.push(format!(
                "statement digests on the {server}: the digest table is full (performance_schema_digests_size), \
                 and {n} statements since were not recorded, so readers of the columns to drop may be missing; \
                 TRUNCATE TABLE performance_schema.events_statements_summary_by_digest starts it afresh"
            ));
        }
    }
    for column in going {
        let sql = format!(
            "SELECT DIGEST_TEXT, COUNT_STAR, LAST_SEEN FROM performance_schema.events_statements_summary_by_digest \
             WHERE (SCHEMA_NAME = {db} OR DIGEST_TEXT LIKE {qdb}) AND DIGEST_TEXT LIKE {qt} AND DIGEST_TEXT LIKE {qc} \
             AND DIGEST_TEXT NOT LIKE '%wraith\\_plan%' AND DIGEST_TEXT NOT LIKE '%\\_gho`%' \
             AND DIGEST_TEXT NOT LIKE 'ALTER %' AND DIGEST_TEXT NOT LIKE 'SHOW %' AND DIGEST_TEXT NOT LIKE 'CREATE %' \
             ORDER BY LAST_SEEN DESC LIMIT 5",
            db = quote(&f.database),
            qdb = quote(&format!("%`{}`%", like(&f.database))),
            qt = quote(&format!("%`{}`%", like(&f.table))),
            qc = quote(&format!("%`{}`%", like(&column))),
        );
        match query_text(conn, &sql).await {
            Ok(rows) => f.readers.extend(rows.iter().map(|r| Reader {
                server,
                column: column.clone(),
                digest_text: text(r, 0),
                count: num(r, 1).unwrap_or(0),
                last_seen: text(r, 2),
            })),
            Err(e) => {
                f.unavailable.push(format!("statement digests (performance_schema): {e}"));
                return;
            }
        }
    }
}

/// Reads through each index the ALTER drops, since the counters reset.
async fn index_reads(conn: &mut Conn, f: &mut Facts) {
    let Some(after) = &f.after else { return };
    let dropped: Vec<IndexShape> = super::shape::dropped_indexes(&f.before, after).into_iter().cloned().collect();
    for idx in dropped {
        let sql = format!(
            "SELECT COUNT_READ FROM performance_schema.table_io_waits_summary_by_index_usage \
             WHERE OBJECT_SCHEMA = {} AND OBJECT_NAME = {} AND INDEX_NAME = {}",
            quote(&f.database),
            quote(&f.table),
            quote(&idx.name)
        );
        let reads = match query_text(conn, &sql).await {
            Ok(rows) => rows.first().and_then(|r| num(r, 0)),
            Err(e) => {
                f.unavailable.push(format!("index usage (performance_schema): {e}"));
                None
            }
        };
        f.index_reads.push((idx, reads));
    }
}

/// Row writes a second on the table: performance_schema's counter read twice, `interval` apart.
async fn write_rate(conn: &mut Conn, f: &mut Facts, interval: Duration) {
    if interval.is_zero() {
        return;
    }
    let sql = format!(
        "SELECT COUNT_WRITE FROM performance_schema.table_io_waits_summary_by_table WHERE OBJECT_SCHEMA = {} \
         AND OBJECT_NAME = {}",
        quote(&f.database),
        quote(&f.table)
    );
    let mut read = async || query_text(conn, &sql).await.map(|r| r.first().and_then(|r| num(r, 0)).unwrap_or(0));
    let first = read().await;
    let started = Instant::now();
    tokio::time::sleep(interval).await;
    match (first, read().await) {
        (Ok(a), Ok(b)) => f.write_rate = Some(b.saturating_sub(a) as f64 / started.elapsed().as_secs_f64()),
        (Err(e), _) | (_, Err(e)) => f.unavailable.push(format!("write rate (performance_schema): {e}")),
    }
}

/// Reads up to `SAMPLE_ROWS` rows of the table, timed: the read rate of this server for this table.
async fn read_sample(conn: &mut Conn, f: &mut Facts) {
    let sql = format!("SELECT * FROM {} AS wraith_plan LIMIT {SAMPLE_ROWS}", qualified(&f.database, &f.table));
    let started = Instant::now();
    let mut rows = 0u64;
    let r = match conn.query_iter(sql).await {
        Ok(q) => q.for_each_and_drop(|_| rows += 1).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => f.read_sample = Some((rows, started.elapsed().as_secs_f64())),
        Err(e) => f.unavailable.push(format!("read rate (a sample read): {}", crate::error::server_error_text(&e))),
    }
}

async fn run_check(conn: &mut Conn, check: &FitCheck, table: &str) -> CheckResult {
    let sql = check.sql.replace("{table}", &format!("{table} AS wraith_plan"));
    match query_text(conn, &sql).await {
        Ok(rows) => {
            let r = rows.first().cloned().unwrap_or_default();
            CheckResult::Counted { rows: num(&r, 0).unwrap_or(0), example: r.get(1).cloned().flatten() }
        }
        Err(e) => CheckResult::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn innodb_names_encode_what_is_not_a_word_character() {
        assert_eq!(super::innodb_name("d-b", "t_1"), "d@002db/t_1");
        assert_eq!(super::like("a_b%"), "a\\_b\\%");
    }
}
