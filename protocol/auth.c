/* auth.c — the client side of authentication: the scrambles of
 * mysql_native_password and caching_sha2_password, the auth switch request,
 * and the state machine that, given the server's packets one by one, says
 * what to send next. No I/O: the caller (replica/) moves the bytes.
 *
 * RSA password encryption is in auth_rsa.c, MariaDB's ed25519 signature in
 * auth_ed25519.c. */
#include "auth_internal.h"
#include "reader_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* Packet markers of the connection phase after the handshake response. */
#define AUTH_OK 0x00
#define AUTH_MORE_DATA 0x01
#define AUTH_SWITCH_REQUEST 0xfe
#define AUTH_ERR 0xff

/* caching_sha2_password's one-byte messages (inside AUTH_MORE_DATA) and
 * requests. */
#define SHA2_FAST_AUTH_SUCCESS 0x03
#define SHA2_PERFORM_FULL_AUTHENTICATION 0x04
#define SHA2_REQUEST_PUBLIC_KEY 0x02
#define SHA256_REQUEST_PUBLIC_KEY 0x01

#define ED25519_NONCE_LENGTH 32

enum auth_state {
    AUTH_ST_INIT = 0,
    AUTH_ST_SENT_RESPONSE,   /* scramble / signature sent: any verdict may come */
    AUTH_ST_SHA2_FAST_OK,    /* 0x01 0x03 seen: the OK follows */
    AUTH_ST_WAIT_PUBLIC_KEY, /* public key requested: 0x01 + PEM follows */
    AUTH_ST_SENT_PASSWORD,   /* full authentication sent: OK or ERR follows */
    AUTH_ST_FINISHED,
};

static const struct {
    tf_auth_plugin plugin;
    const char *name;
} plugin_names[] = {
    {TF_AUTH_MYSQL_NATIVE_PASSWORD, "mysql_native_password"},
    {TF_AUTH_CACHING_SHA2_PASSWORD, "caching_sha2_password"},
    {TF_AUTH_SHA256_PASSWORD, "sha256_password"},
    {TF_AUTH_CLIENT_ED25519, "client_ed25519"},
    {TF_AUTH_MYSQL_CLEAR_PASSWORD, "mysql_clear_password"},
};

tf_auth_plugin tf_auth_plugin_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof plugin_names / sizeof plugin_names[0]; i++)
        if (strcmp(name, plugin_names[i].name) == 0)
            return plugin_names[i].plugin;
    return TF_AUTH_PLUGIN_UNKNOWN;
}

const char *tf_auth_plugin_name(tf_auth_plugin plugin)
{
    for (size_t i = 0; i < sizeof plugin_names / sizeof plugin_names[0]; i++)
        if (plugin_names[i].plugin == plugin)
            return plugin_names[i].name;
    return "unknown";
}

void tf_auth_digest(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len,
                    const void *c, size_t c_len, uint8_t *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL) ||
        (a_len > 0 && !EVP_DigestUpdate(ctx, a, a_len)) ||
        (b_len > 0 && !EVP_DigestUpdate(ctx, b, b_len)) ||
        (c_len > 0 && !EVP_DigestUpdate(ctx, c, c_len)) || !EVP_DigestFinal_ex(ctx, out, &n))
        abort(); /* only allocation failure can get here: nothing sane to return */
    EVP_MD_CTX_free(ctx);
}

static void digest2(const EVP_MD *md, const void *a, size_t a_len, const void *b, size_t b_len,
                    uint8_t *out)
{
    tf_auth_digest(md, a, a_len, b, b_len, NULL, 0, out);
}

void tf_scramble_native(const char *password, size_t password_len, const uint8_t *nonce,
                        size_t nonce_len, uint8_t out[TF_SCRAMBLE_LENGTH], size_t *out_len)
{
    *out_len = 0;
    if (password_len == 0)
        return; /* the server reads an empty response as "no password" */
    uint8_t stage1[20], stage2[20], mix[20];
    digest2(EVP_sha1(), password, password_len, NULL, 0, stage1);
    digest2(EVP_sha1(), stage1, sizeof stage1, NULL, 0, stage2);
    digest2(EVP_sha1(), nonce, nonce_len, stage2, sizeof stage2, mix);
    for (size_t i = 0; i < 20; i++)
        out[i] = stage1[i] ^ mix[i];
    *out_len = 20;
    OPENSSL_cleanse(stage1, sizeof stage1);
}

void tf_scramble_caching_sha2(const char *password, size_t password_len, const uint8_t *nonce,
                              size_t nonce_len, uint8_t out[32], size_t *out_len)
{
    *out_len = 0;
    if (password_len == 0)
        return;
    uint8_t digest1[32], digest2_[32], mix[32];
    digest2(EVP_sha256(), password, password_len, NULL, 0, digest1);
    digest2(EVP_sha256(), digest1, sizeof digest1, NULL, 0, digest2_);
    digest2(EVP_sha256(), digest2_, sizeof digest2_, nonce, nonce_len, mix);
    for (size_t i = 0; i < 32; i++)
        out[i] = digest1[i] ^ mix[i];
    *out_len = 32;
    OPENSSL_cleanse(digest1, sizeof digest1);
}

tf_status tf_auth_switch_decode(const uint8_t *payload, size_t len, tf_auth_switch *out,
                                tf_error *err)
{
    memset(out, 0, sizeof *out);
    tf_reader r;
    tf_reader_init(&r, payload, len, 0, "auth switch request", TF_MALFORMED, err);
    uint8_t marker;
    tf_status st = tf_read_u8(&r, &marker, "marker");
    if (st != TF_OK)
        return st;
    if (marker != AUTH_SWITCH_REQUEST) {
        r.pos = 0;
        return tf_reader_bad(&r, "marker 0x%02x is not 0xfe", marker);
    }
    /* A lone 0xfe is the pre-4.1 "old password" request. */
    if (len == 1)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "auth switch request: the server asks for the pre-4.1 "
                            "mysql_old_password, which is not supported");
    tf_str name;
    st = tf_read_nul_str(&r, &name, "plugin name");
    if (st != TF_OK)
        return st;
    out->plugin_name = name.ptr;
    out->data = tf_reader_cursor(&r);
    out->data_len = tf_reader_left(&r);
    return TF_OK;
}

/* ------------------------------------------------------------------ */

void tf_auth_init(tf_auth *auth, const char *password, size_t password_len, bool secure_transport)
{
    memset(auth, 0, sizeof *auth);
    auth->password = password ? password : "";
    auth->password_len = password ? password_len : 0;
    auth->secure_transport = secure_transport;
}

void tf_auth_set_server_public_key(tf_auth *auth, const uint8_t *pem, size_t pem_len)
{
    auth->server_public_key_pem = pem;
    auth->server_public_key_pem_len = pem_len;
}

void tf_auth_cleanup(tf_auth *auth)
{
    OPENSSL_cleanse(auth->response, sizeof auth->response);
    auth->response_len = 0;
    auth->password = NULL;
    auth->password_len = 0;
}

static void set_plugin(tf_auth *auth, tf_auth_plugin plugin)
{
    const char *name = tf_auth_plugin_name(plugin);
    auth->plugin = plugin;
    memcpy(auth->plugin_name, name, strlen(name) + 1);
}

/* Copies the nonce. The native and sha2 plugins get 20 bytes and a NUL in an
 * auth switch; like libmysqlclient we insist on exactly that, so a cut packet
 * is never taken for a nonce. */
static tf_status take_nonce(tf_auth *auth, const uint8_t *data, size_t len, bool strip_nul,
                            size_t want, tf_error *err)
{
    if (strip_nul && want) {
        if (len != want + 1 || data[want] != '\0')
            return tf_error_set(err, TF_ERR_PROTOCOL, 0,
                                "%s: auth switch data is %zu bytes, expected %zu (nonce and NUL)",
                                auth->plugin_name, len, want + 1);
        len = want;
    } else if (strip_nul && len > 0 && data[len - 1] == '\0') {
        len--;
    }
    if (want && len != want)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: nonce is %zu bytes, expected %zu",
                            auth->plugin_name, len, want);
    if (len > sizeof auth->nonce)
        return tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: nonce is %zu bytes, more than %zu",
                            auth->plugin_name, len, sizeof auth->nonce);
    memcpy(auth->nonce, data, len);
    auth->nonce_len = len;
    return TF_OK;
}

static void respond_bytes(tf_auth *auth, const void *data, size_t len)
{
    memcpy(auth->response, data, len);
    auth->response_len = len;
}

/* The password and its NUL in clear: only over TLS or a unix socket. */
static tf_status respond_cleartext(tf_auth *auth, tf_error *err)
{
    if (!auth->secure_transport)
        return tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                            "%s: the server wants the password in clear on a connection "
                            "without TLS; refusing (connect with TLS)",
                            auth->plugin_name);
    if (auth->password_len + 1 > sizeof auth->response)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "%s: password of %zu bytes is longer than the %zu supported",
                            auth->plugin_name, auth->password_len, sizeof auth->response - 1);
    respond_bytes(auth, auth->password, auth->password_len);
    auth->response[auth->password_len] = '\0';
    auth->response_len = auth->password_len + 1;
    return TF_OK;
}

static tf_status respond_rsa(tf_auth *auth, const uint8_t *pem, size_t pem_len, tf_error *err)
{
    tf_status st = tf_auth_rsa_encrypt_password(auth->password, auth->password_len, auth->nonce,
                                                auth->nonce_len, pem, pem_len, auth->response,
                                                sizeof auth->response, &auth->response_len, err);
    if (st != TF_OK) {
        auth->response_len = 0;
        tf_error_prefix(err, "%s", auth->plugin_name);
    }
    return st;
}

/* The full authentication of caching_sha2_password (after 0x04) and the
 * first answer of sha256_password: clear over TLS, RSA with a key we know,
 * otherwise ask the server for its key. */
static tf_status respond_full_auth(tf_auth *auth, uint8_t request_key_byte, tf_error *err)
{
    if (auth->secure_transport) {
        auth->state = AUTH_ST_SENT_PASSWORD;
        return respond_cleartext(auth, err);
    }
    if (auth->server_public_key_pem) {
        auth->state = AUTH_ST_SENT_PASSWORD;
        return respond_rsa(auth, auth->server_public_key_pem, auth->server_public_key_pem_len, err);
    }
    respond_bytes(auth, &request_key_byte, 1);
    auth->state = AUTH_ST_WAIT_PUBLIC_KEY;
    return TF_OK;
}

/* The first answer of a plugin to its nonce (in the handshake response or
 * after an auth switch). */
static tf_status respond_to_nonce(tf_auth *auth, tf_error *err)
{
    static const uint8_t zero_byte = 0;
    size_t n = 0;
    auth->state = AUTH_ST_SENT_RESPONSE;
    auth->response_len = 0;
    switch (auth->plugin) {
    case TF_AUTH_MYSQL_NATIVE_PASSWORD:
        tf_scramble_native(auth->password, auth->password_len, auth->nonce, auth->nonce_len,
                           auth->response, &n);
        auth->response_len = n;
        return TF_OK;
    case TF_AUTH_CACHING_SHA2_PASSWORD:
        /* An empty password is one NUL byte, as libmysqlclient sends it. */
        if (auth->password_len == 0) {
            respond_bytes(auth, &zero_byte, 1);
            return TF_OK;
        }
        tf_scramble_caching_sha2(auth->password, auth->password_len, auth->nonce, auth->nonce_len,
                                 auth->response, &n);
        auth->response_len = n;
        return TF_OK;
    case TF_AUTH_SHA256_PASSWORD:
        if (auth->password_len == 0) {
            respond_bytes(auth, &zero_byte, 1);
            auth->state = AUTH_ST_SENT_PASSWORD;
            return TF_OK;
        }
        return respond_full_auth(auth, SHA256_REQUEST_PUBLIC_KEY, err);
    case TF_AUTH_CLIENT_ED25519: {
        uint8_t signature[64];
        tf_status st = tf_auth_ed25519_sign(auth->password, auth->password_len, auth->nonce,
                                            auth->nonce_len, signature, NULL, err);
        if (st != TF_OK)
            return st;
        respond_bytes(auth, signature, sizeof signature);
        return TF_OK;
    }
    case TF_AUTH_MYSQL_CLEAR_PASSWORD:
        auth->state = AUTH_ST_SENT_PASSWORD;
        return respond_cleartext(auth, err);
    case TF_AUTH_PLUGIN_UNKNOWN: break;
    }
    return tf_error_set(err, TF_ERR_UNSUPPORTED, 0, "auth plugin '%s' is not supported",
                        auth->plugin_name);
}

tf_status tf_auth_start(tf_auth *auth, const tf_handshake *hs, tf_error *err)
{
    tf_auth_plugin plugin = tf_auth_plugin_from_name(hs->auth_plugin);
    /* The first response can only use the handshake's 20-byte nonce. For a
     * plugin we do not know, or one that cannot answer it (client_ed25519
     * signs a 32-byte nonce; mysql_clear_password is never a default), answer
     * as mysql_native_password: the server then switches to the account's
     * plugin with a nonce of that plugin's own (what libmariadb does). */
    if (plugin == TF_AUTH_PLUGIN_UNKNOWN || plugin == TF_AUTH_CLIENT_ED25519 ||
        plugin == TF_AUTH_MYSQL_CLEAR_PASSWORD)
        plugin = TF_AUTH_MYSQL_NATIVE_PASSWORD;
    set_plugin(auth, plugin);
    auth->switched = false;
    auth->packets = 0;
    if (take_nonce(auth, hs->auth_data, hs->auth_data_len, false, 0, err) != TF_OK)
        return TF_MALFORMED;
    if (respond_to_nonce(auth, err) != TF_OK) {
        auth->state = AUTH_ST_FINISHED;
        return TF_MALFORMED;
    }
    return TF_OK;
}

static tf_auth_action fail(tf_auth *auth)
{
    auth->state = AUTH_ST_FINISHED;
    auth->response_len = 0;
    return TF_AUTH_FAILED;
}

static tf_auth_action on_switch(tf_auth *auth, const uint8_t *payload, size_t len, tf_error *err)
{
    /* The switch can only answer the handshake response itself. */
    if (auth->switched || auth->packets != 1) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "auth: unexpected auth switch request (already %s with %s)",
                     auth->switched ? "switched" : "authenticating", auth->plugin_name);
        return fail(auth);
    }
    tf_auth_switch sw;
    if (tf_auth_switch_decode(payload, len, &sw, err) != TF_OK)
        return fail(auth);
    tf_auth_plugin plugin = tf_auth_plugin_from_name(sw.plugin_name);
    if (plugin == TF_AUTH_PLUGIN_UNKNOWN) {
        tf_error_set(err, TF_ERR_UNSUPPORTED, 0,
                     "auth: the server switched to auth plugin '%.200s', which is not "
                     "supported",
                     sw.plugin_name);
        return fail(auth);
    }
    set_plugin(auth, plugin);
    auth->switched = true;
    tf_status st;
    switch (plugin) {
    case TF_AUTH_CLIENT_ED25519:
        st = take_nonce(auth, sw.data, sw.data_len, false, ED25519_NONCE_LENGTH, err);
        break;
    case TF_AUTH_MYSQL_NATIVE_PASSWORD:
    case TF_AUTH_CACHING_SHA2_PASSWORD:
        st = take_nonce(auth, sw.data, sw.data_len, true, TF_SCRAMBLE_LENGTH, err);
        break;
    default: /* sha256_password (XORs the nonce), mysql_clear_password (none) */
        st = take_nonce(auth, sw.data, sw.data_len, true, 0, err);
        break;
    }
    if (st != TF_OK || respond_to_nonce(auth, err) != TF_OK)
        return fail(auth);
    return TF_AUTH_SEND;
}

static tf_auth_action on_more_data(tf_auth *auth, const uint8_t *payload, size_t len, tf_error *err)
{
    const uint8_t *data = payload + 1;
    size_t data_len = len - 1;
    if (auth->state == AUTH_ST_WAIT_PUBLIC_KEY) {
        if (respond_rsa(auth, data, data_len, err) != TF_OK)
            return fail(auth);
        auth->state = AUTH_ST_SENT_PASSWORD;
        return TF_AUTH_SEND;
    }
    if (auth->plugin == TF_AUTH_CACHING_SHA2_PASSWORD && auth->state == AUTH_ST_SENT_RESPONSE) {
        if (data_len == 1 && data[0] == SHA2_FAST_AUTH_SUCCESS) {
            auth->state = AUTH_ST_SHA2_FAST_OK;
            return TF_AUTH_READ;
        }
        if (data_len == 1 && data[0] == SHA2_PERFORM_FULL_AUTHENTICATION) {
            if (respond_full_auth(auth, SHA2_REQUEST_PUBLIC_KEY, err) != TF_OK)
                return fail(auth);
            return TF_AUTH_SEND;
        }
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "caching_sha2_password: auth more data of %zu bytes starting 0x%02x at "
                     "offset 1 is neither fast-auth-success (0x03) nor "
                     "perform-full-authentication (0x04)",
                     data_len, data_len ? data[0] : 0);
        return fail(auth);
    }
    tf_error_set(err, TF_ERR_PROTOCOL, 0, "%s: unexpected auth more data (0x01) packet",
                 auth->plugin_name);
    return fail(auth);
}

tf_auth_action tf_auth_step(tf_auth *auth, const uint8_t *payload, size_t len, tf_error *err)
{
    auth->response_len = 0;
    if (auth->state == AUTH_ST_INIT || auth->state == AUTH_ST_FINISHED) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "auth: %s",
                     auth->state == AUTH_ST_INIT ? "tf_auth_start was not called"
                                                 : "the exchange is already over");
        return fail(auth);
    }
    auth->packets++;
    if (len == 0) {
        tf_error_set(err, TF_ERR_PROTOCOL, 0, "auth: empty packet from the server");
        return fail(auth);
    }
    switch (payload[0]) {
    case AUTH_OK: auth->state = AUTH_ST_FINISHED; return TF_AUTH_DONE;
    case AUTH_ERR:
        tf_err_payload_to_error(payload, len, err);
        return fail(auth);
    case AUTH_SWITCH_REQUEST: return on_switch(auth, payload, len, err);
    case AUTH_MORE_DATA: return on_more_data(auth, payload, len, err);
    default:
        tf_error_set(err, TF_ERR_PROTOCOL, 0,
                     "auth: unexpected packet starting 0x%02x at offset 0 (expected OK, ERR, "
                     "auth switch or auth more data)",
                     payload[0]);
        return fail(auth);
    }
}
