//! `wraith plan` against the sandbox, through the real binary: a table where every finding fires and tables
//! where none does (INSTANT, INPLACE and copy strategies), `--format json` parses, exit codes 0/1/2, and that
//! nothing changed afterwards: each table's definition and checksum (on the primary and the replica) and no
//! `_<t>_gpl` clone left.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use common::*;
use mysql_async::prelude::*;

const WRAITH: &str = env!("CARGO_BIN_EXE_wraith");
const LIMIT: Duration = Duration::from_secs(60);

/// Runs `wraith plan` on `table` of `db` (the replica inspected, as a DBA would); returns (exit code, stdout, stderr).
async fn plan(db: &TestDb, table: &str, alter: &str, extra: &[&str]) -> Result<(i32, String, String)> {
    let s = settings();
    let mut args: Vec<String> = vec![
        "plan".into(),
        format!("--host={}", s.replica_host),
        format!("--port={}", s.replica_port),
        format!("--user={}", s.user),
        format!("--database={}", db.name()),
        format!("--table={table}"),
        format!("--alter={alter}"),
        "--write-sample=100ms".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    run(&args).await
}

async fn run(args: &[String]) -> Result<(i32, String, String)> {
    let mut cmd = tokio::process::Command::new(WRAITH);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    let out = match tokio::time::timeout(LIMIT, cmd.output()).await {
        Ok(o) => o.context("running wraith plan")?,
        Err(_) => bail!("`wraith {}` did not exit within {LIMIT:?}", args.join(" ")),
    };
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn json(stdout: &str) -> Result<serde_json::Value> {
    serde_json::from_str(stdout).with_context(|| format!("the plan is not one JSON object:\n{stdout}"))
}

fn codes(plan: &serde_json::Value) -> BTreeSet<String> {
    plan["findings"].as_array().into_iter().flatten().filter_map(|f| f["code"].as_str().map(String::from)).collect()
}

fn severities(plan: &serde_json::Value) -> BTreeSet<String> {
    plan["findings"].as_array().into_iter().flatten().filter_map(|f| f["severity"].as_str().map(String::from)).collect()
}

/// What must not change: every table's definition and a checksum of its rows, on both servers.
async fn state(db: &TestDb) -> Result<Vec<(String, String, String)>> {
    db.wait_replica_caught_up().await?;
    let mut out = Vec::new();
    for pool in [db.primary(), db.replica()] {
        let mut conn = pool.get_conn().await?;
        let tables: Vec<String> = conn
            .query(format!(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY TABLE_NAME",
                db.name()
            ))
            .await?;
        for t in tables {
            let create: Option<(String, String)> = conn.query_first(format!("SHOW CREATE TABLE `{t}`")).await?;
            let sum: Option<(String, Option<String>)> =
                conn.query_first(format!("CHECKSUM TABLE `{t}` EXTENDED")).await?;
            out.push((t, create.map(|c| c.1).unwrap_or_default(), format!("{:?}", sum.map(|s| s.1))));
        }
    }
    Ok(out)
}

async fn assert_unchanged(db: &TestDb, before: &[(String, String, String)]) -> Result<()> {
    let after = state(db).await?;
    assert_eq!(after, before, "wraith plan changed a table (or left one behind)");
    assert!(!after.iter().any(|(t, _, _)| t.ends_with("_gpl")), "a clone is left: {after:?}");
    Ok(())
}

#[tokio::test]
async fn every_finding_fires_and_nothing_changes() -> Result<()> {
    let db = TestDb::new("plan_findings").await?;
    // The digest table holds performance_schema_digests_size shapes; a sandbox that ran the whole suite
    // has filled it, and a full table records no new shape (the plan says so: `fact-unavailable`).
    let truncate = "TRUNCATE TABLE performance_schema.events_statements_summary_by_digest";
    db.exec(truncate).await?;
    db.replica_conn().await?.query_drop(truncate).await?;
    db.exec(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, email VARCHAR(64), s VARCHAR(32), n INT, \
         e VARCHAR(16) CHARACTER SET utf8mb4, note VARCHAR(64), old INT, KEY k_note (note));
         INSERT INTO t VALUES (1, 'a@x', 'short', 1, 'plain', 'n1', 1), (2, 'a@x', 'a much longer value', NULL, 'ünï✓', 'n2', 2),
                              (3, 'b@x', NULL, 300, NULL, NULL, 3);
         CREATE TABLE p (id INT PRIMARY KEY);
         CREATE TABLE c (id INT PRIMARY KEY, p_id INT, CONSTRAINT fk_p FOREIGN KEY (p_id) REFERENCES p (id));
         CREATE TRIGGER c_ai AFTER INSERT ON c FOR EACH ROW SET @x = 1",
    )
    .await?;
    // The application's statements: a reader of the column to drop, and one through the index to drop.
    db.exec("SELECT note FROM t WHERE id = 1; SELECT id FROM t FORCE INDEX (k_note) WHERE note = 'n2'").await?;
    db.wait_replica_caught_up().await?;
    let _: Vec<i64> = db.query_replica("SELECT id FROM t WHERE note IS NOT NULL").await?;
    let before = state(&db).await?;
    // An open transaction that has read `t`: it holds a metadata lock on it.
    let mut holder = db.primary_conn().await?;
    holder.query_drop("BEGIN").await?;
    let _: Vec<i64> = holder.query("SELECT id FROM t LIMIT 1").await?;

    let alter = "ADD UNIQUE KEY u_email (email), MODIFY s VARCHAR(8), MODIFY n TINYINT NOT NULL, \
                 MODIFY e VARCHAR(16) CHARACTER SET latin1, DROP KEY k_note, DROP COLUMN note, \
                 RENAME COLUMN old TO old2, ADD COLUMN z INT NOT NULL";
    let (code, out, err) = plan(&db, "t", alter, &["--format=json"]).await?;
    assert_eq!(code, 1, "blocking findings exit 1\n{out}\n{err}");
    let p = json(&out)?;
    let want = [
        "unique-duplicates",
        "values-too-long",
        "nulls-for-not-null",
        "values-out-of-range",
        "charset-loss",
        "drop-column",
        "rename-column",
        "not-null-no-default",
        "hidden-readers",
        "index-in-use",
        "long-transaction",
        "irreversible",
        "copy-required",
    ];
    let got = codes(&p);
    for w in want {
        assert!(got.contains(w), "no `{w}` in {got:?}\n{out}");
    }
    assert_eq!(p["strategy"], "copy");
    assert_eq!(p["reversible"], "partial");
    let command = p["command"].as_str().unwrap_or_default();
    assert!(command.starts_with("wraith migrate ") && command.contains("--approve-renamed-columns"), "{command}");
    assert!(!command.contains(&settings().password), "the password is in the command: {command}");
    assert!(!p["steps"].as_array().is_none_or(|s| s.is_empty()), "a destructive change gets expand/contract steps");
    for field in ["lock", "copy", "verification_sql", "rollback"] {
        assert!(!p[field].is_null(), "no `{field}` in the plan");
    }
    assert!(p["copy"]["rows"].as_u64() == Some(3) && p["lock"]["seconds"].is_number(), "{}", p["copy"]);
    let hidden = p["findings"].as_array().unwrap().iter().find(|f| f["code"] == "hidden-readers").unwrap();
    let evidence = hidden["evidence"].as_str().unwrap();
    assert!(evidence.contains("`note`") && evidence.contains("on the primary"), "{hidden}");
    assert!(evidence.contains("on the replica, last seen"), "a reader on the replica: {hidden}");

    // --no-scan: the checks that read the table are named, not run.
    let (code, out, _) = plan(&db, "t", "MODIFY s VARCHAR(8)", &["--format=json", "--no-scan"]).await?;
    let p = json(&out)?;
    assert!(codes(&p).contains("scan-skipped") && !codes(&p).contains("values-too-long"), "{out}");
    assert_eq!(code, 0, "nothing blocks when the blocking check is skipped\n{out}");

    // Foreign keys and triggers: what migrate refuses, with the flag that lifts it.
    let (code, out, _) = plan(&db, "c", "ADD COLUMN x INT", &["--format=json"]).await?;
    let p = json(&out)?;
    assert_eq!(code, 1, "{out}");
    let fk = p["findings"].as_array().unwrap().iter().find(|f| f["code"] == "foreign-key").expect("foreign-key");
    assert!(fk["severity"] == "block" && fk["message"].as_str().unwrap().contains("--discard-foreign-keys"), "{fk}");
    let trg = p["findings"].as_array().unwrap().iter().find(|f| f["code"] == "trigger").expect("trigger");
    assert_eq!(trg["severity"], "warn");
    assert!(p["command"].as_str().unwrap().contains("--include-triggers --trigger-suffix=_ght"), "{}", p["command"]);

    holder.query_drop("ROLLBACK").await?;
    drop(holder);
    assert_unchanged(&db, &before).await
}

#[tokio::test]
async fn strategies_on_a_table_where_nothing_is_wrong() -> Result<()> {
    let db = TestDb::new("plan_clean").await?;
    db.exec(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(32) NOT NULL, n INT NOT NULL);
         INSERT INTO t VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3);
         CREATE TABLE pt (id INT NOT NULL PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 4;
         INSERT INTO pt VALUES (1), (2), (3)",
    )
    .await?;
    let before = state(&db).await?;
    let (exit, out, _) = plan(&db, "pt", "ADD COLUMN y INT NULL", &["--format=json"]).await?;
    assert_eq!(exit, 0, "{out}");
    assert!(codes(&json(&out)?).contains("partitions"), "{out}");
    for (alter, strategy, code) in [
        ("ADD COLUMN y INT NULL", "instant", "instant-possible"),
        ("ADD INDEX k_v (v)", "inplace", "inplace-possible"),
        ("MODIFY n BIGINT NOT NULL", "copy", "copy-required"),
    ] {
        let (exit, out, err) = plan(&db, "t", alter, &["--format=json"]).await?;
        assert_eq!(exit, 0, "{alter}: {out}\n{err}");
        let p = json(&out)?;
        assert_eq!(p["strategy"], strategy, "{alter}: {out}");
        assert!(codes(&p).contains(code), "{alter}: {out}");
        if strategy != "copy" {
            assert_eq!(severities(&p), BTreeSet::from(["info".to_string()]), "{alter}: only info findings\n{out}");
            assert_eq!(p["reversible"], "yes");
        }
        if strategy == "instant" {
            assert!(p["command"].as_str().unwrap().contains("--attempt-instant-ddl"));
        }
    }
    // The text shape DBAs review.
    let (exit, out, _) = plan(&db, "t", "ADD COLUMN y INT NULL", &[]).await?;
    assert_eq!(exit, 0);
    for part in [
        "## Migration: ",
        "**Strategy:** INSTANT",
        "**Estimated lock time on prod:**",
        "**Reversible:** yes",
        "### Findings",
        "### Command",
        "### Verification",
        "### Rollback",
    ] {
        assert!(out.contains(part), "no {part:?} in\n{out}");
    }
    // The verification query runs as printed.
    let p = json(&plan(&db, "t", "ADD COLUMN y INT NULL", &["--format=json"]).await?.1)?;
    let first = p["verification_sql"].as_str().unwrap().lines().find(|l| l.starts_with("SELECT")).unwrap().to_string();
    let r: Vec<(i64, i64)> = db.query(first.trim_end_matches(';')).await?;
    assert_eq!(r[0].0, 3);
    assert_unchanged(&db, &before).await
}

fn finding<'a>(plan: &'a serde_json::Value, code: &str) -> Option<&'a serde_json::Value> {
    plan["findings"].as_array().into_iter().flatten().find(|f| f["code"] == code)
}

#[tokio::test]
async fn row_locks_held_now_are_reported() -> Result<()> {
    let db = TestDb::new("plan_row_locks").await?;
    db.exec(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, v INT NOT NULL); INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)",
    )
    .await?;
    let before = state(&db).await?;
    let alter = "ADD COLUMN x INT NULL";
    // A quiet table: no row locks, none reported.
    let (code, out, err) = plan(&db, "t", alter, &["--format=json"]).await?;
    assert_eq!(code, 0, "{out}\n{err}");
    let p = json(&out)?;
    assert!(finding(&p, "row-locks").is_none(), "{out}");
    assert_eq!(p["row_locks"]["transactions"], 0, "{}", p["row_locks"]);

    // The application holds a row of `t` FOR UPDATE in an open transaction (a primary-key lookup: one record
    // lock, on that row only).
    let mut holder = db.primary_conn().await?;
    holder.query_drop("BEGIN").await?;
    let locked: Vec<i64> = holder.query("SELECT id FROM t WHERE id = 2 FOR UPDATE").await?;
    assert_eq!(locked, [2]);
    let thread: Option<u64> = holder.query_first("SELECT CONNECTION_ID()").await?;
    let result = plan(&db, "t", alter, &["--format=json"]).await;
    holder.query_drop("ROLLBACK").await?;
    let (code, out, err) = result?;
    assert_eq!(code, 0, "row locks warn, they do not block\n{out}\n{err}");
    let p = json(&out)?;
    let f = finding(&p, "row-locks").with_context(|| format!("no row-locks finding:\n{out}"))?;
    assert_eq!(f["severity"], "warn", "{f}");
    let message = f["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("1 transaction(s) hold 1 row lock(s) on `t`"), "{f}");
    let evidence = f["evidence"].as_str().unwrap_or_default();
    assert!(
        evidence.starts_with("performance_schema.data_locks: trx ")
            && evidence.contains(&format!("(thread {}, open ", thread.unwrap_or_default()))
            && evidence.contains("1 record lock(s) held, 0 waiting, modes X,REC_NOT_GAP"),
        "{f}"
    );
    let rl = &p["row_locks"];
    assert!(rl["transactions"] == 1 && rl["locks"] == 1 && rl["waiting"] == 0, "{rl}");
    assert!(rl["oldest_seconds"].is_u64() && rl["modes"] == serde_json::json!(["X,REC_NOT_GAP"]), "{rl}");

    // Rolled back: the locks are gone, and so is the finding.
    let (_, out, _) = plan(&db, "t", alter, &["--format=json"]).await?;
    let p = json(&out)?;
    assert!(finding(&p, "row-locks").is_none() && p["row_locks"]["transactions"] == 0, "{out}");
    drop(holder);
    assert_unchanged(&db, &before).await
}

#[tokio::test]
async fn narrowed_decimals_block_out_of_range_and_warn_of_rounding() -> Result<()> {
    let db = TestDb::new("plan_decimal").await?;
    db.exec(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, amt DECIMAL(8,3) NOT NULL);
         INSERT INTO t VALUES (1, 12345.678), (2, 1.255), (3, 2.500)",
    )
    .await?;
    let before = state(&db).await?;
    // Four integer digits and two decimals: 12345.678 does not fit, and 12345.678 and 1.255 lose a digit.
    let (code, out, err) = plan(&db, "t", "MODIFY amt DECIMAL(6,2) NOT NULL", &["--format=json"]).await?;
    assert_eq!(code, 1, "{out}\n{err}");
    let p = json(&out)?;
    let range = finding(&p, "values-out-of-range").with_context(|| format!("no values-out-of-range:\n{out}"))?;
    assert_eq!(range["severity"], "block");
    assert!(range["message"].as_str().unwrap_or_default().starts_with("1 values of `amt`"), "{range}");
    let rounded = finding(&p, "values-rounded").with_context(|| format!("no values-rounded:\n{out}"))?;
    assert_eq!(rounded["severity"], "warn");
    assert!(rounded["message"].as_str().unwrap_or_default().starts_with("2 values of `amt`"), "{rounded}");
    let evidence = rounded["evidence"].as_str().unwrap_or_default();
    assert!(evidence.starts_with("scanned the table: ") && evidence.ends_with("-> e.g. 1.255"), "{rounded}");

    // Only the scale narrows: a warning (exit 0), and the rounded digits make the change partly reversible.
    let (code, out, err) = plan(&db, "t", "MODIFY amt DECIMAL(9,1) NOT NULL", &["--format=json"]).await?;
    assert_eq!(code, 0, "{out}\n{err}");
    let p = json(&out)?;
    assert!(finding(&p, "values-rounded").is_some() && finding(&p, "values-out-of-range").is_none(), "{out}");
    assert!(p["reversible"] == "partial" && finding(&p, "irreversible").is_some(), "{out}");

    // --no-scan: the rounding check reads every value, so it is named, not run.
    let (code, out, _) = plan(&db, "t", "MODIFY amt DECIMAL(9,1) NOT NULL", &["--format=json", "--no-scan"]).await?;
    assert_eq!(code, 0, "{out}");
    let p = json(&out)?;
    let skipped = finding(&p, "scan-skipped").with_context(|| format!("no scan-skipped:\n{out}"))?;
    assert!(skipped["message"].as_str().unwrap_or_default().contains("decimal places"), "{skipped}");
    assert!(finding(&p, "values-rounded").is_none(), "{out}");
    assert_unchanged(&db, &before).await
}

#[tokio::test]
async fn usage_and_connection_errors_exit_2() -> Result<()> {
    let db = TestDb::new("plan_errors").await?;
    db.exec("CREATE TABLE t (id INT PRIMARY KEY)").await?;
    let before = state(&db).await?;
    let (code, _, err) = plan(&db, "t", "ADD COLUMN x INT", &["--format=yaml"]).await?;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["plan".into(), "--table=t".into(), "--alter=ADD COLUMN x INT".into()]).await?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--database is required"), "{err}");
    let (code, _, err) = plan(&db, "no_such_table", "ADD COLUMN x INT", &[]).await?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = plan(&db, "t", "ADD COLUMN x INT", &["--port=1"]).await?;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot connect"), "{err}");
    // A config file works as for migrate; a bad one is a usage error.
    let dir = std::env::temp_dir().join(format!("wraith-plan-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let yaml = dir.join("plan.yaml");
    let st = settings();
    std::fs::write(
        &yaml,
        format!(
            "host: {}\nport: {}\nuser: {}\ndatabase: {}\ntable: t\nalter: ADD COLUMN x INT\n",
            st.replica_host,
            st.replica_port,
            st.user,
            db.name()
        ),
    )?;
    let (code, out, err) = run(&[
        "plan".into(),
        format!("--config={}", yaml.display()),
        "--format=json".into(),
        "--write-sample=0".into(),
    ])
    .await?;
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(json(&out)?["strategy"], "instant");
    std::fs::write(&yaml, "no-such-flag: 1\n")?;
    let (code, _, err) = run(&["plan".into(), format!("--config={}", yaml.display())]).await?;
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir)?;
    // The ALTER MySQL refuses: a blocking finding, not an error.
    let (code, out, _) = plan(&db, "t", "DROP COLUMN nope", &["--format=json"]).await?;
    assert_eq!(code, 1, "{out}");
    assert!(codes(&json(&out)?).contains("alter-invalid"), "{out}");
    assert_unchanged(&db, &before).await
}

#[tokio::test]
async fn the_write_rate_is_measured_while_the_application_writes() -> Result<()> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let db = TestDb::new("plan_writes").await?;
    db.exec("CREATE TABLE w (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL)").await?;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut conn = db.primary_conn().await?;
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                conn.query_drop("INSERT INTO w (v) VALUES (1)").await?;
                written.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        })
    };
    // The writer is under way before the plan starts watching.
    while written.load(Ordering::Relaxed) == 0 && !writer.is_finished() {
        tokio::task::yield_now().await;
    }
    let result = plan(&db, "w", "ADD COLUMN x INT", &["--format=json", "--write-sample=1s"]).await;
    stop.store(true, Ordering::Relaxed);
    writer.await??;
    let (code, out, err) = result?;
    assert_eq!(code, 0, "{out}\n{err}");
    let p = json(&out)?;
    let rate = p["copy"]["write_rate_per_s"].as_f64().unwrap_or(0.0);
    assert!(
        rate > 0.0,
        "no writes measured while {} rows were inserted: {}",
        written.load(Ordering::Relaxed),
        p["copy"]
    );
    Ok(())
}
