/* test_event.c — one test per event kind on real bytes from the local
 * MariaDB 10.11 (tests/vectors/mariadb-10.11-events.000005, see its .txt for
 * the SQL and the server's own SHOW BINLOG EVENTS listing the expected
 * values come from), plus malformed input: truncation at every offset, a
 * flipped byte anywhere, and random bytes. */
#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct capture {
    uint8_t *buf;
    size_t len;
    tf_format fmt; /* from the file's FDE */
} capture;

static int load_capture(void **state)
{
    capture *c = calloc(1, sizeof *c);
    c->buf = tf_test_read_file(TF_VECTORS_DIR "/mariadb-10.11-events.000005", &c->len);
    assert_non_null(c->buf);
    tf_event ev;
    tf_error err = {0};
    tf_format initial;
    tf_format_init(&initial, TF_CHECKSUM_UNDEF);
    assert_int_equal(tf_event_decode(c->buf + 4, c->len - 4, &initial, &ev, NULL, &err), TF_OK);
    c->fmt = ev.format_description;
    *state = c;
    return 0;
}

static int free_capture(void **state)
{
    capture *c = *state;
    free(c->buf);
    free(c);
    return 0;
}

/* Decodes the event at a file offset of the capture. */
static void event_at(const capture *c, size_t offset, tf_event *ev)
{
    tf_error err = {0};
    size_t consumed = 0;
    tf_status st = tf_event_decode(c->buf + offset, c->len - offset, &c->fmt, ev, &consumed, &err);
    if (st != TF_OK)
        fail_msg("event at %zu: %s", offset, err.message);
    assert_int_equal(consumed, ev->header.event_size);
}

static bool str_is(tf_str s, const char *expected)
{
    return s.len == strlen(expected) && memcmp(s.ptr, expected, s.len) == 0;
}

static void test_format_description_mariadb_10_11(void **state)
{
    capture *c = *state;
    tf_event ev;
    tf_format initial;
    tf_error err = {0};
    tf_format_init(&initial, TF_CHECKSUM_UNDEF);
    assert_int_equal(tf_event_decode(c->buf + 4, c->len - 4, &initial, &ev, NULL, &err), TF_OK);
    assert_int_equal(ev.kind, TF_EVENT_FORMAT_DESCRIPTION);
    assert_int_equal(ev.header.type, TF_EV_FORMAT_DESCRIPTION);
    assert_int_equal(ev.header.server_id, 1);
    assert_int_equal(ev.header.event_size, 252);
    assert_int_equal(ev.header.log_pos, 256);
    const tf_format *f = &ev.format_description;
    assert_int_equal(f->binlog_version, 4);
    assert_string_equal(f->server_version, "10.11.19-MariaDB-0+deb12u1-log");
    assert_int_equal(f->version_major, 10);
    assert_int_equal(f->version_minor, 11);
    assert_int_equal(f->version_patch, 19);
    assert_int_equal(f->flavour, TF_FLAVOUR_MARIADB);
    assert_int_equal(f->common_header_len, 19);
    assert_int_equal(f->checksum_alg, TF_CHECKSUM_CRC32);
    assert_true(ev.has_checksum);
    assert_int_equal(tf_format_post_header_len(f, TF_EV_QUERY), 13);
    assert_int_equal(tf_format_post_header_len(f, TF_EV_TABLE_MAP), 8);
    assert_int_equal(tf_format_post_header_len(f, TF_EV_WRITE_ROWS_V1), 8);
    assert_int_equal(tf_format_post_header_len(f, TF_EV_MARIADB_GTID), 19);
}

static void test_fde_in_use_flag_checksum_computed_without_it(void **state)
{
    /* The server sets LOG_EVENT_BINLOG_IN_USE_F in an open file's FDE after
     * computing its CRC; setting it here must not break the check. */
    capture *c = *state;
    uint8_t *copy = malloc(252);
    memcpy(copy, c->buf + 4, 252);
    assert_int_equal(copy[17] & 1, 0);
    copy[17] |= 1;
    tf_event ev;
    tf_format initial;
    tf_error err = {0};
    tf_format_init(&initial, TF_CHECKSUM_UNDEF);
    assert_int_equal(tf_event_decode(copy, 252, &initial, &ev, NULL, &err), TF_OK);
    assert_int_equal(ev.header.flags & TF_EVENT_F_BINLOG_IN_USE, 1);
    free(copy);
}

static void test_mariadb_gtid_list(void **state)
{
    tf_event ev;
    event_at(*state, 256, &ev);
    assert_int_equal(ev.kind, TF_EVENT_MARIADB_GTID_LIST);
    assert_int_equal(ev.mariadb_gtid_list.count, 1);
    tf_mariadb_gtid g;
    tf_mariadb_gtid_list_get(&ev.mariadb_gtid_list, 0, &g);
    assert_int_equal(g.domain_id, 0); /* [0-1-81] */
    assert_int_equal(g.server_id, 1);
    assert_int_equal(g.seq_no, 81);
}

static void test_mariadb_binlog_checkpoint(void **state)
{
    tf_event ev;
    event_at(*state, 299, &ev);
    assert_int_equal(ev.kind, TF_EVENT_MARIADB_BINLOG_CHECKPOINT);
    assert_true(str_is(ev.binlog_checkpoint_file, "mariadb-bin.000004"));
    event_at(*state, 344, &ev);
    assert_true(str_is(ev.binlog_checkpoint_file, "mariadb-bin.000005"));
}

static void test_mariadb_gtid_ddl_and_transaction(void **state)
{
    tf_event ev;
    event_at(*state, 389, &ev); /* GTID 0-1-82 (DDL, standalone) */
    assert_int_equal(ev.kind, TF_EVENT_MARIADB_GTID);
    assert_int_equal(ev.mariadb_gtid.seq_no, 82);
    assert_int_equal(ev.mariadb_gtid.domain_id, 0);
    assert_int_equal(ev.mariadb_gtid.server_id, 1);
    assert_true(ev.mariadb_gtid.flags2 & TF_MARIADB_GTID_F_STANDALONE);
    event_at(*state, 1181, &ev); /* BEGIN GTID 0-1-85 */
    assert_int_equal(ev.mariadb_gtid.seq_no, 85);
    assert_false(ev.mariadb_gtid.flags2 & TF_MARIADB_GTID_F_STANDALONE);
    assert_true(ev.mariadb_gtid.flags2 & TF_MARIADB_GTID_F_TRANSACTIONAL);
}

static void test_query_create_table(void **state)
{
    tf_event ev;
    event_at(*state, 594, &ev);
    assert_int_equal(ev.kind, TF_EVENT_QUERY);
    assert_true(str_is(ev.query.database, "tf_events_test"));
    assert_true(
        str_is(ev.query.statement, "DROP TABLE IF EXISTS `items` /* generated by server */"));
    assert_int_equal(ev.query.error_code, 0);
    assert_true(ev.query.status_vars_len > 0);
    event_at(*state, 431, &ev);
    assert_true(str_is(ev.query.statement, "CREATE DATABASE IF NOT EXISTS tf_events_test"));
}

static void test_annotate_rows(void **state)
{
    tf_event ev;
    event_at(*state, 1723, &ev);
    assert_int_equal(ev.kind, TF_EVENT_ROWS_QUERY);
    assert_int_equal(ev.header.type, TF_EV_MARIADB_ANNOTATE_ROWS);
    assert_true(str_is(ev.rows_query, "UPDATE items SET name='bye', price=0.01 WHERE id=1"));
}

static void test_rows_event_header(void **state)
{
    tf_event ev;
    event_at(*state, 1959, &ev);
    assert_int_equal(ev.kind, TF_EVENT_ROWS);
    assert_int_equal(ev.rows.kind, TF_ROWS_UPDATE);
    assert_int_equal(ev.rows.version, 1);
    assert_int_equal(ev.rows.table_id, 51);
    assert_int_equal(ev.rows.flags, TF_ROWS_F_STMT_END);
    assert_int_equal(ev.rows.column_count, 8);
    assert_true(ev.rows.before_image_full);
    assert_true(ev.rows.after_image_full);
    assert_non_null(ev.rows.columns_before);
    assert_non_null(ev.rows.columns_after);
    event_at(*state, 1547, &ev);
    assert_int_equal(ev.rows.kind, TF_ROWS_WRITE);
    assert_null(ev.rows.columns_before);
    event_at(*state, 2389, &ev);
    assert_int_equal(ev.rows.kind, TF_ROWS_DELETE);
    assert_null(ev.rows.columns_after);
}

static void test_xid(void **state)
{
    tf_event ev;
    event_at(*state, 1650, &ev);
    assert_int_equal(ev.kind, TF_EVENT_XID);
    assert_int_equal(ev.xid, 359);
    event_at(*state, 2436, &ev);
    assert_int_equal(ev.xid, 361);
}

static void test_rotate(void **state)
{
    tf_event ev;
    event_at(*state, 2467, &ev);
    assert_int_equal(ev.kind, TF_EVENT_ROTATE);
    assert_int_equal(ev.rotate.position, 4);
    assert_true(str_is(ev.rotate.next_file, "mariadb-bin.000006"));
}

static void test_reader_walks_whole_capture(void **state)
{
    capture *c = *state;
    static const size_t offsets[] = {4,    256,  299,  344,  389,  431,  552,  594,  734,
                                     776,  1181, 1223, 1384, 1547, 1650, 1681, 1723, 1796,
                                     1959, 2102, 2133, 2175, 2226, 2389, 2436, 2467};
    tf_binlog_reader r;
    tf_error err = {0};
    assert_int_equal(tf_binlog_reader_init(&r, c->buf, c->len, &err), TF_OK);
    size_t i = 0;
    while (!tf_binlog_reader_at_end(&r)) {
        tf_event ev;
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
        assert_true(i < sizeof offsets / sizeof offsets[0]);
        assert_int_equal(r.event_offset, offsets[i]);
        assert_int_equal(ev.header.log_pos, r.pos); /* end_log_pos */
        assert_int_not_equal(ev.kind, TF_EVENT_OTHER);
        i++;
    }
    assert_int_equal(i, sizeof offsets / sizeof offsets[0]);
}

static void test_event_type_names(void **state)
{
    (void)state;
    assert_string_equal(tf_event_type_name(TF_EV_WRITE_ROWS_V2), "WRITE_ROWS_V2");
    assert_string_equal(tf_event_type_name(TF_EV_GTID_TAGGED_LOG), "GTID_TAGGED_LOG");
    assert_string_equal(tf_event_type_name(TF_EV_MARIADB_GTID_LIST), "MARIADB_GTID_LIST");
    assert_string_equal(tf_event_type_name(TF_EV_MARIADB_DELETE_ROWS_COMPRESSED),
                        "MARIADB_DELETE_ROWS_COMPRESSED");
    assert_string_equal(tf_event_type_name(99), "UNKNOWN");
}

static void test_magic(void **state)
{
    (void)state;
    tf_error err = {0};
    static const uint8_t good[] = {0xfe, 0x62, 0x69, 0x6e};
    static const uint8_t bad[] = {0xfe, 0x62, 0x69, 0x00};
    assert_int_equal(tf_binlog_check_magic(good, 4, &err), TF_OK);
    assert_int_equal(tf_binlog_check_magic(good, 2, &err), TF_NEED_MORE);
    assert_int_equal(tf_binlog_check_magic(bad, 4, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "not a binlog file: it does not start with the magic fe 62 69 6e");
}

static void test_event_before_fde_with_unknown_checksum_is_refused(void **state)
{
    capture *c = *state;
    tf_format initial;
    tf_event ev;
    tf_error err = {0};
    tf_format_init(&initial, TF_CHECKSUM_UNDEF);
    assert_int_equal(tf_event_decode(c->buf + 2467, c->len - 2467, &initial, &ev, NULL, &err),
                     TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_string_equal(err.message, "ROTATE event before any FORMAT_DESCRIPTION: its checksum "
                                     "algorithm is unknown (a v4 binlog starts with "
                                     "FORMAT_DESCRIPTION)");
    /* A replica that asked for CRC32 reads the artificial ROTATE. */
    tf_format_init(&initial, TF_CHECKSUM_CRC32);
    assert_int_equal(tf_event_decode(c->buf + 2467, c->len - 2467, &initial, &ev, NULL, &err),
                     TF_OK);
    assert_true(str_is(ev.rotate.next_file, "mariadb-bin.000006"));
}

/* ---- malformed input ---- */

static void test_truncation_at_every_offset_needs_more(void **state)
{
    capture *c = *state;
    tf_binlog_reader r;
    tf_error err = {0};
    tf_binlog_reader_init(&r, c->buf, c->len, &err);
    while (!tf_binlog_reader_at_end(&r)) {
        size_t start = r.pos;
        tf_event ev;
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
        size_t size = r.pos - start;
        for (size_t k = 0; k < size; k++) {
            size_t event_len;
            tf_event partial;
            err.message[0] = '\0';
            assert_int_equal(tf_event_frame(c->buf + start, k, &r.fmt, &event_len, &err),
                             TF_NEED_MORE);
            assert_int_equal(tf_event_decode(c->buf + start, k, &r.fmt, &partial, NULL, &err),
                             TF_NEED_MORE);
            assert_true(err.message[0] != '\0');
        }
    }
}

/* Cuts an event body to `keep` bytes, fixes its size and CRC, decodes. */
static tf_status decode_shortened(const capture *c, size_t offset, size_t keep, tf_error *err)
{
    tf_event_header h;
    tf_event_header_decode(c->buf + offset, 19, &h, err);
    uint8_t *copy = malloc(19 + keep + 4);
    memcpy(copy, c->buf + offset, 19 + keep);
    uint32_t size = (uint32_t)(19 + keep + 4);
    for (int i = 0; i < 4; i++)
        copy[9 + i] = (uint8_t)(size >> (8 * i));
    uint32_t crc = (uint32_t)crc32(0, copy, (uInt)(19 + keep));
    for (int i = 0; i < 4; i++)
        copy[19 + keep + i] = (uint8_t)(crc >> (8 * i));
    tf_event ev;
    tf_status st = tf_event_decode(copy, size, &c->fmt, &ev, NULL, err);
    /* A rows or table map event that decodes must still be checked by the
     * deeper layers without crashing. */
    if (st == TF_OK && ev.kind == TF_EVENT_TABLE_MAP) {
        tf_table_map *m;
        st = tf_table_map_new(&ev, &m, err);
        if (st == TF_OK)
            tf_table_map_destroy(m);
    }
    free(copy);
    return st;
}

static void test_shortened_bodies_are_malformed_with_a_message(void **state)
{
    capture *c = *state;
    /* Events whose every byte is needed: a shorter body cannot be valid. */
    static const size_t strict[] = {256, 299, 389, 1384, 1547, 1650, 1959, 2389};
    for (size_t i = 0; i < sizeof strict / sizeof strict[0]; i++) {
        tf_event_header h;
        tf_error err = {0};
        tf_event_header_decode(c->buf + strict[i], 19, &h, &err);
        size_t body = h.event_size - 19 - 4;
        for (size_t keep = 0; keep < body; keep++) {
            err.message[0] = '\0';
            tf_status st = decode_shortened(c, strict[i], keep, &err);
            /* Optional metadata may stop after any whole field (or be
             * absent: binlog_row_metadata=MINIMAL); its fields start at
             * these body offsets: SIGNEDNESS, COLUMN_CHARSET, GEOMETRY_TYPE,
             * COLUMN_NAME, ENUM_AND_SET_DEFAULT_CHARSET, SET_STR_VALUE,
             * ENUM_STR_VALUE, SIMPLE_PRIMARY_KEY. */
            static const size_t field_starts[] = {54, 57, 63, 66, 107, 110, 128, 137};
            bool at_field_start = false;
            for (size_t f = 0; f < sizeof field_starts / sizeof field_starts[0]; f++)
                at_field_start |= keep == field_starts[f];
            if (st == TF_OK && h.type == TF_EV_TABLE_MAP && at_field_start)
                continue;
            if (st == TF_OK && h.type == TF_EV_MARIADB_GTID && keep >= 13)
                continue; /* the 6 padding bytes of a GTID without commit id */
            if (st == TF_OK && (h.type == TF_EV_WRITE_ROWS_V1 || h.type == TF_EV_UPDATE_ROWS_V1 ||
                                h.type == TF_EV_DELETE_ROWS_V1))
                continue; /* rows are checked by the cursor (test_rows.c) */
            if (st != TF_MALFORMED)
                fail_msg("event at %zu cut to %zu body bytes: status %d", strict[i], keep, st);
            assert_true(strlen(err.message) > 10);
        }
    }
}

static void test_flipped_byte_is_checksum_mismatch(void **state)
{
    capture *c = *state;
    tf_binlog_reader r;
    tf_error err = {0};
    tf_binlog_reader_init(&r, c->buf, c->len, &err);
    uint8_t *copy = malloc(c->len);
    while (!tf_binlog_reader_at_end(&r)) {
        size_t start = r.pos;
        tf_event ev;
        tf_format fmt = r.fmt;
        assert_int_equal(tf_binlog_reader_next(&r, &ev, &err), TF_OK);
        size_t size = r.pos - start;
        for (size_t k = 0; k < size; k++) {
            if (k >= 9 && k < 13)
                continue; /* event size: a framing question, not the checksum's */
            memcpy(copy, c->buf + start, size);
            copy[k] ^= 0x10;
            tf_event bad;
            tf_status st = tf_event_decode(copy, size, &fmt, &bad, NULL, &err);
            /* The FDE's server version decides whether it has a checksum
             * at all (MySQL >= 5.6.1, MariaDB >= 5.3), so a flip there can
             * turn the checksum off, as it would for the server. */
            if (ev.header.type == TF_EV_FORMAT_DESCRIPTION && k >= 21 && k < 71)
                continue;
            if (ev.header.type == TF_EV_FORMAT_DESCRIPTION && st == TF_OK)
                fail_msg("FDE with byte %zu flipped decoded", k);
            assert_int_equal(st, TF_MALFORMED);
            if (ev.header.type != TF_EV_FORMAT_DESCRIPTION && k != 4)
                assert_non_null(strstr(err.message, "checksum mismatch"));
        }
    }
    free(copy);
}

static void test_checksum_error_names_offset(void **state)
{
    capture *c = *state;
    uint8_t copy[31];
    memcpy(copy, c->buf + 1650, 31); /* XID */
    copy[20] ^= 1;
    tf_event ev;
    tf_error err = {0};
    assert_int_equal(tf_event_decode(copy, 31, &c->fmt, &ev, NULL, &err), TF_MALFORMED);
    char expected[256];
    uint32_t stored = (uint32_t)copy[27] | (uint32_t)copy[28] << 8 | (uint32_t)copy[29] << 16 |
                      (uint32_t)copy[30] << 24;
    uint32_t computed = (uint32_t)crc32(0, copy, 27);
    snprintf(expected, sizeof expected,
             "XID event: checksum mismatch: stored CRC32 0x%08x at offset 27, computed 0x%08x "
             "over 27 bytes (corrupt event)",
             stored, computed);
    assert_string_equal(err.message, expected);
}

static void test_event_size_below_minimum(void **state)
{
    capture *c = *state;
    uint8_t copy[31];
    memcpy(copy, c->buf + 1650, 31);
    copy[9] = 20; /* 20 < 19 + 4 with CRC32 on */
    copy[10] = copy[11] = copy[12] = 0;
    size_t n;
    tf_error err = {0};
    assert_int_equal(tf_event_frame(copy, 31, &c->fmt, &n, &err), TF_MALFORMED);
    assert_string_equal(err.message, "XID event: event size 20 is smaller than the 23-byte "
                                     "minimum (header and checksum) at offset 9");
}

/* xorshift: deterministic pseudo-random bytes. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_random_bytes_never_crash(void **state)
{
    capture *c = *state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    uint8_t buf[512];
    tf_format formats[2] = {c->fmt, c->fmt};
    formats[1].checksum_alg = TF_CHECKSUM_OFF; /* so bodies are reached */
    formats[1].flavour = TF_FLAVOUR_MYSQL;
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = 19 + next_random(&seed) % (sizeof buf - 19);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)next_random(&seed);
        /* Mostly-valid headers reach the body decoders. */
        static const uint8_t types[] = {2,  4,   5,   13,  14,  15,  16,  19,  23, 24, 25,
                                        27, 29,  30,  31,  32,  33,  34,  35,  39, 40, 41,
                                        42, 160, 161, 162, 163, 165, 166, 169, 170};
        buf[4] = types[next_random(&seed) % sizeof types];
        uint32_t size = (uint32_t)len;
        for (int i = 0; i < 4; i++)
            buf[9 + i] = (uint8_t)(size >> (8 * i));
        tf_event ev;
        tf_error err;
        const tf_format *fmt = &formats[iter & 1];
        if (tf_event_decode(buf, len, fmt, &ev, NULL, &err) != TF_OK)
            continue;
        if (ev.kind == TF_EVENT_TABLE_MAP) {
            tf_table_map *m;
            if (tf_table_map_new(&ev, &m, &err) == TF_OK)
                tf_table_map_destroy(m);
        } else if (ev.kind == TF_EVENT_TRANSACTION_PAYLOAD) {
            tf_payload_iter it;
            if (tf_payload_iter_init(&it, &ev, fmt, 1 << 20, &err) == TF_OK)
                while (tf_payload_iter_has_next(&it) &&
                       tf_payload_iter_next(&it, &ev, &err) == TF_OK) {
                }
            tf_payload_iter_cleanup(&it);
        } else if (ev.kind == TF_EVENT_QUERY && ev.query.compressed) {
            uint8_t *out;
            size_t out_len;
            if (tf_query_uncompress(&ev.query, 1 << 20, &out, &out_len, &err) == TF_OK)
                free(out);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_description_mariadb_10_11),
        cmocka_unit_test(test_fde_in_use_flag_checksum_computed_without_it),
        cmocka_unit_test(test_mariadb_gtid_list),
        cmocka_unit_test(test_mariadb_binlog_checkpoint),
        cmocka_unit_test(test_mariadb_gtid_ddl_and_transaction),
        cmocka_unit_test(test_query_create_table),
        cmocka_unit_test(test_annotate_rows),
        cmocka_unit_test(test_rows_event_header),
        cmocka_unit_test(test_xid),
        cmocka_unit_test(test_rotate),
        cmocka_unit_test(test_reader_walks_whole_capture),
        cmocka_unit_test(test_event_type_names),
        cmocka_unit_test(test_magic),
        cmocka_unit_test(test_event_before_fde_with_unknown_checksum_is_refused),
        cmocka_unit_test(test_truncation_at_every_offset_needs_more),
        cmocka_unit_test(test_shortened_bodies_are_malformed_with_a_message),
        cmocka_unit_test(test_flipped_byte_is_checksum_mismatch),
        cmocka_unit_test(test_checksum_error_names_offset),
        cmocka_unit_test(test_event_size_below_minimum),
        cmocka_unit_test(test_random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, load_capture, free_capture);
}
