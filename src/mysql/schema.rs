//! Table shapes as read from information_schema: the facts every other role needs about columns and keys.

/// One column of a table, as information_schema describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// 1-based position; binlog row images list columns in this order.
    pub ordinal: usize,
    /// `DATA_TYPE`, lower case: "int", "varchar", "enum", "json", "timestamp", ...
    pub data_type: String,
    /// `COLUMN_TYPE`, lower case: "int unsigned", "enum('a','b')", "decimal(65,30)", "binary(16)", ...
    pub column_type: String,
    pub nullable: bool,
    /// `CHARACTER_SET_NAME`, for character columns only ("utf8mb4", "latin1", ...).
    pub charset: Option<String>,
    /// `COLLATION_NAME`, for character columns only.
    pub collation: Option<String>,
    /// `CHARACTER_OCTET_LENGTH`: for BINARY(N) the N that trailing zero bytes are padded back to.
    pub octet_length: Option<u64>,
    /// `NUMERIC_PRECISION` / `NUMERIC_SCALE` for decimals.
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    /// `DATETIME_PRECISION` for temporal types.
    pub datetime_precision: Option<u64>,
    /// Generated (virtual or stored): never written by the tool.
    pub generated: bool,
    pub auto_increment: bool,
}

impl Column {
    pub fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }
}

/// A unique (or primary) key: its name and column names in key order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueKey {
    pub name: String,
    pub columns: Vec<String>,
    pub primary: bool,
    /// True when any key column is nullable (such keys do not guarantee uniqueness of NULLs).
    pub nullable: bool,
}

/// What the tool knows of one table.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub database: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub unique_keys: Vec<UniqueKey>,
    pub engine: String,
    pub estimated_rows: u64,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}
