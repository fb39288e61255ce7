/* tf_error.h — the status and error types every layer reports with.
 *
 * Its own header so that layers which know no MySQL (sink/, view/'s
 * callers) report errors without including the protocol's. protocol.h
 * includes it. */
#ifndef TAPFLOW_TF_ERROR_H
#define TAPFLOW_TF_ERROR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tf_status {
    TF_OK = 0,
    TF_NEED_MORE = 1,
    TF_MALFORMED = 2,
} tf_status;

/* Error domains say which layer filled the error. */
typedef enum tf_error_domain {
    TF_ERR_NONE = 0,
    TF_ERR_PROTOCOL,    /* malformed bytes */
    TF_ERR_UNSUPPORTED, /* valid but outside what we handle (e.g. old format) */
    TF_ERR_SERVER,      /* an ERR packet from the server */
    TF_ERR_IO,          /* used by layers above: sockets, files */
    TF_ERR_CONFIG,      /* used by layers above: options, flow files */
    TF_ERR_TARGET,      /* used by layers above: MongoDB */
} tf_error_domain;

#define TF_ERROR_MESSAGE_MAX 512

/* One error type for every layer, like bson_error_t: a domain, a code (the
 * server's error number for TF_ERR_SERVER, else 0) and a message written for
 * the person reading the log. */
typedef struct tf_error {
    tf_error_domain domain;
    uint32_t code;
    char message[TF_ERROR_MESSAGE_MAX];
} tf_error;

/* Fills err (if not NULL) with a printf-style message. Always returns
 * TF_MALFORMED so decoders can write `return tf_error_set(...)`. */
tf_status tf_error_set(tf_error *err, tf_error_domain domain, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Prepends "context: " to an existing message, for callers that add where
 * (e.g. "binlog x.000001 at offset 4123: "). */
void tf_error_prefix(tf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif
