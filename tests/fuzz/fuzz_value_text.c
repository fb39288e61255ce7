/* fuzz_value_text.c — libFuzzer harness for tf_value_from_text.
 *
 * Input: byte 0 picks a column type, bytes 1-2 its metadata, byte 3 bit 0
 * UNSIGNED; the rest is the text a SELECT would return. Whatever the text,
 * the reader must not crash or read past it; a value it accepts must lie
 * inside the text where it borrows bytes, and must convert to BSON and to
 * text as a decoded binlog value would (the snapshot hands it on so). */
#include "protocol.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t types[] = {
    TF_TYPE_TINY,    TF_TYPE_SHORT,    TF_TYPE_INT24,     TF_TYPE_LONG,       TF_TYPE_LONGLONG,
    TF_TYPE_FLOAT,   TF_TYPE_DOUBLE,   TF_TYPE_YEAR,      TF_TYPE_NEWDECIMAL, TF_TYPE_DATE,
    TF_TYPE_NEWDATE, TF_TYPE_DATETIME, TF_TYPE_DATETIME2, TF_TYPE_TIMESTAMP,  TF_TYPE_TIMESTAMP2,
    TF_TYPE_TIME,    TF_TYPE_TIME2,    TF_TYPE_VARCHAR,   TF_TYPE_STRING,     TF_TYPE_BLOB,
    TF_TYPE_JSON,    TF_TYPE_GEOMETRY, TF_TYPE_BIT,       TF_TYPE_ENUM,       TF_TYPE_SET,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    tf_str members[] = {{"red", 3}, {"blue", 4}, {"", 0}};
    tf_column col;
    memset(&col, 0, sizeof col);
    col.type = types[data[0] % sizeof types];
    col.meta = (uint16_t)(data[1] << 8 | data[2]);
    if (col.type == TF_TYPE_NEWDECIMAL) /* as a table map would allow */
        col.meta = (uint16_t)((1 + data[1] % 65) << 8 | data[2] % 31);
    if (col.type == TF_TYPE_DATETIME2 || col.type == TF_TYPE_TIMESTAMP2 ||
        col.type == TF_TYPE_TIME2)
        col.meta = data[2] % 7;
    col.is_unsigned = data[3] & 1;
    col.charset = data[3] & 2 ? TF_CHARSET_BINARY : 45;
    col.name.ptr = "c";
    col.name.len = 1;
    col.enum_set_values = members;
    col.enum_set_count = data[3] & 4 ? 3 : 2;
    const char *text = (const char *)data + 4;
    size_t len = size - 4;
    tf_value v;
    tf_error err = {0};
    if (tf_value_from_text(&col, text, len, &v, &err) != TF_OK) {
        if (err.message[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if ((v.kind == TF_VAL_STRING || v.kind == TF_VAL_BYTES || v.kind == TF_VAL_GEOMETRY) &&
        (v.bytes.len > len || (v.bytes.len && (const char *)v.bytes.ptr != text)))
        __builtin_trap();
    bson_t doc = BSON_INITIALIZER;
    tf_value_append_bson(&doc, "c", 1, &v, &col, &err);
    bson_destroy(&doc);
    size_t text_len;
    bson_free(tf_value_to_text(&v, &col, &text_len, &err));
    return 0;
}
