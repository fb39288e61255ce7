/* payload.c — TRANSACTION_PAYLOAD_EVENT (MySQL 8.0.20+
 * binlog_transaction_compression): a whole transaction's events, zstd
 * compressed, inside one event.
 *
 * The body is a list of (type, length, value) fields with lenenc integers:
 * 1 payload size, 2 compression type, 3 uncompressed size, 0 end of header;
 * the compressed bytes follow. Inner events are ordinary v4 events except
 * that they carry no CRC32 and log_pos 0. */
#include "event_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

enum {
    PAYLOAD_FIELD_END = 0,
    PAYLOAD_FIELD_SIZE = 1,
    PAYLOAD_FIELD_COMPRESSION_TYPE = 2,
    PAYLOAD_FIELD_UNCOMPRESSED_SIZE = 3,
};

tf_status tf_event_decode_payload(tf_reader *r, tf_transaction_payload_event *out)
{
    tf_status st;
    bool have_size = false;
    memset(out, 0, sizeof *out);
    out->compression_type = TF_PAYLOAD_COMPRESSION_NONE;
    for (;;) {
        uint64_t field, flen, value;
        if ((st = tf_read_lenenc(r, &field, NULL, "header field type")) != TF_OK)
            return st;
        if (field == PAYLOAD_FIELD_END)
            break;
        size_t at = tf_reader_offset(r);
        if ((st = tf_read_lenenc(r, &flen, NULL, "header field length")) != TF_OK)
            return st;
        if (flen > tf_reader_left(r))
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: header field %llu length %llu at offset %zu runs past the "
                                "end of the event",
                                r->context, (unsigned long long)field, (unsigned long long)flen,
                                at);
        tf_reader v;
        tf_reader_init(&v, tf_reader_cursor(r), (size_t)flen, tf_reader_offset(r), r->context,
                       TF_MALFORMED, r->err);
        r->pos += (size_t)flen;
        switch (field) {
        case PAYLOAD_FIELD_SIZE:
        case PAYLOAD_FIELD_COMPRESSION_TYPE:
        case PAYLOAD_FIELD_UNCOMPRESSED_SIZE:
            if ((st = tf_read_lenenc(&v, &value, NULL, "header field value")) != TF_OK)
                return st;
            if (field == PAYLOAD_FIELD_SIZE) {
                out->payload_size = value;
                have_size = true;
            } else if (field == PAYLOAD_FIELD_COMPRESSION_TYPE) {
                if (value != TF_PAYLOAD_COMPRESSION_ZSTD && value != TF_PAYLOAD_COMPRESSION_NONE)
                    return tf_error_set(r->err, TF_ERR_UNSUPPORTED, 0,
                                        "%s: compression type %llu is not supported (only zstd "
                                        "and none)",
                                        r->context, (unsigned long long)value);
                out->compression_type = (uint8_t)value;
            } else {
                out->uncompressed_size = value;
            }
            break;
        default: break; /* unknown fields are skipped by their length */
        }
    }
    if (!have_size)
        return tf_reader_bad(r, "payload size field missing");
    if (out->payload_size != tf_reader_left(r))
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: payload size %llu but %zu bytes follow the header at offset %zu",
                            r->context, (unsigned long long)out->payload_size, tf_reader_left(r),
                            tf_reader_offset(r));
    out->payload = tf_reader_cursor(r);
    out->payload_len = tf_reader_left(r);
    r->pos = r->len;
    return TF_OK;
}

tf_status tf_payload_iter_init(tf_payload_iter *it, const tf_event *ev, const tf_format *fmt,
                               size_t max_uncompressed, tf_error *err)
{
    memset(it, 0, sizeof *it);
    if (ev->kind != TF_EVENT_TRANSACTION_PAYLOAD)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s event is not a TRANSACTION_PAYLOAD",
                            tf_event_type_name(ev->header.type));
    const tf_transaction_payload_event *p = &ev->payload;
    it->inner_format = *fmt;
    it->inner_format.checksum_alg = TF_CHECKSUM_OFF;
    if (p->uncompressed_size > max_uncompressed)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "TRANSACTION_PAYLOAD event: declared uncompressed size %llu exceeds "
                            "the limit of %zu bytes",
                            (unsigned long long)p->uncompressed_size, max_uncompressed);
    if (p->compression_type == TF_PAYLOAD_COMPRESSION_NONE) {
        if (p->uncompressed_size != 0 && p->uncompressed_size != p->payload_len)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "TRANSACTION_PAYLOAD event: uncompressed payload of %zu bytes but "
                                "declared size %llu",
                                p->payload_len, (unsigned long long)p->uncompressed_size);
        it->buf = malloc(p->payload_len ? p->payload_len : 1);
        if (!it->buf)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "TRANSACTION_PAYLOAD event: out of memory");
        memcpy(it->buf, p->payload, p->payload_len);
        it->len = p->payload_len;
        return TF_OK;
    }
    /* Decompress into exactly the declared size; one more byte of room
     * catches frames that inflate to more than they declared. */
    size_t cap = (size_t)p->uncompressed_size;
    it->buf = malloc(cap + 1);
    if (!it->buf)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "TRANSACTION_PAYLOAD event: out of memory for %zu bytes", cap);
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (!ds) {
        tf_payload_iter_cleanup(it);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "TRANSACTION_PAYLOAD event: out of memory");
    }
    ZSTD_initDStream(ds);
    ZSTD_inBuffer in = {p->payload, p->payload_len, 0};
    ZSTD_outBuffer outb = {it->buf, cap + 1, 0};
    size_t rc = 1;
    while (in.pos < in.size && outb.pos < outb.size) {
        rc = ZSTD_decompressStream(ds, &outb, &in);
        if (ZSTD_isError(rc))
            break;
        if (rc == 0 && in.pos == in.size)
            break;
    }
    ZSTD_freeDStream(ds);
    if (ZSTD_isError(rc)) {
        tf_payload_iter_cleanup(it);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "TRANSACTION_PAYLOAD event: zstd decompression failed: %s",
                            ZSTD_getErrorName(rc));
    }
    if (outb.pos != cap || in.pos != in.size || rc != 0) {
        size_t got = outb.pos;
        tf_payload_iter_cleanup(it);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "TRANSACTION_PAYLOAD event: payload inflates to %s%zu bytes but "
                            "declares %zu%s",
                            got > cap ? "more than " : "", got > cap ? cap : got, cap,
                            rc != 0 && got <= cap ? " (zstd frame incomplete)" : "");
    }
    it->len = cap;
    return TF_OK;
}

bool tf_payload_iter_has_next(const tf_payload_iter *it) { return it->buf && it->pos < it->len; }

tf_status tf_payload_iter_next(tf_payload_iter *it, tf_event *inner, tf_error *err)
{
    size_t consumed = 0;
    tf_status st = tf_event_decode(it->buf + it->pos, it->len - it->pos, &it->inner_format, inner,
                                   &consumed, err);
    if (st != TF_OK) {
        /* Inside a fully inflated payload, a short event is corruption. */
        tf_error_prefix(err, "TRANSACTION_PAYLOAD event: inner event at payload offset %zu",
                        it->pos);
        return TF_MALFORMED;
    }
    if (inner->kind == TF_EVENT_FORMAT_DESCRIPTION || inner->kind == TF_EVENT_TRANSACTION_PAYLOAD)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "TRANSACTION_PAYLOAD event: inner event at payload offset %zu is a %s, "
                            "which cannot appear inside a payload",
                            it->pos, tf_event_type_name(inner->header.type));
    it->pos += consumed;
    return TF_OK;
}

void tf_payload_iter_cleanup(tf_payload_iter *it)
{
    free(it->buf);
    it->buf = NULL;
    it->len = it->pos = 0;
}
