/* snapshot_schema.c — a snapshot's tables described from
 * information_schema (COLUMNS, TABLES, COLLATIONS, the PRIMARY index): each
 * column as TABLE_MAP with binlog_row_metadata=FULL describes it, and how
 * its text is selected and read back. */
#include "snapshot_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool type_is(const char *t, const char *name) { return strcasecmp(t, name) == 0; }

/* ENUM / SET members from COLUMN_TYPE "enum('a','it''s')" into col. */
static bool parse_members(const char *column_type, tf_column *col)
{
    const char *p = strchr(column_type, '(');
    if (p == NULL)
        return false;
    p++;
    size_t cap = 8, count = 0;
    tf_str *vals = calloc(cap, sizeof *vals);
    if (vals == NULL)
        return false;
    while (*p == '\'') {
        p++;
        char *text = malloc(strlen(p) + 1);
        if (text == NULL)
            goto oom;
        size_t n = 0;
        for (; *p; p++) {
            if (*p == '\'' && p[1] == '\'') {
                text[n++] = '\'';
                p++;
            } else if (*p == '\'') {
                break;
            } else if (*p == '\\' && p[1]) {
                p++;
                text[n++] = *p;
            } else {
                text[n++] = *p;
            }
        }
        text[n] = '\0';
        if (*p == '\'')
            p++;
        if (count == cap) {
            tf_str *more = realloc(vals, 2 * cap * sizeof *vals);
            if (more == NULL) {
                free(text);
                goto oom;
            }
            vals = more;
            cap *= 2;
        }
        vals[count].ptr = text;
        vals[count].len = n;
        count++;
        if (*p == ',')
            p++;
    }
    col->enum_set_values = vals;
    col->enum_set_count = (uint32_t)count;
    return true;
oom:
    for (size_t i = 0; i < count; i++)
        free((char *)vals[i].ptr);
    free(vals);
    return false;
}

static uint32_t geometry_code(const char *t)
{
    static const char *const names[] = {
        "geometry",   "point",           "linestring",   "polygon",
        "multipoint", "multilinestring", "multipolygon", "geometrycollection"};
    for (uint32_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (type_is(t, names[i]))
            return i;
    return UINT32_MAX;
}

uint64_t snap_cell_u64(const tf_query *q, size_t row, size_t col)
{
    const char *v = tf_query_cell(q, row, col);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* One row of the COLUMNS query (see step_sql) into t's column i: the type,
 * meta and charset TABLE_MAP gives that column. */
static bool describe_column(tf_snapshot *s, snap_table *t, size_t row, size_t i)
{
    const tf_query *q = &s->query;
    tf_column *col = &t->columns[i];
    const char *name = tf_query_cell(q, row, 0);
    const char *type = tf_query_cell(q, row, 1);
    const char *column_type = tf_query_cell(q, row, 2);
    const char *charset_name = tf_query_cell(q, row, 8);
    if (name == NULL || type == NULL || column_type == NULL) {
        snap_fail(s, "information_schema.COLUMNS of %s.%s has an empty name or type", t->schema,
                  t->name);
        return false;
    }
    char *name_copy = strdup(name);
    if (name_copy == NULL)
        return false;
    col->name.ptr = name_copy;
    col->name.len = strlen(name_copy);
    const char *nullable = tf_query_cell(q, row, 3);
    col->nullable = nullable && strcasecmp(nullable, "YES") == 0;
    col->is_unsigned = strstr(column_type, "unsigned") != NULL;
    uint64_t precision = snap_cell_u64(q, row, 4), scale = snap_cell_u64(q, row, 5);
    uint64_t fsp = snap_cell_u64(q, row, 6), octets = snap_cell_u64(q, row, 7);
    col->charset = (uint16_t)snap_cell_u64(q, row, 9);
    if (charset_name != NULL && (t->charset_names[i] = strdup(charset_name)) == NULL)
        return false;
    uint32_t geom;
    if (type_is(type, "tinyint")) {
        col->type = TF_TYPE_TINY;
    } else if (type_is(type, "smallint")) {
        col->type = TF_TYPE_SHORT;
    } else if (type_is(type, "mediumint")) {
        col->type = TF_TYPE_INT24;
    } else if (type_is(type, "int") || type_is(type, "integer")) {
        col->type = TF_TYPE_LONG;
    } else if (type_is(type, "bigint")) {
        col->type = TF_TYPE_LONGLONG;
    } else if (type_is(type, "float")) {
        col->type = TF_TYPE_FLOAT;
        col->meta = 4;
        t->reads[i] = READ_FLOAT_AS_DOUBLE;
    } else if (type_is(type, "double") || type_is(type, "real")) {
        col->type = TF_TYPE_DOUBLE;
        col->meta = 8;
    } else if (type_is(type, "decimal") || type_is(type, "numeric")) {
        col->type = TF_TYPE_NEWDECIMAL;
        col->meta = (uint16_t)(precision << 8 | scale);
    } else if (type_is(type, "date")) {
        col->type = TF_TYPE_DATE;
    } else if (type_is(type, "datetime")) {
        col->type = TF_TYPE_DATETIME2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "timestamp")) {
        col->type = TF_TYPE_TIMESTAMP2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "time")) {
        col->type = TF_TYPE_TIME2;
        col->meta = (uint16_t)fsp;
    } else if (type_is(type, "year")) {
        col->type = TF_TYPE_YEAR;
    } else if (type_is(type, "char") || type_is(type, "binary")) {
        col->type = TF_TYPE_STRING;
        col->meta = (uint16_t)octets;
    } else if (type_is(type, "varchar") || type_is(type, "varbinary")) {
        col->type = TF_TYPE_VARCHAR;
        col->meta = (uint16_t)octets;
    } else if (type_is(type, "tinytext") || type_is(type, "tinyblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 1;
    } else if (type_is(type, "text") || type_is(type, "blob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 2;
    } else if (type_is(type, "mediumtext") || type_is(type, "mediumblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 3;
    } else if (type_is(type, "longtext") || type_is(type, "longblob")) {
        col->type = TF_TYPE_BLOB;
        col->meta = 4;
    } else if (type_is(type, "json")) {
        /* MySQL's JSON (MariaDB's JSON is a LONGTEXT and says so). */
        col->type = TF_TYPE_JSON;
        col->meta = 4;
    } else if (type_is(type, "enum") || type_is(type, "set")) {
        bool is_enum = type_is(type, "enum");
        if (!parse_members(column_type, col))
            return false;
        col->type = is_enum ? TF_TYPE_ENUM : TF_TYPE_SET;
        /* Storage bytes: ENUM 1 or 2; SET 1, 2, 3, 4 or 8 (as the server
         * stores them, and TABLE_MAP's meta says). */
        uint32_t n = col->enum_set_count, bytes = (n + 7) / 8;
        col->meta = (uint16_t)(is_enum      ? (n > 255 ? 2 : 1)
                               : bytes == 0 ? 1
                               : bytes > 4  ? 8
                                            : bytes);
    } else if (type_is(type, "bit")) {
        col->type = TF_TYPE_BIT;
        col->meta = (uint16_t)((precision / 8) << 8 | (precision % 8));
    } else if ((geom = geometry_code(type)) != UINT32_MAX) {
        col->type = TF_TYPE_GEOMETRY;
        col->meta = 4;
        col->geometry_type = geom;
    } else if (type_is(type, "uuid") || type_is(type, "inet6") || type_is(type, "inet4")) {
        /* MariaDB's plugin types travel in the binlog as BINARY(16/4). */
        col->type = TF_TYPE_STRING;
        col->meta = type_is(type, "inet4") ? 4 : 16;
        col->charset = TF_CHARSET_BINARY;
        t->reads[i] = READ_BINARY;
        free(t->charset_names[i]);
        t->charset_names[i] = NULL;
    } else {
        snap_fail(s,
                  "column %s.%s.%s has type %s, which the snapshot does not read (it cannot "
                  "give the values the binlog gives)",
                  t->schema, t->name, name, column_type);
        return false;
    }
    /* TABLE_MAP gives binary strings charset 63 and no charset to numbers,
     * temporals and BIT; COLLATIONS has no row for "binary". */
    bool character = col->type == TF_TYPE_STRING || col->type == TF_TYPE_VARCHAR ||
                     col->type == TF_TYPE_BLOB || col->type == TF_TYPE_ENUM ||
                     col->type == TF_TYPE_SET;
    if (character && charset_name == NULL)
        col->charset = TF_CHARSET_BINARY;
    if (!character)
        col->charset = 0;
    if (col->type == TF_TYPE_GEOMETRY)
        col->charset = TF_CHARSET_BINARY;
    return true;
}

bool snap_columns_result(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    const tf_query *q = &s->query;
    size_t n = q->result.rows;
    if (n == 0) {
        snap_fail(s, "table %s.%s does not exist (or this user may not see it)", t->schema,
                  t->name);
        return false;
    }
    const char *engine = tf_query_cell(q, 0, 10);
    if (engine == NULL ||
        !(strcasecmp(engine, "InnoDB") == 0 || strcasecmp(engine, "RocksDB") == 0)) {
        snap_fail(s,
                  "table %s.%s uses ENGINE=%s: a consistent snapshot needs a transactional engine "
                  "(InnoDB); ALTER TABLE ... ENGINE=InnoDB or leave it out of the flow",
                  t->schema, t->name, engine ? engine : "(a view?)");
        return false;
    }
    t->columns = calloc(n, sizeof *t->columns);
    t->reads = calloc(n, sizeof *t->reads);
    t->charset_names = calloc(n, sizeof *t->charset_names);
    if (t->columns == NULL || t->reads == NULL || t->charset_names == NULL)
        goto oom;
    t->column_count = n;
    for (size_t i = 0; i < n; i++) {
        if (!describe_column(s, t, i, i)) {
            if (!s->finished)
                goto oom;
            return false;
        }
    }
    return true;
oom:
    snap_fail(s, "out of memory reading the columns of %s.%s", t->schema, t->name);
    return false;
}

/* Whether a value of `kind` is one that col gives (on_row here, or a rows
 * event: integers are INT or UINT as the metadata said, strings STRING or
 * BYTES), for the key column types key_result accepts. */
static bool kind_fits(const tf_column *col, tf_value_kind kind)
{
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24:
    case TF_TYPE_LONG:
    case TF_TYPE_LONGLONG: return kind == TF_VAL_INT || kind == TF_VAL_UINT;
    case TF_TYPE_DOUBLE: return kind == TF_VAL_DOUBLE;
    case TF_TYPE_NEWDECIMAL: return kind == TF_VAL_DECIMAL;
    case TF_TYPE_DATE: return kind == TF_VAL_DATE;
    case TF_TYPE_DATETIME2: return kind == TF_VAL_DATETIME;
    case TF_TYPE_TIMESTAMP2: return kind == TF_VAL_TIMESTAMP;
    case TF_TYPE_TIME2: return kind == TF_VAL_TIME;
    case TF_TYPE_YEAR: return kind == TF_VAL_YEAR;
    case TF_TYPE_BIT: return kind == TF_VAL_BIT;
    case TF_TYPE_STRING:
    case TF_TYPE_VARCHAR: return kind == TF_VAL_STRING || kind == TF_VAL_BYTES;
    default: return false;
    }
}

/* The keys the caller gave (start_after, key_rows) against the primary key
 * the server has: as many values as it has columns, each of its column's
 * kind. A key that does not fit would turn into a literal that compares as
 * something else (a number against a string) and read the wrong rows. */
static bool resync_keys_fit(tf_snapshot *s, const snap_table *t)
{
    if (s->opt.start_after != NULL && s->opt.start_after_count != t->key_count) {
        snap_fail(s,
                  "start_after has %zu values but the primary key of %s.%s has %zu columns (give "
                  "the key columns' values in key order, as on_row delivered them)",
                  s->opt.start_after_count, t->schema, t->name, t->key_count);
        return false;
    }
    for (size_t k = 0; s->opt.start_after != NULL && k < t->key_count; k++) {
        const tf_column *col = &t->columns[t->key[k]];
        if (!kind_fits(col, s->opt.start_after[k].kind)) {
            snap_fail(s, "start_after value %zu is not a value of %s.%s's key column %s (%s)", k,
                      t->schema, t->name, col->name.ptr, tf_column_type_name(col->type));
            return false;
        }
    }
    for (size_t r = 0; s->opt.key_rows != NULL && r < s->opt.key_row_count; r++) {
        for (size_t k = 0; k < t->key_count; k++) {
            const tf_column *col = &t->columns[t->key[k]];
            if (!kind_fits(col, s->opt.key_rows[r * t->key_count + k].kind)) {
                snap_fail(
                    s, "key_rows key %zu: value %zu is not a value of %s.%s's key column %s (%s)",
                    r, k, t->schema, t->name, col->name.ptr, tf_column_type_name(col->type));
                return false;
            }
        }
    }
    return true;
}

/* Key columns, then the fixed parts of the chunk statement. */
bool snap_key_result(tf_snapshot *s)
{
    snap_table *t = &s->tables[s->table_index];
    const tf_query *q = &s->query;
    size_t n = q->result.rows;
    if (n == 0) {
        snap_fail(s,
                  "table %s.%s has no primary key: the snapshot reads in key order and the view "
                  "addresses rows by key; add a PRIMARY KEY",
                  t->schema, t->name);
        return false;
    }
    if (n > MAX_KEY_PARTS) {
        snap_fail(s, "the primary key of %s.%s has %zu parts", t->schema, t->name, n);
        return false;
    }
    t->key = calloc(n, sizeof *t->key);
    if (t->key == NULL)
        goto oom;
    for (size_t k = 0; k < n; k++) {
        const char *name = tf_query_cell(q, k, 0);
        size_t i = 0;
        while (i < t->column_count && (name == NULL || strcmp(t->columns[i].name.ptr, name) != 0))
            i++;
        if (i == t->column_count) {
            snap_fail(s, "primary key column %s of %s.%s is not among its columns",
                      name ? name : "?", t->schema, t->name);
            return false;
        }
        uint8_t ty = t->columns[i].type;
        if (ty == TF_TYPE_ENUM || ty == TF_TYPE_SET || ty == TF_TYPE_GEOMETRY ||
            ty == TF_TYPE_JSON || ty == TF_TYPE_FLOAT || ty == TF_TYPE_BLOB ||
            t->reads[i] == READ_BINARY) {
            snap_fail(s,
                      "primary key column %s.%s.%s is %s: the snapshot cannot page through it in "
                      "key order",
                      t->schema, t->name, name, tf_column_type_name(ty));
            return false;
        }
        t->columns[i].is_primary_key = true;
        t->key[k] = i;
    }
    t->key_count = n;

    sql_buf head = {0}, tail = {0};
    sql_buf_str(&head, "SELECT ");
    for (size_t i = 0; i < t->column_count; i++) {
        if (i)
            sql_buf_str(&head, ", ");
        const char *name = t->columns[i].name.ptr;
        switch (t->reads[i]) {
        case READ_FLOAT_AS_DOUBLE:
            sql_buf_str(&head, "CAST(");
            sql_buf_ident(&head, name);
            sql_buf_str(&head, " AS DOUBLE)");
            break;
        case READ_BINARY:
            sql_buf_str(&head, "CAST(");
            sql_buf_ident(&head, name);
            sql_buf_printf(&head, " AS BINARY(%u))", t->columns[i].meta);
            break;
        default: sql_buf_ident(&head, name); break;
        }
    }
    sql_buf_str(&head, " FROM ");
    sql_buf_ident(&head, t->schema);
    sql_buf_str(&head, ".");
    sql_buf_ident(&head, t->name);
    sql_buf_str(&tail, " ORDER BY ");
    for (size_t k = 0; k < n; k++) {
        if (k)
            sql_buf_str(&tail, ", ");
        sql_buf_ident(&tail, t->columns[t->key[k]].name.ptr);
    }
    if (head.oom || tail.oom) {
        free(head.p);
        free(tail.p);
        goto oom;
    }
    t->select_head = head.p;
    t->order_by = tail.p;
    t->pub.schema = t->schema;
    t->pub.name = t->name;
    t->pub.column_count = t->column_count;
    t->pub.columns = t->columns;
    t->pub.key_count = t->key_count;
    t->pub.key_columns = t->key;
    return resync_keys_fit(s, t);
oom:
    snap_fail(s, "out of memory describing %s.%s", t->schema, t->name);
    return false;
}
