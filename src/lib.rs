//! wraith: online schema change for MySQL.
//!
//! Data flows one way: binlog events (`replication::streamer`) -> decoded row changes ->
//! `replication::applier`, while `copy` fills the ghost table in chunks; `migration` runs the phases.

pub mod config;
pub(crate) mod control;
pub(crate) mod copy;
pub(crate) mod cutover;
pub mod error;
pub mod migration;
pub(crate) mod mysql;
pub(crate) mod replication;

pub use error::{Error, Result};
pub use migration::{Migrator, Outcome, Progress, TableNames};

/// gh-ost's hooks, as the engine runs them (public for tests of the hook environment).
pub mod hooks {
    pub use crate::control::hooks::{HookContext, HookEvent, HookProgress, Hooks};
}

/// `wraith ctl`: send one interactive command to a running migration.
pub use control::server::send as send_command;
