/* test_gtid_mariadb.c — MariaDB GTIDs and positions: GTID_LIST bodies of
 * real MariaDB binlogs, text, update and comparison. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GTID_LIST_EVENT 163
#define EVENT_HEADER_LEN 19

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Finds the GTID_LIST event of a binlog file (a walk over v4 headers) and
 * builds a position from its entries: count (low 28 bits) then count x
 * {domain 4, server 4, seq 8}, in the order the server wrote them. */
static bool position_from_gtid_list(const char *path, tf_mariadb_gtid_pos *pos,
                                    uint32_t *entry_count)
{
    size_t len;
    uint8_t *file = tf_test_read_file(path, &len);
    if (!file)
        return false;
    size_t at = 4;
    while (at + EVENT_HEADER_LEN <= len) {
        uint32_t size = le32(file + at + 9);
        assert_true(size >= EVENT_HEADER_LEN && at + size <= len);
        if (file[at + 4] == GTID_LIST_EVENT) {
            const uint8_t *body = file + at + EVENT_HEADER_LEN;
            uint32_t count = le32(body) & 0x0fffffffu;
            assert_true(4 + (size_t)count * 16 <= size - EVENT_HEADER_LEN);
            tf_mariadb_gtid *list = calloc(count ? count : 1, sizeof *list);
            for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = body + 4 + 16 * (size_t)i;
                list[i].domain_id = le32(e);
                list[i].server_id = le32(e + 4);
                list[i].seq_no = le64(e + 8);
            }
            assert_true(tf_mariadb_gtid_pos_from_list(pos, list, count));
            *entry_count = count;
            free(list);
            free(file);
            return true;
        }
        at += size;
    }
    free(file);
    fail_msg("%s has no GTID_LIST event", path);
    return false;
}

static void assert_pos_text(const tf_mariadb_gtid_pos *pos, const char *expected)
{
    char buf[512];
    size_t n = tf_mariadb_gtid_pos_format(pos, buf, sizeof buf);
    assert_string_equal(buf, expected);
    assert_int_equal(n, strlen(expected));
}

/* A MariaDB 10.11.19 binlog (tests/vectors/gtid/, written by a throwaway
 * server for this test) after transactions in domains 0, 1, 2 and
 * 4294967295 from server ids 7 and 9, then FLUSH BINARY LOGS. Its GTID_LIST
 * holds the binlog state; the server said at that moment
 *   @@gtid_binlog_state = 0-7-3,0-9-4,1-7-2,1-9-3,2-7-1000,
 *                         4294967295-4294967295-18446744073709551615
 *   @@gtid_binlog_pos   = 0-9-4,1-9-3,2-7-1000,
 *                         4294967295-4294967295-18446744073709551615
 * so keeping the last GTID of each domain must give @@gtid_binlog_pos. */
static void test_gtid_list_of_local_mariadb_gives_binlog_pos(void **state)
{
    (void)state;
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    uint32_t count = 0;
    assert_true(position_from_gtid_list(TF_VECTORS_DIR "/gtid/mariadb-10.11-gtid-list.000002", &pos,
                                        &count));
    assert_int_equal(count, 6);
    assert_pos_text(&pos, "0-9-4,1-9-3,2-7-1000,4294967295-4294967295-18446744073709551615");
    tf_mariadb_gtid_pos expected;
    tf_mariadb_gtid_pos_init(&expected);
    static const char text[] = "0-9-4,1-9-3,2-7-1000,4294967295-4294967295-18446744073709551615";
    tf_error err = {0};
    assert_int_equal(tf_mariadb_gtid_pos_parse(text, strlen(text), &expected, &err), TF_OK);
    assert_true(tf_mariadb_gtid_pos_equal(&pos, &expected));
    tf_mariadb_gtid_pos_cleanup(&expected);
    tf_mariadb_gtid_pos_cleanup(&pos);
}

static void test_gtid_list_empty_in_fixtures(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "rust_mysql_common/mariadb-bin.000001",
        "mariadb-test-data/master-bin-seq_10.3.36.000001",
        "mariadb-test-data/mdev29078-mysql-bin.000001",
        "mariadb-test-data/mdev6020-mysql-bin.000001",
    };
    for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
        char path[512];
        if (!tf_test_fixture(fixtures[i], path, sizeof path)) {
            skip();
            return;
        }
        tf_mariadb_gtid_pos pos;
        tf_mariadb_gtid_pos_init(&pos);
        uint32_t count = 99;
        assert_true(position_from_gtid_list(path, &pos, &count));
        assert_int_equal(count, 0);
        assert_pos_text(&pos, "");
        tf_mariadb_gtid_pos_cleanup(&pos);
    }
}

/* Replays the MARIA_GTID events (type 162) of a real binlog: seq_no is the
 * body's first 8 bytes, domain the next 4, server id the header's.
 * mariadb-binlog 10.11 prints this file's GTIDs as 0-1-1, 0-1-100, 0-1-101
 * and 0-1-102 (seq_no jumps: the test set gtid_seq_no), so the position
 * after the last one is 0-1-102. */
static void test_update_replays_fixture_gtid_events(void **state)
{
    (void)state;
    char path[512];
    if (!tf_test_fixture("mariadb-test-data/master-bin-seq_10.3.36.000001", path, sizeof path)) {
        skip();
        return;
    }
    size_t len;
    uint8_t *file = tf_test_read_file(path, &len);
    assert_non_null(file);
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    size_t at = 4;
    int seen = 0;
    while (at + EVENT_HEADER_LEN <= len) {
        uint32_t size = le32(file + at + 9);
        if (file[at + 4] == 162) {
            const uint8_t *body = file + at + EVENT_HEADER_LEN;
            tf_mariadb_gtid g = {.domain_id = le32(body + 8),
                                 .server_id = le32(file + at + 5),
                                 .seq_no = le64(body)};
            assert_false(tf_mariadb_gtid_pos_contains(&pos, &g));
            assert_true(tf_mariadb_gtid_pos_update(&pos, &g));
            assert_true(tf_mariadb_gtid_pos_contains(&pos, &g));
            seen++;
        }
        at += size;
    }
    assert_int_equal(seen, 4);
    assert_pos_text(&pos, "0-1-102");
    tf_mariadb_gtid_pos_cleanup(&pos);
    free(file);
}

static void test_parse_and_format_round_trip(void **state)
{
    (void)state;
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    tf_error err = {0};
    static const char text[] = " 1-2-5 , 0-1-100,\n10-3-0";
    assert_int_equal(tf_mariadb_gtid_pos_parse(text, strlen(text), &pos, &err), TF_OK);
    assert_int_equal(pos.count, 3);
    assert_pos_text(&pos, "0-1-100,1-2-5,10-3-0");
    assert_int_equal(tf_mariadb_gtid_pos_find(&pos, 1)->seq_no, 5);
    assert_null(tf_mariadb_gtid_pos_find(&pos, 2));
    char small[8];
    assert_int_equal(tf_mariadb_gtid_pos_format(&pos, small, sizeof small), 20);
    assert_string_equal(small, "0-1-100");
    assert_int_equal(tf_mariadb_gtid_pos_parse("", 0, &pos, &err), TF_OK);
    assert_int_equal(pos.count, 0);
    assert_pos_text(&pos, "");
    tf_mariadb_gtid_pos_cleanup(&pos);

    tf_mariadb_gtid g;
    char buf[64];
    assert_int_equal(tf_mariadb_gtid_parse("0-1-18446744073709551615", 24, &g, &err), TF_OK);
    assert_int_equal(g.seq_no, UINT64_MAX);
    assert_int_equal(tf_mariadb_gtid_format(&g, buf, sizeof buf), 24);
    assert_string_equal(buf, "0-1-18446744073709551615");
}

static void assert_pos_error(const char *text, const char *expected)
{
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    tf_mariadb_gtid keep = {7, 7, 7};
    assert_true(tf_mariadb_gtid_pos_update(&pos, &keep));
    tf_error err = {0};
    assert_int_equal(tf_mariadb_gtid_pos_parse(text, strlen(text), &pos, &err), TF_MALFORMED);
    assert_string_equal(err.message, expected);
    assert_pos_text(&pos, "7-7-7"); /* unchanged on error */
    tf_mariadb_gtid_pos_cleanup(&pos);
}

static void test_parse_errors_name_the_column(void **state)
{
    (void)state;
    assert_pos_error("0-1-5,0-2-6", "MariaDB GTID position: domain 0 appears twice (0-1-5 and "
                                    "0-2-6); a position holds one GTID per domain at column 7");
    assert_pos_error("0-1", "MariaDB GTID position: expected '-' after the server id, found "
                            "the end of the text at column 4");
    assert_pos_error("0-1-", "MariaDB GTID position: expected a sequence number, found the "
                             "end of the text at column 5");
    assert_pos_error("a-1-1", "MariaDB GTID position: expected a domain id, found 'a' at "
                              "column 1");
    assert_pos_error("4294967296-1-1", "MariaDB GTID position: domain id exceeds 4294967295 "
                                       "at column 1");
    assert_pos_error("0-4294967296-1", "MariaDB GTID position: server id exceeds 4294967295 "
                                       "at column 3");
    assert_pos_error("0-1-18446744073709551616", "MariaDB GTID position: sequence number "
                                                 "exceeds 18446744073709551615 at column 5");
    assert_pos_error("0-1-1,", "MariaDB GTID position: expected a GTID after ',', found the "
                               "end of the text at column 7");
    assert_pos_error("0-1-1;1-1-1", "MariaDB GTID position: expected ',', found ';' at "
                                    "column 6");
    assert_pos_error("0-1-1 1-1-1", "MariaDB GTID position: expected ',', found '1' at "
                                    "column 7");
    assert_pos_error("0--1-1", "MariaDB GTID position: expected a server id, found '-' at "
                               "column 3");
    tf_mariadb_gtid g;
    tf_error err = {0};
    assert_int_equal(tf_mariadb_gtid_parse("0-1-2,1-1-1", 11, &g, &err), TF_MALFORMED);
    assert_string_equal(err.message, "MariaDB GTID: expected the end of the GTID, found ',' at "
                                     "column 6");
}

static void test_update_replaces_domain_entry(void **state)
{
    (void)state;
    tf_mariadb_gtid_pos pos;
    tf_mariadb_gtid_pos_init(&pos);
    tf_mariadb_gtid a = {0, 1, 100}, b = {1, 2, 5}, c = {0, 3, 101};
    assert_true(tf_mariadb_gtid_pos_update(&pos, &b));
    assert_true(tf_mariadb_gtid_pos_update(&pos, &a));
    assert_pos_text(&pos, "0-1-100,1-2-5");
    assert_true(tf_mariadb_gtid_pos_update(&pos, &c)); /* new server after failover */
    assert_pos_text(&pos, "0-3-101,1-2-5");
    /* from_list: later entries of a domain win, as in GTID_LIST. */
    tf_mariadb_gtid list[] = {{1, 7, 2}, {1, 9, 3}, {0, 7, 3}, {0, 9, 4}};
    assert_true(tf_mariadb_gtid_pos_from_list(&pos, list, 4));
    assert_pos_text(&pos, "0-9-4,1-9-3");
    tf_mariadb_gtid_pos copy;
    tf_mariadb_gtid_pos_init(&copy);
    assert_true(tf_mariadb_gtid_pos_copy(&copy, &pos));
    assert_true(tf_mariadb_gtid_pos_equal(&copy, &pos));
    tf_mariadb_gtid_pos_cleanup(&copy);
    tf_mariadb_gtid_pos_cleanup(&pos);
}

static void test_contains_covers_equal(void **state)
{
    (void)state;
    tf_mariadb_gtid_pos ours, server;
    tf_mariadb_gtid_pos_init(&ours);
    tf_mariadb_gtid_pos_init(&server);
    tf_error err = {0};
    assert_int_equal(tf_mariadb_gtid_pos_parse("0-1-100,1-2-5", 13, &ours, &err), TF_OK);
    assert_int_equal(tf_mariadb_gtid_pos_parse("0-1-90", 6, &server, &err), TF_OK);
    tf_mariadb_gtid applied = {0, 1, 100}, next = {0, 1, 101}, other = {2, 1, 1};
    tf_mariadb_gtid older_other_server = {0, 9, 50};
    assert_true(tf_mariadb_gtid_pos_contains(&ours, &applied));
    assert_true(tf_mariadb_gtid_pos_contains(&ours, &older_other_server));
    assert_false(tf_mariadb_gtid_pos_contains(&ours, &next));
    assert_false(tf_mariadb_gtid_pos_contains(&ours, &other));
    assert_true(tf_mariadb_gtid_pos_covers(&ours, &server));
    assert_false(tf_mariadb_gtid_pos_covers(&server, &ours));
    assert_false(tf_mariadb_gtid_pos_equal(&server, &ours));
    tf_mariadb_gtid_pos empty;
    tf_mariadb_gtid_pos_init(&empty);
    assert_true(tf_mariadb_gtid_pos_covers(&ours, &empty));
    assert_true(tf_mariadb_gtid_pos_covers(&empty, &empty));
    assert_true(tf_mariadb_gtid_pos_equal(&empty, &empty));
    /* Same seq_no from another server is a different GTID. */
    assert_int_equal(tf_mariadb_gtid_pos_parse("0-2-100,1-2-5", 13, &server, &err), TF_OK);
    assert_false(tf_mariadb_gtid_pos_equal(&server, &ours));
    tf_mariadb_gtid_pos_cleanup(&ours);
    tf_mariadb_gtid_pos_cleanup(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gtid_list_of_local_mariadb_gives_binlog_pos),
        cmocka_unit_test(test_gtid_list_empty_in_fixtures),
        cmocka_unit_test(test_update_replays_fixture_gtid_events),
        cmocka_unit_test(test_parse_and_format_round_trip),
        cmocka_unit_test(test_parse_errors_name_the_column),
        cmocka_unit_test(test_update_replaces_domain_entry),
        cmocka_unit_test(test_contains_covers_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
