/* str.c — byte-string helpers of section 1. */
#include "protocol.h"

#include <string.h>

char *tf_strndup(const void *ptr, size_t len)
{
    char *copy = bson_malloc(len + 1);
    if (len)
        memcpy(copy, ptr, len);
    copy[len] = '\0';
    return copy;
}

/* What bson_utf8_validate(s, len, true) answers, faster: a run of ASCII is
 * checked 8 bytes at a time, and libbson's validator (whose rules stay the
 * only ones) sees the string only from its first non-ASCII byte, which
 * starts a sequence since every byte before it is one. */
bool tf_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        if (word & UINT64_C(0x8080808080808080))
            break;
    }
    while (i < len && p[i] < 0x80)
        i++;
    return i == len || bson_utf8_validate((const char *)p + i, len - i, true);
}
