//! Migrations wraith must refuse: each test checks the error message and that NOTHING changed: no ghost,
//! changelog or old table was created, and the original table has the same definition and data (checksum).
//! Where a flag lifts the refusal, the test also runs the migration with it and checks the data.

mod common;
mod migrate_common;

use anyhow::Result;
use common::*;
use migrate_common::*;
use wraith::{Error, Phase};

/// A small table `t` with a primary key, and rows.
const PLAIN: &str = "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NULL, n INT NULL);
    INSERT INTO t VALUES (1, 'one', 10), (2, 'two', NULL), (3, NULL, 30), (4, 'four ✓', 40)";

/// Runs `cfg`, expects a refusal whose message contains `parts`, and checks that the schema is as before
/// (on the primary and, once caught up, on the replica). Returns the error.
async fn assert_refused(db: &TestDb, table: &str, cfg: wraith::config::Config, parts: &[&str]) -> Result<Error> {
    let order_by = "1";
    let before = if table_exists(db, table).await? { Some(snapshot(db, table, order_by).await?) } else { None };
    let all_before = tables(db).await?;
    let (err, msg) = run_expect_error(cfg).await?;
    assert_contains(&msg, parts);
    assert_eq!(tables(db).await?, all_before, "tables changed by a refused migration ({msg})");
    let helpers = helper_tables(db, table).await?;
    assert!(helpers.is_empty(), "a refused migration left {helpers:?}");
    if let Some(before) = before {
        assert_eq!(snapshot(db, table, order_by).await?, before, "the original table changed ({msg})");
    }
    db.wait_replica_caught_up().await?;
    let on_replica: Vec<String> = db
        .query_replica(format!(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY TABLE_NAME",
            db.name()
        ))
        .await?;
    assert_eq!(on_replica, all_before, "tables on the replica after a refused migration");
    Ok(err)
}

async fn table_exists(db: &TestDb, table: &str) -> Result<bool> {
    Ok(tables(db).await?.iter().any(|t| t == table))
}

/// Migrates `t` to the end and checks every original column survived (compared with the old table).
async fn assert_migrates(db: &TestDb, cfg: wraith::config::Config, columns: &str) -> Result<()> {
    let old = wraith::TableNames::new(&cfg.table, None).old;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("migration failed: {}", error_text(&e)))?;
    assert!(outcome.executed);
    assert_tables_equal(db.primary(), "t", db.primary(), &format!("`{old}`"), columns, "1").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_unknown_table() -> Result<()> {
    let db = TestDb::new("refuse_unknown_table").await?;
    db.exec(PLAIN).await?;
    db.wait_replica_caught_up().await?;
    let s = settings();
    let cfg = config(&db, "nosuch", "ADD COLUMN x INT");
    let err = assert_refused(
        &db,
        "nosuch",
        cfg,
        &[
            &format!("table {}.nosuch does not exist on {}:{}", db.name(), s.replica_host, s.replica_port),
            "check --database and --table",
        ],
    )
    .await?;
    assert!(matches!(err, Error::Precondition { .. }), "{err:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_table_without_unique_key() -> Result<()> {
    let db = TestDb::new("refuse_no_unique_key").await?;
    db.exec("CREATE TABLE t (id INT NOT NULL, v VARCHAR(20), KEY (id)); INSERT INTO t VALUES (1, 'a'), (1, 'b')")
        .await?;
    db.wait_replica_caught_up().await?;
    let cfg = config(&db, "t", "ADD COLUMN x INT");
    assert_refused(&db, "t", cfg, &[&format!("no PRIMARY nor UNIQUE key found in table {}.t", db.name())]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_nullable_unique_key_unless_allowed() -> Result<()> {
    let db = TestDb::new("refuse_nullable_unique").await?;
    db.exec(
        "CREATE TABLE t (id INT NULL, v VARCHAR(20), UNIQUE KEY uid (id));
         INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL), (4, 'd')",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let alter = "ADD COLUMN x INT NOT NULL DEFAULT 7";
    assert_refused(
        &db,
        "t",
        config(&db, "t", alter),
        &["no shared unique key can be found after ALTER", "uid has nullable columns", "--allow-nullable-unique-key"],
    )
    .await?;
    // The flag makes it pass (no NULL keys here).
    let mut cfg = config(&db, "t", alter);
    cfg.schema.allow_nullable_unique_key = true;
    assert_migrates(&db, cfg, "id, v").await?;
    let x: Vec<i64> = db.query("SELECT x FROM t").await?;
    assert_eq!(x, vec![7; 4]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_float_only_unique_key() -> Result<()> {
    let db = TestDb::new("refuse_float_unique").await?;
    db.exec("CREATE TABLE t (f FLOAT NOT NULL, v INT, UNIQUE KEY uf (f)); INSERT INTO t VALUES (0.5, 1), (1.25, 2)")
        .await?;
    db.wait_replica_caught_up().await?;
    let cfg = config(&db, "t", "ADD COLUMN x INT");
    assert_refused(
        &db,
        "t",
        cfg,
        &["no shared unique key can be found after ALTER", "uf is on f (float), which cannot be compared exactly"],
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_child_side_foreign_key() -> Result<()> {
    let db = TestDb::new("refuse_fk_child").await?;
    db.exec(
        "CREATE TABLE p (id INT PRIMARY KEY); INSERT INTO p VALUES (1), (2);
         CREATE TABLE t (id INT PRIMARY KEY, p_id INT, CONSTRAINT fk_t_p FOREIGN KEY (p_id) REFERENCES p (id));
         INSERT INTO t VALUES (1, 1), (2, 2), (3, NULL)",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let cfg = config(&db, "t", "ADD COLUMN x INT");
    assert_refused(
        &db,
        "t",
        cfg,
        &[
            &format!("found 1 child-side foreign keys on {}.t (fk_t_p", db.name()),
            "Child-side foreign keys are not supported. Bailing out",
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_parent_side_foreign_key() -> Result<()> {
    let db = TestDb::new("refuse_fk_parent").await?;
    db.exec(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT); INSERT INTO t VALUES (1, 1), (2, 2);
         CREATE TABLE child (id INT PRIMARY KEY, t_id INT, CONSTRAINT fk_child_t FOREIGN KEY (t_id) REFERENCES t (id));
         INSERT INTO child VALUES (1, 1)",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let cfg = config(&db, "t", "ADD COLUMN x INT");
    assert_refused(
        &db,
        "t",
        cfg,
        &[
            &format!("found 1 parent-side foreign keys on {}.t (fk_child_t", db.name()),
            "Parent-side foreign keys are not supported. Bailing out",
        ],
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_table_with_trigger() -> Result<()> {
    let db = TestDb::new("refuse_trigger").await?;
    db.exec(PLAIN).await?;
    // Creating a trigger with binary logging on needs SUPER or this (global, harmless) setting. Newer
    // sandboxes start with it; an older running one may not.
    db.exec("SET GLOBAL log_bin_trust_function_creators = ON").await?;
    db.exec("CREATE TABLE audit (n INT); CREATE TRIGGER t_ai AFTER INSERT ON t FOR EACH ROW INSERT INTO audit VALUES (NEW.id)")
        .await?;
    db.wait_replica_caught_up().await?;
    let cfg = config(&db, "t", "ADD COLUMN x INT");
    assert_refused(&db, "t", cfg, &[&format!("{}.t has triggers: t_ai", db.name())]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_alter_that_renames_the_table() -> Result<()> {
    let db = TestDb::new("refuse_rename_table").await?;
    db.exec(PLAIN).await?;
    db.wait_replica_caught_up().await?;
    for alter in ["RENAME TO t2", "ADD COLUMN x INT, RENAME AS t2", "RENAME t2"] {
        let err =
            assert_refused(&db, "t", config(&db, "t", alter), &["alter statement seems to RENAME the table"]).await?;
        assert!(matches!(err, Error::Config(_)), "{alter}: {err:?}");
    }
    // Renaming an index is not renaming the table (checked in noop mode: nothing is created).
    db.exec("CREATE INDEX v_idx ON t (v)").await?;
    let mut cfg = config(&db, "t", "RENAME INDEX v_idx TO v2");
    cfg.execute = false;
    let r = run_migration(cfg).await?;
    assert!(r.is_ok(), "{}", error_text_of(&r));
    Ok(())
}

fn error_text_of(r: &wraith::Result<wraith::Outcome>) -> String {
    match r {
        Ok(_) => String::new(),
        Err(e) => error_text(e),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_unapproved_column_rename_and_accepts_skip() -> Result<()> {
    let db = TestDb::new("refuse_column_rename").await?;
    db.exec(PLAIN).await?;
    db.wait_replica_caught_up().await?;
    let alter = "CHANGE COLUMN v w VARCHAR(20) NULL";
    assert_refused(
        &db,
        "t",
        config(&db, "t", alter),
        &["the ALTER renames columns (v -> w)", "--approve-renamed-columns", "--skip-renamed-columns"],
    )
    .await?;
    // --skip-renamed-columns: migrates, the renamed column is left empty, everything else is copied.
    let mut cfg = config(&db, "t", alter);
    cfg.schema.skip_renamed_columns = true;
    assert_migrates(&db, cfg, "id, n").await?;
    let w: Vec<Option<String>> = db.query("SELECT w FROM t ORDER BY id").await?;
    assert_eq!(w, vec![None; 4], "skipped renamed column");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_second_run_on_the_same_table() -> Result<()> {
    let db = TestDb::new("refuse_second_run").await?;
    simple_tables(&db, 400).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let mut cfg = config(&db, "t", "ADD COLUMN x INT NOT NULL DEFAULT 3");
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut first = Running::start(cfg);
    first.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    let helpers_while_first_runs = helper_tables(&db, "t").await?;

    let second = config(&db, "t", "ADD COLUMN y INT");
    let (err, msg) = run_expect_error(second).await?;
    assert!(matches!(err, Error::AlreadyRunning { .. }), "{err:?}");
    assert_contains(
        &msg,
        &[&format!("another migration of {}.t is running", db.name()), "refusing to start a second one"],
    );
    // The second run touched nothing of the first one's.
    assert_eq!(helper_tables(&db, "t").await?, helpers_while_first_runs);
    assert_eq!(first.phase(), Phase::Postponing);
    assert!(!first.is_finished());

    postpone.remove()?;
    first.finish_ok(RUN_TIMEOUT).await?;
    assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, x"), &format!("{SIMPLE_COLUMNS}, 3")).await?;
    assert!(!show_create(&db, "t").await?.contains("`y`"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_leftover_ghost_table_unless_told_to_drop_it() -> Result<()> {
    let db = TestDb::new("refuse_leftover_ghost").await?;
    db.exec(PLAIN).await?;
    db.exec("CREATE TABLE _t_gho (leftover INT PRIMARY KEY); INSERT INTO _t_gho VALUES (42)").await?;
    db.wait_replica_caught_up().await?;
    let alter = "ADD COLUMN x INT";
    let tables_before = tables(&db).await?;
    let (_, msg) = run_expect_error(config(&db, "t", alter)).await?;
    assert_contains(
        &msg,
        &[
            &format!("table {}._t_gho already exists (left by an earlier run?)", db.name()),
            "--initially-drop-ghost-table",
        ],
    );
    assert_eq!(tables(&db).await?, tables_before, "{msg}");
    let leftover: Vec<i64> = db.query("SELECT leftover FROM _t_gho").await?;
    assert_eq!(leftover, vec![42], "the leftover table must be left alone");

    let mut cfg = config(&db, "t", alter);
    cfg.tables.initially_drop_ghost_table = true;
    assert_migrates(&db, cfg, "id, v, n").await?;
    assert!(show_create(&db, "t").await?.contains("`x` int"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_primary_as_host_unless_allow_on_master() -> Result<()> {
    let db = TestDb::new("refuse_on_master").await?;
    let model = simple_tables(&db, 1000).await?;
    let s = settings();
    let alter = "ADD COLUMN note VARCHAR(10) NOT NULL DEFAULT 'n/a'";
    assert_refused(
        &db,
        "t",
        config_on_primary(&db, "t", alter),
        &[
            &format!("{}:{} has no replication source: it looks like a primary", s.primary_host, s.primary_port),
            "--allow-on-master",
        ],
    )
    .await?;

    // --allow-on-master: the primary's own binlog drives the migration, under writes.
    let writers = Workload::start(&db, WorkloadSpec::new(model, 1000)).await?;
    writers.wait_commits(50).await?;
    let mut cfg = config_on_primary(&db, "t", alter);
    cfg.topology.allow_on_master = true;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    writers.wait_commits(50).await?;
    writers.stop().await?;
    assert!(outcome.executed);
    assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'n/a'")).await?;
    Ok(())
}

/// The README's "Privileges": these on the database, SELECT on performance_schema, these globally.
const README_TABLE_PRIVS: &[&str] =
    &["ALTER", "CREATE", "DELETE", "DROP", "INDEX", "INSERT", "LOCK TABLES", "SELECT", "TRIGGER", "UPDATE"];
const README_GLOBAL_PRIVS: &[&str] = &["REPLICATION CLIENT", "REPLICATION SLAVE"];
const PERFORMANCE_SCHEMA: (&str, &[&str]) = ("performance_schema", &["SELECT"]);

fn as_user(mut cfg: wraith::config::Config, user: &TempUser) -> wraith::config::Config {
    cfg.conn.user = user.name.clone();
    cfg.conn.password = wraith::config::Secret::new(&user.password);
    cfg
}

#[tokio::test(flavor = "multi_thread")]
async fn documented_privileges_suffice() -> Result<()> {
    let db = TestDb::new("readme_privileges").await?;
    db.exec(PLAIN).await?;
    let user =
        TempUser::create(&db, README_GLOBAL_PRIVS, &[(db.name(), README_TABLE_PRIVS), PERFORMANCE_SCHEMA]).await?;
    let mut cfg = as_user(config(&db, "t", "ADD COLUMN x INT"), &user);
    cfg.tables.ok_to_drop_table = true;
    let outcome =
        run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("with the README's privileges: {}", error_text(&e)))?;
    assert!(outcome.executed && outcome.left_behind.is_empty(), "{outcome:?}");
    assert!(show_create(&db, "t").await?.contains("`x` int"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_account_missing_privileges() -> Result<()> {
    let db = TestDb::new("refuse_privileges").await?;
    db.exec(PLAIN).await?;
    let lacking: Vec<&str> =
        README_TABLE_PRIVS.iter().copied().filter(|p| !matches!(*p, "ALTER" | "LOCK TABLES")).collect();
    let user = TempUser::create(&db, README_GLOBAL_PRIVS, &[(db.name(), &lacking), PERFORMANCE_SCHEMA]).await?;
    let cfg = as_user(config(&db, "t", "ADD COLUMN x INT"), &user);
    assert_refused(
        &db,
        "t",
        cfg,
        &[
            "the account lacks privileges",
            &format!("ALTER on `{}`", db.name()),
            &format!("LOCK TABLES on `{}`", db.name()),
        ],
    )
    .await?;

    // Without SELECT on performance_schema, the primary cannot be found: said so, not a bare error 1142.
    let user = TempUser::create(&db, README_GLOBAL_PRIVS, &[(db.name(), README_TABLE_PRIVS)]).await?;
    let cfg = as_user(config(&db, "t", "ADD COLUMN x INT"), &user);
    assert_refused(
        &db,
        "t",
        cfg,
        &[
            "the account cannot read performance_schema.replication_connection_configuration to find the primary",
            "GRANT SELECT ON performance_schema.*",
        ],
    )
    .await?;
    Ok(())
}

/// The refusal above hints "GRANT SELECT ON performance_schema.* ..., or pass --assume-master-host".
#[tokio::test(flavor = "multi_thread")]
async fn assume_master_host_does_without_performance_schema_as_the_hint_says() -> Result<()> {
    let db = TestDb::new("assume_master_no_ps").await?;
    db.exec(PLAIN).await?;
    let user = TempUser::create(&db, README_GLOBAL_PRIVS, &[(db.name(), README_TABLE_PRIVS)]).await?;
    let s = settings();
    let mut cfg = as_user(config(&db, "t", "ADD COLUMN x INT"), &user);
    cfg.conn.assume_master_host = Some(wraith::config::Endpoint { host: s.primary_host.clone(), port: s.primary_port });
    cfg.execute = false;
    let r = run_migration(cfg).await?;
    assert!(r.is_ok(), "{}", error_text_of(&r));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_alter_the_server_rejects_and_noop_creates_nothing() -> Result<()> {
    let db = TestDb::new("refuse_bad_alter").await?;
    db.exec(PLAIN).await?;
    db.wait_replica_caught_up().await?;
    assert_refused(
        &db,
        "t",
        config(&db, "t", "ADD COLUMN x NOSUCHTYPE"),
        &["(running the ALTER on the ghost table)", "Error 1064", "the original table was not touched"],
    )
    .await?;
    assert_refused(&db, "t", config(&db, "t", "ADD COLUMN x INT, ALGORITHM=INPLACE"), &["ALGORITHM= or LOCK="]).await?;
    assert_refused(
        &db,
        "t",
        config(&db, "t", "ADD CONSTRAINT fk FOREIGN KEY (n) REFERENCES t (id)"),
        &["the ALTER adds a foreign key"],
    )
    .await?;
    // Noop (no --execute): validates, creates and drops the ghost table, leaves nothing.
    let before = snapshot(&db, "t", "1").await?;
    let mut cfg = config(&db, "t", "ADD COLUMN x INT");
    cfg.execute = false;
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    assert!(!outcome.executed);
    assert_eq!(snapshot(&db, "t", "1").await?, before);
    assert!(helper_tables(&db, "t").await?.is_empty());
    Ok(())
}

/// A new unique key over duplicate data: the copy meets error 1062 on its first chunk and stops there, as a
/// definite error (no retry: the gh-ost-on-batch-copy-retry hook never runs), naming the duplicate. The
/// original table keeps its schema and data.
#[tokio::test(flavor = "multi_thread")]
async fn unique_key_over_duplicates_fails_at_once_without_retries() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new("refuse_unique_over_duplicates").await?;
    db.exec(
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v VARCHAR(20) NOT NULL);
         INSERT INTO t VALUES (1, 'a'), (2, 'dup-value'), (3, 'b'), (4, 'dup-value'), (5, 'c')",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let before = snapshot(&db, "t", "id").await?;
    let schema_before = show_create(&db, "t").await?;

    let hooks = std::env::temp_dir().join(format!("wraith-test-{}-hooks", db.name()));
    let _ = std::fs::remove_dir_all(&hooks);
    std::fs::create_dir_all(&hooks)?;
    let retried = hooks.join("retried");
    let hook = hooks.join("gh-ost-on-batch-copy-retry");
    std::fs::write(&hook, format!("#!/bin/sh\necho \"$GH_OST_LAST_BATCH_COPY_ERROR\" >> '{}'\n", retried.display()))?;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755))?;

    let mut cfg = config(&db, "t", "ADD UNIQUE KEY uv (v)");
    cfg.hooks.path = Some(hooks.clone());
    let (err, msg) = run_expect_error(cfg).await?;
    let root = match &err {
        Error::Context { source, .. } => source.as_ref(),
        other => other,
    };
    assert!(matches!(root, Error::Data(_)), "a definite data error, not {err:?}");
    assert!(!err.is_transient());
    assert_contains(&msg, &["Duplicate entry 'dup-value'", "uv", "the new schema cannot hold rows of the table"]);
    assert!(!retried.exists(), "the duplicate was retried: {}", std::fs::read_to_string(&retried)?);
    assert_eq!(show_create(&db, "t").await?, schema_before, "the original table's schema changed");
    let after = snapshot(&db, "t", "id").await?;
    assert_eq!(after.checksum, before.checksum, "the original table's data changed");
    std::fs::remove_dir_all(&hooks)?;
    Ok(())
}
