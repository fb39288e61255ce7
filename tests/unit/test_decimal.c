/* test_decimal.c — binary DECIMAL to exact text, on MariaDB 10.11 binlog
 * bytes (value_vectors_mariadb.h, SQL in that header), and its errors. */
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

static tf_status decode_hex(const char *hex, unsigned p, unsigned s, char *text, tf_error *err)
{
    size_t len, used = 0;
    uint8_t *buf = tf_test_hex(hex, &len);
    tf_status st = tf_decimal_decode(buf, len, p, s, text, &used, err);
    if (st == TF_OK)
        assert_int_equal(used, len);
    free(buf);
    return st;
}

static void test_binary_sizes_match_the_server(void **state)
{
    (void)state;
    /* byte lengths of the captured values */
    assert_int_equal(tf_decimal_binary_size(65, 30), strlen(find("t_dec65", 1)->hex) / 2);
    assert_int_equal(tf_decimal_binary_size(10, 2), strlen(find("t_dec10_2", 1)->hex) / 2);
    assert_int_equal(tf_decimal_binary_size(5, 0), strlen(find("t_dec5_0", 1)->hex) / 2);
    assert_int_equal(tf_decimal_binary_size(20, 20), strlen(find("t_dec20_20", 1)->hex) / 2);
    assert_int_equal(tf_decimal_binary_size(18, 9), strlen(find("t_dec18_9", 1)->hex) / 2);
    assert_int_equal(tf_decimal_binary_size(66, 0), 0);
    assert_int_equal(tf_decimal_binary_size(10, 11), 0);
    assert_int_equal(tf_decimal_binary_size(40, 31), 0);
}

static void test_65_digit_values_keep_every_digit(void **state)
{
    (void)state;
    char text[TF_DECIMAL_TEXT_MAX];
    tf_error err = {0};
    assert_int_equal(decode_hex(find("t_dec65", 2)->hex, 65, 30, text, &err), TF_OK);
    assert_string_equal(text,
                        "-99999999999999999999999999999999999.999999999999999999999999999999");
    assert_int_equal(decode_hex(find("t_dec65", 5)->hex, 65, 30, text, &err), TF_OK);
    assert_string_equal(text, "12345678901234567890123456789012345.123456789012345678901234567890");
    assert_int_equal(decode_hex(find("t_dec65", 3)->hex, 65, 30, text, &err), TF_OK);
    assert_string_equal(text, "0.000000000000000000000000000001");
    assert_int_equal(decode_hex(find("t_dec20_20", 2)->hex, 20, 20, text, &err), TF_OK);
    assert_string_equal(text, "-0.00000000000000000001");
    assert_int_equal(decode_hex(find("t_dec18_9", 1)->hex, 18, 9, text, &err), TF_OK);
    assert_string_equal(text, "-123456789.987654321");
    assert_int_equal(decode_hex(find("t_dec5_0", 3)->hex, 5, 0, text, &err), TF_OK);
    assert_string_equal(text, "0");
}

static void test_negative_zero_is_written_as_zero(void **state)
{
    (void)state;
    /* 0.00 as DECIMAL(10,2) is 80 00 00 00 00 (t_dec10_2 id 2); the same
     * with the sign bit clear and every byte inverted is "-0.00". */
    char text[TF_DECIMAL_TEXT_MAX];
    assert_string_equal(find("t_dec10_2", 2)->hex, "8000000000");
    assert_int_equal(decode_hex("7fffffffff", 10, 2, text, NULL), TF_OK);
    assert_string_equal(text, "0.00");
}

static void test_digit_group_out_of_range_is_malformed(void **state)
{
    (void)state;
    /* 99999999.99 is 85 f5 e0 ff 63; a fraction byte of 0x64 (100) cannot
     * be two digits. */
    char text[TF_DECIMAL_TEXT_MAX];
    tf_error err = {0};
    assert_string_equal(find("t_dec10_2", 3)->hex, "85f5e0ff63");
    assert_int_equal(decode_hex("85f5e0ff64", 10, 2, text, &err), TF_MALFORMED);
    assert_string_equal(err.message, "NEWDECIMAL value: DECIMAL(10,2) fraction digit group 100 "
                                     "exceeds 2 digits at offset 4");
    assert_int_equal(decode_hex("85f5e0ff", 10, 2, text, &err), TF_MALFORMED);
    assert_string_equal(err.message, "NEWDECIMAL value: DECIMAL(10,2) (5 bytes) needs 5 bytes at "
                                     "offset 0 but only 4 remain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_sizes_match_the_server),
        cmocka_unit_test(test_65_digit_values_keep_every_digit),
        cmocka_unit_test(test_negative_zero_is_written_as_zero),
        cmocka_unit_test(test_digit_group_out_of_range_is_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
