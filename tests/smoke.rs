//! Smoke test of the topology every other test relies on: the primary replicates to the replica, and the
//! replica's binlog can be streamed from a GTID position with mysql_async and decoded into row values.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use common::*;
use futures_util::StreamExt;
use mysql_async::binlog::events::{EventData, RowsEventData};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::*;
use mysql_async::{BinlogStreamRequest, Value};

/// How long to look for our row in the replica's binlog before failing.
const STREAM_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn replica_binlog_carries_primary_write() -> Result<()> {
    let db = TestDb::new("smoke_binlog").await?;
    db.exec("CREATE TABLE smoke (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL, note TEXT NULL)").await?;
    db.wait_replica_caught_up().await?;

    // The stream must start before the write: take the replica's executed set now.
    let mut replica = db.replica_conn().await?;
    let before: String = replica.query_first("SELECT @@global.gtid_executed").await?.unwrap_or_default();
    let before_set = parse_gtid_set(&before)?;
    assert_eq!(format_gtid_set(&before_set), before.replace(['\n', ' '], ""), "GTID set round trip");

    db.exec("INSERT INTO smoke VALUES (42, 'wraith smoke ✓', NULL)").await?;
    db.wait_replica_caught_up().await?;
    let on_replica: Vec<(i64, String, Option<String>)> = db.query_replica("SELECT id, name, note FROM smoke").await?;
    assert_eq!(on_replica, vec![(42, "wraith smoke ✓".to_string(), None)], "row on the replica");
    assert_tables_equal(db.primary(), "smoke", db.replica(), "smoke", "id, name, note", "id").await?;

    // Stream the replica's binlog (it logs replicated transactions: log_replica_updates) after `before`.
    let server_id = random_server_id();
    let conn = connect(replica_opts(None)).await?;
    let request = BinlogStreamRequest::new(server_id).with_gtid().with_gtid_set(before_set);
    let mut stream = within("opening the replica's binlog stream", CONNECT_TIMEOUT, async {
        Ok(conn.get_binlog_stream(request).await?)
    })
    .await
    .with_context(|| format!("binlog stream from the replica, server_id {server_id}, after {before}"))?;

    let deadline = Instant::now() + STREAM_TIMEOUT;
    let mut seen = Vec::new(); // tables with row events, for the failure message
    let row = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = match tokio::time::timeout(left, stream.next()).await {
            Err(_) => bail!(
                "no WRITE_ROWS event for {}.smoke within {STREAM_TIMEOUT:?}; row events seen: {seen:?}",
                db.name()
            ),
            Ok(None) => bail!("binlog stream ended; row events seen: {seen:?}"),
            Ok(Some(event)) => event.context("reading the binlog stream")?,
        };
        let Some(EventData::RowsEvent(rows_event)) = event.read_data()? else { continue };
        let tme = stream.get_tme(rows_event.table_id()).context("rows event without its table map")?;
        let table = (tme.database_name().into_owned(), tme.table_name().into_owned());
        if table != (db.name().to_string(), "smoke".to_string()) {
            seen.push(format!("{}.{}", table.0, table.1));
            continue;
        }
        let RowsEventData::WriteRowsEvent(_) = rows_event else {
            bail!("expected WRITE_ROWS for {}.smoke, got {rows_event:?}", db.name());
        };
        let mut rows = rows_event.rows(tme).collect::<Result<Vec<_>, _>>()?;
        assert_eq!(rows.len(), 1, "one row inserted");
        let (before_image, after_image) = rows.remove(0);
        assert!(before_image.is_none(), "an insert has no before image");
        break after_image.context("insert without an after image")?;
    };
    let values: Vec<BinlogValue> = row.unwrap();
    assert_eq!(
        values,
        vec![
            BinlogValue::Value(Value::Int(42)),
            BinlogValue::Value(Value::Bytes("wraith smoke ✓".as_bytes().to_vec())),
            BinlogValue::Value(Value::NULL),
        ],
        "row values decoded from the replica's binlog"
    );
    Ok(())
}

/// The table comparison other tests rely on must notice a single differing value (NULL vs '' included).
#[tokio::test(flavor = "multi_thread")]
async fn table_comparison_reports_first_difference() -> Result<()> {
    let db = TestDb::new("smoke_compare").await?;
    db.exec(
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10) NULL);
         CREATE TABLE b LIKE a;
         INSERT INTO a VALUES (1, 'x'), (2, ''), (3, 'z');
         INSERT INTO b VALUES (1, 'x'), (2, NULL), (3, 'z');",
    )
    .await?;
    let mut conn = db.primary_conn().await?;
    let (ca, cb) =
        (table_checksum(&mut conn, "a", "id, v", "id").await?, table_checksum(&mut conn, "b", "id, v", "id").await?);
    assert_eq!((ca.rows, cb.rows), (3, 3));
    assert_ne!(ca, cb, "NULL and '' must digest differently");
    assert_eq!(ca, table_checksum(&mut conn, "a", "id, v", "id").await?, "digest is deterministic");

    let err = assert_tables_equal(db.primary(), "a", db.primary(), "b", "id, v", "id").await.unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("first difference at row 1") && msg.contains(r#"("2", "")"#) && msg.contains(r#"("2", NULL)"#),
        "{msg}"
    );

    db.exec("UPDATE b SET v = '' WHERE id = 2").await?;
    assert_tables_equal(db.primary(), "a", db.primary(), "b", "id, v", "id").await?;
    assert_rows_eq(
        &rows(&mut conn, "SELECT * FROM a ORDER BY id").await?,
        &rows(&mut conn, "SELECT * FROM b ORDER BY id").await?,
        "a vs b",
    );
    Ok(())
}

#[test]
fn gtid_sets_parse() -> Result<()> {
    let a = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
    let b = "d2e6b1e0-e570-11f1-9381-02fc00000001";
    assert!(parse_gtid_set("")?.is_empty());
    assert!(parse_gtid_set(" \n")?.is_empty());

    let set = parse_gtid_set(&format!("{a}:1-5:7,\n{b}:1-3"))?;
    assert_eq!(set.len(), 2);
    let iv: Vec<(u64, u64)> = set[0].intervals().iter().map(|i| (i.start(), i.end())).collect();
    assert_eq!(iv, vec![(1, 6), (7, 8)], "intervals are [start, end)");
    assert_eq!(format_gtid_set(&set), format!("{a}:1-5:7,{b}:1-3"));

    // Tagged GTIDs (MySQL 8.4+): one Sid per uuid and tag.
    let set = parse_gtid_set(&format!("{a}:1-5:wraith:1-2:9"))?;
    assert_eq!(set.len(), 2);
    assert_eq!(set[1].tag().map(|t| t.to_string()), Some("wraith".to_string()));
    assert_eq!(format_gtid_set(&set), format!("{a}:1-5,{a}:wraith:1-2:9"));

    assert!(parse_gtid_set("not-a-uuid:1-2").is_err());
    assert!(parse_gtid_set(&format!("{a}:5-1")).is_err());
    Ok(())
}
