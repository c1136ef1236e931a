//! The migration key's order as the server compares it: a sort key for each key value whose order (as a
//! tuple of byte strings) is the server's order, so the parallel copy's frontier can place a binlog change
//! among chunk bounds without asking the server about each change.
//!
//! Invariants: two key values compare as their sort keys do exactly when the server, in the copy's WHERE
//! clauses, compares them the same way. Integers are encoded here (offset big-endian, any width or sign);
//! binary strings are their bytes, BINARY(N) padded with zero bytes to N as stored (the binlog drops the
//! padding); character columns get the server's own `WEIGHT_STRING` in the column's collation, padded to
//! the column's length so that a PAD SPACE collation compares as if padded with spaces (a NO PAD collation
//! ignores the padding). A key with a column of any other type, or a nullable one, has no order here: the
//! serial copy takes it. The server is asked once per batch of values, never once per value.

use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};

use super::int_of;
use crate::error::{Error, Result};
use crate::mysql::schema::Column;
use crate::mysql::value::{integer_bits, integer_key, push_bytes_literal};

/// A key value's place in the key's order: one byte string per key column, compared in turn.
pub(crate) type SortKey = Vec<Vec<u8>>;

/// How one key column's value becomes its part of the sort key.
#[derive(Debug, Clone)]
enum Part {
    Int(Column),
    /// Zero-padded to this many bytes (BINARY(N)); 0 for VARBINARY.
    Binary(usize),
    /// Weighed by the server in this character set and collation, padded to `chars` characters.
    Text {
        charset: String,
        collation: String,
        chars: u64,
    },
}

/// The order of a migration key, when this module can compute it.
#[derive(Debug, Clone)]
pub(crate) struct KeyOrder {
    parts: Vec<Part>,
}

/// Weights asked of the server per statement, at most (a batch of binlog changes may hold thousands).
const WEIGHTS_PER_QUERY: usize = 256;

impl KeyOrder {
    /// The order of a key over these source columns, or None when a column is nullable or of a type whose
    /// order is not computed here (temporal, decimal, ENUM, ...).
    pub(crate) fn of_columns(columns: &[&Column]) -> Option<KeyOrder> {
        let name = |s: &Option<String>| {
            s.clone().filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        };
        let mut parts = Vec::new();
        for c in columns {
            if c.nullable || c.generated {
                return None;
            }
            let part = match c.data_type.as_str() {
                t if integer_bits(t).is_some() => Part::Int((*c).clone()),
                "varbinary" => Part::Binary(0),
                "binary" => Part::Binary(usize::try_from(c.octet_length?).ok()?),
                "char" | "varchar" => Part::Text {
                    charset: name(&c.charset)?,
                    collation: name(&c.collation)?,
                    chars: declared_length(&c.column_type)?,
                },
                _ => return None,
            };
            parts.push(part);
        }
        (!parts.is_empty()).then_some(KeyOrder { parts })
    }

    /// Sort keys of key values read from the table (chunk bounds, the range's edges), in the key's column
    /// order. A character value is weighed as the WHERE clause that binds it as a parameter sees it.
    pub(crate) async fn of_values(&self, conn: &mut Conn, keys: &[Vec<Value>]) -> Result<Vec<SortKey>> {
        let mut out = Vec::with_capacity(keys.len());
        let mut asks = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            let mut sort = Vec::with_capacity(self.parts.len());
            for (p, part) in self.parts.iter().enumerate() {
                let v = key.get(p).ok_or_else(|| Error::Aborted(format!("key value {key:?} lacks column {p}")))?;
                sort.push(match part {
                    Part::Int(_) => int_part(int_of(v).ok_or_else(|| not_of_type(v, "an integer"))?),
                    Part::Binary(n) => match v {
                        Value::Bytes(b) => padded(b, *n),
                        _ => return Err(not_of_type(v, "a binary string")),
                    },
                    Part::Text { charset, collation, chars } => {
                        let sql =
                            format!("WEIGHT_STRING(CONVERT(? USING {charset}) COLLATE {collation} AS CHAR({chars}))");
                        asks.push(Ask { key: k, part: p, sql, param: Some(v.clone()) });
                        Vec::new()
                    }
                });
            }
            out.push(sort);
        }
        weigh(conn, asks, &mut out).await?;
        Ok(out)
    }

    /// Sort keys of key values from binlog row images (`images[i][p]`: the value of key column `p`). None
    /// for a key whose values cannot be read as the column's type.
    pub(crate) async fn of_images(
        &self,
        conn: &mut Conn,
        images: &[Vec<&BinlogValue<'_>>],
    ) -> Result<Vec<Option<SortKey>>> {
        let mut out = Vec::with_capacity(images.len());
        let mut readable = Vec::with_capacity(images.len());
        let mut asks = Vec::new();
        for (k, key) in images.iter().enumerate() {
            let mut sort = Vec::with_capacity(self.parts.len());
            let mut ok = key.len() == self.parts.len();
            for (p, (part, v)) in self.parts.iter().zip(key).enumerate() {
                let bytes = match v {
                    BinlogValue::Value(Value::Bytes(b)) => Some(b.as_slice()),
                    _ => None,
                };
                sort.push(match part {
                    Part::Int(col) => match integer_key(col, v) {
                        Some(n) => int_part(n),
                        None => {
                            ok = false;
                            Vec::new()
                        }
                    },
                    Part::Binary(n) => match bytes {
                        Some(b) => padded(b, *n),
                        None => {
                            ok = false;
                            Vec::new()
                        }
                    },
                    Part::Text { charset, collation, chars } => {
                        match bytes {
                            Some(b) if ok => {
                                // The bytes are in the column's character set: introduced as such, never converted.
                                let mut sql = String::from("WEIGHT_STRING(");
                                push_bytes_literal(&mut sql, Some(charset), b);
                                sql.push_str(&format!(" COLLATE {collation} AS CHAR({chars}))"));
                                asks.push(Ask { key: k, part: p, sql, param: None });
                            }
                            _ => ok = false,
                        }
                        Vec::new()
                    }
                });
            }
            out.push(sort);
            readable.push(ok);
        }
        asks.retain(|a| readable[a.key]);
        weigh(conn, asks, &mut out).await?;
        Ok(out.into_iter().zip(readable).map(|(s, ok)| ok.then_some(s)).collect())
    }
}

/// One weight to ask of the server: for part `part` of key `key`.
struct Ask {
    key: usize,
    part: usize,
    sql: String,
    param: Option<Value>,
}

/// Asks the server for the weights, a bounded number per statement, and puts each in its place.
async fn weigh(conn: &mut Conn, asks: Vec<Ask>, out: &mut [SortKey]) -> Result<()> {
    for batch in asks.chunks(WEIGHTS_PER_QUERY) {
        let sql = format!("SELECT {}", batch.iter().map(|a| a.sql.as_str()).collect::<Vec<_>>().join(", "));
        let params: Vec<Value> = batch.iter().filter_map(|a| a.param.clone()).collect();
        let row: Option<Row> =
            if params.is_empty() { conn.query_first(sql).await? } else { conn.exec_first(sql, params).await? };
        let values = row.map(Row::unwrap).unwrap_or_default();
        if values.len() != batch.len() {
            return Err(Error::Aborted(format!(
                "the server returned {} key weights for {}",
                values.len(),
                batch.len()
            )));
        }
        for (a, v) in batch.iter().zip(values) {
            out[a.key][a.part] = match v {
                Value::Bytes(b) => b,
                other => return Err(not_of_type(&other, "a key weight")),
            };
        }
    }
    Ok(())
}

/// An integer as 16 bytes whose byte order is the numbers' order (the sign bit flipped, big-endian).
fn int_part(n: i128) -> Vec<u8> {
    ((n as u128) ^ (1u128 << 127)).to_be_bytes().to_vec()
}

fn padded(b: &[u8], n: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    if v.len() < n {
        v.resize(n, 0);
    }
    v
}

/// The N of `char(N)` / `varchar(N)`.
fn declared_length(column_type: &str) -> Option<u64> {
    let (_, rest) = column_type.split_once('(')?;
    rest.split_once(')')?.0.trim().parse().ok()
}

fn not_of_type(v: &Value, what: &str) -> Error {
    Error::Aborted(format!("key value {v:?} is not {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(data_type: &str, column_type: &str) -> Column {
        let mut c = Column::for_test("k", data_type, false);
        c.column_type = column_type.into();
        c
    }

    #[test]
    fn integers_keep_their_order_across_signs_and_widths() {
        let ns = [i128::from(i64::MIN), -5, -1, 0, 1, 5, i128::from(i64::MAX), i128::from(u64::MAX)];
        for w in ns.windows(2) {
            assert!(int_part(w[0]) < int_part(w[1]), "{} < {}", w[0], w[1]);
        }
        // A tuple compares part by part: (1, "b") < (2, "a").
        let a: SortKey = vec![int_part(1), b"b".to_vec()];
        let b: SortKey = vec![int_part(2), b"a".to_vec()];
        assert!(a < b);
    }

    #[test]
    fn which_keys_have_an_order() {
        let mut text = column("varchar", "varchar(32)");
        text.charset = Some("utf8mb4".into());
        text.collation = Some("utf8mb4_0900_ai_ci".into());
        let int = column("bigint", "bigint unsigned");
        let mut bin = column("binary", "binary(16)");
        bin.octet_length = Some(16);
        let order = KeyOrder::of_columns(&[&int, &text, &bin]).expect("integer, text and binary");
        assert!(matches!(order.parts[0], Part::Int(_)));
        assert!(matches!(order.parts[1], Part::Text { chars: 32, .. }));
        assert!(matches!(order.parts[2], Part::Binary(16)));
        let mut nullable = int.clone();
        nullable.nullable = true;
        assert!(KeyOrder::of_columns(&[&nullable]).is_none(), "a nullable key takes the serial copy");
        assert!(KeyOrder::of_columns(&[&column("datetime", "datetime")]).is_none());
        assert!(KeyOrder::of_columns(&[&column("decimal", "decimal(10,2)")]).is_none());
        let mut odd = text.clone();
        odd.collation = Some("x' OR 1".into());
        assert!(KeyOrder::of_columns(&[&odd]).is_none(), "a collation name is pasted into SQL: plain names only");
        assert!(KeyOrder::of_columns(&[]).is_none());
    }

    #[test]
    fn binary_values_are_padded_as_stored() {
        assert_eq!(padded(b"ab", 4), b"ab\0\0".to_vec());
        assert_eq!(padded(b"abcd", 2), b"abcd".to_vec());
        assert_eq!(declared_length("char(10)"), Some(10));
        assert_eq!(declared_length("varchar(255)"), Some(255));
        assert_eq!(declared_length("text"), None);
    }
}
