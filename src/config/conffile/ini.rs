//! gh-ost's `--conf` file (MySQL option-file format, as go-ini reads it) turned into flag arguments.
//!
//! `[client]` gives the connection flags, `[osc]` any migrate flag; other sections are ignored. Invariants:
//! an error names the file, line, section and key but never quotes the line or a value (it may hold a
//! password), and each value is checked and formatted by `value::flag_arg`, exactly as a YAML value is.

use std::path::Path;

use super::suggest::unknown_key_msg;
use super::value::{find, flag_arg, Scalar};
use super::{read, KnownFlag, CONF, CONFIG};
use crate::error::{Error, Result};

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
/// Reads a gh-ost `--conf` INI file into flag arguments. See [`ini_args`].
pub(super) fn ini_file_args(path: &Path, known: &[KnownFlag]) -> Result<Vec<String>> {
    let text = read(path, "--conf")?;
    ini_args(&text, &path.display().to_string(), known)
}
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
pub(super) fn ini_args(text: &str, origin: &str, known: &[KnownFlag]) -> Result<Vec<String>> {
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

#[cfg(test)]
mod tests {
    use crate::config::conffile::tests::{ini, msg, s};

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
}
