//! Plain (non-JSON) binlog values to SQL literals, chosen by the column's data type: one decoded value means
//! different things in different columns (an Int is an ENUM index in one, epoch seconds in another).
//!
//! Each literal parses back to exactly the value: numbers go unquoted only once checked to be well-formed,
//! doubles always carry an exponent, strings are hex literals in the column's character set.

use std::fmt::Write as _;

use mysql_common::value::Value;

use crate::mysql::schema::Column;

use super::enum_set::{parse_members, push_enum};
use super::integer::push_integer;
use super::temporal::{check_date, push_datetime, push_micros, push_timestamp, time2_decoder_is_buggy, undo_time2_bug};
use super::{push_bytes_literal, push_display, Reason, Target};

/// `target` matters only for ENUMs (see `enum_set`).
pub(super) fn push_value(out: &mut String, col: &Column, target: Target<'_>, v: &Value) -> Result<(), Reason> {
    let ty = col.data_type.as_str();
    match v {
        Value::NULL => out.push_str("NULL"),
        Value::Int(n) => push_integer_value(out, col, target, i128::from(*n))?,
        Value::UInt(n) => push_integer_value(out, col, target, i128::from(*n))?,
        Value::Float(f) if matches!(ty, "float" | "double") => {
            // The f32 widened to f64 is exact, so the server parses exactly this float back (no double rounding).
            push_double(out, f64::from(*f))?
        }
        Value::Double(d) if matches!(ty, "float" | "double") => push_double(out, *d)?,
        Value::Bytes(b) => push_bytes_value(out, col, b)?,
        &Value::Date(y, m, d, h, i, s, us) if matches!(ty, "date" | "datetime" | "timestamp") => {
            if ty == "date" && (h, i, s, us) == (0, 0, 0, 0) {
                check_date(y, m, d)?;
                let _ = write!(out, "'{y:04}-{m:02}-{d:02}'");
            } else {
                push_datetime(out, y, m, d, h, i, s, us)?
            }
        }
        &Value::Time(neg, days, h, i, s, us) if ty == "time" => {
            let mut t = (neg, u64::from(days) * 24 + u64::from(h), i, s, us);
            if matches!(col.datetime_precision, Some(1 | 2)) && time2_decoder_is_buggy() {
                t = undo_time2_bug(t).ok_or_else(|| bad(v))?;
            }
            let (neg, hours, i, s, us) = t;
            if hours > 838 || i > 59 || s > 59 || us > 999_999 {
                return Err(bad(v));
            }
            let sign = if neg { "-" } else { "" };
            let _ = write!(out, "'{sign}{hours:02}:{i:02}:{s:02}");
            push_micros(out, us);
            out.push('\'');
        }
        _ => return Err(format!("unexpected binlog value {v:?} for this column type")),
    }
    Ok(())
}

fn push_integer_value(out: &mut String, col: &Column, target: Target<'_>, n: i128) -> Result<(), Reason> {
    match col.data_type.as_str() {
        "enum" => push_enum(out, &col.column_type, target, n),
        // The pre-5.6 TIMESTAMP format arrives as plain epoch seconds.
        "timestamp" => push_timestamp(out, i64::try_from(n).map_err(|_| format!("invalid timestamp {n}"))?, 0),
        _ => push_integer(out, col, n),
    }
}

fn bad(v: &Value) -> Reason {
    format!("invalid binlog value {v:?}")
}

/// Always with an exponent: MySQL reads `1.5e0` as a DOUBLE, while `1.5` would be a DECIMAL.
/// Rust prints the shortest digits that parse back to the same f64, and MySQL's strtod rounds correctly.
pub(super) fn push_double(out: &mut String, d: f64) -> Result<(), Reason> {
    if !d.is_finite() {
        return Err(format!("{d} cannot be stored in MySQL"));
    }
    let _ = write!(out, "{d:e}");
    Ok(())
}

fn push_bytes_value(out: &mut String, col: &Column, b: &[u8]) -> Result<(), Reason> {
    match col.data_type.as_str() {
        "decimal" => {
            let s = std::str::from_utf8(b).ok().filter(|s| is_decimal(s));
            out.push_str(s.ok_or_else(|| format!("invalid decimal {:?}", String::from_utf8_lossy(b)))?);
        }
        "timestamp" => {
            // "sec" or "sec.fraction" from TIMESTAMP2.
            let s = std::str::from_utf8(b).map_err(|_| "invalid timestamp".to_string())?;
            let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
            let digits = |x: &str, max: usize| (1..=max).contains(&x.len()) && x.bytes().all(|c| c.is_ascii_digit());
            if !digits(sec, 18) || !digits(frac, 6) {
                return Err(format!("invalid timestamp {s:?}"));
            }
            let usec = format!("{frac:0<6}").parse().unwrap_or(u32::MAX);
            push_timestamp(out, sec.parse().unwrap_or(-1), usec)?
        }
        "year" => {
            // The binlog stores year - 1900 in one byte, with 0 meaning the year 0000.
            match std::str::from_utf8(b).ok().and_then(|s| s.parse::<u32>().ok()) {
                Some(1900) => out.push('0'),
                Some(y @ 1901..=2155) => push_display(out, y),
                _ => return Err(format!("invalid year {:?}", String::from_utf8_lossy(b))),
            }
        }
        "bit" => {
            if b.len() > 8 {
                return Err(format!("BIT value of {} bytes", b.len()));
            }
            let n = b.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x));
            push_display(out, n);
        }
        "set" => {
            let members = parse_members(&col.column_type)?;
            let mut value = Vec::new();
            for (i, byte) in b.iter().enumerate() {
                for bit in (0..8).filter(|bit| byte & (1 << bit) != 0) {
                    let m = members.get(i * 8 + bit).ok_or_else(|| format!("SET bit {} has no member", i * 8 + bit))?;
                    if !value.is_empty() {
                        value.push(b',');
                    }
                    value.extend_from_slice(m.as_bytes());
                }
            }
            // Members come from information_schema as UTF-8; the server converts to the column charset.
            push_bytes_literal(out, Some("utf8mb4"), &value);
        }
        "binary" => {
            // The binlog drops the trailing 0x00 padding of BINARY(N); put it back.
            let n = col.octet_length.and_then(|n| usize::try_from(n).ok()).unwrap_or(0);
            let mut padded = b.to_vec();
            if padded.len() < n {
                padded.resize(n, 0);
            }
            push_bytes_literal(out, None, &padded);
        }
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            let charset = col.charset.as_deref().filter(|c| c.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'_'));
            if charset.is_none() && col.charset.is_some() {
                return Err(format!("unexpected character set {:?}", col.charset));
            }
            push_bytes_literal(out, charset, b);
        }
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "vector" => push_bytes_literal(out, None, b),
        // SRID + WKB, which a geometry column accepts as a binary string.
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring" | "multipolygon"
        | "geomcollection" | "geometrycollection" => push_bytes_literal(out, None, b),
        _ => return Err("unexpected string value for this column type".into()),
    }
    Ok(())
}

/// `-?digits(.digits)?`, what mysql_common prints for a binlog DECIMAL; safe to paste unquoted.
pub(super) fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{bytes, col, lit, ok, text_col};
    use super::*;

    #[test]
    fn null() {
        assert_eq!(ok(&col("int", "int"), Value::NULL), "NULL");
        assert_eq!(ok(&col("json", "json"), Value::NULL), "NULL");
    }

    #[test]
    fn floats_keep_their_bits() {
        let f = col("float", "float");
        let d = col("double", "double");
        // The exact f64 of the f32: the server parses it and narrows it back without double rounding.
        assert_eq!(ok(&f, Value::Float(0.1)), "1.0000000149011612e-1");
        assert_eq!(ok(&f, Value::Float(f32::MAX)), "3.4028234663852886e38");
        assert_eq!(ok(&f, Value::Float(-0.0)), "-0e0");
        assert_eq!(ok(&d, Value::Double(1.5e38)), "1.5e38");
        assert_eq!(ok(&d, Value::Double(0.1)), "1e-1");
        assert_eq!(ok(&d, Value::Double(f64::MIN_POSITIVE / 4.0)), "5.562684646268003e-309");
        assert_eq!(ok(&d, Value::Double(-f64::MAX)), "-1.7976931348623157e308");
        for x in [0.1, 1.0 / 3.0, 5e-324, 123456789012345680000.0, -2.5] {
            assert_eq!(ok(&d, Value::Double(x)).parse::<f64>().unwrap().to_bits(), f64::to_bits(x));
        }
        assert!(lit(&d, Value::Double(f64::NAN)).is_err());
        assert!(lit(&d, Value::Double(f64::INFINITY)).is_err());
        assert!(lit(&col("int", "int"), Value::Double(1.0)).is_err());
    }

    #[test]
    fn decimals() {
        let c = col("decimal", "decimal(65,30)");
        for s in ["0", "-0.5", "123.450", "99999999999999999999999999999999999.999999999999999999999999999999"] {
            assert_eq!(ok(&c, bytes(s)), s);
        }
        for s in ["", "-", "1e5", "1.", ".5", "1.2.3", "1;DROP", "+1", "--1"] {
            assert!(lit(&c, bytes(s)).is_err(), "{s:?}");
        }
    }

    #[test]
    fn years() {
        let y = col("year", "year");
        assert_eq!(ok(&y, bytes("1900")), "0");
        assert_eq!(ok(&y, bytes("1901")), "1901");
        assert_eq!(ok(&y, bytes("2155")), "2155");
        assert!(lit(&y, bytes("2156")).is_err());
        assert!(lit(&y, bytes("x")).is_err());
    }

    #[test]
    fn bits() {
        assert_eq!(ok(&col("bit", "bit(1)"), Value::Bytes(vec![1])), "1");
        assert_eq!(ok(&col("bit", "bit(9)"), Value::Bytes(vec![1, 0])), "256");
        assert_eq!(ok(&col("bit", "bit(64)"), Value::Bytes(vec![0xFF; 8])), "18446744073709551615");
        assert!(lit(&col("bit", "bit(64)"), Value::Bytes(vec![1; 9])).is_err());
    }

    #[test]
    fn strings() {
        assert_eq!(ok(&text_col("varchar", "latin1"), Value::Bytes(vec![0xE9])), "_latin1 X'E9'");
        assert_eq!(ok(&text_col("text", "utf8mb4"), bytes("😀")), "_utf8mb4 X'F09F9880'");
        assert_eq!(ok(&text_col("char", "utf8mb4"), bytes("")), "_utf8mb4 X''");
        assert_eq!(ok(&col("varbinary", "varbinary(4)"), Value::Bytes(vec![0, 0xFF])), "_binary X'00FF'");
        assert_eq!(ok(&col("longblob", "longblob"), Value::Bytes(vec![])), "_binary X''");
        let bin = Column { octet_length: Some(4), ..col("binary", "binary(4)") };
        assert_eq!(ok(&bin, Value::Bytes(vec![1])), "_binary X'01000000'");
        assert_eq!(ok(&bin, Value::Bytes(vec![1, 2, 3, 4])), "_binary X'01020304'");
        assert_eq!(ok(&col("point", "point"), Value::Bytes(vec![0xE6, 0x10, 0, 0, 1])), "_binary X'E610000001'");
        assert_eq!(ok(&col("vector", "vector(1)"), Value::Bytes(vec![0, 0, 0x80, 0x3F])), "_binary X'0000803F'");
        assert!(lit(&text_col("varchar", "latin1' OR 1"), bytes("x")).is_err());
        assert!(lit(&col("json", "json"), bytes("{}")).is_err());
    }
}
