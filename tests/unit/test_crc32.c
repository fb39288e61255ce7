/* test_crc32.c — the binlog CRC32 (protocol/crc32.c) against zlib's crc32,
 * the reference the servers' own checksums agree with: every length up to
 * 4096 at every alignment within 16 bytes, both implementations (the
 * PCLMULQDQ folding only where the CPU has it), split updates, and buffers
 * of megabytes. */
#include "support.h"

#include "crc32_internal.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A fixed xorshift generator: the same bytes on every run. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static uint8_t *random_buffer(size_t len, uint64_t seed)
{
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(next_random(&seed) >> 24);
    return buf;
}

static uint32_t zlib_crc(uint32_t crc, const uint8_t *buf, size_t len)
{
    return (uint32_t)crc32(crc, buf, (uInt)len);
}

static void test_crc32_check_value(void **state)
{
    (void)state;
    /* The catalogue's check value of CRC-32/ISO-HDLC. */
    assert_int_equal(tf_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(tf_crc32_update_tables(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(tf_crc32(NULL, 0), 0);
}

/* The folding loop, its lane merge and the tables' tail each see every
 * remainder this way, at every misalignment of the start. */
static void check_all_lengths(uint32_t (*update)(uint32_t, const uint8_t *, size_t))
{
    enum {
        MAX_LEN = 4096,
        ALIGNMENTS = 16
    };
    uint8_t *buf = random_buffer(MAX_LEN + ALIGNMENTS, 0x9e3779b97f4a7c15u);
    uint64_t seed = 42;
    for (size_t len = 0; len <= MAX_LEN; len++) {
        size_t align = len % ALIGNMENTS;
        uint32_t start = len % 3 == 0 ? 0 : (uint32_t)next_random(&seed);
        uint32_t want = zlib_crc(start, buf + align, len);
        uint32_t got = update(start, buf + align, len);
        if (got != want)
            fail_msg("length %zu at alignment %zu from 0x%08x: 0x%08x, zlib 0x%08x", len, align,
                     start, got, want);
    }
    for (size_t align = 0; align < ALIGNMENTS; align++)
        for (size_t len = 0; len <= 300; len++)
            assert_int_equal(update(0, buf + align, len), zlib_crc(0, buf + align, len));
    free(buf);
}

static void test_crc32_every_length_and_alignment(void **state)
{
    (void)state;
    check_all_lengths(tf_crc32_update);
}

static void test_crc32_tables_every_length_and_alignment(void **state)
{
    (void)state;
    check_all_lengths(tf_crc32_update_tables);
}

static void test_crc32_clmul_every_length_and_alignment(void **state)
{
    (void)state;
    if (!tf_crc32_have_clmul())
        skip();
    check_all_lengths(tf_crc32_update_clmul);
}

/* A CRC continued over pieces equals the CRC of the whole (the FDE is
 * checksummed that way, its header from a copy). */
static void test_crc32_split_updates_match_whole(void **state)
{
    (void)state;
    enum {
        LEN = 10000
    };
    uint8_t *buf = random_buffer(LEN, 7);
    uint32_t whole = zlib_crc(0, buf, LEN);
    uint64_t seed = 1;
    for (int i = 0; i < 500; i++) {
        size_t a = (size_t)(next_random(&seed) % (LEN + 1));
        size_t b = a + (size_t)(next_random(&seed) % (LEN - a + 1));
        uint32_t crc = tf_crc32(buf, a);
        crc = tf_crc32_update(crc, buf + a, b - a);
        crc = tf_crc32_update(crc, buf + b, LEN - b);
        assert_int_equal(crc, whole);
    }
    free(buf);
}

static void test_crc32_large_buffers(void **state)
{
    (void)state;
    static const size_t lens[] = {(size_t)1 << 20, ((size_t)16 << 20) + 13, ((size_t)3 << 20) + 63};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t *buf = random_buffer(lens[i] + 1, i + 3);
        uint32_t want = zlib_crc(0, buf + 1, lens[i]);
        assert_int_equal(tf_crc32(buf + 1, lens[i]), want);
        assert_int_equal(tf_crc32_update_tables(0, buf + 1, lens[i]), want);
        if (tf_crc32_have_clmul())
            assert_int_equal(tf_crc32_update_clmul(0, buf + 1, lens[i]), want);
        free(buf);
    }
}

/* Long runs of zeros and of ones: the folded lanes cancel or saturate. */
static void test_crc32_constant_buffers(void **state)
{
    (void)state;
    enum {
        LEN = 70000
    };
    uint8_t *buf = malloc(LEN);
    assert_non_null(buf);
    for (int fill = 0; fill < 256; fill += 255) {
        memset(buf, fill, LEN);
        for (size_t len = 60; len < LEN; len = len * 3 + 1)
            assert_int_equal(tf_crc32(buf, len), zlib_crc(0, buf, len));
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_value),
        cmocka_unit_test(test_crc32_every_length_and_alignment),
        cmocka_unit_test(test_crc32_tables_every_length_and_alignment),
        cmocka_unit_test(test_crc32_clmul_every_length_and_alignment),
        cmocka_unit_test(test_crc32_split_updates_match_whole),
        cmocka_unit_test(test_crc32_large_buffers),
        cmocka_unit_test(test_crc32_constant_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
