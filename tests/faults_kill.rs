//! SIGKILL of the real `wraith` binary in each phase of a migration, with writers running (`Workload`: every
//! change goes to `t` and to the control table `c` in one transaction, so `c` is what `t` must hold):
//!
//! - during the copy (no checkpoint): the next run refuses, naming the ghost table and
//!   --initially-drop-ghost-table; with that flag it starts over and finishes;
//! - while the cut-over is postponed (--checkpoint): reruns refuse one leftover at a time, each message naming
//!   it and the flag that clears it (the socket file, then the ghost table, pointing at --resume too);
//!   --resume finishes;
//! - while the cut-over holds its lock (`LOCK TABLES t WRITE`; kept there by a test transaction holding the
//!   changelog row the cut-over's marker must write, and seen in performance_schema.metadata_locks): the lock
//!   goes with the process, `t` keeps its old schema, and --resume finishes;
//! - right after the RENAME (the clean-up kept from dropping the changelog by a test transaction that read
//!   it, and seen in the processlist as that DROP waiting for its metadata lock): `t` has its new schema; the
//!   next run, with or without --resume, refuses, saying the cut-over completed and what to drop.
//!
//! After each kill: the writers commit more transactions (the application can write), `t` exists with the
//! schema the phase implies, and in the end `t` matches the control table. No writer ever found `t` missing
//! (error 1146), so no run left it renamed away. Binlog reader ids 424_701..424_705.
//!
//! A revert (--revert) killed while it replays: the migrated table serves on, the old table keeps its
//! definition, and a second revert completes.

mod common;
mod compat_common;
mod migrate_common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use mysql_async::prelude::*;
use mysql_async::Conn;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 3";
/// Keys 2, 4, ..., 20000: 10000 rows.
const SEED_MAX: i64 = 20_000;
const ROWS: u64 = 10_000;
/// Small chunks and a pause after each: the copy spans seconds, so a kill lands in it.
const SLOW: [&str; 2] = ["--chunk-size=10", "--nice-ratio=3"];
/// Bound on a refused run (validation only).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(60);

/// A test schema with `t` and the control table `c`, a scratch directory, and writers on both.
async fn scene(name: &str) -> Result<(TestDb, TempDir, Workload)> {
    let db = TestDb::new(name).await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let dir = TempDir::new("fk");
    let mut spec = WorkloadSpec::new(model, SEED_MAX);
    spec.writers = 2;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;
    Ok((db, dir, writers))
}

fn start(dir: &TempDir, tag: &str, args: &[String]) -> Result<Wraith> {
    let (cmd, out, err) = wraith_command(dir, tag, args)?;
    Wraith::spawn(cmd, out, err)
}

fn socket_arg(dir: &TempDir) -> String {
    format!("--serve-socket-file={}", dir.path("wraith.sock").display())
}

fn postpone_arg(dir: &TempDir) -> String {
    format!("--postpone-cut-over-flag-file={}", dir.path("postpone").display())
}

/// SIGKILL; the process must really have died of it.
async fn kill(run: &mut Wraith) -> Result<()> {
    run.kill().await.context("SIGKILL")?;
    let status = run.child.try_wait()?;
    ensure!(status.is_some_and(|s| !s.success()), "killed, but the exit status is {status:?}");
    Ok(())
}

/// Right after a kill: `t` is there with the schema the phase implies, and the application still writes.
async fn assert_table_serves(db: &TestDb, writers: &Workload, new_schema: bool) -> Result<()> {
    ensure!(tables(db).await?.contains(&"t".to_string()), "t is missing after the kill: {:?}", tables(db).await?);
    let has_x = has_column(db, "t", "x").await?;
    ensure!(has_x == new_schema, "t has the {} schema after the kill", if has_x { "new" } else { "old" });
    writers.wait_commits(50).await.context("the application cannot write to t after the kill")
}

/// A run that must refuse: exits non-zero and says each of `parts`.
async fn assert_refused(dir: &TempDir, tag: &str, args: &[String], parts: &[&str]) -> Result<String> {
    let (ok, out) = start(dir, tag, args)?.finish(REFUSAL_TIMEOUT).await?;
    ensure!(!ok, "the run was expected to refuse, but it succeeded:\n{out}");
    assert_contains(&out, parts);
    Ok(out)
}

/// The end state: writers stopped (they never found `t` missing), `t` equals the control table with the new
/// column's default everywhere.
async fn assert_end_state(db: &TestDb, writers: Workload) -> Result<()> {
    let report = writers.stop().await?;
    ensure!(!report.errors.contains_key("1146"), "a writer found t missing: {report:?}");
    let rows = assert_matches_control(db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    ensure!(rows as u64 >= ROWS / 2, "only {rows} rows left");
    let wrong: Vec<u64> = db.query("SELECT COUNT(*) FROM t WHERE x <> 3").await?;
    ensure!(wrong == vec![0], "rows without the new column's default: {wrong:?}");
    eprintln!("writers: {report:?}");
    Ok(())
}

/// A connection of the test's own on the primary, default database the test schema.
async fn own_conn(db: &TestDb) -> Result<Conn> {
    connect(primary_opts(Some(db.name()))).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_during_the_copy_then_started_over() -> Result<()> {
    let (db, dir, writers) = scene("kill_copy").await?;
    let args = binary_args(&db, &dir, ALTER, 424_701, &SLOW);
    let mut first = start(&dir, "first", &args)?;
    first
        .wait_until("rows in the ghost table", PHASE_TIMEOUT, || {
            let db = &db;
            async move { Ok(count_rows(db, "_t_gho").await? > 0) }
        })
        .await?;
    kill(&mut first).await?;
    let ghost_rows = count_rows(&db, "_t_gho").await?;
    ensure!(ghost_rows < ROWS, "the copy was complete at the kill ({ghost_rows} rows)");
    assert_table_serves(&db, &writers, false).await?;

    let ghost = format!("{}._t_gho", db.name());
    assert_refused(&dir, "again", &args, &[&ghost, "already exists", "--initially-drop-ghost-table"]).await?;
    ensure!(!has_column(&db, "t", "x").await?, "a refused run changed t");

    let args = binary_args(&db, &dir, ALTER, 424_701, &["--initially-drop-ghost-table"]);
    let (ok, out) = start(&dir, "over", &args)?.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the run starting over failed:\n{out}");
    assert_contains(&out, &["dropping leftover"]);
    assert_end_state(&db, writers).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_while_postponed_then_resumed() -> Result<()> {
    let (db, dir, writers) = scene("kill_postponed").await?;
    std::fs::write(dir.path("postpone"), b"")?;
    let socket = dir.path("wraith.sock");
    let base = [postpone_arg(&dir), socket_arg(&dir), "--checkpoint".into(), "--checkpoint-seconds=1".into()];
    let mut flags: Vec<&str> = base.iter().map(String::as_str).collect();
    let args = binary_args(&db, &dir, ALTER, 424_702, &flags);
    let mut first = start(&dir, "first", &args)?;
    first.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;
    // Postponed with the copy done, and a checkpoint saying so.
    first
        .wait_until("a checkpoint of the finished copy", PHASE_TIMEOUT, || {
            let db = &db;
            async move {
                let done: Vec<u8> = db.query("SELECT copy_done FROM _t_ghk ORDER BY id DESC LIMIT 1").await?;
                Ok(done == vec![1])
            }
        })
        .await?;
    kill(&mut first).await?;
    assert_table_serves(&db, &writers, false).await?;
    ensure!(socket.exists(), "a killed run cannot remove its socket file");

    // Each leftover refuses with its name and the flag that clears it.
    let sock = socket.display().to_string();
    assert_refused(&dir, "again", &args, &[&sock, "already exists", "--initially-drop-socket-file"]).await?;
    flags.push("--initially-drop-socket-file");
    let args = binary_args(&db, &dir, ALTER, 424_702, &flags);
    let ghost = format!("{}._t_gho", db.name());
    assert_refused(&dir, "again2", &args, &[&ghost, "--initially-drop-ghost-table", "--resume", "_t_ghk"]).await?;
    ensure!(!has_column(&db, "t", "x").await?, "a refused run changed t");

    // Writes while nothing runs reach the ghost table through the binlog after the checkpoint.
    writers.wait_commits(100).await?;
    flags.push("--resume");
    let args = binary_args(&db, &dir, ALTER, 424_702, &flags);
    let mut resumed = start(&dir, "resume", &args)?;
    resumed.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;
    writers.wait_commits(50).await?;
    std::fs::remove_file(dir.path("postpone"))?;
    let (ok, out) = resumed.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the resumed run failed:\n{out}");
    assert_contains(&out, &["resuming", "(copy complete)"]);
    assert_end_state(&db, writers).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_while_the_cut_over_holds_the_lock_then_resumed() -> Result<()> {
    let (db, dir, writers) = scene("kill_locked").await?;
    std::fs::write(dir.path("postpone"), b"")?;
    let socket = dir.path("wraith.sock");
    // A long lock budget: the kill must land while the lock is held, which the marker's wait (below) keeps
    // it for at most this long.
    let base = [
        postpone_arg(&dir),
        socket_arg(&dir),
        "--checkpoint".into(),
        "--checkpoint-seconds=1".into(),
        "--cut-over-lock-timeout-seconds=10".into(),
        // The cut-over must be the one that meets the pinned marker row: the verification after the
        // postponement would meet it first (its snapshot writes a marker too).
        "--checksum=false".into(),
    ];
    let mut flags: Vec<&str> = base.iter().map(String::as_str).collect();
    let args = binary_args(&db, &dir, ALTER, 424_703, &flags);
    let mut first = start(&dir, "first", &args)?;
    first.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;

    // Hold the changelog's state row: the cut-over, once it has locked t, waits here to write its marker.
    let mut pin = own_conn(&db).await?;
    pin.query_drop("START TRANSACTION").await?;
    let pinned: Vec<String> = pin.query("SELECT value FROM _t_ghc WHERE hint = 'state' FOR UPDATE").await?;
    ensure!(pinned.len() == 1, "no state row in the changelog to hold: {pinned:?}");
    std::fs::remove_file(dir.path("postpone"))?;
    let locks = format!(
        "SELECT COUNT(*) FROM performance_schema.metadata_locks WHERE OBJECT_TYPE = 'TABLE' AND OBJECT_SCHEMA = '{}' \
         AND OBJECT_NAME = 't' AND LOCK_TYPE = 'SHARED_NO_READ_WRITE' AND LOCK_STATUS = 'GRANTED'",
        db.name()
    );
    first
        .wait_until("the cut-over holding LOCK TABLES t WRITE", PHASE_TIMEOUT, || {
            let (db, locks) = (&db, &locks);
            async move { Ok(db.query::<u64>(locks).await? == vec![1]) }
        })
        .await?;
    kill(&mut first).await?;
    pin.query_drop("ROLLBACK").await?;
    let _ = pin.disconnect().await;
    // The server released the lock with the process's connection.
    wait_until("t's write lock released", PHASE_TIMEOUT, || {
        let (db, locks) = (&db, &locks);
        async move { Ok(db.query::<u64>(locks).await? == vec![0]) }
    })
    .await?;
    assert_table_serves(&db, &writers, false).await?;
    ensure!(helper_tables(&db, "t").await?.contains(&"_t_gho".to_string()), "the ghost table is gone");

    flags.extend(["--initially-drop-socket-file", "--resume"]);
    let args = binary_args(&db, &dir, ALTER, 424_703, &flags);
    let (ok, out) = start(&dir, "resume", &args)?.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the resumed run failed:\n{out}");
    assert_contains(&out, &["resuming", "cut-over done"]);
    assert_end_state(&db, writers).await
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_right_after_the_rename_then_refused_with_what_to_drop() -> Result<()> {
    let (db, dir, writers) = scene("kill_renamed").await?;
    std::fs::write(dir.path("postpone"), b"")?;
    let socket = dir.path("wraith.sock");
    let base = [postpone_arg(&dir), socket_arg(&dir), "--checkpoint".into(), "--checkpoint-seconds=1".into()];
    let mut flags: Vec<&str> = base.iter().map(String::as_str).collect();
    let args = binary_args(&db, &dir, ALTER, 424_704, &flags);
    let mut first = start(&dir, "first", &args)?;
    first.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;

    // A transaction that read the changelog holds its metadata lock: the clean-up's DROP waits for it.
    let mut pin = own_conn(&db).await?;
    pin.query_drop("START TRANSACTION").await?;
    let _: Vec<u64> = pin.query("SELECT COUNT(*) FROM _t_ghc").await?;
    std::fs::remove_file(dir.path("postpone"))?;
    let waiting = format!(
        "SELECT ID FROM performance_schema.processlist WHERE STATE = 'Waiting for table metadata lock' \
         AND INFO LIKE 'DROP TABLE%' AND INFO LIKE '%`{}`.`_t_ghc`%'",
        db.name()
    );
    first
        .wait_until("the clean-up waiting to drop the changelog", PHASE_TIMEOUT, || {
            let (db, waiting) = (&db, &waiting);
            async move { Ok(db.query::<u64>(waiting).await?.len() == 1) }
        })
        .await?;
    ensure!(has_column(&db, "t", "x").await?, "the clean-up runs, so the RENAME must have happened");
    kill(&mut first).await?;
    // The server would finish the DROP the dead process sent once the transaction ends: end it too, so the
    // state is the one of a process killed before its clean-up began.
    for id in db.query::<u64>(&waiting).await? {
        db.exec(format!("KILL {id}")).await?;
    }
    pin.query_drop("ROLLBACK").await?;
    let _ = pin.disconnect().await;
    assert_table_serves(&db, &writers, true).await?;
    let left = helper_tables(&db, "t").await?;
    ensure!(left == ["_t_del", "_t_ghc", "_t_ghk"], "left after the kill: {left:?}");

    // Nothing to resume or migrate: both kinds of rerun say so, and what to drop.
    flags.push("--initially-drop-socket-file");
    let parts = ["_t_del", "cut-over most likely completed", "new schema", "DROP TABLE IF EXISTS", "_t_ghc", "_t_ghk"];
    let args = binary_args(&db, &dir, ALTER, 424_704, &flags);
    assert_refused(&dir, "again", &args, &parts).await?;
    flags.push("--resume");
    let args = binary_args(&db, &dir, ALTER, 424_704, &flags);
    assert_refused(&dir, "resume", &args, &parts).await?;
    ensure!(helper_tables(&db, "t").await? == left, "a refused run changed the leftovers");

    // The operator cleans up as told; what the application wrote is all in t.
    db.exec("DROP TABLE IF EXISTS _t_ghc, _t_ghk").await?;
    assert_end_state(&db, writers).await?;
    let old: Vec<u64> = db.query("SELECT COUNT(*) FROM _t_del").await?;
    ensure!(old[0] >= ROWS / 2, "the old table lost its rows: {old:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revert_killed_mid_replay_leaves_both_tables_and_a_second_revert_completes() -> Result<()> {
    let (db, dir, writers) = scene("kill_revert").await?;
    let (ok, out) =
        start(&dir, "migrate", &binary_args(&db, &dir, ALTER, 424_705, &["--checkpoint"]))?.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the migration failed:\n{out}");
    writers.wait_commits(100).await?;

    // The revert replays the writes since the cut-over, held before its own cut-over by the postpone flag.
    std::fs::write(dir.path("postpone"), b"")?;
    let socket = dir.path("wraith.sock");
    let revert = ["--revert".to_string(), "--old-table=_t_del".into(), "--checkpoint".into(), socket_arg(&dir)];
    let mut flags: Vec<String> = revert.to_vec();
    flags.push(postpone_arg(&dir));
    let flags_ref: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut first = start(&dir, "revert", &binary_args(&db, &dir, "", 424_705, &flags_ref))?;
    first.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;
    writers.wait_commits(50).await?;
    kill(&mut first).await?;
    // The migrated table serves on; the old table is still there, with its own definition.
    assert_table_serves(&db, &writers, true).await?;
    ensure!(!has_column(&db, "_t_del", "x").await?, "the old table changed its definition");

    std::fs::remove_file(dir.path("postpone"))?;
    let mut flags: Vec<String> = revert.to_vec();
    flags.push("--initially-drop-socket-file".into());
    let flags_ref: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (ok, out) =
        start(&dir, "revert2", &binary_args(&db, &dir, "", 424_705, &flags_ref))?.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the second revert failed:\n{out}");
    assert_contains(&out, &["wraith: reverted in"]);
    writers.wait_commits(50).await?;
    let report = writers.stop().await?;
    ensure!(!report.errors.contains_key("1146"), "a writer found t missing: {report:?}");
    ensure!(!has_column(&db, "t", "x").await?, "t does not have its original definition back");
    let rows = assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    ensure!(rows as u64 >= ROWS / 2, "only {rows} rows left");
    Ok(())
}
