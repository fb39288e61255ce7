/* value_text.c — a column's value from the text a SELECT returns
 * (tf_value_from_text in protocol.h): the snapshot reads tables as text
 * resultsets, and each value must equal what a rows event decodes for the
 * same column, so that the view cannot tell a snapshot row from a change.
 *
 * The text comes from a server but is still outside input: every field is
 * checked against its range (a month of 13, a 7th fraction digit, a number
 * that overflows its type, a DECIMAL with letters) and refused with the
 * column and the text named, never stored. */
#include "protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Up to max_digits decimal digits at *at; false when there are none or
 * more (so the value cannot overflow). */
static bool parse_uint(const char *p, size_t n, size_t *at, unsigned max_digits, uint64_t *out)
{
    uint64_t v = 0;
    size_t start = *at;
    while (*at < n && p[*at] >= '0' && p[*at] <= '9') {
        if (*at - start == max_digits)
            return false;
        v = v * 10 + (uint64_t)(p[*at] - '0');
        (*at)++;
    }
    *out = v;
    return *at > start;
}

/* ".ffffff" (1 to 6 digits) or nothing, to the end of the text. */
static bool parse_fraction(const char *p, size_t n, size_t *at, uint32_t *micro)
{
    *micro = 0;
    if (*at == n)
        return true;
    if (p[*at] != '.')
        return false;
    (*at)++;
    uint32_t scale = 100000;
    size_t start = *at;
    while (*at < n && p[*at] >= '0' && p[*at] <= '9') {
        if (*at - start == 6)
            return false;
        *micro += (uint32_t)(p[*at] - '0') * scale;
        scale /= 10;
        (*at)++;
    }
    return *at > start && *at == n;
}

/* "YYYY-MM-DD"; zero parts are allowed (zero dates), others in range. */
static bool parse_date(const char *p, size_t n, size_t *at, tf_temporal *t)
{
    uint64_t y, m, d;
    if (!parse_uint(p, n, at, 4, &y) || *at >= n || p[(*at)++] != '-' ||
        !parse_uint(p, n, at, 2, &m) || *at >= n || p[(*at)++] != '-' ||
        !parse_uint(p, n, at, 2, &d) || m > 12 || d > 31)
        return false;
    t->year = (int32_t)y;
    t->month = (uint8_t)m;
    t->day = (uint8_t)d;
    return true;
}

/* "h:mm:ss[.ffffff]" to the end, hours up to max_hour. */
static bool parse_clock(const char *p, size_t n, size_t *at, uint64_t max_hour, tf_temporal *t)
{
    uint64_t h, mi, se;
    if (!parse_uint(p, n, at, 3, &h) || *at >= n || p[(*at)++] != ':' ||
        !parse_uint(p, n, at, 2, &mi) || *at >= n || p[(*at)++] != ':' ||
        !parse_uint(p, n, at, 2, &se) || h > max_hour || mi > 59 || se > 59)
        return false;
    t->hour = (uint32_t)h;
    t->minute = (uint8_t)mi;
    t->second = (uint8_t)se;
    return parse_fraction(p, n, at, &t->microsecond);
}

/* Days from 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* "[-]digits[.digits]", as SELECT prints a DECIMAL. */
static bool decimal_text(const char *p, size_t n)
{
    size_t at = p[0] == '-', digits = 0;
    bool point = false;
    for (; at < n; at++) {
        if (p[at] >= '0' && p[at] <= '9')
            digits++;
        else if (p[at] == '.' && !point && digits)
            point = true;
        else
            return false;
    }
    return digits > 0 && p[n - 1] != '.';
}

static bool number(const tf_column *col, const char *p, size_t n, tf_value *out)
{
    char num[128];
    if (n == 0 || n >= sizeof num || p[0] == ' ' || p[0] == '+')
        return false;
    memcpy(num, p, n);
    num[n] = '\0';
    char *end = NULL;
    errno = 0;
    if (col->type == TF_TYPE_FLOAT) {
        out->kind = TF_VAL_FLOAT;
        out->f = (float)strtod(num, &end);
    } else if (col->type == TF_TYPE_DOUBLE) {
        out->kind = TF_VAL_DOUBLE;
        out->d = strtod(num, &end);
    } else if (col->type == TF_TYPE_YEAR) {
        out->kind = TF_VAL_YEAR;
        out->i = strtoll(num, &end, 10);
        if (out->i < 0 || out->i > 2155)
            return false;
    } else if (col->is_unsigned) {
        out->kind = TF_VAL_UINT;
        out->u = strtoull(num, &end, 10);
        if (num[0] == '-')
            return false;
    } else {
        out->kind = TF_VAL_INT;
        out->i = strtoll(num, &end, 10);
    }
    /* strtod's ERANGE also flags denormals, which are values */
    bool integer = col->type != TF_TYPE_FLOAT && col->type != TF_TYPE_DOUBLE;
    return end == num + n && !(integer && errno == ERANGE);
}

static bool temporal(const tf_column *col, const char *p, size_t n, tf_value *out)
{
    size_t at = 0;
    switch ((tf_column_type)col->type) {
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE:
        out->kind = TF_VAL_DATE;
        return parse_date(p, n, &at, &out->temporal) && at == n;
    case TF_TYPE_TIME:
    case TF_TYPE_TIME2:
        out->kind = TF_VAL_TIME;
        if (n > 0 && p[0] == '-') {
            out->temporal.negative = true;
            at = 1;
        }
        out->temporal.fsp = (uint8_t)col->meta;
        return parse_clock(p, n, &at, 838, &out->temporal);
    default: break;
    }
    tf_temporal t = {0};
    if (!parse_date(p, n, &at, &t) || at >= n || p[at++] != ' ' || !parse_clock(p, n, &at, 23, &t))
        return false;
    t.fsp = (uint8_t)col->meta;
    if (col->type == TF_TYPE_DATETIME || col->type == TF_TYPE_DATETIME2) {
        out->kind = TF_VAL_DATETIME;
        out->temporal = t;
        return true;
    }
    /* The session's time_zone is '+00:00': the text is UTC. */
    out->kind = TF_VAL_TIMESTAMP;
    out->timestamp.fsp = t.fsp;
    out->timestamp.microsecond = t.microsecond;
    if (t.year == 0) { /* the zero timestamp */
        out->timestamp.seconds = 0;
        return t.month == 0 && t.day == 0;
    }
    if (t.month == 0 || t.day == 0)
        return false;
    out->timestamp.seconds = days_from_civil(t.year, t.month, t.day) * 86400 +
                             (int64_t)t.hour * 3600 + t.minute * 60 + t.second;
    return true;
}

/* k + 1 for the member called p (n bytes), 0 when none is. */
static uint32_t member(const tf_column *col, const char *p, size_t n)
{
    for (uint32_t k = 0; k < col->enum_set_count; k++)
        if (col->enum_set_values[k].len == n && memcmp(col->enum_set_values[k].ptr, p, n) == 0)
            return k + 1;
    return 0;
}

static bool members(const tf_column *col, const char *p, size_t n, tf_value *out)
{
    if (col->type == TF_TYPE_ENUM) {
        out->kind = TF_VAL_ENUM;
        out->u = member(col, p, n); /* '' of an invalid value, unless '' is a member */
        return out->u != 0 || n == 0;
    }
    out->kind = TF_VAL_SET;
    for (size_t at = 0; at < n;) {
        size_t end = at;
        while (end < n && p[end] != ',')
            end++;
        uint32_t k = member(col, p + at, end - at);
        if (k == 0 || k > 64)
            return false;
        out->u |= (uint64_t)1 << (k - 1);
        at = end + 1;
    }
    return true;
}

static bool bytes(const tf_column *col, const char *p, size_t n, tf_value *out)
{
    switch ((tf_column_type)col->type) {
    case TF_TYPE_JSON:
        /* MySQL's JSON arrives as text; the binlog has binary JSON, which
         * this does not rebuild: the text is given as a string. */
        out->kind = TF_VAL_STRING;
        break;
    case TF_TYPE_GEOMETRY: out->kind = TF_VAL_GEOMETRY; break;
    default:
        out->kind =
            col->charset == TF_CHARSET_BINARY || col->charset == 0 ? TF_VAL_BYTES : TF_VAL_STRING;
    }
    out->bytes.ptr = (const uint8_t *)p;
    out->bytes.len = n;
    return true;
}

static bool from_text(const tf_column *col, const char *p, size_t n, tf_value *out)
{
    switch ((tf_column_type)col->type) {
    case TF_TYPE_TINY:
    case TF_TYPE_SHORT:
    case TF_TYPE_INT24:
    case TF_TYPE_LONG:
    case TF_TYPE_LONGLONG:
    case TF_TYPE_FLOAT:
    case TF_TYPE_DOUBLE:
    case TF_TYPE_YEAR: return number(col, p, n, out);
    case TF_TYPE_NEWDECIMAL:
        if (n == 0 || n >= TF_DECIMAL_TEXT_MAX || !decimal_text(p, n))
            return false;
        out->kind = TF_VAL_DECIMAL;
        memcpy(out->decimal.text, p, n);
        out->decimal.text[n] = '\0';
        out->decimal.precision = (uint8_t)(col->meta >> 8);
        out->decimal.scale = (uint8_t)(col->meta & 0xff);
        /* The binlog writes negative zero as zero. */
        if (out->decimal.text[0] == '-' && strspn(out->decimal.text + 1, "0.") == n - 1)
            memmove(out->decimal.text, out->decimal.text + 1, n);
        return true;
    case TF_TYPE_DATE:
    case TF_TYPE_NEWDATE:
    case TF_TYPE_DATETIME:
    case TF_TYPE_DATETIME2:
    case TF_TYPE_TIMESTAMP:
    case TF_TYPE_TIMESTAMP2:
    case TF_TYPE_TIME:
    case TF_TYPE_TIME2: return temporal(col, p, n, out);
    case TF_TYPE_VARCHAR:
    case TF_TYPE_VAR_STRING:
    case TF_TYPE_STRING:
    case TF_TYPE_BLOB:
    case TF_TYPE_TINY_BLOB:
    case TF_TYPE_MEDIUM_BLOB:
    case TF_TYPE_LONG_BLOB:
    case TF_TYPE_JSON:
    case TF_TYPE_GEOMETRY: return bytes(col, p, n, out);
    case TF_TYPE_BIT: {
        /* BIT(1..64) as the table map gives it; SELECT returns its bytes */
        unsigned bits = (col->meta >> 8) * 8u + (col->meta & 0xff);
        if ((col->meta & 0xff) > 7 || bits == 0 || bits > 64 || n > (bits + 7) / 8)
            return false;
        out->kind = TF_VAL_BIT;
        for (size_t i = 0; i < n; i++)
            out->u = out->u << 8 | (uint8_t)p[i];
        out->bit_width = (uint16_t)bits;
        return true;
    }
    case TF_TYPE_ENUM:
    case TF_TYPE_SET: return members(col, p, n, out);
    default: return false;
    }
}

tf_status tf_value_from_text(const tf_column *col, const char *text, size_t len, tf_value *out,
                             tf_error *err)
{
    memset(out, 0, sizeof *out);
    if (from_text(col, text, len, out))
        return TF_OK;
    memset(out, 0, sizeof *out);
    return tf_error_set(err, TF_ERR_PROTOCOL, 0, "column %.*s (%s): cannot read the value '%.*s'",
                        (int)col->name.len, col->name.ptr, tf_column_type_name(col->type),
                        (int)(len > 64 ? 64 : len), text);
}
