/* test_event_fixtures.c — every real binlog file under ../shared/fixtures
 * decodes as its README index says, and the files broken on purpose (or in
 * formats we do not read) fail with the error we mean, at the right offset.
 *
 * The expected counts per event type are those of the fixtures README
 * index (computed independently of this decoder). */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct file_result {
    tf_status status;
    tf_error err;
    uint32_t counts[256];
    uint32_t inner_counts[256]; /* inside TRANSACTION_PAYLOAD */
    uint64_t events;
    uint64_t rows;
    uint64_t partial_json_values;
    uint64_t other_kind; /* events decoded as TF_EVENT_OTHER */
    size_t error_offset;
} file_result;

static tf_status walk_rows(const tf_event *ev, tf_table_maps *maps, file_result *res)
{
    const tf_table_map *map;
    tf_status st = tf_table_maps_find(maps, ev, &map, &res->err);
    if (st != TF_OK)
        return st;
    tf_rows_cursor cur;
    if ((st = tf_rows_begin(&cur, ev, map, &res->err)) != TF_OK)
        return st;
    tf_value *before = calloc(map->column_count, sizeof *before);
    tf_value *after = calloc(map->column_count, sizeof *after);
    while (st == TF_OK && tf_rows_has_next(&cur)) {
        st = tf_rows_next(&cur, before, after, &res->err);
        if (st == TF_OK) {
            res->rows++;
            for (uint32_t i = 0; i < map->column_count; i++)
                res->partial_json_values += after[i].kind == TF_VAL_JSON_DIFF;
        }
    }
    free(before);
    free(after);
    tf_rows_cleanup(&cur);
    return st;
}

static tf_status handle_event(const tf_event *ev, const tf_format *fmt, tf_table_maps *maps,
                              file_result *res, bool inner)
{
    tf_status st = TF_OK;
    (inner ? res->inner_counts : res->counts)[ev->header.type]++;
    if (ev->kind == TF_EVENT_OTHER)
        res->other_kind++;
    if (ev->kind == TF_EVENT_TABLE_MAP)
        st = tf_table_maps_add_event(maps, ev, &res->err);
    else if (ev->kind == TF_EVENT_ROWS)
        st = walk_rows(ev, maps, res);
    else if (ev->kind == TF_EVENT_TRANSACTION_PAYLOAD) {
        tf_payload_iter it;
        st = tf_payload_iter_init(&it, ev, fmt, 64u << 20, &res->err);
        while (st == TF_OK && tf_payload_iter_has_next(&it)) {
            tf_event in;
            st = tf_payload_iter_next(&it, &in, &res->err);
            if (st == TF_OK)
                st = handle_event(&in, fmt, maps, res, true);
        }
        tf_payload_iter_cleanup(&it);
    }
    return st;
}

/* Decodes a whole fixture; returns false (after skip()) if absent. */
static bool decode_fixture(const char *relative, file_result *res)
{
    char path[1024];
    memset(res, 0, sizeof *res);
    if (!tf_test_fixture(relative, path, sizeof path))
        return false;
    size_t len;
    uint8_t *buf = tf_test_read_file(path, &len);
    assert_non_null(buf);
    tf_binlog_reader r;
    tf_table_maps *maps = tf_table_maps_new();
    res->status = tf_binlog_reader_init(&r, buf, len, &res->err);
    while (res->status == TF_OK && !tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        res->status = tf_binlog_reader_next(&r, &ev, &res->err);
        if (res->status != TF_OK)
            break;
        res->events++;
        res->status = handle_event(&ev, &r.fmt, maps, res, false);
        if (res->status != TF_OK)
            tf_error_prefix(&res->err, "at offset %zu", r.event_offset);
    }
    res->error_offset = r.event_offset;
    tf_table_maps_destroy(maps);
    free(buf);
    return true;
}

/* "2:11 15:1 16:6" — types in ascending order. */
static void format_counts(const uint32_t *counts, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int t = 0; t < 256; t++)
        if (counts[t])
            n += (size_t)snprintf(out + n, cap - n, "%s%d:%u", n ? " " : "", t, counts[t]);
}

static void assert_decodes(const char *relative, const char *expected_counts,
                           uint64_t expected_rows)
{
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture(relative, res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    if (res->status != TF_OK)
        fail_msg("%s: %s", relative, res->err.message);
    char counts[1024];
    format_counts(res->counts, counts, sizeof counts);
    assert_string_equal(counts, expected_counts);
    assert_int_equal(res->rows, expected_rows);
    free(res);
}

static void assert_fails(const char *relative, tf_status expected_status,
                         const char *expected_message)
{
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture(relative, res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    assert_int_equal(res->status, expected_status);
    assert_string_equal(res->err.message, expected_message);
    free(res);
}

/* ---- MySQL 8 / 9 ---- */

static void test_mysql_cdc_query(void **state)
{
    (void)state;
    assert_decodes("mysql-cdc-rs/02_query/binlog.000001", "2:1 15:1 34:1 35:1", 0);
}

static void test_mysql_cdc_query_bigger(void **state)
{
    (void)state;
    /* sql.sql: LINEITEM 1 + 5 rows inserted, 1 updated, 1 + 1 deleted;
     * Demo: 5 rows inserted. */
    assert_decodes("mysql-cdc-rs/02_query_bigger/binlog.000733",
                   "2:11 15:1 16:6 19:6 30:3 31:1 32:2 34:11 35:1", 14);
}

static void test_mysql_cdc_write_rows(void **state)
{
    (void)state;
    assert_decodes("mysql-cdc-rs/19_30_Table_map_event_Write_rows_log_event/binlog.000018",
                   "2:3 15:1 16:1 19:1 30:1 34:3 35:1", 1);
}

static void test_mysql_cdc_update_rows(void **state)
{
    (void)state;
    assert_decodes("mysql-cdc-rs/31_update_rows_v2/binlog.000001",
                   "2:4 15:1 16:2 19:2 30:1 31:1 34:4 35:1", 2);
}

static void test_mysql_cdc_delete_rows(void **state)
{
    (void)state;
    assert_decodes("mysql-cdc-rs/32_delete_rows_v2/binlog.000001",
                   "2:5 15:1 16:3 19:3 30:1 31:1 32:1 34:5 35:1", 3);
}

static void test_mysql_cdc_folder_files(void **state)
{
    (void)state;
    static const char *const names[] = {"000688", "000689", "000692", "000695", "000696",
                                        "000697", "000698", "000699", "000700", "000701",
                                        "000702", "000703", "000704", "000705", "000706"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "mysql-cdc-rs/folder/binlog.%s", names[i]);
        assert_decodes(rel, "3:1 15:1 35:1", 0);
    }
}

static void test_rust_invisible_columns(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/binlog-invisible-columns.000001",
                   "2:5 3:1 15:1 16:3 19:3 30:2 31:1 33:5 35:1", 3);
}

static void test_rust_previous_gtid_no_tag(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/binlog_transaction_previous_GTID_no_tag.000001",
                   "4:1 15:1 35:1", 0);
}

static void test_rust_gtid_tag(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
                   "2:1 4:1 15:1 16:1 19:1 30:1 35:1 42:1", 1);
}

static void test_rust_json_opaque(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/json-opaque.binlog", "2:3 15:1 16:1 19:8 30:8 34:3 35:1", 8);
}

static void test_rust_json_partial_update(void **state)
{
    (void)state;
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture("rust_mysql_common/json.binlog.000001", res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    if (res->status != TF_OK)
        fail_msg("%s", res->err.message);
    char counts[1024];
    format_counts(res->counts, counts, sizeof counts);
    assert_string_equal(counts, "2:8 15:1 16:6 19:6 30:4 31:1 34:8 35:1 39:1");
    assert_true(res->partial_json_values > 0);
    free(res);
}

static void test_rust_minimal_row_metadata(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/minimal_row_metadata.000001",
                   "2:1 4:1 15:1 16:1 19:1 30:1 34:1 35:1", 1);
}

static void test_rust_enum_string_set(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/mysql-enum-string-set.000001",
                   "2:5 15:1 16:3 19:3 30:1 31:1 32:1 33:5 35:1", 3);
}

static void test_rust_bit(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/mysql_type_bit.000001", "2:3 15:1 16:1 19:1 30:1 33:3 35:1",
                   1);
}

static void test_rust_time_issue(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/time_issue.000001", "2:1 4:1 15:1 16:1 19:1 30:1 34:1 35:1",
                   1);
}

static void test_rust_transaction_compression(void **state)
{
    (void)state;
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture("rust_mysql_common/transaction_compression.000001", res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    if (res->status != TF_OK)
        fail_msg("%s", res->err.message);
    char counts[1024];
    format_counts(res->counts, counts, sizeof counts);
    assert_string_equal(counts, "4:1 15:1 34:1 35:1 40:1");
    format_counts(res->inner_counts, counts, sizeof counts);
    assert_string_equal(counts, "2:1 16:1 19:1 30:1");
    assert_int_equal(res->rows, 1);
    free(res);
}

static void test_rust_vector(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/vector.binlog",
                   "2:10 3:1 15:1 16:3 19:6 30:5 32:1 34:10 35:1", 10);
}

/* ---- MariaDB and older MySQL ---- */

static void test_rust_mariadb(void **state)
{
    (void)state;
    assert_decodes("rust_mysql_common/mariadb-bin.000001",
                   "15:1 16:2 19:2 23:2 160:2 161:1 162:2 163:1", 2);
}

static void test_mariadb_mdev6020_all_7754_events(void **state)
{
    (void)state;
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture("mariadb-test-data/mdev6020-mysql-bin.000001", res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    if (res->status != TF_OK)
        fail_msg("%s", res->err.message);
    assert_int_equal(res->events, 7754);
    char counts[1024];
    format_counts(res->counts, counts, sizeof counts);
    assert_string_equal(counts,
                        "2:54 3:1 15:1 16:1340 19:2487 23:1116 24:774 25:598 161:1 162:1381 163:1");
    free(res);
}

static void test_mariadb_seq_10_3(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/master-bin-seq_10.3.36.000001",
                   "2:4 15:1 19:2 23:2 160:2 161:1 162:4 163:1", 2);
}

static void test_mariadb_mdev29078(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/mdev29078-mysql-bin.000001", "2:5 3:1 15:1 161:1 162:3 163:1",
                   0);
}

static void test_mariadb_5_5(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/mariadb-5.5-binlog.000001", "2:8 3:1 15:1 16:3", 0);
}

static void test_mariadb_binlog_header_only(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/binlog-header.binlog", "15:1", 0);
}

static void test_mysql_5_7_and_8_0_statement_binlogs(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/mysql-5.7.11-stm-temporal-round-binlog.000001",
                   "2:2 3:1 5:1 15:1 16:1 34:1 35:1", 0);
    assert_decodes("mariadb-test-data/mysql-8.0.13-stm-temporal-round-binlog.000001",
                   "2:4 3:1 5:2 15:1 16:2 34:2 35:1", 0);
}

static void test_google_5_1_standard_header_decodes(void **state)
{
    (void)state;
    assert_decodes("mariadb-test-data/mdev-4645-binlog_none.binlog", "2:3 15:1", 0);
}

/* ---- broken on purpose, or formats we refuse ---- */

static void test_trunc_binlog_is_start_v3(void **state)
{
    (void)state;
    assert_fails("mariadb-test-data/trunc_binlog.000001", TF_MALFORMED,
                 "at offset 4: START_V3 event: binlog format v1-3 (MySQL 4.x / early 5.0) is not "
                 "supported; only v4 binlogs that begin with FORMAT_DESCRIPTION");
}

static void test_old_4x_binlogs_are_refused(void **state)
{
    (void)state;
    const char *msg = "at offset 4: START_V3 event: binlog format v1-3 (MySQL 4.x / early 5.0) is "
                      "not supported; only v4 binlogs that begin with FORMAT_DESCRIPTION";
    assert_fails("mariadb-test-data/binlog_old_version_4_1.000001", TF_MALFORMED, msg);
    assert_fails("mariadb-test-data/bug47142_master-bin.000001", TF_MALFORMED, msg);
    assert_fails("mariadb-test-data/master-bin.000001", TF_MALFORMED, msg);
}

static void test_event_size_past_end_of_file(void **state)
{
    (void)state;
    assert_fails("mariadb-test-data/bug11747416_32228_binlog.000001", TF_NEED_MORE,
                 "at offset 316: WRITE_ROWS_V1 event: event size is 65567 bytes but only 7876 "
                 "are there (truncated)");
}

static void test_corrupt_mariadb_gtid_is_checksum_mismatch(void **state)
{
    (void)state;
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture("mariadb-test-data/mdev-39404-binlog.000001", res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    assert_int_equal(res->status, TF_MALFORMED);
    assert_int_equal(res->err.domain, TF_ERR_PROTOCOL);
    assert_non_null(strstr(res->err.message, "MARIADB_GTID event: checksum mismatch"));
    assert_true(strncmp(res->err.message, "at offset ", 10) == 0);
    free(res);
}

static void test_non_standard_header_lengths_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        unsigned len;
    } cases[] = {{"mariadb-test-data/mdev-4645-binlog_checksum.binlog", 23},
                 {"mariadb-test-data/mdev-4645-binlog_group_id.binlog", 27},
                 {"mariadb-test-data/mdev-4645-binlog_group_id_checksum.binlog", 31}};
    for (size_t i = 0; i < 3; i++) {
        char expected[512];
        snprintf(expected, sizeof expected,
                 "at offset 4: FORMAT_DESCRIPTION event: common header length %u is not the "
                 "standard 19 bytes (a non-standard server build such as MySQL 5.1 with Google's "
                 "group id or checksum patches, server version '5.1.63-google-debug-log'); not "
                 "supported",
                 cases[i].len);
        assert_fails(cases[i].file, TF_MALFORMED, expected);
    }
}

static void test_encrypted_mariadb_binlog_is_refused(void **state)
{
    (void)state;
    file_result *res = calloc(1, sizeof *res);
    if (!decode_fixture("mariadb-test-data/binlog_before_20574.bin", res)) {
        free(res);
        skip();
        return; /* skip() jumps away; the compiler does not know it */
    }
    assert_int_equal(res->status, TF_MALFORMED);
    assert_int_equal(res->err.domain, TF_ERR_UNSUPPORTED);
    assert_non_null(strstr(res->err.message, "MARIADB_START_ENCRYPTION event: this MariaDB binlog "
                                             "file is encrypted"));
    free(res);
}

static void test_pre_ga_5_1_binlogs_are_refused(void **state)
{
    (void)state;
    assert_fails("mariadb-test-data/bug32407.001", TF_MALFORMED,
                 "at offset 4: FORMAT_DESCRIPTION event: binlog written by MySQL "
                 "5.1.15-ndb-6.1.24-debug-log; versions 5.1.0-5.1.17 wrote pre-GA row events and "
                 "table maps, which are not supported");
    assert_fails("mariadb-test-data/ver_5_1-telco.001", TF_MALFORMED,
                 "at offset 4: FORMAT_DESCRIPTION event: binlog written by MySQL "
                 "5.1.15-ndb-6.1.24-debug-log; versions 5.1.0-5.1.17 wrote pre-GA row events and "
                 "table maps, which are not supported");
    assert_fails("mariadb-test-data/ver_5_1_17.001", TF_MALFORMED,
                 "at offset 4: FORMAT_DESCRIPTION event: binlog written by MySQL "
                 "5.1.17-beta-debug-log; versions 5.1.0-5.1.17 wrote pre-GA row events and "
                 "table maps, which are not supported");
}

static void test_invalid_rows_v2_extra_info(void **state)
{
    (void)state;
    assert_fails("mariadb-test-data/invalid_row_v2_tag.001", TF_MALFORMED,
                 "at offset 256: WRITE_ROWS_V2 event: NDB extra row info length needs 1 bytes at "
                 "offset 30 but only 0 remain");
}

/* Returns the first event of `kind` in a fixture (buffer kept in *file). */
static bool first_event_of_kind(const char *relative, tf_event_kind kind, uint8_t **file,
                                tf_event *ev)
{
    char path[1024];
    if (!tf_test_fixture(relative, path, sizeof path))
        return false;
    size_t len;
    *file = tf_test_read_file(path, &len);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, *file, len, &err), TF_OK);
    do
        assert_int_equal(tf_binlog_reader_next(&r, ev, &err), TF_OK);
    while (ev->kind != kind);
    return true;
}

/* Expected values as published by rust_mysql_common's own test of this file
 * (gtid_tagged_log_event_from_binlog): tag "mytag", gno 3; previous GTIDs
 * 5577...:1-13 and 5577...:mytag:1-2. */
static void test_mysql_9_tagged_gtid_and_previous_gtids(void **state)
{
    (void)state;
    static const uint8_t sid[16] = {0x55, 0x77, 0x89, 0x04, 0x02, 0x99, 0x11, 0xf1,
                                    0xb1, 0xb8, 0x4e, 0xf0, 0xc4, 0x95, 0x6f, 0xeb};
    uint8_t *file;
    tf_event ev;
    if (!first_event_of_kind("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
                             TF_EVENT_GTID, &file, &ev))
        skip();
    assert_int_equal(ev.header.type, TF_EV_GTID_TAGGED_LOG);
    assert_string_equal(ev.gtid.tag, "mytag");
    assert_int_equal(ev.gtid.gno, 3);
    assert_memory_equal(ev.gtid.sid, sid, 16);
    assert_true(ev.gtid.has_server_versions);
    assert_int_equal(ev.gtid.immediate_server_version, 90600); /* FDE says 9.6.0 */
    free(file);

    assert_true(first_event_of_kind("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001",
                                    TF_EVENT_PREVIOUS_GTIDS, &file, &ev));
    assert_true(ev.previous_gtids.tagged);
    assert_int_equal(ev.previous_gtids.sid_count, 2);
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(
        tf_gtid_set_decode_binary(ev.previous_gtids.data, ev.previous_gtids.data_len, &set, &err),
        TF_OK);
    char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_MYSQL);
    assert_non_null(strstr(text, "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13"));
    assert_non_null(strstr(text, "mytag:1-2"));
    free(text);
    tf_gtid_set_destroy(set);
    free(file);
}

static void test_mysql_8_gtid_fields(void **state)
{
    (void)state;
    uint8_t *file;
    tf_event ev;
    if (!first_event_of_kind("rust_mysql_common/binlog-invisible-columns.000001", TF_EVENT_GTID,
                             &file, &ev))
        skip();
    assert_int_equal(ev.header.type, TF_EV_GTID);
    assert_int_equal(ev.gtid.gno, 1);
    assert_true(ev.gtid.has_logical_clock);
    assert_int_equal(ev.gtid.last_committed, 0);
    assert_int_equal(ev.gtid.sequence_number, 1);
    assert_true(ev.gtid.has_commit_timestamps);
    /* Commit timestamps are microseconds; the event header's timestamp is
     * the same moment in seconds. */
    assert_int_equal(ev.gtid.immediate_commit_timestamp / 1000000, ev.header.timestamp);
    assert_int_equal(ev.gtid.original_commit_timestamp, ev.gtid.immediate_commit_timestamp);
    assert_true(ev.gtid.has_transaction_length);
    assert_true(ev.gtid.has_server_versions);
    assert_int_equal(ev.gtid.immediate_server_version, 80026); /* FDE says 8.0.26 */
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql_cdc_query),
        cmocka_unit_test(test_mysql_cdc_query_bigger),
        cmocka_unit_test(test_mysql_cdc_write_rows),
        cmocka_unit_test(test_mysql_cdc_update_rows),
        cmocka_unit_test(test_mysql_cdc_delete_rows),
        cmocka_unit_test(test_mysql_cdc_folder_files),
        cmocka_unit_test(test_rust_invisible_columns),
        cmocka_unit_test(test_rust_previous_gtid_no_tag),
        cmocka_unit_test(test_rust_gtid_tag),
        cmocka_unit_test(test_rust_json_opaque),
        cmocka_unit_test(test_rust_json_partial_update),
        cmocka_unit_test(test_rust_minimal_row_metadata),
        cmocka_unit_test(test_rust_enum_string_set),
        cmocka_unit_test(test_rust_bit),
        cmocka_unit_test(test_rust_time_issue),
        cmocka_unit_test(test_rust_transaction_compression),
        cmocka_unit_test(test_rust_vector),
        cmocka_unit_test(test_mysql_9_tagged_gtid_and_previous_gtids),
        cmocka_unit_test(test_mysql_8_gtid_fields),
        cmocka_unit_test(test_rust_mariadb),
        cmocka_unit_test(test_mariadb_mdev6020_all_7754_events),
        cmocka_unit_test(test_mariadb_seq_10_3),
        cmocka_unit_test(test_mariadb_mdev29078),
        cmocka_unit_test(test_mariadb_5_5),
        cmocka_unit_test(test_mariadb_binlog_header_only),
        cmocka_unit_test(test_mysql_5_7_and_8_0_statement_binlogs),
        cmocka_unit_test(test_google_5_1_standard_header_decodes),
        cmocka_unit_test(test_trunc_binlog_is_start_v3),
        cmocka_unit_test(test_old_4x_binlogs_are_refused),
        cmocka_unit_test(test_event_size_past_end_of_file),
        cmocka_unit_test(test_corrupt_mariadb_gtid_is_checksum_mismatch),
        cmocka_unit_test(test_non_standard_header_lengths_are_refused),
        cmocka_unit_test(test_encrypted_mariadb_binlog_is_refused),
        cmocka_unit_test(test_pre_ga_5_1_binlogs_are_refused),
        cmocka_unit_test(test_invalid_rows_v2_extra_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
