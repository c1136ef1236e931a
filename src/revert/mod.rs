//! Reverting a finished migration (gh-ost's `--revert`): the room for what a way back needs that a forward
//! migration does not.
//!
//! A migration run with `--checkpoint` records its cut-over point (`point`): the GTID set at the RENAME, the
//! column mapping it used, and the definitions of both tables as they were then. `wraith migrate --revert
//! --old-table=_<t>_del --checkpoint --execute` then runs a migration the other way round: from the table
//! (new schema) into the old table, with the mapping reversed (`mapping`), starting the binlog at the
//! cut-over point instead of copying, and swaps the old table back in with the same atomic cut-over. The
//! phases that do this are the migration's own (`migration::revert`); `preflight` holds the refusals.
//!
//! Invariants:
//! - the revert writes only to the old table until its cut-over: the table that serves (new schema) is
//!   never touched, so a revert that stops leaves the migration in place;
//! - a revert starts only when every change since the cut-over can still be read (binlog not purged) and
//!   both tables still have the definitions the cut-over recorded: the reverse mapping is exact or the
//!   revert refuses.

pub(crate) mod mapping;
pub(crate) mod point;
pub(crate) mod preflight;
pub(crate) mod window;
