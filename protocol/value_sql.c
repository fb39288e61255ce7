/* value_sql.c — a decoded value as the SQL literal that stands for it in a
 * WHERE clause against its own column.
 *
 * The point is comparison, not display: `col > literal` and
 * `(k1, k2) IN ((..), (..))` must order and match exactly as the server
 * orders and matches the column's own values, so that keyset pagination
 * from a key a rows event or a snapshot gave back neither skips nor repeats
 * a row. Each choice below is what makes that hold:
 *
 *   strings   _charset X'hex': the bytes exactly, as a string of the
 *             column's charset. The literal is COERCIBLE, the column
 *             IMPLICIT, so the column's collation decides
 *             (utf8mb4_general_ci makes 'k50' = 'K50'). A bare X'..' is a
 *             binary string, which MariaDB 10.11 also coerces to the
 *             column's collation, but whose meaning then rests on each
 *             server's rules for mixing binary and character strings; a
 *             quoted '..' would depend on the session's
 *             character_set_connection and on escaping.
 *   binary    X'hex'; BINARY(n) padded with 0x00 to n bytes: MariaDB's row
 *             image drops the pad, and binary strings compare with it.
 *   numbers   integers and DECIMAL as decimal text, DOUBLE with 17
 *             significant digits and an exponent (a DOUBLE literal reads
 *             back to the same double; without the exponent it would be an
 *             exact DECIMAL), FLOAT as the double it widens to (the server
 *             compares FLOAT columns as doubles).
 *   temporal  quoted text with the column's fractional digits; TIMESTAMP in
 *             UTC, which is right only in a session with time_zone
 *             '+00:00' (as the snapshot's).
 *   ENUM/SET  the index / the bitmask: numbers compare as ENUM and SET
 *             columns sort (by index), member text would compare by name. */
#include "value_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- collation id -> charset ---------------------------------------------- */

typedef struct collation_range {
    uint16_t first, last;
    const char *charset;
} collation_range;

/* Ids 1..247 are shared by MySQL and MariaDB (read from MariaDB 10.11's
 * information_schema.COLLATIONS; test_snapshot.c checks every id the live
 * server has); 76 and 248..323 are MySQL 8's, where MariaDB 10.11 has
 * none. MariaDB's NO PAD variants are the base id + 1024 in the same
 * charset; its UCA 14 collations (uca1400_*) have ids of another scheme
 * and are not here. */
static const collation_range collation_ranges[] = {
    {1, 1, "big5"},        {2, 2, "latin2"},      {3, 3, "dec8"},        {4, 4, "cp850"},
    {5, 5, "latin1"},      {6, 6, "hp8"},         {7, 7, "koi8r"},       {8, 8, "latin1"},
    {9, 9, "latin2"},      {10, 10, "swe7"},      {11, 11, "ascii"},     {12, 12, "ujis"},
    {13, 13, "sjis"},      {14, 14, "cp1251"},    {15, 15, "latin1"},    {16, 16, "hebrew"},
    {18, 18, "tis620"},    {19, 19, "euckr"},     {20, 20, "latin7"},    {21, 21, "latin2"},
    {22, 22, "koi8u"},     {23, 23, "cp1251"},    {24, 24, "gb2312"},    {25, 25, "greek"},
    {26, 26, "cp1250"},    {27, 27, "latin2"},    {28, 28, "gbk"},       {29, 29, "cp1257"},
    {30, 30, "latin5"},    {31, 31, "latin1"},    {32, 32, "armscii8"},  {33, 33, "utf8mb3"},
    {34, 34, "cp1250"},    {35, 35, "ucs2"},      {36, 36, "cp866"},     {37, 37, "keybcs2"},
    {38, 38, "macce"},     {39, 39, "macroman"},  {40, 40, "cp852"},     {41, 42, "latin7"},
    {43, 43, "macce"},     {44, 44, "cp1250"},    {45, 46, "utf8mb4"},   {47, 49, "latin1"},
    {50, 52, "cp1251"},    {53, 53, "macroman"},  {54, 55, "utf16"},     {56, 56, "utf16le"},
    {57, 57, "cp1256"},    {58, 59, "cp1257"},    {60, 61, "utf32"},     {62, 62, "utf16le"},
    {63, 63, "binary"},    {64, 64, "armscii8"},  {65, 65, "ascii"},     {66, 66, "cp1250"},
    {67, 67, "cp1256"},    {68, 68, "cp866"},     {69, 69, "dec8"},      {70, 70, "greek"},
    {71, 71, "hebrew"},    {72, 72, "hp8"},       {73, 73, "keybcs2"},   {74, 74, "koi8r"},
    {75, 75, "koi8u"},     {76, 76, "utf8mb3"},   {77, 77, "latin2"},    {78, 78, "latin5"},
    {79, 79, "latin7"},    {80, 80, "cp850"},     {81, 81, "cp852"},     {82, 82, "swe7"},
    {83, 83, "utf8mb3"},   {84, 84, "big5"},      {85, 85, "euckr"},     {86, 86, "gb2312"},
    {87, 87, "gbk"},       {88, 88, "sjis"},      {89, 89, "tis620"},    {90, 90, "ucs2"},
    {91, 91, "ujis"},      {92, 93, "geostd8"},   {94, 94, "latin1"},    {95, 96, "cp932"},
    {97, 98, "eucjpms"},   {99, 99, "cp1250"},    {101, 124, "utf16"},   {128, 151, "ucs2"},
    {159, 159, "ucs2"},    {160, 183, "utf32"},   {192, 215, "utf8mb3"}, {223, 223, "utf8mb3"},
    {224, 247, "utf8mb4"}, {248, 250, "gb18030"}, {255, 323, "utf8mb4"}, {576, 578, "utf8mb3"},
    {608, 610, "utf8mb4"}, {640, 642, "ucs2"},    {672, 674, "utf16"},   {736, 738, "utf32"},
};

const char *tf_collation_charset_name(uint32_t collation_id)
{
    /* MariaDB's NO PAD collations: base id + 1024. */
    uint32_t id =
        collation_id > 1024 && collation_id < 1024 + 248 ? collation_id - 1024 : collation_id;
    for (size_t i = 0; i < sizeof collation_ranges / sizeof collation_ranges[0]; i++)
        if (id >= collation_ranges[i].first && id <= collation_ranges[i].last)
            return collation_ranges[i].charset;
    return NULL;
}

/* ---- writing into (buf, cap), snprintf-style -------------------------------- */

typedef struct out {
    char *buf;
    size_t cap, len;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - 1 - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_hex(out *o, const uint8_t *p, size_t n, size_t pad_to)
{
    static const char digits[] = "0123456789ABCDEF";
    put(o, "X'", 2);
    for (size_t i = 0; i < n || i < pad_to; i++) {
        uint8_t b = i < n ? p[i] : 0;
        char two[2] = {digits[b >> 4], digits[b & 15]};
        put(o, two, 2);
    }
    put(o, "'", 1);
}

static tf_status fail(tf_error *err, tf_error_domain domain, const tf_column *col, const char *what)
{
    if (col->name.len)
        return tf_error_set(err, domain, 0, "column %.*s (%s): %s",
                            (int)(col->name.len > 64 ? 64 : col->name.len), col->name.ptr,
                            tf_column_type_name(col->type), what);
    return tf_error_set(err, domain, 0, "%s column: %s", tf_column_type_name(col->type), what);
}

/* Fractional digits for a temporal literal: the column's, or all six when
 * the value has a fraction the column's digits cannot show (a value from
 * elsewhere: the literal must still be the value). */
static uint8_t fraction_digits(const tf_column *col, uint32_t microsecond)
{
    uint8_t fsp = 0;
    if (col->type == TF_TYPE_DATETIME2 || col->type == TF_TYPE_TIMESTAMP2 ||
        col->type == TF_TYPE_TIME2)
        fsp = (uint8_t)(col->meta > 6 ? 6 : col->meta);
    uint32_t unit = 1;
    for (uint8_t k = fsp; k < 6; k++)
        unit *= 10;
    return microsecond % unit ? 6 : fsp;
}

static void put_temporal(out *o, tf_temporal t, tf_value_kind kind, const tf_column *col)
{
    char text[64];
    t.fsp = kind == TF_VAL_DATE ? 0 : fraction_digits(col, t.microsecond);
    size_t n = tf_temporal_format(&t, kind, text, sizeof text);
    put(o, "'", 1);
    put(o, text, n < sizeof text ? n : sizeof text - 1);
    put(o, "'", 1);
}

/* A charset name goes into SQL text unquoted: letters, digits, '_' only. */
static bool charset_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static bool decimal_text_ok(const char *text)
{
    const char *p = text + (text[0] == '-');
    size_t digits = strspn(p, "0123456789");
    if (digits == 0)
        return false;
    p += digits;
    if (*p == '.') {
        p++;
        p += strspn(p, "0123456789");
    }
    return *p == '\0';
}

static void put_double(out *o, double d)
{
    char text[40];
    int n = snprintf(text, sizeof text, "%.17g", d);
    put(o, text, (size_t)n);
    if (strpbrk(text, "eE") == NULL)
        put(o, "e0", 2); /* a DOUBLE literal, not an exact DECIMAL one */
}

tf_status tf_value_sql_literal(const tf_value *v, const tf_column *col, const char *charset_name,
                               char *buf, size_t cap, size_t *len, tf_error *err)
{
    out o = {buf, cap, 0};
    char text[48];
    *len = 0;
    switch (v->kind) {
    case TF_VAL_NULL: put_str(&o, "NULL"); break;
    case TF_VAL_INT:
    case TF_VAL_YEAR:
        snprintf(text, sizeof text, "%" PRId64, v->i);
        put_str(&o, text);
        break;
    case TF_VAL_UINT:
    case TF_VAL_BIT:
    case TF_VAL_ENUM:
    case TF_VAL_SET:
        snprintf(text, sizeof text, "%" PRIu64, v->u);
        put_str(&o, text);
        break;
    case TF_VAL_FLOAT:
    case TF_VAL_DOUBLE: {
        double d = v->kind == TF_VAL_FLOAT ? (double)v->f : v->d;
        if (!isfinite(d))
            return fail(err, TF_ERR_UNSUPPORTED, col, "an infinite or NaN number has no literal");
        put_double(&o, d);
        break;
    }
    case TF_VAL_DECIMAL:
        if (!decimal_text_ok(v->decimal.text))
            return fail(err, TF_ERR_PROTOCOL, col, "the DECIMAL value's text is not a number");
        put_str(&o, v->decimal.text);
        break;
    case TF_VAL_STRING:
        if (col->charset != TF_CHARSET_BINARY) {
            const char *cs = charset_name ? charset_name : tf_collation_charset_name(col->charset);
            if (cs == NULL) {
                char what[160];
                snprintf(what, sizeof what,
                         "collation id %u names no charset this build knows: give the "
                         "charset's name",
                         col->charset);
                return fail(err, TF_ERR_UNSUPPORTED, col, what);
            }
            if (!charset_name_ok(cs))
                return fail(err, TF_ERR_UNSUPPORTED, col, "the charset name is not an identifier");
            put(&o, "_", 1);
            put_str(&o, cs);
            put(&o, " ", 1);
        }
        put_hex(&o, v->bytes.ptr, v->bytes.len, 0);
        break;
    case TF_VAL_BYTES:
        put_hex(&o, v->bytes.ptr, v->bytes.len, col->type == TF_TYPE_STRING ? col->meta : 0);
        break;
    case TF_VAL_DATE:
    case TF_VAL_DATETIME:
    case TF_VAL_TIME: put_temporal(&o, v->temporal, v->kind, col); break;
    case TF_VAL_TIMESTAMP: {
        if (v->timestamp.seconds == 0 && v->timestamp.microsecond == 0) {
            /* 0 is the zero timestamp (1970-01-01 00:00:00 UTC is outside
             * TIMESTAMP's range). */
            tf_temporal zero = {0};
            put_temporal(&o, zero, TF_VAL_DATETIME, col);
            break;
        }
        tf_temporal t;
        tf_timestamp_to_temporal(v->timestamp.seconds, v->timestamp.microsecond, 0, &t);
        put_temporal(&o, t, TF_VAL_DATETIME, col);
        break;
    }
    case TF_VAL_ABSENT:
        return fail(err, TF_ERR_UNSUPPORTED, col, "the value is absent from the row image");
    case TF_VAL_JSON:
    case TF_VAL_JSON_DIFF:
    case TF_VAL_GEOMETRY:
    case TF_VAL_VECTOR:
    default:
        return fail(err, TF_ERR_UNSUPPORTED, col,
                    "a JSON, GEOMETRY or VECTOR value has no literal that compares as the "
                    "column does");
    }
    if (cap > 0)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    *len = o.len;
    return TF_OK;
}
