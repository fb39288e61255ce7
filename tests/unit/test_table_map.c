/* test_table_map.c — TABLE_MAP decoded into an owned tf_table_map: real
 * types of ENUM/SET, normalised metadata, nullability and every optional
 * metadata field, on real events (local MariaDB 10.11 capture, see
 * tests/vectors/mariadb-10.11-events.txt for the CREATE TABLE; MySQL 8.0.28
 * fixture mysql-enum-string-set.000001), plus bad lengths and the registry. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The TABLE_MAP of tf_events_test.items at offset 1384, 163 bytes. */
#define ITEMS_MAP_OFFSET 1384
#define ITEMS_MAP_SIZE 163

static uint8_t *items_map_event(tf_format *fmt)
{
    size_t len;
    uint8_t *file = tf_test_read_file(TF_VECTORS_DIR "/mariadb-10.11-events.000005", &len);
    assert_non_null(file);
    tf_event ev;
    tf_error err = {0};
    tf_format_init(fmt, TF_CHECKSUM_UNDEF);
    assert_int_equal(tf_event_decode(file + 4, len - 4, fmt, &ev, NULL, &err), TF_OK);
    *fmt = ev.format_description;
    uint8_t *event = malloc(ITEMS_MAP_SIZE);
    memcpy(event, file + ITEMS_MAP_OFFSET, ITEMS_MAP_SIZE);
    free(file);
    return event;
}

static bool str_is(tf_str s, const char *expected)
{
    return s.len == strlen(expected) && memcmp(s.ptr, expected, s.len) == 0;
}

static void test_mariadb_full_metadata(void **state)
{
    (void)state;
    tf_format fmt;
    uint8_t *event = items_map_event(&fmt);
    tf_event ev;
    tf_error err = {0};
    assert_int_equal(tf_event_decode(event, ITEMS_MAP_SIZE, &fmt, &ev, NULL, &err), TF_OK);
    tf_table_map *m;
    assert_int_equal(tf_table_map_new(&ev, &m, &err), TF_OK);
    /* The map outlives its event buffer. */
    memset(event, 0xee, ITEMS_MAP_SIZE);
    free(event);

    assert_int_equal(m->table_id, 51);
    assert_string_equal(m->database.ptr, "tf_events_test");
    assert_string_equal(m->table.ptr, "items");
    assert_int_equal(m->column_count, 8);
    assert_int_equal(m->optional_metadata,
                     1u << TF_TABLE_META_SIGNEDNESS | 1u << TF_TABLE_META_COLUMN_CHARSET |
                         1u << TF_TABLE_META_COLUMN_NAME | 1u << TF_TABLE_META_SET_STR_VALUE |
                         1u << TF_TABLE_META_ENUM_STR_VALUE | 1u << TF_TABLE_META_GEOMETRY_TYPE |
                         1u << TF_TABLE_META_SIMPLE_PRIMARY_KEY |
                         1u << TF_TABLE_META_ENUM_AND_SET_DEFAULT_CHARSET);
    assert_int_equal(m->primary_key_count, 1);
    assert_int_equal(m->primary_key[0], 0);

    const tf_column *c = m->columns;
    /* id INT UNSIGNED NOT NULL, PRIMARY KEY */
    assert_true(str_is(c[0].name, "id"));
    assert_int_equal(c[0].type, TF_TYPE_LONG);
    assert_true(c[0].is_unsigned);
    assert_false(c[0].nullable);
    assert_true(c[0].is_primary_key);
    /* code CHAR(4) latin1 */
    assert_true(str_is(c[1].name, "code"));
    assert_int_equal(c[1].type, TF_TYPE_STRING);
    assert_int_equal(c[1].meta, 4);
    assert_int_equal(c[1].charset, 8); /* latin1_swedish_ci */
    /* name VARCHAR(20) utf8mb4 NULL */
    assert_int_equal(c[2].type, TF_TYPE_VARCHAR);
    assert_int_equal(c[2].meta, 80);
    assert_int_equal(c[2].charset, 45); /* utf8mb4_general_ci */
    assert_true(c[2].nullable);
    /* size ENUM('s','m','l'), written as STRING with ENUM in the metadata */
    assert_int_equal(c[3].type, TF_TYPE_ENUM);
    assert_int_equal(c[3].meta, 1);
    assert_int_equal(c[3].enum_set_count, 3);
    assert_true(str_is(c[3].enum_set_values[0], "s"));
    assert_true(str_is(c[3].enum_set_values[2], "l"));
    assert_int_equal(c[3].charset, 45);
    /* tags SET('red','green','blue') NULL */
    assert_int_equal(c[4].type, TF_TYPE_SET);
    assert_int_equal(c[4].enum_set_count, 3);
    assert_true(str_is(c[4].enum_set_values[1], "green"));
    assert_true(c[4].nullable);
    /* price DECIMAL(10,2) */
    assert_int_equal(c[5].type, TF_TYPE_NEWDECIMAL);
    assert_int_equal(c[5].meta, 10 << 8 | 2);
    assert_false(c[5].is_unsigned);
    /* spot POINT: MariaDB counts GEOMETRY among character columns */
    assert_int_equal(c[6].type, TF_TYPE_GEOMETRY);
    assert_int_equal(c[6].meta, 4);
    assert_int_equal(c[6].geometry_type, 1); /* POINT */
    assert_int_equal(c[6].charset, 63);
    /* note BLOB */
    assert_int_equal(c[7].type, TF_TYPE_BLOB);
    assert_int_equal(c[7].meta, 2);
    assert_int_equal(c[7].charset, TF_CHARSET_BINARY);
    tf_table_map_destroy(m);
}

static void test_mysql_enum_set_and_long_char(void **state)
{
    (void)state;
    char path[1024];
    if (!tf_test_fixture("rust_mysql_common/mysql-enum-string-set.000001", path, sizeof path))
        skip();
    size_t len;
    uint8_t *file = tf_test_read_file(path, &len);
    tf_binlog_reader r;
    tf_error err = {0};
    tf_event ev;
    assert_int_equal(tf_binlog_reader_init(&r, file, len, &err), TF_OK);
    do
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
    while (ev.kind != TF_EVENT_TABLE_MAP);
    tf_table_map *m;
    assert_int_equal(tf_table_map_new(&ev, &m, &err), TF_OK);
    free(file);
    assert_string_equal(m->table.ptr, "t");
    assert_int_equal(m->column_count, 5);
    /* f1 CHAR(128) utf8mb4: 512 bytes, over 255 so two length bits live in
     * the inverted type byte. */
    assert_int_equal(m->columns[0].type, TF_TYPE_STRING);
    assert_int_equal(m->columns[0].meta, 512);
    assert_int_equal(m->columns[0].charset, 255);
    assert_int_equal(m->columns[2].type, TF_TYPE_ENUM);
    assert_int_equal(m->columns[2].enum_set_count, 3);
    assert_true(str_is(m->columns[2].enum_set_values[1], "variant2"));
    assert_int_equal(m->columns[3].type, TF_TYPE_SET);
    assert_int_equal(m->columns[3].enum_set_count, 4);
    assert_true(str_is(m->columns[3].enum_set_values[3], "four"));
    tf_table_map_destroy(m);
}

/* Changes one byte of the items TABLE_MAP, fixes the CRC, and returns what
 * decode + tf_table_map_new say. */
static tf_status decode_patched(size_t at, uint8_t value, tf_error *err)
{
    tf_format fmt;
    uint8_t *event = items_map_event(&fmt);
    event[at] = value;
    uint32_t crc = (uint32_t)crc32(0, event, ITEMS_MAP_SIZE - 4);
    for (int i = 0; i < 4; i++)
        event[ITEMS_MAP_SIZE - 4 + i] = (uint8_t)(crc >> (8 * i));
    tf_event ev;
    tf_status st = tf_event_decode(event, ITEMS_MAP_SIZE, &fmt, &ev, NULL, err);
    if (st == TF_OK) {
        tf_table_map *m;
        st = tf_table_map_new(&ev, &m, err);
        tf_table_map_destroy(st == TF_OK ? m : NULL);
    }
    free(event);
    return st;
}

/* Layout of the items TABLE_MAP (event offsets): 19 table id, 25 flags,
 * 27 db length 14, 28 "tf_events_test", 43 table length 5, 44 "items",
 * 50 column count 8, 51 types, 59 metadata length 12, 60 metadata, 72 NULL
 * bitmap, 73 optional metadata (01 01 80, 03 04 ...), 159 CRC32. */
static void test_bad_column_count(void **state)
{
    (void)state;
    tf_error err = {0};
    assert_int_equal(decode_patched(50, 0xfa, &err), TF_MALFORMED);
    assert_string_equal(err.message, "TABLE_MAP event: column count 250 at offset 50 does not fit "
                                     "the 108 bytes left");
}

static void test_bad_metadata_length(void **state)
{
    (void)state;
    tf_error err = {0};
    assert_int_equal(decode_patched(59, 200, &err), TF_MALFORMED);
    assert_string_equal(err.message, "TABLE_MAP event: metadata length 200 at offset 59 runs past "
                                     "the end of the event (99 bytes left)");
    assert_int_equal(decode_patched(59, 9, &err), TF_MALFORMED);
    assert_string_equal(err.message, "TABLE_MAP event: metadata: column 5 metadata needs 1 "
                                     "bytes at offset 69 but only 0 remain");
}

static void test_bad_optional_metadata_length(void **state)
{
    (void)state;
    tf_error err = {0};
    assert_int_equal(decode_patched(74, 0x7f, &err), TF_MALFORMED);
    assert_string_equal(err.message, "TABLE_MAP event: optional metadata field 1: length 127 at "
                                     "offset 74 runs past the end of the event (84 bytes left)");
}

static void test_bad_primary_key_column(void **state)
{
    (void)state;
    tf_error err = {0};
    /* Last field: 08 01 00 (SIMPLE_PRIMARY_KEY, column 0) ends at 158. */
    assert_int_equal(decode_patched(158, 9, &err), TF_MALFORMED);
    assert_string_equal(err.message, "TABLE_MAP event: optional metadata field 8: primary key "
                                     "column 9 at offset 158 but the table has 8 columns");
}

static void test_not_nul_terminated_names(void **state)
{
    (void)state;
    tf_error err = {0};
    assert_int_equal(decode_patched(42, 'x', &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "TABLE_MAP event: database name not NUL-terminated at offset 42");
}

static void test_registry_replaces_same_table_id(void **state)
{
    (void)state;
    tf_format fmt;
    uint8_t *event = items_map_event(&fmt);
    tf_event ev;
    tf_error err = {0};
    assert_int_equal(tf_event_decode(event, ITEMS_MAP_SIZE, &fmt, &ev, NULL, &err), TF_OK);
    tf_table_maps *maps = tf_table_maps_new();
    assert_int_equal(tf_table_maps_add_event(maps, &ev, &err), TF_OK);
    const tf_table_map *first = tf_table_maps_get(maps, 51);
    assert_non_null(first);
    assert_int_equal(tf_table_maps_add_event(maps, &ev, &err), TF_OK);
    assert_int_equal(tf_table_maps_count(maps), 1);
    assert_null(tf_table_maps_get(maps, 52));
    /* Many ids: the table grows and keeps every map. */
    for (uint64_t id = 100; id < 200; id++) {
        tf_table_map *m;
        assert_int_equal(tf_table_map_new(&ev, &m, &err), TF_OK);
        m->table_id = id;
        assert_true(tf_table_maps_put_steal(maps, m));
    }
    assert_int_equal(tf_table_maps_count(maps), 101);
    for (uint64_t id = 100; id < 200; id++)
        assert_int_equal(tf_table_maps_get(maps, id)->table_id, id);
    tf_table_maps_clear(maps);
    assert_int_equal(tf_table_maps_count(maps), 0);
    tf_table_maps_destroy(maps);
    free(event);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mariadb_full_metadata),
        cmocka_unit_test(test_mysql_enum_set_and_long_char),
        cmocka_unit_test(test_bad_column_count),
        cmocka_unit_test(test_bad_metadata_length),
        cmocka_unit_test(test_bad_optional_metadata_length),
        cmocka_unit_test(test_bad_primary_key_column),
        cmocka_unit_test(test_not_nul_terminated_names),
        cmocka_unit_test(test_registry_replaces_same_table_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
