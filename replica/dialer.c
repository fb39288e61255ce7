/* dialer.c — what every connection to one server shares, made once: the
 * DNS resolver, the TLS context and the server's RSA public key. The
 * replica's reconnecting stream, the snapshot and the one-shot queries
 * each open connections from one of these. */
#include "replica_internal.h"

#include <event2/dns.h>
#include <stdlib.h>
#include <string.h>

bool tf_conn_dialer_init(tf_conn_dialer *d, struct event_base *base, const tf_conn_options *o,
                         tf_error *err)
{
    memset(d, 0, sizeof *d);
    d->base = base;
    if (o->tls_mode != TF_TLS_DISABLED && (d->ssl_ctx = tf_conn_ssl_ctx_new(o, err)) == NULL)
        return false;
    if (o->server_public_key_file != NULL &&
        !tf_conn_read_pem(o->server_public_key_file, &d->pem, &d->pem_len, err)) {
        tf_conn_dialer_cleanup(d);
        return false;
    }
    /* Without a resolv.conf (containers) the resolver still serves
     * literal addresses and /etc/hosts. */
    d->dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (d->dns == NULL)
        d->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (d->dns == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "cannot create a DNS resolver");
        tf_conn_dialer_cleanup(d);
        return false;
    }
    return true;
}

void tf_conn_dialer_cleanup(tf_conn_dialer *d)
{
    if (d->dns != NULL)
        evdns_base_free(d->dns, 0);
    if (d->ssl_ctx != NULL)
        SSL_CTX_free(d->ssl_ctx);
    free(d->pem);
    memset(d, 0, sizeof *d);
}

tf_conn *tf_conn_dial(const tf_conn_dialer *d, const tf_conn_options *opt,
                      const tf_conn_handlers *h, void *arg)
{
    return tf_conn_new(d->base, d->dns, d->ssl_ctx, d->pem, d->pem_len, opt, h, arg);
}
