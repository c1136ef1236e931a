//! Unique values that move between rows while the table is copied (a `position` or `rank` column
//! reshuffled by the application): the ghost keeps the unique key, so a chunk can read a value that another
//! ghost row still holds because the applier has not written that row's change yet. wraith must tell that
//! race from a real duplicate: the migration finishes, and the table equals the control table.
//!
//! Both copies are covered: the parallel one (integer key) and the serial, locking one (a string key).

mod common;
mod migrate_common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::*;
use migrate_common::*;
use mysql_async::prelude::*;

const ROWS: u64 = 6000;

/// `t` and its control copy `c`: key `id` (`key_type`, from `key_expr` over 1..=ROWS), a unique `u` = the row
/// number, and padding.
async fn tables(db: &TestDb, key_type: &str, key_expr: &str) -> Result<()> {
    db.exec(format!(
        "CREATE TABLE t (id {key_type} NOT NULL PRIMARY KEY, u INT NOT NULL, pad VARCHAR(40) NOT NULL,
                         UNIQUE KEY uu (u));
         SET SESSION cte_max_recursion_depth = {};
         INSERT INTO t (id, u, pad)
           WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {ROWS})
           SELECT {key_expr}, i, CONCAT('pad ', i) FROM seq;
         CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t",
        ROWS + 10
    ))
    .await?;
    db.wait_replica_caught_up().await
}

/// Writers that swap the `u` of two random rows, in `t` and `c` in one transaction (through a temporary
/// negative value, as the unique key is checked row by row). Deadlocks and lock waits are retried as an
/// application would.
struct Swappers {
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<Result<()>>>,
}

impl Swappers {
    async fn start(db: &TestDb, key_expr: &'static str, writers: u64) -> Result<Swappers> {
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..writers {
            let mut conn = db.primary_conn().await?;
            let (stop, swaps) = (stop.clone(), swaps.clone());
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng::new(0x5eed_0000 + w);
                while !stop.load(Ordering::Relaxed) {
                    let (a, b) = (1 + rng.below(ROWS), 1 + rng.below(ROWS));
                    if a == b {
                        continue;
                    }
                    let key = |i: u64| key_expr.replace('i', &i.to_string());
                    let mut sql = String::from("START TRANSACTION;");
                    for table in ["t", "c"] {
                        let (ka, kb) = (key(a), key(b));
                        sql.push_str(&format!(
                            "SELECT u INTO @ua FROM {table} WHERE id = {ka} FOR UPDATE;
                             SELECT u INTO @ub FROM {table} WHERE id = {kb} FOR UPDATE;
                             UPDATE {table} SET u = -{a} WHERE id = {ka};
                             UPDATE {table} SET u = @ua WHERE id = {kb};
                             UPDATE {table} SET u = @ub WHERE id = {ka};"
                        ));
                    }
                    sql.push_str("COMMIT");
                    match conn.query_drop(&sql).await {
                        Ok(()) => {
                            swaps.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mysql_async::Error::Server(e)) if matches!(e.code, 1205 | 1213) => {
                            conn.query_drop("ROLLBACK").await?;
                        }
                        Err(e) => return Err(e).context("swapping unique values"),
                    }
                }
                Ok(())
            }));
        }
        Ok(Swappers { stop, swaps, tasks })
    }

    async fn wait_swaps(&self, n: u64) -> Result<()> {
        let target = self.swaps.load(Ordering::Relaxed) + n;
        let swaps = self.swaps.clone();
        wait_until(&format!("{n} more swaps"), COMMIT_TIMEOUT, || {
            let done = swaps.load(Ordering::Relaxed) >= target;
            async move { Ok(done) }
        })
        .await
    }

    async fn stop(self) -> Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            within("stopping a swapper", Duration::from_secs(60), async { t.await.context("swapper task")? }).await?;
        }
        Ok(self.swaps.load(Ordering::Relaxed))
    }
}

async fn migrate_while_swapping(name: &str, key_type: &str, key_expr: &'static str, parallel: bool) -> Result<()> {
    let db = TestDb::new(name).await?;
    tables(&db, key_type, key_expr).await?;
    let swappers = Swappers::start(&db, key_expr, 3).await?;
    swappers.wait_swaps(50).await?;
    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NOT NULL DEFAULT 'x'");
    cfg.copy.chunk_size = 100;
    let mut run = Running::start(cfg);
    let outcome = run.finish(RUN_TIMEOUT).await?;
    let swaps = swappers.stop().await?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => bail!("the migration failed while unique values moved ({swaps} swaps): {}", error_text(&e)),
    };
    assert_eq!(outcome.parallel_copy, parallel, "which copy ran");
    let unique: Vec<u64> = db.query("SELECT COUNT(*) FROM t GROUP BY u HAVING COUNT(*) > 1").await?;
    assert!(unique.is_empty(), "duplicate u after the migration");
    assert_matches_control(&db, "id, u, pad", "id, u, pad").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unique_values_moving_during_the_parallel_copy() -> Result<()> {
    migrate_while_swapping("unique_moves_parallel", "BIGINT", "i", true).await
}

#[tokio::test(flavor = "multi_thread")]
async fn unique_values_moving_during_the_parallel_copy_of_a_string_key() -> Result<()> {
    migrate_while_swapping("unique_moves_string", "VARCHAR(12)", "LPAD(i, 8, '0')", true).await
}

/// A DECIMAL key has no order the parallel copy computes: the serial, locking copy takes it.
#[tokio::test(flavor = "multi_thread")]
async fn unique_values_moving_during_the_serial_copy() -> Result<()> {
    migrate_while_swapping("unique_moves_serial", "DECIMAL(20,0)", "i", false).await
}

/// The binlog apply far behind the copy. A lock on a ghost row holds the applier while the application
/// gives row 2 the value -1, takes it back (-2), and gives -1 to the last row, which the copy then reads in
/// that later state. Replayed one change at a time (--dml-batch-size=1), the first change puts -1 back on
/// row 2 while the ghost's last row already holds it: a duplicate that the changes after it resolve, so the
/// applier must take them in before it calls the duplicate real. The migration finishes and the table
/// equals the control table.
#[tokio::test(flavor = "multi_thread")]
async fn a_unique_value_moved_while_the_applier_lags_behind_the_copy() -> Result<()> {
    const LAST: u64 = 40_000;
    let db = TestDb::new("unique_applier_lags").await?;
    db.exec(format!(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, u INT NOT NULL, pad VARCHAR(40) NOT NULL, UNIQUE KEY uu (u));
         SET SESSION cte_max_recursion_depth = {};
         INSERT INTO t (id, u, pad)
           WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {LAST})
           SELECT i, i, CONCAT('pad ', i) FROM seq;
         CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t",
        LAST + 10
    ))
    .await?;
    db.wait_replica_caught_up().await?;
    let throttle = FlagFile::new(&db, "throttle");
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(8) NOT NULL DEFAULT 'x'");
    cfg.copy.chunk_size = 100;
    cfg.copy.dml_batch_size = 1;
    cfg.throttle.nice_ratio = 1.0;
    cfg.throttle.flag_file = Some(throttle.path().to_path_buf());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    let ghost = run.names().ghost.clone();
    let count = |sql: String| {
        let db = &db;
        async move { Ok::<_, anyhow::Error>(db.query::<u64>(sql).await.unwrap_or_default().first().copied()) }
    };
    // The first rows copied, then the copy held before it reaches the last row.
    wait_until("the copy under way", PHASE_TIMEOUT, || {
        let n = count(format!("SELECT COUNT(*) FROM `{ghost}`"));
        async move { Ok(n.await?.unwrap_or(0) >= 300) }
    })
    .await?;
    throttle.create()?;
    let mut lock = db.primary_conn().await?;
    lock.query_drop(format!("START TRANSACTION; SELECT id FROM `{ghost}` WHERE id = 1 FOR UPDATE")).await?;
    for table in ["t", "c"] {
        db.exec(format!(
            "UPDATE {table} SET pad = 'held' WHERE id = 1;
             UPDATE {table} SET u = -1 WHERE id = 2;
             UPDATE {table} SET u = -2 WHERE id = 2;
             UPDATE {table} SET u = -1 WHERE id = {LAST}"
        ))
        .await?;
    }
    let copied_before_last: Vec<u64> = db.query(format!("SELECT COUNT(*) FROM `{ghost}` WHERE id = {LAST}")).await?;
    assert_eq!(copied_before_last, vec![0], "the copy reached the last row before the changes: nothing is tested");
    throttle.remove()?;
    wait_until("the copy reading the last row in its later state", RUN_TIMEOUT, || {
        let n = count(format!("SELECT COUNT(*) FROM `{ghost}` WHERE id = {LAST} AND u = -1"));
        async move { Ok(n.await? == Some(1)) }
    })
    .await?;
    lock.query_drop("COMMIT").await?;
    postpone.remove()?;
    let outcome = run.finish(RUN_TIMEOUT).await?;
    if let Err(e) = outcome {
        bail!("the migration failed on a duplicate that later changes resolve: {}", error_text(&e));
    }
    assert_matches_control(&db, "id, u, pad", "id, u, pad").await?;
    Ok(())
}
