//! A password given on the command line does not stay readable in the process table: once wraith has read
//! its arguments, `/proc/<pid>/cmdline` (what `ps` shows) has `***` in place of every password value, in
//! each form gh-ost runbooks use (`--password=x`, `-password=x`, `--master-password x`). No server is
//! needed: a listener that accepts and never answers holds wraith in its first connect, after it has
//! parsed (and masked) its arguments, and that connection is the event the test waits for.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;

const WRAITH: &str = env!("CARGO_BIN_EXE_wraith");

/// Starts `wraith migrate` against a silent listener with `extra` flags; returns its command line, read
/// while it waits for the server's greeting.
async fn cmdline_while_connecting(extra: &[&str]) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let mut child = tokio::process::Command::new(WRAITH)
        .args(["migrate", "--host=127.0.0.1", &format!("--port={port}"), "--user=u", "--database=d", "--table=t"])
        .args(["--alter=engine=innodb", "--mysql-timeout=60"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the wraith binary")?;
    let accepted = tokio::time::timeout(Duration::from_secs(30), listener.accept()).await;
    let _conn = accepted.context("wraith did not connect within 30 s")??;
    let pid = child.id().context("wraith exited before it connected")?;
    let raw = std::fs::read(format!("/proc/{pid}/cmdline"))?;
    child.kill().await?;
    Ok(String::from_utf8_lossy(&raw).replace('\0', " "))
}

#[tokio::test]
async fn passwords_on_the_command_line_are_masked() -> Result<()> {
    let cmdline = cmdline_while_connecting(&[
        "--password=hunter2-in-argv",
        "--master-password",
        "swordfish-in-argv",
        "-password=gh-ost-style-secret",
    ])
    .await?;
    for secret in ["hunter2-in-argv", "swordfish-in-argv", "gh-ost-style-secret"] {
        assert!(!cmdline.contains(secret), "{secret} is readable in the process table: {cmdline}");
    }
    for shown in ["--password=***", "--master-password ***", "-password=***", "--database=d", "--table=t"] {
        assert!(cmdline.contains(shown), "{shown:?} missing from the process table: {cmdline}");
    }
    Ok(())
}

#[tokio::test]
async fn other_arguments_are_left_alone() -> Result<()> {
    // Values that merely look like the flag (a table named after it, a later `--`) are not touched.
    let cmdline = cmdline_while_connecting(&["--hooks-hint=password", "--throttle-query=select 0 -- password"]).await?;
    assert!(cmdline.contains("--hooks-hint=password"), "{cmdline}");
    assert!(cmdline.contains("--throttle-query=select 0 -- password"), "{cmdline}");
    Ok(())
}
