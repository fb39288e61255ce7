/* expr_eval.c — a bound expression evaluated on a row (see
 * expr_internal.h), with SQL's three-valued logic: comparisons with NULL
 * are unknown, NOT unknown is unknown, FALSE AND unknown is FALSE, TRUE OR
 * unknown is TRUE, and only TRUE lets a row through a filter. Values
 * follow SQL too: arithmetic, CONCAT and the date parts of NULL are NULL,
 * a division or remainder by zero is NULL, IF and CASE take the branch
 * whose condition is TRUE. */
#include "expr_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Truth values: */
#define T_FALSE 0
#define T_TRUE 1
#define T_UNKNOWN 2

/* "-000123.4500" -> "-123.45", "-0.0" -> "0": equal numbers, equal text. */
static void normalise_decimal(const char *in, view_scalar *out)
{
    const char *p = in;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    while (*p == '0' && p[1] != '.' && p[1] != '\0')
        p++;
    const char *point = strchr(p, '.');
    size_t int_len = point ? (size_t)(point - p) : strlen(p);
    size_t frac_len = point ? strlen(point + 1) : 0;
    while (frac_len && point[frac_len] == '0')
        frac_len--;
    bool zero = (int_len == 0 || (int_len == 1 && p[0] == '0')) && frac_len == 0;
    char *t = out->text;
    size_t n = 0, cap = sizeof out->text - 1;
    if (negative && !zero)
        t[n++] = '-';
    if (int_len == 0)
        t[n++] = '0';
    for (size_t i = 0; i < int_len && n < cap; i++)
        t[n++] = p[i];
    if (frac_len && n < cap)
        t[n++] = '.';
    for (size_t i = 0; i < frac_len && n < cap; i++)
        t[n++] = point[1 + i];
    t[n] = '\0';
    out->kind = VIEW_SCALAR_EXACT;
    out->bytes = (const uint8_t *)t;
    out->len = n;
}

static void exact_from_text(const char *text, view_scalar *out) { normalise_decimal(text, out); }

static int64_t instant_us(const tf_temporal *t)
{
    int64_t ms;
    if (!tf_temporal_to_unix_ms(t, &ms))
        return INT64_MIN; /* the zero date (and zero parts) sort first */
    return ms * 1000 + (int64_t)(t->microsecond % 1000);
}

void view_scalar_of_value(const tf_value *v, const tf_column *col, view_scalar *out)
{
    char digits[32];
    out->bytes = NULL;
    out->len = 0;
    out->date_only = v->kind == TF_VAL_DATE;
    switch (v->kind) {
    case TF_VAL_INT:
    case TF_VAL_YEAR:
        snprintf(digits, sizeof digits, "%lld", (long long)v->i);
        exact_from_text(digits, out);
        return;
    case TF_VAL_UINT:
    case TF_VAL_BIT:
        snprintf(digits, sizeof digits, "%llu", (unsigned long long)v->u);
        exact_from_text(digits, out);
        return;
    case TF_VAL_DECIMAL: exact_from_text(v->decimal.text, out); return;
    case TF_VAL_FLOAT:
        out->kind = VIEW_SCALAR_DOUBLE;
        out->d = v->f;
        return;
    case TF_VAL_DOUBLE:
        out->kind = VIEW_SCALAR_DOUBLE;
        out->d = v->d;
        return;
    case TF_VAL_STRING:
    case TF_VAL_BYTES:
    case TF_VAL_JSON:
        out->kind = VIEW_SCALAR_STRING;
        out->bytes = v->bytes.ptr;
        out->len = v->bytes.len;
        return;
    case TF_VAL_ENUM:
        out->kind = VIEW_SCALAR_STRING;
        if (col && v->u >= 1 && v->u <= col->enum_set_count) {
            out->bytes = (const uint8_t *)col->enum_set_values[v->u - 1].ptr;
            out->len = col->enum_set_values[v->u - 1].len;
        }
        return;
    case TF_VAL_SET: {
        /* Member names joined by ',' in member order, as SQL shows them. */
        out->kind = VIEW_SCALAR_STRING;
        size_t n = 0;
        for (uint32_t k = 0; col && k < col->enum_set_count && k < 64; k++) {
            if (!(v->u & ((uint64_t)1 << k)))
                continue;
            const tf_str *m = &col->enum_set_values[k];
            if (n + m->len + 1 >= sizeof out->text)
                break;
            if (n)
                out->text[n++] = ',';
            memcpy(out->text + n, m->ptr, m->len);
            n += m->len;
        }
        out->bytes = (const uint8_t *)out->text;
        out->len = n;
        return;
    }
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
        out->kind = VIEW_SCALAR_INSTANT;
        out->us = instant_us(&v->temporal);
        return;
    case TF_VAL_TIMESTAMP:
        out->kind = VIEW_SCALAR_INSTANT;
        out->us = v->timestamp.seconds * 1000000 + v->timestamp.microsecond;
        return;
    case TF_VAL_TIME: {
        const tf_temporal *t = &v->temporal;
        int64_t us =
            ((int64_t)t->hour * 3600 + t->minute * 60 + t->second) * 1000000 + t->microsecond;
        out->kind = VIEW_SCALAR_TIME;
        out->us = t->negative ? -us : us;
        return;
    }
    default: out->kind = VIEW_SCALAR_NULL; return;
    }
}

/* Orders two normalised decimal texts exactly. */
static int compare_exact(const view_scalar *a, const view_scalar *b)
{
    bool neg_a = a->text[0] == '-', neg_b = b->text[0] == '-';
    if (neg_a != neg_b)
        return neg_a ? -1 : 1;
    const char *pa = a->text + neg_a, *pb = b->text + neg_b;
    const char *dot_a = strchr(pa, '.'), *dot_b = strchr(pb, '.');
    size_t int_a = dot_a ? (size_t)(dot_a - pa) : strlen(pa);
    size_t int_b = dot_b ? (size_t)(dot_b - pb) : strlen(pb);
    int c = int_a != int_b ? (int_a < int_b ? -1 : 1) : memcmp(pa, pb, int_a);
    if (c == 0) {
        const char *fa = dot_a ? dot_a + 1 : "", *fb = dot_b ? dot_b + 1 : "";
        for (; c == 0 && (*fa || *fb); fa += *fa != 0, fb += *fb != 0) {
            char da = *fa ? *fa : '0', db = *fb ? *fb : '0';
            c = da < db ? -1 : da > db;
        }
    }
    return neg_a ? -c : c;
}

static double as_double(const view_scalar *s)
{
    return s->kind == VIEW_SCALAR_DOUBLE ? s->d : strtod(s->text, NULL);
}

/* <0, 0, >0; the classes were checked at bind time. */
static int compare(const view_scalar *a, const view_scalar *b)
{
    if (a->kind == VIEW_SCALAR_EXACT && b->kind == VIEW_SCALAR_EXACT)
        return compare_exact(a, b);
    if (a->kind == VIEW_SCALAR_DOUBLE || b->kind == VIEW_SCALAR_DOUBLE) {
        double x = as_double(a), y = as_double(b);
        return x < y ? -1 : x > y;
    }
    if (a->kind == VIEW_SCALAR_STRING) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = n ? memcmp(a->bytes, b->bytes, n) : 0;
        return c ? c : (a->len < b->len ? -1 : a->len > b->len);
    }
    return a->us < b->us ? -1 : a->us > b->us;
}

static int truth(bool b) { return b ? T_TRUE : T_FALSE; }

/* Bytes of the UTF-8 character starting with c (1 for stray bytes). */
static size_t char_length(uint8_t c) { return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1; }

/* SQL LIKE: '%' any run, '_' one character, '\' escapes the next. The
 * classic scan that returns to the last '%' on a mismatch. */
static bool like(const uint8_t *s, size_t slen, const uint8_t *p, size_t plen)
{
    size_t si = 0, pi = 0, star_p = SIZE_MAX, star_s = 0;
    while (si < slen) {
        if (pi < plen && p[pi] == '%') {
            star_p = ++pi;
            star_s = si;
            continue;
        }
        if (pi < plen && p[pi] == '_') {
            si += char_length(s[si]);
            pi++;
            continue;
        }
        if (pi < plen) {
            size_t at = p[pi] == '\\' && pi + 1 < plen ? pi + 1 : pi;
            if (p[at] == s[si]) {
                si++;
                pi = at + 1;
                continue;
            }
        }
        if (star_p == SIZE_MAX)
            return false;
        star_s += char_length(s[star_s]);
        si = star_s;
        pi = star_p;
    }
    while (pi < plen && p[pi] == '%')
        pi++;
    return pi == plen && si <= slen;
}

/* A row is read from its values (filters, at intake) or from its document
 * as the view holds it (computed fields, when documents are built). */
typedef struct eval_ctx {
    const tf_column *columns;
    const tf_value *values;
    const uint8_t *doc;
    size_t doc_len;
    tf_error *err;
    bool failed;
} eval_ctx;

static void exact_from_int(int64_t n, view_scalar *out)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)n);
    exact_from_text(digits, out);
}

/* A column's value from the row's document: the BSON the view built from
 * it (DESIGN's type mapping), read back. */
static void scalar_of_element(const bson_iter_t *it, const tf_column *col, view_scalar *out)
{
    out->kind = VIEW_SCALAR_NULL;
    out->date_only = false;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_INT32: exact_from_int(bson_iter_int32(it), out); return;
    case BSON_TYPE_INT64: exact_from_int(bson_iter_int64(it), out); return;
    case BSON_TYPE_BOOL: exact_from_int(bson_iter_bool(it), out); return;
    case BSON_TYPE_DOUBLE:
        out->kind = VIEW_SCALAR_DOUBLE;
        out->d = bson_iter_double(it);
        return;
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char text[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &dec);
        bson_decimal128_to_string(&dec, text);
        if (strpbrk(text, "EIN")) { /* exponent form, Infinity, NaN */
            out->kind = VIEW_SCALAR_DOUBLE;
            out->d = strtod(text, NULL);
        } else {
            exact_from_text(text, out);
        }
        return;
    }
    case BSON_TYPE_UTF8: {
        uint32_t len;
        const char *str = bson_iter_utf8(it, &len);
        if (col->type == TF_TYPE_TIME || col->type == TF_TYPE_TIME2) {
            tf_column time_col = {.type = TF_TYPE_TIME2, .meta = 6};
            tf_value v;
            tf_error ignored = {0};
            memset(&v, 0, sizeof v);
            if (tf_value_from_text(&time_col, str, len, &v, &ignored) == TF_OK)
                view_scalar_of_value(&v, &time_col, out);
            return;
        }
        out->kind = VIEW_SCALAR_STRING;
        out->bytes = (const uint8_t *)str;
        out->len = len;
        return;
    }
    case BSON_TYPE_BINARY: {
        bson_subtype_t subtype;
        uint32_t len;
        const uint8_t *bytes;
        bson_iter_binary(it, &subtype, &len, &bytes);
        out->kind = VIEW_SCALAR_STRING;
        out->bytes = bytes;
        out->len = len;
        return;
    }
    case BSON_TYPE_DATE_TIME:
        out->kind = VIEW_SCALAR_INSTANT;
        out->us = bson_iter_date_time(it) * 1000;
        out->date_only = col->type == TF_TYPE_DATE || col->type == TF_TYPE_NEWDATE;
        return;
    case BSON_TYPE_ARRAY: { /* SET: its members' names joined by ',' */
        bson_iter_t members;
        size_t n = 0;
        if (!bson_iter_recurse(it, &members))
            return;
        while (bson_iter_next(&members)) {
            uint32_t len;
            const char *m = BSON_ITER_HOLDS_UTF8(&members) ? bson_iter_utf8(&members, &len) : "";
            if (!BSON_ITER_HOLDS_UTF8(&members))
                len = 0;
            if (n + len + 1 >= sizeof out->text)
                break;
            if (n)
                out->text[n++] = ',';
            memcpy(out->text + n, m, len);
            n += len;
        }
        out->kind = VIEW_SCALAR_STRING;
        out->bytes = (const uint8_t *)out->text;
        out->len = n;
        return;
    }
    default: return;
    }
}

static void operand_value(eval_ctx *x, const view_expr *e, view_scalar *out)
{
    if (e->kind != VIEW_EXPR_COLUMN) {
        *out = e->literal;
        if (out->kind == VIEW_SCALAR_EXACT ||
            (out->kind == VIEW_SCALAR_STRING &&
             e->literal.bytes == (const uint8_t *)e->literal.text))
            out->bytes = (const uint8_t *)out->text;
        return;
    }
    if (!x->values) {
        bson_t doc;
        bson_iter_t it;
        out->kind = VIEW_SCALAR_NULL;
        if (!bson_init_static(&doc, x->doc, x->doc_len) || !bson_iter_init(&it, &doc))
            return;
        for (long i = 0; bson_iter_next(&it); i++)
            if (i == e->column) {
                scalar_of_element(&it, &x->columns[e->column], out);
                return;
            }
        return;
    }
    const tf_value *v = &x->values[e->column];
    if (v->kind == TF_VAL_ABSENT || v->kind == TF_VAL_JSON_DIFF) {
        if (!x->failed)
            tf_error_set(x->err, TF_ERR_UNSUPPORTED, 0,
                         "column %.100s, which a filter reads, is missing from the row image "
                         "(the view needs binlog_row_image=FULL)",
                         e->text);
        x->failed = true;
        out->kind = VIEW_SCALAR_NULL;
        return;
    }
    view_scalar_of_value(v, &x->columns[e->column], out);
}

static int eval(eval_ctx *x, const view_expr *e);
static void value_of(eval_ctx *x, const view_expr *e, view_scalar *out);

/* An EXACT integer's value; false when it has a fraction or is too big. */
static bool exact_int(const view_scalar *s, int64_t *out)
{
    if (s->kind != VIEW_SCALAR_EXACT || strchr(s->text, '.'))
        return false;
    errno = 0;
    long long n = strtoll(s->text, NULL, 10);
    *out = n;
    return errno == 0;
}

static void arith(eval_ctx *x, const view_expr *e, view_scalar *out)
{
    view_scalar a, b;
    value_of(x, e->args[0], &a);
    value_of(x, e->args[1], &b);
    out->kind = VIEW_SCALAR_NULL;
    out->date_only = false;
    if (a.kind == VIEW_SCALAR_NULL || b.kind == VIEW_SCALAR_NULL)
        return;
    int64_t i, j, r;
    if (e->op != '/' && exact_int(&a, &i) && exact_int(&b, &j)) {
        bool overflow = false;
        switch (e->op) {
        case '+': overflow = __builtin_add_overflow(i, j, &r); break;
        case '-': overflow = __builtin_sub_overflow(i, j, &r); break;
        case '*': overflow = __builtin_mul_overflow(i, j, &r); break;
        default: /* '%': the sign of the dividend, as in SQL */
            if (j == 0)
                return;
            r = j == -1 ? 0 : i % j;
            break;
        }
        if (!overflow) {
            exact_from_int(r, out);
            return;
        }
    }
    double p = as_double(&a), q = as_double(&b);
    if ((e->op == '/' || e->op == '%') && q == 0)
        return;
    out->kind = VIEW_SCALAR_DOUBLE;
    out->d = e->op == '+'   ? p + q
             : e->op == '-' ? p - q
             : e->op == '*' ? p * q
             : e->op == '/' ? p / q
                            : fmod(p, q);
}

/* Civil time of an instant: false for the zero date. */
static bool civil(int64_t us, struct tm *tm, uint32_t *micro)
{
    if (us == INT64_MIN)
        return false;
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    *micro = (uint32_t)(us - secs * 1000000);
    time_t t = (time_t)secs;
    return gmtime_r(&t, tm) != NULL;
}

size_t view_scalar_format(const view_scalar *v, char *out, size_t cap)
{
    char buf[64];
    const char *p = buf;
    size_t len = 0;
    if (v->kind == VIEW_SCALAR_STRING || v->kind == VIEW_SCALAR_EXACT) {
        p = v->kind == VIEW_SCALAR_EXACT ? v->text : (const char *)v->bytes;
        len = v->kind == VIEW_SCALAR_EXACT ? strlen(v->text) : v->len;
    } else if (v->kind == VIEW_SCALAR_DOUBLE) {
        len = (size_t)snprintf(buf, sizeof buf, "%.17g", v->d);
    } else if (v->kind == VIEW_SCALAR_TIME) {
        int64_t us = v->us < 0 ? -v->us : v->us;
        int64_t secs = us / 1000000;
        len = (size_t)snprintf(buf, sizeof buf, "%s%02lld:%02lld:%02lld", v->us < 0 ? "-" : "",
                               (long long)(secs / 3600), (long long)(secs / 60 % 60),
                               (long long)(secs % 60));
        if (us % 1000000)
            len +=
                (size_t)snprintf(buf + len, sizeof buf - len, ".%06lld", (long long)(us % 1000000));
    } else if (v->kind == VIEW_SCALAR_INSTANT) {
        struct tm tm;
        uint32_t micro = 0;
        if (!civil(v->us, &tm, &micro))
            len = (size_t)snprintf(buf, sizeof buf, "%s",
                                   v->date_only ? "0000-00-00" : "0000-00-00 00:00:00");
        else
            len = strftime(buf, sizeof buf, v->date_only ? "%Y-%m-%d" : "%Y-%m-%d %H:%M:%S", &tm);
        if (micro && !v->date_only)
            len += (size_t)snprintf(buf + len, sizeof buf - len, ".%06u", micro);
    }
    if (cap == 0)
        return 0;
    if (len > cap - 1)
        len = cap - 1;
    if (len)
        memcpy(out, p, len);
    out[len] = '\0';
    return len;
}

static void function(eval_ctx *x, const view_expr *e, view_scalar *out)
{
    view_scalar a;
    out->kind = VIEW_SCALAR_NULL;
    out->date_only = false;
    if (strcmp(e->text, "IF") == 0) {
        value_of(x, e->args[eval(x, e->args[0]) == T_TRUE ? 1 : 2], out);
        return;
    }
    if (strcmp(e->text, "CONCAT") == 0) {
        size_t n = 0;
        for (size_t i = 0; i < e->arg_count; i++) {
            value_of(x, e->args[i], &a);
            if (a.kind == VIEW_SCALAR_NULL)
                return;
            n += view_scalar_format(&a, out->text + n, sizeof out->text - n);
        }
        out->text[n] = '\0';
        out->kind = VIEW_SCALAR_STRING;
        out->bytes = (const uint8_t *)out->text;
        out->len = n;
        return;
    }
    value_of(x, e->args[0], &a);
    if (a.kind != VIEW_SCALAR_INSTANT)
        return;
    struct tm tm;
    uint32_t micro;
    int part = 0;
    if (civil(a.us, &tm, &micro)) {
        switch (e->text[0]) {
        case 'Y': part = tm.tm_year + 1900; break;
        case 'D': part = tm.tm_mday; break;
        case 'H': part = tm.tm_hour; break;
        case 'S': part = tm.tm_sec; break;
        default: part = e->text[1] == 'O' ? tm.tm_mon + 1 : tm.tm_min; /* MONTH, MINUTE */
        }
    }
    exact_from_int(part, out);
}

/* The value of an expression (a condition gives 1, 0 or NULL). */
static void value_of(eval_ctx *x, const view_expr *e, view_scalar *out)
{
    switch (e->kind) {
    case VIEW_EXPR_ARITH: arith(x, e, out); return;
    case VIEW_EXPR_FUNCTION: function(x, e, out); return;
    case VIEW_EXPR_NEGATE:
        value_of(x, e->args[0], out);
        if (out->kind == VIEW_SCALAR_DOUBLE) {
            out->d = -out->d;
        } else if (out->kind == VIEW_SCALAR_EXACT) {
            char text[VIEW_SCALAR_TEXT_MAX + 1];
            snprintf(text, sizeof text, "-%s", out->text);
            normalise_decimal(text[1] == '-' ? text + 2 : text, out);
        }
        return;
    case VIEW_EXPR_CASE: {
        size_t pairs = (e->arg_count - (e->has_else ? 1 : 0)) / 2;
        for (size_t i = 0; i < pairs; i++)
            if (eval(x, e->args[2 * i]) == T_TRUE) {
                value_of(x, e->args[2 * i + 1], out);
                return;
            }
        if (e->has_else)
            value_of(x, e->args[e->arg_count - 1], out);
        else
            out->kind = VIEW_SCALAR_NULL;
        return;
    }
    case VIEW_EXPR_COMPARE:
    case VIEW_EXPR_IN:
    case VIEW_EXPR_LIKE:
    case VIEW_EXPR_IS_NULL:
    case VIEW_EXPR_AND:
    case VIEW_EXPR_OR:
    case VIEW_EXPR_NOT: {
        int t = eval(x, e);
        if (t == T_UNKNOWN)
            out->kind = VIEW_SCALAR_NULL;
        else
            exact_from_int(t == T_TRUE, out);
        return;
    }
    default: operand_value(x, e, out); return;
    }
}

static int eval(eval_ctx *x, const view_expr *e)
{
    view_scalar a, b;
    switch (e->kind) {
    case VIEW_EXPR_AND: {
        int result = T_TRUE;
        for (size_t i = 0; i < e->arg_count && result != T_FALSE; i++) {
            int t = eval(x, e->args[i]);
            result = t == T_FALSE ? T_FALSE : t == T_UNKNOWN ? T_UNKNOWN : result;
        }
        return result;
    }
    case VIEW_EXPR_OR: {
        int result = T_FALSE;
        for (size_t i = 0; i < e->arg_count && result != T_TRUE; i++) {
            int t = eval(x, e->args[i]);
            result = t == T_TRUE ? T_TRUE : t == T_UNKNOWN ? T_UNKNOWN : result;
        }
        return result;
    }
    case VIEW_EXPR_NOT: {
        int t = eval(x, e->args[0]);
        return t == T_UNKNOWN ? T_UNKNOWN : truth(t == T_FALSE);
    }
    case VIEW_EXPR_IS_NULL:
        value_of(x, e->args[0], &a);
        return truth((a.kind == VIEW_SCALAR_NULL) != e->negated);
    case VIEW_EXPR_COMPARE: {
        value_of(x, e->args[0], &a);
        value_of(x, e->args[1], &b);
        if (a.kind == VIEW_SCALAR_NULL || b.kind == VIEW_SCALAR_NULL)
            return T_UNKNOWN;
        int c = compare(&a, &b);
        switch (e->cmp) {
        case VIEW_CMP_EQ: return truth(c == 0);
        case VIEW_CMP_NE: return truth(c != 0);
        case VIEW_CMP_LT: return truth(c < 0);
        case VIEW_CMP_LE: return truth(c <= 0);
        case VIEW_CMP_GT: return truth(c > 0);
        case VIEW_CMP_GE: return truth(c >= 0);
        }
        return T_UNKNOWN;
    }
    case VIEW_EXPR_IN: {
        /* x IN (a, b) is x = a OR x = b; NOT IN negates that. */
        value_of(x, e->args[0], &a);
        if (a.kind == VIEW_SCALAR_NULL)
            return T_UNKNOWN;
        int result = T_FALSE;
        for (size_t i = 1; i < e->arg_count && result != T_TRUE; i++) {
            value_of(x, e->args[i], &b);
            if (b.kind == VIEW_SCALAR_NULL)
                result = T_UNKNOWN;
            else if (compare(&a, &b) == 0)
                result = T_TRUE;
        }
        return result == T_UNKNOWN || !e->negated ? result : truth(result == T_FALSE);
    }
    case VIEW_EXPR_LIKE: {
        value_of(x, e->args[0], &a);
        value_of(x, e->args[1], &b);
        if (a.kind == VIEW_SCALAR_NULL || b.kind == VIEW_SCALAR_NULL)
            return T_UNKNOWN;
        return truth(like(a.bytes, a.len, b.bytes, b.len) != e->negated);
    }
    default:
        /* A number as a condition: non-zero is TRUE. */
        value_of(x, e, &a);
        if (a.kind == VIEW_SCALAR_NULL)
            return T_UNKNOWN;
        if (a.kind == VIEW_SCALAR_DOUBLE)
            return truth(a.d != 0);
        return truth(!(a.len == 1 && a.text[0] == '0'));
    }
}

tf_status view_expr_value(const view_expr *e, const tf_column *columns, const tf_value *values,
                          const uint8_t *doc, size_t doc_len, view_scalar *out, tf_error *err)
{
    eval_ctx x = {.columns = columns, .values = values, .doc = doc, .doc_len = doc_len, .err = err};
    value_of(&x, e, out);
    return x.failed ? TF_MALFORMED : TF_OK;
}

tf_status view_expr_accepts(const view_expr *e, const tf_column *columns, const tf_value *values,
                            bool *accepted, tf_error *err)
{
    eval_ctx x = {.columns = columns, .values = values, .err = err};
    int t = eval(&x, e);
    *accepted = t == T_TRUE;
    return x.failed ? TF_MALFORMED : TF_OK;
}
