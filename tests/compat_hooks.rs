//! gh-ost hook scripts (`--hooks-path`) run unchanged: a real migration against the sandbox runs them at each
//! phase with the `GH_OST_*` variables, never hands them the password, and a failing before-cut-over hook
//! stops the migration before anything is swapped.

mod common;
mod compat_common;
mod migrate_common;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";

/// The hooks of a successful run, in the order they must run.
const SUCCESS_ORDER: &[&str] = &[
    "gh-ost-on-startup",
    "gh-ost-on-validated",
    "gh-ost-on-rowcount-complete",
    "gh-ost-on-before-row-copy",
    "gh-ost-on-row-copy-complete",
    "gh-ost-on-before-cut-over",
    "gh-ost-on-success",
];

/// Writes `<hooks>/<name>`: records its name in `<out>/order` and its environment in `<out>/<name>.env`,
/// then exits with `exit`.
fn hook(hooks: &Path, out: &Path, name: &str, exit: i32) -> Result<()> {
    let p = hooks.join(name);
    std::fs::write(
        &p,
        format!("#!/bin/sh\necho {name} >> '{o}/order'\nenv > '{o}/{name}.env'\nexit {exit}\n", o = out.display()),
    )?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// The hooks that ran, in order (a before-cut-over repeated by a retried cut-over counts once).
fn order(out: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_to_string(out.join("order")).unwrap_or_default().lines().map(str::to_string).collect();
    v.dedup();
    v
}

fn env_of(out: &Path, name: &str) -> Result<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(out.join(format!("{name}.env"))).with_context(|| format!("{name} did not run"))?;
    // `env` prints one NAME=value per line (values here have no newlines, except possibly inherited ones,
    // whose continuation lines have no NAME= and are skipped).
    Ok(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

/// No hook sees the password, under any variable name.
fn assert_no_password(out: &Path, names: &[&str]) -> Result<()> {
    let password = &settings().password;
    assert!(password.len() >= 4, "the sandbox password is too short to search for");
    for name in names {
        let text = std::fs::read_to_string(out.join(format!("{name}.env")))?;
        for line in text.lines() {
            assert!(!line.contains(password.as_str()), "{name} received the password: {line}");
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_successful_run_runs_every_hook_with_gh_ost_variables() -> Result<()> {
    // The sandbox's password is in this process's environment (WRAITH_PASSWORD), as it would be for an
    // operator using the variable: hooks must not inherit it.
    assert_eq!(std::env::var("WRAITH_PASSWORD").ok().as_deref(), Some(settings().password.as_str()));
    let db = TestDb::new("compat_hooks_ok").await?;
    numbers_table(&db, 1000).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let dir = TempDir::new("hooks");
    let (hooks, out) = (dir.path("hooks"), dir.path("out"));
    std::fs::create_dir_all(&hooks)?;
    std::fs::create_dir_all(&out)?;
    for name in SUCCESS_ORDER {
        hook(&hooks, &out, name, 0)?;
    }
    hook(&hooks, &out, "gh-ost-on-failure", 0)?;

    let mut cfg = compat_config(&db, ALTER, 424_201);
    cfg.hooks.path = Some(hooks.clone());
    cfg.hooks.hint = "runbook-42".into();
    let outcome = run_migration(cfg).await?.map_err(|e| anyhow::anyhow!("{}", error_text(&e)))?;
    assert_eq!(outcome.rows_copied, 1000);

    assert_eq!(order(&out), SUCCESS_ORDER, "hooks run, in order");
    for name in SUCCESS_ORDER {
        let env = env_of(&out, name)?;
        let var = |k: &str| env.get(k).map(String::as_str).unwrap_or("<unset>");
        assert_eq!(var("GH_OST_DATABASE_NAME"), db.name(), "{name}");
        assert_eq!(var("GH_OST_TABLE_NAME"), "t", "{name}");
        assert_eq!(var("GH_OST_GHOST_TABLE_NAME"), "_t_gho", "{name}");
        assert_eq!(var("GH_OST_OLD_TABLE_NAME"), "_t_del", "{name}");
        assert_eq!(var("GH_OST_DDL"), ALTER, "{name}");
        assert_eq!(var("GH_OST_DRY_RUN"), "false", "{name}");
        assert_eq!(var("GH_OST_HOOKS_HINT"), "runbook-42", "{name}");
    }
    let success = env_of(&out, "gh-ost-on-success")?;
    assert_eq!(success["GH_OST_COPIED_ROWS"], "1000");
    // After validation the migrated host is known (the primary, found through the replica).
    assert_eq!(env_of(&out, "gh-ost-on-before-cut-over")?["GH_OST_MIGRATED_HOST"], settings().primary_host);
    assert_eq!(env_of(&out, "gh-ost-on-before-cut-over")?["GH_OST_INSPECTED_HOST"], settings().replica_host);
    assert_no_password(&out, SUCCESS_ORDER)?;
    assert!(!out.join("gh-ost-on-failure.env").exists(), "on-failure ran after a success");

    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_before_cut_over_hook_aborts_and_leaves_the_table() -> Result<()> {
    let db = TestDb::new("compat_hooks_fail").await?;
    numbers_table(&db, 1000).await?;
    let before = original(&db, "t").await?;
    let dir = TempDir::new("hooks");
    let (hooks, out) = (dir.path("hooks"), dir.path("out"));
    std::fs::create_dir_all(&hooks)?;
    std::fs::create_dir_all(&out)?;
    for name in SUCCESS_ORDER {
        hook(&hooks, &out, name, if *name == "gh-ost-on-before-cut-over" { 1 } else { 0 })?;
    }
    hook(&hooks, &out, "gh-ost-on-failure", 0)?;

    let mut cfg = compat_config(&db, ALTER, 424_202);
    cfg.hooks.path = Some(hooks.clone());
    // gh-ost retries the whole cut-over, hook included, --default-retries times (60) a second apart.
    cfg.default_retries = 3;
    let (_, msg) = run_expect_error(cfg).await?;
    assert_contains(&msg, &["gh-ost-on-before-cut-over"]);

    let ran = order(&out);
    assert!(ran.contains(&"gh-ost-on-before-cut-over".to_string()), "{ran:?}");
    assert_eq!(ran.last().map(String::as_str), Some("gh-ost-on-failure"), "on-failure runs last: {ran:?}");
    assert!(!ran.contains(&"gh-ost-on-success".to_string()), "{ran:?}");
    let failure = env_of(&out, "gh-ost-on-failure")?;
    assert_eq!(failure["GH_OST_TABLE_NAME"], "t");
    assert_eq!(failure["GH_OST_DATABASE_NAME"], db.name());
    assert_no_password(&out, &["gh-ost-on-before-cut-over", "gh-ost-on-failure"])?;

    assert_eq!(original(&db, "t").await?, before, "the original table changed");
    assert!(!helper_tables(&db, "t").await?.contains(&"_t_del".to_string()), "nothing was swapped");
    Ok(())
}
