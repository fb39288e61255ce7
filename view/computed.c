/* computed.c — add_fields: computed fields of the root documents.
 *
 * A computed field is an expression over the root row's columns. It is not
 * held anywhere: it is evaluated from the row's document whenever the
 * document (or, for a $set, the root's columns) is written, so it follows
 * every change of the row with no state of its own, and a flow that
 * changes only its computed fields rewrites its documents without reading
 * a table again. The declared type converts the value:
 *
 *   String   the value's text (numbers as written, dates 'YYYY-MM-DD
 *            hh:mm:ss', a condition "true"/"false")
 *   Int, Long (Integer)   a number's integer part (toward zero); NULL when
 *            it does not fit; a condition 1/0
 *   Double (Float, Number), Decimal   the number; a condition 1/0
 *   Boolean (Bool)   a condition, or a number other than 0
 *   Date (DateTime)  a date or datetime (milliseconds, as every date)
 *
 * and a type that cannot hold the expression's kind of value (a string as
 * Int) is refused when the flow's tables are defined, with the line and
 * column of the field. NULL stays null whatever the type. */
#include "expr_internal.h"
#include "view_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum field_type {
    FIELD_STRING,
    FIELD_INT32,
    FIELD_INT64,
    FIELD_DOUBLE,
    FIELD_DECIMAL,
    FIELD_BOOL,
    FIELD_DATE,
} field_type;

struct view_computed {
    const char *name; /* the spec's */
    size_t name_len;
    field_type type;
    view_expr *expr;
};

static const struct {
    const char *name;
    field_type type;
} type_names[] = {{"String", FIELD_STRING}, {"Int", FIELD_INT32},       {"Integer", FIELD_INT32},
                  {"Long", FIELD_INT64},    {"Double", FIELD_DOUBLE},   {"Float", FIELD_DOUBLE},
                  {"Number", FIELD_DOUBLE}, {"Decimal", FIELD_DECIMAL}, {"Boolean", FIELD_BOOL},
                  {"Bool", FIELD_BOOL},     {"Date", FIELD_DATE},       {"DateTime", FIELD_DATE}};

void view_computed_cleanup(view_node *n)
{
    for (size_t i = 0; i < n->computed_count; i++)
        view_expr_destroy(n->computed[i].expr);
    bson_free(n->computed);
    n->computed = NULL;
    n->computed_count = 0;
}

/* Whether a field of type can hold a value of class. */
static bool holds(field_type type, view_value_class cls)
{
    if (cls == VIEW_CLASS_NULL)
        return true;
    switch (type) {
    case FIELD_STRING: return cls != VIEW_CLASS_OTHER;
    case FIELD_BOOL: return cls == VIEW_CLASS_BOOL || cls == VIEW_CLASS_NUMBER;
    case FIELD_DATE: return cls == VIEW_CLASS_INSTANT;
    default: return cls == VIEW_CLASS_NUMBER || cls == VIEW_CLASS_BOOL;
    }
}

static const char *class_name(view_value_class cls)
{
    switch (cls) {
    case VIEW_CLASS_NUMBER: return "a number";
    case VIEW_CLASS_STRING: return "a string";
    case VIEW_CLASS_INSTANT: return "a date";
    case VIEW_CLASS_TIME: return "a time";
    case VIEW_CLASS_BOOL: return "a condition";
    default: return "a value";
    }
}

/* Whether name is already a field of the root document. */
static bool taken(const tf_view *view, const view_node *root, const char *name, size_t before)
{
    const view_table *t = root->table;
    for (size_t c = 0; c < t->column_count; c++) {
        if (root->omit && root->omit[c])
            continue;
        const char *shown =
            root->renamed && root->renamed[c] ? root->renamed[c] : t->columns[c].name.ptr;
        if (strcmp(shown, name) == 0)
            return true;
    }
    for (size_t c = 0; c < root->child_count; c++)
        if (strcmp(view->nodes[root->children[c]].name, name) == 0)
            return true;
    for (size_t i = 0; i < before; i++)
        if (strcmp(root->computed[i].name, name) == 0)
            return true;
    return false;
}

tf_status view_computed_resolve(tf_view *view, tf_error *err)
{
    view_node *root = &view->nodes[0];
    view_computed_cleanup(root);
    const tf_flow_spec *spec = view->spec;
    if (!spec->computed_count)
        return TF_OK;
    root->computed = bson_malloc0(spec->computed_count * sizeof *root->computed);
    const view_table *t = root->table;
    for (size_t i = 0; i < spec->computed_count; i++) {
        const tf_flow_computed *cf = &spec->computed[i];
        view_computed *c = &root->computed[root->computed_count];
        c->name = cf->name;
        c->name_len = strlen(cf->name);
        for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++)
            if (strcasecmp(type_names[k].name, cf->type) == 0)
                c->type = type_names[k].type;
        if (taken(view, root, cf->name, root->computed_count))
            return view_config_error(view, cf->pos, err,
                                     "add_fields: the document already has a field \"%.100s\"",
                                     cf->name);
        char msg[256];
        size_t offset = 0;
        view_expr *e =
            view_expr_parse(cf->expression, strlen(cf->expression), &offset, msg, sizeof msg);
        if (e && !view_expr_bind_value(e, t->name, t->columns, t->column_count, &offset, msg,
                                       sizeof msg)) {
            view_expr_destroy(e);
            e = NULL;
        }
        if (!e)
            return view_config_error(view,
                                     view_expr_pos(cf->expression_pos, cf->expression, offset), err,
                                     "add_fields \"%.100s\": %s", cf->name, msg);
        root->computed_count++;
        c->expr = e;
        if (!holds(c->type, e->value_class))
            return view_config_error(
                view, cf->pos, err,
                "add_fields \"%.100s\": %s cannot be %s (String, Int, Long, Double and "
                "Decimal hold numbers, Boolean a condition, Date a date)",
                cf->name, class_name(e->value_class), cf->type);
    }
    return TF_OK;
}

static void put_le(view_buf *out, uint64_t v, size_t bytes)
{
    uint8_t b[8];
    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    view_buf_append(out, b, bytes);
}

static double number(const view_scalar *v)
{
    return v->kind == VIEW_SCALAR_DOUBLE ? v->d : strtod(v->text, NULL);
}

/* A number's integer part (toward zero), false when out of [lo, hi]. */
static bool integer_part(const view_scalar *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (v->kind == VIEW_SCALAR_EXACT) {
        char *end;
        long long n = strtoll(v->text, &end, 10);
        bool clipped = (n == LLONG_MAX || n == LLONG_MIN) && strlen(v->text) > 18;
        *out = n;
        return !clipped && n >= lo && n <= hi;
    }
    double d = trunc(v->d);
    if (!(d >= (double)lo && d <= (double)hi) || d >= 9223372036854775807.0)
        return false;
    *out = (int64_t)d;
    return true;
}

static void append_field(const view_computed *c, const view_scalar *v, view_buf *out)
{
    char text[VIEW_SCALAR_TEXT_MAX];
    int64_t n;
    if (v->kind == VIEW_SCALAR_NULL) {
        view_raw_key(out, BSON_TYPE_NULL, c->name, c->name_len);
        return;
    }
    switch (c->type) {
    case FIELD_STRING: {
        size_t len;
        if (c->expr->value_class == VIEW_CLASS_BOOL)
            len = (size_t)snprintf(text, sizeof text, "%s", v->text[0] == '1' ? "true" : "false");
        else
            len = view_scalar_format(v, text, sizeof text);
        view_raw_key(out, BSON_TYPE_UTF8, c->name, c->name_len);
        put_le(out, len + 1, 4);
        view_buf_append(out, text, len + 1);
        return;
    }
    case FIELD_INT32:
        if (!integer_part(v, INT32_MIN, INT32_MAX, &n))
            break;
        view_raw_key(out, BSON_TYPE_INT32, c->name, c->name_len);
        put_le(out, (uint32_t)(int32_t)n, 4);
        return;
    case FIELD_INT64:
        if (!integer_part(v, INT64_MIN, INT64_MAX, &n))
            break;
        view_raw_key(out, BSON_TYPE_INT64, c->name, c->name_len);
        put_le(out, (uint64_t)n, 8);
        return;
    case FIELD_DOUBLE: {
        double d = number(v);
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        view_raw_key(out, BSON_TYPE_DOUBLE, c->name, c->name_len);
        put_le(out, bits, 8);
        return;
    }
    case FIELD_DECIMAL: {
        bson_decimal128_t dec;
        if (v->kind == VIEW_SCALAR_DOUBLE)
            snprintf(text, sizeof text, "%.17g", v->d);
        else
            snprintf(text, sizeof text, "%s", v->text);
        if (!bson_decimal128_from_string(text, &dec))
            break;
        view_raw_key(out, BSON_TYPE_DECIMAL128, c->name, c->name_len);
        put_le(out, dec.low, 8);
        put_le(out, dec.high, 8);
        return;
    }
    case FIELD_BOOL: {
        bool b = v->kind == VIEW_SCALAR_DOUBLE ? v->d != 0 : !(v->len == 1 && v->text[0] == '0');
        view_raw_key(out, BSON_TYPE_BOOL, c->name, c->name_len);
        put_le(out, b, 1);
        return;
    }
    case FIELD_DATE: {
        if (v->us == INT64_MIN)
            break; /* the zero date: no BSON date */
        int64_t ms = v->us >= 0 ? v->us / 1000 : -((-v->us + 999) / 1000);
        view_raw_key(out, BSON_TYPE_DATE_TIME, c->name, c->name_len);
        put_le(out, (uint64_t)ms, 8);
        return;
    }
    }
    view_raw_key(out, BSON_TYPE_NULL, c->name, c->name_len); /* does not fit the type */
}

void view_computed_append(const view_node *n, const view_row *row, view_buf *out)
{
    if (!n->computed_count)
        return;
    /* The held row's document, unpacked once for all the fields. */
    view_buf doc = {0};
    view_row_bson(n->table, row, &doc);
    for (size_t i = 0; i < n->computed_count; i++) {
        const view_computed *c = &n->computed[i];
        view_scalar v;
        tf_error ignored = {0};
        /* From a held row's document: no value is missing, nothing fails. */
        if (view_expr_value(c->expr, n->table->columns, NULL, doc.ptr, doc.len, &v, &ignored) !=
            TF_OK)
            v.kind = VIEW_SCALAR_NULL;
        append_field(c, &v, out);
    }
    view_buf_cleanup(&doc);
}
