//! What a DBA watches during a run: `--metrics-address` (`/metrics` in the Prometheus text format and
//! `/status` as JSON), `status --json` on the control socket, `--log-format=json`, and the generated shell
//! completions and man page. The run is the real binary against the sandbox with writers going, and the
//! copy is slowed by small chunks and --nice-ratio (not by sleeps in the test), so it spans several status
//! ticks; the cut-over is held by a postpone flag file until the test has looked.
//!
//! What holds: the values move while the copy runs and the binlog is applied while postponed; the three
//! views agree (each is the same published snapshot, so a value read between two others lies between
//! them, and the status line says what the object says); the metrics text parses as Prometheus
//! exposition with a `# TYPE` for every sample's family; every log line is a JSON object; and the
//! migrated table matches the control table the writers kept.

mod common;
mod compat_common;
mod migrate_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use common::*;
use compat_common::*;
use migrate_common::*;
use mysql_async::prelude::Queryable;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEED_MAX: i64 = 6000;
const ALTER: &str = "ADD COLUMN x INT NOT NULL DEFAULT 7";
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP GET; returns (status code, body).
async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let work = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok::<_, anyhow::Error>(out)
    };
    let reply = tokio::time::timeout(HTTP_TIMEOUT, work).await.context("no HTTP reply in time")??;
    let (head, body) = reply.split_once("\r\n\r\n").with_context(|| format!("no header end in {reply:?}"))?;
    let code = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no status code")?;
    Ok((code, body.to_string()))
}

async fn status_http(port: u16) -> Result<Value> {
    let (code, body) = http_get(port, "/status").await?;
    ensure!(code == 200, "/status answered {code}: {body}");
    serde_json::from_str(&body).with_context(|| format!("/status is not JSON: {body:?}"))
}

async fn status_socket(dir: &TempDir) -> Result<Value> {
    let reply = ctl(&dir.path("wraith.sock"), "status --json").await?;
    serde_json::from_str(&reply).with_context(|| format!("status --json is not JSON: {reply:?}"))
}

/// Samples by `name{labels}`, after checking the text is Prometheus exposition: every sample line is
/// `name[{k="v",...}] value`, and its family was declared by a `# TYPE` line before it.
fn parse_exposition(text: &str) -> Result<BTreeMap<String, f64>> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').with_context(|| format!("bad TYPE line {line:?}"))?;
            ensure!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type in {line:?}"
            );
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with('#') {
            ensure!(line.starts_with("# HELP "), "a comment that is neither HELP nor TYPE: {line:?}");
            continue;
        }
        let name_end = line.find(['{', ' ']).with_context(|| format!("no value in {line:?}"))?;
        let name = &line[..name_end];
        ensure!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad metric name in {line:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = String::new();
        if rest.starts_with('{') {
            let close = label_end(rest).with_context(|| format!("unterminated labels in {line:?}"))?;
            labels = rest[..=close].to_string();
            check_labels(&rest[1..close]).with_context(|| format!("bad labels in {line:?}"))?;
            rest = &rest[close + 1..];
        }
        let mut fields = rest.split_whitespace();
        let value = fields.next().with_context(|| format!("no value in {line:?}"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().with_context(|| format!("bad value in {line:?}"))?,
        };
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().with_context(|| format!("bad timestamp in {line:?}"))?;
        }
        ensure!(fields.next().is_none(), "trailing text in {line:?}");
        let family = typed.get(name).map(|_| name).or_else(|| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| name.strip_suffix(s))
                .find(|f| typed.get(*f).is_some_and(|k| k == "histogram" || k == "summary"))
        });
        ensure!(family.is_some(), "the sample {name} has no # TYPE line before it");
        samples.insert(format!("{name}{labels}"), value);
    }
    Ok(samples)
}

/// The index of the `}` closing a label set that starts at 0 (quotes and escapes respected).
fn label_end(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `k="v",k2="v2"` (a trailing comma allowed, as the format does).
fn check_labels(s: &str) -> Result<()> {
    let mut chars = s.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        ensure!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad label name {key:?}"
        );
        ensure!(chars.next() == Some('"'), "label {key} has no quoted value");
        let mut escaped = false;
        loop {
            match chars.next() {
                None => bail!("label {key}'s value is not closed"),
                Some(_) if escaped => escaped = false,
                Some('\\') => escaped = true,
                Some('"') => break,
                Some(_) => {}
            }
        }
        match chars.next() {
            None | Some(',') => {}
            Some(c) => bail!("{c:?} after label {key}"),
        }
    }
    Ok(())
}

fn sample(samples: &BTreeMap<String, f64>, key: &str) -> Result<f64> {
    samples.get(key).copied().with_context(|| format!("no sample {key}; have {:?}", samples.keys()))
}

async fn metrics(port: u16) -> Result<BTreeMap<String, f64>> {
    let (code, text) = http_get(port, "/metrics").await?;
    ensure!(code == 200, "/metrics answered {code}: {text}");
    parse_exposition(&text).with_context(|| format!("/metrics:\n{text}"))
}

fn u(v: &Value, field: &str) -> Result<u64> {
    v[field].as_u64().with_context(|| format!("{field} is not a number in {v}"))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_status_and_json_logs_during_a_run() -> Result<()> {
    let db = TestDb::new("observability").await?;
    let model = simple_tables(&db, SEED_MAX).await?;
    let dir = TempDir::new("obs");
    let postpone = dir.path("postpone");
    std::fs::write(&postpone, b"")?;
    let throttle = dir.path("throttle");
    std::fs::write(&throttle, b"")?;
    let port = free_port()?;
    let mut spec = WorkloadSpec::new(model, SEED_MAX);
    spec.writers = 2;
    let writers = Workload::start(&db, spec).await?;

    let extra = [
        format!("--serve-socket-file={}", dir.path("wraith.sock").display()),
        format!("--postpone-cut-over-flag-file={}", postpone.display()),
        format!("--throttle-flag-file={}", throttle.display()),
        format!("--metrics-address=127.0.0.1:{port}"),
        "--log-format=json".into(),
        // Small, slowed chunks: the copy spans several status ticks.
        "--chunk-size=10".into(),
        "--nice-ratio=3".into(),
    ];
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let args = binary_args(&db, &dir, ALTER, random_server_id(), &extra);
    let (cmd, out, err) = wraith_command(&dir, "run", &args)?;
    let mut run = Wraith::spawn(cmd, out, err)?;

    // During the copy, held by the throttle flag (a copy of this size takes about a second unthrottled,
    // less than a status tick): the object says why, and rows_copied moves once the flag is gone (below).
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None::<Value>));
    run.wait_until("the copy throttled by the flag file on /status", PHASE_TIMEOUT, || {
        let seen = seen.clone();
        async move {
            let Ok(s) = status_http(port).await else { return Ok(false) };
            let throttled = s["phase"] == "migrating" && s["copy_done"] == false && s["throttled"] == true;
            let by_flag = s["throttle_reason"].as_str().is_some_and(|r| r.contains("flag"));
            if throttled && by_flag {
                *seen.lock().unwrap() = Some(s);
            }
            Ok(throttled && by_flag)
        }
    })
    .await?;
    let held_copy = seen.lock().unwrap().take().context("the throttled status")?;
    let copied_while_held = u(&held_copy, "rows_copied")?;

    // The three views of one moment agree: each is the last published snapshot, so a value read between
    // two others lies between them.
    let before = status_http(port).await?;
    let m = metrics(port).await?;
    let after = status_socket(&dir).await?;
    let copied = sample(&m, "wraith_rows_copied_total")? as u64;
    ensure!(
        u(&before, "rows_copied")? <= copied && copied <= u(&after, "rows_copied")?,
        "rows copied: /status {} then /metrics {copied} then the socket {}",
        before["rows_copied"],
        after["rows_copied"]
    );
    let applied = sample(&m, "wraith_binlog_events_applied_total")? as u64;
    ensure!(u(&before, "binlog_events_applied")? <= applied && applied <= u(&after, "binlog_events_applied")?);
    // The status line in the object is the status line of the same tick.
    let line = after["line"].as_str().context("line")?;
    ensure!(copied_in_status(line) == Some(u(&after, "rows_copied")?), "line {line:?} vs {after}");
    ensure!(after["settings"]["chunk_size"] == 10, "settings: {}", after["settings"]);
    ensure!(after["postponed"]["flag_file"] == postpone.display().to_string(), "postponed: {}", after["postponed"]);
    ensure!(sample(&m, "wraith_phase{phase=\"migrating\"}")? == 1.0);
    ensure!(sample(&m, "wraith_phase{phase=\"postponing cut-over\"}")? == 0.0);
    ensure!(
        m.iter().any(|(k, v)| k.starts_with("wraith_throttled{reason=") && *v == 1.0),
        "wraith_throttled is 1 for the flag file's reason"
    );
    for key in ["wraith_rows_estimated", "wraith_binlog_backlog", "wraith_lag_seconds", "wraith_cutover_attempts_total"]
    {
        sample(&m, key)?;
    }
    ensure!(m.keys().any(|k| k.starts_with("wraith_info{")), "wraith_info");
    ensure!(m.keys().any(|k| k.starts_with("wraith_throttled{reason=")), "wraith_throttled");
    ensure!(m.keys().any(|k| k.starts_with("wraith_retries_total{kind=")), "wraith_retries_total");
    ensure!(m.keys().any(|k| k.starts_with("wraith_apply_batch_seconds_bucket{")), "wraith_apply_batch_seconds");
    // Nothing served is a secret.
    let (_, raw) = http_get(port, "/status").await?;
    let (_, text) = http_get(port, "/metrics").await?;
    let password = &settings().password;
    ensure!(!raw.contains(password.as_str()) && !text.contains(password.as_str()), "the password is served");
    let (code, _) = http_get(port, "/nope").await?;
    ensure!(code == 404, "an unknown path answers {code}");

    // Postponed: the copy is done and the binlog is still applied while the writers write.
    std::fs::remove_file(&throttle)?;
    run.wait_until("the postponed phase on /status", PHASE_TIMEOUT, || async move {
        Ok(status_http(port).await.is_ok_and(|s| s["phase"] == "postponing cut-over"))
    })
    .await?;
    let held = status_socket(&dir).await?;
    ensure!(held["postponed"]["active"] == true && held["postponed"]["flag_file_exists"] == true, "{held}");
    ensure!(held["copy_done"] == true && held["eta_seconds"].is_null(), "{held}");
    let m = metrics(port).await?;
    ensure!(sample(&m, "wraith_postponed")? == 1.0);
    ensure!(u(&held, "rows_copied")? > copied_while_held, "rows_copied moved: {held}");
    ensure!(sample(&m, "wraith_copy_chunk_seconds_count")? >= 1.0, "chunks are timed");
    ensure!(sample(&m, "wraith_phase{phase=\"postponing cut-over\"}")? == 1.0);
    ensure!(
        sample(&m, "wraith_rows_copied_total")? as u64 == u(&held, "rows_copied")?,
        "the copy is over: the metric and the object say the same"
    );
    let applied = u(&held, "binlog_events_applied")?;
    run.wait_until("binlog events applied while postponed", PHASE_TIMEOUT, || async move {
        Ok(status_http(port).await.is_ok_and(|s| s["binlog_events_applied"].as_u64() > Some(applied)))
    })
    .await?;
    ensure!(
        status_http(port).await?["checksum"]["summary"].as_str().is_some_and(|s| s.contains("verified")),
        "the verification's summary is in the status"
    );

    // A row lock wait on the table shows as such (not only in the server-wide counters): a transaction
    // holds a row (one no writer touches, in t and c alike) and another statement waits for it.
    db.exec("INSERT INTO t (id, n) VALUES (-5, 1); INSERT INTO c (id, n) VALUES (-5, 1)").await?;
    let mut holder = connect(primary_opts(Some(db.name()))).await?;
    holder.query_drop("START TRANSACTION").await?;
    holder.query_drop("SELECT n FROM t WHERE id = -5 FOR UPDATE").await?;
    let mut waiter = connect(primary_opts(Some(db.name()))).await?;
    let waiting = tokio::spawn(async move { waiter.query_drop("UPDATE t SET n = n WHERE id = -5").await });
    run.wait_until("a row lock wait on the table in /status", PHASE_TIMEOUT, || async move {
        Ok(status_http(port).await.is_ok_and(|s| s["server"]["table_row_lock_waiting"].as_u64() >= Some(1)))
    })
    .await?;
    let m = metrics(port).await?;
    ensure!(sample(&m, "wraith_table_row_lock_waiting")? >= 1.0, "the gauge shows the waiter");
    ensure!(sample(&m, "wraith_table_row_lock_wait_samples_total")? >= 1.0);
    holder.query_drop("ROLLBACK").await?;
    waiting.await??;

    std::fs::remove_file(&postpone)?;
    let (ok, output) = run.finish(RUN_TIMEOUT).await?;
    ensure!(ok, "the migration failed:\n{output}");
    writers.stop().await?;
    assert_matches_control(&db, SIMPLE_COLUMNS, SIMPLE_COLUMNS).await?;

    // Every log line is one JSON object with the documented keys.
    let stderr = std::fs::read_to_string(&run.stderr_path)?;
    let mut phases = BTreeSet::new();
    let mut lines = 0;
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).with_context(|| format!("a log line is not JSON: {line:?}"))?;
        for key in ["time", "level", "phase", "target", "message", "fields"] {
            ensure!(v.get(key).is_some(), "no {key} in {line}");
        }
        ensure!(v["fields"].is_object(), "{line}");
        phases.insert(v["phase"].as_str().unwrap_or_default().to_string());
        lines += 1;
    }
    ensure!(lines > 5, "too few log lines: {stderr}");
    ensure!(phases.contains("migrating") && phases.contains("postponing cut-over"), "phases logged: {phases:?}");
    Ok(())
}

/// `--metrics-address` refuses a host name before anything runs, and says what to give.
#[tokio::test]
async fn a_bad_metrics_address_is_refused() -> Result<()> {
    let (status, _, stderr) =
        run_wraith(&["migrate", "--metrics-address=metrics.example:9187"], &[], Duration::from_secs(30)).await?;
    ensure!(!status.success(), "accepted");
    ensure!(stderr.contains("--metrics-address") && stderr.contains("IP address"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn completions_and_man_generate() -> Result<()> {
    let limit = Duration::from_secs(30);
    for shell in ["bash", "zsh", "fish"] {
        let (status, out, err) = run_wraith(&["completions", shell], &[], limit).await?;
        ensure!(status.success(), "completions {shell}: {err}");
        ensure!(out.contains("migrate") && out.contains("metrics-address"), "completions {shell}:\n{out}");
    }
    let (status, out, err) = run_wraith(&["man"], &[], limit).await?;
    ensure!(status.success() && (out.starts_with(".ie") || out.contains(".TH")), "man: {err}\n{out}");
    ensure!(out.contains("migrate"), "the man page names migrate:\n{out}");
    let (status, out, _) = run_wraith(&["man", "migrate"], &[], limit).await?;
    ensure!(status.success() && out.contains("chunk\\-size") && out.contains("metrics\\-address"), "{out}");
    let (status, _, err) = run_wraith(&["man", "nope"], &[], limit).await?;
    ensure!(!status.success() && err.contains("migrate, plan, ctl"), "{err}");
    let (status, out, _) = run_wraith(&["man", "plan"], &[], limit).await?;
    ensure!(status.success() && out.contains("no\\-scan"), "{out}");
    Ok(())
}

#[test]
fn the_exposition_parser_rejects_what_prometheus_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total 1\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n# TYPE g gauge\ng{x=\"a,b\",y=\"q\\\"\"} -1.5e3\n";
    let s = parse_exposition(good).unwrap();
    assert_eq!(s["a_total"], 1.0);
    assert_eq!(s["h_count"], 2.0);
    assert_eq!(s["g{x=\"a,b\",y=\"q\\\"\"}"], -1500.0);
    for bad in
        ["untyped_sample 1\n", "# TYPE a gauge\na\n", "# TYPE a gauge\na{x=1} 1\n", "# TYPE a gauge\na x\n", "# nope\n"]
    {
        assert!(parse_exposition(bad).is_err(), "accepted {bad:?}");
    }
}

/// With JSON logs a refused run's fatal error is a JSON line too, saying what to do.
#[tokio::test]
async fn a_fatal_error_is_a_json_line() -> Result<()> {
    let (status, _, stderr) =
        run_wraith(&["migrate", "--log-format=json", "--table=t", "--alter=x"], &[], Duration::from_secs(30)).await?;
    ensure!(!status.success(), "accepted");
    let last = stderr.lines().last().context("no output")?;
    let v: Value = serde_json::from_str(last).with_context(|| format!("not JSON: {stderr}"))?;
    ensure!(v["level"] == "ERROR" && v["message"].as_str().is_some_and(|m| m.contains("--database")), "{v}");
    Ok(())
}
