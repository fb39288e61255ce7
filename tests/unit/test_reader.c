/* test_reader.c — the bounds-checked reader and the shared error helpers. */
#include "support.h"

#include "reader_internal.h"

#include <string.h>

static void test_lenenc_integer_widths(void **state)
{
    (void)state;
    static const uint8_t buf[] = {0xfa, 0xfc, 0x34, 0x12, 0xfd, 0x56, 0x34, 0x12,
                                  0xfe, 1, 2, 3, 4, 5, 6, 7, 8};
    tf_error err = {0};
    tf_reader r;
    tf_reader_init(&r, buf, sizeof buf, 0, "test", TF_MALFORMED, &err);
    uint64_t v;
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "a"), TF_OK);
    assert_int_equal(v, 0xfa);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "b"), TF_OK);
    assert_int_equal(v, 0x1234);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "c"), TF_OK);
    assert_int_equal(v, 0x123456);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "d"), TF_OK);
    assert_int_equal(v, 0x0807060504030201ull);
    assert_int_equal(tf_reader_left(&r), 0);
}

static void test_lenenc_null_marker_only_where_allowed(void **state)
{
    (void)state;
    static const uint8_t buf[] = {0xfb};
    tf_error err = {0};
    tf_reader r;
    uint64_t v;
    bool is_null = false;
    tf_reader_init(&r, buf, sizeof buf, 0, "row", TF_MALFORMED, &err);
    assert_int_equal(tf_read_lenenc(&r, &v, &is_null, "column 1"), TF_OK);
    assert_true(is_null);
    tf_reader_init(&r, buf, sizeof buf, 100, "OK packet", TF_MALFORMED, &err);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "affected rows"), TF_MALFORMED);
    assert_string_equal(err.message, "OK packet: affected rows: 0xfb (NULL marker) where a "
                                     "length-encoded integer is required at offset 100");
}

static void test_short_read_names_field_and_offset(void **state)
{
    (void)state;
    static const uint8_t buf[] = {0xfc, 0x01};
    tf_error err = {0};
    tf_reader r;
    uint64_t v;
    tf_reader_init(&r, buf, sizeof buf, 40, "rows event", TF_MALFORMED, &err);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "column count"), TF_MALFORMED);
    assert_string_equal(err.message,
                        "rows event: column count needs 2 bytes at offset 41 but only 1 remain");
    assert_int_equal(r.pos, 0); /* a failed read consumes nothing */
    tf_reader_init(&r, buf, sizeof buf, 0, "packet", TF_NEED_MORE, &err);
    assert_int_equal(tf_read_lenenc(&r, &v, NULL, "length"), TF_NEED_MORE);
}

static void test_crc32_matches_known_value(void **state)
{
    (void)state;
    /* The CRC-32 check value of the ASCII digits 1..9 is 0xCBF43926. */
    assert_int_equal(tf_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lenenc_integer_widths),
        cmocka_unit_test(test_lenenc_null_marker_only_where_allowed),
        cmocka_unit_test(test_short_read_names_field_and_offset),
        cmocka_unit_test(test_crc32_matches_known_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
