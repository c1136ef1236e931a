//! The cut-over: under a heavy write load, blocked by a long transaction (and retried), and given up.

mod common;
mod migrate_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use common::*;
use migrate_common::*;
use mysql_async::prelude::*;
use wraith::Phase;

const ALTER: &str = "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a'";

/// Connection ids of the cut-over's `LOCK TABLES` on `t`, as seen now in the primary's processlist.
async fn lock_attempts(db: &TestDb) -> Result<Vec<u64>> {
    let pattern = format!("LOCK TABLES `{}`.`t` WRITE%", db.name());
    let mut conn = db.primary_conn().await?;
    Ok(conn.exec("SELECT ID FROM performance_schema.processlist WHERE INFO LIKE ?", (pattern,)).await?)
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_over_while_writers_are_writing() -> Result<()> {
    let db = TestDb::new("cutover_under_writes").await?;
    let model = simple_tables(&db, 3000).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut spec = WorkloadSpec::new(model, 3000);
    // Many writers right through the cut-over, paced so the replica keeps up (a lagging replica rightly
    // holds the copy and the cut-over back, which is not what this test is about).
    spec.writers = 6;
    spec.pause = Duration::from_millis(5);
    let writers = Workload::start(&db, spec).await?;

    let mut cfg = config(&db, "t", ALTER);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    writers.wait_commits(300).await?;
    postpone.remove()?;
    let before_cut_over = writers.commits();
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    let at_cut_over = writers.commits();
    writers.wait_commits(300).await?;
    let report = writers.stop().await?;

    let create = show_create(&db, "t").await?;
    assert!(create.contains("`note` varchar(10) NOT NULL DEFAULT 'n/a'"), "t after the cut-over:\n{create}");
    assert!(!show_create(&db, "_t_del").await?.contains("`note`"), "the old table keeps the old schema");
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!(
        "{n} rows equal; {} commits during the cut-over, {report:?}; locked for {:?}",
        at_cut_over - before_cut_over,
        outcome.cut_over_locked_for
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn blocked_cut_over_retries_while_the_table_keeps_serving() -> Result<()> {
    let db = TestDb::new("cutover_blocked").await?;
    let model = simple_tables(&db, 2000).await?;
    // A row no writer touches (they use keys >= 1), for the long transaction to lock.
    db.exec("INSERT INTO t (id, n) VALUES (-5, 0); INSERT INTO c (id, n) VALUES (-5, 0)").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut spec = WorkloadSpec::new(model, 2000);
    spec.writers = 3;
    let writers = Workload::start(&db, spec).await?;

    let mut cfg = config(&db, "t", ALTER);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.cut_over.lock_timeout = Duration::from_secs(1);
    cfg.default_retries = 60;
    // The cut-over's retries are under test: the verification, which would meet the blocker first (its
    // snapshot lock, retried the same way), is off.
    cfg.checksum.enabled = false;
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;

    let mut blocker = hold_lock_on_t(&db, -5).await?;
    postpone.remove()?;
    // Each attempt is a new connection waiting in LOCK TABLES: two ids mean one attempt failed and was retried.
    let mut attempts = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while attempts.len() < 2 {
        anyhow::ensure!(Instant::now() < deadline, "no second cut-over attempt within 60 s; seen {attempts:?}");
        attempts.extend(lock_attempts(&db).await?);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The original table serves reads and writes meanwhile (a write may wait for the current attempt to
    // time out, 1 s, not longer).
    within("writing the original table during the cut-over retries", Duration::from_secs(20), async {
        db.exec(
            "START TRANSACTION; INSERT INTO t (id, n, s) VALUES (-6, 1, 'during retries');
             INSERT INTO c (id, n, s) VALUES (-6, 1, 'during retries'); COMMIT",
        )
        .await
    })
    .await?;
    let during: Vec<(i64, String)> = db.query("SELECT id, s FROM t WHERE id = -6").await?;
    assert_eq!(during, vec![(-6, "during retries".to_string())]);
    assert!(!show_create(&db, "t").await?.contains("`note`"), "t was cut over while blocked");
    assert!(!tables(&db).await?.contains(&"_t_del".to_string()));
    assert!(
        !run.is_finished(),
        "the migration ended while the cut-over was blocked: {:?}",
        run.finish(Duration::from_secs(1)).await?.map(|_| ()).map_err(|e| error_text(&e))
    );

    // The long transaction ends: the next attempt succeeds.
    blocker.query_drop("COMMIT").await?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    writers.wait_commits(100).await?;
    writers.stop().await?;
    assert!(show_create(&db, "t").await?.contains("`note` varchar(10)"));
    assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!("cut-over attempts seen waiting: {attempts:?}; {outcome:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cut_over_gives_up_and_leaves_the_original_table() -> Result<()> {
    let db = TestDb::new("cutover_gives_up").await?;
    simple_tables(&db, 400).await?;
    db.exec("INSERT INTO t (id, n) VALUES (-5, 0)").await?;
    let before = snapshot(&db, "t", "id").await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = config(&db, "t", ALTER);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.cut_over.lock_timeout = Duration::from_secs(1);
    cfg.default_retries = 2;
    // The cut-over's own lock is under test: the verification, which would meet the same blocker first
    // (its snapshot lock), is off.
    cfg.checksum.enabled = false;
    let mut run = Running::start(cfg);
    // Copy done (the long transaction would block the copy's shared locks too), then the blocker.
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    let mut blocker = hold_lock_on_t(&db, -5).await?;
    postpone.remove()?;
    let result = run.finish(RUN_TIMEOUT).await?;
    blocker.query_drop("COMMIT").await?;
    let msg = match result {
        Ok(o) => anyhow::bail!("the cut-over succeeded despite the long transaction: {o:?}"),
        Err(e) => error_text(&e),
    };
    assert_contains(
        &msg,
        &["cut-over attempt failed: could not lock", &format!("the original table {}.t is untouched", db.name())],
    );
    let after = snapshot(&db, "t", "id").await?;
    assert_eq!((&after.create, after.checksum), (&before.create, before.checksum), "the original table changed");
    // What the message says is left behind, is; no old table, since nothing was renamed.
    let left = helper_tables(&db, "t").await?;
    assert!(left.contains(&"_t_gho".to_string()) && !left.contains(&"_t_del".to_string()), "left behind: {left:?}");
    for t in &left {
        assert_contains(&msg, &[t]);
    }
    // The ghost table is complete and in sync: it has every row of the original.
    assert_tables_equal(db.primary(), "t", db.primary(), "_t_gho", SIMPLE_COLUMNS, "id").await.context("ghost vs t")?;
    Ok(())
}
