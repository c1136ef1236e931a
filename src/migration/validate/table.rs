//! Checks of the table: it exists and is InnoDB, it has no foreign keys wraith cannot keep pointing at
//! the right table, and its triggers are either refused or can be recreated under names that are free.

use mysql_async::Conn;
use tracing::warn;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::mysql::inspector::{self, Trigger};
use crate::mysql::schema::TableInfo;

pub(crate) async fn table(c: &Config, insp: &mut Conn) -> Result<TableInfo> {
    let table = inspector::table_info(insp, &c.database, &c.table).await?.ok_or_else(|| {
        Error::precondition(
            format!("table {}.{} does not exist on {}", c.database, c.table, c.conn.inspect),
            "check --database and --table",
        )
    })?;
    if !table.engine.eq_ignore_ascii_case("innodb") {
        return Err(Error::precondition(
            format!("{}.{} uses engine {}, not InnoDB", c.database, c.table, table.engine),
            "wraith migrates InnoDB tables only",
        ));
    }
    Ok(table)
}

pub(crate) async fn foreign_keys(c: &Config, insp: &mut Conn) -> Result<()> {
    let s = &c.schema;
    let (child, parent) = if s.skip_foreign_key_checks {
        (Vec::new(), Vec::new())
    } else {
        inspector::foreign_keys(insp, &c.database, &c.table).await?
    };
    if !child.is_empty() && s.discard_foreign_keys {
        warn!(
            "--discard-foreign-keys: the new {}.{} will not have these foreign keys: {}",
            c.database,
            c.table,
            child.join(", ")
        );
    }
    let child = if s.discard_foreign_keys { Vec::new() } else { child };
    for (fks, side) in [(&child, "Child"), (&parent, "Parent")] {
        if !fks.is_empty() {
            return Err(Error::precondition(
                format!(
                    "found {} {}-side foreign keys on {}.{} ({}). {side}-side foreign keys are not supported. Bailing out",
                    fks.len(),
                    side.to_lowercase(),
                    c.database,
                    c.table,
                    fks.join(", ")
                ),
                "online migration cannot keep foreign keys pointing at the right table; drop them first",
            ));
        }
    }
    Ok(())
}

/// The table's triggers and the names they get on the new table (--include-triggers).
pub(crate) async fn triggers(c: &Config, insp: &mut Conn) -> Result<Vec<(Trigger, String)>> {
    let s = &c.schema;
    let triggers = inspector::triggers(insp, &c.database, &c.table).await?;
    if !triggers.is_empty() && !s.include_triggers {
        let names: Vec<String> = triggers.iter().map(|t| t.name.clone()).collect();
        return Err(Error::precondition(
            format!("{}.{} has triggers: {}", c.database, c.table, names.join(", ")),
            "pass --include-triggers --trigger-suffix=<suffix> to recreate them on the new table, or drop them first",
        ));
    }
    let mut ghost_triggers = Vec::new();
    for t in &triggers {
        let ghost_name = inspector::ghost_trigger_name(&t.name, &s.trigger_suffix, s.remove_trigger_suffix_if_exists);
        if ghost_name.chars().count() > 64 {
            return Err(Error::precondition(
                format!("trigger name {ghost_name} (for {}) is longer than 64 characters", t.name),
                "use a shorter --trigger-suffix, or rename the trigger",
            ));
        }
        ghost_triggers.push((t.clone(), ghost_name));
    }
    let wanted: Vec<String> = ghost_triggers.iter().map(|(_, n)| n.clone()).collect();
    let clashing = inspector::existing_triggers(insp, &c.database, &wanted).await?;
    if !clashing.is_empty() {
        return Err(Error::precondition(
            format!(
                "found gh-ost triggers: {} already exist in schema {} (trigger names are unique per schema)",
                clashing.join(", "),
                c.database
            ),
            "drop them (a leftover of an earlier migration?) or choose another --trigger-suffix / --remove-trigger-suffix-if-exists",
        ));
    }
    Ok(ghost_triggers)
}
