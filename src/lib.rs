//! wraith: online schema change for MySQL, compatible with gh-ost's flags, tables, hooks and commands.
//!
//! The facade: build a [`Config`] (the binary does it from argv with `config::cli`), hand it to a
//! [`Migrator`], `run` it (or `run_until` a shutdown future), watch its [`Progress`] and [`Phase`], get an
//! [`Outcome`] or an [`Error`]. Everything else is the engine's own (`pub(crate)`); its layout is in
//! `docs/architecture.md`.
//!
//! Data flows one way: binlog events (`replication::streamer`) -> decoded row changes ->
//! `replication::applier` -> the ghost table, while `copy` fills the ghost table in chunks; `migration`
//! runs the phases and owns the runtime state (`state`) it lends to the roles.

pub(crate) mod checksum;
pub mod config;
pub(crate) mod control;
pub(crate) mod copy;
pub(crate) mod cutover;
pub mod error;
pub(crate) mod migration;
pub(crate) mod mysql;
pub(crate) mod phase;
pub mod plan;
pub(crate) mod replication;
pub(crate) mod revert;
pub(crate) mod state;

pub use checksum::ChecksumReport;
pub use config::Config;
pub use error::{Error, Result};
pub use migration::{Migrator, Outcome, TableNames};
pub use phase::Phase;
pub use state::{Progress, StatusReport};

/// gh-ost's hooks, as the engine runs them (public for tests of the hook environment).
pub mod hooks {
    pub use crate::control::hooks::{HookContext, HookEvent, HookProgress, Hooks};
}

/// `wraith ctl`: send one interactive command to a running migration (with `auth <token>` first when the
/// port requires a token).
pub use control::server::{send as send_command, send_with_token as send_command_with_token};
