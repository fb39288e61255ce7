/* packet_vectors.h — loading the captured vectors of tests/vectors/packet
 * (see its README.md) for test_packet.c, test_resultset.c, test_command.c. */
#ifndef TAPFLOW_TEST_PACKET_VECTORS_H
#define TAPFLOW_TEST_PACKET_VECTORS_H

#include "support.h"

#include "protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Capabilities the capturing clients negotiated with the server. */
#define CLI_CAPS (UINT64_C(0x00bfa284) | (UINT64_C(0x1d) << 32)) /* mariadb CLI */
#define PY_DEPRECATE_CAPS UINT64_C(0x010aa204) /* capture_client.py --deprecate-eof */
#define PY_CLASSIC_CAPS UINT64_C(0x000aa204)   /* capture_client.py */

static inline char *vector_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/packet/%s", TF_VECTORS_DIR, name);
    return buf;
}

/* A .hex vector: wire bytes, '#' lines are comments. */
static inline uint8_t *load_hex_vector(const char *name, size_t *len)
{
    char path[512];
    size_t text_len;
    uint8_t *text = tf_test_read_file(vector_path(name, path, sizeof path), &text_len);
    if (!text)
        fail_msg("vector %s is missing", path);
    char *clean = malloc(text_len + 1);
    size_t n = 0;
    bool comment = false, line_start = true;
    for (size_t i = 0; i < text_len; i++) {
        if (line_start && text[i] == '#')
            comment = true;
        line_start = text[i] == '\n';
        if (line_start)
            comment = false;
        else if (!comment)
            clean[n++] = (char)text[i];
    }
    clean[n] = '\0';
    uint8_t *bytes = tf_test_hex(clean, len);
    free(clean);
    free(text);
    return bytes;
}

/* A .sparse vector: "length N fill XX", then "@offset hex" lines. */
static inline uint8_t *load_sparse_vector(const char *name, size_t *len)
{
    char path[512];
    FILE *f = fopen(vector_path(name, path, sizeof path), "r");
    if (!f)
        fail_msg("vector %s is missing", path);
    char *line = NULL;
    size_t line_cap = 0;
    uint8_t *buf = NULL;
    *len = 0;
    while (getline(&line, &line_cap, f) > 0) {
        size_t total;
        unsigned fill;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "length %zu fill %x", &total, &fill) == 2) {
            buf = malloc(total);
            memset(buf, (int)fill, total);
            *len = total;
        } else if (line[0] == '@' && buf) {
            size_t offset = strtoull(line + 1, NULL, 10);
            size_t n;
            uint8_t *bytes = tf_test_hex(strchr(line, ' ') + 1, &n);
            assert_true(offset + n <= *len);
            memcpy(buf + offset, bytes, n);
            free(bytes);
        }
    }
    free(line);
    fclose(f);
    assert_non_null(buf);
    return buf;
}

/* Up to max logical packets of a wire buffer, payloads copied out
 * (tf_packet_scan + tf_packet_assemble), starting at sequence id seq. */
typedef struct vector_packets {
    size_t count;
    uint8_t *payload[512];
    size_t len[512];
    uint8_t seq[512];
} vector_packets;

static inline void split_vector(const uint8_t *wire, size_t wire_len, uint8_t seq,
                                vector_packets *out)
{
    size_t pos = 0;
    out->count = 0;
    while (pos < wire_len) {
        tf_packet_span span;
        tf_error err = {0};
        tf_status st = tf_packet_scan(wire + pos, wire_len - pos, seq, &span, &err);
        if (st != TF_OK)
            fail_msg("vector packet %zu at %zu: status %d %s", out->count, pos, st, err.message);
        assert_true(out->count < 512);
        uint8_t *payload = malloc(span.payload_len ? span.payload_len : 1);
        tf_packet_assemble(wire + pos, &span, payload);
        out->payload[out->count] = payload;
        out->len[out->count] = span.payload_len;
        out->seq[out->count] = span.first_seq;
        out->count++;
        pos += span.wire_len;
        seq = span.next_seq;
    }
}

static inline void free_vector_packets(vector_packets *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->payload[i]);
    p->count = 0;
}

static inline bool str_eq(tf_str s, const char *want)
{
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.ptr, want, s.len) == 0);
}

#define assert_str(s, want)                                                                  \
    do {                                                                                     \
        tf_str s_ = (s);                                                                     \
        if (!str_eq(s_, want))                                                               \
            fail_msg("got '%.*s' (%zu bytes), want '%s'", (int)s_.len, s_.ptr ? s_.ptr : "", \
                     s_.len, want);                                                          \
    } while (0)

#endif
