//! The parallel copy (integer keys): non-locking chunk reads by several workers while writers change rows
//! all over the key range, including rows of chunks not yet claimed (their changes are dropped, the copy
//! reads them later) and of chunks in flight (their changes wait for the chunk).

mod common;
mod migrate_common;

use std::time::Duration;

use anyhow::Result;
use common::*;
use migrate_common::*;
use wraith::Outcome;

const ALTER: &str = "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a', ADD INDEX n_idx (n)";

/// Migrates `t` (seeded up to `seed_max`) with 10-row chunks and `workers` copy connections while
/// `writers` write, then compares it with the control table.
async fn migrate_under_writes(name: &str, seed_max: i64, writers: usize, workers: usize) -> Result<Outcome> {
    let db = TestDb::new(name).await?;
    let model = simple_tables(&db, seed_max).await?;
    let mut spec = WorkloadSpec::new(model, seed_max);
    spec.writers = writers;
    spec.pause = Duration::from_millis(5);
    let load = Workload::start(&db, spec).await?;
    load.wait_commits(50).await?;

    // Inspecting the primary: this is a test of the frontier, not of lag throttling. Inspecting the replica,
    // a run slowed past the lag limit by a loaded machine can meet a replica these unthrottled writers keep
    // behind, and wraith rightly holds the copy and the cut-over, up to the test's timeout (the likely cause
    // of this test's rare timeouts; lag throttling has its own tests in faults_server).
    let mut cfg = config_on_primary(&db, "t", ALTER);
    cfg.topology.allow_on_master = true;
    // Small chunks: many claims while the writers write.
    cfg.copy.chunk_size = 10;
    cfg.copy.copy_workers = workers;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    load.wait_commits(100).await?;
    let report = load.stop().await?;
    assert!(outcome.parallel_copy, "an INT primary key must get the parallel copy: {outcome:?}");
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!("{n} rows equal; {report:?}; {outcome:?}");
    Ok(outcome)
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_copy_under_writes_matches_the_control_table() -> Result<()> {
    let outcome = migrate_under_writes("parallel_copy", 30_000, 4, 6).await?;
    // Writers ran during the whole copy over keys spread across the range: some hit rows not yet copied.
    assert!(outcome.changes_dropped > 0, "no change was dropped: the test did not exercise the frontier: {outcome:?}");
    Ok(())
}

/// The same with one worker: the frontier logic does not depend on there being several.
#[tokio::test(flavor = "multi_thread")]
async fn one_copy_worker_under_writes_matches_the_control_table() -> Result<()> {
    migrate_under_writes("parallel_copy_one", 10_000, 3, 1).await?;
    Ok(())
}
