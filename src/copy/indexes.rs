//! Deferred secondary indexes (`--defer-secondary-indexes`, on by default): the ghost is created without
//! its plain secondary indexes, the copy fills it, and one `ALTER TABLE ghost ADD KEY ..., ADD KEY ...`
//! (an online, sorted build) adds them back before the verification. Maintaining a secondary index row by
//! row costs every copied chunk a random B-tree insert per index, on the primary and again on the replica;
//! a sorted build after the copy is far cheaper, and the replica builds them from the one statement.
//!
//! Invariants:
//! - only plain, non-unique `KEY`s are deferred: unique keys enforce the new schema during the copy (a
//!   duplicate must fail the chunk that brings it), and the migration key is unique;
//! - nothing is deferred when the order of the keys could come back different or a key is needed while
//!   copying: a table with a foreign key, a FULLTEXT or SPATIAL key, or a functional key part;
//! - the keys are added back in their original order, and the ghost's definition is then compared with the
//!   one read before they were dropped: the cut-over only ever sees the schema the ALTER asked for;
//! - nothing is deferred with --checkpoint: a --resume would have to know which keys the ghost still lacks;
//! - the build runs while the binlog keeps being applied (online DDL, `LOCK=NONE`), on its own
//!   connection, and is killed (`KILL QUERY`) when the run stops, so no DDL outlives the run.

use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use tracing::info;

use crate::error::{Error, Result};
use crate::mysql::sql::{ident, qualified};
use crate::state::tasks::Stop;

/// The secondary indexes left off the ghost during the copy, with the definition the ghost must have once
/// they are back.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct DeferredIndexes {
    /// Each key's name and its clause as SHOW CREATE TABLE gives it (`KEY `k` (`a`,`b`(10)) COMMENT '..'`).
    pub(crate) keys: Vec<(String, String)>,
    /// The ghost's definition with every key (`revert::point::normalize_definition`).
    pub(crate) definition: String,
}

impl DeferredIndexes {
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.keys.iter().map(|(n, _)| n.clone()).collect()
    }

    /// `DROP INDEX a, DROP INDEX b`: run on the empty ghost right after it is created.
    pub(crate) fn drop_clause(&self) -> String {
        self.keys.iter().map(|(n, _)| format!("DROP INDEX {}", ident(n))).collect::<Vec<_>>().join(", ")
    }

    /// `ADD KEY ..., ADD KEY ..., ALGORITHM=INPLACE, LOCK=NONE`: the online build after the copy.
    pub(crate) fn add_clause(&self) -> String {
        let adds: Vec<String> = self.keys.iter().map(|(_, def)| format!("ADD {def}")).collect();
        format!("{}, ALGORITHM=INPLACE, LOCK=NONE", adds.join(", "))
    }
}

/// The plain secondary keys of a table, from its SHOW CREATE TABLE, that can be left off during the copy
/// and added back in the same order; none when any key or constraint makes that unsafe (see the module's
/// invariants).
pub(crate) fn deferrable(create: &str) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    for line in create.lines() {
        let line = line.trim().trim_end_matches(',');
        if line.starts_with("CONSTRAINT ") && line.contains(" FOREIGN KEY ")
            || line.starts_with("FOREIGN KEY ")
            || line.starts_with("FULLTEXT ")
            || line.starts_with("SPATIAL ")
        {
            return Vec::new();
        }
        if let Some(rest) = line.strip_prefix("KEY `") {
            // A functional key part is an expression in its own parentheses: ((lower(`c`))).
            let Some((name, parts)) = rest.split_once("` (") else { return Vec::new() };
            if parts.starts_with('(') || name.contains('`') {
                return Vec::new();
            }
            keys.push((name.to_string(), line.to_string()));
        }
    }
    keys
}

/// On the freshly created (empty) ghost: reads its keys, drops the deferrable ones. Returns what to add
/// back after the copy (empty when nothing was deferred).
pub(crate) async fn defer(conn: &mut Conn, db: &str, ghost: &str) -> Result<DeferredIndexes> {
    let create = crate::mysql::inspector::show_create(conn, db, ghost)
        .await?
        .ok_or_else(|| Error::Aborted(format!("the ghost table {db}.{ghost} vanished")))?;
    let keys = deferrable(&create);
    if keys.is_empty() {
        return Ok(DeferredIndexes::default());
    }
    let deferred = DeferredIndexes { keys, definition: crate::revert::point::normalize_definition(&create) };
    conn.query_drop(format!("ALTER TABLE {} {}", qualified(db, ghost), deferred.drop_clause())).await?;
    info!(
        "deferred secondary indexes: {} left off the ghost during the copy, built after it",
        deferred.names().join(", ")
    );
    Ok(deferred)
}

/// Lets the build on `conn` use at most `threads` server threads for its scan and its sort
/// (`innodb_parallel_read_threads`, `innodb_ddl_threads`; 4 each by default): the latency pacer's level
/// when the copy ended, so an application the copy had to yield to keeps its cores during the build too.
/// A server that refuses the setting (before 8.0.27, or not allowed) builds as it would.
pub(crate) async fn limit_threads(conn: &mut Conn, threads: usize) -> Result<()> {
    let n = threads.clamp(1, 4);
    let sql = format!("SET SESSION innodb_parallel_read_threads = {n}, innodb_ddl_threads = {n}");
    match conn.query_drop(sql).await {
        Ok(()) => {
            info!("the deferred index build uses {n} server thread(s), the latency pacer's last level");
            Ok(())
        }
        Err(mysql_async::Error::Server(e)) => {
            // Before 8.0.27 (ER_UNKNOWN_SYSTEM_VARIABLE), or not allowed here: the build keeps the defaults.
            info!("the deferred index build keeps the server's thread defaults: {}", e.message);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Adds the deferred keys back to the ghost on `conn` (its own connection), then checks the ghost's
/// definition. A stop kills the build.
pub(crate) async fn build(mut conn: Conn, db: String, ghost: String, d: DeferredIndexes, stop: Stop) -> Result<()> {
    let started = Instant::now();
    let id = conn.id();
    let opts = conn.opts().clone();
    info!("building the deferred secondary indexes {} on the ghost", d.names().join(", "));
    let sql = format!("ALTER TABLE {} {}", qualified(&db, &ghost), d.add_clause());
    let mut stopped = stop;
    let built = tokio::select! {
        r = conn.query_drop(&sql) => r,
        _ = stopped.stopped() => {
            // The server would finish the ALTER after the client left: end it here.
            if let Ok(mut k) = Conn::new(opts).await {
                let _ = k.query_drop(format!("KILL QUERY {id}")).await;
                let _ = k.disconnect().await;
            }
            return Ok(());
        }
    };
    built.map_err(|e| Error::Context {
        context: format!("building the deferred secondary indexes on {db}.{ghost}"),
        source: Box::new(e.into()),
    })?;
    let now = crate::revert::point::definition(&mut conn, &db, &ghost).await?.unwrap_or_default();
    if now != d.definition {
        return Err(Error::Aborted(format!(
            "after building the deferred secondary indexes, {db}.{ghost} differs from the definition the ALTER \
             gave it:\n{now}\nexpected:\n{}\nrun again with --defer-secondary-indexes=false",
            d.definition
        )));
    }
    info!("deferred secondary indexes built in {:.1?}", started.elapsed());
    let _ = conn.disconnect().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SBTEST: &str = "CREATE TABLE `sbtest1` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `k` int NOT NULL DEFAULT '0',\n  `c` char(120) NOT NULL DEFAULT '',\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `uc` (`c`),\n  KEY `k_1` (`k`),\n  KEY `kc` (`k`,`c`(10)) COMMENT 'two' /*!80000 INVISIBLE */\n) ENGINE=InnoDB AUTO_INCREMENT=7 DEFAULT CHARSET=utf8mb4";

    #[test]
    fn plain_keys_are_deferred_in_order_unique_ones_stay() {
        let keys = deferrable(SBTEST);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], ("k_1".to_string(), "KEY `k_1` (`k`)".to_string()));
        assert_eq!(keys[1].1, "KEY `kc` (`k`,`c`(10)) COMMENT 'two' /*!80000 INVISIBLE */");
        let d = DeferredIndexes { keys, definition: String::new() };
        assert_eq!(d.drop_clause(), "DROP INDEX `k_1`, DROP INDEX `kc`");
        assert_eq!(
            d.add_clause(),
            "ADD KEY `k_1` (`k`), ADD KEY `kc` (`k`,`c`(10)) COMMENT 'two' /*!80000 INVISIBLE */, \
             ALGORITHM=INPLACE, LOCK=NONE"
        );
    }

    #[test]
    fn nothing_is_deferred_when_order_or_constraints_could_change() {
        for extra in [
            "  CONSTRAINT `fk` FOREIGN KEY (`k`) REFERENCES `p` (`id`),\n",
            "  FULLTEXT KEY `ft` (`c`),\n",
            "  SPATIAL KEY `sp` (`g`),\n",
            "  KEY `f` ((lower(`c`))),\n",
        ] {
            let create = SBTEST.replace("  PRIMARY KEY (`id`),\n", &format!("  PRIMARY KEY (`id`),\n{extra}"));
            assert!(deferrable(&create).is_empty(), "{extra}");
        }
        let no_keys = "CREATE TABLE `t` (\n  `id` int NOT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB";
        assert!(deferrable(no_keys).is_empty());
    }
}
