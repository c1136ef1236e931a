//! Checks of the servers: the inspected one answers on the port we dialled, the primary is found (or
//! given), both keep the binlog wraith reads, the primary is writable, the account has what it needs, and
//! the status variables --max-load/--critical-load name exist.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::info;

use crate::config::{Config, Endpoint};
use crate::error::{Error, Result};
use crate::mysql::inspector::{self, ServerInfo};

/// The inspected server: its port, and --switch-to-rbr. Returns what the binlog checks need.
pub(crate) async fn inspected(c: &Config, insp: &mut Conn) -> Result<ServerInfo> {
    let mut info = inspector::server_info(insp).await?;
    if !c.conn.skip_port_validation && info.port != c.conn.inspect.port {
        return Err(Error::precondition(
            format!(
                "Unexpected database port reported: {} (connected to {}); a proxy in between?",
                info.port, c.conn.inspect
            ),
            "connect to the server directly, or pass --skip-port-validation",
        ));
    }
    if c.topology.switch_to_rbr && info.binlog_format != "ROW" {
        info!("--switch-to-rbr: setting binlog_format=ROW on {} and restarting replication", c.conn.inspect);
        insp.query_drop("SET GLOBAL binlog_format = 'ROW'").await?;
        insp.query_drop("STOP REPLICA; START REPLICA").await?;
        info = inspector::server_info(insp).await?;
    }
    Ok(info)
}

/// The server that holds the ghost table: the replica's source, --assume-master-host, or --host itself
/// (--allow-on-master, or the on-replica modes).
pub(crate) async fn find_primary(c: &Config, insp: &mut Conn) -> Result<Endpoint> {
    let on_replica = c.topology.on_replica();
    // With --assume-master-host the source is given: its lookup needs performance_schema, which
    // the operator may not have granted (the refusal's hint points here).
    let source = if c.conn.assume_master_host.is_some() && !on_replica {
        None
    } else {
        inspector::replication_source(insp).await?
    };
    if on_replica && source.is_none() {
        return Err(Error::precondition(
            format!("{} is not a replica, but --test-on-replica/--migrate-on-replica was given", c.conn.inspect),
            "point --host at a replica",
        ));
    }
    match (&c.conn.assume_master_host, source) {
        // The replica itself is migrated: it is where the ghost table lives.
        _ if on_replica => Ok(c.conn.inspect.clone()),
        (Some(p), _) => Ok(p.clone()),
        (None, Some(src)) => Ok(src),
        (None, None) if c.topology.allow_on_master => Ok(c.conn.inspect.clone()),
        (None, None) => Err(Error::precondition(
            format!("{} has no replication source: it looks like a primary", c.conn.inspect),
            "point --host at a replica, or pass --allow-on-master to migrate on this server directly",
        )),
    }
}

/// The primary: binlog settings on both servers, writable, privileges.
pub(crate) async fn primary(c: &Config, prim: &mut Conn, primary: &Endpoint, insp_info: &ServerInfo) -> Result<()> {
    let on_replica = c.topology.on_replica();
    let prim_info = inspector::server_info(prim).await?;
    let same_server = prim_info.server_uuid == insp_info.server_uuid;
    // The binlog read must hold the application's writes, which reach a replica by replication: that
    // needs log_replica_updates unless the inspected server is the primary itself.
    let app_writes_replicated = !same_server || on_replica;
    inspector::check_binlog(insp_info, &format!("inspected server {}", c.conn.inspect), app_writes_replicated)?;
    if !same_server {
        inspector::check_binlog(&prim_info, &format!("primary {primary}"), false)?;
    }
    if prim_info.read_only && !on_replica {
        return Err(Error::precondition(
            format!("the primary {primary} is read_only"),
            "check --assume-master-host / the replica's replication source: wraith writes on the primary",
        ));
    }
    inspector::check_privileges(prim, &c.database, true, true).await
}

/// A misspelt status variable would throttle (max-load) or abort (critical-load) later: refuse now.
pub(crate) async fn check_status_variables(c: &Config, prim: &mut Conn) -> Result<()> {
    for (flag, limits) in [("--max-load", &c.throttle.max_load), ("--critical-load", &c.throttle.critical_load)] {
        for (name, _) in &limits.0 {
            if !super::has_status_variable(prim, name).await? {
                return Err(Error::precondition(
                    format!("{flag}: the server has no status variable {name}"),
                    "see SHOW GLOBAL STATUS for the names, e.g. Threads_running",
                ));
            }
        }
    }
    Ok(())
}
