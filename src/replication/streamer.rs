//! The binlog streamer: reads the inspected server's binlog as a replica would, from a GTID set, and turns
//! row events of the migrated table (and of the changelog) into `StreamItem`s, in binlog order, on a
//! bounded channel. It survives a dropped connection by reconnecting from the GTID set of the transactions
//! it has received in full (up to --default-retries failures in a row); replaying the cut transaction is harmless because changes are row images that
//! the applier writes idempotently.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::row::BinlogRow;
use mysql_async::binlog::value::BinlogValue;
use mysql_async::{BinlogStreamRequest, Conn, Opts};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::error::{Error, Result};
use crate::mysql::gtid::{uuid_text, GtidSet};
use crate::state::stats::{Stats, StreamStats};

/// One row image: every column of the source table in ordinal order.
pub(crate) type Image = Vec<BinlogValue<'static>>;

#[derive(Debug, Clone)]
pub(crate) enum RowChange {
    Insert(Image),
    Update(Image, Image),
    Delete(Image),
}

#[derive(Debug)]
pub(crate) enum StreamItem {
    /// A change of the migrated table.
    Row(RowChange),
    /// A row written to the changelog table (`hint`, `value`): heartbeats and state markers.
    Changelog { hint: String, value: String },
    /// Every transaction up to here (this GTID set) has been sent in full: once the items before this one
    /// are applied, the ghost reflects this set (what a checkpoint records).
    Position(GtidSet),
}

pub(crate) struct StreamerConfig {
    pub(crate) opts: Opts,
    pub(crate) server_id: u32,
    pub(crate) database: String,
    pub(crate) table: String,
    pub(crate) changelog: String,
    /// wraith's own tables in `database` (ghost, changelog, checkpoint): a transaction that writes any other
    /// table is the application's (`StreamStats::app_transactions`, which the latency pacer reads).
    pub(crate) own_tables: Vec<String>,
    pub(crate) columns: usize,
    /// A read that takes longer than this (with 1 s server heartbeats) means the connection is dead.
    pub(crate) read_timeout: Duration,
    pub(crate) max_reconnects: u32,
}

/// Runs until `tx` is closed (the migration is done) or a fatal error.
pub(crate) async fn run(
    cfg: StreamerConfig,
    start: GtidSet,
    tx: mpsc::Sender<StreamItem>,
    stats: Arc<Stats>,
) -> Result<()> {
    let stats_all = stats.clone();
    let stats = &stats.stream;
    *stats.received.lock().unwrap_or_else(|p| p.into_inner()) = start;
    let mut failures = 0u32;
    loop {
        let from = stats.received.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match stream_once(&cfg, &from, &tx, stats).await {
            Ok(()) => return Ok(()), // receiver gone: the migration no longer needs events
            Err(e) if e.is_transient() && failures < cfg.max_reconnects => {
                // A stream that got anywhere before it broke starts the count afresh: only failures in a row
                // (the server not coming back) end the run, not blips spread over a long migration.
                if *stats.received.lock().unwrap_or_else(|p| p.into_inner()) != from {
                    failures = 0;
                }
                failures += 1;
                stats.reconnects.fetch_add(1, Ordering::Relaxed);
                stats_all.note_error("binlog stream", &e);
                warn!("binlog stream interrupted ({e}); reconnecting ({failures}/{})", cfg.max_reconnects);
                tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn stream_once(
    cfg: &StreamerConfig,
    from: &GtidSet,
    tx: &mpsc::Sender<StreamItem>,
    stats: &StreamStats,
) -> Result<()> {
    let mut conn = Conn::new(cfg.opts.clone()).await?;
    // Ask the server for heartbeats so a silent binlog is told apart from a dead connection.
    conn.query_drop_compat("SET @master_heartbeat_period = 1000000000, @source_heartbeat_period = 1000000000").await?;
    let sids = from.to_sids()?;
    let mut stream =
        conn.get_binlog_stream(BinlogStreamRequest::new(cfg.server_id).with_gtid().with_gtid_set(sids)).await?;
    info!("binlog stream open from GTID set {from}");
    let mut current_gtid: Option<(String, u64)> = None;
    let mut last_ok = Instant::now();
    // Positions are sent after transactions that touched our tables, and now and then otherwise.
    let mut touched = false;
    let mut last_position = Instant::now();
    // The transaction being read wrote a table that is not wraith's.
    let mut app_write = false;
    loop {
        let next = match tokio::time::timeout(cfg.read_timeout, stream.next()).await {
            Ok(Some(ev)) => ev?,
            Ok(None) => return Err(Error::Io(std::io::Error::other("binlog stream ended"))),
            Err(_) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no binlog event or heartbeat for {:?}", last_ok.elapsed()),
                )))
            }
        };
        last_ok = Instant::now();
        let ts = u64::from(next.header().timestamp());
        let data = match next.read_data() {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e) => return Err(Error::Binlog(format!("cannot decode binlog event: {e}"))),
        };
        match data {
            EventData::GtidEvent(g) => {
                let tag = g.tag().map(|t| t.to_string()).unwrap_or_default();
                if !tag.is_empty() {
                    return Err(Error::Binlog("tagged GTIDs are not supported".into()));
                }
                current_gtid = Some((uuid_text(&g.sid()), g.gno()));
            }
            EventData::XidEvent(_) => {
                if std::mem::take(&mut app_write) {
                    stats.app_transactions.fetch_add(1, Ordering::Relaxed);
                }
                commit(stats, &mut current_gtid);
                if send_position(stats, tx, &mut touched, &mut last_position).await.is_err() {
                    return Ok(());
                }
            }
            EventData::QueryEvent(q) => {
                // DDL and other statement transactions end at their query event; BEGIN does not.
                let query = q.query();
                if !query.trim().eq_ignore_ascii_case("BEGIN") {
                    commit(stats, &mut current_gtid);
                    if send_position(stats, tx, &mut touched, &mut last_position).await.is_err() {
                        return Ok(());
                    }
                }
            }
            EventData::RowsEvent(rows) => {
                if ts > 0 {
                    stats.last_event_ts.store(ts * 1000, Ordering::Relaxed);
                }
                let Some(tme) = stream.get_tme(rows.table_id()) else {
                    return Err(Error::Binlog(format!("rows event for unknown table id {}", rows.table_id())));
                };
                let name = tme.table_name();
                app_write |=
                    tme.database_name() != cfg.database.as_str() || !cfg.own_tables.iter().any(|t| name == t.as_str());
                if tme.database_name() != cfg.database.as_str() {
                    continue;
                }
                let is_table = name == cfg.table.as_str();
                let is_changelog = name == cfg.changelog.as_str();
                if !is_table && !is_changelog {
                    continue;
                }
                if matches!(rows, RowsEventData::PartialUpdateRowsEvent(_)) {
                    return Err(Error::Binlog(
                        "partial JSON update event: set binlog_row_value_options='' on the server".into(),
                    ));
                }
                if is_table && tme.columns_count() as usize != cfg.columns {
                    return Err(Error::Binlog(format!(
                        "{}.{} now has {} columns, {} at start: the table was altered during the migration",
                        cfg.database,
                        cfg.table,
                        tme.columns_count(),
                        cfg.columns
                    )));
                }
                let items = decode_rows(&rows, tme, is_table)?;
                touched |= !items.is_empty();
                for item in items {
                    if matches!(item, StreamItem::Row(_)) {
                        stats.row_events.fetch_add(1, Ordering::Relaxed);
                    }
                    if tx.send(item).await.is_err() {
                        return Ok(());
                    }
                }
            }
            // A quiet binlog (server heartbeats only) still moves the position on, once a second: a reader
            // waiting for a set that ends in other tables' transactions is told it has it.
            _ => {
                if last_position.elapsed() >= Duration::from_secs(1)
                    && send_position(stats, tx, &mut touched, &mut last_position).await.is_err()
                {
                    return Ok(());
                }
            }
        }
        if tx.is_closed() {
            return Ok(());
        }
        debug!("binlog event at {ts}");
    }
}

/// The row images of one rows event: changes of the migrated table, or rows written to the changelog.
fn decode_rows(rows: &RowsEventData<'_>, tme: &TableMapEvent<'_>, is_table: bool) -> Result<Vec<StreamItem>> {
    let columns = tme.columns_count() as usize;
    let mut items = Vec::new();
    for row in rows.rows(tme) {
        let (before, after) = row.map_err(|e| Error::Binlog(format!("cannot decode row: {e}")))?;
        let before = before.map(|r| image(r, columns)).transpose()?;
        let after = after.map(|r| image(r, columns)).transpose()?;
        if is_table {
            let change = match (before, after) {
                (None, Some(a)) => RowChange::Insert(a),
                (Some(b), Some(a)) => RowChange::Update(b, a),
                (Some(b), None) => RowChange::Delete(b),
                (None, None) => continue,
            };
            items.push(StreamItem::Row(change));
        } else if let Some(a) = after {
            items.push(StreamItem::Changelog { hint: text(&a, 2), value: text(&a, 3) });
        }
    }
    Ok(items)
}

async fn send_position(
    stats: &StreamStats,
    tx: &mpsc::Sender<StreamItem>,
    touched: &mut bool,
    last: &mut Instant,
) -> std::result::Result<(), ()> {
    if !*touched && last.elapsed() < Duration::from_secs(1) {
        return Ok(());
    }
    *touched = false;
    *last = Instant::now();
    let set = stats.received.lock().unwrap_or_else(|p| p.into_inner()).clone();
    tx.send(StreamItem::Position(set)).await.map_err(|_| ())
}

fn commit(stats: &StreamStats, current: &mut Option<(String, u64)>) {
    if let Some((uuid, gno)) = current.take() {
        stats.received.lock().unwrap_or_else(|p| p.into_inner()).add(&uuid, "", gno);
    }
}

/// Takes every column of a row image; a missing column means the image is not FULL.
fn image(mut row: BinlogRow, columns: usize) -> Result<Image> {
    if row.len() != columns {
        return Err(Error::Binlog(format!(
            "row image has {} of {columns} columns: binlog_row_image must be FULL",
            row.len()
        )));
    }
    (0..columns)
        .map(|i| {
            row.take(i).map(|v| v.into_owned()).ok_or_else(|| {
                Error::Binlog(format!("row image lacks column {}: binlog_row_image must be FULL", i + 1))
            })
        })
        .collect()
}

fn text(img: &Image, i: usize) -> String {
    match img.get(i) {
        Some(BinlogValue::Value(mysql_async::Value::Bytes(b))) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// `query_drop` without pulling the prelude trait into every caller.
trait QueryDropCompat {
    async fn query_drop_compat(&mut self, sql: &str) -> Result<()>;
}

impl QueryDropCompat for Conn {
    async fn query_drop_compat(&mut self, sql: &str) -> Result<()> {
        use mysql_async::prelude::Queryable;
        self.query_drop(sql).await.map_err(Error::from)
    }
}
