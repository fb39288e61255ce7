/* daemon.h — shared between the files of tapflow-replica only. */
#ifndef TAPFLOW_REPLICA_DAEMON_H
#define TAPFLOW_REPLICA_DAEMON_H

#include "protocol.h"

#include <bson/bson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- config.c: the config file ---------------------------------------- */

typedef enum tfr_ds_type {
    TFR_DS_MYSQL = 1,
    TFR_DS_MONGODB = 2
} tfr_ds_type;

typedef struct tfr_datasource {
    char *name;
    tfr_ds_type type;
    unsigned line; /* of its [datasource ...] header */
    /* mysql */
    char *host;
    uint16_t port;
    char *socket;
    char *user;
    char *password;     /* password, or password_env's value once resolved; never logged */
    char *password_env; /* the variable to read it from (tfr_config_resolve_passwords) */
    unsigned password_env_line;
    char *tls_mode;
    /* both */
    char *database;
    /* mongodb */
    char *uri; /* may hold credentials: log only redacted */
    /* mysql: stream the binlog through this [relay NAME] instead of from
     * the server itself (snapshots and re-syncs still read the server) */
    char *relay;
    unsigned relay_line;
} tfr_datasource;

/* An account downstream clients of a relay log in with. */
typedef struct tfr_relay_account {
    char *user;
    char *password; /* or password_env's value once resolved; never logged */
    char *password_env;
    unsigned line;
} tfr_relay_account;

/* [relay NAME]: tapflow-relay's settings. */
typedef struct tfr_relay {
    char *name;
    unsigned line;
    char *upstream; /* a mysql datasource */
    unsigned upstream_line;
    char *listen_host; /* default 127.0.0.1 */
    uint16_t listen_port;
    char *archive;      /* folder of the binlog files */
    uint32_t server_id; /* ours on the upstream; 0 = derived from the name */
    uint64_t rotate_bytes;
    uint32_t fsync_interval_ms; /* 0: each transaction */
    uint64_t retention_bytes;
    uint64_t retention_seconds;
    bool compress; /* zstd-compress closed files */
    char *start;   /* where an empty archive starts: "now" (default), "earliest", or a GTID */
    tfr_relay_account *accounts; /* none: the upstream datasource's user and password */
    size_t account_count;
} tfr_relay;

typedef enum tfr_decimal_mode {
    TFR_DECIMAL_AUTO = 0, /* Decimal128 when the target stores it, else double */
    TFR_DECIMAL_DOUBLE,
    TFR_DECIMAL_STRING,
} tfr_decimal_mode;

typedef struct tfr_config {
    char *file;
    size_t datasource_count;
    tfr_datasource *datasources;
    size_t relay_count;
    tfr_relay *relays;
    uint32_t server_id;
    char *status_host;
    uint16_t status_port;
    size_t batch_max_ops;
    size_t batch_max_bytes;
    size_t write_connections; /* tf_sink_options.connections */
    int64_t checkpoint_interval_ms;
    size_t resync_chunk_rows;  /* rows per read of a table re-sync */
    bool root_key_index_plain; /* root_key_index = plain (a sharded target) */
    bool write_plan_off;       /* write_plan = off: no cost probe, no plan */
    tfr_decimal_mode decimal;
    char *checkpoint_collection; /* NULL = the sink's default */
    char *home;  /* [tapflow] home: runtime dir of tap (NULL: see tfr_config_home) */
    char *store; /* [tapflow] store: mongodb datasource holding tapflow_flows */
    /* [tapflow] state_dir: the view state in a file there (tf_view_use_state_dir),
     * NULL: in the heap; state_memory_mb: its resident limit (0: none) */
    char *state_dir;
    uint64_t state_memory_mb;
    /* [tapflow] status_ports = LO-HI: the ports tap gives the flows it
     * starts (0, 0: any free port) */
    uint16_t status_port_low, status_port_high;
} tfr_config;

#define TFR_DEFAULT_STATUS_HOST "127.0.0.1"
#define TFR_DEFAULT_STATUS_PORT 7470
/* tf_sink_options.connections: measured in tools/bench-mass (README) */
#define TFR_DEFAULT_WRITE_CONNECTIONS 2
#define TFR_MAX_WRITE_CONNECTIONS 16

#define TFR_DEFAULT_RELAY_PORT 33080

struct tf_conn_options;

/* How to log in to a mysql datasource (replica/replica.h's options; strings
 * borrowed from ds): host or socket, user, its password (resolved by
 * tfr_config_resolve_passwords, else read from password_env now), TLS
 * mode. Error "FILE:LINE: datasource NAME: ..." (without FILE:LINE when cfg
 * is NULL) on a bad tls value or an unset password_env. One place for what
 * the daemon, verify, the relay and tap each need. */
bool tfr_datasource_conn(const tfr_config *cfg, const tfr_datasource *ds,
                         struct tf_conn_options *out, tf_error *err);

/* The relay called name (NULL: the only one, when there is exactly one). */
const tfr_relay *tfr_config_relay(const tfr_config *cfg, const char *name);

/* Parses the config file at path; messages read "path:line: what". */
bool tfr_config_load(const char *path, tfr_config *out, tf_error *err);
void tfr_config_cleanup(tfr_config *cfg);
/* The datasource called name (NULL when none). */
const tfr_datasource *tfr_config_datasource(const tfr_config *cfg, const char *name);
void tfr_config_defaults(tfr_config *cfg);
/* The replica server_id a flow registers with: the config's server_id when
 * set, else one derived from the flow name (0x7A000000 | 24-bit hash). */
uint32_t tfr_flow_server_id(const tfr_config *cfg, const char *flow);
/* Reads each password_env variable (the daemon does; `status` never needs
 * passwords). Error "file:line: password_env: environment variable X is
 * not set". */
bool tfr_config_resolve_passwords(tfr_config *cfg, tf_error *err);

/* The config file when none is named: env TAPFLOW_CONFIG, else
 * ~/.tapflow/tapflow.conf (into buf). */
const char *tfr_config_default_path(char *buf, size_t cap);
/* tap's runtime dir (flow files, logs, run files, history): [tapflow]
 * home, else env TAPFLOW_HOME, else ~/.tapflow. cfg may be NULL. Free
 * with bson_free. */
char *tfr_config_home(const tfr_config *cfg);
/* The mongodb datasource whose database holds tapflow_flows: [tapflow]
 * store, else the first mongodb datasource; NULL with err when none. */
const tfr_datasource *tfr_config_store(const tfr_config *cfg, tf_error *err);
/* --status-listen HOST:PORT over the config's status_listen (NULL: no-op). */
bool tfr_config_override_status_listen(tfr_config *cfg, const char *listen, tf_error *err);

/* HOME/run/NAME.json, written by tap for each flow it starts:
 * {"pid": N, "status_port": N, "started": ms}. */
typedef struct tfr_run_file {
    long pid;
    uint16_t status_port;
    int64_t started_ms;
} tfr_run_file;

/* bson_free the result. */
char *tfr_run_file_path(const char *home, const char *flow);
/* *found false (true returned) when there is none; a malformed one is an
 * error naming the file. */
bool tfr_run_file_read(const char *home, const char *flow, tfr_run_file *out, bool *found,
                       tf_error *err);
/* Written whole or not at all (temporary file + rename); creates HOME/run. */
bool tfr_run_file_write(const char *home, const char *flow, const tfr_run_file *rf, tf_error *err);

/* ---- log.c ---------------------------------------------------------- */

void tfr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- run.c: the daemon ----------------------------------------------- */

typedef struct tfr_run_options {
    const char *flow_file;
    const char *config_file;
    bool gtid_resume;
    bool resnapshot;
    const char *status_listen; /* --status-listen HOST:PORT, over the config's; NULL = none */
} tfr_run_options;

/* Runs until SIGTERM/SIGINT (returns 0) or a fatal error (logged; 1). */
int tfr_run(const tfr_run_options *opt);

/* ---- status_http.c --------------------------------------------------- */

/* Row changes or document writes of one table or collection, by kind. */
typedef struct tfr_op_counts {
    const char *name;
    uint64_t insert, update, delete;
} tfr_op_counts;

/* Durations in buckets (counts[i]: at most bounds[i] and above bounds[i-1];
 * counts[bound_count]: the rest), for Prometheus' _bucket/_sum/_count. */
typedef struct tfr_histogram {
    const double *bounds;
    size_t bound_count;
    const uint64_t *counts;
    uint64_t total;
    double sum_seconds;
} tfr_histogram;

/* The page's charts: one sample every TFR_HISTORY_INTERVAL_MS, the last
 * TFR_HISTORY_SAMPLES of them (15 minutes). */
#define TFR_HISTORY_INTERVAL_MS 5000
#define TFR_HISTORY_SAMPLES 180

typedef struct tfr_history_sample {
    int64_t at_ms;    /* epoch ms */
    double qps;       /* source row changes per second over the interval */
    int64_t delay_ms; /* the mean delay over the interval */
    uint64_t rows;    /* source row changes applied in this run, at at_ms */
} tfr_history_sample;

typedef struct tfr_history {
    tfr_history_sample samples[TFR_HISTORY_SAMPLES]; /* a ring */
    size_t next, count;
    uint64_t version; /* one more with each sample */
} tfr_history;

/* The sample i places before the newest (0: the newest); i < count. */
const tfr_history_sample *tfr_history_at(const tfr_history *h, size_t i);
void tfr_history_add(tfr_history *h, const tfr_history_sample *s);

/* The shapes of tfr_status.write_cost_ms, as /metrics labels them. */
typedef enum tfr_cost_shape {
    TFR_COST_REPLACE,
    TFR_COST_REPLACE_PER_KB,
    TFR_COST_UPDATE,
    TFR_COST_UPDATE_PER_KB,
    TFR_COST_INSERT,
    TFR_COST_INSERT_PER_KB,
    TFR_COST_UPDATE_MANY,
    TFR_COST_UPDATE_MANY_DOC,
    TFR_COST_SHAPES
} tfr_cost_shape;

typedef struct tfr_status {
    const char *flow;
    const char *state; /* running | snapshot | error | stopped | starting */
    double qps;
    uint64_t total_rows;
    int64_t delay_ms;
    const char *position;
    const char *error;      /* last fatal error or NULL */
    uint64_t snapshot_rows; /* source rows the snapshot read so far (this run) */
    uint64_t documents;     /* document writes acknowledged by the target (this run) */
    /* table re-syncs: the one being read (NULL: none), jobs queued (it
     * included), its progress, and those finished in this run */
    const char *resync_table;
    uint64_t resync_queued, resync_chunks, resync_rows_read, resync_rows_changed;
    uint64_t resync_completed;

    /* "stats" (tap stats, flow.stats()) */
    int64_t now_ms, started_ms;                     /* epoch ms */
    int64_t snapshot_started_ms, snapshot_ended_ms; /* 0: none in this run */
    const tfr_op_counts *input;                     /* source row changes per table (this run) */
    size_t input_count;
    tfr_op_counts output; /* documents written, by kind; name: the collection */
    double qps_average, qps_max, qps_last_5m;

    /* /metrics only */
    const char *version;
    uint64_t transactions;
    tfr_histogram write_latency, checkpoint_latency;
    int64_t checkpoint_acked_ms; /* 0: none acknowledged in this run */
    uint64_t view_rows, view_bytes;
    /* state_dir's file and its resident part (0 without state_dir) */
    uint64_t view_state_file_bytes, view_state_resident_bytes;
    uint64_t resync_rows_read_total, resync_rows_changed_total;
    uint64_t source_reconnects, target_retries;
    uint64_t errors_fatal, errors_resync_read;
    /* the target's write costs the flushes plan with (ms; tfr_cost_shape
     * order), and what they changed */
    bool write_costs_measured;
    double write_cost_ms[TFR_COST_SHAPES];
    uint64_t planned_replaces, planned_positional_keys;

    const tfr_history *history; /* NULL: none */
} tfr_status;

typedef struct tfr_status_server tfr_status_server;
typedef void (*tfr_status_fn)(void *arg, tfr_status *out);

/* Listens on host:port and serves GET /status, /metrics, /history and /
 * from a thread of its own (it answers while the daemon's loop is busy);
 * fn fills the status, called only from tfr_status_server_publish, on the
 * caller's thread. */
tfr_status_server *tfr_status_server_start(const char *host, uint16_t port, tfr_status_fn fn,
                                           void *arg, tf_error *err);
/* What the endpoints answer from now on: fn's status, as JSON (/status),
 * Prometheus text (/metrics), and its history (/history, rendered again
 * only when it has a new sample). */
void tfr_status_server_publish(tfr_status_server *s);
/* Stops the thread and frees everything. */
void tfr_status_server_free(tfr_status_server *s);
/* JSON of a status (free with bson_free). */
char *tfr_status_json(const tfr_status *st);
/* /history: {"interval_ms": 5000, "samples": [{"t", "qps", "delay_ms", "rows"}, ...]}
 * oldest first (bson_free). */
char *tfr_history_json(const tfr_history *h);

/* ---- metrics.c -------------------------------------------------------- */

/* The Prometheus text exposition (format 0.0.4) of a status (bson_free). */
char *tfr_status_metrics(const tfr_status *st);

/* ---- page.c ----------------------------------------------------------- */

/* The live status page at / (HTML, self-contained; it reads /status and
 * /history). */
extern const char tfr_status_page[];

/* `tapflow-replica status NAME`: GET /status from host:port and print the
 * guide's line. Returns the exit code. */
int tfr_status_client(const char *flow, const char *host, uint16_t port);

#endif
