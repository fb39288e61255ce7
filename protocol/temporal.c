/* temporal.c — DATE, DATETIME, TIMESTAMP and TIME in every binlog encoding
 * (the pre-5.6 types 10/12/7/11 and the 5.6+ "2" types 18/17/19 with
 * fractional seconds), MySQL's packed temporal integers (binary JSON's
 * opaque values) and the conversions to instants and text.
 *
 * The "2" encodings are big-endian so that memcmp orders them: DATETIME2 is
 * 40 bits (sign, year*13+month, day, hour, minute, second) plus 0..3
 * fraction bytes, TIME2 is 24 bits (sign, hour, minute, second) plus the
 * fraction, both stored with an offset so that negative values sort first;
 * TIMESTAMP2 is seconds since the epoch plus the fraction. */
#include "value_internal.h"

#include <stdio.h>

/* Bytes of the fractional part for fsp digits, and the factor that turns the
 * stored number into microseconds: fsp 1-2 store hundredths, 3-4 ten
 * thousandths, 5-6 microseconds. */
static size_t frac_bytes(unsigned fsp) { return (fsp + 1) / 2; }

static uint32_t frac_factor(unsigned fsp)
{
    static const uint32_t factor[] = {1, 10000, 10000, 100, 100, 1, 1};
    return factor[fsp];
}

static tf_status check_fsp(tf_reader *r, unsigned fsp)
{
    if (fsp > 6)
        return tf_reader_bad(r, "fractional-second precision %u in metadata is above 6", fsp);
    return TF_OK;
}

/* Reads the unsigned fraction of DATETIME2 / TIMESTAMP2 into microseconds. */
static tf_status read_fraction(tf_reader *r, unsigned fsp, uint32_t *usec)
{
    size_t n = frac_bytes(fsp);
    *usec = 0;
    if (n == 0)
        return TF_OK;
    size_t at = r->pos;
    const uint8_t *p;
    tf_status st = tf_read_bytes(r, n, &p, "fractional seconds");
    if (st != TF_OK)
        return st;
    uint64_t v = tf_be_uint(p, n) * frac_factor(fsp);
    if (v >= 1000000) {
        r->pos = at;
        return tf_reader_bad(r, "fractional seconds %llu us is not below one second",
                             (unsigned long long)v);
    }
    *usec = (uint32_t)v;
    return TF_OK;
}

/* The row decoders' callers hand them a value already cleared up to the
 * end of the temporal member (tf_value_decode's tf_value_clear), so only
 * the kind and fsp are set here; a memset of all 112 bytes per value was
 * most of the time of DATETIME2 and TIMESTAMP2. */
static void clear(tf_value *out, tf_value_kind kind, unsigned fsp)
{
    out->kind = kind;
    out->temporal.fsp = (uint8_t)fsp;
}

/* Checks the calendar fields every encoding shares; `at` is the offset of
 * the value so the message points at it. */
static tf_status check_fields(tf_reader *r, size_t at, const tf_temporal *t, bool has_time)
{
    const char *what = NULL;
    unsigned bad = 0;
    if (t->year > 9999)
        what = "year", bad = (unsigned)t->year;
    else if (t->month > 12)
        what = "month", bad = t->month;
    else if (t->day > 31)
        what = "day", bad = t->day;
    else if (has_time && t->hour > 23)
        what = "hour", bad = t->hour;
    else if (t->minute > 59)
        what = "minute", bad = t->minute;
    else if (t->second > 59)
        what = "second", bad = t->second;
    if (!what)
        return TF_OK;
    r->pos = at;
    return tf_reader_bad(r, "%s %u out of range", what, bad);
}

tf_status tf_temporal_decode_date(tf_reader *r, tf_value *out)
{
    size_t at = r->pos;
    uint32_t v;
    tf_status st = tf_read_u24le(r, &v, "date");
    if (st != TF_OK)
        return st;
    clear(out, TF_VAL_DATE, 0);
    out->temporal.day = (uint8_t)(v & 31);
    out->temporal.month = (uint8_t)((v >> 5) & 15);
    out->temporal.year = (int32_t)(v >> 9);
    return check_fields(r, at, &out->temporal, false);
}

tf_status tf_temporal_decode_datetime_old(tf_reader *r, tf_value *out)
{
    /* Pre-5.6 DATETIME: the decimal number YYYYMMDDhhmmss, 8 bytes LE. */
    size_t at = r->pos;
    uint64_t v;
    tf_status st = tf_read_u64le(r, &v, "datetime");
    if (st != TF_OK)
        return st;
    clear(out, TF_VAL_DATETIME, 0);
    uint64_t date = v / 1000000, time = v % 1000000;
    if (date / 10000 > 9999) {
        r->pos = at;
        return tf_reader_bad(r, "datetime number %llu out of range", (unsigned long long)v);
    }
    out->temporal.year = (int32_t)(date / 10000);
    out->temporal.month = (uint8_t)(date / 100 % 100);
    out->temporal.day = (uint8_t)(date % 100);
    out->temporal.hour = (uint32_t)(time / 10000);
    out->temporal.minute = (uint8_t)(time / 100 % 100);
    out->temporal.second = (uint8_t)(time % 100);
    return check_fields(r, at, &out->temporal, true);
}

tf_status tf_temporal_decode_timestamp_old(tf_reader *r, tf_value *out)
{
    uint32_t v;
    tf_status st = tf_read_u32le(r, &v, "timestamp");
    if (st != TF_OK)
        return st;
    out->kind = TF_VAL_TIMESTAMP; /* cleared by the caller, see clear() */
    out->timestamp.seconds = v;
    return TF_OK;
}

tf_status tf_temporal_decode_time_old(tf_reader *r, tf_value *out)
{
    /* Pre-5.6 TIME: the signed decimal number hhmmss, 3 bytes LE. */
    size_t at = r->pos;
    uint32_t raw;
    tf_status st = tf_read_u24le(r, &raw, "time");
    if (st != TF_OK)
        return st;
    int32_t v = (raw & 0x800000u) ? (int32_t)raw - 0x1000000 : (int32_t)raw;
    clear(out, TF_VAL_TIME, 0);
    if (v < 0) {
        out->temporal.negative = true;
        v = -v;
    }
    out->temporal.hour = (uint32_t)(v / 10000);
    out->temporal.minute = (uint8_t)(v / 100 % 100);
    out->temporal.second = (uint8_t)(v % 100);
    return check_fields(r, at, &out->temporal, false);
}

tf_status tf_temporal_decode_datetime2(tf_reader *r, unsigned fsp, tf_value *out)
{
    tf_status st = check_fsp(r, fsp);
    if (st != TF_OK)
        return st;
    size_t at = r->pos;
    uint64_t raw;
    const uint8_t *p;
    st = tf_read_bytes(r, 5, &p, "date and time (5 bytes)");
    if (st != TF_OK)
        return st;
    raw = tf_be_uint(p, 5);
    clear(out, TF_VAL_DATETIME, fsp);
    if (raw < 0x8000000000ull) {
        r->pos = at;
        return tf_reader_bad(r, "negative datetime (sign bit clear)");
    }
    uint64_t ymdhms = raw - 0x8000000000ull;
    uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms & 0x1ffff;
    out->temporal.day = (uint8_t)(ymd & 31);
    out->temporal.month = (uint8_t)(ym % 13);
    out->temporal.year = (int32_t)(ym / 13);
    out->temporal.second = (uint8_t)(hms & 63);
    out->temporal.minute = (uint8_t)((hms >> 6) & 63);
    out->temporal.hour = (uint32_t)(hms >> 12);
    st = check_fields(r, at, &out->temporal, true);
    if (st != TF_OK)
        return st;
    return read_fraction(r, fsp, &out->temporal.microsecond);
}

/* What read_fraction and check_fsp accept. */
static bool fraction_ok(const uint8_t *p, unsigned fsp)
{
    return tf_be_uint(p, frac_bytes(fsp)) * frac_factor(fsp) < 1000000;
}

bool tf_temporal_check_datetime2(const uint8_t *p, size_t left, unsigned fsp, size_t *used)
{
    if (fsp > 6 || left < 5 + frac_bytes(fsp))
        return false;
    uint64_t raw = tf_be_uint(p, 5);
    if (raw < 0x8000000000ull)
        return false;
    /* As tf_temporal_decode_datetime2 splits it; the month (% 13) and the
     * day (5 bits) are in range by construction. */
    uint64_t ymdhms = raw - 0x8000000000ull;
    uint64_t ym = ymdhms >> 22;
    uint32_t hms = (uint32_t)(ymdhms & 0x1ffff);
    if (ym / 13 > 9999 || (hms >> 12) > 23 || ((hms >> 6) & 63) > 59 || (hms & 63) > 59 ||
        !fraction_ok(p + 5, fsp))
        return false;
    *used = 5 + frac_bytes(fsp);
    return true;
}

bool tf_temporal_check_timestamp2(const uint8_t *p, size_t left, unsigned fsp, size_t *used)
{
    if (fsp > 6 || left < 4 + frac_bytes(fsp) || !fraction_ok(p + 4, fsp))
        return false;
    *used = 4 + frac_bytes(fsp);
    return true;
}

tf_status tf_temporal_decode_timestamp2(tf_reader *r, unsigned fsp, tf_value *out)
{
    tf_status st = check_fsp(r, fsp);
    if (st != TF_OK)
        return st;
    const uint8_t *p;
    st = tf_read_bytes(r, 4, &p, "seconds (4 bytes)");
    if (st != TF_OK)
        return st;
    out->kind = TF_VAL_TIMESTAMP; /* cleared by the caller, see clear() */
    out->timestamp.seconds = (int64_t)tf_be_uint(p, 4);
    out->timestamp.fsp = (uint8_t)fsp;
    return read_fraction(r, fsp, &out->timestamp.microsecond);
}

tf_status tf_temporal_decode_time2(tf_reader *r, unsigned fsp, tf_value *out)
{
    tf_status st = check_fsp(r, fsp);
    if (st != TF_OK)
        return st;
    size_t at = r->pos;
    size_t n = 3 + frac_bytes(fsp);
    const uint8_t *p;
    st = tf_read_bytes(r, n, &p, fsp ? "time and fractional seconds" : "time (3 bytes)");
    if (st != TF_OK)
        return st;
    /* The value as a signed packed time (my_time_packed_from_binary): the
     * fraction of a negative value is stored as its complement, so the
     * integer part borrows one when the fraction is non-zero. */
    int64_t packed;
    if (fsp >= 5) {
        packed = (int64_t)tf_be_uint(p, 6) - 0x800000000000ll;
    } else {
        int64_t intpart = (int64_t)tf_be_uint(p, 3) - 0x800000;
        int64_t frac = 0;
        if (fsp >= 1) {
            size_t fb = frac_bytes(fsp);
            frac = (int64_t)tf_be_uint(p + 3, fb);
            if (intpart < 0 && frac != 0) {
                intpart++;
                frac -= (int64_t)1 << (8 * fb);
            }
            frac *= frac_factor(fsp);
        }
        packed = (int64_t)((uint64_t)intpart << 24) + frac;
    }
    clear(out, TF_VAL_TIME, fsp);
    if (!tf_temporal_from_packed_time(packed, &out->temporal)) {
        r->pos = at;
        return tf_reader_bad(r, "time field out of range (packed 0x%llx)",
                             (unsigned long long)packed);
    }
    out->temporal.fsp = (uint8_t)fsp;
    return TF_OK;
}

bool tf_temporal_from_packed_time(int64_t packed, tf_temporal *out)
{
    memset(out, 0, sizeof *out);
    uint64_t mag;
    if (packed < 0) {
        out->negative = true;
        mag = (uint64_t)0 - (uint64_t)packed;
    } else {
        mag = (uint64_t)packed;
    }
    uint64_t hms = mag >> 24, frac = mag & 0xffffff;
    out->hour = (uint32_t)((hms >> 12) & 1023);
    out->minute = (uint8_t)((hms >> 6) & 63);
    out->second = (uint8_t)(hms & 63);
    out->microsecond = (uint32_t)frac;
    out->fsp = 6;
    /* Nothing above the 10 hour bits may be set, and no field may overflow. */
    return (hms >> 22) == 0 && out->minute <= 59 && out->second <= 59 && frac < 1000000;
}

bool tf_temporal_from_packed_datetime(int64_t packed, tf_temporal *out)
{
    memset(out, 0, sizeof *out);
    if (packed < 0)
        return false;
    uint64_t v = (uint64_t)packed;
    uint64_t ymdhms = v >> 24, frac = v & 0xffffff;
    uint64_t ymd = ymdhms >> 17, ym = ymd >> 5, hms = ymdhms & 0x1ffff;
    out->day = (uint8_t)(ymd & 31);
    out->month = (uint8_t)(ym % 13);
    if (ym / 13 > 9999)
        return false;
    out->year = (int32_t)(ym / 13);
    out->second = (uint8_t)(hms & 63);
    out->minute = (uint8_t)((hms >> 6) & 63);
    out->hour = (uint32_t)(hms >> 12);
    out->microsecond = (uint32_t)frac;
    out->fsp = 6;
    return out->month <= 12 && out->hour <= 23 && out->minute <= 59 && out->second <= 59 &&
           frac < 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), and its inverse. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int32_t *y, uint8_t *m, uint8_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned dd = doy - (153 * mp + 2) / 5 + 1;
    unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int32_t)((int64_t)yoe + era * 400 + (mm <= 2));
    *m = (uint8_t)mm;
    *d = (uint8_t)dd;
}

static unsigned days_in_month(int32_t year, unsigned month)
{
    static const uint8_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

bool tf_temporal_to_unix_ms(const tf_temporal *t, int64_t *ms)
{
    /* A zero month or day (the zero date, '2020-00-00') or a day the month
     * does not have (ALLOW_INVALID_DATES' '2020-02-31') names no instant;
     * normalising it would write a different date than the source holds. */
    if (t->month < 1 || t->month > 12 || t->day < 1 || t->day > days_in_month(t->year, t->month) ||
        t->year < 0 || t->year > 9999)
        return false;
    int64_t days = days_from_civil(t->year, t->month, t->day);
    int64_t secs = days * 86400 + (int64_t)t->hour * 3600 + (int64_t)t->minute * 60 + t->second;
    *ms = secs * 1000 + (int64_t)(t->microsecond / 1000);
    return true;
}

void tf_timestamp_to_temporal(int64_t seconds, uint32_t microsecond, uint8_t fsp, tf_temporal *out)
{
    memset(out, 0, sizeof *out);
    int64_t days = seconds / 86400, rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (uint32_t)(rem / 3600);
    out->minute = (uint8_t)(rem / 60 % 60);
    out->second = (uint8_t)(rem % 60);
    out->microsecond = microsecond;
    out->fsp = fsp;
}

/* Appends ".ffffff" cut to fsp digits. */
static size_t format_fraction(const tf_temporal *t, char *out, size_t cap)
{
    if (t->fsp == 0 || cap == 0)
        return 0;
    char six[8];
    snprintf(six, sizeof six, "%06u", t->microsecond % 1000000);
    int n = snprintf(out, cap, ".%.*s", (int)(t->fsp > 6 ? 6 : t->fsp), six);
    return n < 0 ? 0 : (size_t)n;
}

size_t tf_temporal_format(const tf_temporal *t, tf_value_kind kind, char *out, size_t cap)
{
    int n;
    switch (kind) {
    case TF_VAL_DATE:
        n = snprintf(out, cap, "%04d-%02u-%02u", (int)t->year, t->month, t->day);
        return n < 0 ? 0 : (size_t)n;
    case TF_VAL_DATETIME:
        n = snprintf(out, cap, "%04d-%02u-%02u %02u:%02u:%02u", (int)t->year, t->month, t->day,
                     t->hour, t->minute, t->second);
        break;
    case TF_VAL_TIME:
        n = snprintf(out, cap, "%s%02u:%02u:%02u", t->negative ? "-" : "", t->hour, t->minute,
                     t->second);
        break;
    default:
        if (cap)
            out[0] = '\0';
        return 0;
    }
    if (n < 0 || (size_t)n >= cap)
        return n < 0 ? 0 : (size_t)n;
    return (size_t)n + format_fraction(t, out + n, cap - (size_t)n);
}
