//! What a revert checks before it writes anything, one refusal a check, each saying what is wrong and
//! what to do: the checkpoint table and its cut-over point, the --old-table it names, both tables'
//! definitions against the ones recorded, the binlog since the point still on the server, and no leftover
//! `_<t>_rev_del`. Also the count of changes a noop revert reports (read from the binlog, writing nothing).
//!
//! Invariant: nothing here writes; a refusal leaves every table as it was.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::mpsc;

use super::mapping::{self, Reverse};
use super::point::{self, CutOverPoint};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::migration::names::TableNames;
use crate::mysql::gtid::GtidSet;
use crate::mysql::inspector::{self, query_value};
use crate::mysql::schema::TableInfo;
use crate::mysql::sql::quote;
use crate::replication::streamer::{self, RowChange, StreamItem, StreamerConfig};
use crate::state::stats::Stats;

/// What the checks found: the point to replay from and the reverse mapping.
pub(crate) struct Checked {
    pub(crate) point: CutOverPoint,
    pub(crate) old: TableInfo,
    pub(crate) reverse: Reverse,
    /// Old columns that rows inserted since cannot fill (NOT NULL, no default, dropped by the migration).
    pub(crate) unfillable: Vec<String>,
}

pub(crate) async fn check(c: &Config, n: &TableNames, prim: &mut Conn, current: &TableInfo) -> Result<Checked> {
    let db = &c.database;
    let (t, old) = (&c.table, &n.ghost);
    let by_hand = format!(
        "without a cut-over point, revert by hand: stop writes, copy the changes since the cut-over into {db}.{old}, \
         then RENAME TABLE {t} TO {}, {old} TO {t}",
        n.old
    );
    if !inspector::table_exists(prim, db, &n.checkpoint).await? {
        return Err(Error::precondition(
            format!("--revert: no checkpoint table {db}.{}, so no cut-over point to revert from", n.checkpoint),
            format!(
                "a migration is revertible when it ran with --checkpoint (and without --ok-to-drop-table); {by_hand}"
            ),
        ));
    }
    let point = point::read(prim, db, &n.checkpoint).await?.ok_or_else(|| {
        Error::precondition(
            format!(
                "--revert: {db}.{} holds no cut-over point (the migration did not complete its cut-over, or an \
                 older wraith ran it)",
                n.checkpoint
            ),
            format!("if the migration is still to finish, run it (with --resume); {by_hand}"),
        )
    })?;
    if !point.old_table.eq_ignore_ascii_case(old) {
        return Err(Error::precondition(
            format!("--revert: the cut-over at {} kept the old table as {}, not {old}", point.at, point.old_table),
            format!("pass --old-table={}", point.old_table),
        ));
    }
    let changed = |what: String| {
        Error::precondition(
            what,
            "a revert replays the changes since the cut-over onto the tables as they were then; it cannot map them \
             onto a table changed since. Nothing was changed",
        )
    };
    match point::definition(prim, db, old).await? {
        None => {
            return Err(Error::precondition(
                format!(
                    "--revert: the old table {db}.{old} does not exist (dropped since the cut-over at {}?)",
                    point.at
                ),
                "without the old table there is nothing to revert to: restore it from a backup",
            ))
        }
        Some(d) if d != point.old_definition => {
            return Err(changed(format!(
                "--revert: the old table {db}.{old} was altered since the cut-over at {} (its definition differs from \
                 the one recorded)",
                point.at
            )))
        }
        Some(_) => {}
    }
    if point::definition(prim, db, t).await?.as_deref() != Some(point.new_definition.as_str()) {
        return Err(changed(format!(
            "--revert: {db}.{t} was altered since the cut-over at {} (its definition differs from the one recorded)",
            point.at
        )));
    }
    let purged = query_value(prim, "SELECT @@global.gtid_purged").await?.unwrap_or_default();
    let covered =
        query_value(prim, &format!("SELECT GTID_SUBSET({}, {})", quote(&purged), quote(&point.gtid.to_string())))
            .await?;
    if covered.as_deref() != Some("1") {
        return Err(Error::precondition(
            format!(
                "--revert: binary logs written since the cut-over at {} were purged (gtid_purged {purged} is not within \
                 the cut-over's set): the changes made since cannot all be read",
                point.at
            ),
            format!("keep binary logs for as long as a migration may be reverted (binlog_expire_logs_seconds); {by_hand}"),
        ));
    }
    if inspector::table_exists(prim, db, &n.old).await? && !c.tables.initially_drop_old_table {
        return Err(Error::precondition(
            format!("--revert: table {db}.{} already exists (left by an earlier revert?)", n.old),
            format!(
                "drop it (DROP TABLE {}) or pass --initially-drop-old-table; the revert keeps the table it replaces there",
                crate::mysql::sql::qualified(db, &n.old)
            ),
        ));
    }
    let old_info = inspector::table_info(prim, db, old)
        .await?
        .ok_or_else(|| Error::Binlog(format!("old table {db}.{old} vanished")))?;
    for (o, nn) in &point.pairs {
        if old_info.column(o).is_none() || current.column(nn).is_none() {
            return Err(changed(format!(
                "--revert: the recorded column pair {o} -> {nn} does not match {db}.{old} and {db}.{t}"
            )));
        }
    }
    let reverse = mapping::reverse(&point.pairs, current, &old_info);
    let with_default = columns_with_default(prim, db, old).await?;
    let unfillable =
        mapping::unfillable(&reverse, &old_info, |c| with_default.iter().any(|d| d.eq_ignore_ascii_case(c)));
    Ok(Checked { point, old: old_info, reverse, unfillable })
}

async fn columns_with_default(prim: &mut Conn, db: &str, table: &str) -> Result<Vec<String>> {
    Ok(prim
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.columns WHERE table_schema = ? AND table_name = ? \
             AND COLUMN_DEFAULT IS NOT NULL",
            (db, table),
        )
        .await?)
}

/// Changes to the table since the cut-over, as a noop revert reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    pub(crate) inserts: u64,
    pub(crate) updates: u64,
    pub(crate) deletes: u64,
}

impl Changes {
    pub(crate) fn total(&self) -> u64 {
        self.inserts + self.updates + self.deletes
    }
}

/// Reads the binlog from the cut-over point up to the server's current GTID set and counts the row changes
/// of `table` (what a revert would replay).
pub(crate) async fn count_changes(
    opts: &Opts,
    server_id: u32,
    db: &str,
    table: &TableInfo,
    from: &GtidSet,
    now: GtidSet,
    read_timeout: Duration,
) -> Result<Changes> {
    let mut counted = Changes::default();
    if from.includes(&now) {
        return Ok(counted);
    }
    let (tx, mut rx) = mpsc::channel(1000);
    let cfg = StreamerConfig {
        opts: opts.clone(),
        server_id,
        database: db.to_string(),
        table: table.name.clone(),
        changelog: String::new(),
        own_tables: Vec::new(),
        columns: table.columns.len(),
        read_timeout,
        max_reconnects: 3,
    };
    let stream = tokio::spawn(streamer::run(cfg, from.clone(), tx, Arc::new(Stats::new(Instant::now()))));
    while let Some(item) = rx.recv().await {
        match item {
            StreamItem::Row(RowChange::Insert(_)) => counted.inserts += 1,
            StreamItem::Row(RowChange::Update(..)) => counted.updates += 1,
            StreamItem::Row(RowChange::Delete(_)) => counted.deletes += 1,
            StreamItem::Position(p) if p.includes(&now) => break,
            _ => {}
        }
    }
    drop(rx);
    match tokio::time::timeout(Duration::from_secs(5), stream).await {
        // The stream ends when its receiver goes; an error before that is the count's.
        Ok(Ok(Err(e))) => Err(e),
        _ => Ok(counted),
    }
}
