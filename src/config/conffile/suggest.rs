//! "Did you mean" for an unknown key in a config file: the known flag a mistyped key most likely meant.
//!
//! Invariant: a suggestion is only ever the name of a known flag, and only when it is close to the key;
//! otherwise the message points to `wraith migrate --help`.

use super::KnownFlag;

pub(super) fn unknown_key_msg(canon: &str, known: &[KnownFlag]) -> String {
    match closest(canon, known) {
        Some(s) => format!("unknown key: `wraith migrate` has no --{canon} flag (did you mean `{s}`?)"),
        None => format!("unknown key: `wraith migrate` has no --{canon} flag (see `wraith migrate --help`)"),
    }
}

/// The known flag closest to `key`: one it is a leading part of, else the nearest by edit distance when close.
fn closest<'a>(key: &str, known: &'a [KnownFlag]) -> Option<&'a str> {
    let prefixed = known
        .iter()
        .filter(|f| f.name.starts_with(&format!("{key}-")) || key.starts_with(&format!("{}-", f.name)))
        .min_by_key(|f| f.name.len().abs_diff(key.len()));
    if let Some(f) = prefixed {
        return Some(&f.name);
    }
    let limit = (key.len() / 3).max(2);
    known
        .iter()
        .map(|f| (edit_distance(key, &f.name), f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f.name.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conffile::tests::known;

    #[test]
    fn closest_flag() {
        let k = known();
        assert_eq!(closest("chunksize", &k), Some("chunk-size"));
        assert_eq!(closest("max-lag", &k), Some("max-lag-millis"));
        assert_eq!(closest("execute-now", &k), Some("execute"));
        assert_eq!(closest("zzz", &k), None);
    }
}
