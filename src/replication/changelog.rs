//! The changelog table `_<t>_ghc`: heartbeats (for replication lag) and state markers (for the cut-over)
//! written on the primary and read back through the replica and its binlog. Same shape as gh-ost's. The
//! heartbeat's own commit latency is the latency pacer's probe (`control::pacer`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::error::Result;
use crate::mysql::connect::connect;
use crate::mysql::sql::{qualified, quote};
use crate::state::tasks::Stop;

pub(crate) const HEARTBEAT: &str = "heartbeat";
pub(crate) const STATE: &str = "state";

pub(crate) async fn create(conn: &mut Conn, db: &str, changelog: &str) -> Result<()> {
    let t = qualified(db, changelog);
    conn.query_drop(format!("DROP TABLE IF EXISTS {t}")).await?;
    conn.query_drop(format!(
        "CREATE TABLE {t} (
            id bigint unsigned auto_increment,
            last_update timestamp not null DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            hint varchar(64) charset ascii not null,
            value varchar(4096) charset ascii not null,
            primary key(id),
            unique key hint_uidx(hint)
        ) auto_increment=256 comment='gh-ost changelog'"
    ))
    .await?;
    Ok(())
}

pub(crate) async fn write(conn: &mut Conn, db: &str, changelog: &str, hint: &str, value: &str) -> Result<()> {
    conn.query_drop(format!(
        "INSERT INTO {} (hint, value) VALUES ({}, {}) ON DUPLICATE KEY UPDATE last_update = NOW(), value = VALUES(value)",
        qualified(db, changelog),
        quote(hint),
        quote(value)
    ))
    .await?;
    Ok(())
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as u64).unwrap_or(0)
}

/// Writes a heartbeat (wraith's clock, in microseconds) every `interval` until stop is signalled.
/// Failures are retried on a new connection (the server may have restarted, or the network dropped): a
/// missing heartbeat shows up as lag and throttles, which is safe, and heartbeats resume once the primary
/// answers again. A failure is logged once, and so is the recovery.
/// Each successful write's latency goes to `latency` (the latency pacer's probe), when given; a sample the
/// pacer has no room for is dropped, never waited for, so the heartbeat keeps its rhythm.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn heartbeat_loop(
    mut conn: Conn,
    opts: Opts,
    timeout: Duration,
    db: String,
    changelog: String,
    interval: Duration,
    latency: Option<mpsc::Sender<Duration>>,
    mut stop: Stop,
) -> Result<()> {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.stopped() => {}
        }
        if stop.is_stopped() {
            return Ok(());
        }
        let began = Instant::now();
        let written = write(&mut conn, &db, &changelog, HEARTBEAT, &now_micros().to_string()).await;
        if let (Ok(()), Some(tx)) = (&written, &latency) {
            let _ = tx.try_send(began.elapsed());
        }
        match written {
            Ok(()) if failing => {
                info!("heartbeat writes resumed");
                failing = false;
            }
            Ok(()) => {}
            Err(e) => {
                if !failing {
                    warn!("heartbeat write failed: {e}; retrying (the lag it shows throttles meanwhile)");
                    failing = true;
                }
                if e.needs_reconnect() {
                    if let Ok(fresh) = connect(&opts, "primary (heartbeat)", timeout).await {
                        conn = fresh;
                    }
                }
            }
        }
    }
}

/// Replication lag seen on the inspected server: now minus the last heartbeat that arrived there.
pub(crate) async fn read_lag(conn: &mut Conn, db: &str, changelog: &str) -> Result<Option<Duration>> {
    let v: Option<String> = conn
        .query_first(format!("SELECT value FROM {} WHERE hint = {}", qualified(db, changelog), quote(HEARTBEAT)))
        .await?;
    Ok(v.and_then(|v| v.parse::<u64>().ok()).map(|t| Duration::from_micros(now_micros().saturating_sub(t))))
}
