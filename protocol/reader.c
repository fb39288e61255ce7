/* reader.c — the out-of-line parts of tf_reader: error reports and the
 * variable-length reads (length-encoded integers and strings). */
#include "reader_internal.h"

#include <stdarg.h>
#include <stdio.h>

tf_status tf_reader_short(tf_reader *r, const char *field, size_t need)
{
    if (r->on_short == TF_NEED_MORE)
        return TF_NEED_MORE;
    /* A NULL context lets a hot caller skip formatting one per item and
     * prefix the details only when something failed. */
    return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                        "%s%s%s needs %zu bytes at offset %zu but only %zu remain",
                        r->context ? r->context : "", r->context ? ": " : "", field, need,
                        tf_reader_offset(r), tf_reader_left(r));
}

tf_status tf_reader_bad(tf_reader *r, const char *fmt, ...)
{
    char detail[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tf_error_set(r->err, TF_ERR_PROTOCOL, 0, "%s%s%s at offset %zu",
                        r->context ? r->context : "", r->context ? ": " : "", detail,
                        tf_reader_offset(r));
}

tf_status tf_read_lenenc(tf_reader *r, uint64_t *out, bool *is_null, const char *field)
{
    size_t start = r->pos;
    uint8_t first;
    tf_status st = tf_read_u8(r, &first, field);
    if (st != TF_OK)
        return st;
    if (is_null)
        *is_null = false;
    if (first < 0xfb) {
        *out = first;
        return TF_OK;
    }
    size_t width;
    switch (first) {
    case 0xfb:
        if (is_null) {
            *is_null = true;
            *out = 0;
            return TF_OK;
        }
        r->pos = start;
        return tf_reader_bad(r, "%s: 0xfb (NULL marker) where a length-encoded integer is required",
                             field);
    case 0xfc: width = 2; break;
    case 0xfd: width = 3; break;
    case 0xfe: width = 8; break;
    default:
        r->pos = start;
        return tf_reader_bad(r, "%s: 0xff is not a valid length-encoded integer prefix", field);
    }
    st = tf_read_uint_le(r, width, out, field);
    if (st != TF_OK)
        r->pos = start;
    return st;
}

tf_status tf_read_lenenc_str(tf_reader *r, tf_str *out, bool *is_null, const char *field)
{
    size_t start = r->pos;
    uint64_t n = 0;
    tf_status st = tf_read_lenenc(r, &n, is_null, field);
    if (st != TF_OK)
        return st;
    if (is_null && *is_null) {
        out->ptr = NULL;
        out->len = 0;
        return TF_OK;
    }
    if (n > tf_reader_left(r)) {
        st = tf_reader_short(r, field, (size_t)(n > SIZE_MAX ? SIZE_MAX : n));
        r->pos = start;
        return st;
    }
    out->ptr = (const char *)(r->buf + r->pos);
    out->len = (size_t)n;
    r->pos += (size_t)n;
    return TF_OK;
}

tf_status tf_read_nul_str(tf_reader *r, tf_str *out, const char *field)
{
    const uint8_t *start = r->buf + r->pos;
    const uint8_t *nul = memchr(start, 0, tf_reader_left(r));
    if (!nul)
        return tf_reader_short(r, field, tf_reader_left(r) + 1);
    out->ptr = (const char *)start;
    out->len = (size_t)(nul - start);
    r->pos += out->len + 1;
    return TF_OK;
}
