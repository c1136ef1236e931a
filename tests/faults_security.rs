//! Security promises (issue 14), checked against the sandbox with the real binary:
//! - the password never shows in wraith's output (with `--debug` and with `--verbose`), in the control
//!   socket's replies, or in the hooks' environment, whether it came from `--password`, `WRAITH_PASSWORD`
//!   or a `--conf` file, and a wrong password is not echoed either (`/proc/<pid>/cmdline` is
//!   `tests/process_args.rs`'s);
//! - the control socket file is mode 0600 and owned by the user running wraith;
//! - the TCP control port listens on 127.0.0.1 unless `--serve-tcp-bind` says otherwise, which needs
//!   `--serve-tcp-token-file` (refused at startup without one); then a connection must present the token
//!   (`auth <token>`), a missing or wrong token changes nothing, and the token is never logged nor handed
//!   to a hook;
//! - TLS to MySQL verifies the servers with `--ssl-ca` (the sandbox's CA, `WRAITH_SANDBOX_CA`): a
//!   migration by an account that REQUIREs SSL succeeds with it, and a CA that did not sign the servers'
//!   certificate is refused with a clear message, changing nothing.

mod common;
mod compat_common;
mod migrate_common;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use wraith::Phase;

const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";
/// Bound on a refused start.
const REFUSAL_LIMIT: Duration = Duration::from_secs(120);

#[track_caller]
fn assert_absent(secret: &str, what: &str, text: &str) {
    assert!(secret.len() >= 6, "the secret {what} is searched for is too short to mean anything");
    assert!(!text.contains(secret), "{what} contains the secret:\n{text}");
}

/// Every `<out>/*.env` file the hooks wrote, by hook name.
fn hook_envs(out: &Path) -> Result<Vec<(String, String)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(out)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "env") {
            let name = p.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            v.push((name, std::fs::read_to_string(&p)?));
        }
    }
    v.sort();
    Ok(v)
}

async fn wait_for_file(path: &Path, limit: Duration) -> Result<()> {
    let p = path.to_path_buf();
    wait_until(&format!("{} to appear", path.display()), limit, || {
        let there = p.exists();
        async move { Ok(there) }
    })
    .await
}

const HOOKS: &[&str] = &[
    "gh-ost-on-startup",
    "gh-ost-on-validated",
    "gh-ost-on-before-row-copy",
    "gh-ost-on-status",
    "gh-ost-on-interactive-command",
    "gh-ost-on-begin-postponed",
    "gh-ost-on-before-cut-over",
    "gh-ost-on-success",
    "gh-ost-on-failure",
];

/// A hooks directory with every hook of `HOOKS` recording its environment; returns (hooks, out).
fn hooks_in(dir: &TempDir) -> Result<(PathBuf, PathBuf)> {
    let (hooks, out) = (dir.path("hooks"), dir.path("out"));
    std::fs::create_dir_all(&hooks)?;
    std::fs::create_dir_all(&out)?;
    for name in HOOKS {
        write_hook(&hooks, &out, name, 0)?;
    }
    Ok((hooks, out))
}

/// The commands whose replies an operator (or a dashboard) reads.
const READS: &[&str] = &[
    "status",
    "info",
    "sup",
    "coordinates",
    "applier",
    "inspector",
    "help",
    "chunk-size=?",
    "max-load=?",
    "throttle-query=?",
    "throttle-control-replicas=?",
    "postpone-cut-over-flag-file=?",
];

#[tokio::test(flavor = "multi_thread")]
async fn the_password_stays_out_of_logs_status_and_hooks_and_the_socket_is_private() -> Result<()> {
    let db = TestDb::new("sec_password").await?;
    numbers_table(&db, 2000).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let pw = settings().password.clone();
    let dir = TempDir::new("secpw");
    let (hooks, out) = hooks_in(&dir)?;
    let socket = dir.path("c.sock");
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;

    // --password on the command line, WRAITH_PASSWORD in the environment too (this process has it, as an
    // operator's shell would), everything logged.
    let mut args = migrate_args(&db, "t", ALTER);
    args.extend([
        format!("--password={pw}"),
        "--debug".into(),
        format!("--serve-socket-file={}", socket.display()),
        format!("--postpone-cut-over-flag-file={}", postpone.path.display()),
        format!("--hooks-path={}", hooks.display()),
        "--hooks-status-interval=1".into(),
        "--status-interval=1".into(),
    ]);
    let (mut cmd, o, e) = wraith_command(&dir, "debug", &args)?;
    cmd.env_remove("WRAITH_LOG"); // it would override --debug
    let mut run = Wraith::spawn(cmd, o, e)?;
    run.wait_status(&socket, "State: postponing cut-over", PHASE_TIMEOUT).await?;

    // The socket: only this user may connect.
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(&socket)?;
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "mode of the control socket {}", socket.display());
        let probe = dir.path("owner-probe");
        std::fs::write(&probe, b"")?;
        assert_eq!(meta.uid(), std::fs::metadata(&probe)?.uid(), "the socket is owned by the user running wraith");
    }
    for command in READS {
        let reply = ctl(&socket, command).await?;
        assert!(!reply.trim().is_empty() || command.ends_with("=?"), "{command}: empty reply");
        assert_absent(&pw, &format!("the reply to {command:?}"), &reply);
    }
    // The status and interactive-command hooks have run (the latter for the reads above).
    wait_for_file(&out.join("gh-ost-on-status.env"), PHASE_TIMEOUT).await?;
    wait_for_file(&out.join("gh-ost-on-interactive-command.env"), PHASE_TIMEOUT).await?;

    postpone.remove()?;
    let status = run.wait(RUN_TIMEOUT).await?;
    let output = run.output();
    assert!(status.success(), "{output}");
    assert!(output.contains("DEBUG"), "--debug logged nothing at debug level:\n{output}");
    assert_absent(&pw, "the --debug output", &output);
    let envs = hook_envs(&out)?;
    for name in ["gh-ost-on-startup", "gh-ost-on-before-cut-over", "gh-ost-on-success", "gh-ost-on-status"] {
        assert!(envs.iter().any(|(n, _)| n == name), "{name} did not run; ran: {envs:?}");
    }
    for (name, env) in &envs {
        assert_absent(&pw, &format!("the environment of {name}"), env);
    }
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);

    // The password from a --conf file only (no WRAITH_PASSWORD), --verbose.
    let conf = dir.path("wraith.cnf");
    std::fs::write(&conf, format!("[client]\nuser={}\npassword={pw}\n", settings().user))?;
    let mut args = migrate_args(&db, "t", "ADD COLUMN y INT");
    args.extend(["--verbose".into(), format!("--conf={}", conf.display()), "--ok-to-drop-table".into()]);
    args.push("--initially-drop-old-table".into());
    let exit = run_wraith_args(&args, &["WRAITH_PASSWORD", "WRAITH_LOG"], RUN_TIMEOUT).await?;
    assert!(exit.status.success(), "{}", exit.text());
    assert!(exit.text().contains("INFO"), "--verbose logged nothing:\n{}", exit.text());
    assert_absent(&pw, "the --verbose output", &exit.text());

    // A wrong password is not echoed back either, even with --debug.
    let wrong = "wrong-Secret-9f3e1";
    let mut args = migrate_args(&db, "t", "ADD COLUMN z INT");
    args.extend([format!("--password={wrong}"), "--debug".into()]);
    let exit = run_wraith_args(&args, &["WRAITH_LOG"], REFUSAL_LIMIT).await?;
    assert!(!exit.status.success() && exit.text().contains("Access denied"), "{}", exit.text());
    assert_absent(wrong, "the output of a run with a wrong password", &exit.text());
    Ok(())
}

/// Local addresses of LISTEN sockets on `port`, from /proc/net/tcp and tcp6 (this network namespace).
fn listening_on(port: u16) -> Result<Vec<IpAddr>> {
    let mut v = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 || f[3] != "0A" {
                continue;
            }
            let Some((addr, p)) = f[1].split_once(':') else { continue };
            if u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            // The kernel prints each 32-bit word of the address in host (little-endian) order.
            let words: Vec<u32> = (0..addr.len() / 8)
                .map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16).map(u32::swap_bytes))
                .collect::<Result<_, _>>()?;
            let ip = if v6 {
                let mut b = [0u8; 16];
                for (i, w) in words.iter().enumerate() {
                    b[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
                }
                IpAddr::from(b)
            } else {
                IpAddr::from(words[0].to_be_bytes())
            };
            v.push(ip);
        }
    }
    Ok(v)
}

/// An address of this machine other than loopback (the source address of its default route), if any.
fn other_local_address() -> Option<IpAddr> {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("198.51.100.1:9").ok()?; // no packet is sent: connecting a UDP socket only picks a route
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("0.0.0.0:0")?.local_addr()?.port())
}

async fn can_connect(addr: SocketAddr) -> bool {
    matches!(tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr)).await, Ok(Ok(_)))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tcp_control_port_listens_on_loopback_only_by_default() -> Result<()> {
    let db = TestDb::new("sec_tcp_loopback").await?;
    numbers_table(&db, 300).await?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let port = free_port()?;
    let mut cfg = compat_config(&db, ALTER, 424_601);
    cfg.control.serve_tcp_port = Some(port);
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Run::start(cfg);
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;

    assert_eq!(listening_on(port)?, vec![IpAddr::from([127, 0, 0, 1])], "what listens on the control port {port}");
    let loopback = format!("127.0.0.1:{port}");
    let status = wraith::send_command(None, Some(&loopback), "status").await?;
    assert!(status.contains("State:"), "{status:?}");
    match other_local_address() {
        Some(ip) => assert!(
            !can_connect(SocketAddr::new(ip, port)).await,
            "the control port {port} accepts connections on {ip}, an address other machines can reach"
        ),
        None => eprintln!("note: this machine has no address besides loopback; only the bound address was checked"),
    }
    assert_eq!(wraith::send_command(None, Some(&loopback), "panic").await?, "OK\n");
    run.finish_err(RUN_TIMEOUT).await?;
    Ok(())
}

/// A token file only its owner can read.
fn token_file(dir: &TempDir, token: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.path("token");
    std::fs::write(&p, format!("{token}\n"))?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    Ok(p)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tcp_port_off_loopback_is_refused_at_startup_without_a_private_token_file() -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::new("sec_tcp_refusals").await?;
    numbers_table(&db, 100).await?;
    let dir = TempDir::new("sectok");
    let readable = dir.path("readable-token");
    std::fs::write(&readable, "a-token-others-can-read")?;
    std::fs::set_permissions(&readable, std::fs::Permissions::from_mode(0o644))?;
    let empty = dir.path("empty-token");
    std::fs::write(&empty, "\n")?;
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o600))?;
    let port = free_port()?.to_string();
    let cases: [(&str, Vec<String>, &[&str]); 4] = [
        (
            "no token file",
            vec!["--serve-tcp-bind=0.0.0.0".into(), format!("--serve-tcp-port={port}")],
            &["--serve-tcp-bind=0.0.0.0 would let other machines send commands", "give --serve-tcp-token-file=PATH"],
        ),
        (
            "a token file others can read",
            vec![
                "--serve-tcp-bind=0.0.0.0".into(),
                format!("--serve-tcp-port={port}"),
                format!("--serve-tcp-token-file={}", readable.display()),
            ],
            &["other users may read it (mode 644)", "chmod 600 it"],
        ),
        (
            "an empty token file",
            vec![format!("--serve-tcp-port={port}"), format!("--serve-tcp-token-file={}", empty.display())],
            &["it is empty", "put a secret token in it"],
        ),
        (
            "a bind address without a port",
            vec!["--serve-tcp-bind=0.0.0.0".into()],
            &["--serve-tcp-bind and --serve-tcp-token-file apply to the TCP control port", "add --serve-tcp-port=N"],
        ),
    ];
    for (name, extra, words) in cases {
        let before = snapshot(&db, "t", "1").await?;
        let mut args = migrate_args(&db, "t", ALTER);
        args.extend(extra);
        let exit = run_wraith_args(&args, &[], REFUSAL_LIMIT).await?;
        let text = exit.text();
        assert_eq!(exit.status.code(), Some(1), "{name}: {text}");
        assert_contains(&text, words);
        assert_absent("a-token-others-can-read", &format!("{name}: the output"), &text);
        assert_eq!(snapshot(&db, "t", "1").await?, before, "{name}: something changed\n{text}");
        assert!(helper_tables(&db, "t").await?.is_empty(), "{name}: left behind\n{text}");
    }
    Ok(())
}

/// Sends raw lines to the control port and returns the reply (what `nc` would do).
async fn raw(addr: SocketAddr, lines: &str) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(lines.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, std::io::Error>(out)
    };
    tokio::time::timeout(CTL_TIMEOUT, exchange).await.context("no reply from the control port")?.context("raw control")
}

async fn ctl_with_token(addr: &str, token: Option<&str>, command: &str) -> Result<String> {
    let exchange = wraith::send_command_with_token(None, Some(addr), token, command);
    Ok(tokio::time::timeout(CTL_TIMEOUT, exchange).await.context("no reply")??)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tcp_port_with_a_token_refuses_connections_without_it_and_never_logs_it() -> Result<()> {
    let db = TestDb::new("sec_tcp_token").await?;
    numbers_table(&db, 500).await?;
    let before = checksum(&db, "t", "id, n, s").await?;
    let dir = TempDir::new("sectcp");
    let (hooks, out) = hooks_in(&dir)?;
    let token = format!("tok-{}-{}", std::process::id(), random_server_id());
    let token_path = token_file(&dir, &token)?;
    let postpone = FlagFile::new(&db, "postpone");
    postpone.create()?;
    let port = free_port()?;
    // Reached the way another machine would, when this one has such an address.
    let ip = other_local_address().unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let addr = SocketAddr::new(ip, port);
    let addr_s = addr.to_string();

    let mut args = migrate_args(&db, "t", ALTER);
    args.extend([
        "--serve-tcp-bind=0.0.0.0".into(),
        format!("--serve-tcp-port={port}"),
        format!("--serve-tcp-token-file={}", token_path.display()),
        format!("--postpone-cut-over-flag-file={}", postpone.path.display()),
        format!("--hooks-path={}", hooks.display()),
        "--debug".into(),
    ]);
    let (mut cmd, o, e) = wraith_command(&dir, "tcp", &args)?;
    cmd.env_remove("WRAITH_LOG");
    let mut run = Wraith::spawn(cmd, o, e)?;
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        if let Some(s) = run.child.try_wait()? {
            bail!("wraith exited ({s}) before the cut-over was postponed\n{}", run.output());
        }
        if let Ok(reply) = ctl_with_token(&addr_s, Some(&token), "status").await {
            if reply.contains("State: postponing cut-over") {
                break;
            }
        }
        if Instant::now() > deadline {
            run.kill().await?;
            bail!("not postponing within {PHASE_TIMEOUT:?}\n{}", run.output());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listening_on(port)?, vec![IpAddr::from([0, 0, 0, 0])], "--serve-tcp-bind=0.0.0.0");

    // Without a token, with a wrong one, with a line that only looks like auth: refused, and nothing changes.
    let no_token = raw(addr, "chunk-size=77\n").await?;
    assert!(no_token.starts_with("ERROR: this port requires a token"), "{no_token:?}");
    assert_contains(&no_token, &["auth <token>", "--token-file"]);
    assert!(raw(addr, "auth wrong-token\nchunk-size=77\n").await?.starts_with("ERROR: wrong token"));
    assert!(raw(addr, &format!("auth {token}x\nthrottle\n")).await?.starts_with("ERROR: wrong token"));
    assert!(raw(addr, &format!("authx {token}\nthrottle\n")).await?.starts_with("ERROR: this port requires a token"));
    assert!(raw(addr, "panic\n").await?.starts_with("ERROR"));
    // The right token: the next line is the command (and the refusals above changed nothing).
    assert_eq!(raw(addr, &format!("auth {token}\nchunk-size=?\n")).await?, "50\n");

    // wraith ctl: --token-file sends it; without it the port says what to do and ctl exits non-zero.
    let t = token_path.display().to_string();
    let (ok, reply, err) =
        run_wraith(&["ctl", "--tcp", &addr_s, "--token-file", &t, "chunk-size=?"], &[], CTL_TIMEOUT).await?;
    assert!(ok.success() && reply == "50\n", "{ok}: {reply:?} {err}");
    let (bad, reply, err) = run_wraith(&["ctl", "--tcp", &addr_s, "status"], &[], CTL_TIMEOUT).await?;
    assert!(!bad.success() && reply.starts_with("ERROR: this port requires a token"), "{bad}: {reply:?} {err}");
    // The interactive-command hook saw the commands, never the token or the auth line.
    wait_for_file(&out.join("gh-ost-on-interactive-command.env"), PHASE_TIMEOUT).await?;
    let (ok, reply, err) =
        run_wraith(&["ctl", "--tcp", &addr_s, "--token-file", &t, "unpostpone"], &[], CTL_TIMEOUT).await?;
    assert!(ok.success() && reply == "OK\n", "{ok}: {reply:?} {err}");
    let status = run.wait(RUN_TIMEOUT).await?;
    let output = run.output();
    assert!(status.success(), "{output}");
    assert_absent(&token, "the --debug output", &output);
    assert!(output.contains("refused"), "refused control connections are logged (without the token):\n{output}");
    for (name, env) in hook_envs(&out)? {
        assert_absent(&token, &format!("the environment of {name}"), &env);
        assert!(!env.contains("GH_OST_COMMAND='auth"), "{name} received the auth line");
    }
    assert!(has_column(&db, "t", "x").await?);
    assert_eq!(checksum(&db, "t", "id, n, s").await?, before);
    Ok(())
}

/// The sandbox's CA (`scripts/sandbox env` exports it).
fn sandbox_ca() -> PathBuf {
    PathBuf::from(
        std::env::var("WRAITH_SANDBOX_CA").expect(
            "WRAITH_SANDBOX_CA is not set: run the tests with scripts/test (scripts/sandbox up creates the CA)",
        ),
    )
}

/// A CA of its own, which signed nothing the servers have.
fn wrong_ca(dir: &TempDir) -> Result<PathBuf> {
    let (ca, key) = (dir.path("wrong-ca.pem"), dir.path("wrong-ca-key.pem"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=not the sandbox CA"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&ca)
        .output()
        .context("running openssl")?;
    anyhow::ensure!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    Ok(ca)
}

const README_TABLE_PRIVS: &[&str] =
    &["ALTER", "CREATE", "DELETE", "DROP", "INDEX", "INSERT", "LOCK TABLES", "SELECT", "TRIGGER", "UPDATE"];

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_verified_with_the_sandbox_ca_and_a_wrong_ca_is_refused() -> Result<()> {
    let ca = sandbox_ca();
    assert!(ca.exists(), "{} does not exist: run scripts/sandbox up", ca.display());
    let db = TestDb::new("sec_tls").await?;
    let model = simple_tables(&db, 600).await?;
    let d = db.name().to_string();
    let user = TempUser::create(
        &db,
        &["REPLICATION CLIENT", "REPLICATION SLAVE"],
        &[(&d, README_TABLE_PRIVS), ("performance_schema", &["SELECT"])],
    )
    .await?;
    user.require_ssl(&db).await?;
    let dir = TempDir::new("sectls");
    let wrong = wrong_ca(&dir)?;
    let as_user = |extra: &[String]| {
        let mut a = migrate_args(&db, "t", "ADD COLUMN note VARCHAR(8) NOT NULL DEFAULT 'tls'");
        a.extend([format!("--user={}", user.name), format!("--password={}", user.password)]);
        a.extend(extra.iter().cloned());
        a
    };
    let refusals: [(&str, Vec<String>, &[&str]); 2] = [
        // The account really requires TLS: without it, it cannot connect (so the success below used TLS on
        // every connection: inspection, primary, copy, binlog).
        ("no TLS", vec![], &["Error 1045", "Access denied", "an account that REQUIREs SSL also needs --ssl"]),
        (
            "a CA that did not sign the servers' certificate",
            vec![format!("--ssl-ca={}", wrong.display())],
            &[
                "cannot connect to inspected server at",
                "invalid peer certificate",
                "--ssl-ca must be the CA that signed it",
            ],
        ),
    ];
    for (name, extra, words) in refusals {
        let before = snapshot(&db, "t", "1").await?;
        let exit = run_wraith_args(&as_user(&extra), &[], REFUSAL_LIMIT).await?;
        assert_eq!(exit.status.code(), Some(1), "{name}: {}", exit.text());
        assert_contains(&exit.text(), words);
        assert_eq!(snapshot(&db, "t", "1").await?, before, "{name}: something changed\n{}", exit.text());
        assert!(helper_tables(&db, "t").await?.is_empty(), "{name}: left behind\n{}", exit.text());
    }

    let writers = Workload::start(&db, WorkloadSpec::new(model, 600)).await?;
    writers.wait_commits(20).await?;
    let exit = run_wraith_args(&as_user(&[format!("--ssl-ca={}", ca.display())]), &[], RUN_TIMEOUT).await?;
    assert!(exit.status.success(), "a migration verified with the sandbox's CA failed:\n{}", exit.text());
    writers.wait_commits(20).await?;
    writers.stop().await?;
    assert_matches_control(&db, &format!("{SIMPLE_COLUMNS}, note"), &format!("{SIMPLE_COLUMNS}, 'tls'")).await?;
    Ok(())
}
