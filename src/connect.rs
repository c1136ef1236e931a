//! Connections: options from the config, and the session settings every writing connection uses so the
//! copy and the binlog apply write exactly the values they read.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder};

use crate::config::{Config, Endpoint};
use crate::error::{Context, Result};

/// Every connection defaults to the migrated database, so operator queries (--throttle-query) can name
/// tables unqualified, as with gh-ost.
pub fn opts(ep: &Endpoint, user: &str, password: &str, db: &str, timeout: Duration) -> Opts {
    OptsBuilder::default()
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

/// Options for the inspected server (normally the replica).
pub fn inspect_opts(c: &Config) -> Opts {
    opts(&c.conn.inspect, &c.conn.user, c.conn.password.expose(), &c.database, c.conn.timeout)
}

/// Options for the primary, where the ghost table lives.
pub fn primary_opts(c: &Config, primary: &Endpoint) -> Opts {
    let user = c.conn.master_user.clone().unwrap_or_else(|| c.conn.user.clone());
    let pw = c.conn.master_password.as_ref().unwrap_or(&c.conn.password).expose().to_string();
    opts(primary, &user, &pw, &c.database, c.conn.timeout)
}

pub async fn connect(opts: &Opts, what: &str, timeout: Duration) -> Result<Conn> {
    let ep = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    match tokio::time::timeout(timeout, Conn::new(opts.clone())).await {
        Ok(r) => r.context(format!("cannot connect to {what} at {ep}")),
        Err(_) => Err(crate::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("connecting to {what} at {ep} timed out after {timeout:?}"),
        ))),
    }
}

/// Session settings of connections that write to the ghost table: UTC so TIMESTAMP literals mean what they
/// say, strict mode so nothing is silently truncated, NO_AUTO_VALUE_ON_ZERO so a 0 id stays 0, REPEATABLE READ
/// so INSERT ... SELECT takes shared locks on what it reads.
pub async fn setup_writer(conn: &mut Conn, allow_zero_in_date: bool) -> Result<()> {
    let mut mode = "CONCAT(@@session.sql_mode, ',NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES')".to_string();
    if allow_zero_in_date {
        mode = format!("REPLACE(REPLACE({mode}, 'NO_ZERO_IN_DATE', ''), 'NO_ZERO_DATE', '')");
    }
    conn.query_drop(format!(
        "SET SESSION time_zone = '+00:00', SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(REPLACE({mode}, ',,', ','), ',,', ',')), \
         SESSION transaction_isolation = 'REPEATABLE-READ', NAMES utf8mb4"
    ))
    .await
    .context("setting up writer session")?;
    Ok(())
}
