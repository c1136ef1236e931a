//! The parallel copy (integer keys): non-locking chunk reads by several workers while writers change rows
//! all over the key range, including rows of chunks not yet claimed (their changes are dropped, the copy
//! reads them later) and of chunks in flight (their changes wait for the chunk).

mod common;
mod migrate_common;

use std::time::Duration;

use anyhow::Result;
use common::*;
use migrate_common::*;

const ALTER: &str = "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a', ADD INDEX n_idx (n)";

#[tokio::test(flavor = "multi_thread")]
async fn parallel_copy_under_writes_matches_the_control_table() -> Result<()> {
    let db = TestDb::new("parallel_copy").await?;
    let model = simple_tables(&db, 30_000).await?;
    let mut spec = WorkloadSpec::new(model, 30_000);
    spec.writers = 4;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;
    writers.wait_commits(100).await?;

    let mut cfg = config(&db, "t", ALTER);
    // Small chunks and many workers: many chunks in flight, many claims while the writers write.
    cfg.chunk_size = 10;
    cfg.copy_workers = 6;
    // Not a test of lag throttling: the replica (on the same machine) may fall behind these writers.
    cfg.max_lag = Duration::from_secs(60);
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    writers.wait_commits(200).await?;
    let report = writers.stop().await?;

    assert!(outcome.parallel_copy, "an INT primary key must get the parallel copy: {outcome:?}");
    // Writers ran during the whole copy over keys spread across the range: some hit rows not yet copied.
    assert!(outcome.changes_dropped > 0, "no change was dropped: the test did not exercise the frontier: {outcome:?}");
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!("{n} rows equal; {report:?}; {outcome:?}");
    Ok(())
}

/// The same with one worker: the frontier logic does not depend on there being several.
#[tokio::test(flavor = "multi_thread")]
async fn one_copy_worker_under_writes_matches_the_control_table() -> Result<()> {
    let db = TestDb::new("parallel_copy_one").await?;
    let model = simple_tables(&db, 10_000).await?;
    let mut spec = WorkloadSpec::new(model, 10_000);
    spec.writers = 3;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;
    writers.wait_commits(50).await?;

    let mut cfg = config(&db, "t", ALTER);
    cfg.chunk_size = 10;
    cfg.copy_workers = 1;
    cfg.max_lag = Duration::from_secs(60);
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    writers.wait_commits(100).await?;
    let report = writers.stop().await?;
    assert!(outcome.parallel_copy, "{outcome:?}");
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!("{n} rows equal; {report:?}; {outcome:?}");
    Ok(())
}
