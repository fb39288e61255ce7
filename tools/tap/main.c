/* main.c — tap, the Tap Shell: the guide's flow language and shell
 * commands, typed at a prompt (libedit, history) or run from a script.
 *
 *   tap [--config FILE] [-q] [-f FILE | -c TEXT]
 *
 * Script mode stops at the first failing command with one line
 * `tap: FILE:LINE: message` on stderr and exit status 1. The prompt
 * prints `error: message` and goes on. */
#include "daemon.h"
#include "sink.h"
#include "tap.h"
#include "view.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: tap [--config FILE] [-q] [-f FILE | -c TEXT]\n"
          "\n"
          "The Tap Shell. Without -f or -c: a prompt with line editing and history\n"
          "(HOME/history). -f FILE (- = stdin) or -c TEXT runs a script and stops at\n"
          "the first failing command (exit 1, one line `tap: FILE:LINE: message`).\n"
          "\n"
          "  --config FILE  datasources and settings (default: env TAPFLOW_CONFIG,\n"
          "                 else ~/.tapflow/tapflow.conf)\n"
          "  -q             no \"Flow updated/saved/started/stopped\" lines\n"
          "\n"
          "Type `help` at the prompt for the commands. --version prints the release and\n"
          "the git revision.\n",
          f);
}

bool tap_config(tap_session *s, tf_error *err)
{
    if (s->cfg_current)
        return true;
    if (!s->cfg)
        s->cfg = bson_malloc0(sizeof *s->cfg);
    else
        tfr_config_cleanup(s->cfg);
    if (access(s->config_path, F_OK) != 0 && errno == ENOENT) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no config file %.300s: add datasources with `datasource add NAME "
                     "type=...`, or give --config FILE",
                     s->config_path);
        return false;
    }
    if (!tfr_config_load(s->config_path, s->cfg, err))
        return false;
    bson_free(s->home);
    s->home = tfr_config_home(s->cfg);
    s->cfg_current = true;
    return true;
}

/* ---- reading inputs ---- */

typedef struct script {
    char **lines;
    size_t count;
} script;

static bool load_script(const char *file, const char *text, script *out)
{
    memset(out, 0, sizeof *out);
    bson_string_t *all = bson_string_new(text ? text : "");
    if (!text) {
        FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
        if (!f) {
            fprintf(stderr, "tap: %s: %s\n", file, strerror(errno));
            bson_string_free(all, true);
            return false;
        }
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0) {
            buf[n] = '\0';
            bson_string_append(all, buf);
        }
        if (f != stdin)
            fclose(f);
    }
    size_t cap = 0;
    char *p = all->str;
    for (;;) {
        char *nl = strchr(p, '\n');
        if (!nl && !*p)
            break;
        if (nl)
            *nl = '\0';
        if (out->count == cap) {
            cap = cap ? cap * 2 : 64;
            out->lines = bson_realloc(out->lines, cap * sizeof *out->lines);
        }
        out->lines[out->count++] = bson_strdup(p);
        if (!nl)
            break;
        p = nl + 1;
    }
    bson_string_free(all, true);
    return true;
}

static void free_script(script *sc)
{
    for (size_t i = 0; i < sc->count; i++)
        bson_free(sc->lines[i]);
    bson_free(sc->lines);
}

static bool blank_or_comment(const char *line)
{
    line += strspn(line, " \t\r");
    return !*line || *line == '#';
}

/* ---- running one input ---- */

/* Runs text; false (with the error printed as the mode wants) on failure. */
static bool run_input(tap_session *s, const char *text, const char *file, unsigned line,
                      bool script_mode, bool *exit_requested)
{
    tap_command cmd;
    char why[TF_ERROR_MESSAGE_MAX];
    tf_error err = {0};
    bool ok;
    s->cfg_current = false;
    if (!tap_command_parse(text, &cmd, why, sizeof why)) {
        snprintf(err.message, sizeof err.message, "%s", why);
        ok = false;
    } else {
        ok = tap_dispatch(s, &cmd, text, file, line, exit_requested, &err);
        tap_command_cleanup(&cmd);
    }
    fflush(stdout);
    if (ok)
        return true;
    size_t file_len = strlen(file);
    bool positioned = strncmp(err.message, file, file_len) == 0 && err.message[file_len] == ':';
    if (script_mode && positioned)
        fprintf(stderr, "tap: %s\n", err.message);
    else if (script_mode)
        fprintf(stderr, "tap: %s:%u: %s\n", file, line, err.message);
    else if (positioned)
        fprintf(stderr, "error: at %s\n", err.message + file_len + 1);
    else
        fprintf(stderr, "error: %s\n", err.message);
    return false;
}

static int run_script(tap_session *s, const char *file, const char *text)
{
    script sc;
    if (!load_script(file, text, &sc))
        return 1;
    const char *name = text ? "-c" : strcmp(file, "-") == 0 ? "<stdin>" : file;
    int rc = 0;
    bool exit_requested = false;
    for (size_t i = 0; i < sc.count && rc == 0 && !exit_requested; i++) {
        if (blank_or_comment(sc.lines[i]))
            continue;
        unsigned first = (unsigned)i + 1;
        bson_string_t *buf = bson_string_new(sc.lines[i]);
        if (tap_input_is_flow(buf->str)) {
            for (;;) {
                while (!tap_input_complete(buf->str) && i + 1 < sc.count) {
                    bson_string_append_printf(buf, "\n%s", sc.lines[++i]);
                }
                /* A following line starting with '.' continues the chain. */
                size_t j = i + 1;
                while (j < sc.count && blank_or_comment(sc.lines[j]))
                    j++;
                if (j >= sc.count || sc.lines[j][strspn(sc.lines[j], " \t")] != '.')
                    break;
                while (i < j)
                    bson_string_append_printf(buf, "\n%s", sc.lines[++i]);
            }
        }
        if (!run_input(s, buf->str, name, first, true, &exit_requested))
            rc = 1;
        bson_string_free(buf, true);
    }
    free_script(&sc);
    return rc;
}

/* One line from the prompt (libedit) or, without a terminal, from stdin. */
static char *read_line(tap_line_input *li, const char *prompt)
{
    if (li)
        return tap_line_input_read(li, prompt);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n > 0 && line[n - 1] == '\n')
        line[n - 1] = '\0';
    return line;
}

static int run_interactive(tap_session *s)
{
    bool tty = isatty(STDIN_FILENO);
    tap_line_input *li = tty ? tap_line_input_open(s->home) : NULL;
    if (tty)
        printf("Tap Shell (tapflow). Type help for the commands, exit to leave.\n");
    bool exit_requested = false;
    unsigned line_no = 0;
    while (!exit_requested) {
        char *line = read_line(li, "tap> ");
        if (!line)
            break;
        line_no++;
        bson_string_t *buf = bson_string_new(line);
        free(line);
        bool eof = false;
        while (!tap_input_complete(buf->str)) {
            char *more = read_line(li, "...> ");
            if (!more) {
                eof = true;
                break;
            }
            line_no++;
            bson_string_append_printf(buf, "\n%s", more);
            free(more);
        }
        if (li && !blank_or_comment(buf->str))
            tap_line_input_remember(li, buf->str);
        if (!eof || !blank_or_comment(buf->str))
            run_input(s, buf->str, "input", 1, false, &exit_requested);
        bson_string_free(buf, true);
        if (eof)
            break;
    }
    if (tty && !exit_requested)
        putchar('\n');
    tap_line_input_close(li);
    return 0;
}

static char *exe_dir(void)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return bson_strdup(dirname(path));
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("tap %s\n", tf_version());
        return 0;
    }
    const char *config = NULL, *file = NULL, *text = NULL;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc && !text) {
            file = argv[++i];
        } else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && !file) {
            text = argv[++i];
        } else if (strcmp(argv[i], "-q") == 0) {
            quiet = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr,
                    "tap: unknown or incomplete option %s (-f and -c exclude each other)\n\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    tf_admin_quiet_driver_log();
    tap_session s = {0};
    char default_path[4096];
    s.config_path =
        bson_strdup(config ? config : tfr_config_default_path(default_path, sizeof default_path));
    s.quiet = quiet;
    s.builder = tf_flow_builder_new();
    s.exe_dir = exe_dir();
    tf_error ignored = {0};
    if (!tap_config(&s, &ignored)) {
        bson_free(s.home);
        s.home = tfr_config_home(NULL); /* no usable config yet: the default home */
    }
    int rc = file || text ? run_script(&s, file, text) : run_interactive(&s);
    if (s.cfg) {
        tfr_config_cleanup(s.cfg);
        bson_free(s.cfg);
    }
    tf_flow_builder_destroy(s.builder);
    bson_free(s.config_path);
    bson_free(s.home);
    bson_free(s.current);
    bson_free(s.exe_dir);
    return rc;
}
