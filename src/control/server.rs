//! The control server: gh-ost's interactive commands (`commands`) over a unix socket (--serve-socket-file)
//! or TCP (--serve-tcp-port), one command per connection; and `send`, the client `wraith ctl` uses.
//!
//! Invariants: the server runs as one of the run's tasks and ends with it; its socket file is removed
//! however it ends (the listener's guard is dropped with the task); TCP binds 127.0.0.1 only, because the
//! commands can abort a migration and carry no authentication.

use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tracing::info;

use super::commands::Controls;
use crate::error::{Error, Result};

/// Removes the socket file when dropped.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bound listeners, ready to serve.
pub(crate) struct Listeners {
    unix: Option<(UnixListener, SocketFile)>,
    tcp: Option<TcpListener>,
}

/// Binds the socket and/or the port (a leftover socket file is refused unless `drop_existing_socket`).
pub(crate) async fn bind(
    socket: Option<PathBuf>,
    drop_existing_socket: bool,
    tcp_port: Option<u16>,
) -> Result<Listeners> {
    let mut l = Listeners { unix: None, tcp: None };
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
        l.unix = Some((listener, SocketFile(path)));
    }
    if let Some(port) = tcp_port {
        l.tcp = Some(TcpListener::bind(("127.0.0.1", port)).await?);
        info!("serving interactive commands on tcp 127.0.0.1:{port}");
    }
    Ok(l)
}

impl Listeners {
    /// Serves until dropped (the run's tasks drop it at stop). Each connection is one command, handled on
    /// a task of this server's own set, so dropping the server ends its connections too.
    pub(crate) async fn serve(self, controls: Controls) -> Result<()> {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                Ok((stream, _)) = accept_unix(&self.unix) => {
                    let (r, w) = stream.into_split();
                    connections.spawn(handle(r, w, controls.clone()));
                }
                Ok((stream, _)) = accept_tcp(&self.tcp) => {
                    let (r, w) = stream.into_split();
                    connections.spawn(handle(r, w, controls.clone()));
                }
                Some(_) = connections.join_next() => {}
                else => {}
            }
        }
    }
}

async fn accept_unix(
    l: &Option<(UnixListener, SocketFile)>,
) -> std::io::Result<(tokio::net::UnixStream, tokio::net::unix::SocketAddr)> {
    match l {
        Some((listener, _)) => listener.accept().await,
        None => std::future::pending().await,
    }
}

async fn accept_tcp(l: &Option<TcpListener>) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match l {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

async fn handle<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(r: R, mut w: W, controls: Controls) {
    let mut lines = BufReader::new(r).lines();
    if let Ok(Some(line)) = lines.next_line().await {
        let _ = w.write_all(controls.execute(&line).as_bytes()).await;
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
