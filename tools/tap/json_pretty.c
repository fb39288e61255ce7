/* json_pretty.c — relaxed extended JSON as a person reads it: one field a
 * line, two spaces per level, and the extended JSON wrappers
 * ({"$oid": ...}, {"$date": ...}, {"$numberDecimal": ...}) kept on the
 * line of their field, as mongosh shows them. Input is libbson's output,
 * so it is well formed; whitespace outside strings is re-laid. */
#include "tap.h"

#include <string.h>

static void indent(FILE *out, int depth)
{
    fputc('\n', out);
    for (int i = 0; i < depth; i++)
        fputs("  ", out);
}

/* Copies the string starting at *p (on its opening quote) and moves past it. */
static const char *copy_string(const char *p, FILE *out)
{
    fputc(*p++, out);
    while (*p && *p != '"') {
        if (*p == '\\' && p[1]) {
            fputc(*p++, out);
        }
        fputc(*p++, out);
    }
    if (*p == '"')
        fputc(*p++, out);
    return p;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

void tap_json_pretty(const char *json, FILE *out)
{
    int depth = 0;
    int inline_depth = 0; /* > 0 inside a {"$...": ...} wrapper */
    const char *p = skip_ws(json);
    while (*p) {
        char c = *p;
        if (c == '"') {
            p = copy_string(p, out);
        } else if (c == '{' || c == '[') {
            const char *next = skip_ws(p + 1);
            if ((c == '{' && *next == '}') || (c == '[' && *next == ']')) {
                fputc(c, out);
                fputc(*next, out);
                p = next + 1;
            } else if (inline_depth || (c == '{' && next[0] == '"' && next[1] == '$')) {
                fputc(c, out);
                inline_depth++;
                p = next;
            } else {
                fputc(c, out);
                indent(out, ++depth);
                p = next;
            }
        } else if (c == '}' || c == ']') {
            if (inline_depth) {
                inline_depth--;
                fputc(c, out);
            } else {
                indent(out, --depth);
                fputc(c, out);
            }
            p++;
        } else if (c == ',') {
            fputc(',', out);
            if (inline_depth)
                fputc(' ', out);
            else
                indent(out, depth);
            p = skip_ws(p + 1);
        } else if (c == ':') {
            fputs(": ", out);
            p = skip_ws(p + 1);
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            p++;
        } else {
            fputc(c, out);
            p++;
        }
    }
    fputc('\n', out);
}
