/* fuzz_expr.c — libFuzzer harness for the condition language of filter()
 * (view/expr_parse.c, expr_check.c, expr_eval.c).
 *
 * Input: an expression's text, any bytes. Parsing must refuse what it
 * cannot read with an offset inside the text; a condition that binds to
 * the fixed table below (every class of column) must evaluate on a row of
 * values and on a row of NULLs, and a value (add_fields) on the row's
 * values and on its document, without reading past anything. */
#include "expr_internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tf_str members[] = {{"a", 1}, {"b", 1}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"i", "s", "d", "t", "day", "f", "e", "tm", "j", "st"};
    static const uint8_t types[] = {
        TF_TYPE_LONG,   TF_TYPE_VARCHAR, TF_TYPE_NEWDECIMAL, TF_TYPE_DATETIME2, TF_TYPE_DATE,
        TF_TYPE_DOUBLE, TF_TYPE_ENUM,    TF_TYPE_TIME2,      TF_TYPE_JSON,      TF_TYPE_SET};
    tf_column cols[10];
    memset(cols, 0, sizeof cols);
    for (int i = 0; i < 10; i++) {
        cols[i].name.ptr = names[i];
        cols[i].name.len = strlen(names[i]);
        cols[i].type = types[i];
    }
    cols[6].enum_set_count = cols[9].enum_set_count = 2;
    cols[6].enum_set_values = cols[9].enum_set_values = members;
    char msg[256];
    size_t offset = 0;
    view_expr *e = view_expr_parse((const char *)data, size, &offset, msg, sizeof msg);
    if (!e) {
        if (offset > size)
            __builtin_trap();
        return 0;
    }
    tf_value row[10], nulls[10];
    memset(row, 0, sizeof row);
    memset(nulls, 0, sizeof nulls);
    row[0] = (tf_value){.kind = TF_VAL_INT, .i = -7};
    row[1].kind = TF_VAL_STRING;
    row[1].bytes.ptr = (const uint8_t *)"ab%_\xc3\xa9";
    row[1].bytes.len = 6;
    row[2].kind = TF_VAL_DECIMAL;
    strcpy(row[2].decimal.text, "-0012.340");
    row[3].kind = TF_VAL_DATETIME;
    row[3].temporal = (tf_temporal){.year = 2018, .month = 2, .day = 3, .hour = 4};
    row[4].kind = TF_VAL_DATE; /* the zero date */
    row[5] = (tf_value){.kind = TF_VAL_DOUBLE, .d = 1e300};
    row[6] = (tf_value){.kind = TF_VAL_ENUM, .u = 9}; /* out of range */
    row[7].kind = TF_VAL_TIME;
    row[7].temporal = (tf_temporal){.hour = 838, .negative = true};
    row[8].kind = TF_VAL_JSON;
    row[9] = (tf_value){.kind = TF_VAL_SET, .u = ~(uint64_t)0};
    bool accepted;
    tf_error err = {0};
    if (view_expr_bind(e, "t", cols, 10, &offset, msg, sizeof msg)) {
        view_expr_accepts(e, cols, row, &accepted, &err);
        view_expr_accepts(e, cols, nulls, &accepted, &err);
    } else if (offset > size) {
        __builtin_trap();
    }
    /* The same text as a computed field's value: from the values and from
     * the row's document. */
    view_expr_destroy(e);
    e = view_expr_parse((const char *)data, size, &offset, msg, sizeof msg);
    if (e && view_expr_bind_value(e, "t", cols, 10, &offset, msg, sizeof msg)) {
        view_scalar v;
        char text[VIEW_SCALAR_TEXT_MAX];
        view_expr_value(e, cols, row, NULL, 0, &v, &err);
        view_scalar_format(&v, text, sizeof text);
        bson_t doc = BSON_INITIALIZER;
        for (int i = 0; i < 10; i++)
            if (tf_value_append_bson(&doc, names[i], strlen(names[i]), &row[i], &cols[i], &err) !=
                TF_OK)
                bson_append_null(&doc, names[i], -1);
        view_expr_value(e, cols, NULL, bson_get_data(&doc), doc.len, &v, &err);
        view_scalar_format(&v, text, sizeof text);
        bson_destroy(&doc);
    }
    view_expr_destroy(e);
    return 0;
}
