//! Helpers for the migration tests (`tests/migrate_*.rs`), on top of the harness in `tests/common`.
//!
//! - `config`: a `Config` for a test schema, inspecting the replica (the normal topology), with a random
//!   `replica_server_id` so parallel migrations never share a binlog client id.
//! - `Running`: a migration started in the background, whose phase (`wraith::Phase`, from
//!   `Migrator::progress`) can be awaited (bounded).
//! - `Workload`: writers that apply every change to the migrated table `t` AND to a control table `c` (same
//!   schema as the original) in ONE transaction. Whatever commits, commits on both; so once the migration is
//!   done and the writers stopped, `t` (new schema) must hold exactly the rows of `c`, whatever the timing.
//!   Writers record the longest a transaction took (`WorkloadStats::longest`) and, for the fault tests,
//!   may reconnect to a restarting server (`WorkloadSpec::tolerate_disconnects`).
//! - `FlagFile`, `TempUser`, `wait_until`, `helper_tables`, value literals and a tiny RNG.
//!
//! ```ignore
//! mod common;
//! mod migrate_common;
//! use common::*;
//! use migrate_common::*;
//! ```
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql_async::prelude::*;
use mysql_async::Conn;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wraith::config::Config;
use wraith::TableNames;
use wraith::{Migrator, Outcome, Phase, Progress};

use crate::common::*;

/// Bound on a whole migration of a test table (a few thousand rows) once it is allowed to finish.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound on reaching one phase of a migration.
pub const PHASE_TIMEOUT: Duration = Duration::from_secs(180);
/// Bound on writers committing a given number of transactions.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------- configs

/// A migration of `db.table` inspecting the replica (wraith finds the primary through replication), executed,
/// with small chunks so the copy spans many statements, and no shared throttle file (`/tmp/gh-ost.throttle`).
pub fn config(db: &TestDb, table: &str, alter: &str) -> Config {
    init_logging();
    let s = settings();
    let conn = Config::connection(&s.replica_host, s.replica_port, &s.user, &s.password);
    let mut cfg = Config::new(conn, db.name(), table, alter);
    cfg.conn.replica_server_id = random_server_id();
    cfg.execute = true;
    cfg.copy.chunk_size = 50;
    cfg.throttle.additional_flag_file = None;
    cfg.control.status_interval = Duration::from_secs(30);
    cfg
}

/// With `WRAITH_TEST_LOG` set (e.g. `WRAITH_TEST_LOG=wraith=info`), the engine's log goes to stderr: for
/// diagnosing a failing test (lag throttling, retried cut-overs...). Off by default.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("WRAITH_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

/// The same, but `--host` is the primary itself.
pub fn config_on_primary(db: &TestDb, table: &str, alter: &str) -> Config {
    let s = settings();
    let mut cfg = config(db, table, alter);
    cfg.conn.inspect = wraith::config::Endpoint { host: s.primary_host.clone(), port: s.primary_port };
    cfg
}

/// Runs a migration to the end, bounded by `RUN_TIMEOUT`. The outer error is the timeout; the inner result
/// is the migration's.
pub async fn run_migration(cfg: Config) -> Result<wraith::Result<Outcome>> {
    let m = Migrator::new(cfg);
    match tokio::time::timeout(RUN_TIMEOUT, m.run()).await {
        Ok(r) => Ok(r),
        Err(_) => bail!(
            "migration did not finish within {RUN_TIMEOUT:?}; last phase {}; last status line {:?}",
            m.progress().borrow().phase,
            m.progress().borrow().line
        ),
    }
}

/// Expects a refused (failed) migration and returns its message (with causes).
pub async fn run_expect_error(cfg: Config) -> Result<(wraith::Error, String)> {
    match run_migration(cfg).await? {
        Ok(o) => bail!("the migration was expected to be refused, but it succeeded: {o:?}"),
        Err(e) => {
            let msg = error_text(&e);
            Ok((e, msg))
        }
    }
}

/// The error with its chain of sources, one string.
pub fn error_text(e: &wraith::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(" / caused by: ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

#[track_caller]
pub fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "expected the message to contain {p:?}; message:\n{msg}");
    }
}

// ---------------------------------------------------------------- a migration in the background

/// A migration running on its own task. Dropping it aborts the run.
pub struct Running {
    progress: watch::Receiver<Progress>,
    handle: Option<JoinHandle<wraith::Result<Outcome>>>,
    result: Option<wraith::Result<Outcome>>,
    names: TableNames,
    /// Every phase observed, in order (consecutive duplicates collapsed), for failure messages.
    pub seen: Vec<Phase>,
}

impl Running {
    pub fn start(cfg: Config) -> Running {
        let m = Arc::new(Migrator::new(cfg));
        let progress = m.progress();
        let names = m.names().clone();
        let handle = tokio::spawn({
            let m = m.clone();
            async move { m.run().await }
        });
        Running { progress, handle: Some(handle), result: None, names, seen: vec![] }
    }

    pub fn names(&self) -> &TableNames {
        &self.names
    }

    /// The status object last published (`status --json`), e.g. the latency pacer's counters.
    pub fn status(&self) -> wraith::StatusReport {
        self.progress.borrow().status.clone()
    }

    /// The phase last published.
    pub fn phase(&self) -> Phase {
        self.progress.borrow().phase
    }

    fn note(&mut self) -> Phase {
        let phase = self.progress.borrow_and_update().phase;
        if self.seen.last() != Some(&phase) {
            self.seen.push(phase);
        }
        phase
    }

    /// True once the run has returned (its result is kept for `finish`).
    pub fn is_finished(&mut self) -> bool {
        self.result.is_some() || self.handle.as_ref().is_some_and(|h| h.is_finished())
    }

    /// Waits until the phase is `want`; fails if the run ends first or the time is up.
    pub async fn wait_phase(&mut self, want: Phase, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.note() == want {
                return Ok(());
            }
            if let Some(r) = &self.result {
                bail!(
                    "waiting for phase {want}: the migration ended first ({:?}); phases: {:?}",
                    r.as_ref().map(|_| "ok").map_err(error_text),
                    self.seen
                );
            }
            let handle = self.handle.as_mut().expect("handle present until a result is taken");
            tokio::select! {
                changed = self.progress.changed() => {
                    if changed.is_err() {
                        // The migrator is gone: its result is about to be available.
                        let r = handle.await.context("migration task")?;
                        self.result = Some(r);
                        self.handle = None;
                    }
                }
                r = &mut *handle => {
                    self.result = Some(r.context("migration task")?);
                    self.handle = None;
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    bail!("phase {want} not reached within {limit:?}; phases seen: {:?}", self.seen);
                }
            }
        }
    }

    /// Waits for the run's result (bounded), noting the phases it goes through.
    pub async fn finish(&mut self, limit: Duration) -> Result<wraith::Result<Outcome>> {
        let deadline = Instant::now() + limit;
        loop {
            self.note();
            if let Some(r) = self.result.take() {
                return Ok(r);
            }
            let handle = self.handle.as_mut().context("the result was already taken")?;
            tokio::select! {
                r = &mut *handle => {
                    self.handle = None;
                    self.result = Some(r.context("migration task")?);
                }
                changed = self.progress.changed(), if self.progress.has_changed().is_ok() => {
                    let _ = changed;
                }
                _ = tokio::time::sleep_until(deadline.into()) => {
                    bail!("the migration did not finish within {limit:?}; phases seen: {:?}", self.seen);
                }
            }
        }
    }

    /// Waits for a successful end.
    pub async fn finish_ok(&mut self, limit: Duration) -> Result<Outcome> {
        match self.finish(limit).await? {
            Ok(o) => Ok(o),
            Err(e) => bail!("the migration failed: {}; phases seen: {:?}", error_text(&e), self.seen),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

// ---------------------------------------------------------------- waiting

/// Polls `check` every 20 ms until it returns true; fails after `limit`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let done = match tokio::time::timeout_at(deadline.into(), check()).await {
            Ok(done) => done?,
            Err(_) => false,
        };
        if done {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("{what}: not true within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Row count of a table on the primary (0 if it does not exist yet).
pub async fn count_rows(db: &TestDb, table: &str) -> Result<u64> {
    let exists: Vec<u64> = db
        .query(format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}'",
            db.name()
        ))
        .await?;
    if exists.first() != Some(&1) {
        return Ok(0);
    }
    Ok(db.query::<u64>(format!("SELECT COUNT(*) FROM `{table}`")).await?.first().copied().unwrap_or(0))
}

// ---------------------------------------------------------------- schema inspection

/// Tables of the test schema on the primary, sorted.
pub async fn tables(db: &TestDb) -> Result<Vec<String>> {
    db.query(format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{}' ORDER BY TABLE_NAME",
        db.name()
    ))
    .await
}

/// The helper tables of a migration of `t` that exist on the primary (`_t_gho`, `_t_ghc`, `_t_del`, ...).
pub async fn helper_tables(db: &TestDb, table: &str) -> Result<Vec<String>> {
    let names = TableNames::new(table, None);
    let all = tables(db).await?;
    Ok(all
        .into_iter()
        .filter(|t| {
            *t == names.ghost
                || *t == names.changelog
                || *t == names.old
                || *t == names.checkpoint
                || (t.starts_with(&format!("_{table}_")) && t.ends_with("_del"))
        })
        .collect())
}

pub async fn show_create(db: &TestDb, table: &str) -> Result<String> {
    let rows: Vec<(String, String)> = db.query(format!("SHOW CREATE TABLE `{table}`")).await?;
    Ok(rows.into_iter().next().context("SHOW CREATE TABLE returned nothing")?.1)
}

/// What a refused migration must leave exactly as it was: the schema's tables, the table's definition and
/// its data.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: Vec<String>,
    pub create: String,
    pub checksum: Checksum,
}

pub async fn snapshot(db: &TestDb, table: &str, order_by: &str) -> Result<Snapshot> {
    let mut conn = db.primary_conn().await?;
    Ok(Snapshot {
        tables: tables(db).await?,
        create: show_create(db, table).await?,
        checksum: table_checksum(&mut conn, &format!("`{table}`"), "*", order_by).await?,
    })
}

// ---------------------------------------------------------------- flag files

/// A file path of this test (unique per schema), removed when dropped.
pub struct FlagFile {
    pub path: PathBuf,
}

impl FlagFile {
    pub fn new(db: &TestDb, what: &str) -> FlagFile {
        let path = std::env::temp_dir().join(format!("wraith-test-{}-{what}.flag", db.name()));
        let _ = std::fs::remove_file(&path);
        FlagFile { path }
    }
    pub fn create(&self) -> Result<()> {
        std::fs::write(&self.path, b"").with_context(|| format!("creating {}", self.path.display()))
    }
    pub fn remove(&self) -> Result<()> {
        std::fs::remove_file(&self.path).with_context(|| format!("removing {}", self.path.display()))
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FlagFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

// ---------------------------------------------------------------- accounts

/// A MySQL account created for one test (it replicates to the replica), dropped when the value is dropped.
///
/// The sandbox account may create users (INSERT on `mysql.*`) but has no GRANT OPTION, so privileges are
/// given by writing the grant tables and `FLUSH PRIVILEGES` (both replicate).
pub struct TempUser {
    pub name: String,
    pub password: String,
}

/// Database-level privilege columns of `mysql.db`, by the name GRANT uses.
const DB_PRIV_COLUMNS: &[(&str, &str)] = &[
    ("SELECT", "Select_priv"),
    ("INSERT", "Insert_priv"),
    ("UPDATE", "Update_priv"),
    ("DELETE", "Delete_priv"),
    ("CREATE", "Create_priv"),
    ("DROP", "Drop_priv"),
    ("INDEX", "Index_priv"),
    ("ALTER", "Alter_priv"),
    ("LOCK TABLES", "Lock_tables_priv"),
    ("TRIGGER", "Trigger_priv"),
    ("CREATE TEMPORARY TABLES", "Create_tmp_table_priv"),
];

/// Global privilege columns of `mysql.user`.
const GLOBAL_PRIV_COLUMNS: &[(&str, &str)] = &[
    ("REPLICATION SLAVE", "Repl_slave_priv"),
    ("REPLICATION CLIENT", "Repl_client_priv"),
    ("PROCESS", "Process_priv"),
];

impl TempUser {
    /// Creates `user@127.0.0.1` with the given global privileges and, per database, database privileges.
    pub async fn create(db: &TestDb, global: &[&str], per_db: &[(&str, &[&str])]) -> Result<TempUser> {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("wt_u{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let password = format!("pw-{name}");
        let user = TempUser { name, password };
        let mut sql = format!("CREATE USER '{}'@'127.0.0.1' IDENTIFIED BY '{}';", user.name, user.password);
        for g in global {
            let col =
                GLOBAL_PRIV_COLUMNS.iter().find(|(p, _)| p == g).with_context(|| format!("unknown privilege {g}"))?.1;
            sql += &format!("UPDATE mysql.user SET {col} = 'Y' WHERE User = '{}' AND Host = '127.0.0.1';", user.name);
        }
        for (schema, privs) in per_db {
            let mut cols = vec!["Host", "Db", "User"];
            let mut vals = vec!["'127.0.0.1'".to_string(), format!("'{schema}'"), format!("'{}'", user.name)];
            for p in *privs {
                let col =
                    DB_PRIV_COLUMNS.iter().find(|(n, _)| n == p).with_context(|| format!("unknown privilege {p}"))?.1;
                cols.push(col);
                vals.push("'Y'".into());
            }
            sql += &format!("INSERT INTO mysql.db ({}) VALUES ({});", cols.join(", "), vals.join(", "));
        }
        sql += "FLUSH PRIVILEGES";
        db.exec(&sql).await.context("creating a test account")?;
        db.wait_replica_caught_up().await?;
        Ok(user)
    }
}

impl TempUser {
    /// From now on the account may only connect over TLS (`REQUIRE SSL`), on both servers.
    pub async fn require_ssl(&self, db: &TestDb) -> Result<()> {
        db.exec(format!(
            "UPDATE mysql.user SET ssl_type = 'ANY' WHERE User = '{}' AND Host = '127.0.0.1'; FLUSH PRIVILEGES",
            self.name
        ))
        .await?;
        db.wait_replica_caught_up().await
    }

    /// A connection to the primary as this account, with `db` as default database.
    pub async fn connect_primary(&self, db: &TestDb) -> Result<Conn> {
        let s = settings();
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname(&s.primary_host)
            .tcp_port(s.primary_port)
            .user(Some(&self.name))
            .pass(Some(&self.password))
            .db_name(Some(db.name()))
            .prefer_socket(false);
        connect(opts.into()).await
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        let sql = format!("DROP USER IF EXISTS '{}'@'127.0.0.1'", self.name);
        let res = std::thread::spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut conn = connect(primary_opts(None)).await?;
                conn.query_drop(sql).await?;
                let _ = conn.disconnect().await;
                Ok(())
            })
        })
        .join();
        if !matches!(res, Ok(Ok(()))) {
            eprintln!("warning: could not drop test account {}", self.name);
        }
    }
}

// ---------------------------------------------------------------- values

/// xorshift64*: deterministic per seed, no dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i128, hi: i128) -> i128 {
        let span = (hi - lo + 1) as u128;
        lo + ((u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())) % span) as i128
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A SQL string literal (the connection charset is utf8mb4; backslash escapes are on).
pub fn sql_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `X'..'` for bytes.
pub fn sql_hex(b: &[u8]) -> String {
    let mut s = String::from("X'");
    for x in b {
        s.push_str(&format!("{x:02X}"));
    }
    s.push('\'');
    s
}

// ---------------------------------------------------------------- the write workload

/// What the writers need to know about a table.
pub struct TableModel {
    /// The key column (an integer), named the same in the original and the migrated table.
    pub key: &'static str,
    /// Written columns (names in the original table), in order; the key first.
    pub columns: Vec<&'static str>,
    /// SQL expressions for the columns of a row with key `id`, in `columns` order.
    pub row: fn(&mut Rng, i64) -> Vec<String>,
    /// Assignments that move a row to key `id`: the key and what derives from it (e.g. another unique key).
    pub rekey: fn(i64) -> Vec<(&'static str, String)>,
    /// Columns a plain update leaves alone (the key and its derived columns).
    pub fixed: Vec<&'static str>,
    /// Statement run on each new writer session (e.g. a time zone).
    pub session: &'static str,
}

impl TableModel {
    /// Multi-row INSERTs of rows with keys `ids` into `table` (in batches).
    pub async fn seed(&self, db: &TestDb, table: &str, ids: &[i64], seed: u64) -> Result<()> {
        let mut conn = db.primary_conn().await?;
        conn.query_drop(self.session).await?;
        let mut rng = Rng::new(seed);
        for chunk in ids.chunks(100) {
            let rows: Vec<String> =
                chunk.iter().map(|&id| format!("({})", (self.row)(&mut rng, id).join(", "))).collect();
            let sql = format!("INSERT INTO `{table}` ({}) VALUES {}", self.columns.join(", "), rows.join(", "));
            conn.query_drop(&sql).await.with_context(|| format!("seeding {table}"))?;
        }
        Ok(())
    }

    /// Copies `from` into `to` (same columns), e.g. to initialise the control table.
    pub async fn copy_rows(&self, db: &TestDb, from: &str, to: &str) -> Result<()> {
        let cols = self.columns.join(", ");
        db.exec(format!("INSERT INTO `{to}` ({cols}) SELECT {cols} FROM `{from}`")).await
    }
}

pub struct WorkloadSpec {
    pub model: Arc<TableModel>,
    /// The migrated table and the control table.
    pub table: String,
    pub control: String,
    /// Keys `1..=seed_max` are the seeded range (with gaps); fresh inserts take keys above.
    pub seed_max: i64,
    pub writers: usize,
    /// Pause between transactions of one writer: load shaping, not synchronisation. The replica must keep up
    /// with the writers (plus whatever else runs on the machine), or wraith rightly holds the copy and the
    /// cut-over back on replication lag.
    pub pause: Duration,
    /// How the migrated table's columns are named after the cut-over: (original name, new name or None when
    /// dropped). Writers switch when the server says a column is unknown (what an application would do).
    pub after_cut_over: Vec<(&'static str, Option<&'static str>)>,
    /// The fault tests restart the primary: writers then reconnect (for up to `RECONNECT_TIMEOUT`) and lost
    /// connections are expected errors. A transaction lost with its connection committed on both tables or
    /// on neither, so the control table stays exact.
    pub tolerate_disconnects: bool,
}

impl WorkloadSpec {
    pub fn new(model: Arc<TableModel>, seed_max: i64) -> WorkloadSpec {
        WorkloadSpec {
            model,
            table: "t".into(),
            control: "c".into(),
            seed_max,
            writers: 4,
            pause: Duration::from_millis(10),
            after_cut_over: vec![],
            tolerate_disconnects: false,
        }
    }
}

#[derive(Default)]
pub struct WorkloadStats {
    pub commits: AtomicU64,
    /// Failed transactions by error (server code, or the client error text).
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Writers that switched to the new column names.
    pub switched: AtomicU64,
    /// The longest a transaction took (committed or failed) since the last `reset_longest`: how long the
    /// application was blocked at most.
    longest: Mutex<Duration>,
}

impl WorkloadStats {
    pub fn reset_longest(&self) {
        *self.longest.lock().unwrap() = Duration::ZERO;
    }
    pub fn longest(&self) -> Duration {
        *self.longest.lock().unwrap()
    }
    fn took(&self, d: Duration) {
        let mut l = self.longest.lock().unwrap();
        *l = (*l).max(d);
    }
}

/// How long a writer keeps trying to reconnect to a restarting server (`tolerate_disconnects`).
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// Server errors of a server going away (shutdown in progress, disconnected by the server), expected with
/// `tolerate_disconnects`.
const DISCONNECT_ERRORS: &[u16] = &[1053, 2006, 2013, 4031];

/// Errors an application sees while a table is migrated under it, and simply retries: deadlock, lock wait
/// timeouts, duplicate keys (the workload moves rows onto keys that may be taken), a table being renamed,
/// a changed table definition, and (when columns are renamed or dropped) an unknown column right after
/// the cut-over.
const EXPECTED_ERRORS: &[u16] = &[1062, 1205, 1213, 1146, 1412, 1054];

/// Writers running until stopped; see the module documentation.
pub struct Workload {
    stop: Arc<AtomicBool>,
    pub stats: Arc<WorkloadStats>,
    tasks: Vec<JoinHandle<Result<()>>>,
    tolerate_disconnects: bool,
}

impl Workload {
    pub async fn start(db: &TestDb, spec: WorkloadSpec) -> Result<Workload> {
        let spec = Arc::new(spec);
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WorkloadStats::default());
        let next_key = Arc::new(AtomicI64::new(spec.seed_max + 1));
        let mut tasks = Vec::new();
        for w in 0..spec.writers {
            let mut conn = connect(primary_opts(Some(db.name()))).await?;
            writer_session(&mut conn, &spec).await?;
            let writer = Writer {
                spec: spec.clone(),
                stop: stop.clone(),
                stats: stats.clone(),
                next_key: next_key.clone(),
                rng: Rng::new(random_server_id() as u64 ^ (w as u64) << 40),
                after: false,
            };
            tasks.push(tokio::spawn(writer.run(conn)));
        }
        Ok(Workload { stop, stats, tasks, tolerate_disconnects: spec.tolerate_disconnects })
    }

    pub fn commits(&self) -> u64 {
        self.stats.commits.load(Ordering::Relaxed)
    }

    /// Waits until `n` more transactions have committed (bounded by `COMMIT_TIMEOUT`).
    pub async fn wait_commits(&self, n: u64) -> Result<()> {
        let target = self.commits() + n;
        let stats = self.stats.clone();
        wait_until(&format!("writers committing {n} transactions"), COMMIT_TIMEOUT, || {
            let done = stats.commits.load(Ordering::Relaxed) >= target;
            async move { Ok(done) }
        })
        .await
        .with_context(|| format!("writer errors so far: {:?}", self.stats.errors.lock().unwrap()))
    }

    /// Stops the writers and waits for them; fails on errors an application would not expect.
    pub async fn stop(self) -> Result<WorkloadReport> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            within("stopping a writer", Duration::from_secs(60), async { t.await.context("writer task")? }).await?;
        }
        let errors = self.stats.errors.lock().unwrap().clone();
        let report = WorkloadReport {
            commits: self.stats.commits.load(Ordering::Relaxed),
            switched: self.stats.switched.load(Ordering::Relaxed),
            errors,
        };
        let tolerated = |k: &String| {
            self.tolerate_disconnects
                && (k.starts_with("client: ") || DISCONNECT_ERRORS.iter().any(|c| *k == c.to_string()))
        };
        let unexpected: Vec<_> = report
            .errors
            .keys()
            .filter(|k| !EXPECTED_ERRORS.iter().any(|c| **k == c.to_string()) && !tolerated(k))
            .collect();
        if !unexpected.is_empty() {
            bail!("writers hit unexpected errors: {unexpected:?} (all errors: {:?})", report.errors);
        }
        Ok(report)
    }
}

#[derive(Debug)]
pub struct WorkloadReport {
    pub commits: u64,
    pub switched: u64,
    pub errors: BTreeMap<String, u64>,
}

struct Writer {
    spec: Arc<WorkloadSpec>,
    stop: Arc<AtomicBool>,
    stats: Arc<WorkloadStats>,
    next_key: Arc<AtomicI64>,
    rng: Rng,
    /// Uses the column names of the migrated table after the cut-over.
    after: bool,
}

impl Writer {
    async fn run(mut self, mut conn: Conn) -> Result<()> {
        // A transaction that failed transiently, retried as is (what an application does).
        let mut retry: Option<(String, String)> = None;
        let mut attempts = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let (on_t, on_c) = match retry.take() {
                Some(tx) => tx,
                None => {
                    attempts = 0;
                    self.statements()
                }
            };
            let sql = format!("START TRANSACTION; {on_t}; {on_c}; COMMIT");
            let began = Instant::now();
            let result = conn.query_drop(&sql).await;
            self.stats.took(began.elapsed());
            match result {
                Ok(()) => {
                    self.stats.commits.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let key = match &e {
                        mysql_async::Error::Server(s) => s.code.to_string(),
                        other => format!("client: {other}"),
                    };
                    *self.stats.errors.lock().unwrap().entry(key).or_default() += 1;
                    let gone = match &e {
                        mysql_async::Error::Server(s) => {
                            self.spec.tolerate_disconnects && DISCONNECT_ERRORS.contains(&s.code)
                        }
                        _ => true,
                    };
                    match &e {
                        _ if gone => {
                            // A broken connection: the transaction is gone with it.
                            conn = self.reconnect(&db_of(&conn)).await?;
                        }
                        mysql_async::Error::Server(s) => {
                            if let Err(rb) = conn.query_drop("ROLLBACK").await {
                                if !self.spec.tolerate_disconnects {
                                    return Err(anyhow::Error::from(rb).context("rollback after a failed write"));
                                }
                                conn = self.reconnect(&db_of(&conn)).await?;
                            }
                            match s.code {
                                // Deadlock, lock wait timeout, table renamed or redefined under us: retry.
                                1213 | 1205 | 1146 | 1412 if attempts < 50 => {
                                    attempts += 1;
                                    retry = Some((on_t, on_c));
                                }
                                // The new table has new column names: use them from now on.
                                1054 if !self.after && !self.spec.after_cut_over.is_empty() => {
                                    self.after = true;
                                    self.stats.switched.fetch_add(1, Ordering::Relaxed);
                                }
                                // A duplicate key (the workload picks keys that may be taken): give up this one.
                                _ => {}
                            }
                        }
                        _ => unreachable!("errors other than server errors count as a broken connection"),
                    }
                }
            }
            if !self.spec.pause.is_zero() {
                tokio::time::sleep(self.spec.pause).await;
            }
        }
        let _ = conn.disconnect().await;
        Ok(())
    }

    /// A new session after a broken connection; with `tolerate_disconnects`, retried while the server is
    /// away (restarting), up to `RECONNECT_TIMEOUT`.
    async fn reconnect(&self, db: &str) -> Result<Conn> {
        let deadline = Instant::now() + RECONNECT_TIMEOUT;
        loop {
            let attempt = async {
                let mut conn = connect(primary_opts(Some(db))).await?;
                writer_session(&mut conn, &self.spec).await?;
                Ok::<_, anyhow::Error>(conn)
            };
            match attempt.await {
                Ok(conn) => return Ok(conn),
                Err(e) if !self.spec.tolerate_disconnects || Instant::now() >= deadline => {
                    return Err(e.context("a writer reconnecting"))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// The name of `col` in the migrated table as this writer currently sees it (None: dropped).
    fn name_on_t(&self, col: &'static str) -> Option<&'static str> {
        if !self.after {
            return Some(col);
        }
        match self.spec.after_cut_over.iter().find(|(o, _)| *o == col) {
            Some((_, new)) => *new,
            None => Some(col),
        }
    }

    /// One change, as the statement on the migrated table and the same statement on the control table.
    fn statements(&mut self) -> (String, String) {
        let spec = self.spec.clone();
        let m = &spec.model;
        let (t, c) = (&spec.table, &spec.control);
        let existing = self.rng.range(1, i128::from(self.next_key.load(Ordering::Relaxed) - 1)) as i64;
        match self.rng.below(100) {
            // Insert above the copy range (binlog only), or anywhere in the seeded range (often a duplicate).
            p if p < 40 => {
                let id = if p < 30 {
                    self.next_key.fetch_add(1, Ordering::Relaxed)
                } else {
                    self.rng.range(1, i128::from(spec.seed_max)) as i64
                };
                let vals = (m.row)(&mut self.rng, id);
                let insert = |table: &str, names: Vec<Option<&str>>| {
                    let (cols, vs): (Vec<&str>, Vec<&String>) =
                        names.iter().zip(&vals).filter_map(|(n, v)| n.map(|n| (n, v))).unzip();
                    let vs: Vec<&str> = vs.iter().map(|s| s.as_str()).collect();
                    format!("INSERT INTO `{table}` ({}) VALUES ({})", cols.join(", "), vs.join(", "))
                };
                let on_t = insert(t, m.columns.iter().map(|c| self.name_on_t(c)).collect());
                let on_c = insert(c, m.columns.iter().map(|c| Some(*c)).collect());
                (on_t, on_c)
            }
            // Update some columns.
            p if p < 75 => {
                let vals = (m.row)(&mut self.rng, existing);
                let mut sets: Vec<(&'static str, String)> = Vec::new();
                for (col, v) in m.columns.iter().zip(vals) {
                    if !m.fixed.contains(col) && self.rng.chance(40) {
                        sets.push((col, v));
                    }
                }
                if sets.is_empty() {
                    let (col, v) = m
                        .columns
                        .iter()
                        .zip((m.row)(&mut self.rng, existing))
                        .find(|(c, _)| !m.fixed.contains(c))
                        .unwrap();
                    sets.push((col, v));
                }
                self.update(existing, sets)
            }
            // Move a row to another key: above the range, or into the seeded range (gaps, or a duplicate).
            p if p < 87 => {
                let to = if p < 81 {
                    self.next_key.fetch_add(1, Ordering::Relaxed)
                } else {
                    self.rng.range(1, i128::from(spec.seed_max)) as i64
                };
                self.update(existing, (m.rekey)(to))
            }
            _ => (
                format!("DELETE FROM `{t}` WHERE {} = {existing}", m.key),
                format!("DELETE FROM `{c}` WHERE {} = {existing}", m.key),
            ),
        }
    }

    fn update(&self, id: i64, sets: Vec<(&'static str, String)>) -> (String, String) {
        let spec = &self.spec;
        let key = spec.model.key;
        let on_t: Vec<String> =
            sets.iter().filter_map(|(c, v)| self.name_on_t(c).map(|n| format!("{n} = {v}"))).collect();
        let on_c: Vec<String> = sets.iter().map(|(c, v)| format!("{c} = {v}")).collect();
        // Only dropped columns to set on `t`: still touch the row so both statements lock the same row.
        let on_t = if on_t.is_empty() { format!("{key} = {key}") } else { on_t.join(", ") };
        (
            format!("UPDATE `{}` SET {on_t} WHERE {key} = {id}", spec.table),
            format!("UPDATE `{}` SET {} WHERE {key} = {id}", spec.control, on_c.join(", ")),
        )
    }
}

async fn writer_session(conn: &mut Conn, spec: &WorkloadSpec) -> Result<()> {
    conn.query_drop(spec.model.session).await?;
    // A blocked write gives up rather than hang the test; the writer then retries.
    conn.query_drop("SET SESSION innodb_lock_wait_timeout = 5, SESSION lock_wait_timeout = 30").await?;
    Ok(())
}

fn db_of(conn: &Conn) -> String {
    conn.opts().db_name().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------- a small table model

pub const SIMPLE_TABLE: &str = "CREATE TABLE t (
    id BIGINT NOT NULL PRIMARY KEY,
    n INT NOT NULL,
    s VARCHAR(64) CHARACTER SET utf8mb4 NULL,
    ts TIMESTAMP(6) NULL,
    b VARBINARY(32) NULL
)";

/// A narrow table for tests about the migration's mechanics rather than value fidelity.
pub fn simple_model() -> TableModel {
    TableModel {
        key: "id",
        columns: vec!["id", "n", "s", "ts", "b"],
        row: |r, id| {
            vec![
                id.to_string(),
                r.range(i128::from(i32::MIN), i128::from(i32::MAX)).to_string(),
                if r.chance(10) { "NULL".into() } else { sql_str(&format!("row {id} ✓ {}", r.below(1000))) },
                if r.chance(10) {
                    "NULL".into()
                } else {
                    format!("FROM_UNIXTIME({}.{:06})", r.range(86_400, 2_000_000_000), r.below(1_000_000))
                },
                sql_hex(&{
                    let n = r.below(8) as usize;
                    r.bytes(n)
                }),
            ]
        },
        rekey: |id| vec![("id", id.to_string())],
        fixed: vec!["id"],
        session: "SET time_zone = '+05:30'",
    }
}

/// Creates `t` (SIMPLE_TABLE) with rows of even keys `2..=seed_max`, and the control table `c` like it.
pub async fn simple_tables(db: &TestDb, seed_max: i64) -> Result<Arc<TableModel>> {
    let model = Arc::new(simple_model());
    db.exec(format!("{SIMPLE_TABLE}; CREATE TABLE c LIKE t")).await?;
    let ids: Vec<i64> = (2..=seed_max).step_by(2).collect();
    model.seed(db, "t", &ids, 7).await?;
    model.copy_rows(db, "t", "c").await?;
    db.wait_replica_caught_up().await?;
    Ok(model)
}

pub const SIMPLE_COLUMNS: &str = "id, n, s, ts, b";

/// The end state every migration test checks: `t` has exactly the rows of the control table `c`
/// (`t_columns` and `c_columns` select corresponding values), and the migration left no ghost or changelog
/// table. Returns the number of rows compared.
pub async fn assert_matches_control(db: &TestDb, t_columns: &str, c_columns: &str) -> Result<usize> {
    within(
        "comparing t with the control table",
        Duration::from_secs(120),
        compare_with_control(db, t_columns, c_columns),
    )
    .await
}

async fn compare_with_control(db: &TestDb, t_columns: &str, c_columns: &str) -> Result<usize> {
    let n = assert_queries_equal(
        db.primary(),
        &format!("SELECT {t_columns} FROM t ORDER BY id"),
        db.primary(),
        &format!("SELECT {c_columns} FROM c ORDER BY id"),
    )
    .await
    .context("the migrated table differs from the control table")?;
    let names = TableNames::new("t", None);
    let left: Vec<String> =
        helper_tables(db, "t").await?.into_iter().filter(|t| *t == names.ghost || *t == names.changelog).collect();
    assert!(left.is_empty(), "ghost/changelog tables left after a successful migration: {left:?}");
    Ok(n)
}

// ---------------------------------------------------------------- binlog dump connections

/// Local TCP ports of this process's connections to `remote_port` (from /proc: Linux only).
fn own_ports_to(remote_port: u16) -> Result<BTreeSet<u16>> {
    let mut inodes = BTreeSet::new();
    for fd in std::fs::read_dir("/proc/self/fd").context("listing /proc/self/fd")? {
        if let Ok(target) = std::fs::read_link(fd?.path()) {
            let t = target.to_string_lossy();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                inodes.insert(inode.to_string());
            }
        }
    }
    let mut ports = BTreeSet::new();
    for file in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || !inodes.contains(f[9]) {
                continue;
            }
            let port = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            if port(f[2]) == Some(remote_port) {
                if let Some(p) = port(f[1]) {
                    ports.insert(p);
                }
            }
        }
    }
    Ok(ports)
}

/// Processlist ids of the binlog dump threads on the primary (where wraith reads the binlog) that serve THIS process (a migration run by this
/// test binary). Dump threads of other processes (other test runs against the sandbox) are never listed:
/// they are told apart by the client port, matched against this process's own sockets.
pub async fn own_dump_threads(db: &TestDb) -> Result<Vec<u64>> {
    let mut primary = db.primary_conn().await?;
    let threads: Vec<(u64, String)> =
        primary.query("SELECT ID, HOST FROM performance_schema.processlist WHERE COMMAND LIKE 'Binlog Dump%'").await?;
    let ours = own_ports_to(settings().primary_port)?;
    Ok(threads
        .into_iter()
        .filter(|(_, host)| {
            host.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).is_some_and(|p| ours.contains(&p))
        })
        .map(|(id, _)| id)
        .collect())
}

/// A transaction on another connection that keeps a lock on `t` (a row lock and the table's metadata lock)
/// until it ends: what an application's long transaction does to a cut-over.
pub async fn hold_lock_on_t(db: &TestDb, id: i64) -> Result<mysql_async::Conn> {
    let mut blocker = connect(primary_opts(Some(db.name()))).await?;
    blocker.query_drop("START TRANSACTION").await?;
    let rows: Vec<i64> = blocker.query(format!("SELECT id FROM t WHERE id = {id} FOR UPDATE")).await?;
    assert_eq!(rows, vec![id], "the blocker's row");
    Ok(blocker)
}

// ---------------------------------------------------------------- a string migration key

/// A string key for row `id`: groups of four that share a prefix and differ by what follows it, so chunk
/// bounds fall between values whose order is the collation's, not the bytes': under a PAD SPACE collation
/// `k..3\t` sorts before `k..3` (the tab is below the padding space), under an accent-insensitive one `é`
/// sorts with `e`, under a case-insensitive one `A` with `a`.
pub fn code_of(id: i64) -> String {
    format!("k{:06}{}", id / 4, ["", "\t", "é", "A"][(id % 4) as usize])
}

pub fn string_key_model() -> TableModel {
    TableModel {
        key: "id",
        columns: vec!["id", "grp", "code", "n", "s"],
        row: |r, id| {
            vec![
                id.to_string(),
                (id % 5).to_string(),
                sql_str(&code_of(id)),
                r.range(0, 1_000_000).to_string(),
                if r.chance(10) { "NULL".into() } else { sql_str(&format!("row {id} ✓ {}", r.below(1000))) },
            ]
        },
        rekey: |id| vec![("id", id.to_string()), ("grp", (id % 5).to_string()), ("code", sql_str(&code_of(id)))],
        fixed: vec!["id", "grp", "code"],
        session: "SET NAMES utf8mb4",
    }
}

pub const STRING_KEY_COLUMNS: &str = "id, grp, code, n, s";

/// `t` and its control table `c` with the primary key `pk` over `code` (in `charset` and `collation`,
/// see `code_of`) and `grp`, and a unique integer `id` the writers find rows by; seeded over `1..=seed_max`
/// with gaps, every group of four partly there.
pub async fn string_key_tables(
    db: &TestDb,
    charset: &str,
    collation: &str,
    pk: &str,
    seed_max: i64,
) -> Result<Arc<TableModel>> {
    db.exec(format!(
        "CREATE TABLE t (
            id BIGINT NOT NULL,
            grp INT NOT NULL,
            code VARCHAR(24) CHARACTER SET {charset} COLLATE {collation} NOT NULL,
            n INT NOT NULL,
            s VARCHAR(64) CHARACTER SET utf8mb4 NULL,
            PRIMARY KEY ({pk}),
            UNIQUE KEY id_u (id)
        );
        CREATE TABLE c LIKE t"
    ))
    .await?;
    let model = Arc::new(string_key_model());
    let ids: Vec<i64> =
        (2..=seed_max).step_by(2).chain((1..=seed_max).step_by(4)).chain((3..=seed_max).step_by(8)).collect();
    model.seed(db, "t", &ids, 11).await?;
    model.copy_rows(db, "t", "c").await?;
    db.wait_replica_caught_up().await?;
    Ok(model)
}
