//! Command-line parsing: gh-ost's flag names, defaults and clamps, turned into a validated `Config`.
//! Nothing here talks to a server.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use super::{
    defaults, parse_endpoint, require_target, CheckpointSettings, ChecksumSettings, Config, Connection,
    ControlSettings, CopySettings, CutOverKind, CutOverSettings, HelperTables, HookSettings, LoadLimits,
    RevertSettings, SchemaRules, Secret, ThrottleSettings, Tls, Topology,
};
use crate::error::{Error, Result};
use crate::mysql::alter;

#[derive(Debug, Parser)]
#[command(name = "wraith", version, about = "Online schema change for MySQL, compatible with gh-ost's flags")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Change a table online: copy into a ghost table while replaying the binlog, then swap atomically.
    /// As with gh-ost, a flag given twice takes its last value.
    #[command(args_override_self = true, version)]
    Migrate(Box<MigrateArgs>),
    /// Read the live server and print a plan for the ALTER (strategy, lock and copy time, data that will not
    /// fit, expand/contract steps, the migrate command, verification, rollback). Changes nothing. Exit 0: no
    /// blocking finding; 1: a finding blocks the change; 2: usage or connection error.
    #[command(args_override_self = true)]
    Plan(Box<PlanArgs>),
    /// Send an interactive command to a running migration (what `echo status | nc -U sock` does for gh-ost).
    Ctl(CtlArgs),
    /// Print a shell completion script, e.g. `wraith completions bash > /etc/bash_completion.d/wraith`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `wraith man | man -l -`; `wraith man migrate` for a command's page
    Man {
        /// The command whose page to print (`migrate` or `ctl`); the overview when left out
        command: Option<String>,
    },
}

/// --log-format: how log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default, as before).
    #[default]
    Text,
    /// One JSON object per line: time, level, phase, message, fields.
    Json,
}

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The migration's --serve-socket-file
    #[arg(long, conflicts_with = "tcp")]
    pub socket: Option<PathBuf>,
    /// The migration's --serve-tcp-port, as HOST:PORT
    #[arg(long)]
    pub tcp: Option<String>,
    /// The migration's --serve-tcp-token-file: its token is sent first (`auth <token>`)
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The command, e.g. `status`, `status --json`, `chunk-size=500`, `throttle`, `unpostpone`
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `wraith plan`: migrate's flags (the plan's command repeats those that matter), and the plan's own.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub migrate: MigrateArgs,
    /// Output: `text` (the migration-plan shape DBAs review) or `json` (one object, for CI and review bots)
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Skip the data-fit checks that read the whole table (those an index cannot answer)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_scan: bool,
    /// How long the table's write counters are watched to measure the write rate (0: not measured)
    #[arg(long, default_value = "1s", value_parser = parse_seconds_or_duration)]
    pub write_sample: Duration,
}

impl PlanArgs {
    /// The plan's settings: migrate's flags turned into a validated `Config` exactly as `migrate` does.
    pub fn into_settings(self) -> Result<crate::plan::PlanSettings> {
        if self.write_sample > Duration::from_secs(60) {
            return Err(Error::Config(format!(
                "--write-sample={:?}: at most 60s (the plan waits that long)",
                self.write_sample
            )));
        }
        Ok(crate::plan::PlanSettings {
            config: self.migrate.into_config()?,
            scan: !self.no_scan,
            write_sample: self.write_sample,
        })
    }
}

/// Boolean flags take gh-ost's forms: `--flag`, `--flag=true`, `--flag=false`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    // ---- connection
    /// MySQL host to inspect and read the binlog from (normally a replica)
    #[arg(long, default_value = defaults::HOST)]
    pub host: String,
    #[arg(long, default_value_t = defaults::PORT)]
    pub port: u16,
    #[arg(long, default_value = "")]
    pub user: String,
    /// Prefer --ask-pass, the WRAITH_PASSWORD environment variable or --conf: a password on the command line
    /// is masked in the process list once read (shown as ***), but shell history keeps it.
    #[arg(long, env = "WRAITH_PASSWORD", hide_env_values = true, default_value = "")]
    pub password: String,
    /// User on the primary, when it differs from --user
    #[arg(long)]
    pub master_user: Option<String>,
    #[arg(long, hide_env_values = true)]
    pub master_password: Option<String>,
    /// The primary as host[:port], instead of discovering it from the replica
    #[arg(long)]
    pub assume_master_host: Option<String>,
    /// Seconds to wait for a connection or a read before treating the server as gone
    #[arg(long, default_value_t = 0.0)]
    pub mysql_timeout: f64,
    /// server_id wraith's binlog reader registers with
    #[arg(long, default_value_t = defaults::REPLICA_SERVER_ID)]
    pub replica_server_id: u32,
    /// Prompt for the password on the terminal (keeps it out of the process list and shell history)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ask_pass: bool,
    /// Connect with TLS
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ssl: bool,
    /// CA certificate (PEM) to verify the servers with (implies --ssl)
    #[arg(long)]
    pub ssl_ca: Option<PathBuf>,
    /// Client certificate (PEM), with --ssl-key (implies --ssl)
    #[arg(long)]
    pub ssl_cert: Option<PathBuf>,
    /// Client private key (PEM), with --ssl-cert
    #[arg(long)]
    pub ssl_key: Option<PathBuf>,
    /// Accept any server certificate (encryption without authentication of the server)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ssl_allow_insecure: bool,
    /// Do not check that the server reports the port we connected to (e.g. behind a proxy)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub skip_port_validation: bool,

    // ---- migration
    #[arg(long, default_value = "")]
    pub database: String,
    #[arg(long, default_value = "")]
    pub table: String,
    /// The ALTER clauses (what follows `ALTER TABLE t`)
    #[arg(long, default_value = "")]
    pub alter: String,
    /// Actually migrate; without it the run only validates (noop)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub execute: bool,
    /// Allow --host to be the primary itself (no replica)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub allow_on_master: bool,
    /// Migrate on the replica (--host), stop replication before cut-over, swap tables and swap back: both
    /// tables stay for comparison and replication stays stopped
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub test_on_replica: bool,
    /// With --test-on-replica, do not stop replication before the cut-over
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub test_on_replica_skip_replica_stop: bool,
    /// Run the whole migration, cut-over included, on the replica (--host)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub migrate_on_replica: bool,
    /// Set binlog_format=ROW on the inspected replica and restart its replication when it is not ROW
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub switch_to_rbr: bool,
    /// Do not add STRICT_ALL_TABLES to the sql_mode of wraith's writes
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub skip_strict_mode: bool,
    /// Base name for the helper tables (_<name>_gho, _<name>_ghc, _<name>_del) instead of the table's
    #[arg(long)]
    pub force_table_names: Option<String>,
    /// With --exact-rowcount, count in the background while the copy starts
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub concurrent_rowcount: bool,
    /// gh-ost sets up metadata-lock instruments for its cut-over check; wraith's cut-over needs none
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub allow_setup_metadata_lock_instruments: bool,
    /// Only check that the other flags given exist and parse; exit 0 if so, non-zero if not
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub check_flag: bool,
    /// Print the full error chain on failure
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub stack: bool,
    /// Accepted for gh-ost runbooks: wraith never restarts replication to apply the binlog format (it checks
    /// binlog_format and refuses if it is not ROW; --switch-to-rbr changes it)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub assume_rbr: bool,
    /// Use GTID auto-positioning for the binlog reader (wraith always does; requires gtid_mode=ON)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub gtid: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub allow_nullable_unique_key: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub approve_renamed_columns: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub skip_renamed_columns: bool,
    /// Allow zero dates in DATE/DATETIME columns during copy and apply
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub allow_zero_in_date: bool,
    /// Abort when copying raises warnings (wraith always aborts on rows the new schema would drop)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub panic_on_warnings: bool,
    /// The table's storage engine; only innodb is supported
    #[arg(long, default_value = defaults::STORAGE_ENGINE)]
    pub storage_engine: String,
    /// Count rows exactly (SELECT COUNT(*)) for progress instead of the estimate
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub exact_rowcount: bool,
    /// Recreate the table's triggers on the new table (named with --trigger-suffix)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub include_triggers: bool,
    /// Suffix for the recreated triggers' names (required with --include-triggers)
    #[arg(long, default_value = "")]
    pub trigger_suffix: String,
    /// Remove the suffix instead when a trigger's name already ends with it
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub remove_trigger_suffix_if_exists: bool,
    /// DANGER: migrate a table with (child-side) foreign keys; the new table will have none
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub discard_foreign_keys: bool,
    /// Skip the foreign key check: only when you know the table has none
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub skip_foreign_key_checks: bool,
    /// Try ALGORITHM=INSTANT on the table first; when MySQL accepts it the migration is done at once
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub attempt_instant_ddl: bool,
    /// ANALYZE TABLE the new table before the cut-over, so its statistics are fresh when it takes traffic
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub analyze_ghost_table_before_cutover: bool,
    /// Skip gh-ost's metadata-lock instrument check (wraith does not need it)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub skip_metadata_lock_check: bool,

    // ---- cleanup
    /// Drop the old table (_<t>_del) after a successful cut-over
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub ok_to_drop_table: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub initially_drop_old_table: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub initially_drop_ghost_table: bool,
    /// Name the old table _<t>_<timestamp>_del
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub timestamp_old_table: bool,

    // ---- copy
    /// Rows per copy chunk [default: 1000]. Given (here or in a config file), chunks keep this size, as in
    /// gh-ost; left out, the size adapts to --chunk-time (100ms unless given), starting from 1000
    #[arg(long)]
    pub chunk_size: Option<i64>,
    /// Row changes applied per transaction on the ghost table. wraith's default is 1000 (gh-ost: 10),
    /// because de-duplicated multi-row writes make large batches cheap.
    #[arg(long, default_value_t = defaults::DML_BATCH_SIZE)]
    pub dml_batch_size: i64,
    /// Connections copying chunks at once (wraith only). Used when the migration key is a single NOT NULL
    /// integer column; other keys are copied by one connection with locking reads.
    #[arg(long, default_value_t = defaults::COPY_WORKERS)]
    pub copy_workers: i64,
    /// Leave the ghost's plain secondary indexes off during the copy and build them afterwards with one
    /// online ALTER (wraith only): a sorted build is cheaper than maintaining them row by row, on the
    /// primary and on the replicas. --defer-secondary-indexes=false keeps them during the copy
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub defer_secondary_indexes: bool,
    /// Target time per copy chunk (wraith only), e.g. 500ms: the chunk size then adapts, starting from
    /// --chunk-size, within 10..100000 rows; 0 keeps --chunk-size fixed. Default: 100ms, or 0 when
    /// --chunk-size is given (gh-ost's fixed chunks)
    #[arg(long, value_parser = parse_seconds_or_duration)]
    pub chunk_time: Option<Duration>,
    #[arg(long, default_value_t = defaults::DEFAULT_RETRIES)]
    pub default_retries: i64,
    #[arg(long, default_value_t = defaults::HEARTBEAT_INTERVAL_MILLIS)]
    pub heartbeat_interval_millis: i64,

    // ---- throttling
    #[arg(long, default_value_t = defaults::MAX_LAG_MILLIS)]
    pub max_lag_millis: i64,
    #[arg(long)]
    pub throttle_flag_file: Option<PathBuf>,
    #[arg(long, default_value = defaults::THROTTLE_ADDITIONAL_FLAG_FILE)]
    pub throttle_additional_flag_file: PathBuf,
    /// A query returning a number; > 0 throttles
    #[arg(long)]
    pub throttle_query: Option<String>,
    /// An http:// URL; any answer but 200 throttles
    #[arg(long)]
    pub throttle_http: Option<String>,
    /// Replicas (host:port,...) whose lag also throttles the copy
    #[arg(long, default_value = "")]
    pub throttle_control_replicas: String,
    /// Status thresholds that throttle, e.g. Threads_running=25,Threads_connected=500
    #[arg(long, default_value = "")]
    pub max_load: String,
    /// Status thresholds that abort the migration
    #[arg(long, default_value = "")]
    pub critical_load: String,
    /// When critical-load is met, check again after this long and abort only if it still is (0: at once)
    #[arg(long, default_value_t = 0)]
    pub critical_load_interval_millis: i64,
    /// When critical-load is met, pause the row copy this long instead of aborting (0: abort)
    #[arg(long, default_value_t = 0)]
    pub critical_load_hibernate_seconds: i64,
    /// After each chunk, sleep this many times the chunk's copy time (0: no sleep)
    #[arg(long, default_value_t = 0.0)]
    pub nice_ratio: f64,
    /// The latency pacer (wraith only): keep the primary's commit latency (of the heartbeat) within this
    /// many times its value before the copy, by copying with fewer workers and pausing; 0 turns it off
    #[arg(long, default_value_t = defaults::MAX_LATENCY_RATIO)]
    pub max_latency_ratio: f64,
    /// The least copy level the latency pacer goes down to, in workers (wraith only): 0.25 lets one worker
    /// copy a quarter of the time; lower spares the application more and takes longer (0.01..1)
    #[arg(long, default_value_t = defaults::PACER_MIN_LEVEL)]
    pub pacer_min_level: f64,

    // ---- cut-over
    #[arg(long, default_value = defaults::CUT_OVER)]
    pub cut_over: String,
    #[arg(long, default_value_t = defaults::CUT_OVER_LOCK_TIMEOUT_SECONDS)]
    pub cut_over_lock_timeout_seconds: i64,
    /// Wait exponentially longer between failed cut-over attempts
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub cut_over_exponential_backoff: bool,
    /// Longest wait between cut-over attempts with --cut-over-exponential-backoff
    #[arg(long, default_value_t = defaults::EXPONENTIAL_BACKOFF_MAX_INTERVAL)]
    pub exponential_backoff_max_interval: i64,
    /// The interactive cut-over command must name the table (unpostpone=<table>)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force_named_cut_over: bool,
    /// The interactive panic command must name the table (panic=<table>)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub force_named_panic: bool,
    #[arg(long)]
    pub postpone_cut_over_flag_file: Option<PathBuf>,
    /// When this file appears, abort at once (the original table is left as it was)
    #[arg(long)]
    pub panic_flag_file: Option<PathBuf>,

    // ---- verification (wraith's own)
    /// Compare the ghost with the original under one snapshot after the copy, repair differences, and
    /// never cut over onto a ghost that differs. --checksum=false skips it (unsafe: as gh-ost, unverified)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub checksum: bool,
    /// Rounds of repairs of differing chunks before the run stops (0: stop at the first difference)
    #[arg(long, default_value_t = defaults::CHECKSUM_MAX_REPAIRS)]
    pub checksum_max_repairs: u32,
    /// While the cut-over is postponed, verify again this often (e.g. 10m, 90s)
    #[arg(long, default_value = defaults::CHECKSUM_INTERVAL, value_parser = parse_seconds_or_duration)]
    pub checksum_interval: Duration,

    // ---- checkpointing
    /// Write a checkpoint (copy position and applied binlog GTID set) to _<t>_ghk periodically
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub checkpoint: bool,
    /// Seconds between checkpoints
    #[arg(long, default_value_t = defaults::CHECKPOINT_SECONDS)]
    pub checkpoint_seconds: i64,
    /// Continue a stopped migration from its latest checkpoint (the ghost and _<t>_ghk tables must exist)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub resume: bool,
    /// Undo a completed migration: replay the writes made since its cut-over into --old-table, then swap it
    /// back in (needs --checkpoint on both runs; no --alter)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub revert: bool,
    /// The name of the old table when using --revert, e.g. '_mytable_del'
    #[arg(long)]
    pub old_table: Option<String>,
    /// After the cut-over, keep the old table in step for this long (e.g. 30m), so that `revert` (socket
    /// command or --revert-flag-file) swaps it back at once (wraith only)
    #[arg(long, value_parser = parse_seconds_or_duration)]
    pub revert_window: Option<Duration>,
    /// During the revert window, revert as soon as this file exists (wraith only)
    #[arg(long)]
    pub revert_flag_file: Option<PathBuf>,

    // ---- hooks
    /// Directory of gh-ost-on-* hook executables
    #[arg(long)]
    pub hooks_path: Option<PathBuf>,
    /// Free text passed to hooks as GH_OST_HOOKS_HINT
    #[arg(long, default_value = "")]
    pub hooks_hint: String,
    /// Passed to hooks as GH_OST_HOOKS_HINT_OWNER
    #[arg(long, default_value = "")]
    pub hooks_hint_owner: String,
    /// Passed to hooks as GH_OST_HOOKS_HINT_TOKEN
    #[arg(long, default_value = "")]
    pub hooks_hint_token: String,
    /// Seconds between gh-ost-on-status hook runs
    #[arg(long, default_value_t = defaults::HOOKS_STATUS_INTERVAL)]
    pub hooks_status_interval: i64,

    // ---- config files (expanded into flags before parsing; listed here for --help)
    /// gh-ost INI file: [client] user/password(/host/port), [osc] flag=value
    #[arg(long)]
    pub conf: Option<PathBuf>,
    /// YAML file of flag: value (durations like 1500ms allowed); command-line flags override it
    #[arg(long)]
    pub config: Option<PathBuf>,

    // ---- serving
    /// Unix socket file to serve interactive commands on
    #[arg(long)]
    pub serve_socket_file: Option<PathBuf>,
    /// TCP port (on 127.0.0.1, or --serve-tcp-bind) to serve interactive commands on
    #[arg(long)]
    pub serve_tcp_port: Option<u16>,
    /// Address for --serve-tcp-port to listen on (wraith only). Anything but loopback needs
    /// --serve-tcp-token-file
    #[arg(long, default_value_t = defaults::SERVE_TCP_BIND)]
    pub serve_tcp_bind: std::net::IpAddr,
    /// File holding a token that TCP clients must send first, as `auth <token>` (wraith only; the file must
    /// be readable by its owner only)
    #[arg(long)]
    pub serve_tcp_token_file: Option<PathBuf>,
    /// Remove a leftover socket file at start
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub initially_drop_socket_file: bool,

    /// Serve Prometheus metrics on http://HOST:PORT/metrics and the status as JSON on /status (wraith only;
    /// off by default). `:PORT` or `PORT` listens on 127.0.0.1; give a host (0.0.0.0) for a scraper elsewhere
    #[arg(long, value_parser = super::parse_metrics_address)]
    pub metrics_address: Option<std::net::SocketAddr>,

    // ---- output
    /// Log lines as text (default) or JSON, one object per line (wraith only)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub verbose: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub debug: bool,
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub quiet: bool,
    /// Time between status lines: seconds, or a duration like 500ms or 1m
    #[arg(long, default_value = defaults::STATUS_INTERVAL_SECONDS.to_string(), value_parser = parse_seconds_or_duration)]
    pub status_interval: Duration,
}

fn parse_seconds_or_duration(s: &str) -> std::result::Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(secs) if secs >= 0.0 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err("must not be negative".into()),
        Err(_) => humantime::parse_duration(s.trim()).map_err(|e| e.to_string()),
    }
}

/// Go's flag package accepts `-flag` as well as `--flag`; runbooks use both. Rewrites single-dash long
/// flags to the double-dash form clap expects (single letters such as `-h` and `-V` are left alone).
pub fn normalize_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for a in args {
        if passthrough {
            out.push(a);
            continue;
        }
        if a == "--" {
            passthrough = true;
        } else if a.starts_with('-') && !a.starts_with("--") && a.len() > 2 {
            let name = a[1..].split('=').next().unwrap_or_default();
            if name.len() > 1 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                out.push(format!("-{a}"));
                continue;
            }
        }
        out.push(a);
    }
    out
}

fn clamp(v: i64, lo: i64, hi: i64) -> i64 {
    v.clamp(lo, hi)
}

fn limits(s: &str, flag: &str) -> Result<LoadLimits> {
    LoadLimits::parse(s).map_err(|e| Error::Config(format!("--{flag}: {e}")))
}

/// A count of time units that cannot be negative. (Flags gh-ost clamps are clamped instead, as there.)
fn non_negative(v: i64, flag: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Config(format!("--{flag}={v}: must not be negative (0 or more)")))
}

impl MigrateArgs {
    /// Turns the flags into the engine's `Config` (gh-ost's clamps applied), then validates it.
    pub fn into_config(self) -> Result<Config> {
        let alter = if self.revert { "-" } else { &self.alter };
        require_target(&self.database, &self.table, alter)?;
        if !self.storage_engine.eq_ignore_ascii_case("innodb") {
            return Err(Error::Config(format!(
                "--storage-engine={} is not supported; wraith migrates InnoDB tables only",
                self.storage_engine
            )));
        }
        let kind = match self.cut_over.as_str() {
            "atomic" | "default" | "" => CutOverKind::Atomic,
            "two-step" => CutOverKind::TwoStep,
            other => return Err(Error::Config(format!("--cut-over={other}: expected atomic or two-step"))),
        };
        if self.switch_to_rbr && self.assume_rbr {
            return Err(Error::Config(
                "--switch-to-rbr and --assume-rbr contradict each other (as in gh-ost): give one of them".into(),
            ));
        }
        if self.mysql_timeout < 0.0 || !self.mysql_timeout.is_finite() {
            return Err(Error::Config(format!(
                "--mysql-timeout={}: must be a number of seconds, 0 or more (0: the default of {} s)",
                self.mysql_timeout,
                defaults::MYSQL_TIMEOUT_SECONDS
            )));
        }
        // --revert takes its ALTER from the checkpoint; one given anyway is refused by `Config::validate`.
        let alter = match self.revert && self.alter.trim().is_empty() {
            true => String::new(),
            false => alter::normalize(&self.alter, &self.table)?,
        };
        let mut c = Config::new(self.connection()?, &self.database, &self.table, &alter);
        c.execute = self.execute;
        c.default_retries = clamp(self.default_retries, 1, 100_000) as u32;
        c.topology = Topology {
            allow_on_master: self.allow_on_master,
            test_on_replica: self.test_on_replica,
            test_on_replica_skip_replica_stop: self.test_on_replica_skip_replica_stop,
            migrate_on_replica: self.migrate_on_replica,
            switch_to_rbr: self.switch_to_rbr,
        };
        c.schema = SchemaRules {
            allow_nullable_unique_key: self.allow_nullable_unique_key,
            approve_renamed_columns: self.approve_renamed_columns,
            skip_renamed_columns: self.skip_renamed_columns,
            include_triggers: self.include_triggers,
            trigger_suffix: self.trigger_suffix,
            remove_trigger_suffix_if_exists: self.remove_trigger_suffix_if_exists,
            discard_foreign_keys: self.discard_foreign_keys,
            skip_foreign_key_checks: self.skip_foreign_key_checks,
            attempt_instant_ddl: self.attempt_instant_ddl,
        };
        c.tables = HelperTables {
            force_table_names: self.force_table_names.filter(|n| !n.is_empty()),
            timestamp_old_table: self.timestamp_old_table,
            initially_drop_old_table: self.initially_drop_old_table,
            initially_drop_ghost_table: self.initially_drop_ghost_table,
            ok_to_drop_table: self.ok_to_drop_table,
        };
        // gh-ost's clamps.
        c.copy = CopySettings {
            chunk_size: clamp(self.chunk_size.unwrap_or(defaults::CHUNK_SIZE), 10, 100_000) as u64,
            dml_batch_size: clamp(self.dml_batch_size, 1, 10_000) as usize,
            copy_workers: clamp(self.copy_workers, 1, 64) as usize,
            defer_secondary_indexes: self.defer_secondary_indexes,
            // Chunks sized by time unless --chunk-size was given (gh-ost's fixed size is kept then).
            chunk_time: match (self.chunk_time, self.chunk_size) {
                (Some(t), _) => t,
                (None, Some(_)) => Duration::from_secs(defaults::CHUNK_TIME_SECONDS),
                (None, None) => Duration::from_millis(defaults::CHUNK_TIME_MILLIS_UNLESS_SIZED),
            },
            allow_zero_in_date: self.allow_zero_in_date,
            skip_strict_mode: self.skip_strict_mode,
            panic_on_warnings: self.panic_on_warnings,
            exact_rowcount: self.exact_rowcount,
            concurrent_rowcount: self.concurrent_rowcount,
        };
        c.throttle = ThrottleSettings {
            max_lag: Duration::from_millis(clamp(self.max_lag_millis, 100, i64::MAX) as u64),
            heartbeat_interval: Duration::from_millis(clamp(self.heartbeat_interval_millis, 100, 1_000) as u64),
            flag_file: self.throttle_flag_file,
            additional_flag_file: Some(self.throttle_additional_flag_file),
            query: self.throttle_query.filter(|q| !q.trim().is_empty()),
            http: self.throttle_http.filter(|q| !q.trim().is_empty()),
            control_replicas: self
                .throttle_control_replicas
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(parse_endpoint)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::Config(format!("--throttle-control-replicas: {e}")))?,
            max_load: limits(&self.max_load, "max-load")?,
            critical_load: limits(&self.critical_load, "critical-load")?,
            critical_load_interval: Duration::from_millis(non_negative(
                self.critical_load_interval_millis,
                "critical-load-interval-millis",
            )?),
            critical_load_hibernate: Duration::from_secs(non_negative(
                self.critical_load_hibernate_seconds,
                "critical-load-hibernate-seconds",
            )?),
            nice_ratio: self.nice_ratio,
            max_latency_ratio: self.max_latency_ratio,
            pacer_min_level: self.pacer_min_level,
        };
        c.cut_over = CutOverSettings {
            kind,
            lock_timeout: Duration::from_secs(clamp(self.cut_over_lock_timeout_seconds, 1, 10) as u64),
            exponential_backoff: self.cut_over_exponential_backoff,
            exponential_backoff_max_interval: Duration::from_secs(
                non_negative(self.exponential_backoff_max_interval, "exponential-backoff-max-interval")?.max(1),
            ),
            force_named: self.force_named_cut_over,
            postpone_flag_file: self.postpone_cut_over_flag_file,
            analyze_ghost_table: self.analyze_ghost_table_before_cutover,
        };
        c.checksum = ChecksumSettings {
            enabled: self.checksum,
            max_repairs: self.checksum_max_repairs,
            interval: self.checksum_interval.max(Duration::from_secs(1)),
            ..ChecksumSettings::default()
        };
        c.checkpoint = CheckpointSettings {
            enabled: self.checkpoint,
            interval: Duration::from_secs(non_negative(self.checkpoint_seconds, "checkpoint-seconds")?.max(1)),
            resume: self.resume,
        };
        c.revert = RevertSettings {
            revert: self.revert,
            old_table: self.old_table.filter(|t| !t.trim().is_empty()),
            window: self.revert_window,
            flag_file: self.revert_flag_file.filter(|p| !p.as_os_str().is_empty()),
        };
        c.hooks = HookSettings {
            path: self.hooks_path.filter(|p| !p.as_os_str().is_empty()),
            hint: self.hooks_hint,
            hint_owner: self.hooks_hint_owner,
            hint_token: self.hooks_hint_token,
            status_interval: Duration::from_secs(
                non_negative(self.hooks_status_interval, "hooks-status-interval")?.max(1),
            ),
        };
        c.control = ControlSettings {
            serve_socket_file: self.serve_socket_file,
            serve_tcp_port: self.serve_tcp_port,
            serve_tcp_bind: self.serve_tcp_bind,
            serve_tcp_token_file: self.serve_tcp_token_file.filter(|p| !p.as_os_str().is_empty()),
            initially_drop_socket_file: self.initially_drop_socket_file,
            force_named_panic: self.force_named_panic,
            panic_flag_file: self.panic_flag_file,
            status_interval: self.status_interval.max(Duration::from_millis(100)),
            metrics_address: self.metrics_address,
        };
        c.validate()?;
        Ok(c)
    }

    fn connection(&self) -> Result<Connection> {
        let assume = match &self.assume_master_host {
            Some(s) => Some(parse_endpoint(s).map_err(|e| Error::Config(format!("--assume-master-host: {e}")))?),
            None => None,
        };
        let mut conn = Config::connection(&self.host, self.port, &self.user, &self.password);
        conn.master_user = self.master_user.clone();
        conn.master_password = self.master_password.clone().map(Secret::new);
        conn.assume_master_host = assume;
        if self.mysql_timeout > 0.0 {
            conn.timeout = Duration::from_secs_f64(self.mysql_timeout);
        }
        conn.replica_server_id = self.replica_server_id;
        conn.skip_port_validation = self.skip_port_validation;
        if self.ssl
            || self.ssl_ca.is_some()
            || self.ssl_cert.is_some()
            || self.ssl_key.is_some()
            || self.ssl_allow_insecure
        {
            conn.tls = Some(Tls {
                ca: self.ssl_ca.clone(),
                cert: self.ssl_cert.clone(),
                key: self.ssl_key.clone(),
                allow_insecure: self.ssl_allow_insecure,
            });
        }
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> std::result::Result<Cli, clap::Error> {
        let v = normalize_args(args.iter().map(|s| s.to_string()));
        Cli::try_parse_from(v)
    }

    fn migrate(args: &[&str]) -> Config {
        let mut v = vec!["wraith", "migrate"];
        v.extend_from_slice(args);
        let Command::Migrate(m) = parse(&v).unwrap().command else { panic!("migrate") };
        m.into_config().unwrap()
    }

    #[test]
    fn revert_takes_the_old_table_and_the_checkpoint_but_no_alter() {
        let c = migrate(&["--database=d", "--table=t", "--revert", "--old-table=_t_del", "--checkpoint", "--execute"]);
        assert!(c.revert.revert && c.revert.old_table.as_deref() == Some("_t_del") && c.alter.is_empty());
        let names = crate::migration::TableNames::for_config(&c);
        assert_eq!((names.ghost.as_str(), names.old.as_str()), ("_t_del", "_t_rev_del"), "gh-ost's revert names");
        let refused = |extra: &[&str]| {
            let mut v = vec!["wraith", "migrate", "--database=d", "--table=t"];
            v.extend_from_slice(extra);
            let Command::Migrate(m) = parse(&v).unwrap().command else { panic!("migrate") };
            m.into_config().expect_err("expected a refusal").to_string()
        };
        for (extra, says) in [
            (&["--revert", "--old-table=_t_del"][..], "add --checkpoint"),
            (
                &["--revert", "--checkpoint"][..],
                "--revert needs --old-table: the table the migration left behind, e.g. --old-table=_t_del",
            ),
            (
                &["--revert", "--old-table=_t_del", "--checkpoint", "--alter=add column x int"][..],
                "--revert takes no --alter",
            ),
            (&["--revert", "--old-table=T", "--checkpoint"][..], "is the migrated table itself"),
            (
                &["--revert", "--old-table=_t_del", "--checkpoint", "--resume"][..],
                "--revert and --resume cannot be combined",
            ),
            (&["--old-table=_t_del", "--alter=add column x int"][..], "--old-table only applies with --revert"),
            (&["--revert=false", "--old-table=_t_del", "--alter=x int"][..], "--old-table only applies with --revert"),
            (&[][..], "--alter is required"),
        ] {
            let msg = refused(extra);
            assert!(msg.contains(says), "{extra:?}: {msg}");
        }
    }

    #[test]
    fn gh_ost_flag_styles() {
        let c = migrate(&[
            "-database=d",
            "--table",
            "t",
            "--alter",
            "add column x int",
            "--execute",
            "-chunk-size=5",
            "--allow-on-master=false",
            "--ok-to-drop-table=true",
        ]);
        assert_eq!(c.database, "d");
        assert_eq!(c.alter, "add column x int");
        assert!(c.execute && !c.topology.allow_on_master && c.tables.ok_to_drop_table);
        assert_eq!(c.copy.chunk_size, 10, "chunk-size is clamped to 10..100000 like gh-ost");
        let c = migrate(&["--database=d", "--table=t", "--alter=engine=innodb", "--alter", "add column y int"]);
        assert_eq!(c.alter, "add column y int", "the last --alter wins, as in gh-ost runbooks");
    }

    #[test]
    fn defaults_match_gh_ost() {
        let c = migrate(&["--database=d", "--table=t", "--alter=engine=innodb"]);
        assert!(!c.execute);
        assert_eq!(c.copy.chunk_size, 1000);
        assert_eq!(c.copy.dml_batch_size, 1000);
        assert_eq!(c.default_retries, 60);
        assert_eq!(c.throttle.max_lag, Duration::from_millis(1500));
        assert_eq!(c.cut_over.lock_timeout, Duration::from_secs(3));
        assert_eq!(c.control.status_interval, Duration::from_secs(5));
        assert_eq!(c.throttle.additional_flag_file.as_deref(), Some(std::path::Path::new("/tmp/gh-ost.throttle")));
    }

    /// Chunks are sized by time unless --chunk-size is given (its gh-ost meaning, a fixed size, is kept then);
    /// an explicit --chunk-time wins either way.
    #[test]
    fn chunks_are_sized_by_time_unless_a_size_is_given() {
        let base = ["--database=d", "--table=t", "--alter=x int"];
        let with = |extra: &[&str]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            let c = migrate(&v);
            (c.copy.chunk_size, c.copy.chunk_time)
        };
        let ms = Duration::from_millis;
        assert_eq!(with(&[]), (1000, ms(100)), "starts at 1000 rows, toward 100ms");
        assert_eq!(with(&["--chunk-size=1000"]), (1000, Duration::ZERO), "given, even at the default: fixed");
        assert_eq!(with(&["--chunk-size=500", "--chunk-time=1s"]), (500, ms(1000)));
        assert_eq!(with(&["--chunk-time=0"]), (1000, Duration::ZERO), "0 turns it off");
        assert_eq!(with(&["--chunk-time=100ms"]), (1000, ms(100)));
    }

    #[test]
    fn secondary_indexes_are_deferred_unless_turned_off() {
        let base = ["--database=d", "--table=t", "--alter=x int"];
        assert!(migrate(&base).copy.defer_secondary_indexes);
        let mut off = base.to_vec();
        off.push("--defer-secondary-indexes=false");
        assert!(!migrate(&off).copy.defer_secondary_indexes);
    }

    #[test]
    fn the_latency_pacer_is_on_by_default_and_0_turns_it_off() {
        let base = ["--database=d", "--table=t", "--alter=x int"];
        assert_eq!(migrate(&base).throttle.max_latency_ratio, 2.0);
        let mut on = base.to_vec();
        on.push("--max-latency-ratio=3");
        assert_eq!(migrate(&on).throttle.max_latency_ratio, 3.0);
        let mut off = base.to_vec();
        off.push("--max-latency-ratio=0");
        assert_eq!(migrate(&off).throttle.max_latency_ratio, 0.0);
        assert_eq!(migrate(&base).throttle.pacer_min_level, 0.25);
        let mut floor = base.to_vec();
        floor.push("--pacer-min-level=0.05");
        assert_eq!(migrate(&floor).throttle.pacer_min_level, 0.05);
        for bad in ["0", "-1", "1.5", "NaN"] {
            let e = refused(&[&format!("--pacer-min-level={bad}")]);
            assert!(e.contains("--pacer-min-level") && e.contains("between 0.01 and 1"), "{e}");
        }
        for bad in ["1", "0.5", "-2", "NaN", "inf"] {
            let e = refused(&[&format!("--max-latency-ratio={bad}")]);
            assert!(e.contains("give a ratio above 1") && e.contains("or 0 to turn the latency pacer off"), "{e}");
        }
    }

    fn refused(args: &[&str]) -> String {
        let mut v = vec!["wraith", "migrate", "--database=d", "--table=t", "--alter=engine=innodb"];
        v.extend_from_slice(args);
        let Command::Migrate(m) = parse(&v).unwrap().command else { panic!("migrate") };
        m.into_config().unwrap_err().to_string()
    }

    #[test]
    fn negative_counts_are_refused_where_gh_ost_does_not_clamp() {
        assert!(refused(&["--mysql-timeout=-1"]).contains("0 or more"));
        for flag in ["critical-load-interval-millis", "critical-load-hibernate-seconds", "checkpoint-seconds"] {
            let e = refused(&[&format!("--{flag}=-3")]);
            assert!(e.contains(&format!("--{flag}=-3: must not be negative")), "{e}");
        }
        // What gh-ost clamps stays clamped.
        assert_eq!(migrate(&["--database=d", "--table=t", "--alter=x int", "--chunk-size=-5"]).copy.chunk_size, 10);
        assert!(refused(&["--switch-to-rbr", "--assume-rbr"]).contains("contradict each other"));
    }

    #[test]
    fn control_flags() {
        let c = migrate(&["--database=d", "--table=t", "--alter=x int", "--serve-tcp-port=9001"]);
        assert_eq!(c.control.serve_tcp_bind.to_string(), "127.0.0.1");
        assert!(refused(&["--serve-tcp-port=9001", "--serve-tcp-bind=0.0.0.0"]).contains("--serve-tcp-token-file"));
        assert!(parse(&["wraith", "migrate", "--serve-tcp-bind=not-an-address"]).is_err());
        let Command::Ctl(a) =
            parse(&["wraith", "ctl", "--tcp", "h:1", "--token-file", "/x", "status"]).unwrap().command
        else {
            panic!("ctl")
        };
        assert_eq!(a.token_file.as_deref(), Some(std::path::Path::new("/x")));
        let Command::Ctl(a) = parse(&["wraith", "ctl", "--socket", "/s", "status", "--json"]).unwrap().command else {
            panic!("ctl")
        };
        assert_eq!(a.command, ["status", "--json"], "a command's own flags are the command's");
    }

    #[test]
    fn observability_flags() {
        let c = migrate(&["--database=d", "--table=t", "--alter=x int", "--metrics-address=:9187"]);
        assert_eq!(c.control.metrics_address.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:9187"));
        let c = migrate(&["--database=d", "--table=t", "--alter=x int"]);
        assert_eq!(c.control.metrics_address, None, "off by default");
        let e = parse(&["wraith", "migrate", "--metrics-address=example.com:1"]).unwrap_err().to_string();
        assert!(e.contains("IP address"), "{e}");
        let Command::Migrate(m) = parse(&["wraith", "migrate", "--log-format=json"]).unwrap().command else {
            panic!("migrate")
        };
        assert_eq!(m.log_format, LogFormat::Json);
        assert!(parse(&["wraith", "migrate", "--log-format=xml"]).is_err());
        assert!(matches!(parse(&["wraith", "completions", "zsh"]).unwrap().command, Command::Completions { .. }));
        assert!(parse(&["wraith", "completions", "tcsh"]).is_err());
    }

    #[test]
    fn plan_takes_migrates_flags_and_its_own() {
        let v =
            ["wraith", "plan", "--database=d", "--table=t", "--alter=add column x int", "--format=json", "--no-scan"];
        let Command::Plan(p) = parse(&v).unwrap().command else { panic!("plan") };
        assert_eq!(p.format, "json");
        let s = p.into_settings().unwrap();
        assert!(!s.scan && s.config.alter == "add column x int" && s.write_sample == Duration::from_secs(1));
        assert!(parse(&["wraith", "plan", "--format=yaml"]).is_err());
        let Command::Plan(p) = parse(&["wraith", "plan", "--table=t", "--alter=x"]).unwrap().command else {
            panic!("plan")
        };
        assert!(p.into_settings().unwrap_err().to_string().contains("--database"));
    }

    #[test]
    fn unknown_flags_and_missing_values_are_errors() {
        assert!(parse(&["wraith", "migrate", "--no-such-flag"]).is_err());
        let Command::Migrate(m) = parse(&["wraith", "migrate", "--table=t", "--alter=x"]).unwrap().command else {
            panic!("migrate")
        };
        assert!(m.into_config().unwrap_err().to_string().contains("--database"));
    }
}
