//! What a run reports: `Outcome` on success, and the left-behind message that every failure after the
//! ghost table was created carries.

use std::time::{Duration, Instant};

use super::names::TableNames;
use crate::config::Config;
use crate::mysql::sql::qualified;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// False for a noop run (no --execute).
    pub executed: bool,
    pub rows_copied: u64,
    pub events_applied: u64,
    /// How long writes were blocked by the cut-over.
    pub cut_over_locked_for: Option<Duration>,
    /// What remains for the operator (the old table when not dropped).
    pub left_behind: Vec<String>,
    pub elapsed: Duration,
    /// The copy ran in parallel with non-locking reads (integer key).
    pub parallel_copy: bool,
    /// Binlog changes dropped because the copy had not reached their key yet.
    pub changes_dropped: u64,
    /// Applier batches that waited for a chunk in flight.
    pub applier_waits: u64,
    /// The verification before the cut-over (None with --checksum=false).
    pub checksum: Option<crate::ChecksumReport>,
    /// A --revert run: the table was swapped back (executed), or would be.
    pub reverted: bool,
    /// A noop --revert: the row changes since the cut-over that it would replay.
    pub revert_changes: Option<u64>,
    /// Secondary indexes left off the ghost during the copy and built after it, and how long the build took.
    pub deferred_indexes: Vec<String>,
    pub indexes_built_in: Option<Duration>,
}

impl Outcome {
    /// The one line the binary prints at the end of a run.
    pub fn summary(&self) -> String {
        let left = match self.left_behind.is_empty() {
            true => String::new(),
            false => format!("; left: {}", self.left_behind.join(", ")),
        };
        let checked = self.checksum.as_ref().map_or_else(|| "not verified".to_string(), |r| r.summary());
        let blocked = self.cut_over_locked_for.map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        let secs = self.elapsed.as_secs_f64();
        match (self.executed, self.reverted, self.revert_changes) {
            (true, true, _) => format!(
                "wraith: reverted in {secs:.1}s: {} binlog changes replayed into the old table, {checked}, writes blocked \
                 {blocked:.0} ms at cut-over{left}",
                self.events_applied
            ),
            (false, _, Some(n)) => {
                format!("wraith: noop revert: the checks passed and {n} changes would be replayed; add --execute to revert")
            }
            (true, false, _) => format!(
                "wraith: migrated in {secs:.1}s: {} rows copied, {} binlog changes applied, {checked}, writes blocked \
                 {blocked:.0} ms at cut-over{left}",
                self.rows_copied, self.events_applied
            ),
            (false, _, None) => "wraith: noop run: validation passed; add --execute to migrate".to_string(),
        }
    }

    /// A run that copied nothing: a noop, or an instant ALTER.
    pub(super) fn without_copy(executed: bool, started: Instant) -> Self {
        Outcome { executed, elapsed: started.elapsed(), ..Outcome::default() }
    }
}

/// The original is untouched; the ghost, changelog (and checkpoint) tables are left for inspection.
pub(super) fn left_behind_message(c: &Config, n: &TableNames) -> String {
    let db = &c.database;
    if c.revert.revert {
        return format!(
            "the revert stopped before its cut-over: {db}.{} is untouched and keeps its migrated definition; {db}.{} \
             still holds the original table, with the changes replayed so far (a new --revert replays again from the \
             cut-over point). Left behind: {}. Clean up with: DROP TABLE IF EXISTS {};",
            c.table,
            n.ghost,
            n.changelog,
            qualified(db, &n.changelog)
        );
    }
    let resumable = if c.checkpoint.enabled {
        format!(", and checkpoint {} (continue with --resume)", n.checkpoint)
    } else {
        String::new()
    };
    format!(
        "the original table {db}.{} is untouched. Left behind for inspection: {}, {}{resumable}. \
         Clean up with: DROP TABLE IF EXISTS {}, {}, {}; (or rerun with --initially-drop-ghost-table)",
        c.table,
        n.ghost,
        n.changelog,
        qualified(db, &n.ghost),
        qualified(db, &n.changelog),
        qualified(db, &n.checkpoint)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_the_run_did() {
        let migrated = Outcome {
            executed: true,
            rows_copied: 10,
            events_applied: 3,
            cut_over_locked_for: Some(Duration::from_millis(42)),
            left_behind: vec!["d._t_del".into()],
            ..Outcome::default()
        };
        assert_eq!(
            migrated.summary(),
            "wraith: migrated in 0.0s: 10 rows copied, 3 binlog changes applied, not verified, writes blocked 42 ms at \
             cut-over; left: d._t_del"
        );
        let reverted = Outcome { reverted: true, rows_copied: 0, ..migrated.clone() };
        assert!(
            reverted.summary().starts_with("wraith: reverted in 0.0s: 3 binlog changes replayed"),
            "{}",
            reverted.summary()
        );
        let noop_revert = Outcome { reverted: true, revert_changes: Some(7), ..Outcome::default() };
        assert!(noop_revert.summary().contains("7 changes would be replayed"));
        assert!(Outcome::default().summary().starts_with("wraith: noop run"));
    }
}
