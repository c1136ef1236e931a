//! ENUM values and the member lists of ENUM and SET columns (the SET bitmap itself is read in `scalar`). Values
//! are written by member name, never by index, so an ALTER that reorders or inserts members keeps every value.
//!
//! Where the ghost column's type decides, the literal is what a native `ALTER TABLE ... ALGORITHM=COPY` (and the
//! copier's `INSERT ... SELECT`, a column-to-column copy) stores, checked on a 9.7 server, strict mode or not:
//! - into a numeric column, an ENUM is its index (the error value is 0);
//! - into an ENUM column, the error value (index 0, the '' that non-strict mode stores for an invalid value)
//!   stays index 0. A '' literal is refused in strict mode ("Data truncated"), so it is written as a string of
//!   zeros that is no member of the ghost column: the server reads a non-member string of under 6 bytes as an
//!   index, and 0 is the error value, with no warning;
//! - into anything else (a string, a SET), the error value is ''.
//!
//! Compared with a ghost column (a key in a WHERE), the error value is '' (what it reads as).

use crate::mysql::schema::Column;

use super::integer::integer_bits;
use super::{push_bytes_literal, push_display, Reason, Target};

/// `index` is 1-based; 0 is the empty "error" value MySQL stores for invalid input in non-strict mode.
pub(super) fn push_enum(out: &mut String, column_type: &str, target: Target<'_>, index: i128) -> Result<(), Reason> {
    let members = parse_members(column_type)?;
    let member = match index {
        0 => None,
        _ => Some(
            usize::try_from(index - 1)
                .ok()
                .and_then(|i| members.get(i))
                .ok_or_else(|| format!("ENUM index {index} has no member"))?,
        ),
    };
    let ghost = target.column();
    if is_numeric(&ghost.data_type) {
        // A native ALTER converts an ENUM to a number by its index.
        push_display(out, index);
        return Ok(());
    }
    match (member, target) {
        // By name, not index, so an ALTER that reorders or inserts members keeps the value.
        (Some(m), _) => push_bytes_literal(out, Some("utf8mb4"), m.as_bytes()),
        (None, Target::Store(g)) if g.data_type == "enum" => push_enum_error_value(out, g)?,
        (None, _) => out.push_str("''"),
    }
    Ok(())
}

fn is_numeric(data_type: &str) -> bool {
    integer_bits(data_type).is_some() || matches!(data_type, "decimal" | "float" | "double")
}

/// The error value (index 0) for storing into ENUM column `ghost`, strict mode or not: `0`, `00`... (the
/// shortest that is no member), in the column's own character set. (The server reads the number from the bytes
/// converted to the column's character set but with the literal's, so a `_utf8mb4 '0'` fails in a ucs2 column.)
/// Refused when every spelling under the 6-byte limit is, or may collate equal to, a member.
fn push_enum_error_value(out: &mut String, ghost: &Column) -> Result<(), Reason> {
    let members = parse_members(&ghost.column_type)?;
    let charset = ghost
        .charset
        .as_deref()
        .filter(|c| !c.is_empty() && c.bytes().all(|x| x.is_ascii_alphanumeric() || x == b'_'))
        .unwrap_or("utf8mb4");
    let zero: &[u8] = match charset {
        "ucs2" | "utf16" => &[0, b'0'],
        "utf16le" => &[b'0', 0],
        "utf32" => &[0, 0, 0, b'0'],
        _ => b"0",
    };
    // A member of zeros blocks the spelling of its length; one of zeros and non-ASCII characters might collate
    // equal to any of them (other scripts' digits, ignorable characters), so it blocks all.
    let zero_like = |m: &&String| !m.is_empty() && m.chars().all(|c| c == '0' || !c.is_ascii());
    let blocked: Vec<&String> = members.iter().filter(zero_like).collect();
    if blocked.iter().all(|m| m.is_ascii()) {
        for n in (1..).take_while(|n| n * zero.len() < 6) {
            if !blocked.iter().any(|m| m.len() == n) {
                push_bytes_literal(out, Some(charset), &zero.repeat(n));
                return Ok(());
            }
        }
    }
    Err(format!(
        "the ENUM error value (index 0, the '' stored for an invalid value) cannot be written into the ghost's {} \
         in strict mode: its members leave no string of zeros ('0' to '00000') to spell it; give the row a valid \
         member in the original table, or leave one of those spellings free in the new member list",
        ghost.column_type
    ))
}

/// Members of `enum('a','b''c')` / `set(...)` as information_schema writes them: quoted, `''` for a quote, and
/// backslash escapes for `\`, NUL, LF and CR only (a tab or ^Z is written as is).
pub(super) fn parse_members(column_type: &str) -> Result<Vec<String>, Reason> {
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

#[cfg(test)]
mod tests {
    use mysql_common::binlog::value::BinlogValue;
    use mysql_common::value::Value;

    use super::super::test_util::{col, lit, lit_for, ok, text_col};
    use super::*;

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
        assert!(lit(&e, Value::Int(4)).is_err());
        assert!(lit(&e, Value::Int(-1)).is_err());
        // Into a string column or a SET the error value is '', as a native ALTER gives.
        let vc = text_col("varchar", "utf8mb4");
        assert_eq!(into(&e, Target::Store(&vc), 2).unwrap(), "_utf8mb4 X'622763'");
        assert_eq!(into(&e, Target::Store(&vc), 0).unwrap(), "''");
        assert_eq!(into(&e, Target::Store(&col("set", "set('a','0')")), 0).unwrap(), "''");
        // Compared with the ghost column (a key), the error value reads as ''.
        assert_eq!(into(&e, Target::Compare(&e), 0).unwrap(), "''");
        assert_eq!(into(&e, Target::Compare(&e), 1).unwrap(), "_utf8mb4 X'61'");
    }

    fn into(source: &Column, target: Target<'_>, index: i64) -> Result<String, String> {
        lit_for(source, target, &BinlogValue::Value(Value::Int(index)))
    }

    fn enum_in(charset: &str, column_type: &str) -> Column {
        Column { charset: Some(charset.into()), ..col("enum", column_type) }
    }

    #[test]
    fn enum_error_value_is_a_string_of_zeros_in_the_ghost_charset() {
        let source = col("enum", "enum('a','b')");
        let store = |g: &Column| into(&source, Target::Store(g), 0);
        assert_eq!(store(&source).unwrap(), "_utf8mb4 X'30'");
        assert_eq!(store(&enum_in("latin1", "enum('x','','y')")).unwrap(), "_latin1 X'30'");
        // Members that spell zeros are skipped; '' and other digits are no obstacle.
        assert_eq!(store(&enum_in("utf8mb4", "enum('0','1','00','','10')")).unwrap(), "_utf8mb4 X'303030'");
        assert_eq!(store(&enum_in("binary", "enum('0')")).unwrap(), "_binary X'3030'");
        // The server reads the number in the column's own charset, and only under 6 bytes.
        assert_eq!(store(&enum_in("ucs2", "enum('x')")).unwrap(), "_ucs2 X'0030'");
        assert_eq!(store(&enum_in("utf16", "enum('0')")).unwrap(), "_utf16 X'00300030'");
        assert_eq!(store(&enum_in("utf16le", "enum('x')")).unwrap(), "_utf16le X'3000'");
        assert_eq!(store(&enum_in("utf32", "enum('x')")).unwrap(), "_utf32 X'00000030'");
        for (charset, column_type) in [
            ("utf8mb4", "enum('0','00','000','0000','00000')"),
            ("utf16", "enum('0','00')"),
            ("utf32", "enum('0')"),
            // Might collate equal to '0' (a full-width zero) or to any string of zeros.
            ("utf8mb4", "enum('０','x')"),
            ("utf8mb4", "enum('0\u{200B}')"),
        ] {
            let e = store(&enum_in(charset, column_type)).unwrap_err();
            assert!(e.contains("ENUM error value") && e.contains("valid member"), "{column_type}: {e}");
        }
        // A malformed charset name is never pasted into SQL.
        assert_eq!(store(&enum_in("latin1' OR 1", "enum('x')")).unwrap(), "_utf8mb4 X'30'");
    }

    #[test]
    fn enums_into_numeric_columns_are_their_index() {
        let e = col("enum", "enum('a','b','c')");
        for ghost in [
            col("int", "int"),
            col("bigint", "bigint unsigned"),
            col("decimal", "decimal(5,2)"),
            col("double", "double"),
        ] {
            assert_eq!(into(&e, Target::Store(&ghost), 3).unwrap(), "3");
            assert_eq!(into(&e, Target::Store(&ghost), 0).unwrap(), "0");
            assert_eq!(into(&e, Target::Compare(&ghost), 2).unwrap(), "2");
        }
        assert!(into(&e, Target::Store(&col("int", "int")), 4).is_err());
    }

    #[test]
    fn sets_by_name() {
        let s = col("set", "set('a','b','c','d','e','f','g','h','i')");
        assert_eq!(ok(&s, Value::Bytes(vec![0, 0])), "_utf8mb4 X''");
        assert_eq!(ok(&s, Value::Bytes(vec![0b101, 0])), "_utf8mb4 X'612C63'");
        assert_eq!(ok(&s, Value::Bytes(vec![0x80, 1])), "_utf8mb4 X'682C69'");
        assert!(lit(&s, Value::Bytes(vec![0, 2])).is_err());
    }
}
