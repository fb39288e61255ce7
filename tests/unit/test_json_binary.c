/* test_json_binary.c — MySQL binary JSON to BSON and PARTIAL_UPDATE_ROWS
 * JSON diffs, on the real MySQL files in ../shared/fixtures:
 *   rust_mysql_common/json.binlog.000001 (MySQL 8.0.22):
 *     CREATE TABLE t(id INT PRIMARY KEY AUTO_INCREMENT, json_col JSON,
 *       name VARCHAR(100) AS (json_col->>'$.name'),
 *       age INT AS (json_col->'$.age'))
 *     so every row carries the server's own reading of $.name and $.age to
 *     compare with ours; it ends with one PARTIAL_UPDATE_ROWS event
 *     (JSON_SET of $.age) whose diffs we apply to the previous image.
 *   rust_mysql_common/json-opaque.binlog (MySQL 9.0.1): opaque values,
 *     expected values as rust_mysql_common's binlog test states them.
 * Malformed input (truncations, bad offsets, loops, depth) must give an
 * error and never a crash (run under the ASan build too). */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every row change of a fixture, as BSON row documents keyed "@1".."@N",
 * plus the raw JSON values and diffs (borrowed from the file buffer). */
typedef struct fixture_rows {
    uint8_t *file;
    size_t file_len;
    size_t count;
    struct row {
        tf_rows_kind kind;
        bson_t before, after;
        const uint8_t *json[2]; /* first JSON column: before, after bytes */
        size_t json_len[2];
        tf_value_kind json_kind[2];
    } rows[64];
} fixture_rows;

static void append_image(bson_t *doc, const tf_table_map *map, const tf_value *vals,
                         struct row *row, int which)
{
    for (uint32_t c = 0; c < map->column_count; c++) {
        char key[16];
        snprintf(key, sizeof key, "@%u", c + 1);
        tf_error err = {0};
        if (vals[c].kind == TF_VAL_JSON || vals[c].kind == TF_VAL_JSON_DIFF) {
            row->json[which] = vals[c].bytes.ptr;
            row->json_len[which] = vals[c].bytes.len;
            row->json_kind[which] = vals[c].kind;
            if (vals[c].kind == TF_VAL_JSON_DIFF)
                continue;
        }
        if (tf_value_append_bson(doc, key, strlen(key), &vals[c], &map->columns[c], &err) != TF_OK)
            fail_msg("%s: %s", key, err.message);
    }
}

static bool load_rows(const char *fixture, fixture_rows *out)
{
    char path[512];
    memset(out, 0, sizeof *out);
    if (!tf_test_fixture(fixture, path, sizeof path))
        return false;
    out->file = tf_test_read_file(path, &out->file_len);
    assert_non_null(out->file);
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, out->file, out->file_len, &err), TF_OK);
    tf_table_maps *maps = tf_table_maps_new();
    tf_value before[16], after[16];
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        if (tf_binlog_reader_next(&r, &ev, &err) != TF_OK)
            fail_msg("%s: %s", fixture, err.message);
        if (ev.kind == TF_EVENT_TABLE_MAP) {
            assert_int_equal(tf_table_maps_add_event(maps, &ev, &err), TF_OK);
            continue;
        }
        if (ev.kind != TF_EVENT_ROWS)
            continue;
        const tf_table_map *map;
        assert_int_equal(tf_table_maps_find(maps, &ev, &map, &err), TF_OK);
        assert_true(map->column_count <= 16);
        tf_rows_cursor cur;
        assert_int_equal(tf_rows_begin(&cur, &ev, map, &err), TF_OK);
        while (tf_rows_has_next(&cur)) {
            if (tf_rows_next(&cur, before, after, &err) != TF_OK)
                fail_msg("%s: %s", fixture, err.message);
            assert_true(out->count < 64);
            struct row *row = &out->rows[out->count++];
            row->kind = ev.rows.kind;
            bson_init(&row->before);
            bson_init(&row->after);
            append_image(&row->before, map, before, row, 0);
            append_image(&row->after, map, after, row, 1);
        }
        tf_rows_cleanup(&cur);
    }
    tf_table_maps_destroy(maps);
    return true;
}

static void free_rows(fixture_rows *rows)
{
    for (size_t i = 0; i < rows->count; i++) {
        bson_destroy(&rows->rows[i].before);
        bson_destroy(&rows->rows[i].after);
    }
    free(rows->file);
}

static char *json_of(const bson_t *doc, const char *key)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, key))
        return bson_strdup("(absent)");
    bson_t one = BSON_INITIALIZER;
    bson_append_iter(&one, "v", 1, &it);
    char *s = bson_as_relaxed_extended_json(&one, NULL);
    bson_destroy(&one);
    return s;
}

#define assert_field(doc, key, expected)     \
    do {                                     \
        char *got_ = json_of(doc, key);      \
        assert_string_equal(got_, expected); \
        bson_free(got_);                     \
    } while (0)

/* The server's generated columns name (@3) and age (@4) equal our reading
 * of $.name and $.age of the JSON column (@2). */
static void assert_json_matches_generated_columns(const bson_t *row)
{
    bson_iter_t it, sub;
    assert_true(bson_iter_init_find(&it, row, "@2"));
    assert_true(BSON_ITER_HOLDS_DOCUMENT(&it));
    assert_true(bson_iter_recurse(&it, &sub));
    assert_true(bson_iter_find(&sub, "name"));
    uint32_t n;
    const char *name = bson_iter_utf8(&sub, &n);
    bson_iter_t gen;
    assert_true(bson_iter_init_find(&gen, row, "@3"));
    assert_string_equal(name, bson_iter_utf8(&gen, NULL));
    assert_true(bson_iter_recurse(&it, &sub));
    assert_true(bson_iter_find(&sub, "age"));
    assert_true(bson_iter_init_find(&gen, row, "@4"));
    assert_int_equal(bson_iter_int32(&sub), bson_iter_int32(&gen));
}

static void test_mysql8_json_objects_match_generated_columns(void **state)
{
    (void)state;
    fixture_rows rows;
    if (!load_rows("rust_mysql_common/json.binlog.000001", &rows))
        skip();
    assert_int_equal(rows.count, 18); /* 6 inserts, 6 updates, 6 partial */
    assert_field(&rows.rows[0].after, "@2",
                 "{ \"v\" : { \"age\" : 24, \"data\" : \"xxxxxxxxxx\", \"name\" : \"Joe\" } }");
    assert_field(&rows.rows[2].after, "@2",
                 "{ \"v\" : { \"age\" : 40, \"data\" : \"zzzzzzzzzz\", \"name\" : \"Pete\" } }");
    for (size_t i = 0; i < 12; i++) {
        assert_json_matches_generated_columns(&rows.rows[i].after);
        if (rows.rows[i].kind == TF_ROWS_UPDATE)
            assert_json_matches_generated_columns(&rows.rows[i].before);
    }
    char *text = tf_json_binary_to_text(rows.rows[1].json[1], rows.rows[1].json_len[1], NULL);
    assert_string_equal(text, "{ \"age\" : 32, \"data\" : \"yyyyyyyyyy\", \"name\" : \"Sue\" }");
    bson_free(text);
    free_rows(&rows);
}

static void test_partial_update_diff_applies_to_previous_image(void **state)
{
    (void)state;
    fixture_rows rows;
    if (!load_rows("rust_mysql_common/json.binlog.000001", &rows))
        skip();
    for (size_t i = 12; i < 18; i++) {
        struct row *partial = &rows.rows[i];
        assert_int_equal(partial->kind, TF_ROWS_PARTIAL_UPDATE);
        assert_int_equal(partial->json_kind[1], TF_VAL_JSON_DIFF);
        /* One diff: REPLACE $.age with the new number. */
        size_t pos = 0;
        tf_json_diff d;
        tf_error err = {0};
        assert_int_equal(tf_json_diff_next(partial->json[1], partial->json_len[1], &pos, &d, &err),
                         TF_OK);
        assert_int_equal(d.op, TF_JSON_DIFF_REPLACE);
        assert_int_equal(d.path.len, 5);
        assert_memory_equal(d.path.ptr, "$.age", 5);
        assert_int_equal(pos, partial->json_len[1]);
        /* The row's previous full image is the after image of the UPDATE
         * six rows earlier (same id). */
        const bson_t *previous = &rows.rows[i - 6].after;
        bson_t applied = BSON_INITIALIZER;
        if (tf_json_diff_apply_bson(previous, "@2", 2, partial->json[1], partial->json_len[1],
                                    &applied, &err) != TF_OK)
            fail_msg("%s", err.message);
        /* Every other field copied; @2.age now equals the server's @4. */
        bson_iter_t a, b;
        assert_true(bson_iter_init_find(&a, &applied, "@1"));
        assert_true(bson_iter_init_find(&b, previous, "@1"));
        assert_int_equal(bson_iter_int32(&a), bson_iter_int32(&b));
        bson_t check = BSON_INITIALIZER;
        bson_copy_to_excluding_noinit(&applied, &check, "@3", "@4", NULL);
        bson_iter_init_find(&a, &partial->after, "@3");
        bson_append_iter(&check, "@3", 2, &a);
        bson_iter_init_find(&a, &partial->after, "@4");
        bson_append_iter(&check, "@4", 2, &a);
        assert_json_matches_generated_columns(&check);
        bson_destroy(&check);
        bson_destroy(&applied);
    }
    /* Row id 3: age 41 after the UPDATE, 42 after JSON_SET. */
    bson_t applied = BSON_INITIALIZER;
    assert_int_equal(tf_json_diff_apply_bson(&rows.rows[8].after, "@2", 2, rows.rows[14].json[1],
                                             rows.rows[14].json_len[1], &applied, NULL),
                     TF_OK);
    assert_field(&applied, "@2",
                 "{ \"v\" : { \"age\" : 42, \"data\" : \"zzzzzzzzzz\", \"name\" : \"Pete\" } }");
    bson_destroy(&applied);
    free_rows(&rows);
}

static void test_opaque_values_keep_their_mysql_type(void **state)
{
    (void)state;
    fixture_rows rows;
    if (!load_rows("rust_mysql_common/json-opaque.binlog", &rows))
        skip();
    static const char *const expected[] = {
        "{ \"v\" : { \"a\" : { \"$binary\" : { \"base64\" : \"VQ==\", \"subType\" : \"00\" } } } }",
        "{ \"v\" : { \"b\" : { \"$date\" : \"2012-03-18T00:00:00Z\" } } }",
        "{ \"v\" : { \"c\" : { \"$date\" : \"2012-03-18T11:30:45Z\" } } }",
        "{ \"v\" : { \"c\" : \"87:31:46.654321\" } }",
        "{ \"v\" : { \"d\" : { \"$numberDecimal\" : \"123.456\" } } }",
        "{ \"v\" : { \"e\" : { \"$numberDecimal\" : \"9.00\" } } }",
        "{ \"v\" : { \"e\" : [ 0, 1, true, false ] } }",
        "{ \"v\" : { \"e\" : null } }",
    };
    assert_int_equal(rows.count, 8);
    for (size_t i = 0; i < 8; i++)
        assert_field(&rows.rows[i].after, "@1", expected[i]);
    free_rows(&rows);
}

/* Decodes buf with a fresh parent; returns the status. */
static tf_status decode(const uint8_t *buf, size_t len, tf_error *err)
{
    bson_t doc = BSON_INITIALIZER;
    tf_status st = tf_json_binary_append_bson(&doc, "j", 1, buf, len, err);
    bson_destroy(&doc);
    return st;
}

static void test_every_truncation_and_byte_flip_is_safe(void **state)
{
    (void)state;
    fixture_rows rows;
    if (!load_rows("rust_mysql_common/json.binlog.000001", &rows))
        skip();
    const uint8_t *doc = rows.rows[0].json[1];
    size_t len = rows.rows[0].json_len[1];
    for (size_t cut = 1; cut < len; cut++) {
        uint8_t *copy = malloc(cut);
        memcpy(copy, doc, cut);
        tf_error err = {0};
        assert_int_equal(decode(copy, cut, &err), TF_MALFORMED);
        assert_true(strlen(err.message) > 0);
        free(copy);
    }
    /* Any single corrupted byte: an answer, never a crash or overread. */
    uint8_t *copy = malloc(len);
    for (size_t i = 0; i < len; i++) {
        static const uint8_t patterns[] = {0x00, 0xff, 0x7f, 0x80, 0x01};
        for (size_t p = 0; p < sizeof patterns; p++) {
            memcpy(copy, doc, len);
            copy[i] = patterns[p];
            tf_error err = {0};
            tf_status st = decode(copy, len, &err);
            assert_true(st == TF_OK || (st == TF_MALFORMED && err.message[0]));
        }
    }
    free(copy);
    /* Diff list: every truncation is malformed. */
    const uint8_t *diff = rows.rows[12].json[1];
    size_t diff_len = rows.rows[12].json_len[1];
    for (size_t cut = 1; cut < diff_len; cut++) {
        uint8_t *c = malloc(cut);
        memcpy(c, diff, cut);
        size_t pos = 0;
        tf_json_diff d;
        tf_error err = {0};
        tf_status st = tf_json_diff_next(c, cut, &pos, &d, &err);
        if (st == TF_OK) /* a shorter value is itself cut: applying fails */
            st = tf_json_diff_apply_bson(&rows.rows[6].after, "@2", 2, c, cut, &(bson_t){0}, &err);
        assert_int_equal(st, TF_MALFORMED);
        free(c);
    }
    free_rows(&rows);
}

static void test_offsets_outside_the_container_are_errors(void **state)
{
    (void)state;
    tf_error err = {0};
    /* small array, 1 element, size 7, value entry: string at offset 200 */
    static const uint8_t far[] = {0x02, 0x01, 0x00, 0x07, 0x00, 0x0c, 0xc8, 0x00};
    assert_int_equal(decode(far, sizeof far, &err), TF_MALFORMED);
    assert_string_equal(
        err.message,
        "JSON array: value 0 offset 200 is outside the array's data (7..7) at offset 6");
    /* size field larger than the document */
    static const uint8_t big[] = {0x00, 0x01, 0x00, 0xff, 0x00};
    assert_int_equal(decode(big, sizeof big, &err), TF_MALFORMED);
    assert_string_equal(
        err.message,
        "JSON object: byte size 255 runs past its enclosing value (4 bytes) at offset 3");
    /* key running past the object */
    static const uint8_t key[] = {0x00, 0x01, 0x00, 0x0b, 0x00, 0x0b,
                                  0x00, 0x09, 0x00, 0x04, 0x01, 0x00};
    assert_int_equal(decode(key, sizeof key, &err), TF_MALFORMED);
    assert_string_equal(err.message, "JSON object: key 0 (offset 11, length 9) runs past the "
                                     "object's 11 bytes at offset 5");
    /* unknown type */
    static const uint8_t unknown[] = {0x0d, 0x00};
    assert_int_equal(decode(unknown, sizeof unknown, &err), TF_MALFORMED);
    assert_string_equal(err.message, "JSON value: unknown value type 0x0d at offset 1");
}

static void test_self_referencing_containers_stop_with_an_error(void **state)
{
    (void)state;
    tf_error err = {0};
    /* A large array whose two elements both point at the array's own
     * value entries region: each level re-reads the same bytes, so decoding
     * would repeat forever (or 2^depth times) without the limits. */
    static const uint8_t loop[] = {0x03, 0x02, 0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03,
                                   0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00};
    tf_status st = decode(loop, sizeof loop, &err);
    assert_int_equal(st, TF_MALFORMED);
    assert_non_null(strstr(err.message, "JSON array"));
}

static void test_nesting_deeper_than_100_is_an_error(void **state)
{
    (void)state;
    /* [[[...[]...]]] 102 levels, small arrays of one element each. */
    enum {
        LEVELS = 102
    };
    size_t len = 1 + LEVELS * 7 - 3;
    uint8_t *buf = calloc(1, len + 8);
    buf[0] = 0x02;
    size_t pos = 1;
    for (int level = 0; level < LEVELS; level++) {
        size_t remaining = len - pos;
        if (level == LEVELS - 1) { /* innermost: empty array */
            buf[pos] = 0;
            buf[pos + 2] = 4;
            pos += 4;
            break;
        }
        buf[pos] = 1;
        buf[pos + 2] = (uint8_t)(remaining & 0xff);
        buf[pos + 3] = (uint8_t)(remaining >> 8);
        buf[pos + 4] = 0x02;
        buf[pos + 5] = 7;
        pos += 7;
    }
    tf_error err = {0};
    assert_int_equal(decode(buf, pos, &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "nesting deeper than 100 levels"));
    free(buf);
}

static void test_empty_document_is_json_null(void **state)
{
    (void)state;
    bson_t doc = BSON_INITIALIZER;
    assert_int_equal(tf_json_binary_append_bson(&doc, "j", 1, NULL, 0, NULL), TF_OK);
    char *s = bson_as_relaxed_extended_json(&doc, NULL);
    assert_string_equal(s, "{ \"j\" : null }");
    bson_free(s);
    bson_destroy(&doc);
}

/* Diff lists framed by hand (op, lenenc path, lenenc value); the values are
 * binary JSON scalars: 0x05 int16, 0x0c string, 0x04 literal. */
static tf_status apply(const char *before_json, const uint8_t *diff, size_t len, char **out,
                       tf_error *err)
{
    bson_error_t berr;
    bson_t *before = bson_new_from_json((const uint8_t *)before_json, -1, &berr);
    assert_non_null(before);
    bson_t after = BSON_INITIALIZER;
    tf_status st = tf_json_diff_apply_bson(before, "j", 1, diff, len, &after, err);
    *out = st == TF_OK ? bson_as_relaxed_extended_json(&after, NULL) : NULL;
    bson_destroy(&after);
    bson_destroy(before);
    return st;
}

static void test_diff_insert_remove_in_arrays_and_quoted_members(void **state)
{
    (void)state;
    char *out;
    tf_error err = {0};
    /* INSERT $.a[1] = 7 ; REMOVE $.a[0] ; INSERT $."b c" = "x" ; REPLACE $.a[last] = true */
    static const uint8_t diff[] = {
        0x01, 6,    '$', '.', 'a',  '[', '1', ']', 3,   0x05, 0x07, 0x00, 0x02, 6,    '$',  '.',
        'a',  '[',  '0', ']', 0x01, 7,   '$', '.', '"', 'b',  ' ',  'c',  '"',  3,    0x0c, 0x01,
        'x',  0x00, 9,   '$', '.',  'a', '[', 'l', 'a', 's',  't',  ']',  2,    0x04, 0x01};
    assert_int_equal(apply("{\"id\": 1, \"j\": {\"a\": [1, 2, 3]}}", diff, sizeof diff, &out, &err),
                     TF_OK);
    assert_string_equal(out, "{ \"id\" : 1, \"j\" : { \"a\" : [ 7, 2, true ], \"b c\" : \"x\" } }");
    bson_free(out);
    /* INSERT past the end appends */
    static const uint8_t append[] = {0x01, 7,   '$', '.',  'a',  '[', '9',
                                     '9',  ']', 3,   0x05, 0x05, 0x00};
    assert_int_equal(apply("{\"j\": {\"a\": []}}", append, sizeof append, &out, &err), TF_OK);
    assert_string_equal(out, "{ \"j\" : { \"a\" : [ 5 ] } }");
    bson_free(out);
    /* REPLACE of a missing member is an error naming the path */
    static const uint8_t missing[] = {0x00, 4, '$', '.', 'z', 'z', 2, 0x04, 0x00};
    assert_int_equal(apply("{\"j\": {\"a\": 1}}", missing, sizeof missing, &out, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "JSON diff at offset 0: JSON diff REPLACE $.zz: the path does "
                                     "not exist in the before image");
    /* REPLACE $ replaces the whole value */
    static const uint8_t whole[] = {0x00, 1, '$', 2, 0x04, 0x00};
    assert_int_equal(apply("{\"j\": {\"a\": 1}, \"k\": 2}", whole, sizeof whole, &out, &err),
                     TF_OK);
    assert_string_equal(out, "{ \"j\" : null, \"k\" : 2 }");
    bson_free(out);
    /* unknown operation */
    static const uint8_t bad_op[] = {0x03, 1, '$'};
    assert_int_equal(apply("{\"j\": 1}", bad_op, sizeof bad_op, &out, &err), TF_MALFORMED);
    assert_string_equal(err.message, "JSON diff: operation 3 is not REPLACE (0), INSERT (1) or "
                                     "REMOVE (2) at offset 0");
    /* wildcard path */
    static const uint8_t wild[] = {0x02, 4, '$', '[', '*', ']'};
    assert_int_equal(apply("{\"j\": [1]}", wild, sizeof wild, &out, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "JSON diff at offset 0: JSON diff path: array leg needs an "
                        "index (wildcards and ranges cannot name one value) at offset 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql8_json_objects_match_generated_columns),
        cmocka_unit_test(test_partial_update_diff_applies_to_previous_image),
        cmocka_unit_test(test_opaque_values_keep_their_mysql_type),
        cmocka_unit_test(test_every_truncation_and_byte_flip_is_safe),
        cmocka_unit_test(test_offsets_outside_the_container_are_errors),
        cmocka_unit_test(test_self_referencing_containers_stop_with_an_error),
        cmocka_unit_test(test_nesting_deeper_than_100_is_an_error),
        cmocka_unit_test(test_empty_document_is_json_null),
        cmocka_unit_test(test_diff_insert_remove_in_arrays_and_quoted_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
