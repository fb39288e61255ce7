/* retry.c — which errors are worth repeating, how long to wait, and how to
 * name a target without its password (sink.h section 5). Pure functions. */
#include "sink.h"

#include <mongoc/mongoc.h>
#include <string.h>

void tf_sink_redact_uri(const char *uri, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (uri == NULL)
        return;
    /* The user info ends at the last '@' of the authority. Hosts cannot hold
     * '@', a password may (percent-encoded or, sloppily, raw), so the last
     * '@' before the options ('?') is the boundary; everything between the
     * scheme and it goes. */
    const char *scheme_end = strstr(uri, "://");
    const char *authority = scheme_end != NULL ? scheme_end + 3 : uri;
    const char *query = strchr(authority, '?');
    const char *at = NULL;
    for (const char *p = authority; *p != '\0' && (query == NULL || p < query); p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(out, cap, "%s", uri);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)(authority - uri), uri, at);
}

int64_t tf_sink_backoff_ms(unsigned attempt, int64_t initial_ms, int64_t max_ms)
{
    int64_t delay = initial_ms > 0 ? initial_ms : 1;
    for (unsigned i = 0; i < attempt && delay < max_ms; i++)
        delay *= 2;
    return delay < max_ms ? delay : max_ms;
}

/* Server error codes that mean "this node cannot take the write now" rather
 * than "this write is wrong" (the MongoDB retryable-writes specification's
 * list, plus write-concern timeouts, which an idempotent batch may repeat). */
static const uint32_t transient_codes[] = {
    6,     /* HostUnreachable */
    7,     /* HostNotFound */
    64,    /* WriteConcernFailed (wtimeout) */
    89,    /* NetworkTimeout */
    91,    /* ShutdownInProgress */
    189,   /* PrimarySteppedDown */
    262,   /* ExceededTimeLimit */
    9001,  /* SocketException */
    10107, /* NotWritablePrimary */
    11600, /* InterruptedAtShutdown */
    11602, /* InterruptedDueToReplStateChange */
    13435, /* NotPrimaryNoSecondaryOk */
    13436, /* NotPrimaryOrSecondary */
};

bool tf_sink_error_is_transient(const bson_error_t *error, const bson_t *reply)
{
    if (error->domain == MONGOC_ERROR_STREAM || error->domain == MONGOC_ERROR_SERVER_SELECTION)
        return true;
    if (reply != NULL && mongoc_error_has_label(reply, "RetryableWriteError"))
        return true;
    if (error->domain != MONGOC_ERROR_SERVER && error->domain != MONGOC_ERROR_WRITE_CONCERN &&
        error->domain != MONGOC_ERROR_QUERY)
        return false;
    for (size_t i = 0; i < sizeof transient_codes / sizeof transient_codes[0]; i++)
        if (error->code == transient_codes[i])
            return true;
    return false;
}
