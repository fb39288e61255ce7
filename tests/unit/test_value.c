/* test_value.c — tf_value_decode on every column type, byte-exact against
 * MariaDB 10.11's binlog (value_vectors_mariadb.h, captured by
 * tests/vectors/values/capture_mariadb_values.py): each value decodes, uses
 * exactly its bytes, and its text equals what SELECT returned for the same
 * row; every truncation is TF_MALFORMED with a message. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_vectors_mariadb.h"

#define VECTOR_COUNT (sizeof mariadb_value_vectors / sizeof mariadb_value_vectors[0])

/* Column of a vector; ENUM/SET members are split into members[] (the caller
 * frees names[0] and members). */
typedef struct test_column {
    tf_column col;
    tf_str members[300];
    char *names;
} test_column;

static void column_of(const mariadb_value_vector *v, test_column *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->col.type = v->type;
    tc->col.meta = v->meta;
    tc->col.is_unsigned = v->is_unsigned;
    tc->col.charset = v->charset;
    tc->col.nullable = true;
    tc->col.name.ptr = "c";
    tc->col.name.len = 1;
    if (v->members[0]) {
        tc->names = strdup(v->members);
        char *save = NULL;
        for (char *m = strtok_r(tc->names, ",", &save); m && tc->col.enum_set_count < 300;
             m = strtok_r(NULL, ",", &save)) {
            tc->members[tc->col.enum_set_count].ptr = m;
            tc->members[tc->col.enum_set_count].len = strlen(m);
            tc->col.enum_set_count++;
        }
        tc->col.enum_set_values = tc->members;
    }
}

/* v's column into tc, and its binlog bytes decoded whole into val, which
 * may borrow from the returned buffer (the caller frees it). */
static uint8_t *decode_captured(const mariadb_value_vector *v, test_column *tc, tf_value *val)
{
    column_of(v, tc);
    size_t len, used = 0;
    uint8_t *buf = tf_test_hex(v->hex, &len);
    tf_error err = {0};
    if (tf_value_decode(buf, len, &tc->col, val, &used, &err) != TF_OK)
        fail_msg("%s id %d: %s", v->table, v->id, err.message);
    assert_int_equal(used, len);
    return buf;
}

static void test_every_mariadb_value_decodes_to_what_select_returns(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < VECTOR_COUNT; i++) {
        const mariadb_value_vector *v = &mariadb_value_vectors[i];
        if (!v->hex) {
            assert_string_equal(v->select_hex, "NULL");
            continue;
        }
        test_column tc;
        tf_value val;
        uint8_t *buf = decode_captured(v, &tc, &val);
        size_t select_len;
        uint8_t *select = tf_test_hex(v->select_hex, &select_len);
        tf_error err = {0};
        size_t text_len;
        char *text = tf_value_to_text(&val, &tc.col, &text_len, &err);
        if (!text)
            fail_msg("%s id %d: no text: %s", v->table, v->id, err.message);
        if (val.kind == TF_VAL_FLOAT || val.kind == TF_VAL_DOUBLE) {
            /* SELECT's float formatting differs from %g; the value must not.
             * MariaDB shows FLOAT with 6 significant digits only. */
            char *sel = strndup((const char *)select, select_len);
            double a = strtod(text, NULL), b = strtod(sel, NULL);
            char six[32];
            snprintf(six, sizeof six, "%.6g", a);
            if (val.kind == TF_VAL_FLOAT ? strtod(six, NULL) != b : a != b)
                fail_msg("%s id %d: %s != %s", v->table, v->id, text, sel);
            free(sel);
        } else if (text_len != select_len || memcmp(text, select, select_len) != 0) {
            fail_msg("%s id %d (%s): decoded '%.*s' but SELECT returned '%.*s'", v->table, v->id,
                     v->sql_value, (int)text_len, text, (int)select_len, (const char *)select);
        }
        bson_free(text);
        free(tc.names);
        free(buf);
        free(select);
        checked++;
    }
    assert_true(checked > 180);
}

static void test_every_truncation_is_malformed_with_a_message(void **state)
{
    (void)state;
    for (size_t i = 0; i < VECTOR_COUNT; i++) {
        const mariadb_value_vector *v = &mariadb_value_vectors[i];
        if (!v->hex)
            continue;
        test_column tc;
        column_of(v, &tc);
        size_t len;
        uint8_t *full = tf_test_hex(v->hex, &len);
        for (size_t cut = 0; cut < len; cut++) {
            /* A copy of exactly `cut` bytes so ASan sees any overread. */
            uint8_t *buf = malloc(cut ? cut : 1);
            memcpy(buf, full, cut);
            tf_value val;
            size_t used = 0;
            tf_error err = {0};
            tf_status st = tf_value_decode(buf, cut, &tc.col, &val, &used, &err);
            if (st != TF_MALFORMED)
                fail_msg("%s id %d cut at %zu: status %d", v->table, v->id, cut, st);
            assert_true(strlen(err.message) > 0);
            free(buf);
        }
        free(full);
        free(tc.names);
    }
}

static const mariadb_value_vector *find(const char *table, int id)
{
    for (size_t i = 0; i < VECTOR_COUNT; i++)
        if (strcmp(mariadb_value_vectors[i].table, table) == 0 && mariadb_value_vectors[i].id == id)
            return &mariadb_value_vectors[i];
    fail_msg("no vector %s %d", table, id);
    return NULL;
}

static tf_status decode_vector(const char *table, int id, tf_value *val, size_t *len, tf_error *err)
{
    const mariadb_value_vector *v = find(table, id);
    test_column tc;
    column_of(v, &tc);
    uint8_t *buf = tf_test_hex(v->hex, len);
    size_t used;
    tf_status st = tf_value_decode(buf, *len, &tc.col, val, &used, err);
    free(tc.names);
    /* Values that borrow bytes are checked by the caller before this frees:
     * only scalar kinds use this helper. */
    free(buf);
    return st;
}

static void test_integers_sign_extend_and_keep_unsigned(void **state)
{
    (void)state;
    tf_value val;
    size_t len;
    tf_error err = {0};
    assert_int_equal(decode_vector("t_int24", 1, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_INT);
    assert_int_equal(val.i, -8388608);
    assert_int_equal(decode_vector("t_longlong_u", 1, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_UINT);
    assert_true(val.u == UINT64_MAX);
    assert_int_equal(decode_vector("t_longlong", 1, &val, &len, &err), TF_OK);
    assert_true(val.i == INT64_MIN);
    assert_int_equal(decode_vector("t_year", 3, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_YEAR);
    assert_int_equal(val.i, 0);
    assert_int_equal(decode_vector("t_bit64", 1, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_BIT);
    assert_int_equal(val.bit_width, 64);
    assert_true(val.u == UINT64_MAX);
    assert_int_equal(decode_vector("t_bit12", 1, &val, &len, &err), TF_OK);
    assert_int_equal(val.bit_width, 12);
    assert_int_equal(val.u, 0xaaa);
    assert_int_equal(decode_vector("t_enum300", 2, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_ENUM);
    assert_int_equal(val.u, 300);
    assert_int_equal(decode_vector("t_set64", 1, &val, &len, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_SET);
    assert_true(val.u == (1ull | 1ull << 63));
}

static void test_string_prefix_width_follows_max_length(void **state)
{
    (void)state;
    /* CHAR(100) utf8mb4 is 400 bytes: its meta arrives through the >255
     * trick and the value has a 2-byte length (row "09 00 'long char'"). */
    const mariadb_value_vector *v = find("t_char100", 1);
    assert_int_equal(v->meta, 400);
    test_column tc;
    column_of(v, &tc);
    size_t len, used;
    uint8_t *buf = tf_test_hex(v->hex, &len);
    tf_value val;
    tf_error err = {0};
    assert_int_equal(tf_value_decode(buf, len, &tc.col, &val, &used, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_STRING);
    assert_int_equal(val.bytes.len, 9);
    assert_memory_equal(val.bytes.ptr, "long char", 9);
    free(buf);
    /* VARBINARY(300): 2-byte length, binary charset -> bytes. */
    v = find("t_varbinary300", 1);
    column_of(v, &tc);
    buf = tf_test_hex(v->hex, &len);
    assert_int_equal(tf_value_decode(buf, len, &tc.col, &val, &used, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_BYTES);
    assert_int_equal(val.bytes.len, 300);
    free(buf);
}

static void test_truncated_value_message_names_type_field_and_offset(void **state)
{
    (void)state;
    tf_column col = {.type = TF_TYPE_DATETIME2, .meta = 6};
    static const uint8_t dt[] = {0x99, 0xb2, 0x44, 0x31, 0x05, 0x01, 0xe2};
    tf_value val;
    size_t used;
    tf_error err = {0};
    assert_int_equal(tf_value_decode(dt, sizeof dt, &col, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message, "DATETIME2 value: fractional seconds needs 3 bytes at "
                                     "offset 5 but only 2 remain");
    tf_column blob = {.type = TF_TYPE_BLOB, .meta = 2, .charset = 63};
    static const uint8_t b[] = {0x2c, 0x01, 0x5a};
    assert_int_equal(tf_value_decode(b, sizeof b, &blob, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message, "BLOB value: data of the length prefix needs 300 bytes at "
                                     "offset 2 but only 1 remain");
}

static void test_old_decimal_and_bad_metadata_are_rejected_clearly(void **state)
{
    (void)state;
    static const uint8_t buf[] = {0x31, 0x32};
    tf_value val;
    size_t used;
    tf_error err = {0};
    tf_column old = {.type = TF_TYPE_DECIMAL};
    assert_int_equal(tf_value_decode(buf, sizeof buf, &old, &val, &used, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_string_equal(err.message,
                        "DECIMAL value: the pre-5.0 DECIMAL type (0) is not supported; ALTER the "
                        "column to DECIMAL to convert it (offset 0)");
    tf_column bit = {.type = TF_TYPE_BIT, .meta = 0x0900};
    assert_int_equal(tf_value_decode(buf, sizeof buf, &bit, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message, "BIT value: metadata 0x0900 is not BIT(1..64) at offset 0");
    tf_column dec = {.type = TF_TYPE_NEWDECIMAL, .meta = 66 << 8};
    assert_int_equal(tf_value_decode(buf, sizeof buf, &dec, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "value at offset 0: NEWDECIMAL value: metadata precision 66 scale 0 "
                        "outside DECIMAL's 1..65 / 0..30 at offset 0");
    tf_column time2 = {.type = TF_TYPE_TIME2, .meta = 7};
    assert_int_equal(tf_value_decode(buf, sizeof buf, &time2, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "TIME2 value: fractional-second precision 7 in metadata is above 6 at "
                        "offset 0");
    tf_column vec = {.type = TF_TYPE_VECTOR, .meta = 4};
    static const uint8_t v3[] = {3, 0, 0, 0, 1, 2, 3};
    assert_int_equal(tf_value_decode(v3, sizeof v3, &vec, &val, &used, &err), TF_MALFORMED);
    assert_string_equal(
        err.message, "VECTOR value: vector length 3 is not a multiple of 4 (float32) at offset 0");
}

static void test_null_type_takes_no_bytes(void **state)
{
    (void)state;
    tf_column col = {.type = TF_TYPE_NULL};
    tf_value val;
    size_t used = 99;
    tf_error err = {0};
    assert_int_equal(tf_value_decode(NULL, 0, &col, &val, &used, &err), TF_OK);
    assert_int_equal(val.kind, TF_VAL_NULL);
    assert_int_equal(used, 0);
}

static void test_column_type_names(void **state)
{
    (void)state;
    assert_string_equal(tf_column_type_name(TF_TYPE_DATETIME2), "DATETIME2");
    assert_string_equal(tf_column_type_name(TF_TYPE_NEWDECIMAL), "NEWDECIMAL");
    assert_string_equal(tf_column_type_name(200), "UNKNOWN");
}

/* ---- tf_value_from_text: the snapshot's text resultsets ------------------ */

/* The value `text` reads to for v's column, as BSON {c: ...}. */
static bson_t *from_text_bson(const test_column *tc, const char *text, size_t len)
{
    tf_value val;
    tf_error err = {0};
    if (tf_value_from_text(&tc->col, text, len, &val, &err) != TF_OK)
        fail_msg("'%.*s' (%s): %s", (int)len, text, tf_column_type_name(tc->col.type), err.message);
    bson_t *doc = bson_new();
    assert_int_equal(tf_value_append_bson(doc, "c", 1, &val, &tc->col, &err), TF_OK);
    return doc;
}

/* What SELECT returned for each captured value reads back to the value the
 * binlog holds, as the view sees it (BSON, types included). FLOAT is
 * selected as DOUBLE by the snapshot (its 6-digit text does not read back)
 * and JSON's text is not its binary form: both are left out. */
static void test_select_text_reads_back_to_the_binlog_value(void **state)
{
    (void)state;
    size_t checked = 0;
    for (size_t i = 0; i < VECTOR_COUNT; i++) {
        const mariadb_value_vector *v = &mariadb_value_vectors[i];
        if (!v->hex || v->type == TF_TYPE_FLOAT || v->type == TF_TYPE_JSON)
            continue;
        test_column tc;
        tf_value val;
        uint8_t *buf = decode_captured(v, &tc, &val);
        size_t select_len;
        uint8_t *select = tf_test_hex(v->select_hex, &select_len);
        tf_error err = {0};
        bson_t *want = bson_new();
        assert_int_equal(tf_value_append_bson(want, "c", 1, &val, &tc.col, &err), TF_OK);
        bson_t *got = from_text_bson(&tc, (const char *)select, select_len);
        if (!bson_equal(got, want)) {
            char *g = bson_as_canonical_extended_json(got, NULL);
            char *w = bson_as_canonical_extended_json(want, NULL);
            fail_msg("%s id %d (%s %s): from text %s, binlog %s", v->table, v->id, v->sql_type,
                     v->sql_value, g, w);
        }
        checked++;
        bson_destroy(got);
        bson_destroy(want);
        free(buf);
        free(select);
        free(tc.names);
    }
    assert_true(checked > 120);
}

/* Text a server would never send is refused, naming column and text. */
static void test_malformed_text_is_refused_naming_the_column(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint16_t meta;
        bool is_unsigned;
        const char *text;
    } bad[] = {
        {TF_TYPE_LONG, 0, false, "12a"},
        {TF_TYPE_LONG, 0, false, " 12"},
        {TF_TYPE_LONG, 0, false, ""},
        {TF_TYPE_LONGLONG, 0, false, "9223372036854775808"},
        {TF_TYPE_LONGLONG, 0, true, "18446744073709551616"},
        {TF_TYPE_LONGLONG, 0, true, "-1"},
        {TF_TYPE_YEAR, 0, false, "2156"},
        {TF_TYPE_DOUBLE, 0, false, "1.5x"},
        {TF_TYPE_NEWDECIMAL, 0x0a02, false, "1.2.3"},
        {TF_TYPE_NEWDECIMAL, 0x0a02, false, "12."},
        {TF_TYPE_NEWDECIMAL, 0x0a02, false, "-"},
        {TF_TYPE_NEWDECIMAL, 0x0a02, false, "1e5"},
        {TF_TYPE_DATE, 0, false, "2024-13-01"},
        {TF_TYPE_DATE, 0, false, "2024-01-32"},
        {TF_TYPE_DATE, 0, false, "20240-01-01"},
        {TF_TYPE_DATE, 0, false, "2024-01-01 "},
        {TF_TYPE_DATETIME2, 6, false, "2024-01-01 24:00:00"},
        {TF_TYPE_DATETIME2, 6, false, "2024-01-01 10:60:00"},
        {TF_TYPE_DATETIME2, 6, false, "2024-01-01 10:00:00.1234567"},
        {TF_TYPE_DATETIME2, 6, false, "2024-01-01 10:00:00."},
        {TF_TYPE_TIMESTAMP2, 0, false, "2024-00-01 10:00:00"},
        {TF_TYPE_TIMESTAMP2, 0, false, "0000-01-00 00:00:00"},
        {TF_TYPE_TIME2, 0, false, "839:00:00"},
        {TF_TYPE_TIME2, 0, false, "10:00"},
        {TF_TYPE_BIT, 0x0800, false, "123456789"},
        {TF_TYPE_BIT, 0x0003, false, "ab"},
        {TF_TYPE_BIT, 0x7504, false, "a"},
        {TF_TYPE_ENUM, 0, false, "green"},
        {TF_TYPE_SET, 0, false, "red,green"},
    };
    tf_str colors[] = {{"red", 3}, {"blue", 4}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tf_column col = tf_test_column("weight", bad[i].type, false);
        col.meta = bad[i].meta;
        col.is_unsigned = bad[i].is_unsigned;
        col.enum_set_values = colors;
        col.enum_set_count = 2;
        tf_value val;
        tf_error err = {0};
        if (tf_value_from_text(&col, bad[i].text, strlen(bad[i].text), &val, &err) != TF_MALFORMED)
            fail_msg("'%s' (%s) was accepted", bad[i].text, tf_column_type_name(bad[i].type));
        char want[160];
        snprintf(want, sizeof want, "column weight (%s): cannot read the value '%s'",
                 tf_column_type_name(bad[i].type), bad[i].text);
        assert_string_equal(err.message, want);
        assert_int_equal(val.kind, TF_VAL_NULL);
    }
}

/* What servers do send at the edges: zero dates, the zero timestamp,
 * negative TIME, '' for an invalid ENUM value, the empty SET. */
static void test_edge_texts_read(void **state)
{
    (void)state;
    tf_str colors[] = {{"red", 3}, {"blue", 4}};
    tf_column col = tf_test_column("c", TF_TYPE_DATE, false);
    tf_value v;
    tf_error err = {0};
    assert_int_equal(tf_value_from_text(&col, "0000-00-00", 10, &v, &err), TF_OK);
    assert_int_equal(v.kind, TF_VAL_DATE);
    assert_int_equal(v.temporal.year, 0);
    col.type = TF_TYPE_TIMESTAMP2;
    assert_int_equal(tf_value_from_text(&col, "0000-00-00 00:00:00", 19, &v, &err), TF_OK);
    assert_int_equal(v.kind, TF_VAL_TIMESTAMP);
    assert_int_equal(v.timestamp.seconds, 0);
    assert_int_equal(tf_value_from_text(&col, "2038-01-19 03:14:07", 19, &v, &err), TF_OK);
    assert_int_equal(v.timestamp.seconds, INT32_MAX);
    col.type = TF_TYPE_TIME2;
    col.meta = 3;
    assert_int_equal(tf_value_from_text(&col, "-838:59:59.500", 14, &v, &err), TF_OK);
    assert_true(v.temporal.negative);
    assert_int_equal(v.temporal.hour, 838);
    assert_int_equal(v.temporal.microsecond, 500000);
    col.type = TF_TYPE_ENUM;
    col.enum_set_values = colors;
    col.enum_set_count = 2;
    assert_int_equal(tf_value_from_text(&col, "", 0, &v, &err), TF_OK);
    assert_int_equal(v.u, 0);
    assert_int_equal(tf_value_from_text(&col, "blue", 4, &v, &err), TF_OK);
    assert_int_equal(v.u, 2);
    col.type = TF_TYPE_SET;
    assert_int_equal(tf_value_from_text(&col, "", 0, &v, &err), TF_OK);
    assert_int_equal(v.u, 0);
    assert_int_equal(tf_value_from_text(&col, "red,blue", 8, &v, &err), TF_OK);
    assert_int_equal(v.u, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_mariadb_value_decodes_to_what_select_returns),
        cmocka_unit_test(test_every_truncation_is_malformed_with_a_message),
        cmocka_unit_test(test_integers_sign_extend_and_keep_unsigned),
        cmocka_unit_test(test_string_prefix_width_follows_max_length),
        cmocka_unit_test(test_truncated_value_message_names_type_field_and_offset),
        cmocka_unit_test(test_old_decimal_and_bad_metadata_are_rejected_clearly),
        cmocka_unit_test(test_null_type_takes_no_bytes),
        cmocka_unit_test(test_column_type_names),
        cmocka_unit_test(test_select_text_reads_back_to_the_binlog_value),
        cmocka_unit_test(test_malformed_text_is_refused_naming_the_column),
        cmocka_unit_test(test_edge_texts_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
