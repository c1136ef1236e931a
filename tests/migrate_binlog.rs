//! The binlog connection dies mid-run: the streamer reconnects from the last transaction it received in
//! full, and no change is lost or applied wrong.
//!
//! Only one test lives here on purpose: dump threads are identified as this process's (by client port), so
//! two migrations in this binary at once could not be told apart.

mod common;
mod migrate_common;

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use common::*;
use migrate_common::*;
use mysql_async::prelude::*;
use wraith::Phase;

const RECONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until this process has exactly one binlog dump thread on the primary, other than `not`.
async fn wait_dump_thread(db: &TestDb, not: Option<u64>) -> Result<u64> {
    let deadline = Instant::now() + RECONNECT_TIMEOUT;
    loop {
        let ids: Vec<u64> = own_dump_threads(db).await?.into_iter().filter(|id| Some(*id) != not).collect();
        ensure!(ids.len() <= 1, "more than one binlog dump thread of this process: {ids:?}");
        if let Some(id) = ids.first() {
            return Ok(*id);
        }
        ensure!(
            Instant::now() < deadline,
            "no binlog dump thread of the migration (other than {not:?}) within {RECONNECT_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn kill_on_primary(db: &TestDb, id: u64) -> Result<()> {
    db.primary_conn().await?.query_drop(format!("KILL {id}")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn binlog_connection_killed_mid_copy_and_while_postponed() -> Result<()> {
    let db = TestDb::new("binlog_killed").await?;
    let model = simple_tables(&db, 4000).await?;
    let throttle = FlagFile::new(&db, "throttle");
    let postpone = FlagFile::new(&db, "postpone");
    throttle.create()?;
    postpone.create()?;
    let writers = Workload::start(&db, WorkloadSpec::new(model, 4000)).await?;

    let mut cfg = config(&db, "t", "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a'");
    cfg.copy.chunk_size = 20;
    cfg.throttle.flag_file = Some(throttle.path.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let server_id = cfg.conn.replica_server_id;
    let mut run = Running::start(cfg);
    let ghost = run.names().ghost.clone();
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    let first = wait_dump_thread(&db, None).await?;
    // The binlog client registered with the configured server id.
    let replicas: Vec<mysql_async::Row> = db.primary_conn().await?.query("SHOW REPLICAS").await?;
    let ids: Vec<u32> = replicas.iter().filter_map(|r| r.get::<u32, _>(0)).collect();
    assert!(ids.contains(&server_id), "SHOW REPLICAS lists server ids {ids:?}, not {server_id}");
    writers.wait_commits(100).await?;

    // Mid-copy: let some chunks through, pause the copy, kill the stream, write while it reconnects.
    throttle.remove()?;
    wait_until("some rows copied", PHASE_TIMEOUT, || async { Ok(count_rows(&db, &ghost).await? >= 200) }).await?;
    throttle.create()?;
    let copied_at_kill = count_rows(&db, &ghost).await?;
    kill_on_primary(&db, first).await?;
    writers.wait_commits(200).await?;
    let second = wait_dump_thread(&db, Some(first)).await?;
    writers.wait_commits(200).await?;
    throttle.remove()?;

    // Copy done, cut-over postponed: kill it again.
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    kill_on_primary(&db, second).await?;
    writers.wait_commits(200).await?;
    let third = wait_dump_thread(&db, Some(second)).await?;
    writers.wait_commits(200).await?;

    postpone.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    writers.wait_commits(100).await?;
    let report = writers.stop().await?;
    let n =
        assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    eprintln!(
        "{n} rows equal; dump threads {first} -> {second} -> {third}; {copied_at_kill} rows copied at the first kill; \
         {report:?}; {outcome:?}"
    );
    Ok(())
}
