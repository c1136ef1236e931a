//! GTID sets: parsing `@@gtid_executed` text, adding transactions as they commit, and turning the set into
//! the form the binlog dump request takes (so a reconnect resumes exactly after the last whole transaction).

use std::collections::BTreeMap;
use std::fmt;

use mysql_async::{GnoInterval, Sid};

use crate::error::{Error, Result};

/// A GTID set: for each source UUID (and optional tag), sorted disjoint inclusive intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GtidSet {
    sets: BTreeMap<(String, String), Vec<(u64, u64)>>,
}

impl GtidSet {
    /// Parses `uuid:1-5:7,uuid2:1-3` (whitespace and newlines allowed; MySQL 8.4 tags `uuid:tag:1-5` too).
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let mut set = GtidSet::default();
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for part in cleaned.split(',').filter(|p| !p.is_empty()) {
            let mut fields = part.split(':');
            let uuid = fields.next().unwrap_or_default().to_lowercase();
            if parse_uuid(&uuid).is_none() {
                return Err(Error::Binlog(format!("bad GTID set element {part:?}")));
            }
            let mut tag = String::new();
            for f in fields {
                if f.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') {
                    tag = f.to_lowercase();
                    continue;
                }
                let (a, b) = match f.split_once('-') {
                    Some((a, b)) => (a.parse::<u64>(), b.parse::<u64>()),
                    None => (f.parse::<u64>(), f.parse::<u64>()),
                };
                match (a, b) {
                    (Ok(a), Ok(b)) if a >= 1 && a <= b => set.add_range(&uuid, &tag, a, b),
                    _ => return Err(Error::Binlog(format!("bad GTID interval {f:?} in {part:?}"))),
                }
            }
        }
        Ok(set)
    }

    pub(crate) fn add(&mut self, uuid: &str, tag: &str, gno: u64) {
        self.add_range(uuid, tag, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, tag: &str, a: u64, b: u64) {
        let v = self.sets.entry((uuid.to_string(), tag.to_string())).or_default();
        v.push((a, b));
        v.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for &(s, e) in v.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *v = merged;
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, uuid: &str, tag: &str, gno: u64) -> bool {
        self.sets
            .get(&(uuid.to_string(), tag.to_string()))
            .is_some_and(|v| v.iter().any(|&(a, b)| a <= gno && gno <= b))
    }

    /// Whether every transaction of `other` is in this set.
    pub(crate) fn includes(&self, other: &GtidSet) -> bool {
        other.sets.iter().all(|(sid, wanted)| {
            let have = self.sets.get(sid).map_or(&[][..], |v| v.as_slice());
            // Both lists are sorted and merged: each wanted interval lies inside one held interval.
            wanted.iter().all(|&(a, b)| have.iter().any(|&(x, y)| x <= a && b <= y))
        })
    }

    /// The set as the binlog dump request wants it (intervals with exclusive ends).
    pub(crate) fn to_sids(&self) -> Result<Vec<Sid<'static>>> {
        let mut out = Vec::new();
        for ((uuid, tag), intervals) in &self.sets {
            if !tag.is_empty() {
                return Err(Error::Binlog(format!(
                    "tagged GTIDs ({uuid}:{tag}) are not supported by the binlog client yet"
                )));
            }
            let raw = parse_uuid(uuid).ok_or_else(|| Error::Binlog(format!("bad uuid {uuid}")))?;
            let mut sid = Sid::new(raw);
            for &(a, b) in intervals {
                sid = sid.with_interval(GnoInterval::new(a, b + 1));
            }
            out.push(sid);
        }
        Ok(out)
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for ((uuid, tag), intervals) in &self.sets {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(uuid)?;
            if !tag.is_empty() {
                write!(f, ":{tag}")?;
            }
            for &(a, b) in intervals {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

/// Formats a 16-byte server UUID as text.
pub(crate) fn uuid_text(raw: &[u8; 16]) -> String {
    let h: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || text.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const U: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562";

    #[test]
    fn includes_is_set_containment() {
        let v = "4e11fa47-71ca-11e1-9e33-c80aa9429562";
        let big = GtidSet::parse(&format!("{U}:1-10:12-20,{v}:1-3")).unwrap();
        for (small, inside) in [
            (String::new(), true),
            (format!("{U}:1-10"), true),
            (format!("{U}:3,{U}:15-20,{v}:2"), true),
            (format!("{U}:1-12"), false),
            (format!("{U}:11"), false),
            (format!("{U}:20-21"), false),
            (format!("{v}:4"), false),
            ("5e11fa47-71ca-11e1-9e33-c80aa9429562:1".to_string(), false),
        ] {
            assert_eq!(big.includes(&GtidSet::parse(&small).unwrap()), inside, "{small}");
        }
        assert!(GtidSet::default().includes(&GtidSet::default()));
    }

    #[test]
    fn parse_and_print() {
        let s = GtidSet::parse(&format!("{U}:1-5:7,\n{U}:6")).unwrap();
        assert_eq!(s.to_string(), format!("{U}:1-7"));
        assert!(s.contains(U, "", 7) && !s.contains(U, "", 8));
        assert!(GtidSet::parse("").unwrap().to_string().is_empty());
        assert!(GtidSet::parse("nonsense:1").is_err());
        assert!(GtidSet::parse(&format!("{U}:5-3")).is_err());
    }

    #[test]
    fn add_merges_and_sids_use_exclusive_end() {
        let mut s = GtidSet::parse(&format!("{U}:1-3")).unwrap();
        s.add(U, "", 5);
        s.add(U, "", 4);
        assert_eq!(s.to_string(), format!("{U}:1-5"));
        let sids = s.to_sids().unwrap();
        assert_eq!(sids.len(), 1);
        assert_eq!(sids[0].intervals()[0].end(), 6);
        assert_eq!(uuid_text(&sids[0].uuid()), U);
    }

    #[test]
    fn tags_parse_but_are_refused_for_streaming() {
        let s = GtidSet::parse(&format!("{U}:tag1:1-2")).unwrap();
        assert!(s.contains(U, "tag1", 2));
        assert!(s.to_sids().is_err());
    }
}
