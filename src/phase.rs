//! The phases of a run, as a type. The run sets them; `Progress`, the status line, the control socket's
//! `status` and the hooks read them; nothing compares phases as strings.
//!
//! Invariant: `Display` gives exactly the words gh-ost runbooks and earlier wraith output show
//! (`migrating`, `postponing cut-over`, ...): runbooks grep for them. Variants are declared in the order a
//! run passes through them; a failed cut-over attempt goes back from `CuttingOver` to `Migrating`, and a
//! revert from the window goes from `Revertible` through `CuttingOver` and `CleaningUp` again.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Phase {
    /// Not started.
    #[default]
    Init,
    /// Checking the servers, the table and the ALTER; creating the ghost table.
    Validating,
    /// Copying rows and applying the binlog; also catching up after the copy and between cut-over attempts.
    Migrating,
    /// The copy is done: comparing the ghost with the original under one snapshot (and repairing).
    Verifying,
    /// Ready, but the postpone flag file exists: the ghost keeps in sync.
    Postponing,
    /// Ready, but a throttle holds: no cut-over while throttled.
    ThrottledBeforeCutOver,
    /// A cut-over attempt is under way.
    CuttingOver,
    /// The tables are swapped; dropping helper tables.
    CleaningUp,
    /// --revert-window: the table has its new schema and the old table is kept in step; `revert` swaps back.
    Revertible,
    /// The table has its new schema.
    Done,
    /// A noop run (no --execute) finished: nothing was migrated.
    Noop,
}

impl Phase {
    pub const ALL: [Phase; 11] = [
        Phase::Init,
        Phase::Validating,
        Phase::Migrating,
        Phase::Verifying,
        Phase::Postponing,
        Phase::ThrottledBeforeCutOver,
        Phase::CuttingOver,
        Phase::CleaningUp,
        Phase::Revertible,
        Phase::Done,
        Phase::Noop,
    ];

    /// The words the status line and the socket show.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Init => "init",
            Phase::Validating => "validating",
            Phase::Migrating => "migrating",
            Phase::Verifying => "verifying",
            Phase::Postponing => "postponing cut-over",
            Phase::ThrottledBeforeCutOver => "throttled before cut-over",
            Phase::CuttingOver => "cut-over",
            Phase::CleaningUp => "cleanup",
            Phase::Revertible => "revertible",
            Phase::Done => "done",
            Phase::Noop => "done (noop)",
        }
    }

    /// The cut-over has happened: the table has its new schema.
    pub fn is_after_cut_over(self) -> bool {
        matches!(self, Phase::CleaningUp | Phase::Revertible | Phase::Done)
    }
}

/// As its words (`"postponing cut-over"`): the status object's `phase`.
impl serde::Serialize for Phase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_gh_ost_s() {
        let words: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            words,
            [
                "init",
                "validating",
                "migrating",
                "verifying",
                "postponing cut-over",
                "throttled before cut-over",
                "cut-over",
                "cleanup",
                "revertible",
                "done",
                "done (noop)"
            ]
        );
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]), "declared in run order");
        assert!(Phase::CleaningUp.is_after_cut_over() && !Phase::CuttingOver.is_after_cut_over());
    }
}
