/* text_cursor_internal.h — a cursor over GTID text (MySQL GTID sets and
 * MariaDB GTID positions share it), with errors that name the column. */
#ifndef TAPFLOW_TEXT_CURSOR_INTERNAL_H
#define TAPFLOW_TEXT_CURSOR_INTERNAL_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct text_cursor {
    const char *text;
    size_t len;
    size_t pos;
    const char *what; /* "GTID set", "GTID", "GTID position" */
    tf_error *err;
} text_cursor;

void text_cursor_skip_space(text_cursor *c);

/* "WHAT: DETAIL at column N" (1-based column of at), TF_MALFORMED. */
tf_status text_cursor_error(text_cursor *c, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "WHAT: EXPECTED, found 'x' | byte 0xNN | the end of the text at column N". */
tf_status text_cursor_found_error(text_cursor *c, const char *expected);

/* "'x'" for a printable byte, else "byte 0xNN". */
const char *text_cursor_describe_byte(char c, char out[16]);

#endif
