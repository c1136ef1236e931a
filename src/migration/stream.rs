//! The stream phase: everything that runs beside the copy is started here, each as a task of the run:
//! the heartbeat, the binlog streamer, the control server and the throttler. The run loop that consumes
//! what they produce is built last.
//!
//! Invariant: the binlog position (a GTID set) is taken before the copy reads its range, so every change
//! the copy can miss is streamed. The binlog is read from the server that holds the ghost table (the
//! primary, or the replica in the on-replica modes): changes reach the applier without waiting for
//! replication, and the cut-over's lock is not held for the replica's lag. Replica lag is still measured
//! (heartbeat) and throttled on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use tokio::sync::{mpsc, watch};

use super::checkpoint::Checkpoint;
use super::run_loop::{Checkpointing, LoopState, RunLoop, BACKLOG};
use super::validate::Validated;
use super::Migrator;
use crate::config::read_token_file;
use crate::control::commands::{Controls, Identity};
use crate::control::hooks::Hooks;
use crate::control::{metrics, server, throttle};
use crate::error::Result;
use crate::mysql::connect::{connect, setup_writer};
use crate::mysql::gtid::GtidSet;
use crate::mysql::inspector::query_value;
use crate::replication::applier::{Applier, ApplyPlan};
use crate::replication::changelog;
use crate::replication::streamer::{self, StreamerConfig};
use crate::state::settings::Settings;
use crate::state::stats::Stats;
use crate::state::tasks::{Stop, Tasks};

impl Migrator {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn stream<'a>(
        &'a self,
        v: &'a Validated,
        hooks: Hooks,
        mut prim: Conn,
        apply: ApplyPlan,
        resume: Option<&Checkpoint>,
        interrupt: Stop,
        started: Instant,
    ) -> Result<RunLoop<'a>> {
        let (c, n, db) = (&self.cfg, &self.names, &self.cfg.database);
        changelog::create(&mut prim, db, &n.changelog).await?;
        // As gh-ost: the first state row marks when the migration began (runbooks' throttle queries read it).
        changelog::write(&mut prim, db, &n.changelog, changelog::STATE, "GhostTableMigrated").await?;
        let mut tasks = Tasks::default();
        let settings = Arc::new(Settings::from_config(c));
        let stats = Arc::new(Stats::new(started));
        stats.estimated_rows.store(v.table.estimated_rows, std::sync::atomic::Ordering::Relaxed);
        let (inbox_tx, inbox) = mpsc::unbounded_channel();

        let hb = connect(&v.primary_opts, "primary (heartbeat)", c.conn.timeout).await?;
        // The heartbeat's commit latency feeds the latency pacer, which starts with the copy.
        let (latency_tx, pacer_samples) = match c.throttle.max_latency_ratio > 0.0 {
            true => {
                let (tx, rx) = mpsc::channel(64);
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let beat = changelog::heartbeat_loop(
            hb,
            v.primary_opts.clone(),
            c.conn.timeout,
            db.clone(),
            n.changelog.clone(),
            c.throttle.heartbeat_interval,
            latency_tx,
            tasks.stop_signal(),
        );
        tasks.spawn("heartbeat", beat);

        let start = match resume {
            // Everything after the checkpoint's applied set is streamed again (idempotently).
            Some(cp) => cp.applied.clone(),
            None => {
                GtidSet::parse(&query_value(&mut prim, "SELECT @@global.gtid_executed").await?.unwrap_or_default())?
            }
        };
        let (tx, changes) = mpsc::channel(BACKLOG);
        let scfg = StreamerConfig {
            opts: v.primary_opts.clone(),
            server_id: c.conn.replica_server_id,
            database: db.clone(),
            table: c.table.clone(),
            changelog: n.changelog.clone(),
            own_tables: vec![n.ghost.clone(), n.changelog.clone(), n.checkpoint.clone()],
            columns: v.table.columns.len(),
            read_timeout: Duration::from_secs(10).max(c.conn.timeout),
            max_reconnects: c.default_retries,
        };
        tasks.spawn_until_stopped("streamer", streamer::run(scfg, start.clone(), tx, stats.clone()));

        let ctl = &c.control;
        let tcp = match ctl.serve_tcp_port {
            Some(port) => Some(server::TcpSpec {
                bind: ctl.serve_tcp_bind,
                port,
                token: ctl.serve_tcp_token_file.as_deref().map(read_token_file).transpose()?,
            }),
            None => None,
        };
        let listeners = server::bind(ctl.serve_socket_file.clone(), ctl.initially_drop_socket_file, tcp).await?;
        let controls = Controls {
            settings: settings.clone(),
            progress: self.progress.subscribe(),
            inbox: inbox_tx.clone(),
            identity: Arc::new(Identity {
                table: c.table.clone(),
                force_named_panic: ctl.force_named_panic,
                force_named_cut_over: c.cut_over.force_named,
                applier: v.primary.to_string(),
                inspector: c.conn.inspect.to_string(),
            }),
        };
        tasks.spawn_until_stopped("control server", listeners.serve(controls));
        if let Some(addr) = ctl.metrics_address {
            let listener = metrics::bind(addr).await?;
            let view = metrics::View { progress: self.progress.subscribe(), stats: stats.clone() };
            // It only reads: dropped at the stop signal with the other read-only tasks.
            tasks.spawn_until_stopped("metrics server", metrics::serve(listener, view));
        }

        let (verdict, throttled) = watch::channel(Some("starting".to_string()));
        let tcfg = throttle::ThrottleConfig {
            database: db.clone(),
            changelog: n.changelog.clone(),
            tables: vec![c.table.clone(), n.ghost.clone()],
            flag_files: c.throttle.flag_files(),
            replica_opts: v.inspect_opts.clone(),
            migrate_opts: v.primary_opts.clone(),
            critical_load_interval: c.throttle.critical_load_interval,
            critical_load_hibernate: c.throttle.critical_load_hibernate,
        };
        let insp = connect(&v.inspect_opts, "inspected server", c.conn.timeout).await?;
        let tmig = connect(&v.primary_opts, "primary (throttle)", c.conn.timeout).await?;
        let lent = throttle::Lent { settings: settings.clone(), stats: stats.clone(), verdict, inbox: inbox_tx };
        // It only reads (a critical-load confirmation sleeps): dropped at the stop signal, not waited for.
        tasks.spawn_until_stopped("throttler", throttle::run(tcfg, insp, tmig, lent, tasks.stop_signal()));

        let mut applier = Applier::new(apply, c.copy.dml_batch_size, stats.clone());
        applier.set_applied(start);
        // A revert writes no progress checkpoints: they would replace the cut-over point it reads.
        let checkpoint = match c.checkpoint.enabled && !c.revert.revert {
            true => Some(Checkpointing::open(c, v, resume).await?),
            false => None,
        };
        let mut apply_conn = connect(&v.primary_opts, "primary (applier)", c.conn.timeout).await?;
        setup_writer(&mut apply_conn, c.writer_mode().read_committed()).await?;
        Ok(RunLoop {
            m: self,
            v,
            hooks,
            prim,
            tasks,
            interrupt,
            inbox,
            changes,
            settings,
            stats,
            throttled,
            applier,
            apply_conn,
            checkpoint,
            checksum_plan: None,
            pacer_samples,
            pace: crate::state::pace::unpaced(),
            state: LoopState::new(c.control.status_interval),
        })
    }
}
