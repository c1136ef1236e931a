//! Everything that speaks MySQL without knowing about a migration: connections and writer sessions, SQL
//! quoting, table schemas, GTID sets, the reading of ALTER statements and the conversion of binlog values
//! back to SQL literals.

pub(crate) mod alter;
pub(crate) mod connect;
pub(crate) mod endpoint;
pub(crate) mod gtid;
pub(crate) mod inspector;
pub(crate) mod schema;
pub(crate) mod sql;
pub(crate) mod value;
