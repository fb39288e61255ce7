/* out.c — buffered JSON text output for tapflow-binlog. */
#include "out.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void out_init(out_buf *o, FILE *sink)
{
    o->cap = 1u << 20;
    o->data = malloc(o->cap);
    o->len = 0;
    o->sink = sink;
    o->failed = (o->data == NULL);
    if (o->data == NULL)
        o->cap = 0;
}

void out_cleanup(out_buf *o)
{
    out_flush(o);
    free(o->data);
    o->data = NULL;
    o->cap = o->len = 0;
}

void out_flush(out_buf *o)
{
    if (o->sink != NULL && o->len > 0 && !o->failed) {
        if (fwrite(o->data, 1, o->len, o->sink) != o->len)
            o->failed = true;
    }
    if (o->sink != NULL)
        o->len = 0;
}

void out_flush_if(out_buf *o, size_t threshold)
{
    if (o->len > threshold)
        out_flush(o);
}

/* Makes room for n more bytes; on allocation failure marks the stream
 * failed and drops output (the caller checks o->failed at the end). */
bool out_grow(out_buf *o, size_t n)
{
    if (o->cap - o->len >= n)
        return true;
    if (o->failed)
        return false;
    size_t cap = o->cap ? o->cap : 4096;
    while (cap - o->len < n) {
        if (cap > SIZE_MAX / 2) {
            o->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(o->data, cap);
    if (p == NULL) {
        o->failed = true;
        return false;
    }
    o->data = p;
    o->cap = cap;
    return true;
}

void out_cstr(out_buf *o, const char *s) { out_bytes(o, s, strlen(s)); }

void out_u64(out_buf *o, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (!out_reserve(o, n))
        return;
    while (n > 0)
        o->data[o->len++] = tmp[--n];
}

void out_i64(out_buf *o, int64_t v)
{
    if (v < 0) {
        out_char(o, '-');
        out_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        out_u64(o, (uint64_t)v);
    }
}

/* The text "%.15g" gives for v, when v reads back from a decimal of at
 * most 15 significant digits and at most 8 fraction digits in fixed
 * notation (1e-4 <= |v| < 1e15): N / 10^k == v, computed in doubles, is
 * exactly strtod's answer for that decimal (both are correctly rounded),
 * and at most one decimal of 15 digits lies within half an ulp of v, so it
 * is the one "%.15g" prints. Most column values are such (prices, scores,
 * measures); the rest take the snprintf path. */
static bool out_double_short(out_buf *o, double v)
{
    static const double pow10[9] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    double a = fabs(v);
    if (!(a >= 1e-4 && a < 1e15))
        return false;
    for (int k = 0; k <= 8; k++) {
        double scaled = a * pow10[k];
        if (scaled >= 1e15)
            return false;
        int64_t n = llrint(scaled);
        if ((double)n / pow10[k] != a)
            continue;
        char digits[24];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + n % 10);
            n /= 10;
        } while (n);
        int frac_start = 0; /* trailing fraction zeros, which %g drops */
        while (frac_start < k && frac_start < nd && digits[frac_start] == '0')
            frac_start++;
        char tmp[48], *t = tmp;
        if (v < 0)
            *t++ = '-';
        if (nd > k)
            for (int i = nd - 1; i >= k; i--)
                *t++ = digits[i];
        else
            *t++ = '0';
        if (frac_start < k) {
            *t++ = '.';
            for (int i = k - 1; i >= frac_start; i--)
                *t++ = i < nd ? digits[i] : '0';
        } else {
            *t++ = '.';
            *t++ = '0';
        }
        out_bytes(o, tmp, (size_t)(t - tmp));
        return true;
    }
    return false;
}

/* Shortest %g text that reads back as the same double; always shows that it
 * is a double ("1.0", not "1"), as relaxed Extended JSON does. Infinities
 * and NaN have no JSON number: {"$numberDouble": "Infinity"}. */
void out_double(out_buf *o, double v)
{
    char tmp[40];
    if (isnan(v)) {
        out_cstr(o, "{\"$numberDouble\":\"NaN\"}");
        return;
    }
    if (isinf(v)) {
        out_cstr(o,
                 v > 0 ? "{\"$numberDouble\":\"Infinity\"}" : "{\"$numberDouble\":\"-Infinity\"}");
        return;
    }
    if (out_double_short(o, v))
        return;
    int n = 0;
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    out_bytes(o, tmp, (size_t)n);
    if (strpbrk(tmp, ".eEn") == NULL)
        out_cstr(o, ".0");
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0; /* overlong */
        if (c == 0xed && s[1] >= 0xa0)
            return 0; /* surrogates */
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

/* ASCII that a JSON string holds as is: not a control, quote or
 * backslash. */
static inline bool plain_json_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void out_json_string(out_buf *o, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    /* Worst case 6 output bytes per input byte, plus quotes. */
    if (n > (SIZE_MAX - 2) / 6 || !out_reserve(o, n * 6 + 2))
        return;
    char *d = o->data + o->len;
    *d++ = '"';
    size_t i = 0;
    while (i < n) {
        /* a run of bytes that stand for themselves, copied at once */
        size_t run = i;
        while (run < n && plain_json_byte(s[run]))
            run++;
        if (run > i) {
            memcpy(d, s + i, run - i);
            d += run - i;
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = utf8_seq_len(s + i, n - i);
            if (k > 0) {
                memcpy(d, s + i, k);
                d += k;
                i += k;
                continue;
            }
        }
        *d++ = '\\';
        switch (c) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        default:
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
        i++;
    }
    *d++ = '"';
    o->len = (size_t)(d - o->data);
}

void out_key(out_buf *o, const char *key, bool first)
{
    if (!first)
        out_char(o, ',');
    out_json_string(o, key, strlen(key));
    out_char(o, ':');
}

static void out_base64(out_buf *o, const uint8_t *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (n > SIZE_MAX / 2 || !out_reserve(o, (n + 2) / 3 * 4))
        return;
    char *d = o->data + o->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *d++ = tbl[v >> 18];
        *d++ = tbl[(v >> 12) & 63];
        *d++ = tbl[(v >> 6) & 63];
        *d++ = tbl[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *d++ = tbl[v >> 18];
        *d++ = tbl[(v >> 12) & 63];
        *d++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        *d++ = '=';
    }
    o->len = (size_t)(d - o->data);
}

void out_binary(out_buf *o, const uint8_t *p, size_t n, uint8_t subtype)
{
    static const char hex[] = "0123456789abcdef";
    out_bytes(o, "{\"$binary\":{\"base64\":\"", 22);
    out_base64(o, p, n);
    char tail[] = "\",\"subType\":\"00\"}}";
    tail[13] = hex[subtype >> 4];
    tail[14] = hex[subtype & 15];
    out_bytes(o, tail, sizeof tail - 1);
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* Relaxed Extended JSON dates: ISO-8601 for years 1970..9999, otherwise
 * the canonical {"$numberLong": ms} form (the spec's rule). */
void out_date(out_buf *o, int64_t ms)
{
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (ms < 0 || y > 9999) {
        out_cstr(o, "{\"$date\":{\"$numberLong\":\"");
        out_i64(o, ms);
        out_cstr(o, "\"}}");
        return;
    }
    /* Hand-formatted: a million rows with a few dates each make snprintf
     * show up in profiles. */
    unsigned h = (unsigned)(rem / 3600000), mi = (unsigned)(rem / 60000 % 60),
             s = (unsigned)(rem / 1000 % 60), milli = (unsigned)(rem % 1000);
    char tmp[48] = "{\"$date\":\"YYYY-MM-DDThh:mm:ss";
    char *p = tmp + 10;
    unsigned yy = (unsigned)y;
    p[0] = (char)('0' + yy / 1000);
    p[1] = (char)('0' + yy / 100 % 10);
    p[2] = (char)('0' + yy / 10 % 10);
    p[3] = (char)('0' + yy % 10);
    const unsigned two[5] = {mo, d, h, mi, s};
    const int at[5] = {5, 8, 11, 14, 17};
    for (int i = 0; i < 5; i++) {
        p[at[i]] = (char)('0' + two[i] / 10);
        p[at[i] + 1] = (char)('0' + two[i] % 10);
    }
    p += 19;
    if (milli) {
        *p++ = '.';
        *p++ = (char)('0' + milli / 100);
        *p++ = (char)('0' + milli / 10 % 10);
        *p++ = (char)('0' + milli % 10);
    }
    memcpy(p, "Z\"}", 3);
    p += 3;
    out_bytes(o, tmp, (size_t)(p - tmp));
}

/* What bson_decimal128_to_string prints, for finite canonical values (the
 * rest goes to libbson): the Extended JSON spec's rules, plain notation
 * when the exponent is at most 0 and the adjusted exponent at least -6,
 * else d.dddE+x. libbson's formatter showed in the profile. */
size_t out_decimal128_text(const bson_decimal128_t *dec, char *text)
{
    uint64_t high = dec->high, low = dec->low;
    if (((high >> 61) & 3) == 3) { /* NaN, infinity, or the large-coefficient form */
        bson_decimal128_to_string(dec, text);
        return strlen(text);
    }
    int exponent = (int)((high >> 49) & 0x3fff) - 6176;
    unsigned __int128 c = ((unsigned __int128)(high & ((UINT64_C(1) << 49) - 1)) << 64) | low;
    char digits[40]; /* 2^113 has 35 digits */
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + (unsigned)(c % 10));
        c /= 10;
    } while (c);
    if (nd > 34) { /* not canonical: libbson's own truncation */
        bson_decimal128_to_string(dec, text);
        return strlen(text);
    }
    char *t = text;
    if (high >> 63)
        *t++ = '-';
    int adjusted = (int)nd - 1 + exponent;
    if (exponent > 0 || adjusted < -6) {
        *t++ = digits[nd - 1];
        if (nd > 1) {
            *t++ = '.';
            for (size_t i = nd - 1; i-- > 0;)
                *t++ = digits[i];
        }
        t += sprintf(t, "E%+d", adjusted);
    } else if (exponent == 0) {
        for (size_t i = nd; i-- > 0;)
            *t++ = digits[i];
    } else {
        int point = (int)nd + exponent; /* digits before the point */
        if (point > 0) {
            for (int i = 0; i < point; i++)
                *t++ = digits[nd - 1 - (size_t)i];
            *t++ = '.';
            for (size_t i = nd - (size_t)point; i-- > 0;)
                *t++ = digits[i];
        } else {
            *t++ = '0';
            *t++ = '.';
            for (int i = 0; i < -point; i++)
                *t++ = '0';
            for (size_t i = nd; i-- > 0;)
                *t++ = digits[i];
        }
    }
    *t = '\0';
    return (size_t)(t - text);
}

void out_bson(out_buf *o, const bson_t *doc, bool is_array)
{
    bson_iter_t it;
    out_char(o, is_array ? '[' : '{');
    if (bson_iter_init(&it, doc)) {
        bool first = true;
        while (bson_iter_next(&it)) {
            if (!first)
                out_char(o, ',');
            first = false;
            if (!is_array) {
                out_json_string(o, bson_iter_key(&it), bson_iter_key_len(&it));
                out_char(o, ':');
            }
            out_bson_value(o, &it);
        }
    }
    out_char(o, is_array ? ']' : '}');
}

void out_bson_value(out_buf *o, const bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t n;
        const char *s = bson_iter_utf8(it, &n);
        out_json_string(o, s, n);
        break;
    }
    case BSON_TYPE_INT32: out_i64(o, bson_iter_int32(it)); break;
    case BSON_TYPE_INT64: out_i64(o, bson_iter_int64(it)); break;
    case BSON_TYPE_DOUBLE: out_double(o, bson_iter_double(it)); break;
    case BSON_TYPE_BOOL: out_cstr(o, bson_iter_bool(it) ? "true" : "false"); break;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED: out_cstr(o, "null"); break;
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char text[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &dec);
        size_t n = out_decimal128_text(&dec, text);
        out_bytes(o, "{\"$numberDecimal\":\"", 19);
        out_bytes(o, text, n);
        out_bytes(o, "\"}", 2);
        break;
    }
    case BSON_TYPE_DATE_TIME: out_date(o, bson_iter_date_time(it)); break;
    case BSON_TYPE_BINARY: {
        bson_subtype_t sub;
        uint32_t n;
        const uint8_t *p;
        bson_iter_binary(it, &sub, &n, &p);
        out_binary(o, p, n, (uint8_t)sub);
        break;
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        uint32_t n;
        const uint8_t *p;
        bson_t sub;
        bool is_array = bson_iter_type(it) == BSON_TYPE_ARRAY;
        if (is_array)
            bson_iter_array(it, &n, &p);
        else
            bson_iter_document(it, &n, &p);
        if (bson_init_static(&sub, p, n))
            out_bson(o, &sub, is_array);
        else
            out_cstr(o, is_array ? "[]" : "{}");
        break;
    }
    default: {
        /* Types the value mapping never produces: let libbson write them. */
        bson_t one = BSON_INITIALIZER;
        bson_append_iter(&one, "v", 1, it);
        size_t n;
        char *s = bson_as_relaxed_extended_json(&one, &n);
        if (s != NULL) {
            /* s is { "v" : value }: keep the value. */
            const char *colon = strchr(s, ':');
            size_t start = colon ? (size_t)(colon - s) + 2 : 0;
            if (n >= start + 2)
                out_bytes(o, s + start, n - start - 2);
            bson_free(s);
        } else {
            out_cstr(o, "null");
        }
        bson_destroy(&one);
    }
    }
}
