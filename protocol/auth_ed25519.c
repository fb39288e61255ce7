/* auth_ed25519.c — MariaDB's client_ed25519 (server plugin auth_ed25519).
 *
 * The plugin is Ed25519 (RFC 8032) with one twist: the 64-byte expanded
 * secret is SHA-512(password) where RFC 8032 has SHA-512(32-byte seed). The
 * scalar is its clamped first half, the signing nonce comes from its second
 * half, exactly as in RFC 8032 from there on. OpenSSL's EVP_PKEY_ED25519 only
 * takes a 32-byte seed and hashes it itself, and no seed hashes to
 * SHA-512(password), so EVP cannot sign here (it can for a password of
 * exactly 32 bytes, which the tests use as a cross-check). We therefore do
 * the group arithmetic with OpenSSL's BIGNUM: points in extended twisted
 * Edwards coordinates with the unified addition of RFC 8032 section 5.1.4,
 * a Montgomery ladder for the scalar multiplications, scalars mod L.
 *
 * Not constant-time: BIGNUM's modular arithmetic takes data-dependent time.
 * The secret is the password's hash and the computation runs once per
 * connection on the client, so only an observer on the client host could
 * time it. */
#include "auth_internal.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <string.h>

typedef struct point {
    BIGNUM *x, *y, *z, *t;
} point;

typedef struct curve {
    BN_CTX *ctx;
    BIGNUM *p;  /* 2^255 - 19 */
    BIGNUM *d2; /* 2 * d, d = -121665 / 121666 */
    BIGNUM *l;  /* group order 2^252 + 27742317777372353535851937790883648493 */
    point base;
    BIGNUM *tmp[8];
} curve;

static bool point_new(point *pt)
{
    pt->x = BN_new();
    pt->y = BN_new();
    pt->z = BN_new();
    pt->t = BN_new();
    return pt->x && pt->y && pt->z && pt->t;
}

static void point_free(point *pt)
{
    BN_clear_free(pt->x);
    BN_clear_free(pt->y);
    BN_clear_free(pt->z);
    BN_clear_free(pt->t);
}

static bool point_copy(point *dst, const point *src)
{
    return BN_copy(dst->x, src->x) && BN_copy(dst->y, src->y) && BN_copy(dst->z, src->z) &&
           BN_copy(dst->t, src->t);
}

static bool point_set_identity(point *pt)
{
    return BN_set_word(pt->x, 0) && BN_set_word(pt->y, 1) && BN_set_word(pt->z, 1) &&
           BN_set_word(pt->t, 0);
}

static void curve_free(curve *c)
{
    BN_free(c->p);
    BN_free(c->d2);
    BN_free(c->l);
    point_free(&c->base);
    for (size_t i = 0; i < sizeof c->tmp / sizeof c->tmp[0]; i++)
        BN_clear_free(c->tmp[i]);
    BN_CTX_free(c->ctx);
}

static bool curve_init(curve *c)
{
    memset(c, 0, sizeof *c);
    c->ctx = BN_CTX_new();
    c->p = BN_new();
    c->d2 = BN_new();
    c->l = BN_new();
    bool ok = c->ctx && c->p && c->d2 && c->l && point_new(&c->base);
    for (size_t i = 0; i < sizeof c->tmp / sizeof c->tmp[0]; i++)
        ok = (c->tmp[i] = BN_new()) != NULL && ok;
    if (!ok)
        return false;
    BIGNUM *num = c->tmp[0], *den = c->tmp[1], *lo = c->tmp[2];
    /* Constants of RFC 8032 section 5.1. */
    ok = BN_set_bit(c->p, 255) && BN_sub_word(c->p, 19) && BN_set_word(num, 121665) &&
         BN_sub(num, c->p, num) && BN_set_word(den, 121666) &&
         BN_mod_inverse(den, den, c->p, c->ctx) && BN_mod_mul(c->d2, num, den, c->p, c->ctx) &&
         BN_mod_lshift1(c->d2, c->d2, c->p, c->ctx) && BN_set_bit(c->l, 252) &&
         BN_dec2bn(&lo, "27742317777372353535851937790883648493") && BN_add(c->l, c->l, lo) &&
         BN_dec2bn(&c->base.x, "1511222134953540077250115140958853151145401269304185720604611"
                               "3283949847762202") &&
         BN_dec2bn(&c->base.y, "4631683569492647816942839400347516314130799386625622561578303"
                               "3603165251855960") &&
         BN_set_word(c->base.z, 1) && BN_mod_mul(c->base.t, c->base.x, c->base.y, c->p, c->ctx);
    return ok;
}

/* r = a + b (r may alias a or b). */
static bool point_add(curve *c, point *r, const point *a, const point *b)
{
    BIGNUM *A = c->tmp[0], *B = c->tmp[1], *C = c->tmp[2], *D = c->tmp[3];
    BIGNUM *E = c->tmp[4], *F = c->tmp[5], *G = c->tmp[6], *H = c->tmp[7];
    BN_CTX *ctx = c->ctx;
    const BIGNUM *p = c->p;
    /* A = (Y1-X1)(Y2-X2), B = (Y1+X1)(Y2+X2), C = T1 2d T2, D = 2 Z1 Z2,
     * E = B-A, F = D-C, G = D+C, H = B+A; X3 = EF, Y3 = GH, T3 = EH, Z3 = FG. */
    return BN_mod_sub(A, a->y, a->x, p, ctx) && BN_mod_sub(E, b->y, b->x, p, ctx) &&
           BN_mod_mul(A, A, E, p, ctx) && BN_mod_add(B, a->y, a->x, p, ctx) &&
           BN_mod_add(E, b->y, b->x, p, ctx) && BN_mod_mul(B, B, E, p, ctx) &&
           BN_mod_mul(C, a->t, c->d2, p, ctx) && BN_mod_mul(C, C, b->t, p, ctx) &&
           BN_mod_mul(D, a->z, b->z, p, ctx) && BN_mod_lshift1(D, D, p, ctx) &&
           BN_mod_sub(E, B, A, p, ctx) && BN_mod_sub(F, D, C, p, ctx) &&
           BN_mod_add(G, D, C, p, ctx) && BN_mod_add(H, B, A, p, ctx) &&
           BN_mod_mul(r->x, E, F, p, ctx) && BN_mod_mul(r->y, G, H, p, ctx) &&
           BN_mod_mul(r->t, E, H, p, ctx) && BN_mod_mul(r->z, F, G, p, ctx);
}

/* r = k * base, Montgomery ladder over 256 bits: one addition and one
 * doubling per bit whatever the bit. */
static bool scalar_mult_base(curve *c, point *r, const BIGNUM *k)
{
    point r1;
    bool ok = point_new(&r1) && point_set_identity(r) && point_copy(&r1, &c->base);
    for (int i = 255; ok && i >= 0; i--) {
        point *lo = r, *hi = &r1;
        if (BN_is_bit_set(k, i)) {
            lo = &r1;
            hi = r;
        }
        ok = point_add(c, hi, lo, hi) && point_add(c, lo, lo, lo);
    }
    point_free(&r1);
    return ok;
}

/* RFC 8032 5.1.2: y little-endian, the sign of x in the top bit. */
static bool point_encode(curve *c, const point *pt, uint8_t out[32])
{
    BIGNUM *zinv = c->tmp[0], *x = c->tmp[1], *y = c->tmp[2];
    if (!BN_mod_inverse(zinv, pt->z, c->p, c->ctx) || !BN_mod_mul(x, pt->x, zinv, c->p, c->ctx) ||
        !BN_mod_mul(y, pt->y, zinv, c->p, c->ctx) || BN_bn2lebinpad(y, out, 32) != 32)
        return false;
    out[31] |= (uint8_t)(BN_is_odd(x) ? 0x80 : 0);
    return true;
}

/* A 64-byte hash as a little-endian integer, reduced mod L. */
static bool reduce_hash(curve *c, BIGNUM *out, const uint8_t hash[64])
{
    return BN_lebin2bn(hash, 64, out) && BN_nnmod(out, out, c->l, c->ctx);
}

tf_status tf_auth_ed25519_sign(const char *password, size_t password_len, const uint8_t *nonce,
                               size_t nonce_len, uint8_t signature[64], uint8_t public_key[32],
                               tf_error *err)
{
    curve c;
    point pt = {0};
    uint8_t az[64], hash[64], pk[32];
    BIGNUM *a = BN_secure_new(), *r = BN_secure_new(), *k = BN_new();
    bool ok = curve_init(&c) && point_new(&pt) && a && r && k;

    /* Expanded secret: SHA-512 of the password itself (see the top). */
    tf_auth_digest(EVP_sha512(), password, password_len, NULL, 0, NULL, 0, az);
    az[0] &= 248;
    az[31] &= 63;
    az[31] |= 64;

    /* A = a * B, the key the server stores. */
    ok = ok && BN_lebin2bn(az, 32, a) && scalar_mult_base(&c, &pt, a) && point_encode(&c, &pt, pk);
    /* r = SHA-512(prefix || M) mod L, R = r * B. */
    if (ok)
        tf_auth_digest(EVP_sha512(), az + 32, 32, nonce, nonce_len, NULL, 0, hash);
    ok = ok && reduce_hash(&c, r, hash) && scalar_mult_base(&c, &pt, r) &&
         point_encode(&c, &pt, signature);
    /* S = (r + SHA-512(R || A || M) * a) mod L. */
    if (ok)
        tf_auth_digest(EVP_sha512(), signature, 32, pk, 32, nonce, nonce_len, hash);
    ok = ok && reduce_hash(&c, k, hash) && BN_mod_mul(k, k, a, c.l, c.ctx) &&
         BN_mod_add(k, k, r, c.l, c.ctx) && BN_bn2lebinpad(k, signature + 32, 32) == 32;

    if (ok && public_key)
        memcpy(public_key, pk, 32);
    OPENSSL_cleanse(az, sizeof az);
    OPENSSL_cleanse(hash, sizeof hash);
    BN_clear_free(a);
    BN_clear_free(r);
    BN_clear_free(k);
    point_free(&pt);
    curve_free(&c);
    if (!ok) {
        memset(signature, 0, 64);
        return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                            "client_ed25519: signing failed (OpenSSL BIGNUM allocation)");
    }
    return TF_OK;
}
