/* decode.c — walks binlog files with protocol/'s decoders and prints one JSON
 * line per event or per row change.
 *
 * Every event is decoded whatever the output mode (table maps must be kept,
 * checksums verified, rows walked to find malformed images); the modes only
 * choose what is printed. --verify-only decodes every value (JSON columns
 * included) and prints nothing, so it measures the decoder alone. */
#include "decode.h"
#include "row_json.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_UNCOMPRESSED_PAYLOAD (1024u * 1024u * 1024u) /* max_allowed_packet's ceiling */
#define FLUSH_THRESHOLD (1u << 20)

bool tool_state_init(tool_state *st, const tool_options *opt, FILE *sink)
{
    memset(st, 0, sizeof *st);
    st->opt = opt;
    out_init(&st->out, sink);
    out_init(&st->row_prefix, NULL);
    out_init(&st->keys, NULL);
    st->maps = tf_table_maps_new();
    bson_init(&st->scratch);
    st->selecting = (opt->start_gtid == NULL);
    return st->maps != NULL && !st->out.failed && !st->row_prefix.failed && !st->keys.failed;
}

void tool_state_cleanup(tool_state *st)
{
    out_cleanup(&st->out);
    out_cleanup(&st->row_prefix);
    out_cleanup(&st->keys);
    free(st->key_end);
    tf_table_maps_destroy(st->maps);
    bson_destroy(&st->scratch);
    free(st->before);
    free(st->after);
    for (size_t i = 0; i < st->table_count; i++)
        free(st->tables[i].name);
    free(st->tables);
}

static void report(const tool_state *st, const char *what, const tf_error *err)
{
    out_buf *o = (out_buf *)&st->out;
    out_flush(o); /* lines printed so far come before the message */
    fflush(stdout);
    fprintf(stderr, "tapflow-binlog: %s: %s%s\n", st->file, what, err ? err->message : "");
}

/* ---- names ---------------------------------------------------------- */

static const char *column_type_name(uint8_t type)
{
    switch (type) {
    case TF_TYPE_DECIMAL: return "DECIMAL_OLD";
    case TF_TYPE_TINY: return "TINYINT";
    case TF_TYPE_SHORT: return "SMALLINT";
    case TF_TYPE_LONG: return "INT";
    case TF_TYPE_FLOAT: return "FLOAT";
    case TF_TYPE_DOUBLE: return "DOUBLE";
    case TF_TYPE_NULL: return "NULL";
    case TF_TYPE_TIMESTAMP: return "TIMESTAMP_OLD";
    case TF_TYPE_LONGLONG: return "BIGINT";
    case TF_TYPE_INT24: return "MEDIUMINT";
    case TF_TYPE_DATE: return "DATE_OLD";
    case TF_TYPE_TIME: return "TIME_OLD";
    case TF_TYPE_DATETIME: return "DATETIME_OLD";
    case TF_TYPE_YEAR: return "YEAR";
    case TF_TYPE_NEWDATE: return "DATE";
    case TF_TYPE_VARCHAR: return "VARCHAR";
    case TF_TYPE_BIT: return "BIT";
    case TF_TYPE_TIMESTAMP2: return "TIMESTAMP";
    case TF_TYPE_DATETIME2: return "DATETIME";
    case TF_TYPE_TIME2: return "TIME";
    case TF_TYPE_TYPED_ARRAY: return "TYPED_ARRAY";
    case TF_TYPE_VECTOR: return "VECTOR";
    case TF_TYPE_JSON: return "JSON";
    case TF_TYPE_NEWDECIMAL: return "DECIMAL";
    case TF_TYPE_ENUM: return "ENUM";
    case TF_TYPE_SET: return "SET";
    case TF_TYPE_TINY_BLOB: return "TINYBLOB";
    case TF_TYPE_MEDIUM_BLOB: return "MEDIUMBLOB";
    case TF_TYPE_LONG_BLOB: return "LONGBLOB";
    case TF_TYPE_BLOB: return "BLOB";
    case TF_TYPE_VAR_STRING: return "VAR_STRING";
    case TF_TYPE_STRING: return "CHAR";
    case TF_TYPE_GEOMETRY: return "GEOMETRY";
    default: return "UNKNOWN";
    }
}

/* Key of column i in a row image: its name, or "@1".. when the table map
 * carries no names (binlog_row_metadata=MINIMAL), as mysqlbinlog -v shows.
 * Names are length-delimited in the map (not NUL-terminated): copied into
 * buf (KEY_MAX is far above MySQL's 64-character names). */
#define KEY_MAX 1024
static const char *column_key(const tf_table_map *map, uint32_t i, char *buf, size_t cap)
{
    const tf_str *name = &map->columns[i].name;
    if (name->len > 0) {
        size_t n = name->len < cap - 1 ? name->len : cap - 1;
        memcpy(buf, name->ptr, n);
        buf[n] = '\0';
        return buf;
    }
    snprintf(buf, cap, "@%" PRIu32, i + 1);
    return buf;
}

/* ---- summary bookkeeping ------------------------------------------- */

static table_stats *table_entry(tool_state *st, const tf_table_map *map)
{
    for (size_t i = st->table_count; i > 0; i--) {
        table_stats *t = &st->tables[i - 1];
        size_t dl = map->database.len;
        if (strncmp(t->name, map->database.ptr, dl) == 0 && t->name[dl] == '.' &&
            strlen(t->name + dl + 1) == map->table.len &&
            memcmp(t->name + dl + 1, map->table.ptr, map->table.len) == 0)
            return t;
    }
    if (st->table_count == st->table_cap) {
        size_t cap = st->table_cap ? st->table_cap * 2 : 16;
        table_stats *p = realloc(st->tables, cap * sizeof *p);
        if (p == NULL)
            return NULL;
        st->tables = p;
        st->table_cap = cap;
    }
    table_stats *t = &st->tables[st->table_count];
    memset(t, 0, sizeof *t);
    size_t n = map->database.len + 1 + map->table.len;
    t->name = malloc(n + 1);
    if (t->name == NULL)
        return NULL;
    memcpy(t->name, map->database.ptr, map->database.len);
    t->name[map->database.len] = '.';
    memcpy(t->name + map->database.len + 1, map->table.ptr, map->table.len);
    t->name[n] = '\0';
    st->table_count++;
    return t;
}

/* ---- values ---------------------------------------------------------- */

static bool is_zero_date(const tf_value *v)
{
    return (v->kind == TF_VAL_DATE || v->kind == TF_VAL_DATETIME) &&
           (v->temporal.year == 0 || v->temporal.month == 0 || v->temporal.day == 0);
}

static bool is_bytes_kind(tf_value_kind k)
{
    return k == TF_VAL_STRING || k == TF_VAL_BYTES || k == TF_VAL_JSON || k == TF_VAL_GEOMETRY ||
           k == TF_VAL_VECTOR;
}

/* Appends a JSON_DIFF after-value: the diffs applied to the before image's
 * JSON when there is one, otherwise the diff list itself
 * ({"$jsonDiff": [{"op": "REPLACE", "path": "$.a", "value": ...}]}). */
static tf_status append_json_diff(bson_t *doc, const char *key, const tf_value *v,
                                  const bson_t *before_doc, tf_error *err)
{
    size_t key_len = strlen(key);
    if (before_doc != NULL) {
        bson_t applied;
        bson_init(&applied);
        tf_error apply_err = {0};
        if (tf_json_diff_apply_bson(before_doc, key, key_len, v->bytes.ptr, v->bytes.len, &applied,
                                    &apply_err) == TF_OK) {
            bson_iter_t it;
            if (bson_iter_init_find(&it, &applied, key))
                bson_append_iter(doc, key, (int)key_len, &it);
            bson_destroy(&applied);
            return TF_OK;
        }
        bson_destroy(&applied);
    }
    static const char *const op_names[] = {"REPLACE", "INSERT", "REMOVE"};
    bson_t wrapper, list;
    bson_append_document_begin(doc, key, (int)key_len, &wrapper);
    bson_append_array_begin(&wrapper, "$jsonDiff", 9, &list);
    size_t pos = 0;
    tf_status status = TF_OK;
    for (uint32_t i = 0; pos < v->bytes.len; i++) {
        tf_json_diff diff;
        status = tf_json_diff_next(v->bytes.ptr, v->bytes.len, &pos, &diff, err);
        if (status != TF_OK)
            break;
        char idx[16];
        int idx_len = snprintf(idx, sizeof idx, "%" PRIu32, i);
        bson_t item;
        bson_append_document_begin(&list, idx, idx_len, &item);
        bson_append_utf8(&item, "op", 2, op_names[diff.op <= 2 ? diff.op : 0], -1);
        bson_append_utf8(&item, "path", 4, diff.path.ptr, (int)diff.path.len);
        if (diff.value != NULL)
            status = tf_json_binary_append_bson(&item, "value", 5, diff.value, diff.value_len, err);
        bson_append_document_end(&list, &item);
        if (status != TF_OK)
            break;
    }
    bson_append_array_end(&wrapper, &list);
    bson_append_document_end(doc, &wrapper);
    return status;
}

/* Column i's value in a row image as a BSON element under the DESIGN.md
 * type mapping, with one difference made for people reading the output:
 * zero dates (which a BSON date cannot hold and tapflow writes as null) are
 * shown as the string SELECT shows, so "0000-00-00" and NULL stay
 * distinct. */
static tf_status value_to_bson(const tf_table_map *map, uint32_t i, const tf_value *v, bson_t *doc,
                               const bson_t *before_doc, tf_error *err)
{
    char keybuf[KEY_MAX];
    const tf_column *col = &map->columns[i];
    /* the name as the map holds it when it has one (no copy, no
     * strlen per value: both showed in the profile) */
    bool named =
        col->name.len > 0 && col->name.len < KEY_MAX && !memchr(col->name.ptr, 0, col->name.len);
    const char *key = named ? col->name.ptr : column_key(map, i, keybuf, sizeof keybuf);
    size_t key_len = named ? col->name.len : strlen(key);
    tf_status status;
    if (v->kind == TF_VAL_JSON_DIFF) {
        key = column_key(map, i, keybuf, sizeof keybuf);
        status = append_json_diff(doc, key, v, before_doc, err);
    } else if (is_zero_date(v) || (v->kind == TF_VAL_TIMESTAMP && v->timestamp.seconds == 0 &&
                                   v->timestamp.microsecond == 0)) {
        char text[64];
        tf_temporal zero;
        const tf_temporal *t = &v->temporal;
        tf_value_kind kind = v->kind;
        if (v->kind == TF_VAL_TIMESTAMP) {
            memset(&zero, 0, sizeof zero);
            zero.fsp = v->timestamp.fsp;
            t = &zero;
            kind = TF_VAL_DATETIME;
        }
        size_t n = tf_temporal_format(t, kind, text, sizeof text);
        bson_append_utf8(doc, key, (int)key_len, text, (int)n);
        status = TF_OK;
    } else {
        status = tf_value_append_bson(doc, key, key_len, v, col, err);
        if (status != TF_OK && err->domain == TF_ERR_UNSUPPORTED && is_bytes_kind(v->kind)) {
            /* A charset we do not convert: show the bytes rather than
             * stop (tapflow itself refuses such columns). */
            bson_append_binary(doc, key, (int)key_len, BSON_SUBTYPE_BINARY, v->bytes.ptr,
                               (uint32_t)v->bytes.len);
            status = TF_OK;
        }
    }
    if (status != TF_OK)
        tf_error_prefix(err, "column %s (%s)", column_key(map, i, keybuf, sizeof keybuf),
                        column_type_name(col->type));
    return status;
}

/* One row image as a BSON document (value_to_bson for each column
 * present). */
static tf_status image_to_bson(const tf_table_map *map, const tf_value *values, bson_t *doc,
                               const bson_t *before_doc, tf_error *err)
{
    for (uint32_t i = 0; i < map->column_count; i++) {
        if (values[i].kind == TF_VAL_ABSENT)
            continue;
        tf_status status = value_to_bson(map, i, &values[i], doc, before_doc, err);
        if (status != TF_OK)
            return status;
    }
    return TF_OK;
}

/* The JSON keys of a table's columns, ("name": each), rendered once per
 * rows event into st->keys: key i is keys.data[key_end[i - 1] ..
 * key_end[i]). The text is what out_bson writes for the key value_to_bson
 * gives. */
static bool render_keys(tool_state *st, const tf_table_map *map)
{
    char keybuf[KEY_MAX];
    if (map->column_count > st->key_cap) {
        size_t *p = realloc(st->key_end, map->column_count * sizeof *p);
        if (p == NULL)
            return false;
        st->key_end = p;
        st->key_cap = map->column_count;
    }
    st->keys.len = 0;
    for (uint32_t i = 0; i < map->column_count; i++) {
        const char *key = column_key(map, i, keybuf, sizeof keybuf);
        out_json_string(&st->keys, key, strlen(key));
        out_char(&st->keys, ':');
        st->key_end[i] = st->keys.len;
    }
    return !st->keys.failed;
}

/* One row image as JSON text: out_value_json for the values it handles,
 * value_to_bson and out_bson_value for the others, the same text as
 * image_to_bson then out_bson. The image holds no JSON diff (those need
 * the before image's document). */
static tf_status write_image_json(tool_state *st, const tf_table_map *map, const tf_value *values,
                                  tf_error *err)
{
    out_buf *o = &st->out;
    bool first = true;
    out_char(o, '{');
    for (uint32_t i = 0; i < map->column_count; i++) {
        const tf_value *v = &values[i];
        if (v->kind == TF_VAL_ABSENT)
            continue;
        if (!first)
            out_char(o, ',');
        first = false;
        size_t key_start = i ? st->key_end[i - 1] : 0;
        out_bytes(o, st->keys.data + key_start, st->key_end[i] - key_start);
        if (out_value_json(o, v, &map->columns[i]))
            continue;
        bson_reinit(&st->scratch);
        tf_status status = value_to_bson(map, i, v, &st->scratch, NULL, err);
        if (status != TF_OK)
            return status;
        bson_iter_t it;
        if (bson_iter_init(&it, &st->scratch) && bson_iter_next(&it))
            out_bson_value(o, &it);
    }
    out_char(o, '}');
    return TF_OK;
}

static bool has_json_diff(const tf_table_map *map, const tf_value *values)
{
    for (uint32_t i = 0; i < map->column_count; i++)
        if (values[i].kind == TF_VAL_JSON_DIFF)
            return true;
    return false;
}

/* --text-values: each value as SELECT prints it (a JSON string), NULL as
 * null. */
static tf_status write_image_text(tool_state *st, const tf_table_map *map, const tf_value *values,
                                  tf_error *err)
{
    char keybuf[KEY_MAX];
    bool first = true;
    out_char(&st->out, '{');
    for (uint32_t i = 0; i < map->column_count; i++) {
        const tf_value *v = &values[i];
        if (v->kind == TF_VAL_ABSENT)
            continue;
        out_key(&st->out, column_key(map, i, keybuf, sizeof keybuf), first);
        first = false;
        size_t n = 0;
        tf_error value_err = {0};
        char *text = tf_value_to_text(v, &map->columns[i], &n, &value_err);
        if (text != NULL) {
            out_json_string(&st->out, text, n);
            bson_free(text);
        } else if (value_err.domain != TF_ERR_NONE) {
            *err = value_err;
            tf_error_prefix(err, "column %s", column_key(map, i, keybuf, sizeof keybuf));
            return TF_MALFORMED;
        } else {
            out_cstr(&st->out, "null");
        }
    }
    out_char(&st->out, '}');
    return TF_OK;
}

/* --verify-only: what printing would decode beyond tf_rows_next, i.e. the
 * JSON documents and diffs. */
static tf_status verify_image(tool_state *st, const tf_table_map *map, const tf_value *values,
                              tf_error *err)
{
    for (uint32_t i = 0; i < map->column_count; i++) {
        const tf_value *v = &values[i];
        if (v->kind == TF_VAL_JSON) {
            bson_reinit(&st->scratch);
            tf_status s =
                tf_json_binary_append_bson(&st->scratch, "v", 1, v->bytes.ptr, v->bytes.len, err);
            if (s != TF_OK)
                return s;
        } else if (v->kind == TF_VAL_JSON_DIFF) {
            size_t pos = 0;
            while (pos < v->bytes.len) {
                tf_json_diff diff;
                tf_status s = tf_json_diff_next(v->bytes.ptr, v->bytes.len, &pos, &diff, err);
                if (s != TF_OK)
                    return s;
            }
        }
    }
    return TF_OK;
}

/* ---- event lines ------------------------------------------------------ */

static bool printing_events(const tool_state *st)
{
    return !st->opt->summary && !st->opt->verify_only;
}

static bool printing_rows(const tool_state *st)
{
    return printing_events(st) && !st->opt->events_only && !st->opt->no_rows;
}

static void begin_event_line(tool_state *st, const tf_event *ev, uint64_t pos, uint64_t next_pos,
                             bool inner, size_t inner_offset)
{
    out_buf *o = &st->out;
    out_cstr(o, "{\"type\":");
    out_json_string(o, tf_event_type_name(ev->header.type),
                    strlen(tf_event_type_name(ev->header.type)));
    if (ev->kind == TF_EVENT_OTHER && strcmp(tf_event_type_name(ev->header.type), "UNKNOWN") == 0) {
        out_cstr(o, ",\"type_code\":");
        out_u64(o, ev->header.type);
    }
    out_cstr(o, ",\"pos\":");
    out_u64(o, pos);
    out_cstr(o, ",\"next_pos\":");
    out_u64(o, next_pos);
    if (inner) {
        out_cstr(o, ",\"inner\":true,\"inner_offset\":");
        out_u64(o, inner_offset);
    }
    out_cstr(o, ",\"timestamp\":");
    out_u64(o, ev->header.timestamp);
    out_cstr(o, ",\"server_id\":");
    out_u64(o, ev->header.server_id);
}

static void out_str_field(out_buf *o, const char *key, const char *s, size_t n)
{
    out_key(o, key, false);
    out_json_string(o, s, n);
}

static void out_u64_field(out_buf *o, const char *key, uint64_t v)
{
    out_key(o, key, false);
    out_u64(o, v);
}

static void format_mysql_gtid(const tf_gtid_event *g, char *buf, size_t cap)
{
    if (g->anonymous) {
        snprintf(buf, cap, "ANONYMOUS");
        return;
    }
    char uuid[TF_GTID_UUID_TEXT_LEN + 1];
    tf_gtid_uuid_format(g->sid, uuid);
    if (g->tag[0] != '\0')
        snprintf(buf, cap, "%s:%s:%" PRIu64, uuid, g->tag, g->gno);
    else
        snprintf(buf, cap, "%s:%" PRIu64, uuid, g->gno);
}

static void format_mariadb_gtid(uint32_t domain, uint32_t server, uint64_t seq, char *buf,
                                size_t cap)
{
    snprintf(buf, cap, "%" PRIu32 "-%" PRIu32 "-%" PRIu64, domain, server, seq);
}

/* The kind-specific fields of one event line. Returns non-zero on a fatal
 * error (already reported). */
static int write_event_fields(tool_state *st, const tf_event *ev)
{
    out_buf *o = &st->out;
    char buf[200];
    switch (ev->kind) {
    case TF_EVENT_FORMAT_DESCRIPTION: {
        const tf_format *f = &ev->format_description;
        out_u64_field(o, "binlog_version", f->binlog_version);
        out_str_field(o, "server_version", f->server_version, strlen(f->server_version));
        out_str_field(o, "flavour", f->flavour == TF_FLAVOUR_MARIADB ? "mariadb" : "mysql",
                      f->flavour == TF_FLAVOUR_MARIADB ? 7 : 5);
        const char *alg = f->checksum_alg == TF_CHECKSUM_CRC32 ? "crc32"
                          : f->checksum_alg == TF_CHECKSUM_OFF ? "off"
                                                               : "undefined";
        out_str_field(o, "checksum", alg, strlen(alg));
        out_u64_field(o, "created", f->create_timestamp);
        break;
    }
    case TF_EVENT_ROTATE:
        out_str_field(o, "next_file", ev->rotate.next_file.ptr, ev->rotate.next_file.len);
        out_u64_field(o, "position", ev->rotate.position);
        break;
    case TF_EVENT_QUERY: {
        const tf_query_event *q = &ev->query;
        out_u64_field(o, "thread_id", q->thread_id);
        out_u64_field(o, "exec_time", q->exec_time);
        if (q->error_code)
            out_u64_field(o, "error_code", q->error_code);
        out_str_field(o, "db", q->database.ptr, q->database.len);
        if (q->compressed) {
            uint8_t *text = NULL;
            size_t len = 0;
            tf_error err = {0};
            if (tf_query_uncompress(q, MAX_UNCOMPRESSED_PAYLOAD, &text, &len, &err) != TF_OK) {
                report(st, "QUERY_COMPRESSED: ", &err);
                return 1;
            }
            out_str_field(o, "query", (const char *)text, len);
            free(text);
        } else {
            out_str_field(o, "query", q->statement.ptr, q->statement.len);
        }
        break;
    }
    case TF_EVENT_XID: out_u64_field(o, "xid", ev->xid); break;
    case TF_EVENT_INTVAR:
        out_str_field(o, "variable", ev->intvar.type == 1 ? "LAST_INSERT_ID" : "INSERT_ID",
                      ev->intvar.type == 1 ? 14 : 9);
        out_u64_field(o, "value", ev->intvar.value);
        break;
    case TF_EVENT_RAND:
        out_u64_field(o, "seed1", ev->rand.seed1);
        out_u64_field(o, "seed2", ev->rand.seed2);
        break;
    case TF_EVENT_USER_VAR:
        out_str_field(o, "name", ev->user_var.name.ptr, ev->user_var.name.len);
        out_key(o, "is_null", false);
        out_cstr(o, ev->user_var.is_null ? "true" : "false");
        break;
    case TF_EVENT_TABLE_MAP: {
        const tf_table_map *map = tf_table_maps_get(st->maps, ev->table_map.table_id);
        out_u64_field(o, "table_id", ev->table_map.table_id);
        out_str_field(o, "db", ev->table_map.database.ptr, ev->table_map.database.len);
        out_str_field(o, "table", ev->table_map.table.ptr, ev->table_map.table.len);
        if (map == NULL)
            break;
        out_key(o, "columns", false);
        out_char(o, '[');
        for (uint32_t i = 0; i < map->column_count; i++) {
            const tf_column *c = &map->columns[i];
            char keybuf[KEY_MAX];
            const char *name = column_key(map, i, keybuf, sizeof keybuf);
            if (i)
                out_char(o, ',');
            out_cstr(o, "{\"name\":");
            out_json_string(o, name, strlen(name));
            out_str_field(o, "type", column_type_name(c->type), strlen(column_type_name(c->type)));
            out_u64_field(o, "meta", c->meta);
            out_key(o, "nullable", false);
            out_cstr(o, c->nullable ? "true" : "false");
            if (c->is_unsigned)
                out_cstr(o, ",\"unsigned\":true");
            if (c->is_primary_key)
                out_cstr(o, ",\"primary_key\":true");
            if (c->charset)
                out_u64_field(o, "charset", c->charset);
            if (c->enum_set_count) {
                out_key(o, "values", false);
                out_char(o, '[');
                for (uint32_t k = 0; k < c->enum_set_count; k++) {
                    if (k)
                        out_char(o, ',');
                    out_json_string(o, c->enum_set_values[k].ptr, c->enum_set_values[k].len);
                }
                out_char(o, ']');
            }
            out_char(o, '}');
        }
        out_char(o, ']');
        break;
    }
    case TF_EVENT_GTID:
        format_mysql_gtid(&ev->gtid, buf, sizeof buf);
        out_str_field(o, "gtid", buf, strlen(buf));
        if (ev->gtid.has_logical_clock) {
            out_u64_field(o, "last_committed", ev->gtid.last_committed);
            out_u64_field(o, "sequence_number", ev->gtid.sequence_number);
        }
        if (ev->gtid.has_commit_timestamps)
            out_u64_field(o, "immediate_commit_timestamp", ev->gtid.immediate_commit_timestamp);
        if (ev->gtid.has_transaction_length)
            out_u64_field(o, "transaction_length", ev->gtid.transaction_length);
        break;
    case TF_EVENT_MARIADB_GTID: {
        const tf_mariadb_gtid_event *g = &ev->mariadb_gtid;
        format_mariadb_gtid(g->domain_id, ev->header.server_id, g->seq_no, buf, sizeof buf);
        out_str_field(o, "gtid", buf, strlen(buf));
        out_u64_field(o, "flags", g->flags2);
        if (g->has_commit_id)
            out_u64_field(o, "commit_id", g->commit_id);
        break;
    }
    case TF_EVENT_PREVIOUS_GTIDS: {
        tf_gtid_set *set = NULL;
        tf_error err = {0};
        if (tf_gtid_set_decode_binary(ev->previous_gtids.data, ev->previous_gtids.data_len, &set,
                                      &err) != TF_OK) {
            report(st, "PREVIOUS_GTIDS: ", &err);
            return 1;
        }
        char *text = tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT);
        if (text != NULL)
            out_str_field(o, "gtid_set", text, strlen(text));
        free(text);
        tf_gtid_set_destroy(set);
        break;
    }
    case TF_EVENT_MARIADB_GTID_LIST: {
        out_key(o, "gtids", false);
        out_char(o, '[');
        for (uint32_t i = 0; i < ev->mariadb_gtid_list.count; i++) {
            tf_mariadb_gtid g;
            tf_mariadb_gtid_list_get(&ev->mariadb_gtid_list, i, &g);
            format_mariadb_gtid(g.domain_id, g.server_id, g.seq_no, buf, sizeof buf);
            if (i)
                out_char(o, ',');
            out_json_string(o, buf, strlen(buf));
        }
        out_char(o, ']');
        break;
    }
    case TF_EVENT_MARIADB_BINLOG_CHECKPOINT:
        out_str_field(o, "file", ev->binlog_checkpoint_file.ptr, ev->binlog_checkpoint_file.len);
        break;
    case TF_EVENT_ROWS_QUERY:
        out_str_field(o, "query", ev->rows_query.ptr, ev->rows_query.len);
        break;
    case TF_EVENT_HEARTBEAT:
        out_str_field(o, "log_file", ev->heartbeat.log_file.ptr, ev->heartbeat.log_file.len);
        out_u64_field(o, "log_pos", ev->heartbeat.log_pos);
        break;
    case TF_EVENT_TRANSACTION_PAYLOAD: {
        const char *c = ev->payload.compression_type == TF_PAYLOAD_COMPRESSION_ZSTD   ? "zstd"
                        : ev->payload.compression_type == TF_PAYLOAD_COMPRESSION_NONE ? "none"
                                                                                      : "unknown";
        out_str_field(o, "compression", c, strlen(c));
        out_u64_field(o, "payload_size", ev->payload.payload_size);
        out_u64_field(o, "uncompressed_size", ev->payload.uncompressed_size);
        break;
    }
    default: break;
    }
    return 0;
}

/* ---- rows ---------------------------------------------------------------- */

static bool ensure_values(tool_state *st, size_t columns)
{
    if (columns <= st->values_cap)
        return true;
    size_t cap = columns < 64 ? 64 : columns;
    tf_value *b = realloc(st->before, cap * sizeof *b);
    if (b == NULL)
        return false;
    st->before = b;
    tf_value *a = realloc(st->after, cap * sizeof *a);
    if (a == NULL)
        return false;
    st->after = a;
    st->values_cap = cap;
    return true;
}

static const char *op_name(tf_rows_kind kind)
{
    switch (kind) {
    case TF_ROWS_WRITE: return "insert";
    case TF_ROWS_DELETE: return "delete";
    default: return "update";
    }
}

/* The start of every row line of a rows event, up to the images
 * ({"op":..,"db":..,"table":..,"gtid":..,"pos":..[,"inner":true]
 * [,"before_partial":true][,"after_partial":true]): the same for all its
 * rows, rendered once into st->row_prefix. */
static void render_row_prefix(tool_state *st, const tf_event *ev, const tf_table_map *map,
                              uint64_t pos, bool inner)
{
    const tf_rows_event *rows = &ev->rows;
    out_buf *o = &st->row_prefix;
    o->len = 0;
    out_cstr(o, "{\"op\":\"");
    out_cstr(o, op_name(rows->kind));
    out_char(o, '"');
    out_str_field(o, "db", map->database.ptr, map->database.len);
    out_str_field(o, "table", map->table.ptr, map->table.len);
    out_key(o, "gtid", false);
    if (st->gtid[0])
        out_json_string(o, st->gtid, strlen(st->gtid));
    else
        out_cstr(o, "null");
    out_u64_field(o, "pos", pos);
    if (inner)
        out_cstr(o, ",\"inner\":true");
    if (rows->kind != TF_ROWS_WRITE && !rows->before_image_full)
        out_cstr(o, ",\"before_partial\":true");
    if (rows->kind != TF_ROWS_DELETE && !rows->after_image_full)
        out_cstr(o, ",\"after_partial\":true");
}

static int write_row_line(tool_state *st, const tf_event *ev, const tf_table_map *map,
                          tf_error *err)
{
    const tf_rows_event *rows = &ev->rows;
    out_buf *o = &st->out;
    size_t line_start = o->len;
    out_bytes(o, st->row_prefix.data, st->row_prefix.len);
    bool has_before = rows->kind != TF_ROWS_WRITE;
    bool has_after = rows->kind != TF_ROWS_DELETE;

    tf_status status = TF_OK;
    if (st->opt->text_values) {
        if (has_before) {
            out_key(o, "before", false);
            status = write_image_text(st, map, st->before, err);
        }
        if (status == TF_OK && has_after) {
            out_key(o, "after", false);
            status = write_image_text(st, map, st->after, err);
        }
    } else if (!(has_after && has_json_diff(map, st->after))) {
        if (has_before) {
            out_bytes(o, ",\"before\":", 10);
            status = write_image_json(st, map, st->before, err);
        }
        if (status == TF_OK && has_after) {
            out_bytes(o, ",\"after\":", 9);
            status = write_image_json(st, map, st->after, err);
        }
    } else {
        /* A partial JSON update: its diffs apply to the before image's
         * document. */
        bson_t before, after;
        bson_init(&before);
        bson_init(&after);
        if (has_before) {
            status = image_to_bson(map, st->before, &before, NULL, err);
            if (status == TF_OK) {
                out_key(o, "before", false);
                out_bson(o, &before, false);
            }
        }
        if (status == TF_OK && has_after) {
            status = image_to_bson(map, st->after, &after, has_before ? &before : NULL, err);
            if (status == TF_OK) {
                out_key(o, "after", false);
                out_bson(o, &after, false);
            }
        }
        bson_destroy(&before);
        bson_destroy(&after);
    }
    if (status != TF_OK) {
        o->len = line_start; /* no half line before the error message */
        return 1;
    }
    out_bytes(o, "}\n", 2);
    return 0;
}

static int handle_rows(tool_state *st, const tf_event *ev, uint64_t pos, uint64_t next_pos,
                       bool inner, size_t inner_offset)
{
    tf_error err = {0};
    const tf_table_map *map = NULL;
    if (tf_table_maps_find(st->maps, ev, &map, &err) != TF_OK) {
        /* Starting inside a transaction (a position or GTID the user chose)
         * leaves rows events whose TABLE_MAP came earlier: say so, go on. */
        if (st->opt->start_position > 4 || st->opt->start_gtid != NULL) {
            st->errors++;
            char what[96];
            snprintf(what, sizeof what, "warning: skipping rows event at offset %" PRIu64 ": ",
                     pos);
            report(st, what, &err);
            return 0;
        }
        char what[64];
        snprintf(what, sizeof what, "at offset %" PRIu64 ": ", pos);
        report(st, what, &err);
        return 1;
    }
    table_stats *ts = table_entry(st, map);
    if (ts == NULL) {
        report(st, "out of memory", NULL);
        return 1;
    }
    ts->rows_events++;
    st->rows_events++;

    uint64_t count = 0;
    if (!st->opt->no_rows) {
        if (!ensure_values(st, map->column_count)) {
            report(st, "out of memory", NULL);
            return 1;
        }
        tf_rows_cursor cur;
        if (tf_rows_begin(&cur, ev, map, &err) != TF_OK) {
            char what[64];
            snprintf(what, sizeof what, "at offset %" PRIu64 ": ", pos);
            report(st, what, &err);
            return 1;
        }
        bool rows_out = printing_rows(st);
        /* --verify-only decodes JSON documents beyond tf_rows_next: only a
         * JSON column holds them (walking every value of every image to
         * find none was 7% of the mode's time). */
        bool verify_json = false;
        for (uint32_t i = 0; i < map->column_count && st->opt->verify_only; i++)
            verify_json |= map->columns[i].type == TF_TYPE_JSON;
        if (rows_out) {
            render_row_prefix(st, ev, map, pos, inner);
            if (!st->opt->text_values && !render_keys(st, map)) {
                tf_rows_cleanup(&cur);
                report(st, "out of memory", NULL);
                return 1;
            }
        }
        /* Without a row to print or JSON to check nothing reads the values
         * (--verify-only, --summary): tf_rows_next then validates the
         * images without decoding them. */
        bool keep_values = rows_out || verify_json;
        tf_value *before = keep_values ? st->before : NULL;
        tf_value *after = keep_values ? st->after : NULL;
        int rc = 0;
        while (tf_rows_has_next(&cur)) {
            if (tf_rows_next(&cur, before, after, &err) != TF_OK) {
                rc = 1;
                break;
            }
            count++;
            if (rows_out) {
                if (write_row_line(st, ev, map, &err) != 0) {
                    rc = 1;
                    break;
                }
                out_flush_if(&st->out, FLUSH_THRESHOLD);
            } else if (verify_json) {
                const tf_value *images[2] = {st->before, st->after};
                for (int k = 0; k < 2 && rc == 0; k++)
                    if (verify_image(st, map, images[k], &err) != TF_OK)
                        rc = 1;
                if (rc)
                    break;
            }
        }
        tf_rows_cleanup(&cur);
        if (rc) {
            char what[96];
            snprintf(what, sizeof what, "at offset %" PRIu64 ": row %" PRIu64 " of %s.%s: ", pos,
                     count + 1, map->database.ptr, map->table.ptr);
            report(st, what, &err);
            return 1;
        }
        st->rows += count;
        if (ev->rows.kind == TF_ROWS_WRITE)
            ts->inserts += count;
        else if (ev->rows.kind == TF_ROWS_DELETE)
            ts->deletes += count;
        else
            ts->updates += count;
    }

    if (printing_events(st) && (st->opt->events_only || st->opt->no_rows)) {
        begin_event_line(st, ev, pos, next_pos, inner, inner_offset);
        out_buf *o = &st->out;
        out_u64_field(o, "table_id", ev->rows.table_id);
        out_str_field(o, "db", map->database.ptr, map->database.len);
        out_str_field(o, "table", map->table.ptr, map->table.len);
        out_str_field(o, "op", op_name(ev->rows.kind), strlen(op_name(ev->rows.kind)));
        out_u64_field(o, "flags", ev->rows.flags);
        if (!st->opt->no_rows)
            out_u64_field(o, "rows", count);
        out_cstr(o, "}\n");
    }
    return 0;
}

/* ---- events ---------------------------------------------------------------- */

static int handle_event(tool_state *st, const tf_event *ev, const tf_format *fmt, uint64_t pos,
                        uint64_t next_pos, bool inner, size_t inner_offset);

static int handle_payload(tool_state *st, const tf_event *ev, const tf_format *fmt, uint64_t pos,
                          uint64_t next_pos)
{
    tf_payload_iter it;
    tf_error err = {0};
    char what[64];
    snprintf(what, sizeof what, "at offset %" PRIu64 ": TRANSACTION_PAYLOAD: ", pos);
    if (tf_payload_iter_init(&it, ev, fmt, MAX_UNCOMPRESSED_PAYLOAD, &err) != TF_OK) {
        report(st, what, &err);
        return 1;
    }
    int rc = 0;
    while (rc == 0 && tf_payload_iter_has_next(&it)) {
        size_t inner_offset = it.pos;
        tf_event inner;
        if (tf_payload_iter_next(&it, &inner, &err) != TF_OK) {
            report(st, what, &err);
            rc = 1;
            break;
        }
        rc = handle_event(st, &inner, &it.inner_format, pos, next_pos, true, inner_offset);
    }
    tf_payload_iter_cleanup(&it);
    return rc;
}

/* A GTID event starts a transaction: update the context, and apply
 * --start-gtid / --stop-after-gtid. */
static void gtid_boundary(tool_state *st, const tf_event *ev)
{
    char next[sizeof st->gtid];
    if (ev->kind == TF_EVENT_GTID)
        format_mysql_gtid(&ev->gtid, next, sizeof next);
    else
        format_mariadb_gtid(ev->mariadb_gtid.domain_id, ev->header.server_id,
                            ev->mariadb_gtid.seq_no, next, sizeof next);
    if (st->opt->stop_after_gtid != NULL && st->selecting &&
        strcmp(st->gtid, st->opt->stop_after_gtid) == 0) {
        st->stopping = true;
        return;
    }
    memcpy(st->gtid, next, sizeof next);
    if (!st->selecting && strcmp(next, st->opt->start_gtid) == 0)
        st->selecting = true;
}

static int handle_event(tool_state *st, const tf_event *ev, const tf_format *fmt, uint64_t pos,
                        uint64_t next_pos, bool inner, size_t inner_offset)
{
    tf_error err = {0};
    if (ev->kind == TF_EVENT_GTID || ev->kind == TF_EVENT_MARIADB_GTID) {
        gtid_boundary(st, ev);
        if (st->stopping)
            return 0;
    }
    /* Table maps are kept even outside the selected range: a selected rows
     * event may need one. */
    if (ev->kind == TF_EVENT_TABLE_MAP) {
        if (tf_table_maps_add_event(st->maps, ev, &err) != TF_OK) {
            char what[64];
            snprintf(what, sizeof what, "at offset %" PRIu64 ": ", pos);
            report(st, what, &err);
            return 1;
        }
    }
    if (!st->selecting)
        return 0;

    st->events++;
    if (inner)
        st->inner_events++;
    else
        st->bytes += next_pos - pos;
    st->events_by_type[ev->header.type]++;
    if (ev->kind == TF_EVENT_GTID || ev->kind == TF_EVENT_MARIADB_GTID)
        st->gtid_events++;
    if (ev->kind == TF_EVENT_XID)
        st->xid_events++;

    if (ev->kind == TF_EVENT_ROWS)
        return handle_rows(st, ev, pos, next_pos, inner, inner_offset);

    if (printing_events(st)) {
        size_t line_start = st->out.len;
        begin_event_line(st, ev, pos, next_pos, inner, inner_offset);
        if (write_event_fields(st, ev) != 0) {
            st->out.len = line_start;
            return 1;
        }
        out_cstr(&st->out, "}\n");
    }
    if (ev->kind == TF_EVENT_TRANSACTION_PAYLOAD)
        return handle_payload(st, ev, fmt, pos, next_pos);
    return 0;
}

int tool_decode_event(tool_state *st, const char *log_file, const tf_event *ev,
                      const tf_format *fmt, uint64_t pos, uint64_t next_pos)
{
    st->file = log_file;
    return handle_event(st, ev, fmt, pos, next_pos, false, 0);
}

int tool_decode_file(tool_state *st, const char *path, const uint8_t *buf, size_t len)
{
    tf_binlog_reader reader;
    tf_error err = {0};
    st->file = path;
    st->gtid[0] = '\0';
    tf_table_maps_clear(st->maps);
    if (tf_binlog_reader_init(&reader, buf, len, &err) != TF_OK) {
        report(st, "", &err);
        return 1;
    }
    uint64_t start = st->first_file ? st->opt->start_position : 0;
    uint64_t stop = st->last_file ? st->opt->stop_position : 0;
    if (start > len) {
        fprintf(stderr,
                "tapflow-binlog: %s: --start-position %" PRIu64
                " is past the end of the file (%zu bytes)\n",
                path, start, len);
        return 1;
    }
    /* --start-position: the FORMAT_DESCRIPTION at the start of the file is
     * read first (it says how to read everything after it), then the reader
     * jumps to the position, which must be the start of an event. */
    bool just_jumped = false;
    while (!tf_binlog_reader_at_end(&reader) && !st->stopping) {
        if (stop != 0 && reader.pos >= stop)
            break;
        tf_event ev;
        tf_status status = tf_binlog_reader_next(&reader, &ev, &err);
        if (status == TF_NEED_MORE) {
            report(st, "file ends inside an event (truncated, or still being written): ", &err);
            if (just_jumped)
                fprintf(stderr,
                        "tapflow-binlog: (is --start-position %" PRIu64
                        " the start of an event?)\n",
                        start);
            return 1;
        }
        if (status != TF_OK) {
            const char *what =
                err.domain == TF_ERR_UNSUPPORTED ? "unsupported binlog: " : "malformed event: ";
            report(st, what, &err);
            if (just_jumped)
                fprintf(stderr,
                        "tapflow-binlog: (is --start-position %" PRIu64
                        " the start of an event?)\n",
                        start);
            return 1;
        }
        just_jumped = false;
        uint64_t pos = reader.event_offset, next_pos = reader.pos;
        if (pos >= start && handle_event(st, &ev, &reader.fmt, pos, next_pos, false, 0) != 0)
            return 1;
        if (reader.pos < start) {
            reader.pos = (size_t)start;
            just_jumped = true;
        }
        out_flush_if(&st->out, FLUSH_THRESHOLD);
    }
    out_flush(&st->out);
    return 0;
}

void tool_print_summary(tool_state *st)
{
    out_buf *o = &st->out;
    out_cstr(o, "{\"type\":\"SUMMARY\"");
    out_u64_field(o, "bytes", st->bytes);
    out_u64_field(o, "events", st->events);
    out_u64_field(o, "inner_events", st->inner_events);
    out_u64_field(o, "rows_events", st->rows_events);
    if (!st->opt->no_rows)
        out_u64_field(o, "rows", st->rows);
    out_u64_field(o, "transactions", st->gtid_events ? st->gtid_events : st->xid_events);
    out_u64_field(o, "errors", st->errors);
    out_key(o, "events_by_type", false);
    out_char(o, '{');
    bool first = true;
    for (unsigned t = 0; t < 256; t++) {
        if (st->events_by_type[t] == 0)
            continue;
        const char *name = tf_event_type_name((uint8_t)t);
        char code[24];
        if (strcmp(name, "UNKNOWN") == 0) {
            snprintf(code, sizeof code, "UNKNOWN_%u", t);
            name = code;
        }
        out_key(o, name, first);
        first = false;
        out_u64(o, st->events_by_type[t]);
    }
    out_char(o, '}');
    out_key(o, "tables", false);
    out_char(o, '{');
    for (size_t i = 0; i < st->table_count; i++) {
        const table_stats *t = &st->tables[i];
        out_key(o, t->name, i == 0);
        out_cstr(o, "{\"rows_events\":");
        out_u64(o, t->rows_events);
        if (!st->opt->no_rows) {
            out_u64_field(o, "insert", t->inserts);
            out_u64_field(o, "update", t->updates);
            out_u64_field(o, "delete", t->deletes);
        }
        out_char(o, '}');
    }
    out_cstr(o, "}}\n");
    out_flush(o);
}
