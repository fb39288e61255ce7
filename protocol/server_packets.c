/* server_packets.c — the server's side of the client protocol, for the test
 * primary tapflow plays in its tests: handshake v10, OK / ERR / EOF, auth
 * switch request, text resultsets; and decoders of the replication
 * commands a replica sends (COM_REGISTER_SLAVE, COM_BINLOG_DUMP[_GTID]).
 *
 * Encoders write one packet payload (no 4-byte header) and answer TF_OK
 * with *written = bytes written, or TF_NEED_MORE with *written = the size
 * needed when cap is too small (nothing written then; out may be NULL with
 * cap 0 to ask the size). The byte layouts are the ones the decoders of
 * packet.c, resultset.c and handshake.c read, and the tests compare them
 * with packets captured from a real MariaDB 10.11. */
#include "reader_internal.h"
#include "writer_internal.h"

#include "protocol.h"

#include <string.h>

typedef tf_writer writer;

static void put_lenenc_str(writer *w, tf_str s) { tf_put_lenenc_bytes(w, s.ptr, s.len); }

/* Ends an encoder: a buffer that was too small has not been written past
 * cap, and the caller learns the size it needs. */
static tf_status finish(const writer *w, size_t *written)
{
    *written = w->len;
    return w->len <= w->cap && (w->out || w->len == 0) ? TF_OK : TF_NEED_MORE;
}

static void writer_init(writer *w, uint8_t *out, size_t cap)
{
    w->out = out;
    w->cap = out ? cap : 0;
    w->len = 0;
}

tf_status tf_handshake_v10_encode(const struct tf_handshake *hs, uint8_t *out, size_t cap,
                                  size_t *written, tf_error *err)
{
    *written = 0;
    if (hs->auth_data_len < 8)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "handshake v10: %zu bytes of auth data, at least 8 are needed",
                            hs->auth_data_len);
    if (hs->auth_data_len > 8 && !(hs->capabilities & TF_CLIENT_SECURE_CONNECTION))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "handshake v10: auth data beyond 8 bytes needs "
                            "CLIENT_SECURE_CONNECTION");
    writer w;
    writer_init(&w, out, cap);
    tf_put_u8(&w, 10);
    tf_put_bytes(&w, hs->server_version, strlen(hs->server_version) + 1);
    tf_put_uint_le(&w, hs->connection_id, 4);
    tf_put_bytes(&w, hs->auth_data, 8);
    tf_put_u8(&w, 0);
    tf_put_uint_le(&w, hs->capabilities & 0xffff, 2);
    tf_put_u8(&w, hs->charset);
    tf_put_uint_le(&w, hs->status_flags, 2);
    tf_put_uint_le(&w, (hs->capabilities >> 16) & 0xffff, 2);
    /* auth_plugin_data_len counts the trailing NUL of part 2, as servers
     * send it (20-byte nonce: 21). */
    size_t part2 = hs->auth_data_len > 8 ? hs->auth_data_len - 8 : 0;
    if (part2 < 12)
        part2 = 12; /* part 2 is at least 13 bytes with its NUL */
    tf_put_u8(&w, (hs->capabilities & TF_CLIENT_PLUGIN_AUTH) ? (uint8_t)(8 + part2 + 1) : 0);
    static const uint8_t zeros[13] = {0};
    tf_put_bytes(&w, zeros, 6);
    /* MariaDB puts its extended capabilities in the last 4 reserved bytes
     * and says so by clearing bit 0 (CLIENT_MYSQL). */
    if (hs->capabilities & TF_CLIENT_MYSQL)
        tf_put_bytes(&w, zeros, 4);
    else
        tf_put_uint_le(&w, hs->capabilities >> 32, 4);
    if (hs->capabilities & TF_CLIENT_SECURE_CONNECTION) {
        size_t have = hs->auth_data_len - 8;
        tf_put_bytes(&w, hs->auth_data + 8, have);
        tf_put_bytes(&w, zeros, part2 + 1 - have);
    }
    if (hs->capabilities & TF_CLIENT_PLUGIN_AUTH)
        tf_put_bytes(&w, hs->auth_plugin, strlen(hs->auth_plugin) + 1);
    return finish(&w, written);
}

tf_status tf_auth_switch_encode(const char *plugin_name, const uint8_t *data, size_t data_len,
                                uint8_t *out, size_t cap, size_t *written, tf_error *err)
{
    (void)err;
    writer w;
    writer_init(&w, out, cap);
    tf_put_u8(&w, 0xfe);
    tf_put_bytes(&w, plugin_name, strlen(plugin_name) + 1);
    tf_put_bytes(&w, data, data_len);
    return finish(&w, written);
}

tf_status tf_ok_encode(const tf_ok_packet *ok, uint8_t header, uint64_t caps, uint8_t *out,
                       size_t cap, size_t *written, tf_error *err)
{
    *written = 0;
    if (header != 0x00 && header != 0xfe)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "OK packet: header 0x%02x is not 0x00 or 0xfe",
                            header);
    bool state_changed =
        (caps & TF_CLIENT_SESSION_TRACK) && (ok->status_flags & TF_SERVER_SESSION_STATE_CHANGED);
    writer w;
    writer_init(&w, out, cap);
    tf_put_u8(&w, header);
    tf_put_lenenc(&w, ok->affected_rows);
    tf_put_lenenc(&w, ok->last_insert_id);
    if (caps & TF_CLIENT_PROTOCOL_41) {
        tf_put_uint_le(&w, ok->status_flags, 2);
        tf_put_uint_le(&w, ok->warnings, 2);
    } else if (caps & TF_CLIENT_TRANSACTIONS) {
        tf_put_uint_le(&w, ok->status_flags, 2);
    }
    /* As real servers do: the info is length-encoded and left out when it
     * is empty and no session state follows. */
    if (ok->info.len > 0 || state_changed)
        put_lenenc_str(&w, ok->info);
    if (state_changed)
        put_lenenc_str(&w, ok->session_state);
    return finish(&w, written);
}

tf_status tf_eof_encode(const tf_eof_packet *eof, uint64_t caps, uint8_t *out, size_t cap,
                        size_t *written, tf_error *err)
{
    (void)err;
    writer w;
    writer_init(&w, out, cap);
    tf_put_u8(&w, 0xfe);
    if (caps & TF_CLIENT_PROTOCOL_41) {
        tf_put_uint_le(&w, eof->warnings, 2);
        tf_put_uint_le(&w, eof->status_flags, 2);
    }
    return finish(&w, written);
}

tf_status tf_err_encode(const tf_err_packet *pkt, uint8_t *out, size_t cap, size_t *written,
                        tf_error *err)
{
    *written = 0;
    size_t state_len = strlen(pkt->sql_state);
    if (state_len != 0 && state_len != 5)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "ERR packet: SQL state '%s' is not 5 characters", pkt->sql_state);
    writer w;
    writer_init(&w, out, cap);
    tf_put_u8(&w, 0xff);
    tf_put_uint_le(&w, pkt->code, 2);
    if (state_len == 5) {
        tf_put_u8(&w, '#');
        tf_put_bytes(&w, pkt->sql_state, 5);
    }
    tf_put_bytes(&w, pkt->message.ptr, pkt->message.len);
    return finish(&w, written);
}

tf_status tf_column_count_encode(uint64_t count, bool metadata_follows, uint64_t caps, uint8_t *out,
                                 size_t cap, size_t *written, tf_error *err)
{
    *written = 0;
    if (count == 0 || count > 0xffff)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "column count %llu is not in 1..65535",
                            (unsigned long long)count);
    writer w;
    writer_init(&w, out, cap);
    tf_put_lenenc(&w, count);
    if (caps & (TF_MARIADB_CLIENT_CACHE_METADATA | TF_CLIENT_OPTIONAL_RESULTSET_METADATA))
        tf_put_u8(&w, metadata_follows ? 1 : 0);
    return finish(&w, written);
}

tf_status tf_column_def_encode(const tf_column_def *col, uint64_t caps, uint8_t *out, size_t cap,
                               size_t *written, tf_error *err)
{
    (void)err;
    writer w;
    writer_init(&w, out, cap);
    put_lenenc_str(&w, col->catalog.len ? col->catalog : (tf_str){"def", 3});
    put_lenenc_str(&w, col->schema);
    put_lenenc_str(&w, col->table);
    put_lenenc_str(&w, col->org_table);
    put_lenenc_str(&w, col->name);
    put_lenenc_str(&w, col->org_name);
    if (caps & TF_MARIADB_CLIENT_EXTENDED_METADATA)
        put_lenenc_str(&w, col->extended_metadata);
    tf_put_u8(&w, 0x0c); /* length of the fixed fields */
    tf_put_uint_le(&w, col->charset, 2);
    tf_put_uint_le(&w, col->column_length, 4);
    tf_put_u8(&w, col->type);
    tf_put_uint_le(&w, col->flags, 2);
    tf_put_u8(&w, col->decimals);
    tf_put_uint_le(&w, 0, 2);
    return finish(&w, written);
}

tf_status tf_text_row_encode(const tf_str *values, const bool *nulls, size_t column_count,
                             uint8_t *out, size_t cap, size_t *written, tf_error *err)
{
    (void)err;
    writer w;
    writer_init(&w, out, cap);
    for (size_t i = 0; i < column_count; i++) {
        if ((nulls && nulls[i]) || !values[i].ptr)
            tf_put_u8(&w, 0xfb);
        else
            put_lenenc_str(&w, values[i]);
    }
    return finish(&w, written);
}

/* ---- replication commands, as the server reads them ---- */

tf_status tf_register_slave_request_decode(const uint8_t *payload, size_t len,
                                           tf_register_slave_request *out, tf_error *err)
{
    memset(out, 0, sizeof *out);
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "COM_REGISTER_SLAVE", TF_MALFORMED, err);
    uint8_t command, n;
    const uint8_t *bytes;
    tf_status st = tf_read_u8(&r, &command, "command");
    if (st != TF_OK)
        return st;
    if (command != TF_COM_REGISTER_SLAVE) {
        r.pos = 0;
        return tf_reader_bad(&r, "command 0x%02x is not COM_REGISTER_SLAVE (0x15)", command);
    }
    if ((st = tf_read_u32le(&r, &out->server_id, "server id")) != TF_OK)
        return st;
    tf_str *strings[3] = {&out->hostname, &out->user, &out->password};
    static const char *const names[3] = {"hostname", "user", "password"};
    for (size_t i = 0; i < 3; i++) {
        if ((st = tf_read_u8(&r, &n, names[i])) != TF_OK ||
            (st = tf_read_bytes(&r, n, &bytes, names[i])) != TF_OK)
            return st;
        strings[i]->ptr = (const char *)bytes;
        strings[i]->len = n;
    }
    if ((st = tf_read_u16le(&r, &out->port, "port")) != TF_OK ||
        (st = tf_read_u32le(&r, &out->replication_rank, "replication rank")) != TF_OK ||
        (st = tf_read_u32le(&r, &out->master_id, "master id")) != TF_OK)
        return st;
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the master id", tf_reader_left(&r));
    return TF_OK;
}

tf_status tf_binlog_dump_request_decode(const uint8_t *payload, size_t len,
                                        tf_binlog_dump_request *out, tf_error *err)
{
    memset(out, 0, sizeof *out);
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "binlog dump request", TF_MALFORMED, err);
    uint8_t command;
    tf_status st = tf_read_u8(&r, &command, "command");
    if (st != TF_OK)
        return st;
    out->command = command;
    const uint8_t *bytes;
    if (command == TF_COM_BINLOG_DUMP) {
        uint32_t position;
        r.context = "COM_BINLOG_DUMP";
        if ((st = tf_read_u32le(&r, &position, "position")) != TF_OK ||
            (st = tf_read_u16le(&r, &out->flags, "flags")) != TF_OK ||
            (st = tf_read_u32le(&r, &out->server_id, "server id")) != TF_OK)
            return st;
        out->position = position;
        /* The file name runs to the end of the payload, no terminator. */
        out->file_name.ptr = (const char *)tf_reader_cursor(&r);
        out->file_name.len = tf_reader_left(&r);
        return TF_OK;
    }
    if (command != TF_COM_BINLOG_DUMP_GTID) {
        r.pos = 0;
        return tf_reader_bad(&r,
                             "command 0x%02x is neither COM_BINLOG_DUMP (0x12) nor "
                             "COM_BINLOG_DUMP_GTID (0x1e)",
                             command);
    }
    r.context = "COM_BINLOG_DUMP_GTID";
    uint32_t name_len, data_len;
    if ((st = tf_read_u16le(&r, &out->flags, "flags")) != TF_OK ||
        (st = tf_read_u32le(&r, &out->server_id, "server id")) != TF_OK ||
        (st = tf_read_u32le(&r, &name_len, "file name length")) != TF_OK ||
        (st = tf_read_bytes(&r, name_len, &bytes, "file name")) != TF_OK ||
        (st = tf_read_uint_le(&r, 8, &out->position, "position")) != TF_OK)
        return st;
    out->file_name.ptr = (const char *)bytes;
    out->file_name.len = name_len;
    /* MySQL's replicas always send the GTID data (its size is 8 for the
     * empty set), whatever the flags say; so does the server always read
     * it. */
    if ((st = tf_read_u32le(&r, &data_len, "GTID data size")) != TF_OK ||
        (st = tf_read_bytes(&r, data_len, &bytes, "GTID data")) != TF_OK)
        return st;
    out->gtid_data = bytes;
    out->gtid_data_len = data_len;
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the GTID data", tf_reader_left(&r));
    return TF_OK;
}

/* ---- mysql_native_password, the server's check ---- */

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

void tf_native_password_hash(const char *password, size_t password_len,
                             uint8_t stage2[TF_SCRAMBLE_LENGTH])
{
    uint8_t stage1[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)password, password_len, stage1);
    SHA1(stage1, sizeof stage1, stage2);
    OPENSSL_cleanse(stage1, sizeof stage1);
}

bool tf_native_password_check(const uint8_t *stage2, const uint8_t *nonce, size_t nonce_len,
                              const uint8_t *response, size_t response_len)
{
    if (!stage2)
        return response_len == 0;
    if (response_len != TF_SCRAMBLE_LENGTH)
        return false;
    /* response = SHA1(pw) XOR SHA1(nonce + stage2): undo the XOR to get
     * the candidate SHA1(pw), whose SHA1 must be the stored stage2. */
    uint8_t mask[SHA_DIGEST_LENGTH], candidate[SHA_DIGEST_LENGTH], check[SHA_DIGEST_LENGTH];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, nonce, nonce_len) != 1 ||
        EVP_DigestUpdate(ctx, stage2, TF_SCRAMBLE_LENGTH) != 1 ||
        EVP_DigestFinal_ex(ctx, mask, NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return false;
    }
    EVP_MD_CTX_free(ctx);
    for (size_t i = 0; i < TF_SCRAMBLE_LENGTH; i++)
        candidate[i] = response[i] ^ mask[i];
    SHA1(candidate, sizeof candidate, check);
    bool ok = CRYPTO_memcmp(check, stage2, TF_SCRAMBLE_LENGTH) == 0;
    OPENSSL_cleanse(candidate, sizeof candidate);
    return ok;
}
