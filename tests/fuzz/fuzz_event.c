/* fuzz_event.c — libFuzzer harness for the binlog event decoders.
 *
 * Input: one mode byte, then a sequence of binlog events as they follow the
 * magic in a file, the FORMAT_DESCRIPTION first (seeds are made that way by
 * tests/fuzz/make_seeds.py: the FDE of a fixture file plus one event, or
 * plus a TABLE_MAP and the rows events that use it).
 *
 * Every event goes through what tapflow-binlog does with it: framing,
 * tf_event_decode, table maps, the rows cursor, every value through
 * tf_value_append_bson and tf_value_to_text, binary JSON to BSON and text,
 * JSON diffs applied to the before image, PREVIOUS_GTIDS sets, compressed
 * queries, and TRANSACTION_PAYLOAD's inner events.
 *
 * Mode bit 0 set: before decoding, the harness rewrites each event's CRC32
 * trailer with the right checksum, so that mutations inside event bodies
 * reach the body decoders instead of stopping at "checksum mismatch"
 * (without the bit, the checksum path itself is fuzzed). */
#include "protocol.h"

#include <stdlib.h>
#include <string.h>

#define MAX_INNER_PAYLOAD (4u << 20)
#define MAX_COLUMNS 4096

typedef struct fuzz_ctx {
    tf_table_maps *maps;
    tf_value before[MAX_COLUMNS];
    tf_value after[MAX_COLUMNS];
} fuzz_ctx;

static void use_values(const tf_table_map *map, const tf_value *values, bson_t *doc,
                       const bson_t *before_doc)
{
    char key[16];
    for (uint32_t i = 0; i < map->column_count; i++) {
        const tf_value *v = &values[i];
        const tf_column *col = &map->columns[i];
        tf_error err = {0};
        snprintf(key, sizeof key, "c%u", (unsigned)i);
        if (v->kind == TF_VAL_JSON_DIFF) {
            size_t pos = 0;
            while (pos < v->bytes.len) {
                tf_json_diff diff;
                if (tf_json_diff_next(v->bytes.ptr, v->bytes.len, &pos, &diff, &err) != TF_OK)
                    break;
            }
            if (before_doc != NULL) {
                bson_t applied;
                bson_init(&applied);
                (void)tf_json_diff_apply_bson(before_doc, key, strlen(key), v->bytes.ptr,
                                              v->bytes.len, &applied, &err);
                bson_destroy(&applied);
            }
            continue;
        }
        (void)tf_value_append_bson(doc, key, strlen(key), v, col, &err);
        size_t len = 0;
        char *text = tf_value_to_text(v, col, &len, &err);
        bson_free(text);
        if (v->kind == TF_VAL_JSON) {
            char *json = tf_json_binary_to_text(v->bytes.ptr, v->bytes.len, &err);
            bson_free(json);
        }
    }
}

static void handle_rows(fuzz_ctx *ctx, const tf_event *ev)
{
    const tf_table_map *map = NULL;
    tf_error err = {0};
    if (tf_table_maps_find(ctx->maps, ev, &map, &err) != TF_OK)
        return;
    if (map->column_count > MAX_COLUMNS)
        return;
    tf_rows_cursor cur, bare;
    if (tf_rows_begin(&cur, ev, map, &err) != TF_OK)
        return;
    /* The same rows read without images (validation only, as
     * tapflow-binlog --verify-only does) must end at the same place with
     * the same error. */
    tf_error bare_err = {0};
    if (tf_rows_begin(&bare, ev, map, &bare_err) != TF_OK)
        __builtin_trap();
    while (tf_rows_has_next(&cur)) {
        size_t pos = cur.pos;
        tf_status st = tf_rows_next(&cur, ctx->before, ctx->after, &err);
        if (tf_rows_next(&bare, NULL, NULL, &bare_err) != st || bare.pos != cur.pos ||
            (st != TF_OK && strcmp(err.message, bare_err.message) != 0))
            __builtin_trap();
        if (st != TF_OK)
            break;
        /* A row that consumes no bytes (no column present in its images)
         * would make every caller loop forever: report it as a crash now
         * rather than as a timeout later. */
        if (cur.pos == pos)
            __builtin_trap();
        bson_t before, after;
        bson_init(&before);
        bson_init(&after);
        use_values(map, ctx->before, &before, NULL);
        use_values(map, ctx->after, &after, &before);
        bson_destroy(&before);
        bson_destroy(&after);
    }
    tf_rows_cleanup(&cur);
    tf_rows_cleanup(&bare);
}

static void handle_event(fuzz_ctx *ctx, const tf_event *ev, const tf_format *fmt, int depth);

static void handle_payload(fuzz_ctx *ctx, const tf_event *ev, const tf_format *fmt, int depth)
{
    tf_payload_iter it;
    tf_error err = {0};
    if (depth > 0 || tf_payload_iter_init(&it, ev, fmt, MAX_INNER_PAYLOAD, &err) != TF_OK)
        return;
    while (tf_payload_iter_has_next(&it)) {
        tf_event inner;
        if (tf_payload_iter_next(&it, &inner, &err) != TF_OK)
            break;
        handle_event(ctx, &inner, &it.inner_format, depth + 1);
    }
    tf_payload_iter_cleanup(&it);
}

static void handle_event(fuzz_ctx *ctx, const tf_event *ev, const tf_format *fmt, int depth)
{
    tf_error err = {0};
    switch (ev->kind) {
    case TF_EVENT_TABLE_MAP: (void)tf_table_maps_add_event(ctx->maps, ev, &err); break;
    case TF_EVENT_ROWS: handle_rows(ctx, ev); break;
    case TF_EVENT_PREVIOUS_GTIDS: {
        tf_gtid_set *set = NULL;
        if (tf_gtid_set_decode_binary(ev->previous_gtids.data, ev->previous_gtids.data_len, &set,
                                      &err) == TF_OK) {
            free(tf_gtid_set_to_text(set, TF_GTID_TEXT_COMPACT));
            tf_gtid_set_destroy(set);
        }
        break;
    }
    case TF_EVENT_QUERY:
        if (ev->query.compressed) {
            uint8_t *text = NULL;
            size_t len = 0;
            if (tf_query_uncompress(&ev->query, 1u << 20, &text, &len, &err) == TF_OK)
                free(text);
        }
        break;
    case TF_EVENT_MARIADB_GTID_LIST:
        for (uint32_t i = 0; i < ev->mariadb_gtid_list.count; i++) {
            tf_mariadb_gtid g;
            tf_mariadb_gtid_list_get(&ev->mariadb_gtid_list, i, &g);
        }
        break;
    case TF_EVENT_TRANSACTION_PAYLOAD: handle_payload(ctx, ev, fmt, depth); break;
    default: break;
    }
}

/* Writes the CRC32 the event would carry, as a server computes it (the FDE's
 * with its BINLOG_IN_USE flag cleared). */
static void fix_checksum(uint8_t *ev, size_t len)
{
    if (len < TF_EVENT_HEADER_LEN + TF_EVENT_CHECKSUM_LEN)
        return;
    uint8_t flags0 = ev[17];
    if (ev[4] == TF_EV_FORMAT_DESCRIPTION)
        ev[17] = (uint8_t)(flags0 & ~TF_EVENT_F_BINLOG_IN_USE);
    uint32_t crc = tf_crc32(ev, len - TF_EVENT_CHECKSUM_LEN);
    ev[17] = flags0;
    for (int i = 0; i < 4; i++)
        ev[len - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
}

/* Does this event carry a CRC32 trailer? For the FDE its own last body
 * byte says (the algorithm byte before the checksum). */
static bool has_checksum(const tf_format *fmt, const uint8_t *ev, size_t len)
{
    if (ev[4] == TF_EV_FORMAT_DESCRIPTION)
        return len >= TF_EVENT_HEADER_LEN + 5 && ev[len - 5] == TF_CHECKSUM_CRC32;
    return fmt->checksum_alg == TF_CHECKSUM_CRC32;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size--;
    /* An exact-size heap copy: ASan sees any read past the end. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data + 1, size);

    fuzz_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) {
        free(buf);
        return 0;
    }
    ctx->maps = tf_table_maps_new();
    tf_format fmt;
    tf_format_init(&fmt, TF_CHECKSUM_UNDEF);
    size_t pos = 0;
    while (pos < size && ctx->maps != NULL) {
        tf_error err = {0};
        size_t event_len = 0;
        if (tf_event_frame(buf + pos, size - pos, &fmt, &event_len, &err) != TF_OK)
            break;
        if (event_len == 0 || event_len > size - pos)
            __builtin_trap(); /* framing promised a whole event */
        if ((mode & 1) && has_checksum(&fmt, buf + pos, event_len))
            fix_checksum(buf + pos, event_len);
        tf_event ev;
        size_t consumed = 0;
        if (tf_event_decode(buf + pos, event_len, &fmt, &ev, &consumed, &err) != TF_OK)
            break;
        if (ev.kind == TF_EVENT_FORMAT_DESCRIPTION)
            fmt = ev.format_description;
        else
            handle_event(ctx, &ev, &fmt, 0);
        pos += event_len;
    }
    /* The whole-file reader over the same bytes (with the magic in front). */
    uint8_t *file = malloc(size + TF_BINLOG_MAGIC_LEN);
    if (file != NULL) {
        memcpy(file,
               "\xfe"
               "bin",
               TF_BINLOG_MAGIC_LEN);
        memcpy(file + TF_BINLOG_MAGIC_LEN, buf, size);
        tf_binlog_reader reader;
        tf_error err = {0};
        if (tf_binlog_reader_init(&reader, file, size + TF_BINLOG_MAGIC_LEN, &err) == TF_OK) {
            while (!tf_binlog_reader_at_end(&reader)) {
                tf_event ev;
                if (tf_binlog_reader_next(&reader, &ev, &err) != TF_OK)
                    break;
            }
        }
        free(file);
    }
    tf_table_maps_destroy(ctx->maps);
    free(ctx);
    free(buf);
    return 0;
}
