/* error.c — tf_error helpers shared by every layer. */
#include "protocol.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

tf_status tf_error_set(tf_error *err, tf_error_domain domain, uint32_t code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->domain = domain;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return TF_MALFORMED;
}

void tf_error_prefix(tf_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[TF_ERROR_MESSAGE_MAX];
    char old[TF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof old);
    /* Bounded widths keep the result inside the buffer; the tail of a very
     * long message is what is cut. */
    snprintf(err->message, sizeof err->message, "%.200s: %.300s", prefix, old);
}
