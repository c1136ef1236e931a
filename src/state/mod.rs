//! Runtime state with one owner. The run creates each piece and lends it out; the roles (copier, applier,
//! throttler, control server, hooks) depend on these types, never on each other or on the run:
//! - `Settings` (`Arc`): what operators can change;
//! - `Stats` (`Arc`): counters;
//! - `Progress` (a `watch` the run writes): the status snapshot, phase included, with its `StatusReport`;
//! - `Verdict` (a `watch` the throttler writes): why the copy must pause, or None;
//! - `PaceWatch` (a `watch` the latency pacer writes): how many workers may copy, and their pause;
//! - `Command` (an `mpsc` the run reads): operator commands and the critical-load abort;
//! - `Tasks` / `Stop`: every spawned task and the one signal that stops them all.

pub(crate) mod command;
pub(crate) mod pace;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod settings;
pub(crate) mod stats;
pub(crate) mod tasks;

pub use progress::Progress;
pub use report::StatusReport;

/// The throttler's verdict, as the copier and the cut-over gate watch it: why the copy must pause now, or
/// None.
pub(crate) type Verdict = tokio::sync::watch::Receiver<Option<String>>;
