/* writer_internal.h — the one byte writer of protocol/'s encoders.
 *
 * It counts everything and copies only what fits, so one pass over an
 * encoder gives both the size it needs and, when the buffer is big enough,
 * the bytes: callers pass out = NULL, cap = 0 to ask the size. It never
 * writes past cap. Internal to protocol/: no other folder includes it. */
#ifndef TAPFLOW_WRITER_INTERNAL_H
#define TAPFLOW_WRITER_INTERNAL_H

#include "protocol.h"

#include <string.h>

typedef struct tf_writer {
    uint8_t *out;
    size_t cap;
    size_t len; /* bytes the encoding needs so far (may exceed cap) */
} tf_writer;

static inline void tf_put_bytes(tf_writer *w, const void *src, size_t n)
{
    if (n > 0 && w->out && w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->out + w->len, src, n);
    w->len += n;
}

static inline void tf_put_u8(tf_writer *w, uint8_t v) { tf_put_bytes(w, &v, 1); }

static inline void tf_put_uint_le(tf_writer *w, uint64_t v, size_t n)
{
    uint8_t b[8];
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    tf_put_bytes(w, b, n);
}

static inline size_t tf_lenenc_size(uint64_t v)
{
    return v < 0xfb ? 1 : v <= 0xffff ? 3 : v <= 0xffffff ? 4 : 9;
}

/* Length-encoded integer: 1 byte below 0xfb, else 0xfc/0xfd/0xfe + 2/3/8. */
static inline void tf_put_lenenc(tf_writer *w, uint64_t v)
{
    if (v < 0xfb) {
        tf_put_u8(w, (uint8_t)v);
    } else if (v <= 0xffff) {
        tf_put_u8(w, 0xfc);
        tf_put_uint_le(w, v, 2);
    } else if (v <= 0xffffff) {
        tf_put_u8(w, 0xfd);
        tf_put_uint_le(w, v, 3);
    } else {
        tf_put_u8(w, 0xfe);
        tf_put_uint_le(w, v, 8);
    }
}

static inline void tf_put_lenenc_bytes(tf_writer *w, const void *src, size_t n)
{
    tf_put_lenenc(w, n);
    tf_put_bytes(w, src, n);
}

/* True when everything counted was also written. */
static inline bool tf_writer_fits(const tf_writer *w) { return w->out && w->len <= w->cap; }

#endif /* TAPFLOW_WRITER_INTERNAL_H */
