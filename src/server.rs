//! The control server: gh-ost's interactive commands over a unix socket (--serve-socket-file) or TCP
//! (--serve-tcp-port). One command per connection line, `command[=argument]`; `argument` `?` reads a value.
//! Commands change the running migration through `Control`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// Knobs the operator can turn while a migration runs.
#[derive(Debug, Default)]
pub struct Control {
    /// `throttle` / `no-throttle`.
    pub user_throttle: AtomicBool,
    /// `unpostpone`: cut over even though the postpone flag file exists.
    pub unpostponed: AtomicBool,
    /// `panic`: abort at once.
    pub panic: AtomicBool,
    pub chunk_size: Arc<AtomicU64>,
    pub max_lag_millis: AtomicU64,
    /// The current status line, refreshed by the migrator.
    pub status: Mutex<String>,
}

const HELP: &str = "available commands:
status, sup, info          # print a detailed status / a one-line summary
chunk-size=<n>             # set the copy chunk size (10..100000); `chunk-size=?` reads it
max-lag-millis=<n>         # set the replication lag threshold; `max-lag-millis=?` reads it
throttle, pause, suspend   # pause the row copy
no-throttle, unthrottle, resume, continue  # end a throttle started with `throttle`
unpostpone, no-postpone, cut-over          # cut over now even if the postpone flag file exists
panic                      # abort the migration now; the original table is left as it was
help                       # this message
";

impl Control {
    /// Runs one command line and returns the reply.
    pub fn execute(&self, line: &str) -> String {
        let line = line.trim();
        let (cmd, arg) = match line.split_once('=') {
            Some((c, a)) => (c.trim(), Some(a.trim())),
            None => (line, None),
        };
        let read = arg == Some("?");
        match cmd {
            "help" => HELP.to_string(),
            "status" | "info" | "sup" => format!("{}\n", self.status.lock().unwrap_or_else(|p| p.into_inner())),
            "chunk-size" => self.number(arg, read, &self.chunk_size, 10, 100_000),
            "max-lag-millis" => self.number(arg, read, &self.max_lag_millis, 100, u64::MAX),
            "throttle" | "pause" | "suspend" => {
                self.user_throttle.store(true, Ordering::Relaxed);
                info!("throttled by an interactive command");
                "OK\n".into()
            }
            "no-throttle" | "unthrottle" | "resume" | "continue" => {
                self.user_throttle.store(false, Ordering::Relaxed);
                info!("throttle lifted by an interactive command");
                "OK\n".into()
            }
            "unpostpone" | "no-postpone" | "cut-over" => {
                self.unpostponed.store(true, Ordering::Relaxed);
                info!("cut-over unpostponed by an interactive command");
                "OK\n".into()
            }
            "panic" => {
                self.panic.store(true, Ordering::Relaxed);
                warn!("panic requested by an interactive command");
                "OK\n".into()
            }
            "" => HELP.to_string(),
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

/// Listens on a unix socket until the returned guard is dropped (which removes the socket file).
pub async fn serve_unix(path: PathBuf, drop_existing: bool, control: Arc<Control>) -> Result<SocketGuard> {
    if path.exists() {
        if !drop_existing {
            return Err(Error::precondition(
                format!("socket file {} already exists (another migration, or a leftover?)", path.display()),
                "remove it, or pass --initially-drop-socket-file",
            ));
        }
        std::fs::remove_file(&path)?;
    }
    let listener = UnixListener::bind(&path)?;
    info!("serving control commands on unix socket {}", path.display());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let control = control.clone();
            tokio::spawn(async move {
                let (r, w) = stream.into_split();
                let _ = handle(BufReader::new(r), w, &control).await;
            });
        }
    });
    Ok(SocketGuard { path, task })
}

async fn handle<R: tokio::io::AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    reader: BufReader<R>,
    mut w: W,
    control: &Control,
) -> std::io::Result<()> {
    let mut lines = reader.lines();
    if let Some(line) = lines.next_line().await? {
        w.write_all(control.execute(&line).as_bytes()).await?;
    }
    w.shutdown().await
}

pub struct SocketGuard {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let c = Control::default();
        c.chunk_size.store(1000, Ordering::Relaxed);
        assert_eq!(c.execute("chunk-size=?"), "1000\n");
        assert_eq!(c.execute("chunk-size=5"), "OK\n");
        assert_eq!(c.execute("chunk-size=?"), "10\n", "clamped like the flag");
        assert_eq!(c.execute("pause"), "OK\n");
        assert!(c.user_throttle.load(Ordering::Relaxed));
        assert_eq!(c.execute("resume"), "OK\n");
        assert!(!c.user_throttle.load(Ordering::Relaxed));
        assert!(c.execute("bogus").starts_with("ERROR: unknown command"));
        c.execute("unpostpone");
        assert!(c.unpostponed.load(Ordering::Relaxed));
    }
}
