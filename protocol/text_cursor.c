/* text_cursor.c — see text_cursor_internal.h. */
#include "text_cursor_internal.h"

#include <stdarg.h>
#include <stdio.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

void text_cursor_skip_space(text_cursor *c)
{
    while (c->pos < c->len && is_space(c->text[c->pos]))
        c->pos++;
}

tf_status text_cursor_error(text_cursor *c, size_t at, const char *fmt, ...)
{
    char detail[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return tf_error_set(c->err, TF_ERR_PROTOCOL, 0, "%s: %s at column %zu", c->what, detail,
                        at + 1);
}

const char *text_cursor_describe_byte(char c, char out[16])
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x21 && u < 0x7f)
        snprintf(out, 16, "'%c'", c);
    else
        snprintf(out, 16, "byte 0x%02x", u);
    return out;
}

tf_status text_cursor_found_error(text_cursor *c, const char *expected)
{
    char b[16];
    if (c->pos >= c->len)
        return text_cursor_error(c, c->pos, "%s, found the end of the text", expected);
    return text_cursor_error(c, c->pos, "%s, found %s", expected,
                             text_cursor_describe_byte(c->text[c->pos], b));
}
