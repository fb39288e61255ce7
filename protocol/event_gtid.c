/* event_gtid.c — GTID events of both families.
 *
 * MySQL GTID / ANONYMOUS_GTID grew fields over versions (5.6: flags, sid,
 * gno; 5.7: logical clock; 8.0: commit timestamps, transaction length,
 * server versions), each present only if the event is long enough.
 * GTID_TAGGED_LOG (8.4+) is written with MySQL's serialization library
 * instead: varlen integers and field ids. MariaDB GTID is a sequence number,
 * a domain and flags saying which optional parts follow. */
#include "event_internal.h"

#include <string.h>

/* MySQL serialization library varlen unsigned: the count of trailing one
 * bits of the first byte says how many more bytes follow (0xff: 8 raw
 * bytes). */
static tf_status read_varlen(tf_reader *r, uint64_t *out, const char *field)
{
    tf_status st = tf_read_need(r, 1, field);
    if (st != TF_OK)
        return st;
    uint8_t first = r->buf[r->pos];
    if (first == 0xff) {
        if ((st = tf_read_need(r, 9, field)) != TF_OK)
            return st;
        *out = tf_le_uint(r->buf + r->pos + 1, 8);
        r->pos += 9;
        return TF_OK;
    }
    size_t n = 1;
    while (first & 1) {
        n++;
        first >>= 1;
    }
    if ((st = tf_read_need(r, n, field)) != TF_OK)
        return st;
    *out = tf_le_uint(r->buf + r->pos, n) >> n;
    r->pos += n;
    return TF_OK;
}

/* Zig-zag signed varlen, used for gno, last_committed, sequence_number. */
static tf_status read_varlen_nonnegative(tf_reader *r, uint64_t *out, const char *field)
{
    uint64_t u;
    size_t at = tf_reader_offset(r);
    tf_status st = read_varlen(r, &u, field);
    if (st != TF_OK)
        return st;
    if (u & 1)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0, "%s: %s is negative at offset %zu",
                            r->context, field, at);
    *out = u >> 1;
    return TF_OK;
}

static tf_status decode_gtid_tagged(tf_reader *r, tf_gtid_event *out)
{
    tf_status st;
    uint8_t version;
    size_t start = r->pos;
    if ((st = tf_read_u8(r, &version, "serialization version")) != TF_OK)
        return st;
    if (version != 2)
        return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                            "%s: serialization format byte %u is not supported (expected 2)",
                            r->context, version);
    uint64_t payload_size, last_non_ignorable;
    if ((st = read_varlen(r, &payload_size, "payload size")) != TF_OK ||
        (st = read_varlen(r, &last_non_ignorable, "last non-ignorable field id")) != TF_OK)
        return st;
    size_t envelope = r->pos - start;
    if (payload_size < envelope || payload_size - envelope > tf_reader_left(r))
        return tf_reader_bad(r, "payload size %llu does not fit the event (%zu bytes left)",
                             (unsigned long long)payload_size, tf_reader_left(r));
    tf_reader f;
    tf_reader_init(&f, tf_reader_cursor(r), (size_t)(payload_size - envelope), tf_reader_offset(r),
                   r->context, TF_MALFORMED, r->err);
    r->pos += (size_t)(payload_size - envelope);

    bool seen_tag = false, seen_original_ts = false, seen_original_version = false;
    while (tf_reader_left(&f) > 0) {
        uint64_t id, v;
        size_t at = tf_reader_offset(&f);
        if ((st = read_varlen(&f, &id, "field id")) != TF_OK)
            return st;
        switch (id) {
        case 0:
            if ((st = read_varlen(&f, &v, "gtid flags")) != TF_OK)
                return st;
            out->flags = (uint8_t)v;
            break;
        case 1:
            for (int i = 0; i < 16; i++) {
                if ((st = read_varlen(&f, &v, "sid")) != TF_OK)
                    return st;
                if (v > 255)
                    return tf_reader_bad(&f, "sid byte %d is %llu", i, (unsigned long long)v);
                out->sid[i] = (uint8_t)v;
            }
            break;
        case 2:
            if ((st = read_varlen_nonnegative(&f, &out->gno, "gno")) != TF_OK)
                return st;
            break;
        case 3: {
            uint64_t tlen;
            const uint8_t *tag;
            if ((st = read_varlen(&f, &tlen, "tag length")) != TF_OK)
                return st;
            if (tlen > 32)
                return tf_reader_bad(&f, "tag length %llu (at most 32)", (unsigned long long)tlen);
            if ((st = tf_read_bytes(&f, (size_t)tlen, &tag, "tag")) != TF_OK)
                return st;
            memcpy(out->tag, tag, (size_t)tlen);
            out->tag[tlen] = '\0';
            seen_tag = true;
            break;
        }
        case 4:
            out->has_logical_clock = true;
            if ((st = read_varlen_nonnegative(&f, &out->last_committed, "last committed")) != TF_OK)
                return st;
            break;
        case 5:
            out->has_logical_clock = true;
            if ((st = read_varlen_nonnegative(&f, &out->sequence_number, "sequence number")) !=
                TF_OK)
                return st;
            break;
        case 6:
            out->has_commit_timestamps = true;
            if ((st = read_varlen(&f, &out->immediate_commit_timestamp,
                                  "immediate commit timestamp")) != TF_OK)
                return st;
            break;
        case 7:
            seen_original_ts = true;
            if ((st = read_varlen(&f, &out->original_commit_timestamp,
                                  "original commit timestamp")) != TF_OK)
                return st;
            break;
        case 8:
            out->has_transaction_length = true;
            if ((st = read_varlen(&f, &out->transaction_length, "transaction length")) != TF_OK)
                return st;
            break;
        case 9:
            out->has_server_versions = true;
            if ((st = read_varlen(&f, &v, "immediate server version")) != TF_OK)
                return st;
            out->immediate_server_version = (uint32_t)v;
            break;
        case 10:
            seen_original_version = true;
            if ((st = read_varlen(&f, &v, "original server version")) != TF_OK)
                return st;
            out->original_server_version = (uint32_t)v;
            break;
        case 11:
            out->has_commit_group_ticket = true;
            if ((st = read_varlen(&f, &out->commit_group_ticket, "commit group ticket")) != TF_OK)
                return st;
            break;
        default:
            /* Unknown fields have no length we could skip by. One the
             * writer marked as needed means we would misread the event. */
            if (id <= last_non_ignorable)
                return tf_error_set(f.err, TF_ERR_UNSUPPORTED, 0,
                                    "%s: unknown non-ignorable field %llu at offset %zu", f.context,
                                    (unsigned long long)id, at);
            f.pos = f.len;
            break;
        }
    }
    if (!seen_tag)
        return tf_reader_bad(r, "tagged GTID without a tag field");
    if (!seen_original_ts)
        out->original_commit_timestamp = out->immediate_commit_timestamp;
    if (!seen_original_version)
        out->original_server_version = out->immediate_server_version;
    return TF_OK;
}

tf_status tf_event_decode_gtid(tf_reader *r, uint8_t type, tf_gtid_event *out)
{
    tf_status st;
    const uint8_t *sid;
    memset(out, 0, sizeof *out);
    out->anonymous = type == TF_EV_ANONYMOUS_GTID;
    if (type == TF_EV_GTID_TAGGED_LOG)
        return decode_gtid_tagged(r, out);

    if ((st = tf_read_u8(r, &out->flags, "flags")) != TF_OK ||
        (st = tf_read_bytes(r, 16, &sid, "sid")) != TF_OK ||
        (st = tf_read_u64le(r, &out->gno, "gno")) != TF_OK)
        return st;
    memcpy(out->sid, sid, 16);
    /* 5.6 ends here; 5.7.5+ adds the logical clock behind typecode 2. */
    if (tf_reader_left(r) == 0 || r->buf[r->pos] != 2)
        return TF_OK;
    r->pos++;
    out->has_logical_clock = true;
    if ((st = tf_read_u64le(r, &out->last_committed, "last committed")) != TF_OK ||
        (st = tf_read_u64le(r, &out->sequence_number, "sequence number")) != TF_OK)
        return st;
    if (tf_reader_left(r) >= 7) {
        uint64_t ts;
        tf_read_uint_le(r, 7, &ts, "immediate commit timestamp");
        out->has_commit_timestamps = true;
        /* Bit 55 set: the original commit timestamp follows (the
         * transaction was replicated from elsewhere). */
        if (ts & (1ull << 55)) {
            out->immediate_commit_timestamp = ts & ~(1ull << 55);
            if ((st = tf_read_uint_le(r, 7, &out->original_commit_timestamp,
                                      "original commit timestamp")) != TF_OK)
                return st;
        } else {
            out->immediate_commit_timestamp = ts;
            out->original_commit_timestamp = ts;
        }
    }
    if (tf_reader_left(r) > 0) {
        if ((st = tf_read_lenenc(r, &out->transaction_length, NULL, "transaction length")) != TF_OK)
            return st;
        out->has_transaction_length = true;
    }
    if (tf_reader_left(r) >= 4) {
        uint32_t v;
        tf_read_u32le(r, &v, "immediate server version");
        out->has_server_versions = true;
        if (v & (1u << 31)) {
            out->immediate_server_version = v & ~(1u << 31);
            if ((st = tf_read_u32le(r, &out->original_server_version, "original server version")) !=
                TF_OK)
                return st;
        } else {
            out->immediate_server_version = v;
            out->original_server_version = v;
        }
    }
    if (tf_reader_left(r) >= 8) {
        out->has_commit_group_ticket = true;
        tf_read_u64le(r, &out->commit_group_ticket, "commit group ticket");
    }
    return TF_OK;
}

/* Checks the outer structure of the binary GTID set (sid count, then per
 * sid: uuid, [tag], interval count, intervals) against the length; the
 * set itself is decoded by tf_gtid_set_decode_binary. */
tf_status tf_event_decode_previous_gtids(tf_reader *r, tf_previous_gtids_event *out)
{
    tf_status st;
    uint64_t header;
    memset(out, 0, sizeof *out);
    out->data = tf_reader_cursor(r);
    out->data_len = tf_reader_left(r);
    if ((st = tf_read_u64le(r, &header, "sid count")) != TF_OK)
        return st;
    out->tagged = (header >> 56) != 0;
    out->sid_count = out->tagged ? (header >> 8) & ((1ull << 48) - 1) : header;
    for (uint64_t i = 0; i < out->sid_count; i++) {
        uint64_t n_intervals;
        if ((st = tf_read_skip(r, 16, "sid")) != TF_OK)
            return st;
        if (out->tagged) {
            uint64_t tag_len;
            if ((st = read_varlen(r, &tag_len, "tag length")) != TF_OK)
                return st;
            if (tag_len > 32)
                return tf_reader_bad(r, "tag length %llu (at most 32)",
                                     (unsigned long long)tag_len);
            if ((st = tf_read_skip(r, (size_t)tag_len, "tag")) != TF_OK)
                return st;
        }
        if ((st = tf_read_u64le(r, &n_intervals, "interval count")) != TF_OK)
            return st;
        if (n_intervals > tf_reader_left(r) / 16)
            return tf_reader_short(r, "intervals", tf_reader_left(r) + 1);
        r->pos += (size_t)n_intervals * 16;
    }
    if (tf_reader_left(r) != 0)
        return tf_reader_bad(r, "%zu bytes after the last sid", tf_reader_left(r));
    return TF_OK;
}

tf_status tf_event_decode_mariadb_gtid(tf_reader *r, tf_mariadb_gtid_event *out)
{
    tf_status st;
    memset(out, 0, sizeof *out);
    if ((st = tf_read_u64le(r, &out->seq_no, "seq_no")) != TF_OK ||
        (st = tf_read_u32le(r, &out->domain_id, "domain id")) != TF_OK ||
        (st = tf_read_u8(r, &out->flags2, "flags")) != TF_OK)
        return st;
    if (out->flags2 & TF_MARIADB_GTID_F_GROUP_COMMIT_ID) {
        out->has_commit_id = true;
        if ((st = tf_read_u64le(r, &out->commit_id, "commit id")) != TF_OK)
            return st;
    } else if (out->flags2 & (TF_MARIADB_GTID_F_PREPARED_XA | TF_MARIADB_GTID_F_COMPLETED_XA)) {
        out->has_xid = true;
        if ((st = tf_read_u32le(r, &out->xa_format_id, "XA format id")) != TF_OK ||
            (st = tf_read_u8(r, &out->xa_gtrid_len, "XA gtrid length")) != TF_OK ||
            (st = tf_read_u8(r, &out->xa_bqual_len, "XA bqual length")) != TF_OK)
            return st;
        if (out->xa_gtrid_len > 64 || out->xa_bqual_len > 64)
            return tf_reader_bad(r, "XA xid lengths %u + %u (each at most 64)", out->xa_gtrid_len,
                                 out->xa_bqual_len);
        if ((st = tf_read_bytes(r, (size_t)out->xa_gtrid_len + out->xa_bqual_len, &out->xa_data,
                                "XA xid")) != TF_OK)
            return st;
    } else {
        /* Without a commit id the post-header is padded to 19 bytes. */
        if ((st = tf_read_skip(r, 6, "padding")) != TF_OK)
            return st;
    }
    if (tf_reader_left(r) == 0)
        return TF_OK;
    /* MariaDB 10.5+: flags_extra and what it announces. */
    out->has_flags_extra = true;
    tf_read_u8(r, &out->flags_extra, "extra flags");
    if (out->flags_extra & 0x01) {
        if ((st = tf_read_u8(r, &out->extra_engines, "extra engines")) != TF_OK)
            return st;
    }
    if (out->flags_extra & (0x02 | 0x04 | 0x08)) {
        out->has_sa_seq_no = true;
        if ((st = tf_read_u64le(r, &out->sa_seq_no, "start alter seq_no")) != TF_OK)
            return st;
    }
    if (out->flags_extra & 0x10) {
        out->has_thread_id = true;
        if ((st = tf_read_u64le(r, &out->thread_id, "thread id")) != TF_OK)
            return st;
    }
    /* Later additions we do not know about are ignored, as the server's
     * own reader does. */
    r->pos = r->len;
    return TF_OK;
}

tf_status tf_event_decode_mariadb_gtid_list(tf_reader *r, tf_mariadb_gtid_list_event *out)
{
    tf_status st;
    uint32_t v;
    memset(out, 0, sizeof *out);
    if ((st = tf_read_u32le(r, &v, "count")) != TF_OK)
        return st;
    out->count = v & 0x0fffffffu;
    out->flags = (uint8_t)(v >> 28);
    if (out->count > tf_reader_left(r) / 16)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: count %u needs %llu bytes at offset %zu but only %zu remain",
                            r->context, out->count, (unsigned long long)out->count * 16,
                            tf_reader_offset(r), tf_reader_left(r));
    return tf_read_bytes(r, (size_t)out->count * 16, &out->entries, "entries");
}
