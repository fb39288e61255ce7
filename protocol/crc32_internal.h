/* crc32_internal.h — the two implementations behind tf_crc32_update, so that
 * tests/unit/test_crc32.c checks each against zlib whatever the CPU picks.
 * Internal to protocol/. */
#ifndef TAPFLOW_CRC32_INTERNAL_H
#define TAPFLOW_CRC32_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Slicing-by-8 over crc32_table.h: any CPU. Same arguments and result as
 * tf_crc32_update. */
uint32_t tf_crc32_update_tables(uint32_t crc, const uint8_t *buf, size_t len);

/* Whether this CPU has carry-less multiplication (x86-64 PCLMULQDQ), i.e.
 * whether tf_crc32_update_clmul may be called. */
bool tf_crc32_have_clmul(void);

/* PCLMULQDQ folding, 64 bytes per step; only when tf_crc32_have_clmul(). */
uint32_t tf_crc32_update_clmul(uint32_t crc, const uint8_t *buf, size_t len);

#endif /* TAPFLOW_CRC32_INTERNAL_H */
