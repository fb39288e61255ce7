/* test_value_bson.c — DESIGN.md's type mapping (tf_value_append_bson) on
 * real MariaDB 10.11 binlog values (value_vectors_mariadb.h; the SQL that
 * produced each is in that header), asserted as canonical Extended JSON so
 * the BSON type is part of the expectation. */
#include "support.h"

#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#include "value_vectors_mariadb.h"

#define VECTOR_COUNT (sizeof mariadb_value_vectors / sizeof mariadb_value_vectors[0])

static const mariadb_value_vector *find(const char *table, int id)
{
    for (size_t i = 0; i < VECTOR_COUNT; i++)
        if (strcmp(mariadb_value_vectors[i].table, table) == 0 && mariadb_value_vectors[i].id == id)
            return &mariadb_value_vectors[i];
    fail_msg("no vector %s %d", table, id);
    return NULL;
}

/* Decodes the vector and returns the canonical Extended JSON of {"c": v}
 * (or "error: <message>"). */
static char *bson_of(const char *table, int id)
{
    const mariadb_value_vector *v = find(table, id);
    tf_str members[300];
    char *names = NULL;
    tf_column col = {.type = v->type,
                     .meta = v->meta,
                     .is_unsigned = v->is_unsigned,
                     .charset = v->charset,
                     .name = {"c", 1}};
    if (v->members[0]) {
        names = strdup(v->members);
        char *save = NULL;
        for (char *m = strtok_r(names, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            members[col.enum_set_count].ptr = m;
            members[col.enum_set_count++].len = strlen(m);
        }
        col.enum_set_values = members;
    }
    tf_value val = {.kind = TF_VAL_NULL};
    size_t len = 0, used;
    uint8_t *buf = v->hex ? tf_test_hex(v->hex, &len) : NULL;
    tf_error err = {0};
    bson_t doc = BSON_INITIALIZER;
    tf_status st = TF_OK;
    if (buf)
        st = tf_value_decode(buf, len, &col, &val, &used, &err);
    if (st == TF_OK)
        st = tf_value_append_bson(&doc, "c", 1, &val, &col, &err);
    char *out = st == TF_OK ? bson_as_canonical_extended_json(&doc, NULL)
                            : bson_strdup_printf("error: %s", err.message);
    bson_destroy(&doc);
    free(buf);
    free(names);
    return out;
}

#define assert_bson(table, id, expected)     \
    do {                                     \
        char *got_ = bson_of(table, id);     \
        assert_string_equal(got_, expected); \
        bson_free(got_);                     \
    } while (0)

static void test_integers_map_by_column_range(void **state)
{
    (void)state;
    assert_bson("t_tiny", 1, "{ \"c\" : { \"$numberInt\" : \"-128\" } }");
    assert_bson("t_int24_u", 1, "{ \"c\" : { \"$numberInt\" : \"16777215\" } }");
    assert_bson("t_long", 1, "{ \"c\" : { \"$numberInt\" : \"-2147483648\" } }");
    /* unsigned INT does not fit int32: int64 for every value of the column */
    assert_bson("t_long_u", 1, "{ \"c\" : { \"$numberLong\" : \"4294967295\" } }");
    assert_bson("t_longlong", 3, "{ \"c\" : { \"$numberLong\" : \"-42\" } }");
    assert_bson("t_longlong_u", 3, "{ \"c\" : { \"$numberLong\" : \"1\" } }");
    assert_bson("t_nullable_int", 1, "{ \"c\" : null }");
}

static void test_unsigned_bigint_above_int64_is_decimal128(void **state)
{
    (void)state;
    assert_bson("t_longlong_u", 1, "{ \"c\" : { \"$numberDecimal\" : \"18446744073709551615\" } }");
    assert_bson("t_longlong_u", 2, "{ \"c\" : { \"$numberDecimal\" : \"9223372036854775808\" } }");
}

static void test_decimal_is_exact_decimal128_keeping_scale(void **state)
{
    (void)state;
    assert_bson("t_dec10_2", 1, "{ \"c\" : { \"$numberDecimal\" : \"-123.45\" } }");
    assert_bson("t_dec10_2", 2, "{ \"c\" : { \"$numberDecimal\" : \"0.00\" } }");
    assert_bson("t_dec65", 3, "{ \"c\" : { \"$numberDecimal\" : \"1E-30\" } }");
    assert_bson("t_dec65", 6,
                "{ \"c\" : { \"$numberDecimal\" : \"-1.500000000000000000000000000000\" } }");
}

static void test_decimal_beyond_34_digits_is_exact_string(void **state)
{
    (void)state;
    /* 65 significant digits: Decimal128 would round, so the exact text. */
    assert_bson(
        "t_dec65", 1,
        "{ \"c\" : \"99999999999999999999999999999999999.999999999999999999999999999999\" }");
    assert_bson(
        "t_dec65", 5,
        "{ \"c\" : \"12345678901234567890123456789012345.123456789012345678901234567890\" }");
}

static void test_float_double_year_bit(void **state)
{
    (void)state;
    assert_bson("t_float", 1, "{ \"c\" : { \"$numberDouble\" : \"1.5\" } }");
    assert_bson("t_double", 2,
                "{ \"c\" : { \"$numberDouble\" : \"-1.0000000000000000525e+300\" } }");
    assert_bson("t_year", 3, "{ \"c\" : { \"$numberInt\" : \"0\" } }");
    assert_bson("t_year", 4, "{ \"c\" : { \"$numberInt\" : \"2024\" } }");
    /* BIT(64) all ones keeps its bit pattern in int64. */
    assert_bson("t_bit64", 1, "{ \"c\" : { \"$numberLong\" : \"-1\" } }");
    assert_bson("t_bit5", 1, "{ \"c\" : { \"$numberLong\" : \"21\" } }");
}

static void test_dates_are_utc_milliseconds_and_zero_dates_null(void **state)
{
    (void)state;
    assert_bson("t_date", 1, "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"1709164800000\" } } }");
    assert_bson("t_date", 6, "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"-14256000000\" } } }");
    assert_bson("t_date", 2, "{ \"c\" : null }"); /* 0000-00-00 */
    assert_bson("t_date", 5, "{ \"c\" : null }"); /* 2020-00-00 */
    assert_bson("t_datetime0", 2, "{ \"c\" : null }");
    /* .123456 truncated to .123 */
    assert_bson("t_datetime6", 1,
                "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"1704164645123\" } } }");
    assert_bson("t_datetime6", 3,
                "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"253402300799999\" } } }");
    assert_bson("t_datetime1", 2,
                "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"-30610224000000\" } } }");
    assert_bson("t_timestamp6", 1,
                "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"1704164645123\" } } }");
    assert_bson("t_timestamp0", 2, "{ \"c\" : null }"); /* zero timestamp */
    assert_bson("t_timestamp0", 3, "{ \"c\" : { \"$date\" : { \"$numberLong\" : \"1000\" } } }");
}

static void test_time_is_string_with_column_fsp(void **state)
{
    (void)state;
    assert_bson("t_time0", 1, "{ \"c\" : \"-838:59:59\" }");
    assert_bson("t_time6", 4, "{ \"c\" : \"-838:59:58.999999\" }");
    assert_bson("t_time3", 1, "{ \"c\" : \"-12:34:56.700\" }");
    assert_bson("t_time6", 2, "{ \"c\" : \"-00:00:00.000001\" }");
}

static void test_strings_are_utf8_and_latin1_is_converted(void **state)
{
    (void)state;
    assert_bson("t_varchar10", 3,
                "{ \"c\" : \"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xf0\x9f\x8e\x89\" }");
    assert_bson("t_varchar10", 1, "{ \"c\" : \"\" }");
    /* latin1 'café €': é is 0xE9, € is cp1252 0x80 */
    assert_bson("t_varchar_latin1", 1, "{ \"c\" : \"caf\xc3\xa9 \xe2\x82\xac\" }");
    assert_bson("t_json", 2, "{ \"c\" : \"[]\" }"); /* MariaDB JSON is LONGTEXT */
}

static void test_binary_blob_geometry_are_binary(void **state)
{
    (void)state;
    /* BINARY(4) 'a': the binlog drops the pad, SELECT shows 61 00 00 00. */
    assert_bson(
        "t_binary4", 2,
        "{ \"c\" : { \"$binary\" : { \"base64\" : \"YQAAAA==\", \"subType\" : \"00\" } } }");
    assert_bson("t_tinyblob", 1,
                "{ \"c\" : { \"$binary\" : { \"base64\" : \"AP8=\", \"subType\" : \"00\" } } }");
    assert_bson("t_point", 1,
                "{ \"c\" : { \"$binary\" : { \"base64\" : "
                "\"AAAAAAEBAAAAAAAAAAAA+L8AAAAAAAAIQA==\", \"subType\" : \"00\" } } }");
}

static void test_enum_is_member_string_and_set_is_array(void **state)
{
    (void)state;
    assert_bson("t_enum3", 2, "{ \"c\" : \"ccc\" }");
    assert_bson("t_enum3", 3, "{ \"c\" : \"\" }");
    assert_bson("t_enum300", 2, "{ \"c\" : \"m300\" }");
    assert_bson("t_set3", 1, "{ \"c\" : [ \"x\", \"z\" ] }");
    assert_bson("t_set3", 2, "{ \"c\" : [  ] }");
    assert_bson("t_set64", 1, "{ \"c\" : [ \"s0\", \"s63\" ] }");
}

static void test_enum_index_past_members_is_an_error(void **state)
{
    (void)state;
    tf_str members[] = {{"a", 1}};
    tf_column col = {.type = TF_TYPE_ENUM,
                     .meta = 1,
                     .name = {"status", 6},
                     .enum_set_count = 1,
                     .enum_set_values = members};
    tf_value v = {.kind = TF_VAL_ENUM, .u = 2};
    tf_error err = {0};
    bson_t doc = BSON_INITIALIZER;
    assert_int_equal(tf_value_append_bson(&doc, "s", 1, &v, &col, &err), TF_MALFORMED);
    assert_string_equal(err.message, "column status (ENUM): enum index 2 is above the 1 members");
    bson_destroy(&doc);
}

static void test_invalid_utf8_is_an_error_not_mojibake(void **state)
{
    (void)state;
    tf_column col = {.type = TF_TYPE_VARCHAR, .meta = 10, .charset = 28 /* gbk */};
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)"\xc4\xe3";
    v.bytes.len = 2;
    tf_error err = {0};
    bson_t doc = BSON_INITIALIZER;
    assert_int_equal(tf_value_append_bson(&doc, "s", 1, &v, &col, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_string_equal(err.message, "VARCHAR column: string bytes are not valid UTF-8 (collation "
                                     "id 28); only utf8, ascii and latin1 text is converted");
    bson_destroy(&doc);
}

static void test_absent_is_not_appended_and_json_diff_refused(void **state)
{
    (void)state;
    tf_value absent = {.kind = TF_VAL_ABSENT};
    tf_error err = {0};
    bson_t doc = BSON_INITIALIZER;
    assert_int_equal(tf_value_append_bson(&doc, "a", 1, &absent, NULL, &err), TF_OK);
    assert_int_equal(bson_count_keys(&doc), 0);
    tf_value diff = {.kind = TF_VAL_JSON_DIFF};
    tf_column col = {.type = TF_TYPE_JSON, .meta = 4};
    assert_int_equal(tf_value_append_bson(&doc, "j", 1, &diff, &col, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "JSON column: a partial JSON update (diff list) has no value of its own; "
                        "apply it to the before image with tf_json_diff_apply_bson");
    bson_destroy(&doc);
}

static void test_decimal128_conversion_never_rounds(void **state)
{
    (void)state;
    bson_decimal128_t d;
    char text[BSON_DECIMAL128_STRING];
    /* 34 digits fit */
    assert_true(tf_decimal_text_to_decimal128("1234567890123456789012345678901234", &d));
    bson_decimal128_to_string(&d, text);
    assert_string_equal(text, "1234567890123456789012345678901234");
    /* 35 significant digits do not */
    assert_false(tf_decimal_text_to_decimal128("12345678901234567890123456789012345", &d));
    /* 40 digits of which the last 10 are fraction zeros: value kept, scale
     * shortened only as far as 34 digits need */
    assert_true(tf_decimal_text_to_decimal128("123456789012345678901234567890.0000000000", &d));
    bson_decimal128_to_string(&d, text);
    assert_string_equal(text, "123456789012345678901234567890.0000");
    assert_true(tf_decimal_text_to_decimal128("-0.05", &d));
    bson_decimal128_to_string(&d, text);
    assert_string_equal(text, "-0.05");
}

/* The direct construction gives the bits libbson's parser gives for the
 * same coefficient and exponent: random DECIMAL texts of every shape. */
static void test_decimal128_bits_equal_libbson_parser(void **state)
{
    (void)state;
    srand(1202);
    for (int round = 0; round < 20000; round++) {
        char text[80], expect[90];
        size_t n = 0;
        if (rand() % 3 == 0)
            text[n++] = '-';
        int intg = rand() % 36, frac = rand() % 31;
        int zeros = rand() % 4 == 0 ? rand() % 8 : 0; /* leading zeros */
        for (int i = 0; i < zeros; i++)
            text[n++] = '0';
        for (int i = 0; i < intg; i++)
            text[n++] = (char)('0' + rand() % 10);
        if (intg + zeros == 0)
            text[n++] = '0';
        if (frac) {
            text[n++] = '.';
            for (int i = 0; i < frac; i++)
                text[n++] = (char)('0' + (rand() % 3 ? rand() % 10 : 0));
        }
        text[n] = '\0';
        bson_decimal128_t got, want;
        bool ok = tf_decimal_text_to_decimal128(text, &got);
        /* what the old path handed to libbson: "<digits>E<exponent>" */
        const char *s = text + (text[0] == '-');
        char coeff[80];
        size_t c = 0;
        int exponent = 0;
        bool point = false;
        for (; *s; s++) {
            if (*s == '.') {
                point = true;
                continue;
            }
            if (c == 0 && *s == '0') {
                exponent -= point;
                continue;
            }
            coeff[c++] = *s;
            exponent -= point;
        }
        while (c > 34 && exponent < 0 && coeff[c - 1] == '0')
            c--, exponent++;
        if (c > 34) {
            assert_false(ok);
            continue;
        }
        assert_true(ok);
        snprintf(expect, sizeof expect, "%s%.*sE%d", text[0] == '-' ? "-" : "", c ? (int)c : 1,
                 c ? coeff : "0", exponent);
        assert_true(bson_decimal128_from_string(expect, &want));
        if (got.high != want.high || got.low != want.low)
            fail_msg("%s: %016llx%016llx, libbson %016llx%016llx", text,
                     (unsigned long long)got.high, (unsigned long long)got.low,
                     (unsigned long long)want.high, (unsigned long long)want.low);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimal128_bits_equal_libbson_parser),
        cmocka_unit_test(test_integers_map_by_column_range),
        cmocka_unit_test(test_unsigned_bigint_above_int64_is_decimal128),
        cmocka_unit_test(test_decimal_is_exact_decimal128_keeping_scale),
        cmocka_unit_test(test_decimal_beyond_34_digits_is_exact_string),
        cmocka_unit_test(test_float_double_year_bit),
        cmocka_unit_test(test_dates_are_utc_milliseconds_and_zero_dates_null),
        cmocka_unit_test(test_time_is_string_with_column_fsp),
        cmocka_unit_test(test_strings_are_utf8_and_latin1_is_converted),
        cmocka_unit_test(test_binary_blob_geometry_are_binary),
        cmocka_unit_test(test_enum_is_member_string_and_set_is_array),
        cmocka_unit_test(test_enum_index_past_members_is_an_error),
        cmocka_unit_test(test_invalid_utf8_is_an_error_not_mojibake),
        cmocka_unit_test(test_absent_is_not_appended_and_json_diff_refused),
        cmocka_unit_test(test_decimal128_conversion_never_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
