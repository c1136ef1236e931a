//! What an operator sees and changes while a migration runs: the control server, the throttler, hooks and
//! the status line.

pub(crate) mod hooks;
pub(crate) mod server;
pub(crate) mod status;
pub(crate) mod throttle;
