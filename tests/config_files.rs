//! Config files (`--conf` gh-ost INI, `--config` YAML) expanded into flags and parsed by the real CLI: values
//! land in the engine's `Config`, and the command line overrides the files. Needs no server.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use wraith::config::cli::{normalize_args, Cli, Command};
use wraith::config::conffile::{expand, known_flags_from_clap};
use wraith::config::Config;

/// A scratch directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("wraith-config-files-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the binary does: normalize Go-style flags, expand config files, parse.
fn parse(args: &[&str]) -> Result<Cli, String> {
    let known = known_flags_from_clap(&Cli::command());
    let argv = expand(normalize_args(args.iter().map(|s| s.to_string())), &known).map_err(|e| e.to_string())?;
    Cli::try_parse_from(argv).map_err(|e| e.to_string())
}

fn config(args: &[&str]) -> Config {
    match parse(args).unwrap().command {
        Command::Migrate(m) => m.into_config().unwrap(),
        other => panic!("not migrate: {other:?}"),
    }
}

const BASE: &[&str] = &["wraith", "migrate", "--database=d", "--table=t", "--alter=add column x int"];

fn with(extra: &[&str]) -> Vec<String> {
    BASE.iter().chain(extra).map(|s| s.to_string()).collect()
}

fn config_of(args: &[String]) -> Config {
    config(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn yaml_values_reach_the_config() {
    let dir = Dir::new("yaml");
    let yml = dir.file(
        "wraith.yaml",
        "# runbook settings\nexecute: true\nchunk-size: 2500\nmax_lag_millis: 2s\n\
         cut-over-lock-timeout-seconds: 5\nok-to-drop-table: true\nthrottle-query: select 0\nstatus-interval: 30s\n",
    );
    let c = config_of(&with(&["--config", &yml]));
    assert!(c.execute && c.tables.ok_to_drop_table);
    assert_eq!(c.copy.chunk_size, 2500);
    assert_eq!(c.throttle.max_lag, Duration::from_millis(2000));
    assert_eq!(c.cut_over.lock_timeout, Duration::from_secs(5));
    assert_eq!(c.throttle.query.as_deref(), Some("select 0"));
    assert_eq!(c.control.status_interval, Duration::from_secs(30));
}

#[test]
fn the_command_line_overrides_files_and_yaml_overrides_ini() {
    let dir = Dir::new("precedence");
    let cnf = dir.file(
        "gh-ost.cnf",
        "[client]\nuser = gromit\npassword = \"s3cr#t\"\n\n[osc]\nchunk_size = 100\nmax_lag_millis = 900\n",
    );
    let yml = dir.file("wraith.yaml", "execute: true\nchunk-size: 200\n");

    let c = config_of(&with(&[&format!("--conf={cnf}"), "--config", &yml]));
    assert_eq!(c.conn.user, "gromit");
    assert_eq!(c.conn.password.expose(), "s3cr#t");
    assert_eq!(c.copy.chunk_size, 200, "YAML overrides INI");
    assert_eq!(c.throttle.max_lag, Duration::from_millis(900));
    assert!(c.execute);

    // Flags before or after the file options override them alike, Go-style flags included.
    let c =
        config_of(&with(&["-chunk-size=300", "--execute=false", "--conf", &cnf, "--config", &yml, "--user=wallace"]));
    assert_eq!(c.copy.chunk_size, 300);
    assert!(!c.execute);
    assert_eq!(c.conn.user, "wallace");
    assert_eq!(c.conn.password.expose(), "s3cr#t");
}

#[test]
fn file_values_are_validated_like_flags() {
    let dir = Dir::new("validate");
    let bad_port = dir.file("port.yaml", "port: not-a-port\n");
    let e = parse(&with(&["--config", &bad_port]).iter().map(String::as_str).collect::<Vec<_>>()).unwrap_err();
    assert!(e.contains("--port"), "{e}");

    let unknown = dir.file("unknown.yaml", "max-lag: 2s\n");
    let e = parse(&with(&["--config", &unknown]).iter().map(String::as_str).collect::<Vec<_>>()).unwrap_err();
    assert!(e.contains("unknown.yaml") && e.contains("max-lag-millis"), "{e}");

    let unknown = dir.file("unknown.cnf", "[osc]\nchunk_sizes = 5\n");
    let e = parse(&with(&["--conf", &unknown]).iter().map(String::as_str).collect::<Vec<_>>()).unwrap_err();
    assert!(e.contains("unknown.cnf") && e.contains("[osc] chunk_sizes") && e.contains("chunk-size"), "{e}");

    let missing = dir.0.join("absent.yaml").display().to_string();
    let e = parse(&with(&["--config", &missing]).iter().map(String::as_str).collect::<Vec<_>>()).unwrap_err();
    assert!(e.contains("absent.yaml"), "{e}");
}

#[test]
fn every_flag_of_the_cli_can_be_set_from_a_file() {
    // Booleans as `false`, the rest as their clap defaults would be: each must parse as a flag argument.
    let known = known_flags_from_clap(&Cli::command());
    assert!(known.len() > 30, "{known:?}");
    let mut yaml = String::new();
    for f in &known {
        if !f.takes_value {
            yaml.push_str(&format!("{}: false\n", f.name));
        }
    }
    yaml.push_str("chunk-size: 500\nheartbeat-interval-millis: 250ms\ncheckpoint-seconds: 2m\n");
    let dir = Dir::new("all");
    let yml = dir.file("all.yaml", &yaml);
    let c = config_of(&with(&["--config", &yml]));
    assert!(!c.execute);
    assert_eq!(c.copy.chunk_size, 500);
    assert_eq!(c.throttle.heartbeat_interval, Duration::from_millis(250));
    assert_eq!(c.checkpoint.interval, Duration::from_secs(120));
}
