/* auth_rsa.c — the password encryption of caching_sha2_password's full
 * authentication and of sha256_password on a connection without TLS: the
 * password and its NUL, XORed with the nonce, encrypted with the server's RSA
 * public key using OAEP padding. The server decrypts with
 * RSA_PKCS1_OAEP_PADDING, whose hash and MGF1 hash are both SHA-1, so that is
 * what we set explicitly here (OpenSSL's default today, but not a promise). */
#include "auth_internal.h"

#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

/* OAEP with SHA-1 costs 2 * 20 + 2 bytes of the modulus. */
#define OAEP_SHA1_OVERHEAD 42

static bool contains(const uint8_t *buf, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return true;
    return false;
}

/* Decodes "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo, what MySQL sends) and
 * "BEGIN RSA PUBLIC KEY" (PKCS#1) PEM. */
static EVP_PKEY *decode_public_key(const uint8_t *pem, size_t pem_len, tf_error *err)
{
    if (!pem || pem_len == 0) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "server public key: empty");
        return NULL;
    }
    if (!contains(pem, pem_len, "-----BEGIN ")) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "server public key: not PEM (no \"-----BEGIN \" line in %zu bytes)", pem_len);
        return NULL;
    }
    EVP_PKEY *pkey = NULL;
    OSSL_DECODER_CTX *dctx =
        OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    const unsigned char *p = pem;
    size_t left = pem_len;
    int ok = dctx && OSSL_DECODER_from_data(dctx, &p, &left);
    OSSL_DECODER_CTX_free(dctx);
    ERR_clear_error();
    if (!ok || !pkey) {
        EVP_PKEY_free(pkey);
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "server public key: the PEM of %zu bytes does not decode to a public key",
                     pem_len);
        return NULL;
    }
    if (!EVP_PKEY_is_a(pkey, "RSA")) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "server public key: type %s, not RSA",
                     EVP_PKEY_get0_type_name(pkey));
        EVP_PKEY_free(pkey);
        return NULL;
    }
    return pkey;
}

tf_status tf_auth_rsa_encrypt_password(const char *password, size_t password_len,
                                       const uint8_t *nonce, size_t nonce_len, const uint8_t *pem,
                                       size_t pem_len, uint8_t *out, size_t cap, size_t *written,
                                       tf_error *err)
{
    *written = 0;
    if (nonce_len == 0)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "RSA password encryption: the server sent no nonce");
    EVP_PKEY *pkey = decode_public_key(pem, pem_len, err);
    if (!pkey)
        return TF_MALFORMED;

    tf_status st = TF_MALFORMED;
    EVP_PKEY_CTX *ctx = NULL;
    uint8_t *plain = NULL;
    size_t key_bytes = (size_t)EVP_PKEY_get_size(pkey);
    size_t plain_len = password_len + 1;
    if (key_bytes <= OAEP_SHA1_OVERHEAD || plain_len > key_bytes - OAEP_SHA1_OVERHEAD) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "RSA password encryption: a password of %zu bytes is too long for the "
                     "server's %d-bit key (at most %zu)",
                     password_len, EVP_PKEY_get_bits(pkey),
                     key_bytes > OAEP_SHA1_OVERHEAD + 1 ? key_bytes - OAEP_SHA1_OVERHEAD - 1 : 0);
        goto done;
    }
    if (cap < key_bytes) {
        *written = key_bytes;
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "RSA password encryption: needs %zu bytes, buffer has %zu", key_bytes, cap);
        goto done;
    }
    plain = malloc(plain_len);
    if (!plain) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "RSA password encryption: out of memory");
        goto done;
    }
    if (password_len > 0)
        memcpy(plain, password, password_len);
    plain[password_len] = '\0';
    /* The XOR with the nonce binds the ciphertext to this connection. */
    for (size_t i = 0; i < plain_len; i++)
        plain[i] ^= nonce[i % nonce_len];

    size_t out_len = cap;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha1()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()) <= 0 ||
        EVP_PKEY_encrypt(ctx, out, &out_len, plain, plain_len) <= 0) {
        unsigned long e = ERR_peek_last_error();
        char reason[160];
        ERR_error_string_n(e, reason, sizeof reason);
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "RSA password encryption failed: %s",
                     e ? reason : "unknown OpenSSL error");
        goto done;
    }
    *written = out_len;
    st = TF_OK;
done:
    if (plain) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return st;
}
