//! One consistent snapshot of the original and the ghost, taken the way a cut-over locks:
//!
//! 1. `LOCK TABLES t READ` on a dedicated connection, waiting at most the cut-over lock timeout: from
//!    here no one writes `t` (reads go on).
//! 2. A marker row goes into the changelog; when it comes back through the binlog, every change to `t`
//!    made before the lock has been received, and the applier writes it to the ghost.
//! 3. Each connection of the pool starts `START TRANSACTION WITH CONSISTENT SNAPSHOT`: they all see the
//!    same state, in which the ghost holds every change of the original.
//! 4. `UNLOCK TABLES`. The comparison then reads from the pool while the binlog apply goes on.
//!
//! Invariants: writes to `t` are blocked for at most the lock budget (lock wait included), like a cut-over;
//! any failure drops the locking connection, which releases the lock; nothing is written but the marker.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::mpsc;
use tracing::info;

use crate::error::{Error, Result};
use crate::mysql::connect;
use crate::mysql::sql::qualified;
use crate::replication::applier::Applier;
use crate::replication::changelog;
use crate::replication::streamer::StreamItem;

pub(crate) struct Snapshot<'a> {
    pub(crate) opts: &'a Opts,
    pub(crate) database: &'a str,
    pub(crate) table: &'a str,
    pub(crate) changelog: &'a str,
    pub(crate) lock_timeout: Duration,
    pub(crate) pool_size: usize,
}

impl Snapshot<'_> {
    /// Opens the pool under the lock; returns it and how long writes were blocked. On error nothing is held
    /// and the caller may retry (a `CutOver` error: the lock or the backlog did not fit the budget).
    pub(crate) async fn open(
        &self,
        applier: &mut Applier,
        apply_conn: &mut Conn,
        rx: &mut mpsc::Receiver<StreamItem>,
    ) -> Result<(Vec<Conn>, Duration)> {
        match self.connect().await {
            Ok((pool, lock, marker)) => self.take(pool, lock, marker, applier, apply_conn, rx).await,
            // A server that cannot be reached now (restarting, network down) fails this attempt, not the run.
            Err(e) if e.is_transient() => Err(Error::CutOver(format!("checksum snapshot: cannot connect: {e}"))),
            Err(e) => Err(e),
        }
    }

    /// The attempt's own connections (the pool, the lock, the marker's writer), made before anything is
    /// locked: connecting is not part of the time writes are blocked, and none is reused after a failure.
    async fn connect(&self) -> Result<(Vec<Conn>, Conn, Conn)> {
        let secs = self.lock_timeout.as_secs().max(1);
        let timeouts = format!("SET SESSION lock_wait_timeout = {secs}, SESSION innodb_lock_wait_timeout = {secs}");
        let mut pool = Vec::with_capacity(self.pool_size);
        for _ in 0..self.pool_size.max(1) {
            let mut c = connect::connect(self.opts, "primary (checksum)", self.lock_timeout * 3).await?;
            // The same time zone as the writers: TIMESTAMP values normalise the same way on both sides.
            c.query_drop(
                "SET SESSION time_zone = '+00:00', SESSION transaction_isolation = 'REPEATABLE-READ', \
                 SESSION max_execution_time = 0",
            )
            .await?;
            pool.push(c);
        }
        let mut lock = connect::connect(self.opts, "primary (checksum lock)", self.lock_timeout * 3).await?;
        lock.query_drop(&timeouts).await?;
        let mut marker = connect::connect(self.opts, "primary (checksum marker)", self.lock_timeout * 3).await?;
        marker.query_drop(&timeouts).await?;
        Ok((pool, lock, marker))
    }

    async fn take(
        &self,
        mut pool: Vec<Conn>,
        mut lock: Conn,
        mut marker_conn: Conn,
        applier: &mut Applier,
        apply_conn: &mut Conn,
        rx: &mut mpsc::Receiver<StreamItem>,
    ) -> Result<(Vec<Conn>, Duration)> {
        let secs = self.lock_timeout.as_secs().max(1);
        let t = qualified(self.database, self.table);
        let deadline = Instant::now() + self.lock_timeout;
        if let Err(e) = lock.query_drop(format!("LOCK TABLES {t} READ")).await {
            return Err(Error::CutOver(format!(
                "checksum snapshot: could not lock {t} within {secs}s ({e}); a long transaction or query may hold it"
            )));
        }
        let locked_at = Instant::now();
        let marker = format!("ChecksumSnapshot:{}", changelog::now_micros());
        // Bounded by the lock budget: a transaction holding the marker's row must not keep `t` locked.
        let write = changelog::write(&mut marker_conn, self.database, self.changelog, changelog::STATE, &marker);
        match tokio::time::timeout_at(deadline.into(), write).await {
            Ok(written) => written?,
            Err(_) => {
                return Err(Error::CutOver(format!(
                    "checksum snapshot: the marker could not be written to {} within the {secs}s lock budget (a \
                     transaction holding its rows?)",
                    self.changelog
                )))
            }
        }
        loop {
            let item = match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some(item)) => item,
                Ok(None) => return Err(Error::Aborted("binlog stream stopped during the checksum snapshot".into())),
                Err(_) => {
                    return Err(Error::CutOver(format!(
                        "checksum snapshot: the backlog was not applied within the {secs}s lock budget"
                    )))
                }
            };
            match item {
                StreamItem::Row(change) => {
                    applier.add(change);
                    applier.flush_in_drain(apply_conn, true).await?;
                }
                StreamItem::Changelog { hint, value } if hint == changelog::STATE && value == marker => break,
                StreamItem::Changelog { .. } => {}
                StreamItem::Position(p) => applier.position(p),
            }
        }
        applier.flush(apply_conn, true).await?;
        for c in pool.iter_mut() {
            c.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY").await?;
        }
        lock.query_drop("UNLOCK TABLES").await?;
        let locked_for = locked_at.elapsed();
        info!("checksum snapshot taken: writes to {t} blocked for {locked_for:?}");
        Ok((pool, locked_for))
    }
}
