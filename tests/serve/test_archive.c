/* test_archive.c — tapflow-relay's binlog archive (replica/serve/archive.c)
 * fed with the transactions of a real MariaDB 10.11 binlog: the files it
 * writes, rotation, recovery of a torn tail, damaged files, retention.
 *
 * The vector holds GTID_LIST [0-1-81], then six transactions: 0-1-82,
 * 83, 84 (GTID + DDL; 163, 182, 447 bytes), 85, 86, 87 (GTID, ANNOTATE_ROWS,
 * TABLE_MAP, rows, XID; 500, 452, 334 bytes). In the archive the header
 * (magic, FDE, GTID_LIST) takes 299 bytes and a ROTATE to relay-bin.NNNNNN
 * 47. */
#include "serve_internal.h"
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

static const size_t txn_bytes[6] = {163, 182, 447, 500, 452, 334};

static void test_round_trip_keeps_upstream_bytes(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    assert_int_equal(src.txn_count, 6);
    for (size_t t = 0; t < 6; t++)
        assert_int_equal(src.txns[t].bytes, txn_bytes[t]);
    /* The two BINLOG_CHECKPOINTs (90 bytes) and the ROTATE are not sent
     * as transactions: 2516 - 90 - 49 bytes. */
    assert_int_equal(check_archive_round_trip(&src), 2377);
    src_binlog_cleanup(&src);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Asserts that the last event of f is a ROTATE to next at position 4. */
static void assert_ends_with_rotate(const arc_file *f, const char *next)
{
    const arc_event *e = &f->events[f->event_count - 1];
    assert_int_equal(e->header.type, TF_EV_ROTATE);
    assert_int_equal(e->offset + e->len, f->len);
    const uint8_t *body = f->data + e->offset + TF_EVENT_HEADER_LEN;
    assert_int_equal(le64(body), 4);
    size_t name_len = e->len - TF_EVENT_HEADER_LEN - 8 - 4;
    assert_int_equal(name_len, strlen(next));
    assert_memory_equal(body + 8, next, name_len);
}

/* rotate_bytes 500: a file is closed by the first transaction that takes
 * it to 500 bytes or more; each new file's GTID_LIST is the state after
 * the files before it. */
static void test_rotation_gives_files_with_rotate_and_gtid_list(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t first_txn, txn_count;
        const char *gtid_list;
        size_t len;
    } want[] = {
        {"relay-bin.000001", 0, 2, "0-1-81", 299 + 163 + 182 + 47},
        {"relay-bin.000002", 2, 1, "0-1-83", 299 + 447 + 47},
        {"relay-bin.000003", 3, 1, "0-1-84", 299 + 500 + 47},
        {"relay-bin.000004", 4, 1, "0-1-85", 299 + 452 + 47},
        {"relay-bin.000005", 5, 1, "0-1-86", 299 + 334 + 47},
        {"relay-bin.000006", 6, 0, "0-1-87", 299},
    };
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], path[256], gtid[256], names[512], listing[512];
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 500, 0);
    arc_format(a, &src);
    arc_feed(a, &src, 0, src.txn_count);
    assert_int_not_equal(event_base_loop(base, EVLOOP_NONBLOCK), -1);
    assert_int_equal(tf_archive_get_stats(a)->files_created, 6);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002 relay-bin.000003 "
                               "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-87");
    tf_archive_close(a);
    dir_listing(dir, "", listing, sizeof listing);
    assert_string_equal(listing, names);

    for (size_t i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, want[i].name);
        arc_file f;
        arc_file_load(&f, path);
        assert_int_equal(f.len, want[i].len);
        assert_int_equal(tf_binlog_store_file_size(store, i), want[i].len);
        arc_file_header_gtid(&f, gtid, sizeof gtid);
        assert_string_equal(gtid, want[i].gtid_list);
        size_t at = 2;
        for (size_t t = want[i].first_txn; t < want[i].first_txn + want[i].txn_count; t++) {
            assert_txn_archived(&f, at, &src, t);
            at += src.txns[t].count;
        }
        if (i + 1 < 6) {
            assert_int_equal(f.event_count, at + 1);
            assert_ends_with_rotate(&f, want[i + 1].name);
        } else {
            assert_int_equal(f.event_count, at);
        }
        arc_file_cleanup(&f);
    }

    /* Reopened with a fresh store: the same files, sizes and state. */
    tf_binlog_store *again = tf_binlog_store_new();
    a = arc_open(base, again, dir, 500, 0);
    store_listing(again, listing, sizeof listing);
    assert_string_equal(listing, names);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tf_binlog_store_file_size(again, i), want[i].len);
    assert_int_equal(tf_binlog_store_event_count(again), tf_binlog_store_event_count(store));
    assert_string_equal(store_gtid(again, gtid, sizeof gtid), "0-1-87");
    assert_int_equal(tf_archive_get_stats(a)->recovered_files, 6);
    tf_archive_close(a);
    tf_binlog_store_destroy(again);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    src_binlog_cleanup(&src);
}

/* kill -9 at any byte of the last two transactions (0-1-86, 0-1-87, from
 * 1591 to 2377): the reopened archive holds exactly the transactions
 * before the cut, and the upstream's retry makes the same file again. */
static void test_torn_tail_cut_at_every_offset(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    check_archive_torn_tail_every_offset(&src);
    src_binlog_cleanup(&src);
}

/* Two files: relay-bin.000001 with 0-1-82 .. 86 and its ROTATE (2090
 * bytes), relay-bin.000002 with 0-1-87 (633 bytes). */
static void archive_two_files(const src_binlog *src, const char *dir)
{
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src->start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 2000, 0);
    arc_format(a, src);
    arc_feed(a, src, 0, src->txn_count);
    tf_archive_close(a);
    char names[256];
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002");
    assert_int_equal(tf_binlog_store_file_size(store, 0), 2090);
    assert_int_equal(tf_binlog_store_file_size(store, 1), 633);
    tf_binlog_store_destroy(store);
    event_base_free(base);
}

/* A crash while the next file was being created leaves it with the magic
 * or part of its header (FDE, GTID_LIST): nothing of it was served, so it
 * goes, and the next file takes its number. */
static void test_last_file_with_partial_header_is_removed(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], cut_dir[64], path[256], path2[256], gtid[256], names[256];
    temp_dir_make(dir);
    temp_dir_make(cut_dir);
    archive_two_files(&src, dir);
    size_t len1, len2;
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    uint8_t *file1 = file_read(path, &len1);
    snprintf(path, sizeof path, "%s/relay-bin.000002", dir);
    uint8_t *file2 = file_read(path, &len2);
    snprintf(path, sizeof path, "%s/relay-bin.000001", cut_dir);
    snprintf(path2, sizeof path2, "%s/relay-bin.000002", cut_dir);
    struct event_base *base = event_base_new();
    tf_error err = {0};
    for (size_t len = 0; len <= 299; len++) {
        file_write(path, file1, len1);
        file_write(path2, file2, len);
        tf_binlog_store *store = tf_binlog_store_new();
        tf_archive *a = arc_open(base, store, cut_dir, 2000, 0);
        assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-86");
        store_listing(store, names, sizeof names);
        if (len == 299) {
            /* A whole header: a file like any other. */
            assert_string_equal(names, "relay-bin.000001 relay-bin.000002");
            assert_int_equal(tf_binlog_store_file_size(store, 1), 299);
        } else {
            assert_string_equal(names, "relay-bin.000001");
            assert_int_equal(file_size(path2), -1);
            assert_int_equal(tf_archive_get_stats(a)->recovered_cut_bytes, len);
        }
        arc_format(a, &src);
        arc_feed(a, &src, 5, 6);
        assert_true(tf_archive_flush(a, &err));
        store_listing(store, names, sizeof names);
        assert_string_equal(names, "relay-bin.000001 relay-bin.000002");
        assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-87");
        assert_int_equal(tf_binlog_store_file_size(store, 1), 633);
        tf_archive_close(a);
        tf_binlog_store_destroy(store);
        arc_file f;
        arc_file_load(&f, path2);
        assert_int_equal(f.len, 633);
        arc_file_header_gtid(&f, gtid, sizeof gtid);
        assert_string_equal(gtid, "0-1-86");
        assert_txn_archived(&f, 2, &src, 5);
        assert_int_equal(f.event_count, 2 + src.txns[5].count);
        arc_file_cleanup(&f);
        assert_int_equal(file_size(path), 2090);
    }
    free(file1);
    free(file2);
    event_base_free(base);
    temp_dir_remove(dir);
    temp_dir_remove(cut_dir);
    src_binlog_cleanup(&src);
}

/* The same when the torn file was the only one: the archive is empty
 * again and its first file is relay-bin.000001 once more. */
static void test_only_file_with_partial_header_is_removed(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], cut_dir[64], path[256], gtid[256], names[256];
    temp_dir_make(dir);
    temp_dir_make(cut_dir);
    archive_two_files(&src, dir);
    size_t len1;
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    uint8_t *file1 = file_read(path, &len1);
    snprintf(path, sizeof path, "%s/relay-bin.000001", cut_dir);
    struct event_base *base = event_base_new();
    tf_error err = {0};
    for (size_t len = 0; len < 299; len++) {
        file_write(path, file1, len);
        tf_binlog_store *store = tf_binlog_store_new();
        tf_archive *a = arc_open(base, store, cut_dir, 2000, 0);
        assert_int_equal(tf_binlog_store_file_count(store), 0);
        assert_int_equal(file_size(path), -1);
        assert_false(tf_archive_has_format(a));
        assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, "0-1-81", &err));
        arc_format(a, &src);
        arc_feed(a, &src, 0, 1);
        assert_true(tf_archive_flush(a, &err));
        store_listing(store, names, sizeof names);
        assert_string_equal(names, "relay-bin.000001");
        assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-82");
        tf_archive_close(a);
        tf_binlog_store_destroy(store);
        dir_listing(cut_dir, "", names, sizeof names);
        assert_string_equal(names, "relay-bin.000001");
        assert_int_equal(file_size(path), 299 + 163);
        temp_dir_remove(cut_dir);
        assert_non_null(mkdtemp(strcpy(cut_dir, "/tmp/tf-serve-test-XXXXXX")));
        snprintf(path, sizeof path, "%s/relay-bin.000001", cut_dir);
    }
    free(file1);
    event_base_free(base);
    temp_dir_remove(dir);
    temp_dir_remove(cut_dir);
    src_binlog_cleanup(&src);
}

/* Writes file1 (damaged) and file2 to a new folder as relay-bin.000001
 * and 000002 and expects the archive refused with the error expect (a
 * format whose %s is the damaged file's path); neither file is touched. */
static void assert_damaged_first_file_refused(const uint8_t *file1, size_t len1,
                                              const uint8_t *file2, size_t len2, const char *expect)
{
    char dir[64], path1[256], path2[256];
    temp_dir_make(dir);
    snprintf(path1, sizeof path1, "%s/relay-bin.000001", dir);
    snprintf(path2, sizeof path2, "%s/relay-bin.000002", dir);
    file_write(path1, file1, len1);
    file_write(path2, file2, len2);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_archive_options opt;
    memset(&opt, 0, sizeof opt);
    opt.dir = dir;
    tf_error err = {0};
    assert_null(tf_archive_open(base, &opt, store, &err));
    char want[1024];
    snprintf(want, sizeof want, expect, path1);
    assert_string_equal(err.message, want);
    assert_int_equal(file_size(path1), len1);
    assert_int_equal(file_size(path2), len2);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
}

/* A file before the last cannot be cut back (a replica may have read
 * past the damage and the files after it follow it): the archive refuses
 * to open and says which file and where. */
static void test_damaged_non_last_file_is_refused(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], path[256];
    temp_dir_make(dir);
    archive_two_files(&src, dir);
    size_t len1;
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    uint8_t *file1 = file_read(path, &len1);
    size_t len2;
    snprintf(path, sizeof path, "%s/relay-bin.000002", dir);
    uint8_t *file2 = file_read(path, &len2);

    /* A flipped bit in the GTID event of 0-1-84 (644 .. 686). */
    file1[670] ^= 0x10;
    assert_damaged_first_file_refused(
        file1, len1, file2, len2,
        "archive: %s is damaged at offset 644 (at offset 644: MARIADB_GTID event: checksum "
        "mismatch: stored CRC32 0xb214f687 at offset 38, computed 0xbe0c1b7b over 38 bytes "
        "(corrupt event)); it is not the last file, so it cannot be cut back");
    file1[670] ^= 0x10;
    /* Cut inside 0-1-84 (644 .. 1091). */
    assert_damaged_first_file_refused(
        file1, 1000, file2, len2,
        "archive: %s is damaged at offset 644 (at offset 686: QUERY event: event size is 405 "
        "bytes but only 314 are there (truncated)); it is not the last file, so it cannot be "
        "cut back");
    /* Cut inside the header. */
    assert_damaged_first_file_refused(file1, 100, file2, len2,
                                      "archive: %s is damaged (no complete header); it is not "
                                      "the last file, so it cannot be cut back: move it away "
                                      "to continue");

    free(file1);
    free(file2);
    temp_dir_remove(dir);
    src_binlog_cleanup(&src);
}

/* retention_bytes 2000 with rotate_bytes 500: at each rotation the oldest
 * files go while the closed files hold more than 2000 bytes (691, 793,
 * 846, 798, 680 bytes): relay-bin.000001 at the third rotation, 000002 at
 * the fourth, 000003 at the fifth. */
static void test_retention_purges_oldest_files(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], gtid[256], names[512];
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 500, 2000);
    arc_format(a, &src);
    arc_feed(a, &src, 0, 3);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002 relay-bin.000003");
    arc_feed(a, &src, 3, 4);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000002 relay-bin.000003 relay-bin.000004");
    arc_feed(a, &src, 4, 6);
    assert_true(tf_archive_flush(a, &err));
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    dir_listing(dir, "", names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    assert_int_equal(tf_archive_get_stats(a)->files_purged, 3);
    assert_int_equal(store->base, 3);
    assert_string_equal(store_gtid(store, gtid, sizeof gtid), "0-1-87");
    /* Under the limit now (798 + 680 + 299): nothing more goes. */
    tf_archive_enforce_retention(a);
    assert_int_equal(tf_binlog_store_file_count(store), 3);
    tf_archive_close(a);

    /* What is left opens as it was. */
    tf_binlog_store *again = tf_binlog_store_new();
    a = arc_open(base, again, dir, 500, 2000);
    store_listing(again, names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    assert_string_equal(store_gtid(again, gtid, sizeof gtid), "0-1-87");
    tf_archive_close(a);
    tf_binlog_store_destroy(again);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    src_binlog_cleanup(&src);
}

/* A file a dump reads is not purged (nor, as files go oldest first, any
 * after it); once the dump leaves it, the next enforcement catches up. */
static void test_retention_keeps_file_being_read(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], names[512];
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 500, 2000);
    arc_format(a, &src);
    arc_feed(a, &src, 0, 2);
    assert_int_equal(tf_binlog_store_file_count(store), 2);
    store->files[0].readers = 1;
    arc_feed(a, &src, 2, 6);
    assert_true(tf_archive_flush(a, &err));
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002 relay-bin.000003 "
                               "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    dir_listing(dir, "", names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002 relay-bin.000003 "
                               "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    assert_int_equal(tf_archive_get_stats(a)->files_purged, 0);

    store->files[0].readers = 0;
    tf_archive_enforce_retention(a);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    dir_listing(dir, "", names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    assert_int_equal(tf_archive_get_stats(a)->files_purged, 3);
    tf_archive_close(a);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    src_binlog_cleanup(&src);
}

/* retention_seconds: files last written more than that long ago go,
 * oldest first, stopping at the first younger one. */
static void test_retention_seconds_purges_old_files(void **state)
{
    (void)state;
    src_binlog src;
    src_binlog_load(&src, MARIADB_VECTOR);
    char dir[64], path[256], names[512];
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    tf_archive_options opt;
    memset(&opt, 0, sizeof opt);
    opt.dir = dir;
    opt.rotate_bytes = 500;
    opt.retention_seconds = 3600;
    tf_archive *a = tf_archive_open(base, &opt, store, &err);
    assert_non_null(a);
    arc_format(a, &src);
    arc_feed(a, &src, 0, 6);
    assert_true(tf_archive_flush(a, &err));
    assert_int_equal(tf_binlog_store_file_count(store), 6);
    /* relay-bin.000001 and 000003 written two hours ago: 000003 waits
     * for 000002. */
    struct timeval old[2];
    gettimeofday(&old[0], NULL);
    old[0].tv_sec -= 7200;
    old[1] = old[0];
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    assert_int_equal(utimes(path, old), 0);
    snprintf(path, sizeof path, "%s/relay-bin.000003", dir);
    assert_int_equal(utimes(path, old), 0);
    tf_archive_enforce_retention(a);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000002 relay-bin.000003 relay-bin.000004 "
                               "relay-bin.000005 relay-bin.000006");
    snprintf(path, sizeof path, "%s/relay-bin.000002", dir);
    assert_int_equal(utimes(path, old), 0);
    tf_archive_enforce_retention(a);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    dir_listing(dir, "", names, sizeof names);
    assert_string_equal(names, "relay-bin.000004 relay-bin.000005 relay-bin.000006");
    tf_archive_close(a);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    src_binlog_cleanup(&src);
}

/* The upstream reconnects with another FORMAT_DESCRIPTION (next is a
 * real file of that server): the current file is closed with a ROTATE in
 * its own format and the next one starts with the new FDE, so that every
 * file's events are described by its own FDE. Then next's first
 * transaction goes to the new file. */
static void check_format_change_rotates(const char *next_fixture, const char *next_version)
{
    char path[512], dir[64], gtid[256], names[256];
    if (!fixture_path(next_fixture, path, sizeof path))
        skip();
    src_binlog src, next;
    src_binlog_load(&src, MARIADB_VECTOR);
    src_binlog_load(&next, path);
    temp_dir_make(dir);
    struct event_base *base = event_base_new();
    tf_binlog_store *store = tf_binlog_store_new();
    tf_error err = {0};
    assert_true(tf_binlog_store_seed_gtid(store, TF_FLAVOUR_MARIADB, src.start_gtid, &err));
    tf_archive *a = arc_open(base, store, dir, 0, 0);
    arc_format(a, &src);
    arc_feed(a, &src, 0, 6);
    /* The same FDE again (a reconnection): nothing changes. */
    arc_format(a, &src);
    assert_int_equal(tf_binlog_store_file_count(store), 1);
    if (!tf_archive_format(a, next.fde->bytes, next.fde->len, &err))
        fail_msg("tf_archive_format: %s", err.message);
    store_listing(store, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002");
    assert_int_equal(tf_binlog_store_file_size(store, 0), 2377 + 47);
    assert_string_equal(tf_binlog_store_format(store)->server_version, next_version);
    arc_feed(a, &next, 0, 1);
    assert_true(tf_archive_flush(a, &err));
    tf_archive_close(a);

    arc_file f;
    snprintf(path, sizeof path, "%s/relay-bin.000001", dir);
    arc_file_load(&f, path);
    assert_int_equal(f.len, 2377 + 47);
    assert_ends_with_rotate(&f, "relay-bin.000002");
    arc_file_cleanup(&f);
    snprintf(path, sizeof path, "%s/relay-bin.000002", dir);
    arc_file_load(&f, path);
    assert_int_equal(f.events[0].len, next.fde->len);
    assert_memory_equal(f.data + 4 + 19, next.fde->bytes + 19, next.fde->len - 19 - 4);
    arc_file_header_gtid(&f, gtid, sizeof gtid);
    assert_string_equal(gtid, "0-1-87");
    assert_txn_archived(&f, 2, &next, 0);
    assert_int_equal(f.len, f.events[2].offset + next.txns[0].bytes);
    arc_file_cleanup(&f);

    /* Both open again. */
    tf_binlog_store *again = tf_binlog_store_new();
    a = arc_open(base, again, dir, 0, 0);
    store_listing(again, names, sizeof names);
    assert_string_equal(names, "relay-bin.000001 relay-bin.000002");
    tf_archive_close(a);
    tf_binlog_store_destroy(again);
    tf_binlog_store_destroy(store);
    event_base_free(base);
    temp_dir_remove(dir);
    src_binlog_cleanup(&next);
    src_binlog_cleanup(&src);
}

/* MariaDB 10.11 -> 10.5.15 (both CRC32). */
static void test_format_change_of_version_rotates(void **state)
{
    (void)state;
    check_format_change_rotates("rust_mysql_common/mariadb-bin.000001",
                                "10.5.15-MariaDB-1:10.5.15+maria~focal-log");
}

/* MariaDB 10.11 with CRC32 -> 10.0.11 with binlog_checksum=NONE: the old
 * file's ROTATE keeps the old file's CRC32, the new file has none. */
static void test_format_change_of_checksum_rotates(void **state)
{
    (void)state;
    check_format_change_rotates("mariadb-test-data/mdev6020-mysql-bin.000001",
                                "10.0.11-MariaDB-debug-log");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_upstream_bytes),
        cmocka_unit_test(test_rotation_gives_files_with_rotate_and_gtid_list),
        cmocka_unit_test(test_torn_tail_cut_at_every_offset),
        cmocka_unit_test(test_last_file_with_partial_header_is_removed),
        cmocka_unit_test(test_only_file_with_partial_header_is_removed),
        cmocka_unit_test(test_damaged_non_last_file_is_refused),
        cmocka_unit_test(test_retention_purges_oldest_files),
        cmocka_unit_test(test_retention_keeps_file_being_read),
        cmocka_unit_test(test_retention_seconds_purges_old_files),
        cmocka_unit_test(test_format_change_of_version_rotates),
        cmocka_unit_test(test_format_change_of_checksum_rotates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
