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
//!
//! Layout: this module holds what a run is told ([`HookContext`], [`HookProgress`]) and the runner ([`Hooks`]:
//! discovery, execution, failure policy); `event` names the events and says which failures abort; `env` builds
//! the `GH_OST_*` variables in gh-ost's formats and the inherited environment with secrets removed.

mod env;
mod event;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tracing::{info, warn};

use self::env::{inherited_environment, os_hostname};
pub use self::event::HookEvent;
use crate::error::{Error, Result};
use crate::phase::Phase;

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
    /// The phase the run is in (named in wraith's log line for each hook run; gh-ost has no variable for it).
    pub phase: Phase,
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
    /// wraith's own: the last verification's summary (`verified N rows in M chunks (T s), R chunks
    /// repaired`), `off` with --checksum=false, None before the first pass ends.
    pub checksum: Option<String>,
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

    /// The same hooks for a revert (GH_OST_REVERT=true), with the names the revert uses.
    pub(crate) fn for_revert(&self, ghost: &str, old: &str) -> Hooks {
        let mut h = self.clone();
        h.ctx.revert = true;
        h.ctx.ghost_table = ghost.to_string();
        h.ctx.old_table = old.to_string();
        h
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.path.is_some()
    }

    pub fn context(&self) -> &HookContext {
        &self.ctx
    }

    /// The hook files for an event, in the order they run. Empty when hooks are disabled, the directory is
    /// missing or unreadable, or nothing matches.
    async fn files(&self, event: &HookEvent) -> Vec<PathBuf> {
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
            info!(hook = event.name(), phase = %progress.phase, path = %file.display(), "executing hook");
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
    pub(super) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    pub(super) struct TempDir(pub(super) PathBuf);

    impl TempDir {
        pub(super) fn new(tag: &str) -> Self {
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

    pub(super) fn script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    pub(super) fn ctx() -> HookContext {
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

    pub(super) fn progress() -> HookProgress {
        HookProgress {
            phase: Phase::Migrating,
            elapsed: Duration::from_millis(12_345),
            elapsed_copy: Duration::from_micros(2_500_001),
            estimated_rows: 1000,
            copied_rows: 420,
            inspected_lag: Duration::from_millis(1500),
            heartbeat_lag: Duration::from_millis(250),
            progress_pct: 42.0,
            eta: Some(Duration::from_millis(61_900)),
            checksum: None,
        }
    }

    pub(super) fn parse_env(text: &str) -> HashMap<String, String> {
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
