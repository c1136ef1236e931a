//! The points of a migration at which hooks run: each event's gh-ost hook name (the file name prefix searched
//! for), whether a failing hook aborts the migration, and the event's own extra variable.
//!
//! Invariants: names and the abort rule match gh-ost's hooks.go and migrator.go, event for event; the extra
//! variable keeps gh-ost's quoting quirk.

/// A point of the migration at which hooks run. The events that carry a `String` pass it to the hook in an
/// extra variable (see [`HookEvent::extra_variable`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookEvent {
    /// gh-ost-on-startup: before anything is validated or touched.
    Startup,
    /// gh-ost-on-validated: the preconditions passed, nothing created yet.
    Validated,
    /// gh-ost-on-rowcount-complete: the (exact) row count finished.
    RowCountComplete,
    /// gh-ost-on-before-row-copy: ghost table ready, binlog streaming, copy about to start.
    BeforeRowCopy,
    /// gh-ost-on-row-copy-complete: every chunk copied.
    RowCopyComplete,
    /// gh-ost-on-begin-postponed: the cut-over is ready but postponed by the flag file (runs once).
    BeginPostponed,
    /// gh-ost-on-before-cut-over: right before the cut-over (each attempt).
    BeforeCutOver,
    /// gh-ost-on-interactive-command: an operator sent this command to the control server.
    InteractiveCommand(String),
    /// gh-ost-on-success: the migration completed.
    Success,
    /// gh-ost-on-failure: the migration failed.
    Failure,
    /// gh-ost-on-batch-copy-retry: a chunk copy failed with this error and will be retried.
    BatchCopyRetry(String),
    /// gh-ost-on-status: periodic status (every --hooks-status-interval), with the status text.
    Status(String),
    /// gh-ost-on-stop-replication: before stopping replication (--test-on-replica / --migrate-on-replica).
    StopReplication,
    /// gh-ost-on-start-replication: before starting replication again.
    StartReplication,
}

impl HookEvent {
    /// The hook's name, which is also the file name prefix the hooks directory is searched for.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            HookEvent::Startup => "gh-ost-on-startup",
            HookEvent::Validated => "gh-ost-on-validated",
            HookEvent::RowCountComplete => "gh-ost-on-rowcount-complete",
            HookEvent::BeforeRowCopy => "gh-ost-on-before-row-copy",
            HookEvent::RowCopyComplete => "gh-ost-on-row-copy-complete",
            HookEvent::BeginPostponed => "gh-ost-on-begin-postponed",
            HookEvent::BeforeCutOver => "gh-ost-on-before-cut-over",
            HookEvent::InteractiveCommand(_) => "gh-ost-on-interactive-command",
            HookEvent::Success => "gh-ost-on-success",
            HookEvent::Failure => "gh-ost-on-failure",
            HookEvent::BatchCopyRetry(_) => "gh-ost-on-batch-copy-retry",
            HookEvent::Status(_) => "gh-ost-on-status",
            HookEvent::StopReplication => "gh-ost-on-stop-replication",
            HookEvent::StartReplication => "gh-ost-on-start-replication",
        }
    }

    /// Whether a failing hook for this event stops the migration (`run` returns `Err`), as in gh-ost's
    /// migrator.go, which either `return err`s the hook's error or drops/logs it:
    ///
    /// * Abort: startup, validated, before-row-copy, row-copy-complete, before-cut-over, stop-replication,
    ///   start-replication (`if err := this.hooksExecutor.onX(); err != nil { return err }`). rowcount-complete
    ///   aborts too when the count runs in the foreground; gh-ost ignores its error when the count runs in the
    ///   background (--concurrent-rowcount), which is the caller's business. before-cut-over and
    ///   begin-postponed fail the cut-over *attempt*, which gh-ost retries (`retryOperation(cutOver)`) before
    ///   giving up; the caller decides on retries the same way it does for any other cut-over error.
    /// * Abort, although the work is done: success. gh-ost's `Migrate()` ends with
    ///   `if err := this.hooksExecutor.onSuccess(); err != nil { return err }`, so a failing on-success hook makes
    ///   gh-ost run the on-failure hooks and exit non-zero, with the tables already swapped. Runbooks rely on the
    ///   exit status ("success hook notifies, and if it cannot, page"), so wraith keeps that: `run` returns
    ///   `Err`, and the caller should report it and exit non-zero without undoing anything.
    /// * Log only: failure (`ExecOnFailureHook` ignores the result; the run is failing already), status
    ///   (`printStatus` logs the error), batch-copy-retry (the result is dropped inside the retry wrapper),
    ///   interactive-command (the error goes back to the operator's socket client, the migration continues).
    pub(crate) fn aborts_on_failure(&self) -> bool {
        match self {
            HookEvent::Startup
            | HookEvent::Validated
            | HookEvent::RowCountComplete
            | HookEvent::BeforeRowCopy
            | HookEvent::RowCopyComplete
            | HookEvent::BeginPostponed
            | HookEvent::BeforeCutOver
            | HookEvent::Success
            | HookEvent::StopReplication
            | HookEvent::StartReplication => true,
            HookEvent::InteractiveCommand(_)
            | HookEvent::Failure
            | HookEvent::BatchCopyRetry(_)
            | HookEvent::Status(_) => false,
        }
    }

    /// The event's own variable, if any. gh-ost formats them as
    /// `GH_OST_COMMAND='%s'` and `GH_OST_STATUS='%s'`: the single quotes are part of the value (a quirk of
    /// hooks.go, which builds `NAME=value` strings by hand). Hook scripts written for gh-ost strip them (or
    /// match on them), so wraith keeps them for drop-in compatibility. `GH_OST_LAST_BATCH_COPY_ERROR` is
    /// unquoted in gh-ost and here.
    pub(crate) fn extra_variable(&self) -> Option<(&'static str, String)> {
        match self {
            HookEvent::InteractiveCommand(command) => Some(("GH_OST_COMMAND", format!("'{command}'"))),
            HookEvent::Status(status) => Some(("GH_OST_STATUS", format!("'{status}'"))),
            HookEvent::BatchCopyRetry(error) => Some(("GH_OST_LAST_BATCH_COPY_ERROR", error.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_abort_policy() {
        assert_eq!(HookEvent::Startup.name(), "gh-ost-on-startup");
        assert_eq!(HookEvent::RowCountComplete.name(), "gh-ost-on-rowcount-complete");
        assert_eq!(HookEvent::Status(String::new()).name(), "gh-ost-on-status");
        for e in [HookEvent::Startup, HookEvent::BeforeCutOver, HookEvent::StopReplication, HookEvent::Success] {
            assert!(e.aborts_on_failure(), "{}", e.name());
        }
        for e in [
            HookEvent::Failure,
            HookEvent::Status("s".into()),
            HookEvent::InteractiveCommand("c".into()),
            HookEvent::BatchCopyRetry("e".into()),
        ] {
            assert!(!e.aborts_on_failure(), "{}", e.name());
        }
    }
}
