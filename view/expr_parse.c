/* expr_parse.c — expression text to a tree (see expr_internal.h).
 *
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | test
 *   test    := sum [ cmp sum | [NOT] IN (literal, ...)
 *                   | [NOT] LIKE string | IS [NOT] NULL ]
 *   sum     := product (('+' | '-') product)*
 *   product := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | operand
 *   operand := column | `column` | literal | ( or ) | name(or, ...)
 *            | CASE (WHEN or THEN or)+ [ELSE or] END
 *   literal := [-]number | 'string' | "string" | NULL | TRUE | FALSE
 *   cmp     := = | == | != | <> | < | <= | > | >=
 *
 * Keywords are case-insensitive. Nesting is bounded so that no text can
 * exhaust the stack. */
#include "expr_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64

typedef struct expr_parser {
    const char *text;
    size_t len, pos;
    int depth;
    bool failed;
    size_t fail_offset;
    char *msg;
    size_t msg_cap;
} expr_parser;

static void fail(expr_parser *p, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(expr_parser *p, size_t offset, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    p->fail_offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg, p->msg_cap, fmt, ap);
    va_end(ap);
}

static void skip_space(expr_parser *p)
{
    while (p->pos < p->len && (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' ||
                               p->text[p->pos] == '\n' || p->text[p->pos] == '\r'))
        p->pos++;
}

static bool is_name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the name at the current position (0: none). */
static size_t name_length(const expr_parser *p)
{
    size_t n = 0;
    while (p->pos + n < p->len && is_name_char(p->text[p->pos + n], n == 0))
        n++;
    return n;
}

/* Consumes keyword kw (case-insensitive, whole word) when it comes next. */
static bool accept_keyword(expr_parser *p, const char *kw)
{
    skip_space(p);
    size_t n = name_length(p);
    if (n != strlen(kw))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p->text[p->pos + i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != kw[i])
            return false;
    }
    p->pos += n;
    return true;
}

static bool accept_char(expr_parser *p, char c)
{
    skip_space(p);
    if (p->pos < p->len && p->text[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* "found ')'" / "found the end" for messages. */
static void describe_next(expr_parser *p, char *out, size_t cap)
{
    skip_space(p);
    if (p->pos >= p->len) {
        snprintf(out, cap, "the end of the condition");
        return;
    }
    size_t n = name_length(p);
    if (n)
        snprintf(out, cap, "'%.*s'", (int)(n > 40 ? 40 : n), p->text + p->pos);
    else if ((unsigned char)p->text[p->pos] < 0x20 || (unsigned char)p->text[p->pos] >= 0x7f)
        snprintf(out, cap, "byte 0x%02x", (unsigned)(unsigned char)p->text[p->pos]);
    else
        snprintf(out, cap, "'%c'", p->text[p->pos]);
}

static void fail_expected(expr_parser *p, const char *what)
{
    char found[64];
    describe_next(p, found, sizeof found);
    fail(p, p->pos, "expected %s, found %s", what, found);
}

static view_expr *new_node(view_expr_kind kind, size_t offset)
{
    view_expr *e = bson_malloc0(sizeof *e);
    e->kind = kind;
    e->offset = offset;
    e->column = -1;
    return e;
}

static void add_arg(view_expr *e, view_expr *arg)
{
    e->args = bson_realloc(e->args, (e->arg_count + 1) * sizeof *e->args);
    e->args[e->arg_count++] = arg;
}

void view_expr_destroy(view_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->arg_count; i++)
        view_expr_destroy(e->args[i]);
    bson_free(e->args);
    bson_free(e->text);
    bson_free(e);
}

/* 'it''s' or "say \"x\"": the quote doubled or backslash-escaped, as SQL
 * and MySQL write them. */
static view_expr *parse_string(expr_parser *p)
{
    size_t start = p->pos;
    char quote = p->text[p->pos++];
    char *out = bson_malloc(p->len - start + 1);
    size_t n = 0;
    for (;;) {
        if (p->pos >= p->len) {
            bson_free(out);
            fail(p, start, "unterminated string (it needs a closing %c)", quote);
            return NULL;
        }
        char c = p->text[p->pos++];
        if (c == quote) {
            if (p->pos < p->len && p->text[p->pos] == quote) {
                out[n++] = quote;
                p->pos++;
                continue;
            }
            break;
        }
        if (c == '\\' && p->pos < p->len)
            c = p->text[p->pos++];
        out[n++] = c;
    }
    out[n] = '\0';
    view_expr *e = new_node(VIEW_EXPR_STRING, start);
    e->text = out;
    e->text_len = n;
    return e;
}

static view_expr *parse_number(expr_parser *p, size_t start)
{
    size_t digits_at = p->pos;
    while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
        p->pos++;
    if (p->pos < p->len && p->text[p->pos] == '.') {
        p->pos++;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
            p->pos++;
    }
    if (p->pos < p->len && (p->text[p->pos] == 'e' || p->text[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->text[p->pos] == '+' || p->text[p->pos] == '-'))
            p->pos++;
        size_t exp_at = p->pos;
        while (p->pos < p->len && p->text[p->pos] >= '0' && p->text[p->pos] <= '9')
            p->pos++;
        if (p->pos == exp_at) {
            fail(p, start, "malformed number (an exponent needs digits)");
            return NULL;
        }
    }
    if (p->pos < p->len && is_name_char(p->text[p->pos], false)) {
        fail(p, start, "malformed number");
        return NULL;
    }
    view_expr *e = new_node(VIEW_EXPR_NUMBER, start);
    bool negative = start < digits_at;
    e->text_len = (p->pos - digits_at) + (negative ? 1 : 0);
    e->text = bson_malloc(e->text_len + 1);
    if (negative)
        e->text[0] = '-';
    memcpy(e->text + (negative ? 1 : 0), p->text + digits_at, p->pos - digits_at);
    e->text[e->text_len] = '\0';
    return e;
}

static view_expr *parse_or(expr_parser *p);

/* Functions by name (case-insensitive) and how many arguments they take
 * (0: one or more). */
static const struct {
    const char *name;
    size_t args;
} functions[] = {{"CONCAT", 0}, {"IF", 3},   {"YEAR", 1},   {"MONTH", 1},
                 {"DAY", 1},    {"HOUR", 1}, {"MINUTE", 1}, {"SECOND", 1}};

static bool enter(expr_parser *p, size_t at, const char *what)
{
    if (++p->depth <= MAX_DEPTH)
        return true;
    fail(p, at, "%s nest deeper than %d", what, MAX_DEPTH);
    return false;
}

/* name( or, ... ): p->pos is at the '('. */
static view_expr *parse_function(expr_parser *p, size_t start, size_t name_len)
{
    long known = -1;
    for (size_t i = 0; i < sizeof functions / sizeof functions[0]; i++)
        if (strlen(functions[i].name) == name_len &&
            strncasecmp(functions[i].name, p->text + start, name_len) == 0)
            known = (long)i;
    if (known < 0) {
        fail(p, start,
             "unknown function '%.*s' (known: CONCAT, IF, YEAR, MONTH, DAY, HOUR, MINUTE, "
             "SECOND)",
             (int)(name_len > 40 ? 40 : name_len), p->text + start);
        return NULL;
    }
    if (!enter(p, start, "function calls"))
        return NULL;
    p->pos++; /* '(' */
    view_expr *e = new_node(VIEW_EXPR_FUNCTION, start);
    e->text = bson_strdup(functions[known].name);
    e->text_len = strlen(e->text);
    do {
        view_expr *arg = parse_or(p);
        if (!arg) {
            view_expr_destroy(e);
            p->depth--;
            return NULL;
        }
        add_arg(e, arg);
    } while (accept_char(p, ','));
    p->depth--;
    if (!accept_char(p, ')')) {
        fail_expected(p, "',' or ')' after a function argument");
        view_expr_destroy(e);
        return NULL;
    }
    size_t want = functions[known].args;
    if (want && e->arg_count != want) {
        fail(p, start, "%s takes %zu argument%s, not %zu", e->text, want, want == 1 ? "" : "s",
             e->arg_count);
        view_expr_destroy(e);
        return NULL;
    }
    return e;
}

/* CASE WHEN c THEN v ... [ELSE v] END: args are c, v, c, v, ... [else]. */
static view_expr *parse_case(expr_parser *p, size_t start)
{
    if (!enter(p, start, "CASE expressions"))
        return NULL;
    view_expr *e = new_node(VIEW_EXPR_CASE, start);
    bool ok = true;
    while (ok && accept_keyword(p, "WHEN")) {
        view_expr *cond = parse_or(p);
        if (cond)
            add_arg(e, cond);
        ok = cond != NULL;
        if (ok && !accept_keyword(p, "THEN")) {
            fail_expected(p, "THEN");
            ok = false;
        }
        view_expr *v = ok ? parse_or(p) : NULL;
        if (v)
            add_arg(e, v);
        ok = ok && v != NULL;
    }
    if (ok && e->arg_count == 0) {
        fail_expected(p, "WHEN after CASE");
        ok = false;
    }
    if (ok && accept_keyword(p, "ELSE")) {
        view_expr *v = parse_or(p);
        if (v) {
            add_arg(e, v);
            e->has_else = true;
        }
        ok = v != NULL;
    }
    if (ok && !accept_keyword(p, "END")) {
        fail_expected(p, "WHEN, ELSE or END");
        ok = false;
    }
    p->depth--;
    if (!ok) {
        view_expr_destroy(e);
        return NULL;
    }
    return e;
}

static bool is_digit_at(const expr_parser *p, size_t at)
{
    return at < p->len && ((p->text[at] >= '0' && p->text[at] <= '9') ||
                           (p->text[at] == '.' && at + 1 < p->len && p->text[at + 1] >= '0' &&
                            p->text[at + 1] <= '9'));
}

static view_expr *parse_operand(expr_parser *p)
{
    skip_space(p);
    size_t start = p->pos;
    if (p->pos >= p->len) {
        fail_expected(p, "a column or a value");
        return NULL;
    }
    char c = p->text[p->pos];
    if (c == '(') {
        p->pos++;
        if (++p->depth > MAX_DEPTH) {
            fail(p, start, "parentheses nest deeper than %d", MAX_DEPTH);
            return NULL;
        }
        view_expr *inner = parse_or(p);
        p->depth--;
        if (!inner)
            return NULL;
        if (!accept_char(p, ')')) {
            fail_expected(p, "')'");
            view_expr_destroy(inner);
            return NULL;
        }
        return inner;
    }
    if (c == '\'' || c == '"')
        return parse_string(p);
    if (c == '-' && is_digit_at(p, p->pos + 1)) {
        p->pos++;
        return parse_number(p, start);
    }
    if (is_digit_at(p, p->pos))
        return parse_number(p, start);
    if (c == '`') {
        const char *end = memchr(p->text + p->pos + 1, '`', p->len - p->pos - 1);
        if (!end || end == p->text + p->pos + 1) {
            fail(p, start, "a `quoted` column name needs a closing ` and a name");
            return NULL;
        }
        view_expr *e = new_node(VIEW_EXPR_COLUMN, start);
        e->text = tf_strndup(p->text + p->pos + 1, (size_t)(end - (p->text + p->pos + 1)));
        e->text_len = strlen(e->text);
        p->pos = (size_t)(end - p->text) + 1;
        return e;
    }
    if (accept_keyword(p, "NULL"))
        return new_node(VIEW_EXPR_NULL, start);
    if (accept_keyword(p, "CASE"))
        return parse_case(p, start);
    if (accept_keyword(p, "TRUE") || accept_keyword(p, "FALSE")) {
        view_expr *e = new_node(VIEW_EXPR_BOOL, start);
        e->truth = p->text[start] == 't' || p->text[start] == 'T';
        return e;
    }
    static const char *const reserved[] = {"AND",  "OR",   "NOT",  "IN",  "LIKE", "IS",
                                           "WHEN", "THEN", "ELSE", "END", "CASE"};
    size_t n = name_length(p);
    for (size_t i = 0; n && i < sizeof reserved / sizeof reserved[0]; i++) {
        size_t save = p->pos;
        if (accept_keyword(p, reserved[i])) {
            p->pos = save;
            n = 0;
        }
    }
    if (!n) {
        fail_expected(p, "a column or a value");
        return NULL;
    }
    if (p->pos + n < p->len && p->text[p->pos + n] == '(') {
        p->pos += n;
        return parse_function(p, start, n);
    }
    view_expr *e = new_node(VIEW_EXPR_COLUMN, start);
    e->text = tf_strndup(p->text + p->pos, n);
    e->text_len = n;
    p->pos += n;
    return e;
}

static bool accept_cmp(expr_parser *p, view_expr_cmp *out)
{
    skip_space(p);
    static const struct {
        const char *op;
        view_expr_cmp cmp;
    } ops[] = {{"==", VIEW_CMP_EQ}, {"!=", VIEW_CMP_NE}, {"<>", VIEW_CMP_NE}, {"<=", VIEW_CMP_LE},
               {">=", VIEW_CMP_GE}, {"=", VIEW_CMP_EQ},  {"<", VIEW_CMP_LT},  {">", VIEW_CMP_GT}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].op);
        if (p->pos + n <= p->len && memcmp(p->text + p->pos, ops[i].op, n) == 0) {
            p->pos += n;
            *out = ops[i].cmp;
            return true;
        }
    }
    return false;
}

static bool is_literal(const view_expr *e)
{
    return e->kind == VIEW_EXPR_NUMBER || e->kind == VIEW_EXPR_STRING ||
           e->kind == VIEW_EXPR_NULL || e->kind == VIEW_EXPR_BOOL;
}

/* [NOT] IN ( literal, ... ): left is the tested operand. */
static view_expr *parse_in(expr_parser *p, view_expr *left, size_t at, bool negated)
{
    view_expr *e = new_node(VIEW_EXPR_IN, at);
    e->negated = negated;
    add_arg(e, left);
    if (!accept_char(p, '(')) {
        fail_expected(p, "'(' after IN");
        view_expr_destroy(e);
        return NULL;
    }
    do {
        view_expr *item = parse_operand(p);
        if (item && !is_literal(item)) {
            fail(p, item->offset, "IN takes a list of values (numbers, strings, NULL)");
            view_expr_destroy(item);
            item = NULL;
        }
        if (!item) {
            view_expr_destroy(e);
            return NULL;
        }
        add_arg(e, item);
    } while (accept_char(p, ','));
    if (!accept_char(p, ')')) {
        fail_expected(p, "',' or ')' in the IN list");
        view_expr_destroy(e);
        return NULL;
    }
    return e;
}

static view_expr *parse_unary(expr_parser *p)
{
    skip_space(p);
    size_t at = p->pos;
    if (p->pos < p->len && p->text[p->pos] == '-' && !is_digit_at(p, p->pos + 1)) {
        p->pos++;
        if (!enter(p, at, "signs"))
            return NULL;
        view_expr *inner = parse_unary(p);
        p->depth--;
        if (!inner)
            return NULL;
        view_expr *e = new_node(VIEW_EXPR_NEGATE, at);
        add_arg(e, inner);
        return e;
    }
    return parse_operand(p);
}

/* Left-associative chains of the operators in ops over operand(). */
static view_expr *parse_arith(expr_parser *p, const char *ops, view_expr *(*operand)(expr_parser *))
{
    view_expr *left = operand(p);
    for (;;) {
        if (!left)
            return NULL;
        skip_space(p);
        if (p->pos >= p->len || p->text[p->pos] == '\0' || !strchr(ops, p->text[p->pos]))
            return left;
        view_expr *e = new_node(VIEW_EXPR_ARITH, p->pos);
        e->op = p->text[p->pos++];
        add_arg(e, left);
        view_expr *right = operand(p);
        if (!right) {
            view_expr_destroy(e);
            return NULL;
        }
        add_arg(e, right);
        left = e;
    }
}

static view_expr *parse_product(expr_parser *p) { return parse_arith(p, "*/%", parse_unary); }

static view_expr *parse_sum(expr_parser *p) { return parse_arith(p, "+-", parse_product); }

static view_expr *parse_test(expr_parser *p)
{
    view_expr *left = parse_sum(p);
    if (!left)
        return NULL;
    skip_space(p);
    size_t at = p->pos;
    view_expr_cmp cmp;
    if (accept_cmp(p, &cmp)) {
        view_expr *right = parse_sum(p);
        if (!right) {
            view_expr_destroy(left);
            return NULL;
        }
        view_expr *e = new_node(VIEW_EXPR_COMPARE, at);
        e->cmp = cmp;
        add_arg(e, left);
        add_arg(e, right);
        return e;
    }
    if (accept_keyword(p, "IS")) {
        view_expr *e = new_node(VIEW_EXPR_IS_NULL, at);
        e->negated = accept_keyword(p, "NOT");
        add_arg(e, left);
        if (!accept_keyword(p, "NULL")) {
            fail_expected(p, e->negated ? "NULL after IS NOT" : "NULL or NOT NULL after IS");
            view_expr_destroy(e);
            return NULL;
        }
        return e;
    }
    size_t before_not = p->pos;
    bool negated = accept_keyword(p, "NOT");
    if (accept_keyword(p, "IN"))
        return parse_in(p, left, at, negated);
    if (accept_keyword(p, "LIKE")) {
        view_expr *e = new_node(VIEW_EXPR_LIKE, at);
        e->negated = negated;
        add_arg(e, left);
        skip_space(p);
        view_expr *pattern = p->pos < p->len && (p->text[p->pos] == '\'' || p->text[p->pos] == '"')
                                 ? parse_string(p)
                                 : NULL;
        if (!pattern) {
            fail_expected(p, "a quoted pattern after LIKE");
            view_expr_destroy(e);
            return NULL;
        }
        add_arg(e, pattern);
        return e;
    }
    if (negated) {
        p->pos = before_not;
        fail_expected(p, "IN or LIKE after NOT");
        view_expr_destroy(left);
        return NULL;
    }
    return left;
}

static view_expr *parse_not(expr_parser *p)
{
    skip_space(p);
    size_t at = p->pos;
    if (accept_keyword(p, "NOT")) {
        if (++p->depth > MAX_DEPTH) {
            fail(p, at, "NOT nests deeper than %d", MAX_DEPTH);
            return NULL;
        }
        view_expr *inner = parse_not(p);
        p->depth--;
        if (!inner)
            return NULL;
        view_expr *e = new_node(VIEW_EXPR_NOT, at);
        add_arg(e, inner);
        return e;
    }
    return parse_test(p);
}

/* left (keyword operand)*: AND and OR chains as one node each. */
static view_expr *parse_chain(expr_parser *p, const char *keyword, view_expr_kind kind,
                              view_expr *(*operand)(expr_parser *))
{
    view_expr *first = operand(p);
    if (!first)
        return NULL;
    skip_space(p);
    size_t at = p->pos;
    if (!accept_keyword(p, keyword))
        return first;
    view_expr *e = new_node(kind, at);
    add_arg(e, first);
    do {
        view_expr *next = operand(p);
        if (!next) {
            view_expr_destroy(e);
            return NULL;
        }
        add_arg(e, next);
    } while (accept_keyword(p, keyword));
    return e;
}

static view_expr *parse_and(expr_parser *p)
{
    return parse_chain(p, "AND", VIEW_EXPR_AND, parse_not);
}

static view_expr *parse_or(expr_parser *p) { return parse_chain(p, "OR", VIEW_EXPR_OR, parse_and); }

view_expr *view_expr_parse(const char *text, size_t len, size_t *offset, char *msg, size_t msg_cap)
{
    expr_parser p = {.text = text, .len = len, .msg = msg, .msg_cap = msg_cap};
    skip_space(&p);
    if (p.pos == len) {
        fail(&p, 0, "the condition is empty");
        *offset = 0;
        return NULL;
    }
    view_expr *e = parse_or(&p);
    skip_space(&p);
    if (e && p.pos < len) {
        fail_expected(&p, "AND, OR or the end of the condition");
        view_expr_destroy(e);
        e = NULL;
    }
    if (!e)
        *offset = p.fail_offset;
    return e;
}

tf_flow_pos view_expr_pos(tf_flow_pos string_pos, const char *text, size_t offset)
{
    tf_flow_pos pos = {string_pos.line, string_pos.column + 1};
    for (size_t i = 0; i < offset && text[i]; i++) {
        if (text[i] == '\n') {
            pos.line++;
            pos.column = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            pos.column++;
        }
    }
    return pos;
}
