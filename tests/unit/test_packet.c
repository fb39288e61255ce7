/* test_packet.c — framing (physical and logical packets, 16 MiB splits,
 * sequence ids) and the generic responses OK / ERR / EOF / LOCAL INFILE,
 * on bytes captured from the local MariaDB (tests/vectors/packet). */
#include "packet_vectors.h"

/* ---- physical framing ---- */

static void test_frame_splits_captured_resultset_into_packets(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_select_eof.hex", &len);
    size_t pos = 0, count = 0;
    tf_packet pkt;
    size_t consumed;
    while (pos < len) {
        assert_int_equal(tf_packet_frame(wire + pos, len - pos, &pkt, &consumed), TF_OK);
        assert_int_equal(pkt.seq, count + 1); /* the response to a command starts at 1 */
        assert_int_equal(consumed, 4 + pkt.payload_len);
        if (count == 0) {
            assert_int_equal(pkt.payload_len, 2);
            assert_int_equal(pkt.payload[0], 5); /* column count */
        }
        pos += consumed;
        count++;
    }
    assert_int_equal(pos, len);
    assert_int_equal(count, 11);
    free(wire);
}

static void test_frame_truncated_at_every_offset_needs_more(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_insert_ok.hex", &len);
    tf_packet pkt;
    size_t consumed = 0;
    for (size_t cut = 0; cut < len; cut++) {
        /* A copy of exactly `cut` bytes lets ASan catch any read past it. */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, wire, cut);
        assert_int_equal(tf_packet_frame(part, cut, &pkt, &consumed), TF_NEED_MORE);
        free(part);
    }
    assert_int_equal(tf_packet_frame(wire, len, &pkt, &consumed), TF_OK);
    assert_int_equal(consumed, len);
    free(wire);
}

/* ---- logical packets over 16 MiB ---- */

/* SELECT REPEAT('x', 17*1024*1024) with CLIENT_DEPRECATE_EOF: the row is
 * 0xffffff + 0x10000a bytes, carried by packets 3 and 4. */
static void test_scan_assembles_17mib_row_split_by_server(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_big_17mib_deprecate_eof.sparse", &len);
    tf_packet_span span;
    tf_error err = {0};
    size_t pos = 0;
    assert_int_equal(tf_packet_scan(wire, len, 1, &span, &err), TF_OK); /* column count */
    assert_int_equal(span.chunks, 1);
    assert_ptr_equal(span.payload, wire + 4);
    pos += span.wire_len;
    assert_int_equal(tf_packet_scan(wire + pos, len - pos, 2, &span, &err), TF_OK); /* column */
    pos += span.wire_len;
    size_t row_at = pos;
    assert_int_equal(tf_packet_scan(wire + pos, len - pos, 3, &span, &err), TF_OK);
    assert_int_equal(span.chunks, 2);
    assert_int_equal(span.first_seq, 3);
    assert_int_equal(span.next_seq, 5);
    assert_int_equal(span.payload_len, 0xffffffu + 0x10000au);
    assert_int_equal(span.wire_len, 8 + 0xffffffu + 0x10000au);
    assert_null(span.payload);
    /* Assemble in place: the chunks are compacted over the headers. */
    tf_packet_assemble(wire + row_at, &span, wire + row_at);
    const uint8_t *row = wire + row_at;
    assert_int_equal(tf_resultset_classify(row, span.payload_len, PY_DEPRECATE_CAPS),
                     TF_PACKET_DATA);
    tf_str value;
    bool is_null;
    assert_int_equal(tf_text_row_decode(row, span.payload_len, 1, &value, &is_null, &err), TF_OK);
    assert_false(is_null);
    assert_int_equal(value.len, 17u * 1024 * 1024);
    for (size_t i = 0; i < value.len; i++)
        if (value.ptr[i] != 'x')
            fail_msg("byte %zu of the value is 0x%02x", i, (uint8_t)value.ptr[i]);
    pos += span.wire_len;
    /* The closing OK starts with 0xfe too, and is short. */
    assert_int_equal(tf_packet_scan(wire + pos, len - pos, 5, &span, &err), TF_OK);
    assert_int_equal(span.payload_len, 7);
    assert_int_equal(tf_resultset_classify(span.payload, span.payload_len, PY_DEPRECATE_CAPS),
                     TF_PACKET_EOF);
    assert_int_equal(pos + span.wire_len, len);
    free(wire);
}

/* SELECT REPEAT('x', 16777211): the row payload is exactly 0xffffff bytes,
 * so the server follows it with an empty packet. */
static void test_scan_payload_of_exactly_16mib_ends_with_empty_packet(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_exact_16mib_eof.sparse", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 5); /* count, column, EOF, row, EOF */
    assert_int_equal(p.len[3], 0xffffffu);
    assert_int_equal(p.seq[3], 4);
    assert_int_equal(p.seq[4], 6); /* the empty chunk took sequence id 5 */
    /* The empty chunk is really in the capture, with sequence id 5. */
    size_t empty_at = 4 + p.len[0] + 4 + p.len[1] + 4 + p.len[2] + 4 + 0xffffffu;
    static const uint8_t empty_header[] = {0x00, 0x00, 0x00, 0x05};
    assert_memory_equal(wire + empty_at, empty_header, 4);
    assert_int_equal(p.payload[3][0], 0xfd); /* lenenc 3-byte length */
    assert_int_equal(tf_resultset_classify(p.payload[3], p.len[3], PY_CLASSIC_CAPS),
                     TF_PACKET_DATA);
    free_vector_packets(&p);
    free(wire);
}

static void test_scan_truncated_at_every_offset_needs_more(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_big_17mib_eof.sparse", &len);
    /* The row: skip the column count, column definition and EOF. */
    size_t row_at = 0;
    tf_packet_span span;
    tf_error err = {0};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_packet_scan(wire + row_at, len - row_at, (uint8_t)(i + 1), &span, &err),
                         TF_OK);
        row_at += span.wire_len;
    }
    assert_int_equal(tf_packet_scan(wire + row_at, len - row_at, 4, &span, &err), TF_OK);
    size_t row_wire = span.wire_len;
    for (size_t cut = 0; cut < row_wire; cut++) {
        assert_int_equal(tf_packet_scan(wire + row_at, cut, 4, &span, &err), TF_NEED_MORE);
        /* The hint always asks for more than was given, never past the end. */
        assert_true(span.wire_len > cut);
        assert_true(span.wire_len <= row_wire);
    }
    free(wire);
}

static void test_scan_small_packets_truncated_in_a_malloc_of_exact_size(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_many_columns_eof.hex", &len);
    for (size_t cut = 0; cut < 64; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, wire, cut);
        tf_packet_span span;
        tf_error err = {0};
        tf_status st = tf_packet_scan(part, cut, 1, &span, &err);
        assert_int_equal(st, cut >= 5 ? TF_OK : TF_NEED_MORE);
        free(part);
    }
    free(wire);
}

static void test_scan_rejects_wrong_first_sequence_id(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_insert_ok.hex", &len);
    tf_packet_span span;
    tf_error err = {0};
    assert_int_equal(tf_packet_scan(wire, len, 3, &span, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_PROTOCOL);
    assert_string_equal(err.message,
                        "packet: sequence id 1 where 3 was expected at offset 0 (chunk 1 of the "
                        "logical packet); a packet was lost or the connection is out of step");
    /* A header alone is enough to see it. */
    assert_int_equal(tf_packet_scan(wire, 4, 3, &span, &err), TF_MALFORMED);
    free(wire);
}

static void test_scan_rejects_wrong_sequence_id_inside_a_split_payload(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("cli_big_query.sparse", &len);
    tf_packet_span span;
    tf_error err = {0};
    assert_int_equal(tf_packet_scan(wire, len, 0, &span, &err), TF_OK);
    assert_int_equal(span.chunks, 2);
    assert_int_equal(span.next_seq, 2);
    /* Corrupt the second chunk's sequence id (1 -> 7). */
    size_t second = 4 + 0xffffffu;
    assert_int_equal(wire[second + 3], 1);
    wire[second + 3] = 7;
    assert_int_equal(tf_packet_scan(wire, len, 0, &span, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "packet: sequence id 7 where 1 was expected at offset 16777219 (chunk 2 "
                        "of the logical packet); a packet was lost or the connection is out of "
                        "step");
    free(wire);
}

static void test_scan_sequence_id_wraps_after_255(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_300_rows_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 304);
    assert_int_equal(p.seq[254], 255);
    assert_int_equal(p.seq[255], 0);
    assert_int_equal(p.seq[303], 48);
    free_vector_packets(&p);
    free(wire);
}

/* ---- encoder, checked against the server's own splits ---- */

static void test_encode_splits_like_the_server(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_big_17mib_deprecate_eof.sparse", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 4);
    size_t row_at = 4 + p.len[0] + 4 + p.len[1];
    size_t row_wire = 8 + p.len[2];
    assert_int_equal(tf_packet_encoded_size(p.len[2]), row_wire);
    uint8_t *out = malloc(row_wire);
    uint8_t next = 0;
    /* head/body split anywhere gives the same bytes */
    assert_int_equal(
        tf_packet_encode(p.payload[2], 9, p.payload[2] + 9, p.len[2] - 9, 3, out, row_wire, &next),
        row_wire);
    assert_int_equal(next, 5);
    assert_memory_equal(out, wire + row_at, row_wire);
    assert_int_equal(tf_packet_encode(NULL, 0, p.payload[2], p.len[2], 3, out, row_wire - 1, &next),
                     0);
    free(out);
    free_vector_packets(&p);
    free(wire);
}

static void test_encode_exact_16mib_payload_adds_empty_packet(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("py_exact_16mib_deprecate_eof.sparse", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 4); /* count, column, row (2 chunks), OK */
    size_t row_at = 4 + p.len[0] + 4 + p.len[1];
    size_t row_wire = tf_packet_encoded_size(p.len[2]);
    assert_int_equal(row_wire, 8 + 0xffffffu);
    uint8_t *out = malloc(row_wire);
    uint8_t next = 0;
    assert_int_equal(tf_packet_encode(p.payload[2], p.len[2], NULL, 0, 3, out, row_wire, &next),
                     row_wire);
    assert_int_equal(next, 5);
    assert_memory_equal(out, wire + row_at, row_wire);
    free(out);
    free_vector_packets(&p);
    free(wire);
}

static void test_encode_empty_payload_is_one_header(void **state)
{
    (void)state;
    /* The client's answer to a LOCAL INFILE request in our capture: an
     * empty packet with sequence id 2. */
    static const uint8_t captured[] = {0x00, 0x00, 0x00, 0x02};
    uint8_t out[4];
    uint8_t next;
    assert_int_equal(tf_packet_encoded_size(0), 4);
    assert_int_equal(tf_packet_encode(NULL, 0, NULL, 0, 2, out, sizeof out, &next), 4);
    assert_memory_equal(out, captured, 4);
    assert_int_equal(next, 3);
}

/* ---- OK ---- */

static tf_status decode_ok_vector(const char *name, uint64_t caps, tf_ok_packet *ok, uint8_t **keep)
{
    size_t len;
    *keep = load_hex_vector(name, &len);
    tf_error err = {0};
    assert_int_equal(tf_response_classify(*keep + 4, len - 4), TF_PACKET_OK);
    tf_status st = tf_ok_decode(*keep + 4, len - 4, caps, ok, &err);
    if (st != TF_OK)
        fail_msg("%s: %s", name, err.message);
    return st;
}

static void test_ok_after_insert_with_session_track_info(void **state)
{
    (void)state;
    tf_ok_packet ok;
    uint8_t *buf;
    decode_ok_vector("cli_insert_ok.hex", CLI_CAPS, &ok, &buf);
    assert_int_equal(ok.affected_rows, 3);
    assert_int_equal(ok.last_insert_id, 1);
    assert_int_equal(ok.status_flags, TF_SERVER_STATUS_AUTOCOMMIT);
    assert_int_equal(ok.warnings, 0);
    assert_str(ok.info, "Records: 3  Duplicates: 0  Warnings: 0");
    assert_int_equal(ok.session_state.len, 0);
    free(buf);
}

static void test_ok_after_init_db_skips_session_state_change(void **state)
{
    (void)state;
    tf_ok_packet ok;
    uint8_t *buf;
    decode_ok_vector("cli_init_db_ok.hex", CLI_CAPS, &ok, &buf);
    assert_int_equal(ok.affected_rows, 0);
    assert_int_equal(ok.status_flags,
                     TF_SERVER_SESSION_STATE_CHANGED | TF_SERVER_STATUS_AUTOCOMMIT);
    assert_int_equal(ok.info.len, 0);
    /* SESSION_TRACK_SCHEMA (1), 10 bytes: lenenc "tf_packet" */
    assert_int_equal(ok.session_state.len, 12);
    assert_memory_equal(ok.session_state.ptr, "\x01\x0a\x09tf_packet", 12);
    free(buf);
}

static void test_ok_without_session_track_info_is_still_length_encoded(void **state)
{
    (void)state;
    tf_ok_packet ok;
    uint8_t *buf;
    decode_ok_vector("py_update_ok.hex", PY_DEPRECATE_CAPS, &ok, &buf);
    assert_int_equal(ok.affected_rows, 1);
    assert_int_equal(ok.last_insert_id, 0);
    assert_int_equal(ok.status_flags, TF_SERVER_STATUS_AUTOCOMMIT);
    assert_str(ok.info, "Rows matched: 1  Changed: 1  Warnings: 0");
    free(buf);
}

static void test_ok_to_ping_has_no_info_even_with_session_track(void **state)
{
    (void)state;
    tf_ok_packet ok;
    uint8_t *buf;
    decode_ok_vector("admin_ping_ok.hex", CLI_CAPS, &ok, &buf);
    assert_int_equal(ok.status_flags, TF_SERVER_STATUS_AUTOCOMMIT);
    assert_int_equal(ok.info.len, 0);
    free(buf);
}

static void test_ok_bad_session_state_entry_is_malformed(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_init_db_ok.hex", &len);
    tf_ok_packet ok;
    tf_error err = {0};
    /* The entry says 10 bytes follow; make it 11 (one past the block). */
    uint8_t *payload = wire + 4;
    assert_int_equal(payload[10], 0x0a);
    payload[10] = 0x0b;
    assert_int_equal(tf_ok_decode(payload, len - 4, CLI_CAPS, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message, "OK packet session state: entry data needs 11 bytes at "
                                     "offset 11 but only 10 remain");
    free(wire);
}

static void test_ok_bad_lenenc_prefix_is_malformed(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_insert_ok.hex", &len);
    tf_ok_packet ok;
    tf_error err = {0};
    wire[4 + 1] = 0xff; /* affected rows */
    assert_int_equal(tf_ok_decode(wire + 4, len - 4, CLI_CAPS, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message, "OK packet: affected rows: 0xff is not a valid "
                                     "length-encoded integer prefix at offset 1");
    wire[4 + 1] = 0xfb;
    assert_int_equal(tf_ok_decode(wire + 4, len - 4, CLI_CAPS, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message, "OK packet: affected rows: 0xfb (NULL marker) where a "
                                     "length-encoded integer is required at offset 1");
    free(wire);
}

/* Every strict prefix of a decoder's input is either still a valid packet
 * (fields after it are optional) or malformed with a message; never a crash
 * or a read past the end (each prefix is its own allocation, for ASan). */
typedef tf_status (*decode_fn)(const uint8_t *p, size_t n, tf_error *err);

static void check_truncations(const char *name, size_t index, decode_fn fn,
                              bool every_prefix_malformed)
{
    size_t len;
    uint8_t *wire = load_hex_vector(name, &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_true(index < p.count);
    const uint8_t *payload = p.payload[index];
    size_t n = p.len[index];
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, payload, cut);
        tf_error err = {0};
        tf_status st = fn(part, cut, &err);
        if (st == TF_MALFORMED) {
            if (err.message[0] == '\0')
                fail_msg("%s cut at %zu: malformed without a message", name, cut);
        } else if (every_prefix_malformed || st != TF_OK) {
            fail_msg("%s cut at %zu: status %d", name, cut, st);
        }
        free(part);
    }
    tf_error err = {0};
    assert_int_equal(fn(payload, n, &err), TF_OK);
    free_vector_packets(&p);
    free(wire);
}

static tf_status ok_cli(const uint8_t *p, size_t n, tf_error *err)
{
    tf_ok_packet ok;
    return tf_ok_decode(p, n, CLI_CAPS, &ok, err);
}

static tf_status ok_py(const uint8_t *p, size_t n, tf_error *err)
{
    tf_ok_packet ok;
    return tf_ok_decode(p, n, PY_DEPRECATE_CAPS, &ok, err);
}

static tf_status err_any(const uint8_t *p, size_t n, tf_error *err)
{
    tf_err_packet e;
    return tf_err_decode(p, n, &e, err);
}

static tf_status eof_classic(const uint8_t *p, size_t n, tf_error *err)
{
    tf_eof_packet e;
    return tf_eof_decode(p, n, PY_CLASSIC_CAPS, &e, err);
}

static void test_ok_err_truncated_at_every_offset(void **state)
{
    (void)state;
    /* With session tracking the info and state are optional at the end. */
    check_truncations("cli_insert_ok.hex", 0, ok_cli, false);
    check_truncations("cli_init_db_ok.hex", 0, ok_cli, false);
    check_truncations("py_update_ok.hex", 0, ok_py, false);
    check_truncations("admin_ping_ok.hex", 0, ok_cli, true);
    check_truncations("cli_err_no_such_table.hex", 0, err_any, false);
}

static void test_ok_truncated_before_status_names_field(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_insert_ok.hex", &len);
    tf_ok_packet ok;
    tf_error err = {0};
    assert_int_equal(tf_ok_decode(wire + 4, 4, CLI_CAPS, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "OK packet: status flags needs 2 bytes at offset 3 but only 1 remain");
    assert_int_equal(tf_ok_decode(wire + 4, 12, CLI_CAPS, &ok, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "OK packet: info needs 38 bytes at offset 8 but only 4 remain");
    free(wire);
}

/* ---- ERR ---- */

static void test_err_unknown_table_with_sql_state(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_err_no_such_table.hex", &len);
    tf_err_packet pkt;
    tf_error err = {0};
    assert_int_equal(tf_response_classify(wire + 4, len - 4), TF_PACKET_ERR);
    assert_int_equal(tf_err_decode(wire + 4, len - 4, &pkt, &err), TF_OK);
    assert_int_equal(pkt.code, 1146);
    assert_string_equal(pkt.sql_state, "42S02");
    assert_str(pkt.message, "Table 'tf_packet.no_such_table' doesn't exist");
    tf_err_packet_to_error(&pkt, &err);
    assert_int_equal(err.domain, TF_ERR_SERVER);
    assert_int_equal(err.code, 1146);
    assert_string_equal(err.message,
                        "server error 1146 (42S02): Table 'tf_packet.no_such_table' doesn't exist");
    tf_error direct = {0};
    assert_int_equal(tf_err_payload_to_error(wire + 4, len - 4, &direct), TF_MALFORMED);
    assert_string_equal(direct.message, err.message);
    assert_int_equal(direct.code, 1146);
    free(wire);
}

static void test_err_without_sql_state_marker(void **state)
{
    (void)state;
    /* The layout without '#' + SQLSTATE, as a server sends 1040 Too many
     * connections before it has read the client's capabilities. Written by
     * hand from the documented ERR_Packet layout (no capture: the local
     * server cannot be made to refuse connections without disturbing the
     * other users of it). */
    size_t len;
    uint8_t *p =
        tf_test_hex("ff 10 04 54 6f 6f 20 6d 61 6e 79 20 63 6f 6e 6e 65 63 74 69 6f 6e 73", &len);
    tf_err_packet pkt;
    tf_error err = {0};
    assert_int_equal(tf_err_decode(p, len, &pkt, &err), TF_OK);
    assert_int_equal(pkt.code, 1040);
    assert_string_equal(pkt.sql_state, "");
    tf_err_packet_to_error(&pkt, &err);
    assert_string_equal(err.message, "server error 1040: Too many connections");
    free(p);
}

static void test_err_documented_example(void **state)
{
    (void)state;
    /* The ERR_Packet example of the MySQL protocol documentation. */
    size_t len;
    uint8_t *wire = tf_test_hex("17 00 00 01 ff 48 04 23 48 59 30 30 30 4e 6f 20 74 61 62 6c 65 73"
                                " 20 75 73 65 64",
                                &len);
    tf_packet pkt;
    size_t consumed;
    assert_int_equal(tf_packet_frame(wire, len, &pkt, &consumed), TF_OK);
    assert_int_equal(consumed, len);
    tf_error err = {0};
    assert_int_equal(tf_err_payload_to_error(pkt.payload, pkt.payload_len, &err), TF_MALFORMED);
    assert_string_equal(err.message, "server error 1096 (HY000): No tables used");
    free(wire);
}

static void test_err_truncated_sql_state_is_malformed(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_err_no_such_table.hex", &len);
    tf_err_packet pkt;
    tf_error err = {0};
    assert_int_equal(tf_err_decode(wire + 4, 6, &pkt, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "ERR packet: SQL state needs 5 bytes at offset 4 but only 2 remain");
    assert_int_equal(tf_err_decode(wire + 4, 2, &pkt, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "ERR packet: error code needs 2 bytes at offset 1 but only 1 remain");
    /* A malformed ERR becomes a protocol error, not a server error. */
    assert_int_equal(tf_err_payload_to_error(wire + 4, 2, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_PROTOCOL);
    free(wire);
}

static void test_err_progress_report_is_refused(void **state)
{
    (void)state;
    static const uint8_t progress[] = {0xff, 0xff, 0xff, 0x01, 0x01, 0x01};
    tf_err_packet pkt;
    tf_error err = {0};
    assert_int_equal(tf_err_decode(progress, sizeof progress, &pkt, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "ERR packet: error code 0xffff is a MariaDB progress report, which "
                        "tapflow does not ask for (MARIADB_CLIENT_PROGRESS) at offset 1");
}

/* ---- EOF and the 0xfe ambiguity ---- */

static void test_eof_classic_after_rows(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_select_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    const uint8_t *eof = p.payload[10];
    assert_int_equal(p.len[10], 5);
    assert_int_equal(tf_resultset_classify(eof, 5, CLI_CAPS), TF_PACKET_EOF);
    tf_eof_packet e;
    tf_error err = {0};
    assert_int_equal(tf_eof_decode(eof, 5, CLI_CAPS, &e, &err), TF_OK);
    assert_int_equal(e.warnings, 0);
    assert_int_equal(e.status_flags, 0x0022); /* AUTOCOMMIT | NO_INDEX_USED */
    tf_ok_packet ok;
    assert_int_equal(tf_end_decode(eof, 5, CLI_CAPS, &ok, &err), TF_OK);
    assert_int_equal(ok.status_flags, 0x0022);
    check_truncations("py_empty_result_eof.hex", 2, eof_classic, true);
    check_truncations("py_empty_result_eof.hex", 3, eof_classic, true);
    free_vector_packets(&p);
    free(wire);
}

static void test_eof_deprecated_ok_ends_rows(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_select_deprecate_eof.hex", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 10);
    const uint8_t *end = p.payload[9];
    assert_int_equal(p.len[9], 7);
    assert_int_equal(end[0], 0xfe);
    assert_int_equal(tf_resultset_classify(end, 7, PY_DEPRECATE_CAPS), TF_PACKET_EOF);
    tf_ok_packet ok;
    tf_error err = {0};
    assert_int_equal(tf_end_decode(end, 7, PY_DEPRECATE_CAPS, &ok, &err), TF_OK);
    assert_int_equal(ok.status_flags, 0x0022);
    assert_int_equal(ok.affected_rows, 0);
    /* Read as a classic EOF it has two bytes too many: the flavour must
     * come from the negotiated capabilities, not be guessed. */
    tf_eof_packet e;
    assert_int_equal(tf_eof_decode(end, 7, PY_CLASSIC_CAPS, &e, &err), TF_MALFORMED);
    assert_string_equal(err.message,
                        "EOF packet: 2 unexpected bytes after the last field at offset 5");
    free_vector_packets(&p);
    free(wire);
}

static void test_0xfe_row_is_data_and_0xfe_end_is_eof_by_length(void **state)
{
    (void)state;
    /* A row of one value of 2^24 bytes or more starts with lenenc 0xfe;
     * its payload is never shorter than 9 + 2^24 > 0xffffff. */
    size_t len;
    uint8_t *wire = load_sparse_vector("py_big_17mib_eof.sparse", &len);
    vector_packets p = {0};
    split_vector(wire, len, 1, &p);
    assert_int_equal(p.count, 5);
    assert_int_equal(p.payload[3][0], 0xfe);
    assert_int_equal(tf_resultset_classify(p.payload[3], p.len[3], PY_CLASSIC_CAPS),
                     TF_PACKET_DATA);
    assert_int_equal(tf_resultset_classify(p.payload[3], p.len[3], PY_DEPRECATE_CAPS),
                     TF_PACKET_DATA);
    assert_int_equal(tf_resultset_classify(p.payload[4], p.len[4], PY_CLASSIC_CAPS), TF_PACKET_EOF);
    /* The boundaries themselves. */
    static uint8_t fe[16] = {0xfe};
    assert_int_equal(tf_resultset_classify(fe, 8, PY_CLASSIC_CAPS), TF_PACKET_EOF);
    assert_int_equal(tf_resultset_classify(fe, 9, PY_CLASSIC_CAPS), TF_PACKET_DATA);
    assert_int_equal(tf_resultset_classify(fe, 9, PY_DEPRECATE_CAPS), TF_PACKET_EOF);
    assert_int_equal(tf_resultset_classify(fe, 0xfffffe, PY_DEPRECATE_CAPS), TF_PACKET_EOF);
    assert_int_equal(tf_resultset_classify(fe, 0xffffff, PY_DEPRECATE_CAPS), TF_PACKET_DATA);
    free_vector_packets(&p);
    free(wire);
}

/* ---- LOCAL INFILE ---- */

static void test_local_infile_request_is_recognised_and_rejected(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("py_local_infile_request.hex", &len);
    assert_int_equal(tf_response_classify(wire + 4, len - 4), TF_PACKET_LOCAL_INFILE);
    tf_error err = {0};
    assert_int_equal(tf_local_infile_reject(wire + 4, len - 4, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_string_equal(err.message,
                        "server asked for LOCAL INFILE '/tmp/tapflow-packet-nope.csv': tapflow "
                        "never sends local files (CLIENT_LOCAL_FILES is not negotiated); closing "
                        "the connection");
    /* A hostile name cannot put control bytes into the log. */
    static const uint8_t evil[] = {0xfb, 'a', '\n', 0x1b, 'b'};
    assert_int_equal(tf_local_infile_reject(evil, sizeof evil, &err), TF_MALFORMED);
    assert_non_null(strstr(err.message, "'a??b'"));
    free(wire);
}

static void test_classify_first_response_packet(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_select_eof.hex", &len);
    assert_int_equal(tf_response_classify(wire + 4, 2), TF_PACKET_DATA);
    assert_int_equal(tf_response_classify(wire, 0), TF_PACKET_DATA);
    free(wire);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_splits_captured_resultset_into_packets),
        cmocka_unit_test(test_frame_truncated_at_every_offset_needs_more),
        cmocka_unit_test(test_scan_assembles_17mib_row_split_by_server),
        cmocka_unit_test(test_scan_payload_of_exactly_16mib_ends_with_empty_packet),
        cmocka_unit_test(test_scan_truncated_at_every_offset_needs_more),
        cmocka_unit_test(test_scan_small_packets_truncated_in_a_malloc_of_exact_size),
        cmocka_unit_test(test_scan_rejects_wrong_first_sequence_id),
        cmocka_unit_test(test_scan_rejects_wrong_sequence_id_inside_a_split_payload),
        cmocka_unit_test(test_scan_sequence_id_wraps_after_255),
        cmocka_unit_test(test_encode_splits_like_the_server),
        cmocka_unit_test(test_encode_exact_16mib_payload_adds_empty_packet),
        cmocka_unit_test(test_encode_empty_payload_is_one_header),
        cmocka_unit_test(test_ok_after_insert_with_session_track_info),
        cmocka_unit_test(test_ok_after_init_db_skips_session_state_change),
        cmocka_unit_test(test_ok_without_session_track_info_is_still_length_encoded),
        cmocka_unit_test(test_ok_to_ping_has_no_info_even_with_session_track),
        cmocka_unit_test(test_ok_bad_session_state_entry_is_malformed),
        cmocka_unit_test(test_ok_bad_lenenc_prefix_is_malformed),
        cmocka_unit_test(test_ok_err_truncated_at_every_offset),
        cmocka_unit_test(test_ok_truncated_before_status_names_field),
        cmocka_unit_test(test_err_unknown_table_with_sql_state),
        cmocka_unit_test(test_err_without_sql_state_marker),
        cmocka_unit_test(test_err_documented_example),
        cmocka_unit_test(test_err_truncated_sql_state_is_malformed),
        cmocka_unit_test(test_err_progress_report_is_refused),
        cmocka_unit_test(test_eof_classic_after_rows),
        cmocka_unit_test(test_eof_deprecated_ok_ends_rows),
        cmocka_unit_test(test_0xfe_row_is_data_and_0xfe_end_is_eof_by_length),
        cmocka_unit_test(test_local_infile_request_is_recognised_and_rejected),
        cmocka_unit_test(test_classify_first_response_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
