/* daemon_ctl.c — the tapflow-replica processes tap starts.
 *
 * A flow runs as `tapflow-replica --flow HOME/flows/NAME.tap --config CONF
 * --gtid-resume --status-listen 127.0.0.1:PORT`, detached (fork, setsid,
 * exec: no shell), its output in HOME/logs/NAME.log, and HOME/run/NAME.json
 * says where it is. A small supervisor process (the daemon's parent) waits
 * for it and records how it ended in HOME/run/NAME.end and in the log, so
 * that `status` tells this run's end (a signal, an exit code, its own last
 * error) and not an older run's. A run file is trusted only while its pid is alive AND
 * runs tapflow-replica on that flow's file (/proc/PID/cmdline), so a stale
 * file after a reboot never gets an unrelated process signalled. */
#include "daemon.h"
#include "status_client.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_WAIT_MS 30000
#define STOP_WAIT_MS 60000

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static char *flow_file_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/flows/%s.tap", home, flow);
}

/* Whether pid is a tapflow-replica running flow's file. Reaps it first when
 * it is our own child that exited. */
static bool is_our_daemon(const char *home, const char *flow, long pid)
{
    /* supervisors of flows that ended (zombies while tap runs on) */
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char cmdline[8192];
    size_t n = fread(cmdline, 1, sizeof cmdline - 1, f);
    fclose(f);
    if (n == 0)
        return false; /* a zombie: exited */
    cmdline[n] = '\0';
    char *flow_file = flow_file_path(home, flow);
    bool is_replica = strstr(cmdline, "tapflow-replica") != NULL;
    bool has_flow = false;
    for (size_t i = 0; i < n; i += strlen(cmdline + i) + 1)
        if (strcmp(cmdline + i, flow_file) == 0)
            has_flow = true;
    bson_free(flow_file);
    return is_replica && has_flow;
}

static void remove_run_file(const char *home, const char *flow)
{
    char *path = tfr_run_file_path(home, flow);
    unlink(path);
    bson_free(path);
}

bool tap_daemon_running(const char *home, const char *flow, long *pid, uint16_t *port)
{
    if (tap_service_mode(home))
        return tap_service_running(home, flow, pid, port);
    tfr_run_file rf;
    bool found = false;
    tf_error err = {0};
    if (!tfr_run_file_read(home, flow, &rf, &found, &err) || !found)
        return false;
    if (pid)
        *pid = rf.pid;
    if (port)
        *port = rf.status_port;
    return is_our_daemon(home, flow, rf.pid);
}

/* The line tap writes to the log before each run: errors before the last
 * one belong to older runs. */
#define RUN_START_MARK "tap: starting tapflow-replica for flow "

void tap_daemon_last_error(const char *home, const char *flow, char *out, size_t cap)
{
    out[0] = '\0';
    char *path = tap_daemon_log_path(home, flow);
    FILE *f = fopen(path, "r");
    bson_free(path);
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, RUN_START_MARK)) {
            out[0] = '\0';
            continue;
        }
        if (!strstr(line, "error"))
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

/* ---- ports ---- */

static bool port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A port for a new daemon: the first free one of [tapflow] status_ports,
 * else one the kernel picks. */
static bool pick_port(const tfr_config *cfg, uint16_t *out, tf_error *err)
{
    if (cfg->status_port_low) {
        for (unsigned p = cfg->status_port_low; p <= cfg->status_port_high; p++) {
            if (port_free((uint16_t)p)) {
                *out = (uint16_t)p;
                return true;
            }
        }
        tf_error_set(err, TF_ERR_IO, 0, "no free port in status_ports %u-%u of %.200s",
                     cfg->status_port_low, cfg->status_port_high, cfg->file);
        return false;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(fd, (struct sockaddr *)&a, &len) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        tf_error_set(err, TF_ERR_IO, 0, "no free port on 127.0.0.1: %s", strerror(errno));
        return false;
    }
    *out = ntohs(a.sin_port);
    return true;
}

bool tap_port_answers(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ---- spawning ---- */

/* tapflow-replica: env TAPFLOW_REPLICA_BIN, else beside tap in the build
 * tree or an install, else PATH. */
static char *replica_binary(const tap_session *s)
{
    const char *env = getenv("TAPFLOW_REPLICA_BIN");
    if (env && *env)
        return bson_strdup(env);
    const char *candidates[] = {"%s/../tapflow-replica/tapflow-replica", "%s/tapflow-replica"};
    for (size_t i = 0; s->exe_dir && i < 2; i++) {
        char *path = bson_strdup_printf(candidates[i], s->exe_dir);
        if (access(path, X_OK) == 0)
            return path;
        bson_free(path);
    }
    return bson_strdup("tapflow-replica");
}

static bool make_dir(const char *home, const char *sub, tf_error *err)
{
    char *dir = sub ? bson_strdup_printf("%s/%s", home, sub) : bson_strdup(home);
    bool ok = mkdir(dir, 0700) == 0 || errno == EEXIST;
    if (!ok)
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot create %.300s: %s", dir,
                     strerror(errno));
    bson_free(dir);
    return ok;
}

static char *rebuild_marker_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/run/%s.rebuild", home, flow);
}

bool tap_rebuild_mark(const char *home, const char *flow, tf_error *err)
{
    if (!make_dir(home, NULL, err) || !make_dir(home, "run", err))
        return false;
    char *path = rebuild_marker_path(home, flow);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    bool ok = fd >= 0;
    if (!ok)
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot create %.300s: %s", path,
                     strerror(errno));
    else
        close(fd);
    bson_free(path);
    return ok;
}

static bool rebuild_pending(const char *home, const char *flow)
{
    char *path = rebuild_marker_path(home, flow);
    bool pending = access(path, F_OK) == 0;
    bson_free(path);
    return pending;
}

static void rebuild_clear(const char *home, const char *flow)
{
    char *path = rebuild_marker_path(home, flow);
    unlink(path);
    bson_free(path);
}

static char *end_file_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/run/%s.end", home, flow);
}

bool tap_daemon_run_end(const char *home, const char *flow, char *out, size_t cap)
{
    out[0] = '\0';
    char *path = end_file_path(home, flow);
    FILE *f = fopen(path, "r");
    bson_free(path);
    if (!f)
        return false;
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
    return out[0] != '\0';
}

static void utc_now(char *buf, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

/* The supervisor, once the daemon is gone: how it ended, in the end file
 * (read by `status`) and in the log. */
static void record_end(const char *home, const char *flow, int log_fd, pid_t pid, int status)
{
    char what[160];
    if (WIFSIGNALED(status))
        snprintf(what, sizeof what, "tapflow-replica (pid %ld) was killed by signal %d (SIG%s)",
                 (long)pid, WTERMSIG(status),
                 sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
    else
        snprintf(what, sizeof what, "tapflow-replica (pid %ld) exited with code %d", (long)pid,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    char *path = end_file_path(home, flow);
    char *tmp = bson_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f && fprintf(f, "%s\n", what) > 0 && fclose(f) == 0)
        rename(tmp, path);
    else if (f)
        fclose(f);
    bson_free(tmp);
    bson_free(path);
    char when[40];
    utc_now(when, sizeof when);
    dprintf(log_fd, "%s tap: %s\n", when, what);
}

/* A detached process's standard streams: nothing in, the log out (tap's
 * own output may be a pipe its caller reads to the end); other descriptors
 * closed but keep_fd. */
static void detach_streams(int log_fd, int keep_fd)
{
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    for (int fd = 3; fd < 1024; fd++)
        if (fd != keep_fd)
            close(fd);
}

/* In the child: never returns. Errors go to the log, which is stderr. */
static void exec_daemon(const char *binary, char *const argv[], int log_fd)
{
    setsid();
    detach_streams(log_fd, -1);
    signal(SIGPIPE, SIG_DFL);
    execvp(binary, argv);
    dprintf(STDERR_FILENO, "tap: error: cannot run %s: %s\n", binary, strerror(errno));
    _exit(127);
}

bool tap_daemon_verify(tap_session *s, const char *flow, const char *flow_text,
                       char *const *options, size_t option_count, int *exit_code, tf_error *err)
{
    const char *home = s->home;
    if (!make_dir(home, NULL, err) || !make_dir(home, "flows", err))
        return false;
    /* The saved text, as the daemon runs it (the same file start writes). */
    char *flow_file = flow_file_path(home, flow);
    FILE *f = fopen(flow_file, "w");
    if (!f || fputs(flow_text, f) < 0 || fclose(f) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot write %.300s: %s", flow_file,
                     strerror(errno));
        bson_free(flow_file);
        return false;
    }
    char *binary = replica_binary(s);
    char **argv = bson_malloc0((option_count + 7) * sizeof *argv);
    size_t n = 0;
    argv[n++] = binary;
    argv[n++] = "verify";
    argv[n++] = "--flow";
    argv[n++] = flow_file;
    argv[n++] = "--config";
    argv[n++] = s->config_path;
    for (size_t i = 0; i < option_count; i++)
        argv[n++] = options[i];
    fflush(stdout);
    fflush(stderr);
    bool ok = false;
    pid_t pid = fork();
    if (pid == 0) {
        execvp(binary, argv);
        fprintf(stderr, "tap: cannot run %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot run %.300s: %s", binary,
                     strerror(errno));
    } else if (waitpid(pid, &status, 0) < 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "waiting for %.300s: %s", binary,
                     strerror(errno));
    } else {
        *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ok = true;
    }
    bson_free(argv);
    bson_free(binary);
    bson_free(flow_file);
    return ok;
}

bool tap_daemon_spawn(tap_session *s, const char *flow, const char *flow_text, tf_error *err)
{
    const char *home = s->home;
    if (!make_dir(home, NULL, err) || !make_dir(home, "flows", err) ||
        !make_dir(home, "logs", err) || !make_dir(home, "run", err))
        return false;
    char *flow_file = flow_file_path(home, flow);
    char *log_file = tap_daemon_log_path(home, flow);
    char *binary = replica_binary(s);
    char config_abs[PATH_MAX];
    char listen[40];
    uint16_t port = 0;
    bool ok = false;
    int log_fd = -1;
    FILE *f = fopen(flow_file, "w");
    if (!f || fputs(flow_text, f) < 0 || fclose(f) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot write %.300s: %s", flow_file,
                     strerror(errno));
        f = NULL;
        goto done;
    }
    if (!realpath(s->config_path, config_abs)) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "%.300s: %s", s->config_path,
                     strerror(errno));
        goto done;
    }
    if (!pick_port(s->cfg, &port, err))
        goto done;
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    if (tap_service_mode(home)) {
        bool rebuild = rebuild_pending(home, flow);
        ok = tap_service_start(s, flow, port, rebuild, err);
        if (ok && rebuild)
            rebuild_clear(home, flow);
        goto done;
    }
    log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot open %.300s: %s", log_file,
                     strerror(errno));
        goto done;
    }
    /* A flow changed since its documents were built (or reset) starts over;
     * otherwise it resumes from its checkpoint (or snapshots without one). */
    bool rebuild = rebuild_pending(home, flow);
    char *const argv[] = {binary,
                          "--flow",
                          flow_file,
                          "--config",
                          config_abs,
                          rebuild ? "--resnapshot" : "--gtid-resume",
                          "--status-listen",
                          listen,
                          NULL};
    char when[40];
    utc_now(when, sizeof when);
    dprintf(log_fd, "%s " RUN_START_MARK "%s (%s)\n", when, flow,
            rebuild ? "--resnapshot" : "--gtid-resume");
    char *end_path = end_file_path(home, flow);
    unlink(end_path);
    bson_free(end_path);
    /* tap -> supervisor -> daemon: the supervisor tells the daemon's pid
     * through a pipe, then waits for it (see record_end). */
    int pid_pipe[2];
    if (pipe2(pid_pipe, O_CLOEXEC) != 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "pipe: %s", strerror(errno));
        goto done;
    }
    fflush(NULL);
    pid_t supervisor = fork();
    if (supervisor < 0) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "fork: %s", strerror(errno));
        close(pid_pipe[0]);
        close(pid_pipe[1]);
        goto done;
    }
    if (supervisor == 0) {
        setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        pid_t daemon_pid = fork();
        if (daemon_pid == 0)
            exec_daemon(binary, argv, log_fd);
        ssize_t w = write(pid_pipe[1], &daemon_pid, sizeof daemon_pid);
        (void)w;
        close(pid_pipe[1]);
        if (daemon_pid < 0)
            _exit(1);
        detach_streams(log_fd, log_fd);
        int status = 0;
        while (waitpid(daemon_pid, &status, 0) < 0 && errno == EINTR)
            ;
        record_end(home, flow, log_fd, daemon_pid, status);
        _exit(0);
    }
    close(pid_pipe[1]);
    pid_t pid = -1;
    ssize_t got = read(pid_pipe[0], &pid, sizeof pid);
    close(pid_pipe[0]);
    if (got != (ssize_t)sizeof pid || pid < 0) {
        tf_error_set(err, TF_ERR_IO, 0, "flow %.100s: could not start tapflow-replica", flow);
        waitpid(supervisor, NULL, 0);
        goto done;
    }
    tfr_run_file rf = {.pid = pid, .status_port = port, .started_ms = now_ms()};
    if (!tfr_run_file_write(home, flow, &rf, err)) {
        kill(pid, SIGTERM);
        goto done;
    }
    for (int64_t waited = 0; waited < START_WAIT_MS; waited += 50) {
        if (tap_port_answers(port)) {
            ok = true;
            if (rebuild)
                rebuild_clear(home, flow);
            goto done;
        }
        if (waitpid(supervisor, NULL, WNOHANG) == supervisor) {
            char why[400];
            tap_daemon_last_error(home, flow, why, sizeof why);
            tf_error_set(err, TF_ERR_IO, 0, "flow %.100s did not start: %.300s (log: %.200s)", flow,
                         why[0] ? why : "tapflow-replica exited", log_file);
            remove_run_file(home, flow);
            goto done;
        }
        sleep_ms(50);
    }
    tf_error_set(err, TF_ERR_IO, 0,
                 "flow %.100s: tapflow-replica (pid %ld) has no status endpoint on %s after %d s "
                 "(log: %.200s)",
                 flow, (long)pid, listen, START_WAIT_MS / 1000, log_file);
done:
    if (log_fd >= 0)
        close(log_fd);
    bson_free(binary);
    bson_free(log_file);
    bson_free(flow_file);
    return ok;
}

bool tap_daemon_stop(const char *home, const char *flow, bool *was_running, tf_error *err)
{
    if (tap_service_mode(home))
        return tap_service_stop(home, flow, was_running, err);
    long pid = 0;
    *was_running = tap_daemon_running(home, flow, &pid, NULL);
    if (!*was_running) {
        remove_run_file(home, flow);
        return true;
    }
    if (kill((pid_t)pid, SIGTERM) != 0 && errno != ESRCH) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot signal flow %.100s (pid %ld): %s",
                     flow, pid, strerror(errno));
        return false;
    }
    for (int64_t waited = 0; waited < STOP_WAIT_MS; waited += 50) {
        if (!is_our_daemon(home, flow, pid)) {
            remove_run_file(home, flow);
            return true;
        }
        sleep_ms(50);
    }
    tf_error_set(err, TF_ERR_IO, 0, "flow %.100s (pid %ld) did not stop within %d s", flow, pid,
                 STOP_WAIT_MS / 1000);
    return false;
}

/* ---- the status endpoint ---- */

bool tap_daemon_status_body(const char *home, const char *flow, char **body)
{
    *body = NULL;
    uint16_t port = 0;
    if (!tap_daemon_running(home, flow, NULL, &port))
        return false;
    *body = tfr_status_get("127.0.0.1", port, NULL, 0);
    return true;
}

char *tap_daemon_log_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/logs/%s.log", home, flow);
}

bool tap_daemon_query(const char *home, const char *flow, tap_daemon_status *out)
{
    memset(out, 0, sizeof *out);
    char *body = NULL;
    if (!tap_daemon_status_body(home, flow, &body))
        return false;
    bson_t doc;
    bson_error_t error;
    bool parsed = body && bson_init_from_json(&doc, body, -1, &error);
    bson_free(body);
    if (!parsed) {
        snprintf(out->state, sizeof out->state, "starting");
        return true;
    }
    bson_iter_t it;
    snprintf(out->state, sizeof out->state, "%s",
             bson_iter_init_find(&it, &doc, "status") && BSON_ITER_HOLDS_UTF8(&it)
                 ? bson_iter_utf8(&it, NULL)
                 : "starting");
    if (bson_iter_init_find(&it, &doc, "qps") && BSON_ITER_HOLDS_NUMBER(&it))
        out->qps = bson_iter_as_double(&it);
    if (bson_iter_init_find(&it, &doc, "total_rows") && BSON_ITER_HOLDS_NUMBER(&it))
        out->total_rows = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, &doc, "delay_ms") && BSON_ITER_HOLDS_NUMBER(&it))
        out->delay_ms = bson_iter_as_int64(&it);
    if (bson_iter_init_find(&it, &doc, "error") && BSON_ITER_HOLDS_UTF8(&it))
        snprintf(out->error, sizeof out->error, "%s", bson_iter_utf8(&it, NULL));
    bson_destroy(&doc);
    return true;
}
