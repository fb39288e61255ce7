/* handshake.c — the connection phase's fixed packets: the server's handshake
 * v10, the client's SSLRequest and HandshakeResponse41 (encoded, and decoded
 * for the servers we play in tests), and the connection-phase ERR. The auth
 * plugins that fill the auth response live in auth*.c. */
#include "auth_internal.h"
#include "reader_internal.h"
#include "writer_internal.h"

#include <stdio.h>
#include <string.h>

#define MARIADB_RPL_HACK_PREFIX "5.5.5-"

/* Copies a NUL-terminated field into a fixed buffer of the handshake. */
static tf_status read_name(tf_reader *r, char *dst, const char *field)
{
    tf_str s;
    size_t start = tf_reader_offset(r);
    tf_status st = tf_read_nul_str(r, &s, field);
    if (st != TF_OK)
        return st;
    if (s.len >= TF_HANDSHAKE_NAME_MAX)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: %s is %zu bytes, more than %d, at offset %zu", r->context, field,
                            s.len, TF_HANDSHAKE_NAME_MAX - 1, start);
    memcpy(dst, s.ptr, s.len);
    dst[s.len] = '\0';
    return TF_OK;
}

tf_status tf_handshake_decode(const uint8_t *payload, size_t len, tf_handshake *out, tf_error *err)
{
    memset(out, 0, sizeof *out);
    if (len > 0 && payload[0] == 0xff)
        return tf_err_payload_to_error(payload, len, err);

    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "handshake v10", TF_MALFORMED, err);
    tf_status st;
#define TRY(expr)                   \
    do {                            \
        if ((st = (expr)) != TF_OK) \
            return st;              \
    } while (0)

    TRY(tf_read_u8(&r, &out->protocol_version, "protocol version"));
    if (out->protocol_version != 10)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "handshake: protocol version %u is not supported (only 10, "
                            "spoken by MySQL >= 3.21 and MariaDB) at offset 0",
                            out->protocol_version);
    TRY(read_name(&r, out->server_version, "server version"));
    TRY(tf_read_u32le(&r, &out->connection_id, "connection id"));
    const uint8_t *part1;
    TRY(tf_read_bytes(&r, 8, &part1, "auth-plugin-data part 1"));
    TRY(tf_read_skip(&r, 1, "filler"));
    uint16_t caps_lower, caps_upper;
    uint8_t auth_data_len;
    TRY(tf_read_u16le(&r, &caps_lower, "capability flags (lower)"));
    TRY(tf_read_u8(&r, &out->charset, "character set"));
    TRY(tf_read_u16le(&r, &out->status_flags, "status flags"));
    TRY(tf_read_u16le(&r, &caps_upper, "capability flags (upper)"));
    TRY(tf_read_u8(&r, &auth_data_len, "auth-plugin-data length"));
    TRY(tf_read_skip(&r, 6, "reserved"));
    uint32_t ext_caps;
    TRY(tf_read_u32le(&r, &ext_caps, "MariaDB extended capabilities / reserved"));
    out->capabilities = (uint64_t)caps_upper << 16 | caps_lower;
    /* A MariaDB server clears bit 0 (CLIENT_LONG_PASSWORD, which every MySQL
     * since 4.1 sets) to say the last 4 reserved bytes are its extended
     * capabilities; otherwise they are reserved zeros. */
    if (!(out->capabilities & TF_CLIENT_MYSQL))
        out->capabilities |= (uint64_t)ext_caps << 32;

    if (!(out->capabilities & TF_CLIENT_PROTOCOL_41))
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "handshake: server does not offer CLIENT_PROTOCOL_41 (a pre-4.1 "
                            "server); not supported");

    memcpy(out->auth_data, part1, 8);
    out->auth_data_len = 8;
    if (out->capabilities & TF_CLIENT_SECURE_CONNECTION) {
        /* Part 2 is max(13, auth_plugin_data_len - 8) bytes; servers put 12
         * nonce bytes and a NUL there, and the NUL is not part of the nonce. */
        size_t part2_len = auth_data_len > 21 ? (size_t)auth_data_len - 8 : 13;
        const uint8_t *part2;
        TRY(tf_read_bytes(&r, part2_len, &part2, "auth-plugin-data part 2"));
        if (part2[part2_len - 1] == '\0')
            part2_len--;
        memcpy(out->auth_data + 8, part2, part2_len);
        out->auth_data_len += part2_len;
    }
    if (out->capabilities & TF_CLIENT_PLUGIN_AUTH) {
        /* MySQL 5.5.7..5.5.9 forgot this NUL (bug #59453); we do not accept
         * those servers rather than take a cut packet's half name. */
        TRY(read_name(&r, out->auth_plugin, "auth plugin name"));
    }
#undef TRY

    /* MariaDB 10.x prefixes its version with "5.5.5-" so that old MySQL
     * replicas, which read the major version from the first digit, accept
     * it (tf_handshake_version strips it). The capability bit catches a
     * MariaDB whose version string is unusual. */
    out->is_mariadb =
        strstr(out->server_version, "MariaDB") != NULL || !(out->capabilities & TF_CLIENT_MYSQL);
    return TF_OK;
}

const char *tf_handshake_version(const tf_handshake *hs)
{
    size_t prefix_len = strlen(MARIADB_RPL_HACK_PREFIX);
    if (hs->is_mariadb && strncmp(hs->server_version, MARIADB_RPL_HACK_PREFIX, prefix_len) == 0)
        return hs->server_version + prefix_len;
    return hs->server_version;
}

uint64_t tf_handshake_negotiate(uint64_t client_wants, uint64_t server_capabilities)
{
    /* Compression is not implemented by this codec: never negotiate it.
     * Bit 0 and the extended bits need no special case: a MariaDB server has
     * bit 0 clear (so the intersection clears it and the extended bits are
     * sent), and a MySQL server's decoded capabilities have no bits above 31. */
    uint64_t not_implemented = TF_CLIENT_COMPRESS | TF_CLIENT_ZSTD_COMPRESSION_ALGORITHM;
    return client_wants & server_capabilities & ~not_implemented;
}

typedef tf_writer writer;

static void put_lenenc_str(writer *w, const char *s) { tf_put_lenenc_bytes(w, s, strlen(s)); }

static void put_cstr(writer *w, const char *s) { tf_put_bytes(w, s, strlen(s) + 1); }

static tf_status finish(const writer *w, size_t *written, const char *what, tf_error *err)
{
    *written = w->len;
    if (w->len > w->cap || !w->out)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: needs %zu bytes, buffer has %zu", what,
                            w->len, w->out ? w->cap : 0);
    return TF_OK;
}

/* The 32 bytes SSLRequest and HandshakeResponse41 share. */
static void put_fixed_header(writer *w, uint64_t caps, uint32_t max_packet, uint8_t charset)
{
    static const uint8_t zeros[19] = {0};
    tf_put_uint_le(w, caps & 0xffffffffu, 4);
    tf_put_uint_le(w, max_packet, 4);
    tf_put_uint_le(w, charset, 1);
    tf_put_bytes(w, zeros, sizeof zeros);
    /* MariaDB reads its extended capabilities from the last 4 filler bytes
     * when the client, too, clears bit 0. */
    tf_put_uint_le(w, (caps & TF_CLIENT_MYSQL) ? 0 : caps >> 32, 4);
}

static tf_status check_caps_for_encode(uint64_t caps, const char *what, tf_error *err)
{
    if (!(caps & TF_CLIENT_PROTOCOL_41))
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s: CLIENT_PROTOCOL_41 is required (pre-4.1 responses are not "
                            "supported)",
                            what);
    if (caps & (TF_CLIENT_COMPRESS | TF_CLIENT_ZSTD_COMPRESSION_ALGORITHM))
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s: compression capabilities are not supported", what);
    return TF_OK;
}

tf_status tf_ssl_request_encode(uint64_t capabilities, uint32_t max_packet_size, uint8_t charset,
                                uint8_t *out, size_t cap, size_t *written, tf_error *err)
{
    static const char what[] = "SSL request";
    *written = 0;
    if (check_caps_for_encode(capabilities, what, err) != TF_OK)
        return TF_MALFORMED;
    if (!(capabilities & TF_CLIENT_SSL))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: CLIENT_SSL is not set", what);
    writer w = {out, cap, 0};
    put_fixed_header(&w, capabilities, max_packet_size, charset);
    return finish(&w, written, what, err);
}

tf_status tf_handshake_response_encode(const tf_handshake_response *resp, uint8_t *out, size_t cap,
                                       size_t *written, tf_error *err)
{
    static const char what[] = "handshake response";
    uint64_t caps = resp->capabilities;
    *written = 0;
    if (check_caps_for_encode(caps, what, err) != TF_OK)
        return TF_MALFORMED;
    if (!resp->username)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: no user name", what);
    /* A field without its flag (or a flag without its field) would be
     * silently dropped or misread by the server: refuse both. */
    if (!(caps & TF_CLIENT_CONNECT_WITH_DB) != !resp->database)
        return tf_error_set(
            err, TF_ERR_PROTOCOL, 0, "%s: CLIENT_CONNECT_WITH_DB is %s but a database is %s", what,
            resp->database ? "not set" : "set", resp->database ? "given" : "not given");
    if (!(caps & TF_CLIENT_PLUGIN_AUTH) != !resp->auth_plugin)
        return tf_error_set(
            err, TF_ERR_PROTOCOL, 0, "%s: CLIENT_PLUGIN_AUTH is %s but an auth plugin name is %s",
            what, resp->auth_plugin ? "not set" : "set", resp->auth_plugin ? "given" : "not given");
    if (!(caps & TF_CLIENT_CONNECT_ATTRS) && resp->attr_count > 0)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s: %zu connection attributes but CLIENT_CONNECT_ATTRS is not set",
                            what, resp->attr_count);
    if (resp->auth_response_len > 0 && !resp->auth_response)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: auth response is NULL", what);

    writer w = {out, cap, 0};
    put_fixed_header(&w, caps, resp->max_packet_size, resp->charset);
    put_cstr(&w, resp->username);
    if (caps & TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        tf_put_lenenc(&w, resp->auth_response_len);
    } else if (caps & TF_CLIENT_SECURE_CONNECTION) {
        if (resp->auth_response_len > 255)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "%s: auth response of %zu bytes needs "
                                "CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA (at most 255 without)",
                                what, resp->auth_response_len);
        tf_put_uint_le(&w, resp->auth_response_len, 1);
    } else {
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s: neither CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA nor "
                            "CLIENT_SECURE_CONNECTION is set (pre-4.1 auth)",
                            what);
    }
    tf_put_bytes(&w, resp->auth_response, resp->auth_response_len);
    if (caps & TF_CLIENT_CONNECT_WITH_DB)
        put_cstr(&w, resp->database);
    if (caps & TF_CLIENT_PLUGIN_AUTH)
        put_cstr(&w, resp->auth_plugin);
    if (caps & TF_CLIENT_CONNECT_ATTRS) {
        size_t attrs_len = 0;
        for (size_t i = 0; i < resp->attr_count; i++) {
            const tf_connect_attr *a = &resp->attrs[i];
            if (!a->key || !a->value)
                return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                    "%s: connection attribute %zu has no %s", what, i,
                                    a->key ? "value" : "key");
            size_t k = strlen(a->key), v = strlen(a->value);
            attrs_len += tf_lenenc_size(k) + k + tf_lenenc_size(v) + v;
        }
        tf_put_lenenc(&w, attrs_len);
        for (size_t i = 0; i < resp->attr_count; i++) {
            put_lenenc_str(&w, resp->attrs[i].key);
            put_lenenc_str(&w, resp->attrs[i].value);
        }
    }
    return finish(&w, written, what, err);
}

tf_status tf_handshake_response_decode(const uint8_t *payload, size_t len,
                                       tf_handshake_response_view *out, tf_error *err)
{
    memset(out, 0, sizeof *out);
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "handshake response", TF_MALFORMED, err);
    tf_status st;
#define TRY(expr)                   \
    do {                            \
        if ((st = (expr)) != TF_OK) \
            return st;              \
    } while (0)
    uint32_t caps;
    TRY(tf_read_u32le(&r, &caps, "capability flags"));
    if (!(caps & TF_CLIENT_PROTOCOL_41))
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "handshake response: CLIENT_PROTOCOL_41 is not set (a pre-4.1 "
                            "client); not supported");
    TRY(tf_read_u32le(&r, &out->max_packet_size, "max packet size"));
    TRY(tf_read_u8(&r, &out->charset, "character set"));
    TRY(tf_read_skip(&r, 19, "filler"));
    uint32_t ext;
    TRY(tf_read_u32le(&r, &ext, "MariaDB extended capabilities / filler"));
    out->capabilities = caps;
    if (!(caps & TF_CLIENT_MYSQL))
        out->capabilities |= (uint64_t)ext << 32;
    if (tf_reader_left(&r) == 0 && (caps & TF_CLIENT_SSL)) {
        out->is_ssl_request = true;
        return TF_OK;
    }
    tf_str s;
    TRY(tf_read_nul_str(&r, &s, "user name"));
    out->username = s.ptr;
    if (caps & TF_CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        TRY(tf_read_lenenc_str(&r, &s, NULL, "auth response"));
    } else if (caps & TF_CLIENT_SECURE_CONNECTION) {
        uint8_t n;
        TRY(tf_read_u8(&r, &n, "auth response length"));
        const uint8_t *p;
        TRY(tf_read_bytes(&r, n, &p, "auth response"));
        s.ptr = (const char *)p;
        s.len = n;
    } else {
        TRY(tf_read_nul_str(&r, &s, "auth response"));
    }
    out->auth_response = (const uint8_t *)s.ptr;
    out->auth_response_len = s.len;
    if (caps & TF_CLIENT_CONNECT_WITH_DB) {
        TRY(tf_read_nul_str(&r, &s, "database"));
        out->database = s.ptr;
    }
    if (caps & TF_CLIENT_PLUGIN_AUTH) {
        TRY(tf_read_nul_str(&r, &s, "auth plugin name"));
        out->auth_plugin = s.ptr;
    }
    if (caps & TF_CLIENT_CONNECT_ATTRS) {
        TRY(tf_read_lenenc_str(&r, &s, NULL, "connection attributes"));
        out->attrs = (const uint8_t *)s.ptr;
        out->attrs_len = s.len;
    }
#undef TRY
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the last field", tf_reader_left(&r));
    return TF_OK;
}

tf_status tf_connect_attr_next(const uint8_t *attrs, size_t attrs_len, size_t *pos,
                               const char **key, size_t *key_len, const char **value,
                               size_t *value_len, bool *done, tf_error *err)
{
    *done = false;
    if (*pos >= attrs_len) {
        *done = true;
        return TF_OK;
    }
    tf_reader r;
    tf_reader_init(&r, attrs + *pos, attrs_len - *pos, *pos, "connection attributes", TF_MALFORMED,
                   err);
    tf_str k, v;
    tf_status st = tf_read_lenenc_str(&r, &k, NULL, "attribute name");
    if (st == TF_OK)
        st = tf_read_lenenc_str(&r, &v, NULL, "attribute value");
    if (st != TF_OK)
        return st;
    *key = k.ptr;
    *key_len = k.len;
    *value = v.ptr;
    *value_len = v.len;
    *pos += r.pos;
    return TF_OK;
}
