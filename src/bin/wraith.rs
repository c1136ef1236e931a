//! The `wraith` binary: parse flags, set up logging, run the engine, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use wraith::cli::{normalize_args, Cli, Command};
use wraith::migrator::Migrator;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(normalize_args(std::env::args())) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wraith: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("FATAL {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Migrate(args) => {
            let level = if args.debug {
                "debug"
            } else if args.verbose {
                "info"
            } else if args.quiet {
                "error"
            } else {
                "info"
            };
            let filter =
                EnvFilter::try_from_env("WRAITH_LOG").unwrap_or_else(|_| EnvFilter::new(format!("wraith={level}")));
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
            let cfg = args.into_config()?;
            let m = Migrator::new(cfg);
            let outcome = tokio::select! {
                r = m.run() => r?,
                _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted: the original table is untouched; the ghost and changelog tables may remain"),
            };
            if outcome.executed {
                println!(
                    "wraith: migrated in {:.1}s: {} rows copied, {} binlog changes applied, writes blocked {:.0} ms at cut-over{}",
                    outcome.elapsed.as_secs_f64(),
                    outcome.rows_copied,
                    outcome.events_applied,
                    outcome.cut_over_locked_for.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
                    if outcome.left_behind.is_empty() {
                        String::new()
                    } else {
                        format!("; left: {}", outcome.left_behind.join(", "))
                    }
                );
            } else {
                println!("wraith: noop run: validation passed; add --execute to migrate");
            }
            Ok(())
        }
    }
}
