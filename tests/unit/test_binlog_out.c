/* test_binlog_out.c — tapflow-binlog's JSON writer (tools/tapflow-binlog/
 * out.c): its Decimal128 text is what bson_decimal128_to_string prints, on
 * the spec's examples and on random values of every coefficient size and
 * exponent, NaN, infinities and non-canonical coefficients included. */
#include "out.h"

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
    for (int round = 0; round < 300000; round++) {
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_examples),
        cmocka_unit_test(test_random_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
