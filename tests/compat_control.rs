//! gh-ost runbooks drive a running migration through its control socket: `echo throttle | nc -U sock`,
//! `chunk-size=500`, `no-throttle`, `unpostpone`, `panic`. These tests do the same against the sandbox, over
//! the unix socket (`--serve-socket-file`) and over TCP (`--serve-tcp-port`, with the real `wraith ctl`).

mod common;
mod compat_common;
mod migrate_common;

use std::time::Duration;

use anyhow::{Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use wraith::Phase;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";
const ROWS: u64 = 20_000;

/// The new column is there, every row has its default, and the old columns hold exactly the old data.
async fn assert_migrated(db: &TestDb, before: &Checksum) -> Result<()> {
    assert!(has_column(db, "t", "x").await?, "t lacks the new column:\n{}", show_create(db, "t").await?);
    assert_eq!(&checksum(db, "t", "id, n, s").await?, before, "the data changed in the migration");
    let with_default: Vec<u64> = db.query("SELECT COUNT(*) FROM t WHERE x = 7").await?;
    assert_eq!(with_default, vec![ROWS]);
    Ok(())
}

/// throttle -> the copy stops; chunk-size=500 / chunk-size=?; no-throttle -> the copy completes; the cut-over
/// waits for the postpone flag file until `unpostpone`; then the table has the new schema.
#[tokio::test(flavor = "multi_thread")]
async fn socket_throttle_chunk_size_and_unpostpone() -> Result<()> {
    let db = TestDb::new("compat_socket").await?;
    numbers_table(&db, ROWS).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let dir = TempDir::new("sock");
    let socket = dir.path("wraith.sock");
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;

    let mut cfg = slow_config(&db, ALTER, 424_101);
    cfg.control.serve_socket_file = Some(socket.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;

    // The copy is under way...
    run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    assert_eq!(ctl(&socket, "chunk-size=?").await?, "10\n", "chunk-size as configured");
    // ...until an operator throttles it.
    assert_eq!(ctl(&socket, "throttle").await?, "OK\n");
    let stalled = assert_copy_stalled(&mut run, &db, "_t_gho", ROWS).await?;
    let status = ctl(&socket, "status").await?;
    assert_eq!(copied_in_status(&status), Some(stalled), "status while throttled: {status:?}");

    // Settings change while throttled, and read back.
    assert_eq!(ctl(&socket, "chunk-size=500").await?, "OK\n");
    assert_eq!(ctl(&socket, "chunk-size=?").await?, "500\n");
    assert_eq!(ctl(&socket, "nice-ratio=0").await?, "OK\n");

    assert_eq!(ctl(&socket, "no-throttle").await?, "OK\n");
    // The copy completes; the cut-over is postponed while the flag file exists.
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    assert_eq!(count_rows(&db, "_t_gho").await?, ROWS, "the ghost table after the copy");
    let status = wait_status(&socket, "postponing cut-over", PHASE_TIMEOUT).await?;
    assert_eq!(copied_in_status(&status), Some(ROWS), "status once copied: {status:?}");
    // It stays postponed (two more status refreshes) and the original keeps its schema.
    run.tick().await?;
    run.tick().await?;
    assert_eq!(run.phase(), Phase::Postponing, "phases {:?}", run.seen);
    assert!(!has_column(&db, "t", "x").await?, "the table changed before unpostpone");

    assert_eq!(ctl(&socket, "unpostpone").await?, "OK\n");
    run.finish_ok(RUN_TIMEOUT).await?;
    assert!(postpone.path.exists(), "unpostpone cuts over although the flag file still exists");
    assert_migrated(&db, &before).await?;
    assert!(!socket.exists(), "the socket file is removed at the end");
    Ok(())
}

/// gh-ost's `status` says `State: throttled, <reason>` while the copy is throttled; runbooks and dashboards
/// grep for it.
#[tokio::test(flavor = "multi_thread")]
async fn status_says_throttled() -> Result<()> {
    let db = TestDb::new("compat_status_throttled").await?;
    numbers_table(&db, 2000).await?;
    let dir = TempDir::new("sock");
    let socket = dir.path("wraith.sock");
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = slow_config(&db, ALTER, 424_104);
    cfg.control.serve_socket_file = Some(socket.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    wait_status(&socket, "Copy:", PHASE_TIMEOUT).await?;
    assert_eq!(ctl(&socket, "throttle").await?, "OK\n");
    // Other reasons (no heartbeat yet) may show first; the user's command must show within the wait.
    wait_status(&socket, "State: throttled, commanded by user", Duration::from_secs(10)).await?;
    assert_eq!(ctl(&socket, "panic").await?, "OK\n");
    run.finish_err(RUN_TIMEOUT).await?;
    Ok(())
}

/// The same control over TCP, with the real `wraith ctl --tcp` client.
#[tokio::test(flavor = "multi_thread")]
async fn tcp_port_with_wraith_ctl() -> Result<()> {
    let db = TestDb::new("compat_tcp").await?;
    numbers_table(&db, 500).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    // A free port: the kernel picks one, we release it and hand it to the migration.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");

    let mut cfg = compat_config(&db, ALTER, 424_102);
    cfg.control.serve_tcp_port = Some(port);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;

    let ctl_tcp = |command: &'static str| {
        let addr = addr.clone();
        async move {
            let (status, out, err) =
                run_wraith(&["ctl", "--tcp", &addr, command], &[], Duration::from_secs(30)).await?;
            anyhow::ensure!(status.success(), "wraith ctl {command} exited with {status}: {out}{err}");
            Ok::<_, anyhow::Error>(out)
        }
    };
    // The status line may lag the phase by one refresh.
    let mut status = String::new();
    for _ in 0..20 {
        status = ctl_tcp("status").await?;
        if status.contains("State: postponing cut-over") {
            break;
        }
        run.tick().await?;
    }
    assert!(status.contains("State: postponing cut-over"), "wraith ctl --tcp status: {status:?}");
    assert_eq!(copied_in_status(&status), Some(500), "{status:?}");
    assert_eq!(ctl_tcp("chunk-size=?").await?, "50\n");
    // An unknown command: wraith ctl exits non-zero and prints the server's error.
    let (bad, out, _) = run_wraith(&["ctl", "--tcp", &addr, "no-such-command"], &[], Duration::from_secs(30)).await?;
    assert!(!bad.success() && out.starts_with("ERROR: unknown command"), "{bad}: {out:?}");
    assert!(!has_column(&db, "t", "x").await?);
    assert_eq!(ctl_tcp("unpostpone").await?, "OK\n");
    run.finish_ok(RUN_TIMEOUT).await?;
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    // The port is closed once the run is over.
    let refused = tokio::net::TcpStream::connect(&addr).await;
    assert!(refused.is_err(), "the control port is still open after the run");
    Ok(())
}

/// `panic` aborts mid-copy; the original table is untouched.
#[tokio::test(flavor = "multi_thread")]
async fn socket_panic_aborts_and_leaves_the_table() -> Result<()> {
    let db = TestDb::new("compat_socket_panic").await?;
    numbers_table(&db, ROWS).await?;
    let before = original(&db, "t").await?;
    let dir = TempDir::new("sock");
    let socket = dir.path("wraith.sock");
    let mut cfg = slow_config(&db, ALTER, 424_103);
    cfg.control.serve_socket_file = Some(socket.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;

    assert_eq!(ctl(&socket, "panic").await?, "OK\n");
    let err = run.finish_err(Duration::from_secs(30)).await.context("panic must end the run promptly")?;
    assert_contains(&err, &["panic"]);
    assert!(count_rows(&db, "_t_gho").await? < ROWS, "the panic came only after the copy: {err}");
    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    assert!(!socket.exists(), "the socket file is removed at the end");
    Ok(())
}
