/* row_json.c — column values as JSON text, without the BSON round trip.
 *
 * Each case below gives the text of the BSON element tf_value_append_bson
 * (protocol/value_bson.c) appends, as out_bson_value prints it: int32 and
 * int64 both print as integers, a double through out_double, a
 * Decimal128 through out_decimal128_text, a date through out_date, a
 * binary through out_binary. Where the mapping converts or checks bytes
 * (latin1 to UTF-8, UTF-8 validation, BINARY(n) padding, enum and set
 * members) only the case where the bytes pass unchanged is handled here:
 * text that is all ASCII reads the same in every charset tapflow
 * converts. test_binlog_out checks this file against the BSON path on
 * random values of every kind. */
#include "row_json.h"

static bool all_ascii(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        if (word & UINT64_C(0x8080808080808080))
            return false;
    }
    for (; i < n; i++)
        if (p[i] & 0x80)
            return false;
    return true;
}

static bool is_zero_date(const tf_value *v)
{
    return v->temporal.year == 0 || v->temporal.month == 0 || v->temporal.day == 0;
}

/* Whether the Decimal128 text of a DECIMAL's exact text ("-123.450",
 * "0.05") is that text itself, as it is for most: tf_decimal_text_to_
 * decimal128 keeps every digit when there are at most 34, with the
 * exponent -scale, and out_decimal128_text writes such a value in plain
 * notation, scale kept, when its adjusted exponent (that of the first
 * significant digit; of the last digit for zero) is at least -6. With a
 * non-zero integer part it is >= 0; for 0.f it is -(leading fraction
 * zeros + 1), or -scale when f is all zeros. The text has no leading
 * zeros and no negative zero (tf_decimal_decode). */
static bool decimal_text_verbatim(const char *text, size_t *len)
{
    const char *s = text + (text[0] == '-');
    size_t n = strlen(s);
    size_t digits = n - (memchr(s, '.', n) != NULL);
    *len = (size_t)(s - text) + n;
    if (digits > 34)
        return false;
    if (s[0] != '0' || s[1] == '\0')
        return true;  /* integer part non-zero, or the integer 0 */
    size_t zeros = 0; /* "0." then leading fraction zeros */
    while (s[2 + zeros] == '0')
        zeros++;
    if (s[2 + zeros] == '\0')
        return zeros <= 6; /* zero: adjusted exponent -scale */
    return zeros + 1 <= 6;
}

bool out_value_json(out_buf *o, const tf_value *v, const tf_column *col)
{
    switch (v->kind) {
    case TF_VAL_NULL: out_bytes(o, "null", 4); return true;
    case TF_VAL_INT: out_i64(o, v->i); return true;
    case TF_VAL_UINT:
        if (v->u > INT64_MAX)
            return false; /* Decimal128 */
        out_u64(o, v->u);
        return true;
    case TF_VAL_FLOAT: out_double(o, (double)v->f); return true;
    case TF_VAL_DOUBLE: out_double(o, v->d); return true;
    case TF_VAL_YEAR: out_i64(o, (int32_t)v->i); return true;
    case TF_VAL_BIT: out_i64(o, (int64_t)v->u); return true;
    case TF_VAL_DECIMAL: {
        size_t len;
        if (decimal_text_verbatim(v->decimal.text, &len)) {
            out_bytes(o, "{\"$numberDecimal\":\"", 19);
            out_bytes(o, v->decimal.text, len);
            out_bytes(o, "\"}", 2);
            return true;
        }
        bson_decimal128_t dec;
        if (!tf_decimal_text_to_decimal128(v->decimal.text, &dec)) {
            out_json_string(o, v->decimal.text, strlen(v->decimal.text));
            return true;
        }
        char text[BSON_DECIMAL128_STRING];
        size_t n = out_decimal128_text(&dec, text);
        out_bytes(o, "{\"$numberDecimal\":\"", 19);
        out_bytes(o, text, n);
        out_bytes(o, "\"}", 2);
        return true;
    }
    case TF_VAL_DATE:
    case TF_VAL_DATETIME: {
        if (is_zero_date(v))
            return false;
        int64_t ms;
        if (tf_temporal_to_unix_ms(&v->temporal, &ms))
            out_date(o, ms);
        else
            out_bytes(o, "null", 4);
        return true;
    }
    case TF_VAL_TIMESTAMP:
        if (v->timestamp.seconds == 0 && v->timestamp.microsecond == 0)
            return false;
        out_date(o, v->timestamp.seconds * 1000 + v->timestamp.microsecond / 1000);
        return true;
    case TF_VAL_TIME: {
        char text[40];
        size_t n = tf_temporal_format(&v->temporal, TF_VAL_TIME, text, sizeof text);
        out_json_string(o, text, n);
        return true;
    }
    case TF_VAL_STRING:
        if (!all_ascii(v->bytes.ptr, v->bytes.len))
            return false;
        out_json_string(o, (const char *)v->bytes.ptr, v->bytes.len);
        return true;
    case TF_VAL_BYTES:
    case TF_VAL_GEOMETRY:
        /* BINARY(n) whose row image dropped its 0x00 pad: the BSON path
         * pads it */
        if (v->kind == TF_VAL_BYTES && col->type == TF_TYPE_STRING &&
            col->charset == TF_CHARSET_BINARY && v->bytes.len < col->meta)
            return false;
        out_binary(o, v->bytes.ptr, v->bytes.len, BSON_SUBTYPE_BINARY);
        return true;
    case TF_VAL_ENUM: {
        if (col->enum_set_count == 0 || col->enum_set_values == NULL) {
            out_i64(o, (int32_t)v->u);
            return true;
        }
        if (v->u == 0) {
            out_bytes(o, "\"\"", 2);
            return true;
        }
        if (v->u > col->enum_set_count)
            return false; /* the BSON path says what is wrong */
        const tf_str *member = &col->enum_set_values[v->u - 1];
        if (!all_ascii((const uint8_t *)member->ptr, member->len))
            return false;
        out_json_string(o, member->ptr, member->len);
        return true;
    }
    default: return false;
    }
}
