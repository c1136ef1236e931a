//! The `wraith` binary: parse flags, set up logging (text, or JSON lines with --log-format=json; a
//! progress bar on a terminal), run the engine, map the outcome to an exit code; print completions and
//! the man page from the same clap definitions.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;
use wraith::config::cli::{normalize_args, Cli, Command, LogFormat};
use wraith::config::conffile;
use wraith::Migrator;

/// Flags whose values are secrets: hidden from the process table once read.
const SECRET_FLAGS: &[&str] = &["password", "master-password"];

/// `wraith plan`'s exit status for usage and connection errors (1 means a blocking finding).
const PLAN_USAGE_ERROR: u8 = 2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let is_plan = argv.iter().skip(1).find(|a| !a.starts_with('-')).is_some_and(|a| a == "plan");
    let usage_error = if is_plan { ExitCode::from(PLAN_USAGE_ERROR) } else { ExitCode::FAILURE };
    // Read: now the values can go from the process's argument memory (`ps`, /proc/<pid>/cmdline).
    process_args::mask(SECRET_FLAGS);
    // Config files (--conf INI, --config YAML) become flags placed before the command line's own.
    let args = match conffile::expand(normalize_args(argv), &conffile::known_flags_from_clap(&Cli::command())) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("FATAL {e}");
            return usage_error;
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("FATAL cannot start runtime: {e}");
            return usage_error;
        }
    };
    if let Command::Plan(args) = cli.command {
        return runtime.block_on(plan(*args));
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            BAR.get().inspect(|b| b.abandon());
            if JSON_LOGS.get() == Some(&true) {
                // Log pipelines read stderr line by line as JSON: the fatal error is one more line.
                let message = if STACK.get() == Some(&true) { format!("FATAL {e:?}") } else { format!("FATAL {e}") };
                eprintln!("{}", json_log::line("ERROR", "wraith", message, serde_json::Map::new()));
            } else if STACK.get() == Some(&true) {
                eprintln!("FATAL {e:?}");
            } else {
                eprintln!("FATAL {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// --stack: print the error with its whole chain of causes.
static STACK: OnceLock<bool> = OnceLock::new();

/// --log-format=json: the fatal error is printed as a JSON line too.
static JSON_LOGS: OnceLock<bool> = OnceLock::new();

/// The progress bar, when stderr is a terminal; log lines are printed above it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

#[derive(Clone, Copy)]
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match BAR.get() {
            Some(bar) => bar.suspend(|| std::io::stderr().write_all(buf)).map(|_| buf.len()),
            None => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

/// `wraith plan`: the plan on stdout; exit 0 (nothing blocks), 1 (a finding blocks), 2 (usage, connection).
async fn plan(mut args: wraith::config::cli::PlanArgs) -> ExitCode {
    let json = args.format == "json";
    let filter = EnvFilter::try_from_env("WRAITH_LOG").unwrap_or_else(|_| EnvFilter::new("wraith=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    if args.migrate.ask_pass {
        match rpassword::prompt_password("Password: ") {
            Ok(p) => args.migrate.password = p,
            Err(e) => {
                eprintln!("FATAL cannot read the password: {e}");
                return ExitCode::from(PLAN_USAGE_ERROR);
            }
        }
    }
    let result = match args.into_settings() {
        Ok(settings) => wraith::plan::plan(&settings).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(p) => {
            println!("{}", if json { wraith::plan::render_json(&p) } else { wraith::plan::render_text(&p) });
            if p.blocked() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("FATAL {e}");
            ExitCode::from(PLAN_USAGE_ERROR)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Plan(_) => anyhow::bail!("wraith plan is run by main, not here"),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "wraith", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { command } => {
            let mut cmd = Cli::command();
            cmd.build();
            let page = match command.as_deref() {
                None => cmd,
                Some(name) => match cmd.find_subcommand(name) {
                    // The page's title names the command as it is typed: `wraith-migrate`.
                    Some(sub) => sub.clone().name(format!("wraith-{name}")),
                    None => anyhow::bail!(
                        "no command {name:?}: `wraith man` for the overview, or one of migrate, plan, ctl"
                    ),
                },
            };
            let mut out = Vec::new();
            clap_mangen::Man::new(page).render(&mut out)?;
            std::io::stdout().write_all(&out)?;
            Ok(())
        }
        Command::Ctl(args) => {
            let token = args.token_file.as_deref().map(wraith::config::read_token_file).transpose()?;
            let reply = wraith::send_command_with_token(
                args.socket.as_deref(),
                args.tcp.as_deref(),
                token.as_ref().map(|t| t.expose()),
                &args.command.join(" "),
            )
            .await?;
            print!("{reply}");
            if reply.starts_with("ERROR") {
                anyhow::bail!("the migration refused the command");
            }
            Ok(())
        }
        Command::Migrate(mut args) => {
            if args.check_flag {
                return Ok(()); // every flag parsed
            }
            if args.ask_pass {
                args.password = rpassword::prompt_password("Password: ")?;
            }
            STACK.set(args.stack).ok();
            // As gh-ost: status lines always; progress messages with --verbose; everything with --debug.
            let directives = if args.debug {
                "wraith=debug"
            } else if args.quiet {
                "wraith=error"
            } else if args.verbose {
                "wraith=info"
            } else {
                "wraith=warn,wraith::status=info"
            };
            let filter = EnvFilter::try_from_env("WRAITH_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
            let tty = std::io::stderr().is_terminal();
            let json = args.log_format == LogFormat::Json;
            JSON_LOGS.set(json).ok();
            let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(LogWriter);
            if json {
                logs.event_format(json_log::JsonLines).init();
            } else {
                logs.with_target(false).with_ansi(tty).init();
            }
            let quiet = args.quiet;
            let cfg = args.into_config()?;
            let m = Arc::new(Migrator::new(cfg));
            let _ = json_log::PHASE.set(m.progress());
            // JSON logs are for machines: no progress bar among them.
            if tty && !quiet && !json {
                let bar = ProgressBar::new(0);
                bar.set_style(
                    ProgressStyle::with_template("{bar:30} {percent:>3}% {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                let _ = BAR.set(bar.clone());
                let mut progress = m.progress();
                tokio::spawn(async move {
                    while progress.changed().await.is_ok() {
                        let p = progress.borrow().clone();
                        bar.set_length(p.estimated.max(p.copied));
                        bar.set_position(p.copied);
                        bar.set_message(p.line);
                    }
                });
            }
            // Ctrl-C stops the run (and every task it started); a second one exits at once.
            tokio::spawn(async {
                let _ = tokio::signal::ctrl_c().await;
                let _ = tokio::signal::ctrl_c().await;
                eprintln!("FATAL interrupted twice: exiting without waiting for the run to stop");
                std::process::exit(1);
            });
            let outcome = m
                .run_until(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await?;
            BAR.get().inspect(|b| b.finish_and_clear());
            println!("{}", outcome.summary());
            Ok(())
        }
    }
}

/// --log-format=json: one object per line, `{"time", "level", "phase", "target", "message", "fields"}`.
mod json_log {
    use std::fmt;
    use std::sync::OnceLock;

    use serde_json::{Map, Value};
    use tracing::field::{Field, Visit};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::registry::LookupSpan;

    /// The run's progress, for each line's phase (`init` until the migration exists).
    pub(super) static PHASE: OnceLock<tokio::sync::watch::Receiver<wraith::Progress>> = OnceLock::new();

    pub(super) struct JsonLines;

    #[derive(Default)]
    struct Fields {
        message: String,
        fields: Map<String, Value>,
    }

    impl Fields {
        fn put(&mut self, field: &Field, v: Value) {
            match (field.name(), v) {
                ("message", Value::String(s)) => self.message = s,
                ("message", v) => self.message = v.to_string(),
                (name, v) => {
                    self.fields.insert(name.to_string(), v);
                }
            }
        }
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.put(field, Value::String(format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.put(field, Value::String(value.to_string()));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.put(field, value.into());
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.put(field, value.into());
        }
        fn record_f64(&mut self, field: &Field, value: f64) {
            self.put(field, value.into());
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.put(field, value.into());
        }
    }

    impl<S, N> FormatEvent<S, N> for JsonLines
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
            let mut f = Fields::default();
            event.record(&mut f);
            let meta = event.metadata();
            writeln!(writer, "{}", line(meta.level().as_str(), meta.target(), f.message, f.fields))
        }
    }

    /// One log line's object.
    pub(super) fn line(level: &str, target: &str, message: String, fields: Map<String, Value>) -> Value {
        let phase = PHASE.get().map_or("init", |p| p.borrow().phase.as_str());
        serde_json::json!({
            "time": humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            "level": level,
            "phase": phase,
            "target": target,
            "message": message,
            "fields": fields,
        })
    }
}

/// A password given on the command line stays readable in `ps` and /proc/<pid>/cmdline for the whole run.
/// As the mysql client does, wraith overwrites the value in its own argument memory once it has read it:
/// the flag stays, the value shows as `***`. (WRAITH_PASSWORD, --ask-pass and config files keep it out of
/// the command line altogether.)
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod process_args {
    use std::ffi::{c_char, c_int, CStr};
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

    static ARGV: AtomicPtr<*mut c_char> = AtomicPtr::new(std::ptr::null_mut());
    static ARGC: AtomicUsize = AtomicUsize::new(0);

    /// glibc calls the functions in .init_array with (argc, argv, envp) before main: keep the pointers.
    #[used]
    #[link_section = ".init_array"]
    static CAPTURE: extern "C" fn(c_int, *mut *mut c_char, *mut *mut c_char) = capture;

    extern "C" fn capture(argc: c_int, argv: *mut *mut c_char, _envp: *mut *mut c_char) {
        ARGC.store(usize::try_from(argc).unwrap_or(0), Ordering::Relaxed);
        ARGV.store(argv, Ordering::Relaxed);
    }

    /// Overwrites the values of `flags` (`--flag=value`, `-flag=value`, `--flag value`) in place.
    pub(super) fn mask(flags: &[&str]) {
        let argv = ARGV.load(Ordering::Relaxed);
        if argv.is_null() {
            return;
        }
        let mut value_next = false;
        for i in 1..ARGC.load(Ordering::Relaxed) {
            // SAFETY: argv holds argc pointers to NUL-terminated strings the kernel laid out for this process,
            // which stay valid for its whole life; std has already copied what it needs from them.
            let p = unsafe { *argv.add(i) };
            if p.is_null() {
                break;
            }
            let len = unsafe { CStr::from_ptr(p) }.to_bytes().len();
            let arg = unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) };
            if std::mem::take(&mut value_next) {
                overwrite(arg);
                continue;
            }
            if arg == b"--" {
                break;
            }
            let eq = arg.iter().position(|&b| b == b'=');
            let name = &arg[..eq.unwrap_or(len)];
            let name = name.strip_prefix(b"--").or_else(|| name.strip_prefix(b"-")).unwrap_or(b"");
            if flags.iter().any(|f| f.as_bytes() == name) {
                match eq {
                    Some(eq) => overwrite(&mut arg[eq + 1..]),
                    None => value_next = true,
                }
            }
        }
    }

    /// `***`, then NULs to the old length (the length of the secret is not shown either).
    fn overwrite(value: &mut [u8]) {
        for (i, b) in value.iter_mut().enumerate() {
            *b = if i < 3 { b'*' } else { 0 };
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod process_args {
    pub(super) fn mask(_flags: &[&str]) {}
}
