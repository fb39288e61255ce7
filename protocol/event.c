/* event.c — binlog event framing, common header, CRC32, and dispatch to the
 * per-kind decoders; the small fixed-layout events live here too.
 *
 * An event is: 19-byte common header, post-header, body, and a 4-byte CRC32
 * of everything before it when the FDE said so. The decoder checks the
 * whole event before looking inside, so a flipped byte is reported as a
 * checksum mismatch rather than as whatever nonsense the body then says. */
#include "event_internal.h"

#include <stdio.h>
#include <string.h>

const char *tf_event_type_name(uint8_t type)
{
    switch (type) {
    case TF_EV_START_V3: return "START_V3";
    case TF_EV_QUERY: return "QUERY";
    case TF_EV_STOP: return "STOP";
    case TF_EV_ROTATE: return "ROTATE";
    case TF_EV_INTVAR: return "INTVAR";
    case TF_EV_LOAD: return "LOAD";
    case TF_EV_SLAVE: return "SLAVE";
    case TF_EV_CREATE_FILE: return "CREATE_FILE";
    case TF_EV_APPEND_BLOCK: return "APPEND_BLOCK";
    case TF_EV_EXEC_LOAD: return "EXEC_LOAD";
    case TF_EV_DELETE_FILE: return "DELETE_FILE";
    case TF_EV_NEW_LOAD: return "NEW_LOAD";
    case TF_EV_RAND: return "RAND";
    case TF_EV_USER_VAR: return "USER_VAR";
    case TF_EV_FORMAT_DESCRIPTION: return "FORMAT_DESCRIPTION";
    case TF_EV_XID: return "XID";
    case TF_EV_BEGIN_LOAD_QUERY: return "BEGIN_LOAD_QUERY";
    case TF_EV_EXECUTE_LOAD_QUERY: return "EXECUTE_LOAD_QUERY";
    case TF_EV_TABLE_MAP: return "TABLE_MAP";
    case TF_EV_PRE_GA_WRITE_ROWS: return "PRE_GA_WRITE_ROWS";
    case TF_EV_PRE_GA_UPDATE_ROWS: return "PRE_GA_UPDATE_ROWS";
    case TF_EV_PRE_GA_DELETE_ROWS: return "PRE_GA_DELETE_ROWS";
    case TF_EV_WRITE_ROWS_V1: return "WRITE_ROWS_V1";
    case TF_EV_UPDATE_ROWS_V1: return "UPDATE_ROWS_V1";
    case TF_EV_DELETE_ROWS_V1: return "DELETE_ROWS_V1";
    case TF_EV_INCIDENT: return "INCIDENT";
    case TF_EV_HEARTBEAT: return "HEARTBEAT";
    case TF_EV_IGNORABLE: return "IGNORABLE";
    case TF_EV_ROWS_QUERY: return "ROWS_QUERY";
    case TF_EV_WRITE_ROWS_V2: return "WRITE_ROWS_V2";
    case TF_EV_UPDATE_ROWS_V2: return "UPDATE_ROWS_V2";
    case TF_EV_DELETE_ROWS_V2: return "DELETE_ROWS_V2";
    case TF_EV_GTID: return "GTID";
    case TF_EV_ANONYMOUS_GTID: return "ANONYMOUS_GTID";
    case TF_EV_PREVIOUS_GTIDS: return "PREVIOUS_GTIDS";
    case TF_EV_TRANSACTION_CONTEXT: return "TRANSACTION_CONTEXT";
    case TF_EV_VIEW_CHANGE: return "VIEW_CHANGE";
    case TF_EV_XA_PREPARE: return "XA_PREPARE";
    case TF_EV_PARTIAL_UPDATE_ROWS: return "PARTIAL_UPDATE_ROWS";
    case TF_EV_TRANSACTION_PAYLOAD: return "TRANSACTION_PAYLOAD";
    case TF_EV_HEARTBEAT_V2: return "HEARTBEAT_V2";
    case TF_EV_GTID_TAGGED_LOG: return "GTID_TAGGED_LOG";
    case TF_EV_MARIADB_ANNOTATE_ROWS: return "MARIADB_ANNOTATE_ROWS";
    case TF_EV_MARIADB_BINLOG_CHECKPOINT: return "MARIADB_BINLOG_CHECKPOINT";
    case TF_EV_MARIADB_GTID: return "MARIADB_GTID";
    case TF_EV_MARIADB_GTID_LIST: return "MARIADB_GTID_LIST";
    case TF_EV_MARIADB_START_ENCRYPTION: return "MARIADB_START_ENCRYPTION";
    case TF_EV_MARIADB_QUERY_COMPRESSED: return "MARIADB_QUERY_COMPRESSED";
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1: return "MARIADB_WRITE_ROWS_COMPRESSED_V1";
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1: return "MARIADB_UPDATE_ROWS_COMPRESSED_V1";
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1: return "MARIADB_DELETE_ROWS_COMPRESSED_V1";
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED: return "MARIADB_WRITE_ROWS_COMPRESSED";
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED: return "MARIADB_UPDATE_ROWS_COMPRESSED";
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED: return "MARIADB_DELETE_ROWS_COMPRESSED";
    default: return "UNKNOWN";
    }
}

tf_status tf_binlog_check_magic(const uint8_t *buf, size_t len, tf_error *err)
{
    static const uint8_t magic[TF_BINLOG_MAGIC_LEN] = {0xfe, 0x62, 0x69, 0x6e};
    size_t n = len < TF_BINLOG_MAGIC_LEN ? len : TF_BINLOG_MAGIC_LEN;
    if (memcmp(buf, magic, n) != 0)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "not a binlog file: it does not start with the magic fe 62 69 6e");
    if (len < TF_BINLOG_MAGIC_LEN) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "binlog magic: need 4 bytes, have %zu", len);
        return TF_NEED_MORE;
    }
    return TF_OK;
}

tf_status tf_event_header_decode(const uint8_t *buf, size_t len, tf_event_header *out,
                                 tf_error *err)
{
    if (len < TF_EVENT_HEADER_LEN) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "event header: need 19 bytes, have %zu", len);
        return TF_NEED_MORE;
    }
    out->timestamp = (uint32_t)tf_le_uint(buf, 4);
    out->type = buf[4];
    out->server_id = (uint32_t)tf_le_uint(buf + 5, 4);
    out->event_size = (uint32_t)tf_le_uint(buf + 9, 4);
    out->log_pos = (uint32_t)tf_le_uint(buf + 13, 4);
    out->flags = (uint16_t)tf_le_uint(buf + 17, 2);
    return TF_OK;
}

tf_status tf_event_frame(const uint8_t *buf, size_t len, const tf_format *fmt, size_t *event_len,
                         tf_error *err)
{
    tf_event_header h;
    tf_status st = tf_event_header_decode(buf, len, &h, err);
    if (st != TF_OK)
        return st;
    size_t min = TF_EVENT_HEADER_LEN;
    if (fmt && fmt->checksum_alg == TF_CHECKSUM_CRC32 && h.type != TF_EV_FORMAT_DESCRIPTION)
        min += TF_EVENT_CHECKSUM_LEN;
    if (h.event_size < min)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event: event size %u is smaller than the %zu-byte minimum "
                            "(header%s) at offset 9",
                            tf_event_type_name(h.type), h.event_size, min,
                            min > TF_EVENT_HEADER_LEN ? " and checksum" : "");
    if (len < h.event_size) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "%s event: event size is %u bytes but only %zu are there (truncated)",
                     tf_event_type_name(h.type), h.event_size, len);
        return TF_NEED_MORE;
    }
    *event_len = h.event_size;
    return TF_OK;
}

static tf_status unsupported(tf_error *err, const char *what)
{
    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "%s", what);
}

/* Rejects formats we do not read, by type code alone, before touching the
 * body: misreading them would give plausible garbage. */
static tf_status reject_unsupported_type(uint8_t type, tf_error *err)
{
    switch (type) {
    case TF_EV_START_V3:
        return unsupported(err, "START_V3 event: binlog format v1-3 (MySQL 4.x / early 5.0) is not "
                                "supported; only v4 binlogs that begin with FORMAT_DESCRIPTION");
    case TF_EV_PRE_GA_WRITE_ROWS:
    case TF_EV_PRE_GA_UPDATE_ROWS:
    case TF_EV_PRE_GA_DELETE_ROWS:
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s event: pre-GA rows events (type %u, MySQL 5.1.0-5.1.17) are not "
                            "supported",
                            tf_event_type_name(type), type);
    case TF_EV_MARIADB_START_ENCRYPTION:
        return unsupported(err, "MARIADB_START_ENCRYPTION event: this MariaDB binlog file is "
                                "encrypted (encrypt_binlog=ON) and cannot be read from disk; read "
                                "it over replication, where the server sends it decrypted");
    default: return TF_OK;
    }
}

static tf_status decode_rotate(tf_reader *r, uint8_t post_header_len, tf_rotate_event *out)
{
    tf_status st;
    out->position = 0;
    if (post_header_len >= 8 && (st = tf_read_u64le(r, &out->position, "position")) != TF_OK)
        return st;
    size_t n = tf_reader_left(r);
    out->next_file.ptr = (const char *)tf_reader_cursor(r);
    out->next_file.len = n;
    r->pos += n;
    if (n == 0)
        return tf_reader_bad(r, "empty next binlog file name");
    return TF_OK;
}

static tf_status decode_user_var(tf_reader *r, tf_user_var_event *out)
{
    tf_status st;
    uint32_t name_len;
    const uint8_t *name;
    memset(out, 0, sizeof *out);
    if ((st = tf_read_u32le(r, &name_len, "name length")) != TF_OK)
        return st;
    if ((st = tf_read_bytes(r, name_len, &name, "name")) != TF_OK)
        return st;
    out->name.ptr = (const char *)name;
    out->name.len = name_len;
    uint8_t is_null;
    if ((st = tf_read_u8(r, &is_null, "is_null")) != TF_OK)
        return st;
    out->is_null = is_null != 0;
    if (out->is_null)
        return TF_OK;
    uint32_t value_len;
    if ((st = tf_read_u8(r, &out->value_type, "value type")) != TF_OK ||
        (st = tf_read_u32le(r, &out->charset, "charset")) != TF_OK ||
        (st = tf_read_u32le(r, &value_len, "value length")) != TF_OK ||
        (st = tf_read_bytes(r, value_len, &out->value, "value")) != TF_OK)
        return st;
    out->value_len = value_len;
    if (tf_reader_left(r) >= 1) {
        out->has_flags = true;
        tf_read_u8(r, &out->flags, "flags");
    }
    return TF_OK;
}

/* HEARTBEAT_V2 (MySQL 8.0.26+): a list of (type byte, lenenc length, value)
 * fields ending at the event end or at a 0 type. */
static tf_status decode_heartbeat_v2(tf_reader *r, tf_heartbeat_event *out)
{
    tf_status st;
    while (tf_reader_left(r) > 0) {
        uint8_t field;
        uint64_t flen;
        if ((st = tf_read_u8(r, &field, "field type")) != TF_OK)
            return st;
        if (field == 0)
            break;
        if ((st = tf_read_lenenc(r, &flen, NULL, "field length")) != TF_OK)
            return st;
        if (flen > tf_reader_left(r))
            return tf_reader_short(r, "field value", (size_t)flen);
        tf_reader sub;
        tf_reader_init(&sub, tf_reader_cursor(r), (size_t)flen, tf_reader_offset(r), r->context,
                       TF_MALFORMED, r->err);
        if (field == 1) {
            out->log_file.ptr = (const char *)sub.buf;
            out->log_file.len = sub.len;
        } else if (field == 2) {
            if ((st = tf_read_lenenc(&sub, &out->log_pos, NULL, "log position")) != TF_OK)
                return st;
        }
        r->pos += (size_t)flen;
    }
    return TF_OK;
}

static tf_status decode_body(tf_reader *r, const tf_format *fmt, tf_event *out)
{
    tf_status st;
    uint8_t type = out->header.type;
    uint8_t phl = tf_format_post_header_len(fmt, type);
    switch (type) {
    case TF_EV_ROTATE: out->kind = TF_EVENT_ROTATE; return decode_rotate(r, phl, &out->rotate);
    case TF_EV_QUERY:
    case TF_EV_MARIADB_QUERY_COMPRESSED:
        out->kind = TF_EVENT_QUERY;
        return tf_event_decode_query(r, phl, type == TF_EV_MARIADB_QUERY_COMPRESSED, &out->query);
    case TF_EV_XID: out->kind = TF_EVENT_XID; return tf_read_u64le(r, &out->xid, "xid");
    case TF_EV_STOP: out->kind = TF_EVENT_STOP; return TF_OK;
    case TF_EV_INTVAR:
        out->kind = TF_EVENT_INTVAR;
        if ((st = tf_read_u8(r, &out->intvar.type, "type")) != TF_OK)
            return st;
        return tf_read_u64le(r, &out->intvar.value, "value");
    case TF_EV_RAND:
        out->kind = TF_EVENT_RAND;
        if ((st = tf_read_u64le(r, &out->rand.seed1, "seed1")) != TF_OK)
            return st;
        return tf_read_u64le(r, &out->rand.seed2, "seed2");
    case TF_EV_USER_VAR: out->kind = TF_EVENT_USER_VAR; return decode_user_var(r, &out->user_var);
    case TF_EV_TABLE_MAP:
        out->kind = TF_EVENT_TABLE_MAP;
        if ((st = tf_event_decode_table_map(r, phl, &out->table_map)) != TF_OK)
            return st;
        out->table_map.flavour = fmt->flavour;
        return TF_OK;
    case TF_EV_WRITE_ROWS_V1:
    case TF_EV_UPDATE_ROWS_V1:
    case TF_EV_DELETE_ROWS_V1:
    case TF_EV_WRITE_ROWS_V2:
    case TF_EV_UPDATE_ROWS_V2:
    case TF_EV_DELETE_ROWS_V2:
    case TF_EV_PARTIAL_UPDATE_ROWS:
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1:
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED:
        out->kind = TF_EVENT_ROWS;
        return tf_event_decode_rows(r, type, phl, &out->rows);
    case TF_EV_GTID:
    case TF_EV_ANONYMOUS_GTID:
    case TF_EV_GTID_TAGGED_LOG:
        out->kind = TF_EVENT_GTID;
        return tf_event_decode_gtid(r, type, &out->gtid);
    case TF_EV_PREVIOUS_GTIDS:
        out->kind = TF_EVENT_PREVIOUS_GTIDS;
        return tf_event_decode_previous_gtids(r, &out->previous_gtids);
    case TF_EV_MARIADB_GTID:
        out->kind = TF_EVENT_MARIADB_GTID;
        if ((st = tf_event_decode_mariadb_gtid(r, &out->mariadb_gtid)) != TF_OK)
            return st;
        out->mariadb_gtid.server_id = out->header.server_id;
        return TF_OK;
    case TF_EV_MARIADB_GTID_LIST:
        out->kind = TF_EVENT_MARIADB_GTID_LIST;
        return tf_event_decode_mariadb_gtid_list(r, &out->mariadb_gtid_list);
    case TF_EV_MARIADB_BINLOG_CHECKPOINT: {
        uint32_t n;
        const uint8_t *name;
        out->kind = TF_EVENT_MARIADB_BINLOG_CHECKPOINT;
        if ((st = tf_read_u32le(r, &n, "file name length")) != TF_OK ||
            (st = tf_read_bytes(r, n, &name, "file name")) != TF_OK)
            return st;
        out->binlog_checkpoint_file.ptr = (const char *)name;
        out->binlog_checkpoint_file.len = n;
        return TF_OK;
    }
    case TF_EV_ROWS_QUERY:
        /* One length byte (the statement truncated to 255 bytes once; the
         * full text follows and runs to the end of the event). */
        out->kind = TF_EVENT_ROWS_QUERY;
        if ((st = tf_read_skip(r, 1, "length")) != TF_OK)
            return st;
        out->rows_query.ptr = (const char *)tf_reader_cursor(r);
        out->rows_query.len = tf_reader_left(r);
        r->pos = r->len;
        return TF_OK;
    case TF_EV_MARIADB_ANNOTATE_ROWS:
        out->kind = TF_EVENT_ROWS_QUERY;
        out->rows_query.ptr = (const char *)tf_reader_cursor(r);
        out->rows_query.len = tf_reader_left(r);
        r->pos = r->len;
        return TF_OK;
    case TF_EV_HEARTBEAT:
        out->kind = TF_EVENT_HEARTBEAT;
        out->heartbeat.log_file.ptr = (const char *)tf_reader_cursor(r);
        out->heartbeat.log_file.len = tf_reader_left(r);
        out->heartbeat.log_pos = out->header.log_pos;
        r->pos = r->len;
        return TF_OK;
    case TF_EV_HEARTBEAT_V2:
        out->kind = TF_EVENT_HEARTBEAT;
        memset(&out->heartbeat, 0, sizeof out->heartbeat);
        return decode_heartbeat_v2(r, &out->heartbeat);
    case TF_EV_TRANSACTION_PAYLOAD:
        out->kind = TF_EVENT_TRANSACTION_PAYLOAD;
        return tf_event_decode_payload(r, &out->payload);
    default:
        out->kind = TF_EVENT_OTHER;
        r->pos = r->len;
        return TF_OK;
    }
}

static tf_status verify_checksum(const uint8_t *buf, size_t event_len, const tf_event_header *h,
                                 tf_event *out, tf_error *err)
{
    size_t covered = event_len - TF_EVENT_CHECKSUM_LEN;
    uint32_t stored = (uint32_t)tf_le_uint(buf + covered, 4);
    uint32_t computed;
    if (h->type == TF_EV_FORMAT_DESCRIPTION && (h->flags & TF_EVENT_F_BINLOG_IN_USE)) {
        /* The server sets "binlog in use" in the FDE after computing its
         * CRC (and clears it on a clean close), so check it as written. */
        uint8_t header[TF_EVENT_HEADER_LEN];
        memcpy(header, buf, TF_EVENT_HEADER_LEN);
        header[17] = (uint8_t)(header[17] & ~TF_EVENT_F_BINLOG_IN_USE);
        computed = tf_crc32_update(tf_crc32(header, TF_EVENT_HEADER_LEN), buf + TF_EVENT_HEADER_LEN,
                                   covered - TF_EVENT_HEADER_LEN);
    } else {
        computed = tf_crc32(buf, covered);
    }
    out->has_checksum = true;
    out->checksum = stored;
    if (stored != computed)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event: checksum mismatch: stored CRC32 0x%08x at offset %zu, "
                            "computed 0x%08x over %zu bytes (corrupt event)",
                            tf_event_type_name(h->type), stored, covered, computed, covered);
    return TF_OK;
}

tf_status tf_event_decode(const uint8_t *buf, size_t len, const tf_format *fmt, tf_event *out,
                          size_t *consumed, tf_error *err)
{
    size_t event_len = 0; /* set by tf_event_frame on TF_OK; -O3 cannot see it */
    tf_status st = tf_event_frame(buf, len, fmt, &event_len, err);
    if (st != TF_OK)
        return st;
    memset(out, 0, sizeof *out);
    tf_event_header_decode(buf, len, &out->header, err);
    const tf_event_header *h = &out->header;
    const char *name = tf_event_type_name(h->type);
    char context[64];
    snprintf(context, sizeof context, "%s event", name);

    tf_reader r;
    if (h->type == TF_EV_FORMAT_DESCRIPTION) {
        bool has_checksum_field;
        tf_reader_init(&r, buf + TF_EVENT_HEADER_LEN, event_len - TF_EVENT_HEADER_LEN,
                       TF_EVENT_HEADER_LEN, context, TF_MALFORMED, err);
        if ((st = tf_format_decode_fde(&r, &out->format_description, &has_checksum_field)) != TF_OK)
            return st;
        out->kind = TF_EVENT_FORMAT_DESCRIPTION;
        out->body = buf + TF_EVENT_HEADER_LEN;
        out->body_len = event_len - TF_EVENT_HEADER_LEN;
        if (has_checksum_field) {
            /* The 4 checksum bytes are there even with checksums off. */
            out->body_len -= TF_EVENT_CHECKSUM_LEN;
            if (out->format_description.checksum_alg == TF_CHECKSUM_CRC32 &&
                (st = verify_checksum(buf, event_len, h, out, err)) != TF_OK)
                return st;
        }
        if (consumed)
            *consumed = event_len;
        return TF_OK;
    }

    if (fmt->checksum_alg == TF_CHECKSUM_UNDEF &&
        (st = reject_unsupported_type(h->type, err)) != TF_OK)
        return st;
    if (fmt->checksum_alg == TF_CHECKSUM_UNDEF)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s event before any FORMAT_DESCRIPTION: its checksum algorithm is "
                            "unknown (a v4 binlog starts with FORMAT_DESCRIPTION)",
                            name);
    size_t body_end = event_len;
    if (fmt->checksum_alg == TF_CHECKSUM_CRC32) {
        if ((st = verify_checksum(buf, event_len, h, out, err)) != TF_OK)
            return st;
        body_end -= TF_EVENT_CHECKSUM_LEN;
    }
    /* After the checksum, so that a corrupt type byte reads as corruption. */
    if ((st = reject_unsupported_type(h->type, err)) != TF_OK)
        return st;
    out->body = buf + TF_EVENT_HEADER_LEN;
    out->body_len = body_end - TF_EVENT_HEADER_LEN;
    tf_reader_init(&r, out->body, out->body_len, TF_EVENT_HEADER_LEN, context, TF_MALFORMED, err);
    if ((st = decode_body(&r, fmt, out)) != TF_OK)
        return st;
    if (consumed)
        *consumed = event_len;
    return TF_OK;
}

void tf_mariadb_gtid_list_get(const tf_mariadb_gtid_list_event *list, uint32_t index,
                              tf_mariadb_gtid *out)
{
    const uint8_t *p = list->entries + (size_t)index * 16;
    out->domain_id = (uint32_t)tf_le_uint(p, 4);
    out->server_id = (uint32_t)tf_le_uint(p + 4, 4);
    out->seq_no = tf_le_uint(p + 8, 8);
}

/* ---- whole files in memory ---- */

tf_status tf_binlog_reader_init(tf_binlog_reader *r, const uint8_t *buf, size_t len, tf_error *err)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->len = len;
    tf_format_init(&r->fmt, TF_CHECKSUM_UNDEF);
    tf_status st = tf_binlog_check_magic(buf, len, err);
    if (st == TF_NEED_MORE)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "not a binlog file: %zu bytes, shorter than the 4-byte magic", len);
    if (st != TF_OK)
        return st;
    r->pos = TF_BINLOG_MAGIC_LEN;
    return TF_OK;
}

bool tf_binlog_reader_at_end(const tf_binlog_reader *r) { return r->pos >= r->len; }

tf_status tf_binlog_reader_next(tf_binlog_reader *r, tf_event *ev, tf_error *err)
{
    size_t consumed = 0;
    r->event_offset = r->pos;
    tf_status st = tf_event_decode(r->buf + r->pos, r->len - r->pos, &r->fmt, ev, &consumed, err);
    if (st != TF_OK) {
        tf_error_prefix(err, "at offset %zu", r->pos);
        return st;
    }
    if (ev->kind == TF_EVENT_FORMAT_DESCRIPTION)
        r->fmt = ev->format_description;
    r->pos += consumed;
    return TF_OK;
}
