//! `--checkpoint` + `--resume` with a real crash: the `wraith` binary is SIGKILLed mid-copy while writers
//! keep writing, then started again with `--resume`. The result must equal the control table the writers
//! kept in step with `t` (see tests/migrate_common, `Workload`).

mod common;
mod compat_common;
mod migrate_common;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use mysql_async::prelude::*;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 3, ADD INDEX x_n (x, n)";

/// The latest checkpoint: (copy_done, copy_last_key).
async fn latest_checkpoint(db: &TestDb) -> Result<Option<(u8, Option<String>)>> {
    if !helper_tables(db, "t").await?.contains(&"_t_ghk".to_string()) {
        return Ok(None);
    }
    let mut conn = db.primary_conn().await?;
    Ok(conn.query_first("SELECT copy_done, copy_last_key FROM _t_ghk ORDER BY id DESC LIMIT 1").await?)
}

/// `server_id`: the binlog connection's, one per test (two replicas with one id disconnect each other).
fn args(db: &TestDb, dir: &TempDir, server_id: u32, extra: &[&str]) -> Vec<String> {
    let s = settings();
    let mut v: Vec<String> = vec![
        "migrate".into(),
        format!("--host={}", s.replica_host),
        format!("--port={}", s.replica_port),
        format!("--user={}", s.user),
        // The password comes from WRAITH_PASSWORD, inherited from the test's environment.
        format!("--database={}", db.name()),
        "--table=t".into(),
        format!("--alter={ALTER}"),
        format!("--replica-server-id={server_id}"),
        format!("--throttle-additional-flag-file={}", dir.path("no-such-throttle-file").display()),
        format!("--postpone-cut-over-flag-file={}", dir.path("postpone").display()),
        "--max-lag-millis=60000".into(),
        "--checkpoint".into(),
        "--checkpoint-seconds=1".into(),
        "--status-interval=1s".into(),
        "--execute".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_copy_then_resumed_matches_the_oracle() -> Result<()> {
    let db = TestDb::new("compat_checkpoint").await?;
    let model = simple_tables(&db, 16_000).await?;
    killed_and_resumed(db, model, SIMPLE_COLUMNS, 424501).await
}

/// The same with a string key in a PAD SPACE collation: the resume point and the ghost rows cleared above
/// it are string keys in the collation's order.
#[tokio::test(flavor = "multi_thread")]
async fn a_string_key_killed_mid_copy_then_resumed_matches_the_oracle() -> Result<()> {
    let db = TestDb::new("compat_checkpoint_string").await?;
    let model = string_key_tables(&db, "utf8mb4", "utf8mb4_general_ci", "code", 16_000).await?;
    killed_and_resumed(db, model, STRING_KEY_COLUMNS, 424502).await
}

async fn killed_and_resumed(
    db: TestDb,
    model: std::sync::Arc<TableModel>,
    columns: &str,
    server_id: u32,
) -> Result<()> {
    assert!(std::env::var("WRAITH_PASSWORD").is_ok(), "the binary takes the password from WRAITH_PASSWORD");
    let dir = TempDir::new("ckpt");
    std::fs::write(dir.path("postpone"), b"")?;
    let mut spec = WorkloadSpec::new(model, 16_000);
    spec.writers = 2;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;

    // First run: slow chunks, killed once a checkpoint of an unfinished copy is on disk.
    let (cmd, out, err) =
        wraith_command(&dir, "first", &args(&db, &dir, server_id, &["--chunk-size=10", "--nice-ratio=3"]))?;
    let mut first = Wraith::spawn(cmd, out, err)?;
    let deadline = Instant::now() + PHASE_TIMEOUT;
    while !matches!(latest_checkpoint(&db).await?, Some((0, Some(_)))) {
        if let Some(status) = first.child.try_wait()? {
            bail!("the first run exited ({status}) before writing a checkpoint\n{}", first.output());
        }
        if Instant::now() >= deadline {
            first.kill().await?;
            bail!("no checkpoint of a copy in progress within {PHASE_TIMEOUT:?}\n{}", first.output());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writers.wait_commits(20).await?;
    first.kill().await.context("SIGKILL")?;
    let status = first.child.try_wait()?;
    assert!(status.is_some_and(|s| !s.success()), "killed: {status:?}");
    let (done, key) = latest_checkpoint(&db).await?.context("the checkpoint table is gone after the kill")?;
    assert_eq!(done, 0, "the surviving checkpoint must be mid-copy (key {key:?}):\n{}", first.output());
    let ghost_rows = count_rows(&db, "_t_gho").await?;
    assert!(ghost_rows > 0, "nothing copied before the kill");
    assert!(!has_column(&db, "t", "x").await?);

    // Writes while no migration runs: the resumed run finds them in the binlog after the checkpoint.
    writers.wait_commits(100).await?;

    // Resume, faster, with a control socket to see when it waits for the cut-over.
    let socket = dir.path("wraith.sock");
    let socket_arg = format!("--serve-socket-file={}", socket.display());
    let (cmd, out, err) =
        wraith_command(&dir, "resume", &args(&db, &dir, server_id, &["--resume", "--chunk-size=500", &socket_arg]))?;
    let mut second = Wraith::spawn(cmd, out, err)?;
    second.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;
    writers.wait_commits(100).await?;
    let report = writers.stop().await?;
    std::fs::remove_file(dir.path("postpone"))?;
    let status = second.wait(RUN_TIMEOUT).await?;
    assert!(status.success(), "the resumed run failed ({status}):\n{}", second.output());
    let log = second.output();
    assert!(log.contains("resuming"), "the second run did not resume from the checkpoint:\n{log}");
    // The parallel copy resumed: it cleared the ghost above the resume point before copying on.
    assert!(log.contains("ghost rows above the checkpoint's copy position"), "no parallel resume:\n{log}");
    // With --checkpoint the ghost keeps its secondary indexes during the copy (a resume could not tell
    // which ones it lacks), so the resumed ghost has the ALTER's new index.
    assert!(!first.output().contains("deferred secondary indexes"), "{}", first.output());
    assert!(show_create(&db, "t").await?.contains("  KEY `x_n` (`x`,`n`)"), "the index is on the migrated table");

    let rows = assert_matches_control(&db, columns, columns).await?;
    assert!(rows > 1000);
    let wrong: Vec<u64> = db.query("SELECT COUNT(*) FROM t WHERE x <> 3").await?;
    assert_eq!(wrong, vec![0]);
    // The checkpoint table stays, holding the cut-over point a --revert starts from (as gh-ost keeps it).
    let points: Vec<String> = db.query("SELECT old_table FROM _t_ghk WHERE cut_over_gtid IS NOT NULL").await?;
    assert_eq!(points, vec!["_t_del".to_string()], "the cut-over point is recorded");
    eprintln!("writers: {report:?}; ghost rows at the kill: {ghost_rows}");
    Ok(())
}
