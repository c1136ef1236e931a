//! The metrics address (--metrics-address): a small HTTP/1.1 server with two pages, `GET /metrics` (the
//! Prometheus text format, encoded by `prometheus-client`) and `GET /status` (the status object, as
//! `status --json` on the control socket). Metric names and labels: `docs/observability.md`.
//!
//! Invariants:
//! - a scrape costs no query and no per-row work: it reads the run's last published `Progress` (its
//!   `StatusReport`, built at the status tick from the same counters as the status line) and the two
//!   histograms in `Stats`; the server-side lock figures are sampled by the throttler once a second;
//! - the server runs as one of the run's tasks and ends with it (its connections are tasks of its own set,
//!   dropped with it);
//! - a request is read up to `MAX_REQUEST` bytes and `READ_TIMEOUT`; only `GET` (and `HEAD`) of the two
//!   paths are answered, anything else gets a one-line 404/405/400;
//! - nothing served is a secret: the status object holds no password or token (`state::report`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::info;

use crate::error::{Error, Result};
use crate::phase::Phase;
use crate::state::report::{throttle_kind, THROTTLE_KINDS};
use crate::state::stats::Stats;
use crate::state::Progress;

/// Bound on a request's head (request line and headers): a scrape's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// What the metrics server reads: the run's published progress and its counters.
#[derive(Clone)]
pub(crate) struct View {
    pub(crate) progress: watch::Receiver<Progress>,
    pub(crate) stats: Arc<Stats>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("metrics view")
    }
}

/// Binds the address (a port in use is a clear error before the migration starts its work).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        Error::precondition(
            format!("cannot serve metrics on {addr}: {e}"),
            "choose another --metrics-address (a free port), or leave it out",
        )
    })?;
    info!("serving metrics on http://{}/metrics and the status on /status", listener.local_addr()?);
    Ok(listener)
}

/// Serves until dropped (the run's tasks drop it at stop).
pub(crate) async fn serve(listener: TcpListener, view: View) -> Result<()> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(RunCollector(view.clone())));
    let registry = Arc::new(registry);
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(handle(stream, registry.clone(), view.clone()));
                }
            }
            Some(_) = connections.join_next() => {}
        }
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics { head_only: bool },
    Status { head_only: bool },
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Reads the request line: `GET /metrics HTTP/1.1`; a query string is ignored.
fn route(head: &str) -> Route {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next()) else {
        return Route::BadRequest;
    };
    if !version.starts_with("HTTP/1.") {
        return Route::BadRequest;
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Route::MethodNotAllowed,
    };
    match target.split('?').next().unwrap_or("") {
        "/metrics" => Route::Metrics { head_only },
        "/status" => Route::Status { head_only },
        _ => Route::NotFound,
    }
}

async fn handle(mut stream: TcpStream, registry: Arc<Registry>, view: View) {
    let head = match tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream)).await {
        Ok(Some(head)) => head,
        _ => return,
    };
    let (code, content_type, body, head_only) = match route(&head) {
        Route::Metrics { head_only } => {
            let mut body = String::new();
            match prometheus_client::encoding::prometheus_text::encode(&mut body, &registry) {
                Ok(()) => ("200 OK", prometheus_client::encoding::prometheus_text::CONTENT_TYPE, body, head_only),
                Err(_) => ("500 Internal Server Error", "text/plain", "cannot encode the metrics\n".into(), false),
            }
        }
        Route::Status { head_only } => {
            let p = view.progress.borrow().clone();
            ("200 OK", "application/json", format!("{}\n", p.status.to_json(p.phase)), head_only)
        }
        Route::NotFound => ("404 Not Found", "text/plain", "not found: try /metrics or /status\n".into(), false),
        Route::MethodNotAllowed => ("405 Method Not Allowed", "text/plain", "only GET is served\n".into(), false),
        Route::BadRequest => ("400 Bad Request", "text/plain", "bad request\n".into(), false),
    };
    let mut reply = format!(
        "HTTP/1.1 {code}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        reply.push_str(&body);
    }
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The request's head, up to the blank line; None if it is longer than `MAX_REQUEST` or the peer goes.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            // A client that sends a request line and closes its side still gets an answer.
            return (!buf.is_empty()).then(|| String::from_utf8_lossy(&buf).into_owned());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
    }
}

/// Encodes every metric at scrape time from the view.
#[derive(Debug)]
struct RunCollector(View);

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    let c = ConstCounter::new(v);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge<N>(enc: &mut DescriptorEncoder, name: &str, help: &str, v: N) -> std::fmt::Result
where
    ConstGauge<N>: EncodeMetric,
{
    let g = ConstGauge::new(v);
    g.encode(enc.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

impl Collector for RunCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> std::fmt::Result {
        let p = self.0.progress.borrow().clone();
        let stats = &self.0.stats;
        let r = &p.status;
        let info = Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION").to_string()),
            ("database", r.database.clone()),
            ("table", r.table.clone()),
        ]);
        info.encode(enc.encode_descriptor("wraith", "The migration this process runs", None, info.metric_type())?)?;

        let mut m = enc.encode_descriptor(
            "wraith_phase",
            "1 for the phase the run is in, 0 for the others",
            None,
            MetricType::Gauge,
        )?;
        let now = r.phase_or(p.phase);
        for phase in Phase::ALL {
            ConstGauge::new(i64::from(phase == now)).encode(m.encode_family(&[("phase", phase.as_str())])?)?;
        }
        let started = stats.started_at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        gauge(&mut enc, "wraith_start_time_seconds", "When the run started, in seconds since the epoch", started)?;
        counter(&mut enc, "wraith_rows_copied", "Rows copied into the ghost table", r.rows_copied)?;
        gauge(&mut enc, "wraith_rows_estimated", "Rows the copy expects to copy", r.rows_estimated as i64)?;
        gauge(&mut enc, "wraith_copy_progress_percent", "The copy's progress", r.progress_pct)?;
        counter(&mut enc, "wraith_copy_chunks", "Chunks copied", r.chunks_copied)?;
        counter(
            &mut enc,
            "wraith_binlog_events_applied",
            "Binlog row changes applied to the ghost table",
            r.binlog_events_applied,
        )?;
        gauge(&mut enc, "wraith_binlog_backlog", "Binlog changes read but not yet applied", r.backlog as i64)?;
        gauge(&mut enc, "wraith_lag_seconds", "Replication lag last measured on the inspected server", r.lag_seconds)?;
        let kind = r.throttle_reason.as_deref().map(throttle_kind);
        let mut m = enc.encode_descriptor(
            "wraith_throttled",
            "1 while a throttle of this kind holds the copy (the full reason is the status's throttle_reason)",
            None,
            MetricType::Gauge,
        )?;
        for k in THROTTLE_KINDS {
            ConstGauge::new(i64::from(kind == Some(*k))).encode(m.encode_family(&[("reason", *k)])?)?;
        }
        stats.copy_chunk_seconds.encode(enc.encode_descriptor(
            "wraith_copy_chunk_seconds",
            "How long each chunk's copy statement took",
            None,
            MetricType::Histogram,
        )?)?;
        stats.apply_batch_seconds.encode(enc.encode_descriptor(
            "wraith_apply_batch_seconds",
            "How long each batch of binlog changes took to write",
            None,
            MetricType::Histogram,
        )?)?;
        let mut m =
            enc.encode_descriptor("wraith_retries", "Transient failures retried, by kind", None, MetricType::Counter)?;
        let t = &r.retries;
        for (kind, v) in
            [("copy", t.copy), ("apply", t.apply), ("binlog_reconnect", t.binlog_reconnect), ("cutover", t.cutover)]
        {
            ConstCounter::new(v).encode(m.encode_family(&[("kind", kind)])?)?;
        }
        counter(&mut enc, "wraith_cutover_attempts", "Cut-over attempts started", r.cutover.attempts)?;
        if let Some(s) = r.cutover.lock_seconds {
            gauge(&mut enc, "wraith_cutover_lock_seconds", "How long the last cut-over attempt blocked writes", s)?;
        }
        if let Some(s) = r.eta_seconds {
            gauge(&mut enc, "wraith_eta_seconds", "Estimated time until the copy is done", s)?;
        }
        gauge(
            &mut enc,
            "wraith_postponed",
            "1 while the cut-over is held by the postpone flag file",
            i64::from(r.postponed.active),
        )?;
        let sv = &r.server;
        if let (Some(waits), Some(secs)) = (sv.row_lock_waits, sv.row_lock_wait_seconds) {
            counter(
                &mut enc,
                "wraith_server_row_lock_waits",
                "Innodb_row_lock_waits on the migrated server since the run began (server-wide)",
                waits,
            )?;
            let c = ConstCounter::new(secs);
            c.encode(enc.encode_descriptor(
                "wraith_server_row_lock_wait_seconds",
                "Innodb_row_lock_time on the migrated server since the run began (server-wide)",
                None,
                c.metric_type(),
            )?)?;
        }
        if let (Some(now), Some(samples)) = (sv.metadata_lock_waiting, sv.metadata_lock_wait_samples) {
            gauge(
                &mut enc,
                "wraith_table_metadata_lock_waiting",
                "Sessions waiting now for a metadata lock on the table or the ghost table",
                now as i64,
            )?;
            counter(
                &mut enc,
                "wraith_table_metadata_lock_wait_samples",
                "Once-a-second samples that saw a session waiting for a metadata lock on the table",
                samples,
            )?;
        }
        if let (Some(now), Some(samples)) = (sv.table_row_lock_waiting, sv.table_row_lock_wait_samples) {
            gauge(
                &mut enc,
                "wraith_table_row_lock_waiting",
                "Row lock requests waiting now on rows of the table or the ghost table",
                now as i64,
            )?;
            counter(
                &mut enc,
                "wraith_table_row_lock_wait_samples",
                "Once-a-second samples that saw a row lock request waiting on the table",
                samples,
            )?;
        }
        let cs = &r.checksum;
        gauge(
            &mut enc,
            "wraith_checksum_running",
            "1 while a verification pass compares chunks",
            i64::from(cs.running),
        )?;
        gauge(
            &mut enc,
            "wraith_checksum_rows",
            "Rows compared by the verification pass under way (or the last one)",
            cs.rows as i64,
        )?;
        gauge(
            &mut enc,
            "wraith_checksum_chunks",
            "Chunks compared by the verification pass under way (or the last one)",
            cs.chunks as i64,
        )?;
        counter(
            &mut enc,
            "wraith_checksum_repaired_chunks",
            "Chunks the verification rewrote on the ghost table",
            cs.repaired,
        )?;
        let pc = &r.pacer;
        if let (true, Some(base), Some(limit)) = (pc.enabled, pc.baseline_ms, pc.limit_ms) {
            gauge(
                &mut enc,
                "wraith_pacer_baseline_seconds",
                "The heartbeat's commit latency before the copy (the latency pacer's baseline)",
                base / 1000.0,
            )?;
            gauge(
                &mut enc,
                "wraith_pacer_limit_seconds",
                "The commit latency above which the copy backs off",
                limit / 1000.0,
            )?;
            if let Some(l) = pc.latency_ms {
                gauge(
                    &mut enc,
                    "wraith_pacer_latency_seconds",
                    "Median heartbeat commit latency of the pacer's last window",
                    l / 1000.0,
                )?;
            }
            if let (Some(base), Some(limit)) = (pc.app_baseline_ms, pc.app_limit_ms) {
                gauge(
                    &mut enc,
                    "wraith_pacer_app_baseline_seconds",
                    "The application's mean transaction latency before the copy (performance_schema)",
                    base / 1000.0,
                )?;
                gauge(
                    &mut enc,
                    "wraith_pacer_app_limit_seconds",
                    "The application's mean transaction latency above which the copy backs off",
                    limit / 1000.0,
                )?;
                if let Some(l) = pc.app_latency_ms {
                    gauge(
                        &mut enc,
                        "wraith_pacer_app_latency_seconds",
                        "The application's mean transaction latency over the pacer's last window",
                        l / 1000.0,
                    )?;
                }
            }
            gauge(&mut enc, "wraith_pacer_level", "The copy level the pacer allows, in workers", pc.level)?;
            gauge(&mut enc, "wraith_pacer_workers", "Copy workers the pacer lets copy", pc.workers as i64)?;
            gauge(
                &mut enc,
                "wraith_pacer_pause_ratio",
                "Pause after each chunk, in times its copy time",
                pc.pause_ratio,
            )?;
            let mut m = enc.encode_descriptor(
                "wraith_pacer_decisions",
                "Windows of heartbeats the pacer judged, by what it did",
                None,
                MetricType::Counter,
            )?;
            let hold = pc.windows.saturating_sub(pc.increases + pc.decreases);
            for (kind, v) in [("increase", pc.increases), ("decrease", pc.decreases), ("hold", hold)] {
                ConstCounter::new(v).encode(m.encode_family(&[("decision", kind)])?)?;
            }
        }
        Ok(())
    }
}

/// The metrics text of a view, for tests.
#[cfg(test)]
fn encode_text(view: View) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(RunCollector(view)));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    #[test]
    fn routes() {
        assert_eq!(route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), Route::Metrics { head_only: false });
        assert_eq!(route("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), Route::Metrics { head_only: false });
        assert_eq!(route("HEAD /status HTTP/1.1\r\n\r\n"), Route::Status { head_only: true });
        assert_eq!(route("GET / HTTP/1.1\r\n\r\n"), Route::NotFound);
        assert_eq!(route("POST /metrics HTTP/1.1\r\n\r\n"), Route::MethodNotAllowed);
        assert_eq!(route("GET /metrics\r\n\r\n"), Route::BadRequest);
        assert_eq!(route(""), Route::BadRequest);
    }

    #[test]
    fn every_sample_has_a_typed_family() {
        let stats = Arc::new(Stats::new(Instant::now()));
        stats.copy.rows.store(10, Ordering::Relaxed);
        stats.copy_chunk_seconds.observe(0.02);
        let (tx, progress) = watch::channel(Progress::default());
        tx.send_modify(|p| {
            p.phase = Phase::Migrating;
            p.status.phase = Phase::Migrating;
            p.status.rows_copied = 10;
            p.status.throttle_reason = Some("lag=3.000s".into());
        });
        let text = encode_text(View { progress: progress.clone(), stats: stats.clone() });
        assert!(!text.contains("wraith_pacer"), "no pacer series while it is off: {text}");
        tx.send_modify(|p| {
            p.status.pacer = crate::state::report::PacerStatus {
                enabled: true,
                baseline_ms: Some(2.0),
                limit_ms: Some(4.0),
                latency_ms: Some(3.0),
                level: 1.5,
                workers: 2,
                max_workers: 4,
                pause_ratio: 0.25,
                windows: 7,
                increases: 2,
                decreases: 3,
                quiet_windows: 1,
                app_baseline_ms: Some(6.0),
                app_limit_ms: Some(12.0),
                app_latency_ms: Some(9.0),
            }
        });
        let text = encode_text(View { progress, stats });
        assert!(text.contains("wraith_pacer_workers 2\n"), "{text}");
        assert!(text.contains("wraith_pacer_latency_seconds 0.003\n"), "{text}");
        assert!(text.contains("wraith_pacer_app_latency_seconds 0.009\n"), "{text}");
        assert!(text.contains("wraith_pacer_app_limit_seconds 0.012\n"), "{text}");
        assert!(text.contains("wraith_pacer_decisions_total{decision=\"decrease\"} 3\n"), "{text}");
        assert!(text.contains("wraith_pacer_decisions_total{decision=\"hold\"} 2\n"), "{text}");
        assert!(text.contains("wraith_rows_copied_total 10\n"), "{text}");
        assert!(text.contains("wraith_phase{phase=\"migrating\"} 1\n"), "{text}");
        assert!(text.contains("wraith_throttled{reason=\"lag\"} 1\n"), "{text}");
        assert!(text.contains("wraith_copy_chunk_seconds_count 1\n"), "{text}");
        assert!(text.contains("wraith_info{version=\""), "{text}");
        let typed: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next()).collect();
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = typed
                .iter()
                .any(|t| name == *t || ["_bucket", "_sum", "_count"].iter().any(|s| name.strip_suffix(s) == Some(t)));
            assert!(family, "{name} has no # TYPE line:\n{text}");
        }
    }
}
