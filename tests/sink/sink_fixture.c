/* sink_fixture.c — see sink_fixture.h. */
#include "sink_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool sink_live_db_open(sink_live_db *live, const char *prefix)
{
    memset(live, 0, sizeof *live);
    live->base_uri = getenv("TAPFLOW_MONGO_URI");
    if (live->base_uri == NULL || live->base_uri[0] == '\0')
        return true;
    mongoc_init();
    snprintf(live->db, sizeof live->db, "%s_%ld_%lld", prefix, (long)getpid(),
             (long long)(bson_get_monotonic_time() / 1000));
    bson_error_t error;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(live->base_uri, &error);
    if (uri == NULL) {
        fprintf(stderr, "TAPFLOW_MONGO_URI invalid: %s\n", error.message);
        mongoc_cleanup();
        return false;
    }
    live->client = mongoc_client_new_from_uri(uri);
    mongoc_uri_destroy(uri);
    if (live->client == NULL) {
        fprintf(stderr, "TAPFLOW_MONGO_URI: no client for %s\n", live->base_uri);
        mongoc_cleanup();
        return false;
    }
    mongoc_client_set_error_api(live->client, MONGOC_ERROR_API_VERSION_2);
    return true;
}

void sink_live_db_close(sink_live_db *live)
{
    if (live->client == NULL)
        return;
    mongoc_database_t *db = mongoc_client_get_database(live->client, live->db);
    bson_error_t error;
    mongoc_database_drop(db, &error);
    mongoc_database_destroy(db);
    mongoc_client_destroy(live->client);
    live->client = NULL;
    mongoc_cleanup();
}

void sink_live_db_uri(const sink_live_db *live, char *out, size_t cap)
{
    /* mongoc_uri_new_with_error accepted base_uri, so it has a scheme. */
    const char *scheme_end = strstr(live->base_uri, "://");
    const char *slash = scheme_end != NULL ? strchr(scheme_end + 3, '/') : NULL;
    const char *query = strchr(live->base_uri, '?');
    size_t host_len = slash != NULL   ? (size_t)(slash - live->base_uri)
                      : query != NULL ? (size_t)(query - live->base_uri)
                                      : strlen(live->base_uri);
    snprintf(out, cap, "%.*s/%s%s", (int)host_len, live->base_uri, live->db, query ? query : "");
}
