/* resultset.c — text resultsets: column count, column definitions, rows,
 * and the streaming reader that walks a whole COM_QUERY response one packet
 * at a time without holding more than the current packet. */
#include "reader_internal.h"

#include <stdio.h>

/* More columns than any server returns; a larger count is garbage, and a
 * caller sizing arrays by it must not be led into a huge allocation. */
#define MAX_COLUMNS 65535u

tf_status tf_column_count_decode(const uint8_t *payload, size_t len, uint64_t caps, uint64_t *count,
                                 bool *metadata_follows, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "column count packet", TF_MALFORMED, err);
    *count = 0;
    *metadata_follows = true;
    tf_status st = tf_read_lenenc(&r, count, NULL, "column count");
    if (st != TF_OK)
        return st;
    if (*count == 0 || *count > MAX_COLUMNS) {
        r.pos = 0;
        return tf_reader_bad(&r, "column count %llu is not in 1..%u", (unsigned long long)*count,
                             MAX_COLUMNS);
    }
    /* MariaDB's CACHE_METADATA and MySQL's OPTIONAL_RESULTSET_METADATA say
     * with one more byte whether the definitions follow. */
    if (caps & (TF_MARIADB_CLIENT_CACHE_METADATA | TF_CLIENT_OPTIONAL_RESULTSET_METADATA)) {
        uint8_t follows;
        if ((st = tf_read_u8(&r, &follows, "metadata follows flag")) != TF_OK)
            return st;
        if (follows > 1) {
            r.pos--;
            return tf_reader_bad(&r, "metadata follows flag %u is not 0 or 1", follows);
        }
        *metadata_follows = follows == 1;
    }
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the column count", tf_reader_left(&r));
    return TF_OK;
}

tf_status tf_column_def_decode(const uint8_t *payload, size_t len, uint64_t caps,
                               tf_column_def *out, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "column definition", TF_MALFORMED, err);
    memset(out, 0, sizeof *out);
    tf_status st;
    if ((st = tf_read_lenenc_str(&r, &out->catalog, NULL, "catalog")) != TF_OK ||
        (st = tf_read_lenenc_str(&r, &out->schema, NULL, "schema")) != TF_OK ||
        (st = tf_read_lenenc_str(&r, &out->table, NULL, "table")) != TF_OK ||
        (st = tf_read_lenenc_str(&r, &out->org_table, NULL, "org_table")) != TF_OK ||
        (st = tf_read_lenenc_str(&r, &out->name, NULL, "name")) != TF_OK ||
        (st = tf_read_lenenc_str(&r, &out->org_name, NULL, "org_name")) != TF_OK)
        return st;
    if ((caps & TF_MARIADB_CLIENT_EXTENDED_METADATA) &&
        (st = tf_read_lenenc_str(&r, &out->extended_metadata, NULL, "extended metadata")) != TF_OK)
        return st;
    uint64_t fixed_len;
    size_t fixed_at = r.pos;
    if ((st = tf_read_lenenc(&r, &fixed_len, NULL, "length of fixed fields")) != TF_OK)
        return st;
    /* Always 0x0c: 10 bytes of fields and 2 of filler. */
    if (fixed_len < 10) {
        r.pos = fixed_at;
        return tf_reader_bad(&r, "length of fixed fields %llu is less than 10",
                             (unsigned long long)fixed_len);
    }
    if ((st = tf_read_need(&r, (size_t)fixed_len, "fixed fields")) != TF_OK)
        return st;
    uint32_t column_length;
    if ((st = tf_read_u16le(&r, &out->charset, "character set")) != TF_OK ||
        (st = tf_read_u32le(&r, &column_length, "column length")) != TF_OK ||
        (st = tf_read_u8(&r, &out->type, "type")) != TF_OK ||
        (st = tf_read_u16le(&r, &out->flags, "flags")) != TF_OK ||
        (st = tf_read_u8(&r, &out->decimals, "decimals")) != TF_OK ||
        (st = tf_read_skip(&r, (size_t)fixed_len - 10, "filler")) != TF_OK)
        return st;
    out->column_length = column_length;
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r, "%zu unexpected bytes after the fixed fields", tf_reader_left(&r));
    return TF_OK;
}

/* Re-reads the value that failed, this time with a field name that says
 * which column it was; kept off the hot path so a good row never formats. */
static tf_status explain_bad_value(tf_reader *r, size_t index, size_t column_count)
{
    char field[64];
    tf_str value;
    bool is_null;
    snprintf(field, sizeof field, "column %zu of %zu", index + 1, column_count);
    return tf_read_lenenc_str(r, &value, &is_null, field);
}

tf_status tf_text_row_decode(const uint8_t *payload, size_t len, size_t column_count,
                             tf_str *values, bool *nulls, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "text row", TF_MALFORMED, err);
    for (size_t i = 0; i < column_count; i++) {
        if (tf_read_lenenc_str(&r, &values[i], &nulls[i], "value") != TF_OK)
            return explain_bad_value(&r, i, column_count);
    }
    if (tf_reader_left(&r) > 0)
        return tf_reader_bad(&r,
                             "%zu bytes left after the last of %zu columns; the row has "
                             "more values than the column count",
                             tf_reader_left(&r), column_count);
    return TF_OK;
}

void tf_resultset_init(tf_resultset *rs, uint64_t caps)
{
    memset(rs, 0, sizeof *rs);
    rs->caps = caps;
    rs->state = TF_RS_EXPECT_RESPONSE;
}

static tf_status server_error(tf_resultset *rs, const uint8_t *payload, size_t len,
                              tf_resultset_item *item, tf_error *err)
{
    tf_status st = tf_err_decode(payload, len, &item->err, err);
    if (st != TF_OK)
        return st;
    item->kind = TF_RS_ITEM_ERR;
    rs->state = TF_RS_DONE;
    return TF_OK;
}

/* After an OK or end of rows: another result follows only when the server
 * says so (multi-statements, stored procedures). */
static void finish_result(tf_resultset *rs, const tf_ok_packet *ok)
{
    rs->state =
        (ok->status_flags & TF_SERVER_MORE_RESULTS_EXISTS) ? TF_RS_EXPECT_RESPONSE : TF_RS_DONE;
}

static tf_status feed_response(tf_resultset *rs, const uint8_t *payload, size_t len,
                               tf_resultset_item *item, tf_error *err)
{
    tf_status st;
    switch (tf_response_classify(payload, len)) {
    case TF_PACKET_OK:
        if ((st = tf_ok_decode(payload, len, rs->caps, &item->ok, err)) != TF_OK)
            return st;
        item->kind = TF_RS_ITEM_OK;
        finish_result(rs, &item->ok);
        return TF_OK;
    case TF_PACKET_ERR: return server_error(rs, payload, len, item, err);
    case TF_PACKET_LOCAL_INFILE:
        rs->state = TF_RS_DONE;
        return tf_local_infile_reject(payload, len, err);
    default: break;
    }
    bool metadata_follows;
    if ((st = tf_column_count_decode(payload, len, rs->caps, &rs->column_count, &metadata_follows,
                                     err)) != TF_OK)
        return st;
    if (!metadata_follows)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "resultset: the server skipped the column definitions (cached "
                            "metadata), which tapflow does not negotiate");
    rs->columns_seen = 0;
    rs->rows_seen = 0;
    rs->state = TF_RS_EXPECT_COLUMN;
    item->kind = TF_RS_ITEM_COLUMN_COUNT;
    item->column_count = rs->column_count;
    return TF_OK;
}

static tf_status feed_row(tf_resultset *rs, const uint8_t *payload, size_t len,
                          tf_resultset_item *item, tf_error *err)
{
    tf_status st;
    switch (tf_resultset_classify(payload, len, rs->caps)) {
    case TF_PACKET_ERR:
        /* e.g. the query was killed or hit a limit after some rows. */
        return server_error(rs, payload, len, item, err);
    case TF_PACKET_EOF:
        if ((st = tf_end_decode(payload, len, rs->caps, &item->ok, err)) != TF_OK) {
            tf_error_prefix(err, "resultset end after %llu rows",
                            (unsigned long long)rs->rows_seen);
            return st;
        }
        item->kind = TF_RS_ITEM_END;
        finish_result(rs, &item->ok);
        return TF_OK;
    default: break;
    }
    if (!rs->values || !rs->nulls || rs->capacity < rs->column_count)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "resultset: row arrays hold %zu values but the resultset has %llu "
                            "columns; set values, nulls and capacity after the column count",
                            rs->values && rs->nulls ? rs->capacity : 0,
                            (unsigned long long)rs->column_count);
    if ((st = tf_text_row_decode(payload, len, (size_t)rs->column_count, rs->values, rs->nulls,
                                 err)) != TF_OK) {
        tf_error_prefix(err, "resultset row %llu", (unsigned long long)rs->rows_seen + 1);
        return st;
    }
    rs->rows_seen++;
    item->kind = TF_RS_ITEM_ROW;
    return TF_OK;
}

tf_status tf_resultset_feed(tf_resultset *rs, const uint8_t *payload, size_t len,
                            tf_resultset_item *item, tf_error *err)
{
    tf_status st;
    memset(item, 0, sizeof *item);
    switch (rs->state) {
    case TF_RS_EXPECT_RESPONSE: return feed_response(rs, payload, len, item, err);
    case TF_RS_EXPECT_COLUMN:
        if (len > 0 && payload[0] == 0xff)
            return server_error(rs, payload, len, item, err);
        if ((st = tf_column_def_decode(payload, len, rs->caps, &item->column, err)) != TF_OK) {
            tf_error_prefix(err, "resultset column %llu of %llu",
                            (unsigned long long)rs->columns_seen + 1,
                            (unsigned long long)rs->column_count);
            return st;
        }
        item->kind = TF_RS_ITEM_COLUMN;
        item->column_index = rs->columns_seen++;
        if (rs->columns_seen == rs->column_count)
            rs->state =
                (rs->caps & TF_CLIENT_DEPRECATE_EOF) ? TF_RS_EXPECT_ROW : TF_RS_EXPECT_COLUMNS_EOF;
        return TF_OK;
    case TF_RS_EXPECT_COLUMNS_EOF: {
        if (len > 0 && payload[0] == 0xff)
            return server_error(rs, payload, len, item, err);
        tf_eof_packet eof;
        if (tf_resultset_classify(payload, len, rs->caps) != TF_PACKET_EOF)
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "resultset: expected the EOF packet after %llu column "
                                "definitions, got a %zu-byte packet starting 0x%02x",
                                (unsigned long long)rs->column_count, len,
                                len > 0 ? payload[0] : 0);
        if ((st = tf_eof_decode(payload, len, rs->caps, &eof, err)) != TF_OK)
            return st;
        item->kind = TF_RS_ITEM_COLUMNS_END;
        item->ok.status_flags = eof.status_flags;
        item->ok.warnings = eof.warnings;
        rs->state = TF_RS_EXPECT_ROW;
        return TF_OK;
    }
    case TF_RS_EXPECT_ROW: return feed_row(rs, payload, len, item, err);
    case TF_RS_DONE:
    default:
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "resultset: a %zu-byte packet arrived after the response was "
                            "complete",
                            len);
    }
}
