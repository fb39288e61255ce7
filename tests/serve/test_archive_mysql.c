/* test_archive_mysql.c — the relay's archive over real MySQL 8 / 9 binlogs
 * (../shared/fixtures; skipped when absent): PREVIOUS_GTIDS written after
 * the FDE in the server's own encoding, untagged and tagged GTIDs,
 * ANONYMOUS_GTID + TRANSACTION_PAYLOAD as one transaction, and a torn
 * tail cut at every offset. */
#include "support.h"

#include <stdio.h>
#include <string.h>

/* Loads a fixture into src; false (the test then skips) without them. */
static bool load_fixture(src_binlog *src, const char *relative)
{
    char path[512];
    if (!fixture_path(relative, path, sizeof path))
        return false;
    src_binlog_load(src, path);
    return true;
}

/* MySQL 8.0.28: PREVIOUS_GTIDS empty, then five GTIDs of one uuid (two
 * DDL, three BEGIN .. XID). Nothing of the file is left out, so the
 * archive is as long as the source. */
static void test_mysql_round_trip_with_gtids(void **state)
{
    (void)state;
    src_binlog src;
    if (!load_fixture(&src, "rust_mysql_common/mysql-enum-string-set.000001"))
        skip();
    assert_int_equal(src.flavour, TF_FLAVOUR_MYSQL);
    assert_string_equal(src.start_gtid, "");
    assert_int_equal(src.txn_count, 5);
    char want[256];
    src_gtid_after(&src, src.txn_count, want, sizeof want);
    assert_string_equal(want, "93e95066-a2f4-11ec-9b69-9657f0ae95e2:1-5");
    assert_int_equal(check_archive_round_trip(&src), 3331);
    src_binlog_cleanup(&src);
}

/* MySQL 9.6.0: a tagged PREVIOUS_GTIDS (uuid:1-13:mytag:1-2) and one
 * GTID_TAGGED_LOG transaction (mytag:3). */
static void test_mysql_round_trip_with_tagged_gtid(void **state)
{
    (void)state;
    src_binlog src;
    if (!load_fixture(&src, "rust_mysql_common/binlog_transaction_with_GTID_TAG.000001"))
        skip();
    assert_string_equal(src.start_gtid, "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-2");
    assert_int_equal(src.txn_count, 1);
    char want[256];
    src_gtid_after(&src, src.txn_count, want, sizeof want);
    assert_string_equal(want, "55778904-0299-11f1-b1b8-4ef0c4956feb:1-13:mytag:1-3");
    /* 585 bytes but for the ROTATE (44) */
    assert_int_equal(check_archive_round_trip(&src), 541);
    src_binlog_cleanup(&src);
}

/* MySQL 8.0.32 with binlog_transaction_compression: ANONYMOUS_GTID and a
 * zstd TRANSACTION_PAYLOAD make the whole transaction; no GTID is added. */
static void test_mysql_round_trip_with_compressed_payload(void **state)
{
    (void)state;
    src_binlog src;
    if (!load_fixture(&src, "rust_mysql_common/transaction_compression.000001"))
        skip();
    assert_string_equal(src.start_gtid, "357df524-4139-11ee-9979-b033ee13919e:1");
    assert_int_equal(src.txn_count, 1);
    assert_int_equal(src.txns[0].count, 2);
    assert_false(src.txns[0].has_gtid);
    assert_int_equal(check_archive_round_trip(&src), 431);
    src_binlog_cleanup(&src);
}

/* Every cut within the last two transactions (GTIDs 4 and 5). */
static void test_mysql_torn_tail_cut_at_every_offset(void **state)
{
    (void)state;
    src_binlog src;
    if (!load_fixture(&src, "rust_mysql_common/mysql-enum-string-set.000001"))
        skip();
    check_archive_torn_tail_every_offset(&src);
    src_binlog_cleanup(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql_round_trip_with_gtids),
        cmocka_unit_test(test_mysql_round_trip_with_tagged_gtid),
        cmocka_unit_test(test_mysql_round_trip_with_compressed_payload),
        cmocka_unit_test(test_mysql_torn_tail_cut_at_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
