/* test_handshake.c — handshake v10, HandshakeResponse41 and SSLRequest
 * against real packets of the local MariaDB 10.11 and its mariadb CLI
 * (tests/vectors/auth/, see its README for how each was captured). */
#include "auth_vectors.h"

#include "protocol.h"

#include <stdio.h>
#include <string.h>

/* Capabilities of the real libmariadb 3.3.20 response in native.hex:
 * low word 0x00bfa28c, extended 0x1d (bits 32..). */
#define REAL_CLIENT_CAPS ((UINT64_C(0x1d) << 32) | UINT64_C(0x00bfa28c))
#define REAL_SERVER_CAPS ((UINT64_C(0x1d) << 32) | UINT64_C(0x81fff7fe))

static void test_handshake_v10_of_mariadb(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("native", &s);
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(s.packets[0].payload, s.packets[0].len, &hs, &err), TF_OK);
    assert_int_equal(hs.protocol_version, 10);
    assert_string_equal(hs.server_version, "5.5.5-10.11.19-MariaDB-0+deb12u1-log");
    assert_string_equal(tf_handshake_version(&hs), "10.11.19-MariaDB-0+deb12u1-log");
    assert_true(hs.is_mariadb);
    assert_int_equal(hs.connection_id, 18);
    /* Part 1 (8 bytes) + part 2 (12 bytes; its 13th byte, NUL, dropped). */
    size_t nonce_len;
    uint8_t *nonce = tf_test_hex("2a6b607e7966722c 215c32245873583e6c292373", &nonce_len);
    assert_int_equal(hs.auth_data_len, 20);
    assert_memory_equal(hs.auth_data, nonce, 20);
    free(nonce);
    /* Bit 0 clear: the 4 reserved bytes are MariaDB's extended caps
     * (PROGRESS, STMT_BULK_OPERATIONS, EXTENDED_METADATA, CACHE_METADATA). */
    assert_int_equal(hs.capabilities, REAL_SERVER_CAPS);
    assert_false(hs.capabilities & TF_CLIENT_MYSQL);
    assert_true(hs.capabilities & TF_MARIADB_CLIENT_CACHE_METADATA);
    assert_false(hs.capabilities & TF_MARIADB_CLIENT_COM_MULTI);
    assert_int_equal(hs.charset, 45); /* utf8mb4_general_ci */
    assert_int_equal(hs.status_flags, TF_SERVER_STATUS_AUTOCOMMIT);
    assert_string_equal(hs.auth_plugin, "mysql_native_password");
    auth_session_free(&s);
}

static void test_handshake_of_mysql_keeps_reserved_bytes_out(void **state)
{
    (void)state;
    /* The real MariaDB handshake with bit 0 set, as a MySQL server sends it:
     * then the last reserved bytes are not capabilities. */
    auth_session s;
    auth_session_load("native", &s);
    uint8_t pkt[256];
    memcpy(pkt, s.packets[0].payload, s.packets[0].len);
    size_t caps_at = 1 + strlen("5.5.5-10.11.19-MariaDB-0+deb12u1-log") + 1 + 4 + 8 + 1;
    assert_int_equal(pkt[caps_at], 0xfe);
    pkt[caps_at] |= 1;
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(pkt, s.packets[0].len, &hs, &err), TF_OK);
    assert_int_equal(hs.capabilities, UINT64_C(0x81fff7ff));
    assert_true(hs.is_mariadb); /* still: the version says MariaDB */
    auth_session_free(&s);
}

static void test_handshake_err_first_packet_is_the_servers_error(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("hostblocked", &s);
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(s.packets[0].payload, s.packets[0].len, &hs, &err),
                     TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_SERVER);
    assert_int_equal(err.code, 1130);
    assert_string_equal(err.message, "server error 1130: Host '127.0.0.2' is not allowed to connect "
                                     "to this MariaDB server");
    auth_session_free(&s);
}

static void test_handshake_rejects_other_protocol_versions(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("native", &s);
    uint8_t pkt[256];
    memcpy(pkt, s.packets[0].payload, s.packets[0].len);
    pkt[0] = 9;
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(pkt, s.packets[0].len, &hs, &err), TF_MALFORMED);
    assert_int_equal(err.domain, TF_ERR_UNSUPPORTED);
    assert_string_equal(err.message, "handshake: protocol version 9 is not supported (only 10, "
                                     "spoken by MySQL >= 3.21 and MariaDB) at offset 0");
    auth_session_free(&s);
}

static void test_handshake_truncated_at_every_offset(void **state)
{
    (void)state;
    static const char *const sessions[] = {"native", "wrongpw", "ed25519", "sha2switch"};
    for (size_t i = 0; i < sizeof sessions / sizeof sessions[0]; i++) {
        auth_session s;
        auth_session_load(sessions[i], &s);
        const auth_packet *p = &s.packets[0];
        for (size_t cut = 0; cut < p->len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
            memcpy(copy, p->payload, cut);
            tf_handshake hs;
            tf_error err = {0};
            assert_int_equal(tf_handshake_decode(copy, cut, &hs, &err), TF_MALFORMED);
            assert_int_equal(err.domain, TF_ERR_PROTOCOL);
            assert_non_null(strstr(err.message, "handshake v10: "));
            assert_non_null(strstr(err.message, " at offset "));
            free(copy);
        }
        auth_session_free(&s);
    }
    /* Two exact messages: the field and the offset. */
    auth_session s;
    auth_session_load("native", &s);
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(s.packets[0].payload, 45, &hs, &err), TF_MALFORMED);
    assert_string_equal(err.message, "handshake v10: auth-plugin-data part 1 needs 8 bytes at "
                                     "offset 42 but only 3 remain");
    assert_int_equal(tf_handshake_decode(s.packets[0].payload, s.packets[0].len - 1, &hs, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "handshake v10: auth plugin name needs 22 bytes at offset "
                                     "82 but only 21 remain");
    auth_session_free(&s);
}

static void test_negotiate_with_real_server(void **state)
{
    (void)state;
    /* What libmariadb wanted from this server, plus compression and bit 0
     * it would have liked: the server's answer leaves exactly what the real
     * client sent. */
    uint64_t wants = REAL_CLIENT_CAPS | TF_CLIENT_COMPRESS | TF_CLIENT_MYSQL |
                     TF_CLIENT_ZSTD_COMPRESSION_ALGORITHM | TF_MARIADB_CLIENT_COM_MULTI;
    assert_int_equal(tf_handshake_negotiate(wants, REAL_SERVER_CAPS), REAL_CLIENT_CAPS);
    /* A MySQL server (bit 0 set, no extended bits) keeps bit 0 and drops the
     * MariaDB bits. */
    uint64_t mysql_server = UINT64_C(0xdfffffff) & ~TF_CLIENT_SSL;
    assert_int_equal(tf_handshake_negotiate(wants, mysql_server),
                     (REAL_CLIENT_CAPS & 0xffffffffu) | TF_CLIENT_MYSQL);
}

static const tf_connect_attr real_client_attrs[] = {
    {"_os", "Linux"},
    {"_client_name", "libmariadb"},
    {"_pid", "13043"},
    {"_client_version", "3.3.20"},
    {"_platform", "x86_64"},
    {"program_name", "mysql"},
    {"_server_host", "127.0.0.1"},
};

static void test_handshake_response_equals_real_client_bytes(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("native", &s);
    tf_handshake hs;
    tf_error err = {0};
    assert_int_equal(tf_handshake_decode(s.packets[0].payload, s.packets[0].len, &hs, &err), TF_OK);
    tf_auth auth;
    tf_auth_init(&auth, "tapflow-test", strlen("tapflow-test"), false);
    assert_int_equal(tf_auth_start(&auth, &hs, &err), TF_OK);
    tf_handshake_response resp = {
        .capabilities = REAL_CLIENT_CAPS,
        .max_packet_size = 1u << 20,
        .charset = 33, /* utf8mb3_general_ci, libmariadb's default */
        .username = "tapflow",
        .auth_response = auth.response,
        .auth_response_len = auth.response_len,
        .database = "tapflow_test",
        .auth_plugin = auth.plugin_name,
        .attrs = real_client_attrs,
        .attr_count = sizeof real_client_attrs / sizeof real_client_attrs[0],
    };
    uint8_t out[512];
    size_t written;
    assert_int_equal(tf_handshake_response_encode(&resp, out, sizeof out, &written, &err), TF_OK);
    /* Byte for byte what the mariadb CLI sent, our scramble included. */
    assert_int_equal(written, s.packets[1].len);
    assert_memory_equal(out, s.packets[1].payload, written);

    /* Too small a buffer: the size needed, nothing claimed written. */
    assert_int_equal(tf_handshake_response_encode(&resp, out, 100, &written, &err), TF_MALFORMED);
    assert_int_equal(written, s.packets[1].len);
    assert_string_equal(err.message, "handshake response: needs 224 bytes, buffer has 100");
    tf_auth_cleanup(&auth);
    auth_session_free(&s);
}

static void test_handshake_response_decode_real_client(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("native", &s);
    tf_handshake_response_view v;
    tf_error err = {0};
    assert_int_equal(tf_handshake_response_decode(s.packets[1].payload, s.packets[1].len, &v, &err),
                     TF_OK);
    assert_int_equal(v.capabilities, REAL_CLIENT_CAPS);
    assert_int_equal(v.max_packet_size, 1u << 20);
    assert_int_equal(v.charset, 33);
    assert_false(v.is_ssl_request);
    assert_string_equal(v.username, "tapflow");
    assert_int_equal(v.auth_response_len, 20);
    assert_string_equal(v.database, "tapflow_test");
    assert_string_equal(v.auth_plugin, "mysql_native_password");
    size_t pos = 0, i = 0;
    for (;;) {
        const char *k, *val;
        size_t kl, vl;
        bool done;
        assert_int_equal(
            tf_connect_attr_next(v.attrs, v.attrs_len, &pos, &k, &kl, &val, &vl, &done, &err),
            TF_OK);
        if (done)
            break;
        assert_true(i < 7);
        assert_int_equal(kl, strlen(real_client_attrs[i].key));
        assert_memory_equal(k, real_client_attrs[i].key, kl);
        assert_int_equal(vl, strlen(real_client_attrs[i].value));
        assert_memory_equal(val, real_client_attrs[i].value, vl);
        i++;
    }
    assert_int_equal(i, 7);
    auth_session_free(&s);
}

static void test_handshake_response_truncated_at_every_offset(void **state)
{
    (void)state;
    static const char *const sessions[] = {"native", "wrongpw", "ed25519", "sha2switch"};
    for (size_t i = 0; i < sizeof sessions / sizeof sessions[0]; i++) {
        auth_session s;
        auth_session_load(sessions[i], &s);
        const auth_packet *p = &s.packets[1];
        assert_int_equal(p->from, 'C');
        for (size_t cut = 0; cut < p->len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, p->payload, cut);
            tf_handshake_response_view v;
            tf_error err = {0};
            assert_int_equal(tf_handshake_response_decode(copy, cut, &v, &err), TF_MALFORMED);
            assert_non_null(strstr(err.message, "handshake response: "));
            assert_non_null(strstr(err.message, " at offset "));
            free(copy);
        }
        auth_session_free(&s);
    }
}

static void test_ssl_request_is_the_responses_first_32_bytes(void **state)
{
    (void)state;
    auth_session s;
    auth_session_load("native", &s);
    /* The real response's fixed part with CLIENT_SSL added is what libmariadb
     * would send as its SSLRequest. */
    uint8_t expected[32];
    memcpy(expected, s.packets[1].payload, 32);
    expected[1] |= TF_CLIENT_SSL >> 8;
    uint8_t out[32];
    size_t written;
    tf_error err = {0};
    assert_int_equal(tf_ssl_request_encode(REAL_CLIENT_CAPS | TF_CLIENT_SSL, 1u << 20, 33, out,
                                           sizeof out, &written, &err),
                     TF_OK);
    assert_int_equal(written, 32);
    assert_memory_equal(out, expected, 32);

    tf_handshake_response_view v;
    assert_int_equal(tf_handshake_response_decode(out, 32, &v, &err), TF_OK);
    assert_true(v.is_ssl_request);
    assert_int_equal(v.capabilities, REAL_CLIENT_CAPS | TF_CLIENT_SSL);

    assert_int_equal(
        tf_ssl_request_encode(REAL_CLIENT_CAPS, 1u << 20, 33, out, sizeof out, &written, &err),
        TF_MALFORMED);
    assert_string_equal(err.message, "SSL request: CLIENT_SSL is not set");
    auth_session_free(&s);
}

static void test_handshake_response_fields_must_match_flags(void **state)
{
    (void)state;
    uint8_t out[256];
    size_t written;
    tf_error err = {0};
    tf_handshake_response resp = {
        .capabilities = REAL_CLIENT_CAPS & ~TF_CLIENT_CONNECT_WITH_DB,
        .username = "tapflow",
        .database = "tapflow_test",
        .auth_plugin = "mysql_native_password",
    };
    assert_int_equal(tf_handshake_response_encode(&resp, out, sizeof out, &written, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "handshake response: CLIENT_CONNECT_WITH_DB is not set but "
                                     "a database is given");
    resp.database = NULL;
    resp.capabilities |= TF_CLIENT_COMPRESS;
    assert_int_equal(tf_handshake_response_encode(&resp, out, sizeof out, &written, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message,
                        "handshake response: compression capabilities are not supported");
    /* Without the lenenc flag the length is one byte: 256 bytes cannot go. */
    static const uint8_t big[256] = {0};
    resp.capabilities = (REAL_CLIENT_CAPS &
                         ~(TF_CLIENT_CONNECT_WITH_DB | TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA));
    resp.auth_response = big;
    resp.auth_response_len = sizeof big;
    assert_int_equal(tf_handshake_response_encode(&resp, out, sizeof out, &written, &err),
                     TF_MALFORMED);
    assert_string_equal(err.message, "handshake response: auth response of 256 bytes needs "
                                     "CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (at most 255 without)");
}

static void test_random_bytes_never_crash(void **state)
{
    (void)state;
    uint32_t x = 12345;
    uint8_t buf[128];
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(round % (int)sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        if (len > 0 && round % 2)
            buf[0] = 10; /* get past the version byte half the time */
        tf_handshake hs;
        tf_handshake_response_view v;
        tf_error err = {0};
        tf_status st = tf_handshake_decode(buf, len, &hs, &err);
        assert_true(st == TF_OK || (st == TF_MALFORMED && err.message[0]));
        st = tf_handshake_response_decode(buf, len, &v, &err);
        assert_true(st == TF_OK || (st == TF_MALFORMED && err.message[0]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_v10_of_mariadb),
        cmocka_unit_test(test_handshake_of_mysql_keeps_reserved_bytes_out),
        cmocka_unit_test(test_handshake_err_first_packet_is_the_servers_error),
        cmocka_unit_test(test_handshake_rejects_other_protocol_versions),
        cmocka_unit_test(test_handshake_truncated_at_every_offset),
        cmocka_unit_test(test_negotiate_with_real_server),
        cmocka_unit_test(test_handshake_response_equals_real_client_bytes),
        cmocka_unit_test(test_handshake_response_decode_real_client),
        cmocka_unit_test(test_handshake_response_truncated_at_every_offset),
        cmocka_unit_test(test_ssl_request_is_the_responses_first_32_bytes),
        cmocka_unit_test(test_handshake_response_fields_must_match_flags),
        cmocka_unit_test(test_random_bytes_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
