/* service.c — flows run as the systemd unit tapflow-flow@NAME.service.
 *
 * With the package installed on a machine systemd runs, a flow of the
 * services' home (TAP_SERVICE_STATE_DIR, /var/lib/tapflow) is the unit's
 * job: systemd restarts it after a crash (from its checkpoint) and at boot
 * when enabled, and its output goes to the journal. tap writes what the unit
 * reads — the flow file HOME/flows/NAME.tap and HOME/run/NAME.env (the status
 * endpoint's address, and --resnapshot for the first start after `reset`) —
 * and drives the unit with systemctl and its journal with journalctl.
 * Anywhere else flows stay detached processes (daemon_ctl.c).
 * TAPFLOW_SERVICE_MODE=systemd|detached overrides the detection (tests run
 * systemd mode against a stand-in systemctl where systemd is not PID 1). */
#include "daemon.h"
#include "tap.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SERVICE_START_WAIT_MS 30000

static bool same_path(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

bool tap_service_mode(const char *home)
{
    const char *mode = getenv("TAPFLOW_SERVICE_MODE");
    if (mode && strcmp(mode, "systemd") == 0)
        return true;
    if (mode && strcmp(mode, "detached") == 0)
        return false;
    /* /run/systemd/system exists only when systemd is PID 1 (sd_booted). */
    struct stat st;
    return access(TAP_FLOW_UNIT_FILE, F_OK) == 0 && stat("/run/systemd/system", &st) == 0 &&
           S_ISDIR(st.st_mode) && same_path(home, TAP_SERVICE_STATE_DIR);
}

static void unit_name(const char *flow, char *out, size_t cap)
{
    snprintf(out, cap, "tapflow-flow@%s.service", flow);
}

/* Runs argv (PATH lookup, no shell); its stdout in out (NUL-terminated,
 * may be NULL), stderr inherited. Returns its exit status, -1 when it
 * could not run. */
static int run_tool(char *const argv[], char *out, size_t cap)
{
    int fds[2];
    if (out && pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (out) {
            dup2(fds[1], STDOUT_FILENO);
            close(fds[0]);
            close(fds[1]);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "tap: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    size_t len = 0;
    if (out) {
        close(fds[1]);
        ssize_t n;
        while (pid > 0 && len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
            len += (size_t)n;
        close(fds[0]);
        out[len] = '\0';
    }
    if (pid < 0)
        return -1;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int systemctl(const char *verb, const char *unit, char *out, size_t cap)
{
    char *const argv[] = {"systemctl", (char *)verb, (char *)unit, NULL};
    return run_tool(argv, out, cap);
}

static char *env_file_path(const char *home, const char *flow)
{
    return bson_strdup_printf("%s/run/%s.env", home, flow);
}

/* The unit's environment file: the status address and how to start. */
static bool write_env_file(const char *home, const char *flow, uint16_t port, bool rebuild,
                           tf_error *err)
{
    char *path = env_file_path(home, flow);
    char *tmp = bson_strdup_printf("%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    bool ok = f && fprintf(f,
                           "# written by tap start: read by %s's unit\n"
                           "TAPFLOW_STATUS_LISTEN=127.0.0.1:%u\nTAPFLOW_FLOW_START=%s\n",
                           flow, port, rebuild ? "--resnapshot" : "--gtid-resume") > 0;
    if (f && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok)
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "cannot write %.300s: %s", path,
                     strerror(errno));
    bson_free(tmp);
    bson_free(path);
    return ok;
}

/* The port of HOME/run/NAME.env, 0 when there is none. */
static uint16_t env_file_port(const char *home, const char *flow)
{
    char *path = env_file_path(home, flow);
    FILE *f = fopen(path, "r");
    bson_free(path);
    if (!f)
        return 0;
    char line[256];
    unsigned port = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "TAPFLOW_STATUS_LISTEN=127.0.0.1:%u", &port) == 1)
            break;
    fclose(f);
    return port <= 65535 ? (uint16_t)port : 0;
}

bool tap_service_running(const char *home, const char *flow, long *pid, uint16_t *port)
{
    char unit[160], out[64];
    unit_name(flow, unit, sizeof unit);
    char *const argv[] = {"systemctl", "show", "--property=MainPID", "--value", unit, NULL};
    if (run_tool(argv, out, sizeof out) != 0)
        return false;
    long main_pid = strtol(out, NULL, 10);
    if (main_pid <= 0)
        return false; /* inactive, failed, or waiting to restart */
    if (pid)
        *pid = main_pid;
    if (port)
        *port = env_file_port(home, flow);
    return true;
}

bool tap_service_start(tap_session *s, const char *flow, uint16_t port, bool rebuild, tf_error *err)
{
    if (!same_path(s->home, TAP_SERVICE_STATE_DIR) ||
        !same_path(s->config_path, TAP_SERVICE_CONFIG_FILE)) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "flow %.100s: its unit runs flows of %s with %s, and tap uses home %.200s "
                     "with %.200s (use that config, whose home is %s, or "
                     "TAPFLOW_SERVICE_MODE=detached)",
                     flow, TAP_SERVICE_STATE_DIR, TAP_SERVICE_CONFIG_FILE, s->home, s->config_path,
                     TAP_SERVICE_STATE_DIR);
        return false;
    }
    /* The unit runs as user tapflow: the flow file tap (root) wrote must be
     * readable whatever tap's umask was (it holds no secret). */
    char *flow_file = bson_strdup_printf("%s/flows/%s.tap", s->home, flow);
    int chmod_rc = chmod(flow_file, 0644);
    int chmod_errno = errno;
    if (chmod_rc != 0)
        tf_error_set(err, TF_ERR_IO, (uint32_t)chmod_errno, "cannot chmod %.300s: %s", flow_file,
                     strerror(chmod_errno));
    bson_free(flow_file);
    if (chmod_rc != 0 || !write_env_file(s->home, flow, port, rebuild, err))
        return false;
    char unit[160];
    unit_name(flow, unit, sizeof unit);
    /* A unit that failed too often refuses to start until reset. */
    systemctl("reset-failed", unit, NULL, 0);
    if (systemctl("start", unit, NULL, 0) != 0) {
        tf_error_set(err, TF_ERR_IO, 0, "flow %.100s: systemctl start %s failed (tap logs %.100s)",
                     flow, unit, flow);
        return false;
    }
    for (int waited = 0; waited < SERVICE_START_WAIT_MS; waited += 50) {
        if (tap_port_answers(port)) {
            /* The run file tells `tapflow-replica status NAME` the port. */
            long pid = 0;
            tap_service_running(s->home, flow, &pid, NULL);
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            tfr_run_file rf = {.pid = pid,
                               .status_port = port,
                               .started_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000};
            /* Later restarts resume from the new checkpoint. */
            return tfr_run_file_write(s->home, flow, &rf, err) &&
                   (!rebuild || write_env_file(s->home, flow, port, false, err));
        }
        /* Exited: "auto-restart" (waiting to try again), "failed" or "dead". */
        char sub_state[64];
        char *const show[] = {"systemctl", "show", "--property=SubState", "--value", unit, NULL};
        if (run_tool(show, sub_state, sizeof sub_state) == 0 && strcspn(sub_state, "\n") > 0 &&
            strncmp(sub_state, "running", 7) != 0 && strncmp(sub_state, "start", 5) != 0) {
            sub_state[strcspn(sub_state, "\n")] = '\0';
            tf_error_set(err, TF_ERR_IO, 0, "flow %.100s did not start: %s is %s (tap logs %.100s)",
                         flow, unit, sub_state, flow);
            return false;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    tf_error_set(err, TF_ERR_IO, 0,
                 "flow %.100s: %s has no status endpoint on 127.0.0.1:%u after %d s (tap logs "
                 "%.100s)",
                 flow, unit, port, SERVICE_START_WAIT_MS / 1000, flow);
    return false;
}

bool tap_service_ended_badly(const char *flow, char *why, size_t cap)
{
    char unit[160], sub_state[64];
    unit_name(flow, unit, sizeof unit);
    char *const show[] = {"systemctl", "show", "--property=SubState", "--value", unit, NULL};
    why[0] = '\0';
    if (run_tool(show, sub_state, sizeof sub_state) != 0)
        return false;
    sub_state[strcspn(sub_state, "\n")] = '\0';
    if (strcmp(sub_state, "auto-restart") == 0)
        snprintf(why, cap, "%s exited with an error; systemd starts it again (tap logs %s)", unit,
                 flow);
    else if (strcmp(sub_state, "failed") == 0)
        snprintf(why, cap, "%s failed and systemd gave up restarting it (tap logs %s)", unit, flow);
    return why[0] != '\0';
}

bool tap_service_stop(const char *home, const char *flow, bool *was_running, tf_error *err)
{
    char unit[160];
    unit_name(flow, unit, sizeof unit);
    *was_running = tap_service_running(home, flow, NULL, NULL);
    /* systemd sends SIGTERM and waits for the checkpoint (TimeoutStopSec). */
    if (systemctl("stop", unit, NULL, 0) != 0)
        return tf_error_set(err, TF_ERR_IO, 0, "flow %.100s: systemctl stop %s failed", flow, unit),
               false;
    char *run_file = tfr_run_file_path(home, flow);
    unlink(run_file);
    bson_free(run_file);
    return true;
}

/* Flushed line by line: a follow may be read through a pipe. */
static void print_line(void *arg, const char *line)
{
    (void)arg;
    printf("%s\n", line);
    fflush(stdout);
}

static void push_line(void *arg, const char *line) { tap_line_ring_push(arg, line); }

/* journalctl's lines of the unit through the level filter of log_lines.c:
 * the last opts->limit of them, or with follow every new one until Ctrl-C. */
static bool scan_journal(const char *unit, const tap_logs_options *opts, bool follow, tf_error *err)
{
    int fds[2];
    if (pipe(fds) != 0)
        return tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "pipe: %s", strerror(errno)), false;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        char *const argv[] = {"journalctl",
                              "--unit",
                              (char *)unit,
                              "--output=cat",
                              "--no-pager",
                              "--quiet",
                              follow ? "--follow" : NULL,
                              follow ? "--lines=0" : NULL,
                              NULL};
        execvp(argv[0], argv);
        fprintf(stderr, "tap: cannot run journalctl: %s\n", strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return tf_error_set(err, TF_ERR_IO, (uint32_t)errno, "fork: %s", strerror(errno)), false;
    }
    FILE *in = fdopen(fds[0], "r");
    tap_line_ring last;
    tap_line_ring_init(&last, (size_t)opts->limit);
    /* Ctrl-C ends a follow: it reaches journalctl (same process group, the
     * default action since it was forked first), whose output then ends;
     * tap itself ignores it meanwhile and carries on. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_int;
    if (follow)
        sigaction(SIGINT, &ignore, &old_int);
    if (in)
        tap_log_scan(in, opts->level, follow ? print_line : push_line,
                     follow ? NULL : (void *)&last);
    for (size_t i = 0; i < last.count; i++)
        print_line(NULL, tap_line_ring_get(&last, i));
    tap_line_ring_cleanup(&last);
    fflush(stdout);
    if (in)
        fclose(in);
    else
        close(fds[0]);
    kill(pid, SIGTERM);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (follow)
        sigaction(SIGINT, &old_int, NULL);
    if (!follow && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return tf_error_set(err, TF_ERR_IO, 0, "journalctl --unit %s failed", unit), false;
    return true;
}

bool tap_service_logs(const char *flow, const tap_logs_options *opts, tf_error *err)
{
    char unit[160];
    unit_name(flow, unit, sizeof unit);
    if (!scan_journal(unit, opts, false, err))
        return false;
    return !opts->follow || scan_journal(unit, opts, true, err);
}
