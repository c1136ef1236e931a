//! The migration: one run of one ALTER, read top to bottom in `Migrator::migrate`, phase by phase:
//! validate, prepare, stream, copy (and build the deferred secondary indexes), verify (the ghost against
//! the original), cut over (catching up and postponing until the gate opens, verifying again before a
//! postponed cut-over), clean up. A --revert runs the same phases the other way round, without the copy
//! (`revert`).
//!
//! Invariants:
//! - the original table is never written except by the cut-over's RENAME (and an instant ALTER the
//!   operator asked for): any failure before the RENAME leaves it as it was, and the error says what was
//!   left behind and how to clean it up;
//! - every task the run starts is owned by its `Tasks` and stopped on every way out: error, panic,
//!   critical load, interrupt, success;
//! - the phase is published (`Progress`) before the work of that phase starts.

pub(crate) mod checkpoint;
mod cleanup;
mod copy_rows;
mod cut_over;
pub(crate) mod names;
mod outcome;
pub(crate) mod plan;
mod prepare;
mod revert;
mod run_loop;
mod stream;
pub(crate) mod validate;
mod verify;

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::Config;
use crate::control::hooks::{HookContext, HookEvent, HookProgress, Hooks};
use crate::error::{Error, Result};
use crate::phase::Phase;
use crate::state::tasks::Stop;
use crate::state::Progress;

pub use names::TableNames;
pub use outcome::Outcome;
use prepare::{prepare, Prepared, TableLock};
use validate::{validate, Validated};

/// How long an interrupted run may take to stop its tasks and return.
const INTERRUPT_GRACE: Duration = Duration::from_secs(60);

pub struct Migrator {
    cfg: Config,
    names: TableNames,
    progress: watch::Sender<Progress>,
    /// Replaced once the migrated host is known.
    hooks: std::sync::Mutex<Hooks>,
}

impl Migrator {
    pub fn new(cfg: Config) -> Self {
        let names = TableNames::for_config(&cfg);
        let (progress, _) = watch::channel(Progress::default());
        let hooks = std::sync::Mutex::new(Hooks::new(cfg.hooks.path.clone(), hook_context(&cfg, &names, "")));
        Migrator { cfg, names, progress, hooks }
    }

    pub fn names(&self) -> &TableNames {
        &self.names
    }

    /// Watch progress: the phase (at every change) and the status line (at least once a second).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    pub fn phase(&self) -> Phase {
        self.progress.borrow().phase
    }

    /// Runs the migration to its end.
    pub async fn run(&self) -> Result<Outcome> {
        self.run_until(std::future::pending()).await
    }

    /// Runs the migration until it ends or `shutdown` resolves. On shutdown the run stops every task it
    /// started and returns `Error::Interrupted` with the phase it was in.
    pub async fn run_until(&self, shutdown: impl Future<Output = ()>) -> Result<Outcome> {
        let (interrupt, stop) = watch::channel(false);
        let run = self.run_hooked(Stop::new(stop));
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => return r,
            _ = shutdown => { let _ = interrupt.send(true); }
        }
        match tokio::time::timeout(INTERRUPT_GRACE, &mut run).await {
            Ok(r) => r,
            Err(_) => Err(Error::Interrupted { phase: self.phase() }),
        }
    }

    /// The run between the startup hook and the success or failure hook.
    async fn run_hooked(&self, interrupt: Stop) -> Result<Outcome> {
        let started = Instant::now();
        let result = self.migrate(interrupt, started).await;
        let mut p = HookProgress { phase: self.phase(), elapsed: started.elapsed(), ..Default::default() };
        match &result {
            Ok(o) if o.executed => {
                p.copied_rows = o.rows_copied;
                p.estimated_rows = o.rows_copied;
                p.progress_pct = 100.0;
                p.checksum = Some(o.checksum.as_ref().map_or("off".to_string(), |r| r.summary()));
                if let Err(e) = self.hook(HookEvent::Success, &p).await {
                    let _ = self.hook(HookEvent::Failure, &p).await;
                    return Err(Error::Context {
                        context: "the migration completed (the table has its new schema), but".into(),
                        source: Box::new(e),
                    });
                }
            }
            Ok(_) => {}
            // As gh-ost, whose process simply ends on a signal: no failure hook for an interrupt.
            Err(Error::Interrupted { .. }) => {}
            Err(_) => {
                // Its own failure is only logged by the hooks module; the migration's error is what matters.
                let _ = self.hook(HookEvent::Failure, &p).await;
            }
        }
        result
    }

    /// The life of a migration.
    async fn migrate(&self, interrupt: Stop, started: Instant) -> Result<Outcome> {
        self.cfg.validate()?;
        self.hook(HookEvent::Startup, &HookProgress::default()).await?;
        self.set_phase(Phase::Validating);
        let v = validate(&self.cfg).await?;
        self.set_migrated_host(&v.primary.host);
        self.hook(HookEvent::Validated, &HookProgress { elapsed: started.elapsed(), ..Default::default() }).await?;
        self.interrupted(&interrupt)?;
        let lock = TableLock::take(&self.cfg, &v).await?;
        let result = match self.cfg.revert.revert {
            true => self.revert_locked(v, interrupt, started).await,
            false => self.migrate_locked(&v, interrupt, started).await,
        };
        lock.release().await;
        result
    }

    /// With the table's lock held: prepare, then migrate into the ghost table.
    async fn migrate_locked(&self, v: &Validated, interrupt: Stop, started: Instant) -> Result<Outcome> {
        let ghost = match prepare(&self.cfg, &self.names, v).await? {
            Prepared::Instant => {
                self.set_phase(Phase::Done);
                return Ok(Outcome::without_copy(true, started));
            }
            Prepared::Noop => {
                self.set_phase(Phase::Noop);
                return Ok(Outcome::without_copy(false, started));
            }
            Prepared::Ghost(g) => *g,
        };
        self.interrupted(&interrupt).map_err(|e| self.left_behind(e))?;
        let resume = ghost.resume;
        let hooks = self.hooks();
        let window_interrupt = interrupt.clone();
        let mut run = self
            .stream(v, hooks, ghost.conn, ghost.plans.apply, resume.as_ref(), interrupt, started)
            .await
            .map_err(|e| self.left_behind(e))?;
        let checksum = std::sync::Arc::new(ghost.plans.checksum);
        let swapped = async {
            run.stats.copy.set_deferred_indexes(ghost.deferred.names());
            run.copy(ghost.plans.copy, resume.as_ref()).await?;
            run.build_deferred_indexes(ghost.deferred).await?;
            run.state.checksum = run.verify(&checksum).await?;
            run.checksum_plan = Some(checksum);
            run.cut_over().await
        }
        .await;
        match swapped {
            Ok(Some(report)) => {
                let gtid = report.gtid_at_rename.clone();
                let outcome = run.clean_up(report).await?;
                match self.cfg.revert.window {
                    Some(length) => self.revert_window(v, outcome, gtid, length, window_interrupt, started).await,
                    None => Ok(outcome),
                }
            }
            Ok(None) => revert::unreachable_gate(),
            Err(e) => {
                run.stop_tasks().await;
                Err(self.left_behind(e))
            }
        }
    }

    fn set_phase(&self, phase: Phase) {
        self.progress.send_if_modified(|p| std::mem::replace(&mut p.phase, phase) != phase);
    }

    /// The interrupt arrived between two phases: stop here.
    fn interrupted(&self, interrupt: &Stop) -> Result<()> {
        if interrupt.is_stopped() {
            return Err(Error::Interrupted { phase: self.phase() });
        }
        Ok(())
    }

    fn hooks(&self) -> Hooks {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_migrated_host(&self, host: &str) {
        *self.hooks.lock().unwrap_or_else(|p| p.into_inner()) =
            Hooks::new(self.cfg.hooks.path.clone(), hook_context(&self.cfg, &self.names, host));
    }

    /// Runs the hooks of `event` (nothing when --hooks-path is not set).
    async fn hook(&self, event: HookEvent, progress: &HookProgress) -> Result<()> {
        let hooks = self.hooks();
        if !hooks.is_enabled() {
            return Ok(());
        }
        hooks.run(&event, progress).await
    }

    /// A failure after the ghost table was created: says what is left and how to clean up.
    fn left_behind(&self, e: Error) -> Error {
        if matches!(e, Error::Interrupted { .. }) {
            return e; // its own message says what may remain
        }
        let left = outcome::left_behind_message(&self.cfg, &self.names);
        tracing::warn!("migration failed: {e}; {left}");
        Error::Context { context: format!("migration failed ({left})"), source: Box::new(e) }
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
        hint: c.hooks.hint.clone(),
        hint_owner: c.hooks.hint_owner.clone(),
        hint_token: c.hooks.hint_token.clone(),
        dry_run: !c.execute,
        revert: c.revert.revert,
        instant_ddl: c.schema.attempt_instant_ddl,
    }
}
