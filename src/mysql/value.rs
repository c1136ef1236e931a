//! Binlog row values back to SQL: each value decoded from a ROW event becomes a literal (or a small expression)
//! that stores exactly the same value when inserted into the ghost table.
//!
//! The applier session runs with `time_zone='+00:00'` and `SET NAMES utf8mb4`, so temporal literals are UTC and
//! every string is written as a charset-introduced hex literal (`_latin1 X'E9'`): the bytes never pass through
//! the client character set, and no escaping is needed.

use std::fmt::Write as _;
use std::sync::OnceLock;

use mysql_common::binlog::decimal::Decimal;
use mysql_common::binlog::jsonb;
use mysql_common::binlog::time::MysqlTime;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value;

use crate::error::Error;
use crate::mysql::schema::Column;

/// Inner conversions fail with a reason; `push_literal` adds the column to it.
type Reason = String;

/// MySQL refuses JSON documents nested deeper than 100; anything deeper is corrupt data, not a stack to blow.
const MAX_JSON_DEPTH: usize = 128;

/// Appends the SQL literal for `v` (a value of source column `col`) to `out`.
///
/// On error `out` is left as it was.
pub fn push_literal(out: &mut String, col: &Column, v: &BinlogValue<'_>) -> crate::Result<()> {
    let start = out.len();
    let res = match v {
        BinlogValue::Value(v) => push_value(out, col, v),
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
pub fn push_bytes_literal(out: &mut String, charset: Option<&str>, bytes: &[u8]) {
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

/// Byte key of a value for de-duplication of row changes by key (same value => same bytes). Used for key columns.
///
/// The key is exact bytes, not collation-aware: `'a'` and `'A'` differ even where a `_ci` collation makes
/// them the same row. Each part is tagged and length-prefixed, so keys of several columns can be concatenated.
pub fn key_bytes(out: &mut Vec<u8>, v: &BinlogValue<'_>) {
    let mut tagged = |tag: u8, bytes: &[u8]| {
        out.push(tag);
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match v {
        BinlogValue::Value(v) => match v {
            Value::NULL => tagged(0, &[]),
            Value::Bytes(b) => tagged(1, b),
            // One column may decode as Int or UInt depending on the value; both mean the same number.
            Value::Int(i) => tagged(2, &i128::from(*i).to_le_bytes()),
            Value::UInt(u) => tagged(2, &i128::from(*u).to_le_bytes()),
            Value::Float(f) => tagged(3, &key_double(f64::from(*f))),
            Value::Double(d) => tagged(3, &key_double(*d)),
            Value::Date(y, m, d, h, i, s, us) => {
                let mut b = y.to_le_bytes().to_vec();
                b.extend_from_slice(&[*m, *d, *h, *i, *s]);
                b.extend_from_slice(&us.to_le_bytes());
                tagged(4, &b)
            }
            Value::Time(neg, days, h, i, s, us) => {
                let hours = u64::from(*days) * 24 + u64::from(*h);
                let mut b = vec![u8::from(*neg)];
                b.extend_from_slice(&hours.to_le_bytes());
                b.extend_from_slice(&[*i, *s]);
                b.extend_from_slice(&us.to_le_bytes());
                tagged(5, &b)
            }
        },
        BinlogValue::Jsonb(j) => {
            let mut s = String::new();
            if push_json_document(&mut s, j).is_err() {
                s = format!("{j:?}");
            }
            tagged(6, s.as_bytes())
        }
        BinlogValue::JsonDiff(d) => tagged(7, format!("{d:?}").as_bytes()),
    }
}

/// 0.0 and -0.0 are the same key value in MySQL.
fn key_double(d: f64) -> [u8; 8] {
    let d = if d == 0.0 { 0.0 } else { d };
    d.to_bits().to_le_bytes()
}

fn push_value(out: &mut String, col: &Column, v: &Value) -> Result<(), Reason> {
    let ty = col.data_type.as_str();
    match v {
        Value::NULL => out.push_str("NULL"),
        Value::Int(n) => push_integer_value(out, col, i128::from(*n))?,
        Value::UInt(n) => push_integer_value(out, col, i128::from(*n))?,
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

fn push_integer_value(out: &mut String, col: &Column, n: i128) -> Result<(), Reason> {
    match col.data_type.as_str() {
        "enum" => push_enum(out, &col.column_type, n),
        // The pre-5.6 TIMESTAMP format arrives as plain epoch seconds.
        "timestamp" => push_timestamp(out, i64::try_from(n).map_err(|_| format!("invalid timestamp {n}"))?, 0),
        _ => push_integer(out, col, n),
    }
}

fn bad(v: &Value) -> Reason {
    format!("invalid binlog value {v:?}")
}

/// Integers arrive as Int or UInt, and a signed decoding of an unsigned column (no signedness in the table map)
/// is negative: reduce to the column's width and read it with the column's signedness.
fn push_integer(out: &mut String, col: &Column, n: i128) -> Result<(), Reason> {
    push_display(out, integer_in_column(col, n)?);
    Ok(())
}

/// The value of an integer key column in a row image, as the server orders it (None for NULL or a
/// non-integer value). The copier's chunk bounds are compared against this.
pub fn integer_key(col: &Column, v: &BinlogValue<'_>) -> Option<i128> {
    match v {
        BinlogValue::Value(Value::Int(n)) => integer_in_column(col, i128::from(*n)).ok(),
        BinlogValue::Value(Value::UInt(n)) => integer_in_column(col, i128::from(*n)).ok(),
        _ => None,
    }
}

/// The width of an integer column type, None for other types. The one list of integer types: the copier
/// plans its parallel path with it, and `integer_key` must read every key that path accepts.
pub fn integer_bits(data_type: &str) -> Option<u32> {
    match data_type {
        "tinyint" => Some(8),
        "smallint" => Some(16),
        "mediumint" => Some(24),
        "int" => Some(32),
        "bigint" => Some(64),
        _ => None,
    }
}

fn integer_in_column(col: &Column, n: i128) -> Result<i128, Reason> {
    let Some(bits) = integer_bits(&col.data_type) else {
        return Err(format!("unexpected integer {n} for this column type"));
    };
    let span = 1i128 << bits;
    if n < -(span / 2) || n >= span {
        return Err(format!("integer {n} does not fit in {bits} bits"));
    }
    let u = n.rem_euclid(span);
    Ok(if !col.unsigned() && u >= span / 2 { u - span } else { u })
}

/// Always with an exponent: MySQL reads `1.5e0` as a DOUBLE, while `1.5` would be a DECIMAL.
/// Rust prints the shortest digits that parse back to the same f64, and MySQL's strtod rounds correctly.
fn push_double(out: &mut String, d: f64) -> Result<(), Reason> {
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
fn is_decimal(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac)
}

/// `index` is 1-based; 0 is the empty "error" value MySQL stores for invalid input in non-strict mode.
fn push_enum(out: &mut String, column_type: &str, index: i128) -> Result<(), Reason> {
    if index == 0 {
        out.push_str("''");
        return Ok(());
    }
    let members = parse_members(column_type)?;
    let m = usize::try_from(index - 1)
        .ok()
        .and_then(|i| members.get(i))
        .ok_or_else(|| format!("ENUM index {index} has no member"))?;
    // By name, not index, so an ALTER that reorders or inserts members keeps the value.
    push_bytes_literal(out, Some("utf8mb4"), m.as_bytes());
    Ok(())
}

/// Members of `enum('a','b''c')` / `set(...)` as information_schema writes them: quoted, `''` for a quote, and
/// backslash escapes for `\`, NUL, LF and CR only (a tab or ^Z is written as is).
fn parse_members(column_type: &str) -> Result<Vec<String>, Reason> {
    let malformed = || format!("cannot parse members of {column_type:?}");
    let start = column_type.find('(').ok_or_else(malformed)?;
    let mut chars = column_type[start + 1..].chars().peekable();
    let mut members = Vec::new();
    loop {
        if chars.next() != Some('\'') {
            return Err(malformed());
        }
        let mut m = String::new();
        loop {
            match chars.next().ok_or_else(malformed)? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    m.push('\'');
                }
                '\'' => break,
                '\\' => m.push(match chars.next().ok_or_else(malformed)? {
                    '0' => '\0',
                    'n' => '\n',
                    'r' => '\r',
                    c => c,
                }),
                c => m.push(c),
            }
        }
        members.push(m);
        match chars.next() {
            Some(',') => {}
            Some(')') => return Ok(members),
            _ => return Err(malformed()),
        }
    }
}

/// mysql_common 0.37.3 decodes a negative TIME(1)/TIME(2) with a fraction wrongly (a u32 underflow in
/// `my_time_packed_from_binary`: garbage in release builds, a panic in debug ones). Probe the linked version once
/// with '-00:00:01.5' so that a fixed version is left alone.
fn time2_decoder_is_buggy() -> bool {
    static BUGGY: OnceLock<bool> = OnceLock::new();
    *BUGGY.get_or_init(|| {
        let probe = std::panic::catch_unwind(|| {
            let ctx = (ColumnType::MYSQL_TYPE_TIME2, &[1u8][..], false, false);
            ParseBuf(&[0x7F, 0xFF, 0xFE, 0xCE]).parse::<BinlogValue<'_>>(ctx).ok()
        });
        match probe {
            Err(_) => true,
            Ok(Some(BinlogValue::Value(v))) => v == Value::Time(false, 26, 0, 63, 62, 16_277_216),
            Ok(_) => false,
        }
    })
}

/// Undoes that damage on (negative, hours, minutes, seconds, microseconds). The decoder adds 2^32 * 10^4
/// microseconds, which is 625 hours in the packed HMS bits minus the fraction: a value at or below -625h comes out
/// still negative but 625 hours short, one above -625h comes out positive with 10^6 or more microseconds.
fn undo_time2_bug(t: (bool, u64, u8, u8, u32)) -> Option<(bool, u64, u8, u8, u32)> {
    const SHIFT: u64 = 625 << 12;
    let (neg, hours, i, s, us) = t;
    let hms = (hours << 12) | (u64::from(i) << 6) | u64::from(s);
    let real = if !neg && us >= 1_000_000 {
        (SHIFT.checked_sub(hms + 1)?, (1u32 << 24).checked_sub(us)?)
    } else if neg && us != 0 {
        (hms + SHIFT, us)
    } else {
        return Some(t);
    };
    let (hms, us) = real;
    Some((true, hms >> 12, ((hms >> 6) & 63) as u8, (hms & 63) as u8, us))
}

/// TIMESTAMP as UTC (the applier's time zone); epoch 0 is MySQL's zero timestamp.
fn push_timestamp(out: &mut String, sec: i64, usec: u32) -> Result<(), Reason> {
    if sec == 0 {
        out.push_str("'0000-00-00 00:00:00'");
        return Ok(());
    }
    if sec < 0 || usec > 999_999 {
        return Err(format!("invalid timestamp {sec}.{usec:06}"));
    }
    let (y, m, d) = civil_from_days(sec.div_euclid(86_400));
    let t = sec.rem_euclid(86_400);
    let y = u16::try_from(y).map_err(|_| format!("timestamp {sec} out of range"))?;
    // Both fit u8: m <= 12, d <= 31, and the time of day is below 86400.
    push_datetime(out, y, m as u8, d as u8, (t / 3600) as u8, (t / 60 % 60) as u8, (t % 60) as u8, usec)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Zero parts ('0000-00-00', '2020-00-15') are legal MySQL values and are kept as they are.
fn check_date(y: u16, m: u8, d: u8) -> Result<(), Reason> {
    if y > 9999 || m > 12 || d > 31 {
        return Err(format!("invalid date {y}-{m}-{d}"));
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn push_datetime(out: &mut String, y: u16, m: u8, d: u8, h: u8, i: u8, s: u8, us: u32) -> Result<(), Reason> {
    check_date(y, m, d)?;
    if h > 23 || i > 59 || s > 59 || us > 999_999 {
        return Err(format!("invalid time of day {h}:{i}:{s}.{us}"));
    }
    let _ = write!(out, "'{y:04}-{m:02}-{d:02} {h:02}:{i:02}:{s:02}");
    push_micros(out, us);
    out.push('\'');
    Ok(())
}

fn push_micros(out: &mut String, us: u32) {
    if us != 0 {
        let _ = write!(out, ".{us:06}");
    }
}

/// A whole JSON column value. Containers and `CAST(.. AS JSON)` are JSON already; other scalars are SQL values
/// that must be turned into the JSON scalar (a bare `'x'` would be parsed as JSON text).
fn push_json_document(out: &mut String, v: &jsonb::Value<'_>) -> Result<(), Reason> {
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

fn push_display(out: &mut String, x: impl std::fmt::Display) {
    let _ = write!(out, "{x}");
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
/// JSON value holds no precision of its own.
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
            let _ = write!(
                out,
                "CAST('{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}' AS DATETIME(6))",
                t.year, t.month, t.day, t.hour, t.minute, t.second, t.second_part
            );
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
        // What a binary string (`_binary X'..'`, a VARBINARY column) becomes inside JSON.
        ColumnType::MYSQL_TYPE_VARCHAR => push_bytes_literal(out, None, data),
        // TIMESTAMP (from a TIMESTAMP column), BLOB, BIT, BINARY(N)...: no SQL expression produces these types.
        t => return Err(format!("JSON holds an opaque value of type {t:?}, which cannot be rebuilt exactly")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(data_type: &str, column_type: &str) -> Column {
        Column {
            name: "c".into(),
            ordinal: 1,
            data_type: data_type.into(),
            column_type: column_type.into(),
            nullable: true,
            charset: None,
            collation: None,
            octet_length: None,
            precision: None,
            scale: None,
            datetime_precision: None,
            generated: false,
            auto_increment: false,
        }
    }

    fn text_col(data_type: &str, charset: &str) -> Column {
        Column { charset: Some(charset.into()), ..col(data_type, data_type) }
    }

    fn lit_bv(c: &Column, v: &BinlogValue<'_>) -> Result<String, String> {
        let mut s = String::new();
        push_literal(&mut s, c, v).map(|_| s).map_err(|e| e.to_string())
    }

    fn lit(c: &Column, v: Value) -> Result<String, String> {
        lit_bv(c, &BinlogValue::Value(v))
    }

    fn ok(c: &Column, v: Value) -> String {
        lit(c, v).unwrap()
    }

    fn bytes(s: &str) -> Value {
        Value::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn null() {
        assert_eq!(ok(&col("int", "int"), Value::NULL), "NULL");
        assert_eq!(ok(&col("json", "json"), Value::NULL), "NULL");
    }

    #[test]
    fn integer_keys_read_with_the_column_signedness() {
        let u = col("int", "int unsigned");
        let i = col("bigint", "bigint");
        assert_eq!(integer_key(&u, &BinlogValue::Value(Value::Int(-1))), Some(4_294_967_295));
        assert_eq!(integer_key(&u, &BinlogValue::Value(Value::UInt(7))), Some(7));
        assert_eq!(integer_key(&i, &BinlogValue::Value(Value::Int(-5))), Some(-5));
        assert_eq!(integer_key(&i, &BinlogValue::Value(Value::NULL)), None);
    }

    #[test]
    fn integers() {
        let cases: &[(&str, &str, Value, &str)] = &[
            ("tinyint", "tinyint", Value::Int(-128), "-128"),
            ("tinyint", "tinyint unsigned", Value::Int(255), "255"),
            // Signed decoding of an unsigned column (table map without signedness).
            ("tinyint", "tinyint unsigned", Value::Int(-1), "255"),
            ("smallint", "smallint unsigned", Value::Int(-1), "65535"),
            ("mediumint", "mediumint unsigned", Value::Int(-8_388_608), "8388608"),
            ("mediumint", "mediumint", Value::Int(-8_388_608), "-8388608"),
            ("int", "int unsigned", Value::Int(-1), "4294967295"),
            ("int", "int", Value::Int(i64::from(i32::MIN)), "-2147483648"),
            ("bigint", "bigint unsigned", Value::Int(-1), "18446744073709551615"),
            ("bigint", "bigint unsigned", Value::UInt(u64::MAX), "18446744073709551615"),
            ("bigint", "bigint", Value::Int(i64::MIN), "-9223372036854775808"),
            // Unsigned decoding of a signed column.
            ("tinyint", "tinyint", Value::UInt(255), "-1"),
            ("bigint", "bigint", Value::UInt(u64::MAX), "-1"),
        ];
        for (dt, ct, v, want) in cases {
            assert_eq!(ok(&col(dt, ct), v.clone()), *want, "{ct} {v:?}");
        }
        assert!(lit(&col("tinyint", "tinyint"), Value::Int(256)).is_err());
        assert!(lit(&col("tinyint", "tinyint"), Value::Int(-129)).is_err());
        assert!(lit(&col("varchar", "varchar(10)"), Value::Int(1)).is_err());
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
    fn timestamps_are_utc() {
        let c = col("timestamp", "timestamp(6)");
        assert_eq!(ok(&c, bytes("0")), "'0000-00-00 00:00:00'");
        assert_eq!(ok(&c, bytes("1")), "'1970-01-01 00:00:01'");
        assert_eq!(ok(&c, bytes("951782400")), "'2000-02-29 00:00:00'");
        assert_eq!(ok(&c, bytes("4107542399.5")), "'2100-02-28 23:59:59.500000'");
        assert_eq!(ok(&c, bytes("4107542400")), "'2100-03-01 00:00:00'");
        assert_eq!(ok(&c, bytes("2147483647.999999")), "'2038-01-19 03:14:07.999999'");
        assert_eq!(ok(&c, bytes("1700000000.000001")), "'2023-11-14 22:13:20.000001'");
        // Pre-5.6 TIMESTAMP arrives as Int.
        assert_eq!(ok(&c, Value::Int(86_400 * 365)), "'1971-01-01 00:00:00'");
        for bad in ["-1", "x", "1.1234567", "1.-5", ""] {
            assert!(lit(&c, bytes(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
    }

    #[test]
    fn dates_and_datetimes() {
        let dt = col("datetime", "datetime(6)");
        let da = col("date", "date");
        assert_eq!(ok(&dt, Value::Date(2020, 1, 2, 3, 4, 5, 0)), "'2020-01-02 03:04:05'");
        assert_eq!(ok(&dt, Value::Date(9999, 12, 31, 23, 59, 59, 999_999)), "'9999-12-31 23:59:59.999999'");
        assert_eq!(ok(&dt, Value::Date(2020, 1, 2, 3, 4, 5, 120_000)), "'2020-01-02 03:04:05.120000'");
        // Zero dates and zero parts are values of their own.
        assert_eq!(ok(&dt, Value::Date(0, 0, 0, 0, 0, 0, 0)), "'0000-00-00 00:00:00'");
        assert_eq!(ok(&da, Value::Date(0, 0, 0, 0, 0, 0, 0)), "'0000-00-00'");
        assert_eq!(ok(&da, Value::Date(2020, 0, 15, 0, 0, 0, 0)), "'2020-00-15'");
        assert_eq!(ok(&da, Value::Date(1000, 1, 1, 0, 0, 0, 0)), "'1000-01-01'");
        assert!(lit(&dt, Value::Date(2020, 13, 1, 0, 0, 0, 0)).is_err());
        assert!(lit(&dt, Value::Date(2020, 1, 1, 24, 0, 0, 0)).is_err());
        assert!(lit(&dt, Value::Date(2020, 1, 1, 0, 0, 0, 1_000_000)).is_err());
        assert!(lit(&col("time", "time"), Value::Date(2020, 1, 1, 0, 0, 0, 0)).is_err());
    }

    #[test]
    fn times() {
        let t = col("time", "time(6)");
        assert_eq!(ok(&t, Value::Time(false, 0, 0, 0, 0, 0)), "'00:00:00'");
        assert_eq!(ok(&t, Value::Time(true, 34, 22, 59, 59, 0)), "'-838:59:59'");
        assert_eq!(ok(&t, Value::Time(false, 1, 1, 2, 3, 4)), "'25:02:03.000004'");
        assert_eq!(ok(&t, Value::Time(true, 0, 0, 0, 0, 1)), "'-00:00:00.000001'");
        assert!(lit(&t, Value::Time(false, 35, 0, 0, 0, 0)).is_err());
        assert!(lit(&t, Value::Time(false, 0, 0, 60, 0, 0)).is_err());
        assert!(lit(&t, Value::Time(false, 0, 0, 0, 0, 1_000_000)).is_err());
    }

    #[test]
    fn mysql_common_time2_bug_is_undone() {
        // 0.37.3 has the bug; when this fails, the linked mysql_common was fixed and the workaround is inert.
        assert!(time2_decoder_is_buggy());
        let t1 = Column { datetime_precision: Some(1), ..col("time", "time(1)") };
        let t2 = Column { datetime_precision: Some(2), ..col("time", "time(2)") };
        // What 0.37.3 makes of real values (seen on a 9.7 server): '-00:00:01.5', '-838:59:58.9', '-01:00:00.5'.
        assert_eq!(ok(&t1, Value::Time(false, 26, 0, 63, 62, 16_277_216)), "'-00:00:01.500000'");
        assert_eq!(ok(&t1, Value::Time(true, 8, 21, 59, 58, 900_000)), "'-838:59:58.900000'");
        assert_eq!(ok(&t2, Value::Time(false, 25, 23, 63, 63, 16_277_216)), "'-01:00:00.500000'");
        assert_eq!(ok(&t2, Value::Time(false, 25, 23, 63, 63, 16_767_216)), "'-01:00:00.010000'");
        // Values the bug does not touch.
        assert_eq!(ok(&t2, Value::Time(true, 0, 1, 0, 0, 0)), "'-01:00:00'");
        assert_eq!(ok(&t2, Value::Time(false, 0, 1, 0, 0, 500_000)), "'01:00:00.500000'");
        // Other precisions are decoded correctly and left alone.
        let t3 = Column { datetime_precision: Some(3), ..col("time", "time(3)") };
        assert_eq!(ok(&t3, Value::Time(true, 8, 21, 59, 58, 900_000)), "'-213:59:58.900000'");
        assert!(lit(&t3, Value::Time(false, 26, 0, 63, 62, 16_277_216)).is_err());
        assert_eq!(undo_time2_bug((false, 624, 63, 62, 1 << 25)), None);
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
    fn members() {
        let m = parse_members(r"enum('a','b''c','d\\e','x,y','(z)','É','n\nl','\0')").unwrap();
        assert_eq!(m, ["a", "b'c", r"d\e", "x,y", "(z)", "É", "n\nl", "\0"]);
        assert_eq!(parse_members("set('')").unwrap(), [""]);
        for bad in ["enum", "enum()", "enum('a'", "enum('a',)", "enum(a)", "enum('a'x)"] {
            assert!(parse_members(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn enums_by_name() {
        let e = col("enum", "enum('a','b''c','É')");
        assert_eq!(ok(&e, Value::Int(1)), "_utf8mb4 X'61'");
        assert_eq!(ok(&e, Value::Int(2)), "_utf8mb4 X'622763'");
        assert_eq!(ok(&e, Value::Int(3)), "_utf8mb4 X'C389'");
        assert_eq!(ok(&e, Value::Int(0)), "''");
        assert!(lit(&e, Value::Int(4)).is_err());
        assert!(lit(&e, Value::Int(-1)).is_err());
    }

    #[test]
    fn sets_by_name() {
        let s = col("set", "set('a','b','c','d','e','f','g','h','i')");
        assert_eq!(ok(&s, Value::Bytes(vec![0, 0])), "_utf8mb4 X''");
        assert_eq!(ok(&s, Value::Bytes(vec![0b101, 0])), "_utf8mb4 X'612C63'");
        assert_eq!(ok(&s, Value::Bytes(vec![0x80, 1])), "_utf8mb4 X'682C69'");
        assert!(lit(&s, Value::Bytes(vec![0, 2])).is_err());
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
        let e = push_literal(&mut s, &c, &BinlogValue::Value(bytes("1e3"))).unwrap_err();
        assert_eq!(s, "INSERT ");
        assert!(e.to_string().contains("`price` (decimal(5,2))"), "{e}");
        let e = lit_bv(&col("json", "json"), &BinlogValue::JsonDiff(Vec::new())).unwrap_err();
        assert!(e.contains("PARTIAL_JSON"), "{e}");
    }

    /// Minimal JSONB encoder (small storage format) to build test documents.
    enum J {
        Null,
        True,
        False,
        I16(i16),
        U16(u16),
        I32(i32),
        U32(u32),
        I64(i64),
        U64(u64),
        F64(f64),
        Str(&'static str),
        Opaque(ColumnType, Vec<u8>),
        Arr(Vec<J>),
        Obj(Vec<(&'static str, J)>),
    }

    impl J {
        fn type_byte(&self) -> u8 {
            match self {
                J::Obj(_) => 0x0,
                J::Arr(_) => 0x2,
                J::Null | J::True | J::False => 0x4,
                J::I16(_) => 0x5,
                J::U16(_) => 0x6,
                J::I32(_) => 0x7,
                J::U32(_) => 0x8,
                J::I64(_) => 0x9,
                J::U64(_) => 0xA,
                J::F64(_) => 0xB,
                J::Str(_) => 0xC,
                J::Opaque(..) => 0xF,
            }
        }

        fn payload(&self) -> Vec<u8> {
            let with_len = |prefix: Vec<u8>, b: &[u8]| {
                assert!(b.len() < 128);
                [prefix, vec![b.len() as u8], b.to_vec()].concat()
            };
            match self {
                J::Null => vec![0, 0],
                J::True => vec![1, 0],
                J::False => vec![2, 0],
                J::I16(x) => x.to_le_bytes().to_vec(),
                J::U16(x) => x.to_le_bytes().to_vec(),
                J::I32(x) => x.to_le_bytes().to_vec(),
                J::U32(x) => x.to_le_bytes().to_vec(),
                J::I64(x) => x.to_le_bytes().to_vec(),
                J::U64(x) => x.to_le_bytes().to_vec(),
                J::F64(x) => x.to_le_bytes().to_vec(),
                J::Str(s) => with_len(vec![], s.as_bytes()),
                J::Opaque(t, d) => with_len(vec![*t as u8], d),
                J::Arr(items) => container(&[], items.iter().collect()),
                J::Obj(entries) => container(
                    &entries.iter().map(|(k, _)| k.as_bytes()).collect::<Vec<_>>(),
                    entries.iter().map(|(_, v)| v).collect(),
                ),
            }
        }

        fn parse(&self) -> BinlogValue<'static> {
            let doc = [vec![self.type_byte()], self.payload()].concat();
            BinlogValue::Jsonb(ParseBuf(&doc).parse::<jsonb::Value<'_>>(()).unwrap().into_owned())
        }
    }

    fn container(keys: &[&[u8]], values: Vec<&J>) -> Vec<u8> {
        let header = 4 + keys.len() * 4 + values.len() * 3;
        let (mut entries, mut tail) = (Vec::new(), Vec::new());
        for k in keys {
            entries.extend_from_slice(&((header + tail.len()) as u16).to_le_bytes());
            entries.extend_from_slice(&(k.len() as u16).to_le_bytes());
            tail.extend_from_slice(k);
        }
        for v in values {
            entries.push(v.type_byte());
            if matches!(v, J::Null | J::True | J::False | J::I16(_) | J::U16(_)) {
                entries.extend_from_slice(&v.payload());
            } else {
                entries.extend_from_slice(&((header + tail.len()) as u16).to_le_bytes());
                tail.extend_from_slice(&v.payload());
            }
        }
        let count = if keys.is_empty() { entries.len() / 3 } else { keys.len() } as u16;
        [count.to_le_bytes().to_vec(), ((header + tail.len()) as u16).to_le_bytes().to_vec(), entries, tail].concat()
    }

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

    #[test]
    fn json_other_opaques() {
        let bin = J::Opaque(ColumnType::MYSQL_TYPE_VARCHAR, vec![0, 0xFF]);
        assert_eq!(json(J::Arr(vec![bin])), "JSON_ARRAY(_binary X'00FF')");
        for t in [ColumnType::MYSQL_TYPE_TIMESTAMP, ColumnType::MYSQL_TYPE_BLOB, ColumnType::MYSQL_TYPE_BIT] {
            let doc = J::Arr(vec![J::Opaque(t, vec![1, 2, 3, 4, 5, 6, 7, 8])]);
            assert!(lit_bv(&col("json", "json"), &doc.parse()).is_err(), "{t:?}");
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

    #[test]
    fn keys() {
        let key = |v: &BinlogValue<'_>| {
            let mut k = Vec::new();
            key_bytes(&mut k, v);
            k
        };
        let v = |x: Value| BinlogValue::Value(x);
        assert_eq!(key(&v(Value::Int(5))), key(&v(Value::UInt(5))));
        assert_eq!(key(&v(Value::Double(0.0))), key(&v(Value::Double(-0.0))));
        assert_ne!(key(&v(Value::Int(-1))), key(&v(Value::UInt(u64::MAX))));
        assert_ne!(key(&v(Value::NULL)), key(&v(Value::Bytes(vec![]))));
        assert_ne!(key(&v(Value::Bytes(b"1".to_vec()))), key(&v(Value::Int(1))));
        assert_ne!(key(&v(Value::Bytes(b"a".to_vec()))), key(&v(Value::Bytes(b"A".to_vec()))));
        assert_ne!(key(&v(Value::Time(false, 1, 0, 0, 0, 0))), key(&v(Value::Time(true, 1, 0, 0, 0, 0))));
        assert_eq!(key(&v(Value::Time(false, 1, 0, 0, 0, 0))), key(&v(Value::Time(false, 0, 24, 0, 0, 0))));
        // Length prefixes keep concatenated keys apart: ("ab","c") vs ("a","bc").
        let two = |a: &[u8], b: &[u8]| [key(&v(Value::Bytes(a.to_vec()))), key(&v(Value::Bytes(b.to_vec())))].concat();
        assert_ne!(two(b"ab", b"c"), two(b"a", b"bc"));
        let doc = J::Arr(vec![J::I16(1)]).parse();
        assert_eq!(key(&doc), key(&doc.clone()));
        assert_ne!(key(&doc), key(&J::Arr(vec![J::U16(1)]).parse()));
    }
}
