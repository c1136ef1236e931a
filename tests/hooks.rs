//! Hooks in a process of their own, so the real password variables can be set in the parent environment
//! without disturbing other tests (the unit tests in src/hooks.rs use names of their own).

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wraith::hooks::{HookContext, HookEvent, HookProgress, Hooks};

fn temp_dir(tag: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let p = std::env::temp_dir().join(format!("wraith-hooks-it-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn script(dir: &Path, name: &str, body: &str) {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn real_password_variables_never_reach_hooks_and_output_goes_to_stderr() {
    std::env::set_var("WRAITH_PASSWORD", "it-secret-wraith");
    std::env::set_var("MYSQL_PWD", "it-secret-mysql");
    std::env::set_var("WRAITH_HOOKS_IT_KEPT", "kept");
    let dir = temp_dir("pw");
    let out = dir.join("env.out");
    let fds = dir.join("fds.out");
    script(
        &dir,
        "gh-ost-on-before-row-copy",
        &format!(
            "env > '{}'\nif [ -d /proc/$$/fd ]; then o=$(readlink /proc/$$/fd/1); e=$(readlink /proc/$$/fd/2); printf '%s\\n%s\\n' \"$o\" \"$e\" > '{}'; fi\nexit 0",
            out.display(),
            fds.display()
        ),
    );
    let ctx = HookContext { database: "db".into(), table: "t".into(), ..Default::default() };
    let hooks = Hooks::new(Some(dir.clone()), ctx);
    let progress = HookProgress { copied_rows: 7, eta: Some(Duration::from_secs(3)), ..Default::default() };
    hooks.run(&HookEvent::BeforeRowCopy, &progress).await.unwrap();

    let text = std::fs::read_to_string(&out).unwrap();
    let env: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    assert!(!env.contains_key("WRAITH_PASSWORD") && !env.contains_key("MYSQL_PWD"), "{text}");
    assert!(!text.contains("it-secret"), "{text}");
    assert_eq!(env["WRAITH_HOOKS_IT_KEPT"], "kept");
    assert_eq!(env["GH_OST_DATABASE_NAME"], "db");
    assert_eq!(env["GH_OST_COPIED_ROWS"], "7");
    assert_eq!(env["GH_OST_ETA_SECONDS"], "3");
    let described = hooks.environment(&HookEvent::BeforeRowCopy, &progress);
    assert!(described.iter().all(|(k, _)| k != "WRAITH_PASSWORD" && k != "MYSQL_PWD"));

    // The hook's stdout and stderr are both our stderr.
    if let (Ok(fds), Ok(ours)) = (std::fs::read_to_string(&fds), std::fs::read_link("/proc/self/fd/2")) {
        let lines: Vec<&str> = fds.lines().collect();
        assert_eq!(lines, vec![ours.to_string_lossy(), ours.to_string_lossy()], "hook stdout/stderr");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
