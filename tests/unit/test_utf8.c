/* test_utf8.c — tf_utf8_valid answers exactly what libbson's
 * bson_utf8_validate(s, len, true) answers: edge sequences (overlongs,
 * surrogates, past U+10FFFF, truncated, the two-byte NUL), then random
 * strings mixing ASCII runs of every length with bytes of every value, at
 * every alignment. */
#include "protocol.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs these first */
#include <setjmp.h>

#include <cmocka.h>

static void assert_same(const char *s, size_t n)
{
    bool want = bson_utf8_validate(s, n, true);
    if (tf_utf8_valid(s, n) != want) {
        char hex[3 * 64 + 1] = "";
        for (size_t i = 0; i < n && i < 64; i++)
            snprintf(hex + 3 * i, 4, "%02x ", (unsigned char)s[i]);
        fail_msg("tf_utf8_valid differs from libbson (%s) on %zu bytes: %s",
                 want ? "valid" : "invalid", n, hex);
    }
}

static void test_edge_sequences(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "",
        "plain ascii text, longer than one word",
        "caf\xc3\xa9",
        "\xe6\x9d\xb1\xe4\xba\xac",
        "\xf0\x9f\x99\x82",
        "\xc0\x80", /* NUL in two bytes: libbson allows it */
        "\xc0\xaf", /* overlong '/' */
        "\xe0\x80\xaf",
        "\xf0\x80\x80\xaf", /* overlongs */
        "\xed\xa0\x80",
        "\xed\xbf\xbf", /* surrogates */
        "\xf4\x90\x80\x80",
        "\xf8\x88\x80\x80\x80", /* past U+10FFFF, 5 bytes */
        "\xc3",
        "\xe6\x9d",
        "\xf0\x9f\x99", /* truncated */
        "\x80",
        "\xbf",
        "\xfe",
        "\xff", /* no lead byte */
        "abcdefg\xc3\xa9",
        "abcdefgh\xc3",
        "abcdefghijklmnop\xff",
        "\xc3\xa9"
        "abcdefghijk",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_same(cases[i], strlen(cases[i]));
    static const char nul[] = {'a', 0, 'b', 0, 0, 0, 0, 0, 0, 'c'};
    assert_same(nul, sizeof nul);
}

static void test_random_strings(void **state)
{
    (void)state;
    srand(20261202);
    char buf[96];
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(rand() % 40);
        size_t off = (size_t)(rand() % 8);
        for (size_t i = 0; i < n; i++) {
            int x = rand() % 100;
            buf[off + i] = x < 70   ? (char)(0x20 + rand() % 0x5f)
                           : x < 80 ? (char)(0x80 | (rand() % 0x40))
                           : x < 88 ? (char)(0xc0 | (rand() % 0x20))
                           : x < 94 ? (char)(0xe0 | (rand() % 0x10))
                           : x < 98 ? (char)(0xf0 | (rand() % 0x10))
                                    : (char)(rand() % 256);
        }
        assert_same(buf + off, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edge_sequences),
        cmocka_unit_test(test_random_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
