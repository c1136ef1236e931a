//! Table shapes as read from information_schema: the facts every other role needs about columns and keys.

/// One column of a table, as information_schema describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub(crate) name: String,
    /// 1-based position; binlog row images list columns in this order.
    pub(crate) ordinal: usize,
    /// `DATA_TYPE`, lower case: "int", "varchar", "enum", "json", "timestamp", ...
    pub(crate) data_type: String,
    /// `COLUMN_TYPE`, lower case: "int unsigned", "enum('a','b')", "decimal(65,30)", "binary(16)", ...
    pub(crate) column_type: String,
    pub(crate) nullable: bool,
    /// `CHARACTER_SET_NAME`, for character columns only ("utf8mb4", "latin1", ...).
    pub(crate) charset: Option<String>,
    /// `COLLATION_NAME`, for character columns only.
    pub(crate) collation: Option<String>,
    /// `CHARACTER_OCTET_LENGTH`: for BINARY(N) the N that trailing zero bytes are padded back to.
    pub(crate) octet_length: Option<u64>,
    /// `NUMERIC_PRECISION` / `NUMERIC_SCALE` for decimals.
    pub(crate) precision: Option<u64>,
    pub(crate) scale: Option<u64>,
    /// `DATETIME_PRECISION` for temporal types.
    pub(crate) datetime_precision: Option<u64>,
    /// Generated (virtual or stored): never written by the tool.
    pub(crate) generated: bool,
    pub(crate) auto_increment: bool,
}

impl Column {
    pub(crate) fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }

    /// A plain column for unit tests: `data_type` is also its column type; no charset, not generated.
    #[cfg(test)]
    pub(crate) fn for_test(name: &str, data_type: &str, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ordinal: 0,
            data_type: data_type.into(),
            column_type: data_type.into(),
            nullable,
            charset: None,
            collation: None,
            octet_length: None,
            precision: None,
            scale: None,
            datetime_precision: None,
            generated: false,
            auto_increment: false,
        }
    }
}

/// A unique (or primary) key: its name and column names in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UniqueKey {
    pub(crate) name: String,
    pub(crate) columns: Vec<String>,
    pub(crate) primary: bool,
    /// True when any key column is nullable (such keys do not guarantee uniqueness of NULLs).
    pub(crate) nullable: bool,
}

/// What the tool knows of one table.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub(crate) database: String,
    pub(crate) name: String,
    pub(crate) columns: Vec<Column>,
    pub(crate) unique_keys: Vec<UniqueKey>,
    pub(crate) engine: String,
    pub(crate) estimated_rows: u64,
}

impl TableInfo {
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}
