/* status_client.h — asks a running flow's status endpoint (GET /status),
 * for `tapflow-replica status` and for tap. */
#ifndef TAPFLOW_STATUS_CLIENT_H
#define TAPFLOW_STATUS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* The body of GET /status from host:port (bson_free it), or NULL with why
 * (may be NULL) saying what failed: the name does not resolve, nothing
 * listens, no answer within 5 s, not a 200 answer. Reads at most 4 MiB
 * (the per-table stats grow with the flow's tables; a few KiB in
 * practice). */
char *tfr_status_get(const char *host, uint16_t port, char *why, size_t why_cap);

#endif
