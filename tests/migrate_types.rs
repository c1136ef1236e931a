//! Migrations of a table with every column type, under concurrent writes, for each kind of ALTER.
//!
//! Each test seeds `t` (and the control table `c`, same schema) with rows holding the extreme values of each
//! type, then runs writers (inserts above and inside the copy range, updates, key moves, deletes; TIMESTAMPs
//! written from a '+05:30' session) while the migration goes through every phase:
//!
//! 1. copy throttled: changes reach the ghost table only through the binlog;
//! 2. copy running, then paused half-way (throttle flag) while writes continue, then finished;
//! 3. cut-over postponed: the binlog keeps the ghost in sync;
//! 4. cut-over while the writers write, and writes to the new table after it.
//!
//! Every writer transaction changes `t` and `c` together, so at the end `t` (new schema) must equal `c` row by
//! row over the shared columns, whatever the timing.

mod common;
mod migrate_common;

use std::sync::Arc;

use anyhow::{bail, Context, Result};
use common::*;
use migrate_common::*;
use wraith::Phase;

const SEED_MAX: i64 = 4000;

const TYPES_TABLE: &str = "CREATE TABLE t (
    id BIGINT NOT NULL,
    u BIGINT UNSIGNED NOT NULL,
    ti TINYINT NULL, tiu TINYINT UNSIGNED NULL,
    si SMALLINT NULL, siu SMALLINT UNSIGNED NULL,
    mi MEDIUMINT NULL, miu MEDIUMINT UNSIGNED NULL,
    i INT NULL, iu INT UNSIGNED NULL,
    bi BIGINT NULL, biu BIGINT UNSIGNED NULL,
    dc DECIMAL(65,30) NULL,
    f FLOAT NULL,
    d DOUBLE NULL,
    dt DATE NULL,
    dtm DATETIME(6) NULL,
    tm TIME(6) NULL,
    ts TIMESTAMP(6) NULL,
    y YEAR NULL,
    vc VARCHAR(100) CHARACTER SET utf8mb4 NULL,
    ch1 CHAR(20) CHARACTER SET latin1 NULL,
    tx1251 TEXT CHARACTER SET cp1251 NULL,
    sj VARCHAR(40) CHARACTER SET sjis NULL,
    txt TEXT CHARACTER SET utf8mb4 NULL,
    bn BINARY(16) NULL,
    vb VARBINARY(64) NULL,
    bl BLOB NULL,
    e ENUM('a','b','c','ÿé') NULL,
    st SET('x','y','z','é') NULL,
    b1 BIT(1) NULL,
    b64 BIT(64) NULL,
    j JSON NULL,
    g GEOMETRY NULL,
    gv BIGINT AS (i * 2) VIRTUAL,
    gs VARCHAR(300) AS (CONCAT(IFNULL(vc, '-'), '|', id)) STORED,
    PRIMARY KEY (id),
    UNIQUE KEY u (u)
) DEFAULT CHARSET=utf8mb4";

/// Written columns (generated ones are computed).
const WRITTEN: &[&str] = &[
    "id", "u", "ti", "tiu", "si", "siu", "mi", "miu", "i", "iu", "bi", "biu", "dc", "f", "d", "dt", "dtm", "tm", "ts",
    "y", "vc", "ch1", "tx1251", "sj", "txt", "bn", "vb", "bl", "e", "st", "b1", "b64", "j", "g",
];

/// `u` derives from the key so it stays unique: 10^19 + id is above i64::MAX (an unsigned-only value).
fn u_of(id: i64) -> String {
    (10_000_000_000_000_000_000u64 + id as u64).to_string()
}

/// One integer: 0, -1 (or 1), the extremes, or random in range; sometimes NULL.
fn int(r: &mut Rng, min: i128, max: i128) -> String {
    match r.below(7) {
        0 => "0".into(),
        1 => if min < 0 { "-1" } else { "1" }.into(),
        2 => min.to_string(),
        3 => max.to_string(),
        4 => "NULL".into(),
        _ => r.range(min, max).to_string(),
    }
}

fn opt(r: &mut Rng, v: String) -> String {
    if r.chance(8) {
        "NULL".into()
    } else {
        v
    }
}

fn random_string(r: &mut Rng, alphabet: &[&str], max_len: u64) -> String {
    let n = r.below(max_len + 1);
    (0..n).map(|_| *r.pick(alphabet)).collect()
}

fn types_row(r: &mut Rng, id: i64) -> Vec<String> {
    const DIGITS: &str = "12345678901234567890123456789012345";
    let dc = match r.below(6) {
        0 => "99999999999999999999999999999999999.999999999999999999999999999999".to_string(),
        1 => "-99999999999999999999999999999999999.999999999999999999999999999999".to_string(),
        2 => "0.000000000000000000000000000001".to_string(),
        3 => "-0.5".to_string(),
        _ => {
            let int_digits = r.below(35) as usize + 1;
            let sign = if r.chance(50) { "-" } else { "" };
            format!("{sign}{}.{:030}", &DIGITS[..int_digits], r.next_u64() % 1_000_000_000_000_000_000)
        }
    };
    // FLOAT literals are the exact decimal value of an f32 (so a FLOAT and a DOUBLE column store the same
    // number and the MODIFY f DOUBLE case can compare with the control): the extremes, subnormals, 0.1f32...
    let f32_exact = |x: f32| format!("{:e}", f64::from(x));
    let f = match r.below(9) {
        0 => "0".to_string(),
        1 => "-0e0".to_string(),
        2 => f32_exact(f32::MAX),
        3 => f32_exact(f32::MIN),
        4 => f32_exact(f32::MIN_POSITIVE),
        5 => f32_exact(f32::from_bits(1)), // the smallest subnormal
        6 => f32_exact(0.1),
        7 => f32_exact(-123.456),
        _ => {
            let x = f32::from_bits(r.next_u64() as u32);
            f32_exact(if x.is_finite() { x } else { 0.5 })
        }
    };
    let d = r
        .pick(&[
            "0",
            "-0e0",
            "1.7976931348623157e308",
            "-2.2250738585072014e-308",
            "4.9e-324",
            "0.1",
            "0.30000000000000004",
            "R",
        ])
        .to_string();
    let d = if d == "R" { format!("{}e{}", r.range(-(1 << 53), 1 << 53), r.range(-300, 290)) } else { d };
    let date = |r: &mut Rng| format!("{:04}-{:02}-{:02}", r.range(1000, 9999), r.range(1, 12), r.range(1, 28));
    let dt = match r.below(5) {
        0 => "1000-01-01".to_string(),
        1 => "9999-12-31".to_string(),
        2 => "2024-02-29".to_string(),
        _ => date(r),
    };
    let dtm = match r.below(5) {
        0 => "1000-01-01 00:00:00.000000".to_string(),
        1 => "9999-12-31 23:59:59.999999".to_string(),
        2 => "2024-02-29 12:34:56.000001".to_string(),
        _ => format!("{} {:02}:{:02}:{:02}.{:06}", date(r), r.below(24), r.below(60), r.below(60), r.below(1_000_000)),
    };
    let tm = match r.below(8) {
        0 => "-838:59:59.000000".to_string(),
        1 => "838:59:59.000000".to_string(),
        2 => "-00:00:00.000001".to_string(),
        3 => "24:00:00.500000".to_string(),
        4 => "100:00:00.000001".to_string(),
        5 => "00:00:00".to_string(),
        _ => format!(
            "{}{}:{:02}:{:02}.{:06}",
            if r.chance(30) { "-" } else { "" },
            r.below(838),
            r.below(60),
            r.below(60),
            r.below(1_000_000)
        ),
    };
    // Literals in the writers' '+05:30' session: the extremes of the TIMESTAMP range there.
    let ts = match r.below(5) {
        0 => "1970-01-01 05:30:01.000000".to_string(),
        1 => "2038-01-19 08:44:07.999999".to_string(),
        2 => "2000-01-01 00:00:00.123456".to_string(),
        _ => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
            r.range(1971, 2037),
            r.range(1, 12),
            r.range(1, 28),
            r.below(24),
            r.below(60),
            r.below(60),
            r.below(1_000_000)
        ),
    };
    let y = match r.below(5) {
        0 => "1901".to_string(),
        1 => "2155".to_string(),
        2 => "0".to_string(), // the year 0000
        _ => r.range(1901, 2155).to_string(),
    };
    let vc = match r.below(6) {
        0 => "🦀 ghost 👻 — ünïcödé".to_string(),
        1 => String::new(),
        2 => "it's a \\ \"quoted\"\n\ttab and NUL \0 end".to_string(),
        3 => "trailing spaces   ".to_string(),
        _ => random_string(r, &["a", "Z", "é", "ß", "日本", "🦀", " ", "'", "\\", "%", "_"], 40),
    };
    let ch1 = r.pick(&["é", "ÿ", "Äß", "plain", "it's", "", " lead", "Ø \\ ¿"]).to_string();
    let tx1251 = match r.below(3) {
        0 => "Привет, мир".to_string(),
        1 => "Ёё Ъъ №".to_string(),
        _ => random_string(r, &["ж", "Щ", "a", " ", "я"], 200),
    };
    // 表 and ソ end in byte 0x5C (a backslash) in sjis.
    let sj = match r.below(3) {
        0 => "表ソ".to_string(),
        1 => "こんにちは \\ 表示".to_string(),
        _ => random_string(r, &["表", "ソ", "能", "ア", "a", "\\"], 20),
    };
    let txt = random_string(r, &["lorem ", "ipsum ", "🦀", "é", "\n", "'"], 300);
    let bn = match r.below(4) {
        0 => vec![1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        1 => vec![0; 16],
        2 => {
            let mut b = vec![0xFF; 15];
            b.push(0);
            b
        }
        _ => {
            let n = r.below(17) as usize;
            r.bytes(n)
        }
    };
    let vb = match r.below(4) {
        0 => vec![],
        1 => vec![0],
        2 => vec![b'a', b' ', 0, b' '],
        _ => {
            let n = r.below(60) as usize;
            let mut b = r.bytes(n);
            b.extend_from_slice(if r.chance(50) { &[0, 0] } else { &[0x20] });
            b
        }
    };
    let bl = {
        let n = if r.chance(5) { 5000 } else { r.below(300) as usize };
        r.bytes(n)
    };
    let e = r.pick(&["'a'", "'b'", "'c'", "'ÿé'"]).to_string();
    let st = r.pick(&["''", "'x'", "'x,z'", "'x,y,z,é'", "'é'"]).to_string();
    let b1 = r.pick(&["0", "1"]).to_string();
    let b64 = match r.below(5) {
        0 => "0".to_string(),
        1 => "1".to_string(),
        2 => "18446744073709551615".to_string(),
        3 => "9223372036854775808".to_string(),
        _ => r.next_u64().to_string(),
    };
    let j = match r.below(8) {
        0 | 1 => format!(
            "JSON_OBJECT('dec', CAST('123.4500' AS DECIMAL(10,4)), 'dt', CAST('2020-01-02 03:04:05.678' AS DATETIME(3)), \
             'date', CAST('2020-01-02' AS DATE), 't', CAST('-12:00:01.5' AS TIME(1)), 'big', 18446744073709551615, \
             'neg', -9223372036854775808, 'dbl', 1.5e300, 'uni', {}, 'n', {}, \
             'nested', JSON_ARRAY(1, JSON_OBJECT('x', NULL, 'y', JSON_ARRAY()), TRUE, FALSE, 0.25), \
             'bin', CAST(X'00FF' AS JSON))",
            sql_str("ü🦀 \"q\" \\ end"),
            r.range(-1_000_000, 1_000_000)
        ),
        2 => "CAST('[1, 2.5, -0.0, 1e-7, \"x\", null, {\"a\": {\"b\": [[]]}}]' AS JSON)".to_string(),
        3 => format!("JSON_QUOTE({})", sql_str("just a string ✓")),
        4 => "CAST(18446744073709551615 AS JSON)".to_string(),
        5 => "CAST('3.0' AS JSON)".to_string(),
        6 => "CAST('{}' AS JSON)".to_string(),
        _ => format!("JSON_OBJECT('k', {}, 's', {})", r.next_u64() >> 1, sql_str(&random_string(r, &["a", "é", "🦀"], 10))),
    };
    let g = match r.below(4) {
        0 => "ST_GeomFromText('POINT(1.5 -2.25)', 0)".to_string(),
        1 => "ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))', 0)".to_string(),
        2 => "ST_GeomFromText('LINESTRING(0 0,1e10 -1e-10,3 4)', 0)".to_string(),
        _ => format!("ST_GeomFromText('POINT({} {})', 0)", r.range(-1_000_000, 1_000_000), r.range(-1000, 1000)),
    };
    let mut vals = vec![id.to_string(), u_of(id)];
    vals.push(int(r, -128, 127));
    vals.push(int(r, 0, 255));
    vals.push(int(r, -32768, 32767));
    vals.push(int(r, 0, 65535));
    vals.push(int(r, -8388608, 8388607));
    vals.push(int(r, 0, 16777215));
    vals.push(int(r, i128::from(i32::MIN), i128::from(i32::MAX)));
    vals.push(int(r, 0, i128::from(u32::MAX)));
    vals.push(int(r, i128::from(i64::MIN), i128::from(i64::MAX)));
    vals.push(int(r, 0, i128::from(u64::MAX)));
    for v in [
        dc,
        f,
        d,
        sql_str(&dt),
        sql_str(&dtm),
        sql_str(&tm),
        sql_str(&ts),
        y,
        sql_str(&vc),
        sql_str(&ch1),
        sql_str(&tx1251),
        sql_str(&sj),
        sql_str(&txt),
        sql_hex(&bn),
        sql_hex(&vb),
        sql_hex(&bl),
        e,
        st,
        b1,
        b64,
        j,
        g,
    ] {
        let v = opt(r, v);
        vals.push(v);
    }
    assert_eq!(vals.len(), WRITTEN.len());
    vals
}

fn types_model() -> TableModel {
    TableModel {
        key: "id",
        columns: WRITTEN.to_vec(),
        row: types_row,
        rekey: |id| vec![("id", id.to_string()), ("u", u_of(id))],
        fixed: vec!["id", "u"],
        session: "SET time_zone = '+05:30'",
    }
}

/// Every column of the original table as compared: the raw value, plus exact forms where the text protocol
/// rounds (FLOAT prints 6 digits) or hides a difference (charset bytes, JSON scalar types).
fn compared(rename: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut out = Vec::new();
    for c in WRITTEN.iter().chain(&["gv", "gs"]) {
        let name = rename(c);
        out.push(name.clone());
        match *c {
            "f" => out.push(format!("CAST({name} AS DOUBLE)")),
            "ch1" | "tx1251" | "sj" | "vc" => out.push(format!("HEX({name})")),
            "ts" => out.push(format!("UNIX_TIMESTAMP({name})")),
            "g" => out.push(format!("ST_SRID({name})")),
            "j" => {
                out.push(format!("JSON_TYPE({name})"));
                for path in ["dec", "dt", "date", "t", "big", "neg", "dbl", "bin", "nested"] {
                    out.push(format!("JSON_TYPE(JSON_EXTRACT({name}, '$.{path}'))"));
                }
            }
            _ => {}
        }
    }
    out
}

/// The table a case migrates, and how its writers write it.
struct Fixture {
    table: &'static str,
    model: fn() -> TableModel,
    /// Rows `2, 4, ..= seed_max` are seeded (the gaps are for writers to fill).
    seed_max: i64,
}

const TYPES: Fixture = Fixture { table: TYPES_TABLE, model: types_model, seed_max: SEED_MAX };

/// How the test compares the migrated table with the control table.
struct Case {
    name: &'static str,
    alter: &'static str,
    fixture: Fixture,
    /// Run the same ALTER natively (`ALGORITHM=COPY`) on the control table once the writers stopped, and
    /// compare with that: for ALTERs whose result is what MySQL itself makes of the old values.
    native_control: bool,
    /// Columns selected from `t` and from `c`, value for value.
    t_columns: Vec<String>,
    c_columns: Vec<String>,
    /// Fragments SHOW CREATE TABLE t must (true) or must not (false) contain afterwards.
    schema: Vec<(&'static str, bool)>,
    after_cut_over: Vec<(&'static str, Option<&'static str>)>,
    approve_renamed_columns: bool,
    /// `SELECT COUNT(*)` queries that must count some rows at the end (that the case met what it tests).
    present: Vec<&'static str>,
}

impl Case {
    fn same_columns(name: &'static str, alter: &'static str) -> Case {
        Case::of(name, alter, TYPES, compared(&|c| c.to_string()))
    }

    /// A case comparing `cols` of `t` and `c`.
    fn of(name: &'static str, alter: &'static str, fixture: Fixture, cols: Vec<String>) -> Case {
        Case {
            name,
            alter,
            fixture,
            native_control: false,
            t_columns: cols.clone(),
            c_columns: cols,
            schema: vec![],
            after_cut_over: vec![],
            approve_renamed_columns: false,
            present: vec![],
        }
    }
}

async fn run_case(case: Case) -> Result<()> {
    let db = TestDb::new(case.name).await?;
    let model = Arc::new((case.fixture.model)());
    let seed_max = case.fixture.seed_max;
    db.exec(format!("{}; CREATE TABLE c LIKE t", case.fixture.table)).await?;
    let ids: Vec<i64> = (2..=seed_max).step_by(2).collect();
    model.seed(&db, "t", &ids, 42).await?;
    model.copy_rows(&db, "t", "c").await?;
    db.wait_replica_caught_up().await?;

    let throttle = FlagFile::new(&db, "throttle");
    let postpone = FlagFile::new(&db, "postpone");
    throttle.create()?;
    postpone.create()?;
    let mut spec = WorkloadSpec::new(model.clone(), seed_max);
    spec.after_cut_over = case.after_cut_over.clone();
    let writers = Workload::start(&db, spec).await?;

    let mut cfg = config(&db, "t", case.alter);
    cfg.throttle.flag_file = Some(throttle.path.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    cfg.schema.approve_renamed_columns = case.approve_renamed_columns;
    let mut run = Running::start(cfg);
    let ghost = run.names().ghost.clone();

    // 1. Streaming, copy throttled.
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    writers.wait_commits(150).await?;
    // 2. Copy some chunks, pause it with writes in between, then let it finish.
    throttle.remove()?;
    wait_until("the copy starting", PHASE_TIMEOUT, || async { Ok(count_rows(&db, &ghost).await? >= 200) }).await?;
    throttle.create()?;
    writers.wait_commits(150).await?;
    throttle.remove()?;
    // 3. Copy done, cut-over postponed: only the binlog feeds the ghost.
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    writers.wait_commits(150).await?;
    // 4. Cut-over under writes, then writes to the new table. (Compared with a native ALTER of the control
    // table, the writers stop first: a write to the new table means something else than to the old one.)
    let mut writers = Some(writers);
    let mut report = None;
    if case.native_control {
        report = Some(writers.take().context("writers")?.stop().await?);
    }
    postpone.remove()?;
    let outcome = run.finish_ok(RUN_TIMEOUT).await?;
    if let Some(writers) = writers {
        writers.wait_commits(100).await?;
        report = Some(writers.stop().await?);
    }
    let report = report.context("writers' report")?;

    let create = show_create(&db, "t").await?;
    for (fragment, present) in &case.schema {
        assert_eq!(
            create.contains(fragment),
            *present,
            "SHOW CREATE TABLE t, expecting {fragment:?} present={present}:\n{create}"
        );
    }
    if case.native_control {
        db.exec(format!("ALTER TABLE c {}, ALGORITHM=COPY", case.alter)).await?;
    }
    let n = assert_matches_control(&db, &case.t_columns.join(", "), &case.c_columns.join(", ")).await?;
    for q in &case.present {
        let count: Vec<u64> = db.query(*q).await?;
        assert!(count.first().is_some_and(|&n| n > 0), "{q}: no such row, the case did not test what it means to");
    }
    assert!(n >= ids.len() / 2, "only {n} rows left: the workload deletes too much to be meaningful");
    if !case.after_cut_over.is_empty() {
        assert!(report.switched > 0, "no writer saw the new column names after the cut-over: {report:?}");
    }
    assert!(outcome.executed && outcome.rows_copied > 0, "{outcome:?}");
    // The verification before the cut-over (on by default) compares every type here: a value the copy or
    // the applier wrote faithfully must compare equal, so nothing is ever repaired.
    let checksum = outcome.checksum.as_ref().expect("verified before the cut-over");
    assert!(checksum.rows > 0 && checksum.repaired == 0, "false checksum mismatch: {checksum:?}");
    assert_eq!(outcome.left_behind, vec![format!("{}._t_del", db.name())]);
    // The replica got the same rows (the ghost table's writes replicate like any other).
    db.wait_replica_caught_up().await?;
    let t_cols = case.t_columns.join(", ");
    assert_tables_equal(db.primary(), "t", db.replica(), "t", &t_cols, "id").await.context("primary vs replica")?;
    eprintln!("{}: {n} rows equal; {report:?}; {outcome:?}; phases {:?}", case.name, run.seen);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn types_add_column() -> Result<()> {
    let mut case = Case::same_columns(
        "types_add_column",
        "ADD COLUMN added VARCHAR(20) NOT NULL DEFAULT 'fresh', ADD COLUMN added_n INT NULL",
    );
    // New columns hold their default in every row, whoever wrote it.
    case.t_columns.extend(["added".to_string(), "added_n".to_string()]);
    case.c_columns.extend(["'fresh'".to_string(), "NULL".to_string()]);
    case.schema = vec![("`added` varchar(20) NOT NULL DEFAULT 'fresh'", true), ("`added_n` int", true)];
    run_case(case).await
}

#[tokio::test(flavor = "multi_thread")]
async fn types_drop_column() -> Result<()> {
    let mut case = Case::same_columns("types_drop_column", "DROP COLUMN bl");
    case.t_columns.retain(|c| c != "bl");
    case.c_columns.retain(|c| c != "bl");
    case.schema = vec![("`bl`", false), ("`vb` varbinary(64)", true)];
    case.after_cut_over = vec![("bl", None)];
    run_case(case).await
}

/// A column dropped and added anew under its name (issue 14, item 1): every row holds the new column's
/// default, as a native ALTER and gh-ost give it, whether the row was copied or written through the binlog
/// during the copy or the postponed cut-over; nothing of the old column is carried over (before, its NULLs
/// failed the copy with "Column cannot be null").
#[tokio::test(flavor = "multi_thread")]
async fn a_column_dropped_and_added_again_gets_the_new_default() -> Result<()> {
    let db = TestDb::new("drop_add_same_name").await?;
    db.exec(
        "CREATE TABLE t (id INT PRIMARY KEY, n INT NOT NULL, c1 VARCHAR(20) NULL);
         INSERT INTO t (id, n, c1) WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 300)
           SELECT i, i * 3, IF(i % 3 = 0, NULL, CONCAT('old ', i)) FROM seq;
         CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let throttle = FlagFile::new(&db, "throttle");
    let postpone = FlagFile::new(&db, "postpone");
    throttle.create()?;
    postpone.create()?;
    let mut cfg = config(&db, "t", "DROP COLUMN c1, ADD COLUMN c1 INT NOT NULL DEFAULT 47");
    cfg.throttle.flag_file = Some(throttle.path.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    // The same writes to t and to the control table: while the copy is held, and while the cut-over waits.
    let writes = |round: i32| {
        format!(
            "UPDATE {{t}} SET c1 = NULL, n = n + 1 WHERE id % 7 = {round};
             UPDATE {{t}} SET c1 = 'changed' WHERE id % 11 = {round};
             DELETE FROM {{t}} WHERE id = {};
             INSERT INTO {{t}} (id, n, c1) VALUES ({}, 1, NULL), ({}, 2, 'new')",
            10 + round,
            1000 + 2 * round,
            1001 + 2 * round
        )
    };
    for table in ["t", "c"] {
        db.exec(writes(1).replace("{t}", table)).await?;
    }
    throttle.remove()?;
    run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await?;
    for table in ["t", "c"] {
        db.exec(writes(2).replace("{t}", table)).await?;
    }
    postpone.remove()?;
    run.finish_ok(RUN_TIMEOUT).await?;
    let n = assert_matches_control(&db, "id, n, c1", "id, n, 47").await?;
    assert!(n >= 300, "{n} rows");
    assert!(show_create(&db, "t").await?.contains("`c1` int NOT NULL DEFAULT '47'"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn types_modify_column_type() -> Result<()> {
    let mut case = Case::same_columns("types_modify_column_type", "MODIFY i BIGINT NULL, MODIFY f DOUBLE NULL");
    // The control keeps FLOAT: compare the value it widens to exactly, as ALTER TABLE would convert it.
    for c in case.c_columns.iter_mut() {
        if c == "f" {
            *c = "CAST(f AS DOUBLE)".into();
        }
    }
    case.schema = vec![("`i` bigint", true), ("`f` double", true)];
    run_case(case).await
}

#[tokio::test(flavor = "multi_thread")]
async fn types_add_index() -> Result<()> {
    let mut case = Case::same_columns("types_add_index", "ADD INDEX dtm_vc (dtm, vc), ADD UNIQUE INDEX u_id (u, id)");
    case.schema = vec![("KEY `dtm_vc` (`dtm`,`vc`)", true), ("UNIQUE KEY `u_id` (`u`,`id`)", true)];
    run_case(case).await
}

#[tokio::test(flavor = "multi_thread")]
async fn types_rename_columns_approved() -> Result<()> {
    let rename = |c: &str| match c {
        "txt" => "body".to_string(),
        "dc" => "amount".to_string(),
        other => other.to_string(),
    };
    let mut case = Case::same_columns(
        "types_rename_columns",
        "RENAME COLUMN txt TO body, CHANGE COLUMN dc amount DECIMAL(65,30) NULL",
    );
    case.t_columns = compared(&rename);
    case.approve_renamed_columns = true;
    case.after_cut_over = vec![("txt", Some("body")), ("dc", Some("amount"))];
    case.schema = vec![("`body` text", true), ("`amount` decimal(65,30)", true), ("`txt`", false), ("`dc`", false)];
    run_case(case).await
}

#[tokio::test(flavor = "multi_thread")]
async fn types_primary_key_moves_to_unique_key() -> Result<()> {
    // Only `u` is unique in both tables: it drives the copy and the apply (a BIGINT UNSIGNED above i64::MAX).
    let mut case = Case::same_columns(
        "types_pk_to_unique",
        "DROP PRIMARY KEY, DROP INDEX u, ADD PRIMARY KEY (u), ADD INDEX id_idx (id)",
    );
    case.schema = vec![("PRIMARY KEY (`u`)", true), ("KEY `id_idx` (`id`)", true), ("UNIQUE KEY", false)];
    run_case(case).await
}

// ---------------------------------------------------------------- ENUM error values (issue 14, item 4)

/// ENUM columns holding the error value (index 0: the '' non-strict mode stores for an invalid value), in
/// several character sets, next to members that read like it ('' and '0').
const ENUM_TABLE: &str = "CREATE TABLE t (
    id BIGINT NOT NULL PRIMARY KEY,
    e ENUM('a','b','c') NOT NULL,
    en ENUM('a','','0') NULL,
    eu ENUM('x','y') CHARACTER SET ucs2 NULL,
    e32 ENUM('x') CHARACTER SET utf32 NULL,
    ei ENUM('p','q') NULL,
    ev ENUM('p','q') NULL,
    n INT NOT NULL
) DEFAULT CHARSET=utf8mb4";

fn enum_row(r: &mut Rng, id: i64) -> Vec<String> {
    // 'bogus', '' (where it is no member), a number past the last member or 0: the error value.
    let mut pick = |values: &[&str]| r.pick(values).to_string();
    vec![
        id.to_string(),
        pick(&["'a'", "'b'", "'c'", "'bogus'", "''", "0", "9"]),
        pick(&["'a'", "''", "'0'", "'bogus'", "NULL", "3", "7"]),
        pick(&["'x'", "'y'", "'zz'", "NULL"]),
        pick(&["'x'", "'nope'", "NULL"]),
        pick(&["'p'", "'q'", "'bad'", "NULL"]),
        pick(&["'p'", "'q'", "'bad'", "NULL"]),
        r.range(-1000, 1000).to_string(),
    ]
}

fn enum_model() -> TableModel {
    TableModel {
        key: "id",
        columns: vec!["id", "e", "en", "eu", "e32", "ei", "ev", "n"],
        row: enum_row,
        rekey: |id| vec![("id", id.to_string())],
        fixed: vec!["id"],
        // Non-strict, as the applications that make such rows run.
        session: "SET SESSION sql_mode = ''",
    }
}

/// Rows holding the ENUM error value migrate as a native `ALTER TABLE ... ALGORITHM=COPY` keeps them, whether
/// the copy moves them or the binlog (under concurrent non-strict writers, through every phase): index 0 stays
/// index 0 in an ENUM (the same members, or new ones including '0' and '00'), becomes 0 in an INT and '' in a
/// VARCHAR, while wraith's writers stay strict. Before, the strict applier's '' was refused ("Data truncated").
#[tokio::test(flavor = "multi_thread")]
async fn enum_error_values_migrate_as_a_native_alter_keeps_them() -> Result<()> {
    let cols =
        ["id", "e", "e + 0", "en", "en + 0", "HEX(eu)", "eu + 0", "HEX(e32)", "e32 + 0", "ei", "HEX(ev)", "n", "z"];
    let mut case = Case::of(
        "enum_error_values",
        "MODIFY e ENUM('c','b','a','0','00') NOT NULL, MODIFY ei INT NULL, MODIFY ev VARCHAR(10) NULL, \
         ADD COLUMN z INT NOT NULL DEFAULT 7",
        Fixture { table: ENUM_TABLE, model: enum_model, seed_max: 1600 },
        cols.iter().map(|c| c.to_string()).collect(),
    );
    case.native_control = true;
    case.schema =
        vec![("`e` enum('c','b','a','0','00') NOT NULL", true), ("`ei` int", true), ("`ev` varchar(10)", true)];
    case.present = vec![
        // The error value, copied and written through the binlog (above the copy range: inserted meanwhile).
        "SELECT COUNT(*) FROM t WHERE e + 0 = 0 AND id <= 1600",
        "SELECT COUNT(*) FROM t WHERE e + 0 = 0 AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE en + 0 = 0 AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE eu + 0 = 0 AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE e32 + 0 = 0 AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE ei = 0 AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE ev = '' AND id > 1600",
    ];
    run_case(case).await
}

// ---------------------------------------------------------------- JSON opaque values (issue 14, item 4)

/// Every column type that JSON keeps as a typed (opaque) scalar, and JSON built from them.
const JSON_OPAQUE_TABLE: &str = "CREATE TABLE t (
    id BIGINT NOT NULL PRIMARY KEY,
    ts TIMESTAMP(6) NULL,
    t0 TIMESTAMP NULL,
    bl BLOB NULL,
    bn BINARY(4) NULL,
    mb MEDIUMBLOB NULL,
    lb LONGBLOB NULL,
    bt BIT(9) NULL,
    b64 BIT(64) NULL,
    eb ENUM('a','b') CHARACTER SET binary NULL,
    vb VARBINARY(8) NULL,
    j JSON NULL,
    jt JSON NULL
)";

/// `x`, a TIMESTAMP column, if its local time (the writers' '+05:30') is one a TIMESTAMP has in UTC: only
/// those can be rebuilt inside JSON (the rest is refused, see the test below). IF keeps the TIMESTAMP type.
fn utc_ts(x: &str) -> String {
    format!("IF({x} <= '2038-01-19 03:14:07.999999', {x}, NULL)")
}

fn json_opaque_row(r: &mut Rng, id: i64) -> Vec<String> {
    let ts = match r.below(5) {
        0 => "'1970-01-01 05:30:01.000000'".to_string(),
        1 => "'2038-01-19 08:44:07.999999'".to_string(), // the TIMESTAMP maximum, out of UTC's local range
        2 => "'2038-01-19 03:14:07.999999'".to_string(),
        _ => format!(
            "FROM_UNIXTIME({}.{:06})",
            r.range(1, 2_147_483_647),
            if r.chance(20) { 0 } else { r.below(1_000_000) }
        ),
    };
    let t0 = format!("FROM_UNIXTIME({})", r.range(1, 2_147_483_647));
    let mut bytes = |max: u64| {
        let n = r.below(max + 1) as usize;
        sql_hex(&r.bytes(n))
    };
    let (bl, bn, mb, lb, vb) = (bytes(40), bytes(4), bytes(20), bytes(20), bytes(8));
    let bt = r.below(512).to_string();
    let b64 = r.next_u64().to_string();
    let eb = r.pick(&["'a'", "'b'"]).to_string();
    let j = format!(
        "JSON_OBJECT('ts', {}, 't0', {}, 'c', CAST({} AS JSON), 'bl', bl, 'bn', bn, 'mb', mb, 'lb', lb, 'bt', bt, \
         'b64', b64, 'eb', eb, 'vb', vb, 'arr', JSON_ARRAY(bl, JSON_OBJECT('k', bn), {}, bt))",
        utc_ts("ts"),
        utc_ts("t0"),
        utc_ts("ts"),
        utc_ts("t0")
    );
    // Top-level opaque scalars.
    let jt = match r.below(7) {
        0 => format!("CAST({} AS JSON)", utc_ts("ts")),
        1 => "JSON_EXTRACT(JSON_ARRAY(bl), '$[0]')".to_string(),
        2 => "JSON_EXTRACT(JSON_ARRAY(bn), '$[0]')".to_string(),
        3 => "JSON_EXTRACT(JSON_ARRAY(mb), '$[0]')".to_string(),
        4 => "JSON_EXTRACT(JSON_ARRAY(lb), '$[0]')".to_string(),
        5 => "JSON_EXTRACT(JSON_ARRAY(b64), '$[0]')".to_string(),
        _ => "NULL".to_string(),
    };
    let mut vals = vec![id.to_string(), ts, t0, bl, bn, mb, lb, bt, b64, eb, vb, j, jt];
    // Sometimes NULL, except the key and the JSON (built from what is there, NULLs too).
    for v in &mut vals[1..11] {
        if r.chance(8) {
            *v = "NULL".into();
        }
    }
    vals
}

fn json_opaque_model() -> TableModel {
    TableModel {
        key: "id",
        columns: vec!["id", "ts", "t0", "bl", "bn", "mb", "lb", "bt", "b64", "eb", "vb", "j", "jt"],
        row: json_opaque_row,
        rekey: |id| vec![("id", id.to_string())],
        fixed: vec!["id"],
        session: "SET time_zone = '+05:30'",
    }
}

/// JSON holding TIMESTAMP, BLOB, BINARY (STRING), MEDIUM/LONG BLOB, BIT and VARBINARY (VARCHAR) opaque values,
/// nested and at the top level, written by concurrent writers through every phase: the migrated table holds
/// the same JSON, with the same text (`base64:type<N>:...` shows each binary type and its bytes) and JSON_TYPE
/// (TIMESTAMP vs DATETIME) everywhere. Before, the applier refused all but VARCHAR and aborted the migration.
#[tokio::test(flavor = "multi_thread")]
async fn json_opaque_values_under_concurrent_writes() -> Result<()> {
    let mut cols: Vec<String> = ["id", "ts", "UNIX_TIMESTAMP(ts)", "t0", "HEX(bl)", "HEX(bn)", "HEX(mb)", "HEX(lb)"]
        .iter()
        .chain(&["bt + 0", "b64 + 0", "HEX(eb)", "HEX(vb)", "j", "JSON_TYPE(j)", "jt", "JSON_TYPE(jt)"])
        .map(|c| c.to_string())
        .collect();
    for path in ["ts", "t0", "c", "bl", "bn", "mb", "lb", "bt", "b64", "eb", "vb", "arr[0]", "arr[1].k", "arr[2]"] {
        cols.push(format!("JSON_TYPE(JSON_EXTRACT(j, '$.{path}'))"));
    }
    let mut case = Case::of(
        "json_opaque_values",
        "ADD COLUMN extra INT NULL",
        Fixture { table: JSON_OPAQUE_TABLE, model: json_opaque_model, seed_max: 1600 },
        cols,
    );
    case.present = vec![
        "SELECT COUNT(*) FROM t WHERE JSON_TYPE(JSON_EXTRACT(j, '$.ts')) = 'TIMESTAMP' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE JSON_TYPE(jt) = 'TIMESTAMP' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%base64:type252:%' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%base64:type254:%' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%base64:type250:%' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%base64:type251:%' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%base64:type16:%' AND id > 1600",
        "SELECT COUNT(*) FROM t WHERE CAST(jt AS CHAR) LIKE '%base64:type16:%' AND id > 1600",
    ];
    run_case(case).await
}

/// Migrates `t` (with its control `c`) while `writes` (SQL, `{t}` standing for the table) are applied to both
/// alike: the first while the copy is held, the second while the cut-over is postponed. Rows the first one
/// inserts above the copy range, and every change of the second, reach the ghost table only through the
/// binlog. Returns the run's result.
async fn migrate_with_writes(
    db: &TestDb,
    mut cfg: wraith::config::Config,
    writes: [&str; 2],
) -> Result<wraith::Result<wraith::Outcome>> {
    let throttle = FlagFile::new(db, "throttle");
    let postpone = FlagFile::new(db, "postpone");
    throttle.create()?;
    postpone.create()?;
    cfg.throttle.flag_file = Some(throttle.path.clone());
    cfg.cut_over.postpone_flag_file = Some(postpone.path.clone());
    let mut run = Running::start(cfg);
    run.wait_phase(Phase::Migrating, PHASE_TIMEOUT).await?;
    for table in ["t", "c"] {
        db.exec(writes[0].replace("{t}", table)).await?;
    }
    throttle.remove()?;
    // (A run that stops on what the binlog brought may or may not get this far.)
    if run.wait_phase(Phase::Postponing, PHASE_TIMEOUT).await.is_ok() {
        for table in ["t", "c"].into_iter().filter(|_| !writes[1].is_empty()) {
            db.exec(writes[1].replace("{t}", table)).await?;
        }
        postpone.remove()?;
    }
    run.finish(RUN_TIMEOUT).await
}

/// JSON built from binary columns holds opaque values typed BLOB (252), STRING (254) or BIT (16), e.g.
/// `JSON_OBJECT('raw', blob_column)`: `["base64:type252:AP8="]`. Rows changed that way during the migration
/// reach the ghost table through the binlog and must keep those values exactly.
#[tokio::test(flavor = "multi_thread")]
async fn json_with_opaque_binary_values_written_during_migration() -> Result<()> {
    let db = TestDb::new("json_opaque_binary").await?;
    db.exec(
        "CREATE TABLE t (id INT PRIMARY KEY, bl BLOB, bn BINARY(4), bt BIT(9), j JSON);
         INSERT INTO t (id, bl, bn, bt) VALUES (1, X'00FF', X'01', 1), (2, X'', X'0000', 0), (3, X'FFFE00', X'ABCDEF01', 511);
         UPDATE t SET j = JSON_OBJECT('raw', bl, 'bn', bn, 'hex', X'00FF', 'bt', bt);
         CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let outcome = migrate_with_writes(
        &db,
        config(&db, "t", "ADD COLUMN x INT"),
        [
            "UPDATE {t} SET j = JSON_ARRAY(bl, bn, JSON_OBJECT('k', bl), bt) WHERE id <> 2;
             INSERT INTO {t} (id, bl, bn, bt, j) SELECT 20, bl, bn, bt, JSON_OBJECT('raw', bl) FROM {t} WHERE id = 3",
            "UPDATE {t} SET j = JSON_ARRAY(bt, bn, JSON_OBJECT('k', bl), bl) WHERE id IN (1, 20);
             UPDATE {t} SET j = JSON_EXTRACT(JSON_ARRAY(bn), '$[0]') WHERE id = 2;
             INSERT INTO {t} (id, bl, bn, bt, j) SELECT 21, bl, bn, bt, JSON_EXTRACT(JSON_ARRAY(bl), '$[0]') FROM {t} WHERE id = 1",
        ],
    )
    .await?;
    if let Err(e) = outcome {
        bail!("the migration failed: {}", error_text(&e));
    }
    let cols = "id, bl, bn, bt + 0, j, JSON_TYPE(j), JSON_TYPE(JSON_EXTRACT(j, '$[0]')), \
                JSON_TYPE(JSON_EXTRACT(j, '$[2].k')), JSON_TYPE(JSON_EXTRACT(j, '$.bt'))";
    let n = assert_matches_control(&db, cols, cols).await?;
    assert_eq!(n, 5);
    let typed: Vec<u64> = db
        .query(
            "SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) REGEXP 'base64:type(252|254|16):' AND id IN (1, 2, 20, 21)",
        )
        .await?;
    assert_eq!(typed, [4], "the binlog-written rows must hold BLOB, STRING and BIT opaque values");
    Ok(())
}

/// Zero TIMESTAMPs inside JSON (made by a non-strict session) are kept where the sql_mode allows zero dates
/// (--allow-zero-in-date), whether copied or applied from the binlog.
#[tokio::test(flavor = "multi_thread")]
async fn json_zero_timestamps_with_allow_zero_in_date() -> Result<()> {
    let db = TestDb::new("json_zero_timestamp").await?;
    db.exec(
        "SET SESSION sql_mode = '';
         CREATE TABLE t (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, j JSON);
         INSERT INTO t (id, ts) VALUES (1, '0000-00-00 00:00:00'), (2, '2020-02-02 02:02:02.5'), (3, '0000-00-00');
         UPDATE t SET j = JSON_OBJECT('ts', ts, 'a', JSON_ARRAY(ts));
         CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t;
         SET SESSION sql_mode = DEFAULT",
    )
    .await?;
    db.wait_replica_caught_up().await?;
    let mut cfg = config(&db, "t", "ADD COLUMN x INT");
    cfg.copy.allow_zero_in_date = true;
    let outcome = migrate_with_writes(
        &db,
        cfg,
        [
            "SET SESSION sql_mode = '';
             INSERT INTO {t} (id, ts, j) VALUES (10, '0000-00-00 00:00:00', JSON_OBJECT('ts', ts)), (11, NOW(), CAST(ts AS JSON));
             SET SESSION sql_mode = DEFAULT",
            "SET SESSION sql_mode = '';
             UPDATE {t} SET j = CAST(ts AS JSON) WHERE id IN (1, 2);
             UPDATE {t} SET ts = '0000-00-00', j = JSON_ARRAY(ts, ts) WHERE id = 11;
             SET SESSION sql_mode = DEFAULT",
        ],
    )
    .await?;
    if let Err(e) = outcome {
        bail!("the migration failed: {}", error_text(&e));
    }
    let cols = "id, ts, j, JSON_TYPE(j), JSON_TYPE(JSON_EXTRACT(j, '$.ts')), JSON_TYPE(JSON_EXTRACT(j, '$[0]'))";
    assert_eq!(assert_matches_control(&db, cols, cols).await?, 5);
    let zeros: Vec<u64> =
        db.query("SELECT COUNT(*) FROM t WHERE CAST(j AS CHAR) LIKE '%0000-00-00 00:00:00.000000%'").await?;
    assert_eq!(zeros, [4]);
    Ok(())
}

/// What no SQL expression rebuilds exactly stops the run when the binlog brings it, with a message naming the
/// column, the value and what to do, and the original table as it was: JSON holding a TINYBLOB value, a
/// TIMESTAMP whose local time UTC has no TIMESTAMP for, and (without --allow-zero-in-date) a zero TIMESTAMP.
#[tokio::test(flavor = "multi_thread")]
async fn json_values_that_cannot_be_rebuilt_stop_the_run_and_leave_the_table_alone() -> Result<()> {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            "json_refused_tinyblob",
            "INSERT INTO {t} (id, tb, j) VALUES (100, X'01FF', NULL); UPDATE {t} SET j = JSON_OBJECT('tb', tb) WHERE id = 100",
            &["`j` (json)", "MYSQL_TYPE_TINY_BLOB", "cannot be rebuilt exactly"],
        ),
        (
            "json_refused_timestamp",
            "SET time_zone = '+05:30'; INSERT INTO {t} (id, ts) VALUES (100, '2038-01-19 08:00:00');
             UPDATE {t} SET j = JSON_ARRAY(ts) WHERE id = 100; SET time_zone = DEFAULT",
            &["`j` (json)", "'2038-01-19 08:00:00.000000'", "outside the range a TIMESTAMP has in UTC"],
        ),
        (
            "json_refused_zero_timestamp",
            // (Only the JSON holds it: the TIMESTAMP column would stop the run first, on its own.)
            "INSERT INTO {t} (id, j) SELECT 100, JSON_ARRAY(ts) FROM z",
            &["zero_timestamp_needs_allow_zero_in_date"],
        ),
    ];
    for (name, write, expected) in cases {
        let db = TestDb::new(name).await?;
        db.exec(
            "CREATE TABLE t (id INT PRIMARY KEY, tb TINYBLOB, ts TIMESTAMP(6) NULL, j JSON);
             INSERT INTO t (id, tb, ts, j) VALUES (1, X'00', '2020-01-01 00:00:00', JSON_ARRAY(1)), (2, NULL, NULL, NULL);
             CREATE TABLE c LIKE t; INSERT INTO c SELECT * FROM t;
             SET SESSION sql_mode = ''; CREATE TABLE z (ts TIMESTAMP NULL); INSERT INTO z VALUES ('0000-00-00');
             SET SESSION sql_mode = DEFAULT",
        )
        .await?;
        db.wait_replica_caught_up().await?;
        let before = show_create(&db, "t").await?;
        // Inserted above the copy range while the copy is held: only the binlog brings the row.
        let e = match migrate_with_writes(&db, config(&db, "t", "ADD COLUMN x INT"), [write, ""]).await? {
            Ok(o) => bail!("{name}: the migration was expected to stop, but it succeeded: {o:?}"),
            Err(e) => error_text(&e),
        };
        assert_contains(&e, expected);
        assert_contains(&e, &["is untouched", "Clean up with: DROP TABLE IF EXISTS"]);
        assert_eq!(show_create(&db, "t").await?, before, "{name}: the original table's schema changed");
        // Every row as written, in the original table (the control got the same writes).
        let q = |table: &str| format!("SELECT id, HEX(tb), ts, j FROM {table} ORDER BY id");
        assert_eq!(assert_queries_equal(db.primary(), &q("t"), db.primary(), &q("c")).await?, 3, "{name}");
    }
    Ok(())
}
