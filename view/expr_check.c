/* expr_check.c — a condition's names resolved against a table and its
 * comparisons checked (see expr_internal.h).
 *
 * A comparison is between two values of one class: numbers with numbers,
 * strings with strings, dates and times with dates and times. A string
 * literal compared with a DATE, DATETIME, TIMESTAMP or TIME column is read
 * as one ('2018-01-01', '2018-01-01 10:00:00'; TIMESTAMP in UTC), once,
 * here: a string that is not a date is an error, not a silent FALSE. */
#include "expr_internal.h"
#include "view_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct checker {
    const char *table;
    const tf_column *columns;
    size_t column_count;
    size_t *offset;
    char *msg;
    size_t msg_cap;
} checker;

static bool fail(checker *c, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(checker *c, size_t offset, const char *fmt, ...)
{
    *c->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, c->msg_cap, fmt, ap);
    va_end(ap);
    return false;
}

/* A column's class follows its join family (key.c); ENUM and SET, which
 * join by member index, compare as their names. */
static view_value_class class_of_column(const tf_column *col)
{
    if (col->type == TF_TYPE_ENUM || col->type == TF_TYPE_SET)
        return VIEW_CLASS_STRING;
    switch (view_key_family_of(col)) {
    case VIEW_KEY_INTEGER:
    case VIEW_KEY_FLOAT:
    case VIEW_KEY_DECIMAL: return VIEW_CLASS_NUMBER;
    case VIEW_KEY_STRING: return VIEW_CLASS_STRING;
    case VIEW_KEY_TEMPORAL:
    case VIEW_KEY_TIMESTAMP: return VIEW_CLASS_INSTANT;
    case VIEW_KEY_TIME: return VIEW_CLASS_TIME;
    default: return VIEW_CLASS_OTHER;
    }
}

/* "DATE column order_date", "a number", ... */
static void describe(const checker *c, const view_expr *e, char *out, size_t cap)
{
    switch (e->kind) {
    case VIEW_EXPR_COLUMN:
        snprintf(out, cap, "%s column %.100s", tf_column_type_name(c->columns[e->column].type),
                 e->text);
        break;
    case VIEW_EXPR_NUMBER: snprintf(out, cap, "the number %.40s", e->text); break;
    case VIEW_EXPR_STRING: snprintf(out, cap, "the string '%.60s'", e->text); break;
    case VIEW_EXPR_BOOL: snprintf(out, cap, "%s", e->truth ? "TRUE" : "FALSE"); break;
    default: {
        static const char *const computed[] = {[VIEW_CLASS_NULL] = "NULL",
                                               [VIEW_CLASS_NUMBER] = "a computed number",
                                               [VIEW_CLASS_STRING] = "a computed string",
                                               [VIEW_CLASS_INSTANT] = "a computed date",
                                               [VIEW_CLASS_TIME] = "a computed time",
                                               [VIEW_CLASS_BOOL] = "a condition",
                                               [VIEW_CLASS_OTHER] = "a value"};
        snprintf(out, cap, "%s", computed[e->value_class]);
        break;
    }
    }
}

/* A number literal: normalised decimal text, or a double when written
 * with an exponent. */
static void number_literal(view_expr *e)
{
    view_scalar *s = &e->literal;
    if (strchr(e->text, 'e') || strchr(e->text, 'E')) {
        s->kind = VIEW_SCALAR_DOUBLE;
        s->d = strtod(e->text, NULL);
        return;
    }
    tf_value v = {.kind = TF_VAL_DECIMAL};
    snprintf(v.decimal.text, sizeof v.decimal.text, "%s", e->text);
    view_scalar_of_value(&v, NULL, s);
}

/* A string literal read as the instant or time a column of class cls
 * holds; false when it is not one. */
static bool temporal_literal(view_expr *e, view_value_class cls)
{
    static const uint8_t instant_types[] = {TF_TYPE_DATE, TF_TYPE_DATETIME2};
    static const uint8_t time_types[] = {TF_TYPE_TIME2};
    const uint8_t *types = cls == VIEW_CLASS_TIME ? time_types : instant_types;
    size_t count = cls == VIEW_CLASS_TIME ? 1 : 2;
    for (size_t i = 0; i < count; i++) {
        tf_column col = {.type = types[i], .meta = 6};
        tf_value v;
        tf_error ignored = {0};
        memset(&v, 0, sizeof v);
        if (tf_value_from_text(&col, e->text, e->text_len, &v, &ignored) == TF_OK) {
            view_scalar_of_value(&v, &col, &e->literal);
            return true;
        }
    }
    return false;
}

static bool check(checker *c, view_expr *e);

/* Operands of comparisons, IN and LIKE: columns and literals. */
static bool check_operand(checker *c, view_expr *e)
{
    if (e->kind == VIEW_EXPR_COLUMN) {
        for (size_t i = 0; i < c->column_count; i++)
            if (c->columns[i].name.len == e->text_len &&
                memcmp(c->columns[i].name.ptr, e->text, e->text_len) == 0)
                e->column = (long)i;
        if (e->column < 0)
            return fail(c, e->offset, "unknown column \"%.100s\" of table %.100s", e->text,
                        c->table);
        e->value_class = class_of_column(&c->columns[e->column]);
        uint8_t type = c->columns[e->column].type;
        e->integral = e->value_class == VIEW_CLASS_NUMBER && type != TF_TYPE_FLOAT &&
                      type != TF_TYPE_DOUBLE && type != TF_TYPE_DECIMAL &&
                      type != TF_TYPE_NEWDECIMAL;
        return true;
    }
    switch (e->kind) {
    case VIEW_EXPR_NUMBER:
        e->value_class = VIEW_CLASS_NUMBER;
        e->integral = !strpbrk(e->text, ".eE");
        number_literal(e);
        return true;
    case VIEW_EXPR_BOOL:
        e->value_class = VIEW_CLASS_NUMBER;
        e->integral = true;
        e->literal.kind = VIEW_SCALAR_EXACT;
        e->literal.text[0] = e->truth ? '1' : '0';
        e->literal.bytes = (const uint8_t *)e->literal.text;
        e->literal.len = 1;
        return true;
    case VIEW_EXPR_STRING:
        e->value_class = VIEW_CLASS_STRING;
        e->literal.kind = VIEW_SCALAR_STRING;
        e->literal.bytes = (const uint8_t *)e->text;
        e->literal.len = e->text_len;
        return true;
    case VIEW_EXPR_NULL:
        e->value_class = VIEW_CLASS_NULL;
        e->literal.kind = VIEW_SCALAR_NULL;
        return true;
    default: return check(c, e);
    }
}

/* a and b, already checked, compared with each other: one class, a
 * string literal read as the other side's date or time. */
static bool check_comparable(checker *c, view_expr *a, view_expr *b, size_t at)
{
    if (a->value_class == VIEW_CLASS_NULL || b->value_class == VIEW_CLASS_NULL)
        return true;
    for (int side = 0; side < 2; side++) {
        view_expr *lit = side ? a : b, *other = side ? b : a;
        if (lit->kind == VIEW_EXPR_STRING &&
            (other->value_class == VIEW_CLASS_INSTANT || other->value_class == VIEW_CLASS_TIME)) {
            if (!temporal_literal(lit, other->value_class)) {
                char what[160];
                describe(c, other, what, sizeof what);
                return fail(c, lit->offset, "'%.60s' is not a %s for %s", lit->text,
                            other->value_class == VIEW_CLASS_TIME
                                ? "time ('hh:mm:ss')"
                                : "date ('YYYY-MM-DD') or datetime ('YYYY-MM-DD hh:mm:ss')",
                            what);
            }
            lit->value_class = other->value_class;
            return true;
        }
    }
    char left[160], right[160];
    describe(c, a, left, sizeof left);
    describe(c, b, right, sizeof right);
    if (a->value_class == VIEW_CLASS_OTHER || b->value_class == VIEW_CLASS_OTHER)
        return fail(c, at,
                    "cannot compare %s with %s (such a column can only be tested with IS "
                    "[NOT] NULL)",
                    left, right);
    if (a->value_class == VIEW_CLASS_BOOL || b->value_class == VIEW_CLASS_BOOL ||
        a->value_class != b->value_class)
        return fail(c, at, "type mismatch: comparing %s with %s", left, right);
    return true;
}

/* A condition, or a number used as one (non-zero is TRUE). */
static bool check_condition(checker *c, view_expr *e)
{
    if (!check_operand(c, e))
        return false;
    if (e->value_class == VIEW_CLASS_BOOL || e->value_class == VIEW_CLASS_NUMBER ||
        e->value_class == VIEW_CLASS_NULL)
        return true;
    char what[160];
    describe(c, e, what, sizeof what);
    return fail(c, e->offset,
                "%s is not a condition (compare it: = != < <= > >=, IN, LIKE, IS "
                "NULL)",
                what);
}

/* The class of two branches (IF, CASE) taken together. */
static bool unify(checker *c, view_expr *e, const view_expr *branch)
{
    if (branch->value_class == VIEW_CLASS_NULL)
        return true;
    if (e->value_class == VIEW_CLASS_NULL) {
        e->value_class = branch->value_class;
        e->integral = branch->integral;
        return true;
    }
    if (e->value_class == branch->value_class) {
        e->integral = e->integral && branch->integral;
        return true;
    }
    char b[160];
    describe(c, branch, b, sizeof b);
    const view_value_class k = e->value_class;
    return fail(c, branch->offset, "%s gives %s in one branch and %s in another",
                e->text ? e->text : "CASE",
                k == VIEW_CLASS_NUMBER   ? "a number"
                : k == VIEW_CLASS_STRING ? "a string"
                : k == VIEW_CLASS_BOOL   ? "a condition"
                                         : "a date or time",
                b);
}

/* Values: operands, arithmetic, functions, CASE. */
static bool check_value(checker *c, view_expr *e, view_value_class want, const char *what)
{
    if (!check_operand(c, e))
        return false;
    if (e->value_class == want || e->value_class == VIEW_CLASS_NULL)
        return true;
    char found[160];
    describe(c, e, found, sizeof found);
    return fail(c, e->offset, "%s, not %s", what, found);
}

static bool check_computed(checker *c, view_expr *e)
{
    switch (e->kind) {
    case VIEW_EXPR_ARITH:
        e->value_class = VIEW_CLASS_NUMBER;
        e->integral = e->op != '/';
        for (size_t i = 0; i < 2; i++) {
            if (!check_value(c, e->args[i], VIEW_CLASS_NUMBER, "arithmetic takes numbers"))
                return false;
            e->integral = e->integral && e->args[i]->integral;
        }
        return true;
    case VIEW_EXPR_NEGATE:
        e->value_class = VIEW_CLASS_NUMBER;
        if (!check_value(c, e->args[0], VIEW_CLASS_NUMBER, "'-' takes a number"))
            return false;
        e->integral = e->args[0]->integral;
        return true;
    case VIEW_EXPR_CASE:
        e->value_class = VIEW_CLASS_NULL;
        for (size_t i = 0; i < e->arg_count; i++) {
            bool is_condition = i % 2 == 0 && !(e->has_else && i == e->arg_count - 1);
            if (is_condition ? !check_condition(c, e->args[i])
                             : !check_operand(c, e->args[i]) || !unify(c, e, e->args[i]))
                return false;
        }
        return true;
    default: break;
    }
    /* FUNCTION */
    if (strcmp(e->text, "CONCAT") == 0) {
        e->value_class = VIEW_CLASS_STRING;
        for (size_t i = 0; i < e->arg_count; i++) {
            if (!check_operand(c, e->args[i]))
                return false;
            view_value_class k = e->args[i]->value_class;
            if (k == VIEW_CLASS_BOOL || k == VIEW_CLASS_OTHER) {
                char found[160];
                describe(c, e->args[i], found, sizeof found);
                return fail(c, e->args[i]->offset,
                            "CONCAT takes numbers, strings, dates and "
                            "times, not %s",
                            found);
            }
        }
        return true;
    }
    if (strcmp(e->text, "IF") == 0) {
        e->value_class = VIEW_CLASS_NULL;
        return check_condition(c, e->args[0]) && check_operand(c, e->args[1]) &&
               unify(c, e, e->args[1]) && check_operand(c, e->args[2]) && unify(c, e, e->args[2]);
    }
    /* YEAR, MONTH, DAY, HOUR, MINUTE, SECOND */
    e->value_class = VIEW_CLASS_NUMBER;
    e->integral = true;
    char what[64];
    snprintf(what, sizeof what, "%s takes a date or datetime", e->text);
    return check_value(c, e->args[0], VIEW_CLASS_INSTANT, what);
}

static bool check(checker *c, view_expr *e)
{
    if (e->kind == VIEW_EXPR_ARITH || e->kind == VIEW_EXPR_NEGATE ||
        e->kind == VIEW_EXPR_FUNCTION || e->kind == VIEW_EXPR_CASE)
        return check_computed(c, e);
    e->value_class = VIEW_CLASS_BOOL;
    switch (e->kind) {
    case VIEW_EXPR_AND:
    case VIEW_EXPR_OR:
    case VIEW_EXPR_NOT:
        for (size_t i = 0; i < e->arg_count; i++)
            if (!check_condition(c, e->args[i]))
                return false;
        return true;
    case VIEW_EXPR_IS_NULL: return check_operand(c, e->args[0]);
    case VIEW_EXPR_COMPARE:
    case VIEW_EXPR_IN:
        if (!check_operand(c, e->args[0]))
            return false;
        for (size_t i = 1; i < e->arg_count; i++)
            if (!check_operand(c, e->args[i]) ||
                !check_comparable(c, e->args[0], e->args[i],
                                  e->kind == VIEW_EXPR_IN ? e->args[i]->offset : e->offset))
                return false;
        return true;
    case VIEW_EXPR_LIKE:
        if (!check_operand(c, e->args[0]) || !check_operand(c, e->args[1]))
            return false;
        if (e->args[0]->value_class != VIEW_CLASS_STRING &&
            e->args[0]->value_class != VIEW_CLASS_NULL) {
            char what[160];
            describe(c, e->args[0], what, sizeof what);
            return fail(c, e->offset, "LIKE matches strings, not %s", what);
        }
        return true;
    default: return check_operand(c, e);
    }
}

static checker checker_for(const char *table, const tf_column *columns, size_t column_count,
                           size_t *offset, char *msg, size_t msg_cap)
{
    return (checker){.table = table,
                     .columns = columns,
                     .column_count = column_count,
                     .offset = offset,
                     .msg = msg,
                     .msg_cap = msg_cap};
}

bool view_expr_bind_value(view_expr *e, const char *table, const tf_column *columns,
                          size_t column_count, size_t *offset, char *msg, size_t msg_cap)
{
    checker c = checker_for(table, columns, column_count, offset, msg, msg_cap);
    if (!check_operand(&c, e))
        return false;
    if (e->value_class != VIEW_CLASS_OTHER)
        return true;
    char found[160];
    describe(&c, e, found, sizeof found);
    return fail(&c, e->offset, "%s cannot be a computed field's value", found);
}

bool view_expr_bind(view_expr *e, const char *table, const tf_column *columns, size_t column_count,
                    size_t *offset, char *msg, size_t msg_cap)
{
    checker c = checker_for(table, columns, column_count, offset, msg, msg_cap);
    return check_condition(&c, e);
}
