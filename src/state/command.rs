//! Messages that reach the run over its one inbox (an unbounded `mpsc`): operator commands from the control
//! server and the throttler's critical-load verdict. The run acts on them in its event loop; senders never
//! touch the run's state directly.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `panic`: abort now.
    Panic,
    /// `unpostpone` / `cut-over`: cut over even though the postpone flag file exists.
    Unpostpone,
    /// --critical-load met (and confirmed): abort with this reason.
    CriticalLoad(String),
    /// `revert`: during the revert window, swap the old table back in now.
    Revert,
    /// `no-revert` / `finish`: end the revert window now, keeping the new schema.
    EndRevertWindow,
    /// Any command line an operator sent, for the on-interactive-command hook.
    Received(String),
}
