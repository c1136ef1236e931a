//! Config files for `wraith migrate` (and `wraith plan`, which takes migrate's flags), turned into flag arguments.
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
//!
//! Layout: this module finds the files on the command line and lists the flags they may set; `ini` and `yaml`
//! read the two formats, `value` checks and formats one value for its flag, `suggest` finds the flag a
//! mistyped key probably meant. Every file value goes through `value`, whichever format it came from.

mod ini;
mod suggest;
mod value;
mod yaml;

use std::path::Path;

use self::ini::ini_file_args;
use self::yaml::yaml_file_args;
use crate::error::{Error, Result};

/// The unit a flag counts time in (gh-ost's `*-millis` and `*-seconds` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationUnit {
    Millis,
    Seconds,
}

impl DurationUnit {
    /// The unit a flag named like gh-ost's counts in: `*-millis` or `*-seconds`.
    pub(crate) fn from_flag_name(name: &str) -> Option<DurationUnit> {
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
    pub(crate) duration_unit: Option<DurationUnit>,
}

impl KnownFlag {
    /// A flag taking a value; its duration unit follows from its name (`*-millis`, `*-seconds`).
    pub(crate) fn value(name: &str) -> KnownFlag {
        KnownFlag { name: name.to_string(), takes_value: true, duration_unit: DurationUnit::from_flag_name(name) }
    }

    /// A gh-ost-style boolean flag (`--flag`, `--flag=true`, `--flag=false`).
    pub(crate) fn boolean(name: &str) -> KnownFlag {
        KnownFlag { name: name.to_string(), takes_value: false, duration_unit: None }
    }
}

/// The options that name config files; they are consumed here and never set from a file.
const CONF: &str = "conf";
const CONFIG: &str = "config";

/// The subcommand whose flags a file may set.
const SUBCOMMAND: &str = "migrate";
/// The subcommands whose arguments are expanded: `plan` takes migrate's flags too.
const EXPANDED: &[&str] = &["migrate", "plan"];

/// Expands `--conf FILE` (gh-ost's INI file) and `--config FILE` (YAML) found in `args` (the full argv after
/// `normalize_args`, e.g. `["wraith", "migrate", "--config", "x.yaml", "--execute"]`) into `--flag=value`
/// arguments placed right after the subcommand, and removes the `--conf`/`--config` options themselves.
///
/// Order of the result: program, subcommand, the INI file's flags, the YAML file's flags, then the command
/// line's remaining arguments, so that (the last occurrence winning) the command line overrides the files
/// and YAML overrides INI. Both `--conf=FILE` and `--conf FILE` are accepted; given twice, the last file of
/// each kind is the one read, as with any other flag. Arguments after `--` are left alone. Without the
/// `migrate` or `plan` subcommand `args` is returned unchanged.
pub fn expand(args: Vec<String>, known: &[KnownFlag]) -> Result<Vec<String>> {
    let Some(sub) = args.iter().skip(1).position(|a| !a.starts_with('-')).map(|i| i + 1) else {
        return Ok(args);
    };
    if !EXPANDED.contains(&args[sub].as_str()) {
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

fn read(path: &Path, flag: &str) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("{flag}: cannot read config file {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::ini::ini_args;
    use super::yaml::yaml_args;
    use super::*;

    pub(super) fn known() -> Vec<KnownFlag> {
        let mut k: Vec<KnownFlag> = ["host", "port", "user", "password", "master-password", "database", "table"]
            .into_iter()
            .chain(["alter", "chunk-size", "max-lag-millis", "cut-over-lock-timeout-seconds", "throttle-query"])
            .chain(["mysql-timeout", "status-interval"])
            .map(KnownFlag::value)
            .collect();
        k.extend(["execute", "allow-on-master", "ok-to-drop-table"].into_iter().map(KnownFlag::boolean));
        k
    }

    pub(super) fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    pub(super) fn ini(text: &str) -> Result<Vec<String>> {
        ini_args(text, "test.cnf", &known())
    }

    pub(super) fn yaml(text: &str) -> Result<Vec<String>> {
        yaml_args(text, "test.yaml", &known())
    }

    pub(super) fn msg(r: Result<Vec<String>>) -> String {
        r.expect_err("expected an error").to_string()
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

        // `wraith plan` takes migrate's flags, so its files expand the same way.
        let for_plan = s(&["wraith", "plan", "--config", &yml_s]);
        assert_eq!(expand(for_plan, &known()).unwrap(), s(&["wraith", "plan", "--chunk-size=200", "--execute=true"]));

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
}
