//! The binlog side of a migration, one way: `streamer` (binlog events -> decoded row changes) -> `applier`
//! (row changes -> the ghost table); `changelog` writes the heartbeats and markers that travel the same path.

pub(crate) mod applier;
pub(crate) mod changelog;
pub(crate) mod streamer;
