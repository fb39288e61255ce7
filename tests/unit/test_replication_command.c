/* test_replication_command.c — COM_REGISTER_SLAVE, COM_BINLOG_DUMP and
 * COM_BINLOG_DUMP_GTID payloads, byte for byte against what real replicas
 * sent (see tests/vectors/gtid/README.md for how they were captured). */
#include "support.h"

#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#define STR(s) ((tf_str){(s), sizeof(s) - 1})

/* Encodes with a buffer of exactly the right size and compares; also checks
 * that one byte less is TF_NEED_MORE with the size, writing nothing. */
typedef tf_status (*encoder)(const void *args, uint8_t *buf, size_t cap, size_t *len,
                             tf_error *err);

static tf_status enc_register(const void *a, uint8_t *b, size_t c, size_t *l, tf_error *e)
{
    return tf_com_register_slave_encode(a, b, c, l, e);
}
static tf_status enc_dump(const void *a, uint8_t *b, size_t c, size_t *l, tf_error *e)
{
    return tf_com_binlog_dump_encode(a, b, c, l, e);
}
static tf_status enc_dump_gtid(const void *a, uint8_t *b, size_t c, size_t *l, tf_error *e)
{
    return tf_com_binlog_dump_gtid_encode(a, b, c, l, e);
}

static void assert_encodes_to(encoder fn, const void *args, const char *expected_hex)
{
    size_t expected_len;
    uint8_t *expected = tf_test_hex(expected_hex, &expected_len);
    tf_error err = {0};
    size_t len = 0;
    assert_int_equal(fn(args, NULL, 0, &len, &err), TF_NEED_MORE);
    assert_int_equal(len, expected_len);
    uint8_t *buf = malloc(expected_len + 1);
    memset(buf, 0xee, expected_len + 1);
    assert_int_equal(fn(args, buf, expected_len - 1, &len, &err), TF_NEED_MORE);
    assert_int_equal(buf[0], 0xee);
    assert_int_equal(fn(args, buf, expected_len, &len, &err), TF_OK);
    assert_int_equal(len, expected_len);
    assert_memory_equal(buf, expected, expected_len);
    assert_int_equal(buf[expected_len], 0xee);
    free(buf);
    free(expected);
}

/* MariaDB 10.11.19 replica (server-id 2, report-host capture-replica.local,
 * report-user repl_report, report-password report-secret, report-port 33062)
 * registering with the local MariaDB; captured with tshark (packet header
 * 3f 00 00 00 stripped). The same bytes on every connect. */
static void test_register_slave_matches_mariadb_replica(void **state)
{
    (void)state;
    tf_register_slave args = {
        .server_id = 2,
        .hostname = STR("capture-replica.local"),
        .user = STR("repl_report"),
        .password = STR("report-secret"),
        .port = 33062,
        .replication_rank = 0,
        .master_id = 0,
    };
    assert_encodes_to(enc_register, &args,
                      "15 02000000 15 636170747572652d7265706c6963612e6c6f63616c"
                      "0b 7265706c5f7265706f7274 0d 7265706f72742d736563726574"
                      "2681 00000000 00000000");
}

static void test_register_slave_empty_strings(void **state)
{
    (void)state;
    /* A replica without report_* settings sends empty strings. */
    tf_register_slave args = {.server_id = 0x01020304, .port = 3306};
    assert_encodes_to(enc_register, &args, "15 04030201 00 00 00 ea0c 00000000 00000000");
}

static void test_register_slave_rejects_long_strings(void **state)
{
    (void)state;
    char host[256];
    memset(host, 'h', sizeof host);
    tf_register_slave args = {.server_id = 2, .hostname = {host, sizeof host}};
    uint8_t buf[512];
    size_t len = 0;
    tf_error err = {0};
    assert_int_equal(tf_com_register_slave_encode(&args, buf, sizeof buf, &len, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "COM_REGISTER_SLAVE: hostname is 256 bytes; its 1-byte "
                                     "length allows at most 255");
    args.hostname.len = 255;
    assert_int_equal(tf_com_register_slave_encode(&args, buf, sizeof buf, &len, &err), TF_OK);
    assert_int_equal(len, 1 + 4 + 1 + 255 + 1 + 1 + 2 + 4 + 4);
}

/* The same replica's first COM_BINLOG_DUMP with MASTER_USE_GTID=slave_pos
 * and an empty gtid_slave_pos: position 4, flags 0, no file name (header
 * 0b 00 00 00 stripped). */
static void test_binlog_dump_matches_mariadb_replica_first_connect(void **state)
{
    (void)state;
    tf_binlog_dump args = {.position = 4, .flags = 0, .server_id = 2, .file_name = STR("")};
    assert_encodes_to(enc_dump, &args, "12 04000000 0000 02000000");
}

/* After STOP SLAVE / START SLAVE (and with MASTER_USE_GTID=no) it sends
 * the file and position it had reached (header 1d 00 00 00 stripped). */
static void test_binlog_dump_matches_mariadb_replica_reconnect(void **state)
{
    (void)state;
    tf_binlog_dump args = {
        .position = 1233, .flags = 0, .server_id = 2, .file_name = STR("mariadb-bin.000001")};
    assert_encodes_to(enc_dump, &args,
                      "12 d1040000 0000 02000000 6d6172696164622d62696e2e303030303031");
}

/* The MariaDB documentation's example (COM_BINLOG_DUMP page of the
 * client/server protocol): "1b 00 00 00 12 34 06 00 00 02 00 75 27 00 00
 * 6d 79 73 71 6c 2d 62 69 6e 2e 30 30 30 30 33 34", position 1588, flags
 * BINLOG_SEND_ANNOTATE_ROWS_EVENT, server id 10101, mysql-bin.000034. */
static void test_binlog_dump_matches_mariadb_documentation(void **state)
{
    (void)state;
    tf_binlog_dump args = {.position = 1588,
                           .flags = TF_BINLOG_SEND_ANNOTATE_ROWS_EVENT,
                           .server_id = 10101,
                           .file_name = STR("mysql-bin.000034")};
    assert_encodes_to(enc_dump, &args,
                      "12 34060000 0200 75270000 6d7973716c2d62696e2e303030303334");
}

static void test_binlog_dump_non_block_flag(void **state)
{
    (void)state;
    tf_binlog_dump args = {.position = 0xfffffffe,
                           .flags = TF_BINLOG_DUMP_NON_BLOCK,
                           .server_id = 0xffffffff,
                           .file_name = STR("b.1")};
    assert_encodes_to(enc_dump, &args, "12 feffffff 0100 ffffffff 622e31");
}

/* A real MySQL 5.7 replica's COM_BINLOG_DUMP_GTID, published in
 * go-mysql-org/go-mysql issue #924 (the payload after the command byte):
 * flags 0, server id 0x7b33a68b, a 16-byte file name of zero bytes,
 * position 4, 88 bytes of GTID set. */
static void test_binlog_dump_gtid_matches_mysql_5_7_replica(void **state)
{
    (void)state;
    static const char text[] = "1544378b-b18f-11ed-8e37-e43d1a5e8000:1-1389643576,"
                               "63187044-960b-11ed-a2f4-5c6f692ea084:1-35384252";
    static const char zero_name[16] = {0};
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, strlen(text), &set, &err), TF_OK);
    tf_binlog_dump_gtid args = {.flags = 0,
                                .server_id = 0x7b33a68b,
                                .file_name = {zero_name, sizeof zero_name},
                                .position = 4,
                                .gtids = set};
    assert_encodes_to(enc_dump_gtid, &args,
                      "1e"
                      "0000 8ba6337b 10000000 00000000000000000000000000000000"
                      "0400000000000000 58000000"
                      "0200000000000000"
                      "1544378bb18f11ed8e37e43d1a5e8000 0100000000000000"
                      "0100000000000000 3947d45200000000"
                      "63187044960b11eda2f45c6f692ea084 0100000000000000"
                      "0100000000000000 bdeb1b0200000000");
    tf_gtid_set_destroy(set);
}

/* What tapflow sends: BINLOG_THROUGH_GTID, no file name, position 4; the
 * set from PREVIOUS_GTIDS of a MySQL 9.6 binlog (tagged encoding). The
 * data field must be exactly that event's body. */
static void test_binlog_dump_gtid_tagged_set_from_fixture(void **state)
{
    (void)state;
    static const char text[] = "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2";
    tf_gtid_set *set;
    tf_error err = {0};
    assert_int_equal(tf_gtid_set_parse(text, strlen(text), &set, &err), TF_OK);
    tf_binlog_dump_gtid args = {.flags = TF_BINLOG_THROUGH_GTID,
                                .server_id = 1001,
                                .file_name = STR(""),
                                .position = 4,
                                .gtids = set};
    /* Data: bytes 19..113 (95) of the PREVIOUS_GTIDS event at offset 127 of
     * rust_mysql_common/binlog_transaction_with_GTID_TAG.000001. */
    assert_encodes_to(enc_dump_gtid, &args,
                      "1e 0400 e9030000 00000000 0400000000000000 5f000000"
                      "0102000000000001"
                      "55778904029911f1b1b84ef0c4956feb 00 0100000000000000"
                      "0100000000000000 0e00000000000000"
                      "55778904029911f1b1b84ef0c4956feb 0a 6d79746167 0100000000000000"
                      "0100000000000000 0300000000000000");
    tf_gtid_set_destroy(set);
}

static void test_binlog_dump_gtid_null_set_is_empty_set(void **state)
{
    (void)state;
    tf_binlog_dump_gtid args = {.flags = TF_BINLOG_THROUGH_GTID | TF_BINLOG_DUMP_NON_BLOCK,
                                .server_id = 7,
                                .file_name = STR("binlog.000002"),
                                .position = 0x0102030405060708ull,
                                .gtids = NULL};
    assert_encodes_to(enc_dump_gtid, &args,
                      "1e 0500 07000000 0d000000 62696e6c6f672e303030303032"
                      "0807060504030201 08000000 0000000000000000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_slave_matches_mariadb_replica),
        cmocka_unit_test(test_register_slave_empty_strings),
        cmocka_unit_test(test_register_slave_rejects_long_strings),
        cmocka_unit_test(test_binlog_dump_matches_mariadb_replica_first_connect),
        cmocka_unit_test(test_binlog_dump_matches_mariadb_replica_reconnect),
        cmocka_unit_test(test_binlog_dump_matches_mariadb_documentation),
        cmocka_unit_test(test_binlog_dump_non_block_flag),
        cmocka_unit_test(test_binlog_dump_gtid_matches_mysql_5_7_replica),
        cmocka_unit_test(test_binlog_dump_gtid_tagged_set_from_fixture),
        cmocka_unit_test(test_binlog_dump_gtid_null_set_is_empty_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
