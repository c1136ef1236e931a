//! The one table that decides what a MySQL server (or client library) error code means for a run: retry it,
//! reconnect and retry it, or stop.
//!
//! Invariants: a code that is not in the table is definite (stopping leaves the original table as it was,
//! retrying something unknown could repeat a harm sixty times); only what can heal by itself is transient
//! (a lost connection, lock contention, a server that is read-only while a failover completes); a row the
//! new schema cannot hold is `Data`, never retried, whatever role meets it.

/// What an error code means for the statement that met it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The connection is gone or unusable: reconnect, then retry.
    Connection,
    /// Lock contention or a statement we interrupted ourselves: retry on the same connection after a pause.
    Contention,
    /// The server refuses writes for now (read_only / super_read_only while a failover completes):
    /// reconnect (the primary may have moved behind a proxy or VIP) and retry.
    ReadOnly,
    /// The row does not fit the new schema (duplicate for a unique key, truncation, NULL into NOT NULL).
    Data,
    /// The account lacks a privilege.
    Privilege,
    /// The statement, schema or server state is wrong in a way no retry changes.
    Definite,
}

impl Kind {
    pub(crate) fn is_transient(self) -> bool {
        matches!(self, Kind::Connection | Kind::Contention | Kind::ReadOnly)
    }

    /// Whether a retry must first open a new connection.
    pub(crate) fn needs_reconnect(self) -> bool {
        matches!(self, Kind::Connection | Kind::ReadOnly)
    }
}

pub(crate) const CR_CONNECTION_ERROR: u16 = 2002;
pub(crate) const CR_CONN_HOST_ERROR: u16 = 2003;
pub(crate) const CR_SERVER_GONE_ERROR: u16 = 2006;
pub(crate) const CR_SERVER_LOST: u16 = 2013;
pub(crate) const CR_SERVER_LOST_EXTENDED: u16 = 2055;
pub(crate) const ER_CON_COUNT_ERROR: u16 = 1040;
pub(crate) const ER_DBACCESS_DENIED_ERROR: u16 = 1044;
pub(crate) const ER_ACCESS_DENIED_ERROR: u16 = 1045;
pub(crate) const ER_BAD_NULL_ERROR: u16 = 1048;
pub(crate) const ER_BAD_DB_ERROR: u16 = 1049;
pub(crate) const ER_TABLE_EXISTS_ERROR: u16 = 1050;
pub(crate) const ER_SERVER_SHUTDOWN: u16 = 1053;
pub(crate) const ER_BAD_FIELD_ERROR: u16 = 1054;
pub(crate) const ER_DUP_FIELDNAME: u16 = 1060;
pub(crate) const ER_DUP_KEYNAME: u16 = 1061;
pub(crate) const ER_DUP_ENTRY: u16 = 1062;
pub(crate) const ER_PARSE_ERROR: u16 = 1064;
pub(crate) const ER_INVALID_DEFAULT: u16 = 1067;
pub(crate) const ER_TOO_LONG_KEY: u16 = 1071;
pub(crate) const ER_CANT_DROP_FIELD_OR_KEY: u16 = 1091;
pub(crate) const ER_UNKNOWN_ERROR: u16 = 1105;
pub(crate) const ER_RECORD_FILE_FULL: u16 = 1114;
pub(crate) const ER_TOO_BIG_ROWSIZE: u16 = 1118;
pub(crate) const ER_TABLEACCESS_DENIED_ERROR: u16 = 1142;
pub(crate) const ER_COLUMNACCESS_DENIED_ERROR: u16 = 1143;
pub(crate) const ER_NO_SUCH_TABLE: u16 = 1146;
pub(crate) const ER_NET_READ_ERROR: u16 = 1158;
pub(crate) const ER_NET_READ_INTERRUPTED: u16 = 1159;
pub(crate) const ER_NET_ERROR_ON_WRITE: u16 = 1160;
pub(crate) const ER_NET_WRITE_INTERRUPTED: u16 = 1161;
pub(crate) const ER_BLOB_KEY_WITHOUT_LENGTH: u16 = 1170;
pub(crate) const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
pub(crate) const ER_LOCK_DEADLOCK: u16 = 1213;
pub(crate) const ER_SPECIFIC_ACCESS_DENIED_ERROR: u16 = 1227;
pub(crate) const ER_MASTER_FATAL_ERROR_READING_BINLOG: u16 = 1236;
pub(crate) const ER_WARN_NULL_TO_NOTNULL: u16 = 1263;
pub(crate) const ER_WARN_DATA_OUT_OF_RANGE: u16 = 1264;
pub(crate) const WARN_DATA_TRUNCATED: u16 = 1265;
pub(crate) const ER_OPTION_PREVENTS_STATEMENT: u16 = 1290;
pub(crate) const ER_TRUNCATED_WRONG_VALUE: u16 = 1292;
pub(crate) const ER_INVALID_CHARACTER_STRING: u16 = 1300;
pub(crate) const ER_QUERY_INTERRUPTED: u16 = 1317;
pub(crate) const ER_DIVISION_BY_ZERO: u16 = 1365;
pub(crate) const ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: u16 = 1366;
pub(crate) const ER_ILLEGAL_VALUE_FOR_TYPE: u16 = 1367;
pub(crate) const ER_DATA_TOO_LONG: u16 = 1406;
pub(crate) const ER_WRONG_VALUE_FOR_TYPE: u16 = 1411;
pub(crate) const ER_ROW_IS_REFERENCED_2: u16 = 1451;
pub(crate) const ER_NO_REFERENCED_ROW_2: u16 = 1452;
pub(crate) const ER_DUP_ENTRY_WITH_KEY_NAME: u16 = 1586;
pub(crate) const ER_TOO_MANY_CONCURRENT_TRXS: u16 = 1637;
pub(crate) const ER_DATA_OUT_OF_RANGE: u16 = 1690;
pub(crate) const ER_ACCESS_DENIED_NO_PASSWORD_ERROR: u16 = 1698;
pub(crate) const ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;
pub(crate) const ER_MUST_CHANGE_PASSWORD: u16 = 1820;
pub(crate) const ER_READ_ONLY_MODE: u16 = 1836;
pub(crate) const ER_CONNECTION_KILLED: u16 = 1927;
pub(crate) const ER_QUERY_TIMEOUT: u16 = 3024;
pub(crate) const ER_ACCOUNT_HAS_BEEN_LOCKED: u16 = 3118;
pub(crate) const ER_INVALID_JSON_TEXT: u16 = 3140;
pub(crate) const ER_SESSION_WAS_KILLED: u16 = 3169;
pub(crate) const ER_LOCK_NOWAIT: u16 = 3572;
pub(crate) const ER_CHECK_CONSTRAINT_VIOLATED: u16 = 3819;
pub(crate) const ER_CLIENT_INTERACTION_TIMEOUT: u16 = 4031;

/// Every code wraith gives a meaning to: (code, name, kind). Anything else is `Kind::Definite`.
pub(crate) const CODES: &[(u16, &str, Kind)] = &[
    // The connection went away: the client library's codes and the server's own goodbyes.
    (CR_CONNECTION_ERROR, "CR_CONNECTION_ERROR", Kind::Connection),
    (CR_CONN_HOST_ERROR, "CR_CONN_HOST_ERROR", Kind::Connection),
    (CR_SERVER_GONE_ERROR, "CR_SERVER_GONE_ERROR", Kind::Connection),
    (CR_SERVER_LOST, "CR_SERVER_LOST", Kind::Connection),
    (CR_SERVER_LOST_EXTENDED, "CR_SERVER_LOST_EXTENDED", Kind::Connection),
    (ER_SERVER_SHUTDOWN, "ER_SERVER_SHUTDOWN", Kind::Connection),
    (ER_NET_READ_ERROR, "ER_NET_READ_ERROR", Kind::Connection),
    (ER_NET_READ_INTERRUPTED, "ER_NET_READ_INTERRUPTED", Kind::Connection),
    (ER_NET_ERROR_ON_WRITE, "ER_NET_ERROR_ON_WRITE", Kind::Connection),
    (ER_NET_WRITE_INTERRUPTED, "ER_NET_WRITE_INTERRUPTED", Kind::Connection),
    (ER_CONNECTION_KILLED, "ER_CONNECTION_KILLED", Kind::Connection),
    (ER_SESSION_WAS_KILLED, "ER_SESSION_WAS_KILLED", Kind::Connection),
    (ER_CLIENT_INTERACTION_TIMEOUT, "ER_CLIENT_INTERACTION_TIMEOUT", Kind::Connection),
    // Contention: it passes once the other transaction ends.
    (ER_CON_COUNT_ERROR, "ER_CON_COUNT_ERROR", Kind::Contention),
    (ER_LOCK_WAIT_TIMEOUT, "ER_LOCK_WAIT_TIMEOUT", Kind::Contention),
    (ER_LOCK_DEADLOCK, "ER_LOCK_DEADLOCK", Kind::Contention),
    (ER_LOCK_NOWAIT, "ER_LOCK_NOWAIT", Kind::Contention),
    (ER_TOO_MANY_CONCURRENT_TRXS, "ER_TOO_MANY_CONCURRENT_TRXS", Kind::Contention),
    // Our own KILL QUERY of a stuck statement, or max_execution_time.
    (ER_QUERY_INTERRUPTED, "ER_QUERY_INTERRUPTED", Kind::Contention),
    (ER_QUERY_TIMEOUT, "ER_QUERY_TIMEOUT", Kind::Contention),
    // Read-only while a failover completes.
    (ER_OPTION_PREVENTS_STATEMENT, "ER_OPTION_PREVENTS_STATEMENT", Kind::ReadOnly),
    (ER_READ_ONLY_MODE, "ER_READ_ONLY_MODE", Kind::ReadOnly),
    (ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION, "ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION", Kind::ReadOnly),
    // Rows the new schema cannot hold.
    (ER_BAD_NULL_ERROR, "ER_BAD_NULL_ERROR", Kind::Data),
    (ER_DUP_ENTRY, "ER_DUP_ENTRY", Kind::Data),
    (ER_DUP_ENTRY_WITH_KEY_NAME, "ER_DUP_ENTRY_WITH_KEY_NAME", Kind::Data),
    (ER_WARN_NULL_TO_NOTNULL, "ER_WARN_NULL_TO_NOTNULL", Kind::Data),
    (ER_WARN_DATA_OUT_OF_RANGE, "ER_WARN_DATA_OUT_OF_RANGE", Kind::Data),
    (WARN_DATA_TRUNCATED, "WARN_DATA_TRUNCATED", Kind::Data),
    (ER_TRUNCATED_WRONG_VALUE, "ER_TRUNCATED_WRONG_VALUE", Kind::Data),
    (ER_INVALID_CHARACTER_STRING, "ER_INVALID_CHARACTER_STRING", Kind::Data),
    (ER_DIVISION_BY_ZERO, "ER_DIVISION_BY_ZERO", Kind::Data),
    (ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, "ER_TRUNCATED_WRONG_VALUE_FOR_FIELD", Kind::Data),
    (ER_ILLEGAL_VALUE_FOR_TYPE, "ER_ILLEGAL_VALUE_FOR_TYPE", Kind::Data),
    (ER_DATA_TOO_LONG, "ER_DATA_TOO_LONG", Kind::Data),
    (ER_WRONG_VALUE_FOR_TYPE, "ER_WRONG_VALUE_FOR_TYPE", Kind::Data),
    (ER_ROW_IS_REFERENCED_2, "ER_ROW_IS_REFERENCED_2", Kind::Data),
    (ER_NO_REFERENCED_ROW_2, "ER_NO_REFERENCED_ROW_2", Kind::Data),
    (ER_DATA_OUT_OF_RANGE, "ER_DATA_OUT_OF_RANGE", Kind::Data),
    (ER_INVALID_JSON_TEXT, "ER_INVALID_JSON_TEXT", Kind::Data),
    (ER_CHECK_CONSTRAINT_VIOLATED, "ER_CHECK_CONSTRAINT_VIOLATED", Kind::Data),
    // Privileges and accounts.
    (ER_DBACCESS_DENIED_ERROR, "ER_DBACCESS_DENIED_ERROR", Kind::Privilege),
    (ER_ACCESS_DENIED_ERROR, "ER_ACCESS_DENIED_ERROR", Kind::Privilege),
    (ER_TABLEACCESS_DENIED_ERROR, "ER_TABLEACCESS_DENIED_ERROR", Kind::Privilege),
    (ER_COLUMNACCESS_DENIED_ERROR, "ER_COLUMNACCESS_DENIED_ERROR", Kind::Privilege),
    (ER_SPECIFIC_ACCESS_DENIED_ERROR, "ER_SPECIFIC_ACCESS_DENIED_ERROR", Kind::Privilege),
    (ER_ACCESS_DENIED_NO_PASSWORD_ERROR, "ER_ACCESS_DENIED_NO_PASSWORD_ERROR", Kind::Privilege),
    (ER_MUST_CHANGE_PASSWORD, "ER_MUST_CHANGE_PASSWORD", Kind::Privilege),
    (ER_ACCOUNT_HAS_BEEN_LOCKED, "ER_ACCOUNT_HAS_BEEN_LOCKED", Kind::Privilege),
    // Named so that logs and code can say what they mean; definite like any code not listed.
    (ER_BAD_DB_ERROR, "ER_BAD_DB_ERROR", Kind::Definite),
    (ER_TABLE_EXISTS_ERROR, "ER_TABLE_EXISTS_ERROR", Kind::Definite),
    (ER_BAD_FIELD_ERROR, "ER_BAD_FIELD_ERROR", Kind::Definite),
    (ER_DUP_FIELDNAME, "ER_DUP_FIELDNAME", Kind::Definite),
    (ER_DUP_KEYNAME, "ER_DUP_KEYNAME", Kind::Definite),
    (ER_PARSE_ERROR, "ER_PARSE_ERROR", Kind::Definite),
    (ER_INVALID_DEFAULT, "ER_INVALID_DEFAULT", Kind::Definite),
    (ER_TOO_LONG_KEY, "ER_TOO_LONG_KEY", Kind::Definite),
    (ER_CANT_DROP_FIELD_OR_KEY, "ER_CANT_DROP_FIELD_OR_KEY", Kind::Definite),
    (ER_UNKNOWN_ERROR, "ER_UNKNOWN_ERROR", Kind::Definite),
    // A full table or disk does not heal on its own within a retry loop: stop and say so.
    (ER_RECORD_FILE_FULL, "ER_RECORD_FILE_FULL", Kind::Definite),
    (ER_TOO_BIG_ROWSIZE, "ER_TOO_BIG_ROWSIZE", Kind::Definite),
    (ER_NO_SUCH_TABLE, "ER_NO_SUCH_TABLE", Kind::Definite),
    (ER_BLOB_KEY_WITHOUT_LENGTH, "ER_BLOB_KEY_WITHOUT_LENGTH", Kind::Definite),
    // The binlog the stream needs was purged: a reconnect asks for the same and fails the same way.
    (ER_MASTER_FATAL_ERROR_READING_BINLOG, "ER_MASTER_FATAL_ERROR_READING_BINLOG", Kind::Definite),
];

/// What `code` means; codes not in the table are definite.
pub(crate) fn kind(code: u16) -> Kind {
    CODES.iter().find(|(c, _, _)| *c == code).map_or(Kind::Definite, |(_, _, k)| *k)
}

/// The symbolic name of a known code (for logs), e.g. `ER_DUP_ENTRY`.
pub(crate) fn name(code: u16) -> Option<&'static str> {
    CODES.iter().find(|(c, _, _)| *c == code).map(|(_, n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected meaning of each code, written out independently of `CODES` so that an edit of the table
    /// that changes what a code means fails here.
    const EXPECTED: &[(u16, bool, bool)] = &[
        // (code, transient, reconnect first)
        (2002, true, true),
        (2003, true, true),
        (2006, true, true),
        (2013, true, true),
        (2055, true, true),
        (1053, true, true),
        (1158, true, true),
        (1159, true, true),
        (1160, true, true),
        (1161, true, true),
        (1927, true, true),
        (3169, true, true),
        (4031, true, true),
        (1040, true, false),
        (1205, true, false),
        (1213, true, false),
        (3572, true, false),
        (1637, true, false),
        (1317, true, false),
        (3024, true, false),
        (1290, true, true),
        (1836, true, true),
        (1792, true, true),
        (1048, false, false),
        (1062, false, false),
        (1586, false, false),
        (1263, false, false),
        (1264, false, false),
        (1265, false, false),
        (1292, false, false),
        (1300, false, false),
        (1365, false, false),
        (1366, false, false),
        (1367, false, false),
        (1406, false, false),
        (1411, false, false),
        (1451, false, false),
        (1452, false, false),
        (1690, false, false),
        (3140, false, false),
        (3819, false, false),
        (1044, false, false),
        (1045, false, false),
        (1142, false, false),
        (1143, false, false),
        (1227, false, false),
        (1698, false, false),
        (1820, false, false),
        (3118, false, false),
        (1049, false, false),
        (1050, false, false),
        (1054, false, false),
        (1060, false, false),
        (1061, false, false),
        (1064, false, false),
        (1067, false, false),
        (1071, false, false),
        (1091, false, false),
        (1105, false, false),
        (1114, false, false),
        (1118, false, false),
        (1146, false, false),
        (1170, false, false),
        (1236, false, false),
    ];

    #[test]
    fn every_code_has_its_expected_meaning() {
        for &(code, transient, reconnect) in EXPECTED {
            let k = kind(code);
            assert_eq!(k.is_transient(), transient, "{code} ({:?}) transient?", name(code));
            assert_eq!(k.needs_reconnect(), reconnect, "{code} ({:?}) reconnect?", name(code));
        }
    }

    #[test]
    fn the_table_and_the_expectations_list_the_same_codes_once() {
        let mut table: Vec<u16> = CODES.iter().map(|(c, _, _)| *c).collect();
        let mut expected: Vec<u16> = EXPECTED.iter().map(|(c, _, _)| *c).collect();
        table.sort_unstable();
        expected.sort_unstable();
        let n = table.len();
        table.dedup();
        assert_eq!(table.len(), n, "a code is listed twice in CODES");
        assert_eq!(table, expected, "every code in CODES has an expectation here, and no other");
    }

    #[test]
    fn rows_that_do_not_fit_are_data_errors() {
        for code in [1048, 1062, 1263, 1264, 1265, 1292, 1366, 1406, 1690, 3140, 3819] {
            assert_eq!(kind(code), Kind::Data, "{code}");
        }
    }

    #[test]
    fn missing_privileges_are_privilege_errors() {
        for code in [1044, 1045, 1142, 1143, 1227] {
            assert_eq!(kind(code), Kind::Privilege, "{code}");
        }
    }

    #[test]
    fn unknown_codes_are_definite() {
        for code in [0, 1, 1000, 1999, 9999, u16::MAX] {
            assert_eq!(kind(code), Kind::Definite, "{code}");
            assert!(!kind(code).is_transient());
        }
    }

    #[test]
    fn names_are_the_servers_symbols() {
        assert_eq!(name(1062), Some("ER_DUP_ENTRY"));
        assert_eq!(name(2013), Some("CR_SERVER_LOST"));
        assert_eq!(name(4242), None);
        for (code, name, _) in CODES {
            assert!(name.starts_with("ER_") || name.starts_with("CR_") || name.starts_with("WARN_"), "{code}");
        }
    }
}
