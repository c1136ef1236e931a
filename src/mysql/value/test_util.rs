//! Helpers shared by the tests of the submodules: column builders, `push_literal` wrappers, and a minimal JSONB
//! encoder (small storage format) to build documents as the server writes them.

use mysql_common::binlog::jsonb;
use mysql_common::binlog::value::BinlogValue;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use mysql_common::value::Value;

use crate::mysql::schema::Column;

use super::{push_literal, Target};

pub(super) fn col(data_type: &str, column_type: &str) -> Column {
    Column { ordinal: 1, column_type: column_type.into(), ..Column::for_test("c", data_type, true) }
}

pub(super) fn text_col(data_type: &str, charset: &str) -> Column {
    Column { charset: Some(charset.into()), ..col(data_type, data_type) }
}

/// The literal stored into a ghost column of the same type.
pub(super) fn lit_bv(c: &Column, v: &BinlogValue<'_>) -> Result<String, String> {
    lit_for(c, Target::Store(c), v)
}

pub(super) fn lit_for(c: &Column, target: Target<'_>, v: &BinlogValue<'_>) -> Result<String, String> {
    let mut s = String::new();
    push_literal(&mut s, c, target, v).map(|_| s).map_err(|e| e.to_string())
}

pub(super) fn lit(c: &Column, v: Value) -> Result<String, String> {
    lit_bv(c, &BinlogValue::Value(v))
}

pub(super) fn ok(c: &Column, v: Value) -> String {
    lit(c, v).unwrap()
}

pub(super) fn bytes(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// Minimal JSONB encoder (small storage format) to build test documents.
pub(super) enum J {
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
        // Lengths are variable-length integers: 7 bits a byte, low bits first, high bit set on all but the last.
        let with_len = |prefix: Vec<u8>, b: &[u8]| {
            let (mut len, mut n) = (Vec::new(), b.len());
            while n >= 0x80 {
                len.push((n & 0x7F) as u8 | 0x80);
                n >>= 7;
            }
            len.push(n as u8);
            [prefix, len, b.to_vec()].concat()
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

    pub(super) fn parse(&self) -> BinlogValue<'static> {
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
