/* auth_internal.h — what handshake.c, auth.c, auth_rsa.c and auth_ed25519.c
 * share. Internal to protocol/. */
#ifndef TAPFLOW_AUTH_INTERNAL_H
#define TAPFLOW_AUTH_INTERNAL_H

#include "protocol.h"

#include <openssl/evp.h>

/* Turns an ERR payload (first byte 0xff) of the connection phase into
 * err (TF_ERR_SERVER, code, "ERROR 1045 (28000): ..."). Before the client has
 * said CLIENT_PROTOCOL_41 the server omits the '#'+SQLSTATE part; both forms
 * are accepted. Always returns TF_MALFORMED. */
tf_status tf_handshake_server_error(const uint8_t *payload, size_t len, const char *context,
                                    tf_error *err);

/* out = H(a || b || c); any part may be empty. Aborts only when OpenSSL
 * cannot allocate a digest context. */
void tf_auth_digest(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len,
                    const void *c, size_t c_len, uint8_t *out);

#endif
