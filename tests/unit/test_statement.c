/* test_statement.c — tf_statement_classify on the SQL of QUERY events: the
 * statements MariaDB and MySQL write to their binlogs (several copied from
 * real binlogs: tests/vectors/mariadb-10.11-events.000005 and the MariaDB
 * test suite's std_data binlogs), in the mixed case, comments and quoting
 * the test suites use, and text cut short or holding NUL bytes. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void classify(const char *sql, tf_statement *st)
{
    tf_statement_classify(sql, strlen(sql), st);
}

static void assert_str(tf_str got, const char *expected, const char *what)
{
    size_t n = strlen(expected);
    if (got.len != n || (n > 0 && memcmp(got.ptr, expected, n) != 0))
        fail_msg("%s: expected '%s', got '%.*s'", what, expected, (int)got.len,
                 got.ptr ? got.ptr : "");
}

/* tables[i] is db.table ("" for an unqualified name) with no rename. */
static void assert_table(const tf_statement *st, size_t i, const char *db, const char *table)
{
    if (i >= st->table_count)
        fail_msg("expected table %zu (%s.%s), only %zu tables", i, db, table, st->table_count);
    assert_str(st->tables[i].database, db, "database");
    assert_str(st->tables[i].table, table, "table");
    assert_int_equal(st->tables[i].rename_to_table.len, 0);
}

static void assert_rename(const tf_statement *st, size_t i, const char *db, const char *table,
                          const char *to_db, const char *to_table)
{
    if (i >= st->table_count)
        fail_msg("expected table %zu (%s.%s), only %zu tables", i, db, table, st->table_count);
    assert_str(st->tables[i].database, db, "database");
    assert_str(st->tables[i].table, table, "table");
    assert_str(st->tables[i].rename_to_database, to_db, "rename_to_database");
    assert_str(st->tables[i].rename_to_table, to_table, "rename_to_table");
}

/* Kind, table count, and neither unknown nor truncated. */
static void assert_known(const tf_statement *st, tf_statement_kind kind, size_t tables)
{
    assert_int_equal(st->kind, kind);
    assert_int_equal(st->table_count, tables);
    assert_false(st->tables_unknown);
    assert_false(st->tables_truncated);
}

/* Every tf_str of st lies inside [buf, buf + len). */
static void assert_borrowed_from(const tf_statement *st, const char *buf, size_t len)
{
    assert_true(st->table_count <= TF_STATEMENT_MAX_TABLES);
    const tf_str *names[4 * TF_STATEMENT_MAX_TABLES + 1];
    size_t n = 0;
    for (size_t i = 0; i < st->table_count; i++) {
        names[n++] = &st->tables[i].database;
        names[n++] = &st->tables[i].table;
        names[n++] = &st->tables[i].rename_to_database;
        names[n++] = &st->tables[i].rename_to_table;
    }
    names[n++] = &st->database;
    for (size_t i = 0; i < n; i++) {
        if (names[i]->len == 0)
            continue;
        assert_true(names[i]->ptr >= buf);
        assert_true(names[i]->len <= len);
        assert_true((size_t)(names[i]->ptr - buf) <= len - names[i]->len);
    }
}

/* ---- nothing to classify ---- */

static void test_empty_and_whitespace_only_text_is_other(void **state)
{
    (void)state;
    tf_statement st;
    tf_statement_classify("", 0, &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    tf_statement_classify(NULL, 0, &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    classify(" \t\r\n\v\f ", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
}

static void test_comment_only_text_is_other(void **state)
{
    (void)state;
    tf_statement st;
    classify("-- DROP TABLE t\n# DROP TABLE u\n/* DROP TABLE v */", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    classify("/* an unterminated comment: DROP TABLE t", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    /* "--" without a space is not a comment in MySQL: the text is "--x". */
    classify("--DROP TABLE t", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
}

/* ---- transaction control ---- */

static void test_begin_and_start_transaction_begin(void **state)
{
    (void)state;
    tf_statement st;
    classify("BEGIN", &st);
    assert_known(&st, TF_STMT_BEGIN, 0);
    classify("begin work", &st);
    assert_known(&st, TF_STMT_BEGIN, 0);
    classify("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE", &st);
    assert_known(&st, TF_STMT_BEGIN, 0);
    classify("START SLAVE", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
}

static void test_commit_with_work_and_chain_is_commit(void **state)
{
    (void)state;
    tf_statement st;
    classify("COMMIT", &st);
    assert_known(&st, TF_STMT_COMMIT, 0);
    classify("Commit Work AND NO CHAIN NO RELEASE", &st);
    assert_known(&st, TF_STMT_COMMIT, 0);
    assert_false(st.xa);
}

static void test_rollback_to_savepoint_is_marked(void **state)
{
    (void)state;
    tf_statement st;
    classify("ROLLBACK", &st);
    assert_known(&st, TF_STMT_ROLLBACK, 0);
    assert_false(st.to_savepoint);
    classify("ROLLBACK WORK TO SAVEPOINT `A`", &st);
    assert_known(&st, TF_STMT_ROLLBACK, 0);
    assert_true(st.to_savepoint);
    classify("rollback to sp1", &st);
    assert_true(st.to_savepoint);
}

/* "SAVEPOINT `A`" as mdev6020-mysql-bin.000001 (MariaDB test suite) holds it. */
static void test_savepoint_and_release_savepoint(void **state)
{
    (void)state;
    tf_statement st;
    classify("SAVEPOINT `A`", &st);
    assert_known(&st, TF_STMT_SAVEPOINT, 0);
    classify("RELEASE SAVEPOINT `A`", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
}

/* MariaDB logs XA as QUERY events with the xid in hex literals. */
static void test_xa_statements_map_to_begin_commit_rollback(void **state)
{
    (void)state;
    tf_statement st;
    classify("XA START X'31',X'',1", &st);
    assert_known(&st, TF_STMT_BEGIN, 0);
    assert_true(st.xa);
    classify("XA END X'31',X'',1", &st);
    assert_known(&st, TF_STMT_COMMIT, 0);
    assert_true(st.xa);
    classify("XA PREPARE X'31',X'',1", &st);
    assert_known(&st, TF_STMT_COMMIT, 0);
    classify("xa commit 'xid1' ONE PHASE", &st);
    assert_known(&st, TF_STMT_COMMIT, 0);
    assert_true(st.xa);
    classify("XA ROLLBACK X'31',X'',1", &st);
    assert_known(&st, TF_STMT_ROLLBACK, 0);
    assert_true(st.xa);
    classify("XA RECOVER", &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    assert_true(st.xa);
}

/* ---- statements that touch no table data ---- */

static void test_set_grant_and_accounts_are_other(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "SET NAMES utf8mb4",
        "SET @@session.sql_mode = 'STRICT_TRANS_TABLES'",
        "/*!40101 SET character_set_client = utf8 */",
        "GRANT SELECT ON db.* TO 'u'@'%'",
        "CREATE USER 'u'@'localhost' IDENTIFIED BY 'x'",
        "DROP USER IF EXISTS u",
        "RENAME USER a TO b",
        /* As MySQL 8 writes it (binlog-invisible-columns.000001). */
        "ALTER USER 'root'@'localhost' IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$x'",
        "FLUSH TABLES",
        "LOCK TABLES t1 WRITE",
        "LOAD INDEX INTO CACHE t1",
        "DROP PREPARE stmt",
        "ANALYZE SELECT * FROM t1",
        "SHOW TABLES",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tf_statement st;
        classify(texts[i], &st);
        if (st.kind != TF_STMT_OTHER || st.table_count != 0 || st.tables_unknown)
            fail_msg("'%s': kind %d, %zu tables", texts[i], st.kind, st.table_count);
    }
}

/* ---- DML written as SQL ---- */

static void test_insert_forms_name_their_target(void **state)
{
    (void)state;
    tf_statement st;
    classify("INSERT INTO t1 (a) VALUES ('2001-01-01 00:00:00.999999')", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
    /* mdev29078-mysql-bin.000001 */
    classify("insert t1 () values ()", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
    classify("INSERT LOW_PRIORITY IGNORE INTO `db1`.`t1`(a) SELECT a FROM t2", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "db1", "t1");
    classify("insert delayed test.t3 values (1) on duplicate key update a = 2", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "test", "t3");
    classify("REPLACE INTO `t 4` PARTITION (p0) VALUES (1)", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t 4");
    classify("replace high_priority t5 set a = 1", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t5");
}

static void test_update_single_table_with_alias(void **state)
{
    (void)state;
    tf_statement st;
    classify("UPDATE items SET name='bye', price=0.01 WHERE id=1", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "items");
    classify("update low_priority ignore `shop`.`items` AS i set i.price = 0 where i.id > 3", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "shop", "items");
}

static void test_update_multi_table_comma_list(void **state)
{
    (void)state;
    tf_statement st;
    classify("UPDATE t1, db2.t2 AS b, `t3` c SET t1.a = b.a, c.x = 1 WHERE t1.id = b.id", &st);
    assert_known(&st, TF_STMT_DML, 3);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "db2", "t2");
    assert_table(&st, 2, "", "t3");
}

static void test_update_join_lists_every_joined_table(void **state)
{
    (void)state;
    tf_statement st;
    classify("UPDATE t1 INNER JOIN db2.t2 ON t1.a = t2.a AND t2.b IN (1, 2)\n"
             "  LEFT OUTER JOIN t3 USING (id) STRAIGHT_JOIN t4 FORCE INDEX (k)\n"
             "  NATURAL JOIN t5 SET t1.b = 'SET x', t3.c = 2",
             &st);
    assert_known(&st, TF_STMT_DML, 5);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "db2", "t2");
    assert_table(&st, 2, "", "t3");
    assert_table(&st, 3, "", "t4");
    assert_table(&st, 4, "", "t5");
}

static void test_update_nested_join_and_derived_table(void **state)
{
    (void)state;
    tf_statement st;
    classify("UPDATE (t1 JOIN (t2, t3) ON t1.a = t2.a)\n"
             "  JOIN (SELECT id FROM t9 WHERE x = 1) AS d ON d.id = t1.id\n"
             "  SET t1.b = (SELECT MAX(b) FROM t8)",
             &st);
    /* t9 and t8 are read inside subqueries, never written. */
    assert_known(&st, TF_STMT_DML, 3);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "", "t2");
    assert_table(&st, 2, "", "t3");
}

static void test_update_without_set_has_unknown_tables(void **state)
{
    (void)state;
    tf_statement st;
    classify("UPDATE t1 JOIN t2 ON t1.a = t2.a", &st);
    assert_int_equal(st.kind, TF_STMT_DML);
    assert_true(st.tables_unknown);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "", "t2");
    classify("UPDATE t1 JOIN", &st);
    assert_int_equal(st.kind, TF_STMT_DML);
    assert_true(st.tables_unknown);
}

static void test_delete_single_table(void **state)
{
    (void)state;
    tf_statement st;
    classify("DELETE FROM items WHERE id=2", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "items");
    classify("delete low_priority quick ignore from `db`.t1 order by a limit 3", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "db", "t1");
    /* MariaDB system-versioned tables. */
    classify("DELETE HISTORY FROM t1 BEFORE SYSTEM_TIME '2020-01-01 00:00:00'", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
}

/* Targets before FROM may be aliases: they resolve to their tables, and
 * every table of the FROM follows (t3 is only read, listed anyway). */
static void test_delete_multi_table_targets_resolve_aliases(void **state)
{
    (void)state;
    tf_statement st;
    classify("DELETE a, t2 FROM db1.t1 AS a INNER JOIN t2 INNER JOIN t3\n"
             "WHERE a.id = t2.id AND t2.id = t3.id",
             &st);
    assert_known(&st, TF_STMT_DML, 3);
    assert_table(&st, 0, "db1", "t1");
    assert_table(&st, 1, "", "t2");
    assert_table(&st, 2, "", "t3");
    classify("DELETE t1.*, t2.* FROM t1, t2 WHERE t1.a = t2.a", &st);
    assert_known(&st, TF_STMT_DML, 2);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "", "t2");
}

static void test_delete_multi_table_using(void **state)
{
    (void)state;
    tf_statement st;
    classify("DELETE FROM x, t2 USING t1 AS x JOIN t2 ON x.a = t2.a JOIN t3", &st);
    assert_known(&st, TF_STMT_DML, 3);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "", "t2");
    assert_table(&st, 2, "", "t3");
}

/* As MySQL writes the statement of an EXECUTE_LOAD_QUERY event. */
static void test_load_data_names_its_table(void **state)
{
    (void)state;
    tf_statement st;
    classify("LOAD DATA LOCAL INFILE '/tmp/SQL_LOAD_MB-1-0' IGNORE INTO TABLE `test`.`t1` "
             "FIELDS TERMINATED BY ',' ENCLOSED BY '\"' ESCAPED BY '\\\\' (a, @b)",
             &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "test", "t1");
    classify("load xml infile 'into table x.xml' replace into table t2 rows identified by '<r>'",
             &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t2");
}

static void test_with_clause_reads_the_statement_after_it(void **state)
{
    (void)state;
    tf_statement st;
    classify("WITH RECURSIVE c (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 5),\n"
             "  d AS (SELECT 2)\n"
             "DELETE FROM t1 WHERE a IN (SELECT n FROM c)",
             &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
    classify("WITH c AS (SELECT id FROM t9) UPDATE t1 JOIN c ON c.id = t1.id SET t1.x = 1", &st);
    /* The CTE name is listed as a table (harmless: it is only read). */
    assert_known(&st, TF_STMT_DML, 2);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "", "c");
}

static void test_with_clause_of_unknown_shape_has_unknown_tables(void **state)
{
    (void)state;
    tf_statement st;
    classify("WITH c AS SELECT 1 UPDATE t1 SET a = 1", &st);
    assert_int_equal(st.kind, TF_STMT_DML);
    assert_true(st.tables_unknown);
}

/* Logged only when the stored code they run changed data (statement
 * format), so they are DML on tables nobody can name from the text. */
static void test_select_do_call_and_compound_blocks_are_dml_on_unknown_tables(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "SELECT `test`.`f1`(1)",
        "DO f2()",
        "CALL p1()",
        "(SELECT f3())",
        "BEGIN NOT ATOMIC INSERT INTO t1 VALUES (1); END",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tf_statement st;
        classify(texts[i], &st);
        if (st.kind != TF_STMT_DML || !st.tables_unknown || st.table_count != 0)
            fail_msg("'%s': kind %d, unknown %d", texts[i], st.kind, st.tables_unknown);
    }
}

static void test_set_statement_for_reads_the_inner_statement(void **state)
{
    (void)state;
    tf_statement st;
    classify("SET STATEMENT max_statement_time=60, sql_mode='a,b' FOR UPDATE t1 SET a = 1", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
    classify("set statement foreign_key_checks=0 for drop table t2", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_table(&st, 0, "", "t2");
}

/* ---- DDL ---- */

static void test_truncate_with_and_without_table_keyword(void **state)
{
    (void)state;
    tf_statement st;
    classify("TRUNCATE TABLE `db`.`t1`", &st);
    assert_known(&st, TF_STMT_TRUNCATE, 1);
    assert_table(&st, 0, "db", "t1");
    classify("truncate t2", &st);
    assert_known(&st, TF_STMT_TRUNCATE, 1);
    assert_table(&st, 0, "", "t2");
}

static void test_alter_table_add_column_is_not_a_rename(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER TABLE t1 ADD COLUMN c INT NOT NULL DEFAULT 0 AFTER b, ADD INDEX (c)", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_table(&st, 0, "", "t1");
    assert_false(st.changes_rows);
}

static void test_alter_table_rename_to_sets_the_new_name(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER TABLE x RENAME TO y", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_rename(&st, 0, "", "x", "", "y");
    classify("alter table `db1`.`x` rename as `db2`.`y`", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_rename(&st, 0, "db1", "x", "db2", "y");
    classify("ALTER TABLE x RENAME y", &st);
    assert_rename(&st, 0, "", "x", "", "y");
    classify("ALTER TABLE x ADD c INT, ALGORITHM=INPLACE, RENAME TO y, LOCK=NONE", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_rename(&st, 0, "", "x", "", "y");
}

static void test_alter_table_rename_column_index_key_is_not_a_table_rename(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "ALTER TABLE x RENAME COLUMN a TO b",
        "alter table x rename index i1 to i2",
        "ALTER TABLE x RENAME KEY k1 TO k2, ADD d INT",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        tf_statement st;
        classify(texts[i], &st);
        assert_known(&st, TF_STMT_ALTER_TABLE, 1);
        assert_table(&st, 0, "", "x");
    }
}

/* RENAME inside a string, parentheses or after a '.' is not a clause. */
static void test_alter_table_rename_in_strings_and_parentheses_is_ignored(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER TABLE t COMMENT 'it\\'s a ''RENAME TO x'' joke', "
             "ADD CONSTRAINT c CHECK (`rename` <> 'RENAME TO y'), "
             "ADD COLUMN \"RENAME TO z\" INT",
             &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_table(&st, 0, "", "t");
}

static void test_alter_table_modifiers_and_if_exists(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER ONLINE IGNORE TABLE IF EXISTS test.t1 ENGINE=InnoDB", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_true(st.if_exists);
    assert_table(&st, 0, "test", "t1");
}

static void test_alter_table_partition_data_changes(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER TABLE e EXCHANGE PARTITION p0 WITH TABLE `db`.`e2` WITHOUT VALIDATION", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 2);
    assert_true(st.changes_rows);
    assert_table(&st, 0, "", "e");
    assert_table(&st, 1, "db", "e2");
    classify("ALTER TABLE t1 DROP PARTITION p1, p2", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_true(st.changes_rows);
    classify("ALTER TABLE t1 TRUNCATE PARTITION ALL", &st);
    assert_true(st.changes_rows);
    classify("ALTER TABLE t1 CONVERT PARTITION p1 TO TABLE t1_old", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 2);
    assert_true(st.changes_rows);
    assert_table(&st, 1, "", "t1_old");
    classify("ALTER TABLE t1 DISCARD TABLESPACE", &st);
    assert_true(st.changes_rows);
    classify("ALTER TABLE t1 DROP COLUMN c, CONVERT TO CHARACTER SET utf8mb4", &st);
    assert_false(st.changes_rows);
}

static void test_rename_table_pairs(void **state)
{
    (void)state;
    tf_statement st;
    classify("RENAME TABLE a TO b, c TO d", &st);
    assert_known(&st, TF_STMT_RENAME_TABLE, 2);
    assert_rename(&st, 0, "", "a", "", "b");
    assert_rename(&st, 1, "", "c", "", "d");
    /* A swap: the same name appears as source and target. */
    classify("rename table `db`.`t1` to `db`.`tmp`, db.t2 TO db.t1, `db`.tmp TO db.t2", &st);
    assert_known(&st, TF_STMT_RENAME_TABLE, 3);
    assert_rename(&st, 0, "db", "t1", "db", "tmp");
    assert_rename(&st, 1, "db", "t2", "db", "t1");
    assert_rename(&st, 2, "db", "tmp", "db", "t2");
}

/* MariaDB 10.5+: RENAME TABLE[S] [IF EXISTS] a [WAIT n | NOWAIT] TO b. */
static void test_rename_tables_if_exists_and_wait(void **state)
{
    (void)state;
    tf_statement st;
    classify("RENAME TABLES IF EXISTS a WAIT 5 TO b, c NOWAIT TO other.d", &st);
    assert_known(&st, TF_STMT_RENAME_TABLE, 2);
    assert_true(st.if_exists);
    assert_rename(&st, 0, "", "a", "", "b");
    assert_rename(&st, 1, "", "c", "other", "d");
}

static void test_drop_table_list_with_qualified_names(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE a, b, `db`.`c`, db.d, `db`.e RESTRICT", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 5);
    assert_false(st.if_exists);
    assert_false(st.temporary);
    assert_table(&st, 0, "", "a");
    assert_table(&st, 1, "", "b");
    assert_table(&st, 2, "db", "c");
    assert_table(&st, 3, "db", "d");
    assert_table(&st, 4, "db", "e");
}

/* As MariaDB rewrites DROP TABLE for the binlog (mdev6020-mysql-bin.000001,
 * master-bin-seq_10.3.36.000001). */
static void test_drop_table_generated_by_server(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE IF EXISTS `table0_int_autoinc` /* generated by server */", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_true(st.if_exists);
    assert_table(&st, 0, "", "table0_int_autoinc");
    classify("DROP TABLE `t1`,`t2` /* generated by server */", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 2);
    assert_table(&st, 1, "", "t2");
    classify("DROP SEQUENCE `s1` /* generated by server */", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "", "s1");
}

/* What the server logs for a session's temporary tables when it ends. */
static void test_drop_temporary_table_inside_executable_comment(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `test`.`t1`,`test`.`t2`", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 2);
    assert_true(st.temporary);
    assert_true(st.if_exists);
    assert_table(&st, 0, "test", "t1");
    assert_table(&st, 1, "test", "t2");
    classify("DROP TEMPORARY TABLE IF EXISTS `test`.`tmp` /* generated by server */", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_true(st.temporary);
}

static void test_create_table_forms(void **state)
{
    (void)state;
    tf_statement st;
    classify("CREATE TABLE t1 (a INT PRIMARY KEY, b INT) ENGINE=InnoDB", &st);
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    assert_table(&st, 0, "", "t1");
    assert_false(st.replaces || st.temporary || st.if_not_exists);
    classify("create table if not exists `db`.`t2` like `db`.`t1`", &st);
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    assert_true(st.if_not_exists);
    assert_table(&st, 0, "db", "t2");
    classify("CREATE OR REPLACE TABLE t3 AS SELECT * FROM t1", &st);
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    assert_true(st.replaces);
    assert_table(&st, 0, "", "t3");
    classify("CREATE TEMPORARY TABLE tmp SELECT 1 AS a", &st);
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    assert_true(st.temporary);
    assert_table(&st, 0, "", "tmp");
}

/* The CREATE TABLE of mdev6020-mysql-bin.000001: a comment inside the
 * column list and the partitioning in an executable comment. */
static void test_create_table_real_text_with_comments(void **state)
{
    (void)state;
    tf_statement st;
    classify("CREATE TABLE `table0_key_pk_parts_2_int_autoinc` (\n"
             "pk integer auto_increment,\n`col_char_12` char(12),\n/*Indices*/\n"
             "primary key (pk),\nkey (`col_char_12` )) /*!50100 PARTITION BY key (pk) "
             "partitions 2 */",
             &st);
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    assert_table(&st, 0, "", "table0_key_pk_parts_2_int_autoinc");
}

static void test_drop_and_create_database(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP DATABASE IF EXISTS `shop`", &st);
    assert_known(&st, TF_STMT_DROP_DATABASE, 0);
    assert_true(st.if_exists);
    assert_str(st.database, "shop", "database");
    classify("drop schema test", &st);
    assert_known(&st, TF_STMT_DROP_DATABASE, 0);
    assert_str(st.database, "test", "database");
    /* mdev6020-mysql-bin.000001: an unversioned executable comment. */
    classify("CREATE SCHEMA /*!IF NOT EXISTS*/ test", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
    assert_true(st.if_not_exists);
    assert_str(st.database, "test", "database");
    classify("ALTER DATABASE `d` CHARACTER SET utf8mb4", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
    assert_str(st.database, "d", "database");
    classify("ALTER DATABASE DEFAULT CHARACTER SET latin1", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
    assert_int_equal(st.database.len, 0);
}

static void test_drop_database_without_name_has_unknown_tables(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP DATABASE IF EXISTS", &st);
    assert_int_equal(st.kind, TF_STMT_DROP_DATABASE);
    assert_true(st.tables_unknown);
}

static void test_index_ddl_names_the_indexed_table(void **state)
{
    (void)state;
    tf_statement st;
    classify("CREATE UNIQUE INDEX IF NOT EXISTS i1 USING BTREE ON db.t1 (a, b(10))", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "db", "t1");
    classify("DROP INDEX `PRIMARY` ON `t2` ALGORITHM=INPLACE", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "", "t2");
}

static void test_view_trigger_and_routine_ddl(void **state)
{
    (void)state;
    tf_statement st;
    classify("CREATE DEFINER=`root`@`localhost` TRIGGER tr1 BEFORE INSERT ON `t1` FOR EACH ROW "
             "SET NEW.a = 1",
             &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "", "t1");
    classify("CREATE OR REPLACE ALGORITHM=UNDEFINED DEFINER='u'@'%' SQL SECURITY DEFINER "
             "VIEW `v1` AS select `t1`.`a` AS `a` from `t1`",
             &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_true(st.replaces);
    assert_table(&st, 0, "", "v1");
    classify("DROP VIEW IF EXISTS v1, db.v2", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 2);
    assert_table(&st, 1, "db", "v2");
    classify("DROP PROCEDURE IF EXISTS p1", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
    assert_true(st.if_exists);
    classify("CREATE DEFINER=CURRENT_USER() FUNCTION f1() RETURNS INT RETURN 1", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
    classify("DROP TRIGGER db.tr1", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 0);
}

static void test_table_maintenance_lists_its_tables(void **state)
{
    (void)state;
    tf_statement st;
    classify("OPTIMIZE TABLE a, `db`.`b`", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 2);
    assert_table(&st, 0, "", "a");
    assert_table(&st, 1, "db", "b");
    classify("analyze no_write_to_binlog table t1 persistent for all", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "", "t1");
    classify("REPAIR LOCAL TABLE t2 QUICK", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
}

/* ---- lexical details ---- */

/* Executable comments are SQL whatever their version: MySQL's versioned,
 * unversioned, and MariaDB's M-prefixed ones. */
static void test_executable_comments_are_read_as_sql(void **state)
{
    (void)state;
    tf_statement st;
    classify("/*!40000 ALTER TABLE `table0_int_autoinc` DISABLE KEYS */", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_table(&st, 0, "", "table0_int_autoinc");
    classify("/*M!100100 DROP TABLE t1 */", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_table(&st, 0, "", "t1");
    classify("/*!50001 DROP VIEW IF EXISTS `v1`*/", &st);
    assert_known(&st, TF_STMT_OTHER_DDL, 1);
    assert_table(&st, 0, "", "v1");
    classify("/*!*/ INSERT /*!50000 INTO */ t2 VALUES (1)", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t2");
}

static void test_plain_comments_between_tokens_are_skipped(void **state)
{
    (void)state;
    tf_statement st;
    classify("/* lead */ -- line\n# hash\nDROP /* x */ TABLE -- y\n `t1` # z\n, /**/db/**/./**/t2",
             &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 2);
    assert_table(&st, 0, "", "t1");
    assert_table(&st, 1, "db", "t2");
    /* An optimizer hint is a plain comment. */
    classify("UPDATE /*+ NO_RANGE_OPTIMIZATION(t3) */ t3 SET a = 1", &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t3");
}

static void test_keywords_match_in_any_case(void **state)
{
    (void)state;
    tf_statement st;
    classify("dRoP tEmPoRaRy TaBlE iF eXiStS Tb1", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_true(st.temporary);
    assert_true(st.if_exists);
    /* Names keep their case. */
    assert_table(&st, 0, "", "Tb1");
}

static void test_escaped_backquote_in_name_sets_flag(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE `a``b`, `plain`", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 2);
    assert_table(&st, 0, "", "a``b");
    assert_true(st.tables[0].has_escaped_quote);
    assert_table(&st, 1, "", "plain");
    assert_false(st.tables[1].has_escaped_quote);
    classify("RENAME TABLE t TO `x``y`", &st);
    assert_rename(&st, 0, "", "t", "", "x``y");
    assert_true(st.tables[0].has_escaped_quote);
    classify("DROP DATABASE `d``b`", &st);
    assert_str(st.database, "d``b", "database");
    assert_true(st.database_has_escaped_quote);
}

/* Under sql_mode=ANSI_QUOTES names may be in double quotes. */
static void test_double_quoted_names(void **state)
{
    (void)state;
    tf_statement st;
    classify("ALTER TABLE \"db\".\"t 1\" RENAME TO \"db\".t2", &st);
    assert_known(&st, TF_STMT_ALTER_TABLE, 1);
    assert_rename(&st, 0, "db", "t 1", "db", "t2");
    classify("TRUNCATE \"a\"\"b\"", &st);
    assert_table(&st, 0, "", "a\"\"b");
    assert_true(st.tables[0].has_escaped_quote);
}

static void test_multi_byte_names(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE caf\xc3\xa9, `\xe6\x97\xa5\xe6\x9c\xac`", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 2);
    assert_table(&st, 0, "", "caf\xc3\xa9");
    assert_table(&st, 1, "", "\xe6\x97\xa5\xe6\x9c\xac");
}

/* A QUERY event holds one statement: nothing after a top-level ';'. */
static void test_semicolon_ends_the_statement(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE a; DROP TABLE b", &st);
    assert_known(&st, TF_STMT_DROP_TABLE, 1);
    assert_table(&st, 0, "", "a");
}

/* ---- limits and damaged text ---- */

static void test_more_tables_than_the_limit_sets_truncated(void **state)
{
    (void)state;
    char sql[512] = "DROP TABLE t0";
    for (int i = 1; i <= TF_STATEMENT_MAX_TABLES; i++) {
        char part[16];
        snprintf(part, sizeof part, ", t%d", i);
        strcat(sql, part);
    }
    tf_statement st;
    classify(sql, &st);
    assert_int_equal(st.kind, TF_STMT_DROP_TABLE);
    assert_int_equal(st.table_count, TF_STATEMENT_MAX_TABLES);
    assert_true(st.tables_truncated);
    assert_table(&st, TF_STATEMENT_MAX_TABLES - 1, "", "t15");
    /* One fewer fits exactly. */
    sql[strlen(sql) - strlen(", t16")] = '\0';
    classify(sql, &st);
    assert_known(&st, TF_STMT_DROP_TABLE, TF_STATEMENT_MAX_TABLES);
}

static void test_statements_cut_short_keep_their_kind(void **state)
{
    (void)state;
    tf_statement st;
    classify("DROP TABLE", &st);
    assert_int_equal(st.kind, TF_STMT_DROP_TABLE);
    assert_true(st.tables_unknown);
    classify("DROP TABLE a,", &st);
    assert_int_equal(st.kind, TF_STMT_DROP_TABLE);
    assert_true(st.tables_unknown);
    assert_table(&st, 0, "", "a");
    classify("DROP TABLE IF", &st);
    assert_int_equal(st.kind, TF_STMT_DROP_TABLE);
    assert_true(st.tables_unknown);
    classify("ALTER TABLE `t1", &st); /* inside the quotes: the name may go on */
    assert_int_equal(st.kind, TF_STMT_ALTER_TABLE);
    assert_true(st.tables_unknown);
    assert_table(&st, 0, "", "t1");
    classify("ALTER TABLE db.", &st);
    assert_int_equal(st.kind, TF_STMT_ALTER_TABLE);
    assert_true(st.tables_unknown);
    classify("ALTER TABLE t RENAME TO", &st);
    assert_int_equal(st.kind, TF_STMT_ALTER_TABLE);
    assert_true(st.tables_unknown);
    classify("RENAME TABLE a TO", &st);
    assert_int_equal(st.kind, TF_STMT_RENAME_TABLE);
    assert_true(st.tables_unknown);
    classify("INSERT INTO", &st);
    assert_int_equal(st.kind, TF_STMT_DML);
    assert_true(st.tables_unknown);
    classify("DELETE t1 FROM", &st);
    assert_int_equal(st.kind, TF_STMT_DML);
    assert_true(st.tables_unknown);
    classify("CREATE TABLE t (a INT, b VARCHAR(", &st); /* the name is whole */
    assert_known(&st, TF_STMT_CREATE_TABLE, 1);
    classify("TRUNCATE TABLE", &st);
    assert_int_equal(st.kind, TF_STMT_TRUNCATE);
    assert_true(st.tables_unknown);
}

/* Every prefix of every statement, each in a heap block of exactly its
 * length (ASan sees a read past it): names stay inside the text. */
static void test_every_prefix_stays_inside_the_text(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "DROP /*!40005 TEMPORARY */ TABLE IF EXISTS `test`.`t1`,`te``st`.\"t2\" /* x */",
        "UPDATE (t1 JOIN (t2, t3) ON t1.a = t2.a) JOIN (SELECT 1) d ON 1 SET t1.b = 'x\\'y'",
        "DELETE a, t2.* FROM db1.t1 AS a JOIN t2 USING (id) WHERE a.x = \"q\"\"q\"",
        "ALTER TABLE `x` ADD c INT COMMENT 'RENAME TO z', RENAME AS `db`.`y` -- end",
        "RENAME TABLE a WAIT 1 TO b, c TO d",
        "/*M!100100 SET STATEMENT a=1 FOR */ WITH c AS (SELECT 1) INSERT INTO t VALUES (1)",
        "LOAD DATA INFILE 'f' INTO TABLE t # x",
        "CREATE DEFINER=`root`@`localhost` TRIGGER g BEFORE INSERT ON t FOR EACH ROW SET @a=1",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t len = strlen(texts[i]);
        for (size_t cut = 0; cut <= len; cut++) {
            char *buf = malloc(cut ? cut : 1);
            memcpy(buf, texts[i], cut);
            tf_statement st;
            tf_statement_classify(buf, cut, &st);
            assert_borrowed_from(&st, buf, cut);
            free(buf);
        }
    }
}

/* NUL is an ordinary byte: it ends a word like any punctuation and the
 * classifier reads on by len, not to the first NUL. */
static void test_nul_bytes_do_not_end_the_text(void **state)
{
    (void)state;
    tf_statement st;
    static const char insert[] = "INSERT INTO t1\0 VALUES (1)";
    tf_statement_classify(insert, sizeof insert - 1, &st);
    assert_known(&st, TF_STMT_DML, 1);
    assert_table(&st, 0, "", "t1");
    static const char quoted[] = "DROP TABLE `a\0b`, c";
    tf_statement_classify(quoted, sizeof quoted - 1, &st);
    assert_int_equal(st.kind, TF_STMT_DROP_TABLE);
    assert_int_equal(st.table_count, 2);
    assert_int_equal(st.tables[0].table.len, 3);
    assert_memory_equal(st.tables[0].table.ptr, "a\0b", 3);
    assert_table(&st, 1, "", "c");
    static const char leading[] = "\0DROP TABLE t";
    tf_statement_classify(leading, sizeof leading - 1, &st);
    assert_known(&st, TF_STMT_OTHER, 0);
    /* Bytes after len are never read, NUL or not. */
    tf_statement_classify("DROP TABLE abc", 12, &st);
    assert_table(&st, 0, "", "a");
}

/* Pseudo-random bytes and SQL-ish tokens in random order: no crash, names
 * inside the text (run under ASan/UBSan for the reads). */
static void test_random_input_stays_inside_the_text(void **state)
{
    (void)state;
    static const char *const pieces[] = {
        "DROP ", "TABLE ", "ALTER ", "RENAME ", "UPDATE ", "DELETE ", "FROM ", "JOIN ", "SET ",
        "WITH ", "AS ",    "(",      ")",       ",",       ".",       "`",     "\"",    "'",
        "\\",    "/*",     "*/",     "/*!",     "/*M!1",   "-- ",     "#",     "\n",    "t1 ",
        ";",     "TO ",    "IF ",    "EXISTS ", "FOR ",    "ON ",     "*",     "\0",    "USING ",
    };
    uint32_t seed = 12345;
    char text[256];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        for (;;) {
            seed = seed * 1103515245u + 12345u;
            const char *p = pieces[(seed >> 16) % (sizeof pieces / sizeof pieces[0])];
            size_t n = p[0] ? strlen(p) : 1;
            if (len + n > sizeof text || (seed & 0x1f) == 0)
                break;
            memcpy(text + len, p, n);
            len += n;
        }
        char *buf = malloc(len ? len : 1);
        memcpy(buf, text, len);
        tf_statement st;
        tf_statement_classify(buf, len, &st);
        assert_borrowed_from(&st, buf, len);
        free(buf);
    }
}

/* The QUERY and ANNOTATE_ROWS statements of a real MariaDB 10.11 binlog
 * (tests/vectors/mariadb-10.11-events.txt lists them). */
static void test_statements_of_mariadb_10_11_binlog(void **state)
{
    (void)state;
    size_t len;
    uint8_t *file = tf_test_read_file(TF_VECTORS_DIR "/mariadb-10.11-events.000005", &len);
    assert_non_null(file);
    tf_binlog_reader reader;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&reader, file, len, &err), TF_OK);
    tf_statement got[8];
    size_t count = 0;
    while (!tf_binlog_reader_at_end(&reader)) {
        tf_event ev;
        if (tf_binlog_reader_next(&reader, &ev, &err) != TF_OK)
            fail_msg("%s", err.message);
        tf_str text;
        if (ev.kind == TF_EVENT_QUERY)
            text = ev.query.statement;
        else if (ev.kind == TF_EVENT_ROWS_QUERY)
            text = ev.rows_query;
        else
            continue;
        assert_true(count < 8);
        tf_statement_classify(text.ptr, text.len, &got[count++]);
    }
    assert_int_equal(count, 6);
    assert_known(&got[0], TF_STMT_OTHER_DDL, 0); /* CREATE DATABASE IF NOT EXISTS */
    assert_true(got[0].if_not_exists);
    assert_str(got[0].database, "tf_events_test", "database");
    assert_known(&got[1], TF_STMT_DROP_TABLE, 1); /* ... generated by server */
    assert_true(got[1].if_exists);
    assert_table(&got[1], 0, "", "items");
    assert_known(&got[2], TF_STMT_CREATE_TABLE, 1);
    assert_table(&got[2], 0, "", "items");
    for (size_t i = 3; i < 6; i++) { /* INSERT, UPDATE, DELETE */
        assert_known(&got[i], TF_STMT_DML, 1);
        assert_table(&got[i], 0, "", "items");
    }
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_and_whitespace_only_text_is_other),
        cmocka_unit_test(test_comment_only_text_is_other),
        cmocka_unit_test(test_begin_and_start_transaction_begin),
        cmocka_unit_test(test_commit_with_work_and_chain_is_commit),
        cmocka_unit_test(test_rollback_to_savepoint_is_marked),
        cmocka_unit_test(test_savepoint_and_release_savepoint),
        cmocka_unit_test(test_xa_statements_map_to_begin_commit_rollback),
        cmocka_unit_test(test_set_grant_and_accounts_are_other),
        cmocka_unit_test(test_insert_forms_name_their_target),
        cmocka_unit_test(test_update_single_table_with_alias),
        cmocka_unit_test(test_update_multi_table_comma_list),
        cmocka_unit_test(test_update_join_lists_every_joined_table),
        cmocka_unit_test(test_update_nested_join_and_derived_table),
        cmocka_unit_test(test_update_without_set_has_unknown_tables),
        cmocka_unit_test(test_delete_single_table),
        cmocka_unit_test(test_delete_multi_table_targets_resolve_aliases),
        cmocka_unit_test(test_delete_multi_table_using),
        cmocka_unit_test(test_load_data_names_its_table),
        cmocka_unit_test(test_with_clause_reads_the_statement_after_it),
        cmocka_unit_test(test_with_clause_of_unknown_shape_has_unknown_tables),
        cmocka_unit_test(test_select_do_call_and_compound_blocks_are_dml_on_unknown_tables),
        cmocka_unit_test(test_set_statement_for_reads_the_inner_statement),
        cmocka_unit_test(test_truncate_with_and_without_table_keyword),
        cmocka_unit_test(test_alter_table_add_column_is_not_a_rename),
        cmocka_unit_test(test_alter_table_rename_to_sets_the_new_name),
        cmocka_unit_test(test_alter_table_rename_column_index_key_is_not_a_table_rename),
        cmocka_unit_test(test_alter_table_rename_in_strings_and_parentheses_is_ignored),
        cmocka_unit_test(test_alter_table_modifiers_and_if_exists),
        cmocka_unit_test(test_alter_table_partition_data_changes),
        cmocka_unit_test(test_rename_table_pairs),
        cmocka_unit_test(test_rename_tables_if_exists_and_wait),
        cmocka_unit_test(test_drop_table_list_with_qualified_names),
        cmocka_unit_test(test_drop_table_generated_by_server),
        cmocka_unit_test(test_drop_temporary_table_inside_executable_comment),
        cmocka_unit_test(test_create_table_forms),
        cmocka_unit_test(test_create_table_real_text_with_comments),
        cmocka_unit_test(test_drop_and_create_database),
        cmocka_unit_test(test_drop_database_without_name_has_unknown_tables),
        cmocka_unit_test(test_index_ddl_names_the_indexed_table),
        cmocka_unit_test(test_view_trigger_and_routine_ddl),
        cmocka_unit_test(test_table_maintenance_lists_its_tables),
        cmocka_unit_test(test_executable_comments_are_read_as_sql),
        cmocka_unit_test(test_plain_comments_between_tokens_are_skipped),
        cmocka_unit_test(test_keywords_match_in_any_case),
        cmocka_unit_test(test_escaped_backquote_in_name_sets_flag),
        cmocka_unit_test(test_double_quoted_names),
        cmocka_unit_test(test_multi_byte_names),
        cmocka_unit_test(test_semicolon_ends_the_statement),
        cmocka_unit_test(test_more_tables_than_the_limit_sets_truncated),
        cmocka_unit_test(test_statements_cut_short_keep_their_kind),
        cmocka_unit_test(test_every_prefix_stays_inside_the_text),
        cmocka_unit_test(test_nul_bytes_do_not_end_the_text),
        cmocka_unit_test(test_random_input_stays_inside_the_text),
        cmocka_unit_test(test_statements_of_mariadb_10_11_binlog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
