/* expr_internal.h — the expression language of filter(), lookup's
 * filter= and add_fields() (view/ only).
 *
 *   order_status != 'canceled' AND (price >= 100 OR freight IS NULL)
 *   order_purchase_timestamp >= '2018-01-01' AND seller_id IN ('a', 'b')
 *   NOT customer_city LIKE 'sao%'
 *   price * quantity + freight            CONCAT(city, '/', state)
 *   YEAR(order_purchase_timestamp)        IF(price > 100, 'high', 'low')
 *   CASE WHEN a > 1 THEN 'x' WHEN a = 1 THEN 'y' ELSE 'z' END
 *
 * Three steps, one file each: view_expr_parse (expr_parse.c) reads the text
 * into a tree, naming columns only by name; view_expr_bind (expr_check.c)
 * resolves the names against a table's columns and checks that every
 * comparison is between values of one kind (a DATE column with a date
 * string, not with a number), converting literals to the column's kind
 * once; view_expr_accepts (expr_eval.c) evaluates the tree on a row's
 * values with SQL's three-valued logic: a row passes only when the
 * condition is TRUE (NULL compares as unknown, as in a WHERE clause).
 *
 * view_expr_value evaluates a bound expression to a value (add_fields),
 * on a row's values or on the row's document as the view holds it.
 *
 * Strings compare bytewise, as the view joins them (a binary collation:
 * 'A' != 'a', trailing spaces count). Arithmetic is exact on integers
 * (int64; a result that overflows becomes a double) and in doubles
 * otherwise; '/' always gives a double, as in SQL's sense of "a quotient". */
#ifndef TAPFLOW_EXPR_INTERNAL_H
#define TAPFLOW_EXPR_INTERNAL_H

#include "view.h"

#include <stddef.h>
#include <stdint.h>

typedef enum view_expr_kind {
    VIEW_EXPR_COLUMN,  /* text: the name */
    VIEW_EXPR_NUMBER,  /* text: digits as written, with '-' when negative */
    VIEW_EXPR_STRING,  /* text: the contents, quotes and escapes resolved */
    VIEW_EXPR_NULL,    /* NULL */
    VIEW_EXPR_BOOL,    /* TRUE / FALSE: truth */
    VIEW_EXPR_COMPARE, /* args[0] cmp args[1] */
    VIEW_EXPR_IN,      /* args[0] [NOT] IN (args[1..]) */
    VIEW_EXPR_LIKE,    /* args[0] [NOT] LIKE args[1] (a string) */
    VIEW_EXPR_IS_NULL, /* args[0] IS [NOT] NULL */
    VIEW_EXPR_AND,
    VIEW_EXPR_OR,
    VIEW_EXPR_NOT,
    VIEW_EXPR_ARITH,    /* args[0] op args[1]: op is '+' '-' '*' '/' '%' */
    VIEW_EXPR_NEGATE,   /* -args[0] */
    VIEW_EXPR_FUNCTION, /* text(args...): CONCAT, IF, YEAR, MONTH, DAY, HOUR, MINUTE, SECOND */
    VIEW_EXPR_CASE,     /* CASE WHEN args[0] THEN args[1] ... [ELSE args[last]] END */
} view_expr_kind;

typedef enum view_expr_cmp {
    VIEW_CMP_EQ,
    VIEW_CMP_NE,
    VIEW_CMP_LT,
    VIEW_CMP_LE,
    VIEW_CMP_GT,
    VIEW_CMP_GE,
} view_expr_cmp;

/* What a value is compared as. */
typedef enum view_value_class {
    VIEW_CLASS_NULL,    /* the literal NULL: compares with anything, never TRUE */
    VIEW_CLASS_NUMBER,  /* integers, DECIMAL, FLOAT/DOUBLE, YEAR, BIT; TRUE/FALSE */
    VIEW_CLASS_STRING,  /* character and binary strings, ENUM and SET by name */
    VIEW_CLASS_INSTANT, /* DATE, DATETIME, TIMESTAMP (DATE is midnight) */
    VIEW_CLASS_TIME,    /* TIME */
    VIEW_CLASS_BOOL,    /* a condition */
    VIEW_CLASS_OTHER,   /* JSON, GEOMETRY, ...: only IS [NOT] NULL */
} view_value_class;

/* A value ready to compare. EXACT numbers are decimal text normalised so
 * that equal numbers have equal text (no leading or trailing zeros, "0"
 * unsigned); INSTANT is microseconds since 1970 UTC (the zero date lowest),
 * TIME signed microseconds. */
typedef enum view_scalar_kind {
    VIEW_SCALAR_NULL,
    VIEW_SCALAR_EXACT,
    VIEW_SCALAR_DOUBLE,
    VIEW_SCALAR_STRING,
    VIEW_SCALAR_INSTANT,
    VIEW_SCALAR_TIME,
} view_scalar_kind;

#define VIEW_SCALAR_TEXT_MAX 512

typedef struct view_scalar {
    view_scalar_kind kind;
    const uint8_t *bytes; /* EXACT (into text), STRING */
    size_t len;
    double d;
    int64_t us;
    bool date_only;                  /* INSTANT of a DATE: shown without a time */
    char text[VIEW_SCALAR_TEXT_MAX]; /* EXACT digits; SET member names; built strings */
} view_scalar;

typedef struct view_expr {
    view_expr_kind kind;
    size_t offset; /* where it starts in the condition text, for messages */
    char *text;
    size_t text_len;
    bool truth;    /* BOOL */
    char op;       /* ARITH */
    bool has_else; /* CASE */
    bool negated;  /* NOT IN, NOT LIKE, IS NOT NULL */
    view_expr_cmp cmp;
    size_t arg_count;
    struct view_expr **args;
    /* Filled by view_expr_bind. */
    long column; /* COLUMN: index in the table */
    view_value_class value_class;
    bool integral;       /* NUMBER results: an integer type (for typing add_fields) */
    view_scalar literal; /* NUMBER, STRING, BOOL: as compared with its operand */
} view_expr;

/* Parses a condition. On failure returns NULL and writes the reason to msg
 * with *offset the byte of text where it was found ("expected a value,
 * found ')'"). */
view_expr *view_expr_parse(const char *text, size_t len, size_t *offset, char *msg, size_t msg_cap);
void view_expr_destroy(view_expr *e);

/* Resolves column names against columns and checks kinds; the condition
 * must be a condition (not a bare string). On failure *offset and msg as
 * for view_expr_parse ("unknown column \"x\" of table t", "comparing
 * DATE column d with a number"). */
bool view_expr_bind(view_expr *e, const char *table, const tf_column *columns, size_t column_count,
                    size_t *offset, char *msg, size_t msg_cap);

/* The value of a column as compared (bytes borrowed from v). */
void view_scalar_of_value(const tf_value *v, const tf_column *col, view_scalar *out);

/* Whether the bound condition is TRUE for a row of column values. A
 * referenced column missing from a partial row image (TF_VAL_ABSENT) is
 * an error. */
tf_status view_expr_accepts(const view_expr *e, const tf_column *columns, const tf_value *values,
                            bool *accepted, tf_error *err);

/* The value of a bound expression for a row, from its values (values
 * non-NULL) or from its document as the view holds it (doc: the columns'
 * typed BSON in column order). */
tf_status view_expr_value(const view_expr *e, const tf_column *columns, const tf_value *values,
                          const uint8_t *doc, size_t doc_len, view_scalar *out, tf_error *err);

/* v's text as SQL's CONCAT shows it (numbers as written, dates
 * 'YYYY-MM-DD[ hh:mm:ss[.ffffff]]', times '[-]hh:mm:ss[.ffffff]'), written
 * NUL-terminated into out (cut at cap - 1); returns its length. NULL gives
 * "". */
size_t view_scalar_format(const view_scalar *v, char *out, size_t cap);

/* The class an expression binds to as a value (add_fields). */
bool view_expr_bind_value(view_expr *e, const char *table, const tf_column *columns,
                          size_t column_count, size_t *offset, char *msg, size_t msg_cap);

/* The flow file position of byte offset of a condition written in the
 * string literal at pos (after its opening quote). */
tf_flow_pos view_expr_pos(tf_flow_pos string_pos, const char *text, size_t offset);

#endif
