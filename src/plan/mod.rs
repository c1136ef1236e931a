//! `wraith plan`: is this ALTER safe, how long, what locks, how to roll back: answered from the live server
//! before anything runs.
//!
//! The room has three parts, one way:
//!
//! ```text
//! facts.rs     the servers -> Facts (plain structs): table statistics, the ALTER tried on an empty clone,
//!              transactions, metadata and row locks, write and read rates, data-fit counts, statement digests,
//!              index use, foreign keys, triggers, partitions
//! shape.rs     columns and indexes before and after, the checks the change asks of the data, the reverse ALTER
//! findings.rs  Facts -> findings {severity, code, message, evidence}: pure functions, one a concern
//! report.rs    Facts + findings -> Plan: strategy, lock, copy estimate, steps, command, verification, rollback
//! render.rs    Plan -> text (the DBA review shape) or JSON
//! ```
//!
//! Invariants: the plan reads only, and creates nothing that outlives it (the clone is dropped before the
//! plan is printed); only `facts.rs` talks to a server; the findings and the report are functions of the
//! facts, unit-tested without one.

mod facts;
mod findings;
mod render;
mod report;
mod shape;

use mysql_async::Conn;

pub use facts::PlanSettings;
pub use findings::{Finding, RowLocks, Severity, Strategy};
pub use report::Plan;

use crate::config::Config;
use crate::error::Result;
use crate::migration::validate::servers::find_primary;
use crate::mysql::connect::{connect as open, explain_connect_failure, Role};

/// The suffix the plan's command gives recreated triggers when the operator named none.
pub(crate) const TRIGGER_SUFFIX: &str = "_ght";

/// Reads the facts and builds the plan. Errors are the ones a plan cannot be made without (connection,
/// missing table, a leftover clone); everything else becomes a finding.
pub async fn plan(s: &PlanSettings) -> Result<Plan> {
    s.config.validate()?;
    let f = facts::read(s).await?;
    Ok(report::build(&s.config, &f))
}

/// The plan as text, in the migration-plan shape DBAs review.
pub fn render_text(p: &Plan) -> String {
    render::text(p)
}

/// The plan as one JSON object.
pub fn render_json(p: &Plan) -> String {
    render::json(p)
}

/// Connections to the inspected server and to the primary (the same server with --allow-on-master).
async fn connect(c: &Config) -> Result<(Conn, Conn)> {
    let mut insp = open(&c.inspect_opts(), "inspected server", c.conn.timeout)
        .await
        .map_err(|e| explain_connect_failure(e, Role::Inspected))?;
    let primary = find_primary(c, &mut insp).await?;
    let prim = open(&c.primary_opts(&primary), "primary", c.conn.timeout)
        .await
        .map_err(|e| explain_connect_failure(e, Role::Primary))?;
    Ok((insp, prim))
}
