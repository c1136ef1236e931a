//! A TCP proxy on loopback for the network fault tests: it forwards every connection it accepts to one
//! target (the primary), and the test can
//!
//! - `pause` it: nothing is forwarded in either direction, open connections stay open (a partition, not a
//!   reset: peers see silence, not an error), and new connections are accepted but not carried on to the
//!   target until `restore`;
//! - `sever` it: every open connection is reset at once (RST, as when a link or a middlebox dies); new
//!   connections are served as before;
//! - `restore` it: forwarding resumes, with whatever was read while paused delivered first.
//!
//! ```ignore
//! mod proxy;
//! let proxy = proxy::Proxy::start("127.0.0.1", 13306).await?;   // then connect to 127.0.0.1:proxy.port()
//! ```
//!
//! Invariants: bytes are forwarded in order and never while paused; a severed connection is reset on both
//! sides; dropping the proxy stops it and resets every connection it carries.
#![allow(dead_code)] // each test binary uses its own subset

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    severed: AtomicU64,
}

pub struct Proxy {
    port: u16,
    /// true: forwarding; false: paused.
    forwarding: watch::Sender<bool>,
    /// Bumped by `sever`: every connection older than the new value resets.
    generation: watch::Sender<u64>,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (a free port) and forwards to `host:port`.
    pub async fn start(host: &str, port: u16) -> Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.context("binding the proxy")?;
        let local = listener.local_addr()?.port();
        let (forwarding, _) = watch::channel(true);
        let (generation, _) = watch::channel(0u64);
        let counters = Arc::new(Counters::default());
        let target = format!("{host}:{port}");
        let accept = tokio::spawn({
            let (fwd, gen, counters) = (forwarding.subscribe(), generation.subscribe(), counters.clone());
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(carry(client, target.clone(), fwd.clone(), gen.clone(), counters.clone()));
                }
            }
        });
        Ok(Proxy { port: local, forwarding, generation, counters, accept })
    }

    /// The port to connect to (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pause(&self) {
        self.forwarding.send_replace(false);
    }

    pub fn restore(&self) {
        self.forwarding.send_replace(true);
    }

    /// Resets every open connection (new ones are served as usual).
    pub fn sever(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> u64 {
        self.counters.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.counters.open.load(Ordering::Relaxed)
    }

    /// Connections reset by `sever` so far.
    pub fn severed(&self) -> u64 {
        self.counters.severed.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.sever();
        // Paused connections wake up to see the sever.
        self.restore();
    }
}

/// Resolves once `generation` moves past `born` (or the proxy is gone).
async fn severed(generation: &mut watch::Receiver<u64>, born: u64) {
    let _ = generation.wait_for(|g| *g > born).await;
}

/// Resolves while forwarding is on; never while paused (or once the proxy is gone: the sever ends it).
async fn forwarding(fwd: &mut watch::Receiver<bool>) {
    if fwd.wait_for(|on| *on).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// One connection: to the target once forwarding, then both directions until either side ends or a sever.
async fn carry(
    client: TcpStream,
    target: String,
    mut fwd: watch::Receiver<bool>,
    mut generation: watch::Receiver<u64>,
    counters: Arc<Counters>,
) {
    let born = *generation.borrow();
    counters.open.fetch_add(1, Ordering::Relaxed);
    // Reset, not closed gracefully, whichever way this ends: a dead link, as the peers would see it.
    reset_on_close(&client);
    let upstream = tokio::select! {
        up = async {
            forwarding(&mut fwd).await;
            TcpStream::connect(&target).await
        } => up.ok(),
        _ = severed(&mut generation, born) => None,
    };
    if let Some(upstream) = upstream {
        reset_on_close(&upstream);
        let _ = upstream.set_nodelay(true);
        let _ = client.set_nodelay(true);
        let (cr, cw) = client.into_split();
        let (ur, uw) = upstream.into_split();
        tokio::select! {
            _ = pump(cr, uw, fwd.clone()) => {}
            _ = pump(ur, cw, fwd.clone()) => {}
            _ = severed(&mut generation, born) => {
                counters.severed.fetch_add(1, Ordering::Relaxed);
            }
        }
    } else if *generation.borrow() > born {
        counters.severed.fetch_add(1, Ordering::Relaxed);
    }
    counters.open.fetch_sub(1, Ordering::Relaxed);
}

/// SO_LINGER 0: closing sends RST. (tokio deprecates set_linger because a non-zero linger blocks the thread
/// on drop; a zero one never does.)
#[allow(deprecated)]
fn reset_on_close(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

/// Copies `from` to `to` while forwarding; what was read when a pause began is held until the restore.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut fwd: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        forwarding(&mut fwd).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        forwarding(&mut fwd).await;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
