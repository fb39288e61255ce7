/* sql_buf.c — SQL text built piece by piece (identifiers and string
 * literals quoted), for the statements the snapshot sends. Running out of
 * memory is remembered (oom) and checked once the statement is done. */
#include "snapshot_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sql_buf_reserve(sql_buf *b, size_t more)
{
    if (b->oom || b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

void sql_buf_add(sql_buf *b, const char *s, size_t n)
{
    sql_buf_reserve(b, n);
    if (b->oom)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sql_buf_str(sql_buf *b, const char *s) { sql_buf_add(b, s, strlen(s)); }

void sql_buf_printf(sql_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    sql_buf_reserve(b, (size_t)n);
    if (b->oom)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* `name` with backquotes doubled. */
void sql_buf_ident(sql_buf *b, const char *name)
{
    sql_buf_add(b, "`", 1);
    for (const char *p = name; *p; p++)
        sql_buf_add(b, *p == '`' ? "``" : p, *p == '`' ? 2 : 1);
    sql_buf_add(b, "`", 1);
}

/* 'text' for a string literal, quotes and backslashes escaped. */
void sql_buf_quoted(sql_buf *b, const char *text)
{
    sql_buf_add(b, "'", 1);
    for (const char *p = text; *p; p++) {
        if (*p == '\'' || *p == '\\')
            sql_buf_add(b, "\\", 1);
        sql_buf_add(b, p, 1);
    }
    sql_buf_add(b, "'", 1);
}
