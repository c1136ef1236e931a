//! Shared helpers for the integration tests; they run against the sandbox (`scripts/sandbox up`).
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! #[tokio::test(flavor = "multi_thread")]
//! async fn my_test() -> anyhow::Result<()> {
//!     let db = TestDb::new("my_test").await?;          // fresh schema on the primary, present on the replica
//!     db.exec("CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'a')").await?;
//!     db.wait_replica_caught_up().await?;
//!     let ids: Vec<i64> = db.query_replica("SELECT id FROM t").await?;
//!     assert_tables_equal(db.primary(), "t", db.replica(), "t", "id, v", "id").await?;
//!     Ok(())
//! }                                                    // schema dropped here (WRAITH_KEEP_TEST_DB=1 keeps it)
//! ```
//!
//! Every wait is bounded: a stopped or broken server fails the test with a message, it never hangs it.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts, OptsBuilder, Pool, Row, Sid, Value};

/// Bound on establishing a connection (a running server answers in milliseconds).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on the replica applying what the primary has executed.
pub const REPLICA_TIMEOUT: Duration = Duration::from_secs(30);

/// Prefix of every schema the harness creates; stale ones are recognised by it.
const SCHEMA_PREFIX: &str = "wt_";

// ---------------------------------------------------------------- settings

/// Where the sandbox is, from the variables `scripts/sandbox env` prints.
#[derive(Debug, Clone)]
pub struct Settings {
    pub primary_host: String,
    pub primary_port: u16,
    pub replica_host: String,
    pub replica_port: u16,
    pub user: String,
    pub password: String,
    /// The mysql client wrapper, for tests that need the CLI.
    pub mysql_client: Option<String>,
}

pub fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!(
                    "{name} is not set: run `eval \"$(scripts/sandbox env)\"` (after scripts/sandbox up), \
                     or run the tests with scripts/test"
                )
            })
        };
        let port = |name: &str| var(name).parse::<u16>().unwrap_or_else(|e| panic!("{name}: not a port: {e}"));
        Settings {
            primary_host: var("WRAITH_PRIMARY_HOST"),
            primary_port: port("WRAITH_PRIMARY_PORT"),
            replica_host: var("WRAITH_REPLICA_HOST"),
            replica_port: port("WRAITH_REPLICA_PORT"),
            user: var("WRAITH_USER"),
            password: var("WRAITH_PASSWORD"),
            mysql_client: std::env::var("WRAITH_MYSQL").ok(),
        }
    })
}

fn opts(host: &str, port: u16, db: Option<&str>) -> Opts {
    let s = settings();
    OptsBuilder::default()
        .ip_or_hostname(host)
        .tcp_port(port)
        .user(Some(&s.user))
        .pass(Some(&s.password))
        .db_name(db)
        // Stay on TCP: by default mysql_async switches to the server's unix socket when it can, which would
        // hide TCP-only behaviour (caching_sha2_password's RSA exchange, the address wraith reports).
        .prefer_socket(false)
        .into()
}

pub fn primary_opts(db: Option<&str>) -> Opts {
    let s = settings();
    opts(&s.primary_host, s.primary_port, db)
}

pub fn replica_opts(db: Option<&str>) -> Opts {
    let s = settings();
    opts(&s.replica_host, s.replica_port, db)
}

// ---------------------------------------------------------------- connections and timeouts

/// Runs `fut`, failing with "`what` timed out after ..." if it takes longer than `limit`.
pub async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(res) => res,
        Err(_) => bail!("{what}: timed out after {limit:?}"),
    }
}

fn describe(opts: &Opts) -> String {
    format!("{}@{}:{}", opts.user().unwrap_or(""), opts.ip_or_hostname(), opts.tcp_port())
}

/// A standalone connection (not from a pool), e.g. to turn into a binlog stream.
pub async fn connect(opts: Opts) -> Result<Conn> {
    let who = describe(&opts);
    within(&format!("connecting to {who}"), CONNECT_TIMEOUT, async {
        Conn::new(opts).await.map_err(anyhow::Error::from)
    })
    .await
    .with_context(|| format!("cannot connect to {who}; is the sandbox up? (scripts/sandbox status)"))
}

async fn pool_conn(pool: &Pool, which: &str) -> Result<Conn> {
    within(&format!("connecting to the {which}"), CONNECT_TIMEOUT, async {
        pool.get_conn().await.map_err(anyhow::Error::from)
    })
    .await
    .with_context(|| format!("cannot connect to the {which}; is the sandbox up? (scripts/sandbox status)"))
}

// ---------------------------------------------------------------- replication

/// Waits until the replica has applied everything the primary has executed so far (by GTID, no polling).
pub async fn wait_for_replica(primary: &mut Conn, replica: &mut Conn) -> Result<()> {
    let executed: String = primary.query_first("SELECT @@global.gtid_executed").await?.unwrap_or_default();
    let secs = REPLICA_TIMEOUT.as_secs();
    // The server-side wait is the real bound; the client-side one catches a replica that stopped answering.
    let res: Option<Option<i64>> = within("waiting for the replica", REPLICA_TIMEOUT + CONNECT_TIMEOUT, async {
        Ok(replica.exec_first("SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?)", (&executed, secs)).await?)
    })
    .await?;
    match res {
        Some(Some(0)) => Ok(()),
        _ => bail!(
            "replica did not apply the primary's GTIDs {executed} within {secs} s; replica: {}",
            replica_status(replica).await.unwrap_or_else(|e| format!("status unavailable: {e}"))
        ),
    }
}

/// One line about the replication threads and their last errors, for failure messages.
pub async fn replica_status(replica: &mut Conn) -> Result<String> {
    let io: Option<(String, String)> = replica
        .query_first("SELECT SERVICE_STATE, LAST_ERROR_MESSAGE FROM performance_schema.replication_connection_status")
        .await?;
    let sql: Vec<(String, String)> = replica
        .query("SELECT SERVICE_STATE, LAST_ERROR_MESSAGE FROM performance_schema.replication_applier_status_by_worker")
        .await?;
    let gtids: String = replica.query_first("SELECT @@global.gtid_executed").await?.unwrap_or_default();
    Ok(format!("io thread {io:?}, sql workers {sql:?}, gtid_executed {gtids}"))
}

/// Parses a GTID set as MySQL prints it (`uuid:1-5:7,uuid2:1-3`, tagged `uuid:1-5:tag:1-3`, newlines allowed)
/// into the `Sid`s a `BinlogStreamRequest::with_gtid_set` takes: one per uuid and tag.
pub fn parse_gtid_set(set: &str) -> Result<Vec<Sid<'static>>> {
    let mut sids = Vec::new();
    for item in set.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (uuid, rest) = item.split_once(':').ok_or_else(|| anyhow!("GTID set item without intervals: {item:?}"))?;
        // Split `rest` into groups, each starting at a tag (or at the untagged start).
        let mut groups: Vec<(Option<&str>, Vec<&str>)> = vec![(None, vec![])];
        for part in rest.split(':').map(str::trim) {
            if part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                groups.push((Some(part), vec![]));
            } else {
                groups.last_mut().expect("never empty").1.push(part);
            }
        }
        for (tag, intervals) in groups.into_iter().filter(|(_, iv)| !iv.is_empty()) {
            let text = match tag {
                Some(tag) => format!("{uuid}:{tag}:{}", intervals.join(":")),
                None => format!("{uuid}:{}", intervals.join(":")),
            };
            sids.push(text.parse::<Sid<'static>>().with_context(|| format!("bad GTID set item {item:?}"))?);
        }
    }
    Ok(sids)
}

/// The inverse of `parse_gtid_set`, for messages and SQL.
pub fn format_gtid_set(sids: &[Sid<'_>]) -> String {
    sids.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",")
}

/// A random replication server id for a binlog client, unlikely to clash with another test run's.
pub fn random_server_id() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded randomly per process: good enough to pick an id, no dependency needed.
    let r = std::collections::hash_map::RandomState::new().build_hasher().finish();
    1_000_000 + (r % 3_999_000_000) as u32
}

// ---------------------------------------------------------------- TestDb

/// A schema of its own on the primary (replicated to the replica), dropped when the value is dropped.
pub struct TestDb {
    name: String,
    primary: Pool,
    replica: Pool,
}

impl TestDb {
    /// Creates `wt_<test_name>_<pid>_<n>` on the primary and waits until the replica has it.
    pub async fn new(test_name: &str) -> Result<TestDb> {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let suffix = format!("_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut base: String =
            test_name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        base.truncate(64 - SCHEMA_PREFIX.len() - suffix.len()); // identifiers are at most 64 chars
        let name = format!("{SCHEMA_PREFIX}{base}{suffix}");

        let mut primary = connect(primary_opts(None)).await?;
        let mut replica = connect(replica_opts(None)).await?;
        drop_stale_schemas(&mut primary).await?;
        primary.query_drop(format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")).await?;
        // From here on an early return drops `db`, and with it the schema. Pools connect lazily.
        let db = TestDb {
            primary: Pool::new(primary_opts(Some(&name))),
            replica: Pool::new(replica_opts(Some(&name))),
            name,
        };
        wait_for_replica(&mut primary, &mut replica).await.context("test schema did not reach the replica")?;
        let on_replica: Option<String> = replica
            .exec_first("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", (&db.name,))
            .await?;
        if on_replica.is_none() {
            bail!("replica caught up but has no schema {}: is it replicating from this primary?", db.name);
        }
        let _ = primary.disconnect().await;
        let _ = replica.disconnect().await;
        Ok(db)
    }

    /// The schema name (unquoted).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Pool of connections to the primary with this schema as default database.
    pub fn primary(&self) -> &Pool {
        &self.primary
    }

    /// Pool of connections to the replica with this schema as default database.
    pub fn replica(&self) -> &Pool {
        &self.replica
    }

    pub async fn primary_conn(&self) -> Result<Conn> {
        pool_conn(&self.primary, "primary").await
    }

    pub async fn replica_conn(&self) -> Result<Conn> {
        pool_conn(&self.replica, "replica").await
    }

    /// Runs statements on the primary (several separated by `;` are fine).
    pub async fn exec(&self, sql: impl AsRef<str>) -> Result<()> {
        let sql = sql.as_ref();
        self.primary_conn().await?.query_drop(sql).await.with_context(|| format!("on the primary: {sql}"))
    }

    /// Runs a query on the primary, e.g. `let n: Vec<(i64, String)> = db.query("SELECT id, v FROM t").await?`.
    pub async fn query<T: FromRow + Send + 'static>(&self, sql: impl AsRef<str>) -> Result<Vec<T>> {
        let sql = sql.as_ref();
        self.primary_conn().await?.query(sql).await.with_context(|| format!("on the primary: {sql}"))
    }

    /// Runs a query on the replica.
    pub async fn query_replica<T: FromRow + Send + 'static>(&self, sql: impl AsRef<str>) -> Result<Vec<T>> {
        let sql = sql.as_ref();
        self.replica_conn().await?.query(sql).await.with_context(|| format!("on the replica: {sql}"))
    }

    /// Waits until the replica has applied everything executed on the primary so far.
    pub async fn wait_replica_caught_up(&self) -> Result<()> {
        wait_for_replica(&mut self.primary_conn().await?, &mut self.replica_conn().await?).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("WRAITH_KEEP_TEST_DB").is_some() {
            eprintln!("keeping test schema {} (WRAITH_KEEP_TEST_DB is set)", self.name);
            return;
        }
        // Drop can't await, and we may be on the test's runtime thread: do it on a thread with its own runtime.
        let name = self.name.clone();
        let res = std::thread::spawn(move || -> Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut conn = connect(primary_opts(None)).await?;
                within("dropping the test schema", REPLICA_TIMEOUT, async {
                    Ok(conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await?)
                })
                .await?;
                let _ = conn.disconnect().await;
                Ok(())
            })
        })
        .join();
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test schema {}: {e:#}", self.name),
            Err(_) => eprintln!("warning: could not drop test schema {}: cleanup thread panicked", self.name),
        }
    }
}

/// Drops schemas left by test processes that no longer exist (killed runs skip `Drop`). Once per process.
async fn drop_stale_schemas(primary: &mut Conn) -> Result<()> {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    if DONE.initialized() || !std::path::Path::new("/proc/self").exists() {
        return Ok(());
    }
    let names: Vec<String> = primary
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (format!("{SCHEMA_PREFIX}%"),),
        )
        .await?;
    for name in names {
        // Names end in _<pid>_<n>; a schema whose process is gone belongs to nobody.
        let pid = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                primary.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await?;
            }
        }
    }
    let _ = DONE.set(());
    Ok(())
}

// ---------------------------------------------------------------- comparing tables

/// A row as the text protocol returns it: every value as bytes, NULL as `None`.
pub type RawRow = Vec<Option<Vec<u8>>>;

fn raw_row(row: Row) -> RawRow {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            Value::NULL => None,
            Value::Bytes(b) => Some(b),
            // The text protocol only yields the two above; keep anything else comparable anyway.
            other => Some(other.as_sql(true).into_bytes()),
        })
        .collect()
}

/// All rows of `sql`, values as raw bytes (text protocol), for exact comparisons.
pub async fn rows(conn: &mut Conn, sql: impl AsRef<str>) -> Result<Vec<RawRow>> {
    let sql = sql.as_ref();
    let mut out = Vec::new();
    let mut result = conn.query_iter(sql).await.with_context(|| sql.to_string())?;
    result.for_each(|row| out.push(raw_row(row))).await?;
    Ok(out)
}

/// Row count and a 128-bit digest of every value of every row, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    pub digest: u128,
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rows, digest {:032x}", self.rows, self.digest)
    }
}

/// FNV-1a, 128 bits: specified, stable, and plenty to notice any accidental difference (not adversarial input).
struct Fnv128(u128);

impl Fnv128 {
    fn new() -> Self {
        Fnv128(0x6c62272e07bb014262b821756295c58d)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u128;
            self.0 = self.0.wrapping_mul(0x0000000001000000000000000000013B);
        }
    }
}

/// Streams `SELECT <columns_expr> FROM <table> ORDER BY <order_by>` and digests every value of every row.
/// Each value is length-prefixed and NULL is distinct from '' and 'NULL', so equal digests mean equal rows
/// in equal order. `table` is used as given (quote it if needed; `db.t` works).
pub async fn table_checksum(conn: &mut Conn, table: &str, columns_expr: &str, order_by: &str) -> Result<Checksum> {
    let sql = format!("SELECT {columns_expr} FROM {table} ORDER BY {order_by}");
    let mut hash = Fnv128::new();
    let mut count = 0u64;
    let mut result = conn.query_iter(sql.as_str()).await.with_context(|| sql.clone())?;
    result
        .for_each(|row| {
            count += 1;
            for value in raw_row(row) {
                match value {
                    None => hash.write(&[0]),
                    Some(b) => {
                        hash.write(&[1]);
                        hash.write(&(b.len() as u64).to_le_bytes());
                        hash.write(&b);
                    }
                }
            }
            hash.write(&[2]); // end of row
        })
        .await?;
    Ok(Checksum { rows: count, digest: hash.0 })
}

fn show_row(row: &RawRow) -> String {
    let vals: Vec<String> = row
        .iter()
        .map(|v| match v {
            None => "NULL".to_string(),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) => format!("{s:?}"),
                Err(_) => format!("0x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
            },
        })
        .collect();
    format!("({})", vals.join(", "))
}

/// Describes the first difference between two row lists, or `None` if they are equal.
pub fn first_difference(left: &[RawRow], right: &[RawRow]) -> Option<String> {
    let i = left.iter().zip(right).position(|(a, b)| a != b).unwrap_or(left.len().min(right.len()));
    if i == left.len() && i == right.len() {
        return None;
    }
    let show = |rows: &[RawRow]| rows.get(i).map(show_row).unwrap_or_else(|| "<no row>".to_string());
    Some(format!(
        "first difference at row {i} (of {} vs {}):\n   left: {}\n  right: {}",
        left.len(),
        right.len(),
        show(left),
        show(right)
    ))
}

/// Panics with the first differing row if `left != right`.
#[track_caller]
pub fn assert_rows_eq(left: &[RawRow], right: &[RawRow], what: &str) {
    if let Some(diff) = first_difference(left, right) {
        panic!("{what}: rows differ, {diff}");
    }
}

/// Compares two tables (possibly on different servers) by checksum; on a mismatch, reads both to report the
/// first differing row. `columns_expr` and `order_by` apply to both tables.
pub async fn assert_tables_equal(
    left: &Pool,
    left_table: &str,
    right: &Pool,
    right_table: &str,
    columns_expr: &str,
    order_by: &str,
) -> Result<()> {
    let mut l = pool_conn(left, "left server").await?;
    let mut r = pool_conn(right, "right server").await?;
    let lc = table_checksum(&mut l, left_table, columns_expr, order_by).await?;
    let rc = table_checksum(&mut r, right_table, columns_expr, order_by).await?;
    if lc == rc {
        return Ok(());
    }
    let q = |t: &str| format!("SELECT {columns_expr} FROM {t} ORDER BY {order_by}");
    let lrows = rows(&mut l, q(left_table)).await?;
    let rrows = rows(&mut r, q(right_table)).await?;
    let diff = first_difference(&lrows, &rrows).unwrap_or_else(|| "rows read back equal (changed meanwhile?)".into());
    bail!("{left_table} ({lc}) and {right_table} ({rc}) differ: {diff}")
}

// ================================================================ added for the migration tests (tests/migrate_*.rs)

/// Runs `left_sql` and `right_sql` (possibly on different servers, selecting corresponding columns under
/// different names or expressions) and fails with the first differing row. Returns the number of rows.
pub async fn assert_queries_equal(left: &Pool, left_sql: &str, right: &Pool, right_sql: &str) -> Result<usize> {
    let lrows = rows(&mut pool_conn(left, "left server").await?, left_sql).await?;
    let rrows = rows(&mut pool_conn(right, "right server").await?, right_sql).await?;
    match first_difference(&lrows, &rrows) {
        None => Ok(lrows.len()),
        Some(diff) => bail!("{left_sql}\n  differs from\n{right_sql}\n  {diff}"),
    }
}
