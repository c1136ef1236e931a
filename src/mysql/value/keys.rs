//! Byte keys of row values, for de-duplicating row changes by key: equal values give equal bytes (an Int and a
//! UInt of one number, 0.0 and -0.0), and each part is tagged and length-prefixed so that keys of several columns
//! concatenate without ambiguity. Exact bytes, not collation-aware.

use mysql_common::binlog::value::BinlogValue;
use mysql_common::value::Value;

use super::json::push_json_document;

/// Byte key of a value for de-duplication of row changes by key (same value => same bytes). Used for key columns.
///
/// The key is exact bytes, not collation-aware: `'a'` and `'A'` differ even where a `_ci` collation makes
/// them the same row. Each part is tagged and length-prefixed, so keys of several columns can be concatenated.
pub(crate) fn key_bytes(out: &mut Vec<u8>, v: &BinlogValue<'_>) {
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

#[cfg(test)]
mod tests {
    use super::super::test_util::J;
    use super::*;

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
