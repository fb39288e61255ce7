/* test_binlog_out.c — tapflow-binlog's JSON writer (tools/tapflow-binlog/
 * out.c): its Decimal128 text is what bson_decimal128_to_string prints, on
 * the spec's examples and on random values of every coefficient size and
 * exponent, NaN, infinities and non-canonical coefficients included; its
 * doubles are the shortest of %.15g..%.17g that reads back, as the
 * snprintf/strtod loop it shortcuts gives them, on edge and random values;
 * the direct value writer (row_json.c) writes what the BSON path
 * (tf_value_append_bson, then out_bson_value) writes, on random values of
 * every kind, and leaves to that path what it does not handle. */
#include "out.h"
#include "row_json.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first */
#include <setjmp.h>

#include <cmocka.h>

static void assert_as_libbson(const bson_decimal128_t *d)
{
    char want[BSON_DECIMAL128_STRING], got[BSON_DECIMAL128_STRING];
    bson_decimal128_to_string(d, want);
    size_t n = out_decimal128_text(d, got);
    if (strcmp(want, got) != 0 || n != strlen(want))
        fail_msg("%016llx%016llx: \"%s\", libbson \"%s\"", (unsigned long long)d->high,
                 (unsigned long long)d->low, got, want);
}

static void test_spec_examples(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "0",
        "-0",
        "0.00",
        "1.50",
        "-0.05",
        "123456789.123",
        "1E+3",
        "1E-7",
        "0.000001",
        "0.0000001234",
        "1.0E-10",
        "-1.23E+30",
        "1E+6144",
        "1E-6176",
        "9.999999999999999999999999999999999E+6144",
        "NaN",
        "Infinity",
        "-Infinity",
        "1234567890123456789012345678901234",
        "0E+3",
        "0E-6177",
        "-0E+6111",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        bson_decimal128_t d;
        if (!bson_decimal128_from_string(texts[i], &d))
            continue; /* out of range for libbson too */
        assert_as_libbson(&d);
    }
}

static uint64_t rnd64(void)
{
    return ((uint64_t)rand() << 42) ^ ((uint64_t)rand() << 21) ^ (uint64_t)rand();
}

static void test_random_values(void **state)
{
    (void)state;
    srand(4242);
    for (int round = 0; round < 30000; round++) {
        bson_decimal128_t d;
        int bits = rand() % 114; /* coefficient size */
        unsigned __int128 c = ((unsigned __int128)rnd64() << 64) | rnd64();
        c = bits ? c >> (128 - bits) : 0;
        int exponent = rand() % 4 ? rand() % 80 - 60 : rand() % 12288 - 6176;
        uint64_t sign = rand() % 2 ? UINT64_C(1) << 63 : 0;
        d.high = sign | (uint64_t)(exponent + 6176) << 49 |
                 ((uint64_t)(c >> 64) & ((UINT64_C(1) << 49) - 1));
        d.low = (uint64_t)c;
        if (rand() % 50 == 0) /* the combination field's other forms */
            d.high |= UINT64_C(3) << 61 | (rnd64() & (UINT64_C(0xf) << 57));
        assert_as_libbson(&d);
    }
}

/* The writer's rule by snprintf and strtod alone. */
static void reference_double(double v, char *out, size_t cap)
{
    if (isnan(v) || isinf(v)) {
        out_buf o;
        out_init(&o, NULL);
        out_double(&o, v);
        snprintf(out, cap, "%.*s", (int)o.len, o.data);
        out_cleanup(&o);
        return;
    }
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (strpbrk(out, ".eEn") == NULL)
        snprintf(out + n, cap - (size_t)n, ".0");
}

static void assert_double(double v)
{
    char want[64];
    reference_double(v, want, sizeof want);
    out_buf o;
    out_init(&o, NULL);
    out_double(&o, v);
    if (o.len != strlen(want) || memcmp(o.data, want, o.len) != 0)
        fail_msg("%a: \"%.*s\", expected \"%s\"", v, (int)o.len, o.data, want);
    out_cleanup(&o);
}

static void test_doubles_as_the_snprintf_rule(void **state)
{
    (void)state;
    static const double edges[] = {0.0,
                                   -0.0,
                                   1e-4,
                                   1e-5,
                                   0.1,
                                   0.3,
                                   1.0,
                                   -2.5,
                                   1e15,
                                   1e14,
                                   999999999999999.0,
                                   1e16,
                                   123456789012345.0,
                                   0.00012345678,
                                   499956.25,
                                   3999.65,
                                   1e-300,
                                   1e300,
                                   5e-324};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        assert_double(edges[i]);
        assert_double(nextafter(edges[i], INFINITY));
        assert_double(nextafter(edges[i], -INFINITY));
    }
    srand(77);
    for (int round = 0; round < 30000; round++) {
        double v;
        int shape = rand() % 4;
        if (shape == 0) { /* a decimal of a few fraction digits */
            long long n = ((long long)rand() << 20 ^ rand()) % 100000000000LL;
            static const double p10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
            v = (double)n / p10[rand() % 10];
        } else if (shape == 1) { /* any bits */
            uint64_t bits = rnd64() ^ (rnd64() << 32);
            memcpy(&v, &bits, sizeof v);
        } else if (shape == 2) { /* float32 widened, as FLOAT columns are */
            v = (double)(float)((double)rand() / (double)RAND_MAX * pow(10, rand() % 20 - 8));
        } else {
            v = (double)rand() / (double)RAND_MAX * pow(10, rand() % 40 - 20);
        }
        if (rand() % 2)
            v = -v;
        assert_double(v);
    }
}

/* JSON strings: every byte class (plain runs, quotes, backslashes,
 * controls, valid and broken UTF-8) against the escapes spelled out here. */
static void reference_json_string(const unsigned char *s, size_t n, char *out)
{
    char *d = out;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            bson_unichar_t u = 0;
            size_t k = (c >= 0xc2 && c <= 0xdf)   ? 2
                       : (c >= 0xe0 && c <= 0xef) ? 3
                       : (c >= 0xf0 && c <= 0xf4) ? 4
                                                  : 0;
            if (k && i + k <= n && bson_utf8_validate((const char *)s + i, k, false)) {
                (void)u;
                memcpy(d, s + i, k);
                d += k;
                i += k - 1;
                continue;
            }
        }
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            *d++ = (char)c;
            continue;
        }
        const char *esc = c == '"'    ? "\\\""
                          : c == '\\' ? "\\\\"
                          : c == '\n' ? "\\n"
                          : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t"
                          : c == '\b' ? "\\b"
                          : c == '\f' ? "\\f"
                                      : NULL;
        if (esc) {
            strcpy(d, esc);
            d += 2;
        } else {
            d += sprintf(d, "\\u%04x", c);
        }
    }
    *d++ = '"';
    *d = '\0';
}

static void test_json_strings(void **state)
{
    (void)state;
    srand(99);
    unsigned char buf[64];
    char want[64 * 6 + 3];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % 40);
        for (size_t i = 0; i < n; i++) {
            int x = rand() % 10;
            buf[i] = x < 6   ? (unsigned char)(0x20 + rand() % 0x5f)
                     : x < 7 ? (unsigned char)"\"\\\n\t\x01\x1f"[rand() % 6]
                     : x < 9 ? (unsigned char)"\xc3\xa9\xe6\x9d\xb1\xf0\x9f\x99\x82"[rand() % 9]
                             : (unsigned char)(rand() % 256);
        }
        reference_json_string(buf, n, want);
        out_buf o;
        out_init(&o, NULL);
        out_json_string(&o, (const char *)buf, n);
        if (o.len != strlen(want) || memcmp(o.data, want, o.len) != 0)
            fail_msg("round %d: \"%.*s\", expected \"%s\"", round, (int)o.len, o.data, want);
        out_cleanup(&o);
    }
}

/* ---- values: row_json.c against the BSON path ---- */

static const uint8_t text_bytes[] = "abc \"q\" \\ \n\t\x01\x7f\xc3\xa9\xe6\x9d\xb1\xff\x80";

static void random_bytes(uint8_t *buf, size_t n, bool ascii)
{
    for (size_t i = 0; i < n; i++) {
        buf[i] = text_bytes[(size_t)rand() % (sizeof text_bytes - 1)];
        if (ascii)
            buf[i] &= 0x7f;
    }
}

static void random_temporal(tf_temporal *t)
{
    memset(t, 0, sizeof *t);
    t->year = rand() % 8 == 0 ? 0 : rand() % 3 == 0 ? 1969 + rand() % 3 : rand() % 10000;
    t->month = (uint8_t)(rand() % 8 == 0 ? 0 : 1 + rand() % 12);
    t->day = (uint8_t)(rand() % 8 == 0 ? 0 : 1 + rand() % 28);
    t->hour = (uint32_t)(rand() % 24);
    t->minute = (uint8_t)(rand() % 60);
    t->second = (uint8_t)(rand() % 60);
    t->fsp = (uint8_t)(rand() % 7);
    t->microsecond = t->fsp ? (uint32_t)(rand() % 1000000) : 0;
}

/* One random value of a random kind, and a column it may come from. */
static void random_value(tf_value *v, tf_column *col, tf_str *members, uint8_t *bytes)
{
    static const uint8_t int_types[] = {TF_TYPE_TINY, TF_TYPE_SHORT, TF_TYPE_INT24, TF_TYPE_LONG,
                                        TF_TYPE_LONGLONG};
    static const uint16_t charsets[] = {0, 8, 33, 45, 63, 255};
    memset(v, 0, sizeof *v);
    memset(col, 0, sizeof *col);
    col->charset = charsets[rand() % 6];
    switch (rand() % 19) {
    case 0: v->kind = TF_VAL_NULL; break;
    case 1:
        v->kind = TF_VAL_INT;
        col->type = int_types[rand() % 5];
        v->i = (int64_t)(rnd64() >> (rand() % 64)) * (rand() % 2 ? 1 : -1);
        break;
    case 2:
        v->kind = TF_VAL_UINT;
        col->type = int_types[rand() % 5];
        col->is_unsigned = true;
        v->u = (rnd64() << 1 | (uint64_t)(rand() % 2)) >> (rand() % 64);
        break;
    case 3:
        v->kind = TF_VAL_FLOAT;
        v->f = rand() % 2 ? (float)(rand() % 100000) / 100.0f : (float)(rnd64() % 1000000) * 1e-3f;
        break;
    case 4: {
        v->kind = TF_VAL_DOUBLE;
        uint64_t bits = rnd64() << 1 | (uint64_t)(rand() % 2);
        if (rand() % 2)
            memcpy(&v->d, &bits, sizeof v->d);
        else
            v->d = (double)(int64_t)(rnd64() % 10000000) / 1000.0;
        break;
    }
    case 5: {
        v->kind = TF_VAL_DECIMAL;
        char *t = v->decimal.text;
        int intg = rand() % 36, scale = rand() % 31;
        if (rand() % 2)
            *t++ = '-';
        *t++ = (char)('1' + rand() % 9);
        for (int i = 0; i < intg; i++)
            *t++ = (char)('0' + rand() % 10);
        if (rand() % 4 == 0) { /* 0.000..ddd */
            t = v->decimal.text;
            *t++ = '0';
        }
        if (scale) {
            *t++ = '.';
            for (int i = 0; i < scale; i++)
                *t++ = rand() % 3 ? '0' : (char)('0' + rand() % 10);
        }
        *t = '\0';
        break;
    }
    case 6:
    case 7:
        v->kind = rand() % 2 ? TF_VAL_DATE : TF_VAL_DATETIME;
        random_temporal(&v->temporal);
        break;
    case 8:
        v->kind = TF_VAL_TIMESTAMP;
        v->timestamp.seconds = rand() % 10 == 0 ? 0 : (int64_t)(rnd64() % 4294967296u);
        v->timestamp.fsp = (uint8_t)(rand() % 7);
        v->timestamp.microsecond = rand() % 2 ? (uint32_t)(rand() % 1000000) : 0;
        break;
    case 9:
        v->kind = TF_VAL_TIME;
        random_temporal(&v->temporal);
        v->temporal.year = 0;
        v->temporal.month = v->temporal.day = 0;
        v->temporal.hour = (uint32_t)(rand() % 839);
        v->temporal.negative = rand() % 2;
        break;
    case 10:
        v->kind = TF_VAL_YEAR;
        v->i = rand() % 5 ? 1901 + rand() % 255 : 0;
        break;
    case 11:
        v->kind = TF_VAL_BIT;
        v->u = rnd64() >> (rand() % 64);
        v->bit_width = 64;
        break;
    case 12:
    case 13: {
        v->kind = TF_VAL_STRING;
        col->type = TF_TYPE_VARCHAR;
        size_t n = (size_t)(rand() % 40);
        random_bytes(bytes, n, rand() % 3 != 0);
        v->bytes.ptr = bytes;
        v->bytes.len = n;
        break;
    }
    case 14: {
        v->kind = rand() % 4 ? TF_VAL_BYTES : TF_VAL_GEOMETRY;
        col->type = rand() % 2 ? TF_TYPE_STRING : TF_TYPE_BLOB;
        col->charset = TF_CHARSET_BINARY;
        size_t n = (size_t)(rand() % 40);
        col->meta = (uint16_t)(n + (size_t)(rand() % 3));
        for (size_t i = 0; i < n; i++)
            bytes[i] = (uint8_t)rand();
        v->bytes.ptr = bytes;
        v->bytes.len = n;
        break;
    }
    case 15:
    case 16: {
        v->kind = TF_VAL_ENUM;
        col->type = TF_TYPE_ENUM;
        col->enum_set_count = (uint32_t)(rand() % 4);
        col->enum_set_values = rand() % 5 ? members : NULL;
        for (uint32_t i = 0; i < col->enum_set_count; i++) {
            size_t n = (size_t)(rand() % 8);
            random_bytes(bytes + 8 * i, n, rand() % 3 != 0);
            members[i].ptr = (const char *)bytes + 8 * i;
            members[i].len = n;
        }
        v->u = (uint64_t)(rand() % 6);
        break;
    }
    case 17:
        v->kind = TF_VAL_SET;
        col->type = TF_TYPE_SET;
        v->u = (uint64_t)(rand() % 4);
        break;
    default:
        v->kind = TF_VAL_UINT;
        col->type = TF_TYPE_LONGLONG;
        col->is_unsigned = true;
        v->u = UINT64_MAX - (uint64_t)(rand() % 1000);
        break;
    }
}

static void test_values_as_the_bson_path(void **state)
{
    (void)state;
    srand(7);
    unsigned handled[TF_VAL_JSON_DIFF + 1] = {0};
    for (int round = 0; round < 30000; round++) {
        tf_value v;
        tf_column col;
        tf_str members[4];
        uint8_t bytes[64];
        random_value(&v, &col, members, bytes);
        out_buf got, want;
        out_init(&got, NULL);
        out_init(&want, NULL);
        bool direct = out_value_json(&got, &v, &col);
        bson_t doc = BSON_INITIALIZER;
        tf_error err = {0};
        bson_iter_t it;
        bool bson_ok = tf_value_append_bson(&doc, "v", 1, &v, &col, &err) == TF_OK &&
                       bson_iter_init(&it, &doc) && bson_iter_next(&it);
        if (bson_ok)
            out_bson_value(&want, &it);
        if (direct) {
            handled[v.kind]++;
            if (!bson_ok)
                fail_msg("round %d: kind %d written directly, the BSON path fails: %s", round,
                         (int)v.kind, err.message);
            if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
                fail_msg("round %d: kind %d: %.*s, the BSON path %.*s", round, (int)v.kind,
                         (int)got.len, got.data, (int)want.len, want.data);
        } else if (got.len != 0) {
            fail_msg("round %d: kind %d not handled but %zu bytes written", round, (int)v.kind,
                     got.len);
        }
        bson_destroy(&doc);
        out_cleanup(&got);
        out_cleanup(&want);
    }
    /* the kinds it is meant to handle were handled (the test can fail) */
    static const tf_value_kind kinds[] = {
        TF_VAL_NULL,      TF_VAL_INT,     TF_VAL_UINT,     TF_VAL_FLOAT,
        TF_VAL_DOUBLE,    TF_VAL_DECIMAL, TF_VAL_DATE,     TF_VAL_DATETIME,
        TF_VAL_TIMESTAMP, TF_VAL_TIME,    TF_VAL_YEAR,     TF_VAL_BIT,
        TF_VAL_STRING,    TF_VAL_BYTES,   TF_VAL_GEOMETRY, TF_VAL_ENUM};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (handled[kinds[i]] < 100)
            fail_msg("kind %d handled directly only %u times", (int)kinds[i], handled[kinds[i]]);
    assert_int_equal(handled[TF_VAL_SET], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_random_values),
        cmocka_unit_test(test_doubles_as_the_snprintf_rule),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_values_as_the_bson_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
