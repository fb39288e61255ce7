/* test_temporal.c — DATE / DATETIME2 / TIMESTAMP2 / TIME2 fields on MariaDB
 * 10.11 binlog bytes (value_vectors_mariadb.h, SQL in that header), the
 * instant conversion, and the pre-5.6 encodings. */
#include "support.h"

#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#include "value_vectors_mariadb.h"

static const mariadb_value_vector *find(const char *table, int id)
{
    for (size_t i = 0; i < sizeof mariadb_value_vectors / sizeof mariadb_value_vectors[0]; i++)
        if (strcmp(mariadb_value_vectors[i].table, table) == 0 && mariadb_value_vectors[i].id == id)
            return &mariadb_value_vectors[i];
    fail_msg("no vector %s %d", table, id);
    return NULL;
}

static tf_status decode(const char *table, int id, tf_value *val, tf_error *err)
{
    const mariadb_value_vector *v = find(table, id);
    tf_column col = {.type = v->type, .meta = v->meta};
    size_t len, used;
    uint8_t *buf = tf_test_hex(v->hex, &len);
    tf_status st = tf_value_decode(buf, len, &col, val, &used, err);
    free(buf);
    return st;
}

static void test_negative_time2_with_fraction_borrows_from_seconds(void **state)
{
    (void)state;
    /* TIME(3) '-12:34:56.7' is 7f 37 47 e4 a8: the fraction is stored as
     * its complement, so the integer part reads one second less. */
    tf_value v;
    assert_int_equal(decode("t_time3", 1, &v, NULL), TF_OK);
    assert_int_equal(v.kind, TF_VAL_TIME);
    assert_true(v.temporal.negative);
    assert_int_equal(v.temporal.hour, 12);
    assert_int_equal(v.temporal.minute, 34);
    assert_int_equal(v.temporal.second, 56);
    assert_int_equal(v.temporal.microsecond, 700000);
    /* TIME(6) '-00:00:00.000001' */
    assert_int_equal(decode("t_time6", 2, &v, NULL), TF_OK);
    assert_true(v.temporal.negative);
    assert_int_equal(v.temporal.second, 0);
    assert_int_equal(v.temporal.microsecond, 1);
    /* TIME '-838:59:59' */
    assert_int_equal(decode("t_time0", 1, &v, NULL), TF_OK);
    assert_true(v.temporal.negative);
    assert_int_equal(v.temporal.hour, 838);
}

static void test_datetime2_fields_and_fraction_per_precision(void **state)
{
    (void)state;
    static const uint32_t usec[] = {0, 100000, 120000, 123000, 123400, 123450, 123456};
    for (int fsp = 1; fsp <= 6; fsp++) {
        char table[32];
        snprintf(table, sizeof table, "t_datetime%d", fsp);
        tf_value v;
        assert_int_equal(decode(table, 1, &v, NULL), TF_OK);
        assert_int_equal(v.temporal.year, 2024);
        assert_int_equal(v.temporal.month, 1);
        assert_int_equal(v.temporal.day, 2);
        assert_int_equal(v.temporal.hour, 3);
        assert_int_equal(v.temporal.second, 5);
        assert_int_equal(v.temporal.microsecond, usec[fsp]);
        assert_int_equal(v.temporal.fsp, fsp);
    }
    tf_value v;
    assert_int_equal(decode("t_timestamp6", 2, &v, NULL), TF_OK);
    assert_int_equal(v.kind, TF_VAL_TIMESTAMP);
    assert_int_equal(v.timestamp.seconds, 2147483647);
    assert_int_equal(v.timestamp.microsecond, 999999);
}

static void test_out_of_range_fields_are_malformed(void **state)
{
    (void)state;
    /* 2024-01-02 03:04:05 is 99 b2 44 31 05; hour 25 (the 5-bit hour field
     * can say up to 31) is 22 << 12 more: 99 b2 45 91 05. */
    tf_column col = {.type = TF_TYPE_DATETIME2, .meta = 0};
    assert_string_equal(find("t_datetime0", 1)->hex, "99b2443105");
    static const uint8_t hour25[] = {0x99, 0xb2, 0x45, 0x91, 0x05};
    tf_value v;
    size_t used;
    tf_error err = {0};
    assert_int_equal(tf_value_decode(hour25, 5, &col, &v, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message, "DATETIME2 value: hour 25 out of range at offset 0");
    static const uint8_t negative[] = {0x19, 0xb2, 0x44, 0x31, 0x05};
    assert_int_equal(tf_value_decode(negative, 5, &col, &v, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "DATETIME2 value: negative datetime (sign bit clear) at offset 0");
    /* fraction 0x64 = 100 hundredths */
    tf_column col2 = {.type = TF_TYPE_DATETIME2, .meta = 2};
    static const uint8_t frac[] = {0x99, 0xb2, 0x44, 0x31, 0x05, 0x64};
    assert_int_equal(tf_value_decode(frac, 6, &col2, &v, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message, "DATETIME2 value: fractional seconds 1000000 us is not below "
                                     "one second at offset 5");
}

static void test_instants_and_dates_that_name_none(void **state)
{
    (void)state;
    int64_t ms = 0;
    tf_temporal leap = {.year = 2024, .month = 2, .day = 29};
    assert_true(tf_temporal_to_unix_ms(&leap, &ms));
    assert_true(ms == 1709164800000ll);
    tf_temporal feb31 = {.year = 2020, .month = 2, .day = 31};
    assert_false(tf_temporal_to_unix_ms(&feb31, &ms));
    tf_temporal feb29_2023 = {.year = 2023, .month = 2, .day = 29};
    assert_false(tf_temporal_to_unix_ms(&feb29_2023, &ms));
    tf_temporal zero = {0};
    assert_false(tf_temporal_to_unix_ms(&zero, &ms));
    tf_temporal before_epoch = {.year = 1969,
                                .month = 12,
                                .day = 31,
                                .hour = 23,
                                .minute = 59,
                                .second = 59,
                                .microsecond = 999999};
    assert_true(tf_temporal_to_unix_ms(&before_epoch, &ms));
    assert_true(ms == -1);
    tf_temporal t;
    tf_timestamp_to_temporal(2147483647, 5, 6, &t);
    char text[40];
    tf_temporal_format(&t, TF_VAL_DATETIME, text, sizeof text);
    assert_string_equal(text, "2038-01-19 03:14:07.000005");
}

static void test_pre_5_6_encodings(void **state)
{
    (void)state;
    /* Pre-5.6 encodings (types 12, 11, 7) as MySQL's log_event.cc prints
     * them: DATETIME is the decimal number YYYYMMDDhhmmss in 8 bytes LE,
     * TIME the signed number hhmmss in 3 bytes, TIMESTAMP seconds in 4.
     * No server at hand writes them (mysql56_temporal_format is ON), so
     * these bytes are built from that definition. */
    tf_value v;
    size_t used;
    tf_error err = {0};
    char text[40];
    /* 20240102030405 = 0x1268_8417_7C45 */
    static const uint8_t dt[] = {0x45, 0x7c, 0x17, 0x84, 0x68, 0x12, 0x00, 0x00};
    tf_column c12 = {.type = TF_TYPE_DATETIME};
    assert_int_equal(tf_value_decode(dt, 8, &c12, &v, &used, &err), TF_OK);
    tf_temporal_format(&v.temporal, v.kind, text, sizeof text);
    assert_string_equal(text, "2024-01-02 03:04:05");
    /* -8385959 in 24 bits = 0x800A59 -> 59 0a 80 */
    static const uint8_t tm[] = {0x59, 0x0a, 0x80};
    tf_column c11 = {.type = TF_TYPE_TIME};
    assert_int_equal(tf_value_decode(tm, 3, &c11, &v, &used, &err), TF_OK);
    tf_temporal_format(&v.temporal, v.kind, text, sizeof text);
    assert_string_equal(text, "-838:59:59");
    static const uint8_t ts[] = {0xff, 0xff, 0xff, 0x7f};
    tf_column c7 = {.type = TF_TYPE_TIMESTAMP};
    assert_int_equal(tf_value_decode(ts, 4, &c7, &v, &used, &err), TF_OK);
    assert_int_equal(v.timestamp.seconds, 2147483647);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_time2_with_fraction_borrows_from_seconds),
        cmocka_unit_test(test_datetime2_fields_and_fraction_per_precision),
        cmocka_unit_test(test_out_of_range_fields_are_malformed),
        cmocka_unit_test(test_instants_and_dates_that_name_none),
        cmocka_unit_test(test_pre_5_6_encodings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
