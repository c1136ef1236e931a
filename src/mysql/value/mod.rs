//! Binlog row values back to SQL: each value decoded from a ROW event becomes a literal (or a small expression)
//! that stores exactly the same value when inserted into the ghost table.
//!
//! The applier session runs with `time_zone='+00:00'` and `SET NAMES utf8mb4`, so temporal literals are UTC and
//! every string is written as a charset-introduced hex literal (`_latin1 X'E9'`): the bytes never pass through
//! the client character set, and no escaping is needed.
//!
//! A literal is written for a use on the ghost table (`Target`): stored into a ghost column, or compared with one
//! in a WHERE. Almost every value is spelled the same either way; the exceptions are where the ghost column's type
//! decides what a native `ALTER TABLE ... ALGORITHM=COPY` would store (an ENUM's error value, an ENUM into a
//! numeric column), and they never relax strict mode: the literal itself is one strict mode accepts.
//!
//! This module is the entry point and holds the writers all parts share; the conversions live by concern:
//! `scalar` (plain values, by column type), `integer` (width and signedness), `temporal`, `enum_set`, `json`
//! (binary JSON documents) and `keys` (byte keys for de-duplication). Inner conversions fail with a bare reason;
//! only `push_literal` names the column, and it leaves `out` as it was on error.

mod enum_set;
mod integer;
mod json;
mod keys;
mod scalar;
mod temporal;
#[cfg(test)]
mod test_util;

use std::fmt::Write as _;

use mysql_common::binlog::value::BinlogValue;

use crate::error::Error;
use crate::mysql::schema::Column;

use json::push_json_document;
use scalar::push_value;

pub(crate) use integer::{integer_bits, integer_key};
pub(crate) use keys::key_bytes;

/// Inner conversions fail with a reason; `push_literal` adds the column to it.
type Reason = String;

/// What a literal is for: a value stored into this ghost column (an INSERT), or compared with it (a key in a
/// DELETE's WHERE).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target<'a> {
    Store(&'a Column),
    Compare(&'a Column),
}

impl<'a> Target<'a> {
    fn column(self) -> &'a Column {
        match self {
            Target::Store(c) | Target::Compare(c) => c,
        }
    }
}

/// Appends the SQL literal for `v` (a value of source column `col`) to `out`, for `target` on the ghost table.
///
/// On error `out` is left as it was.
pub(crate) fn push_literal(
    out: &mut String,
    col: &Column,
    target: Target<'_>,
    v: &BinlogValue<'_>,
) -> crate::Result<()> {
    let start = out.len();
    let res = match v {
        BinlogValue::Value(v) => push_value(out, col, target, v),
        BinlogValue::Jsonb(j) => push_json_document(out, j),
        BinlogValue::JsonDiff(_) => Err("partial JSON update in the binlog (binlog_row_value_options=PARTIAL_JSON) \
                                         is not supported; set binlog_row_value_options='' on the server"
            .into()),
    };
    res.map_err(|reason| {
        out.truncate(start);
        Error::Value { column: col.name.clone(), column_type: col.column_type.clone(), reason }
    })
}

/// Hex-literal with charset introducer for raw bytes (`_binary X'..'` when charset is None).
///
/// `charset` must be a character set name as information_schema reports it.
pub(crate) fn push_bytes_literal(out: &mut String, charset: Option<&str>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let charset = charset.unwrap_or("binary");
    out.reserve(charset.len() + 5 + 2 * bytes.len());
    out.push('_');
    out.push_str(charset);
    out.push_str(" X'");
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xF)] as char);
    }
    out.push('\'');
}

fn push_display(out: &mut String, x: impl std::fmt::Display) {
    let _ = write!(out, "{x}");
}

#[cfg(test)]
mod tests {
    use super::test_util::{bytes, col, lit_bv};
    use super::*;

    #[test]
    fn bytes_literal() {
        let mut s = String::new();
        push_bytes_literal(&mut s, None, &[0x00, 0xAB]);
        push_bytes_literal(&mut s, Some("utf16"), &[]);
        assert_eq!(s, "_binary X'00AB'_utf16 X''");
    }

    #[test]
    fn errors_name_the_column_and_leave_out_alone() {
        let mut s = String::from("INSERT ");
        let c = Column { name: "price".into(), ..col("decimal", "decimal(5,2)") };
        let e = push_literal(&mut s, &c, Target::Store(&c), &BinlogValue::Value(bytes("1e3"))).unwrap_err();
        assert_eq!(s, "INSERT ");
        assert!(e.to_string().contains("`price` (decimal(5,2))"), "{e}");
        let e = lit_bv(&col("json", "json"), &BinlogValue::JsonDiff(Vec::new())).unwrap_err();
        assert!(e.contains("PARTIAL_JSON"), "{e}");
    }
}
