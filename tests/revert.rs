//! Reverting a finished migration (--revert, gh-ost's form): a migration run with --checkpoint records its
//! cut-over point; the revert replays every write made since into the old table and swaps it back in.
//! Writers run through the migration, the revert and after; the end state is compared row by row with the
//! control table that got every write. The refusals leave both tables as they were.

mod common;
mod migrate_common;

use anyhow::{bail, Result};
use common::*;
use migrate_common::*;
use wraith::config::{Config, RevertSettings};
use wraith::Phase;

const SEED_MAX: i64 = 2000;

/// The revert of the migration of `t` in `db`, with the migration's names.
fn revert_config(db: &TestDb, execute: bool) -> Config {
    let mut cfg = config(db, "t", "");
    cfg.revert = RevertSettings { revert: true, old_table: Some("_t_del".into()), ..RevertSettings::default() };
    cfg.checkpoint.enabled = true;
    cfg.execute = execute;
    cfg
}

/// Migrates `t` with --checkpoint, so that it can be reverted.
async fn migrate(db: &TestDb, alter: &str) -> Result<()> {
    let mut cfg = config(db, "t", alter);
    cfg.checkpoint.enabled = true;
    let outcome = Running::start(cfg).finish_ok(RUN_TIMEOUT).await?;
    assert!(outcome.left_behind.iter().any(|t| t.ends_with("._t_del")), "{outcome:?}");
    let helpers = helper_tables(db, "t").await?;
    assert!(helpers.contains(&"_t_ghk".to_string()), "the checkpoint table keeps the cut-over point: {helpers:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_is_reverted_with_every_write_made_since() -> Result<()> {
    let db = TestDb::new("revert_writes").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let before = show_create(&db, "t").await?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    writers.wait_commits(20).await?;
    migrate(&db, "ADD COLUMN note VARCHAR(8) NULL DEFAULT 'x', MODIFY n BIGINT NOT NULL").await?;
    let migrated = show_create(&db, "t").await?;
    assert!(migrated.contains("`note`"), "{migrated}");
    writers.wait_commits(100).await?;

    // Without --execute: the checks pass and the changes since the cut-over are counted; nothing changes.
    let noop = Running::start(revert_config(&db, false)).finish_ok(RUN_TIMEOUT).await?;
    let counted = noop.revert_changes.expect("a noop revert counts what it would replay");
    assert!(noop.reverted && !noop.executed && counted > 0, "{noop:?}");
    assert_eq!(show_create(&db, "t").await?, migrated, "a noop revert changed the table");

    // The revert's cut-over is postponed as a migration's is: writes keep being replayed meanwhile.
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = revert_config(&db, true);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    writers.wait_commits(50).await?;
    postpone.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    assert!(outcome.reverted && outcome.executed && outcome.rows_copied == 0, "{outcome:?}");
    // The replay covers what the noop counted, and the writes made since.
    assert!(outcome.events_applied >= counted && outcome.cut_over_locked_for.is_some(), "{outcome:?}");
    let verified = outcome.checksum.as_ref().expect("the old table is verified before it is swapped back in");
    assert!(verified.rows > 0 && verified.repaired == 0, "{verified:?}");
    writers.wait_commits(20).await?;
    writers.stop().await?;

    assert_eq!(show_create(&db, "t").await?, before, "the revert brings the original definition back");
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    let helpers = helper_tables(&db, "t").await?;
    assert_eq!(helpers, vec!["_t_rev_del".to_string()], "the replaced table is kept as _t_rev_del, nothing else");
    assert_eq!(
        show_create(&db, "_t_rev_del").await?,
        migrated.replace("CREATE TABLE `t`", "CREATE TABLE `_t_rev_del`")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revert_refuses_what_it_cannot_map_and_changes_nothing() -> Result<()> {
    let db = TestDb::new("revert_refusals").await?;
    let model = simple_tables(&db, SEED_MAX).await?;

    // No checkpoint table: the migration was not made revertible.
    let (_, msg) = run_expect_error(revert_config(&db, true)).await?;
    assert_contains(&msg, &["no checkpoint table", "_t_ghk", "--checkpoint"]);

    migrate(&db, "MODIFY s VARCHAR(200) CHARACTER SET utf8mb4 NULL").await?;
    let unchanged = || async {
        let tables = (snapshot(&db, "t", "id").await?, snapshot(&db, "_t_del", "id").await?);
        Ok::<_, anyhow::Error>(tables)
    };

    // The wrong old table.
    let mut cfg = revert_config(&db, true);
    cfg.revert.old_table = Some("_t_old".into());
    let before = unchanged().await?;
    let (_, msg) = run_expect_error(cfg).await?;
    assert_contains(&msg, &["kept the old table as _t_del", "--old-table=_t_del"]);
    assert!(unchanged().await? == before, "a refused revert changed a table");

    // The old table altered since the cut-over.
    db.exec("ALTER TABLE _t_del ADD COLUMN extra INT NULL").await?;
    let before = unchanged().await?;
    let (_, msg) = run_expect_error(revert_config(&db, true)).await?;
    assert_contains(&msg, &["old table", "_t_del", "altered since the cut-over"]);
    assert!(unchanged().await? == before, "a refused revert changed a table");
    db.exec("ALTER TABLE _t_del DROP COLUMN extra").await?;

    // A value written since that the old column cannot hold: found by the replay, which stops; the
    // migrated table keeps serving with everything written to it (writers run through the revert).
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    writers.wait_commits(20).await?;
    let long = "y".repeat(150);
    db.exec(format!("INSERT INTO t (id, n, s) VALUES (900001, 1, '{long}')")).await?;
    let migrated = show_create(&db, "t").await?;
    let err = match run_migration(revert_config(&db, true)).await? {
        Ok(o) => bail!("the revert went through with a value the old table cannot hold: {o:?}"),
        Err(e) => error_text(&e),
    };
    assert_contains(&err, &["revert stopped before its cut-over", "_t_del", "untouched"]);
    assert!(err.to_lowercase().contains("too long"), "the error names the value that does not fit: {err}");
    assert_eq!(show_create(&db, "t").await?, migrated, "the migrated table keeps its definition");
    let kept: Vec<String> = db.query("SELECT s FROM t WHERE id = 900001").await?;
    assert_eq!(kept, vec![long], "the row written since stays in the migrated table");
    let helpers = helper_tables(&db, "t").await?;
    assert!(helpers.contains(&"_t_del".to_string()) && helpers.contains(&"_t_ghk".to_string()), "{helpers:?}");
    writers.wait_commits(20).await?;
    writers.stop().await?;
    // Every other write is in the migrated table: without the long row (the writers' keys stay below it)
    // it equals the control table.
    db.exec("DELETE FROM t WHERE id = 900001; DROP TABLE IF EXISTS _t_ghc").await?;
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}

/// A migration with a revert window, serving its control socket.
fn windowed(db: &TestDb, dir: &FlagFile) -> Config {
    let mut cfg = config(db, "t", "ADD COLUMN note VARCHAR(8) NULL, MODIFY s VARCHAR(100) CHARACTER SET utf8mb4 NULL");
    cfg.revert.window = Some(std::time::Duration::from_secs(600));
    cfg.control.serve_socket_file = Some(dir.path().with_extension("sock"));
    cfg
}

async fn send(cfg_socket: &std::path::Path, line: &str) -> Result<String> {
    Ok(wraith::send_command(Some(cfg_socket), None, line).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_revert_window_keeps_the_old_table_in_step_and_swaps_it_back_on_revert() -> Result<()> {
    let db = TestDb::new("revert_window").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let before = show_create(&db, "t").await?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    writers.wait_commits(20).await?;
    let base = FlagFile::new(&db, "window");
    let mut cfg = windowed(&db, &base);
    let socket = cfg.control.serve_socket_file.clone().unwrap();
    // A before-cut-over hook records its variables each time it runs: the migration's, then the swap back's.
    let hooks = base.path().with_extension("hooks");
    std::fs::create_dir_all(&hooks)?;
    let seen = hooks.join("seen");
    let hook = hooks.join("gh-ost-on-before-cut-over");
    std::fs::write(&hook, format!("#!/bin/sh\n(env | grep '^GH_OST_' | sort; echo ---) >> '{}'\n", seen.display()))?;
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    cfg.hooks.path = Some(hooks.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Revertible, PHASE_TIMEOUT).await?;
    assert!(show_create(&db, "t").await?.contains("`note`"), "the cut-over happened before the window");
    writers.wait_commits(100).await?;
    let status = send(&socket, "status").await?;
    assert_contains(&status, &["State: revertible until "]);
    let json: serde_json::Value = serde_json::from_str(&send(&socket, "status --json").await?)?;
    assert_eq!(json["phase"], "revertible", "{json}");
    assert!(json["revertible_until"].as_str().is_some_and(|t| t.ends_with('Z')), "{json}");
    assert_eq!(send(&socket, "revert").await?, "OK\n");
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    assert!(outcome.reverted && outcome.cut_over_locked_for.is_some(), "{outcome:?}");
    assert!(outcome.events_applied > 0, "the window replayed the writes made after the cut-over: {outcome:?}");
    writers.wait_commits(20).await?;
    writers.stop().await?;
    assert_eq!(show_create(&db, "t").await?, before, "the revert brings the original definition back");
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    assert_eq!(helper_tables(&db, "t").await?, vec!["_t_rev_del".to_string()]);
    let seen = std::fs::read_to_string(&seen)?;
    let runs: Vec<&str> = seen.split("---\n").filter(|r| !r.is_empty()).collect();
    assert_eq!(runs.len(), 2, "one before-cut-over each way: {seen}");
    assert_contains(
        runs[0],
        &["GH_OST_REVERT=false", "GH_OST_GHOST_TABLE_NAME=_t_gho", "GH_OST_OLD_TABLE_NAME=_t_del"],
    );
    assert_contains(
        runs[1],
        &["GH_OST_REVERT=true", "GH_OST_GHOST_TABLE_NAME=_t_del", "GH_OST_OLD_TABLE_NAME=_t_rev_del"],
    );
    std::fs::remove_dir_all(&hooks)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_revert_window_ends_on_no_revert_and_reverts_on_its_flag_file() -> Result<()> {
    let db = TestDb::new("revert_window_end").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let before = show_create(&db, "t").await?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    let base = FlagFile::new(&db, "window");
    let cfg = windowed(&db, &base);
    let socket = cfg.control.serve_socket_file.clone().unwrap();
    // `no-revert`: the window ends, the new schema stays, the old table is kept (no --ok-to-drop-table).
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Revertible, PHASE_TIMEOUT).await?;
    writers.wait_commits(50).await?;
    assert_eq!(send(&socket, "no-revert").await?, "OK\n");
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    assert!(!outcome.reverted && outcome.executed, "{outcome:?}");
    let migrated = show_create(&db, "t").await?;
    assert!(migrated.contains("`note`"), "{migrated}");
    assert_eq!(helper_tables(&db, "t").await?, vec!["_t_del".to_string()], "the old table is kept, nothing else");

    // Migrating back the same way: this time the flag file reverts.
    db.exec("DROP TABLE _t_del").await?;
    let flag = FlagFile::new(&db, "revert");
    let mut cfg = config(&db, "t", "DROP COLUMN note, MODIFY s VARCHAR(64) CHARACTER SET utf8mb4 NULL");
    cfg.revert.window = Some(std::time::Duration::from_secs(600));
    cfg.revert.flag_file = Some(flag.path().to_path_buf());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Revertible, PHASE_TIMEOUT).await?;
    assert_eq!(show_create(&db, "t").await?, before);
    writers.wait_commits(50).await?;
    flag.create()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    assert!(outcome.reverted, "{outcome:?}");
    writers.wait_commits(20).await?;
    writers.stop().await?;
    assert_eq!(show_create(&db, "t").await?, migrated, "reverted to the definition before the second migration");
    // `note` came back empty for rows inserted since (the second migration dropped it); the rest is exact.
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}
