/* flow_check.c — a flow that uses operators, checked against its source's
 * tables when it is saved.
 *
 * A filter names columns and compares them with values of some type; a
 * projection names columns too. Without this check such a mistake would
 * surface only when the daemon starts, in its log. The columns of each
 * table of the flow are read from information_schema (name, type, key) and
 * given to a view of the flow as the tables' definitions: the view
 * resolves relations, projections and filters exactly as the daemon will,
 * with the same "file:line:column" messages. Only the column types matter
 * here, not their lengths or collations. */
#include "flow_check.h"

#include "daemon.h"
#include "replica.h"

#include <string.h>
#include <strings.h>

static bool shape_used(const tf_flow_shape *shape)
{
    return shape->filter || shape->include_count || shape->exclude_count || shape->rename_count;
}

static bool uses_operators(const tf_flow_spec *spec)
{
    bool used = shape_used(&spec->shape) || spec->computed_count > 0;
    for (size_t i = 0; i < spec->lookup_count; i++)
        used = used || shape_used(&spec->lookups[i].shape);
    return used;
}

/* information_schema's DATA_TYPE as the binlog's column type. */
static uint8_t column_type(const char *data_type)
{
    static const struct {
        const char *name;
        uint8_t type;
    } types[] = {
        {"tinyint", TF_TYPE_TINY},
        {"smallint", TF_TYPE_SHORT},
        {"mediumint", TF_TYPE_INT24},
        {"int", TF_TYPE_LONG},
        {"integer", TF_TYPE_LONG},
        {"bigint", TF_TYPE_LONGLONG},
        {"decimal", TF_TYPE_NEWDECIMAL},
        {"numeric", TF_TYPE_NEWDECIMAL},
        {"float", TF_TYPE_FLOAT},
        {"double", TF_TYPE_DOUBLE},
        {"real", TF_TYPE_DOUBLE},
        {"bit", TF_TYPE_BIT},
        {"year", TF_TYPE_YEAR},
        {"date", TF_TYPE_DATE},
        {"datetime", TF_TYPE_DATETIME2},
        {"timestamp", TF_TYPE_TIMESTAMP2},
        {"time", TF_TYPE_TIME2},
        {"char", TF_TYPE_STRING},
        {"varchar", TF_TYPE_VARCHAR},
        {"tinytext", TF_TYPE_BLOB},
        {"text", TF_TYPE_BLOB},
        {"mediumtext", TF_TYPE_BLOB},
        {"longtext", TF_TYPE_BLOB},
        {"binary", TF_TYPE_STRING},
        {"varbinary", TF_TYPE_VARCHAR},
        {"tinyblob", TF_TYPE_BLOB},
        {"blob", TF_TYPE_BLOB},
        {"mediumblob", TF_TYPE_BLOB},
        {"longblob", TF_TYPE_BLOB},
        {"enum", TF_TYPE_ENUM},
        {"set", TF_TYPE_SET},
        {"json", TF_TYPE_JSON},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(types[i].name, data_type) == 0)
            return types[i].type;
    return TF_TYPE_GEOMETRY; /* spatial and other types: only IS [NOT] NULL */
}

/* The columns read, per table of the flow (in the flow's table order). */
typedef struct table_columns {
    const char *name;
    size_t count;
    tf_column *columns;
} table_columns;

typedef struct check_ctx {
    table_columns *tables;
    size_t table_count;
} check_ctx;

static char *cell(const tf_str *v, bool null)
{
    return null ? bson_strdup("") : tf_strndup(v->ptr, v->len);
}

/* One row: TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_KEY, COLUMN_TYPE. */
static bool on_column(void *arg, const tf_sync_column *columns, size_t column_count,
                      const tf_str *values, const bool *nulls, tf_error *err)
{
    check_ctx *c = arg;
    (void)columns;
    if (column_count != 5)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "information_schema.COLUMNS answered %zu columns, not 5",
                            column_count) == TF_OK;
    char *table = cell(&values[0], nulls[0]);
    table_columns *t = NULL;
    for (size_t i = 0; i < c->table_count; i++)
        if (strcmp(c->tables[i].name, table) == 0)
            t = &c->tables[i];
    bson_free(table);
    if (!t)
        return true;
    t->columns = bson_realloc(t->columns, (t->count + 1) * sizeof *t->columns);
    tf_column *col = &t->columns[t->count++];
    memset(col, 0, sizeof *col);
    char *name = cell(&values[1], nulls[1]);
    col->name.ptr = name;
    col->name.len = strlen(name);
    char *data_type = cell(&values[2], nulls[2]);
    col->type = column_type(data_type);
    bson_free(data_type);
    char *key = cell(&values[3], nulls[3]);
    col->is_primary_key = strcmp(key, "PRI") == 0;
    bson_free(key);
    char *full_type = cell(&values[4], nulls[4]);
    col->is_unsigned = strstr(full_type, "unsigned") != NULL;
    col->nullable = true;
    bson_free(full_type);
    return true;
}

/* s as an SQL string literal. */
static void append_string(bson_string_t *sql, const char *s)
{
    bson_string_append_c(sql, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            bson_string_append_c(sql, *s);
        bson_string_append_c(sql, *s);
    }
    bson_string_append_c(sql, '\'');
}

static void add_table(check_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->table_count; i++)
        if (strcmp(c->tables[i].name, name) == 0)
            return;
    c->tables = bson_realloc(c->tables, (c->table_count + 1) * sizeof *c->tables);
    c->tables[c->table_count++] = (table_columns){.name = name};
}

static bool define_tables(const tf_flow_spec *spec, const check_ctx *c, const tfr_datasource *ds,
                          tf_error *err)
{
    tf_view *view = tf_view_new(spec);
    bool ok = true;
    for (size_t i = 0; ok && i < c->table_count; i++) {
        const table_columns *t = &c->tables[i];
        if (t->count == 0)
            ok = tf_error_set(err, TF_ERR_CONFIG, 0,
                              "%.150s: table %.100s of flow %.100s is not in database %.100s of "
                              "datasource %.100s",
                              spec->file, t->name, spec->name, ds->database, ds->name) == TF_OK;
        else
            ok = tf_view_define_table(view, t->name, t->columns, t->count, NULL, 0, err) == TF_OK;
    }
    tf_view_destroy(view);
    return ok;
}

bool tap_flow_check_source(tap_session *s, const tf_flow_spec *spec, tf_error *err)
{
    if (!uses_operators(spec))
        return true;
    if (!tap_config(s, err))
        return false;
    const tfr_datasource *ds = tfr_config_datasource(s->cfg, spec->source_datasource);
    if (!ds || ds->type != TFR_DS_MYSQL)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%.150s: flow %.100s reads datasource %.100s, which the config does "
                            "not define as a mysql datasource",
                            spec->file, spec->name, spec->source_datasource) == TF_OK;
    check_ctx c = {0};
    add_table(&c, spec->source_table);
    for (size_t i = 0; i < spec->lookup_count; i++)
        add_table(&c, spec->lookups[i].table);
    bson_string_t *sql = bson_string_new("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_KEY, "
                                         "COLUMN_TYPE FROM information_schema.COLUMNS WHERE "
                                         "TABLE_SCHEMA = ");
    append_string(sql, ds->database);
    bson_string_append(sql, " AND TABLE_NAME IN (");
    for (size_t i = 0; i < c.table_count; i++) {
        if (i)
            bson_string_append(sql, ", ");
        append_string(sql, c.tables[i].name);
    }
    bson_string_append(sql, ") ORDER BY TABLE_NAME, ORDINAL_POSITION");
    tf_conn_options conn;
    bool ok = tap_mysql_conn(ds, &conn, err) &&
              tf_sync_query(&conn, sql->str, 0, on_column, &c, NULL, 0, err);
    if (!ok)
        tf_error_prefix(err, "checking flow %.100s against datasource %.100s", spec->name,
                        ds->name);
    else
        ok = define_tables(spec, &c, ds, err);
    for (size_t i = 0; i < c.table_count; i++) {
        for (size_t k = 0; k < c.tables[i].count; k++)
            bson_free((char *)c.tables[i].columns[k].name.ptr);
        bson_free(c.tables[i].columns);
    }
    bson_free(c.tables);
    bson_string_free(sql, true);
    return ok;
}
