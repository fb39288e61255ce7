/* flow_parse.c — flow files in the guide's Tap Shell language.
 *
 * The language is the small Python subset the guide writes:
 *
 *   orderFlow = Flow("Order_SingleView_Sync") \
 *   .read_from("MySQL_ECommerce.ecom_orders"); # root table
 *   orderFlow.lookup("MySQL_ECommerce.ecom_customers",
 *       path="customer_info", type="object",
 *       relation=[["customer_id", "customer_id"]]);
 *   orderFlow.write_to("MongoDB_ECommerce.orderSingleView");
 *   orderFlow.save()
 *
 * Statements end at ';' or at the end of a line. A line continues after a
 * trailing '\', inside open brackets (as in Python), and also when the next
 * line starts with '.' (a method chain written one call per line). '#' starts
 * a comment anywhere outside a string. The parser interprets statements as it
 * reads them (there is nothing to evaluate but calls on the one flow), then
 * tf_flow_spec_validate checks the spec as a whole. */
#include "expr_internal.h"
#include "view_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum token_kind {
    TOK_EOF = 0,
    TOK_NEWLINE,
    TOK_NAME,
    TOK_STRING,
    TOK_NUMBER,
    TOK_LPAREN,
    TOK_RPAREN,
    TOK_LBRACKET,
    TOK_RBRACKET,
    TOK_COMMA,
    TOK_DOT,
    TOK_EQUALS,
    TOK_SEMICOLON,
    TOK_LBRACE,
    TOK_RBRACE,
    TOK_COLON,
} token_kind;

typedef struct token {
    token_kind kind;
    const char *start; /* raw text (strings with their quotes) */
    size_t len;
    tf_flow_pos pos;
} token;

/* The lexer is a plain value: copying it saves a position to come back to
 * (used to look past line ends for a '.' continuation). */
typedef struct lexer {
    const char *text;
    size_t len, pos;
    unsigned line, column;
    int depth;               /* open ( [ and {: line ends inside them do not end statements */
    bool trailing_backslash; /* the text ends in a '\' continuation */
} lexer;

typedef struct parser {
    lexer lex;
    token cur;
    const char *file;
    tf_error *err;
    bool failed;
    tf_flow_spec *spec;
    bool have_flow;
    char *flow_variables[16]; /* names bound to the flow */
    size_t flow_variable_count;
    tf_flow_pos read_from_pos, write_to_pos;
    /* Statement-at-a-time mode (tf_flow_builder_run), else NULL: names are
     * bound in the builder, Flow() creates a spec each time, and calls are
     * reported to fn. */
    tf_flow_builder *builder;
    tf_flow_spec *unbound; /* created by Flow() in this statement, not yet bound */
    tf_flow_call_fn fn;
    void *fn_arg;
} parser;

/* A name bound to a spec; several names may share one spec. */
typedef struct binding {
    char *variable;
    tf_flow_spec *spec;
} binding;

struct tf_flow_builder {
    binding *bindings;
    size_t count;
};

static tf_flow_spec *builder_lookup(const tf_flow_builder *b, const char *variable)
{
    for (size_t i = 0; i < b->count; i++)
        if (strcmp(b->bindings[i].variable, variable) == 0)
            return b->bindings[i].spec;
    return NULL;
}

/* Argument values: strings, (nested) lists of them and dicts of strings
 * ({"old": "new"}: items hold key, value, key, value, ...). */
typedef struct value {
    bool is_list;
    bool is_dict;
    char *str;
    struct value *items;
    size_t count;
    tf_flow_pos pos;
} value;

typedef struct arg {
    char *name; /* NULL for a positional argument */
    tf_flow_pos pos;
    value v;
} arg;

#define MAX_ARGS 8

typedef struct call {
    char *method;
    tf_flow_pos pos;
    arg args[MAX_ARGS];
    size_t count;
} call;

static void fail_at(parser *p, tf_flow_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(parser *p, tf_flow_pos pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    char msg[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tf_error_set(p->err, TF_ERR_CONFIG, 0, "%.150s:%u:%u: %.340s", p->file, pos.line, pos.column,
                 msg);
}

static int peek_char(const lexer *l, size_t ahead)
{
    return l->pos + ahead < l->len ? (unsigned char)l->text[l->pos + ahead] : -1;
}

/* Columns count characters, not bytes: UTF-8 continuation bytes do not
 * advance them. */
static void advance_char(lexer *l)
{
    unsigned char c = (unsigned char)l->text[l->pos++];
    if (c == '\n') {
        l->line++;
        l->column = 1;
    } else if ((c & 0xC0) != 0x80) {
        l->column++;
    }
}

static bool is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static bool next_token(parser *p)
{
    lexer *l = &p->lex;
    for (;;) {
        int c = peek_char(l, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
            advance_char(l);
        } else if (c == '#') {
            while (l->pos < l->len && l->text[l->pos] != '\n')
                advance_char(l);
        } else if (c == '\\') {
            tf_flow_pos at = {l->line, l->column};
            advance_char(l);
            while (peek_char(l, 0) == ' ' || peek_char(l, 0) == '\t' || peek_char(l, 0) == '\r')
                advance_char(l);
            if (peek_char(l, 0) == '\n') {
                advance_char(l);
                if (peek_char(l, 0) == -1)
                    l->trailing_backslash = true;
            } else if (peek_char(l, 0) == -1) {
                l->trailing_backslash = true;
            } else {
                fail_at(p, at, "expected end of line after '\\' (a line continuation)");
                return false;
            }
        } else if (c == '\n' && l->depth > 0) {
            advance_char(l);
        } else {
            break;
        }
    }
    token *t = &p->cur;
    t->start = l->text + l->pos;
    t->len = 1;
    t->pos.line = l->line;
    t->pos.column = l->column;
    int c = peek_char(l, 0);
    if (c == -1) {
        t->kind = TOK_EOF;
        t->len = 0;
        return true;
    }
    if (is_name_start(c)) {
        t->kind = TOK_NAME;
        while (is_name_start(peek_char(l, 0)) || is_digit(peek_char(l, 0)))
            advance_char(l);
        t->len = (size_t)(l->text + l->pos - t->start);
        return true;
    }
    if (is_digit(c)) {
        t->kind = TOK_NUMBER;
        while (is_digit(peek_char(l, 0)) || peek_char(l, 0) == '.')
            advance_char(l);
        t->len = (size_t)(l->text + l->pos - t->start);
        return true;
    }
    if (c == '"' || c == '\'') {
        advance_char(l);
        for (;;) {
            int d = peek_char(l, 0);
            if (d == -1 || d == '\n') {
                fail_at(p, t->pos, "unterminated string (it needs a closing %c on the same line)",
                        c);
                return false;
            }
            advance_char(l);
            if (d == c)
                break;
            if (d == '\\' && peek_char(l, 0) != -1 && peek_char(l, 0) != '\n')
                advance_char(l);
        }
        t->kind = TOK_STRING;
        t->len = (size_t)(l->text + l->pos - t->start);
        return true;
    }
    switch (c) {
    case '\n': t->kind = TOK_NEWLINE; break;
    case '(': t->kind = TOK_LPAREN; break;
    case ')': t->kind = TOK_RPAREN; break;
    case '[': t->kind = TOK_LBRACKET; break;
    case ']': t->kind = TOK_RBRACKET; break;
    case ',': t->kind = TOK_COMMA; break;
    case '.': t->kind = TOK_DOT; break;
    case '=': t->kind = TOK_EQUALS; break;
    case ';': t->kind = TOK_SEMICOLON; break;
    case '{': t->kind = TOK_LBRACE; break;
    case '}': t->kind = TOK_RBRACE; break;
    case ':': t->kind = TOK_COLON; break;
    default:
        if (c < 0x20 || c >= 0x7f)
            fail_at(p, t->pos, "unexpected character (byte 0x%02x)", (unsigned)c);
        else
            fail_at(p, t->pos, "unexpected character '%c'", c);
        return false;
    }
    if (c == '(' || c == '[' || c == '{')
        l->depth++;
    else if ((c == ')' || c == ']' || c == '}') && l->depth > 0)
        l->depth--;
    advance_char(l);
    return true;
}

/* "'='", "end of line", "name 'path'", "string \"x\"" — what was found,
 * for "expected ..., found ..." messages. */
static void describe(const token *t, char *out, size_t cap)
{
    switch (t->kind) {
    case TOK_EOF: snprintf(out, cap, "end of file"); break;
    case TOK_NEWLINE: snprintf(out, cap, "end of line"); break;
    case TOK_NAME:
        snprintf(out, cap, "name '%.*s'", (int)(t->len > 60 ? 60 : t->len), t->start);
        break;
    case TOK_STRING:
        snprintf(out, cap, "string %.*s%s", (int)(t->len > 60 ? 60 : t->len), t->start,
                 t->len > 60 ? "..." : "");
        break;
    case TOK_NUMBER:
        snprintf(out, cap, "number %.*s", (int)(t->len > 30 ? 30 : t->len), t->start);
        break;
    default: snprintf(out, cap, "'%c'", *t->start); break;
    }
}

static void fail_expected(parser *p, const char *what)
{
    char found[100];
    describe(&p->cur, found, sizeof found);
    fail_at(p, p->cur.pos, "expected %s, found %s", what, found);
}

static char *token_name(const token *t) { return tf_strndup(t->start, t->len); }

/* Decodes a string token: the quotes go, \\ \" \' \n \t are escapes, any
 * other backslash stays as written. */
static char *token_string(const token *t)
{
    char *out = bson_malloc(t->len);
    size_t n = 0;
    for (size_t i = 1; i + 1 < t->len; i++) {
        char c = t->start[i];
        if (c == '\\' && i + 2 < t->len) {
            char e = t->start[i + 1];
            if (e == 'n' || e == 't' || e == '\\' || e == '"' || e == '\'') {
                out[n++] = e == 'n' ? '\n' : e == 't' ? '\t' : e;
                i++;
                continue;
            }
        }
        out[n++] = c;
    }
    out[n] = '\0';
    return out;
}

static void value_cleanup(value *v)
{
    bson_free(v->str);
    for (size_t i = 0; i < v->count; i++)
        value_cleanup(&v->items[i]);
    bson_free(v->items);
    memset(v, 0, sizeof *v);
}

static void call_cleanup(call *c)
{
    bson_free(c->method);
    for (size_t i = 0; i < c->count; i++) {
        bson_free(c->args[i].name);
        value_cleanup(&c->args[i].v);
    }
    memset(c, 0, sizeof *c);
}

static value *add_item(value *v, size_t *cap)
{
    if (v->count == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        v->items = bson_realloc(v->items, *cap * sizeof *v->items);
    }
    value *item = &v->items[v->count++];
    memset(item, 0, sizeof *item);
    return item;
}

/* {"key": "value", ...}: p->cur is the '{'. */
static bool parse_dict(parser *p, value *out)
{
    out->is_dict = true;
    if (!next_token(p))
        return false;
    size_t cap = 0;
    while (p->cur.kind != TOK_RBRACE) {
        if (p->cur.kind != TOK_STRING) {
            fail_expected(p, "a string key in the dict");
            return false;
        }
        value *key = add_item(out, &cap);
        key->pos = p->cur.pos;
        key->str = token_string(&p->cur);
        if (!next_token(p))
            return false;
        if (p->cur.kind != TOK_COLON) {
            fail_expected(p, "':' after the dict key");
            return false;
        }
        if (!next_token(p))
            return false;
        if (p->cur.kind != TOK_STRING) {
            fail_expected(p, "a string value in the dict");
            return false;
        }
        value *val = add_item(out, &cap);
        val->pos = p->cur.pos;
        val->str = token_string(&p->cur);
        if (!next_token(p))
            return false;
        if (p->cur.kind == TOK_COMMA) {
            if (!next_token(p))
                return false;
        } else if (p->cur.kind != TOK_RBRACE) {
            fail_expected(p, "',' or '}' after a dict item");
            return false;
        }
    }
    return next_token(p);
}

static bool parse_value(parser *p, value *out, int depth)
{
    out->pos = p->cur.pos;
    if (p->cur.kind == TOK_STRING) {
        out->str = token_string(&p->cur);
        return next_token(p);
    }
    if (p->cur.kind == TOK_LBRACE)
        return parse_dict(p, out);
    if (p->cur.kind != TOK_LBRACKET) {
        fail_expected(p, "a string, a list or a dict");
        return false;
    }
    if (depth > 4) {
        fail_at(p, p->cur.pos, "lists nest deeper than a flow file needs");
        return false;
    }
    out->is_list = true;
    if (!next_token(p))
        return false;
    size_t cap = 0;
    while (p->cur.kind != TOK_RBRACKET) {
        if (out->count == cap) {
            cap = cap ? cap * 2 : 4;
            out->items = bson_realloc(out->items, cap * sizeof *out->items);
        }
        value *item = &out->items[out->count++];
        memset(item, 0, sizeof *item);
        if (!parse_value(p, item, depth + 1))
            return false;
        if (p->cur.kind == TOK_COMMA) {
            if (!next_token(p))
                return false;
        } else if (p->cur.kind != TOK_RBRACKET) {
            fail_expected(p, "',' or ']' after list item");
            return false;
        }
    }
    return next_token(p);
}

/* Reads "( arg, name=value, ... )"; p->cur is the '('. */
static bool parse_args(parser *p, call *c)
{
    if (p->cur.kind != TOK_LPAREN) {
        char what[120];
        snprintf(what, sizeof what, "'(' after '%.60s'", c->method);
        fail_expected(p, what);
        return false;
    }
    if (!next_token(p))
        return false;
    bool seen_keyword = false;
    while (p->cur.kind != TOK_RPAREN) {
        if (c->count == MAX_ARGS) {
            fail_at(p, p->cur.pos, "too many arguments to %s", c->method);
            return false;
        }
        arg *a = &c->args[c->count++];
        a->pos = p->cur.pos;
        if (p->cur.kind == TOK_NAME) {
            a->name = token_name(&p->cur);
            if (!next_token(p))
                return false;
            if (p->cur.kind != TOK_EQUALS) {
                char what[120];
                snprintf(what, sizeof what, "'=' after argument name '%.60s'", a->name);
                fail_expected(p, what);
                return false;
            }
            if (!next_token(p))
                return false;
            seen_keyword = true;
        } else if (seen_keyword) {
            fail_at(p, p->cur.pos, "positional argument after a keyword argument");
            return false;
        }
        if (!parse_value(p, &a->v, 0))
            return false;
        if (p->cur.kind == TOK_COMMA) {
            if (!next_token(p))
                return false;
        } else if (p->cur.kind != TOK_RPAREN) {
            fail_expected(p, "',' or ')' after argument");
            return false;
        }
    }
    return next_token(p);
}

/* Binds a call's arguments to parameter names (positional in order, then
 * by keyword). bound[i] is NULL when parameter i was not given. */
static bool bind_args(parser *p, const call *c, const char *const *params, size_t param_count,
                      const value **bound)
{
    for (size_t i = 0; i < param_count; i++)
        bound[i] = NULL;
    for (size_t i = 0; i < c->count; i++) {
        const arg *a = &c->args[i];
        size_t slot = param_count;
        if (!a->name) {
            slot = i;
            if (slot >= param_count) {
                if (param_count == 0)
                    fail_at(p, a->pos, "%s takes no arguments", c->method);
                else
                    fail_at(p, a->pos, "too many arguments to %s (it takes %zu)", c->method,
                            param_count);
                return false;
            }
        } else {
            for (size_t k = 0; k < param_count; k++)
                if (strcmp(params[k], a->name) == 0)
                    slot = k;
            if (slot == param_count) {
                char expected[200] = "";
                for (size_t k = 0; k < param_count; k++)
                    snprintf(expected + strlen(expected), sizeof expected - strlen(expected),
                             "%s%s", k ? ", " : "", params[k]);
                fail_at(p, a->pos, "unknown argument '%s' of %s (expected %s)", a->name, c->method,
                        param_count ? expected : "none");
                return false;
            }
        }
        if (bound[slot]) {
            fail_at(p, a->pos, "argument '%s' of %s given twice", params[slot], c->method);
            return false;
        }
        bound[slot] = &a->v;
    }
    return true;
}

static const value *require_string(parser *p, const call *c, const value *v, const char *param,
                                   const char *example)
{
    if (!v) {
        fail_at(p, c->pos, "%s needs %s=%s", c->method, param, example);
        return NULL;
    }
    if (!v->str) {
        fail_at(p, v->pos, "%s of %s must be a string such as %s", param, c->method, example);
        return NULL;
    }
    return v;
}

/* "Datasource.name" -> the two parts. */
static bool split_qualified(parser *p, const value *v, const char *what, char **datasource,
                            char **name)
{
    const char *dot = strchr(v->str, '.');
    if (!dot || dot == v->str || dot[1] == '\0') {
        fail_at(p, v->pos, "expected \"Datasource.%s\", found \"%.100s\"", what, v->str);
        return false;
    }
    *datasource = tf_strndup(v->str, (size_t)(dot - v->str));
    *name = bson_strdup(dot + 1);
    return true;
}

static bool apply_read_from(parser *p, const call *c)
{
    static const char *const params[] = {"source"};
    const value *bound[1];
    if (!bind_args(p, c, params, 1, bound))
        return false;
    const value *src = require_string(p, c, bound[0], "source", "\"MySQL_ECommerce.ecom_orders\"");
    if (!src)
        return false;
    if (p->spec->source_table) {
        /* A builder's statements are parsed one by one: the spec keeps the
         * position of the first read_from's argument. */
        fail_at(p, c->pos, "read_from given twice (first at line %u)",
                p->builder ? p->spec->source_pos.line : p->read_from_pos.line);
        return false;
    }
    p->read_from_pos = c->pos;
    p->spec->source_pos = src->pos;
    return split_qualified(p, src, "table", &p->spec->source_datasource, &p->spec->source_table);
}

static bool apply_write_to(parser *p, const call *c)
{
    static const char *const params[] = {"target"};
    const value *bound[1];
    if (!bind_args(p, c, params, 1, bound))
        return false;
    const value *dst =
        require_string(p, c, bound[0], "target", "\"MongoDB_ECommerce.orderSingleView\"");
    if (!dst)
        return false;
    if (p->spec->target_collection) {
        if (p->builder)
            fail_at(p, c->pos, "write_to given twice (the flow writes to %.100s.%.100s)",
                    p->spec->target_datasource, p->spec->target_collection);
        else
            fail_at(p, c->pos, "write_to given twice (first at line %u)", p->write_to_pos.line);
        return false;
    }
    p->write_to_pos = c->pos;
    return split_qualified(p, dst, "collection", &p->spec->target_datasource,
                           &p->spec->target_collection);
}

/* ---- the operators that shape a node: filter, include, exclude,
 * rename_fields (root), filter= fields= rename= (lookup) ---- */

static bool set_filter(parser *p, const call *c, const value *v, tf_flow_shape *shape)
{
    if (!v->str) {
        fail_at(p, v->pos,
                "the filter of %s must be a string such as \"order_status != "
                "'canceled'\"",
                c->method);
        return false;
    }
    if (shape->filter) {
        fail_at(p, v->pos,
                "a second filter (the first is at line %u): combine the conditions with AND",
                shape->filter_pos.line);
        return false;
    }
    /* Syntax now, with the file position; columns and types once the
     * tables are known (view_resolve). */
    char msg[200];
    size_t offset;
    view_expr *e = view_expr_parse(v->str, strlen(v->str), &offset, msg, sizeof msg);
    if (!e) {
        fail_at(p, view_expr_pos(v->pos, v->str, offset), "filter: %s", msg);
        return false;
    }
    view_expr_destroy(e);
    shape->filter = bson_strdup(v->str);
    shape->filter_pos = v->pos;
    return true;
}

static void add_field(tf_flow_field **list, size_t *count, const value *name, const value *to)
{
    *list = bson_realloc(*list, (*count + 1) * sizeof **list);
    tf_flow_field *f = &(*list)[(*count)++];
    f->name = bson_strdup(name->str);
    f->new_name = to ? bson_strdup(to->str) : NULL;
    f->pos = name->pos;
}

/* Field names from one argument: a string or a list of them. Appends to
 * *list. */
static bool set_fields(parser *p, const call *c, const value *v, const char *what,
                       tf_flow_field **list, size_t *count)
{
    size_t n = v->is_list ? v->count : 1;
    for (size_t i = 0; i < n; i++) {
        const value *name = v->is_list ? &v->items[i] : v;
        if (!name->str || !name->str[0] || strchr(name->str, '.')) {
            fail_at(p, name->pos,
                    "%s of %s takes column names (non-empty strings without '.'), such as "
                    "[\"order_id\", \"order_status\"]",
                    what, c->method);
            return false;
        }
        add_field(list, count, name, NULL);
    }
    return true;
}

static bool set_renames(parser *p, const call *c, const value *v, tf_flow_shape *shape)
{
    if (!v->is_dict || v->count == 0) {
        fail_at(p, v->pos,
                "%s takes a dict of column names to new names, such as "
                "{\"order_status\": \"status\"}",
                c->method);
        return false;
    }
    for (size_t i = 0; i + 1 < v->count; i += 2) {
        const value *from = &v->items[i], *to = &v->items[i + 1];
        if (!from->str[0] || strchr(from->str, '.') || !to->str[0] || strchr(to->str, '.') ||
            to->str[0] == '$') {
            fail_at(p, from->pos,
                    "rename \"%.60s\" -> \"%.60s\": both must be field names (non-empty, no "
                    "'.', the new one not starting with '$')",
                    from->str, to->str);
            return false;
        }
        add_field(&shape->renames, &shape->rename_count, from, to);
    }
    return true;
}

static bool root_first(parser *p, const call *c)
{
    if (p->spec->source_table)
        return true;
    fail_at(p, c->pos, "%s before read_from: the root table comes first", c->method);
    return false;
}

static bool apply_filter(parser *p, const call *c)
{
    static const char *const params[] = {"query"};
    const value *bound[1];
    if (!bind_args(p, c, params, 1, bound) || !root_first(p, c))
        return false;
    if (!bound[0]) {
        fail_at(p, c->pos, "filter needs a condition such as \"order_status != 'canceled'\"");
        return false;
    }
    return set_filter(p, c, bound[0], &p->spec->shape);
}

/* include("a", "b") / exclude("a", "b"): any number of names, or a list. */
static bool apply_fields(parser *p, const call *c, tf_flow_field **list, size_t *count)
{
    if (!root_first(p, c))
        return false;
    if (c->count == 0) {
        fail_at(p, c->pos, "%s needs column names, such as %s(\"order_id\", \"order_status\")",
                c->method, c->method);
        return false;
    }
    for (size_t i = 0; i < c->count; i++) {
        if (c->args[i].name) {
            fail_at(p, c->args[i].pos, "%s takes column names, not '%s='", c->method,
                    c->args[i].name);
            return false;
        }
        if (!set_fields(p, c, &c->args[i].v, "an argument", list, count))
            return false;
    }
    return true;
}

static bool apply_rename_fields(parser *p, const call *c)
{
    static const char *const params[] = {"config"};
    const value *bound[1];
    if (!bind_args(p, c, params, 1, bound) || !root_first(p, c))
        return false;
    if (!bound[0]) {
        fail_at(p, c->pos, "rename_fields needs a dict such as {\"order_status\": \"status\"}");
        return false;
    }
    return set_renames(p, c, bound[0], &p->spec->shape);
}

/* add_fields([[name, type, expression], ...]): TapFlow's shape. */
static bool apply_add_fields(parser *p, const call *c)
{
    static const char *const params[] = {"fields"};
    static const char *const types[] = {"String",  "Int",   "Integer", "Long",
                                        "Double",  "Float", "Number",  "Decimal",
                                        "Boolean", "Bool",  "Date",    "DateTime"};
    const value *bound[1];
    if (!bind_args(p, c, params, 1, bound) || !root_first(p, c))
        return false;
    const value *list = bound[0];
    if (!list || !list->is_list || list->count == 0) {
        fail_at(p, list ? list->pos : c->pos,
                "add_fields takes a list of [name, type, expression], such as [[\"total\", "
                "\"Double\", \"price + freight\"]]");
        return false;
    }
    for (size_t i = 0; i < list->count; i++) {
        const value *f = &list->items[i];
        if (!f->is_list || f->count != 3 || !f->items[0].str || !f->items[1].str ||
            !f->items[2].str) {
            fail_at(p, f->pos,
                    "each field of add_fields is [name, type, expression] (three strings)");
            return false;
        }
        const char *name = f->items[0].str, *type = f->items[1].str;
        if (!name[0] || strchr(name, '.') || name[0] == '$' || strcmp(name, "_id") == 0) {
            fail_at(p, f->items[0].pos,
                    "add_fields: \"%.60s\" is not a field name (non-empty, no '.', not "
                    "starting with '$', not _id)",
                    name);
            return false;
        }
        bool known = false;
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
            known = known || strcasecmp(types[k], type) == 0;
        if (!known) {
            fail_at(p, f->items[1].pos,
                    "add_fields: unknown type \"%.40s\" (String, Int, Long, Double, Decimal, "
                    "Boolean or Date)",
                    type);
            return false;
        }
        char msg[200];
        size_t offset;
        const value *text = &f->items[2];
        view_expr *e = view_expr_parse(text->str, strlen(text->str), &offset, msg, sizeof msg);
        if (!e) {
            fail_at(p, view_expr_pos(text->pos, text->str, offset), "add_fields \"%.60s\": %s",
                    name, msg);
            return false;
        }
        view_expr_destroy(e);
        tf_flow_spec *s = p->spec;
        s->computed = bson_realloc(s->computed, (s->computed_count + 1) * sizeof *s->computed);
        tf_flow_computed *cf = &s->computed[s->computed_count++];
        cf->name = bson_strdup(name);
        cf->type = bson_strdup(type);
        cf->expression = bson_strdup(text->str);
        cf->pos = f->pos;
        cf->expression_pos = text->pos;
    }
    return true;
}

/* The shaping operators of the root; false when method is none of them. */
static bool is_shape_method(const char *method)
{
    return strcmp(method, "filter") == 0 || strcmp(method, "include") == 0 ||
           strcmp(method, "exclude") == 0 || strcmp(method, "rename_fields") == 0 ||
           strcmp(method, "add_fields") == 0;
}

static bool apply_shape_method(parser *p, const call *c)
{
    tf_flow_shape *shape = &p->spec->shape;
    if (strcmp(c->method, "filter") == 0)
        return apply_filter(p, c);
    if (strcmp(c->method, "include") == 0)
        return apply_fields(p, c, &shape->include, &shape->include_count);
    if (strcmp(c->method, "exclude") == 0)
        return apply_fields(p, c, &shape->exclude, &shape->exclude_count);
    if (strcmp(c->method, "add_fields") == 0)
        return apply_add_fields(p, c);
    return apply_rename_fields(p, c);
}

static bool apply_lookup(parser *p, const call *c)
{
    static const char *const params[] = {"source", "path",   "type",  "relation",
                                         "filter", "fields", "rename"};
    const value *bound[7];
    if (!bind_args(p, c, params, 7, bound))
        return false;
    const value *src =
        require_string(p, c, bound[0], "source", "\"MySQL_ECommerce.ecom_customers\"");
    const value *path = src ? require_string(p, c, bound[1], "path", "\"customer_info\"") : NULL;
    const value *type = path ? require_string(p, c, bound[2], "type", "\"object\"") : NULL;
    if (!type)
        return false;
    const value *rel = bound[3];
    if (!rel) {
        fail_at(p, c->pos, "lookup needs relation=[[\"parent_field\", \"child_column\"], ...]");
        return false;
    }
    if (!p->spec->source_table) {
        fail_at(p, c->pos, "lookup before read_from: the root table comes first");
        return false;
    }
    tf_lookup_type lookup_type;
    if (strcmp(type->str, "object") == 0) {
        lookup_type = TF_LOOKUP_OBJECT;
    } else if (strcmp(type->str, "array") == 0) {
        lookup_type = TF_LOOKUP_ARRAY;
    } else {
        fail_at(p, type->pos, "type must be \"object\" or \"array\", found \"%.60s\"", type->str);
        return false;
    }
    if (!rel->is_list || rel->count == 0) {
        fail_at(p, rel->pos,
                "relation must be a non-empty list of [\"parent_field\", \"child_column\"] pairs");
        return false;
    }
    for (size_t i = 0; i < rel->count; i++) {
        const value *pair = &rel->items[i];
        if (!pair->is_list || pair->count != 2 || !pair->items[0].str || !pair->items[1].str) {
            fail_at(
                p, pair->pos,
                "each relation pair must be [\"parent_field\", \"child_column\"] (two strings)");
            return false;
        }
        if (!pair->items[0].str[0] || !pair->items[1].str[0]) {
            fail_at(p, pair->pos, "relation pair with an empty field name");
            return false;
        }
    }
    tf_flow_spec *s = p->spec;
    s->lookups = bson_realloc(s->lookups, (s->lookup_count + 1) * sizeof *s->lookups);
    tf_flow_lookup *lk = &s->lookups[s->lookup_count++];
    memset(lk, 0, sizeof *lk);
    lk->pos = c->pos;
    lk->path_pos = path->pos;
    lk->type = lookup_type;
    lk->parent = -1;
    lk->path = bson_strdup(path->str);
    lk->relations = bson_malloc0(rel->count * sizeof *lk->relations);
    lk->relation_count = rel->count;
    for (size_t i = 0; i < rel->count; i++) {
        lk->relations[i].parent_field = bson_strdup(rel->items[i].items[0].str);
        lk->relations[i].child_column = bson_strdup(rel->items[i].items[1].str);
        lk->relations[i].pos = rel->items[i].pos;
    }
    if (!split_qualified(p, src, "table", &lk->datasource, &lk->table))
        return false;
    if (bound[4] && !set_filter(p, c, bound[4], &lk->shape))
        return false;
    if (bound[5] &&
        !set_fields(p, c, bound[5], "fields", &lk->shape.include, &lk->shape.include_count))
        return false;
    return !bound[6] || set_renames(p, c, bound[6], &lk->shape);
}

/* Builder mode: tells the caller about a call (after applying it). */
static bool report_call(parser *p, const call *c)
{
    if (p->fn(p->fn_arg, p->spec, c->method, c->pos, p->err))
        return true;
    p->failed = true; /* the callback's err stands as it wrote it */
    return false;
}

static bool apply_builder_method(parser *p, const call *c)
{
    bool applied;
    if (strcmp(c->method, "read_from") == 0) {
        applied = apply_read_from(p, c);
    } else if (strcmp(c->method, "lookup") == 0) {
        applied = apply_lookup(p, c);
    } else if (strcmp(c->method, "write_to") == 0) {
        applied = apply_write_to(p, c);
    } else if (is_shape_method(c->method)) {
        applied = apply_shape_method(p, c);
    } else if (strcmp(c->method, "save") == 0 || strcmp(c->method, "start") == 0 ||
               strcmp(c->method, "stop") == 0 || strcmp(c->method, "status") == 0) {
        const value *none[1];
        applied = bind_args(p, c, NULL, 0, none);
    } else {
        fail_at(p, c->pos,
                "unknown method '%.60s' of a flow (expected read_from, filter, include, "
                "exclude, rename_fields, add_fields, lookup, write_to, save, start, stop or "
                "status)",
                c->method);
        return false;
    }
    return applied && report_call(p, c);
}

static bool apply_method(parser *p, const call *c)
{
    if (p->builder)
        return apply_builder_method(p, c);
    if (strcmp(c->method, "read_from") == 0)
        return apply_read_from(p, c);
    if (strcmp(c->method, "lookup") == 0)
        return apply_lookup(p, c);
    if (strcmp(c->method, "write_to") == 0)
        return apply_write_to(p, c);
    if (is_shape_method(c->method))
        return apply_shape_method(p, c);
    if (strcmp(c->method, "save") == 0 || strcmp(c->method, "start") == 0) {
        const value *none[1];
        if (!bind_args(p, c, NULL, 0, none))
            return false;
        /* A flow file is the saved flow: save() is what it means anyway;
         * start() is recorded so the daemon can tell a file that asks to
         * run from one that only defines. */
        if (c->method[1] == 'a')
            p->spec->saved = true;
        else
            p->spec->started = true;
        return true;
    }
    fail_at(p, c->pos,
            "unknown method '%.60s' of a flow (expected read_from, filter, include, exclude, "
            "rename_fields, add_fields, lookup, write_to, save or start)",
            c->method);
    return false;
}

static bool is_flow_variable(const parser *p, const char *name)
{
    if (p->builder)
        return builder_lookup(p->builder, name) != NULL;
    for (size_t i = 0; i < p->flow_variable_count; i++)
        if (strcmp(p->flow_variables[i], name) == 0)
            return true;
    return false;
}

/* A flow expression: Flow("name") or a variable bound to the flow, then
 * any chain of method calls. first is the name token already read. */
static bool parse_flow_expression(parser *p, const token *first)
{
    char *name = token_name(first);
    bool ok;
    if (p->cur.kind == TOK_LPAREN) {
        call c = {.method = name, .pos = first->pos};
        name = NULL;
        ok = parse_args(p, &c);
        if (ok && strcmp(c.method, "Flow") != 0) {
            fail_at(p, c.pos,
                    "unknown function '%.60s' (a flow file defines name = Flow(\"...\") and calls "
                    "its methods)",
                    c.method);
            ok = false;
        }
        if (ok && p->have_flow && !p->builder) {
            fail_at(p, c.pos, "a flow file defines one Flow (the first is at line %u)",
                    p->spec->pos.line);
            ok = false;
        }
        if (ok) {
            static const char *const params[] = {"name"};
            const value *bound[1];
            ok = bind_args(p, &c, params, 1, bound);
            const value *v =
                ok ? require_string(p, &c, bound[0], "name", "\"Order_SingleView_Sync\"") : NULL;
            if (v && !v->str[0]) {
                fail_at(p, v->pos, "the flow name is empty");
                v = NULL;
            }
            ok = v != NULL;
            if (ok && p->builder) {
                /* Each Flow() is a new flow, as in Python; it is freed at
                 * the end of the statement unless a name is bound to it. */
                if (p->unbound)
                    tf_flow_spec_destroy(p->unbound);
                p->unbound = bson_malloc0(sizeof *p->unbound);
                p->unbound->file = bson_strdup(p->file);
                p->spec = p->unbound;
            }
            if (ok) {
                p->have_flow = true;
                p->spec->name = bson_strdup(v->str);
                p->spec->pos = c.pos;
            }
        }
        call_cleanup(&c);
    } else {
        ok = is_flow_variable(p, name);
        if (!ok)
            fail_at(p, first->pos, "unknown name '%.60s' (define it with %.60s = Flow(\"name\"))",
                    name, name);
        else if (p->builder)
            p->spec = builder_lookup(p->builder, name);
    }
    bson_free(name);
    while (ok) {
        if (p->cur.kind == TOK_NEWLINE) {
            /* A line starting with '.' continues the chain. */
            lexer saved_lex = p->lex;
            token saved_tok = p->cur;
            bool lexed = true;
            while (lexed && p->cur.kind == TOK_NEWLINE)
                lexed = next_token(p);
            if (!lexed)
                return false;
            if (p->cur.kind != TOK_DOT) {
                p->lex = saved_lex;
                p->cur = saved_tok;
                break;
            }
        }
        if (p->cur.kind != TOK_DOT)
            break;
        if (!next_token(p))
            return false;
        if (p->cur.kind != TOK_NAME) {
            fail_expected(p, "a method name after '.'");
            return false;
        }
        call c = {.method = token_name(&p->cur), .pos = p->cur.pos};
        ok = next_token(p) && parse_args(p, &c) && apply_method(p, &c);
        call_cleanup(&c);
    }
    return ok;
}

/* Binds variable to spec, freeing the spec it was bound to when no other
 * name holds that one. */
static void builder_bind(tf_flow_builder *b, const char *variable, tf_flow_spec *spec)
{
    binding *slot = NULL;
    for (size_t i = 0; i < b->count; i++)
        if (strcmp(b->bindings[i].variable, variable) == 0)
            slot = &b->bindings[i];
    if (!slot) {
        b->bindings = bson_realloc(b->bindings, (b->count + 1) * sizeof *b->bindings);
        slot = &b->bindings[b->count++];
        slot->variable = bson_strdup(variable);
        slot->spec = NULL;
    }
    tf_flow_spec *old = slot->spec;
    slot->spec = spec;
    if (!old || old == spec)
        return;
    for (size_t i = 0; i < b->count; i++)
        if (b->bindings[i].spec == old)
            return;
    tf_flow_spec_destroy(old);
}

static bool parse_statement(parser *p)
{
    if (p->cur.kind != TOK_NAME) {
        fail_expected(p, "a statement (name = Flow(\"...\") or name.method(...))");
        return false;
    }
    token first = p->cur;
    if (!next_token(p))
        return false;
    if (p->cur.kind == TOK_EQUALS) {
        if (!next_token(p))
            return false;
        if (p->cur.kind != TOK_NAME) {
            fail_expected(p, "Flow(\"name\") after '='");
            return false;
        }
        token value_start = p->cur;
        if (!next_token(p) || !parse_flow_expression(p, &value_start))
            return false;
        char *var = token_name(&first);
        if (p->builder) {
            builder_bind(p->builder, var, p->spec);
            if (p->spec == p->unbound)
                p->unbound = NULL;
            bson_free(var);
        } else if (is_flow_variable(p, var)) {
            bson_free(var);
        } else if (p->flow_variable_count == 16) {
            bson_free(var);
            fail_at(p, first.pos, "too many names for the flow");
            return false;
        } else {
            p->flow_variables[p->flow_variable_count++] = var;
        }
    } else if (!parse_flow_expression(p, &first)) {
        return false;
    }
    if (p->cur.kind == TOK_SEMICOLON || p->cur.kind == TOK_NEWLINE)
        return next_token(p);
    if (p->cur.kind != TOK_EOF) {
        fail_expected(p, "';' or end of line after the statement");
        return false;
    }
    return true;
}

tf_status tf_flow_parse(const char *text, size_t len, const char *file, tf_flow_spec **out,
                        tf_error *err)
{
    *out = NULL;
    parser p = {.lex = {.text = text, .len = len, .line = 1, .column = 1},
                .file = file ? file : "flow",
                .err = err};
    p.spec = bson_malloc0(sizeof *p.spec);
    p.spec->file = bson_strdup(p.file);
    bool ok = next_token(&p);
    while (ok && p.cur.kind != TOK_EOF) {
        if (p.cur.kind == TOK_NEWLINE || p.cur.kind == TOK_SEMICOLON)
            ok = next_token(&p);
        else
            ok = parse_statement(&p);
    }
    for (size_t i = 0; i < p.flow_variable_count; i++)
        bson_free(p.flow_variables[i]);
    if (ok && !p.have_flow) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "%.200s: no flow defined (expected name = Flow(\"...\"))", p.file);
        ok = false;
    }
    if (ok)
        ok = tf_flow_spec_validate(p.spec, err) == TF_OK;
    if (!ok) {
        tf_flow_spec_destroy(p.spec);
        return TF_MALFORMED;
    }
    *out = p.spec;
    return TF_OK;
}

tf_status tf_flow_parse_file(const char *path, tf_flow_spec **out, tf_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tf_error_set(err, TF_ERR_IO, 0, "%.300s: cannot open the flow file: %m", path);
    size_t cap = 4096, len = 0;
    char *buf = bson_malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            if (cap >= (size_t)16 << 20) {
                fclose(f);
                bson_free(buf);
                return tf_error_set(err, TF_ERR_CONFIG, 0, "%.300s: flow file larger than 16 MiB",
                                    path);
            }
            cap *= 2;
            buf = bson_realloc(buf, cap);
        }
    }
    bool read_error = ferror(f) != 0;
    fclose(f);
    tf_status st;
    if (read_error)
        st = tf_error_set(err, TF_ERR_IO, 0, "%.300s: cannot read the flow file", path);
    else
        st = tf_flow_parse(buf, len, path, out, err);
    bson_free(buf);
    return st;
}

/* ---- statement at a time (an interactive shell) ---- */

bool tf_flow_text_complete(const char *text, size_t len)
{
    tf_error ignored = {0};
    parser p = {
        .lex = {.text = text, .len = len, .line = 1, .column = 1}, .file = "", .err = &ignored};
    bool ok = next_token(&p);
    while (ok && p.cur.kind != TOK_EOF)
        ok = next_token(&p);
    /* A lexical error is complete: running the text reports it. */
    return !ok || (p.lex.depth == 0 && !p.lex.trailing_backslash);
}

tf_flow_builder *tf_flow_builder_new(void) { return bson_malloc0(sizeof(tf_flow_builder)); }

void tf_flow_builder_destroy(tf_flow_builder *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++) {
        tf_flow_spec *spec = b->bindings[i].spec;
        bool last = true; /* the last binding of a shared spec frees it */
        for (size_t k = i + 1; k < b->count; k++)
            if (b->bindings[k].spec == spec)
                last = false;
        if (last)
            tf_flow_spec_destroy(spec);
        bson_free(b->bindings[i].variable);
    }
    bson_free(b->bindings);
    bson_free(b);
}

tf_flow_spec *tf_flow_builder_get(const tf_flow_builder *b, const char *variable)
{
    return builder_lookup(b, variable);
}

tf_status tf_flow_builder_run(tf_flow_builder *b, const char *text, size_t len, const char *file,
                              unsigned first_line, tf_flow_call_fn fn, void *arg, tf_error *err)
{
    parser p = {.lex = {.text = text, .len = len, .line = first_line ? first_line : 1, .column = 1},
                .file = file ? file : "input",
                .err = err,
                .builder = b,
                .fn = fn,
                .fn_arg = arg};
    bool ok = next_token(&p);
    while (ok && p.cur.kind != TOK_EOF) {
        if (p.cur.kind == TOK_NEWLINE || p.cur.kind == TOK_SEMICOLON) {
            ok = next_token(&p);
            continue;
        }
        ok = parse_statement(&p);
        if (p.unbound) {
            tf_flow_spec_destroy(p.unbound);
            p.unbound = NULL;
        }
    }
    if (p.unbound)
        tf_flow_spec_destroy(p.unbound);
    return ok ? TF_OK : TF_MALFORMED;
}

tf_status tf_flow_spec_check(tf_flow_spec *spec, tf_error *err)
{
    return tf_flow_spec_validate(spec, err);
}

/* A string literal of the language: token_string reads it back. */
static void put_literal(bson_string_t *out, const char *s)
{
    bson_string_append_c(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            bson_string_append_c(out, '\\');
        if (*s == '\n')
            bson_string_append(out, "\\n");
        else if (*s == '\t')
            bson_string_append(out, "\\t");
        else
            bson_string_append_c(out, *s);
    }
    bson_string_append_c(out, '"');
}

static void put_qualified(bson_string_t *out, const char *datasource, const char *name)
{
    char *joined = bson_strdup_printf("%s.%s", datasource, name);
    put_literal(out, joined);
    bson_free(joined);
}

static void put_name_list(bson_string_t *out, const tf_flow_field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (i)
            bson_string_append(out, ", ");
        put_literal(out, fields[i].name);
    }
}

static void put_rename_dict(bson_string_t *out, const tf_flow_shape *shape)
{
    bson_string_append(out, "{");
    for (size_t i = 0; i < shape->rename_count; i++) {
        if (i)
            bson_string_append(out, ", ");
        put_literal(out, shape->renames[i].name);
        bson_string_append(out, ": ");
        put_literal(out, shape->renames[i].new_name);
    }
    bson_string_append(out, "}");
}

char *tf_flow_spec_to_text(const tf_flow_spec *spec, const char *variable)
{
    bson_string_t *out = bson_string_new("");
    bson_string_append_printf(out, "%s = Flow(", variable);
    put_literal(out, spec->name ? spec->name : "");
    bson_string_append(out, ")\n");
    if (spec->source_table) {
        bson_string_append_printf(out, "%s.read_from(", variable);
        put_qualified(out, spec->source_datasource, spec->source_table);
        bson_string_append(out, ")\n");
    }
    const tf_flow_shape *root = &spec->shape;
    if (root->filter) {
        bson_string_append_printf(out, "%s.filter(", variable);
        put_literal(out, root->filter);
        bson_string_append(out, ")\n");
    }
    if (root->include_count) {
        bson_string_append_printf(out, "%s.include(", variable);
        put_name_list(out, root->include, root->include_count);
        bson_string_append(out, ")\n");
    }
    if (root->exclude_count) {
        bson_string_append_printf(out, "%s.exclude(", variable);
        put_name_list(out, root->exclude, root->exclude_count);
        bson_string_append(out, ")\n");
    }
    if (root->rename_count) {
        bson_string_append_printf(out, "%s.rename_fields(", variable);
        put_rename_dict(out, root);
        bson_string_append(out, ")\n");
    }
    if (spec->computed_count) {
        bson_string_append_printf(out, "%s.add_fields([", variable);
        for (size_t i = 0; i < spec->computed_count; i++) {
            const tf_flow_computed *cf = &spec->computed[i];
            bson_string_append(out, i ? ",\n    [" : "[");
            put_literal(out, cf->name);
            bson_string_append(out, ", ");
            put_literal(out, cf->type);
            bson_string_append(out, ", ");
            put_literal(out, cf->expression);
            bson_string_append(out, "]");
        }
        bson_string_append(out, "])\n");
    }
    for (size_t i = 0; i < spec->lookup_count; i++) {
        const tf_flow_lookup *lk = &spec->lookups[i];
        bson_string_append_printf(out, "%s.lookup(", variable);
        put_qualified(out, lk->datasource, lk->table);
        bson_string_append(out, ",\n    path=");
        put_literal(out, lk->path);
        bson_string_append_printf(out, ", type=\"%s\",\n    relation=[",
                                  lk->type == TF_LOOKUP_ARRAY ? "array" : "object");
        for (size_t r = 0; r < lk->relation_count; r++) {
            bson_string_append(out, r ? ", [" : "[");
            put_literal(out, lk->relations[r].parent_field);
            bson_string_append(out, ", ");
            put_literal(out, lk->relations[r].child_column);
            bson_string_append(out, "]");
        }
        bson_string_append(out, "]");
        if (lk->shape.filter) {
            bson_string_append(out, ",\n    filter=");
            put_literal(out, lk->shape.filter);
        }
        if (lk->shape.include_count) {
            bson_string_append(out, ",\n    fields=[");
            put_name_list(out, lk->shape.include, lk->shape.include_count);
            bson_string_append(out, "]");
        }
        if (lk->shape.rename_count) {
            bson_string_append(out, ",\n    rename=");
            put_rename_dict(out, &lk->shape);
        }
        bson_string_append(out, ")\n");
    }
    if (spec->target_collection) {
        bson_string_append_printf(out, "%s.write_to(", variable);
        put_qualified(out, spec->target_datasource, spec->target_collection);
        bson_string_append(out, ")\n");
    }
    return bson_string_free(out, false);
}
