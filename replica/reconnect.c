/* reconnect.c — the replica's life cycle: start, watchdog, reconnection
 * with backoff, stop.
 *
 *   start ──► CONNECTING ──► SESSION ──► REGISTER ──► STREAMING
 *                 ▲                                       │ lost / dead
 *                 └────────── WAITING (backoff) ◄─────────┘
 *
 * One timer (the watchdog) enforces two limits: the connect timeout while
 * connecting and setting up, and heartbeat silence while streaming (the
 * server sends a HEARTBEAT after heartbeat_period without events, so no
 * byte for 3 periods means the connection or the server is gone even when
 * TCP has not noticed). Retries wait min_delay * 2^(attempt-1), capped at
 * max_delay, times a random factor in [0.5, 1): replicas that lost the same
 * server at the same moment do not come back in lock step. The backoff
 * restarts once a dump delivers an event again.
 *
 * Every resumption starts from the position after the last COMPLETE
 * transaction handed to on_transaction (stream.c keeps it): a partial
 * transaction is dropped and comes again, a delivered one never does. */
#include "replica_internal.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SERVER_ID 0x7461u

void replica_log(tf_replica *r, const char *fmt, ...)
{
    if (r->opt.cb.on_log == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->opt.cb.on_log(r, msg, r->opt.arg);
}

double replica_rand01(uint64_t *state)
{
    /* xorshift64*: jitter only, not security. A zero state would stay
     * zero: it is replaced. */
    uint64_t x = *state ? *state : UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * UINT64_C(2685821657736338717)) >> 11) / 9007199254740992.0;
}

double replica_backoff_delay(double min_delay, double max_delay, unsigned attempt, double random01)
{
    double base = min_delay;
    /* Doubled until the cap: a long outage (thousands of attempts) costs
     * a few iterations, never an overflow. */
    for (unsigned i = 1; i < attempt && base < max_delay; i++)
        base *= 2;
    if (base > max_delay)
        base = max_delay;
    return base * (0.5 + 0.5 * random01);
}

static struct timeval to_timeval(double seconds)
{
    struct timeval tv;
    tv.tv_sec = (time_t)seconds;
    tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
    return tv;
}

static void drop_connection(tf_replica *r)
{
    if (r->conn != NULL) {
        tf_conn_destroy(r->conn);
        r->conn = NULL;
    }
    tf_query_cleanup(&r->query);
    r->dump_live = false;
}

static void stop_with(tf_replica *r, const tf_error *err)
{
    if (r->stopped)
        return;
    r->stopped = true;
    r->phase = PHASE_IDLE;
    evtimer_del(r->watchdog);
    evtimer_del(r->retry_timer);
    drop_connection(r);
    replica_stream_reset(r);
    r->stop_has_error = err != NULL;
    if (err != NULL)
        r->stop_error = *err;
    event_active(r->stop_event, EV_TIMEOUT, 0);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    tf_replica *r = arg;
    (void)fd;
    (void)what;
    if (r->opt.cb.on_stop != NULL)
        r->opt.cb.on_stop(r, r->stop_has_error ? &r->stop_error : NULL, r->opt.arg);
}

void replica_finish(tf_replica *r)
{
    replica_log(r, "reached the end of the binlog");
    stop_with(r, NULL);
}

/* ---- connection handlers ---------------------------------------------------- */

static void on_ready(tf_conn *c, void *arg)
{
    tf_replica *r = arg;
    (void)c;
    replica_session_begin(r);
}

static void on_packet(tf_conn *c, const uint8_t *payload, size_t len, void *arg)
{
    tf_replica *r = arg;
    (void)c;
    if (r->phase == PHASE_STREAMING)
        replica_stream_packet(r, payload, len);
    else if (r->phase == PHASE_SESSION || r->phase == PHASE_REGISTER)
        replica_session_packet(r, payload, len);
}

static void on_conn_error(tf_conn *c, const tf_error *err, bool fatal, void *arg)
{
    tf_replica *r = arg;
    (void)c;
    replica_fail(r, err, fatal);
}

static void connect_now(tf_replica *r)
{
    static const tf_conn_handlers handlers = {on_ready, on_packet, on_conn_error};
    r->phase = PHASE_CONNECTING;
    r->phase_started = tf_now();
    r->dump_live = false;
    tf_query_init(&r->query);
    r->conn =
        tf_conn_dial(&r->dialer, &r->opt.conn, &handlers, r);
    if (r->conn == NULL) {
        tf_error err;
        tf_error_set(&err, TF_ERR_IO, 0, "out of memory for a connection");
        stop_with(r, &err);
        return;
    }
    tf_conn_start(r->conn);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

void replica_fail(tf_replica *r, const tf_error *err, bool fatal)
{
    if (r->stopped)
        return;
    drop_connection(r);
    replica_stream_reset(r);
    if (fatal || (!r->streamed_once && !r->opt.retry_first_connect)) {
        stop_with(r, err);
        return;
    }
    r->attempt++;
    double delay = replica_backoff_delay(r->opt.reconnect_min_delay, r->opt.reconnect_max_delay,
                                         r->attempt, replica_rand01(&r->rng));
    if (r->streamed_once)
        r->stats.reconnects++;
    replica_log(r, "%s; reconnecting in %.2f s (attempt %u)", err->message, delay, r->attempt);
    r->phase = PHASE_WAITING;
    struct timeval tv = to_timeval(delay);
    evtimer_add(r->retry_timer, &tv);
}

void replica_stream_started(tf_replica *r)
{
    if (r->dump_live)
        return;
    r->dump_live = true;
    r->streamed_once = true;
    r->attempt = 0;
    r->stats.connects++;
    char pos[512];
    replica_format_position(r, pos, sizeof pos);
    replica_log(r, "streaming from %s (%s %s, server_id %u%s)", pos[0] ? pos : "the start",
                tf_conn_peer(r->conn), r->server.version, r->server.server_id,
                r->server.tls ? ", TLS" : "");
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    tf_replica *r = arg;
    (void)fd;
    (void)what;
    double now = tf_now();
    tf_error err = {0};
    /* Run late: the owner's loop was busy elsewhere (a blocking call) and
     * could not read. That time is not the server's silence: it counts
     * from now, once what arrived meanwhile has had a chance to be read. */
    if (r->watchdog_last && now - r->watchdog_last > 2 * r->watchdog_tick + 0.5)
        r->loop_resumed = now;
    r->watchdog_last = now;
    switch (r->phase) {
    case PHASE_CONNECTING:
    case PHASE_SESSION:
    case PHASE_REGISTER:
        if (now - r->phase_started > r->opt.conn.connect_timeout) {
            tf_error_set(&err, TF_ERR_IO, 0, "%s did not answer within %.1f s (%s)",
                         r->conn ? tf_conn_peer(r->conn) : "the server",
                         r->opt.conn.connect_timeout,
                         r->phase == PHASE_CONNECTING ? "connecting" : "setting up replication");
            replica_fail(r, &err, false);
        }
        break;
    case PHASE_STREAMING: {
        double heard = tf_conn_last_receive(r->conn);
        double silence = now - (heard > r->loop_resumed ? heard : r->loop_resumed);
        double limit = 3 * r->opt.heartbeat_period;
        if (silence > limit) {
            tf_error_set(&err, TF_ERR_IO, 0,
                         "no event or heartbeat from %s for %.1f s (3 heartbeat periods of "
                         "%.1f s): the connection is presumed dead",
                         tf_conn_peer(r->conn), silence, r->opt.heartbeat_period);
            replica_fail(r, &err, false);
        }
        break;
    }
    default: break;
    }
}

/* ---- public ------------------------------------------------------------------- */

tf_replica *tf_replica_new(struct event_base *base, const tf_replica_options *opt, tf_error *err)
{
    if (opt->cb.on_transaction == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "replica: on_transaction is required");
        return NULL;
    }
    if (opt->start == TF_REPLICA_START_FILE && (opt->file == NULL || opt->file[0] == '\0')) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "replica: a start file is required with a position");
        return NULL;
    }
    if (opt->start == TF_REPLICA_START_GTID && opt->gtid == NULL) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "replica: a GTID position is required");
        return NULL;
    }
    tf_replica *r = calloc(1, sizeof *r);
    if (r == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "out of memory");
        return NULL;
    }
    r->base = base;
    r->opt = *opt;
    if (r->opt.server_id == 0)
        r->opt.server_id = DEFAULT_SERVER_ID;
    if (r->opt.heartbeat_period <= 0)
        r->opt.heartbeat_period = 5;
    if (r->opt.reconnect_min_delay <= 0)
        r->opt.reconnect_min_delay = 0.1;
    if (r->opt.reconnect_max_delay <= 0)
        r->opt.reconnect_max_delay = 30;
    if (r->opt.conn.connect_timeout <= 0)
        r->opt.conn.connect_timeout = 10;
    tf_mariadb_gtid_pos_init(&r->mariadb_pos);
    r->rng = (uint64_t)(tf_now() * 1e9) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)r;
    if (r->rng == 0)
        r->rng = 0x9e3779b97f4a7c15u;
    if (!tf_conn_dialer_init(&r->dialer, base, &r->opt.conn, err))
        goto fail;
    r->watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb, r);
    r->retry_timer = evtimer_new(base, retry_cb, r);
    r->stop_event = event_new(base, -1, 0, stop_cb, r);
    if (r->watchdog == NULL || r->retry_timer == NULL || r->stop_event == NULL) {
        tf_error_set(err, TF_ERR_IO, 0, "replica: cannot create libevent objects");
        goto fail;
    }
    r->stopped = true; /* until started */
    return r;
fail:
    r->stopped = true;
    tf_replica_destroy(r);
    return NULL;
}

bool tf_replica_start(tf_replica *r, tf_error *err)
{
    if (!r->stopped || r->phase != PHASE_IDLE) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "replica: already started");
        return false;
    }
    r->stopped = false;
    double tick = r->opt.heartbeat_period / 4;
    if (tick > 1)
        tick = 1;
    if (tick < 0.02)
        tick = 0.02;
    r->watchdog_tick = tick;
    struct timeval tv = to_timeval(tick);
    evtimer_add(r->watchdog, &tv);
    connect_now(r);
    return true;
}

void tf_replica_stop(tf_replica *r)
{
    if (r->stopped)
        return;
    replica_log(r, "stopping");
    stop_with(r, NULL);
}

void tf_replica_destroy(tf_replica *r)
{
    if (r == NULL)
        return;
    r->stopped = true;
    drop_connection(r);
    replica_stream_cleanup(r);
    if (r->watchdog)
        event_free(r->watchdog);
    if (r->retry_timer)
        event_free(r->retry_timer);
    if (r->stop_event)
        event_free(r->stop_event);
    tf_conn_dialer_cleanup(&r->dialer);
    tf_mariadb_gtid_pos_cleanup(&r->mariadb_pos);
    tf_gtid_set_destroy(r->mysql_set);
    free(r);
}

size_t tf_replica_position(const tf_replica *r, char *buf, size_t cap)
{
    return replica_format_position(r, buf, cap);
}

const tf_replica_server_info *tf_replica_server(const tf_replica *r) { return &r->server; }
const tf_replica_stats *tf_replica_get_stats(const tf_replica *r) { return &r->stats; }
