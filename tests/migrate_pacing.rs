//! The latency pacer (--max-latency-ratio) and time-sized chunks, against the real sandbox: a migration with
//! the pacer on and chunks sized by time runs under writers and ends with the table equal to the control
//! table; and when the primary's commits get slow (a session holds the heartbeat's row lock, so the probe
//! waits as an application's commit would behind contention), the pacer backs off, and the copy still
//! ends exact; and when the application's own transactions slow down (a session locks the rows they
//! write) while the heartbeat stays quick, the pacer backs off on what performance_schema says of them.
//!
//! No timing is asserted: the copy is held by the throttle flag until the pacer has its baseline, and the
//! tests assert on the pacer's recorded decisions (the status object's `pacer` counters) and on the tables.

mod common;
mod migrate_common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{ensure, Result};
use common::*;
use migrate_common::*;
use mysql_async::prelude::*;

const ALTER: &str = "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a'";

/// Starts the migration held by a throttle flag and waits until the pacer has measured its baseline (the
/// copy is held until the caller removes the flag).
async fn start_held(mut cfg: wraith::config::Config, flag: &FlagFile) -> Result<Running> {
    flag.create()?;
    cfg.throttle.flag_file = Some(flag.path.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(wraith::Phase::Migrating, PHASE_TIMEOUT).await?;
    wait_until("the pacer has its baseline", PHASE_TIMEOUT, || {
        let enabled = run.status().pacer.enabled;
        async move { Ok(enabled) }
    })
    .await?;
    let p = run.status().pacer;
    ensure!(p.baseline_ms.is_some_and(|b| b > 0.0), "a baseline was measured: {p:?}");
    ensure!(p.limit_ms > p.baseline_ms, "the limit is above the baseline: {p:?}");
    Ok(run)
}

#[tokio::test(flavor = "multi_thread")]
async fn paced_time_sized_copy_under_writes_matches_the_control_table() -> Result<()> {
    let db = TestDb::new("pacing_writes").await?;
    let model = simple_tables(&db, 20_000).await?;
    let mut spec = WorkloadSpec::new(model, 20_000);
    spec.writers = 4;
    spec.pause = Duration::from_millis(5);
    let load = Workload::start(&db, spec).await?;
    load.wait_commits(50).await?;

    let mut cfg = config(&db, "t", ALTER);
    // What the command line gives without --chunk-size: chunks sized by time (short here, so the size
    // changes often), from a small start; and the pacer on at the suggested ratio.
    cfg.copy.chunk_size = 20;
    cfg.copy.chunk_time = Duration::from_millis(20);
    cfg.copy.copy_workers = 4;
    cfg.throttle.max_latency_ratio = 2.0;
    // Not a test of lag throttling: the replica (on the same machine) may fall behind these writers.
    cfg.throttle.max_lag = Duration::from_secs(60);
    let flag = FlagFile::new(&db, "throttle");
    let mut run = start_held(cfg, &flag).await?;
    flag.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    load.wait_commits(100).await?;
    let report = load.stop().await?;
    assert!(outcome.parallel_copy, "an INT primary key gets the parallel copy: {outcome:?}");
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    let p = run.status().pacer;
    eprintln!("{n} rows equal; pacer {p:?}; {report:?}; {outcome:?}");
    assert!(p.enabled && p.max_workers == 4, "the pacer paced the parallel copy: {p:?}");
    Ok(())
}

/// Holds the row lock on the changelog's heartbeat row for `hold` at a time, again and again, until
/// `stop`: every heartbeat commit waits behind it, as an application's commits wait on a contended primary.
async fn hold_heartbeat_row(db: String, changelog: String, hold: Duration, stop: Arc<AtomicBool>) -> Result<u64> {
    let mut conn = connect(primary_opts(Some(&db))).await?;
    let mut held = 0;
    while !stop.load(Ordering::Relaxed) {
        conn.query_drop("START TRANSACTION").await?;
        let _: Vec<u64> =
            conn.query(format!("SELECT id FROM `{changelog}` WHERE hint = 'heartbeat' FOR UPDATE")).await?;
        // Load shaping, not synchronisation: how long the heartbeat waits.
        tokio::time::sleep(hold).await;
        conn.query_drop("COMMIT").await?;
        held += 1;
    }
    Ok(held)
}

/// The scene of the back-off tests: 80,000 rows under two writers, and a migration with the pacer on,
/// fixed small chunks and a control socket, held by `flag` until the pacer has its baselines.
async fn backoff_scene(name: &str) -> Result<(TestDb, Workload, Running, FlagFile, std::path::PathBuf)> {
    let db = TestDb::new(name).await?;
    let model = simple_tables(&db, 80_000).await?;
    let mut spec = WorkloadSpec::new(model, 80_000);
    spec.writers = 2;
    let load = Workload::start(&db, spec).await?;
    load.wait_commits(20).await?;

    let mut cfg = config(&db, "t", ALTER);
    // Fixed small chunks (what an explicit --chunk-size gives), so the copy spans many heartbeats.
    cfg.copy.chunk_size = 10;
    cfg.copy.chunk_time = Duration::ZERO;
    cfg.copy.copy_workers = 4;
    cfg.throttle.max_latency_ratio = 2.0;
    // What slows the probes may show as lag too: not what these tests are about.
    cfg.throttle.max_lag = Duration::from_secs(60);
    // Once the pacer has backed off, larger chunks end the copy (an operator's `chunk-size=`): at its least
    // level the pacer may hold the copy slow for as long as this machine is busy.
    let socket = std::env::temp_dir().join(format!("wraith-test-{}.sock", db.name()));
    cfg.control.serve_socket_file = Some(socket.clone());
    let flag = FlagFile::new(&db, "throttle");
    let run = start_held(cfg, &flag).await?;
    Ok((db, load, run, flag, socket))
}

/// After a back-off: larger chunks end the copy; the table equals the control table.
async fn finish_after_backoff(
    db: &TestDb,
    load: Workload,
    mut run: Running,
    socket: &std::path::Path,
    what: &str,
) -> Result<()> {
    assert_eq!(wraith::send_command(Some(socket), None, "chunk-size=5000").await?, "OK\n");
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    load.wait_commits(40).await?;
    let report = load.stop().await?;
    let n = assert_matches_control(db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!("{n} rows equal; {what}; pacer {:?}; {report:?}; {outcome:?}", run.status().pacer);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pacer_backs_off_when_commits_slow_down_and_the_copy_stays_exact() -> Result<()> {
    let (db, load, run, flag, socket) = backoff_scene("pacing_backoff").await?;
    // The heartbeat row exists (the baseline wrote it); the copy has not started.
    let changelog = run.names().changelog.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let holder =
        tokio::spawn(hold_heartbeat_row(db.name().to_string(), changelog, Duration::from_millis(200), stop.clone()));
    flag.remove()?;

    let backed_off = wait_until("the pacer decreased the copy level", PHASE_TIMEOUT, || {
        let p = run.status().pacer;
        let copy_done = run.status().copy_done;
        async move {
            ensure!(!copy_done, "the copy ended before the pacer decided anything: {p:?}");
            Ok(p.decreases > 0)
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let held = holder.await??;
    backed_off?;
    finish_after_backoff(&db, load, run, &socket, &format!("lock held {held} times")).await
}

/// Locks every row of `t` for `hold` at a time, again and again, until `stop`: the writers' transactions
/// wait behind it, as an application's do on a contended primary, while the heartbeat (on the changelog)
/// and the copy (non-locking reads) do not.
async fn hold_rows_of_t(db: String, hold: Duration, stop: Arc<AtomicBool>) -> Result<u64> {
    let mut conn = connect(primary_opts(Some(&db))).await?;
    let mut held = 0;
    while !stop.load(Ordering::Relaxed) {
        conn.query_drop("START TRANSACTION").await?;
        conn.query_drop("SELECT id FROM t FOR UPDATE").await?;
        // Load shaping, not synchronisation: how long the writers wait.
        tokio::time::sleep(hold).await;
        conn.query_drop("COMMIT").await?;
        held += 1;
    }
    Ok(held)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pacer_backs_off_when_the_application_s_transactions_slow_down() -> Result<()> {
    let (db, load, run, flag, socket) = backoff_scene("pacing_app").await?;
    let p = run.status().pacer;
    // The writers ended transactions in the second before the copy: performance_schema gave a baseline.
    ensure!(
        p.app_baseline_ms.is_some_and(|b| b > 0.0) && p.app_limit_ms > p.app_baseline_ms,
        "the application's baseline was measured: {p:?}"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let holder = tokio::spawn(hold_rows_of_t(db.name().to_string(), Duration::from_millis(300), stop.clone()));
    flag.remove()?;

    let backed_off = wait_until("the pacer backing off on the application's latency", PHASE_TIMEOUT, || {
        let p = run.status().pacer;
        let copy_done = run.status().copy_done;
        async move {
            ensure!(!copy_done, "the copy ended before the pacer decided anything: {p:?}");
            let app_slow = matches!((p.app_latency_ms, p.app_limit_ms), (Some(l), Some(limit)) if l > limit);
            Ok(app_slow && p.decreases > 0)
        }
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    let held = holder.await??;
    backed_off?;
    finish_after_backoff(&db, load, run, &socket, &format!("rows locked {held} times")).await
}
