//! ENUM values and the member lists of ENUM and SET columns (the SET bitmap itself is read in `scalar`). Values
//! are written by member name, never by index, so an ALTER that reorders or inserts members keeps every value.

use super::{push_bytes_literal, Reason};

/// `index` is 1-based; 0 is the empty "error" value MySQL stores for invalid input in non-strict mode.
pub(super) fn push_enum(out: &mut String, column_type: &str, index: i128) -> Result<(), Reason> {
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
    use mysql_common::value::Value;

    use super::super::test_util::{col, lit, ok};
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
}
