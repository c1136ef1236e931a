//! Integer columns: the one list of integer types with their widths, and the reading of a decoded integer with
//! the column's width and signedness. The table map carries no signedness, so a value may arrive with the wrong
//! one; a value that fits neither reading of the width is an error, never truncated.

use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value;

use crate::mysql::schema::Column;

use super::{push_display, Reason};

/// Integers arrive as Int or UInt, and a signed decoding of an unsigned column (no signedness in the table map)
/// is negative: reduce to the column's width and read it with the column's signedness.
pub(super) fn push_integer(out: &mut String, col: &Column, n: i128) -> Result<(), Reason> {
    push_display(out, integer_in_column(col, n)?);
    Ok(())
}

/// The value of an integer key column in a row image, as the server orders it (None for NULL or a
/// non-integer value). The copier's chunk bounds are compared against this.
pub(crate) fn integer_key(col: &Column, v: &BinlogValue<'_>) -> Option<i128> {
    match v {
        BinlogValue::Value(Value::Int(n)) => integer_in_column(col, i128::from(*n)).ok(),
        BinlogValue::Value(Value::UInt(n)) => integer_in_column(col, i128::from(*n)).ok(),
        _ => None,
    }
}

/// The width of an integer column type, None for other types. The one list of integer types: the copier
/// plans its parallel path with it, and `integer_key` must read every key that path accepts.
pub(crate) fn integer_bits(data_type: &str) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    use super::super::test_util::{col, lit, ok};
    use super::*;

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
}
