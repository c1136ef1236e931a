//! The control server: gh-ost's interactive commands (`commands`) over a unix socket (--serve-socket-file)
//! or TCP (--serve-tcp-port), one command per connection; and `send`, the client `wraith ctl` uses.
//!
//! Invariants:
//! - the server runs as one of the run's tasks and ends with it; its socket file is removed however it
//!   ends (the listener's guard is dropped with the task);
//! - the socket file is mode 0600 from the moment it has its name: it is bound inside a fresh directory
//!   only this user can enter, restricted there, then renamed into place, so no other user ever has a
//!   window to connect (a path too long for that detour is bound in place and restricted at once);
//! - TCP listens on --serve-tcp-bind (127.0.0.1 unless told otherwise; config refuses any other address
//!   without a token file), because the commands can abort a migration;
//! - with a token, a TCP connection runs a command only after its first line was `auth <token>`; the
//!   token is compared in constant time, never logged, and the `auth` line never reaches the command hook.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tracing::{info, warn};

use super::commands::Controls;
use crate::config::Secret;
use crate::error::{Context, Error, Result};

/// Longest request a connection may send (the `auth` line and the command together).
const MAX_REQUEST: u64 = 64 * 1024;
/// A connection that sends nothing for this long is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Removes the socket file when dropped.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where and how TCP is served.
pub(crate) struct TcpSpec {
    pub(crate) bind: IpAddr,
    pub(crate) port: u16,
    /// Required first line `auth <token>` when set.
    pub(crate) token: Option<Secret>,
}

/// The bound listeners, ready to serve.
pub(crate) struct Listeners {
    unix: Option<(UnixListener, SocketFile)>,
    tcp: Option<(TcpListener, Option<Secret>)>,
}

/// Binds the socket and/or the port (a leftover socket file is refused unless `drop_existing_socket`).
pub(crate) async fn bind(
    socket: Option<PathBuf>,
    drop_existing_socket: bool,
    tcp: Option<TcpSpec>,
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
        let listener = bind_private_socket(&path).context(format!("serving on socket file {}", path.display()))?;
        info!("serving interactive commands on unix socket {} (mode 0600)", path.display());
        l.unix = Some((listener, SocketFile(path)));
    }
    if let Some(t) = tcp {
        let listener =
            TcpListener::bind((t.bind, t.port)).await.context(format!("serving on tcp {}:{}", t.bind, t.port))?;
        let auth = if t.token.is_some() { ", token required" } else { "" };
        info!("serving interactive commands on tcp {}{auth}", listener.local_addr()?);
        l.tcp = Some((listener, t.token));
    }
    Ok(l)
}

/// Binds a unix socket at `path` that only this user can connect to (see the module's invariants).
fn bind_private_socket(path: &Path) -> Result<UnixListener> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let private = |p: &Path| std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staging = dir.join(format!(".w{}", std::process::id()));
    let tmp = staging.join("s");
    // A socket path holds at most 107 bytes. When the staging path is longer than that (but the final
    // one is not), bind in place and restrict at once: a window of one system call.
    if tmp.as_os_str().as_bytes().len() > 107 {
        let listener = UnixListener::bind(path)?;
        private(path)?;
        return Ok(listener);
    }
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
    let bound = (|| -> Result<UnixListener> {
        let listener = UnixListener::bind(&tmp)?;
        private(&tmp)?;
        std::fs::rename(&tmp, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    bound
}

impl Listeners {
    /// Serves until dropped (the run's tasks drop it at stop). Each connection is one command, handled on
    /// a task of this server's own set, so dropping the server ends its connections too.
    pub(crate) async fn serve(self, controls: Controls) -> Result<()> {
        let mut connections = tokio::task::JoinSet::new();
        let token = self.tcp.as_ref().and_then(|(_, t)| t.clone());
        loop {
            tokio::select! {
                Ok((stream, _)) = accept_unix(&self.unix) => {
                    let (r, w) = stream.into_split();
                    connections.spawn(handle(r, w, controls.clone(), None, String::from("socket")));
                }
                Ok((stream, peer)) = accept_tcp(&self.tcp) => {
                    let (r, w) = stream.into_split();
                    connections.spawn(handle(r, w, controls.clone(), token.clone(), peer.to_string()));
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

async fn accept_tcp(
    l: &Option<(TcpListener, Option<Secret>)>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match l {
        Some((listener, _)) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// What the first line of a connection means for a server that requires `token` (or none).
#[derive(Debug, PartialEq, Eq)]
enum FirstLine<'a> {
    /// A command to run now.
    Command(&'a str),
    /// A good `auth` line: the command is on the next line.
    Authenticated,
    /// Refused: the reply says why.
    Refused(&'static str),
}

/// `auth <token>` lines; a server without a token skips one, so one client script serves both kinds.
fn first_line<'a>(line: &'a str, token: Option<&Secret>) -> FirstLine<'a> {
    let auth = line.trim().strip_prefix("auth").filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    match (auth.map(str::trim), token) {
        (Some(given), Some(t)) if constant_time_eq(given.as_bytes(), t.expose().as_bytes()) => FirstLine::Authenticated,
        (Some(_), Some(_)) => FirstLine::Refused("ERROR: wrong token\n"),
        (Some(_), None) => FirstLine::Authenticated,
        (None, Some(_)) => FirstLine::Refused(
            "ERROR: this port requires a token: send `auth <token>` (the token in the migration's \
             --serve-tcp-token-file) as the first line, then the command; `wraith ctl --token-file PATH` does it\n",
        ),
        (None, None) => FirstLine::Command(line),
    }
}

/// Compares without stopping at the first difference, so response time says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle<R: AsyncRead + Unpin, W: AsyncWrite + Unpin>(
    r: R,
    mut w: W,
    controls: Controls,
    token: Option<Secret>,
    peer: String,
) {
    let mut lines = BufReader::new(r.take(MAX_REQUEST)).lines();
    let reply = match next_line(&mut lines).await {
        None => None,
        Some(line) => match first_line(&line, token.as_ref()) {
            FirstLine::Command(cmd) => Some(controls.execute(cmd)),
            FirstLine::Authenticated => next_line(&mut lines).await.map(|cmd| controls.execute(&cmd)),
            FirstLine::Refused(why) => {
                warn!("control connection from {peer} refused: {}", why.trim_end());
                Some(why.to_string())
            }
        },
    };
    if let Some(reply) = reply {
        let _ = w.write_all(reply.as_bytes()).await;
    }
    let _ = w.shutdown().await;
}

/// The next line, or None at the end, on an error or after READ_TIMEOUT.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut tokio::io::Lines<R>) -> Option<String> {
    tokio::time::timeout(READ_TIMEOUT, lines.next_line()).await.ok()?.ok()?
}

/// `wraith ctl`: sends one command to a running migration and returns the reply.
pub async fn send(socket: Option<&Path>, tcp: Option<&str>, command: &str) -> Result<String> {
    send_with_token(socket, tcp, None, command).await
}

/// `wraith ctl --token-file`: sends `auth <token>` first (a server without a token skips that line).
pub async fn send_with_token(
    socket: Option<&Path>,
    tcp: Option<&str>,
    token: Option<&str>,
    command: &str,
) -> Result<String> {
    let request = match token {
        Some(t) => format!("auth {t}\n{command}\n"),
        None => format!("{command}\n"),
    };
    async fn talk<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, request: &str) -> std::io::Result<String> {
        s.write_all(request.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    }
    let reply = match (socket, tcp) {
        (Some(p), _) => talk(tokio::net::UnixStream::connect(p).await?, &request).await?,
        (None, Some(addr)) => talk(tokio::net::TcpStream::connect(addr).await?, &request).await?,
        (None, None) => return Err(Error::Config("give --socket PATH or --tcp HOST:PORT".into())),
    };
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines() {
        let t = Secret::new("s3cret");
        assert_eq!(first_line("status", None), FirstLine::Command("status"));
        assert_eq!(first_line("status", Some(&t)), first_line("", Some(&t)));
        assert!(matches!(first_line("status", Some(&t)), FirstLine::Refused(m) if m.contains("auth <token>")));
        assert_eq!(first_line("auth s3cret", Some(&t)), FirstLine::Authenticated);
        assert_eq!(first_line("  auth   s3cret  ", Some(&t)), FirstLine::Authenticated);
        assert_eq!(first_line("auth s3cre", Some(&t)), FirstLine::Refused("ERROR: wrong token\n"));
        assert_eq!(first_line("auth s3cretX", Some(&t)), FirstLine::Refused("ERROR: wrong token\n"));
        assert_eq!(first_line("auth", Some(&t)), FirstLine::Refused("ERROR: wrong token\n"));
        // Not an auth line: `authx` is a (bad) command, refused for lack of a token.
        assert!(
            matches!(first_line("authx s3cret", Some(&t)), FirstLine::Refused(m) if m.contains("requires a token"))
        );
        // Without a token, an auth line is skipped and the next line is the command.
        assert_eq!(first_line("auth whatever", None), FirstLine::Authenticated);
        // A refusal never echoes the token or what was sent.
        for line in ["auth wrong-guess", "status"] {
            let FirstLine::Refused(m) = first_line(line, Some(&t)) else { panic!("{line}") };
            assert!(!m.contains("s3cret") && !m.contains("wrong-guess"), "{m}");
        }
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[tokio::test]
    async fn the_socket_file_is_private() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = std::env::temp_dir().join(format!("wraith-sock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.sock");
        let l = bind(Some(path.clone()), false, None).await.unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let mine = dir.join("owner-probe");
        std::fs::write(&mine, b"").unwrap();
        assert_eq!(meta.uid(), std::fs::metadata(&mine).unwrap().uid(), "owned by this process's user");
        std::fs::remove_file(&mine).unwrap();
        // Nothing of the staging directory is left beside it.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.sock")]);
        drop(l);
        assert!(!path.exists(), "the socket file is removed with the listener");
        // A path so long that the staging one would not fit: bound in place, private all the same.
        let long = dir.join("x".repeat(107 - dir.as_os_str().len() - 1));
        let l = bind(Some(long.clone()), false, None).await.unwrap();
        assert_eq!(std::fs::metadata(&long).unwrap().permissions().mode() & 0o777, 0o600);
        drop(l);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
