//! The validated settings of one migration. The CLI (and later config files) produce a `Config`; the engine
//! reads only this, never raw flags.

pub mod cli;
pub mod conffile;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A password: never printed by `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"<redacted>\"" })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    /// The server inspected and whose binlog is read (normally a replica).
    pub inspect: Endpoint,
    pub user: String,
    pub password: Secret,
    /// Credentials for the primary when they differ.
    pub master_user: Option<String>,
    pub master_password: Option<Secret>,
    /// Use this primary instead of discovering it from the replica's replication source.
    pub assume_master_host: Option<Endpoint>,
    pub timeout: Duration,
    /// server_id the binlog reader registers with.
    pub replica_server_id: u32,
    pub tls: Option<Tls>,
    /// Do not check that the server answers on the port we connected to (it may sit behind a proxy).
    pub skip_port_validation: bool,
}

/// --ssl and friends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tls {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Accept any server certificate (--ssl-allow-insecure).
    pub allow_insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutOverKind {
    /// One RENAME swaps both tables: the table name always exists.
    Atomic,
    /// Two RENAMEs under the same lock (gh-ost's two-step): for servers or tools that need it.
    TwoStep,
}

/// Status-variable thresholds such as `Threads_running=25,Threads_connected=500` (--max-load, --critical-load).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadLimits(pub Vec<(String, f64)>);

impl LoadLimits {
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected status_variable=threshold, e.g. Threads_running=25"))?;
            let v: f64 = value.trim().parse().map_err(|_| format!("{part:?}: threshold is not a number"))?;
            let name = name.trim();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("{part:?}: bad status variable name"));
            }
            out.push((name.to_string(), v));
        }
        Ok(LoadLimits(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for LoadLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(n, v)| format!("{n}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub conn: Connection,
    pub database: String,
    pub table: String,
    /// The ALTER clauses, normalized (what follows `ALTER TABLE t`).
    pub alter: String,
    pub execute: bool,

    pub allow_on_master: bool,
    /// Migrate on the replica itself, stop replication before cut-over, swap and swap back (gh-ost's
    /// --test-on-replica): both tables are left for comparison, replication stays stopped.
    pub test_on_replica: bool,
    /// With --test-on-replica: do not stop replication (the comparison then races with replication).
    pub test_on_replica_skip_replica_stop: bool,
    /// Migrate on the replica itself, including a real cut-over (gh-ost's --migrate-on-replica).
    pub migrate_on_replica: bool,
    pub allow_nullable_unique_key: bool,
    pub approve_renamed_columns: bool,
    pub skip_renamed_columns: bool,
    pub allow_zero_in_date: bool,
    pub panic_on_warnings: bool,
    pub exact_rowcount: bool,
    /// Count rows (exact) in the background while the copy starts, instead of before it.
    pub concurrent_rowcount: bool,
    /// Set binlog_format=ROW on the inspected replica (and restart its replication) when it is not.
    pub switch_to_rbr: bool,
    /// Do not add STRICT_ALL_TABLES to the writers' sql_mode.
    pub skip_strict_mode: bool,
    /// Base name for the helper tables instead of the table's own (gh-ost's --force-table-names).
    pub force_table_names: Option<String>,
    /// Recreate the table's triggers on the ghost table at cut-over (names get `trigger_suffix`).
    pub include_triggers: bool,
    pub trigger_suffix: String,
    pub remove_trigger_suffix_if_exists: bool,
    /// Migrate a table with child-side foreign keys; the new table has none (gh-ost's DANGER flag).
    pub discard_foreign_keys: bool,
    /// Do not look for foreign keys at all (the operator vouches there are none).
    pub skip_foreign_key_checks: bool,
    /// Try `ALTER ... ALGORITHM=INSTANT` on the table first; when MySQL accepts it, no copy is needed.
    pub attempt_instant_ddl: bool,
    pub analyze_ghost_table_before_cutover: bool,

    pub ok_to_drop_table: bool,
    pub initially_drop_old_table: bool,
    pub initially_drop_ghost_table: bool,
    pub timestamp_old_table: bool,

    pub chunk_size: u64,
    pub dml_batch_size: usize,
    /// Parallel copy connections (integer keys only).
    pub copy_workers: usize,
    /// Target time per chunk; zero keeps chunk_size fixed.
    pub chunk_time: Duration,
    pub default_retries: u32,
    pub heartbeat_interval: Duration,

    pub max_lag: Duration,
    pub throttle_flag_file: Option<PathBuf>,
    pub throttle_additional_flag_file: Option<PathBuf>,
    pub throttle_query: Option<String>,
    pub throttle_http: Option<String>,
    pub throttle_control_replicas: Vec<Endpoint>,
    pub max_load: LoadLimits,
    pub critical_load: LoadLimits,
    /// Re-check a met critical load after this long before aborting (0: abort at once).
    pub critical_load_interval: Duration,
    /// Instead of aborting on critical load, pause everything this long.
    pub critical_load_hibernate: Duration,
    /// Sleep this many times each chunk's copy time after it.
    pub nice_ratio: f64,

    pub cut_over: CutOverKind,
    pub cut_over_lock_timeout: Duration,
    /// Wait exponentially longer between failed cut-over attempts (up to the max interval).
    pub cut_over_exponential_backoff: bool,
    pub exponential_backoff_max_interval: Duration,
    pub force_named_cut_over: bool,
    pub force_named_panic: bool,
    pub postpone_cut_over_flag_file: Option<PathBuf>,
    pub panic_flag_file: Option<PathBuf>,

    /// Write checkpoints to `_<t>_ghk` every `checkpoint_interval` (gh-ost's --checkpoint).
    pub checkpoint: bool,
    pub checkpoint_interval: Duration,
    /// Continue a stopped migration from its latest checkpoint.
    pub resume: bool,

    /// gh-ost hooks: executables `<hooks_path>/gh-ost-on-*`.
    pub hooks_path: Option<PathBuf>,
    pub hooks_hint: String,
    pub hooks_hint_owner: String,
    pub hooks_hint_token: String,
    pub hooks_status_interval: Duration,

    /// Unix socket for interactive commands (gh-ost's --serve-socket-file).
    pub serve_socket_file: Option<PathBuf>,
    pub serve_tcp_port: Option<u16>,
    pub initially_drop_socket_file: bool,

    /// How often a status line is printed.
    pub status_interval: Duration,
    pub progress_bar: bool,
}

impl Config {
    /// A config with gh-ost's defaults, for the given target; used by the CLI and by tests.
    pub fn new(conn: Connection, database: &str, table: &str, alter: &str) -> Self {
        Config {
            conn,
            database: database.to_string(),
            table: table.to_string(),
            alter: alter.to_string(),
            execute: false,
            allow_on_master: false,
            test_on_replica: false,
            test_on_replica_skip_replica_stop: false,
            migrate_on_replica: false,
            allow_nullable_unique_key: false,
            approve_renamed_columns: false,
            skip_renamed_columns: false,
            allow_zero_in_date: false,
            panic_on_warnings: false,
            exact_rowcount: false,
            concurrent_rowcount: false,
            switch_to_rbr: false,
            skip_strict_mode: false,
            force_table_names: None,
            include_triggers: false,
            trigger_suffix: String::new(),
            remove_trigger_suffix_if_exists: false,
            discard_foreign_keys: false,
            skip_foreign_key_checks: false,
            attempt_instant_ddl: false,
            analyze_ghost_table_before_cutover: false,
            ok_to_drop_table: false,
            initially_drop_old_table: false,
            initially_drop_ghost_table: false,
            timestamp_old_table: false,
            chunk_size: 1000,
            dml_batch_size: 1000,
            copy_workers: 4,
            chunk_time: Duration::ZERO,
            default_retries: 60,
            heartbeat_interval: Duration::from_millis(100),
            max_lag: Duration::from_millis(1500),
            throttle_flag_file: None,
            throttle_additional_flag_file: Some(PathBuf::from("/tmp/gh-ost.throttle")),
            throttle_query: None,
            throttle_http: None,
            throttle_control_replicas: Vec::new(),
            max_load: LoadLimits::default(),
            critical_load: LoadLimits::default(),
            critical_load_interval: Duration::ZERO,
            critical_load_hibernate: Duration::ZERO,
            nice_ratio: 0.0,
            cut_over: CutOverKind::Atomic,
            cut_over_lock_timeout: Duration::from_secs(3),
            cut_over_exponential_backoff: false,
            exponential_backoff_max_interval: Duration::from_secs(64),
            force_named_cut_over: false,
            force_named_panic: false,
            postpone_cut_over_flag_file: None,
            panic_flag_file: None,
            checkpoint: false,
            checkpoint_interval: Duration::from_secs(300),
            resume: false,
            hooks_path: None,
            hooks_hint: String::new(),
            hooks_hint_owner: String::new(),
            hooks_hint_token: String::new(),
            hooks_status_interval: Duration::from_secs(60),
            serve_socket_file: None,
            serve_tcp_port: None,
            initially_drop_socket_file: false,
            status_interval: Duration::from_secs(5),
            progress_bar: false,
        }
    }

    pub fn connection(host: &str, port: u16, user: &str, password: &str) -> Connection {
        Connection {
            inspect: Endpoint { host: host.to_string(), port },
            user: user.to_string(),
            password: Secret::new(password),
            master_user: None,
            master_password: None,
            assume_master_host: None,
            timeout: Duration::from_secs(10),
            replica_server_id: 99999,
            tls: None,
            skip_port_validation: false,
        }
    }
}

/// Parses `host:port` (port defaults to 3306).
pub fn parse_endpoint(s: &str) -> Result<Endpoint, String> {
    let s = s.trim();
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p.parse::<u16>().map_err(|_| format!("bad port in {s:?}"))?),
        _ => (s, 3306),
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    Ok(Endpoint { host: host.to_string(), port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let c = Config::connection("h", 1, "u", "hunter2");
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn load_limits() {
        let l = LoadLimits::parse("Threads_running=25, Threads_connected=500.5").unwrap();
        assert_eq!(l.0, vec![("Threads_running".into(), 25.0), ("Threads_connected".into(), 500.5)]);
        assert_eq!(l.to_string(), "Threads_running=25,Threads_connected=500.5");
        assert!(LoadLimits::parse("Threads_running").is_err());
        assert!(LoadLimits::parse("x=y").is_err());
        assert!(LoadLimits::parse("").unwrap().is_empty());
    }

    #[test]
    fn endpoints() {
        assert_eq!(parse_endpoint("db1:3307").unwrap(), Endpoint { host: "db1".into(), port: 3307 });
        assert_eq!(parse_endpoint("db1").unwrap().port, 3306);
        assert!(parse_endpoint("db1:x").is_err());
    }
}
