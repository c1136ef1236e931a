//! Config files for `wraith migrate`, turned into flag arguments.
//!
//! Two formats:
//! - `--conf FILE`: gh-ost's own flag, a MySQL-style INI file. `[client]` gives `user`, `password`, `host` and
//!   `port`; `[osc]` gives migrate flags by name (`chunk_size` or `chunk-size`). Other sections are ignored (the
//!   file may be a `my.cnf` shared with other programs).
//! - `--config FILE`: wraith's YAML file, a mapping of migrate flag names to scalar values.
//!
//! Both become `--flag=value` arguments inserted right after the subcommand and before the command line's own
//! arguments. The subcommand lets the last occurrence of a flag win, so the precedence is: command line, then
//! the YAML file, then the INI file, then the flags' defaults (or their environment variables). clap then
//! validates file values exactly as it validates flags.
//!
//! A password read from a file is never put into an error message.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// The unit a flag counts time in (gh-ost's `*-millis` and `*-seconds` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationUnit {
    Millis,
    Seconds,
}

impl DurationUnit {
    /// The unit a flag named like gh-ost's counts in: `*-millis` or `*-seconds`.
    pub fn from_flag_name(name: &str) -> Option<DurationUnit> {
        if name.ends_with("-millis") {
            Some(DurationUnit::Millis)
        } else if name.ends_with("-seconds") {
            Some(DurationUnit::Seconds)
        } else {
            None
        }
    }

    fn word(self) -> &'static str {
        match self {
            DurationUnit::Millis => "milliseconds",
            DurationUnit::Seconds => "seconds",
        }
    }
}

/// A flag a config file may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownFlag {
    /// The long name without dashes, e.g. `max-lag-millis`.
    pub name: String,
    /// false for gh-ost-style booleans, which are given as `--flag=true` or `--flag=false`.
    pub takes_value: bool,
    /// For flags counting time: file values may then also be durations such as `1500ms` or `1m30s`.
    pub duration_unit: Option<DurationUnit>,
}

impl KnownFlag {
    /// A flag taking a value; its duration unit follows from its name (`*-millis`, `*-seconds`).
    pub fn value(name: &str) -> KnownFlag {
        KnownFlag { name: name.to_string(), takes_value: true, duration_unit: DurationUnit::from_flag_name(name) }
    }

    /// A gh-ost-style boolean flag (`--flag`, `--flag=true`, `--flag=false`).
    pub fn boolean(name: &str) -> KnownFlag {
        KnownFlag { name: name.to_string(), takes_value: false, duration_unit: None }
    }
}

/// The options that name config files; they are consumed here and never set from a file.
const CONF: &str = "conf";
const CONFIG: &str = "config";

/// The subcommand whose arguments are expanded.
const SUBCOMMAND: &str = "migrate";

/// Expands `--conf FILE` (gh-ost's INI file) and `--config FILE` (YAML) found in `args` (the full argv after
/// `normalize_args`, e.g. `["wraith", "migrate", "--config", "x.yaml", "--execute"]`) into `--flag=value`
/// arguments placed right after the subcommand, and removes the `--conf`/`--config` options themselves.
///
/// Order of the result: program, subcommand, the INI file's flags, the YAML file's flags, then the command
/// line's remaining arguments, so that (the last occurrence winning) the command line overrides the files
/// and YAML overrides INI. Both `--conf=FILE` and `--conf FILE` are accepted; given twice, the last file of
/// each kind is the one read, as with any other flag. Arguments after `--` are left alone. Without the
/// `migrate` subcommand `args` is returned unchanged.
pub fn expand(args: Vec<String>, known: &[KnownFlag]) -> Result<Vec<String>> {
    let Some(sub) = args.iter().skip(1).position(|a| !a.starts_with('-')).map(|i| i + 1) else {
        return Ok(args);
    };
    if args[sub] != SUBCOMMAND {
        return Ok(args);
    }
    let mut conf: Option<String> = None;
    let mut config: Option<String> = None;
    let mut rest = Vec::new();
    let mut it = args[sub + 1..].iter();
    while let Some(a) = it.next() {
        if a == "--" {
            rest.push(a.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        let Some(body) = a.strip_prefix("--") else {
            rest.push(a.clone());
            continue;
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let slot = match name {
            CONF => &mut conf,
            CONFIG => &mut config,
            _ => {
                rest.push(a.clone());
                continue;
            }
        };
        let path = match inline {
            Some(p) => p,
            None => match it.next() {
                Some(p) if !p.starts_with('-') => p.clone(),
                _ => return Err(Error::Config(format!("--{name} needs a file path: --{name}=FILE or --{name} FILE"))),
            },
        };
        if path.is_empty() {
            return Err(Error::Config(format!("--{name} needs a file path, got an empty one")));
        }
        *slot = Some(path);
    }

    let mut out: Vec<String> = args[..=sub].to_vec();
    if let Some(p) = conf {
        out.extend(ini_file_args(Path::new(&p), known)?);
    }
    if let Some(p) = config {
        out.extend(yaml_file_args(Path::new(&p), known)?);
    }
    out.extend(rest);
    Ok(out)
}

/// The flags `wraith migrate` accepts, read from the clap command: either the `migrate` subcommand itself or
/// a command that has it (`Cli::command()`). An argument whose values are `true` and `false` (clap's `bool`
/// parser; in cli.rs gh-ost style, `num_args(0..=1)` with `default_missing_value = "true"`) is a boolean, given
/// as `--flag=true|false`. Help and version, pure switches, counters, positionals and the
/// `conf`/`config` options themselves are left out.
pub fn known_flags_from_clap(cmd: &clap::Command) -> Vec<KnownFlag> {
    let mut cmd = cmd.clone();
    cmd.build();
    let migrate = if cmd.get_name() == SUBCOMMAND {
        &cmd
    } else {
        match cmd.find_subcommand(SUBCOMMAND) {
            Some(m) => m,
            None => &cmd,
        }
    };
    let mut out = Vec::new();
    for arg in migrate.get_arguments() {
        let Some(name) = arg.get_long() else { continue };
        if arg.is_positional() || name == CONF || name == CONFIG {
            continue;
        }
        use clap::ArgAction::{Append, Set, SetFalse, SetTrue};
        if !matches!(arg.get_action(), Set | Append | SetTrue | SetFalse) {
            continue;
        }
        let takes_value = arg.get_num_args().is_none_or(|r| r.max_values() >= 1);
        let mut values: Vec<String> = arg.get_possible_values().iter().map(|v| v.get_name().to_string()).collect();
        values.sort();
        if !takes_value {
            continue;
        }
        if values == ["false", "true"] {
            out.push(KnownFlag::boolean(name));
        } else {
            out.push(KnownFlag::value(name));
        }
    }
    out
}

/// Reads a gh-ost `--conf` INI file into flag arguments. See [`ini_args`].
pub fn ini_file_args(path: &Path, known: &[KnownFlag]) -> Result<Vec<String>> {
    let text = read(path, "--conf")?;
    ini_args(&text, &path.display().to_string(), known)
}

/// Reads a `--config` YAML file into flag arguments. See [`yaml_args`].
pub fn yaml_file_args(path: &Path, known: &[KnownFlag]) -> Result<Vec<String>> {
    let text = read(path, "--config")?;
    yaml_args(&text, &path.display().to_string(), known)
}

fn read(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{flag}: cannot read config file {}: {e}", path.display())))
}

// ---------------------------------------------------------------------------------------------------------
// INI (gh-ost's --conf)

/// `[client]` keys wraith maps to flags of the same name.
const CLIENT_KEYS: &[&str] = &["user", "password", "host", "port"];

/// Standard MySQL client options that may sit in a `my.cnf` `[client]` section for other programs and do not
/// change how wraith connects or migrates: ignored, as gh-ost ignores them.
const CLIENT_IGNORED: &[&str] = &[
    "socket",
    "database",
    "default-character-set",
    "character-sets-dir",
    "protocol",
    "compress",
    "connect-timeout",
    "max-allowed-packet",
    "net-buffer-length",
    "auto-rehash",
    "no-auto-rehash",
    "skip-auto-rehash",
    "prompt",
    "pager",
    "no-pager",
    "safe-updates",
    "i-am-a-dummy",
    "show-warnings",
    "local-infile",
    "no-beep",
    "default-auth",
    "plugin-dir",
];

/// gh-ost's `[osc]` keys (all that gh-ost reads), for a precise error when wraith has no such flag.
const GH_OST_OSC_KEYS: &[&str] = &["chunk-size", "max-lag-millis", "max-load", "replication-lag-query"];

/// Turns the text of a gh-ost `--conf` file into flag arguments; `origin` names the file in errors.
///
/// The format is what gh-ost reads (go-ini), which is also MySQL's option-file format:
/// - `[section]` headers; `key = value` (or `key: value`); lines starting with `#` or `;` are comments, and so
///   is the rest of a line from a `#` or `;` preceded by whitespace. A value may be quoted with `"`, `'` or a
///   backtick to keep such characters; there are no escape sequences.
/// - `[client]`: `user`, `password`, `host`, `port` become `--user` etc. A value of the form `${NAME}` is
///   replaced by the environment variable NAME (as gh-ost does for user and password); an unset variable is an
///   error. Standard MySQL client options that do not concern wraith (`socket`, `default-character-set`, ...)
///   and `loose-` prefixed options are ignored; ssl-ca/ssl-cert/ssl-key map to the flags, other TLS options
///   are refused, since wraith would not honour them;
///   any other key is an error.
/// - `[osc]`: any migrate flag, spelled `chunk_size` or `chunk-size`; a key without a value sets a boolean.
/// - Section and key names are case-insensitive. Other sections are ignored. A key outside any section and
///   `!include`/`!includedir` are errors. A key given twice takes its last value.
pub fn ini_args(text: &str, origin: &str, known: &[KnownFlag]) -> Result<Vec<String>> {
    let err = |line: usize, msg: String| Error::Config(format!("--conf {origin}, line {line}: {msg}"));
    let mut out = Vec::new();
    let mut section: Option<String> = None;
    for (i, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.starts_with('!') {
            return Err(err(n, "!include and !includedir are not supported; put the settings in this file".into()));
        }
        if let Some(head) = line.strip_prefix('[') {
            let Some((name, after)) = head.split_once(']') else {
                return Err(err(n, "a section header must end with `]`".into()));
            };
            if !is_blank_or_comment(after) {
                return Err(err(n, "unexpected text after the section header".into()));
            }
            section = Some(name.trim().to_ascii_lowercase());
            continue;
        }
        let (key, value) = split_key_value(line).map_err(|m| err(n, m))?;
        let Some(sect) = section.as_deref() else {
            return Err(err(n, format!("key `{key}` is outside any section; put it under [client] or [osc]")));
        };
        let canon = key.to_ascii_lowercase().replace('_', "-");
        let at = |msg: String| err(n, format!("[{sect}] {key}: {msg}"));
        match sect {
            "client" => {
                let loose = canon.strip_prefix("loose-");
                let name = loose.unwrap_or(&canon);
                if CLIENT_KEYS.contains(&name) {
                    let Some(flag) = find(known, name) else {
                        return Err(at(format!("wraith migrate has no --{name} flag")));
                    };
                    let Some(v) = value else {
                        return Err(at("needs a value (wraith does not prompt for one)".into()));
                    };
                    let v = expand_env(&v).map_err(at)?;
                    out.push(flag_arg(flag, Scalar::Str(v), &at)?);
                } else if matches!(name, "ssl-ca" | "ssl-cert" | "ssl-key") {
                    // The same files the mysql client uses: they become --ssl-ca / --ssl-cert / --ssl-key.
                    let (Some(flag), Some(v)) = (find(known, name), value) else {
                        return Err(at("needs a file path".into()));
                    };
                    let v = expand_env(&v).map_err(at)?;
                    out.push(flag_arg(flag, Scalar::Str(v), &at)?);
                } else if name.starts_with("ssl") || name.starts_with("tls") {
                    return Err(at(
                        "wraith reads only ssl-ca, ssl-cert and ssl-key here (other TLS options would be ignored, \
                         and the connection would differ from what the file asks); use --ssl/--ssl-allow-insecure \
                         flags or move the option to another section (such as [mysql])"
                            .into(),
                    ));
                } else if loose.is_some() || CLIENT_IGNORED.contains(&name) {
                    continue;
                } else {
                    return Err(at(format!(
                        "unknown key; wraith reads {} from [client] and migrate flags from [osc]",
                        CLIENT_KEYS.join(", ")
                    )));
                }
            }
            "osc" => {
                let Some(flag) = find(known, &canon) else {
                    if canon == CONF || canon == CONFIG {
                        return Err(at("a config file cannot name another config file".into()));
                    }
                    if GH_OST_OSC_KEYS.contains(&canon.as_str()) {
                        return Err(at(format!("gh-ost's {key} has no wraith equivalent (no --{canon} flag)")));
                    }
                    return Err(at(unknown_key_msg(&canon, known)));
                };
                let scalar = match value {
                    Some(v) => Scalar::Str(v),
                    None if !flag.takes_value => Scalar::Bool(true),
                    None => return Err(at(format!("needs a value: {key} = ..."))),
                };
                out.push(flag_arg(flag, scalar, &at)?);
            }
            _ => continue,
        }
    }
    Ok(out)
}

fn is_blank_or_comment(s: &str) -> bool {
    let t = s.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with(';')
}

/// Splits `key = value`, `key: value` or a bare `key`. The value has comments and quotes removed. Messages
/// never quote the line: it may hold a password.
fn split_key_value(line: &str) -> std::result::Result<(String, Option<String>), String> {
    let delim = line.find(['=', ':']);
    let (key, raw) = match delim {
        Some(p) => (line[..p].trim(), Some(&line[p + 1..])),
        None => (line, None),
    };
    // A bare key may carry a trailing comment.
    let key = match raw {
        None => key.split([' ', '\t']).next().unwrap_or_default(),
        Some(_) => key,
    };
    if raw.is_none() && !is_blank_or_comment(&line[key.len()..]) {
        return Err("expected `key = value`".into());
    }
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        return Err("expected `key = value` with a key of letters, digits, `-` and `_`".into());
    }
    let value = match raw {
        None => None,
        Some(r) => Some(ini_value(r).map_err(|m| format!("{key}: {m}"))?),
    };
    Ok((key.to_string(), value))
}

fn ini_value(raw: &str) -> std::result::Result<String, String> {
    let v = raw.trim_start();
    if let Some(q) = v.chars().next().filter(|c| matches!(c, '"' | '\'' | '`')) {
        // The first closing quote followed by nothing but a comment ends the value.
        let body = &v[1..];
        for (p, c) in body.char_indices() {
            if c == q && is_blank_or_comment(&body[p + 1..]) {
                return Ok(body[..p].to_string());
            }
        }
        return Err(format!("the value's opening {q} has no matching closing {q}"));
    }
    // Unquoted: a `#` or `;` after whitespace starts a comment.
    let bytes = raw.as_bytes();
    let end = (1..bytes.len())
        .find(|&i| matches!(bytes[i], b'#' | b';') && bytes[i - 1].is_ascii_whitespace())
        .unwrap_or(bytes.len());
    Ok(raw[..end].trim().to_string())
}

/// gh-ost's `${NAME}` substitution: a value containing `${...}` is replaced whole by that variable.
fn expand_env(v: &str) -> std::result::Result<String, String> {
    let Some(start) = v.find("${") else { return Ok(v.to_string()) };
    let Some(len) = v[start + 2..].rfind('}') else { return Ok(v.to_string()) };
    let name = &v[start + 2..start + 2 + len];
    std::env::var(name).map_err(|_| format!("refers to environment variable {name}, which is not set"))
}

// ---------------------------------------------------------------------------------------------------------
// YAML (--config)

/// Turns the text of a `--config` YAML file into flag arguments; `origin` names the file in errors.
///
/// The file is a mapping from migrate flag names (`max-lag-millis`, or `max_lag_millis`) to scalars:
/// booleans, numbers or strings. Flags counting milliseconds or seconds also take durations such as `1500ms`,
/// `2s` or `1m30s`, which must be a whole number of the flag's unit. An empty file sets nothing. Unknown keys,
/// a key given twice, empty (null) values and nested mappings or sequences are errors.
pub fn yaml_args(text: &str, origin: &str, known: &[KnownFlag]) -> Result<Vec<String>> {
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

// ---------------------------------------------------------------------------------------------------------
// Values

enum Scalar {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

fn find<'a>(known: &'a [KnownFlag], canon: &str) -> Option<&'a KnownFlag> {
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
fn flag_arg(flag: &KnownFlag, v: Scalar, at: &dyn Fn(String) -> Error) -> Result<String> {
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

fn unknown_key_msg(canon: &str, known: &[KnownFlag]) -> String {
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

    fn known() -> Vec<KnownFlag> {
        let mut k: Vec<KnownFlag> = ["host", "port", "user", "password", "master-password", "database", "table"]
            .into_iter()
            .chain(["alter", "chunk-size", "max-lag-millis", "cut-over-lock-timeout-seconds", "throttle-query"])
            .chain(["mysql-timeout", "status-interval"])
            .map(KnownFlag::value)
            .collect();
        k.extend(["execute", "allow-on-master", "ok-to-drop-table"].into_iter().map(KnownFlag::boolean));
        k
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn ini(text: &str) -> Result<Vec<String>> {
        ini_args(text, "test.cnf", &known())
    }

    fn yaml(text: &str) -> Result<Vec<String>> {
        yaml_args(text, "test.yaml", &known())
    }

    fn msg(r: Result<Vec<String>>) -> String {
        r.expect_err("expected an error").to_string()
    }

    #[test]
    fn ini_client_and_osc() {
        let text = "\u{feff}# gh-ost credentials\n[client]\nuser = gromit\npassword=\"p#ss w;rd\"  # quoted\n\
                    host: db1\nport=3307\nsocket=/tmp/mysql.sock\nloose-whatever = x\n\n[mysqld]\nskip-name-resolve\n\
                    innodb_buffer_pool_size = 1G\n\n[OSC]\nChunk_Size = 500 ; comment\nmax-lag-millis=2s\n\
                    execute\nallow_on_master = off\nthrottle_query = select 1 from t where a='#x'\n";
        assert_eq!(
            ini(text).unwrap(),
            s(&[
                "--user=gromit",
                "--password=p#ss w;rd",
                "--host=db1",
                "--port=3307",
                "--chunk-size=500",
                "--max-lag-millis=2000",
                "--execute=true",
                "--allow-on-master=false",
                "--throttle-query=select 1 from t where a='#x'",
            ])
        );
        // Unquoted values keep `#` and `;` that do not follow whitespace; the last of a repeated key wins later.
        assert_eq!(
            ini("[client]\npassword=ab#c;d\npassword='x'\n").unwrap(),
            s(&["--password=ab#c;d", "--password=x"])
        );
        assert_eq!(ini("[client]\nuser=\n").unwrap(), s(&["--user="]));
    }

    #[test]
    fn ini_env_substitution() {
        std::env::set_var("WRAITH_CONFFILE_TEST_PW", "from env");
        assert_eq!(ini("[client]\npassword=${WRAITH_CONFFILE_TEST_PW}\n").unwrap(), s(&["--password=from env"]));
        let e = msg(ini("[client]\npassword=${WRAITH_CONFFILE_TEST_UNSET}\n"));
        assert!(e.contains("WRAITH_CONFFILE_TEST_UNSET") && e.contains("not set"), "{e}");
    }

    #[test]
    fn ini_errors_name_file_section_and_key() {
        let e = msg(ini("[client]\nuser=u\n\n[osc]\nchunk_sise = 5\n"));
        assert!(e.contains("test.cnf") && e.contains("line 5") && e.contains("[osc] chunk_sise"), "{e}");
        assert!(e.contains("chunk-size"), "suggests the closest flag: {e}");
        let e = msg(ini("[client]\nusr=u\n"));
        assert!(e.contains("[client] usr") && e.contains("unknown key"), "{e}");
        let e = msg(ini("[osc]\nmax_load = Threads_running=25\n"));
        assert!(e.contains("max_load") && e.contains("gh-ost"), "{e}");
        let e = msg(ini("[client]\nssl-mode=REQUIRED\n"));
        assert!(e.contains("TLS"), "{e}");
        assert!(msg(ini("user=u\n")).contains("outside any section"));
        assert!(msg(ini("!includedir /etc/mysql/conf.d/\n")).contains("!include"));
        assert!(msg(ini("[client\nuser=u\n")).contains("line 1"));
        assert!(msg(ini("[osc]\nchunk-size\n")).contains("needs a value"));
        assert!(msg(ini("[osc]\nexecute = maybe\n")).contains("boolean"));
        assert!(msg(ini("[osc]\nconf = other.cnf\n")).contains("cannot name another config file"));
    }

    #[test]
    fn passwords_never_appear_in_errors() {
        for text in [
            "[client]\npassword = \"hunter2\n",
            "[client]\npassword hunter2 x\n",
            "[client]\npassword=hunter2\n[osc]\nbogus=1\n",
            "[osc]\npassword = hunter2\nmaster-password = hunter2\nbogus = 1\n",
        ] {
            let e = msg(ini(text));
            assert!(!e.contains("hunter2"), "{e}");
        }
        let e = msg(yaml("password: hunter2\nmax-lag-millis: nope\n"));
        assert!(e.contains("max-lag-millis") && !e.contains("hunter2"), "{e}");
        let e = msg(yaml("password: \"hunter2\nchunk-size: 1\n"));
        assert!(!e.contains("hunter2"), "{e}");
    }

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

    #[test]
    fn expand_orders_files_before_the_command_line() {
        let dir = std::env::temp_dir().join(format!("wraith-conffile-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cnf = dir.join("gh-ost.cnf");
        let yml = dir.join("wraith.yaml");
        std::fs::write(&cnf, "[client]\nuser=from_ini\n[osc]\nchunk_size=100\n").unwrap();
        std::fs::write(&yml, "chunk-size: 200\nexecute: true\n").unwrap();
        let (cnf_s, yml_s) = (cnf.display().to_string(), yml.display().to_string());

        let args = s(&["wraith", "migrate", "--chunk-size=300", "--config", &yml_s, "--table=t"]);
        let mut with_conf = args.clone();
        with_conf.push(format!("--conf={cnf_s}"));
        assert_eq!(
            expand(with_conf, &known()).unwrap(),
            s(&[
                "wraith",
                "migrate",
                "--user=from_ini",
                "--chunk-size=100",
                "--chunk-size=200",
                "--execute=true",
                "--chunk-size=300",
                "--table=t",
            ])
        );
        // Nothing to expand, another subcommand, or after `--`: unchanged.
        let plain = s(&["wraith", "migrate", "--execute"]);
        assert_eq!(expand(plain.clone(), &known()).unwrap(), plain);
        let other = s(&["wraith", "--help"]);
        assert_eq!(expand(other.clone(), &known()).unwrap(), other);
        let after = s(&["wraith", "migrate", "--", "--config", "x"]);
        assert_eq!(expand(after.clone(), &known()).unwrap(), after);
        // The last --config is the one read.
        let missing = dir.join("missing.yaml").display().to_string();
        let twice = s(&["wraith", "migrate", "--config", &missing, &format!("--config={yml_s}")]);
        assert_eq!(expand(twice, &known()).unwrap(), s(&["wraith", "migrate", "--chunk-size=200", "--execute=true"]));

        let e = expand(s(&["wraith", "migrate", "--config", &missing]), &known()).unwrap_err().to_string();
        assert!(e.contains("missing.yaml") && e.contains("cannot read"), "{e}");
        let e = expand(s(&["wraith", "migrate", "--conf"]), &known()).unwrap_err().to_string();
        assert!(e.contains("--conf needs a file path"), "{e}");
        let e = expand(s(&["wraith", "migrate", "--config", "--execute"]), &known()).unwrap_err().to_string();
        assert!(e.contains("--config needs a file path"), "{e}");
        assert!(expand(s(&["wraith", "migrate", "--conf="]), &known()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn known_flags_come_from_the_cli() {
        use clap::CommandFactory;
        let flags = known_flags_from_clap(&crate::config::cli::Cli::command());
        let get = |n: &str| flags.iter().find(|f| f.name == n).unwrap_or_else(|| panic!("no flag {n}"));
        assert_eq!(get("execute"), &KnownFlag::boolean("execute"));
        assert_eq!(get("chunk-size"), &KnownFlag::value("chunk-size"));
        assert_eq!(get("max-lag-millis").duration_unit, Some(DurationUnit::Millis));
        assert_eq!(get("cut-over-lock-timeout-seconds").duration_unit, Some(DurationUnit::Seconds));
        assert!(get("password").takes_value && get("status-interval").duration_unit.is_none());
        assert!(!flags.iter().any(|f| ["help", "version", "conf", "config"].contains(&f.name.as_str())));
    }

    #[test]
    fn closest_flag() {
        let k = known();
        assert_eq!(closest("chunksize", &k), Some("chunk-size"));
        assert_eq!(closest("max-lag", &k), Some("max-lag-millis"));
        assert_eq!(closest("execute-now", &k), Some("execute"));
        assert_eq!(closest("zzz", &k), None);
    }
}
