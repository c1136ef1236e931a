//! Helpers for the gh-ost runbook compatibility tests (`tests/compat_*.rs`), on top of `tests/common` (the
//! sandbox harness) and `tests/migrate_common` (migration configs, flag files, the writer workload).
//!
//! - `Run`: a migration on its own task whose phase (`wraith::Phase`) AND status refreshes can be awaited. The
//!   engine publishes its progress at every phase change and at least once a second (`Migrator::progress`);
//!   "nothing happened for two refreshes" is how these tests observe that something does NOT progress,
//!   without sleeping for a guessed time.
//! - `ctl`: one interactive command over the control socket, bounded.
//! - `Wraith`: the real binary as a child process (killed when dropped), its stderr kept in a file;
//!   `binary_args`, the flags of a migration of `t` for it.
//! - `ReplicationGuard`: `START REPLICA` on the replica when dropped, even when the test fails.
//!
//! Binlog reader ids: each compat test uses a fixed `replica_server_id` in 424_000..425_000, distinct per
//! test and below the random ids (>= 1_000_000) the other migration tests use.
//!
//! ```ignore
//! mod common;
//! mod compat_common;
//! mod migrate_common;
//! ```
#![allow(dead_code)] // each test binary uses its own subset

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mysql_async::prelude::*;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wraith::config::Config;
use wraith::{Migrator, Outcome, Phase, Progress, TableNames};

use crate::common::*;
use crate::migrate_common::*;

/// Bound on one status refresh (the engine publishes one at least every second).
pub const TICK_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on one interactive command.
pub const CTL_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- tables

/// `t (id BIGINT PRIMARY KEY, n INT NOT NULL, s VARCHAR(64))` with ids 1..=rows, on the primary, replicated.
pub async fn numbers_table(db: &TestDb, rows: u64) -> Result<()> {
    db.exec(format!(
        "CREATE TABLE t (id BIGINT NOT NULL PRIMARY KEY, n INT NOT NULL, s VARCHAR(64) NULL);
         SET SESSION cte_max_recursion_depth = {};
         INSERT INTO t (id, n, s)
           WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {rows})
           SELECT i, (i * 7919) % 100003, IF(i % 10 = 0, NULL, CONCAT('row ', i)) FROM seq",
        rows + 10
    ))
    .await?;
    db.wait_replica_caught_up().await
}

/// Checksum of `columns` of a table on the primary, by id.
pub async fn checksum(db: &TestDb, table: &str, columns: &str) -> Result<Checksum> {
    let mut conn = db.primary_conn().await?;
    table_checksum(&mut conn, &format!("`{table}`"), columns, "id").await
}

/// A table's definition and data, for "the original table is untouched".
#[derive(Debug, PartialEq, Eq)]
pub struct Original {
    pub create: String,
    pub checksum: Checksum,
}

pub async fn original(db: &TestDb, table: &str) -> Result<Original> {
    Ok(Original { create: show_create(db, table).await?, checksum: checksum(db, table, "*").await? })
}

/// Whether `table` on the primary has the column.
pub async fn has_column(db: &TestDb, table: &str, column: &str) -> Result<bool> {
    let n: Vec<u64> = db
        .query(format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{}' AND TABLE_NAME = '{table}' \
             AND COLUMN_NAME = '{column}'",
            db.name()
        ))
        .await?;
    Ok(n.first() == Some(&1))
}

// ---------------------------------------------------------------- configs

/// `migrate_common::config` (replica inspected, executed, no shared throttle file) with a fixed binlog
/// reader id and a lag limit no replica reaches (`LAX_LAG`).
pub fn compat_config(db: &TestDb, alter: &str, server_id: u32) -> Config {
    let mut cfg = config(db, "t", alter);
    cfg.conn.replica_server_id = server_id;
    cfg.throttle.max_lag = LAX_LAG;
    cfg
}

/// The lag limit of these tests. They check what stops and releases the copy (commands, flag files); a
/// replica lagging on a busy machine must not be a second reason, which would hide a broken first one.
pub const LAX_LAG: Duration = Duration::from_secs(60);

/// `compat_config` with small, slowed-down chunks, so the copy of 20000 rows spans many seconds.
pub fn slow_config(db: &TestDb, alter: &str, server_id: u32) -> Config {
    let mut cfg = compat_config(db, alter, server_id);
    cfg.copy.chunk_size = 10;
    cfg.throttle.nice_ratio = 2.0;
    cfg
}

/// A scratch directory removed on drop (kept short: unix socket paths are limited to 107 bytes).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p =
            std::env::temp_dir().join(format!("wt-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("creating a scratch directory");
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------- a migration in the background

/// A migration on its own task; dropping it aborts the run.
pub struct Run {
    /// Two receivers of the same `Migrator::progress` channel, each with its own "seen" mark: waiting for a
    /// phase must not use up the refresh `tick` waits for, and the other way round.
    phases: watch::Receiver<Progress>,
    ticks: watch::Receiver<Progress>,
    handle: Option<JoinHandle<wraith::Result<Outcome>>>,
    names: TableNames,
    /// Phases seen (consecutive duplicates collapsed), for messages.
    pub seen: Vec<Phase>,
}

impl Run {
    /// `Migrator::run`.
    pub fn start(cfg: Config) -> Run {
        Run::spawn(cfg, |m| async move { m.run().await })
    }

    /// `Migrator::run_until(shutdown)`.
    pub fn start_until(cfg: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> Run {
        Run::spawn(cfg, |m| async move { m.run_until(shutdown).await })
    }

    fn spawn<F, Fut>(cfg: Config, run: F) -> Run
    where
        F: FnOnce(Arc<Migrator>) -> Fut,
        Fut: Future<Output = wraith::Result<Outcome>> + Send + 'static,
    {
        let m = Arc::new(Migrator::new(cfg));
        let phases = m.progress();
        let ticks = m.progress();
        let names = m.names().clone();
        let handle = tokio::spawn(run(m));
        Run { phases, ticks, handle: Some(handle), names, seen: vec![] }
    }

    pub fn names(&self) -> &TableNames {
        &self.names
    }

    fn seen_phase(&mut self, phase: Phase) {
        if self.seen.last() != Some(&phase) {
            self.seen.push(phase);
        }
    }

    fn note(&mut self) -> Phase {
        let phase = self.phases.borrow_and_update().phase;
        self.seen_phase(phase);
        phase
    }

    /// The phase last published.
    pub fn phase(&mut self) -> Phase {
        self.note()
    }

    fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Waits until the phase is `want`; fails if the run ends first or `limit` passes.
    pub async fn wait_phase(&mut self, want: Phase, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.note() == want {
                return Ok(());
            }
            if self.finished() {
                let r = self.finish(Duration::from_secs(5)).await?;
                bail!(
                    "waiting for phase {want}: the run ended first ({:?}); phases {:?}",
                    r.map(|_| "ok").map_err(|e| error_text(&e)),
                    self.seen
                );
            }
            let wake = (Instant::now() + Duration::from_millis(200)).min(deadline);
            tokio::select! {
                _ = self.phases.changed() => {}
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
            if Instant::now() >= deadline {
                bail!("phase {want} not reached within {limit:?}; phases {:?}", self.seen);
            }
        }
    }

    /// The next status refresh (published at least once a second while the run is in its main loop).
    pub async fn tick(&mut self) -> Result<Progress> {
        match tokio::time::timeout(TICK_TIMEOUT, self.ticks.changed()).await {
            Ok(Ok(())) => {
                let p = self.ticks.borrow_and_update().clone();
                self.seen_phase(p.phase);
                Ok(p)
            }
            Ok(Err(_)) => bail!("the run ended while waiting for a status refresh; phases {:?}", self.seen),
            Err(_) => bail!("no status refresh within {TICK_TIMEOUT:?}; phases {:?}", self.seen),
        }
    }

    /// Waits for refreshes until `pred` holds for one; bounded by `limit`.
    pub async fn tick_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut pred: impl FnMut(&Progress) -> bool,
    ) -> Result<Progress> {
        let deadline = Instant::now() + limit;
        loop {
            let p = self.tick().await?;
            if pred(&p) {
                return Ok(p);
            }
            if Instant::now() >= deadline {
                bail!("{what}: not seen within {limit:?}; last status {:?}", p.line);
            }
        }
    }

    /// The run's result, bounded.
    pub async fn finish(&mut self, limit: Duration) -> Result<wraith::Result<Outcome>> {
        let handle = self.handle.take().context("the result was already taken")?;
        let r = match tokio::time::timeout(limit, handle).await {
            Ok(r) => r.context("migration task")?,
            Err(_) => bail!("the run did not end within {limit:?}; phases {:?}", self.seen),
        };
        self.note();
        Ok(r)
    }

    pub async fn finish_ok(&mut self, limit: Duration) -> Result<Outcome> {
        match self.finish(limit).await? {
            Ok(o) => Ok(o),
            Err(e) => bail!("the migration failed: {}; phases {:?}", error_text(&e), self.seen),
        }
    }

    pub async fn finish_err(&mut self, limit: Duration) -> Result<String> {
        match self.finish(limit).await? {
            Ok(o) => bail!("the migration was expected to fail, but it succeeded: {o:?}; phases {:?}", self.seen),
            Err(e) => Ok(error_text(&e)),
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

/// Observes that the copy does not progress: waits for two consecutive refreshes with the same copied count
/// (the chunk in flight when the throttle began has landed), then for two more refreshes (two more seconds of
/// the engine's own clock), and checks that neither the reported count nor the ghost table's row count moved
/// and that the copy is not complete. Returns the stalled count.
pub async fn assert_copy_stalled(run: &mut Run, db: &TestDb, ghost: &str, total_rows: u64) -> Result<u64> {
    let mut prev = run.tick().await?;
    let settled = loop {
        let p = run.tick().await?;
        if p.copied == prev.copied {
            break p;
        }
        prev = p;
        if prev.copied >= total_rows {
            bail!("the copy completed although it was throttled: {:?}", prev.line);
        }
    };
    let ghost_rows = count_rows(db, ghost).await?;
    assert!(
        settled.copied < total_rows && ghost_rows < total_rows,
        "the copy must be throttled before it completes: status {:?}, {ghost} has {ghost_rows} of {total_rows} rows",
        settled.line
    );
    run.tick().await?;
    let later = run.tick().await?;
    let ghost_rows_later = count_rows(db, ghost).await?;
    assert_eq!(
        (later.copied, ghost_rows_later),
        (settled.copied, ghost_rows),
        "the copy progressed while throttled: status went from {:?} to {:?}",
        settled.line,
        later.line
    );
    Ok(settled.copied)
}

// ---------------------------------------------------------------- the control socket

/// Sends one command to a migration's unix socket (bounded), returns the reply.
pub async fn ctl(socket: &Path, command: &str) -> Result<String> {
    match tokio::time::timeout(CTL_TIMEOUT, wraith::send_command(Some(socket), None, command)).await {
        Ok(r) => r.with_context(|| format!("sending {command:?} to {}", socket.display())),
        Err(_) => bail!("no reply to {command:?} within {CTL_TIMEOUT:?}"),
    }
}

/// The `status` reply, once the socket file exists and answers.
async fn poll_status(socket: &Path) -> Option<String> {
    if !socket.exists() {
        return None;
    }
    ctl(socket, "status").await.ok()
}

/// Waits until the socket file exists and answers `status` with a line containing `want`.
pub async fn wait_status(socket: &Path, want: &str, limit: Duration) -> Result<String> {
    let deadline = Instant::now() + limit;
    let mut last = String::new();
    loop {
        if let Some(reply) = poll_status(socket).await {
            if reply.contains(want) {
                return Ok(reply);
            }
            last = reply;
        }
        if Instant::now() >= deadline {
            bail!("status did not contain {want:?} within {limit:?}; last reply {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `Copy: 123/5000 ...` -> 123.
pub fn copied_in_status(line: &str) -> Option<u64> {
    line.split("Copy: ").nth(1)?.split('/').next()?.trim().parse().ok()
}

// ---------------------------------------------------------------- the binary

pub const WRAITH: &str = env!("CARGO_BIN_EXE_wraith");

/// The real `wraith` binary running as a child process; killed (SIGKILL) when dropped.
pub struct Wraith {
    pub child: tokio::process::Child,
    pub stderr_path: PathBuf,
    pub stdout_path: PathBuf,
}

/// Builds a `wraith` command whose output goes to files in `dir` named after `tag`.
pub fn wraith_command(
    dir: &TempDir,
    tag: &str,
    args: &[String],
) -> Result<(tokio::process::Command, PathBuf, PathBuf)> {
    let stdout_path = dir.path(&format!("{tag}.stdout"));
    let stderr_path = dir.path(&format!("{tag}.stderr"));
    let mut cmd = tokio::process::Command::new(WRAITH);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(std::fs::File::create(&stderr_path)?)
        .env("WRAITH_LOG", "wraith=info")
        .kill_on_drop(true);
    Ok((cmd, stdout_path, stderr_path))
}

impl Wraith {
    pub fn spawn(mut cmd: tokio::process::Command, stdout_path: PathBuf, stderr_path: PathBuf) -> Result<Wraith> {
        let child = cmd.spawn().context("starting the wraith binary")?;
        Ok(Wraith { child, stdout_path, stderr_path })
    }

    pub fn output(&self) -> String {
        let out = std::fs::read_to_string(&self.stdout_path).unwrap_or_default();
        let err = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        format!("--- stdout\n{out}--- stderr\n{err}")
    }

    /// Waits for the exit (bounded) and returns the status.
    pub async fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(s) => Ok(s?),
            Err(_) => bail!("wraith did not exit within {limit:?}\n{}", self.output()),
        }
    }

    /// Waits until the child answers `status` on `socket` with a line containing `want`; fails at once if
    /// the child exits first (with its output), and kills it if `limit` passes.
    pub async fn wait_status(&mut self, socket: &Path, want: &str, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("wraith exited ({status}) before its status said {want:?}\n{}", self.output());
            }
            if let Some(reply) = poll_status(socket).await {
                if reply.contains(want) {
                    return Ok(reply);
                }
                last = reply;
            }
            if Instant::now() >= deadline {
                self.kill().await?;
                bail!("status did not contain {want:?} within {limit:?}; last reply {last:?}\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL, and reap.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.wait(Duration::from_secs(30)).await?;
        Ok(())
    }

    /// Polls `check` every 20 ms until it holds; fails at once (with the child's output) if the child exits
    /// first, and kills the child if `limit` passes.
    pub async fn wait_until<F, Fut>(&mut self, what: &str, limit: Duration, mut check: F) -> Result<()>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!("wraith exited ({status}) before {what}\n{}", self.output());
            }
            if check().await? {
                return Ok(());
            }
            if Instant::now() >= deadline {
                self.kill().await?;
                bail!("{what}: not seen within {limit:?}\n{}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the exit (bounded); returns whether it succeeded and its output.
    pub async fn finish(&mut self, limit: Duration) -> Result<(bool, String)> {
        let status = self.wait(limit).await?;
        Ok((status.success(), self.output()))
    }
}

/// Flags for the binary: a migration of `db.t` with `alter`, inspecting the replica, the password from
/// WRAITH_PASSWORD (inherited from the test's environment), binlog reader id `server_id`, no shared throttle
/// file, the lax lag limit (`LAX_LAG`), a status line every second, --execute; then `extra`.
pub fn binary_args(db: &TestDb, dir: &TempDir, alter: &str, server_id: u32, extra: &[&str]) -> Vec<String> {
    let s = settings();
    let mut v: Vec<String> = vec![
        "migrate".into(),
        format!("--host={}", s.replica_host),
        format!("--port={}", s.replica_port),
        format!("--user={}", s.user),
        format!("--database={}", db.name()),
        "--table=t".into(),
        format!("--alter={alter}"),
        format!("--replica-server-id={server_id}"),
        format!("--throttle-additional-flag-file={}", dir.path("no-such-throttle-file").display()),
        format!("--max-lag-millis={}", LAX_LAG.as_millis()),
        "--status-interval=1s".into(),
        "--execute".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

/// Runs the binary to completion (bounded); returns (exit status, stdout, stderr).
pub async fn run_wraith(
    args: &[&str],
    env_remove: &[&str],
    limit: Duration,
) -> Result<(std::process::ExitStatus, String, String)> {
    let mut cmd = tokio::process::Command::new(WRAITH);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for v in env_remove {
        cmd.env_remove(v);
    }
    let out = match tokio::time::timeout(limit, cmd.output()).await {
        Ok(o) => o.context("running the wraith binary")?,
        Err(_) => bail!("`wraith {}` did not exit within {limit:?}", args.join(" ")),
    };
    Ok((
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// `wraith migrate` as a DBA runs it against the sandbox: the replica inspected, the sandbox account (its
/// password from `WRAITH_PASSWORD`, which `scripts/test` exports and the binary reads), `--execute`, small
/// chunks, a binlog reader id of its own, and no shared throttle flag file. A flag given again later in
/// the list overrides these (the last occurrence wins, as in gh-ost).
pub fn migrate_args(db: &TestDb, table: &str, alter: &str) -> Vec<String> {
    let s = settings();
    vec![
        "migrate".into(),
        format!("--host={}", s.replica_host),
        format!("--port={}", s.replica_port),
        format!("--user={}", s.user),
        format!("--database={}", db.name()),
        format!("--table={table}"),
        format!("--alter={alter}"),
        "--execute".into(),
        "--chunk-size=50".into(),
        format!("--replica-server-id={}", random_server_id()),
        // A path that never exists: the default /tmp/gh-ost.throttle is shared by everything on the machine.
        "--throttle-additional-flag-file=/nonexistent-wraith-test/throttle".into(),
    ]
}

/// What a finished `wraith` process left: exit status, output, how long it ran.
#[derive(Debug)]
pub struct Exit {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Exit {
    /// stdout and stderr, for assertions on the message and for failure output.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// `run_wraith` with owned arguments, timed.
pub async fn run_wraith_args(args: &[String], env_remove: &[&str], limit: Duration) -> Result<Exit> {
    let started = Instant::now();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (status, stdout, stderr) = run_wraith(&argv, env_remove, limit).await?;
    Ok(Exit { status, stdout, stderr, elapsed: started.elapsed() })
}

// ---------------------------------------------------------------- a scratch server

/// A throwaway mysqld of its own, for server settings a test cannot change on the shared sandbox
/// without disturbing the tests running beside it (binary logging off, another binlog_format). It runs
/// the sandbox's binaries (`WRAITH_MYSQLD`, `WRAITH_MYSQL_BASEDIR` from `scripts/sandbox env`) on a free
/// port with a data folder of its own, reached as `root` without a password, and is killed and removed
/// when dropped.
pub struct ScratchServer {
    pub port: u16,
    dir: TempDir,
    child: Option<tokio::process::Child>,
}

/// Bound on initialising the data folder, and on a start.
const SCRATCH_TIMEOUT: Duration = Duration::from_secs(120);

fn scratch_var(name: &str) -> Result<String> {
    std::env::var(name).with_context(|| format!("{name} is not set: run the tests with scripts/test"))
}

impl ScratchServer {
    /// Initialises a data folder (a few seconds) and starts the server with `args`.
    pub async fn start(tag: &str, args: &[&str]) -> Result<ScratchServer> {
        let dir = TempDir::new(tag);
        let mut s = ScratchServer { port: 0, dir, child: None };
        let out = tokio::process::Command::new(scratch_var("WRAITH_MYSQLD")?)
            .args(s.common_args())
            .arg("--initialize-insecure")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(SCRATCH_TIMEOUT, out).await.context("mysqld --initialize-insecure")??;
        anyhow::ensure!(out.status.success(), "mysqld --initialize-insecure failed: {}", s.error_log());
        s.restart(args).await?;
        Ok(s)
    }

    fn common_args(&self) -> Vec<String> {
        let base = scratch_var("WRAITH_MYSQL_BASEDIR").unwrap_or_default();
        vec![
            "--no-defaults".into(),
            format!("--datadir={}", self.dir.path("data").display()),
            format!("--basedir={base}"),
            format!("--lc-messages-dir={base}/share/mysql"),
            "--user=root".into(),
            "--innodb-buffer-pool-size=32M".into(),
            format!("--log-error={}", self.dir.path("error.log").display()),
        ]
    }

    /// Stops the server if it runs, and starts it again with `args` (on a new free port).
    pub async fn restart(&mut self, args: &[&str]) -> Result<()> {
        self.stop().await;
        self.port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = tokio::process::Command::new(scratch_var("WRAITH_MYSQLD")?)
            .args(self.common_args())
            .args([
                format!("--port={}", self.port),
                "--bind-address=127.0.0.1".into(),
                format!("--socket={}", self.dir.path("mysql.sock").display()),
                format!("--pid-file={}", self.dir.path("mysqld.pid").display()),
                "--mysqlx=OFF".into(),
                "--secure-file-priv=".into(),
                "--performance-schema=OFF".into(),
                "--skip-replica-start".into(),
                "--server-id=4242".into(),
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting a scratch mysqld")?;
        self.child = Some(child);
        let deadline = Instant::now() + SCRATCH_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("the scratch mysqld exited ({status}): {}", self.error_log());
            }
            if let Ok(c) = mysql_async::Conn::new(self.opts(None)).await {
                let _ = c.disconnect().await;
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the scratch mysqld did not answer within {SCRATCH_TIMEOUT:?}: {}", self.error_log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(30), c.wait()).await;
        }
    }

    pub fn opts(&self, db: Option<&str>) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some("root"))
            .db_name(db)
            .prefer_socket(false)
            .into()
    }

    pub async fn conn(&self, db: Option<&str>) -> Result<mysql_async::Conn> {
        connect(self.opts(db)).await
    }

    fn error_log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path("error.log")).unwrap_or_default();
        log.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.start_kill();
        }
    }
}

// ---------------------------------------------------------------- hooks

/// Writes the hook `<hooks>/<name>`: it appends its name to `<out>/order`, writes its environment to
/// `<out>/<name>.env`, then exits with `exit`.
pub fn write_hook(hooks: &Path, out: &Path, name: &str, exit: i32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let p = hooks.join(name);
    std::fs::write(
        &p,
        format!("#!/bin/sh\necho {name} >> '{o}/order'\nenv > '{o}/{name}.env'\nexit {exit}\n", o = out.display()),
    )?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

// ---------------------------------------------------------------- replication

/// Starts replication on the replica when dropped (a test that stops it must not leave it stopped, whatever
/// happens: other test binaries need it).
pub struct ReplicationGuard;

pub async fn start_replica() -> Result<()> {
    let mut conn = connect(replica_opts(None)).await?;
    within("START REPLICA", Duration::from_secs(30), async { Ok(conn.query_drop("START REPLICA").await?) }).await?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Whether the replica's receiver and applier threads are running: (receiver, applier).
pub async fn replication_running() -> Result<(bool, bool)> {
    let mut conn = connect(replica_opts(None)).await?;
    let io: Vec<String> =
        conn.query("SELECT SERVICE_STATE FROM performance_schema.replication_connection_status").await?;
    let sql: Vec<String> =
        conn.query("SELECT SERVICE_STATE FROM performance_schema.replication_applier_status").await?;
    let _ = conn.disconnect().await;
    Ok((io.iter().any(|s| s == "ON"), sql.iter().any(|s| s == "ON")))
}

impl Drop for ReplicationGuard {
    fn drop(&mut self) {
        let res = std::thread::spawn(|| -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(start_replica())
        })
        .join();
        if !matches!(res, Ok(Ok(()))) {
            eprintln!("WARNING: could not START REPLICA on the sandbox replica: {res:?}");
        }
    }
}
