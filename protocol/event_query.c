/* event_query.c — QUERY_EVENT (statements, BEGIN, DDL) and MariaDB's zlib
 * compressed blocks (QUERY_COMPRESSED, *_ROWS_COMPRESSED). */
#include "event_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

tf_status tf_event_decode_query(tf_reader *r, uint8_t post_header_len, bool compressed,
                                tf_query_event *out)
{
    tf_status st;
    uint8_t db_len;
    uint16_t status_len = 0;
    memset(out, 0, sizeof *out);
    out->compressed = compressed;
    if (post_header_len < 11)
        return tf_reader_bad(r,
                             "post-header length %u is shorter than the 11 bytes of a QUERY "
                             "event",
                             post_header_len);
    if ((st = tf_read_u32le(r, &out->thread_id, "thread id")) != TF_OK ||
        (st = tf_read_u32le(r, &out->exec_time, "exec time")) != TF_OK ||
        (st = tf_read_u8(r, &db_len, "database length")) != TF_OK ||
        (st = tf_read_u16le(r, &out->error_code, "error code")) != TF_OK)
        return st;
    if (post_header_len >= 13 &&
        (st = tf_read_u16le(r, &status_len, "status variables length")) != TF_OK)
        return st;
    if (post_header_len > 13 &&
        (st = tf_read_skip(r, post_header_len - 13u, "post-header")) != TF_OK)
        return st;
    if ((st = tf_read_bytes(r, status_len, &out->status_vars, "status variables")) != TF_OK)
        return st;
    out->status_vars_len = status_len;
    const uint8_t *db;
    if ((st = tf_read_bytes(r, db_len, &db, "database")) != TF_OK)
        return st;
    out->database.ptr = (const char *)db;
    out->database.len = db_len;
    uint8_t nul;
    if ((st = tf_read_u8(r, &nul, "database terminator")) != TF_OK)
        return st;
    if (nul != 0)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: database name not NUL-terminated at offset %zu", r->context,
                            tf_reader_offset(r) - 1);
    out->statement.ptr = (const char *)tf_reader_cursor(r);
    out->statement.len = tf_reader_left(r);
    r->pos = r->len;
    if (compressed && out->statement.len == 0)
        return tf_reader_bad(r, "compressed statement is empty");
    return TF_OK;
}

tf_status tf_mariadb_uncompress(const uint8_t *buf, size_t len, size_t max_len, const char *what,
                                uint8_t **out, size_t *out_len, tf_error *err)
{
    *out = NULL;
    *out_len = 0;
    if (len < 1 || (buf[0] & 0x80) == 0)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s: compressed block header byte missing or without the 0x80 mark",
                            what);
    size_t lenlen = buf[0] & 0x07;
    if (lenlen < 1 || lenlen > 4 || len < 1 + lenlen)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s: compressed block length field of %zu bytes is invalid", what,
                            lenlen);
    size_t declared = (size_t)tf_be_uint(buf + 1, lenlen);
    if (declared > max_len)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s: declared uncompressed size %zu exceeds the limit of %zu bytes",
                            what, declared, max_len);
    uint8_t *dst = malloc(declared ? declared : 1);
    if (!dst)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: out of memory for %zu bytes", what,
                            declared);
    uLongf dst_len = (uLongf)declared;
    int rc = uncompress(dst, &dst_len, buf + 1 + lenlen, (uLong)(len - 1 - lenlen));
    if (rc != Z_OK || dst_len != declared) {
        free(dst);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s: zlib inflate failed (%s) for a declared size of %zu bytes", what,
                            rc == Z_OK ? "size differs" : zError(rc), declared);
    }
    *out = dst;
    *out_len = declared;
    return TF_OK;
}

tf_status tf_query_uncompress(const tf_query_event *query, size_t max_len, uint8_t **out,
                              size_t *out_len, tf_error *err)
{
    if (!query->compressed) {
        *out = malloc(query->statement.len ? query->statement.len : 1);
        if (!*out)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0, "QUERY event: out of memory");
        memcpy(*out, query->statement.ptr, query->statement.len);
        *out_len = query->statement.len;
        return TF_OK;
    }
    return tf_mariadb_uncompress((const uint8_t *)query->statement.ptr, query->statement.len,
                                 max_len, "MARIADB_QUERY_COMPRESSED event", out, out_len, err);
}
