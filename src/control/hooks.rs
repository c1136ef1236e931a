//! gh-ost compatible hooks (`--hooks-path`): at fixed points of the migration, every executable in the hooks
//! directory whose file name starts with the hook's name (`<hooks-path>/gh-ost-on-startup*`) runs, one after
//! the other, with `GH_OST_*` environment variables describing the migration. Existing gh-ost hook scripts
//! work unchanged.
//!
//! This mirrors gh-ost's `go/logic/hooks.go` (`HooksExecutor`) and the way `go/logic/migrator.go` treats the
//! results:
//!
//! * Discovery is `filepath.Glob("<hooks-path>/<hook-name>*")`: matches sorted byte-wise (Go's `sort.Strings`),
//!   so `gh-ost-on-startup-1`, `gh-ost-on-startup-10`, `gh-ost-on-startup-2` run in that order. An empty
//!   `--hooks-path` disables hooks; a missing or unreadable directory, or no matching file, is not an error (Go's
//!   `Glob` ignores I/O errors and returns no matches). Everything that matches is executed as is: hidden,
//!   backup (`gh-ost-on-startup~`), `.sample` files included, exactly like gh-ost. Deviation: gh-ost builds the
//!   pattern by string formatting, so glob metacharacters in the hooks *directory* path would be interpreted;
//!   wraith takes the directory literally.
//! * Each file is executed directly (`exec.Command(hook)`: no arguments, no shell, the working directory is
//!   wraith's), stdin is the null device, stdout and stderr both go to wraith's stderr (gh-ost sets
//!   `cmd.Stdout = cmd.Stderr = os.Stderr`). They are handed the file descriptor itself, not a pipe, so a hook
//!   that leaves a background process holding its output does not keep wraith waiting.
//! * Hooks run synchronously and without a time limit: gh-ost's `cmd.Run()` waits for the hook to exit, and so
//!   does wraith. A hook that never exits stalls the migration at that point, as it would under gh-ost; this is
//!   deliberate (a hook may legitimately wait, e.g. for a human approval before the cut-over) and an operator
//!   sees it in the log line naming the running hook.
//! * The first hook file that fails (non-zero exit, killed by a signal, or cannot be executed at all) stops the
//!   event: later files for the same event do not run (gh-ost's `executeHooks` returns on the first error).
//!   Whether that failure aborts the migration depends on the event, see [`HookEvent::aborts_on_failure`].
//! * A matching file that is not executable (or a directory that matches the name) fails like gh-ost's
//!   `exec` does ("permission denied"): it is not skipped. Skipping would silently drop a gate that an operator
//!   believes is in place (say an approval hook on before-cut-over that lost its `x` bit during a deploy);
//!   failing loudly is what gh-ost does and is the safer reading.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tracing::{info, warn};

use crate::error::{Error, Result};

/// A point of the migration at which hooks run. The events that carry a `String` pass it to the hook in an
/// extra variable (see [`HookEvent::extra_variable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookEvent {
    /// gh-ost-on-startup: before anything is validated or touched.
    Startup,
    /// gh-ost-on-validated: the preconditions passed, nothing created yet.
    Validated,
    /// gh-ost-on-rowcount-complete: the (exact) row count finished.
    RowCountComplete,
    /// gh-ost-on-before-row-copy: ghost table ready, binlog streaming, copy about to start.
    BeforeRowCopy,
    /// gh-ost-on-row-copy-complete: every chunk copied.
    RowCopyComplete,
    /// gh-ost-on-begin-postponed: the cut-over is ready but postponed by the flag file (runs once).
    BeginPostponed,
    /// gh-ost-on-before-cut-over: right before the cut-over (each attempt).
    BeforeCutOver,
    /// gh-ost-on-interactive-command: an operator sent this command to the control server.
    InteractiveCommand(String),
    /// gh-ost-on-success: the migration completed.
    Success,
    /// gh-ost-on-failure: the migration failed.
    Failure,
    /// gh-ost-on-batch-copy-retry: a chunk copy failed with this error and will be retried.
    BatchCopyRetry(String),
    /// gh-ost-on-status: periodic status (every --hooks-status-interval), with the status text.
    Status(String),
    /// gh-ost-on-stop-replication: before stopping replication (--test-on-replica / --migrate-on-replica).
    StopReplication,
    /// gh-ost-on-start-replication: before starting replication again.
    StartReplication,
}

impl HookEvent {
    /// The hook's name, which is also the file name prefix the hooks directory is searched for.
    pub fn name(&self) -> &'static str {
        match self {
            HookEvent::Startup => "gh-ost-on-startup",
            HookEvent::Validated => "gh-ost-on-validated",
            HookEvent::RowCountComplete => "gh-ost-on-rowcount-complete",
            HookEvent::BeforeRowCopy => "gh-ost-on-before-row-copy",
            HookEvent::RowCopyComplete => "gh-ost-on-row-copy-complete",
            HookEvent::BeginPostponed => "gh-ost-on-begin-postponed",
            HookEvent::BeforeCutOver => "gh-ost-on-before-cut-over",
            HookEvent::InteractiveCommand(_) => "gh-ost-on-interactive-command",
            HookEvent::Success => "gh-ost-on-success",
            HookEvent::Failure => "gh-ost-on-failure",
            HookEvent::BatchCopyRetry(_) => "gh-ost-on-batch-copy-retry",
            HookEvent::Status(_) => "gh-ost-on-status",
            HookEvent::StopReplication => "gh-ost-on-stop-replication",
            HookEvent::StartReplication => "gh-ost-on-start-replication",
        }
    }

    /// Whether a failing hook for this event stops the migration (`run` returns `Err`), as in gh-ost's
    /// migrator.go, which either `return err`s the hook's error or drops/logs it:
    ///
    /// * Abort: startup, validated, before-row-copy, row-copy-complete, before-cut-over, stop-replication,
    ///   start-replication (`if err := this.hooksExecutor.onX(); err != nil { return err }`). rowcount-complete
    ///   aborts too when the count runs in the foreground; gh-ost ignores its error when the count runs in the
    ///   background (--concurrent-rowcount), which is the caller's business. before-cut-over and
    ///   begin-postponed fail the cut-over *attempt*, which gh-ost retries (`retryOperation(cutOver)`) before
    ///   giving up; the caller decides on retries the same way it does for any other cut-over error.
    /// * Abort, although the work is done: success. gh-ost's `Migrate()` ends with
    ///   `if err := this.hooksExecutor.onSuccess(); err != nil { return err }`, so a failing on-success hook makes
    ///   gh-ost run the on-failure hooks and exit non-zero, with the tables already swapped. Runbooks rely on the
    ///   exit status ("success hook notifies, and if it cannot, page"), so wraith keeps that: `run` returns
    ///   `Err`, and the caller should report it and exit non-zero without undoing anything.
    /// * Log only: failure (`ExecOnFailureHook` ignores the result; the run is failing already), status
    ///   (`printStatus` logs the error), batch-copy-retry (the result is dropped inside the retry wrapper),
    ///   interactive-command (the error goes back to the operator's socket client, the migration continues).
    pub fn aborts_on_failure(&self) -> bool {
        match self {
            HookEvent::Startup
            | HookEvent::Validated
            | HookEvent::RowCountComplete
            | HookEvent::BeforeRowCopy
            | HookEvent::RowCopyComplete
            | HookEvent::BeginPostponed
            | HookEvent::BeforeCutOver
            | HookEvent::Success
            | HookEvent::StopReplication
            | HookEvent::StartReplication => true,
            HookEvent::InteractiveCommand(_)
            | HookEvent::Failure
            | HookEvent::BatchCopyRetry(_)
            | HookEvent::Status(_) => false,
        }
    }

    /// The event's own variable, if any. gh-ost formats them as
    /// `GH_OST_COMMAND='%s'` and `GH_OST_STATUS='%s'`: the single quotes are part of the value (a quirk of
    /// hooks.go, which builds `NAME=value` strings by hand). Hook scripts written for gh-ost strip them (or
    /// match on them), so wraith keeps them for drop-in compatibility. `GH_OST_LAST_BATCH_COPY_ERROR` is
    /// unquoted in gh-ost and here.
    pub fn extra_variable(&self) -> Option<(&'static str, String)> {
        match self {
            HookEvent::InteractiveCommand(command) => Some(("GH_OST_COMMAND", format!("'{command}'"))),
            HookEvent::Status(status) => Some(("GH_OST_STATUS", format!("'{status}'"))),
            HookEvent::BatchCopyRetry(error) => Some(("GH_OST_LAST_BATCH_COPY_ERROR", error.clone())),
            _ => None,
        }
    }
}

/// Facts fixed for the whole run.
#[derive(Clone, Debug, Default)]
pub struct HookContext {
    pub database: String,
    pub table: String,
    pub ghost_table: String,
    pub old_table: String,
    /// The ALTER as given (gh-ost's `AlterStatement`).
    pub ddl: String,
    /// The host written to, without port (gh-ost's applier `ImpliedKey.Hostname`).
    pub migrated_host: String,
    /// The host the binlog is read from, without port.
    pub inspected_host: String,
    /// The host wraith runs on; left empty, [`Hooks::new`] fills in the OS hostname (gh-ost's
    /// `migrationContext.Hostname`, set from `os.Hostname()`).
    pub executing_host: String,
    /// --hooks-hint, --hooks-hint-owner, --hooks-hint-token.
    pub hint: String,
    pub hint_owner: String,
    pub hint_token: String,
    /// Not --execute (gh-ost's `Noop`).
    pub dry_run: bool,
    pub revert: bool,
    pub instant_ddl: bool,
}

/// Numbers that change as the run goes.
#[derive(Clone, Debug, Default)]
pub struct HookProgress {
    pub elapsed: Duration,
    pub elapsed_copy: Duration,
    /// gh-ost passes `RowsEstimate + RowsDeltaEstimate`.
    pub estimated_rows: u64,
    pub copied_rows: u64,
    pub inspected_lag: Duration,
    /// Time since the last heartbeat seen on the changelog table.
    pub heartbeat_lag: Duration,
    /// 0..=100.
    pub progress_pct: f64,
    /// `None` while unknown.
    pub eta: Option<Duration>,
}

/// gh-ost's `base.ETAUnknown` (`math.MinInt64`), which `GetETASeconds()` returns, and hooks.go prints, while the
/// ETA is unknown. Scripts test `GH_OST_ETA_SECONDS -lt 0`.
const ETA_UNKNOWN: i64 = i64::MIN;

/// Go's `%f`: six decimals; non-finite values spelled the way Go spells them.
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v:.6}")
    }
}

/// Go's `%t`.
fn go_bool(v: bool) -> String {
    if v { "true" } else { "false" }.to_string()
}

/// Whether an inherited variable is kept from hooks because it may hold a password.
///
/// gh-ost hands hooks its whole `os.Environ()`. wraith takes its password from `WRAITH_PASSWORD` (and a
/// MySQL client environment may carry `MYSQL_PWD`), so doing the same would give every hook script, and
/// whatever it spawns or logs (`env > /tmp/debug`, CI output, a notification service), the database password.
/// Hooks never need it: gh-ost itself never exports its password to them, the variables they are meant to use
/// are the `GH_OST_*` ones. So any name containing `PASS` (PASSWORD, PASSWD, PASSPHRASE...) or ending in `_PWD`
/// (MYSQL_PWD), case-insensitively, is dropped. `PWD` and `OLDPWD` (working directories) are kept. The rule is
/// broad on purpose: dropping an unrelated `*PASS*` variable costs little, leaking a secret costs a lot.
pub fn is_secret_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_uppercase();
    name.contains("PASS") || name.ends_with("_PWD")
}

/// The inherited environment minus anything that may hold a password.
fn inherited_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os().filter(|(k, _)| !is_secret_name(k)).collect()
}

/// The OS hostname (what Go's `os.Hostname()` returns), or "" if it cannot be found.
fn os_hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return name.to_string();
        }
    }
    std::process::Command::new("uname")
        .arg("-n")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// Runs the hooks of a migration.
#[derive(Clone, Debug)]
pub struct Hooks {
    path: Option<PathBuf>,
    ctx: HookContext,
}

impl Hooks {
    /// `path` is --hooks-path; `None` or an empty path disables hooks (gh-ost: `HooksPath == ""`).
    pub fn new(path: Option<PathBuf>, mut ctx: HookContext) -> Self {
        let path = path.filter(|p| !p.as_os_str().is_empty());
        if path.is_some() && ctx.executing_host.is_empty() {
            ctx.executing_host = os_hostname();
        }
        Hooks { path, ctx }
    }

    pub fn is_enabled(&self) -> bool {
        self.path.is_some()
    }

    pub fn context(&self) -> &HookContext {
        &self.ctx
    }

    /// The hook files for an event, in the order they run. Empty when hooks are disabled, the directory is
    /// missing or unreadable, or nothing matches.
    pub async fn files(&self, event: &HookEvent) -> Vec<PathBuf> {
        let Some(dir) = &self.path else { return Vec::new() };
        let prefix = event.name().as_bytes();
        let mut names: Vec<OsString> = Vec::new();
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Vec::new() };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(prefix) {
                names.push(name);
            }
        }
        // Byte-wise, like Go's sort.Strings (OsString's order is byte-wise on unix).
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        names.into_iter().map(|n| dir.join(n)).collect()
    }

    /// The `GH_OST_*` variables for an event, in gh-ost's order. Formats follow hooks.go:
    ///
    /// * names and the DDL verbatim (`%s`);
    /// * `GH_OST_ELAPSED_SECONDS`, `GH_OST_ELAPSED_COPY_SECONDS`, `GH_OST_INSPECTED_LAG`, `GH_OST_HEARTBEAT_LAG`:
    ///   seconds as Go `%f` of `Duration.Seconds()`, i.e. six decimals (`12.345678`);
    /// * `GH_OST_PROGRESS`: the percentage as `%f` (`42.000000`);
    /// * `GH_OST_ESTIMATED_ROWS`, `GH_OST_COPIED_ROWS`: integers;
    /// * `GH_OST_ETA_SECONDS`: whole seconds, truncated (`%d` of nanoseconds / 1e9), and
    ///   `-9223372036854775808` (`base.ETAUnknown`) while unknown;
    /// * `GH_OST_DRY_RUN`, `GH_OST_REVERT`: `true` / `false` (`%t`);
    /// * `GH_OST_EXECUTING_HOST`: the OS hostname of the machine running wraith.
    ///
    /// `GH_OST_INSTANT_DDL` (`true` / `false`) is a wraith addition, after gh-ost's fixed set and before the
    /// event's own variable; gh-ost's hooks.go does not export it, as far as recalled, so scripts must not
    /// depend on it if they also run under gh-ost.
    pub fn variables(&self, event: &HookEvent, progress: &HookProgress) -> Vec<(String, String)> {
        let c = &self.ctx;
        let eta = match progress.eta {
            Some(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX).to_string(),
            None => ETA_UNKNOWN.to_string(),
        };
        let mut v: Vec<(&str, String)> = vec![
            ("GH_OST_DATABASE_NAME", c.database.clone()),
            ("GH_OST_TABLE_NAME", c.table.clone()),
            ("GH_OST_GHOST_TABLE_NAME", c.ghost_table.clone()),
            ("GH_OST_OLD_TABLE_NAME", c.old_table.clone()),
            ("GH_OST_DDL", c.ddl.clone()),
            ("GH_OST_ELAPSED_SECONDS", go_float(progress.elapsed.as_secs_f64())),
            ("GH_OST_ELAPSED_COPY_SECONDS", go_float(progress.elapsed_copy.as_secs_f64())),
            ("GH_OST_ESTIMATED_ROWS", progress.estimated_rows.to_string()),
            ("GH_OST_COPIED_ROWS", progress.copied_rows.to_string()),
            ("GH_OST_MIGRATED_HOST", c.migrated_host.clone()),
            ("GH_OST_INSPECTED_HOST", c.inspected_host.clone()),
            ("GH_OST_EXECUTING_HOST", c.executing_host.clone()),
            ("GH_OST_INSPECTED_LAG", go_float(progress.inspected_lag.as_secs_f64())),
            ("GH_OST_HEARTBEAT_LAG", go_float(progress.heartbeat_lag.as_secs_f64())),
            ("GH_OST_PROGRESS", go_float(progress.progress_pct)),
            ("GH_OST_ETA_SECONDS", eta),
            ("GH_OST_HOOKS_HINT", c.hint.clone()),
            ("GH_OST_HOOKS_HINT_OWNER", c.hint_owner.clone()),
            ("GH_OST_HOOKS_HINT_TOKEN", c.hint_token.clone()),
            ("GH_OST_DRY_RUN", go_bool(c.dry_run)),
            ("GH_OST_REVERT", go_bool(c.revert)),
            ("GH_OST_INSTANT_DDL", go_bool(c.instant_ddl)),
        ];
        if let Some(extra) = event.extra_variable() {
            v.push(extra);
        }
        v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// The environment a hook gets (for tests and docs): wraith's own environment without password-bearing
    /// variables (see [`is_secret_name`]), then the `GH_OST_*` variables, which replace inherited variables of
    /// the same name (as Go's `exec` keeps the last of duplicate names). Inherited values that are not UTF-8
    /// are shown lossily here; hooks receive them unchanged.
    pub fn environment(&self, event: &HookEvent, progress: &HookProgress) -> Vec<(String, String)> {
        let ours = self.variables(event, progress);
        let mut env: Vec<(String, String)> = inherited_environment()
            .into_iter()
            .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()))
            .filter(|(k, _)| !ours.iter().any(|(o, _)| o == k))
            .collect();
        env.extend(ours);
        env
    }

    /// Runs every hook file for the event, in glob order; returns Err(crate::Error::Aborted(...)) naming the
    /// hook and its exit status when one fails and the event aborts on failure; logs otherwise.
    pub async fn run(&self, event: &HookEvent, progress: &HookProgress) -> Result<()> {
        let files = self.files(event).await;
        if files.is_empty() {
            return Ok(());
        }
        let ours = self.variables(event, progress);
        let inherited = inherited_environment();
        for file in files {
            info!(hook = event.name(), path = %file.display(), "executing hook");
            let failure = match execute(&file, &inherited, &ours).await {
                Ok(status) if status.success() => continue,
                Ok(status) => format!("failed ({status})"),
                Err(e) => format!("could not be executed ({e})"),
            };
            let message = format!("{} hook {} {failure}", event.name(), file.display());
            if event.aborts_on_failure() {
                return Err(Error::Aborted(message));
            }
            warn!("{message}; continuing, {} hook failures do not stop the migration", event.name());
            return Ok(());
        }
        Ok(())
    }
}

/// Runs one hook file to completion, output to our stderr.
async fn execute(
    file: &Path,
    inherited: &[(OsString, OsString)],
    ours: &[(String, String)],
) -> std::io::Result<ExitStatus> {
    let mut cmd = tokio::process::Command::new(file);
    cmd.env_clear()
        .envs(inherited.iter().map(|(k, v)| (k, v)))
        .envs(ours.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .stderr(std::io::stderr());
    cmd.status().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt;

    /// Tests write scripts then execute them; a fork from a concurrent test while a script is open for writing
    /// makes its exec fail with ETXTBSY. One test at a time.
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let p = std::env::temp_dir().join(format!("wraith-hooks-{tag}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    fn ctx() -> HookContext {
        HookContext {
            database: "shop".into(),
            table: "orders".into(),
            ghost_table: "_orders_gho".into(),
            old_table: "_orders_del".into(),
            ddl: "ADD COLUMN note varchar(20) DEFAULT 'x'".into(),
            migrated_host: "primary-1".into(),
            inspected_host: "replica-2".into(),
            executing_host: String::new(),
            hint: "ticket 42".into(),
            hint_owner: "dba".into(),
            hint_token: "tok".into(),
            dry_run: true,
            revert: false,
            instant_ddl: false,
        }
    }

    fn progress() -> HookProgress {
        HookProgress {
            elapsed: Duration::from_millis(12_345),
            elapsed_copy: Duration::from_micros(2_500_001),
            estimated_rows: 1000,
            copied_rows: 420,
            inspected_lag: Duration::from_millis(1500),
            heartbeat_lag: Duration::from_millis(250),
            progress_pct: 42.0,
            eta: Some(Duration::from_millis(61_900)),
        }
    }

    fn parse_env(text: &str) -> HashMap<String, String> {
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn names_and_abort_policy() {
        assert_eq!(HookEvent::Startup.name(), "gh-ost-on-startup");
        assert_eq!(HookEvent::RowCountComplete.name(), "gh-ost-on-rowcount-complete");
        assert_eq!(HookEvent::Status(String::new()).name(), "gh-ost-on-status");
        for e in [HookEvent::Startup, HookEvent::BeforeCutOver, HookEvent::StopReplication, HookEvent::Success] {
            assert!(e.aborts_on_failure(), "{}", e.name());
        }
        for e in [
            HookEvent::Failure,
            HookEvent::Status("s".into()),
            HookEvent::InteractiveCommand("c".into()),
            HookEvent::BatchCopyRetry("e".into()),
        ] {
            assert!(!e.aborts_on_failure(), "{}", e.name());
        }
    }

    #[test]
    fn secret_names() {
        for n in ["WRAITH_PASSWORD", "MYSQL_PWD", "db_pass", "Some_Passphrase", "PASSWD", "X_MYSQL_PWD"] {
            assert!(is_secret_name(OsStr::new(n)), "{n}");
        }
        for n in ["PWD", "OLDPWD", "PATH", "HOME", "GH_OST_HOOKS_HINT_TOKEN"] {
            assert!(!is_secret_name(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn variable_formats() {
        let hooks = Hooks::new(Some("/nonexistent".into()), ctx());
        let v: HashMap<_, _> = hooks.variables(&HookEvent::Startup, &progress()).into_iter().collect();
        assert_eq!(v["GH_OST_ELAPSED_SECONDS"], "12.345000");
        assert_eq!(v["GH_OST_ELAPSED_COPY_SECONDS"], "2.500001");
        assert_eq!(v["GH_OST_INSPECTED_LAG"], "1.500000");
        assert_eq!(v["GH_OST_HEARTBEAT_LAG"], "0.250000");
        assert_eq!(v["GH_OST_PROGRESS"], "42.000000");
        assert_eq!(v["GH_OST_ETA_SECONDS"], "61");
        assert_eq!(v["GH_OST_DRY_RUN"], "true");
        assert_eq!(v["GH_OST_REVERT"], "false");
        assert_eq!(v["GH_OST_INSTANT_DDL"], "false");
        assert!(!v["GH_OST_EXECUTING_HOST"].is_empty(), "hostname filled in");
        assert!(!v.contains_key("GH_OST_COMMAND") && !v.contains_key("GH_OST_STATUS"));

        let unknown = HookProgress { eta: None, progress_pct: f64::NAN, ..progress() };
        let v: HashMap<_, _> = hooks.variables(&HookEvent::Status("Copy: 1/2".into()), &unknown).into_iter().collect();
        assert_eq!(v["GH_OST_ETA_SECONDS"], "-9223372036854775808");
        assert_eq!(v["GH_OST_PROGRESS"], "NaN");
        assert_eq!(v["GH_OST_STATUS"], "'Copy: 1/2'");
        let v: HashMap<_, _> =
            hooks.variables(&HookEvent::InteractiveCommand("throttle".into()), &progress()).into_iter().collect();
        assert_eq!(v["GH_OST_COMMAND"], "'throttle'");
        let v: HashMap<_, _> =
            hooks.variables(&HookEvent::BatchCopyRetry("deadlock".into()), &progress()).into_iter().collect();
        assert_eq!(v["GH_OST_LAST_BATCH_COPY_ERROR"], "deadlock");

        // An explicit executing host is kept.
        let hooks = Hooks::new(Some("/x".into()), HookContext { executing_host: "runner".into(), ..ctx() });
        assert!(hooks
            .variables(&HookEvent::Startup, &progress())
            .contains(&("GH_OST_EXECUTING_HOST".to_string(), "runner".to_string())));
    }

    #[tokio::test]
    async fn hook_gets_environment_without_passwords() {
        let _serial = SERIAL.lock().await;
        // Names unique to this test: other tests in this binary may read the real WRAITH_PASSWORD.
        // tests/hooks.rs checks WRAITH_PASSWORD and MYSQL_PWD themselves in a process of its own.
        std::env::set_var("WRAITH_HOOKTEST_PASSWORD", "hooktest-secret-value-1");
        std::env::set_var("HOOKTEST_MYSQL_PWD", "hooktest-secret-value-2");
        std::env::set_var("hooktest_db_pass", "hooktest-secret-value-3");
        std::env::set_var("WRAITH_HOOKTEST_KEPT", "visible");
        std::env::set_var("GH_OST_PROGRESS", "inherited value is overridden");
        let dir = TempDir::new("env");
        let out = dir.0.join("env.out");
        script(&dir.0, "gh-ost-on-interactive-command", &format!("env > '{}'", out.display()), 0o755);
        let hooks = Hooks::new(Some(dir.0.clone()), ctx());
        let event = HookEvent::InteractiveCommand("throttle".into());
        hooks.run(&event, &progress()).await.unwrap();
        std::env::remove_var("GH_OST_PROGRESS");

        let text = std::fs::read_to_string(&out).unwrap();
        let env = parse_env(&text);
        assert_eq!(env["GH_OST_DATABASE_NAME"], "shop");
        assert_eq!(env["GH_OST_TABLE_NAME"], "orders");
        assert_eq!(env["GH_OST_GHOST_TABLE_NAME"], "_orders_gho");
        assert_eq!(env["GH_OST_OLD_TABLE_NAME"], "_orders_del");
        assert_eq!(env["GH_OST_DDL"], "ADD COLUMN note varchar(20) DEFAULT 'x'");
        assert_eq!(env["GH_OST_ESTIMATED_ROWS"], "1000");
        assert_eq!(env["GH_OST_COPIED_ROWS"], "420");
        assert_eq!(env["GH_OST_MIGRATED_HOST"], "primary-1");
        assert_eq!(env["GH_OST_INSPECTED_HOST"], "replica-2");
        assert_eq!(env["GH_OST_EXECUTING_HOST"], os_hostname());
        assert_eq!(env["GH_OST_PROGRESS"], "42.000000");
        assert_eq!(env["GH_OST_ETA_SECONDS"], "61");
        assert_eq!(env["GH_OST_HOOKS_HINT"], "ticket 42");
        assert_eq!(env["GH_OST_HOOKS_HINT_OWNER"], "dba");
        assert_eq!(env["GH_OST_HOOKS_HINT_TOKEN"], "tok");
        assert_eq!(env["GH_OST_DRY_RUN"], "true");
        assert_eq!(env["GH_OST_REVERT"], "false");
        assert_eq!(env["GH_OST_COMMAND"], "'throttle'");
        assert_eq!(env["WRAITH_HOOKTEST_KEPT"], "visible");
        assert!(env.contains_key("PATH"));
        for k in env.keys() {
            assert!(!k.to_ascii_uppercase().contains("PASS") && !k.ends_with("_PWD"), "{k} reached the hook");
        }
        assert!(!text.contains("hooktest-secret-value"), "a password value reached the hook:\n{text}");

        // environment() describes the same thing.
        let described: HashMap<_, _> = hooks.environment(&event, &progress()).into_iter().collect();
        assert!(!described.contains_key("WRAITH_HOOKTEST_PASSWORD"));
        assert_eq!(described["WRAITH_HOOKTEST_KEPT"], "visible");
        assert_eq!(described["GH_OST_COMMAND"], "'throttle'");
        for k in ["WRAITH_HOOKTEST_PASSWORD", "HOOKTEST_MYSQL_PWD", "hooktest_db_pass", "WRAITH_HOOKTEST_KEPT"] {
            std::env::remove_var(k);
        }
    }

    #[tokio::test]
    async fn failures_abort_only_for_aborting_events() {
        let _serial = SERIAL.lock().await;
        let dir = TempDir::new("fail");
        script(&dir.0, "gh-ost-on-startup", "exit 3", 0o755);
        script(&dir.0, "gh-ost-on-status", "exit 3", 0o755);
        script(&dir.0, "gh-ost-on-success", "exit 1", 0o755);
        let hooks = Hooks::new(Some(dir.0.clone()), ctx());

        let err = hooks.run(&HookEvent::Startup, &progress()).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Aborted(_)), "{msg}");
        assert!(msg.contains("gh-ost-on-startup") && msg.contains('3'), "{msg}");
        assert!(!err.is_transient());

        hooks.run(&HookEvent::Status("x".into()), &progress()).await.unwrap();
        assert!(hooks.run(&HookEvent::Success, &progress()).await.is_err());
        // No file for these: nothing to do.
        hooks.run(&HookEvent::BeforeCutOver, &progress()).await.unwrap();
        hooks.run(&HookEvent::Failure, &progress()).await.unwrap();
    }

    #[tokio::test]
    async fn glob_order_and_stop_at_first_failure() {
        let _serial = SERIAL.lock().await;
        let dir = TempDir::new("order");
        let log = dir.0.join("log");
        let append = |tag: &str| format!("echo {tag} >> '{}'", log.display());
        script(&dir.0, "gh-ost-on-startup-2", &append("2"), 0o755);
        script(&dir.0, "gh-ost-on-startup-1", &append("1"), 0o755);
        script(&dir.0, "gh-ost-on-startup-10", &append("10"), 0o755);
        script(&dir.0, "gh-ost-on-startup", &append("bare"), 0o755);
        script(&dir.0, "gh-ost-on-status", &append("status"), 0o755);
        script(&dir.0, "x-gh-ost-on-startup", &append("nope"), 0o755);
        let hooks = Hooks::new(Some(dir.0.clone()), ctx());
        hooks.run(&HookEvent::Startup, &progress()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "bare\n1\n10\n2\n");

        // The first failure stops the event, for logged-only events too.
        std::fs::remove_file(&log).unwrap();
        script(&dir.0, "gh-ost-on-validated-a", &format!("{}; exit 1", append("a")), 0o755);
        script(&dir.0, "gh-ost-on-validated-b", &append("b"), 0o755);
        script(&dir.0, "gh-ost-on-failure-a", &format!("{}; exit 1", append("fa")), 0o755);
        script(&dir.0, "gh-ost-on-failure-b", &append("fb"), 0o755);
        assert!(hooks.run(&HookEvent::Validated, &progress()).await.is_err());
        hooks.run(&HookEvent::Failure, &progress()).await.unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "a\nfa\n");
    }

    #[tokio::test]
    async fn non_executable_file_fails_like_gh_ost() {
        let _serial = SERIAL.lock().await;
        let dir = TempDir::new("noexec");
        script(&dir.0, "gh-ost-on-before-cut-over", "exit 0", 0o644);
        script(&dir.0, "gh-ost-on-status", "exit 0", 0o644);
        let hooks = Hooks::new(Some(dir.0.clone()), ctx());
        let msg = hooks.run(&HookEvent::BeforeCutOver, &progress()).await.unwrap_err().to_string();
        assert!(msg.contains("gh-ost-on-before-cut-over") && msg.contains("could not be executed"), "{msg}");
        hooks.run(&HookEvent::Status("s".into()), &progress()).await.unwrap();
    }

    #[tokio::test]
    async fn disabled_missing_or_empty_is_not_an_error() {
        let _serial = SERIAL.lock().await;
        let off = Hooks::new(None, ctx());
        assert!(!off.is_enabled());
        off.run(&HookEvent::Startup, &progress()).await.unwrap();
        assert!(!Hooks::new(Some(PathBuf::new()), ctx()).is_enabled());

        let missing = Hooks::new(Some("/nonexistent/wraith/hooks".into()), ctx());
        assert!(missing.is_enabled());
        missing.run(&HookEvent::Startup, &progress()).await.unwrap();

        let dir = TempDir::new("empty");
        script(&dir.0, "unrelated", "exit 1", 0o755);
        let empty = Hooks::new(Some(dir.0.clone()), ctx());
        empty.run(&HookEvent::Startup, &progress()).await.unwrap();
        assert!(empty.files(&HookEvent::Startup).await.is_empty());
    }
}
