//! The status snapshot: what the run last published about itself. The run is its only writer (a `watch`
//! sender it owns); progress displays, the control socket and tests read it.

use crate::phase::Phase;
use crate::state::report::StatusReport;

/// A snapshot for progress displays and the control socket, refreshed at least once a second and at every
/// change of phase.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub phase: Phase,
    /// Rows copied of the estimate.
    pub copied: u64,
    pub estimated: u64,
    /// The gh-ost-style status line.
    pub line: String,
    /// The binlog GTID set applied so far.
    pub coordinates: String,
    /// The status object of the same tick (`status --json`, `GET /status`, the metrics).
    pub status: StatusReport,
}
