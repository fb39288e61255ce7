/* test_binlog_store.c — the binlog store of replica/serve/ over real
 * files: what loading indexes (files, sizes, events, the GTID state),
 * appends that are rolled back, and which files may be purged. */
#include "serve_internal.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The MariaDB 10.11 vector (its .txt lists SHOW BINLOG EVENTS): 26 events
 * in 2516 bytes, GTID_LIST [0-1-81] then transactions 0-1-82 .. 0-1-87. */
static void test_load_vector_indexes_every_event(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    assert_int_equal(src.event_count, 26);
    assert_int_equal(src.txn_count, 6);
    assert_string_equal(src.start_gtid, "0-1-81");
    char want[256];
    src_gtid_after(&src, src.txn_count, want, sizeof want);
    assert_string_equal(want, "0-1-87");

    tf_binlog_store *store = tf_binlog_store_new();
    char *paths[] = {MARIADB_VECTOR};
    tf_error err = {0};
    assert_true(tf_binlog_store_load_files(store, paths, 1, &err));
    assert_int_equal(tf_binlog_store_file_count(store), 1);
    assert_string_equal(tf_binlog_store_file_name(store, 0), "mariadb-10.11-events.000005");
    assert_int_equal(tf_binlog_store_file_size(store, 0), 2516);
    assert_int_equal(tf_binlog_store_file_size(store, 0), file_size(MARIADB_VECTOR));
    assert_int_equal(tf_binlog_store_event_count(store), 26);
    assert_int_equal(tf_binlog_store_flavour(store), TF_FLAVOUR_MARIADB);
    assert_int_equal(tf_binlog_store_source_server_id(store), 1);
    assert_string_equal(tf_binlog_store_format(store)->server_version,
                        "10.11.19-MariaDB-0+deb12u1-log");
    char gtid[256];
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), want);
    /* Every event is where SHOW BINLOG EVENTS puts it. */
    const serve_file *f = &store->files[0];
    for (size_t i = 0; i < src.event_count; i++) {
        assert_int_equal(f->events[i].offset, src.events[i].offset);
        assert_int_equal(f->events[i].size, src.events[i].len);
        assert_int_equal(f->events[i].type, src.events[i].type);
    }
    assert_int_equal(f->gtid_count, 6);
    assert_int_equal(serve_file_event_at(f, 2467), 25);
    assert_int_equal(serve_file_event_at(f, 2468), -1);
    tf_binlog_store_destroy(store);
    src_binlog_cleanup(&src);
}

/* A folder contributes its files named like binlogs (NAME.NNNNNN with the
 * magic), in name order; an .index file and a text file called like a
 * binlog are not binlogs. */
static void test_load_folder_takes_binlogs_in_name_order(void **state)
{
    (void)state;
    char dir[64], path[256];
    temp_dir_make(dir);
    size_t len;
    uint8_t *data = file_read(MARIADB_VECTOR, &len);
    snprintf(path, sizeof path, "%s/mariadb-bin.000006", dir);
    file_write(path, data, len);
    snprintf(path, sizeof path, "%s/mariadb-bin.000005", dir);
    file_write(path, data, len);
    snprintf(path, sizeof path, "%s/mariadb-bin.index", dir);
    file_write(path, (const uint8_t *)"./mariadb-bin.000005\n", 21);
    snprintf(path, sizeof path, "%s/notes.000007", dir);
    file_write(path, (const uint8_t *)"not a binlog\n", 13);
    free(data);

    tf_binlog_store *store = tf_binlog_store_new();
    char *paths[] = {dir};
    tf_error err = {0};
    assert_true(tf_binlog_store_load_files(store, paths, 1, &err));
    char names[256];
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "mariadb-bin.000005 mariadb-bin.000006");
    assert_int_equal(tf_binlog_store_event_count(store), 52);
    assert_int_equal(tf_binlog_store_file_size(store, 1), 2516);
    tf_binlog_store_destroy(store);
    temp_dir_remove(dir);
}

/* A file cut inside its last event (ROTATE at 2467) is refused, and the
 * message names the file and the offset of the event. */
static void test_load_truncated_file_names_file_and_offset(void **state)
{
    (void)state;
    char dir[64], path[256];
    temp_dir_make(dir);
    size_t len;
    uint8_t *data = file_read(MARIADB_VECTOR, &len);
    snprintf(path, sizeof path, "%s/mariadb-bin.000005", dir);
    file_write(path, data, 2500);
    free(data);

    tf_binlog_store *store = tf_binlog_store_new();
    char *paths[] = {path};
    tf_error err = {0};
    assert_false(tf_binlog_store_load_files(store, paths, 1, &err));
    char want[512];
    snprintf(want, sizeof want,
             "%s: at offset 2467: ROTATE event: event size is 49 bytes but only 33 are there "
             "(truncated)",
             path);
    assert_string_equal(err.message, want);
    tf_binlog_store_destroy(store);
    temp_dir_remove(dir);
}

/* What is appended and rolled back leaves nothing: not the bytes, not the
 * event, not the GTID (the next transaction's GTID takes its slot). */
static void test_append_then_rollback_leaves_nothing(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    assert_true(tf_binlog_store_begin_file(store, "relay-bin.000001", -1, &err));
    assert_true(tf_binlog_store_append(store, src.fde->bytes, src.fde->len, &err));
    assert_true(tf_binlog_store_append(store, src.gtid_header->bytes, src.gtid_header->len, &err));
    tf_binlog_store_commit(store);
    char gtid[256];
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-81");
    assert_int_equal(tf_binlog_store_file_size(store, 0), 299);
    assert_int_equal(tf_binlog_store_event_count(store), 2);

    /* 0-1-82 (GTID + CREATE DATABASE), cut short upstream */
    for (size_t i = 0; i < src.txns[0].count; i++) {
        const src_event *e = &src.events[src.txns[0].first + i];
        assert_true(tf_binlog_store_append(store, e->bytes, e->len, &err));
    }
    /* Not served before the commit. */
    assert_int_equal(tf_binlog_store_file_size(store, 0), 299);
    assert_int_equal(tf_binlog_store_event_count(store), 2);
    tf_binlog_store_rollback(store);
    assert_int_equal(tf_binlog_store_file_size(store, 0), 299);
    assert_int_equal(tf_binlog_store_event_count(store), 2);
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-81");
    tf_binlog_store_commit(store); /* nothing pending: nothing served */
    assert_int_equal(tf_binlog_store_event_count(store), 2);
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-81");
    assert_int_equal(store->files[0].gtid_count, 0);

    /* 0-1-83 then takes the place 0-1-82 had. */
    for (size_t i = 0; i < src.txns[1].count; i++) {
        const src_event *e = &src.events[src.txns[1].first + i];
        assert_true(tf_binlog_store_append(store, e->bytes, e->len, &err));
    }
    tf_binlog_store_commit(store);
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-83");
    assert_int_equal(tf_binlog_store_file_size(store, 0), 299 + src.txns[1].bytes);
    assert_int_equal(tf_binlog_store_event_count(store), 4);
    const serve_file *f = &store->files[0];
    assert_int_equal(f->gtid_count, 1);
    assert_int_equal(f->mariadb_gtids[0].seq_no, 83);
    assert_int_equal(f->events[2].offset, 299);
    assert_true(f->events[2].has_gtid);
    assert_memory_equal(f->data + 299, src.events[src.txns[1].first].bytes, src.txns[1].bytes);

    /* Once it holds a file, the store's state comes from its files. */
    assert_false(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, "0-1-1", &err));
    assert_string_equal(err.message, "the store already holds files");
    tf_binlog_store_destroy(store);
    src_binlog_cleanup(&src);
}

/* The last file is never purged (a store always has where to append), nor
 * a file a dump reads. */
static void test_purge_first_refuses_last_and_read_file(void **state)
{
    (void)state;
    tf_binlog_store *store = tf_binlog_store_new();
    char *paths[] = {MARIADB_VECTOR};
    tf_error err = {0};
    assert_true(tf_binlog_store_load_files(store, paths, 1, &err));
    assert_false(tf_binlog_store_purge_first(store));
    assert_int_equal(tf_binlog_store_file_count(store), 1);

    assert_true(tf_binlog_store_begin_file(store, "mariadb-bin.000006", -1, &err));
    /* Two files of one name would make ROTATE ambiguous. */
    assert_false(tf_binlog_store_begin_file(store, "mariadb-bin.000006", -1, &err));
    assert_string_equal(err.message, "two binlog files are called mariadb-bin.000006");
    assert_int_equal(tf_binlog_store_file_count(store), 2);
    store->files[0].readers = 1;
    assert_false(tf_binlog_store_purge_first(store));
    assert_int_equal(tf_binlog_store_file_count(store), 2);
    store->files[0].readers = 0;
    assert_true(tf_binlog_store_purge_first(store));
    assert_int_equal(tf_binlog_store_file_count(store), 1);
    assert_string_equal(tf_binlog_store_file_name(store, 0), "mariadb-bin.000006");
    assert_int_equal(store->base, 1);
    assert_false(tf_binlog_store_purge_first(store));
    assert_int_equal(tf_binlog_store_file_count(store), 1);
    tf_binlog_store_destroy(store);
}

/* MySQL 8.0.28 with GTIDs: the executed set is PREVIOUS_GTIDS (empty) and
 * the file's five GTIDs. */
static void test_load_mysql_fixture_gives_executed_set(void **state)
{
    (void)state;
    char path[512];
    if (!fixture_path("rust_mysql_common/mysql-enum-string-set.000001", path, sizeof path))
        skip();
    tf_binlog_store *store = tf_binlog_store_new();
    char *paths[] = {path};
    tf_error err = {0};
    assert_true(tf_binlog_store_load_files(store, paths, 1, &err));
    assert_int_equal(tf_binlog_store_flavour(store), TF_FLAVOUR_MYSQL);
    assert_int_equal(tf_binlog_store_file_size(store, 0), 3331);
    assert_int_equal(tf_binlog_store_event_count(store), 21);
    char gtid[256];
    assert_string_equal(store_gtid(store, gtid, sizeof gtid),
                        "93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-5");
    src_binlog src;
    src_binlog_load(&src, path);
    char want[256];
    src_gtid_after(&src, src.txn_count, want, sizeof want);
    assert_string_equal(gtid, want);
    src_binlog_cleanup(&src);
    tf_binlog_store_destroy(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_vector_indexes_every_event),
        cmocka_unit_test(test_load_folder_takes_binlogs_in_name_order),
        cmocka_unit_test(test_load_truncated_file_names_file_and_offset),
        cmocka_unit_test(test_append_then_rollback_leaves_nothing),
        cmocka_unit_test(test_purge_first_refuses_last_and_read_file),
        cmocka_unit_test(test_load_mysql_fixture_gives_executed_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
