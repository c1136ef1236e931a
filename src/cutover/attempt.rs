//! The atomic cut-over (MySQL 8.0.13+ lock-and-rename form):
//!
//! 1. `LOCK TABLES t WRITE, ghost WRITE` on a dedicated connection, waiting at most the lock timeout: from
//!    here no one writes `t`.
//! 2. A marker row goes into the changelog; when it comes back through the binlog, every change to `t`
//!    made before the lock has been received. The applier writes that backlog through the locking
//!    connection (the only one allowed to touch the ghost now), without transactions, which would release
//!    the locks.
//! 3. `RENAME TABLE t TO old, ghost TO t`, then `UNLOCK TABLES`.
//!
//! Any failure before the RENAME (lock timeout, marker late, connection lost) drops the locking
//! connection, which releases the locks: the original table stays in place and keeps serving. The RENAME
//! itself is one atomic statement.
//!
//! The lock budget (--cut-over-lock-timeout-seconds) bounds everything between asking for the lock and the
//! RENAME: the wait for the lock, the marker's write (a row lock on the changelog must not hold the table
//! locked for innodb_lock_wait_timeout) and the marker's way back. Each attempt has connections of its own,
//! so a statement a timeout left in flight, or a connection a restart of the server broke, is never reused.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Opts;
use tokio::sync::mpsc;
use tracing::info;

use crate::config::CutOverKind;
use crate::error::{Error, Result};
use crate::mysql::connect;
use crate::mysql::gtid::GtidSet;
use crate::mysql::sql::qualified;
use crate::replication::applier::Applier;
use crate::replication::changelog;
use crate::replication::streamer::StreamItem;
use crate::state::stats::Stats;

pub(crate) struct CutOver<'a> {
    pub(crate) opts: &'a Opts,
    pub(crate) database: &'a str,
    pub(crate) table: &'a str,
    pub(crate) ghost: &'a str,
    pub(crate) old: &'a str,
    pub(crate) changelog: &'a str,
    pub(crate) lock_timeout: Duration,
    pub(crate) mode: connect::WriterMode,
    /// --test-on-replica: rename and rename back in the same lock, leaving both tables in place.
    pub(crate) swap_back: bool,
    pub(crate) kind: CutOverKind,
    /// --include-triggers: (name, CREATE TRIGGER statement, sql_mode) created on the ghost under the lock,
    /// once nothing else writes to it, so they never fire for the migration's own writes.
    pub(crate) triggers: Vec<(String, String, String)>,
    /// Where each attempt's lock time is recorded (failed ones too: they blocked writes as well).
    pub(crate) stats: std::sync::Arc<Stats>,
}

/// What a successful cut-over measured.
#[derive(Debug, Clone)]
pub(crate) struct CutOverReport {
    /// From holding the write lock to releasing it: how long writes to the table were blocked.
    pub(crate) locked_for: Duration,
    /// The primary's GTID set read right after the RENAME, under the lock: every change to the table made
    /// after the cut-over is outside it (what --revert replays). None for --test-on-replica.
    pub(crate) gtid_at_rename: Option<GtidSet>,
}

impl CutOver<'_> {
    /// One attempt. On error the original table is untouched and the caller may retry.
    pub(crate) async fn attempt(
        &self,
        attempt: u32,
        applier: &mut Applier,
        rx: &mut mpsc::Receiver<StreamItem>,
    ) -> Result<CutOverReport> {
        let secs = self.lock_timeout.as_secs().max(1);
        let timeouts = format!(
            "SET SESSION lock_wait_timeout = {secs}, SESSION innodb_lock_wait_timeout = {secs}, SESSION wait_timeout = {}",
            secs * 3
        );
        // Connected before the lock is asked for: connecting is not part of the time writes are blocked. A
        // server that cannot be reached now (restarting, network down) fails this attempt, not the run.
        let connected = async {
            let mut lock = connect::connect(self.opts, "primary (cut-over)", self.lock_timeout * 3).await?;
            connect::setup_writer(&mut lock, self.mode).await?;
            lock.query_drop(&timeouts).await?;
            let mut marker = connect::connect(self.opts, "primary (cut-over marker)", self.lock_timeout * 3).await?;
            marker.query_drop(&timeouts).await?;
            Ok::<_, Error>((lock, marker))
        };
        let (mut lock, mut marker_conn) = match connected.await {
            Ok(conns) => conns,
            Err(e) if e.is_transient() => return Err(Error::CutOver(format!("cannot connect for the cut-over: {e}"))),
            Err(e) => return Err(e),
        };
        let t = qualified(self.database, self.table);
        let g = qualified(self.database, self.ghost);
        let o = qualified(self.database, self.old);

        info!("cut-over attempt {attempt}: locking {t} and {g}");
        // Application writes queue behind our pending LOCK TABLES too, so the budget of blocked writes
        // starts now, not once the lock is granted.
        let deadline = Instant::now() + self.lock_timeout;
        if let Err(e) = lock.query_drop(format!("LOCK TABLES {t} WRITE, {g} WRITE")).await {
            return Err(Error::CutOver(format!(
                "could not lock {t} within {secs}s ({e}); a long transaction or query may hold it"
            )));
        }
        let locked_at = Instant::now();
        let marker = format!("AllEventsUpToLockProcessed:{}", changelog::now_micros());
        let result = async {
            let write = changelog::write(&mut marker_conn, self.database, self.changelog, changelog::STATE, &marker);
            match tokio::time::timeout_at(deadline.into(), write).await {
                Ok(written) => written?,
                Err(_) => {
                    return Err(Error::CutOver(format!(
                        "the cut-over marker could not be written to {} within the {secs}s lock budget (a \
                         transaction holding its rows?)",
                        self.changelog
                    )))
                }
            }
            // Drain the binlog up to the marker, writing through the locking connection.
            loop {
                let item = match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                    Ok(Some(item)) => item,
                    Ok(None) => return Err(Error::Aborted("binlog stream stopped during cut-over".into())),
                    Err(_) => {
                        return Err(Error::CutOver(format!(
                            "the backlog was not applied within the {secs}s lock budget (replication lag or a large backlog)"
                        )))
                    }
                };
                match item {
                    StreamItem::Row(change) => {
                        applier.add(change);
                        applier.flush_in_drain(&mut lock, false).await?;
                    }
                    StreamItem::Changelog { hint, value } if hint == changelog::STATE && value == marker => break,
                    StreamItem::Changelog { .. } => {}
                    StreamItem::Position(p) => applier.position(p),
                }
            }
            let marker_seen = locked_at.elapsed();
            applier.flush(&mut lock, false).await?;
            let backlog_applied = locked_at.elapsed();
            for (_, create, sql_mode) in &self.triggers {
                lock.query_drop(format!("SET SESSION sql_mode = {}", crate::mysql::sql::quote(sql_mode))).await?;
                lock.query_drop(create).await?;
            }
            match self.kind {
                CutOverKind::Atomic => lock.query_drop(format!("RENAME TABLE {t} TO {o}, {g} TO {t}")).await?,
                // Still under the same lock: the table is missing only between two statements of ours.
                CutOverKind::TwoStep => {
                    lock.query_drop(format!("RENAME TABLE {t} TO {o}")).await?;
                    lock.query_drop(format!("RENAME TABLE {g} TO {t}")).await?;
                }
            }
            // Where the blocked time went, for the operator judging the stall.
            info!(
                "cut-over timings under the lock: marker back through the binlog {marker_seen:?}, backlog applied \
                 {backlog_applied:?}, renamed {:?}",
                locked_at.elapsed()
            );
            if self.swap_back {
                lock.query_drop(format!("RENAME TABLE {t} TO {g}, {o} TO {t}")).await?;
                return Ok(None);
            }
            // Still under the lock, so no write to the new table can be in the set. Losing it only costs
            // the revert point, not the cut-over.
            let gtid: Option<String> = lock.query_first("SELECT @@global.gtid_executed").await.unwrap_or_default();
            Ok(gtid.and_then(|g| GtidSet::parse(&g).ok()))
        }
        .await;
        match result {
            Ok(gtid_at_rename) => {
                let _ = lock.query_drop("UNLOCK TABLES").await;
                let locked_for = locked_at.elapsed();
                self.stats.cutover.last_lock_micros.store(locked_for.as_micros() as u64, Ordering::Relaxed);
                let _ = lock.disconnect().await;
                Ok(CutOverReport { locked_for, gtid_at_rename })
            }
            Err(e) => {
                // Dropping the connection releases the locks even if UNLOCK cannot be sent. Triggers already
                // created on the ghost would fire for the applier's writes: remove them.
                for (name, _, _) in &self.triggers {
                    let drop = format!("DROP TRIGGER IF EXISTS {}", qualified(self.database, name));
                    if lock.query_drop(&drop).await.is_err() {
                        if let Ok(mut fresh) = connect::connect(self.opts, "primary", self.lock_timeout * 3).await {
                            let _ = fresh.query_drop(&drop).await;
                        }
                    }
                }
                let _ = lock.query_drop("UNLOCK TABLES").await;
                drop(lock);
                self.stats.cutover.last_lock_micros.store(locked_at.elapsed().as_micros() as u64, Ordering::Relaxed);
                Err(match e {
                    Error::CutOver(_) | Error::Aborted(_) | Error::Data(_) => e,
                    other => Error::CutOver(other.to_string()),
                })
            }
        }
    }
}
