/* log_lines.c — the lines of a flow's log (HOME/logs/NAME.log) as `logs`
 * shows them.
 *
 * The daemon's lines ("2026-...Z tapflow-replica: error: ...") and tap's
 * own ("... tap: starting tapflow-replica for flow ...") have no level
 * field, so the level is read from the words: "error" makes a line ERROR,
 * "warning" WARN, anything else is INFO. The words are matched without
 * regard to case, anywhere in the line, so a driver's "ERROR" counts too. */
#include "tap.h"

#include <bson/bson.h>
#include <stdlib.h>
#include <string.h>

tap_log_level tap_log_level_of(const char *line)
{
    if (strcasestr(line, "error"))
        return TAP_LOG_ERROR;
    if (strcasestr(line, "warning"))
        return TAP_LOG_WARN;
    return TAP_LOG_INFO;
}

const char *tap_log_level_name(tap_log_level level)
{
    switch (level) {
    case TAP_LOG_ERROR: return "error";
    case TAP_LOG_WARN: return "warn";
    case TAP_LOG_INFO: break;
    }
    return "info";
}

void tap_line_ring_init(tap_line_ring *r, size_t cap)
{
    r->lines = bson_malloc0((cap ? cap : 1) * sizeof *r->lines);
    r->cap = cap ? cap : 1;
    r->count = 0;
    r->next = 0;
}

void tap_line_ring_push(tap_line_ring *r, const char *line)
{
    bson_free(r->lines[r->next]);
    r->lines[r->next] = bson_strdup(line);
    r->next = (r->next + 1) % r->cap;
    if (r->count < r->cap)
        r->count++;
}

const char *tap_line_ring_get(const tap_line_ring *r, size_t i)
{
    size_t oldest = r->count < r->cap ? 0 : r->next;
    return r->lines[(oldest + i) % r->cap];
}

void tap_line_ring_cleanup(tap_line_ring *r)
{
    for (size_t i = 0; i < r->cap; i++)
        bson_free(r->lines[i]);
    bson_free(r->lines);
    memset(r, 0, sizeof *r);
}

void tap_log_scan(FILE *f, tap_log_level level, void (*fn)(void *arg, const char *line), void *arg)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] != '\n') {
            /* the writer is inside this line: read it whole next time */
            fseeko(f, -(off_t)n, SEEK_CUR);
            break;
        }
        line[n - 1] = '\0';
        if (n > 1 && line[n - 2] == '\r')
            line[n - 2] = '\0';
        if (tap_log_level_of(line) >= level)
            fn(arg, line);
    }
    free(line);
}
