//! The throttler: decides, every 100 ms, whether the copy must pause, and why. Reasons: replication lag
//! above --max-lag-millis (from heartbeats read on the inspected server), a throttle flag file, or a
//! --throttle-query returning > 0. The reason (or None) is published on a watch channel.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::changelog;
use crate::server::Control;

pub struct ThrottleConfig {
    pub database: String,
    pub changelog: String,
    pub flag_files: Vec<PathBuf>,
    pub throttle_query: Option<String>,
}

/// Shared readings for status output.
#[derive(Debug, Default)]
pub struct ThrottleStats {
    pub lag_millis: AtomicU64,
}

/// `inspect`: the server whose lag matters; `migrate`: where --throttle-query runs (gh-ost: the migrated server).
pub async fn run(
    cfg: ThrottleConfig,
    mut inspect: Conn,
    mut migrate: Conn,
    tx: watch::Sender<Option<String>>,
    stats: Arc<ThrottleStats>,
    control: Arc<Control>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_query = tokio::time::Instant::now() - Duration::from_secs(10);
    let mut query_says: Option<String> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
        let mut reason = None;
        match changelog::read_lag(&mut inspect, &cfg.database, &cfg.changelog).await {
            Ok(Some(lag)) => {
                stats.lag_millis.store(lag.as_millis() as u64, Ordering::Relaxed);
                let max_lag = Duration::from_millis(control.max_lag_millis.load(Ordering::Relaxed));
                if lag > max_lag {
                    reason = Some(format!("lag={:.1}s", lag.as_secs_f64()));
                }
            }
            Ok(None) => reason = Some("no heartbeat seen yet on the inspected server".to_string()),
            // The changelog's CREATE has not replicated yet.
            Err(e) if e.server_code() == Some(1146) => {
                reason = Some("no heartbeat seen yet on the inspected server".to_string())
            }
            Err(e) => reason = Some(format!("cannot read lag: {e}")),
        }
        if reason.is_none() && control.user_throttle.load(Ordering::Relaxed) {
            reason = Some("commanded by user".to_string());
        }
        if reason.is_none() {
            reason = cfg.flag_files.iter().find(|f| f.exists()).map(|f| format!("flag-file {}", f.display()));
        }
        if let Some(q) = &cfg.throttle_query {
            // gh-ost issues the throttle query once a second.
            if last_query.elapsed() >= Duration::from_secs(1) {
                last_query = tokio::time::Instant::now();
                query_says = match migrate.query_first::<Option<f64>, _>(q.as_str()).await {
                    Ok(Some(Some(v))) if v > 0.0 => Some("throttle-query".to_string()),
                    Ok(_) => None,
                    Err(e) => {
                        warn!("throttle-query failed: {e}");
                        Some(format!("throttle-query error: {e}"))
                    }
                };
            }
            if reason.is_none() {
                reason = query_says.clone();
            }
        }
        if *tx.borrow() != reason {
            match &reason {
                Some(r) => info!("throttling: {r}"),
                None => info!("throttle lifted"),
            }
            let _ = tx.send(reason);
        }
    }
}
