/* reader_internal.h — the one bounds-checked cursor every decoder reads with.
 *
 * No decoder in protocol/ indexes a buffer by hand: it reads through a
 * tf_reader, which checks the length first and, on a short read, fills the
 * error with the context, the field and the absolute offset. Whether a short
 * read means "need more bytes" (a stream that may still grow) or "malformed"
 * (a whole event or packet) is the reader's `on_short` setting.
 *
 * Internal to protocol/: no other folder includes this header. */
#ifndef TAPFLOW_READER_INTERNAL_H
#define TAPFLOW_READER_INTERNAL_H

#include "protocol.h"

#include <string.h>

typedef struct tf_reader {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    size_t base;         /* offset of buf[0] in the outer input, for messages */
    const char *context; /* e.g. "TABLE_MAP event"; NULL: the caller prefixes
                            it with tf_error_prefix on failure */
    tf_status on_short;  /* TF_NEED_MORE or TF_MALFORMED */
    tf_error *err;
} tf_reader;

static inline void tf_reader_init(tf_reader *r, const uint8_t *buf, size_t len,
                                  size_t base, const char *context,
                                  tf_status on_short, tf_error *err)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->base = base;
    r->context = context;
    r->on_short = on_short;
    r->err = err;
}

static inline size_t tf_reader_left(const tf_reader *r) { return r->len - r->pos; }
static inline size_t tf_reader_offset(const tf_reader *r) { return r->base + r->pos; }
static inline const uint8_t *tf_reader_cursor(const tf_reader *r) { return r->buf + r->pos; }

/* Reports a short read of `need` bytes for `field`. */
tf_status tf_reader_short(tf_reader *r, const char *field, size_t need);

/* Reports a field whose value is wrong (not short): always TF_MALFORMED. */
tf_status tf_reader_bad(tf_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline tf_status tf_read_need(tf_reader *r, size_t n, const char *field)
{
    if (tf_reader_left(r) < n)
        return tf_reader_short(r, field, n);
    return TF_OK;
}

static inline tf_status tf_read_skip(tf_reader *r, size_t n, const char *field)
{
    tf_status st = tf_read_need(r, n, field);
    if (st == TF_OK)
        r->pos += n;
    return st;
}

/* Borrows n bytes (no copy). */
static inline tf_status tf_read_bytes(tf_reader *r, size_t n, const uint8_t **out,
                                      const char *field)
{
    tf_status st = tf_read_need(r, n, field);
    if (st != TF_OK)
        return st;
    *out = r->buf + r->pos;
    r->pos += n;
    return TF_OK;
}

/* Little-endian unsigned integer of 1..8 bytes. */
static inline uint64_t tf_le_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

/* Big-endian unsigned integer of 1..8 bytes (DECIMAL, temporal2 types). */
static inline uint64_t tf_be_uint(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline tf_status tf_read_uint_le(tf_reader *r, size_t n, uint64_t *out,
                                        const char *field)
{
    tf_status st = tf_read_need(r, n, field);
    if (st != TF_OK)
        return st;
    *out = tf_le_uint(r->buf + r->pos, n);
    r->pos += n;
    return TF_OK;
}

static inline tf_status tf_read_u8(tf_reader *r, uint8_t *out, const char *field)
{
    tf_status st = tf_read_need(r, 1, field);
    if (st != TF_OK)
        return st;
    *out = r->buf[r->pos++];
    return TF_OK;
}

static inline tf_status tf_read_u16le(tf_reader *r, uint16_t *out, const char *field)
{
    uint64_t v;
    tf_status st = tf_read_uint_le(r, 2, &v, field);
    if (st == TF_OK)
        *out = (uint16_t)v;
    return st;
}

static inline tf_status tf_read_u24le(tf_reader *r, uint32_t *out, const char *field)
{
    uint64_t v;
    tf_status st = tf_read_uint_le(r, 3, &v, field);
    if (st == TF_OK)
        *out = (uint32_t)v;
    return st;
}

static inline tf_status tf_read_u32le(tf_reader *r, uint32_t *out, const char *field)
{
    uint64_t v;
    tf_status st = tf_read_uint_le(r, 4, &v, field);
    if (st == TF_OK)
        *out = (uint32_t)v;
    return st;
}

static inline tf_status tf_read_u48le(tf_reader *r, uint64_t *out, const char *field)
{
    return tf_read_uint_le(r, 6, out, field);
}

static inline tf_status tf_read_u64le(tf_reader *r, uint64_t *out, const char *field)
{
    return tf_read_uint_le(r, 8, out, field);
}

/* Length-encoded integer. *is_null is set for the 0xfb marker (text
 * resultsets); pass NULL where 0xfb is not allowed (then it is malformed). */
tf_status tf_read_lenenc(tf_reader *r, uint64_t *out, bool *is_null, const char *field);

/* Length-encoded string, borrowed. */
tf_status tf_read_lenenc_str(tf_reader *r, tf_str *out, bool *is_null, const char *field);

/* NUL-terminated string, borrowed (len excludes the NUL, which is consumed). */
tf_status tf_read_nul_str(tf_reader *r, tf_str *out, const char *field);

#endif /* TAPFLOW_READER_INTERNAL_H */
