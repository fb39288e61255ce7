/* event_internal.h — what the binlog event decoders share inside protocol/.
 *
 * tf_event_decode (event.c) frames and checks an event, then hands the body
 * to one decoder per kind. Each decoder reads through a tf_reader whose base
 * is the body's offset in the event (19), so messages give offsets from the
 * start of the event. Not included outside protocol/. */
#ifndef TAPFLOW_EVENT_INTERNAL_H
#define TAPFLOW_EVENT_INTERNAL_H

#include "reader_internal.h"

/* format.c */
tf_status tf_format_decode_fde(tf_reader *r, tf_format *out, bool *has_checksum_field);

/* event_gtid.c */
tf_status tf_event_decode_gtid(tf_reader *r, uint8_t type, tf_gtid_event *out);
tf_status tf_event_decode_previous_gtids(tf_reader *r, tf_previous_gtids_event *out);
tf_status tf_event_decode_mariadb_gtid(tf_reader *r, tf_mariadb_gtid_event *out);
tf_status tf_event_decode_mariadb_gtid_list(tf_reader *r, tf_mariadb_gtid_list_event *out);

/* event_query.c */
tf_status tf_event_decode_query(tf_reader *r, uint8_t post_header_len, bool compressed,
                                tf_query_event *out);
/* MariaDB compressed block (QUERY_COMPRESSED, *_ROWS_COMPRESSED): one header
 * byte 0x80 | n, n big-endian bytes of uncompressed length, then zlib. */
tf_status tf_mariadb_uncompress(const uint8_t *buf, size_t len, size_t max_len, const char *what,
                                uint8_t **out, size_t *out_len, tf_error *err);

/* table_map.c */
tf_status tf_event_decode_table_map(tf_reader *r, uint8_t post_header_len, tf_table_map_event *out);

/* rows.c */
tf_status tf_event_decode_rows(tf_reader *r, uint8_t type, uint8_t post_header_len,
                               tf_rows_event *out);

/* payload.c */
tf_status tf_event_decode_payload(tf_reader *r, tf_transaction_payload_event *out);

/* Number of set bits among the first `bits` bits of a bitmap. */
static inline uint64_t tf_bitmap_count(const uint8_t *map, uint64_t bits)
{
    /* A nibble at a time: this runs once per row image (and
     * __builtin_popcount is a libgcc call without -mpopcnt). */
    static const uint8_t nibble_bits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    uint64_t n = 0;
    for (uint64_t i = 0; i < bits / 8; i++)
        n += nibble_bits[map[i] & 15] + nibble_bits[map[i] >> 4];
    if (bits % 8) {
        unsigned last = map[bits / 8] & ((1u << (bits % 8)) - 1u);
        n += nibble_bits[last & 15] + nibble_bits[last >> 4];
    }
    return n;
}

static inline bool tf_bitmap_get(const uint8_t *map, uint64_t bit)
{
    return (map[bit / 8] >> (bit % 8)) & 1u;
}

#endif
