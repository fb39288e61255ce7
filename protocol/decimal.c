/* decimal.c — MySQL's binary DECIMAL (NEWDECIMAL, type 246) to exact text,
 * and exact text to BSON Decimal128.
 *
 * The row stores DECIMAL(p, s) as the integer part and the fraction each cut
 * into groups of 9 decimal digits (4 big-endian bytes per group); the digits
 * left over (integer side: the leading ones, fraction side: the trailing
 * ones) take 1-4 bytes. The top bit of the first byte is the sign, set for
 * non-negative values; a negative value has every byte inverted, so that the
 * encoding sorts with memcmp (strings/decimal.cc, decimal2bin). */
#include "value_internal.h"

#include <stdio.h>

enum {
    DIGITS_PER_GROUP = 9,
    DECIMAL_MAX_PRECISION = 65,
    DECIMAL_MAX_SCALE = 30
};

/* Bytes for 0..9 leftover digits. */
static const uint8_t leftover_bytes[DIGITS_PER_GROUP + 1] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};

static const uint32_t power10[DIGITS_PER_GROUP + 1] = {
    1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};

/* tf_decimal_binary_size, inlined into the decoders (once per value). */
static inline size_t binary_size(unsigned precision, unsigned scale)
{
    if (precision < 1 || precision > DECIMAL_MAX_PRECISION || scale > DECIMAL_MAX_SCALE ||
        scale > precision)
        return 0;
    unsigned intg = precision - scale;
    return (intg / DIGITS_PER_GROUP) * 4 + leftover_bytes[intg % DIGITS_PER_GROUP] +
           (scale / DIGITS_PER_GROUP) * 4 + leftover_bytes[scale % DIGITS_PER_GROUP];
}

size_t tf_decimal_binary_size(unsigned precision, unsigned scale)
{
    return binary_size(precision, scale);
}

/* "00".."99": put_group writes two digits per division (one division per
 * digit was most of tf_decimal_decode's time). */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930"
    "31323334353637383940414243444546474849505152535455565758596061"
    "62636465666768697071727374757677787980818283848586878889909192"
    "93949596979899";

/* Appends one group of `digits` digits (value < 10^digits, checked by the
 * caller) as text with leading zeros. */
static char *put_group(char *p, uint32_t value, unsigned digits)
{
    unsigned i = digits;
    for (; i >= 2; i -= 2) {
        unsigned pair = value % 100;
        value /= 100;
        p[i - 1] = digit_pairs[2 * pair + 1];
        p[i - 2] = digit_pairs[2 * pair];
    }
    if (i == 1)
        p[0] = (char)('0' + value);
    return p + digits;
}

tf_status tf_decimal_decode(const uint8_t *buf, size_t len, unsigned precision, unsigned scale,
                            char text[TF_DECIMAL_TEXT_MAX], size_t *consumed, tf_error *err)
{
    tf_reader r;
    tf_reader_init(&r, buf, len, 0, "NEWDECIMAL value", TF_MALFORMED, err);
    size_t size = binary_size(precision, scale);
    if (size == 0)
        return tf_reader_bad(&r, "metadata precision %u scale %u outside DECIMAL's 1..65 / 0..30",
                             precision, scale);
    const uint8_t *p;
    if (tf_reader_left(&r) < size) {
        /* Formatted only here: once per value would cost more than the decode. */
        char what[64];
        snprintf(what, sizeof what, "DECIMAL(%u,%u) (%zu bytes)", precision, scale, size);
        return tf_reader_short(&r, what, size);
    }
    tf_read_bytes(&r, size, &p, "DECIMAL");

    /* Undo the sign encoding on a copy: flip the sign bit, and invert every
     * byte of a negative value. */
    uint8_t bytes[40];
    bool negative = (p[0] & 0x80) == 0;
    uint8_t mask = negative ? 0xff : 0x00;
    for (size_t i = 0; i < size; i++)
        bytes[i] = p[i] ^ mask;
    bytes[0] ^= 0x80;

    unsigned intg = precision - scale;
    unsigned groups[2] = {intg / DIGITS_PER_GROUP, scale / DIGITS_PER_GROUP};
    unsigned leftover[2] = {intg % DIGITS_PER_GROUP, scale % DIGITS_PER_GROUP};

    /* Integer digits first, all of them with leading zeros, trimmed below. */
    char digits[DECIMAL_MAX_PRECISION + 8];
    char *d = digits;
    size_t pos = 0;
    for (int side = 0; side < 2; side++) {
        /* Integer side: leftover group first; fraction side: last. */
        for (unsigned g = 0; g <= groups[side]; g++) {
            bool is_leftover = side == 0 ? g == 0 : g == groups[side];
            unsigned ndig = is_leftover ? leftover[side] : DIGITS_PER_GROUP;
            if (is_leftover && ndig == 0)
                continue;
            size_t nbytes = is_leftover ? leftover_bytes[ndig] : 4;
            uint32_t v = (uint32_t)tf_be_uint(bytes + pos, nbytes);
            if (v >= power10[ndig]) {
                r.pos = pos;
                return tf_reader_bad(&r, "DECIMAL(%u,%u) %s digit group %u exceeds %u digits",
                                     precision, scale, side == 0 ? "integer" : "fraction", v, ndig);
            }
            d = put_group(d, v, ndig);
            pos += nbytes;
        }
    }

    /* Text: sign, integer digits without leading zeros (at least "0"), then
     * exactly `scale` fraction digits. */
    const char *int_digits = digits;
    size_t int_len = intg;
    while (int_len > 0 && *int_digits == '0') {
        int_digits++;
        int_len--;
    }
    bool is_zero = int_len == 0;
    for (unsigned i = 0; i < scale && is_zero; i++)
        is_zero = digits[intg + i] == '0';
    char *t = text;
    if (negative && !is_zero)
        *t++ = '-';
    if (int_len == 0) {
        *t++ = '0';
    } else {
        memcpy(t, int_digits, int_len);
        t += int_len;
    }
    if (scale > 0) {
        *t++ = '.';
        memcpy(t, digits + intg, scale);
        t += scale;
    }
    *t = '\0';
    if (consumed)
        *consumed = size;
    return TF_OK;
}

bool tf_decimal_check(const uint8_t *p, size_t left, unsigned precision, unsigned scale,
                      size_t *used)
{
    size_t size = binary_size(precision, scale);
    if (size == 0 || left < size)
        return false;
    /* The groups tf_decimal_decode reads, in the same order, each checked
     * against its digit count with the sign encoding undone on the fly:
     * every byte inverted for a negative value, the first byte's top bit
     * flipped. */
    uint32_t invert = (p[0] & 0x80) ? 0 : 0xffffffffu;
    unsigned intg = precision - scale;
    unsigned lead = intg % DIGITS_PER_GROUP, trail = scale % DIGITS_PER_GROUP;
    size_t pos = 0;
    size_t first = lead ? leftover_bytes[lead] : 4;
    uint32_t sign_bit = 0x80u << (8 * (first - 1));
    if (lead) {
        uint32_t v = ((uint32_t)tf_be_uint(p, first) ^ invert ^ sign_bit) &
                     (0xffffffffu >> (8 * (4 - first)));
        if (v >= power10[lead])
            return false;
        pos = first;
        sign_bit = 0;
    }
    size_t full_end = size - leftover_bytes[trail];
    for (; pos < full_end; pos += 4) {
        uint32_t v = (uint32_t)tf_be_uint(p + pos, 4) ^ invert ^ sign_bit;
        if (v >= power10[DIGITS_PER_GROUP])
            return false;
        sign_bit = 0;
    }
    if (trail) {
        size_t nb = leftover_bytes[trail];
        uint32_t v = ((uint32_t)tf_be_uint(p + pos, nb) ^ invert ^
                      (pos == 0 ? 0x80u << (8 * (nb - 1)) : 0)) &
                     (0xffffffffu >> (8 * (4 - nb)));
        if (v >= power10[trail])
            return false;
    }
    *used = size;
    return true;
}

bool tf_decimal_text_to_decimal128(const char *text, bson_decimal128_t *out)
{
    /* Count significant digits: from the first non-zero digit to the end,
     * not counting trailing zeros of the fraction, which can be dropped by
     * lowering the exponent without changing the value. */
    const char *s = text;
    bool negative = false;
    if (*s == '-' || *s == '+') {
        negative = *s == '-';
        s++;
    }
    char coeff[DECIMAL_MAX_PRECISION + 40];
    size_t n = 0;
    int exponent = 0;
    bool seen_point = false, any_digit = false;
    for (; *s; s++) {
        if (*s == '.') {
            if (seen_point)
                return false;
            seen_point = true;
            continue;
        }
        if (*s < '0' || *s > '9' || n >= sizeof coeff - 1)
            return false;
        any_digit = true;
        if (n == 0 && *s == '0') {
            if (seen_point)
                exponent--;
            continue;
        }
        coeff[n++] = *s;
        if (seen_point)
            exponent--;
    }
    if (!any_digit)
        return false;
    /* Keep the scale when it fits (so 1.50 stays 1.50); otherwise drop
     * trailing fraction zeros. */
    while (n > 34 && exponent < 0 && coeff[n - 1] == '0') {
        n--;
        exponent++;
    }
    if (n > 34)
        return false;
    /* The coefficient and exponent as they are, what
     * bson_decimal128_from_string makes of "<coeff>E<exponent>", built
     * directly (its parser showed in tapflow-binlog's profile): BID
     * layout, sign, a 14-bit biased exponent, a 113-bit coefficient (34
     * digits need at most 113 bits). */
    int biased = exponent + 6176;
    if (biased < 0 || biased > 12287)
        return false;
    unsigned __int128 c = 0;
    for (size_t i = 0; i < n; i++)
        c = c * 10 + (unsigned)(coeff[i] - '0');
    out->high = (negative ? UINT64_C(1) << 63 : 0) | (uint64_t)biased << 49 |
                ((uint64_t)(c >> 64) & ((UINT64_C(1) << 49) - 1));
    out->low = (uint64_t)c;
    return true;
}

bool tf_decimal_text_append_bson(bson_t *doc, const char *key, size_t key_len, const char *text)
{
    bson_decimal128_t dec;
    if (tf_decimal_text_to_decimal128(text, &dec))
        return bson_append_decimal128(doc, key, (int)key_len, &dec);
    return bson_append_utf8(doc, key, (int)key_len, text, -1);
}
