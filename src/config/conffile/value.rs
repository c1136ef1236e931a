//! One file setting (a scalar read from either format) checked and turned into a `--flag=value` argument.
//!
//! Invariants: booleans become `true`/`false`, time values become a whole number of the flag's unit (or an
//! error), `conf`/`config` are never settable from a file, and the value of a password flag never appears in
//! an error message.

use std::time::Duration;

use super::{DurationUnit, KnownFlag, CONF, CONFIG};
use crate::error::{Error, Result};

pub(super) enum Scalar {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

pub(super) fn find<'a>(known: &'a [KnownFlag], canon: &str) -> Option<&'a KnownFlag> {
    if canon == CONF || canon == CONFIG {
        return None;
    }
    known.iter().find(|f| f.name == canon)
}

fn is_secret(flag: &KnownFlag) -> bool {
    flag.name.contains("password")
}

/// `--name=value` for one file setting; `at` prefixes the file and key to error messages. The value of a
/// password flag never appears in a message.
pub(super) fn flag_arg(flag: &KnownFlag, v: Scalar, at: &dyn Fn(String) -> Error) -> Result<String> {
    let shown = |s: &str| if is_secret(flag) { "the value".to_string() } else { format!("`{s}`") };
    let value = if !flag.takes_value {
        let b = match &v {
            Scalar::Bool(b) => Some(*b),
            Scalar::Int(0) => Some(false),
            Scalar::Int(1) => Some(true),
            Scalar::Str(s) => parse_bool(s),
            _ => None,
        };
        match b {
            Some(b) => b.to_string(),
            None => return Err(at(format!("--{} is a boolean: use true or false", flag.name))),
        }
    } else if let Some(unit) = flag.duration_unit {
        match v {
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) if f.is_finite() && f.fract() == 0.0 => format!("{f:.0}"),
            Scalar::Float(f) => {
                return Err(at(format!("counts whole {}: {f} is not a whole number", unit.word())));
            }
            Scalar::Str(s) => {
                let t = s.trim();
                if t.parse::<i64>().is_ok() {
                    t.to_string()
                } else {
                    let d = humantime::parse_duration(t).map_err(|e| {
                        at(format!(
                            "expected a number of {} or a duration such as 1500ms, 2s or 1m30s; {} is neither: {e}",
                            unit.word(),
                            shown(t)
                        ))
                    })?;
                    match in_unit(d, unit) {
                        Some(n) => n.to_string(),
                        None => {
                            return Err(at(format!(
                                "counts whole {}: {} is not a whole number of {}",
                                unit.word(),
                                shown(t),
                                unit.word()
                            )))
                        }
                    }
                }
            }
            Scalar::Bool(_) => return Err(at(format!("expected a number of {}, not a boolean", unit.word()))),
        }
    } else {
        match v {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Str(s) => s,
        }
    };
    Ok(format!("--{}={value}", flag.name))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `d` as a whole number of `unit`, or None when it is not one.
fn in_unit(d: Duration, unit: DurationUnit) -> Option<u128> {
    match unit {
        DurationUnit::Millis => d.subsec_nanos().is_multiple_of(1_000_000).then_some(d.as_millis()),
        DurationUnit::Seconds => (d.subsec_nanos() == 0).then_some(u128::from(d.as_secs())),
    }
}
