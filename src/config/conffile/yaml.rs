//! wraith's `--config` YAML file, a mapping of migrate flag names to scalars, turned into flag arguments.
//!
//! Invariants: every key is a known flag, set once, with a single scalar value; an error names the file and
//! key; each value is checked and formatted by `value::flag_arg`, exactly as an INI value is, so a password
//! never appears in a message.

use std::path::Path;

use super::suggest::unknown_key_msg;
use super::value::{find, flag_arg, Scalar};
use super::{read, KnownFlag, CONF, CONFIG};
use crate::error::{Error, Result};

/// Reads a `--config` YAML file into flag arguments. See [`yaml_args`].
pub(super) fn yaml_file_args(path: &Path, known: &[KnownFlag]) -> Result<Vec<String>> {
    let text = read(path, "--config")?;
    yaml_args(&text, &path.display().to_string(), known)
}

/// Turns the text of a `--config` YAML file into flag arguments; `origin` names the file in errors.
///
/// The file is a mapping from migrate flag names (`max-lag-millis`, or `max_lag_millis`) to scalars:
/// booleans, numbers or strings. Flags counting milliseconds or seconds also take durations such as `1500ms`,
/// `2s` or `1m30s`, which must be a whole number of the flag's unit. An empty file sets nothing. Unknown keys,
/// a key given twice, empty (null) values and nested mappings or sequences are errors.
pub(super) fn yaml_args(text: &str, origin: &str, known: &[KnownFlag]) -> Result<Vec<String>> {
    let err = |msg: String| Error::Config(format!("--config {origin}: {msg}"));
    let doc: yaml_serde::Value = yaml_serde::from_str(text).map_err(|e| err(format!("not valid YAML: {e}")))?;
    let map = match doc {
        yaml_serde::Value::Null => return Ok(Vec::new()),
        yaml_serde::Value::Mapping(m) => m,
        _ => return Err(err("expected a mapping of flag names to values, such as `chunk-size: 1000`".into())),
    };
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (k, v) in map {
        let key = match k {
            yaml_serde::Value::String(s) => s,
            _ => return Err(err("keys must be flag names (strings)".into())),
        };
        let canon = key.replace('_', "-");
        let at = |msg: String| err(format!("{key}: {msg}"));
        if seen.contains(&canon) {
            return Err(at("set more than once".into()));
        }
        seen.push(canon.clone());
        let Some(flag) = find(known, &canon) else {
            if canon == CONF || canon == CONFIG {
                return Err(at("a config file cannot name another config file".into()));
            }
            return Err(at(unknown_key_msg(&canon, known)));
        };
        let scalar = match v {
            yaml_serde::Value::Bool(b) => Scalar::Bool(b),
            yaml_serde::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Scalar::Int(i as i128)
                } else if let Some(u) = n.as_u64() {
                    Scalar::Int(u as i128)
                } else {
                    Scalar::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            yaml_serde::Value::String(s) => Scalar::Str(s),
            yaml_serde::Value::Null => {
                return Err(at("has no value; remove the key to keep the default, or write \"\" for an empty \
                               string"
                    .into()))
            }
            yaml_serde::Value::Sequence(_) | yaml_serde::Value::Mapping(_) => {
                return Err(at(
                    "nested values are not supported: give a single value (boolean, number or string)".into()
                ))
            }
            yaml_serde::Value::Tagged(_) => {
                return Err(at("tagged values are not supported: give a boolean, number or string".into()))
            }
        };
        out.push(flag_arg(flag, scalar, &at)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::config::conffile::tests::{msg, s, yaml};

    #[test]
    fn yaml_scalars_and_durations() {
        let text = "execute: true\nallow_on_master: false\nchunk-size: 2000\nmax-lag-millis: 1.5s\n\
                    cut-over-lock-timeout-seconds: 1m\nthrottle-query: \"select 0\"\nmysql-timeout: 2.5\n\
                    status-interval: 10s\nuser: \"007\"\nok-to-drop-table: 1\n";
        assert_eq!(
            yaml(text).unwrap(),
            s(&[
                "--execute=true",
                "--allow-on-master=false",
                "--chunk-size=2000",
                "--max-lag-millis=1500",
                "--cut-over-lock-timeout-seconds=60",
                "--throttle-query=select 0",
                "--mysql-timeout=2.5",
                "--status-interval=10s",
                "--user=007",
                "--ok-to-drop-table=true",
            ])
        );
        assert_eq!(yaml("max-lag-millis: 1m30s\n").unwrap(), s(&["--max-lag-millis=90000"]));
        assert_eq!(yaml("max-lag-millis: \"250\"\n").unwrap(), s(&["--max-lag-millis=250"]));
        assert_eq!(yaml("max-lag-millis: 250.0\n").unwrap(), s(&["--max-lag-millis=250"]));
        assert_eq!(yaml("cut-over-lock-timeout-seconds: 2000ms\n").unwrap(), s(&["--cut-over-lock-timeout-seconds=2"]));
        assert_eq!(yaml("").unwrap(), Vec::<String>::new());
        assert_eq!(yaml("# nothing set\n").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn yaml_errors() {
        let e = msg(yaml("cut-over-lock-timeout-seconds: 1500ms\n"));
        assert!(e.contains("whole") && e.contains("seconds") && e.contains("test.yaml"), "{e}");
        assert!(msg(yaml("max-lag-millis: 1500us\n")).contains("whole"));
        assert!(msg(yaml("max-lag-millis: 2.5\n")).contains("whole"));
        assert!(msg(yaml("max-lag-millis: fast\n")).contains("1m30s"));
        assert!(msg(yaml("max-lag-millis: true\n")).contains("boolean"));
        let e = msg(yaml("max-lag: 1s\n"));
        assert!(e.contains("max-lag") && e.contains("did you mean `max-lag-millis`"), "{e}");
        let e = msg(yaml("chunk-sise: 1\n"));
        assert!(e.contains("did you mean `chunk-size`"), "{e}");
        let e = msg(yaml("frobnicate: 1\n"));
        assert!(e.contains("frobnicate") && e.contains("--help"), "{e}");
        assert!(msg(yaml("chunk-size:\n  - 1\n")).contains("nested"));
        assert!(msg(yaml("chunk-size:\n  a: 1\n")).contains("nested"));
        assert!(msg(yaml("throttle-query:\n")).contains("no value"));
        assert!(msg(yaml("chunk-size: !big 1\n")).contains("tagged"));
        assert!(msg(yaml("- chunk-size\n")).contains("mapping"));
        assert!(msg(yaml("chunk-size: 1\nchunk_size: 2\n")).contains("more than once"));
        assert!(msg(yaml("execute: maybe\n")).contains("boolean"));
        assert!(msg(yaml("config: other.yaml\n")).contains("cannot name another config file"));
        assert!(msg(yaml("chunk-size: [1\n")).contains("not valid YAML"));
    }
}
