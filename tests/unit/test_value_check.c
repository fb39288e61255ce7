/* test_value_check.c — the validation-only path of the row loop
 * (tf_value_check_fast, taken by tf_rows_next when nobody keeps an image's
 * values) against tf_value_decode, the decoder it stands in for: it accepts
 * exactly the values the decoder accepts, with the same sizes, on the
 * MariaDB value vectors and on bytes shaped to hit every check; and a rows
 * event read without images fails with the same message, at the same row,
 * as one read with them, whatever byte of its rows is damaged. */
#include "support.h"

#include "value_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "value_vectors_mariadb.h"

/* Types tf_value_check_fast decides on its own (the others it hands to
 * tf_value_decode by returning false). */
static bool check_covers(uint8_t type)
{
    switch ((tf_column_type)type) {
    case TF_TYPE_TINY:
    case TF_TYPE_YEAR:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24:
    case TF_TYPE_LONG:
    case TF_TYPE_FLOAT:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_DOUBLE:
    case TF_TYPE_ENUM:
    case TF_TYPE_SET:
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING:
    case TF_TYPE_BLOB:
    case TF_TYPE_JSON:
    case TF_TYPE_GEOMETRY:
    case TF_TYPE_TINY_BLOB:
    case TF_TYPE_MEDIUM_BLOB:
    case TF_TYPE_LONG_BLOB:
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE:
    case TF_TYPE_DATETIME2:
    case TF_TYPE_TIMESTAMP2:
    case TF_TYPE_NEWDECIMAL: return true;
    default: return false;
    }
}

/* The check against the decoder on one input: never accepts what the
 * decoder rejects, never with another size; on covered types accepts
 * everything the decoder accepts. */
static void agree(const tf_column *col, const uint8_t *p, size_t len)
{
    tf_value v;
    size_t consumed = 0, used = 0;
    tf_error err = {0};
    bool decoded = tf_value_decode(p, len, col, &v, &consumed, &err) == TF_OK;
    bool checked = tf_value_check_fast(p, len, col, &used);
    if (checked && !decoded)
        fail_msg("%s meta 0x%04x, %zu bytes: check accepts, decode says \"%s\"",
                 tf_column_type_name(col->type), col->meta, len, err.message);
    if (checked && used != consumed)
        fail_msg("%s meta 0x%04x: check takes %zu bytes, decode %zu",
                 tf_column_type_name(col->type), col->meta, used, consumed);
    if (decoded && !checked && check_covers(col->type))
        fail_msg("%s meta 0x%04x, %zu bytes: decode accepts, check does not",
                 tf_column_type_name(col->type), col->meta, len);
}

static void test_check_agrees_with_decode_on_every_mariadb_vector(void **state)
{
    (void)state;
    size_t covered = 0;
    for (size_t i = 0; i < sizeof mariadb_value_vectors / sizeof mariadb_value_vectors[0]; i++) {
        const mariadb_value_vector *vec = &mariadb_value_vectors[i];
        if (!vec->hex)
            continue;
        tf_column col = {.type = vec->type,
                         .meta = vec->meta,
                         .is_unsigned = vec->is_unsigned,
                         .charset = vec->charset};
        size_t len;
        uint8_t *bytes = tf_test_hex(vec->hex, &len);
        agree(&col, bytes, len);
        covered += check_covers(col.type);
        free(bytes);
    }
    assert_true(covered > 50);
}

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Bytes near the edges the checks test (sign bits, 10^n, 59, 23, 12)
 * more often than uniform bytes would give them. */
static uint8_t shaped_byte(uint64_t *seed)
{
    static const uint8_t edges[] = {0x00, 0x01, 0x05, 0x09, 0x0f, 0x17, 0x3b, 0x3c,
                                    0x63, 0x7f, 0x80, 0x81, 0x99, 0xc4, 0xf0, 0xff};
    uint64_t r = next_random(seed);
    return (r & 3) ? edges[(r >> 8) % sizeof edges] : (uint8_t)(r >> 16);
}

static void agree_on_shaped_inputs(const tf_column *col, size_t max_len, int rounds, uint64_t *seed)
{
    uint8_t buf[80];
    assert_true(max_len <= sizeof buf);
    for (int k = 0; k < rounds; k++) {
        size_t len = (size_t)(next_random(seed) % (max_len + 1));
        for (size_t i = 0; i < len; i++)
            buf[i] = shaped_byte(seed);
        /* A short length prefix now and then, so strings fit. */
        if (len > 0 && (k & 1))
            buf[0] = (uint8_t)(next_random(seed) % (len + 1));
        agree(col, buf, len);
    }
}

/* A DECIMAL(precision, scale) as the server lays it out (decimal.c), each
 * digit group at or next to its limit 10^digits, or random; negative
 * values inverted. */
static size_t shaped_decimal(unsigned precision, unsigned scale, uint8_t *out, uint64_t *seed)
{
    static const uint8_t group_bytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
    static const uint32_t power10[10] = {1,      10,      100,      1000,      10000,
                                         100000, 1000000, 10000000, 100000000, 1000000000};
    unsigned intg = precision - scale;
    unsigned digits[20];
    size_t n = 0;
    if (intg % 9)
        digits[n++] = intg % 9;
    for (unsigned g = 0; g < intg / 9; g++)
        digits[n++] = 9;
    for (unsigned g = 0; g < scale / 9; g++)
        digits[n++] = 9;
    if (scale % 9)
        digits[n++] = scale % 9;
    size_t len = 0;
    for (size_t g = 0; g < n; g++) {
        uint32_t limit = power10[digits[g]];
        uint64_t r = next_random(seed);
        uint32_t v;
        switch (r % 6) {
        case 0: v = limit; break;
        case 1: v = limit - 1; break;
        case 2: v = limit + 1; break;
        case 3: v = 0; break;
        case 4: v = (uint32_t)(r >> 32); break;
        default: v = (uint32_t)((r >> 32) % limit); break;
        }
        for (unsigned b = group_bytes[digits[g]]; b > 0; b--)
            out[len++] = (uint8_t)(v >> (8 * (b - 1)));
    }
    if (len > 0) {
        out[0] ^= 0x80;
        if (next_random(seed) & 1)
            for (size_t i = 0; i < len; i++)
                out[i] = (uint8_t)~out[i];
    }
    return len;
}

static void test_check_agrees_with_decode_on_every_decimal_shape(void **state)
{
    (void)state;
    uint64_t seed = 0x1234567;
    uint8_t buf[48];
    for (unsigned precision = 0; precision <= 66; precision++)
        for (unsigned scale = 0; scale <= 31 && scale <= precision + 1; scale++) {
            tf_column col = {.type = TF_TYPE_NEWDECIMAL,
                             .meta = (uint16_t)(precision << 8 | scale)};
            agree_on_shaped_inputs(&col, 34, 200, &seed);
            if (precision < 1 || precision > 65 || scale > 30 || scale > precision)
                continue;
            for (int k = 0; k < 400; k++) {
                size_t len = shaped_decimal(precision, scale, buf, &seed);
                agree(&col, buf, len);
                agree(&col, buf, len - 1); /* one byte short */
            }
        }
}

static void test_check_agrees_with_decode_on_temporal_shapes(void **state)
{
    (void)state;
    uint64_t seed = 99;
    static const uint8_t types[] = {TF_TYPE_DATETIME2, TF_TYPE_TIMESTAMP2, TF_TYPE_DATE,
                                    TF_TYPE_NEWDATE};
    for (size_t t = 0; t < sizeof types; t++)
        for (uint16_t fsp = 0; fsp <= 8; fsp++) {
            tf_column col = {.type = types[t], .meta = fsp};
            agree_on_shaped_inputs(&col, 10, 200000, &seed);
        }
}

static void test_check_agrees_with_decode_on_other_types(void **state)
{
    (void)state;
    uint64_t seed = 7;
    for (unsigned type = 0; type < 256; type++)
        for (uint16_t meta = 0; meta <= 10; meta++) {
            tf_column col = {.type = (uint8_t)type, .meta = meta, .charset = 45};
            agree_on_shaped_inputs(&col, 12, 300, &seed);
            col.meta = (uint16_t)(meta + 250);
            agree_on_shaped_inputs(&col, 12, 100, &seed);
        }
}

/* Every row of a rows event read with and without images: same status,
 * same message, same position. */
static void rows_agree(const tf_event *ev, const tf_table_map *map)
{
    enum {
        MAX_COLUMNS = 64
    };
    tf_value before[MAX_COLUMNS], after[MAX_COLUMNS];
    assert_true(map->column_count <= MAX_COLUMNS);
    tf_rows_cursor with, without;
    tf_error err_with = {0}, err_without = {0};
    assert_int_equal(tf_rows_begin(&with, ev, map, &err_with), TF_OK);
    assert_int_equal(tf_rows_begin(&without, ev, map, &err_without), TF_OK);
    while (tf_rows_has_next(&with)) {
        assert_true(tf_rows_has_next(&without));
        tf_status a = tf_rows_next(&with, before, after, &err_with);
        tf_status b = tf_rows_next(&without, NULL, NULL, &err_without);
        assert_int_equal(a, b);
        assert_int_equal(with.pos, without.pos);
        if (a != TF_OK) {
            assert_string_equal(err_with.message, err_without.message);
            break;
        }
    }
    tf_rows_cleanup(&with);
    tf_rows_cleanup(&without);
}

/* Damages each byte of each rows event's rows in turn (the events are
 * decoded, checksum included, before the damage). */
static void damage_every_rows_byte(const char *path)
{
    size_t len;
    uint8_t *buf = tf_test_read_file(path, &len);
    assert_non_null(buf);
    tf_error err = {0};
    tf_binlog_reader reader;
    assert_int_equal(tf_binlog_reader_init(&reader, buf, len, &err), TF_OK);
    tf_table_maps *maps = tf_table_maps_new();
    size_t rows_events = 0;
    while (!tf_binlog_reader_at_end(&reader)) {
        tf_event ev;
        assert_int_equal(tf_binlog_reader_next(&reader, &ev, &err), TF_OK);
        if (ev.kind == TF_EVENT_TABLE_MAP)
            assert_int_equal(tf_table_maps_add_event(maps, &ev, &err), TF_OK);
        if (ev.kind != TF_EVENT_ROWS || ev.rows.compressed)
            continue;
        const tf_table_map *map;
        assert_int_equal(tf_table_maps_find(maps, &ev, &map, &err), TF_OK);
        rows_events++;
        uint8_t *rows = (uint8_t *)ev.rows.rows;
        for (size_t i = 0; i < ev.rows.rows_len; i++) {
            uint8_t orig = rows[i];
            static const uint8_t damage[] = {0x00, 0xff, 0x80, 0x7f, 0x3c, 0x18};
            for (size_t d = 0; d < sizeof damage + 2; d++) {
                rows[i] = d < sizeof damage ? damage[d]
                                            : (uint8_t)(orig ^ (d == sizeof damage ? 1 : 0x40));
                rows_agree(&ev, map);
            }
            rows[i] = orig;
        }
        rows_agree(&ev, map);
    }
    assert_true(rows_events > 0);
    tf_table_maps_destroy(maps);
    free(buf);
}

static void test_rows_without_images_fail_as_with_them(void **state)
{
    (void)state;
    damage_every_rows_byte(TF_VECTORS_DIR "/mariadb-10.11-events.000005");
    damage_every_rows_byte(TF_VECTORS_DIR "/mariadb-10.11-partial-images.000013");
    char path[512];
    if (!tf_test_fixture("rust_mysql_common/mariadb-bin.000001", path, sizeof path))
        skip();
    damage_every_rows_byte(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_agrees_with_decode_on_every_mariadb_vector),
        cmocka_unit_test(test_check_agrees_with_decode_on_every_decimal_shape),
        cmocka_unit_test(test_check_agrees_with_decode_on_temporal_shapes),
        cmocka_unit_test(test_check_agrees_with_decode_on_other_types),
        cmocka_unit_test(test_rows_without_images_fail_as_with_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
