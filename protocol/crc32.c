/* crc32.c — CRC-32 as the binlog checksums events with it (binlog_checksum
 * = CRC32: the IEEE 802.3 polynomial, reflected, initial and final value
 * all ones: exactly zlib's crc32()).
 *
 * Every event of a binlog is checksummed once on its way in, so at
 * decode speed this was a tenth of tapflow-binlog --verify-only with
 * zlib's table code (about 1.5 GB/s). On x86-64 with PCLMULQDQ we fold
 * the buffer with carry-less multiplications instead (several times
 * faster); elsewhere, slicing-by-8 tables.
 *
 * The folding, in short. In the reflected bit order a 16-byte block read
 * little-endian is a polynomial whose bit k is the coefficient of
 * x^(127-k): its low quadword H holds the high-degree half, the high
 * quadword L the low-degree half, block = x^64 H + L. Moving a block D
 * bits further down the message multiplies it by x^D, and modulo P
 *   x^D (x^64 H + L) = H (x^(D+64) mod P) + L (x^D mod P),
 * a polynomial of degree < 96 that takes the block's place and is xored
 * into the data block D bits ahead. The CRC of the message is unchanged
 * (everything is mod P). A carry-less product of two reflected 64-bit
 * operands comes out one degree short (bit k of the product is x^(126-k)),
 * so the constants are x^(D+63) and x^(D-1) mod P, stored with the
 * coefficient of x^d in bit 63-d. Four lanes are folded 512 bits at a
 * time, then onto each other 128 bits at a time; the last block (and the
 * tail under 16 bytes) goes through the tables, from a zero state: the
 * folded block stands for all the bytes before it. */
#include "crc32_internal.h"
#include "crc32_table.h"
#include "protocol.h"

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* On the internal register (not inverted), as the folding needs it. */
static uint32_t tables_update(uint32_t c, const uint8_t *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = load_le32(p) ^ c, hi = load_le32(p + 4);
        c = crc32_table[7][lo & 0xff] ^ crc32_table[6][(lo >> 8) & 0xff] ^
            crc32_table[5][(lo >> 16) & 0xff] ^ crc32_table[4][lo >> 24] ^
            crc32_table[3][hi & 0xff] ^ crc32_table[2][(hi >> 8) & 0xff] ^
            crc32_table[1][(hi >> 16) & 0xff] ^ crc32_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = (c >> 8) ^ crc32_table[0][(c ^ *p++) & 0xff];
    return c;
}

uint32_t tf_crc32_update_tables(uint32_t crc, const uint8_t *buf, size_t len)
{
    return ~tables_update(~crc, buf, len);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

/* x^n mod P for the folding distances, see the top of the file. */
#define FOLD512_H UINT64_C(0x653d982200000000) /* x^575 */
#define FOLD512_L UINT64_C(0xcad38e8f00000000) /* x^511 */
#define FOLD128_H UINT64_C(0x65673b4600000000) /* x^191 */
#define FOLD128_L UINT64_C(0x9ba54c6f00000000) /* x^127 */

/* Below this the tables are as fast as setting up four lanes. */
#define CLMUL_MIN_LEN 64

__attribute__((target("pclmul,sse2"))) static inline __m128i fold(__m128i x, __m128i k,
                                                                  __m128i next)
{
    /* H (low quadword) times its constant (low), L (high) times its (high). */
    return _mm_xor_si128(
        _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)), next);
}

__attribute__((target("pclmul,sse2"))) static uint32_t clmul_update(uint32_t c, const uint8_t *p,
                                                                    size_t len)
{
    const __m128i k512 = _mm_set_epi64x((long long)FOLD512_L, (long long)FOLD512_H);
    const __m128i k128 = _mm_set_epi64x((long long)FOLD128_L, (long long)FOLD128_H);
    /* The register is pending xor on the next four bytes: put it there. */
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64;
    len -= 64;
    while (len >= 64) {
        x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)p));
        x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    __m128i x = fold(fold(fold(x0, k128, x1), k128, x2), k128, x3);
    while (len >= 16) {
        x = fold(x, k128, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    uint8_t last[16];
    _mm_storeu_si128((__m128i *)last, x);
    return tables_update(tables_update(0, last, sizeof last), p, len);
}

bool tf_crc32_have_clmul(void) { return __builtin_cpu_supports("pclmul"); }

uint32_t tf_crc32_update_clmul(uint32_t crc, const uint8_t *buf, size_t len)
{
    if (len < CLMUL_MIN_LEN)
        return tf_crc32_update_tables(crc, buf, len);
    return ~clmul_update(~crc, buf, len);
}

uint32_t tf_crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
    if (len >= CLMUL_MIN_LEN && tf_crc32_have_clmul())
        return ~clmul_update(~crc, buf, len);
    return tf_crc32_update_tables(crc, buf, len);
}

#else

bool tf_crc32_have_clmul(void) { return false; }

uint32_t tf_crc32_update_clmul(uint32_t crc, const uint8_t *buf, size_t len)
{
    return tf_crc32_update_tables(crc, buf, len);
}

uint32_t tf_crc32_update(uint32_t crc, const uint8_t *buf, size_t len)
{
    return tf_crc32_update_tables(crc, buf, len);
}

#endif

uint32_t tf_crc32(const uint8_t *buf, size_t len) { return tf_crc32_update(0, buf, len); }
