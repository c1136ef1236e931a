//! Unit tests for the whole module, through `analyze`, `normalize` and `explicit_table`: the gh-ost conformance
//! cases, the lexical rules, the error messages and normalization. They test the public behaviour, so they do
//! not depend on how the submodules divide the work.

use super::*;

fn renames(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn err(alter: &str) -> String {
    match analyze(alter) {
        Err(Error::Config(msg)) => msg,
        other => panic!("expected a config error for {alter:?}, got {other:?}"),
    }
}

// ---- gh-ost conformance cases (one per --alter in /work/shared/conformance/cases) ----

#[test]
fn case_default_engine_innodb() {
    // The runner's default --alter, also fail-existing-datetime-with-zero.
    let a = analyze("engine=innodb").unwrap();
    assert_eq!(a.engine.as_deref(), Some("innodb"));
    assert_eq!(a.clauses, names(&["engine=innodb"]));
    assert!(a.renamed_columns.is_empty() && a.dropped_columns.is_empty() && a.added_columns.is_empty());
    assert!(!a.has_algorithm_or_lock && !a.renames_table);
}

#[test]
fn case_rename() {
    // rename, rename-inserts-only
    let a = analyze("change column c2 c3 int not null").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("c2", "c3")]));
    assert!(a.dropped_columns.is_empty() && a.added_columns.is_empty());
}

#[test]
fn case_rename_reorder_column() {
    let a = analyze("change column c2 c2a int not null after id").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("c2", "c2a")]));
}

#[test]
fn case_unsigned_rename() {
    let a = analyze("change column iu iu_renamed int unsigned not null").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("iu", "iu_renamed")]));
}

#[test]
fn case_reorder_columns() {
    let a = analyze("change column c2 c2 int not null after id").unwrap();
    assert!(a.renamed_columns.is_empty());
}

#[test]
fn case_rename_none_column() {
    // "exchange" must not be read as CHANGE.
    let a = analyze("add column exchange double comment 'exchange rate used for pay in your own currency'").unwrap();
    assert!(a.renamed_columns.is_empty());
    assert_eq!(a.added_columns, names(&["exchange"]));
}

#[test]
fn case_rename_none_comment() {
    // "change rate used" inside the comment must not be read as a rename.
    let a = analyze("add column exchange_rate double comment 'change rate used for pay in your own currency'").unwrap();
    assert!(a.renamed_columns.is_empty());
    assert_eq!(a.added_columns, names(&["exchange_rate"]));
}

#[test]
fn case_modify_change_case_pk() {
    // MODIFY is never a rename; the expected failure comes from the unique-key comparison, not from here.
    let a = analyze("modify ID int").unwrap();
    assert_eq!(a, AlterAnalysis { clauses: names(&["modify ID int"]), ..Default::default() });
}

#[test]
fn case_fail_rename_table() {
    let a = analyze("rename as something_else").unwrap();
    assert!(a.renames_table);
    let msg = a.check_supported().unwrap_err().to_string();
    assert!(msg.contains("alter statement seems to RENAME the table"), "{msg}");
}

#[test]
fn case_generated_columns_add() {
    let a = analyze("add column sum_ab int as (a + b) virtual").unwrap();
    assert_eq!(a.added_columns, names(&["sum_ab"]));
    assert!(a.renamed_columns.is_empty());
}

#[test]
fn case_swap_pk_uk() {
    let a =
        analyze("drop primary key, drop key its_uidx, add primary key (i, ts), add unique key id_uidx(id)").unwrap();
    assert!(a.drops_primary_key);
    assert!(a.dropped_columns.is_empty() && a.added_columns.is_empty());
    assert!(!a.adds_foreign_key);
    assert_eq!(
        a.clauses,
        names(&["drop primary key", "drop key its_uidx", "add primary key (i, ts)", "add unique key id_uidx(id)"])
    );
}

#[test]
fn case_swap_uk() {
    let a = analyze("drop primary key, add unique key(id)").unwrap();
    assert!(a.drops_primary_key);
    assert!(a.added_columns.is_empty());
}

#[test]
fn case_shared_uk_and_fail_no_shared_uk() {
    for alter in ["drop primary key, add primary key (id, i)", "drop primary key, add primary key (i)"] {
        let a = analyze(alter).unwrap();
        assert!(a.drops_primary_key);
        assert!(a.added_columns.is_empty() && a.dropped_columns.is_empty());
    }
}

#[test]
fn case_fail_drop_pk() {
    let a = analyze("change id id int, drop primary key").unwrap();
    assert!(a.drops_primary_key);
    assert!(a.renamed_columns.is_empty() && a.dropped_columns.is_empty());
}

#[test]
fn case_datetime_changes() {
    // datetime-with-zero, fail-datetime-with-zero, datetime-to-timestamp-pk-fail
    for alter in [
        "change column dt dt datetime not null default '1970-00-00 00:00:00'",
        "change column t t timestamp default current_timestamp",
    ] {
        let a = analyze(alter).unwrap();
        assert!(a.renamed_columns.is_empty(), "{alter}");
        assert_eq!(a.clauses.len(), 1);
    }
}

#[test]
fn case_enum() {
    let a = analyze("change e e enum('red', 'green', 'blue', 'orange', 'yellow') null default null collate 'utf8_bin'")
        .unwrap();
    assert!(a.renamed_columns.is_empty());
    assert_eq!(a.clauses.len(), 1, "commas inside the enum list do not split clauses");
}

#[test]
fn case_alter_charset() {
    let a = analyze(
        "MODIFY `t1` varchar(128) CHARACTER SET utf8mb4 NOT NULL, MODIFY `t2` varchar(128) CHARACTER SET latin2 \
         NOT NULL, MODIFY `tutf8` varchar(128) CHARACTER SET latin1 NOT NULL",
    )
    .unwrap();
    assert_eq!(a.clauses.len(), 3);
    assert!(a.renamed_columns.is_empty() && a.engine.is_none());
}

#[test]
fn case_modifies() {
    // binary-to-varbinary, copy-retries-exhausted, panic-on-warnings-..., convert-utf8mb4
    for alter in [
        "MODIFY data varbinary(32)",
        "modify column name mediumtext",
        "modify column name varchar(4) not null",
        "convert to character set utf8mb4",
    ] {
        let a = analyze(alter).unwrap();
        assert_eq!(a, AlterAnalysis { clauses: names(&[alter]), ..Default::default() }, "{alter}");
    }
}

#[test]
fn case_adds() {
    // bit-add, datetime-1970, fail-no-unique-key
    for (alter, col) in [
        ("add column is_good bit null default 0", "is_good"),
        ("add column name varchar(1)", "name"),
        ("add column v varchar(32)", "v"),
    ] {
        let a = analyze(alter).unwrap();
        assert_eq!(a.added_columns, names(&[col]));
        assert!(a.renamed_columns.is_empty());
    }
}

// ---- lexical rules ----

#[test]
fn change_not_fooled_by_strings_comments_defaults() {
    let a = analyze(
        "modify c int comment 'change c d', add x varchar(10) default \"change x y\" /* change a b */, \
         add y int -- change y z\n, add z int # drop column q\n",
    )
    .unwrap();
    assert!(a.renamed_columns.is_empty());
    assert!(a.dropped_columns.is_empty());
    assert_eq!(a.added_columns, names(&["x", "y", "z"]));
    assert_eq!(a.clauses.len(), 4);
}

#[test]
fn quoted_identifiers_and_escapes() {
    let a = analyze("CHANGE `a``b` `c d` INT, change \"e\" f int, drop column `x,y`").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("a`b", "c d"), ("e", "f")]));
    assert_eq!(a.dropped_columns, names(&["x,y"]));
    let a = analyze(r"add c varchar(9) default 'it''s \' , change a b', add d int").unwrap();
    assert_eq!(a.added_columns, names(&["c", "d"]));
    assert!(a.renamed_columns.is_empty());
}

#[test]
fn change_keyword_and_column_optional_case_insensitive() {
    let a = analyze("Change Column a b INT, CHANGE c d int, change `e` `f` int").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("a", "b"), ("c", "d"), ("e", "f")]));
}

#[test]
fn case_only_change_is_not_a_rename() {
    let a = analyze("change a A int, change `Ab` `aB` int, rename column x to X").unwrap();
    assert!(a.renamed_columns.is_empty());
}

#[test]
fn rename_column() {
    let a = analyze("RENAME COLUMN a TO b, rename column `c` to `d`").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("a", "b"), ("c", "d")]));
    assert!(!a.renames_table);
}

#[test]
fn rename_table_forms() {
    for alter in ["rename to t2", "RENAME AS t2", "rename t2", "add x int, rename to `db`.`t2`"] {
        assert!(analyze(alter).unwrap().renames_table, "{alter}");
    }
    for alter in ["rename index a to b", "RENAME KEY a TO b", "rename column a to b"] {
        assert!(!analyze(alter).unwrap().renames_table, "{alter}");
    }
}

#[test]
fn drop_forms() {
    let a = analyze(
        "drop a, drop column b, DROP COLUMN `c`, drop index i, drop key k, drop foreign key fk, drop check ck, \
         drop constraint c1, drop primary key",
    )
    .unwrap();
    assert_eq!(a.dropped_columns, names(&["a", "b", "c"]));
    assert!(a.drops_primary_key);
    let a = analyze("drop index `PRIMARY`").unwrap();
    assert!(a.drops_primary_key && a.dropped_columns.is_empty());
    let a = analyze("drop key k").unwrap();
    assert!(!a.drops_primary_key);
}

#[test]
fn add_forms() {
    let a = analyze(
        "add column (a int, `b` int, index (a)), add (c int), add d int first, add index i (a), \
         add unique (b), add fulltext (x), add constraint ck check (a > 0)",
    )
    .unwrap();
    assert_eq!(a.added_columns, names(&["a", "b", "c", "d"]));
    assert!(!a.adds_foreign_key);
}

#[test]
fn foreign_keys() {
    for alter in [
        "add foreign key (a) references p(id)",
        "add constraint fk foreign key (a) references p(id)",
        "add column p_id int references p(id)",
        "add (p_id int, foreign key (p_id) references p(id))",
    ] {
        assert!(analyze(alter).unwrap().adds_foreign_key, "{alter}");
    }
    assert!(!analyze("add column x int comment 'references p(id) foreign key'").unwrap().adds_foreign_key);
}

#[test]
fn algorithm_lock_engine_options() {
    let a = analyze("add x int, ALGORITHM=INPLACE, LOCK = NONE").unwrap();
    assert!(a.has_algorithm_or_lock);
    assert!(a.check_supported().unwrap_err().to_string().contains("ALGORITHM"));
    let a = analyze("ENGINE = 'InnoDB' ROW_FORMAT=DYNAMIC AUTO_INCREMENT=100, COMMENT 'engine=myisam'").unwrap();
    assert_eq!(a.engine.as_deref(), Some("InnoDB"));
    assert_eq!(a.auto_increment, Some(100));
    assert!(!a.has_algorithm_or_lock);
    assert!(a.check_supported().is_ok());
    // A column named like an option is not an option.
    let a = analyze("add column engine varchar(10), drop column `lock`").unwrap();
    assert_eq!(a.engine, None);
    assert!(!a.has_algorithm_or_lock);
    assert_eq!(a.dropped_columns, names(&["lock"]));
}

#[test]
fn list_clauses_keep_their_lists() {
    let a = analyze("add x int, order by a, b").unwrap();
    assert_eq!(a.clauses, names(&["add x int", "order by a, b"]));
    let a = analyze("drop partition p1, p2").unwrap();
    assert_eq!(a.clauses, names(&["drop partition p1, p2"]));
    assert!(a.dropped_columns.is_empty());
    let a = analyze("add partition (partition p3 values less than (30))").unwrap();
    assert!(a.added_columns.is_empty());
    let a =
        analyze("engine=innodb partition by range (id) (partition p0 values less than (10) engine=myisam)").unwrap();
    assert_eq!(a.engine.as_deref(), Some("innodb"));
}

#[test]
fn executable_comments_are_code() {
    let a = analyze("add x int /*!50700 , algorithm=inplace */").unwrap();
    assert!(a.has_algorithm_or_lock);
    assert_eq!(
        normalize("add x int /*!50700 , algorithm=inplace */;", "t").unwrap(),
        "add x int /*!50700 , algorithm=inplace */"
    );
    // Optimizer-hint style comments are plain comments.
    assert!(!analyze("add x int /*+ , algorithm=inplace */").unwrap().has_algorithm_or_lock);
}

#[test]
fn dash_dash_needs_a_space() {
    // `--1` is two minus signs, not a comment: the default value is part of the clause.
    let a = analyze("add x int default --1, add y int").unwrap();
    assert_eq!(a.added_columns, names(&["x", "y"]));
}

#[test]
fn non_ascii_identifiers() {
    let a = analyze("change café thé int, add `名前` text").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("café", "thé")]));
    assert_eq!(a.added_columns, names(&["名前"]));
}

// ---- errors ----

#[test]
fn errors() {
    assert!(err("").contains("empty"));
    assert!(err("  -- nothing\n ; ").contains("empty"));
    assert!(err("add x varchar(10) default 'abc").contains("unterminated single-quoted string"));
    assert!(err("add x int comment \"abc").contains("double-quoted"));
    assert!(err("add `x int").contains("backtick"));
    assert!(err("add x int /* oops").contains("comment"));
    assert!(err("add x decimal(10,2").contains("never closed"));
    assert!(err("add x int)").contains("without a matching"));
    assert!(err("add x int,, add y int").contains("empty clause"));
    assert!(err("add x int,").contains("empty clause"));
    assert!(err("add x int; drop table t").contains("more than one statement"));
    assert!(err("change a").contains("new column name"));
    assert!(err("ALTER TABLE").contains("no table name"));
    assert!(err("ALTER TABLE t").contains("empty"));
    assert!(err("alter ignore table t add x int").contains("not supported"));
}

// ---- normalize ----

#[test]
fn normalize_forms() {
    assert_eq!(normalize("add x int", "t").unwrap(), "add x int");
    assert_eq!(normalize("  add x int ;  ", "t").unwrap(), "add x int");
    assert_eq!(normalize("ALTER TABLE t add x int;", "t").unwrap(), "add x int");
    assert_eq!(normalize("alter table `t` ADD x INT, drop y", "t").unwrap(), "ADD x INT, drop y");
    assert_eq!(normalize("ALTER TABLE db.t engine=innodb", "t").unwrap(), "engine=innodb");
    assert_eq!(normalize("alter table `db`.`t` engine=innodb", "t").unwrap(), "engine=innodb");
    assert_eq!(normalize("alter table `my``t` engine=innodb", "my`t").unwrap(), "engine=innodb");
    assert_eq!(normalize("add x int -- trailing note", "t").unwrap(), "add x int");
    // `ALTER COLUMN` is a clause, not a statement prefix.
    assert_eq!(normalize("alter column x set default 1", "t").unwrap(), "alter column x set default 1");
    let Err(Error::Config(msg)) = normalize("alter table other add x int", "t") else { panic!() };
    assert!(msg.contains("`other`"), "{msg}");
    assert!(normalize("alter table t", "t").is_err());
    assert!(normalize("add x int, ", "t").is_err());
}

#[test]
fn explicit_table_names() {
    assert_eq!(explicit_table("add x int").unwrap(), None);
    assert_eq!(explicit_table("ALTER TABLE t add x int").unwrap(), Some((None, "t".to_string())));
    assert_eq!(
        explicit_table("alter table `d`.`t` add x int").unwrap(),
        Some((Some("d".to_string()), "t".to_string()))
    );
    assert_eq!(explicit_table("alter table d.t add x int").unwrap(), Some((Some("d".to_string()), "t".to_string())));
}

#[test]
fn analyze_accepts_whole_statement() {
    let a = analyze("ALTER TABLE `db`.`t` CHANGE a b INT;").unwrap();
    assert_eq!(a.renamed_columns, renames(&[("a", "b")]));
    assert_eq!(a.clauses, names(&["CHANGE a b INT"]));
}
