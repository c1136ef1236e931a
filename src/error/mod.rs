//! One error type for the engine, split into transient failures (retry, reconnect, resume) and fatal ones
//! (abort safely, leaving the original table as it was). What a server error code means is decided in one
//! place, `codes`.

pub(crate) mod codes;

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
    #[error(
        "another migration of {table} is running (lock {lock} is held); refusing to start a second one\n  hint: wait \
         for that run to end, or stop it first (`panic` on its control socket); nothing was changed"
    )]
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

    /// The ghost table differs from the original and repairs did not make them equal: no cut-over.
    #[error("checksum: {0}")]
    Checksum(String),

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

impl Error {
    /// Transient errors may succeed on retry (after reconnecting); fatal ones must abort the run.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Mysql(e) => mysql_kind(e).is_transient(),
            Error::Io(_) | Error::CutOver(_) => true,
            Error::Context { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// Whether a retry must open a new connection first (the old one is gone, or the server behind it
    /// refuses writes).
    pub(crate) fn needs_reconnect(&self) -> bool {
        match self {
            Error::Mysql(e) => mysql_kind(e).needs_reconnect(),
            Error::Io(_) => true,
            Error::Context { source, .. } => source.needs_reconnect(),
            _ => false,
        }
    }

    /// The server code's symbol for logs, e.g. ` [ER_LOCK_WAIT_TIMEOUT]`; empty when there is none.
    pub(crate) fn code_label(&self) -> String {
        self.server_code().and_then(codes::name).map(|n| format!(" [{n}]")).unwrap_or_default()
    }

    /// A server error saying that a row does not fit the new schema.
    pub(crate) fn is_data_error(&self) -> bool {
        self.server_code().is_some_and(|c| codes::kind(c) == codes::Kind::Data)
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

/// What a client library error means: server errors by their code; a broken socket or a connection the
/// driver saw close is a lost connection; a TLS failure (a wrong CA, a certificate that does not match)
/// and the driver's protocol complaints do not heal.
fn mysql_kind(e: &mysql_async::Error) -> codes::Kind {
    use mysql_async::{DriverError as D, IoError};
    match e {
        mysql_async::Error::Server(s) => codes::kind(s.code),
        mysql_async::Error::Io(IoError::Io(_)) => codes::Kind::Connection,
        mysql_async::Error::Driver(D::ConnectionClosed | D::PacketOutOfOrder | D::BadCompressedPacketHeader) => {
            codes::Kind::Connection
        }
        _ => codes::Kind::Definite,
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
