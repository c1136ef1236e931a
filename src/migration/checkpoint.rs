//! Checkpoints (`--checkpoint`): every `--checkpoint-seconds` a row in `_<t>_ghk` records how far the copy
//! got (the last key of a committed chunk) and the GTID set of binlog transactions fully applied to the
//! ghost. `--resume` continues from the latest row: it re-reads the binlog from that GTID set and copies
//! from that key. Both steps are idempotent (the applier writes row images, the copy skips rows already in
//! the ghost), so the work done after the checkpoint and before the stop is simply done again: nothing is
//! lost and nothing is applied twice in effect.
//!
//! After a cut-over the same table also keeps the cut-over point a --revert starts from (`revert::point`).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

use crate::error::{Error, Result};
use crate::mysql::gtid::GtidSet;
use crate::mysql::sql::{qualified, quote};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Checkpoint {
    pub(crate) alter: String,
    /// Binlog transactions applied to the ghost table.
    pub(crate) applied: GtidSet,
    pub(crate) copy_done: bool,
    /// Last key of the last committed chunk (None: no chunk yet).
    pub(crate) copy_last_key: Option<Vec<Value>>,
    /// The copy range's max key, fixed at the first start.
    pub(crate) copy_max_key: Option<Vec<Value>>,
    pub(crate) rows_copied: u64,
    pub(crate) events_applied: u64,
}

pub(crate) async fn create(conn: &mut Conn, db: &str, table: &str) -> Result<()> {
    conn.query_drop(format!(
        "CREATE TABLE IF NOT EXISTS {} (
            id bigint unsigned auto_increment primary key,
            created_at timestamp(6) not null default current_timestamp(6),
            alter_statement text not null,
            gtid_applied text not null,
            copy_done tinyint not null,
            copy_last_key text null,
            copy_max_key text null,
            rows_copied bigint unsigned not null,
            events_applied bigint unsigned not null,
            {}
        ) comment='wraith checkpoint'",
        qualified(db, table),
        crate::revert::point::COLUMNS
    ))
    .await?;
    Ok(())
}

pub(crate) async fn write(conn: &mut Conn, db: &str, table: &str, c: &Checkpoint) -> Result<()> {
    let t = qualified(db, table);
    let key = |k: &Option<Vec<Value>>| k.as_ref().map_or("NULL".to_string(), |k| quote(&encode_key(k)));
    conn.query_drop(format!(
        "INSERT INTO {t} (alter_statement, gtid_applied, copy_done, copy_last_key, copy_max_key, rows_copied, events_applied) \
         VALUES ({}, {}, {}, {}, {}, {}, {})",
        quote(&c.alter),
        quote(&c.applied.to_string()),
        u8::from(c.copy_done),
        key(&c.copy_last_key),
        key(&c.copy_max_key),
        c.rows_copied,
        c.events_applied
    ))
    .await?;
    // Only the latest row matters; keep the table small.
    conn.query_drop(format!("DELETE FROM {t} WHERE id < LAST_INSERT_ID()")).await?;
    Ok(())
}

pub(crate) async fn read_latest(conn: &mut Conn, db: &str, table: &str) -> Result<Option<Checkpoint>> {
    type Row = (String, String, u8, Option<String>, Option<String>, u64, u64);
    let row: Option<Row> = conn
        .query_first(format!(
            "SELECT alter_statement, gtid_applied, copy_done, copy_last_key, copy_max_key, rows_copied, events_applied \
             FROM {} ORDER BY id DESC LIMIT 1",
            qualified(db, table)
        ))
        .await?;
    let Some((alter, applied, done, last, max, rows, events)) = row else { return Ok(None) };
    Ok(Some(Checkpoint {
        alter,
        applied: GtidSet::parse(&applied)?,
        copy_done: done != 0,
        copy_last_key: last.map(|k| decode_key(&k)).transpose()?,
        copy_max_key: max.map(|k| decode_key(&k)).transpose()?,
        rows_copied: rows,
        events_applied: events,
    }))
}

/// Key values as text that decodes to exactly the same `Value`s: `i-5,bC3A9,D2024-1-2-3-4-5-6,n`.
pub(crate) fn encode_key(key: &[Value]) -> String {
    key.iter()
        .map(|v| match v {
            Value::NULL => "n".to_string(),
            Value::Bytes(b) => format!("b{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>()),
            Value::Int(i) => format!("i{i}"),
            Value::UInt(u) => format!("u{u}"),
            Value::Float(f) => format!("f{:08x}", f.to_bits()),
            Value::Double(d) => format!("d{:016x}", d.to_bits()),
            Value::Date(y, m, d, h, i, s, us) => format!("D{y}-{m}-{d}-{h}-{i}-{s}-{us}"),
            Value::Time(neg, d, h, i, s, us) => format!("T{}-{d}-{h}-{i}-{s}-{us}", u8::from(*neg)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn decode_key(text: &str) -> Result<Vec<Value>> {
    let bad = || Error::Config(format!("corrupt checkpoint key {text:?}"));
    text.split(',')
        .map(|tok| {
            let (tag, rest) = tok.split_at(tok.len().min(1));
            let nums = |n: usize| -> Result<Vec<u64>> {
                let v: Vec<u64> =
                    rest.split('-').map(|x| x.parse::<u64>()).collect::<Result<_, _>>().map_err(|_| bad())?;
                if v.len() == n {
                    Ok(v)
                } else {
                    Err(bad())
                }
            };
            Ok(match tag {
                "n" => Value::NULL,
                "b" => {
                    if rest.len() % 2 != 0 {
                        return Err(bad());
                    }
                    let bytes: Vec<u8> = (0..rest.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&rest[i..i + 2], 16))
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad())?;
                    Value::Bytes(bytes)
                }
                "i" => Value::Int(rest.parse().map_err(|_| bad())?),
                "u" => Value::UInt(rest.parse().map_err(|_| bad())?),
                "f" => Value::Float(f32::from_bits(u32::from_str_radix(rest, 16).map_err(|_| bad())?)),
                "d" => Value::Double(f64::from_bits(u64::from_str_radix(rest, 16).map_err(|_| bad())?)),
                "D" => {
                    let v = nums(7)?;
                    Value::Date(v[0] as u16, v[1] as u8, v[2] as u8, v[3] as u8, v[4] as u8, v[5] as u8, v[6] as u32)
                }
                "T" => {
                    let v = nums(6)?;
                    Value::Time(v[0] != 0, v[1] as u32, v[2] as u8, v[3] as u8, v[4] as u8, v[5] as u32)
                }
                _ => return Err(bad()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let key = vec![
            Value::Int(-5),
            Value::UInt(u64::MAX),
            Value::Bytes(vec![0xc3, 0xa9, b',', 0]),
            Value::Bytes(vec![]),
            Value::NULL,
            Value::Double(-0.1),
            Value::Float(3.5),
            Value::Date(2024, 1, 2, 3, 4, 5, 6),
            Value::Time(true, 1, 2, 3, 4, 5),
        ];
        assert_eq!(decode_key(&encode_key(&key)).unwrap(), key);
        assert!(decode_key("x1").is_err());
        assert!(decode_key("bzz").is_err());
    }
}
