//! Flag files gh-ost runbooks rely on: `--throttle-flag-file` (the copy waits while it exists) and
//! `--panic-flag-file` (the migration aborts when it appears, leaving the original table as it was).

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

#[tokio::test(flavor = "multi_thread")]
async fn throttle_flag_file_holds_the_copy_until_removed() -> Result<()> {
    let db = TestDb::new("compat_throttle_flag").await?;
    numbers_table(&db, 2000).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let throttle = FlagFile::new(&db, "throttle");
    throttle.create()?;

    let mut cfg = compat_config(&db, ALTER, 424_301);
    cfg.throttle.flag_file = Some(throttle.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    // Three status refreshes (three seconds of the engine's clock) with the flag present: nothing copied.
    for _ in 0..3 {
        let p = run.tick().await?;
        assert_eq!(p.copied, 0, "rows copied while the throttle flag file exists: {:?}", p.line);
    }
    assert_eq!(count_rows(&db, "_t_gho").await?, 0, "the ghost table filled while throttled");
    assert_eq!(run.phase(), Phase::Migrating);

    throttle.remove()?;
    run.finish_ok(RUN_TIMEOUT).await?;
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    Ok(())
}

/// The throttle flag created mid-copy stops the copy where it is (and removing it lets it finish).
#[tokio::test(flavor = "multi_thread")]
async fn throttle_flag_file_created_mid_copy() -> Result<()> {
    let db = TestDb::new("compat_throttle_flag_mid").await?;
    numbers_table(&db, ROWS).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let throttle = FlagFile::new(&db, "throttle");

    let mut cfg = slow_config(&db, ALTER, 424_303);
    cfg.throttle.flag_file = Some(throttle.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    throttle.create()?;
    assert_copy_stalled(&mut run, &db, "_t_gho", ROWS).await?;
    throttle.remove()?;
    run.finish_ok(RUN_TIMEOUT).await?;
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn panic_flag_file_aborts_mid_copy() -> Result<()> {
    let db = TestDb::new("compat_panic_flag").await?;
    numbers_table(&db, ROWS).await?;
    let before = original(&db, "t").await?;
    let panic = FlagFile::new(&db, "panic");

    let mut cfg = slow_config(&db, ALTER, 424_302);
    cfg.control.panic_flag_file = Some(panic.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    panic.create()?;
    let err = run.finish_err(Duration::from_secs(30)).await.context("the panic flag must end the run promptly")?;
    assert_contains(&err, &["panic flag file", &panic.path.display().to_string()]);
    assert!(count_rows(&db, "_t_gho").await? < ROWS, "the panic came only after the copy: {err}");
    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    Ok(())
}

/// A panic flag file that exists at start: nothing is migrated.
#[tokio::test(flavor = "multi_thread")]
async fn panic_flag_file_present_at_start() -> Result<()> {
    let db = TestDb::new("compat_panic_flag_start").await?;
    numbers_table(&db, 500).await?;
    let before = original(&db, "t").await?;
    let panic = FlagFile::new(&db, "panic");
    panic.create()?;
    let mut cfg = compat_config(&db, ALTER, 424_304);
    cfg.control.panic_flag_file = Some(panic.path.clone());
    let (_, err) = run_expect_error(cfg).await?;
    assert_contains(&err, &["panic flag file"]);
    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    assert!(!helper_tables(&db, "t").await?.contains(&"_t_del".to_string()));
    Ok(())
}
