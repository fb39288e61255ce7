/* auth_internal.h — what handshake.c, auth.c, auth_rsa.c and auth_ed25519.c
 * share. Internal to protocol/. */
#ifndef TAPFLOW_AUTH_INTERNAL_H
#define TAPFLOW_AUTH_INTERNAL_H

#include "protocol.h"

#include <openssl/evp.h>

/* out = H(a || b || c); any part may be empty. Aborts only when OpenSSL
 * cannot allocate a digest context. */
void tf_auth_digest(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len,
                    const void *c, size_t c_len, uint8_t *out);

#endif
