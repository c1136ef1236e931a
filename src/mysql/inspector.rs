//! Reads what the migration needs to know from a server: settings, the table's columns and keys, foreign
//! keys, triggers, privileges, and where the primary is. Also the pure checks that decide whether a
//! migration can run faithfully.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::codes::ER_TABLEACCESS_DENIED_ERROR;
use crate::error::{Context, Error, Result};
use crate::mysql::endpoint::Endpoint;
use crate::mysql::schema::{Column, TableInfo, UniqueKey};
use crate::mysql::sql::quote;

/// Server settings that decide whether a migration can be run faithfully.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    /// Read with the rest for diagnostics (`{:?}`); no check depends on them yet.
    #[allow(dead_code)]
    pub(crate) version: String,
    #[allow(dead_code)]
    pub(crate) hostname: String,
    pub(crate) port: u16,
    pub(crate) server_uuid: String,
    pub(crate) log_bin: bool,
    pub(crate) binlog_format: String,
    pub(crate) binlog_row_image: String,
    pub(crate) gtid_mode: String,
    pub(crate) log_replica_updates: bool,
    pub(crate) binlog_row_value_options: String,
    pub(crate) binlog_transaction_compression: bool,
    pub(crate) read_only: bool,
}

/// Runs a text-protocol query and returns every cell as text (NULL as None).
pub(crate) async fn query_text(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<mysql_async::Row> = conn.query(sql).await.context(format!("query failed: {sql}"))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.unwrap()
                .into_iter()
                .map(|v| match v {
                    mysql_async::Value::NULL => None,
                    mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
                    other => Some(other.as_sql(true).trim_matches('\'').to_string()),
                })
                .collect()
        })
        .collect())
}

/// First cell of the first row.
pub(crate) async fn query_value(conn: &mut Conn, sql: &str) -> Result<Option<String>> {
    Ok(query_text(conn, sql).await?.into_iter().next().and_then(|r| r.into_iter().next().flatten()))
}

fn cell(row: &[Option<String>], i: usize) -> String {
    row.get(i).cloned().flatten().unwrap_or_default()
}

fn on(s: &str) -> bool {
    matches!(s.to_ascii_uppercase().as_str(), "1" | "ON" | "TRUE")
}

pub(crate) async fn server_info(conn: &mut Conn) -> Result<ServerInfo> {
    let r = query_text(
        conn,
        "SELECT @@version, @@hostname, @@port, @@server_uuid, @@log_bin, @@binlog_format, @@binlog_row_image, \
         @@gtid_mode, @@log_replica_updates, @@binlog_row_value_options, @@binlog_transaction_compression, \
         @@read_only",
    )
    .await?;
    let row = r.into_iter().next().unwrap_or_default();
    Ok(ServerInfo {
        version: cell(&row, 0),
        hostname: cell(&row, 1),
        port: cell(&row, 2).parse().unwrap_or(0),
        server_uuid: cell(&row, 3),
        log_bin: on(&cell(&row, 4)),
        binlog_format: cell(&row, 5).to_ascii_uppercase(),
        binlog_row_image: cell(&row, 6).to_ascii_uppercase(),
        gtid_mode: cell(&row, 7).to_ascii_uppercase(),
        log_replica_updates: on(&cell(&row, 8)),
        binlog_row_value_options: cell(&row, 9).to_ascii_uppercase(),
        binlog_transaction_compression: on(&cell(&row, 10)),
        read_only: on(&cell(&row, 11)),
    })
}

/// Checks that this server's binlog carries every row change in full, decodable form.
/// `reads_replicated_changes`: the binlog read here must contain changes replicated from the primary.
pub(crate) fn check_binlog(info: &ServerInfo, what: &str, reads_replicated_changes: bool) -> Result<()> {
    let fail = |what: String, hint: &str| Err(Error::precondition(what, hint));
    if !info.log_bin {
        return fail(format!("binary logging is off on {what}"), "start mysqld with --log-bin");
    }
    if info.binlog_format != "ROW" {
        return fail(
            format!("binlog_format is {} on {what}; wraith needs ROW", info.binlog_format),
            "SET GLOBAL binlog_format='ROW' (and in my.cnf), then restart replication so it takes effect \
             (--switch-to-rbr does both on the inspected replica)",
        );
    }
    if info.binlog_row_image != "FULL" {
        return fail(
            format!("binlog_row_image is {} on {what}; wraith needs FULL", info.binlog_row_image),
            "SET GLOBAL binlog_row_image='FULL' (and in my.cnf)",
        );
    }
    if info.gtid_mode != "ON" {
        return fail(
            format!("gtid_mode is {} on {what}; wraith resumes the binlog by GTID", info.gtid_mode),
            "enable GTIDs (gtid_mode=ON, enforce_gtid_consistency=ON)",
        );
    }
    if info.binlog_row_value_options.contains("PARTIAL_JSON") {
        return fail(
            format!("binlog_row_value_options=PARTIAL_JSON on {what}: JSON updates are logged as diffs"),
            "SET GLOBAL binlog_row_value_options='' so JSON values are logged whole",
        );
    }
    if info.binlog_transaction_compression {
        return fail(
            format!("binlog_transaction_compression is ON on {what}"),
            "SET GLOBAL binlog_transaction_compression=OFF for the duration of the migration",
        );
    }
    if reads_replicated_changes && !info.log_replica_updates {
        return fail(
            format!("log_replica_updates is OFF on {what}, so its binlog lacks the primary's changes"),
            "enable log_replica_updates on the replica, or point --host at a replica that has it",
        );
    }
    Ok(())
}

/// The replica's replication source, from performance_schema (default channel).
pub(crate) async fn replication_source(conn: &mut Conn) -> Result<Option<Endpoint>> {
    let rows = query_text(
        conn,
        "SELECT HOST, PORT FROM performance_schema.replication_connection_configuration \
         WHERE CHANNEL_NAME = '' AND HOST <> ''",
    )
    .await
    .map_err(|e| {
        if e.server_code() == Some(ER_TABLEACCESS_DENIED_ERROR) {
            Error::precondition(
                "the account cannot read performance_schema.replication_connection_configuration to find the primary",
                "GRANT SELECT ON performance_schema.* to the migration user, or pass --assume-master-host",
            )
        } else {
            e
        }
    })?;
    Ok(rows.first().map(|r| Endpoint { host: cell(r, 0), port: cell(r, 1).parse().unwrap_or(3306) }))
}

/// The table's columns and unique keys, or None if there is no such base table.
pub(crate) async fn table_info(conn: &mut Conn, db: &str, table: &str) -> Result<Option<TableInfo>> {
    let t = query_text(
        conn,
        &format!(
            "SELECT TABLE_TYPE, ENGINE, TABLE_ROWS FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    let Some(t) = t.first() else { return Ok(None) };
    if cell(t, 0) != "BASE TABLE" {
        return Err(Error::precondition(
            format!("{db}.{table} is a {}, not a table", cell(t, 0).to_lowercase()),
            "only base tables can be migrated: give --table the table it reads from (SHOW CREATE VIEW names it)",
        ));
    }
    let cols = query_text(
        conn,
        &format!(
            "SELECT COLUMN_NAME, ORDINAL_POSITION, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, \
             COLLATION_NAME, CHARACTER_OCTET_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, EXTRA \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} ORDER BY ORDINAL_POSITION",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    let num = |r: &[Option<String>], i: usize| r.get(i).cloned().flatten().and_then(|s| s.parse().ok());
    let columns: Vec<Column> = cols
        .iter()
        .map(|r| {
            let extra = cell(r, 11).to_ascii_lowercase();
            Column {
                name: cell(r, 0),
                ordinal: num(r, 1).unwrap_or(0) as usize,
                data_type: cell(r, 2).to_ascii_lowercase(),
                // Kept as the server returns it: ENUM/SET members are case-sensitive under _bin collations.
                column_type: cell(r, 3),
                nullable: cell(r, 4) == "YES",
                charset: r.get(5).cloned().flatten(),
                collation: r.get(6).cloned().flatten(),
                octet_length: num(r, 7),
                precision: num(r, 8),
                scale: num(r, 9),
                datetime_precision: num(r, 10),
                // Not "DEFAULT_GENERATED", which marks an expression default such as CURRENT_TIMESTAMP.
                generated: extra.contains("virtual generated") || extra.contains("stored generated"),
                auto_increment: extra.contains("auto_increment"),
            }
        })
        .collect();
    let stats = query_text(
        conn,
        &format!(
            "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    let mut unique_keys: Vec<UniqueKey> = Vec::new();
    let mut functional: Vec<String> = Vec::new();
    for r in &stats {
        let name = cell(r, 0);
        let Some(col) = r.get(1).cloned().flatten() else {
            functional.push(name); // a functional key part cannot drive the copy
            continue;
        };
        let nullable = columns.iter().any(|c| c.name.eq_ignore_ascii_case(&col) && c.nullable);
        match unique_keys.last_mut() {
            Some(k) if k.name == name => {
                k.columns.push(col);
                k.nullable |= nullable;
            }
            _ => unique_keys.push(UniqueKey { primary: name == "PRIMARY", name, columns: vec![col], nullable }),
        }
    }
    unique_keys.retain(|k| !functional.contains(&k.name));
    Ok(Some(TableInfo {
        database: db.to_string(),
        name: table.to_string(),
        columns,
        unique_keys,
        engine: cell(t, 1),
        estimated_rows: cell(t, 2).parse().unwrap_or(0),
    }))
}

/// Foreign keys of the table: (child side: the table references others, parent side: others reference it).
pub(crate) async fn foreign_keys(conn: &mut Conn, db: &str, table: &str) -> Result<(Vec<String>, Vec<String>)> {
    let rows = query_text(
        conn,
        &format!(
            "SELECT DISTINCT CONSTRAINT_NAME, TABLE_SCHEMA, TABLE_NAME, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME \
             FROM information_schema.KEY_COLUMN_USAGE WHERE REFERENCED_TABLE_NAME IS NOT NULL AND \
             ((TABLE_SCHEMA = {d} AND TABLE_NAME = {t}) OR (REFERENCED_TABLE_SCHEMA = {d} AND REFERENCED_TABLE_NAME = {t}))",
            d = quote(db),
            t = quote(table)
        ),
    )
    .await?;
    let describe = |r: &Vec<Option<String>>| {
        format!("{} ({}.{} -> {}.{})", cell(r, 0), cell(r, 1), cell(r, 2), cell(r, 3), cell(r, 4))
    };
    let child = rows.iter().filter(|r| cell(r, 1) == db && cell(r, 2) == table).map(describe).collect();
    let parent = rows.iter().filter(|r| !(cell(r, 1) == db && cell(r, 2) == table)).map(describe).collect();
    Ok((child, parent))
}

/// A trigger of the migrated table, with what it takes to recreate it on the ghost table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trigger {
    pub(crate) name: String,
    /// BEFORE / AFTER
    pub(crate) timing: String,
    /// INSERT / UPDATE / DELETE
    pub(crate) event: String,
    pub(crate) statement: String,
    /// The sql_mode the trigger was created with (it runs with it).
    pub(crate) sql_mode: String,
}

impl Trigger {
    /// `CREATE TRIGGER` for the same body on another table under another name (no DEFINER: the migration
    /// account becomes the definer, as with gh-ost, since setting another needs SET_USER_ID).
    pub(crate) fn create_on(&self, db: &str, table: &str, name: &str) -> String {
        format!(
            "CREATE TRIGGER {} {} {} ON {} FOR EACH ROW {}",
            crate::mysql::sql::qualified(db, name),
            self.timing,
            self.event,
            crate::mysql::sql::qualified(db, table),
            self.statement
        )
    }
}

/// The table's triggers, in the order they fire (per timing and event).
pub(crate) async fn triggers(conn: &mut Conn, db: &str, table: &str) -> Result<Vec<Trigger>> {
    let rows = query_text(
        conn,
        &format!(
            "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, SQL_MODE \
             FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {} AND EVENT_OBJECT_TABLE = {} \
             ORDER BY ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER",
            quote(db),
            quote(table)
        ),
    )
    .await?;
    Ok(rows
        .iter()
        .map(|r| Trigger {
            name: cell(r, 0),
            timing: cell(r, 1),
            event: cell(r, 2),
            statement: cell(r, 3),
            sql_mode: cell(r, 4),
        })
        .collect())
}

/// Which of `names` already exist as triggers anywhere in the schema (trigger names are per schema).
pub(crate) async fn existing_triggers(conn: &mut Conn, db: &str, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = names.iter().map(|n| quote(n)).collect();
    let rows = query_text(
        conn,
        &format!(
            "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {} AND TRIGGER_NAME IN ({})",
            quote(db),
            list.join(", ")
        ),
    )
    .await?;
    Ok(rows.iter().map(|r| cell(r, 0)).collect())
}

/// gh-ost's ghost trigger name: the suffix added, or removed when the name already ends with it and
/// --remove-trigger-suffix-if-exists is given.
pub(crate) fn ghost_trigger_name(name: &str, suffix: &str, remove_if_exists: bool) -> String {
    match name.strip_suffix(suffix) {
        Some(base) if remove_if_exists && !suffix.is_empty() => base.to_string(),
        _ => format!("{name}{suffix}"),
    }
}

/// The table's next AUTO_INCREMENT value, read fresh (information_schema caches it by default).
pub(crate) async fn auto_increment(conn: &mut Conn, db: &str, table: &str) -> Result<Option<u64>> {
    conn.query_drop("SET SESSION information_schema_stats_expiry = 0").await?;
    Ok(query_value(
        conn,
        &format!(
            "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote(db),
            quote(table)
        ),
    )
    .await?
    .and_then(|v| v.parse().ok()))
}

/// SHOW CREATE TABLE as the server gives it; None when the table does not exist.
pub(crate) async fn show_create(conn: &mut Conn, db: &str, table: &str) -> Result<Option<String>> {
    let row: Option<(String, String)> =
        match conn.query_first(format!("SHOW CREATE TABLE {}", crate::mysql::sql::qualified(db, table))).await {
            Ok(r) => r,
            Err(mysql_async::Error::Server(e)) if e.code == crate::error::codes::ER_NO_SUCH_TABLE => return Ok(None),
            Err(e) => return Err(e.into()),
        };
    Ok(row.map(|(_, create)| create))
}

pub(crate) async fn table_exists(conn: &mut Conn, db: &str, table: &str) -> Result<bool> {
    Ok(query_value(
        conn,
        &format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {}",
            quote(db),
            quote(table)
        ),
    )
    .await?
    .as_deref()
        == Some("1"))
}

/// Privileges the migration account needs, per scope.
const TABLE_PRIVS: &[&str] =
    &["ALTER", "CREATE", "DELETE", "DROP", "INDEX", "INSERT", "LOCK TABLES", "SELECT", "TRIGGER", "UPDATE"];
const REPLICATION_PRIVS: &[&str] = &["REPLICATION SLAVE", "REPLICATION CLIENT"];

/// Checks the current account's grants. `needs_tables`: this server gets the ghost table and the copy;
/// `needs_binlog`: wraith reads this server's binlog.
pub(crate) async fn check_privileges(conn: &mut Conn, db: &str, needs_tables: bool, needs_binlog: bool) -> Result<()> {
    let grants: Vec<String> =
        query_text(conn, "SHOW GRANTS").await?.into_iter().filter_map(|r| r.into_iter().next().flatten()).collect();
    let missing = missing_privileges(&grants, db, needs_tables, needs_binlog);
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::precondition(
        format!("the account lacks privileges: {}", missing.join(", ")),
        format!(
            "GRANT {} ON `{db}`.* and REPLICATION SLAVE, REPLICATION CLIENT ON *.* to the migration user (see README, Privileges)",
            TABLE_PRIVS.join(", ")
        ),
    ))
}

/// Pure part of the privilege check, on `SHOW GRANTS` lines.
pub(crate) fn missing_privileges(grants: &[String], db: &str, needs_tables: bool, needs_binlog: bool) -> Vec<String> {
    let mut global: Vec<String> = Vec::new();
    let mut on_db: Vec<String> = Vec::new();
    let db_scope = format!("`{}`.*", db.replace('_', "\\_"));
    let db_scope_plain = format!("`{db}`.*");
    for g in grants {
        let upper = g.to_ascii_uppercase();
        let Some(rest) = upper.strip_prefix("GRANT ") else { continue };
        let Some((privs, scope_part)) = rest.split_once(" ON ") else { continue };
        let scope = scope_part.split(" TO ").next().unwrap_or_default().trim();
        let list: Vec<String> = privs.split(',').map(|p| p.trim().to_string()).collect();
        // Scope comparison uses the original case for database names.
        let orig_scope = g
            .get(g.to_ascii_uppercase().find(" ON ").map(|i| i + 4).unwrap_or(0)..)
            .unwrap_or_default()
            .split(" TO ")
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        if scope == "*.*" {
            global.extend(list);
        } else if orig_scope == db_scope || orig_scope == db_scope_plain {
            on_db.extend(list);
        }
    }
    let has = |set: &[String], p: &str| set.iter().any(|g| g == p || g == "ALL PRIVILEGES" || g == "ALL");
    let mut missing = Vec::new();
    if needs_tables {
        for p in TABLE_PRIVS {
            if !has(&global, p) && !has(&on_db, p) {
                missing.push(format!("{p} on `{db}`"));
            }
        }
    }
    if needs_binlog {
        for p in REPLICATION_PRIVS {
            if !has(&global, p) && !has(&global, "SUPER") {
                missing.push(format!("{p} on *.*"));
            }
        }
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_names() {
        assert_eq!(ghost_trigger_name("t_ai", "_ght", false), "t_ai_ght");
        assert_eq!(ghost_trigger_name("t_ai_ght", "_ght", true), "t_ai");
        assert_eq!(ghost_trigger_name("t_ai_ght", "_ght", false), "t_ai_ght_ght");
        let t = Trigger {
            name: "a".into(),
            timing: "AFTER".into(),
            event: "INSERT".into(),
            statement: "SET @x = 1".into(),
            sql_mode: String::new(),
        };
        assert_eq!(
            t.create_on("d", "g", "a_ght"),
            "CREATE TRIGGER `d`.`a_ght` AFTER INSERT ON `d`.`g` FOR EACH ROW SET @x = 1"
        );
    }

    #[test]
    fn privileges() {
        let ok = vec![
            "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, LOCK TABLES, TRIGGER ON `my_db`.* TO `u`@`%`".to_string(),
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO `u`@`%`".to_string(),
        ];
        assert!(missing_privileges(&ok, "my_db", true, true).is_empty());
        assert!(
            missing_privileges(&["GRANT ALL PRIVILEGES ON *.* TO `root`@`%`".to_string()], "x", true, true).is_empty()
        );
        let m = missing_privileges(&ok[..1], "my_db", true, true);
        assert_eq!(m, vec!["REPLICATION SLAVE on *.*", "REPLICATION CLIENT on *.*"]);
        assert_eq!(missing_privileges(&ok, "other", true, false).len(), 10);
    }
}
