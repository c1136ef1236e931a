//! Preparation, after validation and before any row moves: the lock that keeps a second run off the
//! table, leftover helper tables, --attempt-instant-ddl, and the ghost table (created, altered, inspected,
//! and turned into copy and apply plans), or the ghost and checkpoint a --resume continues with.
//!
//! A leftover helper table refuses the run with what it tells about the earlier run (a checkpoint to
//! resume, or a cut-over that most likely completed) and the flag or statement that clears it.
//!
//! Invariants: the original table is written only by an instant ALTER the operator asked for
//! (--attempt-instant-ddl, never with --test-on-replica); a ghost table this phase created is dropped again
//! when a later step of this phase fails, and always in noop mode.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::info;

use super::checkpoint::{self, Checkpoint};
use super::names::{lock_name, TableNames};
use super::plan::{self, Plans};
use super::validate::Validated;
use crate::config::Config;
use crate::copy::indexes::{self, DeferredIndexes};
use crate::error::{server_error_text, Error, Result};
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::inspector;
use crate::mysql::sql::{qualified, quote};

/// `GET_LOCK` on a connection of its own, held for the whole run.
pub(crate) struct TableLock {
    conn: Conn,
    name: String,
}

impl TableLock {
    pub(crate) async fn take(c: &Config, v: &Validated) -> Result<TableLock> {
        let mut conn = connect(&v.primary_opts, "primary", c.conn.timeout).await?;
        let name = lock_name(&c.database, &c.table);
        let got: Option<Option<i64>> = conn.query_first(format!("SELECT GET_LOCK({}, 0)", quote(&name))).await?;
        if got != Some(Some(1)) {
            return Err(Error::AlreadyRunning { table: format!("{}.{}", c.database, c.table), lock: name });
        }
        Ok(TableLock { conn, name })
    }

    pub(crate) async fn release(mut self) {
        let _ = self.conn.query_drop(format!("DO RELEASE_LOCK({})", quote(&self.name))).await;
        let _ = self.conn.disconnect().await;
    }
}

/// What preparation leads to.
pub(crate) enum Prepared {
    /// MySQL applied the ALTER instantly (--attempt-instant-ddl): nothing to copy.
    Instant,
    /// Validation passed and nothing is to be migrated (no --execute).
    Noop,
    /// The ghost table is ready: migrate into it.
    Ghost(Box<Ghost>),
}

/// A ghost table ready for rows, with the plans for copying and applying into it.
pub(crate) struct Ghost {
    /// A writer session on the primary.
    pub(crate) conn: Conn,
    pub(crate) plans: Plans,
    /// Secondary indexes to build after the copy (empty: none deferred).
    pub(crate) deferred: DeferredIndexes,
    /// --resume: where the earlier run stopped.
    pub(crate) resume: Option<Checkpoint>,
}

pub(crate) async fn prepare(c: &Config, n: &TableNames, v: &Validated) -> Result<Prepared> {
    let mut prim = connect(&v.primary_opts, "primary", c.conn.timeout).await?;
    // The ghost's ALTER runs with the writers' sql_mode, so --allow-zero-in-date applies to it too.
    setup_writer(&mut prim, c.writer_mode()).await?;
    leftovers(c, n, &mut prim).await?;
    // Instant DDL changes the table in place: never in --test-on-replica, whose point is to leave it be.
    if c.schema.attempt_instant_ddl && c.execute && !c.checkpoint.resume && !c.topology.test_on_replica {
        let sql = format!("ALTER TABLE {} {}, ALGORITHM=INSTANT", qualified(&c.database, &c.table), c.alter);
        match prim.query_drop(&sql).await {
            Ok(()) => {
                info!("--attempt-instant-ddl: MySQL applied the ALTER instantly; no copy needed");
                return Ok(Prepared::Instant);
            }
            Err(e) => info!("--attempt-instant-ddl: not possible ({}); migrating with a copy", e),
        }
    }
    if c.checkpoint.resume {
        return resume(c, n, v, prim).await;
    }
    let (plans, deferred) = create_ghost(c, n, v, &mut prim).await?;
    let db = &c.database;
    info!(
        "migrating {db}.{} on {} (inspected {}), key {} ({}), {} columns copied",
        c.table,
        v.primary,
        c.conn.inspect,
        plans.copy.key_index,
        plans.copy.key_columns.join(", "),
        plans.copy.source_columns.len()
    );
    if !c.execute {
        prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.ghost))).await?;
        info!(
            "noop: validation passed; --execute was not given, so nothing was migrated and the ghost table was dropped"
        );
        return Ok(Prepared::Noop);
    }
    if c.checkpoint.enabled {
        prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.checkpoint))).await?;
        checkpoint::create(&mut prim, db, &n.checkpoint).await?;
    }
    Ok(Prepared::Ghost(Box::new(Ghost { conn: prim, plans, deferred, resume: None })))
}

/// Leftover ghost or old tables: refused, or dropped when the flag says so.
async fn leftovers(c: &Config, n: &TableNames, prim: &mut Conn) -> Result<()> {
    let db = &c.database;
    for (name, flag, allowed) in [
        (&n.ghost, "--initially-drop-ghost-table", c.tables.initially_drop_ghost_table),
        (&n.old, "--initially-drop-old-table", c.tables.initially_drop_old_table),
    ] {
        if c.checkpoint.resume && name == &n.ghost {
            continue; // resuming continues with it
        }
        if inspector::table_exists(prim, db, name).await? {
            if !allowed {
                return Err(leftover_refusal(c, n, prim, name, flag).await?);
            }
            info!("dropping leftover {db}.{name} ({flag})");
            prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, name))).await?;
        }
    }
    Ok(())
}

/// Why a leftover table stops the run, and what to do about it, read from what else the earlier run left:
/// a checkpoint can be resumed; an old table beside a changelog but no ghost table means the earlier run
/// most likely completed its RENAME and was stopped before its clean-up (the table already has the new
/// schema, and the old table holds the original rows: nothing to migrate or resume, only helpers to drop).
async fn leftover_refusal(c: &Config, n: &TableNames, prim: &mut Conn, name: &str, flag: &str) -> Result<Error> {
    let db = &c.database;
    let drop_it = format!("drop it (DROP TABLE {}) or pass {flag}", qualified(db, name));
    if name == n.ghost {
        let hint = if inspector::table_exists(prim, db, &n.checkpoint).await? {
            format!(
                "{drop_it} to start over; or continue the earlier run from its checkpoint ({}) with --resume",
                n.checkpoint
            )
        } else {
            format!("{drop_it} to start over")
        };
        return Ok(Error::precondition(format!("table {db}.{name} already exists (left by an earlier run?)"), hint));
    }
    let mut helpers = Vec::new();
    for t in [&n.changelog, &n.checkpoint] {
        if inspector::table_exists(prim, db, t).await? {
            helpers.push(t.as_str());
        }
    }
    if !helpers.is_empty() && !inspector::table_exists(prim, db, &n.ghost).await? {
        let helpers_q: Vec<String> = helpers.iter().map(|t| qualified(db, t)).collect();
        return Ok(Error::precondition(
            format!(
                "table {db}.{name} already exists, beside the helper table(s) {} of an earlier run but no ghost \
                 table {}: that run's cut-over most likely completed, so {db}.{} already has the new schema and \
                 {db}.{name} holds the original table; there is nothing to migrate or resume",
                helpers.join(", "),
                n.ghost,
                c.table
            ),
            format!(
                "check {db}.{} (SHOW CREATE TABLE); if it has the new schema, clean up with DROP TABLE IF EXISTS {}; \
                 and drop {} once satisfied. {flag} would drop {db}.{name} (the original rows) and migrate again",
                c.table,
                helpers_q.join(", "),
                qualified(db, name)
            ),
        ));
    }
    Ok(Error::precondition(
        format!(
            "table {db}.{name} already exists (left by an earlier run? if its cut-over completed, it holds the \
             original table and {db}.{} has the new schema)",
            c.table
        ),
        drop_it,
    ))
}

/// The ghost table: created like the original, altered, its plain secondary indexes deferred (with
/// --execute and --defer-secondary-indexes, without --checkpoint), inspected. Created even in noop mode (the ALTER is validated
/// by running it); dropped again if any of this fails.
async fn create_ghost(c: &Config, n: &TableNames, v: &Validated, prim: &mut Conn) -> Result<(Plans, DeferredIndexes)> {
    let db = &c.database;
    let ghost_q = qualified(db, &n.ghost);
    prim.query_drop(format!("CREATE TABLE {ghost_q} LIKE {}", qualified(db, &c.table))).await?;
    let created = async {
        if let Err(e) = prim.query_drop(format!("ALTER TABLE {ghost_q} {}", c.alter)).await {
            return Err(Error::precondition(
                format!("{} (running the ALTER on the ghost table)", server_error_text(&e)),
                "fix the --alter statement; the original table was not touched",
            ));
        }
        // Like gh-ost: the ghost continues the original's AUTO_INCREMENT unless the ALTER sets one.
        if !v.alter_sets_auto_increment {
            if let Some(ai) = inspector::auto_increment(prim, db, &c.table).await? {
                prim.query_drop(format!("ALTER TABLE {ghost_q} AUTO_INCREMENT = {ai}")).await?;
            }
        }
        // Not with --checkpoint: a --resume could not tell which keys the ghost still lacks (that would need
        // the list in the checkpoint table, or a scratch table the migration account may not create).
        let deferred = match c.execute && c.copy.defer_secondary_indexes && !c.checkpoint.enabled {
            true => indexes::defer(prim, db, &n.ghost).await?,
            false => DeferredIndexes::default(),
        };
        let new = inspector::table_info(prim, db, &n.ghost)
            .await?
            .ok_or_else(|| Error::Binlog("ghost table vanished".into()))?;
        Ok((plan::plans(c, n, v, &new)?, deferred))
    }
    .await;
    if created.is_err() {
        let _ = prim.query_drop(format!("DROP TABLE IF EXISTS {ghost_q}")).await;
    }
    created
}

/// --resume: continue from the latest checkpoint with the existing ghost table.
async fn resume(c: &Config, n: &TableNames, v: &Validated, mut prim: Conn) -> Result<Prepared> {
    let db = &c.database;
    let hint = "run without --resume to start over (with --initially-drop-ghost-table)";
    let new = inspector::table_info(&mut prim, db, &n.ghost).await?.ok_or_else(|| {
        Error::precondition(format!("--resume: the ghost table {db}.{} does not exist", n.ghost), hint)
    })?;
    if !inspector::table_exists(&mut prim, db, &n.checkpoint).await? {
        return Err(Error::precondition(format!("--resume: no checkpoint table {db}.{}", n.checkpoint), hint));
    }
    let cp = checkpoint::read_latest(&mut prim, db, &n.checkpoint)
        .await?
        .ok_or_else(|| Error::precondition(format!("--resume: {db}.{} holds no checkpoint", n.checkpoint), hint))?;
    if cp.alter != c.alter {
        return Err(Error::precondition(
            format!("--resume: the checkpoint was taken for --alter={:?}, not {:?}", cp.alter, c.alter),
            "resume with the same --alter",
        ));
    }
    let plans = plan::plans(c, n, v, &new)?;
    // A run with --checkpoint never defers secondary indexes (create_ghost): the ghost has every key.
    let deferred = DeferredIndexes::default();
    info!(
        "resuming {db}.{} from checkpoint: {} rows copied{}, binlog applied through {}",
        c.table,
        cp.rows_copied,
        if cp.copy_done { " (copy complete)" } else { "" },
        cp.applied
    );
    if !c.execute {
        info!("noop: the checkpoint is usable; add --execute to resume");
        return Ok(Prepared::Noop);
    }
    Ok(Prepared::Ghost(Box::new(Ghost { conn: prim, plans, deferred, resume: Some(cp) })))
}
