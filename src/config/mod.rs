//! The settings of one migration, by concern. The binary turns argv (and config files) into a `Config`
//! (`cli`, `conffile`); the engine reads only a `Config`, never raw flags.
//!
//! Invariants:
//! - every default is written once, in `defaults`: the `Default` impls here and clap's attributes in `cli`
//!   both read it;
//! - `Config::validate` is the one place that refuses contradictory or out-of-range settings; the CLI calls it,
//!   and so does the engine before it touches a server, so library users get the same refusals;
//! - a `Secret` never prints.

pub mod cli;
pub mod conffile;
pub mod defaults;
mod types;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::mysql::endpoint::{parse_endpoint, Endpoint, Tls};
pub use types::{parse_http_url, parse_metrics_address, CutOverKind, LoadLimits, Secret};

use mysql_async::Opts;

use crate::error::{Error, Result};
use crate::mysql::connect::{self, WriterMode};

#[derive(Debug, Clone)]
pub struct Config {
    pub conn: Connection,
    pub database: String,
    pub table: String,
    /// The ALTER clauses, normalized (what follows `ALTER TABLE t`).
    pub alter: String,
    /// Without it the run only validates (noop).
    pub execute: bool,
    /// Retries of a failing chunk, batch, binlog connection or cut-over attempt.
    pub default_retries: u32,
    pub topology: Topology,
    pub schema: SchemaRules,
    pub tables: HelperTables,
    pub copy: CopySettings,
    pub checksum: ChecksumSettings,
    pub throttle: ThrottleSettings,
    pub cut_over: CutOverSettings,
    pub checkpoint: CheckpointSettings,
    pub revert: RevertSettings,
    pub hooks: HookSettings,
    pub control: ControlSettings,
}

#[derive(Debug, Clone)]
pub struct Connection {
    /// The server inspected and whose lag is measured (normally a replica).
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

/// Which server is migrated, and how the replica is treated.
#[derive(Debug, Clone, Default)]
pub struct Topology {
    pub allow_on_master: bool,
    /// Migrate on the replica itself, stop replication before cut-over, swap and swap back (gh-ost's
    /// --test-on-replica): both tables are left for comparison, replication stays stopped.
    pub test_on_replica: bool,
    /// With --test-on-replica: do not stop replication (the comparison then races with replication).
    pub test_on_replica_skip_replica_stop: bool,
    /// Migrate on the replica itself, including a real cut-over (gh-ost's --migrate-on-replica).
    pub migrate_on_replica: bool,
    /// Set binlog_format=ROW on the inspected replica (and restart its replication) when it is not.
    pub switch_to_rbr: bool,
}

impl Topology {
    /// The ghost table lives on the inspected replica.
    pub fn on_replica(&self) -> bool {
        self.test_on_replica || self.migrate_on_replica
    }
}

/// What the ALTER and the table may do, and what the operator approved.
#[derive(Debug, Clone, Default)]
pub struct SchemaRules {
    pub allow_nullable_unique_key: bool,
    pub approve_renamed_columns: bool,
    pub skip_renamed_columns: bool,
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
}

/// The ghost, old and changelog tables: names, leftovers, and what happens to the old table.
#[derive(Debug, Clone, Default)]
pub struct HelperTables {
    /// Base name for the helper tables instead of the table's own (gh-ost's --force-table-names).
    pub force_table_names: Option<String>,
    pub timestamp_old_table: bool,
    pub initially_drop_old_table: bool,
    pub initially_drop_ghost_table: bool,
    pub ok_to_drop_table: bool,
}

/// wraith's own: the comparison of the ghost with the original after the copy, before the cut-over.
#[derive(Debug, Clone)]
pub struct ChecksumSettings {
    /// On by default; off (`--checksum=false`) cuts over onto an unverified ghost, as gh-ost does.
    pub enabled: bool,
    /// Rounds of repairs of mismatching chunks before the run stops (0: stop at the first mismatch).
    pub max_repairs: u32,
    /// While the cut-over is postponed, a pass repeats this often.
    pub interval: Duration,
    /// Connections comparing chunks in parallel.
    pub connections: usize,
}

impl Default for ChecksumSettings {
    fn default() -> Self {
        ChecksumSettings {
            enabled: true,
            max_repairs: defaults::CHECKSUM_MAX_REPAIRS,
            interval: humantime::parse_duration(defaults::CHECKSUM_INTERVAL).unwrap_or(Duration::from_secs(600)),
            connections: defaults::CHECKSUM_CONNECTIONS,
        }
    }
}

/// The row copy and the binlog apply: sizes, parallelism and the writers' sql_mode.
#[derive(Debug, Clone)]
pub struct CopySettings {
    pub chunk_size: u64,
    pub dml_batch_size: usize,
    /// Parallel copy connections (for a NOT NULL key whose order wraith can encode: `copy::order`).
    pub copy_workers: usize,
    /// Plain secondary indexes are built after the copy, not maintained during it.
    pub defer_secondary_indexes: bool,
    /// Target time per chunk; zero keeps chunk_size fixed.
    pub chunk_time: Duration,
    pub allow_zero_in_date: bool,
    /// Do not add STRICT_ALL_TABLES to the writers' sql_mode.
    pub skip_strict_mode: bool,
    pub panic_on_warnings: bool,
    pub exact_rowcount: bool,
    /// Count rows (exact) in the background while the copy starts, instead of before it.
    pub concurrent_rowcount: bool,
}

impl Default for CopySettings {
    fn default() -> Self {
        CopySettings {
            chunk_size: defaults::CHUNK_SIZE as u64,
            dml_batch_size: defaults::DML_BATCH_SIZE as usize,
            copy_workers: defaults::COPY_WORKERS as usize,
            defer_secondary_indexes: true,
            chunk_time: Duration::from_secs(defaults::CHUNK_TIME_SECONDS),
            allow_zero_in_date: false,
            skip_strict_mode: false,
            panic_on_warnings: false,
            exact_rowcount: false,
            concurrent_rowcount: false,
        }
    }
}

/// When the copy pauses (and when load aborts the run).
#[derive(Debug, Clone)]
pub struct ThrottleSettings {
    pub max_lag: Duration,
    pub heartbeat_interval: Duration,
    pub flag_file: Option<PathBuf>,
    pub additional_flag_file: Option<PathBuf>,
    pub query: Option<String>,
    pub http: Option<String>,
    pub control_replicas: Vec<Endpoint>,
    pub max_load: LoadLimits,
    pub critical_load: LoadLimits,
    /// Re-check a met critical load after this long before aborting (0: abort at once).
    pub critical_load_interval: Duration,
    /// Instead of aborting on critical load, pause everything this long.
    pub critical_load_hibernate: Duration,
    /// Sleep this many times each chunk's copy time after it.
    pub nice_ratio: f64,
    /// The latency pacer: keep the heartbeat's commit latency within this many times its value before the
    /// copy, by slowing the copy (0: off; otherwise more than 1).
    pub max_latency_ratio: f64,
    /// The least copy level the pacer goes down to, in workers (0.25: one worker copying a quarter of the
    /// time); 0.01..=1.
    pub pacer_min_level: f64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            max_lag: Duration::from_millis(defaults::MAX_LAG_MILLIS as u64),
            heartbeat_interval: Duration::from_millis(defaults::HEARTBEAT_INTERVAL_MILLIS as u64),
            flag_file: None,
            additional_flag_file: Some(PathBuf::from(defaults::THROTTLE_ADDITIONAL_FLAG_FILE)),
            query: None,
            http: None,
            control_replicas: Vec::new(),
            max_load: LoadLimits::default(),
            critical_load: LoadLimits::default(),
            critical_load_interval: Duration::ZERO,
            critical_load_hibernate: Duration::ZERO,
            nice_ratio: 0.0,
            max_latency_ratio: defaults::MAX_LATENCY_RATIO,
            pacer_min_level: defaults::PACER_MIN_LEVEL,
        }
    }
}

impl ThrottleSettings {
    /// Every throttle flag file given.
    pub fn flag_files(&self) -> Vec<PathBuf> {
        self.flag_file.iter().chain(&self.additional_flag_file).cloned().collect()
    }
}

/// When and how the tables are swapped.
#[derive(Debug, Clone)]
pub struct CutOverSettings {
    pub kind: CutOverKind,
    pub lock_timeout: Duration,
    /// Wait exponentially longer between failed cut-over attempts (up to the max interval).
    pub exponential_backoff: bool,
    pub exponential_backoff_max_interval: Duration,
    /// The interactive cut-over command must name the table.
    pub force_named: bool,
    pub postpone_flag_file: Option<PathBuf>,
    pub analyze_ghost_table: bool,
}

impl Default for CutOverSettings {
    fn default() -> Self {
        CutOverSettings {
            kind: CutOverKind::Atomic,
            lock_timeout: Duration::from_secs(defaults::CUT_OVER_LOCK_TIMEOUT_SECONDS as u64),
            exponential_backoff: false,
            exponential_backoff_max_interval: Duration::from_secs(defaults::EXPONENTIAL_BACKOFF_MAX_INTERVAL as u64),
            force_named: false,
            postpone_flag_file: None,
            analyze_ghost_table: false,
        }
    }
}

/// gh-ost's --checkpoint and --resume.
#[derive(Debug, Clone)]
pub struct CheckpointSettings {
    /// Write checkpoints to `_<t>_ghk` every `interval`.
    pub enabled: bool,
    pub interval: Duration,
    /// Continue a stopped migration from its latest checkpoint.
    pub resume: bool,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        CheckpointSettings {
            enabled: false,
            interval: Duration::from_secs(defaults::CHECKPOINT_SECONDS as u64),
            resume: false,
        }
    }
}

/// gh-ost's --revert: undo a finished migration from the cut-over point its checkpoint recorded.
#[derive(Debug, Clone, Default)]
pub struct RevertSettings {
    /// Replay the writes made since the cut-over into the old table, then swap it back in.
    pub revert: bool,
    /// The table to revert to (the migration's old table, `_<t>_del`).
    pub old_table: Option<String>,
    /// wraith's instant revert window: after the cut-over, keep the old table in step for this long, so a
    /// revert is a swap.
    pub window: Option<Duration>,
    /// During the window, this file appearing reverts at once (as the `revert` command does).
    pub flag_file: Option<PathBuf>,
}

/// gh-ost hooks: executables `<path>/gh-ost-on-*`.
#[derive(Debug, Clone)]
pub struct HookSettings {
    pub path: Option<PathBuf>,
    pub hint: String,
    pub hint_owner: String,
    pub hint_token: String,
    pub status_interval: Duration,
}

impl Default for HookSettings {
    fn default() -> Self {
        HookSettings {
            path: None,
            hint: String::new(),
            hint_owner: String::new(),
            hint_token: String::new(),
            status_interval: Duration::from_secs(defaults::HOOKS_STATUS_INTERVAL as u64),
        }
    }
}

/// How an operator reaches and watches the run: the control socket, the panic flag file, status output.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    /// Unix socket for interactive commands (gh-ost's --serve-socket-file).
    pub serve_socket_file: Option<PathBuf>,
    pub serve_tcp_port: Option<u16>,
    /// The address the TCP port listens on (wraith's --serve-tcp-bind); loopback by default.
    pub serve_tcp_bind: IpAddr,
    /// A file holding the token TCP clients must present (`auth <token>`); required off loopback.
    pub serve_tcp_token_file: Option<PathBuf>,
    pub initially_drop_socket_file: bool,
    /// The interactive panic command must name the table.
    pub force_named_panic: bool,
    pub panic_flag_file: Option<PathBuf>,
    /// How often a status line is printed.
    pub status_interval: Duration,
    /// --metrics-address: where `/metrics` and `/status` are served (off when None).
    pub metrics_address: Option<std::net::SocketAddr>,
}

impl Default for ControlSettings {
    fn default() -> Self {
        ControlSettings {
            serve_socket_file: None,
            serve_tcp_port: None,
            serve_tcp_bind: defaults::SERVE_TCP_BIND,
            serve_tcp_token_file: None,
            initially_drop_socket_file: false,
            force_named_panic: false,
            panic_flag_file: None,
            status_interval: Duration::from_secs(defaults::STATUS_INTERVAL_SECONDS),
            metrics_address: None,
        }
    }
}

/// --database, --table and --alter are required (checked before anything reads them).
pub(crate) fn require_target(database: &str, table: &str, alter: &str) -> Result<()> {
    for (v, flag, example) in [
        (database, "database", "--database=<schema>"),
        (table, "table", "--table=<table>"),
        (alter, "alter", "--alter='ADD COLUMN c INT'"),
    ] {
        if v.trim().is_empty() {
            return Err(Error::Config(format!("--{flag} is required: give {example}")));
        }
    }
    Ok(())
}

/// The token in --serve-tcp-token-file: the file's content without surrounding whitespace. Refused when
/// the file cannot be read, is empty, or other users may read it (a token anyone can read protects
/// nothing). The token itself never appears in a message.
pub fn read_token_file(path: &Path) -> Result<Secret> {
    let bad = |why: String| Err(Error::Config(format!("--serve-tcp-token-file {}: {why}", path.display())));
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return bad(format!("cannot read it ({e})")),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return bad(format!("other users may read it (mode {:o}): chmod 600 it", mode & 0o777));
        }
    }
    let _ = meta;
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return bad(format!("cannot read it ({e})")),
    };
    let token = text.trim();
    if token.is_empty() {
        return bad("it is empty: put a secret token in it (e.g. `openssl rand -hex 32 > FILE`)".into());
    }
    if token.contains(char::is_whitespace) {
        return bad("the token must be one word (no spaces or line breaks inside)".into());
    }
    Ok(Secret::new(token))
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
            default_retries: defaults::DEFAULT_RETRIES as u32,
            topology: Topology::default(),
            schema: SchemaRules::default(),
            tables: HelperTables::default(),
            copy: CopySettings::default(),
            checksum: ChecksumSettings::default(),
            throttle: ThrottleSettings::default(),
            cut_over: CutOverSettings::default(),
            checkpoint: CheckpointSettings::default(),
            revert: RevertSettings::default(),
            hooks: HookSettings::default(),
            control: ControlSettings::default(),
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
            timeout: Duration::from_secs(defaults::MYSQL_TIMEOUT_SECONDS as u64),
            replica_server_id: defaults::REPLICA_SERVER_ID,
            tls: None,
            skip_port_validation: false,
        }
    }

    /// Options for the inspected server (normally the replica).
    pub(crate) fn inspect_opts(&self) -> Opts {
        let c = &self.conn;
        connect::opts(&c.inspect, &c.user, c.password.expose(), &self.database, c.timeout, c.tls.as_ref())
    }

    /// Options for the primary, where the ghost table lives (--master-user/--master-password when given).
    pub(crate) fn primary_opts(&self, primary: &Endpoint) -> Opts {
        let c = &self.conn;
        let user = c.master_user.as_deref().unwrap_or(&c.user);
        let pw = c.master_password.as_ref().unwrap_or(&c.password).expose();
        connect::opts(primary, user, pw, &self.database, c.timeout, c.tls.as_ref())
    }

    /// How the copy and the applier set their sessions' sql_mode.
    pub(crate) fn writer_mode(&self) -> WriterMode {
        WriterMode::new(self.copy.allow_zero_in_date, !self.copy.skip_strict_mode)
    }

    /// Refuses settings that contradict each other or are out of range. Talks to no server.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        self.validate_revert()?;
        let s = &self.schema;
        if s.approve_renamed_columns && s.skip_renamed_columns {
            return bad(
                "--approve-renamed-columns and --skip-renamed-columns contradict each other: give one of them \
                 (copy the renamed columns' data, or leave them empty)",
            );
        }
        let t = &self.topology;
        if t.test_on_replica && t.migrate_on_replica {
            return bad(
                "--test-on-replica and --migrate-on-replica contradict each other: give one of them (swap and swap \
                 back for a test, or a real cut-over on the replica)",
            );
        }
        // gh-ost's mutual exclusions: the on-replica modes write on the replica --host, --allow-on-master
        // says --host is the primary.
        for (on, flag) in [(t.test_on_replica, "--test-on-replica"), (t.migrate_on_replica, "--migrate-on-replica")] {
            if on && t.allow_on_master {
                return Err(Error::Config(format!(
                    "--allow-on-master and {flag} contradict each other: {flag} migrates on the replica --host, \
                     --allow-on-master on a primary --host; give one of them"
                )));
            }
        }
        if t.test_on_replica_skip_replica_stop && !t.test_on_replica {
            return bad(
                "--test-on-replica-skip-replica-stop only applies with --test-on-replica: add it, or drop the flag",
            );
        }
        if s.include_triggers && s.trigger_suffix.is_empty() {
            return bad("--include-triggers needs --trigger-suffix (e.g. --trigger-suffix=_ght)");
        }
        if !s.trigger_suffix.is_empty()
            && !s.trigger_suffix.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '$')
        {
            return Err(Error::Config(format!("--trigger-suffix={:?}: use letters, digits and _", s.trigger_suffix)));
        }
        let ratio = self.throttle.max_latency_ratio;
        if !ratio.is_finite() || (ratio != 0.0 && ratio <= 1.0) || ratio < 0.0 {
            return Err(Error::Config(format!(
                "--max-latency-ratio={ratio}: give a ratio above 1 (e.g. 2: the copy backs off when commits take \
                 twice as long as before it), or 0 to turn the latency pacer off"
            )));
        }
        let floor = self.throttle.pacer_min_level;
        if !(0.01..=1.0).contains(&floor) {
            return Err(Error::Config(format!(
                "--pacer-min-level={floor}: give a level between 0.01 and 1, in workers (0.25: one worker copying \
                 a quarter of the time); the copy always moves, so a migration always ends"
            )));
        }
        if let Some(u) = &self.throttle.http {
            parse_http_url(u).map_err(|e| Error::Config(format!("--throttle-http: {e}")))?;
        }
        if !(0.0..=100.0).contains(&self.throttle.nice_ratio) {
            return bad("--nice-ratio must be between 0 and 100");
        }
        if self.checkpoint.resume && self.tables.initially_drop_ghost_table {
            return bad(
                "--resume continues with the existing ghost table; it cannot be combined with --initially-drop-ghost-table",
            );
        }
        self.validate_control()?;
        if let Some(t) = &self.conn.tls {
            if t.cert.is_some() != t.key.is_some() {
                return bad(
                    "--ssl-cert and --ssl-key go together: give both (the client certificate and its key), or neither",
                );
            }
            for p in t.ca.iter().chain(&t.cert).chain(&t.key) {
                if !p.exists() {
                    return Err(Error::Config(format!("TLS file {} does not exist", p.display())));
                }
            }
        }
        Ok(())
    }

    /// The TCP control port: off loopback only with a token, and the token file readable by its owner only.
    /// --revert takes no --alter (the checkpoint holds the migration's) and needs --old-table and
    /// --checkpoint; without --revert, --alter is required and --old-table means nothing.
    fn validate_revert(&self) -> Result<()> {
        let r = &self.revert;
        if r.flag_file.is_some() && r.window.is_none() {
            return Err(Error::Config(
                "--revert-flag-file applies during a revert window: add --revert-window=DURATION (e.g. 30m), or drop \
                 the flag"
                    .into(),
            ));
        }
        if let Some(w) = r.window {
            let bad = |m: &str| Err(Error::Config(m.to_string()));
            if w.is_zero() {
                return bad("--revert-window must be a duration above zero (e.g. 30m); leave it out for no window");
            }
            if r.revert {
                return bad("--revert-window belongs to the migration itself, not to a --revert: give one of them");
            }
            if self.topology.test_on_replica {
                return bad("--revert-window and --test-on-replica cannot be combined: the test swaps back by itself");
            }
        }
        if !r.revert {
            if r.old_table.is_some() {
                return Err(Error::Config(
                    "--old-table only applies with --revert: add --revert to undo a migration, or drop the flag".into(),
                ));
            }
            return require_target(&self.database, &self.table, &self.alter);
        }
        require_target(&self.database, &self.table, "-")?;
        let bad = |m: String| Err(Error::Config(m));
        if !self.alter.trim().is_empty() {
            return bad(format!(
                "--revert takes no --alter (the checkpoint records the migration's ALTER): drop --alter={:?}",
                self.alter
            ));
        }
        match r.old_table.as_deref().map(str::trim) {
            None | Some("") => {
                return bad(format!(
                    "--revert needs --old-table: the table the migration left behind, e.g. --old-table=_{}_del",
                    self.table
                ))
            }
            Some(t) if t.eq_ignore_ascii_case(&self.table) => {
                return bad(format!("--old-table={t} is the migrated table itself: name the migration's old table"))
            }
            Some(_) => {}
        }
        if !self.checkpoint.enabled {
            return bad("--revert reads the cut-over point from the checkpoint table: add --checkpoint".into());
        }
        for (on, flag) in [
            (self.checkpoint.resume, "--resume"),
            (self.topology.test_on_replica, "--test-on-replica"),
            (self.schema.attempt_instant_ddl, "--attempt-instant-ddl"),
        ] {
            if on {
                return bad(format!("--revert and {flag} cannot be combined: give one of them"));
            }
        }
        Ok(())
    }

    fn validate_control(&self) -> Result<()> {
        let ctl = &self.control;
        let Some(port) = ctl.serve_tcp_port else {
            if ctl.serve_tcp_token_file.is_some() || !ctl.serve_tcp_bind.is_loopback() {
                return Err(Error::Config(
                    "--serve-tcp-bind and --serve-tcp-token-file apply to the TCP control port: add --serve-tcp-port=N"
                        .into(),
                ));
            }
            return Ok(());
        };
        match &ctl.serve_tcp_token_file {
            Some(path) => read_token_file(path).map(|_| ()),
            None if ctl.serve_tcp_bind.is_loopback() => Ok(()),
            None => Err(Error::Config(format!(
                "--serve-tcp-bind={} would let other machines send commands (panic, throttle-query=...) to port \
                 {port} without authentication: give --serve-tcp-token-file=PATH (a file only you can read, holding \
                 a secret token), or bind to 127.0.0.1",
                ctl.serve_tcp_bind
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::new(Config::connection("h", 3306, "u", ""), "d", "t", "ADD COLUMN x INT")
    }

    fn refusal(c: &Config) -> String {
        c.validate().expect_err("expected a refusal").to_string()
    }

    /// A file in a directory of this test's own, with `mode`.
    fn file(name: &str, content: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wraith-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn gh_ost_mutual_exclusions() {
        let mut c = cfg();
        c.topology.allow_on_master = true;
        c.topology.test_on_replica = true;
        assert!(refusal(&c).contains("--allow-on-master and --test-on-replica contradict each other"));
        c.topology.test_on_replica = false;
        c.topology.migrate_on_replica = true;
        assert!(refusal(&c).contains("--allow-on-master and --migrate-on-replica"));
        let mut c = cfg();
        c.topology.test_on_replica_skip_replica_stop = true;
        assert!(refusal(&c).contains("only applies with --test-on-replica"));
        c.topology.test_on_replica = true;
        c.validate().unwrap();
    }

    #[test]
    fn required_flags_say_how_to_give_them() {
        let mut c = cfg();
        c.table = " ".into();
        assert_eq!(refusal(&c), "invalid configuration: --table is required: give --table=<table>");
    }

    #[test]
    fn the_tcp_port_off_loopback_needs_a_private_token_file() {
        let mut c = cfg();
        c.control.serve_tcp_port = Some(9001);
        c.validate().unwrap();
        c.control.serve_tcp_bind = "::1".parse().unwrap();
        c.validate().unwrap();
        c.control.serve_tcp_bind = "0.0.0.0".parse().unwrap();
        assert!(refusal(&c).contains("give --serve-tcp-token-file=PATH"), "{}", refusal(&c));
        c.control.serve_tcp_token_file = Some(file("good", "s3cret-token\n", 0o600));
        c.validate().unwrap();
        assert_eq!(read_token_file(c.control.serve_tcp_token_file.as_ref().unwrap()).unwrap().expose(), "s3cret-token");
        for (name, content, mode, why) in [
            ("open", "s3cret-token", 0o644, "other users may read it (mode 644): chmod 600 it"),
            ("empty", " \n", 0o600, "it is empty"),
            ("two-words", "a b", 0o600, "must be one word"),
        ] {
            c.control.serve_tcp_token_file = Some(file(name, content, mode));
            let e = refusal(&c);
            assert!(e.contains(why), "{name}: {e}");
            assert!(!e.contains("s3cret"), "{name}: the token is in the message: {e}");
        }
        c.control.serve_tcp_token_file = Some(PathBuf::from("/nonexistent/token"));
        assert!(refusal(&c).contains("cannot read it"));
        // The bind address and the token file mean nothing without the port.
        let mut c = cfg();
        c.control.serve_tcp_bind = "0.0.0.0".parse().unwrap();
        assert!(refusal(&c).contains("add --serve-tcp-port=N"));
    }
}
