/* packet.c — packet framing (physical and logical packets) and the generic
 * responses every command can get: OK, ERR, EOF, LOCAL INFILE requests. */
#include "reader_internal.h"

#include <stdio.h>

static uint32_t header_length(const uint8_t *p) { return (uint32_t)tf_le_uint(p, 3); }

static void write_header(uint8_t *p, size_t payload_len, uint8_t seq)
{
    p[0] = (uint8_t)(payload_len & 0xff);
    p[1] = (uint8_t)((payload_len >> 8) & 0xff);
    p[2] = (uint8_t)((payload_len >> 16) & 0xff);
    p[3] = seq;
}

tf_status tf_packet_frame(const uint8_t *buf, size_t len, tf_packet *out, size_t *consumed)
{
    if (len < TF_PACKET_HEADER_LEN)
        return TF_NEED_MORE;
    uint32_t n = header_length(buf);
    if (len - TF_PACKET_HEADER_LEN < n)
        return TF_NEED_MORE;
    out->payload = buf + TF_PACKET_HEADER_LEN;
    out->payload_len = n;
    out->seq = buf[3];
    *consumed = TF_PACKET_HEADER_LEN + (size_t)n;
    return TF_OK;
}

tf_status tf_packet_scan(const uint8_t *buf, size_t len, uint8_t expected_seq, tf_packet_span *out,
                         tf_error *err)
{
    size_t pos = 0;
    size_t payload_len = 0;
    size_t chunks = 0;
    uint8_t seq = expected_seq;

    memset(out, 0, sizeof *out);
    out->first_seq = expected_seq;
    for (;;) {
        if (len - pos < TF_PACKET_HEADER_LEN) {
            out->wire_len = pos + TF_PACKET_HEADER_LEN;
            return TF_NEED_MORE;
        }
        uint32_t n = header_length(buf + pos);
        /* The sequence id is checked as soon as the header is here, so a
         * lost packet is reported before waiting for a payload that is
         * really the next packet's. */
        if (buf[pos + 3] != seq)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "packet: sequence id %u where %u was expected at offset %zu "
                                "(chunk %zu of the logical packet); a packet was lost or the "
                                "connection is out of step",
                                buf[pos + 3], seq, pos, chunks + 1);
        if (len - pos - TF_PACKET_HEADER_LEN < n) {
            out->wire_len = pos + TF_PACKET_HEADER_LEN + (size_t)n;
            return TF_NEED_MORE;
        }
        payload_len += n;
        chunks++;
        pos += TF_PACKET_HEADER_LEN + (size_t)n;
        seq = (uint8_t)(seq + 1);
        /* Only a full-size chunk says that another one follows; a payload
         * of exactly k * 0xffffff bytes ends with an empty chunk. */
        if (n < TF_PACKET_MAX_CHUNK)
            break;
    }
    out->wire_len = pos;
    out->payload_len = payload_len;
    out->chunks = chunks;
    out->next_seq = seq;
    out->payload = chunks == 1 ? buf + TF_PACKET_HEADER_LEN : NULL;
    return TF_OK;
}

void tf_packet_assemble(const uint8_t *buf, const tf_packet_span *span, uint8_t *dst)
{
    size_t src = 0;
    size_t done = 0;
    for (size_t i = 0; i < span->chunks; i++) {
        uint32_t n = header_length(buf + src);
        /* memmove: dst may be buf, and then dst + done <= buf + src + 4. */
        memmove(dst + done, buf + src + TF_PACKET_HEADER_LEN, n);
        done += n;
        src += TF_PACKET_HEADER_LEN + (size_t)n;
    }
}

size_t tf_packet_encoded_size(size_t payload_len)
{
    return payload_len + TF_PACKET_HEADER_LEN * (payload_len / TF_PACKET_MAX_CHUNK + 1);
}

size_t tf_packet_encode(const uint8_t *head, size_t head_len, const uint8_t *body, size_t body_len,
                        uint8_t seq, uint8_t *out, size_t cap, uint8_t *next_seq)
{
    size_t total = head_len + body_len;
    size_t need = tf_packet_encoded_size(total);
    if (cap < need)
        return 0;
    size_t offset = 0; /* position in the logical payload head||body */
    size_t pos = 0;
    for (;;) {
        size_t chunk = total - offset < TF_PACKET_MAX_CHUNK ? total - offset : TF_PACKET_MAX_CHUNK;
        write_header(out + pos, chunk, seq);
        pos += TF_PACKET_HEADER_LEN;
        seq = (uint8_t)(seq + 1);
        size_t end = offset + chunk;
        if (offset < head_len) {
            size_t n = (end < head_len ? end : head_len) - offset;
            memcpy(out + pos, head + offset, n);
            pos += n;
            offset += n;
        }
        if (offset < end) {
            memcpy(out + pos, body + (offset - head_len), end - offset);
            pos += end - offset;
            offset = end;
        }
        if (chunk < TF_PACKET_MAX_CHUNK)
            break;
    }
    if (next_seq)
        *next_seq = seq;
    return pos;
}

tf_packet_kind tf_response_classify(const uint8_t *payload, size_t len)
{
    if (len == 0)
        return TF_PACKET_DATA;
    switch (payload[0]) {
    case 0x00: return TF_PACKET_OK;
    case 0xff: return TF_PACKET_ERR;
    case 0xfb: return TF_PACKET_LOCAL_INFILE;
    default: return TF_PACKET_DATA;
    }
}

tf_packet_kind tf_resultset_classify(const uint8_t *payload, size_t len, uint64_t caps)
{
    if (len == 0)
        return TF_PACKET_DATA;
    if (payload[0] == 0xff)
        return TF_PACKET_ERR;
    if (payload[0] == 0xfe) {
        size_t limit = (caps & TF_CLIENT_DEPRECATE_EOF) ? TF_PACKET_MAX_CHUNK : 9;
        if (len < limit)
            return TF_PACKET_EOF;
    }
    return TF_PACKET_DATA;
}

/* Walks the session-state-change entries (type byte + lenenc data each) only
 * to prove they fit; tapflow does not act on them. */
static tf_status check_session_state(const tf_str *block, size_t base, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, (const uint8_t *)block->ptr, block->len, base, "OK packet session state",
                   TF_MALFORMED, err);
    while (tf_reader_left(&r) > 0) {
        uint8_t type;
        tf_str data;
        tf_status st = tf_read_u8(&r, &type, "entry type");
        if (st == TF_OK)
            st = tf_read_lenenc_str(&r, &data, NULL, "entry data");
        if (st != TF_OK)
            return st;
    }
    return TF_OK;
}

tf_status tf_ok_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_ok_packet *out,
                       tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "OK packet", TF_MALFORMED, err);
    memset(out, 0, sizeof *out);
    uint8_t header;
    tf_status st = tf_read_u8(&r, &header, "header");
    if (st != TF_OK)
        return st;
    if (header != 0x00 && header != 0xfe) {
        r.pos = 0;
        return tf_reader_bad(&r, "header 0x%02x is not 0x00 or 0xfe", header);
    }
    if ((st = tf_read_lenenc(&r, &out->affected_rows, NULL, "affected rows")) != TF_OK ||
        (st = tf_read_lenenc(&r, &out->last_insert_id, NULL, "last insert id")) != TF_OK)
        return st;
    if (caps & TF_CLIENT_PROTOCOL_41) {
        if ((st = tf_read_u16le(&r, &out->status_flags, "status flags")) != TF_OK ||
            (st = tf_read_u16le(&r, &out->warnings, "warnings")) != TF_OK)
            return st;
    } else if (caps & TF_CLIENT_TRANSACTIONS) {
        if ((st = tf_read_u16le(&r, &out->status_flags, "status flags")) != TF_OK)
            return st;
    }
    /* The info is length-encoded (the protocol documentation's string<EOF>
     * without CLIENT_SESSION_TRACK is not what servers send: MariaDB's
     * captured OK to UPDATE has the 0x28 length byte), and the server omits
     * it when it is empty and no state changed (e.g. OK to COM_PING). */
    if (tf_reader_left(&r) > 0 && (st = tf_read_lenenc_str(&r, &out->info, NULL, "info")) != TF_OK)
        return st;
    if ((caps & TF_CLIENT_SESSION_TRACK) && (out->status_flags & TF_SERVER_SESSION_STATE_CHANGED) &&
        tf_reader_left(&r) > 0) {
        if ((st = tf_read_lenenc_str(&r, &out->session_state, NULL, "session state")) != TF_OK)
            return st;
        size_t base = tf_reader_offset(&r) - out->session_state.len;
        if ((st = check_session_state(&out->session_state, base, err)) != TF_OK)
            return st;
    }
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the last field", tf_reader_left(&r));
    return TF_OK;
}

tf_status tf_eof_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_eof_packet *out,
                        tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "EOF packet", TF_MALFORMED, err);
    memset(out, 0, sizeof *out);
    uint8_t header;
    tf_status st = tf_read_u8(&r, &header, "header");
    if (st != TF_OK)
        return st;
    if (header != 0xfe) {
        r.pos = 0;
        return tf_reader_bad(&r, "header 0x%02x is not 0xfe", header);
    }
    if (len >= 9) {
        r.pos = 0;
        return tf_reader_bad(&r, "%zu bytes is too long for an EOF packet (a row?)", len);
    }
    if (caps & TF_CLIENT_PROTOCOL_41) {
        if ((st = tf_read_u16le(&r, &out->warnings, "warnings")) != TF_OK ||
            (st = tf_read_u16le(&r, &out->status_flags, "status flags")) != TF_OK)
            return st;
    }
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the last field", tf_reader_left(&r));
    return TF_OK;
}

tf_status tf_end_decode(const uint8_t *payload, size_t len, uint64_t caps, tf_ok_packet *out,
                        tf_error *err)
{
    if (caps & TF_CLIENT_DEPRECATE_EOF)
        return tf_ok_decode(payload, len, caps, out, err);
    tf_eof_packet eof;
    tf_status st = tf_eof_decode(payload, len, caps, &eof, err);
    memset(out, 0, sizeof *out);
    out->status_flags = eof.status_flags;
    out->warnings = eof.warnings;
    return st;
}

tf_status tf_err_decode(const uint8_t *payload, size_t len, tf_err_packet *out, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "ERR packet", TF_MALFORMED, err);
    memset(out, 0, sizeof *out);
    uint8_t header;
    tf_status st = tf_read_u8(&r, &header, "header");
    if (st != TF_OK)
        return st;
    if (header != 0xff) {
        r.pos = 0;
        return tf_reader_bad(&r, "header 0x%02x is not 0xff", header);
    }
    if ((st = tf_read_u16le(&r, &out->code, "error code")) != TF_OK)
        return st;
    if (out->code == 0xffff) {
        r.pos = 1;
        return tf_reader_bad(&r, "error code 0xffff is a MariaDB progress report, which tapflow "
                                 "does not ask for (MARIADB_CLIENT_PROGRESS)");
    }
    /* The '#' + SQLSTATE pair is there with CLIENT_PROTOCOL_41, except in
     * errors the server sends before it knows the client's capabilities. */
    if (tf_reader_left(&r) > 0 && *tf_reader_cursor(&r) == '#') {
        const uint8_t *state;
        if ((st = tf_read_skip(&r, 1, "SQL state marker")) != TF_OK ||
            (st = tf_read_bytes(&r, 5, &state, "SQL state")) != TF_OK)
            return st;
        memcpy(out->sql_state, state, 5);
        out->sql_state[5] = '\0';
    }
    out->message.ptr = (const char *)tf_reader_cursor(&r);
    out->message.len = tf_reader_left(&r);
    return TF_OK;
}

void tf_err_packet_to_error(const tf_err_packet *pkt, tf_error *err)
{
    int n = pkt->message.len > 400 ? 400 : (int)pkt->message.len;
    if (pkt->sql_state[0])
        tf_error_set(err, TF_ERR_SERVER, pkt->code, "server error %u (%s): %.*s", pkt->code,
                     pkt->sql_state, n, pkt->message.ptr ? pkt->message.ptr : "");
    else
        tf_error_set(err, TF_ERR_SERVER, pkt->code, "server error %u: %.*s", pkt->code, n,
                     pkt->message.ptr ? pkt->message.ptr : "");
}

tf_status tf_err_payload_to_error(const uint8_t *payload, size_t len, tf_error *err)
{
    tf_err_packet pkt;
    if (tf_err_decode(payload, len, &pkt, err) == TF_OK)
        tf_err_packet_to_error(&pkt, err);
    return TF_MALFORMED;
}

tf_status tf_local_infile_reject(const uint8_t *payload, size_t len, tf_error *err)
{
    /* The file name comes from the server: show it, but never let it put
     * control bytes into a log line. */
    char name[128];
    size_t n = 0;
    for (size_t i = 1; i < len && n + 1 < sizeof name; i++)
        name[n++] = (payload[i] >= 0x20 && payload[i] < 0x7f) ? (char)payload[i] : '?';
    name[n] = '\0';
    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                        "server asked for LOCAL INFILE '%s%s': tapflow never sends local files "
                        "(CLIENT_LOCAL_FILES is not negotiated); closing the connection",
                        name, len > sizeof name ? "..." : "");
}
