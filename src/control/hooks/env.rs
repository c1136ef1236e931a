//! The environment a hook runs with: wraith's own environment minus anything that may hold a password, then
//! the `GH_OST_*` variables of the run, which override inherited variables of the same name.
//!
//! Invariants: variable names, order and number formats are gh-ost's (Go's `%f`, `%t`, `%d`, and
//! `base.ETAUnknown` while the ETA is unknown); no inherited variable whose name looks password-bearing
//! (`*PASS*`, `*_PWD`) ever reaches a hook.

use std::ffi::{OsStr, OsString};
use std::process::Stdio;

use super::{HookEvent, HookProgress, Hooks};

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
fn is_secret_name(name: &OsStr) -> bool {
    let name = name.to_string_lossy().to_ascii_uppercase();
    name.contains("PASS") || name.ends_with("_PWD")
}

/// The inherited environment minus anything that may hold a password.
pub(super) fn inherited_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os().filter(|(k, _)| !is_secret_name(k)).collect()
}

/// The OS hostname (what Go's `os.Hostname()` returns), or "" if it cannot be found.
pub(super) fn os_hostname() -> String {
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
impl Hooks {
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
    pub(super) fn variables(&self, event: &HookEvent, progress: &HookProgress) -> Vec<(String, String)> {
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
        // wraith's own, beside gh-ost's (which keep their names and meanings).
        if let Some(checksum) = &progress.checksum {
            v.push(("WRAITH_CHECKSUM", checksum.clone()));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::hooks::tests::{ctx, parse_env, progress, script, TempDir, SERIAL};
    use crate::control::hooks::HookContext;
    use std::collections::HashMap;

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
}
