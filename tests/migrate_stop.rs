//! When a run ends early, everything it started ends with it. A run that fails mid-copy (here: the panic flag
//! file) or is interrupted (`Migrator::run_until`'s shutdown future) returns only once no task of it writes
//! to the ghost table any more: the ghost table, left behind for the operator, keeps its row count.
//!
//! (Before, the copier kept copying after the run had returned its error.)

mod common;
mod compat_common;
mod migrate_common;

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use tokio::sync::oneshot;
use wraith::Phase;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";
/// With `slow_config` (10-row chunks, nice-ratio 2) the copy of these takes many seconds.
const ROWS: u64 = 20_000;
/// Bound on the run returning once it is told to stop.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// `SELECT COUNT(*)` of the ghost table on the primary; an error if it does not exist (an early end leaves
/// it behind for the operator).
async fn ghost_rows(db: &TestDb, ghost: &str) -> Result<u64> {
    let n: Vec<u64> = db.query(format!("SELECT COUNT(*) FROM `{ghost}`")).await?;
    n.first().copied().context("COUNT(*) returned no row")
}

/// Called once the run has returned: the ghost table holds at least the rows the run reported copied before
/// it was stopped, not all of them (the copy really was stopped mid-way), and its count does not move.
async fn assert_no_writer_behind(db: &TestDb, ghost: &str, reported_copied: u64) -> Result<()> {
    let first = ghost_rows(db, ghost).await?;
    assert!(
        first >= reported_copied && first < ROWS,
        "the ghost table {ghost} has {first} rows; the run reported {reported_copied} copied before it was \
         stopped, and the copy of {ROWS} rows was expected to be stopped mid-way"
    );
    // The one place in these tests where a bounded observation window is the point of the test: "nothing
    // writes to the ghost table any more" is a claim about the time after the run returned, and there is no
    // event to wait for that would prove it. A copier left running writes a 10-row chunk every few
    // milliseconds (hundreds of rows a second), so three seconds show it many times over.
    let mut counts = vec![first];
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        counts.push(ghost_rows(db, ghost).await?);
    }
    assert!(
        counts.iter().all(|&n| n == first),
        "the ghost table {ghost} was still written after the run returned; its row count every 0.5 s: {counts:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_run_leaves_no_writer_behind() -> Result<()> {
    let db = TestDb::new("stop_failed_run").await?;
    numbers_table(&db, ROWS).await?;
    let before = original(&db, "t").await?;
    let panic = FlagFile::new(&db, "panic");

    let mut cfg = slow_config(&db, ALTER, 424_501);
    cfg.control.panic_flag_file = Some(panic.path.clone());
    let mut run = Run::start(cfg);
    let ghost = run.names().ghost.clone();
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    let copying = run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    panic.create()?;
    let err = run.finish_err(STOP_TIMEOUT).await.context("the panic flag must end the run promptly")?;
    assert_contains(&err, &["panic flag file", &panic.path.display().to_string()]);

    assert_no_writer_behind(&db, &ghost, copying.copied).await?;
    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_run_leaves_no_writer_behind() -> Result<()> {
    let db = TestDb::new("stop_interrupted_run").await?;
    numbers_table(&db, ROWS).await?;
    let before = original(&db, "t").await?;

    let cfg = slow_config(&db, ALTER, 424_502);
    let (stop, stopped) = oneshot::channel::<()>();
    let mut run = Run::start_until(cfg, async move {
        let _ = stopped.await;
    });
    let ghost = run.names().ghost.clone();
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    let copying = run.tick_until("rows copied", PHASE_TIMEOUT, |p| p.copied > 0).await?;
    stop.send(()).map_err(|_| anyhow!("the run dropped its shutdown future before it was fired"))?;
    match run.finish(STOP_TIMEOUT).await.context("the shutdown future must end the run promptly")? {
        Err(wraith::Error::Interrupted { phase }) => {
            assert_eq!(phase, Phase::Migrating, "interrupted mid-copy; phases {:?}", run.seen)
        }
        Err(e) => bail!("expected Error::Interrupted, the run failed with: {}", error_text(&e)),
        Ok(o) => bail!("expected Error::Interrupted, the run succeeded: {o:?}"),
    }

    assert_no_writer_behind(&db, &ghost, copying.copied).await?;
    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    Ok(())
}
