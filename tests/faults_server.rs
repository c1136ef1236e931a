//! Server and network faults during a migration (run in process, `Migrator`), with writers running
//! (`Workload`: every change goes to `t` and to the control table `c` in one transaction, so `c` is what `t`
//! must hold at the end):
//!
//! - the primary's mysqld restarted mid-copy (`scripts/sandbox restart primary`): wraith reconnects every
//!   connection and finishes, without a resume;
//! - the network to the primary cut (every connection reset) and paused (silence, until wraith gives up on
//!   a connection and dials again) mid-copy, then paused and cut mid-apply, through a TCP proxy
//!   (`tests/proxy`) that wraith's every primary connection goes through (--assume-master-host): it
//!   finishes;
//! - replication stopped on the inspected replica mid-copy: the lag throttle holds the copy and the status
//!   says why; the copy goes on once replication runs again;
//! - a long transaction during the cut-over, holding a row of `t` (the lock cannot be had) or the changelog
//!   row the cut-over's marker goes to (the lock is had, the marker cannot be written): each attempt gives
//!   up within --cut-over-lock-timeout-seconds, so no application write waits longer than that plus a
//!   margin; the cut-over succeeds once the transaction ends.
//!
//! Restarting or stopping a server disturbs everything using it at that moment, so the tests of this binary
//! run one at a time (`SERIAL`); each leaves the sandbox healthy, even when it fails (`HealthGuard`: both
//! servers answering, replication running and caught up). Cargo runs test binaries one after another, so no
//! other binary's tests see the faults. Other processes testing against the same sandbox do see them: while
//! others share yours, run this binary against a sandbox of your own (WRAITH_SANDBOX_DIR and the two
//! WRAITH_*_PORT variables, then `scripts/sandbox up`).

mod common;
mod compat_common;
mod migrate_common;
mod proxy;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use mysql_async::prelude::*;
use proxy::Proxy;
use tokio::sync::Mutex;
use wraith::config::{Config, Endpoint};
use wraith::{Phase, Progress};

/// One fault at a time (see the module documentation).
static SERIAL: Mutex<()> = Mutex::const_new(());

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 3";
/// Keys 2, 4, ..., 20000: 10000 rows.
const SEED_MAX: i64 = 20_000;
const ROWS: u64 = 10_000;
/// Bound on one `scripts/sandbox restart` (a clean shutdown, a start, replication back).
const RESTART_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------- the sandbox

fn sandbox_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/sandbox")
}

/// Runs `scripts/sandbox <args>` (it reads the same WRAITH_* variables as the tests), bounded.
async fn sandbox(args: &[&str]) -> Result<()> {
    let mut cmd = tokio::process::Command::new(sandbox_script());
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let out =
        within(&format!("scripts/sandbox {}", args.join(" ")), RESTART_TIMEOUT, async { Ok(cmd.output().await?) })
            .await?;
    ensure!(
        out.status.success(),
        "scripts/sandbox {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Leaves the sandbox healthy whatever the test did: a server that does not answer is started again
/// (`scripts/sandbox restart`, idempotent), replication is started, and the replica caught up.
struct HealthGuard;

async fn heal() -> Result<()> {
    for (which, opts) in [("primary", primary_opts(None)), ("replica", replica_opts(None))] {
        match connect(opts).await {
            Ok(conn) => drop(conn.disconnect().await),
            Err(_) => sandbox(&["restart", which]).await?,
        }
    }
    start_replica().await?;
    let mut p = connect(primary_opts(None)).await?;
    let mut r = connect(replica_opts(None)).await?;
    wait_for_replica(&mut p, &mut r).await
}

impl Drop for HealthGuard {
    fn drop(&mut self) {
        let res = std::thread::spawn(|| -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(heal())
        })
        .join();
        if !matches!(res, Ok(Ok(()))) {
            eprintln!("WARNING: the sandbox may be left unhealthy (scripts/sandbox status): {res:?}");
        }
    }
}

/// Seconds since the server started.
async fn uptime(db: &TestDb) -> Result<u64> {
    let rows: Vec<(String, u64)> = db.query("SHOW GLOBAL STATUS LIKE 'Uptime'").await?;
    Ok(rows.first().context("no Uptime")?.1)
}

// ---------------------------------------------------------------- the scene

/// A test schema with `t` (10000 rows) and the control table `c`, and writers on both.
async fn scene(name: &str, tolerate_disconnects: bool) -> Result<(TestDb, Workload)> {
    let db = TestDb::new(name).await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let mut spec = WorkloadSpec::new(model, SEED_MAX);
    spec.writers = 2;
    spec.pause = Duration::from_millis(5);
    spec.tolerate_disconnects = tolerate_disconnects;
    let writers = Workload::start(&db, spec).await?;
    Ok((db, writers))
}

/// A migration of `t` whose copy spans seconds (10-row chunks, a pause twice each chunk's time after it),
/// postponed by `postpone`, with checkpoints.
fn slow(db: &TestDb, postpone: &FlagFile) -> Config {
    let mut cfg = config(db, "t", ALTER);
    cfg.copy.chunk_size = 10;
    cfg.throttle.nice_ratio = 2.0;
    cfg.throttle.max_lag = LAX_LAG;
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.checkpoint.enabled = true;
    cfg.checkpoint.interval = Duration::from_secs(1);
    cfg
}

/// The end: writers stopped (no error an application would not expect), `t` equals the control table,
/// with the new column's default everywhere.
async fn assert_end_state(db: &TestDb, writers: Workload) -> Result<WorkloadReport> {
    let report = writers.stop().await?;
    let rows = assert_matches_control(db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    ensure!(rows as u64 >= ROWS / 2, "only {rows} rows left");
    let wrong: Vec<u64> = db.query("SELECT COUNT(*) FROM t WHERE x <> 3").await?;
    ensure!(wrong == vec![0], "rows without the new column's default: {wrong:?}");
    eprintln!("writers: {report:?}");
    Ok(report)
}

/// Observes that the copy does not progress while the binlog apply goes on (the writers' changes still
/// reach the ghost table, so its row count is no measure): waits for two consecutive status refreshes with
/// the same copied count (the chunks in flight when the throttle began have landed), then for two more
/// refreshes (two more seconds of the engine's own clock), and checks that the count did not move and the
/// state still says why. Returns the count.
async fn assert_copy_held(run: &mut Run) -> Result<u64> {
    let mut prev = run.tick().await?;
    let settled = loop {
        let p = run.tick().await?;
        if p.copied == prev.copied {
            break p;
        }
        prev = p;
    };
    run.tick().await?;
    let later = run.tick().await?;
    ensure!(
        later.copied == settled.copied,
        "the copy progressed while throttled: status went from {:?} to {:?}",
        settled.line,
        later.line
    );
    ensure!(later.line.contains("State: throttled, lag="), "the status no longer says why: {:?}", later.line);
    Ok(later.copied)
}

/// `Applied: 123;` of a status line.
fn applied(p: &Progress) -> u64 {
    p.line.split("Applied: ").nth(1).and_then(|s| s.split(';').next()).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

// ---------------------------------------------------------------- the tests

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_forwards_pauses_and_severs() -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // An echo server stands in for MySQL.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let echo_port = echo.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let proxy = Proxy::start("127.0.0.1", echo_port).await?;
    let mut c = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port())).await?;
    let mut buf = [0u8; 5];
    c.write_all(b"hello").await?;
    within("echo through the proxy", Duration::from_secs(10), async { Ok(c.read_exact(&mut buf).await?) }).await?;
    assert_eq!(&buf, b"hello");

    proxy.pause();
    c.write_all(b"again").await?;
    // Paused: nothing comes back. (A bounded look for something that must not happen.)
    let early = tokio::time::timeout(Duration::from_millis(300), c.read_exact(&mut buf)).await;
    assert!(early.is_err(), "data came through a paused proxy");
    proxy.restore();
    within("echo after the restore", Duration::from_secs(10), async { Ok(c.read_exact(&mut buf).await?) }).await?;
    assert_eq!(&buf, b"again", "what was sent during the pause arrives after the restore");

    proxy.sever();
    let read =
        within("the severed connection failing", Duration::from_secs(10), async { Ok(c.read(&mut buf).await) }).await?;
    assert!(matches!(read, Ok(0) | Err(_)), "a severed connection must end: {read:?}");
    wait_until("the sever counted", Duration::from_secs(10), || {
        let n = proxy.severed();
        async move { Ok(n == 1) }
    })
    .await?;
    // New connections are served after a sever.
    let mut c2 = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port())).await?;
    c2.write_all(b"later").await?;
    within("echo on a new connection", Duration::from_secs(10), async { Ok(c2.read_exact(&mut buf).await?) }).await?;
    assert_eq!(&buf, b"later");
    assert_eq!(proxy.accepted(), 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_primary_restarted_mid_copy() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let _health = HealthGuard;
    let (db, writers) = scene("fault_restart", true).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut run = Run::start(slow(&db, &postpone));
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    let before = run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    ensure!(before.copied < ROWS, "the copy ended before the restart: {:?}", before.line);
    let restarted = Instant::now();
    sandbox(&["restart", "primary"]).await?;
    ensure!(
        uptime(&db).await? <= restarted.elapsed().as_secs() + 1,
        "the primary did not restart (Uptime {} s)",
        uptime(&db).await?
    );
    // Still copying once the server is back: the copy spans the restart.
    let after = run.tick().await?;
    ensure!(after.copied < ROWS, "the copy was complete by the time the primary was back: {:?}", after.line);
    writers.wait_commits(50).await.context("the writers did not get back to the primary")?;
    run.tick_until("the copy going on after the restart", RUN_TIMEOUT, |p| p.copied > after.copied).await?;
    run.wait_phase(Phase::Postponing, RUN_TIMEOUT).await?;
    writers.wait_commits(50).await?;
    postpone.remove()?;
    // Reconnected and finished: no resume needed.
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    eprintln!("outcome: {outcome:?}; phases {:?}", run.seen);
    assert_end_state(&db, writers).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_network_to_the_primary_cut_and_restored() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let _health = HealthGuard;
    let (db, writers) = scene("fault_network", false).await?;
    let s = settings();
    let proxy = Proxy::start(&s.primary_host, s.primary_port).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = slow(&db, &postpone);
    // Every connection to the primary goes through the proxy: binlog stream, copy, applier, heartbeat,
    // checkpoints, the cut-over. (The writers and the test connect directly.)
    cfg.conn.assume_master_host = Some(Endpoint { host: "127.0.0.1".into(), port: proxy.port() });
    // Lag is measured through heartbeats the proxy carries: a lax limit would hide a heartbeat that never
    // comes back after a cut.
    cfg.throttle.max_lag = Duration::from_secs(5);
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    let p = run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;

    // Mid-copy, every connection reset at once.
    let accepted = proxy.accepted();
    proxy.sever();
    let mid = run.tick_until("the copy going on after the cut", RUN_TIMEOUT, |q| q.copied > p.copied + 200).await?;
    ensure!(mid.copied < ROWS, "the copy ended before the pause: {:?}", mid.line);
    ensure!(proxy.accepted() > accepted, "the copy went on without reconnecting");

    // Mid-copy, silence: until a part of wraith notices (the binlog stream's read timeout) and dials again.
    let accepted = proxy.accepted();
    proxy.pause();
    wait_until("a new connection attempt during the pause", PHASE_TIMEOUT, || {
        let dialed = proxy.accepted() > accepted;
        async move { Ok(dialed) }
    })
    .await?;
    proxy.restore();
    run.wait_phase(Phase::Postponing, RUN_TIMEOUT).await.context("the copy did not finish after the pause")?;

    // Mid-apply (the copy is done; the writers' changes arrive through the binlog): silence until wraith's
    // heartbeat on the primary is two seconds old, then every connection reset.
    let applied_before = applied(&run.tick().await?);
    proxy.pause();
    wait_until("the heartbeat two seconds old", PHASE_TIMEOUT, || {
        let db = &db;
        async move {
            let v: Vec<String> = db.query("SELECT value FROM _t_ghc WHERE hint = 'heartbeat'").await?;
            let beat = v.first().and_then(|v| v.parse::<u128>().ok()).unwrap_or(0);
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros();
            Ok(now.saturating_sub(beat) >= 2_000_000)
        }
    })
    .await?;
    proxy.sever();
    proxy.restore();
    writers.wait_commits(100).await?;
    run.tick_until("changes applied after the cut", RUN_TIMEOUT, |q| applied(q) > applied_before + 100).await?;

    postpone.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    eprintln!(
        "outcome: {outcome:?}; phases {:?}; proxy: {} accepted, {} severed",
        run.seen,
        proxy.accepted(),
        proxy.severed()
    );
    assert_end_state(&db, writers).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn replication_stopped_on_the_inspected_replica() -> Result<()> {
    let _serial = SERIAL.lock().await;
    let _health = HealthGuard;
    let (db, writers) = scene("fault_replication", false).await?;
    let postpone = FlagFile::new(&db, "postpone");
    // The throttle flag holds the copy from its start while replication stops and the lag grows past the
    // limit, however fast this machine copies 10,000 rows; removing it leaves the lag as the only hold.
    let hold = FlagFile::new(&db, "throttle");
    hold.create()?;
    let mut cfg = slow(&db, &postpone);
    cfg.cut_over.postpone_flag_file = None;
    cfg.throttle.max_lag = Duration::from_secs(1);
    cfg.throttle.flag_file = Some(hold.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    run.tick_until("the copy held by the throttle flag", PHASE_TIMEOUT, |p| {
        p.line.contains("State: throttled, flag-file")
    })
    .await?;

    let _replication = ReplicationGuard;
    let mut replica = connect(replica_opts(None)).await?;
    replica.query_drop("STOP REPLICA SQL_THREAD").await?;
    run.tick_until("the lag past the limit", PHASE_TIMEOUT, |p| p.status.lag_seconds > 1.5).await?;
    hold.remove()?;
    let held = run
        .tick_until("the status saying the copy is throttled on lag", PHASE_TIMEOUT, |p| {
            p.line.contains("State: throttled, lag=")
        })
        .await?;
    ensure!(held.copied < ROWS, "the copy ended before the lag grew: {:?}", held.line);
    let stalled = assert_copy_held(&mut run).await?;

    replica.query_drop("START REPLICA SQL_THREAD").await?;
    let _ = replica.disconnect().await;
    run.tick_until("the copy going on once replication runs", RUN_TIMEOUT, |p| p.copied > stalled).await?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    eprintln!("outcome: {outcome:?}; held at {:?}", held.line);
    assert_end_state(&db, writers).await?;
    Ok(())
}

/// What a long transaction holds during the cut-over.
#[derive(Clone, Copy, Debug)]
enum Holding {
    /// A row of `t`: the cut-over's LOCK TABLES waits for it.
    RowOfT,
    /// The changelog's state row: the cut-over gets its lock, then waits to write its marker.
    MarkerRow,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_transaction_on_t_during_the_cut_over() -> Result<()> {
    long_transaction_during_the_cut_over("fault_long_trx_t", Holding::RowOfT).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_transaction_on_the_marker_row_during_the_cut_over() -> Result<()> {
    long_transaction_during_the_cut_over("fault_long_trx_marker", Holding::MarkerRow).await
}

/// Each cut-over attempt gives up within its lock budget while the transaction is open, so no writer waits
/// longer than that (plus a margin); the cut-over succeeds once the transaction ends.
async fn long_transaction_during_the_cut_over(name: &str, holding: Holding) -> Result<()> {
    let _serial = SERIAL.lock().await;
    let _health = HealthGuard;
    let (db, writers) = scene(name, false).await?;
    // A row the writers never touch (their keys are positive), for the long transaction to hold.
    db.exec("INSERT INTO t (id, n) VALUES (-1, 0); INSERT INTO c (id, n) VALUES (-1, 0)").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let lock_timeout = Duration::from_secs(2);
    let mut cfg = config(&db, "t", ALTER);
    cfg.throttle.max_lag = LAX_LAG;
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.cut_over.lock_timeout = lock_timeout;
    // The cut-over's own lock is under test: the verification after the postponement, which would meet the
    // same transaction first (its snapshot lock and marker, bounded the same way: tests/migrate_checksum.rs),
    // is off.
    cfg.checksum.enabled = false;
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Postponing, RUN_TIMEOUT).await?;

    let mut trx = connect(primary_opts(Some(db.name()))).await?;
    trx.query_drop("START TRANSACTION").await?;
    let held: Vec<String> = match holding {
        Holding::RowOfT => trx.query("SELECT CAST(id AS CHAR) FROM t WHERE id = -1 FOR UPDATE").await?,
        Holding::MarkerRow => trx.query("SELECT hint FROM _t_ghc WHERE hint = 'state' FOR UPDATE").await?,
    };
    ensure!(held.len() == 1, "the long transaction holds nothing ({holding:?}): {held:?}");
    writers.stats.reset_longest();
    postpone.remove()?;
    // Two attempts give up while the transaction is open.
    for n in 1..=2 {
        run.wait_phase(Phase::CuttingOver, PHASE_TIMEOUT).await.with_context(|| format!("attempt {n}"))?;
        run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await.with_context(|| format!("attempt {n} giving up"))?;
    }
    ensure!(!has_column(&db, "t", "x").await?, "the cut-over happened under the open transaction");
    trx.query_drop("COMMIT").await?;
    let _ = trx.disconnect().await;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    writers.wait_commits(20).await?;
    let longest = writers.stats.longest();
    eprintln!("{holding:?}: outcome {outcome:?}; phases {:?}; longest writer transaction {longest:?}", run.seen);
    // The promise under test: a cut-over attempt blocks the application for at most its lock timeout.
    let margin = Duration::from_millis(1500);
    ensure!(
        longest <= lock_timeout + margin,
        "a writer waited {longest:?}, more than --cut-over-lock-timeout-seconds ({lock_timeout:?}) + {margin:?}"
    );
    assert_end_state(&db, writers).await?;
    Ok(())
}
