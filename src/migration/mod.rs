//! The migrator: the one state machine of a run. It validates (inspector), creates the ghost and changelog
//! tables, starts the binlog streamer before reading the copy range, runs the copier while applying the
//! binlog (applier), throttles, waits out a postponed cut-over, cuts over (cutover), and cleans up.
//! Any failure leaves the original table untouched and says what was left behind.

pub(crate) mod checkpoint;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::config::{Config, Endpoint};
use crate::control::hooks::{HookContext, HookEvent, HookProgress, Hooks};
use crate::control::server::{self, Control};
use crate::control::status::Metrics;
use crate::control::throttle::{self, ThrottleConfig, ThrottleStats};
use crate::copy::frontier::Frontier;
use crate::copy::{self, CopyPlan, CopyProgress};
use crate::cutover::CutOver;
use crate::error::{Error, Result};
use crate::mysql::alter;
use crate::mysql::connect::{self, connect, setup_writer, WriterMode};
use crate::mysql::gtid::GtidSet;
use crate::mysql::inspector::{self, query_value};
use crate::mysql::schema::TableInfo;
pub use crate::mysql::sql::TableNames;
use crate::mysql::sql::{ident, qualified, quote};
use crate::replication::applier::{Applier, ApplyPlan, ApplyStats};
use crate::replication::changelog;
use crate::replication::streamer::{self, StreamItem, StreamStats, StreamerConfig};
use checkpoint::Checkpoint;

/// Capacity of the streamer -> applier channel: bounds memory, and lets the streamer run ahead a little.
const BACKLOG: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// False for a noop run (no --execute).
    pub executed: bool,
    pub rows_copied: u64,
    pub events_applied: u64,
    /// How long writes were blocked by the cut-over.
    pub cut_over_locked_for: Option<Duration>,
    /// What remains for the operator (the old table when not dropped).
    pub left_behind: Vec<String>,
    pub elapsed: Duration,
    /// The copy ran in parallel with non-locking reads (integer key).
    pub parallel_copy: bool,
    /// Binlog changes dropped because the copy had not reached their key yet.
    pub changes_dropped: u64,
    /// Applier batches that waited for a chunk in flight.
    pub applier_waits: u64,
}

/// Everything validated before any table is created.
struct Validated {
    primary: Endpoint,
    primary_opts: Opts,
    inspect_opts: Opts,
    table: TableInfo,
    renames: Vec<(String, String)>,
    alter_sets_auto_increment: bool,
    /// --include-triggers: each trigger of the table and the name it gets on the new table.
    ghost_triggers: Vec<(inspector::Trigger, String)>,
}

pub struct Migrator {
    cfg: Config,
    names: TableNames,
    state: watch::Sender<String>,
    progress: watch::Sender<Progress>,
    /// Replaced once the migrated host is known.
    hooks: std::sync::Mutex<Hooks>,
}

/// A snapshot for progress displays: rows copied of the estimate, and the status line.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub copied: u64,
    pub estimated: u64,
    pub line: String,
}

impl Migrator {
    pub fn new(cfg: Config) -> Self {
        let ts = cfg.timestamp_old_table.then(timestamp);
        let mut names = TableNames::new(cfg.force_table_names.as_deref().unwrap_or(&cfg.table), ts.as_deref());
        names.original = cfg.table.clone();
        let (state, _) = watch::channel("init".to_string());
        let (progress, _) = watch::channel(Progress::default());
        let hooks = std::sync::Mutex::new(Hooks::new(cfg.hooks_path.clone(), hook_context(&cfg, &names, "")));
        Migrator { cfg, names, state, progress, hooks }
    }

    pub fn names(&self) -> &TableNames {
        &self.names
    }

    /// Watch the phase name ("validating", "migrating", "postponing cut-over", "cut-over", "done").
    pub fn state(&self) -> watch::Receiver<String> {
        self.state.subscribe()
    }

    /// Watch progress (updated every status interval and at least once a second).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    fn set_state(&self, s: &str) {
        self.state.send_replace(s.to_string());
    }

    fn hooks(&self) -> Hooks {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Runs the hooks of `event` (nothing when --hooks-path is not set).
    async fn hook(&self, event: HookEvent, progress: &HookProgress) -> Result<()> {
        let hooks = self.hooks();
        if !hooks.is_enabled() {
            return Ok(());
        }
        hooks.run(&event, progress).await
    }

    pub async fn run(&self) -> Result<Outcome> {
        let started = Instant::now();
        let result = self.run_hooked(started).await;
        let mut p = HookProgress { elapsed: started.elapsed(), ..Default::default() };
        match &result {
            Ok(o) if o.executed => {
                p.copied_rows = o.rows_copied;
                p.estimated_rows = o.rows_copied;
                p.progress_pct = 100.0;
                if let Err(e) = self.hook(HookEvent::Success, &p).await {
                    let _ = self.hook(HookEvent::Failure, &p).await;
                    return Err(Error::Context {
                        context: "the migration completed (the table has its new schema), but".into(),
                        source: Box::new(e),
                    });
                }
            }
            Ok(_) => {}
            Err(_) => {
                // Its own failure is only logged by the hooks module; the migration's error is what matters.
                let _ = self.hook(HookEvent::Failure, &p).await;
            }
        }
        result
    }

    async fn run_hooked(&self, started: Instant) -> Result<Outcome> {
        self.hook(HookEvent::Startup, &HookProgress::default()).await?;
        self.set_state("validating");
        let v = self.validate().await?;
        *self.hooks.lock().unwrap_or_else(|p| p.into_inner()) =
            Hooks::new(self.cfg.hooks_path.clone(), hook_context(&self.cfg, &self.names, &v.primary.host));
        self.hook(HookEvent::Validated, &HookProgress { elapsed: started.elapsed(), ..Default::default() }).await?;
        let mut lock_conn = connect(&v.primary_opts, "primary", self.cfg.conn.timeout).await?;
        let lock_name = lock_name(&self.cfg.database, &self.cfg.table);
        let got: Option<Option<i64>> =
            lock_conn.query_first(format!("SELECT GET_LOCK({}, 0)", quote(&lock_name))).await?;
        if got != Some(Some(1)) {
            return Err(Error::AlreadyRunning {
                table: format!("{}.{}", self.cfg.database, self.cfg.table),
                lock: lock_name,
            });
        }
        let result = self.run_locked(&v, started).await;
        let _ = lock_conn.query_drop(format!("DO RELEASE_LOCK({})", quote(&lock_name))).await;
        let _ = lock_conn.disconnect().await;
        result
    }

    async fn validate(&self) -> Result<Validated> {
        let c = &self.cfg;
        let inspect_opts = connect::inspect_opts(c);
        let mut insp = connect(&inspect_opts, "inspected server", c.conn.timeout).await?;
        let mut insp_info = inspector::server_info(&mut insp).await?;
        if !c.conn.skip_port_validation && insp_info.port != c.conn.inspect.port {
            return Err(Error::precondition(
                format!(
                    "Unexpected database port reported: {} (connected to {}); a proxy in between?",
                    insp_info.port, c.conn.inspect
                ),
                "connect to the server directly, or pass --skip-port-validation",
            ));
        }
        if c.switch_to_rbr && insp_info.binlog_format != "ROW" {
            info!("--switch-to-rbr: setting binlog_format=ROW on {} and restarting replication", c.conn.inspect);
            insp.query_drop("SET GLOBAL binlog_format = 'ROW'").await?;
            insp.query_drop("STOP REPLICA; START REPLICA").await?;
            insp_info = inspector::server_info(&mut insp).await?;
        }
        let on_replica = c.test_on_replica || c.migrate_on_replica;
        // With --assume-master-host the source is given: its lookup needs performance_schema, which
        // the operator may not have granted (the refusal's hint points here).
        let source = if c.conn.assume_master_host.is_some() && !on_replica {
            None
        } else {
            inspector::replication_source(&mut insp).await?
        };
        if on_replica && source.is_none() {
            return Err(Error::precondition(
                format!("{} is not a replica, but --test-on-replica/--migrate-on-replica was given", c.conn.inspect),
                "point --host at a replica",
            ));
        }
        let primary = match (&c.conn.assume_master_host, source) {
            // The replica itself is migrated: it is where the ghost table lives.
            _ if on_replica => c.conn.inspect.clone(),
            (Some(p), _) => p.clone(),
            (None, Some(src)) => src,
            (None, None) if c.allow_on_master => c.conn.inspect.clone(),
            (None, None) => {
                return Err(Error::precondition(
                    format!("{} has no replication source: it looks like a primary", c.conn.inspect),
                    "point --host at a replica, or pass --allow-on-master to migrate on this server directly",
                ))
            }
        };
        let primary_opts = connect::primary_opts(c, &primary);
        let mut prim = connect(&primary_opts, "primary", c.conn.timeout).await?;
        let prim_info = inspector::server_info(&mut prim).await?;
        let same_server = prim_info.server_uuid == insp_info.server_uuid;
        // The binlog read must hold the application's writes, which reach a replica by replication: that
        // needs log_replica_updates unless the inspected server is the primary itself.
        let app_writes_replicated = !same_server || on_replica;
        inspector::check_binlog(&insp_info, &format!("inspected server {}", c.conn.inspect), app_writes_replicated)?;
        if !same_server {
            inspector::check_binlog(&prim_info, &format!("primary {primary}"), false)?;
        }
        if prim_info.read_only && !on_replica {
            return Err(Error::precondition(
                format!("the primary {primary} is read_only"),
                "check --assume-master-host / the replica's replication source: wraith writes on the primary",
            ));
        }
        inspector::check_privileges(&mut prim, &c.database, true, true).await?;
        // A misspelt status variable would throttle (max-load) or abort (critical-load) later: refuse now.
        for (flag, limits) in [("--max-load", &c.max_load), ("--critical-load", &c.critical_load)] {
            for (name, _) in &limits.0 {
                let found: Option<(String, String)> =
                    prim.query_first(format!("SHOW GLOBAL STATUS LIKE {}", quote(name))).await?;
                if found.is_none() {
                    return Err(Error::precondition(
                        format!("{flag}: the server has no status variable {name}"),
                        "see SHOW GLOBAL STATUS for the names, e.g. Threads_running",
                    ));
                }
            }
        }
        inspector::check_privileges(&mut insp, &c.database, false, true).await?;

        let table = inspector::table_info(&mut insp, &c.database, &c.table).await?.ok_or_else(|| {
            Error::precondition(
                format!("table {}.{} does not exist on {}", c.database, c.table, c.conn.inspect),
                "check --database and --table",
            )
        })?;
        if !table.engine.eq_ignore_ascii_case("innodb") {
            return Err(Error::precondition(
                format!("{}.{} uses engine {}, not InnoDB", c.database, c.table, table.engine),
                "wraith migrates InnoDB tables only",
            ));
        }
        let (child, parent) = if c.skip_foreign_key_checks {
            (Vec::new(), Vec::new())
        } else {
            inspector::foreign_keys(&mut insp, &c.database, &c.table).await?
        };
        if !child.is_empty() && c.discard_foreign_keys {
            warn!(
                "--discard-foreign-keys: the new {}.{} will not have these foreign keys: {}",
                c.database,
                c.table,
                child.join(", ")
            );
        }
        let child = if c.discard_foreign_keys { Vec::new() } else { child };
        for (fks, side) in [(&child, "Child"), (&parent, "Parent")] {
            if !fks.is_empty() {
                return Err(Error::precondition(
                    format!(
                        "found {} {}-side foreign keys on {}.{} ({}). {side}-side foreign keys are not supported. Bailing out",
                        fks.len(),
                        side.to_lowercase(),
                        c.database,
                        c.table,
                        fks.join(", ")
                    ),
                    "online migration cannot keep foreign keys pointing at the right table; drop them first",
                ));
            }
        }
        let triggers = inspector::triggers(&mut insp, &c.database, &c.table).await?;
        let names: Vec<String> = triggers.iter().map(|t| t.name.clone()).collect();
        if !triggers.is_empty() && !c.include_triggers {
            return Err(Error::precondition(
                format!("{}.{} has triggers: {}", c.database, c.table, names.join(", ")),
                "pass --include-triggers --trigger-suffix=<suffix> to recreate them on the new table, or drop them first",
            ));
        }
        let mut ghost_triggers = Vec::new();
        for t in &triggers {
            let ghost_name =
                inspector::ghost_trigger_name(&t.name, &c.trigger_suffix, c.remove_trigger_suffix_if_exists);
            if ghost_name.chars().count() > 64 {
                return Err(Error::precondition(
                    format!("trigger name {ghost_name} (for {}) is longer than 64 characters", t.name),
                    "use a shorter --trigger-suffix, or rename the trigger",
                ));
            }
            ghost_triggers.push((t.clone(), ghost_name));
        }
        let wanted: Vec<String> = ghost_triggers.iter().map(|(_, n)| n.clone()).collect();
        let clashing = inspector::existing_triggers(&mut insp, &c.database, &wanted).await?;
        if !clashing.is_empty() {
            return Err(Error::precondition(
                format!(
                    "found gh-ost triggers: {} already exist in schema {} (trigger names are unique per schema)",
                    clashing.join(", "),
                    c.database
                ),
                "drop them (a leftover of an earlier migration?) or choose another --trigger-suffix / --remove-trigger-suffix-if-exists",
            ));
        }
        if let Some(sock) = &c.serve_socket_file {
            if sock.exists() && !c.initially_drop_socket_file {
                return Err(Error::precondition(
                    format!("socket file {} already exists (another migration, or a leftover?)", sock.display()),
                    "remove it, or pass --initially-drop-socket-file",
                ));
            }
        }
        let a = alter::analyze(&c.alter)?;
        a.check_supported()?;
        if a.adds_foreign_key {
            return Err(Error::precondition(
                "the ALTER adds a foreign key",
                "foreign keys cannot be migrated online; add it with a plain ALTER afterwards",
            ));
        }
        let renames = if a.renamed_columns.is_empty() || c.approve_renamed_columns {
            a.renamed_columns.clone()
        } else if c.skip_renamed_columns {
            Vec::new()
        } else {
            let list: Vec<String> = a.renamed_columns.iter().map(|(o, n)| format!("{o} -> {n}")).collect();
            return Err(Error::precondition(
                format!(
                    "the ALTER renames columns ({}); gh-ost-style tools must be told whether to carry the data over",
                    list.join(", ")
                ),
                "pass --approve-renamed-columns to copy the renamed columns' data, or --skip-renamed-columns to leave them empty",
            ));
        };
        let _ = insp.disconnect().await;
        let _ = prim.disconnect().await;
        Ok(Validated {
            primary,
            primary_opts,
            inspect_opts,
            table,
            renames,
            alter_sets_auto_increment: a.auto_increment.is_some(),
            ghost_triggers,
        })
    }

    async fn run_locked(&self, v: &Validated, started: Instant) -> Result<Outcome> {
        let c = &self.cfg;
        let n = &self.names;
        let db = &c.database;
        let mut prim = connect(&v.primary_opts, "primary", c.conn.timeout).await?;
        // The ghost's ALTER runs with the writers' sql_mode, so --allow-zero-in-date applies to it too.
        setup_writer(&mut prim, WriterMode::of(c)).await?;
        // Leftovers: refuse, or drop when told to.
        for (name, flag, allowed) in [
            (&n.ghost, "--initially-drop-ghost-table", c.initially_drop_ghost_table),
            (&n.old, "--initially-drop-old-table", c.initially_drop_old_table),
        ] {
            if c.resume && name == &n.ghost {
                continue; // resuming continues with it
            }
            if inspector::table_exists(&mut prim, db, name).await? {
                if !allowed {
                    return Err(Error::precondition(
                        format!("table {db}.{name} already exists (left by an earlier run?)"),
                        format!("drop it (DROP TABLE {}) or pass {flag}", qualified(db, name)),
                    ));
                }
                info!("dropping leftover {db}.{name} ({flag})");
                prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, name))).await?;
            }
        }
        let ghost_q = qualified(db, &n.ghost);
        // Instant DDL changes the table in place: never in --test-on-replica, whose point is to leave it be.
        if c.attempt_instant_ddl && c.execute && !c.resume && !c.test_on_replica {
            let sql = format!("ALTER TABLE {} {}, ALGORITHM=INSTANT", qualified(db, &c.table), c.alter);
            match prim.query_drop(&sql).await {
                Ok(()) => {
                    info!("--attempt-instant-ddl: MySQL applied the ALTER instantly; no copy needed");
                    self.set_state("done");
                    return Ok(Outcome {
                        executed: true,
                        rows_copied: 0,
                        events_applied: 0,
                        cut_over_locked_for: None,
                        left_behind: vec![],
                        elapsed: started.elapsed(),
                        ..Outcome::default()
                    });
                }
                Err(e) => info!("--attempt-instant-ddl: not possible ({}); migrating with a copy", e),
            }
        }
        if c.resume {
            return self.resume(v, prim, started).await;
        }
        // The ghost table: created, altered and inspected even in noop mode, then dropped.
        prim.query_drop(format!("CREATE TABLE {ghost_q} LIKE {}", qualified(db, &c.table))).await?;
        let created = async {
            if let Err(e) = prim.query_drop(format!("ALTER TABLE {ghost_q} {}", c.alter)).await {
                return Err(Error::precondition(
                    format!("{} (running the ALTER on the ghost table)", crate::error::server_error_text(&e)),
                    "fix the --alter statement; the original table was not touched",
                ));
            }
            // Like gh-ost: the ghost continues the original's AUTO_INCREMENT unless the ALTER sets one.
            if v.alter_sets_auto_increment {
                // keep the ALTER's value
            } else if let Some(ai) = inspector::auto_increment(&mut prim, db, &c.table).await? {
                prim.query_drop(format!("ALTER TABLE {ghost_q} AUTO_INCREMENT = {ai}")).await?;
            }
            let new = inspector::table_info(&mut prim, db, &n.ghost)
                .await?
                .ok_or_else(|| Error::Binlog("ghost table vanished".into()))?;
            self.plans(v, &new)
        }
        .await;
        let (apply_plan, copy_plan) = match created {
            Ok(p) => p,
            Err(e) => {
                let _ = prim.query_drop(format!("DROP TABLE IF EXISTS {ghost_q}")).await;
                return Err(e);
            }
        };
        info!(
            "migrating {db}.{} on {} (inspected {}), key {} ({}), {} columns copied",
            c.table,
            v.primary,
            c.conn.inspect,
            copy_plan.key_index,
            copy_plan.key_columns.join(", "),
            copy_plan.source_columns.len()
        );
        if !c.execute {
            prim.query_drop(format!("DROP TABLE IF EXISTS {ghost_q}")).await?;
            info!("noop: validation passed; --execute was not given, so nothing was migrated and the ghost table was dropped");
            self.set_state("done (noop)");
            return Ok(Outcome {
                executed: false,
                rows_copied: 0,
                events_applied: 0,
                cut_over_locked_for: None,
                left_behind: vec![],
                elapsed: started.elapsed(),
                ..Outcome::default()
            });
        }
        if c.checkpoint {
            prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(db, &n.checkpoint))).await?;
            checkpoint::create(&mut prim, db, &n.checkpoint).await?;
        }
        self.migrate_and_report(v, prim, apply_plan, copy_plan, None, started).await
    }

    /// --resume: continue from the latest checkpoint with the existing ghost table.
    async fn resume(&self, v: &Validated, mut prim: Conn, started: Instant) -> Result<Outcome> {
        let c = &self.cfg;
        let (db, n) = (&c.database, &self.names);
        let hint = "run without --resume to start over (with --initially-drop-ghost-table)";
        let new = inspector::table_info(&mut prim, db, &n.ghost).await?.ok_or_else(|| {
            Error::precondition(format!("--resume: the ghost table {db}.{} does not exist", n.ghost), hint)
        })?;
        if !inspector::table_exists(&mut prim, db, &n.checkpoint).await? {
            return Err(Error::precondition(format!("--resume: no checkpoint table {db}.{}", n.checkpoint), hint));
        }
        let cp = checkpoint::read_latest(&mut prim, db, &n.checkpoint)
            .await?
            .ok_or_else(|| Error::precondition(format!("--resume: {db}.{} holds no checkpoint", n.checkpoint), hint))?;
        if cp.alter != c.alter {
            return Err(Error::precondition(
                format!("--resume: the checkpoint was taken for --alter={:?}, not {:?}", cp.alter, c.alter),
                "resume with the same --alter",
            ));
        }
        let (apply_plan, copy_plan) = self.plans(v, &new)?;
        info!(
            "resuming {db}.{} from checkpoint: {} rows copied{}, binlog applied through {}",
            c.table,
            cp.rows_copied,
            if cp.copy_done { " (copy complete)" } else { "" },
            cp.applied
        );
        if !c.execute {
            info!("noop: the checkpoint is usable; add --execute to resume");
            self.set_state("done (noop)");
            return Ok(Outcome {
                executed: false,
                rows_copied: 0,
                events_applied: 0,
                cut_over_locked_for: None,
                left_behind: vec![],
                elapsed: started.elapsed(),
                ..Outcome::default()
            });
        }
        self.migrate_and_report(v, prim, apply_plan, copy_plan, Some(cp), started).await
    }

    async fn migrate_and_report(
        &self,
        v: &Validated,
        mut prim: Conn,
        apply_plan: ApplyPlan,
        copy_plan: CopyPlan,
        resume: Option<Checkpoint>,
        started: Instant,
    ) -> Result<Outcome> {
        let c = &self.cfg;
        let (db, n) = (&c.database, &self.names);
        let ghost_q = qualified(db, &n.ghost);
        changelog::create(&mut prim, db, &n.changelog).await?;
        // As gh-ost: the first state row marks when the migration began (runbooks' throttle queries read it).
        changelog::write(&mut prim, db, &n.changelog, changelog::STATE, "GhostTableMigrated").await?;
        let result = self.migrate(v, &mut prim, apply_plan, copy_plan, resume, started).await;
        match result {
            Ok(o) => Ok(o),
            Err(e) => {
                let resumable = if c.checkpoint {
                    format!(", and checkpoint {} (continue with --resume)", n.checkpoint)
                } else {
                    String::new()
                };
                let left = format!(
                    "the original table {db}.{} is untouched. Left behind for inspection: {}, {}{resumable}. \
                     Clean up with: DROP TABLE IF EXISTS {}, {}, {}; (or rerun with --initially-drop-ghost-table)",
                    c.table,
                    n.ghost,
                    n.changelog,
                    ghost_q,
                    qualified(db, &n.changelog),
                    qualified(db, &n.checkpoint)
                );
                warn!("migration failed: {e}; {left}");
                Err(Error::Context { context: format!("migration failed ({left})"), source: Box::new(e) })
            }
        }
    }

    fn plans(&self, v: &Validated, new: &TableInfo) -> Result<(ApplyPlan, CopyPlan)> {
        let c = &self.cfg;
        let old = &v.table;
        let key = inspector::choose_migration_key(old, new, &v.renames, c.allow_nullable_unique_key)?;
        let shared = inspector::shared_columns(old, new, &v.renames);
        let pos = |name: &str| old.columns.iter().position(|c| c.name.eq_ignore_ascii_case(name));
        let mut columns = Vec::new();
        for (o, nn) in &shared {
            let i = pos(o).ok_or_else(|| Error::Binlog(format!("column {o} vanished")))?;
            columns.push((i, old.columns[i].clone(), nn.clone()));
        }
        let map_name = |col: &str| {
            v.renames
                .iter()
                .find(|(o, _)| o.eq_ignore_ascii_case(col))
                .map(|(_, n)| n.clone())
                .unwrap_or(col.to_string())
        };
        let mut key_cols = Vec::new();
        for k in &key.columns {
            let i = pos(k).ok_or_else(|| Error::Binlog(format!("key column {k} vanished")))?;
            let target = new.column(&map_name(k)).map(|c| c.name.clone()).unwrap_or(map_name(k));
            key_cols.push((i, old.columns[i].clone(), target));
        }
        let copy = CopyPlan {
            database: c.database.clone(),
            table: c.table.clone(),
            ghost: self.names.ghost.clone(),
            key_index: key.name.clone(),
            key_columns: key.columns.clone(),
            ghost_key_columns: key_cols.iter().map(|(_, _, n)| n.clone()).collect(),
            key_nullable: key.nullable,
            key_numeric: key
                .columns
                .iter()
                .map(|k| old.column(k).is_some_and(|c| matches!(c.data_type.as_str(), "enum" | "set")))
                .collect(),
            source_columns: shared.iter().map(|(o, _)| o.clone()).collect(),
            ghost_columns: shared.iter().map(|(_, n)| n.clone()).collect(),
            panic_on_warnings: c.panic_on_warnings,
            int_key: key.columns.len() == 1
                && !key.nullable
                && old
                    .column(&key.columns[0])
                    .is_some_and(|c| crate::mysql::value::integer_bits(&c.data_type).is_some()),
        };
        let apply = ApplyPlan::new(&c.database, &self.names.ghost, columns, key_cols);
        Ok((apply, copy))
    }

    async fn migrate(
        &self,
        v: &Validated,
        prim: &mut Conn,
        apply_plan: ApplyPlan,
        copy_plan: CopyPlan,
        resume: Option<Checkpoint>,
        started: Instant,
    ) -> Result<Outcome> {
        let c = &self.cfg;
        let n = &self.names;
        let db = c.database.clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        // Stop the helpers however this function ends.
        struct StopOnDrop(watch::Sender<bool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                let _ = self.0.send(true);
            }
        }
        let _stop = StopOnDrop(stop_tx);

        let hb = connect(&v.primary_opts, "primary (heartbeat)", c.conn.timeout).await?;
        tokio::spawn(changelog::heartbeat_loop(
            hb,
            db.clone(),
            n.changelog.clone(),
            c.heartbeat_interval,
            stop_rx.clone(),
        ));

        // The binlog position is taken before the copy range, so every change the copy can miss is streamed.
        // The binlog is read from the server that holds the ghost table (the primary, or the replica in the
        // on-replica modes): changes reach the applier without waiting for replication, and the cut-over's
        // lock is not held for the replica's lag. Replica lag is still measured (heartbeat) and throttled on.
        let insp = connect(&v.inspect_opts, "inspected server", c.conn.timeout).await?;
        let start = match &resume {
            // Everything after the checkpoint's applied set is streamed again (idempotently).
            Some(cp) => cp.applied.clone(),
            None => GtidSet::parse(&query_value(prim, "SELECT @@global.gtid_executed").await?.unwrap_or_default())?,
        };
        let (tx, mut rx) = mpsc::channel::<StreamItem>(BACKLOG);
        let stream_stats = Arc::new(StreamStats::default());
        let scfg = StreamerConfig {
            opts: v.primary_opts.clone(),
            server_id: c.conn.replica_server_id,
            database: db.clone(),
            table: c.table.clone(),
            changelog: n.changelog.clone(),
            columns: v.table.columns.len(),
            read_timeout: Duration::from_secs(10).max(c.conn.timeout),
            max_reconnects: c.default_retries,
        };
        let start_set = start.clone();
        let mut streamer = tokio::spawn(streamer::run(scfg, start, tx, stream_stats.clone()));

        let mut copy_conn = connect(&v.primary_opts, "primary (copy)", c.conn.timeout).await?;
        setup_writer(&mut copy_conn, WriterMode::of(c)).await?;
        let range = match &resume {
            None => copy_plan.read_range(&mut copy_conn).await?,
            Some(cp) if cp.copy_done => None,
            // The range's max is the one fixed at the first start: rows above it came through the binlog.
            Some(cp) => match (&cp.copy_max_key, copy_plan.read_edge(&mut copy_conn, false).await?) {
                (Some(max), Some(min)) => {
                    Some(copy::Range { min, max: max.clone(), resume_after: cp.copy_last_key.clone() })
                }
                _ => None,
            },
        };
        let copy_max = range.as_ref().map(|r| r.max.clone());
        // An integer key gets the parallel copy, coordinated with the applier through the frontier.
        let frontier = match (&range, copy_plan.int_key) {
            (Some(r), true) => copy::int_range(r).map(|(after, max)| Arc::new(Frontier::new(after, max))),
            _ => None,
        };
        if let (Some(f), Some(_)) = (&frontier, &resume) {
            // Chunks above the resume point may have committed before the stop, and the applier may have
            // written keys there: clear them, so the copy finds that part of the ghost table empty again.
            let next = f.next_start().unwrap_or(i128::MAX);
            let cleared = copy_conn
                .exec_iter(
                    format!(
                        "DELETE FROM {} WHERE {} BETWEEN {next} AND {}",
                        qualified(&db, &n.ghost),
                        ident(&copy_plan.ghost_key_columns[0]),
                        f.max()
                    ),
                    (),
                )
                .await?
                .affected_rows();
            info!("resume: cleared {cleared} ghost rows above the checkpoint's copy position");
        }
        let count_sql = format!("SELECT COUNT(*) FROM {}", qualified(&db, &c.table));
        let concurrent_count = c.exact_rowcount && c.concurrent_rowcount;
        let estimated = if c.exact_rowcount && !concurrent_count {
            query_value(prim, &count_sql).await?.and_then(|s| s.parse().ok()).unwrap_or(0)
        } else {
            v.table.estimated_rows
        };
        // --concurrent-rowcount: the exact count arrives while the copy runs.
        let (count_tx, mut count_rx) = tokio::sync::oneshot::channel::<u64>();
        if concurrent_count {
            let opts = v.primary_opts.clone();
            let timeout = c.conn.timeout;
            tokio::spawn(async move {
                if let Ok(mut conn) = connect(&opts, "primary (row count)", timeout).await {
                    if let Ok(Some(n)) = query_value(&mut conn, &count_sql).await {
                        let _ = count_tx.send(n.parse().unwrap_or(0));
                    }
                }
            });
        }

        let control = Arc::new(self.control(v));
        let _server =
            server::serve(c.serve_socket_file.clone(), c.initially_drop_socket_file, c.serve_tcp_port, control.clone())
                .await?;
        let hp = HookProgress { elapsed: started.elapsed(), estimated_rows: estimated, ..Default::default() };
        if !concurrent_count {
            self.hook(HookEvent::RowCountComplete, &hp).await?;
        }
        let (throttle_tx, throttle_rx) = watch::channel(Some("starting".to_string()));
        let throttle_stats = Arc::new(ThrottleStats::default());
        let mut flag_files: Vec<_> = c.throttle_flag_file.iter().cloned().collect();
        flag_files.extend(c.throttle_additional_flag_file.iter().cloned());
        let tcfg = ThrottleConfig {
            database: db.clone(),
            changelog: n.changelog.clone(),
            flag_files,
            replica_opts: v.inspect_opts.clone(),
            critical_load_interval: c.critical_load_interval,
            critical_load_hibernate: c.critical_load_hibernate,
        };
        let tmig = connect(&v.primary_opts, "primary (throttle)", c.conn.timeout).await?;
        tokio::spawn(throttle::run(
            tcfg,
            insp,
            tmig,
            throttle_tx,
            throttle_stats.clone(),
            control.clone(),
            stop_rx.clone(),
        ));

        let copy_progress =
            Arc::new(CopyProgress { chunk_size: control.chunk_size.clone(), ..CopyProgress::default() });
        let apply_stats = Arc::new(ApplyStats::default());
        let mut metrics = Metrics {
            started,
            copy_started: Some(Instant::now()),
            estimated_rows: estimated,
            copy: copy_progress.clone(),
            apply: apply_stats.clone(),
            stream: stream_stats.clone(),
            throttle: throttle_stats.clone(),
            backlog_capacity: BACKLOG,
        };
        self.set_state("migrating");
        self.hook(HookEvent::BeforeRowCopy, &hp).await?;
        let copy_env = |mode| copy::CopyEnv {
            opts: v.primary_opts.clone(),
            mode,
            retries: c.default_retries,
            control: control.clone(),
            hooks: self.hooks(),
            chunk_time: c.chunk_time,
        };
        let mut copier = match &frontier {
            Some(f) => {
                drop(copy_conn);
                info!("copying with {} parallel workers (non-locking reads)", c.copy_workers);
                tokio::spawn(copy::run_parallel(
                    copy_plan,
                    copy_env(WriterMode::of(c).read_committed()),
                    f.clone(),
                    c.copy_workers,
                    copy_progress.clone(),
                    throttle_rx.clone(),
                ))
            }
            None => tokio::spawn(copy::run(
                copy_plan,
                copy_conn,
                copy_env(WriterMode::of(c)),
                range,
                copy_progress.clone(),
                throttle_rx.clone(),
            )),
        };

        let mut apply_conn = connect(&v.primary_opts, "primary (applier)", c.conn.timeout).await?;
        setup_writer(&mut apply_conn, WriterMode::of(c).read_committed()).await?;
        let mut applier = Applier::new(apply_plan, c.dml_batch_size, apply_stats.clone());
        applier.set_frontier(frontier.clone());
        applier.applied = start_set.clone();
        let mut checkpoint_tick = tokio::time::interval(c.checkpoint_interval);
        checkpoint_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        checkpoint_tick.reset();
        let mut checkpoint_conn = match c.checkpoint {
            true => Some(connect(&v.primary_opts, "primary (checkpoint)", c.conn.timeout).await?),
            false => None,
        };
        let copied_before = resume.as_ref().map_or(0, |cp| cp.rows_copied);
        let mut status_tick = tokio::time::interval(c.status_interval.min(Duration::from_secs(1)));
        let mut last_status_log = Instant::now();
        let mut last_status_hook = Instant::now();
        status_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut copy_done = false;
        let mut cut_over_attempts = 0u32;
        let mut next_cut_over = Instant::now();
        let mut postponed_logged = false;
        let mut replication_stopped = false;
        let mut analyzed = false;
        let mut marker_conn = connect(&v.primary_opts, "primary (markers)", c.conn.timeout).await?;
        let cut = CutOver {
            opts: &v.primary_opts,
            database: &db,
            table: &c.table,
            ghost: &n.ghost,
            old: &n.old,
            changelog: &n.changelog,
            lock_timeout: c.cut_over_lock_timeout,
            mode: WriterMode::of(c),
            swap_back: c.test_on_replica,
            kind: c.cut_over,
            triggers: v
                .ghost_triggers
                .iter()
                .map(|(t, name)| (name.clone(), t.create_on(&db, &n.ghost, name), t.sql_mode.clone()))
                .collect(),
        };
        let report = loop {
            tokio::select! {
                item = rx.recv() => {
                    let Some(item) = item else {
                        return Err(stream_error(&mut streamer).await);
                    };
                    self.take(&mut applier, item);
                    // Take what is already queued, then write; a batch never waits for more events.
                    while !applier.full() {
                        match rx.try_recv() {
                            Ok(item) => self.take(&mut applier, item),
                            Err(_) => break,
                        }
                    }
                    self.flush(&mut applier, &mut apply_conn, &v.primary_opts).await?;
                }
                n = &mut count_rx, if concurrent_count && !count_rx.is_terminated() => {
                    if let Ok(n) = n {
                        info!("row count complete: {n} rows");
                        if !copy_done {
                            metrics.estimated_rows = n;
                        }
                        // Like gh-ost, a background count's hook cannot stop a copy already under way.
                        if let Err(e) = self.hook(HookEvent::RowCountComplete, &hook_progress(&metrics)).await {
                            warn!("{e}");
                        }
                    }
                }
                r = &mut copier, if !copy_done => {
                    match r {
                        Ok(Ok(())) => {
                            copy_done = true;
                            info!("row copy complete: {} rows", copy_progress.rows.load(Ordering::Relaxed));
                            metrics.estimated_rows = copy_progress.rows.load(Ordering::Relaxed);
                            self.hook(HookEvent::RowCopyComplete, &hook_progress(&metrics)).await?;
                        }
                        Ok(Err(e)) => return Err(e),
                        Err(e) => return Err(Error::Aborted(format!("copier task failed: {e}"))),
                    }
                }
                r = &mut streamer => {
                    return Err(match r {
                        Ok(Err(e)) => e,
                        Ok(Ok(())) => Error::Aborted("binlog stream stopped".into()),
                        Err(e) => Error::Aborted(format!("streamer task failed: {e}")),
                    });
                }
                _ = checkpoint_tick.tick(), if checkpoint_conn.is_some() => {
                    let cp = Checkpoint {
                        alter: c.alter.clone(),
                        applied: applier.applied.clone(),
                        copy_done,
                        copy_last_key: copy_progress.watermark.lock().unwrap_or_else(|p| p.into_inner()).clone()
                            .or_else(|| resume.as_ref().and_then(|r| r.copy_last_key.clone())),
                        copy_max_key: copy_max.clone(),
                        rows_copied: copied_before + copy_progress.rows.load(Ordering::Relaxed),
                        events_applied: apply_stats.events.load(Ordering::Relaxed),
                    };
                    if let Some(conn) = checkpoint_conn.as_mut() {
                        match checkpoint::write(conn, &db, &n.checkpoint, &cp).await {
                            Ok(()) => info!("checkpoint: {} rows copied, binlog applied through {}", cp.rows_copied, cp.applied),
                            Err(e) => warn!("checkpoint write failed: {e}"),
                        }
                    }
                }
                _ = status_tick.tick() => {
                    // gh-ost's runbooks grep for "throttled, <reason>" in the state.
                    let state = match (self.state.borrow().clone(), throttle_rx.borrow().clone()) {
                        (s, Some(why)) if s == "migrating" => format!("throttled, {why}"),
                        (s, _) => s,
                    };
                    let line = metrics.line(&state, rx.len());
                    if last_status_log.elapsed() + Duration::from_millis(50) >= c.status_interval {
                        info!(target: "wraith::status", "{line}");
                        last_status_log = Instant::now();
                    }
                    self.progress.send_replace(Progress {
                        copied: copy_progress.rows.load(Ordering::Relaxed),
                        estimated: metrics.estimated_rows,
                        line: line.clone(),
                    });
                    *control.status.lock().unwrap_or_else(|p| p.into_inner()) = line.clone();
                    *control.coordinates.lock().unwrap_or_else(|p| p.into_inner()) = applier.applied.to_string();
                    if last_status_hook.elapsed() >= c.hooks_status_interval {
                        last_status_hook = Instant::now();
                        let _ = self.hook(HookEvent::Status(line.clone()), &hook_progress(&metrics)).await;
                    }
                }
            }
            if control.panic.load(Ordering::Relaxed) {
                return Err(Error::Aborted("panic command received".into()));
            }
            if let Some(why) = throttle_stats.critical.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Err(Error::Aborted(why));
            }
            applier.max_batch = control.dml_batch_size.load(Ordering::Relaxed).max(1) as usize;
            let commands: Vec<String> =
                std::mem::take(&mut *control.commands.lock().unwrap_or_else(|p| p.into_inner()));
            for command in commands {
                let _ = self.hook(HookEvent::InteractiveCommand(command), &hook_progress(&metrics)).await;
            }
            if let Some(f) = &c.panic_flag_file {
                if f.exists() {
                    return Err(Error::Aborted(format!("panic flag file {} exists", f.display())));
                }
            }
            if !copy_done || Instant::now() < next_cut_over {
                continue;
            }
            let postpone_file = control.postpone_flag_file.lock().unwrap_or_else(|p| p.into_inner()).clone();
            if let Some(f) = &postpone_file {
                if f.exists() && !control.unpostponed.load(Ordering::Relaxed) {
                    if !postponed_logged {
                        info!("cut-over postponed while {} exists; the ghost table keeps in sync", f.display());
                        postponed_logged = true;
                        self.hook(HookEvent::BeginPostponed, &hook_progress(&metrics)).await?;
                    }
                    self.set_state("postponing cut-over");
                    control.postponing.store(true, Ordering::Relaxed);
                    next_cut_over = Instant::now() + Duration::from_millis(100);
                    continue;
                }
            }
            control.postponing.store(false, Ordering::Relaxed);
            // As gh-ost: no cut-over while throttled (lag, load, flag files, operator): the lock would last
            // as long as the replica is behind, and a throttle means "not now".
            if throttle_rx.borrow().is_some() {
                self.set_state("throttled before cut-over");
                next_cut_over = Instant::now() + Duration::from_millis(100);
                continue;
            }
            if rx.len() > BACKLOG / 10 {
                continue;
            }
            if c.analyze_ghost_table_before_cutover && !analyzed {
                info!("analyzing {} before the cut-over", n.ghost);
                prim.query_drop(format!("ANALYZE TABLE {}", qualified(&db, &n.ghost))).await?;
                analyzed = true;
            }
            self.set_state("cut-over");
            // gh-ost retries the whole cut-over, hook included, when the hook fails.
            if let Err(e) = self.hook(HookEvent::BeforeCutOver, &hook_progress(&metrics)).await {
                cut_over_attempts += 1;
                if cut_over_attempts >= c.default_retries {
                    return Err(e);
                }
                warn!("{e}; retrying the cut-over ({cut_over_attempts}/{})", c.default_retries);
                next_cut_over = Instant::now() + Duration::from_secs(1);
                continue;
            }
            if c.test_on_replica && !c.test_on_replica_skip_replica_stop && !replication_stopped {
                self.hook(HookEvent::StopReplication, &hook_progress(&metrics)).await?;
                info!("--test-on-replica: stopping replication on {} before the cut-over", c.conn.inspect);
                prim.query_drop("STOP REPLICA").await?;
                replication_stopped = true;
            }
            self.flush(&mut applier, &mut apply_conn, &v.primary_opts).await?;
            cut_over_attempts += 1;
            match cut.attempt(cut_over_attempts, &mut applier, &mut rx, &mut marker_conn).await {
                Ok(r) => break r,
                Err(Error::CutOver(why)) if cut_over_attempts < c.default_retries => {
                    warn!(
                        "cut-over attempt {cut_over_attempts} failed: {why}; the original table is in place; retrying"
                    );
                    let backoff = if c.cut_over_exponential_backoff {
                        Duration::from_secs(1u64 << cut_over_attempts.min(20)).min(c.exponential_backoff_max_interval)
                    } else {
                        Duration::from_secs(1)
                    };
                    next_cut_over = Instant::now() + backoff;
                    self.set_state("migrating");
                }
                Err(e) => return Err(e),
            }
        };
        self.set_state("cleanup");
        info!(
            "cut-over done: {}.{} now has the new schema; writes were blocked for {:?}",
            db, c.table, report.locked_for
        );
        drop(rx);
        streamer.abort();
        let _ = _stop.0.send(true);
        let mut left_behind = Vec::new();
        let _ = prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(&db, &n.changelog))).await;
        let _ = prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(&db, &n.checkpoint))).await;
        if c.test_on_replica {
            info!(
                "--test-on-replica: tables swapped and swapped back; compare {db}.{} with {db}.{}; replication {}",
                c.table,
                n.ghost,
                if replication_stopped { "is stopped (START REPLICA when done)" } else { "kept running" }
            );
            left_behind.push(format!("{db}.{}", n.ghost));
        } else if c.ok_to_drop_table {
            prim.query_drop(format!("DROP TABLE IF EXISTS {}", qualified(&db, &n.old))).await?;
        } else {
            info!(
                "kept the original table as {db}.{}: drop it when satisfied (DROP TABLE {}) or pass --ok-to-drop-table next time",
                n.old,
                qualified(&db, &n.old)
            );
            left_behind.push(format!("{db}.{}", n.old));
        }
        self.set_state("done");
        info!(target: "wraith::status", "{}", metrics.line("done", 0));
        Ok(Outcome {
            executed: true,
            rows_copied: copy_progress.rows.load(Ordering::Relaxed),
            events_applied: apply_stats.events.load(Ordering::Relaxed),
            cut_over_locked_for: Some(report.locked_for),
            left_behind,
            elapsed: started.elapsed(),
            parallel_copy: frontier.is_some(),
            changes_dropped: apply_stats.dropped.load(Ordering::Relaxed),
            applier_waits: apply_stats.waits.load(Ordering::Relaxed),
        })
    }

    /// Writes the applier's batch, retrying transient failures (deadlocks with the copy, lock waits, a lost
    /// connection): the batch stays intact until written, and writing it twice is harmless.
    async fn flush(&self, applier: &mut Applier, conn: &mut Conn, opts: &Opts) -> Result<()> {
        let mut attempt = 0u32;
        loop {
            match applier.flush(conn, true).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() && attempt < self.cfg.default_retries => {
                    attempt += 1;
                    warn!("applying binlog changes failed ({e}); retry {attempt}/{}", self.cfg.default_retries);
                    tokio::time::sleep(Duration::from_millis((20 * u64::from(attempt)).min(1000))).await;
                    if matches!(e.server_code(), None | Some(2006 | 2013)) {
                        *conn = connect(opts, "primary (applier)", self.cfg.conn.timeout).await?;
                        setup_writer(conn, WriterMode::of(&self.cfg).read_committed()).await?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The runtime settings, initialised from the flags.
    fn control(&self, v: &Validated) -> Control {
        let c = &self.cfg;
        let control = Control {
            table: c.table.clone(),
            force_named_cut_over: c.force_named_cut_over,
            force_named_panic: c.force_named_panic,
            ..Control::default()
        };
        control.chunk_size.store(c.chunk_size, Ordering::Relaxed);
        control.dml_batch_size.store(c.dml_batch_size as u64, Ordering::Relaxed);
        control.max_lag_millis.store(c.max_lag.as_millis() as u64, Ordering::Relaxed);
        control.nice_ratio.store(c.nice_ratio.to_bits(), Ordering::Relaxed);
        *control.max_load.lock().unwrap_or_else(|p| p.into_inner()) = c.max_load.clone();
        *control.critical_load.lock().unwrap_or_else(|p| p.into_inner()) = c.critical_load.clone();
        *control.throttle_query.lock().unwrap_or_else(|p| p.into_inner()) = c.throttle_query.clone();
        *control.throttle_http.lock().unwrap_or_else(|p| p.into_inner()) = c.throttle_http.clone();
        *control.throttle_control_replicas.lock().unwrap_or_else(|p| p.into_inner()) =
            c.throttle_control_replicas.clone();
        *control.postpone_flag_file.lock().unwrap_or_else(|p| p.into_inner()) = c.postpone_cut_over_flag_file.clone();
        *control.applier.lock().unwrap_or_else(|p| p.into_inner()) = format!("{}", v.primary);
        *control.inspector.lock().unwrap_or_else(|p| p.into_inner()) = format!("{}", c.conn.inspect);
        control
    }

    fn take(&self, applier: &mut Applier, item: StreamItem) {
        match item {
            StreamItem::Row(change) => applier.add(change),
            StreamItem::Changelog { .. } => {}
            StreamItem::Position(p) => applier.position(p),
        }
    }
}

async fn stream_error(streamer: &mut tokio::task::JoinHandle<Result<()>>) -> Error {
    match streamer.await {
        Ok(Err(e)) => e,
        Ok(Ok(())) => Error::Aborted("binlog stream stopped".into()),
        Err(e) => Error::Aborted(format!("streamer task failed: {e}")),
    }
}

fn hook_context(c: &Config, n: &TableNames, migrated_host: &str) -> HookContext {
    HookContext {
        database: c.database.clone(),
        table: c.table.clone(),
        ghost_table: n.ghost.clone(),
        old_table: n.old.clone(),
        ddl: c.alter.clone(),
        migrated_host: migrated_host.to_string(),
        inspected_host: c.conn.inspect.host.clone(),
        executing_host: String::new(),
        hint: c.hooks_hint.clone(),
        hint_owner: c.hooks_hint_owner.clone(),
        hint_token: c.hooks_hint_token.clone(),
        dry_run: !c.execute,
        revert: false,
        instant_ddl: c.attempt_instant_ddl,
    }
}

fn hook_progress(m: &Metrics) -> HookProgress {
    let lag = Duration::from_millis(m.throttle.lag_millis.load(Ordering::Relaxed));
    HookProgress {
        elapsed: m.started.elapsed(),
        elapsed_copy: m.copy_started.map_or(Duration::ZERO, |t| t.elapsed()),
        estimated_rows: m.estimated_rows,
        copied_rows: m.copy.rows.load(Ordering::Relaxed),
        inspected_lag: lag,
        heartbeat_lag: lag,
        progress_pct: m.progress_pct(),
        eta: m.eta(),
    }
}

/// The lock that keeps two runs off one table (MySQL lock names are at most 64 characters).
fn lock_name(db: &str, table: &str) -> String {
    let name = format!("wraith::{db}.{table}");
    if name.len() <= 64 {
        return name;
    }
    let mut h: u64 = 0xcbf29ce484222325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("wraith::{}..{h:016x}", &name.chars().take(38).collect::<String>()[8..])
}

fn timestamp() -> String {
    let secs = changelog::now_micros() / 1_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // civil-from-days (Howard Hinnant), UTC
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_fit() {
        assert_eq!(lock_name("d", "t"), "wraith::d.t");
        assert!(lock_name(&"d".repeat(64), &"t".repeat(64)).len() <= 64);
    }

    #[test]
    fn timestamp_shape() {
        let t = timestamp();
        assert_eq!(t.len(), 14);
        assert!(t.starts_with("20"));
    }
}
