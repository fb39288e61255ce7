/* tls.c — what every connection of the replica layer (the stream's and the
 * snapshot's) needs for TLS and RSA key exchange: an OpenSSL client context
 * for the configured mode, and the server's public key file. */
#include "replica_internal.h"

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

SSL_CTX *tf_conn_ssl_ctx_new(const tf_conn_options *o, tf_error *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "TLS: cannot create an OpenSSL context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    bool verify = o->tls_mode == TF_TLS_VERIFY_CA || o->tls_mode == TF_TLS_VERIFY_IDENTITY;
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    char detail[256] = "";
    if (verify) {
        int ok = o->tls_ca_file ? SSL_CTX_load_verify_locations(ctx, o->tls_ca_file, NULL)
                                : SSL_CTX_set_default_verify_paths(ctx);
        if (!ok) {
            ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
            tf_error_set(err, TF_ERR_CONFIG, 0, "TLS: cannot load the CA file %s: %s",
                         o->tls_ca_file ? o->tls_ca_file : "(default paths)", detail);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    if (o->tls_cert_file != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o->tls_key_file ? o->tls_key_file : o->tls_cert_file,
                                        SSL_FILETYPE_PEM) != 1) {
            ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
            tf_error_set(err, TF_ERR_CONFIG, 0, "TLS: client certificate %s: %s", o->tls_cert_file,
                         detail);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

#define TF_PEM_MAX (64 * 1024) /* an RSA public key PEM is well under 4 KiB */

bool tf_conn_read_pem(const char *path, uint8_t **out, size_t *len, tf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "cannot read %s", path);
        return false;
    }
    uint8_t *buf = malloc(TF_PEM_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return false;
    }
    size_t n = fread(buf, 1, TF_PEM_MAX + 1, f);
    fclose(f);
    if (n > TF_PEM_MAX) {
        free(buf);
        tf_error_set(err, TF_ERR_CONFIG, 0, "%s is larger than %d bytes: not a public key PEM",
                     path, TF_PEM_MAX);
        return false;
    }
    *out = buf;
    *len = n;
    return true;
}
