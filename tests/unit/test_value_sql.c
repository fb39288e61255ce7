/* test_value_sql.c — tf_value_sql_literal: the exact literal of every value
 * kind, the column's part in it (charset, BINARY(n) pad, fractional digits),
 * the kinds that have none, and the snprintf-style buffer contract.
 * tests/replica/test_snapshot.c checks against MariaDB that these literals
 * page and match as the server's own ORDER BY and = do. */
#include "support.h"

#include "protocol.h"

#include <math.h>
#include <string.h>

static tf_column column(uint8_t type, uint16_t meta, uint16_t charset)
{
    tf_column col = {0};
    col.type = type;
    col.meta = meta;
    col.charset = charset;
    col.name.ptr = "k";
    col.name.len = 1;
    return col;
}

/* The literal of v for col (charset_name may be NULL). */
static const char *literal(const tf_value *v, const tf_column *col, const char *charset_name)
{
    static char buf[512];
    size_t len = 0;
    tf_error err = {0};
    if (tf_value_sql_literal(v, col, charset_name, buf, sizeof buf, &len, &err) != TF_OK)
        fail_msg("tf_value_sql_literal: %s", err.message);
    assert_int_equal(len, strlen(buf));
    return buf;
}

/* The error message for v. */
static const char *refusal(const tf_value *v, const tf_column *col, const char *charset_name)
{
    static tf_error err;
    char buf[64];
    size_t len = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(tf_value_sql_literal(v, col, charset_name, buf, sizeof buf, &len, &err),
                     TF_MALFORMED);
    return err.message;
}

static void test_integers_are_decimal_text_unsigned_included(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_LONGLONG, 0, 0);
    tf_value v = {.kind = TF_VAL_INT, .i = INT64_MIN};
    assert_string_equal(literal(&v, &col, NULL), "-9223372036854775808");
    col.is_unsigned = true;
    v = (tf_value){.kind = TF_VAL_UINT, .u = UINT64_MAX};
    assert_string_equal(literal(&v, &col, NULL), "18446744073709551615");
    col = column(TF_TYPE_YEAR, 0, 0);
    v = (tf_value){.kind = TF_VAL_YEAR, .i = 2155};
    assert_string_equal(literal(&v, &col, NULL), "2155");
    v.i = 0;
    assert_string_equal(literal(&v, &col, NULL), "0");
    col = column(TF_TYPE_BIT, 1 << 8 | 2, 0);
    v = (tf_value){.kind = TF_VAL_BIT, .u = 0x3ff, .bit_width = 10};
    assert_string_equal(literal(&v, &col, NULL), "1023");
}

static void test_enum_is_its_index_and_set_its_bitmask(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_ENUM, 1, 45);
    tf_value v = {.kind = TF_VAL_ENUM, .u = 3};
    assert_string_equal(literal(&v, &col, NULL), "3");
    col = column(TF_TYPE_SET, 1, 45);
    v = (tf_value){.kind = TF_VAL_SET, .u = 0x9};
    assert_string_equal(literal(&v, &col, NULL), "9");
}

static void test_decimal_is_its_text_and_refuses_text_that_is_no_number(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_NEWDECIMAL, 10 << 8 | 2, 0);
    tf_value v = {.kind = TF_VAL_DECIMAL};
    strcpy(v.decimal.text, "-12345678.90");
    assert_string_equal(literal(&v, &col, NULL), "-12345678.90");
    strcpy(v.decimal.text, "7");
    assert_string_equal(literal(&v, &col, NULL), "7");
    strcpy(v.decimal.text, "1) OR (1");
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (NEWDECIMAL): the DECIMAL value's text is not a number");
    strcpy(v.decimal.text, "-");
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (NEWDECIMAL): the DECIMAL value's text is not a number");
}

static void test_doubles_keep_every_bit_and_are_double_literals(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_DOUBLE, 8, 0);
    tf_value v = {.kind = TF_VAL_DOUBLE, .d = 0.30000000000000004};
    assert_string_equal(literal(&v, &col, NULL), "0.30000000000000004e0");
    v.d = 0.5;
    assert_string_equal(literal(&v, &col, NULL), "0.5e0");
    v.d = -1.7976931348623157e308;
    assert_string_equal(literal(&v, &col, NULL), "-1.7976931348623157e+308");
    v.d = 5e-324;
    assert_string_equal(literal(&v, &col, NULL), "4.9406564584124654e-324");
    /* FLOAT: the double the server widens the column's value to. */
    col = column(TF_TYPE_FLOAT, 4, 0);
    v = (tf_value){.kind = TF_VAL_FLOAT, .f = 1.1f};
    assert_string_equal(literal(&v, &col, NULL), "1.1000000238418579e0");
    v.f = (float)INFINITY;
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (FLOAT): an infinite or NaN number has no literal");
}

static void test_strings_carry_the_column_charset_as_an_introducer(void **state)
{
    (void)state;
    /* "Äpfel" in utf8mb4_general_ci (45): the charset from the id. */
    tf_column col = column(TF_TYPE_VARCHAR, 80, 45);
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)"\xc3\x84pfel";
    v.bytes.len = 6;
    assert_string_equal(literal(&v, &col, NULL), "_utf8mb4 X'C3847066656C'");
    /* The caller's name wins (the server's information_schema spelling). */
    assert_string_equal(literal(&v, &col, "utf8mb3"), "_utf8mb3 X'C3847066656C'");
}

static void test_string_charset_from_caller_or_collation_id(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_STRING, 20, 8); /* latin1_swedish_ci */
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)"a'b";
    v.bytes.len = 3;
    assert_string_equal(literal(&v, &col, NULL), "_latin1 X'612762'");
    assert_string_equal(literal(&v, &col, "cp1252x"), "_cp1252x X'612762'");
    v.bytes.len = 0;
    assert_string_equal(literal(&v, &col, NULL), "_latin1 X''");
    /* MariaDB's NO PAD collation utf8mb4_nopad_bin (1070). */
    col.charset = 1070;
    assert_string_equal(literal(&v, &col, NULL), "_utf8mb4 X''");
    /* A collation this build does not know, and no name given. */
    col.charset = 2304;
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (STRING): collation id 2304 names no charset this build "
                        "knows: give the charset's name");
    assert_string_equal(literal(&v, &col, "utf8mb4"), "_utf8mb4 X''");
    /* A name that is no identifier never reaches the SQL. */
    assert_string_equal(refusal(&v, &col, "utf8mb4 X'00' OR 1=1 --"),
                        "column k (STRING): the charset name is not an identifier");
}

static void test_binary_strings_are_hex_and_binary_n_is_padded(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_VARCHAR, 20, TF_CHARSET_BINARY);
    tf_value v = {.kind = TF_VAL_BYTES};
    v.bytes.ptr = (const uint8_t *)"\x00\xff\x10";
    v.bytes.len = 3;
    assert_string_equal(literal(&v, &col, NULL), "X'00FF10'");
    /* BINARY(6): MariaDB's row image drops the 0x00 pad; the column has it. */
    col = column(TF_TYPE_STRING, 6, TF_CHARSET_BINARY);
    assert_string_equal(literal(&v, &col, NULL), "X'00FF10000000'");
    /* A string value of a binary-collation column: no introducer. */
    v.kind = TF_VAL_STRING;
    col = column(TF_TYPE_VARCHAR, 20, TF_CHARSET_BINARY);
    assert_string_equal(literal(&v, &col, NULL), "X'00FF10'");
}

static void test_temporals_are_quoted_with_the_column_fraction(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_DATE, 0, 0);
    tf_value v = {.kind = TF_VAL_DATE, .temporal = {.year = 2024, .month = 2, .day = 29}};
    assert_string_equal(literal(&v, &col, NULL), "'2024-02-29'");
    v.temporal = (tf_temporal){0};
    assert_string_equal(literal(&v, &col, NULL), "'0000-00-00'");

    col = column(TF_TYPE_DATETIME2, 3, 0);
    v = (tf_value){.kind = TF_VAL_DATETIME,
                   .temporal = {.year = 1999,
                                .month = 12,
                                .day = 31,
                                .hour = 23,
                                .minute = 59,
                                .second = 58,
                                .microsecond = 120000,
                                .fsp = 3}};
    assert_string_equal(literal(&v, &col, NULL), "'1999-12-31 23:59:58.120'");
    col.meta = 0;
    v.temporal.microsecond = 0;
    assert_string_equal(literal(&v, &col, NULL), "'1999-12-31 23:59:58'");
    /* A fraction the column cannot show is still the value's. */
    v.temporal.microsecond = 5;
    assert_string_equal(literal(&v, &col, NULL), "'1999-12-31 23:59:58.000005'");

    col = column(TF_TYPE_TIME2, 4, 0);
    v = (tf_value){.kind = TF_VAL_TIME,
                   .temporal = {.negative = true,
                                .hour = 838,
                                .minute = 59,
                                .second = 59,
                                .microsecond = 100,
                                .fsp = 4}};
    assert_string_equal(literal(&v, &col, NULL), "'-838:59:59.0001'");
}

static void test_timestamps_are_utc_text_and_zero_is_the_zero_timestamp(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_TIMESTAMP2, 1, 0);
    tf_value v = {.kind = TF_VAL_TIMESTAMP};
    v.timestamp.seconds = 1700000000;
    v.timestamp.microsecond = 500000;
    v.timestamp.fsp = 1;
    assert_string_equal(literal(&v, &col, NULL), "'2023-11-14 22:13:20.5'");
    v.timestamp.seconds = 2147483647;
    v.timestamp.microsecond = 0;
    assert_string_equal(literal(&v, &col, NULL), "'2038-01-19 03:14:07.0'");
    v.timestamp.seconds = 0;
    assert_string_equal(literal(&v, &col, NULL), "'0000-00-00 00:00:00.0'");
}

static void test_null_and_the_kinds_without_a_literal(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_LONG, 0, 0);
    tf_value v = {.kind = TF_VAL_NULL};
    assert_string_equal(literal(&v, &col, NULL), "NULL");
    v.kind = TF_VAL_ABSENT;
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (LONG): the value is absent from the row image");
    col = column(TF_TYPE_JSON, 4, 0);
    v.kind = TF_VAL_JSON;
    assert_string_equal(refusal(&v, &col, NULL),
                        "column k (JSON): a JSON, GEOMETRY or VECTOR value has no literal that "
                        "compares as the column does");
    col = column(TF_TYPE_GEOMETRY, 4, TF_CHARSET_BINARY);
    col.name.len = 0;
    v.kind = TF_VAL_GEOMETRY;
    assert_string_equal(refusal(&v, &col, NULL),
                        "GEOMETRY column: a JSON, GEOMETRY or VECTOR value has no literal that "
                        "compares as the column does");
}

static void test_a_short_buffer_gets_a_prefix_and_the_whole_length(void **state)
{
    (void)state;
    tf_column col = column(TF_TYPE_VARCHAR, 80, 45);
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)"abc";
    v.bytes.len = 3;
    char buf[8];
    size_t len = 0;
    tf_error err = {0};
    assert_int_equal(tf_value_sql_literal(&v, &col, NULL, buf, sizeof buf, &len, &err), TF_OK);
    assert_int_equal(len, strlen("_utf8mb4 X'616263'"));
    assert_string_equal(buf, "_utf8mb");
    /* No buffer at all: only the length. */
    assert_int_equal(tf_value_sql_literal(&v, &col, NULL, NULL, 0, &len, &err), TF_OK);
    assert_int_equal(len, strlen("_utf8mb4 X'616263'"));
}

static void test_collation_ids_name_their_charset(void **state)
{
    (void)state;
    assert_string_equal(tf_collation_charset_name(8), "latin1");
    assert_string_equal(tf_collation_charset_name(33), "utf8mb3");
    assert_string_equal(tf_collation_charset_name(45), "utf8mb4");
    assert_string_equal(tf_collation_charset_name(63), "binary");
    assert_string_equal(tf_collation_charset_name(224), "utf8mb4");
    assert_string_equal(tf_collation_charset_name(255), "utf8mb4");  /* utf8mb4_0900_ai_ci */
    assert_string_equal(tf_collation_charset_name(1057), "utf8mb3"); /* utf8mb3_general_nopad_ci */
    assert_string_equal(tf_collation_charset_name(1069), "utf8mb4"); /* utf8mb4_general_nopad_ci */
    assert_null(tf_collation_charset_name(0));
    assert_null(tf_collation_charset_name(17));
    assert_null(tf_collation_charset_name(2304));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_are_decimal_text_unsigned_included),
        cmocka_unit_test(test_enum_is_its_index_and_set_its_bitmask),
        cmocka_unit_test(test_decimal_is_its_text_and_refuses_text_that_is_no_number),
        cmocka_unit_test(test_doubles_keep_every_bit_and_are_double_literals),
        cmocka_unit_test(test_strings_carry_the_column_charset_as_an_introducer),
        cmocka_unit_test(test_string_charset_from_caller_or_collation_id),
        cmocka_unit_test(test_binary_strings_are_hex_and_binary_n_is_padded),
        cmocka_unit_test(test_temporals_are_quoted_with_the_column_fraction),
        cmocka_unit_test(test_timestamps_are_utc_text_and_zero_is_the_zero_timestamp),
        cmocka_unit_test(test_null_and_the_kinds_without_a_literal),
        cmocka_unit_test(test_a_short_buffer_gets_a_prefix_and_the_whole_length),
        cmocka_unit_test(test_collation_ids_name_their_charset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
