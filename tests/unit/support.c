#include "support.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

uint8_t *tf_test_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(size > 0 ? (size_t)size : 1);
    if (buf && size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *len = (size_t)size;
    return buf;
}

const char *tf_test_fixture(const char *relative, char *buf, size_t cap)
{
    struct stat st;
    if (stat(TF_FIXTURES_DIR, &st) != 0) {
        print_message("fixtures folder %s is absent; skipping\n", TF_FIXTURES_DIR);
        return NULL;
    }
    snprintf(buf, cap, "%s/%s", TF_FIXTURES_DIR, relative);
    return buf;
}

uint8_t *tf_test_hex(const char *hex, size_t *len)
{
    size_t cap = strlen(hex) / 2 + 1;
    uint8_t *out = malloc(cap);
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        if (!isxdigit((unsigned char)*p))
            continue;
        int v = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = n;
    return out;
}

tf_column tf_test_column(const char *name, uint8_t type, bool primary_key)
{
    tf_column c = {0};
    c.type = type;
    c.meta = type == TF_TYPE_VARCHAR ? 200 : 0;
    c.is_primary_key = primary_key;
    c.nullable = !primary_key;
    c.charset = 45; /* utf8mb4_general_ci */
    c.name.ptr = name;
    c.name.len = strlen(name);
    return c;
}

tf_value tf_test_str(const char *s)
{
    tf_value v = {.kind = TF_VAL_STRING};
    v.bytes.ptr = (const uint8_t *)s;
    v.bytes.len = strlen(s);
    return v;
}

tf_value tf_test_int(int64_t i)
{
    tf_value v = {.kind = TF_VAL_INT};
    v.i = i;
    return v;
}
