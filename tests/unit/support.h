/* support.h — helpers shared by the cmocka unit tests. */
#ifndef TAPFLOW_TEST_SUPPORT_H
#define TAPFLOW_TEST_SUPPORT_H

/* cmocka needs these first */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "protocol.h"

/* Reads a whole file; returns NULL (and *len 0) if it does not exist. The
 * caller frees. */
uint8_t *tf_test_read_file(const char *path, size_t *len);

/* Path of a file under ../shared/fixtures, or NULL when the fixtures folder
 * is absent (a user's clone): tests then call skip() with a clear message. */
const char *tf_test_fixture(const char *relative, char *buf, size_t cap);

/* A named column of type (VARCHAR: 200 bytes, utf8mb4_general_ci),
 * primary key or nullable; name borrowed. */
tf_column tf_test_column(const char *name, uint8_t type, bool primary_key);
/* A string value borrowing s, an integer value. */
tf_value tf_test_str(const char *s);
tf_value tf_test_int(int64_t i);

/* Parses a hex string ("fe 62 69 6e" or "fe62696e") into a new buffer. */
uint8_t *tf_test_hex(const char *hex, size_t *len);

#endif
