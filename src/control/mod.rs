//! What an operator sees and changes while a migration runs: the control server and its commands, the
//! throttler, hooks and the status line. These depend on the run's lent state (`crate::state`), never on
//! each other or on the run.

pub(crate) mod commands;
pub(crate) mod hooks;
pub(crate) mod metrics;
pub(crate) mod server;
pub(crate) mod status;
pub(crate) mod throttle;
