//! The throttler: decides, every 100 ms, whether the copy must pause, and why. Reasons, in gh-ost's order:
//! an operator's `throttle` command, throttle flag files, replication lag above --max-lag-millis (heartbeats
//! read on the inspected server and on --throttle-control-replicas), --max-load status thresholds,
//! --throttle-query returning > 0, --throttle-http not answering 200. --critical-load met is not a throttle
//! but a reason to abort (or to hibernate). The verdict is published on a watch channel.
//!
//! Once a second it also samples the migrated server's contention for the status and the metrics (row lock
//! waits from SHOW GLOBAL STATUS, sessions waiting for a metadata lock on the table from
//! performance_schema): one sample for every reader, however often they scrape.
//!
//! Invariants: the throttler only observes: it reads the operator's `Settings`, records lag and the
//! server's contention in `Stats`,
//! publishes its verdict, and sends a critical-load abort to the run's inbox; the run decides what to do.
//! A check that cannot be made (a server restarting, the network down) throttles, and its lost connection
//! is replaced, so the throttle lifts once the server answers again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::{parse_http_url, Endpoint, LoadLimits};
use crate::error::codes::ER_NO_SUCH_TABLE;
use crate::error::Result;
use crate::replication::changelog;
use crate::state::command::Command;
use crate::state::settings::Settings;
use crate::state::stats::Stats;
use crate::state::tasks::Stop;

pub(crate) struct ThrottleConfig {
    pub(crate) database: String,
    pub(crate) changelog: String,
    /// The migrated table and its ghost: their metadata-lock waiters are counted.
    pub(crate) tables: Vec<String>,
    pub(crate) flag_files: Vec<PathBuf>,
    /// The inspected server; also how to reach --throttle-control-replicas (same account).
    pub(crate) replica_opts: Opts,
    /// The migrated server (load checks, --throttle-query).
    pub(crate) migrate_opts: Opts,
    pub(crate) critical_load_interval: Duration,
    pub(crate) critical_load_hibernate: Duration,
}

/// What the throttler reads and where it reports.
pub(crate) struct Lent {
    pub(crate) settings: Arc<Settings>,
    pub(crate) stats: Arc<Stats>,
    pub(crate) verdict: watch::Sender<Option<String>>,
    pub(crate) inbox: mpsc::UnboundedSender<Command>,
}

/// `inspect`: the server whose lag matters; `migrate`: where --throttle-query and load checks run (gh-ost:
/// the migrated server).
pub(crate) async fn run(
    cfg: ThrottleConfig,
    mut inspect: Conn,
    mut migrate: Conn,
    lent: Lent,
    mut stop: Stop,
) -> Result<()> {
    let Lent { settings, stats, verdict: tx, inbox } = lent;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_slow_check = Instant::now() - Duration::from_secs(10);
    let mut slow_says: Option<String> = None;
    let mut hibernate_until: Option<Instant> = None;
    let mut replicas: HashMap<String, Conn> = HashMap::new();
    let mut baseline: Option<(u64, u64)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.stopped() => {}
        }
        if stop.is_stopped() {
            return Ok(());
        }
        // Lag is read every time, throttled or not, so status output stays current.
        let lag = lag_reason(&cfg, &mut inspect, &settings, &stats, &mut replicas).await;
        if lag.as_deref().is_some_and(|r| r.starts_with(CANNOT_READ_LAG)) {
            replace_if_lost(&mut inspect, &cfg.replica_opts).await;
        }
        let mut reason = None;
        if settings.user_throttled() {
            reason = Some("commanded by user".to_string());
        }
        if reason.is_none() {
            reason = cfg.flag_files.iter().find(|f| f.exists()).map(|f| format!("flag-file {}", f.display()));
        }
        if reason.is_none() {
            reason = lag;
        }
        // Status-variable, query and HTTP checks cost a round trip each: once a second, as gh-ost.
        if last_slow_check.elapsed() >= Duration::from_secs(1) {
            last_slow_check = Instant::now();
            slow_says = slow_checks(&cfg, &mut migrate, &settings, &inbox, &mut hibernate_until).await;
            let sample = sample_contention(&cfg, &mut migrate, &stats, &mut baseline);
            let sampled = matches!(tokio::time::timeout(CHECK_TIMEOUT, sample).await, Ok(true));
            if slow_says.is_some() || !sampled {
                replace_if_lost(&mut migrate, &cfg.migrate_opts).await;
            }
        }
        if reason.is_none() {
            reason = slow_says.clone();
        }
        if let Some(until) = hibernate_until {
            if Instant::now() < until {
                reason = Some("hibernating after critical-load".to_string());
            } else {
                hibernate_until = None;
            }
        }
        if *tx.borrow() != reason {
            // Logged when the kind of reason changes, not every time a measured value does (lag=1.2s, 1.3s...).
            let kind = |r: &Option<String>| r.as_ref().map(|r| r.split('=').next().unwrap_or_default().to_string());
            if kind(&tx.borrow()) != kind(&reason) {
                match &reason {
                    Some(r) => info!("throttling: {r}"),
                    None => info!("throttle lifted"),
                }
            }
            let _ = tx.send(reason);
        }
    }
}

const CANNOT_READ_LAG: &str = "cannot read lag: ";
/// Bound on one check's round trip.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Replaces `conn` when it no longer answers (best effort: a server still unreachable is tried again at the
/// next check).
async fn replace_if_lost(conn: &mut Conn, opts: &Opts) {
    // Bounded: on a connection the network stopped carrying, a ping would wait for ever.
    if matches!(tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await, Ok(Ok(()))) {
        return;
    }
    if let Ok(Ok(fresh)) = tokio::time::timeout(CHECK_TIMEOUT, Conn::new(opts.clone())).await {
        *conn = fresh;
    }
}

async fn lag_reason(
    cfg: &ThrottleConfig,
    inspect: &mut Conn,
    settings: &Settings,
    stats: &Stats,
    replicas: &mut HashMap<String, Conn>,
) -> Option<String> {
    let max_lag = Duration::from_millis(settings.max_lag_millis.load(Ordering::Relaxed));
    // Bounded: an inspected server the network stopped carrying must throttle, not stall the verdict.
    let read = tokio::time::timeout(CHECK_TIMEOUT, changelog::read_lag(inspect, &cfg.database, &cfg.changelog));
    let read = read.await.unwrap_or_else(|_| Err(std::io::Error::other("no answer within 3s").into()));
    match read {
        Ok(Some(lag)) => {
            stats.lag_millis.store(lag.as_millis() as u64, Ordering::Relaxed);
            if lag > max_lag {
                return Some(format!("lag={:.3}s", lag.as_secs_f64()));
            }
        }
        Ok(None) => return Some("no heartbeat seen yet on the inspected server".to_string()),
        // The changelog's CREATE has not replicated yet.
        Err(e) if e.server_code() == Some(ER_NO_SUCH_TABLE) => {
            return Some("no heartbeat seen yet on the inspected server".to_string())
        }
        Err(e) => return Some(format!("{CANNOT_READ_LAG}{e}")),
    }
    let control_replicas: Vec<Endpoint> = settings.throttle_control_replicas.get();
    for ep in control_replicas {
        let key = ep.to_string();
        if !replicas.contains_key(&key) {
            let opts: Opts = OptsBuilder::from_opts(cfg.replica_opts.clone())
                .ip_or_hostname(ep.host.clone())
                .tcp_port(ep.port)
                .into();
            match tokio::time::timeout(Duration::from_secs(3), Conn::new(opts)).await {
                Ok(Ok(c)) => {
                    replicas.insert(key.clone(), c);
                }
                _ => return Some(format!("cannot connect to control replica {key}")),
            }
        }
        let Some(conn) = replicas.get_mut(&key) else { continue };
        match changelog::read_lag(conn, &cfg.database, &cfg.changelog).await {
            Ok(Some(lag)) if lag <= max_lag => {}
            Ok(Some(lag)) => return Some(format!("{key} lag={:.3}s", lag.as_secs_f64())),
            Ok(None) | Err(_) => {
                replicas.remove(&key);
                return Some(format!("cannot read lag on control replica {key}"));
            }
        }
    }
    None
}

async fn slow_checks(
    cfg: &ThrottleConfig,
    migrate: &mut Conn,
    settings: &Settings,
    inbox: &mpsc::UnboundedSender<Command>,
    hibernate_until: &mut Option<Instant>,
) -> Option<String> {
    let critical = settings.critical_load.get();
    if let Some(met) = load_met(migrate, &critical).await {
        // Confirm after the interval, as gh-ost does, so one spike does not abort a long migration.
        let confirmed = if cfg.critical_load_interval.is_zero() {
            Some(met)
        } else {
            tokio::time::sleep(cfg.critical_load_interval).await;
            load_met(migrate, &critical).await
        };
        if let Some(met) = confirmed {
            if cfg.critical_load_hibernate.is_zero() {
                warn!("critical-load met: {met}");
                let _ = inbox.send(Command::CriticalLoad(format!("critical-load met: {met}")));
            } else {
                warn!("critical-load met: {met}; hibernating for {:?}", cfg.critical_load_hibernate);
                *hibernate_until = Some(Instant::now() + cfg.critical_load_hibernate);
            }
        }
    }
    let max_load = settings.max_load.get();
    if let Some(met) = load_met(migrate, &max_load).await {
        return Some(format!("max-load {met}"));
    }
    let query = settings.throttle_query.get();
    if let Some(q) = query {
        match migrate.query_first::<Option<f64>, _>(q.as_str()).await {
            Ok(Some(Some(v))) if v > 0.0 => return Some("throttle-query".to_string()),
            Ok(_) => {}
            Err(e) => {
                warn!("throttle-query failed: {e}");
                return Some(format!("throttle-query error: {e}"));
            }
        }
    }
    let url = settings.throttle_http.get();
    if let Some(url) = url {
        match http_status(&url, Duration::from_secs(1)).await {
            Ok(200) => {}
            Ok(code) => return Some(format!("throttle-http {url} answered {code}")),
            Err(e) => return Some(format!("throttle-http {url}: {e}")),
        }
    }
    None
}

/// Records the server's row lock waits (since the first sample), and the sessions waiting now for a
/// metadata lock or a row lock on the table or the ghost. False when the status could not be read (the connection may
/// be lost); the metadata-lock figure alone may be unreadable (no SELECT on performance_schema).
async fn sample_contention(
    cfg: &ThrottleConfig,
    conn: &mut Conn,
    stats: &Stats,
    baseline: &mut Option<(u64, u64)>,
) -> bool {
    let rows: Vec<(String, String)> = match conn
        .query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_row_lock_waits', 'Innodb_row_lock_time')")
        .await
    {
        Ok(r) => r,
        Err(_) => return false,
    };
    let value = |name: &str| {
        rows.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.trim().parse::<u64>().ok())
    };
    let (waits, time_ms) = (value("Innodb_row_lock_waits").unwrap_or(0), value("Innodb_row_lock_time").unwrap_or(0));
    let (w0, t0) = *baseline.get_or_insert((waits, time_ms));
    let sv = &stats.server;
    sv.row_lock_waits.store(waits.saturating_sub(w0), Ordering::Relaxed);
    sv.row_lock_time_ms.store(time_ms.saturating_sub(t0), Ordering::Relaxed);
    let names: Vec<String> = cfg.tables.iter().map(|t| crate::mysql::sql::quote(t)).collect();
    let waiting = conn
        .query_first::<u64, _>(format!(
            "SELECT COUNT(*) FROM performance_schema.metadata_locks WHERE OBJECT_TYPE = 'TABLE' AND OBJECT_SCHEMA = {} \
             AND OBJECT_NAME IN ({}) AND LOCK_STATUS = 'PENDING'",
            crate::mysql::sql::quote(&cfg.database),
            names.join(", ")
        ))
        .await;
    record_waiting(waiting.ok().flatten(), &sv.metadata_lock_waiting, &sv.metadata_lock_wait_samples);
    // Row lock waits on the table itself (the server-wide counters above include every table).
    let row_waiting = conn
        .query_first::<u64, _>(format!(
            "SELECT COUNT(*) FROM performance_schema.data_lock_waits w JOIN performance_schema.data_locks l \
             ON l.ENGINE = w.ENGINE AND l.ENGINE_LOCK_ID = w.REQUESTING_ENGINE_LOCK_ID \
             WHERE l.OBJECT_SCHEMA = {} AND l.OBJECT_NAME IN ({})",
            crate::mysql::sql::quote(&cfg.database),
            names.join(", ")
        ))
        .await;
    record_waiting(row_waiting.ok().flatten(), &sv.row_lock_waiting, &sv.row_lock_wait_samples);
    sv.sampled.store(true, Ordering::Relaxed);
    true
}

/// One "waiting now" sample: the count (u64::MAX when unreadable), and one more sample that saw a wait.
fn record_waiting(n: Option<u64>, now: &AtomicU64, samples: &AtomicU64) {
    now.store(n.unwrap_or(u64::MAX), Ordering::Relaxed);
    if n.is_some_and(|n| n > 0) {
        samples.fetch_add(1, Ordering::Relaxed);
    }
}

/// The first threshold met, as `Threads_running=31>=25`, or None.
async fn load_met(conn: &mut Conn, limits: &LoadLimits) -> Option<String> {
    if limits.is_empty() {
        return None;
    }
    let names: Vec<String> = limits.0.iter().map(|(n, _)| crate::mysql::sql::quote(n)).collect();
    let rows: Vec<(String, String)> =
        match conn.query(format!("SHOW GLOBAL STATUS WHERE Variable_name IN ({})", names.join(", "))).await {
            Ok(r) => r,
            Err(e) => return Some(format!("cannot read status: {e}")),
        };
    for (name, threshold) in &limits.0 {
        let value = rows.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.parse::<f64>().ok());
        match value {
            Some(v) if v >= *threshold => return Some(format!("{name}={v}>={threshold}")),
            Some(_) => {}
            None => return Some(format!("unknown status variable {name}")),
        }
    }
    None
}

/// HEAD request; returns the status code.
async fn http_status(url: &str, timeout: Duration) -> std::result::Result<u16, String> {
    let (host, port, path) = parse_http_url(url)?;
    let work = async {
        let mut s = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| e.to_string())?;
        let req = format!("HEAD {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: wraith\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 256];
        let n = s.read(&mut buf).await.map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&buf[..n]);
        head.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok()).ok_or_else(|| "bad HTTP answer".to_string())
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| "timed out".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_status_reads_the_code() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            for code in ["200 OK", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 512];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(format!("HTTP/1.1 {code}\r\n\r\n").as_bytes()).await;
            }
        });
        let url = format!("http://127.0.0.1:{port}/check");
        assert_eq!(http_status(&url, Duration::from_secs(2)).await, Ok(200));
        assert_eq!(http_status(&url, Duration::from_secs(2)).await, Ok(503));
    }
}
