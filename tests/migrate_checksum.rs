//! The verification before the cut-over (on by default), under concurrent writers: a clean migration
//! reports a verified pass with nothing to repair; rows changed behind wraith's back on the ghost table
//! while the cut-over is postponed are found and repaired before the cut-over; with repairs disabled the
//! run stops before the cut-over, naming the checksum and the first differing key, and the original table
//! keeps its schema and every write.

mod common;
mod migrate_common;

use anyhow::{bail, Result};
use common::*;
use migrate_common::*;
use mysql_async::prelude::Queryable;
use wraith::{Error, Phase};

const SEED_MAX: i64 = 3000;

/// Changes the ghost table directly, as a stray writer would: one row changed, one deleted, and one added
/// that the original lacks (a negative key no writer uses, so only a repair can remove it).
async fn tamper(db: &TestDb, ghost: &str) -> Result<()> {
    db.exec(format!(
        "UPDATE `{ghost}` SET n = n + 1 WHERE id = 1000;
         DELETE FROM `{ghost}` WHERE id = 2000;
         INSERT INTO `{ghost}` (id, n, s, ts, b) VALUES (-7, 7, 'stray', NULL, NULL)"
    ))
    .await
}

/// The run stopped on the verification itself (under the context that names what was left behind).
fn assert_checksum_error(err: &Error) {
    let root = match err {
        Error::Context { source, .. } => source.as_ref(),
        other => other,
    };
    assert!(matches!(root, Error::Checksum(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_migration_is_verified_and_needs_no_repair() -> Result<()> {
    let db = TestDb::new("checksum_clean").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    writers.wait_commits(20).await?;
    let cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NULL, MODIFY s VARCHAR(80) CHARACTER SET utf8mb4 NULL");
    let mut run = Running::start(cfg);
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    writers.stop().await?;
    let report = outcome.checksum.expect("the checksum is on by default");
    assert!(report.rows > 0 && report.chunks > 0, "{report:?}");
    assert_eq!(report.repaired, 0, "a correct copy needs no repair under concurrent writes: {report:?}");
    assert!(report.summary().starts_with("verified "), "{}", report.summary());
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn stray_changes_to_the_ghost_are_found_and_repaired_before_the_cut_over() -> Result<()> {
    let db = TestDb::new("checksum_repair").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NULL");
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    let ghost = run.names().ghost.clone();
    // Postponing comes after the first verified pass.
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    tamper(&db, &ghost).await?;
    writers.wait_commits(20).await?;
    postpone.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    writers.stop().await?;
    let report = outcome.checksum.expect("the checksum is on by default");
    assert!(report.repaired >= 1, "the stray row needed a repair: {report:?}");
    let stray: Vec<i64> = db.query("SELECT id FROM t WHERE id < 0").await?;
    assert!(stray.is_empty(), "the stray ghost row went into production: {stray:?}");
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_repairs_a_difference_stops_the_run_before_the_cut_over() -> Result<()> {
    let db = TestDb::new("checksum_no_repair").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let schema_before = show_create(&db, "t").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NULL");
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.checksum.max_repairs = 0;
    let mut run = Running::start(cfg);
    let ghost = run.names().ghost.clone();
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    tamper(&db, &ghost).await?;
    postpone.remove()?;
    let err = match run.finish(RUN_TIMEOUT).await? {
        Ok(o) => bail!("the run cut over onto a ghost that differs: {o:?}"),
        Err(e) => e,
    };
    writers.stop().await?;
    assert_checksum_error(&err);
    let msg = error_text(&err);
    assert_contains(
        &msg,
        &["checksum", "the ghost table differs from the original", "(id) = (-7)", "No cut-over was made", "untouched"],
    );
    assert_eq!(show_create(&db, "t").await?, schema_before, "the original table kept its schema");
    // What the message says to clean up.
    db.exec(format!("DROP TABLE `{ghost}`, `_t_ghc`")).await?;
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_blocked_by_a_long_transaction_stops_the_run_and_the_table_keeps_serving() -> Result<()> {
    let db = TestDb::new("checksum_blocked").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    db.exec("INSERT INTO t (id, n) VALUES (-5, 0)").await?;
    db.exec("INSERT INTO c (id, n) VALUES (-5, 0)").await?;
    let schema_before = show_create(&db, "t").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, SEED_MAX)).await?;
    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NULL");
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.cut_over.lock_timeout = std::time::Duration::from_secs(1);
    cfg.default_retries = 3;
    // Passes repeat at once while postponed: the second one meets the blocker.
    cfg.checksum.interval = std::time::Duration::from_secs(1);
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    let mut blocker = hold_lock_on_t(&db, -5).await?;
    let result = run.finish(RUN_TIMEOUT).await?;
    // The application's writes went on while the snapshot was tried and after it gave up.
    writers.wait_commits(20).await?;
    blocker.query_drop("COMMIT").await?;
    writers.stop().await?;
    let err = match result {
        Ok(o) => bail!("the run ended well although no snapshot could be taken: {o:?}"),
        Err(e) => e,
    };
    assert_checksum_error(&err);
    let msg = error_text(&err);
    assert_contains(
        &msg,
        &["no consistent snapshot after 3 attempts", "could not lock", "metadata_locks", "untouched"],
    );
    assert_eq!(show_create(&db, "t").await?, schema_before, "the original table kept its schema");
    let left = helper_tables(&db, "t").await?;
    for t in &left {
        assert_contains(&msg, &[t]);
    }
    db.exec(format!("DROP TABLE {}", left.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", "))).await?;
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}
