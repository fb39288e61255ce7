/* sink_fixture.h — the per-run database of the sink tests that need a live
 * MongoDB-wire server (TAPFLOW_MONGO_URI from `tools/servers.sh env`): a
 * unique database name, a plain driver client to read documents back, the
 * server's URI with that database as path, and the drop at the end. Without
 * TAPFLOW_MONGO_URI there is no client and each such test skips. */
#ifndef TF_TESTS_SINK_FIXTURE_H
#define TF_TESTS_SINK_FIXTURE_H

#include <mongoc/mongoc.h>

#include <stdbool.h>
#include <stddef.h>

typedef struct sink_live_db {
    const char *base_uri;    /* TAPFLOW_MONGO_URI, e.g. mongodb://127.0.0.1:27118/ */
    char db[64];             /* <prefix>_<pid>_<ms>, dropped by sink_live_db_close */
    mongoc_client_t *client; /* NULL when TAPFLOW_MONGO_URI is not set */
} sink_live_db;

/* Fills live from TAPFLOW_MONGO_URI (db named prefix_<pid>_<ms>); false,
 * with a message on stderr, when that URI cannot be parsed. */
bool sink_live_db_open(sink_live_db *live, const char *prefix);

/* Drops the database and closes the client (nothing when there is none). */
void sink_live_db_close(sink_live_db *live);

/* The server's URI with the run's database as path, its options kept. */
void sink_live_db_uri(const sink_live_db *live, char *out, size_t cap);

/* In a cmocka test: skips it, saying why, when there is no server. */
#define NEED_SERVER(live)                                                                        \
    do {                                                                                         \
        if ((live)->client == NULL) {                                                            \
            print_message("TAPFLOW_MONGO_URI is not set (run tools/servers.sh env): skipped\n"); \
            skip();                                                                              \
        }                                                                                        \
    } while (0)

#endif
