/* observe.c — watching a running flow: `stats NAME`, `logs NAME` and
 * `monitor NAME`.
 *
 * stats and monitor read the daemon's GET /status (its port from
 * HOME/run/NAME.json, see daemon_ctl.c) and print it through flow_stats.c;
 * logs reads HOME/logs/NAME.log, the file tap's detached daemons write.
 * `logs --follow` and `monitor` run until interrupted: SIGINT (Ctrl-C) or
 * SIGTERM ends them cleanly (a key press too, for monitor), the terminal
 * restored, and the shell goes on. */
#include "daemon.h"
#include "tap.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define FOLLOW_POLL_MS 200
#define MONITOR_REFRESH_MS 1000

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Set by SIGINT/SIGTERM while a follow or a monitor runs. A signal handler
 * can only reach a global; it is the one mutable global of tap. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct saved_signals {
    struct sigaction int_action, term_action;
} saved_signals;

/* No SA_RESTART: the sleep or poll under way returns at once. */
static void catch_interrupts(saved_signals *saved)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &saved->int_action);
    sigaction(SIGTERM, &sa, &saved->term_action);
}

static void restore_signals(const saved_signals *saved)
{
    sigaction(SIGINT, &saved->int_action, NULL);
    sigaction(SIGTERM, &saved->term_action, NULL);
    interrupted = 0;
}

static bool not_running(const char *name, tf_error *err)
{
    tf_error_set(err, TF_ERR_CONFIG, 0,
                 "flow %.100s is not running (start %.100s runs it; status %.100s tells how it "
                 "ended)",
                 name, name, name);
    return false;
}

/* ---- stats ---- */

bool tap_flow_stats_show(tap_session *s, const char *name, bool json, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    char *body = NULL;
    if (!tap_daemon_status_body(s->home, name, &body))
        return not_running(name, err);
    /* a daemon whose endpoint does not answer yet is starting */
    const char *status = body ? body : "{\"status\": \"starting\"}";
    char why[300];
    bool ok = true;
    if (json) {
        char *out = tap_flow_stats_json(name, status, why, sizeof why);
        if (out)
            printf("%s\n", out);
        ok = out != NULL;
        bson_free(out);
    } else {
        tap_flow_stats st;
        tap_flow_stats_init(&st);
        ok = tap_flow_stats_parse(status, &st, why, sizeof why);
        if (ok)
            tap_flow_stats_print(stdout, name, &st, now_ms());
        tap_flow_stats_cleanup(&st);
    }
    bson_free(body);
    if (!ok)
        tf_error_set(err, TF_ERR_IO, 0, "flow %.100s: %s", name, why);
    fflush(stdout);
    return ok;
}

/* ---- logs ---- */

static void push_line(void *arg, const char *line) { tap_line_ring_push(arg, line); }

static void print_line(void *arg, const char *line)
{
    (void)arg;
    fputs(line, stdout);
    fputc('\n', stdout);
}

/* Whether the file at path is no longer the one f reads (rotated) or is
 * shorter than where f is (truncated): then f is reopened from the start. */
static FILE *reopen_if_replaced(FILE *f, const char *path)
{
    struct stat at_path, open_one;
    if (stat(path, &at_path) != 0 || fstat(fileno(f), &open_one) != 0)
        return f;
    bool replaced = at_path.st_ino != open_one.st_ino || at_path.st_dev != open_one.st_dev;
    if (!replaced && at_path.st_size >= ftello(f))
        return f;
    FILE *again = fopen(path, "r");
    if (!again)
        return f;
    fclose(f);
    return again;
}

static void follow(FILE **f, const char *path, tap_log_level level)
{
    saved_signals saved;
    catch_interrupts(&saved);
    while (!interrupted && !ferror(stdout)) {
        clearerr(*f);
        tap_log_scan(*f, level, print_line, NULL);
        fflush(stdout);
        *f = reopen_if_replaced(*f, path);
        struct timespec ts = {0, FOLLOW_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    restore_signals(&saved);
}

bool tap_flow_logs(tap_session *s, const char *name, const tap_logs_options *opts, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    if (tap_service_mode(s->home))
        return tap_service_logs(name, opts, err);
    char *path = tap_daemon_log_path(s->home, name);
    FILE *f = fopen(path, "r");
    if (!f) {
        tf_error_set(err, TF_ERR_IO, (uint32_t)errno,
                     "flow %.100s has no log (%.300s: %s): tap writes it when the flow starts",
                     name, path, strerror(errno));
        bson_free(path);
        return false;
    }
    tap_line_ring last;
    tap_line_ring_init(&last, (size_t)opts->limit);
    tap_log_scan(f, opts->level, push_line, &last);
    for (size_t i = 0; i < last.count; i++)
        print_line(NULL, tap_line_ring_get(&last, i));
    tap_line_ring_cleanup(&last);
    fflush(stdout);
    if (opts->follow)
        follow(&f, path, opts->level);
    fclose(f);
    bson_free(path);
    return true;
}

/* ---- monitor ---- */

/* Draws one frame: the screen cleared first when interactive, the whole
 * frame written at once (no flicker). */
static void draw_frame(tap_session *s, const char *name, bool interactive)
{
    char *body = NULL;
    bool running = tap_daemon_status_body(s->home, name, &body);
    tap_flow_stats st;
    tap_flow_stats_init(&st);
    char why[300];
    if (running &&
        !tap_flow_stats_parse(body ? body : "{\"status\": \"starting\"}", &st, why, sizeof why))
        snprintf(st.error, sizeof st.error, "%s", why);
    char *frame = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&frame, &len);
    if (m) {
        if (interactive)
            fputs("\033[H\033[2J", m);
        tap_monitor_frame(m, name, &st, running, now_ms(), interactive);
        fclose(m);
        fwrite(frame, 1, len, stdout);
        fflush(stdout);
        free(frame);
    }
    tap_flow_stats_cleanup(&st);
    bson_free(body);
}

bool tap_flow_monitor(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    if (!tap_daemon_running(s->home, name, NULL, NULL))
        return not_running(name, err);
    struct termios cooked;
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &cooked) != 0) {
        draw_frame(s, name, false); /* no terminal to wait for a key on */
        return true;
    }
    /* Keys arrive one at a time, unechoed; Ctrl-C still signals. */
    struct termios raw = cooked;
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    saved_signals saved;
    catch_interrupts(&saved);
    tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    fputs("\033[?25l", stdout); /* hide the cursor */
    while (!interrupted) {
        draw_frame(s, name, true);
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&p, 1, MONITOR_REFRESH_MS);
        if (r > 0) {
            char keys[64];
            ssize_t n = read(STDIN_FILENO, keys, sizeof keys);
            (void)n;
            break; /* a key, or the terminal gone */
        }
        if (r < 0 && errno != EINTR)
            break;
    }
    fputs("\033[?25h\n", stdout);
    fflush(stdout);
    tcsetattr(STDIN_FILENO, TCSANOW, &cooked);
    restore_signals(&saved);
    return true;
}
