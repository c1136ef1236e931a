//! Validation: everything checked before any table is created, one check a function. A refusal here
//! changes nothing on any server and says what to do (`Error::Precondition` with a hint).
//!
//! The order is gh-ost's: the inspected server, the primary (found from the replica unless given), the
//! binlog settings, privileges, the table (engine, foreign keys, triggers), the control socket, the ALTER.

pub(crate) mod servers;
pub(crate) mod table;

use mysql_async::prelude::Queryable;
use mysql_async::Opts;

use crate::config::{Config, Endpoint};
use crate::error::{Error, Result};
use crate::mysql::alter::{self, AlterAnalysis};
use crate::mysql::connect::{connect, explain_connect_failure, Role};
use crate::mysql::inspector::Trigger;
use crate::mysql::schema::TableInfo;

/// What validation learnt, for the phases after it.
pub(crate) struct Validated {
    pub(crate) primary: Endpoint,
    pub(crate) primary_opts: Opts,
    pub(crate) inspect_opts: Opts,
    pub(crate) table: TableInfo,
    pub(crate) renames: Vec<(String, String)>,
    /// Columns the ALTER drops (a column added again under such a name is a new one).
    pub(crate) dropped: Vec<String>,
    pub(crate) alter_sets_auto_increment: bool,
    /// --include-triggers: each trigger of the table and the name it gets on the new table.
    pub(crate) ghost_triggers: Vec<(Trigger, String)>,
}

pub(crate) async fn validate(c: &Config) -> Result<Validated> {
    let inspect_opts = c.inspect_opts();
    let mut insp = connect(&inspect_opts, "inspected server", c.conn.timeout)
        .await
        .map_err(|e| explain_connect_failure(e, Role::Inspected))?;
    let insp_info = servers::inspected(c, &mut insp).await?;
    let primary = servers::find_primary(c, &mut insp).await?;
    let primary_opts = c.primary_opts(&primary);
    let mut prim = connect(&primary_opts, "primary", c.conn.timeout)
        .await
        .map_err(|e| explain_connect_failure(e, Role::Primary))?;
    servers::primary(c, &mut prim, &primary, &insp_info).await?;
    servers::check_status_variables(c, &mut prim).await?;
    crate::mysql::inspector::check_privileges(&mut insp, &c.database, false, true).await?;
    let table = table::table(c, &mut insp).await?;
    table::foreign_keys(c, &mut insp).await?;
    let ghost_triggers = table::triggers(c, &mut insp).await?;
    socket_file(c)?;
    // A revert has no ALTER: its mapping comes from the cut-over point (`revert::preflight`).
    let a = if c.revert.revert { AlterAnalysis::default() } else { alter::analyze(&c.alter)? };
    let renames = if c.revert.revert { Vec::new() } else { alter_supported(c, &a)? };
    let _ = insp.disconnect().await;
    let _ = prim.disconnect().await;
    Ok(Validated {
        primary,
        primary_opts,
        inspect_opts,
        table,
        renames,
        dropped: a.dropped_columns.clone(),
        alter_sets_auto_increment: a.auto_increment.is_some(),
        ghost_triggers,
    })
}

/// A leftover control socket is refused before any table is created.
fn socket_file(c: &Config) -> Result<()> {
    if let Some(sock) = &c.control.serve_socket_file {
        if sock.exists() && !c.control.initially_drop_socket_file {
            return Err(Error::precondition(
                format!("socket file {} already exists (another migration, or a leftover?)", sock.display()),
                "remove it, or pass --initially-drop-socket-file",
            ));
        }
    }
    Ok(())
}

/// The ALTER can be migrated online; returns the column renames to carry data over.
pub(crate) fn alter_supported(c: &Config, a: &AlterAnalysis) -> Result<Vec<(String, String)>> {
    a.check_supported()?;
    if a.adds_foreign_key {
        return Err(Error::precondition(
            "the ALTER adds a foreign key",
            "foreign keys cannot be migrated online; add it with a plain ALTER afterwards",
        ));
    }
    let s = &c.schema;
    if a.renamed_columns.is_empty() || s.approve_renamed_columns {
        return Ok(a.renamed_columns.clone());
    }
    if s.skip_renamed_columns {
        return Ok(Vec::new());
    }
    let list: Vec<String> = a.renamed_columns.iter().map(|(o, n)| format!("{o} -> {n}")).collect();
    Err(Error::precondition(
        format!(
            "the ALTER renames columns ({}); gh-ost-style tools must be told whether to carry the data over",
            list.join(", ")
        ),
        "pass --approve-renamed-columns to copy the renamed columns' data, or --skip-renamed-columns to leave them empty",
    ))
}

/// `SHOW GLOBAL STATUS LIKE` for one name: whether the server has the variable.
async fn has_status_variable(conn: &mut mysql_async::Conn, name: &str) -> Result<bool> {
    let found: Option<(String, String)> =
        conn.query_first(format!("SHOW GLOBAL STATUS LIKE {}", crate::mysql::sql::quote(name))).await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(alter: &str) -> Config {
        Config::new(Config::connection("h", 3306, "u", ""), "d", "t", alter)
    }

    #[test]
    fn renames_need_a_decision() {
        let a = alter::analyze("CHANGE COLUMN a b INT").unwrap();
        let err = alter_supported(&cfg("x"), &a).unwrap_err().to_string();
        assert!(err.contains("renames columns (a -> b)") && err.contains("--approve-renamed-columns"), "{err}");
        let mut c = cfg("x");
        c.schema.approve_renamed_columns = true;
        assert_eq!(alter_supported(&c, &a).unwrap(), vec![("a".to_string(), "b".to_string())]);
        let mut c = cfg("x");
        c.schema.skip_renamed_columns = true;
        assert!(alter_supported(&c, &a).unwrap().is_empty());
    }

    #[test]
    fn foreign_keys_cannot_be_added() {
        let a = alter::analyze("ADD CONSTRAINT f FOREIGN KEY (x) REFERENCES p (id)").unwrap();
        let err = alter_supported(&cfg("x"), &a).unwrap_err().to_string();
        assert!(err.contains("adds a foreign key"), "{err}");
    }
}
