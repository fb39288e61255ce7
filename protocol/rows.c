/* rows.c — WRITE/UPDATE/DELETE_ROWS (v1, v2), PARTIAL_UPDATE_ROWS and
 * MariaDB's compressed rows events, and the row cursor over them.
 *
 * Body: table_id, flags, [v2: extra row info], column count, one bitmap of
 * the columns in the (first) image, [UPDATE: a second bitmap for the after
 * image], then rows. Each row image is a NULL bitmap over the columns
 * present, then the non-NULL values in column order. PARTIAL_UPDATE_ROWS
 * puts value options (and, with PARTIAL_JSON, one bit per JSON column of
 * the table) before the after image. */
#include "event_internal.h"
#include "value_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest inflated rows block of a MariaDB compressed rows event we accept
 * (the server's own limit is max_allowed_packet, at most 1 GiB). */
#define TF_ROWS_MAX_INFLATED ((size_t)1 << 30)

static bool bitmap_full(const uint8_t *map, uint64_t bits)
{
    return tf_bitmap_count(map, bits) == bits;
}

static tf_status decode_extra_row_info(tf_reader *r, tf_rows_event *out)
{
    tf_status st;
    tf_reader x;
    tf_reader_init(&x, out->extra, out->extra_len, tf_reader_offset(r) - out->extra_len, r->context,
                   TF_MALFORMED, r->err);
    while (tf_reader_left(&x) > 0) {
        uint8_t tag;
        size_t at = tf_reader_offset(&x);
        tf_read_u8(&x, &tag, "extra row info tag");
        if (tag == 0) {
            /* NDB info: length (counting itself and the format byte),
             * format, data. */
            uint8_t len;
            if ((st = tf_read_u8(&x, &len, "NDB extra row info length")) != TF_OK)
                return st;
            if (len < 2)
                return tf_error_set(x.err, TF_ERR_PROTOCOL, 0,
                                    "%s: NDB extra row info length %u (at least 2) at offset %zu",
                                    x.context, len, at + 1);
            if ((st = tf_read_u8(&x, &out->ndb_format, "NDB extra row info format")) != TF_OK ||
                (st = tf_read_bytes(&x, len - 2u, &out->ndb_data, "NDB extra row info")) != TF_OK)
                return st;
            out->ndb_data_len = len - 2u;
            out->has_ndb_info = true;
        } else if (tag == 1) {
            out->has_partition_info = true;
            if ((st = tf_read_u16le(&x, &out->partition_id, "partition id")) != TF_OK)
                return st;
            if ((out->kind == TF_ROWS_UPDATE || out->kind == TF_ROWS_PARTIAL_UPDATE) &&
                (st = tf_read_u16le(&x, &out->source_partition_id, "source partition id")) != TF_OK)
                return st;
        } else {
            return tf_error_set(x.err, TF_ERR_PROTOCOL, 0,
                                "%s: unknown extra row info tag %u at offset %zu", x.context, tag,
                                at);
        }
    }
    return TF_OK;
}

tf_status tf_event_decode_rows(tf_reader *r, uint8_t type, uint8_t post_header_len,
                               tf_rows_event *out)
{
    tf_status st;
    memset(out, 0, sizeof *out);
    switch (type) {
    case TF_EV_WRITE_ROWS_V1:
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1: out->kind = TF_ROWS_WRITE, out->version = 1; break;
    case TF_EV_UPDATE_ROWS_V1:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED_V1:
        out->kind = TF_ROWS_UPDATE, out->version = 1;
        break;
    case TF_EV_DELETE_ROWS_V1:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED_V1:
        out->kind = TF_ROWS_DELETE, out->version = 1;
        break;
    case TF_EV_WRITE_ROWS_V2:
    case TF_EV_MARIADB_WRITE_ROWS_COMPRESSED: out->kind = TF_ROWS_WRITE, out->version = 2; break;
    case TF_EV_UPDATE_ROWS_V2:
    case TF_EV_MARIADB_UPDATE_ROWS_COMPRESSED: out->kind = TF_ROWS_UPDATE, out->version = 2; break;
    case TF_EV_DELETE_ROWS_V2:
    case TF_EV_MARIADB_DELETE_ROWS_COMPRESSED: out->kind = TF_ROWS_DELETE, out->version = 2; break;
    default: out->kind = TF_ROWS_PARTIAL_UPDATE, out->version = 2; break;
    }
    out->compressed = type >= TF_EV_MARIADB_WRITE_ROWS_COMPRESSED_V1 &&
                      type <= TF_EV_MARIADB_DELETE_ROWS_COMPRESSED;
    if ((st = tf_read_uint_le(r, post_header_len == 6 ? 4 : 6, &out->table_id, "table id")) !=
            TF_OK ||
        (st = tf_read_u16le(r, &out->flags, "flags")) != TF_OK)
        return st;
    if (out->version == 2) {
        uint16_t extra_len;
        size_t at = tf_reader_offset(r);
        if ((st = tf_read_u16le(r, &extra_len, "extra row info length")) != TF_OK)
            return st;
        if (extra_len < 2)
            return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                                "%s: extra row info length %u (counts its own 2 bytes) at offset "
                                "%zu",
                                r->context, extra_len, at);
        out->extra_len = extra_len - 2u;
        if ((st = tf_read_bytes(r, out->extra_len, &out->extra, "extra row info")) != TF_OK)
            return st;
        if ((st = decode_extra_row_info(r, out)) != TF_OK)
            return st;
    }
    size_t at = tf_reader_offset(r);
    if ((st = tf_read_lenenc(r, &out->column_count, NULL, "column count")) != TF_OK)
        return st;
    if (out->column_count == 0 || out->column_count > (uint64_t)tf_reader_left(r) * 8)
        return tf_error_set(r->err, TF_ERR_PROTOCOL, 0,
                            "%s: column count %llu at offset %zu does not fit the %zu bytes left",
                            r->context, (unsigned long long)out->column_count, at,
                            tf_reader_left(r));
    size_t bitmap_len = (size_t)(out->column_count + 7) / 8;
    const uint8_t *first;
    if ((st = tf_read_bytes(r, bitmap_len, &first, "columns bitmap")) != TF_OK)
        return st;
    out->before_image_full = true;
    out->after_image_full = true;
    if (out->kind == TF_ROWS_WRITE) {
        out->columns_after = first;
        out->after_image_full = bitmap_full(first, out->column_count);
    } else {
        out->columns_before = first;
        out->before_image_full = bitmap_full(first, out->column_count);
    }
    if (out->kind == TF_ROWS_UPDATE || out->kind == TF_ROWS_PARTIAL_UPDATE) {
        if ((st = tf_read_bytes(r, bitmap_len, &out->columns_after,
                                "after image columns bitmap")) != TF_OK)
            return st;
        out->after_image_full = bitmap_full(out->columns_after, out->column_count);
    }
    out->rows_offset = tf_reader_offset(r);
    out->rows = tf_reader_cursor(r);
    out->rows_len = tf_reader_left(r);
    r->pos = r->len;
    return TF_OK;
}

/* ---- cursor ---- */

tf_status tf_rows_begin(tf_rows_cursor *cur, const tf_event *ev, const tf_table_map *map,
                        tf_error *err)
{
    memset(cur, 0, sizeof *cur);
    if (ev->kind != TF_EVENT_ROWS)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s event is not a rows event",
                            tf_event_type_name(ev->header.type));
    const tf_rows_event *rows = &ev->rows;
    const char *name = tf_event_type_name(ev->header.type);
    if (!map)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event for table_id %llu without a TABLE_MAP", name,
                            (unsigned long long)rows->table_id);
    if (map->table_id != rows->table_id)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event for table_id %llu given the TABLE_MAP of table_id %llu "
                            "(%.*s.%.*s)",
                            name, (unsigned long long)rows->table_id,
                            (unsigned long long)map->table_id, (int)map->database.len,
                            map->database.ptr, (int)map->table.len, map->table.ptr);
    if (map->column_count != rows->column_count)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "%s event for table_id %llu (%.*s.%.*s) has %llu columns but its "
                            "TABLE_MAP has %u",
                            name, (unsigned long long)rows->table_id, (int)map->database.len,
                            map->database.ptr, (int)map->table.len, map->table.ptr,
                            (unsigned long long)rows->column_count, map->column_count);
    cur->rows = rows;
    cur->map = map;
    cur->data = rows->rows;
    cur->len = rows->rows_len;
    cur->base = rows->rows_offset;
    if (rows->compressed) {
        size_t n;
        char what[64];
        snprintf(what, sizeof what, "%s event", name);
        tf_status st = tf_mariadb_uncompress(rows->rows, rows->rows_len, TF_ROWS_MAX_INFLATED, what,
                                             &cur->inflated, &n, err);
        if (st != TF_OK)
            return st;
        cur->data = cur->inflated;
        cur->len = n;
        cur->base = 0; /* offsets below are in the inflated block */
    }
    return TF_OK;
}

bool tf_rows_has_next(const tf_rows_cursor *cur) { return cur->rows && cur->pos < cur->len; }

void tf_rows_cleanup(tf_rows_cursor *cur)
{
    free(cur->inflated);
    cur->inflated = NULL;
}

/* The kind alone, as read_image_values marks the columns an image leaves
 * out: an absent value has no payload to read. (Clearing the whole 112
 * bytes of each value of the image an event lacks, e.g. every before image
 * of an insert, was four fifths of tf_rows_next in --verify-only.) */
static void fill_absent(tf_value *vals, uint32_t n)
{
    if (!vals)
        return;
    for (uint32_t i = 0; i < n; i++)
        vals[i].kind = TF_VAL_ABSENT;
}

static uint32_t json_column_count(const tf_table_map *map)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < map->column_count; i++)
        n += map->columns[i].type == TF_TYPE_JSON;
    return n;
}

/* One row image. partial_json (may be NULL) holds one bit per JSON column
 * of the table: set = this column's value is a JSON diff. */
static tf_status read_image_values(tf_rows_cursor *cur, const uint8_t *present,
                                   const uint8_t *partial_json, tf_value *vals, tf_error *err)
{
    const tf_table_map *map = cur->map;
    tf_reader r;
    /* No context here: this runs once per row image, and formatting where we
     * are costs more than decoding; read_image adds it only on failure. */
    tf_reader_init(&r, cur->data + cur->pos, cur->len - cur->pos, cur->base + cur->pos, NULL,
                   TF_MALFORMED, err);
    uint64_t n_present = tf_bitmap_count(present, map->column_count);
    const uint8_t *nulls;
    tf_status st = tf_read_bytes(&r, (size_t)(n_present + 7) / 8, &nulls, "NULL bitmap");
    if (st != TF_OK)
        return st;
    uint64_t k = 0;      /* index among present columns */
    uint32_t json_k = 0; /* index among the table's JSON columns */
    for (uint32_t i = 0; i < map->column_count; i++) {
        const tf_column *col = &map->columns[i];
        bool is_json = col->type == TF_TYPE_JSON;
        bool partial = is_json && partial_json && tf_bitmap_get(partial_json, json_k);
        json_k += is_json;
        tf_value scratch;
        tf_value *v = vals ? &vals[i] : &scratch;
        /* No memset: every branch below sets kind, and tf_value_decode
         * initialises the whole value (clearing ~100 bytes per column three
         * times was a fifth of the decode time). */
        if (!tf_bitmap_get(present, i)) {
            v->kind = TF_VAL_ABSENT;
            continue;
        }
        if (tf_bitmap_get(nulls, k++)) {
            v->kind = TF_VAL_NULL;
            continue;
        }
        size_t at = tf_reader_offset(&r);
        if (partial) {
            uint64_t dlen;
            const uint8_t *diff;
            if ((st = tf_read_uint_le(&r, col->meta, &dlen, "JSON diff length")) != TF_OK)
                return st;
            if (dlen > tf_reader_left(&r))
                return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                    "column %u: JSON diff length %llu at offset %zu runs past "
                                    "the end of the event",
                                    i, (unsigned long long)dlen, at);
            tf_read_bytes(&r, (size_t)dlen, &diff, "JSON diff");
            v->kind = TF_VAL_JSON_DIFF;
            v->bytes.ptr = diff;
            v->bytes.len = (size_t)dlen;
            continue;
        }
        size_t used = 0;
        if (!vals && tf_value_check_fast(tf_reader_cursor(&r), tf_reader_left(&r), col, &used)) {
            r.pos += used;
            continue;
        }
        if (tf_value_decode_fast(tf_reader_cursor(&r), tf_reader_left(&r), col, v, &used)) {
            r.pos += used;
            continue;
        }
        st = tf_value_decode(tf_reader_cursor(&r), tf_reader_left(&r), col, v, &used, err);
        if (st != TF_OK) {
            tf_error_prefix(err, "column %u (%.*s) at offset %zu", i, (int)col->name.len,
                            col->name.ptr ? col->name.ptr : "", at);
            return TF_MALFORMED;
        }
        if (used > tf_reader_left(&r))
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "column %u value decoder consumed past the row", i);
        r.pos += used;
    }
    if (r.pos == 0)
        /* Only an image with no column present can take no bytes; a cursor
         * that never advances would loop forever on it. */
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "image has no column present (empty columns bitmap) at offset %zu",
                            tf_reader_offset(&r));
    cur->pos += r.pos;
    return TF_OK;
}

/* An image whose values nobody keeps (tf_rows_next with a NULL image),
 * validated in one tight pass: bitmaps, then tf_value_check_fast per value.
 * Returns false, having moved nothing, at the first value it cannot
 * vouch for; read_image_values then reads the image from its start and
 * decodes what needs decoding, or reports what is wrong in its words.
 * (read_image_values' general loop, which also serves partial JSON and
 * kept values, was most of --verify-only once values were no longer
 * decoded.) */
static bool check_image_values(tf_rows_cursor *cur, const uint8_t *present)
{
    const tf_table_map *map = cur->map;
    const uint8_t *p = cur->data + cur->pos;
    size_t left = cur->len - cur->pos;
    size_t nulls_len = (size_t)(tf_bitmap_count(present, map->column_count) + 7) / 8;
    if (left < nulls_len)
        return false;
    const uint8_t *nulls = p;
    p += nulls_len;
    left -= nulls_len;
    size_t start = left;
    uint64_t k = 0; /* index among present columns */
    for (uint32_t i = 0; i < map->column_count; i++) {
        if (!tf_bitmap_get(present, i))
            continue;
        if (tf_bitmap_get(nulls, k++))
            continue;
        size_t used;
        if (!tf_value_check_fast(p, left, &map->columns[i], &used))
            return false;
        p += used;
        left -= used;
    }
    if (nulls_len == 0 && left == start)
        return false; /* no column present: read_image_values says so */
    cur->pos = cur->len - left;
    return true;
}

static tf_status read_image(tf_rows_cursor *cur, const uint8_t *present,
                            const uint8_t *partial_json, const char *image, tf_value *vals,
                            tf_error *err)
{
    if (!vals && !partial_json && check_image_values(cur, present))
        return TF_OK;
    tf_status st = read_image_values(cur, present, partial_json, vals, err);
    if (st != TF_OK) {
        const tf_table_map *map = cur->map;
        uint8_t type =
            cur->rows->kind == TF_ROWS_PARTIAL_UPDATE
                ? TF_EV_PARTIAL_UPDATE_ROWS
                : (uint8_t)(cur->rows->version == 2 ? 30 + cur->rows->kind : 23 + cur->rows->kind);
        tf_error_prefix(err, "%s event: table %.*s.%.*s: row %llu %s image",
                        tf_event_type_name(type), (int)map->database.len, map->database.ptr,
                        (int)map->table.len, map->table.ptr, (unsigned long long)cur->row_index,
                        image);
    }
    return st;
}

tf_status tf_rows_next(tf_rows_cursor *cur, tf_value *before, tf_value *after, tf_error *err)
{
    if (!tf_rows_has_next(cur))
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "rows event: no more rows");
    const tf_rows_event *rows = cur->rows;
    uint32_t n = cur->map->column_count;
    tf_status st;
    /* Images the event has are filled column by column by read_image. */
    if (!rows->columns_before)
        fill_absent(before, n);
    if (!rows->columns_after)
        fill_absent(after, n);
    if (rows->columns_before &&
        (st = read_image(cur, rows->columns_before, NULL, "before", before, err)) != TF_OK)
        return st;
    if (rows->columns_after) {
        const uint8_t *partial = NULL;
        if (rows->kind == TF_ROWS_PARTIAL_UPDATE) {
            /* Value options, then with PARTIAL_JSON (bit 0) a bitmap of
             * which JSON columns carry diffs. */
            tf_reader r;
            tf_reader_init(&r, cur->data + cur->pos, cur->len - cur->pos, cur->base + cur->pos,
                           "PARTIAL_UPDATE_ROWS event: after image", TF_MALFORMED, err);
            uint64_t options;
            if ((st = tf_read_lenenc(&r, &options, NULL, "value options")) != TF_OK)
                return st;
            if (options & 1) {
                uint32_t nj = json_column_count(cur->map);
                if ((st = tf_read_bytes(&r, (nj + 7) / 8, &partial, "partial JSON bitmap")) !=
                    TF_OK)
                    return st;
            }
            cur->pos += r.pos;
        }
        if ((st = read_image(cur, rows->columns_after, partial, "after", after, err)) != TF_OK)
            return st;
    }
    cur->row_index++;
    return TF_OK;
}
