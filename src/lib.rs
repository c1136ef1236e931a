//! wraith: online schema change for MySQL.
//!
//! Data flows one way: binlog events (`streamer`) -> decoded row changes -> `applier`, while `copier` fills the
//! ghost table in chunks; `migrator` is the one state machine that decides the phases.

pub mod alter;
pub mod error;
pub mod schema;
pub mod value;

pub use error::{Error, Result};
