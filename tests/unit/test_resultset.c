/* test_resultset.c — text resultsets (column count, column definitions,
 * rows) and the streaming reader, on responses captured from the local
 * MariaDB in both EOF flavours (tests/vectors/packet). */
#include "packet_vectors.h"

#define MAX_TEST_COLUMNS 64

/* Runs a whole captured response through tf_resultset_feed, checking the
 * order of items, and keeps what a caller would keep. */
typedef struct streamed {
    uint64_t column_count;
    tf_column_def columns[MAX_TEST_COLUMNS];
    size_t rows;
    size_t columns_end_items;
    tf_ok_packet end;
    tf_str values[MAX_TEST_COLUMNS];
    bool nulls[MAX_TEST_COLUMNS];
} streamed;

/* Stores the row values of row `want_row` (0-based) in s->values. */
static void stream_vector(const vector_packets *p, uint64_t caps, size_t want_row, streamed *s)
{
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_str values[MAX_TEST_COLUMNS];
    bool nulls[MAX_TEST_COLUMNS];
    memset(s, 0, sizeof *s);
    tf_resultset_init(&rs, caps);
    for (size_t i = 0; i < p->count; i++) {
        assert_false(tf_resultset_done(&rs));
        if (tf_resultset_feed(&rs, p->payload[i], p->len[i], &item, &err) != TF_OK)
            fail_msg("packet %zu: %s", i, err.message);
        switch (item.kind) {
        case TF_RS_ITEM_COLUMN_COUNT:
            assert_int_equal(i, 0);
            assert_true(item.column_count <= MAX_TEST_COLUMNS);
            s->column_count = item.column_count;
            rs.values = values;
            rs.nulls = nulls;
            rs.capacity = MAX_TEST_COLUMNS;
            break;
        case TF_RS_ITEM_COLUMN:
            assert_int_equal(item.column_index, i - 1);
            s->columns[item.column_index] = item.column;
            break;
        case TF_RS_ITEM_COLUMNS_END:
            assert_int_equal(s->rows, 0);
            s->columns_end_items++;
            break;
        case TF_RS_ITEM_ROW:
            assert_int_equal(rs.rows_seen, s->rows + 1);
            if (s->rows == want_row) {
                memcpy(s->values, values, sizeof values);
                memcpy(s->nulls, nulls, sizeof nulls);
            }
            s->rows++;
            break;
        case TF_RS_ITEM_END:
            assert_int_equal(i, p->count - 1);
            s->end = item.ok;
            break;
        default: fail_msg("packet %zu: unexpected item %d", i, item.kind);
        }
    }
    assert_true(tf_resultset_done(&rs));
}

static void assert_item_table_columns(const streamed *s, uint16_t text_charset, bool extended)
{
    static const char *names[] = {"id", "name", "note", "price", "code"};
    assert_int_equal(s->column_count, 5);
    for (int i = 0; i < 5; i++) {
        const tf_column_def *c = &s->columns[i];
        assert_str(c->catalog, "def");
        assert_str(c->schema, "tf_packet");
        assert_str(c->table, "item");
        assert_str(c->org_table, "item");
        assert_str(c->name, names[i]);
        assert_str(c->org_name, names[i]);
        assert_int_equal(c->extended_metadata.len, 0);
        (void)extended;
    }
    /* id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY */
    assert_int_equal(s->columns[0].type, TF_TYPE_LONG);
    assert_int_equal(s->columns[0].charset, TF_CHARSET_BINARY);
    assert_int_equal(s->columns[0].column_length, 10);
    assert_int_equal(s->columns[0].flags, TF_COLUMN_NOT_NULL | TF_COLUMN_PRI_KEY |
                                              TF_COLUMN_UNSIGNED | TF_COLUMN_AUTO_INCREMENT |
                                              TF_COLUMN_PART_KEY);
    /* name VARCHAR(32) NOT NULL: length in bytes of the connection charset */
    assert_int_equal(s->columns[1].type, TF_TYPE_VAR_STRING);
    assert_int_equal(s->columns[1].charset, text_charset);
    assert_int_equal(s->columns[1].column_length, text_charset == 45 ? 128 : 96);
    assert_int_equal(s->columns[1].flags, TF_COLUMN_NOT_NULL | TF_COLUMN_NO_DEFAULT_VALUE);
    /* note TEXT */
    assert_int_equal(s->columns[2].type, TF_TYPE_BLOB);
    assert_int_equal(s->columns[2].flags, TF_COLUMN_BLOB);
    /* price DECIMAL(8,2) */
    assert_int_equal(s->columns[3].type, TF_TYPE_NEWDECIMAL);
    assert_int_equal(s->columns[3].column_length, 10);
    assert_int_equal(s->columns[3].decimals, 2);
    /* code VARBINARY(8) */
    assert_int_equal(s->columns[4].type, TF_TYPE_VAR_STRING);
    assert_int_equal(s->columns[4].charset, TF_CHARSET_BINARY);
    assert_int_equal(s->columns[4].flags, TF_COLUMN_BINARY);
}

static void assert_item_rows(const vector_packets *p, uint64_t caps, const char *first_note)
{
    streamed s;
    stream_vector(p, caps, 0, &s);
    assert_int_equal(s.rows, 3);
    assert_str(s.values[0], "1");
    assert_str(s.values[1], "widget");
    assert_str(s.values[2], first_note);
    assert_str(s.values[3], "9.99");
    assert_int_equal(s.values[4].len, 2);
    assert_memory_equal(s.values[4].ptr, "\x00\xff", 2);
    for (int i = 0; i < 5; i++)
        assert_false(s.nulls[i]);

    stream_vector(p, caps, 1, &s); /* ('', NULL, NULL, NULL) */
    assert_str(s.values[0], "2");
    assert_false(s.nulls[1]);
    assert_int_equal(s.values[1].len, 0);
    assert_non_null(s.values[1].ptr); /* empty is not NULL */
    for (int i = 2; i < 5; i++) {
        assert_true(s.nulls[i]);
        assert_null(s.values[i].ptr);
    }

    stream_vector(p, caps, 2, &s); /* UTF-8, empty TEXT, 0.00, empty binary */
    assert_str(s.values[1], "na\xc3\xafve caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xe2\x9c\x93");
    assert_false(s.nulls[2]);
    assert_int_equal(s.values[2].len, 0);
    assert_str(s.values[3], "0.00");
    assert_false(s.nulls[4]);
    assert_int_equal(s.values[4].len, 0);
    assert_int_equal(s.end.status_flags,
                     TF_SERVER_STATUS_AUTOCOMMIT | TF_SERVER_QUERY_NO_INDEX_USED);
    assert_int_equal(s.end.warnings, 0);
}

static void test_cli_resultset_classic_eof_with_mariadb_extended_metadata(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, CLI_CAPS, 0, &s);
    assert_int_equal(s.columns_end_items, 1);
    assert_item_table_columns(&s, 33, true);
    assert_item_rows(&p, CLI_CAPS, "first");
    free_vector_packets(&p);
    free(wire);
}

static void test_resultset_with_deprecate_eof(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_deprecate_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, PY_DEPRECATE_CAPS, 0, &s);
    assert_int_equal(s.columns_end_items, 0);
    assert_item_table_columns(&s, 45, false);
    assert_item_rows(&p, PY_DEPRECATE_CAPS, "first");
    free_vector_packets(&p);
    free(wire);
}

static void test_resultset_with_classic_eof(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, PY_CLASSIC_CAPS, 0, &s);
    assert_int_equal(s.columns_end_items, 1);
    assert_item_table_columns(&s, 45, false);
    assert_item_rows(&p, PY_CLASSIC_CAPS, "changed");
    free_vector_packets(&p);
    free(wire);
}

static void assert_many_columns(const char *name, uint64_t caps)
{
    size_t len;
    uint8_t *wire = load_hex_vector(name, &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, caps, 0, &s);
    assert_int_equal(s.column_count, 41);
    assert_int_equal(s.rows, 1);
    for (int i = 1; i <= 40; i++) {
        char want[16];
        snprintf(want, sizeof want, "c%02d", i);
        assert_str(s.columns[i - 1].name, want);
        assert_int_equal(s.columns[i - 1].schema.len, 0);
        if (i % 7 == 0) {
            assert_true(s.nulls[i - 1]);
            assert_int_equal(s.columns[i - 1].type, TF_TYPE_NULL);
        } else if (i % 5 == 0) {
            assert_false(s.nulls[i - 1]);
            assert_int_equal(s.values[i - 1].len, 0);
        } else {
            snprintf(want, sizeof want, "%d", i * 1000);
            assert_str(s.values[i - 1], want);
            assert_int_equal(s.columns[i - 1].type, TF_TYPE_LONG);
        }
    }
    assert_str(s.values[40], "\xc3\xa9");
    assert_int_equal(s.columns[40].charset, 45);
    free_vector_packets(&p);
    free(wire);
}

static void test_many_columns_both_eof_flavours(void **state)
{
    (void)state;
    assert_many_columns("py_many_columns_deprecate_eof.hex", PY_DEPRECATE_CAPS);
    assert_many_columns("py_many_columns_eof.hex", PY_CLASSIC_CAPS);
}

static void test_empty_resultset(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_empty_result_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, PY_CLASSIC_CAPS, 0, &s);
    assert_int_equal(s.column_count, 1);
    assert_int_equal(s.rows, 0);
    assert_int_equal(s.columns_end_items, 1);
    assert_int_equal(s.end.status_flags, TF_SERVER_STATUS_AUTOCOMMIT);
    free_vector_packets(&p);
    free(wire);
}

static void test_300_rows_stream_one_at_a_time(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_300_rows_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, PY_CLASSIC_CAPS, 299, &s);
    assert_int_equal(s.rows, 300);
    assert_str(s.values[0], "300");
    assert_str(s.columns[0].table, "seq_1_to_300");
    assert_int_equal(s.columns[0].type, TF_TYPE_LONGLONG);
    free_vector_packets(&p);
    free(wire);
}

static void test_17mib_value_streams_as_one_row(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_big_17mib_deprecate_eof.sparse", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    streamed s;
    stream_vector(&p, PY_DEPRECATE_CAPS, 0, &s);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.values[0].len, 17u * 1024 * 1024);
    assert_int_equal(s.columns[0].type, TF_TYPE_LONG_BLOB);
    free_vector_packets(&p);
    free(wire);
    wire = load_sparse_vector("py_exact_16mib_eof.sparse", &len);
    split_vector(wire, len, 1, &p);
    stream_vector(&p, PY_CLASSIC_CAPS, 0, &s);
    assert_int_equal(s.rows, 1);
    assert_int_equal(s.values[0].len, 16777211);
    free_vector_packets(&p);
    free(wire);
}

static void test_cli_big_query_result_starts_at_sequence_2(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_big_query_result.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 2, &p);
    streamed s;
    stream_vector(&p, CLI_CAPS, 0, &s);
    assert_str(s.values[0], "17825792");
    free_vector_packets(&p);
    free(wire);
}

/* ---- errors ---- */

static void test_row_with_column_count_mismatch_is_malformed(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_str values[8];
    bool nulls[8];
    tf_error err = {0};
    const uint8_t *row = p.payload[7]; /* 1, widget, changed, 9.99, 00ff */
    size_t n = p.len[7];
    assert_int_equal(tf_text_row_decode(row, n, 5, values, nulls, &err), TF_OK);
    assert_int_equal(tf_text_row_decode(row, n, 4, values, nulls, &err), TF_MALFORMED);
    assert_string_equal(err.message, "text row: 3 bytes left after the last of 4 columns; the "
                                     "row has more values than the column count at offset 22");
    assert_int_equal(tf_text_row_decode(row, n, 6, values, nulls, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "text row: column 6 of 6 needs 1 bytes at offset 25 but only 0 remain");
    free_vector_packets(&p);
    free(wire);
}

static void test_row_with_bad_lenenc_prefix_is_malformed(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_str values[8];
    bool nulls[8];
    tf_error err = {0};
    uint8_t *row = p.payload[7];
    assert_int_equal(row[2], 6); /* length of "widget" */
    row[2] = 0xff;
    assert_int_equal(tf_text_row_decode(row, p.len[7], 5, values, nulls, &err), TF_MALFORMED);
    assert_string_equal(err.message, "text row: column 2 of 5: 0xff is not a valid "
                                     "length-encoded integer prefix at offset 2");
    row[2] = 0x40; /* longer than the row */
    assert_int_equal(tf_text_row_decode(row, p.len[7], 5, values, nulls, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "text row: column 2 of 5 needs 64 bytes at offset 3 but only 22 remain");
    row[2] = 0xfe; /* 8-byte length, far past the end */
    assert_int_equal(tf_text_row_decode(row, p.len[7], 5, values, nulls, &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "text row: column 2 of 5 needs"));
    free_vector_packets(&p);
    free(wire);
}

static void test_every_truncation_of_every_packet_is_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint64_t caps;
    } vectors[] = {
        {"cli_select_eof.hex", CLI_CAPS},
        {"py_select_deprecate_eof.hex", PY_DEPRECATE_CAPS},
        {"py_many_columns_eof.hex", PY_CLASSIC_CAPS},
    };
    for (size_t v = 0; v < sizeof vectors / sizeof vectors[0]; v++) {
        size_t len;
        uint8_t *wire = load_hex_vector(vectors[v].name, &len);
        vector_packets p = {0};
        split_vector(wire, len, 1, &p);
        uint64_t caps = vectors[v].caps;
        uint64_t columns = 0;
        bool follows;
        tf_error err = {0};
        assert_int_equal(
            tf_column_count_decode(p.payload[0], p.len[0], caps, &columns, &follows, &err), TF_OK);
        tf_str values[MAX_TEST_COLUMNS];
        bool nulls[MAX_TEST_COLUMNS];
        for (size_t i = 0; i < p.count; i++) {
            for (size_t cut = 0; cut < p.len[i]; cut++) {
                uint8_t *part = malloc(cut ? cut : 1);
                memcpy(part, p.payload[i], cut);
                tf_status st;
                err.message[0] = '\0';
                if (i == 0) {
                    uint64_t c;
                    st = tf_column_count_decode(part, cut, caps, &c, &follows, &err);
                } else if (i <= columns) {
                    tf_column_def def;
                    st = tf_column_def_decode(part, cut, caps, &def, &err);
                } else if (tf_resultset_classify(p.payload[i], p.len[i], caps) == TF_PACKET_DATA) {
                    st = tf_text_row_decode(part, cut, (size_t)columns, values, nulls, &err);
                } else {
                    tf_ok_packet ok;
                    st = tf_end_decode(part, cut, caps, &ok, &err);
                }
                if (st != TF_MALFORMED || err.message[0] == '\0')
                    fail_msg("%s packet %zu cut at %zu: status %d '%s'", vectors[v].name, i, cut,
                             st, err.message);
                free(part);
            }
        }
        free_vector_packets(&p);
        free(wire);
    }
}

static void test_column_count_errors(void **state)
{
    (void)state;
    tf_error err = {0};
    uint64_t count;
    bool follows;
    static const uint8_t zero[] = {0x00};
    assert_int_equal(tf_column_count_decode(zero, 1, PY_CLASSIC_CAPS, &count, &follows, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message,
                        "column count packet: column count 0 is not in 1..65535 at offset 0");
    static const uint8_t huge[] = {0xfd, 0x00, 0x00, 0x01};
    assert_int_equal(tf_column_count_decode(huge, 4, PY_CLASSIC_CAPS, &count, &follows, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message,
                        "column count packet: column count 65536 is not in 1..65535 at offset 0");
    /* The CLI's "05 01" without CACHE_METADATA has a byte too many. */
    static const uint8_t cli[] = {0x05, 0x01};
    assert_int_equal(tf_column_count_decode(cli, 2, PY_CLASSIC_CAPS, &count, &follows, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message,
                        "column count packet: 1 unexpected bytes after the column count at "
                        "offset 1");
    assert_int_equal(tf_column_count_decode(cli, 2, CLI_CAPS, &count, &follows, &err), TF_OK);
    assert_int_equal(count, 5);
    assert_true(follows);
    static const uint8_t bad_flag[] = {0x05, 0x02};
    assert_int_equal(tf_column_count_decode(bad_flag, 2, CLI_CAPS, &count, &follows, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "column count packet: metadata follows flag 2 is not 0 or 1 "
                                     "at offset 1");
}

static void test_column_definition_read_with_wrong_caps_is_malformed(void **state)
{
    (void)state;
    /* The CLI's definitions carry the extended-metadata string; read
     * without MARIADB_CLIENT_EXTENDED_METADATA they do not parse. */
    size_t len;
    uint8_t *wire = load_hex_vector("cli_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_column_def def;
    tf_error err = {0};
    assert_int_equal(tf_column_def_decode(p.payload[1], p.len[1], PY_CLASSIC_CAPS, &def, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "column definition: length of fixed fields 0 is less than "
                                     "10 at offset 30");
    free_vector_packets(&p);
    free(wire);
}

static void test_feed_reports_server_error_instead_of_resultset(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_err_no_such_table.hex", &len);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_resultset_init(&rs, CLI_CAPS);
    assert_int_equal(tf_resultset_feed(&rs, wire + 4, len - 4, &item, &err), TF_OK);
    assert_int_equal(item.kind, TF_RS_ITEM_ERR);
    assert_int_equal(item.err.code, 1146);
    assert_true(tf_resultset_done(&rs));
    assert_int_equal(tf_resultset_feed(&rs, wire + 4, len - 4, &item, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "resultset: a 54-byte packet arrived after the response was complete");
    free(wire);
}

static void test_feed_server_error_in_the_middle_of_rows(void **state)
{
    (void)state;
    /* The captured resultset with its second row replaced by the captured
     * ERR, as when a query is killed after some rows were sent. */
    size_t len, err_len;
    uint8_t *wire = load_hex_vector("py_select_deprecate_eof.hex", &len);
    uint8_t *errw = load_hex_vector("cli_err_no_such_table.hex", &err_len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_str values[8];
    bool nulls[8];
    tf_resultset_init(&rs, PY_DEPRECATE_CAPS);
    rs.values = values;
    rs.nulls = nulls;
    rs.capacity = 8;
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(tf_resultset_feed(&rs, p.payload[i], p.len[i], &item, &err), TF_OK);
    assert_int_equal(item.kind, TF_RS_ITEM_ROW);
    assert_int_equal(tf_resultset_feed(&rs, errw + 4, err_len - 4, &item, &err), TF_OK);
    assert_int_equal(item.kind, TF_RS_ITEM_ERR);
    assert_true(tf_resultset_done(&rs));
    free_vector_packets(&p);
    free(wire);
    free(errw);
}

static void test_feed_needs_row_arrays_big_enough(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_deprecate_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_str values[4];
    bool nulls[4];
    tf_resultset_init(&rs, PY_DEPRECATE_CAPS);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tf_resultset_feed(&rs, p.payload[i], p.len[i], &item, &err), TF_OK);
    assert_int_equal(tf_resultset_feed(&rs, p.payload[6], p.len[6], &item, &err), TF_MALFORMED);
    assert_string_equal(err.message, "resultset: row arrays hold 0 values but the resultset has 5 "
                                     "columns; set values, nulls and capacity after the column "
                                     "count");
    rs.values = values;
    rs.nulls = nulls;
    rs.capacity = 4;
    assert_int_equal(tf_resultset_feed(&rs, p.payload[6], p.len[6], &item, &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "row arrays hold 4 values"));
    free_vector_packets(&p);
    free(wire);
}

static void test_feed_row_error_names_the_row(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_str values[8];
    bool nulls[8];
    tf_resultset_init(&rs, PY_CLASSIC_CAPS);
    rs.values = values;
    rs.nulls = nulls;
    rs.capacity = 8;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(tf_resultset_feed(&rs, p.payload[i], p.len[i], &item, &err), TF_OK);
    /* Row 2 ("2", "", NULL, NULL, NULL) cut short by one byte. */
    assert_int_equal(tf_resultset_feed(&rs, p.payload[8], p.len[8] - 1, &item, &err), TF_MALFORMED);
    assert_string_equal(err.message, "resultset row 2: text row: column 5 of 5 needs 1 bytes at "
                                     "offset 5 but only 0 remain");
    free_vector_packets(&p);
    free(wire);
}

static void test_feed_expects_eof_after_columns_in_classic_mode(void **state)
{
    (void)state;
    /* Reading a deprecate-EOF response as classic: the first row comes
     * where the EOF after the columns belongs. */
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_deprecate_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_resultset_init(&rs, PY_CLASSIC_CAPS);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(tf_resultset_feed(&rs, p.payload[i], p.len[i], &item, &err), TF_OK);
    assert_int_equal(tf_resultset_feed(&rs, p.payload[6], p.len[6], &item, &err), TF_MALFORMED);
    assert_string_equal(err.message, "resultset: expected the EOF packet after 5 column "
                                     "definitions, got a 23-byte packet starting 0x01");
    free_vector_packets(&p);
    free(wire);
}

static void test_feed_ok_and_local_infile_responses(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_insert_ok.hex", &len);
    tf_resultset rs;
    tf_resultset_item item;
    tf_error err = {0};
    tf_resultset_init(&rs, CLI_CAPS);
    assert_int_equal(tf_resultset_feed(&rs, wire + 4, len - 4, &item, &err), TF_OK);
    assert_int_equal(item.kind, TF_RS_ITEM_OK);
    assert_int_equal(item.ok.affected_rows, 3);
    assert_true(tf_resultset_done(&rs));
    free(wire);
    wire = load_hex_vector("py_local_infile_request.hex", &len);
    tf_resultset_init(&rs, PY_CLASSIC_CAPS);
    assert_int_equal(tf_resultset_feed(&rs, wire + 4, len - 4, &item, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_true(tf_resultset_done(&rs));
    free(wire);
}

/* Every byte of every captured packet replaced by each length-encoding
 * marker and a few other values: each decoder answers OK or malformed with
 * a message, never crashes (run under ASan too). */
static void test_mutated_packets_never_crash(void **state)
{
    (void)state;
    static const char *names[] = {"cli_select_eof.hex",      "py_select_deprecate_eof.hex",
                                  "py_many_columns_eof.hex", "cli_insert_ok.hex",
                                  "cli_init_db_ok.hex",      "cli_err_no_such_table.hex"};
    static const uint8_t marks[] = {0x00, 0x01, 0x7f, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff};
    static const uint64_t caps[] = {PY_CLASSIC_CAPS, PY_DEPRECATE_CAPS, CLI_CAPS};
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        size_t len;
        uint8_t *wire = load_hex_vector(names[v], &len);
        vector_packets p = {0};
        split_vector(wire, len, 1, &p);
        for (size_t i = 0; i < p.count; i++) {
            uint8_t *copy = malloc(p.len[i]);
            for (size_t at = 0; at < p.len[i]; at++) {
                for (size_t m = 0; m < sizeof marks; m++) {
                    memcpy(copy, p.payload[i], p.len[i]);
                    copy[at] = marks[m];
                    for (size_t c = 0; c < 3; c++) {
                        tf_error err = {0};
                        tf_ok_packet ok;
                        tf_err_packet ep;
                        tf_column_def def;
                        uint64_t count;
                        bool follows;
                        tf_str values[8];
                        bool nulls[8];
                        tf_status st[6];
                        st[0] = tf_ok_decode(copy, p.len[i], caps[c], &ok, &err);
                        st[1] = tf_end_decode(copy, p.len[i], caps[c], &ok, &err);
                        st[2] = tf_err_decode(copy, p.len[i], &ep, &err);
                        st[3] =
                            tf_column_count_decode(copy, p.len[i], caps[c], &count, &follows, &err);
                        st[4] = tf_column_def_decode(copy, p.len[i], caps[c], &def, &err);
                        st[5] = tf_text_row_decode(copy, p.len[i], 5, values, nulls, &err);
                        for (int k = 0; k < 6; k++) {
                            assert_true(st[k] == TF_OK || st[k] == TF_MALFORMED);
                            if (st[k] == TF_MALFORMED)
                                assert_true(err.message[0] != '\0');
                        }
                    }
                }
            }
            free(copy);
        }
        free_vector_packets(&p);
        free(wire);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_resultset_classic_eof_with_mariadb_extended_metadata),
        cmocka_unit_test(test_resultset_with_deprecate_eof),
        cmocka_unit_test(test_resultset_with_classic_eof),
        cmocka_unit_test(test_many_columns_both_eof_flavours),
        cmocka_unit_test(test_empty_resultset),
        cmocka_unit_test(test_300_rows_stream_one_at_a_time),
        cmocka_unit_test(test_17mib_value_streams_as_one_row),
        cmocka_unit_test(test_cli_big_query_result_starts_at_sequence_2),
        cmocka_unit_test(test_row_with_column_count_mismatch_is_malformed),
        cmocka_unit_test(test_row_with_bad_lenenc_prefix_is_malformed),
        cmocka_unit_test(test_every_truncation_of_every_packet_is_malformed),
        cmocka_unit_test(test_column_count_errors),
        cmocka_unit_test(test_column_definition_read_with_wrong_caps_is_malformed),
        cmocka_unit_test(test_feed_reports_server_error_instead_of_resultset),
        cmocka_unit_test(test_feed_server_error_in_the_middle_of_rows),
        cmocka_unit_test(test_feed_needs_row_arrays_big_enough),
        cmocka_unit_test(test_feed_row_error_names_the_row),
        cmocka_unit_test(test_feed_expects_eof_after_columns_in_classic_mode),
        cmocka_unit_test(test_feed_ok_and_local_infile_responses),
        cmocka_unit_test(test_mutated_packets_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
