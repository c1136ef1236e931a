//! The control server and the runtime settings it changes: gh-ost's interactive commands over a unix socket
//! (--serve-socket-file) or TCP (--serve-tcp-port). One command per connection, `command[=argument]`;
//! `argument` `?` reads a value. The migration reads `Control` on every step, so changes take effect at once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tracing::{info, warn};

use crate::config::{parse_endpoint, Endpoint, LoadLimits};
use crate::error::{Error, Result};

/// Everything an operator can change while a migration runs, plus what the commands report.
#[derive(Debug, Default)]
pub struct Control {
    pub user_throttle: AtomicBool,
    pub unpostponed: AtomicBool,
    pub panic: AtomicBool,
    /// The migrator is postponing the cut-over (the flag file exists): `unpostpone` applies now.
    pub postponing: AtomicBool,
    pub chunk_size: Arc<AtomicU64>,
    pub dml_batch_size: AtomicU64,
    pub max_lag_millis: AtomicU64,
    /// nice-ratio, stored as f64 bits.
    pub nice_ratio: AtomicU64,
    pub max_load: Mutex<LoadLimits>,
    pub critical_load: Mutex<LoadLimits>,
    pub throttle_query: Mutex<Option<String>>,
    pub throttle_http: Mutex<Option<String>>,
    pub throttle_control_replicas: Mutex<Vec<Endpoint>>,
    pub postpone_flag_file: Mutex<Option<PathBuf>>,
    /// The table name `panic` / `unpostpone` must name when --force-named-panic / --force-named-cut-over.
    pub table: String,
    pub force_named_panic: bool,
    pub force_named_cut_over: bool,
    /// Status line, binlog coordinates, applier and inspector descriptions (refreshed by the migrator).
    pub status: Mutex<String>,
    pub coordinates: Mutex<String>,
    pub applier: Mutex<String>,
    pub inspector: Mutex<String>,
    /// Commands received, for the on-interactive-command hook.
    pub commands: Mutex<Vec<String>>,
}

const HELP: &str = "available commands:
status, info                 # detailed status
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
help                         # this message
(any setting with =? prints its current value)
";

fn f64_of(v: &AtomicU64) -> f64 {
    f64::from_bits(v.load(Ordering::Relaxed))
}

impl Control {
    pub fn nice_ratio(&self) -> f64 {
        f64_of(&self.nice_ratio)
    }

    fn lock<T: Clone>(m: &Mutex<T>) -> T {
        m.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set<T>(m: &Mutex<T>, v: T) {
        *m.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }

    /// Runs one command line and returns the reply (what gh-ost prints back on the socket).
    pub fn execute(&self, line: &str) -> String {
        let line = line.trim();
        let (cmd, arg) = match line.split_once('=') {
            Some((c, a)) => (c.trim(), Some(a.trim())),
            None => (line, None),
        };
        if !cmd.is_empty() && cmd != "help" {
            self.commands.lock().unwrap_or_else(|p| p.into_inner()).push(line.to_string());
        }
        let read = arg == Some("?");
        let ok = || "OK\n".to_string();
        match cmd {
            "" | "help" => HELP.to_string(),
            "status" | "info" => format!("{}\n", Self::lock(&self.status)),
            "sup" => format!("{}\n", Self::lock(&self.status).split("; ").take(3).collect::<Vec<_>>().join("; ")),
            "coordinates" => format!("{}\n", Self::lock(&self.coordinates)),
            "applier" => format!("{}\n", Self::lock(&self.applier)),
            "inspector" => format!("{}\n", Self::lock(&self.inspector)),
            "chunk-size" => self.number(arg, read, &self.chunk_size, 10, 100_000),
            "dml-batch-size" => self.number(arg, read, &self.dml_batch_size, 1, 10_000),
            "max-lag-millis" => self.number(arg, read, &self.max_lag_millis, 100, u64::MAX),
            "nice-ratio" => match (read, arg.map(str::parse::<f64>)) {
                (true, _) => format!("{}\n", self.nice_ratio()),
                (false, Some(Ok(v))) if (0.0..=100.0).contains(&v) => {
                    self.nice_ratio.store(v.to_bits(), Ordering::Relaxed);
                    ok()
                }
                _ => "ERROR: nice-ratio expects a number from 0 to 100\n".into(),
            },
            "max-load" | "critical-load" => {
                let cell = if cmd == "max-load" { &self.max_load } else { &self.critical_load };
                if read {
                    return format!("{}\n", Self::lock(cell));
                }
                match LoadLimits::parse(arg.unwrap_or_default()) {
                    Ok(l) => {
                        info!("{cmd} set to {l}");
                        Self::set(cell, l);
                        ok()
                    }
                    Err(e) => format!("ERROR: {e}\n"),
                }
            }
            "throttle-query" | "throttle-http" => {
                let cell = if cmd == "throttle-query" { &self.throttle_query } else { &self.throttle_http };
                if read {
                    return format!("{}\n", Self::lock(cell).unwrap_or_default());
                }
                let v = arg.filter(|a| !a.is_empty()).map(str::to_string);
                if cmd == "throttle-http" {
                    if let Some(Err(e)) = v.as_deref().map(crate::control::throttle::parse_http_url) {
                        return format!("ERROR: {e}\n");
                    }
                }
                Self::set(cell, v);
                ok()
            }
            "throttle-control-replicas" => {
                if read {
                    let list: Vec<String> =
                        Self::lock(&self.throttle_control_replicas).iter().map(|e| e.to_string()).collect();
                    return format!("{}\n", list.join(","));
                }
                let parsed: std::result::Result<Vec<Endpoint>, String> =
                    arg.unwrap_or_default().split(',').filter(|s| !s.trim().is_empty()).map(parse_endpoint).collect();
                match parsed {
                    Ok(list) => {
                        Self::set(&self.throttle_control_replicas, list);
                        ok()
                    }
                    Err(e) => format!("ERROR: {e}\n"),
                }
            }
            "postpone-cut-over-flag-file" => {
                if read {
                    return format!(
                        "{}\n",
                        Self::lock(&self.postpone_flag_file).map(|p| p.display().to_string()).unwrap_or_default()
                    );
                }
                Self::set(&self.postpone_flag_file, arg.filter(|a| !a.is_empty()).map(PathBuf::from));
                ok()
            }
            "throttle" | "pause" | "suspend" => {
                self.user_throttle.store(true, Ordering::Relaxed);
                info!("throttled by an interactive command");
                ok()
            }
            "no-throttle" | "unthrottle" | "resume" | "continue" => {
                self.user_throttle.store(false, Ordering::Relaxed);
                info!("throttle lifted by an interactive command");
                ok()
            }
            "unpostpone" | "no-postpone" | "cut-over" => {
                if self.force_named_cut_over && arg != Some(self.table.as_str()) {
                    return format!("ERROR: --force-named-cut-over is set: use {cmd}={}\n", self.table);
                }
                if let Some(a) = arg.filter(|a| *a != self.table) {
                    return format!("ERROR: {cmd}={a} names another table; this migration is of {}\n", self.table);
                }
                // Only a postponed cut-over can be released; an early `unpostpone` must not arm a surprise.
                if !self.postponing.load(Ordering::Relaxed) {
                    return "ERROR: the cut-over is not being postponed right now\n".to_string();
                }
                self.unpostponed.store(true, Ordering::Relaxed);
                info!("cut-over unpostponed by an interactive command");
                ok()
            }
            "panic" => {
                if self.force_named_panic && arg != Some(self.table.as_str()) {
                    return format!("ERROR: --force-named-panic is set: use panic={}\n", self.table);
                }
                if let Some(a) = arg.filter(|a| *a != self.table) {
                    return format!("ERROR: panic={a} names another table; this migration is of {}\n", self.table);
                }
                self.panic.store(true, Ordering::Relaxed);
                warn!("panic requested by an interactive command");
                ok()
            }
            other => format!("ERROR: unknown command: {other}\n{HELP}"),
        }
    }

    fn number(&self, arg: Option<&str>, read: bool, cell: &AtomicU64, lo: u64, hi: u64) -> String {
        if read {
            return format!("{}\n", cell.load(Ordering::Relaxed));
        }
        match arg.and_then(|a| a.parse::<u64>().ok()) {
            Some(v) => {
                cell.store(v.clamp(lo, hi), Ordering::Relaxed);
                "OK\n".into()
            }
            None => "ERROR: expected a number\n".into(),
        }
    }
}

/// Stops serving (and removes the socket file) when dropped.
pub struct ServerGuard {
    path: Option<PathBuf>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(p) = &self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Serves on a unix socket and/or a TCP port. The port is bound on 127.0.0.1 only (gh-ost binds all
/// interfaces): the commands can abort a migration and carry no authentication.
pub async fn serve(
    socket: Option<PathBuf>,
    drop_existing_socket: bool,
    tcp_port: Option<u16>,
    control: Arc<Control>,
) -> Result<ServerGuard> {
    let mut guard = ServerGuard { path: None, tasks: Vec::new() };
    if let Some(path) = socket {
        if path.exists() {
            if !drop_existing_socket {
                return Err(Error::precondition(
                    format!("socket file {} already exists (another migration, or a leftover?)", path.display()),
                    "remove it, or pass --initially-drop-socket-file",
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        info!("serving interactive commands on unix socket {}", path.display());
        guard.path = Some(path);
        let control = control.clone();
        guard.tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (r, w) = stream.into_split();
                tokio::spawn(handle(r, w, control.clone()));
            }
        }));
    }
    if let Some(port) = tcp_port {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        info!("serving interactive commands on tcp 127.0.0.1:{port}");
        guard.tasks.push(tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let (r, w) = stream.into_split();
                tokio::spawn(handle(r, w, control.clone()));
            }
        }));
    }
    Ok(guard)
}

async fn handle<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(r: R, mut w: W, control: Arc<Control>) {
    let mut lines = BufReader::new(r).lines();
    if let Ok(Some(line)) = lines.next_line().await {
        let _ = w.write_all(control.execute(&line).as_bytes()).await;
    }
    let _ = w.shutdown().await;
}

/// `wraith ctl`: sends one command to a running migration and returns the reply.
pub async fn send(socket: Option<&std::path::Path>, tcp: Option<&str>, command: &str) -> Result<String> {
    async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, command: &str) -> std::io::Result<String> {
        s.write_all(format!("{command}\n").as_bytes()).await?;
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut s, &mut out).await?;
        Ok(out)
    }
    let reply = match (socket, tcp) {
        (Some(p), _) => talk(tokio::net::UnixStream::connect(p).await?, command).await?,
        (None, Some(addr)) => talk(tokio::net::TcpStream::connect(addr).await?, command).await?,
        (None, None) => return Err(Error::Config("give --socket PATH or --tcp HOST:PORT".into())),
    };
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let c = Control { table: "t".into(), force_named_panic: true, ..Control::default() };
        c.chunk_size.store(1000, Ordering::Relaxed);
        assert_eq!(c.execute("chunk-size=?"), "1000\n");
        assert_eq!(c.execute("chunk-size=5"), "OK\n");
        assert_eq!(c.execute("chunk-size=?"), "10\n", "clamped like the flag");
        assert_eq!(c.execute("pause"), "OK\n");
        assert!(c.user_throttle.load(Ordering::Relaxed));
        assert_eq!(c.execute("resume"), "OK\n");
        assert!(!c.user_throttle.load(Ordering::Relaxed));
        assert!(c.execute("bogus").starts_with("ERROR: unknown command"));
        assert!(c.execute("unpostpone").starts_with("ERROR"), "nothing is postponed yet");
        c.postponing.store(true, Ordering::Relaxed);
        assert!(c.execute("unpostpone=other").starts_with("ERROR"));
        assert_eq!(c.execute("unpostpone"), "OK\n");
        assert!(c.unpostponed.load(Ordering::Relaxed));
        assert!(c.execute("panic=other").starts_with("ERROR"));
        assert_eq!(c.execute("max-load=Threads_running=25"), "OK\n");
        assert_eq!(c.execute("max-load=?"), "Threads_running=25\n");
        assert!(c.execute("max-load=Threads_running").starts_with("ERROR"));
        assert!(c.execute("panic").starts_with("ERROR: --force-named-panic"));
        assert!(!c.panic.load(Ordering::Relaxed));
        assert_eq!(c.execute("panic=t"), "OK\n");
        assert!(c.panic.load(Ordering::Relaxed));
        assert_eq!(c.execute("nice-ratio=0.5"), "OK\n");
        assert_eq!(c.execute("nice-ratio=?"), "0.5\n");
        assert_eq!(c.execute("throttle-control-replicas=h1:3307,h2"), "OK\n");
        assert_eq!(c.execute("throttle-control-replicas=?"), "h1:3307,h2:3306\n");
    }
}
