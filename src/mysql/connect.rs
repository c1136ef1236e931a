//! Connections: options from the config, the session settings every writing connection uses so the
//! copy and the binlog apply write exactly the values they read, and what tells a lost connection (to
//! replace before retrying) from an error on a connection that still works.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, Opts, OptsBuilder, SslOpts};

use crate::error::{Context, Result};
use crate::mysql::endpoint::{Endpoint, Tls};

/// Every connection defaults to the migrated database, so operator queries (--throttle-query) can name
/// tables unqualified, as with gh-ost.
pub(crate) fn opts(ep: &Endpoint, user: &str, password: &str, db: &str, timeout: Duration, tls: Option<&Tls>) -> Opts {
    let ssl = tls.map(|t| {
        let mut o = SslOpts::default()
            .with_root_certs(t.ca.iter().map(|p| p.clone().into()).collect())
            .with_danger_accept_invalid_certs(t.allow_insecure)
            .with_danger_skip_domain_validation(t.allow_insecure);
        if let (Some(cert), Some(key)) = (&t.cert, &t.key) {
            o = o.with_client_identity(Some(ClientIdentity::new(cert.clone().into(), key.clone().into())));
        }
        o
    });
    OptsBuilder::default()
        .ssl_opts(ssl)
        .db_name(Some(db.to_string()))
        .ip_or_hostname(ep.host.clone())
        .tcp_port(ep.port)
        .user(Some(user.to_string()))
        .pass(Some(password.to_string()))
        .prefer_socket(false)
        .conn_ttl(None)
        .tcp_keepalive(Some(Duration::from_secs(10)))
        .wait_timeout(Some(28_800))
        .setup(vec![format!("SET SESSION lock_wait_timeout = {}", timeout.as_secs().max(1) * 3)])
        .into()
}

pub(crate) async fn connect(opts: &Opts, what: &str, timeout: Duration) -> Result<Conn> {
    let ep = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    match tokio::time::timeout(timeout, Conn::new(opts.clone())).await {
        Ok(r) => r.context(format!("cannot connect to {what} at {ep}")),
        Err(_) => Err(crate::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connecting to {what} at {ep} timed out after {timeout:?}"),
        ))),
    }
}

/// The connection the error happened on is gone or unusable (I/O, protocol, the server shutting down or
/// closing it): connect again before retrying. Other errors leave the session as it was.
pub(crate) fn lost_connection(e: &crate::Error) -> bool {
    match e {
        crate::Error::Context { source, .. } => lost_connection(source),
        crate::Error::Io(_) => true,
        crate::Error::Mysql(m) => match m {
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
            // Server shutdown, gone away, lost during query, disconnected by the server (idle or killed).
            mysql_async::Error::Server(s) => matches!(s.code, 1053 | 2006 | 2013 | 4031),
            _ => false,
        },
        _ => false,
    }
}

/// How writers set their sql_mode: --allow-zero-in-date and --skip-strict-mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriterMode {
    pub(crate) allow_zero_in_date: bool,
    pub(crate) strict: bool,
    /// READ COMMITTED: no gap locks, and INSERT ... SELECT reads its source without locking it.
    pub(crate) read_committed: bool,
}

impl WriterMode {
    /// `strict`: add STRICT_ALL_TABLES (unless --skip-strict-mode).
    pub(crate) fn new(allow_zero_in_date: bool, strict: bool) -> Self {
        WriterMode { allow_zero_in_date, strict, read_committed: false }
    }

    pub(crate) fn read_committed(self) -> Self {
        WriterMode { read_committed: true, ..self }
    }
}

/// Session settings of connections that write to the ghost table: UTC so TIMESTAMP literals mean what they
/// say, strict mode so nothing is silently truncated, NO_AUTO_VALUE_ON_ZERO so a 0 id stays 0, REPEATABLE READ
/// so INSERT ... SELECT takes shared locks on what it reads (unless the mode asks for READ COMMITTED).
pub(crate) async fn setup_writer(conn: &mut Conn, mode: WriterMode) -> Result<()> {
    let extra = if mode.strict { ",NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES" } else { ",NO_AUTO_VALUE_ON_ZERO" };
    let mut sql_mode = format!("CONCAT(@@session.sql_mode, '{extra}')");
    if mode.allow_zero_in_date {
        sql_mode = format!("REPLACE(REPLACE({sql_mode}, 'NO_ZERO_IN_DATE', ''), 'NO_ZERO_DATE', '')");
    }
    let isolation = if mode.read_committed { "READ-COMMITTED" } else { "REPEATABLE-READ" };
    conn.query_drop(format!(
        "SET SESSION time_zone = '+00:00', SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE({sql_mode}, ',,', ','), ',,', ',')), \
         SESSION transaction_isolation = '{isolation}', NAMES utf8mb4"
    ))
    .await
    .context("setting up writer session")?;
    Ok(())
}
