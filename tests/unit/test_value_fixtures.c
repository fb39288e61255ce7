/* test_value_fixtures.c — values of the real MySQL 8/9 binlog files in
 * ../shared/fixtures, decoded through the events layer's rows cursor and
 * shown with tf_value_to_text, against what the SQL that produced them
 * says (mysql-cdc-rs sql.sql) or what rust_mysql_common's own binlog test
 * asserts for the same file. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows of a fixture as "v1|v2|..." (after image, or before image for
 * deletes; NULL as "NULL"), in file order. */
static size_t fixture_texts(const char *fixture, char rows[][1024], size_t cap, bool *skipped)
{
    char path[512];
    *skipped = !tf_test_fixture(fixture, path, sizeof path);
    if (*skipped)
        return 0;
    size_t len, n = 0;
    uint8_t *file = tf_test_read_file(path, &len);
    assert_non_null(file);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, file, len, &err), TF_OK);
    tf_table_maps *maps = tf_table_maps_new();
    tf_value before[32], after[32];
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &err) != TF_OK)
            fail_msg("%s: %s", fixture, err.message);
        if (ev.kind == TF_EVENT_TABLE_MAP)
            assert_int_equal(tf_table_maps_add_event(maps, &ev, &err), TF_OK);
        if (ev.kind != TF_EVENT_ROWS)
            continue;
        const tf_table_map *map;
        assert_int_equal(tf_table_maps_find(maps, &ev, &map, &err), TF_OK);
        tf_rows_cursor cur;
        assert_int_equal(tf_rows_begin(&cur, &ev, map, &err), TF_OK);
        while (tf_rows_has_next(&cur) && n < cap) {
            if (tf_rows_next(&cur, before, after, &err) != TF_OK)
                fail_msg("%s: %s", fixture, err.message);
            const tf_value *image = ev.rows.kind == TF_ROWS_DELETE ? before : after;
            char *out = rows[n++];
            out[0] = '\0';
            for (uint32_t c = 0; c < map->column_count; c++) {
                size_t tlen;
                char *text = tf_value_to_text(&image[c], &map->columns[c], &tlen, &err);
                snprintf(out + strlen(out), 1024 - strlen(out), "%s%.*s", c ? "|" : "",
                         (int)(text ? tlen : 4), text ? text : "NULL");
                bson_free(text);
            }
        }
        tf_rows_cleanup(&cur);
    }
    tf_table_maps_destroy(maps);
    free(file);
    return n;
}

static char rows[64][1024];

static void test_decimal_columns_of_mysql_8_0_31(void **state)
{
    (void)state;
    bool skipped;
    /* INSERT INTO LINEITEM VALUES (1234567890111, 1235111, 13711, 888878711,
     *   99.911, 76.11, 888.1, 109.1, 'code', 'Y', '1990-08-01 12:13:16',
     *   '1990-06-01 12:13:16', '1990-01-01 12:13:16', 'test@test.com',
     *   'test', 'com') into decimal(12,3), (13,2), (10,1), (12,1) and DATE */
    size_t n = fixture_texts("mysql-cdc-rs/02_query_bigger/binlog.000733", rows, 64, &skipped);
    if (skipped)
        skip();
    assert_true(n >= 3);
    assert_string_equal(rows[0], "1234567890111|1235111|13711|888878711|99.911|76.11|888.1|109.1|"
                                 "code|Y|1990-08-01|1990-06-01|1990-01-01|test@test.com|test|com");
    assert_string_equal(rows[2], "12345678909877|12356790|13789|888878788|99.997|76.88|888.1|109.8|"
                                 "code|Y|1990-08-01|1990-06-01|1990-01-01|test@test.com|test|com");
}

static void test_decimal_of_mysql_9_6_tagged_gtid_file(void **state)
{
    (void)state;
    bool skipped;
    size_t n = fixture_texts("rust_mysql_common/binlog_transaction_with_GTID_TAG.000001", rows, 64,
                             &skipped);
    if (skipped)
        skip();
    assert_int_equal(n, 1);
    assert_string_equal(rows[0], "3|100|250.00");
}

static void test_negative_time2_of_mysql_8_0_40(void **state)
{
    (void)state;
    bool skipped;
    /* rust_mysql_common asserts Time(negative, 21 days, 3 h, 48 min, 27 s). */
    size_t n = fixture_texts("rust_mysql_common/time_issue.000001", rows, 64, &skipped);
    if (skipped)
        skip();
    assert_int_equal(n, 1);
    assert_string_equal(rows[0], "-507:48:27");
}

static void test_bit_columns_of_mysql_8_0_26(void **state)
{
    (void)state;
    bool skipped;
    /* rust_mysql_common asserts Bytes([0b100]), "foo", Bytes([0b100000]). */
    size_t n = fixture_texts("rust_mysql_common/mysql_type_bit.000001", rows, 64, &skipped);
    if (skipped)
        skip();
    assert_int_equal(n, 1);
    assert_string_equal(rows[0], "\x04|foo| ");
}

static void test_enum_set_and_long_strings_of_mysql_8_0_28(void **state)
{
    (void)state;
    bool skipped;
    /* rust_mysql_common asserts for the insert: 100-char string, 260-char
     * string, enum index 1, set bits 0b101, "0123456789"; for the delete:
     * "field1", "field_2", index 2, bits 0b1010, the 260-char string. */
    size_t n = fixture_texts("rust_mysql_common/mysql-enum-string-set.000001", rows, 64, &skipped);
    if (skipped)
        skip();
    assert_int_equal(n, 3);
    /* The strings exactly as that test spells them. */
    static const char s100[] = "0123456789012345678901234567890123456789012345678901234567890123456"
                               "789012345678901234567890123456789";
    static const char s260[] =
        "012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789012345678012345678901234567890123456789012345678901234567890"
        "123456789012345678901234567890123456789012345678901234567890123456789012345678012345678901"
        "2345678901234567890123456789";
    char expected[1024];
    /* ENUM index 1 and SET bits 0b101 / index 2 and 0b1010, named through
     * the table map's ENUM_STR_VALUE / SET_STR_VALUE metadata. */
    snprintf(expected, sizeof expected, "%s|%s|var1|one,three|0123456789", s100, s260);
    assert_string_equal(rows[0], expected);
    snprintf(expected, sizeof expected, "field1|field_2|variant2|two,four|%s", s260);
    assert_string_equal(rows[2], expected);
}

static void test_vector_of_mysql_9_0(void **state)
{
    (void)state;
    bool skipped;
    /* rust_mysql_common asserts the bytes cd cc 8c 3f cd cc 0c 40 33 33 53
     * 40 (1.1, 2.2, 3.3 as float32) and 0 0 80 3f 0 0 80 bf 0 0 0 0. */
    size_t n = fixture_texts("rust_mysql_common/vector.binlog", rows, 64, &skipped);
    if (skipped)
        skip();
    assert_true(n >= 2);
    assert_string_equal(rows[0], "1|[1.1,2.2,3.3]");
    assert_string_equal(rows[1], "2|[1,-1,0]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal_columns_of_mysql_8_0_31),
        cmocka_unit_test(test_decimal_of_mysql_9_6_tagged_gtid_file),
        cmocka_unit_test(test_negative_time2_of_mysql_8_0_40),
        cmocka_unit_test(test_bit_columns_of_mysql_8_0_26),
        cmocka_unit_test(test_enum_set_and_long_strings_of_mysql_8_0_28),
        cmocka_unit_test(test_vector_of_mysql_9_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
