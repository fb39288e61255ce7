/* inspect_mysql.c — show tables, desc, peek and count on a MySQL/MariaDB
 * datasource, one blocking statement each (replica/'s tf_sync_query).
 * Rows are shown as the documents they would become: numbers as numbers,
 * DECIMAL as Decimal128, DATE/DATETIME/TIMESTAMP as dates, binary strings
 * as binary, NULL as null. */
#include "daemon.h"
#include "replica.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

bool tap_mysql_conn(const tfr_datasource *ds, tf_conn_options *conn, tf_error *err)
{
    if (!tfr_datasource_conn(NULL, ds, conn, err))
        return false;
    conn->connect_timeout = 10; /* a shell waits less than a daemon */
    return true;
}

/* `name` quoted as an identifier (backquotes doubled). */
static void append_ident(bson_string_t *sql, const char *name)
{
    bson_string_append_c(sql, '`');
    for (const char *p = name; *p; p++) {
        if (*p == '`')
            bson_string_append_c(sql, '`');
        bson_string_append_c(sql, *p);
    }
    bson_string_append_c(sql, '`');
}

static char *value_text(const tf_str *v) { return tf_strndup((const char *)v->ptr, v->len); }

/* "2024-11-02 10:20:00[.123456]" or "2024-11-10" as ms since the epoch
 * (UTC, as the view writes them); false for zero dates and the like. */
static bool parse_datetime(const char *text, int64_t *ms)
{
    struct tm tm = {0};
    int frac_len = 0;
    unsigned frac = 0;
    int n = sscanf(text, "%4d-%2d-%2d %2d:%2d:%2d.%6u%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &frac, &frac_len);
    if (n < 3 || tm.tm_mon < 1 || tm.tm_mday < 1)
        return false;
    const char *dot = strchr(text, '.');
    int digits = dot ? (int)strlen(dot + 1) : 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t secs = (int64_t)timegm(&tm);
    int64_t frac_ms = 0;
    if (n == 7) {
        frac_ms = frac;
        for (int d = digits; d < 3; d++)
            frac_ms *= 10;
        for (int d = digits; d > 3; d--)
            frac_ms /= 10;
    }
    *ms = secs * 1000 + frac_ms;
    return true;
}

static void append_value(bson_t *doc, const tf_sync_column *col, const tf_str *v, bool null)
{
    const char *key = col->name ? col->name : "?";
    if (null) {
        BSON_APPEND_NULL(doc, key);
        return;
    }
    char *text = value_text(v);
    char *end = NULL;
    int64_t ms;
    bson_decimal128_t dec;
    switch (col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_LONG:
    case TF_TYPE_INT24:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_YEAR: {
        long long n = strtoll(text, &end, 10);
        if (*end || (col->flags & TF_COLUMN_UNSIGNED && text[0] != '-' && n < 0))
            BSON_APPEND_UTF8(doc, key, text);
        else if (n >= INT32_MIN && n <= INT32_MAX)
            BSON_APPEND_INT32(doc, key, (int32_t)n);
        else
            BSON_APPEND_INT64(doc, key, n);
        break;
    }
    case TF_TYPE_FLOAT:
    case TF_TYPE_DOUBLE: BSON_APPEND_DOUBLE(doc, key, strtod(text, NULL)); break;
    case TF_TYPE_DECIMAL:
    case TF_TYPE_NEWDECIMAL:
        if (bson_decimal128_from_string(text, &dec))
            BSON_APPEND_DECIMAL128(doc, key, &dec);
        else
            BSON_APPEND_UTF8(doc, key, text);
        break;
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE:
    case TF_TYPE_DATETIME:
    case TF_TYPE_DATETIME2:
    case TF_TYPE_TIMESTAMP:
    case TF_TYPE_TIMESTAMP2:
        if (parse_datetime(text, &ms))
            BSON_APPEND_DATE_TIME(doc, key, ms);
        else
            BSON_APPEND_UTF8(doc, key, text);
        break;
    default:
        if (col->charset == TF_CHARSET_BINARY && col->type != TF_TYPE_JSON)
            BSON_APPEND_BINARY(doc, key, BSON_SUBTYPE_BINARY, (const uint8_t *)v->ptr,
                               (uint32_t)v->len);
        else if (bson_utf8_validate(text, v->len, false))
            BSON_APPEND_UTF8(doc, key, text);
        else
            BSON_APPEND_BINARY(doc, key, BSON_SUBTYPE_BINARY, (const uint8_t *)v->ptr,
                               (uint32_t)v->len);
        break;
    }
    bson_free(text);
}

static bool print_row_document(void *arg, const tf_sync_column *columns, size_t column_count,
                               const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)err;
    (*(size_t *)arg)++;
    bson_t doc = BSON_INITIALIZER;
    for (size_t i = 0; i < column_count; i++)
        append_value(&doc, &columns[i], &values[i], nulls[i]);
    char *json = bson_as_relaxed_extended_json(&doc, NULL);
    tap_json_pretty(json, stdout);
    bson_free(json);
    bson_destroy(&doc);
    return true;
}

/* Prints the first column of each row, one a line. */
static bool print_first(void *arg, const tf_sync_column *columns, size_t column_count,
                        const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)columns;
    (void)err;
    size_t *count = arg;
    if (column_count > 0 && !nulls[0])
        printf("%.*s\n", (int)values[0].len, (const char *)values[0].ptr);
    (*count)++;
    return true;
}

/* desc: SHOW COLUMNS' Field, Type, Null, Key, Default, Extra. */
static bool print_column(void *arg, const tf_sync_column *columns, size_t column_count,
                         const tf_str *values, const bool *nulls, tf_error *err)
{
    (void)columns;
    (void)err;
    size_t *count = arg;
    if ((*count)++ == 0)
        printf("%-32s %-24s %-5s %-4s %s\n", "FIELD", "TYPE", "NULL", "KEY", "DEFAULT");
    const char *cells[5];
    char *owned[5] = {0};
    for (size_t i = 0; i < 5; i++) {
        if (i < column_count && !nulls[i])
            cells[i] = owned[i] = value_text(&values[i]);
        else
            cells[i] = i == 4 ? "NULL" : "";
    }
    printf("%-32s %-24s %-5s %-4s %s\n", cells[0], cells[1], cells[2], cells[3], cells[4]);
    for (size_t i = 0; i < 5; i++)
        bson_free(owned[i]);
    return true;
}

bool tap_mysql_inspect(const tfr_datasource *ds, tap_inspect_what what, const char *name,
                       long limit, tf_error *err)
{
    tf_conn_options conn;
    if (!tap_mysql_conn(ds, &conn, err))
        return false;
    bson_string_t *sql = bson_string_new("");
    tf_sync_row_fn fn = NULL;
    size_t count = 0;
    switch (what) {
    case TAP_SHOW_TABLES:
        bson_string_append(sql, "SHOW TABLES FROM ");
        append_ident(sql, ds->database);
        fn = print_first;
        break;
    case TAP_DESC:
        bson_string_append(sql, "SHOW COLUMNS FROM ");
        append_ident(sql, ds->database);
        bson_string_append_c(sql, '.');
        append_ident(sql, name);
        fn = print_column;
        break;
    case TAP_PEEK:
        bson_string_append(sql, "SELECT * FROM ");
        append_ident(sql, ds->database);
        bson_string_append_c(sql, '.');
        append_ident(sql, name);
        bson_string_append_printf(sql, " LIMIT %ld", limit);
        fn = print_row_document;
        break;
    case TAP_COUNT:
        bson_string_append(sql, "SELECT COUNT(*) FROM ");
        append_ident(sql, ds->database);
        bson_string_append_c(sql, '.');
        append_ident(sql, name);
        fn = print_first;
        break;
    }
    bool ok = tf_sync_query(&conn, sql->str, 0, fn, &count, NULL, 0, err);
    if (!ok)
        tf_error_prefix(err, "datasource %.100s", ds->name);
    else if (what == TAP_SHOW_TABLES && count == 0)
        printf("no tables in %s\n", ds->database);
    else if (what == TAP_PEEK && count == 0)
        printf("%s is empty\n", name);
    fflush(stdout);
    bson_string_free(sql, true);
    return ok;
}
