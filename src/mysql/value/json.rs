//! Binary JSON documents (JSONB) back to SQL: JSON_ARRAY/JSON_OBJECT expressions the server stores as the same
//! document, with the same JSON type for every scalar (int vs unsigned vs double vs decimal, dates and times) and,
//! for decimals, the same stored precision. Values no SQL expression can rebuild exactly are errors, and nesting is
//! bounded so that corrupt data cannot blow the stack.

use std::fmt::Write as _;

use mysql_common::binlog::decimal::Decimal;
use mysql_common::binlog::jsonb;
use mysql_common::binlog::time::MysqlTime;
use mysql_common::constants::ColumnType;

use super::scalar::{is_decimal, push_double};
use super::temporal::check_date;
use super::{push_bytes_literal, push_display, Reason};

/// MySQL refuses JSON documents nested deeper than 100; anything deeper is corrupt data, not a stack to blow.
const MAX_JSON_DEPTH: usize = 128;

/// A whole JSON column value. Containers and `CAST(.. AS JSON)` are JSON already; other scalars are SQL values
/// that must be turned into the JSON scalar (a bare `'x'` would be parsed as JSON text).
pub(super) fn push_json_document(out: &mut String, v: &jsonb::Value<'_>) -> Result<(), Reason> {
    let is_json = v.is_array() || v.is_object() || matches!(v, jsonb::Value::Null | jsonb::Value::Bool(_));
    if is_json {
        return push_json(out, v, 0);
    }
    out.push_str("JSON_EXTRACT(JSON_ARRAY(");
    push_json(out, v, 0)?;
    out.push_str("), '$[0]')");
    Ok(())
}

/// One JSON value as an argument of JSON_ARRAY/JSON_OBJECT, built so that the server stores the same JSON type:
/// int vs unsigned vs double vs decimal, and date/time scalars.
fn push_json(out: &mut String, v: &jsonb::Value<'_>, depth: usize) -> Result<(), Reason> {
    use jsonb::Value as J;
    if depth > MAX_JSON_DEPTH {
        return Err("JSON nested too deeply".into());
    }
    match v {
        // A bare TRUE would be the integer 1, and a bare NULL an SQL NULL.
        J::Null => out.push_str("CAST('null' AS JSON)"),
        J::Bool(true) => out.push_str("CAST('true' AS JSON)"),
        J::Bool(false) => out.push_str("CAST('false' AS JSON)"),
        J::I16(x) => push_display(out, x),
        J::I32(x) => push_display(out, x),
        J::I64(x) => push_display(out, x),
        J::U16(x) => push_unsigned(out, u64::from(*x)),
        J::U32(x) => push_unsigned(out, u64::from(*x)),
        J::U64(x) => push_unsigned(out, *x),
        J::F64(x) => push_double(out, *x)?,
        J::String(s) => push_bytes_literal(out, Some("utf8mb4"), s.str_raw()),
        J::SmallArray(a) => push_json_array(out, a.iter(), depth)?,
        J::LargeArray(a) => push_json_array(out, a.iter(), depth)?,
        J::SmallObject(o) => push_json_object(out, o.iter(), depth)?,
        J::LargeObject(o) => push_json_object(out, o.iter(), depth)?,
        J::Opaque(o) => push_json_opaque(out, o)?,
    }
    Ok(())
}

/// A plain literal would be stored as a JSON (signed) INTEGER.
fn push_unsigned(out: &mut String, x: u64) {
    let _ = write!(out, "CAST({x} AS UNSIGNED)");
}

fn push_json_array<'a>(
    out: &mut String,
    items: impl Iterator<Item = std::io::Result<jsonb::Value<'a>>>,
    depth: usize,
) -> Result<(), Reason> {
    out.push_str("JSON_ARRAY(");
    for (n, item) in items.enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        push_json(out, &item.map_err(|e| format!("malformed JSON: {e}"))?, depth + 1)?;
    }
    out.push(')');
    Ok(())
}

fn push_json_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = std::io::Result<(jsonb::ObjectKey<'a>, jsonb::Value<'a>)>>,
    depth: usize,
) -> Result<(), Reason> {
    out.push_str("JSON_OBJECT(");
    for (n, entry) in entries.enumerate() {
        let (key, value) = entry.map_err(|e| format!("malformed JSON: {e}"))?;
        if n > 0 {
            out.push_str(", ");
        }
        push_bytes_literal(out, Some("utf8mb4"), key.value_raw());
        out.push_str(", ");
        push_json(out, &value, depth + 1)?;
    }
    out.push(')');
    Ok(())
}

/// A JSON decimal stores the precision of the SQL value it came from, and that depends on where the value came
/// from: a literal keeps its written integer digits (`1.5` is (2,1)), arithmetic rounds the integer part up to
/// 9-digit words (`1.5 + 0` is (10,1)), and a DECIMAL(p,s) column keeps p - s unless its leading digit group is
/// zero. Pick the expression that gives the same precision; all of them give the same digits, type and JSON text.
fn push_json_decimal(out: &mut String, text: &str, p: usize, s: usize) {
    let int_part = text.trim_start_matches('-').split('.').next().unwrap_or_default();
    let significant = if int_part == "0" { 0 } else { int_part.len() };
    // `7.` rather than `7`, which would be an integer.
    let literal = if s == 0 { format!("{text}.") } else { text.to_string() };
    let intg = p - s;
    if intg == int_part.len() {
        out.push_str(&literal);
    } else if intg == 0 && significant == 0 {
        // `.5` has no integer digit at all, `0.5` has one.
        out.push_str(&text.replacen("0.", ".", 1));
    } else if intg == 9 * significant.div_ceil(9).max(1) {
        // Adding a zero of the same sign (subtracting, for a negative) keeps the words; literals go up to 81 digits.
        let op = if text.starts_with('-') { '-' } else { '+' };
        let _ = write!(out, "({literal} {op} 0)");
    } else if p <= 65 && s <= 30 {
        // Read back from a DECIMAL(p,s) field, as a column value is.
        let _ = write!(
            out,
            "(SELECT d FROM JSON_TABLE('[\"{text}\"]', '$[0]' COLUMNS (d DECIMAL({p},{s}) PATH '$' ERROR ON ERROR)) AS t)"
        );
    } else {
        // No known source of such a precision: same value, only the stored precision may differ.
        out.push_str(&literal);
    }
}

/// Typed scalars JSON keeps from SQL values. Dates and times are printed with all six fractional digits, as the
/// JSON value holds no precision of its own. Each expression below was checked on a 9.7 server to give the same
/// JSON text (`base64:type<N>:...` for binary values), JSON_TYPE and equality as the original.
fn push_json_opaque(out: &mut String, o: &jsonb::OpaqueValue<'_>) -> Result<(), Reason> {
    let data = o.data_raw();
    let packed = || data.first_chunk::<8>().map(|b| i64::from_le_bytes(*b)).ok_or("truncated JSON date/time");
    match o.value_type() {
        ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            let (&p, &s) = data.first().zip(data.get(1)).ok_or("truncated JSON decimal")?;
            // Up to 81 digits: decimal arithmetic goes beyond the 65 of a DECIMAL column. (Checked first, as
            // mysql_common panics on a scale above the precision.)
            if !(1..=81).contains(&p) || s > p {
                return Err(format!("unexpected JSON decimal precision ({p},{s})"));
            }
            let text =
                Decimal::read_packed(data, false).map_err(|e| format!("malformed JSON decimal: {e}"))?.to_string();
            if !is_decimal(&text) {
                return Err(format!("malformed JSON decimal {text:?}"));
            }
            push_json_decimal(out, &text, p.into(), s.into());
        }
        ColumnType::MYSQL_TYPE_DATE => {
            let t = MysqlTime::from_int64_date_packed(packed()?);
            let _ = write!(out, "CAST('{:04}-{:02}-{:02}' AS DATE)", t.year, t.month, t.day);
        }
        ColumnType::MYSQL_TYPE_DATETIME => {
            let t = MysqlTime::from_int64_datetime_packed(packed()?);
            let _ = write!(out, "CAST('{}' AS DATETIME(6))", datetime_text(&t)?);
        }
        ColumnType::MYSQL_TYPE_TIMESTAMP => {
            push_json_timestamp(out, &MysqlTime::from_int64_datetime_packed(packed()?))?
        }
        ColumnType::MYSQL_TYPE_TIME => {
            let t = MysqlTime::from_int64_time_packed(packed()?);
            let sign = if t.neg { "-" } else { "" };
            let _ = write!(
                out,
                "CAST('{sign}{:02}:{:02}:{:02}.{:06}' AS TIME(6))",
                t.hour, t.minute, t.second, t.second_part
            );
        }
        // Binary strings keep the type of the SQL value they came from. A literal or a VARBINARY column gives
        // VARCHAR; a column of the right type gives the others, read from a JSON_TABLE column, which stores the
        // opaque value's bytes as they are (ERROR ON ERROR: never a silent NULL).
        ColumnType::MYSQL_TYPE_VARCHAR => push_bytes_literal(out, None, data),
        // Every BLOB column of a JSON_TABLE, whatever its size, makes type BLOB; LONGBLOB holds any length.
        ColumnType::MYSQL_TYPE_BLOB => push_json_table_value(out, data, "LONGBLOB"),
        // A BINARY(N) column (or a binary-charset ENUM/SET): its N bytes, padding included.
        ColumnType::MYSQL_TYPE_STRING => {
            if data.len() > 255 {
                return Err(format!(
                    "JSON holds a BINARY value of {} bytes, longer than any BINARY column",
                    data.len()
                ));
            }
            push_json_table_value(out, data, &format!("BINARY({})", data.len()));
        }
        // Expressions typed by their maximum length: a NULL of that length's type merged in by COALESCE.
        ColumnType::MYSQL_TYPE_MEDIUM_BLOB => push_typed_by_length(out, data, 65_536),
        ColumnType::MYSQL_TYPE_LONG_BLOB => push_typed_by_length(out, data, 16_777_216),
        // A BIT(M) column: ceil(M/8) big-endian bytes, which BIT(8 * bytes) stores alike.
        ColumnType::MYSQL_TYPE_BIT => {
            if !(1..=8).contains(&data.len()) {
                return Err(format!("JSON holds a BIT value of {} bytes", data.len()));
            }
            let n = data.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b));
            let _ = write!(
                out,
                "(SELECT v FROM JSON_TABLE('[{n}]', '$[0]' COLUMNS (v BIT({}) PATH '$' ERROR ON ERROR)) AS t)",
                8 * data.len()
            );
        }
        // Only a TINYBLOB column makes this type: no expression or JSON_TABLE column does.
        t => return Err(format!("JSON holds an opaque value of type {t:?}, which cannot be rebuilt exactly")),
    }
    Ok(())
}

/// `YYYY-MM-DD hh:mm:ss.ffffff`, refusing what no DATETIME holds (zero parts are legal values).
fn datetime_text(t: &MysqlTime) -> Result<String, Reason> {
    let y = u16::try_from(t.year).map_err(|_| format!("invalid JSON date/time year {}", t.year))?;
    let (m, d) = (u8::try_from(t.month).unwrap_or(u8::MAX), u8::try_from(t.day).unwrap_or(u8::MAX));
    check_date(y, m, d)?;
    if t.hour > 23 || t.minute > 59 || t.second > 59 || t.second_part > 999_999 {
        return Err(format!("invalid JSON time of day {}:{}:{}.{}", t.hour, t.minute, t.second, t.second_part));
    }
    Ok(format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:06}", t.hour, t.minute, t.second, t.second_part))
}

/// A JSON TIMESTAMP holds the local time of the session that made it (`JSON_OBJECT('t', ts_column)`), and only
/// a TIMESTAMP field yields that type: it is read back from a JSON_TABLE TIMESTAMP(6) column in the applier's
/// session, which is UTC, so the local time must be one a TIMESTAMP has in UTC. The zero timestamp is one where
/// the sql_mode allows zero dates (--allow-zero-in-date); elsewhere the server refuses it, and the column's
/// name says why. A local time outside the UTC range (within a day of its ends, made in another time zone)
/// cannot be rebuilt in a UTC session, and is refused.
fn push_json_timestamp(out: &mut String, t: &MysqlTime) -> Result<(), Reason> {
    let text = datetime_text(t)?;
    let zero = text == "0000-00-00 00:00:00.000000";
    // Fixed-width text compares in time order.
    if !zero && !("1970-01-01 00:00:01.000000"..="2038-01-19 03:14:07.999999").contains(&text.as_str()) {
        return Err(format!(
            "JSON holds the TIMESTAMP '{text}', a local time outside the range a TIMESTAMP has in UTC (the \
             applier's time zone), which cannot be rebuilt exactly; change the value in the original table"
        ));
    }
    let column = if zero { "zero_timestamp_needs_allow_zero_in_date" } else { "v" };
    let _ = write!(
        out,
        "(SELECT {column} FROM JSON_TABLE('[\"{text}\"]', '$[0]' COLUMNS ({column} TIMESTAMP(6) PATH '$' ERROR ON ERROR)) AS t)"
    );
    Ok(())
}

/// `data` read back from a JSON_TABLE column of SQL type `column_type`, which gives the opaque type of that type.
fn push_json_table_value(out: &mut String, data: &[u8], column_type: &str) {
    out.push_str("(SELECT v FROM JSON_TABLE(JSON_ARRAY(");
    push_bytes_literal(out, None, data);
    let _ = write!(out, "), '$[0]' COLUMNS (v {column_type} PATH '$' ERROR ON ERROR)) AS t)");
}

/// `data` typed as a binary string expression of maximum length `max_len` (MEDIUM_BLOB from 65536 bytes,
/// LONG_BLOB from 16 MiB): COALESCE takes the longer type and the first (not NULL) value, unpadded.
fn push_typed_by_length(out: &mut String, data: &[u8], max_len: u32) {
    out.push_str("COALESCE(");
    push_bytes_literal(out, None, data);
    let _ = write!(out, ", CAST(NULL AS BINARY({max_len})))");
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{col, lit_bv, J};
    use super::*;

    fn json(j: J) -> String {
        lit_bv(&col("json", "json"), &j.parse()).unwrap()
    }

    fn packed_datetime(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> Vec<u8> {
        let ymd = ((y * 13 + mo) << 5) | d;
        let hms = (h << 12) | (mi << 6) | s;
        ((((ymd << 17) | hms) << 24) + us).to_le_bytes().to_vec()
    }

    fn packed_time(neg: bool, h: i64, mi: i64, s: i64, us: i64) -> Vec<u8> {
        let p = (((h << 12) | (mi << 6) | s) << 24) + us;
        (if neg { -p } else { p }).to_le_bytes().to_vec()
    }

    #[test]
    fn json_containers_and_scalars() {
        let doc = J::Obj(vec![
            ("a", J::I16(-1)),
            ("b", J::Arr(vec![J::True, J::False, J::Null, J::F64(2.5), J::Str("é"), J::U64(u64::MAX)])),
            ("c", J::Obj(vec![])),
            ("d", J::Arr(vec![J::I32(-70_000), J::U32(70_000), J::I64(i64::MIN), J::U16(5), J::F64(1.0)])),
        ]);
        assert_eq!(
            json(doc),
            "JSON_OBJECT(_utf8mb4 X'61', -1, _utf8mb4 X'62', JSON_ARRAY(CAST('true' AS JSON), CAST('false' AS JSON), \
             CAST('null' AS JSON), 2.5e0, _utf8mb4 X'C3A9', CAST(18446744073709551615 AS UNSIGNED)), \
             _utf8mb4 X'63', JSON_OBJECT(), _utf8mb4 X'64', JSON_ARRAY(-70000, CAST(70000 AS UNSIGNED), \
             -9223372036854775808, CAST(5 AS UNSIGNED), 1e0))"
        );
        assert_eq!(json(J::Arr(vec![])), "JSON_ARRAY()");
    }

    #[test]
    fn json_top_level_scalars_become_json() {
        assert_eq!(json(J::Null), "CAST('null' AS JSON)");
        assert_eq!(json(J::True), "CAST('true' AS JSON)");
        assert_eq!(json(J::I16(1)), "JSON_EXTRACT(JSON_ARRAY(1), '$[0]')");
        assert_eq!(json(J::F64(-0.0)), "JSON_EXTRACT(JSON_ARRAY(-0e0), '$[0]')");
        assert_eq!(json(J::Str("x")), "JSON_EXTRACT(JSON_ARRAY(_utf8mb4 X'78'), '$[0]')");
        let date = J::Opaque(ColumnType::MYSQL_TYPE_DATE, packed_datetime(2021, 12, 31, 0, 0, 0, 0));
        assert_eq!(json(date), "JSON_EXTRACT(JSON_ARRAY(CAST('2021-12-31' AS DATE)), '$[0]')");
    }

    #[test]
    fn json_opaque_temporals() {
        let dt = J::Opaque(ColumnType::MYSQL_TYPE_DATETIME, packed_datetime(2020, 1, 2, 3, 4, 5, 123_456));
        let zero = J::Opaque(ColumnType::MYSQL_TYPE_DATETIME, packed_datetime(0, 0, 0, 0, 0, 0, 0));
        let t = J::Opaque(ColumnType::MYSQL_TYPE_TIME, packed_time(true, 838, 59, 59, 0));
        let t2 = J::Opaque(ColumnType::MYSQL_TYPE_TIME, packed_time(false, 12, 34, 56, 500_000));
        assert_eq!(
            json(J::Arr(vec![dt, zero, t, t2])),
            "JSON_ARRAY(CAST('2020-01-02 03:04:05.123456' AS DATETIME(6)), CAST('0000-00-00 00:00:00.000000' AS DATETIME(6)), \
             CAST('-838:59:59.000000' AS TIME(6)), CAST('12:34:56.500000' AS TIME(6)))"
        );
    }

    #[test]
    fn json_opaque_decimals_keep_their_precision() {
        let dec = |b: &[u8]| J::Arr(vec![J::Opaque(ColumnType::MYSQL_TYPE_NEWDECIMAL, b.to_vec())]);
        // Header bytes as a 9.7 server wrote them for the SQL expression in the comment.
        let cases: &[(&[u8], &str)] = &[
            (&[2, 1, 0x81, 0x05], "1.5"),                                      // 1.5
            (&[2, 1, 0x7F, 0xFA], "-0.5"),                                     // -0.5
            (&[1, 0, 0x87], "7."),                                             // 7.
            (&[1, 1, 0x85], ".5"),                                             // .5
            (&[1, 1, 0x7A], "-.5"),                                            // -.5
            (&[10, 1, 0x80, 0, 0, 1, 5], "(1.5 + 0)"),                         // 1.5 + 0
            (&[10, 1, 0x7F, 0xFF, 0xFF, 0xFF, 0xFA], "(-0.5 - 0)"),            // -0.5 - 0
            (&[9, 0, 0x80, 0, 0, 7], "(7. + 0)"),                              // CAST(7 AS DECIMAL)
            (&[11, 2, 0x80, 0, 0, 0, 0], "(0.00 + 0)"),                        // CAST(0 AS DECIMAL(5,2))
            (
                &[10, 2, 0x80, 0, 0, 1, 0x32],                                 // a DECIMAL(10,2) column
                "(SELECT d FROM JSON_TABLE('[\"1.50\"]', '$[0]' COLUMNS (d DECIMAL(10,2) PATH '$' ERROR ON ERROR)) AS t)",
            ),
        ];
        for (b, want) in cases {
            assert_eq!(json(dec(b)), format!("JSON_ARRAY({want})"), "{b:?}");
        }
        assert!(lit_bv(&col("json", "json"), &dec(&[1]).parse()).is_err());
        assert!(lit_bv(&col("json", "json"), &dec(&[2, 3, 0x81, 0x05]).parse()).is_err());
    }

    fn opaque(t: ColumnType, data: &[u8]) -> Result<String, String> {
        lit_bv(&col("json", "json"), &J::Arr(vec![J::Opaque(t, data.to_vec())]).parse())
    }

    #[test]
    fn json_opaque_binary_strings_keep_their_type() {
        let bin = |t, data: &[u8]| opaque(t, data).unwrap();
        let jt = |data: &str, ty: &str| {
            format!(
                "JSON_ARRAY((SELECT v FROM JSON_TABLE(JSON_ARRAY(_binary X'{data}'), '$[0]' COLUMNS (v {ty} PATH '$' \
                 ERROR ON ERROR)) AS t))"
            )
        };
        assert_eq!(bin(ColumnType::MYSQL_TYPE_VARCHAR, &[0, 0xFF]), "JSON_ARRAY(_binary X'00FF')");
        assert_eq!(bin(ColumnType::MYSQL_TYPE_BLOB, &[0, 0xFF]), jt("00FF", "LONGBLOB"));
        assert_eq!(bin(ColumnType::MYSQL_TYPE_BLOB, &[]), jt("", "LONGBLOB"));
        assert_eq!(bin(ColumnType::MYSQL_TYPE_STRING, &[0xAB, 0, 0, 0]), jt("AB000000", "BINARY(4)"));
        assert_eq!(bin(ColumnType::MYSQL_TYPE_STRING, &[]), jt("", "BINARY(0)"));
        assert!(opaque(ColumnType::MYSQL_TYPE_STRING, &[0; 256]).unwrap_err().contains("256 bytes"));
        assert_eq!(
            bin(ColumnType::MYSQL_TYPE_MEDIUM_BLOB, &[1]),
            "JSON_ARRAY(COALESCE(_binary X'01', CAST(NULL AS BINARY(65536))))"
        );
        assert_eq!(
            bin(ColumnType::MYSQL_TYPE_LONG_BLOB, &[]),
            "JSON_ARRAY(COALESCE(_binary X'', CAST(NULL AS BINARY(16777216))))"
        );
    }

    #[test]
    fn json_opaque_bits() {
        let bit = |data: &[u8]| opaque(ColumnType::MYSQL_TYPE_BIT, data);
        let jt = |n: &str, m: u32| {
            format!("JSON_ARRAY((SELECT v FROM JSON_TABLE('[{n}]', '$[0]' COLUMNS (v BIT({m}) PATH '$' ERROR ON ERROR)) AS t))")
        };
        assert_eq!(bit(&[1]).unwrap(), jt("1", 8));
        assert_eq!(bit(&[1, 1]).unwrap(), jt("257", 16));
        assert_eq!(bit(&[0xFF; 8]).unwrap(), jt("18446744073709551615", 64));
        assert!(bit(&[]).is_err());
        assert!(bit(&[1; 9]).is_err());
    }

    #[test]
    fn json_opaque_timestamps() {
        let ts = |data: Vec<u8>| opaque(ColumnType::MYSQL_TYPE_TIMESTAMP, &data);
        let jt = |text: &str, col: &str| {
            format!(
                "JSON_ARRAY((SELECT {col} FROM JSON_TABLE('[\"{text}\"]', '$[0]' COLUMNS ({col} TIMESTAMP(6) PATH '$' \
                 ERROR ON ERROR)) AS t))"
            )
        };
        assert_eq!(ts(packed_datetime(2020, 1, 2, 3, 4, 5, 123_456)).unwrap(), jt("2020-01-02 03:04:05.123456", "v"));
        // The ends of the range a TIMESTAMP has in UTC.
        assert_eq!(ts(packed_datetime(1970, 1, 1, 0, 0, 1, 0)).unwrap(), jt("1970-01-01 00:00:01.000000", "v"));
        assert_eq!(ts(packed_datetime(2038, 1, 19, 3, 14, 7, 999_999)).unwrap(), jt("2038-01-19 03:14:07.999999", "v"));
        assert_eq!(
            ts(packed_datetime(0, 0, 0, 0, 0, 0, 0)).unwrap(),
            jt("0000-00-00 00:00:00.000000", "zero_timestamp_needs_allow_zero_in_date")
        );
        // Local times made in another time zone that UTC has no TIMESTAMP for.
        for (y, mo, d, h, mi, s, us) in
            [(2038, 1, 19, 8, 44, 7, 999_999), (2038, 1, 19, 3, 14, 8, 0), (1970, 1, 1, 0, 0, 0, 999_999)]
        {
            let e = ts(packed_datetime(y, mo, d, h, mi, s, us)).unwrap_err();
            assert!(e.contains("outside the range a TIMESTAMP has in UTC"), "{e}");
        }
        assert!(ts(packed_datetime(2020, 1, 1, 0, 60, 0, 0)).is_err());
        assert!(ts(vec![1, 2]).is_err());
    }

    #[test]
    fn json_opaques_that_cannot_be_rebuilt() {
        // Only a TINYBLOB column makes TINY_BLOB; nothing makes the others inside JSON.
        for t in [ColumnType::MYSQL_TYPE_TINY_BLOB, ColumnType::MYSQL_TYPE_GEOMETRY, ColumnType::MYSQL_TYPE_VECTOR] {
            let e = opaque(t, &[1, 2, 3]).unwrap_err();
            assert!(e.contains("cannot be rebuilt exactly"), "{t:?}: {e}");
        }
        let short = J::Arr(vec![J::Opaque(ColumnType::MYSQL_TYPE_DATE, vec![1, 2])]);
        assert!(lit_bv(&col("json", "json"), &short.parse()).is_err());
    }

    #[test]
    fn json_depth_is_bounded() {
        let mut doc = J::I16(1);
        for _ in 0..(MAX_JSON_DEPTH + 2) {
            doc = J::Arr(vec![doc]);
        }
        assert!(lit_bv(&col("json", "json"), &doc.parse()).unwrap_err().contains("deeply"));
    }
}
