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
