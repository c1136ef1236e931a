//! What an operator sees and changes while a migration runs: the control server and its commands, the
//! throttler, the latency pacer, hooks and the status line. These depend on the run's lent state
//! (`crate::state`), never on each other or on the run (the pacer writes the changelog's heartbeat row for
//! its baseline, as the heartbeat does).

pub(crate) mod app_latency;
pub(crate) mod commands;
pub(crate) mod hooks;
pub(crate) mod metrics;
pub(crate) mod pacer;
pub(crate) mod server;
pub(crate) mod status;
pub(crate) mod throttle;
