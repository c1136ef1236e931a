//! Binlog row values back to SQL: each value decoded from a ROW event becomes a literal (or a small expression)
//! that stores exactly the same value when inserted into the ghost table.
//!
//! The applier session runs with `time_zone='+00:00'` and `SET NAMES utf8mb4`, so temporal literals are UTC and
//! every string is written as a charset-introduced hex literal (`_latin1 X'E9'`): the bytes never pass through
//! the client character set, and no escaping is needed.

use std::fmt::Write as _;

use mysql_common::binlog::decimal::Decimal;
use mysql_common::binlog::jsonb;
use mysql_common::binlog::time::MysqlTime;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::value::Value;

use crate::error::Error;
use crate::schema::Column;

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
        Error::Value {
            column: col.name.clone(),
            column_type: col.column_type.clone(),
            reason,
        }
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
        Value::Int(_) | Value::UInt(_) => {
            let n = match *v {
                Value::Int(i) => i128::from(i),
                Value::UInt(u) => i128::from(u),
                _ => unreachable!("matched above"),
            };
            match ty {
                "enum" => push_enum(out, &col.column_type, n)?,
                // The pre-5.6 TIMESTAMP format arrives as plain epoch seconds.
                "timestamp" => push_timestamp(out, i64::try_from(n).map_err(|_| bad(v))?, 0)?,
                _ => push_integer(out, col, n)?,
            }
        }
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
            let hours = u64::from(days) * 24 + u64::from(h);
            // us >= 10^6 is how mysql_common 0.37 mangles a negative TIME(1)/TIME(2) with a fraction.
            if hours > 838 || i > 59 || s > 59 || us > 999_999 {
                return Err(bad(v));
            }
            let sign = if neg { "-" } else { "" };
            let _ = write!(out, "'{sign}{hours:02}:{i:02}:{s:02}");
            push_micros(out, us);
            out.push('\'');
        }
        _ => {
            return Err(format!(
                "unexpected binlog value {v:?} for this column type"
            ))
        }
    }
    Ok(())
}

fn bad(v: &Value) -> Reason {
    format!("invalid binlog value {v:?}")
}

/// Integers arrive as Int or UInt, and a signed decoding of an unsigned column (no signedness in the table map)
/// is negative: reduce to the column's width and read it with the column's signedness.
fn push_integer(out: &mut String, col: &Column, n: i128) -> Result<(), Reason> {
    let bits = match col.data_type.as_str() {
        "tinyint" => 8,
        "smallint" => 16,
        "mediumint" => 24,
        "int" => 32,
        "bigint" => 64,
        _ => return Err(format!("unexpected integer {n} for this column type")),
    };
    let span = 1i128 << bits;
    if n < -(span / 2) || n >= span {
        return Err(format!("integer {n} does not fit in {bits} bits"));
    }
    let u = n.rem_euclid(span);
    let n = if !col.unsigned() && u >= span / 2 {
        u - span
    } else {
        u
    };
    push_display(out, n);
    Ok(())
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
            out.push_str(
                s.ok_or_else(|| format!("invalid decimal {:?}", String::from_utf8_lossy(b)))?,
            );
        }
        "timestamp" => {
            // "sec" or "sec.usec" (six digits) from TIMESTAMP2.
            let s = std::str::from_utf8(b).map_err(|_| "invalid timestamp".to_string())?;
            let (sec, usec) = s.split_once('.').unwrap_or((s, "0"));
            match (sec.parse::<i64>(), usec.parse::<u32>()) {
                (Ok(sec), Ok(usec)) => push_timestamp(out, sec, usec)?,
                _ => return Err(format!("invalid timestamp {s:?}")),
            }
        }
        "year" => {
            // The binlog stores year - 1900 in one byte, with 0 meaning the year 0000.
            match std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
            {
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
                    let m = members
                        .get(i * 8 + bit)
                        .ok_or_else(|| format!("SET bit {} has no member", i * 8 + bit))?;
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
            let n = col
                .octet_length
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0);
            let mut padded = b.to_vec();
            if padded.len() < n {
                padded.resize(n, 0);
            }
            push_bytes_literal(out, None, &padded);
        }
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            let charset = col
                .charset
                .as_deref()
                .filter(|c| c.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'_'));
            if charset.is_none() && col.charset.is_some() {
                return Err(format!("unexpected character set {:?}", col.charset));
            }
            push_bytes_literal(out, charset, b);
        }
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "vector" => {
            push_bytes_literal(out, None, b)
        }
        // SRID + WKB, which a geometry column accepts as a binary string.
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geomcollection" | "geometrycollection" => {
            push_bytes_literal(out, None, b)
        }
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
/// backslash escapes for `\`, NUL, LF, CR.
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
                    't' => '\t',
                    'b' => '\x08',
                    'Z' => '\x1a',
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
    push_datetime(
        out,
        y,
        m as u8,
        d as u8,
        (t / 3600) as u8,
        (t / 60 % 60) as u8,
        (t % 60) as u8,
        usec,
    )
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
fn push_datetime(
    out: &mut String,
    y: u16,
    m: u8,
    d: u8,
    h: u8,
    i: u8,
    s: u8,
    us: u32,
) -> Result<(), Reason> {
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
    let is_json =
        v.is_array() || v.is_object() || matches!(v, jsonb::Value::Null | jsonb::Value::Bool(_));
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
        push_json(
            out,
            &item.map_err(|e| format!("malformed JSON: {e}"))?,
            depth + 1,
        )?;
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

/// Typed scalars JSON keeps from SQL values. Dates and times are printed with all six fractional digits, as the
/// JSON value holds no precision of its own.
fn push_json_opaque(out: &mut String, o: &jsonb::OpaqueValue<'_>) -> Result<(), Reason> {
    let data = o.data_raw();
    let packed = || {
        data.first_chunk::<8>()
            .map(|b| i64::from_le_bytes(*b))
            .ok_or("truncated JSON date/time")
    };
    match o.value_type() {
        ColumnType::MYSQL_TYPE_NEWDECIMAL => {
            // Precision and scale lead the data; casting to exactly them reproduces the same digits.
            let (&p, &s) = data
                .first()
                .zip(data.get(1))
                .ok_or("truncated JSON decimal")?;
            let text = Decimal::read_packed(data, false)
                .map_err(|e| format!("malformed JSON decimal: {e}"))?
                .to_string();
            if !is_decimal(&text) || !(1..=65).contains(&p) || s > 30 || s > p {
                return Err(format!("unexpected JSON decimal {text} ({p},{s})"));
            }
            let _ = write!(out, "CAST({text} AS DECIMAL({p},{s}))");
        }
        ColumnType::MYSQL_TYPE_DATE => {
            let t = MysqlTime::from_int64_date_packed(packed()?);
            let _ = write!(
                out,
                "CAST('{:04}-{:02}-{:02}' AS DATE)",
                t.year, t.month, t.day
            );
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
        t => {
            return Err(format!(
                "JSON holds an opaque value of type {t:?}, which cannot be rebuilt exactly"
            ))
        }
    }
    Ok(())
}
