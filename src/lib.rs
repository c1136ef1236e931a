//! wraith: online schema change for MySQL.
//!
//! Data flows one way: binlog events (`streamer`) -> decoded row changes -> `applier`, while `copier` fills the
//! ghost table in chunks; `migrator` is the one state machine that decides the phases.

pub mod alter;
pub mod applier;
pub mod changelog;
pub mod checkpoint;
pub mod cli;
pub mod conffile;
pub mod config;
pub mod connect;
pub mod copier;
pub mod cutover;
pub mod error;
pub mod frontier;
pub mod gtid;
pub mod hooks;
pub mod inspector;
pub mod migrator;
pub mod schema;
pub mod server;
pub mod sql;
pub mod status;
pub mod streamer;
pub mod throttler;
pub mod value;

pub use error::{Error, Result};
