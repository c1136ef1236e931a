//! Config files with the real binary against the sandbox: credentials from a gh-ost `--conf` INI file only,
//! migration settings from a `--config` YAML file, and a typo in the YAML refused by name.

mod common;
mod compat_common;
mod migrate_common;

use std::time::Duration;

use anyhow::Result;
use common::*;
use compat_common::*;
use migrate_common::*;
use mysql_async::prelude::*;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";
const TABLE_PRIVS: &[&str] =
    &["ALTER", "CREATE", "DELETE", "DROP", "INDEX", "INSERT", "LOCK TABLES", "SELECT", "TRIGGER", "UPDATE"];
const GLOBAL_PRIVS: &[&str] = &["REPLICATION CLIENT", "REPLICATION SLAVE", "PROCESS"];

/// The README's account (see "Privileges"), for the test schema.
async fn migration_account(db: &TestDb) -> Result<TempUser> {
    TempUser::create(db, GLOBAL_PRIVS, &[(db.name(), TABLE_PRIVS), ("performance_schema", &["SELECT"])]).await
}

/// A gh-ost INI file with a `[client]` section for the account (and the replica to inspect).
fn ini(dir: &TempDir, user: &TempUser) -> Result<String> {
    let s = settings();
    let p = dir.path("gh-ost.cnf");
    std::fs::write(
        &p,
        format!(
            "# shared my.cnf style file\n[mysql]\nauto-rehash\n\n[client]\nuser = {}\npassword = \"{}\"\nhost = {}\nport = {}\n",
            user.name, user.password, s.replica_host, s.replica_port
        ),
    )?;
    Ok(p.display().to_string())
}

/// Connections of `user` on the primary right now.
async fn connections_of(db: &TestDb, user: &str) -> Result<u64> {
    let mut conn = db.primary_conn().await?;
    let n: Option<u64> =
        conn.exec_first("SELECT COUNT(*) FROM performance_schema.processlist WHERE USER = ?", (user,)).await?;
    Ok(n.unwrap_or(0))
}

/// A noop run whose only credentials are in the INI file: no --user/--password, no WRAITH_PASSWORD.
#[tokio::test(flavor = "multi_thread")]
async fn noop_with_credentials_only_from_the_ini_file() -> Result<()> {
    let db = TestDb::new("compat_conf_noop").await?;
    numbers_table(&db, 200).await?;
    let before = original(&db, "t").await?;
    let user = migration_account(&db).await?;
    let dir = TempDir::new("conf");
    let conf = ini(&dir, &user)?;
    let throttle_arg = format!("--throttle-additional-flag-file={}", dir.path("none").display());
    let database_arg = format!("--database={}", db.name());
    let common = ["migrate", "--table=t", "--alter", ALTER, "--replica-server-id=424602", &throttle_arg, &database_arg];

    let mut args = common.to_vec();
    args.extend(["--conf", &conf]);
    let (status, out, err) = run_wraith(&args, &["WRAITH_PASSWORD", "MYSQL_PWD"], RUN_TIMEOUT).await?;
    assert!(status.success(), "noop with the INI credentials failed ({status}):\n{out}\n{err}");
    assert!(out.contains("noop"), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains(&user.password) && !err.contains(&user.password), "the password was printed");

    // Control: without the file the same command has no credentials and is refused.
    let user_arg = format!("--user={}", user.name);
    let args = [&common[..], &[user_arg.as_str()]].concat();
    let (status, out, err) = run_wraith(&args, &["WRAITH_PASSWORD", "MYSQL_PWD"], RUN_TIMEOUT).await?;
    assert!(!status.success(), "ran without the INI password:\n{out}\n{err}");

    assert_eq!(original(&db, "t").await?, before);
    assert_eq!(helper_tables(&db, "t").await?, Vec::<String>::new(), "a noop leaves nothing behind");
    Ok(())
}

/// A password on the command line is masked in the process table once read (`tests/process_args.rs`), yet
/// the run authenticates with it: a noop run with `--user`/`--password` flags only succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn noop_with_the_password_on_the_command_line() -> Result<()> {
    let db = TestDb::new("compat_conf_argv").await?;
    numbers_table(&db, 200).await?;
    let user = migration_account(&db).await?;
    let dir = TempDir::new("conf");
    let s = settings();
    let args = [
        "migrate".to_string(),
        "--table=t".into(),
        "--alter".into(),
        ALTER.into(),
        "--replica-server-id=424603".into(),
        format!("--throttle-additional-flag-file={}", dir.path("none").display()),
        format!("--database={}", db.name()),
        format!("--host={}", s.replica_host),
        format!("--port={}", s.replica_port),
        format!("--user={}", user.name),
        format!("--password={}", user.password),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, out, err) = run_wraith(&args, &["WRAITH_PASSWORD", "MYSQL_PWD"], RUN_TIMEOUT).await?;
    assert!(status.success(), "noop with --password on the command line failed ({status}):\n{out}\n{err}");
    assert!(out.contains("noop"), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains(&user.password) && !err.contains(&user.password), "the password was printed");
    Ok(())
}

/// The runbook's YAML carries the settings (chunk-size, max-lag-millis as a duration, execute, ...), the INI
/// the account: the running migration reports the YAML's values and connects as the INI's user.
#[tokio::test(flavor = "multi_thread")]
async fn yaml_settings_and_ini_credentials_drive_a_real_run() -> Result<()> {
    let db = TestDb::new("compat_conf_yaml").await?;
    numbers_table(&db, 1000).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let user = migration_account(&db).await?;
    let dir = TempDir::new("conf");
    let conf = ini(&dir, &user)?;
    let socket = dir.path("wraith.sock");
    let postpone = dir.path("postpone");
    std::fs::write(&postpone, b"")?;
    let yaml = dir.path("wraith.yaml");
    std::fs::write(
        &yaml,
        format!(
            "# runbook\ndatabase: {db}\ntable: t\nalter: \"{ALTER}\"\nexecute: true\nchunk-size: 200\n\
             max-lag-millis: 2s\nreplica-server-id: 424601\nok-to-drop-table: true\n\
             serve-socket-file: {socket}\npostpone-cut-over-flag-file: {postpone}\n\
             throttle-additional-flag-file: {none}\n",
            db = db.name(),
            socket = socket.display(),
            postpone = postpone.display(),
            none = dir.path("none").display()
        ),
    )?;
    let args = ["migrate".to_string(), "--conf".into(), conf, "--config".into(), yaml.display().to_string()];
    let (mut cmd, out, err) = wraith_command(&dir, "run", &args)?;
    cmd.env_remove("WRAITH_PASSWORD").env_remove("MYSQL_PWD");
    let mut child = Wraith::spawn(cmd, out, err)?;
    child.wait_status(&socket, "State: postponing cut-over", RUN_TIMEOUT).await?;
    assert_eq!(ctl(&socket, "chunk-size=?").await?, "200\n");
    assert_eq!(ctl(&socket, "max-lag-millis=?").await?, "2000\n");
    assert!(connections_of(&db, &user.name).await? > 0, "no connection of the INI's user on the primary");
    assert!(!has_column(&db, "t", "x").await?);

    assert_eq!(ctl(&socket, "unpostpone").await?, "OK\n");
    let status = child.wait(RUN_TIMEOUT).await?;
    assert!(status.success(), "the run failed ({status}):\n{}", child.output());
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    // ok-to-drop-table from the YAML: the old table is gone.
    assert_eq!(helper_tables(&db, "t").await?, Vec::<String>::new());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_yaml_key_is_refused_by_name() -> Result<()> {
    let dir = TempDir::new("conf");
    let yaml = dir.path("typo.yaml");
    std::fs::write(&yaml, "database: d\ntable: t\nalter: add column x int\nchunk-sise: 200\nexecute: true\n")?;
    let yaml = yaml.display().to_string();
    let (status, out, err) = run_wraith(&["migrate", "--config", &yaml], &[], Duration::from_secs(30)).await?;
    assert!(!status.success(), "accepted a YAML typo:\n{out}\n{err}");
    assert!(err.contains("chunk-sise") && err.contains("typo.yaml"), "the message must name the key and file:\n{err}");
    Ok(())
}
