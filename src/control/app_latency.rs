//! The application's own latency, for the pacer: the mean duration of the transactions that sessions other
//! than wraith's ended on the primary in a window, read from performance_schema's transaction summaries.
//! The heartbeat's commit latency does not see an application that queues (a small commit stays quick
//! while the application's transactions, several statements each, stretch out); the application's own
//! transactions do, and that is what the pacer is there to protect.
//!
//! Invariants:
//! - wraith's sessions are told apart by their connection attribute `program_name=wraith`, which every
//!   connection wraith opens sends (`mysql::connect::opts`); other wraith runs are not the application
//!   either;
//! - the application's totals are the global totals less wraith's: a session of wraith's that ends between
//!   two samples takes its last-read totals out of the global ones for good (`Totals::app`), so a closed
//!   connection does not turn its transactions into the application's;
//! - the sample is one query a window on the pacer's own connection, never per row or per chunk;
//! - when performance_schema cannot say (disabled, not readable, the transaction instrument off, or the
//!   reading session itself not found among wraith's), the probe is off and the pacer keeps the heartbeat
//!   alone: it says so once, and the migration goes on.

use std::collections::HashMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::error::Result;
use crate::mysql::connect::PROGRAM_NAME;

/// Transactions ended and their summed duration (performance_schema's picoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tx {
    pub(crate) count: u64,
    pub(crate) picos: u128,
}

impl Tx {
    /// The mean duration of the transactions between `earlier` and `self`; None without any, or when the
    /// counters went back (someone truncated the summary tables).
    pub(crate) fn mean_since(&self, earlier: Tx) -> Option<Duration> {
        let count = self.count.checked_sub(earlier.count).filter(|c| *c > 0)?;
        let picos = self.picos.checked_sub(earlier.picos)?;
        let nanos = (picos / 1000) / u128::from(count);
        Some(Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX)))
    }
}

/// One reading: the global totals and those of each of wraith's sessions, by thread id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reading {
    pub(crate) global: Tx,
    pub(crate) ours: Vec<(u64, Tx)>,
}

/// The application's totals across readings (global less wraith's, wraith's ended sessions included).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    ours: HashMap<u64, Tx>,
    /// What wraith's sessions that have ended had done when last read.
    ended: Tx,
}

impl Totals {
    /// The application's totals as of `r`.
    pub(crate) fn app(&mut self, r: &Reading) -> Tx {
        let now: HashMap<u64, Tx> = r.ours.iter().copied().collect();
        for (thread, last) in &self.ours {
            if !now.contains_key(thread) {
                self.ended.count += last.count;
                self.ended.picos += last.picos;
            }
        }
        self.ours = now;
        let (count, picos) =
            self.ours.values().fold((self.ended.count, self.ended.picos), |(c, p), t| (c + t.count, p + t.picos));
        Tx { count: r.global.count.saturating_sub(count), picos: r.global.picos.saturating_sub(picos) }
    }
}

/// The global transaction totals (thread 0, which no session has) and each wraith session's, and the
/// reading session's own thread id last.
const READING: &str = "\
SELECT CAST(0 AS UNSIGNED), CAST(COUNT_STAR AS UNSIGNED), CAST(SUM_TIMER_WAIT AS UNSIGNED) \
FROM performance_schema.events_transactions_summary_global_by_event_name WHERE EVENT_NAME = 'transaction' \
UNION ALL \
SELECT CAST(e.THREAD_ID AS UNSIGNED), CAST(e.COUNT_STAR AS UNSIGNED), CAST(e.SUM_TIMER_WAIT AS UNSIGNED) \
FROM performance_schema.events_transactions_summary_by_thread_by_event_name e \
JOIN performance_schema.threads t ON t.THREAD_ID = e.THREAD_ID \
JOIN performance_schema.session_connect_attrs a ON a.PROCESSLIST_ID = t.PROCESSLIST_ID \
WHERE e.EVENT_NAME = 'transaction' AND a.ATTR_NAME = 'program_name' AND a.ATTR_VALUE = ?";

/// The probe: the pacer's connection's view of the application's transactions.
pub(crate) struct AppProbe {
    totals: Totals,
    last: Tx,
}

impl AppProbe {
    /// Reads the first totals, or says why the application's latency cannot be read here (None).
    pub(crate) async fn start(conn: &mut Conn) -> Result<std::result::Result<Self, String>> {
        let own: Option<u64> = match conn.query_first("SELECT CAST(PS_CURRENT_THREAD_ID() AS UNSIGNED)").await {
            Ok(id) => id,
            Err(e) => return unreadable(e),
        };
        let reading = match read(conn).await {
            Ok(r) => r,
            Err(e) => return unreadable(e),
        };
        let Some(reading) = reading else {
            return Ok(Err("performance_schema counts no transactions (the `transaction` instrument is off)".into()));
        };
        if !own.is_some_and(|own| reading.ours.iter().any(|(t, _)| *t == own)) {
            return Ok(Err(
                "performance_schema does not show wraith's own session (thread instrumentation is off)".into()
            ));
        }
        let mut totals = Totals::default();
        let last = totals.app(&reading);
        Ok(Ok(AppProbe { totals, last }))
    }

    /// The application's mean transaction latency since the previous call (None: it ended none, or the
    /// counters were reset). A failed read is the caller's to judge; the probe is unchanged by it.
    pub(crate) async fn mean(&mut self, conn: &mut Conn) -> Result<Option<Duration>> {
        let Some(reading) = read(conn).await? else { return Ok(None) };
        let now = self.totals.app(&reading);
        let mean = now.mean_since(self.last);
        self.last = now;
        Ok(mean)
    }
}

/// A server error reading performance_schema means it cannot be read here (disabled, no privilege); a
/// lost connection is the caller's to handle.
fn unreadable(e: mysql_async::Error) -> Result<std::result::Result<AppProbe, String>> {
    match e {
        mysql_async::Error::Server(s) => Ok(Err(format!("performance_schema cannot be read: {}", s.message))),
        other => Err(other.into()),
    }
}

async fn read(conn: &mut Conn) -> std::result::Result<Option<Reading>, mysql_async::Error> {
    let rows: Vec<(u64, u64, u64)> = conn.exec(READING, (PROGRAM_NAME,)).await?;
    let mut global = None;
    let mut ours = Vec::with_capacity(rows.len());
    for (thread, count, picos) in rows {
        let tx = Tx { count, picos: u128::from(picos) };
        match thread {
            0 => global = Some(tx),
            t => ours.push((t, tx)),
        }
    }
    Ok(global.map(|global| Reading { global, ours }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(count: u64, picos: u128) -> Tx {
        Tx { count, picos }
    }

    #[test]
    fn the_application_is_the_global_totals_less_wraith_s_sessions() {
        let mut t = Totals::default();
        let r = Reading { global: tx(100, 1_000_000), ours: vec![(7, tx(10, 400_000)), (9, tx(5, 100_000))] };
        assert_eq!(t.app(&r), tx(85, 500_000));
    }

    #[test]
    fn an_ended_wraith_session_stays_out_of_the_application_s_totals() {
        let mut t = Totals::default();
        let r1 = Reading { global: tx(100, 1_000_000), ours: vec![(7, tx(10, 400_000)), (9, tx(5, 100_000))] };
        let a1 = t.app(&r1);
        // Session 9 closed; the global totals keep what it did, and a new session 11 began.
        let r2 = Reading { global: tx(130, 1_600_000), ours: vec![(7, tx(20, 700_000)), (11, tx(1, 50_000))] };
        let a2 = t.app(&r2);
        assert_eq!(a2, tx(130 - 20 - 1 - 5, 1_600_000 - 700_000 - 50_000 - 100_000));
        // 19 transactions of the application's in 250,000 ps: 13 ns each (truncated).
        assert_eq!(a2.mean_since(a1), Some(Duration::from_nanos(13)));
    }

    #[test]
    fn the_mean_needs_transactions_and_counters_that_did_not_go_back() {
        let a = tx(10, 50_000_000_000);
        assert_eq!(tx(20, 150_000_000_000).mean_since(a), Some(Duration::from_millis(10)));
        assert_eq!(a.mean_since(a), None, "no transaction ended");
        assert_eq!(tx(2, 1).mean_since(a), None, "the summaries were truncated");
    }
}
