//! Connections: options from the config, and the session settings every writing connection uses so the
//! copy and the binlog apply write exactly the values they read. What tells a lost connection (to replace
//! before retrying) from an error on a connection that still works is `Error::needs_reconnect`.
//!
//! Invariants: with --ssl-ca, only that CA is trusted (not the TLS library's public roots); a failed first
//! connection says what to check (`explain_connect_failure`) without changing whether it counts as
//! transient for the reconnects later in a run, which use `connect` as is.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, Opts, OptsBuilder, SslOpts};

use crate::error::{Context, Result};
use crate::mysql::endpoint::{Endpoint, Tls};

/// The `program_name` connection attribute of every wraith session: what tells them from the application's
/// in performance_schema (the pacer's application probe, `control::app_latency`).
pub(crate) const PROGRAM_NAME: &str = "wraith";

/// Every connection defaults to the migrated database, so operator queries (--throttle-query) can name
/// tables unqualified, as with gh-ost.
pub(crate) fn opts(ep: &Endpoint, user: &str, password: &str, db: &str, timeout: Duration, tls: Option<&Tls>) -> Opts {
    let ssl = tls.map(|t| {
        let mut o = SslOpts::default()
            .with_root_certs(t.ca.iter().map(|p| p.clone().into()).collect())
            // --ssl-ca names the CA that vouches for the servers; a public CA must not vouch as well.
            .with_disable_built_in_roots(t.ca.is_some())
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
        // How the pacer tells wraith's sessions from the application's in performance_schema.
        .connect_attribute("program_name", PROGRAM_NAME)
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

/// Which server a first connection was for: what the operator can check differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// --host / --port, with --user / --password.
    Inspected,
    /// Found from the replica (or --assume-master-host), with --master-user / --master-password if given.
    Primary,
}

/// The first connections of a run (validation): nothing is retried there, so a failure becomes a
/// precondition error that says what to check. Causes without a known remedy pass through unchanged.
pub(crate) fn explain_connect_failure(e: crate::Error, role: Role) -> crate::Error {
    // The innermost cause: the context names the host, whose name must not steer the hint.
    let mut cause = &e;
    while let crate::Error::Context { source, .. } = cause {
        cause = source;
    }
    match connect_hint(e.server_code(), &cause.to_string(), role) {
        Some(hint) => crate::Error::precondition(e.to_string(), hint),
        None => e,
    }
}

/// What to do about a failed connection, from the server error code or the client's error text.
pub(crate) fn connect_hint(code: Option<u16>, text: &str, role: Role) -> Option<String> {
    let (addr, creds) = match role {
        Role::Inspected => {
            ("--host and --port", "--user and the password (--password, WRAITH_PASSWORD, --ask-pass or --conf)")
        }
        Role::Primary => (
            "the primary's address (the replica's replication source, or --assume-master-host)",
            "the account on the primary (--master-user / --master-password, which default to --user / --password)",
        ),
    };
    let text = text.to_ascii_lowercase();
    let hint = match code {
        Some(1045) => format!("check {creds}; an account that REQUIREs SSL also needs --ssl"),
        Some(1049) => "check --database: that schema does not exist on this server".into(),
        Some(1044) => {
            "grant the migration account the privileges on the database listed in the README (Privileges)".into()
        }
        Some(1130) => "this account may not connect from this machine: create it for this host (user@'host')".into(),
        Some(1040) => "the server is at max_connections: retry when it has room, or raise max_connections".into(),
        Some(3159) => "the server requires TLS: add --ssl (and --ssl-ca to verify it)".into(),
        Some(_) => return None,
        None if text.contains("connection refused") => {
            format!("nothing listens there: check {addr}, and that MySQL is running")
        }
        None if text.contains("lookup address") || text.contains("name or service not known") => {
            format!("the host name does not resolve: check {addr}")
        }
        None if text.contains("timed out") => {
            format!("no answer: check {addr} and the network (a firewall?), or raise --mysql-timeout")
        }
        None if text.contains("unreachable") || text.contains("no route") => {
            format!("the host cannot be reached from here: check {addr} and the network")
        }
        // After the checks above: a host name may contain these words, a TLS failure has none of those.
        None if text.contains("certificate") || text.contains("tls") || text.contains("ssl") => {
            "the server's TLS certificate was not accepted: --ssl-ca must be the CA that signed it, and the \
             certificate must name the host connected to; --ssl-allow-insecure encrypts without verifying the server"
                .into()
        }
        None => return None,
    };
    Some(hint)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(code: Option<u16>, text: &str) -> String {
        connect_hint(code, text, Role::Inspected).unwrap_or_default()
    }

    #[test]
    fn connect_failures_say_what_to_check() {
        assert!(hint(Some(1045), "Access denied for user 'u'@'localhost'").contains("--password, WRAITH_PASSWORD"));
        assert!(connect_hint(Some(1045), "", Role::Primary).unwrap().contains("--master-password"));
        assert!(hint(Some(1049), "Unknown database 'x'").contains("check --database"));
        assert!(hint(None, "Input/output error: Connection refused (os error 111)").contains("check --host and --port"));
        assert!(
            hint(None, "failed to lookup address information: Name or service not known").contains("does not resolve")
        );
        assert!(hint(None, "connecting to inspected server at h:1 timed out after 3s").contains("--mysql-timeout"));
        assert!(hint(None, "invalid peer certificate: UnknownIssuer").contains("--ssl-ca must be the CA"));
        assert!(hint(Some(3159), "insecure transport").contains("--ssl"));
        assert!(hint(None, "connecting to x at tls-db:1 timed out after 3s").contains("no answer"));
        // Causes without a known remedy keep their own message.
        assert_eq!(connect_hint(Some(1064), "syntax", Role::Inspected), None);
        assert_eq!(connect_hint(None, "something else", Role::Inspected), None);
    }

    #[test]
    fn explained_failures_are_preconditions_with_the_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused (os error 111)");
        let e: crate::Error = Err::<(), _>(io).context("cannot connect to inspected server at h:1").unwrap_err();
        let explained = explain_connect_failure(e, Role::Inspected);
        let text = explained.to_string();
        assert!(matches!(explained, crate::Error::Precondition { .. }), "{explained:?}");
        assert!(
            text.contains("cannot connect to inspected server at h:1") && text.contains("hint: nothing listens"),
            "{text}"
        );
    }
}
