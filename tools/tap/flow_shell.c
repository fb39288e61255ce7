/* flow_shell.c — flow statements typed at the shell, and the saved flows.
 *
 * view/'s flow builder parses each statement and reports each call here:
 * read_from / lookup / write_to (and the operators filter, include,
 * exclude, rename_fields) print the guide's "Flow updated: ..." lines;
 * save() checks the flow against the source's tables when it uses
 * operators (flow_check.c) and writes it (as flow text, the daemon's
 * input) to the registry collection tapflow_flows of the store datasource;
 * start(), stop() and status() act on the saved flow of that name. */
#include "daemon.h"
#include "flow_check.h"
#include "sink.h"
#include "tap.h"
#include "view.h"

#include <ctype.h>
#include <string.h>

static void say(const tap_session *s, const char *fmt, const char *arg)
{
    if (s->quiet)
        return;
    printf(fmt, arg);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Flow names become file names (HOME/flows/NAME.tap). */
bool tap_flow_name_valid(const char *name, tf_error *err)
{
    bool ok = name && name[0] && name[0] != '.' && strlen(name) <= 100;
    for (const char *p = name; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.';
    if (!ok)
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "flow name \"%.100s\": use letters, digits, '_', '-' and '.' (at most 100, "
                     "not starting with '.')",
                     name ? name : "");
    return ok;
}

/* The registry: the store datasource's database. */
static tf_admin *open_store(tap_session *s, const char **db, tf_error *err)
{
    if (!tap_config(s, err))
        return NULL;
    const tfr_datasource *ds = tfr_config_store(s->cfg, err);
    if (!ds)
        return NULL;
    *db = ds->database;
    return tf_admin_open(ds->uri, 5000, err);
}

static bool get_saved(tap_session *s, const char *name, tf_flow_record *rec, bool *found,
                      tf_error *err)
{
    const char *db;
    tf_admin *admin = open_store(s, &db, err);
    if (!admin)
        return false;
    bool ok = tf_admin_flow_get(admin, db, name, rec, found, err);
    tf_admin_destroy(admin);
    return ok;
}

/* What the next start of a flow saved over old_text will do. */
static bool say_edit(tap_session *s, const tf_flow_spec *spec, const char *old_text, tf_error *err)
{
    tf_flow_spec *old_spec = NULL;
    tf_error ignored = {0};
    tf_flow_edit plan = {.rebuild = true};
    if (old_text &&
        tf_flow_parse(old_text, strlen(old_text), "saved flow", &old_spec, &ignored) == TF_OK)
        tf_flow_edit_plan(old_spec, spec, &plan);
    tf_flow_spec_destroy(old_spec);
    bool ok = true;
    char message[1024];
    if (plan.rebuild) {
        ok = tap_rebuild_mark(s->home, spec->name, err);
        snprintf(message, sizeof message,
                 "Flow %s changed%s%s%s: its next start rebuilds the "
                 "documents",
                 spec->name, plan.reason[0] ? " (" : "", plan.reason, plan.reason[0] ? ")" : "");
    } else {
        char tables[512] = "";
        for (size_t i = 0; i < plan.reread_count; i++) {
            size_t len = strlen(tables);
            snprintf(tables + len, sizeof tables - len, "%s%s", len ? ", " : "", plan.reread[i]);
        }
        snprintf(message, sizeof message,
                 "Flow %s changed: its next start reads again %s (the other tables carry over) "
                 "and rewrites the documents",
                 spec->name, tables[0] ? tables : "no table");
    }
    if (ok)
        say(s, "%s", message);
    tf_flow_edit_cleanup(&plan);
    return ok;
}

/* Saves spec unless the registry already holds the same flow; *saved says
 * whether it wrote. */
static bool save_spec(tap_session *s, tf_flow_spec *spec, bool *saved, tf_error *err)
{
    *saved = false;
    if (!tap_flow_name_valid(spec->name, err) || tf_flow_spec_check(spec, err) != TF_OK ||
        !tap_flow_check_source(s, spec, err))
        return false;
    char hash[TF_FLOW_HASH_HEX_LEN + 1];
    tf_flow_spec_hash(spec, hash);
    char *body = tf_flow_spec_to_text(spec, "flow");
    char *text = bson_strdup_printf("# flow %s, saved by tap\n%s", spec->name, body);
    bson_free(body);
    const char *db;
    tf_admin *admin = open_store(s, &db, err);
    bool ok = admin != NULL;
    tf_flow_record rec;
    bool found = false;
    if (ok)
        ok = tf_admin_flow_get(admin, db, spec->name, &rec, &found, err);
    if (ok && !(found && rec.spec_hash && strcmp(rec.spec_hash, hash) == 0)) {
        ok = tf_admin_flow_put(admin, db, spec->name, text, hash, NULL, err);
        *saved = ok;
        /* A changed flow continues from its checkpoint: the daemon reads
         * again only the tables whose part changed and rewrites the
         * documents (tf_flow_edit_plan); a new root table or target needs
         * a rebuild, which the next start then does. */
        if (ok && found && tap_config(s, err))
            ok = say_edit(s, spec, rec.text, err);
    }
    if (found)
        tf_flow_record_cleanup(&rec);
    tf_admin_destroy(admin);
    bson_free(text);
    return ok;
}

static bool on_call(void *arg, tf_flow_spec *spec, const char *method, tf_flow_pos pos,
                    tf_error *err)
{
    tap_session *s = arg;
    (void)pos;
    if (strcmp(method, "read_from") == 0) {
        say(s, "Flow updated: %s", "source added");
        return true;
    }
    if (strcmp(method, "lookup") == 0) {
        say(s, "Flow updated: %s", "source added");
        say(s, "Flow updated: new table %s added as child table",
            spec->lookups[spec->lookup_count - 1].table);
        return true;
    }
    if (strcmp(method, "write_to") == 0) {
        say(s, "Flow updated: %s", "sink added");
        return true;
    }
    static const char *const operators[][2] = {{"filter", "filter added"},
                                               {"include", "fields included"},
                                               {"exclude", "fields excluded"},
                                               {"rename_fields", "fields renamed"},
                                               {"add_fields", "fields added"}};
    for (size_t i = 0; i < sizeof operators / sizeof operators[0]; i++)
        if (strcmp(method, operators[i][0]) == 0) {
            say(s, "Flow updated: %s", operators[i][1]);
            return true;
        }
    bool saved = false;
    if (strcmp(method, "save") == 0) {
        if (!save_spec(s, spec, &saved, err))
            return false;
        say(s, "Flow saved: %s", spec->name);
        return true;
    }
    if (strcmp(method, "start") == 0) {
        /* A defined flow is saved first (when it changed); Flow("NAME")
         * alone starts the saved flow of that name. */
        if (spec->source_table || spec->target_collection || spec->lookup_count) {
            if (!save_spec(s, spec, &saved, err))
                return false;
            if (saved)
                say(s, "Flow saved: %s", spec->name);
        }
        return tap_flow_start(s, spec->name, err);
    }
    if (strcmp(method, "stop") == 0)
        return tap_flow_stop(s, spec->name, err);
    return tap_flow_status(s, spec->name, err); /* the builder reports no other call */
}

bool tap_flow_run(tap_session *s, const char *text, const char *file, unsigned line, tf_error *err)
{
    return tf_flow_builder_run(s->builder, text, strlen(text), file, line, on_call, s, err) ==
           TF_OK;
}

bool tap_flow_start(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    long pid = 0;
    if (tap_daemon_running(s->home, name, &pid, NULL)) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "flow %.100s is already running (pid %ld)", name, pid);
        return false;
    }
    tf_flow_record rec;
    bool found = false;
    if (!get_saved(s, name, &rec, &found, err))
        return false;
    if (!found) {
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "no saved flow named %.100s (save it with .save(); show flows lists them)",
                     name);
        return false;
    }
    bool ok = tap_daemon_spawn(s, name, rec.text, err);
    tf_flow_record_cleanup(&rec);
    if (ok)
        say(s, "Flow started: %s", name);
    return ok;
}

bool tap_flow_verify(tap_session *s, const char *name, char *const *options, size_t option_count,
                     tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    tf_flow_record rec;
    bool found = false;
    if (!get_saved(s, name, &rec, &found, err))
        return false;
    if (!found)
        return tf_error_set(err, TF_ERR_CONFIG, 0,
                            "no saved flow named %.100s (show flows lists them)", name) == TF_OK;
    int code = 0;
    bool ok = tap_daemon_verify(s, name, rec.text, options, option_count, &code, err);
    tf_flow_record_cleanup(&rec);
    if (ok && code == 1)
        ok = tf_error_set(err, TF_ERR_TARGET, 1,
                          "verify %.100s: the wide table differs from the source (see above)",
                          name) == TF_OK;
    else if (ok && code != 0)
        ok = tf_error_set(err, TF_ERR_TARGET, (uint32_t)code,
                          "verify %.100s could not finish (exit %d; see above)", name,
                          code) == TF_OK;
    return ok;
}

bool tap_flow_stop(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_flow_name_valid(name, err))
        return false;
    bool was_running = false;
    if (!tap_daemon_stop(s->home, name, &was_running, err))
        return false;
    if (!was_running) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "flow %.100s is not running", name);
        return false;
    }
    say(s, "Flow stopped: %s", name);
    return true;
}

bool tap_flow_reset(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    tf_flow_record rec;
    bool found = false;
    if (!get_saved(s, name, &rec, &found, err))
        return false;
    if (!found)
        return tf_error_set(err, TF_ERR_CONFIG, 0, "no saved flow named %.100s", name), false;
    tf_flow_record_cleanup(&rec);
    bool was_running = false;
    if (!tap_daemon_stop(s->home, name, &was_running, err) || !tap_rebuild_mark(s->home, name, err))
        return false;
    say(s,
        was_running ? "Flow reset: %s (stopped; its next start rebuilds the documents)"
                    : "Flow reset: %s (its next start rebuilds the documents)",
        name);
    return true;
}

static bool take_rows(const bson_t *doc, void *arg)
{
    bson_iter_t it;
    if (bson_iter_init(&it, doc) && bson_iter_find_descendant(&it, "counts.rows", &it) &&
        BSON_ITER_HOLDS_NUMBER(&it))
        *(int64_t *)arg = bson_iter_as_int64(&it);
    return false;
}

/* Rows applied so far by a flow that does not run: its checkpoint's
 * counts.rows (0 without a checkpoint). */
static bool checkpoint_rows(tap_session *s, const char *text, const char *name, int64_t *rows,
                            tf_error *err)
{
    *rows = 0;
    tf_flow_spec *spec = NULL;
    if (tf_flow_parse(text, strlen(text), name, &spec, err) != TF_OK)
        return false;
    const tfr_datasource *ds = tfr_config_datasource(s->cfg, spec->target_datasource);
    bool ok = ds && ds->type == TFR_DS_MONGODB;
    if (!ok)
        tf_error_set(err, TF_ERR_CONFIG, 0,
                     "flow %.100s writes to datasource %.100s, which is not a mongodb datasource "
                     "of %.200s",
                     name, spec->target_datasource, s->cfg->file);
    tf_admin *admin = ok ? tf_admin_open(ds->uri, 5000, err) : NULL;
    ok = admin != NULL;
    if (ok) {
        const char *coll =
            s->cfg->checkpoint_collection ? s->cfg->checkpoint_collection : "tapflow_checkpoints";
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
        ok = tf_admin_find(admin, ds->database, coll, filter, 1, take_rows, rows, err);
        bson_destroy(filter);
    }
    tf_admin_destroy(admin);
    tf_flow_spec_destroy(spec);
    return ok;
}

static void print_status(const char *state, double qps, int64_t rows, int64_t delay_ms)
{
    printf("job current status is: %s, qps is: %.1f, total rows: %lld, delay is: %lldms\n", state,
           qps, (long long)rows, (long long)delay_ms);
    fflush(stdout);
}

/* Whether a flow that does not run ended without tap stopping it (its run
 * file is still there): how its latest run ended (a signal, an exit code)
 * and that run's own last error. */
static bool died_with_error(const char *home, const char *name, char *why, size_t cap)
{
    if (tap_service_mode(home))
        return tap_service_ended_badly(name, why, cap);
    tfr_run_file rf;
    bool found = false;
    tf_error ignored = {0};
    why[0] = '\0';
    if (!tfr_run_file_read(home, name, &rf, &found, &ignored) || !found)
        return false;
    char end[200], error[400];
    tap_daemon_run_end(home, name, end, sizeof end);
    tap_daemon_last_error(home, name, error, sizeof error);
    if (end[0] && error[0])
        snprintf(why, cap, "%s; its last error: %s", end, error);
    else
        snprintf(why, cap, "%s", end[0] ? end : error);
    return why[0] != '\0';
}

bool tap_flow_status(tap_session *s, const char *name, tf_error *err)
{
    if (!tap_flow_name_valid(name, err) || !tap_config(s, err))
        return false;
    tap_daemon_status st;
    if (tap_daemon_query(s->home, name, &st)) {
        print_status(st.state, st.qps, st.total_rows, st.delay_ms);
        if (st.error[0])
            fprintf(stderr, "error: %s\n", st.error);
        return true;
    }
    tf_flow_record rec;
    bool found = false;
    if (!get_saved(s, name, &rec, &found, err))
        return false;
    if (!found) {
        tf_error_set(err, TF_ERR_CONFIG, 0, "no flow named %.100s (show flows lists them)", name);
        return false;
    }
    int64_t rows = 0;
    bool ok = checkpoint_rows(s, rec.text, name, &rows, err);
    tf_flow_record_cleanup(&rec);
    if (!ok)
        return false;
    char why[700];
    bool failed = died_with_error(s->home, name, why, sizeof why);
    print_status(failed ? "error" : "stopped", 0.0, rows, 0);
    if (failed)
        fprintf(stderr, "error: %s\n", why);
    return true;
}

typedef struct list_ctx {
    tap_session *s;
    size_t count;
} list_ctx;

static bool list_one(const tf_flow_record *rec, void *arg)
{
    list_ctx *l = arg;
    tf_flow_spec *spec = NULL;
    tf_error err = {0};
    char what[400];
    if (tf_flow_parse(rec->text, strlen(rec->text), rec->name, &spec, &err) == TF_OK)
        snprintf(what, sizeof what, "%s.%s -> %s.%s (%zu lookup%s)", spec->source_datasource,
                 spec->source_table, spec->target_datasource, spec->target_collection,
                 spec->lookup_count, spec->lookup_count == 1 ? "" : "s");
    else
        snprintf(what, sizeof what, "(unreadable: %.300s)", err.message);
    tf_flow_spec_destroy(spec);
    tap_daemon_status st;
    char why[700];
    const char *state = tap_daemon_query(l->s->home, rec->name, &st)              ? st.state
                        : died_with_error(l->s->home, rec->name, why, sizeof why) ? "error"
                                                                                  : "stopped";
    if (l->count++ == 0)
        printf("%-32s %-9s %s\n", "NAME", "STATE", "SOURCE -> TARGET");
    printf("%-32s %-9s %s\n", rec->name, state, what);
    return true;
}

bool tap_flow_list(tap_session *s, tf_error *err)
{
    const char *db;
    tf_admin *admin = open_store(s, &db, err);
    if (!admin)
        return false;
    list_ctx l = {s, 0};
    bool ok = tf_admin_flow_list(admin, db, list_one, &l, err);
    tf_admin_destroy(admin);
    if (ok && l.count == 0)
        printf("no saved flows (define one with f = Flow(\"NAME\") ... f.save())\n");
    fflush(stdout);
    return ok;
}
