//! One error type for the engine, split into transient failures (retry, reconnect, resume) and fatal ones
//! (abort safely, leaving the original table as it was).

use std::fmt;

use crate::phase::Phase;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or settings: nothing was touched.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A check before the migration failed (table missing, no unique key, binlog format, privileges...).
    /// `hint` tells the operator what to do about it.
    #[error("{what}\n  hint: {hint}")]
    Precondition { what: String, hint: String },

    /// Another run holds the migration lock for this table.
    #[error("another migration of {table} is running (lock {lock} is held); refusing to start a second one")]
    AlreadyRunning { table: String, lock: String },

    /// A binlog event or value that cannot be applied faithfully.
    #[error("binlog: {0}")]
    Binlog(String),

    /// A value that cannot be converted back to SQL without loss.
    #[error("cannot convert value of column `{column}` ({column_type}): {reason}")]
    Value { column: String, column_type: String, reason: String },

    /// Data the ALTER cannot hold (for example a duplicate for a new unique key).
    #[error("data does not fit the new schema: {0}")]
    Data(String),

    /// The cut-over could not complete this attempt; the original table is still in place.
    #[error("cut-over attempt failed: {0}")]
    CutOver(String),

    /// The operator (panic command, panic flag file, signal) or a critical condition stopped the run.
    #[error("migration aborted: {0}")]
    Aborted(String),

    /// The run was told to stop (Ctrl-C, or the caller's shutdown future) while in `phase`.
    #[error("{}", interrupted_text(*.phase))]
    Interrupted { phase: Phase },

    #[error("{}", server_error_text(.0))]
    Mysql(#[from] mysql_async::Error),

    #[error("io: {0}")]
    Io(#[from] std::io::Error),

    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

/// MySQL server error codes worth retrying: deadlock, lock wait timeout, lost connection, server shutdown,
/// query interrupted (our own KILL of a stuck statement), too many connections.
const TRANSIENT_SERVER_CODES: &[u16] = &[1205, 1213, 1040, 1053, 1317, 2006, 2013, 3572, 4031];

impl Error {
    /// Transient errors may succeed on retry (after reconnecting); fatal ones must abort the run.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Mysql(e) => mysql_is_transient(e),
            Error::Io(_) | Error::CutOver(_) => true,
            Error::Context { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// The MySQL server error code, if this is a server error.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            Error::Mysql(mysql_async::Error::Server(s)) => Some(s.code),
            Error::Context { source, .. } => source.server_code(),
            _ => None,
        }
    }

    pub fn precondition(what: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Precondition { what: what.into(), hint: hint.into() }
    }
}

pub fn mysql_is_transient(e: &mysql_async::Error) -> bool {
    match e {
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
        mysql_async::Error::Server(s) => TRANSIENT_SERVER_CODES.contains(&s.code),
        _ => false,
    }
}

/// Adds a short description of what was being done to an error.
pub trait Context<T> {
    fn context<C: fmt::Display>(self, c: C) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context<C: fmt::Display>(self, c: C) -> Result<T> {
        self.map_err(|e| Error::Context { context: c.to_string(), source: Box::new(e.into()) })
    }
}

/// A server error as MySQL clients print it: `Error 1067 (42000): Invalid default value for 'dt'`.
pub fn server_error_text(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => format!("Error {} ({}): {}", s.code, s.state, s.message),
        other => other.to_string(),
    }
}

/// What an interrupt left behind, by phase: a cut-over never half-applies.
fn interrupted_text(phase: Phase) -> String {
    if phase.is_after_cut_over() {
        "interrupted after the cut-over: the table has its new schema; the old table is _<t>_del".to_string()
    } else {
        format!(
            "interrupted while {phase}: the original table is untouched (a cut-over never half-applies); the ghost, \
             changelog and checkpoint tables may remain"
        )
    }
}
