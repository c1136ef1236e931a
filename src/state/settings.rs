//! What an operator may change while a migration runs (gh-ost's interactive commands), initialised from
//! the flags. The control server writes it; the copier, applier, throttler and cut-over gate read it at
//! every step, so a change takes effect at once.
//!
//! Invariants: values are stored already clamped to the ranges the flags allow; reads never block a writer
//! for longer than a clone.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use crate::config::{Config, Endpoint, LoadLimits};

/// A value behind a mutex that is only ever cloned out or replaced.
#[derive(Debug, Default)]
pub(crate) struct Cell<T>(Mutex<T>);

impl<T: Clone> Cell<T> {
    pub(crate) fn new(v: T) -> Self {
        Cell(Mutex::new(v))
    }
    pub(crate) fn get(&self) -> T {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
    pub(crate) fn set(&self, v: T) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = v;
    }
}

#[derive(Debug, Default)]
pub(crate) struct Settings {
    pub(crate) chunk_size: AtomicU64,
    pub(crate) dml_batch_size: AtomicU64,
    pub(crate) max_lag_millis: AtomicU64,
    /// nice-ratio, stored as f64 bits.
    nice_ratio: AtomicU64,
    /// An operator's `throttle` command holds.
    pub(crate) user_throttle: AtomicBool,
    pub(crate) max_load: Cell<LoadLimits>,
    pub(crate) critical_load: Cell<LoadLimits>,
    pub(crate) throttle_query: Cell<Option<String>>,
    pub(crate) throttle_http: Cell<Option<String>>,
    pub(crate) throttle_control_replicas: Cell<Vec<Endpoint>>,
    pub(crate) postpone_flag_file: Cell<Option<PathBuf>>,
}

impl Settings {
    pub(crate) fn from_config(c: &Config) -> Self {
        let s = Settings {
            chunk_size: AtomicU64::new(c.copy.chunk_size),
            dml_batch_size: AtomicU64::new(c.copy.dml_batch_size as u64),
            max_lag_millis: AtomicU64::new(c.throttle.max_lag.as_millis() as u64),
            nice_ratio: AtomicU64::new(0),
            user_throttle: AtomicBool::new(false),
            max_load: Cell::new(c.throttle.max_load.clone()),
            critical_load: Cell::new(c.throttle.critical_load.clone()),
            throttle_query: Cell::new(c.throttle.query.clone()),
            throttle_http: Cell::new(c.throttle.http.clone()),
            throttle_control_replicas: Cell::new(c.throttle.control_replicas.clone()),
            postpone_flag_file: Cell::new(c.cut_over.postpone_flag_file.clone()),
        };
        s.set_nice_ratio(c.throttle.nice_ratio);
        s
    }

    pub(crate) fn nice_ratio(&self) -> f64 {
        f64::from_bits(self.nice_ratio.load(Ordering::Relaxed))
    }

    pub(crate) fn set_nice_ratio(&self, v: f64) {
        self.nice_ratio.store(v.to_bits(), Ordering::Relaxed);
    }

    pub(crate) fn chunk_size(&self) -> u64 {
        self.chunk_size.load(Ordering::Relaxed).max(1)
    }

    pub(crate) fn dml_batch_size(&self) -> usize {
        self.dml_batch_size.load(Ordering::Relaxed).max(1) as usize
    }

    pub(crate) fn user_throttled(&self) -> bool {
        self.user_throttle.load(Ordering::Relaxed)
    }
}
