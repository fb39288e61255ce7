/* test_command.c — COM_QUERY, COM_INIT_DB, COM_PING, COM_QUIT encoders,
 * compared byte for byte with what the real mariadb clients sent
 * (tests/vectors/packet). */
#include "packet_vectors.h"

/* The command's argument as the real client sent it (payload after the
 * command byte), so each encoder is given exactly the same input. */
static void expect_same_as_captured(const char *name, uint8_t command)
{
    size_t len;
    uint8_t *wire = load_hex_vector(name, &len);
    assert_true(len >= 5);
    assert_int_equal(wire[3], 0); /* a command starts the exchange */
    assert_int_equal(wire[4], command);
    const char *arg = (const char *)wire + 5;
    size_t arg_len = len - 5;
    size_t size =
        command == TF_COM_QUERY ? tf_com_query_size(arg_len) : tf_com_init_db_size(arg_len);
    assert_int_equal(size, len);
    uint8_t *out = malloc(size);
    uint8_t next = 99;
    size_t written = command == TF_COM_QUERY
                         ? tf_com_query_encode(arg, arg_len, out, size, &next)
                         : tf_com_init_db_encode(arg, arg_len, out, size, &next);
    assert_int_equal(written, len);
    assert_memory_equal(out, wire, len);
    assert_int_equal(next, 1);
    /* Every capacity below the size is refused without writing past it. */
    for (size_t cap = 0; cap < size; cap++) {
        uint8_t *small = malloc(cap ? cap : 1);
        size_t n = command == TF_COM_QUERY ? tf_com_query_encode(arg, arg_len, small, cap, NULL)
                                           : tf_com_init_db_encode(arg, arg_len, small, cap, NULL);
        assert_int_equal(n, 0);
        free(small);
    }
    free(out);
    free(wire);
}

static void test_com_query_insert_with_utf8_as_cli_sent_it(void **state)
{
    (void)state;
    expect_same_as_captured("cli_insert_query.hex", TF_COM_QUERY);
}

static void test_com_query_select_as_cli_sent_it(void **state)
{
    (void)state;
    expect_same_as_captured("cli_select_query.hex", TF_COM_QUERY);
}

static void test_com_query_many_columns_as_sent(void **state)
{
    (void)state;
    expect_same_as_captured("py_many_columns_query.hex", TF_COM_QUERY);
}

static void test_com_init_db_as_cli_sent_it(void **state)
{
    (void)state;
    expect_same_as_captured("cli_init_db.hex", TF_COM_INIT_DB);
}

static void test_com_ping_as_mariadb_admin_sent_it(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("admin_ping.hex", &len);
    uint8_t out[TF_COM_PING_SIZE];
    assert_int_equal(len, TF_COM_PING_SIZE);
    assert_int_equal(tf_com_ping_encode(out, sizeof out), TF_COM_PING_SIZE);
    assert_memory_equal(out, wire, len);
    assert_int_equal(tf_com_ping_encode(out, TF_COM_PING_SIZE - 1), 0);
    free(wire);
}

static void test_com_quit_as_cli_sent_it(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_hex_vector("cli_quit.hex", &len);
    uint8_t out[TF_COM_QUIT_SIZE];
    assert_int_equal(len, TF_COM_QUIT_SIZE);
    assert_int_equal(tf_com_quit_encode(out, sizeof out), TF_COM_QUIT_SIZE);
    assert_memory_equal(out, wire, len);
    assert_int_equal(tf_com_quit_encode(out, 0), 0);
    free(wire);
}

/* The mariadb CLI's 17 MiB COM_QUERY: 0xffffff bytes with sequence id 0,
 * then 0x100018 bytes with sequence id 1; the server's answer began with
 * sequence id 2. */
static void test_com_query_over_16mib_splits_like_the_cli(void **state)
{
    (void)state;
    size_t len;
    uint8_t *wire = load_sparse_vector("cli_big_query.sparse", &len);
    tf_packet_span span;
    tf_error err = {0};
    assert_int_equal(tf_packet_scan(wire, len, 0, &span, &err), TF_OK);
    assert_int_equal(span.wire_len, len);
    assert_int_equal(span.chunks, 2);
    uint8_t *payload = malloc(span.payload_len);
    tf_packet_assemble(wire, &span, payload);
    assert_int_equal(payload[0], TF_COM_QUERY);
    const char *query = (const char *)payload + 1;
    size_t query_len = span.payload_len - 1;
    assert_memory_equal(query, "SELECT LENGTH('", 15);
    assert_int_equal(tf_com_query_size(query_len), len);
    uint8_t *out = malloc(len);
    uint8_t next = 0;
    assert_int_equal(tf_com_query_encode(query, query_len, out, len, &next), len);
    assert_int_equal(next, 2);
    assert_memory_equal(out, wire, len);
    assert_int_equal(tf_com_query_encode(query, query_len, out, len - 1, &next), 0);
    free(out);
    free(payload);
    free(wire);
}

static void test_com_query_of_exactly_one_chunk_adds_empty_packet(void **state)
{
    (void)state;
    /* A query of 0xfffffe bytes makes a payload of exactly 0xffffff: like
     * the server's 16777211-byte row (py_exact_16mib_*.sparse), it must be
     * followed by an empty packet, here with sequence id 1. */
    size_t query_len = 0xfffffe;
    char *query = malloc(query_len);
    memset(query, 'x', query_len);
    size_t size = tf_com_query_size(query_len);
    assert_int_equal(size, 8 + 0xffffffu);
    uint8_t *out = malloc(size);
    uint8_t next = 0;
    assert_int_equal(tf_com_query_encode(query, query_len, out, size, &next), size);
    assert_int_equal(next, 2);
    static const uint8_t first[] = {0xff, 0xff, 0xff, 0x00, TF_COM_QUERY};
    static const uint8_t last[] = {0x00, 0x00, 0x00, 0x01};
    assert_memory_equal(out, first, 5);
    assert_memory_equal(out + size - 4, last, 4);
    free(out);
    free(query);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_com_query_insert_with_utf8_as_cli_sent_it),
        cmocka_unit_test(test_com_query_select_as_cli_sent_it),
        cmocka_unit_test(test_com_query_many_columns_as_sent),
        cmocka_unit_test(test_com_init_db_as_cli_sent_it),
        cmocka_unit_test(test_com_ping_as_mariadb_admin_sent_it),
        cmocka_unit_test(test_com_quit_as_cli_sent_it),
        cmocka_unit_test(test_com_query_over_16mib_splits_like_the_cli),
        cmocka_unit_test(test_com_query_of_exactly_one_chunk_adds_empty_packet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
