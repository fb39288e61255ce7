/* out.h — tapflow-binlog's output: one buffered stream of JSON text.
 *
 * Lines are built in a growable buffer and handed to stdio in large writes:
 * a binlog of a million rows prints a million lines, and per-line fwrite or
 * printf calls would cost more than decoding them. */
#ifndef TAPFLOW_BINLOG_OUT_H
#define TAPFLOW_BINLOG_OUT_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct out_buf {
    char *data;
    size_t len;
    size_t cap;
    FILE *sink;  /* where out_flush writes; NULL: keep everything */
    bool failed; /* a write to sink failed (EPIPE, disk full) */
} out_buf;

void out_init(out_buf *o, FILE *sink);
void out_cleanup(out_buf *o);
/* Writes the buffer to the sink when it holds more than `threshold` bytes. */
void out_flush_if(out_buf *o, size_t threshold);
void out_flush(out_buf *o);

/* Makes room for n more bytes beyond len (the growing half of
 * out_reserve); false when the stream failed (no memory). */
bool out_grow(out_buf *o, size_t n);

/* The writers below run a few times per value of a million rows: their
 * common case (room in the buffer) is inline, a call each was a tenth of
 * the profile. */
static inline bool out_reserve(out_buf *o, size_t n)
{
    return o->cap - o->len >= n || out_grow(o, n);
}

static inline void out_bytes(out_buf *o, const char *s, size_t n)
{
    if (n == 0 || !out_reserve(o, n))
        return;
    memcpy(o->data + o->len, s, n);
    o->len += n;
}

static inline void out_char(out_buf *o, char c)
{
    if (!out_reserve(o, 1))
        return;
    o->data[o->len++] = c;
}

void out_cstr(out_buf *o, const char *s);
void out_u64(out_buf *o, uint64_t v);
void out_i64(out_buf *o, int64_t v);
void out_double(out_buf *o, double v);
/* The text bson_decimal128_to_string gives (text: BSON_DECIMAL128_STRING
 * bytes); returns its length. */
size_t out_decimal128_text(const bson_decimal128_t *dec, char *text);
/* A JSON string literal: quotes and escapes. Bytes that are not valid UTF-8
 * are written as \u00XX of their byte value (so the line stays valid JSON
 * and the byte is visible). */
void out_json_string(out_buf *o, const char *s, size_t n);
/* "key": (with a leading comma unless first) */
void out_key(out_buf *o, const char *key, bool first);
/* Relaxed Extended JSON of a BSON document (or array when is_array). */
void out_bson(out_buf *o, const bson_t *doc, bool is_array);
/* Relaxed Extended JSON of the value under the iterator (what out_bson
 * writes after a key). */
void out_bson_value(out_buf *o, const bson_iter_t *it);
/* {"$date": ...} of milliseconds since the epoch, as out_bson writes a BSON
 * date. */
void out_date(out_buf *o, int64_t ms);
/* {"$binary": ...} of bytes with a BSON binary subtype, as out_bson writes
 * them. */
void out_binary(out_buf *o, const uint8_t *p, size_t n, uint8_t subtype);

#endif
