//! The parallel copy: non-locking chunk reads by several workers while writers change rows all over the key
//! range, including rows of chunks not yet claimed (their changes are dropped, the copy reads them later)
//! and of chunks in flight (their changes wait for the chunk). Integer keys, string keys in collations
//! whose order is not their bytes' (PAD SPACE, accent- and case-insensitive, latin1) and composite keys.
//! The ALTERs add plain indexes, so the deferred secondary indexes are built after the copy under the same
//! writes.

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
    // The ALTER's new plain index is left off during the copy and built after it, under the same writes.
    assert_eq!(outcome.deferred_indexes, ["n_idx"], "{outcome:?}");
    assert!(outcome.indexes_built_in.is_some(), "{outcome:?}");
    assert!(show_create(&db, "t").await?.contains("  KEY `n_idx` (`n`)"), "the index is on the migrated table");
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

/// Deferred secondary indexes come back exactly as the ALTER defines them: prefix, descending, invisible
/// and commented keys, in their order, beside a unique key that stays on the ghost during the copy; the
/// migrated table's definition equals the ALTER run on an empty copy of the original.
#[tokio::test(flavor = "multi_thread")]
async fn deferred_indexes_come_back_as_the_alter_defines_them() -> Result<()> {
    let db = TestDb::new("deferred_indexes").await?;
    let model = simple_tables(&db, 6_000).await?;
    db.exec("ALTER TABLE t ADD KEY ks (s(10)), ADD UNIQUE KEY un (n, id), ADD KEY kts (ts) COMMENT 'old' INVISIBLE")
        .await?;
    let alter = "ADD KEY kb (b, n), DROP KEY kts, ADD KEY kts2 (ts DESC) COMMENT 'new', ADD COLUMN z INT NULL";
    db.exec(format!("CREATE TABLE e LIKE t; ALTER TABLE e {alter}")).await?;
    let mut spec = WorkloadSpec::new(model, 6_000);
    spec.writers = 3;
    spec.pause = Duration::from_millis(5);
    let load = Workload::start(&db, spec).await?;
    load.wait_commits(50).await?;
    let mut cfg = config_on_primary(&db, "t", alter);
    cfg.topology.allow_on_master = true;
    cfg.copy.chunk_size = 100;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    load.wait_commits(50).await?;
    load.stop().await?;
    assert_eq!(outcome.deferred_indexes, ["ks", "kb", "kts2"], "{outcome:?}");
    let definition = |create: String| create.split_once('\n').map(|(_, body)| body.to_string()).unwrap_or_default();
    assert_eq!(definition(show_create(&db, "t").await?), definition(show_create(&db, "e").await?));
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;
    Ok(())
}

/// Migrates a table whose primary key is `pk` over `code` in `charset` and `collation` while writers
/// write (the writers find rows by the unique `id`, and key moves change `code` with it), and compares it
/// with the control table.
async fn migrate_string_key(name: &str, charset: &str, collation: &str, pk: &str) -> Result<Outcome> {
    const SEED_MAX: i64 = 16_000;
    let db = TestDb::new(name).await?;
    let model = string_key_tables(&db, charset, collation, pk, SEED_MAX).await?;
    let mut spec = WorkloadSpec::new(model, SEED_MAX);
    spec.writers = 4;
    spec.pause = Duration::from_millis(5);
    let load = Workload::start(&db, spec).await?;
    load.wait_commits(50).await?;
    let mut cfg = config_on_primary(&db, "t", "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a'");
    cfg.topology.allow_on_master = true;
    cfg.copy.chunk_size = 10;
    cfg.copy.copy_workers = 4;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    load.wait_commits(100).await?;
    let report = load.stop().await?;
    assert!(outcome.parallel_copy, "a NOT NULL {collation} key must get the parallel copy: {outcome:?}");
    let columns = STRING_KEY_COLUMNS;
    let n = assert_matches_control(&db, &format!("{columns}, note"), &format!("{columns}, 'n/a'")).await?;
    // Byte for byte too: the comparison above is by value, and the collation equates some values.
    let hex = "id, HEX(code), HEX(s)";
    let n_hex = assert_queries_equal(
        db.primary(),
        &format!("SELECT {hex} FROM t ORDER BY id"),
        db.primary(),
        &format!("SELECT {hex} FROM c ORDER BY id"),
    )
    .await?;
    assert_eq!(n, n_hex);
    eprintln!("{n} rows equal; {report:?}; {outcome:?}");
    assert!(outcome.changes_dropped > 0, "no change was dropped: the test did not exercise the frontier: {outcome:?}");
    Ok(outcome)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_string_key_in_a_pad_space_collation_gets_the_parallel_copy() -> Result<()> {
    migrate_string_key("parallel_pad_space", "utf8mb4", "utf8mb4_general_ci", "code").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_string_key_in_an_accent_insensitive_no_pad_collation_gets_the_parallel_copy() -> Result<()> {
    migrate_string_key("parallel_no_pad", "utf8mb4", "utf8mb4_0900_ai_ci", "code").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_composite_key_of_an_integer_and_a_latin1_string_gets_the_parallel_copy() -> Result<()> {
    migrate_string_key("parallel_composite", "latin1", "latin1_swedish_ci", "grp, code").await?;
    Ok(())
}
