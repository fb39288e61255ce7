/* auth_vectors.h — loads tests/vectors/auth/<name>.hex: the connection phase
 * of a real session with the local MariaDB, one packet per line ("S <hex>"
 * from the server, "C <hex>" from the client, 4-byte header included). */
#ifndef TAPFLOW_TEST_AUTH_VECTORS_H
#define TAPFLOW_TEST_AUTH_VECTORS_H

#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_VECTOR_MAX_PACKETS 8

typedef struct auth_packet {
    char from; /* 'S' or 'C' */
    uint8_t *wire;
    size_t wire_len;
    const uint8_t *payload; /* wire + 4 */
    size_t len;
} auth_packet;

typedef struct auth_session {
    auth_packet packets[AUTH_VECTOR_MAX_PACKETS];
    size_t count;
} auth_session;

static void auth_session_load(const char *name, auth_session *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/auth/%s.hex", TF_VECTORS_DIR, name);
    size_t len;
    uint8_t *text = tf_test_read_file(path, &len);
    assert_non_null(text);
    memset(s, 0, sizeof *s);
    char *save = NULL;
    char *buf = malloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    free(text);
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != 'S' && line[0] != 'C')
            continue;
        assert_true(s->count < AUTH_VECTOR_MAX_PACKETS);
        auth_packet *p = &s->packets[s->count++];
        p->from = line[0];
        p->wire = tf_test_hex(line + 2, &p->wire_len);
        assert_true(p->wire_len >= 4);
        /* One packet per line: the header's length is the rest. */
        assert_int_equal(p->wire[0] | p->wire[1] << 8 | p->wire[2] << 16, p->wire_len - 4);
        p->payload = p->wire + 4;
        p->len = p->wire_len - 4;
    }
    free(buf);
}

static void auth_session_free(auth_session *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->packets[i].wire);
}

#endif
