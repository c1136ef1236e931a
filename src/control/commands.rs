//! gh-ost's interactive commands: one line, `command[=argument]`; the argument `?` reads a value. Each line
//! is parsed into a `Request`, then applied to what the control server was lent: settings change in place
//! (the run reads them at every step), `panic`, `unpostpone` and `revert` go to the run as `Command`s, and status
//! comes from the run's last `Progress`.
//!
//! Invariants: a refused command changes nothing and its reply starts with `ERROR`; every line but `help`
//! is also forwarded for the on-interactive-command hook.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::{parse_endpoint, parse_http_url, Endpoint, LoadLimits};
use crate::phase::Phase;
use crate::state::command::Command;
use crate::state::settings::Settings;
use crate::state::Progress;

pub(crate) const HELP: &str = "available commands:
status, info                 # detailed status
status --json                # the status as one JSON object (fields: docs/observability.md)
sup                          # one-line summary
coordinates                  # binlog GTID set applied so far
applier                      # the server being written to
inspector                    # the server being inspected
chunk-size=<n>               # rows per copy chunk (10..100000)
dml-batch-size=<n>           # binlog changes per apply transaction
nice-ratio=<f>               # sleep this many times each chunk's copy time after it
max-lag-millis=<n>           # replication lag above which the copy throttles
max-load=<status=n,...>      # status thresholds that throttle, e.g. Threads_running=25
critical-load=<status=n,...> # status thresholds that abort the migration
throttle-query=<sql>         # throttle while it returns > 0
throttle-http=<url>          # throttle while it does not answer 200
throttle-control-replicas=<host:port,...>  # replicas whose lag is checked too
postpone-cut-over-flag-file=<path>         # postpone the cut-over while this file exists
throttle, pause, suspend     # pause the row copy
no-throttle, unthrottle, resume, continue  # end a throttle started by a command
unpostpone, no-postpone, cut-over          # cut over now, even if the postpone flag file exists
panic                        # abort now; the original table is left as it was
revert                       # during --revert-window: swap the old table back in now
no-revert, finish            # during --revert-window: end the window, keep the new schema
help                         # this message
(any setting with =? prints its current value)
";

/// Fixed facts the commands report or check.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identity {
    /// The table name `panic` / `unpostpone` must name when --force-named-panic / --force-named-cut-over.
    pub(crate) table: String,
    pub(crate) force_named_panic: bool,
    pub(crate) force_named_cut_over: bool,
    /// The server written to, and the one inspected.
    pub(crate) applier: String,
    pub(crate) inspector: String,
}

/// What the control server was lent by the run.
#[derive(Clone)]
pub(crate) struct Controls {
    pub(crate) settings: Arc<Settings>,
    pub(crate) progress: watch::Receiver<Progress>,
    pub(crate) inbox: mpsc::UnboundedSender<Command>,
    pub(crate) identity: Arc<Identity>,
}

/// A parsed command line.
#[derive(Debug, PartialEq)]
enum Request<'a> {
    Help,
    Status,
    StatusJson,
    Sup,
    Coordinates,
    Applier,
    Inspector,
    /// A setting, read (`=?`) or set.
    Setting {
        name: &'a str,
        value: Option<&'a str>,
    },
    Throttle,
    NoThrottle,
    Unpostpone {
        name: &'a str,
        table: Option<&'a str>,
    },
    Panic {
        table: Option<&'a str>,
    },
    Revert,
    EndRevertWindow,
    Unknown(&'a str),
}

const SETTINGS: &[&str] = &[
    "chunk-size",
    "dml-batch-size",
    "max-lag-millis",
    "nice-ratio",
    "max-load",
    "critical-load",
    "throttle-query",
    "throttle-http",
    "throttle-control-replicas",
    "postpone-cut-over-flag-file",
];

fn parse(line: &str) -> Request<'_> {
    if matches!(line.split_whitespace().collect::<Vec<_>>().as_slice(), ["status" | "info", "--json" | "json"]) {
        return Request::StatusJson;
    }
    let (cmd, arg) = match line.split_once('=') {
        Some((c, a)) => (c.trim(), Some(a.trim())),
        None => (line, None),
    };
    match cmd {
        "" | "help" => Request::Help,
        "status" | "info" => Request::Status,
        "sup" => Request::Sup,
        "coordinates" => Request::Coordinates,
        "applier" => Request::Applier,
        "inspector" => Request::Inspector,
        s if SETTINGS.contains(&s) => Request::Setting { name: s, value: arg.filter(|a| *a != "?") },
        "throttle" | "pause" | "suspend" => Request::Throttle,
        "no-throttle" | "unthrottle" | "resume" | "continue" => Request::NoThrottle,
        "unpostpone" | "no-postpone" | "cut-over" => Request::Unpostpone { name: cmd, table: arg },
        "panic" => Request::Panic { table: arg },
        "revert" => Request::Revert,
        "no-revert" | "finish" => Request::EndRevertWindow,
        other => Request::Unknown(other),
    }
}

impl Controls {
    /// Runs one command line and returns the reply (what gh-ost prints back on the socket).
    pub(crate) fn execute(&self, line: &str) -> String {
        let line = line.trim();
        let request = parse(line);
        if request != Request::Help {
            let _ = self.inbox.send(Command::Received(line.to_string()));
        }
        let status = || self.progress.borrow().line.clone();
        let id = &self.identity;
        match request {
            Request::Help => HELP.to_string(),
            Request::Status => format!("{}\n", status()),
            Request::StatusJson => {
                let p = self.progress.borrow();
                format!("{}\n", p.status.to_json(p.phase))
            }
            Request::Sup => format!("{}\n", status().split("; ").take(3).collect::<Vec<_>>().join("; ")),
            Request::Coordinates => format!("{}\n", self.progress.borrow().coordinates),
            Request::Applier => format!("{}\n", id.applier),
            Request::Inspector => format!("{}\n", id.inspector),
            Request::Setting { name, value: None } => format!("{}\n", self.read(name)),
            Request::Setting { name, value: Some(v) } => match self.set(name, v) {
                Ok(()) => "OK\n".to_string(),
                Err(e) => format!("ERROR: {e}\n"),
            },
            Request::Throttle => {
                self.settings.user_throttle.store(true, Ordering::Relaxed);
                info!("throttled by an interactive command");
                "OK\n".into()
            }
            Request::NoThrottle => {
                self.settings.user_throttle.store(false, Ordering::Relaxed);
                info!("throttle lifted by an interactive command");
                "OK\n".into()
            }
            Request::Unpostpone { name, table } => {
                if let Err(e) = self.names_this_table(name, table, id.force_named_cut_over, "--force-named-cut-over") {
                    return e;
                }
                // Only a postponed cut-over can be released; an early `unpostpone` must not arm a surprise.
                if self.progress.borrow().phase != Phase::Postponing {
                    return "ERROR: the cut-over is not being postponed right now\n".to_string();
                }
                let _ = self.inbox.send(Command::Unpostpone);
                info!("cut-over unpostponed by an interactive command");
                "OK\n".into()
            }
            Request::Panic { table } => {
                if let Err(e) = self.names_this_table("panic", table, id.force_named_panic, "--force-named-panic") {
                    return e;
                }
                let _ = self.inbox.send(Command::Panic);
                warn!("panic requested by an interactive command");
                "OK\n".into()
            }
            Request::Revert | Request::EndRevertWindow => {
                if self.progress.borrow().phase != Phase::Revertible {
                    return "ERROR: no revert window is open (a migration opens one after its cut-over with \
                            --revert-window=DURATION)\n"
                        .to_string();
                }
                if request == Request::Revert {
                    let _ = self.inbox.send(Command::Revert);
                    warn!("revert requested by an interactive command");
                } else {
                    let _ = self.inbox.send(Command::EndRevertWindow);
                    info!("revert window ended by an interactive command");
                }
                "OK\n".into()
            }
            Request::Unknown(other) => format!("ERROR: unknown command: {other}\n{HELP}"),
        }
    }

    /// `cmd=<table>` must name this migration's table (and must be given when `forced`).
    fn names_this_table(&self, cmd: &str, table: Option<&str>, forced: bool, flag: &str) -> Result<(), String> {
        let ours = self.identity.table.as_str();
        if forced && table != Some(ours) {
            return Err(format!("ERROR: {flag} is set: use {cmd}={ours}\n"));
        }
        if let Some(a) = table.filter(|a| *a != ours) {
            return Err(format!("ERROR: {cmd}={a} names another table; this migration is of {ours}\n"));
        }
        Ok(())
    }

    fn read(&self, name: &str) -> String {
        let s = &self.settings;
        match name {
            "chunk-size" => s.chunk_size.load(Ordering::Relaxed).to_string(),
            "dml-batch-size" => s.dml_batch_size.load(Ordering::Relaxed).to_string(),
            "max-lag-millis" => s.max_lag_millis.load(Ordering::Relaxed).to_string(),
            "nice-ratio" => s.nice_ratio().to_string(),
            "max-load" => s.max_load.get().to_string(),
            "critical-load" => s.critical_load.get().to_string(),
            "throttle-query" => s.throttle_query.get().unwrap_or_default(),
            "throttle-http" => s.throttle_http.get().unwrap_or_default(),
            "throttle-control-replicas" => {
                s.throttle_control_replicas.get().iter().map(|e| e.to_string()).collect::<Vec<_>>().join(",")
            }
            "postpone-cut-over-flag-file" => {
                s.postpone_flag_file.get().map(|p| p.display().to_string()).unwrap_or_default()
            }
            _ => String::new(),
        }
    }

    fn set(&self, name: &str, v: &str) -> Result<(), String> {
        let s = &self.settings;
        let non_empty = Some(v).filter(|a| !a.is_empty());
        match name {
            "chunk-size" => number(v, &s.chunk_size, 10, 100_000)?,
            "dml-batch-size" => number(v, &s.dml_batch_size, 1, 10_000)?,
            "max-lag-millis" => number(v, &s.max_lag_millis, 100, u64::MAX)?,
            "nice-ratio" => match v.parse::<f64>() {
                Ok(r) if (0.0..=100.0).contains(&r) => s.set_nice_ratio(r),
                _ => return Err("nice-ratio expects a number from 0 to 100".into()),
            },
            "max-load" | "critical-load" => {
                let l = LoadLimits::parse(v)?;
                info!("{name} set to {l}");
                if name == "max-load" { &s.max_load } else { &s.critical_load }.set(l);
            }
            "throttle-query" => s.throttle_query.set(non_empty.map(str::to_string)),
            "throttle-http" => {
                if let Some(url) = non_empty {
                    parse_http_url(url)?;
                }
                s.throttle_http.set(non_empty.map(str::to_string));
            }
            "throttle-control-replicas" => {
                let list: Vec<Endpoint> =
                    v.split(',').filter(|s| !s.trim().is_empty()).map(parse_endpoint).collect::<Result<_, _>>()?;
                s.throttle_control_replicas.set(list);
            }
            "postpone-cut-over-flag-file" => s.postpone_flag_file.set(non_empty.map(PathBuf::from)),
            _ => {}
        }
        Ok(())
    }
}

fn number(arg: &str, cell: &AtomicU64, lo: u64, hi: u64) -> Result<(), String> {
    let v = arg.parse::<u64>().map_err(|_| "expected a number".to_string())?;
    cell.store(v.clamp(lo, hi), Ordering::Relaxed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controls() -> (Controls, watch::Sender<Progress>, mpsc::UnboundedReceiver<Command>) {
        let (progress_tx, progress) = watch::channel(Progress::default());
        let (inbox, rx) = mpsc::unbounded_channel();
        let identity = Arc::new(Identity { table: "t".into(), force_named_panic: true, ..Identity::default() });
        let settings = Arc::new(Settings::default());
        settings.chunk_size.store(1000, Ordering::Relaxed);
        (Controls { settings, progress, inbox, identity }, progress_tx, rx)
    }

    fn sent(rx: &mut mpsc::UnboundedReceiver<Command>) -> Vec<Command> {
        std::iter::from_fn(|| rx.try_recv().ok()).filter(|c| !matches!(c, Command::Received(_))).collect()
    }

    #[test]
    fn commands() {
        let (c, progress, mut rx) = controls();
        assert_eq!(c.execute("chunk-size=?"), "1000\n");
        assert_eq!(c.execute("chunk-size=5"), "OK\n");
        assert_eq!(c.execute("chunk-size=?"), "10\n", "clamped like the flag");
        assert_eq!(c.execute("pause"), "OK\n");
        assert!(c.settings.user_throttled());
        assert_eq!(c.execute("resume"), "OK\n");
        assert!(!c.settings.user_throttled());
        assert!(c.execute("bogus").starts_with("ERROR: unknown command"));
        assert!(c.execute("unpostpone").starts_with("ERROR"), "nothing is postponed yet");
        assert!(sent(&mut rx).is_empty());
        progress.send_modify(|p| p.phase = Phase::Postponing);
        assert!(c.execute("unpostpone=other").starts_with("ERROR"));
        assert_eq!(c.execute("unpostpone"), "OK\n");
        assert_eq!(sent(&mut rx), vec![Command::Unpostpone]);
        assert!(c.execute("panic=other").starts_with("ERROR"));
        assert_eq!(c.execute("max-load=Threads_running=25"), "OK\n");
        assert_eq!(c.execute("max-load=?"), "Threads_running=25\n");
        assert!(c.execute("max-load=Threads_running").starts_with("ERROR"));
        assert!(c.execute("panic").starts_with("ERROR: --force-named-panic"));
        assert!(sent(&mut rx).is_empty());
        assert_eq!(c.execute("panic=t"), "OK\n");
        assert_eq!(sent(&mut rx), vec![Command::Panic]);
        assert_eq!(c.execute("nice-ratio=0.5"), "OK\n");
        assert_eq!(c.execute("nice-ratio=?"), "0.5\n");
        assert!(c.execute("nice-ratio=101").starts_with("ERROR"));
        assert_eq!(c.execute("throttle-control-replicas=h1:3307,h2"), "OK\n");
        assert_eq!(c.execute("throttle-control-replicas=?"), "h1:3307,h2:3306\n");
        assert!(c.execute("throttle-http=https://x").starts_with("ERROR"));
    }

    #[test]
    fn status_as_json() {
        let (c, progress, _rx) = controls();
        progress.send_modify(|p| {
            p.phase = Phase::Postponing;
            p.status.rows_copied = 42;
        });
        let v: serde_json::Value = serde_json::from_str(&c.execute("status --json")).unwrap();
        assert_eq!(v["phase"], "postponing cut-over", "before the first tick: the run's phase");
        progress.send_modify(|p| {
            p.status.phase = Phase::Postponing;
            p.status.updated_at = "2026-12-01T00:00:00Z".into();
            p.phase = Phase::CuttingOver;
        });
        for line in ["status --json", "  info   --json ", "status json"] {
            let v: serde_json::Value = serde_json::from_str(&c.execute(line)).unwrap();
            assert_eq!(v["phase"], "postponing cut-over", "{line}");
            assert_eq!(v["rows_copied"], 42, "{line}");
        }
        assert!(c.execute("status --yaml").starts_with("ERROR: unknown command"));
    }

    #[test]
    fn every_line_but_help_reaches_the_hook() {
        let (c, _progress, mut rx) = controls();
        c.execute("help");
        c.execute("sup");
        let got: Vec<Command> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(got, vec![Command::Received("sup".into())]);
    }
}
