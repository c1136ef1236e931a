//! `--test-on-replica`: the whole migration runs on the replica, replication is stopped before the cut-over,
//! the tables are swapped and swapped back, and both are left there for comparison.
//!
//! This stops the sandbox's replication, which every other test needs. Two things keep that from breaking
//! them:
//! - this file holds ONE test: cargo runs test binaries one after another (tests of one binary in
//!   parallel), so while it runs no other test of this suite runs;
//! - a guard restarts replication when the test ends, however it ends (panic included), and the test itself
//!   restarts it as soon as the replica-side checks are done and waits until the replica has caught up.

mod common;
mod compat_common;
mod migrate_common;

use std::time::Duration;

use anyhow::Result;
use common::*;
use compat_common::*;
use migrate_common::*;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 3";

#[tokio::test(flavor = "multi_thread")]
async fn test_on_replica_leaves_both_tables_on_the_stopped_replica() -> Result<()> {
    assert_eq!(replication_running().await?, (true, true), "replication must be running at the start");
    let db = TestDb::new("compat_test_on_replica").await?;
    let model = simple_tables(&db, 4000).await?;
    // Application writes on the primary during the migration: they reach the replica's `t` by replication
    // and the ghost table through the replica's binlog.
    let mut spec = WorkloadSpec::new(model, 4000);
    spec.writers = 2;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;

    let _restart = ReplicationGuard;
    let mut cfg = config(&db, "t", ALTER);
    cfg.conn.replica_server_id = 424_401;
    cfg.topology.test_on_replica = true;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    assert!(outcome.left_behind.iter().any(|t| t.ends_with("._t_gho")), "{outcome:?}");

    // On the replica: replication stopped, `t` unchanged in schema, `_t_gho` migrated with the same rows.
    assert_eq!(replication_running().await?, (false, false), "replication must be left stopped");
    let mut replica = db.replica_conn().await?;
    let replica_tables: Vec<String> = {
        use mysql_async::prelude::Queryable;
        replica
            .exec(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
                (db.name(),),
            )
            .await?
    };
    assert!(
        replica_tables.contains(&"t".to_string()) && replica_tables.contains(&"_t_gho".to_string()),
        "tables on the replica: {replica_tables:?}"
    );
    let columns = |table: &str| {
        format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' \
             ORDER BY ORDINAL_POSITION",
            db.name()
        )
    };
    let t_cols: Vec<String> = db.query_replica(columns("t")).await?;
    let g_cols: Vec<String> = db.query_replica(columns("_t_gho")).await?;
    assert_eq!(t_cols, ["id", "n", "s", "ts", "b"], "t on the replica");
    assert_eq!(g_cols, ["id", "n", "s", "ts", "b", "x"], "_t_gho on the replica");
    let rows = assert_queries_equal(
        db.replica(),
        &format!("SELECT {SIMPLE_COLUMNS} FROM t ORDER BY id"),
        db.replica(),
        &format!("SELECT {SIMPLE_COLUMNS} FROM _t_gho ORDER BY id"),
    )
    .await?;
    assert!(rows > 1000, "{rows} rows compared");
    let defaults: Vec<u64> = db.query_replica("SELECT COUNT(*) FROM _t_gho WHERE x <> 3").await?;
    assert_eq!(defaults, vec![0]);

    // Back to normal as soon as possible.
    start_replica().await?;
    // The receiver thread is CONNECTING for a moment before it is ON.
    wait_until("replication running again", REPLICA_TIMEOUT, || async {
        Ok(replication_running().await? == (true, true))
    })
    .await?;

    // The primary was never touched by the migration: old schema, no helper tables, exactly the
    // application's writes (the control table `c` got the same ones).
    let report = writers.stop().await?;
    assert!(report.commits > 0);
    assert!(!has_column(&db, "t", "x").await?, "the primary's table changed");
    assert_eq!(helper_tables(&db, "t").await?, Vec::<String>::new(), "helper tables on the primary");
    assert_queries_equal(
        db.primary(),
        &format!("SELECT {SIMPLE_COLUMNS} FROM t ORDER BY id"),
        db.primary(),
        &format!("SELECT {SIMPLE_COLUMNS} FROM c ORDER BY id"),
    )
    .await?;
    // And the restarted replica catches up with everything written meanwhile.
    db.wait_replica_caught_up().await?;
    assert_tables_equal(db.primary(), "t", db.replica(), "t", SIMPLE_COLUMNS, "id").await?;
    Ok(())
}
