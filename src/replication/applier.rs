//! The applier: replays binlog row changes onto the ghost table on the primary.
//!
//! Changes are de-duplicated by migration key within a batch (the last image of a key wins), then written as
//! one `DELETE ... WHERE key IN (...)` of every touched key followed by one multi-row `INSERT` of the keys
//! whose last change left a row. Applying a batch is idempotent and order-free: the batch's end state is a
//! consistent state of the source, so the ghost never holds two rows for one source row, and replaying a
//! change twice (after a binlog reconnect) is harmless. Plain `INSERT` (never `REPLACE`) means a row that
//! clashes with a new unique key is an error, not a silent deletion.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::copy::frontier::{Frontier, Verdict};
use crate::error::codes::ER_DUP_ENTRY;
use crate::error::{Error, Result};
use crate::mysql::gtid::GtidSet;
use crate::mysql::schema::Column;
use crate::mysql::sql::{ident, ident_list, qualified};
use crate::mysql::value::{key_bytes, push_literal, Target};
use crate::replication::streamer::{Image, RowChange};
use crate::state::stats::Stats;

/// Which source columns go where in the ghost, and the key that identifies a row in both.
#[derive(Debug, Clone)]
pub(crate) struct ApplyPlan {
    pub(crate) ghost: String,
    /// (index in the source image, source column, ghost column), written columns only. The ghost column's type
    /// decides how some values are spelled (see `value::Target`).
    pub(crate) columns: Vec<(usize, Column, Column)>,
    /// (index in the source image, source column, ghost column) of the migration key.
    pub(crate) key: Vec<(usize, Column, Column)>,
    pub(crate) key_nullable: bool,
}

impl ApplyPlan {
    pub(crate) fn new(
        db: &str,
        ghost: &str,
        columns: Vec<(usize, Column, Column)>,
        key: Vec<(usize, Column, Column)>,
    ) -> Self {
        let key_nullable = key.iter().any(|(_, c, _)| c.nullable);
        ApplyPlan { ghost: qualified(db, ghost), columns, key, key_nullable }
    }
}

enum Op {
    Upsert(Image),
    Delete(Image),
}

/// Immediate rewrites of a batch that met a duplicate (see `flush`).
const DUPLICATE_RETRIES: u32 = 2;

/// Flush when the statement grows past this, whatever the row count (rows can be large BLOBs).
const MAX_BATCH_BYTES: usize = 8 << 20;

pub(crate) struct Applier {
    plan: ApplyPlan,
    batch: HashMap<Vec<u8>, Op>,
    batch_bytes: usize,
    pub(crate) max_batch: usize,
    pub(crate) stats: Arc<Stats>,
    /// Binlog transactions fully written to the ghost table (also published in `stats.apply.applied`).
    applied: GtidSet,
    /// A position whose preceding changes are in the unwritten batch.
    pending_position: Option<GtidSet>,
    /// Set while a parallel copy runs: decides, per key, apply / drop / wait.
    frontier: Option<Arc<Frontier>>,
    /// The last flush failed on a duplicate key that rewriting the batch did not settle.
    met_duplicate: bool,
    /// A drain's batch that met a duplicate: it grows until the drain's final flush (`flush_in_drain`).
    deferred: bool,
}

impl Applier {
    pub(crate) fn new(plan: ApplyPlan, max_batch: usize, stats: Arc<Stats>) -> Self {
        Applier {
            plan,
            batch: HashMap::new(),
            batch_bytes: 0,
            max_batch: max_batch.max(1),
            stats,
            applied: GtidSet::default(),
            pending_position: None,
            frontier: None,
            met_duplicate: false,
            deferred: false,
        }
    }

    /// Binlog transactions fully written to the ghost table.
    pub(crate) fn applied(&self) -> &GtidSet {
        &self.applied
    }

    /// Moves the applied position (and publishes it, for the copier's duplicate check).
    pub(crate) fn set_applied(&mut self, set: GtidSet) {
        self.stats.apply.set_applied(&set);
        self.applied = set;
    }

    /// Coordinates with a parallel copy (see `frontier`).
    pub(crate) fn set_frontier(&mut self, frontier: Option<Arc<Frontier>>) {
        self.frontier = frontier;
    }

    /// Drops the changes the copy will read anyway and waits for chunks in flight that the batch touches.
    /// The batch's keys are placed in the key's order first (one round trip for a character key, none for
    /// integers).
    async fn settle_with_copy(&mut self, conn: &mut Conn) -> Result<()> {
        let Some(f) = self.frontier.clone() else { return Ok(()) };
        if f.complete() || self.batch.is_empty() {
            return Ok(());
        }
        let (keys, sort_keys) = {
            let mut keys = Vec::with_capacity(self.batch.len());
            let mut images = Vec::with_capacity(self.batch.len());
            for (k, op) in &self.batch {
                let img = match op {
                    Op::Upsert(img) | Op::Delete(img) => img,
                };
                let values: Option<Vec<_>> = self.plan.key.iter().map(|(i, _, _)| img.get(*i)).collect();
                if let Some(values) = values {
                    keys.push(k.clone());
                    images.push(values);
                }
            }
            let sort_keys = f.sort_keys(conn, &images).await?;
            (keys, sort_keys)
        };
        let sort_keys: HashMap<Vec<u8>, _> = keys.into_iter().zip(sort_keys).collect();
        let mut waited = false;
        // Verdicts are taken again after every wait: the chunk waited for may have been released for a
        // retry rather than committed, and its keys are then dropped.
        loop {
            let mut waits = Vec::new();
            let before = self.batch.len();
            self.batch.retain(|k, _| {
                // A key that cannot be read as the column's type is applied; the plan only enables the
                // frontier for keys whose values it reads, so this does not happen.
                match sort_keys.get(k).and_then(|s| s.as_ref()).map(|s| f.verdict(s)) {
                    Some(Verdict::Drop) => false,
                    Some(Verdict::Wait(id)) => {
                        waits.push(id);
                        true
                    }
                    _ => true,
                }
            });
            self.stats.apply.dropped.fetch_add((before - self.batch.len()) as u64, Ordering::Relaxed);
            if waits.is_empty() || f.failed() {
                break;
            }
            if !waited {
                self.stats.apply.waits.fetch_add(1, Ordering::Relaxed);
                waited = true;
            }
            waits.sort_unstable();
            waits.dedup();
            for id in waits {
                f.wait(id).await;
            }
        }
        Ok(())
    }

    /// True when the batch should be written before taking more changes.
    pub(crate) fn full(&self) -> bool {
        self.batch.len() >= self.max_batch || self.batch_bytes >= MAX_BATCH_BYTES
    }

    fn key_of(&self, img: &Image) -> Vec<u8> {
        let mut k = Vec::new();
        for (i, _, _) in &self.plan.key {
            if let Some(v) = img.get(*i) {
                key_bytes(&mut k, v);
            }
            k.push(0xFF); // column separator so ("ab","c") differs from ("a","bc")
        }
        k
    }

    fn put(&mut self, key: Vec<u8>, op: Op) {
        self.batch_bytes += match &op {
            Op::Upsert(img) | Op::Delete(img) => img.iter().map(approx_size).sum::<usize>(),
        };
        self.batch.insert(key, op);
    }

    /// Every transaction whose changes have been handed to the applier (written or in the batch).
    pub(crate) fn received(&self) -> &GtidSet {
        self.pending_position.as_ref().unwrap_or(&self.applied)
    }

    /// Whether the last flush failed on a duplicate key (see `RunLoop::flush`, which may resolve it by
    /// taking in the changes that follow).
    pub(crate) fn met_duplicate(&self) -> bool {
        self.met_duplicate
    }

    /// Changes in the unwritten batch (distinct keys).
    pub(crate) fn batch_len(&self) -> usize {
        self.batch.len()
    }

    /// During a drain up to a marker (the cut-over, the checksum snapshot): writes the batch once it is
    /// full, except after a duplicate key. The changes still to come before the marker may resolve it (the
    /// copy had written a row in a later state than the applier had reached), so the batch then grows, and
    /// the drain's final `flush` at the marker, with every change before the lock in it, decides.
    pub(crate) async fn flush_in_drain(&mut self, conn: &mut Conn, in_transaction: bool) -> Result<()> {
        if !self.full() || self.deferred {
            return Ok(());
        }
        match self.flush(conn, in_transaction).await {
            Err(_) if self.met_duplicate => {
                self.deferred = true;
                Ok(())
            }
            other => other,
        }
    }

    /// Notes that every change before this point has been handed to the applier.
    pub(crate) fn position(&mut self, set: GtidSet) {
        if self.batch.is_empty() {
            self.set_applied(set);
            self.pending_position = None;
        } else {
            self.pending_position = Some(set);
        }
    }

    /// Adds one change to the batch. An update that moves the key deletes the old key and writes the new one.
    pub(crate) fn add(&mut self, change: RowChange) {
        self.stats.apply.events.fetch_add(1, Ordering::Relaxed);
        match change {
            RowChange::Insert(after) => {
                let k = self.key_of(&after);
                self.put(k, Op::Upsert(after));
            }
            RowChange::Update(before, after) => {
                let kb = self.key_of(&before);
                let ka = self.key_of(&after);
                if kb != ka {
                    self.put(kb, Op::Delete(before));
                }
                self.put(ka, Op::Upsert(after));
            }
            RowChange::Delete(before) => {
                let k = self.key_of(&before);
                self.put(k, Op::Delete(before));
            }
        }
    }

    /// Writes the batch. `in_transaction`: wrap in one transaction (not allowed under LOCK TABLES, where
    /// START TRANSACTION would release the cut-over's locks).
    pub(crate) async fn flush(&mut self, conn: &mut Conn, in_transaction: bool) -> Result<()> {
        self.met_duplicate = false;
        self.deferred = false;
        self.settle_with_copy(conn).await?;
        if self.batch.is_empty() {
            if let Some(p) = self.pending_position.take() {
                self.set_applied(p);
            }
            return Ok(());
        }
        let (delete, insert) = self.statements()?;
        let mut sql = String::with_capacity(delete.len() + insert.as_ref().map_or(0, |s| s.len()) + 40);
        if in_transaction {
            sql.push_str("START TRANSACTION; ");
        }
        sql.push_str(&delete);
        if let Some(insert) = &insert {
            sql.push_str("; ");
            sql.push_str(insert);
        }
        if in_transaction {
            sql.push_str("; COMMIT");
        }
        let mut duplicates = 0;
        let began = std::time::Instant::now();
        while let Err(e) = conn.query_drop(&sql).await {
            // The batch is kept: the caller retries it (after reconnecting) or aborts.
            if in_transaction {
                let _ = conn.query_drop("ROLLBACK").await;
            }
            let e = Error::from(e);
            if e.server_code() != Some(ER_DUP_ENTRY) {
                return Err(if e.is_data_error() { rows_do_not_fit(&e) } else { e });
            }
            // The copy may have inserted one of the batch's keys between its DELETE and its INSERT (deleting
            // a key that is not there yet locks nothing under READ COMMITTED). The batch deletes every key it
            // writes, so writing it again settles that; a duplicate that stays is a row the schema rejects.
            if duplicates == DUPLICATE_RETRIES {
                self.met_duplicate = true;
                return Err(rows_do_not_fit(&e));
            }
            duplicates += 1;
        }
        self.stats.apply_batch_seconds.observe(began.elapsed().as_secs_f64());
        let written = self.batch.len() as u64;
        self.stats.apply.rows_written.fetch_add(written, Ordering::Relaxed);
        self.stats.apply.batches.fetch_add(1, Ordering::Relaxed);
        self.batch.clear();
        self.batch_bytes = 0;
        if let Some(p) = self.pending_position.take() {
            self.set_applied(p);
        }
        Ok(())
    }

    /// The DELETE of every touched key and the INSERT of every surviving row.
    fn statements(&self) -> Result<(String, Option<String>)> {
        let p = &self.plan;
        let mut del = format!("DELETE FROM {} WHERE ", p.ghost);
        let key_names: Vec<&str> = p.key.iter().map(|(_, _, g)| g.name.as_str()).collect();
        if !p.key_nullable {
            if key_names.len() == 1 {
                del.push_str(&ident(key_names[0]));
            } else {
                del.push('(');
                del.push_str(&ident_list(&key_names));
                del.push(')');
            }
            del.push_str(" IN (");
        }
        let mut first = true;
        let mut ins = String::new();
        let mut rows = 0usize;
        for op in self.batch.values() {
            let img = match op {
                Op::Upsert(img) | Op::Delete(img) => img,
            };
            if !first {
                del.push_str(if p.key_nullable { " OR " } else { ", " });
            }
            first = false;
            // NULL never equals NULL with IN; nullable keys compare with <=>.
            if p.key_nullable {
                del.push('(');
                for (j, (i, col, ghost)) in p.key.iter().enumerate() {
                    if j > 0 {
                        del.push_str(" AND ");
                    }
                    del.push_str(&ident(&ghost.name));
                    del.push_str(" <=> ");
                    push_value(&mut del, col, Target::Compare(ghost), img, *i)?;
                }
                del.push(')');
            } else {
                if p.key.len() > 1 {
                    del.push('(');
                }
                for (j, (i, col, ghost)) in p.key.iter().enumerate() {
                    if j > 0 {
                        del.push_str(", ");
                    }
                    push_value(&mut del, col, Target::Compare(ghost), img, *i)?;
                }
                if p.key.len() > 1 {
                    del.push(')');
                }
            }
            if let Op::Upsert(img) = op {
                if rows == 0 {
                    let names: Vec<&str> = p.columns.iter().map(|(_, _, g)| g.name.as_str()).collect();
                    ins = format!("INSERT INTO {} ({}) VALUES ", p.ghost, ident_list(&names));
                } else {
                    ins.push_str(", ");
                }
                rows += 1;
                ins.push('(');
                for (j, (i, col, ghost)) in p.columns.iter().enumerate() {
                    if j > 0 {
                        ins.push_str(", ");
                    }
                    push_value(&mut ins, col, Target::Store(ghost), img, *i)?;
                }
                ins.push(')');
            }
        }
        if !p.key_nullable {
            del.push(')');
        }
        Ok((del, (rows > 0).then_some(ins)))
    }
}

fn push_value(out: &mut String, col: &Column, target: Target<'_>, img: &Image, i: usize) -> Result<()> {
    match img.get(i) {
        Some(v) => push_literal(out, col, target, v),
        None => Err(Error::Binlog(format!("row image lacks column {}", col.name))),
    }
}

fn approx_size(v: &BinlogValue<'_>) -> usize {
    match v {
        BinlogValue::Value(mysql_async::Value::Bytes(b)) => b.len() * 2 + 16,
        _ => 32,
    }
}

/// A change the new schema cannot hold (a duplicate for a new unique key, a value too long or out of
/// range...): the same definite error, and the same advice, as when the copy meets such a row.
fn rows_do_not_fit(e: &Error) -> Error {
    Error::Data(format!(
        "applying binlog changes to the ghost table: {e} (the new schema rejects rows the old one holds: fix those \
         rows, or change --alter so they fit)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_the_new_schema_cannot_hold_is_a_definite_data_error_with_advice() {
        let server = |code: u16, message: &str| {
            Error::from(mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: message.into(),
                state: "22001".into(),
            }))
        };
        let e = server(1406, "Data too long for column 's' at row 2");
        assert!(e.is_data_error());
        let d = rows_do_not_fit(&e);
        assert!(matches!(d, Error::Data(_)) && !d.is_transient(), "{d:?}");
        let text = d.to_string();
        assert!(text.contains("Data too long for column 's'") && text.contains("change --alter so they fit"), "{text}");
        assert!(!server(1205, "Lock wait timeout").is_data_error(), "a lock wait is not about the rows");
    }
}
